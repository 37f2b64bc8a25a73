//! The older HTTP+SSE transport (protocol 2024-11-05), for clients that speak only it:
//! `GET /sse` opens a stream whose first event, `endpoint`, names where to POST messages
//! (`/messages?sessionId=…`); every server message then comes as a `message` event on that
//! stream, and each POST is answered `202 Accepted`.
//!
//! The agent's server runs on a pair of channels ([`ChannelTransport`]) like any rmcp
//! session. A bridge task per session turns its messages into events on a third channel, whose
//! receiver is the response body; the bridge closes the session when the server ends, the
//! client goes away (the body, and so the receiver, is dropped), the session is idle too long,
//! or the process shuts down.

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
    model::{ClientJsonRpcMessage, JsonRpcMessage, RequestId, ServerJsonRpcMessage},
    transport::{Transport, common::server_side_http::session_id},
};
use serde::Deserialize;
use tokio::{
    sync::{OwnedSemaphorePermit, mpsc},
    time::Instant,
};
use tokio_stream::{StreamExt as _, wrappers::ReceiverStream};

use super::{Caller, HttpState, limits};
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
    agent: usize,
    inbound: mpsc::Sender<ClientJsonRpcMessage>,
    /// The in-flight permit of each request awaiting its answer.
    pending: Mutex<HashMap<RequestId, OwnedSemaphorePermit>>,
    last_seen: Mutex<Instant>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Session {
    fn touch(&self) {
        *locked(&self.last_seen) = Instant::now();
    }

    fn last_seen(&self) -> Instant {
        *locked(&self.last_seen)
    }

    /// Releases the permit of the request `message` answers, if it answers one.
    fn answered(&self, message: &ServerJsonRpcMessage) {
        let id = match message {
            JsonRpcMessage::Response(response) => Some(&response.id),
            JsonRpcMessage::Error(error) => error.id.as_ref(),
            _ => None,
        };
        if let Some(id) = id {
            locked(&self.pending).remove(id);
        }
    }
}

impl Legacy {
    pub(super) fn new() -> Legacy {
        Legacy::default()
    }

    fn get(&self, id: &str) -> Option<Arc<Session>> {
        locked(&self.sessions).get(id).cloned()
    }

    /// Open sessions by agent index.
    pub(super) fn open_by_agent(&self) -> HashMap<usize, usize> {
        let mut counts = HashMap::new();
        for session in locked(&self.sessions).values() {
            *counts.entry(session.agent).or_default() += 1;
        }
        counts
    }
}

/// `GET /sse`: opens a session for the caller's agent.
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
    let id = session_id().to_string();
    let (inbound, from_client) = mpsc::channel(CHANNEL);
    let (to_client, from_server) = mpsc::channel(CHANNEL);
    let (events, body) = mpsc::channel(CHANNEL);
    let session = Arc::new(Session {
        agent: caller.0,
        inbound,
        pending: Mutex::new(HashMap::new()),
        last_seen: Mutex::new(Instant::now()),
    });
    locked(&state.legacy.sessions).insert(id.clone(), session.clone());
    tokio::spawn(run_server(
        state.agents[caller.0].server.clone(),
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
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/messages?sessionId={id}"));
    if events.send(endpoint).await.is_ok() {
        loop {
            let deadline = session.last_seen() + idle;
            tokio::select! {
                message = from_server.recv() => {
                    let Some(message) = message else { break };
                    session.answered(&message);
                    session.touch();
                    if events.send(to_event(&message)).await.is_err() {
                        break;
                    }
                }
                _ = events.closed() => break,
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(deadline) => {
                    if session.last_seen() + idle <= Instant::now() {
                        tracing::info!("closing an SSE session idle for {} s", idle.as_secs());
                        break;
                    }
                }
            }
        }
    }
    locked(&state.legacy.sessions).remove(&id);
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
    let Some(session) = state.legacy.get(&id).filter(|s| s.agent == caller.0) else {
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
    if let JsonRpcMessage::Request(request) = &message {
        let agent = &state.agents[caller.0];
        match agent.limiter.try_acquire(&agent.name, &state.metrics) {
            Ok(permit) => {
                locked(&session.pending).insert(request.id.clone(), permit);
            }
            Err(refused) => return *refused,
        }
    }
    session.touch();
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
