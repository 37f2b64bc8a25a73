//! Configuration API: agents, groups, tags and webhooks.

use serde_json::json;

use super::{V35, fails, fails_in, ok, ok_in, sandbox};

const NS: &str = "0805e283233042b37f460ed8fbf22160";

#[test]
fn agents_are_created_read_listed_updated_and_deleted() {
    let mut st = sandbox();
    let created = ok(
        &mut st,
        "create_agent",
        json!({"id": "new@example.com", "name": "Nina New", "role": "administrator", "max_chats_count": 8,
               "groups": [{"id": 19, "priority": "first"}], "job_title": "Trainee"}),
    );
    assert_eq!(created, json!({"id": "new@example.com"}));
    let agent = ok(
        &mut st,
        "get_agent",
        json!({"id": "new@example.com", "fields": ["groups", "max_chats_count", "job_title", "awaiting_approval"]}),
    );
    assert_eq!(agent["name"], "Nina New");
    assert_eq!(agent["role"], "administrator");
    assert_eq!(agent["login_status"], "not accepting chats");
    assert_eq!(
        agent["groups"],
        json!([{"id": 0, "priority": "normal"}, {"id": 19, "priority": "first"}])
    );
    assert_eq!(agent["max_chats_count"], 8);
    assert_eq!(agent["awaiting_approval"], false);
    assert!(super::super::ids::is_uuid(
        agent["account_id"].as_str().unwrap()
    ));
    fails(
        &mut st,
        "create_agent",
        json!({"id": "new@example.com", "name": "Again"}),
        "already_exists",
    );

    let listed = ok(&mut st, "list_agents", json!({}));
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "agent@sandbox.test",
            "smith@example.com",
            "jones@example.com",
            "lee@example.com",
            "new@example.com"
        ]
    );
    let sport = ok(
        &mut st,
        "list_agents",
        json!({"filters": {"group_ids": [19]}}),
    );
    assert_eq!(sport.as_array().unwrap().len(), 3);

    ok(
        &mut st,
        "update_agent",
        json!({"id": "new@example.com", "role": "normal", "groups": [{"id": 1, "priority": "last"}], "login_status": "accepting chats"}),
    );
    let agent = ok(
        &mut st,
        "get_agent",
        json!({"id": "new@example.com", "fields": ["groups"]}),
    );
    assert_eq!(agent["groups"], json!([{"id": 1, "priority": "last"}]));
    assert_eq!(agent["role"], "normal");
    assert_eq!(agent["login_status"], "accepting chats");
    let group = ok(
        &mut st,
        "get_group",
        json!({"id": 1, "fields": ["agent_priorities"]}),
    );
    assert_eq!(group["agent_priorities"]["new@example.com"], "last");

    ok(&mut st, "delete_agent", json!({"id": "new@example.com"}));
    fails(
        &mut st,
        "get_agent",
        json!({"id": "new@example.com"}),
        "not_found",
    );
    fails(
        &mut st,
        "delete_agent",
        json!({"id": "new@example.com"}),
        "not_found",
    );
    let group = ok(
        &mut st,
        "get_group",
        json!({"id": 1, "fields": ["agent_priorities"]}),
    );
    assert!(group["agent_priorities"].get("new@example.com").is_none());
}

#[test]
fn agent_rules_and_versions() {
    let mut st = sandbox();
    for (body, field) in [
        (json!({"id": "not an email", "name": "X"}), "id"),
        (json!({"id": "x@example.com"}), "name"),
        (
            json!({"id": "x@example.com", "name": "X", "role": "owner"}),
            "role",
        ),
        (
            json!({"id": "x@example.com", "name": "X", "max_chats_count": 21}),
            "max_chats_count",
        ),
        (
            json!({"id": "x@example.com", "name": "X", "login_status": "busy"}),
            "login_status",
        ),
        (
            json!({"id": "x@example.com", "name": "X", "notifications": ["fireworks"]}),
            "notifications[0]",
        ),
        (
            json!({"id": "x@example.com", "name": "X", "groups": [{"id": 1, "priority": "top"}]}),
            "groups[0].priority",
        ),
        (
            json!({"id": "x@example.com", "name": "X", "work_scheduler": {"schedule": [{"day": "monday", "enabled": true, "start": "9", "end": "17:00"}], "timezone": "UTC"}}),
            "work_scheduler.schedule[0].start",
        ),
        (
            json!({"id": "x@example.com", "name": "X", "work_scheduler": {"schedule": [{"day": "monday", "enabled": true, "start": "09:00", "end": "17:00"}]}}),
            "work_scheduler.timezone",
        ),
    ] {
        let e = fails(&mut st, "create_agent", body, "validation");
        assert!(e.message.contains(&format!("`{field}`")), "{field}: {e}");
    }
    let e = fails(
        &mut st,
        "create_agent",
        json!({"id": "x@example.com", "name": "X", "groups": [{"id": 7, "priority": "normal"}]}),
        "group_not_found",
    );
    assert!(e.message.contains("`groups[0].id`"), "{e}");
    // v3.5 takes `avatar`, v3.6 does not; v3.6 `update_agent` has no `name`
    ok_in(
        &mut st,
        V35,
        "create_agent",
        json!({"id": "old@example.com", "name": "Old", "avatar": "https://example.com/a.png"}),
    );
    fails(
        &mut st,
        "create_agent",
        json!({"id": "y@example.com", "name": "Y", "avatar": "https://example.com/a.png"}),
        "validation",
    );
    ok_in(
        &mut st,
        V35,
        "update_agent",
        json!({"id": "old@example.com", "name": "Older"}),
    );
    let e = fails(
        &mut st,
        "update_agent",
        json!({"id": "old@example.com", "name": "Oldest"}),
        "validation",
    );
    assert!(e.message.contains("v3.5"), "{e}");
    let e = fails(
        &mut st,
        "update_agent",
        json!({"id": "agent@sandbox.test", "role": "normal"}),
        "validation",
    );
    assert!(e.message.contains("owner"), "{e}");
    fails(
        &mut st,
        "delete_agent",
        json!({"id": "agent@sandbox.test"}),
        "validation",
    );
    // bots are not agents for the Configuration API
    fails(
        &mut st,
        "get_agent",
        json!({"id": "5c9871d5372c824cbf22d860a707a578"}),
        "not_found",
    );
    fails(
        &mut st,
        "get_agent",
        json!({"id": "smith@example.com", "fields": ["password"]}),
        "validation",
    );
    fails(
        &mut st,
        "list_agents",
        json!({"filters": {"suspended": "no"}}),
        "validation",
    );
}

#[test]
fn groups_are_created_read_listed_updated_and_deleted() {
    let mut st = sandbox();
    let created = ok(
        &mut st,
        "create_group",
        json!({"name": "VIP", "language_code": "de", "agent_priorities": {"smith@example.com": "first", "5c9871d5372c824cbf22d860a707a578": "supervisor"}}),
    );
    assert_eq!(created, json!({"id": 20}));
    let group = ok(
        &mut st,
        "get_group",
        json!({"id": 20, "fields": ["agent_priorities", "routing_status"]}),
    );
    assert_eq!(
        group,
        json!({"id": 20, "name": "VIP", "language_code": "de", "agent_priorities": {"5c9871d5372c824cbf22d860a707a578": "supervisor", "smith@example.com": "first"}, "routing_status": "accepting_chats"})
    );
    let e = fails_in(
        &mut st,
        V35,
        "create_group",
        json!({"name": "VIP 2", "agent_priorities": {"smith@example.com": "first"}}),
        "validation",
    );
    assert!(e.message.contains("normal"), "{e}");
    ok_in(
        &mut st,
        V35,
        "create_group",
        json!({"name": "VIP 2", "agent_priorities": {"smith@example.com": "normal"}}),
    );

    ok(
        &mut st,
        "update_group",
        json!({"id": 20, "name": "Very Important", "agent_priorities": {"lee@example.com": "normal"}}),
    );
    let group = ok(
        &mut st,
        "get_group",
        json!({"id": 20, "fields": ["agent_priorities"]}),
    );
    assert_eq!(group["name"], "Very Important");
    assert_eq!(
        group["agent_priorities"],
        json!({"lee@example.com": "normal"})
    );
    assert_eq!(group["routing_status"], "offline");
    let list = ok(&mut st, "list_groups", json!({}));
    let ids: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [0, 1, 19, 20, 21]);
    assert!(list[0].get("agent_priorities").is_none());

    ok(&mut st, "delete_group", json!({"id": 19}));
    fails(&mut st, "get_group", json!({"id": 19}), "not_found");
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PWJ8Y4THAV"}));
    assert_eq!(chat["access"], json!({"group_ids": [0]}));
    let tags = ok(
        &mut st,
        "list_tags",
        json!({"filters": {"group_ids": [19]}}),
    );
    assert_eq!(tags, json!([]));

    fails(&mut st, "delete_group", json!({"id": 0}), "validation");
    fails(&mut st, "delete_group", json!({"id": 19}), "not_found");
    fails(&mut st, "update_group", json!({"id": "19"}), "validation");
    fails(
        &mut st,
        "create_group",
        json!({"name": "x".repeat(181), "agent_priorities": {}}),
        "validation",
    );
    fails(
        &mut st,
        "create_group",
        json!({"name": "Ghosts", "agent_priorities": {"ghost@example.com": "normal"}}),
        "not_found",
    );
    fails(
        &mut st,
        "create_group",
        json!({"name": "Ranks", "agent_priorities": {"smith@example.com": "boss"}}),
        "validation",
    );
}

#[test]
fn tags_are_created_listed_updated_and_deleted() {
    let mut st = sandbox();
    ok(
        &mut st,
        "create_tag",
        json!({"name": "Billing", "group_ids": [1]}),
    );
    let e = fails(
        &mut st,
        "create_tag",
        json!({"name": "billing"}),
        "already_exists",
    );
    assert!(e.message.contains("Billing"), "{e}");
    let listed = ok(&mut st, "list_tags", json!({"filters": {"group_ids": [1]}}));
    assert_eq!(
        listed,
        json!([
            {"name": "refund", "group_ids": [1], "author_id": "agent@sandbox.test", "created_at": "2026-01-09T12:01:18.909000Z"},
            {"name": "Billing", "group_ids": [1], "author_id": "agent@sandbox.test", "created_at": "2026-03-02T09:30:01.000000Z"}
        ])
    );
    assert_eq!(
        ok(&mut st, "list_tags", json!({}))
            .as_array()
            .unwrap()
            .len(),
        7
    );
    ok(
        &mut st,
        "update_tag",
        json!({"name": "Billing", "group_ids": [0, 1]}),
    );
    fails(
        &mut st,
        "update_tag",
        json!({"name": "billing", "group_ids": [0]}),
        "not_found",
    );
    fails(
        &mut st,
        "create_tag",
        json!({"name": "x", "group_ids": [42]}),
        "group_not_found",
    );
    ok(&mut st, "delete_tag", json!({"name": "Billing"}));
    fails(
        &mut st,
        "delete_tag",
        json!({"name": "Billing"}),
        "not_found",
    );
    fails(
        &mut st,
        "tag_thread",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "tag": "Billing"}),
        "validation",
    );
    let e = fails(&mut st, "list_tags", json!({"filters": {}}), "validation");
    assert!(e.message.contains("`filters.group_ids`"), "{e}");
    fails(&mut st, "create_tag", json!({"name": ""}), "validation");
}

#[test]
fn webhooks_are_registered_listed_and_unregistered() {
    let mut st = sandbox();
    let hook = json!({"action": "incoming_event", "secret_key": "k", "url": "https://example.com/in", "owner_client_id": NS, "type": "license",
                      "filters": {"author_type": "customer", "chat_presence": {"user_ids": {"values": ["smith@example.com"]}}}, "additional_data": ["chat_properties"]});
    let registered = ok(&mut st, "register_webhook", hook.clone());
    let id = registered["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 25);
    let listed = ok(&mut st, "list_webhooks", json!({"owner_client_id": NS}));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[1]["id"], id.as_str());
    assert_eq!(listed[1]["filters"]["author_type"], "customer");
    assert!(listed[1].get("secret_key").is_none());
    assert_eq!(
        ok(
            &mut st,
            "list_webhooks",
            json!({"owner_client_id": "other"})
        ),
        json!([])
    );

    ok(&mut st, "register_webhook", hook.clone());
    ok(&mut st, "register_webhook", hook.clone());
    let e = fails(&mut st, "register_webhook", hook.clone(), "limit_reached");
    assert!(e.message.contains("3"), "{e}");

    let mut bad = hook.clone();
    bad["action"] = json!("chat_deactivated");
    let e = fails(&mut st, "register_webhook", bad, "validation");
    assert!(e.message.contains("author_type"), "{e}");
    let mut bad = hook.clone();
    bad["filters"] =
        json!({"chat_presence": {"user_ids": {"values": ["a"], "exclude_values": ["b"]}}});
    fails(&mut st, "register_webhook", bad, "validation");
    let mut bad = hook.clone();
    bad["type"] = json!("personal");
    fails(&mut st, "register_webhook", bad, "validation");
    let mut v36_only = hook.clone();
    v36_only["action"] = json!("thread_summary_set");
    v36_only["filters"] = json!({});
    fails_in(
        &mut st,
        V35,
        "register_webhook",
        v36_only.clone(),
        "validation",
    );
    ok(&mut st, "register_webhook", v36_only);

    ok(
        &mut st,
        "unregister_webhook",
        json!({"id": id, "owner_client_id": NS}),
    );
    fails(
        &mut st,
        "unregister_webhook",
        json!({"id": id, "owner_client_id": NS}),
        "not_found",
    );
    fails(
        &mut st,
        "unregister_webhook",
        json!({"id": "pqi8oasdjahuakndw9nsad9na", "owner_client_id": "someone-else"}),
        "not_found",
    );
}

#[test]
fn a_suspended_agent_shows_as_suspended_and_gets_no_chats_until_unsuspended() {
    let mut st = sandbox();
    let suspended = |st: &mut crate::sandbox::state::State| {
        ok(
            st,
            "get_agent",
            json!({"id": "smith@example.com", "fields": ["suspended"]}),
        )["suspended"]
            .clone()
    };
    assert_eq!(suspended(&mut st), false);
    assert_eq!(
        ok(&mut st, "suspend_agent", json!({"id": "smith@example.com"})),
        json!({})
    );
    assert_eq!(suspended(&mut st), true);
    // A second call changes nothing and is not an error.
    ok(&mut st, "suspend_agent", json!({"id": "smith@example.com"}));
    let listed = ok(
        &mut st,
        "list_agents",
        json!({"filters": {"suspended": true}}),
    );
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["smith@example.com"]);
    // Routing skips them: group 19's other agent gets the chat, and they cannot be named.
    ok(
        &mut st,
        "transfer_chat",
        json!({"id": "PJ0MRSHTDG", "target": {"type": "group", "ids": [19]}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    let present: Vec<&str> = chat["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["type"] == "agent" && u["present"] == true)
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(present, ["jones@example.com"]);
    let e = fails(
        &mut st,
        "transfer_chat",
        json!({"id": "PT9XK2L4MN", "target": {"type": "agent", "ids": ["smith@example.com"]},
               "ignore_agents_availability": true, "ignore_requester_presence": true}),
        "agent_offline",
    );
    assert!(e.message.contains("suspended"), "{e}");
    let statuses = ok(&mut st, "list_routing_statuses", json!({}));
    assert!(
        !statuses.to_string().contains("smith@example.com"),
        "{statuses}"
    );

    ok(
        &mut st,
        "unsuspend_agent",
        json!({"id": "smith@example.com"}),
    );
    assert_eq!(suspended(&mut st), false);
    ok(
        &mut st,
        "unsuspend_agent",
        json!({"id": "smith@example.com"}),
    );
}

#[test]
fn suspension_needs_a_human_agent_other_than_the_owner() {
    let mut st = sandbox();
    for method in ["suspend_agent", "unsuspend_agent"] {
        fails(
            &mut st,
            method,
            json!({"id": "nobody@example.com"}),
            "not_found",
        );
        fails(
            &mut st,
            method,
            json!({"id": "5c9871d5372c824cbf22d860a707a578"}),
            "not_found",
        );
        fails(&mut st, method, json!({}), "validation");
    }
    let e = fails(
        &mut st,
        "suspend_agent",
        json!({"id": "agent@sandbox.test"}),
        "validation",
    );
    assert!(e.message.contains("owner"), "{e}");
}

#[test]
fn webhook_names_list_each_versions_actions_with_their_filters() {
    let mut st = sandbox();
    let find = |names: &serde_json::Value, action: &str| {
        names
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["action"] == action)
            .cloned()
    };
    let v36 = ok(&mut st, "list_webhook_names", json!({}));
    assert_eq!(
        v36,
        ok(&mut st, "list_webhook_names", json!({"version": "3.6"}))
    );
    let v35 = ok_in(
        &mut st,
        V35,
        "list_webhook_names",
        json!({"version": "3.5"}),
    );
    assert!(find(&v36, "thread_summary_set").is_some());
    assert!(find(&v36, "incoming_customer").is_none());
    assert!(find(&v35, "incoming_customer").is_some());
    assert!(find(&v35, "event_deleted").is_none());
    assert_eq!(
        find(&v36, "incoming_event").unwrap()["filters"],
        json!([
            "author_type",
            "chat_presence",
            "only_my_chats",
            "source_type"
        ])
    );
    assert_eq!(
        find(&v36, "routing_status_set").unwrap()["filters"],
        json!(["agent_ids", "source_type"])
    );
    let deleted = find(&v36, "agent_deleted").unwrap();
    assert_eq!(deleted["filters"], json!(["source_type"]));
    assert!(deleted.get("additional_data").is_none(), "{deleted}");
    assert_eq!(
        find(&v36, "chat_access_updated").unwrap(),
        json!({"action": "chat_access_updated", "filters": ["chat_presence", "only_my_chats", "source_type"],
               "additional_data": ["chat_properties", "chat_presence_user_ids"]})
    );
    let e = fails(
        &mut st,
        "list_webhook_names",
        json!({"version": "9.9"}),
        "validation",
    );
    assert!(e.message.contains("`version`"), "{e}");
}

#[test]
fn license_webhooks_are_switched_off_and_on_per_client() {
    let mut st = sandbox();
    let state = |st: &mut crate::sandbox::state::State, client: &str| {
        ok(
            st,
            "get_license_webhooks_state",
            json!({"owner_client_id": client}),
        )
    };
    assert_eq!(
        state(&mut st, NS),
        json!({"license_webhooks_enabled": true})
    );
    for _ in 0..2 {
        assert_eq!(
            ok(
                &mut st,
                "disable_license_webhooks",
                json!({"owner_client_id": NS})
            ),
            json!({})
        );
        assert_eq!(
            state(&mut st, NS),
            json!({"license_webhooks_enabled": false})
        );
    }
    // Another app's webhooks are untouched, and the registered webhooks stay registered.
    assert_eq!(
        state(&mut st, "someone-else"),
        json!({"license_webhooks_enabled": true})
    );
    assert!(
        !ok(&mut st, "list_webhooks", json!({"owner_client_id": NS}))
            .as_array()
            .unwrap()
            .is_empty()
    );
    let saved = serde_json::to_value(st.snapshot()).unwrap();
    assert_eq!(saved["license_webhooks_disabled"], json!([NS]));
    for _ in 0..2 {
        ok(
            &mut st,
            "enable_license_webhooks",
            json!({"owner_client_id": NS}),
        );
        assert_eq!(
            state(&mut st, NS),
            json!({"license_webhooks_enabled": true})
        );
    }
    for method in [
        "get_license_webhooks_state",
        "enable_license_webhooks",
        "disable_license_webhooks",
    ] {
        let e = fails(&mut st, method, json!({}), "validation");
        assert!(e.message.contains("owner_client_id"), "{method}: {e}");
    }
}
