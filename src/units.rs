//! Durations as the reports give them: milliseconds as floats for JSON and metrics, and rounded
//! for people (`29.3 s`, `1.8 ms`).

use std::time::Duration;

/// Milliseconds of a duration as a float with microsecond precision.
#[must_use]
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// A duration in the unit a person reads best.
#[must_use]
pub fn human_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else if ms < 10_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// A duration rounded for people: `29.3 s`, `1.8 ms`, `2 min 5 s`, `1 h 30 min` (a wait, a
/// timeout), where humantime would print `29s 324ms 927us 997ns`.
#[must_use]
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        return human_ms(ms(d));
    }
    let whole = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    match whole {
        ..3600 => match whole % 60 {
            0 => format!("{} min", whole / 60),
            s => format!("{} min {s} s", whole / 60),
        },
        _ => match (whole % 3600) / 60 {
            0 => format!("{} h", whole / 3600),
            m => format!("{} h {m} min", whole / 3600),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_rounded_for_people() {
        for (d, text) in [
            (Duration::from_nanos(29_324_927_997), "29.3 s"),
            (Duration::from_micros(1_834), "1.8 ms"),
            (Duration::from_micros(450), "0.45 ms"),
            (Duration::from_millis(2_345), "2.35 s"),
            (Duration::from_millis(59_940), "59.9 s"),
            (Duration::from_secs(60), "1 min"),
            (Duration::from_millis(125_600), "2 min 6 s"),
            (Duration::from_secs(1800), "30 min"),
            (Duration::from_secs(5400), "1 h 30 min"),
            (Duration::from_secs(7200), "2 h"),
        ] {
            assert_eq!(human_duration(d), text, "{d:?}");
        }
    }
}
