//! The official Python MCP client (mcp 2.3) against the built binary, in both of its connect
//! modes and both API versions, with a LiveChat stand-in that records what it receives.
//!
//! Needs `LIVECHAT_MCP_E2E_PYTHON`: a Python with `mcp==2.3.0` installed. `tests/run` sets it
//! up; without it this test says loudly that it skipped.

mod common;

use std::io::Write as _;
use std::process::Command;

use common::{Echo, echo_structured};
use livechat_mcp::version::ApiVersion;
use serde_json::Value;
use wiremock::{Mock, MockServer, matchers::any};

fn python() -> Option<String> {
    let python = std::env::var("LIVECHAT_MCP_E2E_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if python.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: LIVECHAT_MCP_E2E_PYTHON is not set, so the Python MCP client was not run. `tests/run` sets it up. ***\n"
        );
    }
    python
}

#[tokio::test(flavor = "multi_thread")]
async fn python_client_lists_and_calls_every_tool() {
    let Some(python) = python() else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/python_client.py");
    for version in ApiVersion::ALL {
        let fixtures = format!(
            "{}/tests/fixtures/sdk/v{version}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let cases = common::fixture_cases(version);
        for mode in ["auto", "legacy"] {
            let mock = MockServer::start().await;
            Mock::given(any()).respond_with(Echo).mount(&mock).await;
            let output = Command::new(&python)
                .args([
                    script,
                    env!("CARGO_BIN_EXE_livechat-mcp"),
                    &mock.uri(),
                    version.as_str(),
                    &fixtures,
                    mode,
                ])
                .output()
                .expect("run the Python client");
            assert!(
                output.status.success(),
                "python client failed (v{version}, {mode}):\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let report: Value = serde_json::from_slice(&output.stdout).expect("report JSON");
            let label = format!(
                "v{version} mode={mode} protocol={}",
                report["protocol_version"]
            );

            let tools = report["tools"].as_array().expect("tools");
            // The LiveChat tools of the version, plus `whoami`.
            let expected = common::tool_count(version) + 1;
            assert_eq!(tools.len(), expected, "{label}");
            // No output schema: it would oblige a second copy of every result.
            for tool in tools {
                let name = tool["name"].as_str().unwrap_or_default();
                assert_eq!(tool["has_output_schema"], false, "{label} {name}");
            }

            let calls = report["calls"].as_array().expect("calls");
            assert_eq!(calls.len(), cases.len());
            for call in calls {
                assert_eq!(
                    call["is_error"], false,
                    "{label} {}: {}",
                    call["tool"], call["text"]
                );
                let tool = call["tool"].as_str().unwrap_or_default();
                assert_eq!(call["structured"], echo_structured(tool), "{label}");
                assert_eq!(call["second_copy"], false, "{label}: sent once");
            }
            assert_eq!(report["bad_arguments"]["is_error"], true);
            assert!(
                report["bad_arguments"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("`chat_id`")
            );

            let received = mock.received_requests().await.expect("recording");
            assert_eq!(
                received.len(),
                cases.len(),
                "{label}: one request per valid call, none for bad arguments"
            );
            for (request, case) in received.iter().zip(&cases) {
                assert_eq!(
                    request.url.path(),
                    case["path"].as_str().unwrap_or_default(),
                    "{label}"
                );
                if let Err(why) = common::sent_as_fixture(request, case) {
                    panic!("{label} {}/{}: {why}", case["tool"], case["case"]);
                }
            }
        }
    }
}

/// The Python client uploads a file (as base64 and from `--upload-dir`), sends each URL as a
/// `file` event, and reads both back with `get_chat`, all on the embedded sandbox.
#[test]
fn python_client_uploads_a_file_and_sends_it_into_a_chat() {
    let Some(python) = python() else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/python_upload.py");
    let dir = common::TempDir::new("e2e-upload");
    std::fs::write(dir.path().join("invoice.pdf"), b"%PDF-1.7 invoice 1234").expect("file");
    let output = Command::new(&python)
        .args([
            script,
            env!("CARGO_BIN_EXE_livechat-mcp"),
            &dir.path().display().to_string(),
        ])
        .output()
        .expect("run the Python client");
    assert!(
        output.status.success(),
        "python client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("report JSON");
    assert!(
        report["schema"]["properties"].get("path").is_some(),
        "{report}"
    );
    let uploads = report["uploads"].as_array().expect("uploads");
    assert_eq!(uploads.len(), 2);
    for upload in uploads {
        assert_eq!(upload["is_error"], false, "{upload}");
        assert_eq!(upload["send_event"]["is_error"], false, "{upload}");
        assert!(
            upload["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://cdn.livechat-files.com/api/file/lc/att/")),
            "{upload}"
        );
    }
    let events = report["get_chat"]["thread"]["events"]
        .as_array()
        .expect("events");
    let files: Vec<(&Value, &Value, &Value)> = events
        .iter()
        .filter(|e| e["type"] == "file")
        .map(|e| (&e["name"], &e["content_type"], &e["url"]))
        .collect();
    assert_eq!(
        files,
        [
            (
                &Value::from("refund.txt"),
                &Value::from("text/plain"),
                &uploads[0]["url"]
            ),
            (
                &Value::from("invoice.pdf"),
                &Value::from("application/pdf"),
                &uploads[1]["url"]
            ),
        ]
    );
    assert_eq!(report["refused"]["is_error"], true);
    let refused = report["refused"]["text"].as_str().unwrap_or_default();
    assert!(refused.contains("contains `..`"), "{refused}");
}
