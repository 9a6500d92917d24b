//! The user agent: the only async code of the core. It carries out what the pure state machines
//! decide (fallback, transaction, registration) over flows, stamps every step and emits events.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Config;
use crate::event::{Ended, Event, Phase, Purpose, Sink, Stamped};
use crate::model::{End, Failure, Outcome, Transport, Verdict};
use crate::net::resolve::{self, Candidate, Resolver};
use crate::net::{Connector, Flow, Frame};
use crate::sip::request::Incoming;
use crate::sip::response::Response;
use crate::ua::fallback::{Action, Fallback, Plan};
use crate::ua::registration::{Account, Answer, FlowInfo, Next, Registration, Request};
use crate::ua::transaction::{Step, Transaction};
use crate::ua::words::{rejection_reason, seen_as, timer_f};

/// What an agent needs from the process: the configuration, the connector and the shared resolver.
pub struct Agent<'a, C: Connector> {
    pub(crate) cfg: &'a Config,
    pub(crate) connector: &'a C,
    resolver: &'a Resolver,
    sink: &'a mut dyn Sink,
    /// The sink reads texts and copies ([`Sink::detail`]): when not, events carry them empty.
    pub(crate) detail: bool,
    /// Answer requests from the server (watch): set while a binding is held.
    pub(crate) answering: bool,
    /// When the last pong arrived, also while a transaction had the flow.
    pub(crate) last_pong: Option<std::time::Instant>,
    /// The lifetime granted by the last 2xx that registered us.
    pub(crate) granted: Option<u32>,
    /// The Flow-Timer of the last 2xx that registered us (RFC 5626 §4.4.1).
    pub(crate) flow_timer: Option<u32>,
    /// The last 2xx that registered us carried `Require: outbound` (RFC 5626 §5.2): the registrar
    /// agreed to a flow and owes a pong to every ping.
    pub(crate) outbound: bool,
    /// What the watch learned about the registrar's pongs, kept across flows (RFC 5626 §4.4.1).
    pub(crate) pongs: Option<crate::ua::binding::Pongs>,
    /// Retry-After of the last attempt's answer (a 503): the watch waits at least that long.
    pub(crate) retry_after: Option<Duration>,
    /// The Call-ID of the inbound check's OPTIONS, while it runs.
    pub(crate) probe: Option<String>,
    /// When and over which transport the inbound check's OPTIONS reached us.
    pub(crate) probe_arrived: Option<(std::time::Instant, Transport, Option<bool>)>,
}

/// The instant now, on tokio's clock (paused in tests), as a std instant for the state machines.
pub(crate) fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl<'a, C: Connector> Agent<'a, C> {
    /// An agent for one run of `cfg`.
    pub fn new(
        cfg: &'a Config,
        connector: &'a C,
        resolver: &'a Resolver,
        sink: &'a mut dyn Sink,
    ) -> Self {
        Self {
            cfg,
            connector,
            resolver,
            detail: sink.detail(),
            sink,
            answering: false,
            last_pong: None,
            granted: None,
            flow_timer: None,
            outbound: false,
            pongs: None,
            retry_after: None,
            probe: None,
            probe_arrived: None,
        }
    }

    /// A text or copy for an event, or nothing when the sink reads none ([`Sink::detail`]).
    pub(crate) fn told<T: Default>(&self, make: impl FnOnce() -> T) -> T {
        if self.detail { make() } else { T::default() }
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.sink.event(&Stamped { at: now(), event });
    }

    /// Resolves the candidates of the run (RFC 3263), announcing them.
    pub async fn resolve(&mut self) -> Vec<Candidate> {
        let host = &self.cfg.server.host;
        if host.parse::<IpAddr>().is_err() {
            let host = host.clone();
            self.emit(Event::Resolving { host });
        }
        let list = resolve::candidates(&self.cfg.target(), self.resolver).await;
        let told = self.told(|| list.clone());
        self.emit(Event::Resolved(told));
        list
    }

    /// One registration test: Table 89's fallback over the candidates, the registration, and the
    /// removal of our binding unless `--keep`. Returns the verdict; the events tell the rest.
    pub async fn run(&mut self) -> Verdict {
        self.started();
        let candidates = Box::pin(self.resolve()).await;
        let mut registration = Registration::new(account(self.cfg));
        let retries = self.cfg.retries;
        let (verdict, link) = self.register(&mut registration, &candidates, retries).await;
        let mut link = link;
        if let Some(link) = link.as_mut().filter(|_| self.cfg.check_inbound) {
            self.check_inbound(link).await;
        }
        if let Some(mut link) = link.filter(|_| !self.cfg.keep) {
            self.unregister(&mut link, &mut registration).await;
        }
        self.emit(Event::Finished(verdict));
        verdict
    }

    /// Announces the run.
    pub(crate) fn started(&mut self) {
        let cfg = self.cfg;
        let insecure = cfg.tls.as_ref().is_some_and(|t| t.insecure);
        self.emit(if self.detail {
            Event::RunStarted {
                server: cfg.server_display(),
                aor: cfg.aor(),
                order: cfg.order.clone(),
                insecure,
            }
        } else {
            Event::RunStarted {
                server: String::new(),
                aor: String::new(),
                order: Vec::new(),
                insecure,
            }
        });
    }

    /// Walks Table 89's fallback over the candidates for `1 + retries` cycles, waiting between
    /// them; returns the verdict and, when registered, the flow that holds the binding.
    pub(crate) async fn register(
        &mut self,
        registration: &mut Registration,
        candidates: &[Candidate],
        retries: u32,
    ) -> (Verdict, Option<Link<C::Flow>>) {
        let cfg = self.cfg;
        // What comes after each candidate is told in the events only.
        let targets: Vec<String> =
            self.told(|| candidates.iter().map(|c| c.target.clone()).collect());
        let mut plan = Fallback::new(Plan {
            order: candidates.iter().map(|c| c.transport).collect(),
            retries,
            retry_interval: cfg.retry_interval,
            retry_max: cfg.retry_max,
            strict_tls: cfg.tls.as_ref().is_some_and(|t| t.strict),
        });
        let mut action = plan.start();
        let mut held = None;
        loop {
            match action {
                Action::Attempt { cycle, index, .. } => {
                    let Some(candidate) = candidates.get(index) else {
                        return (Verdict::Unreachable, None);
                    };
                    let then = self.told(|| plan.then(index, &targets));
                    let (end, link) = self
                        .attempt(registration, cycle, candidate.clone(), then)
                        .await;
                    held = link;
                    self.retry_after = end.retry_after;
                    action = plan.on_attempt(&end);
                }
                Action::Wait(wait) => {
                    let then = cfg.order.first().map_or("", |t| t.via_name()).to_string();
                    self.emit(Event::WaitStarted { wait, then });
                    tokio::time::sleep(wait).await;
                    self.emit(Event::WaitEnded);
                    action = plan.resume();
                }
                Action::Finish(verdict) => return (verdict, held),
            }
        }
    }

    /// One candidate in one cycle: connect and register; the flow is returned when it holds a
    /// binding.
    async fn attempt(
        &mut self,
        registration: &mut Registration,
        cycle: u32,
        candidate: Candidate,
        then: String,
    ) -> (End, Option<Link<C::Flow>>) {
        let remote = candidate.addr.clone();
        let transport = candidate.transport;
        self.emit(Event::AttemptStarted {
            cycle,
            candidate,
            then: then.clone(),
        });
        let remote = match remote {
            Ok(r) => r,
            Err(f) => return (self.failed(f), None),
        };
        let flow = match Box::pin(self.connect(transport, remote, &then)).await {
            Ok(f) => f,
            Err(f) => return (self.failed(f), None),
        };
        let mut link = Link {
            info: FlowInfo {
                transport,
                local: flow.local_addr(),
            },
            flow,
            remote,
            answered: false,
        };
        self.emit(Event::Connected {
            local: link.info.local,
            tls: link.flow.tls_params(),
        });
        let expires = self.cfg.expires;
        let answer = self
            .round(&mut link, registration, expires, Purpose::Register, &then)
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(f) => return (self.failed(f), None),
        };
        let end = self.answered(registration, &answer, &link, false);
        let held = (end.outcome == Outcome::Registered).then_some(link);
        (end, held)
    }

    /// Opens the flow: TCP connect and TLS handshake are timed phases; UDP opens at once.
    pub(crate) async fn connect(
        &mut self,
        transport: Transport,
        remote: SocketAddr,
        then: &str,
    ) -> Result<C::Flow, Failure> {
        let limit = self.cfg.timers.connect;
        if transport == Transport::Udp {
            return self.connector.open(transport, remote, limit).await;
        }
        let what = self.told(|| format!("TCP connect to {remote}"));
        let flow = self
            .phase(Phase::Connect, what, limit, then, |c| {
                c.open(transport, remote, limit)
            })
            .await?;
        if transport != Transport::Tls {
            return Ok(flow);
        }
        let what = self.told(|| format!("TLS handshake with {remote}"));
        self.phase(Phase::Tls, what, limit, then, |c| c.secure(flow, limit))
            .await
    }

    /// Runs a timed phase, announcing its start and end.
    async fn phase<T, F>(
        &mut self,
        phase: Phase,
        what: String,
        limit: Duration,
        then: &str,
        run: impl FnOnce(&'a C) -> F,
    ) -> Result<T, Failure>
    where
        F: std::future::Future<Output = Result<T, Failure>>,
    {
        self.emit(Event::PhaseStarted {
            phase,
            what: what.into(),
            limit,
            then: self.told(|| then.to_string()),
        });
        let started = Instant::now();
        let result = run(self.connector).await;
        self.emit(Event::PhaseEnded {
            phase,
            elapsed: started.elapsed(),
            ok: result.is_ok(),
        });
        result
    }

    /// A round of the registration: the request, then one more for each challenge or 423.
    pub(crate) async fn round(
        &mut self,
        link: &mut Link<C::Flow>,
        registration: &mut Registration,
        expires: u32,
        purpose: Purpose,
        then: &str,
    ) -> Result<Answer, Failure> {
        let mut request = registration.begin(link.info, expires);
        loop {
            let sent = self
                .transaction(&mut link.flow, &request, purpose, then)
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(f) if link.may_reconnect(&f) => {
                    self.reconnect(link, &f, then).await?;
                    request = registration.resend(link.info);
                    continue;
                }
                Err(f) => return Err(f),
            };
            link.answered = true;
            match registration.on_final(link.info, response) {
                Next::Done(answer) => return Ok(answer),
                Next::Send(next, why) => {
                    self.emit(Event::Retrying(why));
                    request = next;
                }
            }
        }
    }

    /// A new connection for the next request of the registration, after the server closed the
    /// one that carried its last answer (RFC 3261 §18.1.1: the client opens a new connection).
    async fn reconnect(
        &mut self,
        link: &mut Link<C::Flow>,
        closed: &Failure,
        then: &str,
    ) -> Result<(), Failure> {
        let flow = Box::pin(self.connect(link.info.transport, link.remote, then)).await?;
        link.info.local = flow.local_addr();
        link.flow = flow;
        link.answered = false;
        self.emit(Event::Reconnected {
            reason: closed.reason.clone(),
            local: link.info.local,
            tls: link.flow.tls_params(),
        });
        Ok(())
    }

    /// One client transaction (RFC 3261 §17.1.2): send, Timer E, Timer F, matching.
    pub(crate) async fn transaction(
        &mut self,
        flow: &mut C::Flow,
        request: &Request,
        purpose: Purpose,
        then: &str,
    ) -> Result<Response, Failure> {
        let transport = flow.transport();
        let timers = self.cfg.timers;
        let sent = now();
        flow.send(&request.bytes).await?;
        self.sent(sent, purpose, transport, request, None);
        self.emit(Event::PhaseStarted {
            phase: Phase::Answer,
            what: match transport {
                Transport::Udp => "waiting for an answer over UDP",
                Transport::Tcp => "waiting for an answer over TCP",
                Transport::Tls => "waiting for an answer over TLS",
            }
            .into(),
            limit: timers.timer_f,
            then: self.told(|| then.to_string()),
        });
        let mut tx = Transaction::new(&request.key, transport.is_reliable(), &timers, sent);
        let result = self.receive(flow, request, purpose, &mut tx, sent).await;
        self.emit(Event::PhaseEnded {
            phase: Phase::Answer,
            elapsed: now() - sent,
            ok: result.is_ok(),
        });
        result
    }

    /// Waits for the final answer: Timer E retransmissions, Timer F, matching (§17.1.3).
    pub(crate) async fn receive(
        &mut self,
        flow: &mut C::Flow,
        request: &Request,
        purpose: Purpose,
        tx: &mut Transaction<'_>,
        sent: std::time::Instant,
    ) -> Result<Response, Failure> {
        let transport = flow.transport();
        let mut last_send = sent;
        loop {
            let wake = Instant::from_std(tx.wake_at());
            let frame = match tokio::time::timeout_at(wake, flow.recv()).await {
                Err(_) => match tx.on_timer(now()) {
                    Some(Step::TimedOut) => return Err(timer_f(self.cfg, tx, flow.buffered())),
                    Some(Step::Retransmit) => {
                        let at = now();
                        flow.send(&request.bytes).await?;
                        self.sent(at, purpose, transport, request, Some(at - last_send));
                        last_send = at;
                        continue;
                    }
                    _ => continue,
                },
                Ok(frame) => frame?,
            };
            let inbound = self.inbound(frame, transport);
            self.probe_flow(flow.answered_from().is_none());
            let (response, bytes) = match inbound {
                Inbound::Response(r, bytes) => (r, bytes),
                Inbound::Reply(reply) => {
                    flow.reply(&reply).await?;
                    continue;
                }
                Inbound::Nothing => continue,
            };
            let at = now();
            match tx.on_response(at, &response) {
                Step::Ignore(why) => self.emit(Event::Ignored {
                    why,
                    bytes: Some(bytes),
                }),
                step => {
                    self.emit(Event::ResponseReceived {
                        purpose,
                        transport,
                        status: response.status,
                        reason: self.told(|| response.reason.clone()),
                        after: at - sent,
                        from: flow.answered_from(),
                        bytes,
                    });
                    if step == Step::Final {
                        return Ok(response);
                    }
                }
            }
        }
    }

    /// What a frame means: a response for the transaction, or something to announce and perhaps
    /// answer (keep-alives, requests from the server), or unreadable bytes.
    pub(crate) fn inbound(&mut self, frame: Frame, transport: Transport) -> Inbound {
        let bytes = match frame {
            Frame::Message(bytes) => bytes,
            Frame::Ping | Frame::Pong => {
                let ping = frame == Frame::Ping;
                if !ping {
                    self.last_pong = Some(now());
                }
                self.emit(Event::KeepAlive { ping });
                // RFC 5626 §3.5.1: a ping from the server gets a pong while we hold a binding.
                return if ping && self.answering && transport.is_reliable() {
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
        if let Some((at, t, None)) = self.probe_arrived {
            self.probe_arrived = Some((at, t, Some(same)));
        }
    }

    /// A request from the server: announced; answered while a binding is held (watch), never
    /// with more bytes than it had (RFC 3261 §8.2; the one-shot run does not answer).
    fn request(&mut self, method: String, bytes: Vec<u8>, transport: Transport) -> Inbound {
        let parsed = Incoming::parse(&bytes);
        if let (Some(probe), Some(r)) = (&self.probe, &parsed) {
            if r.call_id() == Some(probe.as_str()) && self.probe_arrived.is_none() {
                self.probe_arrived = Some((now(), transport, None));
            }
        }
        let reply = parsed
            .filter(|_| self.answering)
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

    /// Announces a request sent at `at`; `waited` is the Timer E interval before a retransmission.
    pub(crate) fn sent(
        &mut self,
        at: std::time::Instant,
        purpose: Purpose,
        transport: Transport,
        r: &Request,
        waited: Option<Duration>,
    ) {
        let event = Event::RequestSent {
            purpose,
            transport,
            cseq: r.key.cseq,
            expires: r.expires,
            retransmission: waited,
            bytes: self.told(|| r.bytes.clone()),
        };
        self.sink.event(&Stamped { at, event });
    }

    /// Turns the server's final answer into the attempt's end, and announces both.
    pub(crate) fn answered<F>(
        &mut self,
        registration: &Registration,
        answer: &Answer,
        link: &Link<F>,
        refresh: bool,
    ) -> End {
        let info = link.info;
        let (response, outcome, reason, binding) = match answer {
            Answer::Success(r) => {
                let binding = registration.binding(r, info.local);
                let reason = match binding.expires {
                    _ if !self.detail => String::new(),
                    Some(s) => format!("{} {}, expires in {s} s", r.status, r.reason),
                    None => format!("{} {}", r.status, r.reason),
                };
                (r, Outcome::Registered, reason, Some(binding))
            }
            Answer::Unauthorized(r, reason) => (r, Outcome::Unauthorized, reason.clone(), None),
            Answer::Final(r) => (r, Outcome::Rejected, rejection_reason(r), None),
        };
        let expires = binding.as_ref().and_then(|b| b.expires);
        if outcome == Outcome::Registered {
            self.granted = expires;
            self.flow_timer = response.seconds("flow-timer");
            self.outbound = response.requires("outbound");
            self.emit(Event::Registered {
                transport: info.transport,
                local: info.local,
                remote: link.remote,
                expires,
                refresh,
            });
        }
        let retry_after = response.seconds("retry-after");
        self.emit(Event::AttemptEnded(Box::new(Ended {
            outcome,
            status: Some(response.status),
            reason,
            failure: None,
            server_header: response
                .header("server")
                .filter(|_| self.detail)
                .map(|s| s.chars().take(200).collect()),
            seen_as: self.detail.then(|| seen_as(response, info.local)).flatten(),
            expires,
            binding,
            retry_after,
            min_expires: response.seconds("min-expires"),
        })));
        End {
            outcome,
            status: Some(response.status),
            retry_after: (outcome == Outcome::Rejected)
                .then(|| retry_after.map(|s| Duration::from_secs(s.into())))
                .flatten(),
            certificate: false,
        }
    }

    /// The transport could not carry the request.
    fn failed(&mut self, f: Failure) -> End {
        let end = End {
            certificate: f.certificate,
            ..End::of(f.kind)
        };
        self.emit(Event::AttemptEnded(Box::new(Ended {
            outcome: f.kind,
            status: None,
            reason: f.reason.clone(),
            failure: Some(f),
            server_header: None,
            seen_as: None,
            expires: None,
            binding: None,
            retry_after: None,
            min_expires: None,
        })));
        end
    }

    /// Removes our binding (Expires 0) on the same flow and Call-ID.
    pub(crate) async fn unregister(
        &mut self,
        link: &mut Link<C::Flow>,
        registration: &mut Registration,
    ) {
        self.emit(Event::Unregistering);
        let answer = self
            .round(link, registration, 0, Purpose::Unregister, "finish")
            .await;
        let (done, status, reason) = match answer {
            Ok(Answer::Success(r)) => (true, Some(r.status), format!("{} {}", r.status, r.reason)),
            Ok(Answer::Final(r) | Answer::Unauthorized(r, _)) => {
                (false, Some(r.status), format!("{} {}", r.status, r.reason))
            }
            Err(f) => (false, None, f.reason),
        };
        let left = self.told(|| registration.left());
        self.emit(Event::Unregistered {
            done,
            status,
            reason,
            left,
        });
    }
}

/// What a frame from the network means to the agent.
pub(crate) enum Inbound {
    /// A response, for the transaction waiting.
    Response(Response, Vec<u8>),
    /// Bytes to send back: a pong, or our answer to a request.
    Reply(Vec<u8>),
    /// Announced; nothing more to do.
    Nothing,
}

/// The flow of an attempt and what the reconnect rule needs.
pub(crate) struct Link<F> {
    pub(crate) flow: F,
    pub(crate) info: FlowInfo,
    pub(crate) remote: SocketAddr,
    /// A final answer arrived on this flow.
    pub(crate) answered: bool,
}

impl<F> Link<F> {
    /// The server closed a TCP or TLS connection that had carried a final answer: the next
    /// request of the same registration goes over a new connection.
    fn may_reconnect(&self, f: &Failure) -> bool {
        f.kind == Outcome::Closed && self.answered && self.info.transport.is_reliable()
    }
}

/// The account of a configuration.
pub(crate) fn account(cfg: &Config) -> Account {
    Account {
        user: cfg.user.clone(),
        domain: cfg.domain.clone(),
        auth_user: cfg.auth_user.clone(),
        password: cfg.password.clone(),
    }
}

#[cfg(test)]
mod tests;
