//! The sandbox state and the one entry point every request goes through: find the method,
//! check the version, scopes and top-level fields, run it, and keep nothing of a failed call.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value, json};

use super::{
    config_bots::{BOT_TOKEN_SCOPES, BotToken},
    error::{LcError, LcResult},
    ids::IdGen,
    methods::{self, Method},
    model::{Agent, Chat, ChatUser, Scenario},
    multipart::Form,
    outbox::Delivery,
    params::Obj,
    time,
    uploads::Upload,
    webhooks::Call,
};
use crate::{
    scopes::{self, Granted, Requirement},
    tools::Api,
    version::ApiVersion,
};

/// The license and the sandbox's clock, ID counter and token scopes.
#[derive(Clone, Debug)]
pub struct State {
    pub(super) lic: Scenario,
    pub(super) clock: i64,
    pub(super) ids: IdGen,
    pub(super) scopes: Granted,
    /// Tokens `issue_bot_token` handed out, by token.
    pub(super) bot_tokens: BTreeMap<String, BotToken>,
    /// Files `upload_file` took, by URL.
    pub(super) uploads: BTreeMap<String, Upload>,
    pub(super) upload_seq: u64,
    /// Webhook deliveries made and not yet taken (see `outbox`).
    pub(super) outbox: VecDeque<Delivery>,
    /// Where the RTM pushes go: every logged-in RTM connection listens (see `rtm`).
    pub(super) rtm: tokio::sync::broadcast::Sender<std::sync::Arc<super::rtm::RtmPush>>,
}

/// A request body: JSON, or a `multipart/form-data` form (`upload_file`).
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    Json(&'a Value),
    Form(&'a Form),
}

/// Whether an operation reads or writes chats: `chats--*:ro` or `chats--*:rw`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Read,
    Write,
}

impl State {
    /// A state from a prepared scenario (see `seed::load`).
    pub fn new(lic: Scenario, scopes: Granted) -> Result<State, crate::error::StartError> {
        let clock = time::parse_rfc3339(&lic.now).ok_or_else(|| {
            crate::error::StartError::Scenario("`now` is not an RFC 3339 date-time".to_string())
        })?;
        Ok(State {
            lic,
            clock,
            ids: IdGen::default(),
            scopes,
            bot_tokens: BTreeMap::new(),
            uploads: BTreeMap::new(),
            upload_seq: 0,
            outbox: VecDeque::new(),
            rtm: tokio::sync::broadcast::channel(super::rtm::PUSH_BUFFER).0,
        })
    }

    /// The license as it stands, in the scenario format.
    pub fn snapshot(&self) -> Scenario {
        let mut lic = self.lic.clone();
        lic.now = time::format_micros(self.clock);
        lic
    }

    /// Handles one call: `body` is the JSON request body. On error nothing is changed.
    pub fn handle(
        &mut self,
        version: ApiVersion,
        api: Api,
        method: &str,
        body: &Value,
    ) -> LcResult<Value> {
        self.handle_payload(version, api, method, Payload::Json(body))
    }

    /// Handles one call whose body is JSON or a form: a method takes one or the other.
    pub fn handle_payload(
        &mut self,
        version: ApiVersion,
        api: Api,
        method: &str,
        payload: Payload<'_>,
    ) -> LcResult<Value> {
        let spec = lookup(version, api, method)?;
        self.require(spec.scopes, &format!("`{method}`"))?;
        // What runs: the JSON handler on the checked body, or the form handler on the form.
        enum Run<'a> {
            Json(Obj<'a>),
            Form(&'a Form, methods::FormHandler),
        }
        let run = match (payload, spec.form) {
            (Payload::Json(body), _) => {
                let obj = Obj::root(body)?;
                check_fields(spec, version, &obj)?;
                Run::Json(obj)
            }
            (Payload::Form(form), Some(handler)) => Run::Form(form, handler),
            (Payload::Form(_), None) => {
                return Err(LcError::validation(format!(
                    "`{method}` takes a JSON body (Content-Type: application/json), not multipart/form-data"
                )));
            }
        };
        let before = self.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &run {
            Run::Json(obj) => (spec.handler)(self, version, obj),
            Run::Form(form, handler) => handler(self, version, form),
        }))
        .unwrap_or_else(|_| {
            Err(LcError::internal(format!(
                "The sandbox failed on `{method}`"
            )))
        });
        match (&result, &spec.webhook) {
            (Err(_), _) => *self = before,
            (Ok(response), Some(hook)) => {
                let body = match payload {
                    Payload::Json(body) => body,
                    Payload::Form(_) => &Value::Null,
                };
                self.emit(hook, &Call { body, response });
            }
            (Ok(_), None) => {}
        }
        result
    }

    /// Handles one call made with `bearer` (the token of an `Authorization: Bearer` header,
    /// if any). A token from `issue_bot_token` makes the call the bot's: the bot is the
    /// requester (so it is the author of the events it sends) and the token's scopes are the
    /// bot token's. Any other credentials act as the scenario's requester.
    pub fn handle_with(
        &mut self,
        bearer: Option<&str>,
        version: ApiVersion,
        api: Api,
        method: &str,
        body: Payload<'_>,
    ) -> LcResult<Value> {
        let Some(token) = bearer.and_then(|t| self.bot_tokens.get(t)).cloned() else {
            return self.handle_payload(version, api, method, body);
        };
        if token.expires_at <= self.clock {
            return Err(LcError::authentication("The bot token has expired"));
        }
        // Tokens cannot be revoked, but a deleted bot's token no longer authenticates.
        if self.agent(&token.bot_id).is_none() {
            return Err(LcError::authentication(
                "The bot token's bot no longer exists",
            ));
        }
        let requester = std::mem::replace(&mut self.lic.requester, token.bot_id);
        let scopes = std::mem::replace(&mut self.scopes, Granted::parse_list(BOT_TOKEN_SCOPES));
        let result = self.handle_payload(version, api, method, body);
        self.lic.requester = requester;
        self.scopes = scopes;
        result
    }

    /// One line for the stderr banner.
    pub fn summary(&self) -> String {
        fn count(n: usize, one: &str, many: &str) -> String {
            format!("{n} {}", if n == 1 { one } else { many })
        }
        let l = &self.lic;
        let bots = l.agents.iter().filter(|a| a.bot).count();
        let active = l.chats.iter().filter(|c| c.is_active()).count();
        let threads: usize = l.chats.iter().map(|c| c.threads.len()).sum();
        let listed: Option<Vec<&str>> = self.scopes.listed().map(Iterator::collect);
        let scopes = match listed.as_deref() {
            None => "all scopes".to_string(),
            Some([]) => "no scopes".to_string(),
            Some(s) => format!("scopes {}", s.join(",")),
        };
        format!(
            "sandbox license: {} ({}), {}, {}, {}, {}, {} ({active} active, {}), {}; requester {} with {scopes}",
            count(l.agents.len(), "agent", "agents"),
            count(bots, "bot", "bots"),
            count(l.groups.len(), "group", "groups"),
            count(l.tags.len(), "tag", "tags"),
            count(l.properties.len(), "property", "properties"),
            count(l.customers.len(), "customer", "customers"),
            count(l.chats.len(), "chat", "chats"),
            count(threads, "thread", "threads"),
            count(l.webhooks.len(), "webhook", "webhooks"),
            l.requester,
        )
    }

    // ----- clock -----

    /// The next timestamp: one second after the previous one.
    pub(super) fn tick(&mut self) -> String {
        self.clock += 1_000_000;
        time::format_micros(self.clock)
    }

    pub(super) fn now(&self) -> String {
        time::format_micros(self.clock)
    }

    // ----- scopes -----

    /// `authorization` unless the token meets `needed`; the error names what it lacks.
    pub(super) fn require(&self, needed: Requirement, what: &str) -> LcResult<()> {
        let missing = needed.missing(&self.scopes);
        if missing.is_empty() {
            return Ok(());
        }
        let lacking: Vec<&str> = missing.iter().flat_map(|set| set.iter().copied()).collect();
        Err(LcError::authorization(format!(
            "Insufficient scopes: {what} needs {}",
            scopes::render(&missing, |s| format!("`{s}`"))
        ))
        .with_data(json!({ "required_scopes": lacking })))
    }

    // ----- agents and groups -----

    pub(super) fn requester(&self) -> &str {
        &self.lic.requester
    }

    pub(super) fn agent(&self, id: &str) -> Option<&Agent> {
        self.lic.agents.iter().find(|a| a.id == id)
    }

    /// The groups an agent belongs to, by the groups' `agent_priorities`.
    pub(super) fn agent_groups(&self, id: &str) -> Vec<u32> {
        self.lic
            .groups
            .iter()
            .filter(|g| g.agent_priorities.contains_key(id))
            .map(|g| g.id)
            .collect()
    }

    pub(super) fn group_exists(&self, id: u32) -> bool {
        self.lic.groups.iter().any(|g| g.id == id)
    }

    /// Whether an agent may see a chat with `access`: group 0, or a group in common.
    pub(super) fn agent_can_see(&self, agent: &str, groups: &[u32]) -> bool {
        groups.contains(&0) || self.agent_groups(agent).iter().any(|g| groups.contains(g))
    }

    /// A user's display name: an agent's or customer's name, else the ID.
    pub(super) fn name_of(&self, id: &str) -> String {
        if let Some(a) = self.agent(id) {
            return a.name.clone();
        }
        self.lic
            .customers
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    // ----- chats -----

    pub(super) fn chat_index(&self, id: &str) -> LcResult<usize> {
        self.lic
            .chats
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| LcError::not_found(format!("Chat `{id}` not found")))
    }

    /// Whether the token reaches `chat`: `chats--all:*` reaches every chat,
    /// `chats--access:*` only chats in the requester's groups.
    pub(super) fn can_reach(&self, chat: &Chat, mode: Mode) -> bool {
        let all = match mode {
            Mode::Read => "chats--all:ro",
            Mode::Write => "chats--all:rw",
        };
        self.scopes.has(all) || self.agent_can_see(self.requester(), &chat.access.group_ids)
    }

    /// The chat `id`, which the token must reach.
    pub(super) fn reachable_chat(&self, id: &str, mode: Mode) -> LcResult<usize> {
        let index = self.chat_index(id)?;
        let chat = &self.lic.chats[index];
        if self.can_reach(chat, mode) {
            Ok(index)
        } else {
            Err(LcError::missing_access(format!(
                "The requester has no access to chat `{id}`: it is in groups {:?} and `chats--access` covers only the requester's groups {:?}",
                chat.access.group_ids,
                self.agent_groups(self.requester())
            )))
        }
    }

    /// The requester must be a present user of the chat unless `ignore` is set.
    pub(super) fn require_presence(&self, chat: usize, ignore: bool) -> LcResult<()> {
        let chat = &self.lic.chats[chat];
        let present = chat.user(self.requester()).is_some_and(|u| u.present);
        if present || ignore {
            Ok(())
        } else {
            Err(LcError::missing_access(format!(
                "The requester `{}` is not a user of chat `{}`; join it with `add_user_to_chat` or set `ignore_requester_presence: true`",
                self.requester(),
                chat.id
            )))
        }
    }

    /// Index of the thread `thread_id` in chat `chat`.
    pub(super) fn thread_index(&self, chat: usize, thread_id: &str) -> LcResult<usize> {
        let chat = &self.lic.chats[chat];
        chat.thread_index(thread_id).ok_or_else(|| {
            LcError::not_found(format!(
                "Thread `{thread_id}` not found in chat `{}`",
                chat.id
            ))
        })
    }

    /// Index of the event `event_id` in a thread.
    pub(super) fn event_index(
        &self,
        chat: usize,
        thread: usize,
        event_id: &str,
    ) -> LcResult<usize> {
        let t = &self.lic.chats[chat].threads[thread];
        t.event_index(event_id).ok_or_else(|| {
            LcError::not_found(format!("Event `{event_id}` not found in thread `{}`", t.id))
        })
    }

    /// Appends an event to a thread: gives it the next ID and a timestamp.
    pub(super) fn push_event(
        &mut self,
        chat: usize,
        thread: usize,
        mut event: Map<String, Value>,
    ) -> String {
        let created_at = self.tick();
        let t = &mut self.lic.chats[chat].threads[thread];
        let prefix = format!("{}_", t.id);
        let next = t
            .events
            .iter()
            .filter_map(|e| e.get("id").and_then(Value::as_str))
            .filter_map(|id| id.strip_prefix(&prefix).and_then(|n| n.parse::<u64>().ok()))
            .max()
            .unwrap_or(0)
            + 1;
        let id = format!("{prefix}{next}");
        let mut full = Map::new();
        full.insert("id".into(), Value::String(id.clone()));
        full.insert("created_at".into(), Value::String(created_at.clone()));
        full.append(&mut event);
        t.events.push(full);
        if let Some(author) = t
            .events
            .last()
            .and_then(|e| e.get("author_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            && let Some(user) = self.lic.chats[chat]
                .users
                .iter_mut()
                .find(|u| u.id == author)
        {
            user.events_seen_up_to = Some(created_at);
        }
        id
    }

    /// Appends a `system_message` to the chat's active thread, if it has one.
    pub(super) fn system_message(&mut self, chat: usize, kind: &str, text: String, vars: Value) {
        let Some(thread) = self.lic.chats[chat].threads.iter().rposition(|t| t.active) else {
            return;
        };
        let mut event = Map::new();
        event.insert("type".into(), json!("system_message"));
        event.insert("visibility".into(), json!("all"));
        event.insert("text".into(), json!(text));
        event.insert("system_message_type".into(), json!(kind));
        event.insert("text_vars".into(), vars);
        self.push_event(chat, thread, event);
    }

    /// Makes `user` a present user of the chat (and of its active thread).
    pub(super) fn join(&mut self, chat: usize, id: &str, kind: &str, visibility: &str) {
        let c = &mut self.lic.chats[chat];
        match c.users.iter_mut().find(|u| u.id == id) {
            Some(u) => {
                u.present = true;
                u.visibility = visibility.to_string();
            }
            None => c.users.push(ChatUser {
                id: id.to_string(),
                kind: kind.to_string(),
                present: true,
                visibility: visibility.to_string(),
                events_seen_up_to: None,
            }),
        }
        if let Some(t) = c.threads.last_mut().filter(|t| t.active)
            && !t.user_ids.iter().any(|u| u == id)
        {
            t.user_ids.push(id.to_string());
        }
    }

    /// The customer must not be banned.
    pub(super) fn check_not_banned(&self, customer: &str, field: &str) -> LcResult<()> {
        let banned = self
            .lic
            .customers
            .iter()
            .find(|c| c.id == customer)
            .and_then(|c| c.banned_until.clone());
        match banned {
            Some(until) if until > self.now() => Err(LcError::customer_banned(format!(
                "`{field}`: customer `{customer}` is banned until {until}"
            ))
            .with_data(json!({ "customer_id": customer, "banned_until": until }))),
            _ => Ok(()),
        }
    }
}

/// The method, if it exists in this API and version.
fn lookup(version: ApiVersion, api: Api, method: &str) -> LcResult<&'static Method> {
    let spec = match methods::find(method) {
        Some(spec) if spec.api == api => spec,
        Some(spec) => {
            return Err(LcError::not_found(format!(
                "Unknown method `{method}` in the {} API; it is a method of the {} API",
                api.as_str(),
                spec.api.as_str()
            )));
        }
        None => {
            return Err(LcError::not_found(format!(
                "Unknown method `{method}` in the {} API (the sandbox emulates the {} methods livechat-mcp exposes, and {})",
                api.as_str(),
                methods::METHODS.len() - methods::NOT_TOOLS.len(),
                methods::NOT_TOOLS.join(", ")
            )));
        }
    };
    if !spec.versions.contains(&version) {
        let available: Vec<String> = spec.versions.iter().map(|v| format!("v{v}")).collect();
        return Err(LcError::not_found(format!(
            "Method `{method}` does not exist in API v{version}; it is available in {}",
            available.join(", ")
        )));
    }
    Ok(spec)
}

/// Top-level fields must belong to the method in this version.
fn check_fields(spec: &Method, version: ApiVersion, body: &Obj) -> LcResult<()> {
    for key in body.map().keys() {
        if spec.accepts(key, version) {
            continue;
        }
        return Err(LcError::validation(match spec.other_version_of(key) {
            Some(other) => format!(
                "`{key}` is not a field of `{}` in v{version}; it exists in v{other}",
                spec.name
            ),
            None => format!(
                "`{key}` is not a field of `{}`; expected one of: {}",
                spec.name,
                spec.field_names(version).join(", ")
            ),
        }));
    }
    Ok(())
}
