//! Secrets never come back out: an upstream answer that echoes the credentials reaches the model
//! with `[redacted]` in their place, and start-up refuses settings that carry a secret where a
//! name or a URL belongs (policy `*_env`, `--api-url` with user info, a libpq `--audit` string)
//! without printing it.

mod common;

use std::process::{Command, Output, Stdio};

use common::{TempDir, call, connect, settings};
use livechat_mcp::{config::Credentials, policy::Level, version::ApiVersion};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

const TOKEN: &str = "dal:Echoed-Token-0123456789";
const PAT: &str = "Echoed-PAT-9876543210";
const ACCOUNT: &str = "acc-echo-1";

/// What the stand-in answers with, each echoing the request's `Authorization` header and the
/// raw secret.
#[derive(Clone, Copy)]
enum Answer {
    Success,
    LiveChatError,
    NotJson,
}

struct EchoAuth {
    answer: Answer,
    secret: &'static str,
}

impl Respond for EchoAuth {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let basic = auth.strip_prefix("Basic ").unwrap_or_default().to_string();
        match self.answer {
            Answer::Success => ResponseTemplate::new(200).set_body_json(json!({
                "chats_summary": [],
                "found_chats": 0,
                "echo": {"authorization": auth, "basic": basic, "secret": self.secret},
            })),
            Answer::LiveChatError => ResponseTemplate::new(400).set_body_json(json!({
                "error": {
                    "type": "validation",
                    "message": format!("bad token {}", self.secret),
                    "data": {"authorization": auth},
                }
            })),
            Answer::NotJson => ResponseTemplate::new(500).set_body_string(format!(
                "proxy error: Authorization: {auth} ({}) {basic}",
                self.secret
            )),
        }
    }
}

fn credentials() -> [(Credentials, &'static str); 2] {
    [
        (
            Credentials::from_values(Some(TOKEN), None, None).expect("bearer"),
            TOKEN,
        ),
        (
            Credentials::from_values(None, Some(PAT), Some(ACCOUNT)).expect("pat"),
            PAT,
        ),
    ]
}

#[tokio::test]
async fn credentials_echoed_by_livechat_never_reach_the_tool_result() {
    for (creds, secret) in credentials() {
        let header = creds.authorization().expose().to_string();
        let encoded = header
            .split_once(' ')
            .expect("scheme and value")
            .1
            .to_string();
        let forbidden = [secret.to_string(), header.clone(), encoded.clone()];
        for answer in [Answer::Success, Answer::LiveChatError, Answer::NotJson] {
            let mock = MockServer::start().await;
            Mock::given(any())
                .respond_with(EchoAuth { answer, secret })
                .mount(&mock)
                .await;
            let mut s = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
            s.credentials = Ok(creds.clone());
            let client = connect(&s).await;
            let (is_error, structured, text) = call(&client, "list_chats", json!({})).await;
            let seen = format!("{text}\n{}", structured.clone().unwrap_or(Value::Null));
            for word in &forbidden {
                assert!(!seen.contains(word.as_str()), "{word} came back: {seen}");
            }
            match answer {
                Answer::Success => {
                    assert!(!is_error, "{text}");
                    let echo = &structured.expect("structured")["echo"];
                    let want_basic = if secret == PAT { "[redacted]" } else { "" };
                    assert_eq!(
                        echo,
                        &json!({"authorization": "[redacted]", "basic": want_basic, "secret": "[redacted]"}),
                        "{text}"
                    );
                }
                Answer::LiveChatError => {
                    assert!(is_error);
                    assert!(
                        text.starts_with("validation: bad token [redacted]"),
                        "{text}"
                    );
                }
                Answer::NotJson => assert!(is_error, "{text}"),
            }
            let _ = client.cancel().await;
        }
    }
}

/// The binary with nothing from the test's environment but PATH, run in a directory of its
/// own (so a value mistaken for a file name cannot land in the source tree).
fn run(dir: &TempDir, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
        .current_dir(dir.path())
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("run livechat-mcp")
}

/// Asserts the exit code, that stderr says each of `words`, and that `secret` appears in
/// neither stream; returns stderr.
fn refused(out: &Output, code: i32, words: &[&str], secret: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    for word in words {
        assert!(stderr.contains(word), "want {word:?} in {stderr}");
    }
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "{secret} printed:\n{stdout}\n{stderr}"
    );
    stderr
}

#[test]
fn a_policy_env_name_that_is_not_a_name_stops_start_up_unechoed() {
    let dir = TempDir::new("secrets-policy");
    let long_name = format!("SECRET{}", "A".repeat(123)); // 129 characters, all legal
    for (field, value) in [
        ("token_env", long_name.as_str()),
        ("token_env", "dal:PastedTokenValue-42"),
        ("pat_env", "PastedPat with spaces"),
    ] {
        let text = if field == "pat_env" {
            format!("[agents.a.livechat]\n{field} = \"{value}\"\naccount_id_env = \"ACC\"\n")
        } else {
            format!("[agents.a.livechat]\n{field} = \"{value}\"\n")
        };
        let policy = dir.join("policy.toml");
        std::fs::write(&policy, text).expect("write policy");
        let policy = policy.to_str().expect("utf-8").to_string();
        let out = run(
            &dir,
            &[],
            &["--sandbox", "--audit", "off", "--policy", &policy, "tools"],
        );
        let secret_part = &value[6..];
        refused(
            &out,
            1,
            &[
                &format!("{policy}:2:"),
                &format!("`{field}` of agent `a`"),
                "environment variable",
            ],
            secret_part,
        );
    }
}

#[test]
fn a_url_with_credentials_is_refused_unechoed() {
    let dir = TempDir::new("secrets-url");
    for (flag, var) in [
        ("--api-url", "LIVECHAT_API_URL"),
        ("--accounts-url", "LIVECHAT_ACCOUNTS_URL"),
    ] {
        for url in [
            "http://ops:Pw-s3cret-42@127.0.0.1:9",
            "https://Pw-s3cret-42@api.example.com/",
            "http://ops:Pw-s3cret-42@127.0.0.1:notaport",
        ] {
            let out = run(
                &dir,
                &[("LIVECHAT_ACCESS_TOKEN", TOKEN)],
                &[flag, url, "--audit", "off", "tools"],
            );
            refused(&out, 2, &[&format!("`{flag}`"), "remove"], "Pw-s3cret-42");
            let out = run(
                &dir,
                &[("LIVECHAT_ACCESS_TOKEN", TOKEN), (var, url)],
                &["--audit", "off", "tools"],
            );
            refused(&out, 2, &[var, "remove"], "Pw-s3cret-42");
        }
    }
}

#[test]
fn a_libpq_audit_string_is_refused_unechoed() {
    let dir = TempDir::new("secrets-audit");
    for value in [
        "host=db password=Pg-s3cret-7",
        "dbname=trail password=Pg-s3cret-7",
        "password=Pg-s3cret-7",
        "user=ops password=Pg-s3cret-7 host=db",
        "mysql://ops:Pg-s3cret-7@db/trail",
    ] {
        for command in [&["call", "list_chats"][..], &["serve"], &["audit"]] {
            let mut args = vec!["--sandbox", "--audit", value];
            args.extend_from_slice(command);
            let out = run(&dir, &[], &args);
            refused(&out, 2, &["`--audit`", "postgres://"], "Pg-s3cret-7");
            let leftovers: Vec<_> = std::fs::read_dir(dir.path())
                .expect("read dir")
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect();
            assert!(
                leftovers.is_empty(),
                "{value}: files were made: {leftovers:?}"
            );
        }
    }
    // A path with `=` and a space in it is still a path.
    let out = run(
        &dir,
        &[],
        &[
            "--sandbox",
            "--audit",
            "my trail=1.db",
            "call",
            "list_chats",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("my trail=1.db").exists());
}

/// `doctor` prints the scopes the accounts service answers: an answer echoing the token is
/// redacted there too.
#[tokio::test]
async fn a_token_echoed_in_the_scopes_answer_is_redacted() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"scope": format!("chats--all:ro,{TOKEN}")})),
        )
        .mount(&mock)
        .await;
    let mut s = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
    s.accounts_url = mock.uri();
    s.credentials = Credentials::from_values(Some(TOKEN), None, None);
    let client = livechat_mcp::client::ApiClient::new(&s);
    let scopes = client.token_scopes().await.expect("scopes");
    let listed: Vec<&str> = scopes.listed().expect("listed").collect();
    assert_eq!(listed, ["[redacted]", "chats--all:ro"]);
}
