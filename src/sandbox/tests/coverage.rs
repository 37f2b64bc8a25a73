//! Every method, in both versions: one success and one failure the way
//! LiveChat fails, each on a fresh sandbox; and `authorization` without scopes.

use serde_json::{Value, json};

use super::{V35, V36, call, sandbox, with_scopes};
use crate::sandbox::methods::METHODS;

const THOMAS: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";
const NS: &str = "0805e283233042b37f460ed8fbf22160";
const BOT: &str = "5c9871d5372c824cbf22d860a707a578";
const SECRET: &str = "641e2ae6d997d2009a3ac92a05f37fc3";
const ORG: &str = "1a8a9ec7-bd5d-4400-9204-3826740981e0";

/// (method, a call that succeeds, a call that fails, the error type).
fn cases() -> Vec<(&'static str, Value, Value, &'static str)> {
    let msg = json!({"type": "message", "text": "Hello"});
    vec![
        ("list_chats", json!({}), json!({"limit": 0}), "validation"),
        (
            "list_threads",
            json!({"chat_id": "PJ0MRSHTDG"}),
            json!({"chat_id": "PNOSUCHCHT"}),
            "not_found",
        ),
        (
            "get_chat",
            json!({"chat_id": "PJ0MRSHTDG"}),
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QX2B7N4K8P"}),
            "not_found",
        ),
        (
            "list_archives",
            json!({"filters": {"query": "refund"}}),
            json!({"filters": {"thread_ids": ["K600PKZON8"], "query": "refund"}}),
            "validation",
        ),
        (
            "start_chat",
            json!({"chat": {"users": [{"id": THOMAS, "type": "customer"}]}}),
            json!({"chat": {"users": [{"id": "ghost@example.com", "type": "agent"}]}}),
            "not_found",
        ),
        (
            "resume_chat",
            json!({"chat": {"id": "PB4DF8GH2J"}}),
            json!({"chat": {"id": "PJ0MRSHTDG"}}),
            "validation",
        ),
        (
            "deactivate_chat",
            json!({"id": "PJ0MRSHTDG"}),
            json!({"id": "PZ5N8B1C4X", "ignore_requester_presence": true}),
            "chat_inactive",
        ),
        (
            "follow_chat",
            json!({"id": "PT9XK2L4MN"}),
            json!({"id": "PNOSUCHCHT"}),
            "not_found",
        ),
        (
            "unfollow_chat",
            json!({"id": "PT9XK2L4MN"}),
            json!({"id": "PNOSUCHCHT"}),
            "not_found",
        ),
        (
            "list_agents_for_transfer",
            json!({"chat_id": "PJ0MRSHTDG"}),
            json!({"chat_id": "PNOSUCHCHT"}),
            "not_found",
        ),
        (
            "transfer_chat",
            json!({"id": "PJ0MRSHTDG", "target": {"type": "group", "ids": [19]}}),
            json!({"id": "PJ0MRSHTDG", "target": {"type": "agent", "ids": ["ghost@example.com"]}}),
            "not_found",
        ),
        (
            "add_user_to_chat",
            json!({"chat_id": "PJ0MRSHTDG", "user_id": "smith@example.com", "user_type": "agent", "visibility": "all"}),
            json!({"chat_id": "PB4DF8GH2J", "user_id": "smith@example.com", "user_type": "agent", "visibility": "all"}),
            "chat_inactive",
        ),
        (
            "remove_user_from_chat",
            json!({"chat_id": "PB4DF8GH2J", "user_id": "lee@example.com", "user_type": "agent"}),
            json!({"chat_id": "PJ0MRSHTDG", "user_id": THOMAS, "user_type": "customer"}),
            "validation",
        ),
        (
            "send_event",
            json!({"chat_id": "PJ0MRSHTDG", "event": msg}),
            json!({"chat_id": "PB4DF8GH2J", "event": msg}),
            "chat_inactive",
        ),
        (
            "send_rich_message_postback",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event_id": "K600PKZON8_1", "postback": {"id": "action_no", "toggled": true}}),
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event_id": "K600PKZON8_2", "postback": {"id": "action_no", "toggled": true}}),
            "validation",
        ),
        (
            "send_event_preview",
            json!({"chat_id": "PJ0MRSHTDG", "event": msg}),
            json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "file", "url": "https://example.com/a.png"}}),
            "validation",
        ),
        (
            "mark_events_as_seen",
            json!({"chat_id": "PJ0MRSHTDG", "seen_up_to": "2026-03-02T09:20:00.000000Z"}),
            json!({"chat_id": "PJ0MRSHTDG", "seen_up_to": "yesterday"}),
            "validation",
        ),
        (
            "send_typing_indicator",
            json!({"chat_id": "PJ0MRSHTDG", "is_typing": true}),
            json!({"chat_id": "PB4DF8GH2J", "is_typing": true}),
            "chat_inactive",
        ),
        (
            "send_thinking_indicator",
            json!({"chat_id": "PJ0MRSHTDG", "title": "Thinking..."}),
            json!({"chat_id": "PT9XK2L4MN", "title": "Thinking..."}),
            "missing_access",
        ),
        (
            "request_thread_summary",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QNOSUCHTHR"}),
            "not_found",
        ),
        (
            "upload_file",
            json!({"file": {"filename": "notes.txt", "content_type": "text/plain", "data": "Refund approved"}}),
            json!({"file": {"filename": "setup.exe", "content_type": "application/octet-stream", "data": "x"}}),
            "validation",
        ),
        (
            "update_chat_properties",
            json!({"id": "PJ0MRSHTDG", "properties": {"routing": {"pinned": true}}}),
            json!({"id": "PJ0MRSHTDG", "properties": {"routing": {"unassigned": true}}}),
            "validation",
        ),
        (
            "delete_chat_properties",
            json!({"id": "PJ0MRSHTDG", "properties": {"routing": ["pinned"]}}),
            json!({"id": "PNOSUCHCHT", "properties": {"routing": ["pinned"]}}),
            "not_found",
        ),
        (
            "update_thread_properties",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "properties": {NS: {"topic": "shipping"}}}),
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QA37PVJ75B", "properties": {NS: {"topic": "shipping"}}}),
            "not_found",
        ),
        (
            "delete_thread_properties",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "properties": {NS: ["topic"]}}),
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "properties": {NS: ["no_such_property"]}}),
            "validation",
        ),
        (
            "update_event_properties",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event_id": "K600PKZON8_2", "properties": {NS: {"ticket": "T-1"}}}),
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event_id": "K600PKZON8_2", "properties": {NS: {"ticket": 5}}}),
            "validation",
        ),
        (
            "delete_event_properties",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event_id": "K600PKZON8_2", "properties": {NS: ["ticket"]}}),
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event_id": "K600PKZON8_99", "properties": {NS: ["ticket"]}}),
            "not_found",
        ),
        (
            "tag_thread",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "tag": "sales"}),
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "tag": "Billing"}),
            "validation",
        ),
        (
            "untag_thread",
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "tag": "support"}),
            json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QNOSUCHTHR", "tag": "support"}),
            "not_found",
        ),
        (
            "get_customer",
            json!({"id": THOMAS}),
            json!({"id": "00000000-0000-4000-8000-000000000000"}),
            "not_found",
        ),
        (
            "update_customer",
            json!({"id": THOMAS, "name": "Tom Anderson"}),
            json!({"id": "not-a-uuid"}),
            "validation",
        ),
        (
            "ban_customer",
            json!({"id": THOMAS, "ban": {"days": 3}}),
            json!({"id": THOMAS}),
            "validation",
        ),
        (
            "list_customer_bans",
            json!({}),
            json!({"limit": 5}),
            "validation",
        ),
        (
            "unban_customer",
            json!({"ip": "192.0.2.200"}),
            json!({"customer_id": THOMAS}),
            "not_found",
        ),
        (
            "list_customers",
            json!({"filters": {"include_customers_without_chats": true}}),
            json!({"limit": 0}),
            "validation",
        ),
        (
            "create_customer",
            json!({"name": "Ann Lee", "email": "ann@example.com"}),
            json!({"email": "not-an-email"}),
            "validation",
        ),
        (
            "multicast",
            json!({"recipients": {"agents": {"all": true}}, "content": {"kind": "alert"}}),
            json!({"recipients": {"agents": {}}, "content": {"kind": "alert"}}),
            "validation",
        ),
        (
            "set_routing_status",
            json!({"status": "not_accepting_chats"}),
            json!({"status": "offline"}),
            "validation",
        ),
        (
            "list_routing_statuses",
            json!({}),
            json!({"filters": {"group_ids": "0"}}),
            "validation",
        ),
        (
            "create_agent",
            json!({"id": "new@example.com", "name": "New Agent"}),
            json!({"id": "smith@example.com", "name": "Agent Smith"}),
            "already_exists",
        ),
        (
            "get_agent",
            json!({"id": "smith@example.com"}),
            json!({"id": "ghost@example.com"}),
            "not_found",
        ),
        (
            "list_agents",
            json!({}),
            json!({"fields": ["password"]}),
            "validation",
        ),
        (
            "update_agent",
            json!({"id": "jones@example.com", "job_title": "Lead"}),
            json!({"id": "ghost@example.com"}),
            "not_found",
        ),
        (
            "delete_agent",
            json!({"id": "jones@example.com"}),
            json!({"id": "agent@sandbox.test"}),
            "validation",
        ),
        (
            "create_bot",
            json!({"name": "Helper", "owner_client_id": NS}),
            json!({"name": "Helper", "owner_client_id": NS, "max_chats_count": 501}),
            "validation",
        ),
        (
            "get_bot",
            json!({"id": BOT}),
            json!({"id": "smith@example.com"}),
            "not_found",
        ),
        (
            "list_bots",
            json!({"all": true}),
            json!({"fields": ["secret"]}),
            "validation",
        ),
        (
            "update_bot",
            json!({"id": BOT, "name": "Helper"}),
            json!({"id": "nosuchbot"}),
            "not_found",
        ),
        (
            "delete_bot",
            json!({"id": BOT}),
            json!({"id": "smith@example.com"}),
            "not_found",
        ),
        (
            "reset_bot_secret",
            json!({"id": BOT, "owner_client_id": NS}),
            json!({"id": BOT, "owner_client_id": "another-client"}),
            "validation",
        ),
        (
            "issue_bot_token",
            json!({"bot_id": BOT, "bot_secret": SECRET, "organization_id": ORG, "client_id": NS}),
            json!({"bot_id": BOT, "bot_secret": "0000", "organization_id": ORG, "client_id": NS}),
            "validation",
        ),
        (
            "suspend_agent",
            json!({"id": "jones@example.com"}),
            json!({"id": "agent@sandbox.test"}),
            "validation",
        ),
        (
            "unsuspend_agent",
            json!({"id": "jones@example.com"}),
            json!({"id": "ghost@example.com"}),
            "not_found",
        ),
        (
            "create_group",
            json!({"name": "VIP", "agent_priorities": {"smith@example.com": "normal"}}),
            json!({"name": "VIP"}),
            "validation",
        ),
        (
            "update_group",
            json!({"id": 19, "name": "Shoes"}),
            json!({"id": 42}),
            "not_found",
        ),
        (
            "delete_group",
            json!({"id": 19}),
            json!({"id": 0}),
            "validation",
        ),
        (
            "list_groups",
            json!({}),
            json!({"fields": ["agents"]}),
            "validation",
        ),
        (
            "get_group",
            json!({"id": 1}),
            json!({"id": 42}),
            "not_found",
        ),
        (
            "register_property",
            json!({"name": "vip", "owner_client_id": NS, "type": "bool", "access": {"chat": {"agent": ["read", "write"]}}}),
            json!({"name": "string_property", "owner_client_id": NS, "type": "string", "access": {"chat": {"agent": ["read"]}}}),
            "already_exists",
        ),
        (
            "publish_property",
            json!({"name": "draft_note", "owner_client_id": NS, "access_type": ["read", "write"]}),
            json!({"name": "ghost", "owner_client_id": NS, "access_type": ["read"]}),
            "not_found",
        ),
        (
            "list_properties",
            json!({"owner_client_id": NS}),
            json!({}),
            "validation",
        ),
        (
            "unregister_property",
            json!({"name": "draft_note", "owner_client_id": NS}),
            json!({"name": "string_property", "owner_client_id": NS}),
            "validation",
        ),
        (
            "list_license_properties",
            json!({"name_prefix": "ban"}),
            json!({"namespace": 7}),
            "validation",
        ),
        (
            "list_groups_properties",
            json!({"group_ids": [0, 1]}),
            json!({"group_ids": [42]}),
            "group_not_found",
        ),
        (
            "create_tag",
            json!({"name": "Billing"}),
            json!({"name": "Support"}),
            "already_exists",
        ),
        (
            "delete_tag",
            json!({"name": "spam"}),
            json!({"name": "Spam"}),
            "not_found",
        ),
        ("list_tags", json!({}), json!({"filters": {}}), "validation"),
        (
            "update_tag",
            json!({"name": "support", "group_ids": [0, 1]}),
            json!({"name": "support", "group_ids": [42]}),
            "group_not_found",
        ),
        (
            "register_webhook",
            json!({"action": "chat_deactivated", "secret_key": "s3cr3t", "url": "https://example.com/hook", "owner_client_id": NS, "type": "license"}),
            json!({"action": "chat_exploded", "secret_key": "s3cr3t", "url": "https://example.com/hook", "owner_client_id": NS, "type": "license"}),
            "validation",
        ),
        (
            "list_webhooks",
            json!({"owner_client_id": NS}),
            json!({}),
            "validation",
        ),
        (
            "unregister_webhook",
            json!({"id": "pqi8oasdjahuakndw9nsad9na", "owner_client_id": NS}),
            json!({"id": "nosuchwebhook", "owner_client_id": NS}),
            "not_found",
        ),
        (
            "list_webhook_names",
            json!({"version": "3.5"}),
            json!({"version": "2.0"}),
            "validation",
        ),
        (
            "get_license_webhooks_state",
            json!({"owner_client_id": NS}),
            json!({}),
            "validation",
        ),
        (
            "enable_license_webhooks",
            json!({"owner_client_id": NS}),
            json!({"owner_client_id": 7}),
            "validation",
        ),
        (
            "disable_license_webhooks",
            json!({"owner_client_id": NS}),
            json!({}),
            "validation",
        ),
    ]
}

#[test]
fn every_method_succeeds_and_fails_like_livechat_in_both_versions() {
    let cases = cases();
    assert_eq!(cases.len(), METHODS.len(), "one case per method");
    for m in METHODS {
        assert!(
            cases.iter().any(|c| c.0 == m.name),
            "no case for {}",
            m.name
        );
    }
    for (method, good, bad, kind) in cases {
        for v in [V35, V36] {
            let exists =
                crate::sandbox::methods::find(method).is_some_and(|m| m.versions.contains(&v));
            let mut st = sandbox();
            match call(&mut st, v, method, good.clone()) {
                Ok(_) if exists => {}
                Err(e) if !exists => assert_eq!(e.kind, "not_found", "{method} v{v}: {e}"),
                other => panic!("{method} v{v}: {other:?}"),
            }
            if !exists {
                continue;
            }
            let mut st = sandbox();
            match call(&mut st, v, method, bad.clone()) {
                Err(e) => assert_eq!(e.kind, kind, "{method} v{v}: {e}"),
                Ok(value) => panic!("{method} v{v} should fail with {kind}: {value}"),
            }
        }
    }
}

#[test]
fn every_method_needs_a_scope() {
    for (method, good, _, _) in cases() {
        // `issue_bot_token` needs no scope: the bot's secret is the credential.
        if method == "issue_bot_token" {
            continue;
        }
        if method == "list_webhook_names" {
            // LiveChat serves it without authorization.
            assert!(call(&mut with_scopes(""), V36, method, good).is_ok());
            continue;
        }
        let mut st = with_scopes("");
        // LiveChat's docs name no scope for these: any token may call them.
        if ["unfollow_chat", "list_agents_for_transfer", "upload_file"].contains(&method) {
            assert!(call(&mut st, V36, method, good).is_ok(), "{method}");
            continue;
        }
        // In a version the method exists in (`list_customers` is v3.5 only).
        let v = crate::sandbox::methods::find(method)
            .filter(|m| !m.versions.contains(&V36))
            .map_or(V36, |m| m.versions[0]);
        let e = call(&mut st, v, method, good).unwrap_err();
        assert_eq!(e.kind, "authorization", "{method}: {e}");
        assert!(e.message.contains("Insufficient scopes"), "{method}: {e}");
    }
}

#[test]
fn a_failed_call_changes_nothing() {
    let mut st = sandbox();
    let before = serde_json::to_value(st.snapshot()).unwrap();
    for (method, _, bad, _) in cases() {
        let _ = call(&mut st, V36, method, bad);
    }
    assert_eq!(serde_json::to_value(st.snapshot()).unwrap(), before);
}

#[test]
fn the_summary_describes_the_license() {
    assert_eq!(
        sandbox().summary(),
        "sandbox license: 5 agents (1 bot), 3 groups, 6 tags, 11 properties, 6 customers, 5 chats (2 active, 7 threads), 1 webhook; requester agent@sandbox.test with all scopes"
    );
}
