//! The RTM API: the pushes each change makes per version (with no webhook registered), who
//! may see which push, and the websocket itself (login, ping, refusals, pushes, dropping
//! every connection).

use std::{sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

use super::{V35, V36, ok, ok_in, sandbox, with_scopes};
use crate::{
    sandbox::{
        Sandbox, SandboxOptions,
        rtm::{RtmPush, Viewer},
        state::State,
    },
    scopes::Granted,
};

const THOMAS: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";
const ME: &str = "agent@sandbox.test";

fn drain(rx: &mut broadcast::Receiver<Arc<RtmPush>>) -> Vec<Arc<RtmPush>> {
    let mut out = Vec::new();
    while let Ok(p) = rx.try_recv() {
        out.push(p);
    }
    out
}

fn actions(pushes: &[Arc<RtmPush>]) -> Vec<&'static str> {
    pushes.iter().map(|p| p.action).collect()
}

#[test]
fn a_customer_message_pushes_incoming_chat_and_incoming_event_with_no_webhook() {
    let mut st = sandbox();
    assert!(
        st.lic.webhooks.iter().all(|w| w.action != "incoming_event"),
        "the seed registers no incoming_event webhook"
    );
    let mut rx = st.subscribe_pushes();
    let started = st
        .handle_customer(
            V36,
            THOMAS,
            "start_chat",
            &json!({"chat": {"thread": {"events": [{"type": "message", "text": "Where is my parcel?"}]}}}),
        )
        .unwrap();
    st.handle_customer(
        V36,
        THOMAS,
        "send_event",
        &json!({"chat_id": started["chat_id"], "event": {"type": "message", "text": "Hello?"}}),
    )
    .unwrap();
    let pushes = drain(&mut rx);
    assert_eq!(actions(&pushes), ["incoming_chat", "incoming_event"]);
    for v in [V35, V36] {
        let chat = &pushes[0].payload(v).unwrap()["chat"];
        assert_eq!(chat["id"], started["chat_id"], "v{v}");
        assert_eq!(chat["thread"]["events"][0]["text"], "Where is my parcel?");
        let event = pushes[1].payload(v).unwrap();
        assert_eq!(event["chat_id"], started["chat_id"]);
        assert_eq!(event["thread_id"], started["thread_id"]);
        assert_eq!(event["event"]["text"], "Hello?");
        assert_eq!(event["event"]["author_id"], THOMAS);
    }
}

#[test]
fn pushes_differ_from_webhooks_where_the_docs_say() {
    let mut st = sandbox();
    let mut rx = st.subscribe_pushes();
    // incoming_chat names who started it.
    let started = ok(
        &mut st,
        "start_chat",
        json!({"chat": {"users": [{"id": THOMAS, "type": "customer"}]}}),
    );
    // routing_status_set: the status as the API names it, not in words.
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "not_accepting_chats"}),
    );
    // update_customer: customer_updated, which has no webhook.
    ok(
        &mut st,
        "update_customer",
        json!({"id": THOMAS, "name": "Tom Anderson"}),
    );
    let pushes = drain(&mut rx);
    assert_eq!(
        actions(&pushes),
        ["incoming_chat", "routing_status_set", "customer_updated"]
    );
    let chat = pushes[0].payload(V36).unwrap();
    assert_eq!(chat["requester_id"], ME);
    assert_eq!(chat["chat"]["id"], started["chat_id"]);
    assert_eq!(
        pushes[1].payload(V36).unwrap(),
        &json!({"agent_id": ME, "status": "not_accepting_chats"})
    );
    assert_eq!(
        pushes[2].payload(V35).unwrap(),
        &json!({"id": THOMAS, "name": "Tom Anderson"})
    );
}

#[test]
fn a_push_only_v3_6_has_is_not_sent_to_v3_5_connections() {
    let mut st = sandbox();
    let mut rx = st.subscribe_pushes();
    ok(
        &mut st,
        "request_thread_summary",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C"}),
    );
    let pushes = drain(&mut rx);
    assert_eq!(actions(&pushes), ["thread_summary_set"]);
    assert!(pushes[0].payload(V35).is_none());
    let payload = pushes[0].payload(V36).unwrap();
    assert_eq!(payload["chat_id"], "PJ0MRSHTDG");
    assert!(payload["summary"].is_object(), "{payload}");
    // And a v3.5-only push (incoming_customer) is in both RTM versions.
    ok_in(&mut st, V35, "create_customer", json!({"name": "New"}));
    let pushes = drain(&mut rx);
    assert_eq!(actions(&pushes), ["incoming_customer"]);
    assert_eq!(pushes[0].payload(V36).unwrap()["name"], "New");
}

#[test]
fn nothing_is_rendered_while_nobody_listens() {
    let mut st = sandbox();
    ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "x"}}),
    );
    let mut rx = st.subscribe_pushes();
    assert!(drain(&mut rx).is_empty());
}

fn viewer(scopes: &str) -> Viewer {
    Viewer {
        agent: ME.to_string(),
        scopes: Granted::parse_list(scopes),
    }
}

/// Pushes of one call of each kind, made with every scope.
fn sample_pushes(st: &mut State) -> Vec<Arc<RtmPush>> {
    let mut rx = st.subscribe_pushes();
    // A chat in group 0 (the requester's), and one in group 19 (not the requester's).
    for chat in ["PJ0MRSHTDG", "PWJ8Y4THAV"] {
        ok(
            st,
            "update_chat_properties",
            json!({"id": chat, "properties": {"routing": {"pinned": true}}}),
        );
    }
    ok(
        st,
        "update_agent",
        json!({"id": "lee@example.com", "job_title": "Lead"}),
    );
    ok(st, "update_customer", json!({"id": THOMAS, "name": "T"}));
    ok(st, "create_tag", json!({"name": "vip", "group_ids": [0]}));
    ok(
        st,
        "update_bot",
        json!({"id": "5c9871d5372c824cbf22d860a707a578", "name": "Bot 2"}),
    );
    drain(&mut rx)
}

#[test]
fn each_push_reaches_only_the_agents_allowed_to_see_it() {
    let mut st = sandbox();
    let pushes = sample_pushes(&mut st);
    assert_eq!(
        actions(&pushes),
        [
            "chat_properties_updated",
            "chat_properties_updated",
            "agent_updated",
            "customer_updated",
            "tag_created",
            "bot_updated"
        ]
    );
    let seen = |scopes: &str| -> Vec<bool> {
        let v = viewer(scopes);
        pushes.iter().map(|p| st.may_see(&v, p)).collect()
    };
    // Every scope: everything.
    assert_eq!(
        seen("chats--all:ro,agents--all:ro,customers:ro,agents-bot--all:ro"),
        [true; 6]
    );
    // Chats of the requester's groups only; the license's tags go to everyone.
    assert_eq!(
        seen("chats--access:ro"),
        [true, false, false, false, true, false]
    );
    // `rw` covers `ro`; `--all` covers every group.
    assert_eq!(
        seen("chats--all:rw"),
        [true, true, false, false, true, false]
    );
    assert_eq!(
        seen("agents--all:ro"),
        [false, false, true, false, true, false]
    );
    assert_eq!(
        seen("customers:ro"),
        [false, false, false, true, true, false]
    );
    assert_eq!(
        seen("agents-bot--all:ro"),
        [false, false, false, false, true, true]
    );
    assert_eq!(seen(""), [false, false, false, false, true, false]);
    // The requester's groups decide: an agent of group 19 sees that chat, not group 1's.
    let smith = Viewer {
        agent: "smith@example.com".into(),
        scopes: Granted::parse_list("chats--access:ro"),
    };
    assert!(st.may_see(&smith, &pushes[1]));
    assert!(st.may_see(&smith, &pushes[0]), "group 0 is everyone's");
}

#[test]
fn a_narrowed_sandbox_token_still_makes_pushes_for_what_it_may_do() {
    let mut st = with_scopes("chats--access:rw");
    let mut rx = st.subscribe_pushes();
    ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "x"}}),
    );
    assert_eq!(actions(&drain(&mut rx)), ["incoming_event"]);
}

// ----- the websocket -----

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// The next text frame, as JSON (None when the socket ends).
async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                return Some(serde_json::from_str(t.as_str()).unwrap());
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(_) => return None,
            Err(_) => panic!("no frame within 10 s"),
        }
    }
}

async fn response_to(ws: &mut Ws, request_id: &str) -> Value {
    loop {
        let frame = next(ws).await.expect("the socket closed");
        if frame["type"] == "response" && frame["request_id"] == request_id {
            return frame;
        }
    }
}

async fn connect(url: &str) -> Ws {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

#[tokio::test]
async fn the_websocket_logs_in_answers_pings_and_pushes_changes() {
    let sandbox = Sandbox::new(SandboxOptions::default()).unwrap();
    let handle = sandbox
        .clone()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = handle.rtm_url(V36);
    assert!(
        url.starts_with("ws://127.0.0.1:") && url.contains("/v3.6/agent/rtm/ws?organization_id="),
        "{url}"
    );

    // No organization: refused before the upgrade.
    let bare = url.split('?').next().unwrap().to_string();
    assert!(
        tokio_tungstenite::connect_async(bare.as_str())
            .await
            .is_err()
    );

    let mut ws = connect(&url).await;
    // Before login: refused, as LiveChat's `authentication`.
    send(
        &mut ws,
        json!({"request_id": "1", "action": "list_chats", "payload": {}}),
    )
    .await;
    let r = response_to(&mut ws, "1").await;
    assert_eq!(r["success"], false);
    assert_eq!(r["action"], "list_chats");
    assert_eq!(r["payload"]["error"]["type"], "authentication");
    // A bad token.
    send(
        &mut ws,
        json!({"request_id": "2", "action": "login", "payload": {"token": "nonsense"}}),
    )
    .await;
    let r = response_to(&mut ws, "2").await;
    assert_eq!(
        r["payload"]["error"],
        json!({"type": "authentication", "message": "Invalid access token"})
    );
    // Login.
    send(
        &mut ws,
        json!({"request_id": "3", "action": "login", "payload": {"token": "Bearer dal:anything"}}),
    )
    .await;
    let r = response_to(&mut ws, "3").await;
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["payload"]["my_profile"]["id"], ME);
    assert_eq!(
        r["payload"]["license"]["organization_id"],
        crate::sandbox::ORGANIZATION_ID
    );
    send(
        &mut ws,
        json!({"request_id": "4", "action": "ping", "payload": {}}),
    )
    .await;
    let r = response_to(&mut ws, "4").await;
    assert_eq!(
        (r["action"].as_str(), r["success"].as_bool()),
        (Some("ping"), Some(true))
    );
    // An agent method over RTM, and the push its change makes to this very connection.
    send(&mut ws, json!({"request_id": "5", "action": "send_event", "payload": {"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "over RTM"}}})).await;
    let mut got_push = None;
    let mut got_response = None;
    while got_push.is_none() || got_response.is_none() {
        let frame = next(&mut ws).await.unwrap();
        match frame["type"].as_str() {
            Some("push") => got_push = Some(frame),
            Some("response") => got_response = Some(frame),
            _ => panic!("{frame}"),
        }
    }
    let push = got_push.unwrap();
    assert_eq!(push["action"], "incoming_event");
    assert_eq!(push["version"], "3.6");
    assert_eq!(push["payload"]["event"]["text"], "over RTM");
    assert_eq!(got_response.unwrap()["success"], true);
    // A change made over the Web API (in-process here) is pushed as well.
    sandbox
        .call(
            V36,
            crate::tools::Api::Agent,
            "send_event",
            &json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "web"}}),
        )
        .unwrap();
    let push = next(&mut ws).await.unwrap();
    assert_eq!(push["payload"]["event"]["text"], "web");

    // Garbage does not end the connection.
    ws.send(Message::Text("not json".into())).await.unwrap();
    let r = next(&mut ws).await.unwrap();
    assert_eq!(r["payload"]["error"]["type"], "validation");
    send(&mut ws, json!({"request_id": "6", "action": "ping"})).await;
    assert_eq!(response_to(&mut ws, "6").await["success"], true);

    // Dropping every connection ends this one.
    handle.drop_rtm_connections();
    assert!(next(&mut ws).await.is_none(), "the socket ended");
    // And a new one works.
    let mut ws = connect(&url).await;
    send(&mut ws, json!({"request_id": "7", "action": "login", "payload": {"token": "Basic YWNjb3VudDpwYXQ="}})).await;
    assert_eq!(response_to(&mut ws, "7").await["success"], true);
}

#[tokio::test]
async fn a_bots_token_cannot_log_in() {
    let sandbox = Sandbox::new(SandboxOptions::default()).unwrap();
    let issued = sandbox
        .call(
            V36,
            crate::tools::Api::Configuration,
            "issue_bot_token",
            &json!({"bot_id": "5c9871d5372c824cbf22d860a707a578", "bot_secret": "641e2ae6d997d2009a3ac92a05f37fc3",
                    "organization_id": crate::sandbox::ORGANIZATION_ID, "client_id": "0805e283233042b37f460ed8fbf22160"}),
        )
        .unwrap();
    let token = issued["token"].as_str().unwrap();
    let handle = sandbox
        .clone()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let mut ws = connect(&handle.rtm_url(V35)).await;
    send(&mut ws, json!({"request_id": "b", "action": "login", "payload": {"token": format!("Bearer {token}")}})).await;
    let r = response_to(&mut ws, "b").await;
    assert_eq!(r["success"], false);
    assert_eq!(r["payload"]["error"]["type"], "authorization");
    assert!(
        r["payload"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bot"),
        "{r}"
    );
    assert!(
        !r.to_string().contains(token),
        "the answer does not echo the token"
    );
}
