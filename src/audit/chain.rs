//! The keyed chain, shared by every backend so that a row has the same MAC whichever database
//! holds it: the stored row ([`Row`]), its canonical JSON and MAC, and the walk that checks a
//! chain row by row and against its anchors ([`Verifier`]).
//!
//! Each row's MAC is HMAC-SHA-256, under the installation's key (`key.rs`), of the previous
//! row's MAC followed by this row's canonical JSON. Without the key nobody can write a row, or
//! a whole new trail, that verifies; the anchor (`anchor.rs`) catches rows removed from the
//! end, which a chain alone cannot tell from rows never written.

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::anchor::Anchor;
use super::key::AuditKey;
use super::{Decision, Entry, NewEntry, Outcome, Targets};

/// The previous MAC of the first row.
pub(super) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The columns of the `audit` table, in the order [`Row`] reads them (and the table has
/// them: `attempts` and `waited_ms` came last, in schema version 3, then `identity`, in
/// version 4).
pub(super) const COLUMNS: &str = "id, time, agent, tool, area, access, decision, reason, \
                                  outcome, error_type, targets, duration_ms, summary, \
                                  completes, instance, prev_mac, mac, attempts, waited_ms, \
                                  identity";

/// [`COLUMNS`] as a version-3 table (one opened to read, which is not migrated) can give
/// them: the column version 4 added reads as NULL, as every row of such a table has it.
pub(super) const COLUMNS_V3: &str = "id, time, agent, tool, area, access, decision, reason, \
                                     outcome, error_type, targets, duration_ms, summary, \
                                     completes, instance, prev_mac, mac, attempts, waited_ms, \
                                     CAST(NULL AS TEXT)";

/// [`COLUMNS`] as a version-2 table can give them: the two columns version 3 added and the
/// one version 4 added read as NULL.
pub(super) const COLUMNS_V2: &str = "id, time, agent, tool, area, access, decision, reason, \
                                     outcome, error_type, targets, duration_ms, summary, \
                                     completes, instance, prev_mac, mac, \
                                     CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), \
                                     CAST(NULL AS TEXT)";

/// The select list for a table of schema version 2, 3 or 4, told apart by the columns it has
/// (`attempts` came in version 3, `identity` in version 4, in one transaction after it when
/// a version-2 table is migrated: no table of this code's has `identity` without `attempts`).
pub(super) fn columns_for(has_attempts: bool, has_identity: bool) -> &'static str {
    match (has_attempts, has_identity) {
        (true, true) => COLUMNS,
        (true, false) => COLUMNS_V3,
        (false, _) => COLUMNS_V2,
    }
}

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
    /// For an outcome row: the id of the `pending` row it completes.
    pub(super) completes: Option<i64>,
    /// The server process that wrote the row (`instance.rs`), so that rows a crashed one
    /// left `pending` can be told from those of one still running.
    pub(super) instance: String,
    pub(super) prev_mac: String,
    pub(super) mac: String,
    /// Requests sent to LiveChat for the call (schema version 3); in the canonical JSON
    /// only when set.
    pub(super) attempts: Option<i64>,
    /// Milliseconds waited for the rate limiter and between retries (schema version 3); in
    /// the canonical JSON only when set.
    pub(super) waited_ms: Option<i64>,
    /// The LiveChat identity the call used (schema version 4); in the canonical JSON only
    /// when set.
    pub(super) identity: Option<String>,
}

impl Row {
    /// The row that records `entry` after the row `last` (`(id, mac)`; `None` for the first
    /// row), written by `instance` and stamped with the current time, without its MAC yet:
    /// see [`Row::seal`].
    pub(super) fn next(
        last: Option<(i64, String)>,
        entry: NewEntry,
        instance: &str,
    ) -> Result<Row, String> {
        let (id, prev_mac) = match last {
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
            completes: entry
                .completes
                .map(|id| i64::try_from(id).unwrap_or(i64::MAX)),
            instance: instance.to_string(),
            prev_mac,
            mac: String::new(),
            attempts: entry.attempts.map(i64::from),
            waited_ms: entry
                .waited_ms
                .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
            identity: entry.identity,
        })
    }

    /// Gives the row its MAC under `key`: call last, after every change to its fields.
    pub(super) fn seal(mut self, key: &AuditKey) -> Result<Row, String> {
        self.mac = self.expected_mac(key)?;
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
            &mut self.instance,
        ] {
            clean(text);
        }
        for text in [
            &mut self.area,
            &mut self.access,
            &mut self.reason,
            &mut self.error_type,
            &mut self.identity,
        ]
        .into_iter()
        .flatten()
        {
            clean(text);
        }
        self
    }

    /// The row's JSON form less `mac`, as a JSON object. `attempts`, `waited_ms` and
    /// `identity` are in it only when set: a row without them (every row schema version 2
    /// wrote, and every row version 3 wrote without `identity`) hashes as it did then.
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
        map.insert(
            "completes".into(),
            self.completes.map_or(Value::Null, Value::from),
        );
        map.insert("instance".into(), Value::String(self.instance.clone()));
        if let Some(attempts) = self.attempts {
            map.insert("attempts".into(), Value::from(attempts));
        }
        if let Some(waited_ms) = self.waited_ms {
            map.insert("waited_ms".into(), Value::from(waited_ms));
        }
        if let Some(identity) = &self.identity {
            map.insert("identity".into(), Value::String(identity.clone()));
        }
        Ok(Value::Object(map))
    }

    /// HMAC-SHA-256 hex, under `key`, of the previous MAC followed by the canonical JSON of
    /// the row.
    pub(super) fn expected_mac(&self, key: &AuditKey) -> Result<String, String> {
        let mut canonical = String::new();
        write_canonical(&self.fields()?, &mut canonical);
        Ok(key.mac(&[self.prev_mac.as_bytes(), canonical.as_bytes()]))
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
            completes: self.completes.and_then(|id| u64::try_from(id).ok()),
            attempts: self.attempts.and_then(|n| u32::try_from(n).ok()),
            waited_ms: self.waited_ms.and_then(|ms| u64::try_from(ms).ok()),
            identity: self.identity,
            instance: self.instance,
            mac: self.mac,
        })
    }
}

/// The pending row an `unknown` outcome given at recovery ([`NewEntry::unknown`]: no error
/// type) is for, which the append must find still without an outcome (under the append lock)
/// or skip: two servers starting together may both find the same abandoned call, and it gets
/// one outcome. A real outcome, [`NewEntry::unknown_after`]'s included, is always written.
pub(super) fn unknown_outcome_of(entry: &NewEntry) -> Option<i64> {
    match (entry.outcome, entry.completes, &entry.error_type) {
        (Outcome::Unknown, Some(id), None) => i64::try_from(id).ok(),
        _ => None,
    }
}

/// Walks a chain given row by row in id order, and names the first thing that is wrong: a gap
/// in ids (a row deleted), a broken link (a row before it replaced), a MAC mismatch (the row
/// changed, or was written without this installation's key), or, at the end, a chain shorter
/// than an anchor says or one whose row differs from the anchor's (the trail cut short,
/// emptied or replaced).
#[derive(Debug)]
pub(super) struct Verifier<'k> {
    key: &'k AuditKey,
    /// Each anchor to check, with where it came from (`the anchor file …`).
    anchors: Vec<(Anchor, String)>,
    previous: Option<(i64, String)>,
    count: u64,
}

impl<'k> Verifier<'k> {
    pub(super) fn new(key: &'k AuditKey, anchors: Vec<(Anchor, String)>) -> Verifier<'k> {
        Verifier {
            key,
            anchors,
            previous: None,
            count: 0,
        }
    }

    /// Checks the next row.
    pub(super) fn check(&mut self, row: Row) -> Result<(), String> {
        let (expected_id, expected_prev) = match &self.previous {
            Some((id, mac)) => (id.saturating_add(1), mac.as_str()),
            None => (1, GENESIS),
        };
        if row.id != expected_id {
            return Err(broken(row.id, &gap(expected_id, row.id)));
        }
        if row.prev_mac != expected_prev {
            let what = match &self.previous {
                Some((id, _)) => format!(
                    "broken link — it does not follow row {id}'s MAC (a row before it was replaced)"
                ),
                None => "broken link — the first row does not start from 64 zeros".to_string(),
            };
            return Err(broken(row.id, &what));
        }
        match row.expected_mac(self.key) {
            Ok(mac) if crate::digest::constant_time_eq(mac.as_bytes(), row.mac.as_bytes()) => {}
            Ok(_) => {
                return Err(broken(
                    row.id,
                    "MAC mismatch — the row was changed after it was recorded, or written without this installation's audit key",
                ));
            }
            Err(e) => return Err(broken(row.id, &format!("MAC mismatch — {e}"))),
        }
        for (anchor, source) in &self.anchors {
            if u64::try_from(row.id) == Ok(anchor.rows) && anchor.mac != row.mac {
                return Err(format!(
                    "audit trail replaced: row {} is not the row {source} records (its MAC differs), so the trail was rebuilt from that row on",
                    row.id
                ));
            }
        }
        self.previous = Some((row.id, row.mac));
        self.count += 1;
        Ok(())
    }

    /// After the last row: checks that no anchor records more rows than the chain has.
    /// Returns how many rows were intact.
    pub(super) fn finish(self) -> Result<u64, String> {
        for (anchor, source) in &self.anchors {
            if self.count < anchor.rows {
                return Err(if self.count == 0 {
                    format!(
                        "audit trail emptied: it has no rows, but {source} records {} (the table was emptied or the database replaced)",
                        anchor.rows
                    )
                } else {
                    format!(
                        "audit trail cut short: it ends at row {}, but {source} records {} rows — rows {} to {} were deleted from the end",
                        self.count,
                        anchor.rows,
                        self.count + 1,
                        anchor.rows
                    )
                });
            }
        }
        Ok(self.count)
    }

    /// The error for a row that could not even be read, named by its position.
    pub(super) fn unreadable(&self, why: impl std::fmt::Display) -> String {
        broken(self.count + 1, &format!("unreadable: {why}"))
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

pub(super) use crate::digest::write_canonical;

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

    fn chain(key: &AuditKey, n: usize) -> Vec<Row> {
        let mut rows: Vec<Row> = Vec::new();
        for _ in 0..n {
            let last = rows.last().map(|r| (r.id, r.mac.clone()));
            let row = Row::next(last, entry("get_chat"), "1.ab")
                .and_then(|r| r.seal(key))
                .expect("row");
            rows.push(row);
        }
        rows
    }

    fn walk(key: &AuditKey, rows: Vec<Row>, anchors: Vec<(Anchor, String)>) -> Result<u64, String> {
        let mut verifier = Verifier::new(key, anchors);
        for row in rows {
            verifier.check(row)?;
        }
        verifier.finish()
    }

    fn anchor_of(row: &Row) -> (Anchor, String) {
        (
            Anchor {
                rows: u64::try_from(row.id).unwrap_or_default(),
                mac: row.mac.clone(),
            },
            "the anchor".to_string(),
        )
    }

    #[test]
    fn rows_chain_and_verify() {
        let key = AuditKey::from_bytes([7; 32]);
        let rows = chain(&key, 3);
        assert_eq!((rows[0].id, rows[0].prev_mac.as_str()), (1, GENESIS));
        assert_eq!((rows[1].id, &rows[1].prev_mac), (2, &rows[0].mac));
        let anchor = anchor_of(&rows[2]);
        assert_eq!(walk(&key, rows, vec![anchor]), Ok(3));
    }

    #[test]
    fn another_key_does_not_verify() {
        let rows = chain(&AuditKey::from_bytes([7; 32]), 2);
        let err = walk(&AuditKey::from_bytes([8; 32]), rows, vec![]).expect_err("other key");
        assert!(err.contains("row 1: MAC mismatch"), "{err}");
    }

    #[test]
    fn anchors_catch_a_cut_an_emptied_and_a_replaced_trail() {
        let key = AuditKey::from_bytes([7; 32]);
        let rows = chain(&key, 4);
        let anchor = anchor_of(&rows[3]);
        let cut = walk(&key, chain(&key, 2), vec![anchor.clone()]).expect_err("cut");
        assert!(
            cut.contains("cut short") && cut.contains("rows 3 to 4"),
            "{cut}"
        );
        let empty = walk(&key, vec![], vec![anchor.clone()]).expect_err("empty");
        assert!(empty.contains("emptied"), "{empty}");
        // The same number of rows, recomputed with the key (new times): row 4 differs.
        std::thread::sleep(std::time::Duration::from_millis(2));
        let replaced = walk(&key, chain(&key, 4), vec![anchor.clone()]).expect_err("replaced");
        assert!(
            replaced.contains("replaced") && replaced.contains("row 4"),
            "{replaced}"
        );
        // A chain longer than the anchor, through the anchor's row, is fine.
        let mut longer = rows;
        let last = longer.last().map(|r| (r.id, r.mac.clone()));
        longer.push(
            Row::next(last, entry("list_chats"), "1.ab")
                .and_then(|r| r.seal(&key))
                .expect("row"),
        );
        assert_eq!(walk(&key, longer, vec![anchor]), Ok(5));
    }

    /// A row as schema version 2 wrote it, with its canonical JSON and MAC as version 2
    /// computed them (the MAC checked independently, with `openssl dgst -sha256 -mac HMAC`):
    /// a row without `attempts` and `waited_ms` must hash exactly as before, or every trail
    /// written so far would stop verifying.
    #[test]
    fn a_row_without_the_delivery_columns_hashes_as_in_version_2() {
        let Value::Object(args) =
            json!({"chat_id": "C1", "event": {"type": "message", "text": "hi"}})
        else {
            panic!("object")
        };
        let entry = NewEntry::new("ops", "send_event", &args)
            .failed("timeout")
            .took(812)
            .completing(6);
        let key = AuditKey::from_bytes([7; 32]);
        let mut row =
            Row::next(Some((6, "ab".repeat(32))), entry, "4242.0123456789abcdef").expect("row");
        row.time = "2026-01-05T10:00:00.123Z".to_string();
        let row = row.seal(&key).expect("seal");
        let mut canonical = String::new();
        write_canonical(&row.fields().expect("fields"), &mut canonical);
        assert_eq!(
            canonical,
            r#"{"access":"write","agent":"ops","area":"events","completes":6,"decision":"allowed","duration_ms":812,"error_type":"timeout","id":7,"instance":"4242.0123456789abcdef","outcome":"error","reason":null,"summary":"ops tried to send a message to chat C1 — allowed, failed: timeout","targets":{"chat_id":"C1","content":{"event_type":"message","text_len":2,"text_sha256":"8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"}},"time":"2026-01-05T10:00:00.123Z","tool":"send_event"}"#
        );
        assert_eq!(
            row.mac,
            "c305d2a21b927bd89cc8a981ccbc37bb9659fd6a975a27c35fc9518ffc607962"
        );
    }

    /// With `attempts` and `waited_ms` set, both are in the canonical JSON, so the MAC
    /// covers them; and the published JSON form of the entry is that JSON, plus `mac`.
    #[test]
    fn the_delivery_columns_are_hashed_when_set() {
        let key = AuditKey::from_bytes([7; 32]);
        let row = Row::next(None, entry("list_chats").delivered(3, 1200), "1.ab")
            .and_then(|r| r.seal(&key))
            .expect("row");
        let mut canonical = String::new();
        write_canonical(&row.fields().expect("fields"), &mut canonical);
        assert!(
            canonical.contains(r#""area":"chats","attempts":3,"completes":null,"#)
                && canonical.contains(r#""tool":"list_chats","waited_ms":1200}"#),
            "{canonical}"
        );
        let mut changed = row;
        let mac = changed.mac.clone();
        changed.attempts = Some(1);
        assert_ne!(changed.expected_mac(&key), Ok(mac.clone()));
        changed.attempts = Some(3);
        assert_eq!(changed.expected_mac(&key), Ok(mac));

        let entry = changed.into_entry().expect("entry");
        assert_eq!((entry.attempts, entry.waited_ms), (Some(3), Some(1200)));
        let mut published = serde_json::to_value(&entry).expect("json");
        if let Value::Object(map) = &mut published {
            map.remove("mac");
        }
        let mut from_json = String::new();
        write_canonical(&published, &mut from_json);
        assert_eq!(from_json, canonical);
    }

    /// A row as schema version 3 wrote it (`attempts` and `waited_ms` set, no `identity`),
    /// with its canonical JSON and MAC as version 3 computed them (the MAC checked
    /// independently, with `openssl dgst -sha256 -mac HMAC`): a row without `identity` must
    /// hash exactly as before, or every trail written so far would stop verifying.
    #[test]
    fn a_row_without_identity_hashes_as_in_version_3() {
        let entry = entry("list_chats").completing(4).delivered(3, 1200);
        assert_eq!(entry.identity, None);
        let key = AuditKey::from_bytes([7; 32]);
        let mut row =
            Row::next(Some((4, "cd".repeat(32))), entry, "4242.0123456789abcdef").expect("row");
        row.time = "2026-01-05T10:00:00.123Z".to_string();
        let row = row.seal(&key).expect("seal");
        let mut canonical = String::new();
        write_canonical(&row.fields().expect("fields"), &mut canonical);
        assert_eq!(
            canonical,
            r#"{"access":"read","agent":"ops","area":"chats","attempts":3,"completes":4,"decision":"allowed","duration_ms":3,"error_type":null,"id":5,"instance":"4242.0123456789abcdef","outcome":"ok","reason":null,"summary":"ops listed chats — allowed, done in 3 ms after 3 attempts (waited 1.2 s)","targets":{},"time":"2026-01-05T10:00:00.123Z","tool":"list_chats","waited_ms":1200}"#
        );
        assert_eq!(
            row.mac,
            "dd5f625481260db416be803f4d38c3209d6967a7c6e3ae96173c8cbfe920c32d"
        );
    }

    /// With `identity` set it is in the canonical JSON, so the MAC covers it, and in the
    /// published JSON form; an identity given to a row that had none changes its MAC too.
    #[test]
    fn the_identity_is_hashed_when_set() {
        let key = AuditKey::from_bytes([7; 32]);
        let row = Row::next(None, entry("list_chats").identity("own PAT"), "1.ab")
            .and_then(|r| r.seal(&key))
            .expect("row");
        let mut canonical = String::new();
        write_canonical(&row.fields().expect("fields"), &mut canonical);
        assert!(
            canonical
                .contains(r#""error_type":null,"id":1,"identity":"own PAT","instance":"1.ab","#)
                && canonical.contains(
                    r#""summary":"ops listed chats — allowed, done in 3 ms (as own PAT)","#
                ),
            "{canonical}"
        );
        let mut changed = row;
        let mac = changed.mac.clone();
        for other in [Some("server token"), Some(""), None] {
            changed.identity = other.map(str::to_string);
            assert_ne!(changed.expected_mac(&key), Ok(mac.clone()), "{other:?}");
        }
        changed.identity = Some("own PAT".to_string());
        assert_eq!(changed.expected_mac(&key), Ok(mac));

        let stored = changed.into_entry().expect("entry");
        assert_eq!(stored.identity.as_deref(), Some("own PAT"));
        let mut published = serde_json::to_value(&stored).expect("json");
        if let Value::Object(map) = &mut published {
            map.remove("mac");
        }
        let mut from_json = String::new();
        write_canonical(&published, &mut from_json);
        assert_eq!(from_json, canonical);

        // A row without one: given one by hand, its MAC no longer checks.
        let mut old = Row::next(None, entry("get_chat"), "1.ab")
            .and_then(|r| r.seal(&key))
            .expect("row");
        let mac = old.mac.clone();
        old.identity = Some("server token".to_string());
        assert_ne!(old.expected_mac(&key), Ok(mac));
    }

    #[test]
    fn nul_is_replaced_before_the_mac() {
        let key = AuditKey::from_bytes([7; 32]);
        let row = Row::next(None, entry("get\0chat").identity("own\0PAT"), "1.ab")
            .map(Row::without_nul)
            .and_then(|r| r.seal(&key))
            .expect("row");
        assert_eq!(row.tool, "get\u{FFFD}chat");
        assert_eq!(row.identity.as_deref(), Some("own\u{FFFD}PAT"));
        assert!(!row.summary.contains('\0'), "{}", row.summary);
        assert_eq!(row.expected_mac(&key), Ok(row.mac.clone()));
    }
}
