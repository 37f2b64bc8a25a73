//! The older HTTP+SSE transport (protocol 2024-11-05), for clients that speak only it:
//! `GET /sse` opens a stream whose first event, `endpoint`, names where to POST messages
//! (`/messages?sessionId=…`); every server message then comes as a `message` event on that
//! stream, and each POST is answered `202 Accepted`.
//!
//! The agent's server runs on a pair of channels ([`ChannelTransport`]) like any rmcp
//! session. Its messages reach the response body through a session of rmcp's own
//! `LocalSessionManager` used only as a pipe, because the crates this project depends on offer
//! no other way to stream a response body from a channel (`tokio-stream` or `futures` would);
//! that pipe needs a handshake of its own before it streams, answered here.

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
    model::{
        ClientJsonRpcMessage, ClientRequest, CustomNotification, InitializeRequest, JsonRpcMessage,
        RequestId, ServerJsonRpcMessage, ServerNotification, ServerResult,
    },
    transport::{
        Transport,
        common::server_side_http::session_id,
        streamable_http_server::session::{
            ServerSseMessage, SessionId, SessionManager,
            local::{LocalSessionManager, SessionTransport},
        },
    },
};
use serde::Deserialize;
use serde_json::Value;
use tokio::{
    sync::{OwnedSemaphorePermit, mpsc, oneshot},
    time::Instant,
};
use tower::ServiceExt as _;

use super::{Caller, HttpState, limits};
use crate::server::LiveChatServer;

/// Messages buffered each way between a session's HTTP side and its server.
const CHANNEL: usize = 64;

/// The notification that carries the endpoint URL through the pipe to the `endpoint` event.
const ENDPOINT: &str = "livechat-mcp/sse-endpoint";

/// The open SSE sessions.
pub(super) struct Legacy {
    pipes: Arc<LocalSessionManager>,
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
        let mut pipes = LocalSessionManager::default();
        // The bridge below expires idle sessions itself.
        pipes.session_config.keep_alive = None;
        Legacy {
            pipes: Arc::new(pipes),
            sessions: Mutex::new(HashMap::new()),
        }
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
    match start(&state, caller).await {
        Ok(response) => response,
        Err(why) => {
            tracing::error!("an SSE session could not start: {why}");
            limits::plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("internal: the SSE session could not start: {why}"),
            )
        }
    }
}

async fn start(state: &Arc<HttpState>, caller: Caller) -> Result<Response, String> {
    let pipes = &state.legacy.pipes;
    let (pipe_id, mut pipe) = pipes.create_session().await.map_err(|e| e.to_string())?;
    let opened = match handshake(pipes, &pipe_id, &mut pipe).await {
        Ok(()) => pipes
            .create_standalone_stream(&pipe_id)
            .await
            .map_err(|e| e.to_string()),
        Err(why) => Err(why),
    };
    let events = match opened {
        Ok(events) => events,
        Err(why) => {
            let _ = pipes.close_session(&pipe_id).await;
            return Err(why);
        }
    };
    let id = session_id().to_string();
    let (inbound, from_client) = mpsc::channel(CHANNEL);
    let (to_client, from_server) = mpsc::channel(CHANNEL);
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
    let (alive, gone) = oneshot::channel::<()>();
    tokio::spawn(bridge(
        state.clone(),
        Bridge {
            id,
            session,
            pipe,
            pipe_id,
            from_server,
            gone,
        },
    ));
    // The body holds `alive`: when the client goes away the body is dropped, and the bridge
    // closes the session.
    let format = tower::service_fn(move |event: ServerSseMessage| {
        let _alive = &alive;
        std::future::ready(Ok::<_, Infallible>(to_event(&event)))
    });
    Ok(Sse::new(format.call_all(events))
        .keep_alive(KeepAlive::new().interval(state.options.sse_keep_alive))
        .into_response())
}

/// Gives the pipe the handshake rmcp's session needs before it streams.
async fn handshake(
    pipes: &LocalSessionManager,
    id: &SessionId,
    pipe: &mut SessionTransport,
) -> Result<(), String> {
    let hello = ClientJsonRpcMessage::request(
        ClientRequest::InitializeRequest(InitializeRequest::default()),
        RequestId::Number(0),
    );
    let answer = async {
        match pipe.receive().await {
            Some(JsonRpcMessage::Request(request)) => pipe
                .send(ServerJsonRpcMessage::response(
                    ServerResult::empty(()),
                    request.id,
                ))
                .await
                .map_err(|e| e.to_string()),
            _ => Err("the pipe sent no handshake".to_string()),
        }
    };
    let (opened, answered) = tokio::join!(pipes.initialize_session(id, hello), answer);
    opened.map_err(|e| e.to_string())?;
    answered
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

/// What the bridge of one session owns.
struct Bridge {
    id: String,
    session: Arc<Session>,
    pipe: SessionTransport,
    pipe_id: SessionId,
    from_server: mpsc::Receiver<ServerJsonRpcMessage>,
    gone: oneshot::Receiver<()>,
}

/// Carries the server's messages into the pipe until the server ends, the client goes away,
/// the session has been idle for the idle timeout, or the server shuts down; then closes the
/// session.
async fn bridge(state: Arc<HttpState>, bridge: Bridge) {
    let Bridge {
        id,
        session,
        mut pipe,
        pipe_id,
        mut from_server,
        mut gone,
    } = bridge;
    let idle = state.options.idle_timeout;
    let shutdown = state.base.cancellation_token.clone();
    let endpoint = format!("/messages?sessionId={id}");
    let announced = pipe
        .send(ServerJsonRpcMessage::notification(
            ServerNotification::CustomNotification(CustomNotification::new(
                ENDPOINT,
                Some(Value::String(endpoint)),
            )),
        ))
        .await;
    if announced.is_ok() {
        loop {
            let deadline = session.last_seen() + idle;
            tokio::select! {
                message = from_server.recv() => {
                    let Some(message) = message else { break };
                    session.answered(&message);
                    session.touch();
                    if pipe.send(message).await.is_err() {
                        break;
                    }
                }
                _ = &mut gone => break,
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
    let _ = state.legacy.pipes.close_session(&pipe_id).await;
}

/// One pipe item as an SSE event: the endpoint announcement, a JSON-RPC message, or (for
/// rmcp's reconnection hints, which mean nothing to this transport) a comment.
fn to_event(event: &ServerSseMessage) -> Event {
    let Some(message) = event.message.as_deref() else {
        return Event::default().comment("");
    };
    if let JsonRpcMessage::Notification(notification) = message
        && let ServerNotification::CustomNotification(custom) = &notification.notification
        && custom.method == ENDPOINT
        && let Some(Value::String(endpoint)) = &custom.params
    {
        return Event::default().event("endpoint").data(endpoint);
    }
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
        Err(e) if e.to_string().contains("length limit") => {
            return limits::too_large(&state.metrics, None, max);
        }
        Err(e) => {
            return limits::plain(
                StatusCode::BAD_REQUEST,
                format!("bad_request: the request body could not be read: {e}"),
            );
        }
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
