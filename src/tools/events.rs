//! Events: post messages and other events into a chat, preview a message being written, and
//! answer rich message buttons.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{EcommercePostback, Empty, Event, MessageText},
    record::Names,
};
use crate::version::ApiVersion;

const AREA: Area = Area::Events;
const WRITE_SCOPES: &[&str] = &["chats--all:rw", "chats--access:rw"];

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::write::<SendEvent, SendEventResult>(AREA, "send_event", "Send an event to a chat")
        .scopes(WRITE_SCOPES)
        .names(&[Names::Chat("chat_id"), Names::Events("event")])
        .said("sent", "send", "{event_kind} to {chat}")
        .webhook("incoming_event"),
    ToolSpec::write::<SendEventPreview, Empty>(
        AREA,
        "send_event_preview",
        "Send a preview of a message",
    )
    .scopes(WRITE_SCOPES)
    .versions(&[ApiVersion::V3_6])
    .names(&[Names::Chat("chat_id"), Names::Events("event")])
    .said("showed", "show", "a message preview in {chat}"),
    ToolSpec::write::<SendRichMessagePostback, Empty>(
        AREA,
        "send_rich_message_postback",
        "Press a rich message button",
    )
    .scopes(WRITE_SCOPES)
    .names(&[
        Names::Chat("chat_id"),
        Names::Thread("thread_id"),
        Names::Event("event_id"),
    ])
    .said("pressed", "press", "a button of {rich_message} in {chat}")
    .webhook("incoming_rich_message_postback"),
];

/// Posts one event into a chat: usually a text `message` (use `visibility: agents` for an
/// internal note), or a file, rich message, custom or system message. The requester must
/// already be a user of the chat; answers with the new event's ID.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEvent {
    /// The chat to post into (note: `chat_id`, not `id`).
    pub chat_id: String,
    /// The event to send; `type` picks its kind. `form` events are accepted, but the LiveChat
    /// app does not show them (custom chat widgets can).
    pub event: Event,
    /// Only matters when the chat is inactive: `true` appends the event to the chat's last
    /// thread, `false` (default) makes the call fail. Ignored for active chats.
    pub attach_to_last_thread: Option<bool>,
}

/// The sent event.
#[derive(Debug, JsonSchema)]
pub struct SendEventResult {
    /// The ID LiveChat gave the new event.
    pub event_id: Option<String>,
}

/// Shows the chat's users a provisional text while a longer answer is still being written;
/// the preview is not saved in the chat. Send the final text with `send_event` afterwards.
/// Only `message` events, visible to everyone; the requester must be a user of the chat.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEventPreview {
    /// The chat to show the preview in.
    pub chat_id: String,
    /// The message to preview.
    pub event: PreviewMessage,
}

/// A message event for `send_event_preview`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewMessage {
    /// Always `message`.
    #[serde(rename = "type")]
    pub event_type: PreviewEventType,
    /// The provisional text: at most 16 KB of UTF-8 (an emoji can take 4 bytes).
    pub text: MessageText,
    /// Only `all` is allowed here; may be left out.
    pub visibility: Option<PreviewVisibility>,
    /// Your own ID for the event.
    pub custom_id: Option<String>,
}

/// The only event type a preview may have.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreviewEventType {
    Message,
}

/// The only visibility a preview may have.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreviewVisibility {
    All,
}

/// Reports that a button of a rich message was pressed (or released), as if the requester
/// had clicked it; bots and integrations get it as a postback. `event_id` is the rich
/// message event, `postback.id` the button's `postback_id`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRichMessagePostback {
    /// The chat holding the rich message.
    pub chat_id: String,
    /// The thread holding the rich message.
    pub thread_id: String,
    /// The ID of the rich message event whose button is pressed.
    pub event_id: String,
    /// Which button, and whether it is now pressed.
    pub postback: Postback,
}

/// A button press on a rich message.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Postback {
    /// The button's `postback_id`, as set in the rich message.
    pub id: String,
    /// `true`: the button is pressed (the requester joins its `user_ids`); `false`: released.
    pub toggled: bool,
    /// The button's `type` from the rich message, e.g. `url`, `message`, `phone`, `webview`.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub button_type: Option<String>,
    /// The button's `value` from the rich message, e.g. the URL it opens.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub button_value: Option<String>,
    /// For product (ecommerce) rich messages: the product chosen.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub ecommerce: Option<EcommercePostback>,
}
