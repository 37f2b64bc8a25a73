//! Request pieces shared by several areas: events, properties, users, sort order.
//!
//! Doc comments here are schema text the model reads.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Custom property values: namespace → property name → value, e.g.
/// `{"routing": {"priority": "high"}}`. Properties must be registered on the license first.
pub type PropertyValues = BTreeMap<String, BTreeMap<String, Value>>;

/// Names of custom properties to delete: namespace → property names, e.g.
/// `{"routing": ["priority"]}`.
pub type PropertyNames = BTreeMap<String, Vec<String>>;

/// Order of a paged list.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// Who can see an event: everyone in the chat, or only agents.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    All,
    Agents,
}

/// A kind of chat user.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserType {
    Agent,
    Customer,
}

/// A chat user, by ID and kind.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatUser {
    /// The user's ID (an agent's email-like ID, or a customer ID).
    pub id: String,
    /// `agent` or `customer`.
    #[serde(rename = "type")]
    pub user_type: UserType,
}

/// Which groups may see a chat.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatAccess {
    /// Group IDs (integers) whose agents may access the chat.
    pub group_ids: Option<Vec<u32>>,
}

/// A button inside a rich message element.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RichMessageButton {
    /// The button label.
    pub text: Option<String>,
    /// What the button does: `webview`, `message`, `url`, `phone`, `cancel`.
    #[serde(rename = "type")]
    pub button_type: Option<String>,
    /// The URL, phone number or message text the button carries.
    pub value: Option<String>,
    /// The postback ID sent back when the button is pressed.
    pub postback_id: Option<String>,
    /// IDs of the users who pressed the button.
    pub user_ids: Option<Vec<String>>,
    /// For `webview` buttons: `compact`, `tall` or `full`.
    pub webview_height: Option<String>,
    /// For `url` buttons: `new` or `current` window.
    pub target: Option<String>,
}

/// An image in a rich message element.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RichMessageImage {
    /// The image URL.
    pub url: String,
    /// Text shown when the image cannot be.
    pub alternative_text: Option<String>,
}

/// One card of a rich message.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RichMessageElement {
    pub title: Option<String>,
    pub subtitle: Option<String>,
    pub image: Option<RichMessageImage>,
    pub buttons: Option<Vec<RichMessageButton>>,
}

/// A chat event to send. `message` is plain text; the other types are for richer content.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// A text message.
    Message {
        /// The message text (at most 16 KB).
        #[schemars(length(min = 1, max = 16384))]
        text: String,
        /// `all` (default: the customer sees it) or `agents` (an internal note).
        visibility: Option<Visibility>,
        /// Your own ID for the event, echoed back by LiveChat.
        custom_id: Option<String>,
        /// Event properties, namespace → name → value.
        properties: Option<PropertyValues>,
    },
    /// A file previously uploaded to LiveChat, by its URL.
    File {
        /// The URL LiveChat returned for the uploaded file.
        url: String,
        /// Text describing the file, for screen readers.
        alternative_text: Option<String>,
        visibility: Option<Visibility>,
        custom_id: Option<String>,
        properties: Option<PropertyValues>,
    },
    /// Cards, quick replies or a sticker with buttons.
    RichMessage {
        /// `cards`, `sticker` or `quick_replies`.
        template_id: String,
        /// The cards of the message.
        elements: Option<Vec<RichMessageElement>>,
        visibility: Option<Visibility>,
        custom_id: Option<String>,
        properties: Option<PropertyValues>,
    },
    /// A custom event with free-form content, for integrations.
    Custom {
        /// Any JSON object your integration understands.
        content: Option<serde_json::Map<String, Value>>,
        visibility: Option<Visibility>,
        custom_id: Option<String>,
        properties: Option<PropertyValues>,
    },
    /// A system message shown in the chat.
    SystemMessage {
        /// The text shown.
        text: Option<String>,
        /// Your own type name for the system message.
        system_message_type: Option<String>,
        /// Who sees it: `all` or `agents`.
        recipients: Option<String>,
        custom_id: Option<String>,
        properties: Option<PropertyValues>,
    },
}

/// The empty object that methods without a result answer with.
#[derive(Debug, JsonSchema)]
pub struct Empty {}

/// A list result: LiveChat answers some methods with a bare array, which the tool wraps as
/// `{"items": [...]}` so results stay objects.
#[derive(Debug, JsonSchema)]
pub struct Items<T: JsonSchema> {
    /// The records LiveChat returned.
    pub items: Vec<T>,
}

/// A JSON object whose fields LiveChat defines (a chat, thread, agent, ...).
pub type Record = serde_json::Map<String, Value>;
