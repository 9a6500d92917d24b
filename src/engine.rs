//! The phone's fallback engine as a pure state machine: no I/O, no clock (spec §1–§3, Table 89).
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

use crate::transport::{FailureKind, Transport};

/// How one attempt (one transport in one cycle) ended, as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptEnd {
    /// A 2xx to the REGISTER.
    Registered,
    /// The transport could not carry the request.
    TransportFailed {
        /// What failed.
        kind: FailureKind,
        /// Our check of the server certificate failed.
        certificate: bool,
    },
    /// A final non-2xx answer other than authentication.
    Rejected {
        /// The status code.
        status: u16,
        /// Retry-After from a 503 (or other answer that may carry it).
        retry_after: Option<Duration>,
    },
    /// Challenged again after credentials were sent, or challenged without a password.
    Unauthorized,
}

/// What the driver must do next.
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

/// The end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Registered.
    Registered,
    /// The last cycle ended with a final rejection from the server.
    Rejected,
    /// The last cycle ended unauthorized.
    Unauthorized,
    /// No transport of the last cycle got a final answer.
    Unreachable,
}

impl Verdict {
    /// The documented exit code (spec §7).
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Registered => 0,
            Verdict::Rejected => 1,
            Verdict::Unreachable => 3,
            Verdict::Unauthorized => 4,
        }
    }
}

/// The engine's fixed inputs.
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
pub struct Engine {
    plan: Plan,
    cycle: u32,
    index: usize,
    failed_cycles: u32,
    retry_after: Option<Duration>,
    done: bool,
}

impl Engine {
    /// A new engine; call [`Engine::start`] for the first action.
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
    pub fn on_attempt(&mut self, end: &AttemptEnd) -> Action {
        if self.done {
            return Action::Finish(Verdict::Unreachable);
        }
        let cycle_verdict = match end {
            AttemptEnd::Registered => return self.finish(Verdict::Registered),
            AttemptEnd::TransportFailed { certificate, .. } => {
                if *certificate && self.plan.strict_tls {
                    Verdict::Unreachable
                } else if let Some(&transport) = self.plan.order.get(self.index + 1) {
                    self.index += 1;
                    return Action::Attempt {
                        cycle: self.cycle,
                        transport,
                        index: self.index,
                    };
                } else {
                    Verdict::Unreachable
                }
            }
            AttemptEnd::Rejected {
                status,
                retry_after,
            } => {
                let current = self.plan.order.get(self.index).copied();
                let next = self.plan.order.get(self.index + 1).copied();
                if *status == 503 && next.is_some() && next == current {
                    self.index += 1;
                    return Action::Attempt {
                        cycle: self.cycle,
                        transport: next.unwrap_or(Transport::Udp),
                        index: self.index,
                    };
                }
                self.retry_after = *retry_after;
                Verdict::Rejected
            }
            AttemptEnd::Unauthorized => Verdict::Unauthorized,
        };
        self.cycle_failed(cycle_verdict)
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

    fn fail(kind: FailureKind) -> AttemptEnd {
        AttemptEnd::TransportFailed {
            kind,
            certificate: false,
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
        let mut e = Engine::new(plan(&[Tls, Tcp, Udp], 0));
        assert_action!(e.start(), attempt(1, Tls));
        assert_action!(e.on_attempt(&fail(FailureKind::TlsFailed)), attempt(1, Tcp));
        assert_action!(
            e.on_attempt(&fail(FailureKind::ConnectTimeout)),
            attempt(1, Udp)
        );
        assert_eq!(
            e.on_attempt(&AttemptEnd::Registered),
            Action::Finish(Verdict::Registered)
        );
    }

    #[test]
    fn every_failure_kind_is_a_fallback_trigger() {
        for kind in [
            FailureKind::DnsFailed,
            FailureKind::Refused,
            FailureKind::ConnectTimeout,
            FailureKind::Unreachable,
            FailureKind::TlsFailed,
            FailureKind::Closed,
            FailureKind::Timeout,
        ] {
            let mut e = Engine::new(plan(&[Tcp, Udp], 0));
            e.start();
            assert_action!(e.on_attempt(&fail(kind)), attempt(1, Udp), "{kind:?}");
        }
    }

    #[test]
    fn a_final_answer_ends_the_cycle_without_fallback() {
        let mut e = Engine::new(plan(&[Tcp, Udp], 0));
        e.start();
        let end = AttemptEnd::Rejected {
            status: 403,
            retry_after: None,
        };
        assert_action!(e.on_attempt(&end), Action::Finish(Verdict::Rejected));
        let mut e = Engine::new(plan(&[Tcp, Udp], 0));
        e.start();
        assert_eq!(
            e.on_attempt(&AttemptEnd::Unauthorized),
            Action::Finish(Verdict::Unauthorized)
        );
    }

    #[test]
    fn strict_tls_makes_a_certificate_failure_final() {
        let mut p = plan(&[Tls, Tcp], 0);
        p.strict_tls = true;
        let mut e = Engine::new(p.clone());
        e.start();
        let cert = AttemptEnd::TransportFailed {
            kind: FailureKind::TlsFailed,
            certificate: true,
        };
        assert_action!(e.on_attempt(&cert), Action::Finish(Verdict::Unreachable));
        // Without --strict-tls the same failure falls back to TCP.
        p.strict_tls = false;
        let mut e = Engine::new(p);
        e.start();
        assert_action!(e.on_attempt(&cert), attempt(1, Tcp));
    }

    #[test]
    fn cycles_wait_with_doubling_bounded_by_retry_max() {
        let mut p = plan(&[Udp], 10);
        p.retry_max = Duration::from_secs(100);
        let mut e = Engine::new(p);
        assert_action!(e.start(), attempt(1, Udp));
        let mut waits = Vec::new();
        for cycle in 2..=5 {
            match e.on_attempt(&fail(FailureKind::Timeout)) {
                Action::Wait(d) => waits.push(d.as_secs()),
                other => panic!("expected a wait, got {other:?}"),
            }
            assert_action!(e.resume(), attempt(cycle, Udp));
        }
        assert_eq!(waits, vec![30, 60, 100, 100]);
    }

    #[test]
    fn retries_bound_the_cycles_and_each_cycle_restarts_at_the_top() {
        let mut e = Engine::new(plan(&[Tcp, Udp], 1));
        e.start();
        assert_action!(e.on_attempt(&fail(FailureKind::Refused)), attempt(1, Udp));
        assert_eq!(
            e.on_attempt(&fail(FailureKind::Unreachable)),
            Action::Wait(Duration::from_secs(30))
        );
        assert_action!(e.resume(), attempt(2, Tcp));
        assert_action!(e.on_attempt(&fail(FailureKind::Refused)), attempt(2, Udp));
        assert_eq!(
            e.on_attempt(&fail(FailureKind::Unreachable)),
            Action::Finish(Verdict::Unreachable)
        );
    }

    #[test]
    fn retry_after_lengthens_the_wait_but_not_past_retry_max() {
        let mut e = Engine::new(plan(&[Udp], 2));
        e.start();
        let busy = AttemptEnd::Rejected {
            status: 503,
            retry_after: Some(Duration::from_secs(120)),
        };
        assert_action!(e.on_attempt(&busy), Action::Wait(Duration::from_secs(120)));
        e.resume();
        let decade = AttemptEnd::Rejected {
            status: 503,
            retry_after: Some(Duration::from_secs(315_360_000)),
        };
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
    fn several_targets_per_transport_fail_over_before_the_next_transport() {
        let mut e = Engine::new(plan(&[Tcp, Tcp, Udp, Udp], 0));
        assert_eq!(
            e.start(),
            Action::Attempt {
                cycle: 1,
                transport: Tcp,
                index: 0
            }
        );
        assert_eq!(
            e.on_attempt(&fail(FailureKind::Refused)),
            Action::Attempt {
                cycle: 1,
                transport: Tcp,
                index: 1
            }
        );
        // A 503 moves on to the next target of the same transport ...
        let busy = AttemptEnd::Rejected {
            status: 503,
            retry_after: None,
        };
        let mut e2 = e.clone();
        assert_eq!(
            e2.on_attempt(&fail(FailureKind::Timeout)),
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
        let mut e3 = Engine::new(plan(&[Udp, Udp], 0));
        e3.start();
        let forbidden = AttemptEnd::Rejected {
            status: 403,
            retry_after: None,
        };
        assert_eq!(e3.on_attempt(&forbidden), Action::Finish(Verdict::Rejected));
    }
}
