//! The payloads of the webhooks LiveChat sends after a call, one function per action (the
//! action itself is a fact of the method, in `methods`), rendered from the state after the
//! call, the call's body and its answer, in the shape of the docs' webhooks page of each
//! version. `outbox` wraps them in the delivery envelope and queues them.

use serde_json::{Map, Value, json};

use super::{model::Chat, state::State};
use crate::version::ApiVersion;

/// A call that succeeded: its JSON body (`null` for a form) and its answer.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    pub body: &'a Value,
    pub response: &'a Value,
}

impl Call<'_> {
    fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }
}

impl State {
    fn chat_by_id(&self, id: &str) -> Option<&Chat> {
        self.lic.chats.iter().find(|c| c.id == id)
    }
}

/// The ID of the chat's last thread, if it has any.
fn last_thread(chat: &Chat) -> Option<&str> {
    chat.threads.last().map(|t| t.id.as_str())
}

/// The ID of the chat's active thread, if it has one.
fn active_thread(chat: &Chat) -> Option<&str> {
    chat.threads
        .last()
        .filter(|t| t.active)
        .map(|t| t.id.as_str())
}

/// `incoming_chat` (`start_chat`, `resume_chat`, the customer's `start_chat`): the whole
/// chat, with the new thread and its initial events.
pub fn incoming_chat(s: &State, v: ApiVersion, call: &Call) -> Option<Value> {
    let chat_id = call
        .response
        .get("chat_id")
        .and_then(Value::as_str)
        .or_else(|| call.body.pointer("/chat/id").and_then(Value::as_str))?;
    let thread_id = call.response.get("thread_id").and_then(Value::as_str)?;
    let chat = s.chat_by_id(chat_id)?;
    let index = chat.thread_index(thread_id)?;
    let mut view = s.chat_view(chat, Some(index), v);
    // Whether the requester follows the chat is the requester's own view, not the chat's.
    if let Some(map) = view.as_object_mut() {
        map.remove("is_followed");
    }
    Some(json!({ "chat": view }))
}

/// `chat_deactivated`: who closed the thread.
pub fn chat_deactivated(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let chat = s.chat_by_id(call.str("id")?)?;
    Some(json!({
        "chat_id": chat.id,
        "thread_id": last_thread(chat)?,
        "user_id": s.requester(),
    }))
}

/// `chat_transferred`: the groups and agents the chat went to, and the queue when no agent
/// took it.
pub fn chat_transferred(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let chat = s.chat_by_id(call.str("id")?)?;
    let agents: Vec<&str> = chat
        .users
        .iter()
        .filter(|u| u.kind == "agent" && u.present)
        .map(|u| u.id.as_str())
        .collect();
    let mut out = json!({
        "chat_id": chat.id,
        "requester_id": s.requester(),
        "reason": "manual",
        "transferred_to": {"group_ids": chat.access.group_ids, "agent_ids": agents},
    });
    if let Some(thread) = active_thread(chat) {
        out["thread_id"] = json!(thread);
    }
    if agents.is_empty() {
        out["queue"] = json!({"position": 1, "wait_time": 0, "queued_at": s.now()});
    }
    Some(out)
}

/// `user_added_to_chat`: the user as the chat shows it.
pub fn user_added_to_chat(s: &State, v: ApiVersion, call: &Call) -> Option<Value> {
    let chat = s.chat_by_id(call.str("chat_id")?)?;
    let user = chat.user(call.str("user_id")?)?;
    let mut out = json!({
        "chat_id": chat.id,
        "user": s.user_view(user, v),
        "user_type": user.kind,
        "reason": "manual",
        "requester_id": s.requester(),
    });
    if let Some(thread) = active_thread(chat) {
        out["thread_id"] = json!(thread);
    }
    Some(out)
}

/// `user_removed_from_chat`.
pub fn user_removed_from_chat(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let chat = s.chat_by_id(call.str("chat_id")?)?;
    let mut out = json!({
        "chat_id": chat.id,
        "user_id": call.str("user_id")?,
        "user_type": "agent",
        "reason": "manual",
        "requester_id": s.requester(),
    });
    if let Some(thread) = active_thread(chat) {
        out["thread_id"] = json!(thread);
    }
    Some(out)
}

/// `incoming_event` (`send_event`, the customer's `send_event`): the event as stored.
pub fn incoming_event(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let chat = s.chat_by_id(call.str("chat_id")?)?;
    let event_id = call.response.get("event_id").and_then(Value::as_str)?;
    let thread = chat.threads.iter().rev().find(|t| {
        t.events
            .iter()
            .any(|e| e.get("id").and_then(Value::as_str) == Some(event_id))
    })?;
    let event = thread
        .events
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(event_id))?;
    Some(json!({
        "chat_id": chat.id,
        "thread_id": thread.id,
        "event": event,
    }))
}

/// `incoming_rich_message_postback`: sent only for active threads.
pub fn incoming_rich_message_postback(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let chat = s.chat_by_id(call.str("chat_id")?)?;
    let thread_id = call.str("thread_id")?;
    chat.threads
        .iter()
        .find(|t| t.id == thread_id && t.active)?;
    Some(json!({
        "user_id": s.requester(),
        "chat_id": chat.id,
        "thread_id": thread_id,
        "event_id": call.str("event_id")?,
        "postback": call.body.get("postback")?,
    }))
}

/// `chat_properties_updated` and `chat_properties_deleted`: the properties named in the call.
pub fn chat_properties(_: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    Some(json!({
        "chat_id": call.str("id")?,
        "properties": call.body.get("properties")?,
    }))
}

/// `thread_properties_updated` and `thread_properties_deleted`.
pub fn thread_properties(_: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    Some(json!({
        "chat_id": call.str("chat_id")?,
        "thread_id": call.str("thread_id")?,
        "properties": call.body.get("properties")?,
    }))
}

/// `event_properties_updated` and `event_properties_deleted`.
pub fn event_properties(_: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    Some(json!({
        "chat_id": call.str("chat_id")?,
        "thread_id": call.str("thread_id")?,
        "event_id": call.str("event_id")?,
        "properties": call.body.get("properties")?,
    }))
}

/// `thread_tagged` and `thread_untagged`.
pub fn thread_tag(_: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    Some(json!({
        "chat_id": call.str("chat_id")?,
        "thread_id": call.str("thread_id")?,
        "tag": call.str("tag")?,
    }))
}

/// `events_marked_as_seen`: how far the requester has now seen.
pub fn events_marked_as_seen(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let chat = s.chat_by_id(call.str("chat_id")?)?;
    let seen = chat
        .user(s.requester())
        .and_then(|u| u.events_seen_up_to.clone())
        .or_else(|| call.str("seen_up_to").map(str::to_string))?;
    Some(json!({
        "user_id": s.requester(),
        "chat_id": chat.id,
        "seen_up_to": seen,
    }))
}

/// `thread_summary_set` (v3.6): the summary the thread now has.
pub fn thread_summary_set(s: &State, v: ApiVersion, call: &Call) -> Option<Value> {
    if v == ApiVersion::V3_5 {
        return None;
    }
    let chat = s.chat_by_id(call.str("chat_id")?)?;
    let thread_id = call.str("thread_id")?;
    let thread = chat.threads.iter().find(|t| t.id == thread_id)?;
    Some(json!({
        "chat_id": chat.id,
        "thread_id": thread_id,
        "summary": thread.summary.clone()?,
    }))
}

/// `routing_status_set`: the status as the docs' webhook writes it, in words.
pub fn routing_status_set(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let agent = call.str("agent_id").unwrap_or(s.requester());
    Some(json!({
        "agent_id": agent,
        "status": call.str("status")?.replace('_', " "),
    }))
}

/// `customer_session_fields_updated`: only when the call set session fields and the customer
/// has an active chat.
pub fn customer_session_fields_updated(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let id = call.str("id")?;
    let fields = call.body.get("session_fields")?;
    let chat = s
        .lic
        .chats
        .iter()
        .find(|c| c.is_active() && c.customer().is_some_and(|u| u.id == id))?;
    Some(json!({
        "id": id,
        "active_chat": {"chat_id": chat.id, "thread_id": active_thread(chat)?},
        "session_fields": fields,
    }))
}

/// `incoming_customer` (v3.5 `create_customer`): the new customer.
pub fn incoming_customer(s: &State, v: ApiVersion, call: &Call) -> Option<Value> {
    if v == ApiVersion::V3_6 {
        return None;
    }
    let id = call.response.get("customer_id").and_then(Value::as_str)?;
    let customer = s.lic.customers.iter().find(|c| c.id == id)?;
    Some(json!({ "customer": s.customer_record(customer, v, true) }))
}

/// `agent_created`: the whole agent.
pub fn agent_created(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let agent = s.agent(call.response.get("id").and_then(Value::as_str)?)?;
    Some(s.agent_record(
        agent,
        &[
            "awaiting_approval",
            "groups",
            "job_title",
            "mobile",
            "max_chats_count",
            "notifications",
            "email_subscriptions",
            "work_scheduler",
        ],
        false,
    ))
}

/// `bot_created`: the bot with its groups.
pub fn bot_created(s: &State, v: ApiVersion, call: &Call) -> Option<Value> {
    let bot = s.agent(call.response.get("id").and_then(Value::as_str)?)?;
    Some(s.bot_record(bot, v, &["groups"], false))
}

/// `group_created`: the whole group.
pub fn group_created(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let id = call.response.get("id").and_then(Value::as_u64)?;
    let group = s.lic.groups.iter().find(|g| u64::from(g.id) == id)?;
    Some(json!({
        "id": group.id,
        "name": group.name,
        "language_code": group.language_code,
        "agent_priorities": group.agent_priorities,
    }))
}

/// `tag_created`: the tag as stored.
pub fn tag_created(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let tag = s
        .lic
        .tags
        .iter()
        .find(|t| Some(t.name.as_str()) == call.str("name"))?;
    Some(json!({
        "name": tag.name,
        "group_ids": tag.group_ids,
        "created_at": tag.created_at,
        "author_id": tag.author_id,
    }))
}

/// `tag_updated`: the tag's name and groups now.
pub fn tag_updated(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let tag = s
        .lic
        .tags
        .iter()
        .find(|t| Some(t.name.as_str()) == call.str("name"))?;
    Some(json!({ "name": tag.name, "group_ids": tag.group_ids }))
}

/// `tag_deleted`.
pub fn tag_deleted(_: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    Some(json!({ "name": call.str("name")? }))
}

/// `*_updated` of agents, bots and groups: the ID and the fields the call changed (LiveChat
/// sends only changed fields).
pub fn updated_fields(_: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let body = call.body.as_object()?;
    let mut out = Map::new();
    out.insert("id".into(), body.get("id")?.clone());
    for (key, value) in body {
        if key != "id" {
            out.insert(key.clone(), value.clone());
        }
    }
    Some(Value::Object(out))
}

/// `*_deleted`, `agent_suspended`, `agent_unsuspended`: the ID alone.
pub fn id_only(_: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    Some(json!({ "id": call.body.get("id")? }))
}

/// Whether LiveChat's webhook for `action` is about the license's configuration (agents,
/// bots, groups, tags): in v3.6 those name their `requester` beside the payload.
pub fn is_configuration(action: &str) -> bool {
    ["agent_", "bot_", "group_", "tag_"]
        .iter()
        .any(|p| action.starts_with(p))
}

/// The chat a payload is about: `chat_id`, or the chat of `incoming_chat`.
pub fn chat_of(payload: &Value) -> Option<&str> {
    payload
        .get("chat_id")
        .or_else(|| payload.pointer("/chat/id"))
        .and_then(Value::as_str)
}

// ----- RTM pushes whose payload is not the webhook's (the docs' "rtm-pushes" page) -----

/// The `incoming_chat` push: the webhook's payload and who started the chat.
pub fn incoming_chat_push(s: &State, v: ApiVersion, call: &Call) -> Option<Value> {
    let mut out = incoming_chat(s, v, call)?;
    out["requester_id"] = json!(s.requester());
    Some(out)
}

/// The `routing_status_set` push: the status as the API names it (`accepting_chats`), where
/// the webhook writes it in words.
pub fn routing_status_push(s: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let agent = call.str("agent_id").unwrap_or(s.requester());
    Some(json!({
        "agent_id": agent,
        "status": call.str("status")?,
    }))
}

/// The `incoming_customer` push, in every version: the customer object itself.
pub fn incoming_customer_push(s: &State, v: ApiVersion, call: &Call) -> Option<Value> {
    let id = call.response.get("customer_id").and_then(Value::as_str)?;
    let customer = s.lic.customers.iter().find(|c| c.id == id)?;
    Some(s.customer_record(customer, v, true))
}

/// The `customer_updated` push (`update_customer`): the customer's ID and the fields the call
/// changed.
pub fn customer_updated_push(_: &State, _: ApiVersion, call: &Call) -> Option<Value> {
    let body = call.body.as_object()?;
    let mut out = Map::new();
    for (key, value) in body {
        out.insert(key.clone(), value.clone());
    }
    out.get("id")?;
    Some(Value::Object(out))
}
