//! `livechat-mcp console --listen ADDR`: the console alone, on the policy file and audit store
//! a `serve --http` elsewhere uses. Its saves reach that server through the file, which it
//! re-reads when it changes.

use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use clap::Args;

use super::SettingsArgs;
use super::trail::{audit_files, audit_location};
use crate::{
    console::{ConsoleState, Sessions},
    http::AllowedHosts,
    policy::file::PolicyFile,
};

/// `console` options.
#[derive(Clone, Debug, Args)]
pub struct ConsoleArgs {
    /// Serve the console on ADDR (`127.0.0.1:8001`, or a port alone for 127.0.0.1).
    #[arg(long, value_name = "ADDR", value_parser = crate::http::parse_listen)]
    pub listen: SocketAddr,
    /// A public name the console is reached by; may be repeated. Loopback names are always
    /// allowed; any other `Host` gets 403.
    #[arg(
        long = "allowed-host",
        env = "LIVECHAT_MCP_ALLOWED_HOSTS",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// SHA-256 hex of the admin key (instead of `[admin] key_sha256` in the policy).
    #[arg(
        long,
        env = "LIVECHAT_MCP_ADMIN_KEY_SHA256",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub admin_key_sha256: Option<String>,
}

/// Runs the console until Ctrl-C or SIGTERM.
pub(super) async fn run(args: &ConsoleArgs, settings: &SettingsArgs) -> anyhow::Result<ExitCode> {
    let Some(path) = &settings.policy else {
        eprintln!(
            "error: `console` needs --policy FILE (LIVECHAT_MCP_POLICY): the console grants access by editing it"
        );
        return Ok(ExitCode::from(2));
    };
    let policy = PolicyFile::open(path).map_err(anyhow::Error::msg)?;
    let admin_key_override = crate::http::admin_key_override(args.admin_key_sha256.as_deref())
        .map_err(anyhow::Error::msg)?;
    let (audit, approvals, events) = if settings.audit.as_deref() == Some("off") {
        (None, None, None)
    } else {
        let location = audit_location(settings.audit.as_deref())?;
        let trail = super::approvals::open_trail(&location, &audit_files(settings)).await?;
        let approvals = crate::approvals::Approvals::open(&location)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .with_ttl(Duration::from_secs(settings.approval_ttl_secs));
        let events = crate::events::EventLog::open_beside_audit(&location, Default::default())
            .await
            .ok();
        (Some(trail), Some(approvals), events)
    };
    let mut names = args.allowed_hosts.clone();
    if args.listen.ip().is_loopback() && !AllowedHosts::is_default_loopback(args.listen.ip()) {
        names.push(args.listen.ip().to_string());
    }
    let hosts = AllowedHosts::new(&names).map_err(anyhow::Error::msg)?;
    let state = Arc::new(ConsoleState {
        policy: policy.clone(),
        admin_key_override,
        audit,
        approvals,
        events,
        metrics: None,
        hosts,
        sessions: Sessions::default(),
    });
    if state.admin_key_sha256().is_none() {
        eprintln!(
            "livechat-mcp: warning: no admin key is set, so nobody can sign in: make one with `livechat-mcp key new admin` and put its SHA-256 under `[admin] key_sha256` in the policy or in LIVECHAT_MCP_ADMIN_KEY_SHA256"
        );
    }
    let stop = tokio_util::sync::CancellationToken::new();
    policy.watch(stop.clone(), |_| {}, |why| {
        eprintln!("livechat-mcp: warning: the policy file changed but does not parse; the console shows the last good one: {why}");
    });
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    eprintln!(
        "livechat-mcp {}: the console at http://{local}/console, on {}; Ctrl-C or SIGTERM to stop.",
        env!("CARGO_PKG_VERSION"),
        policy.label()
    );
    crate::http::serve_app(
        listener,
        crate::console::console_app(state),
        crate::http::shutdown_signal(),
    )
    .await;
    stop.cancel();
    Ok(ExitCode::SUCCESS)
}
