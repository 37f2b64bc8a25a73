//! The hash chain, shared by every backend so that a row hashes to the same bytes whichever
//! database holds it: the stored row ([`Row`]), its canonical JSON and hash, and the walk
//! that checks a chain row by row ([`Verifier`]).

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{Decision, Entry, NewEntry, Outcome, Targets};
use crate::digest::hex;

/// The previous hash of the first row.
pub(super) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The columns of the `audit` table, in the order [`Row`] reads them.
pub(super) const COLUMNS: &str = "id, time, agent, tool, area, access, decision, reason, \
                                  outcome, error_type, targets, duration_ms, summary, \
                                  prev_hash, hash";

/// One row as stored, every column as its raw text or number, so that verify hashes exactly
/// what is in the database.
#[derive(Debug)]
pub(super) struct Row {
    pub(super) id: i64,
    pub(super) time: String,
    pub(super) agent: String,
    pub(super) tool: String,
    pub(super) area: Option<String>,
    pub(super) access: Option<String>,
    pub(super) decision: String,
    pub(super) reason: Option<String>,
    pub(super) outcome: String,
    pub(super) error_type: Option<String>,
    /// The targets object as JSON text.
    pub(super) targets: String,
    pub(super) duration_ms: i64,
    pub(super) summary: String,
    pub(super) prev_hash: String,
    pub(super) hash: String,
}

impl Row {
    /// The row that records `entry` after the row `last` (`(id, hash)`; `None` for the first
    /// row), stamped with the current time, without its hash yet: see [`Row::seal`].
    pub(super) fn next(last: Option<(i64, String)>, entry: NewEntry) -> Result<Row, String> {
        let (id, prev_hash) = match last {
            Some((id, hash)) => (id.saturating_add(1), hash),
            None => (1, GENESIS.to_string()),
        };
        Ok(Row {
            id,
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            summary: entry.summary(),
            agent: entry.agent,
            tool: entry.tool,
            area: entry.area,
            access: entry.access,
            decision: entry.decision.as_str().to_string(),
            reason: entry.reason,
            outcome: entry.outcome.as_str().to_string(),
            error_type: entry.error_type,
            targets: serde_json::to_string(&entry.targets)
                .map_err(|e| format!("audit: cannot serialise targets: {e}"))?,
            duration_ms: i64::try_from(entry.duration_ms).unwrap_or(i64::MAX),
            prev_hash,
            hash: String::new(),
        })
    }

    /// Gives the row its hash: call last, after every change to its fields.
    pub(super) fn seal(mut self) -> Result<Row, String> {
        self.hash = self.expected_hash()?;
        Ok(self)
    }

    /// Replaces each NUL character in the text columns with U+FFFD, for databases whose text
    /// cannot hold NUL (PostgreSQL). Call before [`Row::seal`], so the hash covers what is
    /// stored. (The targets are JSON text, where a NUL is already escaped as `\u0000`.)
    pub(super) fn without_nul(mut self) -> Row {
        fn clean(s: &mut String) {
            if s.contains('\0') {
                *s = s.replace('\0', "\u{FFFD}");
            }
        }
        for text in [
            &mut self.agent,
            &mut self.tool,
            &mut self.decision,
            &mut self.outcome,
            &mut self.summary,
        ] {
            clean(text);
        }
        for text in [
            &mut self.area,
            &mut self.access,
            &mut self.reason,
            &mut self.error_type,
        ]
        .into_iter()
        .flatten()
        {
            clean(text);
        }
        self
    }

    /// The row's JSON form less `hash`, as a JSON object.
    fn fields(&self) -> Result<Value, String> {
        let targets: Value = serde_json::from_str(&self.targets)
            .map_err(|e| format!("its targets are not JSON: {e}"))?;
        let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
        let mut map = Map::new();
        map.insert("id".into(), Value::from(self.id));
        map.insert("time".into(), Value::String(self.time.clone()));
        map.insert("agent".into(), Value::String(self.agent.clone()));
        map.insert("tool".into(), Value::String(self.tool.clone()));
        map.insert("area".into(), text(&self.area));
        map.insert("access".into(), text(&self.access));
        map.insert("decision".into(), Value::String(self.decision.clone()));
        map.insert("reason".into(), text(&self.reason));
        map.insert("outcome".into(), Value::String(self.outcome.clone()));
        map.insert("error_type".into(), text(&self.error_type));
        map.insert("targets".into(), targets);
        map.insert("duration_ms".into(), Value::from(self.duration_ms));
        map.insert("summary".into(), Value::String(self.summary.clone()));
        Ok(Value::Object(map))
    }

    /// SHA-256 hex of the previous hash followed by the canonical JSON of the row.
    pub(super) fn expected_hash(&self) -> Result<String, String> {
        let mut canonical = String::new();
        write_canonical(&self.fields()?, &mut canonical);
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(canonical.as_bytes());
        Ok(hex(&hasher.finalize()))
    }

    pub(super) fn into_entry(self) -> Result<Entry, String> {
        let id = self.id;
        let bad = |what: &str, value: &str| format!("audit: row {id} has {what} `{value}`");
        let decision =
            Decision::parse(&self.decision).ok_or_else(|| bad("the decision", &self.decision))?;
        let outcome =
            Outcome::parse(&self.outcome).ok_or_else(|| bad("the outcome", &self.outcome))?;
        let targets: Targets = serde_json::from_str(&self.targets)
            .map_err(|e| format!("audit: row {id} has unreadable targets: {e}"))?;
        Ok(Entry {
            id: u64::try_from(id).map_err(|_| bad("the id", &id.to_string()))?,
            time: self.time,
            agent: self.agent,
            tool: self.tool,
            area: self.area,
            access: self.access,
            decision,
            reason: self.reason,
            outcome,
            error_type: self.error_type,
            targets,
            duration_ms: u64::try_from(self.duration_ms).unwrap_or(0),
            summary: self.summary,
            hash: self.hash,
        })
    }
}

/// Walks a chain given row by row in id order, and names the first row that is not intact:
/// a gap in ids (a row deleted), a broken link (a row before it replaced) or a hash mismatch
/// (the row changed). Rows removed from the end cannot be told from rows never written;
/// compare the count with an earlier one to catch that.
#[derive(Debug, Default)]
pub(super) struct Verifier {
    previous: Option<(i64, String)>,
    count: u64,
}

impl Verifier {
    /// Checks the next row.
    pub(super) fn check(&mut self, row: Row) -> Result<(), String> {
        let (expected_id, expected_prev) = match &self.previous {
            Some((id, hash)) => (id.saturating_add(1), hash.as_str()),
            None => (1, GENESIS),
        };
        if row.id != expected_id {
            return Err(broken(row.id, &gap(expected_id, row.id)));
        }
        if row.prev_hash != expected_prev {
            let what = match &self.previous {
                Some((id, _)) => format!(
                    "broken link — it does not follow row {id}'s hash (a row before it was replaced)"
                ),
                None => "broken link — the first row does not start from 64 zeros".to_string(),
            };
            return Err(broken(row.id, &what));
        }
        match row.expected_hash() {
            Ok(hash) if hash == row.hash => {}
            Ok(_) => {
                return Err(broken(
                    row.id,
                    "hash mismatch — the row was changed after it was recorded",
                ));
            }
            Err(e) => return Err(broken(row.id, &format!("hash mismatch — {e}"))),
        }
        self.previous = Some((row.id, row.hash));
        self.count += 1;
        Ok(())
    }

    /// The error for a row that could not even be read, named by its position.
    pub(super) fn unreadable(&self, why: impl std::fmt::Display) -> String {
        broken(self.count + 1, &format!("unreadable: {why}"))
    }

    /// How many rows were intact.
    pub(super) fn count(&self) -> u64 {
        self.count
    }
}

fn broken(id: impl std::fmt::Display, what: &str) -> String {
    format!("audit trail broken at row {id}: {what}")
}

fn gap(expected: i64, found: i64) -> String {
    if found > expected + 1 {
        format!("gap in ids — rows {expected} to {} are missing", found - 1)
    } else if found > expected {
        format!("gap in ids — row {expected} is missing")
    } else {
        format!("gap in ids — expected row {expected}")
    }
}

/// Compact JSON with every object's keys sorted (by their UTF-8 bytes), whatever order the
/// map kept them in.
pub(super) fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(tool: &str) -> NewEntry {
        let Value::Object(args) = json!({"chat_id": "C1"}) else {
            return NewEntry::new("ops", tool, &Map::new());
        };
        NewEntry::new("ops", tool, &args).took(3)
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut out = String::new();
        write_canonical(
            &json!({"b": [{"z": 1, "a": null}], "a": "é\"", "c": {"y": true, "x": 1.5}}),
            &mut out,
        );
        assert_eq!(
            out,
            r#"{"a":"é\"","b":[{"a":null,"z":1}],"c":{"x":1.5,"y":true}}"#
        );
    }

    #[test]
    fn rows_chain_and_verify() {
        let first = Row::next(None, entry("get_chat"))
            .and_then(Row::seal)
            .expect("first");
        assert_eq!((first.id, first.prev_hash.as_str()), (1, GENESIS));
        let second = Row::next(Some((first.id, first.hash.clone())), entry("list_chats"))
            .and_then(Row::seal)
            .expect("second");
        assert_eq!((second.id, &second.prev_hash), (2, &first.hash));
        let mut verifier = Verifier::default();
        verifier.check(first).expect("first intact");
        verifier.check(second).expect("second intact");
        assert_eq!(verifier.count(), 2);
    }

    #[test]
    fn nul_is_replaced_before_the_hash() {
        let row = Row::next(None, entry("get\0chat"))
            .map(Row::without_nul)
            .and_then(Row::seal)
            .expect("row");
        assert_eq!(row.tool, "get\u{FFFD}chat");
        assert!(!row.summary.contains('\0'), "{}", row.summary);
        assert_eq!(row.expected_hash(), Ok(row.hash.clone()));
    }
}
