//! Issue 13's push loop with the official Python MCP client (mcp 2.3) and no LiveChat account:
//! the sandbox, `serve --http` (a binary process) with the webhook secret and two agents,
//! `webhooks sync` pointing the sandbox at the server, two customer chats. The reader
//! subscribes to one chat (`resources/subscribe` on a 2025-11-25 session, and
//! `subscriptions/listen` on 2026-07-28); a message in the other chat tells it nothing, one in
//! its chat sends `notifications/resources/updated` for that URI. The agent with
//! `chats = "off"` is refused.
//!
//! Needs `LIVECHAT_MCP_E2E_PYTHON`: a Python with `mcp==2.3.0` (`tests/run` sets it up).

mod http_support;

use std::process::Command;

use http_support::*;
use serde_json::Value;

const SECRET: &str = "e2e-secret-0123456789abcdef0123456789";

/// A customer starts a chat; its ID.
async fn start_chat(sandbox: &str, dir: &std::path::Path, text: &str) -> String {
    let args = ["sandbox", "customer", "--url", sandbox, "start", text];
    let (code, out, err) = operator(sandbox, dir, SECRET, &args).await;
    assert_eq!(code, Some(0), "{out}{err}");
    let chat: Value = serde_json::from_str(&out).expect("start prints JSON");
    chat["chat_id"].as_str().expect("chat_id").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_client_is_told_when_a_customer_writes_in_its_chat() {
    let Ok(python) = std::env::var("LIVECHAT_MCP_E2E_PYTHON") else {
        eprintln!(
            "\n*** SKIPPED: LIVECHAT_MCP_E2E_PYTHON is not set, so the Python MCP client was not run. `tests/run` sets it up. ***\n"
        );
        return;
    };
    let (sandbox, _) = sandbox().await;
    let dir = TempDir::new("events-subs-e2e");
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
        ],
        &[
            ("LIVECHAT_API_URL", sandbox.url.as_str()),
            ("LIVECHAT_ACCESS_TOKEN", "sandbox-owner-token"),
            ("LIVECHAT_MCP_WEBHOOK_SECRET", SECRET),
        ],
    );
    let sync = ["webhooks", "sync", "--url", server.base.as_str()];
    let (code, out, err) = operator(&sandbox.url, &dir.join(""), SECRET, &sync).await;
    assert_eq!(code, Some(0), "{out}{err}");

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/python_subscriptions.py"
    );
    for mode in ["legacy", "auto"] {
        let chat = start_chat(&sandbox.url, &dir.join(""), "Hello, anyone?").await;
        let other = start_chat(&sandbox.url, &dir.join(""), "Another customer").await;
        let (python, script, base) = (python.clone(), script.to_string(), server.base.clone());
        let (reader, blind) = (keys[0].clone(), keys[1].clone());
        let (sandbox_url, chat_id, other_id) = (sandbox.url.clone(), chat.clone(), other.clone());
        let output = tokio::task::spawn_blocking(move || {
            Command::new(python)
                .args([
                    script.as_str(),
                    &base,
                    &reader,
                    &blind,
                    mode,
                    &chat_id,
                    &other_id,
                ])
                .env("LIVECHAT_MCP_BIN", env!("CARGO_BIN_EXE_livechat-mcp"))
                .env("LIVECHAT_SANDBOX_URL", sandbox_url)
                .output()
                .expect("run the Python client")
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{mode}:\n{stderr}\nserver:\n{}",
            server.stderr()
        );
        let report: Value = serde_json::from_slice(&output.stdout).expect("report JSON");
        let uri = format!("livechat://chats/{chat}");
        let expected_protocol = if mode == "auto" {
            "2026-07-28"
        } else {
            "2025-11-25"
        };
        assert_eq!(report["protocol_version"], expected_protocol, "{report}");
        assert_eq!(
            report["after_other_chat"],
            serde_json::json!([]),
            "{mode}: a message in another chat tells nothing: {report}"
        );
        assert_eq!(
            report["notified"],
            serde_json::json!([uri]),
            "{mode}: {report}"
        );
        assert_eq!(report["blind"]["refused"], true, "{mode}: {report}");
        if mode == "legacy" {
            assert_eq!(report["subscribe_capability"], true, "{report}");
            assert_eq!(report["read_chat_id"], chat.as_str(), "{report}");
            assert!(
                report["blind"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("not_available:")),
                "{report}"
            );
        } else {
            assert_eq!(report["honored"], serde_json::json!([uri]), "{report}");
            assert_eq!(
                report["blind"]["honored"],
                serde_json::json!([]),
                "{report}"
            );
            // Far more than the cap in one listen: the first 32 are taken.
            let capped: Vec<String> = (0..32).map(|n| format!("livechat://chats/C{n}")).collect();
            assert_eq!(report["cap_honored"], serde_json::json!(capped), "{report}");
        }
        eprintln!(
            "{mode}: customer say → notifications/resources/updated in {} ms",
            report["latency_ms"]
        );
    }

    // The trail has the subscriptions, the refusals among them.
    // A listen's rows are written by a task of their own, in no order with the other
    // session's: wait (a hang guard, not a timing assertion) until every row is there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut rows = audit_rows(&audit).await;
    let all_in = |rows: &[livechat_mcp::audit::Entry]| {
        rows.iter().filter(|r| r.agent == "blind").count() >= 2
            && rows
                .iter()
                .filter(|r| r.error_type.as_deref() == Some("too_many_subscriptions"))
                .count()
                >= 33
    };
    while !all_in(&rows) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        rows = audit_rows(&audit).await;
    }
    let subscribed = rows
        .iter()
        .filter(|r| {
            r.agent == "reader"
                && r.tool == "subscribe_chat"
                && r.outcome == livechat_mcp::audit::Outcome::Ok
        })
        .count();
    assert_eq!(
        subscribed,
        2 + 32,
        "one per mode, and the 32 of the listen over the cap"
    );
    let refused = rows
        .iter()
        .filter(|r| {
            r.agent == "blind"
                && r.tool == "subscribe_chat"
                && r.reason.as_deref() == Some("chats is off for blind")
        })
        .count();
    assert_eq!(refused, 2, "one per mode");
    // Of the 70 asked for in one listen: 32 taken, the next 32 recorded as over the cap, and
    // one row for the 6 past twice the cap.
    let over = rows
        .iter()
        .filter(|r| r.error_type.as_deref() == Some("too_many_subscriptions"))
        .count();
    assert_eq!(over, 33);
    assert_eq!(server.terminate().code(), Some(0));
    assert!(!server.stderr().contains(SECRET));
}
