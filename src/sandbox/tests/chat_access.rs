//! Chat access: transfers, adding and removing users.

use serde_json::{Value, json};

use super::{fails, last_event, ok, sandbox};

const THOMAS: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";

fn present_agents(chat: &Value) -> Vec<String> {
    chat["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["type"] == "agent" && u["present"] == true)
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn transfer_to_a_group_moves_access_and_assigns_an_available_agent() {
    let mut st = sandbox();
    ok(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "group", "ids": [19]}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(chat["access"], json!({"group_ids": [19]}));
    assert_eq!(chat["thread"]["access"], json!({"group_ids": [19]}));
    assert_eq!(present_agents(&chat), ["smith@example.com"]);
    let last = last_event(&chat);
    assert_eq!(last["system_message_type"], "chat_transferred");
    assert_eq!(
        last["text"],
        "Sam Sandbox transferred the chat to Sport shoes"
    );
    // the requester left the chat with the transfer
    let e = fails(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "hi"}}),
        "missing_access",
    );
    assert!(e.message.contains("add_user_to_chat"), "{e}");
}

#[test]
fn transfer_to_an_agent_checks_the_agent() {
    let mut st = sandbox();
    fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "agent", "ids": ["ghost@example.com"]}}),
        "not_found",
    );
    fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "group", "ids": [42]}}),
        "not_found",
    );
    let e = fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "agent", "ids": ["lee@example.com"]}}),
        "agent_offline",
    );
    assert!(e.message.contains("ignore_agents_availability"), "{e}");
    fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "team", "ids": [1]}}),
        "validation",
    );
    fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "agent", "ids": []}}),
        "validation",
    );
    fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "agent"}}),
        "validation",
    );
    fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PB4DF8GH2J", "target": {"type": "group", "ids": [0]}}),
        "chat_inactive",
    );
    fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PT9XK2L4MN", "target": {"type": "group", "ids": [0]}}),
        "missing_access",
    );

    ok(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "agent", "ids": ["jones@example.com"]}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(present_agents(&chat), ["jones@example.com"]);
    assert_eq!(chat["access"], json!({"group_ids": [0]}));
    assert!(
        chat["thread"]["user_ids"]
            .as_array()
            .unwrap()
            .contains(&json!("jones@example.com"))
    );
}

#[test]
fn transfer_without_target_stays_in_the_groups_and_can_queue() {
    let mut st = sandbox();
    ok(&mut st, "transfer_chat", json!({"id": "PJ0MRSHTDG"}));
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(present_agents(&chat), ["jones@example.com"]);

    let mut st = sandbox();
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "not_accepting_chats", "agent_id": "smith@example.com"}),
    );
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "not_accepting_chats", "agent_id": "jones@example.com"}),
    );
    fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "group", "ids": [19]}}),
        "agent_offline",
    );
    ok(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "group", "ids": [19]}, "ignore_agents_availability": true}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert!(present_agents(&chat).is_empty(), "queued: {chat}");
}

#[test]
fn add_user_to_chat_adds_agents_and_customers() {
    let mut st = sandbox();
    ok(
        &mut st,
        "add_user_to_chat",
        json!({"chat_id": "PJ0MRSHTDG", "user_id": "jones@example.com", "user_type": "agent", "visibility": "agents"}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(
        present_agents(&chat),
        ["agent@sandbox.test", "jones@example.com"]
    );
    let jones = chat["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "jones@example.com")
        .unwrap()
        .clone();
    assert_eq!(jones["visibility"], "agents");
    let last = last_event(&chat);
    assert_eq!(last["text"], "Sam Sandbox added Agent Jones to the chat");

    // the requester joins a chat they are not in
    ok(
        &mut st,
        "add_user_to_chat",
        json!({"chat_id": "PT9XK2L4MN", "user_id": "agent@sandbox.test", "user_type": "agent", "visibility": "all"}),
    );
    ok(
        &mut st,
        "send_event",
        json!({"chat_id": "PT9XK2L4MN", "event": {"type": "message", "text": "Hi Li, I'm joining."}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PT9XK2L4MN"}));
    let types: Vec<&str> = chat["thread"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["message", "message", "system_message", "message"]);
    assert_eq!(
        chat["thread"]["events"][2]["system_message_type"],
        "agent_joined"
    );
}

#[test]
fn add_user_to_chat_enforces_the_rules() {
    let mut st = sandbox();
    let add = |chat: &str, user: &str, kind: &str, visibility: &str| json!({"chat_id": chat, "user_id": user, "user_type": kind, "visibility": visibility});
    fails(
        &mut st,
        "add_user_to_chat",
        add("PJ0MRSHTDG", "ghost@example.com", "agent", "all"),
        "not_found",
    );
    fails(
        &mut st,
        "add_user_to_chat",
        add("PJ0MRSHTDG", "smith@example.com", "bot", "all"),
        "validation",
    );
    fails(
        &mut st,
        "add_user_to_chat",
        add("PJ0MRSHTDG", "smith@example.com", "agent", "some"),
        "validation",
    );
    let e = fails(
        &mut st,
        "add_user_to_chat",
        add(
            "PJ0MRSHTDG",
            "7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d",
            "customer",
            "all",
        ),
        "validation",
    );
    assert!(e.message.contains("one"), "{e}");
    fails(
        &mut st,
        "add_user_to_chat",
        add("PJ0MRSHTDG", THOMAS, "customer", "agents"),
        "validation",
    );
    fails(
        &mut st,
        "add_user_to_chat",
        add("PB4DF8GH2J", "smith@example.com", "agent", "all"),
        "chat_inactive",
    );
    fails(
        &mut st,
        "add_user_to_chat",
        add("PT9XK2L4MN", "smith@example.com", "agent", "all"),
        "missing_access",
    );
    let mut body = add("PT9XK2L4MN", "smith@example.com", "agent", "all");
    body["ignore_requester_presence"] = json!(true);
    ok(&mut st, "add_user_to_chat", body);
    // Agent Jones is not in group 1, where PB4DF8GH2J lives, once it is active again
    ok(
        &mut st,
        "resume_chat",
        json!({"chat": {"id": "PB4DF8GH2J"}}),
    );
    fails(
        &mut st,
        "add_user_to_chat",
        add("PB4DF8GH2J", "jones@example.com", "agent", "all"),
        "missing_access",
    );
    fails(
        &mut st,
        "add_user_to_chat",
        json!({"chat_id": "PJ0MRSHTDG", "user_id": "jones@example.com", "user_type": "agent"}),
        "validation",
    );
}

#[test]
fn remove_user_from_chat_marks_the_agent_absent() {
    let mut st = sandbox();
    ok(
        &mut st,
        "add_user_to_chat",
        json!({"chat_id": "PJ0MRSHTDG", "user_id": "smith@example.com", "user_type": "agent", "visibility": "all"}),
    );
    ok(
        &mut st,
        "remove_user_from_chat",
        json!({"chat_id": "PJ0MRSHTDG", "user_id": "smith@example.com", "user_type": "agent"}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(present_agents(&chat), ["agent@sandbox.test"]);
    let last = last_event(&chat);
    assert_eq!(last["system_message_type"], "agent_removed");
    let e = fails(
        &mut st,
        "remove_user_from_chat",
        json!({"chat_id": "PJ0MRSHTDG", "user_id": "smith@example.com", "user_type": "agent"}),
        "not_found",
    );
    assert!(e.message.contains("smith@example.com"), "{e}");
    let e = fails(
        &mut st,
        "remove_user_from_chat",
        json!({"chat_id": "PJ0MRSHTDG", "user_id": THOMAS, "user_type": "customer"}),
        "validation",
    );
    assert!(e.message.contains("customer"), "{e}");
    fails(
        &mut st,
        "remove_user_from_chat",
        json!({"chat_id": "PT9XK2L4MN", "user_id": "jones@example.com", "user_type": "agent"}),
        "missing_access",
    );
    ok(
        &mut st,
        "remove_user_from_chat",
        json!({"chat_id": "PT9XK2L4MN", "user_id": "jones@example.com", "user_type": "agent", "ignore_requester_presence": true}),
    );
    ok(
        &mut st,
        "remove_user_from_chat",
        json!({"chat_id": "PJ0MRSHTDG", "user_id": "agent@sandbox.test", "user_type": "agent"}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    let last = last_event(&chat);
    assert_eq!(last["text"], "Sam Sandbox left the chat");
}

fn transfer_list(st: &mut crate::sandbox::state::State, chat_id: &str) -> Value {
    ok(
        st,
        "list_agents_for_transfer",
        json!({ "chat_id": chat_id }),
    )
}

#[test]
fn list_agents_for_transfer_lists_online_agents_outside_the_chat_by_load() {
    let mut st = sandbox();
    // lee is offline, the bot is a bot, the requester is in the chat; jones has one active
    // chat with a customer, smith's only chat is over.
    assert_eq!(
        transfer_list(&mut st, "PJ0MRSHTDG"),
        json!([
            {"agent_id": "smith@example.com", "total_active_chats": 0},
            {"agent_id": "jones@example.com", "total_active_chats": 1},
        ])
    );
    assert_eq!(
        transfer_list(&mut st, "PT9XK2L4MN"),
        json!([
            {"agent_id": "smith@example.com", "total_active_chats": 0},
            {"agent_id": "agent@sandbox.test", "total_active_chats": 1},
        ])
    );
    // Only agents who can see the chat's groups.
    assert_eq!(
        transfer_list(&mut st, "PWJ8Y4THAV"),
        json!([{"agent_id": "jones@example.com", "total_active_chats": 1}])
    );
    // Not accepting chats is still online; offline is not.
    ok(
        &mut st,
        "set_routing_status",
        json!({"agent_id": "lee@example.com", "status": "not_accepting_chats"}),
    );
    let listed = transfer_list(&mut st, "PJ0MRSHTDG");
    assert_eq!(listed[0]["agent_id"], "lee@example.com", "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    fails(
        &mut st,
        "list_agents_for_transfer",
        json!({"chat_id": "PNOSUCHCHT"}),
        "not_found",
    );
    fails(&mut st, "list_agents_for_transfer", json!({}), "validation");
    // No scope needed, but `chats--access` reach still applies.
    let mut bare = super::with_scopes("");
    fails(
        &mut bare,
        "list_agents_for_transfer",
        json!({"chat_id": "PWJ8Y4THAV"}),
        "missing_access",
    );
}

#[test]
fn follow_and_unfollow_set_is_followed() {
    let mut st = sandbox();
    let followed = |st: &mut crate::sandbox::state::State, id: &str| {
        ok(st, "get_chat", json!({ "chat_id": id }))["is_followed"].clone()
    };
    assert_eq!(followed(&mut st, "PT9XK2L4MN"), false);
    assert_eq!(
        ok(&mut st, "follow_chat", json!({"id": "PT9XK2L4MN"})),
        json!({})
    );
    assert_eq!(followed(&mut st, "PT9XK2L4MN"), true);
    ok(&mut st, "follow_chat", json!({"id": "PT9XK2L4MN"}));
    assert_eq!(followed(&mut st, "PT9XK2L4MN"), true);
    ok(&mut st, "unfollow_chat", json!({"id": "PT9XK2L4MN"}));
    assert_eq!(followed(&mut st, "PT9XK2L4MN"), false);
    // Whoever resumes an archived chat follows it again, as whoever starts one does.
    ok(&mut st, "unfollow_chat", json!({"id": "PWJ8Y4THAV"}));
    assert_eq!(followed(&mut st, "PWJ8Y4THAV"), false);
    ok(
        &mut st,
        "resume_chat",
        json!({"chat": {"id": "PWJ8Y4THAV"}}),
    );
    assert_eq!(followed(&mut st, "PWJ8Y4THAV"), true);
    // A user of the chat gets its updates anyway: it stays followed.
    ok(&mut st, "follow_chat", json!({"id": "PJ0MRSHTDG"}));
    ok(&mut st, "unfollow_chat", json!({"id": "PJ0MRSHTDG"}));
    assert_eq!(followed(&mut st, "PJ0MRSHTDG"), true);
    fails(
        &mut st,
        "follow_chat",
        json!({"id": "PNOSUCHCHT"}),
        "not_found",
    );
    fails(
        &mut st,
        "follow_chat",
        json!({"chat_id": "PT9XK2L4MN"}),
        "validation",
    );
    // follow needs a chats scope, unfollow none.
    let mut bare = super::with_scopes("");
    fails(
        &mut bare,
        "follow_chat",
        json!({"id": "PT9XK2L4MN"}),
        "authorization",
    );
    ok(&mut bare, "unfollow_chat", json!({"id": "PT9XK2L4MN"}));
    let mut reach = super::with_scopes("chats--access:ro");
    fails(
        &mut reach,
        "follow_chat",
        json!({"id": "PWJ8Y4THAV"}),
        "missing_access",
    );
}
