//! The 45 LiveChat methods the sandbox emulates: their API, versions, scopes (any one
//! suffices) and top-level request fields. A field marked `@3.5` or `@3.6` exists only in that
//! version; other top-level fields are a `validation` error.

use crate::{tools::Api, version::ApiVersion};

/// One emulated method.
#[derive(Debug)]
pub struct Method {
    pub name: &'static str,
    pub api: Api,
    pub versions: &'static [ApiVersion],
    pub scopes: &'static [&'static str],
    pub fields: &'static [&'static str],
}

impl Method {
    /// Whether `field` is a top-level request field in `version`.
    pub fn accepts(&self, field: &str, version: ApiVersion) -> bool {
        self.fields.iter().any(|f| match f.split_once('@') {
            Some((name, v)) => name == field && v == version.as_str(),
            None => *f == field,
        })
    }

    /// The version other than `version` in which `field` exists, if any.
    pub fn other_version_of(&self, field: &str) -> Option<&'static str> {
        self.fields.iter().find_map(|f| match f.split_once('@') {
            Some((name, v)) if name == field => Some(v),
            _ => None,
        })
    }

    /// The top-level fields of `version`, for messages.
    pub fn field_names(&self, version: ApiVersion) -> Vec<&'static str> {
        self.fields
            .iter()
            .filter_map(|f| match f.split_once('@') {
                Some((name, v)) if v == version.as_str() => Some(name),
                Some(_) => None,
                None => Some(*f),
            })
            .collect()
    }
}

const BOTH: &[ApiVersion] = &ApiVersion::ALL;
const V36: &[ApiVersion] = &[ApiVersion::V3_6];
const CHATS_RO: &[&str] = &["chats--all:ro", "chats--access:ro"];
const CHATS_RW: &[&str] = &["chats--all:rw", "chats--access:rw"];
const AGENT: Api = Api::Agent;
const CONFIG: Api = Api::Configuration;

const fn m(
    name: &'static str,
    api: Api,
    scopes: &'static [&'static str],
    fields: &'static [&'static str],
) -> Method {
    Method {
        name,
        api,
        versions: BOTH,
        scopes,
        fields,
    }
}

/// Every emulated method.
pub const METHODS: &[Method] = &[
    // Chats
    m(
        "list_chats",
        AGENT,
        CHATS_RO,
        &["filters", "sort_order", "limit", "page_id"],
    ),
    m(
        "list_threads",
        AGENT,
        CHATS_RO,
        &[
            "chat_id",
            "sort_order",
            "limit",
            "page_id",
            "min_events_count",
            "filters",
        ],
    ),
    m("get_chat", AGENT, CHATS_RO, &["chat_id", "thread_id"]),
    m(
        "list_archives",
        AGENT,
        CHATS_RO,
        &["filters", "page_id", "sort_order", "limit", "highlights"],
    ),
    m(
        "start_chat",
        AGENT,
        CHATS_RW,
        &["chat", "active", "continuous"],
    ),
    m(
        "resume_chat",
        AGENT,
        CHATS_RW,
        &["chat", "active", "continuous"],
    ),
    m(
        "deactivate_chat",
        AGENT,
        CHATS_RW,
        &["id", "ignore_requester_presence"],
    ),
    // Chat access
    m(
        "transfer_chat",
        AGENT,
        CHATS_RW,
        &[
            "id",
            "target",
            "ignore_agents_availability",
            "ignore_requester_presence",
        ],
    ),
    m(
        "add_user_to_chat",
        AGENT,
        CHATS_RW,
        &[
            "chat_id",
            "user_id",
            "user_type",
            "visibility",
            "ignore_requester_presence",
        ],
    ),
    m(
        "remove_user_from_chat",
        AGENT,
        CHATS_RW,
        &[
            "chat_id",
            "user_id",
            "user_type",
            "ignore_requester_presence",
        ],
    ),
    // Events
    m(
        "send_event",
        AGENT,
        CHATS_RW,
        &["chat_id", "event", "attach_to_last_thread"],
    ),
    m(
        "send_rich_message_postback",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "event_id", "postback"],
    ),
    Method {
        name: "send_event_preview",
        api: AGENT,
        versions: V36,
        scopes: CHATS_RW,
        fields: &["chat_id", "event"],
    },
    // Chat properties and thread tags
    m(
        "update_chat_properties",
        AGENT,
        CHATS_RW,
        &["id", "properties"],
    ),
    m(
        "delete_chat_properties",
        AGENT,
        CHATS_RW,
        &["id", "properties"],
    ),
    m(
        "update_thread_properties",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "properties"],
    ),
    m(
        "delete_thread_properties",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "properties"],
    ),
    m(
        "update_event_properties",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "event_id", "properties"],
    ),
    m(
        "delete_event_properties",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "event_id", "properties"],
    ),
    m(
        "tag_thread",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "tag"],
    ),
    m(
        "untag_thread",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "tag"],
    ),
    // Customers
    m("get_customer", AGENT, &["customers:ro"], &["id"]),
    m(
        "update_customer",
        AGENT,
        &["customers:rw"],
        &[
            "id",
            "name",
            "email",
            "avatar",
            "session_fields",
            "phone_number@3.6",
            "omnichannel@3.6",
            "address@3.6",
        ],
    ),
    m("ban_customer", AGENT, &["customers.ban:rw"], &["id", "ban"]),
    // Routing
    m(
        "set_routing_status",
        AGENT,
        &[
            "agents--my:rw",
            "agents--all:rw",
            "agents-bot--my:rw",
            "agents-bot--all:rw",
        ],
        &["status", "agent_id"],
    ),
    m(
        "list_routing_statuses",
        AGENT,
        &["agents--all:ro", "agents-bot--all:ro"],
        &["filters"],
    ),
    // Agents
    m(
        "create_agent",
        CONFIG,
        &[
            "accounts--all:rc",
            "accounts--all:rw",
            "subscription.lc:rw",
            "accounts.roles.lc--all:rw",
        ],
        &[
            "id",
            "name",
            "awaiting_approval",
            "role",
            "avatar_path",
            "job_title",
            "mobile",
            "max_chats_count",
            "groups",
            "notifications",
            "email_subscriptions",
            "work_scheduler",
            "login_status",
            "avatar@3.5",
        ],
    ),
    m(
        "get_agent",
        CONFIG,
        &["agents--my:ro", "agents--all:ro"],
        &["id", "fields"],
    ),
    m(
        "list_agents",
        CONFIG,
        &["agents--all:ro"],
        &["filters", "fields"],
    ),
    m(
        "update_agent",
        CONFIG,
        &[
            "agents--my:rw",
            "agents--all:rw",
            "accounts.roles.lc--all:rw",
        ],
        &[
            "id",
            "name@3.5",
            "role",
            "avatar_path",
            "job_title",
            "mobile",
            "max_chats_count",
            "groups",
            "notifications",
            "email_subscriptions",
            "work_scheduler",
            "login_status",
            "avatar@3.5",
        ],
    ),
    m(
        "delete_agent",
        CONFIG,
        &[
            "agents--my:rw",
            "accounts--my:rw",
            "agents--all:rw",
            "accounts--all:rw",
        ],
        &["id"],
    ),
    // Groups
    m(
        "create_group",
        CONFIG,
        &["groups--all:rw"],
        &["name", "language_code", "agent_priorities"],
    ),
    m(
        "update_group",
        CONFIG,
        &["groups--my:rw", "groups--all:rw"],
        &["id", "name", "language_code", "agent_priorities"],
    ),
    m(
        "delete_group",
        CONFIG,
        &["groups--my:rw", "groups--all:rw"],
        &["id"],
    ),
    m("list_groups", CONFIG, &["groups--all:ro"], &["fields"]),
    m(
        "get_group",
        CONFIG,
        &["groups--my:ro", "groups--all:ro"],
        &["id", "fields"],
    ),
    // Tags and properties
    m(
        "register_property",
        CONFIG,
        &["properties.configuration:rw"],
        &[
            "name",
            "owner_client_id",
            "type",
            "access",
            "description",
            "domain",
            "range",
            "default_value",
        ],
    ),
    m(
        "publish_property",
        CONFIG,
        &["properties.configuration:rw"],
        &["name", "owner_client_id", "access_type"],
    ),
    m(
        "create_tag",
        CONFIG,
        &["tags--all:rw", "tags--groups:rw"],
        &["name", "group_ids"],
    ),
    m(
        "delete_tag",
        CONFIG,
        &["tags--all:rw", "tags--groups:rw"],
        &["name"],
    ),
    m(
        "list_tags",
        CONFIG,
        &["tags--all:ro", "tags--groups:ro"],
        &["filters"],
    ),
    m(
        "update_tag",
        CONFIG,
        &["tags--all:rw", "tags--groups:rw"],
        &["name", "group_ids"],
    ),
    // Webhooks
    m(
        "register_webhook",
        CONFIG,
        &["webhooks.configuration:rw"],
        &[
            "action",
            "secret_key",
            "url",
            "additional_data",
            "description",
            "filters",
            "owner_client_id",
            "type",
        ],
    ),
    m(
        "list_webhooks",
        CONFIG,
        &["webhooks.configuration:rw"],
        &["owner_client_id"],
    ),
    m(
        "unregister_webhook",
        CONFIG,
        &["webhooks.configuration:rw"],
        &["id", "owner_client_id"],
    ),
];

/// The method called `name`, in any API.
pub fn find(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_five_methods_with_scopes() {
        assert_eq!(METHODS.len(), 45);
        assert!(METHODS.iter().all(|m| !m.scopes.is_empty()));
        let mut names: Vec<_> = METHODS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 45);
        let customer = find("update_customer").unwrap();
        assert!(customer.accepts("phone_number", ApiVersion::V3_6));
        assert!(!customer.accepts("phone_number", ApiVersion::V3_5));
        assert_eq!(customer.other_version_of("phone_number"), Some("3.6"));
    }
}
