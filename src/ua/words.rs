//! How the server's answers and the timers become reasons in plain words: Timer F, rejections,
//! the address the server saw.

use std::net::SocketAddr;

use crate::config::Config;
use crate::model::{Failure, Outcome};
use crate::sip::message::addr_text;
use crate::sip::response::Response;
use crate::ua::transaction::Transaction;

/// Timer F's failure, saying how many retransmissions went out and whether a message was half read.
pub(crate) fn timer_f(cfg: &Config, tx: &Transaction<'_>, buffered: usize) -> Failure {
    let retx = match tx.retransmissions() {
        0 => String::new(),
        n => format!(" after {n} retransmissions"),
    };
    let partial = match buffered {
        0 => String::new(),
        n => format!("; {n} bytes of an unfinished message received"),
    };
    Failure::new(
        Outcome::Timeout,
        format!(
            "no final response within {} (Timer F){retx}{partial}",
            humantime::format_duration(cfg.timers.timer_f)
        ),
    )
}

/// The reason of a final non-2xx answer, with what the server asked of us.
pub(crate) fn rejection_reason(r: &Response) -> String {
    let mut reason = format!("{} {}", r.status, r.reason);
    if (300..400).contains(&r.status) {
        let contacts: Vec<&str> = r.headers_named("contact").collect();
        if !contacts.is_empty() {
            reason.push_str(&format!(": redirected to {}", contacts.join(", ")));
        }
    }
    if let Some(s) = r.seconds("retry-after") {
        reason.push_str(&format!(" (Retry-After {s} s)"));
    }
    if r.status == 423 {
        match r.seconds("min-expires") {
            Some(m) => reason.push_str(&format!(" (Min-Expires {m} s)")),
            None => reason.push_str(" (without Min-Expires)"),
        }
    }
    reason
}

/// The address the server saw, from `received` and `rport` in the top Via (RFC 3261 §18.2.1,
/// RFC 3581 §4), when it says anything.
pub(crate) fn seen_as(r: &Response, local: SocketAddr) -> Option<String> {
    let via = r.top_via()?;
    let received = via.received().map(str::to_string);
    let rport = via.rport();
    if received.is_none() && rport.is_none() {
        return None;
    }
    let ip = received.unwrap_or_else(|| local.ip().to_string());
    Some(addr_text(&ip, rport.unwrap_or(local.port())))
}
