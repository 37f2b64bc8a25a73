//! Requests LiveChat's documentation says are valid (and a few it says are not), for the
//! event types, the archive filters and webhook filters.

use serde_json::{Value, json};

use super::{V35, V36, fails_in, last_event, ok, ok_in, sandbox};
use crate::version::ApiVersion;

const CHAT: &str = "PJ0MRSHTDG";

/// Sends `event` to the seed's active chat in `v` and returns it as stored.
fn send(v: ApiVersion, event: Value) -> Value {
    let mut st = sandbox();
    ok_in(
        &mut st,
        v,
        "send_event",
        json!({"chat_id": CHAT, "event": event}),
    );
    last_event(&ok_in(&mut st, v, "get_chat", json!({"chat_id": CHAT})))
}

fn refused(v: ApiVersion, method: &str, body: Value, needle: &str) {
    let mut st = sandbox();
    let e = fails_in(&mut st, v, method, body, "validation");
    assert!(e.message.contains(needle), "{needle:?} not in {e}");
}

#[test]
fn system_messages_take_visibility_and_text_vars_and_need_a_type() {
    for v in [V35, V36] {
        let stored = send(
            v,
            json!({"type": "system_message", "system_message_type": "routing.assigned", "text": "Hello there!",
                   "text_vars": {"agent": "John Doe"}, "visibility": "agents"}),
        );
        assert_eq!(stored["visibility"], "agents");
        assert_eq!(stored["text_vars"], json!({"agent": "John Doe"}));
        refused(
            v,
            "send_event",
            json!({"chat_id": CHAT, "event": {"type": "system_message", "text": "x"}}),
            "event.system_message_type",
        );
        refused(
            v,
            "send_event",
            json!({"chat_id": CHAT, "event": {"type": "system_message", "system_message_type": "a", "recipients": "all"}}),
            "recipients",
        );
    }
}

#[test]
fn form_and_filled_form_events_can_be_sent() {
    let form = json!({"type": "form", "form_id": "1473433500211", "fields": [
        {"type": "name", "id": "1", "label": "Your name", "required": true},
        {"type": "radio", "id": "2", "label": "Chat purpose", "options": [{"id": "0", "label": "Support"}]}]});
    let filled = json!({"type": "filled_form", "form_id": "1473433500211", "fields": [
        {"type": "name", "id": "1", "label": "Your name", "answer": "Thomas Anderson"},
        {"type": "checkbox", "id": "3", "label": "Industry", "answers": [{"id": "0", "label": "it"}]},
        {"type": "group_chooser", "id": "4", "label": "Department", "answer": {"id": "2", "group_id": 1, "label": "Marketing"}}]});
    for v in [V35, V36] {
        assert_eq!(send(v, form.clone())["fields"], form["fields"]);
        assert_eq!(send(v, filled.clone())["form_id"], "1473433500211");
        refused(
            v,
            "send_event",
            json!({"chat_id": CHAT, "event": {"type": "form", "form_id": "1", "fields": [{"type": "dropdown", "id": "1", "label": "x"}]}}),
            "event.fields[0].type",
        );
    }
}

#[test]
fn messages_carry_a_postback_and_ecommerce_only_in_3_6() {
    let postback = json!({"id": "action_yes", "thread_id": "QR8E5RKF2C", "event_id": "QR8E5RKF2C_3",
                          "type": "message", "value": "yes"});
    for v in [V35, V36] {
        let stored = send(
            v,
            json!({"type": "message", "text": "yes", "postback": postback}),
        );
        assert_eq!(stored["postback"], postback);
        let mut half = postback.clone();
        half.as_object_mut().unwrap().remove("value");
        refused(
            v,
            "send_event",
            json!({"chat_id": CHAT, "event": {"type": "message", "text": "yes", "postback": half}}),
            "event.postback.value",
        );
    }
    let mut with_product = postback.clone();
    with_product["ecommerce"] = json!({"product_id": "p-1", "option_id": "xl", "quantity": 2});
    let event = json!({"type": "message", "text": "yes", "postback": with_product});
    assert_eq!(send(V36, event.clone())["postback"], with_product);
    refused(
        V35,
        "send_event",
        json!({"chat_id": CHAT, "event": event}),
        "event.postback.ecommerce",
    );
}

#[test]
fn rich_messages_take_image_details_and_the_3_6_ecommerce_template() {
    let image = json!({"url": "https://example.com/image25.png", "name": "image25.png", "content_type": "image/png",
                       "size": 123444, "width": 640, "height": 480, "alternative_text": "A picture"});
    for v in [V35, V36] {
        let stored = send(
            v,
            json!({"type": "rich_message", "template_id": "cards", "elements": [{"title": "T", "image": image}]}),
        );
        assert_eq!(stored["elements"][0]["image"], image);
    }
    let product = json!({"type": "rich_message", "template_id": "ecommerce", "elements": [{"title": "Shoe",
        "ecommerce": {"view_type": "swatch", "product_id": "p-1", "label": "Shoe",
                      "options": [{"option_id": "42", "label": "42", "price": "99.00", "currency": "EUR", "available": true}],
                      "addons": [{"addon_type": "gift_wrap"}]}}]});
    let stored = send(V36, product.clone());
    assert_eq!(stored["template_id"], "ecommerce");
    assert_eq!(stored["elements"][0]["ecommerce"]["product_id"], "p-1");
    refused(
        V35,
        "send_event",
        json!({"chat_id": CHAT, "event": product}),
        "event.template_id",
    );
    refused(
        V35,
        "send_event",
        json!({"chat_id": CHAT, "event": {"type": "rich_message", "template_id": "cards",
               "elements": [{"ecommerce": {"view_type": "tags", "product_id": "p"}}]}}),
        "event.elements[0].ecommerce",
    );
}

#[test]
fn message_text_is_limited_in_bytes_not_characters() {
    // 4096 four-byte characters are exactly 16 KB.
    let full = "😁".repeat(4096);
    assert_eq!(
        send(V36, json!({"type": "message", "text": full}))["text"],
        full
    );
    let over = format!("{full}x");
    refused(
        V36,
        "send_event",
        json!({"chat_id": CHAT, "event": {"type": "message", "text": over}}),
        "event.text",
    );
}

#[test]
fn archive_filters_take_the_documented_shapes() {
    let mut st = sandbox();
    for filters in [
        json!({"agent_types": {"all_values": ["human"], "any_values": ["chatbot", "ai_agent"]}}),
        json!({"agent_types": {"exclude_values": ["ai_agent"]}}),
        json!({"forms": [{"type": "pre_chat", "from": "2026-01-01T00:00:00.000000+00:00", "exists": true},
                         {"type": "post_chat", "values": ["a1"], "groups": {"values": [0]}}]}),
        json!({"greetings": {"from": "2026-01-01T00:00:00.000000+00:00", "to": "2026-12-31T00:00:00.000000+00:00",
                             "values": [1], "groups": {"exclude_values": [19]}}}),
        json!({"agent_response": {"first": true, "agents": {"values": ["smith@example.com"]}, "groups": {"values": [0]}}}),
        json!({"event_types": {"values": ["message", "filled_form"], "require_every_value": true}}),
    ] {
        ok(&mut st, "list_archives", json!({"filters": filters}));
    }
    let all_but_bots = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"agent_types": {"exclude_values": ["chatbot"]}}}),
    );
    assert!(all_but_bots["found_chats"].as_u64().unwrap() > 0);
    for (filters, needle) in [
        (
            json!({"agent_types": {"any_values": ["human"], "exclude_values": ["human"]}}),
            "`human` may appear only once",
        ),
        (
            json!({"agent_types": {"values": ["bot"]}}),
            "filters.agent_types.values",
        ),
        (json!({"forms": {"type": "pre_chat"}}), "filters.forms"),
        (
            json!({"greetings": {"first": true}}),
            "filters.greetings.first",
        ),
        (json!({"agents": {"first": true}}), "filters.agents.first"),
        (
            json!({"agent_response": {"values": ["smith@example.com"]}}),
            "filters.agent_response.values",
        ),
        (
            json!({"event_types": {"exists": true}}),
            "filters.event_types.exists",
        ),
    ] {
        refused(V36, "list_archives", json!({"filters": filters}), needle);
    }
    refused(
        V35,
        "list_archives",
        json!({"filters": {"agent_types": {"any_values": ["human"]}}}),
        "filters.agent_types",
    );
}

#[test]
fn webhook_agent_ids_filter_is_for_routing_status_set_only() {
    let hook = |action: &str| {
        json!({"action": action, "secret_key": "k", "url": "https://example.com/in",
               "owner_client_id": "0805e283233042b37f460ed8fbf22160", "type": "license",
               "filters": {"agent_ids": ["smith@example.com"], "source_type": ["system"]}})
    };
    for v in [V35, V36] {
        let mut st = sandbox();
        ok_in(&mut st, v, "register_webhook", hook("routing_status_set"));
        refused(
            v,
            "register_webhook",
            hook("incoming_chat"),
            "filters.agent_ids",
        );
    }
    let mut st = sandbox();
    for action in ["event_deleted", "thread_summary_set"] {
        let mut body = hook(action);
        body.as_object_mut().unwrap().remove("filters");
        ok(&mut st, "register_webhook", body.clone());
        refused(V35, "register_webhook", body, "`action`");
    }
    let mut body = hook("incoming_customer");
    body.as_object_mut().unwrap().remove("filters");
    ok_in(&mut st, V35, "register_webhook", body.clone());
    refused(V36, "register_webhook", body, "`action`");
}
