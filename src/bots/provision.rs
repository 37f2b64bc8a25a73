//! `bots provision`, `bots list` and `bots rotate`: each agent of the policy with `identity =
//! "bot"` gets a LiveChat bot of its own, made with the server's credentials.
//!
//! `create_bot` and `list_bots` go through the server's one call path as the agent
//! `bots-provision` (agents area only), so they are paced, retried as safe and audited like any
//! call; the new bot's secret is taken before the answer is redacted, and kept only in the
//! bot file. `reset_bot_secret`, which is not a tool (its answer is a credential), goes on the
//! same HTTP path and is recorded in the audit trail too.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::store::{BotStore, StoredBot};
use crate::{
    agent::Identity,
    audit::{AuditStore, NewEntry},
    client::ApiClient,
    config::Secret,
    policy::{LiveChatIdentity, Policy},
    server::{CallContext, LiveChatServer, SecretSink},
    tools::Api,
};

/// The name `bots provision` acts under in the audit trail.
pub const PROVISIONER: &str = "bots-provision";

/// What provisioning does for one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Its bot is in the file and in LiveChat: nothing to do.
    Keep { agent: String, bot_id: String },
    /// No bot anywhere: create one in `groups`.
    Create { agent: String, groups: Vec<u32> },
    /// LiveChat has a bot of that name made by this client, but the file has no secret for it
    /// (a run stopped between creating and recording it): give it a new secret and record it.
    Adopt { agent: String, bot_id: String },
    /// The file names a bot LiveChat no longer has: create a new one.
    Replace {
        agent: String,
        gone: String,
        groups: Vec<u32>,
    },
}

impl Action {
    pub fn agent(&self) -> &str {
        match self {
            Action::Keep { agent, .. }
            | Action::Create { agent, .. }
            | Action::Adopt { agent, .. }
            | Action::Replace { agent, .. } => agent,
        }
    }

    /// One line: `support: create a bot in groups 0, 1`.
    pub fn describe(&self, done: bool) -> String {
        let groups = |g: &[u32]| {
            let list: Vec<String> = g.iter().map(u32::to_string).collect();
            format!(
                "group{} {}",
                if g.len() == 1 { "" } else { "s" },
                list.join(", ")
            )
        };
        let (will, did) = match self {
            Action::Keep { bot_id, .. } => (
                format!("has bot {bot_id}; nothing to do"),
                format!("has bot {bot_id}; nothing done"),
            ),
            Action::Create { groups: g, .. } => (
                format!("would create a bot in {}", groups(g)),
                format!("created a bot in {}", groups(g)),
            ),
            Action::Adopt { bot_id, .. } => (
                format!(
                    "would give bot {bot_id} (made by this client, its secret not on file) a new secret and record it"
                ),
                format!("gave bot {bot_id} a new secret and recorded it"),
            ),
            Action::Replace {
                gone, groups: g, ..
            } => (
                format!(
                    "would create a bot in {} (its bot {gone} is gone from LiveChat)",
                    groups(g)
                ),
                format!(
                    "created a bot in {} (its bot {gone} was gone from LiveChat)",
                    groups(g)
                ),
            ),
        };
        format!("{}: {}", self.agent(), if done { did } else { will })
    }
}

/// Why provisioning stopped. Never holds a secret.
#[derive(Debug)]
pub struct ProvisionError(pub String);

impl std::fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProvisionError {}

/// The bots the policy asks for: agent → groups, in name order.
pub fn wanted(policy: &Policy) -> BTreeMap<String, Vec<u32>> {
    policy
        .agents()
        .filter_map(|a| match &a.livechat {
            Some(LiveChatIdentity::Bot { groups }) => Some((a.name.clone(), groups.clone())),
            _ => None,
        })
        .collect()
}

/// Calls `tool` through `server` and returns its answer, or the tool error's text.
async fn call(
    server: &LiveChatServer,
    tool: &str,
    arguments: Value,
    sink: Option<SecretSink>,
) -> Result<Value, ProvisionError> {
    let context = CallContext {
        keep_secrets: sink,
        ..CallContext::default()
    };
    server
        .call_json(tool, arguments, context)
        .await
        .map_err(ProvisionError)
}

/// What `provision` would do, from the policy, the file and LiveChat's `list_bots`.
pub async fn plan(
    policy: &Policy,
    store: &BotStore,
    server: &LiveChatServer,
) -> Result<Vec<Action>, ProvisionError> {
    let wanted = wanted(policy);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let listed = call(server, "list_bots", json!({}), None).await?;
    let bots: Vec<(String, String)> = listed
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|b| {
                    Some((
                        b.get("id")?.as_str()?.to_string(),
                        b.get("name")?.as_str().unwrap_or_default().to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut actions = Vec::new();
    for (agent, groups) in wanted {
        let action = match store.get(&agent) {
            Some(kept) if bots.iter().any(|(id, _)| *id == kept.bot_id) => Action::Keep {
                agent,
                bot_id: kept.bot_id.clone(),
            },
            Some(kept) => Action::Replace {
                agent,
                gone: kept.bot_id.clone(),
                groups,
            },
            None => match bots.iter().find(|(_, name)| *name == agent) {
                Some((id, _)) => Action::Adopt {
                    agent,
                    bot_id: id.clone(),
                },
                None => Action::Create { agent, groups },
            },
        };
        actions.push(action);
    }
    Ok(actions)
}

/// Carries out `actions`, recording each bot in `store` as soon as it has its secret; the
/// lines say what was done. Stops at the first failure: what was done before is recorded.
pub async fn apply(
    actions: &[Action],
    store: &mut BotStore,
    server: &LiveChatServer,
    issuer: &ApiClient,
    audit: Option<&AuditStore>,
    client_id: &str,
) -> Result<Vec<String>, ProvisionError> {
    let mut lines = Vec::new();
    for action in actions {
        let (agent, bot_id, secret) = match action {
            Action::Keep { .. } => {
                lines.push(action.describe(true));
                continue;
            }
            Action::Create { agent, groups } | Action::Replace { agent, groups, .. } => {
                let (bot_id, secret) = create(server, agent, groups, client_id).await?;
                (agent, bot_id, secret)
            }
            Action::Adopt { agent, bot_id } => {
                let secret = reset_secret(issuer, audit, bot_id, client_id).await?;
                (agent, bot_id.clone(), secret)
            }
        };
        store
            .put(StoredBot {
                agent: agent.clone(),
                bot_id: bot_id.clone(),
                secret,
                client_id: client_id.to_string(),
                since: now(),
            })
            .map_err(|e| {
                ProvisionError(format!(
                    "{e}; bot {bot_id} of agent `{agent}` was made but not recorded: the next `bots provision` gives it a new secret and records it"
                ))
            })?;
        lines.push(action.describe(true));
    }
    Ok(lines)
}

/// `bots rotate AGENT`: a new secret for the agent's bot, recorded at once. Tokens already
/// issued stay valid until they expire (LiveChat cannot revoke them).
pub async fn rotate(
    agent: &str,
    store: &mut BotStore,
    issuer: &ApiClient,
    audit: Option<&AuditStore>,
    client_id: Option<&str>,
) -> Result<String, ProvisionError> {
    let kept = store.get(agent).cloned().ok_or_else(|| {
        ProvisionError(format!(
            "agent `{agent}` has no bot on file; `livechat-mcp bots list` shows the agents that do"
        ))
    })?;
    let client_id = client_id.unwrap_or(&kept.client_id).to_string();
    let secret = reset_secret(issuer, audit, &kept.bot_id, &client_id).await?;
    store
        .put(StoredBot {
            secret,
            since: now(),
            client_id,
            ..kept.clone()
        })
        .map_err(|e| {
            ProvisionError(format!(
                "{e}; bot {} has a new secret that could not be recorded: run `livechat-mcp bots rotate {agent}` again",
                kept.bot_id
            ))
        })?;
    Ok(format!(
        "{agent}: bot {} has a new secret; tokens issued before stay valid until they expire",
        kept.bot_id
    ))
}

async fn create(
    server: &LiveChatServer,
    agent: &str,
    groups: &[u32],
    client_id: &str,
) -> Result<(String, Secret), ProvisionError> {
    let sink = SecretSink::default();
    let groups: Vec<Value> = groups
        .iter()
        .map(|id| json!({"id": id, "priority": "normal"}))
        .collect();
    let answer = call(
        server,
        "create_bot",
        json!({"name": agent, "owner_client_id": client_id, "groups": groups}),
        Some(sink.clone()),
    )
    .await?;
    let bot_id = answer
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ProvisionError("create_bot answered without the bot's `id`".to_string()))?
        .to_string();
    let secret = sink
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove("secret")
        .ok_or_else(|| {
            ProvisionError(format!(
                "create_bot made bot {bot_id} but answered without its `secret`; run `livechat-mcp bots provision` again to give it one"
            ))
        })?;
    Ok((bot_id, secret))
}

/// `reset_bot_secret`, recorded in the audit trail ahead of sending and with its outcome,
/// like a tool call; the new secret goes only to the caller.
async fn reset_secret(
    issuer: &ApiClient,
    audit: Option<&AuditStore>,
    bot_id: &str,
    client_id: &str,
) -> Result<Secret, ProvisionError> {
    let mut arguments = Map::new();
    arguments.insert("id".to_string(), json!(bot_id));
    // Sent with the server's credentials (`issuer`), and recorded as such.
    let entry = NewEntry::new(PROVISIONER, "reset_bot_secret", &arguments)
        .identity(Identity::ServerToken.as_str());
    let pending = match audit {
        Some(audit) => Some(
            audit
                .append(entry.pending())
                .await
                .map_err(|e| {
                    ProvisionError(format!(
                        "the audit trail could not record reset_bot_secret first, so it was not sent: {e}"
                    ))
                })?
                .id,
        ),
        None => None,
    };
    let started = std::time::Instant::now();
    let body = json!({"id": bot_id, "owner_client_id": client_id});
    let result = issuer
        .call(Api::Configuration, "reset_bot_secret", &body)
        .await;
    let mut done = match &result {
        Ok(_) => entry,
        Err(e) => entry.failed(e.kind().as_str()),
    }
    .took(started.elapsed().as_millis() as u64);
    if let Some(id) = pending {
        done = done.completing(id);
    }
    if let Some(audit) = audit
        && let Err(e) = audit.append(done).await
    {
        tracing::error!("the audit trail could not record the outcome of reset_bot_secret: {e}");
    }
    let answer = result.map_err(|e| {
        ProvisionError(format!(
            "reset_bot_secret for bot {bot_id} failed: {}",
            e.describe("reset_bot_secret", crate::scopes::Requirement::NONE)
                .lines()
                .next()
                .unwrap_or_default()
        ))
    })?;
    answer
        .get("secret")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(Secret::new)
        .ok_or_else(|| ProvisionError("reset_bot_secret answered without a `secret`".to_string()))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
