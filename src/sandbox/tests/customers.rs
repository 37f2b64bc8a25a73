//! Customers and routing statuses.

use serde_json::json;

use super::{V35, V36, fails, fails_in, last_event, ok, ok_in, sandbox};

const THOMAS: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";
const MARIA: &str = "7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";

#[test]
fn get_customer_differs_by_version() {
    let mut st = sandbox();
    let v36 = ok(&mut st, "get_customer", json!({"id": THOMAS}));
    assert_eq!(v36["name"], "Thomas Anderson");
    assert_eq!(v36["chat_ids"], json!(["PJ0MRSHTDG"]));
    assert_eq!(v36["statistics"]["chats_count"], 1);
    assert_eq!(v36["statistics"]["threads_count"], 2);
    assert_eq!(v36["statistics"]["tickets_count"], 0);
    assert_eq!(v36["phone_number"], "+48500100200");
    assert_eq!(v36["visit"]["geolocation"]["country_code"], "PL");
    assert!(v36.get("last_visit").is_none());
    assert_eq!(
        v36["customer_last_event_created_at"],
        "2026-03-02T09:12:40.500001Z"
    );
    let v35 = ok_in(&mut st, V35, "get_customer", json!({"id": THOMAS}));
    assert!(v35.get("visit").is_none() && v35.get("phone_number").is_none());
    assert_eq!(v35["last_visit"]["ip"], "203.0.113.7");
    assert!(v35["statistics"].get("tickets_count").is_none());
    fails(
        &mut st,
        "get_customer",
        json!({"id": "00000000-0000-4000-8000-000000000000"}),
        "not_found",
    );
    fails(&mut st, "get_customer", json!({}), "validation");
}

#[test]
fn update_customer_changes_the_stored_record() {
    let mut st = sandbox();
    ok(
        &mut st,
        "update_customer",
        json!({
            "id": MARIA,
            "name": "Maria G. Garcia",
            "email": "mg@example.com",
            "session_fields": [{"tier": "gold"}],
            "phone_number": "+14155552671",
            "address": {"city": "Austin", "country": "United States"},
            "omnichannel": {"twilio": {"phone_number": "+14155552671"}}
        }),
    );
    let c = ok(&mut st, "get_customer", json!({"id": MARIA}));
    assert_eq!(c["name"], "Maria G. Garcia");
    assert_eq!(c["email"], "mg@example.com");
    assert_eq!(c["session_fields"], json!([{"tier": "gold"}]));
    assert_eq!(c["phone_number"], "+14155552671");
    assert_eq!(c["address"]["city"], "Austin");
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PWJ8Y4THAV"}));
    assert_eq!(chat["users"][0]["name"], "Maria G. Garcia");

    for (body, field) in [
        (json!({"id": "maria"}), "id"),
        (json!({"id": MARIA, "email": "not-an-email"}), "email"),
        (
            json!({"id": MARIA, "phone_number": "555-1234"}),
            "phone_number",
        ),
        (
            json!({"id": MARIA, "session_fields": [{"a": "1", "b": "2"}]}),
            "session_fields[0]",
        ),
        (
            json!({"id": MARIA, "address": {"street": "x"}}),
            "address.street",
        ),
        (
            json!({"id": MARIA, "omnichannel": {"fbmessenger": {"name": "x"}}}),
            "omnichannel.fbmessenger.id",
        ),
        (json!({"id": MARIA, "name": 5}), "name"),
    ] {
        let e = fails(&mut st, "update_customer", body, "validation");
        assert!(e.message.contains(&format!("`{field}`")), "{field}: {e}");
    }
    let e = fails_in(
        &mut st,
        V35,
        "update_customer",
        json!({"id": MARIA, "phone_number": "+14155552671"}),
        "validation",
    );
    assert!(e.message.contains("v3.6"), "{e}");
    ok_in(
        &mut st,
        V35,
        "update_customer",
        json!({"id": MARIA, "name": "Maria"}),
    );
    fails(
        &mut st,
        "update_customer",
        json!({"id": "00000000-0000-4000-8000-000000000000", "name": "x"}),
        "not_found",
    );
}

#[test]
fn a_banned_customer_cannot_be_in_new_chats() {
    let mut st = sandbox();
    ok(
        &mut st,
        "ban_customer",
        json!({"id": THOMAS, "ban": {"days": 3}}),
    );
    // the customer's active chat is archived with a system message
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(chat["thread"]["active"], false);
    let last = last_event(&chat);
    assert_eq!(last["system_message_type"], "customer_banned");
    assert_eq!(
        last["text"],
        "Chat archived because customer was banned by Sam Sandbox for 3 day(s)"
    );

    let e = fails(
        &mut st,
        "start_chat",
        json!({"chat": {"users": [{"id": THOMAS, "type": "customer"}]}}),
        "customer_banned",
    );
    assert!(e.message.contains("chat.users[0].id"), "{e}");
    assert_eq!(
        e.data.as_ref().unwrap()["banned_until"],
        "2026-03-05T09:30:01.000000Z"
    );
    fails(
        &mut st,
        "resume_chat",
        json!({"chat": {"id": "PJ0MRSHTDG"}}),
        "customer_banned",
    );
    ok(
        &mut st,
        "start_chat",
        json!({"chat": {"users": [{"id": MARIA, "type": "customer"}]}}),
    );

    fails(
        &mut st,
        "ban_customer",
        json!({"id": THOMAS, "ban": {"days": 0}}),
        "validation",
    );
    fails(
        &mut st,
        "ban_customer",
        json!({"id": THOMAS, "ban": {}}),
        "validation",
    );
    fails(
        &mut st,
        "ban_customer",
        json!({"id": "00000000-0000-4000-8000-000000000000", "ban": {"days": 1}}),
        "not_found",
    );
}

#[test]
fn routing_statuses_are_set_and_listed() {
    let mut st = sandbox();
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "not_accepting_chats"}),
    );
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "accepting_chats", "agent_id": "lee@example.com"}),
    );
    ok(
        &mut st,
        "set_routing_status",
        json!({"status": "offline", "agent_id": "5c9871d5372c824cbf22d860a707a578"}),
    );
    let all = ok(&mut st, "list_routing_statuses", json!({}));
    assert_eq!(
        all,
        json!([
            {"agent_id": "agent@sandbox.test", "status": "not_accepting_chats"},
            {"agent_id": "smith@example.com", "status": "accepting_chats"},
            {"agent_id": "jones@example.com", "status": "accepting_chats"},
            {"agent_id": "lee@example.com", "status": "accepting_chats"},
            {"agent_id": "5c9871d5372c824cbf22d860a707a578", "status": "offline"}
        ])
    );
    let billing = ok(
        &mut st,
        "list_routing_statuses",
        json!({"filters": {"group_ids": [19]}}),
    );
    assert_eq!(billing.as_array().unwrap().len(), 2);
    let e = fails(
        &mut st,
        "set_routing_status",
        json!({"status": "offline", "agent_id": "smith@example.com"}),
        "validation",
    );
    assert!(e.message.contains("bots"), "{e}");
    fails(
        &mut st,
        "set_routing_status",
        json!({"status": "away"}),
        "validation",
    );
    fails(
        &mut st,
        "set_routing_status",
        json!({"status": "accepting_chats", "agent_id": "ghost@example.com"}),
        "not_found",
    );
    fails(
        &mut st,
        "list_routing_statuses",
        json!({"filters": {"groups": [1]}}),
        "validation",
    );
}

const EMMA: &str = "0d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a";

#[test]
fn bans_are_listed_and_lifted_by_customer_or_ip_in_3_6_only() {
    let mut st = sandbox();
    assert_eq!(
        ok(&mut st, "list_customer_bans", json!({})),
        json!([{"ip": "192.0.2.200", "customer_id": EMMA, "agent_id": "smith@example.com",
                "created_at": "2026-02-26T11:20:00.000000Z",
                "expires_at": "2026-03-05T11:20:00.000000Z"}])
    );
    ok(
        &mut st,
        "ban_customer",
        json!({"id": THOMAS, "ban": {"days": 3}}),
    );
    let bans = ok(&mut st, "list_customer_bans", json!({}));
    assert_eq!(
        bans[0],
        json!({"ip": "203.0.113.7", "customer_id": THOMAS, "agent_id": "agent@sandbox.test",
               "created_at": "2026-03-02T09:30:01.000000Z",
               "expires_at": "2026-03-05T09:30:01.000000Z"})
    );
    assert_eq!(bans.as_array().unwrap().len(), 2);

    assert_eq!(
        ok(&mut st, "unban_customer", json!({"customer_id": THOMAS})),
        json!({})
    );
    ok(
        &mut st,
        "start_chat",
        json!({"chat": {"users": [{"id": THOMAS, "type": "customer"}]}}),
    );
    fails(
        &mut st,
        "unban_customer",
        json!({"customer_id": THOMAS}),
        "not_found",
    );
    ok(&mut st, "unban_customer", json!({"ip": "192.0.2.200"}));
    assert_eq!(ok(&mut st, "list_customer_bans", json!({})), json!([]));
    let e = fails(
        &mut st,
        "unban_customer",
        json!({"ip": "192.0.2.200"}),
        "not_found",
    );
    assert!(e.message.contains("192.0.2.200"), "{e}");
    for both_or_none in [json!({}), json!({"ip": "192.0.2.200", "customer_id": EMMA})] {
        let e = fails(&mut st, "unban_customer", both_or_none, "validation");
        assert!(e.message.contains("Exactly one"), "{e}");
    }
    for method in ["list_customer_bans", "unban_customer"] {
        fails_in(
            &mut st,
            V35,
            method,
            json!({"customer_id": EMMA}),
            "not_found",
        );
    }
}

/// The `id`s of a `list_customers` page, in order.
fn listed_ids(page: &serde_json::Value) -> Vec<&str> {
    page["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect()
}

const LI: &str = "3e9b8c7d-6a5f-4e3d-9c2b-1a0f9e8d7c6b";
const OLIVIA: &str = "5f6e7d8c-9b0a-4c1d-a2e3-f4a5b6c7d8e9";
const NOAH: &str = "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

#[test]
fn customers_are_listed_newest_first_a_page_at_a_time_in_3_5_only() {
    let mut st = sandbox();
    let listed = ok_in(&mut st, V35, "list_customers", json!({}));
    // Emma has no chats: she is listed only when asked for.
    assert_eq!(listed["total_customers"], 5);
    assert_eq!(listed_ids(&listed), [NOAH, MARIA, LI, OLIVIA, THOMAS]);
    assert_eq!(listed["customers"][4]["statistics"]["chats_count"], 1);
    assert!(listed["customers"][4].get("last_visit").is_some());
    assert!(listed.get("next_page_id").is_none());

    let first = ok_in(
        &mut st,
        V35,
        "list_customers",
        json!({"filters": {"include_customers_without_chats": true}, "sort_order": "asc", "limit": 2}),
    );
    assert_eq!(first["total_customers"], 6);
    assert_eq!(listed_ids(&first), [THOMAS, OLIVIA]);
    assert!(first.get("previous_page_id").is_none());
    let next = first["next_page_id"]
        .as_str()
        .expect("next page")
        .to_string();
    let second = ok_in(&mut st, V35, "list_customers", json!({"page_id": next}));
    assert_eq!(listed_ids(&second), [LI, EMMA]);
    assert!(second.get("previous_page_id").is_some());
    // The first page's order holds; the docs do not forbid `sort_by` beside `page_id`.
    let resorted = ok_in(
        &mut st,
        V35,
        "list_customers",
        json!({"page_id": next, "sort_by": "visits_count"}),
    );
    assert_eq!(listed_ids(&resorted), [LI, EMMA]);
    fails_in(
        &mut st,
        V35,
        "list_customers",
        json!({"page_id": next, "limit": 3}),
        "validation",
    );

    let by = |st: &mut super::State, filters: serde_json::Value| {
        let page = ok_in(st, V35, "list_customers", json!({"filters": filters}));
        listed_ids(&page)
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by(&mut st, json!({"country": {"values": ["PL"]}})),
        [THOMAS]
    );
    assert_eq!(
        by(&mut st, json!({"chat_group_ids": {"values": [19]}})),
        [MARIA]
    );
    assert_eq!(
        by(
            &mut st,
            json!({"email": {"exclude_values": ["t.anderson@example.com"]}, "created_at": {"gte": "2026-02-01T00:00:00Z"}})
        ),
        [NOAH, MARIA]
    );
    assert_eq!(
        by(&mut st, json!({"threads_count": {"gt": 1}})),
        [OLIVIA, THOMAS]
    );
    let e = fails_in(
        &mut st,
        V35,
        "list_customers",
        json!({"filters": {"name": {"values": ["Li Wei"], "exclude_values": ["Noah"]}}}),
        "validation",
    );
    assert!(e.message.contains("`filters.name`"), "{e}");
    fails_in(
        &mut st,
        V35,
        "list_customers",
        json!({"sort_by": "name"}),
        "validation",
    );
    // v3.6 removed the method.
    fails_in(&mut st, V36, "list_customers", json!({}), "not_found");
}

#[test]
fn a_customer_is_created_in_3_5_only() {
    let mut st = sandbox();
    let created = ok_in(
        &mut st,
        V35,
        "create_customer",
        json!({"name": "Ann Lee", "email": "ann@example.com", "session_fields": [{"plan": "pro"}]}),
    );
    let id = created["customer_id"]
        .as_str()
        .expect("customer_id")
        .to_string();
    assert!(crate::sandbox::ids::is_uuid(&id), "{id}");
    let customer = ok_in(&mut st, V35, "get_customer", json!({"id": id}));
    assert_eq!(customer["name"], "Ann Lee");
    assert_eq!(customer["email"], "ann@example.com");
    assert_eq!(customer["session_fields"], json!([{"plan": "pro"}]));
    assert_eq!(customer["statistics"]["chats_count"], 0);
    let found = ok_in(
        &mut st,
        V35,
        "list_customers",
        json!({"filters": {"customer_id": {"values": [id]}, "include_customers_without_chats": true}}),
    );
    assert_eq!(listed_ids(&found), [id.as_str()]);
    // Every field is optional; a bad one is refused and nothing is created.
    ok_in(&mut st, V35, "create_customer", json!({}));
    fails_in(
        &mut st,
        V35,
        "create_customer",
        json!({"email": "not-an-email"}),
        "validation",
    );
    fails_in(
        &mut st,
        V35,
        "create_customer",
        json!({"session_fields": [{"a": "1", "b": "2"}]}),
        "validation",
    );
    let all = ok_in(
        &mut st,
        V35,
        "list_customers",
        json!({"filters": {"include_customers_without_chats": true}}),
    );
    assert_eq!(all["total_customers"], 8);
    fails_in(
        &mut st,
        V36,
        "create_customer",
        json!({"name": "Ann"}),
        "not_found",
    );
}
