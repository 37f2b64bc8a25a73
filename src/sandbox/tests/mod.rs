//! Tests of the sandbox: through `State::handle` for the rules, and through `spawn` + HTTP
//! for the transport.

use serde_json::Value;

use super::{
    LcError, methods,
    multipart::{Form, Part},
    seed,
    state::{Payload, State},
};
use crate::{scopes::Granted, tools::Api, version::ApiVersion};

mod bots;
mod chat_access;
mod chats;
mod config;
mod coverage;
mod customers;
mod docs_fidelity;
mod events;
mod fixtures;
mod http;
mod properties;
mod robustness;
mod rtm;
mod scopes;
mod tools;
mod uploads;
mod webhooks;

pub const V35: ApiVersion = ApiVersion::V3_5;
pub const V36: ApiVersion = ApiVersion::V3_6;

/// A fresh sandbox on the built-in seed with every scope.
pub fn sandbox() -> State {
    State::new(
        seed::load(seed::DEFAULT_SEED, "seed").unwrap(),
        Granted::every(),
    )
    .unwrap()
}

/// A fresh sandbox whose token carries only `scopes` (comma-separated).
pub fn with_scopes(scopes: &str) -> State {
    State::new(
        seed::load(seed::DEFAULT_SEED, "seed").unwrap(),
        Granted::parse_list(scopes),
    )
    .unwrap()
}

/// Calls `method` in `v`, in the API it belongs to. A method that takes a form
/// (`upload_file`) gets `body` as one (see [`form_of`]).
pub fn call(st: &mut State, v: ApiVersion, method: &str, body: Value) -> Result<Value, LcError> {
    let found = methods::find(method);
    let api = found.map_or(Api::Agent, |m| m.api);
    match found.and_then(|m| m.form) {
        Some(_) => st.handle_payload(v, api, method, Payload::Form(&form_of(&body))),
        None => st.handle(v, api, method, &body),
    }
}

/// A form written as JSON: each key a part; a string is the part's text, an object
/// `{"filename", "content_type", "data"}` a file whose bytes are the text `data`.
pub fn form_of(body: &Value) -> Form {
    let parts = body
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let text = |v: &Value| v.as_str().map(str::to_string);
            Part {
                name: name.clone(),
                filename: text(&value["filename"]),
                content_type: text(&value["content_type"]),
                data: text(value)
                    .or_else(|| text(&value["data"]))
                    .unwrap_or_default()
                    .into_bytes(),
            }
        })
        .collect();
    Form { parts }
}

/// A v3.6 call that must succeed.
#[track_caller]
/// The last event of the thread a `get_chat` answer carries.
pub fn last_event(chat: &Value) -> Value {
    chat["thread"]["events"]
        .as_array()
        .and_then(|events| events.last())
        .cloned()
        .unwrap_or_else(|| panic!("the thread has no events: {chat}"))
}

pub fn ok(st: &mut State, method: &str, body: Value) -> Value {
    ok_in(st, V36, method, body)
}

#[track_caller]
pub fn ok_in(st: &mut State, v: ApiVersion, method: &str, body: Value) -> Value {
    match call(st, v, method, body) {
        Ok(value) => value,
        Err(e) => panic!("{method} (v{v}) failed: {e}"),
    }
}

/// A v3.6 call that must fail with `kind`.
#[track_caller]
pub fn fails(st: &mut State, method: &str, body: Value, kind: &str) -> LcError {
    fails_in(st, V36, method, body, kind)
}

#[track_caller]
pub fn fails_in(st: &mut State, v: ApiVersion, method: &str, body: Value, kind: &str) -> LcError {
    match call(st, v, method, body) {
        Ok(value) => panic!("{method} (v{v}) succeeded, expected {kind}: {value}"),
        Err(e) => {
            assert_eq!(e.kind, kind, "{method} (v{v}): {e}");
            e
        }
    }
}
