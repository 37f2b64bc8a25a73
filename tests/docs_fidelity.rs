//! Requests that LiveChat's documentation (livechat-public-docs, Agent Chat and Configuration
//! API v3.5 / v3.6) calls valid reach LiveChat unchanged through the MCP tools, and requests
//! it calls invalid are refused before anything is sent, naming the field.

mod common;

use common::{call, connect_to};
use livechat_mcp::{policy::Level, version::ApiVersion};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

const V35: ApiVersion = ApiVersion::V3_5;
const V36: ApiVersion = ApiVersion::V3_6;
const BOTH: [ApiVersion; 2] = [V35, V36];

async fn stand_in() -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&mock)
        .await;
    mock
}

/// Calls `tool` with `args` in `version` and checks that exactly `args` reached LiveChat.
async fn sent_as_is(version: ApiVersion, tool: &str, args: Value) {
    let mock = stand_in().await;
    let client = connect_to(&mock, version, Level::Full).await;
    let (is_error, _, text) = call(&client, tool, args.clone()).await;
    assert!(!is_error, "v{version} {tool} refused: {text}\n{args}");
    let received = mock.received_requests().await.expect("recording");
    let [request] = received.as_slice() else {
        panic!("v{version} {tool}: {} requests", received.len())
    };
    let api = livechat_mcp::tools::find(tool)
        .expect("a tool")
        .api()
        .as_str();
    assert_eq!(
        request.url.path(),
        format!("/v{version}/{api}/action/{tool}")
    );
    let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
    assert_eq!(body, args, "v{version} {tool}: the body LiveChat got");
    client.cancel().await.ok();
}

/// Calls `tool` with `args` in `version`: it must fail naming `needle`, and send nothing.
async fn refused(version: ApiVersion, tool: &str, args: Value, needle: &str) {
    let mock = stand_in().await;
    let client = connect_to(&mock, version, Level::Full).await;
    let (is_error, _, text) = call(&client, tool, args.clone()).await;
    assert!(is_error, "v{version} {tool} accepted {args}");
    assert!(
        text.starts_with("invalid_arguments: ") && text.contains(needle),
        "v{version} {tool}: expected {needle:?} in {text}"
    );
    let sent = mock.received_requests().await.map_or(0, |r| r.len());
    assert_eq!(
        sent, 0,
        "v{version} {tool}: a refused call reached LiveChat"
    );
    client.cancel().await.ok();
}

fn send_event(event: Value) -> Value {
    json!({"chat_id": "PJ0MRSHTDG", "event": event})
}

#[tokio::test]
async fn system_messages_take_visibility_and_text_vars_and_need_their_type() {
    let event = json!({"type": "system_message", "system_message_type": "routing.assigned",
                       "text": "Hello there!", "text_vars": {"agent": "John Doe"}, "visibility": "agents",
                       "custom_id": "31-0C-1C-07-DB-16"});
    for v in BOTH {
        sent_as_is(v, "send_event", send_event(event.clone())).await;
        refused(
            v,
            "send_event",
            send_event(json!({"type": "system_message", "text": "x"})),
            "`event.system_message_type` is required",
        )
        .await;
        refused(
            v,
            "send_event",
            send_event(
                json!({"type": "system_message", "system_message_type": "a", "recipients": "all"}),
            ),
            "`event.recipients` is not a field",
        )
        .await;
    }
}

#[tokio::test]
async fn form_and_filled_form_events_can_be_sent() {
    let form = json!({"type": "form", "form_id": "1473433500211", "visibility": "all", "fields": [
        {"type": "name", "id": "154417206262603539", "label": "Your name", "required": true},
        {"type": "select", "id": "154417206262602572", "label": "Country", "required": false,
         "options": [{"id": "0", "label": "USA"}, {"id": "1", "label": "UK"}]}]});
    let filled = json!({"type": "filled_form", "form_id": "1473433500211", "fields": [
        {"type": "email", "id": "154417206262601584", "label": "Your email", "answer": "t.anderson@example.com"},
        {"type": "checkbox", "id": "154417206262604640", "label": "Company industry",
         "answers": [{"id": "0", "label": "automotive"}, {"id": "1", "label": "it"}]},
        {"type": "group_chooser", "id": "154417206262605324", "label": "Choose department",
         "answer": {"id": "2", "group_id": 1, "label": "Marketing"}}]});
    for v in BOTH {
        sent_as_is(v, "send_event", send_event(form.clone())).await;
        sent_as_is(v, "send_event", send_event(filled.clone())).await;
        let start = json!({"chat": {"thread": {"events": [form.clone()]}}});
        sent_as_is(v, "start_chat", start).await;
    }
}

#[tokio::test]
async fn messages_carry_postbacks_and_ecommerce_only_on_3_6() {
    let postback = json!({"id": "action_yes", "thread_id": "K600PKZON8", "event_id": "K600PKZON8_3",
                          "type": "message", "value": "yes"});
    for v in BOTH {
        sent_as_is(
            v,
            "send_event",
            send_event(json!({"type": "message", "text": "yes", "postback": postback})),
        )
        .await;
    }
    let mut product = postback.clone();
    product["ecommerce"] = json!({"product_id": "p-1", "option_id": "xl", "quantity": 2});
    let event = send_event(json!({"type": "message", "text": "yes", "postback": product}));
    sent_as_is(V36, "send_event", event.clone()).await;
    refused(V35, "send_event", event, "`event`").await;
}

#[tokio::test]
async fn rich_messages_take_image_details_and_the_3_6_ecommerce_element() {
    let image = json!({"url": "https://example.com/image25.png", "name": "image25.png",
                       "content_type": "image/png", "size": 123444, "width": 640, "height": 480,
                       "alternative_text": "A picture of lorem ipsum"});
    let cards = json!({"type": "rich_message", "template_id": "cards", "elements": [
        {"title": "Lorem ipsum", "image": image, "buttons": [
            {"type": "phone", "text": "Call", "value": "790034890", "postback_id": "action_call",
             "user_ids": [], "target": "current"}]}]});
    for v in BOTH {
        sent_as_is(v, "send_event", send_event(cards.clone())).await;
    }
    let product = json!({"type": "rich_message", "template_id": "ecommerce", "elements": [{"title": "Shoe",
        "ecommerce": {"view_type": "swatch", "product_id": "p-1", "label": "Shoe",
                      "options": [{"option_id": "42", "label": "42", "price": "99.00", "currency": "EUR",
                                   "available": true, "selected": false}],
                      "addons": [{"addon_type": "gift_wrap"}]}}]});
    sent_as_is(V36, "send_event", send_event(product.clone())).await;
    refused(V35, "send_event", send_event(product), "`event`").await;
}

#[tokio::test]
async fn message_text_is_limited_in_bytes() {
    // 4096 four-byte characters are exactly LiveChat's 16 KB.
    let full = "😁".repeat(4096);
    sent_as_is(
        V36,
        "send_event",
        send_event(json!({"type": "message", "text": full})),
    )
    .await;
    let over = format!("{full}😁");
    refused(
        V36,
        "send_event",
        send_event(json!({"type": "message", "text": over})),
        "`event`: `text` is 16388 bytes; LiveChat takes at most 16384",
    )
    .await;
    refused(
        V36,
        "send_event_preview",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": over}}),
        "`event.text`: `text` is 16388 bytes; LiveChat takes at most 16384",
    )
    .await;
}

#[tokio::test]
async fn archive_filters_take_the_documented_shapes() {
    const FROM: &str = "2026-01-01T00:00:00.000000+00:00";
    const TO: &str = "2026-01-31T00:00:00.000000+00:00";
    let both = json!({"filters": {
        "forms": [{"type": "pre_chat", "from": FROM, "to": TO, "exists": true},
                  {"type": "post_chat", "values": ["a1"], "exclude_values": ["a2"],
                   "groups": {"values": [0], "exclude_values": [19]}}],
        "greetings": {"from": FROM, "to": TO, "values": [1, 2], "groups": {"values": [0]}},
        "agent_response": {"first": true, "agents": {"exclude_values": ["smith@example.com"]},
                           "groups": {"values": [0]}},
        "properties": {"routing": {"unassigned": {"values": [false]}}},
        "goals": {"values": [1, 2]}}});
    for v in BOTH {
        sent_as_is(v, "list_archives", both.clone()).await;
    }
    let agent_types = json!({"filters": {"agent_types": {
        "all_values": ["human"], "any_values": ["chatbot", "ai_agent"]}}});
    sent_as_is(V36, "list_archives", agent_types.clone()).await;
    refused(V35, "list_archives", agent_types, "`filters.agent_types`").await;
    for (filters, needle) in [
        (
            json!({"agent_types": {"values": ["bot"]}}),
            "`filters.agent_types.values`",
        ),
        (
            json!({"agent_types": {"any_values": ["bot"]}}),
            "`filters.agent_types.any_values[0]`",
        ),
        (json!({"forms": {"type": "pre_chat"}}), "`filters.forms`"),
        (
            json!({"greetings": {"first": true}}),
            "`filters.greetings.first` is not a field",
        ),
        (
            json!({"agents": {"first": true}}),
            "`filters.agents.first` is not a field",
        ),
        (
            json!({"agent_response": {"values": ["smith@example.com"]}}),
            "`filters.agent_response.values` is not a field",
        ),
        (
            json!({"event_types": {"exists": true}}),
            "`filters.event_types.exists` is not a field",
        ),
        (
            json!({"properties": {"routing": {"unassigned": {"first": true}}}}),
            "`filters.properties.routing.unassigned.first` is not a field",
        ),
    ] {
        refused(V36, "list_archives", json!({"filters": filters}), needle).await;
    }
}

#[tokio::test]
async fn webhooks_filter_routing_status_by_agent() {
    let hook = json!({"action": "routing_status_set", "secret_key": "k", "url": "https://example.com/in",
                      "owner_client_id": "0805e283233042b37f460ed8fbf22160", "type": "license",
                      "filters": {"agent_ids": ["smith@example.com"], "source_type": ["system"]}});
    for v in BOTH {
        sent_as_is(v, "register_webhook", hook.clone()).await;
    }
}

/// A value of several kinds (an event) that fits none names the field and the kind it was read
/// as, wherever it sits, and nothing is sent.
#[tokio::test]
async fn a_wrong_event_names_the_field_and_its_kind() {
    for version in [V35, V36] {
        refused(
            version,
            "send_event",
            json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "file", "text": "hi"}}),
            "`event.text` is not a field of a `file`",
        )
        .await;
        refused(
            version,
            "send_event",
            json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "file"}}),
            "`event.url` is required in a `file`",
        )
        .await;
        refused(
            version,
            "start_chat",
            json!({"chat": {"thread": {"events": [{"type": "message"}]}}}),
            "`chat.thread.events[0].text` is required in a `message`",
        )
        .await;
    }
}

/// The docs' own requests for following a chat, the transfer list, read marks and indicators
/// reach LiveChat unchanged; the wrong chat field, a missing flag or a made-up visibility do
/// not. The thinking indicator and thread summaries exist only in 3.6.
#[tokio::test]
async fn chat_following_read_marks_and_indicators_follow_the_docs() {
    for v in BOTH {
        sent_as_is(v, "follow_chat", json!({"id": "PW94SJTGW6"})).await;
        sent_as_is(v, "unfollow_chat", json!({"id": "PJ0MRSHTDG"})).await;
        sent_as_is(
            v,
            "list_agents_for_transfer",
            json!({"chat_id": "PJ0MRSHTDG"}),
        )
        .await;
        sent_as_is(
            v,
            "mark_events_as_seen",
            json!({"chat_id": "PJ0MRSHTDG", "seen_up_to": "2017-10-12T15:19:21.010200Z"}),
        )
        .await;
        sent_as_is(
            v,
            "send_typing_indicator",
            json!({"chat_id": "PJ0MRSHTDG", "is_typing": true}),
        )
        .await;
        refused(
            v,
            "follow_chat",
            json!({"chat_id": "PW94SJTGW6"}),
            "`chat_id` is not a field",
        )
        .await;
        refused(
            v,
            "mark_events_as_seen",
            json!({"chat_id": "PJ0MRSHTDG"}),
            "`seen_up_to` is required",
        )
        .await;
        refused(
            v,
            "send_typing_indicator",
            json!({"chat_id": "PJ0MRSHTDG"}),
            "`is_typing` is required",
        )
        .await;
        refused(
            v,
            "send_typing_indicator",
            json!({"chat_id": "PJ0MRSHTDG", "is_typing": true, "visibility": "customers"}),
            "`visibility`",
        )
        .await;
    }
    let thinking = json!({"chat_id": "PJ0MRSHTDG", "title": "Thinking...",
                          "description": "Fetching data from the Billing API...",
                          "visibility": "all", "custom_id": "31-0C-1C-07-DB-16"});
    sent_as_is(V36, "send_thinking_indicator", thinking.clone()).await;
    sent_as_is(
        V36,
        "request_thread_summary",
        json!({"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8"}),
    )
    .await;
    refused(
        V36,
        "request_thread_summary",
        json!({"chat_id": "PJ0MRSHTDG"}),
        "`thread_id` is required",
    )
    .await;
    let mock = stand_in().await;
    let client = connect_to(&mock, V35, Level::Full).await;
    let (is_error, _, text) = call(&client, "send_thinking_indicator", thinking).await;
    assert!(
        is_error && text.contains("send_thinking_indicator"),
        "{text}"
    );
    assert_eq!(mock.received_requests().await.map_or(0, |r| r.len()), 0);
    client.cancel().await.ok();
}

/// `unban_customer` (v3.6): the docs' request reaches LiveChat's Configuration API as is; one
/// of `ip` and `customer_id` exactly, or nothing is sent.
#[tokio::test]
async fn an_unban_names_exactly_one_of_ip_or_customer_id() {
    sent_as_is(V36, "unban_customer", json!({"ip": "192.168.1.1"})).await;
    sent_as_is(
        V36,
        "unban_customer",
        json!({"customer_id": "b7eff798-f8df-4364-8059-649c35c9ed0c"}),
    )
    .await;
    for args in [
        json!({}),
        json!({"ip": "192.168.1.1", "customer_id": "b7ef"}),
    ] {
        refused(
            V36,
            "unban_customer",
            args,
            "exactly one of `ip` or `customer_id`",
        )
        .await;
    }
    sent_as_is(V36, "list_customer_bans", json!({})).await;
}

/// `multicast` (both versions): the docs' request reaches LiveChat as is; recipients are
/// `agents` with at least one of `all`, `ids`, `groups`, and `content` is required, or nothing
/// is sent.
#[tokio::test]
async fn a_multicast_names_its_agents() {
    let docs = json!({"recipients": {"agents": {"all": true, "ids": ["smith@example.com", "agent@example.com"], "groups": [1, 2]}},
                      "content": {"example": {"nested": "json"}}});
    for v in BOTH {
        sent_as_is(v, "multicast", docs.clone()).await;
        sent_as_is(
            v,
            "multicast",
            json!({"recipients": {"agents": {"ids": ["smith@example.com"]}}, "content": "hi", "type": "type1"}),
        )
        .await;
        for (args, needle) in [
            (
                json!({"recipients": {"agents": {}}, "content": {}}),
                "at least one of `all`, `ids` or `groups`",
            ),
            (
                json!({"recipients": {"customers": {"all": true}}, "content": {}}),
                "`recipients.customers` is not a field",
            ),
            (
                json!({"recipients": {"agents": {"all": true}}}),
                "`content` is required",
            ),
        ] {
            refused(v, "multicast", args, needle).await;
        }
    }
}

/// `list_customers` and `create_customer` exist in v3.5 only: the docs' requests reach
/// LiveChat as is there, and v3.6 has no such tools.
#[tokio::test]
async fn customers_are_listed_and_created_in_3_5_only() {
    sent_as_is(V35, "list_customers", json!({})).await;
    sent_as_is(
        V35,
        "list_customers",
        json!({"sort_by": "customer_last_event", "limit": 100, "filters": {
            "country": {"values": ["PL"]}, "chat_group_ids": {"exclude_values": [19]},
            "visits_count": {"gte": 2}, "created_at": {"gt": "2017-10-12T15:19:21.010200+01:00"},
            "include_customers_without_chats": false}}),
    )
    .await;
    let created = json!({"name": "Thomas Anderson", "email": "t.anderson@example.com",
                         "avatar": "https://example.com/avatars/1.png",
                         "session_fields": [{"custom_key": "custom_value"}, {"another_custom_key": "another_custom_value"}]});
    sent_as_is(V35, "create_customer", created.clone()).await;
    refused(
        V35,
        "list_customers",
        json!({"filters": {"name": {"values": ["a"], "exclude_values": ["b"]}}}),
        "exactly one of `values` or `exclude_values`",
    )
    .await;
    refused(V35, "list_customers", json!({"limit": 101}), "`limit`").await;
    for (tool, args) in [("list_customers", json!({})), ("create_customer", created)] {
        let mock = stand_in().await;
        let client = connect_to(&mock, V36, Level::Full).await;
        let (is_error, _, text) = call(&client, tool, args).await;
        assert!(is_error && text.contains(tool), "v3.6 {tool}: {text}");
        assert_eq!(mock.received_requests().await.map_or(0, |r| r.len()), 0);
        client.cancel().await.ok();
    }
}

/// The property listings and `unregister_property` (both versions): the docs' requests reach
/// LiveChat's Configuration API as is; `group_ids` is required (an empty array: every group).
#[tokio::test]
async fn property_listings_and_unregistering_as_documented() {
    let owner = "0805e283233042b37f460ed8fbf22160";
    for v in BOTH {
        sent_as_is(v, "list_properties", json!({"owner_client_id": owner})).await;
        sent_as_is(
            v,
            "unregister_property",
            json!({"name": "string_property", "owner_client_id": owner}),
        )
        .await;
        sent_as_is(
            v,
            "list_license_properties",
            json!({"namespace": owner, "name_prefix": "string"}),
        )
        .await;
        sent_as_is(
            v,
            "list_groups_properties",
            json!({"group_ids": [0, 1], "namespace": "a", "name_prefix": "b"}),
        )
        .await;
        sent_as_is(v, "list_groups_properties", json!({"group_ids": []})).await;
        refused(
            v,
            "list_groups_properties",
            json!({}),
            "`group_ids` is required",
        )
        .await;
        refused(
            v,
            "unregister_property",
            json!({"name": "string_property"}),
            "`owner_client_id` is required",
        )
        .await;
        refused(
            v,
            "list_properties",
            json!({}),
            "`owner_client_id` is required",
        )
        .await;
    }
}

/// The docs' `upload_file` takes one `multipart/form-data` field, `file` (binary, required):
/// the tool sends the file it is given there, with its name and type; without the file it is
/// refused, and LiveChat's field name is not one of the tool's arguments.
#[tokio::test]
async fn an_upload_is_a_form_with_one_file_field() {
    for v in BOTH {
        let mock = stand_in().await;
        let client = connect_to(&mock, v, Level::Full).await;
        let png = "iVBORw0KGgo=";
        let (is_error, _, text) = call(
            &client,
            "upload_file",
            json!({"name": "image.png", "content_type": "image/png", "content": png}),
        )
        .await;
        assert!(!is_error, "v{v}: {text}");
        let received = mock.received_requests().await.expect("recording");
        let [request] = received.as_slice() else {
            panic!("v{v}: {} requests", received.len())
        };
        assert_eq!(
            request.url.path(),
            format!("/v{v}/agent/action/upload_file")
        );
        let content_type = request.headers.get("content-type").expect("content-type");
        assert!(
            content_type
                .to_str()
                .unwrap_or_default()
                .starts_with("multipart/form-data; boundary="),
            "{content_type:?}"
        );
        let body = String::from_utf8_lossy(&request.body);
        assert_eq!(body.matches("Content-Disposition").count(), 1, "{body}");
        assert!(
            body.contains(
                "Content-Disposition: form-data; name=\"file\"; filename=\"image.png\"\r\nContent-Type: image/png\r\n\r\n\u{fffd}PNG\r\n\u{1a}\n\r\n--"
            ),
            "{body}"
        );
        client.cancel().await.ok();
        refused(
            v,
            "upload_file",
            json!({"name": "image.png", "content_type": "image/png"}),
            "`content` is required",
        )
        .await;
        refused(
            v,
            "upload_file",
            json!({"name": "image.png", "content_type": "image/png", "file": png}),
            "`file`",
        )
        .await;
    }
}
