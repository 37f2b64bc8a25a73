//! Why the event log refused or failed: one typed error, never holding a payload or a secret.

use std::fmt;

/// What went wrong with the event log. The texts are meant for an operator's log or, for the
/// cursor errors, for the client that passed the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventError {
    /// An event the log will not store as given: an empty or oversized field, a control
    /// character in an ID, a payload too large.
    Invalid {
        field: &'static str,
        problem: String,
    },
    /// A webhook action with no area: nobody could be shown it, so it is not stored.
    UnknownAction { action: String },
    /// A cursor string that is not one of ours.
    BadCursor { given: String },
    /// Events after `cursor` were dropped by retention. `oldest` is the oldest event still
    /// kept (`None` when none is); reading `after = resume_after` starts from it.
    StaleCursor {
        cursor: u64,
        oldest: Option<u64>,
        resume_after: u64,
    },
    /// A cursor beyond the newest event the log ever held: from another log, or the log was
    /// replaced.
    CursorAhead { cursor: u64, head: u64 },
    /// The store did not take the event within the bound (it is locked or slow). The event
    /// may or may not have been stored; appending it again is safe (deduplicated).
    Busy { store: String, detail: String },
    /// The store failed: it cannot be opened, read or written.
    Storage { store: String, detail: String },
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::Invalid { field, problem } => {
                write!(f, "events: `{field}` {problem}")
            }
            EventError::UnknownAction { action } => write!(
                f,
                "events: `{}` is not a LiveChat webhook action this server knows; not stored",
                cut(action)
            ),
            EventError::BadCursor { given } => write!(
                f,
                "events: `{}` is not an event cursor; pass the `cursor` a previous answer gave, or none to start from now",
                cut(given)
            ),
            EventError::StaleCursor {
                cursor,
                oldest: Some(oldest),
                resume_after,
            } => write!(
                f,
                "events: cursor {cursor} is older than the event log keeps (events after it were dropped); the oldest event still kept is {oldest}: pass {resume_after} to read from it"
            ),
            EventError::StaleCursor {
                cursor,
                oldest: None,
                resume_after,
            } => write!(
                f,
                "events: cursor {cursor} is older than the event log keeps (events after it were dropped) and no older event is kept: pass {resume_after} to read what comes next"
            ),
            EventError::CursorAhead { cursor, head } => write!(
                f,
                "events: cursor {cursor} is ahead of the newest event ({head}); it comes from another event log: pass none to start from now"
            ),
            EventError::Busy { store, detail } => write!(
                f,
                "events: {store} did not take the event in time ({detail}); it may or may not be stored, and storing it again is safe"
            ),
            EventError::Storage { store, detail } => write!(f, "events: {store}: {detail}"),
        }
    }
}

impl std::error::Error for EventError {}

/// A caller's string, at most 64 characters of it.
fn cut(text: &str) -> String {
    if text.chars().count() > 64 {
        format!("{}…", text.chars().take(64).collect::<String>())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_cursor_names_the_oldest_event_and_where_to_resume() {
        let text = EventError::StaleCursor {
            cursor: 3,
            oldest: Some(8),
            resume_after: 7,
        }
        .to_string();
        assert!(text.contains("cursor 3"), "{text}");
        assert!(text.contains("oldest event still kept is 8"), "{text}");
        assert!(text.contains("pass 7"), "{text}");
    }

    #[test]
    fn a_caller_string_is_cut() {
        let long = "x".repeat(500);
        let text = EventError::UnknownAction {
            action: long.clone(),
        }
        .to_string();
        assert!(!text.contains(&long));
        assert!(text.contains(&format!("`{}…`", "x".repeat(64))), "{text}");
    }
}
