//! Catalog mode and toolsets, in process on the embedded sandbox, through rmcp's client:
//!
//! - the same calls made directly and through `call_tool` (an allowed read, a write refused by
//!   read access, an unknown tool, invalid arguments, an area the policy turns off, an area
//!   outside the toolsets) give the same results and the same audit rows, under the real
//!   tools' names;
//! - `--toolsets` hides and refuses what it leaves out, and never widens the policy;
//! - catalog mode's `tools/list` is three tools, under 3 KB;
//! - `search_tools` lists only tools the agent may call, and `describe_tool` refuses the
//!   others as a call is refused;
//! - the built binary takes both flags from the environment, and boolean environment flags
//!   take 1/0/yes/no as well as true/false.

mod common;
mod http_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use livechat_mcp::{
    agent::{Agent, Toolsets},
    audit::{AuditStore, Entry, QueryFilter},
    config::Settings,
    policy::Policy,
    server::{Catalog, LiveChatServer},
    tools,
};
use rmcp::model::{CallToolRequestParams, CallToolResult, ListToolsResult};
use serde_json::{Value, json};

const TOOLSETS: &str = "chats,events,agents";

/// `helper` reads chats, events and customers and runs groups; the toolsets keep chats, events
/// and agents, which the policy leaves off.
fn policy() -> Policy {
    let (text, _) = http_support::policy(&[(
        "helper",
        r#"{ chats = "read", events = "read", customers = "read", groups = "full" }"#,
    )]);
    Policy::parse(&text, "catalog-policy.toml").expect("policy")
}

fn with_toolsets(settings: &Settings, toolsets: Option<&str>) -> Settings {
    let mut settings = settings.clone();
    settings.toolsets = toolsets.map(|t| Toolsets::parse(t).expect("toolsets"));
    settings
}

/// The server for `helper` under `settings`, auditing into `audit`.
fn server(settings: &Settings, audit: Option<AuditStore>, catalog_mode: bool) -> LiveChatServer {
    let policy = policy();
    let agent = Agent::from_policy(policy.agent("helper").expect("helper"), settings).unwrap();
    let catalog = Arc::new(Catalog::new(settings.version).expect("catalog"));
    LiveChatServer::for_agent(catalog, agent, audit).with_catalog_mode(catalog_mode)
}

async fn raw_call(client: &common::Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .expect("tools/call answered")
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An audit row without what differs from run to run (time, duration, MAC, process).
fn comparable(entry: &Entry) -> Value {
    json!({
        "id": entry.id,
        "agent": entry.agent,
        "tool": entry.tool,
        "area": entry.area,
        "access": entry.access,
        "decision": entry.decision.as_str(),
        "reason": entry.reason,
        "outcome": entry.outcome.as_str(),
        "error_type": entry.error_type,
        "targets": serde_json::to_value(&entry.targets).expect("targets"),
        "summary": without_time(&entry.summary),
        "completes": entry.completes,
        "attempts": entry.attempts,
        "identity": entry.identity,
    })
}

/// A row's sentence without the call's duration (`done in 6 ms`).
fn without_time(summary: &str) -> String {
    match summary.split_once("done in ") {
        Some((before, after)) => {
            let rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{before}done in _{rest}")
        }
        None => summary.to_string(),
    }
}

async fn rows(store: &AuditStore) -> Vec<Entry> {
    let mut rows = store.query(&QueryFilter::default()).await.expect("query");
    rows.sort_by_key(|e| e.id);
    rows
}

/// The calls both ways: (tool, arguments).
fn sequence() -> Vec<(&'static str, Value)> {
    vec![
        ("whoami", json!({})),
        ("list_chats", json!({"limit": 5})),
        ("get_chat", json!({"chat_id": "PJ0MRSHTDG"})),
        (
            "send_event",
            http_support::event("refused: events is read-only"),
        ),
        ("no_such_tool", json!({"x": 1})),
        ("get_chat", json!({})),
        ("list_agents", json!({})),
        (
            "get_customer",
            json!({"customer_id": "b7eff798-f8df-4364-8059-649c35c9ed0c"}),
        ),
        ("list_groups", json!({})),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn call_tool_gives_the_results_and_audit_rows_of_direct_calls() {
    let (_sandbox, upstream) = http_support::sandbox().await;
    let settings = with_toolsets(&upstream, Some(TOOLSETS));
    let dir = common::TempDir::new("catalog-same");
    let direct_store = AuditStore::open(&dir.join("direct.db")).expect("audit");
    let catalog_store = AuditStore::open(&dir.join("catalog.db")).expect("audit");
    let direct = common::serve(server(&settings, Some(direct_store.clone()), false)).await;
    let catalog = common::serve(server(&settings, Some(catalog_store.clone()), true)).await;

    for (tool, args) in sequence() {
        let straight = raw_call(&direct, tool, args.clone()).await;
        let through = raw_call(
            &catalog,
            "call_tool",
            json!({"name": tool, "arguments": args}),
        )
        .await;
        assert_eq!(
            serde_json::to_value(&through).unwrap(),
            serde_json::to_value(&straight).unwrap(),
            "{tool}: call_tool's result is the direct call's"
        );
    }

    // What each call got, as the model reads it.
    let outcomes: Vec<(bool, String)> = {
        let mut out = Vec::new();
        for (tool, args) in sequence() {
            let result = raw_call(&direct, tool, args).await;
            out.push((result.is_error == Some(true), text(&result)));
        }
        out
    };
    assert!(
        !outcomes[0].0
            && outcomes[0]
                .1
                .contains("\"toolsets\":[\"chats\",\"events\",\"agents\"]"),
        "whoami: {}",
        outcomes[0].1
    );
    assert!(!outcomes[1].0, "list_chats is allowed: {}", outcomes[1].1);
    assert!(!outcomes[2].0, "get_chat is allowed: {}", outcomes[2].1);
    for (i, tool) in [
        (3, "send_event"),
        (4, "no_such_tool"),
        (6, "list_agents"),
        (7, "get_customer"),
        (8, "list_groups"),
    ] {
        assert!(outcomes[i].0, "{tool} is refused");
        assert!(
            outcomes[i].1.starts_with(&format!(
                "not_available: tool `{tool}` is not available to agent helper"
            )),
            "{tool}: {}",
            outcomes[i].1
        );
    }
    assert!(
        outcomes[5].0
            && outcomes[5]
                .1
                .starts_with("invalid_arguments: `get_chat` was not called"),
        "{}",
        outcomes[5].1
    );

    let direct_rows = rows(&direct_store).await;
    let catalog_rows = rows(&catalog_store).await;
    // Twice the sequence on the direct server; once through call_tool.
    assert_eq!(catalog_rows.len() * 2, direct_rows.len());
    let first: Vec<Value> = direct_rows[..catalog_rows.len()]
        .iter()
        .map(comparable)
        .collect();
    let through: Vec<Value> = catalog_rows.iter().map(comparable).collect();
    assert_eq!(
        through, first,
        "call_tool's audit rows are the direct calls'"
    );

    // The rows name the real tools, never a catalog tool, and say why each refusal was made.
    let tools: BTreeSet<&str> = catalog_rows.iter().map(|r| r.tool.as_str()).collect();
    for catalog_tool in ["call_tool", "search_tools", "describe_tool"] {
        assert!(!tools.contains(catalog_tool), "{tools:?}");
    }
    let reason = |tool: &str| {
        catalog_rows
            .iter()
            .filter(|r| r.tool == tool)
            .filter_map(|r| r.reason.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    assert_eq!(reason("send_event"), "events is read-only for helper");
    assert_eq!(reason("no_such_tool"), "no such tool");
    assert_eq!(reason("list_agents"), "agents is off for helper");
    assert_eq!(
        reason("get_customer"),
        "customers is outside the server's toolsets (chats,events,agents)"
    );
    assert_eq!(
        reason("list_groups"),
        "groups is outside the server's toolsets (chats,events,agents)"
    );
    let get_chat: Vec<&Entry> = catalog_rows
        .iter()
        .filter(|r| r.tool == "get_chat")
        .collect();
    assert!(
        get_chat.iter().any(|r| r.outcome.as_str() == "ok")
            && get_chat
                .iter()
                .any(|r| r.error_type.as_deref() == Some("invalid_arguments")),
        "{:?}",
        get_chat.iter().map(|r| comparable(r)).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn toolsets_hide_and_refuse_and_never_widen_the_policy() {
    let (_sandbox, upstream) = http_support::sandbox().await;
    let all = common::serve(server(&upstream, None, false)).await;
    let narrowed = common::serve(server(
        &with_toolsets(&upstream, Some(TOOLSETS)),
        None,
        false,
    ))
    .await;
    let names = |tools: Vec<rmcp::model::Tool>| -> Vec<String> {
        tools.into_iter().map(|t| t.name.to_string()).collect()
    };
    let everything = names(all.list_all_tools().await.unwrap());
    let listed = names(narrowed.list_all_tools().await.unwrap());
    let keep = Toolsets::parse(TOOLSETS).unwrap();
    let expected: Vec<String> = everything
        .iter()
        .filter(|name| tools::find(name).is_none_or(|spec| keep.contains(spec.area)))
        .cloned()
        .collect();
    assert_eq!(listed, expected);
    assert!(listed.iter().any(|n| n == "list_chats"), "{listed:?}");
    // customers and groups are granted but outside the toolsets; agents is in them but off.
    for hidden in ["get_customer", "list_groups", "create_group", "list_agents"] {
        assert!(
            everything.iter().any(|n| n == hidden) != (hidden == "list_agents"),
            "{hidden}"
        );
        assert!(!listed.iter().any(|n| n == hidden), "{hidden} is hidden");
        let (is_error, _, text) = common::call(&narrowed, hidden, json!({})).await;
        assert!(is_error, "{hidden} is refused");
        assert_eq!(
            text,
            format!(
                "not_available: tool `{hidden}` is not available to agent helper\nhint: call `whoami` to see what this agent may do, and tools/list for its tools"
            ),
        );
    }
    let (_, whoami, _) = common::call(&narrowed, "whoami", json!({})).await;
    let whoami = whoami.unwrap();
    assert_eq!(whoami["toolsets"], json!(["chats", "events", "agents"]));
    let told: Vec<&str> = whoami["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        told,
        listed[1..].iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[test]
fn an_unknown_toolset_is_refused_with_the_valid_names() {
    let err = Toolsets::parse("chats, nope").unwrap_err();
    assert!(err.contains("`nope` is not a toolset"), "{err}");
    for area in tools::Area::ALL {
        assert!(err.contains(area.as_str()), "{err}");
    }
    assert!(
        Toolsets::parse(" , ")
            .unwrap_err()
            .contains("no toolset given")
    );
    assert_eq!(
        Toolsets::parse("events,chats").unwrap().to_string(),
        "chats,events"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_mode_lists_three_tools_in_under_3_kb() {
    let (_sandbox, upstream) = http_support::sandbox().await;
    let mut full = upstream.clone();
    full.access = livechat_mcp::policy::Level::Full;
    let catalog_mode = LiveChatServer::new(&full).unwrap().with_catalog_mode(true);
    let client = common::serve(catalog_mode).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["search_tools", "describe_tool", "call_tool"]);
    let bytes = serde_json::to_vec(&ListToolsResult::with_all_items(tools.clone()))
        .unwrap()
        .len();
    let direct = LiveChatServer::new(&full).unwrap();
    let direct_bytes = serde_json::to_vec(&ListToolsResult::with_all_items(direct.tools()))
        .unwrap()
        .len();
    println!(
        "tools/list, all granted: catalog mode {bytes} bytes, one tool per method {direct_bytes} bytes"
    );
    assert!(
        bytes < 3 * 1024,
        "catalog mode's tools/list is {bytes} bytes"
    );
    assert!(bytes * 10 < direct_bytes, "{bytes} vs {direct_bytes}");
    // The instructions say how to reach the tools.
    let info = client.peer_info().expect("server info");
    let instructions = info.instructions.as_deref().unwrap_or_default();
    assert!(
        instructions.contains("`search_tools`") && instructions.contains("`call_tool`"),
        "{instructions}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_tools_lists_only_callable_tools_and_describe_tool_refuses_the_rest() {
    let (_sandbox, upstream) = http_support::sandbox().await;
    let settings = with_toolsets(&upstream, Some(TOOLSETS));
    let direct = common::serve(server(&settings, None, false)).await;
    let catalog = common::serve(server(&settings, None, true)).await;
    let direct_tools = direct.list_all_tools().await.unwrap();
    let callable: Vec<String> = direct_tools.iter().map(|t| t.name.to_string()).collect();

    let found = |answer: &Value| -> Vec<String> {
        answer["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["name"].as_str().expect("name").to_string())
            .collect()
    };
    let (is_error, all, text) = common::call(&catalog, "search_tools", json!({})).await;
    assert!(!is_error, "{text}");
    let all = all.unwrap();
    assert_eq!(
        found(&all),
        callable,
        "without words: every tool the agent may call"
    );
    for tool in all["tools"].as_array().unwrap() {
        assert!(
            tool["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty() && !d.contains('\n')),
            "{tool}"
        );
        assert!(
            ["read", "write"].contains(&tool["access"].as_str().unwrap()),
            "{tool}"
        );
    }

    let (_, chats, _) = common::call(&catalog, "search_tools", json!({"query": "chats"})).await;
    let chats = found(&chats.unwrap());
    assert!(chats.contains(&"list_chats".to_string()), "{chats:?}");
    assert!(chats.iter().all(|n| callable.contains(n)), "{chats:?}");
    assert!(chats.len() < callable.len(), "{chats:?}");

    let (_, archives, _) = common::call(
        &catalog,
        "search_tools",
        json!({"query": "list archives", "area": "chats"}),
    )
    .await;
    let archives = found(&archives.unwrap());
    assert_eq!(
        archives.first().map(String::as_str),
        Some("list_archives"),
        "most words first: {archives:?}"
    );
    assert!(
        archives
            .iter()
            .all(|n| tools::find(n).is_some_and(|s| s.area.as_str() == "chats")),
        "{archives:?}"
    );

    // Granted but outside the toolsets, in them but off, and words nothing has: nothing.
    for args in [
        json!({"area": "customers"}),
        json!({"area": "agents"}),
        json!({"query": "customer"}),
        json!({"query": "zebra"}),
    ] {
        let (is_error, answer, text) = common::call(&catalog, "search_tools", args.clone()).await;
        assert!(!is_error, "{text}");
        let answer = answer.unwrap();
        assert_eq!(found(&answer), Vec::<String>::new(), "{args}");
        assert!(answer["note"].as_str().is_some(), "{answer}");
    }
    let (is_error, _, text) = common::call(&catalog, "search_tools", json!({"area": "nope"})).await;
    assert!(
        is_error
            && text.starts_with(
                "invalid_arguments: `search_tools` did nothing: `area` must be one of chats, events"
            ),
        "{text}"
    );

    // describe_tool: each callable tool whole, as the direct tools/list has it.
    for tool in &direct_tools {
        let (is_error, described, text) =
            common::call(&catalog, "describe_tool", json!({"name": tool.name})).await;
        assert!(!is_error, "{}: {text}", tool.name);
        assert_eq!(
            described.unwrap(),
            serde_json::to_value(tool).unwrap(),
            "{}",
            tool.name
        );
    }
    // The rest are refused with the words a call to them gets.
    for name in [
        "get_customer",
        "list_agents",
        "send_event",
        "no_such_tool",
        "call_tool",
    ] {
        let (is_error, _, described) =
            common::call(&catalog, "describe_tool", json!({"name": name})).await;
        let (_, _, called) = common::call(&direct, name, json!({})).await;
        assert!(is_error, "{name}");
        assert_eq!(described, called, "{name}");
    }
    // call_tool's own mistakes name the problem and call nothing.
    for (args, says) in [
        (json!({}), "`name` is required"),
        (
            json!({"name": "list_chats", "limit": 5}),
            "`limit` is not one of its fields (name, arguments)",
        ),
        (
            json!({"name": "list_chats", "arguments": 5}),
            "`arguments` must be an object",
        ),
    ] {
        let (is_error, _, text) = common::call(&catalog, "call_tool", args.clone()).await;
        assert!(
            is_error
                && text.starts_with("invalid_arguments: `call_tool` did nothing: ")
                && text.contains(says),
            "{args}: {text}"
        );
    }
    // Arguments sent as a JSON string are read as the object.
    let (is_error, answer, text) = common::call(
        &catalog,
        "call_tool",
        json!({"name": "get_chat", "arguments": "{\"chat_id\": \"PJ0MRSHTDG\"}"}),
    )
    .await;
    assert!(!is_error, "{text}");
    assert_eq!(answer.unwrap()["id"], "PJ0MRSHTDG");
}

/// The built binary over stdio, flags from the environment.
mod binary {
    use std::process::{Command, Stdio};

    use rmcp::{
        ServiceExt,
        transport::{ConfigureCommandExt, TokioChildProcess},
    };
    use serde_json::json;

    fn base(cmd: &mut tokio::process::Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LIVECHAT_MCP_AUDIT", "off")
            .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
            .stderr(Stdio::null());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn serve_takes_catalog_and_toolsets_from_the_environment() {
        let command =
            tokio::process::Command::new(env!("CARGO_BIN_EXE_livechat-mcp")).configure(|cmd| {
                base(cmd);
                cmd.args(["--sandbox", "serve"])
                    .env("LIVECHAT_MCP_CATALOG", "1")
                    .env("LIVECHAT_MCP_TOOLSETS", "chats");
            });
        let client: crate::common::Client =
            ().serve(TokioChildProcess::new(command).unwrap())
                .await
                .unwrap();
        let names: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(names, ["search_tools", "describe_tool", "call_tool"]);
        let (is_error, whoami, text) =
            crate::common::call(&client, "call_tool", json!({"name": "whoami"})).await;
        assert!(!is_error, "{text}");
        assert_eq!(whoami.unwrap()["toolsets"], json!(["chats"]));
        let (is_error, _, text) =
            crate::common::call(&client, "call_tool", json!({"name": "list_agents"})).await;
        assert!(is_error && text.starts_with("not_available"), "{text}");
        let _ = client.cancel().await;
    }

    fn run(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LIVECHAT_MCP_AUDIT", "off")
            .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
            .envs(envs.iter().copied())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    #[test]
    fn an_unknown_toolset_stops_serve_before_it_starts() {
        let (code, _, stderr) = run(&["--sandbox", "serve", "--toolsets", "chats,nope"], &[]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains("`nope` is not a toolset") && stderr.contains("tags_properties"),
            "{stderr}"
        );
        let (code, _, stderr) = run(
            &["--sandbox", "serve"],
            &[("LIVECHAT_MCP_TOOLSETS", "webhook")],
        );
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("`webhook` is not a toolset"), "{stderr}");
    }

    #[test]
    fn boolean_environment_flags_take_1_0_yes_no_true_false() {
        for (value, raw) in [
            ("1", true),
            ("yes", true),
            ("true", true),
            ("on", true),
            ("0", false),
            ("no", false),
            ("false", false),
        ] {
            let (code, stdout, stderr) = run(
                &["--sandbox", "call", "whoami"],
                &[("LIVECHAT_MCP_RAW_CUSTOMER_TEXT", value)],
            );
            assert_eq!(code, Some(0), "{value}: {stderr}");
            let whoami: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
            let said = whoami["customer_text"].as_str().unwrap_or_default();
            assert_eq!(said.starts_with("raw"), raw, "{value}: {said}");
        }
        let (code, _, stderr) = run(
            &["--sandbox", "call", "whoami"],
            &[("LIVECHAT_MCP_RAW_CUSTOMER_TEXT", "maybe")],
        );
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("maybe"), "{stderr}");
        // The HTTP server's own boolean flag parses the same way (and then does its job).
        let (code, _, stderr) = run(
            &["--sandbox", "serve", "--http", "0"],
            &[("LIVECHAT_MCP_REQUIRE_OWN_IDENTITY", "1")],
        );
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("--http needs --policy"), "{stderr}");
    }
}

/// `text` with every approval request id (`APR-` and ten characters) as `APR-…`.
fn without_request_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("APR-") {
        out.push_str(&rest[..at]);
        out.push_str("APR-…");
        let after = &rest[at + 4..];
        let id_len = after
            .char_indices()
            .take_while(|(_, c)| c.is_ascii_alphanumeric())
            .map(|(i, c)| i + c.len_utf8())
            .last()
            .unwrap_or(0);
        rest = &after[id_len..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_call_through_call_tool_is_held_approved_and_sent_as_a_direct_one() {
    use livechat_mcp::approvals::Approvals;
    let policy = Policy::parse(
        "[agents.ops]\naccess = { \"*\" = \"full\" }\napprove = [\"send_event\"]\n",
        "policy.toml",
    )
    .expect("policy");
    let mut seen = Vec::new();
    for catalog_mode in [false, true] {
        // A sandbox each, so both sends find the same license.
        let (_sandbox, upstream) = http_support::sandbox().await;
        let dir = common::TempDir::new("catalog-held");
        let location = dir.join("audit.db").display().to_string();
        let audit = AuditStore::open_location(&location).await.expect("trail");
        let approvals = Approvals::open(&location).await.expect("approvals");
        let agent = Agent::from_policy(policy.agent("ops").unwrap(), &upstream).unwrap();
        let catalog = Arc::new(Catalog::new(upstream.version).expect("catalog"));
        let server = LiveChatServer::for_agent(catalog, agent, Some(audit.clone()))
            .with_approvals(approvals.clone())
            .with_catalog_mode(catalog_mode);
        let client = common::serve(server).await;
        let args = http_support::event("held until a person approves");
        let send = || async {
            if catalog_mode {
                let through = json!({"name": "send_event", "arguments": args.clone()});
                common::call(&client, "call_tool", through).await
            } else {
                common::call(&client, "send_event", args.clone()).await
            }
        };
        let (held, _, held_text) = send().await;
        assert!(
            held && held_text.starts_with("pending_approval: request APR-"),
            "{held_text}"
        );
        let id = held_text
            .split_whitespace()
            .find(|w| w.starts_with("APR-"))
            .unwrap()
            .to_string();
        approvals
            .decide(&id, true, "console:alice", None)
            .await
            .expect("approved");
        let (failed, answer, sent_text) = send().await;
        assert!(!failed, "{sent_text}");
        assert!(answer.unwrap()["event_id"].is_string());
        let rows: Vec<Value> = rows(&audit)
            .await
            .iter()
            .map(|r| {
                let row = comparable(r).to_string();
                serde_json::from_str(&without_request_ids(&row)).expect("JSON")
            })
            .collect();
        assert!(rows.iter().all(|r| r["tool"] == "send_event"), "{rows:?}");
        seen.push((without_request_ids(&held_text), rows));
    }
    assert_eq!(seen[1], seen[0], "held and sent alike through call_tool");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_events_returns_only_the_toolsets_events() {
    use livechat_mcp::events::{EventLog, LogOptions, NewEvent};
    let (_sandbox, upstream) = http_support::sandbox().await;
    let dir = common::TempDir::new("catalog-events");
    let log = EventLog::open_sqlite(&dir.join("events.db"), LogOptions::default()).expect("log");
    let (text, _) = http_support::policy(&[("watcher", r#"{ chats = "read", agents = "read" }"#)]);
    let policy = Policy::parse(&text, "policy.toml").expect("policy");
    let mut actions = Vec::new();
    for toolsets in [None, Some("agents")] {
        let settings = with_toolsets(&upstream, toolsets);
        let agent = Agent::from_policy(policy.agent("watcher").unwrap(), &settings).unwrap();
        let catalog = Arc::new(Catalog::new(settings.version).expect("catalog"));
        let client =
            common::serve(LiveChatServer::for_agent(catalog, agent, None).with_events(log.clone()))
                .await;
        let (_, start, _) = common::call(&client, "get_events", json!({})).await;
        let cursor = start.unwrap()["cursor"].clone();
        let n = actions.len();
        for (action, chat) in [
            ("incoming_event", Some("PJ0MRSHTDG")),
            ("agent_created", None),
        ] {
            log.append(NewEvent {
                action: action.into(),
                chat_id: chat.map(Into::into),
                thread_id: chat.map(|_| "K600PKZON8".into()),
                dedupe: format!("{action}{n}"),
                earlier: None,
                payload: json!({"payload": {"chat_id": chat, "id": "agent@example.com"}}),
            })
            .await
            .expect("append");
        }
        let (is_error, page, text) =
            common::call(&client, "get_events", json!({"after": cursor})).await;
        assert!(!is_error, "{text}");
        let page = page.unwrap();
        let seen: Vec<String> = page["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["action"].as_str().unwrap_or_default().to_string())
            .collect();
        actions.push(seen);
    }
    assert_eq!(
        actions[0],
        ["incoming_event", "agent_created"],
        "all granted areas"
    );
    assert_eq!(actions[1], ["agent_created"], "only the toolsets' areas");
}
