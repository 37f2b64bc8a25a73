//! Calls that wait for a person: the requests (`APR-…`) a held call makes, kept in the audit
//! trail's database so that every server sharing it, and `livechat-mcp approvals`, see the
//! same ones.
//!
//! A request is bound to one agent, one tool and the SHA-256 of the call's canonical
//! arguments. It is `pending` until a person approves or denies it, or until it expires; an
//! approval lets the identical call through once (`used`), within the time to live counted
//! from the approval. Every change of state is one conditional `UPDATE`, so two servers can
//! never both use one approval, nor both expire or decide one request.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

mod postgres;
mod sqlite;

pub use crate::policy::{ApprovalRule, Approver};

/// How long a request waits, and how long an approval stays usable, unless
/// `--approval-ttl-secs` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(900);

/// How many requests one agent may have waiting at once: past it, a new held call is refused
/// rather than burying the supervisor's list (the same call asked again reuses its request).
pub const MAX_PENDING_PER_AGENT: usize = 50;

/// How old an unrecorded decision must be before another look records it.
const CATCH_UP_AFTER_MS: i64 = 60_000;

/// Milliseconds since the Unix epoch; tests give the store a clock they move by hand.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp_millis())
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for a person.
    Pending,
    /// Approved: the identical call goes through once.
    Approved,
    /// Denied: the call was not sent.
    Denied,
    /// The approved call was sent.
    Used,
    /// Nobody answered (or the approval was not used) in time.
    Expired,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Pending,
        State::Approved,
        State::Denied,
        State::Used,
        State::Expired,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Used => "used",
            State::Expired => "expired",
        }
    }

    pub fn parse(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One request, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    /// `APR-` and ten characters of Crockford base32.
    pub id: String,
    pub agent: String,
    pub tool: String,
    /// SHA-256 of the call's canonical arguments ([`arguments_sha256`]).
    pub arguments_sha256: String,
    /// What the call would do, in the audit trail's words: `ban customer b7ef0c1d… for 3
    /// days`.
    pub would: String,
    /// The arguments as a person sees them before deciding: secrets left out, long values
    /// cut, hidden characters removed.
    pub arguments: Value,
    /// Who may decide, as the policy said when the request was made.
    pub approvers: Vec<String>,
    pub state: State,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// Pending: when it lapses unanswered. Approved: when the approval does.
    pub expires_ms: i64,
    /// `client`, or `console:NAME`.
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub decided_ms: Option<i64>,
}

impl Request {
    /// Who decided, and their reason: `console:alice: looks right`, `client`.
    pub fn decision_words(&self) -> String {
        let by = self.decided_by.as_deref().unwrap_or("someone");
        match self.reason.as_deref().filter(|r| !r.is_empty()) {
            Some(reason) => format!("{by}: {reason}"),
            None => by.to_string(),
        }
    }
}

/// What went wrong with the store, or with a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalError {
    /// The database could not be read or written; the text names it, never with a password.
    Store(String),
    /// No request has that id.
    NoSuchRequest(String),
    /// The request was decided, used or expired already.
    NotPending { id: String, state: State },
    /// The agent has [`MAX_PENDING_PER_AGENT`] requests waiting already.
    TooManyWaiting { agent: String },
    /// The policy did not name this kind of approver for the request's agent.
    NotAnApprover { id: String, approver: String },
}

impl std::fmt::Display for ApprovalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApprovalError::Store(detail) => write!(f, "approvals: {detail}"),
            ApprovalError::NoSuchRequest(id) => {
                write!(
                    f,
                    "no approval request `{id}`; `livechat-mcp approvals list` shows them"
                )
            }
            ApprovalError::TooManyWaiting { agent } => write!(
                f,
                "agent {agent} has {MAX_PENDING_PER_AGENT} requests waiting for a person already"
            ),
            ApprovalError::NotAnApprover { id, approver } => write!(
                f,
                "request {id} may not be decided by the {approver}: its agent's policy names other approvers"
            ),
            ApprovalError::NotPending { id, state } => write!(
                f,
                "request {id} is {} already, so it cannot be decided now",
                state.as_str()
            ),
        }
    }
}

impl std::error::Error for ApprovalError {}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteApprovals),
    Postgres(Arc<postgres::PgApprovals>),
}

/// The requests in one database, with the time to live and the clock they are judged by.
#[derive(Clone)]
pub struct Approvals {
    backend: Backend,
    ttl: Duration,
    clock: Clock,
}

impl std::fmt::Debug for Approvals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvals").field("ttl", &self.ttl).finish()
    }
}

impl Approvals {
    /// Opens the requests kept in the audit trail at `location` (a SQLite path or a
    /// `postgres://` URL), creating their table if needed.
    pub async fn open(location: &str) -> Result<Approvals, ApprovalError> {
        let backend = if crate::audit::is_postgres_url(location) {
            Backend::Postgres(Arc::new(postgres::PgApprovals::open(location).await?))
        } else {
            Backend::Sqlite(sqlite::SqliteApprovals::open(std::path::Path::new(
                location,
            ))?)
        };
        Ok(Approvals {
            backend,
            ttl: DEFAULT_TTL,
            clock: system_clock(),
        })
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Approvals {
        self.ttl = ttl;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Approvals {
        self.clock = clock;
        self
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)
    }

    async fn run(&self, op: Op) -> Result<Vec<Request>, ApprovalError> {
        match &self.backend {
            Backend::Sqlite(store) => store.run(op).await,
            Backend::Postgres(store) => store.run(op).await,
        }
    }

    /// Marks every request past its time `expired` and returns them: each is returned to
    /// exactly one caller, whichever server asks first, so its audit row is written once.
    pub async fn expire_due(&self) -> Result<Vec<Request>, ApprovalError> {
        self.run(Op::Expire { now: self.now_ms() }).await
    }

    /// Uses the approval of this exact call, if there is one: it is `used` from now on, by
    /// this caller only.
    pub async fn claim(
        &self,
        agent: &str,
        tool: &str,
        arguments_sha256: &str,
    ) -> Result<Option<Request>, ApprovalError> {
        let op = Op::Claim {
            agent: agent.to_string(),
            tool: tool.to_string(),
            hash: arguments_sha256.to_string(),
            now: self.now_ms(),
        };
        Ok(self.run(op).await?.pop())
    }

    /// The denial of this exact call not yet told to its agent, if any; told from now on.
    pub async fn untold_denial(
        &self,
        agent: &str,
        tool: &str,
        arguments_sha256: &str,
    ) -> Result<Option<Request>, ApprovalError> {
        let op = Op::TellDenial {
            agent: agent.to_string(),
            tool: tool.to_string(),
            hash: arguments_sha256.to_string(),
        };
        Ok(self.run(op).await?.pop())
    }

    /// The pending request for this exact call, made now if there is none; `true` with a new
    /// one. Two servers asking at once get the same request.
    pub async fn request(&self, draft: NewRequest) -> Result<(Request, bool), ApprovalError> {
        let now = self.now_ms();
        let waiting = self
            .run(Op::Waiting {
                agent: draft.agent.clone(),
                limit: MAX_PENDING_PER_AGENT as u32 + 1,
            })
            .await?;
        let same = waiting
            .iter()
            .any(|r| r.tool == draft.tool && r.arguments_sha256 == draft.arguments_sha256);
        if waiting.len() >= MAX_PENDING_PER_AGENT && !same {
            return Err(ApprovalError::TooManyWaiting { agent: draft.agent });
        }
        let request = Request {
            id: new_id(),
            agent: draft.agent,
            tool: draft.tool,
            arguments_sha256: draft.arguments_sha256,
            would: draft.would,
            arguments: draft.arguments,
            approvers: draft
                .approvers
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            state: State::Pending,
            created_ms: now,
            expires_ms: now.saturating_add(self.ttl_ms()),
            decided_by: None,
            reason: None,
            decided_ms: None,
        };
        let id = request.id.clone();
        let found = self
            .run(Op::Insert { request })
            .await?
            .pop()
            .ok_or_else(|| {
                ApprovalError::Store("a request was neither made nor found".to_string())
            })?;
        let made = found.id == id;
        Ok((found, made))
    }

    /// Approves or denies the pending request `id`, as `by` (`client`, `console:NAME`). An
    /// approval is usable for the time to live from now.
    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        reason: Option<&str>,
    ) -> Result<Request, ApprovalError> {
        // Who may decide is fixed when the request is made; the approver's kind is the
        // first word of `by` (`client`, `console:NAME`).
        let kind = by.split(':').next().unwrap_or(by);
        if let Some(request) = self.get(id).await?
            && !request.approvers.iter().any(|a| a == kind)
        {
            return Err(ApprovalError::NotAnApprover {
                id: request.id,
                approver: kind.to_string(),
            });
        }
        let now = self.now_ms();
        let op = Op::Decide {
            id: id.to_string(),
            state: if approve {
                State::Approved
            } else {
                State::Denied
            },
            by: by.to_string(),
            reason: reason.map(clean_reason),
            now,
            expires: now.saturating_add(self.ttl_ms()),
        };
        if let Some(done) = self.run(op).await?.pop() {
            return Ok(done);
        }
        match self.get(id).await? {
            None => Err(ApprovalError::NoSuchRequest(shown_id(id))),
            Some(request) if request.state == State::Pending => Err(ApprovalError::NotPending {
                id: request.id,
                state: State::Expired,
            }),
            Some(request) => Err(ApprovalError::NotPending {
                id: request.id,
                state: request.state,
            }),
        }
    }

    /// [`Approvals::decide`], then its row in `trail`: `approved` or `denied`, by `by`.
    pub async fn decide_recorded(
        &self,
        trail: &crate::audit::AuditStore,
        id: &str,
        approve: bool,
        by: &str,
        reason: Option<&str>,
    ) -> Result<crate::audit::Entry, ApprovalError> {
        let decided = self.decide(id, approve, by, reason).await?;
        let step = if approve {
            crate::audit::Outcome::Approved
        } else {
            crate::audit::Outcome::Denied
        };
        let row = trail
            .append(crate::audit::NewEntry::decision(&decided, step))
            .await
            .map_err(|e| {
                ApprovalError::Store(format!(
                    "request {} is {} but the audit trail could not record it yet (it will be at the next look): {e}",
                    decided.id,
                    decided.state.as_str()
                ))
            })?;
        self.mark_recorded(&decided).await?;
        Ok(row)
    }

    /// Notes that the row of `request`'s latest step is in the trail.
    pub async fn mark_recorded(&self, request: &Request) -> Result<(), ApprovalError> {
        self.run(Op::MarkRecorded {
            id: request.id.clone(),
            state: request.state,
        })
        .await
        .map(|_| ())
    }

    /// [`Approvals::expire_due`], each lapse recorded in `trail` (a failure is logged: the
    /// request has lapsed either way).
    ///
    /// Also records the decisions and lapses whose rows a crash (or a trail that refused the
    /// row) left out, once they are a minute old: a live decider writes its row well within
    /// that, so no step is recorded twice.
    pub async fn expire_recorded(
        &self,
        trail: Option<&crate::audit::AuditStore>,
    ) -> Result<usize, ApprovalError> {
        let lapsed = self.expire_due().await?;
        let Some(trail) = trail else {
            return Ok(lapsed.len());
        };
        let before = self.now_ms().saturating_sub(CATCH_UP_AFTER_MS);
        let late = self.run(Op::Unrecorded { before }).await?;
        for request in lapsed.iter().chain(&late) {
            // A used request whose approval has no row yet: the use is the call's own row.
            let step = match request.state {
                State::Approved | State::Used => crate::audit::Outcome::Approved,
                State::Denied => crate::audit::Outcome::Denied,
                _ => crate::audit::Outcome::Expired,
            };
            match trail
                .append(crate::audit::NewEntry::decision(request, step))
                .await
            {
                Ok(_) => self.mark_recorded(request).await?,
                Err(e) => tracing::error!(
                    "the audit trail could not record that {} was {} (it will be at the next look): {e}",
                    request.id,
                    request.state.as_str()
                ),
            }
        }
        Ok(lapsed.len())
    }

    pub async fn get(&self, id: &str) -> Result<Option<Request>, ApprovalError> {
        Ok(self.run(Op::Get { id: id.to_string() }).await?.pop())
    }

    /// Requests newest first, in `state` only when given, at most `limit`.
    pub async fn list(
        &self,
        state: Option<State>,
        limit: u32,
    ) -> Result<Vec<Request>, ApprovalError> {
        self.run(Op::List { state, limit }).await
    }
}

/// What a held call asks for, before it has an id.
pub struct NewRequest {
    pub agent: String,
    pub tool: String,
    pub arguments_sha256: String,
    pub would: String,
    pub arguments: Value,
    pub approvers: Vec<Approver>,
}

/// One operation on the store; each backend runs it as one statement.
enum Op {
    Expire {
        now: i64,
    },
    Claim {
        agent: String,
        tool: String,
        hash: String,
        now: i64,
    },
    TellDenial {
        agent: String,
        tool: String,
        hash: String,
    },
    Insert {
        request: Request,
    },
    Decide {
        id: String,
        state: State,
        by: String,
        reason: Option<String>,
        now: i64,
        expires: i64,
    },
    Get {
        id: String,
    },
    Waiting {
        agent: String,
        limit: u32,
    },
    Unrecorded {
        before: i64,
    },
    MarkRecorded {
        id: String,
        state: State,
    },
    List {
        state: Option<State>,
        limit: u32,
    },
}

/// The columns every statement returns, in this order.
const COLUMNS: &str = "id, agent, tool, arguments_sha256, would, arguments, approvers, state, created_ms, expires_ms, decided_by, reason, decided_ms";

/// A row's columns, read by either backend.
struct Columns {
    id: String,
    agent: String,
    tool: String,
    hash: String,
    would: String,
    arguments: String,
    approvers: String,
    state: String,
    created_ms: i64,
    expires_ms: i64,
    decided_by: Option<String>,
    reason: Option<String>,
    decided_ms: Option<i64>,
}

impl Columns {
    fn into_request(self) -> Result<Request, ApprovalError> {
        let state = State::parse(&self.state).ok_or_else(|| {
            ApprovalError::Store(format!("request {} has an unknown state", self.id))
        })?;
        Ok(Request {
            arguments: serde_json::from_str(&self.arguments).unwrap_or(Value::Null),
            approvers: self
                .approvers
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
            id: self.id,
            agent: self.agent,
            tool: self.tool,
            arguments_sha256: self.hash,
            would: self.would,
            state,
            created_ms: self.created_ms,
            expires_ms: self.expires_ms,
            decided_by: self.decided_by,
            reason: self.reason,
            decided_ms: self.decided_ms,
        })
    }
}

/// The statements, written once with `$N` parameters (SQLite reads them as `?N`).
mod sql {
    pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS livechat_mcp_approvals (
    id               TEXT   PRIMARY KEY,
    agent            TEXT   NOT NULL,
    tool             TEXT   NOT NULL,
    arguments_sha256 TEXT   NOT NULL,
    would            TEXT   NOT NULL,
    arguments        TEXT   NOT NULL,
    approvers        TEXT   NOT NULL,
    state            TEXT   NOT NULL,
    created_ms       BIGINT NOT NULL,
    expires_ms       BIGINT NOT NULL,
    decided_by       TEXT,
    reason           TEXT,
    decided_ms       BIGINT,
    told             BIGINT NOT NULL DEFAULT 0,
    recorded         BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS livechat_mcp_approvals_one_pending
    ON livechat_mcp_approvals (agent, tool, arguments_sha256) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS livechat_mcp_approvals_binding
    ON livechat_mcp_approvals (agent, tool, arguments_sha256, state);
CREATE INDEX IF NOT EXISTS livechat_mcp_approvals_created
    ON livechat_mcp_approvals (created_ms);
";

    pub fn expire() -> String {
        format!(
            "UPDATE livechat_mcp_approvals
             SET state = 'expired', decided_ms = $1, recorded = 0
             WHERE state IN ('pending', 'approved') AND expires_ms <= $1
             RETURNING {}",
            super::COLUMNS
        )
    }

    pub fn claim() -> String {
        format!(
            "UPDATE livechat_mcp_approvals SET state = 'used'
             WHERE id = (SELECT id FROM livechat_mcp_approvals
                         WHERE agent = $1 AND tool = $2 AND arguments_sha256 = $3
                           AND state = 'approved' AND expires_ms > $4
                         ORDER BY created_ms LIMIT 1)
               AND state = 'approved' AND expires_ms > $4
             RETURNING {}",
            super::COLUMNS
        )
    }

    pub fn tell_denial() -> String {
        format!(
            "UPDATE livechat_mcp_approvals SET told = 1
             WHERE id = (SELECT id FROM livechat_mcp_approvals
                         WHERE agent = $1 AND tool = $2 AND arguments_sha256 = $3
                           AND state = 'denied' AND told = 0
                         ORDER BY decided_ms DESC LIMIT 1)
               AND told = 0
             RETURNING {}",
            super::COLUMNS
        )
    }

    pub const INSERT: &str = "INSERT INTO livechat_mcp_approvals
        (id, agent, tool, arguments_sha256, would, arguments, approvers, state, created_ms, expires_ms)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)
        ON CONFLICT DO NOTHING";

    pub fn pending_for() -> String {
        format!(
            "SELECT {} FROM livechat_mcp_approvals
             WHERE agent = $1 AND tool = $2 AND arguments_sha256 = $3 AND state = 'pending'",
            super::COLUMNS
        )
    }

    pub fn decide() -> String {
        format!(
            "UPDATE livechat_mcp_approvals
             SET state = $2, decided_by = $3, reason = $4, decided_ms = $5, recorded = 0,
                 expires_ms = CASE WHEN $2 = 'approved' THEN $6 ELSE expires_ms END
             WHERE id = $1 AND state = 'pending' AND expires_ms > $5
             RETURNING {}",
            super::COLUMNS
        )
    }

    pub fn get() -> String {
        format!(
            "SELECT {} FROM livechat_mcp_approvals WHERE id = $1",
            super::COLUMNS
        )
    }

    pub fn unrecorded() -> String {
        format!(
            "SELECT {} FROM livechat_mcp_approvals
             WHERE recorded = 0 AND state IN ('approved', 'denied', 'expired', 'used')
               AND decided_ms < $1
             ORDER BY decided_ms LIMIT 100",
            super::COLUMNS
        )
    }

    pub fn mark_recorded() -> String {
        format!(
            "UPDATE livechat_mcp_approvals SET recorded = 1
             WHERE id = $1 AND state = $2 AND recorded = 0
             RETURNING {}",
            super::COLUMNS
        )
    }

    pub fn waiting() -> String {
        format!(
            "SELECT {} FROM livechat_mcp_approvals
             WHERE agent = $1 AND state = 'pending' LIMIT $2",
            super::COLUMNS
        )
    }

    pub fn list() -> String {
        format!(
            "SELECT {} FROM livechat_mcp_approvals
             WHERE ($1 = '' OR state = $1)
             ORDER BY created_ms DESC, id DESC LIMIT $2",
            super::COLUMNS
        )
    }
}

/// A fresh request id: `APR-` and ten Crockford base32 characters (50 random bits).
fn new_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits: u64 = rand::random();
    let mut id = String::from("APR-");
    for i in 0..10 {
        id.push(ALPHABET[((bits >> (i * 5)) & 31) as usize] as char);
    }
    id
}

/// Whether `id` has the shape of a request id; anything else names no request.
pub fn is_id(id: &str) -> bool {
    id.len() == 14
        && id.starts_with("APR-")
        && id[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// An id as an error may repeat it: short, one line.
fn shown_id(id: &str) -> String {
    crate::fence::clean(&id.chars().take(20).collect::<String>())
        .0
        .replace(|c: char| c.is_control(), " ")
}

/// A person's reason as kept: one line, hidden characters removed, at most 200 characters.
fn clean_reason(reason: &str) -> String {
    let one_line: String = crate::fence::clean(reason)
        .0
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    let mut out: String = trimmed.chars().take(200).collect();
    if trimmed.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The SHA-256 of a call's arguments in canonical form: keys sorted at every depth, compact,
/// top-level `null`s left out (they mean "not given"). Two calls with the same arguments in
/// another key order bind to the same approval.
pub fn arguments_sha256(arguments: &Map<String, Value>) -> String {
    let mut text = String::new();
    let kept: Map<String, Value> = arguments
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    crate::digest::write_canonical(&Value::Object(kept), &mut text);
    crate::digest::sha256_hex(&text)
}

/// A time left as people read it: `15 min` (rounded up), or `40 s` under a minute.
pub fn time_left(left: Duration) -> String {
    let secs = u64::try_from(left.as_millis().div_ceil(1000)).unwrap_or(u64::MAX);
    if secs >= 60 {
        format!("{} min", secs.div_ceil(60))
    } else {
        format!("{secs} s")
    }
}

/// Argument names whose values never leave the call: not stored, not shown to a person.
const SECRET_ARGUMENTS: &[&str] = &["secret_key", "secret", "token", "password"];

/// The arguments as an approver sees them: secrets replaced, strings over 1,000 characters
/// cut, hidden characters removed (a customer's or an agent's text could hide a different
/// meaning from the person deciding).
pub fn shown_arguments(arguments: &Map<String, Value>) -> Value {
    fn shown(value: &Value) -> Value {
        match value {
            Value::String(text) => {
                let (clean, _) = crate::fence::clean(text);
                let count = clean.chars().count();
                if count > 1000 {
                    let cut: String = clean.chars().take(1000).collect();
                    Value::String(format!("{cut}… ({count} characters in all)"))
                } else {
                    Value::String(clean)
                }
            }
            Value::Array(items) => Value::Array(items.iter().map(shown).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        if SECRET_ARGUMENTS.contains(&k.as_str()) {
                            (k.clone(), Value::String("[secret, not shown]".to_string()))
                        } else {
                            (k.clone(), shown(v))
                        }
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let kept: Map<String, Value> = arguments
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    shown(&Value::Object(kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn the_hash_ignores_key_order_and_nulls_but_not_values() {
        let a = arguments_sha256(&object(
            json!({"id": "c1", "ban": {"days": 3, "x": [1, 2]}}),
        ));
        let b = arguments_sha256(&object(
            json!({"ban": {"x": [1, 2], "days": 3}, "id": "c1", "note": null}),
        ));
        let c = arguments_sha256(&object(
            json!({"id": "c1", "ban": {"days": 4, "x": [1, 2]}}),
        ));
        let d = arguments_sha256(&object(
            json!({"id": "c1", "ban": {"days": 3, "x": [2, 1]}}),
        ));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn ids_are_fresh_and_well_formed() {
        let a = new_id();
        let b = new_id();
        assert!(is_id(&a) && is_id(&b), "{a} {b}");
        assert_ne!(a, b);
        for bad in [
            "APR-",
            "apr-0123456789",
            "APR-0123456789X",
            "APR-01234567I!",
            "x",
        ] {
            assert!(!is_id(bad), "{bad}");
        }
    }

    #[test]
    fn shown_arguments_hide_secrets_and_hidden_characters_and_cut_long_text() {
        let long = "x".repeat(1500);
        let shown = shown_arguments(&object(json!({
            "url": "https://example.com",
            "secret_key": "s3cr3t",
            "event": {"text": "hi\u{202E}there\u{200B}", "long": long},
            "skip": null
        })));
        let text = shown.to_string();
        assert!(!text.contains("s3cr3t"));
        assert_eq!(shown["event"]["text"], "hithere");
        assert!(
            shown["event"]["long"]
                .as_str()
                .unwrap_or_default()
                .ends_with("(1500 characters in all)")
        );
        assert!(shown.get("skip").is_none());
    }

    #[test]
    fn reasons_are_one_short_clean_line() {
        assert_eq!(clean_reason("  too\nbroad\u{202E} "), "too broad");
        assert_eq!(clean_reason(&"y".repeat(300)).chars().count(), 201);
    }
}
