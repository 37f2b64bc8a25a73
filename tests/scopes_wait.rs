//! The token's scopes are read alongside `initialize` (issue 16, cold start): `tools/list`
//! waits for them at most `--scopes-wait-ms`, then answers with the policy alone and sends
//! `notifications/tools/list_changed` when the scopes arrive and change the list. A call made
//! before they arrive waits for them, so it is refused exactly as it would be once they are
//! known. Run on the built binary over raw JSON-RPC; the accounts service holds its answer
//! until the test lets it go, so nothing here depends on timing.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use livechat_mcp::{
    tools::{self, Access},
    version::ApiVersion,
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::oneshot,
};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{any, method, path},
};

/// The token's scopes in every test: chats read only, so most read tools are hidden.
const SCOPES: &str = "chats--all:ro";

/// A hang guard only: every wait in these tests ends as soon as the awaited line comes.
const HANG: Duration = Duration::from_secs(60);

/// The spawned `serve`: its stdin, its stdout lines as they come, and its stderr at the end.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    stderr: std::thread::JoinHandle<String>,
}

impl Session {
    fn start(accounts_url: &str, api_url: &str, wait_ms: u64) -> Session {
        let mut child = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("LIVECHAT_MCP_AUDIT", "off")
            .env("LIVECHAT_API_URL", api_url)
            .env("LIVECHAT_ACCOUNTS_URL", accounts_url)
            .env("LIVECHAT_ACCESS_TOKEN", "dal:scopes-wait-token")
            .env("LIVECHAT_MCP_SCOPES_WAIT_MS", wait_ms.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { return };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("stdout carried something not JSON: {line:?}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let mut stderr_pipe = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut text);
            text
        });
        let stdin = child.stdin.take();
        let mut session = Session {
            child,
            stdin,
            lines,
            stderr,
        };
        session.send(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "scopes-wait-test", "version": "0"}}}),
        );
        let init = session.reply(1);
        assert_eq!(
            init["result"]["capabilities"]["tools"]["listChanged"], true,
            "a server that may learn its scopes late says its list can change: {init}"
        );
        session.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        session
    }

    fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{message}").expect("write");
        stdin.flush().expect("flush");
    }

    /// The lines up to and including the answer to `id`: the answer, and the notifications
    /// that came before it.
    fn reply_after(&mut self, id: u64) -> (Value, Vec<String>) {
        let mut notes = Vec::new();
        loop {
            let line = self.lines.recv_timeout(HANG).expect("an answer from serve");
            if line["id"] == id {
                return (line, notes);
            }
            if let Some(name) = line["method"].as_str() {
                notes.push(name.to_string());
            }
        }
    }

    fn reply(&mut self, id: u64) -> Value {
        self.reply_after(id).0
    }

    fn list(&mut self, id: u64) -> (Vec<String>, Vec<String>) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}));
        let (reply, notes) = self.reply_after(id);
        (names(&reply), notes)
    }

    /// The next notification's method.
    fn next_notification(&mut self) -> String {
        loop {
            let line = self.lines.recv_timeout(HANG).expect("a notification");
            if let Some(name) = line["method"].as_str() {
                return name.to_string();
            }
        }
    }

    /// Closes stdin, waits for the exit, and returns stderr.
    fn end(mut self) -> String {
        drop(self.stdin.take());
        self.child.wait().expect("serve exits when stdin closes");
        self.stderr.join().expect("stderr reader")
    }
}

fn names(reply: &Value) -> Vec<String> {
    reply["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("a tools/list answer: {reply}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `whoami` and every read tool: what `--access read` (the default) lists with no scopes.
fn policy_alone() -> Vec<String> {
    std::iter::once("whoami".to_string())
        .chain(
            tools::all()
                .filter(|t| t.available_in(ApiVersion::default()) && t.access == Access::Read)
                .map(|t| t.name.to_string()),
        )
        .collect()
}

/// What the same list keeps once the token's scopes are known.
fn with_scopes() -> Vec<String> {
    let granted = livechat_mcp::scopes::Granted::parse_list(SCOPES);
    std::iter::once("whoami".to_string())
        .chain(
            tools::all()
                .filter(|t| t.available_in(ApiVersion::default()) && t.access == Access::Read)
                .filter(|t| t.scopes.satisfied_by(&granted))
                .map(|t| t.name.to_string()),
        )
        .collect()
}

/// An accounts service that holds its one answer (`status`, `body`) until `release` fires.
async fn held_accounts(status: u16, body: Value) -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (release, released) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
        assert!(
            request.starts_with(b"GET /v2/info "),
            "{}",
            String::from_utf8_lossy(&request)
        );
        let _ = released.await;
        let body = body.to_string();
        let answer = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = socket.write_all(answer.as_bytes()).await;
        let _ = socket.shutdown().await;
    });
    (url, release)
}

/// The LiveChat API: answers every method with an empty list; with `scopes`, the accounts
/// service too, at once.
async fn livechat_with(scopes: Option<&str>) -> MockServer {
    let mock = MockServer::start().await;
    if let Some(scopes) = scopes {
        // Mounted first: the first mock that matches answers.
        Mock::given(method("GET"))
            .and(path("/v2/info"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"scope": scopes})))
            .mount(&mock)
            .await;
    }
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"chats_summary": []})))
        .mount(&mock)
        .await;
    mock
}

async fn livechat() -> MockServer {
    livechat_with(None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_scopes_list_the_policy_first_then_tell_the_client() {
    let api = livechat().await;
    let (accounts, release) = held_accounts(200, json!({"scope": SCOPES})).await;
    let mut session = Session::start(&accounts, &api.uri(), 50);
    let (first, notes) = session.list(2);
    assert_eq!(
        first,
        policy_alone(),
        "the scopes are held back: the policy alone answers"
    );
    assert!(notes.is_empty(), "{notes:?}");
    let _ = release.send(());
    assert_eq!(
        session.next_notification(),
        "notifications/tools/list_changed"
    );
    let (second, _) = session.list(3);
    assert_eq!(second, with_scopes());
    assert!(
        second.len() < first.len(),
        "{SCOPES} hides tools: {second:?}"
    );
    session.end();
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_that_arrive_within_the_wait_are_listed_at_once() {
    let api = livechat_with(Some(SCOPES)).await;
    // A wait no lookup on a loaded machine outlasts: the first list has the scopes.
    let mut session = Session::start(&api.uri(), &api.uri(), 60_000);
    let (first, notes) = session.list(2);
    assert_eq!(first, with_scopes());
    // A ping after the list: nothing told the client its list changed.
    session.send(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}));
    let (_, later) = session.reply_after(3);
    assert!(notes.is_empty() && later.is_empty(), "{notes:?} {later:?}");
    session.end();
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_that_cannot_be_read_leave_the_policy_list_and_say_why() {
    let api = livechat().await;
    let (accounts, release) = held_accounts(
        401,
        json!({"error": "invalid_token", "error_description": "no such token"}),
    )
    .await;
    let mut session = Session::start(&accounts, &api.uri(), 50);
    let (first, _) = session.list(2);
    assert_eq!(first, policy_alone());
    let _ = release.send(());
    // `whoami` waits for the lookup like any call, so its answer comes after the failure.
    session.send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}}}));
    let (_, notes) = session.reply_after(3);
    let (second, later) = session.list(4);
    assert_eq!(second, policy_alone(), "nothing hidden for lack of scopes");
    assert!(notes.is_empty() && later.is_empty(), "{notes:?} {later:?}");
    let stderr = session.end();
    assert!(
        stderr.contains("could not read the token's scopes")
            && stderr.contains("no tool is hidden for lack of them"),
        "{stderr}"
    );
    assert!(!stderr.contains("scopes-wait-token"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_made_before_the_scopes_arrive_is_refused_as_after() {
    let api = livechat().await;
    let (accounts, release) = held_accounts(200, json!({"scope": SCOPES})).await;
    let mut session = Session::start(&accounts, &api.uri(), 50);
    // The first list answers without the scopes, so the calls below go in before them.
    let (first, _) = session.list(2);
    assert!(first.iter().any(|n| n == "list_agents"), "{first:?}");
    session.send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "list_agents", "arguments": {}}}));
    session.send(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "list_chats", "arguments": {"limit": 1}}}));
    let _ = release.send(());
    let refused = session.reply(3);
    let allowed = session.reply(4);
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert_ne!(allowed["result"]["isError"], true, "{allowed}");
    let sent: Vec<String> = api
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        sent,
        ["/v3.6/agent/action/list_chats"],
        "the token cannot list agents: that call never reached LiveChat"
    );
    session.end();
}
