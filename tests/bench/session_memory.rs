//! Server memory per open MCP session, measured on the built binary (Linux: it reads
//! `/proc/PID/status`).
//!
//! `cargo build --release && cargo run --release --example session_memory -- [--binary PATH]
//! [--sessions 2000] [--agents 32] [--max-sessions-per-agent N] [--sse] [--settle SECS]`
//!
//! Starts `livechat-mcp serve --http 127.0.0.1:0 --sandbox --audit off` (default binary
//! `target/release/livechat-mcp`, or `$CARGO_TARGET_DIR/release/livechat-mcp`) with a policy of
//! `--agents` agents, each with a fresh key; opens `--sessions` streamable-HTTP sessions
//! (`initialize`, then `notifications/initialized`; kept open, never deleted), spread evenly
//! over the agents; waits `--settle` seconds (default 8: an idle session is put to sleep after
//! 5 s, see `src/http/sessions.rs`); then prints the server's VmRSS before and after, the bytes
//! per session, and
//! how many sessions the server kept (from `/metrics`, read with an admin key). With `--sse`
//! it opens older-transport SSE streams instead, each on its own connection.
//!
//! With the defaults every session fits under the per-agent cap (64); with `--agents 1` the
//! cap keeps 64 open and closes the least recently used as new ones come.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

// Only opening a session is used here.
#[allow(dead_code)]
#[path = "mcp_session.rs"]
mod mcp_session;

use anyhow::{Context as _, bail};
use livechat_mcp::{http::new_key, policy::key_sha256};
use tokio::{sync::Semaphore, task::JoinSet};

struct Args {
    binary: String,
    sessions: usize,
    agents: usize,
    cap: Option<usize>,
    sse: bool,
    settle: u64,
}

fn args() -> anyhow::Result<Args> {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_string());
    let mut args = Args {
        binary: format!("{target}/release/livechat-mcp"),
        sessions: 2000,
        agents: 32,
        cap: None,
        sse: false,
        settle: 8,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = || given.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--binary" => args.binary = value()?,
            "--sessions" => args.sessions = value()?.parse()?,
            "--agents" => args.agents = value()?.parse::<usize>()?.max(1),
            "--max-sessions-per-agent" => args.cap = Some(value()?.parse()?),
            "--sse" => args.sse = true,
            "--settle" => args.settle = value()?.parse()?,
            other => bail!("unknown argument `{other}`; see the doc comment at the top"),
        }
    }
    Ok(args)
}

/// The server's resident set, in bytes.
fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok(kb * 1024)
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &Args, policy: &std::path::Path, admin_hash: &str) -> anyhow::Result<Server> {
    let mut command = Command::new(&args.binary);
    command
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--sandbox",
            "--audit",
            "off",
        ])
        .arg("--policy")
        .arg(policy)
        .env("LIVECHAT_MCP_ADMIN_KEY_SHA256", admin_hash)
        .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(cap) = args.cap {
        command.args(["--max-sessions-per-agent", &cap.to_string()]);
    }
    if args.sse {
        // Each SSE stream holds a connection of its own.
        command.args(["--max-connections", &(args.sessions + 64).to_string()]);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}; build it first", args.binary))?;
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    let mut base = None;
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.split("serving MCP at http://").nth(1) {
            base = rest.split("/mcp").next().map(|a| format!("http://{a}"));
            break;
        }
        eprintln!("{line}");
    }
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    let base = base.context("the server did not start")?;
    Ok(Server { child, base })
}

/// Opens an SSE stream and reads its `endpoint` event; the stream stays open while the
/// response is held.
async fn open_stream(base: &str, key: &str) -> anyhow::Result<reqwest::Response> {
    let mut response = reqwest::Client::new()
        .get(format!("{base}/sse"))
        .bearer_auth(key)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("GET /sse: HTTP {}", response.status());
    }
    let mut seen = String::new();
    while !seen.contains("endpoint") {
        let chunk = response.chunk().await?.context("the stream ended")?;
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    Ok(response)
}

/// Open sessions as `/metrics` counts them, summed over agents and transports.
async fn kept(base: &str, admin: &str) -> anyhow::Result<u64> {
    let text = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(admin)
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("livechat_mcp_open_sessions{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("livechat-mcp-sessions-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut policy = String::new();
    let mut keys = Vec::new();
    for i in 0..args.agents {
        let key = new_key();
        policy.push_str(&format!(
            "[agents.bench{i}]\naccess = {{ \"*\" = \"read\" }}\nkey_sha256 = \"{}\"\n",
            key_sha256(&key)
        ));
        keys.push(key);
    }
    let path = dir.join("policy.toml");
    std::fs::write(&path, policy)?;
    let admin = new_key();
    let server = start(&args, &path, &key_sha256(&admin))?;
    let pid = server.child.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss(pid)?;

    let began = Instant::now();
    let mut streams = Vec::new();
    if args.sse {
        for i in 0..args.sessions {
            streams.push(open_stream(&server.base, &keys[i % keys.len()]).await?);
        }
    } else {
        let http = reqwest::Client::new();
        let at_once = Arc::new(Semaphore::new(16));
        let mut opening = JoinSet::new();
        for i in 0..args.sessions {
            let (http, base, key) = (
                http.clone(),
                server.base.clone(),
                keys[i % keys.len()].clone(),
            );
            let permit = at_once.clone().acquire_owned().await?;
            opening.spawn(async move {
                let _permit = permit;
                // The session stays open on the server when this handle is dropped.
                mcp_session::Session::open_with(http, &base, &key, "session_memory")
                    .await
                    .map(drop)
            });
        }
        while let Some(opened) = opening.join_next().await {
            opened??;
        }
    }
    let took = began.elapsed();
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let after = rss(pid)?;
    let open = kept(&server.base, &admin).await?;
    let grown = after.saturating_sub(before);
    println!(
        "{} {} over {} agents{} in {:.1} s, then {} s idle; the server keeps {open} open",
        args.sessions,
        if args.sse {
            "SSE streams"
        } else {
            "streamable-HTTP sessions"
        },
        args.agents,
        args.cap
            .map(|c| format!(" (--max-sessions-per-agent {c})"))
            .unwrap_or_default(),
        took.as_secs_f64(),
        args.settle
    );
    println!(
        "server VmRSS: {:.1} MiB before, {:.1} MiB after (+{:.1} MiB); {} bytes per session opened, {} per session kept",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        grown as f64 / 1048576.0,
        grown / args.sessions.max(1) as u64,
        grown / open.max(1)
    );
    drop(streams);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
