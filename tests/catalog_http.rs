//! Catalog mode and toolsets over `serve --http`, in process on the sandbox: the policy's
//! agents get the toolsets and the catalog from the server's settings; `tools/list` is three
//! tools in under 3 KB on the wire; the same calls made directly (on a server without the
//! catalog) and through `call_tool` give the same results and the same audit rows.

mod http_support;

use http_support::{McpClient, TempDir, audit_rows, event, policy, sandbox, start_audited};
use livechat_mcp::{agent::Toolsets, audit::Entry, policy::Policy};
use serde_json::{Value, json};

fn comparable(entry: &Entry) -> Value {
    let summary = match entry.summary.split_once("done in ") {
        Some((before, after)) => format!(
            "{before}done in _{}",
            after.trim_start_matches(|c: char| c.is_ascii_digit())
        ),
        None => entry.summary.clone(),
    };
    json!({
        "id": entry.id, "agent": entry.agent, "tool": entry.tool, "area": entry.area,
        "access": entry.access, "decision": entry.decision.as_str(), "reason": entry.reason,
        "outcome": entry.outcome.as_str(), "error_type": entry.error_type,
        "targets": serde_json::to_value(&entry.targets).unwrap(), "summary": summary,
        "completes": entry.completes, "attempts": entry.attempts, "identity": entry.identity,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn over_http_call_tool_is_a_direct_call_and_toolsets_bind_every_agent() {
    let (_sandbox, upstream) = sandbox().await;
    let (text, keys) = policy(&[
        (
            "helper",
            r#"{ chats = "read", events = "read", customers = "read" }"#,
        ),
        ("ops", r#"{ "*" = "full" }"#),
    ]);
    let parse = || Policy::parse(&text, "policy.toml").expect("policy");
    let mut direct_settings = upstream.clone();
    direct_settings.toolsets = Some(Toolsets::parse("chats,events").unwrap());
    let mut catalog_settings = direct_settings.clone();
    catalog_settings.catalog = true;
    let (direct_dir, catalog_dir) = (TempDir::new("direct"), TempDir::new("catalog"));
    let mut direct_server = start_audited(parse(), &direct_settings, &direct_dir).await;
    let mut catalog_server = start_audited(parse(), &catalog_settings, &catalog_dir).await;

    // Every agent of the policy, `ops` with everything granted included, gets the toolsets.
    for key in &keys {
        let direct = McpClient::connect(&direct_server.base, key).await;
        let listed = direct.tools().await;
        assert!(listed.iter().any(|n| n == "list_chats"), "{listed:?}");
        assert!(
            !listed
                .iter()
                .any(|n| n == "get_customer" || n == "list_agents"),
            "{listed:?}"
        );
    }

    let direct = McpClient::connect(&direct_server.base, &keys[0]).await;
    let catalog = McpClient::connect(&catalog_server.base, &keys[0]).await;
    let response = catalog
        .post(&json!({"jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": {}}))
        .await;
    let body = response.text().await.expect("body");
    println!("catalog mode tools/list over HTTP: {} bytes", body.len());
    assert!(body.len() < 3 * 1024, "{} bytes: {body}", body.len());
    assert_eq!(
        catalog.tools().await,
        ["search_tools", "describe_tool", "call_tool"]
    );

    let calls = [
        ("list_chats", json!({"limit": 5})),
        ("send_event", event("refused: read-only")),
        ("no_such_tool", json!({})),
        ("get_chat", json!({})),
        (
            "get_customer",
            json!({"customer_id": "b7eff798-f8df-4364-8059-649c35c9ed0c"}),
        ),
        ("list_agents", json!({})),
    ];
    for (tool, args) in &calls {
        let (direct_error, straight) = direct.call(tool, args.clone()).await;
        let (catalog_error, through) = catalog
            .call("call_tool", json!({"name": tool, "arguments": args}))
            .await;
        assert_eq!(through, straight, "{tool}");
        assert_eq!(catalog_error, direct_error, "{tool}");
        assert_eq!(direct_error, *tool != "list_chats", "{tool}: {straight}");
    }
    direct_server.stop().await.expect("stops");
    catalog_server.stop().await.expect("stops");

    let direct_rows: Vec<Value> = audit_rows(&direct_dir.join("audit.db"))
        .await
        .iter()
        .map(comparable)
        .collect();
    let catalog_rows: Vec<Value> = audit_rows(&catalog_dir.join("audit.db"))
        .await
        .iter()
        .map(comparable)
        .collect();
    assert_eq!(catalog_rows, direct_rows);
    let reasons: Vec<&str> = catalog_rows
        .iter()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            "events is read-only for helper",
            "no such tool",
            "customers is outside the server's toolsets (chats,events)",
            "agents is off for helper",
        ]
    );
}
