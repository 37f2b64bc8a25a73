//! The reviewed form of a tool: what `tools/<name>.json` holds. Everything in it is derived
//! from the tool's spec, so a change to a spec shows up as a snapshot diff.

use serde_json::{Map, Value, json};

use super::ToolSpec;
use crate::{server::mcp_tool, version::ApiVersion};

/// The snapshot of one tool: name, area, flags, scopes, versions, description, the audit
/// facts (what it names, its sentence), its webhook action, annotations, the input schema per
/// version it exists in, and the output schema.
pub fn render(spec: &ToolSpec) -> Value {
    let mut inputs = Map::new();
    for version in ApiVersion::ALL
        .into_iter()
        .filter(|v| spec.available_in(*v))
    {
        inputs.insert(version.to_string(), spec.input_schema(version));
    }
    let latest = spec.versions.iter().max().copied().unwrap_or_default();
    let (description, input) = spec.listing(latest, false);
    let annotations = mcp_tool(spec, description, input)
        .annotations
        .map(|a| serde_json::to_value(a).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let mut out = json!({
        "name": spec.name,
        "title": spec.title,
        "area": spec.area.as_str(),
        "api": spec.api().as_str(),
        "access": spec.access.as_str(),
        "destructive": spec.destructive,
        "idempotent": spec.idempotent,
        "scopes": spec.scopes.to_json(),
        "versions": spec.versions.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        "description": spec.description(),
        "audit": {
            "names": spec.names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>(),
            "said": format!("{} / {} {}", spec.said.past, spec.said.base, spec.said.object),
        },
        "webhook": spec.webhook,
        "annotations": annotations,
        "input_schema": inputs,
        "output_schema": spec.output_schema(),
    });
    // Only a tool with fields that exist only with `--upload-dir` (stdio) shows that schema.
    if spec.reads_upload_dir()
        && let Value::Object(fields) = &mut out
    {
        let local: Map<String, Value> = ApiVersion::ALL
            .into_iter()
            .filter(|v| spec.available_in(*v))
            .map(|v| (v.to_string(), spec.input_schema_with_upload_dir(v)))
            .collect();
        fields.insert("input_schema_with_upload_dir".into(), Value::Object(local));
    }
    // Only tools whose answers hold secrets say so; the others' files stay as they were.
    if !spec.secrets.is_empty()
        && let Value::Object(fields) = &mut out
    {
        fields.insert("redacted_from_answer".into(), json!(spec.secrets));
    }
    out
}

/// The file text: pretty JSON with a final newline.
pub fn render_text(spec: &ToolSpec) -> String {
    let mut text = serde_json::to_string_pretty(&render(spec)).unwrap_or_default();
    text.push('\n');
    text
}

/// The README's tools table, by area: generated, so the README cannot drift from the code.
pub fn readme_table() -> String {
    let mut out = String::from(
        "| area | tool | access | versions | what it does |\n| --- | --- | --- | --- | --- |\n",
    );
    for spec in super::all() {
        let first = spec.summary();
        let mut access = spec.access.as_str().to_string();
        if spec.destructive {
            access.push_str(", destructive");
        }
        let versions = spec
            .versions
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| {} | `{}` | {access} | {versions} | {} |\n",
            spec.area.as_str(),
            spec.name,
            first.replace('|', "\\|")
        ));
    }
    out
}
