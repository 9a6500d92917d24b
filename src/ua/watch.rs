//! `sipreg watch`: hold the binding as the phone does — refresh before the granted lifetime runs out
//! on the same Call-ID and connection, keep-alives, answers to the network, and recovery with the
//! phone's fallback and RFC 5626 §4.5 backoff — until a duration ends or a signal arrives.

use std::time::Duration;

use tokio::sync::watch::Receiver;
use tokio::time::Instant;

use super::agent::{Agent, Link, account};
use super::binding::{RefreshPolicy, backoff};
use super::held::Grant;
use super::hold::Hold;
use super::registration::Registration;
use crate::event::Event;
use crate::model::Verdict;
use crate::net::{Connector, Flow};

/// How the watch holds the binding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WatchSettings {
    /// Keep-alive interval (the phone's CONN_KEEP_ALIVE, 30 s); zero turns keep-alives off.
    pub keepalive: Duration,
    /// When to refresh, relative to the granted lifetime.
    pub refresh: RefreshPolicy,
    /// How long to watch; `None` until a signal.
    pub duration: Option<Duration>,
    /// How often to check that requests through the registrar reach us (`--check-inbound`).
    pub inbound_every: Option<Duration>,
}

/// Resolves once `count` signals were counted (never when the sender is gone). Smaller than
/// [`asked`]: the futures a storm holds for each binding wait on this one.
pub(crate) async fn signalled(stop: &mut Receiver<u32>, count: u32) {
    loop {
        if *stop.borrow_and_update() >= count {
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Resolves once a stop was asked for: `count` signals, or the deadline.
pub(crate) async fn asked(stop: &mut Receiver<u32>, count: u32, deadline: Option<Instant>) {
    match deadline {
        Some(d) => {
            tokio::select! {
                () = signalled(stop, count) => {}
                () = tokio::time::sleep_until(d) => {}
            }
        }
        None => signalled(stop, count).await,
    }
}

/// True once `deadline` has passed.
pub(crate) fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

impl<C: Connector> Agent<'_, C> {
    /// Watches the registration: register with Table 89's fallback, hold the binding, recover from
    /// every loss, and at the end remove the binding unless `--keep` (a second signal skips that).
    /// Returns the verdict of the last registration cycle.
    pub async fn watch(&mut self, settings: &WatchSettings, mut stop: Receiver<u32>) -> Verdict {
        self.started();
        let deadline = settings
            .duration
            .and_then(|d| Instant::now().checked_add(d));
        let mut registration = Registration::new(account(self.cfg()));
        let mut failures = 0u32;
        let mut verdict = Verdict::Unreachable;
        // Where the last binding was made, for the removal when the watch ends without a flow.
        let mut last: Option<(crate::model::Transport, std::net::SocketAddr)> = None;
        // The removal at the end got the registrar's answer, or a second signal skipped it.
        let mut settled = false;
        loop {
            // Every (re-)registration resolves afresh, as a phone does: DNS failover is seen.
            let cycle = tokio::select! {
                biased;
                () = asked(&mut stop, 1, deadline) => break,
                r = async {
                    let candidates = Box::pin(self.resolve()).await;
                    self.register(&mut registration, &candidates, 0).await
                } => r,
            };
            verdict = cycle.0;
            if let Some(mut link) = cycle.1 {
                last = Some((link.info.transport, link.remote));
                let since = Instant::now();
                let held = self
                    .hold(&mut link, &mut registration, settings, &mut stop, deadline)
                    .await;
                match held {
                    Hold::Stop => {
                        self.held().answering = false;
                        settled = self
                            .remove_at_stop(&mut link, &mut registration, &mut stop)
                            .await;
                        break;
                    }
                    Hold::Lost(reason) => {
                        self.held().answering = false;
                        self.emit(Event::RegistrationLost { reason });
                        // RFC 5626 §4.4: register again at once after a binding that lasted; one
                        // lost at once (a server that accepts and closes, a grant of 0) counts as a
                        // failure, so that it cannot turn into a storm of registrations.
                        if since.elapsed() >= self.cfg().retry_interval {
                            failures = 0;
                            continue;
                        }
                    }
                    Hold::Unreached(reason) => {
                        // The registrar says our binding is gone (404 or 480 to the inbound
                        // check): register again, after the backoff, or a registrar that keeps
                        // saying so would loop us; a binding that lasted starts the backoff anew.
                        self.held().answering = false;
                        self.emit(Event::RegistrationLost { reason });
                        if since.elapsed() >= self.cfg().retry_interval {
                            failures = 0;
                        }
                    }
                }
            }
            failures += 1;
            let wait = self.backoff_wait(failures);
            tokio::select! {
                biased;
                () = asked(&mut stop, 1, deadline) => break,
                () = tokio::time::sleep(wait) => self.emit(Event::WaitEnded),
            }
        }
        // Ended between flows, or the removal found its flow dead: once more over a new flow.
        if !settled {
            self.sweep_at_end(&mut registration, last, &mut stop).await;
        }
        self.emit(Event::Finished(verdict));
        verdict
    }

    /// The removal at the end over the held flow, unless --keep: whether it is settled (the
    /// registrar answered, a second signal skipped it, or --keep), else a new flow must try.
    async fn remove_at_stop(
        &mut self,
        link: &mut Link<C::Flow>,
        registration: &mut Registration,
        stop: &mut Receiver<u32>,
    ) -> bool {
        if self.cfg().keep {
            return true;
        }
        tokio::select! {
            biased;
            () = asked(stop, 2, None) => {
                self.removal_skipped(registration);
                true
            }
            status = self.unregister(link, registration) => status.is_some(),
        }
    }

    /// Ended between flows (a retry wait, a registration under way, after drops) or with a removal
    /// that found its flow dead: what may still be bound is removed over a new flow to where the
    /// last binding was made (or the first candidate), unless --keep (a second signal skips it).
    async fn sweep_at_end(
        &mut self,
        registration: &mut Registration,
        last: Option<(crate::model::Transport, std::net::SocketAddr)>,
        stop: &mut Receiver<u32>,
    ) {
        if self.cfg().keep || !registration.holds_any() {
            return;
        }
        tokio::select! {
            biased;
            () = asked(stop, 2, None) => self.removal_skipped(registration),
            () = async {
                // Never held (stopped while the first REGISTER was under way): where it went.
                let to = match last {
                    Some(to) => Some(to),
                    None => Box::pin(self.resolve())
                        .await
                        .into_iter()
                        .find_map(|c| Some((c.transport, c.addr.ok()?))),
                };
                if let Some((transport, remote)) = to {
                    self.sweep(registration, transport, remote).await;
                }
            } => {}
        }
    }

    /// A second signal cut the removal short: what may still be bound is told.
    fn removal_skipped(&mut self, registration: &Registration) {
        let left = self.told(|| registration.left());
        self.emit(Event::Unregistered {
            done: false,
            status: None,
            reason: "skipped: a second signal".into(),
            left,
        });
    }

    /// Removes what `registration` may still hold over a new flow to `remote`.
    async fn sweep(
        &mut self,
        registration: &mut Registration,
        transport: crate::model::Transport,
        remote: std::net::SocketAddr,
    ) {
        match Box::pin(self.connect(transport, remote, "finish")).await {
            Ok(flow) => {
                let mut link = Link {
                    info: super::registration::FlowInfo {
                        transport,
                        local: flow.local_addr(),
                    },
                    flow,
                    remote,
                    answered: false,
                    grant: Grant::default(),
                };
                Box::pin(self.unregister(&mut link, registration)).await;
            }
            Err(f) => {
                self.emit(Event::Unregistering);
                let left = self.told(|| registration.left());
                self.emit(Event::Unregistered {
                    done: false,
                    status: None,
                    reason: f.reason,
                    left,
                });
            }
        }
    }

    /// The wait before the next try, announced: the phone's backoff, never shorter than a
    /// Retry-After the registrar asked for (bounded by --retry-max, as in the one-shot cycles).
    fn backoff_wait(&mut self, failures: u32) -> Duration {
        let cfg = self.cfg();
        let wait = backoff(
            cfg.retry_interval,
            cfg.retry_max,
            failures,
            rand::random::<f64>(),
        )
        .max(self.retry_after().unwrap_or_default().min(cfg.retry_max));
        let then = cfg.order.first().map_or("", |t| t.via_name()).to_string();
        self.emit(Event::WaitStarted { wait, then });
        wait
    }
}
