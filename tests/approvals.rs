//! Calls held for a person's approval, in process against a LiveChat stand-in that records
//! what it receives, with the requests and the trail in a real SQLite file (and a real
//! PostgreSQL for two replicas):
//!
//! - held, approved by a supervisor, sent once; identical again: held anew; other arguments:
//!   a request of their own; nothing reaches the stand-in while held;
//! - a denial is told to the agent once, with its reason;
//! - expiry, on a clock the test moves;
//! - `approvers = ["client"]` with a client that cannot be asked: refused, nothing stored;
//! - drafts: `send_event` reaches LiveChat as an internal note;
//! - two servers on one PostgreSQL: approved through one, sent by the other, used once;
//! - the `approvals` CLI and `call` on the built binary and its sandbox.
//!
//! The client paths (elicitation and `input_required`) are driven by the Python MCP client in
//! `tests/e2e_python.rs`.

mod common;
#[path = "common/postgres.rs"]
mod postgres;

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use common::{Echo, TempDir};
use livechat_mcp::{
    agent::Agent,
    approvals::{ApprovalError, Approvals, State},
    audit::{AuditStore, Entry, Outcome, QueryFilter},
    error::FailureKind,
    policy::{Level, Policy},
    server::{Catalog, LiveChatServer},
    version::ApiVersion,
};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, matchers::any};

const VERSION: ApiVersion = ApiVersion::V3_6;

const POLICY: &str = r#"
[agents.ops]
access = { "*" = "full" }
approve = ["send_event", "customers"]
"#;

fn message(text: &str) -> Value {
    json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": text, "visibility": "all"}})
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("an object"),
    }
}

async fn stand_in() -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(any()).respond_with(Echo).mount(&mock).await;
    mock
}

async fn sent(mock: &MockServer) -> Vec<Value> {
    mock.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// A server for agent `name` of `policy`, on `mock`, with the trail and the requests in
/// `location`, judged by `clock` when given.
async fn server(
    policy: &str,
    name: &str,
    mock: &MockServer,
    location: &str,
    clock: Option<&Arc<AtomicI64>>,
) -> (LiveChatServer, AuditStore, Approvals) {
    let settings = common::settings(&mock.uri(), VERSION, Level::Read);
    let policy = Policy::parse(policy, "policy.toml").unwrap_or_else(|e| panic!("{e}"));
    let agent = Agent::from_policy(policy.agent(name).expect("agent"), &settings).expect("agent");
    let audit = AuditStore::open_location(location).await.expect("trail");
    let mut approvals = Approvals::open(location).await.expect("approvals");
    if let Some(clock) = clock {
        let clock = clock.clone();
        approvals = approvals.with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    }
    let catalog = Arc::new(Catalog::new(VERSION).expect("catalog"));
    let server = LiveChatServer::for_agent(catalog, agent, Some(audit.clone()))
        .with_approvals(approvals.clone());
    (server, audit, approvals)
}

/// Calls `tool`: (failure kind, text).
async fn call(server: &LiveChatServer, tool: &str, args: Value) -> (Option<FailureKind>, String) {
    let outcome = server.call(tool, Some(object(args))).await;
    let text = outcome
        .result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (outcome.failure_kind, text)
}

/// The request id a `pending_approval` text names.
fn request_id(text: &str) -> String {
    let at = text
        .find("APR-")
        .unwrap_or_else(|| panic!("no request id in {text}"));
    text[at..at + 14].to_string()
}

async fn rows(audit: &AuditStore) -> Vec<Entry> {
    let mut all = audit.query(&QueryFilter::default()).await.expect("query");
    all.reverse();
    all
}

#[tokio::test]
async fn a_held_call_waits_for_a_supervisor_and_goes_out_once() {
    let dir = TempDir::new("approvals-once");
    let location = dir.join("audit.db").display().to_string();
    let mock = stand_in().await;
    let (server, audit, approvals) = server(POLICY, "ops", &mock, &location, None).await;

    let (kind, text) = call(&server, "send_event", message("refund sent")).await;
    assert_eq!(kind, Some(FailureKind::PendingApproval), "{text}");
    assert!(
        text.starts_with("pending_approval: request APR-")
            && text.contains(
                "call again with the same arguments once it is approved (expires in 15 min)"
            ),
        "{text}"
    );
    let first = request_id(&text);
    // Asked again before anyone decided: the same request, still nothing sent.
    let (_, again) = call(&server, "send_event", message("refund sent")).await;
    assert_eq!(request_id(&again), first);
    assert!(
        sent(&mock).await.is_empty(),
        "nothing reaches LiveChat while held"
    );

    let request = approvals.get(&first).await.expect("read").expect("stored");
    assert_eq!(
        (request.agent.as_str(), request.tool.as_str()),
        ("ops", "send_event")
    );
    assert_eq!(request.state, State::Pending);
    assert_eq!(request.would, "send a message to chat PJ0MRSHTDG");
    assert_eq!(request.arguments["event"]["text"], "refund sent");

    let approved = approvals
        .decide_recorded(
            &audit,
            &first,
            true,
            "console:alice",
            Some("checked the order"),
        )
        .await
        .expect("approve");
    assert_eq!(approved.outcome, Outcome::Approved);
    // Deciding twice is refused.
    assert_eq!(
        approvals.decide(&first, false, "console:bob", None).await,
        Err(ApprovalError::NotPending {
            id: first.clone(),
            state: State::Approved
        })
    );

    // The identical call, its keys in another order: sent once.
    let reordered = json!({"event": {"visibility": "all", "text": "refund sent", "type": "message"}, "chat_id": "PJ0MRSHTDG"});
    let (kind, text) = call(&server, "send_event", reordered).await;
    assert_eq!(kind, None, "{text}");
    assert_eq!(sent(&mock).await.len(), 1);
    let used = approvals.get(&first).await.expect("read").expect("stored");
    assert_eq!(used.state, State::Used);

    // A third identical call needs a new approval; other arguments are a request of their own.
    let (kind, text) = call(&server, "send_event", message("refund sent")).await;
    assert_eq!(kind, Some(FailureKind::PendingApproval));
    let third = request_id(&text);
    assert_ne!(third, first);
    let (_, text) = call(&server, "send_event", message("refund sent twice")).await;
    let other = request_id(&text);
    assert!(other != first && other != third);
    assert_eq!(sent(&mock).await.len(), 1, "held calls send nothing");

    // Reads in a held area are not held; its writes are.
    let (kind, text) = call(
        &server,
        "get_customer",
        json!({"id": "b7eff798-f8df-4364-8059-649c35c9ed0c"}),
    )
    .await;
    assert_eq!(kind, None, "{text}");
    let (kind, _) = call(
        &server,
        "ban_customer",
        json!({"id": "b7eff798-f8df-4364-8059-649c35c9ed0c", "ban": {"days": 3}}),
    )
    .await;
    assert_eq!(kind, Some(FailureKind::PendingApproval));
    assert_eq!(sent(&mock).await.len(), 2);

    let summaries: Vec<String> = rows(&audit).await.into_iter().map(|e| e.summary).collect();
    let expect = [
        format!(
            "ops asked to send a message to chat PJ0MRSHTDG — held for a person's approval ({first})"
        ),
        format!(
            "ops's request to send a message to chat PJ0MRSHTDG — approved by console:alice: checked the order ({first})"
        ),
        "ops sent a message to chat PJ0MRSHTDG — allowed, done in".to_string(),
    ];
    for want in &expect {
        assert!(
            summaries.iter().any(|s| s.starts_with(want.as_str())),
            "no `{want}` in {summaries:#?}"
        );
    }
    let sent_row = rows(&audit)
        .await
        .into_iter()
        .find(|e| e.outcome == Outcome::Ok && e.tool == "send_event")
        .expect("the sent call");
    assert_eq!(sent_row.targets.approval.as_deref(), Some(first.as_str()));
    assert!(
        sent_row.summary.contains(&format!("approved in {first}")),
        "{}",
        sent_row.summary
    );
    assert_eq!(audit.verify(None).await.map(|n| n > 0), Ok(true));
}

#[tokio::test]
async fn a_denial_is_told_once_with_its_reason_and_nothing_is_sent() {
    let dir = TempDir::new("approvals-deny");
    let location = dir.join("audit.db").display().to_string();
    let mock = stand_in().await;
    let (server, audit, approvals) = server(POLICY, "ops", &mock, &location, None).await;
    let (_, text) = call(&server, "send_event", message("we ban you")).await;
    let id = request_id(&text);
    approvals
        .decide_recorded(
            &audit,
            &id,
            false,
            "console:alice",
            Some("too\u{202E} harsh\n"),
        )
        .await
        .expect("deny");
    let (kind, text) = call(&server, "send_event", message("we ban you")).await;
    assert_eq!(kind, Some(FailureKind::ApprovalDenied), "{text}");
    assert!(
        text.contains(&format!(
            "request {id} was denied by console:alice: too harsh"
        )),
        "{text}"
    );
    // Told once: the next identical call asks anew.
    let (kind, text) = call(&server, "send_event", message("we ban you")).await;
    assert_eq!(kind, Some(FailureKind::PendingApproval), "{text}");
    assert_ne!(request_id(&text), id);
    assert!(sent(&mock).await.is_empty());
    let denial = rows(&audit)
        .await
        .into_iter()
        .find(|e| {
            e.outcome == Outcome::Denied && e.targets.approval.as_deref() == Some(id.as_str())
        })
        .expect("the denial's row");
    assert_eq!(
        denial.summary,
        format!(
            "ops's request to send a message to chat PJ0MRSHTDG — denied by console:alice: too harsh ({id})"
        )
    );
}

#[tokio::test]
async fn requests_and_approvals_expire_on_the_clock() {
    let dir = TempDir::new("approvals-expiry");
    let location = dir.join("audit.db").display().to_string();
    let mock = stand_in().await;
    let clock = Arc::new(AtomicI64::new(1_800_000_000_000));
    let (server, audit, approvals) = server(POLICY, "ops", &mock, &location, Some(&clock)).await;
    let ttl = 900_000;

    let (_, text) = call(&server, "send_event", message("late")).await;
    let first = request_id(&text);
    clock.fetch_add(ttl - 1, Ordering::SeqCst);
    let (_, text) = call(&server, "send_event", message("late")).await;
    assert_eq!(
        request_id(&text),
        first,
        "one millisecond before its time it still waits"
    );
    assert!(text.contains("expires in 1 s"), "{text}");
    clock.fetch_add(1, Ordering::SeqCst);
    // At its time it lapses: too late to approve, and the call asks anew.
    assert_eq!(
        approvals.decide(&first, true, "console:alice", None).await,
        Err(ApprovalError::NotPending {
            id: first.clone(),
            state: State::Expired
        })
    );
    let (_, text) = call(&server, "send_event", message("late")).await;
    let second = request_id(&text);
    assert_ne!(second, first);
    assert_eq!(
        approvals.get(&first).await.expect("read").map(|r| r.state),
        Some(State::Expired)
    );

    // An approval not used within its time lapses too.
    approvals
        .decide(&second, true, "console:alice", None)
        .await
        .expect("approve");
    clock.fetch_add(ttl, Ordering::SeqCst);
    let (kind, text) = call(&server, "send_event", message("late")).await;
    assert_eq!(kind, Some(FailureKind::PendingApproval), "{text}");
    assert_ne!(request_id(&text), second);
    assert!(sent(&mock).await.is_empty());

    let expired: Vec<String> = rows(&audit)
        .await
        .into_iter()
        .filter(|e| e.outcome == Outcome::Expired)
        .map(|e| e.summary)
        .collect();
    assert_eq!(expired.len(), 2, "one row per lapse: {expired:#?}");
    assert!(expired[0].ends_with(&format!("({first})")), "{expired:?}");
    assert!(expired[0].starts_with("ops's request to send a message to chat PJ0MRSHTDG — expired"));
}

#[tokio::test]
async fn a_client_only_approval_without_a_client_that_can_be_asked_is_refused() {
    let dir = TempDir::new("approvals-client-only");
    let location = dir.join("audit.db").display().to_string();
    let mock = stand_in().await;
    let policy = r#"
[agents.ops]
access = { events = "full", chats = "read" }
approve = ["events"]
approvers = ["client"]
"#;
    let (server, audit, approvals) = server(policy, "ops", &mock, &location, None).await;
    let (kind, text) = call(&server, "send_event", message("hi")).await;
    assert_eq!(kind, Some(FailureKind::ApprovalDenied), "{text}");
    assert!(text.contains("it declared no elicitation"), "{text}");
    assert!(sent(&mock).await.is_empty());
    // A request waits only where someone could answer it: none was made.
    let waiting = approvals.list(None, 10).await.expect("list");
    assert!(waiting.is_empty(), "{waiting:?}");
    let row = rows(&audit).await.pop().expect("a row");
    assert_eq!(row.outcome, Outcome::Denied);
    assert!(
        row.summary.contains("denied: needs approval"),
        "{}",
        row.summary
    );
}

#[tokio::test]
async fn a_drafting_agent_sends_internal_notes() {
    let dir = TempDir::new("approvals-draft");
    let location = dir.join("audit.db").display().to_string();
    let mock = stand_in().await;
    let policy = r#"
[agents.ops]
access = { events = "full" }
draft = true
"#;
    let (server, audit, _) = server(policy, "ops", &mock, &location, None).await;
    let (kind, text) = call(&server, "send_event", message("draft me")).await;
    assert_eq!(kind, None, "{text}");
    assert!(text.contains("Sent as a draft"), "{text}");
    let no_visibility =
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "and me"}});
    let (_, text) = call(&server, "send_event", no_visibility).await;
    assert!(text.contains("Sent as a draft"), "{text}");
    let note = json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "a note", "visibility": "agents"}});
    let (_, text) = call(&server, "send_event", note).await;
    assert!(
        !text.contains("Sent as a draft"),
        "an internal note was one already: {text}"
    );
    let bodies = sent(&mock).await;
    assert_eq!(bodies.len(), 3);
    for body in &bodies {
        assert_eq!(body["event"]["visibility"], "agents", "{body}");
    }
    let rows = rows(&audit).await;
    assert_eq!(
        rows[0]
            .targets
            .content
            .as_ref()
            .and_then(|c| c.visibility.as_deref()),
        Some("agents")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_on_one_postgres_share_requests_and_use_an_approval_once() {
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let url = pg.create_db("approvals");
    let mock = stand_in().await;
    let (a, audit, approvals) = server(POLICY, "ops", &mock, &url, None).await;
    let (b, _, _) = server(POLICY, "ops", &mock, &url, None).await;

    let (_, text) = call(&a, "send_event", message("from a")).await;
    let id = request_id(&text);
    let (_, text) = call(&b, "send_event", message("from a")).await;
    assert_eq!(request_id(&text), id, "both servers see the one request");
    approvals
        .decide(&id, true, "console:alice", None)
        .await
        .expect("approve");
    let (kind, text) = call(&b, "send_event", message("from a")).await;
    assert_eq!(kind, None, "approved on one, sent by the other: {text}");
    let (kind, _) = call(&a, "send_event", message("from a")).await;
    assert_eq!(kind, Some(FailureKind::PendingApproval));
    assert_eq!(sent(&mock).await.len(), 1);

    // Both servers race for one approval: exactly one call goes out.
    let (_, text) = call(&a, "send_event", message("race")).await;
    let race = request_id(&text);
    approvals
        .decide(&race, true, "console:alice", None)
        .await
        .expect("approve");
    let (x, y) = tokio::join!(
        call(&a, "send_event", message("race")),
        call(&b, "send_event", message("race"))
    );
    let went = [x.0.clone(), y.0.clone()]
        .iter()
        .filter(|k| k.is_none())
        .count();
    assert_eq!(went, 1, "{x:?} {y:?}");
    assert_eq!(sent(&mock).await.len(), 2);
    let approved = rows(&audit)
        .await
        .into_iter()
        .filter(|e| e.outcome == Outcome::Ok && e.targets.approval.is_some())
        .count();
    assert_eq!(approved, 2);
}

/// The README's steps on the built binary and its sandbox: held, approved with the CLI, sent
/// once, held again.
#[test]
fn the_cli_approves_and_the_call_goes_out_once() {
    let dir = TempDir::new("approvals-cli");
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, POLICY).expect("policy");
    let db = dir.join("audit.db");
    let bin = env!("CARGO_BIN_EXE_livechat-mcp");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(["--audit", db.to_str().expect("utf-8")])
            .args(args)
            .env_remove("LIVECHAT_MCP_POLICY")
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let message = r#"{"chat_id":"PJ0MRSHTDG","event":{"type":"message","text":"Your refund is on its way","visibility":"all"}}"#;
    let policy = policy.to_str().expect("utf-8");
    let send = || {
        run(&[
            "--sandbox",
            "--policy",
            policy,
            "--agent",
            "ops",
            "call",
            "send_event",
            message,
        ])
    };
    let (code, _, err) = send();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("pending_approval: request APR-"), "{err}");
    let id = request_id(&err);
    let (code, out, err) = run(&["approvals", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with(&format!(
            "{id}  pending   ops would send a message to chat PJ0MRSHTDG (expires in 15 min)"
        )),
        "{out}"
    );
    let (code, out, _) = run(&["approvals", "show", &id]);
    assert_eq!(code, Some(0));
    let shown: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        shown["arguments"]["event"]["text"],
        "Your refund is on its way"
    );
    let (code, out, err) = run(&[
        "approvals",
        "approve",
        &id,
        "--by",
        "alice",
        "--reason",
        "checked",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out.trim(),
        format!(
            "ops's request to send a message to chat PJ0MRSHTDG — approved by console:alice: checked ({id})"
        )
    );
    let (code, _, err) = run(&["approvals", "deny", &id]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("request {id} is approved already")),
        "{err}"
    );
    let (code, out, err) = send();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("event_id"), "{out}");
    let (code, _, err) = send();
    assert_eq!(code, Some(1));
    assert_ne!(
        request_id(&err),
        id,
        "a third identical call needs a new approval"
    );
    let (code, _, err) = run(&["approvals", "approve", "APR-NOPE", "--by", "alice"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no approval request `APR-NOPE`"), "{err}");
    let (code, _, err) = run(&["approvals", "approve", &id, "--by", "al ice\u{202E}"]);
    assert_eq!(code, Some(2), "{err}");
}

/// The 2026-07-28 round trip, in process: the first call answers with the question (an
/// elicitation keyed `approval`, the request id as its state); a supervisor may not decide a
/// client-only request; the retry carrying the person's accept goes out once, and a retry
/// whose state names another call's request is asked anew.
#[tokio::test]
async fn an_input_required_round_trip_lets_the_person_at_the_client_decide() {
    use livechat_mcp::server::{CallContext, ClientAsk};
    let dir = TempDir::new("approvals-mrtr");
    let location = dir.join("audit.db").display().to_string();
    let mock = stand_in().await;
    let policy = r#"
[agents.ops]
access = { events = "full" }
approve = ["send_event"]
approvers = ["client"]
"#;
    let (server, audit, approvals) = server(policy, "ops", &mock, &location, None).await;
    let ask = |responses: Option<Value>, state: Option<String>| CallContext {
        ask: ClientAsk::InputRequired {
            responses: responses.map(|r| serde_json::from_value(r).expect("responses")),
            state,
        },
        ..CallContext::default()
    };
    let first = server
        .call_with(
            "send_event",
            Some(object(message("ask me"))),
            ask(None, None),
        )
        .await;
    let question = first.input_required.expect("a question");
    let id = question.request_state.clone().expect("state");
    let asked = serde_json::to_value(&question).expect("json");
    assert_eq!(asked["resultType"], "input_required");
    let form = &asked["inputRequests"]["approval"];
    assert_eq!(form["method"], "elicitation/create");
    let text = form["params"]["message"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("Agent ops would send a message to chat PJ0MRSHTDG (`send_event`).")
            && text.contains("\"text\": \"ask me\"")
            && text.contains(&format!("Request {id} expires in 15 min")),
        "{text}"
    );
    assert!(sent(&mock).await.is_empty());
    assert_eq!(
        approvals.decide(&id, true, "console:alice", None).await,
        Err(ApprovalError::NotAnApprover {
            id: id.clone(),
            approver: "console".into()
        })
    );
    // Another call's request named as the state is not an answer to this one: asked anew.
    let other = server
        .call_with(
            "send_event",
            Some(object(message("something else"))),
            ask(
                Some(json!({"approval": {"action": "accept"}})),
                Some(id.clone()),
            ),
        )
        .await;
    assert!(other.input_required.is_some());
    assert!(sent(&mock).await.is_empty());
    let accepted = server
        .call_with(
            "send_event",
            Some(object(message("ask me"))),
            ask(
                Some(json!({"approval": {"action": "accept", "content": {"note": "ok by me"}}})),
                Some(id.clone()),
            ),
        )
        .await;
    assert_eq!(accepted.failure_kind, None, "{:?}", accepted.result);
    assert_eq!(sent(&mock).await.len(), 1);
    // The same answer replayed is not a second approval.
    let replayed = server
        .call_with(
            "send_event",
            Some(object(message("ask me"))),
            ask(
                Some(json!({"approval": {"action": "accept"}})),
                Some(id.clone()),
            ),
        )
        .await;
    assert!(replayed.input_required.is_some(), "asked anew");
    assert_eq!(sent(&mock).await.len(), 1);
    let approved = rows(&audit)
        .await
        .into_iter()
        .find(|e| e.outcome == Outcome::Approved)
        .expect("the approval's row");
    assert_eq!(
        approved.summary,
        format!(
            "ops's request to send a message to chat PJ0MRSHTDG — approved by client: ok by me ({id})"
        )
    );
}

/// An agent flooding its supervisor with distinct held calls: past 50 waiting requests a new
/// one is refused, an identical call still finds its own, and nothing is sent.
#[tokio::test]
async fn a_flood_of_held_calls_stops_at_fifty_waiting() {
    use livechat_mcp::approvals::MAX_PENDING_PER_AGENT;
    let dir = TempDir::new("approvals-flood");
    let location = dir.join("audit.db").display().to_string();
    let mock = stand_in().await;
    let (server, _, approvals) = server(POLICY, "ops", &mock, &location, None).await;
    for n in 0..MAX_PENDING_PER_AGENT {
        let (kind, _) = call(&server, "send_event", message(&format!("spam {n}"))).await;
        assert_eq!(kind, Some(FailureKind::PendingApproval), "call {n}");
    }
    let (kind, text) = call(&server, "send_event", message("one more")).await;
    assert_eq!(kind, Some(FailureKind::ApprovalDenied), "{text}");
    assert!(
        text.contains("has 50 requests waiting for a person already"),
        "{text}"
    );
    let (kind, _) = call(&server, "send_event", message("spam 7")).await;
    assert_eq!(
        kind,
        Some(FailureKind::PendingApproval),
        "its own request is found"
    );
    let waiting = approvals
        .list(Some(State::Pending), 100)
        .await
        .expect("list");
    assert_eq!(waiting.len(), MAX_PENDING_PER_AGENT);
    assert!(sent(&mock).await.is_empty());
}

/// A supervisor's decision whose row a crash kept out of the trail (the request changed,
/// the process died before appending): the next look a minute later records it, once; an
/// approval used meanwhile still gets its row.
#[tokio::test]
async fn a_decision_a_crash_left_unrecorded_is_recorded_once_later() {
    let dir = TempDir::new("approvals-crash");
    let location = dir.join("audit.db").display().to_string();
    let mock = stand_in().await;
    let clock = Arc::new(AtomicI64::new(1_800_000_000_000));
    let (server, audit, approvals) = server(POLICY, "ops", &mock, &location, Some(&clock)).await;
    let approved_rows = |rows: &[Entry], id: &str| {
        rows.iter()
            .filter(|e| e.outcome == Outcome::Approved && e.targets.approval.as_deref() == Some(id))
            .count()
    };
    let (_, text) = call(&server, "send_event", message("crash")).await;
    let denied_id = request_id(&text);
    let (_, text) = call(&server, "send_event", message("crash and use")).await;
    let used_id = request_id(&text);
    // `decide` alone is what a process killed before its append leaves behind.
    approvals
        .decide(&denied_id, false, "console:alice", None)
        .await
        .expect("deny");
    approvals
        .decide(&used_id, true, "console:alice", None)
        .await
        .expect("approve");
    let (kind, _) = call(&server, "send_event", message("crash and use")).await;
    assert_eq!(kind, None, "the approval is usable at once");
    clock.fetch_add(30_000, Ordering::SeqCst);
    approvals.expire_recorded(Some(&audit)).await.expect("look");
    assert_eq!(
        approved_rows(&rows(&audit).await, &used_id),
        0,
        "too early: its decider may still write it"
    );
    clock.fetch_add(31_000, Ordering::SeqCst);
    approvals.expire_recorded(Some(&audit)).await.expect("look");
    approvals
        .expire_recorded(Some(&audit))
        .await
        .expect("look again");
    let all = rows(&audit).await;
    assert_eq!(approved_rows(&all, &used_id), 1, "{all:#?}");
    let denials = all
        .iter()
        .filter(|e| {
            e.outcome == Outcome::Denied
                && e.targets.approval.as_deref() == Some(denied_id.as_str())
        })
        .count();
    assert_eq!(denials, 1);
    // Decisions recorded as they were made are never recorded again.
    let (_, text) = call(&server, "send_event", message("no crash")).await;
    let fine = request_id(&text);
    approvals
        .decide_recorded(&audit, &fine, true, "console:alice", None)
        .await
        .expect("approve");
    clock.fetch_add(120_000, Ordering::SeqCst);
    approvals.expire_recorded(Some(&audit)).await.expect("look");
    assert_eq!(approved_rows(&rows(&audit).await, &fine), 1);
}

/// rmcp's own client as the person's client, in both protocol eras (`elicitation/create` on
/// 2025-11-25; on 2026-07-28 rmcp's `call_tool` answers the `input_required` question through
/// the same handler). The person takes longer than the whole retry budget to answer, and
/// LiveChat first refuses for its quota: the budget counts from the approval, so the call is
/// still retried and goes out.
#[tokio::test(flavor = "multi_thread")]
async fn rmcp_clients_ask_a_slow_person_in_both_protocol_eras() {
    use rmcp::{
        ClientHandler, ServiceExt,
        model::{
            CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams,
            ElicitResult, ElicitationAction, Implementation, ProtocolVersion,
        },
        service::{RequestContext, RoleClient},
    };
    use std::time::Duration;

    #[derive(Clone)]
    struct SlowPerson {
        version: ProtocolVersion,
        asked: Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl ClientHandler for SlowPerson {
        fn get_info(&self) -> ClientConfig {
            ClientConfig::new(
                ClientCapabilities::builder().enable_elicitation().build(),
                Implementation::new("slow-person", "1.0"),
            )
            .with_protocol_version(self.version.clone())
        }

        async fn create_elicitation(
            &self,
            request: ElicitRequestParams,
            _context: RequestContext<RoleClient>,
        ) -> Result<ElicitResult, rmcp::ErrorData> {
            if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
                self.asked.lock().expect("lock").push(message.clone());
            }
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok(ElicitResult::new(ElicitationAction::Accept))
        }
    }

    let dir = TempDir::new("approvals-rmcp");
    let location = dir.join("audit.db").display().to_string();
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({"event_id": "E1"})))
        .with_priority(2)
        .mount(&mock)
        .await;
    let (server, _, _) = server(POLICY, "ops", &mock, &location, None).await;
    let server = server.with_traffic(None, Duration::from_secs(1));
    for (n, version) in [ProtocolVersion::V_2025_11_25, ProtocolVersion::V_2026_07_28]
        .into_iter()
        .enumerate()
    {
        let person = SlowPerson {
            version: version.clone(),
            asked: Arc::default(),
        };
        let (server_io, client_io) = tokio::io::duplex(1 << 20);
        let serving = server.for_session();
        tokio::spawn(async move {
            if let Ok(running) = serving.serve(server_io).await {
                let _ = running.waiting().await;
            }
        });
        let client = person
            .clone()
            .serve(client_io)
            .await
            .expect("client connects");
        let text = format!("slow person {n}");
        Mock::given(any())
            .respond_with(wiremock::ResponseTemplate::new(429).set_body_json(json!({
                "error": {"type": "too_many_requests", "message": "Requests limit reached"}
            })))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&mock)
            .await;
        let result = client
            .call_tool(
                CallToolRequestParams::new("send_event").with_arguments(object(message(&text))),
            )
            .await
            .expect("tools/call answered");
        assert_ne!(result.is_error, Some(true), "{version:?}: {result:?}");
        let asked = person.asked.lock().expect("lock").clone();
        assert_eq!(asked.len(), 1, "{version:?}: asked once");
        assert!(asked[0].contains(&text), "{version:?}: {}", asked[0]);
        let _ = client.cancel().await;
    }
    assert_eq!(
        sent(&mock).await.len(),
        4,
        "each call: refused once, then sent"
    );
}
