//! Where the trail is kept: a SQLite file (the default) or a PostgreSQL database that several
//! servers share. [`AuditStore`] is the one handle the rest of the program sees; both
//! backends write the same rows and the same keyed chain (`chain.rs`), and this module owns
//! what is around them: the key (`key.rs`), the anchor (`anchor.rs`), the checks made before
//! a trail is appended to, and the recovery of calls a crash left pending.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::anchor::Anchor;
use super::chain::GENESIS;
use super::instance;
use super::key::AuditKey;
use super::postgres::{self, PgStore};
use super::query::QueryFilter;
use super::sqlite::{SqliteStore, UnresolvedScan};
use super::{Entry, NewEntry};

/// A `pending` row older than this is taken as abandoned at start-up even when its writer
/// cannot be proven gone: no call stays in flight this long.
const ABANDONED_AFTER: Duration = Duration::from_secs(10 * 60);

/// Where the key and the anchor are, when not beside the trail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFiles {
    /// `--audit-key FILE` (`LIVECHAT_MCP_AUDIT_KEY_FILE`).
    pub key: Option<PathBuf>,
    /// `--audit-anchor FILE` (`LIVECHAT_MCP_AUDIT_ANCHOR_FILE`).
    pub anchor: Option<PathBuf>,
}

/// What a trail is opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// To record calls: the key is created if the trail is new, and the trail must match its
    /// anchor, or nothing is recorded on top of rows that were removed. A trail of an older
    /// schema this code can extend (version 2 or 3) is migrated first.
    Append,
    /// To list or verify it: nothing is created (but the schema, in a new trail) and an older
    /// schema is read as it is, not migrated.
    Read,
}

/// The key and anchor an append seals rows with.
#[derive(Debug)]
pub(super) struct Sealing {
    pub(super) key: AuditKey,
    pub(super) anchor: PathBuf,
    /// The anchor file, opened at the first append and kept open.
    anchor_file: std::sync::Mutex<Option<std::fs::File>>,
}

impl Sealing {
    /// Called after `entry` is committed, under the writer's lock: moves the anchor to it. A
    /// failure is logged, not returned: the row is recorded, and an older anchor is still
    /// true (an anchor is a lower bound).
    pub(super) fn committed(&self, entry: &Entry) {
        let anchor = Anchor {
            rows: entry.id,
            mac: entry.mac.clone(),
        };
        let mut file = self
            .anchor_file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = match &*file {
            Some(open) => anchor.write_to(open),
            None => super::anchor::open(&self.anchor).and_then(|open| {
                let written = anchor.write_to(&open);
                *file = Some(open);
                written
            }),
        };
        if let Err(e) = written {
            tracing::error!("{}", super::anchor::cannot_write(&self.anchor, &e));
            // Opened again at the next append: the file may have been replaced.
            *file = None;
        }
    }

    pub(super) fn new(key: AuditKey, anchor: PathBuf) -> Sealing {
        Sealing {
            key,
            anchor,
            anchor_file: std::sync::Mutex::new(None),
        }
    }
}

/// A handle on one audit trail. Clones share one connection; handles opened separately (in
/// this process or others) on the same trail each have their own, and still append to one
/// unbroken chain.
#[derive(Clone, Debug)]
pub struct AuditStore {
    backend: Backend,
    key_path: PathBuf,
    anchor_path: PathBuf,
    /// The key and anchor, when opened to append.
    sealing: Option<Arc<Sealing>>,
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AuditStore {
    /// Opens the SQLite trail at `path` to append, creating its directory, schema and key if
    /// needed, in WAL mode with `synchronous = FULL` (a recorded call survives a power cut).
    pub fn open(path: &Path) -> Result<AuditStore, String> {
        let sqlite = SqliteStore::open(path, Opening::Append)?;
        AuditStore::around(Backend::Sqlite(sqlite.clone()), &AuditFiles::default())?
            .sealed_sqlite(&sqlite)
    }

    /// Opens the trail `location` names to append, with the key and anchor beside it (see
    /// [`AuditStore::open_with`]).
    pub async fn open_location(location: &str) -> Result<AuditStore, String> {
        AuditStore::open_with(location, &AuditFiles::default(), Opening::Append).await
    }

    /// Opens the trail `location` names: a `postgres://` or `postgresql://` URL (see
    /// [`is_postgres_url`]), else the path of a SQLite file. The schema is created if
    /// missing. Errors name a database as `postgres://host:port/db`, never with its password.
    ///
    /// The key and anchor are `files`', or beside the trail: `audit.db.key` and
    /// `audit.db.anchor` for `audit.db`; for PostgreSQL, files named after the database in
    /// the default data directory. Opened to [`Opening::Append`], a trail that has rows but
    /// no key, no anchor, or rows that do not match its anchor is refused.
    pub async fn open_with(
        location: &str,
        files: &AuditFiles,
        opening: Opening,
    ) -> Result<AuditStore, String> {
        let backend = if postgres::is_url(location) {
            Backend::Postgres(PgStore::open(location, opening).await?)
        } else {
            Backend::Sqlite(SqliteStore::open(Path::new(location), opening)?)
        };
        let store = AuditStore::around(backend, files)?;
        match opening {
            Opening::Read => Ok(store),
            Opening::Append => store.ready_to_append().await,
        }
    }

    /// The store over `backend` with its key and anchor paths, not yet able to append.
    fn around(backend: Backend, files: &AuditFiles) -> Result<AuditStore, String> {
        let beside = |suffix: &str| -> Result<PathBuf, String> {
            Ok(match &backend {
                Backend::Sqlite(store) => {
                    let mut name = store.path().as_os_str().to_owned();
                    name.push(suffix);
                    PathBuf::from(name)
                }
                Backend::Postgres(store) => {
                    let dir = super::default_path()?
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_default();
                    let tag = &crate::digest::sha256_hex(store.place())[..12];
                    dir.join(format!("postgres-{tag}{suffix}"))
                }
            })
        };
        let key_path = match &files.key {
            Some(path) => path.clone(),
            None => beside(".key")?,
        };
        let anchor_path = match &files.anchor {
            Some(path) => path.clone(),
            None => beside(".anchor")?,
        };
        Ok(AuditStore {
            backend,
            key_path,
            anchor_path,
            sealing: None,
        })
    }

    /// [`AuditStore::sealed`] for a SQLite trail, which needs no awaiting.
    fn sealed_sqlite(self, sqlite: &SqliteStore) -> Result<AuditStore, String> {
        // The anchor before the last row: read the other way round, another process's append
        // in between would look like rows removed.
        let mut anchor = Anchor::read(&self.anchor_path)?;
        let mut last = sqlite.last()?;
        if anchor.is_none() && last.is_some() {
            // A trail another process began between the two reads: it writes the anchor
            // before its first row, so both are read again, in the same order. A missing
            // anchor is missing still.
            anchor = Anchor::read(&self.anchor_path)?;
            last = sqlite.last()?;
        }
        self.sealed(anchor, last, |id| sqlite.mac_at(id))
    }

    /// Checks the trail can be appended to and gives it its key and anchor.
    async fn ready_to_append(self) -> Result<AuditStore, String> {
        match &self.backend {
            Backend::Sqlite(sqlite) => {
                let sqlite = sqlite.clone();
                self.sealed_sqlite(&sqlite)
            }
            Backend::Postgres(pg) => {
                let pg = pg.clone();
                let mut anchor = Anchor::read(&self.anchor_path)?;
                let mut last = pg.last().await?;
                if anchor.is_none() && last.is_some() {
                    // See `sealed_sqlite`: a trail another process has just begun.
                    anchor = Anchor::read(&self.anchor_path)?;
                    last = pg.last().await?;
                }
                let mac = match &anchor {
                    Some(anchor) if anchor.rows > 0 => {
                        Some((anchor.rows, pg.mac_at(anchor.rows).await?))
                    }
                    _ => None,
                };
                self.sealed(anchor, last, |id| match &mac {
                    Some((rows, mac)) if *rows == id => Ok(mac.clone()),
                    _ => Ok(None),
                })
            }
        }
    }

    /// The key (made now if the trail is new) and the anchor check, given the anchor as read
    /// before the trail's last row, and a way to read a row's MAC.
    fn sealed(
        mut self,
        anchor: Option<Anchor>,
        last: Option<(i64, String)>,
        mac_at: impl Fn(u64) -> Result<Option<String>, String>,
    ) -> Result<AuditStore, String> {
        let rows = last
            .as_ref()
            .map_or(0, |(id, _)| u64::try_from(*id).unwrap_or(0));
        let move_aside = "to start afresh, move the trail, its key and its anchor aside (keep them: they are the evidence)";
        let key = if rows == 0 {
            let (key, _) = AuditKey::load_or_create(&self.key_path)?;
            if anchor.is_none() {
                Anchor {
                    rows: 0,
                    mac: GENESIS.to_string(),
                }
                .write(&self.anchor_path)?;
            }
            key
        } else {
            AuditKey::load(&self.key_path)?.ok_or_else(|| {
                format!(
                    "audit: the trail has {rows} rows but its key `{}` is missing, so no row could be checked or added: restore the key file or name it with --audit-key; {move_aside}",
                    self.key_path.display()
                )
            })?
        };
        match anchor {
            None if rows > 0 => {
                return Err(format!(
                    "audit: the trail has {rows} rows but its anchor `{}` is missing, so rows removed from its end would go unseen: restore the anchor file or name it with --audit-anchor; {move_aside}",
                    self.anchor_path.display()
                ));
            }
            Some(anchor) if anchor.rows > rows => {
                return Err(format!(
                    "audit: the trail has {rows} rows but its anchor `{}` records {}: rows were removed; see `livechat-mcp audit verify`; {move_aside}",
                    self.anchor_path.display(),
                    anchor.rows
                ));
            }
            Some(anchor)
                if anchor.rows > 0 && mac_at(anchor.rows)?.as_deref() != Some(&anchor.mac) =>
            {
                return Err(format!(
                    "audit: row {} of the trail is not the one its anchor `{}` records: the trail was replaced; see `livechat-mcp audit verify`; {move_aside}",
                    anchor.rows,
                    self.anchor_path.display()
                ));
            }
            _ => {}
        }
        self.sealing = Some(Arc::new(Sealing::new(key, self.anchor_path.clone())));
        Ok(self)
    }

    /// Where the trail is, for people: the file's path, or `postgres://host:port/db`.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sqlite(store) => store.path().display().to_string(),
            Backend::Postgres(store) => store.place().to_string(),
        }
    }

    /// The key file.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The anchor file.
    pub fn anchor_path(&self) -> &Path {
        &self.anchor_path
    }

    /// Records a call: gives it the next id, the current time, its summary sentence and its
    /// MAC, moves the anchor, and returns the row as stored. Only a store opened to append
    /// can.
    pub async fn append(&self, entry: NewEntry) -> Result<Entry, String> {
        self.append_unless_resolved(entry)
            .await?
            .ok_or_else(|| "audit: the call this outcome is for has one already".to_string())
    }

    /// [`AuditStore::append`], except that an `unknown` outcome whose pending row has an
    /// outcome by now (checked under the append lock) is not written: `None`.
    async fn append_unless_resolved(&self, entry: NewEntry) -> Result<Option<Entry>, String> {
        let Some(sealing) = &self.sealing else {
            return Err("audit: this trail was opened to read, not to record calls".to_string());
        };
        match &self.backend {
            Backend::Sqlite(store) => store.append(entry, sealing.clone()).await,
            Backend::Postgres(store) => store.append(entry, sealing).await,
        }
    }

    /// Gives every call a stopped server left `pending` its outcome, `unknown`: the request
    /// may or may not have reached LiveChat. A pending row is left alone while its writer may
    /// still be running (this process, a live process on this machine for SQLite, a
    /// connected server for PostgreSQL), unless it is older than any call can be. Returns the
    /// rows appended.
    pub async fn recover(&self) -> Result<Vec<Entry>, String> {
        let this = instance::this_process();
        let now = chrono::Utc::now();
        let mut abandoned = Vec::new();
        for row in self.unresolved().await? {
            if row.instance == this.text {
                continue;
            }
            let old = chrono::DateTime::parse_from_rfc3339(&row.time)
                .map(|t| {
                    now.signed_duration_since(t).to_std().unwrap_or_default() > ABANDONED_AFTER
                })
                .unwrap_or(true);
            let gone = match (instance::parse(&row.instance), &self.backend) {
                (None, _) => true,
                (Some((pid, _)), Backend::Sqlite(_)) => instance::process_gone(pid),
                (Some((_, key)), Backend::Postgres(store)) => {
                    !store.instance_connected(key).await?
                }
            };
            if old || gone {
                abandoned.push(row.id);
            }
        }
        // Asked again now that their writers are known to be gone: a writer that finished
        // its call (and exited) between the first look and the check has completed it.
        let scan = self.unresolved_scan().await?;
        let mut recorded = Vec::new();
        // Every row up to the first one left pending (a live writer's) is resolved now.
        let mut through = scan.newest;
        for row in scan.rows {
            if abandoned.contains(&row.id) {
                if let Some(entry) = self.append_unless_resolved(NewEntry::unknown(&row)).await? {
                    recorded.push(entry);
                }
            } else {
                through = through.min(row.id as i64 - 1);
            }
        }
        // Written only when it moves: a start with nothing new to read writes nothing.
        if let Backend::Sqlite(store) = &self.backend
            && through > scan.mark
        {
            let store = store.clone();
            let marked = tokio::task::spawn_blocking(move || store.mark_checked(through))
                .await
                .map_err(|e| format!("audit: the recovery task did not finish: {e}"))?;
            // Only a shortcut for the next start, which then reads these rows again.
            if let Err(e) = marked {
                tracing::warn!("{e}; the next start reads the trail's pending rows again");
            }
        }
        Ok(recorded)
    }

    /// Every `pending` row no outcome row completes, oldest first.
    async fn unresolved(&self) -> Result<Vec<Entry>, String> {
        self.unresolved_scan().await.map(|scan| scan.rows)
    }

    /// [`AuditStore::unresolved`], the newest id the snapshot it read holds, and the recovery
    /// mark it read from (both 0 for PostgreSQL, which reads the whole trail each time).
    async fn unresolved_scan(&self) -> Result<UnresolvedScan, String> {
        match &self.backend {
            Backend::Sqlite(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.unresolved_scan())
                    .await
                    .map_err(|e| format!("audit: the recovery task did not finish: {e}"))?
            }
            Backend::Postgres(store) => Ok(UnresolvedScan {
                rows: store.unresolved().await?,
                newest: 0,
                mark: 0,
            }),
        }
    }

    /// Walks the chain from row 1 under the key, and checks it against the anchor file and
    /// `copy` (an anchor line kept elsewhere), if given. Returns how many rows are intact, or
    /// names what is wrong: a gap in ids, a broken link, a MAC mismatch, rows cut from the
    /// end, an emptied or replaced trail, a missing key or anchor.
    pub async fn verify(&self, copy: Option<&Anchor>) -> Result<u64, String> {
        let key = match &self.sealing {
            Some(sealing) => sealing.key.clone(),
            None => AuditKey::load(&self.key_path)?.ok_or_else(|| {
                format!(
                    "audit: cannot verify: the audit key `{}` is missing (name it with --audit-key)",
                    self.key_path.display()
                )
            })?,
        };
        let mut anchors = Vec::new();
        let file_anchor = Anchor::read(&self.anchor_path)?;
        if let Some(anchor) = file_anchor.clone() {
            anchors.push((
                anchor,
                format!("the anchor file `{}`", self.anchor_path.display()),
            ));
        }
        if let Some(anchor) = copy {
            anchors.push((anchor.clone(), "the anchor given with --anchor".to_string()));
        }
        let rows = match &self.backend {
            Backend::Sqlite(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.verify(&key, anchors))
                    .await
                    .map_err(|e| format!("audit: the verify task did not finish: {e}"))??
            }
            Backend::Postgres(store) => store.verify(&key, anchors).await?,
        };
        if file_anchor.is_none() && rows > 0 {
            return Err(format!(
                "audit trail unanchored: its {rows} rows verify, but the anchor file `{}` is missing, so rows deleted from the end cannot be ruled out",
                self.anchor_path.display()
            ));
        }
        Ok(rows)
    }

    /// The trail's current anchor, read from the trail itself (its last row), to keep
    /// elsewhere; `None` while it is empty.
    pub async fn anchor(&self) -> Result<Option<Anchor>, String> {
        let last = match &self.backend {
            Backend::Sqlite(store) => store.last()?,
            Backend::Postgres(store) => store.last().await?,
        };
        Ok(last.map(|(id, mac)| Anchor {
            rows: u64::try_from(id).unwrap_or(0),
            mac,
        }))
    }

    /// The newest entries matching `filter`, newest first. A `pending` row whose outcome is
    /// recorded is left out: the outcome row stands for the call.
    pub async fn query(&self, filter: &QueryFilter) -> Result<Vec<Entry>, String> {
        match &self.backend {
            Backend::Sqlite(store) => {
                let (store, filter) = (store.clone(), filter.clone());
                tokio::task::spawn_blocking(move || store.query(&filter))
                    .await
                    .map_err(|e| format!("audit: the query task did not finish: {e}"))?
            }
            Backend::Postgres(store) => store.query(filter).await,
        }
    }
}

/// Whether `location` (an `--audit` value) names a PostgreSQL database rather than a file.
pub fn is_postgres_url(location: &str) -> bool {
    postgres::is_url(location)
}

/// An `--audit` value refused at start-up: taken for a file name it would quietly become a
/// SQLite file named after a password. The text never contains the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocationError {
    /// A libpq `key=value` connection string (`host=db password=…`).
    ConnectionString,
    /// A URL of another kind than `postgres://` (`mysql://…`, `file://…`).
    UnsupportedUrl,
}

impl std::fmt::Display for LocationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            LocationError::ConnectionString => {
                "looks like a PostgreSQL `key=value` connection string"
            }
            LocationError::UnsupportedUrl => "is a URL, but not a `postgres://` one",
        };
        write!(
            f,
            "`--audit` (LIVECHAT_MCP_AUDIT) {what} (not shown here: it may hold a password); \
             use a `postgres://USER:PASSWORD@HOST:PORT/DB` URL for PostgreSQL, a file path for \
             SQLite, or `off`"
        )
    }
}

impl std::error::Error for LocationError {}

/// libpq's connection keywords, the ones a connection string most often starts with.
const LIBPQ_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "service",
    "options",
    "connect_timeout",
    "application_name",
];

/// Whether `location` is something [`AuditStore::open_location`] can take for what it is:
/// `off`, a `postgres://` URL or a file path. A libpq `key=value` string or another URL
/// scheme is refused rather than opened as a file of that name.
pub fn check_location(location: &str) -> Result<(), LocationError> {
    if postgres::is_url(location) {
        return Ok(());
    }
    if location.contains("://") {
        return Err(LocationError::UnsupportedUrl);
    }
    if is_connection_string(location) {
        return Err(LocationError::ConnectionString);
    }
    Ok(())
}

/// `key=value` (or `key = value`) at the start, with a libpq keyword or with more after it:
/// `host=db`, `password=x`, `a=b c=d`. A path like `trail=1.db` or `my trail=1.db` is not.
fn is_connection_string(location: &str) -> bool {
    let text = location.trim_start();
    let key_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let (key, rest) = text.split_at(key_len);
    let Some(value) = rest.trim_start().strip_prefix('=') else {
        return false;
    };
    let starts_well = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    let known = LIBPQ_KEYS.contains(&key.to_ascii_lowercase().as_str());
    starts_well && (known || value.trim().contains(char::is_whitespace))
}

/// `location` as it may be shown: a path as it is, a PostgreSQL URL as
/// `postgres://host:port/db`, without user, password or options.
pub fn describe_location(location: &str) -> String {
    if postgres::is_url(location) {
        postgres::describe(location)
    } else {
        location.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::{Map, Value, json};

    use super::*;

    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn a_path_opens_sqlite_and_every_method_works() {
        let dir = TempDir(std::env::temp_dir().join(format!(
            "livechat-mcp-audit-store-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )));
        let db = dir.0.join("audit.db");
        let location = db.to_str().expect("utf-8 temp path");
        let store = AuditStore::open_location(location).await.expect("open");
        assert!(matches!(store.backend, Backend::Sqlite(_)));
        assert_eq!(store.location(), location);
        let Value::Object(args) = json!({"chat_id": "C1"}) else {
            panic!("object")
        };
        let first = store
            .append(NewEntry::new("ops", "get_chat", &args))
            .await
            .expect("append");
        let second = store
            .append(NewEntry::new("ops", "list_chats", &Map::new()).denied("no"))
            .await
            .expect("append");
        assert_eq!(store.verify(None).await, Ok(2));
        assert_eq!(
            store.query(&QueryFilter::default()).await,
            Ok(vec![second, first])
        );
    }

    /// Two servers starting together may both find the same abandoned call: it gets one
    /// `unknown` outcome (checked under the append lock), while a real outcome is always
    /// written.
    #[tokio::test]
    async fn an_abandoned_call_gets_one_unknown_outcome() {
        let dir = TempDir(std::env::temp_dir().join(format!(
            "livechat-mcp-audit-unknown-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )));
        let store = AuditStore::open(&dir.0.join("audit.db")).expect("open");
        let Value::Object(args) = json!({"chat_id": "C1"}) else {
            panic!("object")
        };
        let call = NewEntry::new("ops", "send_event", &args);
        let pending = store.append(call.pending()).await.expect("pending");
        let unknown = NewEntry::unknown(&pending);
        let first = store.append_unless_resolved(unknown.clone()).await;
        assert!(matches!(first, Ok(Some(_))), "{first:?}");
        assert_eq!(store.append_unless_resolved(unknown).await, Ok(None));
        let real = store.append(call.clone().completing(pending.id)).await;
        assert!(real.is_ok(), "{real:?}");
        // An `unknown` outcome the calling server writes itself (no answer came) is a real
        // outcome: written even when the pending row has one.
        let lost = store
            .append(call.unknown_after("timeout").completing(pending.id))
            .await;
        assert!(lost.is_ok(), "{lost:?}");
        assert_eq!(store.verify(None).await, Ok(4));
    }

    #[test]
    fn connection_strings_and_other_urls_are_refused_unshown() {
        for (location, want) in [
            ("host=db password=s3cret", LocationError::ConnectionString),
            (
                "  dbname = trail password=s3cret",
                LocationError::ConnectionString,
            ),
            ("password=s3cret", LocationError::ConnectionString),
            ("Host=db", LocationError::ConnectionString),
            (
                "sslmode=require user=x password=s3cret",
                LocationError::ConnectionString,
            ),
            ("foo=bar baz=s3cret", LocationError::ConnectionString),
            ("mysql://ops:s3cret@db/trail", LocationError::UnsupportedUrl),
            ("file:///var/lib/audit.db", LocationError::UnsupportedUrl),
        ] {
            assert_eq!(check_location(location), Err(want.clone()), "{location}");
            let text = want.to_string();
            assert!(text.contains("`--audit`") && text.contains("postgres://"));
            assert!(!text.contains("s3cret"));
        }
        for location in [
            "audit.db",
            "/var/lib/livechat-mcp/audit.db",
            "my trail=1.db",
            "trail=1.db",
            "./host=x",
            "postgres://ops:pw@db/trail",
            "postgresql://db/trail",
            "off",
        ] {
            assert_eq!(check_location(location), Ok(()), "{location}");
        }
    }

    #[tokio::test]
    async fn a_bad_postgres_url_never_shows_its_password() {
        for url in [
            "postgres://ops:s3cret-pw@127.0.0.1:9/trail?connect_timeout=2",
            "postgresql://ops:s3cret-pw@127.0.0.1:notaport/trail",
            "postgres://ops:s3cret-pw@127.0.0.1:9/trail?nonsense=1",
        ] {
            let err = AuditStore::open_location(url)
                .await
                .expect_err("nothing listens there");
            assert!(
                !err.contains("s3cret") && !err.contains("ops:"),
                "{url}: {err}"
            );
            assert!(err.contains("postgres://"), "{url}: {err}");
            assert!(!describe_location(url).contains("s3cret"));
        }
        assert_eq!(describe_location("audit.db"), "audit.db");
    }
}
