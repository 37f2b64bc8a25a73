//! The limiter's bucket shared through PostgreSQL, on a throwaway server (skipped, loudly,
//! where the `postgresql` package is not installed): two replicas on one key keep to one rate
//! together, another key is a bucket of its own, and a database that goes away, drops the
//! session or hangs holds no call for more than 2 s.

#[path = "common/postgres.rs"]
mod postgres;

use std::time::Duration;

use livechat_mcp::limiter::{Limiter, LimiterSettings, Refused};
use postgres::Postgres;
use tokio::time::Instant;

const RATE: f64 = 5.0;
const BURST: u32 = 2;

fn settings() -> LimiterSettings {
    LimiterSettings {
        max_rps: RATE,
        burst: BURST,
        max_concurrency: 8,
        max_queue: 256,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_rate_and_keys_are_apart_until_the_database_goes() {
    let Some(pg) = Postgres::start() else { return };
    // The limiter's warnings, shown when the test fails.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let url = pg.create_db("limiter");
    // Opened together: the table is created once, whoever comes first.
    let (a, b) = tokio::join!(
        Limiter::shared(settings(), &url, "license-1"),
        Limiter::shared(settings(), &url, "license-1"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());

    // 30 calls, split across the two replicas, all at once.
    let start = Instant::now();
    let far = start + Duration::from_secs(60);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let slot = limiter.acquire(far).await.unwrap();
            let at = start.elapsed();
            drop(slot);
            at
        }));
    }
    let mut starts = Vec::new();
    for task in tasks {
        starts.push(task.await.unwrap());
    }
    starts.sort();
    for (i, at) in starts.iter().enumerate() {
        // One more than burst + rate·x allows, for the clocks' granularity.
        let allowed = f64::from(BURST) + RATE * at.as_secs_f64() + 1.0;
        assert!(
            (i + 1) as f64 <= allowed,
            "start {} at {at:?} is ahead of the shared rate: {starts:?}",
            i + 1
        );
    }
    // One rate: (30 − 2) / 5 = 5.6 s; two (each replica its own bucket) would take 2.6 s.
    let last = starts[29].as_secs_f64();
    assert!((5.2..7.5).contains(&last), "the 30 calls took {last} s");

    // The bucket is empty now: a call that cannot wait is refused, told the time it needs,
    // and reserves nothing.
    let refused = b
        .acquire(Instant::now() + Duration::from_millis(10))
        .await
        .unwrap_err();
    let Refused::WouldWait { needed } = refused else {
        panic!("{refused:?}");
    };
    assert!(
        needed > Duration::from_millis(10) && needed <= Duration::from_millis(250),
        "{needed:?}"
    );

    // Another key is a bucket of its own, full.
    let other = Limiter::shared(settings(), &url, "license-2")
        .await
        .unwrap();
    for _ in 0..BURST {
        let slot = other
            .acquire(Instant::now() + Duration::from_millis(10))
            .await
            .unwrap();
        assert!(
            slot.waited < Duration::from_millis(100),
            "{:?}",
            slot.waited
        );
    }

    // The database goes away: calls go on, at this server's own pace, without delay.
    drop(pg);
    let before = Instant::now();
    for _ in 0..3 {
        a.acquire(Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
    }
    let took = before.elapsed();
    // The in-memory bucket follows the shared one: at most a burst's worth of waiting.
    assert!(took < Duration::from_secs(2), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_or_stuck_connection_falls_back_then_reconnects() {
    let Some(pg) = Postgres::start() else { return };
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let url = pg.create_db("limiter");
    let fast = LimiterSettings {
        max_rps: 50.0,
        burst: 1,
        ..settings()
    };
    let limiter = Limiter::shared(fast, &url, "license-1").await.unwrap();
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let tat = async || -> i64 {
        admin
            .query_one(
                "SELECT tat_us FROM livechat_mcp_limiter WHERE key = 'license-1'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    };
    let soon = || Instant::now() + Duration::from_secs(5);
    limiter.acquire(soon()).await.unwrap();
    let before = tat().await;
    assert!(before > 0);

    // An administrator ends the limiter's session.
    let ended = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'livechat-mcp' AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(ended, 1);

    // Calls go on (from memory while the session is gone), and soon through the database
    // again.
    let start = Instant::now();
    let mut shared_again = false;
    for _ in 0..100 {
        let slot = limiter.acquire(soon()).await.unwrap();
        assert!(
            slot.waited < Duration::from_millis(500),
            "{:?}",
            slot.waited
        );
        if tat().await != before {
            shared_again = true;
            break;
        }
    }
    assert!(shared_again, "not reconnected after {:?}", start.elapsed());

    // Someone holds the row: the reservation is given up after 2 s and the call goes on.
    admin
        .batch_execute(
            "BEGIN; SELECT 1 FROM livechat_mcp_limiter WHERE key = 'license-1' FOR UPDATE",
        )
        .await
        .unwrap();
    let slot = limiter.acquire(soon()).await.unwrap();
    assert!(
        slot.waited >= Duration::from_secs(2) && slot.waited < Duration::from_secs(3),
        "{:?}",
        slot.waited
    );
    admin.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    // Port 1 on the loopback: refused at once.
    let error = Limiter::shared(
        settings(),
        "postgres://someone:s3cret@127.0.0.1:1/limits",
        "license-1",
    )
    .await
    .unwrap_err();
    assert!(!error.contains("s3cret"), "{error}");
    assert!(error.contains("postgres://127.0.0.1:1/limits"), "{error}");
}

/// A quota refusal seen by one replica holds back the other: the pause goes through the
/// shared row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_in_one_replica_holds_back_the_other() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.create_db("limiter_pause");
    let a = Limiter::shared(settings(), &url, "license-p")
        .await
        .unwrap();
    let b = Limiter::shared(settings(), &url, "license-p")
        .await
        .unwrap();
    a.pause(Duration::from_millis(1500));
    // The pause is written in the background; give it a moment to land.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    let slot = b
        .acquire(asked + Duration::from_secs(10))
        .await
        .expect("a turn after the pause");
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(1000),
        "b went {waited:?} after a's 1.5 s pause began (200 ms in)"
    );
    drop(slot);
    // A replica on another key is not held back.
    let c = Limiter::shared(settings(), &url, "license-q")
        .await
        .unwrap();
    let asked = Instant::now();
    drop(
        c.acquire(asked + Duration::from_secs(10))
            .await
            .expect("turn"),
    );
    assert!(asked.elapsed() < Duration::from_millis(1000));
}
