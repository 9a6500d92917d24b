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
use crate::sip::digest::{self, Credentials};
use crate::sip::message::{AuthHeader, Options};
use crate::sip::response::Response;
use crate::sip::{new_branch, random_hex};

impl<C: Connector> Agent<'_, C> {
    /// Sends the OPTIONS to our AOR through the registrar, answers it when the registrar forwards
    /// it to us over our binding's flow, and announces what happened: whether it arrived, and the
    /// registrar's answer to it. A 401/407 is answered once with the account's credentials, over
    /// the same path (RFC 3261 §22.2, §22.3).
    pub(crate) async fn check_inbound(&mut self, link: &mut Link<C::Flow>) -> (bool, Option<u16>) {
        let ids = ProbeIds {
            call_id: format!("inbound-{}@sipreg", random_hex(10)),
            from_tag: random_hex(6),
        };
        self.held().probe = Some(ids.call_id.clone());
        self.held().probe_arrived = None;
        let answering = std::mem::replace(&mut self.held().answering, true);
        let sent = now();
        let result = if link.info.transport.is_reliable() {
            // A connection is its own pinhole: the OPTIONS goes over it.
            self.probe_over(link, &ids).await
        } else {
            self.probe_aside(link, &ids).await
        };
        self.held().answering = answering;
        self.held().probe = None;
        let arrived = self.held().probe_arrived.take();
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

    /// TCP/TLS: the OPTIONS over our binding's own connection, and once more with credentials
    /// when the registrar challenges it.
    async fn probe_over(
        &mut self,
        link: &mut Link<C::Flow>,
        ids: &ProbeIds,
    ) -> Result<Response, Failure> {
        let (transport, local) = (link.info.transport, link.info.local);
        let mut request = self.probe_request(transport, local, ids, None);
        let mut challenged = false;
        loop {
            let response = self
                .transaction(&mut link.flow, &request, Purpose::Inbound, "finish")
                .await?;
            match self.answer_challenge(&response, transport, local, ids, challenged) {
                Some(next) => {
                    request = next;
                    challenged = true;
                }
                None => return Ok(response),
            }
        }
    }

    /// The OPTIONS again with the credentials that answer `response`'s challenge (CSeq 2, a fresh
    /// cnonce, nc 1: RFC 7616 §3.4), when it is one, this is the first, and we have a password.
    fn answer_challenge(
        &self,
        response: &Response,
        transport: Transport,
        local: SocketAddr,
        ids: &ProbeIds,
        challenged: bool,
    ) -> Option<Request> {
        let (header, kind) = match response.status {
            401 => ("www-authenticate", AuthHeader::Authorization),
            407 => ("proxy-authenticate", AuthHeader::ProxyAuthorization),
            _ => return None,
        };
        let password = self.cfg().password.as_ref().filter(|_| !challenged)?;
        let values: Vec<&str> = response.headers_named(header).collect();
        let challenge = digest::choose(&values).ok()?;
        let credentials = Credentials {
            username: &self.cfg().auth_user,
            password: password.expose(),
        };
        let uri = format!("sip:{}@{}", self.cfg().user, self.cfg().domain);
        let value = digest::authorization(
            &challenge,
            &credentials,
            "OPTIONS",
            &uri,
            1,
            &digest::new_cnonce(),
        );
        Some(self.probe_request(transport, local, ids, Some((kind, &value))))
    }

    /// A final answer came before the forwarded request: a registrar that forks to another binding
    /// (the user's real phone) can relay that one's answer first. Listen on our flow for 2·T1 more.
    async fn linger(&mut self, link: &mut Link<C::Flow>) -> Result<(), Failure> {
        let until = Instant::now() + self.cfg().timers.t1 * 2;
        while self.held().probe_arrived.is_none() {
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

    /// The OPTIONS to our AOR, sent from `local`: CSeq 1, or 2 with the answer to a challenge.
    fn probe_request(
        &self,
        transport: Transport,
        local: SocketAddr,
        ids: &ProbeIds,
        authorization: Option<(AuthHeader, &str)>,
    ) -> Request {
        let branch = new_branch();
        let cseq = if authorization.is_some() { 2 } else { 1 };
        let bytes = Options {
            transport,
            domain: &self.cfg().domain,
            user: &self.cfg().user,
            local,
            call_id: &ids.call_id,
            from_tag: &ids.from_tag,
            branch: &branch,
            cseq,
            authorization,
        }
        .build();
        Request {
            bytes,
            key: Key {
                branch,
                call_id: ids.call_id.as_str().into(),
                cseq,
                method: "OPTIONS",
            },
            expires: 0,
        }
    }

    /// UDP: the OPTIONS goes out from a socket of its own, so that it cannot itself reopen the NAT
    /// pinhole of our binding's flow (which is what the check is about); the forwarded request is
    /// awaited, and answered, on that flow. A challenge is answered once from the same socket.
    async fn probe_aside(
        &mut self,
        link: &mut Link<C::Flow>,
        ids: &ProbeIds,
    ) -> Result<Response, Failure> {
        let connect = self.cfg().timers.connect;
        let mut aside = self
            .connector()
            .open(Transport::Udp, link.remote, connect)
            .await?;
        let local = aside.local_addr();
        let mut request = self.probe_request(Transport::Udp, local, ids, None);
        let mut challenged = false;
        loop {
            let response = self.aside_transaction(link, &mut aside, &request).await?;
            match self.answer_challenge(&response, Transport::Udp, local, ids, challenged) {
                Some(next) => {
                    request = next;
                    challenged = true;
                }
                None => return Ok(response),
            }
        }
    }

    /// One OPTIONS transaction on the side socket (Timer E/F, RFC 3261 §17.1.2), in the trace like
    /// every other request, while our flow is listened to for the forwarded request.
    async fn aside_transaction(
        &mut self,
        link: &mut Link<C::Flow>,
        aside: &mut C::Flow,
        request: &Request,
    ) -> Result<Response, Failure> {
        let sent = now();
        aside.send(&request.bytes).await?;
        self.sent(sent, Purpose::Inbound, Transport::Udp, request, None);
        let mut last_send = sent;
        let mut tx = Transaction::new(&request.key, false, &self.cfg().timers, sent);
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
                    let step = tx.on_response(now(), &response);
                    if matches!(step, Step::Ignore(_)) {
                        continue;
                    }
                    self.emit(Event::ResponseReceived {
                        purpose: Purpose::Inbound,
                        transport: Transport::Udp,
                        status: response.status,
                        reason: self.told(|| response.reason.clone()),
                        after: now() - sent,
                        from: None,
                        bytes: self.told(|| bytes.clone()),
                    });
                    if step == Step::Final {
                        if self.held().probe_arrived.is_none() && (200..300).contains(&response.status) {
                            self.linger(link).await?;
                        }
                        return Ok(response);
                    }
                }
                () = tokio::time::sleep_until(wake) => match tx.on_timer(now()) {
                    Some(Step::TimedOut) => return Err(timer_f(self.cfg(), &tx, 0)),
                    Some(Step::Retransmit) => {
                        let at = now();
                        aside.send(&request.bytes).await?;
                        self.sent(at, Purpose::Inbound, Transport::Udp, request, Some(at - last_send));
                        last_send = at;
                    }
                    _ => {}
                },
            }
        }
    }
}

/// The identifiers of one inbound check: its Call-ID (by which the forwarded request is
/// recognised) and From tag, the same for the challenged request and its answer (§8.1.3.5).
struct ProbeIds {
    call_id: String,
    from_tag: String,
}
