//! The command line: `serve`, `tools` and `call`, and the settings they share.

mod approvals;
mod bundle;
mod console;
mod events;
mod healthcheck;
mod scopes_table;
mod trail;

use self::approvals::open_approvals;
use self::events::{event_intake, rtm_log, start_rtm};
use self::trail::{AuditQuery, audit_files, audit_location, open_audit, run_audit};

use std::{
    io::IsTerminal, net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc, time::Duration,
};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, builder::BoolishValueParser};
use rmcp::{ServiceExt, model::CallToolRequestParams};
use serde_json::Value;

use crate::{
    agent::{Agent, Denial, Toolsets, resolve_local},
    audit::{self, AuditStore, Decision, Opening},
    bots::command::BotsCommand,
    config::{
        Credentials, DEFAULT_ACCOUNTS_URL, DEFAULT_API_URL, DEFAULT_MAX_RESPONSE_BYTES,
        DEFAULT_TIMEOUT_SECS, Settings, SettingsError, check_url,
    },
    limiter::{Limiter, LimiterSettings},
    policy::{Level, Policy},
    sandbox::{Sandbox, SandboxOptions},
    server::Catalog,
    server::LiveChatServer,
    version::ApiVersion,
};

/// An MCP server for the LiveChat Agent Chat and Configuration Web API.
#[derive(Debug, Parser)]
#[command(name = "livechat-mcp", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings shared by every command. Credentials come only from the environment:
/// LIVECHAT_ACCESS_TOKEN (OAuth), or LIVECHAT_PAT with LIVECHAT_ACCOUNT_ID.
#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// LiveChat Web API base URL.
    #[arg(long, env = "LIVECHAT_API_URL", default_value = DEFAULT_API_URL, global = true)]
    pub api_url: String,
    /// LiveChat API version: 3.5 or 3.6 (a leading `v` is accepted).
    #[arg(long, env = "LIVECHAT_API_VERSION", default_value = "3.6", value_parser = parse_version, global = true)]
    pub api_version: ApiVersion,
    /// Per-request timeout in seconds.
    #[arg(long, env = "LIVECHAT_TIMEOUT_SECS", default_value_t = DEFAULT_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub timeout_secs: u64,
    /// Seconds a call may spend, all told, waiting for its turn under the license's request
    /// quota and between retries; past it, the call fails saying when to try again.
    #[arg(long, env = "LIVECHAT_MCP_RETRY_BUDGET_SECS", default_value_t = crate::config::DEFAULT_RETRY_BUDGET_SECS, value_parser = clap::value_parser!(u64).range(0..=300), global = true)]
    pub retry_budget_secs: u64,
    /// The largest LiveChat answer read, in bytes; a larger one is refused with a tool error.
    #[arg(long, env = "LIVECHAT_MCP_MAX_RESPONSE_BYTES", default_value_t = DEFAULT_MAX_RESPONSE_BYTES as u64, value_parser = clap::value_parser!(u64).range(1024..=1 << 30), global = true)]
    pub max_response_bytes: u64,
    /// Without a policy file: which tools the one local agent gets, `read` (only tools that
    /// read; the default) or `full` (writes too).
    #[arg(long, env = "LIVECHAT_MCP_ACCESS", value_enum, global = true)]
    pub access: Option<Level>,
    /// The per-agent access policy (TOML); anything it does not grant is denied.
    #[arg(long, env = "LIVECHAT_MCP_POLICY", value_name = "FILE", global = true)]
    pub policy: Option<PathBuf>,
    /// Which policy agent this client is (may be omitted with a one-agent policy). For
    /// `audit`: only that agent's entries.
    #[arg(long, env = "LIVECHAT_MCP_AGENT", value_name = "NAME", global = true)]
    pub agent: Option<String>,
    /// The audit trail: a SQLite file, a `postgres://` URL (one trail for several servers), or
    /// `off` [default: $XDG_DATA_HOME/livechat-mcp/audit.db].
    #[arg(
        long,
        env = "LIVECHAT_MCP_AUDIT",
        value_name = "PATH|off",
        global = true
    )]
    pub audit: Option<String>,
    /// The key the trail's rows are chained with (created at first use, mode 0600); servers
    /// sharing a trail share it [default: beside the trail, `audit.db.key`].
    #[arg(
        long,
        env = "LIVECHAT_MCP_AUDIT_KEY_FILE",
        value_name = "FILE",
        global = true
    )]
    pub audit_key: Option<PathBuf>,
    /// Where the trail's anchor (row count and last MAC) is kept, apart from the trail
    /// [default: beside the trail, `audit.db.anchor`].
    #[arg(
        long,
        env = "LIVECHAT_MCP_AUDIT_ANCHOR_FILE",
        value_name = "FILE",
        global = true
    )]
    pub audit_anchor: Option<PathBuf>,
    /// The LiveChat accounts service, where a token's scopes are read.
    #[arg(long, env = "LIVECHAT_ACCOUNTS_URL", default_value = DEFAULT_ACCOUNTS_URL, global = true)]
    pub accounts_url: String,
    /// stdio: how long the first `tools/list` waits for the token's scopes (read while the
    /// session starts) before listing what the policy allows; the client is told when the
    /// scopes, once read, change the list.
    #[arg(long, env = "LIVECHAT_MCP_SCOPES_WAIT_MS", value_name = "MS", default_value_t = crate::scopes::lookup::DEFAULT_SCOPES_WAIT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(0..=60_000), global = true)]
    pub scopes_wait_ms: u64,
    /// The client ID of the app that owns the agents' bots: `bots provision` makes bots for
    /// it, and their tokens are issued for it.
    #[arg(long, env = "LIVECHAT_CLIENT_ID", value_name = "ID", global = true)]
    pub client_id: Option<String>,
    /// The LiveChat organization the bots' tokens are issued in [default: read from the
    /// accounts service with the server's credentials].
    #[arg(
        long,
        env = "LIVECHAT_ORGANIZATION_ID",
        value_name = "ID",
        global = true
    )]
    pub organization_id: Option<String>,
    /// Use the embedded LiveChat sandbox instead of the real API: no credentials, no network.
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// A JSON scenario for the sandbox instead of its built-in license.
    #[arg(long, value_name = "FILE", global = true)]
    pub sandbox_seed: Option<PathBuf>,
    /// Narrow the sandbox token's scopes, e.g. "chats--access:ro,customers:ro", to try
    /// `authorization` errors.
    #[arg(long, value_name = "SCOPES", global = true)]
    pub sandbox_scopes: Option<String>,
    /// Let `upload_file` send files from DIR by `path` (stdio and `call` only; refused with
    /// `serve --http`, whose clients' files are not the server's). Without it, files are sent
    /// as base64 `content` and the tool has no `path`.
    #[arg(
        long,
        env = "LIVECHAT_MCP_UPLOAD_DIR",
        value_name = "DIR",
        global = true
    )]
    pub upload_dir: Option<PathBuf>,
    /// Hand results over with customers' text as LiveChat sent it, invisible and
    /// direction-changing characters included (they are removed by default); `whoami` says so.
    #[arg(long, env = "LIVECHAT_MCP_RAW_CUSTOMER_TEXT", value_parser = BoolishValueParser::new(), global = true)]
    pub raw_customer_text: bool,
    /// How long a held call's approval request waits for a person, and how long an approval
    /// stays usable, in seconds.
    #[arg(long, env = "LIVECHAT_MCP_APPROVAL_TTL_SECS", default_value_t = crate::approvals::DEFAULT_TTL.as_secs(), value_parser = clap::value_parser!(u64).range(30..=86_400), global = true)]
    pub approval_ttl_secs: u64,
}

fn parse_version(s: &str) -> Result<ApiVersion, String> {
    s.parse()
}

impl SettingsArgs {
    fn sandbox_options(&self) -> SandboxOptions {
        SandboxOptions {
            seed: self.sandbox_seed.clone(),
            scopes: self.sandbox_scopes.clone().map(|s| vec![s]),
        }
    }

    /// The settings the flags and environment give; refuses a URL with credentials in it.
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        check_url("--api-url", "LIVECHAT_API_URL", &self.api_url)?;
        check_url(
            "--accounts-url",
            "LIVECHAT_ACCOUNTS_URL",
            &self.accounts_url,
        )?;
        let mut settings = Settings::new(self.api_url.clone());
        settings.version = self.api_version;
        settings.timeout = Duration::from_secs(self.timeout_secs);
        settings.retry_budget = Duration::from_secs(self.retry_budget_secs);
        settings.max_response_bytes = usize::try_from(self.max_response_bytes)
            .unwrap_or(crate::config::DEFAULT_MAX_RESPONSE_BYTES);
        settings.access = self.access.unwrap_or(Level::Read);
        settings.accounts_url = self.accounts_url.trim_end_matches('/').to_string();
        settings.credentials = Credentials::from_env();
        settings.raw_customer_text = self.raw_customer_text;
        Ok(settings)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (for Claude Desktop and other local clients), or over HTTP for
    /// many agents with --http.
    Serve {
        #[command(flatten)]
        http: crate::http::HttpArgs,
        #[command(flatten)]
        pace: PaceArgs,
        #[command(flatten)]
        expose: ExposeArgs,
    },
    /// Run the LiveChat sandbox alone, as an HTTP server speaking the LiveChat Web API paths;
    /// or, with `customer`, act as a customer on a running one.
    Sandbox {
        #[command(subcommand)]
        action: Option<SandboxAction>,
        /// Address to listen on (loopback by default; port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8035")]
        listen: SocketAddr,
        /// Print the built-in license as a JSON scenario (for --sandbox-seed) and exit.
        #[arg(long)]
        print_seed: bool,
    },
    /// List the tools the current settings expose.
    Tools {
        /// Print JSON (one object per tool) instead of a table.
        #[arg(long)]
        json: bool,
        /// Print, as a Markdown table, the LiveChat scopes each area needs at `read` and at
        /// `full` (for choosing a Personal Access Token's scopes), and nothing else.
        #[arg(long, conflicts_with = "json")]
        scopes: bool,
    },
    /// Build the Claude Desktop extension (.mcpb): the manifest and this binary, in one file
    /// to open with Claude Desktop.
    Bundle {
        /// Where to write the bundle, e.g. livechat-mcp.mcpb.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The binary to put in it [default: this executable].
        #[arg(long, value_name = "PATH")]
        binary: Option<PathBuf>,
    },
    /// GET /healthz of a running `serve --http` once: exit 0 when it answers 200, 1 otherwise
    /// (the container image's health check; it has no curl).
    Healthcheck {
        /// The URL to ask [default: http://127.0.0.1:PORT/healthz, PORT from
        /// LIVECHAT_MCP_HTTP or 8000].
        url: Option<String>,
    },
    /// Show the agent, its grants, the token's scopes, and which tools are usable or hidden.
    Doctor,
    /// The console alone: web pages to grant agents access, read and verify the trail, and
    /// decide held calls, on the policy file and audit store a `serve --http` uses.
    Console {
        #[command(flatten)]
        args: console::ConsoleArgs,
    },
    /// Held calls' approval requests: list them, show one, approve or deny it (as a
    /// supervisor; the decision is recorded in the audit trail).
    Approvals {
        #[command(subcommand)]
        action: approvals::ApprovalsAction,
    },
    /// Print the newest audit entries (sentences, or JSON lines with --json).
    Audit {
        #[command(subcommand)]
        action: Option<AuditAction>,
        /// Only calls to this tool.
        #[arg(long)]
        tool: Option<String>,
        /// Only `allowed` or `denied` calls.
        #[arg(long, value_parser = parse_decision)]
        decision: Option<Decision>,
        /// Only entries since a time: `1h`, `30m`, `2d`, or an RFC 3339 date-time.
        #[arg(long)]
        since: Option<String>,
        /// At most this many entries, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// JSON lines instead of sentences.
        #[arg(long)]
        json: bool,
    },
    /// Call one tool through the same path an MCP client uses, and print its result.
    Call {
        /// The tool name, e.g. `list_chats`.
        tool: String,
        /// The arguments as a JSON object, e.g. '{"limit": 5}'.
        arguments: Option<String>,
    },
    /// Bearer keys for the agents of the HTTP server (`serve --http`).
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Each AI agent its own LiveChat bot (`identity = "bot"` in the policy): make, list and
    /// rotate them. Needs --policy; the bots' secrets are kept sealed beside the audit key.
    Bots {
        #[command(subcommand)]
        action: BotsAction,
    },
    /// The license webhooks that bring the help desk's actions to `serve --http`: register
    /// them for --client-id with LIVECHAT_MCP_WEBHOOK_SECRET, or show them.
    Webhooks {
        #[command(subcommand)]
        action: WebhooksAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksAction {
    /// Register one license webhook per action at URL/webhooks/livechat and turn license
    /// webhooks on; what is already right is left, what differs is fixed.
    Sync {
        /// The server's public base URL, e.g. https://mcp.example.com.
        #[arg(long, value_name = "PUBLIC_BASE_URL")]
        url: String,
        /// Say what would be done, and do nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// This app's license webhooks and whether they are on.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum SandboxAction {
    /// Act as a customer on a running sandbox (`sandbox --listen`), through its Customer Chat
    /// API: start a chat, write in it. Prints the new IDs as JSON.
    Customer {
        /// The sandbox's base URL, e.g. http://127.0.0.1:8035.
        #[arg(long)]
        url: String,
        /// The customer's ID (default: the seeded Thomas Anderson); a new ID makes a new
        /// customer.
        #[arg(long, global = true, default_value = crate::sandbox::customer_client::DEFAULT_CUSTOMER)]
        customer: String,
        #[command(subcommand)]
        action: CustomerAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomerAction {
    /// Start a chat whose first message is TEXT; prints {"chat_id", "thread_id", "event_id"}.
    Start {
        /// The customer's first message.
        text: String,
    },
    /// Write TEXT in chat CHAT_ID, one of the customer's; prints {"event_id"}.
    Say {
        chat_id: String,
        /// The customer's message.
        text: String,
    },
}

/// Which of the tools the policy allows `serve` exposes, and how (stdio and --http alike).
#[derive(Debug, Args)]
#[command(next_help_heading = "Tools exposed (serve)")]
pub struct ExposeArgs {
    /// Only the tools of these areas, comma-separated (chats, events, chat_access,
    /// chat_properties, customers, agents, groups, webhooks, tags_properties, routing): the
    /// others are hidden and refused, whatever the policy grants. Never widens the policy.
    #[arg(long, env = "LIVECHAT_MCP_TOOLSETS", value_name = "AREA,...", value_parser = Toolsets::parse)]
    pub toolsets: Option<Toolsets>,
    /// tools/list offers three tools instead of one per method: `search_tools`,
    /// `describe_tool` and `call_tool`, which calls any tool with the same policy, checks and
    /// audit as a direct call. For clients with small tool limits or contexts.
    #[arg(long, env = "LIVECHAT_MCP_CATALOG", value_parser = BoolishValueParser::new())]
    pub catalog: bool,
}

/// How fast `serve` lets calls reach LiveChat. The license's request quota is shared by every
/// token and app on it, the human agents' included, so all agents of one server share these.
#[derive(Debug, Args)]
pub struct PaceArgs {
    /// Calls per second sent to LiveChat, all agents together; with a PostgreSQL audit trail,
    /// all servers on that database together.
    #[arg(long, env = "LIVECHAT_MCP_MAX_RPS", default_value_t = LimiterSettings::default().max_rps)]
    pub max_rps: f64,
    /// Calls that may go at once after a quiet spell, above the steady rate.
    #[arg(long, env = "LIVECHAT_MCP_BURST", default_value_t = LimiterSettings::default().burst)]
    pub burst: u32,
    /// Requests to LiveChat in flight at once.
    #[arg(long, env = "LIVECHAT_MCP_MAX_CONCURRENCY", default_value_t = LimiterSettings::default().max_concurrency)]
    pub max_concurrency: usize,
    /// Calls that may wait for a turn at once; more are refused at once.
    #[arg(long, env = "LIVECHAT_MCP_MAX_QUEUE", default_value_t = LimiterSettings::default().max_queue)]
    pub max_queue: usize,
}

impl PaceArgs {
    pub fn settings(&self) -> Result<LimiterSettings, String> {
        let settings = LimiterSettings {
            max_rps: self.max_rps,
            burst: self.burst,
            max_concurrency: self.max_concurrency,
            max_queue: self.max_queue,
        };
        settings.check()?;
        Ok(settings)
    }
}

/// The server's limiter: in memory, or shared through the PostgreSQL audit database so that
/// replicas keep one pace between them.
async fn limiter(pace: &PaceArgs, settings: &SettingsArgs) -> anyhow::Result<Limiter> {
    let limits = pace.settings().map_err(anyhow::Error::msg)?;
    match settings
        .audit
        .as_deref()
        .filter(|a| audit::is_postgres_url(a))
    {
        Some(url) => Limiter::shared(limits, url, SHARED_LIMITER_KEY)
            .await
            .map_err(anyhow::Error::msg),
        None => Ok(Limiter::local(limits)),
    }
}

/// The bucket servers sharing one PostgreSQL database share: one database serves one license.
const SHARED_LIMITER_KEY: &str = "license";

#[derive(Debug, Subcommand)]
pub enum BotsAction {
    /// Make a LiveChat bot for each agent with `identity = "bot"` that has none (with the
    /// server's credentials, which need `agents-bot--my:rw`); a second run makes nothing.
    Provision {
        /// Say what would be done, and do nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Each bot agent, its bot, and when its token expires.
    List,
    /// Give AGENT's bot a new secret (tokens already issued stay valid until they expire).
    Rotate {
        /// The agent's name in the policy.
        agent: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Print a fresh random key for AGENT, and the `key_sha256` line for the policy.
    New {
        /// The agent's name in the policy.
        agent: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Check the chain's MACs and its anchor: exit 0 when intact, 1 naming what is wrong.
    Verify {
        /// Also check against an anchor line kept elsewhere (as `audit anchor` printed it).
        #[arg(long, value_name = "LINE", value_parser = parse_anchor)]
        anchor: Option<audit::Anchor>,
    },
    /// Verify the trail, then print its anchor as one line, to keep elsewhere.
    Anchor,
}

fn parse_anchor(s: &str) -> Result<audit::Anchor, String> {
    s.parse()
}

fn parse_decision(s: &str) -> Result<Decision, String> {
    Decision::parse(s).ok_or_else(|| format!("`{s}` is not a decision: use allowed or denied"))
}

/// Writes a command's output to stdout. A reader that went away (`| head`) is not an error.
fn emit(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr: in stdio mode stdout carries only MCP messages.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Sandbox {
        action,
        listen,
        print_seed,
    } = cli.command
    {
        return match action {
            None => run_sandbox(&cli.settings, listen, print_seed).await,
            Some(SandboxAction::Customer {
                url,
                customer,
                action,
            }) => run_customer(&url, cli.settings.api_version, &customer, action).await,
        };
    }
    if let Command::Key {
        action: KeyAction::New { agent },
    } = &cli.command
    {
        return Ok(new_key(agent));
    }
    // Need neither settings nor credentials: they read the tool definitions, the manifest,
    // or a running server.
    match &cli.command {
        Command::Tools { scopes: true, .. } => {
            emit(&scopes_table::markdown());
            return Ok(ExitCode::SUCCESS);
        }
        Command::Bundle { out, binary } => return Ok(bundle::run(out, binary.as_deref())),
        Command::Healthcheck { url } => return Ok(healthcheck::run(url.as_deref())),
        _ => {}
    }
    if (cli.settings.sandbox_seed.is_some() || cli.settings.sandbox_scopes.is_some())
        && !cli.settings.sandbox
    {
        eprintln!(
            "error: --sandbox-seed and --sandbox-scopes need --sandbox (or the `sandbox` command)"
        );
        return Ok(ExitCode::from(2));
    }
    if cli.settings.policy.is_some() && cli.settings.access.is_some() {
        eprintln!(
            "error: --policy and --access (LIVECHAT_MCP_ACCESS) cannot be used together: with a policy file, grant access in the file"
        );
        return Ok(ExitCode::from(2));
    }
    if let Command::Serve { http, .. } = &cli.command
        && http.http.is_some()
        && cli.settings.upload_dir.is_some()
    {
        eprintln!(
            "error: --upload-dir (LIVECHAT_MCP_UPLOAD_DIR) is for stdio only: over HTTP, upload_file takes the file as base64 `content` and never reads the server's files; remove it"
        );
        return Ok(ExitCode::from(2));
    }
    if let Some(Err(e)) = cli.settings.audit.as_deref().map(audit::check_location) {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    if let Command::Console { args } = &cli.command {
        return console::run(args, &cli.settings).await;
    }
    if let Command::Approvals { action } = &cli.command {
        if cli.settings.audit.as_deref() == Some("off") {
            eprintln!(
                "error: approval requests are kept in the audit trail's database; name it with --audit"
            );
            return Ok(ExitCode::from(2));
        }
        let location = audit_location(cli.settings.audit.as_deref())?;
        let trail = approvals::open_trail(&location, &audit_files(&cli.settings)).await?;
        let ttl = Duration::from_secs(cli.settings.approval_ttl_secs);
        return approvals::run(action, &location, &trail, ttl).await;
    }
    if let Command::Audit {
        action,
        tool,
        decision,
        since,
        limit,
        json,
    } = &cli.command
    {
        let filter = AuditQuery {
            agent: cli.settings.agent.clone(),
            tool: tool.clone(),
            decision: *decision,
            since: since.clone(),
            limit: *limit,
            json: *json,
        };
        return run_audit(&cli.settings, action.as_ref(), filter).await;
    }
    let mut settings = match cli.settings.settings() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Command::Serve { expose, .. } = &cli.command {
        settings.toolsets = expose.toolsets.clone();
        settings.catalog = expose.catalog;
    }
    // Held for the whole run: dropping the handle stops the sandbox.
    let mut _sandbox = None;
    let mut banner = String::new();
    if cli.settings.sandbox {
        let sandbox = Sandbox::new(cli.settings.sandbox_options())?;
        banner = sandbox.summary();
        let handle = sandbox.spawn(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        settings.api_url = handle.url.clone();
        settings.credentials = Credentials::from_values(Some("sandbox"), None, None);
        _sandbox = Some(handle);
    }
    let policy = match &cli.settings.policy {
        Some(path) => Some(Policy::load(path).map_err(anyhow::Error::msg)?),
        None => None,
    };
    if let Command::Bots { action } = &cli.command {
        let Some(policy) = &policy else {
            eprintln!(
                "error: `bots` needs --policy FILE (LIVECHAT_MCP_POLICY): the policy says which agents act as bots"
            );
            return Ok(ExitCode::from(2));
        };
        if cli.settings.audit.as_deref() == Some("off") {
            eprintln!(
                "error: `bots` needs the audit trail: the bots' secrets are sealed with its key, and provisioning is recorded in it"
            );
            return Ok(ExitCode::from(2));
        }
        let audit = open_audit(&cli.settings)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the audit trail is off"))?;
        let command = match action {
            BotsAction::Provision { dry_run } => BotsCommand::Provision { dry_run: *dry_run },
            BotsAction::List => BotsCommand::List,
            BotsAction::Rotate { agent } => BotsCommand::Rotate {
                agent: agent.clone(),
            },
        };
        return crate::bots::command::run(
            &command,
            &settings,
            policy,
            audit,
            cli.settings.client_id.as_deref(),
        )
        .await;
    }
    if let Command::Webhooks { action } = &cli.command {
        return run_webhooks(action, &cli.settings, &settings).await;
    }
    settings.bots = bot_directory(&cli.settings, policy.as_ref()).await;
    let limiter = match &cli.command {
        Command::Serve { pace, .. } => match limiter(pace, &cli.settings).await {
            Ok(limiter) => Some(limiter),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        _ => None,
    };
    // `--events rtm`, on by default on the in-process sandbox.
    let rtm_events = match &cli.command {
        Command::Serve { http, .. } => match http.events {
            Some(crate::http::EventsSource::Rtm) => true,
            Some(crate::http::EventsSource::Off) => false,
            None => cli.settings.sandbox,
        },
        _ => false,
    };
    // Held for the whole run: the RTM client, and the sandbox's own event log's directory.
    let mut _rtm = None;
    let mut _sandbox_events = None;
    if let Command::Serve { http, .. } = &cli.command
        && let Some(addr) = http.http
        && let Some(limiter) = limiter.clone()
    {
        let audit = open_audit(&cli.settings).await?;
        let mut intake =
            match event_intake(&cli.settings, http.events_retention, audit.is_some()).await {
                Ok(intake) => intake,
                Err(why) => {
                    eprintln!("error: {why}");
                    return Ok(ExitCode::from(2));
                }
            };
        if rtm_events {
            let started = async {
                let credentials = settings.credentials.clone().map_err(|why| {
                    format!("--events rtm logs in with the server's credentials: {why}")
                })?;
                let (log, dir) = match &intake {
                    Some(intake) if !cli.settings.sandbox => (intake.log.clone(), None),
                    _ => rtm_log(&cli.settings, http.events_retention, audit.is_some()).await?,
                };
                let client = crate::client::ApiClient::new(&settings);
                let rtm = start_rtm(&cli.settings, &client, credentials, log.clone()).await?;
                Ok::<_, String>((log, dir, rtm))
            };
            match started.await {
                Ok((log, dir, rtm)) => {
                    _rtm = Some(rtm);
                    _sandbox_events = dir;
                    let secret = intake.and_then(|i| i.secret);
                    intake = Some(crate::http::intake::EventIntake { log, secret });
                }
                Err(why) => {
                    eprintln!("error: {why}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        // Opened whenever the trail is: the console may add `approve` to a running server.
        let approvals =
            match open_approvals(&cli.settings, policy.as_ref(), audit.as_ref(), true).await {
                Ok(approvals) => approvals,
                Err(why) => {
                    eprintln!("error: {why}");
                    return Ok(ExitCode::from(2));
                }
            };
        let read_scopes = !cli.settings.sandbox;
        let policy_file = match &cli.settings.policy {
            Some(path) => {
                Some(crate::policy::file::PolicyFile::open(path).map_err(anyhow::Error::msg)?)
            }
            None => None,
        };
        return crate::http::run(
            http,
            addr,
            &settings,
            policy_file,
            audit,
            read_scopes,
            &banner,
            limiter,
            intake,
            approvals,
        )
        .await
        .map_err(Into::into);
    }
    let (mut agent, note) =
        resolve_local(&settings, policy.as_ref(), cli.settings.agent.as_deref())?;
    if let Some(note) = note {
        eprintln!("livechat-mcp: {note}");
    }
    // `serve` reads the scopes beside the session's start (LiveChatServer::with_scope_lookup);
    // the other commands print or use them at once.
    let scope_lookup = match cli.command {
        Command::Serve { .. } if !cli.settings.sandbox => {
            Some(crate::scopes::lookup::ScopeLookup::start(&agent.client))
        }
        _ => None,
    };
    let scopes_note = if cli.settings.sandbox || scope_lookup.is_some() {
        None
    } else {
        read_scopes(&mut agent).await
    };
    if let Some(note) = &scopes_note
        && !matches!(cli.command, Command::Doctor)
    {
        eprintln!("livechat-mcp: {note}");
    }
    let upload_dir = match &cli.settings.upload_dir {
        Some(dir) => match crate::upload::UploadDir::new(dir) {
            Ok(dir) => Some(dir),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
        },
        None => None,
    };
    // The catalog (every tool's schema) and the audit trail are the two costs of a start:
    // made side by side, on the blocking pool and here.
    let version = settings.version;
    let catalog =
        tokio::task::spawn_blocking(move || Catalog::with_upload_dir(version, upload_dir));
    let audit = match cli.command {
        Command::Serve { .. } | Command::Call { .. } => open_audit(&cli.settings).await?,
        _ => None,
    };
    let catalog = Arc::new(catalog.await??);
    let mut events_log = None;
    let default_events_for_a_bot = rtm_events
        && matches!(&cli.command, Command::Serve { http, .. } if http.events.is_none())
        && matches!(agent.identity, crate::agent::Identity::Bot(_));
    if default_events_for_a_bot {
        eprintln!(
            "livechat-mcp: agent `{}` acts as its own bot, and LiveChat does not let bots use the RTM API: the sandbox feeds it no events (it gets them from webhooks only)",
            agent.name
        );
    }
    if rtm_events
        && !default_events_for_a_bot
        && let Command::Serve { http, .. } = &cli.command
    {
        let started = async {
            if let crate::agent::Identity::Bot(label) = &agent.identity {
                return Err(format!(
                    "--events rtm cannot serve agent `{}`: it acts in LiveChat as its own bot ({label}), and LiveChat does not let bots use the RTM API; it gets events from webhooks only (serve --http with LIVECHAT_MCP_WEBHOOK_SECRET)",
                    agent.name
                ));
            }
            let Some(credentials) = agent.client.own_credentials().cloned() else {
                return Err(format!(
                    "--events rtm logs in as agent `{}`, which has no LiveChat credentials: {}",
                    agent.name,
                    agent.client.credentials_problem().unwrap_or("none")
                ));
            };
            let (log, dir) = rtm_log(&cli.settings, http.events_retention, audit.is_some()).await?;
            let rtm = start_rtm(&cli.settings, &agent.client, credentials, log.clone()).await?;
            Ok((log, dir, rtm))
        };
        match started.await {
            Ok((log, dir, rtm)) => {
                events_log = Some(log);
                _sandbox_events = dir;
                _rtm = Some(rtm);
            }
            Err(why) => {
                eprintln!("error: {why}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let approvals = if agent.approval.needs.is_empty() {
        None
    } else {
        match open_approvals(&cli.settings, policy.as_ref(), audit.as_ref(), false).await {
            Ok(approvals) => approvals,
            Err(why) => {
                eprintln!("error: {why}");
                return Ok(ExitCode::from(2));
            }
        }
    };
    let mut server = LiveChatServer::for_agent(catalog, agent, audit)
        .with_traffic(limiter, settings.retry_budget)
        .with_catalog_mode(settings.catalog);
    if let Some(lookup) = scope_lookup {
        let wait = Duration::from_millis(cli.settings.scopes_wait_ms);
        server = server.with_scope_lookup(lookup, wait);
    }
    if let Some(log) = events_log {
        server = server.with_events(log);
    }
    if let Some(approvals) = approvals {
        server = server.with_approvals(approvals);
    }
    match cli.command {
        Command::Serve { .. } => serve_stdio(server, &banner).await,
        Command::Sandbox { .. }
        | Command::Audit { .. }
        | Command::Approvals { .. }
        | Command::Console { .. }
        | Command::Key { .. }
        | Command::Bots { .. }
        | Command::Bundle { .. }
        | Command::Healthcheck { .. }
        | Command::Webhooks { .. } => Ok(ExitCode::SUCCESS),
        Command::Tools { json, .. } => {
            emit(&tool_listing(&server, json));
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor => {
            emit(&doctor_report(
                &server,
                &settings,
                scopes_note.as_deref(),
                cli.settings.policy.as_deref(),
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Call { tool, arguments } => call(server, &tool, arguments.as_deref()).await,
    }
}

/// `key new AGENT`: the key on stdout's first line, then the policy line to paste.
fn new_key(agent: &str) -> ExitCode {
    if let Err(why) = crate::policy::check_agent_name(agent) {
        eprintln!("error: agent name `{agent}` {why}");
        return ExitCode::from(2);
    }
    let key = crate::http::new_key();
    emit(&format!(
        "{key}\nkey_sha256 = \"{}\"\n",
        crate::policy::key_sha256(&key)
    ));
    if agent == "admin" {
        eprintln!(
            "livechat-mcp: the first line is the admin key: it signs in to the console and reads /metrics; it is stored nowhere, so keep it now. Put the `key_sha256` line in the policy under `[admin]` (or its value in LIVECHAT_MCP_ADMIN_KEY_SHA256)."
        );
    } else {
        eprintln!(
            "livechat-mcp: the first line is agent `{agent}`'s key: give it to the agent's client as `Authorization: Bearer <key>`; it is stored nowhere, so keep it now. Put the `key_sha256` line in the policy under `[agents.{agent}]`."
        );
    }
    ExitCode::SUCCESS
}

/// Reads the token's scopes so tools it cannot use are hidden; returns a note when they
/// could not be read (then every tool is kept).
async fn read_scopes(agent: &mut Agent) -> Option<String> {
    match agent.client.token_scopes().await {
        Ok(scopes) => {
            agent.token_scopes = Some(scopes);
            None
        }
        Err(why) => Some(format!(
            "could not read the token's scopes ({why}); no tool is hidden for lack of them"
        )),
    }
}

/// `webhooks sync | status`, as the agent `webhooks-sync` (webhooks area only) with the
/// server's credentials; every call is audited.
async fn run_webhooks(
    action: &WebhooksAction,
    args: &SettingsArgs,
    settings: &crate::config::Settings,
) -> anyhow::Result<ExitCode> {
    use crate::webhook_setup::{self, SYNCER, Target};
    let client_id = args.client_id.clone().unwrap_or_default();
    let target = match action {
        WebhooksAction::Sync { url, .. } => {
            let secret = std::env::var("LIVECHAT_MCP_WEBHOOK_SECRET").unwrap_or_default();
            match Target::new(url, &client_id, &secret) {
                Ok(target) => Some(target),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        WebhooksAction::Status if client_id.trim().is_empty() => {
            eprintln!(
                "error: webhooks belong to an app's client ID: give it with --client-id or LIVECHAT_CLIENT_ID"
            );
            return Ok(ExitCode::from(2));
        }
        WebhooksAction::Status => None,
    };
    let audit = open_audit(args).await?;
    let server =
        LiveChatServer::for_operator(SYNCER, crate::tools::Area::Webhooks, settings, audit)?;
    let Some(target) = target else {
        return match webhook_setup::status(&server, &client_id, settings.version).await {
            Ok(text) => {
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e}");
                Ok(ExitCode::from(1))
            }
        };
    };
    let steps = match webhook_setup::plan(&server, &target, settings.version).await {
        Ok(steps) => steps,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if matches!(action, WebhooksAction::Sync { dry_run: true, .. }) {
        for step in &steps {
            println!("{}", step.describe(false));
        }
        println!("dry run: nothing was registered or changed");
        return Ok(ExitCode::SUCCESS);
    }
    match webhook_setup::apply(&server, &target, &steps).await {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err((lines, e)) => {
            for line in lines {
                println!("{line}");
            }
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The agents' bots, when the policy has bot agents: the bot file beside the audit key. `None`
/// (with a warning) when there is none to read; those agents' calls then say why.
async fn bot_directory(
    settings: &SettingsArgs,
    policy: Option<&Policy>,
) -> Option<Arc<crate::bots::BotDirectory>> {
    let policy = policy?;
    if crate::bots::provision::wanted(policy).is_empty() {
        return None;
    }
    let setting = settings.audit.as_deref();
    if setting == Some("off") {
        eprintln!(
            "livechat-mcp: warning: the policy's bot agents cannot act: their secrets are kept with the audit trail's key, and the audit trail is off"
        );
        return None;
    }
    let opened = async {
        let location = audit_location(setting).map_err(|e| e.to_string())?;
        let store = AuditStore::open_with(&location, &audit_files(settings), Opening::Read).await?;
        crate::bots::BotDirectory::open(
            store.key_path(),
            settings.client_id.clone(),
            settings.organization_id.clone(),
        )
    };
    match opened.await {
        Ok(bots) => Some(Arc::new(bots)),
        Err(why) => {
            eprintln!("livechat-mcp: warning: the policy's bot agents cannot act: {why}");
            None
        }
    }
}

/// `doctor`: what this agent gets, and why each tool is or is not usable.
fn doctor_report(
    server: &LiveChatServer,
    settings: &Settings,
    scopes_note: Option<&str>,
    policy: Option<&std::path::Path>,
) -> String {
    let agent = server.agent();
    let mut out = format!(
        "agent: {}{}\nLiveChat: {} (API v{})\n",
        agent.name,
        policy
            .map(|p| format!(" (policy {})", p.display()))
            .unwrap_or_else(|| " (no policy file: --access)".to_string()),
        settings.api_url,
        server.version()
    );
    out.push_str(&format!("LiveChat identity: {}\n", agent.identity.as_str()));
    if let crate::agent::Identity::Bot(_) = agent.identity {
        out.push_str("events: webhooks only (LiveChat does not let a bot use the RTM API, so --events rtm cannot serve this agent)\n");
    }
    out.push_str("grants:");
    for (area, level) in agent.grants.describe() {
        out.push_str(&format!(" {}={}", area.as_str(), level.as_str()));
    }
    out.push('\n');
    match (&agent.token_scopes, scopes_note) {
        (Some(scopes), _) => out.push_str(&format!(
            "token scopes: {}\n",
            scopes
                .listed()
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (None, Some(note)) => out.push_str(&format!("token scopes: unknown ({note})\n")),
        (None, None) => out.push_str("token scopes: not checked (sandbox)\n"),
    }
    let mut usable = Vec::new();
    let mut by_policy = Vec::new();
    let mut by_scopes = Vec::new();
    for (spec, verdict) in server.verdicts() {
        match verdict {
            Ok(()) => usable.push(spec.name),
            Err(Denial::MissingScopes) => by_scopes.push(spec.name),
            Err(_) => by_policy.push(spec.name),
        }
    }
    for (label, names) in [
        ("usable", usable),
        ("hidden by policy", by_policy),
        ("hidden by scopes", by_scopes),
    ] {
        out.push_str(&format!(
            "{label} ({}): {}\n",
            names.len(),
            names.join(", ")
        ));
    }
    out
}

async fn serve_stdio(server: LiveChatServer, sandbox: &str) -> anyhow::Result<ExitCode> {
    if std::io::stdin().is_terminal() {
        let upstream = if sandbox.is_empty() {
            String::new()
        } else {
            format!(" on the embedded SANDBOX, no real LiveChat ({sandbox})")
        };
        eprintln!(
            "livechat-mcp {}: an MCP server speaking over stdio, waiting for a client (LiveChat API v{}, {} tools{upstream}). Configure a client with mcp.json from the project; Ctrl-C to stop.",
            env!("CARGO_PKG_VERSION"),
            server.version(),
            server.specs().count()
        );
    } else if !sandbox.is_empty() {
        tracing::info!("serving on the embedded sandbox: {sandbox}");
    }
    let stdio = crate::stdio::guarded();
    let calls = server.clone();
    let running = server
        .serve(stdio.transport)
        .await
        .context("the MCP session did not start")?;
    running.waiting().await.context("the MCP session failed")?;
    // The client is gone; rmcp cancelled what it had not answered. A cancelled read records
    // at once; a write already sent is left to finish, so wait for its outcome to be recorded
    // (a request ends within its timeout).
    if !calls.settled(calls.longest_call()).await {
        tracing::warn!(
            "calls were still running at exit; the next start records them as `unknown`"
        );
    }
    // The session is over; let the last answers reach stdout.
    let (reader, writer) = stdio.tasks;
    reader.abort();
    let _ = writer.await;
    Ok(ExitCode::SUCCESS)
}

/// `sandbox`: the emulator as an HTTP server, until Ctrl-C.
async fn run_sandbox(
    settings: &SettingsArgs,
    listen: SocketAddr,
    print_seed: bool,
) -> anyhow::Result<ExitCode> {
    if print_seed {
        emit(&format!("{}\n", Sandbox::default_seed_json()));
        return Ok(ExitCode::SUCCESS);
    }
    let sandbox = Sandbox::new(settings.sandbox_options())?;
    let summary = sandbox.summary();
    let handle = sandbox.spawn(listen).await?;
    eprintln!(
        "LiveChat sandbox listening on {} ({summary}). Point livechat-mcp at it with --api-url {} and any LIVECHAT_ACCESS_TOKEN; Ctrl-C to stop.",
        handle.url, handle.url
    );
    tokio::select! {
        result = handle.wait() => result?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// `sandbox customer`: one customer call to a running sandbox; prints the new IDs.
async fn run_customer(
    url: &str,
    version: ApiVersion,
    customer: &str,
    action: CustomerAction,
) -> anyhow::Result<ExitCode> {
    let client = crate::sandbox::customer_client::CustomerClient::new(url, version, customer)?;
    let out = match action {
        CustomerAction::Start { text } => client.start(&text).await?,
        CustomerAction::Say { chat_id, text } => client.say(&chat_id, &text).await?,
    };
    emit(&format!("{out}\n"));
    Ok(ExitCode::SUCCESS)
}

/// The `tools` listing: a table, or JSON lines.
pub fn tool_listing(server: &LiveChatServer, json: bool) -> String {
    let mut out = String::new();
    for spec in server.specs() {
        let first = spec.summary();
        if json {
            let line = serde_json::json!({
                "name": spec.name,
                "area": spec.area.as_str(),
                "access": spec.access.as_str(),
                "description": first,
            });
            out.push_str(&format!("{line}\n"));
        } else {
            out.push_str(&format!(
                "{:<28} {:<16} {:<6} {first}\n",
                spec.name,
                spec.area.as_str(),
                spec.access.as_str()
            ));
        }
    }
    out
}

/// `call`: runs an in-process MCP client against the server over a pipe, so the call takes
/// exactly the path a real client's would.
async fn call(
    server: LiveChatServer,
    tool: &str,
    arguments: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let arguments = match arguments.map(serde_json::from_str::<Value>) {
        None => serde_json::Map::new(),
        Some(Ok(Value::Object(map))) => map,
        Some(Ok(_)) => {
            eprintln!("error: the arguments must be a JSON object, e.g. '{{\"limit\": 5}}'");
            return Ok(ExitCode::from(2));
        }
        Some(Err(e)) => {
            eprintln!("error: the arguments are not valid JSON: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let server_task = tokio::spawn(async move {
        match server.serve(server_io).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::error!("in-process server failed: {e}"),
        }
    });
    let client = ().serve(client_io).await.context("in-process MCP client")?;
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await;
    let _ = client.cancel().await;
    server_task.abort();
    let result = result.context("the tool call failed at the protocol level")?;
    let text = || {
        result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if result.is_error == Some(true) {
        eprintln!("{}", text());
        return Ok(ExitCode::from(1));
    }
    // The answer is the first text block, JSON, shown indented for people; a note after it
    // (customer text) goes to stderr, so stdout stays one JSON document.
    let mut blocks = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()));
    let text = blocks.next().unwrap_or_default();
    for note in blocks {
        eprintln!("livechat-mcp: {note}");
    }
    let output = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) => serde_json::to_string_pretty(&value)?,
        Err(_) => text,
    };
    emit(&format!("{output}\n"));
    Ok(ExitCode::SUCCESS)
}
