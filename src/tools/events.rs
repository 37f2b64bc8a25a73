//! Events: post messages and other events into a chat, preview a message being written, show
//! that an answer is being typed or worked on, mark events seen, answer rich message buttons,
//! have a thread summarised, send agents a message outside any chat (`multicast`), and
//! upload a file to send as a `file` event.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::{
    Area, ToolSpec,
    common::{EcommercePostback, Empty, Event, MessageText, Visibility},
    record::Names,
};
use crate::version::ApiVersion;

const AREA: Area = Area::Events;
const READ_SCOPES: &[&str] = &["chats--all:ro", "chats--access:ro"];
const WRITE_SCOPES: &[&str] = &["chats--all:rw", "chats--access:rw"];

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::write::<SendEvent, SendEventResult>(AREA, "send_event", "Send an event to a chat")
        .check("get_chat")
        .scopes(WRITE_SCOPES)
        .names(&[Names::Chat("chat_id"), Names::Events("event")])
        .said("sent", "send", "{event_kind} to {chat}")
        .webhook("incoming_event")
        .drafts("event"),
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
    .check("get_chat")
    .scopes(WRITE_SCOPES)
    .names(&[
        Names::Chat("chat_id"),
        Names::Thread("thread_id"),
        Names::Event("event_id"),
    ])
    .said("pressed", "press", "a button of {rich_message} in {chat}")
    .webhook("incoming_rich_message_postback"),
    ToolSpec::write::<MarkEventsAsSeen, Empty>(
        AREA,
        "mark_events_as_seen",
        "Mark a chat's events as seen",
    )
    .check("get_chat")
    .idempotent()
    .scopes(READ_SCOPES)
    .names(&[Names::Chat("chat_id")])
    .said("marked", "mark", "the events of {chat} as seen")
    .webhook("events_marked_as_seen"),
    ToolSpec::write::<SendTypingIndicator, Empty>(
        AREA,
        "send_typing_indicator",
        "Show or hide that you are typing",
    )
    .idempotent()
    .scopes(WRITE_SCOPES)
    .names(&[Names::Chat("chat_id")])
    .said("sent", "send", "a typing indicator to {chat}"),
    ToolSpec::write::<SendThinkingIndicator, Empty>(
        AREA,
        "send_thinking_indicator",
        "Show that an answer is being prepared",
    )
    .scopes(WRITE_SCOPES)
    .versions(&[ApiVersion::V3_6])
    .names(&[Names::Chat("chat_id")])
    .said("sent", "send", "a thinking indicator to {chat}"),
    ToolSpec::write::<RequestThreadSummary, Empty>(
        AREA,
        "request_thread_summary",
        "Request a thread summary",
    )
    .check("get_chat")
    .scopes(WRITE_SCOPES)
    .versions(&[ApiVersion::V3_6])
    .names(&[Names::Chat("chat_id"), Names::Thread("thread_id")])
    .said("requested", "request", "a summary of {thread} of {chat}")
    .webhook("thread_summary_set"),
    // No read tool shows a multicast: LiveChat does not keep it.
    ToolSpec::write::<Multicast, Empty>(AREA, "multicast", "Message agents outside chats")
        .scopes(&["multicast:rw"])
        .names(&[])
        .said("sent", "send", "agents a message outside chats"),
    ToolSpec::write::<UploadFile, UploadFileResult>(AREA, "upload_file", "Upload a file")
        .form_file("file")
        .names(&[Names::File {
            name: "name",
            content_type: "content_type",
        }])
        .said("uploaded", "upload", "{file}")
        .webhook("incoming_event"),
];

/// Posts an event into a chat the requester is a user of, usually a `message`
/// (`visibility: agents` for an internal note). An inactive chat takes no events: resume it
/// with `resume_chat` first.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEvent {
    /// The chat to post into.
    pub chat_id: String,
    /// What to send, e.g. `{"type": "message", "text": "Hi"}`. The LiveChat app does not show
    /// `form` events.
    #[schemars(schema_with = "super::common::event_schema")]
    pub event: Event,
}

/// The sent event.
#[derive(Debug, JsonSchema)]
pub struct SendEventResult {
    /// The ID LiveChat gave the new event.
    pub event_id: Option<String>,
}

/// Shows the chat a provisional message text while the answer is still being written; it is
/// not saved, so send the final text with `send_event`.
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
    /// `message`.
    #[serde(rename = "type")]
    pub event_type: PreviewEventType,
    /// At most 16 KB of UTF-8.
    pub text: MessageText,
    /// `all` or left out.
    pub visibility: Option<PreviewVisibility>,
    /// Your own ID, echoed back.
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

/// Presses (or releases) a rich message button as the requester; bots and integrations get
/// it as a postback.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRichMessagePostback {
    /// The chat holding the rich message.
    pub chat_id: String,
    /// The thread holding the rich message.
    pub thread_id: String,
    /// The rich message event.
    pub event_id: String,
    /// The button, and whether it is now pressed.
    pub postback: Postback,
}

/// A button press on a rich message.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Postback {
    /// The button's `postback_id`.
    pub id: String,
    /// `true`: pressed; `false`: released.
    pub toggled: bool,
    /// The button's `type`.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub button_type: Option<String>,
    /// The button's `value`.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub button_value: Option<String>,
    /// For a product: `{product_id, option_id, quantity}`.
    #[serde(default)]
    #[schemars(extend("x-versions" = ["3.6"]), schema_with = "super::common::object")]
    pub ecommerce: Option<EcommercePostback>,
}

/// Marks the chat's events up to a time as seen by the requester, a user of the chat; the
/// customer's window shows them read.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkEventsAsSeen {
    /// The chat.
    pub chat_id: String,
    /// RFC 3339, e.g. `2026-11-25T10:00:00.000000Z`.
    pub seen_up_to: String,
}

/// Shows (`is_typing: true`) or hides the typing indicator in an active chat the requester is
/// a user of. Nothing is stored.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendTypingIndicator {
    /// The chat.
    pub chat_id: String,
    /// `true`: typing; `false`: stopped.
    pub is_typing: bool,
    /// Default `all`; `agents`: hidden from the customer.
    pub visibility: Option<Visibility>,
}

/// Shows that an answer is being prepared, with a title and a description, in an active chat
/// the requester is a user of. Nothing is stored.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendThinkingIndicator {
    /// The chat.
    pub chat_id: String,
    /// E.g. `Thinking...`.
    pub title: Option<String>,
    /// E.g. `Fetching data from the Billing API...`.
    pub description: Option<String>,
    /// Default `all`; `agents`: hidden from the customer.
    pub visibility: Option<Visibility>,
    /// Your own ID for the indicator.
    pub custom_id: Option<String>,
}

/// Asks LiveChat's AI to summarise a thread: the thread's `summary` in `get_chat`, and in an
/// active thread also a `system` event. An inactive thread can be summarised only once.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestThreadSummary {
    /// The chat.
    pub chat_id: String,
    /// The thread to summarise.
    pub thread_id: String,
}

/// Sends agents a JSON message outside any chat; it is not saved.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Multicast {
    /// `{agents: {all: bool, ids: [agent ID], groups: [int]}}`, at least one of the three.
    // Shown as a bare object to save context; serde checks the shape and names the bad field.
    #[schemars(schema_with = "super::common::object")]
    pub recipients: MulticastRecipients,
    /// Any JSON.
    #[serde(deserialize_with = "not_null")]
    pub content: Value,
    /// Your message kind.
    #[serde(rename = "type")]
    pub message_type: Option<String>,
}

/// The recipients of a multicast.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MulticastRecipients {
    /// Give at least one of `all`, `ids`, `groups`.
    pub agents: MulticastAgents,
}

/// Which agents get a multicast.
#[derive(Debug)]
pub struct MulticastAgents {
    /// `true`: every agent.
    pub all: Option<bool>,
    /// Agent IDs.
    pub ids: Option<Vec<String>>,
    /// Group IDs (integers).
    pub groups: Option<Vec<u32>>,
}

/// `MulticastAgents` as sent, before the at-least-one check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MulticastAgentsFields {
    all: Option<bool>,
    ids: Option<Vec<String>>,
    groups: Option<Vec<u32>>,
}

impl<'de> Deserialize<'de> for MulticastAgents {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let MulticastAgentsFields { all, ids, groups } =
            MulticastAgentsFields::deserialize(deserializer)?;
        if all.is_none() && ids.is_none() && groups.is_none() {
            return Err(serde::de::Error::custom(
                "name the agents: at least one of `all`, `ids` or `groups`",
            ));
        }
        Ok(MulticastAgents { all, ids, groups })
    }
}

/// Any JSON value but `null`, which the request body would drop.
fn not_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Err(serde::de::Error::custom("`content` cannot be null")),
        value => Ok(value),
    }
}

/// Uploads a file (at most 10 MB, no executables) for a `file` event: its `url` expires in
/// 24 hours unless sent with `send_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadFile {
    /// File name, e.g. `invoice.pdf`.
    pub name: String,
    /// MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// The file, base64.
    #[schemars(extend("x-required-without-upload-dir" = true))]
    pub content: Option<String>,
    /// Instead of `content`: a file in the upload directory, relative to it.
    #[schemars(extend("x-upload-dir" = true))]
    pub path: Option<String>,
}

/// The uploaded file.
#[derive(Debug, JsonSchema)]
pub struct UploadFileResult {
    /// The file's URL on LiveChat's CDN.
    pub url: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// The docs' recipients: `agents` with at least one of `all`, `ids`, `groups`; content any
    /// JSON but null. Anything else is refused before sending.
    #[test]
    fn a_multicast_names_its_agents_and_carries_content() {
        let spec = super::TOOLS
            .iter()
            .find(|s| s.name == "multicast")
            .expect("multicast");
        let docs = json!({"recipients": {"agents": {"all": true, "ids": ["smith@example.com"], "groups": [1, 2]}},
                          "content": {"example": {"nested": "json"}}});
        assert_eq!(spec.prepare(docs.clone()).unwrap(), docs);
        assert!(
            spec.prepare(
                json!({"recipients": {"agents": {"groups": [0]}}, "content": "hi", "type": "alert"})
            )
            .is_ok()
        );
        for (bad, says) in [
            (
                json!({"recipients": {"agents": {}}, "content": 1}),
                "`recipients.agents`: name the agents",
            ),
            (
                json!({"recipients": {}, "content": 1}),
                "`recipients.agents` is required",
            ),
            (
                json!({"recipients": {"customers": {"all": true}}, "content": 1}),
                "`recipients.customers` is not a field",
            ),
            (
                json!({"recipients": {"agents": {"all": true}}}),
                "`content` is required",
            ),
            (
                json!({"recipients": {"agents": {"all": true}}, "content": null}),
                "`content` cannot be null",
            ),
            (
                json!({"recipients": {"agents": {"groups": ["1"]}}, "content": 1}),
                "`recipients.agents.groups[0]`",
            ),
        ] {
            let err = spec.prepare(bad).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
