//! The official SDK's golden requests (`tests/fixtures/sdk`) replayed against the sandbox:
//! every documented field is accepted, and the only failures are the license's own answers
//! (a made-up page ID, an active chat to resume, a tag not yet defined, ...).

use serde_json::Value;

use super::{call, sandbox};
use crate::sandbox::{
    LcError, multipart,
    state::{Payload, State},
};
use crate::{tools::Api, version::ApiVersion};

/// Sends a fixture's request: its JSON body, or its form (`upload_file`) as the SDK laid it out.
fn replay(st: &mut State, version: ApiVersion, case: &Value) -> Result<Value, LcError> {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    let tool = case["tool"].as_str().unwrap();
    let Some(form) = case.get("form") else {
        return call(st, version, tool, case["body"].clone());
    };
    let body = STANDARD
        .decode(form["body_base64"].as_str().unwrap())
        .unwrap();
    let form = multipart::parse(form["content_type"].as_str().unwrap(), &body)?;
    st.handle_payload(version, Api::Agent, tool, Payload::Form(&form))
}

/// (tool, case, error type) of the fixtures a fresh sandbox refuses, in both versions.
const EXPECTED_FAILURES: &[(&str, &str, &str)] = &[
    ("list_chats", "page", "validation"),
    ("list_threads", "page", "validation"),
    ("list_archives", "page", "validation"),
    ("list_customers", "page", "validation"),
    ("resume_chat", "minimal", "validation"),
    ("resume_chat", "full", "validation"),
    ("remove_user_from_chat", "minimal", "not_found"),
    ("remove_user_from_chat", "full", "not_found"),
    ("tag_thread", "full", "validation"),
    ("create_agent", "minimal", "already_exists"),
    ("create_agent", "full", "already_exists"),
    ("create_agent", "sdk_kwargs_only", "already_exists"),
    ("delete_bot", "full", "not_found"),
    ("delete_group", "full", "not_found"),
    ("register_property", "minimal", "already_exists"),
    ("publish_property", "full", "not_found"),
    ("create_tag", "minimal", "already_exists"),
    ("create_tag", "empty_group_ids", "already_exists"),
    ("delete_tag", "full", "not_found"),
    ("update_tag", "full", "not_found"),
];

fn cases(version: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/sdk/v{version}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    file["cases"].as_array().unwrap().clone()
}

#[test]
fn sdk_requests_get_the_licenses_answers() {
    for version in ApiVersion::ALL {
        let cases = cases(version.as_str());
        assert!(cases.len() > 90, "fixtures for v{version}");
        for case in cases {
            let tool = case["tool"].as_str().unwrap();
            let name = case["case"].as_str().unwrap();
            let expected = EXPECTED_FAILURES
                .iter()
                .find(|(t, c, _)| *t == tool && *c == name)
                .map(|(_, _, kind)| *kind);
            let mut st = sandbox();
            match (replay(&mut st, version, &case), expected) {
                (Ok(_), None) => {}
                (Err(e), Some(kind)) => assert_eq!(e.kind, kind, "v{version} {tool}/{name}: {e}"),
                (result, _) => {
                    panic!("v{version} {tool}/{name}: expected {expected:?}, got {result:?}")
                }
            }
        }
    }
}

#[test]
fn sdk_requests_in_a_row_never_break_the_sandbox() {
    for version in ApiVersion::ALL {
        let mut st = sandbox();
        for case in cases(version.as_str()) {
            let tool = case["tool"].as_str().unwrap();
            if let Err(e) = replay(&mut st, version, &case) {
                assert_ne!(e.kind, "internal", "{tool}: {e}");
                assert!(!e.message.contains("is not a field"), "{tool}: {e}");
            }
        }
        let summary = st.summary();
        assert!(summary.starts_with("sandbox license:"), "{summary}");
    }
}
