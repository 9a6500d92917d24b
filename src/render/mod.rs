//! Renderers: the report as plain-words text (optionally coloured) or as JSON. The only code that prints
//! reports; [`progress`] draws the live status line.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use crate::model::{Outcome, Transport};
use crate::observe::report::{Report, Summary};

pub mod progress;

/// Human output level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The header, one line per attempt, the verdict.
    Normal,
    /// Only the verdict line (`-q`).
    Quiet,
}

/// The styles of the human output; all plain when colour is off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Palette {
    good: Style,
    bad: Style,
    warn: Style,
    note: Style,
}

impl Palette {
    /// No colour.
    #[must_use]
    pub fn plain() -> Self {
        Self::default()
    }

    /// ANSI colours for a terminal.
    #[must_use]
    pub fn colored() -> Self {
        Self {
            good: AnsiColor::Green.on_default().bold(),
            bad: AnsiColor::Red.on_default().bold(),
            warn: AnsiColor::Yellow.on_default(),
            note: AnsiColor::Cyan.on_default(),
        }
    }

    fn paint(style: Style, text: &str) -> String {
        if style == Style::new() {
            text.to_string()
        } else {
            format!("{style}{text}{style:#}")
        }
    }

    fn outcome(&self, o: Outcome) -> Style {
        match o {
            Outcome::Registered => self.good,
            Outcome::Rejected | Outcome::Unauthorized => self.warn,
            _ => self.bad,
        }
    }
}

pub use crate::model::human_ms;

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
        (true, Some(t)) => format!(
            "registered over {t} in {}",
            human_ms(r.registered_ms.unwrap_or(r.elapsed_ms))
        ),
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
        let failed = r
            .attempts
            .iter()
            .filter(|a| a.outcome != Outcome::Registered)
            .map(|a| a.transport.via_name())
            .collect::<Vec<_>>();
        if !failed.is_empty() && !r.downgraded {
            let _ = write!(line, " (after {} failed)", failed.join(", "));
        }
    }
    if r.downgraded {
        line.push_str(" — DOWNGRADED: TLS failed, this registration is not encrypted");
    }
    if r.insecure && r.secure {
        line.push_str(" — INSECURE: server certificate not verified (--insecure)");
    }
    for e in &r.expectations_failed {
        let _ = write!(line, " — EXPECTATION FAILED: {e}");
    }
    line
}

fn verdict_styled(r: &Report, p: &Palette) -> String {
    let style = if r.exit_code == 0 { p.good } else { p.bad };
    Palette::paint(style, &verdict_line(r))
}

/// The report as text for a person.
#[must_use]
pub fn human(r: &Report, detail: Detail, p: &Palette) -> String {
    let mut out = String::new();
    if detail == Detail::Quiet {
        out.push_str(&verdict_styled(r, p));
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
        let outcome = format!("{:<15}", a.outcome.as_str());
        let _ = writeln!(
            out,
            "  cycle {} {:<3} {:<22} {} {:>9}  {}",
            a.cycle,
            a.transport.via_name(),
            a.remote,
            Palette::paint(p.outcome(a.outcome), &outcome),
            human_ms(a.elapsed_ms),
            a.reason
        );
        let mut facts = Vec::new();
        if let Some(t) = &a.tls {
            facts.push(format!("{} {}", t.version, t.cipher));
        }
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
        if let Some(h) = &a.hint {
            let _ = writeln!(
                out,
                "          {}",
                Palette::paint(p.note, &format!("hint: {h}"))
            );
        }
    }
    if let Some(u) = &r.unregister {
        if u.done {
            let _ = writeln!(out, "  binding removed ({})", u.reason);
        }
    }
    for w in &r.warnings {
        let _ = writeln!(out, "{}", Palette::paint(p.warn, &format!("warning: {w}")));
    }
    out.push_str(&verdict_styled(r, p));
    out.push('\n');
    out
}

/// One line for one run of a repeat (`--count`).
#[must_use]
pub fn run_line(n: usize, total: usize, r: &Report, p: &Palette) -> String {
    let mut line = format!("run {n}/{total}: {}", verdict_styled(r, p));
    if !r.registered {
        if let Some(a) = r.attempts.last() {
            let _ = write!(
                line,
                " — last: {} {}: {}",
                a.transport,
                a.outcome.as_str(),
                a.reason
            );
        }
    }
    line.push('\n');
    line
}

/// The summary line of a repeat run.
#[must_use]
pub fn summary_line(s: &Summary, p: &Palette) -> String {
    let transports = if s.transports.is_empty() {
        "none".to_string()
    } else {
        s.transports
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let times = match (s.min_ms, s.median_ms, s.max_ms) {
        (Some(min), Some(med), Some(max)) => format!(
            "min/median/max {} / {} / {}",
            human_ms(min),
            human_ms(med),
            human_ms(max)
        ),
        _ => "no times".to_string(),
    };
    let style = if s.exit_code == 0 { p.good } else { p.bad };
    let text = format!(
        "registered {}/{} runs; transports: {transports}; {times}",
        s.registered, s.runs
    );
    format!("{}\n", Palette::paint(style, &text))
}

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

/// The candidates `sipreg resolve` prints, as text.
#[must_use]
pub fn candidates_text(
    server: &str,
    order: &[Transport],
    list: &[crate::net::resolve::Candidate],
) -> String {
    let mut out = format!("candidates for {server} ({}):\n", self::order(order));
    for (i, c) in list.iter().enumerate() {
        let source = match (c.source, c.srv) {
            (crate::net::resolve::Source::Literal, _) => "address given".to_string(),
            (crate::net::resolve::Source::Host, _) => "A/AAAA of the host".to_string(),
            (s, Some((p, w))) => format!(
                "{} priority {p} weight {w}",
                if s == crate::net::resolve::Source::Naptr {
                    "NAPTR+SRV"
                } else {
                    "SRV"
                }
            ),
            (_, None) => "SRV".to_string(),
        };
        let addr = match &c.addr {
            Ok(a) => a.to_string(),
            Err(f) => format!("no address: {}", f.reason),
        };
        let _ = writeln!(
            out,
            "  {:>2} {:<3} {:<28} {:<5} {:<40} {source}",
            i + 1,
            c.transport.via_name(),
            c.target,
            c.port,
            addr
        );
    }
    out
}

/// The candidates `sipreg resolve` prints, as JSON.
#[must_use]
pub fn candidates_json(server: &str, list: &[crate::net::resolve::Candidate]) -> String {
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|c| {
            serde_json::json!({
                "transport": c.transport,
                "target": c.target,
                "port": c.port,
                "address": c.addr.as_ref().ok().map(ToString::to_string),
                "family": c.addr.as_ref().ok().map(|a| crate::net::resolve::family_name(*a)),
                "source": c.source,
                "priority": c.srv.map(|s| s.0),
                "weight": c.srv.map(|s| s.1),
                "error": c.addr.as_ref().err().map(|f| f.reason.clone()),
                "dns_ms": c.dns_ms,
            })
        })
        .collect();
    let v = serde_json::json!({ "server": server, "candidates": items });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}
