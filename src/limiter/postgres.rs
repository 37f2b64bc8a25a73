//! The token bucket shared by every server using one PostgreSQL database and key: one row of
//! `livechat_mcp_limiter` per key, reserved by one atomic statement on the database's clock,
//! with the connection's loss, retry and warnings.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_postgres::{Client, Config, NoTls};

/// How long a reservation, or connecting again, may take before the request falls back to
/// the in-memory bucket.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The least time between two attempts to connect again.
const RECONNECT_EVERY: Duration = Duration::from_secs(5);

/// The least time between two warnings that the database is out of reach.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Taken, for the transaction, around the table's creation so that servers starting together
/// do not race in `CREATE TABLE IF NOT EXISTS`: "lcmcplim" in ASCII.
const SETUP_LOCK: i64 = 0x6c63_6d63_706c_696d;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS livechat_mcp_limiter (\
     key TEXT PRIMARY KEY, \
     tat_us BIGINT NOT NULL)";

const INSERT_ROW: &str =
    "INSERT INTO livechat_mcp_limiter (key, tat_us) VALUES ($1, 0) ON CONFLICT DO NOTHING";

/// Reserves a token if the request's turn comes within the caller's deadline: `$1` the key,
/// `$2` T and `$3` τ in µs, `$4` the longest wait allowed in µs. `t` is the database's clock
/// in µs; `tat0 = GREATEST(tat_us, t)`; the request may go at `tat0 − τ`. RETURNING sees the
/// new `tat_us` (`tat0 + T`), so it returns `max(0, tat0 − τ − t)`: the wait. No row: the
/// turn comes too late (or the row is gone) and nothing was changed. The UPDATE's row lock
/// makes reservations from every server take turns.
pub(super) const RESERVE: &str = "\
WITH c AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS t) \
UPDATE livechat_mcp_limiter l SET tat_us = GREATEST(l.tat_us, c.t) + $2 FROM c \
WHERE l.key = $1 AND GREATEST(l.tat_us, c.t) - $3 - c.t <= $4 \
RETURNING GREATEST(l.tat_us - $2 - $3 - c.t, 0)";

/// The wait a request would have now, reserving nothing: `$1` the key, `$2` τ in µs.
pub(super) const NEEDED: &str = "\
SELECT GREATEST(tat_us - $2 - (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, 0) \
FROM livechat_mcp_limiter WHERE key = $1";

/// Holds every server's next request back until `$2` µs from the database's clock, plus τ
/// so that the first request after the pause goes then and the rest follow at the steady
/// rate, not in a burst: `$1` the key, `$2` the pause in µs plus τ.
pub(super) const PAUSE: &str = "\
UPDATE livechat_mcp_limiter SET tat_us = GREATEST(tat_us, \
(extract(epoch FROM clock_timestamp()) * 1000000)::bigint + $2) WHERE key = $1";

/// What the database answered.
#[derive(Debug, PartialEq)]
pub(super) enum Answer {
    /// A token is reserved; go after this wait.
    Go(Duration),
    /// The turn comes after the deadline, in this long; nothing is reserved.
    TooLate(Duration),
}

/// The connection to the shared bucket and what is known of its health. Used by one
/// reservation at a time (the limiter's turnstile).
pub(super) struct SharedBucket {
    /// Holds the password, if the URL has one: never printed.
    config: Config,
    /// The database as `postgres://host:port/db`, for messages.
    place: String,
    key: String,
    interval_us: i64,
    tolerance_us: i64,
    client: Option<Client>,
    /// A connection being opened in the background.
    reconnecting: Option<oneshot::Receiver<Result<Client, String>>>,
    last_reconnect: Option<Instant>,
    last_warning: Option<Instant>,
    /// Failures since the last warning, told in the next one.
    unwarned: u64,
    /// Whether requests are using the in-memory bucket now.
    fallen_back: bool,
}

impl SharedBucket {
    /// Connects to the database `url` names and creates the table and the key's row if they
    /// are missing. The error names the database without user or password.
    pub(super) async fn open(
        url: &str,
        key: &str,
        interval: Duration,
        tolerance: Duration,
    ) -> Result<SharedBucket, String> {
        let crate::pg::Target {
            config,
            place,
            connect_timeout: wait,
        } = crate::pg::target(url).map_err(|e| format!("limiter: {e}"))?;
        // The setup is one more round trip or three: give it the same time again.
        let client = connect(config.clone(), place.clone(), key.to_string(), wait * 2).await?;
        Ok(SharedBucket {
            config,
            place,
            key: key.to_string(),
            interval_us: micros(interval),
            tolerance_us: micros(tolerance),
            client: Some(client),
            reconnecting: None,
            last_reconnect: None,
            last_warning: None,
            unwarned: 0,
            fallen_back: false,
        })
    }

    /// Reserves a token in the shared bucket if the turn comes within `max_wait`. `None`
    /// when the database cannot answer now (within 2 s): the caller uses its in-memory bucket.
    /// A lost connection is opened again in the background, on a later request and at most
    /// once every 5 s.
    pub(super) async fn reserve(&mut self, max_wait: Duration) -> Option<Answer> {
        self.take_reconnected();
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.failed("the connection closed");
        }
        let Some(client) = self.client.as_ref() else {
            self.start_reconnect();
            return None;
        };
        let max_wait_us = micros(max_wait);
        let answer = tokio::time::timeout(
            STATEMENT_TIMEOUT,
            ask(
                client,
                &self.key,
                self.interval_us,
                self.tolerance_us,
                max_wait_us,
            ),
        )
        .await;
        match answer {
            Ok(Ok(answer)) => {
                if self.fallen_back {
                    self.fallen_back = false;
                    tracing::info!(
                        "limiter: {} answers again; the rate limit is shared again",
                        self.place
                    );
                }
                Some(answer)
            }
            Ok(Err(e)) => {
                self.failed(&e);
                None
            }
            Err(_) => {
                self.failed(&format!(
                    "no answer within {} s",
                    STATEMENT_TIMEOUT.as_secs()
                ));
                None
            }
        }
    }

    /// Holds every server's requests back for `wait` (LiveChat refused one for the quota).
    /// False when the database could not be told (the in-memory bucket still pauses).
    pub(super) async fn pause(&mut self, wait: Duration) -> bool {
        self.take_reconnected();
        let Some(client) = self.client.as_ref().filter(|c| !c.is_closed()) else {
            return false;
        };
        let until = micros(wait).saturating_add(self.tolerance_us);
        let done = tokio::time::timeout(
            STATEMENT_TIMEOUT,
            client.execute(PAUSE, &[&self.key, &until]),
        )
        .await;
        match done {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                self.failed(&error_text(&e));
                false
            }
            Err(_) => {
                self.failed(&format!(
                    "no answer within {} s",
                    STATEMENT_TIMEOUT.as_secs()
                ));
                false
            }
        }
    }

    /// Drops the connection after a failure, and warns (at most once a minute).
    fn failed(&mut self, why: &str) {
        self.client = None;
        self.warn(why);
    }

    fn warn(&mut self, why: &str) {
        self.fallen_back = true;
        let now = Instant::now();
        if self
            .last_warning
            .is_some_and(|last| now.duration_since(last) < WARN_EVERY)
        {
            self.unwarned += 1;
            return;
        }
        let more = match self.unwarned {
            0 => String::new(),
            n => format!(" ({n} more failures since the last warning)"),
        };
        tracing::warn!(
            "limiter: the shared rate limit in {} is out of reach ({why}){more}; this server limits its own calls until it answers again",
            self.place
        );
        self.last_warning = Some(now);
        self.unwarned = 0;
    }

    /// Takes the connection a background attempt opened, if it is done.
    fn take_reconnected(&mut self) {
        let Some(receiver) = self.reconnecting.as_mut() else {
            return;
        };
        match receiver.try_recv() {
            Err(oneshot::error::TryRecvError::Empty) => {}
            Err(oneshot::error::TryRecvError::Closed) => self.reconnecting = None,
            Ok(result) => {
                self.reconnecting = None;
                match result {
                    Ok(client) => self.client = Some(client),
                    Err(e) => self.warn(&e),
                }
            }
        }
    }

    /// Opens a connection in the background, unless one is being opened or the last attempt
    /// was less than 5 s ago.
    fn start_reconnect(&mut self) {
        let now = Instant::now();
        if self.reconnecting.is_some()
            || self
                .last_reconnect
                .is_some_and(|last| now.duration_since(last) < RECONNECT_EVERY)
        {
            return;
        }
        self.last_reconnect = Some(now);
        let (sender, receiver) = oneshot::channel();
        self.reconnecting = Some(receiver);
        let mut config = self.config.clone();
        config.connect_timeout(STATEMENT_TIMEOUT);
        let (place, key) = (self.place.clone(), self.key.clone());
        tokio::spawn(async move {
            let _ = sender.send(connect(config, place, key, STATEMENT_TIMEOUT).await);
        });
    }
}

/// Opens a connection, driven by a task of its own until the client is dropped, and creates
/// the table and the key's row if they are missing; all within `within`.
async fn connect(
    config: Config,
    place: String,
    key: String,
    within: Duration,
) -> Result<Client, String> {
    let cannot =
        |what: &str, e: &dyn std::fmt::Display| format!("limiter: cannot {what} {place}: {e}");
    let setup = async {
        let (mut client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| cannot("connect to", &error_text(&e)))?;
        let task_place = place.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("limiter: the connection to {task_place} ended: {e}");
            }
        });
        let create = async {
            let tx = client.transaction().await?;
            // No notice "relation already exists, skipping" at every connection.
            tx.batch_execute("SET LOCAL client_min_messages = warning")
                .await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SETUP_LOCK])
                .await?;
            tx.batch_execute(CREATE_TABLE).await?;
            tx.execute(INSERT_ROW, &[&key]).await?;
            tx.commit().await
        };
        create
            .await
            .map_err(|e| cannot("create the limiter's table in", &error_text(&e)))?;
        // A statement the client gave up on (a row lock held by someone) ends on the server
        // too.
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}",
                STATEMENT_TIMEOUT.as_millis()
            ))
            .await
            .map_err(|e| cannot("set up the session with", &error_text(&e)))?;
        Ok(client)
    };
    tokio::time::timeout(within, setup)
        .await
        .unwrap_or_else(|_| {
            Err(cannot(
                "reach",
                &format!("no answer within {} s", within.as_secs()),
            ))
        })
}

/// One reservation. No row from the UPDATE is a refusal (the wait is read without
/// reserving) or a missing row (put back, then asked again once).
async fn ask(
    client: &Client,
    key: &str,
    interval_us: i64,
    tolerance_us: i64,
    max_wait_us: i64,
) -> Result<Answer, String> {
    let text = |e: tokio_postgres::Error| error_text(&e);
    for _ in 0..2 {
        let reserved = client
            .query_opt(RESERVE, &[&key, &interval_us, &tolerance_us, &max_wait_us])
            .await
            .map_err(text)?;
        if let Some(row) = reserved {
            let wait: i64 = row.try_get(0).map_err(text)?;
            return Ok(Answer::Go(from_micros(wait)));
        }
        let needed = client
            .query_opt(NEEDED, &[&key, &tolerance_us])
            .await
            .map_err(text)?;
        if let Some(row) = needed {
            let needed: i64 = row.try_get(0).map_err(text)?;
            return Ok(Answer::TooLate(from_micros(needed)));
        }
        // Someone deleted the row: put it back (a full bucket) and ask again.
        client.execute(INSERT_ROW, &[&key]).await.map_err(text)?;
    }
    Err("the limiter's row cannot be kept in the table".to_string())
}

/// A duration in whole µs, at most `i64::MAX`.
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// µs as a duration, 0 for a negative count.
fn from_micros(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_through_micros() {
        assert_eq!(micros(Duration::from_millis(200)), 200_000);
        assert_eq!(micros(Duration::MAX), i64::MAX);
        assert_eq!(from_micros(-5), Duration::ZERO);
        assert_eq!(from_micros(1_500), Duration::from_micros(1_500));
    }
}
