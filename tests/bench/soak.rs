//! Soak (issue 11): minutes of concurrent calls, reads and writes, against a stand-in that
//! injects the faults the server retries or reports (quota refusals with and without
//! `Retry-After`, 503 pages, `internal`, answers slower than the timeout), through the limiter
//! and a SQLite audit trail. Prints the resident memory every 10 s and, at the end, whether
//! memory stayed flat and whether any call outlived its bound (the retry budget plus one
//! request timeout). Exits 1 if either fails.
//!
//! `cargo run --release --example soak -- --secs 300 --clients 16`

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Json, Router, extract::Path, http::StatusCode, response::IntoResponse, routing::post};
use livechat_mcp::{
    agent::Agent,
    audit::AuditStore,
    config::{Credentials, Settings},
    limiter::{Limiter, LimiterSettings},
    policy::Level,
    server::{Catalog, LiveChatServer},
    version::ApiVersion,
};
use serde_json::{Value, json};

struct Args {
    secs: u64,
    clients: usize,
    budget: Duration,
    timeout: Duration,
    rps: f64,
}

fn args() -> Args {
    let mut out = Args {
        secs: 300,
        clients: 16,
        budget: Duration::from_secs(3),
        timeout: Duration::from_secs(2),
        rps: 200.0,
    };
    let all: Vec<String> = std::env::args().skip(1).collect();
    for pair in all.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        match pair[0].as_str() {
            "--secs" => out.secs = value.parse().unwrap_or(out.secs),
            "--clients" => out.clients = value.parse().unwrap_or(out.clients),
            "--budget-secs" => out.budget = Duration::from_secs(value.parse().unwrap_or(3)),
            "--timeout-secs" => out.timeout = Duration::from_secs(value.parse().unwrap_or(2)),
            "--max-rps" => out.rps = value.parse().unwrap_or(out.rps),
            other => eprintln!("soak: ignoring `{other}`"),
        }
    }
    out
}

/// The stand-in: mostly answers, sometimes fails the way LiveChat and proxies do.
async fn stand_in(Path(method): Path<String>) -> axum::response::Response {
    let roll: f64 = rand::random();
    let envelope = |kind: &str| json!({"error": {"type": kind, "message": "injected"}});
    if roll < 0.05 {
        (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", "1")], "").into_response()
    } else if roll < 0.08 {
        (StatusCode::OK, Json(envelope("too_many_requests"))).into_response()
    } else if roll < 0.12 {
        (StatusCode::SERVICE_UNAVAILABLE, "<html>unavailable</html>").into_response()
    } else if roll < 0.14 {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(envelope("internal")),
        )
            .into_response()
    } else if roll < 0.16 {
        tokio::time::sleep(Duration::from_secs(4)).await;
        (StatusCode::OK, Json(json!({}))).into_response()
    } else {
        let body = match method.as_str() {
            "send_event" => json!({"event_id": "Q20N9CKRX2"}),
            _ => json!({"chats_summary": [], "found_chats": 0}),
        };
        (StatusCode::OK, Json(body)).into_response()
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = args();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the stand-in");
    let addr = listener.local_addr().expect("address");
    let app = Router::new().route("/v3.6/agent/action/{method}", post(stand_in));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = std::env::temp_dir().join(format!("livechat-mcp-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let mut settings = Settings::new(format!("http://{addr}"));
    settings.version = ApiVersion::V3_6;
    settings.access = Level::Full;
    settings.timeout = args.timeout;
    settings.credentials = Credentials::from_values(Some("soak-token"), None, None);
    let catalog = Arc::new(Catalog::new(ApiVersion::V3_6).expect("catalog"));
    let limiter = Limiter::local(LimiterSettings {
        max_rps: args.rps,
        burst: 20,
        max_concurrency: 8,
        max_queue: 1024,
    });
    let server = LiveChatServer::for_agent(
        catalog,
        Agent::local(&settings).expect("agent"),
        Some(store),
    )
    .with_traffic(Some(limiter), args.budget);

    // A call may take its first request's whole timeout, then wait and retry within the
    // budget; the audit rows add milliseconds.
    let bound = args.budget + args.timeout + Duration::from_millis(500);
    let stop = Instant::now() + Duration::from_secs(args.secs);
    let calls = Arc::new(AtomicU64::new(0));
    let over_bound = Arc::new(AtomicU64::new(0));
    let slowest = Arc::new(AtomicU64::new(0));
    let kinds: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let mut tasks = Vec::new();
    for client in 0..args.clients {
        let (server, calls, over_bound, slowest, kinds) = (
            server.clone(),
            calls.clone(),
            over_bound.clone(),
            slowest.clone(),
            kinds.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < stop {
                n += 1;
                let (tool, arguments) = if (n + client as u64).is_multiple_of(4) {
                    (
                        "send_event",
                        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": format!("soak {n}")}}),
                    )
                } else {
                    ("list_chats", json!({}))
                };
                let Value::Object(arguments) = arguments else {
                    continue;
                };
                let started = Instant::now();
                let outcome = server.call(tool, Some(arguments)).await;
                let took = started.elapsed();
                calls.fetch_add(1, Ordering::Relaxed);
                slowest.fetch_max(took.as_millis() as u64, Ordering::Relaxed);
                if took > bound {
                    over_bound.fetch_add(1, Ordering::Relaxed);
                }
                let kind = outcome
                    .failure_kind
                    .map_or("ok".to_string(), |k| k.as_str().to_string());
                if let Ok(mut kinds) = kinds.lock() {
                    *kinds.entry(format!("{tool}: {kind}")).or_default() += 1;
                }
            }
        }));
    }

    let started = Instant::now();
    let mut samples = Vec::new();
    println!(
        "soak: {} clients for {} s, budget {:?}, timeout {:?}, bound {:?}",
        args.clients, args.secs, args.budget, args.timeout, bound
    );
    while Instant::now() < stop {
        tokio::time::sleep(Duration::from_secs(10).min(stop - Instant::now())).await;
        let rss = rss_kib();
        samples.push((started.elapsed().as_secs(), rss));
        println!(
            "t={:>4} s  calls={:>7}  rss={:>7} KiB  slowest={} ms  over bound={}",
            started.elapsed().as_secs(),
            calls.load(Ordering::Relaxed),
            rss,
            slowest.load(Ordering::Relaxed),
            over_bound.load(Ordering::Relaxed)
        );
    }
    for task in tasks {
        let _ = task.await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(kinds) = kinds.lock() {
        for (kind, n) in kinds.iter() {
            println!("  {kind}: {n}");
        }
    }
    // Flat: the last sample against the one at about a minute (after warm-up), or the first.
    let warm = samples
        .iter()
        .find(|(t, _)| *t >= 60)
        .or(samples.first())
        .map(|&(_, rss)| rss)
        .unwrap_or(0);
    let last = samples.last().map(|&(_, rss)| rss).unwrap_or(0);
    let growth = if warm > 0 {
        (last as f64 - warm as f64) / warm as f64 * 100.0
    } else {
        0.0
    };
    let over = over_bound.load(Ordering::Relaxed);
    println!(
        "soak: {} calls, {:.0} calls/s; rss {warm} KiB after warm-up, {last} KiB at the end ({growth:+.1}%); slowest call {} ms; calls over {bound:?}: {over}",
        calls.load(Ordering::Relaxed),
        calls.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
        slowest.load(Ordering::Relaxed)
    );
    if over > 0 || growth > 25.0 {
        println!("soak: FAILED");
        return std::process::ExitCode::FAILURE;
    }
    println!("soak: passed");
    std::process::ExitCode::SUCCESS
}
