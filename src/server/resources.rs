//! The server's side of resources and subscriptions (issue 13, "Push"), for a server with an
//! event log: listing, reading through the one call path (`get_chat`, `get_events`: policy,
//! audit, as a tool call), the 2025-era `resources/subscribe`/`unsubscribe` with one watcher
//! per session, and the 2026-07-28 `subscriptions/listen`.
//!
//! **Audit.** A read is the `get_chat` or `get_events` call it is, recorded as one. Each
//! subscribe and unsubscribe is a row of its own (`subscribe_chat`, `subscribe_events`, …): a
//! refused one (no access, a bad URI, over the cap) says why. A `subscriptions/listen` stream
//! records one subscribe row per resource it asked for. The notifications themselves are not
//! rows, as single events are not.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, Weak};

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        ErrorCode, JsonObject, ListResourceTemplatesResult, ListResourcesResult,
        ReadResourceResult, ResourceContents, ResourceUpdatedNotificationParam, SubscriptionFilter,
    },
    service::{Peer, SubscriptionContext, SubscriptionSink},
};
use serde_json::{Value, json};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{CallContext, LiveChatServer};
use crate::{
    agent::Denial,
    audit::NewEntry,
    error::FailureKind,
    events::{
        format_cursor,
        notify::{self, MAX_SUBSCRIPTIONS, Outlet},
        resources::{self as res, ResourceUri, UriError},
        tool::{PAGE, readable},
    },
};

/// What one session watches, and its watcher: dropped with the session's server, which stops
/// the watcher.
#[derive(Default)]
pub(super) struct SessionSubscriptions {
    state: Mutex<State>,
    /// Cancelled when the session's server is dropped: the session's other tasks end on it.
    ended: CancellationToken,
}

impl Drop for SessionSubscriptions {
    fn drop(&mut self) {
        self.ended.cancel();
    }
}

#[derive(Default)]
struct State {
    uris: BTreeSet<ResourceUri>,
    watcher: Option<DropGuard>,
}

impl SessionSubscriptions {
    /// Cancelled once the session's server is gone.
    pub(super) fn ended(&self) -> CancellationToken {
        self.ended.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A session's watcher sends on the session's peer, for as long as the session is there.
struct SessionOutlet {
    session: Weak<SessionSubscriptions>,
    peer: Peer<RoleServer>,
}

impl Outlet for SessionOutlet {
    fn watched(&self) -> Option<BTreeSet<ResourceUri>> {
        let session = self.session.upgrade()?;
        Some(session.lock().uris.clone())
    }

    async fn updated(&self, uri: String) -> bool {
        self.peer
            .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
            .await
            .is_ok()
    }
}

/// A `subscriptions/listen` stream's watcher sends on the stream.
struct ListenOutlet {
    sink: SubscriptionSink,
    uris: BTreeSet<ResourceUri>,
}

impl Outlet for ListenOutlet {
    fn watched(&self) -> Option<BTreeSet<ResourceUri>> {
        Some(self.uris.clone())
    }

    async fn updated(&self, uri: String) -> bool {
        self.sink.notify_resource_updated(uri).await.is_ok()
    }
}

/// What the server makes of a URI a client asks for.
enum Verdict {
    Granted(ResourceUri),
    Denied(ResourceUri, Denial),
    Invalid(UriError),
}

/// The audit row's tool for a subscribe (`true`) or an unsubscribe of `uri`.
fn audit_tool(subscribe: bool, uri: Option<&ResourceUri>) -> &'static str {
    match (subscribe, uri) {
        (true, Some(ResourceUri::Chat(_))) => res::SUBSCRIBE_CHAT,
        (true, Some(ResourceUri::Events)) => res::SUBSCRIBE_EVENTS,
        (true, None) => res::SUBSCRIBE,
        (false, Some(ResourceUri::Chat(_))) => res::UNSUBSCRIBE_CHAT,
        (false, Some(ResourceUri::Events)) => res::UNSUBSCRIBE_EVENTS,
        (false, None) => res::UNSUBSCRIBE,
    }
}

fn no_events() -> McpError {
    McpError::new(
        ErrorCode::METHOD_NOT_FOUND,
        "this server keeps no help desk events, so it has no resources",
        None,
    )
}

impl LiveChatServer {
    /// The same agent's server for a new session: it shares everything but the session's
    /// subscriptions.
    pub fn for_session(&self) -> LiveChatServer {
        let mut server = self.clone();
        server.subscriptions = Arc::default();
        server
    }

    /// Whether the server offers resources: only with an event log.
    pub fn has_resources(&self) -> bool {
        self.events.is_some()
    }

    fn get_chat_verdict(&self) -> Result<(), Denial> {
        match crate::tools::find("get_chat") {
            Some(spec) => self.agent().check(spec),
            None => Err(Denial::NoSuchTool),
        }
    }

    fn judge(&self, uri: &str) -> Verdict {
        match ResourceUri::parse(uri) {
            Err(e) => Verdict::Invalid(e),
            Ok(ResourceUri::Events) => Verdict::Granted(ResourceUri::Events),
            Ok(chat) => match self.get_chat_verdict() {
                Ok(()) => Verdict::Granted(chat),
                Err(denial) => Verdict::Denied(chat, denial),
            },
        }
    }

    fn resource_entry(&self, tool: &str, uri: Option<&ResourceUri>) -> NewEntry {
        let mut arguments = JsonObject::new();
        if let Some(ResourceUri::Chat(id)) = uri {
            arguments.insert("chat_id".into(), json!(id));
        }
        let mut entry = NewEntry::new(&self.agent().name, tool, &arguments)
            .identity(self.agent().identity.as_str());
        if let Some(ResourceUri::Chat(_)) = uri {
            entry.area = Some("chats".into());
            entry.access = Some("read".into());
        }
        entry
    }

    async fn record(&self, entry: NewEntry) {
        tracing::info!(agent = %self.agent().name, tool = %entry.tool, outcome = entry.outcome.as_str(), "resource call");
        self.record_row(entry, "a resource call").await;
    }

    fn refused(&self, uri: &ResourceUri) -> McpError {
        McpError::new(
            ErrorCode::INVALID_REQUEST,
            format!(
                "not_available: {} is not available to agent {}\nhint: call `whoami` to see what this agent may read",
                uri.uri(),
                self.agent().name
            ),
            None,
        )
    }

    /// `resources/list`: the events.
    pub(super) fn resource_list(&self) -> Result<ListResourcesResult, McpError> {
        self.events.as_ref().ok_or_else(no_events)?;
        Ok(ListResourcesResult::with_all_items(res::resources()))
    }

    /// `resources/templates/list`: chats, for an agent that may read them.
    pub(super) fn resource_templates(&self) -> Result<ListResourceTemplatesResult, McpError> {
        self.events.as_ref().ok_or_else(no_events)?;
        Ok(ListResourceTemplatesResult::with_all_items(res::templates(
            self.get_chat_verdict().is_ok(),
        )))
    }

    /// `resources/read`: a chat through `get_chat`, the events through `get_events`, each
    /// recorded as that call. A bad URI is refused here, recorded, and nothing is sent.
    pub async fn read_resource_uri(
        &self,
        uri: &str,
        cancel: CancellationToken,
    ) -> Result<ReadResourceResult, McpError> {
        let log = self.events.as_ref().ok_or_else(no_events)?;
        let resource = match ResourceUri::parse(uri) {
            Ok(resource) => resource,
            Err(e) => {
                let entry = self
                    .resource_entry(res::READ, None)
                    .failed(FailureKind::InvalidArguments.as_str());
                self.record(entry).await;
                return Err(McpError::invalid_params(e.to_string(), None));
            }
        };
        let (tool, arguments) = match &resource {
            ResourceUri::Chat(id) => ("get_chat", json!({"chat_id": id})),
            ResourceUri::Events => {
                let after = log.recent_start(PAGE as u64).await.map_err(|e| {
                    McpError::internal_error(format!("reading {}: {e}", res::EVENTS_URI), None)
                })?;
                (
                    crate::events::tool::NAME,
                    json!({"after": format_cursor(after)}),
                )
            }
        };
        let Value::Object(arguments) = arguments else {
            unreachable!("an object")
        };
        let context = CallContext {
            cancel,
            ..CallContext::default()
        };
        let outcome = self.call_with(tool, Some(arguments), context).await;
        // The answer is the first text block; a result holding customer text carries a note
        // for the model after it, kept as plain text beside the JSON.
        let mut texts = outcome
            .result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()));
        let text = texts.next().unwrap_or_default();
        let notes: Vec<String> = texts.collect();
        match outcome.failure_kind {
            None => {
                let mut contents = vec![
                    ResourceContents::text(text, resource.uri()).with_mime_type("application/json"),
                ];
                contents.extend(notes.into_iter().map(|note| {
                    ResourceContents::text(note, resource.uri()).with_mime_type("text/plain")
                }));
                Ok(ReadResourceResult::new(contents))
            }
            Some(FailureKind::NotAvailable) => Err(self.refused(&resource)),
            Some(kind) => {
                let code = match kind {
                    FailureKind::InvalidArguments => ErrorCode::INVALID_PARAMS,
                    FailureKind::OverQuota => ErrorCode::INVALID_REQUEST,
                    _ => ErrorCode::INTERNAL_ERROR,
                };
                Err(McpError::new(
                    code,
                    format!("reading {}: {text}", resource.uri()),
                    None,
                ))
            }
        }
    }

    /// `resources/subscribe` (protocol 2025-11-25 and older): watch `uri` for the session
    /// `peer` belongs to.
    pub async fn subscribe_uri(&self, uri: &str, peer: Peer<RoleServer>) -> Result<(), McpError> {
        let log = self.events.as_ref().ok_or_else(no_events)?;
        let resource = match self.judge(uri) {
            Verdict::Invalid(e) => {
                let entry = self
                    .resource_entry(res::SUBSCRIBE, None)
                    .failed(FailureKind::InvalidArguments.as_str());
                self.record(entry).await;
                return Err(McpError::invalid_params(e.to_string(), None));
            }
            Verdict::Denied(resource, denial) => {
                let reason = self.agent().reason(crate::tools::find("get_chat"), &denial);
                let entry = self
                    .resource_entry(audit_tool(true, Some(&resource)), Some(&resource))
                    .denied(reason);
                self.record(entry).await;
                return Err(self.refused(&resource));
            }
            Verdict::Granted(resource) => resource,
        };
        let entry = self.resource_entry(audit_tool(true, Some(&resource)), Some(&resource));
        // Where a new watcher starts: the head now.
        let head = match log.after(None, &crate::events::Filter::default(), 1).await {
            Ok(page) => page.cursor,
            Err(e) => {
                self.record(entry.failed("events_unavailable")).await;
                return Err(McpError::internal_error(
                    format!("events: the event log cannot be read: {e}"),
                    None,
                ));
            }
        };
        let start = {
            let mut state = self.subscriptions.lock();
            if !state.uris.contains(&resource) && state.uris.len() >= MAX_SUBSCRIPTIONS {
                None
            } else {
                state.uris.insert(resource.clone());
                match state.watcher {
                    Some(_) => Some(None),
                    None => {
                        let stop = CancellationToken::new();
                        state.watcher = Some(stop.clone().drop_guard());
                        Some(Some(stop))
                    }
                }
            }
        };
        let Some(start) = start else {
            self.record(entry.failed("too_many_subscriptions")).await;
            return Err(McpError::new(
                ErrorCode::INVALID_REQUEST,
                format!(
                    "too_many_subscriptions: this session already watches {MAX_SUBSCRIPTIONS} resources, the most it may\nhint: unsubscribe from one first, or subscribe to `{}` for every event",
                    res::EVENTS_URI
                ),
                None,
            ));
        };
        if let Some(stop) = start {
            let outlet = SessionOutlet {
                session: Arc::downgrade(&self.subscriptions),
                peer,
            };
            tokio::spawn(notify::watch(
                log.clone(),
                readable(&self.agent().effective_grants()),
                head,
                outlet,
                stop,
            ));
        }
        self.record(entry).await;
        Ok(())
    }

    /// `resources/unsubscribe`: stop watching `uri`; the watcher ends with the last one.
    /// Unsubscribing from what is not watched changes nothing and is not an error.
    pub async fn unsubscribe_uri(&self, uri: &str) -> Result<(), McpError> {
        self.events.as_ref().ok_or_else(no_events)?;
        let resource = match ResourceUri::parse(uri) {
            Ok(resource) => resource,
            Err(e) => {
                let entry = self
                    .resource_entry(res::UNSUBSCRIBE, None)
                    .failed(FailureKind::InvalidArguments.as_str());
                self.record(entry).await;
                return Err(McpError::invalid_params(e.to_string(), None));
            }
        };
        let stopped = {
            let mut state = self.subscriptions.lock();
            state.uris.remove(&resource);
            if state.uris.is_empty() {
                state.watcher.take()
            } else {
                None
            }
        };
        drop(stopped);
        let entry = self.resource_entry(audit_tool(false, Some(&resource)), Some(&resource));
        self.record(entry).await;
        Ok(())
    }

    /// What a `subscriptions/listen` stream may watch of what it asked: the resources the
    /// agent may read, at most [`MAX_SUBSCRIPTIONS`]. `None` without an event log (then
    /// `subscriptions/listen` is not a method of this server).
    pub(super) fn accepted_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.events.as_ref()?;
        let accepted: Vec<String> = self
            .granted_of(requested)
            .into_iter()
            .take(MAX_SUBSCRIPTIONS)
            .map(|r| r.uri())
            .collect();
        Some(
            SubscriptionFilter::builder()
                .resource_subscriptions(accepted)
                .build(),
        )
    }

    /// The resources of `requested` the agent may watch, in the order asked, once each.
    fn granted_of(&self, requested: &SubscriptionFilter) -> Vec<ResourceUri> {
        let mut seen = BTreeSet::new();
        requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter_map(|uri| match self.judge(uri) {
                Verdict::Granted(r) if seen.insert(r.clone()) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// Runs one `subscriptions/listen` stream: records what it asked for, then tells it of
    /// every event that touches a resource it was granted, until it is cancelled.
    pub(super) async fn listen_on(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let Some(log) = self.events.clone() else {
            context.cancelled().await;
            return Ok(());
        };
        let accepted: BTreeSet<ResourceUri> = context
            .accepted()
            .resource_subscriptions
            .iter()
            .flatten()
            .filter_map(|uri| ResourceUri::parse(uri).ok())
            .collect();
        // Where the watcher starts: the head as the stream opens, before the rows are written.
        let head = log
            .after(None, &crate::events::Filter::default(), 1)
            .await
            .map_err(|e| {
                McpError::internal_error(format!("events: the event log cannot be read: {e}"), None)
            })?
            .cursor;
        let mut recorded = BTreeSet::new();
        let mut entries = Vec::new();
        let requested = context
            .requested()
            .resource_subscriptions
            .as_deref()
            .unwrap_or_default();
        // One row per resource asked for, up to twice the cap; past that a single row, so a
        // request listing thousands of URIs cannot flood the trail.
        let shown = requested.len().min(2 * MAX_SUBSCRIPTIONS);
        if requested.len() > shown {
            let entry = self
                .resource_entry(res::SUBSCRIBE, None)
                .failed("too_many_subscriptions");
            entries.push(entry);
        }
        for uri in &requested[..shown] {
            let entry = match self.judge(uri) {
                Verdict::Invalid(_) => self
                    .resource_entry(res::SUBSCRIBE, None)
                    .failed(FailureKind::InvalidArguments.as_str()),
                Verdict::Denied(resource, denial) => {
                    let reason = self.agent().reason(crate::tools::find("get_chat"), &denial);
                    self.resource_entry(audit_tool(true, Some(&resource)), Some(&resource))
                        .denied(reason)
                }
                Verdict::Granted(resource) => {
                    if !recorded.insert(resource.clone()) {
                        continue;
                    }
                    let entry =
                        self.resource_entry(audit_tool(true, Some(&resource)), Some(&resource));
                    if accepted.contains(&resource) {
                        entry
                    } else {
                        entry.failed("too_many_subscriptions")
                    }
                }
            };
            entries.push(entry);
        }
        // Written by a task of their own: a client that ends the stream at once (or a refused
        // listen, which closes at once) must not cut the rows short.
        let server = self.clone();
        let written = tokio::spawn(async move {
            for entry in entries {
                server.record(entry).await;
            }
        });
        let _ = written.await;
        if accepted.is_empty() {
            // Nothing to tell: the stream closes at once, gracefully.
            return Ok(());
        }
        let outlet = ListenOutlet {
            sink: context.sink().clone(),
            uris: accepted,
        };
        let stop = CancellationToken::new();
        let _stop_on_return = stop.clone().drop_guard();
        tokio::select! {
            _ = context.cancelled() => {}
            _ = notify::watch(log, readable(&self.agent().effective_grants()), head, outlet, stop.clone()) => {}
        }
        Ok(())
    }
}
