//! A storm as a fold of its accounts' events: live counters for the progress line, HDR histograms of
//! the registration time and of each phase, counts by outcome and status, and the summary, which
//! `sipreg storm merge` combines exactly (histograms merged bucket by bucket, not averaged).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::storm_summary::buckets;
pub use super::storm_summary::{Percentiles, StormSummary, Window};
use crate::event::{Event, Phase, Purpose, Sink, Stamped};
use crate::model::Outcome;

/// The phases with a histogram, in the order of the summary.
pub const PHASES: [&str; 5] = ["registration", "connect", "tls", "first_response", "final"];

/// Microseconds from 1 µs to one hour, three significant digits.
pub(super) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant, valid bounds")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Counters the progress line reads while the storm runs.
#[derive(Debug, Default)]
pub struct Live {
    /// Accounts started.
    pub started: AtomicU64,
    /// Accounts registered.
    pub registered: AtomicU64,
    /// Accounts that did not register.
    pub failed: AtomicU64,
    /// REGISTER requests sent, retransmissions included.
    pub requests: AtomicU64,
    /// UDP retransmissions.
    pub retransmissions: AtomicU64,
    /// Bindings removed.
    pub unregistered: AtomicU64,
    /// Requests sent and not answered yet (a retransmission is the same request): what waits in
    /// the registrar's queue or on the way.
    pub unanswered: AtomicU64,
    /// Final answers received.
    pub answers: AtomicU64,
    /// The shortest time from a request sent once to its final answer, µs plus one (0: none yet).
    fastest_answer: AtomicU64,
}

impl Live {
    /// The shortest round trip seen: a request sent once to its final answer.
    #[must_use]
    pub fn fastest_answer(&self) -> Option<Duration> {
        let us = self.fastest_answer.load(Ordering::Relaxed);
        (us > 0).then(|| Duration::from_micros(us - 1))
    }

    fn answered_in(&self, after: Duration) {
        let us = u64::try_from(after.as_micros()).unwrap_or(u64::MAX - 1) + 1;
        let _ = self
            .fastest_answer
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                (old == 0 || us < old).then_some(us)
            });
    }

    /// Accounts whose registration ended, well or not.
    #[must_use]
    pub fn done(&self) -> u64 {
        self.registered.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

/// Everything the accounts report, merged as each finishes.
#[derive(Debug)]
struct Merged {
    histograms: Vec<Histogram<u64>>,
    outcomes: BTreeMap<String, u64>,
    statuses: BTreeMap<u16, u64>,
    timeouts: u64,
    registration_requests: u64,
    unregister_failed: u64,
    refreshes: u64,
    refresh_failures: u64,
    lost: u64,
    last_registration_end: Option<Instant>,
}

/// The storm's shared fold.
#[derive(Debug)]
pub struct Totals {
    /// Live counters.
    pub live: Live,
    merged: Mutex<Merged>,
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            live: Live::default(),
            merged: Mutex::new(Merged {
                histograms: PHASES.iter().map(|_| histogram()).collect(),
                outcomes: BTreeMap::new(),
                statuses: BTreeMap::new(),
                timeouts: 0,
                registration_requests: 0,
                unregister_failed: 0,
                refreshes: 0,
                refresh_failures: 0,
                lost: 0,
                last_registration_end: None,
            }),
        }
    }
}

/// One account's events, folded and merged into the [`Totals`].
pub struct AccountSink {
    totals: Arc<Totals>,
    /// Released when the registration ends: the storm's `--concurrency` slot.
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
    start: Option<Instant>,
    first_sent: Option<Instant>,
    first_answer: Option<Duration>,
    connect: Option<Duration>,
    tls: Option<Duration>,
    requests: u64,
    registered: bool,
    ended: bool,
    outcomes: Vec<Outcome>,
    statuses: Vec<u16>,
    unregister_failed: bool,
    refreshes: u64,
    refresh_failures: u64,
    lost: bool,
    /// A request of this account waits for its answer (counted in `Live::unanswered`).
    awaiting: bool,
    /// That request went out once: its answer's time is a round trip.
    sent_once: bool,
}

impl AccountSink {
    /// A sink for one account, holding its concurrency slot until its registration ends. Its first
    /// request counts as unanswered from now.
    #[must_use]
    pub fn new(totals: Arc<Totals>, slot: Option<tokio::sync::OwnedSemaphorePermit>) -> Self {
        totals.live.started.fetch_add(1, Ordering::Relaxed);
        totals.live.unanswered.fetch_add(1, Ordering::Relaxed);
        AccountSink {
            totals,
            slot,
            start: None,
            first_sent: None,
            first_answer: None,
            connect: None,
            tls: None,
            requests: 0,
            registered: false,
            ended: false,
            outcomes: Vec::new(),
            statuses: Vec::new(),
            unregister_failed: false,
            refreshes: 0,
            refresh_failures: 0,
            lost: false,
            awaiting: true,
            sent_once: false,
        }
    }

    /// A request went out: the first send makes it unanswered, a retransmission spoils its time.
    fn awaits(&mut self, retransmission: bool) {
        self.sent_once = !retransmission;
        if !self.awaiting {
            self.awaiting = true;
            self.totals.live.unanswered.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The request waits no more: a final answer, or its attempt or the account ended.
    fn answered(&mut self) {
        if self.awaiting {
            self.awaiting = false;
            self.totals.live.unanswered.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn attempt_started(&mut self) {
        self.first_sent = None;
        self.first_answer = None;
        self.connect = None;
        self.tls = None;
    }

    fn sent(&mut self, at: Instant, purpose: Purpose, retransmission: bool) {
        let live = &self.totals.live;
        live.requests.fetch_add(1, Ordering::Relaxed);
        if retransmission {
            live.retransmissions.fetch_add(1, Ordering::Relaxed);
        }
        if !self.ended {
            self.requests += 1;
        }
        if purpose == Purpose::Register && self.first_sent.is_none() {
            self.first_sent = Some(at);
        }
    }

    /// The first registration: its time and phases go into the histograms.
    fn registered(&mut self, at: Instant) {
        if self.ended {
            return;
        }
        let mut values = [None; 5];
        values[0] = self.start.map(|s| at.saturating_duration_since(s));
        values[1] = self.connect;
        values[2] = self.tls;
        values[3] = self.first_answer;
        values[4] = self.first_sent.map(|s| at.saturating_duration_since(s));
        self.registered = true;
        self.totals.live.registered.fetch_add(1, Ordering::Relaxed);
        {
            let totals = self.totals.clone();
            let mut m = totals.merged.lock().unwrap_or_else(PoisonError::into_inner);
            for (h, v) in m.histograms.iter_mut().zip(values) {
                if let Some(v) = v {
                    let _ = h.record(micros(v));
                }
            }
            m.last_registration_end = Some(m.last_registration_end.map_or(at, |l| l.max(at)));
            self.end_registration(&mut m);
        }
    }

    /// The registration is over (`m`: the storm's totals, locked): its slot is given back, and its
    /// counts go to the storm's now, so that a held binding keeps no lists.
    fn end_registration(&mut self, m: &mut Merged) {
        self.ended = true;
        self.slot = None;
        self.flush_counts(m);
    }

    /// Moves the outcomes and status codes seen so far into `m`, the storm's totals, freeing the lists.
    fn flush_counts(&mut self, m: &mut Merged) {
        for o in std::mem::take(&mut self.outcomes) {
            match m.outcomes.get_mut(o.as_str()) {
                Some(n) => *n += 1,
                None => {
                    m.outcomes.insert(o.as_str().to_string(), 1);
                }
            }
            m.timeouts += u64::from(o == Outcome::Timeout);
        }
        for s in std::mem::take(&mut self.statuses) {
            *m.statuses.entry(s).or_default() += 1;
        }
    }

    fn finished(&mut self) {
        let totals = self.totals.clone();
        let mut m = totals.merged.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.ended {
            totals.live.failed.fetch_add(1, Ordering::Relaxed);
            self.end_registration(&mut m);
        }
        self.flush_counts(&mut m);
        m.registration_requests += self.requests;
        m.unregister_failed += u64::from(self.unregister_failed);
        m.refreshes += self.refreshes;
        m.refresh_failures += self.refresh_failures;
        m.lost += u64::from(self.lost);
    }
}

impl Drop for AccountSink {
    /// An account whose task ended without `Finished` (a panic, an abort) still counts, as failed.
    fn drop(&mut self) {
        self.answered();
        if !self.ended {
            self.totals.live.failed.fetch_add(1, Ordering::Relaxed);
            self.ended = true;
        }
    }
}

impl Sink for AccountSink {
    fn event(&mut self, e: &Stamped) {
        let at = e.at;
        match &e.event {
            Event::RunStarted { .. } => self.start = Some(at),
            Event::AttemptStarted { .. } => self.attempt_started(),
            Event::PhaseEnded {
                phase: Phase::Connect,
                elapsed,
                ok: true,
            } => self.connect = Some(*elapsed),
            Event::PhaseEnded {
                phase: Phase::Tls,
                elapsed,
                ok: true,
            } => self.tls = Some(*elapsed),
            Event::RequestSent {
                purpose,
                retransmission,
                ..
            } => {
                self.sent(at, *purpose, retransmission.is_some());
                self.awaits(retransmission.is_some());
            }
            Event::ResponseReceived { status, after, .. } => {
                self.statuses.push(*status);
                self.first_answer.get_or_insert(*after);
                if *status >= 200 {
                    self.totals.live.answers.fetch_add(1, Ordering::Relaxed);
                    if self.awaiting && self.sent_once {
                        self.totals.live.answered_in(*after);
                    }
                    self.answered();
                }
            }
            Event::AttemptEnded(end) => {
                self.answered();
                self.outcomes.push(end.outcome);
            }
            Event::Registered { refresh: false, .. } => self.registered(at),
            Event::Registered { refresh: true, .. } => self.refreshes += 1,
            Event::RefreshFailed { .. } => self.refresh_failures += 1,
            Event::RegistrationLost { .. } => self.lost = true,
            Event::Unregistered { done, .. } => {
                if *done {
                    self.totals
                        .live
                        .unregistered
                        .fetch_add(1, Ordering::Relaxed);
                } else {
                    self.unregister_failed = true;
                }
            }
            Event::Finished(_) => {
                self.answered();
                self.finished();
            }
            _ => {}
        }
    }

    fn detail(&self) -> bool {
        false
    }
}

impl Totals {
    /// The summary at the end of a storm of `accounts` accounts.
    #[must_use]
    pub fn summary(&self, accounts: u64, window: Window, cpu: (f64, f64)) -> StormSummary {
        use std::sync::atomic::Ordering::Relaxed;
        let m = self.merged.lock().unwrap_or_else(PoisonError::into_inner);
        let to_unix = |at: Instant| {
            window.started_unix_ms
                + u64::try_from(at.saturating_duration_since(window.started).as_millis())
                    .unwrap_or(0)
        };
        // Without a registration the window is empty: a merge must not stretch it to this end.
        let registered_by = m.last_registration_end.unwrap_or(window.started);
        let mut s = StormSummary {
            accounts,
            started: self.live.started.load(Relaxed),
            registered: self.live.registered.load(Ordering::Relaxed),
            failed: self.live.failed.load(Ordering::Relaxed),
            registrations_per_s: 0.0,
            requests: m.registration_requests,
            requests_per_s: 0.0,
            retransmissions: self.live.retransmissions.load(Ordering::Relaxed),
            timeouts: m.timeouts,
            outcomes: m.outcomes.clone(),
            statuses: m.statuses.clone(),
            latency_ms: Percentiles::default(),
            phases_ms: BTreeMap::new(),
            unregistered: self.live.unregistered.load(Ordering::Relaxed),
            unregister_failed: m.unregister_failed,
            refreshes: m.refreshes,
            refresh_failures: m.refresh_failures,
            lost: m.lost,
            started_unix_ms: window.started_unix_ms,
            registered_by_unix_ms: to_unix(registered_by),
            ended_unix_ms: to_unix(window.ended),
            cpu_s: cpu.0,
            cpu_registration_s: cpu.1,
            warnings: Vec::new(),
            histograms: PHASES
                .iter()
                .zip(&m.histograms)
                .map(|(name, h)| ((*name).to_string(), buckets(h)))
                .collect(),
            capture: None,
        };
        s.derive();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(values_us: &[u64], started: u64, by: u64) -> StormSummary {
        let mut h = histogram();
        for v in values_us {
            h.record(*v).unwrap();
        }
        let mut s = StormSummary {
            accounts: values_us.len() as u64,
            started: values_us.len() as u64,
            registered: values_us.len() as u64,
            failed: 0,
            registrations_per_s: 0.0,
            requests: 2 * values_us.len() as u64,
            requests_per_s: 0.0,
            retransmissions: 0,
            timeouts: 0,
            outcomes: BTreeMap::from([("registered".to_string(), values_us.len() as u64)]),
            statuses: BTreeMap::from([(200, values_us.len() as u64)]),
            latency_ms: Percentiles::default(),
            phases_ms: BTreeMap::new(),
            unregistered: 0,
            unregister_failed: 0,
            refreshes: 0,
            refresh_failures: 0,
            lost: 0,
            started_unix_ms: started,
            registered_by_unix_ms: by,
            ended_unix_ms: by,
            cpu_s: 0.5,
            cpu_registration_s: 0.25,
            warnings: Vec::new(),
            histograms: BTreeMap::from([("registration".to_string(), buckets(&h))]),
            capture: None,
        };
        s.derive();
        s
    }

    #[test]
    fn merging_shards_equals_one_storm_of_all_their_values() {
        let a: Vec<u64> = (1..=1000).map(|i| i * 7).collect();
        let b: Vec<u64> = (1..=3000).map(|i| 5000 + i * 13).collect();
        let merged = StormSummary::merge(&[part(&a, 1000, 3000), part(&b, 1500, 5000)]).unwrap();
        let all: Vec<u64> = a.iter().chain(&b).copied().collect();
        let whole = part(&all, 1000, 5000);
        assert_eq!(merged.latency_ms, whole.latency_ms);
        assert_eq!(merged.histograms, whole.histograms);
        assert_eq!(merged.registered, 4000);
        assert_eq!(merged.registrations_per_s, 1000.0);
        assert_eq!(merged.requests_per_s, 2000.0);
        assert_eq!(merged.statuses[&200], 4000);
        assert_eq!(merged.cpu_s, 1.0);
        assert_eq!(merged.cpu_registration_s, 0.5);
        assert!(merged.latency_ms.p50 > 0.0 && merged.latency_ms.max >= merged.latency_ms.p999);
        assert!(StormSummary::merge(&[]).is_err());
    }
}
