//! The pace of upstream requests (one LiveChat license's quota is shared by all its tokens): a
//! token bucket and a concurrency cap for all agents of a server, a bounded FIFO queue whose
//! waits end at the caller's deadline, and the bucket shared by replicas through PostgreSQL.

mod gcra;
mod postgres;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use gcra::Gcra;
use postgres::{Answer, SharedBucket};

/// The highest `--max-rps` accepted.
const MAX_RPS: f64 = 10_000.0;

/// The lowest rate a [`Limiter`] runs at, whatever its settings: one request a day.
const MIN_RPS: f64 = 1.0 / 86_400.0;

/// How a [`Limiter`] paces requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimiterSettings {
    /// Requests per second in the long run (`--max-rps`).
    pub max_rps: f64,
    /// How many requests may go at once after a quiet spell.
    pub burst: u32,
    /// How many requests may be in flight at once (`--max-concurrency`).
    pub max_concurrency: usize,
    /// How many callers may wait at once; more are refused ([`Refused::QueueFull`]).
    pub max_queue: usize,
}

impl Default for LimiterSettings {
    /// 5 requests a second, bursts of 10, 8 in flight, 256 waiting.
    fn default() -> LimiterSettings {
        LimiterSettings {
            max_rps: 5.0,
            burst: 10,
            max_concurrency: 8,
            max_queue: 256,
        }
    }
}

impl LimiterSettings {
    /// Whether the settings make sense; the message names the flag at fault.
    pub fn check(&self) -> Result<(), String> {
        if !(self.max_rps.is_finite() && self.max_rps > 0.0 && self.max_rps <= MAX_RPS) {
            return Err(format!(
                "--max-rps must be a number above 0 and at most {MAX_RPS}, not {}",
                self.max_rps
            ));
        }
        if self.burst < 1 {
            return Err("the burst must be at least 1".to_string());
        }
        if self.max_concurrency < 1 {
            return Err("--max-concurrency must be at least 1".to_string());
        }
        if self.max_queue < 1 {
            return Err("the queue must hold at least 1 caller".to_string());
        }
        Ok(())
    }

    /// The settings brought into the ranges [`check`](Self::check) allows (a rate below one
    /// a day is one a day).
    fn clamped(self) -> LimiterSettings {
        let max_rps = if self.max_rps.is_nan() || self.max_rps < MIN_RPS {
            MIN_RPS
        } else {
            self.max_rps.min(MAX_RPS)
        };
        LimiterSettings {
            max_rps,
            burst: self.burst.max(1),
            max_concurrency: self.max_concurrency.clamp(1, Semaphore::MAX_PERMITS),
            max_queue: self.max_queue.max(1),
        }
    }

    /// T, the time between two tokens.
    fn interval(&self) -> Duration {
        Duration::try_from_secs_f64(1.0 / self.max_rps).unwrap_or(Duration::from_secs(86_400))
    }
}

/// Why [`Limiter::acquire`] let a caller go without a slot.
#[derive(Clone, Debug, PartialEq)]
pub enum Refused {
    /// `max_queue` callers are waiting already.
    QueueFull { queued: usize },
    /// The caller's turn would come after its deadline: `needed` is how long it would have
    /// had to wait from now (for "try again in N s"). When the wait for a concurrency slot
    /// is what ran out, `needed` is an estimate: the time the bucket takes to let through the
    /// callers still waiting, at least one interval between tokens.
    WouldWait { needed: Duration },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::QueueFull { queued } => {
                write!(f, "{queued} calls are waiting already")
            }
            Refused::WouldWait { needed } => {
                write!(
                    f,
                    "the call would have to wait {:.1} s",
                    needed.as_secs_f64()
                )
            }
        }
    }
}

impl std::error::Error for Refused {}

/// A concurrency slot, held until dropped; `waited` is the time [`Limiter::acquire`] took.
pub struct Slot {
    /// How long the caller waited for its slot and token.
    pub waited: Duration,
    _permit: OwnedSemaphorePermit,
    _held: Held,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}

/// The pace of one server's upstream requests (or, [`shared`](Limiter::shared), of every
/// server on one database and key). Clones share one bucket, cap and queue.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    settings: LimiterSettings,
    /// The concurrency cap.
    slots: Arc<Semaphore>,
    /// Callers inside `acquire` now.
    queued: AtomicUsize,
    /// Slots handed out and not dropped yet.
    in_flight: Arc<AtomicUsize>,
    /// The in-memory bucket: the bucket of a local limiter, the fallback of a shared one.
    local: Gcra,
    /// Taken, first come first served, by each caller from its arrival until its token is
    /// reserved (then released before the caller sleeps until its turn): this makes callers
    /// take slots and tokens in the order they came. Holds the shared bucket, if any.
    turnstile: Mutex<Option<SharedBucket>>,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("settings", &self.inner.settings)
            .field("queued", &self.queued())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// One server's bucket, in memory. Settings outside the ranges
    /// [`check`](LimiterSettings::check) allows are brought into them.
    pub fn local(settings: LimiterSettings) -> Limiter {
        Limiter::with(settings, None)
    }

    /// A bucket shared with every server using the same PostgreSQL database (the audit
    /// store's URL) and `key`: replicas sharing one database and key share one bucket, so N
    /// of them together keep to `max_rps` (the concurrency cap and the queue stay each
    /// server's own). Opens its own connection and creates its table
    /// (`livechat_mcp_limiter`) if needed. The error names the database without user or
    /// password.
    ///
    /// Once open, the database never blocks calls: a reservation it does not answer within
    /// 2 s (or a lost connection) uses the in-memory bucket instead, with a warning at most
    /// once a minute, and the connection is opened again in the background, on a later call
    /// and at most once every 5 s. The connection is made without TLS (as the audit store's).
    pub async fn shared(
        settings: LimiterSettings,
        postgres_url: &str,
        key: &str,
    ) -> Result<Limiter, String> {
        let settings = settings.clamped();
        let local = Gcra::new(settings.interval(), settings.burst);
        let bucket =
            SharedBucket::open(postgres_url, key, local.interval(), local.tolerance()).await?;
        Ok(Limiter::with(settings, Some(bucket)))
    }

    fn with(settings: LimiterSettings, shared: Option<SharedBucket>) -> Limiter {
        let settings = settings.clamped();
        Limiter {
            inner: Arc::new(Inner {
                settings,
                slots: Arc::new(Semaphore::new(settings.max_concurrency)),
                queued: AtomicUsize::new(0),
                in_flight: Arc::new(AtomicUsize::new(0)),
                local: Gcra::new(settings.interval(), settings.burst),
                turnstile: Mutex::new(shared),
            }),
        }
    }

    /// Waits, first come first served, for a concurrency slot and then a token, but never
    /// past `deadline` (with a shared bucket, give or take the database's answer time).
    /// Cancel-safe: dropping the future leaves the queue (a token a shared bucket was
    /// reserving at that moment may be spent unused).
    pub async fn acquire(&self, deadline: Instant) -> Result<Slot, Refused> {
        let start = Instant::now();
        let inner = &self.inner;
        let _waiting = Waiting::enter(&inner.queued, inner.settings.max_queue)
            .map_err(|queued| Refused::QueueFull { queued })?;
        let turn = tokio::time::timeout_at(deadline, async {
            let turnstile = inner.turnstile.lock().await;
            let permit = Arc::clone(&inner.slots).acquire_owned().await;
            (turnstile, permit)
        })
        .await;
        let (mut turnstile, permit) = match turn {
            Ok((turnstile, Ok(permit))) => (turnstile, permit),
            // The semaphore is never closed; were it, there would be no slot to wait for.
            Ok((_, Err(_))) | Err(_) => {
                return Err(Refused::WouldWait {
                    needed: self.estimate(),
                });
            }
        };
        let now = Instant::now();
        let max_wait = deadline.saturating_duration_since(now);
        let shared = match turnstile.as_mut() {
            Some(bucket) => bucket.reserve(max_wait).await,
            None => None,
        };
        let wait = match shared {
            Some(Answer::Go(wait)) => {
                // Follow the shared bucket, so a fallback starts from where it was.
                let tat = now
                    .checked_add(wait + inner.local.tolerance() + inner.local.interval())
                    .unwrap_or(now);
                inner.local.advance_to(tat);
                wait
            }
            Some(Answer::TooLate(needed)) => return Err(Refused::WouldWait { needed }),
            None => {
                // The database may have taken a while: measure from now.
                let now = Instant::now();
                inner
                    .local
                    .reserve(now, deadline.saturating_duration_since(now))
                    .map_err(|needed| Refused::WouldWait { needed })?
            }
        };
        drop(turnstile);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(Slot {
            waited: start.elapsed(),
            _permit: permit,
            _held: Held::new(&inner.in_flight),
        })
    }

    /// LiveChat refused a request for the license's quota and asked for `wait` (or the
    /// backoff chose it): no request of this server, nor with a shared bucket of any server
    /// sharing it, goes before then, and after it they resume at the steady rate, not in a
    /// burst. Calls already holding their turn are not stopped. Returns at once: the shared
    /// bucket is told in the background, when the callers ahead have reserved.
    pub fn pause(&self, wait: Duration) {
        let now = Instant::now();
        if let Some(until) = now.checked_add(wait + self.inner.local.tolerance()) {
            self.inner.local.advance_to(until);
        }
        let inner = Arc::clone(&self.inner);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut turnstile = inner.turnstile.lock().await;
            if let Some(bucket) = turnstile.as_mut() {
                // It is late by the time it took to get here: the pause ends as asked.
                let left = wait.saturating_sub(now.elapsed());
                bucket.pause(left).await;
            }
        });
    }

    /// The settings in force (brought into the allowed ranges).
    pub fn settings(&self) -> LimiterSettings {
        self.inner.settings
    }

    /// Callers waiting now (for a slot or for their token).
    pub fn queued(&self) -> usize {
        self.inner.queued.load(Ordering::SeqCst)
    }

    /// Slots held now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// For a caller whose deadline passed while waiting for its turn at a slot: the time the
    /// bucket needs for the callers still waiting and this one.
    fn estimate(&self) -> Duration {
        let interval = self.inner.local.interval();
        let others = u32::try_from(self.queued().saturating_sub(1)).unwrap_or(u32::MAX);
        self.inner
            .local
            .peek(Instant::now())
            .max(interval)
            .saturating_add(interval.saturating_mul(others))
    }
}

/// A caller counted in the queue until dropped, however `acquire` ends.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    /// Counts one more caller, or returns how many wait already if that is `max`.
    fn enter(queued: &'a AtomicUsize, max: usize) -> Result<Waiting<'a>, usize> {
        queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .map(|_| Waiting(queued))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A slot counted in flight until dropped.
struct Held(Arc<AtomicUsize>);

impl Held {
    fn new(in_flight: &Arc<AtomicUsize>) -> Held {
        in_flight.fetch_add(1, Ordering::SeqCst);
        Held(Arc::clone(in_flight))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use tokio::time::sleep;

    const FAR: Duration = Duration::from_secs(3600);

    fn settings(
        max_rps: f64,
        burst: u32,
        max_concurrency: usize,
        max_queue: usize,
    ) -> LimiterSettings {
        LimiterSettings {
            max_rps,
            burst,
            max_concurrency,
            max_queue,
        }
    }

    #[test]
    fn the_defaults_and_their_checks() {
        let defaults = LimiterSettings::default();
        assert_eq!(defaults, settings(5.0, 10, 8, 256));
        assert_eq!(defaults.check(), Ok(()));
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 10_000.5] {
            let error = settings(rate, 10, 8, 256).check().unwrap_err();
            assert!(
                error.starts_with("--max-rps must be a number above 0"),
                "{error}"
            );
        }
        assert_eq!(settings(10_000.0, 1, 1, 1).check(), Ok(()));
        assert!(
            settings(5.0, 0, 8, 256)
                .check()
                .unwrap_err()
                .contains("burst")
        );
        assert!(
            settings(5.0, 10, 0, 256)
                .check()
                .unwrap_err()
                .contains("--max-concurrency")
        );
        assert!(
            settings(5.0, 10, 8, 0)
                .check()
                .unwrap_err()
                .contains("queue")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn settings_out_of_range_are_brought_into_it() {
        let limiter = Limiter::local(settings(f64::NAN, 0, 0, 0));
        assert_eq!(limiter.settings(), settings(MIN_RPS, 1, 1, 1));
        assert!(limiter.acquire(Instant::now()).await.is_ok());
        let limiter = Limiter::local(settings(f64::INFINITY, 1, 1, 1));
        assert_eq!(limiter.settings().max_rps, MAX_RPS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_caller_then_the_steady_rate_resumes_without_a_burst() {
        let limiter = Limiter::local(LimiterSettings::default());
        let start = Instant::now();
        limiter.pause(Duration::from_secs(3));
        let mut starts = Vec::new();
        for _ in 0..3 {
            let slot = limiter.acquire(start + FAR).await.unwrap();
            starts.push(Instant::now() - start);
            drop(slot);
        }
        assert_eq!(starts[0], Duration::from_secs(3), "{starts:?}");
        assert_eq!(starts[1], Duration::from_millis(3200), "{starts:?}");
        assert_eq!(starts[2], Duration::from_millis(3400), "{starts:?}");
        // A pause shorter than what the bucket already makes callers wait changes nothing.
        let before = limiter.inner.local.peek(Instant::now());
        limiter.pause(Duration::ZERO);
        assert_eq!(limiter.inner.local.peek(Instant::now()), before);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_the_rate_holds() {
        let limiter = Limiter::local(LimiterSettings::default());
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let slot = limiter.acquire(start + FAR).await.unwrap();
                let at = Instant::now();
                drop(slot);
                at - start
            }));
        }
        let mut starts = Vec::new();
        for task in tasks {
            starts.push(task.await.unwrap());
        }
        starts.sort();
        assert!(starts[..10].iter().all(|at| at.is_zero()), "{starts:?}");
        assert!(!starts[10].is_zero(), "{starts:?}");
        for (i, at) in starts.iter().enumerate() {
            // The (i + 1)-th start may be no earlier than burst + rate·x allows.
            let allowed = 10.0 + 5.0 * at.as_secs_f64() + 1e-6;
            assert!(
                (i + 1) as f64 <= allowed,
                "start {} at {at:?}: {starts:?}",
                i + 1
            );
        }
        let last = starts[39].as_secs_f64();
        assert!((5.9..=6.1).contains(&last), "the 40 took {last} s");
        assert_eq!((limiter.queued(), limiter.in_flight()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn callers_are_served_in_the_order_they_came() {
        // Both the rate and the concurrency cap make callers wait; slots are held for
        // different times.
        let limiter = Limiter::local(settings(5.0, 2, 3, 256));
        let arrived = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(StdMutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..24u64 {
            let (limiter, arrived, served) = (limiter.clone(), arrived.clone(), served.clone());
            tasks.push(tokio::spawn(async move {
                // Counted in the same poll as acquire joins the queue.
                let ticket = arrived.fetch_add(1, Ordering::SeqCst);
                let slot = limiter.acquire(Instant::now() + FAR).await.unwrap();
                served.lock().unwrap().push(ticket);
                sleep(Duration::from_millis(150 * (i % 4))).await;
                drop(slot);
            }));
            if i % 5 == 0 {
                sleep(Duration::from_millis(70)).await;
            }
        }
        for task in tasks {
            task.await.unwrap();
        }
        let served = served.lock().unwrap().clone();
        let mut sorted = served.clone();
        sorted.sort();
        assert_eq!(served, sorted);
        assert_eq!(served.len(), 24);
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_slots_than_the_cap() {
        let limiter = Limiter::local(settings(1000.0, 100, 3, 256));
        let live = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..30u64 {
            let (limiter, live, most) = (limiter.clone(), live.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let slot = limiter.acquire(Instant::now() + FAR).await.unwrap();
                let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                assert!(limiter.in_flight() <= 3);
                sleep(Duration::from_millis(20 + 10 * (i % 3))).await;
                live.fetch_sub(1, Ordering::SeqCst);
                drop(slot);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
        assert_eq!((limiter.queued(), limiter.in_flight()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_refuses_at_once() {
        let limiter = Limiter::local(settings(100.0, 10, 1, 2));
        let held = limiter.acquire(Instant::now() + FAR).await.unwrap();
        assert_eq!((limiter.queued(), limiter.in_flight()), (0, 1));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.acquire(Instant::now() + FAR).await.map(|_| ()) })
            })
            .collect();
        tokio::task::yield_now().await;
        assert_eq!(limiter.queued(), 2);
        let before = Instant::now();
        assert_eq!(
            limiter.acquire(before + FAR).await.unwrap_err(),
            Refused::QueueFull { queued: 2 }
        );
        assert_eq!(Instant::now(), before);
        drop(held);
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), Ok(()));
        }
        assert_eq!(limiter.queued(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_past_the_deadline_is_refused_at_once_and_reserves_nothing() {
        let limiter = Limiter::local(settings(1.0, 1, 8, 256));
        let start = Instant::now();
        limiter.acquire(start + FAR).await.unwrap();
        let refused = limiter
            .acquire(start + Duration::from_millis(100))
            .await
            .unwrap_err();
        assert_eq!(
            refused,
            Refused::WouldWait {
                needed: Duration::from_secs(1)
            }
        );
        assert_eq!(Instant::now(), start, "refused without waiting");
        assert_eq!(limiter.queued(), 0);
        // The next caller's turn is the one the refused caller did not take.
        let slot = limiter.acquire(start + FAR).await.unwrap();
        assert_eq!(slot.waited, Duration::from_secs(1));
        assert_eq!(Instant::now(), start + Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_for_a_slot_ends_at_the_deadline() {
        let limiter = Limiter::local(settings(5.0, 10, 1, 256));
        let start = Instant::now();
        let _held = limiter.acquire(start + FAR).await.unwrap();
        let deadline = start + Duration::from_millis(300);
        let Refused::WouldWait { needed } = limiter.acquire(deadline).await.unwrap_err() else {
            panic!("not a WouldWait");
        };
        assert_eq!(Instant::now(), deadline);
        assert!(needed >= Duration::from_millis(200), "{needed:?}");
        assert_eq!(limiter.queued(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_acquire_leaves_the_queue() {
        let limiter = Limiter::local(settings(5.0, 10, 1, 1));
        let held = limiter.acquire(Instant::now() + FAR).await.unwrap();
        let gave_up = tokio::time::timeout(
            Duration::from_millis(50),
            limiter.acquire(Instant::now() + FAR),
        )
        .await;
        assert!(gave_up.is_err());
        assert_eq!(limiter.queued(), 0);
        let next = {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.acquire(Instant::now() + FAR).await.map(|_| ()) })
        };
        tokio::task::yield_now().await;
        assert_eq!(limiter.queued(), 1);
        drop(held);
        assert_eq!(next.await.unwrap(), Ok(()));
        assert_eq!((limiter.queued(), limiter.in_flight()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_acquire_waiting_for_its_token_keeps_nobody_waiting() {
        let limiter = Limiter::local(settings(1.0, 1, 1, 256));
        let start = Instant::now();
        drop(limiter.acquire(start + FAR).await.unwrap());
        // Reserves the token at 1 s, then is dropped while it sleeps.
        let gave_up =
            tokio::time::timeout(Duration::from_millis(50), limiter.acquire(start + FAR)).await;
        assert!(gave_up.is_err());
        assert_eq!((limiter.queued(), limiter.in_flight()), (0, 0));
        // Its slot is free; the token it reserved is spent.
        let slot = limiter.acquire(start + FAR).await.unwrap();
        assert_eq!(Instant::now(), start + Duration::from_secs(2));
        drop(slot);
    }
}
