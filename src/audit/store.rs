//! Where the trail is kept: a SQLite file (the default) or a PostgreSQL database that several
//! servers share. [`AuditStore`] is the one handle the rest of the program sees; both
//! backends write the same rows and the same hash chain (`chain.rs`).

use std::path::Path;

use super::postgres::{self, PgStore};
use super::query::QueryFilter;
use super::sqlite::SqliteStore;
use super::{Entry, NewEntry};

/// A handle on one audit trail. Clones share one connection; handles opened separately (in
/// this process or others) on the same trail each have their own, and still append to one
/// unbroken chain.
#[derive(Clone, Debug)]
pub struct AuditStore {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AuditStore {
    /// Opens the SQLite trail at `path`, creating its directory and schema if needed, in WAL
    /// mode with `synchronous = FULL` (a recorded call survives a power cut).
    pub fn open(path: &Path) -> Result<AuditStore, String> {
        SqliteStore::open(path).map(|store| AuditStore {
            backend: Backend::Sqlite(store),
        })
    }

    /// Opens the trail `location` names: a `postgres://` or `postgresql://` URL (see
    /// [`is_postgres_url`]), else the path of a SQLite file. The schema is created if
    /// missing. Errors name a database as `postgres://host:port/db`, never with its password.
    pub async fn open_location(location: &str) -> Result<AuditStore, String> {
        if postgres::is_url(location) {
            PgStore::open(location).await.map(|store| AuditStore {
                backend: Backend::Postgres(store),
            })
        } else {
            AuditStore::open(Path::new(location))
        }
    }

    /// Where the trail is, for people: the file's path, or `postgres://host:port/db`.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sqlite(store) => store.path().display().to_string(),
            Backend::Postgres(store) => store.place().to_string(),
        }
    }

    /// Records a call: gives it the next id, the current time, its summary sentence and its
    /// hash, and returns the row as stored.
    pub async fn append(&self, entry: NewEntry) -> Result<Entry, String> {
        match &self.backend {
            Backend::Sqlite(store) => store.append(entry).await,
            Backend::Postgres(store) => store.append(entry).await,
        }
    }

    /// Walks the chain from row 1 and returns how many rows are intact, or names the first
    /// row that is not: a gap in ids (a row deleted), a broken link (a row before it replaced)
    /// or a hash mismatch (the row changed). Rows removed from the end cannot be told from
    /// rows never written; compare the count with an earlier one to catch that.
    pub async fn verify(&self) -> Result<u64, String> {
        match &self.backend {
            Backend::Sqlite(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.verify())
                    .await
                    .map_err(|e| format!("audit: the verify task did not finish: {e}"))?
            }
            Backend::Postgres(store) => store.verify().await,
        }
    }

    /// The newest entries matching `filter`, newest first.
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
        assert_eq!(store.verify().await, Ok(2));
        assert_eq!(
            store.query(&QueryFilter::default()).await,
            Ok(vec![second, first])
        );
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
