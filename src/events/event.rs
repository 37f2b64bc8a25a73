//! What the log stores and answers: an event as received ([`NewEvent`]), as stored
//! ([`Event`]), the filter a reader passes and the page it gets back, and the cursor's text
//! form.

use serde_json::Value;

use super::error::EventError;
use crate::tools::Area;

/// The longest dedupe key, chat or thread ID the log takes, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// The largest payload the log stores, as compact JSON, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// The most events one read returns.
pub const MAX_LIMIT: usize = 1000;

/// An event as it arrives, from a webhook delivery or an RTM push.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// The webhook action (`incoming_event`, `thread_tagged`, …); its area comes from it.
    pub action: String,
    /// The chat it happened in; `None` for configuration events (`agent_created`, …).
    pub chat_id: Option<String>,
    pub thread_id: Option<String>,
    /// What makes a delivery the same delivery (see [`super::dedupe`]). A second event with
    /// the same key is not stored again.
    pub dedupe: String,
    /// Another key the same delivery may have been stored under before (the previous
    /// window's, for a webhook); an event stored under it makes this one a duplicate too.
    pub earlier: Option<String>,
    /// The delivery as received, JSON. Its `secret_key` fields are removed before it is
    /// stored.
    pub payload: Value,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Its place in the log: every event has a greater cursor than those stored before it,
    /// with no gaps, and a cursor is never given twice (across restarts too).
    pub cursor: u64,
    pub action: String,
    /// The area an agent must be able to read to see it.
    pub area: Area,
    pub chat_id: Option<String>,
    pub thread_id: Option<String>,
    /// When the log stored it, RFC 3339 in UTC with milliseconds (`2026-12-03T17:40:00.123Z`).
    pub at: String,
    pub dedupe: String,
    /// The payload as received, less its `secret_key` fields.
    pub payload: Value,
}

/// What a reader may and wants to see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// The areas the reader may read; events of other areas are skipped. Empty: nothing.
    pub areas: Vec<Area>,
    /// Only these actions; `None` (or an empty list) for all.
    pub types: Option<Vec<String>>,
    /// Only this chat's events.
    pub chat_id: Option<String>,
}

impl Filter {
    /// Everything in `areas`.
    pub fn areas(areas: impl IntoIterator<Item = Area>) -> Filter {
        Filter {
            areas: areas.into_iter().collect(),
            ..Filter::default()
        }
    }

    pub(super) fn area_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.areas.iter().map(|a| a.as_str().to_string()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The actions asked for, `None` for all.
    pub(super) fn type_names(&self) -> Option<Vec<String>> {
        self.types.clone().filter(|types| !types.is_empty())
    }
}

/// One read's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The events after the cursor the reader passed, oldest first, at most the limit.
    pub events: Vec<Event>,
    /// The cursor to pass next time: past every event this read looked at, those the filter
    /// skipped included, so a reader who may see little does not read the same rows again.
    pub cursor: u64,
}

/// What `append` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The event's cursor: the new one, or the one it was first stored with.
    pub cursor: u64,
    /// The dedupe key was there already: nothing was stored (LiveChat retried a delivery).
    pub duplicate: bool,
}

/// The cursor as clients see it: an opaque string (today its decimal digits).
pub fn format_cursor(cursor: u64) -> String {
    cursor.to_string()
}

/// A client's cursor string back as the number inside.
pub fn parse_cursor(text: &str) -> Result<u64, EventError> {
    let bad = || EventError::BadCursor {
        given: text.to_string(),
    };
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

/// The chat and thread an action's payload is about, in the v3.5 and v3.6 shapes of webhooks
/// and RTM pushes alike: `chat_id` and `thread_id`, or `chat.id` and `chat.thread.id`
/// (`incoming_chat`).
pub fn chat_and_thread(
    payload: &serde_json::Map<String, Value>,
) -> (Option<String>, Option<String>) {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let chat_id = text(payload.get("chat_id"))
        .or_else(|| text(payload.get("chat").and_then(|c| c.get("id"))));
    let thread_id = text(payload.get("thread_id")).or_else(|| {
        text(
            payload
                .get("chat")
                .and_then(|c| c.get("thread"))
                .and_then(|t| t.get("id")),
        )
    });
    (chat_id, thread_id)
}

/// Checks an ID-like field: not empty, not too long, no control characters (PostgreSQL
/// refuses NUL in text, and they have no business in an ID).
pub(super) fn check_id(field: &'static str, value: &str) -> Result<(), EventError> {
    let problem = if value.is_empty() {
        "is empty".to_string()
    } else if value.len() > MAX_ID_BYTES {
        format!("is longer than {MAX_ID_BYTES} bytes")
    } else if value.chars().any(char::is_control) {
        "holds a control character".to_string()
    } else {
        return Ok(());
    };
    Err(EventError::Invalid { field, problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_as_written_and_nothing_else_reads() {
        assert_eq!(parse_cursor(&format_cursor(0)), Ok(0));
        assert_eq!(parse_cursor(&format_cursor(u64::MAX)), Ok(u64::MAX));
        for bad in [
            "",
            "-1",
            "+1",
            "1.0",
            " 1",
            "abc",
            "18446744073709551616",
            "١",
        ] {
            assert!(
                matches!(parse_cursor(bad), Err(EventError::BadCursor { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("chat_id", "PJ0MRSHTDG").is_ok());
        for bad in [String::new(), "a\0b".to_string(), "x".repeat(257)] {
            assert!(
                matches!(
                    check_id("chat_id", &bad),
                    Err(EventError::Invalid {
                        field: "chat_id",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
