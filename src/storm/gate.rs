//! How a storm keeps from drowning the registrar: with `--rate`, no start or removal while more
//! requests are unanswered than the rate needs (the window), and removals at the rate of the starts
//! (and in a `--concurrency` slot) instead of all at once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use super::pace::Pace;
use crate::observe::storm::Totals;

/// Requests that may queue at the registrar beyond what its round trip needs. A UDP socket's
/// receive queue counts each datagram's kernel buffer (about 1.3–2.3 KiB for a REGISTER on
/// loopback): Linux's default 208 KiB holds 90–160 of them, Kamailio's own 256 KiB (doubled by
/// the kernel) about 300.
const HEADROOM: u64 = 64;

/// With `--rate`, how many requests may be unanswered before the next start waits: what the rate
/// needs at the fastest round trip seen (each registration under way has one request out, for two
/// round trips with digest), plus [`HEADROOM`] that may queue at the registrar. The rate is
/// `--rate`, or twice the rate the registrar answered at lately when that is less (a registrar that
/// answers 500 a second gets no more than its round trips at 1,000 a second, however much was asked;
/// twice, so that the window grows as answers come faster). A registrar that falls behind then
/// slows the starts down instead of dropping what overflows its receive queue (which comes back as
/// retransmissions 500 ms later, on top of the new starts). On lanes, each gets its share.
pub(super) fn lag_window(
    pace: &Pace,
    fastest: Option<Duration>,
    answering: Option<f64>,
) -> Option<u64> {
    let lanes = pace.lanes.max(1);
    let asked = pace.rate? / lanes as f64;
    let rate = answering.map_or(asked, |a| asked.min(2.0 * a));
    let rtt = fastest.map_or(0.0, |d| d.as_secs_f64());
    let headroom = (HEADROOM / lanes as u64).max(8);
    Some((rate * 2.0 * rtt).ceil() as u64 + headroom)
}

/// How fast the registrar answered lately: final answers per second, measured every 25 ms and
/// smoothed (half the last measure, half the one before).
#[derive(Debug)]
struct Meter {
    at: Instant,
    answers: u64,
    rate: Option<f64>,
}

impl Meter {
    /// The rate with `answers` counted by `now`.
    fn read(&mut self, now: Instant, answers: u64) -> Option<f64> {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        if dt >= 0.025 {
            let r = answers.saturating_sub(self.answers) as f64 / dt;
            self.rate = Some(self.rate.map_or(r, |old| (old + r) / 2.0));
            self.at = now;
            self.answers = answers;
        }
        self.rate
    }
}

/// Removals in the order they come, paced as the starts were.
#[derive(Debug)]
pub struct Gate {
    slots: std::sync::Arc<Semaphore>,
    pace: Pace,
    /// The storm's counters: requests unanswered, the fastest answer.
    totals: std::sync::Arc<Totals>,
    /// How fast the registrar answered lately.
    meter: std::sync::Mutex<Meter>,
    /// Removals let through and not finished yet.
    removing: AtomicU64,
    /// When the first removal came.
    from: OnceLock<Instant>,
    /// The next removal's number.
    next: AtomicUsize,
}

impl Gate {
    /// Removals that share `slots` with the registrations, paced as `pace` starts accounts.
    #[must_use]
    pub fn new(
        slots: std::sync::Arc<Semaphore>,
        pace: Pace,
        totals: std::sync::Arc<Totals>,
    ) -> Gate {
        Gate {
            slots,
            pace,
            totals,
            meter: std::sync::Mutex::new(Meter {
                at: Instant::now(),
                answers: 0,
                rate: None,
            }),
            removing: AtomicU64::new(0),
            from: OnceLock::new(),
            next: AtomicUsize::new(0),
        }
    }

    /// The window now: what the rate needs at the fastest answer seen, plus the headroom.
    #[must_use]
    pub fn window(&self) -> Option<u64> {
        let live = &self.totals.live;
        let answers = live.answers.load(Ordering::Relaxed);
        let answering = self
            .meter
            .lock()
            .map_or(None, |mut m| m.read(Instant::now(), answers));
        lag_window(&self.pace, live.fastest_answer(), answering)
    }

    /// More requests unanswered than the window: a start or a removal waits.
    #[must_use]
    pub fn behind(&self) -> bool {
        let unanswered = self.totals.live.unanswered.load(Ordering::Relaxed);
        self.window().is_some_and(|w| unanswered >= w)
    }

    /// When the `k`-th removal may start, from the first (`None`: at once).
    fn due(&self, k: usize) -> Option<Instant> {
        let from = *self.from.get_or_init(Instant::now);
        self.pace.start(k).map(|at| from + at)
    }

    /// Waits for this removal's turn, for fewer removals under way than the window (checked each
    /// millisecond; counted here when let through, not when sent, so that removals woken together
    /// do not all pass) and a slot. `None` when the slots were closed.
    pub async fn enter(&self) -> Option<Removal<'_>> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(at) = self.due(k) {
            tokio::time::sleep_until(at).await;
        }
        while self
            .window()
            .is_some_and(|w| self.removing.load(Ordering::Relaxed) >= w)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        self.removing.fetch_add(1, Ordering::Relaxed);
        // Counted from here: dropped (a closed semaphore, a cancelled wait), it counts off again.
        let mut removal = Removal {
            gate: self,
            _slot: None,
        };
        removal._slot = Some(self.slots.acquire().await.ok()?);
        Some(removal)
    }
}

/// A removal let through the gate: under way until dropped.
pub struct Removal<'a> {
    gate: &'a Gate,
    _slot: Option<SemaphorePermit<'a>>,
}

impl Drop for Removal<'_> {
    fn drop(&mut self) {
        self.gate.removing.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(slots: usize, pace: Pace) -> Gate {
        Gate::new(
            std::sync::Arc::new(Semaphore::new(slots)),
            pace,
            Default::default(),
        )
    }
    #[test]
    fn the_window_is_the_rates_round_trips_plus_a_queue_the_registrar_holds() {
        let ms = |n| Some(Duration::from_millis(n));
        // 11,000/s at 1 ms: 22 under way, plus 64.
        assert_eq!(
            lag_window(&Pace::new(Some(11000.0), 1), ms(1), None),
            Some(86)
        );
        // Over 50 ms, the rate needs 1,100 out.
        assert_eq!(
            lag_window(&Pace::new(Some(11000.0), 1), ms(50), None),
            Some(1164)
        );
        // Before any answer, the headroom; on two lanes, half each.
        assert_eq!(
            lag_window(&Pace::new(Some(11000.0), 1), None, None),
            Some(64)
        );
        assert_eq!(
            lag_window(&Pace::new(Some(11000.0), 1).on_lane(0, 2), ms(1), None),
            Some(43)
        );
        // Without a rate, all at once: only --concurrency holds starts back.
        assert_eq!(lag_window(&Pace::new(None, 1), ms(1), None), None);
        // A registrar that answers 500/s at 8 ms: twice that rate's round trips, not 5,000/s's.
        assert_eq!(
            lag_window(&Pace::new(Some(5000.0), 1), ms(8), Some(500.0)),
            Some(16 + 64)
        );
        // One that keeps up: the rate asked for.
        assert_eq!(
            lag_window(&Pace::new(Some(5000.0), 1), ms(8), Some(5000.0)),
            Some(80 + 64)
        );
    }

    #[test]
    fn the_meter_smooths_the_answer_rate_over_25_ms_steps() {
        let t0 = Instant::now();
        let mut m = Meter {
            at: t0,
            answers: 0,
            rate: None,
        };
        assert_eq!(m.read(t0 + Duration::from_millis(10), 5), None);
        assert_eq!(m.read(t0 + Duration::from_millis(50), 50), Some(1000.0));
        // 100 more in the next 50 ms (2,000/s): half and half.
        assert_eq!(m.read(t0 + Duration::from_millis(100), 150), Some(1500.0));
    }

    #[tokio::test(start_paused = true)]
    async fn removals_keep_the_rate_of_the_starts() {
        let gate = gate(100, Pace::new(Some(100.0), 2));
        let t0 = tokio::time::Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            let _slot = gate.enter().await;
            at.push((tokio::time::Instant::now() - t0).as_millis());
        }
        // 100/s in groups of 2: two at 0 ms, two at 20 ms, one at 40 ms.
        assert_eq!(at, [0, 0, 20, 20, 40]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_rate_only_the_slots_hold_removals_back() {
        let gate = gate(1, Pace::new(None, 1));
        let first = gate.enter().await;
        assert!(first.is_some());
        let second = tokio::time::timeout(Duration::from_secs(1), gate.enter()).await;
        assert!(second.is_err(), "the one slot is taken");
        drop(first);
        assert!(gate.enter().await.is_some());
    }
}
