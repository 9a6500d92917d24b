//! Renderers: the report as plain-words text or as one JSON document. The only code that prints.

use std::fmt::Write as _;

use crate::report::{Outcome, Report};
use crate::transport::Transport;

/// Human output level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The header, one line per attempt, the verdict.
    Normal,
    /// Only the verdict line (`-q`).
    Quiet,
}

/// A duration in the unit a person reads best.
#[must_use]
pub fn human_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

fn order(transports: &[Transport]) -> String {
    transports
        .iter()
        .map(|t| t.via_name())
        .collect::<Vec<_>>()
        .join(", then ")
}

/// The verdict line: `registered over UDP in 30.04 s` / `not registered: ...`.
#[must_use]
pub fn verdict_line(r: &Report) -> String {
    let mut line = match (r.registered, r.transport) {
        (true, Some(t)) => format!("registered over {t} in {}", human_ms(r.elapsed_ms)),
        _ => {
            let why = match r.verdict {
                "rejected" => "the registrar rejected it",
                "unauthorized" => "authentication failed",
                _ => "no transport reached the registrar",
            };
            format!("not registered: {why} ({})", human_ms(r.elapsed_ms))
        }
    };
    if r.registered {
        if let Some(s) = r.expires {
            let _ = write!(line, ", expires in {s} s");
        }
        let fell_back = r
            .attempts
            .iter()
            .filter(|a| a.outcome != Outcome::Registered)
            .map(|a| a.transport.via_name())
            .collect::<Vec<_>>();
        if !fell_back.is_empty() && !r.downgraded {
            let _ = write!(line, " (after {} failed)", fell_back.join(", "));
        }
    }
    if r.downgraded {
        line.push_str(" — DOWNGRADED: TLS failed, this registration is not encrypted");
    }
    if r.insecure && r.secure {
        line.push_str(" — INSECURE: server certificate not verified (--insecure)");
    }
    line
}

/// The report as text for a person.
#[must_use]
pub fn human(r: &Report, detail: Detail) -> String {
    let mut out = String::new();
    if detail == Detail::Quiet {
        out.push_str(&verdict_line(r));
        out.push('\n');
        return out;
    }
    let _ = writeln!(
        out,
        "registering {} at {} ({})",
        r.aor,
        r.server,
        order(&r.order)
    );
    for a in &r.attempts {
        let _ = writeln!(
            out,
            "  cycle {} {:<3} {:<22} {:<15} {:>9}  {}",
            a.cycle,
            a.transport.via_name(),
            a.remote,
            a.outcome.as_str(),
            human_ms(a.elapsed_ms),
            a.reason
        );
        let mut facts = Vec::new();
        if let Some(s) = &a.seen_as {
            facts.push(format!("server saw us as {s}"));
        }
        if let Some(s) = &a.server_header {
            facts.push(format!("server: {s}"));
        }
        if a.retransmissions > 0 {
            facts.push(format!("{} UDP retransmissions", a.retransmissions));
        }
        if !facts.is_empty() {
            let _ = writeln!(out, "          {}", facts.join("; "));
        }
    }
    if let Some(u) = &r.unregister {
        if u.done {
            let _ = writeln!(out, "  binding removed ({})", u.reason);
        }
    }
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out.push_str(&verdict_line(r));
    out.push('\n');
    out
}

/// The report as one pretty JSON document.
#[must_use]
pub fn json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r)
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise the report: {e}\"}}"));
    s.push('\n');
    s
}

/// A usage error as JSON, for `--json` runs.
#[must_use]
pub fn json_error(message: &str, exit_code: u8) -> String {
    let v = serde_json::json!({ "error": message, "exit_code": exit_code });
    format!("{v}\n")
}
