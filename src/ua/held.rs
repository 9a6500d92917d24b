//! What the agent keeps while it holds a binding — whether it answers the network, the last pong, what
//! the registrar's pongs are known to be, the inbound check's probe — and what it does with a frame
//! that is not the answer a transaction waits for (RFC 3261 §8.2, RFC 5626 §3.5.1).

use std::net::SocketAddr;
use std::time::Instant;

use super::agent::{Agent, Inbound, now};
use super::binding::Pongs;
use super::registration::Registration;
use crate::event::Event;
use crate::model::Transport;
use crate::net::{Connector, Frame};
use crate::sip::request::Incoming;
use crate::sip::response::Response;

/// The state of a held binding that the agent's frame handling reads and writes.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// Answer requests and pings from the server: set while a binding is held.
    pub(crate) answering: bool,
    /// When the last pong arrived, also while a transaction had the flow.
    pub(crate) last_pong: Option<Instant>,
    /// What the watch learned about the registrar's pongs, kept across flows (RFC 5626 §4.4.1).
    pub(crate) pongs: Option<Pongs>,
    /// The Call-ID of the inbound check's OPTIONS, while it runs.
    pub(crate) probe: Option<String>,
    /// When and over which transport the inbound check's OPTIONS reached us, and whether on our
    /// flow.
    pub(crate) probe_arrived: Option<(Instant, Transport, Option<bool>)>,
}

/// What a 2xx granted on a flow: the lifetime of our binding, the Flow-Timer and whether the
/// registrar agreed to an RFC 5626 flow (`Require: outbound`, §5.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The lifetime granted to our binding.
    pub(crate) expires: Option<u32>,
    /// The Flow-Timer (RFC 5626 §4.4.1).
    pub(crate) flow_timer: Option<u32>,
    /// The registrar owes a pong to every ping.
    pub(crate) outbound: bool,
}

impl Grant {
    /// What the 2xx `r` to a request from `local` granted.
    pub(crate) fn of(registration: &Registration, r: &Response, local: SocketAddr) -> Grant {
        Grant {
            expires: registration.binding(r, local).expires,
            flow_timer: r.seconds("flow-timer"),
            outbound: r.requires("outbound"),
        }
    }
}

impl<C: Connector> Agent<'_, C> {
    /// What a frame means: a response for the transaction, or something to announce and perhaps
    /// answer (keep-alives, requests from the server), or unreadable bytes.
    pub(crate) fn inbound(&mut self, frame: Frame, transport: Transport) -> Inbound {
        let bytes = match frame {
            Frame::Message(bytes) => bytes,
            Frame::Ping | Frame::Pong => {
                let ping = frame == Frame::Ping;
                if !ping {
                    self.held().last_pong = Some(now());
                }
                self.emit(Event::KeepAlive { ping });
                // RFC 5626 §3.5.1: a ping from the server gets a pong while we hold a binding.
                return if ping && self.held().answering && transport.is_reliable() {
                    Inbound::Reply(b"\r\n".to_vec())
                } else {
                    Inbound::Nothing
                };
            }
        };
        if let Some(method) = crate::sip::request_method(&bytes) {
            return self.request(method, bytes, transport);
        }
        match Response::parse(&bytes) {
            Ok(r) => Inbound::Response(r, bytes),
            Err(e) => {
                self.emit(Event::Ignored {
                    why: format!("an unreadable message ({e})"),
                    bytes: None,
                });
                Inbound::Nothing
            }
        }
    }

    /// Notes, once, whether the inbound check's probe came on our flow (not from another address).
    pub(crate) fn probe_flow(&mut self, same: bool) {
        let held = self.held();
        if let Some((at, t, None)) = held.probe_arrived {
            held.probe_arrived = Some((at, t, Some(same)));
        }
    }

    /// A request from the server: announced; answered while a binding is held (watch), never
    /// with more bytes than it had (RFC 3261 §8.2; the one-shot run does not answer).
    fn request(&mut self, method: String, bytes: Vec<u8>, transport: Transport) -> Inbound {
        let parsed = Incoming::parse(&bytes);
        let held = self.held();
        if let (Some(probe), Some(r)) = (&held.probe, &parsed) {
            if r.call_id() == Some(probe.as_str()) && held.probe_arrived.is_none() {
                held.probe_arrived = Some((now(), transport, None));
            }
        }
        let answering = held.answering;
        let reply = parsed
            .filter(|_| answering)
            .and_then(|r| Some((r.status()?.0, r.answer()?)));
        let answer = self.told(|| reply.as_ref().map(|(_, b)| b.clone()).unwrap_or_default());
        self.emit(Event::RequestReceived {
            method,
            answered: reply.as_ref().map(|(status, _)| *status),
            transport,
            bytes,
            answer,
        });
        match reply {
            Some((_, bytes)) => Inbound::Reply(bytes),
            None => Inbound::Nothing,
        }
    }
}
