//! Holding one binding: the timers of RFC 3261 §10.2.4 refreshes, RFC 5626 §4.4.1 keep-alives and
//! the inbound checks, what the network sends meanwhile, and why the hold ends.

use std::time::Duration;

use tokio::sync::watch::Receiver;
use tokio::time::Instant;

use super::agent::{Agent, Inbound, Link, now};
use super::binding::{Beat, Due, KeepAlive, Keeper, Pongs};
use super::held::Grant;
use super::registration::{Answer, Registration};
use super::watch::{WatchSettings, asked, past, signalled};
use super::words::rejection_reason;
use crate::event::{Event, Purpose};
use crate::net::{Connector, Flow};

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
pub(crate) enum Hold {
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

impl<C: Connector> Agent<'_, C> {
    /// Holds a binding on `link` until it is lost or a stop is asked for.
    pub(crate) async fn hold(
        &mut self,
        link: &mut Link<C::Flow>,
        registration: &mut Registration,
        settings: &WatchSettings,
        stop: &mut Receiver<u32>,
        deadline: Option<Instant>,
    ) -> Hold {
        self.held().answering = true;
        self.held().last_pong = None;
        let mut plan = self.schedule(settings, link.info.transport.is_reliable(), link.grant);
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
    fn schedule(&mut self, settings: &WatchSettings, reliable: bool, grant: Grant) -> Schedule {
        let mut keeper = Keeper::new(settings.refresh);
        keeper.on_registered(now(), grant.expires.unwrap_or(self.cfg().expires));
        // RFC 5626 §4.4.1: pongs are owed inside an agreed flow; outside one, what the registrar
        // does is learned from the first ping (and remembered across flows).
        let pongs = match (reliable, grant.outbound, self.held().pongs) {
            (false, _, _) => Pongs::Never,
            (true, true, _) => Pongs::Owed,
            (true, false, learned) => learned.unwrap_or(Pongs::Learn),
        };
        let mut beats = KeepAlive::new(Some(settings.keepalive), pongs);
        beats.start(now());
        // A Flow-Timer from the registrar sets the interval, unless the user turned keep-alives off.
        if let Some(secs) = grant.flow_timer.filter(|_| !settings.keepalive.is_zero()) {
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
        self.count_pong(plan);
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
        let flow_timer = link.grant.flow_timer;
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
                let changed = link.grant.flow_timer != flow_timer;
                if let Some(secs) = link
                    .grant
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

    /// A pong that arrived (also while a transaction had the flow) answers the ping waiting for it.
    fn count_pong(&mut self, plan: &mut Schedule) {
        if let Some(rtt) = self
            .held()
            .last_pong
            .take()
            .and_then(|at| plan.beats.pong(at))
        {
            self.held().pongs = Some(Pongs::Owed);
            self.emit(Event::KeepAliveAnswered { rtt });
        }
    }

    /// A keep-alive, when one is due; a missed pong loses the flow.
    async fn due_beat(
        &mut self,
        link: &mut Link<C::Flow>,
        plan: &mut Schedule,
    ) -> Result<(), Hold> {
        // A pong that came while a transaction had the flow (a refresh, a check) counts first.
        self.count_pong(plan);
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
                self.held().pongs = Some(Pongs::Never);
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
            Some(code @ (401 | 407)) if self.cfg().password.is_none() => {
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
                link.grant = Grant::of(registration, r, link.info.local);
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
