//! Chats: list and read chats, threads and archives; start, resume and end chats.

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
        .scopes(READ_SCOPES)
        .names(&[])
        .said("listed", "list", "chats"),
    ToolSpec::read::<ListThreads, ListThreadsResult>(AREA, "list_threads", "List a chat's threads")
        .scopes(READ_SCOPES)
        .names(&[Names::Chat("chat_id")])
        .said("listed", "list", "the threads of {chat}"),
    ToolSpec::read::<GetChat, Record>(AREA, "get_chat", "Get a chat")
        .scopes(READ_SCOPES)
        .names(&[Names::Chat("chat_id"), Names::Thread("thread_id")])
        .said("read", "read", "[{thread} of ]{chat}"),
    ToolSpec::read::<ListArchives, ListArchivesResult>(
        AREA,
        "list_archives",
        "Search archived chats",
    )
    .scopes(READ_SCOPES)
    .names(&[Names::Customer("filters.customer_id")])
    .said("searched", "search", "the chat archives[ for {customer}]"),
    ToolSpec::write::<StartChat, StartChatResult>(AREA, "start_chat", "Start a chat")
        .scopes(WRITE_SCOPES)
        .names(&[
            Names::CustomerAmong("chat.users"),
            Names::Events("chat.thread.events"),
        ])
        .said("started", "start", "a chat[ with {customer}]")
        .webhook("incoming_chat"),
    ToolSpec::write::<ResumeChat, ResumeChatResult>(AREA, "resume_chat", "Resume an inactive chat")
        .scopes(WRITE_SCOPES)
        .names(&[
            Names::Chat("chat.id"),
            Names::CustomerAmong("chat.users"),
            Names::Events("chat.thread.events"),
        ])
        .said("resumed", "resume", "{chat}")
        .webhook("incoming_chat"),
    ToolSpec::write::<DeactivateChat, Empty>(AREA, "deactivate_chat", "End a chat")
        .destructive()
        .idempotent()
        .scopes(WRITE_SCOPES)
        .names(&[Names::Chat("id")])
        .said("ended", "end", "{chat}")
        .webhook("chat_deactivated"),
];

/// Lists chats on the license, newest first, with their last thread summarised. Use `filters`
/// on the first page; to get the next page send only `page_id` (from `next_page_id`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChats {
    /// Which chats to list. Not allowed together with `page_id`: the first page's filters are
    /// kept for the following pages.
    pub filters: Option<ListChatsFilters>,
    /// `desc` (default): newest first; `asc`: oldest first. Not allowed with `page_id`.
    pub sort_order: Option<SortOrder>,
    /// Chats per page, 1–100 (default 10). Not allowed with `page_id`.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// The `next_page_id` or `previous_page_id` of an earlier answer; send it alone.
    pub page_id: Option<String>,
}

/// Filters for `list_chats`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChatsFilters {
    /// `false` leaves active chats out (default `true`).
    #[schemars(extend("x-versions" = ["3.5"]))]
    pub include_active: Option<bool>,
    /// `true`: only active chats; `false`: only inactive ones; absent or `null`: both.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub active: Option<bool>,
    /// `false` leaves out chats that have no thread yet (default `true`).
    pub include_chats_without_threads: Option<bool>,
    /// Only chats in these groups (integer group IDs, at most 200).
    #[schemars(length(max = 200))]
    pub group_ids: Option<Vec<u32>>,
    /// Property filters: namespace → property name → filter.
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

/// Lists the threads of one chat, newest first, with their events. Use `limit` or
/// `min_events_count` (not both); follow `next_page_id` with `page_id` alone.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListThreads {
    /// The chat whose threads to list.
    pub chat_id: String,
    /// `desc` (default): newest first; `asc`: oldest first.
    pub sort_order: Option<SortOrder>,
    /// Threads per page, 1–100 (default 3).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// The `next_page_id` or `previous_page_id` of an earlier answer.
    pub page_id: Option<String>,
    /// Return at least this many events in total (1–100), across as many threads as needed.
    /// Not allowed together with `limit` or `filters`.
    #[schemars(range(min = 1, max = 100))]
    pub min_events_count: Option<u32>,
    /// Only threads created in this time window.
    pub filters: Option<TimeRange>,
}

/// A time window, as RFC 3339 date-times with microseconds
/// (`2026-11-25T10:00:00.000000+00:00`).
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

/// Returns one chat with one of its threads (the latest by default) and that thread's
/// events: the conversation as the agent sees it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetChat {
    /// The chat to read.
    pub chat_id: String,
    /// The thread to include; default: the latest one.
    pub thread_id: Option<String>,
}

/// Searches archived (and active) chats by text, time, agents, tags, groups and more, newest
/// first. Follow `next_page_id` with `page_id` alone.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArchives {
    /// What to search for. Not allowed together with `page_id`.
    pub filters: Option<ArchiveFilters>,
    /// The `next_page_id` or `previous_page_id` of an earlier answer; send it alone.
    pub page_id: Option<String>,
    /// `desc` (default): newest first; `asc`: oldest first.
    pub sort_order: Option<SortOrder>,
    /// Chats per page, 1–100 (default 10).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// Mark where `filters.query` matched; send `{}` for the default `<em>` tags.
    pub highlights: Option<Highlights>,
}

/// Filters for `list_archives`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveFilters {
    /// Full-text search in the chats' events.
    pub query: Option<String>,
    /// Only chats after this RFC 3339 date-time (microseconds).
    pub from: Option<String>,
    /// Only chats before this RFC 3339 date-time (microseconds).
    pub to: Option<String>,
    /// Exactly these threads (at most 20); not combinable with other filters or paging.
    #[schemars(length(max = 20))]
    pub thread_ids: Option<Vec<String>>,
    /// Only chats in these groups (integer group IDs, at most 200).
    #[schemars(length(max = 200))]
    pub group_ids: Option<Vec<u32>>,
    /// Property filters: namespace → property name → filter.
    pub properties: Option<BTreeMap<String, BTreeMap<String, PropertyFilter>>>,
    /// Agent filter: `{"values": ["agent@example.com"]}`, or `{"exists": false}` for
    /// unassigned chats.
    pub agents: Option<ValuesFilter>,
    /// Tag filter, e.g. `{"values": ["complaint"]}`.
    pub tags: Option<ValuesFilter>,
    /// Sales tracker filter.
    pub sales: Option<ValuesFilter>,
    /// Goal filter.
    pub goals: Option<ValuesFilter>,
    /// Survey filters, one per form, e.g. `[{"type": "pre_chat", "exists": true}]`.
    pub forms: Option<Vec<FormFilter>>,
    /// Event type filter, e.g. `{"values": ["file"]}`.
    pub event_types: Option<EventTypesFilter>,
    /// Greeting filter.
    pub greetings: Option<GreetingsFilter>,
    /// Agent response filter, e.g. `{"exists": true}` or `{"first": true, "agents":
    /// {"values": ["agent@example.com"]}}`.
    pub agent_response: Option<AgentResponseFilter>,
    /// Customer country filter, ISO 3166-1 alpha-2 codes, e.g. `{"values": ["PL"]}`.
    pub customer_countries: Option<ValuesFilter>,
    /// Only these chats (at most 1000 IDs).
    #[schemars(extend("x-versions" = ["3.6"]), length(max = 1000))]
    pub chat_ids: Option<Vec<String>>,
    /// Agent type filter, e.g. `{"any_values": ["chatbot", "ai_agent"]}` for chats a bot
    /// took part in.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub agent_types: Option<AgentTypesFilter>,
    /// Only chats of this customer.
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub customer_id: Option<String>,
    /// Only chats of the customer with this email.
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

/// Starts a new chat, optionally with other users and first events; the requester joins it.
/// A customer must be among `chat.users` for a conversation with a customer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartChat {
    /// The chat to create: users, access, properties and the first thread.
    pub chat: Option<NewChat>,
    /// `false` creates the chat with an inactive thread (default `true`).
    pub active: Option<bool>,
    /// `true` starts it as continuous: no online group needed (default `false`).
    pub continuous: Option<bool>,
}

/// A chat to start.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChat {
    /// Chat properties, namespace → name → value.
    pub properties: Option<PropertyValues>,
    /// Which groups can see the chat.
    pub access: Option<ChatAccess>,
    /// Existing users to add: up to 4 agents besides the requester and 1 customer.
    #[schemars(length(max = 5))]
    pub users: Option<Vec<ChatUser>>,
    /// The first thread.
    pub thread: Option<NewThread>,
}

/// A new thread's first events and properties.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewThread {
    /// Initial events, e.g. `[{"type": "message", "text": "Hi"}]`; each shaped like
    /// `send_event`'s `event`.
    #[schemars(schema_with = "super::common::event_list_schema")]
    pub events: Option<Vec<Event>>,
    /// Thread properties, namespace → name → value.
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

/// Reopens an inactive chat with a new thread, optionally with first events.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeChat {
    /// The chat to resume (`chat.id`), and what its new thread starts with.
    pub chat: ResumedChat,
    /// `false` resumes it with an inactive thread (default `true`).
    pub active: Option<bool>,
    /// `true`/`false` sets continuous mode; absent leaves it as it is.
    pub continuous: Option<bool>,
}

/// The chat to resume.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumedChat {
    /// The ID of the chat to resume.
    pub id: String,
    /// Which groups can see the chat (default: all agents).
    pub access: Option<ChatAccess>,
    /// Chat properties to set, namespace → name → value.
    pub properties: Option<PropertyValues>,
    /// Existing users to add: up to 4 agents besides the requester and 1 customer.
    #[schemars(length(max = 5))]
    pub users: Option<Vec<ChatUser>>,
    /// The new thread's first events and properties.
    pub thread: Option<NewThread>,
}

/// The resumed chat's new thread.
#[derive(Debug, JsonSchema)]
pub struct ResumeChatResult {
    pub thread_id: Option<String>,
    /// IDs of the initial events, in order.
    pub event_ids: Option<Vec<String>>,
}

/// Ends a chat: closes its active thread for everyone. The chat stays readable and can be
/// resumed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateChat {
    /// The chat to end (note: `id`, not `chat_id`).
    pub id: String,
    /// `true`: the requester need not be a user of the chat (default `false`).
    pub ignore_requester_presence: Option<bool>,
}
