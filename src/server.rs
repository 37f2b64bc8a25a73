//! The MCP server: which tools an agent sees, and the single path every tool call takes
//! (policy → argument check → request body → LiveChat → audit → result).

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
        Tool, ToolAnnotations,
    },
    service::RequestContext,
};
use serde_json::{Value, json};

use crate::{
    agent::{Agent, Denial},
    audit::{AuditStore, NewEntry},
    config::Settings,
    error::{FailureKind, StartError, ToolFailure},
    tools::{self, Access, ToolSpec, schema::ArgumentValidator},
    version::ApiVersion,
};

const INSTRUCTIONS: &str = "Tools for a LiveChat help desk, one per LiveChat Web API method, named as LiveChat names them. Call `whoami` first to see which areas you may read or change. Read tools (list_chats, get_chat, list_archives, get_customer, list_agents, ...) are safe to call; write tools reach customers or change the license, so confirm intent first. Chats are identified by `chat_id`, except deactivate_chat, transfer_chat and the chat property tools, which call it `id`. Errors start with LiveChat's error type and carry a hint.";

/// What a call does once it passed policy and the argument check.
enum Step {
    /// Answered here (`whoami`): nothing goes to LiveChat.
    Answer(Value),
    /// A request to LiveChat.
    Send {
        spec: &'static ToolSpec,
        body: Value,
    },
}

/// The tool that tells an agent who it is and what it may do; not a LiveChat method.
pub const WHOAMI: &str = "whoami";

/// One tool of the API version: its spec, the MCP description and the compiled argument check.
struct CatalogTool {
    spec: &'static ToolSpec,
    tool: Tool,
    validator: ArgumentValidator,
}

/// Every LiveChat tool of one API version, built once and shared by all agents and sessions.
pub struct Catalog {
    version: ApiVersion,
    tools: Vec<CatalogTool>,
    by_name: HashMap<&'static str, usize>,
}

impl Catalog {
    pub fn new(version: ApiVersion) -> Result<Catalog, StartError> {
        let mut tools = Vec::new();
        for spec in tools::all().filter(|s| s.available_in(version)) {
            let input = spec.input_schema(version);
            let validator =
                ArgumentValidator::new(&input).map_err(|detail| StartError::Schema {
                    tool: spec.name,
                    detail,
                })?;
            tools.push(CatalogTool {
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
        Ok(Catalog {
            version,
            tools,
            by_name,
        })
    }

    fn get(&self, name: &str) -> Option<&CatalogTool> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }
}

/// The outcome of one tool call: what the client gets, and the error kind if it failed.
#[derive(Debug)]
pub struct CallOutcome {
    pub result: CallToolResult,
    pub failure_kind: Option<FailureKind>,
}

/// Told about every tool call as it finishes, just before its audit row is written: the HTTP
/// server's metrics.
pub trait CallObserver: Send + Sync {
    /// `entry` is the call as audited; `elapsed` its time from receipt to result.
    fn call_finished(&self, entry: &NewEntry, elapsed: Duration);
}

/// The LiveChat MCP server for one agent. Cheap to clone.
#[derive(Clone)]
pub struct LiveChatServer {
    catalog: Arc<Catalog>,
    agent: Arc<Agent>,
    audit: Option<AuditStore>,
    observer: Option<Arc<dyn CallObserver>>,
}

impl LiveChatServer {
    /// The server for the local agent of `settings` (`--access`), without an audit trail.
    pub fn new(settings: &Settings) -> Result<LiveChatServer, StartError> {
        let catalog = Arc::new(Catalog::new(settings.version)?);
        Ok(LiveChatServer::for_agent(
            catalog,
            Agent::local(settings)?,
            None,
        ))
    }

    /// The server `agent` talks to, recording every call in `audit` when there is one.
    pub fn for_agent(
        catalog: Arc<Catalog>,
        agent: Agent,
        audit: Option<AuditStore>,
    ) -> LiveChatServer {
        LiveChatServer {
            catalog,
            agent: Arc::new(agent),
            audit,
            observer: None,
        }
    }

    /// The same server, also telling `observer` about every call.
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> LiveChatServer {
        self.observer = Some(observer);
        self
    }

    pub fn version(&self) -> ApiVersion {
        self.catalog.version
    }

    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Every LiveChat tool of the version with the agent's verdict on it.
    pub fn verdicts(&self) -> impl Iterator<Item = (&'static ToolSpec, Result<(), Denial>)> + '_ {
        self.catalog
            .tools
            .iter()
            .map(|t| (t.spec, self.agent.check(t.spec)))
    }

    /// The specs of the LiveChat tools this agent may call, in area order.
    pub fn specs(&self) -> impl Iterator<Item = &'static ToolSpec> + '_ {
        self.verdicts()
            .filter(|(_, verdict)| verdict.is_ok())
            .map(|(spec, _)| spec)
    }

    /// The MCP tools this agent sees: `whoami`, then the LiveChat tools it may call.
    pub fn tools(&self) -> Vec<Tool> {
        std::iter::once(whoami_tool())
            .chain(
                self.catalog
                    .tools
                    .iter()
                    .filter(|t| self.agent.check(t.spec).is_ok())
                    .map(|t| t.tool.clone()),
            )
            .collect()
    }

    /// Runs one tool call: the only path from a client to LiveChat. A call that goes to
    /// LiveChat is written ahead: its `pending` row is durable before the request is sent, and
    /// if it cannot be written nothing is sent. The outcome is recorded before the result is
    /// returned.
    pub async fn call(&self, name: &str, arguments: Option<JsonObject>) -> CallOutcome {
        let started = Instant::now();
        let arguments = arguments.unwrap_or_default();
        let recorded = recorded_name(name);
        let mut entry = NewEntry::new(&self.agent.name, &recorded, &arguments);
        let mut pending = None;
        let mut trail_down = false;
        let result = match self.prepare(name, arguments) {
            Ok(Step::Answer(value)) => Ok(value),
            Ok(Step::Send { spec, body }) => match self.write_ahead(&entry).await {
                Ok(id) => {
                    pending = id;
                    self.send(spec, &body).await
                }
                Err(failure) => {
                    trail_down = true;
                    Err((failure, None))
                }
            },
            Err(refused) => Err(refused),
        };
        let outcome = match result {
            Ok(value) => CallOutcome {
                result: json_result(&value),
                failure_kind: None,
            },
            Err((failure, denial)) => {
                entry = match denial {
                    Some(reason) => entry.denied(reason),
                    None => entry.failed(failure.kind.as_str()),
                };
                CallOutcome {
                    result: CallToolResult::error(vec![ContentBlock::text(failure.text)]),
                    failure_kind: Some(failure.kind),
                }
            }
        };
        let elapsed = started.elapsed();
        let mut entry = entry.took(elapsed.as_millis() as u64);
        if let Some(id) = pending {
            entry = entry.completing(id);
        }
        tracing::info!(agent = %self.agent.name, tool = %recorded, outcome = outcome.failure_kind.as_ref().map_or("ok", FailureKind::as_str), ms = entry.duration_ms, "tool call");
        if let Some(observer) = &self.observer {
            observer.call_finished(&entry, elapsed);
        }
        // When the trail just refused the pending row, it is not asked again (a locked
        // database would hold the answer for its whole busy timeout): the log has the call.
        if let Some(audit) = self.audit.as_ref().filter(|_| !trail_down)
            && let Err(e) = audit.append(entry).await
        {
            tracing::error!(
                "the audit trail could not record the outcome of a call to `{recorded}`{}: {e}",
                match pending {
                    Some(id) => format!(
                        " (its pending row is #{id}; it becomes `unknown` at the next start)"
                    ),
                    None => String::new(),
                }
            );
        }
        outcome
    }

    /// Everything before the request: policy, the argument check, the request body. An
    /// error carries the denial reason when policy refused the call.
    fn prepare(
        &self,
        name: &str,
        arguments: JsonObject,
    ) -> Result<Step, (ToolFailure, Option<String>)> {
        if name == WHOAMI {
            return Ok(Step::Answer(self.whoami()));
        }
        let Some(entry) = self.catalog.get(name) else {
            return Err(self.refuse(name, None, Denial::NoSuchTool));
        };
        let spec = entry.spec;
        if let Err(denial) = self.agent.check(spec) {
            return Err(self.refuse(name, Some(spec), denial));
        }
        // A top-level `null` means "not given" (the body leaves it out, as the SDK does), so
        // it is not held against the schema, where optional fields are not nullable.
        let mut arguments = arguments;
        arguments.retain(|_, value| !value.is_null());
        let arguments = Value::Object(arguments);
        let invalid = |problems: String| {
            let failure = ToolFailure {
                kind: FailureKind::InvalidArguments,
                text: format!(
                    "invalid_arguments: `{}` was not called, nothing was sent to LiveChat:\n{problems}\nhint: fix the fields named above; the tool's input schema lists every field",
                    spec.name
                ),
            };
            (failure, None)
        };
        entry.validator.check(&arguments).map_err(invalid)?;
        let body = spec.prepare(arguments).map_err(invalid)?;
        Ok(Step::Send { spec, body })
    }

    /// Records the call as `pending` before it is sent; returns the row's id, or `None`
    /// without a trail. When the row cannot be written the call is refused.
    async fn write_ahead(&self, entry: &NewEntry) -> Result<Option<u64>, ToolFailure> {
        let Some(audit) = &self.audit else {
            return Ok(None);
        };
        match audit.append(entry.pending()).await {
            Ok(row) => Ok(Some(row.id)),
            Err(e) => {
                tracing::error!(
                    "the audit trail could not record a call to `{}` ahead of sending it, so it was refused: {e}",
                    entry.tool
                );
                Err(ToolFailure {
                    kind: FailureKind::AuditUnavailable,
                    text: format!(
                        "audit_unavailable: `{}` was not called, nothing was sent to LiveChat: the audit trail could not record the call first\nhint: this is the server's fault, not the call's; its operator must look at the audit trail (the server log says why); try again later",
                        entry.tool
                    ),
                })
            }
        }
    }

    /// The request to LiveChat.
    async fn send(
        &self,
        spec: &'static ToolSpec,
        body: &Value,
    ) -> Result<Value, (ToolFailure, Option<String>)> {
        let value = self
            .agent
            .client
            .call(spec.api(), spec.name, body)
            .await
            .map_err(|e| {
                let failure = ToolFailure {
                    kind: e.kind(),
                    text: e.describe(spec.name, spec.scopes),
                };
                (failure, None)
            })?;
        Ok(object_result(value))
    }

    /// The same answer for a tool that does not exist and one that is not granted, so a
    /// refusal reveals nothing; the real reason goes to the audit trail only.
    fn refuse(
        &self,
        name: &str,
        spec: Option<&ToolSpec>,
        denial: Denial,
    ) -> (ToolFailure, Option<String>) {
        let shown: String = name.chars().take(64).collect();
        let failure = ToolFailure {
            kind: FailureKind::NotAvailable,
            text: format!(
                "not_available: tool `{shown}` is not available to agent {}\nhint: call `whoami` to see what this agent may do, and tools/list for its tools",
                self.agent.name
            ),
        };
        (failure, Some(self.agent.reason(spec, &denial)))
    }

    fn whoami(&self) -> Value {
        let grants: serde_json::Map<String, Value> = self
            .agent
            .grants
            .describe()
            .into_iter()
            .map(|(area, level)| (area.as_str().to_string(), json!(level.as_str())))
            .collect();
        json!({
            "agent": self.agent.name,
            "grants": grants,
            "api_version": self.catalog.version.as_str(),
            "tools": self.specs().map(|s| s.name).collect::<Vec<_>>(),
        })
    }
}

/// The tool name as the audit trail records it. A caller may put anything in the name of a tool
/// that does not exist; a name that cannot be a tool name is kept only as its SHA-256, like
/// other free text.
fn recorded_name(name: &str) -> String {
    let plausible = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plausible {
        name.to_string()
    } else {
        format!("sha256:{}", crate::digest::sha256_hex(name))
    }
}

/// Results stay objects: a bare array becomes `{"items": [...]}`, any other non-object
/// `{"value": ...}`.
fn object_result(value: Value) -> Value {
    match value {
        Value::Object(_) => value,
        Value::Array(items) => json!({ "items": items }),
        other => json!({ "value": other }),
    }
}

/// The MCP description of a tool, all derived from its spec. Annotations carry only what
/// differs from MCP's defaults (not read-only, destructive, not idempotent, open world), and
/// the title only once: every byte of `tools/list` is read into the model's context.
pub fn mcp_tool(spec: &ToolSpec, input_schema: Value) -> Tool {
    let annotations = match spec.access {
        Access::Read => ToolAnnotations::new().read_only(true),
        Access::Write => {
            let hints = ToolAnnotations::new();
            let hints = if spec.destructive {
                hints
            } else {
                hints.destructive(false)
            };
            if spec.idempotent {
                hints.idempotent(true)
            } else {
                hints
            }
        }
    };
    // No `outputSchema`: it would oblige a `structuredContent` copy of every result (see
    // [`json_result`]).
    Tool::new(spec.name, spec.description(), as_object(input_schema))
        .with_title(spec.title)
        .with_annotations(annotations)
}

/// A successful result: LiveChat's answer as compact JSON in one text block, sent once.
///
/// MCP asks a tool that returns `structuredContent` to repeat it as JSON text for clients
/// that read only `content`, and most clients (Claude Desktop among them) hand the model only
/// `content`. So the text block must carry the whole answer, and a `structuredContent` copy
/// would double every result (a 1 MB answer was 2.4 MB on the wire) for the few clients
/// that read it. The text is the answer; tools declare no `outputSchema`, which would make
/// the copy mandatory.
fn json_result(value: &Value) -> CallToolResult {
    let text = serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    CallToolResult::success(vec![ContentBlock::text(text)])
}

fn whoami_tool() -> Tool {
    let input = json!({"type": "object", "properties": {}, "additionalProperties": false});
    Tool::new(
        WHOAMI,
        "Your agent name, your access per area (off, read or full), the API version and the tools you may call.",
        as_object(input),
    )
    .with_title("Who am I")
    .with_annotations(ToolAnnotations::new().read_only(true).open_world(false))
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
        if name == WHOAMI {
            return Some(whoami_tool());
        }
        let entry = self.catalog.get(name)?;
        self.agent.check(entry.spec).ok()?;
        Some(entry.tool.clone())
    }
}
