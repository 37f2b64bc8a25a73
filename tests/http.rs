//! The hosted HTTP server (`serve --http`). The router from `http_app()` is driven with
//! `tower::ServiceExt::oneshot` for what is decided before MCP (401, 403, 413, 429) and for
//! `/healthz` and `/metrics`; everything else runs on a real loopback socket, against the
//! embedded sandbox as LiveChat.

mod http_support;

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{Request, Response, StatusCode},
};
use http_support::*;
use livechat_mcp::{
    audit::{AuditStore, Decision},
    http::{HttpOptions, HttpState, http_app},
    tools,
};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

const HOST: &str = "localhost:8000";

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {},
        "clientInfo": {"name": "oneshot", "version": "0"}}})
}

/// A POST to `path` with the headers an MCP client sends, plus `extra`.
fn post(path: &str, key: Option<&str>, body: &Value, extra: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post(path)
        .header("host", HOST)
        .header("accept", ACCEPT)
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body.to_string())).expect("request")
}

fn get(path: &str, extra: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::get(path)
        .header("host", HOST)
        .body(Body::empty())
        .expect("request");
    for (name, value) in extra {
        let name = axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name");
        request
            .headers_mut()
            .insert(name, value.parse().expect("value"));
    }
    request
}

/// A GET with the admin key, which `/metrics` and the detail of `/healthz` need.
fn admin_get(path: &str) -> Request<Body> {
    get(path, &[("authorization", &admin_bearer())])
}

async fn send(state: &Arc<HttpState>, request: Request<Body>) -> Response<Body> {
    http_app(state.clone())
        .oneshot(request)
        .await
        .expect("infallible")
}

async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

fn challenge(response: &Response<Body>) -> String {
    response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn ops_and_ro_state(options: HttpOptions) -> (Arc<HttpState>, String, String, SandboxGuard) {
    let (sandbox, settings) = sandbox().await;
    let (policy, ops, ro) = ops_and_ro();
    (
        state(policy, &settings, None, options),
        ops,
        ro,
        SandboxGuard(sandbox),
    )
}

/// Keeps the sandbox serving for the test's lifetime.
struct SandboxGuard(#[allow(dead_code)] livechat_mcp::sandbox::SandboxHandle);

#[tokio::test]
async fn requests_without_a_valid_key_get_401_and_never_reach_mcp() {
    let (state, ops, _, _sandbox) = ops_and_ro_state(HttpOptions::default()).await;
    let cases: Vec<(&str, Request<Body>, &str)> = vec![
        (
            "no key",
            post("/mcp", None, &initialize(), &[]),
            "needs a key",
        ),
        (
            "unknown key",
            post(
                "/mcp",
                Some("lcmcp_not-a-key-of-this-policy"),
                &initialize(),
                &[],
            ),
            "not known",
        ),
        (
            "not bearer",
            post(
                "/mcp",
                None,
                &initialize(),
                &[("authorization", "Basic b3BzOng=")],
            ),
            "Bearer <key>",
        ),
        (
            "valid key, but also in the query",
            post(&format!("/mcp?key={ops}"), Some(&ops), &initialize(), &[]),
            "not accepted in the URL",
        ),
        (
            "valid key under another parameter name",
            post(&format!("/mcp?x={ops}"), None, &initialize(), &[]),
            "not accepted in the URL",
        ),
        ("SSE without a key", get("/sse", &[]), "needs a key"),
        (
            "messages without a key",
            post("/messages?sessionId=x", None, &initialize(), &[]),
            "needs a key",
        ),
    ];
    for (label, request, says) in cases {
        let response = send(&state, request).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{label}");
        assert!(
            challenge(&response).starts_with("Bearer realm=\"livechat-mcp\""),
            "{label}: {}",
            challenge(&response)
        );
        let body = text(response).await;
        assert!(body.contains(says), "{label}: {body}");
        assert!(!body.contains(&ops), "{label}: the key is echoed: {body}");
    }
    let metrics = text(send(&state, admin_get("/metrics")).await).await;
    assert!(
        metrics.contains(r#"livechat_mcp_http_rejected_requests_total{reason="unauthorized"} 7"#),
        "{metrics}"
    );
    for agent in ["ops", "ro"] {
        assert!(
            metrics.contains(&format!(
                r#"livechat_mcp_open_sessions{{agent="{agent}",transport="streamable_http"}} 0"#
            )),
            "no session was created: {metrics}"
        );
    }
    assert_eq!(state.metrics().calls(), 0);

    // The same request with the key alone goes through.
    let response = send(&state, post("/mcp", Some(&ops), &initialize(), &[])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("mcp-session-id"));
}

#[tokio::test]
async fn a_foreign_host_or_origin_gets_403() {
    let (state, ops, _, _sandbox) = ops_and_ro_state(HttpOptions {
        allowed_hosts: vec!["mcp.example.com".into()],
        ..HttpOptions::default()
    })
    .await;
    let forbidden = [
        vec![("host", "evil.example.com:8000")],
        vec![("host", "127.0.0.1.nip.io")],
        vec![("host", HOST), ("origin", "http://evil.example.com:8000")],
        vec![("host", HOST), ("origin", "null")],
    ];
    for headers in forbidden {
        let mut request = post("/mcp", Some(&ops), &initialize(), &[]);
        for (name, value) in &headers {
            request
                .headers_mut()
                .insert(*name, value.parse().expect("header"));
        }
        let response = send(&state, request).await;
        let status = response.status();
        let body = text(response).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}: {body}");
        assert!(body.starts_with("forbidden:"), "{body}");
    }
    // No key needed to be refused, and /healthz is guarded too.
    let response = send(&state, get("/healthz", &[("host", "evil.example.com")])).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Two `Host` headers cannot smuggle a foreign one past the check.
    let mut twice = get("/healthz", &[]);
    twice
        .headers_mut()
        .append("host", "evil.example.com".parse().expect("header"));
    let response = send(&state, twice).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    for headers in [
        vec![
            ("host", "127.0.0.1:8000"),
            ("origin", "http://127.0.0.1:8000"),
        ],
        vec![("host", "[::1]:8000")],
        vec![
            ("host", "mcp.example.com"),
            ("origin", "https://mcp.example.com"),
        ],
    ] {
        let mut request = post("/mcp", Some(&ops), &initialize(), &[]);
        for (name, value) in &headers {
            request
                .headers_mut()
                .insert(*name, value.parse().expect("header"));
        }
        let response = send(&state, request).await;
        assert_eq!(response.status(), StatusCode::OK, "{headers:?}");
    }
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let (state, ops, _, _sandbox) = ops_and_ro_state(HttpOptions {
        max_body_bytes: 2048,
        ..HttpOptions::default()
    })
    .await;
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "whoami", "arguments": {"pad": "x".repeat(4096)}}});
    let size = big.to_string().len().to_string();
    // Declared up front: refused before the body is read.
    let response = send(
        &state,
        post("/mcp", Some(&ops), &big, &[("content-length", &size)]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = text(response).await;
    assert!(body.contains("over the 2048 bytes"), "{body}");
    // Not declared: cut off while read.
    let response = send(&state, post("/mcp", Some(&ops), &big, &[])).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let metrics = text(send(&state, admin_get("/metrics")).await).await;
    assert!(
        metrics.contains(r#"livechat_mcp_http_rejected_requests_total{reason="too_large"} 2"#),
        "{metrics}"
    );
}

/// A body that says it is JSON and is not gets 400 with JSON-RPC's parse error (rmcp alone
/// answered 415, as if the content type were wrong); another content type still gets 415.
#[tokio::test]
async fn a_body_that_is_not_json_gets_400_with_a_parse_error() {
    let (state, ops, _, _sandbox) = ops_and_ro_state(HttpOptions::default()).await;
    let mut request = post("/mcp", Some(&ops), &json!({}), &[]);
    *request.body_mut() = Body::from(r#"{"jsonrpc":"2.0","id":1,"method": oops"#);
    let response = send(&state, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&text(response).await).expect("JSON answer");
    assert_eq!(body["error"]["code"], -32700);
    let mut plain = post("/mcp", Some(&ops), &json!({}), &[]);
    plain
        .headers_mut()
        .insert("content-type", "text/plain".parse().expect("value"));
    let response = send(&state, plain).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Without a valid key the body is never read.
    let mut anonymous = post("/mcp", None, &json!({}), &[]);
    *anonymous.body_mut() = Body::from("oops");
    assert_eq!(
        send(&state, anonymous).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn requests_over_the_in_flight_limit_get_429_with_retry_after() {
    let (state, ops, ro, _sandbox) = ops_and_ro_state(HttpOptions {
        max_in_flight: 1,
        ..HttpOptions::default()
    })
    .await;
    // An SSE reply holds its permit until it has been read: this one is kept unread.
    let first = send(&state, post("/mcp", Some(&ops), &initialize(), &[])).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = send(&state, post("/mcp", Some(&ops), &initialize(), &[])).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        second.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let body = text(second).await;
    assert!(
        body.contains("agent `ops` already has 1 requests in flight"),
        "{body}"
    );
    // The limit is per agent.
    let other = send(&state, post("/mcp", Some(&ro), &initialize(), &[])).await;
    assert_eq!(other.status(), StatusCode::OK);
    let session = other.headers()["mcp-session-id"]
        .to_str()
        .expect("session id")
        .to_string();
    let _ = text(other).await;
    // The GET stream of server messages stays open while idle, and holds no permit.
    let bearer = format!("Bearer {ro}");
    let stream = send(
        &state,
        get(
            "/mcp",
            &[
                ("authorization", &bearer),
                ("accept", "text/event-stream"),
                ("mcp-session-id", &session),
                ("mcp-protocol-version", PROTOCOL),
            ],
        ),
    )
    .await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let next = send(&state, post("/mcp", Some(&ro), &initialize(), &[])).await;
    assert_eq!(next.status(), StatusCode::OK);
    // Once the first reply has been sent, the next request goes through.
    let _ = text(first).await;
    let third = send(&state, post("/mcp", Some(&ops), &initialize(), &[])).await;
    assert_eq!(third.status(), StatusCode::OK);
}

#[tokio::test]
async fn healthz_says_whether_the_audit_trail_and_upstream_are_usable() {
    let dir = TempDir::new("healthz");
    let (sandbox, settings) = sandbox().await;
    let audit = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let (policy, _, _) = ops_and_ro();
    let healthy = state(
        policy.clone(),
        &settings,
        Some(audit),
        HttpOptions::default(),
    );
    let response = send(&healthy, admin_get("/healthz")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&text(response).await).expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["audit"]["status"], "ok");
    assert_eq!(body["upstream"]["status"], "ok");
    assert_eq!(body["agents"], 2);

    // No credentials for LiveChat: the server runs, but says it cannot work.
    let mut broken = settings.clone();
    broken.credentials = Err("set LIVECHAT_ACCESS_TOKEN".to_string());
    let unusable = state(policy, &broken, None, HttpOptions::default());
    let response = send(&unusable, admin_get("/healthz")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = serde_json::from_str(&text(response).await).expect("json");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["audit"]["status"], "off");
    let problems = body["upstream"]["problems"].to_string();
    assert!(
        problems.contains("agent `ops`: set LIVECHAT_ACCESS_TOKEN"),
        "{problems}"
    );
    drop(sandbox);
}

/// A library caller that builds the state with a URL holding `user:password@` (the command
/// line refuses one) still gets a `/healthz` that does not show them, even to the admin.
#[tokio::test]
async fn healthz_never_shows_credentials_in_the_api_url() {
    let (sandbox, mut settings) = sandbox().await;
    let (policy, _, _) = ops_and_ro();
    settings.api_url = settings.api_url.replacen("://", "://ops:Pw-s3cret-42@", 1);
    for url in [settings.api_url.clone(), format!("{}:x", settings.api_url)] {
        let mut settings = settings.clone();
        settings.api_url = url;
        let state = state(policy.clone(), &settings, None, HttpOptions::default());
        let body = text(send(&state, admin_get("/healthz")).await).await;
        assert!(!body.contains("Pw-s3cret"), "{body}");
        assert!(!body.contains("ops:"), "{body}");
        assert!(body.contains("\"api_url\":\"http://127.0.0.1:"), "{body}");
    }
    drop(sandbox);
}

/// Runs `messages` (requests and notifications) in one session through the router.
async fn oneshot_session(state: &Arc<HttpState>, key: &str, messages: &[Value]) -> Vec<Value> {
    let response = send(state, post("/mcp", Some(key), &initialize(), &[])).await;
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .expect("session id")
        .to_string();
    let _ = text(response).await;
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", PROTOCOL),
    ];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = send(state, post("/mcp", Some(key), &initialized, &headers)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mut answers = Vec::new();
    for message in messages {
        let response = send(state, post("/mcp", Some(key), message, &headers)).await;
        answers.extend(sse_messages(&text(response).await));
    }
    answers
}

fn call(id: i64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}})
}

#[tokio::test]
async fn metrics_count_calls_by_tool_agent_decision_and_outcome() {
    let (state, ops, ro, _sandbox) = ops_and_ro_state(HttpOptions::default()).await;
    let answers = oneshot_session(
        &state,
        &ro,
        &[
            call(1, "whoami", json!({})),
            call(2, "list_chats", json!({"limit": 1})),
            call(3, "deactivate_chat", json!({"id": "PT9XK2L4MN"})),
            call(4, "get_chat", json!({})),
            call(5, "no_such_tool", json!({})),
        ],
    )
    .await;
    assert_eq!(answers.len(), 5, "{answers:?}");
    let _ = oneshot_session(&state, &ops, &[call(1, "list_chats", json!({}))]).await;

    let response = send(&state, admin_get("/metrics")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/plain; version=0.0.4")
    );
    let metrics = text(response).await;
    for line in [
        r#"livechat_mcp_tool_calls_total{tool="whoami",agent="ro",decision="allowed",outcome="ok"} 1"#,
        r#"livechat_mcp_tool_calls_total{tool="list_chats",agent="ro",decision="allowed",outcome="ok"} 1"#,
        r#"livechat_mcp_tool_calls_total{tool="list_chats",agent="ops",decision="allowed",outcome="ok"} 1"#,
        r#"livechat_mcp_tool_calls_total{tool="deactivate_chat",agent="ro",decision="denied",outcome="denied"} 1"#,
        r#"livechat_mcp_tool_calls_total{tool="get_chat",agent="ro",decision="allowed",outcome="error"} 1"#,
        r#"livechat_mcp_tool_calls_total{tool="(unknown)",agent="ro",decision="denied",outcome="denied"} 1"#,
        r#"livechat_mcp_tool_call_duration_seconds_count{tool="list_chats"} 2"#,
        r#"livechat_mcp_open_sessions{agent="ro",transport="streamable_http"} 1"#,
        r#"livechat_mcp_open_sessions{agent="ops",transport="streamable_http"} 1"#,
        r#"livechat_mcp_open_sessions{agent="ops",transport="sse"} 0"#,
        r#"livechat_mcp_in_flight_requests{agent="ops"} 0"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line}:\n{metrics}"
        );
    }
    // Bad arguments are this server's error, not upstream's.
    assert!(!metrics.contains("invalid_arguments"), "{metrics}");
    assert!(metrics.contains("livechat_mcp_upstream_errors_total"));
}

#[tokio::test]
async fn upstream_errors_are_counted_by_type() {
    install_crypto();
    // Nothing listens on port 9: every call fails with a network error.
    let settings = upstream("http://127.0.0.1:9");
    let (policy, ops, _) = ops_and_ro();
    let state = state(policy, &settings, None, HttpOptions::default());
    let answers = oneshot_session(&state, &ops, &[call(1, "list_chats", json!({}))]).await;
    assert_eq!(answers[0]["result"]["isError"], true, "{answers:?}");
    let metrics = text(send(&state, admin_get("/metrics")).await).await;
    assert!(
        metrics.contains(r#"livechat_mcp_upstream_errors_total{type="network"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn agents_see_their_own_tools_and_are_audited_as_themselves() {
    let dir = TempDir::new("agents");
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, ro) = ops_and_ro();
    let mut server = start_audited(policy, &settings, &dir).await;

    let ops_client = McpClient::connect(&server.base, &ops).await;
    let ro_client = McpClient::connect(&server.base, &ro).await;
    let ops_tools = ops_client.tools().await;
    let ro_tools = ro_client.tools().await;
    assert_eq!(
        ro_tools,
        [
            "whoami",
            "list_chats",
            "list_threads",
            "get_chat",
            "list_archives"
        ],
        "ro reads chats only"
    );
    assert!(ops_tools.len() > 40, "{ops_tools:?}");
    assert!(ops_tools.contains(&"deactivate_chat".to_string()));

    let (is_error, result) = ops_client.call("whoami", json!({})).await;
    assert!(!is_error);
    assert_eq!(answer(&result)["agent"], "ops");
    let (is_error, result) = ro_client.call("whoami", json!({})).await;
    assert!(!is_error);
    assert_eq!(answer(&result)["agent"], "ro");
    let (is_error, _) = ro_client.call("list_chats", json!({"limit": 1})).await;
    assert!(!is_error);
    let (is_error, result) = ro_client
        .call("deactivate_chat", json!({"id": "PT9XK2L4MN"}))
        .await;
    assert!(is_error, "{result}");
    let (is_error, result) = ops_client
        .call(
            "deactivate_chat",
            json!({"id": "PT9XK2L4MN", "ignore_requester_presence": true}),
        )
        .await;
    assert!(!is_error, "{result}");

    // A session belongs to the agent that opened it: another agent's key cannot use it.
    let hijack = ops_client
        .http
        .post(&ops_client.url)
        .bearer_auth(&ro)
        .header("accept", ACCEPT)
        .header("mcp-session-id", &ops_client.session)
        .header("mcp-protocol-version", PROTOCOL)
        .json(&call(9, "deactivate_chat", json!({"id": "PT9XK2L4MN"})))
        .send()
        .await
        .expect("post");
    assert_eq!(hijack.status(), 404);

    server.stop().await.expect("stops");
    let rows = audit_rows(&dir.join("audit.db")).await;
    let seen: Vec<(&str, &str, Decision)> = rows
        .iter()
        .map(|e| (e.agent.as_str(), e.tool.as_str(), e.decision))
        .collect();
    assert_eq!(
        seen,
        [
            ("ops", "whoami", Decision::Allowed),
            ("ro", "whoami", Decision::Allowed),
            ("ro", "list_chats", Decision::Allowed),
            ("ro", "deactivate_chat", Decision::Denied),
            ("ops", "deactivate_chat", Decision::Allowed),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_calls_from_several_clients_all_succeed_and_are_audited() {
    const AGENTS: usize = 4;
    const CLIENTS_PER_AGENT: usize = 2;
    const CALLS_PER_CLIENT: usize = 25;
    let dir = TempDir::new("concurrent");
    let (_sandbox, settings) = sandbox().await;
    let names: Vec<String> = (1..=AGENTS).map(|i| format!("agent{i}")).collect();
    let agents: Vec<(&str, &str)> = names
        .iter()
        .map(|n| (n.as_str(), r#"{ chats = "read" }"#))
        .collect();
    let (text, keys) = policy(&agents);
    let policy = livechat_mcp::policy::Policy::parse(&text, "p.toml").expect("policy");
    // Default limits: 50 calls at once per agent is within the default of 64.
    let mut server = start_audited(policy, &settings, &dir).await;

    let mut clients = Vec::new();
    for key in &keys {
        for _ in 0..CLIENTS_PER_AGENT {
            clients.push(Arc::new(McpClient::connect(&server.base, key).await));
        }
    }
    let started = std::time::Instant::now();
    let mut calls = JoinSet::new();
    for client in &clients {
        for n in 0..CALLS_PER_CLIENT {
            let client = client.clone();
            calls
                .spawn(async move { client.call("list_chats", json!({"limit": 1 + n % 3})).await });
        }
    }
    let mut succeeded = 0;
    while let Some(joined) = calls.join_next().await {
        let (is_error, result) = joined.expect("call task");
        assert!(!is_error, "{result}");
        succeeded += 1;
    }
    let total = AGENTS * CLIENTS_PER_AGENT * CALLS_PER_CLIENT;
    assert_eq!(succeeded, total);
    eprintln!("{total} concurrent calls in {:.0?}", started.elapsed());

    server.stop().await.expect("stops");
    let rows = audit_rows(&dir.join("audit.db")).await;
    assert_eq!(rows.len(), total);
    for name in &names {
        let theirs = rows.iter().filter(|e| &e.agent == name).count();
        assert_eq!(theirs, CLIENTS_PER_AGENT * CALLS_PER_CLIENT, "{name}");
    }
    assert!(rows.iter().all(|e| e.tool == "list_chats"));
    assert_eq!(
        AuditStore::open(&dir.join("audit.db"))
            .expect("audit")
            .verify(None)
            .await,
        Ok(2 * total as u64),
        "each call is written ahead, then completed"
    );
}

/// Reads the next complete SSE event (`event`, `data`) from a streaming response.
async fn next_event(
    response: &mut reqwest::Response,
    buffer: &mut String,
) -> Option<(String, String)> {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = "message".to_string();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.trim_start().to_string());
                }
            }
            if data.is_empty() {
                continue; // a keep-alive comment
            }
            return Some((event, data.join("\n")));
        }
        match tokio::time::timeout(Duration::from_secs(10), response.chunk()).await {
            Ok(Ok(Some(chunk))) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return None,
        }
    }
}

#[tokio::test]
async fn the_older_sse_transport_serves_a_session() {
    let dir = TempDir::new("sse");
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, ro) = ops_and_ro();
    let mut server = start_audited(policy, &settings, &dir).await;
    install_crypto();
    let http = reqwest::Client::new();

    let mut stream = http
        .get(format!("{}/sse", server.base))
        .bearer_auth(&ro)
        .send()
        .await
        .expect("GET /sse");
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/event-stream")
    );
    let mut buffer = String::new();
    let (event, endpoint) = next_event(&mut stream, &mut buffer)
        .await
        .expect("endpoint");
    assert_eq!(event, "endpoint");
    assert!(endpoint.starts_with("/messages?sessionId="), "{endpoint}");
    let endpoint = format!("{}{endpoint}", server.base);

    let post = |key: &str, body: Value| http.post(&endpoint).bearer_auth(key).json(&body).send();
    let accepted = post(&ro, initialize()).await.expect("post");
    assert_eq!(accepted.status(), 202);
    let (event, data) = next_event(&mut stream, &mut buffer).await.expect("answer");
    assert_eq!(event, "message");
    let answer: Value = serde_json::from_str(&data).expect("json");
    assert_eq!(answer["id"], 0);
    assert_eq!(answer["result"]["serverInfo"]["name"], "livechat-mcp");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(&ro, initialized).await.expect("post").status(), 202);

    // Another agent's key cannot post into this session.
    let hijack = post(
        &ops,
        call(7, "deactivate_chat", json!({"id": "PT9XK2L4MN"})),
    )
    .await
    .expect("post");
    assert_eq!(hijack.status(), 404);

    assert_eq!(
        post(&ro, call(1, "whoami", json!({})))
            .await
            .expect("post")
            .status(),
        202
    );
    let (_, data) = next_event(&mut stream, &mut buffer).await.expect("whoami");
    let answer: Value = serde_json::from_str(&data).expect("json");
    assert_eq!(answer["id"], 1);
    assert_eq!(http_support::answer(&answer["result"])["agent"], "ro");

    let bad = http
        .post(&endpoint)
        .bearer_auth(&ro)
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(bad.status(), 400);
    let unknown = http
        .post(format!("{}/messages?sessionId=nope", server.base))
        .bearer_auth(&ro)
        .json(&call(2, "whoami", json!({})))
        .send()
        .await
        .expect("post");
    assert_eq!(unknown.status(), 404);

    let metrics = http
        .get(format!("{}/metrics", server.base))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"livechat_mcp_open_sessions{agent="ro",transport="sse"} 1"#),
        "{metrics}"
    );
    // A client that goes away ends its session.
    drop(stream);
    let mut open = true;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let metrics = http
            .get(format!("{}/metrics", server.base))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        open = !metrics.contains(r#"livechat_mcp_open_sessions{agent="ro",transport="sse"} 0"#);
        if !open {
            break;
        }
    }
    assert!(!open, "the session outlived its client");
    server.stop().await.expect("stops");
    let rows = audit_rows(&dir.join("audit.db")).await;
    assert_eq!(rows.len(), 1, "the hijack attempt reached no server");
    assert_eq!(
        (rows[0].agent.as_str(), rows[0].tool.as_str()),
        ("ro", "whoami")
    );
}

#[tokio::test]
async fn idle_sessions_expire() {
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, _) = ops_and_ro();
    let options = HttpOptions {
        idle_timeout: Duration::from_millis(700),
        sse_keep_alive: Duration::from_millis(200),
        ..HttpOptions::default()
    };
    let mut server = start(state(policy, &settings, None, options)).await;
    let client = McpClient::connect(&server.base, &ops).await;
    let every = tools::all()
        .filter(|t| t.available_in(settings.version))
        .count();
    assert_eq!(
        client.tools().await.len(),
        every + 1,
        "every tool and `whoami`"
    );
    install_crypto();
    let mut stream = reqwest::Client::new()
        .get(format!("{}/sse", server.base))
        .bearer_auth(&ops)
        .send()
        .await
        .expect("GET /sse");
    let mut buffer = String::new();
    assert!(next_event(&mut stream, &mut buffer).await.is_some());

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = client
        .post(&json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list"}))
        .await;
    assert_eq!(expired.status(), 404, "the idle session is gone");
    // The idle SSE stream was closed although keep-alives kept flowing.
    assert!(next_event(&mut stream, &mut buffer).await.is_none());
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn shutdown_lets_calls_in_flight_finish_and_records_them() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
    let dir = TempDir::new("shutdown");
    let slow = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"chats_summary": [], "found_chats": 0}))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&slow)
        .await;
    let settings = upstream(&slow.uri());
    let (policy, ops, _) = ops_and_ro();
    let mut server = start_audited(policy, &settings, &dir).await;
    let client = Arc::new(McpClient::connect(&server.base, &ops).await);
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.call("list_chats", json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let serving = server.signal_stop().expect("running");
    let (is_error, result) = in_flight.await.expect("call");
    assert!(!is_error, "{result}");
    serving.await.expect("task").expect("serve returns Ok");
    let refused = reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .send()
        .await;
    assert!(refused.is_err(), "no longer accepting");
    let rows = audit_rows(&dir.join("audit.db")).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].tool, "list_chats");
}

#[test]
fn serve_http_refuses_to_start_without_a_key_for_every_agent() {
    let dir = TempDir::new("refuse");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--sandbox",
                "--audit",
                "off",
            ])
            .args(args)
            .output()
            .expect("run");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--http needs --policy"), "{stderr}");
    assert!(stderr.contains("livechat-mcp key new AGENT"), "{stderr}");

    let (text, _) = policy(&[("ops", r#"{ "*" = "read" }"#)]);
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        format!("{text}[agents.nokey]\naccess = {{ chats = \"read\" }}\n"),
    )
    .expect("write");
    let (code, stderr) = run(&["--policy", path.to_str().expect("path")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`nokey` has none"), "{stderr}");
}

#[test]
fn key_new_prints_a_key_and_its_policy_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .args(["key", "new", "support-bot"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with(livechat_mcp::http::KEY_PREFIX));
    assert_eq!(
        lines[1],
        format!(
            "key_sha256 = \"{}\"",
            livechat_mcp::policy::key_sha256(lines[0])
        )
    );
    let policy = livechat_mcp::policy::Policy::parse(
        &format!(
            "[agents.support-bot]\naccess = {{ chats = \"read\" }}\n{}\n",
            lines[1]
        ),
        "p.toml",
    )
    .expect("the line pastes into a policy");
    assert_eq!(
        policy.agent_for_key(lines[0]).map(|a| a.name.as_str()),
        Some("support-bot")
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .args(["key", "new", "no spaces"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_binary_serves_http_and_stops_on_sigterm_with_exit_0() {
    let dir = TempDir::new("sigterm");
    let (text, keys) = policy(&[("ops", r#"{ "*" = "full" }"#)]);
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).expect("write");
    let audit = dir.join("audit.db");
    let mut server = ServerProcess::spawn(
        &[
            "--sandbox",
            "--policy",
            path.to_str().expect("path"),
            "--audit",
            audit.to_str().expect("path"),
        ],
        &[],
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = McpClient::connect(&server.base, &keys[0]).await;
        let (is_error, result) = client.call("list_chats", json!({"limit": 1})).await;
        assert!(!is_error, "{result}");
    });
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(server.stderr().contains("stopped"), "{}", server.stderr());
    let rows = runtime.block_on(audit_rows(&audit));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].agent, "ops");
}

/// Without a key `/healthz` says only ok / not ok; its detail and `/metrics` need the admin
/// key, and no agent's key stands in for it.
#[tokio::test]
async fn healthz_and_metrics_show_nothing_without_the_admin_key() {
    let (state, ops, _, _sandbox) = ops_and_ro_state(HttpOptions::default()).await;
    let response = send(&state, get("/healthz", &[])).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = text(response).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json"),
        json!({"status": "ok"})
    );
    let detail: Value =
        serde_json::from_str(&text(send(&state, admin_get("/healthz")).await).await).expect("json");
    assert_eq!(detail["agents"], 2);
    assert!(detail["upstream"]["api_url"].is_string(), "{detail}");

    let agent = format!("Bearer {ops}");
    for (path, headers) in [
        ("/metrics", vec![]),
        ("/metrics", vec![("authorization", agent.as_str())]),
        (
            "/metrics",
            vec![("authorization", "Bearer lcmcp_not-the-admin")],
        ),
        ("/healthz", vec![("authorization", agent.as_str())]),
    ] {
        let response = send(&state, get(path, &headers)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{path} {headers:?}"
        );
        assert!(challenge(&response).starts_with("Bearer realm=\"livechat-mcp\""));
        let body = text(response).await;
        assert!(body.contains("need the admin key"), "{body}");
        assert!(!body.contains(&ops), "the key is echoed: {body}");
        assert!(!body.contains("livechat_mcp_"), "{body}");
    }
    let response = send(&state, admin_get("/metrics")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(text(response).await.contains("livechat_mcp_open_sessions"));

    // Not usable: 503, and still nothing about why without the key.
    let (policy, _, _) = ops_and_ro();
    let mut broken = upstream("http://127.0.0.1:9");
    broken.credentials = Err("set LIVECHAT_ACCESS_TOKEN".to_string());
    let unusable = state_of(policy, &broken);
    let response = send(&unusable, get("/healthz", &[])).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(text(response).await, r#"{"status":"unavailable"}"#);
}

fn state_of(
    policy: livechat_mcp::policy::Policy,
    settings: &livechat_mcp::config::Settings,
) -> Arc<HttpState> {
    state(policy, settings, None, HttpOptions::default())
}

/// The admin key opens what no agent may see, so it must not be an agent's key, whether it
/// comes from the environment or from the policy.
#[test]
fn the_server_refuses_to_start_when_the_admin_key_is_an_agents_key() {
    let dir = TempDir::new("admin-is-agent");
    let (text, keys) = policy(&[("ops", r#"{ "*" = "read" }"#)]);
    let agent_hash = livechat_mcp::policy::key_sha256(&keys[0]);
    let run = |policy_text: &str, envs: &[(&str, &str)]| {
        let path = dir.join("policy.toml");
        std::fs::write(&path, policy_text).expect("write");
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .envs(envs.iter().copied())
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--sandbox",
                "--audit",
                "off",
            ])
            .args(["--policy", path.to_str().expect("path")])
            .output()
            .expect("run");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&text, &[("LIVECHAT_MCP_ADMIN_KEY_SHA256", &agent_hash)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("the admin key is agent `ops`'s key"),
        "{stderr}"
    );
    assert!(stderr.contains("livechat-mcp key new admin"), "{stderr}");
    assert!(!stderr.contains(&keys[0]), "{stderr}");

    let in_file = format!("{text}[admin]\nkey_sha256 = \"{agent_hash}\"\n");
    let (code, stderr) = run(&in_file, &[]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("the same as agent `ops`'s"), "{stderr}");

    let (code, stderr) = run(
        &text,
        &[("LIVECHAT_MCP_ADMIN_KEY_SHA256", "lcmcp_a-raw-key")],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not a SHA-256 hex digest"), "{stderr}");
    assert!(
        !stderr.contains("lcmcp_a-raw-key"),
        "the value is echoed: {stderr}"
    );
}

/// `--metrics-listen` serves `/metrics` and the whole of `/healthz` without a key on a port of
/// its own; the public port still wants the admin key.
#[test]
fn metrics_listen_serves_metrics_and_health_detail_on_a_private_port() {
    let dir = TempDir::new("metrics-listen");
    let (text, keys) = policy(&[("ops", r#"{ "*" = "full" }"#)]);
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).expect("write");
    let server = ServerProcess::spawn(
        &[
            "--sandbox",
            "--audit",
            "off",
            "--policy",
            path.to_str().expect("path"),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    // The banner line is collected just after the address is read from it.
    let mut stderr = server.stderr();
    for _ in 0..3000 {
        if stderr.contains("without a key at") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        stderr = server.stderr();
    }
    let private = stderr
        .split("without a key at http://")
        .nth(1)
        .and_then(|rest| rest.split("/metrics").next())
        .unwrap_or_else(|| panic!("no metrics address in: {stderr}"))
        .to_string();
    assert_ne!(format!("http://{private}"), server.base);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        install_crypto();
        let http = reqwest::Client::new();
        let metrics = http
            .get(format!("http://{private}/metrics"))
            .send()
            .await
            .expect("private metrics");
        assert_eq!(metrics.status(), 200);
        let body = metrics.text().await.expect("text");
        assert!(
            body.contains(r#"livechat_mcp_open_sessions{agent="ops",transport="sse"} 0"#),
            "{body}"
        );
        let health: Value = http
            .get(format!("http://{private}/healthz"))
            .send()
            .await
            .expect("private healthz")
            .json()
            .await
            .expect("json");
        assert_eq!(health["agents"], 1, "{health}");
        let public = http
            .get(format!("{}/metrics", server.base))
            .bearer_auth(&keys[0])
            .send()
            .await
            .expect("public metrics");
        assert_eq!(public.status(), 401);
        // The private port serves nothing else.
        let mcp = http
            .post(format!("http://{private}/mcp"))
            .bearer_auth(&keys[0])
            .send()
            .await
            .expect("private mcp");
        assert_eq!(mcp.status(), 404);
    });
}

/// Reads what the server sends until it closes the connection; fails only if it never does.
async fn until_closed(mut tcp: tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buffer = [0u8; 4096];
        loop {
            match tcp.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&received).into_owned()
}

/// Opens a connection and sends `bytes`, then nothing more.
async fn stalled(base: &str, bytes: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let mut tcp = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .expect("connect");
    tcp.write_all(bytes).await.expect("write");
    tcp
}

/// Half-sent requests (no key needed) neither keep `/healthz` nor a client with a key out,
/// and each is closed once the header timeout has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_at_the_header_timeout_and_keep_no_one_out() {
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, _) = ops_and_ro();
    let options = HttpOptions {
        header_timeout: Duration::from_secs(1),
        ..HttpOptions::default()
    };
    let mut server = start(state(policy, &settings, None, options)).await;
    let mut half_sent = Vec::new();
    for _ in 0..200 {
        half_sent.push(stalled(&server.base, b"POST /mcp HTTP/1.1\r\nHost: local").await);
    }
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let client = McpClient::connect(&server.base, &ops).await;
    let (is_error, result) = client.call("whoami", json!({})).await;
    assert!(!is_error, "{result}");
    for tcp in half_sent {
        until_closed(tcp).await;
    }
    let metrics = metrics_text(&server.base).await;
    let timed_out: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"livechat_mcp_http_rejected_requests_total{reason="header_timeout"} "#)
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no header timeouts counted: {metrics}"));
    assert!(timed_out >= 200, "{metrics}");
    server.stop().await.expect("stops");
}

/// `/metrics` of the server at `base`, read with the admin key.
async fn metrics_text(base: &str) -> String {
    install_crypto();
    reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// At `--max-connections`, the connection idle longest is closed for a new one; when every
/// connection is handling a request (here: streaming SSE), a new one gets 503 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_idle_connections_make_room_and_busy_ones_do_not() {
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, _) = ops_and_ro();
    let options = HttpOptions {
        max_connections: 4,
        ..HttpOptions::default()
    };
    let mut server = start(state(policy, &settings, None, options)).await;
    let mut half_sent = Vec::new();
    for _ in 0..4 {
        half_sent.push(stalled(&server.base, b"GET /healthz HTTP/1.1\r\n").await);
    }
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .expect("healthz over the cap");
    assert_eq!(health.status(), 200);
    // The oldest half-sent request made room, long before any header timeout.
    let oldest = half_sent.remove(0);
    assert_eq!(until_closed(oldest).await, "");

    install_crypto();
    let mut streams = Vec::new();
    for _ in 0..4 {
        let mut stream = reqwest::Client::new()
            .get(format!("{}/sse", server.base))
            .bearer_auth(&ops)
            .send()
            .await
            .expect("GET /sse");
        assert_eq!(stream.status(), 200);
        let mut buffer = String::new();
        assert!(next_event(&mut stream, &mut buffer).await.is_some());
        streams.push(stream);
    }
    let refused = until_closed(stalled(&server.base, b"").await).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("--max-connections"), "{refused}");
    drop(streams);
    let metrics = metrics_text(&server.base).await;
    assert!(
        metrics.contains(
            r#"livechat_mcp_http_rejected_requests_total{reason="too_many_connections"} 1"#
        ),
        "{metrics}"
    );
    server.stop().await.expect("stops");
}

/// A body that arrives too slowly is answered 408 at the body timeout and its connection
/// closed; meanwhile it holds none of the agent's in-flight permits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_gets_408_at_the_body_timeout_and_holds_no_permit() {
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, _) = ops_and_ro();
    let options = HttpOptions {
        body_timeout: Duration::from_secs(1),
        max_in_flight: 1,
        ..HttpOptions::default()
    };
    let mut server = start(state(policy, &settings, None, options)).await;
    let client = McpClient::connect(&server.base, &ops).await;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ops}\r\nContent-Type: application/json\r\nAccept: {ACCEPT}\r\nMcp-Session-Id: {}\r\nMcp-Protocol-Version: {PROTOCOL}\r\nContent-Length: 1000\r\n\r\n{{\"jsonrpc\":\"2.0\",",
        client.session
    );
    let mut slow = Vec::new();
    for _ in 0..8 {
        slow.push(stalled(&server.base, head.as_bytes()).await);
    }
    let (is_error, result) = client.call("whoami", json!({})).await;
    assert!(!is_error, "{result}");
    for tcp in slow {
        let answer = until_closed(tcp).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("--body-timeout-secs"), "{answer}");
    }
    let metrics = metrics_text(&server.base).await;
    assert!(
        metrics.contains(r#"livechat_mcp_http_rejected_requests_total{reason="body_timeout"} 8"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"livechat_mcp_in_flight_requests{agent="ops"} 0"#),
        "{metrics}"
    );
    server.stop().await.expect("stops");
}

/// Whether a streamable session is still open: a request in it gets 404 once it is not.
async fn is_open(client: &McpClient) -> bool {
    let response = client
        .post(&json!({"jsonrpc": "2.0", "id": 99, "method": "ping"}))
        .await;
    match response.status().as_u16() {
        200 => true,
        404 => false,
        other => panic!("ping answered {other}"),
    }
}

/// With a cap of 2, each new session closes the agent's least recently used idle session,
/// and SSE streams count in the same cap.
#[tokio::test]
async fn at_the_session_cap_the_least_recently_used_idle_session_is_closed() {
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, ro) = ops_and_ro();
    let options = HttpOptions {
        max_sessions_per_agent: 2,
        ..HttpOptions::default()
    };
    let mut server = start(state(policy, &settings, None, options)).await;
    let a = McpClient::connect(&server.base, &ops).await;
    let b = McpClient::connect(&server.base, &ops).await;
    let c = McpClient::connect(&server.base, &ops).await;
    assert!(!is_open(&a).await, "the oldest idle session made room");
    assert!(is_open(&b).await);
    // b is now used more recently than c: an SSE stream closes c.
    install_crypto();
    let http = reqwest::Client::new();
    let mut stream = http
        .get(format!("{}/sse", server.base))
        .bearer_auth(&ops)
        .send()
        .await
        .expect("GET /sse");
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    let (_, endpoint) = next_event(&mut stream, &mut buffer)
        .await
        .expect("endpoint");
    assert!(!is_open(&c).await, "the SSE stream took c's place");
    assert!(is_open(&b).await);
    // The SSE session is now the least recently used: a new session closes it.
    let d = McpClient::connect(&server.base, &ops).await;
    assert!(is_open(&d).await);
    assert!(
        next_event(&mut stream, &mut buffer).await.is_none(),
        "the stream ended"
    );
    let gone = http
        .post(format!("{}{endpoint}", server.base))
        .bearer_auth(&ops)
        .json(&initialize())
        .send()
        .await
        .expect("post");
    assert_eq!(gone.status(), 404);
    assert!(is_open(&b).await);
    // Another agent's sessions are its own.
    let other = McpClient::connect(&server.base, &ro).await;
    assert!(is_open(&other).await);
    assert!(is_open(&b).await && is_open(&d).await);
    server.stop().await.expect("stops");
}

/// When every session of the agent has a request in flight, a new one (streamable or SSE) is
/// refused with 429 naming the cap; once a call is answered, there is room again.
#[tokio::test]
async fn with_every_session_busy_a_new_one_gets_429_naming_the_cap() {
    let gate = Gate::start().await;
    let settings = gate.settings();
    let (policy, ops, ro) = ops_and_ro();
    let options = HttpOptions {
        max_sessions_per_agent: 2,
        ..HttpOptions::default()
    };
    let mut server = start(state(policy, &settings, None, options)).await;
    let mut calls = JoinSet::new();
    for name in ["a", "b"] {
        let client = McpClient::connect(&server.base, &ops).await;
        calls.spawn(async move { (name, client.call("send_event", event(name)).await) });
    }
    gate.wait_for(2).await;
    install_crypto();
    let http = reqwest::Client::new();
    let refused = http
        .post(format!("{}/mcp", server.base))
        .bearer_auth(&ops)
        .header("accept", ACCEPT)
        .json(&initialize())
        .send()
        .await
        .expect("initialize");
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body = refused.text().await.expect("text");
    assert!(body.contains("agent `ops` has 2 open sessions"), "{body}");
    assert!(body.contains("--max-sessions-per-agent"), "{body}");
    let sse = http
        .get(format!("{}/sse", server.base))
        .bearer_auth(&ops)
        .send()
        .await
        .expect("GET /sse");
    assert_eq!(sse.status(), 429);
    // The cap is per agent.
    let _other = McpClient::connect(&server.base, &ro).await;

    gate.open();
    while let Some(joined) = calls.join_next().await {
        let (name, (is_error, result)) = joined.expect("call");
        assert!(!is_error, "{result}");
        assert_eq!(answer(&result)["event_id"], name);
    }
    let _room = McpClient::connect(&server.base, &ops).await;
    server.stop().await.expect("stops");
}

/// A `tools/call` of `send_event` with `id`, sending `text`.
fn send_event_call(id: i64, text: &str) -> Value {
    call(id, "send_event", event(text))
}

/// Twenty concurrent calls with one id in one streamable session: the first runs and gets its
/// own result; the others get an error naming the id and never reach LiveChat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_reusing_an_id_in_flight_over_streamable_http_is_refused() {
    let gate = Gate::start().await;
    let settings = gate.settings();
    let (policy, ops, _) = ops_and_ro();
    let mut server = start(state(policy, &settings, None, HttpOptions::default())).await;
    let client = Arc::new(McpClient::connect(&server.base, &ops).await);
    let mut calls = JoinSet::new();
    for i in 0..20 {
        let client = client.clone();
        calls.spawn(async move {
            let text = format!("call-{i}");
            let response = client.post(&send_event_call(7, &text)).await;
            assert_eq!(response.status(), 200);
            (text, sse_messages(&response.text().await.expect("body")))
        });
    }
    for _ in 0..19 {
        let joined = tokio::time::timeout(Duration::from_secs(60), calls.join_next())
            .await
            .expect("the duplicates are answered while the first is held");
        let (_, answers) = joined.expect("a call").expect("task");
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert_eq!(answers[0]["id"], 7);
        assert_eq!(answers[0]["error"]["code"], -32600, "{answers:?}");
        let message = answers[0]["error"]["message"].as_str().expect("message");
        assert!(message.contains("id `7` is already in flight"), "{message}");
    }
    // The first may still be on its way to the stand-in.
    gate.wait_for(1).await;
    assert_eq!(gate.arrived(), 1, "only the first reached LiveChat");
    gate.open();
    let (text, answers) = calls.join_next().await.expect("the first").expect("task");
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["id"], 7);
    assert_eq!(answer(&answers[0]["result"])["event_id"], text);
    // Answered, the id is free again: the server frees it just after routing the answer, so
    // a client that reuses it at once may still meet the refusal for a moment.
    let started = std::time::Instant::now();
    let answers = loop {
        let again = client.post(&send_event_call(7, "again")).await;
        let answers = sse_messages(&again.text().await.expect("body"));
        let refused = answers[0]["error"]["code"] == -32600;
        if !refused || started.elapsed() > Duration::from_secs(10) {
            break answers;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(answer(&answers[0]["result"])["event_id"], "again");
    server.stop().await.expect("stops");
}

/// Over the older SSE transport a reused id is refused on the stream; the first call's answer
/// follows, its own.
#[tokio::test]
async fn a_request_reusing_an_id_in_flight_over_sse_is_refused() {
    let gate = Gate::start().await;
    let settings = gate.settings();
    let (policy, ops, _) = ops_and_ro();
    let mut server = start(state(policy, &settings, None, HttpOptions::default())).await;
    install_crypto();
    let http = reqwest::Client::new();
    let mut stream = http
        .get(format!("{}/sse", server.base))
        .bearer_auth(&ops)
        .send()
        .await
        .expect("GET /sse");
    let mut buffer = String::new();
    let (_, endpoint) = next_event(&mut stream, &mut buffer)
        .await
        .expect("endpoint");
    let endpoint = format!("{}{endpoint}", server.base);
    let post = |body: Value| http.post(&endpoint).bearer_auth(&ops).json(&body).send();
    assert_eq!(post(initialize()).await.expect("post").status(), 202);
    next_event(&mut stream, &mut buffer)
        .await
        .expect("initialized");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(initialized).await.expect("post").status(), 202);

    assert_eq!(
        post(send_event_call(7, "first"))
            .await
            .expect("post")
            .status(),
        202
    );
    gate.wait_for(1).await;
    for i in 0..3 {
        let text = format!("again-{i}");
        assert_eq!(
            post(send_event_call(7, &text))
                .await
                .expect("post")
                .status(),
            202
        );
        let (_, data) = next_event(&mut stream, &mut buffer).await.expect("refusal");
        let answer: Value = serde_json::from_str(&data).expect("json");
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["error"]["code"], -32600, "{answer}");
    }
    assert_eq!(gate.arrived(), 1, "only the first reached LiveChat");
    gate.open();
    let (_, data) = next_event(&mut stream, &mut buffer).await.expect("result");
    let answer: Value = serde_json::from_str(&data).expect("json");
    assert_eq!(answer["id"], 7);
    assert_eq!(http_support::answer(&answer["result"])["event_id"], "first");
    server.stop().await.expect("stops");
}

/// Over stdio a reused id gets the error line and never reaches LiveChat; the first call's
/// answer follows, its own.
#[tokio::test]
async fn a_request_reusing_an_id_in_flight_over_stdio_is_refused() {
    use rmcp::ServiceExt as _;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    let gate = Gate::start().await;
    let mut settings = gate.settings();
    settings.access = livechat_mcp::policy::Level::Full;
    let server = livechat_mcp::server::LiveChatServer::new(&settings).expect("server");
    let (mut to_server, server_in) = tokio::io::duplex(1 << 16);
    let (server_out, from_server) = tokio::io::duplex(1 << 16);
    let stdio = livechat_mcp::stdio::guard(server_in, server_out);
    let running = tokio::spawn(async move {
        let running = server.serve(stdio.transport).await.expect("serve");
        let _ = running.waiting().await;
    });
    let mut lines = BufReader::new(from_server).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("an answer")
            .expect("read")
            .expect("a line");
        serde_json::from_str(&line).expect("json")
    };
    let mut send = async |message: Value| {
        to_server
            .write_all(format!("{message}\n").as_bytes())
            .await
            .expect("write");
    };
    send(initialize()).await;
    assert_eq!(next().await["id"], 0);
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    send(send_event_call(7, "first")).await;
    gate.wait_for(1).await;
    send(send_event_call(7, "second")).await;
    let refused = next().await;
    assert_eq!(refused["id"], 7);
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert_eq!(gate.arrived(), 1, "only the first reached LiveChat");
    gate.open();
    let answer = next().await;
    assert_eq!(answer["id"], 7);
    assert_eq!(http_support::answer(&answer["result"])["event_id"], "first");
    running.abort();
}

/// Over HTTP `upload_file` never has a `path` (the files would be the server's): the schema
/// lacks it, a call with it is refused, and a file sent as base64 reaches the sandbox.
#[tokio::test]
async fn upload_file_over_http_takes_content_never_a_path() {
    let (state, ops, _, _sandbox) = ops_and_ro_state(HttpOptions::default()).await;
    let mut server = start(state).await;
    let client = McpClient::connect(&server.base, &ops).await;
    let listed = client.request("tools/list", json!({})).await;
    let tool = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == "upload_file")
        .expect("upload_file")
        .clone();
    let properties = tool["inputSchema"]["properties"]
        .as_object()
        .expect("properties");
    assert!(!properties.contains_key("path"), "{tool}");
    let (is_error, result) = client
        .call(
            "upload_file",
            json!({"name": "a.txt", "content_type": "text/plain", "path": "a.txt"}),
        )
        .await;
    assert!(is_error, "{result}");
    assert!(result.to_string().contains("`path`"), "{result}");
    let (is_error, result) = client
        .call(
            "upload_file",
            json!({"name": "a.txt", "content_type": "text/plain", "content": "aGk="}),
        )
        .await;
    assert!(!is_error, "{result}");
    assert!(
        result.to_string().contains("cdn.livechat-files.com"),
        "{result}"
    );
    server.stop().await.expect("stop");
}
