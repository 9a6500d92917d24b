//! The end of a storm, or of several shards merged: the summary `--json` prints, its percentiles,
//! and the histograms as exact buckets so that `sipreg storm merge` combines shards bucket by bucket.

use std::collections::BTreeMap;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::storm::histogram;

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

pub(super) fn percentiles(h: &Histogram<u64>) -> Percentiles {
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
pub(super) fn buckets(h: &Histogram<u64>) -> Vec<[u64; 2]> {
    h.iter_recorded()
        .map(|v| [v.value_iterated_to(), v.count_at_value()])
        .collect()
}

pub(super) fn from_buckets(pairs: &[[u64; 2]]) -> Histogram<u64> {
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
    /// With `--pcap`/`--hep`: the capture (its first [`crate::capture::STORM_CAP`] messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<crate::capture::CaptureInfo>,
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

impl StormSummary {
    /// Rates and percentiles from the counts, the window and the histograms.
    pub(super) fn derive(&mut self) {
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
