//! Pushing `notifications/resources/updated` to subscribers, driven by the event log's head.
//!
//! One watcher runs per MCP session that subscribed (`resources/subscribe`), or per
//! `subscriptions/listen` stream. It waits on [`EventLog::wait_for`], reads what was appended
//! with the agent's own area filter (so an agent with `chats = "off"` is never told a chat
//! changed), and tells the client once per watched resource the new events touched.
//!
//! **Bounded.** A session watches at most [`MAX_SUBSCRIPTIONS`] resources. However many events
//! arrive, one round reads them in pages from the log (not from memory) and sends each touched
//! URI once; rounds are at least [`MIN_INTERVAL`] apart and each send waits for the transport,
//! at most [`SEND_TIMEOUT`]. So a flood of events costs a slow client at most one
//! notification per watched resource per interval, and a client that stops reading ends its
//! watcher instead of growing a queue.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::resources::ResourceUri;
use super::{EventError, EventLog, Filter, MAX_LIMIT};
use crate::tools::Area;

/// The most resources one session (or one listen stream) may watch.
pub const MAX_SUBSCRIPTIONS: usize = 32;

/// The shortest time between two rounds of notifications.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// The longest one notification may wait for the transport before the watcher gives up.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a watcher waits on the head before checking its session is still there (appends
/// by another process sharing the log are found by the wait itself, see [`EventLog::wait_for`]).
const POLL: Duration = Duration::from_secs(5);

/// Watchers running in this process, for tests and metrics.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many watchers are running now.
pub fn running() -> usize {
    RUNNING.load(Ordering::SeqCst)
}

/// Where a watcher's notifications go, and what it watches.
pub trait Outlet: Send + Sync + 'static {
    /// The resources watched now; `None` when the session is gone and the watcher must end.
    fn watched(&self) -> Option<BTreeSet<ResourceUri>>;
    /// Sends `notifications/resources/updated` for `uri`; false when the client is gone.
    fn updated(&self, uri: String) -> impl Future<Output = bool> + Send;
}

/// Counts a watcher as running until dropped.
struct Counted;

impl Counted {
    fn start() -> Counted {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Counted
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The resources of `watched` that the events of a page touch, each once.
pub fn touched<'a>(
    watched: &'a BTreeSet<ResourceUri>,
    events: &[super::Event],
) -> Vec<&'a ResourceUri> {
    watched
        .iter()
        .filter(|uri| events.iter().any(|event| uri.touched_by(event)))
        .collect()
}

/// Watches the log after `cursor` for events in `areas` until `stop` fires, the outlet's
/// session is gone, or its client stops reading.
pub async fn watch<O: Outlet>(
    log: EventLog,
    areas: Vec<Area>,
    mut cursor: u64,
    outlet: O,
    stop: CancellationToken,
) {
    let _counted = Counted::start();
    let filter = Filter::areas(areas);
    let mut last_round: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = log.wait_for(cursor, POLL) => {}
        }
        let Some(watched) = outlet.watched() else {
            tracing::debug!("a resource watcher's session is gone; the watcher ends");
            return;
        };
        // Coalesce: what arrives during the interval is read in the same round.
        if let Some(last) = last_round {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep_until(last + MIN_INTERVAL) => {}
            }
        }
        let mut hit: BTreeSet<&ResourceUri> = BTreeSet::new();
        // Every page up to the head, so one round tells of a whole burst.
        loop {
            match log.after(Some(cursor), &filter, MAX_LIMIT).await {
                Ok(page) => {
                    let full = page.events.len() == MAX_LIMIT;
                    hit.extend(touched(&watched, &page.events));
                    cursor = page.cursor;
                    if !full || hit.len() == watched.len() {
                        break;
                    }
                }
                Err(EventError::StaleCursor { resume_after, .. }) => {
                    // Events were dropped unseen: anything may have changed.
                    tracing::warn!(
                        "a resource watcher fell behind the event log's retention; telling its client every watched resource changed"
                    );
                    hit.extend(watched.iter());
                    cursor = resume_after;
                    break;
                }
                Err(e) => {
                    tracing::warn!("a resource watcher could not read the event log: {e}");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(POLL) => {}
                    }
                    break;
                }
            }
        }
        tracing::debug!(cursor, touched = hit.len(), "resource watcher round");
        if hit.is_empty() {
            continue;
        }
        for uri in hit {
            let sent = tokio::select! {
                _ = stop.cancelled() => return,
                sent = tokio::time::timeout(SEND_TIMEOUT, outlet.updated(uri.uri())) => sent,
            };
            if !matches!(sent, Ok(true)) {
                tracing::debug!("a resource watcher's client is gone; the watcher ends");
                return;
            }
        }
        last_round = Some(tokio::time::Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::events::{LogOptions, NewEvent};

    #[derive(Clone, Default)]
    struct Recorder {
        watched: Arc<Mutex<Option<BTreeSet<ResourceUri>>>>,
        sent: Arc<Mutex<Vec<String>>>,
    }

    impl Outlet for Recorder {
        fn watched(&self) -> Option<BTreeSet<ResourceUri>> {
            self.watched.lock().unwrap().clone()
        }
        async fn updated(&self, uri: String) -> bool {
            self.sent.lock().unwrap().push(uri);
            true
        }
    }

    fn message(n: u32, chat: &str) -> NewEvent {
        NewEvent {
            action: "incoming_event".into(),
            chat_id: Some(chat.into()),
            thread_id: None,
            dedupe: format!("d{n}"),
            earlier: None,
            payload: serde_json::json!({"payload": {"chat_id": chat}}),
        }
    }

    fn temp_log(label: &str) -> (EventLog, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "lcmcp-notify-{label}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let log = EventLog::open_sqlite(&dir.join("events.db"), LogOptions::default()).unwrap();
        (log, dir)
    }

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_burst_is_told_once_per_watched_chat_and_other_chats_not_at_all() {
        let (log, dir) = temp_log("burst");
        let recorder = Recorder::default();
        *recorder.watched.lock().unwrap() = Some(BTreeSet::from([ResourceUri::Chat("C1".into())]));
        let stop = CancellationToken::new();
        let task = tokio::spawn(watch(
            log.clone(),
            vec![Area::Chats],
            0,
            recorder.clone(),
            stop.clone(),
        ));
        log.append(message(0, "C1")).await.unwrap();
        until("the first event is told", || {
            recorder.sent.lock().unwrap().len() == 1
        })
        .await;
        // A burst of 500 in C1 and some in C2: at most one notification per round, however
        // long the appends take on a loaded machine (each is an fsync), never one per event.
        let started = std::time::Instant::now();
        for n in 1..=500 {
            log.append(message(n, if n % 5 == 0 { "C2" } else { "C1" }))
                .await
                .unwrap();
        }
        let rounds = started.elapsed().as_millis() / MIN_INTERVAL.as_millis() + 1;
        tokio::time::sleep(MIN_INTERVAL * 4).await;
        let sent = recorder.sent.lock().unwrap().clone();
        let told = sent.len() - 1;
        assert!(
            told >= 1 && told as u128 <= rounds + 1 && told < 100,
            "a burst is coalesced to one notification per round ({rounds} rounds), not one per event: {told}",
        );
        assert!(sent.iter().all(|u| u == "livechat://chats/C1"), "{sent:?}");
        // Only C2 changes: nothing.
        let before = sent.len();
        log.append(message(1000, "C2")).await.unwrap();
        tokio::time::sleep(MIN_INTERVAL * 2).await;
        assert_eq!(recorder.sent.lock().unwrap().len(), before);
        stop.cancel();
        task.await.unwrap();
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn events_outside_the_areas_are_never_told() {
        let (log, dir) = temp_log("areas");
        let recorder = Recorder::default();
        *recorder.watched.lock().unwrap() = Some(BTreeSet::from([ResourceUri::Events]));
        let stop = CancellationToken::new();
        let task = tokio::spawn(watch(
            log.clone(),
            vec![Area::Agents],
            0,
            recorder.clone(),
            stop.clone(),
        ));
        log.append(message(1, "C1")).await.unwrap();
        tokio::time::sleep(MIN_INTERVAL * 2).await;
        assert!(recorder.sent.lock().unwrap().is_empty());
        log.append(NewEvent {
            action: "agent_created".into(),
            chat_id: None,
            thread_id: None,
            dedupe: "a1".into(),
            earlier: None,
            payload: serde_json::json!({}),
        })
        .await
        .unwrap();
        until("the agent event is told", || {
            recorder.sent.lock().unwrap().as_slice() == ["livechat://events"]
        })
        .await;
        stop.cancel();
        task.await.unwrap();
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_watcher_ends_when_its_session_is_gone() {
        let (log, dir) = temp_log("gone");
        let recorder = Recorder::default();
        *recorder.watched.lock().unwrap() = Some(BTreeSet::from([ResourceUri::Events]));
        let task = tokio::spawn(watch(
            log.clone(),
            vec![Area::Chats],
            0,
            recorder.clone(),
            CancellationToken::new(),
        ));
        *recorder.watched.lock().unwrap() = None;
        log.append(message(1, "C1")).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the watcher ends")
            .unwrap();
        assert!(recorder.sent.lock().unwrap().is_empty());
        std::fs::remove_dir_all(dir).ok();
    }
}
