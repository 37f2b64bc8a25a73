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

/// The policy of the approvals run: `send_event` waits for a person (the client's or a
/// supervisor's); `get_chat`, which counts the messages, is not held.
const APPROVALS_POLICY: &str = r#"
[agents.ops]
access = { "*" = "full" }
approve = ["send_event"]
"#;

/// The request id `APR-…` in `text`.
fn request_id(text: &str) -> String {
    let at = text
        .find("APR-")
        .unwrap_or_else(|| panic!("no request id in {text}"));
    text[at..at + 14].to_string()
}

/// Held `send_event` calls with the Python client, in both connect modes: the person at the
/// client is asked (`elicitation/create` before 2026-07-28, an `input_required` result on it)
/// and accepts, declines or cancels; a client without elicitation gets `pending_approval` and
/// the approvals CLI decides. Each message is counted in `get_chat`, and each step has its
/// audit row.
#[test]
fn python_client_held_calls_wait_for_a_person() {
    let Some(python) = python() else { return };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/python_approvals.py");
    let bin = env!("CARGO_BIN_EXE_livechat-mcp");
    let dir = common::TempDir::new("e2e-approvals");
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, APPROVALS_POLICY).expect("policy");
    let db = dir.join("audit.db").display().to_string();
    let output = Command::new(&python)
        .args([script, bin, &policy.display().to_string(), &db])
        .output()
        .expect("run the Python client");
    assert!(
        output.status.success(),
        "python client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("report JSON");

    let audit = Command::new(bin)
        .args(["--audit", &db, "audit", "--json", "--limit", "500"])
        .env_remove("LIVECHAT_MCP_POLICY")
        .output()
        .expect("run the audit CLI");
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    let rows: Vec<Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("audit JSON line"))
        .collect();
    // The rows of one request, oldest first: (outcome, summary).
    let trail = |id: &str| -> Vec<(String, String)> {
        rows.iter()
            .rev()
            .filter(|r| r["targets"]["approval"] == id)
            .map(|r| {
                assert_eq!(r["tool"], "send_event", "{r}");
                assert_eq!(r["agent"], "ops", "{r}");
                (
                    r["outcome"].as_str().unwrap_or_default().to_string(),
                    r["summary"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let outcomes = |trail: &[(String, String)]| -> Vec<String> {
        trail.iter().map(|(o, _)| o.clone()).collect()
    };
    let held = |id: &str| {
        format!(
            "ops asked to send a message to chat PJ0MRSHTDG — held for a person's approval ({id})"
        )
    };

    let mut sent = 0;
    for (mode, protocol) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let runs = &report[mode];
        let label = |case: &str| format!("mode={mode} {case}: {}", runs[case]);
        for case in ["accept", "decline", "cancel"] {
            assert_eq!(runs[case]["protocol_version"], protocol, "{}", label(case));
        }
        assert_eq!(runs["console"]["protocol_version"], protocol);

        // The question, as the person at the client saw it.
        let mut asked_ids = std::collections::BTreeMap::new();
        for case in ["accept", "decline", "cancel"] {
            let asked = runs[case]["asked"].as_array().expect("asked");
            assert_eq!(asked.len(), 1, "asked once: {}", label(case));
            let question = &asked[0];
            assert_eq!(question["mode"], "form", "{}", label(case));
            let text = question["message"].as_str().unwrap_or_default();
            assert!(
                text.starts_with(
                    "Agent ops would send a message to chat PJ0MRSHTDG (`send_event`)."
                ) && text.contains(runs[case]["text"].as_str().unwrap_or("?"))
                    && text.contains(" expires in 15 min."),
                "{}",
                label(case)
            );
            let id = request_id(text.split("Request ").last().unwrap_or_default());
            let schema = &question["schema"];
            assert_eq!(schema["type"], "object", "{}", label(case));
            assert_eq!(
                schema["properties"]["note"]["type"],
                "string",
                "{}",
                label(case)
            );
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            assert!(required.is_empty(), "the note is optional: {}", label(case));
            asked_ids.insert(case, id);
        }

        // Accepted: sent once, under its request.
        let accept = &runs["accept"];
        assert_eq!(accept["call"]["is_error"], false, "{}", label("accept"));
        assert!(
            accept["call"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("event_id"),
            "{}",
            label("accept")
        );
        assert_eq!(
            accept["present"],
            1,
            "sent exactly once: {}",
            label("accept")
        );
        let id = &asked_ids["accept"];
        let trail_of = trail(id);
        assert_eq!(
            outcomes(&trail_of),
            ["held", "approved", "ok"],
            "{id}: {trail_of:?}"
        );
        assert!(trail_of[0].1.starts_with(&held(id)), "{trail_of:?}");
        assert_eq!(
            trail_of[1].1,
            format!(
                "ops's request to send a message to chat PJ0MRSHTDG — approved by client: {mode}: checked the text ({id})"
            ),
            "the person's note is in the trail"
        );
        assert!(
            trail_of[2]
                .1
                .starts_with("ops sent a message to chat PJ0MRSHTDG — allowed, done in ")
                && trail_of[2].1.contains(&format!("approved in {id}")),
            "{trail_of:?}"
        );
        sent += 1;

        // Declined or cancelled: refused, nothing sent.
        for (case, words) in [
            ("decline", format!("denied by client: {mode}: not this one")),
            ("cancel", "denied by client".to_string()),
        ] {
            let id = &asked_ids[case];
            let call = &runs[case]["call"];
            assert_eq!(call["is_error"], true, "{}", label(case));
            assert!(
                call["text"].as_str().unwrap_or_default().starts_with(&format!(
                    "approval_denied: the person at the client declined `send_event` (request {id})"
                )),
                "{}",
                label(case)
            );
            assert_eq!(runs[case]["present"], 0, "nothing sent: {}", label(case));
            let trail_of = trail(id);
            assert_eq!(
                outcomes(&trail_of),
                ["held", "denied"],
                "{id}: {trail_of:?}"
            );
            assert!(trail_of[0].1.starts_with(&held(id)), "{trail_of:?}");
            assert!(
                trail_of[1].1.starts_with(&format!(
                    "ops's request to send a message to chat PJ0MRSHTDG — {words} ({id})"
                )),
                "{trail_of:?}"
            );
        }

        // No elicitation: pending, approved with the CLI, sent once, then pending anew.
        let console = &runs["console"];
        let first = &console["first"];
        assert_eq!(first["is_error"], true, "{console}");
        let pending = "pending_approval: request APR-";
        assert!(
            first["text"].as_str().unwrap_or_default().starts_with(pending)
                && first["text"].as_str().unwrap_or_default().contains(
                    "awaits a person; call again with the same arguments once it is approved (expires in 15 min)"
                ),
            "{console}"
        );
        let id = first["request"].as_str().expect("request id").to_string();
        assert_eq!(console["present_before"], 0, "{console}");
        assert_eq!(console["approve"]["code"], 0, "{console}");
        assert_eq!(
            console["approve"]["stdout"]
                .as_str()
                .unwrap_or_default()
                .trim(),
            format!(
                "ops's request to send a message to chat PJ0MRSHTDG — approved by console:alice ({id})"
            )
        );
        assert_eq!(console["second"]["is_error"], false, "{console}");
        assert_eq!(console["present_after"], 1, "sent once: {console}");
        let third = &console["third"];
        assert_eq!(third["is_error"], true, "{console}");
        assert!(
            third["text"]
                .as_str()
                .unwrap_or_default()
                .starts_with(pending),
            "{console}"
        );
        let again = third["request"].as_str().expect("request id");
        assert_ne!(again, id, "a third identical call is a new request");
        assert_eq!(console["present_after_third"], 1, "{console}");
        let trail_of = trail(&id);
        assert_eq!(
            outcomes(&trail_of),
            ["held", "approved", "ok"],
            "{id}: {trail_of:?}"
        );
        assert!(
            trail_of[1]
                .1
                .ends_with(&format!("approved by console:alice ({id})")),
            "{trail_of:?}"
        );
        assert!(
            trail_of[2].1.contains(&format!("approved in {id}")),
            "{trail_of:?}"
        );
        let trail_again = trail(again);
        assert_eq!(outcomes(&trail_again), ["held"], "{trail_again:?}");
        sent += 1;
    }
    // Every message that went out did so under an approval, and only those did.
    let sends: Vec<&Value> = rows
        .iter()
        .filter(|r| r["tool"] == "send_event" && r["outcome"] == "ok")
        .collect();
    assert_eq!(sends.len(), sent, "{sends:?}");
    assert!(
        sends.iter().all(|r| r["targets"]["approval"]
            .as_str()
            .is_some_and(|a| a.starts_with("APR-"))),
        "{sends:?}"
    );
}
