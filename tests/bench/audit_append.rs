//! What the SQLite audit adds to a call, against the disk's floor, in one run.
//!
//! `cargo run --release --example audit_append -- [--dir DIR] [--rows N]`
//!
//! In a fresh directory under DIR (default: the system temp dir; use a directory on the disk
//! the trail lives on), prints:
//! - the floor: p50 of one 128-byte append to a file and `fdatasync` (one durable write);
//! - a lone append (a call's `pending` row, the one a call waits for before it is sent),
//!   p50 / p99, and the same for a lone call's pair (intent, then its outcome);
//! - rows per second with 1, 8 and 64 appenders, each writing calls (intent, then outcome)
//!   one after the other, and how many floors one row costs at that rate.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use livechat_mcp::audit::{AuditStore, NewEntry};
use serde_json::{Map, Value, json};

#[path = "durable_write.rs"]
mod durable_write;

struct Args {
    dir: PathBuf,
    rows: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        dir: std::env::temp_dir(),
        rows: 4000,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--dir" => args.dir = given.next().context("--dir DIR")?.into(),
            "--rows" => args.rows = given.next().context("--rows N")?.parse()?,
            other => bail!("unknown argument `{other}`; see the doc comment at the top"),
        }
    }
    Ok(args)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// p50 of `n` durable writes (the floor, [`durable_write`]).
fn floor(dir: &Path, n: usize) -> anyhow::Result<Duration> {
    let mut times = durable_write::durable_writes(dir, n)?;
    times.sort();
    Ok(percentile(&times, 0.5))
}

fn arguments(i: usize) -> Map<String, Value> {
    match json!({"chat_id": format!("CHAT{i}")}) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// One call's rows: its intent, then its outcome.
async fn call(store: &AuditStore, agent: &str, i: usize) -> anyhow::Result<()> {
    let entry = NewEntry::new(agent, "get_chat", &arguments(i)).took(3);
    let pending = store
        .append(entry.pending())
        .await
        .map_err(anyhow::Error::msg)?;
    store
        .append(entry.completing(pending.id))
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let dir = args
        .dir
        .join(format!("livechat-mcp-audit-append-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&dir, &args).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(dir: &Path, args: &Args) -> anyhow::Result<()> {
    println!("audit_append: trail in {}", dir.display());
    let floor = floor(dir, 500)?;
    println!("floor: write + fdatasync p50            {}", ms(floor));

    let store = AuditStore::open(&dir.join("audit.db")).map_err(anyhow::Error::msg)?;
    // Warm up: the first append opens the anchor file and prepares the statements.
    for i in 0..20 {
        call(&store, "warm", i).await?;
    }

    let lone = 500;
    let mut intents = Vec::with_capacity(lone);
    let mut pairs = Vec::with_capacity(lone);
    for i in 0..lone {
        let entry = NewEntry::new("lone", "get_chat", &arguments(i)).took(3);
        let start = Instant::now();
        let pending = store
            .append(entry.pending())
            .await
            .map_err(anyhow::Error::msg)?;
        intents.push(start.elapsed());
        store
            .append(entry.completing(pending.id))
            .await
            .map_err(anyhow::Error::msg)?;
        pairs.push(start.elapsed());
        // A lone call: the trail is idle between calls (longer than the writer waits to
        // make outcomes durable on its own), as when calls are seconds apart.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    intents.sort();
    pairs.sort();
    println!(
        "lone append (intent)    p50 {}  p99 {}  ({:.2}x the floor at p50)",
        ms(percentile(&intents, 0.5)),
        ms(percentile(&intents, 0.99)),
        percentile(&intents, 0.5).as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "lone call (intent + outcome) p50 {}  p99 {}  ({:.2}x the floor at p50)",
        ms(percentile(&pairs, 0.5)),
        ms(percentile(&pairs, 0.99)),
        percentile(&pairs, 0.5).as_secs_f64() / floor.as_secs_f64()
    );

    for appenders in [1usize, 8, 64] {
        let calls = (args.rows / 2).max(appenders);
        let per = calls / appenders;
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(appenders);
        for a in 0..appenders {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let agent = format!("agent-{a}");
                for i in 0..per {
                    call(&store, &agent, i).await?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let elapsed = start.elapsed();
        let rows = (per * appenders * 2) as f64;
        let rate = rows / elapsed.as_secs_f64();
        println!(
            "{appenders:>2} appenders: {rate:>9.0} rows/s  ({:.3} floors per row; {} rows in {})",
            (1.0 / rate) / floor.as_secs_f64(),
            rows,
            ms(elapsed)
        );
    }
    let rows = store.verify(None).await.map_err(anyhow::Error::msg)?;
    println!("verify: {rows} rows intact");
    drop(store);
    Ok(())
}
