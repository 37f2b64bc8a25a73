//! Live events over HTTP (issue 13): LiveChat's webhook deliveries at `POST
//! /webhooks/livechat` into the event log, and `get_events` giving each agent only what its
//! grants let it read, long-polling for the next one.

mod http_support;

use std::time::{Duration, Instant};

use http_support::*;
use livechat_mcp::{
    audit::AuditStore,
    config::Secret,
    events::{EventLog, LogOptions},
    http::{HttpOptions, HttpSetup, HttpState, intake::EventIntake},
    policy::Policy,
};
use serde_json::{Value, json};

const SECRET: &str = "s3cret-0123456789abcdef0123456789";

fn delivery(id: &str, action: &str, payload: Value) -> Value {
    json!({
        "webhook_id": id,
        "secret_key": SECRET,
        "action": action,
        "organization_id": "org-1",
        "payload": payload,
        "additional_data": {}
    })
}

fn message(id: &str, chat: &str, text: &str) -> Value {
    delivery(
        id,
        "incoming_event",
        json!({"chat_id": chat, "thread_id": "T1", "event": {"id": "E1", "type": "message", "author_id": "b7eff798-f8df-4364-8059-649c35c9ed0c", "text": text}}),
    )
}

async fn post(base: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/webhooks/livechat"))
        .json(body)
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn events_of(result: &Value) -> Value {
    let text = result["content"][0]["text"].as_str().expect("text");
    serde_json::from_str(text).expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn deliveries_reach_the_agents_that_may_read_them() {
    install_crypto();
    let dir = TempDir::new("events-http");
    let (text, keys) = policy(&[
        ("reader", r#"{ chats = "read" }"#),
        ("blind", r#"{ chats = "off", tags_properties = "read" }"#),
    ]);
    let policy = Policy::parse(&text, "policy.toml").expect("policy");
    let audit = AuditStore::open(&dir.join("audit.db")).expect("audit");
    let log =
        EventLog::open_sqlite(&dir.join("audit.db.events"), LogOptions::default()).expect("log");
    let mut setup = HttpSetup::from_policy(
        policy,
        &upstream("http://127.0.0.1:9"),
        Some(audit),
        HttpOptions::default(),
    )
    .expect("setup");
    setup.intake = Some(EventIntake {
        log,
        secret: Some(Secret::new(SECRET)),
    });
    let mut server = start(HttpState::new(setup).expect("state")).await;
    let reader = McpClient::connect(&server.base, &keys[0]).await;
    let blind = McpClient::connect(&server.base, &keys[1]).await;
    assert!(reader.tools().await.contains(&"get_events".to_string()));

    // From now: nothing yet, and a cursor to read after.
    let (error, now) = reader.call("get_events", json!({})).await;
    assert!(!error, "{now}");
    let start = events_of(&now)["cursor"].as_str().unwrap().to_string();

    // Bad deliveries: nothing is stored, the server stays up.
    let mut wrong = message("w1", "PJ0MRSHTDG", "hi");
    wrong["secret_key"] = json!("not-the-secret-0123456789abcdef");
    assert_eq!(post(&server.base, &wrong).await.0, 401);
    let mut no_secret = message("w2", "PJ0MRSHTDG", "hi");
    no_secret.as_object_mut().unwrap().remove("secret_key");
    assert_eq!(post(&server.base, &no_secret).await.0, 401);
    let mut no_payload = message("w3", "PJ0MRSHTDG", "hi");
    no_payload.as_object_mut().unwrap().remove("payload");
    assert_eq!(post(&server.base, &no_payload).await.0, 400);
    let raw = reqwest::Client::new()
        .post(format!("{}/webhooks/livechat", server.base))
        .body("{ not json")
        .send()
        .await
        .expect("post");
    assert_eq!(raw.status().as_u16(), 400);

    // A delivery, then LiveChat's retry of it: stored once.
    let (status, first) = post(
        &server.base,
        &message("d1", "PJ0MRSHTDG", "Where is my order?"),
    )
    .await;
    assert_eq!(
        (status, first["stored"].clone()),
        (200, json!(true)),
        "{first}"
    );
    let (status, again) = post(
        &server.base,
        &message("d1", "PJ0MRSHTDG", "Where is my order?"),
    )
    .await;
    assert_eq!((status, again["stored"].clone()), (200, json!(false)));
    // The next message through the same registration carries the same `webhook_id` (it names
    // the registration, not the delivery), and is a new event all the same.
    let mut next = message("d1", "PJ0MRSHTDG", "Any news?");
    next["payload"]["event"]["id"] = json!("E2");
    let (status, stored) = post(&server.base, &next).await;
    assert_eq!(
        (status, stored["stored"].clone()),
        (200, json!(true)),
        "{stored}"
    );
    let tag = delivery(
        "d2",
        "tag_created",
        json!({"name": "refund", "group_ids": [0], "author_id": "a@x", "created_at": "2026-12-03T18:00:00Z"}),
    );
    assert_eq!(post(&server.base, &tag).await.0, 200);

    let (_, read) = reader.call("get_events", json!({"after": start})).await;
    let read = events_of(&read);
    let events = read["events"].as_array().expect("events");
    assert_eq!(
        events.len(),
        2,
        "the reader may read chats, not tags: {read}"
    );
    assert_eq!(events[1]["payload"]["event"]["text"], "Any news?");
    assert_eq!(events[0]["action"], "incoming_event");
    assert_eq!(events[0]["chat_id"], "PJ0MRSHTDG");
    assert_eq!(
        events[0]["summary"],
        "b7eff798… wrote in chat PJ0MRSHTDG: \"Where is my order?\""
    );
    assert_eq!(events[0]["payload"]["event"]["text"], "Where is my order?");
    assert!(!read.to_string().contains(SECRET));

    let (_, seen) = blind.call("get_events", json!({"after": start})).await;
    let seen = events_of(&seen);
    let actions: Vec<&str> = seen["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["tag_created"],
        "chats off: no customer message: {seen}"
    );

    // Long-poll: the call waits and answers as soon as a delivery arrives.
    let cursor = read["cursor"].as_str().unwrap().to_string();
    let base = server.base.clone();
    let poster = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        post(&base, &message("d3", "PJ0MRSHTDG", "Hello?")).await
    });
    let asked = Instant::now();
    let (error, polled) = reader
        .call("get_events", json!({"after": cursor, "wait_secs": 10}))
        .await;
    let took = asked.elapsed();
    assert!(!error, "{polled}");
    assert_eq!(poster.await.unwrap().0, 200);
    let polled = events_of(&polled);
    assert_eq!(polled["events"][0]["payload"]["event"]["text"], "Hello?");
    // It woke for the delivery: a poll that ran out its 10 s would have broken off with no
    // event, since it reads again only when woken.
    eprintln!("long-poll answered {took:?} after it was asked (the delivery came at 400 ms)");

    // Bad arguments name the problem; nothing is read.
    let (error, bad) = reader.call("get_events", json!({"wait_secs": 31})).await;
    assert!(error && bad.to_string().contains("wait_secs"), "{bad}");
    let (error, bad) = reader.call("get_events", json!({"after": "x1"})).await;
    assert!(error, "{bad}");

    // Reading events is audited with the number returned.
    let rows = audit_rows(&dir.join("audit.db")).await;
    assert!(
        rows.iter()
            .any(|r| r.agent == "reader" && r.summary.contains("read help desk events (2 events)")),
        "{:?}",
        rows.iter().map(|r| r.summary.clone()).collect::<Vec<_>>()
    );
    server.stop().await.expect("stops");
}
