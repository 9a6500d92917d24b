//! The phone's fallback plan as a pure state machine: no I/O, no clock (spec §1–§3, Table 89).
//!
//! The plan is a list of candidates: the enabled transports in the order TLS, TCP, UDP, each with one
//! or more targets (RFC 3263: SRV records and addresses). Rules, in order:
//! 1. A cycle tries the candidates in order.
//! 2. A transport failure (DNS failure, refused, connect timeout, unreachable, TLS failure, closed,
//!    Timer F) moves on to the next candidate at once: the next target of the same transport, else the
//!    next transport. A server certificate rejected under `--strict-tls` ends the cycle instead.
//! 3. A 503 moves on to the next target of the same transport (RFC 3263 §4.3); with none left, and for
//!    any other final answer other than 2xx, the cycle ends: another transport would not help.
//! 4. A 2xx ends the run: registered.
//! 5. After a failed cycle, if cycles remain, wait `retry_interval · 2^(n-1)` for the n-th consecutive
//!    failed cycle, at most `retry_max`, and at least a Retry-After the server sent (also bounded by
//!    `retry_max`); the next cycle starts again from the first transport.

use std::time::Duration;

use crate::model::{End, Outcome, Transport, Verdict};

/// What the user agent must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Try a candidate.
    Attempt {
        /// 1-based cycle number.
        cycle: u32,
        /// Transport to try.
        transport: Transport,
        /// Index of the candidate in [`Plan::order`].
        index: usize,
    },
    /// Wait before the next cycle.
    Wait(Duration),
    /// The run is over.
    Finish(Verdict),
}

/// The plan's fixed inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The transport of each candidate, in the order to try; a transport appears once per target.
    pub order: Vec<Transport>,
    /// Extra cycles after a failed one.
    pub retries: u32,
    /// First wait between cycles.
    pub retry_interval: Duration,
    /// Longest wait between cycles.
    pub retry_max: Duration,
    /// A rejected server certificate ends the cycle.
    pub strict_tls: bool,
}

/// The state machine.
#[derive(Debug, Clone)]
pub struct Fallback {
    plan: Plan,
    cycle: u32,
    index: usize,
    failed_cycles: u32,
    retry_after: Option<Duration>,
    done: bool,
}

impl Fallback {
    /// A new plan; call [`Fallback::start`] for the first action.
    #[must_use]
    pub fn new(plan: Plan) -> Self {
        Self {
            plan,
            cycle: 0,
            index: 0,
            failed_cycles: 0,
            retry_after: None,
            done: false,
        }
    }

    /// The first action: the first transport of cycle 1 (or Finish when nothing is enabled).
    pub fn start(&mut self) -> Action {
        self.begin_cycle()
    }

    fn begin_cycle(&mut self) -> Action {
        self.cycle += 1;
        self.index = 0;
        self.retry_after = None;
        match self.plan.order.first() {
            Some(&transport) => Action::Attempt {
                cycle: self.cycle,
                transport,
                index: 0,
            },
            None => self.finish(Verdict::Unreachable),
        }
    }

    fn finish(&mut self, verdict: Verdict) -> Action {
        self.done = true;
        Action::Finish(verdict)
    }

    /// Feeds the end of the current attempt; returns what to do next.
    pub fn on_attempt(&mut self, end: &End) -> Action {
        if self.done {
            return Action::Finish(Verdict::Unreachable);
        }
        let cycle_verdict = match end.outcome {
            Outcome::Registered => return self.finish(Verdict::Registered),
            Outcome::Rejected => {
                let current = self.plan.order.get(self.index).copied();
                let next = self.plan.order.get(self.index + 1).copied();
                if end.status == Some(503) && next.is_some() && next == current {
                    return self.advance();
                }
                self.retry_after = end.retry_after;
                Verdict::Rejected
            }
            Outcome::Unauthorized => Verdict::Unauthorized,
            _ if end.certificate && self.plan.strict_tls => Verdict::Unreachable,
            _ if self.index + 1 < self.plan.order.len() => return self.advance(),
            _ => Verdict::Unreachable,
        };
        self.cycle_failed(cycle_verdict)
    }

    /// The next candidate of this cycle (RFC 3263 failover, then the next transport).
    fn advance(&mut self) -> Action {
        self.index += 1;
        match self.plan.order.get(self.index) {
            Some(&transport) => Action::Attempt {
                cycle: self.cycle,
                transport,
                index: self.index,
            },
            None => self.finish(Verdict::Unreachable),
        }
    }

    /// What comes after the candidate at `index` if it fails, for the progress line: the next target
    /// of the same transport, the next transport, the next cycle, or giving up.
    #[must_use]
    pub fn then(&self, index: usize, targets: &[String]) -> String {
        let current = self.plan.order.get(index);
        match self.plan.order.get(index + 1) {
            Some(next) if Some(next) == current => match targets.get(index + 1) {
                Some(target) => format!("{next} to {target}"),
                None => next.to_string(),
            },
            Some(next) => next.via_name().to_string(),
            None if self.cycle <= self.plan.retries => "the next cycle".to_string(),
            None => "give up".to_string(),
        }
    }

    fn cycle_failed(&mut self, verdict: Verdict) -> Action {
        self.failed_cycles += 1;
        if self.cycle > self.plan.retries {
            return self.finish(verdict);
        }
        Action::Wait(self.wait())
    }

    /// The wait after the current run of failed cycles (spec §3).
    fn wait(&self) -> Duration {
        let doublings = self.failed_cycles.saturating_sub(1).min(31);
        let backoff = self
            .plan
            .retry_interval
            .saturating_mul(1u32 << doublings)
            .min(self.plan.retry_max);
        match self.retry_after {
            Some(ra) => backoff.max(ra.min(self.plan.retry_max)),
            None => backoff,
        }
    }

    /// Called when a [`Action::Wait`] has elapsed: the first transport of the next cycle.
    pub fn resume(&mut self) -> Action {
        if self.done {
            return Action::Finish(Verdict::Unreachable);
        }
        self.begin_cycle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Transport::{Tcp, Tls, Udp};

    fn plan(order: &[Transport], retries: u32) -> Plan {
        Plan {
            order: order.to_vec(),
            retries,
            retry_interval: Duration::from_secs(30),
            retry_max: Duration::from_secs(1800),
            strict_tls: false,
        }
    }

    fn fail(kind: Outcome) -> End {
        End::of(kind)
    }

    fn rejected(status: u16, retry_after: Option<Duration>) -> End {
        End {
            status: Some(status),
            retry_after,
            ..End::of(Outcome::Rejected)
        }
    }

    fn attempt(cycle: u32, transport: Transport) -> Action {
        Action::Attempt {
            cycle,
            transport,
            index: usize::MAX,
        }
    }

    /// Compares actions ignoring the candidate index, which the tests below do not track.
    fn same(a: &Action, b: &Action) -> bool {
        match (a, b) {
            (
                Action::Attempt {
                    cycle: c1,
                    transport: t1,
                    ..
                },
                Action::Attempt {
                    cycle: c2,
                    transport: t2,
                    ..
                },
            ) => c1 == c2 && t1 == t2,
            _ => a == b,
        }
    }

    macro_rules! assert_action {
        ($got:expr, $want:expr $(, $msg:expr)?) => {{
            let (got, want) = ($got, $want);
            assert!(same(&got, &want), "got {got:?}, want {want:?} {}", String::new() $(+ &format!($msg))?);
        }};
    }

    #[test]
    fn transport_failure_falls_back_in_order() {
        let mut e = Fallback::new(plan(&[Tls, Tcp, Udp], 0));
        assert_action!(e.start(), attempt(1, Tls));
        assert_action!(e.on_attempt(&fail(Outcome::TlsFailed)), attempt(1, Tcp));
        assert_action!(
            e.on_attempt(&fail(Outcome::ConnectTimeout)),
            attempt(1, Udp)
        );
        assert_eq!(
            e.on_attempt(&End::of(Outcome::Registered)),
            Action::Finish(Verdict::Registered)
        );
    }

    #[test]
    fn every_failure_kind_is_a_fallback_trigger() {
        for kind in Outcome::TRANSPORT_FAILURES {
            let mut e = Fallback::new(plan(&[Tcp, Udp], 0));
            e.start();
            assert_action!(e.on_attempt(&fail(kind)), attempt(1, Udp), "{kind:?}");
        }
    }

    #[test]
    fn a_final_answer_ends_the_cycle_without_fallback() {
        let mut e = Fallback::new(plan(&[Tcp, Udp], 0));
        e.start();
        let end = rejected(403, None);
        assert_action!(e.on_attempt(&end), Action::Finish(Verdict::Rejected));
        let mut e = Fallback::new(plan(&[Tcp, Udp], 0));
        e.start();
        assert_eq!(
            e.on_attempt(&End::of(Outcome::Unauthorized)),
            Action::Finish(Verdict::Unauthorized)
        );
    }

    #[test]
    fn strict_tls_makes_a_certificate_failure_final() {
        let mut p = plan(&[Tls, Tcp], 0);
        p.strict_tls = true;
        let mut e = Fallback::new(p.clone());
        e.start();
        let cert = End {
            certificate: true,
            ..End::of(Outcome::TlsFailed)
        };
        assert_action!(e.on_attempt(&cert), Action::Finish(Verdict::Unreachable));
        // Without --strict-tls the same failure falls back to TCP.
        p.strict_tls = false;
        let mut e = Fallback::new(p);
        e.start();
        assert_action!(e.on_attempt(&cert), attempt(1, Tcp));
    }

    #[test]
    fn cycles_wait_with_doubling_bounded_by_retry_max() {
        let mut p = plan(&[Udp], 10);
        p.retry_max = Duration::from_secs(100);
        let mut e = Fallback::new(p);
        assert_action!(e.start(), attempt(1, Udp));
        let mut waits = Vec::new();
        for cycle in 2..=5 {
            match e.on_attempt(&fail(Outcome::Timeout)) {
                Action::Wait(d) => waits.push(d.as_secs()),
                other => panic!("expected a wait, got {other:?}"),
            }
            assert_action!(e.resume(), attempt(cycle, Udp));
        }
        assert_eq!(waits, vec![30, 60, 100, 100]);
    }

    #[test]
    fn retries_bound_the_cycles_and_each_cycle_restarts_at_the_top() {
        let mut e = Fallback::new(plan(&[Tcp, Udp], 1));
        e.start();
        assert_action!(e.on_attempt(&fail(Outcome::Refused)), attempt(1, Udp));
        assert_eq!(
            e.on_attempt(&fail(Outcome::Unreachable)),
            Action::Wait(Duration::from_secs(30))
        );
        assert_action!(e.resume(), attempt(2, Tcp));
        assert_action!(e.on_attempt(&fail(Outcome::Refused)), attempt(2, Udp));
        assert_eq!(
            e.on_attempt(&fail(Outcome::Unreachable)),
            Action::Finish(Verdict::Unreachable)
        );
    }

    #[test]
    fn retry_after_lengthens_the_wait_but_not_past_retry_max() {
        let mut e = Fallback::new(plan(&[Udp], 2));
        e.start();
        let busy = rejected(503, Some(Duration::from_secs(120)));
        assert_action!(e.on_attempt(&busy), Action::Wait(Duration::from_secs(120)));
        e.resume();
        let decade = rejected(503, Some(Duration::from_secs(315_360_000)));
        assert_eq!(
            e.on_attempt(&decade),
            Action::Wait(Duration::from_secs(1800))
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Verdict::Registered.exit_code(), 0);
        assert_eq!(Verdict::Rejected.exit_code(), 1);
        assert_eq!(Verdict::Unreachable.exit_code(), 3);
        assert_eq!(Verdict::Unauthorized.exit_code(), 4);
    }

    #[test]
    fn then_names_what_comes_after_a_candidate() {
        let targets = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let mut e = Fallback::new(plan(&[Tcp, Tcp, Udp], 1));
        e.start();
        assert_eq!(e.then(0, &targets), "TCP to b");
        assert_eq!(e.then(1, &targets), "UDP");
        assert_eq!(e.then(2, &targets), "the next cycle");
        let mut last = Fallback::new(plan(&[Udp], 0));
        last.start();
        assert_eq!(last.then(0, &targets), "give up");
    }

    #[test]
    fn several_targets_per_transport_fail_over_before_the_next_transport() {
        let mut e = Fallback::new(plan(&[Tcp, Tcp, Udp, Udp], 0));
        assert_eq!(
            e.start(),
            Action::Attempt {
                cycle: 1,
                transport: Tcp,
                index: 0
            }
        );
        assert_eq!(
            e.on_attempt(&fail(Outcome::Refused)),
            Action::Attempt {
                cycle: 1,
                transport: Tcp,
                index: 1
            }
        );
        // A 503 moves on to the next target of the same transport ...
        let busy = rejected(503, None);
        let mut e2 = e.clone();
        assert_eq!(
            e2.on_attempt(&fail(Outcome::Timeout)),
            Action::Attempt {
                cycle: 1,
                transport: Udp,
                index: 2
            }
        );
        assert_eq!(
            e2.on_attempt(&busy),
            Action::Attempt {
                cycle: 1,
                transport: Udp,
                index: 3
            }
        );
        // ... but not to another transport, and other rejections end the cycle at once.
        assert_eq!(e2.on_attempt(&busy), Action::Finish(Verdict::Rejected));
        assert_eq!(e.on_attempt(&busy), Action::Finish(Verdict::Rejected));
        let mut e3 = Fallback::new(plan(&[Udp, Udp], 0));
        e3.start();
        let forbidden = rejected(403, None);
        assert_eq!(e3.on_attempt(&forbidden), Action::Finish(Verdict::Rejected));
    }
}
