//! Agents (Configuration API): `create_agent`, `get_agent`, `list_agents`, `update_agent`,
//! `delete_agent`. Bots are not agents here: these methods do not list or find them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{
    error::{LcError, LcResult},
    model::Agent,
    params::Obj,
    state::State,
};
use crate::{scopes::Requirement, version::ApiVersion};

const ROLES: &[&str] = &["viceowner", "administrator", "normal"];
pub(super) const PRIORITIES: &[&str] = &["first", "normal", "last", "supervisor"];
const LOGIN_STATUSES: &[&str] = &["accepting chats", "not accepting chats"];
pub(super) const DAYS: &[&str] = &[
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const NOTIFICATIONS: &[&str] = &[
    "new_visitor",
    "incoming_chat",
    "returning_visitor",
    "queued_visitor",
    "visitor_is_typing",
    "new_goal",
    "unassigned_chats",
    "unassigned_chat_messages",
    "ticket",
    "inactive_notifications",
    "mute_all_sounds",
    "repeat_sound_notifications",
    "ticket_notifications",
    "incoming_message_for_focused_chat",
];
const SUBSCRIPTIONS: &[&str] = &["daily_summary", "weekly_summary"];
const FIELDS: &[&str] = &[
    "work_scheduler",
    "groups",
    "email_subscriptions",
    "notifications",
    "job_title",
    "mobile",
    "max_chats_count",
    "suspended",
    "awaiting_approval",
    "last_logout",
];

/// The optional profile fields of `create_agent` and `update_agent`, checked.
#[derive(Default)]
struct Profile {
    name: Option<String>,
    role: Option<String>,
    avatar: Option<String>,
    job_title: Option<String>,
    mobile: Option<String>,
    max_chats_count: Option<u32>,
    login_status: Option<String>,
    groups: Option<BTreeMap<u32, String>>,
    notifications: Option<Vec<String>>,
    email_subscriptions: Option<Vec<String>>,
    work_scheduler: Option<Value>,
}

fn owned(list: Option<Vec<&str>>) -> Option<Vec<String>> {
    list.map(|l| l.into_iter().map(str::to_string).collect())
}

/// `create_agent`, footnote 1: "To create agents who don't have to wait for approval", on
/// both scopes.
pub(super) const SKIP_APPROVAL: Requirement =
    Requirement::all_of(&[&["accounts--all:rw"], &["subscription.lc:rw"]]);
/// `create_agent`, footnote 3: a role higher than `normal`.
pub(super) const ROLE_ABOVE_NORMAL: Requirement =
    Requirement::any_of(&["accounts.roles.lc--all:rw"]);

impl State {
    fn read_profile(&self, b: &Obj, v: ApiVersion) -> LcResult<Profile> {
        let mut p = Profile {
            name: b.opt_str("name")?.map(str::to_string),
            role: b.opt_enum("role", ROLES)?.map(str::to_string),
            job_title: b.opt_str("job_title")?.map(str::to_string),
            mobile: b.opt_str("mobile")?.map(str::to_string),
            max_chats_count: b.opt_int("max_chats_count", 0, 20)?.map(|n| n as u32),
            login_status: b
                .opt_enum("login_status", LOGIN_STATUSES)?
                .map(str::to_string),
            notifications: owned(b.opt_enum_list("notifications", 20, NOTIFICATIONS)?),
            email_subscriptions: owned(b.opt_enum_list("email_subscriptions", 2, SUBSCRIPTIONS)?),
            ..Profile::default()
        };
        p.avatar = b.opt_str("avatar_path")?.map(str::to_string);
        if v == ApiVersion::V3_5
            && let Some(avatar) = b.opt_str("avatar")?
        {
            p.avatar = Some(avatar.to_string());
        }
        p.groups = self.read_groups(b)?;
        p.work_scheduler = read_work_scheduler(b)?;
        Ok(p)
    }

    /// Checked `groups` (agents and bots): group ID → priority; each group must exist.
    pub(super) fn read_groups(&self, b: &Obj) -> LcResult<Option<BTreeMap<u32, String>>> {
        let Some(groups) = b.opt_array("groups", 200)? else {
            return Ok(None);
        };
        let mut map = BTreeMap::new();
        for (i, g) in groups.iter().enumerate() {
            let g = b.item("groups", i, g)?;
            g.only(&["id", "priority"])?;
            let id = g.req_int("id", 0, i64::from(u32::MAX))? as u32;
            let priority = g.req_enum("priority", PRIORITIES)?;
            if !self.group_exists(id) {
                return Err(LcError::group_not_found(format!(
                    "`groups[{i}].id`: group {id} not found"
                )));
            }
            map.insert(id, priority.to_string());
        }
        Ok(Some(map))
    }

    /// Bots and unknown IDs are `not_found`.
    fn human_agent(&self, id: &str) -> LcResult<&Agent> {
        self.agent(id)
            .filter(|a| !a.bot)
            .ok_or_else(|| LcError::not_found(format!("Agent `{id}` not found")))
    }

    pub(super) fn set_groups(&mut self, agent: &str, groups: &BTreeMap<u32, String>) {
        for g in &mut self.lic.groups {
            match groups.get(&g.id) {
                Some(priority) => {
                    g.agent_priorities
                        .insert(agent.to_string(), priority.clone());
                }
                None => {
                    g.agent_priorities.remove(agent);
                }
            }
        }
    }

    pub(super) fn create_agent(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        if !looks_like_email(id) {
            return Err(LcError::validation(format!(
                "`id` must be the agent's email address (got `{id}`)"
            )));
        }
        let name = b.req_str("name")?;
        if name.chars().count() > 180 {
            return Err(LcError::validation(
                "`name` can have at most 180 characters",
            ));
        }
        let awaiting = b.opt_bool("awaiting_approval")?;
        let profile = self.read_profile(b, v)?;
        if self.agent(id).is_some() {
            return Err(LcError::already_exists(format!(
                "Agent `{id}` already exists"
            )));
        }
        if profile.role.as_deref().is_some_and(|r| r != "normal") {
            self.require(
                ROLE_ABOVE_NORMAL,
                "creating an agent with a role above `normal`",
            )?;
        }
        let can_skip_approval = SKIP_APPROVAL.satisfied_by(&self.scopes);
        if awaiting == Some(false) {
            self.require(SKIP_APPROVAL, "`awaiting_approval: false`")?;
        }
        let agent = Agent {
            id: id.to_string(),
            name: name.to_string(),
            role: profile.role.unwrap_or_else(|| "normal".into()),
            bot: false,
            account_id: self.ids.uuid(),
            avatar: profile.avatar,
            job_title: profile.job_title,
            mobile: profile.mobile,
            max_chats_count: profile.max_chats_count.unwrap_or(6),
            login_status: profile
                .login_status
                .unwrap_or_else(|| "not accepting chats".into()),
            routing_status: "offline".into(),
            notifications: profile.notifications.unwrap_or_default(),
            email_subscriptions: profile.email_subscriptions.unwrap_or_default(),
            work_scheduler: profile.work_scheduler,
            suspended: false,
            awaiting_approval: awaiting.unwrap_or(!can_skip_approval),
            last_logout: None,
            owner_client_id: None,
            secret: None,
            default_group_priority: None,
            bot_type: None,
            created_by: None,
        };
        self.lic.agents.push(agent);
        let mut groups = profile.groups.unwrap_or_default();
        groups.entry(0).or_insert_with(|| "normal".into());
        self.set_groups(id, &groups);
        Ok(json!({ "id": id }))
    }

    pub(super) fn agent_record(&self, a: &Agent, fields: &[&str], listed: bool) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(a.id));
        out.insert("account_id".into(), json!(a.account_id));
        out.insert("name".into(), json!(a.name));
        if let Some(avatar) = &a.avatar {
            out.insert(
                if listed { "avatar_path" } else { "avatar" }.into(),
                json!(avatar),
            );
        }
        out.insert("role".into(), json!(a.role));
        out.insert("login_status".into(), json!(a.login_status));
        for field in fields {
            let value = match *field {
                "work_scheduler" => a.work_scheduler.clone().unwrap_or_else(|| json!({})),
                "groups" => json!(
                    self.lic
                        .groups
                        .iter()
                        .filter_map(|g| g
                            .agent_priorities
                            .get(&a.id)
                            .map(|p| json!({"id": g.id, "priority": p})))
                        .collect::<Vec<_>>()
                ),
                "email_subscriptions" => json!(a.email_subscriptions),
                "notifications" => json!(a.notifications),
                "job_title" => json!(a.job_title.clone().unwrap_or_default()),
                "mobile" => json!(a.mobile.clone().unwrap_or_default()),
                "max_chats_count" => json!(a.max_chats_count),
                "suspended" => json!(a.suspended),
                "awaiting_approval" => json!(a.awaiting_approval),
                "last_logout" => match &a.last_logout {
                    Some(t) => json!(t),
                    None => continue,
                },
                _ => continue,
            };
            out.insert((*field).into(), value);
        }
        Value::Object(out)
    }

    pub(super) fn get_agent(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let fields = b.opt_enum_list("fields", 20, FIELDS)?.unwrap_or_default();
        if id != self.requester() {
            self.require(
                const { Requirement::any_of(&["agents--all:ro"]) },
                "reading another agent",
            )?;
        }
        let agent = self.human_agent(id)?;
        Ok(self.agent_record(agent, &fields, false))
    }

    pub(super) fn list_agents(&mut self, b: &Obj) -> LcResult<Value> {
        let fields = b.opt_enum_list("fields", 20, FIELDS)?.unwrap_or_default();
        let (mut groups, mut suspended) = (None, None);
        if let Some(f) = b.opt_obj("filters")? {
            f.only(&["group_ids", "suspended"])?;
            groups = f.opt_group_ids("group_ids", 200)?;
            suspended = f.opt_bool("suspended")?;
        }
        let agents: Vec<Value> = self
            .lic
            .agents
            .iter()
            .filter(|a| !a.bot)
            .filter(|a| suspended.is_none_or(|s| a.suspended == s))
            .filter(|a| {
                groups
                    .as_ref()
                    .is_none_or(|ids| self.agent_groups(&a.id).iter().any(|g| ids.contains(g)))
            })
            .map(|a| self.agent_record(a, &fields, true))
            .collect();
        Ok(Value::Array(agents))
    }

    pub(super) fn update_agent(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let profile = self.read_profile(b, v)?;
        let agent = self.human_agent(id)?;
        if agent.role == "owner" && profile.role.is_some() {
            return Err(LcError::validation(
                "`role`: the license owner's role cannot be changed",
            ));
        }
        if id != self.requester() {
            self.require(
                const { Requirement::any_of(&["agents--all:rw"]) },
                "updating another agent",
            )?;
        }
        if profile.role.is_some() {
            self.require(
                const { Requirement::any_of(&["accounts.roles.lc--all:rw"]) },
                "changing an agent's role",
            )?;
        }
        if let Some(groups) = &profile.groups {
            self.set_groups(id, groups);
        }
        if let Some(a) = self.lic.agents.iter_mut().find(|a| a.id == id) {
            let Profile {
                name,
                role,
                avatar,
                job_title,
                mobile,
                max_chats_count,
                login_status,
                notifications,
                email_subscriptions,
                work_scheduler,
                ..
            } = profile;
            if let Some(name) = name {
                a.name = name;
            }
            if let Some(role) = role {
                a.role = role;
            }
            if avatar.is_some() {
                a.avatar = avatar;
            }
            if job_title.is_some() {
                a.job_title = job_title;
            }
            if mobile.is_some() {
                a.mobile = mobile;
            }
            if let Some(n) = max_chats_count {
                a.max_chats_count = n;
            }
            if let Some(s) = login_status {
                a.login_status = s;
            }
            if let Some(n) = notifications {
                a.notifications = n;
            }
            if let Some(s) = email_subscriptions {
                a.email_subscriptions = s;
            }
            if work_scheduler.is_some() {
                a.work_scheduler = work_scheduler;
            }
        }
        Ok(json!({}))
    }

    pub(super) fn delete_agent(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let agent = self.human_agent(id)?;
        if agent.role == "owner" {
            return Err(LcError::validation(
                "`id`: the license owner cannot be deleted",
            ));
        }
        if id != self.requester() {
            self.require(
                const { Requirement::all_of(&[&["agents--all:rw"], &["accounts--all:rw"]]) },
                "deleting another agent",
            )?;
        }
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

    /// Suspends a human agent: logged out (`offline`), so routing skips them. Suspending a
    /// suspended agent changes nothing.
    pub(super) fn suspend_agent(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let agent = self.human_agent(id)?;
        if agent.role == "owner" {
            return Err(LcError::validation(
                "`id`: the license owner cannot be suspended",
            ));
        }
        if let Some(a) = self.lic.agents.iter_mut().find(|a| a.id == id) {
            a.suspended = true;
            a.routing_status = "offline".into();
        }
        Ok(json!({}))
    }

    /// Lifts a suspension; the agent stays `offline` until they log in and set a status.
    pub(super) fn unsuspend_agent(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        self.human_agent(id)?;
        if let Some(a) = self.lic.agents.iter_mut().find(|a| a.id == id) {
            a.suspended = false;
        }
        Ok(json!({}))
    }
}

/// A checked `work_scheduler` (agents and bots): `{timezone, schedule: [{day, enabled, start,
/// end}]}`.
pub(super) fn read_work_scheduler(b: &Obj) -> LcResult<Option<Value>> {
    let Some(ws) = b.opt_obj("work_scheduler")? else {
        return Ok(None);
    };
    ws.only(&["timezone", "schedule"])?;
    let schedule = ws.req_array("schedule", 100)?;
    if !schedule.is_empty() {
        ws.req_str("timezone")?;
    } else {
        ws.opt_str("timezone")?;
    }
    for (i, entry) in schedule.iter().enumerate() {
        let e = ws.item("schedule", i, entry)?;
        e.only(&["day", "enabled", "start", "end"])?;
        e.req_enum("day", DAYS)?;
        e.req_bool("enabled")?;
        let start = hhmm(&e, "start")?;
        let end = hhmm(&e, "end")?;
        if start >= end {
            return Err(LcError::validation(format!(
                "`{}` must be before `end`",
                e.field("start")
            )));
        }
    }
    Ok(Some(Value::Object(ws.map().clone())))
}

fn looks_like_email(text: &str) -> bool {
    text.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace)
    })
}

/// An `HH:MM` time, as minutes.
pub(super) fn hhmm(o: &Obj, key: &str) -> LcResult<u32> {
    let text = o.req_str(key)?;
    let parsed = text
        .split_once(':')
        .filter(|(h, m)| h.len() == 2 && m.len() == 2)
        .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
        .filter(|(h, m)| *h < 24 && *m < 60);
    parsed.map(|(h, m)| h * 60 + m).ok_or_else(|| {
        LcError::validation(format!(
            "`{}` must be a time like `08:30` (got `{text}`)",
            o.field(key)
        ))
    })
}
