//! A storm as a fold of its accounts' events: live counters for the progress line, HDR histograms of
//! the registration time and of each phase, counts by outcome and status, and the summary, which
//! `sipreg storm merge` combines exactly (histograms merged bucket by bucket, not averaged).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::event::{Event, Phase, Purpose, Sink, Stamped};
use crate::model::Outcome;

/// The phases with a histogram, in the order of the summary.
pub const PHASES: [&str; 5] = ["registration", "connect", "tls", "first_response", "final"];

/// Microseconds from 1 µs to one hour, three significant digits.
fn histogram() -> Histogram<u64> {
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
}

impl Live {
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
}

impl AccountSink {
    /// A sink for one account, holding its concurrency slot until its registration ends.
    #[must_use]
    pub fn new(totals: Arc<Totals>, slot: Option<tokio::sync::OwnedSemaphorePermit>) -> Self {
        totals.live.started.fetch_add(1, Ordering::Relaxed);
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
            }
            Event::ResponseReceived { status, after, .. } => {
                self.statuses.push(*status);
                self.first_answer.get_or_insert(*after);
            }
            Event::AttemptEnded(end) => self.outcomes.push(end.outcome),
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
            Event::Finished(_) => self.finished(),
            _ => {}
        }
    }

    fn detail(&self) -> bool {
        false
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let ms = |us: u64| (us as f64 / 10.0).round() / 100.0;
    Percentiles {
        count: h.len(),
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// A histogram as `[value_us, count]` pairs of its recorded buckets: exact to merge.
fn buckets(h: &Histogram<u64>) -> Vec<[u64; 2]> {
    h.iter_recorded()
        .map(|v| [v.value_iterated_to(), v.count_at_value()])
        .collect()
}

fn from_buckets(pairs: &[[u64; 2]]) -> Histogram<u64> {
    let mut h = histogram();
    for [v, n] in pairs {
        let _ = h.record_n((*v).max(1), *n);
    }
    h
}

/// The end of a storm, or of several shards merged: what `--json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StormSummary {
    /// Accounts this run (or these shards) took.
    pub accounts: u64,
    /// Accounts started (fewer than `accounts` when a signal ended the storm early).
    pub started: u64,
    /// Accounts registered.
    pub registered: u64,
    /// Accounts that did not register.
    pub failed: u64,
    /// Registered accounts per second over the registration window (first start to last 2xx).
    pub registrations_per_s: f64,
    /// REGISTER requests of the registration phase (challenges and retransmissions included).
    pub requests: u64,
    /// Those requests per second over the registration window.
    pub requests_per_s: f64,
    /// UDP retransmissions, whole storm.
    pub retransmissions: u64,
    /// Attempts that ended without a final answer (Timer F).
    pub timeouts: u64,
    /// Attempts by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Time from an account's start to its first 2xx, ms.
    pub latency_ms: Percentiles,
    /// Each phase of the attempt that registered, ms.
    pub phases_ms: BTreeMap<String, Percentiles>,
    /// Bindings removed at the end, and removals that failed.
    pub unregistered: u64,
    /// Removals that got no 2xx.
    pub unregister_failed: u64,
    /// Refreshes while holding (`--duration`), failed refreshes, bindings lost.
    pub refreshes: u64,
    /// Failed refreshes.
    pub refresh_failures: u64,
    /// Bindings lost while holding.
    pub lost: u64,
    /// Start, Unix ms.
    pub started_unix_ms: u64,
    /// The last 2xx of the registration phase, Unix ms.
    pub registered_by_unix_ms: u64,
    /// The end, Unix ms.
    pub ended_unix_ms: u64,
    /// CPU time sipreg used, seconds (summed over shards).
    pub cpu_s: f64,
    /// CPU time until the registration phase ended (the last account registered or failed).
    pub cpu_registration_s: f64,
    /// What limited the storm, in plain words (sipreg's own limits included).
    pub warnings: Vec<String>,
    /// The histograms as `[value_us, count]` pairs, for `sipreg storm merge`.
    pub histograms: BTreeMap<String, Vec<[u64; 2]>>,
}

/// The clock facts of a storm that the fold cannot know.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// When the storm began.
    pub started: Instant,
    /// The same moment, Unix ms.
    pub started_unix_ms: u64,
    /// When it ended.
    pub ended: Instant,
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
        };
        s.derive();
        s
    }
}

impl StormSummary {
    /// Rates and percentiles from the counts, the window and the histograms.
    fn derive(&mut self) {
        let window_s = (self
            .registered_by_unix_ms
            .saturating_sub(self.started_unix_ms) as f64
            / 1000.0)
            .max(0.001);
        let rate = |n: u64| (n as f64 / window_s * 10.0).round() / 10.0;
        self.registrations_per_s = rate(self.registered);
        self.requests_per_s = rate(self.requests);
        let mut phases = BTreeMap::new();
        for (name, pairs) in &self.histograms {
            let p = percentiles(&from_buckets(pairs));
            if name == "registration" {
                self.latency_ms = p;
            } else if p.count > 0 {
                phases.insert(name.clone(), p);
            }
        }
        self.phases_ms = phases;
    }

    /// Merges the results of several shards: counts added, histograms merged bucket by bucket, the
    /// window from the first start to the last end.
    ///
    /// # Errors
    /// When there is nothing to merge.
    pub fn merge(parts: &[StormSummary]) -> Result<StormSummary, String> {
        let (first, rest) = parts.split_first().ok_or("nothing to merge")?;
        let mut m = first.clone();
        for p in rest {
            m.accounts += p.accounts;
            m.started += p.started;
            m.registered += p.registered;
            m.failed += p.failed;
            m.requests += p.requests;
            m.retransmissions += p.retransmissions;
            m.timeouts += p.timeouts;
            m.unregistered += p.unregistered;
            m.unregister_failed += p.unregister_failed;
            m.refreshes += p.refreshes;
            m.refresh_failures += p.refresh_failures;
            m.lost += p.lost;
            m.cpu_s += p.cpu_s;
            m.cpu_registration_s += p.cpu_registration_s;
            add_counts(&mut m.outcomes, &p.outcomes);
            add_counts(&mut m.statuses, &p.statuses);
            m.started_unix_ms = m.started_unix_ms.min(p.started_unix_ms);
            m.registered_by_unix_ms = m.registered_by_unix_ms.max(p.registered_by_unix_ms);
            m.ended_unix_ms = m.ended_unix_ms.max(p.ended_unix_ms);
            for w in &p.warnings {
                if !m.warnings.contains(w) {
                    m.warnings.push(w.clone());
                }
            }
            for (name, pairs) in &p.histograms {
                let mut h = from_buckets(m.histograms.get(name).map_or(&[][..], Vec::as_slice));
                let _ = h.add(from_buckets(pairs));
                m.histograms.insert(name.clone(), buckets(&h));
            }
        }
        m.cpu_s = (m.cpu_s * 1000.0).round() / 1000.0;
        m.cpu_registration_s = (m.cpu_registration_s * 1000.0).round() / 1000.0;
        m.derive();
        Ok(m)
    }
}

fn add_counts<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, n) in from {
        *into.entry(k.clone()).or_default() += n;
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
