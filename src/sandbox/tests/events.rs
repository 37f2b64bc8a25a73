//! Events: sending, previews and rich message postbacks.

use serde_json::json;

use super::{V35, V36, fails, fails_in, ok, sandbox};

#[test]
fn send_event_appends_to_the_active_thread() {
    let mut st = sandbox();
    let sent = ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "Your refund is on its way.", "custom_id": "r-1"}}),
    );
    assert_eq!(sent, json!({"event_id": "QR8E5RKF2C_4"}));
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    let event = chat["thread"]["events"][3].clone();
    assert_eq!(
        event,
        json!({
            "id": "QR8E5RKF2C_4",
            "created_at": "2026-03-02T09:30:01.000000Z",
            "type": "message",
            "text": "Your refund is on its way.",
            "author_id": "agent@sandbox.test",
            "visibility": "all",
            "custom_id": "r-1"
        })
    );
    let requester = chat["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "agent@sandbox.test")
        .unwrap()
        .clone();
    assert_eq!(
        requester["events_seen_up_to"],
        "2026-03-02T09:30:01.000000Z"
    );

    let kinds = [
        json!({"type": "file", "url": "https://example.com/files/invoice.pdf", "alternative_text": "Invoice"}),
        json!({"type": "custom", "content": {"order": 1042}}),
        json!({"type": "rich_message", "template_id": "cards", "elements": [{"title": "Pick one", "buttons": [{"text": "A", "postback_id": "a"}]}]}),
        json!({"type": "system_message", "text": "Note", "system_message_type": "custom.note"}),
    ];
    for event in kinds {
        ok(
            &mut st,
            "send_event",
            json!({"chat_id": "PJ0MRSHTDG", "event": event}),
        );
    }
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    let events = chat["thread"]["events"].as_array().unwrap();
    assert_eq!(events[4]["name"], "invoice.pdf");
    assert_eq!(
        events[6]["elements"][0]["buttons"][0]["user_ids"],
        json!([])
    );
    assert!(events[7].get("author_id").is_none());
}

#[test]
fn send_event_to_an_inactive_chat_fails_until_it_is_resumed() {
    let mut st = sandbox();
    let event = json!({"type": "message", "text": "Anything else?"});
    let e = fails(
        &mut st,
        "send_event",
        json!({"chat_id": "PB4DF8GH2J", "event": event}),
        "chat_inactive",
    );
    assert!(e.message.contains("resume_chat"), "{e}");
    // The SDK's `attach_to_last_thread` left LiveChat's docs (livechat-public-docs #1514).
    for v in [V35, V36] {
        let e = fails_in(
            &mut st,
            v,
            "send_event",
            json!({"chat_id": "PB4DF8GH2J", "event": event, "attach_to_last_thread": true}),
            "validation",
        );
        assert!(e.message.contains("`attach_to_last_thread`"), "{e}");
    }
    let resumed = ok(
        &mut st,
        "resume_chat",
        json!({"chat": {"id": "PB4DF8GH2J"}}),
    );
    let thread = resumed["thread_id"].as_str().unwrap().to_string();
    let sent = ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PB4DF8GH2J", "event": event}),
    );
    assert_eq!(sent["event_id"], format!("{thread}_1"));
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PB4DF8GH2J"}));
    assert_eq!(chat["thread"]["active"], true);
}

#[test]
fn send_event_validates_the_event() {
    let mut st = sandbox();
    let send = |event: serde_json::Value| json!({"chat_id": "PJ0MRSHTDG", "event": event});
    for (event, field) in [
        (json!({"text": "no type"}), "event.type"),
        (json!({"type": "sms", "text": "x"}), "event.type"),
        (json!({"type": "message"}), "event.text"),
        (json!({"type": "message", "text": ""}), "event.text"),
        (
            json!({"type": "message", "text": "x", "visibility": "everyone"}),
            "event.visibility",
        ),
        (
            json!({"type": "message", "text": "x", "colour": "red"}),
            "event.colour",
        ),
        (
            json!({"type": "file", "url": "ftp://example.com/a"}),
            "event.url",
        ),
        (
            json!({"type": "rich_message", "template_id": "carousel"}),
            "event.template_id",
        ),
        (
            json!({"type": "system_message", "text": "x"}),
            "event.system_message_type",
        ),
        (
            json!({"type": "message", "text": "x", "properties": {"nope": {"x": 1}}}),
            "event.properties.nope.x",
        ),
    ] {
        let e = fails(&mut st, "send_event", send(event), "validation");
        assert!(e.message.contains(&format!("`{field}`")), "{field}: {e}");
    }
    fails(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG"}),
        "validation",
    );
    fails(
        &mut st,
        "send_event",
        json!({"chat_id": "PNOSUCHCHT", "event": {"type": "message", "text": "x"}}),
        "not_found",
    );
    fails(
        &mut st,
        "send_event",
        json!({"chat_id": "PT9XK2L4MN", "event": {"type": "message", "text": "x"}}),
        "missing_access",
    );
    let with_props = ok(
        &mut st,
        "send_event",
        send(
            json!({"type": "message", "text": "x", "properties": {"0805e283233042b37f460ed8fbf22160": {"ticket": "T-1042"}}}),
        ),
    );
    assert_eq!(with_props["event_id"], "QR8E5RKF2C_4");
}

#[test]
fn agents_only_users_send_agents_only_events() {
    let mut st = sandbox();
    ok(
        &mut st,
        "resume_chat",
        json!({"chat": {"id": "PB4DF8GH2J"}}),
    );
    // the requester joined the new thread with `visibility: all`; make it `agents`
    ok(
        &mut st,
        "add_user_to_chat",
        json!({"chat_id": "PB4DF8GH2J", "user_id": "agent@sandbox.test", "user_type": "agent", "visibility": "agents"}),
    );
    let e = fails(
        &mut st,
        "send_event",
        json!({"chat_id": "PB4DF8GH2J", "event": {"type": "message", "text": "x"}}),
        "validation",
    );
    assert!(e.message.contains("visibility"), "{e}");
    ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PB4DF8GH2J", "event": {"type": "message", "text": "x", "visibility": "agents"}}),
    );
}

#[test]
fn send_event_preview_stores_nothing_and_exists_in_v36_only() {
    let mut st = sandbox();
    let before = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(
        ok(
            &mut st,
            "send_event_preview",
            json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "Typing a longer answer..."}})
        ),
        json!({})
    );
    assert_eq!(
        ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"})),
        before
    );
    let e = fails_in(
        &mut st,
        V35,
        "send_event_preview",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "x"}}),
        "not_found",
    );
    assert!(e.message.contains("v3.6"), "{e}");
    fails(
        &mut st,
        "send_event_preview",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "x", "visibility": "agents"}}),
        "validation",
    );
    fails(
        &mut st,
        "send_event_preview",
        json!({"chat_id": "PB4DF8GH2J", "event": {"type": "message", "text": "x"}}),
        "chat_inactive",
    );
    fails(
        &mut st,
        "send_event_preview",
        json!({"chat_id": "PT9XK2L4MN", "event": {"type": "message", "text": "x"}}),
        "missing_access",
    );
}

#[test]
fn rich_message_postbacks_toggle_the_requester() {
    let mut st = sandbox();
    let body = |id: &str, toggled: bool| json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event_id": "K600PKZON8_1", "postback": {"id": id, "toggled": toggled}});
    ok(
        &mut st,
        "send_rich_message_postback",
        body("action_no", true),
    );
    let chat = ok(
        &mut st,
        "get_chat",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
    );
    assert_eq!(
        chat["thread"]["events"][0]["elements"][0]["buttons"][1]["user_ids"],
        json!(["agent@sandbox.test"])
    );
    ok(
        &mut st,
        "send_rich_message_postback",
        body("action_no", false),
    );
    let chat = ok(
        &mut st,
        "get_chat",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
    );
    assert_eq!(
        chat["thread"]["events"][0]["elements"][0]["buttons"][1]["user_ids"],
        json!([])
    );

    let e = fails(
        &mut st,
        "send_rich_message_postback",
        body("action_maybe", true),
        "validation",
    );
    assert!(e.message.contains("postback.id"), "{e}");
    let mut missing = body("action_yes", true);
    missing["postback"]
        .as_object_mut()
        .unwrap()
        .remove("toggled");
    fails(&mut st, "send_rich_message_postback", missing, "validation");
    let mut v36 = body("action_yes", true);
    v36["postback"]["button_type"] = json!("url");
    v36["postback"]["ecommerce"] = json!({"product_id": "12345", "quantity": 2});
    ok(&mut st, "send_rich_message_postback", v36.clone());
    let e = fails_in(
        &mut st,
        V35,
        "send_rich_message_postback",
        v36,
        "validation",
    );
    assert!(e.message.contains("v3.6"), "{e}");
    let mut bad = body("action_yes", true);
    bad["postback"]["ecommerce"] = json!({"quantity": 2});
    fails(&mut st, "send_rich_message_postback", bad, "validation");
    let mut other = body("action_yes", true);
    other["event_id"] = json!("K600PKZON8_77");
    fails(&mut st, "send_rich_message_postback", other, "not_found");
}

fn seen_by_requester(chat: &serde_json::Value) -> serde_json::Value {
    chat["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "agent@sandbox.test")
        .map(|u| u["events_seen_up_to"].clone())
        .unwrap()
}

#[test]
fn mark_events_as_seen_moves_the_requesters_mark_forward() {
    let mut st = sandbox();
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(seen_by_requester(&chat), "2026-03-02T09:14:05.000000Z");
    let marked = ok(
        &mut st,
        "mark_events_as_seen",
        json!({"chat_id": "PJ0MRSHTDG", "seen_up_to": "2026-03-02T10:20:00+01:00"}),
    );
    assert_eq!(marked, json!({}));
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(seen_by_requester(&chat), "2026-03-02T09:20:00.000000Z");
    // An earlier time does not move it back.
    ok(
        &mut st,
        "mark_events_as_seen",
        json!({"chat_id": "PJ0MRSHTDG", "seen_up_to": "2026-03-02T09:00:00.000000Z"}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(seen_by_requester(&chat), "2026-03-02T09:20:00.000000Z");
    let e = fails(
        &mut st,
        "mark_events_as_seen",
        json!({"chat_id": "PJ0MRSHTDG", "seen_up_to": "09:20"}),
        "validation",
    );
    assert!(e.message.contains("seen_up_to"), "{e}");
    fails(
        &mut st,
        "mark_events_as_seen",
        json!({"chat_id": "PJ0MRSHTDG"}),
        "validation",
    );
    fails(
        &mut st,
        "mark_events_as_seen",
        json!({"chat_id": "PT9XK2L4MN", "seen_up_to": "2026-03-02T09:20:00.000000Z"}),
        "missing_access",
    );
    // A read scope is enough.
    let mut ro = super::with_scopes("chats--all:ro");
    ok(
        &mut ro,
        "mark_events_as_seen",
        json!({"chat_id": "PJ0MRSHTDG", "seen_up_to": "2026-03-02T09:20:00.000000Z"}),
    );
}

#[test]
fn typing_and_thinking_indicators_store_nothing() {
    let mut st = sandbox();
    let before = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    for v in [V35, V36] {
        let typing = super::ok_in(
            &mut st,
            v,
            "send_typing_indicator",
            json!({"chat_id": "PJ0MRSHTDG", "is_typing": true, "visibility": "agents"}),
        );
        assert_eq!(typing, json!({}));
    }
    ok(
        &mut st,
        "send_thinking_indicator",
        json!({"chat_id": "PJ0MRSHTDG", "title": "Thinking...", "description": "Fetching data",
               "visibility": "all", "custom_id": "31-0C"}),
    );
    assert_eq!(
        ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"})),
        before
    );
    let e = fails_in(
        &mut st,
        V35,
        "send_thinking_indicator",
        json!({"chat_id": "PJ0MRSHTDG"}),
        "not_found",
    );
    assert!(e.message.contains("v3.6"), "{e}");
    fails(
        &mut st,
        "send_typing_indicator",
        json!({"chat_id": "PJ0MRSHTDG"}),
        "validation",
    );
    fails(
        &mut st,
        "send_typing_indicator",
        json!({"chat_id": "PJ0MRSHTDG", "is_typing": true, "visibility": "customers"}),
        "validation",
    );
    fails(
        &mut st,
        "send_thinking_indicator",
        json!({"chat_id": "PJ0MRSHTDG", "title": 5}),
        "validation",
    );
    for method in ["send_typing_indicator", "send_thinking_indicator"] {
        let body = |chat: &str| json!({"chat_id": chat, "is_typing": true});
        let mut body = body("PB4DF8GH2J");
        if method == "send_thinking_indicator" {
            body.as_object_mut().unwrap().remove("is_typing");
        }
        fails(&mut st, method, body.clone(), "chat_inactive");
        body["chat_id"] = json!("PT9XK2L4MN");
        let e = fails(&mut st, method, body, "missing_access");
        assert!(e.message.contains("add_user_to_chat"), "{e}");
        let mut ro = super::with_scopes("chats--all:ro");
        let mut body = json!({"chat_id": "PJ0MRSHTDG", "is_typing": true});
        if method == "send_thinking_indicator" {
            body.as_object_mut().unwrap().remove("is_typing");
        }
        fails(&mut ro, method, body, "authorization");
    }
}

#[test]
fn request_thread_summary_sets_the_summary_and_reports_it_in_active_threads() {
    let mut st = sandbox();
    // An inactive thread: a summary, no new event, and only once.
    let before = ok(
        &mut st,
        "get_chat",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
    );
    assert!(before["thread"].get("summary").is_none(), "{before}");
    let answer = ok(
        &mut st,
        "request_thread_summary",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
    );
    assert_eq!(answer, json!({}));
    let after = ok(
        &mut st,
        "get_chat",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
    );
    assert_eq!(after["thread"]["summary"]["status"], "ok");
    assert!(after["thread"]["summary"]["updated_at"].is_string());
    assert_eq!(after["thread"]["events"], before["thread"]["events"]);
    let e = fails(
        &mut st,
        "request_thread_summary",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
        "validation",
    );
    assert!(e.message.contains("only once"), "{e}");
    // v3.5 has neither the method nor the field.
    let old = super::ok_in(
        &mut st,
        V35,
        "get_chat",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
    );
    assert!(old["thread"].get("summary").is_none(), "{old}");
    fails_in(
        &mut st,
        V35,
        "request_thread_summary",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C"}),
        "not_found",
    );
    // An active thread: as often as asked, each time a `summary` system event.
    for _ in 0..2 {
        ok(
            &mut st,
            "request_thread_summary",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C"}),
        );
    }
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    let event = super::last_event(&chat);
    assert_eq!(
        (&event["type"], &event["source"], &event["subtype"]),
        (&json!("system"), &json!("messaging"), &json!("summary"))
    );
    let details: serde_json::Value =
        serde_json::from_str(event["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["requested_by"], "agent@sandbox.test");
    assert_eq!(
        details["summary"],
        json!({"text": chat["thread"]["summary"]["text"], "status": "ok"})
    );
    fails(
        &mut st,
        "request_thread_summary",
        json!({"chat_id": "PJ0MRSHTDG"}),
        "validation",
    );
    let mut ro = super::with_scopes("chats--all:ro");
    fails(
        &mut ro,
        "request_thread_summary",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C"}),
        "authorization",
    );
}

#[test]
fn a_multicast_goes_to_known_agents_and_is_not_kept() {
    let mut st = sandbox();
    let before = serde_json::to_value(st.snapshot()).unwrap();
    let docs = json!({"recipients": {"agents": {"all": true, "ids": ["smith@example.com", "agent@sandbox.test"], "groups": [1, 19]}},
                      "content": {"example": {"nested": "json"}}, "type": "alert"});
    for v in [V35, V36] {
        assert_eq!(
            super::ok_in(&mut st, v, "multicast", docs.clone()),
            json!({})
        );
    }
    ok(
        &mut st,
        "multicast",
        json!({"recipients": {"agents": {"groups": [0]}}, "content": "plain text"}),
    );
    assert_eq!(serde_json::to_value(st.snapshot()).unwrap(), before);

    let e = fails(
        &mut st,
        "multicast",
        json!({"recipients": {"agents": {}}, "content": 1}),
        "validation",
    );
    assert!(e.message.contains("At least one `recipients` type"), "{e}");
    let e = fails(
        &mut st,
        "multicast",
        json!({"recipients": {"agents": {"ids": ["ghost@example.com"]}}, "content": 1}),
        "not_found",
    );
    assert!(e.message.contains("ghost@example.com"), "{e}");
    fails(
        &mut st,
        "multicast",
        json!({"recipients": {"agents": {"groups": [42]}}, "content": 1}),
        "not_found",
    );
    fails(
        &mut st,
        "multicast",
        json!({"recipients": {"customers": {"all": true}}, "content": 1}),
        "validation",
    );
    fails(
        &mut st,
        "multicast",
        json!({"recipients": {"agents": {"all": true}}}),
        "validation",
    );
    fails_in(
        &mut st,
        V35,
        "multicast",
        json!({"recipients": {"agents": {"all": true}}, "content": 1, "type": 5}),
        "validation",
    );
}
