//! Chat properties: set and delete custom properties on chats, threads and events, and tag
//! or untag threads.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{Empty, PropertyNames, PropertyValues},
    record::Names,
};

const AREA: Area = Area::ChatProperties;
const WRITE_SCOPES: &[&str] = &["chats--all:rw", "chats--access:rw"];

const EVENT_PROPS: &[Names] = &[
    Names::Chat("chat_id"),
    Names::Thread("thread_id"),
    Names::Event("event_id"),
    Names::PropertyNames("properties"),
];
const THREAD_PROPS: &[Names] = &[
    Names::Chat("chat_id"),
    Names::Thread("thread_id"),
    Names::PropertyNames("properties"),
];
const THREAD_TAG: &[Names] = &[
    Names::Chat("chat_id"),
    Names::Thread("thread_id"),
    Names::Tag("tag"),
];

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::write::<UpdateChatProperties, Empty>(
        AREA,
        "update_chat_properties",
        "Set chat properties",
    )
    .check("get_chat")
    .idempotent()
    .scopes(WRITE_SCOPES)
    .names(&[Names::Chat("id"), Names::PropertyNames("properties")])
    .said("set", "set", "properties of {chat}[ ({fields})]")
    .webhook("chat_properties_updated"),
    ToolSpec::write::<DeleteChatProperties, Empty>(
        AREA,
        "delete_chat_properties",
        "Delete chat properties",
    )
    .check("get_chat")
    .destructive()
    .idempotent()
    .scopes(WRITE_SCOPES)
    .names(&[Names::Chat("id"), Names::PropertyNames("properties")])
    .said("deleted", "delete", "properties of {chat}[ ({fields})]")
    .webhook("chat_properties_deleted"),
    ToolSpec::write::<UpdateThreadProperties, Empty>(
        AREA,
        "update_thread_properties",
        "Set thread properties",
    )
    .check("get_chat")
    .idempotent()
    .scopes(WRITE_SCOPES)
    .names(THREAD_PROPS)
    .said(
        "set",
        "set",
        "properties of {thread} of {chat}[ ({fields})]",
    )
    .webhook("thread_properties_updated"),
    ToolSpec::write::<DeleteThreadProperties, Empty>(
        AREA,
        "delete_thread_properties",
        "Delete thread properties",
    )
    .check("get_chat")
    .destructive()
    .idempotent()
    .scopes(WRITE_SCOPES)
    .names(THREAD_PROPS)
    .said(
        "deleted",
        "delete",
        "properties of {thread} of {chat}[ ({fields})]",
    )
    .webhook("thread_properties_deleted"),
    ToolSpec::write::<UpdateEventProperties, Empty>(
        AREA,
        "update_event_properties",
        "Set event properties",
    )
    .check("get_chat")
    .idempotent()
    .scopes(WRITE_SCOPES)
    .names(EVENT_PROPS)
    .said("set", "set", "properties of {event} in {chat}[ ({fields})]")
    .webhook("event_properties_updated"),
    ToolSpec::write::<DeleteEventProperties, Empty>(
        AREA,
        "delete_event_properties",
        "Delete event properties",
    )
    .check("get_chat")
    .destructive()
    .idempotent()
    .scopes(WRITE_SCOPES)
    .names(EVENT_PROPS)
    .said(
        "deleted",
        "delete",
        "properties of {event} in {chat}[ ({fields})]",
    )
    .webhook("event_properties_deleted"),
    ToolSpec::write::<TagThread, Empty>(AREA, "tag_thread", "Tag a thread")
        .check("get_chat")
        .idempotent()
        .scopes(WRITE_SCOPES)
        .names(THREAD_TAG)
        .said("tagged", "tag", "{thread} of {chat}[ with {tag}]")
        .webhook("thread_tagged"),
    ToolSpec::write::<UntagThread, Empty>(AREA, "untag_thread", "Remove a tag from a thread")
        .check("get_chat")
        .destructive()
        .idempotent()
        .scopes(WRITE_SCOPES)
        .names(THREAD_TAG)
        .said("removed", "remove", "{tag} from {thread} of {chat}")
        .webhook("thread_untagged"),
];

/// Sets registered properties on a chat; others stay.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChatProperties {
    /// Chat ID.
    pub id: String,
    /// Namespace → name → value, e.g. `{"routing": {"pinned": true}}`.
    pub properties: PropertyValues,
}

/// Removes properties from a chat.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteChatProperties {
    /// Chat ID.
    pub id: String,
    /// Namespace → names, e.g. `{"routing": ["pinned"]}`.
    pub properties: PropertyNames,
}

/// Sets registered properties on a thread; others stay.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateThreadProperties {
    /// Chat ID.
    pub chat_id: String,
    /// Thread ID.
    pub thread_id: String,
    /// Namespace → name → value.
    pub properties: PropertyValues,
}

/// Removes properties from a thread.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteThreadProperties {
    /// Chat ID.
    pub chat_id: String,
    /// Thread ID.
    pub thread_id: String,
    /// Namespace → names.
    pub properties: PropertyNames,
}

/// Sets registered properties on an event; others stay.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEventProperties {
    /// Chat ID.
    pub chat_id: String,
    /// Thread ID.
    pub thread_id: String,
    /// Event ID.
    pub event_id: String,
    /// Namespace → name → value.
    pub properties: PropertyValues,
}

/// Removes properties from an event.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteEventProperties {
    /// Chat ID.
    pub chat_id: String,
    /// Thread ID.
    pub thread_id: String,
    /// Event ID.
    pub event_id: String,
    /// Namespace → names.
    pub properties: PropertyNames,
}

/// Tags a thread with a tag from `list_tags`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagThread {
    /// Chat ID.
    pub chat_id: String,
    /// Thread ID.
    pub thread_id: String,
    /// Tag name, case-sensitive.
    pub tag: String,
}

/// Removes a tag from a thread; the tag stays defined.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UntagThread {
    /// Chat ID.
    pub chat_id: String,
    /// Thread ID.
    pub thread_id: String,
    /// Tag name, case-sensitive.
    pub tag: String,
}
