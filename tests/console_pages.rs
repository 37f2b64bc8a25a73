//! The console's trail, approvals and live pages, driven through `console_app` with `oneshot`
//! after signing in with the admin key (its cookie, and the CSRF token read from the page's
//! hidden `csrf` input), over a real SQLite trail, approvals table and event log in a temp dir:
//!
//! - the trail's filters (agent, tool, decision, outcome, time) and paging return exactly the
//!   matching rows, escaped; a row's page shows its stored fields;
//! - the stream sends a row appended after it opened, and only rows matching its filters;
//! - Verify says OK on a good trail, and names the row after the file is tampered with;
//! - approve and deny change a request's state and write the row the CLI's path writes;
//!   a second decision is 409, an unknown request 404, a change without the token 403;
//! - the live page lists an event to an agent allowed its area, not to one denied it.

mod common;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use common::TempDir;
use futures_util::StreamExt as _;
use livechat_mcp::{
    approvals::{self, Approvals, Approver, NewRequest, State},
    audit::{AuditStore, Entry, NewEntry, Outcome, QueryFilter},
    console::{ConsoleState, Sessions, console_app},
    events::{EventLog, LogOptions, NewEvent},
    http::{AllowedHosts, Metrics},
    policy::{file::PolicyFile, key_sha256},
    server::{CallObserver, Traffic},
};
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

const ADMIN_KEY: &str = "lcmcp_admin_console_pages_test_key";

const POLICY: &str = r#"
[agents.ops]
access = { "*" = "full" }
approve = ["customers"]

[agents.reader]
access = { chats = "read" }

[agents.blind]
access = { agents = "read", chats = "off" }
"#;

struct Console {
    app: Router,
    cookie: String,
    csrf: String,
    db: std::path::PathBuf,
    audit: AuditStore,
    approvals: Approvals,
    events: EventLog,
    metrics: Arc<Metrics>,
    _dir: TempDir,
}

async fn console(label: &str) -> Console {
    let dir = TempDir::new(label);
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, POLICY).expect("policy");
    let db = dir.join("audit.db");
    let audit = AuditStore::open(&db).expect("trail");
    let approvals = Approvals::open(&db.display().to_string())
        .await
        .expect("approvals");
    let events = EventLog::open_sqlite(
        &livechat_mcp::events::path_beside(&db),
        LogOptions::default(),
    )
    .expect("event log");
    let metrics = Arc::new(Metrics::new());
    let state = ConsoleState {
        policy: PolicyFile::open(&policy_path).expect("policy file"),
        admin_key_override: Some(key_sha256(ADMIN_KEY)),
        audit: Some(audit.clone()),
        approvals: Some(approvals.clone()),
        events: Some(events.clone()),
        metrics: Some(metrics.clone()),
        hosts: AllowedHosts::new(&[]).expect("hosts"),
        sessions: Sessions::default(),
    };
    let app = console_app(Arc::new(state));
    let signed_in = app
        .clone()
        .oneshot(
            Request::post("/console/sign-in")
                .header(header::HOST, "localhost")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("key={ADMIN_KEY}")))
                .expect("request"),
        )
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    let mut console = Console {
        app,
        cookie,
        csrf: String::new(),
        db,
        audit,
        approvals,
        events,
        metrics,
        _dir: dir,
    };
    let (status, _, body) = console.get("/console/trail").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    console.csrf = attribute_after(&body, "name=\"csrf\" value=\"").expect("a csrf input");
    console
}

/// The text from after `marker` to the next `"`.
fn attribute_after(body: &str, marker: &str) -> Option<String> {
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_string())
}

/// Every value of `attribute="…"` in `body`, in order.
fn all_attributes(body: &str, attribute: &str) -> Vec<String> {
    let marker = format!("{attribute}=\"");
    body.match_indices(&marker)
        .filter_map(|(at, _)| attribute_after(&body[at..], &marker))
        .collect()
}

/// The trail rows a page lists, by id, in order.
fn row_ids(body: &str) -> Vec<u64> {
    all_attributes(body, "data-entry-id")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect()
}

impl Console {
    async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let response = self.app.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 4 << 20)
            .await
            .expect("body");
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "localhost")
            .header(header::COOKIE, &self.cookie)
    }

    async fn get(&self, path: &str) -> (StatusCode, HeaderMap, String) {
        self.send(
            self.request("GET", path)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    /// A POST of `fields`, with the session's CSRF token unless `csrf` is false.
    async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        csrf: bool,
    ) -> (StatusCode, HeaderMap, String) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        if csrf {
            form.append_pair("csrf", &self.csrf);
        }
        for (name, value) in fields {
            form.append_pair(name, value);
        }
        self.send(
            self.request("POST", path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.finish()))
                .expect("request"),
        )
        .await
    }

    async fn record(&self, entry: NewEntry) -> Entry {
        self.audit.append(entry).await.expect("append")
    }

    async fn rows(&self) -> Vec<Entry> {
        self.audit
            .query(&QueryFilter::default())
            .await
            .expect("query")
    }
}

fn call(agent: &str, tool: &str, arguments: Value) -> NewEntry {
    let Value::Object(map) = arguments else {
        panic!("an object")
    };
    NewEntry::new(agent, tool, &map)
}

fn rfc3339(entry: &Entry) -> String {
    entry.time.clone()
}

/// Six rows: ops lists chats (1), reader is denied a ban (2), ops's get_chat fails (3); a
/// pause; reader lists chats (4), ops lists chats (5), a call to no such tool (6).
async fn six_rows(console: &Console) -> Vec<Entry> {
    let mut rows = vec![
        console.record(call("ops", "list_chats", json!({}))).await,
        console
            .record(
                call("reader", "ban_customer", json!({"id": "c1"}))
                    .denied("customers is off for reader"),
            )
            .await,
        console
            .record(call("ops", "get_chat", json!({"chat_id": "PJ0MRSHTDG"})).failed("not_found"))
            .await,
    ];
    tokio::time::sleep(Duration::from_millis(30)).await;
    rows.push(
        console
            .record(call("reader", "list_chats", json!({})))
            .await,
    );
    // Rows carry the millisecond: a short pause keeps 4 and 5 apart for the span filter.
    tokio::time::sleep(Duration::from_millis(5)).await;
    rows.push(console.record(call("ops", "list_chats", json!({}))).await);
    rows.push(
        console
            .record(call("ops", "<script>alert(1)</script>", json!({})).denied("no such tool"))
            .await,
    );
    rows
}

#[tokio::test]
async fn the_trail_filters_pages_and_escapes() {
    let console = console("console-trail").await;
    let rows = six_rows(&console).await;
    let ids = |query: &'static str| {
        let console = &console;
        async move {
            let (status, _, body) = console.get(&format!("/console/trail{query}")).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            row_ids(&body)
        }
    };
    assert_eq!(ids("").await, vec![6, 5, 4, 3, 2, 1]);
    assert_eq!(ids("?agent=ops").await, vec![6, 5, 3, 1]);
    assert_eq!(ids("?agent=reader&decision=denied").await, vec![2]);
    assert_eq!(ids("?decision=allowed").await, vec![5, 4, 3, 1]);
    assert_eq!(ids("?tool=list_chats").await, vec![5, 4, 1]);
    assert_eq!(ids("?outcome=error").await, vec![3]);
    assert_eq!(ids("?agent=nobody").await, Vec::<u64>::new());
    // Time: RFC 3339 either side of the pause, a browser's date-time field, a span.
    let fourth = form_urlencoded::byte_serialize(rfc3339(&rows[3]).as_bytes()).collect::<String>();
    let third = form_urlencoded::byte_serialize(rfc3339(&rows[2]).as_bytes()).collect::<String>();
    let (_, _, body) = console.get(&format!("/console/trail?since={fourth}")).await;
    assert_eq!(row_ids(&body), vec![6, 5, 4]);
    let (_, _, body) = console.get(&format!("/console/trail?until={third}")).await;
    assert_eq!(row_ids(&body), vec![3, 2, 1]);
    let (_, _, body) = console
        .get(&format!(
            "/console/trail?agent=ops&since={fourth}&until={fourth}"
        ))
        .await;
    assert_eq!(row_ids(&body), Vec::<u64>::new());
    assert_eq!(ids("?until=2000-01-01T00%3A00").await, Vec::<u64>::new());
    assert_eq!(
        ids("?since=2000-01-01T00%3A00&agent=reader").await,
        vec![4, 2]
    );
    assert_eq!(ids("?since=1h&decision=denied").await, vec![6, 2]);
    // A bad filter is named, with 400, and lists nothing.
    let (status, _, body) = console.get("/console/trail?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("id=\"problem\"") && body.contains("yesterday"),
        "{body}"
    );
    assert!(row_ids(&body).is_empty());
    // Each row: its decision, id, sentence; and the tool name as called, escaped.
    let (_, _, body) = console.get("/console/trail").await;
    assert!(
        body.contains("<tr data-decision=\"denied\" data-entry-id=\"2\""),
        "{body}"
    );
    assert!(body.contains(&format!(
        "<td class=\"sentence\">{}</td>",
        html(&rows[1].summary)
    )));
    assert!(!body.contains("<script>alert"), "{body}");
    assert!(
        body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{body}"
    );
    // The newest page streams; the filters are a GET form.
    assert!(
        body.contains("data-stream=\"/console/trail/stream?after=6\""),
        "{body}"
    );
    assert!(body.contains("<form method=\"get\" action=\"/console/trail\""));

    // Paging: 50 a page, newest first, an "Older" link carrying the filters.
    for n in 0..55 {
        console
            .record(call("pager", "list_chats", json!({"n": n})))
            .await;
    }
    let (_, _, first) = console.get("/console/trail?agent=pager").await;
    let first_ids = row_ids(&first);
    assert_eq!(first_ids.len(), 50);
    assert_eq!(first_ids.first(), Some(&61));
    assert_eq!(first_ids.last(), Some(&12));
    assert!(
        first.contains("<a href=\"/console/trail?agent=pager&#38;before=12\" rel=\"next\""),
        "{first}"
    );
    let (_, _, second) = console.get("/console/trail?agent=pager&before=12").await;
    assert_eq!(row_ids(&second), (7..=11).rev().collect::<Vec<u64>>());
    assert!(!second.contains("rel=\"next\""));
    assert!(!second.contains("data-stream"), "an older page is not live");
}

fn html(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn a_rows_page_shows_its_stored_fields() {
    let console = console("console-entry").await;
    let rows = six_rows(&console).await;
    let (status, _, body) = console.get("/console/trail/3").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (field, value) in [
        ("Agent", "ops"),
        ("Tool", "get_chat"),
        ("Area", "chats"),
        ("Access", "read"),
        ("Decision", "allowed"),
        ("Outcome", "error"),
        ("Error type", "not_found"),
        ("Instance", rows[2].instance.as_str()),
        ("MAC", rows[2].mac.as_str()),
    ] {
        assert!(
            body.contains(&format!("<dt>{field}</dt><dd>{value}</dd>")),
            "{field}: {body}"
        );
    }
    assert!(
        body.contains("&#34;chat_id&#34;: &#34;PJ0MRSHTDG&#34;"),
        "{body}"
    );
    let (status, _, _) = console.get("/console/trail/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = console.get("/console/trail/abc").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The next `row` event's data from an SSE body, within `wait`.
async fn next_row(
    body: &mut (impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    buffer: &mut String,
    wait: Duration,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.lines().any(|l| l == "event: row") {
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                return serde_json::from_str(&data).ok();
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .ok()??;
        buffer.push_str(&String::from_utf8_lossy(&chunk.ok()?));
    }
}

#[tokio::test]
async fn the_stream_sends_new_matching_rows() {
    let console = console("console-stream").await;
    six_rows(&console).await;
    let response = console
        .app
        .clone()
        .oneshot(
            console
                .request("GET", "/console/trail/stream?agent=ops&after=6")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut body = response.into_body().into_data_stream();
    let mut buffer = String::new();
    // Nothing new yet: nothing sent (keep-alive comments aside).
    assert_eq!(
        next_row(&mut body, &mut buffer, Duration::from_millis(1500)).await,
        None
    );
    console
        .record(call("reader", "list_chats", json!({})))
        .await;
    let mine = console
        .record(call("ops", "list_chats", json!({})).denied("just because"))
        .await;
    let row = next_row(&mut body, &mut buffer, Duration::from_secs(5))
        .await
        .expect("the new row");
    assert_eq!(row["id"], json!(mine.id));
    let html = row["html"].as_str().unwrap_or_default();
    assert!(
        html.starts_with(&format!(
            "<tr data-decision=\"denied\" data-entry-id=\"{}\"",
            mine.id
        )),
        "{html}"
    );
    assert!(html.contains("<td class=\"sentence\">"), "{html}");
    // A browser reconnecting goes on after the last row it got (`Last-Event-ID`).
    let again = console
        .app
        .clone()
        .oneshot(
            console
                .request("GET", "/console/trail/stream?agent=ops&after=1")
                .header("last-event-id", (mine.id - 1).to_string())
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let mut body = again.into_body().into_data_stream();
    let mut buffer = String::new();
    let row = next_row(&mut body, &mut buffer, Duration::from_secs(5))
        .await
        .expect("the row after the last one seen");
    assert_eq!(row["id"], json!(mine.id));
}

#[tokio::test]
async fn streams_are_capped() {
    let console = console("console-streams").await;
    let mut open = Vec::new();
    for _ in 0..16 {
        let response = console
            .app
            .clone()
            .oneshot(
                console
                    .request("GET", "/console/trail/stream")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let (status, headers, _) = console.get("/console/trail/stream").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key(header::RETRY_AFTER));
    // A client that goes away frees its slot (its task sees the stream closed).
    open.pop();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let response = console
            .app
            .clone()
            .oneshot(
                console
                    .request("GET", "/console/trail/stream")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot was not freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn verify_says_ok_then_names_the_tampered_row() {
    let console = console("console-verify").await;
    let (_, _, body) = console.post("/console/trail/verify", &[], true).await;
    assert!(body.contains("audit trail empty"), "{body}");
    six_rows(&console).await;
    let (status, _, body) = console.post("/console/trail/verify", &[], true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("id=\"status\"") && body.contains("OK — audit trail intact: 6 rows"),
        "{body}"
    );
    let anchor = console.audit.anchor().await.expect("anchor").expect("rows");
    assert!(
        body.contains(&format!(
            "<pre class=\"key-once\" id=\"anchor\">{anchor}</pre>"
        )),
        "{body}"
    );
    // Without the session's token: refused by the middleware.
    let (status, _, _) = console.post("/console/trail/verify", &[], false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    rusqlite::Connection::open(&console.db)
        .expect("raw connection")
        .execute_batch(
            "DROP TRIGGER audit_no_update; UPDATE audit SET agent = 'someone-else' WHERE id = 3;",
        )
        .expect("tamper");
    let (_, _, body) = console.post("/console/trail/verify", &[], true).await;
    assert!(body.contains("id=\"problem\""), "{body}");
    assert!(
        body.contains("row 3") && body.contains("MAC mismatch"),
        "{body}"
    );
    assert!(!body.contains("OK —"), "{body}");
}

async fn held(console: &Console, id: &str) -> String {
    let arguments = json!({"id": id, "ban": {"days": 3}});
    let Value::Object(map) = arguments else {
        panic!("an object")
    };
    let (request, made) = console
        .approvals
        .request(NewRequest {
            agent: "ops".into(),
            tool: "ban_customer".into(),
            arguments_sha256: approvals::arguments_sha256(&map),
            would: format!("ban customer {id} for 3 days"),
            arguments: approvals::shown_arguments(&map),
            approvers: vec![Approver::Console, Approver::Client],
        })
        .await
        .expect("request");
    assert!(made);
    request.id
}

/// The row `decide_recorded` (the CLI's `approvals approve|deny`) writes for `id`'s decision,
/// as it would write it now.
async fn cli_row(console: &Console, id: &str, step: Outcome) -> NewEntry {
    let request = console
        .approvals
        .get(id)
        .await
        .expect("get")
        .expect("the request");
    NewEntry::decision(&request, step)
}

fn same_row(got: &Entry, want: &NewEntry) {
    assert_eq!(got.agent, want.agent);
    assert_eq!(got.tool, want.tool);
    assert_eq!(got.area, want.area);
    assert_eq!(got.access, want.access);
    assert_eq!(got.decision, want.decision);
    assert_eq!(got.reason, want.reason);
    assert_eq!(got.outcome, want.outcome);
    assert_eq!(got.targets, want.targets);
    assert_eq!(got.summary, want.summary());
}

#[tokio::test]
async fn approve_and_deny_decide_as_the_cli_does() {
    let console = console("console-approvals").await;
    let first = held(&console, "<b>cust-1</b>").await;
    let second = held(&console, "cust-2").await;
    let (status, _, body) = console.get("/console/approvals").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for id in [&first, &second] {
        assert!(
            body.contains(&format!("<tr data-approval-id=\"{id}\">")),
            "{body}"
        );
        assert!(body.contains(&format!(
            "<form method=\"post\" action=\"/console/approvals/{id}/approve\""
        )));
        assert!(body.contains(&format!(
            "<form method=\"post\" action=\"/console/approvals/{id}/deny\""
        )));
    }
    assert!(body.contains("ops would ban customer"), "{body}");
    assert!(body.contains("&#34;days&#34;: 3"), "{body}");
    assert!(body.contains("&#60;b&#62;cust-1&#60;/b&#62;") && !body.contains("<b>cust-1"));
    assert!(body.contains("in 15 min"), "{body}");

    // Approve, with a reason: the request is approved, the trail has the CLI's row.
    let (status, headers, body) = console
        .post(
            &format!("/console/approvals/{first}/approve"),
            &[("reason", "looks right")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let to = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        to,
        format!("/console/approvals?decided={first}&how=approved")
    );
    let request = console
        .approvals
        .get(&first)
        .await
        .expect("get")
        .expect("it");
    assert_eq!(request.state, State::Approved);
    assert_eq!(request.decided_by.as_deref(), Some("console:admin"));
    assert_eq!(request.reason.as_deref(), Some("looks right"));
    let rows = console.rows().await;
    let want = cli_row(&console, &first, Outcome::Approved).await;
    same_row(&rows[0], &want);
    assert_eq!(
        rows[0].reason.as_deref(),
        Some("console:admin: looks right")
    );
    let (_, _, page) = console.get(&to).await;
    assert!(
        page.contains(&format!("Request {first} is approved")),
        "{page}"
    );
    assert!(!page.contains(&format!("data-approval-id=\"{first}\"")));
    assert!(page.contains(&format!(
        "data-decided-id=\"{first}\" data-state=\"approved\""
    )));

    // Twice: 409, nothing changes, no row.
    let (status, _, body) = console
        .post(&format!("/console/approvals/{first}/deny"), &[], true)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("approved already"), "{body}");
    assert_eq!(console.rows().await.len(), rows.len());

    // Deny without a reason.
    let (status, _, _) = console
        .post(
            &format!("/console/approvals/{second}/deny"),
            &[("reason", "  ")],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let request = console
        .approvals
        .get(&second)
        .await
        .expect("get")
        .expect("it");
    assert_eq!(request.state, State::Denied);
    let rows = console.rows().await;
    same_row(&rows[0], &cli_row(&console, &second, Outcome::Denied).await);
    assert_eq!(rows[0].reason.as_deref(), Some("console:admin"));
    let (status, _, _) = console
        .post(&format!("/console/approvals/{second}/approve"), &[], true)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Unknown and malformed ids: 404. Without the token: 403, nothing decided.
    let (status, _, _) = console
        .post("/console/approvals/APR-0000000000/approve", &[], true)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = console
        .post("/console/approvals/nonsense/approve", &[], true)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let third = held(&console, "cust-3").await;
    let (status, _, _) = console
        .post(&format!("/console/approvals/{third}/approve"), &[], false)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let request = console
        .approvals
        .get(&third)
        .await
        .expect("get")
        .expect("it");
    assert_eq!(request.state, State::Pending);

    // Lapsed (another handle, its clock past the time to live, expired it): 409, expired.
    let later = Approvals::open(&console.db.display().to_string())
        .await
        .expect("approvals")
        .with_clock(Arc::new(|| {
            chrono::Utc::now().timestamp_millis() + 3_600_000
        }));
    let lapsed = later.expire_due().await.expect("expire");
    assert!(lapsed.iter().any(|r| r.id == third), "{lapsed:?}");
    let (status, _, body) = console
        .post(&format!("/console/approvals/{third}/approve"), &[], true)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("expired already"), "{body}");
}

#[tokio::test]
async fn the_live_page_shows_each_agent_only_what_it_may_read() {
    let console = console("console-live").await;
    let appended = console
        .events
        .append(NewEvent {
            action: "incoming_event".into(),
            chat_id: Some("PJ0MRSHTDG".into()),
            thread_id: Some("T1".into()),
            dedupe: "e1".into(),
            earlier: None,
            payload: json!({"action": "incoming_event", "payload": {"chat_id": "PJ0MRSHTDG", "thread_id": "T1", "event": {"type": "message", "author_id": "cust-7", "text": "Where is my <order>?"}}}),
        })
        .await
        .expect("append");
    console
        .events
        .append(NewEvent {
            action: "agent_created".into(),
            chat_id: None,
            thread_id: None,
            dedupe: "e2".into(),
            earlier: None,
            payload: json!({"action": "agent_created", "payload": {"id": "jane@example.com"}}),
        })
        .await
        .expect("append");
    console.metrics.call_finished(
        &NewEntry::new("reader", "list_chats", &Map::new()),
        Duration::from_millis(5),
        &Traffic::default(),
    );
    console.metrics.call_finished(
        &NewEntry::new("reader", "ban_customer", &Map::new()).denied("customers is off"),
        Duration::from_millis(1),
        &Traffic::default(),
    );
    let (status, _, body) = console.get("/console/live").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let section = |agent: &str| {
        let start = body
            .find(&format!("data-live-agent=\"{agent}\""))
            .unwrap_or_else(|| panic!("{agent}'s section: {body}"));
        let end = body[start..]
            .find("</section>")
            .map_or(body.len(), |e| start + e);
        body[start..end].to_string()
    };
    let chat_line = "cust-7 wrote in chat PJ0MRSHTDG: &#34;Where is my &#60;order&#62;?&#34;";
    let reader = section("reader");
    assert!(reader.contains(chat_line), "{reader}");
    assert!(reader.contains(&format!("data-cursor=\"{}\"", appended.cursor)));
    assert!(!reader.contains("jane@example.com"), "{reader}");
    let blind = section("blind");
    assert!(!blind.contains("wrote in chat"), "{blind}");
    assert!(
        blind.contains("agent jane@example.com was created"),
        "{blind}"
    );
    let ops = section("ops");
    assert!(
        ops.contains(chat_line) && ops.contains("jane@example.com"),
        "{ops}"
    );
    assert!(!body.contains("<order>"), "{body}");
    // The figures per agent.
    assert!(
        body.contains("<tr data-agent=\"reader\"><th scope=\"row\">reader</th><td class=\"calls\">2</td><td class=\"denied\">1</td><td class=\"errors\">0</td><td class=\"waits\">0 calls, 0 ms</td></tr>"),
        "{body}"
    );
    assert!(body.contains("id=\"refresh\""));
}
