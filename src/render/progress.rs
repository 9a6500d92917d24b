//! The live status line on stderr while sipreg waits longer than about a second: what it waits for,
//! elapsed of limit, and what comes next. Only on a terminal, never with `--json` or `-q`.

use std::time::{Duration, Instant};

use super::ticker::Ticker;
use crate::event::{Event, Sink, Stamped};

/// How long a wait must last before the status line appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);
/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(250);

struct Wait {
    what: String,
    limit: Duration,
    then: String,
    since: Instant,
}

/// The live line: a sink of the user agent's events. Disabled handles do nothing.
#[derive(Clone, Default)]
pub struct Progress {
    line: Ticker<Option<Wait>>,
}

impl Progress {
    /// A handle that shows nothing.
    #[must_use]
    pub fn disabled() -> Self {
        Self::default()
    }

    /// A handle that draws on stderr; must be created inside the tokio runtime, which runs the ticker.
    #[must_use]
    pub fn stderr() -> Self {
        let line = Ticker::stderr(None, TICK, |wait: &Option<Wait>| {
            let w = wait.as_ref()?;
            let elapsed = w.since.elapsed();
            (elapsed >= SHOW_AFTER).then(|| line(w, elapsed))
        });
        Self { line }
    }

    /// A wait starts: `what` for at most `limit`, then `then`.
    pub fn begin(&self, what: impl Into<String>, limit: Duration, then: impl Into<String>) {
        let wait = Wait {
            what: what.into(),
            limit,
            then: then.into(),
            since: Instant::now(),
        };
        self.line.update(|current| *current = Some(wait));
    }

    /// The wait is over: the status line disappears.
    pub fn end(&self) {
        self.line.update(|current| *current = None);
    }
}

impl Sink for Progress {
    fn event(&mut self, e: &Stamped) {
        match &e.event {
            Event::PhaseStarted {
                what, limit, then, ..
            } => self.begin(what.as_ref(), *limit, then.clone()),
            Event::WaitStarted { wait, then } => {
                self.begin("waiting before the next cycle", *wait, then.clone());
            }
            Event::PhaseEnded { .. } | Event::WaitEnded => self.end(),
            _ => {}
        }
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 && d.subsec_millis() != 0 {
        format!("{s:.1} s")
    } else {
        format!("{} s", d.as_secs())
    }
}

/// `TCP connect to 192.0.2.7:5060 — 12 s of 30 s, then UDP`.
fn line(w: &Wait, elapsed: Duration) -> String {
    format!(
        "{} — {} s of {}, then {}",
        w.what,
        elapsed.as_secs(),
        secs(w.limit),
        w.then
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_what_how_long_and_what_next() {
        let w = Wait {
            what: "TCP connect to 192.0.2.7:5060".into(),
            limit: Duration::from_secs(30),
            then: "UDP".into(),
            since: Instant::now(),
        };
        assert_eq!(
            line(&w, Duration::from_millis(12_400)),
            "TCP connect to 192.0.2.7:5060 — 12 s of 30 s, then UDP"
        );
    }
}
