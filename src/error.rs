//! What can go wrong on a call, in two layers: `ApiError` is what LiveChat or the network said;
//! `ToolFailure` is what the model reads. Neither ever carries a token.

use std::fmt;

use serde_json::Value;

use crate::scopes::Requirement;

/// A failed upstream call.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// The server has no usable credentials; the message says which variables to set.
    NoCredentials(String),
    /// LiveChat answered with its error envelope `{"error":{"type","message","data"}}`.
    LiveChat {
        kind: String,
        message: String,
        data: Option<Value>,
        status: u16,
    },
    /// No answer within the per-request timeout.
    Timeout { secs: u64 },
    /// The request never got an answer: refused connection, DNS, TLS, reset.
    Network(String),
    /// An answer that is not JSON, or JSON that is neither a result nor an error envelope.
    BadResponse { status: u16, detail: String },
}

impl ApiError {
    /// A short machine-readable kind: LiveChat's error type, or `timeout`, `network`,
    /// `bad_response`, `no_credentials`.
    pub fn kind(&self) -> &str {
        match self {
            ApiError::NoCredentials(_) => "no_credentials",
            ApiError::LiveChat { kind, .. } => kind,
            ApiError::Timeout { .. } => "timeout",
            ApiError::Network(_) => "network",
            ApiError::BadResponse { .. } => "bad_response",
        }
    }

    /// The text the model reads: first line `type: message`, then a hint for what to do next.
    /// `method` and `scopes` are the tool's, for the `authorization` hint.
    pub fn describe(&self, method: &str, scopes: Requirement) -> String {
        match self {
            ApiError::NoCredentials(message) => format!("no_credentials: {message}"),
            ApiError::LiveChat {
                kind,
                message,
                data,
                ..
            } => {
                let mut text = format!("{kind}: {message}");
                if let Some(data) = data.as_ref().filter(|d| !d.is_null()) {
                    text.push_str(&format!("\ndetails: {data}"));
                }
                text.push_str("\nhint: ");
                text.push_str(&hint(kind, method, scopes, data.as_ref()));
                text
            }
            ApiError::Timeout { secs } => format!(
                "timeout: LiveChat did not answer `{method}` within {secs} s\nhint: the request may still have been carried out; check before retrying a write, or raise --timeout-secs"
            ),
            ApiError::Network(detail) => format!(
                "network: could not reach LiveChat for `{method}`: {detail}\nhint: check --api-url / LIVECHAT_API_URL and the network, then retry"
            ),
            ApiError::BadResponse { status, detail } => format!(
                "bad_response: LiveChat answered `{method}` with HTTP {status} and {detail}\nhint: this is not a LiveChat API answer; check --api-url / LIVECHAT_API_URL"
            ),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("request", Requirement::NONE))
    }
}

impl std::error::Error for ApiError {}

fn hint(kind: &str, method: &str, scopes: Requirement, data: Option<&Value>) -> String {
    match kind {
        "authentication" => "the access token is missing, invalid or expired: give the server a fresh LIVECHAT_ACCESS_TOKEN, or LIVECHAT_PAT with LIVECHAT_ACCOUNT_ID".to_string(),
        "authorization" if !scopes.is_empty() => format!(
            "`{method}` needs the scope {}; grant it to the token's app or use a method the token allows",
            scopes.quoted()
        ),
        "authorization" => "the token lacks the scope this method needs".to_string(),
        "validation" => "correct the argument the message names and call again".to_string(),
        "not_found" | "group_not_found" => {
            "check the ID; list the items first to find the right one".to_string()
        }
        "already_exists" => "it exists already: read or update it instead of creating it".to_string(),
        "chat_inactive" => "the chat is not active: resume it with `resume_chat`, or send with `attach_to_last_thread: true` to add to its last thread".to_string(),
        "missing_access" => "the requester has no access to that chat or thread; transfer it or add the agent first".to_string(),
        "too_many_requests" => "the license's request quota is used up; wait a little, then retry more slowly".to_string(),
        "request_timeout" | "internal" | "service_unavailable" => {
            "LiveChat failed to handle the request; retry shortly".to_string()
        }
        "misdirected_request" => format!(
            "the token belongs to another data centre{}; the server retries once with it, so a repeat means the token and region disagree",
            data.and_then(|d| d.get("region"))
                .and_then(Value::as_str)
                .map(|r| format!(" (`{r}`)"))
                .unwrap_or_default()
        ),
        "license_expired" | "license_not_found" | "wrong_product_version" => {
            "the LiveChat license cannot serve API calls; an owner must fix the subscription".to_string()
        }
        "agent_offline" => "the agent must be online (accepting or not accepting chats) for this".to_string(),
        "limit_reached" => "a license limit was reached; remove something first".to_string(),
        "entity_too_large" => "the request is too large; send less at once".to_string(),
        "unsupported_version" => "use --api-version 3.5 or 3.6".to_string(),
        _ => "see LiveChat's error reference for this type".to_string(),
    }
}

/// A failed tool call as the model sees it: a kind for logs and audit, and the text.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolFailure {
    /// LiveChat's error type, or `invalid_arguments`, `not_available`, `timeout`, `network`, ...
    pub kind: String,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn livechat_errors_start_with_type_and_message() {
        let e = ApiError::LiveChat {
            kind: "authorization".into(),
            message: "Insufficient scopes".into(),
            data: None,
            status: 403,
        };
        let text = e.describe(
            "list_chats",
            Requirement::any_of(&["chats--all:ro", "chats--access:ro"]),
        );
        assert!(
            text.starts_with("authorization: Insufficient scopes\n"),
            "{text}"
        );
        assert!(
            text.contains("`chats--all:ro` or `chats--access:ro`"),
            "{text}"
        );
        assert_eq!(e.kind(), "authorization");
    }

    #[test]
    fn data_and_region_hint_are_shown() {
        let e = ApiError::LiveChat {
            kind: "misdirected_request".into(),
            message: "Wrong region".into(),
            data: Some(json!({"region": "fra"})),
            status: 421,
        };
        let text = e.describe("get_chat", Requirement::NONE);
        assert!(text.contains("details: {\"region\":\"fra\"}"), "{text}");
        assert!(text.contains("(`fra`)"), "{text}");
    }
}
