//! Fault injection (issue 11): every upstream fault × a read tool (`list_chats`) and a write
//! tool (`send_event`). For each: the tool result, how many requests reached the stand-in, the
//! audit row's outcome and attempts, and that the next call still works. A write is never sent
//! twice unless LiveChat provably refused it before carrying it out.

mod common;

use std::{
    net::{SocketAddr, TcpListener as StdListener},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use common::{TempDir, settings};
use livechat_mcp::{
    agent::Agent,
    audit::{AuditStore, Entry, Outcome, QueryFilter},
    policy::Level,
    server::{Catalog, LiveChatServer},
    version::ApiVersion,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

const READ: &str = "list_chats";
const WRITE: &str = "send_event";

fn arguments(tool: &str) -> Value {
    match tool {
        WRITE => json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "hello"}}),
        _ => json!({}),
    }
}

fn route(tool: &str) -> String {
    format!("/v3.6/agent/action/{tool}")
}

fn success(tool: &str) -> Value {
    match tool {
        WRITE => json!({"event_id": "Q20N9CKRX2"}),
        _ => json!({"chats_summary": [], "found_chats": 0}),
    }
}

/// LiveChat's error envelope.
fn envelope(kind: &str) -> Value {
    json!({"error": {"type": kind, "message": format!("{kind} from the stand-in")}})
}

/// One way the first request of a call fails.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `too_many_requests` in an envelope with HTTP 200.
    QuotaEnvelopeAt200,
    /// HTTP 429 with no body and `Retry-After: 1`.
    Http429RetryAfter,
    /// HTTP 429 with the envelope.
    Http429Envelope,
    /// `misdirected_request` naming another region.
    Misdirected,
    /// Nothing listens yet: the connection is refused.
    Refused,
    /// The connection is reset after the request was read.
    Reset,
    /// No answer within the per-request timeout.
    Timeout,
    /// A proxy's 502, 503 or 504 page.
    Gateway(u16),
    /// LiveChat's `internal`, `service_unavailable` or `request_timeout`.
    Upstream(&'static str, u16),
}

impl Fault {
    /// LiveChat provably did not carry the request out.
    fn never_executed(self) -> bool {
        matches!(
            self,
            Fault::QuotaEnvelopeAt200
                | Fault::Http429RetryAfter
                | Fault::Http429Envelope
                | Fault::Misdirected
                | Fault::Refused
        )
    }

    /// What a call meeting this fault once must do: (succeeds, requests that reach the
    /// stand-in, the audit outcome).
    fn expected(self, tool: &str) -> (bool, usize, Outcome) {
        let reached_first = !matches!(self, Fault::Refused);
        if tool == READ || self.never_executed() {
            (true, 1 + usize::from(reached_first), Outcome::Ok)
        } else {
            (false, 1, Outcome::Unknown)
        }
    }
}

/// A server for one agent with full access over a fresh SQLite trail.
struct Rig {
    server: LiveChatServer,
    store: AuditStore,
    _dir: TempDir,
}

impl Rig {
    fn new(api_url: &str, timeout: Duration, budget: Duration) -> Rig {
        let dir = TempDir::new("faults");
        let store = AuditStore::open(&dir.join("audit.db")).expect("audit");
        let mut settings = settings(api_url, ApiVersion::V3_6, Level::Full);
        settings.timeout = timeout;
        let catalog = Arc::new(Catalog::new(ApiVersion::V3_6).expect("catalog"));
        let server = LiveChatServer::for_agent(
            catalog,
            Agent::local(&settings).expect("agent"),
            Some(store.clone()),
        )
        .with_traffic(None, budget);
        Rig {
            server,
            store,
            _dir: dir,
        }
    }

    /// Calls `tool` and returns (is_error, text).
    async fn call(&self, tool: &str) -> (bool, String) {
        let Value::Object(args) = arguments(tool) else {
            unreachable!("arguments are objects")
        };
        let outcome = self.server.call(tool, Some(args)).await;
        let text = outcome
            .result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n");
        (outcome.result.is_error == Some(true), text)
    }

    /// The outcome rows, oldest first.
    async fn outcomes(&self) -> Vec<Entry> {
        let mut rows = self
            .store
            .query(&QueryFilter::default())
            .await
            .expect("query");
        rows.reverse();
        rows.retain(|row| row.outcome != Outcome::Pending);
        rows
    }
}

/// Mounts the answer to the first request of `tool` for `fault` (once), then success.
async fn mount(mock: &MockServer, fault: Fault, tool: &str) {
    let first = match fault {
        Fault::QuotaEnvelopeAt200 => {
            Some(ResponseTemplate::new(200).set_body_json(envelope("too_many_requests")))
        }
        Fault::Http429RetryAfter => {
            Some(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        }
        Fault::Http429Envelope => {
            Some(ResponseTemplate::new(429).set_body_json(envelope("too_many_requests")))
        }
        Fault::Misdirected => Some(ResponseTemplate::new(421).set_body_json(json!({
            "error": {"type": "misdirected_request", "message": "Wrong region", "data": {"region": "fra"}}
        }))),
        Fault::Timeout => Some(
            ResponseTemplate::new(200)
                .set_body_json(success(tool))
                .set_delay(Duration::from_secs(3)),
        ),
        Fault::Gateway(status) => Some(
            ResponseTemplate::new(status)
                .set_body_string("<html><body>bad gateway</body></html>")
                .insert_header("Content-Type", "text/html"),
        ),
        Fault::Upstream(kind, status) => {
            Some(ResponseTemplate::new(status).set_body_json(envelope(kind)))
        }
        Fault::Refused | Fault::Reset => None,
    };
    if let Some(first) = first {
        Mock::given(method("POST"))
            .and(path(route(tool)))
            .respond_with(first)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(mock)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(route(tool)))
        .respond_with(ResponseTemplate::new(200).set_body_json(success(tool)))
        .with_priority(5)
        .mount(mock)
        .await;
}

async fn requests_to(mock: &MockServer, tool: &str) -> usize {
    let route = route(tool);
    mock.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == route)
        .count()
}

/// Runs one fault against one tool and checks everything the issue asks for.
async fn exercise(fault: Fault, tool: &str) {
    let label = format!("{fault:?} × {tool}");
    let (should_succeed, expected_requests, expected_outcome) = fault.expected(tool);
    let (rig, requests, region) = match fault {
        Fault::Refused => refused_then_listening(tool).await,
        Fault::Reset => reset_once(tool).await,
        _ => {
            let mock = MockServer::start().await;
            mount(&mock, fault, tool).await;
            let rig = Rig::new(&mock.uri(), Duration::from_secs(1), Duration::from_secs(10));
            let (is_error, text) = rig.call(tool).await;
            let region = mock
                .received_requests()
                .await
                .unwrap_or_default()
                .last()
                .and_then(|r| r.headers.get("x-region").cloned())
                .and_then(|v| v.to_str().ok().map(str::to_string));
            let requests = requests_to(&mock, tool).await;
            check(&label, should_succeed, is_error, &text);
            // The next call still works.
            let (is_error, text) = rig.call(tool).await;
            assert!(!is_error, "{label}: the next call failed: {text}");
            (rig, requests, region)
        }
    };
    assert_eq!(requests, expected_requests, "{label}: requests upstream");
    // The figures of the closing note: `cargo test --test faults -- --nocapture`.
    println!("fault {label}: {requests} request(s) upstream, outcome {expected_outcome:?}");
    if matches!(fault, Fault::Misdirected) {
        assert_eq!(
            region.as_deref(),
            Some("fra"),
            "{label}: retried in the named region"
        );
    }
    let rows = rig.outcomes().await;
    assert_eq!(
        rows.len(),
        2,
        "{label}: two calls, two outcome rows: {rows:?}"
    );
    let row = &rows[0];
    assert_eq!(row.outcome, expected_outcome, "{label}: {}", row.summary);
    let attempts = row.attempts.expect("an upstream call records its attempts");
    match fault {
        Fault::Refused => assert!(attempts >= 2, "{label}: {attempts} attempts"),
        _ => assert_eq!(attempts as usize, expected_requests, "{label}"),
    }
    if expected_outcome == Outcome::Unknown {
        assert!(
            row.summary.contains("outcome unknown"),
            "{label}: {}",
            row.summary
        );
    }
    assert_eq!(rows[1].outcome, Outcome::Ok, "{label}: the next call");
}

fn check(label: &str, should_succeed: bool, is_error: bool, text: &str) {
    if should_succeed {
        assert!(
            !is_error,
            "{label}: expected success after retrying: {text}"
        );
        return;
    }
    assert!(is_error, "{label}: expected a failure: {text}");
    assert!(
        text.contains("outcome unknown") && text.contains("cannot have happened twice"),
        "{label}: says the outcome is unknown: {text}"
    );
    assert!(
        text.contains("`get_chat`"),
        "{label}: says how to check: {text}"
    );
}

/// A port nothing listens on for a moment; then a stand-in takes it.
async fn refused_then_listening(tool: &str) -> (Rig, usize, Option<String>) {
    let port = StdListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let rig = Rig::new(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(1),
        Duration::from_secs(10),
    );
    let opened = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let listener = StdListener::bind(("127.0.0.1", port)).expect("rebind the port");
        let mock = MockServer::builder().listener(listener).start().await;
        mount(&mock, Fault::Refused, tool).await;
        mock
    };
    let ((is_error, text), mock) = tokio::join!(rig.call(tool), opened);
    check(&format!("Refused × {tool}"), true, is_error, &text);
    let (is_error, text) = rig.call(tool).await;
    assert!(!is_error, "refused × {tool}: the next call: {text}");
    let requests = requests_to(&mock, tool).await - 1;
    (rig, requests, None)
}

/// A stand-in that resets the first connection once it has read the request, and answers
/// the rest.
async fn reset_once(tool: &str) -> (Rig, usize, Option<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let served = Arc::new(AtomicUsize::new(0));
    let body = success(tool).to_string();
    let counter = served.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            if read_request(&mut stream).await.is_none() {
                continue;
            }
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                // SO_LINGER 0 closes with RST, after the request arrived.
                #[allow(deprecated)]
                stream.set_linger(Some(Duration::ZERO)).ok();
                drop(stream);
                continue;
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    let rig = Rig::new(
        &format!("http://{addr}"),
        Duration::from_secs(2),
        Duration::from_secs(10),
    );
    let label = format!("Reset × {tool}");
    let (is_error, text) = rig.call(tool).await;
    let (should_succeed, ..) = Fault::Reset.expected(tool);
    check(&label, should_succeed, is_error, &text);
    let requests = served.load(Ordering::SeqCst);
    let (is_error, text) = rig.call(tool).await;
    assert!(!is_error, "{label}: the next call: {text}");
    (rig, requests, None)
}

/// Reads one HTTP request (headers and a `Content-Length` body).
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<()> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return Some(());
            }
        }
    }
}

macro_rules! matrix {
    ($($name:ident: $fault:expr;)*) => {
        mod matrix {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    exercise($fault, READ).await;
                    exercise($fault, WRITE).await;
                }
            )*
        }
    };
}

matrix! {
    quota_envelope_at_200: Fault::QuotaEnvelopeAt200;
    http_429_with_retry_after: Fault::Http429RetryAfter;
    http_429_with_envelope: Fault::Http429Envelope;
    misdirected_request: Fault::Misdirected;
    connection_refused: Fault::Refused;
    connection_reset: Fault::Reset;
    timeout: Fault::Timeout;
    http_502: Fault::Gateway(502);
    http_503: Fault::Gateway(503);
    http_504: Fault::Gateway(504);
    internal: Fault::Upstream("internal", 500);
    service_unavailable: Fault::Upstream("service_unavailable", 503);
    request_timeout: Fault::Upstream("request_timeout", 408);
}

/// `Retry-After: 60` against a 10 s budget: the call fails at once (not after a minute),
/// says the quota is the license's and when to try again, and sends nothing more.
#[tokio::test]
async fn a_wait_longer_than_the_budget_fails_at_once_saying_when_to_retry() {
    for tool in [READ, WRITE] {
        let mock = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", "60")
                    .set_body_json(envelope("too_many_requests")),
            )
            .mount(&mock)
            .await;
        let rig = Rig::new(&mock.uri(), Duration::from_secs(2), Duration::from_secs(10));
        let started = Instant::now();
        let (is_error, text) = rig.call(tool).await;
        let took = started.elapsed();
        assert!(is_error, "{tool}: {text}");
        assert!(took < Duration::from_secs(30), "{tool}: took {took:?}");
        assert!(text.starts_with("too_many_requests: "), "{tool}: {text}");
        assert!(text.contains("shared by everyone on the license"), "{text}");
        assert!(text.contains("try again in 60 s"), "{text}");
        assert_eq!(requests_to(&mock, tool).await, 1, "{tool}");
        let rows = rig.outcomes().await;
        assert_eq!(rows[0].outcome, Outcome::Error, "{tool}");
        assert_eq!(rows[0].error_type.as_deref(), Some("too_many_requests"));
        assert_eq!(rows[0].attempts, Some(1));
    }
}

/// A read that keeps failing is retried until the budget is spent, then fails with the
/// last failure; every attempt is in its audit row.
#[tokio::test]
async fn a_read_that_keeps_failing_stops_when_the_budget_is_spent() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("unavailable"))
        .mount(&mock)
        .await;
    let rig = Rig::new(&mock.uri(), Duration::from_secs(2), Duration::from_secs(2));
    let started = Instant::now();
    let (is_error, text) = rig.call(READ).await;
    assert!(is_error && text.starts_with("bad_response: "), "{text}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let requests = requests_to(&mock, READ).await;
    assert!(requests >= 2, "retried: {requests}");
    let rows = rig.outcomes().await;
    assert_eq!(rows[0].attempts, Some(requests as u32));
    assert!(rows[0].waited_ms.unwrap_or(0) > 0, "{:?}", rows[0]);
}

/// A validation error is LiveChat's final word: no retry, for reads and writes.
#[tokio::test]
async fn a_refusal_that_is_final_is_not_retried() {
    for tool in [READ, WRITE] {
        let mock = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(envelope("validation")))
            .mount(&mock)
            .await;
        let rig = Rig::new(&mock.uri(), Duration::from_secs(2), Duration::from_secs(10));
        let (is_error, text) = rig.call(tool).await;
        assert!(is_error && text.starts_with("validation: "), "{text}");
        assert_eq!(requests_to(&mock, tool).await, 1);
        assert_eq!(rig.outcomes().await[0].outcome, Outcome::Error);
    }
}

/// The quota is the license's: while LiveChat asks one call to wait, the server's other
/// calls wait too (they would only be refused, and lock the help desk out longer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_refusal_holds_back_the_other_calls_of_the_server() {
    use livechat_mcp::limiter::{Limiter, LimiterSettings};
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route(READ)))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mock)
        .await;
    for tool in [READ, "list_archives"] {
        Mock::given(method("POST"))
            .and(path(route(tool)))
            .respond_with(ResponseTemplate::new(200).set_body_json(success(tool)))
            .with_priority(5)
            .mount(&mock)
            .await;
    }
    let rig = Rig::new(&mock.uri(), Duration::from_secs(2), Duration::from_secs(10));
    let limiter = Limiter::local(LimiterSettings {
        max_rps: 100.0,
        ..LimiterSettings::default()
    });
    let server = rig
        .server
        .clone()
        .with_traffic(Some(limiter), Duration::from_secs(10));
    let refused_at = Instant::now();
    let first = tokio::spawn({
        let server = server.clone();
        async move { server.call(READ, Some(serde_json::Map::new())).await }
    });
    // Once the 429 has come back, another call of the same server is held back.
    while requests_to(&mock, READ).await == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let other = server
        .call("list_archives", Some(serde_json::Map::new()))
        .await;
    assert_ne!(other.result.is_error, Some(true), "{:?}", other.result);
    let first = first.await.expect("task");
    assert_ne!(first.result.is_error, Some(true), "{:?}", first.result);
    let received = mock.received_requests().await.unwrap_or_default();
    assert_eq!(
        received.len(),
        3,
        "the refused call, its retry, the other call"
    );
    // The other call went no sooner than LiveChat's Retry-After allowed.
    let rows = rig.outcomes().await;
    let other_row = rows
        .iter()
        .find(|r| r.tool == "list_archives")
        .expect("the other call's row");
    assert!(
        other_row.waited_ms.is_some_and(|ms| ms >= 1500),
        "{other_row:?}"
    );
    assert!(refused_at.elapsed() >= Duration::from_secs(2));
}
