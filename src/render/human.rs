//! The report as text for a person: the header, one line per attempt with its facts and hint, the
//! warnings and the verdict line; the one-line forms of repeat mode.

use std::fmt::Write as _;

use super::{Detail, Palette, human_ms, order};
use crate::model::Outcome;
use crate::observe::report::{Report, Summary};

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
        if a.reconnects > 0 {
            facts.push(format!(
                "reconnected {}× (the server closed the connection after an answer)",
                a.reconnects
            ));
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
    if let Some(i) = &r.inbound {
        let _ = writeln!(out, "  {}", inbound_line(i));
        if let Some(h) = &i.hint {
            let _ = writeln!(
                out,
                "          {}",
                Palette::paint(p.note, &format!("hint: {h}"))
            );
        }
    }
    if let Some(line) = r.unregister.as_ref().and_then(removed_line) {
        let _ = writeln!(out, "  {line}");
    }
    for w in &r.warnings {
        let _ = writeln!(out, "{}", Palette::paint(p.warn, &format!("warning: {w}")));
    }
    out.push_str(&verdict_styled(r, p));
    out.push('\n');
    out
}

/// `binding removed in 0.2 ms (200 OK)`, when the removal was confirmed.
fn removed_line(u: &crate::observe::report::Unregister) -> Option<String> {
    let took = u
        .elapsed_ms
        .map_or_else(String::new, |t| format!(" in {}", human_ms(t)));
    u.done
        .then(|| format!("binding removed{took} ({})", u.reason))
}

/// `inbound: an OPTIONS through the registrar reached us over UDP on our flow in 1.2 ms (200 OK)`.
fn inbound_line(i: &crate::observe::report::Inbound) -> String {
    if !i.arrived {
        return format!(
            "inbound: an OPTIONS through the registrar did NOT reach us ({})",
            i.reason
        );
    }
    let over = i
        .transport
        .map_or_else(String::new, |t| format!(" over {t}"));
    let flow = match i.same_flow {
        Some(false) => " from another address",
        Some(true) => " on our flow",
        None => "",
    };
    let rtt = i
        .rtt_ms
        .map_or_else(String::new, |r| format!(" in {}", human_ms(r)));
    format!(
        "inbound: an OPTIONS through the registrar reached us{over}{flow}{rtt} ({})",
        i.reason
    )
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
