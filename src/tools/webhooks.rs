//! Webhooks: register, list and unregister the webhooks an application (Client ID) receives.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{Empty, Items, Record, UserType},
    record::Names,
};

const AREA: Area = Area::Webhooks;
// LiveChat asks for the read-write scope even to list webhooks.
const SCOPES: &[&str] = &["webhooks.configuration:rw"];

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::write::<RegisterWebhook, RegisterWebhookResult>(
        AREA,
        "register_webhook",
        "Register a webhook",
    )
    .scopes(SCOPES)
    .names(&[Names::Action("action")])
    .said("registered", "register", "a webhook[ for {action}]"),
    ToolSpec::read::<ListWebhooks, Items<Record>>(AREA, "list_webhooks", "List webhooks")
        .scopes(SCOPES)
        .names(&[])
        .said("listed", "list", "webhooks"),
    ToolSpec::write::<UnregisterWebhook, Empty>(AREA, "unregister_webhook", "Unregister a webhook")
        .destructive()
        .idempotent()
        .scopes(SCOPES)
        .names(&[Names::Webhook("id")])
        .said("unregistered", "unregister", "{webhook}"),
];

/// The event that triggers a webhook.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAction {
    IncomingChat,
    ChatDeactivated,
    ChatAccessUpdated,
    ChatTransferred,
    UserAddedToChat,
    UserRemovedFromChat,
    IncomingEvent,
    /// API 3.6 only.
    #[schemars(extend("x-versions" = ["3.6"]))]
    EventDeleted,
    EventUpdated,
    IncomingRichMessagePostback,
    ChatPropertiesUpdated,
    ChatPropertiesDeleted,
    ThreadPropertiesUpdated,
    ThreadPropertiesDeleted,
    EventPropertiesUpdated,
    EventPropertiesDeleted,
    ThreadTagged,
    ThreadUntagged,
    RoutingStatusSet,
    /// API 3.5 only.
    #[schemars(extend("x-versions" = ["3.5"]))]
    IncomingCustomer,
    CustomerSessionFieldsUpdated,
    EventsMarkedAsSeen,
    /// API 3.6 only.
    #[schemars(extend("x-versions" = ["3.6"]))]
    ThreadSummarySet,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    AgentCreated,
    AgentUpdated,
    AgentDeleted,
    AgentSuspended,
    AgentUnsuspended,
    AgentApproved,
    BotCreated,
    BotUpdated,
    BotDeleted,
    AutoAccessesUpdated,
    TagCreated,
    TagDeleted,
    TagUpdated,
}

/// Whose events a webhook covers.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookType {
    Bot,
    License,
}

/// Extra data sent along with each webhook.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdditionalData {
    ChatProperties,
    ChatPresenceUserIds,
}

/// What caused an event: the owning app, another app, or LiveChat itself.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceType {
    MyClient,
    OtherClients,
    System,
}

/// Registers a webhook: LiveChat will POST to `url` whenever `action` happens, with
/// `secret_key` inside the JSON body (there is no signature header) so the receiver can check
/// the sender. An application may have at most 3 webhooks per action; returns the webhook `id`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWebhook {
    /// The event that triggers the webhook. `incoming_customer` exists only on API 3.5;
    /// `event_deleted` and `thread_summary_set` only on 3.6.
    pub action: WebhookAction,
    /// A secret of your choice, echoed in every webhook body so the receiver can verify it.
    pub secret_key: String,
    /// The URL that receives the webhooks, at most 500 characters.
    #[schemars(length(max = 500))]
    pub url: String,
    /// Extra data to send with each webhook: `chat_properties` and/or
    /// `chat_presence_user_ids` (not available for `agent_deleted`).
    pub additional_data: Option<Vec<AdditionalData>>,
    /// A note for people reading the webhook list.
    pub description: Option<String>,
    /// Send the webhook only for matching events; which filters an action accepts depends on
    /// the action.
    pub filters: Option<WebhookFilters>,
    /// The Client ID (application) that owns the webhook; it must belong to your organization.
    pub owner_client_id: String,
    /// `license`: for the whole license, enabled when the app is installed there; `bot`: for
    /// the app's bots, delivered once a bot's routing status is set.
    #[serde(rename = "type")]
    pub webhook_type: WebhookType,
}

/// Conditions a webhook must meet to be sent.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookFilters {
    /// Only events written by a `customer` or by an `agent`. Only for the `incoming_event` and
    /// `event_updated` actions.
    pub author_type: Option<UserType>,
    /// `true`: only chats whose `source.client_id` property is the owning app. Chat and
    /// event actions only.
    pub only_my_chats: Option<bool>,
    /// Only chats with (or without) certain users in them. Chat and event actions, and
    /// `customer_session_fields_updated`, only.
    pub chat_presence: Option<ChatPresenceFilter>,
    /// Only status changes of these agents (agent IDs). Only for `routing_status_set`.
    pub agent_ids: Option<Vec<String>>,
    /// Only events caused by these sources: `my_client` (the owning app), `other_clients`
    /// (other apps), `system` (no app). Every action accepts it.
    pub source_type: Option<Vec<SourceType>>,
}

/// Which users must (or must not) be in the chat.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatPresenceFilter {
    /// Users by ID (agents or customers); set exactly one of `values` or `exclude_values`.
    pub user_ids: Option<UserIdsFilter>,
    /// `true`: send the webhook when any bot of the owning app is in the chat.
    pub my_bots: Option<bool>,
}

/// A filter on user IDs; set exactly one of the two fields.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIdsFilter {
    /// Send the webhook when any of these users is in the chat.
    pub values: Option<Vec<String>>,
    /// Do not send the webhook when any of these users is in the chat.
    pub exclude_values: Option<Vec<String>>,
}

/// The registered webhook.
#[derive(Debug, JsonSchema)]
pub struct RegisterWebhookResult {
    /// The webhook's ID, needed to unregister it.
    pub id: Option<String>,
}

/// Lists the webhooks registered for one application (Client ID) as `items`, each with its
/// ID, action, URL, filters and type.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListWebhooks {
    /// The Client ID (application) whose webhooks to list.
    pub owner_client_id: String,
}

/// Unregisters a webhook, so LiveChat stops sending it. Get the `id` from `list_webhooks`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnregisterWebhook {
    /// The webhook's ID.
    pub id: String,
    /// The Client ID (application) that owns the webhook.
    pub owner_client_id: String,
}
