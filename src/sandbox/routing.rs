//! Routing statuses: `set_routing_status`, `list_routing_statuses`.

use serde_json::{Value, json};

use super::{
    error::{LcError, LcResult},
    params::Obj,
    state::State,
};
use crate::scopes::Requirement;

impl State {
    pub(super) fn set_routing_status(&mut self, b: &Obj) -> LcResult<Value> {
        let status = b.req_enum(
            "status",
            &["accepting_chats", "not_accepting_chats", "offline"],
        )?;
        let target = b
            .opt_str("agent_id")?
            .unwrap_or(self.requester())
            .to_string();
        let agent = self
            .agent(&target)
            .ok_or_else(|| LcError::not_found(format!("`agent_id`: agent `{target}` not found")))?;
        if status == "offline" && !agent.bot {
            return Err(LcError::validation(
                "`status`: `offline` can only be set for bots; agents use `accepting_chats` or `not_accepting_chats`",
            ));
        }
        // The docs' footnotes: `agents-bot--*` for bots, `agents--all` for other agents,
        // `agents--my` for oneself.
        if agent.bot {
            self.require(
                const { Requirement::any_of(&["agents-bot--my:rw", "agents-bot--all:rw"]) },
                "setting a bot's status",
            )?;
        } else if target != self.requester() {
            self.require(
                const { Requirement::any_of(&["agents--all:rw"]) },
                "setting another agent's status",
            )?;
        } else {
            self.require(
                const { Requirement::any_of(&["agents--my:rw"]) },
                "setting the requester's status",
            )?;
        }
        if let Some(a) = self.lic.agents.iter_mut().find(|a| a.id == target) {
            a.routing_status = status.to_string();
        }
        Ok(json!({}))
    }

    pub(super) fn list_routing_statuses(&mut self, b: &Obj) -> LcResult<Value> {
        let groups = match b.opt_obj("filters")? {
            None => None,
            Some(f) => {
                f.only(&["group_ids"])?;
                f.opt_group_ids("group_ids", 200)?
            }
        };
        let statuses: Vec<Value> = self
            .lic
            .agents
            .iter()
            .filter(|a| !a.suspended)
            .filter(|a| {
                groups
                    .as_ref()
                    .is_none_or(|ids| self.agent_groups(&a.id).iter().any(|g| ids.contains(g)))
            })
            .map(|a| json!({"agent_id": a.id, "status": a.routing_status}))
            .collect();
        Ok(Value::Array(statuses))
    }
}
