//! How long events are kept: by age and by count, the oldest dropped first.

use std::time::Duration;

use super::error::EventError;

/// The default age limit: 24 hours.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The default count limit.
pub const DEFAULT_MAX_COUNT: u64 = 100_000;

/// The log keeps events younger than `max_age` and at most the newest `max_count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Duration,
    pub max_count: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: DEFAULT_MAX_AGE,
            max_count: DEFAULT_MAX_COUNT,
        }
    }
}

/// `AGE,COUNT` as `--events-retention` takes it: `24h,100000`, the age in `s`, `m`, `h` or
/// `d` (at most 365 days), the count from 1 to 100,000,000.
pub fn parse(text: &str) -> Result<Retention, String> {
    let bad = || {
        format!(
            "`{}` is not AGE,COUNT: write e.g. `24h,100000` (the age in s, m, h or d, up to 365d; the count from 1 to 100000000)",
            text.chars()
                .filter(|c| !c.is_control())
                .take(40)
                .collect::<String>()
        )
    };
    let (age, count) = text.split_once(',').ok_or_else(bad)?;
    let age = age.trim();
    let unit = match age.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => return Err(bad()),
    };
    let amount: u64 = age[..age.len() - 1].parse().map_err(|_| bad())?;
    let secs = amount
        .checked_mul(unit)
        .filter(|&s| (1..=365 * 86_400).contains(&s));
    let count: u64 = count.trim().parse().map_err(|_| bad())?;
    match secs {
        Some(secs) if (1..=100_000_000).contains(&count) => Ok(Retention {
            max_age: Duration::from_secs(secs),
            max_count: count,
        }),
        _ => Err(bad()),
    }
}

impl Retention {
    /// Refuses a limit that would keep nothing.
    pub(super) fn check(&self) -> Result<(), EventError> {
        if self.max_count == 0 {
            return Err(EventError::Invalid {
                field: "retention",
                problem: "keeps no events (a count of 0)".to_string(),
            });
        }
        if self.max_age.is_zero() {
            return Err(EventError::Invalid {
                field: "retention",
                problem: "keeps no events (an age of 0)".to_string(),
            });
        }
        Ok(())
    }

    /// Events stored before this time (ms since the epoch) are too old at `now_ms`.
    pub(super) fn cutoff_ms(&self, now_ms: i64) -> i64 {
        let age = i64::try_from(self.max_age.as_millis()).unwrap_or(i64::MAX);
        now_ms.saturating_sub(age)
    }

    /// With `head` the newest cursor, the events up to this cursor are too many.
    pub(super) fn count_through(&self, head: i64) -> i64 {
        let keep = i64::try_from(self.max_count).unwrap_or(i64::MAX);
        head.saturating_sub(keep).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_reads_age_and_count_and_names_a_bad_value() {
        assert_eq!(parse("24h,100000"), Ok(Retention::default()));
        assert_eq!(
            parse("90m, 500"),
            Ok(Retention {
                max_age: Duration::from_secs(5400),
                max_count: 500
            })
        );
        assert_eq!(parse("7d,1").map(|r| r.max_age.as_secs()), Ok(7 * 86_400));
        for bad in [
            "24h",
            "0h,5",
            "24h,0",
            "24x,5",
            "h,5",
            "366d,5",
            "24h,abc",
            "-1h,5",
            "99999999999999999999d,1",
            "",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("AGE,COUNT"), "{bad}: {err}");
        }
    }

    #[test]
    fn limits_compute_what_goes() {
        let retention = Retention {
            max_age: Duration::from_secs(60),
            max_count: 3,
        };
        assert_eq!(retention.cutoff_ms(100_000), 40_000);
        assert_eq!(retention.count_through(5), 2);
        assert_eq!(retention.count_through(2), 0);
        assert!(retention.check().is_ok());
        assert!(
            Retention {
                max_count: 0,
                ..retention
            }
            .check()
            .is_err()
        );
        assert!(
            Retention {
                max_age: Duration::ZERO,
                ..retention
            }
            .check()
            .is_err()
        );
    }
}
