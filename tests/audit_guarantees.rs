//! What the trail promises, tried the way bad luck and an attacker would: a locked database
//! refuses the call before anything is sent; `kill -9` in the middle of a burst leaves a row
//! for every request LiveChat received, and the next start gives the unfinished ones an
//! `unknown` outcome; rows deleted from the end, an emptied table, a replaced database and an
//! edited row all fail `audit verify` (and stop the next start), and an anchor kept elsewhere
//! catches a rolled-back anchor file.

mod common;
mod http_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use livechat_mcp::{
    agent::Agent,
    audit::{AuditStore, Entry, Outcome},
    error::FailureKind,
    policy::Level,
    server::{Catalog, LiveChatServer},
    version::ApiVersion,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

const VERSION: ApiVersion = ApiVersion::V3_6;

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every row of the trail at `db`, pending rows included, oldest first (read with SQL: the
/// listing leaves out pending rows that have their outcome).
fn all_rows(db: &Path) -> Vec<Entry> {
    let conn = rusqlite::Connection::open(db).expect("open the trail");
    let mut stmt = conn
        .prepare("SELECT id, outcome, completes, targets, tool FROM audit ORDER BY id")
        .expect("prepare");
    let rows = stmt
        .query_map([], |row| {
            let outcome: String = row.get(1)?;
            let targets: String = row.get(3)?;
            Ok(Entry {
                id: row.get::<_, i64>(0)? as u64,
                time: String::new(),
                agent: String::new(),
                tool: row.get(4)?,
                area: None,
                access: None,
                decision: livechat_mcp::audit::Decision::Allowed,
                reason: None,
                outcome: Outcome::parse(&outcome).expect("an outcome"),
                error_type: None,
                targets: serde_json::from_str(&targets).expect("targets"),
                duration_ms: 0,
                summary: String::new(),
                completes: row.get::<_, Option<i64>>(2)?.map(|id| id as u64),
                attempts: None,
                waited_ms: None,
                identity: None,
                instance: String::new(),
                mac: String::new(),
            })
        })
        .expect("query");
    rows.map(|r| r.expect("row")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_trail_refuses_the_call_and_sends_nothing() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"event_id": "E1"})))
        .mount(&mock)
        .await;
    let dir = common::TempDir::new("locked-trail");
    let db = dir.join("audit.db");
    let store = AuditStore::open(&db).expect("open the trail");
    let settings = common::settings(&mock.uri(), VERSION, Level::Full);
    let server = LiveChatServer::for_agent(
        Arc::new(Catalog::new(VERSION).expect("catalog")),
        Agent::local(&settings).expect("agent"),
        Some(store.clone()),
    );
    let arguments =
        || object(json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "hi"}}));

    // Another connection holds the write lock (a backup, a hung process, an attacker).
    let lock = rusqlite::Connection::open(&db).expect("raw connection");
    lock.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let refused = server.call("send_event", Some(arguments())).await;
    assert_eq!(refused.failure_kind, Some(FailureKind::AuditUnavailable));
    assert_eq!(refused.result.is_error, Some(true));
    let text = serde_json::to_string(&refused.result.content).expect("content");
    assert!(
        text.contains("audit_unavailable") && text.contains("nothing was sent to LiveChat"),
        "{text}"
    );
    assert!(
        !text.contains(db.to_str().expect("utf-8")),
        "the model is not told where the trail is: {text}"
    );
    assert_eq!(
        mock.received_requests().await.unwrap_or_default().len(),
        0,
        "nothing reached LiveChat while the trail could not record the call"
    );

    // The lock goes away: the same call goes through, written ahead and then completed.
    lock.execute_batch("ROLLBACK").expect("unlock");
    let done = server.call("send_event", Some(arguments())).await;
    assert_eq!(done.failure_kind, None, "{:?}", done.result);
    assert_eq!(mock.received_requests().await.unwrap_or_default().len(), 1);
    let rows = all_rows(&db);
    assert_eq!(
        rows.iter()
            .map(|r| (r.id, r.outcome, r.completes))
            .collect::<Vec<_>>(),
        [(1, Outcome::Pending, None), (2, Outcome::Ok, Some(1))]
    );
    assert_eq!(store.verify(None).await, Ok(2));
}

/// `kill -9` of the built binary while 32 clients send messages over HTTP: every message the
/// stand-in received has a row (written before it was sent), and the next start records the
/// unfinished calls as `unknown`, leaving a chain that verifies.
#[test]
fn kill_9_during_a_burst_loses_no_request() {
    const CLIENTS: usize = 32;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mock = runtime.block_on(async {
        let mock = MockServer::start().await;
        // Slow enough that calls are in flight at any moment.
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"event_id": "E1"}))
                    .set_delay(Duration::from_millis(20)),
            )
            .mount(&mock)
            .await;
        mock
    });
    let dir = common::TempDir::new("kill-9");
    let (policy, keys) = http_support::policy(&[("ops", "{ \"*\" = \"full\" }")]);
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, policy).expect("policy");
    let db = dir.join("audit.db");
    let mut server = http_support::ServerProcess::spawn(
        &[
            "--policy",
            policy_path.to_str().expect("utf-8"),
            "--audit",
            db.to_str().expect("utf-8"),
            "--api-url",
            &mock.uri(),
        ],
        &[("LIVECHAT_ACCESS_TOKEN", "kill-9-token")],
    );
    let base = server.base.clone();
    let key = keys[0].clone();
    let sent = runtime.block_on(async move {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (base, key, stop) = (base.clone(), key.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let client = http_support::McpClient::connect(&base, &key).await;
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let text = format!("client {c} message {n}");
                    let body = json!({"jsonrpc": "2.0", "id": n + 1, "method": "tools/call",
                        "params": {"name": "send_event", "arguments": {"chat_id": "PJ0MRSHTDG",
                        "event": {"type": "message", "text": text}}}});
                    // Once the server is killed, the request fails: stop.
                    let posted = client.try_post(&body).await;
                    if posted.is_err() {
                        break;
                    }
                    n += 1;
                }
            }));
        }
        // Let the burst run, then kill the server in the middle of it.
        let started = Instant::now();
        loop {
            let received = mock.received_requests().await.unwrap_or_default().len();
            if received >= 200 || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (mock, tasks)
    });
    let (mock, tasks) = sent;
    server.kill();
    runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    let received: Vec<String> = runtime.block_on(async {
        mock.received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path().ends_with("/send_event"))
            .map(|r| {
                let body: Value = serde_json::from_slice(&r.body).expect("a JSON body");
                body["event"]["text"].as_str().expect("a text").to_string()
            })
            .collect()
    });
    assert!(received.len() >= 200, "the burst reached LiveChat");

    // Every text LiveChat received has a row (written before it was sent, so a pending one:
    // the outcome rows are counted too, so that the figure compares with a trail that
    // records only outcomes).
    let rows = all_rows(&db);
    let recorded: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r.targets.content.as_ref()?.text_sha256.clone())
        .collect();
    let lost: Vec<&String> = received
        .iter()
        .filter(|text| !recorded.contains(&sha256_hex(text)))
        .collect();
    eprintln!(
        "kill -9 after {} requests reached LiveChat: {} rows, {} requests without a row",
        received.len(),
        rows.len(),
        lost.len()
    );
    assert_eq!(
        lost,
        Vec::<&String>::new(),
        "requests LiveChat got but the trail lacks"
    );

    // The next start gives each call left pending its outcome, `unknown`.
    let completed: BTreeSet<u64> = rows.iter().filter_map(|r| r.completes).collect();
    let open: Vec<u64> = rows
        .iter()
        .filter(|r| r.outcome == Outcome::Pending && !completed.contains(&r.id))
        .map(|r| r.id)
        .collect();
    let restarted = run(
        &dir,
        &[
            "--sandbox",
            "--policy",
            policy_path.to_str().expect("utf-8"),
            "--audit",
            db.to_str().expect("utf-8"),
            "call",
            "whoami",
        ],
    );
    let stderr = String::from_utf8_lossy(&restarted.stderr);
    assert!(restarted.status.success(), "{stderr}");
    if !open.is_empty() {
        assert!(
            stderr.contains(&format!("had {} calls left pending", open.len())),
            "{stderr}"
        );
    }
    let after = all_rows(&db);
    let unknown: Vec<u64> = after
        .iter()
        .filter(|r| r.outcome == Outcome::Unknown)
        .filter_map(|r| r.completes)
        .collect();
    assert_eq!(unknown, open, "each unfinished call, once");
    let verify = run(
        &dir,
        &["--audit", db.to_str().expect("utf-8"), "audit", "verify"],
    );
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let listed = run(
        &dir,
        &[
            "--audit",
            db.to_str().expect("utf-8"),
            "audit",
            "--limit",
            "0",
        ],
    );
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(
        listed.matches("outcome unknown").count(),
        open.len(),
        "{listed}"
    );
}

/// A start reads only the rows written since the last start's recovery (the mark in
/// `audit_recovered`), so a long trail does not slow every start. A call still in flight in
/// a live process holds the mark back: once that process is killed, the next start finds
/// its row and records it `unknown`.
#[test]
fn a_start_reads_only_rows_since_the_last_and_a_live_calls_row_waits_for_it() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mock = runtime.block_on(async {
        let mock = MockServer::start().await;
        // The call never gets its answer while the test looks.
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(120)))
            .mount(&mock)
            .await;
        mock
    });
    let (dir, db) = trail("recovery-mark");
    let mark = || -> i64 {
        rusqlite::Connection::open(&db)
            .expect("open the trail")
            .query_row("SELECT through FROM audit_recovered", [], |row| row.get(0))
            .expect("the recovery mark")
    };
    // Three starts, no call left pending: the mark is the newest row before the last start.
    let rows = all_rows(Path::new(&db));
    assert_eq!(rows.len(), 6);
    assert_eq!(mark(), 4);

    let mut in_flight = binary(&dir)
        .env("LIVECHAT_ACCESS_TOKEN", "recovery-mark-token")
        .args(["--access", "read", "--audit", &db, "--api-url", &mock.uri()])
        .args(["--timeout-secs", "300", "call", "list_chats"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let waiting = Instant::now();
    let pending = loop {
        let rows = all_rows(Path::new(&db));
        if let Some(row) = rows
            .iter()
            .find(|r| r.id > 6 && r.outcome == Outcome::Pending)
        {
            break row.id;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(20),
            "no pending row: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };

    // A start while that call is in flight leaves its row alone, and the mark below it.
    let out = list_chats(&dir, &db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        mark() < pending as i64,
        "mark {} passed the live call's row {pending}",
        mark()
    );
    assert!(
        !all_rows(Path::new(&db))
            .iter()
            .any(|r| r.completes == Some(pending)),
        "a live call's row got an outcome"
    );

    // Killed: the next start finds the row above the mark and records it unknown, once.
    in_flight.kill().expect("kill -9");
    in_flight.wait().expect("wait");
    let out = list_chats(&dir, &db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcomes: Vec<Outcome> = all_rows(Path::new(&db))
        .into_iter()
        .filter(|r| r.completes == Some(pending))
        .map(|r| r.outcome)
        .collect();
    assert_eq!(outcomes, vec![Outcome::Unknown]);
    assert!(
        mark() > pending as i64,
        "the mark moved past the resolved row"
    );
    let verify = run(&dir, &["--audit", &db, "audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// An anchor file emptied is taken as a missing one (an empty file is what another process
/// making the anchor shows for an instant), which a trail with rows refuses.
#[test]
fn an_emptied_anchor_file_is_refused_as_missing() {
    let (dir, db) = trail("emptied-anchor");
    std::fs::write(format!("{db}.anchor"), "").expect("empty the anchor");
    refused(&dir, &db, &["anchor", "missing"]);
}

/// The built binary with nothing of this environment but `PATH`, at home in `dir`, with no
/// accounts service to read scopes from.
fn binary(dir: &common::TempDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9");
    command
}

/// [`binary`] run with `args` to its end.
fn run(dir: &common::TempDir, args: &[&str]) -> Output {
    binary(dir).args(args).output().expect("run livechat-mcp")
}

/// One `list_chats` on the sandbox, read-only, recorded in the trail `db`.
fn list_chats(dir: &common::TempDir, db: &str) -> Output {
    run(
        dir,
        &[
            "--sandbox",
            "--access",
            "read",
            "--audit",
            db,
            "call",
            "list_chats",
        ],
    )
}

/// A trail of three sandbox calls (six rows) in a directory of its own.
fn trail(label: &str) -> (common::TempDir, String) {
    let dir = common::TempDir::new(label);
    let db = dir.join("audit.db").to_str().expect("utf-8").to_string();
    for _ in 0..3 {
        let out = list_chats(&dir, &db);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (dir, db)
}

/// `audit verify` fails, naming `words`, and so does the next start: start-up checks the
/// trail's end against its anchor (a whole walk, `audit verify`, finds edits further back).
fn refused(dir: &common::TempDir, db: &str, words: &[&str]) {
    verify_fails(dir, db, words);
    let start = list_chats(dir, db);
    let stderr = String::from_utf8_lossy(&start.stderr);
    assert!(!start.status.success(), "a tampered trail was appended to");
    assert!(stderr.contains("cannot open the audit trail"), "{stderr}");
    // A stdio `serve` on it stops with the reason and answers no call, even with its client
    // still connected.
    let mut serve = binary(dir)
        .args(["--sandbox", "--access", "read", "--audit", db, "serve"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "list_chats", "arguments": {}}}),
    ];
    let mut stdin = serve.stdin.take().expect("stdin");
    for message in messages {
        use std::io::Write as _;
        writeln!(stdin, "{message}").expect("write");
    }
    // Stdin stays open: the server must stop on its own.
    let waiting = Instant::now();
    while serve.try_wait().expect("try_wait").is_none() {
        if waiting.elapsed() > Duration::from_secs(30) {
            let _ = serve.kill();
            panic!("serve went on with a tampered trail");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = serve.wait_with_output().expect("serve ends");
    drop(stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot open the audit trail"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("\"id\":2"),
        "the call was answered: {stdout}"
    );
}

fn verify_fails(dir: &common::TempDir, db: &str, words: &[&str]) {
    let verify = run(dir, &["--audit", db, "audit", "verify"]);
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert_eq!(verify.status.code(), Some(1), "{stderr}");
    for word in words {
        assert!(stderr.contains(word), "want {word:?}: {stderr}");
    }
}

fn sql(db: &str, statements: &str) {
    rusqlite::Connection::open(db)
        .expect("raw connection")
        .execute_batch(statements)
        .expect("tamper");
}

#[test]
fn an_intact_trail_verifies_and_prints_its_anchor() {
    let (dir, db) = trail("intact");
    let verify = run(&dir, &["--audit", &db, "audit", "verify"]);
    let stdout = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(stdout.starts_with("audit trail intact: 6 rows"), "{stdout}");
    let anchor = run(&dir, &["--audit", &db, "audit", "anchor"]);
    let line = String::from_utf8_lossy(&anchor.stdout).trim().to_string();
    assert!(
        line.starts_with("livechat-mcp-audit-anchor rows=6 mac="),
        "{line}"
    );
    let with_copy = run(
        &dir,
        &["--audit", &db, "audit", "verify", "--anchor", &line],
    );
    assert!(with_copy.status.success());
    let nonsense = run(
        &dir,
        &["--audit", &db, "audit", "verify", "--anchor", "rows=6"],
    );
    assert_eq!(nonsense.status.code(), Some(2));
}

#[test]
fn a_deleted_tail_is_caught() {
    let (dir, db) = trail("deleted-tail");
    sql(
        &db,
        "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id > 4;",
    );
    refused(&dir, &db, &["cut short", "rows 5 to 6"]);
}

#[test]
fn an_emptied_table_is_caught() {
    let (dir, db) = trail("emptied");
    sql(&db, "DROP TRIGGER audit_no_delete; DELETE FROM audit;");
    refused(&dir, &db, &["emptied"]);
}

#[test]
fn a_replaced_database_is_caught() {
    // A trail made elsewhere, with another key, copied over this one.
    let (dir, db) = trail("replaced");
    let (_other_dir, other) = trail("replacement");
    std::fs::copy(&other, &db).expect("replace");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{db}{suffix}"));
    }
    refused(&dir, &db, &["row 1", "MAC mismatch"]);
}

#[test]
fn an_edited_row_is_caught_and_a_missing_key_stops_verify() {
    let (dir, db) = trail("edited");
    sql(
        &db,
        "DROP TRIGGER audit_no_update; UPDATE audit SET agent = 'someone-else' WHERE id = 3;",
    );
    verify_fails(&dir, &db, &["row 3", "MAC mismatch"]);
    std::fs::remove_file(format!("{db}.key")).expect("remove the key");
    let verify = run(&dir, &["--audit", &db, "audit", "verify"]);
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert_eq!(verify.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("key") && stderr.contains("missing"),
        "{stderr}"
    );
}

#[test]
fn a_rolled_back_anchor_file_is_caught_by_a_copy_kept_elsewhere() {
    let (dir, db) = trail("rolled-back");
    let early = std::fs::read_to_string(format!("{db}.anchor")).expect("anchor");
    let out = list_chats(&dir, &db);
    assert!(out.status.success());
    let kept = run(&dir, &["--audit", &db, "audit", "anchor"]);
    let kept = String::from_utf8_lossy(&kept.stdout).trim().to_string();
    // Someone who can write both removes the last call and puts the older anchor back.
    sql(
        &db,
        "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id > 6;",
    );
    std::fs::write(format!("{db}.anchor"), early).expect("roll back");
    let fooled = run(&dir, &["--audit", &db, "audit", "verify"]);
    assert!(
        fooled.status.success(),
        "the local anchor alone cannot tell"
    );
    let caught = run(
        &dir,
        &["--audit", &db, "audit", "verify", "--anchor", &kept],
    );
    let stderr = String::from_utf8_lossy(&caught.stderr);
    assert_eq!(caught.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cut short") && stderr.contains("the anchor given with --anchor"),
        "{stderr}"
    );
}

/// A stdio client that leaves (stdin closed) with a write and a read in flight: the write,
/// already sent, is left to finish and its outcome recorded before the process exits; the
/// read is cancelled once rmcp stops waiting for it, and recorded `cancelled`. Neither is
/// left `pending`, and each reached LiveChat once.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_leaving_with_calls_in_flight_leaves_every_outcome_recorded() {
    use std::io::Write as _;
    use wiremock::matchers::path;
    let mock = MockServer::start().await;
    // rmcp waits 5 s for answers after stdin closes, then cancels what is left.
    Mock::given(path("/v3.6/agent/action/send_event"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"event_id": "E1"}))
                .set_delay(Duration::from_secs(7)),
        )
        .mount(&mock)
        .await;
    Mock::given(path("/v3.6/agent/action/list_chats"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"chats_summary": []}))
                .set_delay(Duration::from_secs(12)),
        )
        .mount(&mock)
        .await;
    let dir = common::TempDir::new("leaving-client");
    let db = dir.join("audit.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
        .env("LIVECHAT_ACCESS_TOKEN", "leaving-token")
        .args([
            "--api-url",
            &mock.uri(),
            "--access",
            "full",
            "--timeout-secs",
            "20",
        ])
        .args(["--audit", db.to_str().expect("utf-8"), "serve"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut stdin = child.stdin.take().expect("stdin");
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "leaving", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "send_event",
            "arguments": {"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "bye"}}}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_chats", "arguments": {}}}),
    ] {
        writeln!(stdin, "{message}").expect("write");
    }
    stdin.flush().expect("flush");
    // Both requests are at the stand-in before the client leaves.
    for _ in 0..100 {
        if mock.received_requests().await.unwrap_or_default().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(stdin);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("serve exits");
    assert!(status.success(), "{status}");
    let conn = rusqlite::Connection::open(&db).expect("open the trail");
    let mut stmt = conn
        .prepare("SELECT tool, outcome FROM audit WHERE completes IS NOT NULL ORDER BY tool")
        .expect("prepare");
    let outcomes: Vec<(String, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query")
        .map(|row| row.expect("row"))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("list_chats".to_string(), "cancelled".to_string()),
            ("send_event".to_string(), "ok".to_string())
        ]
    );
    assert_eq!(mock.received_requests().await.unwrap_or_default().len(), 2);
}
