//! `--events rtm`: the RTM client against the sandbox's websocket (pushes become events; after
//! the sandbox drops every socket the client logs in again and events flow again), refused
//! logins (backoff, no token anywhere), hostile pushes from a fake server, and `serve
//! --sandbox` over stdio where `get_events` returns what happened, with nothing else running.

mod common;

use std::{process::Stdio, time::Duration};

use futures_util::{SinkExt, StreamExt};
use livechat_mcp::{
    config::{Credentials, Secret},
    events::{
        EventLog, Filter, LogOptions,
        rtm::{self, Backoff, RtmOptions, RtmStatus},
    },
    sandbox::{ORGANIZATION_ID, Sandbox, SandboxOptions},
    tools::{Api, Area},
    version::ApiVersion,
};
use rmcp::{
    ServiceExt,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

const THOMAS: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";

fn options(url: String, version: ApiVersion, token: &str) -> RtmOptions {
    RtmOptions {
        url,
        version,
        credentials: Credentials::Bearer(Secret::new(token)),
        backoff: Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(400),
        },
        ping_every: Duration::from_secs(15),
    }
}

fn log_in(dir: &std::path::Path) -> EventLog {
    EventLog::open_sqlite(&dir.join("events.db"), LogOptions::default()).unwrap()
}

async fn until(
    status: &mut watch::Receiver<RtmStatus>,
    what: impl Fn(&RtmStatus) -> bool,
) -> RtmStatus {
    tokio::time::timeout(Duration::from_secs(30), status.wait_for(|s| what(s)))
        .await
        .expect("the client got there")
        .unwrap()
        .clone()
}

/// Waits for the next events after `cursor` (the log wakes on appends); returns them and the
/// new cursor.
async fn events_after(log: &EventLog, cursor: u64) -> (Vec<(String, Value)>, u64) {
    assert!(
        log.wait_for(cursor, Duration::from_secs(30)).await,
        "an event came"
    );
    let page = log
        .after(Some(cursor), &Filter::areas(Area::ALL), 100)
        .await
        .unwrap();
    let events = page
        .events
        .into_iter()
        .map(|e| (e.action, e.payload))
        .collect();
    (events, page.cursor)
}

fn customer_says(sandbox: &Sandbox, chat: &str, text: &str) {
    sandbox
        .call_customer(
            ApiVersion::V3_6,
            THOMAS,
            "send_event",
            &json!({"chat_id": chat, "event": {"type": "message", "text": text}}),
        )
        .unwrap();
}

#[tokio::test]
async fn pushes_become_events_and_flow_again_after_every_socket_is_dropped() {
    for version in [ApiVersion::V3_5, ApiVersion::V3_6] {
        let dir = tempdir();
        let log = log_in(dir.path());
        let sandbox = Sandbox::new(SandboxOptions::default()).unwrap();
        let handle = sandbox
            .clone()
            .spawn("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let url = rtm::rtm_url(&handle.url, version, ORGANIZATION_ID).unwrap();
        let client = rtm::spawn(options(url, version, "dal:rtm-test-token"), log.clone());
        let mut status = client.status();
        until(&mut status, |s| s.logins >= 1).await;

        let started = sandbox
            .call_customer(
                version,
                THOMAS,
                "start_chat",
                &json!({"chat": {"thread": {"events": [{"type": "message", "text": "Where is my parcel?"}]}}}),
            )
            .unwrap();
        let chat = started["chat_id"].as_str().unwrap().to_string();
        let (events, cursor) = events_after(&log, 0).await;
        assert_eq!(events[0].0, "incoming_chat", "v{version}");
        assert_eq!(events[0].1["payload"]["chat"]["id"], json!(chat));
        assert_eq!(events[0].1["source"], "rtm");
        customer_says(&sandbox, &chat, "Hello?");
        let (events, cursor) = events_after(&log, cursor).await;
        assert_eq!(events[0].0, "incoming_event");
        assert_eq!(events[0].1["payload"]["event"]["text"], "Hello?");
        let stored = log
            .after(Some(0), &Filter::areas(Area::ALL), 100)
            .await
            .unwrap();
        assert_eq!(stored.events[1].chat_id.as_deref(), Some(chat.as_str()));
        assert!(stored.events[1].thread_id.is_some());

        // The network drops; the client logs in again and events flow again.
        handle.drop_rtm_connections();
        until(&mut status, |s| s.logins >= 2).await;
        customer_says(&sandbox, &chat, "Anyone there?");
        let (events, _) = events_after(&log, cursor).await;
        assert_eq!(events[0].1["payload"]["event"]["text"], "Anyone there?");
        let s = status.borrow().clone();
        assert!(s.failures >= 1, "the drop counted as a failure: {s:?}");
        assert_eq!(s.stopped, None);
        client.stop().await;
    }
}

#[tokio::test]
async fn a_refused_login_backs_off_and_never_shows_the_token() {
    let dir = tempdir();
    let log = log_in(dir.path());
    let sandbox = Sandbox::new(SandboxOptions::default()).unwrap();
    let issued = sandbox
        .call(
            ApiVersion::V3_6,
            Api::Configuration,
            "issue_bot_token",
            &json!({"bot_id": "5c9871d5372c824cbf22d860a707a578", "bot_secret": "641e2ae6d997d2009a3ac92a05f37fc3",
                    "organization_id": ORGANIZATION_ID, "client_id": "0805e283233042b37f460ed8fbf22160"}),
        )
        .unwrap();
    let bot_token = issued["token"].as_str().unwrap().to_string();
    let handle = sandbox
        .clone()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = rtm::rtm_url(&handle.url, ApiVersion::V3_6, ORGANIZATION_ID).unwrap();
    let client = rtm::spawn(options(url, ApiVersion::V3_6, &bot_token), log.clone());
    let mut status = client.status();
    // It keeps trying (with backoff), and never gets in.
    let s = until(&mut status, |s| s.failures >= 3).await;
    assert_eq!(s.logins, 0);
    let why = s.last_error.unwrap();
    assert!(
        why.contains("LiveChat refused the RTM login: authorization"),
        "{why}"
    );
    assert!(why.contains("bot"), "{why}");
    assert!(!why.contains(&bot_token), "{why}");
    client.stop().await;

    // A server that echoes the token in its refusal: the text is redacted.
    let (url, _server) = fake_server(|token| {
        vec![json!({"request_id": "login", "action": "login", "type": "response", "success": false,
                    "payload": {"error": {"type": "authentication", "message": format!("Invalid access token {token}")}}})
            .to_string()]
    })
    .await;
    let client = rtm::spawn(
        options(url, ApiVersion::V3_6, "dal:very-secret-token-1234"),
        log,
    );
    let mut status = client.status();
    let s = until(&mut status, |s| s.failures >= 2).await;
    let why = s.last_error.unwrap();
    assert!(
        why.contains("authentication: Invalid access token"),
        "{why}"
    );
    assert!(!why.contains("very-secret-token-1234"), "{why}");
    client.stop().await;
}

#[tokio::test]
async fn hostile_pushes_are_dropped_and_the_connection_goes_on() {
    let dir = tempdir();
    let log = log_in(dir.path());
    let (url, _server) = fake_server(|_| {
        let mut deep = String::new();
        for _ in 0..200 {
            deep.push_str("{\"a\":");
        }
        deep.push('1');
        for _ in 0..200 {
            deep.push('}');
        }
        let huge = json!({"version": "3.6", "action": "incoming_event", "type": "push",
                          "payload": {"chat_id": "C1", "event": {"text": "x".repeat(2 << 20)}}});
        vec![
            json!({"request_id": "login", "action": "login", "type": "response", "success": true, "payload": {}}).to_string(),
            "not json at all".to_string(),
            format!("{{\"type\":\"push\",\"action\":\"incoming_event\",\"payload\":{deep}}}"),
            huge.to_string(),
            json!({"type": "push", "action": "No Such Action!", "payload": {}}).to_string(),
            json!({"type": "push", "action": "incoming_sneak_peek", "payload": {"chat_id": "C1"}}).to_string(),
            json!({"type": "push", "action": "incoming_event", "payload": [1, 2]}).to_string(),
            json!({"version": "3.6", "type": "push", "action": "incoming_event",
                   "payload": {"chat_id": "C1", "thread_id": "T1", "event": {"id": "T1_1", "type": "message", "text": "the real one"}}}).to_string(),
        ]
    })
    .await;
    let client = rtm::spawn(
        options(url, ApiVersion::V3_6, "dal:t0ken-abcdef"),
        log.clone(),
    );
    let mut status = client.status();
    let (events, _) = events_after(&log, 0).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].1["payload"]["event"]["text"], "the real one");
    let s = until(&mut status, |s| s.stored >= 1).await;
    assert_eq!(s.logins, 1, "one connection took it all: {s:?}");
    assert_eq!(s.failures, 0, "{s:?}");
    assert!(s.dropped >= 4, "{s:?}");
    client.stop().await;
}

/// A one-connection-at-a-time RTM server: it reads `login`, then sends `frames(token)`, then
/// keeps the socket open, answering pings.
async fn fake_server(
    frames: impl Fn(&str) -> Vec<String> + Send + Sync + 'static,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "ws://{}/v3.6/agent/rtm/ws?organization_id=org",
        listener.local_addr().unwrap()
    );
    let frames = std::sync::Arc::new(frames);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let frames = frames.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(
                    stream,
                    Some(
                        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                            .max_message_size(None)
                            .max_frame_size(None),
                    ),
                )
                .await
                else {
                    return;
                };
                let Some(Ok(Message::Text(login))) = ws.next().await else {
                    return;
                };
                let login: Value = serde_json::from_str(login.as_str()).unwrap();
                let token = login["payload"]["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                for frame in frames(&token) {
                    if ws.send(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                }
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    (url, task)
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "lcmcp-rtm-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// `serve --sandbox` over stdio with a real MCP client: the agent's own message comes back
/// through the sandbox's RTM socket as `incoming_event`, read with `get_events`.
#[tokio::test]
async fn serve_sandbox_over_stdio_feeds_get_events() {
    let command =
        tokio::process::Command::new(env!("CARGO_BIN_EXE_livechat-mcp")).configure(|cmd| {
            cmd.args(["serve", "--sandbox"])
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("TMPDIR", std::env::temp_dir())
                .env("LIVECHAT_MCP_ACCESS", "full")
                .env("LIVECHAT_MCP_AUDIT", "off")
                .stderr(Stdio::null());
        });
    let client: common::Client = ().serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "get_events"));
    let (is_error, first, text) = common::call(&client, "get_events", json!({})).await;
    assert!(!is_error, "{text}");
    let mut cursor = first.unwrap()["cursor"].as_str().unwrap().to_string();
    // The RTM socket logs in in the background; a push made before it did is not sent again
    // (RTM has no retries), so say it until it is heard.
    let mut heard = None;
    for attempt in 0..20 {
        let text = format!("stdio loop {attempt}");
        let (is_error, _, why) = common::call(
            &client,
            "send_event",
            json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": text}}),
        )
        .await;
        assert!(!is_error, "{why}");
        let (is_error, page, why) = common::call(
            &client,
            "get_events",
            json!({"after": cursor, "wait_secs": 2, "types": ["incoming_event"], "chat_id": "PJ0MRSHTDG"}),
        )
        .await;
        assert!(!is_error, "{why}");
        let page = page.unwrap();
        cursor = page["cursor"].as_str().unwrap().to_string();
        if let Some(event) = page["events"].as_array().and_then(|e| e.first()) {
            heard = Some(event.clone());
            break;
        }
    }
    let event = heard.expect("an incoming_event came back through RTM");
    assert_eq!(event["action"], "incoming_event");
    assert_eq!(event["chat_id"], "PJ0MRSHTDG");
    assert!(
        event["payload"]["event"]["text"]
            .as_str()
            .unwrap()
            .starts_with("stdio loop")
    );
    assert!(
        event["summary"].as_str().unwrap().contains("PJ0MRSHTDG"),
        "{event}"
    );
    client.cancel().await.unwrap();
}
