//! `webhooks sync` and `webhooks status`: the license webhooks that bring the help desk's
//! actions to this server's receiver (`POST {PUBLIC_BASE_URL}/webhooks/livechat`), one per
//! action, registered for the server's own client ID and kept right.
//!
//! LiveChat's `list_webhooks` does not show a webhook's `secret_key`, so each registration's
//! description carries a fingerprint of the secret (the first 16 hex digits of its SHA-256):
//! a changed secret is seen and the webhook registered again. The secret must be long and
//! random, so the fingerprint says nothing useful about it. Every call goes through the
//! server's one path as the agent `webhooks-sync`, so it is audited like any other.

use serde_json::{Value, json};

use crate::{
    config::Secret,
    server::{CallContext, LiveChatServer},
    version::ApiVersion,
};

/// The name `webhooks sync` acts under in the audit trail.
pub const SYNCER: &str = "webhooks-sync";

/// The receiver's path under the public base URL.
pub const RECEIVER_PATH: &str = "/webhooks/livechat";

/// The fewest characters a webhook secret may have.
pub const MIN_SECRET_LEN: usize = 24;

/// The actions the server asks LiveChat for, in both versions, then those of v3.6 only.
const ACTIONS: &[&str] = &[
    "incoming_chat",
    "incoming_event",
    "incoming_rich_message_postback",
    "chat_deactivated",
    "chat_transferred",
    "user_added_to_chat",
    "user_removed_from_chat",
    "chat_properties_updated",
    "thread_tagged",
    "thread_untagged",
    "routing_status_set",
    "agent_created",
    "agent_updated",
    "agent_deleted",
    "group_created",
    "group_updated",
    "group_deleted",
    "tag_created",
];
const ACTIONS_3_6: &[&str] = &["event_deleted", "thread_summary_set"];

/// The actions registered for `version`.
pub fn actions(version: ApiVersion) -> Vec<&'static str> {
    let mut all = ACTIONS.to_vec();
    if version == ApiVersion::V3_6 {
        all.extend(ACTIONS_3_6);
    }
    all
}

/// Why a sync could not be planned or carried out. Never holds the secret.
#[derive(Debug, PartialEq, Eq)]
pub enum SyncError {
    /// The command line or environment is not usable; nothing was sent.
    Setup(String),
    /// A call to LiveChat failed; what was done before it is printed.
    Call(String),
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::Setup(why) | SyncError::Call(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for SyncError {}

/// Whether `secret` may be the webhook secret: long enough that its fingerprint says nothing
/// useful. The error never shows it.
pub fn check_secret(secret: &str) -> Result<(), String> {
    if secret.chars().count() < MIN_SECRET_LEN || secret.trim() != secret {
        return Err(format!(
            "LIVECHAT_MCP_WEBHOOK_SECRET must be at least {MIN_SECRET_LEN} characters with no surrounding spaces (make one with `openssl rand -hex 32`); its value is not shown"
        ));
    }
    Ok(())
}

/// What the registrations should be.
pub struct Target {
    pub url: String,
    pub client_id: String,
    secret: Secret,
    /// The description each registration carries: the marker and the secret's fingerprint.
    description: String,
}

impl Target {
    /// The receiver under `base_url`, for `client_id`, with `secret`: each checked, nothing
    /// sent yet.
    pub fn new(base_url: &str, client_id: &str, secret: &str) -> Result<Target, SyncError> {
        let base = base_url.trim().trim_end_matches('/');
        let scheme_ok = base.starts_with("https://") || base.starts_with("http://");
        if !scheme_ok || base.contains(char::is_whitespace) {
            return Err(SyncError::Setup(format!(
                "--url must be the server's public base URL, like https://mcp.example.com (got `{}`)",
                shown(base)
            )));
        }
        if crate::config::check_url("--url", "", base).is_err() {
            return Err(SyncError::Setup(
                "--url holds `user:password@`; LiveChat would send that to anyone reading its webhook list: give the bare URL".to_string(),
            ));
        }
        let url = format!("{base}{RECEIVER_PATH}");
        if url.len() > 500 {
            return Err(SyncError::Setup(format!(
                "the receiver URL would be {} characters; LiveChat takes at most 500",
                url.len()
            )));
        }
        if client_id.trim().is_empty() {
            return Err(SyncError::Setup(
                "webhooks are registered for an app's client ID: give it with --client-id or LIVECHAT_CLIENT_ID".to_string(),
            ));
        }
        check_secret(secret).map_err(SyncError::Setup)?;
        let fingerprint = &crate::digest::sha256_hex(secret)[..16];
        Ok(Target {
            url,
            client_id: client_id.to_string(),
            secret: Secret::new(secret),
            description: format!("livechat-mcp {fingerprint}"),
        })
    }
}

/// What `sync` does about one thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Registered as it should be.
    Keep { action: String, id: String },
    /// Not registered: register it.
    Register { action: String },
    /// Registered for this app with another URL or secret: unregister `id`, then register.
    Replace {
        action: String,
        id: String,
        why: String,
    },
    /// License webhooks are off for this app: turn them on.
    Enable,
    /// License webhooks are on.
    Enabled,
}

impl Step {
    /// One line; `done` for what was done rather than what would be.
    pub fn describe(&self, done: bool) -> String {
        let (would, did) = match self {
            Step::Keep { action, id } => (
                format!("{action}: webhook {id} is right; nothing to do"),
                format!("{action}: webhook {id} is right; nothing done"),
            ),
            Step::Register { action } => (
                format!("{action}: would register a webhook"),
                format!("{action}: registered a webhook"),
            ),
            Step::Replace { action, id, why } => (
                format!("{action}: would replace webhook {id} ({why})"),
                format!("{action}: replaced webhook {id} ({why})"),
            ),
            Step::Enable => (
                "license webhooks: would enable them for this app".to_string(),
                "license webhooks: enabled for this app".to_string(),
            ),
            Step::Enabled => (
                "license webhooks: on; nothing to do".to_string(),
                "license webhooks: on; nothing done".to_string(),
            ),
        };
        if done { did } else { would }
    }
}

async fn call(server: &LiveChatServer, tool: &str, arguments: Value) -> Result<Value, SyncError> {
    server
        .call_json(tool, arguments, CallContext::default())
        .await
        .map_err(SyncError::Call)
}

/// This app's license webhooks, as `(id, action, url, description)`.
async fn registered(
    server: &LiveChatServer,
    client_id: &str,
) -> Result<Vec<(String, String, String, String)>, SyncError> {
    let listed = call(
        server,
        "list_webhooks",
        json!({"owner_client_id": client_id}),
    )
    .await?;
    let text = |w: &Value, key: &str| {
        w.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(listed
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter(|w| text(w, "type") == "license")
                .map(|w| {
                    (
                        text(w, "id"),
                        text(w, "action"),
                        text(w, "url"),
                        text(w, "description"),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

async fn enabled(server: &LiveChatServer, client_id: &str) -> Result<bool, SyncError> {
    let state = call(
        server,
        "get_license_webhooks_state",
        json!({"owner_client_id": client_id}),
    )
    .await?;
    Ok(state
        .get("license_webhooks_enabled")
        .and_then(Value::as_bool)
        .unwrap_or(false))
}

/// What `sync` would do: one step per action, then the license webhooks' switch.
pub async fn plan(
    server: &LiveChatServer,
    target: &Target,
    version: ApiVersion,
) -> Result<Vec<Step>, SyncError> {
    let hooks = registered(server, &target.client_id).await?;
    let mut steps = Vec::new();
    for action in actions(version) {
        let mine: Vec<_> = hooks.iter().filter(|(_, a, _, _)| a == action).collect();
        let right = mine.iter().find(|(_, _, url, description)| {
            *url == target.url && *description == target.description
        });
        let step = match (right, mine.first()) {
            (Some((id, ..)), _) => Step::Keep {
                action: action.to_string(),
                id: id.clone(),
            },
            (None, Some((id, _, url, _))) => Step::Replace {
                action: action.to_string(),
                id: id.clone(),
                why: if *url != target.url {
                    format!("it goes to {url}")
                } else {
                    "its secret is another".to_string()
                },
            },
            (None, None) => Step::Register {
                action: action.to_string(),
            },
        };
        steps.push(step);
    }
    steps.push(if enabled(server, &target.client_id).await? {
        Step::Enabled
    } else {
        Step::Enable
    });
    Ok(steps)
}

/// Carries `steps` out in order, saying what was done; stops at the first failure, with
/// what was done before it in the error.
pub async fn apply(
    server: &LiveChatServer,
    target: &Target,
    steps: &[Step],
) -> Result<Vec<String>, (Vec<String>, SyncError)> {
    let mut lines = Vec::new();
    for step in steps {
        let done = match step {
            Step::Keep { .. } | Step::Enabled => Ok(()),
            Step::Register { action } => register(server, target, action).await,
            Step::Replace { action, id, .. } => {
                match call(
                    server,
                    "unregister_webhook",
                    json!({"id": id, "owner_client_id": target.client_id}),
                )
                .await
                {
                    Ok(_) => register(server, target, action).await,
                    Err(e) => Err(e),
                }
            }
            Step::Enable => call(
                server,
                "enable_license_webhooks",
                json!({"owner_client_id": target.client_id}),
            )
            .await
            .map(|_| ()),
        };
        match done {
            Ok(()) => lines.push(step.describe(true)),
            Err(e) => return Err((lines, e)),
        }
    }
    Ok(lines)
}

async fn register(server: &LiveChatServer, target: &Target, action: &str) -> Result<(), SyncError> {
    call(
        server,
        "register_webhook",
        json!({
            "action": action,
            "secret_key": target.secret.expose(),
            "url": target.url,
            "description": target.description,
            "owner_client_id": target.client_id,
            "type": "license",
        }),
    )
    .await
    .map(|_| ())
}

/// `webhooks status`: this app's license webhooks and whether they are on.
pub async fn status(
    server: &LiveChatServer,
    client_id: &str,
    version: ApiVersion,
) -> Result<String, SyncError> {
    let hooks = registered(server, client_id).await?;
    let on = enabled(server, client_id).await?;
    let mut out = format!(
        "license webhooks for client {client_id}: {}\n",
        if on {
            "on"
        } else {
            "OFF (run `webhooks sync`)"
        }
    );
    for action in actions(version) {
        let mine: Vec<_> = hooks.iter().filter(|(_, a, _, _)| a == action).collect();
        if mine.is_empty() {
            out.push_str(&format!("{action:<32} not registered\n"));
        }
        for (id, _, url, _) in mine {
            out.push_str(&format!("{action:<32} {id} → {url}\n"));
        }
    }
    for (id, action, url, _) in hooks
        .iter()
        .filter(|(_, a, _, _)| !actions(version).contains(&a.as_str()))
    {
        out.push_str(&format!(
            "{action:<32} {id} → {url} (not one the server asks for)\n"
        ));
    }
    Ok(out)
}

/// Text from the command line, cut short and without control characters, for an error.
fn shown(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_target_is_checked_before_anything_is_sent() {
        let t = Target::new("https://mcp.example.com/", "client-1", SECRET).unwrap();
        assert_eq!(t.url, "https://mcp.example.com/webhooks/livechat");
        assert!(t.description.starts_with("livechat-mcp "));
        assert!(!t.description.contains(SECRET));
        let bad = |url: &str, client: &str, secret: &str| {
            Target::new(url, client, secret).err().unwrap().to_string()
        };
        assert!(bad("mcp.example.com", "c", SECRET).contains("public base URL"));
        assert!(bad("https://u:p@mcp.example.com", "c", SECRET).contains("user:password@"));
        assert!(bad("https://mcp.example.com", " ", SECRET).contains("--client-id"));
        let short = bad("https://mcp.example.com", "c", "short-secret");
        assert!(short.contains("at least 24") && !short.contains("short-secret"));
        let long = format!("https://{}.example.com", "a".repeat(490));
        assert!(bad(&long, "c", SECRET).contains("at most 500"));
    }

    #[test]
    fn v3_6_asks_for_two_more_actions() {
        assert_eq!(actions(ApiVersion::V3_5).len(), 18);
        let v36 = actions(ApiVersion::V3_6);
        assert_eq!(v36.len(), 20);
        assert!(v36.contains(&"event_deleted") && v36.contains(&"thread_summary_set"));
    }
}
