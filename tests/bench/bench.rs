//! One command, one table (issue 16): livechat-mcp measured beside the floor (a minimal rmcp
//! 3.11 proxy, `tests/bench/floor.rs`) and a direct request, all calling one static upstream.
//!
//! ```text
//! cargo build --release --examples --bins
//! cargo run --release --example bench [-- --quick]
//! ```
//!
//! It builds nothing: it runs `livechat-mcp` and the `floor` and `events_latency` examples from
//! `--target-dir DIR`, else `$CARGO_TARGET_DIR`, else the target directory the bench itself
//! was built in, else `target` (each `…/release`).
//!
//! The upstream is nginx when `nginx` is on the PATH (a generated configuration on a loopback
//! port, `return 200` with a fixed JSON body), else a static server built into this bench on
//! hyper, on a thread of its own. Its answers are what the embedded sandbox answers (read once
//! at start): `list_chats` for any POST, the accounts service's token info (every scope) for
//! `GET /v2/info`, so livechat-mcp reads its token's scopes from it as it would from LiveChat.
//! livechat-mcp calls `list_chats` (one POST to `{upstream}/v3.6/agent/action/list_chats`) with
//! a PAT from its environment; the floor's `forward` POSTs the same arguments to the same path.
//!
//! Figures, each beside the floor's and as livechat-mcp ÷ floor:
//! - cold start, spawn → first `tools/list` answer over stdio, p50 of 20; and on a trail of
//!   100,000 rows, the first start (which reads them all once) and the next ones;
//! - stdio `tools/call` p50 / p99, with the SQLite audit (temp dir) and with `--audit off`,
//!   and the time added over a direct request to the upstream (measured too);
//! - streamable HTTP p50 / p99 and calls/s at 1, 10 and 64 connections on one session, and
//!   64 sessions (one per connection), audit on and off;
//! - RSS idle (stdio, after `initialize`), after the stdio calls (10,000), and with 2,000
//!   HTTP sessions open (just opened, and after 8 s idle);
//! - event delivery (the `events_latency` example, its own floor: the customer's call alone);
//! - `tools/list` bytes for `--access read`, `--access full` and `--catalog` ("n/a" when the
//!   binary refuses the flag);
//! - the durable-write floor: one 128-byte append + `fdatasync` on the temp dir's disk, p50
//!   (`durable_write.rs`, shared with `audit_append`).
//!
//! `--quick` runs fewer calls and sessions (about a quarter of the time).

use std::{
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use livechat_mcp::{
    http::new_key,
    policy::key_sha256,
    sandbox::{Sandbox, SandboxOptions},
};
use serde_json::{Value, json};
use tokio::{sync::Semaphore, task::JoinSet};

#[path = "durable_write.rs"]
mod durable_write;
#[allow(dead_code)]
#[path = "mcp_session.rs"]
mod mcp_session;
use mcp_session::{PROTOCOL, Session as HttpSession, percentile};

const LIST_CHATS: &str = "/v3.6/agent/action/list_chats";

struct Args {
    quick: bool,
    target: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let mut quick = false;
    // `cargo run` sets no CARGO_TARGET_DIR for the program: the bench's own binary is in
    // `TARGET/release/examples`.
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .filter(|t| t.join("release").join("livechat-mcp").is_file());
    let mut target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or(beside)
        .unwrap_or_else(|| PathBuf::from("target"));
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--target-dir" => target = given.next().context("--target-dir DIR")?.into(),
            other => bail!("unknown argument `{other}`: bench [--quick] [--target-dir DIR]"),
        }
    }
    Ok(Args { quick, target })
}

/// How much of everything a run does.
struct Sizes {
    cold_runs: usize,
    stdio_calls: usize,
    direct_calls: usize,
    http_calls: usize,
    sessions: usize,
    events: usize,
    fsyncs: usize,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                cold_runs: 10,
                stdio_calls: 2_000,
                direct_calls: 1_000,
                http_calls: 800,
                sessions: 500,
                events: 100,
                fsyncs: 100,
            }
        } else {
            Sizes {
                cold_runs: 20,
                stdio_calls: 10_000,
                direct_calls: 3_000,
                http_calls: 3_000,
                sessions: 2_000,
                events: 300,
                fsyncs: 300,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Figures and the table.

#[derive(Clone, Copy)]
struct Lat {
    p50: f64,
    p99: f64,
}

impl Lat {
    fn of(mut times: Vec<Duration>) -> Lat {
        times.sort();
        Lat {
            p50: percentile(&times, 0.5),
            p99: percentile(&times, 0.99),
        }
    }
}

struct Table {
    rows: Vec<[String; 4]>,
}

fn ratio(ours: f64, floor: f64) -> String {
    if floor > 0.0 && ours.is_finite() {
        format!("{:.2}×", ours / floor)
    } else {
        "—".to_string()
    }
}

fn ms(v: f64) -> String {
    format!("{v:.3} ms")
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Table {
    fn row(&mut self, figure: impl Into<String>, ours: String, floor: String, ratio: String) {
        self.rows.push([figure.into(), ours, floor, ratio]);
    }

    /// A latency pair: "p50 / p99", the ratio of each.
    fn lat(&mut self, figure: impl Into<String>, ours: Lat, floor: Lat) {
        self.row(
            figure,
            format!("{:.3} / {:.3} ms", ours.p50, ours.p99),
            format!("{:.3} / {:.3} ms", floor.p50, floor.p99),
            format!(
                "{} / {}",
                ratio(ours.p50, floor.p50),
                ratio(ours.p99, floor.p99)
            ),
        );
    }

    fn print(&self) {
        println!("| figure | livechat-mcp | floor | ratio |");
        println!("| --- | ---: | ---: | ---: |");
        for [a, b, c, d] in &self.rows {
            println!("| {a} | {b} | {c} | {d} |");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The static upstream.

/// The fixed answers: `list_chats` for any POST, the token info for `GET /v2/info`.
struct Bodies {
    list_chats: String,
    info: String,
}

/// What the embedded sandbox answers, so livechat-mcp gets answers it accepts.
async fn bodies() -> anyhow::Result<Bodies> {
    let sandbox = Sandbox::new(SandboxOptions::default())?
        .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await?;
    let http = reqwest::Client::new();
    let list_chats = http
        .post(format!("{}{LIST_CHATS}", sandbox.url))
        .bearer_auth("sandbox")
        .json(&json!({"limit": 5}))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let info = http
        .get(format!("{}/v2/info", sandbox.url))
        .bearer_auth("sandbox")
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(Bodies { list_chats, info })
}

enum Upstream {
    Nginx { child: Child, dir: PathBuf },
    Builtin,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Upstream::Nginx { child, dir } = self {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Starts nginx if there is one, else the built-in server; returns its base URL and a name.
fn start_upstream(bodies: &Bodies, dir: &Path) -> anyhow::Result<(Upstream, String, String)> {
    if let Some(nginx) = which("nginx") {
        // nginx's `return` takes the body in single quotes, and would read `$name` as a
        // variable.
        if bodies.list_chats.contains('$') || bodies.info.contains('$') {
            bail!("the sandbox's answers hold a `$`, which nginx's `return` cannot send as is");
        }
        let quoted = |body: &str| body.replace('\\', "\\\\").replace('\'', "\\'");
        let port = free_port()?;
        let home = dir.join("nginx");
        std::fs::create_dir_all(home.join("logs"))?;
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {home}/nginx.pid;\nerror_log {home}/logs/error.log;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n access_log off;\n keepalive_requests 1000000;\n\
             client_body_temp_path {home}/body;\n proxy_temp_path {home}/proxy;\n\
             fastcgi_temp_path {home}/fastcgi;\n uwsgi_temp_path {home}/uwsgi;\n scgi_temp_path {home}/scgi;\n\
             server {{\n  listen 127.0.0.1:{port};\n  default_type application/json;\n\
             location = /v2/info {{ return 200 '{info}'; }}\n\
             location / {{ return 200 '{list}'; }}\n }}\n}}\n",
            home = home.display(),
            info = quoted(&bodies.info),
            list = quoted(&bodies.list_chats),
        );
        let conf_path = home.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(&home)
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", nginx.display()))?;
        let upstream = Upstream::Nginx { child, dir: home };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("nginx did not listen on 127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let version = Command::new(&nginx)
            .arg("-v")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
            .unwrap_or_default();
        return Ok((
            upstream,
            format!("http://127.0.0.1:{port}"),
            format!("nginx ({version}, 1 worker, `return 200`)"),
        ));
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let list: &'static str = Box::leak(bodies.list_chats.clone().into_boxed_str());
    let info: &'static str = Box::leak(bodies.info.clone().into_boxed_str());
    std::thread::Builder::new()
        .name("upstream".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the upstream's runtime");
            runtime.block_on(serve_static(listener, list, info));
        })?;
    Ok((
        Upstream::Builtin,
        format!("http://{addr}"),
        "built-in static server (hyper, one thread; no nginx on the PATH)".to_string(),
    ))
}

async fn serve_static(listener: std::net::TcpListener, list: &'static str, info: &'static str) {
    use hyper::{Request, Response, body::Incoming, service::service_fn};
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| async move {
                let body = if request.uri().path() == "/v2/info" {
                    info
                } else {
                    // Read the request's body, as a server would.
                    use http_body_util_lite::collect;
                    collect(request.into_body()).await;
                    list
                };
                Response::builder()
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Drains a request body without another dependency.
mod http_body_util_lite {
    use std::{future::poll_fn, pin::Pin};

    use http_body::Body;

    pub async fn collect(mut body: hyper::body::Incoming) {
        while let Some(Ok(_)) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {}
    }
}

// ---------------------------------------------------------------------------------------------
// Processes.

/// The server's resident set, in bytes (Linux).
fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok(kb * 1024)
}

/// How each server is started: its binary, its fixed arguments and environment.
#[derive(Clone)]
struct Launch {
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// The tool called and its arguments.
    tool: &'static str,
}

impl Launch {
    fn command(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(&self.args)
            .args(extra);
        command
    }
}

/// An MCP session over a child's stdin and stdout.
struct StdioSession {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next: u64,
    line: String,
}

impl Drop for StdioSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl StdioSession {
    fn spawn(mut command: Command) -> anyhow::Result<StdioSession> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let input = child.stdin.take().context("stdin")?;
        let output = BufReader::new(child.stdout.take().context("stdout")?);
        Ok(StdioSession {
            child,
            input,
            output,
            next: 1,
            line: String::new(),
        })
    }

    fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        let mut text = message.to_string();
        text.push('\n');
        self.input.write_all(text.as_bytes())?;
        self.input.flush()?;
        Ok(())
    }

    /// Reads lines until the answer to `id`; returns it and its size in bytes. `None` when the
    /// process ended first.
    fn answer(&mut self, id: u64) -> anyhow::Result<Option<(Value, usize)>> {
        loop {
            self.line.clear();
            if self.output.read_line(&mut self.line)? == 0 {
                return Ok(None);
            }
            let Ok(message) = serde_json::from_str::<Value>(&self.line) else {
                continue;
            };
            if message["id"] == id {
                return Ok(Some((message, self.line.trim_end().len())));
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> anyhow::Result<(Value, usize)> {
        let id = self.next;
        self.next += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        self.answer(id)?
            .with_context(|| format!("the server ended before answering {method}"))
    }

    fn initialize(&mut self) -> anyhow::Result<()> {
        self.request("initialize", initialize_params())?;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    }

    fn call(&mut self, tool: &str) -> anyhow::Result<()> {
        let (answer, _) = self.request(
            "tools/call",
            json!({"name": tool, "arguments": {"limit": 5}}),
        )?;
        check_call(&answer, tool)
    }
}

fn initialize_params() -> Value {
    json!({"protocolVersion": PROTOCOL, "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}})
}

fn check_call(answer: &Value, tool: &str) -> anyhow::Result<()> {
    if answer["result"]["isError"] == true || answer.get("error").is_some() {
        bail!("{tool} failed: {answer}");
    }
    Ok(())
}

/// Spawn → `tools/list` answered, with `initialize` and `initialized` sent at once before it.
/// `None` when the process ends without answering (it refused its arguments).
fn cold_start(launch: &Launch, extra: &[&str]) -> anyhow::Result<Option<(Duration, usize)>> {
    let began = Instant::now();
    let mut session = StdioSession::spawn(launch.command(extra))?;
    // A process that refused its arguments has closed its stdin: its answer is the end of
    // its stdout, read below.
    let _ = session
        .send(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": initialize_params()}))
        .and_then(|()| {
            session.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        })
        .and_then(|()| session.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})));
    let Some((answer, bytes)) = session.answer(2)? else {
        return Ok(None);
    };
    let took = began.elapsed();
    if answer.get("error").is_some() {
        bail!("tools/list failed: {answer}");
    }
    Ok(Some((took, bytes)))
}

/// Rows in the long trail the cold start is also measured on.
const LONG_TRAIL: usize = 100_000;

/// `launch` with a trail of its own holding `rows` rows: made by one start, then filled with
/// SQL (calls' pending rows and their outcomes; the MACs are not real, which a start does
/// not check and `audit verify` would).
fn long_trail(launch: &Launch, dir: &Path, rows: usize) -> anyhow::Result<Launch> {
    let data = dir.join("long-trail");
    let mut long = launch.clone();
    long.env.retain(|(k, _)| k != "XDG_DATA_HOME");
    long.env
        .push(("XDG_DATA_HOME".into(), data.display().to_string()));
    cold_start(&long, &[])?.context("the server did not start on a new trail")?;
    let mut db = rusqlite::Connection::open(data.join("livechat-mcp").join("audit.db"))?;
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO audit (id, time, agent, tool, area, access, decision, outcome, targets, \
             duration_ms, summary, completes, instance, prev_mac, mac) VALUES (?1, \
             '2026-12-01T00:00:00.000Z', 'bench', 'list_chats', 'chats', 'read', 'allowed', \
             ?2, '{}', 0, 'bench listed chats', ?3, '1@bench', 'x', 'x')",
        )?;
        let first: i64 = tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM audit", [], |r| {
            r.get(0)
        })?;
        for id in first..first + rows as i64 {
            let intent = (id - first) % 2 == 0;
            let outcome = if intent { "pending" } else { "ok" };
            insert.execute(rusqlite::params![id, outcome, (!intent).then_some(id - 1)])?;
        }
    }
    tx.commit()?;
    Ok(long)
}

fn cold_starts(launch: &Launch, runs: usize) -> anyhow::Result<Lat> {
    // One not counted: the first run creates the audit trail.
    cold_start(launch, &[])?.context("the server did not answer tools/list")?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(cold_start(launch, &[])?.context("no tools/list")?.0);
    }
    Ok(Lat::of(times))
}

/// Stdio calls: the latencies, RSS after `initialize` and after the calls.
struct StdioRun {
    lat: Lat,
    idle: u64,
    after: u64,
}

fn stdio_run(launch: &Launch, extra: &[&str], calls: usize) -> anyhow::Result<StdioRun> {
    let mut session = StdioSession::spawn(launch.command(extra))?;
    session.initialize()?;
    std::thread::sleep(Duration::from_millis(300));
    let idle = rss(session.child.id())?;
    for _ in 0..50 {
        session.call(launch.tool)?;
    }
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let began = Instant::now();
        session.call(launch.tool)?;
        times.push(began.elapsed());
    }
    let after = rss(session.child.id())?;
    Ok(StdioRun {
        lat: Lat::of(times),
        idle,
        after,
    })
}

// ---------------------------------------------------------------------------------------------
// Streamable HTTP.

/// A server listening on HTTP, killed when dropped.
struct HttpServer {
    child: Child,
    base: String,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_http(mut command: Command) -> anyhow::Result<HttpServer> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {command:?}"))?;
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    let mut base = None;
    let mut said = Vec::new();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.split("serving MCP at http://").nth(1) {
            base = rest.split("/mcp").next().map(|a| format!("http://{a}"));
            break;
        }
        said.push(line);
    }
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    let Some(base) = base else {
        let _ = child.kill();
        bail!("the server did not start: {}", said.join("\n"));
    };
    Ok(HttpServer { child, base })
}

/// Calls/s and latency of `calls` calls spread over `sessions` (one task each, `per` tasks
/// per session, so `sessions × per` connections).
struct Level {
    rate: f64,
    lat: Lat,
}

async fn level(
    sessions: &[Arc<HttpSession>],
    per: usize,
    calls: usize,
    tool: &'static str,
) -> anyhow::Result<Level> {
    let tasks = sessions.len() * per;
    let each = (calls / tasks).max(10);
    let start = Arc::new(tokio::sync::Barrier::new(tasks + 1));
    let mut running = JoinSet::new();
    for session in sessions {
        for _ in 0..per {
            let (session, start) = (session.clone(), start.clone());
            running.spawn(async move {
                start.wait().await;
                let mut times = Vec::with_capacity(each);
                for _ in 0..each {
                    let began = Instant::now();
                    session.call(tool, json!({"limit": 5})).await?;
                    times.push(began.elapsed());
                }
                anyhow::Ok(times)
            });
        }
    }
    start.wait().await;
    let began = Instant::now();
    let mut times = Vec::with_capacity(each * tasks);
    while let Some(done) = running.join_next().await {
        times.extend(done??);
    }
    let wall = began.elapsed();
    Ok(Level {
        rate: times.len() as f64 / wall.as_secs_f64(),
        lat: Lat::of(times),
    })
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1024)
        .build()?)
}

/// The four HTTP levels: 1, 10 and 64 connections on one session, 64 sessions.
async fn http_levels(
    server: &HttpServer,
    key: &str,
    tool: &'static str,
    calls: usize,
) -> anyhow::Result<[Level; 4]> {
    let one = Arc::new(HttpSession::open_with(client()?, &server.base, key, "bench").await?);
    for _ in 0..64 {
        one.call(tool, json!({"limit": 5})).await?;
    }
    let one = [one];
    let c1 = level(&one, 1, calls, tool).await?;
    let c10 = level(&one, 10, calls, tool).await?;
    let c64 = level(&one, 64, calls, tool).await?;
    let mut many = Vec::new();
    for _ in 0..64 {
        let session = HttpSession::open_with(client()?, &server.base, key, "bench").await?;
        for _ in 0..3 {
            session.call(tool, json!({"limit": 5})).await?;
        }
        many.push(Arc::new(session));
    }
    let s64 = level(&many, 1, calls, tool).await?;
    Ok([c1, c10, c64, s64])
}

/// RSS with `n` sessions open, and added per session: just after they opened, and after
/// [`SETTLED`] idle (ours puts idle sessions to sleep after 5 s and gives their memory back).
async fn session_memory(
    server: &HttpServer,
    key: &str,
    n: usize,
) -> anyhow::Result<[(u64, u64); 2]> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.child.id();
    let before = rss(pid)?;
    let http = client()?;
    let at_once = Arc::new(Semaphore::new(16));
    let mut opening = JoinSet::new();
    for _ in 0..n {
        let (http, base, key) = (http.clone(), server.base.clone(), key.to_string());
        let permit = at_once.clone().acquire_owned().await?;
        opening.spawn(async move {
            let _permit = permit;
            HttpSession::open_with(http, &base, &key, "bench")
                .await
                .map(drop)
        });
    }
    while let Some(opened) = opening.join_next().await {
        opened??;
    }
    let per = |rss: u64| (rss, rss.saturating_sub(before) / n.max(1) as u64);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let opened = per(rss(pid)?);
    tokio::time::sleep(SETTLED).await;
    Ok([opened, per(rss(pid)?)])
}

/// How long the sessions are left idle before the second reading.
const SETTLED: Duration = Duration::from_secs(8);

// ---------------------------------------------------------------------------------------------
// The rest.

async fn direct(url: &str, calls: usize) -> anyhow::Result<Lat> {
    let http = client()?;
    let body = json!({"limit": 5});
    for _ in 0..50 {
        http.post(url).json(&body).send().await?.bytes().await?;
    }
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let began = Instant::now();
        let response = http.post(url).json(&body).send().await?;
        if !response.status().is_success() {
            bail!("the upstream answered HTTP {}", response.status());
        }
        response.bytes().await?;
        times.push(began.elapsed());
    }
    Ok(Lat::of(times))
}

/// The durable-write floor ([`durable_write`]), `n` times, in `dir`: the p50 and p99.
fn fsync_floor(dir: &Path, n: usize) -> anyhow::Result<Lat> {
    Ok(Lat::of(durable_write::durable_writes(dir, n)?))
}

/// The `events_latency` example's delivery and its floor (the customer's call alone).
fn events(binary: &Path, n: usize) -> anyhow::Result<Option<(Lat, Lat)>> {
    if !binary.is_file() {
        return Ok(None);
    }
    let output = Command::new(binary)
        .args(["--events", &n.to_string()])
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()?;
    if !output.status.success() {
        bail!("{} failed: {}", binary.display(), output.status);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let find = |prefix: &str| -> Option<Lat> {
        let line = text.lines().find(|l| l.starts_with(prefix))?;
        let numbers: Vec<f64> = line
            .split_whitespace()
            .rev()
            .take(4)
            .filter_map(|w| w.parse().ok())
            .collect();
        // Reversed: max, p99, p50, n.
        (numbers.len() == 4).then(|| Lat {
            p50: numbers[2],
            p99: numbers[1],
        })
    };
    Ok(find("customer message sent").zip(find("floor: the customer's call alone")))
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_string(), |m| m.trim().to_string());
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or("unknown".to_string(), |k| k.trim().to_string());
    format!("{model}, {cores} cores; Linux {kernel}")
}

fn commit() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(head) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".to_string();
    };
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    format!("{head}{}", if dirty { " (with local changes)" } else { "" })
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let began = Instant::now();
    let args = args()?;
    let sizes = Sizes::new(args.quick);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let release = args.target.join("release");
    let ours = release.join("livechat-mcp");
    let floor_bin = release.join("examples").join("floor");
    for binary in [&ours, &floor_bin] {
        if !binary.is_file() {
            bail!(
                "{} is missing: build first with `cargo build --release --examples --bins`",
                binary.display()
            );
        }
    }
    let dir = std::env::temp_dir().join(format!("livechat-mcp-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("home"))?;

    let bodies = bodies().await?;
    let (_upstream, up, upstream_name) = start_upstream(&bodies, &dir)?;
    let list_url = format!("{up}{LIST_CHATS}");

    let home = dir.join("home").display().to_string();
    let server = Launch {
        binary: ours.clone(),
        args: vec!["serve".into()],
        env: vec![
            ("HOME".into(), home.clone()),
            ("XDG_DATA_HOME".into(), format!("{home}/data")),
            ("LIVECHAT_API_URL".into(), up.clone()),
            ("LIVECHAT_ACCOUNTS_URL".into(), up.clone()),
            ("LIVECHAT_PAT".into(), "bench-pat".into()),
            ("LIVECHAT_ACCOUNT_ID".into(), "bench-account".into()),
            // The license's pace is not what is measured: the largest the server allows.
            ("LIVECHAT_MCP_MAX_RPS".into(), "10000".into()),
            ("LIVECHAT_MCP_BURST".into(), "1000000".into()),
            ("LIVECHAT_MCP_MAX_CONCURRENCY".into(), "1024".into()),
            ("LIVECHAT_MCP_MAX_QUEUE".into(), "100000".into()),
        ],
        tool: "list_chats",
    };
    let floor = Launch {
        binary: floor_bin.clone(),
        args: vec!["--upstream".into(), list_url.clone()],
        env: vec![("HOME".into(), home.clone())],
        tool: "forward",
    };
    let audit_db = dir.join("audit.db").display().to_string();

    println!(
        "# livechat-mcp bench{}",
        if args.quick { " (--quick)" } else { "" }
    );
    println!();
    println!("- machine: {}", machine());
    println!("- commit: {}", commit());
    println!("- upstream: {upstream_name} at {up}");
    println!(
        "- livechat-mcp: {} (`list_chats`, PAT, scopes read from the upstream, --max-rps 10000); floor: {} (`forward`)",
        ours.display(),
        floor_bin.display()
    );
    println!(
        "- temp dir: {} ; ratio = livechat-mcp ÷ floor",
        dir.display()
    );
    println!();

    let mut table = Table { rows: Vec::new() };

    // Cold start.
    eprintln!("bench: cold start…");
    let cold_ours = cold_starts(&server, sizes.cold_runs)?;
    let cold_floor = cold_starts(&floor, sizes.cold_runs)?;
    table.row(
        format!(
            "cold start, spawn → first `tools/list` (stdio, default audit), p50 of {}",
            sizes.cold_runs
        ),
        ms(cold_ours.p50),
        ms(cold_floor.p50),
        ratio(cold_ours.p50, cold_floor.p50),
    );
    eprintln!("bench: cold start on a long trail…");
    let long = long_trail(&server, &dir, LONG_TRAIL)?;
    let first = cold_start(&long, &[])?.context("no tools/list")?.0;
    table.row(
        format!("cold start, the first on a trail of {LONG_TRAIL} rows (one run)"),
        ms(first.as_secs_f64() * 1000.0),
        ms(cold_floor.p50),
        ratio(first.as_secs_f64() * 1000.0, cold_floor.p50),
    );
    let cold_long = cold_starts(&long, sizes.cold_runs)?;
    table.row(
        format!(
            "cold start, the next ones on that trail, p50 of {}",
            sizes.cold_runs
        ),
        ms(cold_long.p50),
        ms(cold_floor.p50),
        ratio(cold_long.p50, cold_floor.p50),
    );

    // Stdio calls and memory.
    eprintln!("bench: stdio calls…");
    let direct_lat = direct(&list_url, sizes.direct_calls).await?;
    let on = stdio_run(&server, &["--audit", &audit_db], sizes.stdio_calls)?;
    let off = stdio_run(&server, &["--audit", "off"], sizes.stdio_calls)?;
    let fl = stdio_run(&floor, &[], sizes.stdio_calls)?;
    let fsync = fsync_floor(&dir, sizes.fsyncs)?;
    let n = thousands(sizes.stdio_calls as f64);
    table.lat(
        format!("stdio `tools/call` p50 / p99, SQLite audit ({n} calls)"),
        on.lat,
        fl.lat,
    );
    table.lat(
        format!("stdio `tools/call` p50 / p99, `--audit off` ({n} calls)"),
        off.lat,
        fl.lat,
    );
    table.row(
        "direct HTTP request to the upstream, p50 / p99 (the same for both)",
        format!("{:.3} / {:.3} ms", direct_lat.p50, direct_lat.p99),
        format!("{:.3} / {:.3} ms", direct_lat.p50, direct_lat.p99),
        "—".into(),
    );
    let added = |lat: Lat| lat.p50 - direct_lat.p50;
    table.row(
        "stdio added over the direct request, p50, SQLite audit",
        format!("+{}", ms(added(on.lat))),
        format!("+{}", ms(added(fl.lat))),
        ratio(added(on.lat), added(fl.lat)),
    );
    table.row(
        "stdio added over the direct request, p50, `--audit off`",
        format!("+{}", ms(added(off.lat))),
        format!("+{}", ms(added(fl.lat))),
        ratio(added(off.lat), added(fl.lat)),
    );
    table.row(
        format!(
            "durable-write floor: one 128-byte append + fdatasync on the temp dir's disk, p50 / p99 ({} writes)",
            sizes.fsyncs
        ),
        "—".into(),
        format!("{:.3} / {:.3} ms", fsync.p50, fsync.p99),
        "—".into(),
    );
    table.row(
        "stdio added, SQLite audit, minus (floor's added + one fsync) — the target is ≤ 0",
        format!("{:+.3} ms", added(on.lat) - (added(fl.lat) + fsync.p50)),
        "—".into(),
        "—".into(),
    );
    table.row(
        "RSS idle, stdio after `initialize` (SQLite audit)",
        mib(on.idle),
        mib(fl.idle),
        ratio(on.idle as f64, fl.idle as f64),
    );
    table.row(
        format!("RSS after {n} stdio calls (SQLite audit)"),
        mib(on.after),
        mib(fl.after),
        ratio(on.after as f64, fl.after as f64),
    );
    table.row(
        format!("RSS after {n} stdio calls (`--audit off`)"),
        mib(off.after),
        mib(fl.after),
        ratio(off.after as f64, fl.after as f64),
    );

    // HTTP.
    eprintln!("bench: HTTP…");
    let key = new_key();
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[agents.bench]\naccess = {{ \"*\" = \"read\" }}\nkey_sha256 = \"{}\"\n",
            key_sha256(&key)
        ),
    )?;
    let policy = policy.display().to_string();
    let http_args = |audit: &str| -> Vec<String> {
        [
            "--http",
            "127.0.0.1:0",
            "--policy",
            &policy,
            "--audit",
            audit,
            "--max-in-flight",
            "1024",
            "--max-sessions-per-agent",
            "100000",
            "--max-connections",
            "100000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let http_audit_db = dir.join("http-audit.db").display().to_string();
    let run_ours = |audit: String| {
        let args = http_args(&audit);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        start_http(server.command(&refs))
    };
    let floor_http = || start_http(floor.command(&["--http", "127.0.0.1:0"]));
    let calls = sizes.http_calls;
    let http_on = {
        let s = run_ours(http_audit_db.clone())?;
        http_levels(&s, &key, "list_chats", calls).await?
    };
    let http_off = {
        let s = run_ours("off".into())?;
        http_levels(&s, &key, "list_chats", calls).await?
    };
    let http_floor = {
        let s = floor_http()?;
        http_levels(&s, &key, "forward", calls).await?
    };
    let names = [
        "1 connection, 1 session",
        "10 connections, 1 session",
        "64 connections, 1 session",
        "64 sessions, one per connection",
    ];
    for (i, name) in names.iter().enumerate() {
        for (audit, levels) in [("SQLite audit", &http_on), ("`--audit off`", &http_off)] {
            table.row(
                format!("HTTP calls/s, {name}, {audit}"),
                thousands(levels[i].rate),
                thousands(http_floor[i].rate),
                ratio(levels[i].rate, http_floor[i].rate),
            );
        }
        for (audit, levels) in [("SQLite audit", &http_on), ("`--audit off`", &http_off)] {
            table.lat(
                format!("HTTP p50 / p99, {name}, {audit}"),
                levels[i].lat,
                http_floor[i].lat,
            );
        }
    }

    // Sessions.
    eprintln!("bench: HTTP sessions…");
    let ours_sessions = {
        let s = run_ours("off".into())?;
        session_memory(&s, &key, sizes.sessions).await?
    };
    let floor_sessions = {
        let s = floor_http()?;
        session_memory(&s, &key, sizes.sessions).await?
    };
    let sessions = thousands(sizes.sessions as f64);
    let idle = format!("after {} s idle", SETTLED.as_secs());
    for (i, when) in ["just opened", idle.as_str()].into_iter().enumerate() {
        let ((ours_rss, ours_each), (floor_rss, floor_each)) =
            (ours_sessions[i], floor_sessions[i]);
        table.row(
            format!("RSS with {sessions} HTTP sessions open, {when} (`--audit off`)"),
            mib(ours_rss),
            mib(floor_rss),
            ratio(ours_rss as f64, floor_rss as f64),
        );
        table.row(
            format!("RSS added per HTTP session, {when}"),
            format!("{:.1} KB", ours_each as f64 / 1000.0),
            format!("{:.1} KB", floor_each as f64 / 1000.0),
            ratio(ours_each as f64, floor_each as f64),
        );
    }

    // Events.
    eprintln!("bench: events…");
    let events_bin = release.join("examples").join("events_latency");
    match events(&events_bin, sizes.events)? {
        Some((delivered, said)) => table.lat(
            format!(
                "event delivery, customer message → `get_events` answered, p50 / p99 ({} events; floor: the customer's call alone)",
                sizes.events
            ),
            delivered,
            said,
        ),
        None => table.row(
            "event delivery (`events_latency` example not built)",
            "n/a".into(),
            "n/a".into(),
            "—".into(),
        ),
    }

    // tools/list bytes.
    let floor_bytes = cold_start(&floor, &[])?
        .context("the floor's tools/list")?
        .1;
    for (mode, extra) in [
        ("`--access read`", &["--access", "read"][..]),
        ("`--access full`", &["--access", "full"][..]),
        ("`--catalog`", &["--catalog"][..]),
    ] {
        let bytes = cold_start(&server, extra)?.map(|(_, b)| b);
        table.row(
            format!("`tools/list` bytes, {mode} (floor: its one tool)"),
            bytes.map_or("n/a".to_string(), |b| thousands(b as f64)),
            thousands(floor_bytes as f64),
            bytes.map_or("—".to_string(), |b| ratio(b as f64, floor_bytes as f64)),
        );
    }
    table.row(
        "binary size",
        mib(size(&ours)),
        mib(size(&floor_bin)),
        ratio(size(&ours) as f64, size(&floor_bin) as f64),
    );

    table.print();
    println!();
    println!("bench took {:.0} s", began.elapsed().as_secs_f64());
    drop(_upstream);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
