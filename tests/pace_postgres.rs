//! One pace for the license across replicas (issue 11): two `livechat-mcp serve --http`
//! processes — the built binary — on one PostgreSQL audit database share one token bucket, so
//! 30 concurrent calls, 15 through each, reach LiveChat no faster than one bucket allows (two
//! buckets would let them through in about half the time), all succeed, and the trail both
//! wrote shows each call's outcome and the time it waited for its turn. Runs on a throwaway
//! PostgreSQL server (skipped, loudly, where the `postgresql` package is not installed).

#[path = "common/postgres.rs"]
mod postgres;

mod http_support;

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use http_support::{McpClient, ServerProcess, TempDir, policy};
use livechat_mcp::audit::{AuditFiles, AuditStore, Opening, QueryFilter};
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

const MAX_RPS: f64 = 4.0;
const BURST: usize = 2;
const CALLS_PER_REPLICA: usize = 15;
const CALLS: usize = 2 * CALLS_PER_REPLICA;

/// The LiveChat stand-in: keeps the arrival time of every `list_chats` and answers it with no
/// chats.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<Instant>>>);

impl wiremock::Respond for Arrivals {
    fn respond(&self, _request: &wiremock::Request) -> ResponseTemplate {
        if let Ok(mut times) = self.0.lock() {
            times.push(Instant::now());
        }
        ResponseTemplate::new(200).set_body_json(json!({"chats_summary": [], "found_chats": 0}))
    }
}

/// Fails when more requests arrived in some window than one bucket allows: `burst + rate ·
/// window`, plus one for the window's edges.
fn assert_paced(times: &[Instant], rate: f64, burst: usize) {
    let mut times = times.to_vec();
    times.sort();
    for (i, start) in times.iter().enumerate() {
        for (j, end) in times.iter().enumerate().skip(i) {
            let window = end.duration_since(*start).as_secs_f64();
            let allowed = burst as f64 + rate * window + 1.0;
            let seen = (j - i + 1) as f64;
            assert!(
                seen <= allowed,
                "{seen} requests within {window:.3} s; one bucket allows at most {allowed}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_keep_one_pace() {
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let url = pg.create_db("pace");

    let mock = MockServer::start().await;
    let arrivals = Arrivals::default();
    Mock::given(method("POST"))
        .and(path_regex("/list_chats$"))
        .respond_with(arrivals.clone())
        .mount(&mock)
        .await;

    let dir = TempDir::new("pace-pg");
    let (text, keys) = policy(&[("reader", r#"{ chats = "read" }"#)]);
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, text).expect("policy");
    // One key and one anchor for both replicas: they append to one chain.
    let files = AuditFiles {
        key: Some(dir.join("audit.key")),
        anchor: Some(dir.join("audit.anchor")),
    };
    let key_file = dir.join("audit.key");
    let anchor_file = dir.join("audit.anchor");
    let (rps, burst) = (MAX_RPS.to_string(), BURST.to_string());
    let args = [
        "--policy",
        policy_path.to_str().expect("utf-8"),
        "--audit",
        &url,
        "--audit-key",
        key_file.to_str().expect("utf-8"),
        "--audit-anchor",
        anchor_file.to_str().expect("utf-8"),
        "--api-url",
        &mock.uri(),
        "--max-rps",
        &rps,
        "--burst",
        &burst,
        // The last call waits about (30 − 2) / 4 = 7 s for its turn: let it, with room.
        "--retry-budget-secs",
        "60",
    ];
    let envs = [("LIVECHAT_ACCESS_TOKEN", "pace-postgres-token")];
    // One after the other: the first creates the audit key the second then reads.
    let mut replicas: Vec<ServerProcess> = tokio::task::block_in_place(|| {
        (0..2).map(|_| ServerProcess::spawn(&args, &envs)).collect()
    });

    let mut clients = Vec::new();
    for replica in &replicas {
        clients.push(Arc::new(McpClient::connect(&replica.base, &keys[0]).await));
    }
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..CALLS {
        let client = clients[n % 2].clone();
        calls.spawn(async move { (n % 2, client.call("list_chats", json!({})).await) });
    }
    let mut ok = [0; 2];
    while let Some(done) = calls.join_next().await {
        let (replica, (is_error, answer)) = done.expect("task");
        assert!(
            !is_error,
            "a call through replica {replica} failed: {answer}"
        );
        ok[replica] += 1;
    }
    let elapsed = started.elapsed();
    assert_eq!(
        ok, [CALLS_PER_REPLICA; 2],
        "every call succeeds, 15 through each replica"
    );

    let times = arrivals.0.lock().expect("times").clone();
    assert_eq!(times.len(), CALLS, "each call reached the stand-in once");
    assert_eq!(
        mock.received_requests().await.unwrap_or_default().len(),
        CALLS,
        "nothing else reached the stand-in"
    );
    assert_paced(&times, MAX_RPS, BURST);
    let first = *times.iter().min().expect("first");
    let last = *times.iter().max().expect("last");
    let spread = last.duration_since(first).as_secs_f64();
    let least = (CALLS - BURST) as f64 / MAX_RPS - 1.0;
    eprintln!(
        "{CALLS} calls through two replicas at {MAX_RPS}/s, burst {BURST}: arrivals spread over {spread:.2} s (all done in {elapsed:?})"
    );
    assert!(
        spread >= least,
        "one bucket spreads 30 calls over about {:.0} s (two would take half): {spread:.2} s",
        least + 1.0
    );

    for (n, replica) in replicas.iter_mut().enumerate() {
        let status = tokio::task::block_in_place(|| replica.terminate());
        assert!(
            status.success(),
            "replica {n} exited with {status}:\n{}",
            replica.stderr()
        );
    }

    // The trail both replicas wrote: one chain, a pending row and an outcome per call.
    let store = AuditStore::open_with(&url, &files, Opening::Read)
        .await
        .expect("the trail opens");
    assert_eq!(store.verify(None).await, Ok(2 * CALLS as u64));
    let rows = store.query(&QueryFilter::default()).await.expect("query");
    let outcomes: Vec<_> = rows
        .iter()
        .filter(|e| e.tool == "list_chats" && e.outcome.as_str() == "ok")
        .collect();
    assert_eq!(outcomes.len(), CALLS, "{rows:#?}");
    let instances: std::collections::BTreeSet<_> =
        outcomes.iter().map(|e| e.instance.as_str()).collect();
    assert_eq!(instances.len(), 2, "both replicas wrote: {instances:?}");
    let waited_ms: u64 = outcomes.iter().filter_map(|e| e.waited_ms).sum();
    eprintln!(
        "the audit trail: {} ok outcomes that waited {:.1} s in all",
        outcomes.len(),
        waited_ms as f64 / 1000.0
    );
    assert!(
        waited_ms > 10_000,
        "28 calls waited between 0.25 s and 7 s each for their turn: {waited_ms} ms in all"
    );
}
