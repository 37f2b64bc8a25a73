//! The server through a real MCP client (rmcp) against a LiveChat stand-in: listing, every
//! tool's round trip, and each way a call can fail.

mod common;

use std::time::Duration;

use common::{call, connect, connect_to, settings};
use livechat_mcp::{config::Credentials, policy::Level, tools, version::ApiVersion};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{any, header, method, path},
};

async fn stand_in(status: u16, body: Value) -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&mock)
        .await;
    mock
}

async fn requests(mock: &MockServer) -> usize {
    mock.received_requests().await.map_or(0, |r| r.len())
}

#[tokio::test]
async fn lists_every_tool_of_the_version_with_schemas_and_annotations() {
    let mock = stand_in(200, json!({})).await;
    for version in [ApiVersion::V3_6, ApiVersion::V3_5] {
        let count = common::tool_count(version);
        let client = connect_to(&mock, version, Level::Full).await;
        let mut listed = client.list_all_tools().await.expect("tools/list");
        assert_eq!(listed.first().map(|t| t.name.as_ref()), Some("whoami"));
        listed.remove(0);
        assert_eq!(
            listed.len(),
            count,
            "v{version}: LiveChat tools besides whoami"
        );
        for tool in &listed {
            let spec = tools::find(&tool.name).expect("listed tool has a spec");
            assert_eq!(tool.input_schema.get("type"), Some(&json!("object")));
            // No output schema: it would oblige a second copy of every result.
            assert!(tool.output_schema.is_none(), "{}: outputSchema", tool.name);
            // Hints are read with MCP's defaults: not read-only, destructive, not idempotent.
            let annotations = tool.annotations.as_ref().expect("annotations");
            let read_only = annotations.read_only_hint.unwrap_or(false);
            assert_eq!(
                read_only,
                spec.access == tools::Access::Read,
                "{}",
                tool.name
            );
            if !read_only {
                assert_eq!(
                    annotations.destructive_hint.unwrap_or(true),
                    spec.destructive,
                    "{}",
                    tool.name
                );
                assert_eq!(
                    annotations.idempotent_hint.unwrap_or(false),
                    spec.idempotent,
                    "{}",
                    tool.name
                );
            }
            assert!(tool.title.is_some());
        }
        let preview = listed.iter().any(|t| t.name == "send_event_preview");
        assert_eq!(preview, version == ApiVersion::V3_6);
        client.cancel().await.ok();
    }
}

#[tokio::test]
async fn read_access_lists_and_allows_only_reads() {
    let mock = stand_in(200, json!({})).await;
    let client = connect_to(&mock, ApiVersion::V3_6, Level::Read).await;
    let listed = client.list_all_tools().await.expect("tools/list");
    // The v3.6 ones: `list_customers` reads, but only in v3.5.
    let reads = tools::all()
        .filter(|t| t.access == tools::Access::Read && t.available_in(ApiVersion::V3_6))
        .count();
    assert_eq!(listed.len(), reads + 1, "the read tools and whoami");
    assert!(
        listed
            .iter()
            .all(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
    );

    let (is_error, _, hidden) = call(&client, "deactivate_chat", json!({"id": "PJ0MRSHTDG"})).await;
    assert!(is_error);
    let (_, _, unknown) = call(&client, "no_such_tool", json!({})).await;
    assert_eq!(
        hidden.replace("deactivate_chat", "X"),
        unknown.replace("no_such_tool", "X"),
        "a hidden tool and an unknown one get the same answer"
    );
    assert!(hidden.starts_with("not_available:"), "{hidden}");
    assert_eq!(
        requests(&mock).await,
        0,
        "a refused call sends nothing upstream"
    );
}

#[tokio::test]
async fn success_passes_the_object_through_as_json_text_once() {
    let answer =
        json!({"chats_summary": [{"id": "PJ0MRSHTDG"}], "found_chats": 1, "extra": {"kept": true}});
    let mock = stand_in(200, answer.clone()).await;
    let client = connect_to(&mock, ApiVersion::V3_6, Level::Read).await;
    let (is_error, structured, text) = call(&client, "list_chats", json!({"limit": 1})).await;
    assert!(!is_error, "{text}");
    assert_eq!(structured, Some(answer.clone()));
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("text is JSON"),
        answer
    );
}

#[tokio::test]
async fn a_top_level_array_is_wrapped_in_items() {
    let mock = stand_in(200, json!([{"id": 1}, {"id": 2}])).await;
    let client = connect_to(&mock, ApiVersion::V3_6, Level::Read).await;
    let (is_error, structured, _) = call(&client, "list_chats", json!({})).await;
    assert!(!is_error);
    assert_eq!(structured, Some(json!({"items": [{"id": 1}, {"id": 2}]})));
}

#[tokio::test]
async fn livechat_error_envelopes_are_tool_errors_whatever_the_status() {
    for status in [200, 400, 401, 403, 500] {
        let mock = stand_in(
            status,
            json!({"error": {"type": "authorization", "message": "Insufficient scopes", "data": {"scope": "x"}}}),
        )
        .await;
        let client = connect_to(&mock, ApiVersion::V3_6, Level::Read).await;
        let (is_error, structured, text) =
            call(&client, "get_chat", json!({"chat_id": "PJ0MRSHTDG"})).await;
        assert!(is_error, "HTTP {status}");
        assert!(structured.is_none());
        assert!(
            text.starts_with("authorization: Insufficient scopes\n"),
            "HTTP {status}: {text}"
        );
        assert!(
            text.contains("`chats--all:ro` or `chats--access:ro`"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn validation_errors_start_with_type_and_message() {
    let mock = stand_in(
        200,
        json!({"error": {"type": "validation", "message": "`chat_id` is invalid"}}),
    )
    .await;
    let client = connect_to(&mock, ApiVersion::V3_5, Level::Read).await;
    let (is_error, _, text) = call(&client, "get_chat", json!({"chat_id": "nope"})).await;
    assert!(is_error);
    assert!(
        text.starts_with("validation: `chat_id` is invalid\nhint: "),
        "{text}"
    );
}

#[tokio::test]
async fn a_timeout_is_a_tool_error_that_says_so() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&mock)
        .await;
    let mut s = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
    s.timeout = Duration::from_secs(1);
    let client = connect(&s).await;
    let (is_error, _, text) = call(&client, "list_chats", json!({})).await;
    assert!(is_error);
    assert!(
        text.starts_with("timeout: LiveChat did not answer `list_chats` within 1 s"),
        "{text}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let client = connect(&settings(&url, ApiVersion::V3_6, Level::Read)).await;
    let (is_error, _, text) = call(&client, "list_chats", json!({})).await;
    assert!(is_error);
    assert!(
        text.starts_with("network: could not reach LiveChat for `list_chats`"),
        "{text}"
    );
}

#[tokio::test]
async fn a_non_json_answer_is_a_bad_response() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .mount(&mock)
        .await;
    let client = connect_to(&mock, ApiVersion::V3_6, Level::Read).await;
    let (is_error, _, text) = call(&client, "list_chats", json!({})).await;
    assert!(is_error);
    assert!(
        text.starts_with(
            "bad_response: LiveChat answered `list_chats` with HTTP 502 and a body that is not JSON"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn without_credentials_tools_list_works_and_calls_say_what_to_set() {
    let mock = stand_in(200, json!({})).await;
    let mut s = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
    s.credentials = Credentials::from_values(None, None, None);
    let client = connect(&s).await;
    assert!(
        !client
            .list_all_tools()
            .await
            .expect("tools/list")
            .is_empty()
    );
    let (is_error, _, text) = call(&client, "list_chats", json!({})).await;
    assert!(is_error);
    assert!(
        text.contains("LIVECHAT_ACCESS_TOKEN") && text.contains("LIVECHAT_PAT"),
        "{text}"
    );
    assert_eq!(requests(&mock).await, 0);
}

#[tokio::test]
async fn bad_arguments_name_the_field_and_send_nothing() {
    let mock = stand_in(200, json!({})).await;
    let cases: &[(ApiVersion, &str, Value, &str)] = &[
        (
            ApiVersion::V3_6,
            "get_chat",
            json!({}),
            "`chat_id` is required",
        ),
        (
            ApiVersion::V3_6,
            "get_chat",
            json!({"chat_id": 5}),
            "`chat_id`",
        ),
        (
            ApiVersion::V3_6,
            "get_chat",
            json!({"chat_id": "A", "chat": "B"}),
            "`chat` is not a field",
        ),
        (
            ApiVersion::V3_6,
            "list_chats",
            json!({"limit": 101}),
            "`limit`",
        ),
        (
            ApiVersion::V3_6,
            "list_chats",
            json!({"limit": 0}),
            "`limit`",
        ),
        (
            ApiVersion::V3_6,
            "list_chats",
            json!({"sort_order": "sideways"}),
            "`sort_order`",
        ),
        (
            ApiVersion::V3_6,
            "list_chats",
            json!({"filters": {"group_ids": ["x"]}}),
            "`filters.group_ids[0]`",
        ),
        (
            ApiVersion::V3_5,
            "list_chats",
            json!({"filters": {"active": true}}),
            "`filters.active` is not a field",
        ),
        (
            ApiVersion::V3_6,
            "list_chats",
            json!({"filters": {"include_active": true}}),
            "`filters.include_active` is not a field",
        ),
        (
            ApiVersion::V3_6,
            "deactivate_chat",
            json!({"chat_id": "X"}),
            "`id` is required",
        ),
    ];
    for (version, tool, args, expected) in cases {
        let client = connect_to(&mock, *version, Level::Full).await;
        let (is_error, structured, text) = call(&client, tool, args.clone()).await;
        assert!(is_error, "{tool} {args}");
        assert!(structured.is_none());
        assert!(text.starts_with("invalid_arguments: "), "{text}");
        assert!(
            text.contains(expected),
            "{tool} {args}: expected {expected:?} in {text}"
        );
        client.cancel().await.ok();
    }
    assert_eq!(
        requests(&mock).await,
        0,
        "invalid arguments must never reach LiveChat"
    );
}

#[tokio::test]
async fn region_prefix_is_sent_and_a_misdirected_request_is_retried_once() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("X-Region", "dal"))
        .respond_with(ResponseTemplate::new(421).set_body_json(
            json!({"error": {"type": "misdirected_request", "message": "Wrong region", "data": {"region": "fra"}}}),
        ))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(header("X-Region", "fra"))
        .and(path("/v3.6/agent/action/list_chats"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"chats_summary": []})))
        .mount(&mock)
        .await;
    let mut s = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
    s.credentials = Credentials::from_values(Some("dal:secret-token-123"), None, None);
    let client = connect(&s).await;
    let (is_error, structured, text) = call(&client, "list_chats", json!({})).await;
    assert!(!is_error, "{text}");
    assert_eq!(structured, Some(json!({"chats_summary": []})));
    assert_eq!(requests(&mock).await, 2);
}

#[tokio::test]
async fn a_second_misdirection_is_reported_not_looped() {
    let mock = stand_in(421, json!({"error": {"type": "misdirected_request", "message": "Wrong region", "data": {"region": "fra"}}})).await;
    let mut s = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
    s.credentials = Credentials::from_values(Some("dal:secret-token-123"), None, None);
    let client = connect(&s).await;
    let (is_error, _, text) = call(&client, "list_chats", json!({})).await;
    assert!(is_error);
    assert!(
        text.starts_with("misdirected_request: Wrong region"),
        "{text}"
    );
    assert!(
        !text.contains("secret-token-123"),
        "the token must never be echoed"
    );
    assert_eq!(requests(&mock).await, 2);
}

#[tokio::test]
async fn personal_access_tokens_use_basic_auth_and_oauth_uses_bearer() {
    let mock = MockServer::start().await;
    Mock::given(header("Authorization", "Basic YWNjLTE6c2VjcmV0LXBhdA=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"via": "basic"})))
        .mount(&mock)
        .await;
    Mock::given(header("Authorization", "Bearer plain-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"via": "bearer"})))
        .mount(&mock)
        .await;
    for (creds, via) in [
        (
            Credentials::from_values(None, Some("secret-pat"), Some("acc-1")),
            "basic",
        ),
        (
            Credentials::from_values(Some("plain-token"), None, None),
            "bearer",
        ),
    ] {
        let mut s = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
        s.credentials = creds;
        let client = connect(&s).await;
        let (_, structured, text) = call(&client, "list_chats", json!({})).await;
        assert_eq!(structured, Some(json!({"via": via})), "{text}");
    }
    let received = mock.received_requests().await.expect("requests");
    assert!(
        received.iter().all(|r| r.headers.get("X-Region").is_none()),
        "no region without a prefix"
    );
}

/// Every tool, both versions, through MCP: the fixture's minimal call succeeds with the
/// stand-in's answer, and a LiveChat error answer becomes `isError` with its type first.
#[tokio::test]
async fn every_tool_round_trips_and_reports_errors() {
    for version in ApiVersion::ALL {
        let mock = MockServer::start().await;
        let client = connect_to(&mock, version, Level::Full).await;
        let mut seen = std::collections::BTreeSet::new();
        for case in common::fixture_cases(version) {
            if case["case"] != "minimal" {
                continue;
            }
            let tool = case["tool"].as_str().expect("tool").to_string();
            mock.reset().await;
            Mock::given(method("POST"))
                .and(path(case["path"].as_str().expect("path")))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": tool})))
                .mount(&mock)
                .await;
            let (is_error, structured, text) = call(&client, &tool, case["args"].clone()).await;
            assert!(!is_error, "v{version} {tool}: {text}");
            assert_eq!(structured, Some(json!({"ok": tool})));

            mock.reset().await;
            Mock::given(any())
                .respond_with(ResponseTemplate::new(400).set_body_json(
                    json!({"error": {"type": "validation", "message": format!("{tool} refused")}}),
                ))
                .mount(&mock)
                .await;
            let (is_error, _, text) = call(&client, &tool, case["args"].clone()).await;
            assert!(
                is_error && text.starts_with(&format!("validation: {tool} refused")),
                "{text}"
            );
            seen.insert(tool);
        }
        let expected: std::collections::BTreeSet<String> = tools::all()
            .filter(|t| t.available_in(version))
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(
            seen, expected,
            "v{version}: every tool needs a minimal fixture case"
        );
    }
}
