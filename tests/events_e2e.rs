//! Issue 13's end-to-end loop with no LiveChat account: `sandbox --listen`, `serve --http` with
//! two agents (one may read chats, one may not), `webhooks sync` pointing the sandbox at the
//! server, then a customer `start` and `say`: the first agent's long-poll returns
//! `incoming_chat` and `incoming_event` with the text, the second gets nothing.

mod http_support;

use std::process::Command;
use std::time::{Duration, Instant};

use http_support::*;
use serde_json::{Value, json};

const SECRET: &str = "e2e-secret-0123456789abcdef0123456789";

fn events_of(result: &Value) -> Value {
    serde_json::from_str(result["content"][0]["text"].as_str().expect("text")).expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_message_reaches_the_agent_that_may_read_chats_and_no_other() {
    let (sandbox, _) = sandbox().await;
    let dir = TempDir::new("events-e2e");
    let (text, keys) = policy(&[
        ("reader", r#"{ chats = "read" }"#),
        ("blind", r#"{ chats = "off", agents = "read" }"#),
    ]);
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, text).unwrap();
    let audit = dir.join("audit.db");
    let mut server = ServerProcess::spawn(
        &[
            "--policy",
            policy_path.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
            "--events-retention",
            "1h,1000",
        ],
        &[
            ("LIVECHAT_API_URL", sandbox.url.as_str()),
            ("LIVECHAT_ACCESS_TOKEN", "sandbox-owner-token"),
            ("LIVECHAT_MCP_WEBHOOK_SECRET", SECRET),
        ],
    );
    let reader = McpClient::connect(&server.base, &keys[0]).await;
    let blind = McpClient::connect(&server.base, &keys[1]).await;
    let (_, now) = reader.call("get_events", json!({})).await;
    let from = events_of(&now)["cursor"].as_str().unwrap().to_string();
    let (_, blind_now) = blind.call("get_events", json!({})).await;
    let blind_from = events_of(&blind_now)["cursor"]
        .as_str()
        .unwrap()
        .to_string();

    // Point the sandbox's license webhooks at the server.
    let (url, base) = (sandbox.url.as_str(), server.base.as_str());
    let (code, out, err) = operator(
        url,
        &dir.join(""),
        SECRET,
        &["webhooks", "sync", "--url", base],
    )
    .await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("incoming_chat: registered a webhook"), "{out}");

    // A customer starts a chat and writes again.
    let started_at = Instant::now();
    // `livechat-mcp sandbox customer --url URL …`: its output, once it succeeded.
    let operator_dir = dir.join("");
    let operator_dir = &operator_dir;
    let customer = |args: Vec<String>| async move {
        let mut all = vec!["sandbox", "customer", "--url", url];
        all.extend(args.iter().map(String::as_str));
        let (code, out, err) = operator(url, operator_dir, SECRET, &all).await;
        assert_eq!(code, Some(0), "{out}{err}");
        out
    };
    let out = customer(vec!["start".into(), "Hello, is anyone there?".into()]).await;
    let chat: Value = serde_json::from_str(&out).expect("start prints JSON");
    let chat_id = chat["chat_id"].as_str().expect("chat_id").to_string();
    customer(vec![
        "say".into(),
        chat_id.clone(),
        "My order is late".into(),
    ])
    .await;
    // A second message comes through the same webhook registration (the same `webhook_id`).
    customer(vec!["say".into(), chat_id.clone(), "Any news?".into()]).await;

    // The reader's long-poll answers with all three, the texts included.
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor = from;
    while seen.len() < 3 && started_at.elapsed() < Duration::from_secs(10) {
        let (error, got) = reader
            .call("get_events", json!({"after": cursor, "wait_secs": 5}))
            .await;
        assert!(!error, "{got}");
        let got = events_of(&got);
        cursor = got["cursor"].as_str().unwrap().to_string();
        seen.extend(got["events"].as_array().unwrap().iter().cloned());
    }
    let arrived = started_at.elapsed();
    let actions: Vec<&str> = seen.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"incoming_chat"), "{seen:?}");
    assert!(actions.contains(&"incoming_event"), "{seen:?}");
    assert!(
        seen.iter().all(|e| e["chat_id"] == chat_id.as_str()),
        "{seen:?}"
    );
    let said: Vec<&str> = seen
        .iter()
        .filter(|e| e["action"] == "incoming_event")
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(said.len(), 2, "{seen:?}");
    assert!(said[0].ends_with("\"My order is late\""), "{said:?}");
    assert!(said[1].ends_with("\"Any news?\""), "{said:?}");
    eprintln!("customer start → all three events in get_events: {arrived:?}");

    // The agent without chats learns nothing.
    let (_, nothing) = blind
        .call("get_events", json!({"after": blind_from, "wait_secs": 1}))
        .await;
    assert_eq!(events_of(&nothing)["events"], json!([]), "{nothing}");
    assert_eq!(server.terminate().code(), Some(0));
    assert!(!server.stderr().contains(SECRET));
}

#[test]
fn a_bad_retention_stops_start_up_naming_the_form() {
    let out = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--events-retention",
            "24h",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not AGE,COUNT"), "{stderr}");
}
