//! Per-agent access and the audit trail through the built binary, as a user runs it: `call`
//! under a policy file on the sandbox, `audit` with its filters and formats, `audit verify`
//! before and after a row is edited by hand, `doctor`, `whoami`, and the start-up errors of a
//! bad policy or conflicting flags.

mod common;

use std::{
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use common::{Echo, TempDir, edit_row, files_containing, tamper_agent};
use livechat_mcp::{
    audit::{AuditStore, NewEntry},
    version::ApiVersion,
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{any, method, path},
};

const POLICY: &str = r#"# two agents
[agents.support-bot]
access = { chats = "read", events = "full" }

[agents.auditor]
access = { "*" = "read", customers = "off" }
"#;

const MESSAGE: &str = "Please refund order 88231 to Ann Smith's card";

/// A home directory of its own, with the policy file in it.
struct Home {
    dir: TempDir,
}

impl Home {
    fn new(policy: &str) -> Home {
        let dir = TempDir::new("audit-cli");
        std::fs::write(dir.join("policy.toml"), policy).expect("write policy");
        Home { dir }
    }

    fn policy(&self) -> PathBuf {
        self.dir.join("policy.toml")
    }

    fn db(&self) -> PathBuf {
        self.dir.join("trail").join("audit.db")
    }

    /// The binary with nothing from the test's environment but PATH, and HOME here.
    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `args` with the sandbox, the policy and the audit file given.
    fn sandbox(&self, args: &[&str]) -> Run {
        let policy = self.policy();
        let db = self.db();
        let mut full: Vec<&str> = vec![
            "--sandbox",
            "--policy",
            policy.to_str().expect("utf-8 path"),
            "--audit",
            db.to_str().expect("utf-8 path"),
        ];
        full.extend_from_slice(args);
        self.run(&full)
    }

    /// `audit ARGS` on this home's audit file.
    fn audit(&self, args: &[&str]) -> Run {
        let db = self.db();
        let mut full = vec!["--audit", db.to_str().expect("utf-8 path"), "audit"];
        full.extend_from_slice(args);
        self.run(&full)
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(
            self.command()
                .args(args)
                .output()
                .expect("run livechat-mcp"),
            args,
        )
    }
}

/// What one run printed and how it ended.
struct Run {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output, args: &[&str]) -> Run {
        Run {
            what: args.join(" "),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code and returns the run.
    fn exits(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "`{}`\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("`{}`: stdout is not JSON ({e}): {}", self.what, self.stdout)
        })
    }

    /// stdout as JSON lines.
    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn ids(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|l| l["id"].as_u64().expect("id"))
        .collect()
}

/// Allowed, refused, invalid and failed calls by two agents through `call`, then `audit` in
/// both formats and with each filter, then `audit verify` before and after a row is edited.
#[test]
fn calls_are_recorded_and_audit_reads_filters_and_verifies_them() {
    let home = Home::new(POLICY);

    // support-bot: chats read, events full.
    let listed = home
        .sandbox(&[
            "--agent",
            "support-bot",
            "call",
            "list_chats",
            r#"{"limit": 1}"#,
        ])
        .exits(0)
        .json();
    let chat = listed["chats_summary"][0]["id"]
        .as_str()
        .expect("the sandbox has a chat")
        .to_string();
    let refused = home
        .sandbox(&[
            "--agent",
            "support-bot",
            "call",
            "deactivate_chat",
            &json!({"id": chat}).to_string(),
        ])
        .exits(1);
    assert!(
        refused
            .stderr
            .contains("not available to agent support-bot"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());
    // Allowed, but LiveChat refuses it: the requester is not in that chat.
    let failed = home
        .sandbox(&[
            "--agent",
            "support-bot",
            "call",
            "send_event",
            &json!({"chat_id": chat, "event": {"type": "message", "text": MESSAGE}}).to_string(),
        ])
        .exits(1);
    assert!(
        failed.stderr.starts_with("missing_access: "),
        "{}",
        failed.stderr
    );
    let invalid = home
        .sandbox(&["--agent", "support-bot", "call", "get_chat", "{}"])
        .exits(1);
    assert!(
        invalid.stderr.starts_with("invalid_arguments: "),
        "{}",
        invalid.stderr
    );

    // auditor: everything read, customers off.
    let refused = home
        .sandbox(&[
            "--agent",
            "auditor",
            "call",
            "get_customer",
            r#"{"id": "cust-1"}"#,
        ])
        .exits(1);
    assert!(
        refused.stderr.contains("not available to agent auditor"),
        "{}",
        refused.stderr
    );
    let whoami = home
        .sandbox(&["--agent", "auditor", "call", "whoami"])
        .exits(0)
        .json();
    assert_eq!(whoami["agent"], "auditor");
    assert_eq!(whoami["grants"]["customers"], "off");
    assert_eq!(whoami["grants"]["chats"], "read");
    assert_eq!(whoami["grants"]["events"], "read");
    let tools = whoami["tools"].as_array().expect("tools");
    assert!(tools.contains(&json!("list_agents")) && !tools.contains(&json!("get_customer")));
    home.sandbox(&["--agent", "auditor", "call", "list_agents"])
        .exits(0);
    // The three calls that went to LiveChat (list_chats, send_event, list_agents) are two rows
    // each, written ahead and then completed; the listing shows the outcome rows.
    const ROWS: usize = 10;
    const SHOWN: [u64; 7] = [10, 8, 7, 6, 5, 3, 2];

    // Sentences, newest first.
    let sentences = home.audit(&[]).exits(0);
    let lines = sentences.lines();
    assert_eq!(lines.len(), SHOWN.len(), "{}", sentences.stdout);
    for (line, id) in lines.iter().zip(SHOWN) {
        assert!(line.starts_with(&format!("#{id} ")), "{line}");
    }
    // Each line is `#ID TIME SUMMARY`; the summaries, oldest first:
    let summaries = [
        "support-bot listed chats — allowed, done in ".to_string(),
        format!("support-bot tried to end chat {chat} — denied: chats is read-only for support-bot"),
        format!("support-bot tried to send a message to chat {chat} — allowed, failed: missing_access"),
        "support-bot tried to read a chat — allowed, failed: invalid_arguments".to_string(),
        "auditor tried to read the profile of customer cust-1 — denied: customers is off for auditor"
            .to_string(),
        "auditor called `whoami` — allowed, done in ".to_string(),
        "auditor listed agents — allowed, done in ".to_string(),
    ];
    for (line, summary) in lines.iter().rev().zip(&summaries) {
        let (_, rest) = line.split_once(' ').expect("id");
        let (time, text) = rest.split_once(' ').expect("time");
        assert!(time.ends_with('Z') && time.len() == 24, "{line}");
        // Both agents call the sandbox with the server's credentials, and each line says so.
        let text = text
            .strip_suffix(" (as server token)")
            .unwrap_or_else(|| panic!("no identity at the end of {line:?}"));
        assert!(
            text.starts_with(summary.as_str()),
            "want {summary:?}, got {line:?}"
        );
        if summary.ends_with("done in ") {
            assert!(text.ends_with(" ms"), "{line}");
        } else {
            assert_eq!(text, summary, "{line}");
        }
    }
    assert!(sentences.stdout.contains("— denied: ") && sentences.stdout.contains("— allowed"));

    // JSON lines with the documented fields.
    let all = home.audit(&["--json"]).exits(0).json_lines();
    assert_eq!(ids(&all), SHOWN);
    let fields = [
        "id",
        "time",
        "agent",
        "tool",
        "area",
        "access",
        "decision",
        "reason",
        "outcome",
        "error_type",
        "targets",
        "duration_ms",
        "summary",
        "completes",
        "identity",
        "instance",
        "mac",
    ];
    for line in &all {
        let keys: Vec<&str> = line
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = fields.to_vec();
        // The outcome of a call that went to LiveChat says how many requests it took and how
        // long it waited.
        if !line["completes"].is_null() {
            want.extend(["attempts", "waited_ms"]);
        }
        want.sort_unstable();
        assert_eq!(keys, want, "{line}");
        assert!(
            line["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
        assert_eq!(line["mac"].as_str().map(str::len), Some(64), "{line}");
        assert!(
            line["duration_ms"].is_u64() && line["targets"].is_object(),
            "{line}"
        );
    }
    let row = |id: u64| all.iter().find(|l| l["id"] == id).expect("row");
    assert_eq!(
        (
            &row(3)["tool"],
            &row(3)["decision"],
            &row(3)["outcome"],
            &row(3)["reason"]
        ),
        (
            &json!("deactivate_chat"),
            &json!("denied"),
            &json!("denied"),
            &json!("chats is read-only for support-bot")
        )
    );
    assert_eq!(row(3)["targets"], json!({"chat_id": chat}));
    assert_eq!(row(3)["completes"], Value::Null);
    assert_eq!(row(2)["completes"], 1);
    assert_eq!(row(5)["completes"], 4);
    assert_eq!(
        (
            &row(5)["tool"],
            &row(5)["decision"],
            &row(5)["outcome"],
            &row(5)["error_type"]
        ),
        (
            &json!("send_event"),
            &json!("allowed"),
            &json!("error"),
            &json!("missing_access")
        )
    );
    assert_eq!(
        row(5)["targets"]["content"]["text_len"],
        MESSAGE.chars().count()
    );
    assert_eq!(
        (&row(6)["outcome"], &row(6)["error_type"]),
        (&json!("error"), &json!("invalid_arguments"))
    );
    assert_eq!(row(7)["reason"], "customers is off for auditor");
    assert!(all.iter().all(|l| l["identity"] == "server token"));
    assert_eq!(
        (&row(8)["tool"], &row(8)["area"]),
        (&json!("whoami"), &Value::Null)
    );

    // Filters.
    let denied = home
        .audit(&["--json", "--decision", "denied"])
        .exits(0)
        .json_lines();
    assert_eq!(ids(&denied), [7, 3]);
    assert!(denied.iter().all(|l| l["decision"] == "denied"));
    let allowed = home
        .audit(&["--json", "--decision", "allowed"])
        .exits(0)
        .json_lines();
    assert_eq!(ids(&allowed), [10, 8, 6, 5, 2]);
    let by_tool = home
        .audit(&["--json", "--tool", "list_chats"])
        .exits(0)
        .json_lines();
    assert_eq!(ids(&by_tool), [2]);
    let by_agent = home
        .audit(&["--json", "--agent", "auditor"])
        .exits(0)
        .json_lines();
    assert_eq!(ids(&by_agent), [10, 8, 7]);
    let recent = home
        .audit(&["--json", "--since", "1h"])
        .exits(0)
        .json_lines();
    assert_eq!(recent.len(), SHOWN.len());
    let future = home
        .audit(&["--json", "--since", "2999-01-01T00:00:00Z"])
        .exits(0);
    assert!(future.stdout.is_empty(), "{}", future.stdout);
    let newest = home
        .audit(&["--json", "--limit", "1"])
        .exits(0)
        .json_lines();
    assert_eq!(ids(&newest), [ROWS as u64]);
    let combined = home
        .audit(&[
            "--json",
            "--agent",
            "support-bot",
            "--decision",
            "allowed",
            "--limit",
            "2",
        ])
        .exits(0)
        .json_lines();
    assert_eq!(ids(&combined), [6, 5]);
    home.audit(&["--since", "yesterday"]).exits(2);
    home.audit(&["--decision", "maybe"]).exits(2);

    // No message text in the file.
    let trail = home.db().parent().expect("dir").to_path_buf();
    for needle in ["refund order", "Ann Smith", "88231"] {
        assert_eq!(
            files_containing(&trail, needle),
            Vec::<PathBuf>::new(),
            "{needle}"
        );
    }

    // Verify, edit a row by hand, verify again.
    let intact = home.audit(&["verify"]).exits(0);
    assert!(
        intact.stdout.contains(&format!("{ROWS} rows")),
        "{}",
        intact.stdout
    );
    tamper_agent(&home.db(), 3, "someone-else");
    let broken = home.audit(&["verify"]).exits(1);
    assert!(
        broken.stderr.contains("row 3") && broken.stderr.contains("MAC mismatch"),
        "{}",
        broken.stderr
    );
    assert!(broken.stdout.is_empty(), "{}", broken.stdout);
}

/// The trail's file defaults to `$HOME/.local/share/livechat-mcp/audit.db`, `audit` reads it
/// there, and `--audit off` records nothing and says so.
#[test]
fn the_trail_defaults_under_home_and_off_warns() {
    let home = Home::new("[agents.solo]\naccess = { chats = \"read\" }\n");
    let policy = home.policy();
    let policy = policy.to_str().expect("utf-8");
    let off = home
        .run(&[
            "--sandbox",
            "--policy",
            policy,
            "--audit",
            "off",
            "call",
            "list_chats",
        ])
        .exits(0);
    assert!(
        off.stderr.contains("warning") && off.stderr.contains("audit trail is off"),
        "{}",
        off.stderr
    );
    let default = home.dir.path().join(".local/share/livechat-mcp/audit.db");
    assert!(!default.exists(), "--audit off wrote {}", default.display());
    home.run(&["audit"]).exits(1);
    home.run(&["--audit", "off", "audit"]).exits(2);

    // One agent in the policy: no --agent needed.
    let on = home
        .run(&["--sandbox", "--policy", policy, "call", "list_chats"])
        .exits(0);
    assert!(!on.stderr.contains("audit trail is off"), "{}", on.stderr);
    assert!(default.exists(), "no trail at {}", default.display());
    let lines = home.run(&["audit", "--json"]).exits(0).json_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["agent"], "solo");
    assert!(
        home.run(&["audit", "verify"])
            .exits(0)
            .stdout
            .contains("2 rows")
    );
    // The key and the anchor sit beside the file, the key readable by its owner only.
    let key = home
        .dir
        .path()
        .join(".local/share/livechat-mcp/audit.db.key");
    let anchor = home
        .dir
        .path()
        .join(".local/share/livechat-mcp/audit.db.anchor");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let anchor = std::fs::read_to_string(anchor).expect("anchor file");
    assert!(
        anchor.starts_with("livechat-mcp-audit-anchor rows=2 mac="),
        "{anchor}"
    );
}

/// A policy and `--access` together, and a policy that does not parse, stop before anything
/// runs.
#[test]
fn conflicting_flags_and_a_bad_policy_stop_start_up() {
    let home = Home::new(POLICY);
    let policy = home.policy();
    let policy = policy.to_str().expect("utf-8");
    let both = home
        .run(&["--sandbox", "--policy", policy, "--access", "full", "tools"])
        .exits(2);
    assert!(
        both.stderr.contains("--policy") && both.stderr.contains("--access"),
        "{}",
        both.stderr
    );
    let mut via_env = home.command();
    via_env
        .env("LIVECHAT_MCP_ACCESS", "read")
        .args(["--sandbox", "--policy", policy, "tools"]);
    Run::from(
        via_env.output().expect("run"),
        &["LIVECHAT_MCP_ACCESS=read tools"],
    )
    .exits(2);

    let bad = home.dir.join("bad.toml");
    std::fs::write(&bad, "[agents.a]\n\naccess = { chatz = \"read\" }\n").expect("write");
    let bad = bad.to_str().expect("utf-8");
    for command in [
        &["tools"][..],
        &["call", "list_chats"],
        &["doctor"],
        &["serve"],
    ] {
        let mut args = vec!["--sandbox", "--policy", bad, "--audit", "off"];
        args.extend_from_slice(command);
        let run = home.run(&args);
        assert_ne!(run.code, Some(0), "{command:?} started with a bad policy");
        assert!(
            run.stderr.contains(&format!("{bad}:3:")) && run.stderr.contains("`chatz`"),
            "{command:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{command:?}: {}", run.stdout);
    }
}

/// An agent the policy does not name, or no agent named with a policy of two, gets nothing,
/// and is told why.
#[test]
fn an_agent_not_in_the_policy_gets_no_tools() {
    let home = Home::new(POLICY);
    let nobody = home.sandbox(&["--agent", "nobody", "tools"]).exits(0);
    assert!(nobody.stdout.is_empty(), "{}", nobody.stdout);
    assert!(
        nobody
            .stderr
            .contains("agent `nobody` is not in the policy")
            && nobody.stderr.contains("auditor, support-bot"),
        "{}",
        nobody.stderr
    );
    let refused = home
        .sandbox(&["--agent", "nobody", "call", "list_chats"])
        .exits(1);
    assert!(
        refused.stderr.contains("not available to agent nobody"),
        "{}",
        refused.stderr
    );
    let unnamed = home.sandbox(&["tools"]).exits(0);
    assert!(unnamed.stdout.is_empty(), "{}", unnamed.stdout);
    assert!(
        unnamed.stderr.contains("several agents"),
        "{}",
        unnamed.stderr
    );

    let rows = home.audit(&["--json"]).exits(0).json_lines();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["agent"], "nobody");
    assert_eq!(rows[0]["reason"], "chats is off for nobody");
    assert_eq!(rows[0]["identity"], "none");
    assert!(
        rows[0]["summary"]
            .as_str()
            .is_some_and(|s| s.ends_with(" (no LiveChat identity)")),
        "{}",
        rows[0]
    );
}

/// Three agents, three identities: one on the server's token, one with its own OAuth token,
/// one with its own PAT. Each row, allowed or denied, pending or outcome, names the identity
/// its call used, in `audit --json` and at the end of the sentence; the tokens themselves are
/// in no file of the trail; an identity edited by hand is named by `audit verify`.
#[test]
fn each_row_names_the_livechat_identity_the_call_used() {
    const TOKEN: &str = "tok-secret-5521-own-oauth";
    const PAT: &str = "pat-secret-8830-own-pat";
    const ACCOUNT: &str = "acct-77aa-own-account";
    let home = Home::new(
        r#"[agents.shared]
access = { chats = "read" }

[agents.tokened]
access = { chats = "read" }
[agents.tokened.livechat]
token_env = "TOKENED_TOKEN"

[agents.patted]
access = { chats = "read" }
[agents.patted.livechat]
pat_env = "PATTED_PAT"
account_id_env = "PATTED_ACCOUNT"
"#,
    );
    let policy = home.policy();
    let db = home.db();
    let call = |agent: &str, tool: &str, args: &str| {
        let args_list = [
            "--sandbox",
            "--policy",
            policy.to_str().expect("utf-8 path"),
            "--audit",
            db.to_str().expect("utf-8 path"),
            "--agent",
            agent,
            "call",
            tool,
            args,
        ];
        Run::from(
            home.command()
                .env("TOKENED_TOKEN", TOKEN)
                .env("PATTED_PAT", PAT)
                .env("PATTED_ACCOUNT", ACCOUNT)
                .args(args_list)
                .output()
                .expect("run livechat-mcp"),
            &args_list,
        )
    };
    call("shared", "list_chats", r#"{"limit": 1}"#).exits(0);
    call("tokened", "list_chats", r#"{"limit": 1}"#).exits(0);
    call("tokened", "deactivate_chat", r#"{"id": "PJ0MRSHTDG"}"#).exits(1);
    call("patted", "list_chats", r#"{"limit": 1}"#).exits(0);

    // Rows 1, 3 and 6 are the pending rows of the three lists; SQL sees them all.
    let conn = rusqlite::Connection::open(&db).expect("raw connection");
    let stored: Vec<(i64, String, String, Option<String>)> = conn
        .prepare("SELECT id, agent, outcome, identity FROM audit ORDER BY id")
        .expect("prepare")
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected = [
        (1, "shared", "pending", "server token"),
        (2, "shared", "ok", "server token"),
        (3, "tokened", "pending", "own token"),
        (4, "tokened", "ok", "own token"),
        (5, "tokened", "denied", "own token"),
        (6, "patted", "pending", "own PAT"),
        (7, "patted", "ok", "own PAT"),
    ];
    assert_eq!(
        stored,
        expected
            .iter()
            .map(|(id, agent, outcome, identity)| (
                *id,
                agent.to_string(),
                outcome.to_string(),
                Some(identity.to_string())
            ))
            .collect::<Vec<_>>()
    );

    let listed = home.audit(&["--json"]).exits(0).json_lines();
    assert_eq!(ids(&listed), [7, 5, 4, 2]);
    let identities: Vec<&str> = listed
        .iter()
        .map(|l| l["identity"].as_str().expect("identity"))
        .collect();
    assert_eq!(
        identities,
        ["own PAT", "own token", "own token", "server token"]
    );
    let sentences = home.audit(&[]).exits(0);
    let lines = sentences.lines();
    assert!(lines[0].ends_with(" ms (as own PAT)"), "{}", lines[0]);
    assert!(
        lines[1].ends_with(
            "tokened tried to end chat PJ0MRSHTDG — denied: chats is read-only for tokened (as own token)"
        ),
        "{}",
        lines[1]
    );
    assert!(lines[3].ends_with(" ms (as server token)"), "{}", lines[3]);

    // The credentials are in no file of the trail (nor in its key or anchor).
    let trail = db.parent().expect("dir").to_path_buf();
    for secret in [TOKEN, PAT, ACCOUNT] {
        assert_eq!(
            files_containing(&trail, secret),
            Vec::<PathBuf>::new(),
            "{secret}"
        );
    }

    assert!(
        home.audit(&["verify"]).exits(0).stdout.contains("7 rows"),
        "verify"
    );
    // Made to look like the server token's call: `verify` names the row.
    assert_eq!(edit_row(&db, 4, "identity", "server token"), "own token");
    let broken = home.audit(&["verify"]).exits(1);
    assert!(
        broken.stderr.contains("row 4") && broken.stderr.contains("MAC mismatch"),
        "{}",
        broken.stderr
    );
}

/// A trail written by the previous version (schema 3, no `identity`) is migrated when a call
/// is recorded on it; `audit verify` then checks old rows and new alike, and the listing
/// shows an identity on the new rows only.
#[test]
fn audit_verify_checks_a_trail_older_rows_and_newer_rows_alike() {
    let home = Home::new(POLICY);
    let db = home.db();
    // Rows as version 3 wrote them (no identity: they hash as version 3 hashed them), in a
    // file then taken back to version 3's schema.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = AuditStore::open(&db).expect("open");
        let list = NewEntry::new("support-bot", "list_chats", &serde_json::Map::new());
        let pending = store.append(list.pending()).await.expect("append");
        store
            .append(list.completing(pending.id).delivered(2, 40).took(90))
            .await
            .expect("append");
    });
    let conn = rusqlite::Connection::open(&db).expect("raw connection");
    conn.execute_batch("ALTER TABLE audit DROP COLUMN identity; PRAGMA user_version = 3;")
        .expect("back to version 3");
    drop(conn);
    let intact = home.audit(&["verify"]).exits(0);
    assert!(intact.stdout.contains("2 rows"), "{}", intact.stdout);
    let old = home.audit(&["--json"]).exits(0).json_lines();
    assert!(old.iter().all(|l| l.get("identity").is_none()), "{old:?}");

    home.sandbox(&[
        "--agent",
        "support-bot",
        "call",
        "list_chats",
        r#"{"limit": 1}"#,
    ])
    .exits(0);
    let user_version: i64 = rusqlite::Connection::open(&db)
        .expect("raw connection")
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("user_version");
    assert_eq!(user_version, 4);
    let intact = home.audit(&["verify"]).exits(0);
    assert!(intact.stdout.contains("4 rows"), "{}", intact.stdout);
    let listed = home.audit(&["--json"]).exits(0).json_lines();
    assert_eq!(ids(&listed), [4, 2]);
    assert_eq!(listed[0]["identity"], "server token");
    assert!(listed[1].get("identity").is_none(), "{}", listed[1]);
    let lines = home.audit(&[]).exits(0);
    assert!(
        lines.lines()[0].ends_with(" (as server token)")
            && lines.lines()[1].ends_with(" after 2 attempts (waited 40 ms)"),
        "{}",
        lines.stdout
    );

    // An identity given by hand to an old row is named too.
    let conn = rusqlite::Connection::open(&db).expect("raw connection");
    conn.execute_batch(
        "DROP TRIGGER audit_no_update; UPDATE audit SET identity = 'own PAT' WHERE id = 2",
    )
    .expect("tamper");
    let broken = home.audit(&["verify"]).exits(1);
    assert!(
        broken.stderr.contains("row 2") && broken.stderr.contains("MAC mismatch"),
        "{}",
        broken.stderr
    );
}

/// `doctor` names the agent, its grants and which tools it may use or not, and why.
#[test]
fn doctor_shows_the_agent_its_grants_and_each_tools_verdict() {
    let home = Home::new(POLICY);
    let report = home.sandbox(&["--agent", "support-bot", "doctor"]).exits(0);
    let out = &report.stdout;
    assert!(
        out.contains(&format!(
            "agent: support-bot (policy {})",
            home.policy().display()
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "grants: chats=read events=full chat_access=off chat_properties=off customers=off \
             agents=off groups=off webhooks=off tags_properties=off routing=off"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "usable (13): list_chats, list_threads, get_chat, list_archives, send_event, \
             send_event_preview, send_rich_message_postback, mark_events_as_seen, \
             send_typing_indicator, send_thinking_indicator, request_thread_summary, \
             multicast, upload_file\n"
        ),
        "{out}"
    );
    let hidden = out
        .lines()
        .find(|l| {
            let others = common::tool_count(ApiVersion::V3_6) - 13;
            l.starts_with(&format!("hidden by policy ({others}): "))
        })
        .unwrap_or_else(|| panic!("{out}"));
    for tool in [
        "start_chat",
        "deactivate_chat",
        "get_customer",
        "ban_customer",
    ] {
        assert!(hidden.contains(tool), "{hidden}");
    }
    assert!(out.contains("hidden by scopes (0)"), "{out}");
    // doctor calls nothing, so it leaves no trail.
    assert!(!home.db().exists());
}

/// Against a LiveChat stand-in (no sandbox): the token's scopes, read at start-up, hide the
/// tools they do not serve, and a call to one is refused without a request.
#[tokio::test(flavor = "multi_thread")]
async fn tools_the_token_cannot_use_are_hidden_by_scopes() {
    let mock = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/info"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"scope": "chats--all:ro,customers:ro"})),
        )
        .mount(&mock)
        .await;
    Mock::given(any()).respond_with(Echo).mount(&mock).await;
    let home = Home::new("[agents.ops]\naccess = { \"*\" = \"full\" }\n");
    let policy = home.policy();
    let db = home.db();
    let run = |args: &[&str]| {
        let mut cmd = home.command();
        cmd.env("LIVECHAT_API_URL", mock.uri())
            .env("LIVECHAT_ACCOUNTS_URL", mock.uri())
            .env("LIVECHAT_ACCESS_TOKEN", "scoped-token")
            .arg("--policy")
            .arg(&policy)
            .arg("--audit")
            .arg(&db)
            .args(args);
        Run::from(cmd.output().expect("run"), args)
    };
    let report = run(&["doctor"]).exits(0);
    assert!(
        report
            .stdout
            .contains("token scopes: chats--all:ro, customers:ro"),
        "{}",
        report.stdout
    );
    assert!(
        report.stdout.contains(
            // follow_chat and mark_events_as_seen need only a read scope; unfollow_chat,
            // upload_file, list_agents_for_transfer and list_webhook_names need none.
            "usable (11): list_chats, list_threads, get_chat, list_archives, follow_chat, \
             unfollow_chat, mark_events_as_seen, upload_file, list_agents_for_transfer, \
             get_customer, list_webhook_names\n"
        ),
        "{}",
        report.stdout
    );
    assert!(
        report.stdout.contains("hidden by policy (0)"),
        "{}",
        report.stdout
    );
    assert!(
        report.stdout.contains(&format!(
            "hidden by scopes ({})",
            common::tool_count(ApiVersion::V3_6) - 11
        )),
        "{}",
        report.stdout
    );
    let refused = run(&[
        "call",
        "ban_customer",
        r#"{"id": "cust-1", "ban": {"days": 1}}"#,
    ])
    .exits(1);
    assert!(
        refused.stderr.contains("not available to agent ops"),
        "{}",
        refused.stderr
    );
    run(&["call", "get_customer", r#"{"id": "cust-1"}"#]).exits(0);

    let sent: Vec<String> = mock
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        sent,
        [
            "GET /v2/info",
            "GET /v2/info",
            "GET /v2/info",
            "POST /v3.6/agent/action/get_customer"
        ]
    );
    let rows = run(&["audit", "--json"]).exits(0).json_lines();
    assert_eq!(ids(&rows), [3, 1]);
    assert_eq!(
        rows[1]["reason"],
        "the LiveChat token of ops lacks the scope customers.ban:rw"
    );
    assert_eq!(rows[0]["outcome"], "ok");
}
