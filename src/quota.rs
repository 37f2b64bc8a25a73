//! Per-agent call quotas: the limits a policy sets (`limits = { … }`) and the rolling-minute
//! counter that enforces them. Pure logic: the caller passes the time in, nothing here reads a
//! clock or does I/O.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a call counts against a limit: a call taken at `t` counts until `t + WINDOW`.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The largest limit a policy may set, per minute.
pub const MAX_PER_MINUTE: u32 = 100_000;

/// An agent's own call quotas, counted over a rolling minute; `None` means no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Calls of any kind, writes included.
    pub calls_per_minute: Option<u32>,
    /// Calls to tools that change something (`Access::Write`).
    pub writes_per_minute: Option<u32>,
}

impl Limits {
    /// Whether neither limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.calls_per_minute.is_none() && self.writes_per_minute.is_none()
    }
}

/// Which limit a call ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// `calls_per_minute`.
    Calls,
    /// `writes_per_minute`.
    Writes,
}

impl LimitKind {
    /// `calls` or `writes`, as the limit's unit reads in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            LimitKind::Calls => "calls",
            LimitKind::Writes => "writes",
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call refused because the agent is at one of its limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverLimit {
    /// The limit reached.
    pub kind: LimitKind,
    /// Its value, per minute.
    pub limit: u32,
    /// When the oldest call counted against it leaves the window, freeing one.
    pub resets_in: Duration,
}

impl OverLimit {
    /// `over the limit of N calls per minute` (or `writes`).
    pub fn reason(&self) -> String {
        format!("over the limit of {} {} per minute", self.limit, self.kind)
    }

    /// [`OverLimit::resets_in`] in whole seconds, rounded up: waiting this long is enough.
    pub fn resets_in_secs(&self) -> u64 {
        whole_seconds(self.resets_in)
    }
}

/// `over the limit of N calls per minute; one frees in S s`.
impl fmt::Display for OverLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; one frees in {} s",
            self.reason(),
            self.resets_in_secs()
        )
    }
}

/// What an agent may still do in the current rolling minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Left {
    /// Calls left; `None` when calls are unlimited.
    pub calls: Option<u32>,
    /// Writes left; `None` when writes are unlimited.
    pub writes: Option<u32>,
    /// When the oldest counted call leaves the window; `None` when none is counted.
    pub calls_reset_in: Option<Duration>,
    /// When the oldest counted write leaves the window; `None` when none is counted.
    pub writes_reset_in: Option<Duration>,
}

/// `d` in whole seconds, rounded up.
pub fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// What an agent may still do in the current rolling minute.
///
/// Only calls counted against a limit are kept, each as the instant it was taken, so memory is
/// bounded by the limits: at most `calls_per_minute` calls and `writes_per_minute` writes, and
/// nothing at all for an agent without limits.
#[derive(Debug)]
pub struct Quota {
    limits: Limits,
    window: Mutex<Window>,
}

/// The instants of the calls counted, oldest first; each list is kept only when its limit is set.
#[derive(Debug, Default)]
struct Window {
    calls: VecDeque<Instant>,
    writes: VecDeque<Instant>,
}

impl Quota {
    /// A counter for `limits`, with nothing counted yet. A limit of 0 refuses every call of its
    /// kind (a policy never sets one).
    pub fn new(limits: Limits) -> Quota {
        Quota {
            limits,
            window: Mutex::new(Window::default()),
        }
    }

    /// The limits counted against.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes one call (a write counts against both limits) if the agent is under its limits at
    /// `now`; otherwise takes nothing and says which limit and when the oldest counted call
    /// leaves the window. When both limits are reached, the one that frees later is named.
    pub fn take(&self, write: bool, now: Instant) -> Result<(), OverLimit> {
        let calls_limit = self.limits.calls_per_minute;
        let writes_limit = self.limits.writes_per_minute.filter(|_| write);
        if calls_limit.is_none() && writes_limit.is_none() {
            return Ok(());
        }
        let mut window = self.lock();
        let over = |kind, limit: Option<u32>, list: &mut VecDeque<Instant>| {
            let limit = limit?;
            prune(list, now);
            (list.len() >= limit as usize).then(|| OverLimit {
                kind,
                limit,
                resets_in: list
                    .front()
                    .map_or(WINDOW, |&oldest| resets_in(oldest, now)),
            })
        };
        let calls = over(LimitKind::Calls, calls_limit, &mut window.calls);
        let writes = over(LimitKind::Writes, writes_limit, &mut window.writes);
        match (calls, writes) {
            (Some(c), Some(w)) => return Err(if w.resets_in > c.resets_in { w } else { c }),
            (Some(over), None) | (None, Some(over)) => return Err(over),
            (None, None) => {}
        }
        if calls_limit.is_some() {
            insert(&mut window.calls, now);
        }
        if writes_limit.is_some() {
            insert(&mut window.writes, now);
        }
        Ok(())
    }

    /// Gives back a call taken at `taken` by [`Quota::take`] with the same `write`, for a call
    /// taken and then never sent. Nothing happens when that call no longer counts.
    pub fn give_back(&self, write: bool, taken: Instant) {
        let mut window = self.lock();
        if self.limits.calls_per_minute.is_some() {
            remove(&mut window.calls, taken);
        }
        if write && self.limits.writes_per_minute.is_some() {
            remove(&mut window.writes, taken);
        }
    }

    /// What the agent may still do at `now`.
    pub fn left(&self, now: Instant) -> Left {
        if self.limits.is_unlimited() {
            return Left {
                calls: None,
                writes: None,
                calls_reset_in: None,
                writes_reset_in: None,
            };
        }
        let mut window = self.lock();
        prune(&mut window.calls, now);
        prune(&mut window.writes, now);
        let remaining = |limit: Option<u32>, list: &VecDeque<Instant>| {
            limit.map(|l| l.saturating_sub(u32::try_from(list.len()).unwrap_or(u32::MAX)))
        };
        let reset = |list: &VecDeque<Instant>| list.front().map(|&t| resets_in(t, now));
        Left {
            calls: remaining(self.limits.calls_per_minute, &window.calls),
            writes: remaining(self.limits.writes_per_minute, &window.writes),
            calls_reset_in: reset(&window.calls),
            writes_reset_in: reset(&window.writes),
        }
    }

    /// The window, even after a thread panicked holding it: the counts stay meaningful.
    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Drops the calls that no longer count at `now` (taken `WINDOW` or more before it).
fn prune(list: &mut VecDeque<Instant>, now: Instant) {
    while list
        .front()
        .is_some_and(|&t| now.saturating_duration_since(t) >= WINDOW)
    {
        list.pop_front();
    }
}

/// How long until a call taken at `taken` stops counting, seen at `now`.
fn resets_in(taken: Instant, now: Instant) -> Duration {
    WINDOW.saturating_sub(now.saturating_duration_since(taken))
}

/// Adds `t`, keeping the list oldest first even when threads pass their `now` out of order.
fn insert(list: &mut VecDeque<Instant>, t: Instant) {
    let at = list.partition_point(|&x| x <= t);
    list.insert(at, t);
}

/// Removes one entry equal to `t`, if there is one.
fn remove(list: &mut VecDeque<Instant>, t: Instant) {
    let at = list.partition_point(|&x| x < t);
    if list.get(at) == Some(&t) {
        list.remove(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn limits(calls: Option<u32>, writes: Option<u32>) -> Limits {
        Limits {
            calls_per_minute: calls,
            writes_per_minute: writes,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn stored(quota: &Quota) -> (usize, usize) {
        let window = quota.lock();
        (window.calls.len(), window.writes.len())
    }

    #[test]
    fn the_calls_limit_counts_reads_and_writes() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(3), None));
        assert_eq!(quota.take(false, base), Ok(()));
        assert_eq!(quota.take(true, base + secs(1)), Ok(()));
        assert_eq!(quota.take(false, base + secs(2)), Ok(()));
        let over = quota.take(false, base + secs(10)).expect_err("fourth call");
        assert_eq!(
            over,
            OverLimit {
                kind: LimitKind::Calls,
                limit: 3,
                resets_in: secs(50),
            }
        );
        assert_eq!(over.reason(), "over the limit of 3 calls per minute");
        assert_eq!(
            quota.take(true, base + secs(10)).map_err(|o| o.kind),
            Err(LimitKind::Calls)
        );
    }

    #[test]
    fn the_writes_limit_leaves_reads_alone() {
        let base = Instant::now();
        let quota = Quota::new(limits(None, Some(2)));
        assert_eq!(quota.take(true, base), Ok(()));
        assert_eq!(quota.take(true, base + secs(5)), Ok(()));
        let over = quota.take(true, base + secs(6)).expect_err("third write");
        assert_eq!(over.kind, LimitKind::Writes);
        assert_eq!(over.limit, 2);
        assert_eq!(over.resets_in, secs(54));
        assert_eq!(over.reason(), "over the limit of 2 writes per minute");
        for i in 0..1000 {
            assert_eq!(quota.take(false, base + Duration::from_millis(i)), Ok(()));
        }
        assert_eq!(stored(&quota), (0, 2), "only writes are kept");
    }

    #[test]
    fn a_write_counts_against_both_limits() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(3), Some(2)));
        assert_eq!(quota.take(true, base), Ok(()));
        assert_eq!(quota.take(true, base + secs(1)), Ok(()));
        let over = quota.take(true, base + secs(2)).expect_err("third write");
        assert_eq!((over.kind, over.resets_in), (LimitKind::Writes, secs(58)));
        // The two writes are also two calls: one read is left.
        assert_eq!(quota.take(false, base + secs(2)), Ok(()));
        let over = quota.take(false, base + secs(3)).expect_err("fourth call");
        assert_eq!((over.kind, over.resets_in), (LimitKind::Calls, secs(57)));
    }

    #[test]
    fn when_both_limits_are_reached_the_later_reset_is_named() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(2), Some(1)));
        assert_eq!(quota.take(false, base), Ok(()));
        assert_eq!(quota.take(true, base + secs(20)), Ok(()));
        // Calls free one at 60 s, writes only at 80 s: a write must wait for the later one.
        let over = quota.take(true, base + secs(30)).expect_err("over both");
        assert_eq!((over.kind, over.resets_in), (LimitKind::Writes, secs(50)));
        let over = quota.take(false, base + secs(30)).expect_err("over calls");
        assert_eq!((over.kind, over.resets_in), (LimitKind::Calls, secs(30)));
    }

    #[test]
    fn a_refused_call_takes_nothing() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(2), Some(1)));
        assert_eq!(quota.take(true, base), Ok(()));
        for _ in 0..10 {
            assert!(quota.take(true, base + secs(1)).is_err());
        }
        assert_eq!(stored(&quota), (1, 1));
        assert_eq!(quota.left(base + secs(1)).calls, Some(1));
        assert_eq!(quota.take(false, base + secs(1)), Ok(()));
        assert!(quota.take(false, base + secs(1)).is_err());
        assert_eq!(stored(&quota), (2, 1));
    }

    #[test]
    fn a_call_counts_for_exactly_sixty_seconds() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(1), None));
        assert_eq!(quota.take(false, base), Ok(()));
        let just_before = base + WINDOW - Duration::from_nanos(1);
        let over = quota.take(false, just_before).expect_err("still counted");
        assert_eq!(over.resets_in, Duration::from_nanos(1));
        assert_eq!(over.resets_in_secs(), 1);
        assert_eq!(quota.take(false, base + WINDOW), Ok(()));
        assert!(quota.take(false, base + WINDOW).is_err());
        assert_eq!(quota.take(false, base + 2 * WINDOW), Ok(()));
    }

    #[test]
    fn resets_in_is_when_the_oldest_counted_call_leaves() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(3), None));
        for s in [0, 10, 20] {
            assert_eq!(quota.take(false, base + secs(s)), Ok(()));
        }
        let at = |ms: u64| {
            quota
                .take(false, base + Duration::from_millis(ms))
                .expect_err("full")
        };
        assert_eq!(at(30_000).resets_in, secs(30));
        assert_eq!(at(59_999).resets_in, Duration::from_millis(1));
        assert_eq!(at(30_500).resets_in_secs(), 30, "29.5 s rounds up");
        assert_eq!(
            at(30_500).to_string(),
            "over the limit of 3 calls per minute; one frees in 30 s"
        );
        // At 60 s the first leaves and a new call takes its place; then the one from 10 s is
        // the oldest.
        assert_eq!(quota.take(false, base + secs(60)), Ok(()));
        assert_eq!(at(61_000).resets_in, secs(9));
    }

    #[test]
    fn left_says_what_remains_and_when_it_frees() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(5), Some(2)));
        assert_eq!(
            quota.left(base),
            Left {
                calls: Some(5),
                writes: Some(2),
                calls_reset_in: None,
                writes_reset_in: None,
            }
        );
        assert_eq!(quota.take(false, base), Ok(()));
        assert_eq!(quota.take(true, base + secs(15)), Ok(()));
        assert_eq!(
            quota.left(base + secs(20)),
            Left {
                calls: Some(3),
                writes: Some(1),
                calls_reset_in: Some(secs(40)),
                writes_reset_in: Some(secs(55)),
            }
        );
        assert_eq!(
            quota.left(base + secs(60)),
            Left {
                calls: Some(4),
                writes: Some(1),
                calls_reset_in: Some(secs(15)),
                writes_reset_in: Some(secs(15)),
            }
        );
        assert_eq!(
            quota.left(base + secs(75)),
            Left {
                calls: Some(5),
                writes: Some(2),
                calls_reset_in: None,
                writes_reset_in: None,
            }
        );
        let writes_only = Quota::new(limits(None, Some(4)));
        assert_eq!(writes_only.take(true, base), Ok(()));
        assert_eq!(
            writes_only.left(base + secs(1)),
            Left {
                calls: None,
                writes: Some(3),
                calls_reset_in: None,
                writes_reset_in: Some(secs(59)),
            }
        );
    }

    #[test]
    fn without_limits_everything_passes_and_nothing_is_kept() {
        let base = Instant::now();
        let quota = Quota::new(Limits::default());
        assert!(quota.limits().is_unlimited());
        for i in 0..10_000 {
            assert_eq!(quota.take(i % 2 == 0, base), Ok(()));
        }
        assert_eq!(stored(&quota), (0, 0));
        assert_eq!(
            quota.left(base),
            Left {
                calls: None,
                writes: None,
                calls_reset_in: None,
                writes_reset_in: None,
            }
        );
    }

    #[test]
    fn memory_never_exceeds_the_limits() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(10), Some(4)));
        for i in 0..10_000 {
            let _ = quota.take(i % 3 == 0, base + Duration::from_millis(i * 7));
            let (calls, writes) = stored(&quota);
            assert!(calls <= 10 && writes <= 4, "{calls} calls, {writes} writes");
        }
        assert_eq!(quota.limits(), limits(Some(10), Some(4)));
    }

    #[test]
    fn a_call_given_back_no_longer_counts() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(2), Some(1)));
        assert_eq!(quota.take(true, base), Ok(()));
        assert_eq!(quota.take(false, base + secs(1)), Ok(()));
        quota.give_back(true, base);
        assert_eq!(stored(&quota), (1, 0));
        assert_eq!(quota.left(base + secs(2)).calls_reset_in, Some(secs(59)));
        // A call that is not counted (never taken, or already gone) changes nothing.
        quota.give_back(false, base + secs(5));
        assert_eq!(stored(&quota), (1, 0));
        assert_eq!(quota.take(true, base + secs(2)), Ok(()));
        assert!(quota.take(false, base + secs(3)).is_err());
    }

    #[test]
    fn calls_passed_out_of_order_still_leave_in_order() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(2), None));
        assert_eq!(quota.take(false, base + secs(10)), Ok(()));
        assert_eq!(quota.take(false, base + secs(5)), Ok(()));
        let over = quota.take(false, base + secs(20)).expect_err("full");
        assert_eq!(over.resets_in, secs(45));
        assert_eq!(quota.take(false, base + secs(65)), Ok(()));
    }

    #[test]
    fn a_zero_limit_refuses_everything() {
        let base = Instant::now();
        let quota = Quota::new(limits(None, Some(0)));
        assert_eq!(quota.take(false, base), Ok(()));
        let over = quota.take(true, base).expect_err("no writes");
        assert_eq!((over.kind, over.resets_in), (LimitKind::Writes, WINDOW));
    }

    #[test]
    fn a_poisoned_lock_is_recovered() {
        let base = Instant::now();
        let quota = Quota::new(limits(Some(1), None));
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                let _guard = quota.window.lock();
                panic!("poison the lock");
            })
            .join()
        });
        assert!(quota.window.is_poisoned());
        assert_eq!(quota.take(false, base), Ok(()));
        assert!(quota.take(false, base).is_err());
    }

    #[test]
    fn threads_together_never_exceed_the_limit() {
        let base = Instant::now();
        for (limits, write) in [
            (limits(Some(50), None), false),
            (limits(None, Some(50)), true),
            (limits(Some(50), Some(50)), true),
        ] {
            let quota = Quota::new(limits);
            let taken = AtomicUsize::new(0);
            std::thread::scope(|s| {
                for thread in 0..8u64 {
                    let (quota, taken) = (&quota, &taken);
                    s.spawn(move || {
                        for i in 0..100 {
                            let now = base + Duration::from_micros(thread * 100 + i);
                            if quota.take(write, now).is_ok() {
                                taken.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
            assert_eq!(taken.load(Ordering::Relaxed), 50, "{limits:?}");
            assert_eq!(quota.left(base + secs(1)).calls.unwrap_or(0), 0);
        }
    }

    #[test]
    fn whole_seconds_round_up() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(secs(2)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(2001)), 3);
        assert_eq!(LimitKind::Calls.as_str(), "calls");
        assert_eq!(LimitKind::Writes.as_str(), "writes");
    }
}
