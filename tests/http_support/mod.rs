//! Shared by the HTTP server tests: a policy with fresh keys, the sandbox as upstream (or a
//! stand-in that holds calls until told), the server in-process on a loopback socket or as the
//! built binary, and a minimal MCP client over HTTP (reqwest) that speaks the 2025-06-18
//! session era and the older SSE transport.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use livechat_mcp::{
    audit::{AuditStore, Entry, QueryFilter},
    config::{Credentials, Settings},
    http::{HttpOptions, HttpSetup, HttpState, new_key},
    policy::{Policy, key_sha256},
    sandbox::{Sandbox, SandboxHandle, SandboxOptions},
};
use serde_json::{Value, json};
use tokio::{
    net::TcpListener,
    sync::{oneshot, watch},
    task::JoinHandle,
};

pub const PROTOCOL: &str = "2025-06-18";
pub const ACCEPT: &str = "application/json, text/event-stream";

/// The admin key every test server built by [`state`] has (unless the options name another);
/// it reads `/metrics` and the detail of `/healthz`.
pub const ADMIN_KEY: &str = "lcmcp_admin-key-of-the-http-tests";

/// `Authorization` for the admin key.
pub fn admin_bearer() -> String {
    format!("Bearer {ADMIN_KEY}")
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicI64 = AtomicI64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "livechat-mcp-http-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A policy of `agents` (name, `access` table) with a fresh key each; the keys in order.
pub fn policy(agents: &[(&str, &str)]) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut keys = Vec::new();
    for (name, access) in agents {
        let key = new_key();
        text.push_str(&format!(
            "[agents.{name}]\naccess = {access}\nkey_sha256 = \"{}\"\n",
            key_sha256(&key)
        ));
        keys.push(key);
    }
    (text, keys)
}

/// `ops` may do everything; `ro` may only read chats.
pub fn ops_and_ro() -> (Policy, String, String) {
    let (text, keys) = policy(&[
        ("ops", r#"{ "*" = "full" }"#),
        ("ro", r#"{ chats = "read" }"#),
    ]);
    let policy = Policy::parse(&text, "test-policy.toml").expect("policy");
    (policy, keys[0].clone(), keys[1].clone())
}

/// reqwest needs a TLS provider even for plain HTTP.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The sandbox on a loopback port, and settings that call it.
pub async fn sandbox() -> (SandboxHandle, Settings) {
    install_crypto();
    let handle = Sandbox::new(SandboxOptions::default())
        .expect("sandbox")
        .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("sandbox listens");
    let settings = upstream(&handle.url);
    (handle, settings)
}

/// Settings calling `url` with a token.
pub fn upstream(url: &str) -> Settings {
    let mut settings = Settings::new(url);
    settings.credentials = Credentials::from_values(Some("sandbox"), None, None);
    settings.accounts_url = "http://127.0.0.1:9".to_string();
    settings.timeout = Duration::from_secs(10);
    settings
}

/// The server's state; with [`ADMIN_KEY`] as the admin key unless `options` name one.
pub fn state(
    policy: Policy,
    settings: &Settings,
    audit: Option<AuditStore>,
    mut options: HttpOptions,
) -> Arc<HttpState> {
    options
        .admin_key_sha256
        .get_or_insert_with(|| key_sha256(ADMIN_KEY));
    let setup = HttpSetup::from_policy(policy, settings, audit, options).expect("setup");
    HttpState::new(setup).expect("state")
}

/// A LiveChat stand-in that holds every request until [`Gate::open`], so calls stay in
/// flight as long as a test needs. It answers `send_event` with the event's own text as
/// `event_id`, so a result shows whose call it answers.
pub struct Gate {
    pub url: String,
    arrived: Arc<AtomicUsize>,
    open: watch::Sender<bool>,
    _task: JoinHandle<()>,
}

impl Gate {
    pub async fn start() -> Gate {
        use axum::{Json, body::Bytes, extract::State, routing::any};
        let arrived = Arc::new(AtomicUsize::new(0));
        let (open, opened) = watch::channel(false);
        let hold =
            |State((arrived, mut opened)): State<(Arc<AtomicUsize>, watch::Receiver<bool>)>,
             body: Bytes| async move {
                arrived.fetch_add(1, Ordering::SeqCst);
                let _ = opened.wait_for(|open| *open).await;
                let request: Value = serde_json::from_slice(&body).unwrap_or_default();
                let text = request["event"]["text"]
                    .as_str()
                    .unwrap_or("none")
                    .to_string();
                Json(json!({"event_id": text}))
            };
        let app = axum::Router::new()
            .fallback(any(hold))
            .with_state((arrived.clone(), opened));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Gate {
            url,
            arrived,
            open,
            _task: task,
        }
    }

    /// Settings that call the stand-in, with a timeout far longer than any test holds a call.
    pub fn settings(&self) -> Settings {
        let mut settings = upstream(&self.url);
        settings.timeout = Duration::from_secs(300);
        settings
    }

    /// Requests that have reached the stand-in so far.
    pub fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }

    /// Waits until `n` requests have reached the stand-in (a hang guard fails the test).
    pub async fn wait_for(&self, n: usize) {
        eventually(&format!("{n} requests upstream"), || self.arrived() >= n).await;
    }

    /// Lets every request held, and every later one, through.
    pub fn open(&self) {
        let _ = self.open.send(true);
    }
}

/// Polls `done` until it holds; fails after a generous hang guard, never on timing.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting for {what}");
}

/// `send_event` arguments whose text is `text`.
pub fn event(text: &str) -> Value {
    json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": text}})
}

/// A server for `policy` on a loopback socket with default limits, auditing into
/// `dir/audit.db` (reopen it there to read what the calls left).
pub async fn start_audited(policy: Policy, settings: &Settings, dir: &TempDir) -> Running {
    let audit = AuditStore::open(&dir.join("audit.db")).expect("audit");
    start(state(policy, settings, Some(audit), HttpOptions::default())).await
}

/// The server on a loopback socket, serving until [`Running::stop`].
pub struct Running {
    pub base: String,
    pub state: Arc<HttpState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

pub async fn start(state: Arc<HttpState>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(livechat_mcp::http::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Running {
        base,
        state,
        stop: Some(stop),
        task: Some(task),
    }
}

impl Running {
    /// Signals shutdown and waits for `serve` to return.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("serve task"),
            None => Ok(()),
        }
    }

    /// Signals shutdown without waiting.
    pub fn signal_stop(&mut self) -> Option<JoinHandle<std::io::Result<()>>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take()
    }
}

/// Every `data:` payload of an SSE body that is JSON.
pub fn sse_messages(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .collect()
}

/// A minimal MCP client for the streamable HTTP transport, in the 2025-06-18 session era.
pub struct McpClient {
    pub http: reqwest::Client,
    pub url: String,
    pub key: String,
    pub session: String,
    next: AtomicI64,
}

impl McpClient {
    /// Initializes a session at `{base}/mcp` with `key`.
    pub async fn connect(base: &str, key: &str) -> McpClient {
        install_crypto();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("reqwest");
        let url = format!("{base}/mcp");
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": "http-test", "version": "0"}}});
        let response = http
            .post(&url)
            .bearer_auth(key)
            .header("accept", ACCEPT)
            .json(&init)
            .send()
            .await
            .expect("initialize");
        assert_eq!(response.status(), 200, "initialize");
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_string();
        let text = response.text().await.expect("initialize body");
        assert!(
            sse_messages(&text).iter().any(|m| m["id"] == 0),
            "initialize answered: {text}"
        );
        let client = McpClient {
            http,
            url,
            key: key.to_string(),
            session,
            next: AtomicI64::new(1),
        };
        let initialized = client
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(initialized.status(), 202);
        client
    }

    pub async fn post(&self, body: &Value) -> reqwest::Response {
        self.send(body).await.expect("POST /mcp")
    }

    async fn send(&self, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(&self.url)
            .bearer_auth(&self.key)
            .header("accept", ACCEPT)
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", PROTOCOL)
            .json(body)
            .send()
            .await
    }

    /// [`McpClient::post`] that reads the whole answer and gives back a failure (a server
    /// that is gone) instead of panicking.
    pub async fn try_post(&self, body: &Value) -> reqwest::Result<String> {
        self.send(body).await?.text().await
    }

    /// One request; returns its JSON-RPC answer (with `result` or `error`).
    pub async fn request(&self, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let response = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, 200, "{method}: {text}");
        sse_messages(&text)
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{method}: no answer in {text}"))
    }

    pub async fn tools(&self) -> Vec<String> {
        let answer = self.request("tools/list", json!({})).await;
        answer["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["name"].as_str().expect("name").to_string())
            .collect()
    }

    /// Calls a tool; returns (isError, result).
    pub async fn call(&self, tool: &str, arguments: Value) -> (bool, Value) {
        let answer = self
            .request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        let result = answer["result"].clone();
        (result["isError"] == true, result)
    }
}

/// The audit rows of the trail at `path`, oldest first.
pub async fn audit_rows(path: &std::path::Path) -> Vec<Entry> {
    let store = AuditStore::open(path).expect("audit opens");
    let mut rows = store
        .query(&QueryFilter::default())
        .await
        .expect("audit query");
    rows.sort_by_key(|e| e.id);
    rows
}

/// The built binary running `serve --http 127.0.0.1:0 …`, with its address read from stderr.
pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
            .envs(envs.iter().copied())
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (found, address) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stderr.take().expect("stderr"));
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving MCP at http://").nth(1)
                    && let Some(addr) = rest.split("/mcp").next()
                {
                    let _ = found.send(addr.to_string());
                }
                collected.lock().expect("lines").push(line);
            }
        });
        let addr = address
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "the server did not start:\n{}",
                    stderr.lock().expect("lines").join("\n")
                )
            });
        ServerProcess {
            child,
            base: format!("http://{addr}"),
            stderr,
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not stop within 15 s of SIGTERM");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lines").join("\n")
    }

    /// `kill -9`, and waits for the exit (so the process is gone, not a zombie).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tool result's answer: the JSON in its text block (results carry no second copy).
pub fn answer(result: &Value) -> Value {
    assert_eq!(result.get("structuredContent"), None, "sent once, as text");
    let text = result["content"][0]["text"].as_str().expect("a text block");
    serde_json::from_str(text).expect("the text is JSON")
}

/// Runs the built binary as an operator does against the sandbox at `url` (`webhooks sync`,
/// `sandbox customer …`), with the sandbox's owner token, client ID `e2e-app`, webhook
/// `secret`, and an audit file in `dir`; off the async runtime. Exit code, stdout, stderr.
pub async fn operator(
    url: &str,
    dir: &std::path::Path,
    secret: &str,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let (url, dir, secret) = (url.to_string(), dir.to_path_buf(), secret.to_string());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .env("LIVECHAT_API_URL", &url)
            .env("LIVECHAT_ACCOUNTS_URL", &url)
            .env("LIVECHAT_ACCESS_TOKEN", "sandbox-owner-token")
            .env("LIVECHAT_CLIENT_ID", "e2e-app")
            .env("LIVECHAT_MCP_WEBHOOK_SECRET", &secret)
            .arg("--audit")
            .arg(dir.join("sync-audit.db"))
            .args(&args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("the command's thread")
}
