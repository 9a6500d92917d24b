//! Threshold ranges of the Monitoring Plugins guidelines (`10`, `10:`, `~:10`, `10:20`, `@10:20`).

/// A threshold range of the Monitoring Plugins guidelines, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The range as written.
    pub text: String,
    start: f64,
    end: f64,
    inside: bool,
}

impl Range {
    /// Parses `10` (0–10), `10:` (10–∞), `~:10` (−∞–10), `10:20`, and `@…` (alert inside).
    ///
    /// # Errors
    /// One line naming the bad value.
    pub fn parse(text: &str) -> Result<Range, String> {
        let t = text.trim();
        let (inside, body) = match t.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let number = |s: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    format!("{text:?} is not a threshold range (examples: 5, 5:, ~:5, 1:5, @1:5)")
                })
        };
        let (start, end) = match body.split_once(':') {
            None => (0.0, number(body)?),
            Some(("~", "")) => (f64::NEG_INFINITY, f64::INFINITY),
            Some(("~", e)) => (f64::NEG_INFINITY, number(e)?),
            Some((s, "")) => (number(s)?, f64::INFINITY),
            Some((s, e)) => (number(s)?, number(e)?),
        };
        if start > end {
            return Err(format!(
                "{text:?}: the start of a range must not be above its end"
            ));
        }
        Ok(Range {
            text: t.to_string(),
            start,
            end,
            inside,
        })
    }

    /// True when `v` raises the alert.
    #[must_use]
    pub fn alerts(&self, v: f64) -> bool {
        let within = v >= self.start && v <= self.end;
        if self.inside { within } else { !within }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_the_guidelines_define_them() {
        let cases: [(&str, &[(f64, bool)]); 5] = [
            (
                "10",
                &[(-1.0, true), (0.0, false), (10.0, false), (10.5, true)],
            ),
            ("10:", &[(9.9, true), (10.0, false), (1e9, false)]),
            ("~:10", &[(-1e9, false), (10.0, false), (10.1, true)]),
            ("10:20", &[(9.0, true), (15.0, false), (21.0, true)]),
            ("@10:20", &[(9.0, false), (15.0, true), (21.0, false)]),
        ];
        for (text, checks) in cases {
            let r = Range::parse(text).unwrap();
            for (v, alert) in checks {
                assert_eq!(r.alerts(*v), *alert, "{text} at {v}");
            }
        }
        for bad in ["", "x", "20:10", "1:2:3", "nan"] {
            assert!(Range::parse(bad).is_err(), "{bad}");
        }
    }
}
