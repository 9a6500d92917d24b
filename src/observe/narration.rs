//! The `-v` narration: every event as a plain-words log line (info), and with `-vv` the messages
//! themselves (debug), credentials redacted.

use std::time::Duration;

use tracing::{debug, info};

use crate::config::Config;
use crate::event::{Event, Phase, Purpose, Sink, Stamped};
use crate::model::{Retry, Transport};
use crate::net::resolve::Candidate;
use crate::sip::message::bracket_host;
use crate::units::{human_duration, human_ms, ms};

/// A sink that logs events through `tracing`; silent unless `-v` or RUST_LOG set a subscriber up.
#[derive(Debug, Default)]
pub struct Narration {
    /// The name the TLS certificate is checked against.
    tls_name: Option<String>,
    /// The transport of the current attempt.
    transport: Option<Transport>,
    /// How long the TLS handshake took, told with the negotiated parameters.
    handshake: Option<Duration>,
}

impl Narration {
    /// The narration of a run of `cfg`.
    #[must_use]
    pub fn new(cfg: &Config) -> Self {
        Self {
            tls_name: cfg.tls.as_ref().map(|t| t.server_name.clone()),
            ..Self::default()
        }
    }
}

impl Sink for Narration {
    fn event(&mut self, e: &Stamped) {
        match &e.event {
            Event::AttemptStarted { candidate, .. } => {
                self.transport = Some(candidate.transport);
                attempt(e);
            }
            Event::PhaseStarted {
                phase: Phase::Tls,
                what,
                ..
            } => info!(
                "{what}, verifying {:?}",
                self.tls_name.as_deref().unwrap_or("")
            ),
            Event::PhaseEnded {
                phase: Phase::Tls,
                elapsed,
                ok: true,
            } => self.handshake = Some(*elapsed),
            Event::Connected { tls: Some(p), .. } => {
                let took = self.handshake.take().map_or(Duration::ZERO, |d| d);
                info!(
                    "TLS handshake done in {}: {} {}",
                    human_ms(ms(took)),
                    p.version,
                    p.cipher
                );
            }
            Event::AttemptEnded(end) if end.failure.is_some() => {
                let t = self.transport.map_or("", Transport::via_name);
                info!("{t} failed: {}", end.reason);
            }
            other => narrate(other),
        }
    }
}

fn attempt(e: &Stamped) {
    if let Event::AttemptStarted {
        cycle, candidate, ..
    } = &e.event
    {
        let remote = match &candidate.addr {
            Ok(a) => a.to_string(),
            Err(_) => format!("{}:{}", bracket_host(&candidate.target), candidate.port),
        };
        info!("cycle {cycle}: trying {} to {remote}", candidate.transport);
    }
}

fn narrate(event: &Event) {
    match event {
        Event::Resolving { host } => info!("resolving {host}"),
        Event::Resolved(list) => candidates(list),
        Event::PhaseStarted {
            phase: Phase::Connect,
            what,
            ..
        } => info!("connecting over TCP to {}", after_to(what)),
        Event::PhaseEnded {
            phase: Phase::Connect,
            elapsed,
            ok: true,
        } => info!("TCP connected in {}", human_ms(ms(*elapsed))),
        Event::RequestSent { .. } | Event::ResponseReceived { .. } => message(event),
        Event::Ignored { why, bytes } => {
            if let Some(bytes) = bytes {
                debug!("received:\n{}", String::from_utf8_lossy(bytes));
            }
            debug!("ignoring {why}");
        }
        Event::RequestReceived {
            method,
            transport,
            answered,
            bytes,
            answer,
        } => {
            match answered {
                Some(status) => {
                    info!("the server sent {method} over {transport}; answering {status}");
                }
                None => info!("the server sent {method} over {transport}; not answered"),
            }
            debug!(
                "received over {transport}:\n{}",
                String::from_utf8_lossy(bytes)
            );
            if !answer.is_empty() {
                debug!(
                    "answering over {transport}:\n{}",
                    String::from_utf8_lossy(answer)
                );
            }
        }
        Event::KeepAlive { ping } => debug!(
            "keep-alive from the server ({})",
            if *ping { "ping" } else { "pong" }
        ),
        Event::Retrying(retry) => retrying(retry),
        Event::Reconnected { reason, local, .. } => info!(
            "{reason}; a new connection from {local} carries the next request (RFC 3261 §18.1.1)"
        ),
        Event::Unregistering => info!("removing our binding (Expires: 0)"),
        Event::WaitStarted { wait, .. } => info!(
            "cycle failed; waiting {} before the next cycle",
            human_duration(*wait)
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

/// A request or response: one line at `-v`, the message itself (redacted) at `-vv`.
fn message(event: &Event) {
    match event {
        Event::RequestSent {
            purpose,
            transport,
            cseq,
            expires,
            retransmission,
            bytes,
        } => {
            let method = if *purpose == Purpose::Inbound {
                "OPTIONS"
            } else {
                "REGISTER"
            };
            match retransmission {
                Some(waited) => debug!(
                    "Timer E: retransmitting {method} (CSeq {cseq}) after {}",
                    human_duration(*waited)
                ),
                None if *purpose == Purpose::Inbound => info!(
                    "sending OPTIONS (CSeq {cseq}) to our own AOR through the registrar over {transport}"
                ),
                None => info!("sending REGISTER (CSeq {cseq}, Expires {expires}) over {transport}"),
            }
            if retransmission.is_none() {
                debug!("sending {method} over {transport}:\n{}", redacted(bytes));
            }
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

/// Text of a request for `-vv`: the digest parameters an engineer needs to chase a mismatch
/// (username, realm, nonce, uri, algorithm, qop, nc, cnonce) stay; only `response=` is hidden.
fn redacted(message: &[u8]) -> String {
    String::from_utf8_lossy(message)
        .lines()
        .map(|l| {
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("authorization:") || lower.starts_with("proxy-authorization:") {
                hide_response(l)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An Authorization line with the value of its `response` parameter replaced by `<redacted>`.
fn hide_response(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let mut out = String::with_capacity(line.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(i) = lower[from..].find("response=").map(|i| i + from) {
        let boundary = i == 0 || matches!(lower.as_bytes()[i - 1], b' ' | b',' | b'\t');
        from = i + "response=".len();
        if !boundary {
            continue;
        }
        out.push_str(&line[rest..from]);
        let value = &line[from..];
        let end = if let Some(quoted) = value.strip_prefix('"') {
            quoted.find('"').map_or(value.len(), |e| e + 2)
        } else {
            value.find([',', ' ']).unwrap_or(value.len())
        };
        out.push_str("<redacted>");
        rest = from + end;
        from = rest;
    }
    out.push_str(&line[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_digest_response_is_redacted() {
        let text = redacted(
            b"REGISTER sip:x SIP/2.0\r\nAuthorization: Digest username=\"alice\", realm=\"r\", nonce=\"n1\", uri=\"sip:x\", response=\"5ecre7\", algorithm=MD5, cnonce=\"c1\", qop=auth, nc=00000001\r\nproxy-authorization: Digest response=abc,username=\"bob\"\r\n",
        );
        assert!(!text.contains("5ecre7") && !text.contains("abc"), "{text}");
        for kept in [
            "username=\"alice\"",
            "realm=\"r\"",
            "nonce=\"n1\"",
            "uri=\"sip:x\"",
            "algorithm=MD5",
            "cnonce=\"c1\"",
            "qop=auth",
            "nc=00000001",
            "response=<redacted>, algorithm",
            "response=<redacted>,username=\"bob\"",
        ] {
            assert!(text.contains(kept), "{kept} in {text}");
        }
        assert_eq!(hide_response("X: a"), "X: a");
        assert_eq!(
            hide_response("Authorization: Digest response=\"unterminated"),
            "Authorization: Digest response=<redacted>"
        );
    }
}
