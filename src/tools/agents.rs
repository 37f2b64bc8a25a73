//! Agents and bots: create, read, list, update, suspend, unsuspend and delete the license's
//! agents and bots (Configuration API).

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
        .check("get_agent")
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
        .check("get_agent")
        .idempotent()
        // `agents--all:rw` for another agent, `accounts.roles.lc--all:rw` to change `role`.
        .scopes(&["agents--my:rw", "agents--all:rw"])
        .names(&[Names::Agent("id"), Names::ChangedFields])
        .said("updated", "update", "{agent}[ ({fields})]")
        .webhook("agent_updated"),
    ToolSpec::write::<DeleteAgent, Empty>(AREA, "delete_agent", "Delete an agent")
        .check("get_agent")
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
    // A created bot is found by `list_bots`: its ID is in the answer, not the arguments.
    ToolSpec::write::<CreateBot, CreateBotResult>(AREA, "create_bot", "Create a bot")
        .check("list_bots")
        .scopes(&["agents-bot--my:rw"])
        .names(&[])
        .said("created", "create", "a bot")
        .webhook("bot_created")
        .secrets(&["secret"]),
    ToolSpec::read::<GetBot, GetBotResult>(AREA, "get_bot", "Get a bot")
        .scopes(&["agents-bot--my:ro", "agents-bot--all:ro"])
        .names(&[Names::Agent("id")])
        .said("read", "read", "the profile of {bot}"),
    ToolSpec::read::<ListBots, Items<Record>>(AREA, "list_bots", "List bots")
        .scopes(&["agents-bot--my:ro", "agents-bot--all:ro"])
        .names(&[])
        .said("listed", "list", "bots"),
    ToolSpec::write::<UpdateBot, Empty>(AREA, "update_bot", "Update a bot")
        .check("get_bot")
        .idempotent()
        // `agents-bot--all:rw` for another app's bot.
        .scopes(&["agents-bot--my:rw", "agents-bot--all:rw"])
        .names(&[Names::Agent("id"), Names::ChangedFields])
        .said("updated", "update", "{bot}[ ({fields})]")
        .webhook("bot_updated"),
    ToolSpec::write::<DeleteBot, Empty>(AREA, "delete_bot", "Delete a bot")
        .check("get_bot")
        .destructive()
        .idempotent()
        // `agents-bot--all:rw` for another app's bot.
        .scopes(&["agents-bot--my:rw", "agents-bot--all:rw"])
        .names(&[Names::Agent("id")])
        .said("deleted", "delete", "{bot}")
        .webhook("bot_deleted"),
    ToolSpec::write::<SuspendAgent, Empty>(AREA, "suspend_agent", "Suspend an agent")
        .check("get_agent")
        .destructive()
        .idempotent()
        // `sessions--all:rw` is private: not available in the Developer Console.
        .scopes_all(&[&["agents--all:rw"], &["sessions--all:rw"]])
        .names(&[Names::Agent("id")])
        .said("suspended", "suspend", "{agent}")
        .webhook("agent_suspended"),
    ToolSpec::write::<UnsuspendAgent, Empty>(AREA, "unsuspend_agent", "Unsuspend an agent")
        .check("get_agent")
        .idempotent()
        // `subscription.lc:rw` is private: not available in the Developer Console.
        .scopes_all(&[
            &["agents--all:rw"],
            &["accounts--all:rw"],
            &["subscription.lc:rw"],
        ])
        .names(&[Names::Agent("id")])
        .said("unsuspended", "unsuspend", "{agent}")
        .webhook("agent_unsuspended"),
];

/// Adds an agent to the license. Changes can take 2 minutes to apply everywhere.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// Email address.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Default `normal`.
    pub role: Option<AgentRole>,
    /// Avatar URL.
    #[schemars(extend("x-versions" = ["3.5"]))]
    pub avatar: Option<String>,
    /// Status after login; default `not accepting chats`.
    pub login_status: Option<LoginStatus>,
    /// Job title.
    pub job_title: Option<String>,
    /// Mobile phone.
    pub mobile: Option<String>,
    /// Concurrent chats; default 6.
    #[schemars(range(max = 20))]
    pub max_chats_count: Option<u32>,
    /// Wait for approval; `false` needs the `subscription.lc:rw` scope.
    pub awaiting_approval: Option<bool>,
    /// Groups to join.
    pub groups: Option<Vec<GroupMembership>>,
    /// App notifications to turn on.
    pub notifications: Option<Vec<Notification>>,
    /// Summary emails.
    pub email_subscriptions: Option<Vec<EmailSubscription>>,
    /// Working hours: `{timezone, schedule: [{day, enabled, start, end}]}`; `day` a lowercase
    /// weekday, times `HH:MM`, `timezone` IANA or empty for the agent's own.
    // Shown as a bare object to save context; serde checks the shape and names the bad field.
    #[schemars(with = "Option<Record>")]
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
    /// Group ID.
    pub id: u32,
    /// `first` gets chats before `normal`, `last` after; `supervisor` none.
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
    /// IANA zone, e.g. `Europe/Warsaw`; empty: the agent's own.
    pub timezone: String,
    /// Ranges; a day may have several.
    pub schedule: Vec<WorkingHours>,
}

/// One range of working hours on one day.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    /// Weekday.
    pub day: Weekday,
    /// `false` switches the range off.
    pub enabled: bool,
    /// `HH:MM`, 24-hour.
    pub start: String,
    /// `HH:MM`, 24-hour.
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

/// Returns an agent's profile, plus the details named in `fields`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetAgent {
    /// Email address.
    pub id: String,
    /// Extra details to include.
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

/// An agent. Only the fields always present are listed; those named in the request's
/// `fields` come too, as LiveChat sends them.
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
}

/// Lists the license's agents (not bots).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAgents {
    /// Default: all agents.
    pub filters: Option<ListAgentsFilters>,
    /// Extra details to include.
    pub fields: Option<Vec<AgentField>>,
}

/// Filters for `list_agents`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAgentsFilters {
    /// Only these groups.
    pub group_ids: Option<Vec<u32>>,
    /// Only suspended (`true`) or active (`false`) agents.
    pub suspended: Option<bool>,
}

/// Changes an agent's settings; fields left out stay as they are, lists are replaced whole.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    /// Email address.
    pub id: String,
    /// Display name.
    #[schemars(extend("x-versions" = ["3.5"]))]
    pub name: Option<String>,
    /// Changing it needs the `accounts.roles.lc--all:rw` scope.
    pub role: Option<AgentRole>,
    /// Avatar URL.
    #[schemars(extend("x-versions" = ["3.5"]))]
    pub avatar: Option<String>,
    /// Status after login.
    pub login_status: Option<LoginStatus>,
    /// Job title.
    pub job_title: Option<String>,
    /// Mobile phone.
    pub mobile: Option<String>,
    /// Concurrent chats.
    #[schemars(range(max = 20))]
    pub max_chats_count: Option<u32>,
    /// All the agent's groups.
    pub groups: Option<Vec<GroupMembership>>,
    /// All app notifications to have on.
    pub notifications: Option<Vec<Notification>>,
    /// All summary emails to receive.
    pub email_subscriptions: Option<Vec<EmailSubscription>>,
    /// Working hours: `{timezone, schedule: [{day, enabled, start, end}]}`; `day` a lowercase
    /// weekday, times `HH:MM`, `timezone` IANA or empty for the agent's own.
    // Shown as a bare object to save context; serde checks the shape and names the bad field.
    #[schemars(with = "Option<Record>")]
    pub work_scheduler: Option<WorkScheduler>,
}

/// Deletes an agent from the license for good.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAgent {
    /// Email address.
    pub id: String,
}

/// Creates a bot (an agent of type bot); it gets chats once its routing status is set. The
/// bot's `secret` is not returned: the answer shows `[redacted]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBot {
    /// Display name.
    pub name: String,
    /// Client ID of the app that owns the bot.
    pub owner_client_id: String,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Concurrent chats; default 6.
    #[schemars(range(max = 500))]
    pub max_chats_count: Option<u32>,
    /// Priority in groups that set none.
    pub default_group_priority: Option<GroupPriority>,
    /// Job title.
    pub job_title: Option<String>,
    /// Groups to join.
    pub groups: Option<Vec<GroupMembership>>,
    /// Custom category; default `chatbot`.
    #[serde(rename = "type")]
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub kind: Option<String>,
    /// Working hours, as in `create_agent`.
    #[schemars(with = "Option<Record>")]
    pub work_scheduler: Option<WorkScheduler>,
}

/// The new bot's ID; its secret is withheld.
#[derive(Debug, JsonSchema)]
pub struct CreateBotResult {
    pub id: Option<String>,
    /// Always `[redacted]`.
    pub secret: Option<String>,
}

/// Returns a bot's profile, plus the details named in `fields`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetBot {
    /// Bot ID.
    pub id: String,
    /// Extra details to include.
    pub fields: Option<Vec<BotField>>,
}

/// An optional bot detail that `get_bot` and `list_bots` can include.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BotField {
    Groups,
    WorkScheduler,
    JobTitle,
    MaxChatsCount,
    Timezone,
}

/// A bot. Only the fields always present are listed; those named in the request's `fields`
/// come too, as LiveChat sends them.
#[derive(Debug, JsonSchema)]
pub struct GetBotResult {
    pub id: Option<String>,
    pub name: Option<String>,
    /// Avatar URL (`avatar` in 3.5).
    pub avatar_path: Option<String>,
    pub default_group_priority: Option<String>,
    pub owner_client_id: Option<String>,
    pub max_chats_count: Option<u32>,
}

/// Lists bots: by default only those of the caller's app.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBots {
    /// `true`: every bot of the license.
    pub all: Option<bool>,
    /// Extra details to include.
    pub fields: Option<Vec<BotField>>,
}

/// Changes a bot's settings; fields left out stay as they are, lists are replaced whole.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBot {
    /// Bot ID.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Concurrent chats.
    #[schemars(range(max = 500))]
    pub max_chats_count: Option<u32>,
    /// All the bot's groups.
    pub groups: Option<Vec<GroupMembership>>,
    /// Priority in groups that set none.
    pub default_group_priority: Option<GroupPriority>,
    /// Job title.
    pub job_title: Option<String>,
    /// Custom category.
    #[serde(rename = "type")]
    #[schemars(extend("x-versions" = ["3.6"]))]
    pub kind: Option<String>,
    /// Working hours, as in `create_agent`.
    #[schemars(with = "Option<Record>")]
    pub work_scheduler: Option<WorkScheduler>,
}

/// Deletes a bot from the license for good.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteBot {
    /// Bot ID.
    pub id: String,
}

/// Suspends an agent until unsuspended: no chats are routed to them. Not yet public at
/// LiveChat; needs private scopes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendAgent {
    /// Email address.
    pub id: String,
}

/// Lifts an agent's suspension. Not yet public at LiveChat; needs private scopes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsuspendAgent {
    /// Email address.
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

    #[test]
    fn bot_type_is_3_6_only() {
        for tool in ["create_bot", "update_bot"] {
            assert!(
                fields(tool, ApiVersion::V3_6).contains(&"type".to_string()),
                "{tool}"
            );
            assert!(
                !fields(tool, ApiVersion::V3_5).contains(&"type".to_string()),
                "{tool}"
            );
        }
    }

    #[test]
    fn create_bot_answers_have_their_secret_redacted() {
        let spec = TOOLS.iter().find(|s| s.name == "create_bot").expect("tool");
        let answer = spec.redact(serde_json::json!({"id": "b1", "secret": "s3cr3t"}));
        assert_eq!(
            answer,
            serde_json::json!({"id": "b1", "secret": "[redacted]"})
        );
        let get = TOOLS.iter().find(|s| s.name == "get_bot").expect("tool");
        let answer = get.redact(serde_json::json!({"id": "b1", "secret": "kept"}));
        assert_eq!(answer["secret"], "kept", "only declared tools redact");
    }

    /// `work_scheduler` is shown as a bare object, so its shape is the typed request's to check.
    #[test]
    fn work_scheduler_shape_is_still_checked() {
        let spec = TOOLS
            .iter()
            .find(|s| s.name == "update_agent")
            .expect("tool");
        let hours = |day: &str| {
            serde_json::json!({"id": "a@example.com", "work_scheduler": {"timezone": "",
                "schedule": [{"day": day, "enabled": true, "start": "08:00", "end": "16:00"}]}})
        };
        assert!(spec.prepare(hours("monday")).is_ok());
        let err = spec.prepare(hours("mon")).unwrap_err();
        assert!(err.contains("`work_scheduler.schedule[0].day`"), "{err}");
        let extra = serde_json::json!({"id": "a", "work_scheduler": {"timezone": "", "schedule": [],
            "hours": 8}});
        let err = spec.prepare(extra).unwrap_err();
        assert!(
            err.contains("`work_scheduler.hours` is not a field"),
            "{err}"
        );
    }
}
