//! The RFC 3261 §17.1.2 non-INVITE client transaction as a pure state machine: Timer E retransmissions
//! on UDP (T1 doubling up to T2, T2 once a 1xx arrived), Timer F, and response matching (§17.1.3).

use std::time::{Duration, Instant};

use crate::config::Timers;
use crate::sip::response::Response;

/// What identifies the answer to our request (§17.1.3): the top Via branch and the CSeq method; the
/// Call-ID and CSeq number are checked too, so a stray answer from an older run is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Top Via branch of the request.
    pub branch: String,
    /// Call-ID, shared with the registration that sends every request of its dialog with it.
    pub call_id: std::sync::Arc<str>,
    /// CSeq number.
    pub cseq: u32,
    /// CSeq method.
    pub method: &'static str,
}

/// What the transaction tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the request again (Timer E).
    Retransmit,
    /// Timer F fired: the transaction failed.
    TimedOut,
    /// A matching 1xx: keep waiting.
    Provisional,
    /// A matching final response: the transaction is over.
    Final,
    /// Not an answer to this transaction; the reason says why.
    Ignore(String),
}

/// One non-INVITE client transaction, borrowing its request's key.
#[derive(Debug, Clone)]
pub struct Transaction<'k> {
    key: &'k Key,
    reliable: bool,
    t2: Duration,
    deadline: Instant,
    interval: Duration,
    next_send: Instant,
    retransmissions: u32,
    done: bool,
}

impl<'k> Transaction<'k> {
    /// A transaction whose request was sent at `now`; `reliable` for TCP and TLS (no Timer E).
    #[must_use]
    pub fn new(key: &'k Key, reliable: bool, timers: &Timers, now: Instant) -> Self {
        Self {
            key,
            reliable,
            t2: timers.t2,
            deadline: now + timers.timer_f,
            interval: timers.t1,
            next_send: now + timers.t1,
            retransmissions: 0,
            done: false,
        }
    }

    /// When [`Transaction::on_timer`] must be called next.
    #[must_use]
    pub fn wake_at(&self) -> Instant {
        if self.reliable {
            self.deadline
        } else {
            self.next_send.min(self.deadline)
        }
    }

    /// Retransmissions so far.
    #[must_use]
    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    /// A timer fired at `now`: retransmit (§17.1.2.2 Timer E), give up (Timer F), or nothing yet.
    pub fn on_timer(&mut self, now: Instant) -> Option<Step> {
        if self.done {
            return None;
        }
        if now >= self.deadline {
            self.done = true;
            return Some(Step::TimedOut);
        }
        if self.reliable || now < self.next_send {
            return None;
        }
        self.retransmissions += 1;
        self.interval = self.interval.saturating_mul(2).min(self.t2);
        self.next_send = now + self.interval;
        Some(Step::Retransmit)
    }

    /// A response arrived at `now`.
    pub fn on_response(&mut self, now: Instant, response: &Response) -> Step {
        if self.done {
            return Step::Ignore("a response after the transaction ended".into());
        }
        if let Err(why) = self.matches(response) {
            return why;
        }
        if response.is_provisional() {
            // Proceeding: Timer E continues at T2 (§17.1.2.2).
            self.interval = self.t2;
            self.next_send = now + self.t2;
            return Step::Provisional;
        }
        self.done = true;
        Step::Final
    }

    fn matches(&self, response: &Response) -> Result<(), Step> {
        let top = response.top_via().filter(|_| response.via_count() == 1);
        let Some(via) = top else {
            return Err(Step::Ignore(format!(
                "a response with {} Via values (§8.1.3.3)",
                response.via_count()
            )));
        };
        let ours = via.branch() == Some(self.key.branch.as_str())
            && response.cseq_is(self.key.cseq, self.key.method)
            && response.header("call-id") == Some(&*self.key.call_id);
        if ours {
            Ok(())
        } else {
            Err(Step::Ignore("a response to another transaction".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timers() -> Timers {
        let t1 = Duration::from_millis(500);
        Timers {
            t1,
            t2: t1 * 8,
            timer_f: t1 * 64,
            connect: Duration::from_secs(30),
        }
    }

    fn key() -> Key {
        Key {
            branch: "z9hG4bKabc".into(),
            call_id: "c1@sipreg".into(),
            cseq: 7,
            method: "REGISTER",
        }
    }

    fn response(status: u16, branch: &str, cseq: u32) -> Response {
        let text = format!(
            "SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch={branch}\r\nCall-ID: c1@sipreg\r\nCSeq: {cseq} REGISTER\r\nContent-Length: 0\r\n\r\n"
        );
        Response::parse(text.as_bytes()).unwrap()
    }

    /// Drives the timers of a UDP transaction that gets no answer, on simulated time.
    fn silent_run(t: &mut Transaction, start: Instant) -> (Vec<u64>, u64) {
        let mut sends = Vec::new();
        loop {
            let now = t.wake_at();
            match t.on_timer(now) {
                Some(Step::Retransmit) => sends.push((now - start).as_millis() as u64),
                Some(Step::TimedOut) => return (sends, (now - start).as_millis() as u64),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn timer_e_doubles_to_t2_and_timer_f_ends_it() {
        let start = Instant::now();
        let key = key();
        let mut t = Transaction::new(&key, false, &timers(), start);
        let (sends, ended) = silent_run(&mut t, start);
        // T1 = 500 ms: 0.5, 1.5, 3.5, 7.5 s, then every T2 = 4 s until Timer F at 32 s.
        assert_eq!(
            sends,
            [
                500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
            ]
        );
        assert_eq!(ended, 32_000);
        assert_eq!(t.retransmissions(), 10);
        assert_eq!(t.on_timer(start + Duration::from_secs(99)), None);
    }

    #[test]
    fn reliable_transports_never_retransmit() {
        let start = Instant::now();
        let key = key();
        let mut t = Transaction::new(&key, true, &timers(), start);
        assert_eq!(t.wake_at(), start + Duration::from_secs(32));
        assert_eq!(t.on_timer(start + Duration::from_secs(5)), None);
        assert_eq!(
            t.on_timer(start + Duration::from_secs(32)),
            Some(Step::TimedOut)
        );
        assert_eq!(t.retransmissions(), 0);
    }

    #[test]
    fn a_provisional_answer_moves_timer_e_to_t2() {
        let start = Instant::now();
        let key = key();
        let mut t = Transaction::new(&key, false, &timers(), start);
        let at = start + Duration::from_millis(100);
        assert_eq!(
            t.on_response(at, &response(100, "z9hG4bKabc", 7)),
            Step::Provisional
        );
        assert_eq!(t.wake_at(), at + Duration::from_secs(4));
        let done = start + Duration::from_secs(1);
        assert_eq!(
            t.on_response(done, &response(200, "z9hG4bKabc", 7)),
            Step::Final
        );
        assert!(matches!(
            t.on_response(done, &response(200, "z9hG4bKabc", 7)),
            Step::Ignore(_)
        ));
    }

    #[test]
    fn matching_needs_branch_cseq_call_id_and_one_via() {
        let start = Instant::now();
        let key = key();
        let mut t = Transaction::new(&key, false, &timers(), start);
        for stray in [
            response(200, "z9hG4bKother", 7),
            response(200, "z9hG4bKabc", 6),
        ] {
            assert!(matches!(t.on_response(start, &stray), Step::Ignore(_)));
        }
        let two_vias = Response::parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKabc, SIP/2.0/UDP b;branch=x\r\nCall-ID: c1@sipreg\r\nCSeq: 7 REGISTER\r\n\r\n",
        )
        .unwrap();
        assert!(matches!(t.on_response(start, &two_vias), Step::Ignore(_)));
        let other_call = Response::parse(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKabc\r\nCall-ID: old@sipreg\r\nCSeq: 7 REGISTER\r\n\r\n",
        )
        .unwrap();
        assert!(matches!(t.on_response(start, &other_call), Step::Ignore(_)));
        assert_eq!(
            t.on_response(start, &response(403, "z9hG4bKabc", 7)),
            Step::Final
        );
    }
}
