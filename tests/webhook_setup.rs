//! `webhooks sync` and `webhooks status` (issue 13) through the binary, against the sandbox's
//! HTTP server: the plan, idempotency, fixing a changed secret or URL, turning license
//! webhooks on, and that the secret is never printed or recorded.

mod common;

use std::process::Command;

use common::{TempDir, files_containing};
use livechat_mcp::sandbox::{Sandbox, SandboxOptions};

const SECRET: &str = "s3cret-0123456789abcdef0123456789";
const CLIENT: &str = "my-app";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_in(dir: &std::path::Path, url: &str, secret: &str, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("LIVECHAT_API_URL", url)
        .env("LIVECHAT_ACCOUNTS_URL", url)
        .env("LIVECHAT_ACCESS_TOKEN", "sandbox-owner-token")
        .env("LIVECHAT_CLIENT_ID", CLIENT)
        .env("LIVECHAT_MCP_WEBHOOK_SECRET", secret)
        .env("LIVECHAT_MCP_ACCESS", "full")
        .arg("--audit")
        .arg(dir.join("audit.db"))
        .args(args)
        .output()
        .expect("run");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_registers_each_action_once_fixes_what_differs_and_prints_no_secret() {
    let sandbox = Sandbox::new(SandboxOptions::default())
        .expect("sandbox")
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .expect("spawn");
    let dir = TempDir::new("webhook-sync");
    let url = sandbox.url.clone();
    let path = dir.path().to_path_buf();
    let run = move |secret: &'static str, args: Vec<&'static str>| {
        let (path, url) = (path.clone(), url.clone());
        async move {
            tokio::task::spawn_blocking(move || run_in(&path, &url, secret, &args))
                .await
                .unwrap()
        }
    };
    let mut printed = String::new();

    // License webhooks start off for this app, so the sync must turn them on.
    let off = run(
        SECRET,
        vec![
            "call",
            "disable_license_webhooks",
            r#"{"owner_client_id": "my-app"}"#,
        ],
    )
    .await;
    assert_eq!(off.code, Some(0), "{}", off.stderr);

    let dry = run(
        SECRET,
        vec![
            "webhooks",
            "sync",
            "--url",
            "https://mcp.example.com/",
            "--dry-run",
        ],
    )
    .await;
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    assert_eq!(
        dry.stdout.matches(": would register a webhook").count(),
        20,
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("incoming_chat: would register a webhook\n")
    );
    assert!(
        dry.stdout
            .contains("license webhooks: would enable them for this app\n")
    );
    assert!(
        dry.stdout
            .ends_with("dry run: nothing was registered or changed\n")
    );
    let status = run(SECRET, vec!["webhooks", "status"]).await;
    assert!(
        status
            .stdout
            .contains("incoming_chat                    not registered"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .starts_with("license webhooks for client my-app: OFF")
    );
    printed.push_str(&dry.stdout);

    let synced = run(
        SECRET,
        vec!["webhooks", "sync", "--url", "https://mcp.example.com"],
    )
    .await;
    assert_eq!(synced.code, Some(0), "{}", synced.stderr);
    assert_eq!(
        synced.stdout.matches(": registered a webhook").count(),
        20,
        "{}",
        synced.stdout
    );
    assert!(
        synced
            .stdout
            .contains("license webhooks: enabled for this app")
    );
    let status = run(SECRET, vec!["webhooks", "status"]).await;
    assert!(
        status
            .stdout
            .starts_with("license webhooks for client my-app: on\n"),
        "{}",
        status.stdout
    );
    assert_eq!(
        status
            .stdout
            .matches("→ https://mcp.example.com/webhooks/livechat\n")
            .count(),
        20,
        "{}",
        status.stdout
    );
    printed.push_str(&synced.stdout);
    printed.push_str(&status.stdout);

    let again = run(
        SECRET,
        vec!["webhooks", "sync", "--url", "https://mcp.example.com"],
    )
    .await;
    assert_eq!(
        again.stdout.matches("is right; nothing done").count(),
        20,
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("license webhooks: on; nothing done"));

    // A new secret: every webhook is registered again with it.
    const ROTATED: &str = "rotated-0123456789abcdef0123456789";
    let rotated = run(
        ROTATED,
        vec!["webhooks", "sync", "--url", "https://mcp.example.com"],
    )
    .await;
    assert_eq!(rotated.code, Some(0), "{}", rotated.stderr);
    assert_eq!(
        rotated.stdout.matches("(its secret is another)").count(),
        20,
        "{}",
        rotated.stdout
    );
    // A new URL: the same, naming the old one.
    let moved = run(
        ROTATED,
        vec!["webhooks", "sync", "--url", "https://new.example.com"],
    )
    .await;
    assert_eq!(
        moved
            .stdout
            .matches("(it goes to https://mcp.example.com/webhooks/livechat)")
            .count(),
        20,
        "{}",
        moved.stdout
    );
    let status = run(ROTATED, vec!["webhooks", "status"]).await;
    assert_eq!(
        status
            .stdout
            .matches("→ https://new.example.com/webhooks/livechat\n")
            .count(),
        20
    );
    assert!(
        !status.stdout.contains("mcp.example.com"),
        "old ones are gone: {}",
        status.stdout
    );
    for r in [&again, &rotated, &moved, &status] {
        printed.push_str(&r.stdout);
        printed.push_str(&r.stderr);
    }

    // Bad input: nothing is sent, and the secret is not echoed.
    let short = run(
        "short",
        vec!["webhooks", "sync", "--url", "https://mcp.example.com"],
    )
    .await;
    assert_eq!(short.code, Some(2));
    assert!(
        short.stderr.contains("at least 24 characters"),
        "{}",
        short.stderr
    );
    let bare = run(SECRET, vec!["webhooks", "sync", "--url", "mcp.example.com"]).await;
    assert_eq!(bare.code, Some(2));

    for secret in [SECRET, ROTATED] {
        assert!(!printed.contains(secret), "no secret printed");
        assert!(
            files_containing(dir.path(), secret).is_empty(),
            "no secret in any file"
        );
    }
    // Every call is in the audit trail, as webhooks-sync.
    let audit = run(SECRET, vec!["audit", "--limit", "500", "--json"]).await;
    assert!(
        audit
            .stdout
            .lines()
            .any(|l| l.contains("\"agent\":\"webhooks-sync\"") && l.contains("register_webhook"))
    );
    assert!(!audit.stdout.contains(SECRET));
}
