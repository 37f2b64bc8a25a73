//! Shared test helpers: a LiveChat stand-in (wiremock) and a real MCP client connected to the
//! server over an in-memory pipe.

#![allow(dead_code)]

use livechat_mcp::{
    config::{AccessLevel, Credentials, Settings},
    server::LiveChatServer,
    tools,
    version::ApiVersion,
};
use rmcp::{RoleClient, ServiceExt, model::CallToolRequestParams, service::RunningService};
use serde_json::{Value, json};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub type Client = RunningService<RoleClient, ()>;

pub fn settings(api_url: &str, version: ApiVersion, access: AccessLevel) -> Settings {
    let mut settings = Settings::new(api_url);
    settings.version = version;
    settings.access = access;
    settings.credentials = Credentials::from_values(Some("test-token"), None, None);
    settings.timeout = std::time::Duration::from_secs(2);
    settings
}

/// Starts the server for `settings` and connects an rmcp client to it.
pub async fn connect(settings: &Settings) -> Client {
    let server = LiveChatServer::new(settings).expect("server");
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client connects")
}

pub async fn connect_to(mock: &MockServer, version: ApiVersion, access: AccessLevel) -> Client {
    connect(&settings(&mock.uri(), version, access)).await
}

/// Calls a tool and returns (is_error, structured content, text).
pub async fn call(client: &Client, tool: &str, args: Value) -> (bool, Option<Value>, String) {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .expect("tools/call answered");
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    (
        result.is_error == Some(true),
        result.structured_content,
        text,
    )
}

/// The SDK fixture cases of one version.
pub fn fixture_cases(version: ApiVersion) -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/sdk/v{version}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: Value = serde_json::from_str(&text).expect("fixture JSON");
    file["cases"].as_array().expect("cases").clone()
}

/// A LiveChat stand-in's responder for the end-to-end tests: answers every method with
/// `{"method": <name>}` (or `[{"method": <name>}]` where LiveChat answers with a list), so each
/// result can be traced to its call and fits its output schema.
pub struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let method = request.url.path().rsplit('/').next().unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(echo(method))
    }
}

/// Whether LiveChat answers `method` with a list (its tool wraps it as `{"items": [...]}`).
pub fn lists(method: &str) -> bool {
    tools::find(method).is_some_and(|t| t.output_schema()["required"] == json!(["items"]))
}

/// What [`Echo`] answers for `method`.
pub fn echo(method: &str) -> Value {
    if lists(method) {
        json!([{ "method": method }])
    } else {
        json!({ "method": method })
    }
}

/// The structured content a tool returns for [`Echo`]'s answer.
pub fn echo_structured(tool: &str) -> Value {
    if lists(tool) {
        json!({ "items": echo(tool) })
    } else {
        echo(tool)
    }
}
