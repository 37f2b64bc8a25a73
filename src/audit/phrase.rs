//! The one-sentence summary of a call, in words a support lead reads without a manual:
//! `support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 182 ms`.
//!
//! Each tool declares its own verb, in the past tense for what was done and in the base form
//! for what was tried, and the object it acts on (`ToolSpec::said`); this module fills the
//! object from the call's targets. A registry test checks that every tool has its words.

use serde_json::Value;

use super::targets::{Content, Targets, TransferTarget};
use super::{Decision, NewEntry, Outcome};

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
/// - … after retries, or a wait for the rate limiter: `ops listed chats — allowed, done in
///   812 ms after 3 attempts (waited 700 ms)`
/// - denied: `auditor tried to ban customer b7ef0c1d… — denied: customers is off for auditor`
/// - allowed but failed: `support-bot tried to tag thread QR8E5RKF2C of chat PJ0MRSHTDG —
///   allowed, failed: validation`
/// - sent, but no answer came: `ops tried to send a message to chat C1 — allowed, outcome
///   unknown: timeout (LiveChat may have done it)`
/// - cancelled: `ops tried to list chats — allowed, cancelled by the client`
///
/// Retries show as `after N attempts` from 2 attempts on, and a wait as `(waited 700 ms)`, or
/// `(waited 9.2 s)` from a second on. The LiveChat identity the call used, when recorded,
/// ends the sentence: `… — allowed, done in 182 ms (as bot 5c98…)`, `… — denied: … (as server
/// token)`, and `(no LiveChat identity)` for an agent that has none. The sentence is always
/// one line: control characters in what the caller passes become spaces.
pub fn sentence(entry: &NewEntry) -> String {
    if let Some(change) = policy_change(entry) {
        return change;
    }
    let mut text = outcome_sentence(entry);
    if let Some(identity) = entry.identity.as_deref().and_then(identity_words) {
        text.push(' ');
        text.push_str(&identity);
    }
    text
}

/// The sentence of a change to the policy made in the console ([`super::POLICY_CHANGE`]):
/// who, then the change as recorded: `admin set chats to read for support-bot`. `None` for
/// any other row, a call an agent made to a tool of that name included (it is denied).
fn policy_change(entry: &NewEntry) -> Option<String> {
    if entry.tool != super::POLICY_CHANGE
        || entry.decision != Decision::Allowed
        || entry.outcome != Outcome::Ok
    {
        return None;
    }
    let change: String = one_line(entry.reason.as_deref().unwrap_or_default())
        .chars()
        .filter(|&c| !hidden(c))
        .collect();
    let change = if change.is_empty() {
        "changed the policy".to_string()
    } else {
        change
    };
    Some(format!("{} {change}", show(&entry.agent)))
}

/// The identity the call used, as the end of its sentence: `(as own PAT)`, or `(no LiveChat
/// identity)` for `none`; `None` for an empty label. The label comes from `agent::Identity`,
/// not from a caller, but is still kept to one line and 64 characters, without invisible
/// characters, so that nothing in it can read as more of the sentence.
fn identity_words(label: &str) -> Option<String> {
    let label = one_line(label);
    if label.is_empty() {
        return None;
    }
    if label == "none" {
        return Some("(no LiveChat identity)".to_string());
    }
    let mut shown: String = label
        .chars()
        .filter(|&c| !hidden(c))
        .take(MAX_SHOWN_CHARS)
        .collect();
    if label.chars().filter(|&c| !hidden(c)).count() > MAX_SHOWN_CHARS {
        shown.push('…');
    }
    Some(format!("(as {shown})"))
}

/// [`sentence`] without the identity.
fn outcome_sentence(entry: &NewEntry) -> String {
    let agent = show(&entry.agent);
    let (tool, targets) = (entry.tool.as_str(), &entry.targets);
    let error = entry
        .error_type
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(show);
    let retries = match entry.attempts {
        Some(n) if n > 1 => format!(" after {n} attempts"),
        _ => String::new(),
    };
    let waited = entry.waited_ms.filter(|&ms| ms > 0).map(wait);
    let delivery = match &waited {
        Some(waited) => format!("{retries} (waited {waited})"),
        None => retries.clone(),
    };
    let approval = entry.targets.approval.as_deref().map(show);
    let by = entry
        .reason
        .as_deref()
        .map(one_line)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "someone".to_string());
    let text = match (entry.decision, entry.outcome, &approval) {
        (Decision::Denied, _, Some(id)) => format!(
            "{agent}'s request to {} — denied by {by} ({id})",
            attempt(tool, targets)
        ),
        (Decision::Allowed, Outcome::Held, _) => format!(
            "{agent} asked to {} — held for a person's approval ({})",
            attempt(tool, targets),
            approval.as_deref().unwrap_or("no request")
        ),
        (Decision::Allowed, Outcome::Approved, _) => format!(
            "{agent}'s request to {} — approved by {by} ({})",
            attempt(tool, targets),
            approval.as_deref().unwrap_or("no request")
        ),
        (Decision::Allowed, Outcome::Expired, _) => format!(
            "{agent}'s request to {} — expired: not approved, or not used once approved, in time ({})",
            attempt(tool, targets),
            approval.as_deref().unwrap_or("no request")
        ),
        _ => call_sentence(entry, &agent, &delivery, &retries, waited, error),
    };
    match (&approval, entry.outcome) {
        (
            Some(id),
            Outcome::Ok | Outcome::Pending | Outcome::Error | Outcome::Unknown | Outcome::Cancelled,
        ) if entry.decision == Decision::Allowed => {
            format!("{text}, approved in {id}")
        }
        _ => text,
    }
}

/// The sentence of a call as such: allowed or refused, and how it went.
fn call_sentence(
    entry: &NewEntry,
    agent: &str,
    delivery: &str,
    retries: &str,
    waited: Option<String>,
    error: Option<String>,
) -> String {
    let (tool, targets) = (entry.tool.as_str(), &entry.targets);
    match (entry.decision, entry.outcome) {
        (Decision::Denied, _) => match entry
            .reason
            .as_deref()
            .map(one_line)
            .filter(|r| !r.is_empty())
        {
            Some(reason) => format!(
                "{agent} tried to {} — denied: {reason}",
                attempt(tool, targets)
            ),
            None => format!("{agent} tried to {} — denied", attempt(tool, targets)),
        },
        (Decision::Allowed, Outcome::Ok) => format!(
            "{agent} {} — allowed, done in {} ms{delivery}",
            phrase(tool, targets),
            entry.duration_ms
        ),
        (Decision::Allowed, Outcome::Pending) => format!(
            "{agent} tried to {} — allowed, sending to LiveChat",
            attempt(tool, targets)
        ),
        (Decision::Allowed, Outcome::Unknown) => match error {
            Some(error) => {
                let waited = waited.map(|w| format!("waited {w}; ")).unwrap_or_default();
                format!(
                    "{agent} tried to {} — allowed, outcome unknown: {error}{retries} ({waited}LiveChat may have done it)",
                    attempt(tool, targets)
                )
            }
            None => format!(
                "{agent} tried to {} — allowed, outcome unknown: the server stopped before LiveChat's answer was recorded",
                attempt(tool, targets)
            ),
        },
        (Decision::Allowed, Outcome::Cancelled) => format!(
            "{agent} tried to {} — allowed, cancelled by the client{delivery}",
            attempt(tool, targets)
        ),
        (
            Decision::Allowed,
            Outcome::Error | Outcome::Denied | Outcome::Held | Outcome::Approved | Outcome::Expired,
        ) => match error {
            Some(error) => format!(
                "{agent} tried to {} — allowed, failed: {error}{delivery}",
                attempt(tool, targets)
            ),
            None => format!(
                "{agent} tried to {} — allowed, failed{delivery}",
                attempt(tool, targets)
            ),
        },
    }
}

/// A wait as a sentence gives it: `700 ms` under a second, else seconds with one decimal
/// (`9.2 s`).
fn wait(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        let tenths = ms.saturating_add(50) / 100;
        format!("{}.{} s", tenths / 10, tenths % 10)
    }
}

/// Both forms of a tool's verb phrase: (past tense, base form), from the words its definition
/// declares (`ToolSpec::said`).
fn phrases(tool: &str, t: &Targets) -> (String, String) {
    // Not a LiveChat method: the server answers it from its event log.
    if tool == crate::events::tool::NAME {
        let count = t.count.map_or_else(String::new, |n| {
            format!(" ({n} event{})", if n == 1 { "" } else { "s" })
        });
        return (
            format!("read help desk events{count}"),
            "read help desk events".to_string(),
        );
    }
    // Not LiveChat methods either: subscriptions to the server's resources.
    if let Some(words) = crate::events::resources::audit_phrases(tool, t.chat_id.as_deref()) {
        return words;
    }
    match crate::tools::find(tool) {
        Some(spec) if !spec.said.past.is_empty() => {
            let object = render(spec.said.object, t);
            (
                format!("{} {object}", spec.said.past),
                format!("{} {object}", spec.said.base),
            )
        }
        _ => {
            let name = show(tool);
            (format!("called `{name}`"), format!("call `{name}`"))
        }
    }
}

/// Renders a sentence object: `{name}` placeholders, and `[…]` kept only when every
/// placeholder inside has a value.
fn render(template: &str, t: &Targets) -> String {
    let mut out = String::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').unwrap_or(inner.len());
            if let Some(text) = fill(&inner[..end], t, true) {
                out.push_str(&text);
            }
            rest = inner.get(end + 1..).unwrap_or_default();
        } else {
            let end = rest.find('[').unwrap_or(rest.len());
            out.push_str(&fill(&rest[..end], t, false).unwrap_or_default());
            rest = &rest[end..];
        }
    }
    out
}

/// Fills the placeholders of `text`. When `strict`, a placeholder without a value makes the
/// whole text `None`; otherwise it reads as its fallback ("a chat").
fn fill(text: &str, t: &Targets, strict: bool) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        match (value(name, t), strict) {
            (Some(v), _) => out.push_str(&v),
            (None, true) => return None,
            (None, false) => out.push_str(fallback(name)),
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Some(out)
}

/// A placeholder's text when the call named it.
fn value(name: &str, t: &Targets) -> Option<String> {
    let content = t.content.as_ref();
    let quoted = |s: &String| quote(s);
    match name {
        "chat" => t.chat_id.as_ref().map(|c| format!("chat {}", show(c))),
        "thread" => t.thread_id.as_ref().map(|c| format!("thread {}", show(c))),
        "event" => t.event_id.as_ref().map(|c| format!("event {}", show(c))),
        "rich_message" => t
            .event_id
            .as_ref()
            .map(|c| format!("rich message {}", show(c))),
        "user" => match (&t.agent_id, &t.customer_id) {
            (Some(agent), _) => Some(format!("agent {}", show(agent))),
            (None, Some(customer)) => Some(format!("customer {}", show(customer))),
            (None, None) => None,
        },
        "customer" => t
            .customer_id
            .as_ref()
            .map(|c| format!("customer {}", show(c))),
        "agent" => t.agent_id.as_ref().map(|a| format!("agent {}", show(a))),
        "bot" => t.agent_id.as_ref().map(|a| format!("bot {}", show(a))),
        "group" => t.group_id.map(|g| format!("group {g}")),
        "tag" => t.tag.as_ref().map(|tag| format!("tag {}", quoted(tag))),
        "property" => t
            .property
            .as_ref()
            .map(|p| format!("property {}", quoted(p))),
        "webhook" => t
            .webhook_id
            .as_ref()
            .map(|w| format!("webhook {}", show(w))),
        "target" => t.target.as_ref().map(transfer_to),
        "event_kind" => content.and_then(event_kind).map(str::to_string),
        "fields" => content
            .and_then(|c| c.fields.as_ref())
            .filter(|f| !f.is_empty())
            .map(|f| f.iter().map(|x| show(x)).collect::<Vec<_>>().join(", ")),
        "days" => content.and_then(|c| c.days).map(|d| match d {
            1 => "1 day".to_string(),
            d => format!("{d} days"),
        }),
        "status" => content
            .and_then(|c| c.status.as_ref())
            .map(|s| show(s).replace('_', " ")),
        "action" => content.and_then(|c| c.action.as_ref()).map(quoted),
        "file" => content.and_then(|c| {
            let name = c.file_name.as_ref()?;
            // A MIME type reads as it is; anything else in its place is quoted.
            let mime = |t: &String| {
                let plain = t.len() <= MAX_SHOWN_CHARS
                    && t.split_once('/')
                        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-/".contains(&b));
                if plain { t.clone() } else { quote(t) }
            };
            let mut about: Vec<String> = c.content_type.iter().map(mime).collect();
            about.extend(c.size.map(|n| format!("{n} bytes")));
            Some(match about.is_empty() {
                true => format!("file {}", quoted(name)),
                false => format!("file {} ({})", quoted(name), about.join(", ")),
            })
        }),
        _ => None,
    }
}

/// What a placeholder reads as when the call did not name it.
fn fallback(name: &str) -> &'static str {
    match name {
        "chat" => "a chat",
        "thread" => "a thread",
        "event" => "an event",
        "rich_message" => "a rich message",
        "user" => "a user",
        "customer" => "a customer",
        "agent" => "an agent",
        "bot" => "a bot",
        "group" => "a group",
        "tag" => "a tag",
        "property" => "a property",
        "webhook" => "a webhook",
        "event_kind" => "an event",
        "file" => "a file",
        _ => "something",
    }
}

/// The kind of event a call sends, as a noun phrase: `a message`, `an internal note`, ….
fn event_kind(content: &Content) -> Option<&'static str> {
    let internal = content.visibility.as_deref() == Some("agents");
    Some(match content.event_type.as_deref()? {
        "message" if internal => "an internal note",
        "message" => "a message",
        "file" => "a file",
        "rich_message" => "a rich message",
        "custom" => "a custom event",
        "system_message" => "a system message",
        "form" => "a form",
        "filled_form" => "a filled form",
        _ => "an event",
    })
}

fn transfer_to(target: &TransferTarget) -> String {
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
        0 => kind,
        1 => format!("{kind} {}", ids.join("")),
        _ => format!("{kind}s {}", ids.join(", ")),
    }
}

/// The longest id shown whole in a sentence; the full id is in `targets`.
const MAX_SHOWN_CHARS: usize = 64;

/// An id as a sentence shows it: a customer UUID by its first 8 characters (enough to find it
/// in `targets`); a plain id (letters, digits and `_ . @ + : -`, as LiveChat's chat IDs, agent
/// emails and error types are) as it is; anything else quoted and escaped, so that no value a
/// caller or LiveChat sends can read as more of the sentence or as another entry.
fn show(id: &str) -> String {
    if crate::fence::is_customer_id(id) {
        let head: String = id.chars().take(8).collect();
        return format!("{head}…");
    }
    let plain = !id.is_empty()
        && id.chars().count() <= MAX_SHOWN_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@+:-".contains(c));
    if plain { id.to_string() } else { quote(id) }
}

/// A free value (a tag, a property, an odd id) in backticks: at most 64 characters, then `…`;
/// backticks, backslashes, control, bidirectional and invisible characters as escapes.
fn quote(value: &str) -> String {
    let mut out = String::from("`");
    for (i, c) in value.chars().enumerate() {
        if i == MAX_SHOWN_CHARS {
            out.push('…');
            break;
        }
        match c {
            '`' => out.push_str("\\`"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || hidden(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// Characters that change how text around them reads without showing themselves:
/// bidirectional controls, zero-width characters, tag characters and the like.
fn hidden(c: char) -> bool {
    // What results lose (`fence::is_hidden`), and what a one-line sentence must not show
    // either but a customer's message may keep (soft hyphens, fillers, line separators,
    // variation selectors, which emoji use).
    crate::fence::is_hidden(c)
        || matches!(c,
            '\u{00ad}' | '\u{034f}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
            | '\u{2028}' | '\u{2029}' | '\u{2065}' | '\u{206a}'..='\u{206f}' | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}' | '\u{ffa0}' | '\u{fff9}'..='\u{fffb}')
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

    /// A call by `agent` to `tool` with `args`, allowed and done, as the trail records it.
    fn call(agent: &str, tool: &str, args: Value) -> NewEntry {
        match args {
            Value::Object(map) => NewEntry::new(agent, tool, &map),
            _ => NewEntry::new(agent, tool, &serde_json::Map::new()),
        }
    }

    const CUSTOMER: &str = "b7ef0c1d-2a3b-4c5d-8e9f-0a1b2c3d4e5f";

    /// A change made in the console reads as what the admin did; a call an agent makes to a
    /// tool of the same name reads as the refused call it is.
    #[test]
    fn policy_changes_read_as_what_the_admin_did() {
        assert!(crate::tools::find(crate::audit::POLICY_CHANGE).is_none());
        for (change, said) in [
            (
                "set chats to read for support-bot",
                "admin set chats to read for support-bot",
            ),
            ("added agent x", "admin added agent x"),
            ("removed agent x", "admin removed agent x"),
            ("rotated the key of x", "admin rotated the key of x"),
            ("made a key for x", "admin made a key for x"),
            (
                "added agent x\nadmin removed agent y",
                "admin added agent x admin removed agent y",
            ),
        ] {
            let entry = NewEntry::policy_change(change);
            assert_eq!(
                (entry.decision, entry.outcome, entry.reason.as_deref()),
                (Decision::Allowed, Outcome::Ok, Some(change))
            );
            assert_eq!(sentence(&entry), said);
        }
        let call = call("admin", crate::audit::POLICY_CHANGE, json!({})).denied("no such tool");
        assert_eq!(
            sentence(&call),
            "admin tried to call `policy` — denied: no such tool"
        );
    }

    #[test]
    fn allowed_denied_and_failed_sentences() {
        let send = call(
            "support-bot",
            "send_event",
            json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "Hi there"}}),
        );
        assert_eq!(
            sentence(&send.clone().took(182)),
            "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 182 ms"
        );
        let ban = json!({"id": CUSTOMER, "ban": {"days": 3}});
        assert_eq!(
            sentence(
                &call("auditor", "ban_customer", ban.clone())
                    .denied("customers is off for auditor")
            ),
            "auditor tried to ban customer b7ef0c1d… for 3 days — denied: customers is off for auditor"
        );
        let tag = call(
            "support-bot",
            "tag_thread",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C"}),
        );
        assert_eq!(
            sentence(&tag.failed("validation").took(95)),
            "support-bot tried to tag thread QR8E5RKF2C of chat PJ0MRSHTDG — allowed, failed: validation"
        );
        assert_eq!(
            sentence(&call("ops", "ban_customer", ban).took(40)),
            "ops banned customer b7ef0c1d… for 3 days — allowed, done in 40 ms"
        );
        assert_eq!(
            sentence(&send.pending()),
            "support-bot tried to send a message to chat PJ0MRSHTDG — allowed, sending to LiveChat"
        );
    }

    #[test]
    fn retries_waits_unknown_answers_and_cancellations() {
        let list = || call("ops", "list_chats", json!({})).took(812);
        assert_eq!(
            sentence(&list().delivered(3, 700)),
            "ops listed chats — allowed, done in 812 ms after 3 attempts (waited 700 ms)"
        );
        assert_eq!(
            sentence(&list().delivered(1, 700)),
            "ops listed chats — allowed, done in 812 ms (waited 700 ms)"
        );
        assert_eq!(
            sentence(&list().delivered(2, 0)),
            "ops listed chats — allowed, done in 812 ms after 2 attempts"
        );
        // One attempt and no wait, or nothing recorded: as before there were retries.
        for quiet in [list().delivered(1, 0), list()] {
            assert_eq!(
                sentence(&quiet),
                "ops listed chats — allowed, done in 812 ms"
            );
        }
        assert_eq!(
            sentence(&list().failed("too_many_requests").delivered(4, 9_200)),
            "ops tried to list chats — allowed, failed: too_many_requests after 4 attempts (waited 9.2 s)"
        );
        assert_eq!(
            sentence(&list().failed("too_many_requests").delivered(1, 1_000)),
            "ops tried to list chats — allowed, failed: too_many_requests (waited 1.0 s)"
        );
        let send = call(
            "ops",
            "send_event",
            json!({"chat_id": "C1", "event": {"type": "message", "text": "hi"}}),
        );
        assert_eq!(
            sentence(&send.clone().unknown_after("timeout")),
            "ops tried to send a message to chat C1 — allowed, outcome unknown: timeout (LiveChat may have done it)"
        );
        assert_eq!(
            sentence(&send.clone().unknown_after("timeout").delivered(2, 1_500)),
            "ops tried to send a message to chat C1 — allowed, outcome unknown: timeout after 2 attempts (waited 1.5 s; LiveChat may have done it)"
        );
        // Without a failure named, it is a call a stopped server left pending.
        let mut stopped = send.unknown_after("x");
        stopped.error_type = None;
        assert_eq!(
            sentence(&stopped),
            "ops tried to send a message to chat C1 — allowed, outcome unknown: the server stopped before LiveChat's answer was recorded"
        );
        assert_eq!(
            sentence(&list().cancelled()),
            "ops tried to list chats — allowed, cancelled by the client"
        );
        assert_eq!(
            sentence(&list().cancelled().delivered(0, 2_000)),
            "ops tried to list chats — allowed, cancelled by the client (waited 2.0 s)"
        );
        // A quota denial is a denial: its reason says which limit.
        assert_eq!(
            sentence(
                &call("ops", "list_chats", json!({}))
                    .denied("over the limit of 5 writes per minute")
                    .delivered(0, 0)
            ),
            "ops tried to list chats — denied: over the limit of 5 writes per minute"
        );
    }

    #[test]
    fn subscriptions_to_resources_read_as_sentences() {
        let chat = json!({"chat_id": "PJ0MRSHTDG"});
        assert_eq!(
            sentence(&call("reader", "subscribe_chat", chat.clone()).took(1)),
            "reader subscribed to chat PJ0MRSHTDG — allowed, done in 1 ms"
        );
        assert_eq!(
            sentence(
                &call("blind", "subscribe_chat", chat.clone()).denied("chats is off for blind")
            ),
            "blind tried to subscribe to chat PJ0MRSHTDG — denied: chats is off for blind"
        );
        assert_eq!(
            sentence(&call("reader", "unsubscribe_chat", chat).took(0)),
            "reader unsubscribed from chat PJ0MRSHTDG — allowed, done in 0 ms"
        );
        assert_eq!(
            sentence(&call("reader", "subscribe_events", json!({})).took(0)),
            "reader subscribed to help desk events — allowed, done in 0 ms"
        );
        assert_eq!(
            sentence(
                &call("reader", "subscribe_events", json!({})).failed("too_many_subscriptions")
            ),
            "reader tried to subscribe to help desk events — allowed, failed: too_many_subscriptions"
        );
        assert_eq!(
            sentence(&call("reader", "read_resource", json!({})).failed("invalid_arguments")),
            "reader tried to read a resource — allowed, failed: invalid_arguments"
        );
    }

    #[test]
    fn waits_read_in_milliseconds_then_seconds() {
        assert_eq!(wait(0), "0 ms");
        assert_eq!(wait(999), "999 ms");
        assert_eq!(wait(1_000), "1.0 s");
        assert_eq!(wait(1_049), "1.0 s");
        assert_eq!(wait(1_050), "1.1 s");
        assert_eq!(wait(9_200), "9.2 s");
        assert_eq!(wait(125_000), "125.0 s");
        assert_eq!(wait(u64::MAX), "18446744073709551.6 s");
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
                "sent an internal note to chat X",
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
            ("transfer_chat", json!({"id": "X"}), "transferred chat X"),
            (
                "get_chat",
                json!({"chat_id": "C", "thread_id": "T"}),
                "read thread T of chat C",
            ),
            (
                "list_archives",
                json!({"filters": {"customer_id": "Y"}}),
                "searched the chat archives for customer Y",
            ),
            (
                "set_routing_status",
                json!({"status": "accepting_chats"}),
                "set the routing status to accepting chats",
            ),
            (
                "untag_thread",
                json!({}),
                "removed a tag from a thread of a chat",
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
                "tagged thread T of chat C with tag `vip`",
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
            (
                "list_agents_for_transfer",
                json!({"chat_id": "C"}),
                "listed the agents chat C can be transferred to",
            ),
            ("follow_chat", json!({"id": "C"}), "followed chat C"),
            ("unfollow_chat", json!({"id": "C"}), "unfollowed chat C"),
            (
                "mark_events_as_seen",
                json!({"chat_id": "C", "seen_up_to": "2026-03-02T09:20:00Z"}),
                "marked the events of chat C as seen",
            ),
            (
                "send_typing_indicator",
                json!({"chat_id": "C", "is_typing": true}),
                "sent a typing indicator to chat C",
            ),
            (
                "send_thinking_indicator",
                json!({"chat_id": "C", "title": "Thinking..."}),
                "sent a thinking indicator to chat C",
            ),
            (
                "request_thread_summary",
                json!({"chat_id": "C", "thread_id": "T"}),
                "requested a summary of thread T of chat C",
            ),
            (
                "suspend_agent",
                json!({"id": "a@x.io"}),
                "suspended agent a@x.io",
            ),
            (
                "unsuspend_agent",
                json!({"id": "a@x.io"}),
                "unsuspended agent a@x.io",
            ),
            (
                "disable_license_webhooks",
                json!({"owner_client_id": "c1"}),
                "disabled an app's license webhooks",
            ),
            (
                "list_webhook_names",
                json!({"version": "3.6"}),
                "listed the webhook actions",
            ),
            (
                "unban_customer",
                json!({"customer_id": "Y"}),
                "unbanned customer Y",
            ),
            (
                "unban_customer",
                json!({"ip": "192.0.2.1"}),
                "unbanned a customer",
            ),
            (
                "multicast",
                json!({"recipients": {"agents": {"all": true}}, "content": {"secret": "x"}}),
                "sent agents a message outside chats",
            ),
            ("list_customers", json!({"limit": 5}), "listed customers"),
            (
                "create_customer",
                json!({"name": "Ann", "email": "ann@example.com"}),
                "created a customer",
            ),
            (
                "list_properties",
                json!({"owner_client_id": "c1"}),
                "listed an app's registered properties",
            ),
            (
                "unregister_property",
                json!({"name": "vip", "owner_client_id": "c1"}),
                "unregistered property `vip`",
            ),
            (
                "list_license_properties",
                json!({"namespace": "c1"}),
                "listed the license's property values",
            ),
            (
                "list_groups_properties",
                json!({"group_ids": [1]}),
                "listed the property values of groups",
            ),
            (
                "upload_file",
                json!({"name": "invoice.pdf", "content_type": "application/pdf", "content": "JVBERi0="}),
                "uploaded file `invoice.pdf` (application/pdf)",
            ),
            (
                "upload_file",
                json!({"name": "a.txt", "content_type": "text/plain — allowed", "content": "aGk="}),
                "uploaded file `a.txt` (`text/plain — allowed`)",
            ),
            ("upload_file", json!({}), "uploaded a file"),
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
        for spec in crate::tools::all() {
            let (past, base) = phrases(spec.name, &Targets::default());
            assert!(!past.starts_with("called"), "{} has no phrase", spec.name);
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
    }

    #[test]
    fn unbalanced_templates_do_not_panic() {
        let t = Targets::default();
        for template in [
            "[",
            "]",
            "{",
            "}",
            "[{chat",
            "a [b {chat} c",
            "{}",
            "[]",
            "][",
        ] {
            let _ = render(template, &t);
        }
        assert_eq!(render("x[ {chat}] y", &t), "x y");
        assert_eq!(render("{chat}", &t), "a chat");
    }

    #[test]
    fn a_spoofed_id_reads_as_one_quoted_value() {
        let spoof = "PJ0MRSHTDG — allowed, done in 0 ms; #7 smith deleted agent lee";
        let s = sentence(&call("support-bot", "get_chat", json!({"chat_id": spoof})).took(3));
        assert_eq!(
            s,
            "support-bot read chat `PJ0MRSHTDG — allowed, done in 0 ms; #7 smith deleted agent lee` — allowed, done in 3 ms"
        );
        // Bidirectional, zero-width and tag characters, and a backtick that would close the
        // quote, are shown as escapes; a long value is cut with a marker.
        let sneaky = "vip\u{202e}pirc\u{200b}`x\u{e0041}";
        let s = phrase("create_tag", &t("create_tag", json!({"name": sneaky})));
        assert_eq!(s, "created tag `vip\\u{202e}pirc\\u{200b}\\`x\\u{e0041}`");
        let long = "a".repeat(100);
        let s = phrase("get_chat", &t("get_chat", json!({"chat_id": long})));
        assert_eq!(s, format!("read chat `{}…`", "a".repeat(64)));
        // Plain ids stay as they are.
        let s = phrase(
            "get_agent",
            &t("get_agent", json!({"id": "jane.doe+1@example.com"})),
        );
        assert_eq!(s, "read the profile of agent jane.doe+1@example.com");
        // An error type from upstream is a value too.
        let s = sentence(
            &call("ops", "get_chat", json!({"chat_id": "C1"}))
                .failed("x — allowed, done in 1 ms")
                .took(3),
        );
        assert_eq!(
            s,
            "ops tried to read chat C1 — allowed, failed: `x — allowed, done in 1 ms`"
        );
    }

    #[test]
    fn sentences_stay_on_one_line() {
        let s = sentence(
            &call("bot\nname", "get_chat", json!({"chat_id": "A\u{1b}[2J"}))
                .denied("line one\nline two"),
        );
        assert!(!s.contains('\n') && !s.contains('\u{1b}'), "{s}");
    }

    /// The identity the call used ends its sentence, whatever the outcome: `(as …)`, or `(no
    /// LiveChat identity)` for an agent without one; a sentence without one reads as before.
    #[test]
    fn the_identity_ends_the_sentence() {
        let send = call(
            "support-bot",
            "send_event",
            json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "Hi"}}),
        );
        let bot = send.clone().identity("bot 5c98…");
        assert_eq!(
            sentence(&bot.clone().took(182)),
            "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 182 ms (as bot 5c98…)"
        );
        assert_eq!(
            sentence(&bot.pending()),
            "support-bot tried to send a message to chat PJ0MRSHTDG — allowed, sending to LiveChat (as bot 5c98…)"
        );
        assert_eq!(
            sentence(&bot.clone().delivered(3, 700).took(812)),
            "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 812 ms after 3 attempts (waited 700 ms) (as bot 5c98…)"
        );
        assert_eq!(
            sentence(&bot.clone().unknown_after("timeout")),
            "support-bot tried to send a message to chat PJ0MRSHTDG — allowed, outcome unknown: timeout (LiveChat may have done it) (as bot 5c98…)"
        );
        assert_eq!(
            sentence(&send.clone().identity("own PAT").failed("validation")),
            "support-bot tried to send a message to chat PJ0MRSHTDG — allowed, failed: validation (as own PAT)"
        );
        assert_eq!(
            sentence(&send.clone().identity("own token").cancelled()),
            "support-bot tried to send a message to chat PJ0MRSHTDG — allowed, cancelled by the client (as own token)"
        );
        assert_eq!(
            sentence(
                &call("auditor", "list_chats", json!({}))
                    .identity("server token")
                    .denied("chats is off for auditor")
            ),
            "auditor tried to list chats — denied: chats is off for auditor (as server token)"
        );
        assert_eq!(
            sentence(
                &call("stranger", "list_chats", json!({}))
                    .identity("none")
                    .denied("agent stranger is not in the policy")
            ),
            "stranger tried to list chats — denied: agent stranger is not in the policy (no LiveChat identity)"
        );
        assert_eq!(
            sentence(&send.clone().took(5)),
            "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 5 ms"
        );
        assert_eq!(
            sentence(&send.clone().identity("").took(5)),
            "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 5 ms"
        );
    }

    /// Whatever the label holds, the sentence stays one line, without invisible characters,
    /// and the label at most 64 characters.
    #[test]
    fn an_odd_identity_label_stays_one_short_line() {
        let odd = sentence(
            &call("ops", "list_chats", json!({}))
                .identity("bot\n#7 \u{202e}x\u{1b}[2J")
                .took(1),
        );
        assert_eq!(
            odd,
            "ops listed chats — allowed, done in 1 ms (as bot #7 x [2J)"
        );
        let long = sentence(&call("ops", "list_chats", json!({})).identity(&"b".repeat(100)));
        assert!(
            long.ends_with(&format!("(as {}…)", "b".repeat(64))),
            "{long}"
        );
    }
}
