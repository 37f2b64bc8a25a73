//! The one-sentence summary of a call, in words a support lead reads without a manual:
//! `support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 182 ms`.
//!
//! Each tool has its own verb phrase, in the past tense for what was done and in the base form
//! for what was tried. They live in one `match` here; a test checks that every tool of the
//! registry has one.

use serde_json::Value;

use super::targets::Targets;
use super::{Decision, Outcome};

/// What a call did, in the past tense: `listed chats`, `read chat PJ0MRSHTDG`,
/// `banned customer b7ef0c1d… for 3 days`. Unknown tools: ``called `name` ``.
pub fn phrase(tool: &str, targets: &Targets) -> String {
    phrases(tool, targets).0
}

/// What a call tried to do, in the base form that follows "tried to": `ban customer
/// b7ef0c1d… for 3 days`. Unknown tools: ``call `name` ``.
pub fn attempt(tool: &str, targets: &Targets) -> String {
    phrases(tool, targets).1
}

/// The summary sentence of a call.
///
/// - allowed and done: `support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 182 ms`
/// - denied: `auditor tried to ban customer b7ef0c1d… — denied: customers is off for auditor`
/// - allowed but failed: `support-bot tried to tag thread QR8E5RKF2C of chat PJ0MRSHTDG —
///   allowed, failed: validation`
///
/// The sentence is always one line: control characters in what the caller passes become
/// spaces.
// Eight plain arguments, as the call site has them, rather than a struct built only to be
// passed here; `NewEntry::summary` is the short form.
#[allow(clippy::too_many_arguments)]
pub fn sentence(
    agent: &str,
    tool: &str,
    targets: &Targets,
    decision: Decision,
    outcome: Outcome,
    reason: Option<&str>,
    error_type: Option<&str>,
    duration_ms: u64,
) -> String {
    let agent = one_line(agent);
    match (decision, outcome) {
        (Decision::Denied, _) => match reason.map(one_line).filter(|r| !r.is_empty()) {
            Some(reason) => format!(
                "{agent} tried to {} — denied: {reason}",
                attempt(tool, targets)
            ),
            None => format!("{agent} tried to {} — denied", attempt(tool, targets)),
        },
        (Decision::Allowed, Outcome::Ok) => format!(
            "{agent} {} — allowed, done in {duration_ms} ms",
            phrase(tool, targets)
        ),
        (Decision::Allowed, Outcome::Error | Outcome::Denied) => {
            match error_type.map(one_line).filter(|e| !e.is_empty()) {
                Some(error) => format!(
                    "{agent} tried to {} — allowed, failed: {error}",
                    attempt(tool, targets)
                ),
                None => format!(
                    "{agent} tried to {} — allowed, failed",
                    attempt(tool, targets)
                ),
            }
        }
    }
}

/// Both forms of a tool's verb phrase: (past tense, base form).
fn phrases(tool: &str, t: &Targets) -> (String, String) {
    let content = t.content.clone().unwrap_or_default();
    let fields = match &content.fields {
        Some(fields) if !fields.is_empty() => format!(" ({})", fields.join(", ")),
        _ => String::new(),
    };
    match tool {
        // Chats
        "list_chats" => verb("listed", "list", "chats"),
        "list_threads" => verb("listed", "list", format!("the threads of {}", chat(t))),
        "get_chat" => match &t.thread_id {
            Some(thread) => verb(
                "read",
                "read",
                format!("thread {} of {}", show(thread), chat(t)),
            ),
            None => verb("read", "read", chat(t)),
        },
        "list_archives" => verb(
            "searched",
            "search",
            match &t.customer_id {
                Some(c) => format!("the chat archives for customer {}", show(c)),
                None => "the chat archives".to_string(),
            },
        ),
        "start_chat" => verb(
            "started",
            "start",
            match &t.customer_id {
                Some(c) => format!("a chat with customer {}", show(c)),
                None => "a chat".to_string(),
            },
        ),
        "resume_chat" => verb("resumed", "resume", chat(t)),
        "deactivate_chat" => verb("ended", "end", chat(t)),
        // Events
        "send_event" => send_event(&content, t),
        "send_event_preview" => verb(
            "showed",
            "show",
            format!("a message preview in {}", chat(t)),
        ),
        "send_rich_message_postback" => verb(
            "pressed",
            "press",
            format!("a button of {}", event(t, "rich message")),
        ),
        // Chat access
        "transfer_chat" => verb(
            "transferred",
            "transfer",
            format!("{}{}", chat(t), transfer_to(t)),
        ),
        "add_user_to_chat" => verb("added", "add", format!("{} to {}", user(t), chat(t))),
        "remove_user_from_chat" => {
            verb("removed", "remove", format!("{} from {}", user(t), chat(t)))
        }
        // Chat properties
        "update_chat_properties" => {
            verb("set", "set", format!("properties of {}{fields}", chat(t)))
        }
        "delete_chat_properties" => verb(
            "deleted",
            "delete",
            format!("properties of {}{fields}", chat(t)),
        ),
        "update_thread_properties" => {
            verb("set", "set", format!("properties of {}{fields}", thread(t)))
        }
        "delete_thread_properties" => verb(
            "deleted",
            "delete",
            format!("properties of {}{fields}", thread(t)),
        ),
        "update_event_properties" => verb(
            "set",
            "set",
            format!("properties of {}{fields}", event(t, "event")),
        ),
        "delete_event_properties" => verb(
            "deleted",
            "delete",
            format!("properties of {}{fields}", event(t, "event")),
        ),
        "tag_thread" => verb(
            "tagged",
            "tag",
            match &t.tag {
                Some(tag) => format!("{} with `{}`", thread(t), show(tag)),
                None => thread(t),
            },
        ),
        "untag_thread" => verb(
            "removed",
            "remove",
            match &t.tag {
                Some(tag) => format!("tag `{}` from {}", show(tag), thread(t)),
                None => format!("a tag from {}", thread(t)),
            },
        ),
        // Customers
        "get_customer" => verb("read", "read", format!("the profile of {}", customer(t))),
        "update_customer" => verb("updated", "update", format!("{}{fields}", customer(t))),
        "ban_customer" => verb(
            "banned",
            "ban",
            match content.days {
                Some(1) => format!("{} for 1 day", customer(t)),
                Some(days) => format!("{} for {days} days", customer(t)),
                None => customer(t),
            },
        ),
        // Agents
        "create_agent" => verb("created", "create", agent(t)),
        "get_agent" => verb("read", "read", format!("the profile of {}", agent(t))),
        "list_agents" => verb("listed", "list", "agents"),
        "update_agent" => verb("updated", "update", format!("{}{fields}", agent(t))),
        "delete_agent" => verb("deleted", "delete", agent(t)),
        // Groups
        "create_group" => verb("created", "create", "a group"),
        "get_group" => verb("read", "read", group(t)),
        "list_groups" => verb("listed", "list", "groups"),
        "update_group" => verb("updated", "update", format!("{}{fields}", group(t))),
        "delete_group" => verb("deleted", "delete", group(t)),
        // Webhooks
        "register_webhook" => verb(
            "registered",
            "register",
            match &content.action {
                Some(action) => format!("a webhook for `{}`", show(action)),
                None => "a webhook".to_string(),
            },
        ),
        "list_webhooks" => verb("listed", "list", "webhooks"),
        "unregister_webhook" => verb(
            "unregistered",
            "unregister",
            named(t.webhook_id.as_deref(), "webhook ", "a webhook"),
        ),
        // Tags and properties
        "create_tag" => verb("created", "create", tag(t)),
        "list_tags" => verb("listed", "list", "tags"),
        "update_tag" => verb("changed", "change", format!("the groups of {}", tag(t))),
        "delete_tag" => verb("deleted", "delete", tag(t)),
        "register_property" => verb("registered", "register", property(t)),
        "publish_property" => verb("published", "publish", property(t)),
        // Routing
        "set_routing_status" => {
            let whose = match &t.agent_id {
                Some(a) => format!("the routing status of agent {}", show(a)),
                None => "its own routing status".to_string(),
            };
            let object = match &content.status {
                Some(status) => format!("{whose} to {}", show(status).replace('_', " ")),
                None => whose,
            };
            verb("set", "set", object)
        }
        "list_routing_statuses" => verb("listed", "list", "routing statuses"),
        _ => generic(tool),
    }
}

/// The generic phrase of a tool this module has no phrase for.
fn generic(tool: &str) -> (String, String) {
    let name = show(tool);
    (format!("called `{name}`"), format!("call `{name}`"))
}

fn verb(past: &str, base: &str, object: impl Into<String>) -> (String, String) {
    let object = object.into();
    (format!("{past} {object}"), format!("{base} {object}"))
}

fn send_event(content: &super::targets::Content, t: &Targets) -> (String, String) {
    let to = chat(t);
    let internal = content.visibility.as_deref() == Some("agents");
    match content.event_type.as_deref() {
        Some("message") if internal => verb("posted", "post", format!("an internal note in {to}")),
        Some("message") => verb("sent", "send", format!("a message to {to}")),
        Some("file") => verb("sent", "send", format!("a file to {to}")),
        Some("rich_message") => verb("sent", "send", format!("a rich message to {to}")),
        Some("custom") => verb("sent", "send", format!("a custom event to {to}")),
        Some("system_message") => verb("posted", "post", format!("a system message in {to}")),
        _ => verb("sent", "send", format!("an event to {to}")),
    }
}

fn transfer_to(t: &Targets) -> String {
    let Some(target) = &t.target else {
        return " within its group".to_string();
    };
    let ids: Vec<String> = target
        .ids
        .iter()
        .map(|id| match id {
            Value::String(s) => show(s),
            other => other.to_string(),
        })
        .collect();
    let kind = show(&target.kind);
    match ids.len() {
        0 => format!(" to {kind}"),
        1 => format!(" to {kind} {}", ids.join("")),
        _ => format!(" to {kind}s {}", ids.join(", ")),
    }
}

fn named(id: Option<&str>, prefix: &str, fallback: &str) -> String {
    match id {
        Some(id) => format!("{prefix}{}", show(id)),
        None => fallback.to_string(),
    }
}

fn chat(t: &Targets) -> String {
    named(t.chat_id.as_deref(), "chat ", "a chat")
}

fn thread(t: &Targets) -> String {
    match (&t.thread_id, &t.chat_id) {
        (Some(thread), Some(_)) => format!("thread {} of {}", show(thread), chat(t)),
        (Some(thread), None) => format!("thread {}", show(thread)),
        (None, Some(_)) => format!("a thread of {}", chat(t)),
        (None, None) => "a thread".to_string(),
    }
}

/// An event (`kind` names it: "event", "rich message"), by id, within its chat.
fn event(t: &Targets, kind: &str) -> String {
    match (&t.event_id, &t.chat_id) {
        (Some(event), Some(_)) => format!("{kind} {} in {}", show(event), chat(t)),
        (Some(event), None) => format!("{kind} {}", show(event)),
        (None, Some(_)) => format!("{} {kind} in {}", article(kind), chat(t)),
        (None, None) => format!("{} {kind}", article(kind)),
    }
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn user(t: &Targets) -> String {
    match (&t.agent_id, &t.customer_id) {
        (Some(agent), _) => format!("agent {}", show(agent)),
        (None, Some(customer)) => format!("customer {}", show(customer)),
        (None, None) => "a user".to_string(),
    }
}

fn customer(t: &Targets) -> String {
    named(t.customer_id.as_deref(), "customer ", "a customer")
}

fn agent(t: &Targets) -> String {
    named(t.agent_id.as_deref(), "agent ", "an agent")
}

fn group(t: &Targets) -> String {
    match t.group_id {
        Some(id) => format!("group {id}"),
        None => "a group".to_string(),
    }
}

fn tag(t: &Targets) -> String {
    match &t.tag {
        Some(tag) => format!("tag `{}`", show(tag)),
        None => "a tag".to_string(),
    }
}

fn property(t: &Targets) -> String {
    match &t.property {
        Some(p) => format!("property `{}`", show(p)),
        None => "a property".to_string(),
    }
}

/// The longest id shown whole in a sentence; the full id is in `targets`.
const MAX_SHOWN_CHARS: usize = 64;

/// An id as a sentence shows it: a customer UUID by its first 8 characters (enough to find it
/// in `targets`), anything else whole up to 64 characters, always on one line.
fn show(id: &str) -> String {
    if is_uuid(id) {
        let head: String = id.chars().take(8).collect();
        return format!("{head}…");
    }
    let line = one_line(id);
    if line.chars().count() > MAX_SHOWN_CHARS {
        let head: String = line.chars().take(MAX_SHOWN_CHARS).collect();
        format!("{head}…")
    } else {
        line
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Text with control characters (newlines, tabs, escapes) replaced by spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::audit::targets::targets_from;
    use serde_json::json;

    fn t(tool: &str, args: Value) -> Targets {
        match args {
            Value::Object(map) => targets_from(tool, &map),
            _ => Targets::default(),
        }
    }

    const CUSTOMER: &str = "b7ef0c1d-2a3b-4c5d-8e9f-0a1b2c3d4e5f";

    #[test]
    fn allowed_denied_and_failed_sentences() {
        let send = t(
            "send_event",
            json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "Hi there"}}),
        );
        assert_eq!(
            sentence(
                "support-bot",
                "send_event",
                &send,
                Decision::Allowed,
                Outcome::Ok,
                None,
                None,
                182
            ),
            "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 182 ms"
        );
        let ban = t("ban_customer", json!({"id": CUSTOMER, "ban": {"days": 3}}));
        assert_eq!(
            sentence(
                "auditor",
                "ban_customer",
                &ban,
                Decision::Denied,
                Outcome::Denied,
                Some("customers is off for auditor"),
                None,
                0
            ),
            "auditor tried to ban customer b7ef0c1d… for 3 days — denied: customers is off for auditor"
        );
        let tag = t(
            "tag_thread",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C"}),
        );
        assert_eq!(
            sentence(
                "support-bot",
                "tag_thread",
                &tag,
                Decision::Allowed,
                Outcome::Error,
                None,
                Some("validation"),
                95
            ),
            "support-bot tried to tag thread QR8E5RKF2C of chat PJ0MRSHTDG — allowed, failed: validation"
        );
        assert_eq!(
            sentence(
                "ops",
                "ban_customer",
                &ban,
                Decision::Allowed,
                Outcome::Ok,
                None,
                None,
                40
            ),
            "ops banned customer b7ef0c1d… for 3 days — allowed, done in 40 ms"
        );
    }

    #[test]
    fn phrases_of_some_tools() {
        let cases = [
            ("list_chats", json!({}), "listed chats"),
            (
                "get_chat",
                json!({"chat_id": "PJ0MRSHTDG"}),
                "read chat PJ0MRSHTDG",
            ),
            (
                "send_event",
                json!({"chat_id": "X", "event": {"type": "file", "url": "https://f"}}),
                "sent a file to chat X",
            ),
            (
                "send_event",
                json!({"chat_id": "X", "event": {"type": "message", "text": "n", "visibility": "agents"}}),
                "posted an internal note in chat X",
            ),
            (
                "transfer_chat",
                json!({"id": "X", "target": {"type": "group", "ids": [2]}}),
                "transferred chat X to group 2",
            ),
            (
                "transfer_chat",
                json!({"id": "X", "target": {"type": "agent", "ids": ["a@x.io", "b@x.io"]}}),
                "transferred chat X to agents a@x.io, b@x.io",
            ),
            (
                "transfer_chat",
                json!({"id": "X"}),
                "transferred chat X within its group",
            ),
            (
                "ban_customer",
                json!({"id": "Y", "ban": {"days": 1}}),
                "banned customer Y for 1 day",
            ),
            ("create_tag", json!({"name": "vip"}), "created tag `vip`"),
            (
                "tag_thread",
                json!({"chat_id": "C", "thread_id": "T", "tag": "vip"}),
                "tagged thread T of chat C with `vip`",
            ),
            (
                "update_customer",
                json!({"id": "Y", "name": "Ann", "email": "a@b.c"}),
                "updated customer Y (email, name)",
            ),
            (
                "add_user_to_chat",
                json!({"chat_id": "C", "user_id": "Y", "user_type": "customer", "visibility": "all"}),
                "added customer Y to chat C",
            ),
            (
                "set_routing_status",
                json!({"agent_id": "bot1", "status": "not_accepting_chats"}),
                "set the routing status of agent bot1 to not accepting chats",
            ),
            (
                "update_event_properties",
                json!({"chat_id": "C", "thread_id": "T", "event_id": "E", "properties": {"ns": {"p": 1}}}),
                "set properties of event E in chat C (ns.p)",
            ),
            ("delete_group", json!({"id": 7}), "deleted group 7"),
            ("no_such_tool", json!({}), "called `no_such_tool`"),
        ];
        for (tool, args, expected) in cases {
            assert_eq!(phrase(tool, &t(tool, args)), expected, "{tool}");
        }
        assert_eq!(
            attempt("no_such_tool", &Targets::default()),
            "call `no_such_tool`"
        );
    }

    #[test]
    fn every_tool_has_its_own_phrase() {
        let mut past_seen = HashSet::new();
        let mut base_seen = HashSet::new();
        let mut count = 0;
        for spec in crate::tools::all() {
            count += 1;
            let (past, base) = phrases(spec.name, &Targets::default());
            assert_ne!(
                (past.clone(), base.clone()),
                generic(spec.name),
                "{} has no phrase",
                spec.name
            );
            assert!(!past.contains(spec.name), "{}: {past}", spec.name);
            assert!(
                past_seen.insert(past.clone()),
                "{} shares the phrase `{past}`",
                spec.name
            );
            assert!(
                base_seen.insert(base.clone()),
                "{} shares the phrase `{base}`",
                spec.name
            );
        }
        assert_eq!(count, 45, "the registry changed: give new tools a phrase");
    }

    #[test]
    fn sentences_stay_on_one_line() {
        let s = sentence(
            "bot\nname",
            "get_chat",
            &t("get_chat", json!({"chat_id": "A\u{1b}[2J"})),
            Decision::Denied,
            Outcome::Denied,
            Some("line one\nline two"),
            None,
            0,
        );
        assert!(!s.contains('\n') && !s.contains('\u{1b}'), "{s}");
    }
}
