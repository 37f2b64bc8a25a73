//! The Agent Chat RTM API at `/v{3.5,3.6}/agent/rtm/ws?organization_id=…`, as the docs'
//! "RTM reference" of each version describes it: request frames `{"request_id", "action",
//! "payload"}` answered with `{"request_id", "action", "type": "response", "success",
//! "payload"}` (a failure's payload is LiveChat's `{"error": {"type", "message"}}`), and pushes
//! `{"version", "action", "type": "push", "payload"}`.
//!
//! - `login` takes `{"token": "Bearer …"}` (or `Basic …`, as the Web API takes a PAT) and
//!   is checked as the sandbox's Web API checks credentials: any credentials act as the
//!   scenario's requester, with the sandbox token's scopes. A bot's token (from
//!   `issue_bot_token`) is refused: LiveChat does not let bots use the RTM API. A connection
//!   that has not logged in within 30 s is closed; before login every action but `login`
//!   and `ping` is refused with `authentication`.
//! - After login the client must ping (the `ping` action or a websocket ping) within 30 s of
//!   the last one, else it gets `agent_disconnected` with `connection_timeout` and is closed.
//! - Any other action is the Agent Chat API method of that name, run on the shared state.
//! - Every change the state makes is pushed to each logged-in connection whose access
//!   covers it ([`State::may_see`]), whatever webhooks are registered: the state sends each
//!   push on a broadcast channel next to its webhook outbox.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{
        Path, Query, State as Shared,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, watch};

use super::{
    config_bots::ORGANIZATION_ID,
    error::LcError,
    http::{App, with_state},
    methods::{PushKind, RtmSession, SeenBy, Webhook as Hook},
    state::State,
    webhooks::{self, Call},
};
use crate::{scopes::Granted, tools::Api, version::ApiVersion};

/// Pushes a slow connection may fall behind by before it misses some.
pub const PUSH_BUFFER: usize = 1024;
/// How long a new connection has to log in (the docs: 30 s).
pub const LOGIN_WITHIN: Duration = Duration::from_secs(30);
/// How long a logged-in connection may go without a ping (the docs: "closed after about 30
/// seconds of inactivity").
pub const PING_WITHIN: Duration = Duration::from_secs(30);
/// The largest request frame taken.
pub const MAX_FRAME: usize = 1 << 20;

/// One push, rendered for each version, and who may see it.
#[derive(Debug)]
pub struct RtmPush {
    pub action: &'static str,
    /// The payload in v3.5 and v3.6; `None` where that version has no such push.
    pub payloads: [Option<Value>; 2],
    pub seen_by: SeenBy,
    /// For a chat's push: the chat's groups.
    pub chat_groups: Option<Vec<u32>>,
}

impl RtmPush {
    pub fn payload(&self, v: ApiVersion) -> Option<&Value> {
        self.payloads[usize::from(v == ApiVersion::V3_6)].as_ref()
    }
}

/// The agent a connection logged in as, and its token's scopes.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub agent: String,
    pub scopes: Granted,
}

/// The connections' shared switch: bumping it drops every RTM connection (for tests of
/// reconnects).
#[derive(Clone, Debug)]
pub struct RtmHub {
    kill: Arc<watch::Sender<u64>>,
}

impl Default for RtmHub {
    fn default() -> Self {
        RtmHub {
            kill: Arc::new(watch::channel(0).0),
        }
    }
}

impl RtmHub {
    /// Drops every open RTM connection at once, without a close frame, as a lost network
    /// would.
    pub fn drop_all(&self) {
        self.kill.send_modify(|n| *n += 1);
    }
}

impl State {
    /// Sends the push a successful call makes to the RTM connections (if any listen).
    pub(super) fn push(&self, hook: &Hook, call: &Call) {
        if self.rtm.receiver_count() == 0 {
            return;
        }
        let (action, render) = match hook.push.kind {
            PushKind::Same => (hook.action, hook.payload),
            PushKind::Render(render) => (hook.action, render),
            PushKind::As(action, render) => (action, render),
        };
        let payloads = [ApiVersion::V3_5, ApiVersion::V3_6].map(|v| render(self, v, call));
        let chat_groups = match hook.push.seen_by {
            SeenBy::Chat => payloads
                .iter()
                .flatten()
                .find_map(webhooks::chat_of)
                .and_then(|id| self.lic.chats.iter().find(|c| c.id == id))
                .map(|c| c.access.group_ids.clone()),
            _ => None,
        };
        if payloads.iter().all(Option::is_none) {
            return;
        }
        let _ = self.rtm.send(Arc::new(RtmPush {
            action,
            payloads,
            seen_by: hook.push.seen_by,
            chat_groups,
        }));
    }

    /// A new receiver of the pushes.
    pub(super) fn subscribe_pushes(&self) -> broadcast::Receiver<Arc<RtmPush>> {
        self.rtm.subscribe()
    }

    /// Whether `viewer` gets `push`: what LiveChat's `login` says each scope brings.
    pub fn may_see(&self, viewer: &Viewer, push: &RtmPush) -> bool {
        let has = |scope: &str| viewer.scopes.has(scope);
        match push.seen_by {
            SeenBy::Everyone => true,
            SeenBy::Customers => has("customers:ro"),
            SeenBy::Agents => has("agents--all:ro"),
            SeenBy::Bots => has("agents-bot--all:ro"),
            SeenBy::Chat => {
                if has("chats--all:ro") {
                    return true;
                }
                // A chat that no longer exists (or was never known) is seen by no one else.
                let Some(groups) = &push.chat_groups else {
                    return false;
                };
                has("chats--access:ro") && self.agent_can_see(&viewer.agent, groups)
            }
        }
    }

    /// `login`: the token as the Web API would take it in `Authorization`.
    fn rtm_login(&self, token: &str) -> Result<(Viewer, Value), LcError> {
        let (scheme, credential) = token.trim().split_once(' ').unwrap_or(("", ""));
        let credential = credential.trim();
        let scheme_ok =
            scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("basic");
        if !scheme_ok || credential.is_empty() {
            return Err(LcError::authentication("Invalid access token"));
        }
        if scheme.eq_ignore_ascii_case("bearer") && self.bot_tokens.contains_key(credential) {
            return Err(LcError::new(
                "authorization",
                "Establishing a WebSocket connection as a bot is unsupported: bots use the Web API",
            ));
        }
        let agent = self.requester().to_string();
        let profile = self.agent(&agent).map(|a| {
            json!({
                "id": a.id,
                "name": a.name,
                "email": a.id,
                "role": a.role,
                "routing_status": a.routing_status,
                "account_id": a.account_id,
            })
        });
        let payload = json!({
            "license": {"organization_id": ORGANIZATION_ID},
            "my_profile": profile,
            "chats_summary": [],
        });
        Ok((
            Viewer {
                agent,
                scopes: self.scopes.clone(),
            },
            payload,
        ))
    }
}

/// `GET /{version}/agent/rtm/ws`: the websocket upgrade.
pub(super) async fn upgrade(
    Shared(app): Shared<App>,
    Path(version): Path<String>,
    Query(query): Query<std::collections::BTreeMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let refuse =
        |status: StatusCode, e: LcError| (status, axum::Json(e.envelope())).into_response();
    let version = match version.strip_prefix('v').map(str::parse::<ApiVersion>) {
        Some(Ok(v)) => v,
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                LcError::new(
                    "unsupported_version",
                    format!("The sandbox's RTM API speaks v3.5 and v3.6, not `{version}`"),
                ),
            );
        }
    };
    match query.get("organization_id").map(String::as_str) {
        Some(ORGANIZATION_ID) => {}
        Some(other) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                LcError::validation(format!(
                    "`organization_id`: `{other}` is not this license's organization (`{ORGANIZATION_ID}`)"
                )),
            );
        }
        None => {
            return refuse(
                StatusCode::BAD_REQUEST,
                LcError::validation(format!(
                    "The `organization_id` query parameter is required (this license's is `{ORGANIZATION_ID}`)"
                )),
            );
        }
    }
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| connection(socket, app, version))
}

/// A response frame.
fn response(request_id: Option<&Value>, action: &str, result: Result<Value, LcError>) -> Value {
    let (success, payload) = match result {
        Ok(payload) => (true, payload),
        Err(e) => (false, e.envelope()),
    };
    let mut out =
        json!({"action": action, "type": "response", "success": success, "payload": payload});
    if let Some(id) = request_id {
        out["request_id"] = id.clone();
    }
    out
}

/// A push frame.
fn push_frame(v: ApiVersion, action: &str, payload: &Value) -> Value {
    json!({"version": v.as_str(), "action": action, "type": "push", "payload": payload})
}

/// What one request frame did.
enum Outcome {
    Answer(Value),
    LoggedIn(Viewer, Value),
    Ping(Value),
    Logout(Value),
}

fn handle(app: &App, version: ApiVersion, logged_in: bool, text: &str) -> Outcome {
    let Ok(Value::Object(frame)) = serde_json::from_str::<Value>(text) else {
        return Outcome::Answer(response(
            None,
            "",
            Err(LcError::validation("The request is not a JSON object")),
        ));
    };
    let request_id = frame.get("request_id");
    let Some(action) = frame.get("action").and_then(Value::as_str) else {
        return Outcome::Answer(response(
            request_id,
            "",
            Err(LcError::validation("`action` is required")),
        ));
    };
    let payload = match frame.get("payload") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => {
            return Outcome::Answer(response(
                request_id,
                action,
                Err(LcError::validation("`payload` must be an object")),
            ));
        }
    };
    match (super::methods::rtm_session(action), logged_in) {
        (Some(RtmSession::Ping), _) => Outcome::Ping(response(request_id, action, Ok(json!({})))),
        (Some(RtmSession::Login), _) => {
            let Some(token) = payload.get("token").and_then(Value::as_str) else {
                return Outcome::Answer(response(
                    request_id,
                    action,
                    Err(LcError::validation("`token` is required")),
                ));
            };
            let result = with_state(app, |s| s.rtm_login(token));
            match result {
                Ok((viewer, payload)) => {
                    Outcome::LoggedIn(viewer, response(request_id, action, Ok(payload)))
                }
                Err(e) => Outcome::Answer(response(request_id, action, Err(e))),
            }
        }
        (_, false) => Outcome::Answer(response(
            request_id,
            action,
            Err(LcError::authentication(
                "Log in first: send the `login` action with your token",
            )),
        )),
        (Some(RtmSession::Logout), true) => {
            Outcome::Logout(response(request_id, action, Ok(json!({}))))
        }
        (None, true) => {
            let result = with_state(app, |s| s.handle(version, Api::Agent, action, &payload));
            Outcome::Answer(response(request_id, action, result))
        }
    }
}

async fn connection(socket: WebSocket, app: App, version: ApiVersion) {
    let (mut tx, mut rx) = socket.split();
    let mut kill = app.rtm.kill.subscribe();
    kill.borrow_and_update();
    let mut pushes: Option<broadcast::Receiver<Arc<RtmPush>>> = None;
    let mut viewer: Option<Viewer> = None;
    let mut deadline = Instant::now() + LOGIN_WITHIN;
    let send = |value: Value| Message::Text(value.to_string().into());
    loop {
        let next_push = async {
            match pushes.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = kill.changed() => return,
            () = tokio::time::sleep_until(deadline.into()) => {
                if viewer.is_some() {
                    let frame = push_frame(version, "agent_disconnected", &json!({"reason": "connection_timeout"}));
                    let _ = tx.send(send(frame)).await;
                }
                let _ = tx.close().await;
                return;
            }
            push = next_push => match push {
                Ok(push) => {
                    let Some(viewer) = &viewer else { continue };
                    let Some(payload) = push.payload(version) else { continue };
                    let seen = with_state(&app, |s| s.may_see(viewer, &push));
                    if seen && tx.send(send(push_frame(version, push.action, payload))).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("an RTM connection fell {n} pushes behind; they were dropped");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            message = rx.next() => {
                let text = match message {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Ping(_))) => {
                        if viewer.is_some() {
                            deadline = Instant::now() + PING_WITHIN;
                        }
                        continue;
                    }
                    Some(Ok(Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        let e = LcError::validation("Requests are JSON text frames");
                        if tx.send(send(response(None, "", Err(e)))).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Some(Ok(Message::Text(text))) => text,
                };
                let outcome = handle(&app, version, viewer.is_some(), text.as_str());
                let frame = match outcome {
                    Outcome::Answer(frame) => frame,
                    Outcome::Ping(frame) => {
                        // Until login, ping is a no-op: it does not keep the connection.
                        if viewer.is_some() {
                            deadline = Instant::now() + PING_WITHIN;
                        }
                        frame
                    }
                    Outcome::LoggedIn(who, frame) => {
                        if pushes.is_none() {
                            pushes = Some(with_state(&app, |s| s.subscribe_pushes()));
                        }
                        viewer = Some(who);
                        deadline = Instant::now() + PING_WITHIN;
                        frame
                    }
                    Outcome::Logout(frame) => {
                        let _ = tx.send(send(frame)).await;
                        let _ = tx.close().await;
                        return;
                    }
                };
                if tx.send(send(frame)).await.is_err() {
                    return;
                }
            }
        }
    }
}
