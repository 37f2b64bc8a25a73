//! Chats: list and read chats, threads and archives; start, resume and end chats; follow a
//! chat's updates.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{ChatAccess, ChatUser, Empty, Event, PropertyValues, Record, SortOrder},
    record::Names,
};

const AREA: Area = Area::Chats;
const READ_SCOPES: &[&str] = &["chats--all:ro", "chats--access:ro"];
const WRITE_SCOPES: &[&str] = &["chats--all:rw", "chats--access:rw"];

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::read::<ListChats, ListChatsResult>(AREA, "list_chats", "List chats")
        .customer_text()
        .scopes(READ_SCOPES)
        .names(&[])
        .said("listed", "list", "chats"),
    ToolSpec::read::<ListThreads, ListThreadsResult>(AREA, "list_threads", "List a chat's threads")
        .customer_text()
        .scopes(READ_SCOPES)
        .names(&[Names::Chat("chat_id")])
        .said("listed", "list", "the threads of {chat}"),
    ToolSpec::read::<GetChat, Record>(AREA, "get_chat", "Get a chat")
        .customer_text()
        .scopes(READ_SCOPES)
        .names(&[Names::Chat("chat_id"), Names::Thread("thread_id")])
        .said("read", "read", "[{thread} of ]{chat}"),
    ToolSpec::read::<ListArchives, ListArchivesResult>(
        AREA,
        "list_archives",
        "Search archived chats",
    )
    .customer_text()
    .scopes(READ_SCOPES)
    .names(&[Names::Customer("filters.customer_id")])
    .said("searched", "search", "the chat archives[ for {customer}]"),
    ToolSpec::write::<StartChat, StartChatResult>(AREA, "start_chat", "Start a chat")
        .check("list_chats")
        .scopes(WRITE_SCOPES)
        .names(&[
            Names::CustomerAmong("chat.users"),
            Names::Events("chat.thread.events"),
        ])
        .said("started", "start", "a chat[ with {customer}]")
        .webhook("incoming_chat"),
    ToolSpec::write::<ResumeChat, ResumeChatResult>(AREA, "resume_chat", "Resume an inactive chat")
        .check("get_chat")
        .scopes(WRITE_SCOPES)
        .names(&[
            Names::Chat("chat.id"),
            Names::CustomerAmong("chat.users"),
            Names::Events("chat.thread.events"),
        ])
        .said("resumed", "resume", "{chat}")
        .webhook("incoming_chat"),
    ToolSpec::write::<DeactivateChat, Empty>(AREA, "deactivate_chat", "End a chat")
        .check("get_chat")
        .destructive()
        .idempotent()
        .scopes(WRITE_SCOPES)
        .names(&[Names::Chat("id")])
        .said("ended", "end", "{chat}")
        .webhook("chat_deactivated"),
    ToolSpec::write::<FollowChat, Empty>(AREA, "follow_chat", "Follow a chat")
        .check("get_chat")
        .idempotent()
        .scopes(READ_SCOPES)
        .names(&[Names::Chat("id")])
        .said("followed", "follow", "{chat}"),
    // LiveChat's docs list no scope for it.
    ToolSpec::write::<UnfollowChat, Empty>(AREA, "unfollow_chat", "Unfollow a chat")
        .check("get_chat")
        .idempotent()
        .names(&[Names::Chat("id")])
        .said("unfollowed", "unfollow", "{chat}"),
];

/// Follows a chat one is not a user of: all its updates reach the requester until it is
/// unfollowed or resumed (`is_followed` in `get_chat`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowChat {
    /// Chat ID.
    pub id: String,
}

/// Stops following a chat; only key changes, like a transfer, still reach the requester. Its
/// users cannot unfollow it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnfollowChat {
    /// Chat ID.
    pub id: String,
}

/// Lists chats, newest first, with their last thread summarised. For the next page send only
/// `page_id`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChats {
    /// Later pages keep the first page's.
    pub filters: Option<ListChatsFilters>,
    /// Default `desc`.
    pub sort_order: Option<SortOrder>,
    /// Default 10.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// An answer's `next_page_id` or `previous_page_id`.
    pub page_id: Option<String>,
}

/// Filters for `list_chats`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChatsFilters {
    /// `false`: leave active chats out.
    #[schemars(extend("x-versions" = ["3.5"]))]
    pub include_active: Option<bool>,
    /// `true`: only active chats; `false`: only inactive; `null` or absent: both.
    #[schemars(extend("x-versions" = ["3.6"], "x-nullable" = true))]
    pub active: Option<bool>,
    /// `false`: skip chats without threads.
    pub include_chats_without_threads: Option<bool>,
    /// Group IDs.
    #[schemars(length(max = 200))]
    pub group_ids: Option<Vec<u32>>,
    /// namespace → name → `{values|exclude_values: [...]}` or `{exists: bool}`.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub properties: Option<BTreeMap<String, BTreeMap<String, PropertyFilter>>>,
}

/// A page of chats.
#[derive(Debug, JsonSchema)]
pub struct ListChatsResult {
    /// One summary per chat: its ID, users, last thread and last event.
    pub chats_summary: Option<Vec<Record>>,
    pub next_page_id: Option<String>,
    pub previous_page_id: Option<String>,
    /// An estimate of how many chats match.
    pub found_chats: Option<u64>,
}

/// Lists a chat's threads with their events, newest first. For the next page send only
/// `chat_id` and `page_id`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListThreads {
    /// The chat.
    pub chat_id: String,
    /// Default `desc`.
    pub sort_order: Option<SortOrder>,
    /// Threads per page, default 3.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// An answer's `next_page_id` or `previous_page_id`.
    pub page_id: Option<String>,
    /// Instead of `limit`/`filters`: enough threads for this many events.
    #[schemars(range(min = 1, max = 100))]
    pub min_events_count: Option<u32>,
    /// `{from, to}`: creation times, RFC 3339 e.g. `2026-11-25T10:00:00.000000Z`.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub filters: Option<TimeRange>,
}

/// A time window, as RFC 3339 date-times with microseconds.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// Start of the window.
    pub from: Option<String>,
    /// End of the window.
    pub to: Option<String>,
}

/// A page of threads.
#[derive(Debug, JsonSchema)]
pub struct ListThreadsResult {
    /// The threads, each with its events.
    pub threads: Option<Vec<Record>>,
    /// An estimate of how many threads the chat has.
    pub found_threads: Option<u64>,
    pub next_page_id: Option<String>,
    pub previous_page_id: Option<String>,
}

/// Returns a chat with one thread (the latest by default) and its events.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetChat {
    /// The chat.
    pub chat_id: String,
    /// The thread; default the latest.
    pub thread_id: Option<String>,
}

/// Searches archived and active chats, newest first. For the next page send only `page_id`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArchives {
    /// Value filters (`agents`, `tags`, `sales`, `goals`, `customer_countries`, properties)
    /// are `{values|exclude_values: [...], require_every_value}` or `{exists: bool}`;
    /// `groups` are `{values|exclude_values: [IDs]}`.
    pub filters: Option<ArchiveFilters>,
    /// An answer's `next_page_id` or `previous_page_id`.
    pub page_id: Option<String>,
    /// Default `desc`.
    pub sort_order: Option<SortOrder>,
    /// Default 10.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// Marks `filters.query` matches: `{}` (`<em>`) or `{pre_tag, post_tag}`.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub highlights: Option<Highlights>,
}

/// Filters for `list_archives`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveFilters {
    /// Full-text search.
    pub query: Option<String>,
    /// RFC 3339, e.g. `2026-01-31T10:00:00.000000Z`.
    pub from: Option<String>,
    /// Like `from`.
    pub to: Option<String>,
    /// Alone: no other filter, no paging.
    #[schemars(length(max = 20))]
    pub thread_ids: Option<Vec<String>>,
    /// Group IDs.
    #[schemars(length(max = 200))]
    pub group_ids: Option<Vec<u32>>,
    /// namespace → name → value filter.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub properties: Option<BTreeMap<String, BTreeMap<String, PropertyFilter>>>,
    /// Agent IDs; `{exists: false}`: unassigned.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub agents: Option<ValuesFilter>,
    /// Tag names.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub tags: Option<ValuesFilter>,
    /// Sales tracker IDs.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub sales: Option<ValuesFilter>,
    /// Goal IDs.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub goals: Option<ValuesFilter>,
    /// `[{type: pre_chat|post_chat, from, to, exists, values|exclude_values: [answer IDs],
    /// groups}]`.
    #[serde(default)]
    #[schemars(schema_with = "super::common::objects")]
    pub forms: Option<Vec<FormFilter>>,
    /// `{values|exclude_values: [types], require_every_value}`.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub event_types: Option<EventTypesFilter>,
    /// `{from, to, exists, values|exclude_values: [IDs], groups}`.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub greetings: Option<GreetingsFilter>,
    /// `{exists, first, agents: {values|exclude_values}, groups}`.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub agent_response: Option<AgentResponseFilter>,
    /// ISO 3166-1 alpha-2 codes.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub customer_countries: Option<ValuesFilter>,
    /// Chat IDs.
    #[schemars(extend("x-versions" = ["3.6"]), length(max = 1000))]
    pub chat_ids: Option<Vec<String>>,
    /// `{all_values|any_values|exclude_values: [human|chatbot|ai_agent]}`.
    #[serde(default)]
    #[schemars(extend("x-versions" = ["3.6"]), schema_with = "super::common::object")]
    pub agent_types: Option<AgentTypesFilter>,
    /// Customer ID.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub customer_id: Option<String>,
    /// Customer email.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub customer_email: Option<String>,
}

/// A value a filter compares with: a string, an integer or a boolean.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FilterValue {
    String(String),
    Integer(i64),
    Bool(bool),
}

/// A filter on a property: use exactly one of `exists`, `values` or `exclude_values`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertyFilter {
    /// `true`: the property must be set; `false`: it must not be.
    pub exists: Option<bool>,
    /// Match any of these values.
    pub values: Option<Vec<FilterValue>>,
    /// Match none of these values.
    pub exclude_values: Option<Vec<FilterValue>>,
}

/// A filter on a list of values: use exactly one of `exists`, `values` or `exclude_values`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValuesFilter {
    /// `true`: the chat must have some value; `false`: none.
    pub exists: Option<bool>,
    /// Match chats having any of these values.
    pub values: Option<Vec<FilterValue>>,
    /// Match chats having none of these values.
    pub exclude_values: Option<Vec<FilterValue>>,
    /// `true`: `values` / `exclude_values` apply only when the chat has every one of them.
    pub require_every_value: Option<bool>,
}

/// A filter on event types: use exactly one of `values` or `exclude_values`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTypesFilter {
    /// Chats with events of any of these types, e.g. `message`, `file`, `filled_form`.
    pub values: Option<Vec<String>>,
    /// Chats with no events of these types.
    pub exclude_values: Option<Vec<String>>,
    /// `true`: match only chats having every listed type.
    pub require_every_value: Option<bool>,
}

/// Group IDs to include or leave out.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupsFilter {
    /// Only these groups (integer IDs).
    pub values: Option<Vec<u32>>,
    /// Not these groups (integer IDs).
    pub exclude_values: Option<Vec<u32>>,
}

/// A filter on greetings shown to the customer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GreetingsFilter {
    /// Greetings shown after this RFC 3339 date-time (microseconds).
    pub from: Option<String>,
    /// Greetings shown before this RFC 3339 date-time (microseconds).
    pub to: Option<String>,
    /// `true`: a greeting was shown; `false`: none was.
    pub exists: Option<bool>,
    /// Any of these greeting IDs (integers).
    pub values: Option<Vec<i64>>,
    /// None of these greeting IDs (integers).
    pub exclude_values: Option<Vec<i64>>,
    /// Greetings of these groups.
    pub groups: Option<GroupsFilter>,
}

/// A filter on agents' responses.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentResponseFilter {
    /// `true`: an agent responded; `false`: none did.
    pub exists: Option<bool>,
    /// `true`: the other conditions look only at the agents' first response.
    pub first: Option<bool>,
    /// Responses by (or not by) these agents.
    pub agents: Option<AgentsFilter>,
    /// Responses in (or not in) these groups.
    pub groups: Option<GroupsFilter>,
}

/// Which agents an `agent_response` filter looks at.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentsFilter {
    /// Only responses by these agents (agent IDs).
    pub values: Option<Vec<String>>,
    /// Not responses by these agents.
    pub exclude_values: Option<Vec<String>>,
}

/// The kind of an agent taking part in a chat.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentType {
    Human,
    Chatbot,
    AiAgent,
}

/// A filter on the kinds of agents in a chat. Several keys may be combined, but each kind
/// may appear only once across them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentTypesFilter {
    /// Chats with agents of every one of these kinds.
    pub all_values: Option<Vec<AgentType>>,
    /// Chats with agents of any of these kinds.
    pub any_values: Option<Vec<AgentType>>,
    /// Chats with no agent of these kinds.
    pub exclude_values: Option<Vec<AgentType>>,
}

/// Which survey a form filter looks at.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormKind {
    PreChat,
    PostChat,
}

/// A filter on one survey (pre-chat or post-chat form) and its answers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormFilter {
    /// `pre_chat` or `post_chat`.
    #[serde(rename = "type")]
    pub form_type: Option<FormKind>,
    /// Surveys filled after this RFC 3339 date-time (microseconds).
    pub from: Option<String>,
    /// Surveys filled before this RFC 3339 date-time (microseconds).
    pub to: Option<String>,
    /// `true`: only chats with a filled survey.
    pub exists: Option<bool>,
    /// Any of these answer IDs.
    pub values: Option<Vec<String>>,
    /// None of these answer IDs.
    pub exclude_values: Option<Vec<String>>,
    /// Surveys of these groups.
    pub groups: Option<GroupsFilter>,
}

/// Highlighting of `filters.query` matches.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Highlights {
    /// The opening tag (default `<em>`).
    pub pre_tag: Option<String>,
    /// The closing tag (default `</em>`).
    pub post_tag: Option<String>,
}

/// A page of archived chats.
#[derive(Debug, JsonSchema)]
pub struct ListArchivesResult {
    /// The matching chats, each with the thread that matched.
    pub chats: Option<Vec<Record>>,
    /// An estimate of how many chats match.
    pub found_chats: Option<u64>,
    pub next_page_id: Option<String>,
    pub previous_page_id: Option<String>,
}

/// Starts a chat with the requester in it; put a customer in `chat.users` to talk to one.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartChat {
    /// The new chat.
    pub chat: Option<NewChat>,
    /// `false`: inactive thread.
    pub active: Option<bool>,
    /// `true`: continuous, no online group needed.
    pub continuous: Option<bool>,
}

/// A chat to start.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChat {
    /// namespace → name → value.
    pub properties: Option<PropertyValues>,
    /// `{group_ids}` that see it.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub access: Option<ChatAccess>,
    /// `[{id, type: agent|customer}]`, at most 4 agents and 1 customer.
    #[serde(default)]
    #[schemars(schema_with = "super::common::chat_users")]
    pub users: Option<Vec<ChatUser>>,
    /// The first thread.
    pub thread: Option<NewThread>,
}

/// A new thread's first events and properties.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewThread {
    /// Each like `send_event`'s `event`.
    #[serde(default)]
    #[schemars(schema_with = "super::common::event_list_schema")]
    pub events: Option<Vec<Event>>,
    /// namespace → name → value.
    pub properties: Option<PropertyValues>,
}

/// The new chat's IDs.
#[derive(Debug, JsonSchema)]
pub struct StartChatResult {
    pub chat_id: Option<String>,
    pub thread_id: Option<String>,
    /// IDs of the initial events, in order.
    pub event_ids: Option<Vec<String>>,
}

/// Reopens an inactive chat with a new thread.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeChat {
    /// The chat and its new thread.
    pub chat: ResumedChat,
    /// `false`: inactive thread.
    pub active: Option<bool>,
    /// Sets continuous mode.
    pub continuous: Option<bool>,
}

/// The chat to resume.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumedChat {
    /// The chat.
    pub id: String,
    /// `{group_ids}` that see it; default all.
    #[serde(default)]
    #[schemars(schema_with = "super::common::object")]
    pub access: Option<ChatAccess>,
    /// namespace → name → value.
    pub properties: Option<PropertyValues>,
    /// `[{id, type: agent|customer}]`, at most 4 agents and 1 customer.
    #[serde(default)]
    #[schemars(schema_with = "super::common::chat_users")]
    pub users: Option<Vec<ChatUser>>,
    /// The new thread.
    pub thread: Option<NewThread>,
}

/// The resumed chat's new thread.
#[derive(Debug, JsonSchema)]
pub struct ResumeChatResult {
    pub thread_id: Option<String>,
    /// IDs of the initial events, in order.
    pub event_ids: Option<Vec<String>>,
}

/// Ends a chat by closing its active thread; it can be resumed later.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateChat {
    /// The chat.
    pub id: String,
    /// `true`: the requester need not be in the chat.
    pub ignore_requester_presence: Option<bool>,
}
