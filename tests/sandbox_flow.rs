//! A realistic support flow on the sandbox, driven by a real MCP client (rmcp's, over the
//! binary's stdio), checking the help desk's state after each step: list chats, read one,
//! start a chat, send a message, tag the thread, transfer it, deactivate it, read the archive.
//! Runs on both API versions, over `serve --sandbox` and over `sandbox --listen` + `--api-url`.

mod common;

use std::process::Stdio;

use rmcp::{
    ServiceExt,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};
use tokio::process::Command;

const CUSTOMER: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";

struct Session {
    client: common::Client,
}

impl Session {
    async fn start(args: &[&str]) -> Session {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let command = Command::new(env!("CARGO_BIN_EXE_livechat-mcp")).configure(|cmd| {
            cmd.args(&args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("LIVECHAT_MCP_ACCESS", "full")
                .env("LIVECHAT_MCP_AUDIT", "off")
                .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
                .env("LIVECHAT_ACCESS_TOKEN", "flow-token")
                .stderr(Stdio::null());
        });
        let transport = TokioChildProcess::new(command).expect("spawn livechat-mcp");
        Session {
            client: ().serve(transport).await.expect("MCP session"),
        }
    }

    /// Calls a tool that must succeed and returns its structured result.
    async fn ok(&self, tool: &str, args: Value) -> Value {
        let (is_error, structured, text) = self.call(tool, args).await;
        assert!(!is_error, "{tool} failed: {text}");
        structured.expect("structured content")
    }

    /// Calls a tool that must fail and returns its text.
    async fn err(&self, tool: &str, args: Value) -> String {
        let (is_error, _, text) = self.call(tool, args).await;
        assert!(is_error, "{tool} should have failed");
        text
    }

    async fn call(&self, tool: &str, args: Value) -> (bool, Option<Value>, String) {
        common::call(&self.client, tool, args).await
    }
}

async fn support_flow(session: &Session, version: &str) {
    // The inbox: the seeded license has active chats.
    let chats = session.ok("list_chats", json!({"limit": 10})).await;
    let summaries = chats["chats_summary"].as_array().expect("chats_summary");
    assert!(!summaries.is_empty(), "v{version}: seeded chats");
    assert!(chats["found_chats"].as_u64().unwrap_or(0) >= summaries.len() as u64);

    // Read one conversation.
    let chat = session
        .ok("get_chat", json!({"chat_id": "PJ0MRSHTDG"}))
        .await;
    assert_eq!(chat["id"], "PJ0MRSHTDG");
    assert!(
        !chat["thread"]["events"]
            .as_array()
            .expect("events")
            .is_empty()
    );

    // Start a chat with a customer and a first message.
    let started = session
        .ok(
            "start_chat",
            json!({"chat": {
                "users": [{"id": CUSTOMER, "type": "customer"}],
                "thread": {"events": [{"type": "message", "text": "Hello, how can I help?", "visibility": "all"}]}
            }}),
        )
        .await;
    let chat_id = started["chat_id"].as_str().expect("chat_id").to_string();
    let thread_id = started["thread_id"]
        .as_str()
        .expect("thread_id")
        .to_string();

    // Reply in it; the message is then in the thread.
    let sent = session
        .ok(
            "send_event",
            json!({"chat_id": chat_id, "event": {"type": "message", "text": "Your order ships today.", "visibility": "all"}}),
        )
        .await;
    let event_id = sent["event_id"].as_str().expect("event_id").to_string();
    let chat = session.ok("get_chat", json!({"chat_id": chat_id})).await;
    let texts: Vec<&str> = chat["thread"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(texts.contains(&"Your order ships today."), "{texts:?}");
    assert!(
        chat["thread"]["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["id"] == event_id)
    );

    // Tagging needs a tag the license defines. (One sandbox may serve both versions' runs,
    // so each run makes its own tag.)
    let tag = format!("shipping-{version}");
    let refused = session
        .err(
            "tag_thread",
            json!({"chat_id": chat_id, "thread_id": thread_id, "tag": tag}),
        )
        .await;
    assert!(refused.starts_with("validation: "), "{refused}");
    session
        .ok("create_tag", json!({"name": tag, "group_ids": [0]}))
        .await;
    session
        .ok(
            "tag_thread",
            json!({"chat_id": chat_id, "thread_id": thread_id, "tag": tag}),
        )
        .await;
    let chat = session.ok("get_chat", json!({"chat_id": chat_id})).await;
    assert!(
        chat["thread"]["tags"]
            .as_array()
            .expect("tags")
            .contains(&json!(tag))
    );

    // Transfer: an unknown group fails, a real one moves the chat's access.
    let refused = session
        .err(
            "transfer_chat",
            json!({"id": chat_id, "target": {"type": "group", "ids": [999]}}),
        )
        .await;
    assert!(
        refused.starts_with("not_found: ") || refused.starts_with("group_not_found: "),
        "{refused}"
    );
    session
        .ok(
            "transfer_chat",
            json!({"id": chat_id, "target": {"type": "group", "ids": [1]}, "ignore_agents_availability": true, "ignore_requester_presence": true}),
        )
        .await;
    let chat = session.ok("get_chat", json!({"chat_id": chat_id})).await;
    assert_eq!(chat["access"]["group_ids"], json!([1]));

    // End it: the thread is no longer active.
    session
        .ok(
            "deactivate_chat",
            json!({"id": chat_id, "ignore_requester_presence": true}),
        )
        .await;
    let chat = session.ok("get_chat", json!({"chat_id": chat_id})).await;
    assert_eq!(chat["thread"]["active"], false);

    // The archive finds it.
    let archive = session
        .ok(
            "list_archives",
            json!({"filters": {"query": "ships today"}}),
        )
        .await;
    let ids: Vec<&str> = archive["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(
        ids.contains(&chat_id.as_str()),
        "v{version}: archive search found {ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn support_flow_over_serve_sandbox() {
    for version in ["3.5", "3.6"] {
        let session = Session::start(&["--sandbox", "--api-version", version, "serve"]).await;
        support_flow(&session, version).await;
        session.client.cancel().await.ok();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn support_flow_over_sandbox_listen_and_api_url() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("addr").port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut sandbox = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .args(["sandbox", "--listen", &listen])
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("sandbox --listen");
    let url = format!("http://{listen}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&listen).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Without an Authorization header the sandbox answers like LiveChat does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let raw = reqwest::Client::new()
        .post(format!("{url}/v3.6/agent/action/list_chats"))
        .body("{}")
        .send()
        .await
        .expect("raw request");
    let body: Value = raw.json().await.expect("json");
    assert_eq!(body["error"]["type"], "authentication");

    for version in ["3.5", "3.6"] {
        let session = Session::start(&["--api-url", &url, "--api-version", version, "serve"]).await;
        support_flow(&session, version).await;
        session.client.cancel().await.ok();
    }
    sandbox.kill().await.ok();
}
