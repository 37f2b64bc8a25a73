//! The LiveChat methods the sandbox emulates, one row each: API, versions, required scopes,
//! top-level request fields and the handler that runs it. A field marked `@3.5` or `@3.6`
//! exists only in that version; other top-level fields are a `validation` error. These are the
//! sandbox's own facts, kept apart from `crate::tools` so it cannot share our tools' mistakes.

use serde_json::Value;

use super::{
    error::{LcError, LcResult},
    multipart::Form,
    params::Obj,
    state::State,
    webhooks::{self as wh, Call},
};
use crate::{scopes::Requirement, tools::Api, version::ApiVersion};

/// Runs one method on a state whose version, scopes and top-level fields are checked.
pub type Handler = fn(&mut State, ApiVersion, &Obj<'_>) -> LcResult<Value>;

/// Runs a method that takes a `multipart/form-data` form, on a state whose version and scopes
/// are checked.
pub type FormHandler = fn(&mut State, ApiVersion, &Form) -> LcResult<Value>;

/// One emulated method.
#[derive(Debug)]
pub struct Method {
    pub name: &'static str,
    pub api: Api,
    pub versions: &'static [ApiVersion],
    /// What every call needs; scopes that only some arguments need are checked by the handler.
    pub scopes: Requirement,
    pub fields: &'static [&'static str],
    pub handler: Handler,
    /// For a method that takes a form rather than JSON (`upload_file`): its handler.
    pub form: Option<FormHandler>,
    /// The webhook action a successful call makes LiveChat send, and its payload.
    pub webhook: Option<Webhook>,
}

/// A webhook action and how its `payload` is rendered from a call that succeeded, in the
/// version the receiving webhook was registered with; `None` when this call sends none.
#[derive(Debug)]
pub struct Webhook {
    pub action: &'static str,
    pub payload: Render,
    /// The RTM push LiveChat sends the logged-in agents for the same change.
    pub push: Push,
}

/// An RTM push: which one (the docs' "rtm-pushes" page of each version; "Pushes and webhooks
/// have similar payloads") and who may see it. Unlike a webhook it needs no registration: it
/// goes to every agent logged in on the RTM API whose access covers it.
#[derive(Clone, Copy, Debug)]
pub struct Push {
    pub kind: PushKind,
    pub seen_by: SeenBy,
}

/// How a push relates to the webhook of the same change.
#[derive(Clone, Copy, Debug)]
pub enum PushKind {
    /// The webhook's action and payload.
    Same,
    /// The webhook's action, with a payload of its own.
    Render(Render),
    /// Another action and payload (`update_customer`: the `customer_updated` push).
    As(&'static str, Render),
}

/// Whose RTM connection gets a push, by what `login` says each scope brings: `chats--access:ro`
/// pushes about chats in the agent's groups (`chats--all:ro`: every chat), `customers:ro`
/// about customers, `agents--all:ro` about agents, `agents-bot--all:ro` about bots. The
/// license's groups, tags and routing statuses go to every agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeenBy {
    Chat,
    Customers,
    Agents,
    Bots,
    Everyone,
}

impl Webhook {
    /// A webhook whose push is the same, seen by those who may see its chat.
    pub const fn new(action: &'static str, payload: Render) -> Webhook {
        Webhook {
            action,
            payload,
            push: Push {
                kind: PushKind::Same,
                seen_by: SeenBy::Chat,
            },
        }
    }
}

/// Renders a webhook payload from the state after a call, the call's body and its answer.
pub type Render = fn(&State, ApiVersion, &Call<'_>) -> Option<Value>;

impl Method {
    /// The same method, making LiveChat send `action` with the payload `payload` renders.
    const fn emits(self, action: &'static str, payload: Render) -> Method {
        Method {
            webhook: Some(Webhook::new(action, payload)),
            ..self
        }
    }

    /// The same method, whose push goes to those `seen_by` names.
    const fn seen_by(mut self, seen_by: SeenBy) -> Method {
        if let Some(w) = &mut self.webhook {
            w.push.seen_by = seen_by;
        }
        self
    }

    /// The same method, whose push is `kind`.
    const fn pushes(mut self, kind: PushKind) -> Method {
        if let Some(w) = &mut self.webhook {
            w.push.kind = kind;
        }
        self
    }

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
const V35: &[ApiVersion] = &[ApiVersion::V3_5];
const V36: &[ApiVersion] = &[ApiVersion::V3_6];
const CHATS_RO: Requirement = Requirement::any_of(&["chats--all:ro", "chats--access:ro"]);
const CHATS_RW: Requirement = Requirement::any_of(&["chats--all:rw", "chats--access:rw"]);
const NONE: Requirement = Requirement::NONE;
const AGENT: Api = Api::Agent;
const CONFIG: Api = Api::Configuration;

const fn any(scopes: &'static [&'static str]) -> Requirement {
    Requirement::any_of(scopes)
}

const fn m(
    name: &'static str,
    api: Api,
    scopes: Requirement,
    fields: &'static [&'static str],
    handler: Handler,
) -> Method {
    Method {
        name,
        api,
        versions: BOTH,
        scopes,
        fields,
        handler,
        form: None,
        webhook: None,
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
        |s, v, b| s.list_chats(v, b),
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
        |s, v, b| s.list_threads(v, b),
    ),
    m(
        "get_chat",
        AGENT,
        CHATS_RO,
        &["chat_id", "thread_id"],
        |s, v, b| s.get_chat(v, b),
    ),
    m(
        "list_archives",
        AGENT,
        CHATS_RO,
        &["filters", "page_id", "sort_order", "limit", "highlights"],
        |s, v, b| s.list_archives(v, b),
    ),
    m(
        "start_chat",
        AGENT,
        CHATS_RW,
        &["chat", "active", "continuous"],
        |s, v, b| s.start_chat(v, b),
    )
    .emits("incoming_chat", wh::incoming_chat)
    .pushes(PushKind::Render(wh::incoming_chat_push)),
    m(
        "resume_chat",
        AGENT,
        CHATS_RW,
        &["chat", "active", "continuous"],
        |s, v, b| s.resume_chat(v, b),
    )
    .emits("incoming_chat", wh::incoming_chat)
    .pushes(PushKind::Render(wh::incoming_chat_push)),
    m(
        "deactivate_chat",
        AGENT,
        CHATS_RW,
        &["id", "ignore_requester_presence"],
        |s, _, b| s.deactivate_chat(b),
    )
    .emits("chat_deactivated", wh::chat_deactivated),
    m("follow_chat", AGENT, CHATS_RO, &["id"], |s, _, b| {
        s.follow_chat(b)
    }),
    // The docs name no scope.
    m("unfollow_chat", AGENT, NONE, &["id"], |s, _, b| {
        s.unfollow_chat(b)
    }),
    // Chat access
    // The docs name no scope.
    m(
        "list_agents_for_transfer",
        AGENT,
        NONE,
        &["chat_id"],
        |s, _, b| s.list_agents_for_transfer(b),
    ),
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
        |s, _, b| s.transfer_chat(b),
    )
    .emits("chat_transferred", wh::chat_transferred),
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
        |s, _, b| s.add_user_to_chat(b),
    )
    .emits("user_added_to_chat", wh::user_added_to_chat),
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
        |s, _, b| s.remove_user_from_chat(b),
    )
    .emits("user_removed_from_chat", wh::user_removed_from_chat),
    // Events
    m(
        "send_event",
        AGENT,
        CHATS_RW,
        &["chat_id", "event"],
        |s, v, b| s.send_event(v, b),
    )
    .emits("incoming_event", wh::incoming_event),
    m(
        "send_rich_message_postback",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "event_id", "postback"],
        |s, v, b| s.send_rich_message_postback(v, b),
    )
    .emits(
        "incoming_rich_message_postback",
        wh::incoming_rich_message_postback,
    ),
    Method {
        name: "send_event_preview",
        api: AGENT,
        versions: V36,
        scopes: CHATS_RW,
        fields: &["chat_id", "event"],
        handler: |s, _, b| s.send_event_preview(b),
        form: None,
        webhook: None,
    },
    m(
        "mark_events_as_seen",
        AGENT,
        CHATS_RO,
        &["chat_id", "seen_up_to"],
        |s, _, b| s.mark_events_as_seen(b),
    )
    .emits("events_marked_as_seen", wh::events_marked_as_seen),
    m(
        "send_typing_indicator",
        AGENT,
        CHATS_RW,
        &["chat_id", "visibility", "is_typing"],
        |s, _, b| s.send_typing_indicator(b),
    ),
    Method {
        name: "send_thinking_indicator",
        api: AGENT,
        versions: V36,
        scopes: CHATS_RW,
        fields: &["chat_id", "title", "description", "visibility", "custom_id"],
        handler: |s, _, b| s.send_thinking_indicator(b),
        form: None,
        webhook: None,
    },
    Method {
        name: "request_thread_summary",
        api: AGENT,
        versions: V36,
        scopes: CHATS_RW,
        fields: &["chat_id", "thread_id"],
        handler: |s, _, b| s.request_thread_summary(b),
        form: None,
        webhook: None,
    }
    .emits("thread_summary_set", wh::thread_summary_set),
    Method {
        name: "upload_file",
        api: AGENT,
        versions: BOTH,
        scopes: NONE,
        fields: &["file"],
        handler: |_, _, _| {
            Err(LcError::validation(
                "`file` is required: `upload_file` takes multipart/form-data with the file in the `file` field",
            ))
        },
        form: Some(|s, _, form| s.upload_file(form)),
        // LiveChat's `incoming_event` comes when the file is sent with `send_event`, which
        // carries its URL; the upload itself changes no chat.
        webhook: None,
    },
    // Chat properties and thread tags
    m(
        "update_chat_properties",
        AGENT,
        CHATS_RW,
        &["id", "properties"],
        |s, _, b| s.update_chat_properties(b),
    )
    .emits("chat_properties_updated", wh::chat_properties),
    m(
        "delete_chat_properties",
        AGENT,
        CHATS_RW,
        &["id", "properties"],
        |s, _, b| s.delete_chat_properties(b),
    )
    .emits("chat_properties_deleted", wh::chat_properties),
    m(
        "update_thread_properties",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "properties"],
        |s, _, b| s.update_thread_properties(b),
    )
    .emits("thread_properties_updated", wh::thread_properties),
    m(
        "delete_thread_properties",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "properties"],
        |s, _, b| s.delete_thread_properties(b),
    )
    .emits("thread_properties_deleted", wh::thread_properties),
    m(
        "update_event_properties",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "event_id", "properties"],
        |s, _, b| s.update_event_properties(b),
    )
    .emits("event_properties_updated", wh::event_properties),
    m(
        "delete_event_properties",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "event_id", "properties"],
        |s, _, b| s.delete_event_properties(b),
    )
    .emits("event_properties_deleted", wh::event_properties),
    m(
        "tag_thread",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "tag"],
        |s, _, b| s.tag_thread(b),
    )
    .emits("thread_tagged", wh::thread_tag),
    m(
        "untag_thread",
        AGENT,
        CHATS_RW,
        &["chat_id", "thread_id", "tag"],
        |s, _, b| s.untag_thread(b),
    )
    .emits("thread_untagged", wh::thread_tag),
    // Customers
    m(
        "get_customer",
        AGENT,
        any(&["customers:ro"]),
        &["id"],
        |s, v, b| s.get_customer(v, b),
    ),
    m(
        "update_customer",
        AGENT,
        any(&["customers:rw"]),
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
        |s, v, b| s.update_customer(v, b),
    )
    .emits(
        "customer_session_fields_updated",
        wh::customer_session_fields_updated,
    )
    .seen_by(SeenBy::Customers)
    .pushes(PushKind::As("customer_updated", wh::customer_updated_push)),
    m(
        "ban_customer",
        AGENT,
        any(&["customers.ban:rw"]),
        &["id", "ban"],
        |s, _, b| s.ban_customer(b),
    ),
    // Removed from the Agent Chat API in v3.6.
    Method {
        name: "list_customers",
        api: AGENT,
        versions: V35,
        scopes: any(&["customers:ro"]),
        fields: &["page_id", "limit", "sort_order", "sort_by", "filters"],
        handler: |s, v, b| s.list_customers(v, b),
        form: None,
        webhook: None,
    },
    Method {
        name: "create_customer",
        api: AGENT,
        versions: V35,
        scopes: any(&["customers:rw"]),
        fields: &["name", "email", "avatar", "session_fields"],
        handler: |s, _, b| s.create_customer(b),
        form: None,
        webhook: None,
    }
    .emits("incoming_customer", wh::incoming_customer)
    .seen_by(SeenBy::Customers)
    .pushes(PushKind::Render(wh::incoming_customer_push)),
    // Chat-unrelated messages to agents
    m(
        "multicast",
        AGENT,
        any(&["multicast:rw"]),
        &["recipients", "content", "type"],
        |s, _, b| s.multicast(b),
    ),
    // Routing
    m(
        "set_routing_status",
        AGENT,
        any(&[
            "agents--my:rw",
            "agents--all:rw",
            "agents-bot--my:rw",
            "agents-bot--all:rw",
        ]),
        &["status", "agent_id"],
        |s, _, b| s.set_routing_status(b),
    )
    .emits("routing_status_set", wh::routing_status_set)
    .seen_by(SeenBy::Everyone)
    .pushes(PushKind::Render(wh::routing_status_push)),
    m(
        "list_routing_statuses",
        AGENT,
        Requirement::all_of(&[&["agents--all:ro"], &["agents-bot--all:ro"]]),
        &["filters"],
        |s, _, b| s.list_routing_statuses(b),
    ),
    // Agents
    m(
        "create_agent",
        CONFIG,
        // A role above `normal` and `awaiting_approval: false` need more: see `create_agent`.
        any(&["accounts--all:rc"]),
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
        |s, v, b| s.create_agent(v, b),
    )
    .emits("agent_created", wh::agent_created)
    .seen_by(SeenBy::Agents),
    m(
        "get_agent",
        CONFIG,
        any(&["agents--my:ro", "agents--all:ro"]),
        &["id", "fields"],
        |s, _, b| s.get_agent(b),
    ),
    m(
        "list_agents",
        CONFIG,
        any(&["agents--all:ro"]),
        &["filters", "fields"],
        |s, _, b| s.list_agents(b),
    ),
    m(
        "update_agent",
        CONFIG,
        // Another agent and `role` need more: see `update_agent`.
        any(&["agents--my:rw", "agents--all:rw"]),
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
        |s, v, b| s.update_agent(v, b),
    )
    .emits("agent_updated", wh::updated_fields)
    .seen_by(SeenBy::Agents),
    m(
        "delete_agent",
        CONFIG,
        // Another agent needs both `--all`: see `delete_agent`.
        Requirement::all_of(&[
            &["agents--my:rw", "agents--all:rw"],
            &["accounts--my:rw", "accounts--all:rw"],
        ]),
        &["id"],
        |s, _, b| s.delete_agent(b),
    )
    .emits("agent_deleted", wh::id_only)
    .seen_by(SeenBy::Agents),
    // Bots
    m(
        "create_bot",
        CONFIG,
        any(&["agents-bot--my:rw"]),
        &[
            "name",
            "avatar",
            "max_chats_count",
            "default_group_priority",
            "job_title",
            "groups",
            "work_scheduler",
            "owner_client_id",
            "type@3.6",
        ],
        |s, v, b| s.create_bot(v, b),
    )
    .emits("bot_created", wh::bot_created)
    .seen_by(SeenBy::Bots),
    m(
        "get_bot",
        CONFIG,
        // A bot the requester did not create needs `--all`: see `get_bot`.
        any(&["agents-bot--my:ro", "agents-bot--all:ro"]),
        &["id", "fields"],
        |s, v, b| s.get_bot(v, b),
    ),
    m(
        "list_bots",
        CONFIG,
        // `all: true` needs `--all`: see `list_bots`.
        any(&["agents-bot--my:ro", "agents-bot--all:ro"]),
        &["all", "fields"],
        |s, v, b| s.list_bots(v, b),
    ),
    m(
        "update_bot",
        CONFIG,
        // A bot the requester did not create needs `--all`: see `update_bot`.
        any(&["agents-bot--my:rw", "agents-bot--all:rw"]),
        &[
            "id",
            "name",
            "avatar",
            "max_chats_count",
            "groups",
            "default_group_priority",
            "job_title",
            "work_scheduler",
            "type@3.6",
        ],
        |s, v, b| s.update_bot(v, b),
    )
    .emits("bot_updated", wh::updated_fields)
    .seen_by(SeenBy::Bots),
    m(
        "delete_bot",
        CONFIG,
        any(&["agents-bot--my:rw", "agents-bot--all:rw"]),
        &["id"],
        |s, _, b| s.delete_bot(b),
    )
    .emits("bot_deleted", wh::id_only)
    .seen_by(SeenBy::Bots),
    // Not a tool (its answer is a credential): `bots provision` and `bots rotate` use it.
    m(
        "reset_bot_secret",
        CONFIG,
        any(&["agents-bot--my:rw"]),
        &["id", "owner_client_id"],
        |s, _, b| s.reset_bot_secret(b),
    ),
    // Not a tool (its answer is a credential), but bot identities need it.
    m(
        "issue_bot_token",
        CONFIG,
        Requirement::NONE,
        &["bot_id", "bot_secret", "organization_id", "client_id"],
        |s, _, b| s.issue_bot_token(b),
    ),
    m(
        "suspend_agent",
        CONFIG,
        Requirement::all_of(&[&["agents--all:rw"], &["sessions--all:rw"]]),
        &["id"],
        |s, _, b| s.suspend_agent(b),
    )
    .emits("agent_suspended", wh::id_only)
    .seen_by(SeenBy::Agents),
    m(
        "unsuspend_agent",
        CONFIG,
        Requirement::all_of(&[
            &["agents--all:rw"],
            &["accounts--all:rw"],
            &["subscription.lc:rw"],
        ]),
        &["id"],
        |s, _, b| s.unsuspend_agent(b),
    )
    .emits("agent_unsuspended", wh::id_only)
    .seen_by(SeenBy::Agents),
    // Groups
    m(
        "create_group",
        CONFIG,
        any(&["groups--all:rw"]),
        &["name", "language_code", "agent_priorities"],
        |s, v, b| s.create_group(v, b),
    )
    .emits("group_created", wh::group_created)
    .seen_by(SeenBy::Everyone),
    m(
        "update_group",
        CONFIG,
        any(&["groups--my:rw", "groups--all:rw"]),
        &["id", "name", "language_code", "agent_priorities"],
        |s, v, b| s.update_group(v, b),
    )
    .emits("group_updated", wh::updated_fields)
    .seen_by(SeenBy::Everyone),
    m(
        "delete_group",
        CONFIG,
        any(&["groups--my:rw", "groups--all:rw"]),
        &["id"],
        |s, _, b| s.delete_group(b),
    )
    .emits("group_deleted", wh::id_only)
    .seen_by(SeenBy::Everyone),
    m(
        "list_groups",
        CONFIG,
        any(&["groups--all:ro"]),
        &["fields"],
        |s, _, b| s.list_groups(b),
    ),
    m(
        "get_group",
        CONFIG,
        any(&["groups--my:ro", "groups--all:ro"]),
        &["id", "fields"],
        |s, _, b| s.get_group(b),
    ),
    // Tags and properties
    m(
        "register_property",
        CONFIG,
        any(&["properties.configuration:rw"]),
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
        |s, _, b| s.register_property(b),
    ),
    m(
        "publish_property",
        CONFIG,
        any(&["properties.configuration:rw"]),
        &["name", "owner_client_id", "access_type"],
        |s, _, b| s.publish_property(b),
    ),
    m(
        "list_properties",
        CONFIG,
        any(&["properties.configuration:rw"]),
        &["owner_client_id"],
        |s, _, b| s.list_properties(b),
    ),
    m(
        "unregister_property",
        CONFIG,
        any(&["properties.configuration:rw"]),
        &["name", "owner_client_id"],
        |s, _, b| s.unregister_property(b),
    ),
    m(
        "list_license_properties",
        CONFIG,
        any(&[
            "properties.license.value--my:ro",
            "properties.license.value--all:ro",
        ]),
        &["namespace", "name_prefix"],
        |s, _, b| s.list_license_properties(b),
    ),
    m(
        "list_groups_properties",
        CONFIG,
        any(&["properties.group.value--all:ro"]),
        &["group_ids", "namespace", "name_prefix"],
        |s, _, b| s.list_groups_properties(b),
    ),
    m(
        "create_tag",
        CONFIG,
        any(&["tags--all:rw", "tags--groups:rw"]),
        &["name", "group_ids"],
        |s, _, b| s.create_tag(b),
    )
    .emits("tag_created", wh::tag_created)
    .seen_by(SeenBy::Everyone),
    m(
        "delete_tag",
        CONFIG,
        any(&["tags--all:rw", "tags--groups:rw"]),
        &["name"],
        |s, _, b| s.delete_tag(b),
    )
    .emits("tag_deleted", wh::tag_deleted)
    .seen_by(SeenBy::Everyone),
    m(
        "list_tags",
        CONFIG,
        any(&["tags--all:ro", "tags--groups:ro"]),
        &["filters"],
        |s, _, b| s.list_tags(b),
    ),
    m(
        "update_tag",
        CONFIG,
        any(&["tags--all:rw", "tags--groups:rw"]),
        &["name", "group_ids"],
        |s, _, b| s.update_tag(b),
    )
    .emits("tag_updated", wh::tag_updated)
    .seen_by(SeenBy::Everyone),
    // Customer bans (Configuration API, v3.6)
    Method {
        name: "list_customer_bans",
        api: CONFIG,
        versions: V36,
        scopes: any(&["banlist_read"]),
        fields: &[],
        handler: |s, _, _| s.list_customer_bans(),
        form: None,
        webhook: None,
    },
    Method {
        name: "unban_customer",
        api: CONFIG,
        versions: V36,
        scopes: any(&["banlist_write"]),
        fields: &["ip", "customer_id"],
        handler: |s, _, b| s.unban_customer(b),
        form: None,
        webhook: None,
    },
    // Webhooks
    m(
        "register_webhook",
        CONFIG,
        any(&["webhooks.configuration:rw"]),
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
        |s, v, b| s.register_webhook(v, b),
    ),
    m(
        "list_webhooks",
        CONFIG,
        any(&["webhooks.configuration:rw"]),
        &["owner_client_id"],
        |s, _, b| s.list_webhooks(b),
    ),
    m(
        "unregister_webhook",
        CONFIG,
        any(&["webhooks.configuration:rw"]),
        &["id", "owner_client_id"],
        |s, _, b| s.unregister_webhook(b),
    ),
    // LiveChat asks for no authorization.
    m(
        "list_webhook_names",
        CONFIG,
        Requirement::NONE,
        &["version"],
        |s, _, b| s.list_webhook_names(b),
    ),
    m(
        "get_license_webhooks_state",
        CONFIG,
        any(&["webhooks.state:ro"]),
        &["owner_client_id"],
        |s, _, b| s.get_license_webhooks_state(b),
    ),
    m(
        "enable_license_webhooks",
        CONFIG,
        any(&["webhooks.state:rw"]),
        &["owner_client_id"],
        |s, _, b| s.set_license_webhooks(b, true),
    ),
    m(
        "disable_license_webhooks",
        CONFIG,
        any(&["webhooks.state:rw"]),
        &["owner_client_id"],
        |s, _, b| s.set_license_webhooks(b, false),
    ),
];

/// Runs a Customer Chat API method for the customer named by the second argument, on a
/// state whose version and top-level fields are checked.
pub type CustomerHandler = fn(&mut State, ApiVersion, &str, &Obj<'_>) -> LcResult<Value>;

/// A Customer Chat API method the sandbox serves, so it can act as a customer. Its fields are
/// the same in every version it has.
#[derive(Debug)]
pub struct CustomerMethod {
    pub name: &'static str,
    pub versions: &'static [ApiVersion],
    pub fields: &'static [&'static str],
    pub handler: CustomerHandler,
    pub webhook: Option<Webhook>,
}

/// The customer's methods (`/v3.x/customer/action/<name>`); no scopes, the customer's token
/// is the credential.
pub const CUSTOMER_METHODS: &[CustomerMethod] = &[
    CustomerMethod {
        name: "start_chat",
        versions: BOTH,
        fields: &["chat", "active", "continuous"],
        handler: |s, v, c, b| s.customer_start_chat(v, c, b),
        webhook: Some(Webhook::new("incoming_chat", wh::incoming_chat)),
    },
    CustomerMethod {
        name: "send_event",
        versions: BOTH,
        fields: &["chat_id", "event", "attach_to_last_thread"],
        handler: |s, v, c, b| s.customer_send_event(v, c, b),
        webhook: Some(Webhook::new("incoming_event", wh::incoming_event)),
    },
];

/// The emulated methods that are not tools: the sandbox needs them, the server does not
/// expose them (`issue_bot_token` answers with a credential).
pub const NOT_TOOLS: &[&str] = &["issue_bot_token", "reset_bot_secret"];

/// What the RTM API does itself: its session's actions, which no Web API path serves (`logout`
/// has "Web API equivalent: -" in the RTM reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtmSession {
    Login,
    Logout,
    Ping,
}

/// The RTM API's session actions, by name.
pub const RTM_SESSION: &[(&str, RtmSession)] = &[
    ("login", RtmSession::Login),
    ("logout", RtmSession::Logout),
    ("ping", RtmSession::Ping),
];

/// The session action called `action`; `None` for a method the RTM API runs as the Web API
/// does.
pub fn rtm_session(action: &str) -> Option<RtmSession> {
    RTM_SESSION
        .iter()
        .find(|(name, _)| *name == action)
        .map(|&(_, session)| session)
}

/// The method called `name`, in any API.
pub fn find(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_tool_each_with_scopes() {
        assert_eq!(METHODS.len(), crate::tools::all().count() + NOT_TOOLS.len());
        // LiveChat's docs name no scope for these (it serves `list_webhook_names` without
        // authorization); `issue_bot_token` needs none, the bot's secret is the credential.
        let unscoped = [
            "unfollow_chat",
            "list_agents_for_transfer",
            "list_webhook_names",
            "issue_bot_token",
            "upload_file",
        ];
        for m in METHODS {
            let tool = crate::tools::find(m.name).is_some();
            assert_eq!(tool, !NOT_TOOLS.contains(&m.name), "{}", m.name);
            assert_eq!(
                m.scopes.is_empty(),
                unscoped.contains(&m.name),
                "{}",
                m.name
            );
        }
        let mut names: Vec<_> = METHODS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METHODS.len());
        let customer = find("update_customer").unwrap();
        assert!(customer.accepts("phone_number", ApiVersion::V3_6));
        assert!(!customer.accepts("phone_number", ApiVersion::V3_5));
        assert_eq!(customer.other_version_of("phone_number"), Some("3.6"));
    }
}
