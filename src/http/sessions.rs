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
//!
//! An open streamable session costs rmcp about 60 KB while it runs: two tasks (the service
//! loop and the session worker), half a dozen channels each with a first block of 32
//! messages, the resumption cache. Most sessions spend most of their life idle, so an idle one
//! is put to sleep ([`AgentSessions::sleep_when_idle`]): once it has had no request in flight,
//! no stream open and no message for [`DOZE_AFTER`], rmcp's side of it is closed and only its
//! `initialize` is kept (with its place in the table, its cap and its idle timeout). Its next
//! request wakes it: a new rmcp session under the same id, handed the kept `initialize` and
//! `notifications/initialized` before the request, as rmcp itself restores a session from a
//! session store. A session that subscribed to a resource never sleeps: its subscriptions
//! live in its running server.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use rmcp::{
    RoleServer,
    model::{
        ClientJsonRpcMessage, ClientNotification, ClientRequest, JsonRpcMessage,
        NotificationNoParam, RequestId, ServerJsonRpcMessage,
    },
    transport::{
        Transport, WorkerTransport,
        streamable_http_server::{
            SessionId, SessionManager,
            session::{
                RestoreOutcome, ServerSseMessage,
                local::{LocalSessionManager, LocalSessionManagerError, LocalSessionWorker},
            },
        },
    },
};
use tokio::{
    sync::OwnedSemaphorePermit,
    time::{Duration, Instant},
};
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;

use super::{limits, metrics::Metrics};
use crate::{request_ids::InFlight, server::LiveChatServer};

/// How long a streamable session stays awake with nothing going on: longer than the 3 s an
/// SSE client waits before it resumes a dropped stream, so a resumption finds the session's
/// recent events.
pub(super) const DOZE_AFTER: Duration = Duration::from_secs(5);

/// The id of the `initialize` replayed to wake a session: its answer releases this id, never
/// one of the client's.
const WAKE_ID: &str = "livechat-mcp:wake";

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
    /// Whether a streamable session sleeps, and what it needs to wake.
    sleep: Mutex<Sleep>,
    /// Held while the session is put to sleep or woken, so the two never cross.
    gate: tokio::sync::Mutex<()>,
}

/// A streamable session's sleep (see the module's documentation).
#[derive(Default)]
struct Sleep {
    /// rmcp's side of the session is closed; its next request wakes it.
    asleep: bool,
    /// Closes of rmcp's side asked for here that rmcp has yet to report (it calls
    /// `close_session` once a session's service ends): those reports are not the client's.
    owed: usize,
    /// The client's `initialize`, replayed to wake the session (kept only when it may sleep).
    initialize: Option<Box<ClientJsonRpcMessage>>,
    /// Streams open to the client (GET, resumptions, POST answers).
    streams: usize,
    /// It subscribed to a resource, so it never sleeps.
    pinned: bool,
}

impl Activity {
    fn new(opening: bool) -> Arc<Activity> {
        Arc::new(Activity {
            requests: InFlight::default(),
            last_used: Mutex::new(Instant::now()),
            opening: AtomicBool::new(opening),
            closed: CancellationToken::new(),
            sleep: Mutex::default(),
            gate: tokio::sync::Mutex::new(()),
        })
    }

    fn sleep(&self) -> MutexGuard<'_, Sleep> {
        self.sleep.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_asleep(&self) -> bool {
        self.sleep().asleep
    }

    /// Whether it may be put to sleep now: awake, opened, idle for `after`, nothing open.
    fn is_drowsy(&self, after: Duration) -> bool {
        let sleep = self.sleep();
        !sleep.asleep
            && !sleep.pinned
            && sleep.streams == 0
            && sleep.initialize.is_some()
            && self.is_idle()
            && self.last_used().elapsed() >= after
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
    /// Set when idle streamable sessions sleep.
    sleeper: OnceLock<Sleeper>,
    /// Whether the task that puts sessions to sleep runs (started with the first session).
    sweeping: AtomicBool,
}

/// What waking a session needs, and when to put one to sleep.
struct Sleeper {
    /// The agent's server; each waking gets a session's copy, as rmcp's factory does.
    template: LiveChatServer,
    /// The server's token: a woken session stops with the others at shutdown.
    stop: CancellationToken,
    after: Duration,
    /// A sleeping session without a message for this long is closed, as rmcp closes an
    /// awake one.
    idle_timeout: Option<Duration>,
    sessions: Weak<AgentSessions>,
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
            sleeper: OnceLock::new(),
            sweeping: AtomicBool::new(false),
        }
    }

    /// Puts a streamable session to sleep once it has been idle for `after`, with nothing
    /// open; it wakes as a session of `template`'s, stopped by `stop`.
    pub(super) fn sleep_when_idle(
        self: &Arc<Self>,
        template: LiveChatServer,
        stop: CancellationToken,
        after: Duration,
    ) {
        let _ = self.sleeper.set(Sleeper {
            template,
            stop,
            after,
            idle_timeout: self.local.session_config.keep_alive,
            sessions: Arc::downgrade(self),
        });
    }

    /// Starts the task that puts idle sessions to sleep, once.
    fn start_sweeping(&self) {
        let Some(sleeper) = self.sleeper.get() else {
            return;
        };
        if self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let (sessions, stop) = (sleeper.sessions.clone(), sleeper.stop.clone());
        let tick = (sleeper.after / 4).max(Duration::from_millis(100));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(tick) => {}
                }
                let Some(sessions) = sessions.upgrade() else {
                    return;
                };
                sessions.sweep().await;
            }
        });
    }

    /// Puts every drowsy session to sleep, and closes sleeping ones past the idle timeout.
    async fn sweep(&self) {
        let Some(sleeper) = self.sleeper.get() else {
            return;
        };
        let (drowsy, expired): (Vec<_>, Vec<_>) = {
            let table = self.table();
            let streamable = table
                .open
                .iter()
                .filter(|(_, (kind, _))| *kind == Kind::Streamable);
            let mut drowsy = Vec::new();
            let mut expired = Vec::new();
            for (id, (_, activity)) in streamable {
                if activity.is_asleep() {
                    if sleeper
                        .idle_timeout
                        .is_some_and(|limit| activity.last_used().elapsed() >= limit)
                    {
                        expired.push(id.clone());
                    }
                } else if activity.is_drowsy(sleeper.after) {
                    drowsy.push((id.clone(), activity.clone()));
                }
            }
            (drowsy, expired)
        };
        for id in expired {
            let gone = self.table().open.remove(&id);
            if let Some((_, activity)) = gone {
                activity.closed.cancel();
            }
        }
        for (id, activity) in drowsy {
            self.put_to_sleep(&id, &activity, sleeper.after).await;
        }
    }

    async fn put_to_sleep(&self, id: &SessionId, activity: &Arc<Activity>, after: Duration) {
        let _gate = activity.gate.lock().await;
        if !activity.is_drowsy(after) {
            return;
        }
        {
            let mut sleep = activity.sleep();
            sleep.asleep = true;
            sleep.owed += 1;
        }
        if let Err(e) = self.local.close_session(id).await {
            tracing::warn!("an idle session did not go to sleep cleanly: {e}");
        }
        super::trim::after_sleep();
    }

    /// Wakes the session if it sleeps: a new rmcp session under its id, initialized as the
    /// client initialized it.
    async fn wake(
        &self,
        id: &SessionId,
        activity: &Arc<Activity>,
    ) -> Result<(), LocalSessionManagerError> {
        if !activity.is_asleep() {
            return Ok(());
        }
        let _gate = activity.gate.lock().await;
        let initialize = {
            let sleep = activity.sleep();
            if !sleep.asleep {
                return Ok(());
            }
            sleep.initialize.clone()
        };
        let (Some(initialize), Some(sleeper)) = (initialize, self.sleeper.get()) else {
            activity.sleep().asleep = false;
            return Ok(());
        };
        let inner = match self.local.restore_session(id.clone()).await? {
            RestoreOutcome::Restored(inner) => inner,
            _ => {
                activity.sleep().asleep = false;
                return Ok(());
            }
        };
        let transport = Tracked {
            inner,
            activity: activity.clone(),
        };
        let service = sleeper.template.for_session();
        let stop = sleeper.stop.child_token();
        let sessions = sleeper.sessions.upgrade();
        let (ready, readied) = tokio::sync::oneshot::channel();
        let session = id.clone();
        tokio::spawn(async move {
            match rmcp::service::serve_server_with_ct(service, transport, stop).await {
                Ok(running) => {
                    let _ = ready.send(());
                    let _ = running.waiting().await;
                }
                Err(e) => tracing::warn!("a sleeping session did not wake: {e}"),
            }
            // As rmcp does when a session it started ends.
            if let Some(sessions) = sessions {
                let _ = sessions.close_session(&session).await;
            }
        });
        self.local.initialize_session(id, *initialize).await?;
        let initialized = ClientJsonRpcMessage::notification(
            ClientNotification::InitializedNotification(NotificationNoParam {
                method: Default::default(),
                extensions: Default::default(),
            }),
        );
        self.local.accept_message(id, initialized).await?;
        if readied.await.is_err() {
            // The service did not start: the session is closed (by the task above).
            return Err(LocalSessionManagerError::SessionNotFound(id.clone()));
        }
        activity.sleep().asleep = false;
        Ok(())
    }

    /// `stream`, counted as open in the session until it ends.
    fn counted(&self, activity: Option<Arc<Activity>>, stream: SseStream) -> SseStream {
        match activity {
            Some(activity) => {
                activity.sleep().streams += 1;
                Box::pin(Counted {
                    inner: stream,
                    activity,
                })
            }
            None => stream,
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

    /// Streamable sessions asleep now.
    pub(super) fn asleep(&self) -> usize {
        self.table()
            .open
            .values()
            .filter(|(_, activity)| activity.is_asleep())
            .count()
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
        self.start_sweeping();
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
        let kept = match self.sleeper.get() {
            Some(_) => to_replay(&message),
            None => None,
        };
        let answer = self.local.initialize_session(id, message).await;
        if let Some(activity) = self.activity(id) {
            activity.sleep().initialize = kept;
            activity.opened();
        }
        answer
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        // A sleeping session is in the table only.
        if self.activity(id).is_some() {
            return Ok(true);
        }
        self.local.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        if let Some(activity) = self.activity(id) {
            let mut sleep = activity.sleep();
            if sleep.owed > 0 {
                // rmcp reporting the end of a session put to sleep here.
                sleep.owed -= 1;
                return Ok(());
            }
        }
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
                if matches!(request.request, ClientRequest::SubscribeRequest(_)) {
                    activity.sleep().pinned = true;
                }
                if let Err(refused) = activity.requests.claim(&request.id, None) {
                    let answer = ServerSseMessage::from_message(refused.1);
                    let answer: SseStream = Box::pin(tokio_stream::once(answer));
                    return Ok(answer);
                }
                Some(request.id.clone())
            }
            _ => None,
        };
        let woken = match &activity {
            Some(activity) => self.wake(id, activity).await,
            None => Ok(()),
        };
        let opened = match woken {
            Ok(()) => self.local.create_stream(id, message).await,
            Err(e) => Err(e),
        };
        match opened {
            Ok(stream) => Ok(self.counted(activity, Box::pin(stream))),
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
            if activity.is_asleep() {
                // A notification or an answer for a sleeping session: it has no request in
                // flight to cancel or to answer, and waking replays `initialized` itself.
                return Ok(());
            }
        }
        self.local.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let activity = self.activity(id);
        if let Some(activity) = &activity {
            activity.touch();
            self.wake(id, activity).await?;
        }
        let stream = self.local.create_standalone_stream(id).await?;
        Ok(self.counted(activity, Box::pin(stream)))
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let activity = self.activity(id);
        if let Some(activity) = &activity {
            activity.touch();
            self.wake(id, activity).await?;
        }
        let stream = self.local.resume(id, last_event_id).await?;
        Ok(self.counted(activity, Box::pin(stream)))
    }
}

/// The `initialize` to keep for waking a session: the client's, under [`WAKE_ID`] and
/// without the HTTP request it came in (which rmcp attaches to each message).
fn to_replay(message: &ClientJsonRpcMessage) -> Option<Box<ClientJsonRpcMessage>> {
    let JsonRpcMessage::Request(request) = message else {
        return None;
    };
    let ClientRequest::InitializeRequest(initialize) = &request.request else {
        return None;
    };
    let mut initialize = initialize.clone();
    initialize.extensions.remove::<axum::http::request::Parts>();
    Some(Box::new(ClientJsonRpcMessage::request(
        ClientRequest::InitializeRequest(initialize),
        RequestId::String(WAKE_ID.into()),
    )))
}

/// A stream to the client, counted as open in its session (which does not sleep meanwhile)
/// until it ends.
struct Counted {
    inner: SseStream,
    activity: Arc<Activity>,
}

impl Stream for Counted {
    type Item = ServerSseMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.activity.sleep().streams -= 1;
        // The session dozes from the stream's end: a client that lost it may resume it.
        self.activity.touch();
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
