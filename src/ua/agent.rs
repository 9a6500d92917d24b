//! The user agent: the only async code of the core. It carries out what the pure state machines
//! decide (fallback, transaction, registration) over flows, stamps every step and emits events.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Config;
use crate::event::{Event, Phase, Purpose, Sink, Stamped};
use crate::model::{Failure, Outcome, Transport, Verdict};
use crate::net::resolve::{self, Candidate, Resolver};
use crate::net::{Connector, Flow};
use crate::sip::response::Response;
use crate::ua::fallback::{Action, Fallback, Plan};
use crate::ua::held::{Grant, Held};
use crate::ua::registration::{Account, Answer, FlowInfo, Next, Registration, Request};
use crate::ua::transaction::{Step, Transaction};
use crate::ua::words::timer_f;

/// What an agent needs from the process: the configuration, the connector and the shared resolver;
/// and what every mode carries between attempts.
pub struct Agent<'a, C: Connector> {
    cfg: &'a Config,
    connector: &'a C,
    resolver: &'a Resolver,
    sink: &'a mut dyn Sink,
    /// The sink reads texts and copies ([`Sink::detail`]): when not, events carry them empty.
    detail: bool,
    /// Retry-After of the last attempt's answer (a 503): the watch waits at least that long.
    retry_after: Option<Duration>,
    /// What the agent keeps while it holds a binding (watch, the inbound check).
    held: Held,
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
            retry_after: None,
            held: Held::default(),
        }
    }

    /// The configuration of the run.
    pub(crate) fn cfg(&self) -> &'a Config {
        self.cfg
    }

    /// The connector flows are opened with.
    pub(crate) fn connector(&self) -> &'a C {
        self.connector
    }

    /// What the agent keeps while it holds a binding.
    pub(crate) fn held(&mut self) -> &mut Held {
        &mut self.held
    }

    /// Whether the sink reads texts and copies.
    pub(crate) fn detail(&self) -> bool {
        self.detail
    }

    /// Retry-After of the last attempt's answer.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.retry_after
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
                Transport::Ws => "waiting for an answer over WS",
                Transport::Wss => "waiting for an answer over WSS",
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

    /// Removes our binding (Expires 0) on the same flow and Call-ID; the registrar's final status,
    /// or `None` when none came (the flow is dead: a new one may still carry the removal).
    pub(crate) async fn unregister(
        &mut self,
        link: &mut Link<C::Flow>,
        registration: &mut Registration,
    ) -> Option<u16> {
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
        status
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

/// The flow of an attempt, what the reconnect rule needs, and what the registrar granted on it.
pub(crate) struct Link<F> {
    pub(crate) flow: F,
    pub(crate) info: FlowInfo,
    pub(crate) remote: SocketAddr,
    /// A final answer arrived on this flow.
    pub(crate) answered: bool,
    /// What the last 2xx on this flow granted.
    pub(crate) grant: Grant,
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
