//! The event log in the audit trail's PostgreSQL database: the table `livechat_mcp_events`
//! and its one-row `livechat_mcp_events_meta` (the newest cursor given, `head`, and the newest
//! dropped, `dropped`), created if missing under an advisory lock so that servers starting
//! together do not race.
//!
//! **Order across servers.** Every append and every retention run takes a transaction-scoped
//! advisory lock on one key first, then reads `head`, inserts the next cursor and moves
//! `head`, all in one READ COMMITTED transaction. Appends from every server sharing the
//! database therefore commit one after another in cursor order, and a reader never sees
//! cursor `n + 1` before `n`. A read is one statement (the meta row joined with the events
//! after the cursor), so its numbers and its events come from one snapshot.
//!
//! **Bounded appends.** The writer's session has `lock_timeout` at 900 ms and
//! `statement_timeout` at 1 s; the whole append (connecting again included) runs under
//! [`super::APPEND_BOUND`]. The connection is taken out of its slot for the append, so an
//! append given up on mid-way drops it (the server rolls the transaction back) and the next
//! one connects afresh.
//!
//! **No TLS**, as for the trail (`audit/postgres.rs`): use a server you reach privately. The
//! URL's password is never logged nor put in an error.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::error::{Severity, SqlState};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, IsolationLevel};

use super::{APPEND_BOUND, Appended, EventError, Filter, Prune, Row, Snapshot, stored_event};

/// The advisory lock every append, retention run and the schema setup take: "lcmcpevt" in
/// ASCII (the trail's is "lcmcpaud", the limiter's "lcmcplim").
const LOCK_KEY: i64 = 0x6c63_6d63_7065_7674;

/// How long a read or retention on demand may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an append waits for the log's lock, and for one statement.
const WRITER_SESSION: &str = "SET lock_timeout = 900; SET statement_timeout = 1000";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS livechat_mcp_events (
    id        BIGINT PRIMARY KEY,
    dedupe    TEXT   NOT NULL UNIQUE,
    action    TEXT   NOT NULL,
    area      TEXT   NOT NULL,
    chat_id   TEXT,
    thread_id TEXT,
    at        TEXT   NOT NULL,
    at_ms     BIGINT NOT NULL,
    payload   TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS livechat_mcp_events_at ON livechat_mcp_events (at_ms);
CREATE INDEX IF NOT EXISTS livechat_mcp_events_chat ON livechat_mcp_events (chat_id, id);
CREATE TABLE IF NOT EXISTS livechat_mcp_events_meta (
    id      INT    PRIMARY KEY CHECK (id = 1),
    head    BIGINT NOT NULL,
    dropped BIGINT NOT NULL
);
INSERT INTO livechat_mcp_events_meta (id, head, dropped) VALUES (1, 0, 0) ON CONFLICT DO NOTHING;
";

/// The numbers, and the events after `$1` in the areas `$2`, of the actions `$3` (NULL:
/// all), in the chat `$4` (NULL: all), oldest first, at most `$5`: one row with NULL event
/// columns when there are none.
const READ: &str = "
SELECT m.head, m.dropped, e.id, e.action, e.area, e.chat_id, e.thread_id, e.at, e.dedupe, e.payload
FROM livechat_mcp_events_meta m
LEFT JOIN LATERAL (
    SELECT * FROM livechat_mcp_events
    WHERE id > $1
      AND area = ANY($2::text[])
      AND ($3::text[] IS NULL OR action = ANY($3::text[]))
      AND ($4::text IS NULL OR chat_id = $4::text)
    ORDER BY id LIMIT $5
) e ON true
WHERE m.id = 1
ORDER BY e.id";

pub(super) struct PgLog {
    /// Holds the password, if the URL has one: never printed.
    config: Config,
    /// The database as `postgres://host:port/db`, for messages.
    place: String,
    /// The appending connection; empty while an append uses it, or after one failed.
    writer: Mutex<Option<Client>>,
    /// The reading connection.
    reader: Mutex<Option<Client>>,
}

impl PgLog {
    /// Connects to the database `url` names and creates the tables if they are missing.
    pub(super) async fn open(url: &str) -> Result<PgLog, EventError> {
        let crate::pg::Target {
            config,
            place,
            connect_timeout: within,
        } = crate::pg::target(url).map_err(|detail| EventError::Storage {
            store: crate::audit::describe_location(url),
            detail,
        })?;
        let log = PgLog {
            config,
            place,
            writer: Mutex::new(None),
            reader: Mutex::new(None),
        };
        // Connecting, then the setup's few round trips: the same time again.
        let setup = async {
            let mut client = log.connect().await?;
            log.create_schema(&mut client).await?;
            client
                .batch_execute(WRITER_SESSION)
                .await
                .map_err(|e| log.error("set up the session with", &e))?;
            Ok::<_, EventError>(client)
        };
        let client = tokio::time::timeout(within * 2, setup)
            .await
            .unwrap_or_else(|_| Err(log.no_answer(within * 2)))?;
        *log.writer.lock().await = Some(client);
        Ok(log)
    }

    pub(super) fn describe(&self) -> String {
        self.place.clone()
    }

    pub(super) async fn append(
        &self,
        row: Row,
        prune: Option<Prune>,
    ) -> Result<Appended, EventError> {
        let attempt = async {
            // Taken out of its slot: if this future is dropped at the bound, so is the
            // connection, and the server rolls back whatever it was doing.
            let mut slot = self.writer.lock().await;
            let mut client = match slot.take().filter(|c| !c.is_closed()) {
                Some(client) => client,
                None => {
                    let client = self.connect().await?;
                    client
                        .batch_execute(WRITER_SESSION)
                        .await
                        .map_err(|e| self.error("set up the session with", &e))?;
                    client
                }
            };
            let result = append_on(&mut client, &row, prune).await;
            let lost = match &result {
                Err(e) => client.is_closed() || connection_lost(e),
                Ok(_) => false,
            };
            if !lost {
                *slot = Some(client);
            }
            result.map_err(|e| self.error("store an event in", &e))
        };
        tokio::time::timeout(APPEND_BOUND, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(EventError::Busy {
                    store: self.describe(),
                    detail: format!("no answer within {} ms", APPEND_BOUND.as_millis()),
                })
            })
    }

    pub(super) async fn read(
        &self,
        after: i64,
        filter: &Filter,
        limit: usize,
    ) -> Result<Snapshot, EventError> {
        let areas = filter.area_names();
        let types = filter.type_names();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(READ, &[&after, &areas, &types, &filter.chat_id, &limit])
            .await?;
        let mut snapshot = Snapshot {
            head: 0,
            dropped: 0,
            events: Vec::new(),
        };
        for row in rows {
            let mut read = || -> Result<Option<super::Event>, String> {
                let text = |e: tokio_postgres::Error| error_text(&e);
                snapshot.head = row.try_get(0).map_err(text)?;
                snapshot.dropped = row.try_get(1).map_err(text)?;
                let Some(cursor) = row.try_get::<_, Option<i64>>(2).map_err(text)? else {
                    return Ok(None);
                };
                let area: String = row.try_get(4).map_err(text)?;
                let payload: String = row.try_get(9).map_err(text)?;
                stored_event(
                    cursor,
                    row.try_get(3).map_err(text)?,
                    &area,
                    row.try_get(5).map_err(text)?,
                    row.try_get(6).map_err(text)?,
                    row.try_get(7).map_err(text)?,
                    row.try_get(8).map_err(text)?,
                    &payload,
                )
                .map(Some)
            };
            match read() {
                Ok(Some(event)) => snapshot.events.push(event),
                Ok(None) => {}
                Err(detail) => {
                    return Err(EventError::Storage {
                        store: self.describe(),
                        detail,
                    });
                }
            }
        }
        Ok(snapshot)
    }

    pub(super) async fn prune(&self, prune: Prune) -> Result<u64, EventError> {
        // Its own connection: retention on demand may wait for the lock longer than an
        // append would, and must not hold the appending connection meanwhile.
        let attempt = async {
            let mut client = self.connect().await?;
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::ReadCommitted)
                .start()
                .await
                .map_err(|e| self.error("apply retention in", &e))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
                .await
                .map_err(|e| self.error("apply retention in", &e))?;
            let dropped = apply_retention(&tx, prune)
                .await
                .map_err(|e| self.error("apply retention in", &e))?;
            tx.commit()
                .await
                .map_err(|e| self.error("apply retention in", &e))?;
            Ok(dropped)
        };
        tokio::time::timeout(READ_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(self.no_answer(READ_TIMEOUT)))
    }

    /// `head` and `dropped`.
    pub(super) async fn numbers(&self) -> Result<(i64, i64), EventError> {
        let rows = self
            .query(
                "SELECT head, dropped FROM livechat_mcp_events_meta WHERE id = 1",
                &[],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Err(EventError::Storage {
                store: self.describe(),
                detail: "the table livechat_mcp_events_meta has lost its row".to_string(),
            });
        };
        let head = row.try_get(0).map_err(|e| self.error("read", &e))?;
        let dropped = row.try_get(1).map_err(|e| self.error("read", &e))?;
        Ok((head, dropped))
    }

    /// Runs one statement on the reading connection (connecting it if needed), within
    /// [`READ_TIMEOUT`]; a connection found lost is dropped for the next read. Reads run no
    /// transaction, so one given up on mid-way leaves the connection usable.
    async fn query(
        &self,
        statement: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, EventError> {
        let attempt = async {
            let mut slot = self.reader.lock().await;
            if slot.as_ref().is_none_or(Client::is_closed) {
                *slot = Some(self.connect().await?);
            }
            let Some(client) = slot.as_ref() else {
                return Err(self.no_answer(Duration::ZERO));
            };
            let result = client.query(statement, params).await;
            if let Err(e) = &result
                && (client.is_closed() || connection_lost(e))
            {
                *slot = None;
            }
            result.map_err(|e| self.error("read events from", &e))
        };
        tokio::time::timeout(READ_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(self.no_answer(READ_TIMEOUT)))
    }

    /// Creates the tables if they are missing, under the log's lock; refuses a database
    /// whose text cannot hold every payload.
    async fn create_schema(&self, client: &mut Client) -> Result<(), EventError> {
        let setup = |e: tokio_postgres::Error| self.error("create the event log's tables in", &e);
        let encoding: String = client
            .query_one("SELECT current_setting('server_encoding')", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(setup)?;
        if encoding != "UTF8" && encoding != "SQL_ASCII" {
            return Err(EventError::Storage {
                store: self.describe(),
                detail: format!(
                    "uses the encoding {encoding}, which cannot hold every event; use a UTF8 database"
                ),
            });
        }
        crate::pg::create_schema(client, LOCK_KEY, SCHEMA)
            .await
            .map_err(setup)
    }

    /// A new connection, driven by a task of its own until the client is dropped.
    async fn connect(&self) -> Result<Client, EventError> {
        crate::pg::connect(&self.config, &self.place, "events")
            .await
            .map_err(|e| self.error("connect to", &e))
    }

    /// A database error as the log's: a lock or statement timeout is [`EventError::Busy`].
    fn error(&self, what: &str, e: &tokio_postgres::Error) -> EventError {
        let busy = e
            .code()
            .is_some_and(|c| *c == SqlState::LOCK_NOT_AVAILABLE || *c == SqlState::QUERY_CANCELED);
        if busy {
            EventError::Busy {
                store: self.describe(),
                detail: format!("cannot {what} it: {}", error_text(e)),
            }
        } else {
            EventError::Storage {
                store: self.describe(),
                detail: format!("cannot {what} it: {}", error_text(e)),
            }
        }
    }

    fn no_answer(&self, within: Duration) -> EventError {
        EventError::Storage {
            store: self.describe(),
            detail: format!("no answer within {} ms", within.as_millis()),
        }
    }
}

/// One append, in its own transaction under the log's lock.
async fn append_on(
    client: &mut Client,
    row: &Row,
    prune: Option<Prune>,
) -> Result<Appended, tokio_postgres::Error> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    let existing = tx
        .query_opt(
            "SELECT id FROM livechat_mcp_events WHERE dedupe = $1 OR dedupe = $2 ORDER BY id LIMIT 1",
            &[&row.dedupe, &row.earlier],
        )
        .await?;
    if let Some(existing) = existing {
        let cursor: i64 = existing.try_get(0)?;
        tx.commit().await?;
        return Ok(Appended {
            cursor: u64::try_from(cursor).unwrap_or(0),
            duplicate: true,
        });
    }
    let cursor: i64 = tx
        .query_one(
            "UPDATE livechat_mcp_events_meta SET head = head + 1 WHERE id = 1 RETURNING head",
            &[],
        )
        .await?
        .try_get(0)?;
    tx.execute(
        "INSERT INTO livechat_mcp_events \
         (id, dedupe, action, area, chat_id, thread_id, at, at_ms, payload) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &cursor,
            &row.dedupe,
            &row.action,
            &row.area,
            &row.chat_id,
            &row.thread_id,
            &row.at,
            &row.at_ms,
            &row.payload,
        ],
    )
    .await?;
    if let Some(prune) = prune {
        apply_retention(&tx, prune).await?;
    }
    tx.commit().await?;
    Ok(Appended {
        cursor: u64::try_from(cursor).unwrap_or(0),
        duplicate: false,
    })
}

/// Drops the events too old or too many, oldest first (as the SQLite log does); the caller
/// holds the log's lock. Returns how many went.
async fn apply_retention(
    tx: &tokio_postgres::Transaction<'_>,
    prune: Prune,
) -> Result<u64, tokio_postgres::Error> {
    let numbers = tx
        .query_one(
            "SELECT head, dropped FROM livechat_mcp_events_meta WHERE id = 1",
            &[],
        )
        .await?;
    let (head, dropped): (i64, i64) = (numbers.try_get(0)?, numbers.try_get(1)?);
    let too_old: Option<i64> = tx
        .query_one(
            "SELECT max(id) FROM livechat_mcp_events WHERE at_ms < $1",
            &[&prune.retention.cutoff_ms(prune.now_ms)],
        )
        .await?
        .try_get(0)?;
    let through = too_old
        .unwrap_or(0)
        .max(prune.retention.count_through(head));
    if through <= dropped {
        return Ok(0);
    }
    let gone = tx
        .execute(
            "DELETE FROM livechat_mcp_events WHERE id <= $1",
            &[&through],
        )
        .await?;
    tx.execute(
        "UPDATE livechat_mcp_events_meta SET dropped = $1 WHERE id = 1",
        &[&through],
    )
    .await?;
    Ok(gone)
}

/// The error and its causes on one line (tokio-postgres keeps the server's message in the
/// cause). tokio-postgres's messages do not repeat the password.
fn error_text(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.replace('\n', "; ")
}

/// Whether `e` means the session is gone (as `audit/postgres.rs` decides).
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.as_db_error().is_some_and(|db| {
            matches!(
                db.parsed_severity(),
                Some(Severity::Fatal | Severity::Panic)
            ) || db.code().code().starts_with("57P")
                || db.code().code().starts_with("08")
        })
}
