//! The hosted server, `serve --http ADDR`: MCP streamable HTTP at `/mcp` and the older
//! HTTP+SSE transport at `/sse` + `/messages`, for every agent of the policy, each behind its
//! own bearer key and served by its own rmcp service; DNS-rebinding protection, limits,
//! `/healthz`, `/metrics` (detail for the admin key only) and a graceful stop.
//!
//! [`http_app`] is the whole server as an axum `Router`, built without a socket; [`serve`]
//! runs it on a listener until a shutdown signal; [`run`] is what the command line calls.

mod abandon;
mod auth;
mod bodies;
mod connections;
mod health;
pub mod intake;
mod limits;
mod metrics;
mod parse;
mod sessions;
mod sse;
mod trim;
pub mod webhook_receiver;

use std::{
    collections::BTreeMap, future::Future, net::SocketAddr, process::ExitCode, sync::Arc,
    time::Duration,
};

use axum::{
    Extension, Router,
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware,
    response::Response,
    routing::{any, get, post},
};
use clap::Args;
use rmcp::transport::{
    StreamableHttpServerConfig, StreamableHttpService,
    streamable_http_server::session::local::LocalSessionManager,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use auth::{AllowedHosts, KEY_PREFIX, new_key};
pub use metrics::{AgentFigures, Figures, Metrics};

use crate::limiter::Limiter as Pace;
use crate::{
    agent::Agent,
    audit::AuditStore,
    config::Settings,
    error::StartError,
    policy::{Policy, file::PolicyFile},
    server::{Catalog, LiveChatServer},
};
use connections::ConnectionLimits;
use limits::Limiter;
use sessions::AgentSessions;

/// `serve` options for the hosted HTTP server.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "HTTP server (serve --http)")]
pub struct HttpArgs {
    /// Serve MCP over HTTP on ADDR (`127.0.0.1:8000`, or a port alone for 127.0.0.1) instead
    /// of stdio; `--http` alone means 127.0.0.1:8000, or 0.0.0.0:8000 in the container image
    /// (LIVECHAT_MCP_IN_CONTAINER=1). Needs --policy with a `key_sha256` for every agent.
    #[arg(long, env = "LIVECHAT_MCP_HTTP", value_name = "ADDR", value_parser = parse_http_listen, num_args = 0..=1, default_missing_value = "")]
    pub http: Option<SocketAddr>,
    /// A public name clients reach the server by (`mcp.example.com`, or with a port); may be
    /// repeated. Loopback names are always allowed; any other `Host` gets 403.
    #[arg(
        long = "allowed-host",
        env = "LIVECHAT_MCP_ALLOWED_HOSTS",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// The largest request body accepted, in bytes (413 above it).
    #[arg(long, value_name = "BYTES", default_value_t = HttpOptions::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// How many requests one agent may have in flight at once (429 above it).
    #[arg(long, value_name = "N", default_value_t = HttpOptions::default().max_in_flight, value_parser = parse_in_flight)]
    pub max_in_flight: usize,
    /// Close a session after this many seconds without a message.
    #[arg(long, value_name = "SECS", default_value_t = HttpOptions::default().idle_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub session_idle_secs: u64,
    /// On SIGTERM or Ctrl-C, how long to wait for calls in flight before closing.
    #[arg(long, value_name = "SECS", default_value_t = HttpOptions::default().shutdown_grace.as_secs())]
    pub shutdown_grace_secs: u64,
    /// Close a connection whose request headers have not all arrived within SECS; also the
    /// longest a keep-alive connection waits for its next request.
    #[arg(long, value_name = "SECS", default_value_t = HttpOptions::default().header_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,
    /// Answer 408 to a request whose body has not all arrived within SECS of its headers.
    #[arg(long, value_name = "SECS", default_value_t = HttpOptions::default().body_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,
    /// The most connections open at once. At the cap, the connection idle longest is closed to
    /// make room; when every one is handling a request, a new one gets 503 at once.
    #[arg(long, value_name = "N", default_value_t = HttpOptions::default().max_connections, value_parser = parse_count)]
    pub max_connections: usize,
    /// The most sessions one agent may have open, streamable HTTP and SSE together. At the
    /// cap, its least recently used idle session is closed to make room; when every one has a
    /// request in flight, a new one gets 429.
    #[arg(long, value_name = "N", default_value_t = HttpOptions::default().max_sessions_per_agent, value_parser = parse_count)]
    pub max_sessions_per_agent: usize,
    /// How long help desk events are kept, and at most how many (with
    /// webhooks or --events rtm): `AGE,COUNT`, the age in s, m, h or d.
    #[arg(long, env = "LIVECHAT_MCP_EVENTS_RETENTION", value_name = "AGE,COUNT", default_value = "24h,100000", value_parser = crate::events::retention::parse)]
    pub events_retention: crate::events::Retention,
    /// `rtm`: keep a websocket to LiveChat's RTM API and store its pushes as events (no public
    /// URL needed). Over stdio it logs in as the agent; with --http, with the server's
    /// credentials. A bot identity cannot (LiveChat's rule). On by default with --sandbox.
    #[arg(long, env = "LIVECHAT_MCP_EVENTS", value_enum, value_name = "rtm|off")]
    pub events: Option<EventsSource>,
    /// SHA-256 hex of the admin key, which reads /metrics and the detail of /healthz (instead
    /// of `[admin] key_sha256` in the policy). Make the key with `livechat-mcp key new admin`;
    /// it must not be an agent's key.
    // Checked at start-up by `admin_key`, not by a value parser: clap would quote a raw key
    // pasted here by mistake in its error.
    #[arg(
        long,
        env = "LIVECHAT_MCP_ADMIN_KEY_SHA256",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub admin_key_sha256: Option<String>,
    /// Also serve /metrics and the detail of /healthz on ADDR, without a key: a port for a
    /// metrics scraper that only it can reach. Same forms as --http.
    #[arg(long, env = "LIVECHAT_MCP_METRICS_LISTEN", value_name = "ADDR", value_parser = parse_listen)]
    pub metrics_listen: Option<SocketAddr>,
    /// Refuse to start while any agent would act in LiveChat with the server's token instead
    /// of an identity of its own.
    #[arg(long, env = "LIVECHAT_MCP_REQUIRE_OWN_IDENTITY", value_parser = clap::builder::BoolishValueParser::new())]
    pub require_own_identity: bool,
}

/// Where `serve` gets help desk events from, besides webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EventsSource {
    Rtm,
    Off,
}

fn parse_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a number from 1 to 1000000")),
    }
}

/// The value is not quoted back: a raw key pasted in place of its hash must not reach logs.
fn parse_key_hash(s: &str) -> Result<String, String> {
    crate::policy::check_key_hash(s.trim()).map_err(|problem| {
        format!(
            "the value {problem}; give the SHA-256 of the admin key, never the key itself: `printf %s \"$KEY\" | sha256sum`"
        )
    })
}

fn parse_in_flight(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a number from 1 to 10000")),
    }
}

/// The port `serve --http` listens on when given no address.
pub const DEFAULT_HTTP_PORT: u16 = 8000;

/// The variable the container image sets: there, and only there, `serve --http` without an
/// address binds every interface, since the port is reached through the container's network.
pub const IN_CONTAINER_ENV: &str = "LIVECHAT_MCP_IN_CONTAINER";

/// Whether the server runs in the container image (`LIVECHAT_MCP_IN_CONTAINER=1`).
pub fn in_container() -> bool {
    std::env::var(IN_CONTAINER_ENV).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}

/// Where `serve --http` listens without an address: loopback, or every interface in the
/// container image.
pub fn default_http_listen(in_container: bool) -> SocketAddr {
    let ip = if in_container {
        [0, 0, 0, 0]
    } else {
        [127, 0, 0, 1]
    };
    SocketAddr::from((ip, DEFAULT_HTTP_PORT))
}

/// `--http` as [`parse_listen`] reads it, and alone (an empty value) the default address.
fn parse_http_listen(s: &str) -> Result<SocketAddr, String> {
    if s.trim().is_empty() {
        return Ok(default_http_listen(in_container()));
    }
    parse_listen(s)
}

/// `--http` takes `HOST:PORT`, `:PORT` or `PORT`; without a host it binds 127.0.0.1.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let port_only = s.strip_prefix(':').unwrap_or(s);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().map_err(|_| {
        format!("`{s}` is not an address to listen on; write it as 127.0.0.1:8000 or [::1]:8000")
    })
}

/// How the HTTP server behaves; [`HttpOptions::default`] is what `serve --http` uses without
/// flags.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Host names accepted besides the loopback ones (`localhost`, `127.0.0.1`, `::1`).
    pub allowed_hosts: Vec<String>,
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests one agent may have in flight at once.
    pub max_in_flight: usize,
    /// A session with no message for this long is closed.
    pub idle_timeout: Duration,
    /// On shutdown, how long calls in flight may take to finish.
    pub shutdown_grace: Duration,
    /// How often an idle SSE stream gets a keep-alive comment.
    pub sse_keep_alive: Duration,
    /// How long a connection may take to send a request's headers (and may sit idle between
    /// requests).
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive after its headers.
    pub body_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Sessions one agent may have open, of both transports.
    pub max_sessions_per_agent: usize,
    /// A streamable session with no request, stream or message for this long is put to
    /// sleep: rmcp's side of it is closed until its next request (see `sessions`).
    pub session_doze: Duration,
    /// SHA-256 hex of the admin key; overrides the policy's `[admin] key_sha256`.
    pub admin_key_sha256: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            allowed_hosts: Vec::new(),
            max_body_bytes: 1 << 20,
            max_in_flight: 64,
            idle_timeout: Duration::from_secs(30 * 60),
            shutdown_grace: Duration::from_secs(10),
            sse_keep_alive: Duration::from_secs(15),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_sessions_per_agent: 64,
            session_doze: sessions::DOZE_AFTER,
            admin_key_sha256: None,
        }
    }
}

impl HttpOptions {
    fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            max_connections: self.max_connections,
        }
    }
}

impl HttpArgs {
    fn options(&self) -> HttpOptions {
        HttpOptions {
            allowed_hosts: self.allowed_hosts.clone(),
            max_body_bytes: self.max_body_bytes,
            max_in_flight: self.max_in_flight,
            idle_timeout: Duration::from_secs(self.session_idle_secs),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            max_connections: self.max_connections,
            max_sessions_per_agent: self.max_sessions_per_agent,
            admin_key_sha256: self.admin_key_sha256.clone(),
            ..HttpOptions::default()
        }
    }
}

/// Everything the HTTP server is built from.
pub struct HttpSetup {
    pub catalog: Arc<Catalog>,
    pub policy: Policy,
    /// One per policy agent, as [`Agent::from_policy`] builds them (scopes read or not).
    pub agents: Vec<Agent>,
    pub audit: Option<AuditStore>,
    /// The LiveChat API base URL, for `/healthz`.
    pub upstream_url: String,
    pub options: HttpOptions,
    /// Spaces the calls of every agent: the license's request quota is one. `None` (the
    /// default here; `serve` always has one) sends as fast as calls come.
    pub limiter: Option<Pace>,
    /// How long a call may wait for the limiter and between retries.
    pub retry_budget: Duration,
    /// The event log behind `get_events`, and the webhook receiver's secret.
    pub intake: Option<intake::EventIntake>,
    /// The approval requests of held calls (`approve` in the policy).
    pub approvals: Option<crate::approvals::Approvals>,
    /// The LiveChat settings the agents were made with: with them, a new policy can be
    /// applied while the server runs ([`HttpState::apply`]).
    pub settings: Option<Settings>,
    /// The console to serve at `/console`.
    pub console: Option<Arc<crate::console::ConsoleState>>,
    /// Where calls are counted (`/metrics`, and the console's live page).
    pub metrics: Arc<Metrics>,
}

impl HttpSetup {
    /// Every agent of `policy` with `settings`' LiveChat URL, version and credentials (an
    /// agent with its own identity uses that); token scopes are not read.
    pub fn from_policy(
        policy: Policy,
        settings: &Settings,
        audit: Option<AuditStore>,
        options: HttpOptions,
    ) -> Result<HttpSetup, StartError> {
        let agents = policy
            .agents()
            .map(|entry| Agent::from_policy(entry, settings))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HttpSetup {
            catalog: Arc::new(Catalog::new(settings.version)?),
            policy,
            agents,
            audit,
            upstream_url: settings.api_url.clone(),
            options,
            limiter: None,
            retry_budget: settings.retry_budget,
            intake: None,
            approvals: None,
            settings: Some(settings.clone()),
            console: None,
            metrics: Arc::new(Metrics::new()),
        })
    }
}

/// Why `policy` cannot back the HTTP server, if it cannot: every client must be told apart by
/// its key, so every agent needs one.
pub fn check_policy(policy: Option<&Policy>) -> Result<(), String> {
    const HOW: &str = "make a key with `livechat-mcp key new AGENT` and paste its `key_sha256` line under `[agents.AGENT]`";
    let Some(policy) = policy else {
        return Err(format!(
            "--http needs --policy FILE (LIVECHAT_MCP_POLICY): over HTTP each agent is known by its own key, and the policy maps keys to agents; {HOW}"
        ));
    };
    let keyless: Vec<&str> = policy
        .agents()
        .filter(|a| a.key_sha256.is_none())
        .map(|a| a.name.as_str())
        .collect();
    if policy.agents().next().is_none() {
        return Err(format!(
            "--http: the policy has no agents, so no client could connect; add an `[agents.NAME]` table with a `key_sha256`; {HOW}"
        ));
    }
    if !keyless.is_empty() {
        return Err(format!(
            "--http: every agent needs a `key_sha256` in the policy, and {} {} none; {HOW}",
            keyless
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if keyless.len() == 1 { "has" } else { "have" }
        ));
    }
    Ok(())
}

/// The admin key's SHA-256: `options`' (from `LIVECHAT_MCP_ADMIN_KEY_SHA256`) or else the
/// policy's. Refused when it is an agent's key: the admin key opens what no agent may see.
pub fn admin_key(options: &HttpOptions, policy: &Policy) -> Result<Option<String>, String> {
    let hash = match admin_key_override(options.admin_key_sha256.as_deref())? {
        Some(hash) => Some(hash),
        None => policy.admin_key_sha256().map(str::to_string),
    };
    if let Some(hash) = &hash
        && let Some(agent) = policy
            .agents()
            .find(|a| a.key_sha256.as_deref() == Some(hash.as_str()))
    {
        return Err(format!(
            "the admin key is agent `{}`'s key; the admin key must be a key of its own, as it reads what no agent may see: make one with `livechat-mcp key new admin` and put its SHA-256 in LIVECHAT_MCP_ADMIN_KEY_SHA256 or under `[admin] key_sha256` in the policy",
            agent.name
        ));
    }
    Ok(hash)
}

/// One agent as the HTTP server serves it.
pub(crate) struct AgentHttp {
    name: String,
    /// The template every session of this agent clones; its [`AgentSlot`] is where a new
    /// policy is applied to every session at once.
    server: LiveChatServer,
    /// Its sessions of both transports, under `--max-sessions-per-agent`.
    sessions: Arc<AgentSessions>,
    service: StreamableHttpService<LiveChatServer, AgentSessions>,
    limiter: Limiter,
}

/// The agents served under the policy in force, and the keys that name them. Replaced whole
/// when a new policy is applied; a request holds the one it started with.
struct Roster {
    agents: Vec<Arc<AgentHttp>>,
    by_name: BTreeMap<String, Arc<AgentHttp>>,
    policy: Arc<Policy>,
    /// SHA-256 of the admin key, if there is one (see [`admin_key`]).
    admin_key_sha256: Option<String>,
}

/// What a new agent's server is built from, kept so agents added to the policy later are
/// built the same way.
struct Builder {
    catalog: Arc<Catalog>,
    audit: Option<AuditStore>,
    limiter: Option<Pace>,
    retry_budget: Duration,
    events: Option<crate::events::EventLog>,
    approvals: Option<crate::approvals::Approvals>,
    /// The LiveChat settings agents are made with; `None` for a server built from agents the
    /// caller made, which then cannot take new ones.
    settings: Option<Settings>,
}

/// The running server's state, shared by every request.
pub struct HttpState {
    roster: std::sync::RwLock<Arc<Roster>>,
    builder: Builder,
    hosts: AllowedHosts,
    options: HttpOptions,
    metrics: Arc<Metrics>,
    health: health::Health,
    legacy: sse::Legacy,
    /// The rmcp settings every agent's service starts from; its cancellation token stops
    /// every session and stream at shutdown.
    base: StreamableHttpServerConfig,
    /// Where webhook deliveries go, when the server keeps events.
    intake: Option<intake::EventIntake>,
    /// The console, when the server serves one.
    console: Option<Arc<crate::console::ConsoleState>>,
}

/// Which agent a request authenticated as.
#[derive(Clone)]
struct Caller(Arc<AgentHttp>);

/// What applying a new policy did, agent by agent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl HttpState {
    /// Builds one rmcp service per agent. Fails when the policy cannot back the server (see
    /// [`check_policy`]) or `agents` does not match it.
    pub fn new(setup: HttpSetup) -> Result<Arc<HttpState>, String> {
        check_policy(Some(&setup.policy))?;
        let options = setup.options;
        let admin_key_sha256 = admin_key(&options, &setup.policy)?;
        let hosts = AllowedHosts::new(&options.allowed_hosts)?;
        let base = StreamableHttpServerConfig::default()
            .with_allowed_hosts(hosts.names())
            .with_json_response(true)
            .with_max_request_body_bytes(options.max_body_bytes)
            .with_sse_keep_alive(Some(options.sse_keep_alive));
        let metrics = setup.metrics;
        let health = health::Health::new(setup.audit.clone(), setup.upstream_url, &setup.agents);
        let builder = Builder {
            catalog: setup.catalog,
            audit: setup.audit,
            limiter: setup.limiter,
            retry_budget: setup.retry_budget,
            events: setup.intake.as_ref().map(|i| i.log.clone()),
            approvals: setup.approvals,
            settings: setup.settings,
        };
        let mut by_name = BTreeMap::new();
        let mut agents = Vec::new();
        for agent in setup.agents {
            if setup.policy.agent(&agent.name).is_none() {
                return Err(format!("agent `{}` is not in the policy", agent.name));
            }
            let served = Arc::new(builder.serve(agent, &options, &metrics, &base));
            by_name.insert(served.name.clone(), served.clone());
            agents.push(served);
        }
        if let Some(missing) = setup
            .policy
            .agents()
            .find(|a| !by_name.contains_key(&a.name))
        {
            return Err(format!(
                "agent `{}` of the policy has no server; build one Agent per policy agent",
                missing.name
            ));
        }
        Ok(Arc::new(HttpState {
            roster: std::sync::RwLock::new(Arc::new(Roster {
                agents,
                by_name,
                policy: Arc::new(setup.policy),
                admin_key_sha256,
            })),
            builder,
            hosts,
            legacy: sse::Legacy::new(),
            options,
            metrics,
            health,
            base,
            intake: setup.intake,
            console: setup.console,
        }))
    }

    fn roster(&self) -> Arc<Roster> {
        match self.roster.read() {
            Ok(roster) => roster.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The agents served, in policy order.
    pub fn agent_names(&self) -> Vec<String> {
        self.roster()
            .agents
            .iter()
            .map(|a| a.name.clone())
            .collect()
    }

    /// The admin key's SHA-256 in force now.
    pub fn admin_key_sha256(&self) -> Option<String> {
        self.roster().admin_key_sha256.clone()
    }

    /// Streamable sessions asleep now (open, with rmcp's side closed until their next
    /// request), over every agent.
    pub fn sessions_asleep(&self) -> usize {
        self.roster()
            .agents
            .iter()
            .map(|a| a.sessions.asleep())
            .sum()
    }

    /// The metrics `/metrics` renders.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics, shared (the console reads them).
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Why `policy` cannot be served, if it cannot: [`check_policy`], and the admin key.
    pub fn check(&self, policy: &Policy) -> Result<(), String> {
        check_policy(Some(policy))?;
        admin_key(&self.options, policy)?;
        let holding: Vec<&str> = policy
            .agents()
            .filter(|a| !a.approval.needs.is_empty())
            .map(|a| a.name.as_str())
            .collect();
        if self.builder.approvals.is_none() && !holding.is_empty() {
            return Err(format!(
                "the policy holds calls of {} for a person's approval (`approve`), and this server keeps no approval requests: they live in the audit trail's database, which is off",
                holding.join(", ")
            ));
        }
        Ok(())
    }

    /// Serves `policy` from now on, without a restart: an agent whose entry changed gets its
    /// new grants, limits, approvals and drafts in every open session at its next request
    /// (and `tools/list_changed`); a new agent is served; a removed one is refused at once and
    /// its sessions are closed. A key that changed works from the next request, the old one
    /// not. Refused, with the old policy kept, when [`HttpState::check`] refuses it.
    pub async fn apply(&self, policy: Arc<Policy>) -> Result<Applied, String> {
        self.check(&policy)?;
        let Some(settings) = &self.builder.settings else {
            return Err(
                "this server was built from ready-made agents and cannot take a new policy"
                    .to_string(),
            );
        };
        let old = self.roster();
        let mut applied = Applied::default();
        let mut agents = Vec::new();
        let mut by_name = BTreeMap::new();
        for entry in policy.agents() {
            let served = match old.by_name.get(&entry.name) {
                Some(served) => {
                    if old.policy.agent(&entry.name) != Some(entry) {
                        let before = served.server.agent();
                        let agent =
                            renewed(&before, old.policy.agent(&entry.name), entry, settings)
                                .map_err(|e| format!("agent `{}`: {e}", entry.name))?;
                        served.server.agent_slot().replace(agent);
                        applied.changed.push(entry.name.clone());
                    }
                    served.clone()
                }
                None => {
                    let agent = Agent::from_policy(entry, settings)
                        .map_err(|e| format!("agent `{}`: {e}", entry.name))?;
                    applied.added.push(entry.name.clone());
                    Arc::new(
                        self.builder
                            .serve(agent, &self.options, &self.metrics, &self.base),
                    )
                }
            };
            by_name.insert(served.name.clone(), served.clone());
            agents.push(served);
        }
        let gone: Vec<Arc<AgentHttp>> = old
            .agents
            .iter()
            .filter(|a| !by_name.contains_key(&a.name))
            .cloned()
            .collect();
        let admin_key_sha256 = admin_key(&self.options, &policy)?;
        {
            let mut roster = match self.roster.write() {
                Ok(roster) => roster,
                Err(poisoned) => poisoned.into_inner(),
            };
            *roster = Arc::new(Roster {
                agents,
                by_name,
                policy,
                admin_key_sha256,
            });
        }
        for served in gone {
            // Sessions still open must not act on: nothing is granted, and they are closed.
            let mut nobody = (*served.server.agent()).clone();
            nobody.grants = crate::policy::Grants::default();
            nobody.approval = crate::policy::ApprovalRule::default();
            served.server.agent_slot().replace(nobody);
            served.sessions.close_all().await;
            applied.removed.push(served.name.clone());
        }
        Ok(applied)
    }

    /// Waits (at most the grace period) for every request in flight, then closes every
    /// session and stream. Returns how many requests were in flight when it began.
    pub async fn drain(&self) -> usize {
        let agents = self.roster().agents.clone();
        let in_flight: usize = agents.iter().map(|a| a.limiter.in_flight()).sum();
        let all_done = async {
            // Taking every permit waits for the calls holding one and lets no new call start.
            for agent in &agents {
                agent.limiter.close().await;
            }
        };
        let finished = tokio::time::timeout(self.options.shutdown_grace, all_done).await;
        if finished.is_err() {
            tracing::warn!(
                "calls still in flight after the {} s grace period are cut off",
                self.options.shutdown_grace.as_secs()
            );
        }
        self.base.cancellation_token.cancel();
        in_flight
    }
}

/// `before` (built from `old`) as `entry` now describes it. Its LiveChat connection, and the
/// token scopes read at start, are kept while its identity is the same, and its quota's
/// counts while its limits are.
fn renewed(
    before: &Agent,
    old: Option<&crate::policy::AgentPolicy>,
    entry: &crate::policy::AgentPolicy,
    settings: &Settings,
) -> Result<Agent, StartError> {
    let mut agent = Agent::from_policy(entry, settings)?;
    if old.is_some_and(|old| old.livechat == entry.livechat) {
        agent.client = before.client.clone();
        agent.token_scopes = before.token_scopes.clone();
        agent.identity = before.identity.clone();
    }
    if old.is_some_and(|old| old.limits == entry.limits) {
        agent.quota = before.quota.clone();
    }
    agent.raw_customer_text = before.raw_customer_text;
    Ok(agent)
}

impl Builder {
    /// `agent`'s rmcp service, sessions and in-flight limit.
    fn serve(
        &self,
        agent: Agent,
        options: &HttpOptions,
        metrics: &Arc<Metrics>,
        base: &StreamableHttpServerConfig,
    ) -> AgentHttp {
        let name = agent.name.clone();
        let mut server = LiveChatServer::for_agent(self.catalog.clone(), agent, self.audit.clone())
            .with_observer(metrics.clone())
            .with_traffic(self.limiter.clone(), self.retry_budget)
            .with_catalog_mode(self.settings.as_ref().is_some_and(|s| s.catalog));
        if let Some(log) = &self.events {
            server = server.with_events(log.clone());
        }
        if let Some(approvals) = &self.approvals {
            server = server.with_approvals(approvals.clone());
        }
        if self.settings.is_some() {
            server = server.with_list_changes();
        }
        let mut manager = LocalSessionManager::default();
        manager.session_config.keep_alive = Some(options.idle_timeout);
        let sessions = Arc::new(AgentSessions::new(options.max_sessions_per_agent, manager));
        // An idle session's rmcp side is closed until its next request (see `sessions`).
        sessions.sleep_when_idle(
            server.clone(),
            base.cancellation_token.clone(),
            options.session_doze,
        );
        let template = server.clone();
        // rmcp calls the factory for every session and stateless request; a clone of the
        // agent's server is a few reference counts, with subscriptions of its own.
        let service = StreamableHttpService::new(
            move || Ok(template.for_session()),
            sessions.clone(),
            base.clone(),
        );
        AgentHttp {
            name,
            server,
            sessions,
            service,
            limiter: Limiter::new(options.max_in_flight),
        }
    }
}

/// The whole HTTP server as a router: the MCP routes behind the key check, `/metrics` behind
/// the admin key, `/healthz` with detail for the admin key only, and every route behind the
/// Host / Origin check.
pub fn http_app(state: Arc<HttpState>) -> Router {
    let mcp = Router::new()
        .route("/mcp", any(mcp))
        .route("/sse", get(sse::open))
        .route("/messages", post(sse::message))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            parse::require_json,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_body,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    let metrics = Router::new()
        .route("/metrics", get(metrics::render))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_admin,
        ));
    let health = Router::new()
        .route("/healthz", get(health::healthz))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::admin_if_keyed,
        ));
    // LiveChat's deliveries carry the public Host and the webhook secret, no key: the secret
    // is their check, so this route is outside the key and Host checks.
    let receiver = Router::new().route("/webhooks/livechat", post(intake::receive));
    let console = match &state.console {
        Some(console) => crate::console::console_app(console.clone()),
        None => Router::new(),
    };
    Router::new()
        .merge(mcp)
        .merge(metrics)
        .merge(health)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::check_host,
        ))
        .merge(receiver)
        .with_state(state)
        .merge(console)
}

/// `/metrics` and the whole of `/healthz` without a key, for `--metrics-listen`: a port the
/// operator keeps private. The Host / Origin check still applies, so a web page cannot read
/// it through DNS rebinding.
pub fn metrics_app(state: Arc<HttpState>, listen: SocketAddr) -> Result<Router, String> {
    let mut names = state.options.allowed_hosts.clone();
    names.push(listen.ip().to_string());
    let hosts = Arc::new(AllowedHosts::new(&names)?);
    Ok(Router::new()
        .route("/metrics", get(metrics::render))
        .route("/healthz", get(health::healthz))
        .layer(middleware::from_fn(auth::private_port))
        .layer(middleware::from_fn_with_state(
            (state.clone(), hosts),
            auth::check_private_host,
        ))
        .with_state(state))
}

/// `/mcp`: the caller's own rmcp service. A POST or DELETE holds one of the agent's in-flight
/// permits until its reply has been sent (an SSE reply streams after this returns); the GET
/// stream of server messages holds none, as it stays open while idle.
async fn mcp(
    State(state): State<Arc<HttpState>>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Response {
    let agent = &caller.0;
    let permit = if request.method() == Method::GET {
        None
    } else {
        match agent.limiter.try_acquire(&agent.name, &state.metrics) {
            Ok(permit) => Some(permit),
            Err(refused) => return *refused,
        }
    };
    // Held while rmcp creates the session, so concurrent `initialize`s cannot pass the cap.
    let _place = if request.extensions().get::<parse::OpensSession>().is_some() {
        match agent.sessions.reserve(&agent.name, &state.metrics).await {
            Ok(place) => Some(place),
            Err(refused) => return *refused,
        }
    } else {
        None
    };
    let deleting = request.method() == Method::DELETE;
    // A sleeping session has no rmcp side to close: it leaves the table once rmcp accepts the
    // DELETE (an awake one has left it already).
    let deleted = deleting
        .then(|| request.headers().get("mcp-session-id"))
        .flatten()
        .and_then(|id| id.to_str().ok())
        .map(|id| rmcp::transport::streamable_http_server::SessionId::from(id.to_string()));
    // Armed until the answer is sent whole: a client that goes away first cancels the call.
    let abandoned = match (
        request.extensions().get::<parse::ToolCall>(),
        request.headers().contains_key("mcp-session-id"),
    ) {
        (Some(call), true) => Some(abandon::Abandoned::new(
            agent.service.clone(),
            request.uri().clone(),
            request.headers().clone(),
            call.0.clone(),
        )),
        _ => None,
    };
    let mut response = agent.service.handle(request).await.map(Body::new);
    if let Some(id) = deleted
        && response.status().is_success()
    {
        agent.sessions.forget(&id);
    }
    if let Some(guard) = abandoned {
        response = response.map(|body| Body::new(abandon::UntilSent::new(body, guard)));
    }
    if deleting && response.status() == StatusCode::ACCEPTED {
        // rmcp answers a session's DELETE with 202; clients (the Python SDK) expect 200 or
        // 204 and log a failure otherwise.
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.body_mut() = Body::empty();
    }
    match permit {
        Some(permit) => limits::hold_while_streaming(response, permit),
        None => response,
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops accepting, lets the
/// calls in flight finish (within the grace period), closes every session and stream, and
/// returns. Connections are served as [`connections`] describes: `TCP_NODELAY`, header and
/// body deadlines, and `--max-connections`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_metrics(listener, None, state, shutdown).await
}

/// Serves any `app` (the console alone) on `listener` with the HTTP server's connection
/// handling (`TCP_NODELAY`, header and body deadlines, the connection cap, at their defaults)
/// until `shutdown` resolves.
pub async fn serve_app(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let stop = CancellationToken::new();
    let server = tokio::spawn(connections::serve(
        listener,
        app,
        HttpOptions::default().connection_limits(),
        Arc::new(Metrics::new()),
        stop.clone(),
    ));
    shutdown.await;
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
}

/// [`serve`], and with `metrics` also [`metrics_app`] on that listener, stopped together.
pub async fn serve_with_metrics(
    listener: TcpListener,
    metrics: Option<TcpListener>,
    state: Arc<HttpState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop = CancellationToken::new();
    let limits = state.options.connection_limits();
    let mut servers = vec![tokio::spawn(connections::serve(
        listener,
        http_app(state.clone()),
        limits,
        state.metrics.clone(),
        stop.clone(),
    ))];
    if let Some(listener) = metrics {
        let addr = listener.local_addr()?;
        let app = metrics_app(state.clone(), addr).map_err(std::io::Error::other)?;
        servers.push(tokio::spawn(connections::serve(
            listener,
            app,
            limits,
            state.metrics.clone(),
            stop.clone(),
        )));
    }
    shutdown.await;
    stop.cancel();
    let in_flight = state.drain().await;
    tracing::info!("stopped accepting; {in_flight} requests were in flight");
    // Streams end once the sessions are cancelled; give the connections a moment to close.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        for server in servers {
            server.await.map_err(std::io::Error::other)?;
        }
        Ok(())
    });
    closed.await.unwrap_or(Ok(()))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// The admin key's hash given on the command line or in the environment, checked.
/// The admin key's hash given with `--admin-key-sha256` / `LIVECHAT_MCP_ADMIN_KEY_SHA256`,
/// checked; it wins over the policy's `[admin] key_sha256`.
pub fn admin_key_override(given: Option<&str>) -> Result<Option<String>, String> {
    given
        .map(|given| {
            parse_key_hash(given)
                .map_err(|why| format!("LIVECHAT_MCP_ADMIN_KEY_SHA256 (--admin-key-sha256): {why}"))
        })
        .transpose()
}

/// Applies every new version of `file` to `state` until `stop`: saved in the console, edited
/// by hand, or re-read on SIGHUP. A version the server cannot serve is refused before it is
/// saved ([`PolicyFile::set_check`]), and one edited by hand is not applied; either way the
/// policy in force stays.
pub fn follow_policy(file: &PolicyFile, state: Arc<HttpState>, stop: CancellationToken) {
    let checker = state.clone();
    file.set_check(Arc::new(move |policy: &Policy| checker.check(policy)));
    let label = file.label().to_string();
    // A change made outside this server (by hand, or by a console elsewhere) is recorded as
    // the file's: `file:team.toml set chats to read for ops`.
    let who = format!(
        "file:{}",
        file.path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let audit = state.builder.audit.clone();
    file.watch(
        stop.clone(),
        move |change| {
            let Some(audit) = audit.clone() else { return };
            let rows: Vec<crate::audit::NewEntry> =
                crate::policy::diff::changes(&change.before, &change.after)
                    .iter()
                    .map(|words| crate::audit::NewEntry {
                        agent: who.clone(),
                        ..crate::audit::NewEntry::policy_change(words)
                    })
                    .collect();
            tokio::spawn(async move {
                for row in rows {
                    if let Err(e) = audit.append(row).await {
                        tracing::error!("a policy change read from the file was not recorded in the audit trail: {e}");
                    }
                }
            });
        },
        move |why| {
            tracing::warn!("the policy file changed but was not applied; the policy in force stays: {why}");
            eprintln!("livechat-mcp: warning: the policy file changed but was not applied; the policy in force stays: {why}");
        },
    );
    let mut changes = file.subscribe();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                changed = changes.changed() => if changed.is_err() { return },
            }
            let policy = changes.borrow_and_update().clone();
            match state.apply(policy).await {
                Ok(applied) => {
                    let words = applied.words();
                    tracing::info!("applied the policy in {label}: {words}");
                    eprintln!("livechat-mcp: applied the policy in {label}: {words}");
                }
                Err(why) => {
                    tracing::warn!("the new policy in {label} was not applied: {why}");
                    eprintln!(
                        "livechat-mcp: warning: the new policy in {label} was not applied: {why}"
                    );
                }
            }
        }
    });
}

impl Applied {
    /// `agents added: a; changed: b, c; removed: d`, or `no agent changed`.
    pub fn words(&self) -> String {
        let parts: Vec<String> = [
            ("added", &self.added),
            ("changed", &self.changed),
            ("removed", &self.removed),
        ]
        .into_iter()
        .filter(|(_, names)| !names.is_empty())
        .map(|(what, names)| format!("{what} {}", names.join(", ")))
        .collect();
        if parts.is_empty() {
            "no agent changed".to_string()
        } else {
            format!("agents {}", parts.join("; "))
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// `serve --http ADDR`: checks the policy, builds every agent (reading its token's scopes
/// unless `read_scopes` is false), binds, serves until SIGTERM / Ctrl-C and exits 0.
#[allow(clippy::too_many_arguments)] // the parts of a server, each built by the caller
pub async fn run(
    args: &HttpArgs,
    addr: SocketAddr,
    settings: &Settings,
    policy_file: Option<PolicyFile>,
    audit: Option<AuditStore>,
    read_scopes: bool,
    sandbox: &str,
    limiter: Pace,
    intake: Option<intake::EventIntake>,
    approvals: Option<crate::approvals::Approvals>,
) -> Result<ExitCode, StartError> {
    let policy = policy_file.as_ref().map(|file| (*file.current()).clone());
    if let Err(why) = check_policy(policy.as_ref()) {
        eprintln!("error: {why}");
        return Ok(ExitCode::from(2));
    }
    let (Some(policy), Some(policy_file)) = (policy, policy_file) else {
        return Ok(ExitCode::from(2));
    };
    let mut options = args.options();
    if let Err(why) = admin_key(&options, &policy) {
        eprintln!("error: {why}");
        return Ok(ExitCode::from(2));
    }
    if addr.ip().is_loopback() && !AllowedHosts::is_default_loopback(addr.ip()) {
        options.allowed_hosts.push(addr.ip().to_string());
    }
    if !addr.ip().is_loopback() && options.allowed_hosts.is_empty() && in_container() {
        eprintln!(
            "error: listening on {addr} in the container, but no public host is named: clients reach the server by a name, and only loopback Host names are accepted without one; add --allowed-host HOST (LIVECHAT_MCP_ALLOWED_HOSTS)"
        );
        return Ok(ExitCode::from(2));
    }
    if !addr.ip().is_loopback() && options.allowed_hosts.is_empty() {
        eprintln!(
            "livechat-mcp: warning: listening on {addr}, but only loopback Host names are accepted; name the public host clients use with --allowed-host"
        );
    }
    let mut setup = HttpSetup::from_policy(policy, settings, audit, options)?;
    setup.limiter = Some(limiter);
    setup.intake = intake;
    setup.approvals = approvals;
    let shared = crate::agent::without_own_identity(&setup.agents);
    if args.require_own_identity && !shared.is_empty() {
        eprintln!(
            "error: --require-own-identity: agents {} would act in LiveChat with the server's token; give each its own identity in the policy (`[agents.NAME.livechat]` with `identity = \"bot\"`, `token_env`, or `pat_env` and `account_id_env`)",
            shared.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    if let Some(warning) = crate::agent::shared_identity(&setup.agents) {
        eprintln!("livechat-mcp: warning: {warning}");
    }
    if read_scopes {
        for agent in &mut setup.agents {
            match agent.client.token_scopes().await {
                Ok(scopes) => agent.token_scopes = Some(scopes),
                Err(why) => eprintln!(
                    "livechat-mcp: agent `{}`: could not read the LiveChat token's scopes, so no tool is hidden for lack of them: {why}",
                    agent.name
                ),
            }
        }
    }
    let admin_override = match admin_key_override(args.admin_key_sha256.as_deref()) {
        Ok(hash) => hash,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(ExitCode::from(2));
        }
    };
    setup.console = Some(Arc::new(crate::console::ConsoleState {
        policy: policy_file.clone(),
        admin_key_override: admin_override,
        audit: setup.audit.clone(),
        approvals: setup.approvals.clone(),
        events: setup.intake.as_ref().map(|i| i.log.clone()),
        metrics: Some(setup.metrics.clone()),
        hosts: AllowedHosts::new(&setup.options.allowed_hosts).map_err(StartError::Settings)?,
        sessions: crate::console::Sessions::default(),
    }));
    let state = HttpState::new(setup).map_err(StartError::Settings)?;
    let stop_watching = CancellationToken::new();
    follow_policy(&policy_file, state.clone(), stop_watching.clone());
    let listener = bind(addr).await?;
    let local = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?;
    let (metrics_listener, private) = match args.metrics_listen {
        Some(addr) => {
            let listener = bind(addr).await?;
            let local = listener
                .local_addr()
                .map_err(|source| StartError::Listen { addr, source })?;
            let note = format!(
                "; /metrics and the detail of /healthz without a key at http://{local}/metrics (keep that port private)"
            );
            (Some(listener), note)
        }
        None => (None, String::new()),
    };
    let upstream = if sandbox.is_empty() {
        String::new()
    } else {
        format!(" on the embedded SANDBOX, no real LiveChat ({sandbox})")
    };
    let admin = if state.admin_key_sha256().is_some() {
        "with the admin key"
    } else {
        "with an admin key (none is set: `[admin] key_sha256` in the policy)"
    };
    eprintln!(
        "livechat-mcp {}: serving MCP at http://{local}/mcp (older SSE clients: http://{local}/sse) for agents {}{upstream}; the console at http://{local}/console; GET /healthz, and /metrics and health detail {admin}{private}. Changes to {} apply at once (also on SIGHUP). Ctrl-C or SIGTERM to stop.",
        env!("CARGO_PKG_VERSION"),
        state.agent_names().join(", "),
        policy_file.label(),
    );
    serve_with_metrics(listener, metrics_listener, state, shutdown_signal())
        .await
        .map_err(|e| StartError::Task(e.to_string()))?;
    stop_watching.cancel();
    eprintln!("livechat-mcp: stopped; every finished call is in the audit trail");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("8000"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 8000)))
        );
        assert_eq!(
            parse_listen(":8000"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 8000)))
        );
        assert_eq!(
            parse_listen("[::1]:9"),
            Ok("[::1]:9".parse::<SocketAddr>().expect("addr"))
        );
        assert!(parse_listen("localhost").is_err());
    }

    #[test]
    fn http_alone_listens_on_loopback_except_in_the_container() {
        assert_eq!(
            default_http_listen(false),
            SocketAddr::from(([127, 0, 0, 1], 8000))
        );
        assert_eq!(
            default_http_listen(true),
            SocketAddr::from(([0, 0, 0, 0], 8000))
        );
    }

    #[test]
    fn the_policy_must_give_every_agent_a_key() {
        assert!(check_policy(None).is_err_and(|e| e.contains("--policy")));
        let hash = crate::policy::key_sha256("k");
        let policy = Policy::parse(
            &format!(
                "[agents.a]\naccess = {{ \"*\" = \"read\" }}\nkey_sha256 = \"{hash}\"\n[agents.b]\naccess = {{ \"*\" = \"read\" }}\n"
            ),
            "p.toml",
        )
        .expect("policy");
        let why = check_policy(Some(&policy)).expect_err("b has no key");
        assert!(why.contains("`b` has none"), "{why}");
        let empty = Policy::parse("", "p.toml").expect("policy");
        assert!(check_policy(Some(&empty)).is_err_and(|e| e.contains("no agents")));
    }
}
