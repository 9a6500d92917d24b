//! `--check-inbound`: can calls reach the phone? An OPTIONS to our own AOR through the registrar,
//! which looks up our binding and forwards it to us as it would a call (sipsak's usrloc check).

use super::agent::{Agent, Link, now};
use super::registration::Request;
use super::transaction::Key;
use crate::event::{Event, Purpose};
use crate::net::Connector;
use crate::sip::message::Options;
use crate::sip::{new_branch, random_hex};

impl<C: Connector> Agent<'_, C> {
    /// Sends the OPTIONS over the flow that holds our binding, answers it when the registrar
    /// forwards it to us, and announces what happened: whether it arrived, and the registrar's
    /// answer to it.
    pub(crate) async fn check_inbound(&mut self, link: &mut Link<C::Flow>) -> (bool, Option<u16>) {
        let call_id = format!("inbound-{}@sipreg", random_hex(10));
        let branch = new_branch();
        let cfg = self.cfg;
        let bytes = Options {
            transport: link.info.transport,
            domain: &cfg.domain,
            user: &cfg.user,
            local: link.info.local,
            call_id: &call_id,
            from_tag: &random_hex(6),
            branch: &branch,
        }
        .build();
        let request = Request {
            bytes,
            key: Key {
                branch,
                call_id: call_id.clone(),
                cseq: 1,
                method: "OPTIONS",
            },
            expires: 0,
        };
        self.probe = Some(call_id);
        self.probe_arrived = None;
        let answering = std::mem::replace(&mut self.answering, true);
        let sent = now();
        let result = self
            .transaction(&mut link.flow, &request, Purpose::Inbound, "finish")
            .await;
        self.answering = answering;
        self.probe = None;
        let arrived = self.probe_arrived.take();
        let (status, reason) = match &result {
            Ok(r) => (Some(r.status), format!("{} {}", r.status, r.reason)),
            Err(f) => (None, f.reason.clone()),
        };
        let outcome = (arrived.is_some(), status);
        self.emit(Event::InboundChecked {
            arrived: arrived.is_some(),
            transport: arrived.map(|(_, t, _)| t),
            same_flow: arrived.and_then(|(_, _, same)| same),
            rtt: arrived.map(|(at, _, _)| at.saturating_duration_since(sent)),
            status,
            reason,
        });
        outcome
    }
}
