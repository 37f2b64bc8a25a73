//! The in-memory token bucket, as the generic cell rate algorithm (GCRA): one "theoretical
//! arrival time" per bucket, reserved under a short lock, so callers are served in the order
//! they reserve.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket of `burst` tokens refilled at one token per `interval`.
///
/// A request at `t` may go at `max(tat, t) − tolerance`; reserving it moves `tat` one
/// interval on. `tat` is `None` until the first reservation (a full bucket).
#[derive(Debug)]
pub(super) struct Gcra {
    /// T: the time one token takes to come back (1 / rate).
    interval: Duration,
    /// τ = (burst − 1) · T: how far ahead of the steady rate a burst may run.
    tolerance: Duration,
    tat: Mutex<Option<Instant>>,
}

impl Gcra {
    /// A full bucket of `burst` tokens (at least one), one more every `interval`.
    pub(super) fn new(interval: Duration, burst: u32) -> Gcra {
        Gcra {
            interval,
            tolerance: interval.saturating_mul(burst.saturating_sub(1)),
            tat: Mutex::new(None),
        }
    }

    /// T, the emission interval.
    pub(super) fn interval(&self) -> Duration {
        self.interval
    }

    /// τ, the burst tolerance.
    pub(super) fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Reserves the next token for a request made at `now` if its turn comes within
    /// `max_wait`: `Ok(wait)`, the time to sleep before going. Otherwise reserves nothing and
    /// returns `Err(needed)`, the wait it would have had.
    pub(super) fn reserve(&self, now: Instant, max_wait: Duration) -> Result<Duration, Duration> {
        let mut tat = self.lock();
        let tat0 = tat.map_or(now, |tat| tat.max(now));
        let wait = self.wait_for(tat0, now);
        if wait > max_wait {
            return Err(wait);
        }
        *tat = Some(tat0.checked_add(self.interval).unwrap_or(tat0));
        Ok(wait)
    }

    /// The wait a request made at `now` would have, without reserving anything.
    pub(super) fn peek(&self, now: Instant) -> Duration {
        let tat = *self.lock();
        self.wait_for(tat.map_or(now, |tat| tat.max(now)), now)
    }

    /// Moves `tat` on to `at` if it is behind: the bucket then holds no more tokens than one
    /// whose state is `at` (used to follow the shared bucket, so that falling back to this one
    /// does not start with a fresh burst).
    pub(super) fn advance_to(&self, at: Instant) {
        let mut tat = self.lock();
        if tat.is_none_or(|tat| tat < at) {
            *tat = Some(at);
        }
    }

    /// max(0, tat0 − τ − now), computed without going below `now`.
    fn wait_for(&self, tat0: Instant, now: Instant) -> Duration {
        match now.checked_add(self.tolerance) {
            Some(earliest) => tat0.saturating_duration_since(earliest),
            None => Duration::ZERO,
        }
    }

    /// The lock is never held across an await nor while anything can panic; a poisoned one
    /// still holds a valid instant.
    fn lock(&self) -> MutexGuard<'_, Option<Instant>> {
        self.tat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_millis(200);

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_one_per_interval() {
        let gcra = Gcra::new(T, 3);
        assert_eq!(gcra.tolerance(), Duration::from_millis(400));
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(gcra.reserve(now, Duration::ZERO), Ok(Duration::ZERO));
        }
        assert_eq!(gcra.reserve(now, Duration::from_secs(1)), Ok(T));
        assert_eq!(gcra.reserve(now, Duration::from_secs(1)), Ok(2 * T));
        assert_eq!(gcra.peek(now), 3 * T);
        // Later, the bucket has refilled by the time passed (and no more than the burst).
        let later = now + Duration::from_secs(10);
        assert_eq!(gcra.peek(later), Duration::ZERO);
        for _ in 0..3 {
            assert_eq!(gcra.reserve(later, Duration::ZERO), Ok(Duration::ZERO));
        }
        assert_eq!(gcra.reserve(later, Duration::ZERO), Err(T));
    }

    #[test]
    fn a_refused_request_reserves_nothing() {
        let gcra = Gcra::new(T, 1);
        let now = Instant::now();
        assert_eq!(gcra.reserve(now, Duration::ZERO), Ok(Duration::ZERO));
        assert_eq!(gcra.reserve(now, Duration::from_millis(100)), Err(T));
        assert_eq!(gcra.reserve(now, Duration::from_millis(100)), Err(T));
        assert_eq!(gcra.reserve(now, T), Ok(T));
    }

    #[test]
    fn advancing_only_ever_moves_forward() {
        let gcra = Gcra::new(T, 2);
        let now = Instant::now();
        gcra.advance_to(now + Duration::from_secs(1));
        // tat0 − τ − now = 1 s − 200 ms.
        assert_eq!(gcra.peek(now), Duration::from_millis(800));
        gcra.advance_to(now);
        assert_eq!(gcra.peek(now), Duration::from_millis(800));
    }
}
