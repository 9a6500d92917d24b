//! Keeping a binding alive as a pure state machine: when to refresh a granted lifetime (RFC 3261
//! §10.2.4: before it runs out) and when it has run out. The watch mode builds keep-alives and
//! recovery on it; the one-shot run only reads the schedule.

use std::time::{Duration, Instant};

/// When to send the refresh, relative to the lifetime the registrar granted (not the one asked for).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefreshPolicy {
    /// At this fraction of the lifetime (baresip and linphone use 0.9).
    Fraction(f64),
    /// This long before the lifetime ends (pjsip 5 s, Asterisk 10 s), but never before half of it.
    Before(Duration),
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy::Fraction(0.9)
    }
}

impl RefreshPolicy {
    /// The delay from the 2xx to the refresh, for a granted lifetime.
    #[must_use]
    pub fn delay(self, granted: Duration) -> Duration {
        match self {
            RefreshPolicy::Fraction(f) => granted.mul_f64(f.clamp(0.0, 1.0)),
            RefreshPolicy::Before(margin) => granted.saturating_sub(margin).max(granted / 2),
        }
    }
}

/// What the keeper asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Send the refresh now.
    Refresh,
    /// The lifetime ran out without a successful refresh: the binding is gone.
    Expired,
}

/// The schedule of one binding.
#[derive(Debug, Clone)]
pub struct Keeper {
    policy: RefreshPolicy,
    refresh_at: Option<Instant>,
    expires_at: Option<Instant>,
    refreshing: bool,
}

impl Keeper {
    /// A keeper with no binding yet.
    #[must_use]
    pub fn new(policy: RefreshPolicy) -> Self {
        Self {
            policy,
            refresh_at: None,
            expires_at: None,
            refreshing: false,
        }
    }

    /// The registrar granted `granted` seconds at `now` (a registration or a refresh).
    pub fn on_registered(&mut self, now: Instant, granted: u32) {
        let lifetime = Duration::from_secs(u64::from(granted));
        self.refresh_at = Some(now + self.policy.delay(lifetime));
        self.expires_at = Some(now + lifetime);
        self.refreshing = false;
    }

    /// The binding is gone (removed, or lost with its flow).
    pub fn on_lost(&mut self) {
        self.refresh_at = None;
        self.expires_at = None;
        self.refreshing = false;
    }

    /// Refresh at `now` rather than later (an inbound check did not reach us: a refresh on the
    /// flow reopens a NAT pinhole), unless a refresh is under way or nothing is bound.
    pub fn hasten(&mut self, now: Instant) {
        if !self.refreshing {
            self.refresh_at = self.refresh_at.map(|r| r.min(now));
        }
    }

    /// When [`Keeper::poll`] must be called next, if anything is scheduled.
    #[must_use]
    pub fn wake_at(&self) -> Option<Instant> {
        if self.refreshing {
            self.expires_at
        } else {
            self.refresh_at
        }
    }

    /// When the binding runs out, if there is one.
    #[must_use]
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// What is due at `now`.
    pub fn poll(&mut self, now: Instant) -> Option<Due> {
        if self.expires_at.is_some_and(|e| now >= e) {
            self.on_lost();
            return Some(Due::Expired);
        }
        if !self.refreshing && self.refresh_at.is_some_and(|r| now >= r) {
            self.refreshing = true;
            return Some(Due::Refresh);
        }
        None
    }
}

/// How long a pong may take on TCP/TLS before the flow counts as failed (RFC 5626 §4.4.1).
pub const PONG_TIMEOUT: Duration = Duration::from_secs(10);

/// What the keep-alive schedule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Send a keep-alive now.
    Ping,
    /// The pong did not come in time on a flow whose pongs are owed: the flow has failed.
    Missed,
    /// The first ping on a registrar that never agreed to answer got no pong: the registrar does
    /// not answer keep-alives, which says nothing about the flow (RFC 5626 §4.4.1 binds the answer
    /// to an agreed flow). Pings go on, unanswered.
    Unanswered,
}

/// Whether a pong is owed for each ping (RFC 5626 §4.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pongs {
    /// No answer is expected: UDP's CRLF (it keeps a NAT pinhole open), or a registrar found not
    /// to answer.
    Never,
    /// Not known yet (TCP/TLS, outbound not agreed): the first pong proves the registrar answers,
    /// and from then on a missing one means a dead flow; no pong to the first ping means it does
    /// not answer ([`Beat::Unanswered`]).
    Learn,
    /// Owed: the registrar agreed to outbound (`Require: outbound` in the 2xx) or answered before.
    Owed,
}

/// Keep-alives on one flow: CRLFCRLF pings every interval, and a pong within [`PONG_TIMEOUT`]
/// where one is owed (RFC 5626 §4.4.1). Pure: the caller says when things happen.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    interval: Option<Duration>,
    pongs: Pongs,
    next_ping: Option<Instant>,
    ping_sent: Option<Instant>,
}

impl KeepAlive {
    /// Pings every `interval` (`None` or zero: off), expecting pongs as `pongs` says.
    #[must_use]
    pub fn new(interval: Option<Duration>, pongs: Pongs) -> Self {
        Self {
            interval: interval.filter(|d| !d.is_zero()),
            pongs,
            next_ping: None,
            ping_sent: None,
        }
    }

    /// The registrar asked for keep-alives with `Flow-Timer: secs` (RFC 5626 §4.4.1): send at
    /// `share` (0.8–1.0, drawn by the caller) of it.
    pub fn flow_timer(&mut self, secs: u32, share: f64, now: Instant) {
        let interval = Duration::from_secs(u64::from(secs)).mul_f64(share.clamp(0.8, 1.0));
        if !interval.is_zero() {
            self.interval = Some(interval);
            self.next_ping = Some(now + interval);
        }
    }

    /// A new flow is up at `now`.
    pub fn start(&mut self, now: Instant) {
        self.ping_sent = None;
        self.next_ping = self.interval.and_then(|i| now.checked_add(i));
    }

    /// The interval in use, if keep-alives are on.
    #[must_use]
    pub fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// What is known about pongs now.
    #[must_use]
    pub fn pongs(&self) -> Pongs {
        self.pongs
    }

    fn waits_for_pong(&self) -> bool {
        self.pongs != Pongs::Never
    }

    /// When [`KeepAlive::poll`] must be called next.
    #[must_use]
    pub fn wake_at(&self) -> Option<Instant> {
        match self.ping_sent {
            Some(sent) if self.waits_for_pong() => Some(sent + PONG_TIMEOUT),
            _ => self.next_ping,
        }
    }

    /// What is due at `now`. After [`Beat::Ping`] the caller sends the ping and calls
    /// [`KeepAlive::sent`].
    pub fn poll(&mut self, now: Instant) -> Option<Beat> {
        if let Some(sent) = self.ping_sent.filter(|_| self.waits_for_pong()) {
            if now < sent + PONG_TIMEOUT {
                return None;
            }
            self.ping_sent = None;
            if self.pongs == Pongs::Learn {
                // Unanswered from the start: keep pinging on the schedule, expecting nothing.
                self.pongs = Pongs::Never;
                self.next_ping = self.interval.map(|i| sent + i);
                return Some(Beat::Unanswered);
            }
            self.next_ping = None;
            return Some(Beat::Missed);
        }
        (self.next_ping.is_some_and(|n| now >= n)).then_some(Beat::Ping)
    }

    /// The ping went out at `now`.
    pub fn sent(&mut self, now: Instant) {
        if self.waits_for_pong() {
            self.ping_sent = Some(now);
            self.next_ping = None;
        } else {
            self.next_ping = self.interval.map(|i| now + i);
        }
    }

    /// A pong arrived at `now`: the round-trip time, when a ping was waiting for it. A registrar
    /// that answered once owes every later pong.
    pub fn pong(&mut self, now: Instant) -> Option<Duration> {
        // A CRLF from before the ping answers nothing of ours.
        let sent = self.ping_sent.filter(|sent| now >= *sent)?;
        self.ping_sent = None;
        self.pongs = Pongs::Owed;
        self.next_ping = self.interval.map(|i| sent + i);
        Some(now.saturating_duration_since(sent))
    }
}

/// The wait before the next try after `failures` failed ones (1 = the first), RFC 5626 §4.5:
/// `min(max, base · 2^(failures-1))`, scaled to 50–100 % by `unit` (a random draw in 0..=1).
#[must_use]
pub fn backoff(base: Duration, max: Duration, failures: u32, unit: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    let bound = base.saturating_mul(1u32 << doublings).min(max);
    bound.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let hour = Duration::from_secs(3600);
        assert_eq!(
            RefreshPolicy::default().delay(hour),
            Duration::from_secs(3240)
        );
        let before = RefreshPolicy::Before(Duration::from_secs(5));
        assert_eq!(before.delay(hour), Duration::from_secs(3595));
        assert_eq!(before.delay(Duration::from_secs(6)), Duration::from_secs(3));
    }

    #[test]
    fn a_refresh_schedule_over_ten_hours() {
        let start = Instant::now();
        let mut k = Keeper::new(RefreshPolicy::default());
        k.on_registered(start, 3600);
        let end = start + Duration::from_secs(10 * 3600);
        let mut refreshes = Vec::new();
        while let Some(at) = k.wake_at().filter(|at| *at <= end) {
            assert_eq!(k.poll(at), Some(Due::Refresh));
            refreshes.push((at - start).as_secs());
            // The registrar grants a shorter lifetime after the third refresh.
            let granted = if refreshes.len() >= 3 { 600 } else { 3600 };
            k.on_registered(at, granted);
        }
        assert_eq!(&refreshes[..4], &[3240, 6480, 9720, 10260]);
        assert!(refreshes.windows(2).skip(3).all(|w| w[1] - w[0] == 540));
        assert_eq!(refreshes.len(), 3 + (36_000 - 9720) / 540);
    }

    #[test]
    fn a_failed_refresh_lets_the_binding_expire() {
        let start = Instant::now();
        let mut k = Keeper::new(RefreshPolicy::default());
        k.on_registered(start, 100);
        assert_eq!(k.poll(start + Duration::from_secs(50)), None);
        assert_eq!(k.poll(start + Duration::from_secs(90)), Some(Due::Refresh));
        assert_eq!(
            k.poll(start + Duration::from_secs(95)),
            None,
            "refresh under way"
        );
        assert_eq!(k.wake_at(), Some(start + Duration::from_secs(100)));
        assert_eq!(k.poll(start + Duration::from_secs(100)), Some(Due::Expired));
        assert_eq!(k.wake_at(), None);
    }

    #[test]
    fn a_hastened_refresh_is_due_at_once_and_the_schedule_goes_on_from_it() {
        let start = Instant::now();
        let mut k = Keeper::new(RefreshPolicy::default());
        k.on_registered(start, 3600);
        let early = start + Duration::from_secs(60);
        k.hasten(early);
        assert_eq!(k.wake_at(), Some(early));
        assert_eq!(k.poll(early), Some(Due::Refresh));
        k.hasten(early + Duration::from_secs(1));
        assert_eq!(
            k.wake_at(),
            Some(start + Duration::from_secs(3600)),
            "under way"
        );
        k.on_registered(early + Duration::from_secs(1), 3600);
        assert_eq!(k.wake_at(), Some(early + Duration::from_secs(3241)));
    }

    #[test]
    fn keep_alives_ping_on_time_and_a_missing_pong_fails_the_flow() {
        let start = Instant::now();
        let mut k = KeepAlive::new(Some(Duration::from_secs(30)), Pongs::Owed);
        k.start(start);
        let mut rtts = Vec::new();
        // An hour of pings answered after 3 ms.
        for n in 1..=120u64 {
            let at = k.wake_at().unwrap();
            // The next ping counts from the ping, not from the pong: no drift.
            assert_eq!(at, start + Duration::from_secs(30 * n));
            assert_eq!(k.poll(at), Some(Beat::Ping));
            k.sent(at);
            assert_eq!(
                k.poll(at + Duration::from_secs(9)),
                None,
                "pong not due yet"
            );
            rtts.push(k.pong(at + Duration::from_millis(3)).unwrap());
        }
        assert!(rtts.iter().all(|r| *r == Duration::from_millis(3)));
        let at = k.wake_at().unwrap();
        assert_eq!(k.poll(at), Some(Beat::Ping));
        k.sent(at);
        assert_eq!(k.wake_at(), Some(at + PONG_TIMEOUT));
        assert_eq!(k.poll(at + PONG_TIMEOUT), Some(Beat::Missed));
        assert_eq!(k.wake_at(), None);
    }

    #[test]
    fn udp_keep_alives_expect_no_answer_and_zero_turns_them_off() {
        let start = Instant::now();
        let mut k = KeepAlive::new(Some(Duration::from_secs(30)), Pongs::Never);
        k.start(start);
        for n in 1..=4u64 {
            let at = k.wake_at().unwrap();
            assert_eq!(at, start + Duration::from_secs(30 * n));
            assert_eq!(k.poll(at), Some(Beat::Ping));
            k.sent(at);
        }
        let mut off = KeepAlive::new(Some(Duration::ZERO), Pongs::Owed);
        off.start(start);
        assert_eq!((off.wake_at(), off.interval()), (None, None));
    }

    #[test]
    fn a_registrar_that_never_answers_is_told_once_and_its_flow_stays() {
        let start = Instant::now();
        let mut k = KeepAlive::new(Some(Duration::from_secs(30)), Pongs::Learn);
        k.start(start);
        let first = start + Duration::from_secs(30);
        assert_eq!(k.poll(first), Some(Beat::Ping));
        k.sent(first);
        assert_eq!(k.wake_at(), Some(first + PONG_TIMEOUT));
        assert_eq!(k.poll(first + PONG_TIMEOUT), Some(Beat::Unanswered));
        assert_eq!(k.pongs(), Pongs::Never);
        // Pings go on every 30 s from the first one, and none is ever missed.
        for n in 2..=100u64 {
            let at = k.wake_at().unwrap();
            assert_eq!(at, start + Duration::from_secs(30 * n));
            assert_eq!(k.poll(at), Some(Beat::Ping));
            k.sent(at);
            assert_eq!(k.poll(at + PONG_TIMEOUT), None);
        }
    }

    #[test]
    fn a_registrar_that_answered_once_owes_every_pong() {
        let start = Instant::now();
        let mut k = KeepAlive::new(Some(Duration::from_secs(30)), Pongs::Learn);
        k.start(start);
        let first = start + Duration::from_secs(30);
        assert_eq!(k.poll(first), Some(Beat::Ping));
        k.sent(first);
        assert_eq!(
            k.pong(first + Duration::from_millis(2)),
            Some(Duration::from_millis(2))
        );
        assert_eq!(k.pongs(), Pongs::Owed);
        let second = k.wake_at().unwrap();
        assert_eq!(second, first + Duration::from_secs(30));
        assert_eq!(k.poll(second), Some(Beat::Ping));
        k.sent(second);
        assert_eq!(k.poll(second + PONG_TIMEOUT), Some(Beat::Missed));
        assert_eq!(k.wake_at(), None);
    }

    #[test]
    fn a_pong_from_before_the_ping_answers_nothing() {
        let start = Instant::now();
        let mut k = KeepAlive::new(Some(Duration::from_secs(30)), Pongs::Learn);
        k.start(start);
        let at = start + Duration::from_secs(30);
        k.sent(at);
        assert_eq!(k.pong(at - Duration::from_millis(1)), None);
        assert_eq!(k.pongs(), Pongs::Learn);
        assert_eq!(
            k.pong(at + Duration::from_millis(4)),
            Some(Duration::from_millis(4))
        );
    }

    #[test]
    fn a_flow_timer_sets_the_interval_to_80_to_100_percent() {
        let start = Instant::now();
        let mut k = KeepAlive::new(Some(Duration::from_secs(30)), Pongs::Owed);
        k.flow_timer(120, 0.8, start);
        assert_eq!(k.interval(), Some(Duration::from_secs(96)));
        k.flow_timer(120, 2.0, start);
        assert_eq!(k.interval(), Some(Duration::from_secs(120)));
    }

    #[test]
    fn backoff_doubles_to_the_bound_with_jitter_between_half_and_all() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(1800);
        let bounds: Vec<u64> = (1..=8)
            .map(|n| backoff(base, max, n, 1.0).as_secs())
            .collect();
        assert_eq!(bounds, [30, 60, 120, 240, 480, 960, 1800, 1800]);
        for n in 1..=40 {
            for unit in [0.0, 0.25, 0.5, 0.99, 1.0] {
                let wait = backoff(base, max, n, unit);
                let bound = backoff(base, max, n, 1.0);
                assert!(wait >= bound / 2 && wait <= bound, "{n} {unit}: {wait:?}");
            }
        }
        assert_eq!(backoff(base, max, 1, 0.0), Duration::from_secs(15));
    }

    #[test]
    fn refresh_schedules_for_several_lifetimes_over_a_day() {
        for (granted, policy, every) in [
            (3600, RefreshPolicy::default(), 3240),
            (600, RefreshPolicy::default(), 540),
            (60, RefreshPolicy::Before(Duration::from_secs(5)), 55),
            (20, RefreshPolicy::Before(Duration::from_secs(10)), 10),
        ] {
            let start = Instant::now();
            let mut k = Keeper::new(policy);
            k.on_registered(start, granted);
            let mut count = 0u64;
            while let Some(at) = k
                .wake_at()
                .filter(|at| *at <= start + Duration::from_secs(86_400))
            {
                assert_eq!(k.poll(at), Some(Due::Refresh));
                count += 1;
                assert_eq!(
                    at,
                    start + Duration::from_secs(every * count),
                    "{granted} s"
                );
                k.on_registered(at, granted);
            }
            assert_eq!(count, 86_400 / every, "{granted} s");
        }
    }
}
