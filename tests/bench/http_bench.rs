//! Throughput and latency of the HTTP server on the embedded sandbox, with a lightweight Rust
//! client so that the figures are the server's rather than the client's.
//!
//! `cargo run --release --example http_bench -- [--total N] [--clients 1,10,64] [--audit-off]`
//!
//! Starts the sandbox and the HTTP server in this process on loopback sockets (one agent, a
//! fresh key, an audit file in a temp dir unless `--audit-off`), then for each number of
//! concurrent clients opens that many MCP sessions (2025-06-18, each on its own connection)
//! and has each make its share of N `list_chats` calls one after the other. Prints calls per
//! second over all clients and p50 / p99 latency of one call as a client sees it.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use anyhow::{Context as _, bail};
use livechat_mcp::{
    audit::AuditStore,
    config::{Credentials, Settings},
    http::{HttpOptions, HttpSetup, HttpState, new_key, serve},
    policy::{Policy, key_sha256},
    sandbox::{Sandbox, SandboxOptions},
};
use serde_json::json;
use tokio::{net::TcpListener, sync::Barrier};

struct Args {
    total: usize,
    clients: Vec<usize>,
    audit: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        total: 2000,
        clients: vec![1, 10, 64],
        audit: true,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--total" => args.total = given.next().context("--total N")?.parse()?,
            "--clients" => {
                args.clients = given
                    .next()
                    .context("--clients 1,10,64")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--audit-off" => args.audit = false,
            other => bail!("unknown argument `{other}`; see the doc comment at the top"),
        }
    }
    Ok(args)
}

// `answer` is the latency benchmark's.
#[allow(dead_code)]
#[path = "mcp_session.rs"]
mod mcp_session;

use mcp_session::{PROTOCOL, Session, percentile};

async fn list_chats(session: &Session) -> anyhow::Result<()> {
    session
        .call("list_chats", json!({"limit": 5}))
        .await
        .map(drop)
}

async fn level(base: &str, key: &str, clients: usize, calls: usize) -> anyhow::Result<()> {
    let mut sessions = Vec::new();
    for _ in 0..clients {
        let session = Session::open(base, key, "http_bench").await?;
        for _ in 0..3 {
            list_chats(&session).await?;
        }
        sessions.push(Arc::new(session));
    }
    let start = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    for session in sessions {
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let mut latencies = Vec::with_capacity(calls);
            for _ in 0..calls {
                let began = Instant::now();
                list_chats(&session).await?;
                latencies.push(began.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    start.wait().await;
    let began = Instant::now();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let wall = began.elapsed();
    latencies.sort();
    println!(
        "{clients:>7} {:>6} {:>8.0} {:>7.2} {:>7.2}",
        latencies.len(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sandbox = Sandbox::new(SandboxOptions::default())?
        .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await?;
    let mut settings = Settings::new(&sandbox.url);
    settings.credentials = Credentials::from_values(Some("sandbox"), None, None);
    let key = new_key();
    let policy = Policy::parse(
        &format!(
            "[agents.bench]\naccess = {{ \"*\" = \"read\" }}\nkey_sha256 = \"{}\"\n",
            key_sha256(&key)
        ),
        "bench policy",
    )
    .map_err(anyhow::Error::msg)?;
    let dir = std::env::temp_dir().join(format!("livechat-mcp-bench-{}", std::process::id()));
    let audit = if args.audit {
        Some(AuditStore::open(&dir.join("audit.db")).map_err(anyhow::Error::msg)?)
    } else {
        None
    };
    let options = HttpOptions {
        max_in_flight: 256,
        ..HttpOptions::default()
    };
    let state = HttpState::new(HttpSetup::from_policy(policy, &settings, audit, options)?)
        .map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    println!(
        "HTTP server in-process on the sandbox; list_chats, sessions ({PROTOCOL}), audit {}, {} CPUs, Rust client",
        if args.audit { "SQLite file" } else { "off" },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:>7} {:>6} {:>8} {:>7} {:>7}",
        "clients", "calls", "calls/s", "p50 ms", "p99 ms"
    );
    for &clients in &args.clients {
        let calls = (args.total / clients.max(1)).max(20);
        level(&base, &key, clients, calls).await?;
    }
    let _ = stop.send(());
    server.await??;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
