//! The license the sandbox holds, as data. The same types are the JSON scenario format that
//! `--sandbox-seed` reads: a scenario is a license snapshot.
//!
//! Timestamps are RFC 3339 strings; the seed loader rewrites them to the canonical UTC form
//! (`2026-03-02T09:30:00.000000Z`) so they compare as strings.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Custom property values: namespace → name → value.
pub type Props = BTreeMap<String, BTreeMap<String, Value>>;

/// A whole license: what the sandbox starts from.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The agent the sandbox token acts as; must be a (non-bot) agent below.
    pub requester: String,
    /// The sandbox clock: every new timestamp is this plus one second per step.
    pub now: String,
    #[serde(default)]
    pub agents: Vec<Agent>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub properties: Vec<Property>,
    #[serde(default)]
    pub customers: Vec<Customer>,
    #[serde(default)]
    pub chats: Vec<Chat>,
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// The license's property values (namespace → name → value), for properties with
    /// `license` access.
    #[serde(default, skip_serializing_if = "Props::is_empty")]
    pub license_properties: Props,
    /// Client IDs whose license webhooks are disabled (`disable_license_webhooks`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub license_webhooks_disabled: BTreeSet<String>,
}

fn yes() -> bool {
    true
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn role_normal() -> String {
    "normal".into()
}
fn six() -> u32 {
    6
}
fn one() -> u32 {
    1
}
fn not_accepting() -> String {
    "not accepting chats".into()
}
fn offline() -> String {
    "offline".into()
}
fn english() -> String {
    "en".into()
}
fn all() -> String {
    "all".into()
}

/// An agent or a bot. Group membership lives in the groups' `agent_priorities`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// An email for agents; a 32-hex ID for bots.
    pub id: String,
    pub name: String,
    /// `owner`, `viceowner`, `administrator` or `normal`.
    #[serde(default = "role_normal")]
    pub role: String,
    /// A bot: not listed by `list_agents`, may be `offline` in routing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bot: bool,
    /// Generated from the ID when empty.
    #[serde(default)]
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    #[serde(default = "six")]
    pub max_chats_count: u32,
    /// `accepting chats` or `not accepting chats`: the status right after login.
    #[serde(default = "not_accepting")]
    pub login_status: String,
    /// `accepting_chats`, `not_accepting_chats` or `offline`: the current routing status.
    #[serde(default = "offline")]
    pub routing_status: String,
    #[serde(default)]
    pub notifications: Vec<String>,
    #[serde(default)]
    pub email_subscriptions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_scheduler: Option<Value>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspended: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub awaiting_approval: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_logout: Option<String>,
    /// A bot's owning app (`owner_client_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_client_id: Option<String>,
    /// A bot's secret, for `issue_bot_token`; a seeded bot without one cannot get a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// A bot's priority in groups that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_group_priority: Option<String>,
    /// A bot's custom category (`type`, v3.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_type: Option<String>,
    /// Who created a bot through the API: `list_bots` without `all` lists only the
    /// requester's bots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// A group; group 0 ("General") always exists.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub id: u32,
    pub name: String,
    #[serde(default = "english")]
    pub language_code: String,
    /// Agent ID → `first`, `normal`, `last` or `supervisor`.
    #[serde(default)]
    pub agent_priorities: BTreeMap<String, String>,
    /// The group's property values, for properties with `group` access.
    #[serde(default, skip_serializing_if = "Props::is_empty")]
    pub properties: Props,
}

/// A tag defined on the license.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub name: String,
    #[serde(default)]
    pub group_ids: Vec<u32>,
    #[serde(default)]
    pub author_id: String,
    pub created_at: String,
}

/// A registered property. Its namespace is `owner_client_id`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Property {
    pub name: String,
    pub owner_client_id: String,
    /// `int`, `bool`, `string` or `tokenized_string`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Location (`chat`, `thread`, `event`, `license`, `group`) → user (`agent`,
    /// `customer`) → `read`/`write`.
    pub access: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Value>,
    /// What `publish_property` granted to other clients (`read`, `write`); empty: private.
    /// The sandbox token reads and writes only published properties.
    #[serde(default)]
    pub public_access: Vec<String>,
}

/// An integer property's allowed range.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub from: i64,
    pub to: i64,
}

/// A customer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// A UUID v4.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub session_fields: Vec<Value>,
    /// The last visit: `started_at`, `ended_at`, `referrer`, `ip`, `user_agent`,
    /// `geolocation` (with `country_code`), `last_pages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omnichannel: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Value>,
    #[serde(default = "one")]
    pub visits_count: u32,
    /// Set by `ban_customer`: the customer cannot be in new chats until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned_until: Option<String>,
    /// When the ban was made, for `list_customer_bans`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned_at: Option<String>,
    /// The agent who made the ban, for `list_customer_bans`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned_by: Option<String>,
}

/// Which groups may see a chat or thread; group 0 means every agent.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Access {
    #[serde(default)]
    pub group_ids: Vec<u32>,
}

impl Default for Access {
    fn default() -> Access {
        Access { group_ids: vec![0] }
    }
}

/// A chat, with its threads oldest first. The chat is active when its last thread is.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chat {
    pub id: String,
    #[serde(default)]
    pub users: Vec<ChatUser>,
    #[serde(default)]
    pub access: Access,
    #[serde(default)]
    pub properties: Props,
    #[serde(default)]
    pub threads: Vec<Thread>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_followed: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub continuous: bool,
}

impl Chat {
    pub fn is_active(&self) -> bool {
        self.threads.last().is_some_and(|t| t.active)
    }

    pub fn user(&self, id: &str) -> Option<&ChatUser> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn customer(&self) -> Option<&ChatUser> {
        self.users.iter().find(|u| u.kind == "customer")
    }

    pub fn thread_index(&self, id: &str) -> Option<usize> {
        self.threads.iter().position(|t| t.id == id)
    }
}

/// A user of a chat; `present: false` once removed or transferred away.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatUser {
    pub id: String,
    /// `agent` or `customer`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default = "yes")]
    pub present: bool,
    #[serde(default = "all")]
    pub visibility: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_seen_up_to: Option<String>,
}

/// A thread and its events. Events are LiveChat event objects; each has `id` (the thread ID,
/// `_`, a number) and `created_at`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thread {
    pub id: String,
    pub created_at: String,
    #[serde(default)]
    pub active: bool,
    /// Users who took part; defaults to the chat's users.
    #[serde(default)]
    pub user_ids: Vec<String>,
    #[serde(default)]
    pub events: Vec<Map<String, Value>>,
    #[serde(default)]
    pub properties: Props,
    /// Defaults to the chat's access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The last summary `request_thread_summary` made (v3.6): `{status, text, updated_at}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
}

impl Thread {
    pub fn event_index(&self, id: &str) -> Option<usize> {
        self.events
            .iter()
            .position(|e| e.get("id").and_then(Value::as_str) == Some(id))
    }
}

/// A registered webhook.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub description: String,
    pub action: String,
    pub secret_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Value>,
    #[serde(default)]
    pub additional_data: Vec<String>,
    pub owner_client_id: String,
    /// `bot` or `license`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The API version it was registered with, whose payload shapes it gets (`3.5` or
    /// `3.6`); a scenario's webhooks without one get 3.6's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}
