//! The watch's summary as a fold of its events: time registered, drops, refreshes, the longest gap
//! and keep-alive round trips, and the exit code.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::event::{Event, Sink, Stamped};
use crate::model::Verdict;
use crate::units::ms;

/// Keep-alive round-trip percentiles, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rtt {
    /// Median.
    pub p50: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

/// The end of a watch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchSummary {
    /// With `--pcap`: the capture file and the messages it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<crate::capture::CaptureInfo>,
    /// Whole watch, ms.
    pub elapsed_ms: f64,
    /// Share of the watch spent registered, from the first registration on (0–100).
    pub registered_pct: f64,
    /// Registrations lost after having been registered.
    pub drops: u32,
    /// Successful refreshes.
    pub refreshes: u32,
    /// Failed refreshes.
    pub refresh_failures: u32,
    /// Keep-alives sent.
    pub keepalives: u32,
    /// Keep-alives whose pong did not come.
    pub keepalives_missed: u32,
    /// Requests the network sent us (OPTIONS, NOTIFY, INVITE, …).
    pub requests_received: u32,
    /// Inbound checks made (`--check-inbound`), and how many did not reach us.
    pub inbound_checks: u32,
    /// Inbound checks that did not reach us.
    pub inbound_failures: u32,
    /// Longest time without a registration after the first one, ms.
    pub longest_gap_ms: f64,
    /// Keep-alive round trips.
    pub keepalive_rtt_ms: Rtt,
    /// Whether the registrar answers keep-alive pings on TCP/TLS: `false` when it never answered
    /// one (no RFC 5626 flow; the flow was held all the same), `null` when none was sent over a
    /// stream.
    pub keepalive_answered: Option<bool>,
    /// The binding was removed at the end (`null`: no removal was tried, as with `--keep`).
    pub unregistered: Option<bool>,
    /// Our Contacts the registrar may still hold after the end (removal failed or skipped).
    pub not_removed: Vec<String>,
    /// The process exit code.
    pub exit_code: u8,
}

/// A sink that folds a watch's events into a [`WatchSummary`].
#[derive(Debug, Default)]
pub struct Tally {
    start: Option<Instant>,
    first_registered: Option<Instant>,
    since: Option<Instant>,
    lost_at: Option<Instant>,
    registered: Duration,
    longest_gap: Duration,
    summary: Option<WatchSummary>,
    /// Keep-alive round trips, ms: a bounded sample (a watch may run for months).
    rtts: super::sample::Sample,
    counts: [u32; 8],
    unregistered: Option<bool>,
    not_removed: Vec<String>,
    pongs: Option<bool>,
    verdict: Option<Verdict>,
    end: Option<Instant>,
    last_success: Option<Instant>,
}

/// What a held registration looks like now (`watch --metrics-listen`).
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// Registered now.
    pub registered: bool,
    /// Seconds since the last successful REGISTER (since the watch began when none succeeded).
    pub since_success_s: f64,
    /// Round trip of the last answered keep-alive, ms.
    pub last_rtt_ms: Option<f64>,
}

const DROPS: usize = 0;
const REFRESHES: usize = 1;
const FAILURES: usize = 2;
const SENT: usize = 3;
const MISSED: usize = 4;
const REQUESTS: usize = 5;
const CHECKS: usize = 6;
const CHECK_FAILURES: usize = 7;

impl Tally {
    /// The summary; `now` ends an unfinished watch.
    #[must_use]
    pub fn summary(&self, now: Instant) -> WatchSummary {
        if let Some(s) = &self.summary {
            return s.clone();
        }
        let end = self.end.unwrap_or(now);
        let start = self.start.unwrap_or(end);
        let mut registered = self.registered;
        if let Some(since) = self.since {
            registered += end.saturating_duration_since(since);
        }
        let mut longest_gap = self.longest_gap;
        if let Some(lost) = self.lost_at {
            longest_gap = longest_gap.max(end.saturating_duration_since(lost));
        }
        let watched = self
            .first_registered
            .map(|f| end.saturating_duration_since(f));
        let registered_pct = match watched {
            Some(w) if !w.is_zero() => {
                (registered.as_secs_f64() / w.as_secs_f64() * 1000.0).round() / 10.0
            }
            Some(_) => 100.0,
            None => 0.0,
        };
        WatchSummary {
            capture: None,
            elapsed_ms: ms(end.saturating_duration_since(start)),
            registered_pct: registered_pct.min(100.0),
            drops: self.counts[DROPS],
            refreshes: self.counts[REFRESHES],
            refresh_failures: self.counts[FAILURES],
            keepalives: self.counts[SENT],
            keepalives_missed: self.counts[MISSED],
            requests_received: self.counts[REQUESTS],
            inbound_checks: self.counts[CHECKS],
            inbound_failures: self.counts[CHECK_FAILURES],
            longest_gap_ms: ms(longest_gap),
            keepalive_rtt_ms: Rtt {
                p50: self.rtts.quantile(0.5),
                p99: self.rtts.quantile(0.99),
                max: self.rtts.max(),
            },
            keepalive_answered: self.pongs,
            unregistered: self.unregistered,
            not_removed: self.not_removed.clone(),
            exit_code: self.exit_code(),
        }
    }

    /// The state of the registration at `now`.
    #[must_use]
    pub fn live(&self, now: Instant) -> Live {
        let from = self.last_success.or(self.start).unwrap_or(now);
        Live {
            registered: self.since.is_some(),
            since_success_s: now.saturating_duration_since(from).as_secs_f64(),
            last_rtt_ms: self.rtts.last(),
        }
    }

    fn exit_code(&self) -> u8 {
        match (self.first_registered, self.counts[DROPS]) {
            (None, _) => self.verdict.unwrap_or(Verdict::Unreachable).exit_code(),
            // Held throughout, but calls would not reach us (or the check could not tell).
            (Some(_), 0) if self.counts[CHECK_FAILURES] > 0 => crate::exit::EXPECTATION,
            (Some(_), 0) => crate::exit::OK,
            (Some(_), _) => crate::exit::DROPPED,
        }
    }

    fn registered(&mut self, at: Instant, refresh: bool) {
        self.last_success = Some(at);
        if refresh {
            self.counts[REFRESHES] += 1;
            return;
        }
        self.first_registered.get_or_insert(at);
        if let Some(lost) = self.lost_at.take() {
            self.longest_gap = self.longest_gap.max(at.saturating_duration_since(lost));
        }
        self.since.get_or_insert(at);
    }

    fn lost(&mut self, at: Instant) {
        if let Some(since) = self.since.take() {
            self.registered += at.saturating_duration_since(since);
            self.counts[DROPS] += 1;
            self.lost_at = Some(at);
        }
    }
}

/// A [`Tally`] that a metrics page reads while the watch feeds it.
#[derive(Debug, Clone, Default)]
pub struct Shared(pub std::sync::Arc<std::sync::Mutex<Tally>>);

impl Shared {
    /// The summary so far and the live state, at `now`.
    #[must_use]
    pub fn read(&self, now: Instant) -> (WatchSummary, Live) {
        let tally = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (tally.summary(now), tally.live(now))
    }
}

impl Sink for Shared {
    fn event(&mut self, e: &Stamped) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .event(e);
    }
}

impl Sink for Tally {
    fn event(&mut self, e: &Stamped) {
        let at = e.at;
        match &e.event {
            Event::RunStarted { .. } => self.start = Some(at),
            Event::Registered { refresh, .. } => self.registered(at, *refresh),
            Event::RegistrationLost { .. } => self.lost(at),
            Event::RefreshFailed { .. } => self.counts[FAILURES] += 1,
            Event::KeepAliveSent => self.counts[SENT] += 1,
            Event::KeepAliveMissed => self.counts[MISSED] += 1,
            Event::KeepAliveAnswered { rtt } => {
                self.rtts.push(ms(*rtt));
                self.pongs = Some(true);
            }
            Event::KeepAliveUnanswered => self.pongs = Some(false),
            Event::RequestReceived { .. } => self.counts[REQUESTS] += 1,
            Event::InboundChecked { arrived, .. } => {
                self.counts[CHECKS] += 1;
                self.counts[CHECK_FAILURES] += u32::from(!arrived);
            }
            Event::Unregistering => {
                // The watch ends where the removal begins: its round trip is not a gap.
                if let Some(since) = self.since.take() {
                    self.registered += at.saturating_duration_since(since);
                }
                self.end = Some(at);
            }
            Event::Unregistered { done, left, .. } => {
                self.unregistered = Some(*done);
                self.not_removed.clone_from(left);
            }
            Event::Finished(verdict) => {
                self.verdict = Some(*verdict);
                self.end.get_or_insert(at);
                let summary = self.summary(at);
                self.summary = Some(summary);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Transport;

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    fn registered(refresh: bool) -> Event {
        Event::Registered {
            transport: Transport::Tcp,
            local: "10.0.0.5:40000".parse().unwrap(),
            remote: "192.0.2.1:5060".parse().unwrap(),
            expires: Some(60),
            refresh,
        }
    }

    #[test]
    fn a_drop_and_its_gap_make_exit_6_and_the_share_registered() {
        let start = Instant::now();
        let mut t = Tally::default();
        let feed = |t: &mut Tally, secs, event| {
            t.event(&Stamped {
                at: at(start, secs),
                event,
            })
        };
        feed(
            &mut t,
            0,
            Event::RunStarted {
                server: "s".into(),
                aor: "a".into(),
                order: vec![],
                insecure: false,
            },
        );
        feed(&mut t, 10, registered(false));
        feed(&mut t, 64, registered(true));
        feed(&mut t, 100, Event::RegistrationLost { reason: "x".into() });
        feed(&mut t, 130, registered(false));
        feed(
            &mut t,
            110,
            Event::KeepAliveAnswered {
                rtt: Duration::from_millis(2),
            },
        );
        feed(&mut t, 210, Event::Unregistering);
        feed(
            &mut t,
            210,
            Event::Unregistered {
                done: true,
                status: Some(200),
                reason: "200 OK".into(),
                left: Vec::new(),
            },
        );
        feed(&mut t, 210, Event::Finished(Verdict::Registered));
        let s = t.summary(at(start, 999));
        assert_eq!(
            (s.drops, s.refreshes, s.exit_code),
            (1, 1, crate::exit::DROPPED)
        );
        assert_eq!(s.longest_gap_ms, 30_000.0);
        // Registered 90 s + 80 s of the 200 s since the first registration.
        assert_eq!(s.registered_pct, 85.0);
        assert_eq!(s.keepalive_rtt_ms.max, Some(2.0));
        assert_eq!(s.unregistered, Some(true));
    }

    #[test]
    fn never_registered_keeps_the_one_shot_code_and_no_drop_is_exit_0() {
        let start = Instant::now();
        let mut never = Tally::default();
        never.event(&Stamped {
            at: start,
            event: Event::Finished(Verdict::Unauthorized),
        });
        assert_eq!(never.summary(start).exit_code, 4);
        let mut fine = Tally::default();
        fine.event(&Stamped {
            at: start,
            event: registered(false),
        });
        fine.event(&Stamped {
            at: at(start, 60),
            event: Event::Finished(Verdict::Registered),
        });
        let s = fine.summary(start);
        assert_eq!((s.exit_code, s.registered_pct, s.drops), (0, 100.0, 0));
    }
}
