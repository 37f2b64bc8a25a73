//! Narrowed scopes (`--sandbox-scopes`): `authorization` errors and `chats--access` reach.

use serde_json::{Value, json};

use super::{V35, fails, fails_in, ok, ok_in, with_scopes};

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

#[test]
fn methods_that_need_several_scopes_need_each_of_them() {
    // `list_routing_statuses`: `agents--all:ro` and `agents-bot--all:ro`.
    let mut st = with_scopes("agents--all:ro");
    let e = fails(&mut st, "list_routing_statuses", json!({}), "authorization");
    assert_eq!(
        e.data.as_ref().unwrap()["required_scopes"],
        json!(["agents-bot--all:ro"]),
        "only the missing set is named"
    );
    let mut st = with_scopes("agents--all:ro,agents-bot--all:ro");
    ok(&mut st, "list_routing_statuses", json!({}));

    // `delete_agent`: an agents scope and an accounts scope; another agent needs both `--all`.
    let lee = || json!({"id": "lee@example.com"});
    fails(
        &mut with_scopes("agents--all:rw"),
        "delete_agent",
        lee(),
        "authorization",
    );
    let e = fails(
        &mut with_scopes("agents--all:rw,accounts--my:rw"),
        "delete_agent",
        lee(),
        "authorization",
    );
    assert!(e.message.contains("`accounts--all:rw`"), "{e}");
    ok(
        &mut with_scopes("agents--all:rw,accounts--all:rw"),
        "delete_agent",
        lee(),
    );
}

#[test]
fn create_agent_follows_its_footnotes() {
    let new = |extra: Value| {
        let mut body = json!({"id": "new@example.com", "name": "New"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // `rw` does not contain `rc`: reading and modifying is not creating.
    fails(
        &mut with_scopes("accounts--all:rw"),
        "create_agent",
        new(json!({})),
        "authorization",
    );
    // Skipping approval needs `accounts--all:rw` and `subscription.lc:rw` together.
    let mut st = with_scopes("accounts--all:rc,subscription.lc:rw,agents--all:ro");
    let e = fails(
        &mut st,
        "create_agent",
        new(json!({"awaiting_approval": false})),
        "authorization",
    );
    assert!(e.message.contains("`accounts--all:rw`"), "{e}");
    ok(&mut st, "create_agent", new(json!({})));
    let agent = ok(
        &mut st,
        "get_agent",
        json!({"id": "new@example.com", "fields": ["awaiting_approval"]}),
    );
    assert_eq!(agent["awaiting_approval"], true);
    let mut st = with_scopes("accounts--all:rc,accounts--all:rw,subscription.lc:rw,agents--all:ro");
    ok(&mut st, "create_agent", new(json!({})));
    let agent = ok(
        &mut st,
        "get_agent",
        json!({"id": "new@example.com", "fields": ["awaiting_approval"]}),
    );
    assert_eq!(agent["awaiting_approval"], false);
}

#[test]
fn a_bot_s_routing_status_needs_a_bot_scope() {
    let bot = json!({"status": "offline", "agent_id": "5c9871d5372c824cbf22d860a707a578"});
    fails(
        &mut with_scopes("agents--all:rw"),
        "set_routing_status",
        bot.clone(),
        "authorization",
    );
    ok(
        &mut with_scopes("agents-bot--all:rw"),
        "set_routing_status",
        bot,
    );
    // `--all` contains `--my`: setting one's own status.
    ok(
        &mut with_scopes("agents--all:rw"),
        "set_routing_status",
        json!({"status": "accepting_chats"}),
    );
}

#[test]
fn suspension_and_license_webhooks_need_their_scopes() {
    // `suspend_agent` needs both scopes; `unsuspend_agent` three.
    let mut st = with_scopes("agents--all:rw");
    let e = fails(
        &mut st,
        "suspend_agent",
        json!({"id": "smith@example.com"}),
        "authorization",
    );
    assert!(e.message.contains("sessions--all:rw"), "{e}");
    let mut st = with_scopes("agents--all:rw,sessions--all:rw");
    ok(&mut st, "suspend_agent", json!({"id": "smith@example.com"}));
    let e = fails(
        &mut st,
        "unsuspend_agent",
        json!({"id": "smith@example.com"}),
        "authorization",
    );
    assert!(
        e.message.contains("accounts--all:rw") && e.message.contains("subscription.lc:rw"),
        "{e}"
    );
    // Reading the license webhooks state does not let one switch them; and no scope at all is
    // needed to list the webhook names.
    let client = json!({"owner_client_id": "0805e283233042b37f460ed8fbf22160"});
    let mut st = with_scopes("webhooks.state:ro");
    ok(&mut st, "get_license_webhooks_state", client.clone());
    fails(
        &mut st,
        "disable_license_webhooks",
        client.clone(),
        "authorization",
    );
    ok(&mut st, "list_webhook_names", json!({}));
    let mut st = with_scopes("webhooks.state:rw");
    ok(&mut st, "disable_license_webhooks", client.clone());
    ok(&mut st, "get_license_webhooks_state", client);
}

#[test]
fn customer_bans_need_the_banlist_scopes() {
    let mut st = with_scopes("banlist_read");
    ok(&mut st, "list_customer_bans", json!({}));
    let e = fails(
        &mut st,
        "unban_customer",
        json!({"ip": "192.0.2.200"}),
        "authorization",
    );
    assert!(e.message.contains("banlist_write"), "{e}");
    let mut st = with_scopes("customers.ban:rw,banlist_write");
    fails(&mut st, "list_customer_bans", json!({}), "authorization");
    ok(&mut st, "unban_customer", json!({"ip": "192.0.2.200"}));
}

#[test]
fn the_new_methods_need_their_documented_scopes() {
    // `--my` reaches the token's own namespace only, and the sandbox token's holds nothing.
    let mut st = with_scopes("properties.license.value--my:ro");
    assert_eq!(ok(&mut st, "list_license_properties", json!({})), json!({}));
    fails(
        &mut st,
        "list_groups_properties",
        json!({"group_ids": []}),
        "authorization",
    );
    let mut st = with_scopes("properties.license.value--all:ro,properties.group.value--all:ro");
    let values = ok(&mut st, "list_license_properties", json!({}));
    assert_eq!(
        values["0805e283233042b37f460ed8fbf22160"]["banner"],
        "Spring sale: 20% off"
    );
    ok(&mut st, "list_groups_properties", json!({"group_ids": [1]}));
    let owner = json!({"owner_client_id": "0805e283233042b37f460ed8fbf22160"});
    fails(&mut st, "list_properties", owner.clone(), "authorization");
    let mut st = with_scopes("properties.configuration:rw");
    ok(&mut st, "list_properties", owner);

    let mut st = with_scopes("multicast:rw,customers:ro");
    ok(
        &mut st,
        "multicast",
        json!({"recipients": {"agents": {"all": true}}, "content": {}}),
    );
    ok_in(&mut st, V35, "list_customers", json!({}));
    let e = fails_in(&mut st, V35, "create_customer", json!({}), "authorization");
    assert!(e.message.contains("customers:rw"), "{e}");
    let mut st = with_scopes("customers:ro");
    fails(
        &mut st,
        "multicast",
        json!({"recipients": {"agents": {"all": true}}, "content": {}}),
        "authorization",
    );
}
