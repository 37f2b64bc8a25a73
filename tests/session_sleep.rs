//! Idle streamable-HTTP sessions are put to sleep (rmcp's side of them closed, their
//! `initialize` kept) and woken by their next request, which the client cannot tell: the same
//! session id, the same answers, the same cap, idle timeout and DELETE. A session with a stream
//! open, or with a subscription, stays awake. Runs on a loopback socket against the embedded
//! sandbox, with a short `session_doze`.

mod http_support;

use std::time::Duration;

use http_support::*;
use livechat_mcp::http::HttpOptions;
use serde_json::json;

fn dozing(doze_ms: u64) -> HttpOptions {
    HttpOptions {
        session_doze: Duration::from_millis(doze_ms),
        ..HttpOptions::default()
    }
}

#[tokio::test]
async fn an_idle_session_sleeps_and_its_next_requests_wake_it_unchanged() {
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, _) = ops_and_ro();
    let mut server = start(state(policy, &settings, None, dozing(100))).await;
    let client = McpClient::connect(&server.base, &ops).await;
    let awake_tools = client.tools().await;
    let (failed, awake_whoami) = client.call("whoami", json!({})).await;
    assert!(!failed, "{awake_whoami}");

    let served = server.state.clone();
    eventually("the idle session to sleep", || {
        served.sessions_asleep() == 1
    })
    .await;
    // Woken by a request: the same tools, the same identity, in the same session.
    assert_eq!(client.tools().await, awake_tools);
    eventually("the session to sleep again", || {
        served.sessions_asleep() == 1
    })
    .await;
    let (failed, whoami) = client.call("whoami", json!({})).await;
    assert!(!failed, "{whoami}");
    assert_eq!(whoami, awake_whoami);
    // A notification does not wake it; a request after it is answered.
    eventually("the session to sleep again", || {
        served.sessions_asleep() == 1
    })
    .await;
    let note = client
        .post(
            &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 41, "reason": "gone"}}),
        )
        .await;
    assert_eq!(note.status(), 202);
    assert_eq!(served.sessions_asleep(), 1);
    assert_eq!(client.tools().await, awake_tools);

    // DELETE ends a sleeping session like an awake one.
    eventually("the session to sleep again", || {
        served.sessions_asleep() == 1
    })
    .await;
    let deleted = client
        .http
        .delete(&client.url)
        .bearer_auth(&client.key)
        .header("mcp-session-id", &client.session)
        .header("mcp-protocol-version", PROTOCOL)
        .send()
        .await
        .expect("DELETE");
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let gone = client
        .post(&json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list"}))
        .await;
    assert_eq!(gone.status(), 404, "the deleted session is gone");
    assert_eq!(served.sessions_asleep(), 0);
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_session_with_a_stream_open_stays_awake_and_sleeps_after_it_ends() {
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, _) = ops_and_ro();
    let options = HttpOptions {
        // The server sees a dropped stream at its next keep-alive.
        sse_keep_alive: Duration::from_millis(100),
        ..dozing(100)
    };
    let mut server = start(state(policy, &settings, None, options)).await;
    let streaming = McpClient::connect(&server.base, &ops).await;
    let idle = McpClient::connect(&server.base, &ops).await;
    let stream = streaming
        .http
        .get(&streaming.url)
        .bearer_auth(&streaming.key)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &streaming.session)
        .header("mcp-protocol-version", PROTOCOL)
        .send()
        .await
        .expect("GET /mcp");
    assert_eq!(stream.status(), 200);
    let served = server.state.clone();
    eventually("the idle session to sleep", || {
        served.sessions_asleep() == 1
    })
    .await;
    // The idle one sleeps; the streaming one answers as an awake session.
    assert!(!streaming.tools().await.is_empty());
    drop(stream);
    eventually("the stream's session to sleep once it ended", || {
        served.sessions_asleep() == 2
    })
    .await;
    assert!(!idle.tools().await.is_empty());
    assert!(!streaming.tools().await.is_empty());
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn sleeping_sessions_count_against_the_cap_and_expire_when_idle() {
    let (_sandbox, settings) = sandbox().await;
    let (policy, ops, _) = ops_and_ro();
    let options = HttpOptions {
        max_sessions_per_agent: 1,
        ..dozing(50)
    };
    let mut server = start(state(policy.clone(), &settings, None, options)).await;
    let first = McpClient::connect(&server.base, &ops).await;
    let served = server.state.clone();
    eventually("the first session to sleep", || {
        served.sessions_asleep() == 1
    })
    .await;
    // At the cap, the sleeping (idle) session is closed to make room.
    let second = McpClient::connect(&server.base, &ops).await;
    let gone = first
        .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}))
        .await;
    assert_eq!(gone.status(), 404, "closed to make room");
    assert!(!second.tools().await.is_empty());
    server.stop().await.expect("stops");

    // The idle timeout closes a sleeping session as it closes an awake one.
    let options = HttpOptions {
        idle_timeout: Duration::from_millis(600),
        ..dozing(50)
    };
    let mut server = start(state(policy, &settings, None, options)).await;
    let client = McpClient::connect(&server.base, &ops).await;
    let served = server.state.clone();
    eventually("the session to sleep", || served.sessions_asleep() == 1).await;
    eventually("the sleeping session to expire", || {
        served.sessions_asleep() == 0
    })
    .await;
    let expired = client
        .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}))
        .await;
    assert_eq!(expired.status(), 404, "the idle session is gone");
    server.stop().await.expect("stops");
}
