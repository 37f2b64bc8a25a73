//! The MCP Inspector CLI (`@modelcontextprotocol/inspector` 2.12 on Node 22) against the built
//! binary, over stdio: it lists the tools of both API versions and calls every tool once, with a
//! LiveChat stand-in that records what it receives. Each result is the answer once, as JSON
//! text: no `structuredContent` copy, no `outputSchema`.
//!
//! Needs `LIVECHAT_MCP_E2E_NODE` (a Node 22 binary) and `LIVECHAT_MCP_E2E_INSPECTOR` (the
//! Inspector's JS entry point, its package `bin`). `tests/run` sets both up; without them this
//! test says loudly that it skipped.

mod common;

use std::io::Write as _;
use std::{process::Stdio, sync::Arc};

use common::{Echo, echo_structured};
use livechat_mcp::version::ApiVersion;
use serde_json::Value;
use tokio::{process::Command, task::JoinSet};
use wiremock::{Mock, MockServer, matchers::any};

/// The Inspector's exit code for a tool that answered `isError: true`.
const TOOL_ERROR: i32 = 5;
/// How many Inspector processes run at once.
const PARALLEL: usize = 3;

struct Inspector {
    node: String,
    entry: String,
}

/// What one Inspector run printed.
struct Run {
    code: Option<i32>,
    stdout: Value,
    stderr: String,
}

impl Inspector {
    fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        match (
            var("LIVECHAT_MCP_E2E_NODE"),
            var("LIVECHAT_MCP_E2E_INSPECTOR"),
        ) {
            (Some(node), Some(entry)) => Some(Self { node, entry }),
            _ => {
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPED: LIVECHAT_MCP_E2E_NODE or LIVECHAT_MCP_E2E_INSPECTOR is not set, so the MCP Inspector CLI was not run. `tests/run` sets them up. ***\n"
                );
                None
            }
        }
    }

    /// `node inspector --cli -e … <binary> serve <args>`: starts the server over stdio, with
    /// only these settings in its environment, and runs one method.
    async fn run(&self, api_url: &str, version: ApiVersion, args: &[String]) -> Run {
        let output = Command::new(&self.node)
            .arg(&self.entry)
            .arg("--cli")
            .args(["-e", &format!("LIVECHAT_API_URL={api_url}")])
            .args(["-e", "LIVECHAT_ACCESS_TOKEN=test-token"])
            .args(["-e", "LIVECHAT_MCP_ACCESS=full"])
            .args(["-e", "LIVECHAT_MCP_AUDIT=off"])
            .args(["-e", "LIVECHAT_ACCOUNTS_URL=http://127.0.0.1:9"])
            .args(["-e", &format!("LIVECHAT_API_VERSION={version}")])
            .args([env!("CARGO_BIN_EXE_livechat-mcp"), "serve"])
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .expect("run the Inspector");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let stdout = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "Inspector printed no JSON ({e}), exit {:?}, args {args:?}:\n{}\nstderr:\n{stderr}",
                output.status.code(),
                String::from_utf8_lossy(&output.stdout)
            )
        });
        Run {
            code: output.status.code(),
            stdout,
            stderr,
        }
    }
}

/// `--method tools/call --tool-name <tool> [--tool-arg k=<JSON> …]`. The Inspector JSON-parses
/// each value (falling back to the raw string), so JSON-encoding every value passes strings,
/// numbers, booleans, arrays and objects through unchanged.
fn call_args(tool: &str, args: &Value) -> Vec<String> {
    let mut argv = vec![
        "--method".into(),
        "tools/call".into(),
        "--tool-name".into(),
        tool.into(),
    ];
    let args = args.as_object().expect("fixture args are an object");
    if !args.is_empty() {
        argv.push("--tool-arg".into());
        argv.extend(args.iter().map(|(k, v)| format!("{k}={v}")));
    }
    argv
}

#[tokio::test(flavor = "multi_thread")]
async fn inspector_cli_lists_and_calls_every_tool() {
    let Some(inspector) = Inspector::from_env() else {
        return;
    };
    let inspector = Arc::new(inspector);
    let mock = MockServer::start().await;
    Mock::given(any()).respond_with(Echo).mount(&mock).await;
    let started = std::time::Instant::now();

    // The LiveChat tools of each version, plus `whoami`.
    for version in [ApiVersion::V3_6, ApiVersion::V3_5] {
        let expected = common::tool_count(version) + 1;
        let list = inspector
            .run(
                &mock.uri(),
                version,
                &["--method".into(), "tools/list".into()],
            )
            .await;
        assert_eq!(
            list.code,
            Some(0),
            "tools/list v{version}:\n{}",
            list.stderr
        );
        let tools = list.stdout["tools"].as_array().expect("tools");
        assert_eq!(tools.len(), expected, "v{version}");
        // No output schema: it would oblige a second copy of every result.
        for tool in tools {
            let name = tool["name"].as_str().unwrap_or_default();
            assert!(
                tool.get("outputSchema").is_none(),
                "v{version} {name}: outputSchema"
            );
        }
        if !list.stderr.trim().is_empty() {
            eprintln!("Inspector on tools/list v{version}: {}", list.stderr.trim());
        }
    }
    assert!(
        mock.received_requests()
            .await
            .expect("recording")
            .is_empty(),
        "tools/list calls no API"
    );

    let version = ApiVersion::V3_6;
    let cases: Vec<Value> = common::fixture_cases(version)
        .into_iter()
        .filter(|c| c["case"] == "minimal")
        .collect();
    assert_eq!(
        cases.len(),
        common::tool_count(version),
        "one minimal case per tool"
    );
    for chunk in cases.chunks(PARALLEL) {
        let mut calls = JoinSet::new();
        for case in chunk {
            let (inspector, uri, case) = (inspector.clone(), mock.uri(), case.clone());
            calls.spawn(async move {
                let tool = case["tool"].as_str().expect("tool").to_string();
                let run = inspector
                    .run(&uri, version, &call_args(&tool, &case["args"]))
                    .await;
                (tool, run)
            });
        }
        while let Some(joined) = calls.join_next().await {
            let (tool, run) = joined.expect("call task");
            assert_eq!(
                run.code,
                Some(0),
                "{tool}: {}\nstderr:\n{}",
                run.stdout,
                run.stderr
            );
            assert_ne!(run.stdout["isError"], true, "{tool}: {}", run.stdout);
            assert_eq!(
                run.stdout.get("structuredContent"),
                None,
                "{tool}: sent once"
            );
            let text = run.stdout["content"][0]["text"]
                .as_str()
                .unwrap_or_default();
            assert_eq!(
                serde_json::from_str::<Value>(text).ok(),
                Some(echo_structured(&tool)),
                "{tool}: {}",
                run.stdout
            );
        }
    }

    // Every call reached the stand-in once, at the fixture's path with the fixture's body. The
    // calls ran a few at a time, so match the requests by path (one per tool on 3.6).
    let received = mock.received_requests().await.expect("recording");
    assert_eq!(received.len(), cases.len(), "one request per call");
    for case in &cases {
        let path = case["path"].as_str().expect("path");
        let matching: Vec<_> = received.iter().filter(|r| r.url.path() == path).collect();
        assert_eq!(matching.len(), 1, "{}: requests at {path}", case["tool"]);
        if let Err(why) = common::sent_as_fixture(matching[0], case) {
            panic!("{}: {why}", case["tool"]);
        }
    }

    // Bad arguments: the server answers isError (the Inspector exits 5) and calls no API.
    let bad = inspector
        .run(
            &mock.uri(),
            version,
            &call_args("get_chat", &serde_json::json!({})),
        )
        .await;
    assert_eq!(
        bad.code,
        Some(TOOL_ERROR),
        "{}\nstderr:\n{}",
        bad.stdout,
        bad.stderr
    );
    assert_eq!(bad.stdout["isError"], true, "{}", bad.stdout);
    assert!(
        bad.stdout["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("`chat_id`"),
        "{}",
        bad.stdout
    );
    let after = mock.received_requests().await.expect("recording");
    assert_eq!(after.len(), received.len(), "bad arguments reach no API");

    eprintln!(
        "Inspector CLI: 2 tools/list + {} tools/call + 1 bad call in {:.1?}",
        cases.len(),
        started.elapsed()
    );
}
