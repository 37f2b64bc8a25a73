//! Chat access: who takes part in a chat. Transfer a chat, add and remove its users.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{Empty, UserType, Visibility},
    record::Names,
};

const AREA: Area = Area::ChatAccess;
const WRITE_SCOPES: &[&str] = &["chats--all:rw", "chats--access:rw"];

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::write::<TransferChat, Empty>(AREA, "transfer_chat", "Transfer a chat")
        .scopes(WRITE_SCOPES)
        .names(&[Names::Chat("id"), Names::TransferTarget("target")])
        .said("transferred", "transfer", "{chat}[ to {target}]")
        .webhook("chat_transferred"),
    ToolSpec::write::<AddUserToChat, Empty>(AREA, "add_user_to_chat", "Add a user to a chat")
        .idempotent()
        .scopes(WRITE_SCOPES)
        .names(&[
            Names::Chat("chat_id"),
            Names::User {
                id: "user_id",
                kind: "user_type",
            },
        ])
        .said("added", "add", "{user} to {chat}")
        .webhook("user_added_to_chat"),
    ToolSpec::write::<RemoveUserFromChat, Empty>(
        AREA,
        "remove_user_from_chat",
        "Remove an agent from a chat",
    )
    .destructive()
    .idempotent()
    .scopes(WRITE_SCOPES)
    .names(&[
        Names::Chat("chat_id"),
        Names::User {
            id: "user_id",
            kind: "user_type",
        },
    ])
    .said("removed", "remove", "{user} from {chat}")
    .webhook("user_removed_from_chat"),
];

/// Hands an active chat over to other groups or to specific agents; without `target` it is
/// reassigned within its current group. The chat is identified by `id` (not `chat_id`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferChat {
    /// The chat to transfer (note: `id`, not `chat_id`).
    pub id: String,
    /// Where to: `{"type": "group", "ids": [integer group IDs]}` or
    /// `{"type": "agent", "ids": [agent IDs]}`. Leave out to reassign within the current group.
    pub target: Option<TransferTarget>,
    /// `true`: if no agent of the target can take the chat now, queue it instead of failing
    /// (default `false`).
    pub ignore_agents_availability: Option<bool>,
    /// `true`: the requester need not be a user of the chat (default `false`).
    pub ignore_requester_presence: Option<bool>,
}

/// The destination of a transfer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransferTarget {
    /// To groups: any available agent of these groups takes it.
    Group {
        /// Integer group IDs.
        ids: Vec<u32>,
    },
    /// To specific agents, who must have access to the chat.
    Agent {
        /// Agent IDs: a human agent's login email, or a bot's ID.
        ids: Vec<String>,
    },
}

/// Adds an existing agent or customer to an active chat. A chat has at most one customer,
/// and a customer must be added with `visibility: all`; added agents need access to the chat.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddUserToChat {
    /// The chat to add the user to.
    pub chat_id: String,
    /// The user's ID: an agent's login email, a bot's ID, or a customer ID.
    pub user_id: String,
    /// `agent` or `customer`.
    pub user_type: UserType,
    /// What the user will see: `all` events, or only `agents`-visible ones (e.g. a supervisor
    /// who stays hidden from the customer). Customers need `all`.
    pub visibility: Visibility,
    /// `true`: the requester need not be a user of the chat (default `false`).
    pub ignore_requester_presence: Option<bool>,
}

/// Removes an agent from a chat. Customers cannot be removed; to end the conversation use
/// `deactivate_chat` instead.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveUserFromChat {
    /// The chat to remove the user from.
    pub chat_id: String,
    /// The agent's ID: a login email, or a bot's ID.
    pub user_id: String,
    /// Always `agent`.
    pub user_type: RemovableUserType,
    /// `true`: the requester need not be a user of the chat (default `false`).
    pub ignore_requester_presence: Option<bool>,
}

/// The only kind of user that can be removed from a chat.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RemovableUserType {
    Agent,
}
