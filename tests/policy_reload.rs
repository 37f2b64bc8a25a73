//! A running `serve --http` takes a new policy without a restart (issue 15): the file edited
//! by hand, or re-read on SIGHUP, reaches open sessions at their next request; a file that
//! does not parse, or that the server cannot serve, is not applied and the old policy stays.

mod http_support;

use std::time::{Duration, Instant};

use http_support::{McpClient, ServerProcess, TempDir, policy};
use livechat_mcp::{http::new_key, policy::key_sha256};

/// A customer of the sandbox's built-in license.
const SEEDED_CUSTOMER: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";

/// Polls `check` until it is true, for at most 20 s (a wait, not a timed assertion: the
/// server re-reads the file within about a second).
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "not seen within 20 s: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status_of(client: &McpClient) -> u16 {
    client
        .http
        .post(&client.url)
        .bearer_auth(&client.key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &client.session)
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list"}))
        .send()
        .await
        .expect("post")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_running_server_applies_a_hand_edited_policy_to_open_sessions() {
    let dir = TempDir::new("policy-reload");
    let (text, keys) = policy(&[
        ("ops", r#"{ chats = "read" }"#),
        ("other", r#"{ chats = "read" }"#),
    ]);
    let path = dir.join("team.toml");
    std::fs::write(&path, &text).expect("policy");
    let audit = dir.join("audit.db");
    let mut server = ServerProcess::spawn(
        &[
            "--sandbox",
            "--policy",
            path.to_str().expect("utf-8"),
            "--audit",
            audit.to_str().expect("utf-8"),
        ],
        &[],
    );
    let ops = McpClient::connect(&server.base, &keys[0]).await;
    let other = McpClient::connect(&server.base, &keys[1]).await;
    assert!(!ops.tools().await.contains(&"get_customer".to_string()));
    let (_, refused) = ops
        .call("get_customer", serde_json::json!({"id": "x"}))
        .await;
    assert!(refused.to_string().contains("not available"), "{refused}");

    // Granted by hand in the file: the session opened before sees it.
    let granted = text.replacen(
        r#"access = { chats = "read" }"#,
        r#"access = { chats = "read", customers = "read" }"#,
        1,
    );
    std::fs::write(&path, &granted).expect("edit");
    until("ops's tools/list gains get_customer", async || {
        ops.tools().await.contains(&"get_customer".to_string())
    })
    .await;
    let (error, result) = ops
        .call("get_customer", serde_json::json!({"id": SEEDED_CUSTOMER}))
        .await;
    assert!(!error, "the new grant works in the same session: {result}");
    assert!(!other.tools().await.contains(&"get_customer".to_string()));

    // A file that does not parse is not applied: the grant stays, and the server says why.
    std::fs::write(&path, format!("{granted}\n[agents.broken\n")).expect("break");
    until("the server warns about the broken file", async || {
        server.stderr().contains("was not applied")
    })
    .await;
    assert!(ops.tools().await.contains(&"get_customer".to_string()));
    assert!(
        server.stderr().contains("team.toml:"),
        "{}",
        server.stderr()
    );

    // A file the server cannot serve (an agent without a key) is not applied either.
    let keyless = format!("{granted}[agents.nokey]\naccess = {{}}\n");
    std::fs::write(&path, &keyless).expect("keyless");
    until("the server refuses the keyless agent", async || {
        server.stderr().contains("`nokey`")
    })
    .await;
    assert!(ops.tools().await.contains(&"get_customer".to_string()));

    // A new key for ops: the old one stops working at its next request, the new one works.
    let new = new_key();
    let rotated = granted.replacen(&key_sha256(&keys[0]), &key_sha256(&new), 1);
    std::fs::write(&path, &rotated).expect("rotate");
    until("the old key is refused", async || {
        status_of(&ops).await == 401
    })
    .await;
    let renewed = McpClient::connect(&server.base, &new).await;
    assert!(renewed.tools().await.contains(&"get_customer".to_string()));

    // `other` taken out of the policy: refused at once, its session gone.
    let without_other: String = rotated
        .split("[agents.other]")
        .next()
        .expect("ops first")
        .to_string();
    std::fs::write(&path, &without_other).expect("remove");
    until("the removed agent is refused", async || {
        status_of(&other).await == 401
    })
    .await;
    assert!(
        server.stderr().contains("removed other"),
        "{}",
        server.stderr()
    );
    assert!(server.terminate().success());
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_re_reads_a_change_the_polling_cannot_see() {
    let dir = TempDir::new("policy-sighup");
    let (text, keys) = policy(&[("ops", r#"{ chats = "read" }"#)]);
    let path = dir.join("team.toml");
    std::fs::write(&path, &text).expect("policy");
    let mut server = ServerProcess::spawn(
        &[
            "--sandbox",
            "--policy",
            path.to_str().expect("utf-8"),
            "--audit",
            "off",
        ],
        &[],
    );
    let ops = McpClient::connect(&server.base, &keys[0]).await;
    // The same length and modification time: only SIGHUP tells the server to look.
    let modified = std::fs::metadata(&path)
        .expect("meta")
        .modified()
        .expect("mtime");
    let granted = text.replacen(r#"chats = "read""#, r#"chats = "full""#, 1);
    assert_eq!(granted.len(), text.len());
    std::fs::write(&path, &granted).expect("edit");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open")
        .set_modified(modified)
        .expect("set mtime");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        !ops.tools().await.contains(&"deactivate_chat".to_string()),
        "polling alone must not have seen it, or this test proves nothing"
    );
    let pid = server.pid();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    until("SIGHUP applies the change", async || {
        ops.tools().await.contains(&"deactivate_chat".to_string())
    })
    .await;
    assert!(server.terminate().success());
}

/// The Python MCP client's session hears `notifications/tools/list_changed` when the policy
/// file changes its grants, and its next `tools/list` has the new tools.
#[tokio::test]
async fn a_python_client_hears_that_its_tools_changed() {
    let Some(python) = std::env::var_os("LIVECHAT_MCP_E2E_PYTHON") else {
        eprintln!(
            "SKIPPED a_python_client_hears_that_its_tools_changed: LIVECHAT_MCP_E2E_PYTHON is not set (tests/run sets it)"
        );
        return;
    };
    let dir = TempDir::new("policy-list-changed");
    let (text, keys) = policy(&[("ops", r#"{ chats = "read" }"#)]);
    let path = dir.join("team.toml");
    std::fs::write(&path, &text).expect("policy");
    let next = dir.join("next.toml");
    std::fs::write(
        &next,
        text.replacen(
            r#"{ chats = "read" }"#,
            r#"{ chats = "read", customers = "read" }"#,
            1,
        ),
    )
    .expect("next policy");
    let mut server = ServerProcess::spawn(
        &[
            "--sandbox",
            "--policy",
            path.to_str().expect("utf-8"),
            "--audit",
            "off",
        ],
        &[],
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/python_list_changed.py"
    );
    let (base, key) = (server.base.clone(), keys[0].clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args([
                script,
                &base,
                &key,
                path.to_str().expect("utf-8"),
                next.to_str().expect("utf-8"),
            ])
            .output()
            .expect("run the Python client")
    })
    .await
    .expect("joined");
    assert!(
        output.status.success(),
        "{}\nserver:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.stderr()
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON report");
    assert_eq!(report["list_changed_capability"], true, "{report}");
    let has = |list: &str, tool: &str| {
        report[list]
            .as_array()
            .expect("tools")
            .iter()
            .any(|t| t == tool)
    };
    assert!(!has("before", "get_customer"), "{report}");
    assert!(report["notified"].as_u64() >= Some(1), "{report}");
    assert!(has("after", "get_customer"), "{report}");
    assert!(server.terminate().success());
}
