//! An upstream answer over `--max-response-bytes` is refused with a tool error naming the
//! size, and it is never read whole: not when its length is declared, nor when it is sent in
//! chunks without one.

mod common;

use std::time::Duration;

use common::{call, connect, settings};
use livechat_mcp::{policy::Level, version::ApiVersion};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

#[tokio::test]
async fn an_answer_over_the_cap_is_refused_with_its_size() {
    let mock = MockServer::start().await;
    let big = format!("{{\"chats_summary\": [\"{}\"]}}", "x".repeat(9 << 20));
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(big.clone()))
        .mount(&mock)
        .await;
    let client = connect(&settings(&mock.uri(), ApiVersion::V3_6, Level::Read)).await;
    let (is_error, structured, text) = call(&client, "list_chats", json!({})).await;
    assert!(is_error, "{}", &text[..text.len().min(200)]);
    assert!(structured.is_none());
    assert!(
        text.starts_with("response_too_large: ")
            && text.contains(&big.len().to_string())
            && text.contains("8388608"),
        "{text}"
    );
    assert!(
        text.len() < 1000,
        "the error carries no body: {} bytes",
        text.len()
    );
    // Under the cap, the same tool works: a cap of 2 MiB against a 1 MiB answer.
    let fits = MockServer::start().await;
    let body = format!("{{\"chats_summary\": [\"{}\"]}}", "x".repeat(1 << 20));
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&fits)
        .await;
    let mut roomy = settings(&fits.uri(), ApiVersion::V3_6, Level::Read);
    roomy.max_response_bytes = 2 << 20;
    let client = connect(&roomy).await;
    let (is_error, _, _) = call(&client, "list_chats", json!({})).await;
    assert!(!is_error);
}

/// A raw HTTP server that answers every request with `chunks` chunks of `size` bytes, without
/// a `Content-Length`.
async fn chunked_upstream(chunks: usize, size: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0; 65536];
                let _ = socket.read(&mut buffer).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
                for _ in 0..chunks {
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_chunked_answer_is_cut_off_at_the_cap() {
    // 64 MiB sent in 1 MiB chunks against a 1 MiB cap: the call fails as soon as the cap is
    // passed, without reading the rest.
    let url = chunked_upstream(64, 1 << 20).await;
    let mut capped = settings(&url, ApiVersion::V3_6, Level::Read);
    capped.max_response_bytes = 1 << 20;
    capped.timeout = Duration::from_secs(10);
    let client = connect(&capped).await;
    let (is_error, _, text) = call(&client, "list_chats", json!({})).await;
    assert!(is_error);
    assert!(
        text.starts_with("response_too_large: ") && text.contains("is over the 1048576 bytes"),
        "{text}"
    );
}

/// A 1 MB answer reaches the client once: the result carries the JSON in its text block and
/// nothing else (no second copy as `structuredContent`). The figure is the serialised
/// `tools/call` result, as it crosses the transport.
#[tokio::test]
async fn a_one_megabyte_answer_is_sent_once() {
    let mock = MockServer::start().await;
    // A realistic shape: many small records, with quotes that JSON text escapes.
    let chats: Vec<serde_json::Value> = (0..5000)
        .map(|i| json!({"id": format!("CHAT{i:06}"), "last_event_per_type": {"message": {"event": {"text": "a \"quoted\" word ".repeat(8)}}}}))
        .collect();
    let body = json!({"chats_summary": chats, "found_chats": 5000}).to_string();
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(body.clone()))
        .mount(&mock)
        .await;
    let settings = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
    let server = livechat_mcp::server::LiveChatServer::new(&settings).expect("server");
    let outcome = server.call("list_chats", None).await;
    assert_eq!(outcome.failure_kind, None);
    let sent = serde_json::to_vec(&outcome.result)
        .expect("serialise")
        .len();
    eprintln!(
        "a {} byte answer: {sent} bytes in the tools/call result ({:.2}x)",
        body.len(),
        sent as f64 / body.len() as f64
    );
    assert!(
        sent < body.len() * 3 / 2,
        "{sent} bytes sent for a {} byte answer",
        body.len()
    );
}

/// The built binary, over stdio, asked for a 50 MB answer: it refuses it, and its peak
/// resident memory stays under 64 MiB, because the answer is never held whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_fifty_megabyte_answer_does_not_grow_the_process() {
    use std::io::{BufRead, BufReader, Write};
    let url = chunked_upstream(50, 1 << 20).await;
    let home = std::env::temp_dir().join(format!("livechat-mcp-sizes-{}", std::process::id()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_livechat-mcp"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("LIVECHAT_ACCESS_TOKEN", "t")
        .env("LIVECHAT_ACCOUNTS_URL", "http://127.0.0.1:9")
        .args([
            "--api-url",
            &url,
            "--access",
            "read",
            "--audit",
            "off",
            "serve",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    for message in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "sizes", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "list_chats", "arguments": {}}}),
    ] {
        writeln!(stdin, "{message}").expect("write");
    }
    stdin.flush().expect("flush");
    let answer = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line).expect("read") == 0 {
                panic!("the server closed stdout");
            }
            let message: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            if message["id"] == 2 {
                return message;
            }
        }
    })
    .await
    .expect("reader");
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(answer["result"]["isError"], true, "{text}");
    assert!(text.starts_with("response_too_large: "), "{text}");
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&home);
    // VmHWM: the peak resident set, in kB (Linux only; elsewhere there is nothing to read).
    if let Some(peak_kb) = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    {
        eprintln!("peak RSS after a 50 MB answer: {} KiB", peak_kb);
        assert!(peak_kb < 64 * 1024, "peak RSS {peak_kb} KiB");
    }
}
