//! A bounded, uniform sample of a stream of values (reservoir sampling, Algorithm R), with its exact
//! maximum and last value: a watch that runs for months keeps its keep-alive round trips in fixed
//! memory, and their percentiles cost the same on the first scrape and the millionth.

/// Values kept at most.
pub const KEPT: usize = 4096;

/// The sample.
#[derive(Debug, Clone)]
pub struct Sample {
    kept: Vec<f64>,
    seen: u64,
    max: Option<f64>,
    last: Option<f64>,
    /// xorshift64 state: which kept value a new one replaces.
    state: u64,
}

impl Default for Sample {
    fn default() -> Self {
        Sample {
            kept: Vec::new(),
            seen: 0,
            max: None,
            last: None,
            state: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl Sample {
    /// Adds a value: kept while there is room, then in place of a kept one with probability
    /// `KEPT / seen`, so that every value seen is equally likely to be in the sample.
    pub fn push(&mut self, v: f64) {
        self.seen += 1;
        self.last = Some(v);
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
        if self.kept.len() < KEPT {
            self.kept.push(v);
            return;
        }
        let slot = self.next() % self.seen;
        if let Some(k) = usize::try_from(slot)
            .ok()
            .and_then(|s| self.kept.get_mut(s))
        {
            *k = v;
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// The `q` quantile (0 to 1) of the sample, nearest rank.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let mut v = self.kept.clone();
        v.sort_by(f64::total_cmp);
        let idx = ((v.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round();
        // The index is within the slice: 0 ≤ q ≤ 1.
        v.get(idx as usize).copied()
    }

    /// The largest value seen (exact).
    #[must_use]
    pub fn max(&self) -> Option<f64> {
        self.max
    }

    /// The latest value.
    #[must_use]
    pub fn last(&self) -> Option<f64> {
        self.last
    }

    /// Values held in memory.
    #[must_use]
    pub fn held(&self) -> usize {
        self.kept.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_stream_is_held_in_bounded_memory_with_fair_percentiles() {
        let mut s = Sample::default();
        // A month of keep-alives every 10 s: 259,200 round trips of 1..=100 ms, in turn.
        for i in 0..259_200u32 {
            s.push(f64::from(i % 100 + 1));
        }
        assert_eq!(s.held(), KEPT, "memory stays bounded");
        assert_eq!(s.max(), Some(100.0));
        assert_eq!(s.last(), Some(f64::from(259_199 % 100 + 1)));
        let p50 = s.quantile(0.5).unwrap();
        let p99 = s.quantile(0.99).unwrap();
        assert!((45.0..=56.0).contains(&p50), "{p50}");
        assert!((97.0..=100.0).contains(&p99), "{p99}");
    }

    #[test]
    fn a_short_stream_is_kept_whole() {
        let mut s = Sample::default();
        for v in [3.0, 1.0, 2.0] {
            s.push(v);
        }
        assert_eq!(
            (s.quantile(0.5), s.max(), s.held()),
            (Some(2.0), Some(3.0), 3)
        );
        assert_eq!(Sample::default().quantile(0.5), None);
    }
}
