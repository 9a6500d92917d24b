//! The report, a repeat run's summary and usage errors as JSON (the stable machine interface).

use crate::observe::report::{Report, Summary};

/// The report as one pretty JSON document.
#[must_use]
pub fn json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise the report: {e}\"}}"));
    s.push('\n');
    s
}

/// The report as one JSON line (repeat mode).
#[must_use]
pub fn json_line(r: &Report) -> String {
    let mut s = serde_json::to_string(r)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise the report: {e}\"}}"));
    s.push('\n');
    s
}

/// The summary of a repeat run as one JSON line: `{"summary": {...}}`.
#[must_use]
pub fn json_summary(s: &Summary) -> String {
    let v = serde_json::json!({ "summary": s });
    format!("{v}\n")
}

/// A usage error as JSON, for `--json` runs.
#[must_use]
pub fn json_error(message: &str, exit_code: u8) -> String {
    let v = serde_json::json!({ "error": message, "exit_code": exit_code });
    format!("{v}\n")
}
