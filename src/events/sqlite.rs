//! The event log in a SQLite file of its own beside the audit trail's, in WAL mode (readers
//! never wait for the writer) with `synchronous = NORMAL`: a stored event survives the
//! process dying, and a power cut may lose the last moments' events, which are notices of
//! what LiveChat itself keeps (the chat is still there to read), unlike the audit trail's
//! calls, which that file writes with `synchronous = FULL`.
//!
//! Appends run on the blocking pool on one connection behind a mutex, each in a `BEGIN
//! IMMEDIATE` transaction (the file's write lock, so several processes on one file still give
//! cursors in order), waiting at most [`BUSY_TIMEOUT`] for that lock; the whole append runs
//! under [`super::APPEND_BOUND`] besides, which also covers waiting for the mutex behind a
//! slow append of this process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

use super::{APPEND_BOUND, Appended, EventError, Filter, Prune, Row, Snapshot, stored_event};

/// The schema this code writes, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

/// How long an append waits for the file's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a read or retention on demand waits for a lock (reads rarely wait at all).
const READ_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `id` is the cursor. `at_ms` is `at` in ms since the epoch, for retention by age. The meta
/// table has one row: `head`, the newest cursor ever given, and `dropped`, the newest one
/// retention removed.
const SCHEMA: &str = "
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    dedupe    TEXT    NOT NULL UNIQUE,
    action    TEXT    NOT NULL,
    area      TEXT    NOT NULL,
    chat_id   TEXT,
    thread_id TEXT,
    at        TEXT    NOT NULL,
    at_ms     INTEGER NOT NULL,
    payload   TEXT    NOT NULL
);
CREATE INDEX events_at ON events (at_ms);
CREATE INDEX events_chat ON events (chat_id, id);
CREATE TABLE events_meta (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    head    INTEGER NOT NULL,
    dropped INTEGER NOT NULL
);
INSERT INTO events_meta (id, head, dropped) VALUES (1, 0, 0);
";

/// The events after `?1` in the areas of the JSON array `?2`, of the actions of the JSON
/// array `?3` (NULL: all), in the chat `?4` (NULL: all), oldest first, at most `?5`.
const READ: &str = "
SELECT id, action, area, chat_id, thread_id, at, dedupe, payload FROM events
WHERE id > ?1
  AND area IN (SELECT value FROM json_each(?2))
  AND (?3 IS NULL OR action IN (SELECT value FROM json_each(?3)))
  AND (?4 IS NULL OR chat_id = ?4)
ORDER BY id LIMIT ?5";

pub(super) struct SqliteLog {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

impl SqliteLog {
    /// Opens the file at `path`, creating its directory and schema if needed. A file that
    /// holds something else, or a newer schema, is refused.
    pub(super) fn open(path: &Path) -> Result<SqliteLog, EventError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| EventError::Storage {
                store: format!("`{}`", path.display()),
                detail: format!("cannot create the directory `{}`: {e}", dir.display()),
            })?;
        }
        let mut writer = connect(path, BUSY_TIMEOUT)?;
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| failure(path, "switch to WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(EventError::Storage {
                store: format!("`{}`", path.display()),
                detail: format!(
                    "cannot use WAL (journal mode is `{mode}`); use a file on a local disk"
                ),
            });
        }
        writer
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| failure(path, "set synchronous", e))?;
        create_schema(&mut writer, path)?;
        let reader = connect(path, READ_BUSY_TIMEOUT)?;
        Ok(SqliteLog {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    pub(super) fn describe(&self) -> String {
        format!("`{}`", self.path.display())
    }

    pub(super) async fn append(
        &self,
        row: Row,
        prune: Option<Prune>,
    ) -> Result<Appended, EventError> {
        let (writer, path) = (self.writer.clone(), self.path.clone());
        let task = tokio::task::spawn_blocking(move || {
            append(&mut lock(&writer), &row, prune).map_err(|e| failure(&path, "store an event", e))
        });
        match tokio::time::timeout(APPEND_BOUND, task).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => Err(self.storage(format!("the append failed: {e}"))),
            Err(_) => Err(EventError::Busy {
                store: self.describe(),
                detail: format!("no answer within {} ms", APPEND_BOUND.as_millis()),
            }),
        }
    }

    pub(super) async fn read(
        &self,
        after: i64,
        filter: &Filter,
        limit: usize,
    ) -> Result<Snapshot, EventError> {
        let (reader, path) = (self.reader.clone(), self.path.clone());
        let areas = serde_json::to_string(&filter.area_names()).unwrap_or_default();
        let types = filter
            .type_names()
            .map(|types| serde_json::to_string(&types).unwrap_or_default());
        let chat_id = filter.chat_id.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.blocking(move || {
            let mut conn = lock(&reader);
            read(
                &mut conn,
                after,
                &areas,
                types.as_deref(),
                chat_id.as_deref(),
                limit,
            )
            .map_err(|e| failure(&path, "read events", e))?
            .map_err(|detail| EventError::Storage {
                store: format!("`{}`", path.display()),
                detail,
            })
        })
        .await
    }

    pub(super) async fn prune(&self, prune: Prune) -> Result<u64, EventError> {
        let (writer, path) = (self.writer.clone(), self.path.clone());
        self.blocking(move || {
            let mut conn = lock(&writer);
            // On demand nobody is waiting on a webhook: wait for the lock as a read does.
            let _ = conn.busy_timeout(READ_BUSY_TIMEOUT);
            let pruned = (|| -> rusqlite::Result<u64> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let dropped = apply_retention(&tx, prune)?;
                tx.commit()?;
                Ok(dropped)
            })();
            let _ = conn.busy_timeout(BUSY_TIMEOUT);
            pruned.map_err(|e| failure(&path, "apply retention", e))
        })
        .await
    }

    /// `head` and `dropped`, off the runtime.
    pub(super) async fn numbers(&self) -> Result<(i64, i64), EventError> {
        let (reader, path) = (self.reader.clone(), self.path.clone());
        self.blocking(move || numbers(&lock(&reader)).map_err(|e| failure(&path, "read", e)))
            .await
    }

    /// `head` and `dropped`, on this thread.
    pub(super) fn numbers_now(&self) -> Result<(i64, i64), EventError> {
        numbers(&lock(&self.reader)).map_err(|e| failure(&self.path, "read", e))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, EventError> + Send + 'static,
    ) -> Result<T, EventError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| self.storage(format!("the task failed: {e}")))?
    }

    fn storage(&self, detail: String) -> EventError {
        EventError::Storage {
            store: self.describe(),
            detail,
        }
    }
}

fn connect(path: &Path, busy: Duration) -> Result<Connection, EventError> {
    let conn = Connection::open(path).map_err(|e| failure(path, "open", e))?;
    conn.busy_timeout(busy)
        .map_err(|e| failure(path, "set the busy timeout", e))?;
    Ok(conn)
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while the lock was held left no transaction open (it rolls back on drop).
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Creates the schema in a new file; checks an existing one is ours and not newer.
fn create_schema(conn: &mut Connection, path: &Path) -> Result<(), EventError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| failure(path, "begin", e))?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| failure(path, "read the schema version", e))?;
    let store = || format!("`{}`", path.display());
    match version {
        0 => {
            let tables: i64 = tx
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                    [],
                    |row| row.get(0),
                )
                .map_err(|e| failure(path, "read the schema", e))?;
            if tables > 0 {
                return Err(EventError::Storage {
                    store: store(),
                    detail: "is a SQLite file but not an event log; name another file".to_string(),
                });
            }
            tx.execute_batch(SCHEMA)
                .map_err(|e| failure(path, "create the schema", e))?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(|e| failure(path, "set the schema version", e))?;
        }
        SCHEMA_VERSION => {}
        newer => {
            return Err(EventError::Storage {
                store: store(),
                detail: format!(
                    "has event log schema version {newer}; this livechat-mcp knows {SCHEMA_VERSION}: use a newer livechat-mcp"
                ),
            });
        }
    }
    tx.commit()
        .map_err(|e| failure(path, "commit the schema", e))
}

fn numbers(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT head, dropped FROM events_meta WHERE id = 1",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

fn append(conn: &mut Connection, row: &Row, prune: Option<Prune>) -> rusqlite::Result<Appended> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM events WHERE dedupe IN (?1, ?2) ORDER BY id LIMIT 1",
            params![row.dedupe, row.earlier],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(cursor) = existing {
        return Ok(Appended {
            cursor: u64::try_from(cursor).unwrap_or(0),
            duplicate: true,
        });
    }
    let cursor = numbers(&tx)?.0 + 1;
    tx.execute(
        "INSERT INTO events (id, dedupe, action, area, chat_id, thread_id, at, at_ms, payload) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            cursor,
            row.dedupe,
            row.action,
            row.area,
            row.chat_id,
            row.thread_id,
            row.at,
            row.at_ms,
            row.payload
        ],
    )?;
    tx.execute("UPDATE events_meta SET head = ?1 WHERE id = 1", [cursor])?;
    if let Some(prune) = prune {
        apply_retention(&tx, prune)?;
    }
    tx.commit()?;
    Ok(Appended {
        cursor: u64::try_from(cursor).unwrap_or(0),
        duplicate: false,
    })
}

/// Drops the events too old or too many, oldest first: every event up to the newest one
/// stored before the age cutoff, and every event more than `max_count` behind the head.
/// Returns how many went.
fn apply_retention(conn: &Connection, prune: Prune) -> rusqlite::Result<u64> {
    let (head, dropped) = numbers(conn)?;
    let too_old: Option<i64> = conn.query_row(
        "SELECT max(id) FROM events WHERE at_ms < ?1",
        [prune.retention.cutoff_ms(prune.now_ms)],
        |row| row.get(0),
    )?;
    let through = too_old
        .unwrap_or(0)
        .max(prune.retention.count_through(head));
    if through <= dropped {
        return Ok(0);
    }
    let gone = conn.execute("DELETE FROM events WHERE id <= ?1", [through])?;
    conn.execute(
        "UPDATE events_meta SET dropped = ?1 WHERE id = 1",
        [through],
    )?;
    Ok(u64::try_from(gone).unwrap_or(0))
}

/// One read transaction: the numbers and the events from one snapshot. The inner `Err` is a
/// stored row that does not read back.
fn read(
    conn: &mut Connection,
    after: i64,
    areas: &str,
    types: Option<&str>,
    chat_id: Option<&str>,
    limit: i64,
) -> rusqlite::Result<Result<Snapshot, String>> {
    let tx = conn.transaction()?;
    let (head, dropped) = numbers(&tx)?;
    let mut events = Vec::new();
    {
        let mut statement = tx.prepare_cached(READ)?;
        let mut rows = statement.query(params![after, areas, types, chat_id, limit])?;
        while let Some(r) = rows.next()? {
            let area: String = r.get(2)?;
            let payload: String = r.get(7)?;
            match stored_event(
                r.get(0)?,
                r.get(1)?,
                &area,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                &payload,
            ) {
                Ok(event) => events.push(event),
                Err(e) => return Ok(Err(e)),
            }
        }
    }
    tx.commit()?;
    Ok(Ok(Snapshot {
        head,
        dropped,
        events,
    }))
}

/// A SQLite error as the log's: a locked or busy file is [`EventError::Busy`].
fn failure(path: &Path, what: &str, e: rusqlite::Error) -> EventError {
    let store = format!("`{}`", path.display());
    let busy = matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    );
    if busy {
        EventError::Busy {
            store,
            detail: format!("cannot {what}: another connection holds the file locked"),
        }
    } else {
        EventError::Storage {
            store,
            detail: format!("cannot {what}: {e}"),
        }
    }
}
