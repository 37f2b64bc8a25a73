//! The built binary as clients and users run it: raw JSON-RPC over stdio in both protocol
//! eras, nothing but MCP on stdout, no secret in the logs, and the `call`/`tools` commands'
//! exit codes.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use livechat_mcp::{
    tools::{self, Access},
    version::ApiVersion,
};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

const SECRET: &str = "dal:very-secret-token-0123456789";

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("LIVECHAT_MCP_AUDIT", "off");
    cmd
}

async fn stand_in() -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"chats_summary": [], "found_chats": 0})),
        )
        .mount(&mock)
        .await;
    mock
}

/// Sends JSON-RPC lines to `serve` and returns every stdout line (parsed) and stderr.
fn converse(api_url: &str, messages: &[Value]) -> (Vec<Value>, String) {
    let mut child = binary()
        .args(["serve"])
        .env("LIVECHAT_API_URL", api_url)
        .env("LIVECHAT_ACCOUNTS_URL", api_url)
        .env("LIVECHAT_ACCESS_TOKEN", SECRET)
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    // Drain stderr as it comes: trace logs would otherwise fill the pipe and stall the server.
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut text);
        text
    });
    let expected = messages.iter().filter(|m| m.get("id").is_some()).count();
    for message in messages {
        writeln!(stdin, "{message}").expect("write");
    }
    stdin.flush().expect("flush");
    let mut replies = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("read");
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("stdout carried something that is not JSON-RPC: {line:?}"));
        assert_eq!(value["jsonrpc"], "2.0", "{line}");
        if value.get("id").is_some() {
            replies.push(value);
        }
        if replies.len() == expected {
            break;
        }
    }
    drop(stdin);
    child.wait().expect("serve exits when stdin closes");
    (replies, stderr_reader.join().expect("stderr reader"))
}

fn reply(replies: &[Value], id: u64) -> &Value {
    replies
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no reply to {id}: {replies:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_2025_initialize_era_works_and_unknown_methods_get_an_error() {
    let mock = stand_in().await;
    let (replies, stderr) = converse(
        &mock.uri(),
        &[
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"}}}),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            json!({"jsonrpc": "2.0", "id": 3, "method": "no/such/method"}),
            json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "list_chats", "arguments": {"limit": 1}}}),
        ],
    );
    let init = &reply(&replies, 1)["result"];
    assert_eq!(init["protocolVersion"], "2025-11-25");
    assert_eq!(init["serverInfo"]["name"], "livechat-mcp");
    let tools = reply(&replies, 2)["result"]["tools"]
        .as_array()
        .expect("tools")
        .len();
    let reads = tools::all()
        .filter(|t| t.available_in(ApiVersion::default()) && t.access == Access::Read)
        .count();
    assert_eq!(
        tools,
        reads + 1,
        "read tools and `whoami` listed by default"
    );
    assert!(
        reply(&replies, 3)["error"]["code"].is_i64(),
        "unknown method → JSON-RPC error"
    );
    let call = &reply(&replies, 4)["result"];
    assert_eq!(call.get("structuredContent"), None, "sent once, as text");
    assert_eq!(answer(call), json!({"chats_summary": [], "found_chats": 0}));
    assert!(
        !stderr.contains("very-secret-token"),
        "the token leaked into the logs"
    );
    let received = mock.received_requests().await.unwrap_or_default();
    let paths: Vec<String> = received
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        paths,
        ["GET /v2/info", "POST /v3.6/agent/action/list_chats"],
        "start-up reads the token's scopes, then the one call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_2026_discover_era_works() {
    let mock = stand_in().await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let (replies, stderr) = converse(
        &mock.uri(),
        &[
            json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": meta}}),
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"_meta": meta, "name": "list_chats", "arguments": {}}}),
            json!({"jsonrpc": "2.0", "id": 4, "method": "no/such/method", "params": {"_meta": meta}}),
        ],
    );
    let discover = &reply(&replies, 1)["result"];
    let versions = discover["supportedVersions"]
        .as_array()
        .expect("supportedVersions");
    assert!(
        versions.contains(&json!("2026-07-28")) && versions.contains(&json!("2025-11-25")),
        "{discover}"
    );
    assert!(
        !reply(&replies, 2)["result"]["tools"]
            .as_array()
            .expect("tools")
            .is_empty()
    );
    assert_eq!(answer(&reply(&replies, 3)["result"])["found_chats"], 0);
    assert!(reply(&replies, 4)["error"]["code"].is_i64());
    assert!(!stderr.contains("very-secret-token"));
}

#[tokio::test(flavor = "multi_thread")]
async fn call_prints_the_result_and_uses_exit_codes() {
    let mock = stand_in().await;
    let run = |args: &[&str]| {
        binary()
            .args(args)
            .env("LIVECHAT_API_URL", mock.uri())
            .env("LIVECHAT_ACCOUNTS_URL", mock.uri())
            .env("LIVECHAT_ACCESS_TOKEN", SECRET)
            .output()
            .expect("run")
    };
    let ok = run(&["call", "list_chats", r#"{"limit": 2}"#]);
    assert_eq!(ok.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&ok.stdout).expect("stdout is the result JSON");
    assert_eq!(printed["found_chats"], 0);

    let tool_error = run(&["call", "list_chats", r#"{"limit": 1000}"#]);
    assert_eq!(tool_error.status.code(), Some(1));
    assert!(tool_error.stdout.is_empty());
    assert!(String::from_utf8_lossy(&tool_error.stderr).contains("`limit`"));

    for usage in [
        vec!["call", "list_chats", "{not json"],
        vec!["call", "list_chats", "[1]"],
        vec!["--api-version", "4.0", "tools"],
        vec!["call"],
    ] {
        let out = run(&usage);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{usage:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let hidden = run(&["call", "deactivate_chat", r#"{"id": "X"}"#]);
    assert_eq!(hidden.status.code(), Some(1), "writes need --access full");
    let listing = run(&[
        "--access",
        "full",
        "--api-version",
        "v3.5",
        "tools",
        "--json",
    ]);
    assert_eq!(listing.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let on_35 = tools::all()
        .filter(|t| t.available_in(ApiVersion::V3_5))
        .count();
    assert_eq!(lines.len(), on_35);
    assert!(
        lines.iter().all(|l| l["area"].is_string()
            && l["access"].is_string()
            && l["description"].is_string())
    );
}

/// Start-up reads the token's scopes and hides what the token cannot use: here from a sandbox
/// whose token only reads chats, which answers the accounts service's `/v2/info` too.
#[tokio::test(flavor = "multi_thread")]
async fn tools_the_token_cannot_use_are_hidden() {
    let listen = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("addr").to_string()
    };
    let mut sandbox = binary()
        .args([
            "sandbox",
            "--listen",
            &listen,
            "--sandbox-scopes",
            "chats--all:ro",
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("sandbox --listen");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&listen).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("http://{listen}");
    let out = binary()
        .args([
            "--access",
            "full",
            "--api-url",
            &url,
            "--accounts-url",
            &url,
            "tools",
            "--json",
        ])
        .env("LIVECHAT_ACCESS_TOKEN", "anything")
        .output()
        .expect("tools");
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON line")["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        // The chat reads, the two writes that need only a read scope, and the four methods
        // LiveChat asks no scope for.
        [
            "list_chats",
            "list_threads",
            "get_chat",
            "list_archives",
            "follow_chat",
            "unfollow_chat",
            "mark_events_as_seen",
            "upload_file",
            "list_agents_for_transfer",
            "list_webhook_names"
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sandbox customer` against a spawned `sandbox --listen`: `start` and `say` print the new
/// IDs, the webhooks registered on the sandbox receive the customer's chat and message, and a
/// refused call exits non-zero with the sandbox's reason.
#[tokio::test(flavor = "multi_thread")]
async fn sandbox_customer_starts_a_chat_and_writes_in_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let receiver = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let listen = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("addr").to_string()
    };
    let mut sandbox = binary()
        .args(["sandbox", "--listen", &listen])
        .stderr(Stdio::null())
        .spawn()
        .expect("sandbox --listen");
    for _ in 0..100 {
        if std::net::TcpStream::connect(&listen).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("http://{listen}");
    let http = reqwest::Client::new();
    for action in ["incoming_chat", "incoming_event"] {
        let status = http
            .post(format!("{url}/v3.6/configuration/action/register_webhook"))
            .bearer_auth("anything")
            .json(&json!({
                "action": action,
                "secret_key": "cli-secret",
                "url": format!("{}/hook", receiver.uri()),
                "owner_client_id": "f1c2e3d4a5b6c7d8e9f0a1b2c3d4e5f6",
                "type": "license",
            }))
            .send()
            .await
            .expect("register_webhook")
            .status();
        assert_eq!(status, 200);
    }
    let customer = |args: &[&str]| {
        binary()
            .args(["sandbox", "customer", "--url", &url])
            .args(args)
            .output()
            .expect("sandbox customer")
    };
    let out = customer(&["start", "Hello from the command line"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut keys: Vec<&String> = started.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["chat_id", "event_id", "thread_id"], "{started}");
    let chat_id = started["chat_id"].as_str().expect("chat_id");

    let out = customer(&["say", chat_id, "Anyone there?"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(said["event_id"].is_string(), "{said}");
    assert_eq!(said.as_object().map(|o| o.len()), Some(1), "{said}");

    // Another customer, by ID, cannot write in Thomas's chat.
    let out = customer(&["say", "--customer", "someone-else", chat_id, "Hi"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not_found") && stderr.contains(chat_id),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    // Bad input is refused before any request.
    let out = customer(&["say", chat_id, " "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TEXT cannot be empty"));

    let mut bodies = Vec::new();
    for _ in 0..200 {
        bodies = receiver.received_requests().await.unwrap_or_default();
        if bodies.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    let bodies: Vec<Value> = bodies
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON body"))
        .collect();
    let actions: Vec<&str> = bodies.iter().filter_map(|b| b["action"].as_str()).collect();
    assert_eq!(actions, ["incoming_chat", "incoming_event"]);
    assert_eq!(bodies[0]["payload"]["chat"]["id"], json!(chat_id));
    assert_eq!(bodies[1]["payload"]["event"]["text"], "Anyone there?");
    assert!(bodies.iter().all(|b| b["secret_key"] == "cli-secret"));
}

/// A line that is not JSON gets JSON-RPC's parse error, with the request's id when the line
/// shows one, and the session goes on; rmcp alone would drop the line and leave the client
/// waiting.
#[test]
fn a_line_that_is_not_json_gets_a_parse_error_and_the_session_goes_on() {
    let mut child = binary()
        .args(["--sandbox", "serve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    writeln!(stdin, "{init}").expect("write");
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
    )
    .expect("write");
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list" oops"#
    )
    .expect("write");
    writeln!(stdin, "not json at all").expect("write");
    writeln!(
        stdin,
        "{}",
        json!({"jsonrpc": "2.0", "id": 3, "method": "ping"})
    )
    .expect("write");
    stdin.flush().expect("flush");
    let mut replies = Vec::new();
    for line in stdout.lines() {
        let value: Value = serde_json::from_str(&line.expect("read")).expect("stdout is JSON");
        replies.push(value);
        if replies.len() == 4 {
            break;
        }
    }
    drop(stdin);
    child.wait().expect("serve exits when stdin closes");
    let by_id = |id: Value| replies.iter().find(|r| r["id"] == id).cloned();
    assert_eq!(
        by_id(json!(2)).expect("answer to 2")["error"]["code"],
        -32700
    );
    assert_eq!(
        by_id(Value::Null).expect("answer to the id-less line")["error"]["code"],
        -32700
    );
    assert!(
        by_id(json!(3))
            .expect("answer to 3")
            .get("result")
            .is_some()
    );
    assert!(
        by_id(json!(1))
            .expect("answer to 1")
            .get("result")
            .is_some()
    );
}

/// A tool result's answer: the JSON in its text block.
fn answer(result: &Value) -> Value {
    let text = result["content"][0]["text"].as_str().expect("a text block");
    serde_json::from_str(text).expect("the text is JSON")
}

/// `--upload-dir` gives `upload_file` a `path` on the local transports (here `call`, on the
/// sandbox); a missing directory stops the start, and `serve --http` refuses the flag: over
/// HTTP the files would be the server's.
#[test]
fn upload_dir_is_local_only() {
    let dir = std::env::temp_dir().join(format!("livechat-mcp-upload-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("note.txt"), b"Refund approved").expect("file");
    let dir_arg = dir.display().to_string();
    let args = r#"{"name": "note.txt", "content_type": "text/plain", "path": "note.txt"}"#;

    let sent = binary()
        .args(["--sandbox", "--access", "full", "--upload-dir", &dir_arg])
        .args(["call", "upload_file", args])
        .output()
        .expect("run");
    assert_eq!(
        sent.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let printed: Value = serde_json::from_slice(&sent.stdout).expect("result JSON");
    let url = printed["url"].as_str().unwrap_or_default();
    assert!(
        url.starts_with("https://cdn.livechat-files.com/api/file/lc/att/")
            && url.ends_with("/note.txt"),
        "{printed}"
    );

    let without = binary()
        .args(["--sandbox", "--access", "full", "call", "upload_file", args])
        .output()
        .expect("run");
    assert_eq!(without.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&without.stderr).contains("`path` is not a field"));

    let missing = binary()
        .args(["--sandbox", "--upload-dir", "/no/such/dir", "tools"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--upload-dir /no/such/dir"));

    let http = binary()
        .args(["serve", "--http", "127.0.0.1:0", "--upload-dir", &dir_arg])
        .output()
        .expect("run");
    assert_eq!(http.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&http.stderr);
    assert!(
        stderr.contains("--upload-dir") && stderr.contains("stdio only"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
