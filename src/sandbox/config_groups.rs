//! Groups (Configuration API): `create_group`, `update_group`, `delete_group`, `list_groups`,
//! `get_group`. Group 0 (General) always exists and cannot be deleted.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{
    error::{LcError, LcResult},
    model::{Access, Group},
    params::Obj,
    state::State,
};
use crate::{scopes::Requirement, version::ApiVersion};

const PRIORITIES: &[&str] = &["first", "normal", "last", "supervisor"];
const FIELDS: &[&str] = &["agent_priorities", "routing_status"];

impl State {
    fn group_index(&self, id: u32) -> LcResult<usize> {
        self.lic
            .groups
            .iter()
            .position(|g| g.id == id)
            .ok_or_else(|| LcError::not_found(format!("Group {id} not found")))
    }

    fn read_group_id(b: &Obj) -> LcResult<u32> {
        Ok(b.req_int("id", 0, i64::from(u32::MAX))? as u32)
    }

    fn read_name(b: &Obj) -> LcResult<Option<String>> {
        match b.opt_str("name")? {
            Some(name) if name.trim().is_empty() => {
                Err(LcError::validation("`name` cannot be empty"))
            }
            Some(name) if name.chars().count() > 180 => Err(LcError::validation(
                "`name` can have at most 180 characters",
            )),
            other => Ok(other.map(str::to_string)),
        }
    }

    fn read_language(b: &Obj) -> LcResult<Option<String>> {
        match b.opt_str("language_code")? {
            Some(code)
                if !(2..=5).contains(&code.len())
                    || !code
                        .chars()
                        .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_') =>
            {
                Err(LcError::validation(format!(
                    "`language_code` must be a language code like `en` (got `{code}`)"
                )))
            }
            other => Ok(other.map(str::to_string)),
        }
    }

    fn read_priorities(
        &self,
        b: &Obj,
        v: ApiVersion,
    ) -> LcResult<Option<BTreeMap<String, String>>> {
        let Some(map) = b.opt_obj("agent_priorities")? else {
            return Ok(None);
        };
        let mut out = BTreeMap::new();
        for agent in map.map().keys() {
            let priority = map.req_enum(agent, PRIORITIES)?;
            if self.agent(agent).is_none() {
                return Err(LcError::not_found(format!(
                    "`agent_priorities.{agent}`: agent `{agent}` not found"
                )));
            }
            out.insert(agent.clone(), priority.to_string());
        }
        if v == ApiVersion::V3_5 && !out.values().any(|p| p == "normal") {
            return Err(LcError::validation(
                "`agent_priorities` needs at least one agent with the `normal` priority (a v3.5 rule)",
            ));
        }
        Ok(Some(out))
    }

    pub(super) fn create_group(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let name = Self::read_name(b)?.ok_or_else(|| super::params::required("name"))?;
        let language_code = Self::read_language(b)?.unwrap_or_else(|| "en".into());
        let priorities = self
            .read_priorities(b, v)?
            .ok_or_else(|| super::params::required("agent_priorities"))?;
        let id = self
            .lic
            .groups
            .iter()
            .map(|g| g.id)
            .max()
            .map_or(0, |m| m + 1);
        self.lic.groups.push(Group {
            id,
            name,
            language_code,
            agent_priorities: priorities,
            properties: Default::default(),
        });
        Ok(json!({ "id": id }))
    }

    pub(super) fn update_group(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let id = Self::read_group_id(b)?;
        let name = Self::read_name(b)?;
        let language = Self::read_language(b)?;
        let priorities = self.read_priorities(b, v)?;
        let index = self.group_index(id)?;
        self.check_group_member(id, "updating")?;
        let g = &mut self.lic.groups[index];
        if let Some(name) = name {
            g.name = name;
        }
        if let Some(language) = language {
            g.language_code = language;
        }
        if let Some(priorities) = priorities {
            g.agent_priorities = priorities;
        }
        Ok(json!({}))
    }

    /// `groups--my:*` covers only the requester's groups.
    fn check_group_member(&self, id: u32, what: &str) -> LcResult<()> {
        if self.agent_groups(self.requester()).contains(&id) {
            return Ok(());
        }
        self.require(
            const { Requirement::any_of(&["groups--all:rw"]) },
            &format!("{what} a group the requester is not a member of"),
        )
    }

    pub(super) fn delete_group(&mut self, b: &Obj) -> LcResult<Value> {
        let id = Self::read_group_id(b)?;
        if id == 0 {
            return Err(LcError::validation(
                "`id`: group 0 (General) cannot be deleted",
            ));
        }
        let index = self.group_index(id)?;
        self.check_group_member(id, "deleting")?;
        self.lic.groups.remove(index);
        for tag in &mut self.lic.tags {
            tag.group_ids.retain(|g| *g != id);
        }
        for chat in &mut self.lic.chats {
            chat.access.group_ids.retain(|g| *g != id);
            if chat.access.group_ids.is_empty() {
                chat.access = Access::default();
            }
        }
        Ok(json!({}))
    }

    /// A group's routing status: accepting if any member accepts chats.
    fn group_routing_status(&self, g: &Group) -> &'static str {
        let statuses: Vec<&str> = g
            .agent_priorities
            .iter()
            .filter(|(_, p)| p.as_str() != "supervisor")
            .filter_map(|(a, _)| self.agent(a))
            .map(|a| a.routing_status.as_str())
            .collect();
        if statuses.contains(&"accepting_chats") {
            "accepting_chats"
        } else if statuses.contains(&"not_accepting_chats") {
            "not_accepting_chats"
        } else {
            "offline"
        }
    }

    fn group_record(&self, g: &Group, fields: &[&str]) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(g.id));
        out.insert("name".into(), json!(g.name));
        out.insert("language_code".into(), json!(g.language_code));
        if fields.contains(&"agent_priorities") {
            out.insert("agent_priorities".into(), json!(g.agent_priorities));
        }
        out.insert("routing_status".into(), json!(self.group_routing_status(g)));
        Value::Object(out)
    }

    pub(super) fn list_groups(&mut self, b: &Obj) -> LcResult<Value> {
        let fields = b.opt_enum_list("fields", 2, FIELDS)?.unwrap_or_default();
        Ok(Value::Array(
            self.lic
                .groups
                .iter()
                .map(|g| self.group_record(g, &fields))
                .collect(),
        ))
    }

    pub(super) fn get_group(&mut self, b: &Obj) -> LcResult<Value> {
        let id = Self::read_group_id(b)?;
        let fields = b.opt_enum_list("fields", 2, FIELDS)?.unwrap_or_default();
        let index = self.group_index(id)?;
        if !self.agent_groups(self.requester()).contains(&id) {
            self.require(
                const { Requirement::any_of(&["groups--all:ro"]) },
                "reading a group the requester is not a member of",
            )?;
        }
        Ok(self.group_record(&self.lic.groups[index], &fields))
    }
}
