//! Chats: listing with pagination, threads, archives, and the chat lifecycle.

use serde_json::{Value, json};

use super::{V35, V36, fails, fails_in, last_event, ok, ok_in, sandbox};

const THOMAS: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_chats_pages_newest_first_and_remembers_the_first_page() {
    let mut st = sandbox();
    let all = ok(&mut st, "list_chats", json!({}));
    assert_eq!(all["found_chats"], 5);
    assert_eq!(
        ids(&all, "chats_summary"),
        [
            "PT9XK2L4MN",
            "PJ0MRSHTDG",
            "PZ5N8B1C4X",
            "PWJ8Y4THAV",
            "PB4DF8GH2J"
        ]
    );
    assert!(all.get("next_page_id").is_none() && all.get("previous_page_id").is_none());

    let first = ok(&mut st, "list_chats", json!({"limit": 2}));
    assert_eq!(ids(&first, "chats_summary"), ["PT9XK2L4MN", "PJ0MRSHTDG"]);
    assert!(first.get("previous_page_id").is_none());
    let next = first["next_page_id"].as_str().unwrap().to_string();
    let second = ok(&mut st, "list_chats", json!({"page_id": next}));
    assert_eq!(ids(&second, "chats_summary"), ["PZ5N8B1C4X", "PWJ8Y4THAV"]);
    assert_eq!(second["found_chats"], 5);
    let third = ok(
        &mut st,
        "list_chats",
        json!({"page_id": second["next_page_id"]}),
    );
    assert_eq!(ids(&third, "chats_summary"), ["PB4DF8GH2J"]);
    assert!(third.get("next_page_id").is_none());
    let back = ok(
        &mut st,
        "list_chats",
        json!({"page_id": second["previous_page_id"]}),
    );
    assert_eq!(ids(&back, "chats_summary"), ["PT9XK2L4MN", "PJ0MRSHTDG"]);

    let asc = ok(
        &mut st,
        "list_chats",
        json!({"sort_order": "asc", "limit": 1}),
    );
    assert_eq!(ids(&asc, "chats_summary"), ["PB4DF8GH2J"]);
}

#[test]
fn list_chats_rejects_filters_limit_or_order_with_page_id() {
    let mut st = sandbox();
    let first = ok(&mut st, "list_chats", json!({"limit": 2}));
    let page = first["next_page_id"].clone();
    for extra in [
        json!({"filters": {}}),
        json!({"limit": 5}),
        json!({"sort_order": "asc"}),
    ] {
        let mut body = extra.clone();
        body["page_id"] = page.clone();
        let key = extra.as_object().unwrap().keys().next().unwrap().clone();
        let e = fails(&mut st, "list_chats", body, "validation");
        assert!(
            e.message.contains(&format!("`{key}`")) && e.message.contains("page_id"),
            "{e}"
        );
    }
    let e = fails(
        &mut st,
        "list_chats",
        json!({"page_id": "MTUxNzM5ODEzMTQ5Ng=="}),
        "validation",
    );
    assert!(e.message.contains("page_id"), "{e}");
    let threads_page = ok(
        &mut st,
        "list_threads",
        json!({"chat_id": "PB4DF8GH2J", "limit": 1}),
    );
    let e = fails(
        &mut st,
        "list_chats",
        json!({"page_id": threads_page["next_page_id"]}),
        "validation",
    );
    assert!(e.message.contains("list_threads"), "{e}");
}

#[test]
fn list_chats_validates_limit_order_and_filters() {
    let mut st = sandbox();
    for (body, field) in [
        (json!({"limit": 0}), "limit"),
        (json!({"limit": 101}), "limit"),
        (json!({"limit": "ten"}), "limit"),
        (json!({"sort_order": "newest"}), "sort_order"),
        (
            json!({"filters": {"group_ids": [0, "x"]}}),
            "filters.group_ids[1]",
        ),
        (json!({"filters": {"colour": "red"}}), "filters.colour"),
        (json!({"filters": []}), "filters"),
        (json!({"page": 2}), "page"),
    ] {
        let e = fails(&mut st, "list_chats", body, "validation");
        assert!(e.message.contains(&format!("`{field}`")), "{field}: {e}");
    }
}

#[test]
fn list_chats_filters_differ_by_version() {
    let mut st = sandbox();
    let active = ok(&mut st, "list_chats", json!({"filters": {"active": true}}));
    assert_eq!(ids(&active, "chats_summary"), ["PT9XK2L4MN", "PJ0MRSHTDG"]);
    let inactive = ok(&mut st, "list_chats", json!({"filters": {"active": false}}));
    assert_eq!(inactive["found_chats"], 3);
    let both = ok(&mut st, "list_chats", json!({"filters": {"active": null}}));
    assert_eq!(both["found_chats"], 5);
    let e = fails(
        &mut st,
        "list_chats",
        json!({"filters": {"include_active": false}}),
        "validation",
    );
    assert!(e.message.contains("filters.active"), "{e}");

    let archived = ok_in(
        &mut st,
        V35,
        "list_chats",
        json!({"filters": {"include_active": false}}),
    );
    assert_eq!(archived["found_chats"], 3);
    fails_in(
        &mut st,
        V35,
        "list_chats",
        json!({"filters": {"active": true}}),
        "validation",
    );

    let sport = ok(
        &mut st,
        "list_chats",
        json!({"filters": {"group_ids": [19]}}),
    );
    assert_eq!(ids(&sport, "chats_summary"), ["PWJ8Y4THAV"]);
    let high = ok(
        &mut st,
        "list_chats",
        json!({"filters": {"properties": {"0805e283233042b37f460ed8fbf22160": {"priority": {"values": ["high"]}}}}}),
    );
    assert_eq!(ids(&high, "chats_summary"), ["PJ0MRSHTDG"]);
}

#[test]
fn chat_summary_has_last_thread_and_last_event_per_type() {
    let mut st = sandbox();
    let page = ok(
        &mut st,
        "list_chats",
        json!({"filters": {"group_ids": [1]}}),
    );
    let summary = &page["chats_summary"][0];
    assert_eq!(summary["id"], "PB4DF8GH2J");
    assert_eq!(summary["last_thread_summary"]["id"], "QD8K3L6P1V");
    assert_eq!(summary["last_thread_summary"]["active"], false);
    assert_eq!(
        summary["last_thread_summary"]["tags"],
        json!(["positive feedback"])
    );
    assert_eq!(
        summary["last_event_per_type"]["message"]["event"]["id"],
        "QD8K3L6P1V_2"
    );
    assert_eq!(
        summary["last_event_per_type"]["system_message"]["thread_id"],
        "QD8K3L6P1V"
    );
    assert_eq!(summary["users"][0]["type"], "customer");
    assert_eq!(summary["access"], json!({"group_ids": [1]}));
}

#[test]
fn list_threads_pages_and_honours_min_events_count() {
    let mut st = sandbox();
    let page = ok(
        &mut st,
        "list_threads",
        json!({"chat_id": "PB4DF8GH2J", "limit": 1}),
    );
    assert_eq!(page["found_threads"], 2);
    assert_eq!(ids(&page, "threads"), ["QD8K3L6P1V"]);
    assert_eq!(page["threads"][0]["previous_thread_id"], "QC5M9R3T7W");
    assert_eq!(page["threads"][0]["events"].as_array().unwrap().len(), 3);
    let next = ok(
        &mut st,
        "list_threads",
        json!({"chat_id": "PB4DF8GH2J", "page_id": page["next_page_id"]}),
    );
    assert_eq!(ids(&next, "threads"), ["QC5M9R3T7W"]);
    assert!(next.get("next_page_id").is_none());
    let e = fails(
        &mut st,
        "list_threads",
        json!({"chat_id": "PJ0MRSHTDG", "page_id": page["next_page_id"]}),
        "validation",
    );
    assert!(e.message.contains("another chat"), "{e}");

    let wanted = ok(
        &mut st,
        "list_threads",
        json!({"chat_id": "PB4DF8GH2J", "min_events_count": 4}),
    );
    assert_eq!(ids(&wanted, "threads"), ["QD8K3L6P1V", "QC5M9R3T7W"]);
    let few = ok(
        &mut st,
        "list_threads",
        json!({"chat_id": "PB4DF8GH2J", "min_events_count": 2}),
    );
    assert_eq!(ids(&few, "threads"), ["QD8K3L6P1V"]);
    fails(
        &mut st,
        "list_threads",
        json!({"chat_id": "PB4DF8GH2J", "min_events_count": 2, "limit": 1}),
        "validation",
    );
    fails(
        &mut st,
        "list_threads",
        json!({"chat_id": "PB4DF8GH2J", "min_events_count": 101}),
        "validation",
    );

    let window = ok(
        &mut st,
        "list_threads",
        json!({"chat_id": "PB4DF8GH2J", "filters": {"from": "2026-02-26T00:00:00.000000+00:00", "to": "2026-02-27T00:00:00.000000+00:00"}}),
    );
    assert_eq!(ids(&window, "threads"), ["QD8K3L6P1V"]);
    let e = fails(
        &mut st,
        "list_threads",
        json!({"chat_id": "PB4DF8GH2J", "filters": {"from": "yesterday"}}),
        "validation",
    );
    assert!(e.message.contains("`filters.from`"), "{e}");
    fails(&mut st, "list_threads", json!({}), "validation");
    fails(
        &mut st,
        "list_threads",
        json!({"chat_id": "PNOSUCHCHT"}),
        "not_found",
    );
}

#[test]
fn get_chat_returns_the_latest_or_the_requested_thread() {
    let mut st = sandbox();
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(chat["id"], "PJ0MRSHTDG");
    assert_eq!(chat["thread"]["id"], "QR8E5RKF2C");
    assert_eq!(chat["thread"]["active"], true);
    assert_eq!(chat["thread"]["previous_thread_id"], "K600PKZON8");
    assert_eq!(chat["thread"]["events"][1]["visibility"], "agents");
    assert_eq!(chat["users"].as_array().unwrap().len(), 3);
    assert_eq!(chat["access"], json!({"group_ids": [0]}));
    let old = ok(
        &mut st,
        "get_chat",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
    );
    assert_eq!(old["thread"]["next_thread_id"], "QR8E5RKF2C");
    assert_eq!(old["thread"]["tags"], json!(["support"]));
    assert_eq!(old["thread"]["events"][0]["id"], "K600PKZON8_1");
    let nulled = ok(
        &mut st,
        "get_chat",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": null}),
    );
    assert_eq!(nulled["thread"]["id"], "QR8E5RKF2C");
    fails(
        &mut st,
        "get_chat",
        json!({"chat_id": "PNOSUCHCHT"}),
        "not_found",
    );
    fails(
        &mut st,
        "get_chat",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "QA37PVJ75B"}),
        "not_found",
    );
    let e = fails(&mut st, "get_chat", json!({"chat_id": 7}), "validation");
    assert!(e.message.contains("`chat_id`"), "{e}");
    // the customer is shown per version
    let v35 = ok_in(&mut st, V35, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert!(v35["users"][0].get("last_visit").is_some() && v35["users"][0].get("visit").is_none());
    assert!(chat["users"][0].get("visit").is_some());
}

#[test]
fn list_archives_searches_threads() {
    let mut st = sandbox();
    let refund = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"query": "REFUND"}}),
    );
    let threads: Vec<&str> = refund["chats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["thread"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        threads,
        ["QR8E5RKF2C", "QD8K3L6P1V", "QC5M9R3T7W", "K600PKZON8"]
    );
    assert_eq!(refund["found_chats"], 4);
    assert_eq!(refund["chats"][0]["id"], "PJ0MRSHTDG");

    let tagged = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"tags": {"values": ["complaint"]}}}),
    );
    assert_eq!(tagged["chats"][0]["thread"]["id"], "QC5M9R3T7W");
    let unassigned = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"agents": {"values": ["smith@example.com"]}}}),
    );
    assert_eq!(unassigned["found_chats"], 1);
    let by_country = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"customer_countries": {"values": ["US"]}}}),
    );
    assert_eq!(by_country["found_chats"], 2);
    let files = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"event_types": {"values": ["rich_message"]}}}),
    );
    assert_eq!(files["found_chats"], 2);
    let bots = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"agent_types": {"any_values": ["chatbot"]}}}),
    );
    assert_eq!(bots["found_chats"], 2);
    let customer = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"customer_email": "Olivia.Brown@example.com"}}),
    );
    assert_eq!(customer["found_chats"], 2);
    let sales = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"sales": {"exists": true}}}),
    );
    assert_eq!(sales["found_chats"], 0);

    let exact = ok(
        &mut st,
        "list_archives",
        json!({"filters": {"thread_ids": ["K600PKZON8", "QA37PVJ75B"]}, "limit": 1}),
    );
    assert_eq!(exact["found_chats"], 2);
    assert!(exact.get("next_page_id").is_none());
    let e = fails(
        &mut st,
        "list_archives",
        json!({"filters": {"thread_ids": ["K600PKZON8"], "query": "x"}}),
        "validation",
    );
    assert!(e.message.contains("thread_ids"), "{e}");

    let page = ok(&mut st, "list_archives", json!({"limit": 3}));
    assert_eq!(page["found_chats"], 7);
    let next = ok(
        &mut st,
        "list_archives",
        json!({"page_id": page["next_page_id"], "highlights": {}}),
    );
    assert_eq!(next["chats"].as_array().unwrap().len(), 3);
    fails(
        &mut st,
        "list_archives",
        json!({"page_id": page["next_page_id"], "filters": {"query": "x"}}),
        "validation",
    );

    let e = fails_in(
        &mut st,
        V35,
        "list_archives",
        json!({"filters": {"customer_id": THOMAS}}),
        "validation",
    );
    assert!(e.message.contains("v3.6"), "{e}");
    let v36 = ok_in(
        &mut st,
        V36,
        "list_archives",
        json!({"filters": {"customer_id": THOMAS, "chat_ids": ["PJ0MRSHTDG"]}}),
    );
    assert_eq!(v36["found_chats"], 2);
    fails(
        &mut st,
        "list_archives",
        json!({"filters": {"tags": {"values": ["a"], "exists": true}}}),
        "validation",
    );
    fails(&mut st, "list_archives", json!({"limit": 0}), "validation");
}

#[test]
fn start_chat_creates_a_chat_with_a_thread_and_its_events() {
    let mut st = sandbox();
    let started = ok(
        &mut st,
        "start_chat",
        json!({"chat": {
            "users": [{"id": THOMAS, "type": "customer"}, {"id": "jones@example.com", "type": "agent"}],
            "access": {"group_ids": [0]},
            "properties": {"routing": {"pinned": true}},
            "thread": {
                "events": [{"type": "message", "text": "Hello Thomas!"}, {"type": "message", "text": "A note", "visibility": "agents"}],
                "properties": {"0805e283233042b37f460ed8fbf22160": {"topic": "returns"}}
            }
        }}),
    );
    // deterministic: counter-based IDs, clock one second per step from 09:30:00
    assert_eq!(
        started,
        json!({"chat_id": "P53PRTYA0V", "thread_id": "QMME7LJB86", "event_ids": ["QMME7LJB86_1", "QMME7LJB86_2"]})
    );
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "P53PRTYA0V"}));
    assert_eq!(chat["thread"]["created_at"], "2026-03-02T09:30:01.000000Z");
    assert_eq!(
        chat["thread"]["events"][0]["created_at"],
        "2026-03-02T09:30:02.000000Z"
    );
    assert_eq!(
        chat["thread"]["events"][0]["author_id"],
        "agent@sandbox.test"
    );
    assert_eq!(chat["thread"]["events"][1]["visibility"], "agents");
    assert_eq!(chat["thread"]["active"], true);
    assert_eq!(
        chat["thread"]["properties"]["0805e283233042b37f460ed8fbf22160"]["topic"],
        "returns"
    );
    assert_eq!(chat["properties"]["routing"]["pinned"], true);
    let users: Vec<&str> = chat["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["agent@sandbox.test", THOMAS, "jones@example.com"]);
    let listed = ok(&mut st, "list_chats", json!({"limit": 1}));
    assert_eq!(listed["chats_summary"][0]["id"], "P53PRTYA0V");
    assert_eq!(listed["found_chats"], 6);

    let bare = ok(&mut st, "start_chat", json!({"active": false}));
    assert!(bare.get("event_ids").is_none());
    let chat = ok(&mut st, "get_chat", json!({"chat_id": bare["chat_id"]}));
    assert_eq!(chat["thread"]["active"], false);
}

#[test]
fn start_chat_checks_users_access_and_events() {
    let mut st = sandbox();
    let e = fails(
        &mut st,
        "start_chat",
        json!({"chat": {"users": [{"id": "ghost@example.com", "type": "agent"}]}}),
        "not_found",
    );
    assert!(e.message.contains("chat.users[0].id"), "{e}");
    fails(
        &mut st,
        "start_chat",
        json!({"chat": {"users": [{"id": THOMAS, "type": "visitor"}]}}),
        "validation",
    );
    let two = json!({"chat": {"users": [
        {"id": THOMAS, "type": "customer"},
        {"id": "7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", "type": "customer"}
    ]}});
    fails(&mut st, "start_chat", two, "validation");
    fails(
        &mut st,
        "start_chat",
        json!({"chat": {"access": {"group_ids": [42]}}}),
        "validation",
    );
    let e = fails(
        &mut st,
        "start_chat",
        json!({"chat": {"thread": {"events": [{"type": "message"}]}}}),
        "validation",
    );
    assert!(e.message.contains("chat.thread.events[0].text"), "{e}");
    let e = fails(
        &mut st,
        "start_chat",
        json!({"chat": {"thread": {"events": [{"type": "form", "fields": []}]}}}),
        "validation",
    );
    assert!(e.message.contains("chat.thread.events[0].form_id"), "{e}");
    let long = "x".repeat(16 * 1024 + 1);
    fails(
        &mut st,
        "start_chat",
        json!({"chat": {"thread": {"events": [{"type": "message", "text": long}]}}}),
        "validation",
    );
    fails(
        &mut st,
        "start_chat",
        json!({"chat": {"properties": {"routing": {"pinned": "yes"}}}}),
        "validation",
    );
    fails(
        &mut st,
        "start_chat",
        json!({"active": "yes"}),
        "validation",
    );
    fails(
        &mut st,
        "start_chat",
        json!({"chat": {"id": "PJ0MRSHTDG"}}),
        "validation",
    );
}

#[test]
fn resume_chat_opens_a_new_thread_in_an_inactive_chat() {
    let mut st = sandbox();
    let e = fails(
        &mut st,
        "resume_chat",
        json!({"chat": {"id": "PJ0MRSHTDG"}}),
        "validation",
    );
    assert!(e.message.contains("already active"), "{e}");
    let resumed = ok(
        &mut st,
        "resume_chat",
        json!({"chat": {"id": "PB4DF8GH2J", "thread": {"events": [{"type": "message", "text": "Hi Olivia, following up."}]}}, "continuous": true}),
    );
    let thread = resumed["thread_id"].as_str().unwrap().to_string();
    assert_eq!(resumed["event_ids"], json!([format!("{thread}_1")]));
    let threads = ok(&mut st, "list_threads", json!({"chat_id": "PB4DF8GH2J"}));
    assert_eq!(threads["found_threads"], 3);
    assert_eq!(threads["threads"][0]["id"], thread.as_str());
    assert_eq!(threads["threads"][0]["active"], true);
    assert_eq!(threads["threads"][0]["previous_thread_id"], "QD8K3L6P1V");
    fails(
        &mut st,
        "resume_chat",
        json!({"chat": {"id": "PB4DF8GH2J"}}),
        "validation",
    );
    fails(
        &mut st,
        "resume_chat",
        json!({"chat": {"id": "PNOSUCHCHT"}}),
        "not_found",
    );
    fails(&mut st, "resume_chat", json!({}), "validation");
}

#[test]
fn deactivate_chat_ends_the_active_thread() {
    let mut st = sandbox();
    ok(&mut st, "deactivate_chat", json!({"id": "PJ0MRSHTDG"}));
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    assert_eq!(chat["thread"]["active"], false);
    let last = last_event(&chat);
    assert_eq!(last["system_message_type"], "manual_archived_agent");
    assert_eq!(last["text"], "Sam Sandbox archived the chat");
    let e = fails(
        &mut st,
        "deactivate_chat",
        json!({"id": "PJ0MRSHTDG"}),
        "chat_inactive",
    );
    assert!(e.message.contains("PJ0MRSHTDG"), "{e}");
    // the requester is not in PT9XK2L4MN
    let e = fails(
        &mut st,
        "deactivate_chat",
        json!({"id": "PT9XK2L4MN"}),
        "missing_access",
    );
    assert!(e.message.contains("ignore_requester_presence"), "{e}");
    ok(
        &mut st,
        "deactivate_chat",
        json!({"id": "PT9XK2L4MN", "ignore_requester_presence": true}),
    );
    fails(
        &mut st,
        "deactivate_chat",
        json!({"id": "PNOSUCHCHT"}),
        "not_found",
    );
    fails(
        &mut st,
        "deactivate_chat",
        json!({"chat_id": "PJ0MRSHTDG"}),
        "validation",
    );
}
