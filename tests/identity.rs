//! Which LiveChat identity each agent's calls use (issue 12, first part): `whoami` and
//! `doctor` say it; `serve --http` warns when two or more agents share the server's token
//! (LiveChat's history would show them as one person), and `--require-own-identity` refuses
//! to start while any agent would act with it.

mod http_support;

use std::process::Command;

use http_support::*;
use serde_json::json;

/// Two agents on the server's token and one with its own PAT.
fn mixed_policy(dir: &TempDir) -> (String, Vec<String>) {
    let (mut text, keys) = policy(&[
        ("alpha", r#"{ chats = "read" }"#),
        ("beta", r#"{ chats = "read" }"#),
        ("gamma", r#"{ chats = "read" }"#),
    ]);
    text.push_str(
        "[agents.gamma.livechat]\npat_env = \"GAMMA_PAT\"\naccount_id_env = \"GAMMA_ACCOUNT\"\n",
    );
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).expect("write policy");
    (path.to_str().expect("utf-8").to_string(), keys)
}

#[test]
fn agents_sharing_the_server_token_are_named_and_can_be_refused() {
    let dir = TempDir::new("identity");
    let (policy, keys) = mixed_policy(&dir);
    let audit = dir.join("audit.db");
    let audit = audit.to_str().expect("utf-8");
    let mut server = ServerProcess::spawn(
        &["--sandbox", "--policy", &policy, "--audit", audit],
        &[
            ("GAMMA_PAT", "gamma-pat-secret"),
            ("GAMMA_ACCOUNT", "gamma-account"),
        ],
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        for (key, expected) in [(&keys[0], "server token"), (&keys[2], "own PAT")] {
            let client = McpClient::connect(&server.base, key).await;
            let (is_error, result) = client.call("whoami", json!({})).await;
            assert!(!is_error, "{result}");
            let text = result["content"][0]["text"].as_str().expect("text");
            let whoami: serde_json::Value = serde_json::from_str(text).expect("json");
            assert_eq!(whoami["livechat_identity"], expected, "{whoami}");
        }
    });
    assert_eq!(server.terminate().code(), Some(0));
    let stderr = server.stderr();
    assert!(
        stderr.contains("warning: agents alpha, beta all act in LiveChat with the server's token"),
        "{stderr}"
    );
    assert!(!stderr.contains("gamma-pat-secret"), "{stderr}");

    let refused = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.join(""))
        .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
        .args(["--sandbox", "--policy", &policy, "--audit", audit])
        .args(["serve", "--http", "127.0.0.1:0", "--require-own-identity"])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--require-own-identity: agents alpha, beta would act in LiveChat with the server's token"),
        "{stderr}"
    );
}

#[test]
fn doctor_says_the_identity() {
    let dir = TempDir::new("identity-doctor");
    let (policy, _) = mixed_policy(&dir);
    for (agent, expected) in [("beta", "server token"), ("gamma", "own PAT")] {
        let out = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.join(""))
            .args(["--sandbox", "--policy", &policy, "--agent", agent, "doctor"])
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("LiveChat identity: {expected}\n")),
            "{agent}: {stdout}"
        );
    }
}

/// A bot cannot use LiveChat's RTM API: `doctor` says the agent gets events from webhooks
/// only, and `serve --events rtm` refuses to start for it (exit 2).
#[test]
fn a_bot_agent_gets_events_from_webhooks_only() {
    let dir = TempDir::new("identity-bot-rtm");
    let (mut text, _) = policy(&[("robo", r#"{ chats = "read" }"#)]);
    text.push_str("[agents.robo.livechat]\nidentity = \"bot\"\n");
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).expect("write policy");
    let policy = path.to_str().expect("utf-8");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.join(""))
            .args([
                "--sandbox",
                "--policy",
                policy,
                "--agent",
                "robo",
                "--audit",
                "off",
            ])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run")
    };
    let doctor = run(&["doctor"]);
    let stdout = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        stdout.contains("events: webhooks only (LiveChat does not let a bot use the RTM API"),
        "{stdout}"
    );
    let refused = run(&["serve", "--events", "rtm"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--events rtm cannot serve agent `robo`")
            && stderr.contains("LiveChat does not let bots use the RTM API"),
        "{stderr}"
    );
}
