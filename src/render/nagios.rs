//! `--nagios`: one line and an exit code as the Monitoring Plugins guidelines ask:
//! `SIPREG OK - registered over TLS in 12 ms | time=0.012s;W;C;0 …`, 0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN, thresholds in the plugins' range syntax (`10`, `10:`, `~:10`, `10:20`, `@10:20`).

use std::fmt::Write as _;

use super::human_ms;
use crate::observe::report::Report;

pub use crate::threshold::Range;

/// The plugin states and their exit codes.
const STATES: [&str; 4] = ["OK", "WARNING", "CRITICAL", "UNKNOWN"];

/// The plugin's line (with its newline) and exit code for a report.
#[must_use]
pub fn line(r: &Report, warning: Option<&Range>, critical: Option<&Range>) -> (String, u8) {
    let took = r.registered_ms.unwrap_or(r.elapsed_ms) / 1000.0;
    let (state, text) = if !r.registered {
        (2, not_registered(r))
    } else {
        let t = r.transport.map_or("?", |t| t.via_name());
        let mut text = format!("registered over {t} in {}", human_ms(took * 1000.0));
        let state = if critical.is_some_and(|c| c.alerts(took)) {
            2
        } else if warning.is_some_and(|w| w.alerts(took)) {
            1
        } else {
            u8::from(!r.expectations_failed.is_empty() || r.downgraded)
        };
        for e in &r.expectations_failed {
            let _ = write!(text, "; {e}");
        }
        if r.downgraded {
            text.push_str("; DOWNGRADED: TLS failed");
        }
        (state, text)
    };
    let perf = perfdata(r, took, warning, critical);
    let name = STATES[usize::from(state)];
    (format!("SIPREG {name} - {text} | {perf}\n"), state)
}

/// The line of a usage error: UNKNOWN (3).
#[must_use]
pub fn unknown(message: &str) -> String {
    format!("SIPREG UNKNOWN - {message}\n")
}

fn not_registered(r: &Report) -> String {
    let last = r.attempts.last();
    let why = last.map_or_else(String::new, |a| {
        format!(
            ": {} {} ({})",
            a.transport.via_name(),
            a.outcome.as_str(),
            a.reason
        )
    });
    format!("not registered, {}{why}", r.verdict)
}

/// `time=0.012s;W;C;0` and a value per phase of the last attempt, in seconds.
fn perfdata(r: &Report, took: f64, warning: Option<&Range>, critical: Option<&Range>) -> String {
    let threshold = |t: Option<&Range>| t.map_or("", |r| r.text.as_str()).to_string();
    let mut out = format!(
        "time={took:.6}s;{};{};0",
        threshold(warning),
        threshold(critical)
    );
    if let Some(a) = r.attempts.last() {
        for (label, value) in a.phases.named() {
            if let Some(ms) = value {
                let _ = write!(out, " {label}={:.6}s;;;0", ms / 1000.0);
            }
        }
    }
    out
}
