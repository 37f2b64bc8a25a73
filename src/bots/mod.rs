//! Each AI agent its own LiveChat bot: where the bots are kept ([`store`]), how an agent's
//! calls get its bot token ([`session`]), and `bots provision | list | rotate` ([`provision`]).

pub mod command;
pub mod provision;
pub mod session;
pub mod store;

use std::path::Path;
use std::sync::Arc;

pub use session::BotSession;
pub use store::{BotStore, StoreError, StoredBot};

use crate::{client::ApiClient, config::Settings};

/// The bots of an installation and what an agent's bot session needs besides: the server's
/// settings (to issue tokens and read the organisation) and the IDs given on the command line.
#[derive(Debug)]
pub struct BotDirectory {
    store: BotStore,
    /// `--client-id` / `LIVECHAT_CLIENT_ID`: overrides the client ID each bot was made for.
    client_id: Option<String>,
    /// `LIVECHAT_ORGANIZATION_ID`: spares the accounts service lookup.
    organization_id: Option<String>,
}

impl BotDirectory {
    /// The bots kept beside the audit key at `key_path`, opened with the key derived from it.
    pub fn open(
        key_path: &Path,
        client_id: Option<String>,
        organization_id: Option<String>,
    ) -> Result<BotDirectory, String> {
        let store = BotStore::beside_key(key_path)?;
        Ok(BotDirectory {
            store,
            client_id,
            organization_id,
        })
    }

    pub fn store(&self) -> &BotStore {
        &self.store
    }

    /// The bot session of `agent`, issuing tokens with `settings` (the server's URL, version
    /// and credentials); an error says why the agent has no bot yet.
    pub fn session(&self, agent: &str, settings: &Settings) -> Result<Arc<BotSession>, String> {
        let bot = self.store.get(agent).ok_or_else(|| {
            format!(
                "agent `{agent}` acts in LiveChat as its own bot, but it has none yet: run `livechat-mcp bots provision`"
            )
        })?;
        let client_id = self.client_id.as_deref().unwrap_or(&bot.client_id);
        let issuer = ApiClient::new(settings);
        Ok(Arc::new(BotSession::new(
            agent,
            &bot.bot_id,
            bot.secret.clone(),
            client_id,
            self.organization_id.clone(),
            issuer,
            Some(self.store.path().to_path_buf()),
        )))
    }
}
