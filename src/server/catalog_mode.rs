//! Catalog mode (`--catalog`): `tools/list` offers three tools instead of one per method, for
//! clients that cap how many tools a server may offer, or whose context is small.
//!
//! - `search_tools` finds the tools this agent may call now, by words and/or area;
//! - `describe_tool` gives one of them whole (input schema, annotations);
//! - `call_tool` runs one by name, through [`LiveChatServer::call_with`] like a direct call, so
//!   policy, validation, approvals, the audit row (under the real tool's name) and the result
//!   are the same.
//!
//! Searching and describing are reads of what `tools/list` would have said; like `tools/list`
//! they send nothing to LiveChat and write no audit row.

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde_json::{Value, json};

use super::{
    CallContext, CallOutcome, LiveChatServer, Refusal, WHOAMI, as_object, json_result, whoami_tool,
};
use crate::{agent::Denial, error::FailureKind, tools::Area};

/// The server's instructions in catalog mode.
pub(super) const INSTRUCTIONS: &str = concat!(
    "Tools for a LiveChat help desk, one per LiveChat Web API method, named as LiveChat names them, reached through three tools: `search_tools` finds the ones you may call (by words or area), `describe_tool` gives one's input schema, `call_tool` runs one by name. Call `whoami` through `call_tool` first to see which areas you may read or change. ",
    guidance!()
);

/// One of the three tools of catalog mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CatalogModeTool {
    Search,
    Describe,
    Call,
}

impl CatalogModeTool {
    const ALL: [CatalogModeTool; 3] = [
        CatalogModeTool::Search,
        CatalogModeTool::Describe,
        CatalogModeTool::Call,
    ];

    const fn name(self) -> &'static str {
        match self {
            CatalogModeTool::Search => "search_tools",
            CatalogModeTool::Describe => "describe_tool",
            CatalogModeTool::Call => "call_tool",
        }
    }
}

/// The three tools, as `tools/list` gives them.
pub(super) fn tools() -> Vec<Tool> {
    CatalogModeTool::ALL.into_iter().map(tool).collect()
}

/// The MCP description of one catalog tool. Every byte is read into the model's context.
pub(super) fn tool(which: CatalogModeTool) -> Tool {
    let lookup = ToolAnnotations::new().read_only(true).open_world(false);
    match which {
        CatalogModeTool::Search => {
            let areas: Vec<&str> = Area::ALL.iter().map(|a| a.as_str()).collect();
            Tool::new(
                which.name(),
                "Find the tools you may call now: name, access (read or write), area and one line each. Without `query` or `area`, lists them all.",
                as_object(json!({
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "description": "Words to find in a tool's name or description; a tool matching more words comes first."},
                        "area": {"type": "string", "enum": areas, "description": "Only this area's tools."}
                    },
                    "additionalProperties": false
                })),
            )
            .with_title("Search tools")
            .with_annotations(lookup)
        }
        CatalogModeTool::Describe => Tool::new(
            which.name(),
            "One tool you may call, whole: its description, input schema and annotations. Read it before calling the tool.",
            as_object(json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "The tool's name, as search_tools gives it."}
                },
                "required": ["name"],
                "additionalProperties": false
            })),
        )
        .with_title("Describe a tool")
        .with_annotations(lookup),
        CatalogModeTool::Call => Tool::new(
            which.name(),
            "Call a tool by name. The result, or the refusal, is the tool's own, as if it were called directly; write tools change the help desk.",
            as_object(json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "The tool's name."},
                    "arguments": {"type": "object", "description": "Its arguments, as its input schema (describe_tool) says."}
                },
                "required": ["name"],
                "additionalProperties": false
            })),
        )
        .with_title("Call a tool"),
    }
}

/// A tool this agent may call, as `search_tools` lists it.
struct Found {
    name: String,
    access: &'static str,
    area: Option<Area>,
    line: String,
}

impl Found {
    /// The text words are looked for in: name (also split at `_`), area and line, lowercase.
    fn haystack(&self) -> String {
        format!(
            "{} {} {} {}",
            self.name,
            self.name.replace('_', " "),
            self.area.map_or("", Area::as_str),
            self.line
        )
        .to_lowercase()
    }
}

/// A description's first sentence, without its full stop.
fn first_sentence(text: &str) -> String {
    text.split(". ")
        .next()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_string()
}

/// A query's words, lowercase, a plural's `s` taken off (`chats` finds `chat`).
fn words(query: &str) -> Vec<String> {
    query
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_lowercase();
            match w.strip_suffix('s') {
                Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_string(),
                _ => w,
            }
        })
        .collect()
}

/// A catalog tool's own arguments were wrong: nothing was called.
fn invalid(tool: CatalogModeTool, why: &str) -> CallOutcome {
    CallOutcome {
        result: CallToolResult::error(vec![ContentBlock::text(format!(
            "invalid_arguments: `{}` did nothing: {why}\nhint: its input schema in tools/list lists every field",
            tool.name()
        ))]),
        failure_kind: Some(FailureKind::InvalidArguments),
        input_required: None,
    }
}

fn answer(value: &Value) -> CallOutcome {
    CallOutcome {
        result: json_result(value),
        failure_kind: None,
        input_required: None,
    }
}

/// A string argument, or why not.
fn string_field(arguments: &JsonObject, field: &str) -> Result<Option<String>, String> {
    match arguments.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{field}` must be a string")),
    }
}

/// Refuses fields other than `allowed`.
fn only(arguments: &JsonObject, allowed: &[&str]) -> Result<(), String> {
    match arguments.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(other) => {
            let shown: String = other.chars().take(64).collect();
            Err(format!(
                "`{shown}` is not one of its fields ({})",
                allowed.join(", ")
            ))
        }
    }
}

/// `call_tool`'s name and the called tool's arguments. Arguments sent as a JSON string of an
/// object (a slip models make) are read as that object.
fn call_arguments(mut arguments: JsonObject) -> Result<(String, JsonObject), String> {
    only(&arguments, &["name", "arguments"])?;
    let name = string_field(&arguments, "name")?
        .ok_or_else(|| "`name` is required: the tool to call".to_string())?;
    let inner = match arguments.remove("arguments") {
        None | Some(Value::Null) => JsonObject::new(),
        Some(Value::Object(inner)) => inner,
        Some(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(inner)) => inner,
            _ => return Err("`arguments` must be an object".to_string()),
        },
        Some(_) => return Err("`arguments` must be an object".to_string()),
    };
    Ok((name, inner))
}

impl LiveChatServer {
    /// The catalog tool `name` is, when the server is in catalog mode.
    pub(super) fn catalog_tool(&self, name: &str) -> Option<CatalogModeTool> {
        if !self.catalog_mode {
            return None;
        }
        CatalogModeTool::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Runs one catalog tool. `call_tool` hands its tool to [`LiveChatServer::call_with`]
    /// whole: that call's outcome is this one's.
    pub(super) async fn call_catalog(
        &self,
        tool: CatalogModeTool,
        arguments: Option<JsonObject>,
        context: CallContext,
    ) -> CallOutcome {
        let arguments = arguments.unwrap_or_default();
        match tool {
            CatalogModeTool::Search => self.search_tools(&arguments),
            CatalogModeTool::Describe => self.describe_tool(&arguments),
            CatalogModeTool::Call => match call_arguments(arguments) {
                Ok((name, arguments)) => self.call_with(&name, Some(arguments), context).await,
                Err(why) => invalid(tool, &why),
            },
        }
    }

    /// Every tool this agent may call now: `whoami`, `get_events` when there is an event log,
    /// then the LiveChat tools its grants, the toolsets and its token's scopes allow.
    fn callable(&self) -> Vec<Found> {
        let mut found = vec![Found {
            name: WHOAMI.to_string(),
            access: "read",
            area: None,
            line: first_sentence(whoami_tool().description.as_deref().unwrap_or_default()),
        }];
        if self.events.is_some() {
            let events = crate::events::tool::tool();
            found.push(Found {
                name: events.name.to_string(),
                access: "read",
                area: None,
                line: first_sentence(events.description.as_deref().unwrap_or_default()),
            });
        }
        found.extend(self.specs().map(|spec| Found {
            name: spec.name.to_string(),
            access: spec.access.as_str(),
            area: Some(spec.area),
            line: spec.summary(),
        }));
        found
    }

    fn search_tools(&self, arguments: &JsonObject) -> CallOutcome {
        let tool = CatalogModeTool::Search;
        let parsed = only(arguments, &["query", "area"]).and_then(|()| {
            let query = string_field(arguments, "query")?.unwrap_or_default();
            let area = match string_field(arguments, "area")? {
                None => None,
                Some(name) => Some(Area::parse(&name).ok_or_else(|| {
                    let areas: Vec<&str> = Area::ALL.iter().map(|a| a.as_str()).collect();
                    format!("`area` must be one of {}", areas.join(", "))
                })?),
            };
            Ok((query, area))
        });
        let (query, area) = match parsed {
            Ok(parsed) => parsed,
            Err(why) => return invalid(tool, &why),
        };
        let words = words(&query);
        let mut scored: Vec<(usize, Found)> = self
            .callable()
            .into_iter()
            .filter(|f| area.is_none() || f.area == area)
            .map(|f| {
                let haystack = f.haystack();
                let score = words
                    .iter()
                    .filter(|w| haystack.contains(w.as_str()))
                    .count();
                (score, f)
            })
            .filter(|(score, _)| words.is_empty() || *score > 0)
            .collect();
        // Most words matched first; ties keep the catalog's order.
        scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
        let listed: Vec<Value> = scored
            .into_iter()
            .map(|(_, f)| {
                let mut entry = json!({"name": f.name, "access": f.access, "description": f.line});
                if let Some(area) = f.area {
                    entry["area"] = json!(area.as_str());
                }
                entry
            })
            .collect();
        let empty = listed.is_empty();
        let mut out = json!({ "tools": listed });
        if empty {
            out["note"] = json!(
                "no tool you may call matches; try other words, or no `query` to list them all"
            );
        }
        answer(&out)
    }

    fn describe_tool(&self, arguments: &JsonObject) -> CallOutcome {
        let tool = CatalogModeTool::Describe;
        let name = match only(arguments, &["name"]).and_then(|()| string_field(arguments, "name")) {
            Ok(Some(name)) => name,
            Ok(None) => return invalid(tool, "`name` is required: the tool to describe"),
            Err(why) => return invalid(tool, &why),
        };
        match self.callable_tool(&name) {
            Ok(described) => answer(&serde_json::to_value(&described).unwrap_or(Value::Null)),
            // The refusal a call to it gets: a tool that is not granted and one that does not
            // exist read alike.
            Err(Refusal::Denied(failure, _)) | Err(Refusal::Failed(failure)) => CallOutcome {
                result: CallToolResult::error(vec![ContentBlock::text(failure.text)]),
                failure_kind: Some(failure.kind),
                input_required: None,
            },
            Err(_) => invalid(tool, "the tool cannot be described"),
        }
    }

    /// The MCP tool `name`, if this agent may call it now; else the refusal a call gets.
    fn callable_tool(&self, name: &str) -> Result<Tool, Refusal> {
        if name == WHOAMI {
            return Ok(whoami_tool());
        }
        if name == crate::events::tool::NAME && self.events.is_some() {
            return Ok(crate::events::tool::tool());
        }
        let Some(entry) = self.catalog.get(name) else {
            return Err(self.refuse(name, None, Denial::NoSuchTool));
        };
        match self.agent().check(entry.spec) {
            Ok(()) => Ok(entry.tool.clone()),
            Err(denial) => Err(self.refuse(name, Some(entry.spec), denial)),
        }
    }
}
