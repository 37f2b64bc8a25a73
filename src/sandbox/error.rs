//! The sandbox's errors: LiveChat's error types, messages that name the field, and the HTTP
//! status each type is served with.
//!
//! LiveChat documents the envelope `{"error":{"type","message","data"?}}` but no status table,
//! and clients key on `error.type`. The sandbox answers:
//!
//! | type                                                   | status |
//! | ------------------------------------------------------ | ------ |
//! | `validation`, `unsupported_version`                    | 400    |
//! | `authentication`                                       | 401    |
//! | `authorization`, `missing_access`, `customer_banned`   | 403    |
//! | `not_found`, `group_not_found`                         | 404    |
//! | `already_exists`, `chat_inactive`, `agent_offline`, `limit_reached` | 409 |
//! | `entity_too_large`                                     | 413    |
//! | `internal`                                             | 500    |
//!
//! A request that is not a POST gets a `validation` envelope with 405.

use std::fmt;

use serde_json::{Value, json};

/// A LiveChat error: the `type`, the `message` and optional `data` of the envelope.
#[derive(Clone, Debug, PartialEq)]
pub struct LcError {
    pub kind: &'static str,
    pub message: String,
    pub data: Option<Value>,
}

impl LcError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> LcError {
        LcError {
            kind,
            message: message.into(),
            data: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> LcError {
        LcError::new("validation", message)
    }

    pub fn not_found(message: impl Into<String>) -> LcError {
        LcError::new("not_found", message)
    }

    pub fn group_not_found(message: impl Into<String>) -> LcError {
        LcError::new("group_not_found", message)
    }

    pub fn already_exists(message: impl Into<String>) -> LcError {
        LcError::new("already_exists", message)
    }

    pub fn chat_inactive(message: impl Into<String>) -> LcError {
        LcError::new("chat_inactive", message)
    }

    pub fn authentication(message: impl Into<String>) -> LcError {
        LcError::new("authentication", message)
    }

    pub fn authorization(message: impl Into<String>) -> LcError {
        LcError::new("authorization", message)
    }

    pub fn missing_access(message: impl Into<String>) -> LcError {
        LcError::new("missing_access", message)
    }

    pub fn agent_offline(message: impl Into<String>) -> LcError {
        LcError::new("agent_offline", message)
    }

    pub fn limit_reached(message: impl Into<String>) -> LcError {
        LcError::new("limit_reached", message)
    }

    pub fn customer_banned(message: impl Into<String>) -> LcError {
        LcError::new("customer_banned", message)
    }

    pub fn internal(message: impl Into<String>) -> LcError {
        LcError::new("internal", message)
    }

    pub fn with_data(mut self, data: Value) -> LcError {
        self.data = Some(data);
        self
    }

    /// The HTTP status the sandbox serves this error with (see the module table).
    pub fn status(&self) -> u16 {
        match self.kind {
            "authentication" => 401,
            "authorization" | "missing_access" | "customer_banned" => 403,
            "not_found" | "group_not_found" => 404,
            "already_exists" | "chat_inactive" | "agent_offline" | "limit_reached" => 409,
            "entity_too_large" => 413,
            "internal" => 500,
            _ => 400,
        }
    }

    /// The error envelope LiveChat answers with.
    pub fn envelope(&self) -> Value {
        let mut error = json!({"type": self.kind, "message": self.message});
        if let (Some(data), Some(fields)) = (&self.data, error.as_object_mut()) {
            fields.insert("data".into(), data.clone());
        }
        json!({ "error": error })
    }
}

impl fmt::Display for LcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for LcError {}

/// What every handler returns.
pub type LcResult<T> = Result<T, LcError>;
