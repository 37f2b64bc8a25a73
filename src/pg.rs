//! What every PostgreSQL store of the server (the audit trail, the event log, the approval
//! requests, the shared rate limiter) does alike: reads its URL into a connection config,
//! with a 10 s connect timeout and the application name `livechat-mcp` unless the URL says
//! otherwise, names the database for messages as `postgres://host:port/db` (never with its
//! password), and drives each connection with a task of its own. No TLS: use a database you
//! reach privately.

use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

/// How long connecting may take unless the URL sets `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A database to connect to.
pub struct Target {
    /// Holds the password, if the URL has one: never printed.
    pub config: Config,
    /// The database as `postgres://host:port/db`, for messages.
    pub place: String,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
}

/// The database `url` names, or why the URL cannot be read (naming the database, never the
/// password).
pub fn target(url: &str) -> Result<Target, String> {
    let place = crate::audit::describe_location(url);
    let mut config: Config = url
        .parse()
        .map_err(|e| format!("cannot read the PostgreSQL URL for {place}: {e}"))?;
    let connect_timeout = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("livechat-mcp");
    }
    Ok(Target {
        config,
        place,
        connect_timeout,
    })
}

/// A new connection to `config`, driven by a task of its own until the client is dropped;
/// its end is logged (at debug) as `owner`'s.
pub async fn connect(
    config: &Config,
    place: &str,
    owner: &'static str,
) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    let place = place.to_string();
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("{owner}: the connection to {place} ended: {e}");
        }
    });
    Ok(client)
}

/// Creates `schema` if it is missing, under the transaction-scoped advisory lock `lock_key`,
/// so that servers starting together do not race (and without a notice for each relation
/// that exists already).
pub async fn create_schema(
    client: &mut Client,
    lock_key: i64,
    schema: &str,
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key])
        .await?;
    tx.batch_execute(schema).await?;
    tx.commit().await
}
