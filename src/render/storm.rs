//! A storm on screen: the live line, the summary in plain words, and the JSON object.

use std::fmt::Write as _;

use crate::observe::storm::{Percentiles, StormSummary};
use crate::storm::Snapshot;

/// The live line (without newline): `registering  4200/10000 registered, 3 failed, 8400 requests …`.
#[must_use]
pub fn progress(s: &Snapshot) -> String {
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        s.registered as f64 / secs
    } else {
        0.0
    };
    let mut line = format!(
        "{:<11} {}/{} registered, {} failed, {} requests, {:.0}/s",
        s.stage, s.registered, s.accounts, s.failed, s.requests, rate
    );
    if s.retransmissions > 0 {
        let _ = write!(line, ", {} retransmissions", s.retransmissions);
    }
    if s.unregistered > 0 {
        let _ = write!(line, ", {} removed", s.unregistered);
    }
    let _ = write!(line, "  {secs:.1} s");
    line
}

fn row(name: &str, p: &Percentiles) -> String {
    format!(
        "  {name:<15} p50 {:>8.2}  p90 {:>8.2}  p99 {:>8.2}  p99.9 {:>8.2}  max {:>8.2} ms\n",
        p.p50, p.p90, p.p99, p.p999, p.max
    )
}

fn counts<K: std::fmt::Display>(map: &std::collections::BTreeMap<K, u64>) -> String {
    map.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The summary in plain words; `header` says what stormed where.
#[must_use]
pub fn human(header: &str, s: &StormSummary) -> String {
    let window = s.registered_by_unix_ms.saturating_sub(s.started_unix_ms) as f64 / 1000.0;
    let mut out = format!("{header}\n");
    let _ = writeln!(
        out,
        "  registered {} of {} accounts in {window:.2} s: {} registrations/s, {} requests/s",
        s.registered, s.accounts, s.registrations_per_s, s.requests_per_s
    );
    if s.failed > 0 {
        let _ = writeln!(out, "  failed {}", s.failed);
    }
    out.push_str("  time to register (from an account's start to its 2xx):\n");
    out.push_str(&row("registration", &s.latency_ms));
    for (name, p) in &s.phases_ms {
        out.push_str(&row(name, p));
    }
    let _ = writeln!(out, "  attempts: {}", counts(&s.outcomes));
    let _ = writeln!(out, "  answers: {}", counts(&s.statuses));
    let _ = writeln!(
        out,
        "  {} requests, {} retransmissions, {} timeouts",
        s.requests, s.retransmissions, s.timeouts
    );
    if s.refreshes + s.refresh_failures + s.lost > 0 {
        let _ = writeln!(
            out,
            "  held: {} refreshes, {} failed, {} bindings lost",
            s.refreshes, s.refresh_failures, s.lost
        );
    }
    let _ = writeln!(
        out,
        "  bindings removed: {} ({} removals failed)",
        s.unregistered, s.unregister_failed
    );
    let per = if s.registered > 0 {
        s.cpu_registration_s * 1e6 / s.registered as f64
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "  sipreg CPU {:.2} s ({per:.0} µs per registration until the last one)",
        s.cpu_s
    );
    for w in &s.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    out
}

/// The summary as one JSON object (with its histograms, for `sipreg storm merge`).
#[must_use]
pub fn json(s: &StormSummary) -> String {
    let mut text = serde_json::to_string(s).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    text.push('\n');
    text
}
