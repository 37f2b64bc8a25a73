//! Narrowed scopes (`--sandbox-scopes`): `authorization` errors and `chats--access` reach.

use serde_json::json;

use super::{fails, ok, with_scopes};

#[test]
fn a_method_needs_one_of_its_scopes() {
    let mut st = with_scopes("chats--access:ro,customers:ro");
    ok(&mut st, "list_chats", json!({}));
    ok(
        &mut st,
        "get_customer",
        json!({"id": "b7eff798-f8df-4364-8059-649c35c9ed0c"}),
    );
    let e = fails(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "x"}}),
        "authorization",
    );
    assert!(
        e.message.contains("chats--all:rw") && e.message.contains("chats--access:rw"),
        "{e}"
    );
    assert_eq!(
        e.data.as_ref().unwrap()["required_scopes"],
        json!(["chats--all:rw", "chats--access:rw"])
    );
    fails(
        &mut st,
        "update_customer",
        json!({"id": "b7eff798-f8df-4364-8059-649c35c9ed0c", "name": "x"}),
        "authorization",
    );
    fails(&mut st, "list_agents", json!({}), "authorization");
    // rw covers ro
    let mut st = with_scopes("chats--all:rw");
    ok(&mut st, "list_chats", json!({}));
}

#[test]
fn chats_access_reaches_only_the_requesters_groups() {
    let mut st = with_scopes("chats--access:rw");
    let listed = ok(&mut st, "list_chats", json!({}));
    assert_eq!(
        listed["found_chats"], 4,
        "PWJ8Y4THAV (group 19) is out of reach"
    );
    let e = fails(
        &mut st,
        "get_chat",
        json!({"chat_id": "PWJ8Y4THAV"}),
        "missing_access",
    );
    assert!(e.message.contains("[19]"), "{e}");
    let archives = ok(&mut st, "list_archives", json!({}));
    assert_eq!(archives["found_chats"], 6);
    let e = fails(
        &mut st,
        "start_chat",
        json!({"chat": {"access": {"group_ids": [19]}}}),
        "authorization",
    );
    assert!(e.message.contains("chats--all:rw"), "{e}");
    ok(
        &mut st,
        "start_chat",
        json!({"chat": {"access": {"group_ids": [1]}}}),
    );
    let mut all = with_scopes("chats--all:ro");
    ok(&mut all, "get_chat", json!({"chat_id": "PWJ8Y4THAV"}));
}

#[test]
fn finer_rules_follow_the_documented_footnotes() {
    let mut st =
        with_scopes("accounts--all:rc,agents--my:rw,agents--all:ro,groups--my:rw,groups--all:ro");
    ok(
        &mut st,
        "create_agent",
        json!({"id": "a@example.com", "name": "A"}),
    );
    let agent = ok(
        &mut st,
        "get_agent",
        json!({"id": "a@example.com", "fields": ["awaiting_approval"]}),
    );
    assert_eq!(agent["awaiting_approval"], true);
    let e = fails(
        &mut st,
        "create_agent",
        json!({"id": "b@example.com", "name": "B", "role": "administrator"}),
        "authorization",
    );
    assert!(e.message.contains("accounts.roles.lc--all:rw"), "{e}");
    fails(
        &mut st,
        "create_agent",
        json!({"id": "b@example.com", "name": "B", "awaiting_approval": false}),
        "authorization",
    );
    ok(
        &mut st,
        "update_agent",
        json!({"id": "agent@sandbox.test", "job_title": "Boss"}),
    );
    fails(
        &mut st,
        "update_agent",
        json!({"id": "smith@example.com", "job_title": "Boss"}),
        "authorization",
    );
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "not_accepting_chats"}),
    );
    fails(
        &mut st,
        "set_routing_status",
        json!({"status": "not_accepting_chats", "agent_id": "smith@example.com"}),
        "authorization",
    );
    fails(
        &mut st,
        "set_routing_status",
        json!({"status": "offline", "agent_id": "5c9871d5372c824cbf22d860a707a578"}),
        "authorization",
    );
    ok(
        &mut st,
        "update_group",
        json!({"id": 1, "name": "Billing team"}),
    );
    fails(
        &mut st,
        "update_group",
        json!({"id": 19, "name": "Shoes"}),
        "authorization",
    );
}
