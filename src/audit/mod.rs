//! The audit trail: every `tools/call` — allowed, refused or failed — is recorded as a row of
//! a keyed chain kept in a SQLite file or, for several servers sharing one trail, a PostgreSQL
//! database, with a one-sentence summary a support lead can read. Free text is kept only as a
//! length and a SHA-256; secrets never.
//!
//! A call that goes to LiveChat is written ahead: a `pending` row is durable before the
//! request is sent (if it cannot be written, nothing is sent), and a second row, which names
//! the first in `completes`, records the outcome. Rows a crash left pending get an `unknown`
//! outcome at the next start-up ([`AuditStore::recover`]). An outcome row also says how
//! many requests the call took (`attempts`, with retries) and how long it waited for the rate
//! limiter and between retries (`waited_ms`). Every row the server writes names the LiveChat
//! identity the call used (`identity`: `server token`, `own token`, `own PAT`, …), the label
//! `agent::Identity` gives it: a kind, never a credential.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod anchor;
mod chain;
mod instance;
mod key;
mod phrase;
mod postgres;
mod query;
mod sqlite;
mod store;
mod targets;

pub use anchor::Anchor;
pub use phrase::{attempt, phrase, sentence};
pub use query::{Format, QueryFilter, parse_since, render};
pub use store::{
    AuditFiles, AuditStore, LocationError, Opening, check_location, describe_location,
    is_postgres_url,
};
pub use targets::{Content, Targets, TransferTarget, targets_from};

/// The tool name of a row that records a change to the policy made in the console, not a
/// call: agent `admin`, allowed and done, the change in words in `reason` (which the row's MAC
/// covers), read as `admin set chats to read for support-bot`. No LiveChat method has this
/// name, and a call an agent makes to it is denied as an unknown tool, so it reads as such.
pub const POLICY_CHANGE: &str = "policy";

/// Who a [`POLICY_CHANGE`] row says made the change: whoever holds the admin key.
pub const POLICY_CHANGER: &str = "admin";

/// Whether policy let the call through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allowed,
    Denied,
}

impl Decision {
    /// The name in the trail: `allowed` or `denied`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
        }
    }

    /// The decision named `name` in the trail, if there is one.
    pub fn parse(name: &str) -> Option<Decision> {
        [Decision::Allowed, Decision::Denied]
            .into_iter()
            .find(|d| d.as_str() == name)
    }
}

/// How the call ended: done, failed (upstream, network, arguments), refused by policy, not
/// yet known (written ahead of the request), never to be known (the server stopped first, or
/// the request went out and its answer never came), or cancelled by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done.
    Ok,
    /// Failed: LiveChat's error, the network, the arguments (`error_type` says which).
    Error,
    /// Refused by policy.
    Denied,
    /// Written ahead of the request; its outcome is a later row that `completes` it.
    Pending,
    /// Never to be known: the server stopped first ([`NewEntry::unknown`]), or the request
    /// went out and its answer never came ([`NewEntry::unknown_after`]).
    Unknown,
    /// The client cancelled the call (MCP `notifications/cancelled`, or the session ended)
    /// before it finished.
    Cancelled,
    /// Held for a person's approval: nothing was sent; `targets.approval` names the request.
    Held,
    /// A person approved the held call named by `targets.approval`; `reason` says who.
    Approved,
    /// Nobody approved the held call in time, or its approval was not used in time.
    Expired,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Denied,
        Outcome::Pending,
        Outcome::Unknown,
        Outcome::Cancelled,
        Outcome::Held,
        Outcome::Approved,
        Outcome::Expired,
    ];

    /// The name in the trail: `ok`, `error`, `denied`, `pending`, `unknown`, `cancelled`,
    /// `held`, `approved` or `expired`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Denied => "denied",
            Outcome::Pending => "pending",
            Outcome::Unknown => "unknown",
            Outcome::Cancelled => "cancelled",
            Outcome::Held => "held",
            Outcome::Approved => "approved",
            Outcome::Expired => "expired",
        }
    }

    /// The outcome named `name` in the trail, if there is one.
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// A call to record; the store adds `id`, `time`, `summary`, `instance` and `mac`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    /// Who called: the agent identity policy saw.
    pub agent: String,
    /// The tool name as called, even if no such tool exists.
    pub tool: String,
    /// The tool's area (`chats`, …); `None` for an unknown tool.
    pub area: Option<String>,
    /// `read` or `write`; `None` for an unknown tool.
    pub access: Option<String>,
    pub decision: Decision,
    /// Why the call was denied; `None` when allowed.
    pub reason: Option<String>,
    pub outcome: Outcome,
    /// LiveChat's error type, or `timeout`, `network`, `invalid_arguments`, …; `None` on ok.
    pub error_type: Option<String>,
    pub targets: Targets,
    /// Time from receiving the call to having its result.
    pub duration_ms: u64,
    /// For the outcome of a call written ahead: the id of its `pending` row.
    pub completes: Option<u64>,
    /// How many requests were actually sent to LiveChat for this call, retries included: only
    /// on the outcome of a call that went upstream (see [`NewEntry::delivered`]).
    pub attempts: Option<u32>,
    /// How long the call waited, in milliseconds: in the rate limiter's queue and between
    /// retries. Set with `attempts`.
    pub waited_ms: Option<u64>,
    /// The LiveChat identity the call used, as `whoami` names it (`server token`, `own
    /// token`, `own PAT`, `none`, a bot's label): see [`NewEntry::identity()`].
    pub identity: Option<String>,
}

impl NewEntry {
    /// An allowed call that went well, with area and access from the tool registry and the
    /// targets read from `arguments`. Adjust with [`NewEntry::denied`], [`NewEntry::failed`],
    /// [`NewEntry::cancelled`], [`NewEntry::unknown_after`], [`NewEntry::took`] and
    /// [`NewEntry::delivered`].
    pub fn new(agent: &str, tool: &str, arguments: &Map<String, Value>) -> NewEntry {
        let spec = crate::tools::find(tool);
        NewEntry {
            agent: agent.to_string(),
            tool: tool.to_string(),
            area: spec.map(|s| s.area.as_str().to_string()),
            access: spec.map(|s| s.access.as_str().to_string()),
            decision: Decision::Allowed,
            reason: None,
            outcome: Outcome::Ok,
            error_type: None,
            targets: targets_from(tool, arguments),
            duration_ms: 0,
            completes: None,
            attempts: None,
            waited_ms: None,
            identity: None,
        }
    }

    /// The row written ahead of the request: allowed, outcome `pending`.
    pub fn pending(&self) -> NewEntry {
        NewEntry {
            outcome: Outcome::Pending,
            error_type: None,
            duration_ms: 0,
            completes: None,
            attempts: None,
            waited_ms: None,
            ..self.clone()
        }
    }

    /// The outcome of the call whose `pending` row is `id`.
    pub fn completing(mut self, id: u64) -> NewEntry {
        self.completes = Some(id);
        self
    }

    /// The `unknown` outcome of a call a stopped server left `pending` as `row`.
    pub fn unknown(row: &Entry) -> NewEntry {
        NewEntry {
            agent: row.agent.clone(),
            tool: row.tool.clone(),
            area: row.area.clone(),
            access: row.access.clone(),
            decision: row.decision,
            reason: row.reason.clone(),
            outcome: Outcome::Unknown,
            error_type: None,
            targets: row.targets.clone(),
            duration_ms: 0,
            completes: Some(row.id),
            attempts: None,
            waited_ms: None,
            // The outcome is the same call's: made as the pending row says it was.
            identity: row.identity.clone(),
        }
    }

    /// Refused by policy, for `reason`.
    pub fn denied(mut self, reason: impl Into<String>) -> NewEntry {
        self.decision = Decision::Denied;
        self.reason = Some(reason.into());
        self.outcome = Outcome::Denied;
        self
    }

    /// Allowed, but failed with `error_type`.
    pub fn failed(mut self, error_type: impl Into<String>) -> NewEntry {
        self.outcome = Outcome::Error;
        self.error_type = Some(error_type.into());
        self
    }

    /// Allowed, but the client cancelled it (MCP `notifications/cancelled`, or the session
    /// ended) before it finished: outcome `cancelled`, error type `cancelled`.
    pub fn cancelled(mut self) -> NewEntry {
        self.outcome = Outcome::Cancelled;
        self.error_type = Some("cancelled".to_string());
        self
    }

    /// Allowed, and the request may have reached LiveChat, but its answer never came
    /// (`timeout`, a reset connection, a 502, …): outcome `unknown`, with `error_type` the
    /// failure. Unlike [`NewEntry::unknown`] (a call a stopped server left pending), this
    /// outcome is written by the server that made the call.
    pub fn unknown_after(mut self, error_type: impl Into<String>) -> NewEntry {
        self.outcome = Outcome::Unknown;
        self.error_type = Some(error_type.into());
        self
    }

    /// Tied to the approval request `id` (`APR-…`).
    pub fn approval(mut self, id: &str) -> NewEntry {
        self.targets.approval = Some(id.to_string());
        self
    }

    /// Held until a person approves the request `id`: nothing was sent.
    pub fn held(self, id: &str) -> NewEntry {
        let mut entry = self.approval(id);
        entry.outcome = Outcome::Held;
        entry
    }

    /// The step of a request a person (or the clock) took: `approved` by `by`, `denied` by
    /// `by`, or `expired`, for the call `request` describes. Not a call: it took no time and
    /// names no identity.
    pub fn decision(request: &crate::approvals::Request, step: Outcome) -> NewEntry {
        let arguments = match &request.arguments {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        let mut entry =
            NewEntry::new(&request.agent, &request.tool, &arguments).approval(&request.id);
        entry.outcome = step;
        match step {
            Outcome::Denied => {
                entry.decision = Decision::Denied;
                entry.reason = Some(request.decision_words());
            }
            Outcome::Approved => entry.reason = Some(request.decision_words()),
            _ => {}
        }
        entry
    }

    /// A change to the policy made in the console, described by `change` without the actor:
    /// `set chats to read for support-bot`, `added agent x`, `removed agent x`, `rotated the
    /// key of x`, `made a key for x`. Never a key or any other secret.
    pub fn policy_change(change: &str) -> NewEntry {
        NewEntry {
            agent: POLICY_CHANGER.to_string(),
            tool: POLICY_CHANGE.to_string(),
            area: None,
            access: None,
            decision: Decision::Allowed,
            reason: Some(change.to_string()),
            outcome: Outcome::Ok,
            error_type: None,
            targets: Targets::default(),
            duration_ms: 0,
            completes: None,
            attempts: None,
            waited_ms: None,
            identity: None,
        }
    }

    /// Took `duration_ms` milliseconds.
    pub fn took(mut self, duration_ms: u64) -> NewEntry {
        self.duration_ms = duration_ms;
        self
    }

    /// Went to LiveChat in `attempts` requests (1 without retries), after waiting `waited_ms`
    /// milliseconds in all for the rate limiter and between retries.
    pub fn delivered(mut self, attempts: u32, waited_ms: u64) -> NewEntry {
        self.attempts = Some(attempts);
        self.waited_ms = Some(waited_ms);
        self
    }

    /// Carries a file of `size` bytes whose SHA-256 is `sha256` (`upload_file`, once the file
    /// is read): the trail proves what was sent without keeping it.
    pub fn carrying_file(mut self, size: u64, sha256: &str) -> NewEntry {
        let content = self.targets.content.get_or_insert_with(Default::default);
        content.size = Some(size);
        content.sha256 = Some(sha256.to_string());
        self
    }

    /// Made in LiveChat as `label`: the name `agent::Identity` gives the identity the call
    /// used (`server token`, `own token`, `own PAT`, `none`, or a bot's kind and id prefix).
    /// Only ever that label, never a token, a PAT or a secret: it is stored in the clear and
    /// shown in the sentence (`… (as own PAT)`).
    pub fn identity(mut self, label: &str) -> NewEntry {
        self.identity = Some(label.to_string());
        self
    }

    /// The summary sentence this entry will be stored with.
    pub fn summary(&self) -> String {
        sentence(self)
    }
}

/// One stored row of the trail. Its JSON form is the trail's published format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// 1-based, without gaps.
    pub id: u64,
    /// When it was recorded: RFC 3339, UTC, milliseconds, `Z` (`2026-01-05T10:00:00.123Z`).
    pub time: String,
    pub agent: String,
    pub tool: String,
    pub area: Option<String>,
    pub access: Option<String>,
    pub decision: Decision,
    pub reason: Option<String>,
    pub outcome: Outcome,
    pub error_type: Option<String>,
    pub targets: Targets,
    pub duration_ms: u64,
    pub summary: String,
    /// For an outcome row: the id of the `pending` row it completes.
    pub completes: Option<u64>,
    /// Requests sent to LiveChat for the call, retries included (see
    /// [`NewEntry::attempts`]). Left out of the JSON form when absent, as in the MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// Milliseconds spent waiting for the rate limiter and between retries (see
    /// [`NewEntry::waited_ms`]). Left out of the JSON form when absent, as in the MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_ms: Option<u64>,
    /// The LiveChat identity the call used (see [`NewEntry::identity()`]); absent in rows
    /// written before schema version 4. Left out of the JSON form when absent, as in the MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The server process that wrote it: `PID.KEY`.
    pub instance: String,
    /// HMAC-SHA-256 hex, under the installation's audit key, of the previous row's MAC (64
    /// zeros for the first row) followed by this row's canonical JSON: this JSON form less
    /// `mac`, keys sorted, compact. (`attempts` and `waited_ms`, added in schema version 3,
    /// and `identity`, added in version 4, are in it only when set, so rows written before
    /// hash as they did.)
    pub mac: String,
}

/// A key for `purpose` derived from the installation's audit key at `key_path` (the bot
/// secrets beside the trail are sealed with it). The key is never made here: a trail opened to
/// append makes it, and one made anywhere else could orphan a trail whose key was lost.
pub fn derived_key(key_path: &std::path::Path, purpose: &str) -> Result<[u8; 32], String> {
    let key = key::AuditKey::load(key_path)?.ok_or_else(|| {
        format!(
            "the installation's audit key `{}` does not exist yet; it is made when the audit trail is first opened to record (e.g. by `bots provision`)",
            key_path.display()
        )
    })?;
    Ok(key.derive(purpose))
}

/// Where the trail lives unless configured: `$XDG_DATA_HOME/livechat-mcp/audit.db`, else
/// `$HOME/.local/share/livechat-mcp/audit.db`. With neither set there is no good default (the
/// current directory would scatter trails), so the error asks for `--audit`.
pub fn default_path() -> Result<PathBuf, String> {
    default_path_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

fn default_path_from(
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf, String> {
    // The XDG spec says to ignore a relative XDG_DATA_HOME.
    let data = xdg_data_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })
        .ok_or_else(|| {
            "neither XDG_DATA_HOME nor HOME is set, so the audit trail has no default place: name a file with --audit PATH (or turn it off with --audit off)".to_string()
        })?;
    Ok(data.join("livechat-mcp").join("audit.db"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_path_prefers_xdg_then_home() {
        assert_eq!(
            default_path_from(Some("/data".into()), Some("/home/u".into())),
            Ok(PathBuf::from("/data/livechat-mcp/audit.db"))
        );
        assert_eq!(
            default_path_from(Some("relative".into()), Some("/home/u".into())),
            Ok(PathBuf::from("/home/u/.local/share/livechat-mcp/audit.db"))
        );
        assert_eq!(
            default_path_from(None, Some("/home/u".into())),
            Ok(PathBuf::from("/home/u/.local/share/livechat-mcp/audit.db"))
        );
        let err = default_path_from(None, None).unwrap_err();
        assert!(err.contains("--audit PATH"), "{err}");
    }

    #[test]
    fn new_entry_reads_the_registry_and_the_arguments() {
        let args = json!({"id": "PJ0MRSHTDG"});
        let Value::Object(args) = args else {
            panic!("object")
        };
        let entry = NewEntry::new("ops", "deactivate_chat", &args)
            .failed("timeout")
            .took(9);
        assert_eq!(entry.area.as_deref(), Some("chats"));
        assert_eq!(entry.access.as_deref(), Some("write"));
        assert_eq!(entry.targets.chat_id.as_deref(), Some("PJ0MRSHTDG"));
        assert_eq!(
            entry.summary(),
            "ops tried to end chat PJ0MRSHTDG — allowed, failed: timeout"
        );
        let unknown = NewEntry::new("ops", "drop_tables", &Map::new()).denied("no such tool");
        assert_eq!(unknown.area, None);
        assert_eq!(
            unknown.summary(),
            "ops tried to call `drop_tables` — denied: no such tool"
        );
    }

    #[test]
    fn builders_for_retries_cancellations_and_lost_answers() {
        let Value::Object(args) = json!({"chat_id": "C1"}) else {
            panic!("object")
        };
        let call = NewEntry::new("ops", "get_chat", &args);
        assert_eq!((call.attempts, call.waited_ms), (None, None));
        let done = call.clone().delivered(3, 700).took(812);
        assert_eq!((done.attempts, done.waited_ms), (Some(3), Some(700)));
        assert_eq!(
            done.summary(),
            "ops read chat C1 — allowed, done in 812 ms after 3 attempts (waited 700 ms)"
        );
        let pending = done.pending();
        assert_eq!((pending.attempts, pending.waited_ms), (None, None));
        let cancelled = call.clone().cancelled();
        assert_eq!(
            (cancelled.outcome, cancelled.error_type.as_deref()),
            (Outcome::Cancelled, Some("cancelled"))
        );
        let lost = call.unknown_after("timeout");
        assert_eq!(
            (lost.decision, lost.outcome, lost.error_type.as_deref()),
            (Decision::Allowed, Outcome::Unknown, Some("timeout"))
        );
        assert_eq!(
            lost.summary(),
            "ops tried to read chat C1 — allowed, outcome unknown: timeout (LiveChat may have done it)"
        );
    }

    /// The identity is kept by the row written ahead and by the outcome recovery gives a
    /// call a stopped server left pending, and it is only ever what the builder was given.
    #[test]
    fn the_identity_is_kept_through_pending_and_recovery() {
        let Value::Object(args) = json!({"chat_id": "C1"}) else {
            panic!("object")
        };
        let call = NewEntry::new("ops", "get_chat", &args);
        assert_eq!(call.identity, None);
        let call = call.identity("own token");
        let pending = call.pending();
        assert_eq!(pending.identity.as_deref(), Some("own token"));
        assert_eq!(
            pending.summary(),
            "ops tried to read chat C1 — allowed, sending to LiveChat (as own token)"
        );
        let stored = Entry {
            id: 7,
            time: "2026-01-05T10:00:00.123Z".into(),
            agent: pending.agent.clone(),
            tool: pending.tool.clone(),
            area: pending.area.clone(),
            access: pending.access.clone(),
            decision: pending.decision,
            reason: None,
            outcome: Outcome::Pending,
            error_type: None,
            targets: pending.targets.clone(),
            duration_ms: 0,
            summary: pending.summary(),
            completes: None,
            attempts: None,
            waited_ms: None,
            identity: pending.identity.clone(),
            instance: "1.ab".into(),
            mac: "ab".repeat(32),
        };
        let recovered = NewEntry::unknown(&stored);
        assert_eq!(
            (recovered.completes, recovered.identity.as_deref()),
            (Some(7), Some("own token"))
        );
        assert_eq!(
            recovered.summary(),
            "ops tried to read chat C1 — allowed, outcome unknown: the server stopped before LiveChat's answer was recorded (as own token)"
        );
        let older = Entry {
            identity: None,
            ..stored
        };
        assert_eq!(NewEntry::unknown(&older).identity, None);
    }

    #[test]
    fn decision_and_outcome_names() {
        assert_eq!(Decision::parse("denied"), Some(Decision::Denied));
        assert_eq!(Outcome::parse("error"), Some(Outcome::Error));
        assert_eq!(Decision::parse("maybe"), None);
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
            assert_eq!(
                serde_json::to_value(outcome).ok(),
                Some(Value::String(outcome.as_str().into()))
            );
        }
        assert_eq!(Outcome::parse("cancelled"), Some(Outcome::Cancelled));
        assert_eq!(
            serde_json::to_value(Outcome::Ok).ok(),
            Some(Value::String("ok".into()))
        );
    }
}
