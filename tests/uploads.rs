//! `upload_file` through the server's one call path: the form LiveChat gets, the refusals made
//! before anything is sent, what the audit trail keeps (never the bytes), no retry of a
//! write whose outcome is unknown, and `--upload-dir`'s `path` (stdio only).

mod common;

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use common::{TempDir, files_containing};
use livechat_mcp::{
    agent::Agent,
    audit::{AuditStore, Outcome, QueryFilter},
    policy::Level,
    server::{CallOutcome, Catalog, LiveChatServer},
    upload::{MAX_FILE_BYTES, UploadDir},
    version::ApiVersion,
};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

const V36: ApiVersion = ApiVersion::V3_6;
const URL: &str = "https://cdn.livechat-files.com/api/file/lc/att/8948324/45a3581b59a7295145c3825c86ec7ab3/report.txt";

async fn stand_in() -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"url": URL})))
        .mount(&mock)
        .await;
    mock
}

/// A server with full access on `mock`, recording into `store`, reading files from `dir`.
fn upload_server(
    mock: &MockServer,
    store: Option<AuditStore>,
    dir: Option<UploadDir>,
) -> LiveChatServer {
    let settings = common::settings(&mock.uri(), V36, Level::Full);
    let catalog = Arc::new(Catalog::with_upload_dir(V36, dir).expect("catalog"));
    LiveChatServer::for_agent(catalog, Agent::local(&settings).expect("agent"), store)
}

async fn upload(server: &LiveChatServer, args: Value) -> CallOutcome {
    let Value::Object(args) = args else { panic!() };
    server.call("upload_file", Some(args)).await
}

fn text(outcome: &CallOutcome) -> String {
    outcome
        .result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

async fn requests(mock: &MockServer) -> usize {
    mock.received_requests().await.map_or(0, |r| r.len())
}

#[tokio::test]
async fn a_file_goes_to_livechat_as_a_form_and_the_trail_keeps_only_its_facts() {
    let mock = stand_in().await;
    let dir = TempDir::new("upload-audit");
    let store = AuditStore::open(&dir.path().join("audit.db")).expect("audit");
    let server = upload_server(&mock, Some(store.clone()), None);
    let secret_text = "Customer Ann Smith, card ending 4242: refund 88231 approved.";
    let outcome = upload(
        &server,
        json!({"name": "report.txt", "content_type": "text/plain", "content": STANDARD.encode(secret_text)}),
    )
    .await;
    assert_eq!(outcome.failure_kind, None, "{}", text(&outcome));
    assert_eq!(
        serde_json::from_str::<Value>(&text(&outcome)).unwrap(),
        json!({"url": URL})
    );

    let received = mock.received_requests().await.expect("recording");
    let [request] = received.as_slice() else {
        panic!("{} requests", received.len())
    };
    assert_eq!(request.url.path(), "/v3.6/agent/action/upload_file");
    let content_type = request
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect(content_type);
    let expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.txt\"\r\nContent-Type: text/plain\r\n\r\n{secret_text}\r\n--{boundary}--\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&request.body), expected);
    assert_eq!(
        request.headers.get("authorization").unwrap(),
        "Bearer test-token"
    );

    let rows = store.query(&QueryFilter::default()).await.expect("query");
    let done = rows
        .iter()
        .find(|r| r.outcome == Outcome::Ok)
        .expect("outcome row");
    let content = serde_json::to_value(&done.targets).unwrap()["content"].clone();
    assert_eq!(
        content,
        json!({
            "file_name": "report.txt",
            "content_type": "text/plain",
            "size": secret_text.len(),
            "sha256": livechat_mcp::digest::sha256_hex(secret_text),
        })
    );
    assert_eq!(
        done.summary.split(" — ").next().unwrap(),
        format!(
            "local uploaded file `report.txt` (text/plain, {} bytes)",
            secret_text.len()
        )
    );
    // Neither the text nor its base64 is anywhere in the trail's files.
    for needle in ["Ann Smith", &STANDARD.encode(secret_text)[..24]] {
        assert_eq!(
            files_containing(dir.path(), needle),
            Vec::<std::path::PathBuf>::new()
        );
    }
    // The pending row written ahead and the outcome row.
    assert_eq!(store.verify(None).await, Ok(2));
}

#[tokio::test]
async fn too_big_executable_or_malformed_files_are_refused_before_sending() {
    let mock = stand_in().await;
    let server = upload_server(&mock, None, None);
    let over = STANDARD.encode(vec![b'a'; MAX_FILE_BYTES + 1]);
    let pe = {
        let mut d = vec![0u8; 256];
        d[..2].copy_from_slice(b"MZ");
        d[60] = 128;
        d[128..132].copy_from_slice(b"PE\0\0");
        STANDARD.encode(d)
    };
    let cases = [
        (
            json!({"name": "big.txt", "content_type": "text/plain", "content": over}),
            "at most 10 MB",
        ),
        (
            json!({"name": "setup.exe", "content_type": "application/octet-stream", "content": "aGk="}),
            "executable",
        ),
        (
            json!({"name": "cat.png", "content_type": "image/png", "content": pe}),
            "Windows (PE) program",
        ),
        (
            json!({"name": "a.txt", "content_type": "text/plain", "content": "%%%"}),
            "not base64",
        ),
        (
            json!({"name": "a.txt", "content_type": "text plain", "content": "aGk="}),
            "`content_type`",
        ),
        (
            json!({"name": "a\"b.txt", "content_type": "text/plain", "content": "aGk="}),
            "`name`",
        ),
        (
            json!({"name": "a.txt", "content_type": "text/plain"}),
            "`content` is required",
        ),
        // Without --upload-dir there is no `path`.
        (
            json!({"name": "a.txt", "content_type": "text/plain", "path": "a.txt"}),
            "`path`",
        ),
    ];
    for (args, needle) in cases {
        let outcome = upload(&server, args.clone()).await;
        let text = text(&outcome);
        assert!(
            text.starts_with(
                "invalid_arguments: `upload_file` was not called, nothing was sent to LiveChat"
            ) && text.contains(needle),
            "{needle}: {text}"
        );
        assert!(
            text.len() < 1000,
            "the error does not echo the content: {} bytes",
            text.len()
        );
    }
    assert_eq!(requests(&mock).await, 0);
}

#[tokio::test]
async fn a_write_whose_outcome_is_unknown_is_not_sent_again() {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"error": {"type": "internal", "message": "Internal server error"}}),
        ))
        .mount(&mock)
        .await;
    let server = upload_server(&mock, None, None);
    let outcome = upload(
        &server,
        json!({"name": "a.txt", "content_type": "text/plain", "content": "aGk="}),
    )
    .await;
    let text = text(&outcome);
    assert!(
        text.contains("outcome unknown") && text.contains("was not sent again"),
        "{text}"
    );
    assert_eq!(requests(&mock).await, 1);

    // A refusal that proves nothing was done (the license's quota) is sent again.
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(429).set_body_json(
            json!({"error": {"type": "too_many_requests", "message": "Too many requests"}}),
        ))
        .up_to_n_times(1)
        .mount(&mock)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"url": URL})))
        .mount(&mock)
        .await;
    let server = upload_server(&mock, None, None);
    let outcome = upload(
        &server,
        json!({"name": "a.txt", "content_type": "text/plain", "content": "aGk="}),
    )
    .await;
    assert_eq!(outcome.failure_kind, None);
    let received = mock.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].body, received[1].body,
        "the same form both times"
    );
}

#[tokio::test]
async fn an_upload_dir_lets_a_local_client_send_a_file_inside_it_and_nothing_else() {
    let mock = stand_in().await;
    let root = TempDir::new("upload-dir");
    let dir = root.path().join("allowed");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(dir.join("sub/invoice.pdf"), b"%PDF-1.7 invoice").unwrap();
    std::fs::write(outside.join("secret.txt"), b"not for LiveChat").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), dir.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("linkdir")).unwrap();
    std::os::unix::fs::symlink(dir.join("sub/invoice.pdf"), dir.join("inside-link.pdf")).unwrap();
    let big = std::fs::File::create(dir.join("big.bin")).unwrap();
    big.set_len(MAX_FILE_BYTES as u64 + 1).unwrap();
    let server = upload_server(&mock, None, Some(UploadDir::new(&dir).unwrap()));

    let schema = server
        .tools()
        .into_iter()
        .find(|t| t.name == "upload_file")
        .unwrap()
        .input_schema;
    assert!(schema["properties"].get("path").is_some(), "{schema:?}");

    for path in ["sub/invoice.pdf", "inside-link.pdf"] {
        let outcome = upload(
            &server,
            json!({"name": "invoice.pdf", "content_type": "application/pdf", "path": path}),
        )
        .await;
        assert_eq!(outcome.failure_kind, None, "{path}: {}", text(&outcome));
    }
    let received = mock.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    assert!(
        String::from_utf8_lossy(&received[0].body).contains("\r\n\r\n%PDF-1.7 invoice\r\n--"),
        "the file's bytes are sent"
    );

    let refusals = [
        ("../outside/secret.txt", "contains `..`"),
        ("sub/../../outside/secret.txt", "contains `..`"),
        ("link.txt", "symbolic link that leads out"),
        ("linkdir/secret.txt", "symbolic link that leads out"),
        ("sub", "is a directory"),
        ("big.bin", "at most 10 MB"),
        ("missing.txt", "no such file"),
        ("/etc/passwd", "is absolute"),
    ];
    for (path, needle) in refusals {
        let outcome = upload(
            &server,
            json!({"name": "x.txt", "content_type": "text/plain", "path": path}),
        )
        .await;
        let text = text(&outcome);
        assert!(
            text.starts_with("invalid_arguments: `upload_file` was not called, nothing was sent")
                && text.contains(needle),
            "{path}: {text}"
        );
    }
    let both = upload(
        &server,
        json!({"name": "x.txt", "content_type": "text/plain", "path": "sub/invoice.pdf", "content": "aGk="}),
    )
    .await;
    assert!(
        text(&both).contains("either `content` or `path`"),
        "{}",
        text(&both)
    );
    let neither = upload(
        &server,
        json!({"name": "x.txt", "content_type": "text/plain"}),
    )
    .await;
    assert!(
        text(&neither).contains("`content`") && text(&neither).contains("`path`"),
        "{}",
        text(&neither)
    );
    assert_eq!(requests(&mock).await, 2, "no refused call reached LiveChat");
}

#[tokio::test]
async fn without_an_upload_dir_the_schema_has_no_path() {
    let mock = stand_in().await;
    for version in ApiVersion::ALL {
        let settings = common::settings(&mock.uri(), version, Level::Full);
        let server = LiveChatServer::new(&settings).unwrap();
        let tool = server
            .tools()
            .into_iter()
            .find(|t| t.name == "upload_file")
            .unwrap();
        let properties: Vec<&String> = tool.input_schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            properties,
            ["content", "content_type", "name"],
            "v{version}"
        );
        assert_eq!(tool.input_schema["additionalProperties"], false);
    }
}
