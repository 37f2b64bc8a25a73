//! Each AI agent its own LiveChat bot (issue 12): which credentials each agent's requests
//! carry, the bot token's refresh before expiry and its reissue after `authentication`,
//! provisioning's exact requests, and that no secret reaches a result, a log or the trail.
//! The whole flow on the sandbox, through the binary, is at the end.

mod common;

use std::process::Command;
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use common::{TempDir, files_containing, settings};
use livechat_mcp::{
    agent::Agent,
    audit::{AuditStore, QueryFilter},
    bots::{BotDirectory, BotStore, StoredBot, provision},
    config::{Credentials, Secret},
    policy::{Level, Policy},
    sandbox::{Sandbox, SandboxOptions},
    server::{Catalog, LiveChatServer},
    version::ApiVersion,
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, Respond, ResponseTemplate,
    matchers::{method, path},
};

const BOT_SECRET: &str = "alpha-bot-secret-0123456789";
const ORG: &str = "org-1";
const CLIENT: &str = "client-1";

fn auth_of(request: &Request) -> String {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Hands out `tok-1`, `tok-2`, … lasting `lifetime` seconds, and keeps the bodies it got.
struct Issuer {
    issued: AtomicUsize,
    lifetime: u64,
    bodies: Mutex<Vec<Value>>,
}

impl Respond for Issuer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        self.bodies
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&request.body).unwrap_or(Value::Null));
        ResponseTemplate::new(200)
            .set_body_json(json!({"token": format!("tok-{n}"), "expires_in": self.lifetime}))
    }
}

/// Answers agent methods: `authentication` for the bearer tokens in `refused`, else a small
/// result echoing the caller's token (which the server must redact).
struct Agents {
    refused: Vec<&'static str>,
}

impl Respond for Agents {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = auth_of(request);
        let token = auth.strip_prefix("Bearer ").unwrap_or_default();
        if self.refused.contains(&token) {
            return ResponseTemplate::new(401).set_body_json(json!({
                "error": {"type": "authentication", "message": "Invalid access token"}
            }));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "chats_summary": [], "found_chats": 0, "previous_page_id": null,
            "next_page_id": null, "event_id": "e1", "seen_by": format!("you, {auth}")
        }))
    }
}

/// A bot file with `agent`'s bot beside the audit key of a fresh trail in `dir`, and the
/// directory that opens it.
async fn bots_on_file(dir: &TempDir, agent: &str) -> (Arc<BotDirectory>, AuditStore) {
    let audit = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let key_path = audit.key_path().to_path_buf();
    let mut file = BotStore::beside_key(&key_path).expect("store");
    file.put(StoredBot {
        agent: agent.to_string(),
        bot_id: "b0a1c2d3e4f5".to_string(),
        secret: Secret::new(BOT_SECRET),
        client_id: CLIENT.to_string(),
        since: "2026-12-03T12:00:00Z".to_string(),
    })
    .expect("put");
    let directory = BotDirectory::open(&key_path, None, None).expect("directory");
    (Arc::new(directory), audit)
}

const POLICY: &str = r#"
[agents.alpha]
access = { chats = "full", events = "full" }
[agents.alpha.livechat]
identity = "bot"

[agents.beta]
access = { chats = "full" }
[agents.beta.livechat]
pat_env = "BOTS_TEST_BETA_PAT"
account_id_env = "BOTS_TEST_BETA_ACCOUNT"
"#;

async fn rig(
    mock: &MockServer,
    lifetime: u64,
    refused: Vec<&'static str>,
) -> (
    Arc<Issuer>,
    TempDir,
    Policy,
    livechat_mcp::config::Settings,
    AuditStore,
) {
    let issuer = Arc::new(Issuer {
        issued: AtomicUsize::new(0),
        lifetime,
        bodies: Mutex::new(Vec::new()),
    });
    Mock::given(method("GET"))
        .and(path("/v2/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"organization_id": ORG, "scope": "chats--all:rw,agents-bot--my:rw"}),
        ))
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3.6/configuration/action/issue_bot_token"))
        .respond_with(ArcResponder(issuer.clone()))
        .mount(mock)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex("^/v3.6/agent/action/"))
        .respond_with(Agents { refused })
        .mount(mock)
        .await;
    let dir = TempDir::new("bots");
    let (bots, audit) = bots_on_file(&dir, "alpha").await;
    let mut settings = settings(&mock.uri(), ApiVersion::V3_6, Level::Full);
    settings.accounts_url = mock.uri();
    settings.credentials = Credentials::from_values(Some("server-token-xyz"), None, None);
    settings.bots = Some(bots);
    let policy = Policy::parse(POLICY, "policy.toml").expect("policy");
    (issuer, dir, policy, settings, audit)
}

struct ArcResponder(Arc<Issuer>);

impl Respond for ArcResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

fn server_for(
    policy: &Policy,
    name: &str,
    settings: &livechat_mcp::config::Settings,
    audit: &AuditStore,
) -> LiveChatServer {
    let agent = Agent::from_policy(policy.agent(name).expect("agent"), settings).expect("agent");
    let catalog = Arc::new(Catalog::new(ApiVersion::V3_6).expect("catalog"));
    LiveChatServer::for_agent(catalog, agent, Some(audit.clone()))
}

async fn call(server: &LiveChatServer, tool: &str, args: Value) -> (bool, String) {
    let Value::Object(args) = args else {
        panic!("object")
    };
    let outcome = server.call(tool, Some(args)).await;
    let text = outcome
        .result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (outcome.result.is_error == Some(true), text)
}

/// The `Authorization` header of each request to an agent method, in order.
async fn agent_auths(mock: &MockServer) -> Vec<String> {
    mock.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().starts_with("/v3.6/agent/"))
        .map(auth_of)
        .collect()
}

#[tokio::test]
async fn each_agent_calls_with_its_own_identity_only() {
    let mock = MockServer::start().await;
    let (issuer, _dir, policy, settings, audit) = rig(&mock, 86400, vec![]).await;
    // SAFETY: this test binary's only use of these variables.
    unsafe {
        std::env::set_var("BOTS_TEST_BETA_PAT", "beta-pat-secret-777");
        std::env::set_var("BOTS_TEST_BETA_ACCOUNT", "beta-account");
    }
    let alpha = server_for(&policy, "alpha", &settings, &audit);
    let beta = server_for(&policy, "beta", &settings, &audit);
    // `/healthz` asks each agent's client for a credentials problem: a bot has none.
    let alpha_agent = Agent::from_policy(policy.agent("alpha").unwrap(), &settings).unwrap();
    assert_eq!(alpha_agent.client.credentials_problem(), None);
    let (error, whoami) = call(&alpha, "whoami", json!({})).await;
    assert!(!error, "{whoami}");
    let whoami: Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(whoami["livechat_identity"], "bot b0a1…");
    for _ in 0..2 {
        let (error, text) = call(&alpha, "list_chats", json!({})).await;
        assert!(!error, "{text}");
        // The token echoed back is redacted.
        assert!(!text.contains("tok-1"), "{text}");
    }
    let (error, text) = call(&beta, "list_chats", json!({})).await;
    assert!(!error, "{text}");
    assert!(!text.contains("beta-pat-secret-777"), "{text}");
    let basic = format!(
        "Basic {}",
        base64_encode("beta-account:beta-pat-secret-777")
    );
    assert_eq!(
        agent_auths(&mock).await,
        vec![
            "Bearer tok-1".to_string(),
            "Bearer tok-1".to_string(),
            basic
        ]
    );
    // One token for both of alpha's calls, issued for its bot in the organization the
    // accounts service named, for the client it was made for.
    assert_eq!(issuer.issued.load(Ordering::SeqCst), 1);
    assert_eq!(
        issuer.bodies.lock().unwrap()[0],
        json!({"bot_id": "b0a1c2d3e4f5", "bot_secret": BOT_SECRET, "organization_id": ORG, "client_id": CLIENT})
    );
    // Nothing ever went to LiveChat's agent methods with the server's token.
    assert!(
        !agent_auths(&mock)
            .await
            .iter()
            .any(|a| a.contains("server-token")),
        "no agent call used the server's token"
    );
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires_and_reissued_once_after_authentication() {
    let mock = MockServer::start().await;
    // Tokens last 4 s, so each is replaced after 3 s (a quarter of its life ahead). tok-2 is
    // refused by LiveChat; tok-4 and tok-5 too, so a call meeting them gives up after one
    // reissue.
    let (issuer, _dir, policy, settings, audit) =
        rig(&mock, 4, vec!["tok-2", "tok-4", "tok-5"]).await;
    let alpha = server_for(&policy, "alpha", &settings, &audit);
    let (error, text) = call(&alpha, "list_chats", json!({})).await;
    assert!(!error, "{text}");
    tokio::time::sleep(Duration::from_millis(3300)).await;
    // Refreshed ahead of expiry (tok-2), refused, reissued (tok-3): a write, sent again
    // because LiveChat refused it before doing anything.
    let (error, text) = call(
        &alpha,
        "send_event",
        json!({"chat_id": "C1", "event": {"type": "message", "text": "hi"}}),
    )
    .await;
    assert!(!error, "{text}");
    assert_eq!(
        agent_auths(&mock).await,
        vec!["Bearer tok-1", "Bearer tok-2", "Bearer tok-3"]
    );
    assert_eq!(issuer.issued.load(Ordering::SeqCst), 3);
    // A reissued token refused again is not reissued a second time.
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let (error, text) = call(&alpha, "list_chats", json!({})).await;
    assert!(error, "{text}");
    assert!(text.starts_with("authentication"), "{text}");
    assert_eq!(issuer.issued.load(Ordering::SeqCst), 5);
    assert_eq!(agent_auths(&mock).await.len(), 5);
}

#[tokio::test]
async fn a_refused_token_request_says_why_without_the_secret() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"organization_id": ORG})))
        .mount(&mock)
        .await;
    // An upstream that echoes the secret it was sent.
    Mock::given(method("POST"))
        .and(path("/v3.6/configuration/action/issue_bot_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"type": "validation", "message": format!("bot_secret {BOT_SECRET} is wrong")}
        })))
        .mount(&mock)
        .await;
    let dir = TempDir::new("bots-refused");
    let (bots, audit) = bots_on_file(&dir, "alpha").await;
    let mut settings = settings(&mock.uri(), ApiVersion::V3_6, Level::Full);
    settings.accounts_url = mock.uri();
    settings.bots = Some(bots);
    let policy = Policy::parse(POLICY, "policy.toml").expect("policy");
    let alpha = server_for(&policy, "alpha", &settings, &audit);
    let (error, text) = call(
        &alpha,
        "send_event",
        json!({"chat_id": "C1", "event": {"type": "message", "text": "hi"}}),
    )
    .await;
    assert!(error);
    assert!(text.contains("would not issue its token"), "{text}");
    assert!(!text.contains(BOT_SECRET), "{text}");
    // Not sent, so not unknown: the trail says it failed, and holds no secret.
    let rows = audit.query(&QueryFilter::default()).await.expect("rows");
    let dump =
        serde_json::to_string(&rows.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>()).unwrap();
    assert!(!dump.contains(BOT_SECRET));
    assert!(
        rows.iter()
            .any(|r| r.error_type.as_deref() == Some("no_credentials")),
        "{dump}"
    );
    assert!(
        agent_auths(&mock).await.is_empty(),
        "nothing is sent without the bot's token"
    );
    assert!(files_containing(dir.path(), BOT_SECRET).is_empty());
}

#[tokio::test]
async fn provisioning_sends_exactly_these_requests_and_a_second_run_makes_nothing() {
    let mock = MockServer::start().await;
    let dir = TempDir::new("bots-provision");
    let audit = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let key_path = audit.key_path().to_path_buf();
    let mut file = BotStore::beside_key(&key_path).expect("store");
    let policy = Policy::parse(
        "[agents.alpha]\naccess = { chats = \"full\" }\n[agents.alpha.livechat]\nidentity = \"bot\"\ngroups = [0, 2]\n\n\
         [agents.beta]\naccess = { chats = \"read\" }\n",
        "policy.toml",
    )
    .expect("policy");
    Mock::given(method("POST"))
        .and(path("/v3.6/configuration/action/list_bots"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3.6/configuration/action/create_bot"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "new-bot-1", "secret": "fresh-secret-9876543210"})),
        )
        .mount(&mock)
        .await;
    let settings = settings(&mock.uri(), ApiVersion::V3_6, Level::Full);
    let server = LiveChatServer::for_operator(
        provision::PROVISIONER,
        livechat_mcp::tools::Area::Agents,
        &settings,
        Some(audit.clone()),
    )
    .expect("server");
    let issuer = livechat_mcp::client::ApiClient::new(&settings);
    let actions = provision::plan(&policy, &file, &server)
        .await
        .expect("plan");
    assert_eq!(
        actions,
        vec![provision::Action::Create {
            agent: "alpha".into(),
            groups: vec![0, 2]
        }]
    );
    let lines = provision::apply(&actions, &mut file, &server, &issuer, Some(&audit), CLIENT)
        .await
        .expect("apply");
    assert_eq!(lines, vec!["alpha: created a bot in groups 0, 2"]);
    let requests = mock.received_requests().await.unwrap();
    let bodies: Vec<(String, Value)> = requests
        .iter()
        .map(|r| {
            (
                r.url.path().to_string(),
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        bodies,
        vec![
            (
                "/v3.6/configuration/action/list_bots".to_string(),
                json!({})
            ),
            (
                "/v3.6/configuration/action/create_bot".to_string(),
                json!({"name": "alpha", "owner_client_id": CLIENT,
                       "groups": [{"id": 0, "priority": "normal"}, {"id": 2, "priority": "normal"}]})
            ),
        ]
    );
    let kept = file.get("alpha").expect("recorded");
    assert_eq!(
        (kept.bot_id.as_str(), kept.secret.expose()),
        ("new-bot-1", "fresh-secret-9876543210")
    );
    // The secret is in no file as such (the bot file seals it) and in no audit row.
    assert!(files_containing(dir.path(), "fresh-secret-9876543210").is_empty());
    let rows = audit.query(&QueryFilter::default()).await.expect("rows");
    assert!(
        rows.iter()
            .any(|r| r.agent == provision::PROVISIONER && r.tool == "create_bot")
    );
    // Second run: LiveChat lists the bot, the file has it: nothing to do, nothing created.
    Mock::given(method("POST"))
        .and(path("/v3.6/configuration/action/list_bots"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"id": "new-bot-1", "name": "alpha"}])),
        )
        .mount(&mock)
        .await;
    let file = BotStore::beside_key(&key_path).expect("reopen");
    let again = provision::plan(&policy, &file, &server)
        .await
        .expect("plan");
    assert_eq!(
        again,
        vec![provision::Action::Keep {
            agent: "alpha".into(),
            bot_id: "new-bot-1".into()
        }]
    );
    let creates = mock
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/create_bot"))
        .count();
    assert_eq!(creates, 1);
}

// ----- the whole flow on the sandbox, through the binary -----

const THREE_BOTS: &str = r#"
[agents.alpha]
access = { chats = "full", events = "full" }
[agents.alpha.livechat]
identity = "bot"

[agents.beta]
access = { chats = "full", events = "full" }
[agents.beta.livechat]
identity = "bot"
groups = [0, 1]

[agents.gamma]
access = { chats = "read" }
[agents.gamma.livechat]
identity = "bot"
"#;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn three_agents_act_as_three_bots_on_the_sandbox() {
    let sandbox = Sandbox::new(SandboxOptions::default())
        .expect("sandbox")
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .expect("spawn");
    let url = sandbox.url.clone();
    let dir = TempDir::new("bots-sandbox");
    std::fs::write(dir.join("policy.toml"), THREE_BOTS).unwrap();
    let run = |args: Vec<&'static str>| {
        let dir_path = dir.path().to_path_buf();
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || livechat_mcp_in(&dir_path, &url, &args))
                .await
                .unwrap()
        }
    };

    let dry = run(vec!["bots", "provision", "--dry-run"]).await;
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    assert_eq!(
        dry.stdout,
        "alpha: would create a bot in group 0\nbeta: would create a bot in groups 0, 1\n\
         gamma: would create a bot in group 0\ndry run: nothing was created or changed\n"
    );
    let listed = run(vec!["bots", "list"]).await;
    assert!(listed.stdout.contains("none yet"), "{}", listed.stdout);

    let made = run(vec!["bots", "provision"]).await;
    assert_eq!(made.code, Some(0), "{}", made.stderr);
    assert_eq!(
        made.stdout.matches(": created a bot").count(),
        3,
        "{}",
        made.stdout
    );
    let again = run(vec!["bots", "provision"]).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(
        again.stdout.matches("nothing done").count(),
        3,
        "{}",
        again.stdout
    );

    // Each agent's message is authored by its own bot.
    let mut bot_ids = Vec::new();
    for agent in ["alpha", "beta"] {
        let who = run(vec!["--agent", leak(agent), "call", "whoami", "{}"]).await;
        assert_eq!(who.code, Some(0), "{}", who.stderr);
        let who: Value = serde_json::from_str(&who.stdout).expect("json");
        assert!(
            who["livechat_identity"]
                .as_str()
                .unwrap()
                .starts_with("bot "),
            "{who}"
        );
        let started = run(vec![
            "--agent",
            leak(agent),
            "call",
            "start_chat",
            leak(&format!(
                r#"{{"chat": {{"users": [{{"id": "b7eff798-f8df-4364-8059-649c35c9ed0c", "type": "customer"}}], "thread": {{"events": [{{"type": "message", "text": "Hello from {agent}", "visibility": "all"}}]}}}}}}"#
            )),
        ])
        .await;
        assert_eq!(
            started.code,
            Some(0),
            "{}{}",
            started.stdout,
            started.stderr
        );
        let chat: Value = serde_json::from_str(&started.stdout).expect("json");
        let chat_id = chat["chat_id"].as_str().expect("chat id").to_string();
        let got = run(vec![
            "--agent",
            "gamma",
            "call",
            "get_chat",
            leak(&format!(r#"{{"chat_id": "{chat_id}"}}"#)),
        ])
        .await;
        let got: Value = serde_json::from_str(&got.stdout).expect("json");
        let author = got["thread"]["events"]
            .as_array()
            .and_then(|events| events.iter().find(|e| e["type"] == "message"))
            .and_then(|e| e["author_id"].as_str())
            .expect("a message")
            .to_string();
        bot_ids.push(author);
    }
    assert_ne!(bot_ids[0], bot_ids[1], "two bots, not one identity");
    let listed = run(vec!["bots", "list"]).await;
    for id in &bot_ids {
        assert!(listed.stdout.contains(id.as_str()), "{}", listed.stdout);
    }

    // Rotation: a new secret, and the agent still acts (a fresh process issues a new token).
    let rotated = run(vec!["bots", "rotate", "alpha"]).await;
    assert_eq!(rotated.code, Some(0), "{}", rotated.stderr);
    let listed_chats = run(vec!["--agent", "alpha", "call", "list_chats", "{}"]).await;
    assert_eq!(listed_chats.code, Some(0), "{}", listed_chats.stderr);
    // A bot token carries only the bot scopes: gamma is not offered the agents area's tools
    // however its policy reads, and `doctor` says who it is.
    let doctor = run(vec!["--agent", "gamma", "doctor"]).await;
    assert!(
        doctor.stdout.contains("LiveChat identity: bot "),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor
            .stdout
            .contains("token scopes: agents-bot--my:rw, chats--access:rw, customers:rw\n"),
        "{}",
        doctor.stdout
    );
    // The trail names the identity of each call: each agent's own bot (as `whoami` says it),
    // and the server's token for what `bots provision` and `bots rotate` sent.
    let trail = run(vec!["audit", "--json"]).await;
    assert_eq!(trail.code, Some(0), "{}", trail.stderr);
    let rows: Vec<Value> = trail
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let identity_of = |agent: &str, tool: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r["agent"] == agent && r["tool"] == tool)
            .map(|r| r["identity"].as_str().unwrap_or("(none)").to_string())
            .collect()
    };
    for (agent, id) in ["alpha", "beta"].iter().zip(&bot_ids) {
        let label = format!("bot {}…", &id[..4]);
        assert_eq!(
            identity_of(agent, "start_chat"),
            std::slice::from_ref(&label),
            "{agent}"
        );
        let sentence = rows
            .iter()
            .find(|r| r["agent"] == *agent && r["tool"] == "start_chat")
            .and_then(|r| r["summary"].as_str())
            .expect("a sentence");
        assert!(sentence.ends_with(&format!(" (as {label})")), "{sentence}");
    }
    assert_eq!(identity_of("bots-provision", "create_bot").len(), 3);
    for tool in ["create_bot", "reset_bot_secret"] {
        let identities = identity_of("bots-provision", tool);
        assert!(
            !identities.is_empty() && identities.iter().all(|i| i == "server token"),
            "{tool}: {identities:?}"
        );
    }
    let verified = run(vec!["audit", "verify"]).await;
    assert_eq!(verified.code, Some(0), "{}", verified.stderr);

    let outputs = [&rotated, &listed_chats, &doctor, &made, &again]
        .iter()
        .map(|r| format!("{}{}", r.stdout, r.stderr))
        .collect::<String>();

    // No bot secret is anywhere but sealed in the bot file.
    let key_path = dir.join("audit.db.key");
    let file = BotStore::beside_key(&key_path).expect("bots");
    for bot in file.all() {
        assert!(files_containing(dir.path(), bot.secret.expose()).is_empty());
        assert!(!outputs.contains(bot.secret.expose()), "{outputs}");
    }
    assert_eq!(file.all().count(), 3);
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_string().into_boxed_str())
}

fn livechat_mcp_in(dir: &std::path::Path, url: &str, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("LIVECHAT_API_URL", url)
        .env("LIVECHAT_ACCOUNTS_URL", url)
        .env("LIVECHAT_ACCESS_TOKEN", "sandbox-owner-token")
        .env("LIVECHAT_CLIENT_ID", "sandbox-client")
        .arg("--policy")
        .arg(dir.join("policy.toml"))
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

/// A run stopped (`kill -9`) after `create_bot` but before the bot file was written leaves a
/// bot LiveChat has and the file lacks: the next run gives that bot a new secret rather than
/// making a second one, and records the reset in the audit trail.
#[tokio::test]
async fn a_bot_made_but_not_recorded_is_adopted_not_made_twice() {
    let mock = MockServer::start().await;
    let dir = TempDir::new("bots-adopt");
    let audit = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let key_path = audit.key_path().to_path_buf();
    let mut file = BotStore::beside_key(&key_path).expect("store");
    let policy = Policy::parse(
        "[agents.alpha.livechat]\nidentity = \"bot\"\n",
        "policy.toml",
    )
    .expect("policy");
    Mock::given(method("POST"))
        .and(path("/v3.6/configuration/action/list_bots"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!([{"id": "orphan-bot", "name": "alpha"}, {"id": "other", "name": "Helper"}]),
        ))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3.6/configuration/action/reset_bot_secret"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"secret": "reset-secret-55555555"})),
        )
        .mount(&mock)
        .await;
    let settings = settings(&mock.uri(), ApiVersion::V3_6, Level::Full);
    let server = LiveChatServer::for_operator(
        provision::PROVISIONER,
        livechat_mcp::tools::Area::Agents,
        &settings,
        Some(audit.clone()),
    )
    .expect("server");
    let issuer = livechat_mcp::client::ApiClient::new(&settings);
    let actions = provision::plan(&policy, &file, &server)
        .await
        .expect("plan");
    assert_eq!(
        actions,
        vec![provision::Action::Adopt {
            agent: "alpha".into(),
            bot_id: "orphan-bot".into()
        }]
    );
    provision::apply(&actions, &mut file, &server, &issuer, Some(&audit), CLIENT)
        .await
        .expect("apply");
    assert_eq!(
        file.get("alpha").expect("kept").secret.expose(),
        "reset-secret-55555555"
    );
    let sent: Vec<(String, Value)> = mock
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.url.path().to_string(),
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        sent[1],
        (
            "/v3.6/configuration/action/reset_bot_secret".to_string(),
            json!({"id": "orphan-bot", "owner_client_id": CLIENT})
        )
    );
    assert!(sent.iter().all(|(p, _)| !p.ends_with("/create_bot")));
    let rows = audit.query(&QueryFilter::default()).await.expect("rows");
    assert!(
        rows.iter()
            .any(|r| r.tool == "reset_bot_secret" && r.agent == provision::PROVISIONER),
        "the reset is in the trail"
    );
    assert!(files_containing(dir.path(), "reset-secret-55555555").is_empty());
}
