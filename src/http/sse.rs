//! The older HTTP+SSE transport (protocol 2024-11-05), for clients that speak only it:
//! `GET /sse` opens a stream whose first event, `endpoint`, names where to POST messages
//! (`/messages?sessionId=…`); every server message then comes as a `message` event on that
//! stream, and each POST is answered `202 Accepted`.
//!
//! The agent's server runs on a pair of channels ([`ChannelTransport`]) like any rmcp
//! session. A bridge task per session turns its messages into events on a third channel, whose
//! receiver is the response body; the bridge closes the session when the server ends, the
//! client goes away (the body, and so the receiver, is dropped), the session is idle too long,
//! it is closed to make room under the agent's session cap, or the process shuts down.
//!
//! A request whose id is already in flight in the session is answered on the stream with an
//! error and never reaches the server (see [`crate::request_ids`]).

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use axum::{
    Extension,
    body::Body,
    extract::{Query, State},
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use rmcp::{
    RoleServer, ServiceExt as _,
    model::{ClientJsonRpcMessage, JsonRpcMessage, ServerJsonRpcMessage},
    transport::{Transport, common::server_side_http::session_id},
};
use serde::Deserialize;
use tokio::{sync::mpsc, time::Instant};
use tokio_stream::{StreamExt as _, wrappers::ReceiverStream};

use super::{Caller, HttpState, limits, sessions::Activity};
use crate::server::LiveChatServer;

/// Messages buffered each way between a session's HTTP side and its server, and events
/// buffered for the response body.
const CHANNEL: usize = 64;

/// The open SSE sessions.
#[derive(Default)]
pub(super) struct Legacy {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

/// One open SSE session.
struct Session {
    /// The agent that opened it; no other agent can post to it.
    agent: Arc<super::AgentHttp>,
    inbound: mpsc::Sender<ClientJsonRpcMessage>,
    /// The events of its stream, for answers that do not come from the server.
    events: mpsc::Sender<Event>,
    /// Its requests in flight (each holding its in-flight permit) and when it was last used,
    /// shared with the agent's session table.
    activity: Arc<Activity>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Legacy {
    pub(super) fn new() -> Legacy {
        Legacy::default()
    }

    fn get(&self, id: &str) -> Option<Arc<Session>> {
        locked(&self.sessions).get(id).cloned()
    }
}

/// `GET /sse`: opens a session for the caller's agent, making room for it under the agent's
/// session cap (or answering 429).
pub(super) async fn open(
    State(state): State<Arc<HttpState>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if state.base.cancellation_token.is_cancelled() {
        return limits::plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable: the server is shutting down; retry once it is back",
        );
    }
    let agent = &caller.0;
    let place = match agent.sessions.reserve(&agent.name, &state.metrics).await {
        Ok(place) => place,
        Err(refused) => return *refused,
    };
    let id = session_id();
    let (inbound, from_client) = mpsc::channel(CHANNEL);
    let (to_client, from_server) = mpsc::channel(CHANNEL);
    let (events, body) = mpsc::channel(CHANNEL);
    let session = Arc::new(Session {
        agent: caller.0.clone(),
        inbound,
        events: events.clone(),
        activity: agent.sessions.add_sse(id.clone(), place),
    });
    let id = id.to_string();
    locked(&state.legacy.sessions).insert(id.clone(), session.clone());
    tokio::spawn(run_server(
        caller.0.server.for_session(),
        ChannelTransport {
            from_client,
            to_client,
        },
    ));
    tokio::spawn(bridge(state.clone(), id, session, from_server, events));
    let body = ReceiverStream::new(body).map(Ok::<_, Infallible>);
    Sse::new(body)
        .keep_alive(KeepAlive::new().interval(state.options.sse_keep_alive))
        .into_response()
}

/// Runs the agent's server for one session until the client or the bridge goes away.
async fn run_server(server: LiveChatServer, transport: ChannelTransport) {
    match server.serve(transport).await {
        Ok(running) => {
            let _ = running.waiting().await;
        }
        Err(e) => tracing::debug!("an SSE session ended before its handshake: {e}"),
    }
}

/// Announces the endpoint, then carries the server's messages to the body as events until the
/// server ends, the client goes away, the session has been idle for the idle timeout, or the
/// server shuts down; then closes the session, which ends its server.
async fn bridge(
    state: Arc<HttpState>,
    id: String,
    session: Arc<Session>,
    mut from_server: mpsc::Receiver<ServerJsonRpcMessage>,
    events: mpsc::Sender<Event>,
) {
    let idle = state.options.idle_timeout;
    let shutdown = state.base.cancellation_token.clone();
    let activity = session.activity.clone();
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/messages?sessionId={id}"));
    if events.send(endpoint).await.is_ok() {
        loop {
            let deadline = activity.last_used() + idle;
            tokio::select! {
                message = from_server.recv() => {
                    let Some(message) = message else { break };
                    // Releases the request's id and permit: the answer is on its way out.
                    activity.requests.answered(&message);
                    activity.touch();
                    if events.send(to_event(&message)).await.is_err() {
                        break;
                    }
                }
                _ = events.closed() => break,
                _ = shutdown.cancelled() => break,
                _ = activity.closed.cancelled() => break,
                _ = tokio::time::sleep_until(deadline) => {
                    if activity.last_used() + idle <= Instant::now() {
                        tracing::info!("closing an SSE session idle for {} s", idle.as_secs());
                        break;
                    }
                }
            }
        }
    }
    locked(&state.legacy.sessions).remove(&id);
    session.agent.sessions.forget(&id.as_str().into());
}

/// A server message as a `message` event.
fn to_event(message: &ServerJsonRpcMessage) -> Event {
    match serde_json::to_string(message) {
        Ok(json) => Event::default().event("message").data(json),
        Err(e) => {
            tracing::error!("a server message could not be encoded for SSE: {e}");
            Event::default().comment("a message could not be encoded")
        }
    }
}

#[derive(Deserialize)]
pub(super) struct MessageQuery {
    #[serde(rename = "sessionId", alias = "session_id")]
    session_id: Option<String>,
}

/// `POST /messages?sessionId=…`: one client message into the caller's session. A request
/// holds an in-flight permit until its answer has gone out on the stream.
pub(super) async fn message(
    State(state): State<Arc<HttpState>>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<MessageQuery>,
    body: Body,
) -> Response {
    let Some(id) = query.session_id else {
        return limits::plain(
            StatusCode::BAD_REQUEST,
            "bad_request: `sessionId` is missing; POST to the endpoint URL the /sse stream announced",
        );
    };
    let ended = || {
        let shown: String = id.chars().take(64).collect();
        limits::plain(
            StatusCode::NOT_FOUND,
            format!(
                "not_found: no open SSE session `{shown}` for this key (it may have ended or been idle too long); open a new one with GET /sse"
            ),
        )
    };
    let Some(session) = state
        .legacy
        .get(&id)
        .filter(|s| Arc::ptr_eq(&s.agent, &caller.0))
    else {
        return ended();
    };
    let max = state.options.max_body_bytes;
    let bytes = match axum::body::to_bytes(body, max).await {
        Ok(bytes) => bytes,
        Err(e) => return limits::unreadable_body(&state.metrics, &e, max),
    };
    let message: ClientJsonRpcMessage = match serde_json::from_slice(&bytes) {
        Ok(message) => message,
        Err(e) => {
            return limits::plain(
                StatusCode::BAD_REQUEST,
                format!("bad_request: the body is not a JSON-RPC message: {e}"),
            );
        }
    };
    let activity = &session.activity;
    activity.touch();
    if let JsonRpcMessage::Request(request) = &message {
        let agent = &caller.0;
        let permit = match agent.limiter.try_acquire(&agent.name, &state.metrics) {
            Ok(permit) => permit,
            Err(refused) => return *refused,
        };
        if let Err(refused) = activity.requests.claim(&request.id, Some(permit)) {
            // Answered like any request over SSE, on the stream; the first one runs on.
            let (_permit, answer) = *refused;
            if session.events.send(to_event(&answer)).await.is_err() {
                return ended();
            }
            return limits::plain(StatusCode::ACCEPTED, "Accepted");
        }
    } else {
        // The server does not answer a cancelled request: its id and permit are free now.
        activity.requests.cancelled(&message);
    }
    if session.inbound.send(message).await.is_err() {
        return ended();
    }
    limits::plain(StatusCode::ACCEPTED, "Accepted")
}

/// The agent's server's side of an SSE session: what clients post comes in, what it sends
/// goes to the bridge.
struct ChannelTransport {
    from_client: mpsc::Receiver<ClientJsonRpcMessage>,
    to_client: mpsc::Sender<ServerJsonRpcMessage>,
}

impl Transport<RoleServer> for ChannelTransport {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let to_client = self.to_client.clone();
        async move {
            to_client.send(item).await.map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the SSE stream has closed")
            })
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        self.from_client.recv()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.from_client.close();
        std::future::ready(Ok(()))
    }
}
