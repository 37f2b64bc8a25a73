//! Shared test helpers: a LiveChat stand-in (wiremock) and a real MCP client connected to the
//! server over an in-memory pipe.

#![allow(dead_code)]

use livechat_mcp::{
    config::{Credentials, Settings},
    policy::Level,
    server::LiveChatServer,
    tools,
    version::ApiVersion,
};
use rmcp::{RoleClient, ServiceExt, model::CallToolRequestParams, service::RunningService};
use serde_json::{Value, json};
use wiremock::{MockServer, Request, Respond, ResponseTemplate};

pub type Client = RunningService<RoleClient, ()>;

/// How many LiveChat tools `version` has, from the registry: tests count with this, so adding
/// a method never edits a test.
pub fn tool_count(version: ApiVersion) -> usize {
    tools::all().filter(|t| t.available_in(version)).count()
}

pub fn settings(api_url: &str, version: ApiVersion, access: Level) -> Settings {
    let mut settings = Settings::new(api_url);
    settings.version = version;
    settings.access = access;
    settings.credentials = Credentials::from_values(Some("test-token"), None, None);
    settings.timeout = std::time::Duration::from_secs(2);
    settings
}

/// Starts the server for `settings` and connects an rmcp client to it.
pub async fn connect(settings: &Settings) -> Client {
    let server = LiveChatServer::new(settings).expect("server");
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client connects")
}

pub async fn connect_to(mock: &MockServer, version: ApiVersion, access: Level) -> Client {
    connect(&settings(&mock.uri(), version, access)).await
}

/// Calls a tool and returns (is_error, structured content, text).
pub async fn call(client: &Client, tool: &str, args: Value) -> (bool, Option<Value>, String) {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .expect("tools/call answered");
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        result.structured_content, None,
        "a result is sent once, as JSON text"
    );
    let is_error = result.is_error == Some(true);
    let answer = if is_error {
        None
    } else {
        // The answer is the first block; a note on customer text may follow it.
        let first = result
            .content
            .first()
            .and_then(|c| c.as_text())
            .map(|t| t.text.as_str())
            .unwrap_or_default();
        Some(serde_json::from_str(first).expect("a result is JSON text"))
    };
    (is_error, answer, text)
}

/// The SDK fixture cases of one version.
pub fn fixture_cases(version: ApiVersion) -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/sdk/v{version}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: Value = serde_json::from_str(&text).expect("fixture JSON");
    file["cases"].as_array().expect("cases").clone()
}

/// Whether `request` carries what the SDK sent for fixture `case`: the same JSON body, or for a
/// form (`upload_file`) the same bytes once each side's random boundary reads `BOUNDARY`.
pub fn sent_as_fixture(request: &wiremock::Request, case: &Value) -> Result<(), String> {
    let Some(form) = case.get("form") else {
        let body: Value = serde_json::from_slice(&request.body)
            .map_err(|e| format!("the body is not JSON: {e}"))?;
        return match body == case["body"] {
            true => Ok(()),
            false => Err(format!("body\n  ours {body}\n  sdk  {}", case["body"])),
        };
    };
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| format!("content-type {content_type:?} is not a form with a boundary"))?;
    let ours_type = content_type.replace(boundary, "BOUNDARY");
    if ours_type != form["content_type"] {
        return Err(format!(
            "content-type {ours_type} != {}",
            form["content_type"]
        ));
    }
    let ours = replace_bytes(&request.body, boundary.as_bytes(), b"BOUNDARY");
    let sdk = STANDARD
        .decode(form["body_base64"].as_str().unwrap_or_default())
        .expect("body_base64");
    if ours != sdk {
        return Err(format!(
            "form body\n  ours {:?}\n  sdk  {:?}",
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&sdk)
        ));
    }
    Ok(())
}

/// `haystack` with every `needle` replaced by `with`.
pub fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// A LiveChat stand-in's responder for the end-to-end tests: answers every method with
/// `{"method": <name>}` (or `[{"method": <name>}]` where LiveChat answers with a list), so each
/// result can be traced to its call and fits its output schema.
pub struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let method = request.url.path().rsplit('/').next().unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(echo(method))
    }
}

/// Whether LiveChat answers `method` with a list (its tool wraps it as `{"items": [...]}`).
pub fn lists(method: &str) -> bool {
    tools::find(method).is_some_and(|t| t.output_schema()["required"] == json!(["items"]))
}

/// What [`Echo`] answers for `method`.
pub fn echo(method: &str) -> Value {
    if lists(method) {
        json!([{ "method": method }])
    } else {
        json!({ "method": method })
    }
}

/// The structured content a tool returns for [`Echo`]'s answer.
pub fn echo_structured(tool: &str) -> Value {
    if lists(tool) {
        json!({ "items": echo(tool) })
    } else {
        echo(tool)
    }
}

/// Connects an rmcp client to an already built server (e.g. one from
/// [`LiveChatServer::for_agent`]).
pub async fn serve(server: LiveChatServer) -> Client {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client connects")
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "livechat-mcp-{label}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Edits one row of an audit file by hand, as someone holding the file could: checks that the
/// trigger refuses the update (it guards against mistakes only), drops it, then changes the
/// row's `agent`.
pub fn tamper_agent(db: &std::path::Path, id: i64, agent: &str) {
    let conn = rusqlite::Connection::open(db).expect("raw connection");
    let refused = conn.execute(
        "UPDATE audit SET agent = ?1 WHERE id = ?2",
        rusqlite::params![agent, id],
    );
    assert!(refused.is_err(), "the trigger should refuse an update");
    drop(conn);
    edit_row(db, id, "agent", agent);
}

/// Sets one text column of one audit row by hand, dropping the update trigger first if it is
/// still there, and returns the value it had.
pub fn edit_row(db: &std::path::Path, id: i64, column: &str, value: &str) -> String {
    let conn = rusqlite::Connection::open(db).expect("raw connection");
    conn.execute_batch("DROP TRIGGER IF EXISTS audit_no_update")
        .expect("drop trigger");
    let old: String = conn
        .query_row(
            &format!("SELECT {column} FROM audit WHERE id = ?1"),
            [id],
            |row| row.get(0),
        )
        .unwrap_or_else(|e| panic!("row {id}: {e}"));
    let changed = conn
        .execute(
            &format!("UPDATE audit SET {column} = ?1 WHERE id = ?2"),
            rusqlite::params![value, id],
        )
        .expect("update");
    assert_eq!(changed, 1, "row {id} exists");
    old
}

/// The files in `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.is_file())
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap_or_default();
            bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
        })
        .collect()
}
