//! Invariants of the tool registry that every tool must keep.

use std::collections::BTreeSet;

use livechat_mcp::{
    tools::{self, Access, Area},
    version::ApiVersion,
};
use serde_json::Value;

/// The brief's methods by area: the tool surface is part of the interface.
const BRIEF: &[(&str, &[&str])] = &[
    (
        "chats",
        &[
            "list_chats",
            "list_threads",
            "get_chat",
            "list_archives",
            "start_chat",
            "resume_chat",
            "deactivate_chat",
        ],
    ),
    (
        "events",
        &[
            "send_event",
            "send_event_preview",
            "send_rich_message_postback",
            "multicast",
        ],
    ),
    (
        "chat_access",
        &["transfer_chat", "add_user_to_chat", "remove_user_from_chat"],
    ),
    (
        "chat_properties",
        &[
            "update_chat_properties",
            "delete_chat_properties",
            "update_thread_properties",
            "delete_thread_properties",
            "update_event_properties",
            "delete_event_properties",
            "tag_thread",
            "untag_thread",
        ],
    ),
    (
        "customers",
        &[
            "get_customer",
            "update_customer",
            "ban_customer",
            "list_customers",
            "create_customer",
        ],
    ),
    (
        "agents",
        &[
            "create_agent",
            "get_agent",
            "list_agents",
            "update_agent",
            "delete_agent",
            "create_bot",
            "get_bot",
            "list_bots",
            "update_bot",
            "delete_bot",
        ],
    ),
    (
        "groups",
        &[
            "create_group",
            "get_group",
            "list_groups",
            "update_group",
            "delete_group",
        ],
    ),
    (
        "webhooks",
        &["register_webhook", "list_webhooks", "unregister_webhook"],
    ),
    (
        "tags_properties",
        &[
            "create_tag",
            "list_tags",
            "update_tag",
            "delete_tag",
            "register_property",
            "publish_property",
            "list_properties",
            "unregister_property",
            "list_license_properties",
            "list_groups_properties",
        ],
    ),
    ("routing", &["set_routing_status", "list_routing_statuses"]),
];

#[test]
fn every_brief_method_is_one_tool_in_its_area() {
    // The brief's methods are a floor, not the whole list: adding a method edits no test.
    for (area, names) in BRIEF {
        let area = Area::parse(area).expect("area");
        let ours: BTreeSet<&str> = area.tools().iter().map(|t| t.name).collect();
        for name in *names {
            assert!(
                ours.contains(name),
                "`{name}` is not in area {}",
                area.as_str()
            );
        }
    }
    let all: Vec<&str> = tools::all().map(|t| t.name).collect();
    let unique: BTreeSet<&str> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "duplicate tool names");
    for name in [
        "send_event_preview",
        "send_thinking_indicator",
        "request_thread_summary",
    ] {
        let spec = tools::find(name).expect(name);
        assert!(
            !spec.available_in(ApiVersion::V3_5) && spec.available_in(ApiVersion::V3_6),
            "{name} is 3.6 only"
        );
    }
    // v3.6 removed them from the Agent Chat API.
    for name in ["list_customers", "create_customer"] {
        let spec = tools::find(name).expect(name);
        assert!(
            spec.available_in(ApiVersion::V3_5) && !spec.available_in(ApiVersion::V3_6),
            "{name} is 3.5 only"
        );
    }
}

#[test]
fn every_tool_is_described_and_has_object_schemas() {
    for spec in tools::all() {
        let description = spec.description();
        assert!(
            description.len() >= 30,
            "{}: description too short: {description:?}",
            spec.name
        );
        assert!(!spec.title.is_empty(), "{}: title", spec.name);
        // LiveChat's docs name no scope for these; it serves `list_webhook_names` without
        // authorization.
        let unscoped = [
            "unfollow_chat",
            "list_agents_for_transfer",
            "list_webhook_names",
            "upload_file",
        ]
        .contains(&spec.name);
        assert_eq!(spec.scopes.is_empty(), unscoped, "{}: scopes", spec.name);
        for version in ApiVersion::ALL
            .into_iter()
            .filter(|v| spec.available_in(*v))
        {
            let input = spec.input_schema(version);
            assert_eq!(
                input["type"], "object",
                "{} v{version}: input type",
                spec.name
            );
            // Shared shapes may sit in the tool's own `$defs` (MCP's schema dialect, JSON
            // Schema 2020-12, allows it); every reference must resolve there.
            every_ref_resolves(spec.name, &input, &input);
            for keyword in ["oneOf", "anyOf", "allOf", "$ref"] {
                assert!(
                    input.get(keyword).is_none(),
                    "{} v{version}: top-level {keyword}",
                    spec.name
                );
            }
            assert!(
                !input.to_string().contains("x-versions"),
                "{}: version marks leaked",
                spec.name
            );
            assert_eq!(
                input["additionalProperties"],
                Value::Bool(false),
                "{}: unknown fields must be rejected",
                spec.name
            );
            every_field_described(spec.name, &input, "");
        }
        let output = spec.output_schema();
        assert_eq!(output["type"], "object", "{}: output type", spec.name);
        // A real answer must always satisfy the output schema, so nothing LiveChat might leave
        // out is required; only the `items` of a wrapped array is always there.
        let required = output
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        assert!(
            required.iter().all(|r| r == "items"),
            "{}: outputs must not require {required:?}",
            spec.name
        );
    }
}

fn every_ref_resolves(tool: &str, root: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                let target = reference
                    .strip_prefix('#')
                    .and_then(|pointer| root.pointer(pointer));
                assert!(target.is_some(), "{tool}: `{reference}` does not resolve");
            }
            map.values().for_each(|v| every_ref_resolves(tool, root, v));
        }
        Value::Array(items) => items.iter().for_each(|v| every_ref_resolves(tool, root, v)),
        _ => {}
    }
}

/// Every field of `schema` has a description: its own, or that of the shared shape it refers
/// to. A kind's `type` constant names itself. Looks inside arrays and each `oneOf`/`anyOf`
/// branch too.
fn every_field_described(tool: &str, schema: &Value, path: &str) {
    let root = schema;
    let mut missing = Vec::new();
    undescribed(root, schema, path, &mut missing);
    assert!(
        missing.is_empty(),
        "{tool}: fields without a description: {}",
        missing.join(", ")
    );
}

fn undescribed(root: &Value, schema: &Value, path: &str, missing: &mut Vec<String>) {
    if path.is_empty() {
        for (name, def) in root
            .get("$defs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            undescribed(root, def, &format!("$defs.{name}."), missing);
        }
    }
    for keyword in ["oneOf", "anyOf"] {
        for branch in schema
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            undescribed(root, branch, path, missing);
        }
    }
    if let Some(items) = schema.get("items") {
        undescribed(
            root,
            items,
            &format!("{}[].", path.trim_end_matches('.')),
            missing,
        );
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, field) in properties {
        let here = format!("{path}{name}");
        let described = |node: &Value| {
            node.get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.is_empty())
        };
        let referred = field
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| root.pointer(pointer));
        if !(described(field) || field.get("const").is_some() || referred.is_some_and(described)) {
            missing.push(format!("`{here}`"));
        }
        undescribed(root, field, &format!("{here}."), missing);
    }
}

#[test]
fn flags_are_consistent() {
    for spec in tools::all() {
        if spec.access == Access::Read {
            assert!(
                !spec.destructive,
                "{}: a read cannot be destructive",
                spec.name
            );
            let verb = spec.name.split('_').next().unwrap_or_default();
            assert!(
                matches!(verb, "list" | "get"),
                "{}: reads are list_/get_ methods",
                spec.name
            );
        }
        let verb = spec.name.split('_').next().unwrap_or_default();
        if matches!(
            verb,
            "delete" | "ban" | "deactivate" | "remove" | "unregister" | "untag"
        ) {
            assert!(spec.destructive, "{}: should be destructive", spec.name);
        }
        // Only the customer bans sit outside their area's API.
        if !["list_customer_bans", "unban_customer"].contains(&spec.name) {
            assert_eq!(spec.api(), spec.area.api(), "{}", spec.name);
        }
    }
}

/// The facts the audit trail and live events read from a definition: every tool says what it
/// did in words, each placeholder of its sentence is backed by an argument it declares, and
/// every declared argument exists in its request schema.
#[test]
fn every_tool_declares_its_audit_facts() {
    use livechat_mcp::tools::record::placeholder_declared;
    for spec in tools::all() {
        let said = spec.said;
        assert!(
            !said.past.is_empty() && !said.base.is_empty() && !said.object.is_empty(),
            "{}: no sentence declared (`.said(past, base, object)`)",
            spec.name
        );
        for placeholder in said.placeholders() {
            assert!(
                placeholder_declared(placeholder, spec.names),
                "{}: `{{{placeholder}}}` in its sentence has no declared argument",
                spec.name
            );
        }
        let schema = spec.raw_request_schema();
        for names in spec.names {
            if let Some(path) = names.path() {
                assert!(
                    schema_has_path(&schema, &schema, path),
                    "{}: declared argument `{path}` is not in its request schema",
                    spec.name
                );
            }
        }
        if let Some(action) = spec.webhook {
            assert_eq!(
                spec.access,
                Access::Write,
                "{}: only writes trigger `{action}`",
                spec.name
            );
            assert!(
                action.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}: `{action}` is not a webhook action name",
                spec.name
            );
        }
    }
}

/// Whether `path` (dot-separated keys, arrays stepped through) leads somewhere in `node`.
fn schema_has_path(root: &Value, node: &Value, path: &str) -> bool {
    let (key, rest) = match path.split_once('.') {
        Some((key, rest)) => (key, Some(rest)),
        None => (path, None),
    };
    candidates(root, node).into_iter().any(|n| {
        let Some(field) = n.get("properties").and_then(|p| p.get(key)) else {
            return false;
        };
        match rest {
            None => true,
            Some(rest) => candidates(root, field)
                .into_iter()
                .any(|f| schema_has_path(root, f.get("items").unwrap_or(f), rest)),
        }
    })
}

/// A schema node and the nodes it stands for: `$ref` targets and `anyOf`/`oneOf`/`allOf`
/// branches.
fn candidates<'a>(root: &'a Value, node: &'a Value) -> Vec<&'a Value> {
    let mut out = vec![node];
    if let Some(target) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
    {
        out.extend(candidates(root, target));
    }
    for keyword in ["anyOf", "oneOf", "allOf"] {
        for branch in node
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(candidates(root, branch));
        }
    }
    out
}

/// A write whose outcome is unknown names, in its error, a read tool that shows whether it
/// happened: that tool must exist, read, and be there in every version the write is. Only
/// writes without such a tool may leave it out.
#[test]
fn every_write_names_a_read_tool_to_check_an_unknown_outcome() {
    // No read tool shows these: a preview, an indicator and a multicast are not kept, and an
    // upload is found only by the URL its lost answer held.
    let without = [
        "send_event_preview",
        "send_typing_indicator",
        "send_thinking_indicator",
        "multicast",
        "upload_file",
    ];
    for spec in tools::all().filter(|s| s.access == Access::Write) {
        let Some(check) = spec.check else {
            assert!(
                without.contains(&spec.name),
                "`{}` names no tool to check an unknown outcome with",
                spec.name
            );
            continue;
        };
        let read = tools::find(check)
            .unwrap_or_else(|| panic!("`{}` checks with `{check}`, which is no tool", spec.name));
        assert_eq!(
            read.access,
            Access::Read,
            "`{}` checks with a write",
            spec.name
        );
        for version in spec.versions {
            assert!(
                read.available_in(*version),
                "`{}` checks with `{check}`, which v{version} lacks",
                spec.name
            );
        }
    }
    for spec in tools::all().filter(|s| s.access == Access::Read) {
        assert_eq!(
            spec.check, None,
            "`{}` reads; it has nothing to check",
            spec.name
        );
    }
}

/// `upload_file` alone takes a form, its file in LiveChat's `file` field; it has a `path` only
/// with an upload directory, and then needs no `content`.
#[test]
fn only_upload_file_takes_a_form_and_a_path_only_with_an_upload_dir() {
    let forms: Vec<(&str, Option<&str>)> = tools::all()
        .filter(|s| s.form_file.is_some() || s.reads_upload_dir())
        .map(|s| (s.name, s.form_file))
        .collect();
    assert_eq!(forms, [("upload_file", Some("file"))]);
    let spec = tools::find("upload_file").expect("upload_file");
    assert_eq!(spec.area, Area::Events);
    assert_eq!(spec.versions, ApiVersion::ALL);
    for version in ApiVersion::ALL {
        let plain = spec.input_schema(version);
        assert!(plain["properties"].get("path").is_none(), "{plain}");
        assert_eq!(
            plain["required"],
            serde_json::json!(["name", "content_type", "content"])
        );
        let local = spec.input_schema_with_upload_dir(version);
        assert!(local["properties"].get("path").is_some(), "{local}");
        assert_eq!(
            local["required"],
            serde_json::json!(["name", "content_type"])
        );
        assert!(!local.to_string().contains("x-"), "{local}");
    }
}
