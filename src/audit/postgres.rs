//! The trail in PostgreSQL (`--audit postgres://user@host/db`), for several servers that
//! share one trail: the same columns and the same keyed chain as the SQLite file (the row,
//! its canonical JSON and its MAC come from `chain.rs`), in a table `audit` created if
//! missing, with its schema version in `audit_meta`.
//!
//! **Who is still connected.** Each server's append connection holds a shared advisory lock
//! on its instance key (`instance.rs`) for as long as it lives, so a server recovering
//! `pending` rows can tell a crashed writer (the lock is free) from a running one.
//!
//! **One chain across servers.** Every append runs in its own READ COMMITTED transaction that
//! first takes a transaction-scoped advisory lock (`pg_advisory_xact_lock` on one fixed key),
//! then reads the last row, then inserts the next one. The lock is held until commit, so
//! appends from any number of handles, processes and machines run one after another, and
//! each reads (in a snapshot taken after the lock was granted) the row the previous one
//! committed. The primary key on `id` turns any append that somehow raced into an error
//! instead of a fork in the chain. READ COMMITTED is asked for explicitly: under REPEATABLE
//! READ the snapshot would date from before the lock.
//!
//! **No TLS.** Connections are made with `NoTls`, so the password and the rows cross the
//! network in clear: use a server on this machine (loopback or a Unix socket) or on a private
//! network you trust. A URL asking for TLS (`sslmode=require`) is refused at connect time.
//!
//! **Schema versions.** The version is kept in `audit_meta`. Version 3 added the nullable
//! columns `attempts` and `waited_ms`, version 4 the nullable column `identity`; a version-2
//! or version-3 database is migrated in place to version 4 when it is opened to append
//! (`ADD COLUMN IF NOT EXISTS` and the new version number, in the schema transaction, under
//! the append lock: a failure leaves the old version whole), and read as it is otherwise:
//! each read takes a share lock on the table, which no migration can get past until the read
//! ends, checks which of the columns are there, and reads NULL for the others.
//!
//! The URL may carry a password: it is never logged nor put in an error; both name the
//! trail as `postgres://host:port/db` ([`describe`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use tokio::sync::Mutex;
use tokio_postgres::config::Host;
use tokio_postgres::error::Severity;
use tokio_postgres::{Client, Config, IsolationLevel, NoTls, Transaction};

use super::anchor::Anchor;
use super::chain::{COLUMNS, Row, Verifier, columns_for, unknown_outcome_of};
use super::instance;
use super::key::AuditKey;
use super::query::QueryFilter;
use super::store::{Opening, Sealing};
use super::{Decision, Entry, NewEntry, Outcome};

/// The advisory lock every append (and the schema setup) takes: "lcmcpaud" in ASCII, so it
/// is unlikely to meet another application's key in a shared database.
const LOCK_KEY: i64 = 0x6c63_6d63_7061_7564;

/// The schema this code writes, kept in `audit_meta` under `schema_version`. Version 1 had
/// an unkeyed SHA-256 chain and no write-ahead rows; version 2 had no `attempts` and
/// `waited_ms`; version 3 had no `identity`.
const SCHEMA_VERSION: i64 = 4;

/// The versions this code migrates to [`SCHEMA_VERSION`] when it opens a trail to append,
/// each with its migration (one batch, run in the schema transaction) and the columns it
/// adds, for the log. The new columns come last in the table, as in [`SCHEMA`]. (The
/// append-only triggers fire on UPDATE, DELETE and TRUNCATE, not on a change of the table.)
const MIGRATIONS: [(&str, &str, &str); 2] = [
    (
        "2",
        "
ALTER TABLE audit ADD COLUMN IF NOT EXISTS attempts BIGINT,
                  ADD COLUMN IF NOT EXISTS waited_ms BIGINT,
                  ADD COLUMN IF NOT EXISTS identity TEXT;
UPDATE audit_meta SET value = '4' WHERE name = 'schema_version';
",
        "attempts, waited_ms and identity",
    ),
    (
        "3",
        "
ALTER TABLE audit ADD COLUMN IF NOT EXISTS identity TEXT;
UPDATE audit_meta SET value = '4' WHERE name = 'schema_version';
",
        "identity",
    ),
];

/// How long an append waits for the lock (`lock_timeout`). Appends take milliseconds, so this
/// only runs out if a session holds the lock and hangs.
const LOCK_TIMEOUT: &str = "10s";

/// How long an append may take in all, the network included; after that its connection is
/// dropped and the next append opens a new one.
const APPEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How many rows `verify` reads at a time.
const VERIFY_BATCH: i32 = 1000;

const SCHEMA: &str = r#"
CREATE TABLE audit_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE audit (
    id          BIGINT  PRIMARY KEY,
    -- One fixed format (milliseconds, `Z`), compared as bytes so that text order is time
    -- order whatever the database's collation.
    time        TEXT    COLLATE "C" NOT NULL,
    agent       TEXT    NOT NULL,
    tool        TEXT    NOT NULL,
    area        TEXT,
    access      TEXT,
    decision    TEXT    NOT NULL,
    reason      TEXT,
    outcome     TEXT    NOT NULL,
    error_type  TEXT,
    targets     TEXT    NOT NULL,
    duration_ms BIGINT  NOT NULL,
    summary     TEXT    NOT NULL,
    completes   BIGINT,
    instance    TEXT    NOT NULL,
    prev_mac    TEXT    NOT NULL,
    mac         TEXT    NOT NULL,
    attempts    BIGINT,
    waited_ms   BIGINT,
    identity    TEXT
);
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_completes ON audit (completes);
-- Guards against mistakes, not against an attacker (who can drop them): verify() is what
-- detects a change.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
INSERT INTO audit_meta (name, value) VALUES ('schema_version', '4');
"#;

/// Whether `location` names a PostgreSQL database rather than a file.
pub(super) fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The database `url` names, as `postgres://host:port/db`: no user, no password, no options.
pub(super) fn describe(url: &str) -> String {
    match url.parse::<Config>() {
        Ok(config) => describe_config(&config),
        Err(_) => "postgres://(a URL that does not parse)".to_string(),
    }
}

fn describe_config(config: &Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string(),
            };
            // One port for all hosts, or one per host.
            match ports.get(i).or(if ports.len() == 1 {
                ports.first()
            } else {
                None
            }) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "(default host)".to_string()
    } else {
        hosts.join(",")
    };
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("(default database)");
    format!("postgres://{hosts}/{db}")
}

/// A handle on one PostgreSQL trail. Clones share one connection for appends (opened again
/// if it drops); `verify` and `query` each use a connection of their own.
#[derive(Clone)]
pub(super) struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Holds the password, if the URL has one: never printed.
    config: Config,
    /// The redacted name of the database, for messages.
    place: String,
    writer: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("place", &self.inner.place)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database `url` names and creates the schema if it is missing; opened
    /// to [`Opening::Append`], migrates a version-2 or version-3 schema to version 4.
    pub(super) async fn open(url: &str, opening: Opening) -> Result<PgStore, String> {
        let crate::pg::Target { config, place, .. } =
            crate::pg::target(url).map_err(|e| format!("audit: {e}"))?;
        let store = PgStore {
            inner: Arc::new(Inner {
                config,
                place,
                writer: Mutex::new(None),
            }),
        };
        let mut client = store.connect_writer().await?;
        store.create_schema(&mut client, opening).await?;
        *store.inner.writer.lock().await = Some(client);
        Ok(store)
    }

    /// The database, as `postgres://host:port/db`.
    pub(super) fn place(&self) -> &str {
        &self.inner.place
    }

    /// Records a call (see `AuditStore::append`), serialised with every other append to this
    /// database by the advisory lock.
    /// `None` for an `unknown` outcome whose pending row has one already.
    pub(super) async fn append(
        &self,
        entry: NewEntry,
        sealing: &Sealing,
    ) -> Result<Option<Entry>, String> {
        let mut writer = self.inner.writer.lock().await;
        // A connection the server dropped (a restart, an idle timeout, a terminated backend)
        // shows up as closed, here or at the first statement. A row not yet sent for commit
        // was not written, so it is sent once more on a new connection.
        let mut retried = false;
        loop {
            if writer.as_ref().is_none_or(Client::is_closed) {
                *writer = Some(self.connect_writer().await?);
            }
            let Some(client) = writer.as_mut() else {
                return Err(format!("audit: no connection to {}", self.place()));
            };
            let result = tokio::time::timeout(
                APPEND_TIMEOUT,
                append_on(client, entry.clone(), &sealing.key),
            )
            .await;
            let closed = client.is_closed();
            match result {
                Ok(Ok(Some(entry))) => {
                    sealing.committed(&entry);
                    return Ok(Some(entry));
                }
                Ok(Ok(None)) => return Ok(None),
                Ok(Err(Failure::Chain(e))) => return Err(e),
                Ok(Err(Failure::Db(what, e))) => {
                    if closed || connection_lost(&e) {
                        *writer = None;
                        if !retried && what != COMMITTING {
                            retried = true;
                            tracing::warn!(
                                "audit: the connection to {} was lost ({}); appending again on a new one",
                                self.place(),
                                error_text(&e)
                            );
                            continue;
                        }
                    }
                    return Err(self.error(what, e));
                }
                Err(_) => {
                    // Whether the row was written is unknown; a new connection for the next.
                    *writer = None;
                    return Err(format!(
                        "audit: {} did not take the row within {} s",
                        self.place(),
                        APPEND_TIMEOUT.as_secs()
                    ));
                }
            }
        }
    }

    /// The id and MAC of the last row, if any.
    pub(super) async fn last(&self) -> Result<Option<(i64, String)>, String> {
        let client = self.connect().await?;
        client
            .query_opt("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1", &[])
            .await
            .and_then(|row| {
                row.map(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, String>(1)?)))
                    .transpose()
            })
            .map_err(|e| self.error("read the last row of", e))
    }

    /// The MAC of row `id`, if there is one.
    pub(super) async fn mac_at(&self, id: u64) -> Result<Option<String>, String> {
        let client = self.connect().await?;
        let id = i64::try_from(id).unwrap_or(i64::MAX);
        client
            .query_opt("SELECT mac FROM audit WHERE id = $1", &[&id])
            .await
            .and_then(|row| row.map(|row| row.try_get::<_, String>(0)).transpose())
            .map_err(|e| self.error("read a row of", e))
    }

    /// Every `pending` row no outcome row completes, oldest first.
    pub(super) async fn unresolved(&self) -> Result<Vec<Entry>, String> {
        let mut client = self.connect().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.error("start a read of", e))?;
        let columns = read_columns(&tx)
            .await
            .map_err(|e| self.error("read the columns of", e))?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {columns} FROM audit AS p WHERE p.outcome = 'pending' \
                     AND NOT EXISTS (SELECT 1 FROM audit AS c WHERE c.completes = p.id) ORDER BY id"
                ),
                &[],
            )
            .await
            .map_err(|e| self.error("read pending rows of", e))?;
        let mut entries = Vec::with_capacity(rows.len());
        for raw in &rows {
            let row = read_row(raw).map_err(|e| self.error("read a row of", e))?;
            entries.push(row.into_entry()?);
        }
        Ok(entries)
    }

    /// Whether a server with instance `key` is connected: it holds its shared lock.
    pub(super) async fn instance_connected(&self, key: i64) -> Result<bool, String> {
        let client = self.connect().await?;
        let free: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| self.error("ask about a server of", e))?;
        // The lock taken to ask ends with this connection.
        Ok(!free)
    }

    /// Walks the chain from row 1 under `key` (see [`Verifier`]) in one snapshot, a batch at
    /// a time, and checks it against `anchors`.
    pub(super) async fn verify(
        &self,
        key: &AuditKey,
        anchors: Vec<(Anchor, String)>,
    ) -> Result<u64, String> {
        let mut client = self.connect().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| self.error("start a read", e))?;
        // Before the first SELECT, which takes the snapshot: see `read_columns`.
        let columns = read_columns(&tx)
            .await
            .map_err(|e| self.error("read the columns of", e))?;
        let statement = tx
            .prepare(&format!("SELECT {columns} FROM audit ORDER BY id"))
            .await
            .map_err(|e| self.error("read", e))?;
        let portal = tx
            .bind(&statement, &[])
            .await
            .map_err(|e| self.error("read", e))?;
        let mut verifier = Verifier::new(key, anchors);
        loop {
            let rows = tx
                .query_portal(&portal, VERIFY_BATCH)
                .await
                .map_err(|e| self.error("read", e))?;
            let done = rows.len() < usize::try_from(VERIFY_BATCH).unwrap_or(usize::MAX);
            for raw in &rows {
                let row = read_row(raw).map_err(|e| verifier.unreadable(e))?;
                verifier.check(row)?;
            }
            if done {
                break;
            }
        }
        verifier.finish()
    }

    /// The newest entries matching `filter`, newest first.
    pub(super) async fn query(&self, filter: &QueryFilter) -> Result<Vec<Entry>, String> {
        let mut client = self.connect().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.error("start a read of", e))?;
        let columns = read_columns(&tx)
            .await
            .map_err(|e| self.error("read the columns of", e))?;
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        };
        let id = |id: Option<u64>| id.map(|id| i64::try_from(id).unwrap_or(i64::MAX));
        let (since, until) = (time(filter.since), time(filter.until));
        let (before, after) = (id(filter.before), id(filter.after));
        let outcome = filter.outcome.map(Outcome::as_str);
        // NULL: no limit.
        let limit = match filter.limit {
            0 => None,
            n => Some(i64::try_from(n).unwrap_or(i64::MAX)),
        };
        let rows = tx
            .query(
                &format!(
                    "SELECT {columns} FROM audit \
                     WHERE ($1::text IS NULL OR agent = $1) AND ($2::text IS NULL OR tool = $2) \
                       AND ($3::text IS NULL OR decision = $3) \
                       AND ($4::text IS NULL OR time >= $4) \
                       AND ($6::text IS NULL OR outcome = $6) \
                       AND ($7::text IS NULL OR time <= $7) \
                       AND ($8::bigint IS NULL OR id < $8) \
                       AND ($9::bigint IS NULL OR id > $9) \
                       AND NOT (outcome = 'pending' \
                         AND EXISTS (SELECT 1 FROM audit AS c WHERE c.completes = audit.id)) \
                     ORDER BY id DESC LIMIT $5::bigint"
                ),
                &[
                    &filter.agent,
                    &filter.tool,
                    &filter.decision.map(Decision::as_str),
                    &since,
                    &limit,
                    &outcome,
                    &until,
                    &before,
                    &after,
                ],
            )
            .await
            .map_err(|e| self.error("query", e))?;
        let mut entries = Vec::with_capacity(rows.len());
        for raw in &rows {
            let row = read_row(raw).map_err(|e| self.error("read a row", e))?;
            entries.push(row.into_entry()?);
        }
        Ok(entries)
    }

    /// A connection for appends: it holds this process's shared instance lock while it lives.
    async fn connect_writer(&self) -> Result<Client, String> {
        let client = self.connect().await?;
        client
            .execute(
                "SELECT pg_advisory_lock_shared($1)",
                &[&instance::this_process().key],
            )
            .await
            .map_err(|e| self.error("take the instance lock on", e))?;
        Ok(client)
    }

    /// A new connection, driven by a task of its own until the client is dropped.
    async fn connect(&self) -> Result<Client, String> {
        let (client, connection) = self
            .inner
            .config
            .connect(NoTls)
            .await
            .map_err(|e| self.error("connect to", e))?;
        let place = self.inner.place.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("audit: the connection to {place} ended: {e}");
            }
        });
        Ok(client)
    }

    /// Creates the schema if it is missing, under the append lock so that servers starting
    /// together do not race; opened to append, migrates a version-2 or version-3 schema (under
    /// the same lock, in the same transaction); refuses a database whose text cannot round-trip UTF-8, one whose `audit` table
    /// is someone else's, version 1 and a newer schema.
    async fn create_schema(&self, client: &mut Client, opening: Opening) -> Result<(), String> {
        let setup = |e: tokio_postgres::Error| self.error("set up the schema in", e);
        let encoding: String = client
            .query_one("SELECT current_setting('server_encoding')", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(setup)?;
        if encoding != "UTF8" && encoding != "SQL_ASCII" {
            return Err(format!(
                "audit: {} uses the encoding {encoding}, which cannot hold every summary; use a UTF8 database",
                self.place()
            ));
        }
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(setup)?;
        tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({LOCK_KEY})"))
            .await
            .map_err(setup)?;
        if table_exists(&tx, "audit_meta").await.map_err(setup)? {
            let version: Option<String> = tx
                .query_opt(
                    "SELECT value FROM audit_meta WHERE name = 'schema_version'",
                    &[],
                )
                .await
                .and_then(|row| row.map(|row| row.try_get(0)).transpose())
                .map_err(setup)?;
            if version.as_deref() == Some("1") {
                return Err(format!(
                    "audit: {} holds a trail from an earlier livechat-mcp (schema version 1: an unkeyed hash chain, no write-ahead rows), which this one does not extend; keep it and use another database for the new trail",
                    self.place()
                ));
            }
            let migration = MIGRATIONS
                .iter()
                .find(|(from, _, _)| version.as_deref() == Some(*from));
            if let Some((from, migration, columns)) = migration {
                // Opened to read, it is read as it is (`read_columns`).
                if opening == Opening::Append {
                    tx.batch_execute(migration).await.map_err(setup)?;
                    tracing::info!(
                        "audit: {} moved from schema version {from} to {SCHEMA_VERSION} (columns {columns} added; its rows are unchanged)",
                        self.place()
                    );
                }
            } else if version.as_deref() != Some(&SCHEMA_VERSION.to_string()) {
                return Err(format!(
                    "audit: {} has schema version {}, not the one this livechat-mcp reads ({SCHEMA_VERSION}); upgrade livechat-mcp or use another database",
                    self.place(),
                    version.as_deref().unwrap_or("(none)")
                ));
            }
        } else if table_exists(&tx, "audit").await.map_err(setup)? {
            return Err(format!(
                "audit: {} already has an `audit` table that livechat-mcp did not create (there is no `audit_meta`); use another database",
                self.place()
            ));
        } else {
            tx.batch_execute(SCHEMA).await.map_err(setup)?;
        }
        tx.commit().await.map_err(setup)
    }

    fn error(&self, what: &str, e: tokio_postgres::Error) -> String {
        format!("audit: cannot {what} {}: {}", self.place(), error_text(&e))
    }
}

/// The error and its causes on one line (tokio-postgres keeps the server's message in the
/// cause: `db error: ERROR: …`).
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

/// Whether `e` means the session is gone: the connection closed, or the server ended the
/// session (a FATAL error, an administrator's or a shutdown's termination, a connection
/// failure).
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

/// The select list for the trail as `tx` sees it: [`COLUMNS`], or the columns of version 2
/// or 3 while the table is at that version (opened to read, not migrated; see
/// [`columns_for`]). Takes a share lock on the table
/// first, so that no migration (which needs an exclusive one) changes it before `tx` ends;
/// and, in a REPEATABLE READ transaction, before its snapshot, which the first SELECT takes.
async fn read_columns(tx: &Transaction<'_>) -> Result<&'static str, tokio_postgres::Error> {
    tx.batch_execute("LOCK TABLE audit IN ACCESS SHARE MODE")
        .await?;
    let row = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'audit'::regclass \
             AND attname = 'attempts' AND NOT attisdropped), \
             EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'audit'::regclass \
             AND attname = 'identity' AND NOT attisdropped)",
            &[],
        )
        .await?;
    Ok(columns_for(row.try_get(0)?, row.try_get(1)?))
}

/// Whether `table` is on the search path.
async fn table_exists(tx: &Transaction<'_>, table: &str) -> Result<bool, tokio_postgres::Error> {
    tx.query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&table])
        .await
        .and_then(|row| row.try_get(0))
}

/// The step of an append after which the row may be written even if an error came back.
const COMMITTING: &str = "commit to";

/// Why an append failed: the database (doing what), or the row itself.
enum Failure {
    Db(&'static str, tokio_postgres::Error),
    Chain(String),
}

/// One append, in its own transaction on `client` (see the module's doc).
async fn append_on(
    client: &mut Client,
    entry: NewEntry,
    key: &AuditKey,
) -> Result<Option<Entry>, Failure> {
    let db = |what: &'static str| move |e| Failure::Db(what, e);
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(db("start an append on"))?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'; SELECT pg_advisory_xact_lock({LOCK_KEY})"
    ))
    .await
    .map_err(db("lock for append"))?;
    if let Some(pending) = unknown_outcome_of(&entry) {
        let done: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM audit WHERE completes = $1)",
                &[&pending],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db("read an outcome in"))?;
        if done {
            return Ok(None);
        }
    }
    let last = tx
        .query_opt("SELECT id, mac FROM audit ORDER BY id DESC LIMIT 1", &[])
        .await
        .and_then(|row| {
            row.map(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, String>(1)?)))
                .transpose()
        })
        .map_err(db("read the last row of"))?;
    let row = Row::next(last, entry, &instance::this_process().text)
        .and_then(|row| row.without_nul().seal(key))
        .map_err(Failure::Chain)?;
    tx.execute(
        &format!(
            "INSERT INTO audit ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                     $18, $19, $20)"
        ),
        &[
            &row.id,
            &row.time,
            &row.agent,
            &row.tool,
            &row.area,
            &row.access,
            &row.decision,
            &row.reason,
            &row.outcome,
            &row.error_type,
            &row.targets,
            &row.duration_ms,
            &row.summary,
            &row.completes,
            &row.instance,
            &row.prev_mac,
            &row.mac,
            &row.attempts,
            &row.waited_ms,
            &row.identity,
        ],
    )
    .await
    .map_err(db("append to"))?;
    tx.commit().await.map_err(db(COMMITTING))?;
    row.into_entry().map(Some).map_err(Failure::Chain)
}

/// One row as stored, read in [`COLUMNS`] order.
fn read_row(row: &tokio_postgres::Row) -> Result<Row, tokio_postgres::Error> {
    Ok(Row {
        id: row.try_get(0)?,
        time: row.try_get(1)?,
        agent: row.try_get(2)?,
        tool: row.try_get(3)?,
        area: row.try_get(4)?,
        access: row.try_get(5)?,
        decision: row.try_get(6)?,
        reason: row.try_get(7)?,
        outcome: row.try_get(8)?,
        error_type: row.try_get(9)?,
        targets: row.try_get(10)?,
        duration_ms: row.try_get(11)?,
        summary: row.try_get(12)?,
        completes: row.try_get(13)?,
        instance: row.try_get(14)?,
        prev_mac: row.try_get(15)?,
        mac: row.try_get(16)?,
        attempts: row.try_get(17)?,
        waited_ms: row.try_get(18)?,
        identity: row.try_get(19)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("postgres://u@h/db"));
        assert!(is_url("postgresql://h/db"));
        assert!(!is_url("audit.db"));
        assert!(!is_url("/var/lib/postgres://x"));
    }

    #[test]
    fn descriptions_carry_no_user_password_or_options() {
        assert_eq!(
            describe(
                "postgres://ops:s3cret-pw@db.internal:6543/trail?sslmode=disable&password=other-pw"
            ),
            "postgres://db.internal:6543/trail"
        );
        assert_eq!(
            describe("postgresql://ops:pw@a:5432,b:5433/trail"),
            "postgres://a:5432,b:5433/trail"
        );
        assert_eq!(describe("postgres://ops@h"), "postgres://h:5432/ops");
        let bad = describe("postgres://ops:s3cret-pw@h:notaport/db");
        assert!(!bad.contains("s3cret"), "{bad}");
        let unix = describe("postgres://ops:pw@%2Frun%2Fpostgresql/trail");
        assert_eq!(unix, "postgres:///run/postgresql:5432/trail");
    }
}
