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
        .idempotent()
        .scopes(&["groups--my:rw", "groups--all:rw"])
        .names(&[Names::Group("id"), Names::ChangedFields])
        .said("updated", "update", "{group}[ ({fields})]")
        .webhook("group_updated"),
    ToolSpec::write::<DeleteGroup, Empty>(AREA, "delete_group", "Delete a group")
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

/// Creates a group of agents (a team chats can be routed to) and returns its integer `id`.
/// List the group's members with their routing priority in `agent_priorities`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// The group's name, at most 180 characters.
    #[schemars(length(max = 180))]
    pub name: String,
    /// The group's language, as a language code such as `en` or `de`.
    pub language_code: Option<String>,
    /// The members: agent or bot ID → routing priority (`first`, `normal`, `last` or
    /// `supervisor`), e.g. `{"smith@example.com": "normal"}`. On API 3.5 at least one member
    /// must be `normal`.
    pub agent_priorities: BTreeMap<String, GroupPriority>,
}

/// The new group.
#[derive(Debug, JsonSchema)]
pub struct CreateGroupResult {
    /// The new group's ID.
    pub id: Option<u32>,
}

/// Returns one group by its integer ID: name and language, plus members with their
/// priorities and the routing status when asked for in `fields`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetGroup {
    /// The group ID (an integer; `0` is the default group).
    pub id: u32,
    /// Extra data to include: `agent_priorities` (the members and their priorities) and/or
    /// `routing_status`.
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

/// Lists every group on the license as `items`, each with its integer ID, name and language;
/// ask for members and routing status with `fields`. Use it to find a group ID by name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGroups {
    /// Extra data to include for each group: `agent_priorities` (the members and their
    /// priorities) and/or `routing_status`.
    pub fields: Option<Vec<GroupField>>,
}

/// Renames a group, changes its language, or sets its members' routing priorities. Fields
/// left out stay as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    /// The group ID (an integer).
    pub id: u32,
    /// The new name, at most 180 characters.
    #[schemars(length(max = 180))]
    pub name: Option<String>,
    /// The new language, as a language code such as `en` or `de`.
    pub language_code: Option<String>,
    /// Members to set: agent or bot ID → routing priority (`first`, `normal`, `last` or
    /// `supervisor`), e.g. `{"smith@example.com": "normal", "jones@example.com": "last"}`.
    /// LiveChat does not document whether this replaces or merges the current members; check
    /// with `get_group` and `fields: ["agent_priorities"]`.
    pub agent_priorities: Option<BTreeMap<String, GroupPriority>>,
}

/// Deletes a group; this cannot be undone. The agents in it are not deleted.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteGroup {
    /// The ID (an integer) of the group to delete.
    pub id: u32,
}
