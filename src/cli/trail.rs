//! The audit trail as the command line opens it (`--audit`, its key and anchor files), and
//! `livechat-mcp audit`: the listing, `verify` and `anchor`.

use std::process::ExitCode;

use crate::audit::{self, AuditFiles, AuditStore, Decision, Opening, QueryFilter};

use super::{AuditAction, SettingsArgs, emit};

/// Opens the audit trail `--audit` names (default under the user's data directory) to record
/// calls, and gives the calls a crashed server left pending their outcome, `unknown`; or none
/// with `off`.
pub(super) async fn open_audit(settings: &SettingsArgs) -> anyhow::Result<Option<AuditStore>> {
    let setting = settings.audit.as_deref();
    if setting == Some("off") {
        eprintln!(
            "livechat-mcp: warning: the audit trail is off (--audit off): calls are not recorded"
        );
        return Ok(None);
    }
    let location = audit_location(setting)?;
    let store = AuditStore::open_with(&location, &audit_files(settings), Opening::Append)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the audit trail {}: {e}",
                audit::describe_location(&location)
            )
        })?;
    let recovered = store.recover().await.map_err(anyhow::Error::msg)?;
    if !recovered.is_empty() {
        eprintln!(
            "livechat-mcp: the audit trail had {} calls left pending by a server that stopped; their outcome is recorded as unknown (see `livechat-mcp audit`)",
            recovered.len()
        );
    }
    Ok(Some(store))
}

/// The trail `--audit` names, or the default file.
pub(super) fn audit_location(setting: Option<&str>) -> anyhow::Result<String> {
    match setting {
        Some(location) => Ok(location.to_string()),
        None => Ok(audit::default_path()
            .map_err(anyhow::Error::msg)?
            .display()
            .to_string()),
    }
}

pub(super) fn audit_files(settings: &SettingsArgs) -> AuditFiles {
    AuditFiles {
        key: settings.audit_key.clone(),
        anchor: settings.audit_anchor.clone(),
    }
}

pub(super) struct AuditQuery {
    pub(super) agent: Option<String>,
    pub(super) tool: Option<String>,
    pub(super) decision: Option<Decision>,
    pub(super) since: Option<String>,
    pub(super) limit: usize,
    pub(super) json: bool,
}

/// `audit` and `audit verify`.
pub(super) async fn run_audit(
    settings: &SettingsArgs,
    action: Option<&AuditAction>,
    query: AuditQuery,
) -> anyhow::Result<ExitCode> {
    if settings.audit.as_deref() == Some("off") {
        eprintln!("error: the audit trail is off (--audit off); name its file with --audit PATH");
        return Ok(ExitCode::from(2));
    }
    let location = audit_location(settings.audit.as_deref())?;
    if !audit::is_postgres_url(&location) && !std::path::Path::new(&location).exists() {
        eprintln!("error: no audit trail at {location}");
        return Ok(ExitCode::from(1));
    }
    let store = AuditStore::open_with(&location, &audit_files(settings), Opening::Read)
        .await
        .map_err(anyhow::Error::msg)?;
    if let Some(action) = action {
        let copy = match action {
            AuditAction::Verify { anchor } => anchor.as_ref(),
            AuditAction::Anchor => None,
        };
        let rows = match store.verify(copy).await {
            Ok(rows) => rows,
            Err(why) => {
                eprintln!("{why}");
                return Ok(ExitCode::from(1));
            }
        };
        match action {
            AuditAction::Verify { .. } if rows == 0 => {
                println!(
                    "audit trail empty: nothing recorded yet ({})",
                    store.location()
                );
            }
            AuditAction::Verify { anchor } => println!(
                "audit trail intact: {rows} rows; every MAC checks under the key {}; the anchor {}{} matches ({})",
                store.key_path().display(),
                store.anchor_path().display(),
                if anchor.is_some() {
                    " and the one given"
                } else {
                    ""
                },
                store.location()
            ),
            AuditAction::Anchor => match store.anchor().await.map_err(anyhow::Error::msg)? {
                Some(anchor) => println!("{anchor}"),
                None => {
                    eprintln!("error: the audit trail is empty: there is nothing to anchor yet");
                    return Ok(ExitCode::from(1));
                }
            },
        }
        return Ok(ExitCode::SUCCESS);
    }
    let since = match query.since.as_deref() {
        Some(s) => match audit::parse_since(s, chrono::Utc::now()) {
            Ok(t) => Some(t),
            Err(why) => {
                eprintln!("error: --since: {why}");
                return Ok(ExitCode::from(2));
            }
        },
        None => None,
    };
    let filter = QueryFilter {
        agent: query.agent,
        tool: query.tool,
        decision: query.decision,
        since,
        limit: query.limit,
        ..QueryFilter::default()
    };
    let entries = store.query(&filter).await.map_err(anyhow::Error::msg)?;
    let format = if query.json {
        audit::Format::JsonLines
    } else {
        audit::Format::Sentences
    };
    emit(&audit::render(&entries, format));
    Ok(ExitCode::SUCCESS)
}
