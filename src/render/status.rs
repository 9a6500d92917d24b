//! The watch's live line on stderr, on a terminal only: `registered over TCP since 12:03:04 UTC, next
//! refresh in 42 s, keep-alive RTT 0.3 ms, 2 drops`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::human_ms;
use super::ticker::Ticker;
use crate::event::{Event, Sink, Stamped};
use crate::model::Transport;
use crate::ua::binding::RefreshPolicy;
use crate::units::ms;

/// How often the line is redrawn.
const TICK: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Line {
    registered: Option<(Transport, SystemTime)>,
    next_refresh: Option<Instant>,
    rtt: Option<Duration>,
    drops: u32,
}

/// A sink that keeps the live line; disabled handles do nothing.
#[derive(Clone, Default)]
pub struct WatchStatus {
    line: Ticker<Line>,
    policy: RefreshPolicy,
}

impl WatchStatus {
    /// A handle that shows nothing.
    #[must_use]
    pub fn disabled() -> Self {
        Self::default()
    }

    /// A line on stderr, redrawn every second; must be created inside the tokio runtime.
    #[must_use]
    pub fn stderr(policy: RefreshPolicy) -> Self {
        let line = Ticker::stderr(Line::default(), TICK, |line: &Line| {
            Some(render(line, Instant::now()))
        });
        Self { line, policy }
    }
}

impl Sink for WatchStatus {
    fn event(&mut self, e: &Stamped) {
        let policy = self.policy;
        // Event lines go to stdout on the same terminal: the line is cleared first.
        self.line.update(|line| match &e.event {
            Event::Registered {
                transport,
                expires,
                refresh,
                ..
            } => {
                if !refresh || line.registered.is_none() {
                    line.registered = Some((*transport, SystemTime::now()));
                }
                let lifetime = Duration::from_secs(u64::from(expires.unwrap_or(0)));
                line.next_refresh = expires.map(|_| e.at + policy.delay(lifetime));
            }
            Event::KeepAliveAnswered { rtt } => line.rtt = Some(*rtt),
            Event::RegistrationLost { .. } => {
                line.registered = None;
                line.next_refresh = None;
                line.drops += 1;
            }
            _ => {}
        });
    }
}

/// The line's text at `now`.
fn render(line: &Line, now: Instant) -> String {
    let mut parts = Vec::new();
    match line.registered {
        Some((t, since)) => parts.push(format!("registered over {t} since {}", clock(since))),
        None => parts.push("not registered: registering".to_string()),
    }
    if let Some(next) = line.next_refresh {
        parts.push(format!(
            "next refresh in {} s",
            next.saturating_duration_since(now).as_secs()
        ));
    }
    if let Some(rtt) = line.rtt {
        parts.push(format!("keep-alive RTT {}", human_ms(ms(rtt))));
    }
    parts.push(match line.drops {
        1 => "1 drop".to_string(),
        n => format!("{n} drops"),
    });
    parts.join(", ")
}

/// `12:03:04 UTC`.
fn clock(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_since_when_what_next_and_how_many_drops() {
        let now = Instant::now();
        let line = Line {
            registered: Some((
                Transport::Tcp,
                UNIX_EPOCH + Duration::from_secs(12 * 3600 + 184),
            )),
            next_refresh: Some(now + Duration::from_secs(42)),
            rtt: Some(Duration::from_micros(300)),
            drops: 2,
        };
        assert_eq!(
            render(&line, now),
            "registered over TCP since 12:03:04 UTC, next refresh in 42 s, keep-alive RTT 0.30 ms, 2 drops"
        );
        assert_eq!(
            render(&Line::default(), now),
            "not registered: registering, 0 drops"
        );
    }
}
