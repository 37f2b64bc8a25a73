//! A POST body that says it is JSON must be a JSON-RPC message: otherwise the answer is 400
//! with JSON-RPC's parse error (not JSON) or invalid request (JSON of another shape), where
//! rmcp would answer 415 as if the content type were wrong, in plain text without the id. The
//! body is read here, whole, before the request takes an in-flight permit, so a slow body holds
//! none; and a POST that would open a session is marked [`OpensSession`] for the session cap.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, JsonRpcMessage, RequestId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{HttpState, limits};

/// Marks an `initialize` POSTed without `Mcp-Session-Id`: rmcp will open a session for it.
#[derive(Clone, Copy, Debug)]
pub(super) struct OpensSession;

/// Marks a `tools/call` request, with its id, so that its client going away can cancel it.
#[derive(Clone, Debug)]
pub(super) struct ToolCall(pub(super) RequestId);

/// Reads a JSON POST body (up to the body limit), answers 400 when it is not a JSON-RPC
/// message, and otherwise passes the same bytes on.
pub(super) async fn require_json(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let says_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
    if request.method() != Method::POST || !says_json {
        return next.run(request).await;
    }
    let max = state.options.max_body_bytes;
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, max).await {
        Ok(bytes) => bytes,
        Err(e) => return limits::unreadable_body(&state.metrics, &e, max),
    };
    let Ok(message) = serde_json::from_slice::<ClientJsonRpcMessage>(&bytes) else {
        // Which error it is, is asked only of a body that failed: a message's shape can fail
        // before the parser has seen whether the rest is JSON (`{} oops`).
        let is_json = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok();
        return if is_json {
            state.metrics.rejected("invalid_request");
            bad_request(
                id_of(&bytes),
                -32600,
                "invalid request: the body is JSON, but not a JSON-RPC message",
            )
        } else {
            state.metrics.rejected("parse_error");
            bad_request(
                Value::Null,
                -32700,
                "parse error: the request body is not JSON",
            )
        };
    };
    if let JsonRpcMessage::Request(request) = &message
        && matches!(request.request, ClientRequest::CallToolRequest(_))
    {
        parts.extensions.insert(ToolCall(request.id.clone()));
    }
    if !parts.headers.contains_key("mcp-session-id") && is_initialize(&bytes) {
        parts.extensions.insert(OpensSession);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A JSON-RPC error answer with 400.
fn bad_request(id: Value, code: i64, message: &str) -> Response {
    let answer = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    (StatusCode::BAD_REQUEST, axum::Json(answer)).into_response()
}

/// The id of a JSON body that is not a JSON-RPC message, when it has one a client could match
/// (a string or a number); otherwise `null`, as JSON-RPC says.
fn id_of(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|body| body.get("id").cloned())
        .filter(|id| id.is_string() || id.is_number())
        .unwrap_or(Value::Null)
}

/// Whether a JSON body is an `initialize` request; only its `method` is decoded.
fn is_initialize(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Envelope<'_>>(body)
        .is_ok_and(|envelope| envelope.method.as_deref() == Some("initialize"))
}
