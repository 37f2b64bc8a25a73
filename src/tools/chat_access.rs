//! Chat access: who takes part in a chat. See whom a chat can go to, transfer it, add and
//! remove its users.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{Empty, Items, UserType, Visibility},
    record::Names,
};

const AREA: Area = Area::ChatAccess;
const WRITE_SCOPES: &[&str] = &["chats--all:rw", "chats--access:rw"];

/// The chat, and the user whose kind `user_type` gives.
const USER_IN_CHAT: &[Names] = &[
    Names::Chat("chat_id"),
    Names::User {
        id: "user_id",
        kind: "user_type",
    },
];

pub const TOOLS: &[ToolSpec] = &[
    // LiveChat's docs list no scope for it.
    ToolSpec::read::<ListAgentsForTransfer, Items<AgentForTransfer>>(
        AREA,
        "list_agents_for_transfer",
        "List agents a chat can go to",
    )
    .names(&[Names::Chat("chat_id")])
    .said("listed", "list", "the agents {chat} can be transferred to"),
    ToolSpec::write::<TransferChat, Empty>(AREA, "transfer_chat", "Transfer a chat")
        .check("get_chat")
        .scopes(WRITE_SCOPES)
        .names(&[Names::Chat("id"), Names::TransferTarget("target")])
        .said("transferred", "transfer", "{chat}[ to {target}]")
        .webhook("chat_transferred"),
    ToolSpec::write::<AddUserToChat, Empty>(AREA, "add_user_to_chat", "Add a user to a chat")
        .check("get_chat")
        .idempotent()
        .scopes(WRITE_SCOPES)
        .names(USER_IN_CHAT)
        .said("added", "add", "{user} to {chat}")
        .webhook("user_added_to_chat"),
    ToolSpec::write::<RemoveUserFromChat, Empty>(
        AREA,
        "remove_user_from_chat",
        "Remove an agent from a chat",
    )
    .check("get_chat")
    .destructive()
    .idempotent()
    .scopes(WRITE_SCOPES)
    .names(USER_IN_CHAT)
    .said("removed", "remove", "{user} from {chat}")
    .webhook("user_removed_from_chat"),
];

/// Lists the agents a chat can be transferred to, fewest active chats first; offline agents
/// are left out.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAgentsForTransfer {
    /// The chat to transfer.
    pub chat_id: String,
}

/// An agent a chat can be transferred to.
#[derive(Debug, JsonSchema)]
pub struct AgentForTransfer {
    /// Agent ID.
    pub agent_id: Option<String>,
    /// The agent's active chats with a customer.
    pub total_active_chats: Option<u64>,
}

/// Hands an active chat to other groups or agents.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferChat {
    /// Chat ID.
    pub id: String,
    /// Default: another agent of the current group.
    pub target: Option<TransferTarget>,
    /// Queue the chat if no one can take it now, instead of failing.
    pub ignore_agents_availability: Option<bool>,
    /// Act without being in the chat.
    pub ignore_requester_presence: Option<bool>,
}

/// The destination of a transfer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransferTarget {
    Group {
        /// Group IDs.
        ids: Vec<u32>,
    },
    /// The agents need access to the chat.
    Agent {
        /// Agent or bot IDs.
        ids: Vec<String>,
    },
}

/// Adds an agent or the (only) customer to an active chat.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddUserToChat {
    /// Chat ID.
    pub chat_id: String,
    /// Agent, bot or customer ID.
    pub user_id: String,
    /// The user's kind.
    pub user_type: UserType,
    /// `agents`: hidden from the customer (e.g. a supervisor); customers need `all`.
    pub visibility: Visibility,
    /// Act without being in the chat.
    pub ignore_requester_presence: Option<bool>,
}

/// Removes an agent from a chat; to end it for the customer use `deactivate_chat`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveUserFromChat {
    /// Chat ID.
    pub chat_id: String,
    /// Agent or bot ID.
    pub user_id: String,
    /// Only agents can be removed.
    pub user_type: RemovableUserType,
    /// Act without being in the chat.
    pub ignore_requester_presence: Option<bool>,
}

/// The only kind of user that can be removed from a chat.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RemovableUserType {
    Agent,
}
