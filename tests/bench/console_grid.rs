//! How long the console takes to render the access grid for 50 agents (issue 15: under
//! 100 ms on the server), beside a floor measured in the same run: the same router serving
//! its embedded stylesheet. Prints figures; asserts nothing.
//!
//! `cargo run --release --example console_grid [-- --agents 50 --rounds 300]`

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, header},
};
use livechat_mcp::{
    console::{ConsoleState, Sessions, console_app},
    http::AllowedHosts,
    policy::{file::PolicyFile, key_sha256},
};
use tower::ServiceExt as _;

const ADMIN_KEY: &str = "lcmcp_bench-admin-key";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn get(app: &Router, path: &str, cookie: &str) -> (usize, std::time::Duration) {
    let started = Instant::now();
    let response = app
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::HOST, "127.0.0.1")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (bytes.len(), started.elapsed())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let agents = arg("--agents", 50);
    let rounds = arg("--rounds", 300);
    let dir =
        std::env::temp_dir().join(format!("livechat-mcp-console-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut text = format!("[admin]\nkey_sha256 = \"{}\"\n", key_sha256(ADMIN_KEY));
    for n in 0..agents {
        text.push_str(&format!(
            "[agents.agent-{n:02}]\naccess = {{ chats = \"read\", events = \"full\", customers = \"{}\" }}\nkey_sha256 = \"{}\"\n",
            if n % 2 == 0 { "read" } else { "off" },
            key_sha256(&format!("key-{n}"))
        ));
    }
    let path = dir.join("team.toml");
    std::fs::write(&path, text).expect("policy");
    let state = Arc::new(ConsoleState {
        policy: PolicyFile::open(&path).expect("policy parses"),
        admin_key_override: None,
        audit: None,
        approvals: None,
        events: None,
        metrics: None,
        hosts: AllowedHosts::new(&[]).expect("hosts"),
        sessions: Sessions::default(),
    });
    let app = console_app(state);
    let signed = app
        .clone()
        .oneshot(
            Request::post("/console/sign-in")
                .header(header::HOST, "127.0.0.1")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("key={ADMIN_KEY}")))
                .expect("request"),
        )
        .await
        .expect("sign in");
    let cookie = signed
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    let mut table = Vec::new();
    for (what, path) in [
        (
            "floor: the embedded stylesheet",
            "/console/assets/console.css",
        ),
        ("access grid", "/console"),
    ] {
        // Warm up, then measure one request at a time.
        for _ in 0..20 {
            get(&app, path, &cookie).await;
        }
        let mut ms = Vec::with_capacity(rounds);
        let mut bytes = 0;
        for _ in 0..rounds {
            let (size, took) = get(&app, path, &cookie).await;
            bytes = size;
            ms.push(took.as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        table.push((what, bytes, percentile(&ms, 0.5), percentile(&ms, 0.99)));
    }
    let floor = table[0].2;
    println!(
        "console grid, {agents} agents x 10 areas, {rounds} requests each, one at a time, in process"
    );
    println!("| page | bytes | p50 ms | p99 ms | p50 / floor |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (what, bytes, p50, p99) in &table {
        println!(
            "| {what} | {bytes} | {p50:.3} | {p99:.3} | {:.1}x |",
            p50 / floor
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
