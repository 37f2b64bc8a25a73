//! How long a help desk event takes to reach an agent (issue 13): from the sandbox's state
//! change to `get_events` answering with it.
//!
//! `cargo run --release --example events_latency -- [--events N]` (default 1,000)
//!
//! Starts, in this process on loopback sockets, the sandbox and the HTTP server with an event
//! log and webhook receiver (SQLite beside an audit file in a temp dir), points the sandbox's
//! license webhooks at the server as `webhooks sync` does, and opens one MCP session for an
//! agent that may read chats. Then, N times: the agent's long-poll `get_events` is sent, a
//! customer writes in a chat through the sandbox's Customer Chat API, and the time from
//! sending the customer's message to the long-poll's answer (holding that message) is taken.
//! The path measured is the real one: the sandbox's courier POSTs the webhook, the receiver
//! checks and stores it, the long-poll wakes, reads the log and answers.
//!
//! Measured in the same run, as floors: the customer's call alone (the state change), and a
//! `get_events` that finds its event already stored (the read alone).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use livechat_mcp::{
    audit::AuditStore,
    config::{Credentials, Secret, Settings},
    events::{EventLog, LogOptions},
    http::{HttpOptions, HttpSetup, HttpState, intake::EventIntake, new_key, serve},
    policy::{Policy, key_sha256},
    sandbox::{Sandbox, SandboxOptions, customer_client::CustomerClient},
    server::LiveChatServer,
    tools::Area,
    version::ApiVersion,
    webhook_setup::{self, SYNCER, Target},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const SECRET: &str = "bench-secret-0123456789abcdef0123456789";

#[path = "mcp_session.rs"]
mod mcp_session;

use mcp_session::{Session, answer, percentile};

/// `get_events` after `cursor`: the events and the next cursor.
async fn read_events(
    session: &Session,
    cursor: &str,
    wait_secs: u64,
) -> anyhow::Result<(Vec<Value>, String)> {
    let message = session
        .call(
            "get_events",
            json!({"after": cursor, "wait_secs": wait_secs}),
        )
        .await?;
    let answer = answer(&message)?;
    let events = answer["events"].as_array().cloned().unwrap_or_default();
    let cursor = answer["cursor"].as_str().context("no cursor")?.to_string();
    Ok((events, cursor))
}

fn row(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<46} {:>6} {:>8.2} {:>8.2} {:>8.2}",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
}

fn count() -> anyhow::Result<usize> {
    let mut given = std::env::args().skip(1);
    let mut n = 1000;
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--events" => n = given.next().context("--events N")?.parse()?,
            other => bail!("unknown argument `{other}`; see the doc comment at the top"),
        }
    }
    Ok(n)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = count()?;
    // Warnings (a delivery the sandbox could not make, a refused webhook) on stderr.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sandbox = Sandbox::new(SandboxOptions::default())?
        .spawn(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await?;
    let mut settings = Settings::new(&sandbox.url);
    settings.credentials = Credentials::from_values(Some("sandbox"), None, None);

    let dir =
        std::env::temp_dir().join(format!("livechat-mcp-events-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let audit = AuditStore::open(&dir.join("audit.db")).map_err(anyhow::Error::msg)?;
    let log = EventLog::open_sqlite(&dir.join("audit.db.events"), LogOptions::default())?;
    let key = new_key();
    let policy = Policy::parse(
        &format!(
            "[agents.reader]\naccess = {{ chats = \"read\" }}\nkey_sha256 = \"{}\"\n",
            key_sha256(&key)
        ),
        "bench policy",
    )
    .map_err(anyhow::Error::msg)?;
    let mut setup = HttpSetup::from_policy(policy, &settings, Some(audit), HttpOptions::default())?;
    setup.intake = Some(EventIntake {
        log,
        secret: Some(Secret::new(SECRET.to_string())),
    });
    let state = HttpState::new(setup).map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    // `webhooks sync --url BASE`, through the library.
    let operator = LiveChatServer::for_operator(SYNCER, Area::Webhooks, &settings, None)?;
    let target = Target::new(&base, "bench-app", SECRET)?;
    let steps = webhook_setup::plan(&operator, &target, ApiVersion::V3_6).await?;
    webhook_setup::apply(&operator, &target, &steps)
        .await
        .map_err(|(_, e)| e)?;

    let customer = CustomerClient::new(&sandbox.url, ApiVersion::V3_6, "bench-customer")?;
    let agent = std::sync::Arc::new(Session::open(&base, &key, "events_latency").await?);
    let (_, mut cursor) = read_events(&agent, "0", 0).await?;
    let chat = customer.start("Hello").await?;
    let chat_id = chat["chat_id"].as_str().context("chat_id")?.to_string();
    // The start's `incoming_chat` first.
    let (events, next) = read_events(&agent, &cursor, 10).await?;
    if events.is_empty() {
        bail!("the chat's start never arrived");
    }
    cursor = next;

    let mut said = Vec::with_capacity(n);
    let mut delivered = Vec::with_capacity(n);
    let mut read = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let text = format!("message {i}");
        let poll = {
            let agent = agent.clone();
            let cursor = cursor.clone();
            tokio::spawn(async move { read_events(&agent, &cursor, 10).await })
        };
        let began = Instant::now();
        customer.say(&chat_id, &text).await?;
        let state_change = began.elapsed();
        let (events, next) = poll.await??;
        let arrived = began.elapsed();
        let Some(event) = events.first() else {
            bail!(
                "the long-poll after {cursor} timed out without message {i} ({:?})",
                began.elapsed()
            );
        };
        if !event["summary"]
            .as_str()
            .unwrap_or_default()
            .contains(&text)
        {
            bail!("message {i} arrived as {event}");
        }
        // The same read again, its event already stored: the read alone.
        let again = Instant::now();
        let (events, _) = read_events(&agent, &cursor, 0).await?;
        let read_alone = again.elapsed();
        if events.is_empty() {
            bail!("the read of message {i} found nothing");
        }
        cursor = next;
        if i >= 20 {
            said.push(state_change);
            delivered.push(arrived);
            read.push(read_alone);
        }
    }

    println!(
        "{n} customer messages after 20 to warm up; sandbox, server and agent in one process on loopback, SQLite audit and event log, {} CPUs",
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    println!(
        "{:<46} {:>6} {:>8} {:>8} {:>8}",
        "", "n", "p50 ms", "p99 ms", "max ms"
    );
    row("customer message sent → get_events answered", delivered);
    row("floor: the customer's call alone", said);
    row("floor: get_events with the event stored", read);
    let _ = stop.send(());
    server.await??;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
