//! What a call names and carries, read from its arguments: ids as they are, free text only as
//! a length and a SHA-256, secrets (webhook keys, client ids) not at all.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::sha256_hex;
use crate::tools::{ToolSpec, record::Names};

/// The ids a call names. Serialises to the entry's `targets` object, with only the keys that
/// are present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Targets {
    /// The chat: `chat_id`, or `id` for `deactivate_chat`, `transfer_chat`,
    /// `update_chat_properties`, `delete_chat_properties`, or `chat.id` for `resume_chat`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The customer: `id` of the customer methods, a customer `user_id`, the customer among
    /// a new chat's users, or the `customer_id` filter of `list_archives`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The agent: `id` of the agent methods, `agent_id` of `set_routing_status`, or
    /// `user_id` when `user_type` is `agent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The group: `id` of the group methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    /// The tag's name, for the tag methods and `tag_thread`/`untag_thread`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The property's name, for `register_property` and `publish_property`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// How many events `get_events` returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Where `transfer_chat` sends the chat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TransferTarget>,
    /// What the call carries, described without its free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// The approval request (`APR-…`) the call waited for or went out under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
}

/// The destination of `transfer_chat`: `{"type": "group"|"agent", "ids": [...]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransferTarget {
    #[serde(rename = "type")]
    pub kind: String,
    /// Integer group ids or agent ids, as given.
    pub ids: Vec<Value>,
}

/// What a call carries, as shape rather than value: the text of events only as its length
/// and SHA-256, changed fields only by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Content {
    /// The type of the event sent (of the first one, when several): `message`, `file`, ….
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// `agents` when the event is an internal note; absent when everyone sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// How many events, when more than one (`start_chat`, `resume_chat`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// The text's length in characters (Unicode scalar values). Several texts are joined by
    /// a newline first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_len: Option<u64>,
    /// The lowercase hex SHA-256 of the text's UTF-8 bytes: proves what was sent without
    /// keeping it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_sha256: Option<String>,
    /// The fields or properties (`namespace.name`) the call sets or deletes, without values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// How many days `ban_customer` bans for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u64>,
    /// The routing status `set_routing_status` sets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The webhook action `register_webhook` subscribes to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The name of the file `upload_file` sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The file's content type, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The file's size in bytes, once read (the bytes themselves are never kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The lowercase hex SHA-256 of the file's bytes: proves what was sent without keeping it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Content {
    fn is_empty(&self) -> bool {
        *self == Content::default()
    }
}

/// The longest string kept as an id. LiveChat's ids are short (chat ids 10 characters, UUIDs
/// 36, agent emails under 254); anything longer or multi-line is not an id, and is stored by
/// hash so that free text cannot enter the trail through an id field.
const MAX_ID_CHARS: usize = 254;

/// Reads the targets of a call to `tool` from its arguments, as the tool's definition
/// declares them (`ToolSpec::names`). Missing or mistyped arguments are left out (a refused
/// call may have any arguments); unknown tools get `chat_id`, `thread_id` and `event_id` when
/// present.
pub fn targets_from(tool: &str, arguments: &Map<String, Value>) -> Targets {
    let Some(spec) = crate::tools::find(tool) else {
        let mut t = Targets::default();
        chat_thread_event(arguments, &mut t);
        return t;
    };
    let mut t = Targets::default();
    let mut content = Content::default();
    for names in spec.names {
        let at = names.path().and_then(|path| lookup(arguments, path));
        match *names {
            Names::Chat(_) => t.chat_id = at.and_then(id_value),
            Names::Thread(_) => t.thread_id = at.and_then(id_value),
            Names::Event(_) => t.event_id = at.and_then(id_value),
            Names::Customer(_) => t.customer_id = at.and_then(id_value),
            Names::Agent(_) => t.agent_id = at.and_then(id_value),
            Names::Group(_) => t.group_id = at.and_then(integer),
            Names::Tag(_) => t.tag = at.and_then(id_value),
            Names::Property(_) => t.property = at.and_then(id_value),
            Names::Webhook(_) => t.webhook_id = at.and_then(id_value),
            Names::User { kind, .. } => {
                let user = at.and_then(id_value);
                match lookup(arguments, kind).and_then(Value::as_str) {
                    Some("agent") => t.agent_id = user,
                    Some("customer") => t.customer_id = user,
                    _ => {}
                }
            }
            Names::CustomerAmong(_) => t.customer_id = at.and_then(customer_among_users),
            Names::TransferTarget(_) => t.target = at.and_then(transfer_target),
            Names::Events(_) => match at {
                Some(Value::Array(events)) => describe_events(events, &mut content),
                Some(event @ Value::Object(_)) => {
                    describe_events(std::slice::from_ref(event), &mut content)
                }
                _ => {}
            },
            Names::PropertyNames(_) => content.fields = property_names(at),
            Names::ChangedFields => content.fields = changed_fields(spec, arguments),
            Names::Days(_) => content.days = at.and_then(Value::as_u64),
            Names::Status(_) => content.status = at.and_then(id_value),
            Names::Action(_) => content.action = at.and_then(id_value),
            Names::File { content_type, .. } => {
                content.file_name = at.and_then(id_value);
                content.content_type = lookup(arguments, content_type).and_then(id_value);
            }
        }
    }
    if !content.is_empty() {
        t.content = Some(content);
    }
    t
}

/// The value at a dot-separated path of object keys, read in place: a call's arguments (a
/// message's text included) are not copied to be read.
fn lookup<'a>(root: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut keys = path.split('.');
    let first = root.get(keys.next()?)?;
    keys.try_fold(first, |value, key| value.get(key))
}

fn chat_thread_event(args: &Map<String, Value>, t: &mut Targets) {
    t.chat_id = id(args, "chat_id");
    t.thread_id = id(args, "thread_id");
    t.event_id = id(args, "event_id");
}

/// The id under `key`: a string or a number, kept as text when it looks like an id.
fn id(args: &Map<String, Value>, key: &str) -> Option<String> {
    args.get(key).and_then(id_value)
}

fn id_at(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(id_value)
}

fn id_value(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let looks_like_id = text.chars().count() <= MAX_ID_CHARS && !text.chars().any(char::is_control);
    Some(if looks_like_id {
        text
    } else {
        format!("sha256:{}", sha256_hex(&text))
    })
}

/// A group id: an integer, or a string of digits from a call with mistyped arguments.
fn integer(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn customer_among_users(users: &Value) -> Option<String> {
    users
        .as_array()?
        .iter()
        .find(|u| u.get("type").and_then(Value::as_str) == Some("customer"))
        .and_then(|u| id_at(u, "id"))
}

fn transfer_target(value: &Value) -> Option<TransferTarget> {
    let kind = id_at(value, "type")?;
    let ids = value
        .get("ids")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|v| match v {
                    Value::Number(n) if n.is_u64() => Some(v.clone()),
                    _ => id_value(v).map(Value::String),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(TransferTarget { kind, ids })
}

/// Describes events by type, visibility, count and the hash of their texts.
fn describe_events(events: &[Value], content: &mut Content) {
    let Some(first) = events.first() else {
        return;
    };
    content.event_type = first.get("type").and_then(id_value);
    if first.get("visibility").and_then(Value::as_str) == Some("agents") {
        content.visibility = Some("agents".to_string());
    }
    if events.len() > 1 {
        content.events = u64::try_from(events.len()).ok();
    }
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|e| e.get("text").and_then(Value::as_str))
        .collect();
    if !texts.is_empty() {
        let text = texts.join("\n");
        content.text_len = u64::try_from(text.chars().count()).ok();
        content.text_sha256 = Some(sha256_hex(&text));
    }
}

/// `namespace.name` for each property of a `properties` argument, whether it maps names to
/// values (update) or lists names (delete).
fn property_names(properties: Option<&Value>) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for (namespace, inner) in properties?.as_object()? {
        match inner {
            Value::Object(values) => {
                names.extend(values.keys().map(|n| format!("{namespace}.{n}")))
            }
            Value::Array(list) => names.extend(
                list.iter()
                    .filter_map(Value::as_str)
                    .map(|n| format!("{namespace}.{n}")),
            ),
            _ => {}
        }
    }
    let names: Vec<String> = names
        .iter()
        .filter_map(|n| id_value(&Value::String(n.clone())))
        .collect();
    (!names.is_empty()).then_some(names)
}

/// The names of the fields an update sets, besides `id`, sorted. Only names the tool's schema
/// declares: a refused call may carry any keys, and a key can hold free text as well as a
/// value can.
fn changed_fields(spec: &ToolSpec, args: &Map<String, Value>) -> Option<Vec<String>> {
    let schema = spec.raw_request_schema();
    let declared = schema.get("properties")?.as_object()?;
    let mut fields: Vec<String> = args
        .iter()
        .filter(|(key, value)| {
            key.as_str() != "id" && !value.is_null() && declared.contains_key(key.as_str())
        })
        .map(|(key, _)| key.clone())
        .collect();
    fields.sort();
    (!fields.is_empty()).then_some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn targets(tool: &str, args: Value) -> Targets {
        match args {
            Value::Object(map) => targets_from(tool, &map),
            _ => panic!("arguments must be an object"),
        }
    }

    #[test]
    fn chat_id_comes_from_id_where_the_method_says_so() {
        for tool in [
            "deactivate_chat",
            "transfer_chat",
            "update_chat_properties",
            "delete_chat_properties",
        ] {
            let t = targets(tool, json!({"id": "PJ0MRSHTDG", "chat_id": "WRONG"}));
            assert_eq!(t.chat_id.as_deref(), Some("PJ0MRSHTDG"), "{tool}");
        }
        let t = targets(
            "send_event",
            json!({"id": "WRONG", "chat_id": "PJ0MRSHTDG"}),
        );
        assert_eq!(t.chat_id.as_deref(), Some("PJ0MRSHTDG"));
        let t = targets("resume_chat", json!({"chat": {"id": "PJ0MRSHTDG"}}));
        assert_eq!(t.chat_id.as_deref(), Some("PJ0MRSHTDG"));
    }

    #[test]
    fn id_means_the_object_of_the_area() {
        let c = targets("ban_customer", json!({"id": "b7ef", "ban": {"days": 3}}));
        assert_eq!(c.customer_id.as_deref(), Some("b7ef"));
        assert_eq!(c.chat_id, None);
        assert_eq!(c.content.and_then(|c| c.days), Some(3));
        let a = targets("get_agent", json!({"id": "jane@example.com"}));
        assert_eq!(a.agent_id.as_deref(), Some("jane@example.com"));
        assert_eq!(a.customer_id, None);
        let g = targets("delete_group", json!({"id": 2}));
        assert_eq!(g.group_id, Some(2));
        let w = targets(
            "unregister_webhook",
            json!({"id": "wh1", "owner_client_id": "c1"}),
        );
        assert_eq!(w.webhook_id.as_deref(), Some("wh1"));
        let r = targets(
            "set_routing_status",
            json!({"agent_id": "bot1", "status": "offline"}),
        );
        assert_eq!(r.agent_id.as_deref(), Some("bot1"));
        let tag = targets("create_tag", json!({"name": "vip"}));
        assert_eq!(tag.tag.as_deref(), Some("vip"));
        let p = targets(
            "publish_property",
            json!({"name": "score", "owner_client_id": "c"}),
        );
        assert_eq!(p.property.as_deref(), Some("score"));
    }

    #[test]
    fn user_id_goes_where_user_type_says() {
        let a = targets(
            "add_user_to_chat",
            json!({"chat_id": "C", "user_id": "jane@example.com", "user_type": "agent"}),
        );
        assert_eq!(a.agent_id.as_deref(), Some("jane@example.com"));
        assert_eq!(a.customer_id, None);
        let c = targets(
            "add_user_to_chat",
            json!({"chat_id": "C", "user_id": "b7ef", "user_type": "customer"}),
        );
        assert_eq!(c.customer_id.as_deref(), Some("b7ef"));
        assert_eq!(c.agent_id, None);
    }

    #[test]
    fn transfer_target_and_only_present_keys_serialise() {
        let t = targets(
            "transfer_chat",
            json!({"id": "C1", "target": {"type": "group", "ids": [2, 3]}}),
        );
        assert_eq!(
            serde_json::to_value(&t).ok(),
            Some(json!({"chat_id": "C1", "target": {"type": "group", "ids": [2, 3]}}))
        );
        let empty = targets("list_chats", json!({"limit": 5}));
        assert_eq!(serde_json::to_value(&empty).ok(), Some(json!({})));
    }

    #[test]
    fn message_text_is_kept_as_length_and_hash() {
        let t = targets(
            "send_event",
            json!({"chat_id": "C", "event": {"type": "message", "text": "héllo", "visibility": "agents"}}),
        );
        let content = t.content.unwrap_or_default();
        assert_eq!(content.event_type.as_deref(), Some("message"));
        assert_eq!(content.visibility.as_deref(), Some("agents"));
        assert_eq!(content.text_len, Some(5));
        assert_eq!(content.text_sha256, Some(sha256_hex("héllo")));
        let json = serde_json::to_string(&content).unwrap_or_default();
        assert!(!json.contains("héllo"), "{json}");
    }

    #[test]
    fn start_chat_names_its_customer_and_hashes_its_events() {
        let t = targets(
            "start_chat",
            json!({"chat": {
                "users": [{"id": "jane@example.com", "type": "agent"}, {"id": "b7ef", "type": "customer"}],
                "thread": {"events": [{"type": "message", "text": "a"}, {"type": "message", "text": "b"}]}
            }}),
        );
        assert_eq!(t.customer_id.as_deref(), Some("b7ef"));
        let content = t.content.unwrap_or_default();
        assert_eq!(content.events, Some(2));
        assert_eq!(content.text_len, Some(3));
        assert_eq!(content.text_sha256, Some(sha256_hex("a\nb")));
    }

    #[test]
    fn updates_record_field_names_not_values() {
        let t = targets(
            "update_customer",
            json!({"id": "b7ef", "name": "Ann Smith", "email": "ann@example.com", "avatar": null}),
        );
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert!(!json.contains("Ann") && !json.contains("ann@"), "{json}");
        assert_eq!(
            t.content.and_then(|c| c.fields),
            Some(vec!["email".to_string(), "name".to_string()])
        );
        let refused = targets(
            "update_agent",
            json!({"id": "jane@example.com", "job_title": "Lead", "Please refund Ann": 1}),
        );
        assert_eq!(
            refused.content.and_then(|c| c.fields),
            Some(vec!["job_title".to_string()])
        );
        let p = targets(
            "delete_thread_properties",
            json!({"chat_id": "C", "thread_id": "T", "properties": {"routing": ["pinned"]}}),
        );
        assert_eq!(
            p.content.and_then(|c| c.fields),
            Some(vec!["routing.pinned".to_string()])
        );
    }

    #[test]
    fn secrets_and_free_text_in_id_fields_are_not_kept() {
        let t = targets(
            "register_webhook",
            json!({"action": "incoming_event", "secret_key": "s3cr3t", "url": "https://x", "owner_client_id": "c", "type": "license"}),
        );
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert!(!json.contains("s3cr3t"), "{json}");
        let long = "a very long message pasted into an id field\n".repeat(20);
        let t = targets("get_chat", json!({"chat_id": long}));
        let chat = t.chat_id.unwrap_or_default();
        assert!(chat.starts_with("sha256:"), "{chat}");
    }
}
