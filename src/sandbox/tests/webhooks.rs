//! Webhook deliveries and the customer's calls, in-process: which action each call makes,
//! the envelope and payload per version, the license switch, bot webhooks, filters, and the
//! Customer Chat API's `start_chat` and `send_event`.

use serde_json::{Value, json};

use super::{V35, V36, fails, ok, ok_in, sandbox};
use crate::sandbox::{
    LcError, config_bots::ORGANIZATION_ID, methods, outbox::Delivery, state::State,
};

const CLIENT: &str = "f1c2e3d4a5b6c7d8e9f0a1b2c3d4e5f6";
const THOMAS: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";
const SECRET: &str = "receiver-secret-0123";

/// Registers a license webhook for `action` of our client in `v`; returns its ID.
fn register(st: &mut State, v: crate::version::ApiVersion, action: &str, extra: Value) -> String {
    let mut body = json!({
        "action": action,
        "secret_key": SECRET,
        "url": format!("http://127.0.0.1:9/{action}"),
        "owner_client_id": CLIENT,
        "type": "license",
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    ok_in(st, v, "register_webhook", body)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The deliveries made since the last call, for our client's webhooks only (the seed has one
/// of another client's).
fn ours(st: &mut State) -> Vec<Delivery> {
    st.take_deliveries()
        .into_iter()
        .filter(|d| d.url.starts_with("http://127.0.0.1:9/"))
        .collect()
}

fn actions(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.action().to_string()).collect()
}

#[track_caller]
fn customer(st: &mut State, who: &str, method: &str, body: Value) -> Value {
    match st.handle_customer(V36, who, method, &body) {
        Ok(v) => v,
        Err(e) => panic!("the customer's {method} failed: {e}"),
    }
}

#[track_caller]
fn customer_fails(st: &mut State, who: &str, method: &str, body: Value, kind: &str) -> LcError {
    match st.handle_customer(V36, who, method, &body) {
        Ok(v) => panic!("the customer's {method} succeeded, expected {kind}: {v}"),
        Err(e) => {
            assert_eq!(e.kind, kind, "{e}");
            e
        }
    }
}

#[test]
fn a_customers_chat_and_message_reach_the_webhooks_in_livechats_envelope() {
    let mut st = sandbox();
    let chat_hook = register(&mut st, V36, "incoming_chat", json!({}));
    let event_hook = register(&mut st, V36, "incoming_event", json!({}));
    let started = customer(
        &mut st,
        THOMAS,
        "start_chat",
        json!({"chat": {"thread": {"events": [{"type": "message", "text": "Where is my parcel?"}]}}}),
    );
    let chat_id = started["chat_id"].as_str().unwrap().to_string();
    let thread_id = started["thread_id"].as_str().unwrap().to_string();
    let event_id = started["event_ids"][0].as_str().unwrap().to_string();
    let sent = ours(&mut st);
    assert_eq!(actions(&sent), ["incoming_chat"]);
    let body = &sent[0].body;
    assert_eq!(sent[0].url, "http://127.0.0.1:9/incoming_chat");
    assert_eq!(body["webhook_id"], json!(chat_hook));
    assert_eq!(body["secret_key"], SECRET);
    assert_eq!(body["organization_id"], ORGANIZATION_ID);
    assert_eq!(body["additional_data"], json!({}));
    let chat = &body["payload"]["chat"];
    assert_eq!(chat["id"], json!(chat_id));
    assert_eq!(chat["thread"]["id"], json!(thread_id));
    assert_eq!(chat["users"][0]["id"], THOMAS);
    assert_eq!(chat["users"][0]["type"], "customer");
    let first = &chat["thread"]["events"][0];
    assert_eq!(first["id"], json!(event_id));
    assert_eq!(first["text"], "Where is my parcel?");
    assert_eq!(first["author_id"], THOMAS);
    assert!(chat.get("is_followed").is_none(), "{chat}");

    let said = customer(
        &mut st,
        THOMAS,
        "send_event",
        json!({"chat_id": chat_id, "event": {"type": "message", "text": "Hello?"}}),
    );
    let sent = ours(&mut st);
    assert_eq!(actions(&sent), ["incoming_event"]);
    assert_eq!(sent[0].body["webhook_id"], json!(event_hook));
    let payload = &sent[0].body["payload"];
    assert_eq!(payload["chat_id"], json!(chat_id));
    assert_eq!(payload["thread_id"], json!(thread_id));
    assert_eq!(payload["event"]["id"], said["event_id"]);
    assert_eq!(payload["event"]["text"], "Hello?");
    assert_eq!(payload["event"]["author_id"], THOMAS);
    assert_eq!(payload["event"]["type"], "message");
}

#[test]
fn an_agents_own_message_makes_incoming_event_too() {
    let mut st = sandbox();
    register(&mut st, V36, "incoming_event", json!({}));
    let sent = ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "On its way."}}),
    );
    let out = ours(&mut st);
    assert_eq!(actions(&out), ["incoming_event"]);
    assert_eq!(out[0].body["payload"]["event"]["id"], sent["event_id"]);
    assert_eq!(
        out[0].body["payload"]["event"]["author_id"],
        "agent@sandbox.test"
    );
    assert_eq!(out[0].body["payload"]["thread_id"], "QR8E5RKF2C");
}

/// Each call makes exactly its own action, once per webhook registered for it.
#[test]
fn each_state_change_makes_the_action_livechat_sends() {
    let mut st = sandbox();
    for action in [
        "incoming_chat",
        "chat_deactivated",
        "chat_transferred",
        "user_added_to_chat",
        "user_removed_from_chat",
        "thread_tagged",
        "thread_untagged",
        "routing_status_set",
        "tag_created",
        "tag_updated",
        "tag_deleted",
        "group_created",
        "group_deleted",
        "agent_suspended",
        "chat_properties_updated",
        "events_marked_as_seen",
    ] {
        register(&mut st, V36, action, json!({}));
    }
    let cases: Vec<(&str, Value, &str, Value)> = vec![
        (
            "add_user_to_chat",
            json!({"chat_id": "PJ0MRSHTDG", "user_id": "smith@example.com", "user_type": "agent", "visibility": "all"}),
            "user_added_to_chat",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "user_type": "agent", "reason": "manual", "requester_id": "agent@sandbox.test"}),
        ),
        (
            "remove_user_from_chat",
            json!({"chat_id": "PJ0MRSHTDG", "user_id": "smith@example.com", "user_type": "agent"}),
            "user_removed_from_chat",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "user_id": "smith@example.com", "user_type": "agent", "reason": "manual", "requester_id": "agent@sandbox.test"}),
        ),
        (
            "tag_thread",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "tag": "sales"}),
            "thread_tagged",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "tag": "sales"}),
        ),
        (
            "untag_thread",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "tag": "sales"}),
            "thread_untagged",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "tag": "sales"}),
        ),
        (
            "set_routing_status",
            json!({"status": "not_accepting_chats", "agent_id": "jones@example.com"}),
            "routing_status_set",
            json!({"agent_id": "jones@example.com", "status": "not accepting chats"}),
        ),
        (
            "update_chat_properties",
            json!({"id": "PJ0MRSHTDG", "properties": {"0805e283233042b37f460ed8fbf22160": {"string_property": "x"}}}),
            "chat_properties_updated",
            json!({"chat_id": "PJ0MRSHTDG", "properties": {"0805e283233042b37f460ed8fbf22160": {"string_property": "x"}}}),
        ),
        (
            "create_tag",
            json!({"name": "vip", "group_ids": [0]}),
            "tag_created",
            json!({"name": "vip", "group_ids": [0], "author_id": "agent@sandbox.test"}),
        ),
        (
            "update_tag",
            json!({"name": "vip", "group_ids": [1]}),
            "tag_updated",
            json!({"name": "vip", "group_ids": [1]}),
        ),
        (
            "delete_tag",
            json!({"name": "vip"}),
            "tag_deleted",
            json!({"name": "vip"}),
        ),
        (
            "suspend_agent",
            json!({"id": "lee@example.com"}),
            "agent_suspended",
            json!({"id": "lee@example.com"}),
        ),
        (
            "transfer_chat",
            json!({"id": "PJ0MRSHTDG", "target": {"type": "agent", "ids": ["smith@example.com"]}}),
            "chat_transferred",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "requester_id": "agent@sandbox.test", "reason": "manual", "transferred_to": {"group_ids": [0], "agent_ids": ["smith@example.com"]}}),
        ),
        (
            "deactivate_chat",
            json!({"id": "PT9XK2L4MN", "ignore_requester_presence": true}),
            "chat_deactivated",
            json!({"chat_id": "PT9XK2L4MN", "thread_id": "QX2B7N4K8P", "user_id": "agent@sandbox.test"}),
        ),
    ];
    for (method, body, action, expected) in cases {
        ok(&mut st, method, body);
        let out = ours(&mut st);
        assert_eq!(actions(&out), [action], "{method}");
        let mut payload = out[0].body["payload"].clone();
        if action == "user_added_to_chat" {
            assert_eq!(payload["user"]["id"], "smith@example.com");
            payload.as_object_mut().unwrap().remove("user");
        }
        if action == "tag_created" {
            assert_eq!(payload["created_at"], json!(st.now()));
            payload.as_object_mut().unwrap().remove("created_at");
        }
        assert_eq!(payload, expected, "{method}");
    }
    // Reads and failed calls make nothing.
    ok(&mut st, "list_chats", json!({}));
    fails(
        &mut st,
        "send_event",
        json!({"chat_id": "NOSUCHCHAT", "event": {"type": "message", "text": "x"}}),
        "not_found",
    );
    assert!(ours(&mut st).is_empty());
}

/// v3.6 configuration webhooks name their `requester`; v3.5's do not. Each webhook gets the
/// shape of the version it was registered with.
#[test]
fn each_webhook_gets_the_payload_shape_of_its_version() {
    let mut st = sandbox();
    let old = register(&mut st, V35, "tag_created", json!({}));
    let new = register(&mut st, V36, "tag_created", json!({}));
    ok(&mut st, "create_tag", json!({"name": "vip"}));
    let out = ours(&mut st);
    assert_eq!(out.len(), 2);
    let by_id = |id: &str| {
        out.iter()
            .find(|d| d.body["webhook_id"] == id)
            .unwrap_or_else(|| panic!("no delivery to {id}"))
            .body
            .clone()
    };
    let (v35, v36) = (by_id(&old), by_id(&new));
    assert_eq!(v35["payload"], v36["payload"]);
    assert_eq!(v35["payload"]["name"], "vip");
    assert!(v35.get("requester").is_none(), "{v35}");
    assert_eq!(v36["requester"]["user_id"], "agent@sandbox.test");
    assert!(v36["requester"]["account_id"].is_string(), "{v36}");
    let mut keys: Vec<&str> = v35
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "action",
            "additional_data",
            "organization_id",
            "payload",
            "secret_key",
            "webhook_id"
        ]
    );

    // `thread_summary_set` exists in v3.6 only: a v3.5 webhook of it cannot even be made.
    register(&mut st, V36, "thread_summary_set", json!({}));
    ok(
        &mut st,
        "request_thread_summary",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C"}),
    );
    let out = ours(&mut st);
    assert_eq!(actions(&out), ["thread_summary_set"]);
    assert_eq!(out[0].body["payload"]["summary"]["status"], "ok");
}

#[test]
fn disabled_license_webhooks_deliver_nothing_until_enabled() {
    let mut st = sandbox();
    register(&mut st, V36, "tag_created", json!({}));
    ok(
        &mut st,
        "disable_license_webhooks",
        json!({"owner_client_id": CLIENT}),
    );
    ok(&mut st, "create_tag", json!({"name": "one"}));
    assert!(ours(&mut st).is_empty());
    ok(
        &mut st,
        "enable_license_webhooks",
        json!({"owner_client_id": CLIENT}),
    );
    ok(&mut st, "create_tag", json!({"name": "two"}));
    let out = ours(&mut st);
    assert_eq!(actions(&out), ["tag_created"]);
    assert_eq!(out[0].body["payload"]["name"], "two");
}

/// Bot webhooks follow the bot: delivered while one of the client's bots is online.
#[test]
fn bot_webhooks_need_an_online_bot_of_their_client() {
    let mut st = sandbox();
    register(&mut st, V36, "tag_created", json!({"type": "bot"}));
    ok(&mut st, "create_tag", json!({"name": "one"}));
    assert!(ours(&mut st).is_empty(), "the client has no bot");
    let bot = ok(
        &mut st,
        "create_bot",
        json!({"name": "Helper", "owner_client_id": CLIENT}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&mut st, "create_tag", json!({"name": "two"}));
    assert!(ours(&mut st).is_empty(), "a new bot is offline");
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "accepting_chats", "agent_id": bot}),
    );
    ok(&mut st, "create_tag", json!({"name": "three"}));
    assert_eq!(actions(&ours(&mut st)), ["tag_created"]);
}

#[test]
fn filters_and_additional_data_are_honoured() {
    let mut st = sandbox();
    register(
        &mut st,
        V36,
        "incoming_event",
        json!({"filters": {"author_type": "customer"}, "additional_data": ["chat_presence_user_ids", "chat_properties"]}),
    );
    register(
        &mut st,
        V36,
        "routing_status_set",
        json!({"filters": {"agent_ids": ["smith@example.com"]}}),
    );
    ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "agent"}}),
    );
    assert!(ours(&mut st).is_empty(), "an agent's event is filtered out");
    customer(
        &mut st,
        THOMAS,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "customer"}}),
    );
    let out = ours(&mut st);
    assert_eq!(actions(&out), ["incoming_event"]);
    let extra = &out[0].body["additional_data"];
    let present = extra["chat_presence_user_ids"].as_array().unwrap();
    assert!(present.contains(&json!(THOMAS)), "{extra}");
    assert!(extra["chat_properties"].is_object(), "{extra}");
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "not_accepting_chats", "agent_id": "jones@example.com"}),
    );
    assert!(ours(&mut st).is_empty());
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "not_accepting_chats", "agent_id": "smith@example.com"}),
    );
    assert_eq!(actions(&ours(&mut st)), ["routing_status_set"]);
}

/// The state keeps at most `OUTBOX_LIMIT` deliveries nobody takes, dropping the oldest.
#[test]
fn an_untaken_outbox_is_bounded() {
    let mut st = sandbox();
    register(&mut st, V36, "routing_status_set", json!({}));
    let statuses = ["not_accepting_chats", "accepting_chats"];
    for i in 0..crate::sandbox::OUTBOX_LIMIT + 5 {
        ok(
            &mut st,
            "set_routing_status",
            json!({"status": statuses[i % 2]}),
        );
    }
    let out = st.take_deliveries();
    assert_eq!(out.len(), crate::sandbox::OUTBOX_LIMIT);
    // The oldest five went: the first kept is the sixth call's (an odd index).
    assert_eq!(out[0].body["payload"]["status"], "accepting chats");
}

#[test]
fn the_customer_api_checks_its_calls() {
    let mut st = sandbox();
    customer_fails(&mut st, THOMAS, "list_chats", json!({}), "not_found");
    customer_fails(
        &mut st,
        THOMAS,
        "start_chat",
        json!({"chat": {"users": []}}),
        "validation",
    );
    customer_fails(
        &mut st,
        THOMAS,
        "start_chat",
        json!({"bogus": 1}),
        "validation",
    );
    // A customer sends neither system messages nor agents-only events.
    customer_fails(
        &mut st,
        THOMAS,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "system_message", "system_message_type": "x"}}),
        "validation",
    );
    customer_fails(
        &mut st,
        THOMAS,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "x", "visibility": "agents"}}),
        "validation",
    );
    // Li Wei's chat is not Thomas's.
    customer_fails(
        &mut st,
        THOMAS,
        "send_event",
        json!({"chat_id": "PT9XK2L4MN", "event": {"type": "message", "text": "x"}}),
        "not_found",
    );
    // Emma Novak is banned.
    customer_fails(
        &mut st,
        "0d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
        "start_chat",
        json!({}),
        "customer_banned",
    );
    // Maria's chat is archived: the event needs `attach_to_last_thread`.
    let maria = "7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
    let message = json!({"type": "message", "text": "One more thing"});
    customer_fails(
        &mut st,
        maria,
        "send_event",
        json!({"chat_id": "PWJ8Y4THAV", "event": message}),
        "chat_inactive",
    );
    let sent = customer(
        &mut st,
        maria,
        "send_event",
        json!({"chat_id": "PWJ8Y4THAV", "event": message, "attach_to_last_thread": true}),
    );
    assert_eq!(
        sent["event_id"].as_str().unwrap().split('_').next(),
        Some("QA37PVJ75B")
    );
}

#[test]
fn a_new_customer_starts_a_chat_agents_can_read() {
    let mut st = sandbox();
    let started = customer(&mut st, "new-visitor-1", "start_chat", json!({}));
    assert!(started.get("event_ids").is_none(), "{started}");
    let chat = ok(&mut st, "get_chat", json!({"chat_id": started["chat_id"]}));
    assert_eq!(chat["users"][0]["id"], "new-visitor-1");
    assert_eq!(chat["users"][0]["type"], "customer");
    assert_eq!(chat["thread"]["active"], true);
    assert_eq!(chat["access"], json!({"group_ids": [0]}));
    ok(&mut st, "get_customer", json!({"id": "new-visitor-1"}));
}

/// The sandbox's webhook facts agree with the tools' `.webhook(..)`, but for `upload_file`,
/// whose `incoming_event` comes from the `send_event` that sends the file.
#[test]
fn the_sandboxs_webhook_actions_match_the_tools() {
    for m in methods::METHODS {
        let Some(tool) = crate::tools::find(m.name) else {
            continue;
        };
        let ours = m.webhook.as_ref().map(|w| w.action);
        let theirs = tool.webhook;
        if m.name == "upload_file" {
            assert_eq!((ours, theirs), (None, Some("incoming_event")));
            continue;
        }
        assert_eq!(ours, theirs, "{}", m.name);
    }
    let customer: Vec<_> = methods::CUSTOMER_METHODS
        .iter()
        .map(|m| (m.name, m.webhook.as_ref().map(|w| w.action)))
        .collect();
    assert_eq!(
        customer,
        [
            ("start_chat", Some("incoming_chat")),
            ("send_event", Some("incoming_event"))
        ]
    );
}
