//! The SQLite file behind the trail: one append-only table, written under SQLite's write lock
//! so that any number of handles and processes keep one unbroken chain, and the walk that
//! checks it (the rows and their MACs are `chain.rs`'s, shared with PostgreSQL).
//!
//! **Schema versions.** The version is kept in `PRAGMA user_version`. Version 3 added the
//! nullable columns `attempts` and `waited_ms`, version 4 the nullable column `identity`; a
//! version-2 or version-3 file is migrated in place to version 4 when it is opened to append
//! (`ALTER TABLE … ADD COLUMN`, all in the transaction that read the version, so a failure
//! leaves the old version whole), and read as it is otherwise: each read checks, in its own
//! read transaction, which of the columns the table has yet, and reads NULL for the others.
//!
//! Appends are group-committed (`sqlite/writer.rs`): one thread per store owns the write
//! connection, takes every append waiting, writes them in one `BEGIN IMMEDIATE` transaction
//! (the ordering that matters across handles and processes still comes from SQLite's write
//! lock) and commits once, so calls arriving together share one `fsync`; each caller still
//! gets its own stored row, or the batch's error.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::SecondsFormat;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::anchor::Anchor;
use super::chain::{Row, Verifier, columns_for};
use super::key::AuditKey;
use super::query::QueryFilter;
use super::store::{Opening, Sealing};
use super::{Decision, Entry, NewEntry, Outcome};

mod writer;

use writer::{Job, Writer};

/// The schema this code writes, kept in `PRAGMA user_version`. Version 1 had an unkeyed
/// SHA-256 chain and no write-ahead rows; version 2 had no `attempts` and `waited_ms`;
/// version 3 had no `identity`.
const SCHEMA_VERSION: i64 = 4;

/// The versions this code migrates to [`SCHEMA_VERSION`] when it opens a trail to append,
/// each with the steps that take it there (run in order, in one transaction), and the
/// columns those steps add, for the log.
const MIGRATIONS: [(i64, &[&str], &str); 2] = [
    (
        2,
        &[TO_VERSION_3, TO_VERSION_4],
        "attempts, waited_ms and identity",
    ),
    (3, &[TO_VERSION_4], "identity"),
];

/// From version 2 to 3: the columns version 3 added, last in the table as in [`SCHEMA`].
const TO_VERSION_3: &str = "
ALTER TABLE audit ADD COLUMN attempts INTEGER;
ALTER TABLE audit ADD COLUMN waited_ms INTEGER;
";

/// From version 3 to 4: the column version 4 added, last in the table as in [`SCHEMA`].
const TO_VERSION_4: &str = "
ALTER TABLE audit ADD COLUMN identity TEXT;
";

/// How long an append waits for another handle or process to finish its own. Appends take
/// milliseconds, so this only runs out if something holds the file locked.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    time        TEXT    NOT NULL,
    agent       TEXT    NOT NULL,
    tool        TEXT    NOT NULL,
    area        TEXT,
    access      TEXT,
    decision    TEXT    NOT NULL,
    reason      TEXT,
    outcome     TEXT    NOT NULL,
    error_type  TEXT,
    targets     TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL,
    summary     TEXT    NOT NULL,
    completes   INTEGER,
    instance    TEXT    NOT NULL,
    prev_mac    TEXT    NOT NULL,
    mac         TEXT    NOT NULL,
    attempts    INTEGER,
    waited_ms   INTEGER,
    identity    TEXT
);
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_completes ON audit (completes);
-- Guards against mistakes, not against an attacker (who can drop them): verify() is what
-- detects a change.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
";

/// A handle on one audit file. Clones share one connection; handles opened separately (in
/// this process or others) on the same file each have their own, and still append to one
/// chain.
#[derive(Clone, Debug)]
pub(super) struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// The writer thread's queue; `None` only while dropping.
    queue: Option<Sender<Job>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// A reading connection kept between reads: opening one parses the schema again, and a
    /// start reads the trail several times (its last row, its pending rows, twice).
    idle_reader: Mutex<Option<Connection>>,
}

impl Drop for Inner {
    /// Closes the queue and waits for the writer to finish what was queued and make the last
    /// rows durable (and move the anchor to them).
    fn drop(&mut self) {
        drop(self.queue.take());
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer
            && writer.join().is_err()
        {
            tracing::error!("audit: the writer of `{}` panicked", self.path.display());
        }
    }
}

impl SqliteStore {
    /// Opens the trail at `path`, creating its directory and schema if needed, in WAL mode
    /// with `synchronous = FULL` (a recorded call survives a power cut). Opened to
    /// [`Opening::Append`], a version-2 or version-3 trail is migrated to version 4 first.
    pub(super) fn open(path: &Path, opening: Opening) -> Result<SqliteStore, String> {
        SqliteStore::open_waiting(path, opening, BUSY_TIMEOUT)
    }

    /// [`SqliteStore::open`], its appends waiting up to `busy` for another writer's lock.
    fn open_waiting(path: &Path, opening: Opening, busy: Duration) -> Result<SqliteStore, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                format!(
                    "audit: cannot create the directory `{}`: {e}",
                    dir.display()
                )
            })?;
        }
        let mut conn = connect(path)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| db_error(path, "switch to WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!(
                "audit: `{}` cannot use WAL (journal mode is `{mode}`); use a file on a local disk",
                path.display()
            ));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| db_error(path, "set synchronous", e))?;
        create_schema(&mut conn, path, opening)?;
        conn.busy_timeout(busy)
            .map_err(|e| db_error(path, "set the busy timeout", e))?;
        let (queue, jobs) = mpsc::channel();
        let writer = Writer::new(conn, path);
        let writer = std::thread::Builder::new()
            .name("audit-writer".to_string())
            .spawn(move || writer.run(jobs))
            .map_err(|e| {
                format!(
                    "audit: cannot start the writer of `{}`: {e}",
                    path.display()
                )
            })?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                queue: Some(queue),
                writer: Mutex::new(Some(writer)),
                idle_reader: Mutex::new(None),
            }),
        })
    }

    /// The file this store writes.
    pub(super) fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Records a call: gives it the next id, the current time, its summary sentence and its
    /// MAC, moves the anchor (once the row is durable), and returns the row as stored; `None`
    /// for an `unknown` outcome whose pending row has one already (see
    /// `chain::unknown_outcome_of`). Queued to the writer thread, which commits it with the
    /// appends waiting beside it.
    pub(super) async fn append(
        &self,
        entry: NewEntry,
        sealing: std::sync::Arc<Sealing>,
    ) -> Result<Option<Entry>, String> {
        let answer = self.enqueue(entry, sealing)?;
        answer.await.map_err(|_| self.writer_gone())?
    }

    /// [`SqliteStore::append`] for code that is not async (and not on an async runtime's
    /// thread).
    #[cfg(test)]
    pub(super) fn append_blocking(
        &self,
        entry: NewEntry,
        sealing: &Arc<Sealing>,
    ) -> Result<Option<Entry>, String> {
        let answer = self.enqueue(entry, Arc::clone(sealing))?;
        answer.blocking_recv().map_err(|_| self.writer_gone())?
    }

    fn enqueue(
        &self,
        entry: NewEntry,
        sealing: Arc<Sealing>,
    ) -> Result<oneshot::Receiver<writer::Answer>, String> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .queue
            .as_ref()
            .and_then(|queue| {
                queue
                    .send(Job {
                        entry,
                        sealing,
                        reply,
                    })
                    .ok()
            })
            .ok_or_else(|| self.writer_gone())?;
        Ok(answer)
    }

    fn writer_gone(&self) -> String {
        format!(
            "audit: the writer of `{}` stopped (see the log)",
            self.path().display()
        )
    }

    /// The id and MAC of the last row, if any.
    pub(super) fn last(&self) -> Result<Option<(i64, String)>, String> {
        let conn = self.reader()?;
        last_row(&conn).map_err(|e| db_error(self.path(), "read the last row", e))
    }

    /// The MAC of row `id`, if there is one.
    pub(super) fn mac_at(&self, id: u64) -> Result<Option<String>, String> {
        let conn = self.reader()?;
        conn.query_row(
            "SELECT mac FROM audit WHERE id = ?1",
            [i64::try_from(id).unwrap_or(i64::MAX)],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| db_error(self.path(), "read a row", e))
    }

    /// Every `pending` row no outcome row completes, oldest first.
    #[cfg(test)]
    pub(super) fn unresolved(&self) -> Result<Vec<Entry>, String> {
        self.unresolved_scan().map(|scan| scan.rows)
    }

    /// The `pending` rows no outcome row completes, among those after the mark the last
    /// recovery left ([`SqliteStore::mark_checked`]): rows at or before it were all resolved
    /// then, and rows are never removed, so a start reads what was written since the last
    /// one, not the whole trail. Also the newest id this snapshot holds.
    pub(super) fn unresolved_scan(&self) -> Result<UnresolvedScan, String> {
        let path = self.path();
        let mut conn = self.reader()?;
        let (tx, columns) = read_transaction(&mut conn, path)?;
        let through =
            checked_through(&tx).map_err(|e| db_error(path, "read the recovery mark of", e))?;
        let newest: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) FROM audit", [], |row| {
                row.get(0)
            })
            .map_err(|e| db_error(path, "read the last id of", e))?;
        let mut stmt = tx
            .prepare(&format!(
                "SELECT {columns} FROM audit AS p WHERE p.id > ?1 AND p.outcome = 'pending' \
                 AND NOT EXISTS (SELECT 1 FROM audit AS c WHERE c.completes = p.id) ORDER BY id"
            ))
            .map_err(|e| db_error(path, "read pending rows", e))?;
        let mut rows = stmt
            .query([through])
            .map_err(|e| db_error(path, "read pending rows", e))?;
        let mut entries = Vec::new();
        while let Some(raw) = rows.next().map_err(|e| db_error(path, "read", e))? {
            let row = read_row(raw).map_err(|e| db_error(path, "read a row", e))?;
            entries.push(row.into_entry()?);
        }
        Ok(UnresolvedScan {
            rows: entries,
            newest,
            mark: through,
        })
    }

    /// Records that every `pending` row up to id `through` has its outcome, so the next
    /// start's recovery reads only the rows after it. The mark only moves forward (two
    /// starts at once each give a mark their own snapshot proves). It is not made durable on
    /// its own (no `fsync`): a mark lost in a crash only makes the next start read more.
    /// Only a trail opened to append has the mark's table, and only it recovers.
    pub(super) fn mark_checked(&self, through: i64) -> Result<(), String> {
        let path = self.path();
        let conn = self.reader()?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| db_error(path, "set synchronous", e))?;
        conn.execute(
            "INSERT INTO audit_recovered (one, through) VALUES (1, ?1) \
             ON CONFLICT (one) DO UPDATE SET through = max(through, excluded.through)",
            [through],
        )
        .map(|_| ())
        .map_err(|e| db_error(path, "write the recovery mark of", e))
    }

    /// Walks the chain from row 1 under `key` and checks it against `anchors`; returns how
    /// many rows are intact, or names what is wrong (see [`Verifier`]).
    pub(super) fn verify(
        &self,
        key: &AuditKey,
        anchors: Vec<(Anchor, String)>,
    ) -> Result<u64, String> {
        let path = self.path();
        let mut conn = self.reader()?;
        let (tx, columns) = read_transaction(&mut conn, path)?;
        let mut stmt = tx
            .prepare(&format!("SELECT {columns} FROM audit ORDER BY id"))
            .map_err(|e| db_error(path, "read", e))?;
        let mut rows = stmt.query([]).map_err(|e| db_error(path, "read", e))?;
        let mut verifier = Verifier::new(key, anchors);
        while let Some(raw) = rows.next().map_err(|e| db_error(path, "read", e))? {
            let row = read_row(raw).map_err(|e| verifier.unreadable(e))?;
            verifier.check(row)?;
        }
        verifier.finish()
    }

    /// The newest entries matching `filter`, newest first.
    pub(super) fn query(&self, filter: &QueryFilter) -> Result<Vec<Entry>, String> {
        let path = self.path();
        let mut conn = self.reader()?;
        let (tx, columns) = read_transaction(&mut conn, path)?;
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        };
        let id = |id: Option<u64>| id.map(|id| i64::try_from(id).unwrap_or(i64::MAX));
        // Times are all written in one fixed format (milliseconds, `Z`), so comparing them as
        // text orders them in time.
        let limit = match filter.limit {
            0 => -1,
            n => i64::try_from(n).unwrap_or(i64::MAX),
        };
        let mut stmt = tx
            .prepare(&format!(
                "SELECT {columns} FROM audit \
                 WHERE (?1 IS NULL OR agent = ?1) AND (?2 IS NULL OR tool = ?2) \
                   AND (?3 IS NULL OR decision = ?3) AND (?4 IS NULL OR time >= ?4) \
                   AND (?6 IS NULL OR outcome = ?6) AND (?7 IS NULL OR time <= ?7) \
                   AND (?8 IS NULL OR id < ?8) AND (?9 IS NULL OR id > ?9) \
                   AND NOT (outcome = 'pending' \
                     AND EXISTS (SELECT 1 FROM audit AS c WHERE c.completes = audit.id)) \
                 ORDER BY id DESC LIMIT ?5"
            ))
            .map_err(|e| db_error(path, "query", e))?;
        let mut rows = stmt
            .query(params![
                filter.agent,
                filter.tool,
                filter.decision.map(Decision::as_str),
                time(filter.since),
                limit,
                filter.outcome.map(Outcome::as_str),
                time(filter.until),
                id(filter.before),
                id(filter.after),
            ])
            .map_err(|e| db_error(path, "query", e))?;
        let mut entries = Vec::new();
        while let Some(raw) = rows.next().map_err(|e| db_error(path, "query", e))? {
            let row = read_row(raw).map_err(|e| db_error(path, "read a row", e))?;
            entries.push(row.into_entry()?);
        }
        Ok(entries)
    }

    /// A connection of its own for reading, so a long verify or query does not hold up this
    /// handle's appends (WAL lets readers and the writer run side by side): the one kept from
    /// the last read, or a new one while that is in use. It goes back when dropped.
    fn reader(&self) -> Result<Reader<'_>, String> {
        let kept = self
            .inner
            .idle_reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let conn = match kept {
            Some(conn) => conn,
            None => connect(self.path())?,
        };
        Ok(Reader {
            conn: Some(conn),
            idle: &self.inner.idle_reader,
        })
    }
}

/// A reading connection, kept for the next read when dropped (unless one is kept already).
struct Reader<'s> {
    conn: Option<Connection>,
    idle: &'s Mutex<Option<Connection>>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        // A read that failed half-way may have left a transaction open: that connection is
        // closed rather than kept.
        let Some(conn) = self.conn.take().filter(Connection::is_autocommit) else {
            return;
        };
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.is_none() {
            *idle = Some(conn);
        }
    }
}

fn connect(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open(path).map_err(|e| db_error(path, "open", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| db_error(path, "set the busy timeout", e))?;
    Ok(conn)
}

/// What [`SqliteStore::unresolved_scan`] read: the unresolved rows, the newest id then, and
/// the recovery mark it read from.
pub(super) struct UnresolvedScan {
    pub(super) rows: Vec<Entry>,
    pub(super) newest: i64,
    pub(super) mark: i64,
}

/// The recovery mark (see [`SqliteStore::mark_checked`]): 0 when there is none yet, or no
/// table for it (a trail written before it, opened to read).
fn checked_through(conn: &Connection) -> rusqlite::Result<i64> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_recovered')",
        [],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    conn.query_row(
        "SELECT coalesce(max(through), 0) FROM audit_recovered",
        [],
        |row| row.get(0),
    )
}

/// A read transaction on `conn` and the select list for the table as it sees it: the trail's
/// rows and its schema from one snapshot, so that a migration committed by another process
/// meanwhile cannot make rows with `attempts` or `identity` read as rows without.
fn read_transaction<'c>(
    conn: &'c mut Connection,
    path: &Path,
) -> Result<(rusqlite::Transaction<'c>, &'static str), String> {
    let tx = conn
        .transaction()
        .map_err(|e| db_error(path, "start a read of", e))?;
    let (attempts, identity): (bool, bool) = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('audit') WHERE name = 'attempts'), \
                    EXISTS (SELECT 1 FROM pragma_table_info('audit') WHERE name = 'identity')",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(|e| db_error(path, "read the columns of", e))?;
    Ok((tx, columns_for(attempts, identity)))
}

/// Creates the schema in a new file; in a version-2 or version-3 file opened to append, adds
/// the columns of the versions after it, all in one transaction with the new version number.
/// Refuses version 1 and versions newer than this code's.
fn create_schema(conn: &mut Connection, path: &Path, opening: Opening) -> Result<(), String> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| db_error(path, "lock for setup", e))?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| db_error(path, "read the schema version", e))?;
    match version {
        0 => {
            tx.execute_batch(SCHEMA)
                .map_err(|e| db_error(path, "create the schema", e))?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(|e| db_error(path, "set the schema version", e))?;
        }
        SCHEMA_VERSION => {}
        old if MIGRATIONS.iter().any(|(from, _, _)| *from == old) => {
            // Read as it is: reads take the missing columns as NULL (`read_transaction`).
            if opening == Opening::Append {
                migrate(&tx, path, old)?;
            }
        }
        1 => {
            return Err(format!(
                "audit: `{}` is a trail from an earlier livechat-mcp (schema version 1: an unkeyed hash chain, no write-ahead rows), which this one does not extend; move it aside to keep it and start a new trail here",
                path.display()
            ));
        }
        other => {
            return Err(format!(
                "audit: `{}` has schema version {other}, newer than this livechat-mcp reads ({SCHEMA_VERSION}); upgrade livechat-mcp or use another --audit path",
                path.display()
            ));
        }
    }
    if opening == Opening::Append {
        // Outside the versioned schema: a trail without it is read as having no mark, and an
        // earlier livechat-mcp ignores it.
        tx.execute_batch(RECOVERY_MARK)
            .map_err(|e| db_error(path, "create the recovery mark of", e))?;
    }
    tx.commit()
        .map_err(|e| db_error(path, "commit the schema", e))
}

/// The recovery mark's table: one row, the id up to which every `pending` row was found
/// resolved at a start (see [`SqliteStore::mark_checked`]). It is not part of the chain: a
/// wrong mark can only make a start skip or repeat looking at rows, never alter one.
const RECOVERY_MARK: &str = "CREATE TABLE IF NOT EXISTS audit_recovered (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    through INTEGER NOT NULL
);";

/// Moves the trail in `tx` from version `from` to [`SCHEMA_VERSION`]: every step, then the
/// version number. Nothing of it is kept unless `tx` commits, so a step that fails leaves the
/// file at `from`.
fn migrate(tx: &rusqlite::Transaction<'_>, path: &Path, from: i64) -> Result<(), String> {
    let Some((_, steps, columns)) = MIGRATIONS.iter().find(|(version, _, _)| *version == from)
    else {
        return Ok(());
    };
    for step in *steps {
        tx.execute_batch(step).map_err(|e| {
            db_error(
                path,
                &format!("add the columns of schema version {SCHEMA_VERSION} to"),
                e,
            )
        })?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| db_error(path, "set the schema version", e))?;
    tracing::info!(
        "audit: `{}` moved from schema version {from} to {SCHEMA_VERSION} (columns {columns} added; its rows are unchanged)",
        path.display()
    );
    Ok(())
}

fn db_error(path: &Path, what: &str, e: rusqlite::Error) -> String {
    format!("audit: cannot {what} `{}`: {e}", path.display())
}
/// The id and MAC of the last row, if any.
fn last_row(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.prepare_cached("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
}

/// One row as stored, read in [`COLUMNS`] order.
fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: row.get(0)?,
        time: row.get(1)?,
        agent: row.get(2)?,
        tool: row.get(3)?,
        area: row.get(4)?,
        access: row.get(5)?,
        decision: row.get(6)?,
        reason: row.get(7)?,
        outcome: row.get(8)?,
        error_type: row.get(9)?,
        targets: row.get(10)?,
        duration_ms: row.get(11)?,
        summary: row.get(12)?,
        completes: row.get(13)?,
        instance: row.get(14)?,
        prev_mac: row.get(15)?,
        mac: row.get(16)?,
        attempts: row.get(17)?,
        waited_ms: row.get(18)?,
        identity: row.get(19)?,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use chrono::{TimeDelta, Utc};
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::audit::chain::{COLUMNS, GENESIS, write_canonical};
    use crate::audit::instance;

    /// Appends and verifies under a fixed test key, moving an anchor beside the file.
    trait Sealed {
        fn sealing(&self) -> Sealing;
        fn add(&self, entry: NewEntry) -> Result<Entry, String>;
        fn check(&self) -> Result<u64, String>;
    }

    impl Sealed for SqliteStore {
        fn sealing(&self) -> Sealing {
            Sealing::new(
                AuditKey::from_bytes([9; 32]),
                self.path().with_extension("anchor"),
            )
        }

        fn add(&self, entry: NewEntry) -> Result<Entry, String> {
            self.append_blocking(entry, &Arc::new(self.sealing()))?
                .ok_or_else(|| "skipped".to_string())
        }

        fn check(&self) -> Result<u64, String> {
            let anchor = Anchor::read(&self.sealing().anchor)?
                .map(|a| (a, "the anchor file".to_string()))
                .into_iter()
                .collect();
            self.verify(&self.sealing().key, anchor)
        }
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "livechat-mcp-audit-{}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed),
                Utc::now().timestamp_nanos_opt().unwrap_or_default()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            TempDir(dir)
        }

        fn db(&self) -> PathBuf {
            self.0.join("nested").join("audit.db")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn args(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn call(agent: &str, tool: &str, arguments: Value) -> NewEntry {
        NewEntry::new(agent, tool, &args(arguments)).took(5)
    }

    fn fill(store: &SqliteStore, n: usize) {
        for i in 0..n {
            store
                .add(call(
                    "support-bot",
                    "get_chat",
                    json!({"chat_id": format!("CHAT{i}")}),
                ))
                .expect("append");
        }
    }

    /// A raw connection, as someone editing the file by hand would have.
    fn raw(path: &Path) -> Connection {
        Connection::open(path).expect("raw connection")
    }

    #[tokio::test]
    async fn append_returns_the_stored_row() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("open");
        let first = store
            .append(
                call(
                    "support-bot",
                    "send_event",
                    json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "hi"}}),
                ),
                std::sync::Arc::new(store.sealing()),
            )
            .await
            .expect("append")
            .expect("written");
        assert_eq!(first.id, 1);
        assert_eq!(first.area.as_deref(), Some("events"));
        assert_eq!(first.access.as_deref(), Some("write"));
        assert_eq!(
            first.summary,
            "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 5 ms"
        );
        assert!(
            chrono::DateTime::parse_from_rfc3339(&first.time).is_ok() && first.time.ends_with('Z'),
            "{}",
            first.time
        );
        assert_eq!(
            first.time.len(),
            "2026-01-05T10:00:00.123Z".len(),
            "{}",
            first.time
        );
        assert_eq!(first.mac.len(), 64);
        assert_eq!(first.instance, instance::this_process().text);
        let second = store
            .append(
                call("auditor", "ban_customer", json!({"id": "b7ef"}))
                    .denied("customers is off for auditor"),
                std::sync::Arc::new(store.sealing()),
            )
            .await
            .expect("append")
            .expect("written");
        assert_eq!(second.id, 2);
        assert_eq!(
            store.query(&QueryFilter::default()).expect("query"),
            vec![second, first]
        );
        assert_eq!(store.check(), Ok(2));
    }

    #[test]
    fn mac_chains_on_the_canonical_json() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("open");
        let entry = store
            .add(call("ops", "list_chats", json!({})).denied("chats is off for ops"))
            .expect("append");
        let mut fields = serde_json::to_value(&entry).expect("json");
        if let Value::Object(map) = &mut fields {
            map.remove("mac");
        }
        let mut canonical = String::new();
        write_canonical(&fields, &mut canonical);
        assert!(canonical.starts_with("{\"access\":\"read\",\"agent\":\"ops\",\"area\":\"chats\",\"completes\":null,\"decision\":\"denied\",\"duration_ms\":5,\"error_type\":null,\"id\":1,"), "{canonical}");
        let expected =
            crate::digest::hmac_sha256_hex(&[9; 32], &[GENESIS.as_bytes(), canonical.as_bytes()]);
        assert_eq!(entry.mac, expected);

        // With retries recorded, both columns are in the JSON and under the MAC.
        let retried = store
            .add(
                call("ops", "list_chats", json!({}))
                    .completing(1)
                    .delivered(3, 1200),
            )
            .expect("append");
        let mut fields = serde_json::to_value(&retried).expect("json");
        if let Value::Object(map) = &mut fields {
            map.remove("mac");
        }
        let mut canonical = String::new();
        write_canonical(&fields, &mut canonical);
        assert!(canonical.starts_with("{\"access\":\"read\",\"agent\":\"ops\",\"area\":\"chats\",\"attempts\":3,\"completes\":1,\"decision\":\"allowed\",\"duration_ms\":5,\"error_type\":null,\"id\":2,"), "{canonical}");
        assert!(canonical.contains(",\"waited_ms\":1200}"), "{canonical}");
        let expected =
            crate::digest::hmac_sha256_hex(&[9; 32], &[entry.mac.as_bytes(), canonical.as_bytes()]);
        assert_eq!(retried.mac, expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appends_from_two_handles_keep_one_chain() {
        let dir = TempDir::new();
        let a = SqliteStore::open(&dir.db(), Opening::Append).expect("open a");
        let b = SqliteStore::open(&dir.db(), Opening::Append).expect("open b");
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let sealing = std::sync::Arc::new(store.sealing());
                store
                    .append(
                        call(
                            &format!("agent-{}", i % 7),
                            "get_chat",
                            json!({"chat_id": format!("C{i}")}),
                        ),
                        sealing,
                    )
                    .await
            }));
        }
        for task in tasks {
            task.await.expect("task").expect("append").expect("written");
        }
        assert_eq!(a.check(), Ok(200));
        assert_eq!(b.check(), Ok(200));
        let mut ids: Vec<u64> = a
            .query(&QueryFilter::default())
            .expect("query")
            .into_iter()
            .map(|e| e.id)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (1..=200).collect::<Vec<u64>>());
    }

    #[test]
    fn an_edited_row_is_named() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("open");
        fill(&store, 10);
        let conn = raw(&dir.db());
        let refused = conn.execute("UPDATE audit SET agent = 'someone-else' WHERE id = 7", []);
        assert!(refused.is_err(), "the trigger should refuse an update");
        assert_eq!(store.check(), Ok(10));

        conn.execute_batch("DROP TRIGGER audit_no_update")
            .expect("drop trigger");
        conn.execute("UPDATE audit SET agent = 'someone-else' WHERE id = 7", [])
            .expect("update");
        let err = store.check().expect_err("tampered");
        assert!(
            err.contains("row 7") && err.contains("MAC mismatch"),
            "{err}"
        );
    }

    #[test]
    fn an_edited_summary_is_named() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("open");
        fill(&store, 4);
        let conn = raw(&dir.db());
        conn.execute_batch(
            "DROP TRIGGER audit_no_update; \
             UPDATE audit SET summary = 'nothing happened' WHERE id = 3",
        )
        .expect("tamper");
        let err = store.check().expect_err("tampered");
        assert!(
            err.contains("row 3") && err.contains("MAC mismatch"),
            "{err}"
        );
    }

    #[test]
    fn a_rehashed_row_breaks_the_next_link() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("open");
        fill(&store, 6);
        // Someone who holds the key changes row 4 and gives it a valid MAC: row 5 no longer
        // follows it.
        let conn = raw(&dir.db());
        let mut row = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM audit WHERE id = 4"),
                [],
                read_row,
            )
            .expect("row 4");
        row.agent = "someone-else".into();
        row.mac = row.expected_mac(&store.sealing().key).expect("mac");
        conn.execute_batch("DROP TRIGGER audit_no_update")
            .expect("drop trigger");
        conn.execute(
            "UPDATE audit SET agent = ?1, mac = ?2 WHERE id = 4",
            params![row.agent, row.mac],
        )
        .expect("update");
        let err = store.check().expect_err("tampered");
        assert!(
            err.contains("row 5") && err.contains("broken link"),
            "{err}"
        );
    }

    #[test]
    fn a_deleted_row_is_named_as_a_gap() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("open");
        fill(&store, 10);
        let conn = raw(&dir.db());
        assert!(conn.execute("DELETE FROM audit WHERE id = 5", []).is_err());
        conn.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 5")
            .expect("delete");
        let err = store.check().expect_err("gap");
        assert!(
            err.contains("row 6") && err.contains("gap in ids") && err.contains("row 5 is missing"),
            "{err}"
        );
    }

    #[test]
    fn the_next_append_after_reopening_continues_the_chain() {
        let dir = TempDir::new();
        fill(
            &SqliteStore::open(&dir.db(), Opening::Append).expect("open"),
            3,
        );
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("reopen");
        let entry = store
            .add(call("ops", "list_tags", json!({})))
            .expect("append");
        assert_eq!(entry.id, 4);
        assert_eq!(store.check(), Ok(4));
    }

    #[test]
    fn no_message_text_or_secret_reaches_the_file() {
        let dir = TempDir::new();
        let text = "Please refund order 88231 to Ann Smith's card";
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("open");
        let sent = store
            .add(call(
                "support-bot",
                "send_event",
                json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": text}}),
            ))
            .expect("append");
        store
            .add(call(
                "admin",
                "register_webhook",
                json!({"action": "incoming_event", "secret_key": "wh-secret-4471", "url": "https://hooks.example.com/x", "owner_client_id": "client-991", "type": "license"}),
            ))
            .expect("append");
        store
            .add(call(
                "support-bot",
                "update_customer",
                json!({"id": "b7ef", "name": "Ann Smith", "email": "ann.smith@example.com"}),
            ))
            .expect("append");
        let content = sent.targets.content.clone().unwrap_or_default();
        assert_eq!(content.text_len, Some(45));
        assert_eq!(content.text_sha256.as_deref().map(str::len), Some(64));

        let search = |when: &str| {
            for file in std::fs::read_dir(dir.db().parent().expect("dir")).expect("read dir") {
                let path = file.expect("entry").path();
                let bytes = std::fs::read(&path).expect("read");
                for needle in [
                    "refund order",
                    "Ann Smith",
                    "ann.smith",
                    "wh-secret-4471",
                    "client-991",
                ] {
                    let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
                    assert!(!found, "{when}: `{needle}` found in {}", path.display());
                }
            }
        };
        search("while open");
        drop(store);
        search("after close");
    }

    #[test]
    fn query_filters() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("open");
        store
            .add(call("support-bot", "list_chats", json!({})))
            .expect("append");
        store
            .add(
                call("auditor", "ban_customer", json!({"id": "Y"}))
                    .denied("customers is off for auditor"),
            )
            .expect("append");
        store
            .add(call("support-bot", "get_chat", json!({"chat_id": "C"})).failed("not_found"))
            .expect("append");
        std::thread::sleep(Duration::from_millis(20));
        let middle = Utc::now();
        std::thread::sleep(Duration::from_millis(20));
        store
            .add(call("support-bot", "list_chats", json!({})))
            .expect("append");

        let ids = |filter: QueryFilter| -> Vec<u64> {
            store
                .query(&filter)
                .expect("query")
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(ids(QueryFilter::default()), vec![4, 3, 2, 1]);
        assert_eq!(
            ids(QueryFilter {
                agent: Some("support-bot".into()),
                ..QueryFilter::default()
            }),
            vec![4, 3, 1]
        );
        assert_eq!(
            ids(QueryFilter {
                tool: Some("list_chats".into()),
                ..QueryFilter::default()
            }),
            vec![4, 1]
        );
        assert_eq!(
            ids(QueryFilter {
                decision: Some(Decision::Denied),
                ..QueryFilter::default()
            }),
            vec![2]
        );
        assert_eq!(
            ids(QueryFilter {
                since: Some(middle),
                ..QueryFilter::default()
            }),
            vec![4]
        );
        assert_eq!(
            ids(QueryFilter {
                since: Some(middle + TimeDelta::hours(1)),
                ..QueryFilter::default()
            }),
            Vec::<u64>::new()
        );
        assert_eq!(
            ids(QueryFilter {
                limit: 2,
                ..QueryFilter::default()
            }),
            vec![4, 3]
        );
        assert_eq!(
            ids(QueryFilter {
                agent: Some("support-bot".into()),
                tool: Some("list_chats".into()),
                decision: Some(Decision::Allowed),
                since: Some(middle - TimeDelta::hours(1)),
                limit: 1,
                ..QueryFilter::default()
            }),
            vec![4]
        );
        // The console's filters: by outcome, up to a time, and by id either side of a row.
        assert_eq!(
            ids(QueryFilter {
                outcome: Some(Outcome::Error),
                ..QueryFilter::default()
            }),
            vec![3]
        );
        assert_eq!(
            ids(QueryFilter {
                until: Some(middle),
                ..QueryFilter::default()
            }),
            vec![3, 2, 1]
        );
        assert_eq!(
            ids(QueryFilter {
                until: Some(middle - TimeDelta::hours(1)),
                ..QueryFilter::default()
            }),
            Vec::<u64>::new()
        );
        assert_eq!(
            ids(QueryFilter {
                before: Some(4),
                limit: 2,
                ..QueryFilter::default()
            }),
            vec![3, 2]
        );
        assert_eq!(
            ids(QueryFilter {
                after: Some(2),
                ..QueryFilter::default()
            }),
            vec![4, 3]
        );
        assert_eq!(
            ids(QueryFilter {
                agent: Some("support-bot".into()),
                after: Some(1),
                before: Some(4),
                ..QueryFilter::default()
            }),
            vec![3]
        );
    }

    #[test]
    fn open_refuses_a_newer_schema() {
        let dir = TempDir::new();
        drop(SqliteStore::open(&dir.db(), Opening::Append).expect("open"));
        assert_eq!(user_version(&dir.db()), SCHEMA_VERSION);
        raw(&dir.db())
            .pragma_update(None, "user_version", 5)
            .expect("bump");
        let err = SqliteStore::open(&dir.db(), Opening::Append).expect_err("newer schema");
        assert!(err.contains("schema version 5"), "{err}");
        let err = SqliteStore::open(&dir.db(), Opening::Read).expect_err("newer schema");
        assert!(err.contains("schema version 5"), "{err}");
        raw(&dir.db())
            .pragma_update(None, "user_version", 1)
            .expect("bump");
        let err = SqliteStore::open(&dir.db(), Opening::Append).expect_err("older schema");
        assert!(
            err.contains("earlier livechat-mcp") && err.contains("move it aside"),
            "{err}"
        );
    }

    /// The schema as version 2 created it (`SCHEMA` in this file before version 3), for
    /// trails written before the columns `attempts` and `waited_ms`.
    const SCHEMA_V2: &str = "
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    time        TEXT    NOT NULL,
    agent       TEXT    NOT NULL,
    tool        TEXT    NOT NULL,
    area        TEXT,
    access      TEXT,
    decision    TEXT    NOT NULL,
    reason      TEXT,
    outcome     TEXT    NOT NULL,
    error_type  TEXT,
    targets     TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL,
    summary     TEXT    NOT NULL,
    completes   INTEGER,
    instance    TEXT    NOT NULL,
    prev_mac    TEXT    NOT NULL,
    mac         TEXT    NOT NULL
);
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_completes ON audit (completes);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
PRAGMA user_version = 2;
";

    /// What version 3 added to [`SCHEMA_V2`]: its table is version 2's with `attempts` and
    /// `waited_ms` last (as version 3 created it, or migrated a version-2 file to).
    const SCHEMA_V2_TO_V3: &str = "
ALTER TABLE audit ADD COLUMN attempts INTEGER;
ALTER TABLE audit ADD COLUMN waited_ms INTEGER;
PRAGMA user_version = 3;
";

    /// A trail of schema `version` (2 or 3) at `path`: its schema, and `entries` written into
    /// its columns under the test key as that version did. (A row without `identity` has the
    /// canonical JSON and MAC it had in version 3, and one without `attempts` and
    /// `waited_ms` too the one it had in version 2: chain.rs's
    /// `a_row_without_the_delivery_columns_hashes_as_in_version_2` and
    /// `a_row_without_identity_hashes_as_in_version_3` pin both.)
    fn old_trail(path: &Path, version: i64, entries: Vec<NewEntry>) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("dir");
        }
        let conn = raw(path);
        conn.execute_batch(SCHEMA_V2).expect("version-2 schema");
        if version == 3 {
            conn.execute_batch(SCHEMA_V2_TO_V3)
                .expect("version-3 schema");
        }
        assert_eq!(user_version(path), version);
        let key = AuditKey::from_bytes([9; 32]);
        let mut last = None;
        for entry in entries {
            let row = Row::next(last, entry, "1.ab")
                .and_then(|r| r.seal(&key))
                .expect("row");
            assert_eq!(row.identity, None, "no version before 4 had it");
            if version == 2 {
                assert_eq!((row.attempts, row.waited_ms), (None, None));
            }
            conn.execute(
                "INSERT INTO audit (id, time, agent, tool, area, access, decision, reason, \
                 outcome, error_type, targets, duration_ms, summary, completes, instance, \
                 prev_mac, mac) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                params![
                    row.id,
                    row.time,
                    row.agent,
                    row.tool,
                    row.area,
                    row.access,
                    row.decision,
                    row.reason,
                    row.outcome,
                    row.error_type,
                    row.targets,
                    row.duration_ms,
                    row.summary,
                    row.completes,
                    row.instance,
                    row.prev_mac,
                    row.mac,
                ],
            )
            .expect("an old row");
            if version == 3 {
                // The columns version 3 wrote besides version 2's (the trigger is dropped
                // for that, and created again once the rows are in).
                conn.execute_batch("DROP TRIGGER IF EXISTS audit_no_update")
                    .expect("drop trigger");
                conn.execute(
                    "UPDATE audit SET attempts = ?1, waited_ms = ?2 WHERE id = ?3",
                    params![row.attempts, row.waited_ms, row.id],
                )
                .expect("the delivery columns");
            }
            last = Some((row.id, row.mac));
        }
        conn.execute_batch(
            "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit \
             BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;",
        )
        .expect("the trigger");
    }

    fn user_version(path: &Path) -> i64 {
        raw(path)
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("user_version")
    }

    fn columns_of(path: &Path) -> Vec<String> {
        let conn = raw(path);
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('audit') ORDER BY cid")
            .expect("table_info");
        stmt.query_map([], |row| row.get(0))
            .expect("columns")
            .collect::<Result<_, _>>()
            .expect("column")
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// A version-2 trail is read as it is when opened to read, and migrated in place (to
    /// version 4) when opened to append: its rows still verify, new rows carry `attempts`,
    /// `waited_ms` and `identity`, the append-only triggers stay, and a handle opened to read
    /// before the migration reads the new rows whole.
    #[test]
    fn a_version_2_trail_is_read_as_it_is_and_migrated_to_append() {
        let dir = TempDir::new();
        let db = dir.db();
        let send = call(
            "support-bot",
            "send_event",
            json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "hi"}}),
        );
        old_trail(
            &db,
            2,
            vec![
                send.pending(),
                send.clone().completing(1),
                call("auditor", "ban_customer", json!({"id": "b7ef"})).denied("no"),
                send.pending(),
            ],
        );
        let v2_columns = columns_of(&db);
        assert_eq!(v2_columns.len(), 17);

        // Read: nothing changes in the file.
        let reader = SqliteStore::open(&db, Opening::Read).expect("open to read");
        assert_eq!(reader.check(), Ok(4));
        let listed = reader.query(&QueryFilter::default()).expect("query");
        assert_eq!(
            listed.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![4, 3, 2]
        );
        assert!(
            listed
                .iter()
                .all(|e| e.attempts.is_none() && e.waited_ms.is_none() && e.identity.is_none())
        );
        assert_eq!(
            reader
                .unresolved()
                .expect("unresolved")
                .iter()
                .map(|e| e.id)
                .collect::<Vec<_>>(),
            vec![4]
        );
        assert_eq!(user_version(&db), 2);
        assert_eq!(columns_of(&db), v2_columns);

        // Append: migrated, in place, to version 4 at once.
        let writer = SqliteStore::open(&db, Opening::Append).expect("open to append");
        assert_eq!(user_version(&db), 4);
        let mut v4_columns = v2_columns.clone();
        v4_columns.extend(strings(&["attempts", "waited_ms", "identity"]));
        assert_eq!(columns_of(&db), v4_columns);
        assert_eq!(writer.check(), Ok(4));
        let outcome = writer
            .add(
                send.clone()
                    .identity("own PAT")
                    .completing(4)
                    .delivered(3, 1200)
                    .took(2400),
            )
            .expect("append");
        assert_eq!(
            (
                outcome.id,
                outcome.attempts,
                outcome.waited_ms,
                outcome.identity.as_deref()
            ),
            (5, Some(3), Some(1200), Some("own PAT"))
        );
        assert_eq!(
            outcome.summary,
            "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 2400 ms after 3 attempts (waited 1.2 s) (as own PAT)"
        );
        let plain = writer
            .add(call("ops", "list_tags", json!({})))
            .expect("append");
        assert_eq!(
            (plain.attempts, plain.waited_ms, plain.identity),
            (None, None, None)
        );
        assert_eq!(writer.check(), Ok(6));

        // The handle opened to read before the migration sees the new columns.
        assert_eq!(reader.check(), Ok(6));
        let newest = reader.query(&QueryFilter::default()).expect("query");
        assert_eq!(newest.get(1), Some(&outcome));

        // Still append-only; opening again changes nothing.
        let conn = raw(&db);
        assert!(
            conn.execute("UPDATE audit SET attempts = 1 WHERE id = 5", [])
                .is_err()
        );
        assert!(conn.execute("DELETE FROM audit WHERE id = 1", []).is_err());
        drop(SqliteStore::open(&db, Opening::Append).expect("reopen"));
        assert_eq!(user_version(&db), 4);
        assert_eq!(writer.check(), Ok(6));

        // The stored number is what the MAC covers.
        conn.execute_batch(
            "DROP TRIGGER audit_no_update; UPDATE audit SET waited_ms = 12 WHERE id = 5",
        )
        .expect("tamper");
        let err = writer.check().expect_err("tampered");
        assert!(
            err.contains("row 5") && err.contains("MAC mismatch"),
            "{err}"
        );
    }

    /// A version-3 trail (rows with and without `attempts`) is read as it is when opened to
    /// read, and migrated in place to version 4 when opened to append: the mixed trail
    /// verifies, old rows read without an identity, new rows (pending, outcome, denied) carry
    /// theirs, and `identity` is under the MAC, on a new row and on an old one alike.
    #[test]
    fn a_version_3_trail_is_read_as_it_is_and_migrated_to_append() {
        let dir = TempDir::new();
        let db = dir.db();
        let list = call("ops", "list_chats", json!({}));
        old_trail(
            &db,
            3,
            vec![
                list.pending(),
                list.clone().completing(1).delivered(2, 300),
                call("auditor", "ban_customer", json!({"id": "b7ef"})).denied("no"),
            ],
        );
        let v3_columns = columns_of(&db);
        assert_eq!(v3_columns.len(), 19);

        let reader = SqliteStore::open(&db, Opening::Read).expect("open to read");
        assert_eq!(reader.check(), Ok(3));
        let listed = reader.query(&QueryFilter::default()).expect("query");
        assert_eq!(
            listed
                .iter()
                .map(|e| (e.id, e.attempts, e.identity.clone()))
                .collect::<Vec<_>>(),
            vec![(3, None, None), (2, Some(2), None)]
        );
        assert_eq!(
            (user_version(&db), columns_of(&db)),
            (3, v3_columns.clone())
        );

        let writer = SqliteStore::open(&db, Opening::Append).expect("open to append");
        let mut v4_columns = v3_columns.clone();
        v4_columns.push("identity".to_string());
        assert_eq!((user_version(&db), columns_of(&db)), (4, v4_columns));
        assert_eq!(writer.check(), Ok(3));
        let as_bot = list.identity("bot 5c98…");
        let pending = writer.add(as_bot.pending()).expect("pending");
        let done = writer
            .add(as_bot.completing(pending.id).delivered(1, 0).took(182))
            .expect("outcome");
        let denied = writer
            .add(
                call("auditor", "ban_customer", json!({"id": "b7ef"}))
                    .identity("server token")
                    .denied("customers is off for auditor"),
            )
            .expect("denied");
        assert_eq!(
            [&pending, &done, &denied].map(|e| e.identity.clone()),
            [
                Some("bot 5c98…".to_string()),
                Some("bot 5c98…".to_string()),
                Some("server token".to_string())
            ]
        );
        assert_eq!(
            pending.summary,
            "ops tried to list chats — allowed, sending to LiveChat (as bot 5c98…)"
        );
        assert_eq!(
            done.summary,
            "ops listed chats — allowed, done in 182 ms (as bot 5c98…)"
        );
        assert_eq!(
            denied.summary,
            "auditor tried to ban customer b7ef — denied: customers is off for auditor (as server token)"
        );
        assert_eq!(writer.check(), Ok(6));
        // The handle opened to read before the migration reads the new rows whole.
        assert_eq!(reader.check(), Ok(6));
        assert_eq!(
            reader
                .query(&QueryFilter::default())
                .expect("query")
                .first(),
            Some(&denied)
        );
        assert_eq!(
            writer
                .query(&QueryFilter::default())
                .expect("query")
                .iter()
                .map(|e| (e.id, e.identity.is_some()))
                .collect::<Vec<_>>(),
            vec![(6, true), (5, true), (3, false), (2, false)]
        );

        // Another identity on a new row, or one given to an old row, is a changed row.
        let conn = raw(&db);
        assert!(
            conn.execute("UPDATE audit SET identity = 'own token' WHERE id = 5", [])
                .is_err()
        );
        conn.execute_batch("DROP TRIGGER audit_no_update")
            .expect("drop trigger");
        conn.execute("UPDATE audit SET identity = 'own token' WHERE id = 5", [])
            .expect("tamper");
        let err = writer.check().expect_err("tampered");
        assert!(
            err.contains("row 5") && err.contains("MAC mismatch"),
            "{err}"
        );
        conn.execute("UPDATE audit SET identity = 'bot 5c98…' WHERE id = 5", [])
            .expect("restore");
        assert_eq!(writer.check(), Ok(6));
        conn.execute(
            "UPDATE audit SET identity = 'server token' WHERE id = 2",
            [],
        )
        .expect("tamper");
        let err = writer.check().expect_err("tampered");
        assert!(
            err.contains("row 2") && err.contains("MAC mismatch"),
            "{err}"
        );
    }

    /// A migration that fails leaves the trail at its version, untouched: from version 2,
    /// the columns added by the steps before the one that failed are gone too.
    #[test]
    fn a_failed_migration_leaves_the_old_version() {
        for version in [2, 3] {
            let dir = TempDir::new();
            let db = dir.db();
            old_trail(&db, version, vec![call("ops", "list_tags", json!({}))]);
            // A column of that name already there makes the last step fail.
            raw(&db)
                .execute_batch("ALTER TABLE audit ADD COLUMN identity INTEGER")
                .expect("a clashing column");
            let before = columns_of(&db);
            let err = SqliteStore::open(&db, Opening::Append).expect_err("clash");
            assert!(err.contains("schema version 4"), "{version}: {err}");
            assert_eq!(user_version(&db), version);
            assert_eq!(columns_of(&db), before, "{version}");
            assert_eq!(
                columns_of(&db).contains(&"attempts".to_string()),
                version == 3
            );
            // Opened to read, it still reads as it was.
            let reader = SqliteStore::open(&db, Opening::Read).expect("open to read");
            assert_eq!(reader.check(), Ok(1), "{version}");
        }
    }

    /// A writer of its own on the trail at `path` (created by `SqliteStore::open`), to serve
    /// batches by hand.
    fn writer_on(path: &Path) -> Writer {
        let conn = connect(path).expect("connect");
        conn.pragma_update(None, "synchronous", "FULL")
            .expect("synchronous");
        Writer::new(conn, path)
    }

    /// A job for `entry` and the receiver its answer comes on.
    fn job(entry: NewEntry, sealing: &Arc<Sealing>) -> (Job, oneshot::Receiver<writer::Answer>) {
        let (reply, answer) = oneshot::channel();
        (
            Job {
                entry,
                sealing: Arc::clone(sealing),
                reply,
            },
            answer,
        )
    }

    fn rows_in(path: &Path) -> i64 {
        raw(path)
            .query_row("SELECT COUNT(*) FROM audit", [], |row| row.get(0))
            .expect("count")
    }

    /// Many appends at once, intents and their outcomes, through one handle: every caller
    /// gets its own row, the ids are dense, each returned row is the stored one, and the
    /// chain verifies.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_concurrent_appends_are_all_stored_in_one_chain() {
        let dir = TempDir::new();
        let store = SqliteStore::open(&dir.db(), Opening::Append).expect("open");
        let sealing = Arc::new(store.sealing());
        let mut tasks = Vec::new();
        for i in 0..300 {
            let store = store.clone();
            let sealing = Arc::clone(&sealing);
            tasks.push(tokio::spawn(async move {
                let send = call(
                    &format!("agent-{}", i % 5),
                    "get_chat",
                    json!({"chat_id": format!("C{i}")}),
                );
                let pending = store
                    .append(send.pending(), Arc::clone(&sealing))
                    .await
                    .expect("pending")
                    .expect("written");
                let done = store
                    .append(send.completing(pending.id), sealing)
                    .await
                    .expect("outcome")
                    .expect("written");
                assert!(done.id > pending.id);
                vec![pending, done]
            }));
        }
        let mut returned = Vec::new();
        for task in tasks {
            returned.extend(task.await.expect("task"));
        }
        returned.sort_by_key(|e| e.id);
        assert_eq!(
            returned.iter().map(|e| e.id).collect::<Vec<_>>(),
            (1..=600).collect::<Vec<u64>>()
        );
        assert_eq!(store.check(), Ok(600));
        let mut stored = store
            .query(&QueryFilter {
                limit: 0,
                ..QueryFilter::default()
            })
            .expect("query");
        stored.reverse();
        // The query leaves out pending rows that have their outcome.
        let outcomes: Vec<&Entry> = returned.iter().filter(|e| e.completes.is_some()).collect();
        assert_eq!(stored.iter().collect::<Vec<_>>(), outcomes);
        drop(store);
        // Dropped, the writer made every row durable and the anchor holds the last.
        let anchor = Anchor::read(&dir.db().with_extension("anchor"))
            .expect("anchor")
            .expect("written");
        assert_eq!(anchor.rows, 600);
        assert_eq!(Some(&anchor.mac), returned.last().map(|e| &e.mac));
    }

    /// While another connection holds the write lock past the busy timeout, every append
    /// waiting gets the error and nothing is written; once it lets go, the chain goes on from
    /// the row before.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_locked_trail_fails_every_waiting_append_and_writes_nothing() {
        let dir = TempDir::new();
        let db = dir.db();
        let store = SqliteStore::open_waiting(&db, Opening::Append, Duration::from_millis(300))
            .expect("open");
        let sealing = Arc::new(store.sealing());
        for i in 0..2 {
            store
                .append(
                    call("ops", "list_tags", json!({"n": i})),
                    Arc::clone(&sealing),
                )
                .await
                .expect("append");
        }
        let blocker = raw(&db);
        blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            let sealing = Arc::clone(&sealing);
            tasks.push(tokio::spawn(async move {
                store
                    .append(
                        call("ops", "get_chat", json!({"chat_id": format!("C{i}")})).pending(),
                        sealing,
                    )
                    .await
            }));
        }
        for task in tasks {
            let err = task.await.expect("task").expect_err("locked");
            assert!(
                err.contains("cannot lock for append") && err.contains("locked"),
                "{err}"
            );
        }
        blocker.execute_batch("ROLLBACK").expect("unlock");
        assert_eq!(rows_in(&db), 2);
        assert_eq!(store.check(), Ok(2));
        let next = store
            .append(call("ops", "list_tags", json!({})), sealing)
            .await
            .expect("append")
            .expect("written");
        assert_eq!(next.id, 3);
        assert_eq!(store.check(), Ok(3));
    }

    /// A batch is one transaction: when one of its inserts fails, every caller of the batch
    /// gets the error, none of its rows is kept, the anchor stays, and the next batch chains
    /// from the row before it.
    #[test]
    fn a_failed_insert_fails_its_whole_batch_and_keeps_nothing() {
        let dir = TempDir::new();
        let db = dir.db();
        let store = SqliteStore::open(&db, Opening::Append).expect("open");
        fill(&store, 3);
        raw(&db)
            .execute_batch(
                "CREATE TRIGGER refuse_bad BEFORE INSERT ON audit WHEN NEW.agent = 'bad' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
            )
            .expect("trigger");
        let sealing = Arc::new(store.sealing());
        let anchor_before = Anchor::read(&sealing.anchor).expect("anchor");
        let mut writer = writer_on(&db);
        let mut batch = Vec::new();
        let mut answers = Vec::new();
        for agent in ["good", "bad", "good"] {
            let (job, answer) = job(call(agent, "list_tags", json!({})), &sealing);
            batch.push(job);
            answers.push(answer);
        }
        writer.serve(batch);
        for mut answer in answers {
            let err = answer.try_recv().expect("answered").expect_err("refused");
            assert!(err.contains("refused by the test"), "{err}");
        }
        assert_eq!(rows_in(&db), 3);
        assert_eq!(
            Anchor::read(&sealing.anchor).expect("anchor"),
            anchor_before
        );
        let (good, mut answer) = job(call("good", "list_tags", json!({})), &sealing);
        writer.serve(vec![good]);
        let row = answer
            .try_recv()
            .expect("answered")
            .expect("ok")
            .expect("row");
        assert_eq!(row.id, 4);
        assert_eq!(store.check(), Ok(4));
    }

    /// An outcome-only batch is committed without an `fsync`, so the anchor does not move to
    /// it until it is durable: at the next batch that has a row needing durability, or the
    /// writer's own sync when idle. Rows are readable (and survive a crash of the process) as
    /// soon as they are committed.
    #[test]
    fn the_anchor_moves_only_to_durable_rows() {
        let dir = TempDir::new();
        let db = dir.db();
        let store = SqliteStore::open(&db, Opening::Append).expect("open");
        let sealing = Arc::new(store.sealing());
        let mut writer = writer_on(&db);
        let anchored = || {
            Anchor::read(&sealing.anchor)
                .expect("anchor")
                .map(|a| a.rows)
        };
        let list = call("ops", "list_chats", json!({}));
        let (intent, _answer) = job(list.pending(), &sealing);
        writer.serve(vec![intent]);
        assert_eq!(anchored(), Some(1));
        let (outcome, _answer) = job(list.clone().completing(1), &sealing);
        writer.serve(vec![outcome]);
        assert_eq!(rows_in(&db), 2);
        assert_eq!(anchored(), Some(1), "moved before the row was durable");
        writer.sync_idle();
        assert_eq!(anchored(), Some(2));

        // An outcome and an intent together: one durable commit covers both.
        let (outcome, _a) = job(list.clone().pending(), &sealing);
        writer.serve(vec![outcome]);
        let (done, _b) = job(list.clone().completing(3), &sealing);
        let (next, _c) = job(list.pending(), &sealing);
        writer.serve(vec![done, next]);
        assert_eq!(anchored(), Some(5));
        assert_eq!(store.check(), Ok(5));
    }
}
