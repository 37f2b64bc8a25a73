//! Real MCP clients against the built binary's HTTP server (`serve --http` on the sandbox,
//! a two-agent policy, an audit file): the official Python client (mcp 2.3) over streamable
//! HTTP in both connect modes and over the older SSE transport; the MCP Inspector CLI over
//! both; and the generic server scenarios of `@modelcontextprotocol/conformance` 0.1.16.
//!
//! Each needs its client: `LIVECHAT_MCP_E2E_PYTHON`; `LIVECHAT_MCP_E2E_NODE` with
//! `LIVECHAT_MCP_E2E_INSPECTOR` or `LIVECHAT_MCP_E2E_CONFORMANCE` (the packages' `bin`
//! entries). `tests/run` sets them all up; a test whose client is missing says loudly that it
//! skipped.

mod http_support;

use std::io::Write as _;
use std::process::Command;

use http_support::*;
use livechat_mcp::{tools, version::ApiVersion};
use serde_json::Value;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn skipped(what: &str, vars: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: {vars} not set, so {what} was not run. `tests/run` sets it up. ***\n"
    );
}

/// The binary serving `ops` (everything) and `ro` (reads chats) on the sandbox.
struct Served {
    server: ServerProcess,
    ops: String,
    ro: String,
    audit: std::path::PathBuf,
    _dir: TempDir,
}

fn serve(label: &str) -> Served {
    let dir = TempDir::new(label);
    let (text, keys) = policy(&[
        ("ops", r#"{ "*" = "full" }"#),
        ("ro", r#"{ chats = "read" }"#),
    ]);
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).expect("write policy");
    let audit = dir.join("audit.db");
    let server = ServerProcess::spawn(
        &[
            "--sandbox",
            "--policy",
            path.to_str().expect("path"),
            "--audit",
            audit.to_str().expect("path"),
        ],
        &[],
    );
    Served {
        server,
        ops: keys[0].clone(),
        ro: keys[1].clone(),
        audit,
        _dir: dir,
    }
}

/// With `--sandbox` the server keeps the sandbox's events, so every agent has `get_events`.
const RO_TOOLS: [&str; 6] = [
    "get_chat",
    "get_events",
    "list_archives",
    "list_chats",
    "list_threads",
    "whoami",
];

#[test]
fn python_client_over_streamable_http_and_sse() {
    let Some(python) = var("LIVECHAT_MCP_E2E_PYTHON") else {
        return skipped("the Python MCP client", "LIVECHAT_MCP_E2E_PYTHON is");
    };
    let served = serve("python");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/python_http_client.py"
    );
    let runs = [
        ("ro", &served.ro, "auto"),
        ("ro", &served.ro, "legacy"),
        ("ro", &served.ro, "sse"),
        ("ops", &served.ops, "auto"),
    ];
    for (agent, key, mode) in runs {
        let output = Command::new(&python)
            .args([script, &served.server.base, key, mode])
            .output()
            .expect("run the Python client");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{agent} {mode}:\n{stderr}\nserver:\n{}",
            served.server.stderr()
        );
        assert!(
            !stderr.contains("failed"),
            "{agent} {mode}: the client complained:\n{stderr}"
        );
        let report: Value = serde_json::from_slice(&output.stdout).expect("report JSON");
        let label = format!(
            "{agent} mode={mode} protocol={}",
            report["protocol_version"]
        );
        let expected_protocol = match mode {
            "auto" => "2026-07-28",
            _ => "2025-11-25",
        };
        assert_eq!(report["protocol_version"], expected_protocol, "{label}");
        let tools: Vec<&str> = report["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        if agent == "ro" {
            assert_eq!(tools, RO_TOOLS, "{label}");
        } else {
            let every = tools::all()
                .filter(|t| t.available_in(ApiVersion::default()))
                .count();
            assert_eq!(
                tools.len(),
                every + 2,
                "every tool, `whoami` and `get_events`: {label}"
            );
        }
        assert_eq!(report["whoami"]["agent"], agent, "{label}");
        assert_eq!(report["list_chats"]["is_error"], false, "{label}: {report}");
        let denied = report["denied"]["text"].as_str().unwrap_or_default();
        if agent == "ro" {
            assert_eq!(report["denied"]["is_error"], true, "{label}");
            assert!(denied.starts_with("not_available:"), "{label}: {denied}");
        }
    }
    let rows = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(audit_rows(&served.audit));
    let by = |agent: &str| rows.iter().filter(|e| e.agent == agent).count();
    assert_eq!((by("ro"), by("ops")), (9, 3), "three calls a run");
}

struct Node {
    node: String,
}

impl Node {
    fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String, String) {
        let output = Command::new(&self.node)
            .args(args)
            .envs(envs.iter().copied())
            .output()
            .expect("run node");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

#[test]
fn inspector_cli_over_streamable_http_and_sse() {
    let (Some(node), Some(inspector)) = (
        var("LIVECHAT_MCP_E2E_NODE"),
        var("LIVECHAT_MCP_E2E_INSPECTOR"),
    ) else {
        return skipped(
            "the MCP Inspector CLI",
            "LIVECHAT_MCP_E2E_NODE or LIVECHAT_MCP_E2E_INSPECTOR is",
        );
    };
    let node = Node { node };
    let served = serve("inspector");
    let base = &served.server.base;
    for (transport, url) in [
        ("http", format!("{base}/mcp")),
        ("sse", format!("{base}/sse")),
    ] {
        let inspect = |key: &str, method: &[&str]| {
            let header = format!("Authorization: Bearer {key}");
            let mut args = vec![
                inspector.as_str(),
                "--cli",
                "--transport",
                transport,
                "--server-url",
                url.as_str(),
                "--header",
                header.as_str(),
                "--method",
            ];
            args.extend_from_slice(method);
            node.run(&args, &[])
        };
        let (code, stdout, stderr) = inspect(&served.ro, &["tools/list"]);
        assert_eq!(code, Some(0), "{transport} tools/list:\n{stdout}\n{stderr}");
        let listed: Value = serde_json::from_str(&stdout).expect("tools JSON");
        let mut names: Vec<&str> = listed["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        names.sort();
        assert_eq!(names, RO_TOOLS, "{transport}");

        let (code, stdout, stderr) = inspect(&served.ops, &["tools/call", "--tool-name", "whoami"]);
        assert_eq!(code, Some(0), "{transport} whoami:\n{stdout}\n{stderr}");
        let result: Value = serde_json::from_str(&stdout).expect("result JSON");
        assert_eq!(answer(&result)["agent"], "ops", "{transport}");

        let (code, stdout, stderr) = inspect(
            &served.ro,
            &[
                "tools/call",
                "--tool-name",
                "list_chats",
                "--tool-arg",
                "limit=1",
            ],
        );
        assert_eq!(code, Some(0), "{transport} list_chats:\n{stdout}\n{stderr}");
        let result: Value = serde_json::from_str(&stdout).expect("result JSON");
        assert!(answer(&result)["chats_summary"].is_array(), "{result}");

        // A wrong key gets 401 with `WWW-Authenticate: Bearer`; the Inspector then looks for
        // an OAuth login it cannot run here, and gives up.
        let (code, stdout, stderr) = inspect("lcmcp_wrong", &["tools/list"]);
        assert_ne!(code, Some(0), "{transport}: a wrong key must not connect");
        assert!(
            format!("{stdout}{stderr}").contains("auth"),
            "{transport}: {stdout}\n{stderr}"
        );
    }
    let rows = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(audit_rows(&served.audit));
    let seen: Vec<(&str, &str)> = rows
        .iter()
        .map(|e| (e.agent.as_str(), e.tool.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("ops", "whoami"),
            ("ro", "list_chats"),
            ("ops", "whoami"),
            ("ro", "list_chats"),
        ]
    );
}

/// The conformance suite's generic server scenarios.
const SCENARIOS: [&str; 5] = [
    "server-initialize",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
];

#[test]
fn conformance_suite_generic_server_scenarios() {
    let (Some(node), Some(conformance)) = (
        var("LIVECHAT_MCP_E2E_NODE"),
        var("LIVECHAT_MCP_E2E_CONFORMANCE"),
    ) else {
        return skipped(
            "the MCP conformance suite",
            "LIVECHAT_MCP_E2E_NODE or LIVECHAT_MCP_E2E_CONFORMANCE is",
        );
    };
    let node = Node { node };
    let served = serve("conformance");
    let results = TempDir::new("conformance-results");
    let url = format!("{}/mcp", served.server.base);
    let output_dir = results.join("out");
    let output_dir = output_dir.to_str().expect("path");
    // The runner has no option for headers; this module adds the key to its every request.
    let with_key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/conformance_auth.mjs"
    );
    let key_env = [
        ("LIVECHAT_MCP_E2E_KEY", served.ops.as_str()),
        ("LIVECHAT_MCP_E2E_UNDICI", conformance.as_str()),
    ];
    for scenario in SCENARIOS {
        let (code, stdout, stderr) = node.run(
            &[
                "--import",
                with_key,
                &conformance,
                "server",
                "--url",
                &url,
                "--scenario",
                scenario,
                "-o",
                output_dir,
            ],
            &key_env,
        );
        assert_eq!(
            code,
            Some(0),
            "{scenario}:\n{stdout}\n{stderr}\nserver:\n{}",
            served.server.stderr()
        );
        assert!(stdout.contains(" 0 failed"), "{scenario}:\n{stdout}");
        eprintln!(
            "conformance {scenario}: {}",
            stdout
                .lines()
                .find(|l| l.starts_with("Passed:"))
                .unwrap_or_default()
        );
    }
    // Without the key nothing gets through, so the passes above went through the key check.
    let (code, stdout, _) = node.run(
        &[
            &conformance,
            "server",
            "--url",
            &url,
            "--scenario",
            "server-initialize",
            "-o",
            output_dir,
        ],
        &[],
    );
    assert_ne!(code, Some(0), "{stdout}");
    assert!(stdout.contains("needs a key"), "{stdout}");
}

/// A tool result's answer, as the Inspector printed it: the JSON in its text block.
fn answer(result: &Value) -> Value {
    assert_eq!(result.get("structuredContent"), None, "sent once, as text");
    let text = result["content"][0]["text"].as_str().expect("a text block");
    serde_json::from_str(text).expect("the text is JSON")
}

/// Held calls through the hosted server: the Python client over streamable HTTP and the older
/// HTTP+SSE transport, as a team's agent would connect. Before 2026-07-28 the server's
/// `elicitation/create` travels on the call's own stream (on SSE, on the event stream); on
/// 2026-07-28 the call answers `input_required`. A client without elicitation waits for
/// `livechat-mcp approvals approve`, run beside the server on its trail.
#[test]
fn python_client_held_calls_over_http_and_sse() {
    let Some(python) = var("LIVECHAT_MCP_E2E_PYTHON") else {
        return skipped("the Python MCP client", "LIVECHAT_MCP_E2E_PYTHON is");
    };
    let dir = TempDir::new("e2e-http-approvals");
    let (mut text, keys) = policy(&[("ops", r#"{ "*" = "full" }"#)]);
    text.push_str("approve = [\"send_event\"]\n");
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).expect("write policy");
    let audit = dir.join("audit.db");
    let (path, audit) = (
        path.to_str().expect("path").to_string(),
        audit.to_str().expect("path").to_string(),
    );
    let server = ServerProcess::spawn(&["--sandbox", "--policy", &path, "--audit", &audit], &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/python_approvals.py");
    let bin = env!("CARGO_BIN_EXE_livechat-mcp");
    let run = |transport: &str| -> Value {
        let output = Command::new(&python)
            .args([
                script,
                bin,
                &path,
                &audit,
                &server.base,
                &keys[0],
                transport,
            ])
            .output()
            .expect("run the Python client");
        assert!(
            output.status.success(),
            "python client failed over {transport}:\n{}\nserver:\n{}",
            String::from_utf8_lossy(&output.stderr),
            server.stderr()
        );
        serde_json::from_slice(&output.stdout).expect("report JSON")
    };
    let streamable = run("streamable");
    // The older HTTP+SSE transport speaks only the 2025 protocol: `elicitation/create` on its
    // event stream.
    let sse = run("sse");
    assert!(sse.get("auto").is_none());
    for (report, mode, protocol) in [
        (&streamable, "legacy", "2025-11-25"),
        (&streamable, "auto", "2026-07-28"),
        (&sse, "legacy", "2025-11-25"),
    ] {
        let runs = &report[mode];
        let label = |case: &str| format!("mode={mode} {case}: {}", runs[case]);
        for case in ["accept", "decline", "cancel", "console"] {
            assert_eq!(runs[case]["protocol_version"], protocol, "{}", label(case));
        }
        for case in ["accept", "decline", "cancel"] {
            let asked = runs[case]["asked"].as_array().expect("asked");
            assert_eq!(asked.len(), 1, "asked once: {}", label(case));
            let question = asked[0]["message"].as_str().unwrap_or_default();
            assert!(
                question.starts_with("Agent ops would send a message to chat PJ0MRSHTDG"),
                "{}",
                label(case)
            );
        }
        assert_eq!(
            runs["accept"]["call"]["is_error"],
            false,
            "{}",
            label("accept")
        );
        assert_eq!(
            runs["accept"]["present"],
            1,
            "sent once: {}",
            label("accept")
        );
        for case in ["decline", "cancel"] {
            let text = runs[case]["call"]["text"].as_str().unwrap_or_default();
            assert!(
                text.starts_with("approval_denied: the person at the client declined"),
                "{}",
                label(case)
            );
            assert_eq!(runs[case]["present"], 0, "nothing sent: {}", label(case));
        }
        let console = &runs["console"];
        let first = console["first"]["text"].as_str().unwrap_or_default();
        assert!(
            first.starts_with("pending_approval: request APR-"),
            "{}",
            label("console")
        );
        assert_eq!(console["present_before"], 0, "{}", label("console"));
        assert_eq!(console["approve"]["code"], 0, "{}", label("console"));
        assert_eq!(console["second"]["is_error"], false, "{}", label("console"));
        assert_eq!(console["present_after"], 1, "{}", label("console"));
        assert_eq!(console["third"]["is_error"], true, "{}", label("console"));
        assert_ne!(console["third"]["request"], console["first"]["request"]);
        assert_eq!(console["present_after_third"], 1, "{}", label("console"));
    }
}
