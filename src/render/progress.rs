//! The live status line on stderr while sipreg waits longer than about a second: what it waits for,
//! elapsed of limit, and what comes next. Only on a terminal, never with `--json` or `-q`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::event::{Event, Sink, Stamped};

/// How long a wait must last before the status line appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);
/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(250);

#[derive(Default)]
struct State {
    current: Option<Wait>,
    drawn: bool,
}

struct Wait {
    what: String,
    limit: Duration,
    then: String,
    since: Instant,
}

/// The live line: a sink of the user agent's events. Disabled handles do nothing.
#[derive(Clone, Default)]
pub struct Progress {
    state: Option<Arc<Mutex<State>>>,
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
        let state = Arc::new(Mutex::new(State::default()));
        let ticker = state.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            loop {
                interval.tick().await;
                let Ok(mut s) = ticker.lock() else { return };
                let line = s.current.as_ref().and_then(|w| {
                    let elapsed = w.since.elapsed();
                    (elapsed >= SHOW_AFTER).then(|| line(w, elapsed))
                });
                if let Some(line) = line {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2K{line}");
                    let _ = err.flush();
                    s.drawn = true;
                }
            }
        });
        Self { state: Some(state) }
    }

    /// A wait starts: `what` for at most `limit`, then `then`.
    pub fn begin(&self, what: impl Into<String>, limit: Duration, then: impl Into<String>) {
        if let Some(state) = &self.state {
            if let Ok(mut s) = state.lock() {
                clear(&mut s);
                s.current = Some(Wait {
                    what: what.into(),
                    limit,
                    then: then.into(),
                    since: Instant::now(),
                });
            }
        }
    }

    /// The wait is over: the status line disappears.
    pub fn end(&self) {
        if let Some(state) = &self.state {
            if let Ok(mut s) = state.lock() {
                clear(&mut s);
                s.current = None;
            }
        }
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

fn clear(s: &mut State) {
    if s.drawn {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
        s.drawn = false;
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
