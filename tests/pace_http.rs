//! One pace for the whole license (issue 11): the agents of one HTTP server share its token
//! bucket, so 40 concurrent calls from two agents reach LiveChat no faster than the bucket
//! allows, and all succeed; `/metrics` shows the time they waited. A call whose client goes
//! away is cancelled.

mod http_support;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use http_support::*;
use livechat_mcp::{
    http::{HttpOptions, HttpSetup, HttpState},
    limiter::{Limiter, LimiterSettings},
    policy::Policy,
};
use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

/// Keeps the arrival times of requests.
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

/// Fails when more requests arrived in some window than the bucket allows: `burst + rate ·
/// window`, plus one for the window's edges; and, after the burst, more than the rate (plus
/// one) in any one second.
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
                "{seen} requests within {window:.3} s; at most {allowed} allowed"
            );
        }
    }
    for (i, start) in times.iter().enumerate().skip(burst) {
        let in_second = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        assert!(
            in_second <= rate as usize + 1,
            "{in_second} requests in one second after the burst"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_calls_from_two_agents_keep_one_pace() {
    let mock = MockServer::start().await;
    let arrivals = Arrivals::default();
    Mock::given(method("POST"))
        .respond_with(arrivals.clone())
        .mount(&mock)
        .await;
    let (text, keys) = policy(&[
        ("alpha", r#"{ chats = "read" }"#),
        ("beta", r#"{ chats = "read" }"#),
    ]);
    let policy = Policy::parse(&text, "pace.toml").expect("policy");
    let options = HttpOptions {
        admin_key_sha256: Some(livechat_mcp::policy::key_sha256(ADMIN_KEY)),
        ..HttpOptions::default()
    };
    let mut setup =
        HttpSetup::from_policy(policy, &upstream(&mock.uri()), None, options).expect("setup");
    setup.limiter = Some(Limiter::local(LimiterSettings {
        max_rps: 5.0,
        burst: 10,
        max_concurrency: 8,
        max_queue: 256,
    }));
    setup.retry_budget = Duration::from_secs(20);
    let server = start(HttpState::new(setup).expect("state")).await;

    let alpha = Arc::new(McpClient::connect(&server.base, &keys[0]).await);
    let beta = Arc::new(McpClient::connect(&server.base, &keys[1]).await);
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..40 {
        let client = if n % 2 == 0 {
            alpha.clone()
        } else {
            beta.clone()
        };
        calls.spawn(async move { client.call("list_chats", json!({})).await });
    }
    let mut ok = 0;
    while let Some(done) = calls.join_next().await {
        let (is_error, answer) = done.expect("task");
        assert!(!is_error, "{answer}");
        ok += 1;
    }
    assert_eq!(ok, 40, "every call succeeds");
    let times = arrivals.0.lock().expect("times").clone();
    assert_eq!(times.len(), 40, "each call reached the stand-in once");
    assert_paced(&times, 5.0, 10);
    let first = *times.iter().min().expect("first");
    let last = *times.iter().max().expect("last");
    assert!(
        last.duration_since(first) >= Duration::from_secs(5),
        "30 calls after the burst of 10 take about 6 s at 5/s, not {:?}",
        last.duration_since(first)
    );

    install_crypto();
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", server.base))
        .header("Authorization", admin_bearer())
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("livechat_mcp_limiter_wait_seconds_count 40"),
        "{metrics}"
    );
    let waited: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("livechat_mcp_limiter_wait_seconds_sum "))
        .and_then(|v| v.parse().ok())
        .expect("the wait sum");
    assert!(
        waited > 10.0,
        "30 calls waited between 0.2 s and 6 s each: {waited}"
    );
}

/// A client whose connection closes while its call runs (no `notifications/cancelled`, just
/// gone): the read is cancelled and recorded `cancelled` long before LiveChat's slow answer,
/// and the session still serves the next call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_client_goes_away_is_cancelled_and_recorded() {
    use wiremock::matchers::path;
    let mock = MockServer::start().await;
    Mock::given(path("/v3.6/agent/action/list_chats"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"chats_summary": []}))
                .set_delay(Duration::from_secs(10)),
        )
        .mount(&mock)
        .await;
    Mock::given(path("/v3.6/agent/action/list_archives"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"chats": []})))
        .mount(&mock)
        .await;
    let (text, keys) = policy(&[("reader", r#"{ chats = "read" }"#)]);
    let policy = Policy::parse(&text, "gone.toml").expect("policy");
    let dir = TempDir::new("gone");
    let mut settings = upstream(&mock.uri());
    settings.timeout = Duration::from_secs(30);
    let server = start_audited(policy, &settings, &dir).await;
    let client = McpClient::connect(&server.base, &keys[0]).await;

    // The same request McpClient sends, from a client that gives up after half a second.
    install_crypto();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let gave_up = impatient
        .post(&client.url)
        .bearer_auth(&client.key)
        .header("accept", ACCEPT)
        .header("mcp-session-id", &client.session)
        .header("mcp-protocol-version", PROTOCOL)
        .json(&json!({"jsonrpc": "2.0", "id": 900, "method": "tools/call",
            "params": {"name": "list_chats", "arguments": {}}}))
        .send()
        .await;
    // The session answers with an event stream at once; the answer would come on it.
    let gave_up = match gave_up {
        Ok(response) => response.text().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(gave_up.is_err(), "the stand-in is slow: {gave_up:?}");

    let db = dir.join("audit.db");
    let mut outcome = None;
    for _ in 0..80 {
        outcome = audit_rows(&db)
            .await
            .into_iter()
            .find(|r| r.tool == "list_chats" && r.completes.is_some());
        if outcome.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let outcome = outcome.expect("recorded within 4 s, long before the stand-in's 10 s answer");
    assert_eq!(
        outcome.outcome,
        livechat_mcp::audit::Outcome::Cancelled,
        "{}",
        outcome.summary
    );
    let (is_error, result) = client.call("list_archives", json!({})).await;
    assert!(!is_error, "the session goes on: {result}");
}
