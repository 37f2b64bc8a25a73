//! `livechat-mcp approvals`: a supervisor lists, reads, approves and denies the requests of
//! held calls, in the audit trail's database, so every server sharing it sees the decision.
//! Each decision, and each request found expired, is a row of the trail.

use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;

use crate::approvals::{Approvals, Request, State};
use crate::audit::{AuditStore, Opening};
use crate::policy::Policy;

use super::SettingsArgs;
use super::trail::audit_location;

#[derive(Debug, Subcommand)]
pub enum ApprovalsAction {
    /// The newest requests (pending and approved ones unless --all), newest first.
    List {
        /// Every request, whatever its state.
        #[arg(long)]
        all: bool,
        /// JSON lines instead of sentences.
        #[arg(long)]
        json: bool,
    },
    /// One request, with the arguments of the call it holds.
    Show {
        /// The request's id, `APR-…`.
        id: String,
    },
    /// Let the held call through, once.
    Approve {
        id: String,
        /// Why, for the audit trail (one line, at most 200 characters).
        #[arg(long)]
        reason: Option<String>,
        /// Who approves, as the trail names them (`console:NAME`); default: $USER.
        #[arg(long)]
        by: Option<String>,
    },
    /// Refuse the held call; its agent is told, with the reason.
    Deny {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        by: Option<String>,
    },
}

/// Runs `action` on the requests at `location`, recording in `trail`.
pub async fn run(
    action: &ApprovalsAction,
    location: &str,
    trail: &AuditStore,
    ttl: Duration,
) -> anyhow::Result<ExitCode> {
    let approvals = Approvals::open(location)
        .await
        .map_err(anyhow::Error::msg)?
        .with_ttl(ttl);
    approvals
        .expire_recorded(Some(trail))
        .await
        .map_err(anyhow::Error::msg)?;
    let now = approvals.now_ms();
    match action {
        ApprovalsAction::List { all, json } => {
            let mut requests = approvals
                .list(None, 200)
                .await
                .map_err(anyhow::Error::msg)?;
            if !all {
                requests.retain(|r| matches!(r.state, State::Pending | State::Approved));
            }
            for request in &requests {
                if *json {
                    println!("{}", serde_json::to_string(request)?);
                } else {
                    println!("{}", line(request, now));
                }
            }
            if requests.is_empty() && !json {
                eprintln!(
                    "livechat-mcp: no requests{}",
                    if *all {
                        ""
                    } else {
                        " waiting (--all shows every one)"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ApprovalsAction::Show { id } => {
            match approvals.get(id).await.map_err(anyhow::Error::msg)? {
                Some(request) => {
                    println!("{}", serde_json::to_string_pretty(&request)?);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!(
                        "error: {}",
                        crate::approvals::ApprovalError::NoSuchRequest(
                            id.chars().take(20).collect()
                        )
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        ApprovalsAction::Approve { id, reason, by } | ApprovalsAction::Deny { id, reason, by } => {
            let approve = matches!(action, ApprovalsAction::Approve { .. });
            let by = match supervisor(by.as_deref()) {
                Ok(by) => by,
                Err(why) => {
                    eprintln!("error: {why}");
                    return Ok(ExitCode::from(2));
                }
            };
            match approvals
                .decide_recorded(trail, id, approve, &by, reason.as_deref())
                .await
            {
                Ok(row) => {
                    println!("{}", row.summary);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// Opens the trail the decisions are recorded in.
pub async fn open_trail(
    location: &str,
    files: &crate::audit::AuditFiles,
) -> anyhow::Result<AuditStore> {
    AuditStore::open_with(location, files, Opening::Append)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the audit trail {}: {e}",
                crate::audit::describe_location(location)
            )
        })
}

/// `console:NAME`, NAME from `--by` or `$USER`; a name with characters a sentence could not
/// show plainly is refused.
fn supervisor(by: Option<&str>) -> Result<String, String> {
    let name = match by {
        Some(name) => name.to_string(),
        None => std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "operator".to_string()),
    };
    crate::policy::check_agent_name(&name)
        .map_err(|why| format!("the supervisor's name given with --by {why}"))?;
    Ok(format!("console:{name}"))
}

/// One request as a line: id, state, agent, what it would do, and its time left.
fn line(request: &Request, now_ms: i64) -> String {
    let left = Duration::from_millis(u64::try_from(request.expires_ms - now_ms).unwrap_or(0));
    let time = match request.state {
        State::Pending | State::Approved => {
            format!(" (expires in {})", crate::approvals::time_left(left))
        }
        _ => String::new(),
    };
    let decided = match (&request.state, &request.decided_by) {
        (State::Pending, _) | (_, None) => String::new(),
        _ => format!(" by {}", request.decision_words()),
    };
    format!(
        "{}  {:<8}  {} would {}{decided}{time}",
        request.id,
        request.state.as_str(),
        request.agent,
        request.would
    )
}

/// The approval requests, kept in the audit trail's database, when the policy holds some
/// agent's calls for approval; refused when the trail is off (held calls would have nowhere
/// to wait, and would all be refused).
pub(super) async fn open_approvals(
    settings: &SettingsArgs,
    policy: Option<&Policy>,
    audit: Option<&AuditStore>,
    whenever_audited: bool,
) -> Result<Option<crate::approvals::Approvals>, String> {
    let holding: Vec<&str> = policy
        .map(|p| {
            p.agents()
                .filter(|a| !a.approval.needs.is_empty())
                .map(|a| a.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    if holding.is_empty() && !(whenever_audited && audit.is_some()) {
        return Ok(None);
    }
    if audit.is_none() {
        return Err(format!(
            "the policy holds calls of {} for a person's approval (`approve`), and approval requests are kept in the audit trail's database, which is off: turn it on with --audit",
            holding.join(", ")
        ));
    }
    let location = audit_location(settings.audit.as_deref()).map_err(|e| e.to_string())?;
    let approvals = crate::approvals::Approvals::open(&location)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(
        approvals.with_ttl(Duration::from_secs(settings.approval_ttl_secs)),
    ))
}
