//! `--check-inbound`: can calls reach the phone? An OPTIONS to our own AOR through the registrar,
//! which looks up our binding and forwards it to us as it would a call (sipsak's usrloc check).

use std::net::SocketAddr;

use tokio::time::Instant;

use super::agent::{Agent, Inbound, Link, now};
use super::registration::Request;
use super::transaction::{Key, Step, Transaction};
use super::words::timer_f;
use crate::event::{Event, Purpose};
use crate::model::{Failure, Transport};
use crate::net::{Connector, Flow, Frame};
use crate::sip::message::Options;
use crate::sip::response::Response;
use crate::sip::{new_branch, random_hex};

impl<C: Connector> Agent<'_, C> {
    /// Sends the OPTIONS to our AOR through the registrar, answers it when the registrar forwards
    /// it to us over our binding's flow, and announces what happened: whether it arrived, and the
    /// registrar's answer to it.
    pub(crate) async fn check_inbound(&mut self, link: &mut Link<C::Flow>) -> (bool, Option<u16>) {
        let call_id = format!("inbound-{}@sipreg", random_hex(10));
        self.probe = Some(call_id.clone());
        self.probe_arrived = None;
        let answering = std::mem::replace(&mut self.answering, true);
        let sent = now();
        let result = if link.info.transport.is_reliable() {
            // A connection is its own pinhole: the OPTIONS goes over it.
            let request = self.probe_request(link.info.transport, link.info.local, &call_id);
            self.transaction(&mut link.flow, &request, Purpose::Inbound, "finish")
                .await
        } else {
            self.probe_aside(link, &call_id).await
        };
        self.answering = answering;
        self.probe = None;
        let arrived = self.probe_arrived.take();
        let (status, reason) = match &result {
            Ok(r) => (Some(r.status), format!("{} {}", r.status, r.reason)),
            Err(f) => (None, f.reason.clone()),
        };
        self.emit(Event::InboundChecked {
            arrived: arrived.is_some(),
            transport: arrived.map(|(_, t, _)| t),
            same_flow: arrived.and_then(|(_, _, same)| same),
            rtt: arrived.map(|(at, _, _)| at.saturating_duration_since(sent)),
            status,
            reason,
        });
        (arrived.is_some(), status)
    }

    /// A final answer came before the forwarded request: a registrar that forks to another binding
    /// (the user's real phone) can relay that one's answer first. Listen on our flow for 2·T1 more.
    async fn linger(&mut self, link: &mut Link<C::Flow>) -> Result<(), Failure> {
        let until = Instant::now() + self.cfg.timers.t1 * 2;
        while self.probe_arrived.is_none() {
            let Ok(frame) = tokio::time::timeout_at(until, link.flow.recv()).await else {
                return Ok(());
            };
            self.heard_while_checking(link, frame?).await?;
        }
        Ok(())
    }

    /// A frame on our flow while the check runs: answered when it asks for it (the forwarded
    /// OPTIONS), and whether the probe came on our flow noted.
    async fn heard_while_checking(
        &mut self,
        link: &mut Link<C::Flow>,
        frame: Frame,
    ) -> Result<(), Failure> {
        if let Inbound::Reply(bytes) = self.inbound(frame, Transport::Udp) {
            link.flow.reply(&bytes).await?;
        }
        self.probe_flow(link.flow.answered_from().is_none());
        Ok(())
    }

    /// The OPTIONS to our AOR, sent from `local`.
    fn probe_request(&self, transport: Transport, local: SocketAddr, call_id: &str) -> Request {
        let branch = new_branch();
        let bytes = Options {
            transport,
            domain: &self.cfg.domain,
            user: &self.cfg.user,
            local,
            call_id,
            from_tag: &random_hex(6),
            branch: &branch,
        }
        .build();
        Request {
            bytes,
            key: Key {
                branch,
                call_id: call_id.into(),
                cseq: 1,
                method: "OPTIONS",
            },
            expires: 0,
        }
    }

    /// UDP: the OPTIONS goes out from a socket of its own, so that it cannot itself reopen the NAT
    /// pinhole of our binding's flow (which is what the check is about); the forwarded request is
    /// awaited, and answered, on that flow. Timer E/F run on the side socket (RFC 3261 §17.1.2).
    async fn probe_aside(
        &mut self,
        link: &mut Link<C::Flow>,
        call_id: &str,
    ) -> Result<Response, Failure> {
        let connect = self.cfg.timers.connect;
        let mut aside = self
            .connector
            .open(Transport::Udp, link.remote, connect)
            .await?;
        let request = self.probe_request(Transport::Udp, aside.local_addr(), call_id);
        aside.send(&request.bytes).await?;
        let mut tx = Transaction::new(&request.key, false, &self.cfg.timers, now());
        loop {
            let wake = Instant::from_std(tx.wake_at());
            // Our flow first: a proxy relays the final answer only after we answered the forwarded
            // request, so when both are there, the forwarded request came first.
            tokio::select! {
                biased;
                frame = link.flow.recv() => self.heard_while_checking(link, frame?).await?,
                frame = aside.recv() => {
                    let Frame::Message(bytes) = frame? else { continue };
                    let Ok(response) = Response::parse(&bytes) else { continue };
                    if tx.on_response(now(), &response) == Step::Final {
                        if self.probe_arrived.is_none() && (200..300).contains(&response.status) {
                            self.linger(link).await?;
                        }
                        return Ok(response);
                    }
                }
                () = tokio::time::sleep_until(wake) => match tx.on_timer(now()) {
                    Some(Step::TimedOut) => return Err(timer_f(self.cfg, &tx, 0)),
                    Some(Step::Retransmit) => aside.send(&request.bytes).await?,
                    _ => {}
                },
            }
        }
    }
}
