//! One attempt of Table 89's fallback: connect (TCP connect and TLS handshake as timed phases), the
//! registration's round, and the attempt's end told as events (RFC 3261 §10.2, §18.1.1).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::agent::{Agent, Link};
use super::held::Grant;
use super::registration::{Answer, FlowInfo, Registration};
use super::words::{rejection_reason, seen_as};
use crate::event::{Ended, Event, Phase, Purpose};
use crate::model::{End, Failure, Outcome, Transport};
use crate::net::resolve::Candidate;
use crate::net::{Connector, Flow};

impl<'a, C: Connector> Agent<'a, C> {
    /// One candidate in one cycle: connect and register; the flow is returned when it holds a
    /// binding.
    pub(crate) async fn attempt(
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
            grant: Grant::default(),
        };
        self.emit(Event::Connected {
            local: link.info.local,
            tls: link.flow.tls_params(),
        });
        let expires = self.cfg().expires;
        let answer = self
            .round(&mut link, registration, expires, Purpose::Register, &then)
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(f) => return (self.failed(f), None),
        };
        let end = self.answered(registration, &answer, &link, false);
        if let Answer::Success(r) = &answer {
            link.grant = Grant::of(registration, r, link.info.local);
        }
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
        let limit = self.cfg().timers.connect;
        if transport == Transport::Udp {
            return self.connector().open(transport, remote, limit).await;
        }
        // WS upgrades within the connect phase, WSS within the TLS phase (RFC 7118 §4.1).
        let what = self.told(|| match transport {
            Transport::Ws => format!("TCP connect and WebSocket upgrade to {remote}"),
            _ => format!("TCP connect to {remote}"),
        });
        let flow = self
            .phase(Phase::Connect, what, limit, then, |c| {
                c.open(transport, remote, limit)
            })
            .await?;
        if !transport.is_secure() {
            return Ok(flow);
        }
        let what = self.told(|| match transport {
            Transport::Wss => format!("TLS handshake and WebSocket upgrade with {remote}"),
            _ => format!("TLS handshake with {remote}"),
        });
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
        let result = run(self.connector()).await;
        self.emit(Event::PhaseEnded {
            phase,
            elapsed: started.elapsed(),
            ok: result.is_ok(),
        });
        result
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
                    _ if !self.detail() => String::new(),
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
                .filter(|_| self.detail())
                .map(|s| s.chars().take(200).collect()),
            seen_as: self
                .detail()
                .then(|| seen_as(response, info.local))
                .flatten(),
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
    pub(crate) fn failed(&mut self, f: Failure) -> End {
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
}
