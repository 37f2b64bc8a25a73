//! Starting, resuming and ending chats: `start_chat`, `resume_chat`, `deactivate_chat`.

use serde_json::{Map, Value, json};

use super::{
    error::{LcError, LcResult},
    model::{Access, Chat, ChatUser, Props, Thread},
    params::Obj,
    properties::merge,
    state::{Mode, State},
};
use crate::version::ApiVersion;

/// What `start_chat` and `resume_chat` take from `chat`.
struct NewThread {
    users: Vec<(String, String)>,
    access: Option<Vec<u32>>,
    chat_properties: Props,
    thread_properties: Props,
    events: Vec<Map<String, Value>>,
}

impl State {
    /// Reads `chat.users`, `chat.access`, `chat.properties` and `chat.thread`.
    fn read_new_thread(&self, v: ApiVersion, chat: Option<&Obj>) -> LcResult<NewThread> {
        let mut out = NewThread {
            users: Vec::new(),
            access: None,
            chat_properties: Props::new(),
            thread_properties: Props::new(),
            events: Vec::new(),
        };
        let Some(chat) = chat else {
            return Ok(out);
        };
        let (mut agents, mut customers) = (0, 0);
        for (i, user) in chat
            .opt_array("users", 5)?
            .into_iter()
            .flatten()
            .enumerate()
        {
            let u = chat.item("users", i, user)?;
            u.only(&["id", "type"])?;
            let id = u.req_str("id")?;
            let kind = u.req_enum("type", &["agent", "customer"])?;
            let field = u.field("id");
            if kind == "agent" {
                if self.agent(id).is_none() {
                    return Err(LcError::not_found(format!(
                        "`{field}`: agent `{id}` not found"
                    )));
                }
                if id != self.requester() {
                    agents += 1;
                }
            } else {
                if !self.lic.customers.iter().any(|c| c.id == id) {
                    return Err(LcError::not_found(format!(
                        "`{field}`: customer `{id}` not found"
                    )));
                }
                self.check_not_banned(id, &field)?;
                customers += 1;
            }
            out.users.push((id.to_string(), kind.to_string()));
        }
        if agents > 4 || customers > 1 {
            return Err(LcError::validation(
                "`chat.users` can hold at most 4 agents besides the requester and 1 customer",
            ));
        }
        if let Some(access) = chat.opt_obj("access")? {
            access.only(&["group_ids"])?;
            let ids = access.opt_group_ids("group_ids", 200)?.unwrap_or_default();
            if let Some(id) = ids.iter().find(|id| !self.group_exists(**id)) {
                return Err(LcError::validation(format!(
                    "`chat.access.group_ids`: group {id} does not exist"
                )));
            }
            out.access = Some(if ids.is_empty() { vec![0] } else { ids });
        }
        if let Some(props) = chat.get("properties") {
            out.chat_properties = self.property_values(props, "chat.properties", "chat")?;
        }
        if let Some(thread) = chat.opt_obj("thread")? {
            thread.only(&["events", "properties"])?;
            out.events = self.build_events(v, &thread)?;
            if let Some(props) = thread.get("properties") {
                out.thread_properties =
                    self.property_values(props, "chat.thread.properties", "thread")?;
            }
        }
        Ok(out)
    }

    /// `chats--access:rw` starts chats only in the requester's groups.
    fn check_start_access(&self, groups: &[u32]) -> LcResult<()> {
        if self.scopes.has("chats--all:rw") || self.agent_can_see(self.requester(), groups) {
            Ok(())
        } else {
            Err(LcError::authorization(format!(
                "Insufficient scopes: starting a chat in groups {groups:?} needs `chats--all:rw`; `chats--access:rw` covers only the requester's groups {:?}",
                self.agent_groups(self.requester())
            )))
        }
    }

    /// Opens a thread in chat `chat` with the requester and `new.users`, and its events.
    fn open_thread(&mut self, chat: usize, new: NewThread, active: bool) -> (String, Vec<String>) {
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
        let requester = self.requester().to_string();
        self.join_silently(chat, &requester, "agent");
        for (id, kind) in &new.users {
            self.join_silently(chat, id, kind);
        }
        let c = &mut self.lic.chats[chat];
        if let Some(groups) = new.access {
            c.access = Access { group_ids: groups };
        }
        merge(&mut c.properties, new.chat_properties);
        c.threads.push(Thread {
            id: thread_id.clone(),
            created_at: created_at.clone(),
            active,
            user_ids: c
                .users
                .iter()
                .filter(|u| u.present)
                .map(|u| u.id.clone())
                .collect(),
            events: Vec::new(),
            properties: new.thread_properties,
            access: Some(c.access.clone()),
            tags: Vec::new(),
            summary: None,
        });
        let thread = c.threads.len() - 1;
        let event_ids = new
            .events
            .into_iter()
            .map(|e| self.push_event(chat, thread, e))
            .collect();
        let now = self.now();
        if let Some(u) = self.lic.chats[chat]
            .users
            .iter_mut()
            .find(|u| u.id == requester)
        {
            u.events_seen_up_to = Some(now);
        }
        (thread_id, event_ids)
    }

    fn join_silently(&mut self, chat: usize, id: &str, kind: &str) {
        let c = &mut self.lic.chats[chat];
        match c.users.iter_mut().find(|u| u.id == id) {
            Some(u) => u.present = true,
            None => c.users.push(ChatUser {
                id: id.to_string(),
                kind: kind.to_string(),
                present: true,
                visibility: "all".into(),
                events_seen_up_to: None,
            }),
        }
    }

    pub(super) fn start_chat(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let chat = b.opt_obj("chat")?;
        if let Some(chat) = &chat {
            chat.only(&["properties", "access", "users", "thread"])?;
        }
        let active = b.opt_bool("active")?.unwrap_or(true);
        let continuous = b.opt_bool("continuous")?.unwrap_or(false);
        let new = self.read_new_thread(v, chat.as_ref())?;
        let groups = new.access.clone().unwrap_or_else(|| vec![0]);
        self.check_start_access(&groups)?;
        let chat_id = loop {
            let id = self.ids.chat_id();
            if self.chat_index(&id).is_err() {
                break id;
            }
        };
        self.lic.chats.push(Chat {
            id: chat_id.clone(),
            users: Vec::new(),
            access: Access { group_ids: groups },
            properties: Props::new(),
            threads: Vec::new(),
            is_followed: true,
            continuous,
        });
        let index = self.lic.chats.len() - 1;
        let (thread_id, event_ids) = self.open_thread(index, new, active);
        let mut out = json!({"chat_id": chat_id, "thread_id": thread_id});
        if !event_ids.is_empty() {
            out["event_ids"] = json!(event_ids);
        }
        Ok(out)
    }

    pub(super) fn resume_chat(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let chat = b.req_obj("chat")?;
        chat.only(&["id", "access", "properties", "users", "thread"])?;
        let chat_id = chat.req_str("id")?;
        let active = b.opt_bool("active")?.unwrap_or(true);
        let continuous = b.opt_bool("continuous")?;
        let index = self.reachable_chat(chat_id, Mode::Write)?;
        if self.lic.chats[index].is_active() {
            return Err(LcError::validation(format!(
                "`chat.id`: chat `{chat_id}` is already active; `resume_chat` reopens inactive chats"
            )));
        }
        if let Some(customer) = self.lic.chats[index].customer() {
            self.check_not_banned(&customer.id.clone(), "chat.id")?;
        }
        let new = self.read_new_thread(v, Some(&chat))?;
        if let Some(groups) = &new.access {
            self.check_start_access(groups)?;
        }
        if let Some(c) = continuous {
            self.lic.chats[index].continuous = c;
        }
        // As with `start_chat`, whoever reopens the chat follows it.
        self.lic.chats[index].is_followed = true;
        let (thread_id, event_ids) = self.open_thread(index, new, active);
        let mut out = json!({"thread_id": thread_id});
        if !event_ids.is_empty() {
            out["event_ids"] = json!(event_ids);
        }
        Ok(out)
    }

    pub(super) fn deactivate_chat(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let ignore = b.opt_bool("ignore_requester_presence")?.unwrap_or(false);
        let chat = self.reachable_chat(id, Mode::Write)?;
        self.require_presence(chat, ignore)?;
        if !self.lic.chats[chat].is_active() {
            return Err(LcError::chat_inactive(format!(
                "Chat `{id}` is already inactive"
            )));
        }
        let name = self.name_of(self.requester());
        self.system_message(
            chat,
            "manual_archived_agent",
            format!("{name} archived the chat"),
            json!({"agent": name}),
        );
        if let Some(t) = self.lic.chats[chat].threads.last_mut() {
            t.active = false;
        }
        Ok(json!({}))
    }
}
