//! The `-v` narration: every event as a plain-words log line (info), and with `-vv` the messages
//! themselves (debug), credentials redacted.

use std::time::Duration;

use tracing::{debug, info};

use crate::event::{Event, Phase, Sink, Stamped};
use crate::model::Retry;
use crate::model::{human_ms, ms};
use crate::net::resolve::Candidate;

/// A sink that logs events through `tracing`; silent unless `-v` or RUST_LOG set a subscriber up.
#[derive(Debug, Default)]
pub struct Narration;

impl Sink for Narration {
    fn event(&mut self, e: &Stamped) {
        narrate(&e.event);
    }
}

fn narrate(event: &Event) {
    match event {
        Event::Resolved(list) => candidates(list),
        Event::AttemptStarted {
            cycle, candidate, ..
        } => {
            let remote = candidate
                .addr
                .as_ref()
                .map_or_else(|_| candidate.target.clone(), ToString::to_string);
            info!("cycle {cycle}: trying {} to {remote}", candidate.transport);
        }
        Event::PhaseStarted { phase, what, .. } => match phase {
            Phase::Connect => info!("connecting over TCP to {}", after_to(what)),
            Phase::Tls => info!("{what}"),
            Phase::Answer => {}
        },
        Event::PhaseEnded {
            phase,
            elapsed,
            ok: true,
        } => phase_done(*phase, *elapsed),
        Event::Connected {
            tls: Some((v, c)), ..
        } => info!("TLS: {v} {c}"),
        Event::RequestSent { .. } | Event::ResponseReceived { .. } => message(event),
        Event::Ignored(why) => debug!("ignoring {why}"),
        Event::RequestReceived {
            method, transport, ..
        } => info!("the server sent a {method} request over {transport}"),
        Event::KeepAlive { ping } => debug!(
            "keep-alive from the server ({})",
            if *ping { "ping" } else { "pong" }
        ),
        Event::Retrying(retry) => retrying(retry),
        Event::AttemptEnded(e) if e.failure.is_some() => info!("attempt failed: {}", e.reason),
        Event::Unregistering => info!("removing our binding (Expires: 0)"),
        Event::WaitStarted { wait, .. } => info!(
            "cycle failed; waiting {} before the next cycle",
            humantime::format_duration(*wait)
        ),
        _ => {}
    }
}

fn candidates(list: &[Candidate]) {
    for c in list {
        match &c.addr {
            Ok(a) => info!("candidate: {} {}:{} -> {a}", c.transport, c.target, c.port),
            Err(f) => info!("candidate: {} {}: {}", c.transport, c.target, f.reason),
        }
    }
}

fn phase_done(phase: Phase, elapsed: Duration) {
    match phase {
        Phase::Connect => info!("TCP connected in {}", human_ms(ms(elapsed))),
        Phase::Tls => info!("TLS handshake done in {}", human_ms(ms(elapsed))),
        Phase::Answer => {}
    }
}

/// A request or response: one line at `-v`, the message itself (redacted) at `-vv`.
fn message(event: &Event) {
    match event {
        Event::RequestSent {
            transport,
            cseq,
            expires,
            retransmission,
            bytes,
            ..
        } => {
            if *retransmission {
                debug!("Timer E: retransmitting");
            } else {
                info!("sending REGISTER (CSeq {cseq}, Expires {expires}) over {transport}");
            }
            debug!("sending over {transport}:\n{}", redacted(bytes));
        }
        Event::ResponseReceived {
            transport,
            status,
            reason,
            after,
            bytes,
            ..
        } => {
            debug!(
                "received over {transport}:\n{}",
                String::from_utf8_lossy(bytes)
            );
            if *status >= 200 {
                info!("received {status} {reason} after {}", human_ms(ms(*after)));
            }
        }
        _ => {}
    }
}

fn retrying(retry: &Retry) {
    match retry {
        Retry::Challenge {
            status,
            algorithm,
            realm,
            stale,
        } => info!(
            "{status} challenge ({algorithm}, realm {realm:?}{}): answering with digest",
            if *stale { ", stale nonce" } else { "" }
        ),
        Retry::IntervalTooBrief { min_expires } => {
            info!("423 Interval Too Brief: retrying with Expires {min_expires}");
        }
    }
}

/// `TCP connect to 192.0.2.7:5060` → `192.0.2.7:5060`.
fn after_to(what: &str) -> &str {
    what.rsplit_once(" to ").map_or(what, |(_, r)| r)
}

/// Text of a request with the Authorization values hidden, for `-vv`.
fn redacted(message: &[u8]) -> String {
    String::from_utf8_lossy(message)
        .lines()
        .map(|l| {
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("authorization:") || lower.starts_with("proxy-authorization:") {
                let name = l.split(':').next().unwrap_or("Authorization");
                format!("{name}: <redacted>")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        let text = redacted(b"REGISTER sip:x SIP/2.0\r\nAuthorization: Digest response=\"secret\"\r\nproxy-authorization: Digest x\r\n");
        assert!(
            !text.contains("secret") && !text.contains("Digest x"),
            "{text}"
        );
        assert!(text.contains("Authorization: <redacted>"));
    }
}
