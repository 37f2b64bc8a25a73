//! How the sandbox shows its records, in LiveChat's shapes: users, threads, chats, chat
//! summaries and customers, per API version.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{
    model::{Chat, ChatUser, Customer, Thread},
    state::State,
};
use crate::version::ApiVersion;

impl State {
    /// A chat user: the agent or customer record plus `present`, `events_seen_up_to`.
    pub(super) fn user_view(&self, user: &ChatUser, v: ApiVersion) -> Value {
        let mut out = if user.kind == "customer" {
            match self.lic.customers.iter().find(|c| c.id == user.id) {
                Some(c) => self.customer_record(c, v, false),
                None => json!({"id": user.id, "type": "customer"}),
            }
        } else {
            let mut agent = json!({"id": user.id, "type": "agent"});
            if let Some(a) = self.agent(&user.id) {
                agent["name"] = json!(a.name);
                if !a.bot {
                    agent["email"] = json!(a.id);
                }
                if let Some(avatar) = &a.avatar {
                    agent["avatar"] = json!(avatar);
                }
            }
            agent["visibility"] = json!(user.visibility);
            agent
        };
        out["present"] = json!(user.present);
        if let Some(seen) = &user.events_seen_up_to {
            out["events_seen_up_to"] = json!(seen);
        }
        out
    }

    /// A thread, with its events when `events` is set, and in v3.6 its `summary` if it has
    /// one.
    pub(super) fn thread_view(
        &self,
        chat: &Chat,
        index: usize,
        events: bool,
        v: ApiVersion,
    ) -> Value {
        let t = &chat.threads[index];
        let mut out = self.thread_summary(chat, t);
        if events {
            out["events"] = Value::Array(t.events.iter().cloned().map(Value::Object).collect());
        }
        if let Some(summary) = t.summary.as_ref().filter(|_| v == ApiVersion::V3_6) {
            out["summary"] = summary.clone();
        }
        if index > 0 {
            out["previous_thread_id"] = json!(chat.threads[index - 1].id);
        }
        if let Some(next) = chat.threads.get(index + 1) {
            out["next_thread_id"] = json!(next.id);
        }
        out
    }

    /// `last_thread_summary`, and the common part of every thread shape.
    fn thread_summary(&self, chat: &Chat, t: &Thread) -> Value {
        let mut out = json!({
            "id": t.id,
            "created_at": t.created_at,
            "active": t.active,
            "user_ids": t.user_ids,
            "properties": t.properties,
            "access": t.access.clone().unwrap_or_else(|| chat.access.clone()),
        });
        if !t.tags.is_empty() {
            out["tags"] = json!(t.tags);
        }
        out
    }

    /// A chat with one thread (`get_chat`, `list_archives`).
    pub(super) fn chat_view(&self, chat: &Chat, thread: Option<usize>, v: ApiVersion) -> Value {
        let mut out = json!({"id": chat.id});
        if let Some(index) = thread {
            out["thread"] = self.thread_view(chat, index, true, v);
        }
        out["users"] = self.users_view(chat, v);
        out["properties"] = json!(chat.properties);
        out["access"] = json!(chat.access);
        out["is_followed"] = json!(chat.is_followed);
        out
    }

    fn users_view(&self, chat: &Chat, v: ApiVersion) -> Value {
        Value::Array(chat.users.iter().map(|u| self.user_view(u, v)).collect())
    }

    /// A chat summary (`list_chats`): the last thread summarised and the last event of each
    /// type.
    pub(super) fn chat_summary(&self, chat: &Chat, v: ApiVersion) -> Value {
        let mut out = json!({"id": chat.id});
        if let Some(last) = chat.threads.last() {
            out["last_thread_summary"] = self.thread_summary(chat, last);
        }
        out["users"] = self.users_view(chat, v);
        let mut per_type: BTreeMap<String, Value> = BTreeMap::new();
        for t in &chat.threads {
            for e in &t.events {
                if let Some(kind) = e.get("type").and_then(Value::as_str) {
                    per_type.insert(
                        kind.to_string(),
                        json!({"thread_id": t.id, "thread_created_at": t.created_at, "event": e}),
                    );
                }
            }
        }
        out["last_event_per_type"] = json!(per_type);
        out["properties"] = json!(chat.properties);
        out["access"] = json!(chat.access);
        out["is_followed"] = json!(chat.is_followed);
        out
    }

    /// A customer as `get_customer` shows it (`full`) or as a chat user.
    pub(super) fn customer_record(&self, c: &Customer, v: ApiVersion, full: bool) -> Value {
        let v36 = v == ApiVersion::V3_6;
        let mut out = Map::new();
        out.insert("id".into(), json!(c.id));
        out.insert("type".into(), json!("customer"));
        out.insert("created_at".into(), json!(c.created_at));
        for (key, value) in [
            ("name", &c.name),
            ("email", &c.email),
            ("avatar", &c.avatar),
        ] {
            if let Some(value) = value {
                out.insert(key.into(), json!(value));
            }
        }
        if v36 {
            out.insert("email_verified".into(), json!(false));
            if let Some(phone) = &c.phone_number {
                out.insert("phone_number".into(), json!(phone));
            }
        }
        out.insert("session_fields".into(), json!(c.session_fields));
        if let Some(visit) = &c.visit {
            out.insert(
                if v36 { "visit" } else { "last_visit" }.into(),
                visit.clone(),
            );
        }
        let chats: Vec<&Chat> = self
            .lic
            .chats
            .iter()
            .filter(|chat| chat.customer().is_some_and(|u| u.id == c.id))
            .collect();
        let threads: usize = chats
            .iter()
            .flat_map(|chat| chat.threads.iter())
            .filter(|t| t.user_ids.iter().any(|u| u == &c.id))
            .count();
        let pages = c
            .visit
            .as_ref()
            .and_then(|v| v.get("last_pages"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let mut statistics = json!({
            "chats_count": chats.len(),
            "threads_count": threads,
            "visits_count": c.visits_count,
            "page_views_count": pages.max(c.visits_count as usize),
            "greetings_shown_count": 0,
            "greetings_accepted_count": 0,
        });
        if v36 {
            statistics["tickets_count"] = json!(0);
        }
        out.insert("statistics".into(), statistics);
        let (agent_last, customer_last) = last_events(&chats, &c.id);
        if let Some(t) = agent_last {
            out.insert("agent_last_event_created_at".into(), json!(t));
        }
        if let Some(t) = customer_last {
            out.insert("customer_last_event_created_at".into(), json!(t));
        }
        if v36 {
            if let Some(o) = &c.omnichannel {
                out.insert("omnichannel".into(), o.clone());
            }
            if let Some(a) = &c.address {
                out.insert("address".into(), a.clone());
            }
        }
        if full {
            out.insert(
                "chat_ids".into(),
                json!(
                    chats
                        .iter()
                        .map(|chat| chat.id.as_str())
                        .collect::<Vec<_>>()
                ),
            );
            if v36 {
                out.insert("tickets".into(), json!([]));
            }
        }
        Value::Object(out)
    }
}

/// The latest event by an agent and by the customer across `chats`.
fn last_events(chats: &[&Chat], customer: &str) -> (Option<String>, Option<String>) {
    let mut agent = None;
    let mut own = None;
    for e in chats
        .iter()
        .flat_map(|c| c.threads.iter())
        .flat_map(|t| t.events.iter())
    {
        let (Some(author), Some(at)) = (
            e.get("author_id").and_then(Value::as_str),
            e.get("created_at").and_then(Value::as_str),
        ) else {
            continue;
        };
        let slot = if author == customer {
            &mut own
        } else {
            &mut agent
        };
        if slot.as_deref().is_none_or(|s: &str| s < at) {
            *slot = Some(at.to_string());
        }
    }
    (agent, own)
}
