//! Groups: create, read, list, update and delete the agent groups that chats are routed to.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{Empty, Items, Record},
    record::Names,
};

const AREA: Area = Area::Groups;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::write::<CreateGroup, CreateGroupResult>(AREA, "create_group", "Create a group")
        .check("list_groups")
        .scopes(&["groups--all:rw"])
        .names(&[])
        .said("created", "create", "a group")
        .webhook("group_created"),
    ToolSpec::read::<GetGroup, GroupResult>(AREA, "get_group", "Get a group")
        .scopes(&["groups--my:ro", "groups--all:ro"])
        .names(&[Names::Group("id")])
        .said("read", "read", "{group}"),
    ToolSpec::read::<ListGroups, Items<Record>>(AREA, "list_groups", "List groups")
        .scopes(&["groups--all:ro"])
        .names(&[])
        .said("listed", "list", "groups"),
    ToolSpec::write::<UpdateGroup, Empty>(AREA, "update_group", "Update a group")
        .check("get_group")
        .idempotent()
        .scopes(&["groups--my:rw", "groups--all:rw"])
        .names(&[Names::Group("id"), Names::ChangedFields])
        .said("updated", "update", "{group}[ ({fields})]")
        .webhook("group_updated"),
    ToolSpec::write::<DeleteGroup, Empty>(AREA, "delete_group", "Delete a group")
        .check("list_groups")
        .destructive()
        .idempotent()
        .scopes(&["groups--my:rw", "groups--all:rw"])
        .names(&[Names::Group("id")])
        .said("deleted", "delete", "{group}")
        .webhook("group_deleted"),
];

/// How an agent takes chats routed to a group: `first` gets them before everyone else (e.g.
/// bots), then `normal`, then `last`; `supervisor` gets none automatically.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupPriority {
    First,
    Normal,
    Last,
    Supervisor,
}

/// Extra group data to return besides `id`, `name` and `language_code`.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupField {
    AgentPriorities,
    RoutingStatus,
}

/// Creates a group of agents that chats can be routed to.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Group name.
    #[schemars(length(max = 180))]
    pub name: String,
    /// E.g. `en`.
    pub language_code: Option<String>,
    /// Members: agent or bot ID → `first`, `normal`, `last` or `supervisor`.
    pub agent_priorities: BTreeMap<String, GroupPriority>,
}

/// The new group.
#[derive(Debug, JsonSchema)]
pub struct CreateGroupResult {
    /// The new group's ID.
    pub id: Option<u32>,
}

/// Returns a group's name and language, plus what `fields` names.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetGroup {
    /// Group ID; `0` is the default group.
    pub id: u32,
    /// `agent_priorities`: members.
    pub fields: Option<Vec<GroupField>>,
}

/// A group.
#[derive(Debug, JsonSchema)]
pub struct GroupResult {
    pub id: Option<u32>,
    pub name: Option<String>,
    pub language_code: Option<String>,
    /// Agent or bot ID → routing priority; present when asked for in `fields`.
    pub agent_priorities: Option<BTreeMap<String, String>>,
    /// The group's routing status; present when asked for in `fields`.
    pub routing_status: Option<String>,
}

/// Lists the license's groups with ID, name and language; finds a group ID by name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGroups {
    /// `agent_priorities`: members.
    pub fields: Option<Vec<GroupField>>,
}

/// Changes a group's name, language or members; fields left out stay as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    /// Group ID.
    pub id: u32,
    /// New name.
    #[schemars(length(max = 180))]
    pub name: Option<String>,
    /// E.g. `en`.
    pub language_code: Option<String>,
    /// Agent or bot ID → `first`, `normal`, `last` or `supervisor`. Replace or merge is
    /// undocumented: check with `get_group`.
    pub agent_priorities: Option<BTreeMap<String, GroupPriority>>,
}

/// Deletes a group for good; its agents stay.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteGroup {
    /// Group ID.
    pub id: u32,
}
