//! Reading the trail back: which entries (`QueryFilter`, `parse_since`) and how they print
//! (`render`: sentences for people, JSON lines for tools).

use chrono::{DateTime, TimeDelta, Utc};

use super::{Decision, Entry, Outcome};

/// Which entries a query returns: the newest ones matching every filter given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryFilter {
    /// Only this agent's calls.
    pub agent: Option<String>,
    /// Only calls to this tool.
    pub tool: Option<String>,
    /// Only allowed, or only denied, calls.
    pub decision: Option<Decision>,
    /// Only rows with this outcome.
    pub outcome: Option<Outcome>,
    /// Only calls recorded at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only calls recorded at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only rows with an id below this one: the next page of an older listing.
    pub before: Option<u64>,
    /// Only rows with an id above this one: what was appended since a row was seen.
    pub after: Option<u64>,
    /// At most this many entries; 0 means all.
    pub limit: usize,
}

/// Makes a duration from a count of one unit, if it fits.
type ToDelta = fn(i64) -> Option<TimeDelta>;

/// Reads a `--since` value: a duration back from `now` (`45s`, `30m`, `1h`, `2d`, `1w`) or an
/// RFC 3339 date-time (`2026-01-05T10:00:00Z`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(s) {
        return Ok(time.with_timezone(&Utc));
    }
    let units: [(&str, ToDelta); 5] = [
        ("s", TimeDelta::try_seconds),
        ("m", TimeDelta::try_minutes),
        ("h", TimeDelta::try_hours),
        ("d", TimeDelta::try_days),
        ("w", TimeDelta::try_weeks),
    ];
    let invalid = || {
        format!(
            "`{s}` is neither a duration nor a date-time: use e.g. `45s`, `30m`, `1h`, `2d` or `2026-01-05T10:00:00Z`"
        )
    };
    let (number, to_delta) = units
        .iter()
        .find_map(|(unit, to_delta)| s.strip_suffix(unit).map(|n| (n, to_delta)))
        .ok_or_else(invalid)?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    number
        .parse::<i64>()
        .ok()
        .and_then(to_delta)
        .and_then(|delta| now.checked_sub_signed(delta))
        .ok_or_else(|| format!("`{s}` reaches too far back; use a smaller number"))
}

/// How `render` prints entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `#12 2026-01-05T10:00:00.123Z support-bot read chat PJ0MRSHTDG — allowed, done in 90 ms`
    Sentences,
    /// One JSON object per line, the entry's JSON form.
    JsonLines,
}

/// Entries as text, one per line, each line ending in a newline.
pub fn render(entries: &[Entry], format: Format) -> String {
    let mut out = String::new();
    for entry in entries {
        let line = match format {
            Format::Sentences => format!("#{} {} {}", entry.id, entry.time, entry.summary),
            // An entry always serialises (string keys, no floats); should it ever not, the
            // line still says which entry it was.
            Format::JsonLines => serde_json::to_string(entry)
                .unwrap_or_else(|e| format!("{{\"id\":{},\"error\":\"{e}\"}}", entry.id)),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Outcome, Targets};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn durations_count_back_from_now() {
        let at = |s: &str| parse_since(s, now()).map(|t| t.to_rfc3339());
        assert_eq!(at("45s"), Ok("2026-01-05T11:59:15+00:00".into()));
        assert_eq!(at("30m"), Ok("2026-01-05T11:30:00+00:00".into()));
        assert_eq!(at("1h"), Ok("2026-01-05T11:00:00+00:00".into()));
        assert_eq!(at("2d"), Ok("2026-01-03T12:00:00+00:00".into()));
        assert_eq!(at(" 1w "), Ok("2025-12-29T12:00:00+00:00".into()));
    }

    #[test]
    fn date_times_are_taken_as_they_are() {
        let t = parse_since("2026-01-05T10:00:00+02:00", now()).map(|t| t.to_rfc3339());
        assert_eq!(t, Ok("2026-01-05T08:00:00+00:00".into()));
    }

    #[test]
    fn nonsense_is_refused_with_examples() {
        for s in [
            "",
            "h",
            "1x",
            "-1h",
            "1.5h",
            "yesterday",
            "1h30m",
            "9999999999999999999d",
        ] {
            let err = parse_since(s, now()).expect_err(s);
            assert!(err.contains('`'), "{s}: {err}");
        }
    }

    #[test]
    fn render_both_formats() {
        let entry = Entry {
            id: 12,
            time: "2026-01-05T10:00:00.123Z".into(),
            agent: "support-bot".into(),
            tool: "list_chats".into(),
            area: Some("chats".into()),
            access: Some("read".into()),
            decision: Decision::Allowed,
            reason: None,
            outcome: Outcome::Ok,
            error_type: None,
            targets: Targets::default(),
            duration_ms: 90,
            summary: "support-bot listed chats — allowed, done in 90 ms".into(),
            completes: None,
            attempts: None,
            waited_ms: None,
            identity: None,
            instance: "1.ab".into(),
            mac: "ab".repeat(32),
        };
        assert_eq!(
            render(std::slice::from_ref(&entry), Format::Sentences),
            "#12 2026-01-05T10:00:00.123Z support-bot listed chats — allowed, done in 90 ms\n"
        );
        let json = render(std::slice::from_ref(&entry), Format::JsonLines);
        let back: Entry = serde_json::from_str(json.trim_end()).expect("json line");
        assert_eq!(back, entry);
        assert!(
            json.contains("\"reason\":null") && json.contains("\"targets\":{}"),
            "{json}"
        ); // Absent, the two columns of schema version 3 are left out, as in the MAC.
        assert!(
            !json.contains("attempts") && !json.contains("waited_ms"),
            "{json}"
        );
        let retried = Entry {
            attempts: Some(3),
            waited_ms: Some(1200),
            ..entry
        };
        let json = render(std::slice::from_ref(&retried), Format::JsonLines);
        assert!(
            json.contains("\"attempts\":3,\"waited_ms\":1200,"),
            "{json}"
        );
        let back: Entry = serde_json::from_str(json.trim_end()).expect("json line");
        assert_eq!(back, retried);
        // The identity, from schema version 4, likewise: in the JSON when recorded.
        assert!(!json.contains("identity"), "{json}");
        let as_bot = Entry {
            identity: Some("bot 5c98…".into()),
            summary: "support-bot listed chats — allowed, done in 90 ms (as bot 5c98…)".into(),
            ..retried
        };
        let json = render(std::slice::from_ref(&as_bot), Format::JsonLines);
        assert!(
            json.contains("\"waited_ms\":1200,\"identity\":\"bot 5c98…\","),
            "{json}"
        );
        let back: Entry = serde_json::from_str(json.trim_end()).expect("json line");
        assert_eq!(back, as_bot);
        assert_eq!(
            render(std::slice::from_ref(&as_bot), Format::Sentences),
            "#12 2026-01-05T10:00:00.123Z support-bot listed chats — allowed, done in 90 ms (as bot 5c98…)\n"
        );
    }
}
