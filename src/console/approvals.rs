//! The approvals page: the held calls waiting for a person, with what each would do and the
//! arguments it would send, to approve or deny; and the recent decided ones. A decision here
//! is the CLI's (`livechat-mcp approvals approve|deny`): `Approvals::decide_recorded`, by
//! `console:admin`, so the trail gets the same row.

use std::{sync::Arc, time::Duration};

use askama::Template;
use axum::{
    Extension, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;

use super::{Chrome, ConsoleState, auth::Session, error_page, render};
use crate::approvals::{self, ApprovalError, Request, State as RequestState};

/// Who the trail says decided: the console has one person, the admin.
pub const DECIDER: &str = "console:admin";
/// How many decided requests the page shows.
const DECIDED_SHOWN: usize = 50;
/// The most pending requests the page lists.
const PENDING_SHOWN: u32 = 500;

pub(super) fn routes() -> Router<Arc<ConsoleState>> {
    Router::new()
        .route("/console/approvals", get(page))
        .route("/console/approvals/{id}/approve", post(approve))
        .route("/console/approvals/{id}/deny", post(deny))
}

/// One request as the page shows it.
struct Shown {
    id: String,
    agent: String,
    tool: String,
    /// `ops would ban customer b7ef… for 3 days`.
    sentence: String,
    state: &'static str,
    created: String,
    age: String,
    /// `in 14 min`, or when it lapsed or was decided.
    expires: String,
    arguments: String,
    decided: Option<String>,
    /// Whether the console may decide it (the policy named `console` among its approvers).
    console_may_decide: bool,
}

fn time_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn span(ms: i64) -> String {
    approvals::time_left(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

impl Shown {
    fn new(request: &Request, now_ms: i64) -> Shown {
        let expires = match request.state {
            RequestState::Pending | RequestState::Approved => {
                format!("in {}", span(request.expires_ms - now_ms))
            }
            _ => String::new(),
        };
        Shown {
            id: request.id.clone(),
            agent: request.agent.clone(),
            tool: request.tool.clone(),
            sentence: format!("{} would {}", request.agent, request.would),
            state: request.state.as_str(),
            created: time_of(request.created_ms),
            age: span(now_ms - request.created_ms),
            expires,
            arguments: serde_json::to_string_pretty(&request.arguments).unwrap_or_default(),
            decided: match request.state {
                RequestState::Pending => None,
                _ => Some(match (&request.decided_by, request.decided_ms) {
                    (Some(_), Some(at)) => {
                        format!("{} at {}", request.decision_words(), time_of(at))
                    }
                    (Some(_), None) => request.decision_words(),
                    (None, Some(at)) => format!("at {}", time_of(at)),
                    (None, None) => String::new(),
                }),
            },
            console_may_decide: request.approvers.iter().any(|a| a == "console"),
        }
    }
}

#[derive(Template)]
#[template(path = "approvals.html", config = "src/console/askama.toml")]
struct ApprovalsPage {
    chrome: Chrome,
    /// `false`: the console has no approvals store.
    enabled: bool,
    problem: Option<String>,
    pending: Vec<Shown>,
    decided: Vec<Shown>,
}

/// What the redirect after a decision says; built from known words, never echoed input.
#[derive(Debug, Default, Deserialize)]
struct Done {
    #[serde(default)]
    decided: String,
    #[serde(default)]
    how: String,
}

impl Done {
    fn words(&self) -> Option<String> {
        if !approvals::is_id(&self.decided) || !matches!(self.how.as_str(), "approved" | "denied") {
            return None;
        }
        Some(format!(
            "Request {} is {}; the audit trail records it.",
            self.decided, self.how
        ))
    }
}

/// `GET /console/approvals`.
async fn page(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    Query(done): Query<Done>,
) -> Response {
    let mut page = ApprovalsPage {
        chrome: Chrome::new("approvals", &session).with_flash(done.words()),
        enabled: state.approvals.is_some(),
        problem: None,
        pending: Vec::new(),
        decided: Vec::new(),
    };
    let Some(store) = &state.approvals else {
        return render(&page);
    };
    // As the CLI does before it lists: lapsed requests are expired, and recorded.
    if let Err(e) = store.expire_recorded(state.audit.as_ref()).await {
        page.problem = Some(format!("Expired requests could not be marked: {e}"));
    }
    let now = store.now_ms();
    let listed = async {
        let pending = store
            .list(Some(RequestState::Pending), PENDING_SHOWN)
            .await?;
        let recent = store
            .list(None, PENDING_SHOWN + DECIDED_SHOWN as u32)
            .await?;
        Ok::<_, ApprovalError>((pending, recent))
    }
    .await;
    match listed {
        Ok((pending, recent)) => {
            page.pending = pending.iter().map(|r| Shown::new(r, now)).collect();
            page.decided = recent
                .iter()
                .filter(|r| r.state != RequestState::Pending)
                .take(DECIDED_SHOWN)
                .map(|r| Shown::new(r, now))
                .collect();
        }
        Err(e) => {
            page.problem = Some(format!("The requests could not be read: {e}"));
            let mut response = render(&page);
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return response;
        }
    }
    render(&page)
}

/// `POST /console/approvals/{id}/approve`, form fields `csrf` and `reason` (optional).
async fn approve(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(&state, &session, &id, true, &body).await
}

/// `POST /console/approvals/{id}/deny`, form fields `csrf` and `reason` (optional).
async fn deny(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(&state, &session, &id, false, &body).await
}

async fn decide(
    state: &ConsoleState,
    session: &Session,
    id: &str,
    approve: bool,
    body: &[u8],
) -> Response {
    let refused = |status: StatusCode, heading: &str, message: &str| {
        error_page(status, Some(session), heading, message)
    };
    let Some(store) = &state.approvals else {
        return refused(
            StatusCode::NOT_FOUND,
            "No approvals",
            "This console has no approval requests: no agent's calls are held for a person.",
        );
    };
    let Some(trail) = &state.audit else {
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "No audit trail",
            "A decision is recorded in the audit trail, and this console has none, so nothing was decided.",
        );
    };
    if !approvals::is_id(id) {
        return refused(
            StatusCode::NOT_FOUND,
            "No such request",
            "That is not the id of an approval request (APR- and ten letters or digits).",
        );
    }
    let reason = form_urlencoded::parse(body)
        .find(|(name, _)| name == "reason")
        .map(|(_, value)| value.trim().to_string())
        .filter(|r| !r.is_empty());
    // As the CLI does before it decides: a lapsed request is expired first, and recorded.
    if let Err(e) = store.expire_recorded(Some(trail)).await {
        tracing::warn!("console: expired requests could not be marked: {e}");
    }
    match store
        .decide_recorded(trail, id, approve, DECIDER, reason.as_deref())
        .await
    {
        Ok(_) => {
            let how = if approve { "approved" } else { "denied" };
            Redirect::to(&format!("/console/approvals?decided={id}&how={how}")).into_response()
        }
        Err(e @ ApprovalError::NoSuchRequest(_)) => {
            refused(StatusCode::NOT_FOUND, "No such request", &e.to_string())
        }
        Err(e @ ApprovalError::NotPending { .. }) => refused(
            StatusCode::CONFLICT,
            "Already decided",
            &format!("{e}. Nothing changed."),
        ),
        Err(e @ ApprovalError::NotAnApprover { .. }) => refused(
            StatusCode::FORBIDDEN,
            "Not for the console",
            &format!("{e}. Nothing changed."),
        ),
        Err(e) => refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The decision failed",
            &e.to_string(),
        ),
    }
}
