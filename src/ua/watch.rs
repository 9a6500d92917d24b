//! `sipreg watch`: hold the binding as the phone does — refresh before the granted lifetime runs out
//! on the same Call-ID and connection, keep-alives, answers to the network, and recovery with the
//! phone's fallback and RFC 5626 §4.5 backoff — until a duration ends or a signal arrives.

use std::time::Duration;

use tokio::sync::watch::Receiver;
use tokio::time::Instant;

use super::agent::{Agent, Inbound, Link, account, now};
use super::binding::{Beat, Due, KeepAlive, Keeper, Pongs, RefreshPolicy, backoff};
use super::registration::{Answer, Registration};
use super::words::rejection_reason;
use crate::event::{Event, Purpose};
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

/// The timers of a held binding.
struct Schedule {
    keeper: Keeper,
    beats: KeepAlive,
    next_check: Option<Instant>,
    every: Option<Duration>,
}

impl Schedule {
    /// No more inbound checks in this hold.
    fn stop_checks(&mut self) {
        self.next_check = None;
        self.every = None;
    }
}

/// Why holding a binding ended.
enum Hold {
    /// The duration is over or a signal arrived.
    Stop,
    /// The binding is gone; the reason says how.
    Lost(String),
    /// The registrar says it holds no binding for us (404 or 480 to the inbound check): register
    /// again after the backoff.
    Unreached(String),
}

/// The CRLFCRLF keep-alive (RFC 5626 §3.5.1): a ping on TCP/TLS, and on UDP the phone's periodic
/// traffic that keeps a NAT pinhole open (no answer is expected there).
const PING: &[u8] = b"\r\n\r\n";

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
async fn asked(stop: &mut Receiver<u32>, count: u32, deadline: Option<Instant>) {
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
fn past(deadline: Option<Instant>) -> bool {
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
        let mut registration = Registration::new(account(self.cfg));
        let mut failures = 0u32;
        let mut verdict = Verdict::Unreachable;
        // Where the last binding was made, for the removal when the watch ends without a flow.
        let mut last: Option<(crate::model::Transport, std::net::SocketAddr)> = None;
        let mut removal_tried = false;
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
                        self.answering = false;
                        if !self.cfg.keep {
                            removal_tried = true;
                            tokio::select! {
                                () = self.unregister(&mut link, &mut registration) => {}
                                () = asked(&mut stop, 2, None) => self.removal_skipped(&registration),
                            }
                        }
                        break;
                    }
                    Hold::Lost(reason) => {
                        self.answering = false;
                        self.emit(Event::RegistrationLost { reason });
                        // RFC 5626 §4.4: register again at once after a binding that lasted; one
                        // lost at once (a server that accepts and closes, a grant of 0) counts as a
                        // failure, so that it cannot turn into a storm of registrations.
                        if since.elapsed() >= self.cfg.retry_interval {
                            failures = 0;
                            continue;
                        }
                    }
                    Hold::Unreached(reason) => {
                        // The registrar says our binding is gone (404 or 480 to the inbound
                        // check): register again, after the backoff, or a registrar that keeps
                        // saying so would loop us.
                        self.answering = false;
                        self.emit(Event::RegistrationLost { reason });
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
        if !removal_tried {
            self.sweep_at_end(&mut registration, last, &mut stop).await;
        }
        self.emit(Event::Finished(verdict));
        verdict
    }

    /// Ended between flows (a retry wait, a registration under way, after drops): what may still
    /// be bound is removed over a new flow to where the last binding was made, unless --keep (a
    /// second signal skips it).
    async fn sweep_at_end(
        &mut self,
        registration: &mut Registration,
        last: Option<(crate::model::Transport, std::net::SocketAddr)>,
        stop: &mut Receiver<u32>,
    ) {
        let Some((transport, remote)) = last else {
            return;
        };
        if self.cfg.keep || !registration.holds_any() {
            return;
        }
        tokio::select! {
            () = self.sweep(registration, transport, remote) => {}
            () = asked(stop, 2, None) => self.removal_skipped(registration),
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

    /// One account of a storm, `registration` (its identity), with the storm's shared configuration
    /// as this agent's: register with Table 89's fallback (and `--retries`), hold the binding
    /// with refreshes until `stop`, then remove it once `gate` gives a slot (the storm's
    /// `--concurrency`; a second stop skips the removal). A lost binding is not registered again:
    /// the storm counts it, and still sends its removal at the end. Returns the verdict of the
    /// registration.
    pub async fn storm(
        &mut self,
        registration: &mut Registration,
        settings: &WatchSettings,
        mut stop: Receiver<u32>,
        gate: &tokio::sync::Semaphore,
    ) -> Verdict {
        self.started();
        let candidates = Box::pin(self.resolve()).await;
        let retries = self.cfg.retries;
        // A registration under way is finished, not abandoned, on the first stop: its binding would be
        // left behind. The second stop abandons it. The answer is taken apart at once, so that the
        // future a storm keeps per held binding has room for its link once, not twice.
        let (verdict, mut link) = match tokio::select! {
            r = Box::pin(self.register(registration, &candidates, retries)) => Some(r),
            () = signalled(&mut stop, 2) => None,
        } {
            Some((verdict, Some(link))) => (verdict, link),
            Some((verdict, None)) => {
                self.emit(Event::Finished(verdict));
                return verdict;
            }
            None => {
                self.emit(Event::Finished(Verdict::Unreachable));
                return Verdict::Unreachable;
            }
        };
        // The candidates are not needed while the binding is held.
        drop(candidates);
        // Not boxed: every account holds, and a box would be an allocation of its own.
        let held = self
            .hold(&mut link, registration, settings, &mut stop, None)
            .await;
        self.answering = false;
        if let Hold::Lost(reason) | Hold::Unreached(reason) = held {
            // A refresh that failed or a connection that closed does not tell that the
            // registrar dropped the binding: it is removed at the end with the others (over a
            // new connection when its own closed), so that nothing is left behind.
            self.emit(Event::RegistrationLost { reason });
            signalled(&mut stop, 1).await;
        }
        if !self.cfg.keep {
            tokio::select! {
                () = async {
                    let _slot = gate.acquire().await;
                    Box::pin(self.unregister(&mut link, registration)).await;
                } => {}
                () = signalled(&mut stop, 2) => {}
            }
        }
        self.emit(Event::Finished(verdict));
        verdict
    }

    /// The wait before the next try, announced: the phone's backoff, never shorter than a
    /// Retry-After the registrar asked for (bounded by --retry-max, as in the one-shot cycles).
    fn backoff_wait(&mut self, failures: u32) -> Duration {
        let cfg = self.cfg;
        let wait = backoff(
            cfg.retry_interval,
            cfg.retry_max,
            failures,
            rand::random::<f64>(),
        )
        .max(self.retry_after.unwrap_or_default().min(cfg.retry_max));
        let then = cfg.order.first().map_or("", |t| t.via_name()).to_string();
        self.emit(Event::WaitStarted { wait, then });
        wait
    }

    /// Holds a binding on `link` until it is lost or a stop is asked for.
    async fn hold(
        &mut self,
        link: &mut Link<C::Flow>,
        registration: &mut Registration,
        settings: &WatchSettings,
        stop: &mut Receiver<u32>,
        deadline: Option<Instant>,
    ) -> Hold {
        self.answering = true;
        self.last_pong = None;
        let mut plan = self.schedule(settings, link.info.transport.is_reliable());
        loop {
            let step = async {
                self.idle(link, &mut plan, stop, deadline).await?;
                self.due_check(link, &mut plan, stop, deadline).await?;
                self.due_refresh(link, registration, &mut plan, stop, deadline)
                    .await?;
                self.due_beat(link, &mut plan).await
            };
            if let Err(hold) = step.await {
                return hold;
            }
        }
    }

    /// The timers of a held binding: refresh, keep-alives, inbound checks.
    fn schedule(&self, settings: &WatchSettings, reliable: bool) -> Schedule {
        let mut keeper = Keeper::new(settings.refresh);
        keeper.on_registered(now(), self.granted.unwrap_or(self.cfg.expires));
        // RFC 5626 §4.4.1: pongs are owed inside an agreed flow; outside one, what the registrar
        // does is learned from the first ping (and remembered across flows).
        let pongs = match (reliable, self.outbound, self.pongs) {
            (false, _, _) => Pongs::Never,
            (true, true, _) => Pongs::Owed,
            (true, false, learned) => learned.unwrap_or(Pongs::Learn),
        };
        let mut beats = KeepAlive::new(Some(settings.keepalive), pongs);
        beats.start(now());
        // A Flow-Timer from the registrar sets the interval, unless the user turned keep-alives off.
        if let Some(secs) = self.flow_timer.filter(|_| !settings.keepalive.is_zero()) {
            beats.flow_timer(secs, 0.8 + 0.2 * rand::random::<f64>(), now());
        }
        Schedule {
            keeper,
            beats,
            // The first inbound check right after registering, then every interval.
            next_check: settings.inbound_every.map(|_| Instant::now()),
            every: settings.inbound_every,
        }
    }

    /// Waits for the next timer, a frame from the network (answered when it asks for it) or a stop.
    async fn idle(
        &mut self,
        link: &mut Link<C::Flow>,
        plan: &mut Schedule,
        stop: &mut Receiver<u32>,
        deadline: Option<Instant>,
    ) -> Result<(), Hold> {
        // The deadline is one of the wake-ups: the stop waits on signals alone.
        if past(deadline) {
            return Err(Hold::Stop);
        }
        let wake = [plan.keeper.wake_at(), plan.beats.wake_at()]
            .into_iter()
            .flatten()
            .map(Instant::from_std)
            .chain(plan.next_check)
            .chain(deadline)
            .min();
        tokio::select! {
            biased;
            () = signalled(stop, 1) => return Err(Hold::Stop),
            frame = link.flow.recv() => {
                // Boxed: a held binding's waiting future keeps no room for the rare answer.
                if let Err(reason) = Box::pin(self.heard(link, frame)).await {
                    return Err(self.flow_lost(reason));
                }
            }
            () = sleep_until(wake) => {}
        }
        if let Some(rtt) = self.last_pong.take().and_then(|at| plan.beats.pong(at)) {
            self.pongs = Some(Pongs::Owed);
            self.emit(Event::KeepAliveAnswered { rtt });
        }
        Ok(())
    }

    /// The inbound check, when it is due.
    async fn due_check(
        &mut self,
        link: &mut Link<C::Flow>,
        plan: &mut Schedule,
        stop: &mut Receiver<u32>,
        deadline: Option<Instant>,
    ) -> Result<(), Hold> {
        if plan.next_check.is_none_or(|at| Instant::now() < at) {
            return Ok(());
        }
        let checked = tokio::select! {
            biased;
            () = asked(stop, 1, deadline) => return Err(Hold::Stop),
            // Boxed, as the refresh: a held binding's waiting future stays small.
            r = Box::pin(self.check_inbound(link)) => r,
        };
        plan.next_check = plan
            .every
            .and_then(|every| Instant::now().checked_add(every));
        self.inbound_lost(checked, plan).map_or(Ok(()), Err)
    }

    /// The refresh when it is due, racing the stop and the end of the lifetime it extends; or the
    /// end of the lifetime itself.
    async fn due_refresh(
        &mut self,
        link: &mut Link<C::Flow>,
        registration: &mut Registration,
        plan: &mut Schedule,
        stop: &mut Receiver<u32>,
        deadline: Option<Instant>,
    ) -> Result<(), Hold> {
        match plan.keeper.poll(now()) {
            Some(Due::Refresh) => {}
            Some(Due::Expired) => return Err(Hold::Lost("the granted lifetime ran out".into())),
            None => return Ok(()),
        }
        let expiry = plan.keeper.expires_at().map(Instant::from_std);
        let flow_timer = self.flow_timer;
        // One timer for the deadline and the expiry: what ended is told after.
        let end = expiry.into_iter().chain(deadline).min();
        let refreshed = tokio::select! {
            biased;
            () = signalled(stop, 1) => return Err(Hold::Stop),
            () = sleep_until(end) => {
                if past(deadline) {
                    return Err(Hold::Stop);
                }
                return Err(Hold::Lost("the granted lifetime ran out during the refresh".into()));
            }
            // Boxed: a storm holds ten thousand of these futures waiting, and the refresh's
            // transaction would otherwise make each of them its size.
            r = Box::pin(self.refresh(link, registration)) => r,
        };
        match refreshed {
            Ok(granted) => {
                plan.keeper.on_registered(now(), granted);
                // RFC 5626 §4.4.1: the Flow-Timer of the latest 2xx sets the keep-alives, as the
                // first one did, when it changed (never turning them on when the user turned them off).
                let changed = self.flow_timer != flow_timer;
                if let Some(secs) = self
                    .flow_timer
                    .filter(|_| changed && plan.beats.interval().is_some())
                {
                    plan.beats
                        .flow_timer(secs, 0.8 + 0.2 * rand::random::<f64>(), now());
                }
                Ok(())
            }
            Err(reason) => {
                self.emit(Event::RefreshFailed {
                    reason: reason.clone(),
                });
                Err(Hold::Lost(format!("the refresh failed: {reason}")))
            }
        }
    }

    /// A keep-alive, when one is due; a missed pong loses the flow.
    async fn due_beat(
        &mut self,
        link: &mut Link<C::Flow>,
        plan: &mut Schedule,
    ) -> Result<(), Hold> {
        match plan.beats.poll(now()) {
            Some(Beat::Ping) => {
                if let Err(f) = link.flow.send(PING).await {
                    return Err(self.flow_lost(f.reason));
                }
                plan.beats.sent(now());
                self.emit(Event::KeepAliveSent);
                Ok(())
            }
            Some(Beat::Missed) => {
                self.emit(Event::KeepAliveMissed);
                Err(self.flow_lost("no pong within 10 s (RFC 5626 §4.4.1)".into()))
            }
            Some(Beat::Unanswered) => {
                self.pongs = Some(Pongs::Never);
                self.emit(Event::KeepAliveUnanswered);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// A frame arrived while holding: announce it, answer it when it asks for an answer.
    async fn heard(
        &mut self,
        link: &mut Link<C::Flow>,
        frame: Result<crate::net::Frame, crate::model::Failure>,
    ) -> Result<(), String> {
        let frame = frame.map_err(|f| f.reason)?;
        match self.inbound(frame, link.info.transport) {
            Inbound::Reply(bytes) => link.flow.reply(&bytes).await.map_err(|f| f.reason),
            Inbound::Response(r, bytes) => {
                self.emit(Event::Ignored {
                    why: format!("a {} response outside any transaction", r.status),
                    bytes: Some(bytes),
                });
                Ok(())
            }
            Inbound::Nothing => Ok(()),
        }
    }

    /// What a failed inbound check means for the binding. Only the registrar saying the binding
    /// is gone (404, 480) loses the registration; a check that did not reach us is reported and
    /// the binding refreshed at once on its flow (which reopens a NAT pinhole); a check the
    /// registrar refused or answered itself is reported, and no more checks are made.
    fn inbound_lost(
        &mut self,
        (arrived, status): (bool, Option<u16>),
        plan: &mut Schedule,
    ) -> Option<Hold> {
        if arrived {
            return None;
        }
        let reason = match status {
            Some(404 | 480) => {
                let reason = format!(
                    "the registrar has no binding for us ({} to the inbound check)",
                    status.unwrap_or_default()
                );
                self.emit(Event::BindingLost {
                    reason: reason.clone(),
                });
                return Some(Hold::Unreached(reason));
            }
            None | Some(408) => {
                plan.keeper.hasten(now());
                "requests through the registrar do not reach us; refreshing the binding on its flow now".to_string()
            }
            Some(code @ 200..=299) => {
                plan.stop_checks();
                format!(
                    "the registrar answered the check itself ({code}) instead of forwarding it: it cannot tell; no more checks"
                )
            }
            Some(code @ (401 | 407)) if self.cfg.password.is_none() => {
                plan.stop_checks();
                format!(
                    "the registrar wants credentials for requests to users ({code}) and no password was given; no more checks"
                )
            }
            Some(code @ 400..=499) => {
                plan.stop_checks();
                format!("the registrar refused to route the check ({code}); no more checks")
            }
            Some(code) => format!("the registrar failed to route the check ({code})"),
        };
        self.emit(Event::InboundFailed { reason });
        None
    }

    fn flow_lost(&mut self, reason: String) -> Hold {
        self.emit(Event::FlowLost {
            reason: reason.clone(),
        });
        Hold::Lost(format!("the flow failed: {reason}"))
    }

    /// Refreshes the binding on the same Call-ID and flow (RFC 3261 §10.2.4): the granted lifetime,
    /// or why it failed.
    async fn refresh(
        &mut self,
        link: &mut Link<C::Flow>,
        registration: &mut Registration,
    ) -> Result<u32, String> {
        // The lifetime the last round settled on (after a 423, the Min-Expires), so a refresh does
        // not repeat the 423; a lost connection is a failed refresh, not a silent reconnect.
        let expires = registration.expires().max(1);
        link.answered = false;
        let answer = self
            .round(
                link,
                registration,
                expires,
                Purpose::Register,
                "re-register",
            )
            .await
            .map_err(|f| f.reason)?;
        match &answer {
            Answer::Success(r) => {
                let binding = registration.binding(r, link.info.local);
                self.flow_timer = r.seconds("flow-timer");
                self.outbound = r.requires("outbound");
                self.emit(Event::Registered {
                    transport: link.info.transport,
                    local: link.info.local,
                    remote: link.remote,
                    expires: binding.expires,
                    refresh: true,
                });
                Ok(binding.expires.unwrap_or(expires))
            }
            Answer::Final(r) => Err(rejection_reason(r)),
            Answer::Unauthorized(_, reason) => Err(reason.clone()),
        }
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
