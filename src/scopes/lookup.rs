//! The token's scopes read in the background from the moment the agent is known, so a stdio
//! session's `initialize` does not wait for the accounts service (issue 16, cold start). The
//! server decides what waits for them: `tools/list` at most `--scopes-wait-ms`, a call until
//! they are known (see `LiveChatServer::with_scope_lookup`).

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::{client::ApiClient, scopes::Granted};

/// How long `tools/list` waits for the token's scopes before answering with the policy alone
/// (`--scopes-wait-ms`, `LIVECHAT_MCP_SCOPES_WAIT_MS`).
pub const DEFAULT_SCOPES_WAIT: Duration = Duration::from_millis(300);

/// A lookup of one client's token scopes (`GET {accounts_url}/v2/info`), running.
pub struct ScopeLookup {
    answer: JoinHandle<Result<Granted, String>>,
}

impl ScopeLookup {
    /// Starts reading `client`'s token scopes now. It ends within the client's request
    /// timeout, with the scopes or why they could not be read (never the token).
    pub fn start(client: &ApiClient) -> ScopeLookup {
        let client = client.clone();
        ScopeLookup {
            answer: tokio::spawn(async move { client.token_scopes().await }),
        }
    }

    /// The scopes, or why they could not be read.
    pub async fn finish(self) -> Result<Granted, String> {
        match self.answer.await {
            Ok(answer) => answer,
            Err(stopped) => Err(format!("the lookup stopped: {stopped}")),
        }
    }
}
