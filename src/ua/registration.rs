//! The registration as a pure state machine (RFC 3261 §10.2): one Call-ID and From tag for its whole
//! life, CSeq + 1 for every request (§10.2.4 refreshes, §8.1.1.5), digest answers to 401/407 (§22.2,
//! RFC 7616; one retry on a stale nonce), one retry after 423 with Min-Expires (§10.2.8), and the
//! removal with Expires 0 (§10.2.2) that carries the credentials already known (nc + 1).

use std::net::SocketAddr;

use crate::config::Secret;
use crate::model::{Binding, BindingMatch, Retry, Transport};
use crate::sip::digest::{self, Challenge, Credentials};
use crate::sip::header::Contact;
use crate::sip::message::{AuthHeader, Register, addr_text, host_port};
use crate::sip::response::Response;
use crate::sip::{ascii, new_branch, put_random_hex, random_hex};
use crate::ua::transaction::Key;

/// Most challenges answered in one request round, so a server that challenges forever cannot loop us.
const MAX_AUTH_ROUNDS: u32 = 3;

/// Most Contacts of earlier flows carried for removal: a registrar down for a day would otherwise
/// make the REGISTER grow past a datagram (RFC 3261 §18.1.1), and one that answered none of them is
/// unlikely to hold the oldest.
const MAX_STALE: usize = 8;

/// Who registers: the address of record and the credentials.
#[derive(Debug, Clone)]
pub struct Account {
    /// AOR user.
    pub user: String,
    /// AOR domain and Request-URI host (IPv6 bracketed).
    pub domain: String,
    /// Digest user name.
    pub auth_user: String,
    /// Digest password, if any.
    pub password: Option<Secret>,
}

/// The flow a request goes over: its transport and our address on it (Via and Contact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowInfo {
    /// Transport.
    pub transport: Transport,
    /// Our address on the flow.
    pub local: SocketAddr,
}

/// A request to send, with the key that matches its answer.
#[derive(Debug, Clone)]
pub struct Request {
    /// The bytes on the wire.
    pub bytes: Vec<u8>,
    /// Transaction key.
    pub key: Key,
    /// The Expires the request asks for.
    pub expires: u32,
}

/// How a round ended once the server gave a final answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 2xx.
    Success(Response),
    /// A final non-2xx answer after the in-round retries.
    Final(Response),
    /// Authentication failed; the reason says why.
    Unauthorized(Response, String),
}

/// What to do after a final response.
#[derive(Debug, Clone)]
pub enum Next {
    /// Send this request: a new transaction of the same round.
    Send(Request, Retry),
    /// The round is over.
    Done(Answer),
}

/// One round: a REGISTER (first, refresh or removal) and its in-round retries.
#[derive(Debug, Clone, Default)]
struct Round {
    expires: u32,
    auth_rounds: u32,
    stale_used: bool,
    answered_423: bool,
}

/// A registration: the dialog-wide identifiers and what the server asked of us so far.
#[derive(Debug, Clone)]
pub struct Registration {
    account: Account,
    call_id: std::sync::Arc<str>,
    /// The Request-URI, `sip:` and the domain (§10.2: every REGISTER of the registration), built once
    /// for the digest of every request rather than per request.
    uri: String,
    from_tag: String,
    instance: String,
    cseq: u32,
    /// The challenges answered so far, with the last nonce count used (RFC 7616 §3.4).
    challenges: Vec<(AuthHeader, Challenge, u32)>,
    round: Round,
    /// The flow whose Contact the last request asked to bind, until a removal covers it.
    bound: Option<FlowInfo>,
    /// A 2xx bound it (else its request got no final answer yet, and may have bound it or not).
    confirmed: bool,
    /// Contacts of earlier flows that may still be bound: every request removes them (expires=0)
    /// until a 2xx says they are gone. Empty (no allocation) unless the address changed.
    stale: Vec<(Transport, SocketAddr)>,
}

impl Registration {
    /// A registration with a fresh Call-ID and From tag.
    #[must_use]
    pub fn new(account: Account) -> Self {
        let mut call_id = Vec::with_capacity(31);
        put_random_hex(&mut call_id, 12);
        call_id.extend_from_slice(b"@sipreg");
        Self::with_ids(account, ascii(call_id), random_hex(6))
    }

    /// A registration with given identifiers (tests, and a storm's reproducible accounts).
    #[must_use]
    pub fn with_ids(account: Account, call_id: String, from_tag: String) -> Self {
        let mut uri = String::with_capacity(4 + account.domain.len());
        uri.push_str("sip:");
        uri.push_str(&account.domain);
        Self {
            account,
            call_id: call_id.into(),
            uri,
            from_tag,
            instance: new_instance(),
            cseq: 0,
            challenges: Vec::new(),
            round: Round::default(),
            bound: None,
            confirmed: false,
            stale: Vec::new(),
        }
    }

    /// The Call-ID of every request.
    #[must_use]
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Our instance ID (`urn:uuid:…`, RFC 5626 §4.1).
    #[must_use]
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Our binding in a 2xx to a request sent from `local`.
    #[must_use]
    pub fn binding(&self, response: &Response, local: SocketAddr) -> Binding {
        binding(response, local, &self.instance)
    }

    /// The lifetime the current round asks for (the last one sent, raised by a 423).
    #[must_use]
    pub fn expires(&self) -> u32 {
        self.round.expires
    }

    /// The CSeq of the last request.
    #[must_use]
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// Our Contacts that a registrar may still hold: asked for in this registration and not yet
    /// seen removed by a 2xx (as `sip:user@host:port;transport=…`).
    #[must_use]
    pub fn left(&self) -> Vec<String> {
        let bound = self.bound.map(|f| (f.transport, f.local));
        self.stale
            .iter()
            .copied()
            .chain(bound)
            .map(|(t, local)| contact_uri(&self.account.user, t, local))
            .collect()
    }

    /// Whether a Contact of ours may still be bound (see [`Registration::left`]).
    #[must_use]
    pub fn holds_any(&self) -> bool {
        self.bound.is_some() || !self.stale.is_empty()
    }

    fn credentials(&self) -> Option<Credentials<'_>> {
        self.account.password.as_ref().map(|p| Credentials {
            username: &self.account.auth_user,
            password: p.expose(),
        })
    }

    /// Starts a round asking for `expires` (0 removes the binding): the first registration, a
    /// refresh (§10.2.4) or the removal. Credentials for challenges already answered go at once.
    pub fn begin(&mut self, flow: FlowInfo, expires: u32) -> Request {
        self.round = Round {
            expires,
            ..Round::default()
        };
        self.request(flow)
    }

    /// The Authorization values of the next request: one per challenge answered so far, each with
    /// its nonce count raised and a fresh cnonce (RFC 7616 §3.4).
    fn authorizations(&mut self) -> Vec<(AuthHeader, String)> {
        let mut challenges = std::mem::take(&mut self.challenges);
        // Exactly as many as answered: a storm holds one registration per account.
        let mut auth = Vec::with_capacity(challenges.len());
        if let Some(cred) = self.credentials() {
            for (kind, challenge, nc) in &mut challenges {
                *nc += 1;
                let cnonce = digest::new_cnonce();
                let value =
                    digest::authorization(challenge, &cred, "REGISTER", &self.uri, *nc, &cnonce);
                auth.push((*kind, value));
            }
        }
        self.challenges = challenges;
        auth
    }

    /// The current request again as a new transaction over another flow (after a reconnect):
    /// CSeq + 1, a new branch, our new address, the same lifetime and credentials.
    pub fn resend(&mut self, flow: FlowInfo) -> Request {
        self.request(flow)
    }

    /// The next request of the round: CSeq + 1, a new branch, the same Call-ID.
    fn request(&mut self, flow: FlowInfo) -> Request {
        // The Authorization values live only in the request's bytes: a storm holds ten thousand
        // registrations between their requests.
        let authorization = self.authorizations();
        // A Contact from another flow is removed by this request and every later one until a 2xx
        // confirms it (§10.2.2): no binding of ours is left pointing at a closed connection.
        if let Some(old) = self.bound.filter(|b| *b != flow) {
            self.keep_stale((old.transport, old.local));
            self.bound = None;
        }
        // Never remove the Contact this request makes (a port used again).
        self.stale.retain(|s| *s != (flow.transport, flow.local));
        if self.round.expires > 0 && self.bound != Some(flow) {
            self.bound = Some(flow);
            self.confirmed = false;
        }
        self.cseq += 1;
        let branch = new_branch();
        let bytes = Register {
            transport: flow.transport,
            domain: &self.account.domain,
            user: &self.account.user,
            local: flow.local,
            call_id: &self.call_id,
            from_tag: &self.from_tag,
            cseq: self.cseq,
            branch: &branch,
            expires: self.round.expires,
            authorization: &authorization,
            instance: &self.instance,
            remove: &self.stale,
        }
        .build();
        Request {
            bytes,
            key: Key {
                branch,
                call_id: self.call_id.clone(),
                cseq: self.cseq,
                method: "REGISTER",
            },
            expires: self.round.expires,
        }
    }

    /// A Contact of an earlier flow to remove, once, and no more than [`MAX_STALE`] of them.
    fn keep_stale(&mut self, contact: (Transport, SocketAddr)) {
        if self.stale.contains(&contact) {
            return;
        }
        if self.stale.len() >= MAX_STALE {
            self.stale.remove(0);
        }
        self.stale.push(contact);
    }

    /// Feeds the final response of the current request.
    pub fn on_final(&mut self, flow: FlowInfo, response: Response) -> Next {
        let next = self.next_after(flow, response);
        // §10.3: a final failure bound nothing; a Contact no 2xx ever bound is not held.
        if matches!(
            next,
            Next::Done(Answer::Final(_) | Answer::Unauthorized(..))
        ) && !self.confirmed
        {
            self.bound = None;
        }
        next
    }

    fn next_after(&mut self, flow: FlowInfo, response: Response) -> Next {
        match response.status {
            200..=299 => {
                // §10.3: the registrar applied every Contact of the request, removals included.
                self.stale = Vec::new();
                if self.round.expires == 0 {
                    self.bound = None;
                } else {
                    self.confirmed = true;
                }
                Next::Done(Answer::Success(response))
            }
            401 | 407 => self.on_challenge(flow, response),
            // §10.3 step 7: a 423 only answers a registration; a removal (Expires 0) is not retried.
            423 if !self.round.answered_423 && self.round.expires > 0 => {
                match response.seconds("min-expires") {
                    Some(min) if min > self.round.expires => {
                        self.round.answered_423 = true;
                        self.round.expires = min;
                        let retry = Retry::IntervalTooBrief { min_expires: min };
                        Next::Send(self.request(flow), retry)
                    }
                    _ => Next::Done(Answer::Final(response)),
                }
            }
            _ => Next::Done(Answer::Final(response)),
        }
    }

    fn on_challenge(&mut self, flow: FlowInfo, response: Response) -> Next {
        let (header, kind) = if response.status == 401 {
            ("www-authenticate", AuthHeader::Authorization)
        } else {
            ("proxy-authenticate", AuthHeader::ProxyAuthorization)
        };
        if self.credentials().is_none() {
            let reason = format!(
                "{} {}: the server wants credentials and no password was given (set SIPREG_PASSWORD or use --password-file)",
                response.status, response.reason
            );
            return Next::Done(Answer::Unauthorized(response, reason));
        }
        let values: Vec<&str> = response.headers_named(header).collect();
        let challenge = match digest::choose(&values) {
            Ok(c) => c,
            Err(e) => {
                let reason = format!(
                    "{} {}: cannot answer the challenge: {e}",
                    response.status, response.reason
                );
                return Next::Done(Answer::Unauthorized(response, reason));
            }
        };
        // Only credentials computed for a challenge seen for the first time (nc = 1) prove a wrong
        // password when challenged again; reused ones (after a 423, or sent at the start of a round)
        // may meet a new nonce, which is answered (RFC 7616 §3.4, RFC 3261 §22.2).
        let fresh = self
            .challenges
            .iter()
            .any(|(k, _, nc)| *k == kind && *nc == 1);
        let round = &self.round;
        let stale_retry = fresh && challenge.stale && !round.stale_used;
        if (fresh && !stale_retry) || round.auth_rounds >= MAX_AUTH_ROUNDS {
            let reason = format!(
                "{} {}: challenged again after credentials were sent: wrong password or user {:?}",
                response.status, response.reason, self.account.auth_user
            );
            return Next::Done(Answer::Unauthorized(response, reason));
        }
        let retry = Retry::Challenge {
            status: response.status,
            algorithm: challenge.algorithm.as_str(),
            realm: challenge.realm.clone(),
            stale: challenge.stale,
        };
        let round = &mut self.round;
        round.auth_rounds += 1;
        round.stale_used |= stale_retry;
        // A new challenge of this kind replaces the old one; its nonce count starts again.
        self.challenges.retain(|(k, _, _)| *k != kind);
        // One challenge is the rule: room for one, not the four a first push makes.
        self.challenges.reserve_exact(1);
        self.challenges.push((kind, challenge, 0));
        Next::Send(self.request(flow), retry)
    }
}

/// A Contact URI of ours, as the REGISTER writes it.
fn contact_uri(user: &str, transport: Transport, local: SocketAddr) -> String {
    format!(
        "sip:{user}@{}{}",
        host_port(local),
        crate::sip::message::transport_param(transport)
    )
}

/// `host:port` from `received` and `rport` of the top Via, when the registrar filled both in.
fn seen_host_port(response: &Response) -> Option<String> {
    let via = response.top_via()?;
    Some(addr_text(via.received()?, via.rport()?))
}

/// A fresh instance ID: a random (version 4) UUID URN (RFC 4122 §4.4).
fn new_instance() -> String {
    let h = random_hex(16);
    let variant = ["8", "9", "a", "b"][usize::from(h.as_bytes()[16] % 4)];
    let mut out = String::with_capacity(45);
    for part in [
        "urn:uuid:",
        &h[0..8],
        "-",
        &h[8..12],
        "-4",
        &h[13..16],
        "-",
        variant,
        &h[17..20],
        "-",
        &h[20..32],
    ] {
        out.push_str(part);
    }
    out
}

/// Our binding in a 2xx and the lifetime granted to it (§10.2.4, §10.3), tried as pjsip's
/// registration client does: our exact Contact; then our `+sip.instance`, which survives a registrar
/// that rewrites the URI (NAT fixing); then the only Contact listed; then the Expires header.
#[must_use]
pub fn binding(response: &Response, local: SocketAddr, instance: &str) -> Binding {
    let contacts = response.contacts();
    let ours = host_port(local);
    let listed = contacts.len();
    let exact = contacts.iter().find(|c| {
        c.host_port()
            .is_some_and(|hp| hp.eq_ignore_ascii_case(&ours))
    });
    if let Some(c) = exact {
        let expires = c.expires().or_else(|| response.seconds("expires"));
        return Binding {
            matched: BindingMatch::Exact,
            expires,
            stored: None,
            listed,
        };
    }
    // The address the registrar saw us as, which a NAT-fixing registrar writes into the Contact.
    let seen = seen_host_port(response);
    let received = contacts.iter().find(|c| {
        seen.as_deref()
            .is_some_and(|s| c.host_port().is_some_and(|hp| hp.eq_ignore_ascii_case(s)))
    });
    if let Some(c) = received {
        return Binding {
            matched: BindingMatch::Received,
            expires: c.expires().or_else(|| response.seconds("expires")),
            stored: Some(c.uri.clone()),
            listed,
        };
    }
    let same_instance = |c: &&Contact| {
        c.param("+sip.instance")
            .is_some_and(|v| v.trim_matches(['<', '>']).eq_ignore_ascii_case(instance))
    };
    let (matched, found) = match contacts.iter().find(same_instance) {
        Some(c) => (BindingMatch::Instance, Some(c)),
        None if listed == 1 => (BindingMatch::OnlyContact, contacts.first()),
        None => (BindingMatch::ExpiresHeader, None),
    };
    let header = response.seconds("expires");
    let expires = found.and_then(Contact::expires).or(header);
    let matched = if found.is_none() && header.is_none() {
        BindingMatch::None
    } else {
        matched
    };
    let stored = found.map(|c| c.uri.clone());
    Binding {
        matched,
        expires,
        stored,
        listed,
    }
}

#[cfg(test)]
mod tests;
