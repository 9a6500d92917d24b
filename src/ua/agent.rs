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
use crate::sip::response::Response;
use crate::ua::fallback::{Action, Fallback, Plan};
use crate::ua::registration::{Account, Answer, FlowInfo, Next, Registration, Request};
use crate::ua::transaction::{Step, Transaction};

/// What an agent needs from the process: the configuration, the connector and the shared resolver.
pub struct Agent<'a, C: Connector> {
    cfg: &'a Config,
    connector: &'a C,
    resolver: &'a Resolver,
    sink: &'a mut dyn Sink,
}

/// The instant now, on tokio's clock (paused in tests), as a std instant for the state machines.
fn now() -> std::time::Instant {
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
            sink,
        }
    }

    fn emit(&mut self, event: Event) {
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
        self.emit(Event::Resolved(list.clone()));
        list
    }

    /// One registration test: Table 89's fallback over the candidates, the registration, and the
    /// removal of our binding unless `--keep`. Returns the verdict; the events tell the rest.
    pub async fn run(&mut self) -> Verdict {
        let cfg = self.cfg;
        self.emit(Event::RunStarted {
            server: cfg.server_display(),
            aor: cfg.aor(),
            order: cfg.order.clone(),
            insecure: cfg.tls.as_ref().is_some_and(|t| t.insecure),
        });
        let candidates = self.resolve().await;
        let targets: Vec<String> = candidates.iter().map(|c| c.target.clone()).collect();
        let mut plan = Fallback::new(Plan {
            order: candidates.iter().map(|c| c.transport).collect(),
            retries: cfg.retries,
            retry_interval: cfg.retry_interval,
            retry_max: cfg.retry_max,
            strict_tls: cfg.tls.as_ref().is_some_and(|t| t.strict),
        });
        let mut registration = Registration::new(account(cfg));
        let mut action = plan.start();
        let verdict = loop {
            match action {
                Action::Attempt { cycle, index, .. } => {
                    let Some(candidate) = candidates.get(index) else {
                        break Verdict::Unreachable;
                    };
                    let then = plan.then(index, &targets);
                    let end = self
                        .attempt(&mut registration, cycle, candidate.clone(), then)
                        .await;
                    action = plan.on_attempt(&end);
                }
                Action::Wait(wait) => {
                    let then = cfg.order.first().map_or("", |t| t.via_name()).to_string();
                    self.emit(Event::WaitStarted { wait, then });
                    tokio::time::sleep(wait).await;
                    self.emit(Event::WaitEnded);
                    action = plan.resume();
                }
                Action::Finish(verdict) => break verdict,
            }
        };
        self.emit(Event::Finished(verdict));
        verdict
    }

    /// One candidate in one cycle: connect, register, and unregister after success.
    async fn attempt(
        &mut self,
        registration: &mut Registration,
        cycle: u32,
        candidate: Candidate,
        then: String,
    ) -> End {
        let remote = candidate.addr.clone();
        let transport = candidate.transport;
        self.emit(Event::AttemptStarted {
            cycle,
            candidate,
            then: then.clone(),
        });
        let remote = match remote {
            Ok(r) => r,
            Err(f) => return self.failed(f),
        };
        let flow = match self.connect(transport, remote, &then).await {
            Ok(f) => f,
            Err(f) => return self.failed(f),
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
            Err(f) => return self.failed(f),
        };
        let end = self.answered(registration, &answer, link.info);
        if end.outcome == Outcome::Registered && !self.cfg.keep {
            self.unregister(&mut link, registration).await;
        }
        end
    }

    /// Opens the flow: TCP connect and TLS handshake are timed phases; UDP opens at once.
    async fn connect(
        &mut self,
        transport: Transport,
        remote: SocketAddr,
        then: &str,
    ) -> Result<C::Flow, Failure> {
        let limit = self.cfg.timers.connect;
        if transport == Transport::Udp {
            return self.connector.open(transport, remote, limit).await;
        }
        let what = format!("TCP connect to {remote}");
        let flow = self
            .phase(Phase::Connect, what, limit, then, |c| {
                c.open(transport, remote, limit)
            })
            .await?;
        if transport != Transport::Tls {
            return Ok(flow);
        }
        let what = format!("TLS handshake with {remote}");
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
            what,
            limit,
            then: then.to_string(),
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
    async fn round(
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
        let flow = self.connect(link.info.transport, link.remote, then).await?;
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
    async fn transaction(
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
            what: format!("waiting for an answer over {transport}"),
            limit: timers.timer_f,
            then: then.to_string(),
        });
        let mut tx = Transaction::new(request.key.clone(), transport.is_reliable(), &timers, sent);
        let result = self.receive(flow, request, purpose, &mut tx, sent).await;
        self.emit(Event::PhaseEnded {
            phase: Phase::Answer,
            elapsed: now() - sent,
            ok: result.is_ok(),
        });
        result
    }

    /// Waits for the final answer: Timer E retransmissions, Timer F, matching (§17.1.3).
    async fn receive(
        &mut self,
        flow: &mut C::Flow,
        request: &Request,
        purpose: Purpose,
        tx: &mut Transaction,
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
            let Some((response, bytes)) = self.response(frame, transport) else {
                continue;
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
                        reason: response.reason.clone(),
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

    /// A frame as a response; keep-alives, requests from the server and unreadable bytes are
    /// announced and give `None`.
    fn response(&mut self, frame: Frame, transport: Transport) -> Option<(Response, Vec<u8>)> {
        let bytes = match frame {
            Frame::Message(bytes) => bytes,
            Frame::Ping | Frame::Pong => {
                let ping = frame == Frame::Ping;
                self.emit(Event::KeepAlive { ping });
                return None;
            }
        };
        if let Some(method) = crate::sip::request_method(&bytes) {
            // A request from the server: the core hears it; the one-shot run does not answer.
            self.emit(Event::RequestReceived {
                method,
                transport,
                bytes,
            });
            return None;
        }
        match Response::parse(&bytes) {
            Ok(r) => Some((r, bytes)),
            Err(e) => {
                self.emit(Event::Ignored {
                    why: format!("an unreadable message ({e})"),
                    bytes: None,
                });
                None
            }
        }
    }

    /// Announces a request sent at `at`; `waited` is the Timer E interval before a retransmission.
    fn sent(
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
            bytes: r.bytes.clone(),
        };
        self.sink.event(&Stamped { at, event });
    }

    /// Turns the server's final answer into the attempt's end, and announces both.
    fn answered(&mut self, registration: &Registration, answer: &Answer, info: FlowInfo) -> End {
        let (response, outcome, reason, binding) = match answer {
            Answer::Success(r) => {
                let binding = registration.binding(r, info.local);
                let reason = match binding.expires {
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
            self.emit(Event::Registered {
                transport: info.transport,
                expires,
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
                .map(|s| s.chars().take(200).collect()),
            seen_as: seen_as(response, info.local),
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
    async fn unregister(&mut self, link: &mut Link<C::Flow>, registration: &mut Registration) {
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
        self.emit(Event::Unregistered {
            done,
            status,
            reason,
        });
    }
}

/// The flow of an attempt and what the reconnect rule needs.
struct Link<F> {
    flow: F,
    info: FlowInfo,
    remote: SocketAddr,
    /// A final answer arrived on this flow.
    answered: bool,
}

impl<F> Link<F> {
    /// The server closed a TCP or TLS connection that had carried a final answer: the next
    /// request of the same registration goes over a new connection.
    fn may_reconnect(&self, f: &Failure) -> bool {
        f.kind == Outcome::Closed && self.answered && self.info.transport.is_reliable()
    }
}

/// The account of a configuration.
fn account(cfg: &Config) -> Account {
    Account {
        user: cfg.user.clone(),
        domain: cfg.domain.clone(),
        auth_user: cfg.auth_user.clone(),
        password: cfg.password.clone(),
    }
}

/// Timer F's failure, saying how many retransmissions went out and whether a message was half read.
fn timer_f(cfg: &Config, tx: &Transaction, buffered: usize) -> Failure {
    let retx = match tx.retransmissions() {
        0 => String::new(),
        n => format!(" after {n} retransmissions"),
    };
    let partial = match buffered {
        0 => String::new(),
        n => format!("; {n} bytes of an unfinished message received"),
    };
    Failure::new(
        Outcome::Timeout,
        format!(
            "no final response within {} (Timer F){retx}{partial}",
            humantime::format_duration(cfg.timers.timer_f)
        ),
    )
}

/// The reason of a final non-2xx answer, with what the server asked of us.
fn rejection_reason(r: &Response) -> String {
    let mut reason = format!("{} {}", r.status, r.reason);
    if (300..400).contains(&r.status) {
        let contacts: Vec<&str> = r.headers_named("contact").collect();
        if !contacts.is_empty() {
            reason.push_str(&format!(": redirected to {}", contacts.join(", ")));
        }
    }
    if let Some(s) = r.seconds("retry-after") {
        reason.push_str(&format!(" (Retry-After {s} s)"));
    }
    if r.status == 423 {
        match r.seconds("min-expires") {
            Some(m) => reason.push_str(&format!(" (Min-Expires {m} s)")),
            None => reason.push_str(" (without Min-Expires)"),
        }
    }
    reason
}

/// The address the server saw, from `received` and `rport` in the top Via (RFC 3261 §18.2.1,
/// RFC 3581 §4), when it says anything.
fn seen_as(r: &Response, local: SocketAddr) -> Option<String> {
    let via = r.vias().into_iter().next()?;
    let received = via.received().map(str::to_string);
    let rport = via.rport();
    if received.is_none() && rport.is_none() {
        return None;
    }
    let ip = received.unwrap_or_else(|| local.ip().to_string());
    let port = rport.unwrap_or(local.port());
    Some(match ip.parse::<IpAddr>() {
        Ok(addr) => SocketAddr::new(addr, port).to_string(),
        Err(_) => format!("{ip}:{port}"),
    })
}

#[cfg(test)]
mod tests;
