//! An agent's bot token at run time: issued with `issue_bot_token` when first needed, issued
//! again well before it expires, and once more when LiveChat refuses it as `authentication`.
//! The token and the bot's secret live only here and on the wire.

use std::time::Duration;

use serde_json::json;
use tokio::sync::{Mutex, OnceCell};
use tokio::time::Instant;

use crate::{client::ApiClient, config::Secret, error::ApiError, tools::Api};

/// How long a bot token lasts when LiveChat does not say (its docs: 24 hours).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest a token is kept before it expires: it is replaced this long before, or a
/// quarter of its life before when it lives less than four times this.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(60 * 60);

/// The scopes every bot token carries (LiveChat's "Issue Bot Token"): an agent acting as a bot
/// is offered only the tools these allow.
pub const BOT_TOKEN_SCOPES: &str = "chats--access:rw,agents-bot--my:rw,customers:rw";

/// The bot an agent acts as, and how to get its tokens.
pub struct BotSession {
    agent: String,
    bot_id: String,
    secret: Secret,
    client_id: String,
    /// `None`: read from the accounts service with the server's credentials, once.
    organization: OnceCell<String>,
    /// Calls `issue_bot_token` and reads the organisation, with the server's credentials
    /// (LiveChat needs none for `issue_bot_token`: the secret is the credential).
    issuer: ApiClient,
    current: Mutex<Option<Issued>>,
    /// The bot file, beside which each new token's expiry is noted for `bots list`.
    ledger: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for BotSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotSession")
            .field("agent", &self.agent)
            .field("bot_id", &self.bot_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Issued {
    token: Secret,
    refresh_at: Instant,
}

impl BotSession {
    pub fn new(
        agent: &str,
        bot_id: &str,
        secret: Secret,
        client_id: &str,
        organization: Option<String>,
        issuer: ApiClient,
        ledger: Option<std::path::PathBuf>,
    ) -> BotSession {
        BotSession {
            agent: agent.to_string(),
            bot_id: bot_id.to_string(),
            secret,
            client_id: client_id.to_string(),
            organization: OnceCell::new_with(organization),
            issuer,
            current: Mutex::new(None),
            ledger,
        }
    }

    pub fn bot_id(&self) -> &str {
        &self.bot_id
    }

    /// As `whoami`, `doctor` and the audit trail say it: `bot 5c98…`.
    pub fn label(&self) -> String {
        label(&self.bot_id)
    }

    /// The bot's secret, for redacting it from anything LiveChat answers.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// A token that is good for a while yet: the one held, or a new one.
    pub async fn token(&self) -> Result<Secret, ApiError> {
        let mut current = self.current.lock().await;
        if let Some(issued) = current.as_ref().filter(|i| Instant::now() < i.refresh_at) {
            return Ok(issued.token.clone());
        }
        let issued = self.issue().await?;
        let token = issued.token.clone();
        *current = Some(issued);
        Ok(token)
    }

    /// A new token in place of `stale`, which LiveChat refused; if another call already
    /// replaced it, that one.
    pub async fn reissue(&self, stale: &Secret) -> Result<Secret, ApiError> {
        let mut current = self.current.lock().await;
        if let Some(issued) = current.as_ref().filter(|i| &i.token != stale) {
            return Ok(issued.token.clone());
        }
        *current = None;
        let issued = self.issue().await?;
        let token = issued.token.clone();
        *current = Some(issued);
        Ok(token)
    }

    async fn organization(&self) -> Result<&str, ApiError> {
        self.organization
            .get_or_try_init(|| async {
                self.issuer.organization_id().await.map_err(|why| {
                    ApiError::NoCredentials(format!(
                        "agent `{}` acts as bot {}, but the organization ID for its tokens could not be read from the accounts service: {why}; set LIVECHAT_ORGANIZATION_ID",
                        self.agent, self.bot_id
                    ))
                })
            })
            .await
            .map(String::as_str)
    }

    async fn issue(&self) -> Result<Issued, ApiError> {
        let organization = self.organization().await?.to_string();
        let body = json!({
            "bot_id": self.bot_id,
            "bot_secret": self.secret.expose(),
            "organization_id": organization,
            "client_id": self.client_id,
        });
        let asked = Instant::now();
        let answer = self
            .issuer
            .call(Api::Configuration, "issue_bot_token", &body)
            .await
            .map_err(|e| self.failed(e))?;
        let token = answer
            .get("token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::NoCredentials(format!(
                    "agent `{}`: LiveChat answered issue_bot_token for bot {} without a token",
                    self.agent, self.bot_id
                ))
            })?;
        let lifetime = answer
            .get("expires_in")
            .and_then(|s| s.as_u64())
            .filter(|&s| s > 0)
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        let ahead = REFRESH_AHEAD.min(lifetime / 4);
        if let Some(ledger) = &self.ledger {
            let expires = chrono::Utc::now()
                + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::zero());
            super::store::note_token_expiry(
                ledger,
                &self.agent,
                &expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
        }
        tracing::info!(
            agent = %self.agent,
            bot = %self.label(),
            lifetime_secs = lifetime.as_secs(),
            "issued a bot token"
        );
        Ok(Issued {
            token: Secret::new(token),
            refresh_at: asked + lifetime - ahead,
        })
    }

    /// A failure to get a token, as the agent's call reports it: LiveChat's words, less the
    /// secret should an answer echo it.
    fn failed(&self, error: ApiError) -> ApiError {
        let why = error
            .describe("issue_bot_token", crate::scopes::Requirement::NONE)
            .replace(self.secret.expose(), crate::client::REDACTED);
        let first = why.lines().next().unwrap_or_default();
        ApiError::NoCredentials(format!(
            "agent `{}` acts as bot {}, but LiveChat would not issue its token: {first}; check the bot with `livechat-mcp bots list`, or give it a new secret with `livechat-mcp bots rotate {}`",
            self.agent, self.bot_id, self.agent
        ))
    }
}

/// `bot 5c98…`: enough of the ID to tell a license's bots apart, short enough to read.
pub fn label(bot_id: &str) -> String {
    let head: String = bot_id.chars().take(4).collect();
    format!("bot {head}…")
}
