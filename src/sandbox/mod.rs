//! The sandbox: an in-process LiveChat emulator, so the server runs with no license, no
//! credentials and no network (`serve --sandbox`, or `sandbox --listen ADDR` as an HTTP server).
//!
//! It holds a deterministic license (see `seed.rs` for what is in it, or a JSON scenario given
//! with `--sandbox-seed`), emulates every method livechat-mcp exposes in API v3.5 and v3.6 (and
//! `issue_bot_token`, which it does not),
//! keeps state, and enforces the rules a real license does with LiveChat's error types and
//! response shapes. New IDs come from a counter and timestamps from a fixed clock, so the same
//! calls always get the same answers.
//!
//! Layout: `http` serves the paths; `state` checks the method, version, scopes and fields and
//! dispatches; one module per area handles its methods (`chat_reads`, `archives`,
//! `chat_lifecycle`, `chat_access`, `events`, `chat_properties`, `customers`, `routing`,
//! `config_agents`, `config_bots`, `config_groups`, `config_tags`, `config_properties`, `config_webhooks`,
//! `uploads`, whose `upload_file` takes a `multipart/form-data` body read by `multipart`);
//! `views` renders LiveChat's shapes; `model` is the license as data and the scenario format.
//!
//! It also plays the customer (`customer_chat`: the Customer Chat API's `start_chat` and
//! `send_event`), and every call that changes the license makes the webhook action LiveChat
//! would send (`methods` names it, `webhooks` renders its payload): `outbox` queues one
//! delivery per registered webhook, and the HTTP server POSTs them from a background task;
//! `rtm` serves the RTM API's websocket and pushes the same changes to the logged-in agents.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use serde_json::Value;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{error::StartError, tools::Api, version::ApiVersion};

mod archives;
mod chat_access;
mod chat_lifecycle;
mod chat_properties;
mod chat_reads;
mod config_agents;
mod config_bots;
mod config_groups;
mod config_properties;
mod config_tags;
mod config_webhooks;
mod customer_chat;
pub mod customer_client;
mod customers;
mod error;
mod events;
mod filters;
mod http;
mod ids;
mod methods;
mod model;
mod multipart;
mod outbox;
mod paging;
mod params;
mod properties;
mod routing;
mod rtm;
mod seed;
mod state;
mod time;
mod uploads;
mod views;
mod webhooks;

#[cfg(test)]
mod tests;

use crate::scopes::Granted;
pub use config_bots::ORGANIZATION_ID;
pub use error::LcError;
pub use outbox::OUTBOX_LIMIT;
use state::State;

/// How to start the sandbox.
#[derive(Clone, Debug, Default)]
pub struct SandboxOptions {
    /// A JSON scenario to load instead of the built-in seed (same format as
    /// [`Sandbox::default_seed_json`]).
    pub seed: Option<PathBuf>,
    /// The token's scopes, e.g. `["chats--access:ro", "customers:ro"]` (items may also be
    /// comma-separated lists); `None` carries every scope.
    pub scopes: Option<Vec<String>>,
}

/// The emulator: the license state behind a lock, shared by every clone and request.
#[derive(Clone)]
pub struct Sandbox {
    state: Arc<Mutex<State>>,
}

impl Sandbox {
    /// Loads the seed file, or the built-in deterministic seed.
    pub fn new(options: SandboxOptions) -> Result<Sandbox, StartError> {
        let scenario = match &options.seed {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    StartError::Scenario(format!(
                        "cannot read the sandbox seed {}: {e}",
                        path.display()
                    ))
                })?;
                seed::load(&text, &path.display().to_string())?
            }
            None => seed::load(seed::DEFAULT_SEED, "the built-in sandbox seed")?,
        };
        let scopes = match options.scopes {
            None => Granted::every(),
            Some(list) => Granted::parse_list(&list.join(",")),
        };
        Ok(Sandbox {
            state: Arc::new(Mutex::new(State::new(scenario, scopes)?)),
        })
    }

    /// Serves `POST /v{3.5,3.6}/{agent,configuration,customer}/action/{method}`, and sends the
    /// webhook deliveries its calls make from a background task (on the current tokio
    /// runtime; outside one they stay queued in the state).
    pub fn router(&self) -> axum::Router {
        self.router_with(rtm::RtmHub::default())
    }

    fn router_with(&self, hub: rtm::RtmHub) -> axum::Router {
        http::router(http::App {
            state: self.state.clone(),
            courier: outbox::Courier::start(),
            rtm: hub,
        })
    }

    /// Binds `addr` (port 0 picks a free port) and serves in a background task until the
    /// handle is shut down or dropped.
    pub async fn spawn(self, addr: SocketAddr) -> Result<SandboxHandle, StartError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Listen { addr, source })?;
        let mut local = listener
            .local_addr()
            .map_err(|source| StartError::Listen { addr, source })?;
        if local.ip().is_unspecified() {
            local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let (tx, rx) = oneshot::channel::<()>();
        let hub = rtm::RtmHub::default();
        let app = self.router_with(hub.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(SandboxHandle {
            url: format!("http://{local}"),
            addr: local,
            shutdown: Some(tx),
            task: Some(task),
            rtm: hub,
        })
    }

    /// One line for the stderr banner: what the license holds and who the token acts as.
    pub fn summary(&self) -> String {
        self.lock().summary()
    }

    /// The built-in seed as a JSON scenario, the format `--sandbox-seed` reads.
    pub fn default_seed_json() -> String {
        seed::DEFAULT_SEED.to_string()
    }

    /// The license as it stands now, as a JSON scenario (to save a case and replay it with
    /// `--sandbox-seed`).
    pub fn snapshot_json(&self) -> String {
        serde_json::to_string_pretty(&self.lock().snapshot()).unwrap_or_default()
    }

    /// Calls a method in-process, as the HTTP server would (past the `Authorization` check).
    pub fn call(
        &self,
        version: ApiVersion,
        api: Api,
        method: &str,
        body: &Value,
    ) -> Result<Value, LcError> {
        self.lock().handle(version, api, method, body)
    }

    /// Calls a Customer Chat API method (`start_chat`, `send_event`) in-process as the
    /// customer `customer`, as the HTTP server's `/v3.x/customer/action/…` would.
    pub fn call_customer(
        &self,
        version: ApiVersion,
        customer: &str,
        method: &str,
        body: &Value,
    ) -> Result<Value, LcError> {
        self.lock().handle_customer(version, customer, method, body)
    }

    /// The webhook deliveries calls made in-process and nobody has taken yet, oldest first
    /// (at most [`OUTBOX_LIMIT`]); each is the receiver's URL and the JSON body LiveChat
    /// would POST there. The HTTP server sends its own as it goes.
    pub fn take_deliveries(&self) -> Vec<(String, Value)> {
        self.lock()
            .take_deliveries()
            .into_iter()
            .map(|d| (d.url, d.body))
            .collect()
    }

    /// Calls a method that takes a `multipart/form-data` body (`upload_file`) in-process, as
    /// the HTTP server would: `content_type` is the request's header, with the boundary.
    pub fn call_form(
        &self,
        version: ApiVersion,
        api: Api,
        method: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Value, LcError> {
        let form = multipart::parse(content_type, body)?;
        self.lock()
            .handle_payload(version, api, method, state::Payload::Form(&form))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running sandbox server; dropping it stops the server.
pub struct SandboxHandle {
    /// The base URL to give the client: `http://127.0.0.1:PORT`.
    pub url: String,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    rtm: rtm::RtmHub,
}

impl SandboxHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The RTM API's websocket URL for `version`, with the license's `organization_id`.
    pub fn rtm_url(&self, version: ApiVersion) -> String {
        format!(
            "ws://{}/v{version}/agent/rtm/ws?organization_id={}",
            self.addr,
            config_bots::ORGANIZATION_ID
        )
    }

    /// Drops every open RTM connection at once, with no close frame, as a lost network
    /// would: the clients must reconnect and log in again.
    pub fn drop_rtm_connections(&self) {
        self.rtm.drop_all();
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) -> Result<(), StartError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.join().await
    }

    /// Runs until the server stops (it only stops on an I/O error).
    pub async fn wait(mut self) -> Result<(), StartError> {
        self.join().await
    }

    async fn join(&mut self) -> Result<(), StartError> {
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| StartError::Task(format!("the sandbox: {e}")))?
                .map_err(|e| StartError::Task(format!("the sandbox: {e}"))),
            None => Ok(()),
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
