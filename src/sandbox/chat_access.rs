//! Who is in a chat and who follows it: `list_agents_for_transfer`, `transfer_chat`,
//! `add_user_to_chat`, `remove_user_from_chat`, `follow_chat`, `unfollow_chat`. Removed and
//! transferred-away agents stay in `users` with `present: false`, as in LiveChat's archives.

use serde_json::{Value, json};

use super::{
    error::{LcError, LcResult},
    model::Access,
    params::Obj,
    state::{Mode, State},
};

const PRIORITY_ORDER: &[&str] = &["first", "normal", "last"];

impl State {
    /// The agents who could take the chat: online (accepting chats or not, never offline),
    /// not bots, with access to the chat's groups and not already in it; fewest active chats
    /// with a customer first.
    pub(super) fn list_agents_for_transfer(&mut self, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let chat = self.reachable_chat(chat_id, Mode::Read)?;
        let c = &self.lic.chats[chat];
        let in_chat = |agent: &str| c.user(agent).is_some_and(|u| u.present);
        let mut agents: Vec<(usize, &str)> = self
            .lic
            .agents
            .iter()
            .filter(|a| !a.bot && !a.suspended && a.routing_status != "offline")
            .filter(|a| !in_chat(&a.id) && self.agent_can_see(&a.id, &c.access.group_ids))
            .map(|a| (self.active_chats_with_customer(&a.id), a.id.as_str()))
            .collect();
        agents.sort();
        Ok(Value::Array(
            agents
                .into_iter()
                .map(|(n, id)| json!({"agent_id": id, "total_active_chats": n}))
                .collect(),
        ))
    }

    /// How many active chats with a customer `agent` is in.
    fn active_chats_with_customer(&self, agent: &str) -> usize {
        self.lic
            .chats
            .iter()
            .filter(|c| c.is_active() && c.customer().is_some())
            .filter(|c| c.user(agent).is_some_and(|u| u.present))
            .count()
    }

    /// Marks the chat followed: `is_followed` in `get_chat` and `list_chats`.
    pub(super) fn follow_chat(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let chat = self.reachable_chat(id, Mode::Read)?;
        self.lic.chats[chat].is_followed = true;
        Ok(json!({}))
    }

    /// Unmarks the chat followed. A present user of the chat keeps getting its updates, so
    /// for them the chat stays followed.
    pub(super) fn unfollow_chat(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let chat = self.reachable_chat(id, Mode::Read)?;
        let member = self.lic.chats[chat]
            .user(self.requester())
            .is_some_and(|u| u.present);
        if !member {
            self.lic.chats[chat].is_followed = false;
        }
        Ok(json!({}))
    }

    pub(super) fn transfer_chat(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let ignore_availability = b.opt_bool("ignore_agents_availability")?.unwrap_or(false);
        let ignore_presence = b.opt_bool("ignore_requester_presence")?.unwrap_or(false);
        let target = match b.opt_obj("target")? {
            None => None,
            Some(t) => {
                t.only(&["type", "ids"])?;
                let kind = t.req_enum("type", &["group", "agent"])?;
                let ids = t.req_array("ids", 100)?;
                if ids.is_empty() {
                    return Err(LcError::validation("`target.ids` cannot be empty"));
                }
                Some((kind, t))
            }
        };
        let chat = self.reachable_chat(id, Mode::Write)?;
        if !self.lic.chats[chat].is_active() {
            return Err(LcError::chat_inactive(format!(
                "Chat `{id}` is inactive; only active chats can be transferred"
            )));
        }
        self.require_presence(chat, ignore_presence)?;
        let current: Vec<String> = self.lic.chats[chat]
            .users
            .iter()
            .filter(|u| u.kind == "agent" && u.present)
            .map(|u| u.id.clone())
            .collect();
        let (assignees, groups, label) = match target {
            Some(("agent", t)) => {
                let ids = t.opt_str_list("ids", 100)?.unwrap_or_default();
                let groups = self.lic.chats[chat].access.group_ids.clone();
                for agent in &ids {
                    let a = self.agent(agent).ok_or_else(|| {
                        LcError::not_found(format!("`target.ids`: agent `{agent}` not found"))
                    })?;
                    if !self.agent_can_see(agent, &groups) {
                        return Err(LcError::missing_access(format!(
                            "`target.ids`: agent `{agent}` has no access to chat `{id}` (groups {groups:?})"
                        )));
                    }
                    if a.suspended {
                        return Err(LcError::agent_offline(format!(
                            "`target.ids`: agent `{agent}` is suspended"
                        )));
                    }
                    if a.routing_status != "accepting_chats" && !ignore_availability {
                        return Err(LcError::agent_offline(format!(
                            "`target.ids`: agent `{agent}` is {}; set `ignore_agents_availability: true` to transfer anyway",
                            a.routing_status.replace('_', " ")
                        )));
                    }
                }
                let names = ids
                    .iter()
                    .map(|a| self.name_of(a))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    ids.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    None,
                    names,
                )
            }
            Some((_, t)) => {
                let ids: Vec<u32> = t.opt_group_ids("ids", 100)?.unwrap_or_default();
                for group in &ids {
                    if !self.group_exists(*group) {
                        return Err(LcError::not_found(format!(
                            "`target.ids`: group {group} not found"
                        )));
                    }
                }
                let pick = self.pick_agent(&ids, &current);
                if pick.is_none() && !ignore_availability {
                    return Err(LcError::agent_offline(format!(
                        "No agent in groups {ids:?} is accepting chats; set `ignore_agents_availability: true` to queue the chat"
                    )));
                }
                let names = ids
                    .iter()
                    .filter_map(|g| self.lic.groups.iter().find(|x| x.id == *g))
                    .map(|g| g.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                (pick.into_iter().collect(), Some(ids), names)
            }
            None => {
                let groups = self.lic.chats[chat].access.group_ids.clone();
                let pick = self.pick_agent(&groups, &current);
                if pick.is_none() && !ignore_availability {
                    return Err(LcError::agent_offline(format!(
                        "No other agent in the chat's groups {groups:?} is accepting chats; set `ignore_agents_availability: true` to queue the chat"
                    )));
                }
                let names = pick
                    .iter()
                    .map(|a| self.name_of(a))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    pick.into_iter().collect(),
                    None,
                    if names.is_empty() {
                        "the queue".into()
                    } else {
                        names
                    },
                )
            }
        };
        let initiator = self.name_of(self.requester());
        self.system_message(
            chat,
            "chat_transferred",
            format!("{initiator} transferred the chat to {label}"),
            json!({"initiator": initiator, "targets": label}),
        );
        let c = &mut self.lic.chats[chat];
        for u in c
            .users
            .iter_mut()
            .filter(|u| u.kind == "agent" && !assignees.contains(&u.id))
        {
            u.present = false;
        }
        if let Some(groups) = groups {
            c.access = Access { group_ids: groups };
            if let Some(t) = c.threads.last_mut() {
                t.access = Some(c.access.clone());
            }
        }
        for agent in &assignees {
            self.join(chat, agent, "agent", "all");
        }
        Ok(json!({}))
    }

    /// The agent a group transfer goes to: accepting chats, not a bot, supervisor or
    /// suspended, not already in the chat; by priority, then ID.
    fn pick_agent(&self, groups: &[u32], exclude: &[String]) -> Option<String> {
        let mut candidates: Vec<(usize, &str)> = self
            .lic
            .groups
            .iter()
            .filter(|g| groups.contains(&g.id))
            .flat_map(|g| g.agent_priorities.iter())
            .filter_map(|(agent, priority)| {
                let rank = PRIORITY_ORDER.iter().position(|p| p == priority)?;
                let a = self.agent(agent)?;
                (!a.bot
                    && !a.suspended
                    && a.routing_status == "accepting_chats"
                    && !exclude.contains(agent))
                .then_some((rank, agent.as_str()))
            })
            .collect();
        candidates.sort();
        candidates.first().map(|(_, a)| a.to_string())
    }

    pub(super) fn add_user_to_chat(&mut self, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let user_id = b.req_str("user_id")?;
        let user_type = b.req_enum("user_type", &["agent", "customer"])?;
        let visibility = b.req_enum("visibility", &["all", "agents"])?;
        let ignore = b.opt_bool("ignore_requester_presence")?.unwrap_or(false);
        let chat = self.reachable_chat(chat_id, Mode::Write)?;
        if !self.lic.chats[chat].is_active() {
            return Err(LcError::chat_inactive(format!(
                "Chat `{chat_id}` is inactive; users can be added to active chats only"
            )));
        }
        let joining_self = user_id == self.requester();
        self.require_presence(chat, ignore || joining_self)?;
        let initiator = self.name_of(self.requester());
        let name = self.name_of(user_id);
        if user_type == "agent" {
            if self.agent(user_id).is_none() {
                return Err(LcError::not_found(format!(
                    "`user_id`: agent `{user_id}` not found"
                )));
            }
            let groups = self.lic.chats[chat].access.group_ids.clone();
            if !self.agent_can_see(user_id, &groups) {
                return Err(LcError::missing_access(format!(
                    "`user_id`: agent `{user_id}` has no access to chat `{chat_id}` (groups {groups:?})"
                )));
            }
        } else {
            if !self.lic.customers.iter().any(|c| c.id == user_id) {
                return Err(LcError::not_found(format!(
                    "`user_id`: customer `{user_id}` not found"
                )));
            }
            if visibility != "all" {
                return Err(LcError::validation(
                    "`visibility`: a customer must be added with `visibility: all`",
                ));
            }
            if self.lic.chats[chat]
                .customer()
                .is_some_and(|c| c.id != user_id)
            {
                return Err(LcError::validation(format!(
                    "Chat `{chat_id}` already has a customer; a chat can have only one"
                )));
            }
            self.check_not_banned(user_id, "user_id")?;
        }
        let already = self.lic.chats[chat]
            .user(user_id)
            .is_some_and(|u| u.present);
        self.join(chat, user_id, user_type, visibility);
        if !already {
            let (kind, text, vars) = match (user_type, joining_self) {
                ("customer", _) => (
                    "customer_added",
                    format!("{initiator} added {name} to the chat"),
                    json!({"initiator": initiator, "customer": name}),
                ),
                (_, true) => (
                    "agent_joined",
                    format!("{name} joined the chat"),
                    json!({"agent": name}),
                ),
                _ => (
                    "agent_added",
                    format!("{initiator} added {name} to the chat"),
                    json!({"initiator": initiator, "agent": name}),
                ),
            };
            self.system_message(chat, kind, text, vars);
        }
        Ok(json!({}))
    }

    pub(super) fn remove_user_from_chat(&mut self, b: &Obj) -> LcResult<Value> {
        let chat_id = b.req_str("chat_id")?;
        let user_id = b.req_str("user_id")?;
        let user_type = b.opt_str("user_type")?;
        if user_type == Some("customer") {
            return Err(LcError::validation(
                "`user_type`: the customer cannot be removed from a chat",
            ));
        }
        b.req_enum("user_type", &["agent"])?;
        let ignore = b.opt_bool("ignore_requester_presence")?.unwrap_or(false);
        let chat = self.reachable_chat(chat_id, Mode::Write)?;
        let leaving_self = user_id == self.requester();
        self.require_presence(chat, ignore || leaving_self)?;
        let present = self.lic.chats[chat]
            .user(user_id)
            .is_some_and(|u| u.present && u.kind == "agent");
        if !present {
            return Err(LcError::not_found(format!(
                "`user_id`: agent `{user_id}` is not a user of chat `{chat_id}`"
            )));
        }
        let initiator = self.name_of(self.requester());
        let name = self.name_of(user_id);
        let (kind, text, vars) = if leaving_self {
            (
                "agent_left",
                format!("{name} left the chat"),
                json!({"agent": name}),
            )
        } else {
            (
                "agent_removed",
                format!("{initiator} removed {name} from the chat"),
                json!({"initiator": initiator, "agent": name}),
            )
        };
        self.system_message(chat, kind, text, vars);
        if let Some(u) = self.lic.chats[chat]
            .users
            .iter_mut()
            .find(|u| u.id == user_id)
        {
            u.present = false;
        }
        Ok(json!({}))
    }
}
