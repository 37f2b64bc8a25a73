//! One agent's open sessions, of both transports, under one cap (`--max-sessions-per-agent`),
//! and the session manager rmcp's streamable HTTP service runs on.
//!
//! At the cap the least recently used *idle* session is closed to make room; when none is
//! idle the new session is refused with 429. A session is busy while it is being opened and
//! while a request of it awaits its answer; otherwise it is idle. An open stream that only
//! waits for server messages (the GET stream of `/mcp`, an SSE session's event stream) does not
//! make a session busy: every SSE session has one for its whole life, so counting it would
//! leave the cap nothing to close, and a client that keeps sessions open it does not use is
//! exactly what the cap is for.
//!
//! [`AgentSessions`] wraps rmcp's `LocalSessionManager`: it enters every streamable session in
//! the table and refuses a request whose id is already in flight in its session (see
//! [`crate::request_ids`]) before rmcp sees it.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use rmcp::{
    RoleServer,
    model::{ClientJsonRpcMessage, JsonRpcMessage, ServerJsonRpcMessage},
    transport::{
        Transport, WorkerTransport,
        streamable_http_server::{
            SessionId, SessionManager,
            session::{
                ServerSseMessage,
                local::{LocalSessionManager, LocalSessionManagerError, LocalSessionWorker},
            },
        },
    },
};
use tokio::{sync::OwnedSemaphorePermit, time::Instant};
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;

use super::{limits, metrics::Metrics};
use crate::request_ids::InFlight;

/// Which transport a session uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Streamable,
    Sse,
}

/// What the cap reads of one session, shared with the code that serves it.
pub(super) struct Activity {
    /// The requests awaiting their answers, each with the in-flight permit it holds (over
    /// SSE; a streamable request's permit lives in its HTTP response instead).
    pub(super) requests: InFlight<Option<OwnedSemaphorePermit>>,
    last_used: Mutex<Instant>,
    opening: AtomicBool,
    /// Cancelled when the session is closed to make room; an SSE session's bridge ends on it.
    pub(super) closed: CancellationToken,
}

impl Activity {
    fn new(opening: bool) -> Arc<Activity> {
        Arc::new(Activity {
            requests: InFlight::default(),
            last_used: Mutex::new(Instant::now()),
            opening: AtomicBool::new(opening),
            closed: CancellationToken::new(),
        })
    }

    fn last(&self) -> MutexGuard<'_, Instant> {
        self.last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a message from or to the client.
    pub(super) fn touch(&self) {
        *self.last() = Instant::now();
    }

    /// When the session last carried a message.
    pub(super) fn last_used(&self) -> Instant {
        *self.last()
    }

    fn opened(&self) {
        self.opening.store(false, Ordering::Release);
        self.touch();
    }

    fn is_idle(&self) -> bool {
        !self.opening.load(Ordering::Acquire) && self.requests.is_empty()
    }
}

/// A session closed to make room; closing it is the caller's part.
struct Evicted {
    id: SessionId,
    kind: Kind,
    activity: Arc<Activity>,
}

#[derive(Default)]
struct Table {
    open: HashMap<SessionId, (Kind, Arc<Activity>)>,
    /// Places held for sessions not opened yet, counted against the cap with `open`.
    reserved: usize,
    /// Places whose session is open while their [`Reservation`] is still held: counted in
    /// `open` already, so the reservation's drop must not take one off `reserved` again.
    taken: usize,
}

impl Table {
    /// Enters a session, in the place a reservation held if there is one.
    fn enter(&mut self, id: SessionId, kind: Kind, activity: Arc<Activity>) {
        self.open.insert(id, (kind, activity));
        if self.reserved > 0 {
            self.reserved -= 1;
            self.taken += 1;
        }
    }
}

/// One agent's sessions: the cap's table, and rmcp's session manager for streamable HTTP.
pub(super) struct AgentSessions {
    cap: usize,
    table: Mutex<Table>,
    local: LocalSessionManager,
}

/// A place for one new session under the cap, held until the session is in the table (SSE)
/// or rmcp has had its chance to create it (streamable HTTP). rmcp's `create_session` cannot
/// be told which reservation it fills, so places are counted, not named.
pub(super) struct Reservation {
    sessions: Arc<AgentSessions>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut table = self.sessions.table();
        // Reservations are interchangeable: whichever session took a place, one fewer is held.
        if table.taken > 0 {
            table.taken -= 1;
        } else {
            table.reserved = table.reserved.saturating_sub(1);
        }
    }
}

impl AgentSessions {
    pub(super) fn new(cap: usize, local: LocalSessionManager) -> AgentSessions {
        AgentSessions {
            cap: cap.max(1),
            table: Mutex::new(Table::default()),
            local,
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes room for one more session of `agent`, closing the least recently used idle one
    /// at the cap, or returns the 429 to answer with when every session is busy.
    pub(super) async fn reserve(
        self: &Arc<Self>,
        agent: &str,
        metrics: &Metrics,
    ) -> Result<Reservation, Box<Response>> {
        let evicted = {
            let mut table = self.table();
            let evicted = if table.open.len() + table.reserved >= self.cap {
                let oldest_idle = table
                    .open
                    .iter()
                    .filter(|(_, (_, activity))| activity.is_idle())
                    .min_by_key(|(_, (_, activity))| activity.last_used())
                    .map(|(id, _)| id.clone());
                let Some(id) = oldest_idle else {
                    drop(table);
                    return Err(Box::new(self.refusal(agent, metrics)));
                };
                table
                    .open
                    .remove(&id)
                    .map(|(kind, activity)| Evicted { id, kind, activity })
            } else {
                None
            };
            table.reserved += 1;
            evicted
        };
        let reservation = Reservation {
            sessions: self.clone(),
        };
        if let Some(evicted) = evicted {
            tracing::info!(
                "agent `{agent}` is at its {} sessions (--max-sessions-per-agent): closing its least recently used idle session to make room",
                self.cap
            );
            self.close(evicted).await;
        }
        Ok(reservation)
    }

    fn refusal(&self, agent: &str, metrics: &Metrics) -> Response {
        metrics.rejected("too_many_sessions");
        let mut response = limits::plain(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too_many_sessions: agent `{agent}` has {} open sessions, the most this server allows one agent (--max-sessions-per-agent), and each has a request in flight; retry after {} s, or end a session it no longer needs (DELETE /mcp with its `Mcp-Session-Id`)",
                self.cap,
                limits::RETRY_AFTER_SECS
            ),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(limits::RETRY_AFTER_SECS),
        );
        response
    }

    async fn close(&self, evicted: Evicted) {
        evicted.activity.closed.cancel();
        if evicted.kind == Kind::Streamable
            && let Err(e) = self.local.close_session(&evicted.id).await
        {
            tracing::warn!("a session closed to make room did not close cleanly: {e}");
        }
    }

    /// Enters an SSE session, taking the place `reservation` held.
    pub(super) fn add_sse(&self, id: SessionId, reservation: Reservation) -> Arc<Activity> {
        let activity = Activity::new(false);
        self.table().enter(id, Kind::Sse, activity.clone());
        drop(reservation);
        activity
    }

    /// Closes every session: the agent was taken out of the policy.
    pub(super) async fn close_all(&self) {
        let evicted: Vec<Evicted> = self
            .table()
            .open
            .drain()
            .map(|(id, (kind, activity))| Evicted { id, kind, activity })
            .collect();
        for session in evicted {
            self.close(session).await;
        }
    }

    /// Takes a session out of the table (it ended, or was closed).
    pub(super) fn forget(&self, id: &SessionId) {
        self.table().open.remove(id);
    }

    fn activity(&self, id: &SessionId) -> Option<Arc<Activity>> {
        self.table().open.get(id).map(|(_, a)| a.clone())
    }

    /// Open sessions: (streamable HTTP, SSE).
    pub(super) fn counts(&self) -> (usize, usize) {
        let table = self.table();
        let sse = table
            .open
            .values()
            .filter(|(kind, _)| *kind == Kind::Sse)
            .count();
        (table.open.len() - sse, sse)
    }
}

type SseStream = Pin<Box<dyn Stream<Item = ServerSseMessage> + Send + Sync + 'static>>;

impl SessionManager for AgentSessions {
    type Error = LocalSessionManagerError;
    type Transport = Tracked;

    async fn create_session(&self) -> Result<(SessionId, Tracked), Self::Error> {
        let (id, inner) = self.local.create_session().await?;
        let activity = Activity::new(true);
        self.table()
            .enter(id.clone(), Kind::Streamable, activity.clone());
        Ok((id, Tracked { inner, activity }))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let answer = self.local.initialize_session(id, message).await;
        if let Some(activity) = self.activity(id) {
            activity.opened();
        }
        answer
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.local.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.forget(id);
        self.local.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let activity = self.activity(id);
        let request_id = match (&message, &activity) {
            (JsonRpcMessage::Request(request), Some(activity)) => {
                activity.touch();
                if let Err(refused) = activity.requests.claim(&request.id, None) {
                    let answer = ServerSseMessage::from_message(refused.1);
                    let answer: SseStream = Box::pin(tokio_stream::once(answer));
                    return Ok(answer);
                }
                Some(request.id.clone())
            }
            _ => None,
        };
        match self.local.create_stream(id, message).await {
            Ok(stream) => Ok(Box::pin(stream) as SseStream),
            Err(e) => {
                if let (Some(activity), Some(request_id)) = (activity, request_id) {
                    activity.requests.release(&request_id);
                }
                Err(e)
            }
        }
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        if let Some(activity) = self.activity(id) {
            activity.touch();
            activity.requests.cancelled(&message);
        }
        self.local.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        if let Some(activity) = self.activity(id) {
            activity.touch();
        }
        self.local.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.local.resume(id, last_event_id).await
    }
}

/// A streamable session's transport: rmcp's, releasing each request's id once its answer has
/// been routed to the client. Not before: a new request with the same id could then be routed
/// the old answer.
pub(super) struct Tracked {
    inner: WorkerTransport<LocalSessionWorker>,
    activity: Arc<Activity>,
}

impl Transport<RoleServer> for Tracked {
    type Error = <WorkerTransport<LocalSessionWorker> as Transport<RoleServer>>::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answers = match &item {
            JsonRpcMessage::Response(response) => Some(response.id.clone()),
            JsonRpcMessage::Error(error) => error.id.clone(),
            _ => None,
        };
        let activity = self.activity.clone();
        let send = self.inner.send(item);
        async move {
            let sent = send.await;
            if let Some(id) = answers {
                activity.requests.release(&id);
                activity.touch();
            }
            sent
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        self.inner.receive()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_count(sessions: &AgentSessions) -> (usize, usize, usize) {
        let table = sessions.table();
        (table.open.len(), table.reserved, table.taken)
    }

    #[tokio::test]
    async fn places_are_counted_exactly_while_sessions_open_concurrently() {
        let sessions = Arc::new(AgentSessions::new(2, LocalSessionManager::default()));
        let metrics = Metrics::new();
        let first = sessions.reserve("a", &metrics).await.expect("room");
        let second = sessions.reserve("a", &metrics).await.expect("room");
        assert_eq!(open_count(&sessions), (0, 2, 0));
        // rmcp opens the first session while both places are held: no third place appears.
        let (id, _transport) = sessions.create_session().await.expect("session");
        assert_eq!(open_count(&sessions), (1, 1, 1));
        let Err(refused) = sessions.reserve("a", &metrics).await else {
            panic!("a third place at a cap of 2");
        };
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        drop(first);
        assert_eq!(open_count(&sessions), (1, 1, 0));
        // The second `initialize` failed before rmcp opened a session: its place is free.
        drop(second);
        assert_eq!(open_count(&sessions), (1, 0, 0));
        // The open session is still opening (its `initialize` is not answered): busy.
        let third = sessions
            .reserve("a", &metrics)
            .await
            .expect("one place left");
        assert!(sessions.reserve("a", &metrics).await.is_err());
        drop(third);
        sessions.forget(&id);
        assert_eq!(open_count(&sessions), (0, 0, 0));
        assert_eq!(sessions.counts(), (0, 0));
    }
}
