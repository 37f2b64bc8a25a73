//! The sandbox as a customer: the Customer Chat API's `start_chat` and `send_event`
//! (`POST /v3.x/customer/action/...`), so a chat can be started and written to with no
//! account. The calling customer is named by the sandbox's own `customer_id` query parameter
//! (LiveChat reads it from the customer's access token); a customer the license does not hold
//! yet is created, as LiveChat creates one for a new customer token. The rows are in
//! `methods::CUSTOMER_METHODS`.

use serde_json::{Map, Value, json};

use super::{
    error::{LcError, LcResult},
    methods::{self, CustomerMethod},
    model::{Access, Chat, ChatUser, Customer, Props, Thread},
    params::Obj,
    state::State,
    webhooks::Call,
};
use crate::version::ApiVersion;

/// The event types a customer may send (the docs: `form` is not supported, and system
/// messages are the server's).
const CUSTOMER_EVENTS: &[&str] = &["message", "file", "rich_message", "custom", "filled_form"];

impl State {
    /// Handles one Customer Chat API call by `customer`. On error nothing is changed.
    pub fn handle_customer(
        &mut self,
        version: ApiVersion,
        customer: &str,
        method: &str,
        body: &Value,
    ) -> LcResult<Value> {
        let spec = customer_lookup(version, method)?;
        let obj = Obj::root(body)?;
        for key in obj.map().keys() {
            if !spec.fields.contains(&key.as_str()) {
                return Err(LcError::validation(format!(
                    "`{key}` is not a field of the customer's `{method}`; expected one of: {}",
                    spec.fields.join(", ")
                )));
            }
        }
        let before = self.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (spec.handler)(self, version, customer, &obj)
        }))
        .unwrap_or_else(|_| {
            Err(LcError::internal(format!(
                "The sandbox failed on the customer's `{method}`"
            )))
        });
        match (&result, &spec.webhook) {
            (Err(_), _) => *self = before,
            (Ok(response), Some(hook)) => self.emit(hook, &Call { body, response }),
            (Ok(_), None) => {}
        }
        result
    }

    /// Makes sure `id` is a customer of the license, creating it on first use.
    fn customer_caller(&mut self, id: &str) -> LcResult<()> {
        if id.trim().is_empty() || id.len() > 128 {
            return Err(LcError::validation(
                "`customer_id` must name a customer: 1 to 128 characters",
            ));
        }
        if !self.lic.customers.iter().any(|c| c.id == id) {
            let created_at = self.tick();
            self.lic.customers.push(Customer {
                id: id.to_string(),
                name: None,
                email: None,
                avatar: None,
                phone_number: None,
                created_at,
                session_fields: Vec::new(),
                visit: None,
                omnichannel: None,
                address: None,
                visits_count: 1,
                banned_until: None,
                banned_at: None,
                banned_by: None,
            });
        }
        self.check_not_banned(id, "customer_id")
    }

    /// Checks `events` as the customer's: authored by them, of a type a customer sends, and
    /// seen by everyone.
    fn customer_events(
        &mut self,
        customer: &str,
        build: impl FnOnce(&State) -> LcResult<Vec<Map<String, Value>>>,
        field: &str,
    ) -> LcResult<Vec<Map<String, Value>>> {
        let agent = std::mem::replace(&mut self.lic.requester, customer.to_string());
        let built = build(self);
        self.lic.requester = agent;
        let events = built?;
        for (i, e) in events.iter().enumerate() {
            let kind = e.get("type").and_then(Value::as_str).unwrap_or_default();
            if !CUSTOMER_EVENTS.contains(&kind) {
                return Err(LcError::validation(format!(
                    "`{field}`: event {i} is a `{kind}`; a customer sends {}",
                    CUSTOMER_EVENTS.join(", ")
                )));
            }
            if e.get("visibility").and_then(Value::as_str) != Some("all") {
                return Err(LcError::validation(format!(
                    "`{field}`: a customer's events have `visibility: all`"
                )));
            }
        }
        Ok(events)
    }

    pub(super) fn customer_start_chat(
        &mut self,
        v: ApiVersion,
        customer: &str,
        b: &Obj,
    ) -> LcResult<Value> {
        let chat = b.opt_obj("chat")?;
        let active = b.opt_bool("active")?.unwrap_or(true);
        let continuous = b.opt_bool("continuous")?.unwrap_or(false);
        self.customer_caller(customer)?;
        let mut groups = vec![0];
        let mut chat_properties = Props::new();
        let mut thread_properties = Props::new();
        let mut events = Vec::new();
        if let Some(chat) = &chat {
            chat.only(&["properties", "access", "thread"])?;
            if let Some(access) = chat.opt_obj("access")? {
                access.only(&["group_ids"])?;
                let ids = access.opt_group_ids("group_ids", 200)?.unwrap_or_default();
                if let Some(id) = ids.iter().find(|id| !self.group_exists(**id)) {
                    return Err(LcError::validation(format!(
                        "`chat.access.group_ids`: group {id} does not exist"
                    )));
                }
                if !ids.is_empty() {
                    groups = ids;
                }
            }
            if let Some(props) = chat.get("properties") {
                chat_properties = self.property_values(props, "chat.properties", "chat")?;
            }
            if let Some(thread) = chat.opt_obj("thread")? {
                thread.only(&["events", "properties"])?;
                events = self.customer_events(
                    customer,
                    |s| s.build_events(v, &thread),
                    "chat.thread.events",
                )?;
                if let Some(props) = thread.get("properties") {
                    thread_properties =
                        self.property_values(props, "chat.thread.properties", "thread")?;
                }
            }
        }
        let chat_id = loop {
            let id = self.ids.chat_id();
            if self.chat_index(&id).is_err() {
                break id;
            }
        };
        let thread_id = loop {
            let id = self.ids.thread_id();
            if !self
                .lic
                .chats
                .iter()
                .flat_map(|c| &c.threads)
                .any(|t| t.id == id)
            {
                break id;
            }
        };
        let created_at = self.tick();
        let access = Access { group_ids: groups };
        self.lic.chats.push(Chat {
            id: chat_id.clone(),
            users: vec![ChatUser {
                id: customer.to_string(),
                kind: "customer".into(),
                present: true,
                visibility: "all".into(),
                events_seen_up_to: None,
            }],
            access: access.clone(),
            properties: chat_properties,
            threads: vec![Thread {
                id: thread_id.clone(),
                created_at,
                active,
                user_ids: vec![customer.to_string()],
                events: Vec::new(),
                properties: thread_properties,
                access: Some(access),
                tags: Vec::new(),
                summary: None,
            }],
            // Nobody follows a chat a customer started until an agent takes it.
            is_followed: false,
            continuous,
        });
        let chat = self.lic.chats.len() - 1;
        let event_ids: Vec<String> = events
            .into_iter()
            .map(|e| self.push_event(chat, 0, e))
            .collect();
        self.seen_all(chat, customer);
        let mut out = json!({"chat_id": chat_id, "thread_id": thread_id});
        if !event_ids.is_empty() {
            out["event_ids"] = json!(event_ids);
        }
        Ok(out)
    }

    pub(super) fn customer_send_event(
        &mut self,
        v: ApiVersion,
        customer: &str,
        b: &Obj,
    ) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let event = b.req_obj("event")?;
        let attach = b.opt_bool("attach_to_last_thread")?.unwrap_or(false);
        let chat = self
            .chat_index(chat_id)
            .ok()
            .filter(|&i| {
                self.lic.chats[i]
                    .customer()
                    .is_some_and(|u| u.id == customer)
            })
            .ok_or_else(|| {
                LcError::not_found(format!(
                    "Chat `{chat_id}` not found among the chats of customer `{customer}`"
                ))
            })?;
        self.check_not_banned(customer, "customer_id")?;
        let mut built = self.customer_events(
            customer,
            |s| s.build_event(v, &event).map(|e| vec![e]),
            "event",
        )?;
        let c = &self.lic.chats[chat];
        let thread = match c.threads.len().checked_sub(1) {
            Some(last) if c.threads[last].active || attach => last,
            _ => {
                return Err(LcError::chat_inactive(format!(
                    "Chat `{chat_id}` is inactive: start a new thread, or send with `attach_to_last_thread: true`"
                )));
            }
        };
        let event_id = self.push_event(chat, thread, built.remove(0));
        self.seen_all(chat, customer);
        Ok(json!({ "event_id": event_id }))
    }

    /// The docs: both methods update the requester's `events_seen_up_to` as if they have seen
    /// every event of the chat.
    fn seen_all(&mut self, chat: usize, customer: &str) {
        let now = self.now();
        if let Some(u) = self.lic.chats[chat]
            .users
            .iter_mut()
            .find(|u| u.id == customer)
        {
            u.events_seen_up_to = Some(now);
        }
    }
}

/// The customer's method, if the sandbox serves it in this version.
pub(super) fn customer_lookup(
    version: ApiVersion,
    method: &str,
) -> LcResult<&'static CustomerMethod> {
    let Some(spec) = methods::CUSTOMER_METHODS.iter().find(|m| m.name == method) else {
        let served: Vec<&str> = methods::CUSTOMER_METHODS.iter().map(|m| m.name).collect();
        return Err(LcError::not_found(format!(
            "Unknown method `{method}` in the customer API (the sandbox serves the customer's {})",
            served.join(" and ")
        )));
    };
    if !spec.versions.contains(&version) {
        return Err(LcError::not_found(format!(
            "Method `{method}` does not exist in the customer API v{version}"
        )));
    }
    Ok(spec)
}
