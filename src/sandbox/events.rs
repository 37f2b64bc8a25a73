//! Events: checking the event objects of `send_event` and `start_chat`/`resume_chat`, and
//! `send_event`, `send_event_preview`, `send_rich_message_postback`, `mark_events_as_seen`,
//! `send_typing_indicator`, `send_thinking_indicator`, `request_thread_summary`, and
//! `multicast` (chat-unrelated messages to agents, which LiveChat does not keep).

use serde_json::{Map, Value, json};

use super::{
    error::{LcError, LcResult},
    params::{self, Obj},
    state::{Mode, State},
};
use crate::version::ApiVersion;

const EVENT_TYPES: &[&str] = &[
    "message",
    "file",
    "rich_message",
    "custom",
    "form",
    "filled_form",
    "system_message",
];
const FORM_FIELD_TYPES: &[&str] = &[
    "checkbox",
    "email",
    "name",
    "question",
    "subject",
    "textarea",
    "group_chooser",
    "radio",
    "select",
];
const VISIBILITY: &[&str] = &["all", "agents"];
const MAX_TEXT: usize = 16 * 1024;

impl State {
    /// Checks an event to send and returns it as stored, without `id` and `created_at`.
    /// The requester is its author, except for system messages.
    pub(super) fn build_event(&self, v: ApiVersion, e: &Obj) -> LcResult<Map<String, Value>> {
        let kind = match e.opt_str("type")? {
            None => return Err(super::params::required(&e.field("type"))),
            Some(_) => e.req_enum("type", EVENT_TYPES)?,
        };
        let common = ["type", "visibility", "custom_id", "properties"];
        let mut out = Map::new();
        out.insert("type".into(), json!(kind));
        match kind {
            "message" => {
                e.only(&[&common[..], &["text", "postback"]].concat())?;
                let text = e.req_str("text")?;
                if text.len() > MAX_TEXT {
                    return Err(LcError::validation(format!(
                        "`{}` is {} bytes, more than 16 KB; split it into several messages",
                        e.field("text"),
                        text.len()
                    )));
                }
                out.insert("text".into(), json!(text));
                if let Some(postback) = e.opt_obj("postback")? {
                    out.insert("postback".into(), message_postback(v, &postback)?);
                }
            }
            "file" => {
                e.only(&[&common[..], &["url", "alternative_text"]].concat())?;
                let url = e.req_str("url")?;
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(LcError::validation(format!(
                        "`{}` must be an http(s) URL",
                        e.field("url")
                    )));
                }
                match self.upload(url) {
                    // A file `upload_file` took: LiveChat's file event carries its name and
                    // content type, and an image's size.
                    Some(upload) => {
                        out.insert("name".into(), json!(upload.name));
                        out.insert("url".into(), json!(url));
                        out.insert("content_type".into(), json!(upload.content_type));
                        if upload.content_type.starts_with("image/") {
                            out.insert("size".into(), json!(upload.data.len()));
                        }
                    }
                    None => {
                        let name = url.rsplit('/').next().unwrap_or(url);
                        out.insert("name".into(), json!(name));
                        out.insert("url".into(), json!(url));
                    }
                }
                if let Some(alt) = e.opt_str("alternative_text")? {
                    out.insert("alternative_text".into(), json!(alt));
                }
            }
            "rich_message" => {
                e.only(&[&common[..], &["template_id", "elements"]].concat())?;
                let templates: &[&str] = if v == ApiVersion::V3_5 {
                    &["cards", "sticker", "quick_replies"]
                } else {
                    &["cards", "sticker", "quick_replies", "ecommerce"]
                };
                let template = e.req_enum("template_id", templates)?;
                out.insert("template_id".into(), json!(template));
                let mut elements = Vec::new();
                for (i, element) in e
                    .opt_array("elements", 10)?
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    elements.push(rich_element(v, &e.item("elements", i, element)?)?);
                }
                out.insert("elements".into(), Value::Array(elements));
            }
            "custom" => {
                e.only(&[&common[..], &["content"]].concat())?;
                if let Some(content) = e.opt_obj("content")? {
                    out.insert("content".into(), Value::Object(content.map().clone()));
                }
            }
            "form" | "filled_form" => {
                e.only(&[&common[..], &["form_id", "fields"]].concat())?;
                out.insert("form_id".into(), json!(e.req_str("form_id")?));
                let fields = e.req_array("fields", 100)?;
                for (i, field) in fields.iter().enumerate() {
                    form_field(&e.item("fields", i, field)?, kind == "filled_form")?;
                }
                out.insert("fields".into(), Value::Array(fields.clone()));
            }
            _ => {
                e.only(&[
                    "type",
                    "visibility",
                    "custom_id",
                    "text",
                    "system_message_type",
                    "text_vars",
                ])?;
                out.insert("text".into(), json!(e.opt_str("text")?.unwrap_or_default()));
                out.insert(
                    "system_message_type".into(),
                    json!(e.req_str("system_message_type")?),
                );
                if let Some(vars) = e.opt_obj("text_vars")? {
                    out.insert("text_vars".into(), Value::Object(vars.map().clone()));
                }
            }
        }
        if kind != "system_message" {
            out.insert("author_id".into(), json!(self.requester()));
        }
        let visibility = e.opt_enum("visibility", VISIBILITY)?.unwrap_or("all");
        out.insert("visibility".into(), json!(visibility));
        if let Some(custom_id) = e.opt_str("custom_id")? {
            out.insert("custom_id".into(), json!(custom_id));
        }
        if let Some(props) = e.get("properties") {
            let props = self.property_values(props, &e.field("properties"), "event")?;
            out.insert("properties".into(), json!(props));
        }
        Ok(out)
    }

    /// Checks a list of initial events (`chat.thread.events`).
    pub(super) fn build_events(
        &self,
        v: ApiVersion,
        thread: &Obj,
    ) -> LcResult<Vec<Map<String, Value>>> {
        let mut events = Vec::new();
        for (i, e) in thread
            .opt_array("events", 100)?
            .into_iter()
            .flatten()
            .enumerate()
        {
            events.push(self.build_event(v, &thread.item("events", i, e)?)?);
        }
        Ok(events)
    }

    pub(super) fn send_event(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let event = b.req_obj("event")?;
        let chat = self.reachable_chat(chat_id, Mode::Write)?;
        let event = self.build_event(v, &event)?;
        self.require_presence(chat, false)?;
        self.check_visibility(chat, &event)?;
        let c = &self.lic.chats[chat];
        let thread = match c.threads.len().checked_sub(1) {
            Some(last) if c.threads[last].active => last,
            _ => {
                return Err(LcError::chat_inactive(format!(
                    "Chat `{chat_id}` is inactive: resume it with `resume_chat`, then send again"
                )));
            }
        };
        let event_id = self.push_event(chat, thread, event);
        Ok(json!({ "event_id": event_id }))
    }

    /// Users with `visibility: agents` cannot send events everyone sees.
    fn check_visibility(&self, chat: usize, event: &Map<String, Value>) -> LcResult<()> {
        let requester_agents_only = self.lic.chats[chat]
            .user(self.requester())
            .is_some_and(|u| u.visibility == "agents");
        if requester_agents_only && event.get("visibility") == Some(&json!("all")) {
            return Err(LcError::validation(
                "`event.visibility`: the requester is in this chat with `visibility: agents` and can only send `agents` events",
            ));
        }
        Ok(())
    }

    pub(super) fn send_event_preview(&mut self, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let e = b.req_obj("event")?;
        if e.opt_str("type")? != Some("message") {
            return Err(LcError::validation(
                "`event.type`: `send_event_preview` supports only `message` events",
            ));
        }
        e.only(&["type", "text", "visibility", "custom_id"])?;
        e.req_str("text")?;
        if e.opt_enum("visibility", VISIBILITY)? == Some("agents") {
            return Err(LcError::validation(
                "`event.visibility` must be `all` or left out for `send_event_preview`",
            ));
        }
        let chat = self.reachable_chat(chat_id, Mode::Write)?;
        self.require_presence(chat, false)?;
        if !self.lic.chats[chat].is_active() {
            return Err(LcError::chat_inactive(format!(
                "Chat `{chat_id}` is inactive"
            )));
        }
        Ok(json!({}))
    }

    /// Moves the requester's `events_seen_up_to` in the chat forward to `seen_up_to` (never
    /// back). The requester must be a user of the chat.
    pub(super) fn mark_events_as_seen(&mut self, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let seen = params::date_time(b.req_str("seen_up_to")?, "seen_up_to")?;
        let chat = self.reachable_chat(chat_id, Mode::Read)?;
        self.require_user(chat)?;
        let requester = self.requester().to_string();
        if let Some(user) = self.lic.chats[chat]
            .users
            .iter_mut()
            .find(|u| u.id == requester)
            && user.events_seen_up_to.as_ref().is_none_or(|s| *s < seen)
        {
            user.events_seen_up_to = Some(seen);
        }
        Ok(json!({}))
    }

    /// `multicast`: nothing is kept, so a call only checks its recipients and content. Unknown
    /// agents or groups are `not_found` (the docs do not say; the sandbox refuses to send into
    /// the void).
    pub(super) fn multicast(&mut self, b: &Obj) -> LcResult<Value> {
        let recipients = b.req_obj("recipients")?;
        recipients.only(&["agents"])?;
        let agents = recipients.req_obj("agents")?;
        agents.only(&["all", "ids", "groups"])?;
        let all = agents.opt_bool("all")?;
        let ids = agents.opt_str_list("ids", 1000)?;
        let groups = agents.opt_group_ids("groups", 1000)?;
        if all.is_none() && ids.is_none() && groups.is_none() {
            return Err(LcError::validation(
                "At least one `recipients` type (`agents.all`, `agents.ids`, `agents.groups`) is required",
            ));
        }
        for (i, id) in ids.iter().flatten().enumerate() {
            if self.agent(id).is_none() {
                return Err(LcError::not_found(format!(
                    "`recipients.agents.ids[{i}]`: agent `{id}` not found"
                )));
            }
        }
        for (i, id) in groups.iter().flatten().enumerate() {
            if !self.group_exists(*id) {
                return Err(LcError::not_found(format!(
                    "`recipients.agents.groups[{i}]`: group `{id}` not found"
                )));
            }
        }
        if !b.has("content") {
            return Err(params::required("content"));
        }
        b.opt_str("type")?;
        Ok(json!({}))
    }

    pub(super) fn send_typing_indicator(&mut self, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        b.req_bool("is_typing")?;
        b.opt_enum("visibility", VISIBILITY)?;
        self.indicator_chat(chat_id)
    }

    pub(super) fn send_thinking_indicator(&mut self, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        for key in ["title", "description", "custom_id"] {
            b.opt_str(key)?;
        }
        b.opt_enum("visibility", VISIBILITY)?;
        self.indicator_chat(chat_id)
    }

    /// An indicator is stored nowhere; it goes to an active chat the requester is a user of.
    fn indicator_chat(&self, chat_id: &str) -> LcResult<Value> {
        let chat = self.reachable_chat(chat_id, Mode::Write)?;
        self.require_user(chat)?;
        if !self.lic.chats[chat].is_active() {
            return Err(LcError::chat_inactive(format!(
                "Chat `{chat_id}` is inactive"
            )));
        }
        Ok(json!({}))
    }

    /// The requester must be a present user of the chat (these methods have no
    /// `ignore_requester_presence`).
    fn require_user(&self, chat: usize) -> LcResult<()> {
        let c = &self.lic.chats[chat];
        if c.user(self.requester()).is_some_and(|u| u.present) {
            Ok(())
        } else {
            Err(LcError::missing_access(format!(
                "The requester `{}` is not a user of chat `{}`; join it with `add_user_to_chat` first",
                self.requester(),
                c.id
            )))
        }
    }

    /// Summarises a thread: sets its `summary`; in an active thread the summary also arrives
    /// as a `system` event (source `messaging`, subtype `summary`). An inactive thread is
    /// summarised only once.
    pub(super) fn request_thread_summary(&mut self, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let thread_id = b.req_str("thread_id")?;
        let chat = self.reachable_chat(chat_id, Mode::Write)?;
        let thread = self.thread_index(chat, thread_id)?;
        let t = &self.lic.chats[chat].threads[thread];
        if !t.active && t.summary.is_some() {
            return Err(LcError::validation(format!(
                "Thread `{thread_id}` is inactive and already summarised; an inactive thread is summarised only once"
            )));
        }
        let messages = t
            .events
            .iter()
            .filter(|e| e.get("type").and_then(Value::as_str) == Some("message"))
            .count();
        let text = format!("• {messages} messages in thread {thread_id} (sandbox summary)");
        let active = t.active;
        let requester = self.requester().to_string();
        if active {
            let details = json!({
                "summary": {"text": text, "status": "ok"},
                "requested_by": requester,
            });
            let mut event = Map::new();
            event.insert("type".into(), json!("system"));
            event.insert("source".into(), json!("messaging"));
            event.insert("subtype".into(), json!("summary"));
            event.insert("version".into(), json!(1));
            event.insert("details".into(), json!(details.to_string()));
            event.insert("visibility".into(), json!("all"));
            self.push_event(chat, thread, event);
        }
        let updated_at = self.tick();
        self.lic.chats[chat].threads[thread].summary =
            Some(json!({"status": "ok", "text": text, "updated_at": updated_at}));
        Ok(json!({}))
    }

    pub(super) fn send_rich_message_postback(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let thread_id = b.req_str("thread_id")?;
        let event_id = b.req_str("event_id")?;
        let postback = b.req_obj("postback")?;
        if v == ApiVersion::V3_6 {
            postback.only(&["id", "toggled", "button_type", "button_value", "ecommerce"])?;
            postback.opt_str("button_type")?;
            postback.opt_str("button_value")?;
            if let Some(ecommerce) = postback.opt_obj("ecommerce")? {
                ecommerce_postback(&ecommerce)?;
            }
        } else {
            for key in ["button_type", "button_value", "ecommerce"] {
                if postback.map().contains_key(key) {
                    return Err(LcError::validation(format!(
                        "`postback.{key}` is a v3.6 field"
                    )));
                }
            }
            postback.only(&["id", "toggled"])?;
        }
        let postback_id = postback.req_str("id")?;
        let toggled = postback.req_bool("toggled")?;
        let chat = self.reachable_chat(chat_id, Mode::Write)?;
        let thread = self.thread_index(chat, thread_id)?;
        let event = self.event_index(chat, thread, event_id)?;
        let requester = self.requester().to_string();
        let e = &mut self.lic.chats[chat].threads[thread].events[event];
        if e.get("type").and_then(Value::as_str) != Some("rich_message") {
            return Err(LcError::validation(format!(
                "`event_id`: event `{event_id}` is not a rich message"
            )));
        }
        let button = e
            .get_mut("elements")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(|el| el.get_mut("buttons").and_then(Value::as_array_mut))
            .flatten()
            .find(|btn| btn.get("postback_id").and_then(Value::as_str) == Some(postback_id));
        let Some(button) = button else {
            return Err(LcError::validation(format!(
                "`postback.id`: no button of event `{event_id}` has the postback ID `{postback_id}`"
            )));
        };
        let users = button
            .as_object_mut()
            .map(|b| b.entry("user_ids").or_insert_with(|| json!([])));
        if let Some(Value::Array(users)) = users {
            users.retain(|u| u.as_str() != Some(requester.as_str()));
            if toggled {
                users.push(json!(requester));
            }
        }
        Ok(json!({}))
    }
}

/// One card of a rich message.
fn rich_element(v: ApiVersion, el: &Obj) -> LcResult<Value> {
    el.only(&["title", "subtitle", "image", "buttons", "ecommerce"])?;
    el.opt_str("title")?;
    el.opt_str("subtitle")?;
    if let Some(image) = el.opt_obj("image")? {
        image.only(&[
            "url",
            "alternative_text",
            "name",
            "content_type",
            "size",
            "width",
            "height",
        ])?;
        image.req_str("url")?;
        for key in ["alternative_text", "name", "content_type"] {
            image.opt_str(key)?;
        }
        for key in ["size", "width", "height"] {
            image.opt_int(key, 0, i64::MAX)?;
        }
    }
    if let Some(ecommerce) = el.opt_obj("ecommerce")? {
        if v == ApiVersion::V3_5 {
            return Err(LcError::validation(format!(
                "`{}` is a v3.6 field",
                el.field("ecommerce")
            )));
        }
        element_ecommerce(&ecommerce)?;
    }
    let mut out = el.map().clone();
    if let Some(buttons) = el.opt_array("buttons", 13)? {
        let mut checked = Vec::new();
        for (i, button) in buttons.iter().enumerate() {
            let btn = el.item("buttons", i, button)?;
            btn.only(&[
                "text",
                "type",
                "value",
                "postback_id",
                "user_ids",
                "webview_height",
                "target",
            ])?;
            btn.opt_str("text")?;
            btn.opt_enum("type", &["webview", "message", "url", "phone", "cancel"])?;
            btn.opt_enum("webview_height", &["compact", "tall", "full"])?;
            btn.opt_enum("target", &["new", "current"])?;
            btn.opt_str("postback_id")?;
            let mut b = btn.map().clone();
            b.entry("user_ids").or_insert_with(|| json!([]));
            checked.push(Value::Object(b));
        }
        out.insert("buttons".into(), Value::Array(checked));
    }
    Ok(Value::Object(out))
}

/// `elements[].ecommerce`: the product an `ecommerce` rich message shows (v3.6).
fn element_ecommerce(e: &Obj) -> LcResult<()> {
    e.only(&["view_type", "product_id", "label", "options", "addons"])?;
    e.req_enum("view_type", &["tags", "swatch", "images", "select"])?;
    e.req_str("product_id")?;
    e.opt_str("label")?;
    for (i, option) in e
        .opt_array("options", 1000)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let o = e.item("options", i, option)?;
        const STRINGS: &[&str] = &[
            "price",
            "regular_price",
            "currency",
            "color",
            "image_url",
            "image_thumbnail_url",
        ];
        o.only(&[&["option_id", "label", "available", "selected"], STRINGS].concat())?;
        o.req_str("option_id")?;
        o.req_str("label")?;
        for key in STRINGS {
            o.opt_str(key)?;
        }
        o.opt_bool("available")?;
        o.opt_bool("selected")?;
    }
    for (i, addon) in e
        .opt_array("addons", 1000)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let a = e.item("addons", i, addon)?;
        a.only(&["addon_type", "range_from", "range_to", "currency"])?;
        a.req_str("addon_type")?;
        for key in ["range_from", "range_to", "currency"] {
            a.opt_str(key)?;
        }
    }
    Ok(())
}

/// `postback.ecommerce` of a message or a rich message postback (v3.6).
fn ecommerce_postback(e: &Obj) -> LcResult<()> {
    e.only(&["product_id", "option_id", "quantity"])?;
    e.req_str("product_id")?;
    e.opt_str("option_id")?;
    e.opt_int("quantity", 0, i64::MAX)?;
    Ok(())
}

/// A message's `postback`: the rich message button it answers.
fn message_postback(v: ApiVersion, p: &Obj) -> LcResult<Value> {
    p.only(&["id", "thread_id", "event_id", "type", "value", "ecommerce"])?;
    p.req_str("id")?;
    p.req_str("thread_id")?;
    p.req_str("event_id")?;
    p.opt_str("type")?;
    p.opt_str("value")?;
    if p.has("type") != p.has("value") {
        return Err(LcError::validation(format!(
            "`{}` and `{}` go together: send both or neither",
            p.field("type"),
            p.field("value")
        )));
    }
    if let Some(ecommerce) = p.opt_obj("ecommerce")? {
        if v == ApiVersion::V3_5 {
            return Err(LcError::validation(format!(
                "`{}` is a v3.6 field",
                p.field("ecommerce")
            )));
        }
        ecommerce_postback(&ecommerce)?;
    }
    Ok(Value::Object(p.map().clone()))
}

/// One field of a `form` (`filled: false`) or `filled_form` event.
fn form_field(f: &Obj, filled: bool) -> LcResult<()> {
    if filled {
        f.only(&["type", "id", "label", "answer", "answers"])?;
    } else {
        f.only(&["type", "id", "label", "required", "options"])?;
        f.opt_bool("required")?;
        for (i, option) in f
            .opt_array("options", 1000)?
            .into_iter()
            .flatten()
            .enumerate()
        {
            let o = f.item("options", i, option)?;
            o.only(&["id", "label", "group_id"])?;
            o.req_str("id")?;
            o.req_str("label")?;
        }
    }
    f.req_enum("type", FORM_FIELD_TYPES)?;
    f.req_str("id")?;
    f.req_str("label")?;
    if filled {
        for (i, answer) in f
            .opt_array("answers", 1000)?
            .into_iter()
            .flatten()
            .enumerate()
        {
            let a = f.item("answers", i, answer)?;
            a.only(&["id", "label", "group_id"])?;
            a.req_str("id")?;
            a.req_str("label")?;
        }
    }
    Ok(())
}
