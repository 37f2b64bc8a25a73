//! The requests in the audit trail's SQLite file, on a connection of their own.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{ApprovalError, Columns, Op, Request, sql};

/// How long a statement waits for another writer (a server appending to the trail) before
/// it fails; a held call then fails closed.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub(super) struct SqliteApprovals {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl SqliteApprovals {
    pub(super) fn open(path: &Path) -> Result<SqliteApprovals, ApprovalError> {
        let error = |what: &str, e: rusqlite::Error| {
            ApprovalError::Store(format!("cannot {what} `{}`: {e}", path.display()))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                ApprovalError::Store(format!("cannot create `{}`: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(|e| error("open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| error("set the busy timeout of", e))?;
        conn.execute_batch(&sqlite_params(sql::SCHEMA))
            .map_err(|e| error("create the approvals table in", e))?;
        Ok(SqliteApprovals {
            path: path.to_path_buf(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub(super) async fn run(&self, op: Op) -> Result<Vec<Request>, ApprovalError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.run_blocking(op))
            .await
            .map_err(|e| ApprovalError::Store(format!("the approvals task did not finish: {e}")))?
    }

    fn run_blocking(&self, op: Op) -> Result<Vec<Request>, ApprovalError> {
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = self.path.display().to_string();
        let error = |e: rusqlite::Error| {
            ApprovalError::Store(format!(
                "the approvals in `{path}` could not be read or written: {e}"
            ))
        };
        let rows = |conn: &Connection, text: &str, args: &[&dyn rusqlite::ToSql]| {
            let mut statement = conn.prepare_cached(&sqlite_params(text)).map_err(error)?;
            let found = statement
                .query_map(args, read)
                .map_err(error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(error)?;
            found.into_iter().map(Columns::into_request).collect()
        };
        match op {
            Op::Expire { now } => rows(&conn, &sql::expire(), &[&now]),
            Op::Claim {
                agent,
                tool,
                hash,
                now,
            } => rows(&conn, &sql::claim(), &[&agent, &tool, &hash, &now]),
            Op::TellDenial { agent, tool, hash } => {
                rows(&conn, &sql::tell_denial(), &[&agent, &tool, &hash])
            }
            Op::Insert { request } => {
                // One write transaction: the pending request read back is the one this
                // insert made, or the one another server made first.
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(error)?;
                tx.execute(
                    &sqlite_params(sql::INSERT),
                    params![
                        request.id,
                        request.agent,
                        request.tool,
                        request.arguments_sha256,
                        request.would,
                        request.arguments.to_string(),
                        request.approvers.join(","),
                        request.created_ms,
                        request.expires_ms
                    ],
                )
                .map_err(error)?;
                let found = rows(
                    &tx,
                    &sql::pending_for(),
                    &[&request.agent, &request.tool, &request.arguments_sha256],
                )?;
                tx.commit().map_err(error)?;
                Ok(found)
            }
            Op::Decide {
                id,
                state,
                by,
                reason,
                now,
                expires,
            } => rows(
                &conn,
                &sql::decide(),
                &[&id, &state.as_str(), &by, &reason, &now, &expires],
            ),
            Op::Waiting { agent, limit } => {
                rows(&conn, &sql::waiting(), &[&agent, &i64::from(limit)])
            }
            Op::Unrecorded { before } => rows(&conn, &sql::unrecorded(), &[&before]),
            Op::MarkRecorded { id, state } => {
                rows(&conn, &sql::mark_recorded(), &[&id, &state.as_str()])
            }
            Op::Get { id } => {
                let mut statement = conn
                    .prepare_cached(&sqlite_params(&sql::get()))
                    .map_err(error)?;
                let found = statement.query_row([&id], read).optional().map_err(error)?;
                found.map(Columns::into_request).into_iter().collect()
            }
            Op::List { state, limit } => {
                let state = state.map(|s| s.as_str()).unwrap_or("");
                rows(&conn, &sql::list(), &[&state, &i64::from(limit)])
            }
        }
    }
}

/// `$N` parameters as SQLite numbers them: `?N`.
fn sqlite_params(text: &str) -> String {
    text.replace('$', "?")
}

fn read(row: &Row<'_>) -> rusqlite::Result<Columns> {
    Ok(Columns {
        id: row.get(0)?,
        agent: row.get(1)?,
        tool: row.get(2)?,
        hash: row.get(3)?,
        would: row.get(4)?,
        arguments: row.get(5)?,
        approvers: row.get(6)?,
        state: row.get(7)?,
        created_ms: row.get(8)?,
        expires_ms: row.get(9)?,
        decided_by: row.get(10)?,
        reason: row.get(11)?,
        decided_ms: row.get(12)?,
    })
}
