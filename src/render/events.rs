//! The watch's running output: one line per event that matters, as JSON (one object per line,
//! flushed at once, with `event` and `t_ms`) or as text, and the closing summary.

use std::io::Write;
use std::time::Instant;

use serde_json::{Value, json};

use super::human_ms;
use crate::event::{Event, Sink, Stamped};
use crate::model::Transport;
use crate::observe::tally::WatchSummary;
use crate::units::ms;

/// A sink that prints watch events on stdout as they happen.
#[derive(Debug)]
pub struct EventLines {
    json: bool,
    start: Option<Instant>,
    transport: Option<Transport>,
}

impl EventLines {
    /// JSON lines with `json`, else text lines.
    #[must_use]
    pub fn new(json: bool) -> Self {
        Self {
            json,
            start: None,
            transport: None,
        }
    }

    fn print(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

impl Sink for EventLines {
    fn event(&mut self, e: &Stamped) {
        if let Event::RunStarted { .. } = e.event {
            self.start = Some(e.at);
        }
        if let Event::Registered { transport, .. } = e.event {
            self.transport = Some(transport);
        }
        let Some((name, fields)) = describe(&e.event, self.transport) else {
            return;
        };
        let t_ms = self
            .start
            .map_or(0.0, |s| ms(e.at.saturating_duration_since(s)));
        let line = if self.json {
            let mut object = json!({ "event": name, "t_ms": t_ms });
            if let (Value::Object(o), Value::Object(f)) = (&mut object, fields) {
                o.extend(f);
            }
            object.to_string()
        } else {
            format!("{:>10}  {}", human_ms(t_ms), text(name, &e.event))
        };
        self.print(&line);
    }
}

/// What an unanswered first ping means (RFC 5626 §4.4.1).
const UNANSWERED: &str = "the registrar does not answer keep-alives (it did not agree to an RFC 5626 flow); the connection is still held, and a dead one is found by the socket, the refresh or the inbound check";

/// The event's name and JSON fields, for the events a watch reports.
fn describe(event: &Event, transport: Option<Transport>) -> Option<(&'static str, Value)> {
    Some(match event {
        Event::Registered {
            transport,
            local,
            remote,
            expires,
            refresh,
        } => (
            if *refresh { "refreshed" } else { "registered" },
            json!({ "transport": transport, "local": local.to_string(),
                    "remote": remote.to_string(), "expires": expires }),
        ),
        Event::RefreshFailed { reason } => ("refresh_failed", json!({ "reason": reason })),
        Event::KeepAliveAnswered { rtt } => ("keepalive", json!({ "rtt_ms": ms(*rtt) })),
        Event::KeepAliveSent if transport == Some(Transport::Udp) => {
            ("keepalive", json!({ "rtt_ms": null }))
        }
        Event::KeepAliveMissed => ("keepalive_missed", json!({})),
        Event::KeepAliveUnanswered => ("keepalive_unanswered", json!({ "reason": UNANSWERED })),
        Event::InboundChecked {
            arrived,
            transport,
            same_flow,
            rtt,
            status,
            reason,
        } => (
            "inbound",
            json!({ "arrived": arrived, "transport": transport, "same_flow": same_flow,
                    "rtt_ms": rtt.map(ms), "status": status, "reason": reason }),
        ),
        Event::BindingLost { reason } => ("binding_lost", json!({ "reason": reason })),
        Event::InboundFailed { reason } => ("inbound_failed", json!({ "reason": reason })),
        Event::FlowLost { reason } => ("flow_lost", json!({ "reason": reason })),
        Event::RegistrationLost { reason } => ("registration_lost", json!({ "reason": reason })),
        Event::RequestReceived {
            method,
            answered,
            transport,
            ..
        } => (
            "request_received",
            json!({ "method": method, "answered": answered, "transport": transport }),
        ),
        Event::AttemptEnded(end) if end.outcome != crate::model::Outcome::Registered => (
            "attempt_failed",
            json!({ "outcome": end.outcome, "status": end.status, "reason": end.reason }),
        ),
        Event::WaitStarted { wait, .. } => ("waiting", json!({ "wait_ms": ms(*wait) })),
        Event::Unregistered {
            done,
            status,
            reason,
            left,
        } => (
            "unregistered",
            json!({ "done": done, "status": status, "reason": reason, "not_removed": left }),
        ),
        _ => return None,
    })
}

/// The event in words.
fn text(name: &str, event: &Event) -> String {
    match event {
        Event::Registered {
            transport,
            local,
            remote,
            expires,
            ..
        } => {
            let expires = expires.map_or_else(String::new, |s| format!(", expires in {s} s"));
            format!("{name} over {transport} to {remote} from {local}{expires}")
        }
        Event::RefreshFailed { reason } => format!("refresh failed: {reason}"),
        Event::KeepAliveAnswered { rtt } => {
            format!("keep-alive answered in {}", human_ms(ms(*rtt)))
        }
        Event::KeepAliveSent => "keep-alive sent (UDP: no answer expected)".into(),
        Event::KeepAliveMissed => "keep-alive missed: no pong within 10 s".into(),
        Event::KeepAliveUnanswered => format!("note: {UNANSWERED}"),
        Event::InboundChecked {
            arrived, reason, ..
        } => {
            if *arrived {
                format!("inbound check: reached us ({reason})")
            } else {
                format!("inbound check: did NOT reach us ({reason})")
            }
        }
        Event::BindingLost { reason } => format!("BINDING LOST: {reason}"),
        Event::InboundFailed { reason } => format!("INBOUND FAILED: {reason}"),
        Event::FlowLost { reason } => format!("flow lost: {reason}"),
        Event::RegistrationLost { reason } => {
            format!("REGISTRATION LOST: {reason}; registering again")
        }
        Event::RequestReceived {
            method, answered, ..
        } => match (method.as_str(), answered) {
            ("INVITE", Some(s)) => format!("someone called the phone (INVITE), answered {s}"),
            (m, Some(s)) => format!("the network sent {m}, answered {s}"),
            (m, None) => format!("the network sent {m}, not answered"),
        },
        Event::AttemptEnded(end) => {
            format!("attempt failed: {} ({})", end.outcome.as_str(), end.reason)
        }
        Event::WaitStarted { wait, .. } => {
            format!(
                "waiting {} before the next try",
                crate::units::human_duration(*wait)
            )
        }
        Event::Unregistered { done, reason, .. } if *done => format!("binding removed ({reason})"),
        Event::Unregistered { reason, .. } => {
            format!("the binding could not be removed ({reason})")
        }
        _ => name.to_string(),
    }
}

/// The closing summary: `{"summary": {...}}` with `json`, else one line of text.
#[must_use]
pub fn summary(s: &WatchSummary, json: bool) -> String {
    if json {
        return format!("{}\n", json!({ "summary": s }));
    }
    let mut rtt = s.keepalive_rtt_ms.p50.map_or_else(String::new, |p| {
        format!(", keep-alive RTT median {}", human_ms(p))
    });
    if s.keepalive_answered == Some(false) {
        rtt.push_str(", the registrar does not answer keep-alives");
    }
    format!(
        "watched {}: registered {:.1} % of the time, {} drops, {} refreshes ({} failed), longest gap {}{rtt}; exit {}\n",
        human_ms(s.elapsed_ms),
        s.registered_pct,
        s.drops,
        s.refreshes,
        s.refresh_failures,
        human_ms(s.longest_gap_ms),
        s.exit_code
    )
}
