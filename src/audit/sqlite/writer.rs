//! Group commit: the one thread that writes a store's rows. Appends are queued; the writer
//! takes everything waiting, writes it in one transaction, commits once, and answers each
//! caller with its stored row (or every caller of the batch with the batch's error).
//!
//! **Durability.** A row that completes a pending row (an outcome, or start-up's `unknown`)
//! may be lost in a power cut without losing anything start-up cannot name: its pending row
//! becomes `unknown`. Every other row (a call's `pending` intent, a denial, an approval step)
//! must be on disk before its caller goes on. So a batch holding any such row commits with
//! `synchronous = FULL` (one `fsync` of the WAL, which also covers every earlier frame), and a
//! batch of outcomes only with `synchronous = NORMAL` (written to the WAL, no `fsync`): it is
//! made durable by the next FULL commit, or, when no other row comes within [`IDLE_SYNC`], by
//! an `fsync` of the WAL file of its own. A lone call thus pays one `fsync` (its intent's);
//! calls arriving together share theirs. Either way the rows survive a `kill -9`: they are in
//! the file as soon as their transaction commits.
//!
//! **The anchor** only ever moves to a row known to be on disk, so a power cut cannot leave it
//! ahead of the trail (which `audit verify` and start-up would take for rows removed).
//!
//! **Failures.** A batch is one transaction: if taking the lock (past the busy timeout),
//! an insert or the commit fails, it rolls back, nothing of it is written, every caller of
//! the batch gets the error, and the next batch starts again from the last row in the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::{db_error, last_row};
use crate::audit::chain::{COLUMNS, Row, unknown_outcome_of};
use crate::audit::instance;
use crate::audit::store::Sealing;
use crate::audit::{Entry, NewEntry};

/// How long the writer waits for another row to share the `fsync` of outcome rows written
/// without one, before it makes them durable on its own.
pub(super) const IDLE_SYNC: Duration = Duration::from_millis(20);

/// The most rows one transaction takes: a bound on how long a batch holds the write lock.
const MAX_BATCH: usize = 1024;

/// What an append is answered with.
pub(super) type Answer = Result<Option<Entry>, String>;

/// One queued append.
pub(super) struct Job {
    pub(super) entry: NewEntry,
    pub(super) sealing: Arc<Sealing>,
    pub(super) reply: oneshot::Sender<Answer>,
}

/// `synchronous` as the write connection has it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Synchronous {
    Full,
    Normal,
}

/// The write connection and what the writer keeps between batches.
pub(super) struct Writer {
    conn: Connection,
    path: PathBuf,
    /// The INSERT, built once (and prepared once: `prepare_cached`).
    insert: String,
    synchronous: Synchronous,
    /// The newest row of each sealing committed without an `fsync`: where its anchor moves
    /// once they are durable.
    unsynced: Vec<(Arc<Sealing>, Entry)>,
    /// The WAL file, opened at its first idle `fsync`.
    wal: Option<std::fs::File>,
}

impl Writer {
    /// A writer on `conn`, which is in WAL mode with `synchronous = FULL`.
    pub(super) fn new(conn: Connection, path: &Path) -> Writer {
        Writer {
            conn,
            path: path.to_path_buf(),
            insert: format!(
                "INSERT INTO audit ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                         ?17, ?18, ?19, ?20)"
            ),
            synchronous: Synchronous::Full,
            unsynced: Vec::new(),
            wal: None,
        }
    }

    /// Serves `queue` until every sender is gone, then makes the last rows durable.
    pub(super) fn run(mut self, queue: Receiver<Job>) {
        loop {
            let first = if self.unsynced.is_empty() {
                match queue.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            } else {
                match queue.recv_timeout(IDLE_SYNC) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => {
                        self.sync_idle();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.serve(batch);
        }
        self.sync_idle();
    }

    /// Writes `batch` in one transaction and answers each of its callers.
    pub(super) fn serve(&mut self, batch: Vec<Job>) {
        let mut entries = Vec::with_capacity(batch.len());
        let mut sealings = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            entries.push(job.entry);
            sealings.push(job.sealing);
            replies.push(job.reply);
        }
        let answers = match self.write(entries, &sealings) {
            Ok(answers) => answers,
            Err(e) => vec![Err(e); replies.len()],
        };
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that stopped waiting still has its row written, as before.
            let _ = reply.send(answer);
        }
    }

    /// Writes `entries` (sealed with `sealings`, one each) in one transaction, in order, and
    /// commits; returns each one's answer. `Err` when nothing of it was written.
    fn write(
        &mut self,
        entries: Vec<NewEntry>,
        sealings: &[Arc<Sealing>],
    ) -> Result<Vec<Answer>, String> {
        let path = &self.path;
        let durable = entries.iter().any(|e| e.completes.is_none());
        let wanted = if durable {
            Synchronous::Full
        } else {
            Synchronous::Normal
        };
        if wanted != self.synchronous {
            let set = match wanted {
                Synchronous::Full => "PRAGMA synchronous = FULL",
                Synchronous::Normal => "PRAGMA synchronous = NORMAL",
            };
            self.conn
                .prepare_cached(set)
                .and_then(|mut set| set.execute([]))
                .map_err(|e| db_error(path, "set synchronous", e))?;
            self.synchronous = wanted;
        }
        // IMMEDIATE takes the write lock before reading the last row, so no other handle or
        // process can append between that read and these inserts.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(path, "lock for append", e))?;
        let mut last = last_row(&tx).map_err(|e| db_error(path, "read the last row", e))?;
        let mut answers = Vec::with_capacity(entries.len());
        {
            let mut insert = tx
                .prepare_cached(&self.insert)
                .map_err(|e| db_error(path, "append", e))?;
            for (entry, sealing) in entries.into_iter().zip(sealings) {
                if let Some(pending) = unknown_outcome_of(&entry) {
                    let done: bool = tx
                        .prepare_cached("SELECT EXISTS (SELECT 1 FROM audit WHERE completes = ?1)")
                        .and_then(|mut s| s.query_row([pending], |row| row.get(0)))
                        .map_err(|e| db_error(path, "read an outcome", e))?;
                    if done {
                        answers.push(Ok(None));
                        continue;
                    }
                }
                // A row that cannot be made (its targets do not serialise) is that caller's
                // error alone: the chain goes on from the row before it.
                let row = match Row::next(last.clone(), entry, &instance::this_process().text)
                    .and_then(|row| row.seal(&sealing.key))
                {
                    Ok(row) => row,
                    Err(e) => {
                        answers.push(Err(e));
                        continue;
                    }
                };
                insert
                    .execute(params![
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
                        row.attempts,
                        row.waited_ms,
                        row.identity,
                    ])
                    .map_err(|e| db_error(path, "append", e))?;
                last = Some((row.id, row.mac.clone()));
                answers.push(Ok(Some(row.into_entry()?)));
            }
        }
        // On any error above, `tx` is dropped unfinished and rolls back: nothing was written,
        // and `last` (the head this batch chained from) dies with it.
        tx.commit().map_err(|e| db_error(path, "commit", e))?;
        // The newest row of each sealing (in practice there is one) moves its anchor, now if
        // the commit was durable, else once it is.
        for (answer, sealing) in answers.iter().zip(sealings).rev() {
            let Ok(Some(entry)) = answer else { continue };
            match self
                .unsynced
                .iter_mut()
                .find(|(s, _)| Arc::ptr_eq(s, sealing))
            {
                Some((_, newest)) if newest.id >= entry.id => {}
                Some((_, newest)) => *newest = entry.clone(),
                None => self.unsynced.push((Arc::clone(sealing), entry.clone())),
            }
        }
        if durable {
            self.synced();
        }
        Ok(answers)
    }

    /// Moves the anchors to the rows now known to be on disk.
    fn synced(&mut self) {
        for (sealing, entry) in self.unsynced.drain(..) {
            sealing.committed(&entry);
        }
    }

    /// Makes rows committed without an `fsync` durable (one `fsync` of the WAL file, which
    /// holds them), then moves the anchors to them. On failure the anchors stay where they
    /// are (an anchor is a lower bound) and the next FULL commit tries again.
    pub(super) fn sync_idle(&mut self) {
        if self.unsynced.is_empty() {
            return;
        }
        let wal = {
            let mut name = self.path.as_os_str().to_owned();
            name.push("-wal");
            PathBuf::from(name)
        };
        let synced = match &self.wal {
            Some(file) => file.sync_data(),
            None => std::fs::File::open(&wal).and_then(|file| {
                let synced = file.sync_data();
                self.wal = Some(file);
                synced
            }),
        };
        match synced {
            Ok(()) => self.synced(),
            Err(e) => {
                self.wal = None;
                tracing::warn!(
                    "audit: cannot sync `{}` (the rows are written; the anchor moves at the next append): {e}",
                    wal.display()
                );
            }
        }
    }
}
