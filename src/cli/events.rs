//! Where `serve` keeps the help desk's events: the webhook receiver's log beside the audit
//! trail, and the log `--events rtm` stores into (a temporary one on the sandbox), and the RTM
//! client that feeds it.

use super::{SettingsArgs, audit_location};

/// The event log and webhook receiver of `serve --http`, when LIVECHAT_MCP_WEBHOOK_SECRET is
/// set: the log lives beside the audit trail (its file, or its PostgreSQL database).
pub(super) async fn event_intake(
    args: &SettingsArgs,
    retention: crate::events::Retention,
    audited: bool,
) -> Result<Option<crate::http::intake::EventIntake>, String> {
    let Ok(secret) = std::env::var("LIVECHAT_MCP_WEBHOOK_SECRET") else {
        return Ok(None);
    };
    crate::webhook_setup::check_secret(&secret)?;
    if !audited {
        return Err("LIVECHAT_MCP_WEBHOOK_SECRET is set, but events are kept beside the audit trail, and it is off (--audit off)".to_string());
    }
    let location = audit_location(args.audit.as_deref()).map_err(|e| e.to_string())?;
    let options = crate::events::LogOptions {
        retention,
        ..Default::default()
    };
    let log = crate::events::EventLog::open_beside_audit(&location, options)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(crate::http::intake::EventIntake {
        log,
        secret: Some(crate::config::Secret::new(secret)),
    }))
}

/// The sandbox's own event log's directory, removed when the run ends: its events are of a
/// pretend license and never mix into a real log.
pub(super) struct TempEvents(std::path::PathBuf);

impl Drop for TempEvents {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The log `--events rtm` stores into: beside the audit trail (which must be on, as for
/// webhooks); on the sandbox, a log of its own in a temporary directory.
pub(super) async fn rtm_log(
    args: &SettingsArgs,
    retention: crate::events::Retention,
    audited: bool,
) -> Result<(crate::events::EventLog, Option<TempEvents>), String> {
    let options = crate::events::LogOptions {
        retention,
        ..Default::default()
    };
    if args.sandbox {
        let dir = std::env::temp_dir().join(format!(
            "livechat-mcp-sandbox-events-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| {
            format!(
                "cannot make the sandbox's event directory {}: {e}",
                dir.display()
            )
        })?;
        let guard = TempEvents(dir.clone());
        let path = dir.join("events.db");
        let log = tokio::task::spawn_blocking(move || {
            crate::events::EventLog::open_sqlite(&path, options)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        return Ok((log, Some(guard)));
    }
    if !audited {
        return Err(
            "--events rtm keeps events beside the audit trail, and it is off (--audit off)"
                .to_string(),
        );
    }
    let location = audit_location(args.audit.as_deref()).map_err(|e| e.to_string())?;
    let log = crate::events::EventLog::open_beside_audit(&location, options)
        .await
        .map_err(|e| e.to_string())?;
    Ok((log, None))
}

/// Starts the RTM client: the URL follows `client`'s Web API URL and version; the
/// organization is the sandbox's, `--organization-id`, or read from the accounts service
/// with `client`'s credentials.
pub(super) async fn start_rtm(
    args: &SettingsArgs,
    client: &crate::client::ApiClient,
    credentials: crate::config::Credentials,
    log: crate::events::EventLog,
) -> Result<crate::events::rtm::RtmHandle, String> {
    let organization = if args.sandbox {
        crate::sandbox::ORGANIZATION_ID.to_string()
    } else if let Some(id) = args
        .organization_id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
    {
        id.trim().to_string()
    } else {
        client.organization_id().await.map_err(|e| {
            format!("--events rtm needs the organization ID for the RTM URL: give --organization-id (LIVECHAT_ORGANIZATION_ID), or let it be read from the accounts service ({e})")
        })?
    };
    let url = crate::events::rtm::rtm_url(client.api_url(), client.version(), &organization)?;
    Ok(crate::events::rtm::spawn(
        crate::events::rtm::RtmOptions {
            url,
            version: client.version(),
            credentials,
            backoff: crate::events::rtm::Backoff::default(),
            ping_every: crate::events::rtm::PING_EVERY,
        },
        log,
    ))
}
