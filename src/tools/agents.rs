//! Agents: create, read, list, update and delete the license's agents (Configuration API).

use schemars::JsonSchema;
use serde::Deserialize;

use super::{
    Area, ToolSpec,
    common::{Empty, Items, Record},
    record::Names,
};

const AREA: Area = Area::Agents;

pub const TOOLS: &[ToolSpec] = &[
    ToolSpec::write::<CreateAgent, CreateAgentResult>(AREA, "create_agent", "Create an agent")
        // Only for some arguments, so not required here: `accounts--all:rw` and
        // `subscription.lc:rw` for `awaiting_approval: false`, `accounts.roles.lc--all:rw` for
        // a role above `normal`.
        .scopes(&["accounts--all:rc"])
        .names(&[Names::Agent("id")])
        .said("created", "create", "{agent}")
        .webhook("agent_created"),
    ToolSpec::read::<GetAgent, GetAgentResult>(AREA, "get_agent", "Get an agent")
        .scopes(&["agents--my:ro", "agents--all:ro"])
        .names(&[Names::Agent("id")])
        .said("read", "read", "the profile of {agent}"),
    ToolSpec::read::<ListAgents, Items<Record>>(AREA, "list_agents", "List agents")
        .scopes(&["agents--all:ro"])
        .names(&[])
        .said("listed", "list", "agents"),
    ToolSpec::write::<UpdateAgent, Empty>(AREA, "update_agent", "Update an agent")
        .idempotent()
        // `agents--all:rw` for another agent, `accounts.roles.lc--all:rw` to change `role`.
        .scopes(&["agents--my:rw", "agents--all:rw"])
        .names(&[Names::Agent("id"), Names::ChangedFields])
        .said("updated", "update", "{agent}[ ({fields})]")
        .webhook("agent_updated"),
    ToolSpec::write::<DeleteAgent, Empty>(AREA, "delete_agent", "Delete an agent")
        .destructive()
        .idempotent()
        // Both `--all` scopes for another agent.
        .scopes_all(&[
            &["agents--my:rw", "agents--all:rw"],
            &["accounts--my:rw", "accounts--all:rw"],
        ])
        .names(&[Names::Agent("id")])
        .said("deleted", "delete", "{agent}")
        .webhook("agent_deleted"),
];

/// Adds a new agent to the license; the agent's ID is their email address. Roles above
/// `normal` need the `accounts.roles.lc--all:rw` scope. Configuration changes can take up to
/// 2 minutes to apply everywhere.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// The new agent's ID: their email address, e.g. `smith@example.com`.
    pub id: String,
    /// The agent's display name.
    pub name: String,
    /// `normal` (default), `administrator` or `viceowner`.
    pub role: Option<AgentRole>,
    /// URL of the agent's avatar image.
    #[schemars(extend("x-versions" = ["3.5"]))]
    pub avatar: Option<String>,
    /// Routing status right after the agent logs in (default `not accepting chats`).
    pub login_status: Option<LoginStatus>,
    /// The agent's job title.
    pub job_title: Option<String>,
    /// The agent's mobile phone number.
    pub mobile: Option<String>,
    /// How many chats the agent can handle at once, at most 20 (default 6).
    #[schemars(range(max = 20))]
    pub max_chats_count: Option<u32>,
    /// `true`: the agent waits for approval after creation. Only a requester with the
    /// private `subscription.lc:rw` scope may send `false`.
    pub awaiting_approval: Option<bool>,
    /// The groups the agent joins, each with a routing priority.
    pub groups: Option<Vec<GroupMembership>>,
    /// The app notifications to turn on for the agent.
    pub notifications: Option<Vec<Notification>>,
    /// The summary emails the agent receives.
    pub email_subscriptions: Option<Vec<EmailSubscription>>,
    /// The agent's working hours.
    pub work_scheduler: Option<WorkScheduler>,
}

/// An agent role that can be assigned through the API.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    Viceowner,
    Administrator,
    Normal,
}

/// An agent's status right after login.
#[derive(Debug, Deserialize, JsonSchema)]
pub enum LoginStatus {
    #[serde(rename = "accepting chats")]
    AcceptingChats,
    #[serde(rename = "not accepting chats")]
    NotAcceptingChats,
}

/// Membership in one group.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMembership {
    /// The group's ID (an integer).
    pub id: u32,
    /// Routing priority in this group: `first` gets chats before everyone (bots), `normal`
    /// next (primary), `last` only when the others are full (secondary), `supervisor` never
    /// gets chats automatically.
    pub priority: GroupPriority,
}

/// An agent's routing priority in a group.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupPriority {
    First,
    Normal,
    Last,
    Supervisor,
}

/// An agent notification that can be turned on.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Notification {
    NewVisitor,
    IncomingChat,
    ReturningVisitor,
    QueuedVisitor,
    VisitorIsTyping,
    NewGoal,
    UnassignedChats,
    UnassignedChatMessages,
    Ticket,
    InactiveNotifications,
    MuteAllSounds,
    RepeatSoundNotifications,
    TicketNotifications,
    IncomingMessageForFocusedChat,
}

/// A summary email.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailSubscription {
    DailySummary,
    WeeklySummary,
}

/// An agent's working hours.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkScheduler {
    /// IANA time zone of the hours, e.g. `Europe/Warsaw`; an empty string uses the agent's
    /// own time zone.
    pub timezone: String,
    /// The working-hour ranges; a day may have several.
    pub schedule: Vec<WorkingHours>,
}

/// One range of working hours on one day.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    /// The weekday, lowercase: `monday` … `sunday`.
    pub day: Weekday,
    /// `false` keeps the range but switches it off.
    pub enabled: bool,
    /// Start time, 24-hour `HH:MM`, e.g. `08:00`.
    pub start: String,
    /// End time, 24-hour `HH:MM`, e.g. `16:30`.
    pub end: String,
}

/// A day of the week.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

/// The new agent's ID.
#[derive(Debug, JsonSchema)]
pub struct CreateAgentResult {
    pub id: Option<String>,
}

/// Returns one agent: ID, account ID, name, avatar, role and login status, plus any extra
/// details named in `fields` (groups, working hours, limits, suspension, last logout, ...).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetAgent {
    /// The agent's ID (their email address).
    pub id: String,
    /// Extra details to include beyond the basic ones.
    pub fields: Option<Vec<AgentField>>,
}

/// An optional agent detail that `get_agent` and `list_agents` can include.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentField {
    WorkScheduler,
    Groups,
    EmailSubscriptions,
    Notifications,
    JobTitle,
    Mobile,
    MaxChatsCount,
    Suspended,
    AwaitingApproval,
    LastLogout,
}

/// An agent. The fields past `login_status` appear only when asked for in `fields`.
#[derive(Debug, JsonSchema)]
pub struct GetAgentResult {
    /// The agent's ID (email address).
    pub id: Option<String>,
    /// The agent's account ID (a UUID).
    pub account_id: Option<String>,
    pub name: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// `owner`, `viceowner`, `administrator` or `normal`.
    pub role: Option<String>,
    /// Status right after login: `accepting chats` or `not accepting chats`.
    pub login_status: Option<String>,
    pub job_title: Option<String>,
    pub mobile: Option<String>,
    /// Most chats the agent handles at once.
    pub max_chats_count: Option<u32>,
    pub suspended: Option<bool>,
    pub awaiting_approval: Option<bool>,
    /// Group memberships: `{id, priority}`.
    pub groups: Option<Vec<Record>>,
    pub notifications: Option<Vec<String>>,
    pub email_subscriptions: Option<Vec<String>>,
    /// Working hours: `timezone` and `schedule`.
    pub work_scheduler: Option<Record>,
    /// When the agent last logged out (RFC 3339); absent if never.
    pub last_logout: Option<String>,
}

/// Lists the license's agents (not bots) as `items`, each with ID, account ID, name, role,
/// login status and the extra details named in `fields`; optionally only some groups or only
/// (un)suspended agents.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAgents {
    /// Which agents to list; default: all.
    pub filters: Option<ListAgentsFilters>,
    /// Extra details to include for every agent.
    pub fields: Option<Vec<AgentField>>,
}

/// Filters for `list_agents`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAgentsFilters {
    /// Only agents in these groups (integer group IDs).
    pub group_ids: Option<Vec<u32>>,
    /// `true`: only suspended agents; `false`: only active ones; absent: both.
    pub suspended: Option<bool>,
}

/// Changes an agent's settings: role, login status, job title, chat limit, groups,
/// notifications, emails, working hours (name and avatar on API 3.5 only). Fields left out
/// stay as they are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    /// The agent's ID (their email address).
    pub id: String,
    /// The agent's display name.
    #[schemars(extend("x-versions" = ["3.5"]))]
    pub name: Option<String>,
    /// `normal`, `administrator` or `viceowner`; changing it needs the
    /// `accounts.roles.lc--all:rw` scope.
    pub role: Option<AgentRole>,
    /// URL of the agent's avatar image.
    #[schemars(extend("x-versions" = ["3.5"]))]
    pub avatar: Option<String>,
    /// Routing status right after the agent logs in.
    pub login_status: Option<LoginStatus>,
    /// The agent's job title.
    pub job_title: Option<String>,
    /// The agent's mobile phone number.
    pub mobile: Option<String>,
    /// How many chats the agent can handle at once, at most 20.
    #[schemars(range(max = 20))]
    pub max_chats_count: Option<u32>,
    /// The agent's groups, each with a routing priority; send the full list.
    pub groups: Option<Vec<GroupMembership>>,
    /// The app notifications that should be on; send the full list.
    pub notifications: Option<Vec<Notification>>,
    /// The summary emails the agent should receive; send the full list.
    pub email_subscriptions: Option<Vec<EmailSubscription>>,
    /// The agent's working hours.
    pub work_scheduler: Option<WorkScheduler>,
}

/// Deletes an agent from the license for good, by ID (their email address); this cannot be
/// undone.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAgent {
    /// The ID (email address) of the agent to delete.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use super::TOOLS;
    use crate::version::ApiVersion;

    fn fields(tool: &str, version: ApiVersion) -> Vec<String> {
        let spec = TOOLS.iter().find(|s| s.name == tool).expect("tool");
        let schema = spec.input_schema(version);
        schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn name_and_avatar_are_3_5_only() {
        for tool in ["create_agent", "update_agent"] {
            let v36 = fields(tool, ApiVersion::V3_6);
            assert!(!v36.contains(&"avatar".to_string()), "{tool}");
            assert!(
                fields(tool, ApiVersion::V3_5).contains(&"avatar".to_string()),
                "{tool}"
            );
        }
        assert!(fields("update_agent", ApiVersion::V3_5).contains(&"name".to_string()));
        assert!(!fields("update_agent", ApiVersion::V3_6).contains(&"name".to_string()));
        assert!(fields("create_agent", ApiVersion::V3_6).contains(&"name".to_string()));
    }
}
