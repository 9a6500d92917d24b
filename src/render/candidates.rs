//! What `sipreg resolve` prints: the ordered candidates as text or JSON.

use std::fmt::Write as _;

use crate::model::Transport;
use crate::net::resolve;

/// The candidates `sipreg resolve` prints, as text.
#[must_use]
pub fn candidates_text(server: &str, order: &[Transport], list: &[resolve::Candidate]) -> String {
    let mut out = format!("candidates for {server} ({}):\n", super::order(order));
    for (i, c) in list.iter().enumerate() {
        let source = match (c.source, c.srv) {
            (resolve::Source::Literal, _) => "address given".to_string(),
            (resolve::Source::Host, _) => "A/AAAA of the host".to_string(),
            (s, Some((p, w))) => format!(
                "{} priority {p} weight {w}",
                if s == resolve::Source::Naptr {
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
pub fn candidates_json(server: &str, list: &[resolve::Candidate]) -> String {
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|c| {
            serde_json::json!({
                "transport": c.transport,
                "target": c.target,
                "port": c.port,
                "address": c.addr.as_ref().ok().map(ToString::to_string),
                "family": c.addr.as_ref().ok().map(|a| resolve::family_name(*a)),
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
