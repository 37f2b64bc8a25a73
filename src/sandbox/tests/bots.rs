//! Bots: create, read, list, update, delete, and bot tokens as the bot's credentials.

use serde_json::{Value, json};

use super::{V35, V36, fails, fails_in, ok, ok_in, sandbox, with_scopes};
use crate::{
    sandbox::state::{Payload, State},
    tools::Api,
};

const NS: &str = "0805e283233042b37f460ed8fbf22160";
const CHATBOT: &str = "5c9871d5372c824cbf22d860a707a578";
const ORG: &str = "1a8a9ec7-bd5d-4400-9204-3826740981e0";

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect()
}

/// Creates a bot and returns its ID and secret.
fn create(st: &mut State, body: Value) -> (String, String) {
    let created = ok(st, "create_bot", body);
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    (id, secret)
}

#[test]
fn bots_are_created_read_listed_updated_and_deleted() {
    let mut st = sandbox();
    let (id, secret) = create(
        &mut st,
        json!({"name": "Helper", "owner_client_id": NS, "max_chats_count": 40,
               "default_group_priority": "last", "groups": [{"id": 19, "priority": "first"}],
               "job_title": "Assistant", "type": "ai_agent",
               "work_scheduler": {"timezone": "Europe/Warsaw", "schedule": [
                   {"day": "monday", "enabled": true, "start": "08:00", "end": "16:00"}]}}),
    );
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(secret.len(), 32);
    assert_ne!(id, secret);

    let bot = ok(
        &mut st,
        "get_bot",
        json!({"id": id, "fields": ["groups", "max_chats_count", "job_title", "timezone", "work_scheduler"]}),
    );
    assert_eq!(bot["name"], "Helper");
    assert_eq!(bot["owner_client_id"], NS);
    assert_eq!(bot["default_group_priority"], "last");
    assert_eq!(bot["max_chats_count"], 40);
    assert_eq!(bot["job_title"], "Assistant");
    assert_eq!(bot["timezone"], "Europe/Warsaw");
    assert_eq!(bot["work_scheduler"]["schedule"][0]["day"], "monday");
    // Group 0 gets the default priority; the secret is never shown again.
    assert_eq!(
        bot["groups"],
        json!([{"id": 0, "priority": "last"}, {"id": 19, "priority": "first"}])
    );
    assert!(bot.get("secret").is_none(), "{bot}");
    let plain = ok(&mut st, "get_bot", json!({"id": id}));
    assert!(plain.get("groups").is_none(), "{plain}");

    // A bot is not an agent.
    fails(&mut st, "get_agent", json!({"id": id}), "not_found");
    let agents = ok(&mut st, "list_agents", json!({}));
    assert!(!ids(&agents).contains(&id.as_str()));

    // Without `all`: only the requester's bots; with it, every bot.
    let mine = ok(&mut st, "list_bots", json!({}));
    assert_eq!(ids(&mine), [id.as_str()]);
    let every = ok(
        &mut st,
        "list_bots",
        json!({"all": true, "fields": ["max_chats_count"]}),
    );
    assert_eq!(ids(&every), [CHATBOT, id.as_str()]);
    assert_eq!(every[0]["max_chats_count"], 20);
    assert!(
        every[0].get("owner_client_id").is_none(),
        "listed bots are short"
    );
    let mine_false = ok(&mut st, "list_bots", json!({"all": false}));
    assert_eq!(mine_false, mine);

    ok(
        &mut st,
        "update_bot",
        json!({"id": id, "name": "Helper 2", "groups": [{"id": 1, "priority": "normal"}],
               "max_chats_count": 500}),
    );
    let bot = ok(
        &mut st,
        "get_bot",
        json!({"id": id, "fields": ["groups", "max_chats_count"]}),
    );
    assert_eq!(bot["name"], "Helper 2");
    assert_eq!(bot["max_chats_count"], 500);
    assert_eq!(bot["groups"], json!([{"id": 1, "priority": "normal"}]));
    assert_eq!(bot["job_title"], Value::Null, "not asked for");

    ok(&mut st, "delete_bot", json!({"id": id}));
    fails(&mut st, "get_bot", json!({"id": id}), "not_found");
    fails(&mut st, "update_bot", json!({"id": id}), "not_found");
    fails(&mut st, "delete_bot", json!({"id": id}), "not_found");
    assert!(ids(&ok(&mut st, "list_bots", json!({}))).is_empty());
}

#[test]
fn bot_requests_are_validated() {
    let mut st = sandbox();
    let e = fails(
        &mut st,
        "create_bot",
        json!({"owner_client_id": NS}),
        "validation",
    );
    assert!(e.message.contains("`name`"), "{e}");
    let e = fails(&mut st, "create_bot", json!({"name": "B"}), "validation");
    assert!(e.message.contains("`owner_client_id`"), "{e}");
    let e = fails(
        &mut st,
        "create_bot",
        json!({"name": "B", "owner_client_id": NS, "max_chats_count": 501}),
        "validation",
    );
    assert!(e.message.contains("max_chats_count"), "{e}");
    fails(
        &mut st,
        "create_bot",
        json!({"name": "B", "owner_client_id": NS, "default_group_priority": "top"}),
        "validation",
    );
    fails(
        &mut st,
        "create_bot",
        json!({"name": "B", "owner_client_id": NS, "groups": [{"id": 42, "priority": "first"}]}),
        "group_not_found",
    );
    fails(
        &mut st,
        "create_bot",
        json!({"name": "B", "owner_client_id": NS, "groups": [{"id": 1}]}),
        "validation",
    );
    fails(
        &mut st,
        "create_bot",
        json!({"name": "B", "owner_client_id": NS, "work_scheduler": {"timezone": "UTC",
               "schedule": [{"day": "monday", "enabled": true, "start": "17:00", "end": "09:00"}]}}),
        "validation",
    );
    // `type` is a v3.6 field.
    let e = fails_in(
        &mut st,
        V35,
        "create_bot",
        json!({"name": "B", "owner_client_id": NS, "type": "chatbot"}),
        "validation",
    );
    assert!(e.message.contains("v3.6"), "{e}");
    fails(&mut st, "get_bot", json!({}), "validation");
    fails(
        &mut st,
        "get_bot",
        json!({"id": CHATBOT, "fields": ["secret"]}),
        "validation",
    );
    fails(&mut st, "list_bots", json!({"all": "yes"}), "validation");
    fails(
        &mut st,
        "update_bot",
        json!({"id": CHATBOT, "max_chats_count": -1}),
        "validation",
    );
    fails(&mut st, "delete_bot", json!({}), "validation");
    // Nothing of the failures was kept.
    assert_eq!(
        ids(&ok(&mut st, "list_bots", json!({"all": true}))),
        [CHATBOT]
    );
}

#[test]
fn avatar_is_avatar_path_in_3_6() {
    let mut st = sandbox();
    let v36 = ok_in(&mut st, V36, "get_bot", json!({"id": CHATBOT}));
    assert!(v36["avatar_path"].is_string(), "{v36}");
    assert!(v36.get("avatar").is_none(), "{v36}");
    let v35 = ok_in(&mut st, V35, "get_bot", json!({"id": CHATBOT}));
    assert!(v35["avatar"].is_string(), "{v35}");
    let listed = ok_in(&mut st, V35, "list_bots", json!({"all": true}));
    assert!(listed[0]["avatar"].is_string(), "{listed}");
}

#[test]
fn another_apps_bot_needs_the_all_scopes() {
    let mut st = with_scopes("agents-bot--my:rw");
    let (mine, _) = create(&mut st, json!({"name": "Mine", "owner_client_id": NS}));
    ok(&mut st, "get_bot", json!({"id": mine}));
    ok(
        &mut st,
        "update_bot",
        json!({"id": mine, "job_title": "Helper"}),
    );
    for (method, body) in [
        ("get_bot", json!({"id": CHATBOT})),
        ("list_bots", json!({"all": true})),
        ("update_bot", json!({"id": CHATBOT, "name": "X"})),
        ("delete_bot", json!({"id": CHATBOT})),
    ] {
        let e = fails(&mut st, method, body, "authorization");
        assert!(e.message.contains("agents-bot--all"), "{method}: {e}");
    }
    ok(&mut st, "delete_bot", json!({"id": mine}));
    let mut st = with_scopes("agents-bot--my:ro");
    fails(
        &mut st,
        "create_bot",
        json!({"name": "B", "owner_client_id": NS}),
        "authorization",
    );
}

fn token_for(st: &mut State, bot: &str, secret: &str) -> String {
    let issued = ok(
        st,
        "issue_bot_token",
        json!({"bot_id": bot, "bot_secret": secret, "organization_id": ORG, "client_id": NS}),
    );
    assert_eq!(issued["expires_in"], 86400);
    issued["token"].as_str().unwrap().to_string()
}

#[test]
fn issue_bot_token_checks_the_secret_and_the_client() {
    let mut st = with_scopes("");
    let (bot, secret) = {
        let mut every = sandbox();
        create(&mut every, json!({"name": "B", "owner_client_id": NS}))
    };
    // The seeded bot's secret is known; a token needs no scope.
    let token = token_for(&mut st, CHATBOT, "641e2ae6d997d2009a3ac92a05f37fc3");
    assert!(token.starts_with("sandbox-bot-"), "{token}");
    let e = fails(
        &mut st,
        "issue_bot_token",
        json!({"bot_id": CHATBOT, "bot_secret": "641e2ae6d997d2009a3ac92a05f37fc4",
               "organization_id": ORG, "client_id": NS}),
        "validation",
    );
    assert!(e.message.contains("`bot_secret`"), "{e}");
    assert!(
        !e.message.contains("641e2ae6"),
        "the message shows no secret: {e}"
    );
    fails(
        &mut st,
        "issue_bot_token",
        json!({"bot_id": CHATBOT, "bot_secret": "641e2ae6d997d2009a3ac92a05f37fc3",
               "organization_id": ORG, "client_id": "another-client"}),
        "validation",
    );
    // A bot of another sandbox is unknown here; an agent is not a bot.
    fails(
        &mut st,
        "issue_bot_token",
        json!({"bot_id": bot, "bot_secret": secret, "organization_id": ORG, "client_id": NS}),
        "not_found",
    );
    fails(
        &mut st,
        "issue_bot_token",
        json!({"bot_id": "smith@example.com", "bot_secret": "x", "organization_id": ORG, "client_id": NS}),
        "not_found",
    );
    fails(
        &mut st,
        "issue_bot_token",
        json!({"bot_id": CHATBOT, "bot_secret": "641e2ae6d997d2009a3ac92a05f37fc3", "client_id": NS}),
        "validation",
    );
}

#[test]
fn a_bot_token_acts_as_the_bot_until_it_expires() {
    let mut st = sandbox();
    let (bot, secret) = create(&mut st, json!({"name": "Helper", "owner_client_id": NS}));
    let token = token_for(&mut st, &bot, &secret);
    ok(
        &mut st,
        "add_user_to_chat",
        json!({"chat_id": "PJ0MRSHTDG", "user_id": bot, "user_type": "agent", "visibility": "all"}),
    );
    let as_bot = |st: &mut State, method: &str, body: Value| {
        let api = crate::sandbox::methods::find(method).map_or(Api::Agent, |m| m.api);
        st.handle_with(Some(&token), V36, api, method, Payload::Json(&body))
    };
    as_bot(
        &mut st,
        "send_event",
        json!({"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "Hi, I am a bot"}}),
    )
    .unwrap();
    let chat = ok(&mut st, "get_chat", json!({"chat_id": "PJ0MRSHTDG"}));
    let last = super::last_event(&chat);
    assert_eq!(last["author_id"], bot.as_str());
    assert_eq!(last["text"], "Hi, I am a bot");
    // The bot token carries only its three scopes; the requester's are back afterwards.
    let e = as_bot(&mut st, "list_agents", json!({})).unwrap_err();
    assert_eq!(e.kind, "authorization", "{e}");
    ok(&mut st, "list_agents", json!({}));
    // Any other bearer token acts as the scenario's requester.
    let listed = st
        .handle_with(
            Some("some-agent-token"),
            V36,
            Api::Configuration,
            "list_agents",
            Payload::Json(&json!({})),
        )
        .unwrap();
    assert!(!ids(&listed).is_empty());

    // 24 hours later the token is refused.
    st.clock += 24 * 3600 * 1_000_000;
    let e = as_bot(&mut st, "list_chats", json!({})).unwrap_err();
    assert_eq!(e.kind, "authentication", "{e}");
}

#[test]
fn a_deleted_bots_token_no_longer_authenticates() {
    let mut st = sandbox();
    let (bot, secret) = create(&mut st, json!({"name": "Helper", "owner_client_id": NS}));
    let token = token_for(&mut st, &bot, &secret);
    ok(&mut st, "delete_bot", json!({"id": bot}));
    let e = st
        .handle_with(
            Some(&token),
            V36,
            Api::Agent,
            "list_chats",
            Payload::Json(&json!({})),
        )
        .unwrap_err();
    assert_eq!(e.kind, "authentication", "{e}");
}

#[test]
fn reset_bot_secret_replaces_the_secret_but_not_issued_tokens() {
    let mut st = sandbox();
    let (bot, old) = create(&mut st, json!({"name": "Helper", "owner_client_id": NS}));
    let token = token_for(&mut st, &bot, &old);
    let reset = ok(
        &mut st,
        "reset_bot_secret",
        json!({"id": bot, "owner_client_id": NS}),
    );
    let new = reset["secret"].as_str().expect("a secret").to_string();
    assert_ne!(new, old);
    // The old secret no longer issues tokens; the new one does.
    fails(
        &mut st,
        "issue_bot_token",
        json!({"bot_id": bot, "bot_secret": old, "organization_id": ORG, "client_id": NS}),
        "validation",
    );
    token_for(&mut st, &bot, &new);
    // A token issued before still acts as the bot: LiveChat cannot revoke them.
    let listed = st.handle_with(
        Some(&token),
        V36,
        Api::Agent,
        "list_chats",
        Payload::Json(&json!({})),
    );
    assert!(listed.is_ok(), "{listed:?}");
    // Another client's ID, or another organization, is refused.
    fails(
        &mut st,
        "reset_bot_secret",
        json!({"id": bot, "owner_client_id": "another-client"}),
        "validation",
    );
    fails(
        &mut st,
        "issue_bot_token",
        json!({"bot_id": bot, "bot_secret": new, "organization_id": "another-org", "client_id": NS}),
        "validation",
    );
}
