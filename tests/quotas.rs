//! Per-agent quotas, cancellation and progress (issue 11), through a real rmcp client: a call
//! over an agent's `limits` is refused before anything is sent and audited as denied;
//! `whoami` shows what is left; a cancelled read is dropped and audited `cancelled`; a write
//! already sent is left to finish; a long wait reports `notifications/progress`.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{TempDir, call, serve, settings};
use livechat_mcp::{
    agent::Agent,
    audit::{AuditStore, Decision, Entry, Outcome, QueryFilter},
    policy::{Level, Policy},
    server::{Catalog, LiveChatServer},
    version::ApiVersion,
};
use rmcp::{
    ClientHandler, ServiceExt,
    model::{
        CallToolRequestParams, NumberOrString, ProgressNotificationParam, ProgressToken,
        RequestMetaObject,
    },
    service::NotificationContext,
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

fn event(text: &str) -> Value {
    json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": text}})
}

async fn rows(store: &AuditStore) -> Vec<Entry> {
    let mut rows = store.query(&QueryFilter::default()).await.expect("query");
    rows.reverse();
    rows
}

async fn requests_to(mock: &MockServer, tool: &str) -> usize {
    let route = format!("/v3.6/agent/action/{tool}");
    mock.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == route)
        .count()
}

async fn answering(mock: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v3.6/agent/action/send_event"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"event_id": "E1"})))
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3.6/agent/action/list_chats"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"chats_summary": []})))
        .mount(mock)
        .await;
}

#[tokio::test]
async fn an_agent_over_its_quota_is_refused_before_anything_is_sent() {
    let mock = MockServer::start().await;
    answering(&mock).await;
    let policy = Policy::parse(
        "[agents.bot]\naccess = { \"*\" = \"full\" }\nlimits = { calls_per_minute = 5, writes_per_minute = 2 }\n",
        "policy.toml",
    )
    .expect("policy");
    let settings = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
    let agent = Agent::from_policy(policy.agent("bot").expect("bot"), &settings).expect("agent");
    let dir = TempDir::new("quotas");
    let store = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let catalog = Arc::new(Catalog::new(ApiVersion::V3_6).expect("catalog"));
    let client = serve(LiveChatServer::for_agent(
        catalog,
        agent,
        Some(store.clone()),
    ))
    .await;

    let (_, whoami, _) = call(&client, "whoami", json!({})).await;
    let limits = &whoami.expect("whoami")["limits"];
    assert_eq!(limits["calls_per_minute"], json!(5), "{limits}");
    assert_eq!(limits["calls_left"], json!(5), "{limits}");
    assert_eq!(limits["writes_left"], json!(2), "{limits}");

    // Invalid arguments are refused before the quota is counted.
    let (is_error, _, text) = call(&client, "send_event", json!({"chat_id": 7})).await;
    assert!(is_error && text.starts_with("invalid_arguments"), "{text}");
    for n in 0..2 {
        let (is_error, _, text) = call(&client, "send_event", event(&format!("m{n}"))).await;
        assert!(!is_error, "{text}");
    }
    let (is_error, _, text) = call(&client, "send_event", event("one too many")).await;
    assert!(is_error, "{text}");
    assert!(
        text.starts_with("over_quota: `send_event` was not called, nothing was sent to LiveChat: agent bot is over the limit of 2 writes per minute"),
        "{text}"
    );
    assert!(
        text.contains("try again in 6") || text.contains("try again in 5"),
        "{text}"
    );
    assert_eq!(
        requests_to(&mock, "send_event").await,
        2,
        "the third never left"
    );

    let (_, whoami, _) = call(&client, "whoami", json!({})).await;
    let limits = &whoami.expect("whoami")["limits"];
    assert_eq!(limits["writes_left"], json!(0), "{limits}");
    assert_eq!(
        limits["calls_left"],
        json!(3),
        "a refused call takes nothing: {limits}"
    );
    assert!(
        limits["writes_next_frees_in_secs"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 60)
    );

    // Reads use the rest of the calls, then they too are refused.
    for _ in 0..3 {
        let (is_error, _, text) = call(&client, "list_chats", json!({})).await;
        assert!(!is_error, "{text}");
    }
    let (is_error, _, text) = call(&client, "list_chats", json!({})).await;
    assert!(
        is_error && text.contains("over the limit of 5 calls per minute"),
        "{text}"
    );
    assert_eq!(requests_to(&mock, "list_chats").await, 3);

    let denied: Vec<Entry> = rows(&store)
        .await
        .into_iter()
        .filter(|r| r.decision == Decision::Denied)
        .collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert_eq!(
        denied[0].reason.as_deref(),
        Some("over the limit of 2 writes per minute")
    );
    assert!(
        denied[0]
            .summary
            .ends_with("— denied: over the limit of 2 writes per minute (as server token)"),
        "{}",
        denied[0].summary
    );
    assert_eq!(
        denied[1].reason.as_deref(),
        Some("over the limit of 5 calls per minute")
    );
    client.cancel().await.ok();
}

fn server_for(mock: &MockServer, store: &AuditStore, budget: Duration) -> LiveChatServer {
    let settings = settings(&mock.uri(), ApiVersion::V3_6, Level::Full);
    let catalog = Arc::new(Catalog::new(ApiVersion::V3_6).expect("catalog"));
    LiveChatServer::for_agent(
        catalog,
        Agent::local(&settings).expect("agent"),
        Some(store.clone()),
    )
    .with_traffic(None, budget)
}

/// Waits (up to `within`) for the outcome row of the `n`th upstream call.
async fn outcome_row(store: &AuditStore, within: Duration) -> Option<Entry> {
    let until = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < until {
        if let Some(row) = rows(store)
            .await
            .into_iter()
            .find(|r| r.completes.is_some())
        {
            return Some(row);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn a_cancelled_read_is_dropped_and_recorded_as_cancelled() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"chats_summary": []}))
                .set_delay(Duration::from_secs(8)),
        )
        .mount(&mock)
        .await;
    let dir = TempDir::new("cancel-read");
    let store = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let mut settings_ = settings(&mock.uri(), ApiVersion::V3_6, Level::Full);
    settings_.timeout = Duration::from_secs(20);
    let catalog = Arc::new(Catalog::new(ApiVersion::V3_6).expect("catalog"));
    let server = LiveChatServer::for_agent(
        catalog,
        Agent::local(&settings_).expect("agent"),
        Some(store.clone()),
    );
    let client = serve(server).await;
    // Dropping the call's future makes the rmcp client send `notifications/cancelled`.
    let call = client.call_tool(CallToolRequestParams::new("list_chats"));
    let gave_up = tokio::time::timeout(Duration::from_millis(500), call).await;
    assert!(
        gave_up.is_err(),
        "the stand-in is slow, so the call is still running"
    );
    // The row appears long before the stand-in's 8 s answer would have.
    let row = outcome_row(&store, Duration::from_secs(4))
        .await
        .expect("the cancelled call is recorded while the stand-in still delays");
    assert_eq!(row.outcome, Outcome::Cancelled, "{}", row.summary);
    assert!(row.summary.contains("cancelled"), "{}", row.summary);
    assert_eq!(requests_to(&mock, "list_chats").await, 1);
    client.cancel().await.ok();
}

#[tokio::test]
async fn a_write_already_sent_is_left_to_finish_and_recorded() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"event_id": "E1"}))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&mock)
        .await;
    let dir = TempDir::new("cancel-write");
    let store = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let client = serve(server_for(&mock, &store, Duration::from_secs(10))).await;
    let Value::Object(args) = event("in flight") else {
        unreachable!()
    };
    let call = client.call_tool(CallToolRequestParams::new("send_event").with_arguments(args));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), call)
            .await
            .is_err()
    );
    let row = outcome_row(&store, Duration::from_secs(10))
        .await
        .expect("the write's outcome is recorded");
    assert_eq!(row.outcome, Outcome::Ok, "{}", row.summary);
    assert_eq!(requests_to(&mock, "send_event").await, 1, "sent once");
    client.cancel().await.ok();
}

/// Records the progress notifications it receives.
#[derive(Clone, Default)]
struct Progress(Arc<Mutex<Vec<ProgressNotificationParam>>>);

impl ClientHandler for Progress {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<rmcp::RoleClient>,
    ) {
        if let Ok(mut seen) = self.0.lock() {
            seen.push(params);
        }
    }
}

#[tokio::test]
async fn a_long_wait_reports_progress_when_asked() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "3")
                .set_body_json(
                    json!({"error": {"type": "too_many_requests", "message": "slow down"}}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mock)
        .await;
    answering(&mock).await;
    let dir = TempDir::new("progress");
    let store = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let server = server_for(&mock, &store, Duration::from_secs(10));
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let progress = Progress::default();
    let client = progress.clone().serve(client_io).await.expect("client");
    let mut params = CallToolRequestParams::new("list_chats");
    let mut meta = RequestMetaObject::new();
    meta.set_progress_token(ProgressToken(NumberOrString::String("wait-1".into())));
    params.meta = Some(meta);
    let result = client.call_tool(params).await.expect("tools/call");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let seen = progress.0.lock().expect("progress").clone();
    assert!(!seen.is_empty(), "a 3 s wait reports progress");
    // rmcp's client puts its own token on the request; every report carries that one.
    assert!(
        seen.iter()
            .all(|p| p.progress_token == seen[0].progress_token),
        "{seen:?}"
    );
    assert!(
        seen[0]
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with("waiting for")),
        "{seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[1].progress > w[0].progress),
        "progress increases: {seen:?}"
    );
    let row = rows(&store)
        .await
        .into_iter()
        .find(|r| r.completes.is_some())
        .expect("outcome");
    assert_eq!(row.attempts, Some(2));
    assert!(row.waited_ms.is_some_and(|ms| ms >= 3000), "{row:?}");
    client.cancel().await.ok();
}
