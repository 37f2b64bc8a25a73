//! Properties on chats, threads and events; registering and publishing them; thread tags.

use serde_json::json;

use super::{fails, ok, sandbox};

const NS: &str = "0805e283233042b37f460ed8fbf22160";

#[test]
fn chat_thread_and_event_properties_round_trip() {
    let mut st = sandbox();
    ok(
        &mut st,
        "update_chat_properties",
        json!({"id": "PJ0MRSHTDG", "properties": {NS: {"string_property": "VIP", "int_property": 7}, "routing": {"pinned": true}}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(
        chat["properties"][NS],
        json!({"int_property": 7, "priority": "high", "source": "website", "string_property": "VIP"})
    );
    assert_eq!(chat["properties"]["routing"]["pinned"], true);
    ok(
        &mut st,
        "delete_chat_properties",
        json!({"id": "PJ0MRSHTDG", "properties": {NS: ["string_property", "int_property"], "routing": ["pinned"]}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(
        chat["properties"],
        json!({NS: {"priority": "high", "source": "website"}})
    );

    ok(
        &mut st,
        "update_thread_properties",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "properties": {NS: {"bool_property": true}}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(
        chat["thread"]["properties"],
        json!({NS: {"bool_property": true}})
    );
    ok(
        &mut st,
        "delete_thread_properties",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "properties": {NS: ["bool_property"]}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(chat["thread"]["properties"], json!({}));

    ok(
        &mut st,
        "update_event_properties",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "event_id": "QR8E5RKF2C_1", "properties": {NS: {"ticket": "T-1042"}}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(
        chat["thread"]["events"][0]["properties"],
        json!({NS: {"ticket": "T-1042"}})
    );
    ok(
        &mut st,
        "delete_event_properties",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "event_id": "QR8E5RKF2C_1", "properties": {NS: ["ticket"]}}),
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert!(chat["thread"]["events"][0].get("properties").is_none());
}

#[test]
fn property_values_must_fit_the_registration() {
    let mut st = sandbox();
    let set = |props: serde_json::Value| json!({"id": "PJ0MRSHTDG", "properties": props});
    for (props, needle) in [
        (json!({NS: {"no_such": "x"}}), "not registered"),
        (json!({NS: {"draft_note": "x"}}), "not published"),
        (json!({NS: {"topic": "x"}}), "`chat` location"),
        (
            json!({"routing": {"unassigned": false}}),
            "not published for writing",
        ),
        (json!({NS: {"int_property": "seven"}}), "integer"),
        (json!({NS: {"int_property": 101}}), "between 0 and 100"),
        (json!({NS: {"priority": "urgent"}}), "domain"),
        (json!({NS: "flat"}), "object"),
    ] {
        let e = fails(&mut st, "update_chat_properties", set(props), "validation");
        assert!(
            e.message.contains(needle) && e.message.contains("`properties"),
            "{needle}: {e}"
        );
    }
    fails(
        &mut st,
        "update_chat_properties",
        json!({"id": "PJ0MRSHTDG"}),
        "validation",
    );
    fails(
        &mut st,
        "delete_chat_properties",
        json!({"id": "PJ0MRSHTDG", "properties": {NS: "source"}}),
        "validation",
    );
    fails(
        &mut st,
        "update_thread_properties",
        json!({"chat_id": "PJ0MRSHTDG", "properties": {NS: {"topic": "x"}}}),
        "validation",
    );
    fails(
        &mut st,
        "update_event_properties",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "event_id": "QR8E5RKF2C_9", "properties": {NS: {"ticket": "x"}}}),
        "not_found",
    );
}

#[test]
fn a_property_holds_values_once_registered_and_published() {
    let mut st = sandbox();
    let set = json!({"id": "PJ0MRSHTDG", "properties": {"my_app": {"score": 3}}});
    let e = fails(&mut st, "update_chat_properties", set.clone(), "validation");
    assert!(e.message.contains("register_property"), "{e}");
    ok(
        &mut st,
        "register_property",
        json!({"name": "score", "owner_client_id": "my_app", "type": "int", "access": {"chat": {"agent": ["read", "write"]}}, "range": {"from": 1, "to": 5}, "default_value": 3}),
    );
    let e = fails(&mut st, "update_chat_properties", set.clone(), "validation");
    assert!(e.message.contains("publish_property"), "{e}");
    ok(
        &mut st,
        "publish_property",
        json!({"name": "score", "owner_client_id": "my_app", "access_type": ["read"]}),
    );
    fails(&mut st, "update_chat_properties", set.clone(), "validation");
    ok(
        &mut st,
        "publish_property",
        json!({"name": "score", "owner_client_id": "my_app", "access_type": ["read", "write"]}),
    );
    ok(&mut st, "update_chat_properties", set);
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(chat["properties"]["my_app"]["score"], 3);
    fails(
        &mut st,
        "register_property",
        json!({"name": "score", "owner_client_id": "my_app", "type": "int", "access": {"chat": {"agent": ["read"]}}}),
        "already_exists",
    );
}

#[test]
fn register_property_validates_its_definition() {
    let mut st = sandbox();
    let base = json!({"name": "level", "owner_client_id": "my_app", "type": "int", "access": {"thread": {"agent": ["read", "write"]}}});
    let with = |key: &str, value: serde_json::Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    for (body, field) in [
        (with("type", json!("float")), "type"),
        (with("name", json!("Level One")), "name"),
        (
            with("access", json!({"room": {"agent": ["read"]}})),
            "access.room",
        ),
        (
            with("access", json!({"chat": {"agent": ["execute"]}})),
            "access.chat.agent[0]",
        ),
        (
            with("access", json!({"chat": {"robot": ["read"]}})),
            "access.chat.robot",
        ),
        (with("range", json!({"from": 5, "to": 1})), "range.from"),
        (with("domain", json!([1, "two"])), "domain[1]"),
        (with("default_value", json!("high")), "default_value"),
    ] {
        let e = fails(&mut st, "register_property", body, "validation");
        assert!(e.message.contains(&format!("`{field}")), "{field}: {e}");
    }
    let mut no_owner = base.clone();
    no_owner.as_object_mut().unwrap().remove("owner_client_id");
    fails(&mut st, "register_property", no_owner, "validation");
    fails(
        &mut st,
        "register_property",
        json!({"name": "flag", "owner_client_id": "a", "type": "bool", "access": {"chat": {}}, "range": {"from": 0, "to": 1}}),
        "validation",
    );
    fails(
        &mut st,
        "publish_property",
        json!({"name": "level", "owner_client_id": "my_app", "access_type": ["read"]}),
        "not_found",
    );
    fails(
        &mut st,
        "publish_property",
        json!({"name": "draft_note", "owner_client_id": NS, "access_type": ["delete"]}),
        "validation",
    );
    fails(
        &mut st,
        "publish_property",
        json!({"name": "draft_note", "owner_client_id": NS, "access_type": []}),
        "validation",
    );
}

#[test]
fn tag_thread_needs_a_tag_defined_on_the_license() {
    let mut st = sandbox();
    let tag = |name: &str| json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C", "tag": name});
    let e = fails(&mut st, "tag_thread", tag("Billing"), "validation");
    assert!(e.message.contains("create_tag"), "{e}");
    let e = fails(&mut st, "tag_thread", tag("Support"), "validation");
    assert!(e.message.contains("did you mean `support`"), "{e}");
    ok(
        &mut st,
        "create_tag",
        json!({"name": "Billing", "group_ids": [0, 19]}),
    );
    ok(&mut st, "tag_thread", tag("Billing"));
    ok(&mut st, "tag_thread", tag("support"));
    ok(&mut st, "tag_thread", tag("support"));
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(chat["thread"]["tags"], json!(["Billing", "support"]));
    ok(&mut st, "untag_thread", tag("Billing"));
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(chat["thread"]["tags"], json!(["support"]));
    let archived = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"tags": {"values": ["support"]}}}),
    );
    assert_eq!(archived["found_chats"], 2);
    fails(
        &mut st,
        "tag_thread",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QR8E5RKF2C"}),
        "validation",
    );
    fails(
        &mut st,
        "untag_thread",
        json!({"chat_id": "PNOSUCHCHT", "thread_id": "QR8E5RKF2C", "tag": "support"}),
        "not_found",
    );
}

#[test]
fn an_app_s_properties_are_listed_and_a_private_one_unregistered() {
    let mut st = sandbox();
    let listed = ok(&mut st, "list_properties", json!({"owner_client_id": NS}));
    assert_eq!(listed.as_object().unwrap().len(), 9, "{listed}");
    assert_eq!(
        listed["priority"],
        json!({"type": "string", "description": "", "access": {"chat": {"agent": ["read", "write"]}},
               "domain": ["low", "normal", "high"], "default_value": "normal",
               "public_access": ["read", "write"]})
    );
    assert_eq!(
        listed["int_property"]["range"],
        json!({"from": 0, "to": 100})
    );
    // A private property has no public access.
    assert!(listed["draft_note"].get("public_access").is_none());
    let routing = ok(
        &mut st,
        "list_properties",
        json!({"owner_client_id": "routing"}),
    );
    assert_eq!(routing.as_object().unwrap().len(), 2);
    assert_eq!(
        ok(
            &mut st,
            "list_properties",
            json!({"owner_client_id": "nosuchapp"})
        ),
        json!({})
    );

    let e = fails(
        &mut st,
        "unregister_property",
        json!({"name": "priority", "owner_client_id": NS}),
        "validation",
    );
    assert!(e.message.contains("published"), "{e}");
    let draft = json!({"name": "draft_note", "owner_client_id": NS});
    assert_eq!(ok(&mut st, "unregister_property", draft.clone()), json!({}));
    let listed = ok(&mut st, "list_properties", json!({"owner_client_id": NS}));
    assert!(listed.get("draft_note").is_none());
    fails(&mut st, "unregister_property", draft, "not_found");
    fails(
        &mut st,
        "unregister_property",
        json!({"name": "draft_note"}),
        "validation",
    );
    // The name is free again.
    ok(
        &mut st,
        "register_property",
        json!({"name": "draft_note", "owner_client_id": NS, "type": "bool", "access": {"chat": {"agent": ["read"]}}}),
    );
}

#[test]
fn license_and_group_values_fall_back_to_the_default() {
    let mut st = sandbox();
    let spring = json!({NS: {"banner": "Spring sale: 20% off"}});
    assert_eq!(ok(&mut st, "list_license_properties", json!({})), spring);
    assert_eq!(
        ok(
            &mut st,
            "list_license_properties",
            json!({"namespace": NS, "name_prefix": "ban"})
        ),
        spring
    );
    for filter in [json!({"namespace": "routing"}), json!({"name_prefix": "x"})] {
        assert_eq!(ok(&mut st, "list_license_properties", filter), json!({}));
    }
    let welcome = json!({NS: {"banner": "Welcome!"}});
    assert_eq!(
        ok(&mut st, "list_groups_properties", json!({"group_ids": []})),
        json!([
            {"id": 0, "properties": welcome},
            {"id": 1, "properties": {NS: {"banner": "Questions about an invoice?"}}},
            {"id": 19, "properties": welcome},
        ])
    );
    assert_eq!(
        ok(
            &mut st,
            "list_groups_properties",
            json!({"group_ids": [19], "namespace": "routing"})
        ),
        json!([{"id": 19, "properties": {}}])
    );
    let e = fails(
        &mut st,
        "list_groups_properties",
        json!({"group_ids": [1, 42]}),
        "group_not_found",
    );
    assert!(e.message.contains("42"), "{e}");
    fails(&mut st, "list_groups_properties", json!({}), "validation");

    // A new license property shows its default once published for reading.
    ok(
        &mut st,
        "register_property",
        json!({"name": "motd", "owner_client_id": NS, "type": "string",
               "access": {"license": {"agent": ["read"]}}, "default_value": "Hi"}),
    );
    let values = ok(&mut st, "list_license_properties", json!({}));
    assert!(values[NS].get("motd").is_none(), "private: {values}");
    ok(
        &mut st,
        "publish_property",
        json!({"name": "motd", "owner_client_id": NS, "access_type": ["read"]}),
    );
    let values = ok(&mut st, "list_license_properties", json!({}));
    assert_eq!(values[NS]["motd"], "Hi");
    // It has no `group` access, so no group shows it.
    let groups = ok(&mut st, "list_groups_properties", json!({"group_ids": [0]}));
    assert!(
        groups[0]["properties"][NS].get("motd").is_none(),
        "{groups}"
    );
}
