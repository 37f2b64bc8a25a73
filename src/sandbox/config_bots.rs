//! Bots (Configuration API): `create_bot`, `get_bot`, `list_bots`, `update_bot`,
//! `delete_bot`, and `issue_bot_token`, whose token the sandbox then accepts as the bot's
//! credentials. A bot is an agent of type bot: the agent methods do not find it.
//!
//! "The requester's bots" (`list_bots` without `all`, and what `--my` scopes reach) are the
//! bots the requester created through the API; seeded bots belong to someone else.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{
    config_agents::{PRIORITIES, read_work_scheduler},
    error::{LcError, LcResult},
    model::Agent,
    params::Obj,
    state::State,
};
use crate::{scopes::Requirement, version::ApiVersion};

const FIELDS: &[&str] = &[
    "groups",
    "work_scheduler",
    "job_title",
    "max_chats_count",
    "timezone",
];

/// A bot token lasts 24 hours (the docs' "Issue Bot Token").
pub(super) const BOT_TOKEN_SECONDS: i64 = 24 * 60 * 60;
/// The sandbox license's organization: the accounts service's `/v2/info` says it, and
/// `issue_bot_token` wants it.
pub const ORGANIZATION_ID: &str = "1a8a9ec7-bd5d-4400-9204-3826740981e0";
/// The scopes a bot token carries (the docs' "Issue Bot Token").
pub(super) const BOT_TOKEN_SCOPES: &str = "chats--access:rw,agents-bot--my:rw,customers:rw";

const ALL_RO: Requirement = Requirement::any_of(&["agents-bot--all:ro"]);
const ALL_RW: Requirement = Requirement::any_of(&["agents-bot--all:rw"]);

/// A token `issue_bot_token` handed out.
#[derive(Clone, Debug)]
pub struct BotToken {
    pub bot_id: String,
    /// Sandbox clock (microseconds) after which the token is refused.
    pub expires_at: i64,
}

/// The optional fields of `create_bot` and `update_bot`, checked.
struct BotProfile {
    name: Option<String>,
    avatar: Option<String>,
    max_chats_count: Option<u32>,
    default_group_priority: Option<String>,
    job_title: Option<String>,
    bot_type: Option<String>,
    groups: Option<BTreeMap<u32, String>>,
    work_scheduler: Option<Value>,
}

impl State {
    fn read_bot_profile(&self, b: &Obj) -> LcResult<BotProfile> {
        let name = b.opt_str("name")?;
        if name.is_some_and(|n| n.trim().is_empty() || n.chars().count() > 180) {
            return Err(LcError::validation("`name` must have 1 to 180 characters"));
        }
        Ok(BotProfile {
            name: name.map(str::to_string),
            avatar: b.opt_str("avatar")?.map(str::to_string),
            max_chats_count: b.opt_int("max_chats_count", 0, 500)?.map(|n| n as u32),
            default_group_priority: b
                .opt_enum("default_group_priority", PRIORITIES)?
                .map(str::to_string),
            job_title: b.opt_str("job_title")?.map(str::to_string),
            bot_type: b.opt_str("type")?.map(str::to_string),
            groups: self.read_groups(b)?,
            work_scheduler: read_work_scheduler(b)?,
        })
    }

    /// The bot `id`; agents and unknown IDs are `not_found`. A bot the requester did not
    /// create needs the `--all` scope.
    fn reachable_bot(&self, id: &str, all: Requirement, what: &str) -> LcResult<&Agent> {
        let bot = self
            .agent(id)
            .filter(|a| a.bot)
            .ok_or_else(|| LcError::not_found(format!("Bot `{id}` not found")))?;
        if bot.created_by.as_deref() != Some(self.requester()) {
            self.require(all, what)?;
        }
        Ok(bot)
    }

    pub(super) fn create_bot(&mut self, _v: ApiVersion, b: &Obj) -> LcResult<Value> {
        b.req_str("name")?;
        let owner = b.req_str("owner_client_id")?;
        let profile = self.read_bot_profile(b)?;
        let id = self.ids.hex32();
        let secret = self.ids.hex32();
        let bot = Agent {
            id: id.clone(),
            name: profile.name.unwrap_or_default(),
            role: "normal".into(),
            bot: true,
            account_id: self.ids.uuid(),
            avatar: profile.avatar,
            job_title: profile.job_title,
            mobile: None,
            max_chats_count: profile.max_chats_count.unwrap_or(6),
            login_status: "accepting chats".into(),
            routing_status: "offline".into(),
            notifications: Vec::new(),
            email_subscriptions: Vec::new(),
            work_scheduler: profile.work_scheduler,
            suspended: false,
            awaiting_approval: false,
            last_logout: None,
            owner_client_id: Some(owner.to_string()),
            secret: Some(secret.clone()),
            default_group_priority: profile.default_group_priority,
            bot_type: Some(profile.bot_type.unwrap_or_else(|| "chatbot".into())),
            created_by: Some(self.requester().to_string()),
        };
        let mut groups = profile.groups.unwrap_or_default();
        let default = bot.default_group_priority.clone();
        groups
            .entry(0)
            .or_insert_with(|| default.unwrap_or_else(|| "normal".into()));
        self.lic.agents.push(bot);
        self.set_groups(&id, &groups);
        Ok(json!({ "id": id, "secret": secret }))
    }

    pub(super) fn bot_record(
        &self,
        bot: &Agent,
        v: ApiVersion,
        fields: &[&str],
        listed: bool,
    ) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(bot.id));
        out.insert("name".into(), json!(bot.name));
        if let Some(avatar) = &bot.avatar {
            let key = if v == ApiVersion::V3_5 {
                "avatar"
            } else {
                "avatar_path"
            };
            out.insert(key.into(), json!(avatar));
        }
        if !listed {
            if let Some(p) = &bot.default_group_priority {
                out.insert("default_group_priority".into(), json!(p));
            }
            if let Some(owner) = &bot.owner_client_id {
                out.insert("owner_client_id".into(), json!(owner));
            }
        }
        for field in fields {
            let value = match *field {
                "groups" => json!(
                    self.lic
                        .groups
                        .iter()
                        .filter_map(|g| g
                            .agent_priorities
                            .get(&bot.id)
                            .map(|p| json!({"id": g.id, "priority": p})))
                        .collect::<Vec<_>>()
                ),
                "work_scheduler" => bot.work_scheduler.clone().unwrap_or_else(|| json!({})),
                "job_title" => json!(bot.job_title.clone().unwrap_or_default()),
                "max_chats_count" => json!(bot.max_chats_count),
                "timezone" => json!(
                    bot.work_scheduler
                        .as_ref()
                        .and_then(|w| w.get("timezone"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
                _ => continue,
            };
            out.insert((*field).into(), value);
        }
        Value::Object(out)
    }

    pub(super) fn get_bot(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let fields = b.opt_enum_list("fields", 10, FIELDS)?.unwrap_or_default();
        let bot = self.reachable_bot(id, ALL_RO, "reading a bot the requester did not create")?;
        Ok(self.bot_record(bot, v, &fields, false))
    }

    pub(super) fn list_bots(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let all = b.opt_bool("all")?.unwrap_or(false);
        let fields = b.opt_enum_list("fields", 10, FIELDS)?.unwrap_or_default();
        if all {
            self.require(ALL_RO, "`all: true`")?;
        }
        let me = self.requester();
        let bots: Vec<Value> = self
            .lic
            .agents
            .iter()
            .filter(|a| a.bot && (all || a.created_by.as_deref() == Some(me)))
            .map(|a| self.bot_record(a, v, &fields, true))
            .collect();
        Ok(Value::Array(bots))
    }

    pub(super) fn update_bot(&mut self, _v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let profile = self.read_bot_profile(b)?;
        self.reachable_bot(id, ALL_RW, "updating a bot the requester did not create")?;
        if let Some(groups) = &profile.groups {
            self.set_groups(id, groups);
        }
        if let Some(bot) = self.lic.agents.iter_mut().find(|a| a.id == id) {
            let BotProfile {
                name,
                avatar,
                max_chats_count,
                default_group_priority,
                job_title,
                bot_type,
                work_scheduler,
                ..
            } = profile;
            if let Some(name) = name {
                bot.name = name;
            }
            if avatar.is_some() {
                bot.avatar = avatar;
            }
            if let Some(n) = max_chats_count {
                bot.max_chats_count = n;
            }
            if default_group_priority.is_some() {
                bot.default_group_priority = default_group_priority;
            }
            if job_title.is_some() {
                bot.job_title = job_title;
            }
            if bot_type.is_some() {
                bot.bot_type = bot_type;
            }
            if work_scheduler.is_some() {
                bot.work_scheduler = work_scheduler;
            }
        }
        Ok(json!({}))
    }

    pub(super) fn delete_bot(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        self.reachable_bot(id, ALL_RW, "deleting a bot the requester did not create")?;
        self.lic.agents.retain(|a| a.id != id);
        for g in &mut self.lic.groups {
            g.agent_priorities.remove(id);
        }
        for chat in &mut self.lic.chats {
            for u in chat.users.iter_mut().filter(|u| u.id == id) {
                u.present = false;
            }
        }
        Ok(json!({}))
    }

    /// A new secret for the bot, which `issue_bot_token` then wants; tokens issued with the
    /// old one stay valid until they expire (LiveChat cannot revoke them).
    pub(super) fn reset_bot_secret(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let owner = b.req_str("owner_client_id")?;
        let bot = self.reachable_bot(
            id,
            ALL_RW,
            "resetting the secret of a bot the requester did not create",
        )?;
        if bot.owner_client_id.as_deref() != Some(owner) {
            return Err(LcError::validation(format!(
                "`owner_client_id` is not the client that owns bot `{id}`"
            )));
        }
        let secret = self.ids.hex32();
        if let Some(bot) = self.lic.agents.iter_mut().find(|a| a.id == id) {
            bot.secret = Some(secret.clone());
        }
        Ok(json!({ "secret": secret }))
    }

    /// A token for the bot, valid 24 hours. A wrong secret, or a `client_id` other than the
    /// bot's owner, is refused (`validation`), and a bot that does not exist is `not_found`.
    pub(super) fn issue_bot_token(&mut self, b: &Obj) -> LcResult<Value> {
        let bot_id = b.req_str("bot_id")?;
        let secret = b.req_str("bot_secret")?;
        let organization = b.req_str("organization_id")?;
        let client_id = b.req_str("client_id")?;
        if organization != ORGANIZATION_ID {
            return Err(LcError::validation(format!(
                "`organization_id` `{organization}` is not the organization of this license"
            )));
        }
        let bot = self
            .agent(bot_id)
            .filter(|a| a.bot)
            .ok_or_else(|| LcError::not_found(format!("Bot `{bot_id}` not found")))?;
        // The secret is compared whole; its value is never put in a message.
        let secret_ok = bot
            .secret
            .as_deref()
            .is_some_and(|s| crate::digest::constant_time_eq(s.as_bytes(), secret.as_bytes()));
        if !secret_ok {
            return Err(LcError::validation(format!(
                "`bot_secret` is not the secret of bot `{bot_id}`"
            )));
        }
        if bot.owner_client_id.as_deref() != Some(client_id) {
            return Err(LcError::validation(format!(
                "`client_id` is not the client that owns bot `{bot_id}`"
            )));
        }
        let token = format!("sandbox-bot-{}", self.ids.hex32());
        self.bot_tokens.insert(
            token.clone(),
            BotToken {
                bot_id: bot_id.to_string(),
                expires_at: self.clock + BOT_TOKEN_SECONDS * 1_000_000,
            },
        );
        Ok(json!({ "token": token, "expires_in": BOT_TOKEN_SECONDS }))
    }
}
