//! The MCP server: which tools a client sees, and the single path every tool call takes
//! (availability → argument check → request body → LiveChat → result).

use std::{collections::HashMap, sync::Arc, time::Instant};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
        Tool, ToolAnnotations,
    },
    service::RequestContext,
};
use serde_json::Value;

use crate::{
    client::ApiClient,
    config::{AccessLevel, Settings},
    error::ToolFailure,
    tools::{self, Access, ToolSpec, schema::ArgumentValidator},
    version::ApiVersion,
};

const INSTRUCTIONS: &str = "Tools for a LiveChat help desk, one per LiveChat Web API method, named as LiveChat names them. Read tools (list_chats, get_chat, list_archives, get_customer, list_agents, ...) are safe to call; write tools reach customers or change the license, so confirm intent first. Chats are identified by `chat_id`, except deactivate_chat, transfer_chat and the chat property tools, which call it `id`. Errors start with LiveChat's error type and carry a hint.";

/// One tool as served: its spec, the MCP description and the compiled argument check.
struct ServedTool {
    spec: &'static ToolSpec,
    tool: Tool,
    validator: ArgumentValidator,
}

/// The outcome of one tool call: what the client gets, and the error kind if it failed.
#[derive(Debug)]
pub struct CallOutcome {
    pub result: CallToolResult,
    pub failure_kind: Option<String>,
}

struct Inner {
    client: ApiClient,
    version: ApiVersion,
    tools: Vec<ServedTool>,
    by_name: HashMap<&'static str, usize>,
}

/// The LiveChat MCP server. Cheap to clone; every session of the HTTP transport shares one.
#[derive(Clone)]
pub struct LiveChatServer {
    inner: Arc<Inner>,
}

impl LiveChatServer {
    /// Builds the server for `settings`: the tools of its API version that its access level
    /// allows, with their schemas compiled once.
    pub fn new(settings: &Settings) -> anyhow::Result<LiveChatServer> {
        let client = ApiClient::new(settings)?;
        let version = settings.version;
        let mut tools = Vec::new();
        for spec in tools::all() {
            if !spec.available_in(version) || !allowed(spec, settings.access) {
                continue;
            }
            let input = spec.input_schema(version);
            let validator = ArgumentValidator::new(&input).map_err(|e| {
                anyhow::anyhow!("the input schema of `{}` does not compile: {e}", spec.name)
            })?;
            tools.push(ServedTool {
                spec,
                tool: mcp_tool(spec, input),
                validator,
            });
        }
        let by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.spec.name, i))
            .collect();
        Ok(LiveChatServer {
            inner: Arc::new(Inner {
                client,
                version,
                tools,
                by_name,
            }),
        })
    }

    pub fn version(&self) -> ApiVersion {
        self.inner.version
    }

    /// The specs of the tools this server offers, in area order.
    pub fn specs(&self) -> impl Iterator<Item = &'static ToolSpec> + '_ {
        self.inner.tools.iter().map(|t| t.spec)
    }

    /// The MCP tool descriptions this server lists.
    pub fn tools(&self) -> Vec<Tool> {
        self.inner.tools.iter().map(|t| t.tool.clone()).collect()
    }

    /// Runs one tool call. This is the only path from a client to LiveChat.
    pub async fn call(&self, name: &str, arguments: Option<JsonObject>) -> CallOutcome {
        let started = Instant::now();
        let outcome = self.run(name, arguments).await;
        match &outcome {
            Ok(_) => tracing::info!(
                tool = name,
                ms = started.elapsed().as_millis() as u64,
                "call ok"
            ),
            Err(f) => {
                tracing::info!(tool = name, error = %f.kind, ms = started.elapsed().as_millis() as u64, "call failed")
            }
        }
        match outcome {
            Ok(value) => CallOutcome {
                result: CallToolResult::structured(value),
                failure_kind: None,
            },
            Err(failure) => CallOutcome {
                result: CallToolResult::error(vec![ContentBlock::text(failure.text)]),
                failure_kind: Some(failure.kind),
            },
        }
    }

    async fn run(&self, name: &str, arguments: Option<JsonObject>) -> Result<Value, ToolFailure> {
        let served = self
            .inner
            .by_name
            .get(name)
            .map(|&i| &self.inner.tools[i])
            .ok_or_else(|| not_available(name))?;
        let spec = served.spec;
        let arguments = Value::Object(arguments.unwrap_or_default());
        let invalid = |problems: String| ToolFailure {
            kind: "invalid_arguments".to_string(),
            text: format!(
                "invalid_arguments: `{}` was not called, nothing was sent to LiveChat:\n{problems}\nhint: fix the fields named above; the tool's input schema lists every field",
                spec.name
            ),
        };
        served.validator.check(&arguments).map_err(invalid)?;
        let body = spec.prepare(arguments).map_err(invalid)?;
        let value = self
            .inner
            .client
            .call(spec.api(), spec.name, &body)
            .await
            .map_err(|e| ToolFailure {
                kind: e.kind().to_string(),
                text: e.describe(spec.name, spec.scopes),
            })?;
        Ok(object_result(value))
    }
}

fn allowed(spec: &ToolSpec, access: AccessLevel) -> bool {
    access == AccessLevel::Full || spec.access == Access::Read
}

/// The same answer for a tool that does not exist and one that is not granted, so a refusal
/// reveals nothing.
fn not_available(name: &str) -> ToolFailure {
    let shown: String = name.chars().take(64).collect();
    ToolFailure {
        kind: "not_available".to_string(),
        text: format!(
            "not_available: tool `{shown}` is not available on this server\nhint: call tools/list for the tools you can use; write tools need --access full"
        ),
    }
}

/// Results stay objects: a bare array becomes `{"items": [...]}`, any other non-object
/// `{"value": ...}`.
fn object_result(value: Value) -> Value {
    match value {
        Value::Object(_) => value,
        Value::Array(items) => serde_json::json!({ "items": items }),
        other => serde_json::json!({ "value": other }),
    }
}

/// The MCP description of a tool, all derived from its spec.
pub fn mcp_tool(spec: &ToolSpec, input_schema: Value) -> Tool {
    let annotations = ToolAnnotations::with_title(spec.title)
        .read_only(spec.access == Access::Read)
        .destructive(spec.destructive)
        .idempotent(spec.idempotent)
        .open_world(true);
    Tool::new(spec.name, spec.description(), as_object(input_schema))
        .with_title(spec.title)
        .with_raw_output_schema(Arc::new(as_object(spec.output_schema())))
        .with_annotations(annotations)
}

fn as_object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

impl ServerHandler for LiveChatServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("livechat-mcp", env!("CARGO_PKG_VERSION"))
                    .with_title("LiveChat"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let outcome = self.call(&request.name, request.arguments).await;
        Ok(outcome.result.into())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let index = *self.inner.by_name.get(name)?;
        Some(self.inner.tools[index].tool.clone())
    }
}
