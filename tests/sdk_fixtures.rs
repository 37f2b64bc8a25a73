//! Golden fixtures from the official Python SDK (`tests/fixtures/sdk`): for the same
//! arguments, LiveChat must receive the same path and body from us as from the SDK.

use std::collections::BTreeSet;

use livechat_mcp::{policy::Level, server::LiveChatServer, tools, version::ApiVersion};
use serde_json::Value;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

mod common;

async fn server_for(version: ApiVersion, mock: &MockServer) -> LiveChatServer {
    LiveChatServer::new(&common::settings(&mock.uri(), version, Level::Full)).expect("server")
}

async fn check_version(version: ApiVersion) {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&mock)
        .await;
    let server = server_for(version, &mock).await;
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    for case in common::fixture_cases(version) {
        let tool = case["tool"].as_str().expect("tool");
        let label = format!("v{version} {tool}/{}", case["case"].as_str().unwrap_or("?"));
        let Value::Object(args) = case["args"].clone() else {
            panic!("{label}: args is not an object")
        };
        mock.reset().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(&mock)
            .await;
        let outcome = server.call(tool, Some(args)).await;
        if let Some(kind) = outcome.failure_kind {
            failures.push(format!(
                "{label}: tool failed ({kind}): {:?}",
                outcome.result.content
            ));
            continue;
        }
        let received = mock.received_requests().await.expect("recording");
        let [request] = received.as_slice() else {
            failures.push(format!(
                "{label}: expected one request, got {}",
                received.len()
            ));
            continue;
        };
        if request.url.path() != case["path"].as_str().unwrap_or_default() {
            failures.push(format!(
                "{label}: path {} != {}",
                request.url.path(),
                case["path"]
            ));
        }
        if let Err(why) = common::sent_as_fixture(request, &case) {
            failures.push(format!("{label}: {why}"));
        }
        covered.insert(tool.to_string());
    }
    let expected: BTreeSet<String> = tools::all()
        .filter(|s| s.available_in(version))
        .map(|s| s.name.to_string())
        .collect();
    let missing: Vec<_> = expected.difference(&covered).collect();
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        missing.is_empty(),
        "v{version}: tools without a passing SDK case: {missing:?}"
    );
}

#[tokio::test]
async fn requests_match_the_sdk_on_3_5() {
    check_version(ApiVersion::V3_5).await;
}

#[tokio::test]
async fn requests_match_the_sdk_on_3_6() {
    check_version(ApiVersion::V3_6).await;
}
