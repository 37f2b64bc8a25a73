//! The sandbox as an HTTP server that speaks the LiveChat Web API paths:
//! `POST /v{3.5|3.6}/{agent|configuration}/action/{method}` with a JSON body (a
//! `multipart/form-data` one for `upload_file`) and an `Authorization: Basic …` or `Bearer …`
//! header (any credentials are accepted; a token from `issue_bot_token` makes the call the
//! bot's), but for `list_webhook_names`, which LiveChat serves without one.
//!
//! It also serves the Customer Chat API's `start_chat` and `send_event` at
//! `POST /v{3.5|3.6}/customer/action/{method}?organization_id=…&customer_id=…` with any
//! `Authorization: Bearer …`: `customer_id` is the sandbox's stand-in for the customer's
//! access token, naming the customer who calls.
//!
//! After each request it hands the webhook deliveries the call made to the [`Courier`],
//! which POSTs them in the background.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State as Shared},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
};
use serde_json::Value;

use super::{
    config_agents, config_bots, customer_chat,
    error::{LcError, LcResult},
    methods, multipart,
    outbox::Courier,
    state::{Payload, State},
    uploads::MAX_UPLOAD_BYTES,
};
use crate::{scopes::Granted, tools::Api, version::ApiVersion};

/// The state every request shares.
pub type SharedState = Arc<Mutex<State>>;

/// What the routes share: the state, and the courier that sends its webhook deliveries
/// (without one they stay in the state's outbox).
#[derive(Clone)]
pub struct App {
    pub state: SharedState,
    pub courier: Option<Courier>,
    /// The RTM connections' switch.
    pub rtm: super::rtm::RtmHub,
}

/// The router: every method path, and an error envelope for anything else.
pub fn router(state: App) -> Router {
    Router::new()
        .route("/{version}/{api}/action/{method}", any(action))
        .route("/{version}/agent/rtm/ws", any(super::rtm::upgrade))
        .route("/v2/info", any(token_info))
        .fallback(fallback)
        // Room for a 10 MB upload and then some, so that a file over LiveChat's limit gets
        // LiveChat's `entity_too_large` rather than a bare 413.
        .layer(DefaultBodyLimit::max(2 * MAX_UPLOAD_BYTES))
        .with_state(state)
}

async fn action(
    Shared(app): Shared<App>,
    Path((version, api, method)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
    http_method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = Request {
        version: &version,
        api: &api,
        method: &method,
        query: &query,
        http_method: &http_method,
        headers: &headers,
        body: &body,
    };
    let result = serve(&app, &request);
    match &result {
        Ok(_) => tracing::debug!(%version, %api, %method, "sandbox call"),
        Err((_, e)) => tracing::debug!(%version, %api, %method, error = %e, "sandbox call failed"),
    }
    match result {
        Ok(value) => (StatusCode::OK, Json(value)).into_response(),
        Err((status, e)) => (status, Json(e.envelope())).into_response(),
    }
}

/// The accounts service's token introspection (`GET /v2/info`), so `--accounts-url` can point
/// at the sandbox: `scope` is the token's scopes as one comma-separated string.
async fn token_info(Shared(app): Shared<App>, headers: HeaderMap) -> Response {
    if let Err(e) = authenticate(&headers) {
        let (status, e) = fail(e);
        return (status, Json(e.envelope())).into_response();
    }
    let listed = |granted: &Granted| {
        granted
            .listed()
            .map(|l| l.map(str::to_string).collect::<Vec<_>>())
    };
    let granted = match app.state.lock() {
        Ok(state) => listed(&state.scopes),
        Err(poisoned) => listed(&poisoned.into_inner().scopes),
    };
    // A token with every scope lists each scope the emulated methods check.
    let scopes = granted.unwrap_or_else(|| {
        let every: std::collections::BTreeSet<&str> = methods::METHODS
            .iter()
            .map(|m| m.scopes)
            .chain([
                config_agents::SKIP_APPROVAL,
                config_agents::ROLE_ABOVE_NORMAL,
            ])
            .flat_map(|r| r.scopes())
            .collect();
        every.into_iter().map(str::to_string).collect()
    });
    let body = serde_json::json!({
        "account_id": "sandbox-account",
        "organization_id": config_bots::ORGANIZATION_ID,
        "expires_in": 28800,
        "scope": scopes.join(","),
        "token_type": "Bearer",
    });
    (StatusCode::OK, Json(body)).into_response()
}

type Failure = (StatusCode, LcError);

fn fail(e: LcError) -> Failure {
    (
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
        e,
    )
}

/// One request to a method path.
struct Request<'a> {
    version: &'a str,
    api: &'a str,
    method: &'a str,
    query: &'a BTreeMap<String, String>,
    http_method: &'a Method,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

fn serve(app: &App, r: &Request) -> Result<Value, Failure> {
    let method = r.method;
    // A method that needs no scope (`list_webhook_names`) LiveChat serves without credentials;
    // an upload is kept for the license the credentials name, so it needs them.
    let open = r.api != "customer"
        && methods::find(method).is_some_and(|m| m.scopes.is_empty() && m.form.is_none());
    if !open {
        authenticate(r.headers).map_err(fail)?;
    }
    if r.http_method != Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            LcError::validation(format!(
                "Use POST: every LiveChat Web API method is a POST with a JSON body (got {})",
                r.http_method
            )),
        ));
    }
    let version = match r.version.strip_prefix('v').map(str::parse::<ApiVersion>) {
        Some(Ok(v)) => v,
        _ => {
            return Err(fail(LcError::new(
                "unsupported_version",
                format!(
                    "Cannot call unsupported API versions: `{}`; the sandbox speaks v3.5 and v3.6",
                    r.version
                ),
            )));
        }
    };
    let api = match r.api {
        "agent" => Api::Agent,
        "configuration" => Api::Configuration,
        "customer" => return serve_customer(app, version, r),
        other => {
            return Err(fail(LcError::not_found(format!(
                "Unknown API `{other}`: use `agent`, `configuration` or `customer`"
            ))));
        }
    };
    let content_type = r
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (json, form);
    let payload = if multipart::is_form(content_type) {
        form = multipart::parse(content_type, r.body).map_err(fail)?;
        Payload::Form(&form)
    } else {
        json = parse_body(r.body).map_err(fail)?;
        Payload::Json(&json)
    };
    let bearer = bearer(r.headers);
    with_state(app, |state| {
        state.handle_with(bearer, version, api, method, payload)
    })
    .map_err(fail)
}

/// The Customer Chat API: a `Bearer` token, `organization_id` and the sandbox's
/// `customer_id` naming who calls.
fn serve_customer(app: &App, version: ApiVersion, r: &Request) -> Result<Value, Failure> {
    customer_chat::customer_lookup(version, r.method).map_err(fail)?;
    if bearer(r.headers).is_none_or(str::is_empty) {
        return Err(fail(LcError::authentication(
            "The customer API takes `Authorization: Bearer <customer access token>` (the sandbox accepts any)",
        )));
    }
    match r.query.get("organization_id").map(String::as_str) {
        Some(config_bots::ORGANIZATION_ID) => {}
        Some(other) => {
            return Err(fail(LcError::validation(format!(
                "`organization_id`: `{other}` is not this license's organization (`{}`)",
                config_bots::ORGANIZATION_ID
            ))));
        }
        None => {
            return Err(fail(LcError::validation(format!(
                "The `organization_id` query parameter is required (this license's is `{}`)",
                config_bots::ORGANIZATION_ID
            ))));
        }
    }
    let Some(customer) = r.query.get("customer_id") else {
        return Err(fail(LcError::authentication(
            "The sandbox needs the `customer_id` query parameter to know which customer calls (LiveChat reads it from the customer's access token)",
        )));
    };
    let body = parse_body(r.body).map_err(fail)?;
    with_state(app, |state| {
        state.handle_customer(version, customer, r.method, &body)
    })
    .map_err(fail)
}

/// Runs `f` under the state's lock, then hands the deliveries it made to the courier once
/// the lock is released.
pub(super) fn with_state<T>(app: &App, f: impl FnOnce(&mut State) -> T) -> T {
    let mut state = app
        .state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let out = f(&mut state);
    let deliveries = match &app.courier {
        Some(_) => state.take_deliveries(),
        None => Vec::new(),
    };
    drop(state);
    if let Some(courier) = &app.courier {
        courier.send(deliveries);
    }
    out
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let text = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Any `Basic` or `Bearer` credentials pass; none is an `authentication` error.
fn authenticate(headers: &HeaderMap) -> LcResult<()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(LcError::authentication("No `Authorization` header"));
    };
    let text = value.to_str().unwrap_or_default().trim();
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    let scheme_ok = scheme.eq_ignore_ascii_case("basic") || scheme.eq_ignore_ascii_case("bearer");
    if !scheme_ok || token.trim().is_empty() {
        return Err(LcError::authentication(
            "Invalid access token: send `Authorization: Basic <credentials>` or `Bearer <token>`",
        ));
    }
    Ok(())
}

fn parse_body(body: &[u8]) -> LcResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body)
        .map_err(|e| LcError::validation(format!("The request body is not valid JSON: {e}")))
}

async fn fallback(method: Method, uri: axum::http::Uri) -> Response {
    let e = LcError::not_found(format!(
        "No such path: {method} {uri}; LiveChat methods are POST /v3.6/agent/action/<method>, /v3.6/configuration/action/<method> and /v3.6/customer/action/<method>"
    ));
    (StatusCode::NOT_FOUND, Json(e.envelope())).into_response()
}
