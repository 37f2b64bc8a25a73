//! The durable event log (issue 13): LiveChat's webhook deliveries and RTM pushes, stored
//! once each, in order, bounded by age and count, for agents to read after a cursor.
//!
//! **Where.** Beside the audit trail, in the same kind of store: a SQLite file of its own next
//! to the trail's file (`audit.db` → `audit.db.events`, [`path_beside`]), or two tables in the
//! trail's PostgreSQL database (`livechat_mcp_events`, `livechat_mcp_events_meta`). The
//! SQLite log is a separate file, not a table in the trail's: the trail is append-only (its
//! triggers refuse deletes, and retention deletes), its file is written with
//! `synchronous = FULL` under a busy timeout of seconds, and a burst of webhooks must neither
//! wait on nor hold up the write lock every recorded call takes.
//!
//! **Cursors.** Each stored event takes the next cursor (the newest cursor the log ever gave,
//! plus one; kept in the meta row, so it survives restarts and retention). Cursors have no
//! gaps, retention drops a prefix, and so the log is described by two numbers: `head`, the
//! newest cursor, and `dropped`, the newest cursor retention removed. A reader whose cursor is
//! below `dropped` missed events and is told so ([`EventError::StaleCursor`]).
//!
//! **Bounded appends.** An append never keeps its caller past [`APPEND_BOUND`] (1 s): the
//! webhook receiver must answer LiveChat quickly. SQLite waits at most 500 ms for the file's
//! write lock (`busy_timeout`), PostgreSQL at most 900 ms for the log's lock
//! (`lock_timeout`), and the whole append runs under a 1 s timeout besides; past it the caller
//! gets [`EventError::Busy`]. A delivery refused this way is retried by LiveChat, and the
//! retry is deduplicated if the first one was stored after all.
//!
//! **Waking readers.** [`EventLog::wait_for`] wakes as soon as this process appends an event
//! past the reader's cursor (a `tokio::sync::watch` of the head). Appends by another process
//! sharing the log (a second replica on one PostgreSQL database) are found by looking at the
//! store's head every [`RECHECK`] while anyone waits (one look for all the process's waiters,
//! whose find wakes them all), and once more at each waiter's timeout.
//!
//! Events come from webhooks (`crate::http::intake`) and from RTM pushes ([`rtm`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::watch;

pub mod area;
pub mod dedupe;
pub mod error;
pub mod event;
pub mod notify;
mod postgres;
pub mod resources;
pub mod retention;
pub mod rtm;
pub mod secrets;
mod sqlite;
pub mod summary;
pub mod tool;

pub use area::area_of;
pub use error::EventError;
pub use event::{Appended, Event, Filter, MAX_LIMIT, NewEvent, Page, format_cursor, parse_cursor};
pub use retention::Retention;

use crate::tools::Area;

/// The longest an append keeps its caller.
pub const APPEND_BOUND: Duration = Duration::from_secs(1);

/// How often a waiting reader looks at the store for appends by other processes.
pub const RECHECK: Duration = Duration::from_millis(500);

/// How many appends apart retention runs by default (it also runs on [`EventLog::prune`]).
pub const PRUNE_EVERY: u64 = 64;

/// The deepest payload the log stores: well within what `serde_json` reads back (128).
pub const MAX_DEPTH: usize = 100;

/// The time now, as the log sees it; tests pass a clock of their own.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How a log keeps its events.
#[derive(Clone)]
pub struct LogOptions {
    pub retention: Retention,
    /// Retention runs in every `prune_every`th append (the first one included); 0 is taken
    /// as 1.
    pub prune_every: u64,
    pub clock: Clock,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            retention: Retention::default(),
            prune_every: PRUNE_EVERY,
            clock: Arc::new(Utc::now),
        }
    }
}

impl std::fmt::Debug for LogOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogOptions")
            .field("retention", &self.retention)
            .field("prune_every", &self.prune_every)
            .finish_non_exhaustive()
    }
}

/// The SQLite event log's file beside the audit trail's `audit_path`: `audit.db` →
/// `audit.db.events`.
pub fn path_beside(audit_path: &Path) -> PathBuf {
    let mut name = audit_path.as_os_str().to_owned();
    name.push(".events");
    PathBuf::from(name)
}

/// A handle on one event log; clones share it.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("store", &self.location())
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Store,
    options: LogOptions,
    /// The newest cursor this process knows of; readers wait on it.
    head: watch::Sender<u64>,
    /// Appends so far, for running retention every `prune_every`.
    appends: AtomicU64,
    /// When a waiter last looked at the store for other processes' appends (ms since
    /// `opened`): one look per [`RECHECK`] serves every waiter of this process.
    rechecked: AtomicI64,
    opened: std::time::Instant,
}

enum Store {
    Sqlite(sqlite::SqliteLog),
    /// Boxed: the connection settings are large.
    Postgres(Box<postgres::PgLog>),
}

/// An event ready to store: checked, its secrets removed, stamped.
pub(crate) struct Row {
    pub dedupe: String,
    pub earlier: Option<String>,
    pub action: String,
    pub area: &'static str,
    pub chat_id: Option<String>,
    pub thread_id: Option<String>,
    pub at: String,
    pub at_ms: i64,
    pub payload: String,
}

/// Retention to apply in an append or on demand, at the log's clock.
#[derive(Clone, Copy)]
pub(crate) struct Prune {
    pub now_ms: i64,
    pub retention: Retention,
}

/// What a backend read: the log's two numbers and the matching events, from one snapshot.
pub(crate) struct Snapshot {
    pub head: i64,
    pub dropped: i64,
    pub events: Vec<Event>,
}

impl EventLog {
    /// Opens (creating it if needed) the SQLite event log at `path`.
    pub fn open_sqlite(path: &Path, options: LogOptions) -> Result<EventLog, EventError> {
        options.retention.check()?;
        let store = sqlite::SqliteLog::open(path)?;
        let (head, _) = store.numbers_now()?;
        Ok(EventLog::with(Store::Sqlite(store), options, head))
    }

    /// Opens (creating its tables if needed) the event log in the PostgreSQL database `url`
    /// names. The URL's password never appears in an error.
    pub async fn open_postgres(url: &str, options: LogOptions) -> Result<EventLog, EventError> {
        options.retention.check()?;
        let store = postgres::PgLog::open(url).await?;
        let (head, _) = store.numbers().await?;
        Ok(EventLog::with(
            Store::Postgres(Box::new(store)),
            options,
            head,
        ))
    }

    /// Opens the event log beside the audit trail at `audit_location`: in the same
    /// PostgreSQL database for a `postgres://` URL, else in the file [`path_beside`] the
    /// trail's file.
    pub async fn open_beside_audit(
        audit_location: &str,
        options: LogOptions,
    ) -> Result<EventLog, EventError> {
        if audit_location.starts_with("postgres://") || audit_location.starts_with("postgresql://")
        {
            EventLog::open_postgres(audit_location, options).await
        } else {
            let path = path_beside(Path::new(audit_location));
            tokio::task::spawn_blocking(move || EventLog::open_sqlite(&path, options))
                .await
                .map_err(|e| EventError::Storage {
                    store: "the event log".to_string(),
                    detail: format!("opening it failed: {e}"),
                })?
        }
    }

    fn with(store: Store, options: LogOptions, head: i64) -> EventLog {
        let (head, _) = watch::channel(u64::try_from(head).unwrap_or(0));
        EventLog {
            inner: Arc::new(Inner {
                store,
                options,
                head,
                appends: AtomicU64::new(0),
                rechecked: AtomicI64::new(i64::MIN / 2),
                opened: std::time::Instant::now(),
            }),
        }
    }

    /// The store, for messages: the file's path, or `postgres://host:port/db`.
    pub fn location(&self) -> String {
        match &self.inner.store {
            Store::Sqlite(s) => s.describe(),
            Store::Postgres(p) => p.describe(),
        }
    }

    /// Stores `event` once: a second event with the same dedupe key stores nothing and
    /// answers the first one's cursor. Its `secret_key` fields are removed first. Never keeps
    /// the caller past [`APPEND_BOUND`].
    pub async fn append(&self, event: NewEvent) -> Result<Appended, EventError> {
        let row = self.prepare(event)?;
        let every = self.inner.options.prune_every.max(1);
        let prune = self
            .inner
            .appends
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(every)
            .then_some(Prune {
                now_ms: row.at_ms,
                retention: self.inner.options.retention,
            });
        let appended = match &self.inner.store {
            Store::Sqlite(s) => s.append(row, prune).await?,
            Store::Postgres(p) => p.append(row, prune).await?,
        };
        if !appended.duplicate {
            self.inner.head.send_if_modified(|head| {
                let newer = appended.cursor > *head;
                if newer {
                    *head = appended.cursor;
                }
                newer
            });
        }
        Ok(appended)
    }

    /// The events strictly after `cursor` that `filter` lets through, oldest first, at most
    /// `limit` (taken between 1 and [`MAX_LIMIT`]). `None` means from now: no events, and the
    /// newest cursor to read after next time.
    pub async fn after(
        &self,
        cursor: Option<u64>,
        filter: &Filter,
        limit: usize,
    ) -> Result<Page, EventError> {
        let Some(after) = cursor else {
            let (head, _) = self.numbers().await?;
            return Ok(Page {
                events: Vec::new(),
                cursor: u64::try_from(head).unwrap_or(0),
            });
        };
        let limit = limit.clamp(1, MAX_LIMIT);
        let from = i64::try_from(after).unwrap_or(i64::MAX);
        let snapshot = match &self.inner.store {
            Store::Sqlite(s) => s.read(from, filter, limit).await?,
            Store::Postgres(p) => p.read(from, filter, limit).await?,
        };
        let head = u64::try_from(snapshot.head).unwrap_or(0);
        let dropped = u64::try_from(snapshot.dropped).unwrap_or(0);
        if after > head {
            return Err(EventError::CursorAhead {
                cursor: after,
                head,
            });
        }
        if after < dropped {
            return Err(EventError::StaleCursor {
                cursor: after,
                oldest: (head > dropped).then_some(dropped + 1),
                resume_after: dropped,
            });
        }
        let cursor = match snapshot.events.last() {
            // A full page: there may be more after its last event.
            Some(last) if snapshot.events.len() == limit => last.cursor,
            // Otherwise every event up to the head was looked at.
            _ => head,
        };
        Ok(Page {
            events: snapshot.events,
            cursor,
        })
    }

    /// Applies retention now; returns how many events it dropped.
    pub async fn prune(&self) -> Result<u64, EventError> {
        let prune = Prune {
            now_ms: (self.inner.options.clock)().timestamp_millis(),
            retention: self.inner.options.retention,
        };
        match &self.inner.store {
            Store::Sqlite(s) => s.prune(prune).await,
            Store::Postgres(p) => p.prune(prune).await,
        }
    }

    /// Waits until an event after `cursor` is appended, or `timeout` passes. True if one was
    /// (at once if one already was). Appends by this process wake it at once; the store is
    /// looked at every [`RECHECK`] for those of other processes.
    pub async fn wait_for(&self, cursor: u64, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut head = self.inner.head.subscribe();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left.min(RECHECK), head.wait_for(|head| *head > cursor))
                .await
            {
                Ok(Ok(_)) => return true,
                // The log is going away.
                Ok(Err(_)) => return false,
                Err(_) => {}
            }
            let last = left <= RECHECK;
            // One waiter looks per RECHECK, for all: what it finds wakes the others through
            // the head. A waiter's last look, at its timeout, is its own.
            if !last && !self.take_recheck() {
                continue;
            }
            // A store that cannot be read now is looked at again at the next recheck.
            let stored = match self.numbers().await {
                Ok((stored, _)) => u64::try_from(stored).unwrap_or(0),
                Err(_) if last => return false,
                Err(_) => continue,
            };
            if stored <= cursor && last {
                return false;
            }
            if stored > cursor {
                self.inner.head.send_if_modified(|head| {
                    let newer = stored > *head;
                    if newer {
                        *head = stored;
                    }
                    newer
                });
                return true;
            }
        }
    }

    /// Whether this waiter is the one to look at the store now: none has for [`RECHECK`].
    fn take_recheck(&self) -> bool {
        let now = i64::try_from(self.inner.opened.elapsed().as_millis()).unwrap_or(i64::MAX);
        let before = self.inner.rechecked.load(Ordering::Relaxed);
        now.saturating_sub(before) >= RECHECK.as_millis() as i64
            && self
                .inner
                .rechecked
                .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The cursor after which the newest `n` events still kept lie, whatever their area:
    /// where a read of the recent events starts.
    pub async fn recent_start(&self, n: u64) -> Result<u64, EventError> {
        let (head, dropped) = self.numbers().await?;
        let (head, dropped) = (
            u64::try_from(head).unwrap_or(0),
            u64::try_from(dropped).unwrap_or(0),
        );
        Ok(head.saturating_sub(n).max(dropped))
    }

    /// `head` and `dropped` as the store has them now.
    async fn numbers(&self) -> Result<(i64, i64), EventError> {
        match &self.inner.store {
            Store::Sqlite(s) => s.numbers().await,
            Store::Postgres(p) => p.numbers().await,
        }
    }

    /// Checks `event`, finds its area, removes its secrets and stamps it with the time.
    fn prepare(&self, event: NewEvent) -> Result<Row, EventError> {
        let Some(area) = area_of(&event.action) else {
            return Err(EventError::UnknownAction {
                action: event.action,
            });
        };
        event::check_id("dedupe", &event.dedupe)?;
        if let Some(earlier) = &event.earlier {
            event::check_id("dedupe", earlier)?;
        }
        if let Some(chat_id) = &event.chat_id {
            event::check_id("chat_id", chat_id)?;
        }
        if let Some(thread_id) = &event.thread_id {
            event::check_id("thread_id", thread_id)?;
        }
        let mut payload = event.payload;
        if secrets::strip_secrets(&mut payload).depth > MAX_DEPTH {
            // Writing it out would recurse that deep.
            return Err(EventError::Invalid {
                field: "payload",
                problem: format!("nests deeper than {MAX_DEPTH} levels"),
            });
        }
        let payload = serde_json::to_string(&payload).map_err(|e| EventError::Invalid {
            field: "payload",
            problem: format!("cannot be written as JSON: {e}"),
        })?;
        if payload.len() > event::MAX_PAYLOAD_BYTES {
            return Err(EventError::Invalid {
                field: "payload",
                problem: format!("is larger than {} bytes as JSON", event::MAX_PAYLOAD_BYTES),
            });
        }
        let now = (self.inner.options.clock)();
        Ok(Row {
            dedupe: event.dedupe,
            earlier: event.earlier,
            action: event.action,
            area: area.as_str(),
            chat_id: event.chat_id,
            thread_id: event.thread_id,
            at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
            at_ms: now.timestamp_millis(),
            payload,
        })
    }
}

/// An event read back from a store; `Err` names what is wrong with the stored row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn stored_event(
    cursor: i64,
    action: String,
    area: &str,
    chat_id: Option<String>,
    thread_id: Option<String>,
    at: String,
    dedupe: String,
    payload: &str,
) -> Result<Event, String> {
    let area: Area = Area::parse(area).ok_or_else(|| format!("event {cursor}: unknown area"))?;
    let payload = serde_json::from_str(payload)
        .map_err(|e| format!("event {cursor}: the payload is not JSON ({e})"))?;
    Ok(Event {
        cursor: u64::try_from(cursor).map_err(|_| format!("event {cursor}: a negative cursor"))?,
        action,
        area,
        chat_id,
        thread_id,
        at,
        dedupe,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_log_lives_beside_the_trail() {
        assert_eq!(
            path_beside(Path::new("/var/lib/lc/audit.db")),
            PathBuf::from("/var/lib/lc/audit.db.events")
        );
    }
}
