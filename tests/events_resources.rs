//! Resources and subscriptions over the event log (issue 13, "Push"), with rmcp's client on a
//! session of the 2025-11-25 protocol: listing and reading with and without grants, bad
//! URIs, `resources/subscribe` telling of the events that touch a chat, unsubscribe, the cap,
//! the watcher ending with its session, and the audit rows all of it leaves.

mod http_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_support::*;
use livechat_mcp::{
    agent::Agent,
    audit::{AuditStore, Decision, Entry, Outcome},
    config::Settings,
    events::{EventLog, LogOptions, NewEvent, notify},
    policy::Policy,
    server::{Catalog, LiveChatServer},
};
use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{
        ErrorCode, ReadResourceRequestParams, ResourceContents, ResourceUpdatedNotificationParam,
        SubscribeRequestParams, UnsubscribeRequestParams,
    },
    service::{NotificationContext, RunningService, ServiceError},
};
use serde_json::{Value, json};

/// The watcher count is one per process: tests that subscribe run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const CHAT: &str = "PJ0MRSHTDG";

/// The `resources/updated` URIs a client received, in order.
#[derive(Clone, Default)]
struct Updates(Arc<Mutex<Vec<String>>>);

impl Updates {
    fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl ClientHandler for Updates {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.0.lock().unwrap().push(params.uri);
    }
}

struct World {
    dir: TempDir,
    log: EventLog,
    audit: AuditStore,
    policy: Policy,
    settings: Settings,
    _sandbox: Option<livechat_mcp::sandbox::SandboxHandle>,
}

impl World {
    /// The sandbox upstream, agents `reader` (chats read) and `blind` (chats off, agents
    /// read).
    async fn new(label: &str) -> World {
        let (sandbox, settings) = sandbox().await;
        World::with(label, settings, Some(sandbox))
    }

    fn with(
        label: &str,
        settings: Settings,
        sandbox: Option<livechat_mcp::sandbox::SandboxHandle>,
    ) -> World {
        let dir = TempDir::new(label);
        let (text, _) = policy(&[
            ("reader", r#"{ chats = "read" }"#),
            ("blind", r#"{ chats = "off", agents = "read" }"#),
        ]);
        let policy = Policy::parse(&text, "policy.toml").expect("policy");
        let audit = AuditStore::open(&dir.join("audit.db")).expect("audit");
        let log = EventLog::open_sqlite(&dir.join("audit.db.events"), LogOptions::default())
            .expect("log");
        World {
            dir,
            log,
            audit,
            policy,
            settings,
            _sandbox: sandbox,
        }
    }

    fn server(&self, name: &str, events: bool) -> LiveChatServer {
        let agent = Agent::from_policy(self.policy.agent(name).expect("agent"), &self.settings)
            .expect("agent");
        let catalog = Arc::new(Catalog::new(self.settings.version).expect("catalog"));
        let server = LiveChatServer::for_agent(catalog, agent, Some(self.audit.clone()));
        if events {
            server.with_events(self.log.clone())
        } else {
            server
        }
    }

    /// A session of `name`'s server, as the HTTP server starts one.
    async fn session(&self, name: &str) -> (RunningService<RoleClient, Updates>, Updates) {
        connect(self.server(name, true).for_session()).await
    }

    async fn say(&self, n: u32, chat: &str) {
        self.log
            .append(NewEvent {
                action: "incoming_event".into(),
                chat_id: Some(chat.into()),
                thread_id: Some("K600PKZON8".into()),
                dedupe: format!("m{n}"),
                earlier: None,
                payload: json!({"payload": {"chat_id": chat, "event": {"type": "message", "text": format!("message {n}")}}}),
            })
            .await
            .expect("append");
    }

    async fn agent_created(&self, n: u32) {
        self.log
            .append(NewEvent {
                action: "agent_created".into(),
                chat_id: None,
                thread_id: None,
                dedupe: format!("a{n}"),
                earlier: None,
                payload: json!({"payload": {"id": format!("agent{n}@example.com")}}),
            })
            .await
            .expect("append");
    }

    async fn rows(&self) -> Vec<Entry> {
        audit_rows(&self.dir.join("audit.db")).await
    }
}

async fn connect(server: LiveChatServer) -> (RunningService<RoleClient, Updates>, Updates) {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let updates = Updates::default();
    let client = updates.clone().serve(client_io).await.expect("client");
    (client, updates)
}

fn code(error: &ServiceError) -> ErrorCode {
    match error {
        ServiceError::McpError(e) => e.code,
        other => panic!("not an MCP error: {other:?}"),
    }
}

fn message(error: &ServiceError) -> String {
    match error {
        ServiceError::McpError(e) => e.message.to_string(),
        other => panic!("not an MCP error: {other:?}"),
    }
}

fn text_of(contents: &[ResourceContents]) -> Value {
    match &contents[0] {
        ResourceContents::TextResourceContents {
            text, mime_type, ..
        } => {
            assert_eq!(mime_type.as_deref(), Some("application/json"));
            serde_json::from_str(text).expect("JSON")
        }
        other => panic!("not text: {other:?}"),
    }
}

async fn read(
    client: &RunningService<RoleClient, Updates>,
    uri: &str,
) -> Result<Value, ServiceError> {
    client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .map(|r| text_of(&r.contents))
}

#[allow(deprecated)]
async fn subscribe(
    client: &RunningService<RoleClient, Updates>,
    uri: &str,
) -> Result<(), ServiceError> {
    client
        .subscribe(SubscribeRequestParams::new(uri))
        .await
        .map(|_| ())
}

#[allow(deprecated)]
async fn unsubscribe(
    client: &RunningService<RoleClient, Updates>,
    uri: &str,
) -> Result<(), ServiceError> {
    client
        .unsubscribe(UnsubscribeRequestParams::new(uri))
        .await
        .map(|_| ())
}

/// Waits for `updates` to hold `n` notifications, at most 5 s.
async fn until_seen(updates: &Updates, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while updates.seen().len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited for {n} notifications, got {:?}",
            updates.seen()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    updates.seen()
}

/// Long enough for a watcher to have told of anything it was going to: a few intervals.
async fn quiet() {
    tokio::time::sleep(notify::MIN_INTERVAL * 4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_are_listed_and_read_through_the_agents_grants() {
    let world = World::new("res-read").await;
    let (reader, _) = world.session("reader").await;
    let (blind, _) = world.session("blind").await;

    let info = reader.peer_info().expect("server info");
    let resources = info.capabilities.resources.clone().expect("resources");
    assert_eq!(resources.subscribe, Some(true));

    let listed = reader.list_resources(None).await.expect("list");
    let uris: Vec<&str> = listed.resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["livechat://events"]);
    let templates = reader
        .list_resource_templates(None)
        .await
        .expect("templates");
    let names: Vec<&str> = templates
        .resource_templates
        .iter()
        .map(|t| t.uri_template.as_str())
        .collect();
    assert_eq!(names, ["livechat://chats/{chat_id}"]);
    // No chats for the agent that may not read them.
    let blind_templates = blind
        .list_resource_templates(None)
        .await
        .expect("templates");
    assert!(blind_templates.resource_templates.is_empty());

    // The chat, as get_chat answers it.
    let chat = read(&reader, &format!("livechat://chats/{CHAT}"))
        .await
        .expect("the chat");
    assert_eq!(chat["id"], CHAT, "{chat}");
    // The agent without chats is refused, and nothing about the chat comes back.
    let refused = read(&blind, &format!("livechat://chats/{CHAT}"))
        .await
        .expect_err("refused");
    assert_eq!(code(&refused), ErrorCode::INVALID_REQUEST);
    assert!(message(&refused).starts_with("not_available:"), "{refused}");
    assert!(!message(&refused).contains("refund"), "{refused}");

    // The events: each agent reads those its grants let it.
    world.say(1, CHAT).await;
    world.agent_created(1).await;
    let mine = read(&reader, "livechat://events").await.expect("events");
    let actions: Vec<&str> = mine["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["incoming_event"], "{mine}");
    let theirs = read(&blind, "livechat://events").await.expect("events");
    let actions: Vec<&str> = theirs["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["agent_created"], "{theirs}");

    // Each read is the call it stands for, in the trail.
    let rows = world.rows().await;
    let read_chat = rows
        .iter()
        .find(|r| r.agent == "reader" && r.tool == "get_chat" && r.completes.is_some())
        .expect("reader's get_chat row");
    assert_eq!(read_chat.outcome, Outcome::Ok, "{}", read_chat.summary);
    let denied = rows
        .iter()
        .find(|r| r.agent == "blind" && r.tool == "get_chat")
        .expect("blind's get_chat row");
    assert_eq!(denied.decision, Decision::Denied);
    assert_eq!(denied.reason.as_deref(), Some("chats is off for blind"));
    let events_rows: Vec<&Entry> = rows.iter().filter(|r| r.tool == "get_events").collect();
    assert_eq!(events_rows.len(), 2, "{rows:#?}");
    assert!(
        events_rows
            .iter()
            .all(|r| r.summary.contains("read help desk events (1 event)")),
        "{events_rows:#?}"
    );
    reader.cancel().await.ok();
    blind.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_events_has_no_resources() {
    let world = World::new("res-none").await;
    let (client, _) = connect(world.server("reader", false)).await;
    let info = client.peer_info().expect("server info");
    assert!(info.capabilities.resources.is_none());
    let error = client.list_resources(None).await.expect_err("no resources");
    assert_eq!(code(&error), ErrorCode::METHOD_NOT_FOUND);
    let error = subscribe(&client, "livechat://events")
        .await
        .expect_err("no subscriptions");
    assert_eq!(code(&error), ErrorCode::METHOD_NOT_FOUND);
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_uris_get_invalid_params_and_nothing_is_sent_upstream() {
    let mock = wiremock::MockServer::start().await;
    let world = World::with("res-bad", upstream(&mock.uri()), None);
    let (client, _) = connect(world.server("reader", true).for_session()).await;
    let huge = format!("livechat://chats/{}", "A".repeat(100_000));
    let bad = [
        "https://example.com/chats/PJ0MRSHTDG",
        "livechat://agents/x",
        "livechat://chats/",
        "livechat://chats/../../etc",
        "livechat://chats/PJ0 MRSHTDG",
        huge.as_str(),
    ];
    for uri in bad {
        let shown = &uri[..uri.len().min(40)];
        let error = read(&client, uri).await.expect_err(shown);
        assert_eq!(code(&error), ErrorCode::INVALID_PARAMS, "{shown}: {error}");
        assert!(message(&error).starts_with("invalid_arguments:"), "{error}");
        assert!(message(&error).len() < 400, "{shown}: short");
        let error = subscribe(&client, uri).await.expect_err(shown);
        assert_eq!(code(&error), ErrorCode::INVALID_PARAMS, "{shown}: {error}");
        let error = unsubscribe(&client, uri).await.expect_err(shown);
        assert_eq!(code(&error), ErrorCode::INVALID_PARAMS, "{shown}: {error}");
    }
    assert!(
        mock.received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "nothing went upstream"
    );
    let rows = world.rows().await;
    let count = |tool: &str| {
        rows.iter()
            .filter(|r| {
                r.tool == tool
                    && r.outcome == Outcome::Error
                    && r.error_type.as_deref() == Some("invalid_arguments")
            })
            .count()
    };
    assert_eq!(count("read_resource"), bad.len(), "{rows:#?}");
    assert_eq!(count("subscribe_resource"), bad.len());
    assert_eq!(count("unsubscribe_resource"), bad.len());
    // The trail never keeps the URI a client made up.
    assert!(rows.iter().all(|r| !r.summary.contains("AAAAAAAA")));
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscribed_chat_is_told_of_its_events_only_until_unsubscribed() {
    let _serial = SERIAL.lock().await;
    let world = World::new("res-sub").await;
    let (client, updates) = world.session("reader").await;
    let uri = format!("livechat://chats/{CHAT}");
    subscribe(&client, &uri).await.expect("subscribe");

    world.say(1, CHAT).await;
    assert_eq!(until_seen(&updates, 1).await, vec![uri.clone()]);
    // Another chat's message tells this subscriber nothing.
    world.say(2, "POTHERCHAT").await;
    quiet().await;
    assert_eq!(updates.seen(), vec![uri.clone()]);
    // Nor does an event of an area it cannot read, nor one with no chat.
    world.agent_created(1).await;
    quiet().await;
    assert_eq!(updates.seen().len(), 1);

    unsubscribe(&client, &uri).await.expect("unsubscribe");
    world.say(3, CHAT).await;
    quiet().await;
    assert_eq!(
        updates.seen(),
        vec![uri.clone()],
        "nothing after unsubscribing"
    );

    let rows = world.rows().await;
    let sub = rows
        .iter()
        .find(|r| r.tool == "subscribe_chat")
        .expect("subscribe row");
    assert_eq!(sub.outcome, Outcome::Ok);
    assert!(
        sub.summary
            .starts_with(&format!("reader subscribed to chat {CHAT} — allowed")),
        "{}",
        sub.summary
    );
    assert_eq!(sub.targets.chat_id.as_deref(), Some(CHAT));
    assert_eq!(sub.area.as_deref(), Some("chats"));
    let unsub = rows
        .iter()
        .find(|r| r.tool == "unsubscribe_chat")
        .expect("unsubscribe row");
    assert!(
        unsub
            .summary
            .starts_with(&format!("reader unsubscribed from chat {CHAT} — allowed")),
        "{}",
        unsub.summary
    );
    // Notifications are not rows.
    assert_eq!(rows.len(), 2, "{rows:#?}");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_without_chats_can_neither_watch_a_chat_nor_hear_of_one() {
    let _serial = SERIAL.lock().await;
    let world = World::new("res-blind").await;
    let (client, updates) = world.session("blind").await;
    let error = subscribe(&client, &format!("livechat://chats/{CHAT}"))
        .await
        .expect_err("refused");
    assert_eq!(code(&error), ErrorCode::INVALID_REQUEST);
    assert!(message(&error).starts_with("not_available:"), "{error}");

    subscribe(&client, "livechat://events")
        .await
        .expect("its own events");
    world.say(1, CHAT).await;
    quiet().await;
    assert!(updates.seen().is_empty(), "{:?}", updates.seen());
    world.agent_created(1).await;
    assert_eq!(until_seen(&updates, 1).await, ["livechat://events"]);

    let rows = world.rows().await;
    let denied = rows
        .iter()
        .find(|r| r.tool == "subscribe_chat")
        .expect("the refused subscribe is recorded");
    assert_eq!(denied.decision, Decision::Denied);
    assert_eq!(denied.reason.as_deref(), Some("chats is off for blind"));
    assert!(
        denied
            .summary
            .starts_with(&format!("blind tried to subscribe to chat {CHAT} — denied")),
        "{}",
        denied.summary
    );
    assert!(
        rows.iter()
            .any(|r| r.tool == "subscribe_events" && r.outcome == Outcome::Ok)
    );
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_watches_at_most_the_cap() {
    let _serial = SERIAL.lock().await;
    let world = World::new("res-cap").await;
    let (client, _) = world.session("reader").await;
    for n in 0..notify::MAX_SUBSCRIPTIONS {
        subscribe(&client, &format!("livechat://chats/C{n}"))
            .await
            .expect("under the cap");
    }
    // Again on one already watched: still fine.
    subscribe(&client, "livechat://chats/C0")
        .await
        .expect("already watched");
    let error = subscribe(&client, "livechat://events")
        .await
        .expect_err("over the cap");
    assert_eq!(code(&error), ErrorCode::INVALID_REQUEST);
    assert!(
        message(&error).starts_with("too_many_subscriptions:"),
        "{error}"
    );
    // Room again after one unsubscribe.
    unsubscribe(&client, "livechat://chats/C1")
        .await
        .expect("unsubscribe");
    subscribe(&client, "livechat://events")
        .await
        .expect("room again");
    let rows = world.rows().await;
    let over: Vec<&Entry> = rows
        .iter()
        .filter(|r| r.error_type.as_deref() == Some("too_many_subscriptions"))
        .collect();
    assert_eq!(over.len(), 1, "{rows:#?}");
    assert_eq!(over[0].tool, "subscribe_events");
    client.cancel().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watcher_is_one_per_session_and_ends_with_it() {
    let _serial = SERIAL.lock().await;
    let world = World::new("res-end").await;
    let before = notify::running();
    let (client, updates) = world.session("reader").await;
    subscribe(&client, "livechat://events").await.expect("sub");
    subscribe(&client, &format!("livechat://chats/{CHAT}"))
        .await
        .expect("sub");
    assert_eq!(notify::running(), before + 1, "one watcher for the session");
    // Both resources are told of a message in the chat, once each.
    world.say(1, CHAT).await;
    let mut seen = until_seen(&updates, 2).await;
    seen.sort();
    assert_eq!(
        seen,
        [
            format!("livechat://chats/{CHAT}"),
            "livechat://events".into()
        ]
    );
    // The session ends without unsubscribing: its watcher ends too.
    client.cancel().await.ok();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while notify::running() > before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher outlived its session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Unsubscribing from the last resource ends a watcher as well.
    let (client, _) = world.session("reader").await;
    subscribe(&client, "livechat://events").await.expect("sub");
    assert_eq!(notify::running(), before + 1);
    unsubscribe(&client, "livechat://events")
        .await
        .expect("unsub");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while notify::running() > before {
        assert!(tokio::time::Instant::now() < deadline, "still watching");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.cancel().await.ok();
}
