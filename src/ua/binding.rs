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
}
