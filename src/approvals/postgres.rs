//! The requests in the audit trail's PostgreSQL database, shared by every server using it.
//! The table is created under an advisory lock, so servers starting together do not race.
//! No TLS, as for the trail: use a database you reach privately.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Row};

use super::{ApprovalError, Columns, Op, Request, sql};

/// The advisory lock the schema setup takes: "lcmcpapr" in ASCII.
const LOCK_KEY: i64 = 0x6c63_6d63_7061_7072;

/// How long connecting, or one operation, may take.
const TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct PgApprovals {
    /// Holds the password, if the URL has one: never printed.
    config: Config,
    /// `postgres://host:port/db`, for messages.
    place: String,
    client: Mutex<Option<Client>>,
}

impl PgApprovals {
    pub(super) async fn open(url: &str) -> Result<PgApprovals, ApprovalError> {
        let crate::pg::Target { config, place, .. } =
            crate::pg::target(url).map_err(ApprovalError::Store)?;
        let store = PgApprovals {
            config,
            place,
            client: Mutex::new(None),
        };
        let setup = async {
            let mut client = store.connect().await?;
            crate::pg::create_schema(&mut client, LOCK_KEY, sql::SCHEMA)
                .await
                .map_err(|e| store.error(&e))?;
            Ok::<_, ApprovalError>(client)
        };
        let client = tokio::time::timeout(TIMEOUT * 2, setup)
            .await
            .unwrap_or_else(|_| Err(store.no_answer()))?;
        *store.client.lock().await = Some(client);
        Ok(store)
    }

    pub(super) async fn run(&self, op: Op) -> Result<Vec<Request>, ApprovalError> {
        let attempt = async {
            let mut slot = self.client.lock().await;
            let mut client = match slot.take().filter(|c| !c.is_closed()) {
                Some(client) => client,
                None => self.connect().await?,
            };
            let result = self.run_on(&mut client, op).await;
            if !client.is_closed() {
                *slot = Some(client);
            }
            result
        };
        tokio::time::timeout(TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(self.no_answer()))
    }

    async fn run_on(&self, client: &mut Client, op: Op) -> Result<Vec<Request>, ApprovalError> {
        let error = |e: tokio_postgres::Error| self.error(&e);
        let rows = match op {
            Op::Expire { now } => client.query(&sql::expire(), &[&now]).await,
            Op::Claim {
                agent,
                tool,
                hash,
                now,
            } => {
                client
                    .query(&sql::claim(), &[&agent, &tool, &hash, &now])
                    .await
            }
            Op::TellDenial { agent, tool, hash } => {
                client
                    .query(&sql::tell_denial(), &[&agent, &tool, &hash])
                    .await
            }
            Op::Insert { request } => {
                let tx = client.transaction().await.map_err(error)?;
                let arguments = request.arguments.to_string();
                let approvers = request.approvers.join(",");
                let values: [&(dyn ToSql + Sync); 9] = [
                    &request.id,
                    &request.agent,
                    &request.tool,
                    &request.arguments_sha256,
                    &request.would,
                    &arguments,
                    &approvers,
                    &request.created_ms,
                    &request.expires_ms,
                ];
                tx.execute(sql::INSERT, &values).await.map_err(error)?;
                let found = tx
                    .query(
                        &sql::pending_for(),
                        &[&request.agent, &request.tool, &request.arguments_sha256],
                    )
                    .await
                    .map_err(error)?;
                tx.commit().await.map_err(error)?;
                Ok(found)
            }
            Op::Decide {
                id,
                state,
                by,
                reason,
                now,
                expires,
            } => {
                client
                    .query(
                        &sql::decide(),
                        &[&id, &state.as_str(), &by, &reason, &now, &expires],
                    )
                    .await
            }
            Op::Waiting { agent, limit } => {
                client
                    .query(&sql::waiting(), &[&agent, &i64::from(limit)])
                    .await
            }
            Op::Unrecorded { before } => client.query(&sql::unrecorded(), &[&before]).await,
            Op::MarkRecorded { id, state } => {
                client
                    .query(&sql::mark_recorded(), &[&id, &state.as_str()])
                    .await
            }
            Op::Get { id } => client.query(&sql::get(), &[&id]).await,
            Op::List { state, limit } => {
                let state = state.map(|s| s.as_str()).unwrap_or("");
                client
                    .query(&sql::list(), &[&state, &i64::from(limit)])
                    .await
            }
        }
        .map_err(error)?;
        rows.iter()
            .map(|row| read(row).map_err(error)?.into_request())
            .collect()
    }

    async fn connect(&self) -> Result<Client, ApprovalError> {
        crate::pg::connect(&self.config, &self.place, "approvals")
            .await
            .map_err(|e| self.error(&e))
    }

    fn error(&self, e: &tokio_postgres::Error) -> ApprovalError {
        let detail = match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        };
        ApprovalError::Store(format!(
            "the approvals in {} could not be read or written: {detail}",
            self.place
        ))
    }

    fn no_answer(&self) -> ApprovalError {
        ApprovalError::Store(format!(
            "{} did not answer within {} s",
            self.place,
            TIMEOUT.as_secs()
        ))
    }
}

fn read(row: &Row) -> Result<Columns, tokio_postgres::Error> {
    Ok(Columns {
        id: row.try_get(0)?,
        agent: row.try_get(1)?,
        tool: row.try_get(2)?,
        hash: row.try_get(3)?,
        would: row.try_get(4)?,
        arguments: row.try_get(5)?,
        approvers: row.try_get(6)?,
        state: row.try_get(7)?,
        created_ms: row.try_get(8)?,
        expires_ms: row.try_get(9)?,
        decided_by: row.try_get(10)?,
        reason: row.try_get(11)?,
        decided_ms: row.try_get(12)?,
    })
}
