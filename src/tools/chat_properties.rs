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
        .idempotent()
        .scopes(WRITE_SCOPES)
        .names(THREAD_TAG)
        .said("tagged", "tag", "{thread} of {chat}[ with {tag}]")
        .webhook("thread_tagged"),
    ToolSpec::write::<UntagThread, Empty>(AREA, "untag_thread", "Remove a tag from a thread")
        .destructive()
        .idempotent()
        .scopes(WRITE_SCOPES)
        .names(THREAD_TAG)
        .said("removed", "remove", "{tag} from {thread} of {chat}")
        .webhook("thread_untagged"),
];

/// Sets custom properties on a whole chat; other properties are left as they are. The chat is
/// identified by `id` (not `chat_id`); each property must already exist on the license
/// (built in, like `routing`, or made with `register_property`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChatProperties {
    /// The chat to change (note: `id`, not `chat_id`).
    pub id: String,
    /// The values to set, namespace → property name → value, e.g.
    /// `{"routing": {"pinned": true}}`.
    pub properties: PropertyValues,
}

/// Removes custom properties from a whole chat. The chat is identified by `id` (not
/// `chat_id`); name the properties per namespace, without values.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteChatProperties {
    /// The chat to change (note: `id`, not `chat_id`).
    pub id: String,
    /// The properties to remove, namespace → property names, e.g. `{"routing": ["pinned"]}`.
    pub properties: PropertyNames,
}

/// Sets custom properties on one thread of a chat; other properties are left as they are.
/// Each property must already be registered on the license.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateThreadProperties {
    /// The chat the thread belongs to.
    pub chat_id: String,
    /// The thread to change.
    pub thread_id: String,
    /// The values to set, namespace → property name → value.
    pub properties: PropertyValues,
}

/// Removes custom properties from one thread of a chat; name the properties per namespace,
/// without values.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteThreadProperties {
    /// The chat the thread belongs to.
    pub chat_id: String,
    /// The thread to change.
    pub thread_id: String,
    /// The properties to remove, namespace → property names.
    pub properties: PropertyNames,
}

/// Sets custom properties on one event of a thread, such as a message; other properties are
/// left as they are. Each property must already be registered on the license.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEventProperties {
    /// The chat the event belongs to.
    pub chat_id: String,
    /// The thread the event belongs to.
    pub thread_id: String,
    /// The event to change.
    pub event_id: String,
    /// The values to set, namespace → property name → value.
    pub properties: PropertyValues,
}

/// Removes custom properties from one event of a thread; name the properties per namespace,
/// without values.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteEventProperties {
    /// The chat the event belongs to.
    pub chat_id: String,
    /// The thread the event belongs to.
    pub thread_id: String,
    /// The event to change.
    pub event_id: String,
    /// The properties to remove, namespace → property names.
    pub properties: PropertyNames,
}

/// Adds a tag to one thread of a chat (tags belong to threads, not chats). The tag must
/// already exist on the license (see `list_tags`); its name is case-sensitive.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagThread {
    /// The chat the thread belongs to.
    pub chat_id: String,
    /// The thread to tag.
    pub thread_id: String,
    /// The tag's name, exactly as defined (case-sensitive).
    pub tag: String,
}

/// Removes a tag from one thread of a chat. The tag itself stays defined on the license.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UntagThread {
    /// The chat the thread belongs to.
    pub chat_id: String,
    /// The thread to untag.
    pub thread_id: String,
    /// The tag's name, exactly as on the thread (case-sensitive).
    pub tag: String,
}
