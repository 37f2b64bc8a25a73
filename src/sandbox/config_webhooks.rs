//! Webhooks (Configuration API): `register_webhook`, `list_webhooks`, `unregister_webhook`,
//! `list_webhook_names` and the license webhooks switch (`enable_license_webhooks`,
//! `disable_license_webhooks`, `get_license_webhooks_state`). At most three per action and
//! client. What a call sends to the webhooks is in `outbox`.

use serde_json::{Map, Value, json};

use super::{
    error::{LcError, LcResult},
    model::Webhook,
    params::Obj,
    state::State,
};
use crate::version::ApiVersion;

/// Actions in both versions.
const ACTIONS: &[&str] = &[
    "incoming_chat",
    "chat_deactivated",
    "chat_access_updated",
    "chat_transferred",
    "user_added_to_chat",
    "user_removed_from_chat",
    "incoming_event",
    "event_updated",
    "incoming_rich_message_postback",
    "chat_properties_updated",
    "chat_properties_deleted",
    "thread_properties_updated",
    "thread_properties_deleted",
    "event_properties_updated",
    "event_properties_deleted",
    "thread_tagged",
    "thread_untagged",
    "routing_status_set",
    "customer_session_fields_updated",
    "events_marked_as_seen",
    "agent_created",
    "agent_approved",
    "agent_updated",
    "agent_suspended",
    "agent_unsuspended",
    "agent_deleted",
    "auto_accesses_updated",
    "bot_created",
    "bot_updated",
    "bot_deleted",
    "group_created",
    "group_updated",
    "group_deleted",
    "tag_created",
    "tag_deleted",
    "tag_updated",
];
const ACTIONS_35: &[&str] = &["incoming_customer"];
const ACTIONS_36: &[&str] = &["event_deleted", "thread_summary_set"];
const MAX_PER_ACTION: usize = 3;

impl State {
    pub(super) fn register_webhook(&mut self, v: ApiVersion, b: &Obj) -> LcResult<Value> {
        let action = b.req_str("action")?;
        let own = if v == ApiVersion::V3_5 {
            ACTIONS_35
        } else {
            ACTIONS_36
        };
        if !ACTIONS.contains(&action) && !own.contains(&action) {
            let other = if v == ApiVersion::V3_5 {
                ACTIONS_36
            } else {
                ACTIONS_35
            };
            return Err(LcError::validation(if other.contains(&action) {
                format!("`action`: `{action}` is not a webhook action in v{v}")
            } else {
                format!("`action`: unknown webhook action `{action}`")
            }));
        }
        let secret_key = b.req_str("secret_key")?;
        let url = b.req_str("url")?;
        if url.len() > 500 || !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(LcError::validation(
                "`url` must be an http(s) URL of at most 500 characters",
            ));
        }
        let owner = b.req_str("owner_client_id")?;
        let kind = b.req_enum("type", &["bot", "license"])?;
        let description = b.opt_str("description")?.unwrap_or_default();
        let additional = b
            .opt_enum_list(
                "additional_data",
                2,
                &["chat_properties", "chat_presence_user_ids"],
            )?
            .unwrap_or_default();
        if !additional.is_empty() && ["agent_deleted", "agent_status_changed"].contains(&action) {
            return Err(LcError::validation(format!(
                "`additional_data` is not available for `{action}`"
            )));
        }
        let filters = match b.opt_obj("filters")? {
            None => None,
            Some(f) => Some(check_filters(&f, action)?),
        };
        let registered = self
            .lic
            .webhooks
            .iter()
            .filter(|w| w.owner_client_id == owner && w.action == action)
            .count();
        if registered >= MAX_PER_ACTION {
            return Err(LcError::limit_reached(format!(
                "Client `{owner}` already has {MAX_PER_ACTION} webhooks for `{action}`, the most LiveChat allows"
            )));
        }
        let id = self.ids.webhook_id();
        self.lic.webhooks.push(Webhook {
            id: id.clone(),
            url: url.to_string(),
            description: description.to_string(),
            action: action.to_string(),
            secret_key: secret_key.to_string(),
            filters,
            additional_data: additional.into_iter().map(str::to_string).collect(),
            owner_client_id: owner.to_string(),
            kind: kind.to_string(),
            version: Some(v.as_str().to_string()),
        });
        Ok(json!({ "id": id }))
    }

    pub(super) fn list_webhooks(&mut self, b: &Obj) -> LcResult<Value> {
        let owner = b.req_str("owner_client_id")?;
        let hooks: Vec<Value> = self
            .lic
            .webhooks
            .iter()
            .filter(|w| w.owner_client_id == owner)
            .map(|w| {
                let mut out = Map::new();
                out.insert("id".into(), json!(w.id));
                out.insert("url".into(), json!(w.url));
                out.insert("description".into(), json!(w.description));
                out.insert("action".into(), json!(w.action));
                out.insert(
                    "filters".into(),
                    w.filters.clone().unwrap_or_else(|| json!({})),
                );
                if !w.additional_data.is_empty() {
                    out.insert("additional_data".into(), json!(w.additional_data));
                }
                out.insert("owner_client_id".into(), json!(w.owner_client_id));
                out.insert("type".into(), json!(w.kind));
                Value::Object(out)
            })
            .collect();
        Ok(Value::Array(hooks))
    }

    pub(super) fn unregister_webhook(&mut self, b: &Obj) -> LcResult<Value> {
        let id = b.req_str("id")?;
        let owner = b.req_str("owner_client_id")?;
        let index = self
            .lic
            .webhooks
            .iter()
            .position(|w| w.id == id && w.owner_client_id == owner)
            .ok_or_else(|| {
                LcError::not_found(format!("Webhook `{id}` of client `{owner}` not found"))
            })?;
        self.lic.webhooks.remove(index);
        Ok(json!({}))
    }
}

/// The filters `register_webhook` takes for `action`, from the docs' table of actions.
fn filters_for(action: &str) -> &'static [&'static str] {
    match action {
        "incoming_event" | "event_updated" => &[
            "author_type",
            "chat_presence",
            "only_my_chats",
            "source_type",
        ],
        "routing_status_set" => &["agent_ids", "source_type"],
        "customer_session_fields_updated" => &["chat_presence", "source_type"],
        a if a.starts_with("agent_")
            || a.starts_with("bot_")
            || a.starts_with("group_")
            || a.starts_with("tag_")
            || a == "auto_accesses_updated"
            || a == "incoming_customer" =>
        {
            &["source_type"]
        }
        _ => &["chat_presence", "only_my_chats", "source_type"],
    }
}

impl State {
    /// The actions of `version` (default: 3.6, LiveChat's stable version), each with its
    /// filters and the additional data it can carry (none for `agent_deleted`).
    pub(super) fn list_webhook_names(&mut self, b: &Obj) -> LcResult<Value> {
        let own = match b.opt_str("version")? {
            None | Some("3.6") => ACTIONS_36,
            Some("3.5") => ACTIONS_35,
            Some(other) => {
                return Err(LcError::validation(format!(
                    "`version`: the sandbox knows the webhooks of `3.5` and `3.6`, not `{other}`"
                )));
            }
        };
        let names: Vec<Value> = ACTIONS
            .iter()
            .chain(own)
            .map(|action| {
                let mut out = Map::new();
                out.insert("action".into(), json!(action));
                out.insert("filters".into(), json!(filters_for(action)));
                if *action != "agent_deleted" {
                    out.insert(
                        "additional_data".into(),
                        json!(["chat_properties", "chat_presence_user_ids"]),
                    );
                }
                Value::Object(out)
            })
            .collect();
        Ok(Value::Array(names))
    }

    pub(super) fn get_license_webhooks_state(&mut self, b: &Obj) -> LcResult<Value> {
        let owner = b.req_str("owner_client_id")?;
        let enabled = !self.lic.license_webhooks_disabled.contains(owner);
        Ok(json!({ "license_webhooks_enabled": enabled }))
    }

    /// Turns a client's license webhooks on or off; doing it twice changes nothing.
    pub(super) fn set_license_webhooks(&mut self, b: &Obj, enabled: bool) -> LcResult<Value> {
        let owner = b.req_str("owner_client_id")?;
        if enabled {
            self.lic.license_webhooks_disabled.remove(owner);
        } else {
            self.lic.license_webhooks_disabled.insert(owner.to_string());
        }
        Ok(json!({}))
    }
}

fn check_filters(f: &Obj, action: &str) -> LcResult<Value> {
    f.only(&[
        "author_type",
        "only_my_chats",
        "chat_presence",
        "source_type",
        "agent_ids",
    ])?;
    if f.opt_str_list("agent_ids", 1000)?.is_some() && action != "routing_status_set" {
        return Err(LcError::validation(
            "`filters.agent_ids` is allowed only for `routing_status_set`",
        ));
    }
    if f.opt_enum("author_type", &["customer", "agent"])?.is_some()
        && !["incoming_event", "event_updated"].contains(&action)
    {
        return Err(LcError::validation(
            "`filters.author_type` is allowed only for `incoming_event` and `event_updated`",
        ));
    }
    f.opt_bool("only_my_chats")?;
    f.opt_enum_list("source_type", 3, &["my_client", "other_clients", "system"])?;
    if let Some(presence) = f.opt_obj("chat_presence")? {
        presence.only(&["user_ids", "my_bots"])?;
        presence.opt_bool("my_bots")?;
        if let Some(users) = presence.opt_obj("user_ids")? {
            users.only(&["values", "exclude_values"])?;
            if users.has("values") == users.has("exclude_values") {
                return Err(LcError::validation(
                    "`filters.chat_presence.user_ids` takes exactly one of `values` or `exclude_values`",
                ));
            }
            users.opt_str_list("values", 1000)?;
            users.opt_str_list("exclude_values", 1000)?;
        }
    }
    Ok(Value::Object(f.map().clone()))
}
