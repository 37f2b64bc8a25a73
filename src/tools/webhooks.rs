//! Webhooks: register, list and unregister the webhooks an application (Client ID) receives,
//! list the actions there are, and turn an application's license webhooks off and on.

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
    .check("list_webhooks")
    .scopes(SCOPES)
    .names(&[Names::Action("action")])
    .said("registered", "register", "a webhook[ for {action}]"),
    ToolSpec::read::<ListWebhooks, Items<Record>>(AREA, "list_webhooks", "List webhooks")
        .scopes(SCOPES)
        .names(&[])
        .said("listed", "list", "webhooks"),
    ToolSpec::write::<UnregisterWebhook, Empty>(AREA, "unregister_webhook", "Unregister a webhook")
        .check("list_webhooks")
        .destructive()
        .idempotent()
        .scopes(SCOPES)
        .names(&[Names::Webhook("id")])
        .said("unregistered", "unregister", "{webhook}"),
    // LiveChat asks for no authorization, so no scope.
    ToolSpec::read::<ListWebhookNames, Items<Record>>(
        AREA,
        "list_webhook_names",
        "List webhook actions",
    )
    .names(&[])
    .said("listed", "list", "the webhook actions"),
    ToolSpec::read::<GetLicenseWebhooksState, LicenseWebhooksState>(
        AREA,
        "get_license_webhooks_state",
        "Get the license webhooks state",
    )
    .scopes(&["webhooks.state:ro"])
    .names(&[])
    .said("read", "read", "whether an app's license webhooks are on"),
    ToolSpec::write::<EnableLicenseWebhooks, Empty>(
        AREA,
        "enable_license_webhooks",
        "Enable license webhooks",
    )
    .check("get_license_webhooks_state")
    .idempotent()
    .scopes(&["webhooks.state:rw"])
    .names(&[])
    .said("enabled", "enable", "an app's license webhooks"),
    ToolSpec::write::<DisableLicenseWebhooks, Empty>(
        AREA,
        "disable_license_webhooks",
        "Disable license webhooks",
    )
    .check("get_license_webhooks_state")
    .destructive()
    .idempotent()
    .scopes(&["webhooks.state:rw"])
    .names(&[])
    .said("disabled", "disable", "an app's license webhooks"),
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
    #[schemars(extend("x-versions" = ["3.5"]))]
    IncomingCustomer,
    CustomerSessionFieldsUpdated,
    EventsMarkedAsSeen,
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

/// Makes LiveChat POST to `url` when `action` happens; at most 3 per action and app.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWebhook {
    /// The triggering event.
    pub action: WebhookAction,
    /// Echoed in each body for the receiver to check (no signature header).
    pub secret_key: String,
    /// Receiver URL.
    #[schemars(length(max = 500))]
    pub url: String,
    /// Extra data in each body (none for `agent_deleted`).
    pub additional_data: Option<Vec<AdditionalData>>,
    /// A note for people.
    pub description: Option<String>,
    /// Send only matching events: `{author_type, only_my_chats, chat_presence: {user_ids:
    /// {values | exclude_values}, my_bots}, agent_ids, source_type: [my_client |
    /// other_clients | system]}`. `author_type` (`agent`/`customer`) suits `incoming_event`
    /// and `event_updated`; `only_my_chats` (this app's `source.client_id`) and
    /// `chat_presence` chat and event actions; `agent_ids` `routing_status_set`.
    // Shown as a bare object to save context; serde checks the shape and names the bad field.
    #[schemars(with = "Option<Record>")]
    pub filters: Option<WebhookFilters>,
    /// Owning app's Client ID.
    pub owner_client_id: String,
    /// `license`: once the app is installed; `bot`: once a bot's routing status is set.
    #[serde(rename = "type")]
    pub webhook_type: WebhookType,
}

/// Conditions a webhook must meet to be sent.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookFilters {
    /// Event author; `incoming_event`, `event_updated` only.
    pub author_type: Option<UserType>,
    /// Only chats with this app's `source.client_id`; chat and event actions.
    pub only_my_chats: Option<bool>,
    /// Who is in the chat; chat and event actions, `customer_session_fields_updated`.
    pub chat_presence: Option<ChatPresenceFilter>,
    /// Agent IDs; `routing_status_set` only.
    pub agent_ids: Option<Vec<String>>,
    /// Who caused it: this app, other apps, or LiveChat.
    pub source_type: Option<Vec<SourceType>>,
}

/// Which users must (or must not) be in the chat.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatPresenceFilter {
    /// Set one of the two.
    pub user_ids: Option<UserIdsFilter>,
    /// Any of the app's bots.
    pub my_bots: Option<bool>,
}

/// A filter on user IDs; set exactly one of the two fields.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIdsFilter {
    /// Any of these users.
    pub values: Option<Vec<String>>,
    /// None of these users.
    pub exclude_values: Option<Vec<String>>,
}

/// The registered webhook.
#[derive(Debug, JsonSchema)]
pub struct RegisterWebhookResult {
    /// The webhook's ID, needed to unregister it.
    pub id: Option<String>,
}

/// Lists the webhooks an app registered, with their IDs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListWebhooks {
    /// The app's Client ID.
    pub owner_client_id: String,
}

/// Unregisters a webhook, so LiveChat stops sending it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnregisterWebhook {
    /// Webhook ID, from `list_webhooks`.
    pub id: String,
    /// Owning app's Client ID.
    pub owner_client_id: String,
}

/// Lists the webhook actions of an API version, with the filters and additional data each
/// takes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListWebhookNames {
    /// API version, e.g. `3.6`; default: LiveChat's current stable one.
    pub version: Option<String>,
}

/// Tells whether an app's license webhooks are enabled on the license.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetLicenseWebhooksState {
    /// The app's Client ID.
    pub owner_client_id: String,
}

/// Whether the app's license webhooks are sent.
#[derive(Debug, JsonSchema)]
pub struct LicenseWebhooksState {
    pub license_webhooks_enabled: Option<bool>,
}

/// Turns an app's license webhooks back on after `disable_license_webhooks`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableLicenseWebhooks {
    /// The app's Client ID.
    pub owner_client_id: String,
}

/// Stops an app's license webhooks, even after the app is reinstalled, until
/// `enable_license_webhooks`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableLicenseWebhooks {
    /// The app's Client ID.
    pub owner_client_id: String,
}

#[cfg(test)]
mod tests {
    use super::TOOLS;
    use serde_json::json;

    /// `filters` is shown as a bare object, so its shape is the typed request's to check.
    #[test]
    fn filters_shape_is_still_checked() {
        let spec = TOOLS
            .iter()
            .find(|s| s.name == "register_webhook")
            .expect("tool");
        let with = |filters: serde_json::Value| {
            json!({"action": "incoming_chat", "secret_key": "k", "url": "https://example.com",
                   "owner_client_id": "c", "type": "license", "filters": filters})
        };
        let ok = with(
            json!({"chat_presence": {"user_ids": {"exclude_values": ["a"]},
            "my_bots": true}, "source_type": ["system"], "author_type": "customer"}),
        );
        assert!(spec.prepare(ok).is_ok());
        let err = spec
            .prepare(with(json!({"source_type": ["robots"]})))
            .unwrap_err();
        assert!(err.contains("`filters.source_type[0]`"), "{err}");
        let err = spec
            .prepare(with(json!({"chat_presence": {"users": []}})))
            .unwrap_err();
        assert!(
            err.contains("`filters.chat_presence.users` is not a field"),
            "{err}"
        );
    }
}
