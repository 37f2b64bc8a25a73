//! Routing: whether agents and bots accept chats, read and set (Agent Chat API).

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{Empty, Items, Record},
    record::Names,
};

const AREA: Area = Area::Routing;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::write::<SetRoutingStatus, Empty>(AREA, "set_routing_status", "Set a routing status")
        .check("list_routing_statuses")
        .idempotent()
        // Which one depends on `agent_id`: an agent or a bot, the requester or another.
        .scopes(&[
            "agents--my:rw",
            "agents--all:rw",
            "agents-bot--my:rw",
            "agents-bot--all:rw",
        ])
        .names(&[Names::Agent("agent_id"), Names::Status("status")])
        .said(
            "set",
            "set",
            "the routing status[ of {agent}][ to {status}]",
        )
        .webhook("routing_status_set"),
    ToolSpec::read::<ListRoutingStatuses, Items<Record>>(
        AREA,
        "list_routing_statuses",
        "List routing statuses",
    )
    .scopes_all(&[&["agents--all:ro"], &["agents-bot--all:ro"]])
    .names(&[])
    .said("listed", "list", "routing statuses"),
];

/// Sets whether an agent or bot gets new chats routed to them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoutingStatus {
    /// `offline` is for bots only.
    pub status: RoutingStatus,
    /// Agent or bot ID; default: the caller.
    pub agent_id: Option<String>,
}

/// A routing status.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStatus {
    AcceptingChats,
    NotAcceptingChats,
    Offline,
}

/// Lists whether each agent and bot accepts chats, as `{agent_id, status}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRoutingStatuses {
    /// Default: everyone.
    pub filters: Option<RoutingStatusFilters>,
}

/// Filters for `list_routing_statuses`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingStatusFilters {
    /// Only these groups.
    pub group_ids: Option<Vec<u32>>,
}
