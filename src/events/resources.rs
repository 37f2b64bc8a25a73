//! The event log as MCP resources (issue 13, "Push"): a chat is `livechat://chats/{chat_id}`
//! and the agent's recent events are `livechat://events`. Only a server with an event log
//! offers them. This module knows the URIs and what lists them; reading goes through the
//! server's one call path (`get_chat`, `get_events`), and subscriptions are in
//! [`super::notify`].

use std::fmt;

use rmcp::model::{Resource, ResourceTemplate};

use super::Event;

/// The agent's recent events.
pub const EVENTS_URI: &str = "livechat://events";

/// What every chat URI starts with.
pub const CHAT_PREFIX: &str = "livechat://chats/";

/// The chat resources, as an RFC 6570 template.
pub const CHAT_TEMPLATE: &str = "livechat://chats/{chat_id}";

/// The longest URI looked at, in bytes; a longer one is refused unread.
pub const MAX_URI_BYTES: usize = 256;

/// The longest chat ID in a URI. LiveChat's are ten characters (`PJ0MRSHTDG`).
pub const MAX_CHAT_ID: usize = 64;

/// How the audit trail names a subscription to a chat or to the events, its end, and (for a
/// URI that names nothing) a subscribe, an unsubscribe and a read refused for it.
pub const SUBSCRIBE_CHAT: &str = "subscribe_chat";
pub const SUBSCRIBE_EVENTS: &str = "subscribe_events";
pub const UNSUBSCRIBE_CHAT: &str = "unsubscribe_chat";
pub const UNSUBSCRIBE_EVENTS: &str = "unsubscribe_events";
pub const SUBSCRIBE: &str = "subscribe_resource";
pub const UNSUBSCRIBE: &str = "unsubscribe_resource";
pub const READ: &str = "read_resource";

/// The audit sentence's words for one of the rows above: what was done and what was tried
/// (`subscribed to chat PJ0MRSHTDG`, `subscribe to chat PJ0MRSHTDG`); `None` for any other
/// tool. `chat` is the row's chat.
pub fn audit_phrases(tool: &str, chat: Option<&str>) -> Option<(String, String)> {
    let chat = chat.unwrap_or("?");
    let (past, base) = match tool {
        SUBSCRIBE_CHAT => (
            format!("subscribed to chat {chat}"),
            format!("subscribe to chat {chat}"),
        ),
        UNSUBSCRIBE_CHAT => (
            format!("unsubscribed from chat {chat}"),
            format!("unsubscribe from chat {chat}"),
        ),
        SUBSCRIBE_EVENTS => (
            "subscribed to help desk events".into(),
            "subscribe to help desk events".into(),
        ),
        UNSUBSCRIBE_EVENTS => (
            "unsubscribed from help desk events".into(),
            "unsubscribe from help desk events".into(),
        ),
        SUBSCRIBE => (
            "subscribed to a resource".into(),
            "subscribe to a resource".into(),
        ),
        UNSUBSCRIBE => (
            "unsubscribed from a resource".into(),
            "unsubscribe from a resource".into(),
        ),
        READ => ("read a resource".into(), "read a resource".into()),
        _ => return None,
    };
    Some((past, base))
}

/// A resource this server serves.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceUri {
    /// `livechat://events`.
    Events,
    /// `livechat://chats/{chat_id}`.
    Chat(String),
}

/// Why a URI names nothing this server serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UriError {
    TooLong {
        bytes: usize,
    },
    /// Not `livechat://…`.
    UnknownScheme,
    /// `livechat://` but neither a chat nor the events.
    UnknownResource,
    /// `livechat://chats/…` with an ID that cannot be a chat's.
    BadChatId {
        problem: &'static str,
    },
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = format!("resources are `{EVENTS_URI}` and `{CHAT_TEMPLATE}`");
        match self {
            UriError::TooLong { bytes } => write!(
                f,
                "invalid_arguments: the resource URI is {bytes} bytes, over the {MAX_URI_BYTES} a resource URI of this server can be; {hint}"
            ),
            UriError::UnknownScheme => write!(
                f,
                "invalid_arguments: the resource URI is not a `livechat://` URI; {hint}"
            ),
            UriError::UnknownResource => write!(
                f,
                "invalid_arguments: the resource URI names no resource of this server; {hint}"
            ),
            UriError::BadChatId { problem } => write!(
                f,
                "invalid_arguments: the chat ID in the resource URI {problem}; {hint}, with a chat ID such as PJ0MRSHTDG"
            ),
        }
    }
}

impl std::error::Error for UriError {}

impl ResourceUri {
    /// The resource `uri` names. Nothing of the URI is echoed in the error: it may be
    /// anything a client sent.
    pub fn parse(uri: &str) -> Result<ResourceUri, UriError> {
        if uri.len() > MAX_URI_BYTES {
            return Err(UriError::TooLong { bytes: uri.len() });
        }
        if uri == EVENTS_URI {
            return Ok(ResourceUri::Events);
        }
        if !uri.starts_with("livechat://") {
            return Err(UriError::UnknownScheme);
        }
        let Some(id) = uri.strip_prefix(CHAT_PREFIX) else {
            return Err(UriError::UnknownResource);
        };
        let problem = if id.is_empty() {
            "is empty"
        } else if id.len() > MAX_CHAT_ID {
            "is longer than 64 characters"
        } else if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            "may hold only letters, digits, `_` and `-`"
        } else {
            return Ok(ResourceUri::Chat(id.to_string()));
        };
        Err(UriError::BadChatId { problem })
    }

    /// The URI as clients write it.
    pub fn uri(&self) -> String {
        match self {
            ResourceUri::Events => EVENTS_URI.to_string(),
            ResourceUri::Chat(id) => format!("{CHAT_PREFIX}{id}"),
        }
    }

    /// Whether `event` changes what this resource reads: any event for the events, an event
    /// in the chat for a chat. (Which events reach a reader at all is its grants' filter.)
    pub fn touched_by(&self, event: &Event) -> bool {
        match self {
            ResourceUri::Events => true,
            ResourceUri::Chat(id) => event.chat_id.as_deref() == Some(id.as_str()),
        }
    }

    /// The chat, for a chat URI.
    pub fn chat_id(&self) -> Option<&str> {
        match self {
            ResourceUri::Events => None,
            ResourceUri::Chat(id) => Some(id),
        }
    }
}

/// The resources every agent of a server with events has: its events.
pub fn resources() -> Vec<Resource> {
    vec![
        Resource::new(EVENTS_URI, "events")
            .with_title("Help desk events")
            .with_description(
                "Your recent help desk events (those your access lets you read), as get_events returns them. Subscribe to be told of new ones.",
            )
            .with_mime_type("application/json"),
    ]
}

/// The chat template, for an agent that may read chats; none for one that may not.
pub fn templates(may_read_chats: bool) -> Vec<ResourceTemplate> {
    if !may_read_chats {
        return Vec::new();
    }
    vec![
        ResourceTemplate::new(CHAT_TEMPLATE, "chat")
            .with_title("Chat")
            .with_description(
                "A chat as get_chat returns it. Subscribe to be told when an event touches it.",
            )
            .with_mime_type("application/json"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::Area;

    fn event(chat: Option<&str>) -> Event {
        Event {
            cursor: 1,
            action: "incoming_event".into(),
            area: Area::Chats,
            chat_id: chat.map(str::to_string),
            thread_id: None,
            at: String::new(),
            dedupe: "d".into(),
            payload: serde_json::Value::Null,
        }
    }

    #[test]
    fn good_uris_parse_and_print_back() {
        for uri in ["livechat://events", "livechat://chats/PJ0MRSHTDG"] {
            assert_eq!(ResourceUri::parse(uri).unwrap().uri(), uri);
        }
        assert_eq!(
            ResourceUri::parse("livechat://chats/PJ0MRSHTDG").unwrap(),
            ResourceUri::Chat("PJ0MRSHTDG".into())
        );
    }

    #[test]
    fn bad_uris_are_refused_naming_the_problem_and_not_echoed() {
        let cases = [
            ("https://example.com/x", UriError::UnknownScheme),
            ("file:///etc/passwd", UriError::UnknownScheme),
            ("livechat://agents/x", UriError::UnknownResource),
            ("livechat://events/1", UriError::UnknownResource),
            (
                "livechat://chats/",
                UriError::BadChatId {
                    problem: "is empty",
                },
            ),
            (
                "livechat://chats/A/B",
                UriError::BadChatId {
                    problem: "may hold only letters, digits, `_` and `-`",
                },
            ),
            (
                "livechat://chats/%2e%2e",
                UriError::BadChatId {
                    problem: "may hold only letters, digits, `_` and `-`",
                },
            ),
        ];
        for (uri, error) in cases {
            assert_eq!(ResourceUri::parse(uri), Err(error.clone()), "{uri}");
            // What follows the scheme is the client's: never echoed.
            let theirs = uri.split("://").nth(1).unwrap_or(uri);
            let echoed =
                !["", "chats/", "events"].contains(&theirs) && error.to_string().contains(theirs);
            assert!(!echoed, "{error}");
        }
        let long_id = format!("livechat://chats/{}", "A".repeat(65));
        assert!(matches!(
            ResourceUri::parse(&long_id),
            Err(UriError::BadChatId { .. })
        ));
        let huge = format!("livechat://chats/{}", "A".repeat(1 << 20));
        let error = ResourceUri::parse(&huge).unwrap_err();
        assert_eq!(error, UriError::TooLong { bytes: huge.len() });
        assert!(error.to_string().len() < 300, "{error}");
    }

    #[test]
    fn a_chat_is_touched_by_its_own_events_only_and_the_events_by_all() {
        let chat = ResourceUri::Chat("C1".into());
        assert!(chat.touched_by(&event(Some("C1"))));
        assert!(!chat.touched_by(&event(Some("C2"))));
        assert!(!chat.touched_by(&event(None)));
        assert!(ResourceUri::Events.touched_by(&event(None)));
    }

    #[test]
    fn the_chat_template_is_listed_only_for_a_reader_of_chats() {
        assert_eq!(templates(true)[0].uri_template, CHAT_TEMPLATE);
        assert!(templates(false).is_empty());
    }
}
