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
