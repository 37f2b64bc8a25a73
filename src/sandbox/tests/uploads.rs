//! `upload_file`: a form in, a CDN-shaped URL out, LiveChat's refusals, and a `file` event
//! with the URL showing the file in `get_chat`; in-process and over HTTP.

use serde_json::{Value, json};

use super::{V35, V36, call, fails, last_event, ok, ok_in, sandbox};
use crate::sandbox::{Sandbox, SandboxOptions, uploads::MAX_UPLOAD_BYTES};
use crate::{tools::Api, version::ApiVersion};

fn file(name: &str, content_type: &str, data: &str) -> Value {
    json!({"file": {"filename": name, "content_type": content_type, "data": data}})
}

#[test]
fn an_uploaded_file_is_sent_as_a_file_event_and_shown_by_get_chat() {
    let mut st = sandbox();
    for v in [V35, V36] {
        let up = ok_in(
            &mut st,
            v,
            "upload_file",
            file("refund policy.pdf", "application/pdf", "%PDF-1.7"),
        );
        let url = up["url"].as_str().unwrap();
        assert_eq!(up.as_object().unwrap().len(), 1, "{up}");
        assert!(
            url.starts_with("https://cdn.livechat-files.com/api/file/lc/att/8948324/")
                && url.ends_with("/refund%20policy.pdf"),
            "{url}"
        );
    }
    let png = ok(
        &mut st,
        "upload_file",
        file("chart.png", "image/png", "not really a png"),
    );
    let url = png["url"].as_str().unwrap().to_string();
    let sent = ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "file", "url": url, "alternative_text": "A chart"}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    let event = last_event(&chat);
    assert_eq!(event["id"], sent["event_id"]);
    assert_eq!(event["type"], "file");
    assert_eq!(event["url"], json!(url));
    assert_eq!(event["name"], "chart.png");
    assert_eq!(event["content_type"], "image/png");
    assert_eq!(event["size"], 16, "an image's size");
    assert_eq!(event["alternative_text"], "A chart");
    // Not an image: no size, as LiveChat's file events.
    let pdf = ok(
        &mut st,
        "upload_file",
        file("a.pdf", "application/pdf", "%PDF"),
    );
    ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "file", "url": pdf["url"]}}),
    );
    let event = last_event(&ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"})));
    assert_eq!(
        (event["name"].clone(), event.get("size")),
        (json!("a.pdf"), None)
    );
}

#[test]
fn livechat_s_refusals() {
    let mut st = sandbox();
    let big = "x".repeat(MAX_UPLOAD_BYTES + 1);
    let e = fails(
        &mut st,
        "upload_file",
        file("big.txt", "text/plain", &big),
        "entity_too_large",
    );
    assert_eq!(e.message, "Upload limit exceeded (10MB).");
    assert_eq!(e.status(), 413);
    let exact = "x".repeat(MAX_UPLOAD_BYTES);
    ok(&mut st, "upload_file", file("ok.txt", "text/plain", &exact));
    for (name, data) in [
        ("setup.exe", "x"),
        ("tool.BAT", "x"),
        ("photo.png", "MZ\u{90}\0"),
        ("a", "\u{7f}ELF"),
    ] {
        let e = fails(
            &mut st,
            "upload_file",
            file(name, "image/png", data),
            "validation",
        );
        assert_eq!(e.message, "Executable files are rejected", "{name}");
    }
    fails(&mut st, "upload_file", json!({}), "validation");
    fails(
        &mut st,
        "upload_file",
        json!({"file": "no file name"}),
        "validation",
    );
    let e = fails(
        &mut st,
        "upload_file",
        json!({"file": {"filename": "a.txt", "data": "x"}, "note": "hi"}),
        "validation",
    );
    assert!(e.message.contains("`note` is not a field"), "{e}");
    // JSON, which every other method takes, is not a form.
    let e = st
        .handle(V36, Api::Agent, "upload_file", &json!({"file": "x"}))
        .unwrap_err();
    assert!(e.message.contains("multipart/form-data"), "{e}");
    // And a form is not JSON.
    let form = super::form_of(&json!({"chat_id": "PJ0MRSHTDG"}));
    let e = st
        .handle_payload(
            V36,
            Api::Agent,
            "get_chat",
            crate::sandbox::state::Payload::Form(&form),
        )
        .unwrap_err();
    assert!(e.message.contains("takes a JSON body"), "{e}");
}

#[test]
fn uploads_are_kept_within_a_bound() {
    let mut st = sandbox();
    let nine = "x".repeat(9 << 20);
    let first = ok(&mut st, "upload_file", file("1.txt", "text/plain", &nine));
    for n in 2..=8 {
        ok(
            &mut st,
            "upload_file",
            file(&format!("{n}.txt"), "text/plain", &nine),
        );
    }
    // The oldest is gone: its URL now reads as any other file URL.
    ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "file", "url": first["url"]}}),
    );
    let event = last_event(&ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"})));
    assert_eq!(event.get("content_type"), None, "{event}");
    let kept: usize = st.uploads.values().map(|u| u.data.len()).sum();
    assert!(kept <= 64 << 20, "{kept}");
}

#[test]
fn the_in_process_sandbox_takes_a_form_body() {
    let sandbox = Sandbox::new(SandboxOptions::default()).unwrap();
    let body = b"--b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1--\r\n";
    let up = sandbox
        .call_form(
            V36,
            Api::Agent,
            "upload_file",
            "multipart/form-data; boundary=b1",
            body,
        )
        .unwrap();
    assert!(up["url"].as_str().unwrap().ends_with("/a.txt"), "{up}");
    let e = sandbox
        .call_form(V36, Api::Agent, "upload_file", "multipart/form-data", body)
        .unwrap_err();
    assert_eq!(e.kind, "validation");
    // Nothing else about the call differs from the HTTP server's path: the method must exist.
    let e = sandbox
        .call_form(
            ApiVersion::V3_6,
            Api::Configuration,
            "upload_file",
            "multipart/form-data; boundary=b1",
            body,
        )
        .unwrap_err();
    assert_eq!(e.kind, "not_found");
    let _ = call;
}

#[tokio::test]
async fn the_http_sandbox_takes_a_form_and_wants_credentials() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let handle = Sandbox::new(SandboxOptions::default())
        .unwrap()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/v3.6/agent/action/upload_file", handle.url);
    let form = |data: &[u8]| {
        let mut body = b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.txt\"\r\nContent-Type: text/plain\r\n\r\n".to_vec();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n--zz--\r\n");
        body
    };
    let send = |auth: Option<&'static str>, body: Vec<u8>| {
        let mut request = http
            .post(&url)
            .header("Content-Type", "multipart/form-data; boundary=zz")
            .body(body);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(None, form(b"hi")).await;
    assert_eq!(
        (status, body["error"]["type"].clone()),
        (401, json!("authentication"))
    );
    let (status, body) = send(Some("Bearer t"), form(b"hi")).await;
    assert_eq!(status, 200, "{body}");
    let file_url = body["url"].as_str().unwrap().to_string();
    assert!(file_url.ends_with("/r.txt"), "{file_url}");
    let (status, body) = send(Some("Bearer t"), form(&vec![b'x'; MAX_UPLOAD_BYTES + 1])).await;
    assert_eq!(
        (status, body["error"]["type"].clone()),
        (413, json!("entity_too_large"))
    );
    // The URL works in a `file` event over HTTP too.
    let sent = http
        .post(format!("{}/v3.6/agent/action/send_event", handle.url))
        .header("Authorization", "Bearer t")
        .json(&json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "file", "url": file_url}}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let chat: Value = http
        .post(format!("{}/v3.6/agent/action/get_chat", handle.url))
        .header("Authorization", "Bearer t")
        .json(&json!({"chat_id": "PJ0MRSHTDG"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = last_event(&chat);
    assert_eq!(
        (event["name"].clone(), event["content_type"].clone()),
        (json!("r.txt"), json!("text/plain"))
    );
    handle.shutdown().await.unwrap();
}
