//! The audit trail in PostgreSQL (`--audit postgres://…`), on a throwaway server each test
//! starts itself (skipped, loudly, where the `postgresql` package is not installed): append,
//! verify and query; a tampered row named; one unbroken chain from two handles and from two
//! processes at once; the same MACs as the SQLite file; `audit verify` on the command line.

#[path = "common/postgres.rs"]
mod postgres;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use livechat_mcp::audit::{
    AuditFiles, AuditStore, Decision, Entry, NewEntry, Opening, QueryFilter,
};
use postgres::Postgres;
use serde_json::{Map, Value, json};
use tokio_postgres::NoTls;

/// A key and an anchor file of the test's own (the default place is shared by every trail
/// of the same host, port and database name, which throwaway servers reuse).
fn files(name: &str) -> AuditFiles {
    let dir = std::env::temp_dir().join(format!(
        "livechat-mcp-pg-files-{}-{name}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    AuditFiles {
        key: Some(dir.join("audit.key")),
        anchor: Some(dir.join("audit.anchor")),
    }
}

async fn open(url: &str, files: &AuditFiles) -> Result<AuditStore, String> {
    AuditStore::open_with(url, files, Opening::Append).await
}

fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn call(agent: &str, tool: &str, arguments: Value) -> NewEntry {
    NewEntry::new(agent, tool, &args(arguments)).took(5)
}

/// A raw connection, as someone editing the database by hand would have.
async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("raw connection");
    tokio::spawn(connection);
    client
}

/// The MAC the trail's format promises, computed here from the published JSON form and the
/// key file alone: HMAC-SHA-256 hex, under the key, of the previous MAC and the entry's JSON
/// less `mac`, keys sorted, compact.
fn published_mac(files: &AuditFiles, prev_mac: &str, entry: &Entry) -> String {
    fn canonical(value: &Value) -> String {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let fields: Vec<String> = keys
                    .into_iter()
                    .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }
            Value::Array(items) => {
                format!(
                    "[{}]",
                    items.iter().map(canonical).collect::<Vec<_>>().join(",")
                )
            }
            scalar => scalar.to_string(),
        }
    }
    let mut value = serde_json::to_value(entry).expect("entry JSON");
    if let Value::Object(map) = &mut value {
        map.remove("mac");
    }
    let hex = std::fs::read_to_string(files.key.as_ref().expect("key file")).expect("key");
    let key: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex.trim()[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    livechat_mcp::digest::hmac_sha256_hex(
        &key,
        &[prev_mac.as_bytes(), canonical(&value).as_bytes()],
    )
}

fn ids(entries: &[Entry]) -> Vec<u64> {
    entries.iter().map(|e| e.id).collect()
}

fn binary(files: &AuditFiles) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_livechat-mcp"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env(
            "LIVECHAT_MCP_AUDIT_KEY_FILE",
            files.key.as_ref().expect("key"),
        )
        .env(
            "LIVECHAT_MCP_AUDIT_ANCHOR_FILE",
            files.anchor.as_ref().expect("anchor"),
        )
        // The sandbox needs no credentials; nothing may reach the real LiveChat.
        .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9");
    cmd
}

fn output_text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn append_verify_query_and_a_tampered_row_is_named() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.create_db("trail");
    let files = files("trail");
    let store = open(&url, &files).await.expect("open");
    assert_eq!(
        store.location(),
        format!("postgres://127.0.0.1:{}/trail", pg.port())
    );
    assert_eq!(store.verify(None).await, Ok(0));

    let first = store
        .append(
            call(
                "support-bot",
                "send_event",
                json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "hi"}}),
            )
            .identity("bot 5c98…"),
        )
        .await
        .expect("append");
    assert_eq!(first.id, 1);
    assert_eq!(first.identity.as_deref(), Some("bot 5c98…"));
    assert_eq!(
        first.summary,
        "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 5 ms (as bot 5c98…)"
    );
    assert_eq!(first.mac, published_mac(&files, &"0".repeat(64), &first));
    let denied = store
        .append(
            call("auditor", "ban_customer", json!({"id": "b7ef"}))
                .denied("customers is off for auditor"),
        )
        .await
        .expect("append");
    assert_eq!(denied.mac, published_mac(&files, &first.mac, &denied));
    // A tool name as a client sent it, NUL included: PostgreSQL text cannot hold NUL, so it
    // is stored (and hashed) as U+FFFD.
    let odd = store
        .append(call("support-bot", "get\0chat", json!({})).denied("no such tool"))
        .await
        .expect("append a NUL");
    assert_eq!(odd.tool, "get\u{FFFD}chat");
    for i in 4..=10 {
        let failed = call(
            "support-bot",
            "get_chat",
            json!({"chat_id": format!("C{i}")}),
        )
        .failed("not_found");
        // One call retried: its attempts and wait are stored, and under the MAC.
        let failed = if i == 4 {
            failed.delivered(3, 1200)
        } else {
            failed
        };
        let stored = store.append(failed).await.expect("append");
        if i == 4 {
            assert_eq!((stored.attempts, stored.waited_ms), (Some(3), Some(1200)));
            assert_eq!(
                stored.summary,
                "support-bot tried to read chat C4 — allowed, failed: not_found after 3 attempts (waited 1.2 s)"
            );
            assert_eq!(stored.mac, published_mac(&files, &odd.mac, &stored));
        }
    }
    // A second handle continues the same chain.
    let other = open(&url, &files).await.expect("reopen");
    let eleventh = other
        .append(call("ops", "list_tags", json!({})))
        .await
        .expect("append");
    assert_eq!(eleventh.id, 11);
    assert_eq!(store.verify(None).await, Ok(11));

    let query = |filter: QueryFilter| {
        let store = store.clone();
        async move { ids(&store.query(&filter).await.expect("query")) }
    };
    assert_eq!(
        query(QueryFilter::default()).await,
        (1..=11).rev().collect::<Vec<u64>>()
    );
    assert_eq!(
        query(QueryFilter {
            decision: Some(Decision::Denied),
            ..QueryFilter::default()
        })
        .await,
        vec![3, 2]
    );
    assert_eq!(
        query(QueryFilter {
            agent: Some("support-bot".into()),
            tool: Some("get_chat".into()),
            limit: 2,
            ..QueryFilter::default()
        })
        .await,
        vec![10, 9]
    );
    let all = store.query(&QueryFilter::default()).await.expect("query");
    assert_eq!(all.last(), Some(&first));
    let since = chrono::DateTime::parse_from_rfc3339(&eleventh.time)
        .expect("time")
        .with_timezone(&chrono::Utc);
    assert_eq!(
        query(QueryFilter {
            since: Some(since + chrono::TimeDelta::milliseconds(1)),
            ..QueryFilter::default()
        })
        .await,
        Vec::<u64>::new()
    );
    assert_eq!(
        query(QueryFilter {
            since: Some(since),
            ..QueryFilter::default()
        })
        .await,
        vec![11]
    );
    // The console's filters: by outcome, up to a time, and by id either side of a row.
    assert_eq!(
        query(QueryFilter {
            outcome: Some(livechat_mcp::audit::Outcome::Error),
            ..QueryFilter::default()
        })
        .await,
        (4..=10).rev().collect::<Vec<u64>>()
    );
    assert_eq!(
        query(QueryFilter {
            until: Some(since - chrono::TimeDelta::milliseconds(1)),
            before: Some(10),
            limit: 2,
            ..QueryFilter::default()
        })
        .await,
        vec![9, 8]
    );
    assert_eq!(
        query(QueryFilter {
            after: Some(1),
            before: Some(4),
            ..QueryFilter::default()
        })
        .await,
        vec![3, 2]
    );

    // The same rows, copied as they are into a SQLite trail, verify there: one format.
    let dir = std::env::temp_dir().join(format!("livechat-mcp-pg-sqlite-{}", std::process::id()));
    let sqlite_path = dir.join("audit.db");
    let sqlite_files = AuditFiles {
        key: files.key.clone(),
        anchor: Some(dir.join("audit.anchor")),
    };
    drop(
        AuditStore::open_with(
            sqlite_path.to_str().expect("utf-8"),
            &sqlite_files,
            Opening::Append,
        )
        .await
        .expect("sqlite"),
    );
    let admin = raw(&url).await;
    {
        let sqlite = rusqlite::Connection::open(&sqlite_path).expect("sqlite raw");
        for row in admin
            .query(
                "SELECT id, time, agent, tool, area, access, decision, reason, outcome, \
                 error_type, targets, duration_ms, summary, completes, instance, prev_mac, mac, \
                 attempts, waited_ms, identity \
                 FROM audit ORDER BY id",
                &[],
            )
            .await
            .expect("read rows")
        {
            let text = |i: usize| row.get::<_, Option<String>>(i);
            sqlite
                .execute(
                    "INSERT INTO audit VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                    rusqlite::params![
                        row.get::<_, i64>(0),
                        text(1),
                        text(2),
                        text(3),
                        text(4),
                        text(5),
                        text(6),
                        text(7),
                        text(8),
                        text(9),
                        text(10),
                        row.get::<_, i64>(11),
                        text(12),
                        row.get::<_, Option<i64>>(13),
                        text(14),
                        text(15),
                        text(16),
                        row.get::<_, Option<i64>>(17),
                        row.get::<_, Option<i64>>(18),
                        text(19)
                    ],
                )
                .expect("copy a row");
        }
    }
    // The copy's own anchor file still says 0 rows: a lower bound the copy satisfies.
    let copy = AuditStore::open_with(
        sqlite_path.to_str().expect("utf-8"),
        &sqlite_files,
        Opening::Read,
    )
    .await
    .expect("sqlite");
    assert_eq!(copy.verify(None).await, Ok(11));
    assert_eq!(copy.query(&QueryFilter::default()).await, Ok(all));
    drop(copy);
    let _ = std::fs::remove_dir_all(&dir);

    // Tampering: the trigger refuses a plain UPDATE; without it, verify names the row.
    let refused = admin
        .execute("UPDATE audit SET agent = 'someone-else' WHERE id = 7", &[])
        .await;
    assert!(refused.is_err(), "the trigger should refuse an update");
    assert!(
        admin
            .execute("DELETE FROM audit WHERE id = 7", &[])
            .await
            .is_err()
    );
    assert_eq!(store.verify(None).await, Ok(11));
    admin
        .batch_execute(
            "DROP TRIGGER audit_no_update ON audit; \
             UPDATE audit SET agent = 'someone-else' WHERE id = 7",
        )
        .await
        .expect("tamper");
    let err = store.verify(None).await.expect_err("tampered");
    assert!(
        err.contains("row 7") && err.contains("MAC mismatch"),
        "{err}"
    );
    // The identity is under the MAC too: row 1 named as another is caught first.
    admin
        .batch_execute("UPDATE audit SET identity = 'server token' WHERE id = 1")
        .await
        .expect("tamper");
    let err = store.verify(None).await.expect_err("tampered");
    assert!(
        err.contains("row 1") && err.contains("MAC mismatch"),
        "{err}"
    );
    admin
        .batch_execute("UPDATE audit SET identity = 'bot 5c98…' WHERE id = 1")
        .await
        .expect("restore");

    // The command line says the same, and exits 1.
    let verify = binary(&files)
        .args(["audit", "--audit", &url, "verify"])
        .output()
        .expect("audit verify");
    let (_, stderr) = output_text(&verify);
    assert_eq!(verify.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("row 7") && stderr.contains("MAC mismatch"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_from_two_handles_keep_one_chain() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.create_db("trail");
    let files = files("two-handles");
    let a = open(&url, &files).await.expect("open a");
    let b = open(&url, &files).await.expect("open b");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .append(call(
                    &format!("agent-{}", i % 7),
                    "get_chat",
                    json!({"chat_id": format!("C{i}")}),
                ))
                .await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("append");
    }
    eprintln!("200 appends from two handles: {:?}", started.elapsed());
    assert_eq!(a.verify(None).await, Ok(200));
    assert_eq!(b.verify(None).await, Ok(200));
    let mut seen = ids(&a.query(&QueryFilter::default()).await.expect("query"));
    seen.sort_unstable();
    assert_eq!(seen, (1..=200).collect::<Vec<u64>>());

    // The server drops every livechat-mcp connection (as a restart would): the next append
    // reconnects and loses nothing.
    let admin = raw(&url).await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = 'livechat-mcp'",
            &[],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(killed >= 2, "{killed} connections terminated");
    let after = a
        .append(call("ops", "list_tags", json!({})))
        .await
        .expect("append after the connection was dropped");
    assert_eq!(after.id, 201);
    let after = b
        .append(call("ops", "list_tags", json!({})))
        .await
        .expect("append after the connection was dropped");
    assert_eq!(after.id, 202);
    assert_eq!(a.verify(None).await, Ok(202));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_and_a_handle_keep_one_chain_and_the_cli_verifies() {
    const CALLS_PER_PROCESS: usize = 20;
    /// The in-process handle appends while the processes run, at most this many times.
    const MAX_HANDLE_APPENDS: usize = 2000;
    let Some(pg) = Postgres::start() else { return };
    let url = pg.create_db("shared");
    // The server trusts local connections, so the password is ignored; it must never show.
    let secret_url = format!(
        "postgres://postgres:s3cret-pw@127.0.0.1:{}/shared",
        pg.port()
    );
    let files = files("shared");
    let started = Instant::now();
    // Two "servers", each its own process per call, in loops at the same time, while a
    // handle in this process appends too.
    let loops: Vec<_> = (0..2)
        .map(|n| {
            let url = secret_url.clone();
            let files = files.clone();
            std::thread::spawn(move || {
                for i in 0..CALLS_PER_PROCESS {
                    let out = binary(&files)
                        .args(["--sandbox", "--audit", &url, "call", "list_chats", "{}"])
                        .output()
                        .expect("run call");
                    let (stdout, stderr) = output_text(&out);
                    assert!(out.status.success(), "process {n} call {i}: {stderr}");
                    assert!(
                        !stdout.contains("s3cret") && !stderr.contains("s3cret"),
                        "{stderr}"
                    );
                }
            })
        })
        .collect();
    let store = open(&url, &files).await.expect("open");
    let mut handle_appends = 0;
    while handle_appends < MAX_HANDLE_APPENDS && !loops.iter().all(|l| l.is_finished()) {
        store
            .append(call(
                "in-process",
                "get_chat",
                json!({"chat_id": format!("H{handle_appends}")}),
            ))
            .await
            .expect("append");
        handle_appends += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for handle in loops {
        handle.join().expect("a call loop failed");
    }
    eprintln!(
        "{} process calls and {handle_appends} handle appends: {:?}",
        2 * CALLS_PER_PROCESS,
        started.elapsed()
    );

    // Each process call is two rows (written ahead, then its outcome); the listing shows
    // the outcome only.
    let expected = (4 * CALLS_PER_PROCESS + handle_appends) as u64;
    assert_eq!(store.verify(None).await, Ok(expected));
    let all = store.query(&QueryFilter::default()).await.expect("query");
    assert_eq!(all.len(), 2 * CALLS_PER_PROCESS + handle_appends);
    let from_processes: Vec<&Entry> = all.iter().filter(|e| e.tool == "list_chats").collect();
    assert_eq!(from_processes.len(), 2 * CALLS_PER_PROCESS);
    assert!(
        from_processes
            .iter()
            .all(|e| e.outcome.as_str() == "ok" && e.completes.is_some_and(|p| p < e.id)),
        "{from_processes:?}"
    );
    // Interleaved, not one writer after the other: the handle appended after the first
    // process row (its loop only stops when both processes are done).
    let oldest_first: Vec<&str> = all.iter().rev().map(|e| e.tool.as_str()).collect();
    let first_process_row = oldest_first.iter().position(|t| *t == "list_chats");
    let last_handle_row = oldest_first.iter().rposition(|t| *t == "get_chat");
    assert!(
        first_process_row < last_handle_row,
        "not interleaved: {oldest_first:?}"
    );

    let verify = binary(&files)
        .args(["audit", "--audit", &secret_url, "verify"])
        .output()
        .expect("audit verify");
    let (stdout, stderr) = output_text(&verify);
    assert_eq!(verify.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "audit trail intact: {expected} rows; every MAC checks"
        )) && stdout
            .trim()
            .ends_with(&format!("(postgres://127.0.0.1:{}/shared)", pg.port())),
        "{stdout}"
    );
    let listed = binary(&files)
        .args(["audit", "--audit", &secret_url, "--json", "--limit", "3"])
        .output()
        .expect("audit");
    let (stdout, stderr) = output_text(&listed);
    assert!(listed.status.success(), "{stderr}");
    let lines: Vec<Entry> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines, all[..3].to_vec());

    // A database that is not there: an error that names it without the password.
    let missing = binary(&files)
        .args([
            "audit",
            "--audit",
            &format!(
                "postgres://postgres:s3cret-pw@127.0.0.1:{}/nowhere",
                pg.port()
            ),
            "verify",
        ])
        .output()
        .expect("audit verify");
    let (stdout, stderr) = output_text(&missing);
    assert!(!missing.status.success());
    assert!(
        stderr.contains(&format!("postgres://127.0.0.1:{}/nowhere", pg.port())),
        "{stderr}"
    );
    assert!(
        !stdout.contains("s3cret") && !stderr.contains("s3cret"),
        "{stderr}"
    );
}

/// A server killed mid-call leaves its row `pending`; a server that is still connected keeps
/// its pending row to itself (its instance lock is held), and the dead one's gets `unknown`
/// at the next start. Rows cut from the end of a PostgreSQL trail are caught by the anchor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_s_call_becomes_unknown_and_a_live_one_s_is_left_alone() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
    let Some(pg) = Postgres::start() else { return };
    let url = pg.create_db("crash");
    let files = files("crash");
    // LiveChat takes a minute to answer: each call stays in flight until it is killed.
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"event_id": "E1"}))
                .set_delay(Duration::from_secs(60)),
        )
        .mount(&mock)
        .await;
    let spawn = || {
        binary(&files)
            .env("LIVECHAT_ACCESS_TOKEN", "t")
            .env("LIVECHAT_TIMEOUT_SECS", "120")
            .args([
                "--access",
                "full",
                "--audit",
                &url,
                "--api-url",
                &mock.uri(),
                "call",
                "send_event",
                r#"{"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "hi"}}"#,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn a call")
    };
    let store = open(&url, &files).await.expect("open");
    let mut killed = spawn();
    wait_for_pending(&url, 1).await;
    killed.kill().expect("kill -9");
    killed.wait().expect("reaped");
    // Its connection closes with it, and with it its instance lock.
    let first = recover_one(&store).await;
    assert_eq!(first.outcome.as_str(), "unknown");
    assert!(
        first
            .summary
            .contains("outcome unknown: the server stopped"),
        "{}",
        first.summary
    );

    let mut alive = spawn();
    wait_for_pending(&url, 2).await;
    assert_eq!(
        store.recover().await.expect("recover"),
        Vec::new(),
        "a connected server's call is its own"
    );
    alive.kill().expect("kill -9");
    alive.wait().expect("reaped");
    let second = recover_one(&store).await;
    assert_eq!(second.completes.map(|id| id > first.id), Some(true));
    assert!(
        store.recover().await.expect("recover").is_empty(),
        "once each"
    );
    assert_eq!(store.verify(None).await, Ok(4));

    // Rows cut from the end: verify names it, and a new server refuses the trail.
    let admin = raw(&url).await;
    admin
        .batch_execute("DROP TRIGGER audit_no_delete ON audit; DELETE FROM audit WHERE id > 2")
        .await
        .expect("cut");
    let err = store.verify(None).await.expect_err("cut short");
    assert!(
        err.contains("cut short") && err.contains("rows 3 to 4"),
        "{err}"
    );
    let refused = open(&url, &files).await.expect_err("a cut trail");
    assert!(refused.contains("rows were removed"), "{refused}");
}

/// Waits until the trail at `url` has `n` pending rows.
async fn wait_for_pending(url: &str, n: i64) {
    let admin = raw(url).await;
    let started = Instant::now();
    loop {
        let count: i64 = admin
            .query_one("SELECT count(*) FROM audit WHERE outcome = 'pending'", &[])
            .await
            .expect("count")
            .get(0);
        if count >= n {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no pending row"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Recovers until one row comes back (the killed server's connection may take a moment to
/// close), and returns it.
async fn recover_one(store: &AuditStore) -> Entry {
    let started = Instant::now();
    loop {
        let mut recovered = store.recover().await.expect("recover");
        if !recovered.is_empty() {
            assert_eq!(recovered.len(), 1, "{recovered:?}");
            return recovered.remove(0);
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The schema as version 2 created it (`SCHEMA` in `src/audit/postgres.rs` before version
/// 3), for databases written before the columns `attempts` and `waited_ms`.
const SCHEMA_V2: &str = r#"
CREATE TABLE audit_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE audit (
    id          BIGINT  PRIMARY KEY,
    time        TEXT    COLLATE "C" NOT NULL,
    agent       TEXT    NOT NULL,
    tool        TEXT    NOT NULL,
    area        TEXT,
    access      TEXT,
    decision    TEXT    NOT NULL,
    reason      TEXT,
    outcome     TEXT    NOT NULL,
    error_type  TEXT,
    targets     TEXT    NOT NULL,
    duration_ms BIGINT  NOT NULL,
    summary     TEXT    NOT NULL,
    completes   BIGINT,
    instance    TEXT    NOT NULL,
    prev_mac    TEXT    NOT NULL,
    mac         TEXT    NOT NULL
);
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_completes ON audit (completes);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
INSERT INTO audit_meta (name, value) VALUES ('schema_version', '2');
"#;

/// What version 3 added to [`SCHEMA_V2`]: its table is version 2's with `attempts` and
/// `waited_ms` last (as version 3 created it, or migrated a version-2 database to).
const SCHEMA_V2_TO_V3: &str = "
ALTER TABLE audit ADD COLUMN attempts BIGINT, ADD COLUMN waited_ms BIGINT;
UPDATE audit_meta SET value = '3' WHERE name = 'schema_version';
";

/// The trail's schema version in `audit_meta`, and its columns in table order.
async fn schema_of(client: &tokio_postgres::Client) -> (String, Vec<String>) {
    let version: String = client
        .query_one(
            "SELECT value FROM audit_meta WHERE name = 'schema_version'",
            &[],
        )
        .await
        .expect("version")
        .get(0);
    let columns = client
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = 'audit'::regclass \
             AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[],
        )
        .await
        .expect("columns")
        .iter()
        .map(|row| row.get(0))
        .collect();
    (version, columns)
}

/// A database `name` of schema `version` (2 or 3) holding `entries`: written under the
/// trail's key into a database of their own (without `identity`, and for version 2 without
/// `attempts` and `waited_ms`, they hash as that version hashed them), then copied as they
/// are, in that version's columns, into that version's schema. Returns its URL.
async fn old_database(
    pg: &Postgres,
    files: &AuditFiles,
    name: &str,
    version: u8,
    entries: Vec<NewEntry>,
) -> String {
    let source_url = pg.create_db(&format!("{name}_source"));
    let source = open(&source_url, files).await.expect("open the source");
    for entry in entries {
        assert_eq!(entry.identity, None, "no version before 4 had it");
        if version == 2 {
            assert_eq!((entry.attempts, entry.waited_ms), (None, None));
        }
        source.append(entry).await.expect("append");
    }
    drop(source);
    let url = pg.create_db(name);
    let admin = raw(&url).await;
    admin
        .batch_execute(SCHEMA_V2)
        .await
        .expect("version-2 schema");
    if version == 3 {
        admin
            .batch_execute(SCHEMA_V2_TO_V3)
            .await
            .expect("version-3 schema");
    }
    let (stored, columns) = schema_of(&admin).await;
    assert_eq!(stored, version.to_string());
    let list = columns.join(", ");
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let insert = format!("INSERT INTO audit ({list}) VALUES ({})", params.join(", "));
    for row in raw(&source_url)
        .await
        .query(&format!("SELECT {list} FROM audit ORDER BY id"), &[])
        .await
        .expect("read rows")
    {
        let text = |i: usize| row.get::<_, Option<String>>(i);
        let number = |i: usize| row.get::<_, Option<i64>>(i);
        let mut values: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
        for (i, column) in columns.iter().enumerate() {
            match column.as_str() {
                "id" | "duration_ms" | "completes" | "attempts" | "waited_ms" => {
                    values.push(Box::new(number(i)))
                }
                _ => values.push(Box::new(text(i))),
            }
        }
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        admin.execute(&insert, &refs).await.expect("copy a row");
    }
    url
}

/// A version-2 database (its schema as version 2 created it, and rows without `attempts`,
/// `waited_ms` and `identity`, which hash as version 2 hashed them) is read as it is when
/// opened to read, and migrated in place (to version 4) when opened to append: its rows still
/// verify, new rows carry the new columns, the triggers stay, and a handle opened to read
/// before the migration reads the new rows whole. A newer version is refused either way.
#[tokio::test]
async fn a_version_2_database_is_read_as_it_is_and_migrated_to_append() {
    let Some(pg) = Postgres::start() else { return };
    let files = files("v2");
    let send = call(
        "support-bot",
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "hi"}}),
    );
    let url = old_database(
        &pg,
        &files,
        "old",
        2,
        vec![
            send.pending(),
            send.clone().completing(1),
            call("auditor", "ban_customer", json!({"id": "b7ef"})).denied("no"),
            send.pending(),
        ],
    )
    .await;
    let admin = raw(&url).await;
    let (_, v2_columns) = schema_of(&admin).await;
    assert_eq!(v2_columns.len(), 17);

    // Read: nothing changes in the database.
    let reader = AuditStore::open_with(&url, &files, Opening::Read)
        .await
        .expect("open to read");
    assert_eq!(reader.verify(None).await, Ok(4));
    let listed = reader.query(&QueryFilter::default()).await.expect("query");
    assert_eq!(ids(&listed), vec![4, 3, 2]);
    assert!(
        listed
            .iter()
            .all(|e| e.attempts.is_none() && e.waited_ms.is_none() && e.identity.is_none())
    );
    let open_call = listed.first().expect("row 4").clone();
    assert_eq!(
        schema_of(&admin).await,
        ("2".to_string(), v2_columns.clone())
    );

    // Append: migrated in place.
    let writer = open(&url, &files).await.expect("open to append");
    let mut v4_columns = v2_columns.clone();
    v4_columns.extend(["attempts", "waited_ms", "identity"].map(String::from));
    assert_eq!(
        schema_of(&admin).await,
        ("4".to_string(), v4_columns.clone())
    );
    assert_eq!(writer.verify(None).await, Ok(4));
    let outcome = writer
        .append(
            send.identity("own token")
                .completing(open_call.id)
                .delivered(2, 450)
                .took(900),
        )
        .await
        .expect("append");
    assert_eq!(
        (
            outcome.id,
            outcome.attempts,
            outcome.waited_ms,
            outcome.identity.as_deref()
        ),
        (5, Some(2), Some(450), Some("own token"))
    );
    assert_eq!(
        outcome.summary,
        "support-bot sent a message to chat PJ0MRSHTDG — allowed, done in 900 ms after 2 attempts (waited 450 ms) (as own token)"
    );
    assert_eq!(outcome.mac, published_mac(&files, &open_call.mac, &outcome));
    assert_eq!(writer.verify(None).await, Ok(5));
    // The handle opened to read before the migration reads the new row whole.
    assert_eq!(reader.verify(None).await, Ok(5));
    assert_eq!(
        reader
            .query(&QueryFilter::default())
            .await
            .expect("query")
            .first(),
        Some(&outcome)
    );

    // Still append-only; opening again changes nothing.
    assert!(
        admin
            .execute("UPDATE audit SET attempts = 1 WHERE id = 5", &[])
            .await
            .is_err()
    );
    assert!(
        admin
            .execute("DELETE FROM audit WHERE id = 1", &[])
            .await
            .is_err()
    );
    drop(open(&url, &files).await.expect("reopen"));
    assert_eq!(schema_of(&admin).await, ("4".to_string(), v4_columns));
    assert_eq!(writer.verify(None).await, Ok(5));

    // A newer version is refused, to read and to append.
    admin
        .execute(
            "UPDATE audit_meta SET value = '5' WHERE name = 'schema_version'",
            &[],
        )
        .await
        .expect("bump");
    for opening in [Opening::Read, Opening::Append] {
        let err = AuditStore::open_with(&url, &files, opening)
            .await
            .expect_err("newer");
        assert!(err.contains("schema version 5"), "{opening:?}: {err}");
    }
}

/// A version-3 database (rows with and without `attempts`, none with `identity`) is read as
/// it is when opened to read, and migrated in place to version 4 when opened to append: the
/// mixed trail verifies, here and on the command line; new rows carry their identity, under
/// the MAC; an identity changed on a new row, or given to an old one, is named by `verify`.
#[tokio::test]
async fn a_version_3_database_is_read_as_it_is_and_migrated_to_append() {
    let Some(pg) = Postgres::start() else { return };
    let files = files("v3");
    let list = call("ops", "list_chats", json!({}));
    let url = old_database(
        &pg,
        &files,
        "old",
        3,
        vec![
            list.pending(),
            list.clone().completing(1).delivered(2, 300),
            call("auditor", "ban_customer", json!({"id": "b7ef"})).denied("no"),
        ],
    )
    .await;
    let admin = raw(&url).await;
    let (_, v3_columns) = schema_of(&admin).await;
    assert_eq!(v3_columns.len(), 19);

    let reader = AuditStore::open_with(&url, &files, Opening::Read)
        .await
        .expect("open to read");
    assert_eq!(reader.verify(None).await, Ok(3));
    let listed = reader.query(&QueryFilter::default()).await.expect("query");
    assert_eq!(
        listed
            .iter()
            .map(|e| (e.id, e.attempts, e.identity.clone()))
            .collect::<Vec<_>>(),
        vec![(3, None, None), (2, Some(2), None)]
    );
    assert_eq!(
        schema_of(&admin).await,
        ("3".to_string(), v3_columns.clone())
    );

    let writer = open(&url, &files).await.expect("open to append");
    let mut v4_columns = v3_columns.clone();
    v4_columns.push("identity".to_string());
    assert_eq!(schema_of(&admin).await, ("4".to_string(), v4_columns));
    let as_bot = list.identity("bot 5c98…");
    let pending = writer.append(as_bot.pending()).await.expect("pending");
    let done = writer
        .append(as_bot.completing(pending.id).took(182))
        .await
        .expect("outcome");
    let denied = writer
        .append(
            call("auditor", "ban_customer", json!({"id": "b7ef"}))
                .identity("server token")
                .denied("customers is off for auditor"),
        )
        .await
        .expect("denied");
    assert_eq!(
        [&pending, &done, &denied].map(|e| e.identity.clone().unwrap_or_default()),
        ["bot 5c98…", "bot 5c98…", "server token"].map(String::from)
    );
    assert_eq!(
        done.summary,
        "ops listed chats — allowed, done in 182 ms (as bot 5c98…)"
    );
    assert_eq!(done.mac, published_mac(&files, &pending.mac, &done));
    assert_eq!(writer.verify(None).await, Ok(6));
    assert_eq!(reader.verify(None).await, Ok(6));
    assert_eq!(
        reader
            .query(&QueryFilter::default())
            .await
            .expect("query")
            .first(),
        Some(&denied)
    );
    let verify = binary(&files)
        .args(["audit", "--audit", &url, "verify"])
        .output()
        .expect("audit verify");
    let (stdout, stderr) = output_text(&verify);
    assert_eq!(verify.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("6 rows"), "{stdout}");
    let listing = binary(&files)
        .args(["audit", "--audit", &url, "--json"])
        .output()
        .expect("audit --json");
    let (stdout, stderr) = output_text(&listing);
    assert_eq!(listing.status.code(), Some(0), "{stderr}");
    let identities: Vec<Option<String>> = stdout
        .lines()
        .map(|l| {
            let line: Value = serde_json::from_str(l).expect("JSON line");
            line.get("identity")
                .map(|i| i.as_str().expect("text").to_string())
        })
        .collect();
    assert_eq!(
        identities,
        [Some("server token"), Some("bot 5c98…"), None, None].map(|i| i.map(String::from))
    );

    assert!(
        admin
            .execute("UPDATE audit SET identity = 'own token' WHERE id = 5", &[])
            .await
            .is_err()
    );
    admin
        .batch_execute(
            "DROP TRIGGER audit_no_update ON audit; \
             UPDATE audit SET identity = 'own token' WHERE id = 5",
        )
        .await
        .expect("tamper");
    let err = writer.verify(None).await.expect_err("tampered");
    assert!(
        err.contains("row 5") && err.contains("MAC mismatch"),
        "{err}"
    );
    admin
        .batch_execute(
            "UPDATE audit SET identity = 'bot 5c98…' WHERE id = 5; \
             UPDATE audit SET identity = 'server token' WHERE id = 2",
        )
        .await
        .expect("tamper");
    let err = writer.verify(None).await.expect_err("tampered");
    assert!(
        err.contains("row 2") && err.contains("MAC mismatch"),
        "{err}"
    );
}

/// A migration that fails (here: the version cannot be written, after the columns were
/// added) leaves the database at its version, with its columns as they were.
#[tokio::test]
async fn a_failed_migration_leaves_the_old_version() {
    let Some(pg) = Postgres::start() else { return };
    for version in [2u8, 3] {
        let files = files(&format!("failed-v{version}"));
        let url = old_database(
            &pg,
            &files,
            &format!("failed_v{version}"),
            version,
            vec![call("ops", "list_tags", json!({}))],
        )
        .await;
        let admin = raw(&url).await;
        admin
            .batch_execute(
                "CREATE FUNCTION no_bump() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'audit_meta is frozen'; END $$; \
                 CREATE TRIGGER no_bump BEFORE UPDATE ON audit_meta \
                 FOR EACH ROW EXECUTE FUNCTION no_bump();",
            )
            .await
            .expect("a trigger that fails the migration");
        let before = schema_of(&admin).await;
        assert_eq!(before.0, version.to_string());
        let err = open(&url, &files).await.expect_err("failed migration");
        assert!(err.contains("audit_meta is frozen"), "{version}: {err}");
        assert_eq!(schema_of(&admin).await, before, "{version}");
        let reader = AuditStore::open_with(&url, &files, Opening::Read)
            .await
            .expect("open to read");
        assert_eq!(reader.verify(None).await, Ok(1), "{version}");
        // Once the database takes the change, the same migration goes through.
        admin
            .batch_execute("DROP TRIGGER no_bump ON audit_meta")
            .await
            .expect("drop");
        let writer = open(&url, &files).await.expect("migrated");
        assert_eq!(schema_of(&admin).await.0, "4");
        assert_eq!(writer.verify(None).await, Ok(1));
    }
}
