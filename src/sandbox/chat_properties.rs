//! Property values on chats, threads and events, and thread tags.

use serde_json::{Value, json};

use super::{
    error::{LcError, LcResult},
    model::Props,
    params::Obj,
    properties::{merge, remove},
    state::{Mode, State},
};

/// Which record a property call targets.
enum Target {
    Chat(usize),
    Thread(usize, usize),
    Event(usize, usize, usize),
}

impl State {
    fn property_target(&self, b: &Obj, chat_key: &str, level: &str) -> LcResult<Target> {
        let chat_id = b.req_str(chat_key)?;
        let thread_id = if level == "chat" {
            None
        } else {
            Some(b.req_str("thread_id")?)
        };
        let event_id = if level == "event" {
            Some(b.req_str("event_id")?)
        } else {
            None
        };
        b.req_obj("properties")?;
        let chat = self.reachable_chat(chat_id, Mode::Write)?;
        let Some(thread_id) = thread_id else {
            return Ok(Target::Chat(chat));
        };
        let thread = self.thread_index(chat, thread_id)?;
        match event_id {
            None => Ok(Target::Thread(chat, thread)),
            Some(event_id) => Ok(Target::Event(
                chat,
                thread,
                self.event_index(chat, thread, event_id)?,
            )),
        }
    }

    fn with_props(&mut self, target: &Target, change: impl FnOnce(&mut Props)) {
        match *target {
            Target::Chat(c) => change(&mut self.lic.chats[c].properties),
            Target::Thread(c, t) => change(&mut self.lic.chats[c].threads[t].properties),
            Target::Event(c, t, e) => {
                let event = &mut self.lic.chats[c].threads[t].events[e];
                let mut props: Props = event
                    .get("properties")
                    .and_then(|p| serde_json::from_value(p.clone()).ok())
                    .unwrap_or_default();
                change(&mut props);
                if props.is_empty() {
                    event.remove("properties");
                } else {
                    event.insert("properties".into(), json!(props));
                }
            }
        }
    }

    fn update_properties(&mut self, b: &Obj, chat_key: &str, level: &str) -> LcResult<Value> {
        let target = self.property_target(b, chat_key, level)?;
        let values = b.get("properties").cloned().unwrap_or(Value::Null);
        let update = self.property_values(&values, "properties", level)?;
        self.with_props(&target, |props| merge(props, update));
        Ok(json!({}))
    }

    fn delete_properties(&mut self, b: &Obj, chat_key: &str, level: &str) -> LcResult<Value> {
        let target = self.property_target(b, chat_key, level)?;
        let names = b.get("properties").cloned().unwrap_or(Value::Null);
        let names = self.property_names(&names, "properties", level)?;
        self.with_props(&target, |props| remove(props, &names));
        Ok(json!({}))
    }

    pub(super) fn update_chat_properties(&mut self, b: &Obj) -> LcResult<Value> {
        self.update_properties(b, "id", "chat")
    }

    pub(super) fn delete_chat_properties(&mut self, b: &Obj) -> LcResult<Value> {
        self.delete_properties(b, "id", "chat")
    }

    pub(super) fn update_thread_properties(&mut self, b: &Obj) -> LcResult<Value> {
        self.update_properties(b, "chat_id", "thread")
    }

    pub(super) fn delete_thread_properties(&mut self, b: &Obj) -> LcResult<Value> {
        self.delete_properties(b, "chat_id", "thread")
    }

    pub(super) fn update_event_properties(&mut self, b: &Obj) -> LcResult<Value> {
        self.update_properties(b, "chat_id", "event")
    }

    pub(super) fn delete_event_properties(&mut self, b: &Obj) -> LcResult<Value> {
        self.delete_properties(b, "chat_id", "event")
    }

    fn tagged_thread(&self, b: &Obj) -> LcResult<(usize, usize, String)> {
        let chat_id = b.req_str("chat_id")?;
        let thread_id = b.req_str("thread_id")?;
        let tag = b.req_str("tag")?;
        let chat = self.reachable_chat(chat_id, Mode::Write)?;
        let thread = self.thread_index(chat, thread_id)?;
        Ok((chat, thread, tag.to_string()))
    }

    pub(super) fn tag_thread(&mut self, b: &Obj) -> LcResult<Value> {
        let (chat, thread, tag) = self.tagged_thread(b)?;
        if !self.lic.tags.iter().any(|t| t.name == tag) {
            let hint = self
                .lic
                .tags
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(&tag))
                .map(|t| {
                    format!(
                        " (tag names are case sensitive: did you mean `{}`?)",
                        t.name
                    )
                })
                .unwrap_or_else(|| "; define it with `create_tag` first".into());
            return Err(LcError::validation(format!(
                "`tag`: tag `{tag}` does not exist on the license{hint}"
            )));
        }
        let tags = &mut self.lic.chats[chat].threads[thread].tags;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
        Ok(json!({}))
    }

    pub(super) fn untag_thread(&mut self, b: &Obj) -> LcResult<Value> {
        let (chat, thread, tag) = self.tagged_thread(b)?;
        self.lic.chats[chat].threads[thread]
            .tags
            .retain(|t| *t != tag);
        Ok(json!({}))
    }
}
