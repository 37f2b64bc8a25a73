//! The console: web pages at `/console` where a team lead grants each AI agent its access,
//! reads and verifies the audit trail, decides held calls, and watches the help desk. Served by
//! `serve --http` beside MCP, or alone by `livechat-mcp console --listen ADDR` on the same
//! policy file and audit store. HTML is rendered on the server from templates compiled into
//! the binary; nothing loads from outside it.

mod access;
mod approvals;
mod assets;
mod auth;
mod live;
mod trail;

use std::sync::Arc;

use askama::Template;
use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};

use crate::{
    approvals::Approvals, audit::AuditStore, events::EventLog, http::AllowedHosts, http::Metrics,
    policy::file::PolicyFile,
};

pub use auth::Sessions;

/// Everything the console reads and changes.
pub struct ConsoleState {
    /// The policy file: the grid shows it and saves to it; the server serving agents applies
    /// every saved version at once.
    pub policy: PolicyFile,
    /// SHA-256 of the admin key from `LIVECHAT_MCP_ADMIN_KEY_SHA256`, which wins over the
    /// policy's `[admin] key_sha256`.
    pub admin_key_override: Option<String>,
    pub audit: Option<AuditStore>,
    pub approvals: Option<Approvals>,
    pub events: Option<EventLog>,
    /// The serving server's metrics; `None` when the console runs alone.
    pub metrics: Option<Arc<Metrics>>,
    /// The `Host` names the console answers to (the DNS-rebinding check).
    pub hosts: AllowedHosts,
    pub sessions: Sessions,
}

impl ConsoleState {
    /// SHA-256 of the admin key in force now: the override, else the policy's.
    pub fn admin_key_sha256(&self) -> Option<String> {
        self.admin_key_override
            .clone()
            .or_else(|| self.policy.current().admin_key_sha256().map(str::to_string))
    }
}

/// The console's routes, all under `/console`. Pages need a signed-in session; every change is
/// a POST with the session's CSRF token.
pub fn console_app(state: Arc<ConsoleState>) -> Router {
    let signed_in = Router::new()
        .merge(access::routes())
        .merge(trail::routes())
        .merge(approvals::routes())
        .merge(live::routes())
        .route("/console/sign-out", axum::routing::post(auth::sign_out))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_session,
        ));
    Router::new()
        .route(
            "/console/sign-in",
            get(auth::sign_in_page).post(auth::sign_in),
        )
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .merge(assets::routes())
        .merge(signed_in)
        .layer(middleware::from_fn(secure_headers))
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .with_state(state)
}

/// The DNS-rebinding check: a page from another site that reaches the console through a name
/// it does not answer to gets 403, as on the MCP routes.
async fn check_host(
    State(state): State<Arc<ConsoleState>>,
    request: Request,
    next: Next,
) -> Response {
    match state.hosts.check(request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(why) => (StatusCode::FORBIDDEN, why).into_response(),
    }
}

/// Pages are never cached or framed, run only the console's own script and style, and send no
/// referrer to another site. Not `no-referrer`: under it a browser sends `Origin: null` with
/// every form it posts, and the Host/Origin check refuses them all, sign-in included (found
/// by the browser test, `tests/console_browser.rs`).
async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// What every page's frame needs: which page it is (for the navigation), the CSRF token of a
/// signed-in session (`None` on the sign-in page), and a one-line status to show.
pub(crate) struct Chrome {
    pub page: &'static str,
    pub csrf: Option<String>,
    pub flash: Option<String>,
}

impl Chrome {
    pub fn new(page: &'static str, session: &auth::Session) -> Chrome {
        Chrome {
            page,
            csrf: Some(session.csrf.clone()),
            flash: None,
        }
    }

    #[allow(dead_code)] // the pages that show a status line use it
    pub fn with_flash(mut self, flash: Option<String>) -> Chrome {
        self.flash = flash.filter(|f| !f.is_empty());
        self
    }
}

/// A page, or the error page when rendering failed.
pub(crate) fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!("console: a page failed to render: {error}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html", config = "src/console/askama.toml")]
struct ErrorPage<'a> {
    chrome: Chrome,
    heading: &'a str,
    message: &'a str,
}

/// An error as a page of the console: `status`, a heading and a message in plain words.
pub(crate) fn error_page(
    status: StatusCode,
    session: Option<&auth::Session>,
    heading: &str,
    message: &str,
) -> Response {
    let chrome = Chrome {
        page: "",
        csrf: session.map(|s| s.csrf.clone()),
        flash: None,
    };
    let mut response = render(&ErrorPage {
        chrome,
        heading,
        message,
    });
    *response.status_mut() = status;
    response
}
