//! Per-agent access and the audit trail, in process, through a real MCP client (rmcp) against
//! a LiveChat stand-in that counts requests:
//!
//! - the policy matrix: for every area at every level, `tools/list` is exactly `whoami` and the
//!   granted tools, every granted tool reaches LiveChat once on its own path, and every other
//!   tool is refused with the same answer as a tool that does not exist, without a request;
//! - a `"*"` default with an override, and tools hidden for lack of token scopes;
//! - concurrent calls from two agents through two handles on one audit file: one row per call,
//!   the right decision, outcome, error type and reason, no message text in the file, an
//!   intact chain, and a hand-edited row named by `verify`.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use common::{
    Echo, TempDir, call, echo_structured, edit_row, files_containing, serve, tamper_agent,
};
use livechat_mcp::{
    agent::Agent,
    audit::{AuditStore, Decision, Entry, Outcome, QueryFilter},
    config::Settings,
    policy::{Level, Policy},
    scopes::Granted,
    server::{Catalog, LiveChatServer},
    tools::{self, Access, Area, ToolSpec},
    version::ApiVersion,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{any, method, path},
};

const VERSION: ApiVersion = ApiVersion::V3_6;
const UNKNOWN: &str = "no_such_tool";

/// One tool's minimal SDK fixture: its arguments and the path LiveChat is called on.
struct Case {
    tool: String,
    args: Value,
    path: String,
}

/// The minimal fixture case of every tool of the version, in fixture order.
fn cases() -> Vec<Case> {
    let cases: Vec<Case> = common::fixture_cases(VERSION)
        .into_iter()
        .filter(|c| c["case"] == "minimal")
        .map(|c| Case {
            tool: c["tool"].as_str().expect("tool").to_string(),
            args: c["args"].clone(),
            path: c["path"].as_str().expect("path").to_string(),
        })
        .collect();
    let names: BTreeSet<&str> = cases.iter().map(|c| c.tool.as_str()).collect();
    let all: BTreeSet<&str> = tools::all()
        .filter(|t| t.available_in(VERSION))
        .map(|t| t.name)
        .collect();
    assert_eq!(names, all, "one minimal case per tool");
    assert_eq!(
        cases.len(),
        common::tool_count(VERSION),
        "one minimal case per tool"
    );
    cases
}

fn settings(mock: &MockServer) -> Settings {
    common::settings(&mock.uri(), VERSION, Level::Read)
}

/// The agent `name` of the policy `text`, calling LiveChat with the test token.
fn agent(text: &str, name: &str, settings: &Settings) -> Agent {
    let policy = Policy::parse(text, "policy.toml").unwrap_or_else(|e| panic!("{e}"));
    let entry = policy
        .agent(name)
        .unwrap_or_else(|| panic!("{name} in {text}"));
    Agent::from_policy(entry, settings).expect("agent")
}

async fn request_paths(mock: &MockServer) -> Vec<String> {
    mock.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

/// Every entry of the trail, oldest first.
async fn entries(store: &AuditStore) -> Vec<Entry> {
    let mut all = store.query(&QueryFilter::default()).await.expect("query");
    all.reverse();
    all
}

/// Serves `agent` and checks everything it sees and can do against `granted` (the LiveChat
/// tools it must get) and `reason` (the audit trail's reason for refusing any other tool):
/// `tools/list`, `whoami`, a call to every tool and to an unknown one, the requests that reached
/// the stand-in, and the trail. Returns `whoami`'s answer.
async fn exercise(
    label: &str,
    mock: &MockServer,
    catalog: &Arc<Catalog>,
    cases: &[Case],
    agent: Agent,
    granted: &BTreeSet<&'static str>,
    reason: impl Fn(&ToolSpec) -> String,
) -> Value {
    let name = agent.name.clone();
    mock.reset().await;
    Mock::given(any()).respond_with(Echo).mount(mock).await;
    let dir = TempDir::new("policy-matrix");
    let store = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let client = serve(LiveChatServer::for_agent(
        catalog.clone(),
        agent,
        Some(store.clone()),
    ))
    .await;

    // tools/list: whoami first, then exactly the granted tools.
    let listed: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(
        listed.first().map(String::as_str),
        Some("whoami"),
        "{label}"
    );
    let listed_set: BTreeSet<&str> = listed[1..].iter().map(String::as_str).collect();
    assert_eq!(listed_set.len(), listed.len() - 1, "{label}: listed twice");
    assert_eq!(&listed_set, granted, "{label}: tools/list");

    let (is_error, whoami, text) = call(&client, "whoami", json!({})).await;
    assert!(!is_error, "{label}: whoami: {text}");
    let whoami = whoami.expect("whoami is structured");
    assert_eq!(whoami["agent"], json!(name), "{label}");
    let told: BTreeSet<&str> = whoami["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t.as_str().expect("name"))
        .collect();
    assert_eq!(&told, granted, "{label}: whoami's tools");

    // Every tool: granted ones reach the stand-in once, on their path; the rest are refused
    // without a request, all with one answer.
    let mut refusals = BTreeSet::new();
    for case in cases {
        let tool = case.tool.as_str();
        let before = request_paths(mock).await;
        let (is_error, structured, text) = call(&client, tool, case.args.clone()).await;
        let after = request_paths(mock).await;
        if granted.contains(tool) {
            assert!(!is_error, "{label}: {tool} should be allowed: {text}");
            assert_eq!(structured, Some(echo_structured(tool)), "{label}: {tool}");
            assert_eq!(
                after.len(),
                before.len() + 1,
                "{label}: {tool}: one request"
            );
            assert_eq!(
                after.last().map(String::as_str),
                Some(format!("POST {}", case.path).as_str()),
                "{label}: {tool}"
            );
        } else {
            assert!(is_error, "{label}: {tool} should be refused");
            assert!(structured.is_none(), "{label}: {tool}");
            assert_eq!(
                text.lines().next(),
                Some(
                    format!("not_available: tool `{tool}` is not available to agent {name}")
                        .as_str()
                ),
                "{label}"
            );
            assert_eq!(after, before, "{label}: refused {tool} reached LiveChat");
            refusals.insert(text.replace(tool, "TOOL"));
        }
    }
    let before = request_paths(mock).await.len();
    let (is_error, _, unknown) = call(&client, UNKNOWN, json!({"chat_id": "PJ0MRSHTDG"})).await;
    assert!(is_error, "{label}");
    assert_eq!(request_paths(mock).await.len(), before, "{label}");
    refusals.insert(unknown.replace(UNKNOWN, "TOOL"));
    assert_eq!(
        refusals.len(),
        1,
        "{label}: an unknown tool and every hidden one get the same answer: {refusals:#?}"
    );
    assert_eq!(
        request_paths(mock).await.len(),
        granted.len(),
        "{label}: nothing but the granted calls reached LiveChat"
    );

    // The trail: one row per call, in call order, each with its decision and reason.
    let expected_tools: Vec<&str> = std::iter::once("whoami")
        .chain(cases.iter().map(|c| c.tool.as_str()))
        .chain([UNKNOWN])
        .collect();
    // A call that reached LiveChat is two rows: written ahead, then completed.
    assert_eq!(
        store.verify(None).await,
        Ok((expected_tools.len() + granted.len()) as u64),
        "{label}"
    );
    let rows = entries(&store).await;
    let row_tools: Vec<&str> = rows.iter().map(|e| e.tool.as_str()).collect();
    assert_eq!(row_tools, expected_tools, "{label}: one row per call");
    for row in &rows {
        let what = format!("{label}: row {} ({})", row.id, row.tool);
        assert_eq!(row.agent, name, "{what}");
        // Every row, allowed or refused, says the call was made with the server's token.
        assert_eq!(row.identity.as_deref(), Some("server token"), "{what}");
        assert!(
            row.summary.starts_with(&format!("{name} ")),
            "{what}: {}",
            row.summary
        );
        if row.tool == "whoami" || granted.contains(row.tool.as_str()) {
            assert_eq!(
                (
                    row.decision,
                    row.outcome,
                    row.reason.as_deref(),
                    row.error_type.as_deref()
                ),
                (Decision::Allowed, Outcome::Ok, None, None),
                "{what}"
            );
            assert!(
                row.summary.contains(" — allowed, done in "),
                "{what}: {}",
                row.summary
            );
        } else {
            let why = match tools::find(&row.tool) {
                Some(spec) => reason(spec),
                None => "no such tool".to_string(),
            };
            assert_eq!(
                (
                    row.decision,
                    row.outcome,
                    row.reason.as_deref(),
                    row.error_type.as_deref()
                ),
                (Decision::Denied, Outcome::Denied, Some(why.as_str()), None),
                "{what}"
            );
            assert!(
                row.summary
                    .ends_with(&format!(" — denied: {why} (as server token)")),
                "{what}: {}",
                row.summary
            );
        }
    }
    client.cancel().await.ok();
    whoami
}

/// For each of the 10 areas at off, read and full, an agent granted only that: it lists and
/// may call exactly that area's tools of that level, and nothing else reaches LiveChat.
#[tokio::test(flavor = "multi_thread")]
async fn policy_matrix_lists_and_allows_exactly_the_granted_tools() {
    let mock = MockServer::start().await;
    let settings = settings(&mock);
    let catalog = Arc::new(Catalog::new(VERSION).expect("catalog"));
    let cases = cases();
    let mut every_full = BTreeSet::new();
    for area in Area::ALL {
        for level in Level::ALL {
            let label = format!("{} = {level}", area.as_str());
            let text = format!(
                "[agents.a]\naccess = {{ {} = \"{level}\" }}\n",
                area.as_str()
            );
            let granted: BTreeSet<&'static str> = tools::all()
                .filter(|t| t.available_in(VERSION) && t.area == area)
                .filter(|t| match level {
                    Level::Off => false,
                    Level::Read => t.access == Access::Read,
                    Level::Full => true,
                })
                .map(|t| t.name)
                .collect();
            if level == Level::Full {
                assert!(!granted.is_empty(), "{label}");
                every_full.extend(granted.iter().copied());
            }
            let whoami = exercise(
                &label,
                &mock,
                &catalog,
                &cases,
                agent(&text, "a", &settings),
                &granted,
                |spec| match (spec.area == area, level) {
                    (true, Level::Read) => format!("{} is read-only for a", area.as_str()),
                    (true, _) => format!("{} is off for a", area.as_str()),
                    (false, _) => format!("{} is off for a", spec.area.as_str()),
                },
            )
            .await;
            let grants: BTreeMap<String, String> =
                serde_json::from_value(whoami["grants"].clone()).expect("grants");
            let expected: BTreeMap<String, String> = Area::ALL
                .iter()
                .map(|a| {
                    let l = if *a == area { level } else { Level::Off };
                    (a.as_str().to_string(), l.as_str().to_string())
                })
                .collect();
            assert_eq!(grants, expected, "{label}: whoami's grants");
        }
    }
    assert_eq!(
        every_full.len(),
        common::tool_count(VERSION),
        "every tool belongs to one area"
    );
}

/// `"*" = "read"` with `customers = "off"`: every read tool but the customers' one.
#[tokio::test(flavor = "multi_thread")]
async fn a_star_default_with_an_area_turned_off() {
    let mock = MockServer::start().await;
    let settings = settings(&mock);
    let catalog = Arc::new(Catalog::new(VERSION).expect("catalog"));
    let cases = cases();
    let granted: BTreeSet<&'static str> = tools::all()
        .filter(|t| t.available_in(VERSION))
        .filter(|t| t.access == Access::Read && t.area != Area::Customers)
        .map(|t| t.name)
        .collect();
    assert!(granted.contains("list_chats") && !granted.contains("get_customer"));
    let whoami = exercise(
        "* = read, customers = off",
        &mock,
        &catalog,
        &cases,
        agent(
            "[agents.a]\naccess = { \"*\" = \"read\", customers = \"off\" }\n",
            "a",
            &settings,
        ),
        &granted,
        |spec| match spec.area {
            Area::Customers => "customers is off for a".to_string(),
            area => format!("{} is read-only for a", area.as_str()),
        },
    )
    .await;
    assert_eq!(whoami["grants"]["customers"], "off");
    assert_eq!(whoami["grants"]["chats"], "read");
    assert_eq!(whoami["api_version"], "3.6");
}

/// A token with only `chats--all:ro`: even with every area `full`, only the tools that scope
/// serves are listed, and the rest are refused before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn tools_the_token_lacks_scopes_for_are_hidden_and_refused() {
    let mock = MockServer::start().await;
    let settings = settings(&mock);
    let catalog = Arc::new(Catalog::new(VERSION).expect("catalog"));
    let cases = cases();
    let mut scoped = agent(
        "[agents.a]\naccess = { \"*\" = \"full\" }\n",
        "a",
        &settings,
    );
    scoped.token_scopes = Some(Granted::parse_list("chats--all:ro"));
    // Read from the definitions as written (a tool asking for one scope alone, which the
    // token has), so a new chat read tool joins without an edit here; the four the brief
    // names must be among them. A tool that needs no scope (`list_webhook_names`) shows for
    // any token.
    let alone_wants = |scope: &str| {
        tools::all()
            .filter(|t| t.available_in(VERSION))
            .filter(|t| {
                t.scopes.is_empty() || matches!(t.scopes.sets(), [one] if one.contains(&scope))
            })
            .map(|t| t.name)
            .collect::<BTreeSet<&str>>()
    };
    // Tools LiveChat asks no scope for are served by any token.
    let unscoped: BTreeSet<&str> = tools::all()
        .filter(|t| t.available_in(VERSION) && t.scopes.is_empty())
        .map(|t| t.name)
        .collect();
    let granted: BTreeSet<&str> = alone_wants("chats--all:ro")
        .union(&unscoped)
        .copied()
        .collect();
    assert!(
        granted.is_superset(&BTreeSet::from([
            "list_chats",
            "list_threads",
            "get_chat",
            "list_archives",
            "list_webhook_names"
        ])),
        "{granted:?}"
    );
    let whoami = exercise(
        "token scopes chats--all:ro",
        &mock,
        &catalog,
        &cases,
        scoped,
        &granted,
        |spec| format!("the LiveChat token of a lacks the scope {}", spec.scopes),
    )
    .await;
    // Policy grants stay as written: the scopes hide tools, they do not rewrite the grants.
    assert_eq!(whoami["grants"]["customers"], "full");

    // A second scope adds exactly the tool it serves.
    let mut wider = agent(
        "[agents.a]\naccess = { \"*\" = \"full\" }\n",
        "a",
        &settings,
    );
    wider.token_scopes = Some(Granted::parse_list("chats--all:ro,customers:ro"));
    let server = LiveChatServer::for_agent(catalog.clone(), wider, None);
    let names: BTreeSet<&str> = server.specs().map(|s| s.name).collect();
    let expected: BTreeSet<&str> = granted
        .union(&alone_wants("customers:ro"))
        .copied()
        .collect();
    assert!(expected.contains("get_customer"), "{expected:?}");
    assert_eq!(names, expected);
}

/// The refusal of an unknown tool and of an existing but hidden one are the same bytes but
/// for the name, so a refusal tells nothing about what exists.
#[tokio::test]
async fn an_unknown_tool_and_a_hidden_one_are_refused_alike() {
    let mock = MockServer::start().await;
    Mock::given(any()).respond_with(Echo).mount(&mock).await;
    let settings = settings(&mock);
    let catalog = Arc::new(Catalog::new(VERSION).expect("catalog"));
    let client = serve(LiveChatServer::for_agent(
        catalog,
        agent(
            "[agents.a]\naccess = { chats = \"read\" }\n",
            "a",
            &settings,
        ),
        None,
    ))
    .await;
    let (_, _, hidden) = call(
        &client,
        "ban_customer",
        json!({"id": "b7ef", "ban": {"days": 1}}),
    )
    .await;
    let (_, _, read_only) = call(&client, "deactivate_chat", json!({"id": "PJ0MRSHTDG"})).await;
    let (_, _, unknown) = call(&client, "drop_tables", json!({})).await;
    assert_eq!(
        hidden.replace("ban_customer", "drop_tables").as_bytes(),
        unknown.as_bytes()
    );
    assert_eq!(
        read_only
            .replace("deactivate_chat", "drop_tables")
            .as_bytes(),
        unknown.as_bytes()
    );
    assert!(
        unknown.starts_with("not_available: tool `drop_tables` is not available to agent a\n"),
        "{unknown}"
    );
    assert!(
        mock.received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
    client.cancel().await.ok();
}

/// What one call of the concurrent run is, and what the trail must say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Allowed and answered.
    Ok,
    /// Refused by policy: an area off or read-only for the agent.
    Denied,
    /// Allowed, but its arguments fail the schema: nothing sent.
    Invalid,
    /// Allowed, sent, and LiveChat answers with a validation error.
    Upstream,
    /// A tool that does not exist.
    Unknown,
}

const KINDS: [Kind; 5] = [
    Kind::Ok,
    Kind::Denied,
    Kind::Invalid,
    Kind::Upstream,
    Kind::Unknown,
];
const MESSAGE: &str = "Please refund order 88231 to Ann Smith's card ending 4242";

/// The tool and arguments of call `i` (whose chat or customer id is `id`) for `agent`, and the
/// denial reason when policy refuses it.
fn plan(kind: Kind, agent: &str, id: &str) -> (&'static str, Value, Option<String>) {
    match (kind, agent) {
        (Kind::Ok, "a") => (
            "send_event",
            json!({"chat_id": id, "event": {"type": "message", "text": MESSAGE}}),
            None,
        ),
        (Kind::Ok, _) => ("get_chat", json!({"chat_id": id}), None),
        (Kind::Denied, "a") => (
            "ban_customer",
            json!({"id": id, "ban": {"days": 1}}),
            Some("customers is read-only for a".to_string()),
        ),
        (Kind::Denied, _) => (
            "get_customer",
            json!({"id": id}),
            Some("customers is off for b".to_string()),
        ),
        (Kind::Invalid, _) => ("get_chat", json!({"chat_id": id, "bogus": true}), None),
        (Kind::Upstream, _) => ("list_threads", json!({"chat_id": id}), None),
        (Kind::Unknown, _) => (
            "drop_tables",
            json!({"chat_id": id}),
            Some("no such tool".to_string()),
        ),
    }
}

/// 100 calls at once from two agents with different grants, through two handles on one audit
/// file (each agent served on both): one row per call, each right, the chain intact, the
/// message text absent from the file, and a row edited by hand named by `verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_calls_from_two_agents_leave_one_verified_row_each() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3.6/agent/action/list_threads"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"type": "validation", "message": "`chat_id` is invalid"}}),
        ))
        .mount(&mock)
        .await;
    Mock::given(any()).respond_with(Echo).mount(&mock).await;
    let settings = settings(&mock);
    let policy = "[agents.a]\naccess = { chats = \"read\", events = \"full\", customers = \"read\" }\n\
                  [agents.b]\naccess = { \"*\" = \"read\", customers = \"off\" }\n";
    let catalog = Arc::new(Catalog::new(VERSION).expect("catalog"));
    let dir = TempDir::new("policy-concurrent");
    let db = dir.join("audit.db");
    let first = AuditStore::open(&db).expect("first handle");
    let second = AuditStore::open(&db).expect("second handle");
    // clients[agent][handle]
    let mut clients = Vec::new();
    for name in ["a", "b"] {
        let mut per_handle = Vec::new();
        for store in [&first, &second] {
            let server = LiveChatServer::for_agent(
                catalog.clone(),
                agent(policy, name, &settings),
                Some(store.clone()),
            );
            per_handle.push(Arc::new(serve(server).await));
        }
        clients.push(per_handle);
    }

    const CALLS: usize = 100;
    let mut tasks = Vec::new();
    let mut planned = BTreeMap::new();
    for i in 0..CALLS {
        let kind = KINDS[i % KINDS.len()];
        let agent = ["a", "b"][(i / KINDS.len()) % 2];
        let handle = (i / (2 * KINDS.len())) % 2;
        let id = format!("PJ{i:08}");
        let (tool, args, reason) = plan(kind, agent, &id);
        planned.insert(id.clone(), (kind, agent, tool, reason));
        let client = clients[usize::from(agent == "b")][handle].clone();
        tasks.push(tokio::spawn(async move {
            let outcome = call(&client, tool, args).await;
            (id, outcome)
        }));
    }
    for task in tasks {
        let (id, (is_error, structured, text)) = task.await.expect("call task");
        let (kind, agent, tool, _) = &planned[&id];
        match kind {
            Kind::Ok => {
                assert!(!is_error, "{id} {tool}: {text}");
                assert_eq!(structured, Some(echo_structured(tool)), "{id}");
            }
            Kind::Denied | Kind::Unknown => assert!(
                text.starts_with(&format!(
                    "not_available: tool `{tool}` is not available to agent {agent}\n"
                )),
                "{id}: {text}"
            ),
            Kind::Invalid => assert!(text.starts_with("invalid_arguments: "), "{id}: {text}"),
            Kind::Upstream => assert!(text.starts_with("validation: "), "{id}: {text}"),
        }
        assert_eq!(is_error, *kind != Kind::Ok, "{id}");
    }

    // Only the allowed, valid calls reached LiveChat.
    let mut sent = BTreeMap::new();
    for p in request_paths(&mock).await {
        *sent.entry(p).or_insert(0) += 1;
    }
    let per_kind_agent = CALLS / KINDS.len() / 2;
    assert_eq!(
        sent,
        BTreeMap::from([
            (
                "POST /v3.6/agent/action/send_event".to_string(),
                per_kind_agent
            ),
            (
                "POST /v3.6/agent/action/get_chat".to_string(),
                per_kind_agent
            ),
            (
                "POST /v3.6/agent/action/list_threads".to_string(),
                2 * per_kind_agent
            ),
        ])
    );

    // One row per call, whichever handle wrote it, and both handles see one chain.
    // (A call that reached LiveChat is two rows, written ahead and then completed; the
    // listing shows one.)
    let upstream: usize = sent.values().sum();
    assert_eq!(first.verify(None).await, Ok((CALLS + upstream) as u64));
    assert_eq!(second.verify(None).await, Ok((CALLS + upstream) as u64));
    let rows = entries(&first).await;
    assert_eq!(rows.len(), CALLS);
    assert!(
        rows.windows(2).all(|w| w[0].id < w[1].id),
        "in order, once each"
    );
    assert_eq!(
        rows.iter().filter(|e| e.completes.is_some()).count(),
        upstream
    );
    for name in ["a", "b"] {
        let filter = QueryFilter {
            agent: Some(name.to_string()),
            ..QueryFilter::default()
        };
        assert_eq!(
            first.query(&filter).await.expect("query").len(),
            CALLS / 2,
            "{name}"
        );
    }
    let mut seen = BTreeSet::new();
    for row in &rows {
        let id = row
            .targets
            .chat_id
            .clone()
            .or_else(|| row.targets.customer_id.clone())
            .unwrap_or_else(|| panic!("row {} names no target: {row:?}", row.id));
        assert!(seen.insert(id.clone()), "two rows for call {id}");
        let (kind, agent, tool, reason) = planned
            .get(&id)
            .unwrap_or_else(|| panic!("row {} is no call: {row:?}", row.id));
        let what = format!("row {} = call {id} ({kind:?} {tool} by {agent})", row.id);
        assert_eq!(
            (row.agent.as_str(), row.tool.as_str()),
            (*agent, *tool),
            "{what}"
        );
        let (decision, outcome, error_type) = match kind {
            Kind::Ok => (Decision::Allowed, Outcome::Ok, None),
            Kind::Denied | Kind::Unknown => (Decision::Denied, Outcome::Denied, None),
            Kind::Invalid => (Decision::Allowed, Outcome::Error, Some("invalid_arguments")),
            Kind::Upstream => (Decision::Allowed, Outcome::Error, Some("validation")),
        };
        assert_eq!(
            (
                row.decision,
                row.outcome,
                row.error_type.as_deref(),
                row.reason.as_ref()
            ),
            (decision, outcome, error_type, reason.as_ref()),
            "{what}"
        );
        assert_eq!(
            row.area.as_deref(),
            tools::find(tool).map(|s| s.area.as_str()),
            "{what}"
        );
        // A sentence naming the agent, on one line, ending as the decision says.
        let summary = &row.summary;
        assert!(
            summary.starts_with(&format!("{agent} ")),
            "{what}: {summary}"
        );
        assert!(!summary.contains('\n'), "{what}: {summary}");
        let ending = match (kind, reason, error_type) {
            (Kind::Ok, _, _) => " ms (as server token)".to_string(),
            (_, Some(reason), _) => format!(" — denied: {reason} (as server token)"),
            (_, None, Some(error)) => format!(" — allowed, failed: {error} (as server token)"),
            _ => unreachable!(),
        };
        assert_eq!(row.identity.as_deref(), Some("server token"), "{what}");
        assert!(summary.ends_with(&ending), "{what}: {summary}");
        if *kind == Kind::Ok {
            assert!(
                summary.contains(" — allowed, done in "),
                "{what}: {summary}"
            );
        }
        if *tool == "send_event" {
            assert_eq!(
                summary,
                &format!(
                    "a sent a message to chat {id} — allowed, done in {} ms (as server token)",
                    row.duration_ms
                )
            );
            let content = row.targets.content.clone().expect("content");
            assert_eq!(content.text_len, Some(MESSAGE.chars().count() as u64));
            let digest = Sha256::digest(MESSAGE.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(content.text_sha256, Some(hex), "{what}");
        }
    }
    assert_eq!(seen.len(), CALLS);

    // The message text is nowhere in the file, its WAL or its shared memory.
    for needle in ["refund order", "Ann Smith", "88231"] {
        assert_eq!(
            files_containing(dir.path(), needle),
            Vec::<std::path::PathBuf>::new()
        );
    }

    // Someone edits a row by hand: verify names it, through either handle. Putting the
    // value back makes the chain whole again, so each edit is checked on its own.
    let denied = rows
        .iter()
        .find(|r| r.decision == Decision::Denied)
        .expect("a denied row")
        .id;
    let edits = [
        (rows[0].id, "agent", "someone-else"),
        (denied, "decision", "allowed"),
        (denied, "reason", ""),
        (rows[CALLS - 1].id, "summary", "nothing happened"),
    ];
    for (id, column, value) in edits {
        let id = i64::try_from(id).expect("id");
        let old = if column == "agent" {
            let old = rows[0].agent.clone();
            tamper_agent(&db, id, value);
            old
        } else {
            edit_row(&db, id, column, value)
        };
        for store in [&first, &second] {
            let err = store.verify(None).await.expect_err("an edited row");
            assert!(
                err.contains(&format!("row {id}:")) && err.contains("MAC mismatch"),
                "{column} of row {id}: {err}"
            );
        }
        edit_row(&db, id, column, &old);
        assert_eq!(
            first.verify(None).await,
            Ok((CALLS + upstream) as u64),
            "row {id} restored"
        );
    }
    // And left edited, it stays named.
    edit_row(&db, 37, "agent", "someone-else");
    let err = second.verify(None).await.expect_err("an edited row");
    assert!(
        err.contains("row 37:") && err.contains("MAC mismatch"),
        "{err}"
    );

    for per_handle in clients {
        for client in per_handle {
            if let Ok(client) = Arc::try_unwrap(client) {
                client.cancel().await.ok();
            }
        }
    }
    drop((first, second));
    for needle in ["refund order", "Ann Smith"] {
        assert_eq!(
            files_containing(dir.path(), needle),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

/// A caller can put anything in the name of a tool that does not exist; the trail keeps such a
/// name only as a hash, like other free text, and never unbounded.
#[tokio::test(flavor = "multi_thread")]
async fn free_text_in_an_unknown_tool_name_stays_out_of_the_trail() {
    let settings = common::settings("http://127.0.0.1:9", ApiVersion::V3_6, Level::Read);
    let policy =
        Policy::parse("[agents.a]\naccess = { chats = \"read\" }\n", "p.toml").expect("policy");
    let agent = Agent::from_policy(policy.agent("a").expect("a"), &settings).expect("agent");
    let dir = TempDir::new("tool-name-text");
    let store = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let catalog = Arc::new(Catalog::new(ApiVersion::V3_6).expect("catalog"));
    let client = serve(LiveChatServer::for_agent(
        catalog,
        agent,
        Some(store.clone()),
    ))
    .await;
    assert!(
        call(
            &client,
            "Please refund order 88231 to Ann Smith's card",
            json!({})
        )
        .await
        .0
    );
    assert!(call(&client, &"x".repeat(5000), json!({})).await.0);
    assert!(call(&client, "no_such_tool", json!({})).await.0);
    let rows = store.query(&QueryFilter::default()).await.expect("query");
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r.tool.chars().count() <= 71),
        "an unbounded tool name was stored"
    );
    assert!(
        rows.iter().any(|r| r.tool == "no_such_tool"),
        "a plausible name is kept as it is"
    );
    assert_eq!(
        files_containing(dir.path(), "Ann Smith"),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(store.verify(None).await, Ok(3));
}

/// `create_bot` answers with the bot's secret; the tool result and the trail never hold it.
#[tokio::test(flavor = "multi_thread")]
async fn a_created_bots_secret_reaches_neither_the_result_nor_the_trail() {
    const SECRET: &str = "641e2ae6d997d2009a3ac92a05f37fc3";
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3.6/configuration/action/create_bot"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "5c9871d5372c824cbf22d860a707a578", "secret": SECRET})),
        )
        .mount(&mock)
        .await;
    let settings = common::settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
    let agent = agent(
        "[agents.ops]\naccess = { agents = \"full\" }\n",
        "ops",
        &settings,
    );
    let dir = TempDir::new("bot-secret");
    let store = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let catalog = Arc::new(Catalog::new(ApiVersion::V3_6).expect("catalog"));
    let client = serve(LiveChatServer::for_agent(
        catalog,
        agent,
        Some(store.clone()),
    ))
    .await;
    let (is_error, answer, text) = call(
        &client,
        "create_bot",
        json!({"name": "Helper", "owner_client_id": "0805e283233042b37f460ed8fbf22160"}),
    )
    .await;
    assert!(!is_error, "{text}");
    assert_eq!(
        answer,
        Some(json!({"id": "5c9871d5372c824cbf22d860a707a578", "secret": "[redacted]"}))
    );
    assert!(!text.contains(SECRET), "{text}");
    // The request did reach LiveChat, which did answer with the secret.
    assert_eq!(
        request_paths(&mock).await,
        ["POST /v3.6/configuration/action/create_bot"]
    );
    let rows = entries(&store).await;
    let done = rows.last().expect("an outcome row");
    assert_eq!(done.tool, "create_bot");
    assert_eq!(done.outcome, Outcome::Ok);
    let row = serde_json::to_string(&rows.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>())
        .expect("rows");
    assert!(!row.contains(SECRET), "{row}");
    assert_eq!(
        files_containing(dir.path(), SECRET),
        Vec::<std::path::PathBuf>::new()
    );
}
