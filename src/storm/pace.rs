//! When each account of a storm starts: `--rate`, `--burst`, and the lane that runs it.

use std::time::Duration;

/// When a plan's accounts start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// The whole storm's registrations started per second; all at once without it.
    pub rate: Option<f64>,
    /// Accounts started together (`--burst`; 1: one by one): the groups are `burst / rate` apart.
    pub burst: usize,
    /// This plan runs every `lanes`-th account of the storm, from the `lane`-th.
    pub lane: usize,
    /// How many lanes share the storm (1 on one runtime).
    pub lanes: usize,
}

impl Pace {
    /// `rate` per second in groups of `burst` (all at once without a rate), on one runtime.
    #[must_use]
    pub fn new(rate: Option<f64>, burst: usize) -> Pace {
        Pace {
            rate,
            burst: burst.max(1),
            lane: 0,
            lanes: 1,
        }
    }

    /// The pace of lane `lane` of `lanes`, which runs every `lanes`-th account from the `lane`-th.
    #[must_use]
    pub fn on_lane(self, lane: usize, lanes: usize) -> Pace {
        Pace {
            lane,
            lanes: lanes.max(1),
            ..self
        }
    }

    /// When this plan's `j`-th account starts, from the storm's start (`None`: at once). It is the
    /// storm's account i = j·lanes + lane, of group i / burst, which starts at
    /// (i / burst)·burst / rate: on lanes, the starts interleave as on one runtime.
    #[must_use]
    pub fn start(&self, j: usize) -> Option<Duration> {
        let rate = self.rate?;
        let i = j * self.lanes + self.lane;
        let first_of_group = i / self.burst * self.burst;
        Some(Duration::from_secs_f64(first_of_group as f64 / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(pace: &Pace, j: usize) -> u128 {
        pace.start(j).map_or(u128::MAX, |d| d.as_micros() / 1000)
    }

    #[test]
    fn one_by_one_each_start_is_one_interval_after_the_last() {
        let pace = Pace::new(Some(100.0), 1);
        assert_eq!(
            (0..4).map(|j| ms(&pace, j)).collect::<Vec<_>>(),
            [0, 10, 20, 30]
        );
        assert_eq!(Pace::new(None, 1).start(7), None);
    }

    #[test]
    fn a_burst_starts_together_and_the_groups_keep_the_rate() {
        // 100/s in groups of 4: 4 at 0 ms, 4 at 40 ms, ...
        let pace = Pace::new(Some(100.0), 4);
        let starts: Vec<u128> = (0..9).map(|j| ms(&pace, j)).collect();
        assert_eq!(starts, [0, 0, 0, 0, 40, 40, 40, 40, 80]);
    }

    #[test]
    fn lanes_start_their_accounts_when_one_runtime_would() {
        for burst in [1, 3] {
            let whole = Pace::new(Some(50.0), burst);
            for lanes in 1..4 {
                for lane in 0..lanes {
                    let part = whole.on_lane(lane, lanes);
                    for j in 0..10 {
                        assert_eq!(
                            part.start(j),
                            whole.start(j * lanes + lane),
                            "{burst} {lanes} {lane} {j}"
                        );
                    }
                }
            }
        }
    }
}
