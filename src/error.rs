//! What can go wrong on a call, in two layers: `ApiError` is what LiveChat or the network said;
//! `ToolFailure` is what the model reads. Neither ever carries a token.

use std::{fmt, time::Duration};

use serde_json::Value;

use crate::retry::human;

/// LiveChat's error types (the envelope's `error.type`), with `Other` for a type this server
/// does not know, kept as LiveChat wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    Authentication,
    Authorization,
    Validation,
    NotFound,
    GroupNotFound,
    AlreadyExists,
    ChatInactive,
    MissingAccess,
    TooManyRequests,
    RequestTimeout,
    Internal,
    ServiceUnavailable,
    MisdirectedRequest,
    LicenseExpired,
    LicenseNotFound,
    WrongProductVersion,
    AgentOffline,
    LimitReached,
    EntityTooLarge,
    UnsupportedVersion,
    Other(String),
}

/// Every known type with its name on the wire.
const KNOWN: &[(ErrorType, &str)] = &[
    (ErrorType::Authentication, "authentication"),
    (ErrorType::Authorization, "authorization"),
    (ErrorType::Validation, "validation"),
    (ErrorType::NotFound, "not_found"),
    (ErrorType::GroupNotFound, "group_not_found"),
    (ErrorType::AlreadyExists, "already_exists"),
    (ErrorType::ChatInactive, "chat_inactive"),
    (ErrorType::MissingAccess, "missing_access"),
    (ErrorType::TooManyRequests, "too_many_requests"),
    (ErrorType::RequestTimeout, "request_timeout"),
    (ErrorType::Internal, "internal"),
    (ErrorType::ServiceUnavailable, "service_unavailable"),
    (ErrorType::MisdirectedRequest, "misdirected_request"),
    (ErrorType::LicenseExpired, "license_expired"),
    (ErrorType::LicenseNotFound, "license_not_found"),
    (ErrorType::WrongProductVersion, "wrong_product_version"),
    (ErrorType::AgentOffline, "agent_offline"),
    (ErrorType::LimitReached, "limit_reached"),
    (ErrorType::EntityTooLarge, "entity_too_large"),
    (ErrorType::UnsupportedVersion, "unsupported_version"),
];

impl ErrorType {
    /// The type named `name` on the wire. A type LiveChat does not document that is spelled
    /// like one of this server's own failures (`invalid_arguments`, `timeout`, …) is renamed
    /// `livechat_…`, so an upstream answer cannot pass for a call that was never sent, in
    /// the tool result or the audit trail.
    pub fn parse(name: &str) -> ErrorType {
        KNOWN
            .iter()
            .find(|(_, wire)| *wire == name)
            .map(|(known, _)| known.clone())
            .unwrap_or_else(|| {
                if FailureKind::OWN.iter().any(|own| own.as_str() == name) {
                    ErrorType::Other(format!("livechat_{name}"))
                } else {
                    ErrorType::Other(name.to_string())
                }
            })
    }

    /// The name on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorType::Other(name) => name,
            known => KNOWN
                .iter()
                .find(|(k, _)| k == known)
                .map(|(_, wire)| *wire)
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a tool call failed, as the audit trail, the metrics and the first word of the model's
/// error text name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The arguments do not fit the tool's schema; nothing was sent.
    InvalidArguments,
    /// The tool does not exist or is not granted; nothing was sent.
    NotAvailable,
    /// The server has no usable LiveChat credentials.
    NoCredentials,
    /// LiveChat did not answer in time.
    Timeout,
    /// LiveChat could not be reached.
    Network,
    /// The answer was not a LiveChat API answer.
    BadResponse,
    /// The answer was over `--max-response-bytes`.
    ResponseTooLarge,
    /// The audit trail could not record the call ahead of sending it; nothing was sent.
    AuditUnavailable,
    /// This server's limiter could not give the call a turn within its retry budget; nothing
    /// was sent.
    RateLimited,
    /// The agent is over one of its own quotas (`limits` in the policy); nothing was sent.
    OverQuota,
    /// The client cancelled the call, or its session ended, before it finished.
    Cancelled,
    /// The call waits for a person's approval (`approve` in the policy); nothing was sent.
    PendingApproval,
    /// A person declined the held call, or nobody can approve it; nothing was sent.
    ApprovalDenied,
    /// LiveChat answered with its error envelope.
    LiveChat(ErrorType),
}

impl FailureKind {
    pub fn as_str(&self) -> &str {
        match self {
            FailureKind::InvalidArguments => "invalid_arguments",
            FailureKind::NotAvailable => "not_available",
            FailureKind::NoCredentials => "no_credentials",
            FailureKind::Timeout => "timeout",
            FailureKind::Network => "network",
            FailureKind::BadResponse => "bad_response",
            FailureKind::ResponseTooLarge => "response_too_large",
            FailureKind::AuditUnavailable => "audit_unavailable",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::OverQuota => "over_quota",
            FailureKind::Cancelled => "cancelled",
            FailureKind::PendingApproval => "pending_approval",
            FailureKind::ApprovalDenied => "approval_denied",
            FailureKind::LiveChat(kind) => kind.as_str(),
        }
    }

    /// Every failure this server names itself (all but LiveChat's own types).
    pub const OWN: [FailureKind; 13] = [
        FailureKind::InvalidArguments,
        FailureKind::NotAvailable,
        FailureKind::NoCredentials,
        FailureKind::Timeout,
        FailureKind::Network,
        FailureKind::BadResponse,
        FailureKind::ResponseTooLarge,
        FailureKind::AuditUnavailable,
        FailureKind::RateLimited,
        FailureKind::OverQuota,
        FailureKind::Cancelled,
        FailureKind::PendingApproval,
        FailureKind::ApprovalDenied,
    ];

    /// The failures this server decides itself, without asking LiveChat.
    pub const LOCAL: [FailureKind; 8] = [
        FailureKind::InvalidArguments,
        FailureKind::NotAvailable,
        FailureKind::NoCredentials,
        FailureKind::AuditUnavailable,
        FailureKind::RateLimited,
        FailureKind::OverQuota,
        FailureKind::PendingApproval,
        FailureKind::ApprovalDenied,
    ];
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why something could not start. Each says what failed and, where it can, what to fix.
#[derive(Debug)]
pub enum StartError {
    /// The HTTP client could not be built (its TLS set-up failed).
    HttpClient(String),
    /// A tool's input schema does not compile: a defect in the tool's definition.
    Schema { tool: &'static str, detail: String },
    /// A socket could not be bound.
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// A sandbox scenario is unreadable or invalid; the text names the file and field.
    Scenario(String),
    /// A server task stopped with an error.
    Task(String),
    /// The settings do not make a server that can run; the text says which and why.
    Settings(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::HttpClient(detail) => write!(f, "cannot build the HTTP client: {detail}"),
            StartError::Schema { tool, detail } => {
                write!(f, "the input schema of `{tool}` does not compile: {detail}")
            }
            StartError::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            StartError::Scenario(detail) => f.write_str(detail),
            StartError::Task(detail) => write!(f, "a server task failed: {detail}"),
            StartError::Settings(detail) => f.write_str(detail),
        }
    }
}

impl std::error::Error for StartError {}

use crate::scopes::Requirement;

/// A failed upstream call.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// The server has no usable credentials; the message says which variables to set.
    NoCredentials(String),
    /// LiveChat answered with its error envelope `{"error":{"type","message","data"}}`.
    LiveChat {
        kind: ErrorType,
        message: String,
        data: Option<Value>,
        status: u16,
    },
    /// No answer within the per-request timeout.
    Timeout { secs: u64 },
    /// An answer over `--max-response-bytes`: `declared` when its length said so up front.
    TooLarge { declared: Option<u64>, max: usize },
    /// No connection could be opened (refused, DNS, a TLS failure): nothing was sent.
    Unreachable(String),
    /// The server's TLS certificate was refused (no trusted root signed it, or it names
    /// another host): nothing was sent, and trying again cannot help.
    Untrusted(String),
    /// The request may have been sent, but no answer came: the connection broke.
    Network(String),
    /// This server's limiter would have given the call its turn only after `needed`, past
    /// the retry budget (or its queue was full): nothing was sent.
    Throttled {
        needed: Duration,
        budget: Duration,
        queue_full: bool,
    },
    /// LiveChat kept refusing for the license's quota until the retry budget was spent.
    QuotaExhausted {
        attempts: u32,
        /// When LiveChat (or the backoff) says to try again.
        retry_in: Option<Duration>,
    },
    /// The client cancelled the call; `sent` when a request had gone out.
    Cancelled { sent: bool },
    /// An answer that is not JSON, or JSON that is neither a result nor an error envelope.
    BadResponse { status: u16, detail: String },
}

impl ApiError {
    /// What kind of failure this is: LiveChat's error type, or `timeout`, `network`,
    /// `bad_response`, `no_credentials`.
    pub fn kind(&self) -> FailureKind {
        match self {
            ApiError::NoCredentials(_) => FailureKind::NoCredentials,
            ApiError::LiveChat { kind, .. } => FailureKind::LiveChat(kind.clone()),
            ApiError::Timeout { .. } => FailureKind::Timeout,
            ApiError::Unreachable(_) | ApiError::Untrusted(_) | ApiError::Network(_) => {
                FailureKind::Network
            }
            ApiError::Throttled { .. } => FailureKind::RateLimited,
            ApiError::QuotaExhausted { .. } => FailureKind::LiveChat(ErrorType::TooManyRequests),
            ApiError::Cancelled { .. } => FailureKind::Cancelled,
            ApiError::BadResponse { .. } => FailureKind::BadResponse,
            ApiError::TooLarge { .. } => FailureKind::ResponseTooLarge,
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
            ApiError::Unreachable(detail) => format!(
                "network: could not reach LiveChat for `{method}`, nothing was sent: {detail}\nhint: check --api-url / LIVECHAT_API_URL and the network, then retry"
            ),
            ApiError::Untrusted(detail) => format!(
                "network: LiveChat's TLS certificate was refused, so `{method}` was not sent: {detail}\nhint: the system's root certificates must include the CA that signed it (a TLS-inspecting proxy's own CA, say: add it to the system's store, or name a file of CAs with SSL_CERT_FILE); retrying will not help"
            ),
            ApiError::Network(detail) => format!(
                "network: the connection to LiveChat broke during `{method}`: {detail}\nhint: check the network, then retry; LiveChat may have carried out a write"
            ),
            ApiError::Throttled {
                needed,
                budget,
                queue_full,
            } => format!(
                "rate_limited: `{method}` was not called, nothing was sent to LiveChat: this server spaces its calls to protect the license's request quota, which everyone on the license shares, and {}\nhint: try again in {}, and make fewer calls at once",
                if *queue_full {
                    "too many calls are waiting already".to_string()
                } else {
                    format!(
                        "this call's turn would come in {}, after its retry budget of {}",
                        human(*needed),
                        human(*budget)
                    )
                },
                human((*needed).max(Duration::from_secs(1)))
            ),
            ApiError::QuotaExhausted { attempts, retry_in } => format!(
                "too_many_requests: LiveChat refused `{method}` {attempts} time{} for the license's request quota, which is used up; the quota is shared by everyone on the license, the human agents' apps included\nhint: {}",
                if *attempts == 1 { "" } else { "s" },
                match retry_in {
                    Some(wait) => format!("try again in {}, then call more slowly", human(*wait)),
                    None => "wait a little, then call more slowly".to_string(),
                }
            ),
            ApiError::Cancelled { sent } => format!(
                "cancelled: `{method}` was cancelled by the client{}",
                if *sent {
                    "; its request had reached LiveChat"
                } else {
                    ", nothing was sent to LiveChat"
                }
            ),
            ApiError::TooLarge { declared, max } => format!(
                "response_too_large: LiveChat's answer to `{method}` is {} the {max} bytes this server reads (--max-response-bytes), so it was not read\nhint: ask for less at once (a smaller `limit`, fewer `fields`, narrower filters); a write may still have been carried out",
                match declared {
                    Some(n) => format!("{n} bytes, over"),
                    None => "over".to_string(),
                }
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

fn hint(kind: &ErrorType, method: &str, scopes: Requirement, data: Option<&Value>) -> String {
    use ErrorType as T;
    match kind {
        T::Authentication => "the access token is missing, invalid or expired: give the server a fresh LIVECHAT_ACCESS_TOKEN, or LIVECHAT_PAT with LIVECHAT_ACCOUNT_ID".to_string(),
        T::Authorization if !scopes.is_empty() => format!(
            "`{method}` needs the scope {}; grant it to the token's app or use a method the token allows",
            scopes.quoted()
        ),
        T::Authorization => "the token lacks the scope this method needs".to_string(),
        T::Validation => "correct the argument the message names and call again".to_string(),
        T::NotFound | T::GroupNotFound => {
            "check the ID; list the items first to find the right one".to_string()
        }
        T::AlreadyExists => "it exists already: read or update it instead of creating it".to_string(),
        T::ChatInactive => "the chat is not active: resume it with `resume_chat`, then send again".to_string(),
        T::MissingAccess => "the requester has no access to that chat or thread; transfer it or add the agent first".to_string(),
        T::TooManyRequests => "the license's request quota is used up; wait a little, then retry more slowly".to_string(),
        T::RequestTimeout | T::Internal | T::ServiceUnavailable => {
            "LiveChat failed to handle the request; retry shortly".to_string()
        }
        T::MisdirectedRequest => format!(
            "the token belongs to another data centre{}; the server retries once with it, so a repeat means the token and region disagree",
            data.and_then(|d| d.get("region"))
                .and_then(Value::as_str)
                .map(|r| format!(" (`{r}`)"))
                .unwrap_or_default()
        ),
        T::LicenseExpired | T::LicenseNotFound | T::WrongProductVersion => {
            "the LiveChat license cannot serve API calls; an owner must fix the subscription".to_string()
        }
        T::AgentOffline => "the agent must be online (accepting or not accepting chats) for this".to_string(),
        T::LimitReached => "a license limit was reached; remove something first".to_string(),
        T::EntityTooLarge => "the request is too large; send less at once".to_string(),
        T::UnsupportedVersion => "use --api-version 3.5 or 3.6".to_string(),
        T::Other(_) => "see LiveChat's error reference for this type".to_string(),
    }
}

/// A failed tool call as the model sees it: a kind for logs and audit, and the text.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolFailure {
    pub kind: FailureKind,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn livechat_errors_start_with_type_and_message() {
        let e = ApiError::LiveChat {
            kind: ErrorType::Authorization,
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
        assert_eq!(e.kind().as_str(), "authorization");
        assert_eq!(ErrorType::parse("authorization"), ErrorType::Authorization);
        // An upstream type spelled like one of ours cannot pass for a call never sent.
        for own in FailureKind::OWN {
            assert_eq!(
                FailureKind::LiveChat(ErrorType::parse(own.as_str())).as_str(),
                format!("livechat_{}", own.as_str())
            );
        }
        assert_eq!(
            ErrorType::parse("brand_new").as_str(),
            "brand_new",
            "unknown types keep their name"
        );
        for (known, wire) in KNOWN {
            assert_eq!(ErrorType::parse(wire), *known);
            assert_eq!(known.as_str(), *wire);
        }
    }

    #[test]
    fn data_and_region_hint_are_shown() {
        let e = ApiError::LiveChat {
            kind: ErrorType::MisdirectedRequest,
            message: "Wrong region".into(),
            data: Some(json!({"region": "fra"})),
            status: 421,
        };
        let text = e.describe("get_chat", Requirement::NONE);
        assert!(text.contains("details: {\"region\":\"fra\"}"), "{text}");
        assert!(text.contains("(`fra`)"), "{text}");
    }
}
