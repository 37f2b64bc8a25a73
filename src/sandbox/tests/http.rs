//! The HTTP server: `spawn`, the paths, the `Authorization` check, the envelope and statuses.

use serde_json::{Value, json};

use crate::sandbox::{Sandbox, SandboxOptions};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(client: &reqwest::Client, url: &str, auth: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn serves_the_web_api_paths() {
    let sandbox = Sandbox::new(SandboxOptions::default()).unwrap();
    assert!(
        sandbox
            .summary()
            .starts_with("sandbox license: 5 agents (1 bot), 3 groups"),
        "{}",
        sandbox.summary()
    );
    let handle = sandbox.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert!(
        handle.url.starts_with("http://127.0.0.1:"),
        "{}",
        handle.url
    );
    let http = client();
    let base = handle.url.clone();
    let url = |path: &str| format!("{base}{path}");

    let (status, body) = post(&http, &url("/v3.6/agent/action/list_chats"), None, "{}").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error": {"type": "authentication", "message": "No `Authorization` header"}})
    );
    // `list_webhook_names` alone needs no credentials, as at LiveChat.
    let (status, body) = post(
        &http,
        &url("/v3.6/configuration/action/list_webhook_names"),
        None,
        r#"{"version": "3.5"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.as_array()
            .is_some_and(|names| names.iter().any(|n| n["action"] == "incoming_customer")),
        "{body}"
    );
    let (status, body) = post(
        &http,
        &url("/v3.6/agent/action/list_chats"),
        Some("Token abc"),
        "{}",
    )
    .await;
    assert_eq!(
        (status, body["error"]["type"].as_str()),
        (401, Some("authentication"))
    );

    let (status, body) = post(
        &http,
        &url("/v3.6/agent/action/list_chats"),
        Some("Basic YWNjb3VudDpwYXQ="),
        r#"{"limit": 2}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["found_chats"], 5);
    assert!(body["next_page_id"].is_string());
    let (status, body) = post(
        &http,
        &url("/v3.5/configuration/action/list_agents"),
        Some("Bearer dal:token"),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 4, "a bare array");
    let (status, body) = post(
        &http,
        &url("/v3.6/agent/action/deactivate_chat"),
        Some("Bearer t"),
        r#"{"id": "PJ0MRSHTDG"}"#,
    )
    .await;
    assert_eq!((status, body), (200, json!({})));
    let (status, body) = post(
        &http,
        &url("/v3.6/agent/action/deactivate_chat"),
        Some("Bearer t"),
        r#"{"id": "PJ0MRSHTDG"}"#,
    )
    .await;
    assert_eq!(
        (status, body["error"]["type"].as_str()),
        (409, Some("chat_inactive"))
    );

    let (status, body) = post(
        &http,
        &url("/v3.6/agent/action/get_chat"),
        Some("Bearer t"),
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["type"], "validation");
    assert_eq!(body["error"]["message"], "`chat_id` is required");
    // Malformed bodies, unknown chats, methods of another version or API, unknown paths.
    let refusals: &[(&str, &str, u16, &str)] = &[
        (
            "/v3.6/agent/action/get_chat",
            "{not json",
            400,
            "validation",
        ),
        (
            "/v3.5/agent/action/send_event_preview",
            "{}",
            404,
            "not_found",
        ),
        (
            "/v3.6/agent/action/get_chat",
            r#"{"chat_id": "PNOSUCHCHT"}"#,
            404,
            "not_found",
        ),
        ("/v3.6/agent/action/list_agents", "{}", 404, "not_found"),
        // Not emulated (nor documented for the Web API).
        ("/v3.6/agent/action/logout", "{}", 404, "not_found"),
        (
            "/v3.4/agent/action/list_chats",
            "{}",
            400,
            "unsupported_version",
        ),
        ("/v3.6/customer/action/list_chats", "{}", 404, "not_found"),
        ("/elsewhere", "{}", 404, "not_found"),
    ];
    for (path, body, status, kind) in refusals {
        let (got, answer) = post(&http, &url(path), Some("Bearer t"), body).await;
        assert_eq!(
            (got, answer["error"]["type"].as_str()),
            (*status, Some(*kind)),
            "{path} {body}"
        );
    }

    let response = http
        .get(url("/v3.6/agent/action/list_chats"))
        .header("Authorization", "Bearer t")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "validation");

    handle.shutdown().await.unwrap();
    assert!(
        post_fails(&http, &url("/v3.6/agent/action/list_chats")).await,
        "stopped after shutdown"
    );
}

async fn post_fails(client: &reqwest::Client, url: &str) -> bool {
    client
        .post(url)
        .header("Authorization", "Bearer t")
        .body("{}")
        .send()
        .await
        .is_err()
}

#[tokio::test]
async fn narrowed_scopes_answer_authorization_over_http() {
    let options = SandboxOptions {
        seed: None,
        scopes: Some(vec!["chats--access:ro, customers:ro".into()]),
    };
    let sandbox = Sandbox::new(options).unwrap();
    assert!(
        sandbox
            .summary()
            .ends_with("scopes chats--access:ro,customers:ro"),
        "{}",
        sandbox.summary()
    );
    let handle = sandbox.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let http = client();
    let url = format!("{}/v3.6/agent/action/start_chat", handle.url);
    let (status, body) = post(&http, &url, Some("Bearer t"), "{}").await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["type"], "authorization");
    assert_eq!(
        body["error"]["data"]["required_scopes"],
        json!(["chats--all:rw", "chats--access:rw"])
    );
}

/// A token from `issue_bot_token`, sent as `Bearer`, is the bot's: what it sends is the bot's.
#[tokio::test]
async fn a_bot_token_is_the_bots_credentials_over_http() {
    let handle = Sandbox::new(SandboxOptions::default())
        .unwrap()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let http = client();
    let url = |api: &str, method: &str| format!("{}/v3.6/{api}/action/{method}", handle.url);
    let agent = Some("Basic c2FuZGJveDp0b2tlbg==");
    let (status, created) = post(
        &http,
        &url("configuration", "create_bot"),
        agent,
        r#"{"name": "Helper", "owner_client_id": "0805e283233042b37f460ed8fbf22160"}"#,
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let bot = created["id"].as_str().unwrap();
    let issue = json!({"bot_id": bot, "bot_secret": created["secret"],
        "organization_id": "1a8a9ec7-bd5d-4400-9204-3826740981e0",
        "client_id": "0805e283233042b37f460ed8fbf22160"});
    let (status, issued) = post(
        &http,
        &url("configuration", "issue_bot_token"),
        agent,
        &issue.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["expires_in"], 86400);
    let bearer = format!("Bearer {}", issued["token"].as_str().unwrap());
    let mut wrong = issue.clone();
    wrong["bot_secret"] = json!("00000000000000000000000000000000");
    let (status, refused) = post(
        &http,
        &url("configuration", "issue_bot_token"),
        agent,
        &wrong.to_string(),
    )
    .await;
    assert_eq!(
        (status, &refused["error"]["type"]),
        (400, &json!("validation"))
    );

    let join =
        json!({"chat_id": "PJ0MRSHTDG", "user_id": bot, "user_type": "agent", "visibility": "all"});
    let (status, _) = post(
        &http,
        &url("agent", "add_user_to_chat"),
        agent,
        &join.to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let send = r#"{"chat_id": "PJ0MRSHTDG", "event": {"type": "message", "text": "Bot here"}}"#;
    let (status, sent) = post(&http, &url("agent", "send_event"), Some(&bearer), send).await;
    assert_eq!(status, 200, "{sent}");
    let (_, chat) = post(
        &http,
        &url("agent", "get_chat"),
        agent,
        r#"{"chat_id": "PJ0MRSHTDG"}"#,
    )
    .await;
    let last = super::last_event(&chat);
    assert_eq!(
        (last["text"].as_str(), last["author_id"].as_str()),
        (Some("Bot here"), Some(bot))
    );
    // The bot token carries the bot's scopes only.
    let (status, body) = post(
        &http,
        &url("configuration", "list_agents"),
        Some(&bearer),
        "{}",
    )
    .await;
    assert_eq!(
        (status, &body["error"]["type"]),
        (403, &json!("authorization"))
    );
}

#[test]
fn a_seed_file_replaces_the_built_in_license() {
    let dir = std::env::temp_dir().join(format!("livechat-mcp-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scenario.json");
    // a scenario saved from a changed sandbox loads back with the change
    let sandbox = Sandbox::new(SandboxOptions::default()).unwrap();
    let started = sandbox
        .call(
            crate::version::ApiVersion::V3_6,
            crate::tools::Api::Agent,
            "start_chat",
            &json!({}),
        )
        .unwrap();
    std::fs::write(&path, sandbox.snapshot_json()).unwrap();
    let replayed = Sandbox::new(SandboxOptions {
        seed: Some(path.clone()),
        scopes: None,
    })
    .unwrap();
    assert!(
        replayed.summary().contains("6 chats"),
        "{}",
        replayed.summary()
    );
    let chat = replayed
        .call(
            crate::version::ApiVersion::V3_6,
            crate::tools::Api::Agent,
            "get_chat",
            &json!({"chat_id": started["chat_id"]}),
        )
        .unwrap();
    assert_eq!(chat["id"], started["chat_id"]);

    std::fs::write(&path, r#"{"requester": "a@example.com", "now": "2026-01-01T00:00:00Z", "agents": [{"id": "a@example.com", "name": "A"}], "groups": [{"id": 0, "name": "General"}]}"#).unwrap();
    let tiny = Sandbox::new(SandboxOptions {
        seed: Some(path.clone()),
        scopes: None,
    })
    .unwrap();
    assert!(
        tiny.summary()
            .starts_with("sandbox license: 1 agent (0 bots), 1 group, 0 tags"),
        "{}",
        tiny.summary()
    );

    std::fs::write(
        &path,
        r#"{"requester": "a@example.com", "now": "2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let err = format!(
        "{:#}",
        Sandbox::new(SandboxOptions {
            seed: Some(path.clone()),
            scopes: None
        })
        .err()
        .unwrap()
    );
    assert!(
        err.contains("scenario.json") && err.contains("requester"),
        "{err}"
    );
    let missing = Sandbox::new(SandboxOptions {
        seed: Some(dir.join("nope.json")),
        scopes: None,
    })
    .err()
    .unwrap();
    assert!(missing.to_string().contains("nope.json"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);

    let default: Value = serde_json::from_str(&Sandbox::default_seed_json()).unwrap();
    assert_eq!(default["requester"], "agent@sandbox.test");
}

/// Polls `mock` until it has received `n` requests (or 10 s pass).
async fn received(mock: &wiremock::MockServer, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let got = mock.received_requests().await.unwrap_or_default();
        if got.len() >= n {
            return got
                .iter()
                .map(|r| serde_json::from_slice(&r.body).unwrap())
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the receiver did not get {n} deliveries in 10 s");
}

/// A customer's `start` and `say` through the Customer Chat API reach a real receiver as
/// LiveChat's webhooks, with the secret, sent in the background.
#[tokio::test]
async fn customer_calls_reach_registered_webhooks_over_http() {
    use crate::sandbox::customer_client::{CustomerClient, DEFAULT_CUSTOMER};
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

    let receiver = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/webhooks/livechat"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let handle = Sandbox::new(SandboxOptions::default())
        .unwrap()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let http = client();
    for action in ["incoming_chat", "incoming_event"] {
        let body = json!({
            "action": action,
            "secret_key": "hush-0123",
            "url": format!("{}/webhooks/livechat", receiver.uri()),
            "owner_client_id": "f1c2e3d4a5b6c7d8e9f0a1b2c3d4e5f6",
            "type": "license",
        });
        let (status, answer) = post(
            &http,
            &format!("{}/v3.6/configuration/action/register_webhook", handle.url),
            Some("Bearer any"),
            &body.to_string(),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }

    let customer = CustomerClient::new(
        &handle.url,
        crate::version::ApiVersion::V3_6,
        DEFAULT_CUSTOMER,
    )
    .unwrap();
    let started = customer.start("My order never came").await.unwrap();
    let chat_id = started["chat_id"].as_str().unwrap().to_string();
    assert!(started["thread_id"].is_string(), "{started}");
    assert!(started["event_id"].is_string(), "{started}");
    let said = customer.say(&chat_id, "Are you there?").await.unwrap();
    assert!(said["event_id"].is_string(), "{said}");

    let got = received(&receiver, 2).await;
    let chat = got.iter().find(|b| b["action"] == "incoming_chat").unwrap();
    assert_eq!(chat["secret_key"], "hush-0123");
    assert_eq!(chat["payload"]["chat"]["id"], json!(chat_id));
    assert_eq!(
        chat["payload"]["chat"]["thread"]["events"][0]["text"],
        "My order never came"
    );
    let event = got
        .iter()
        .find(|b| b["action"] == "incoming_event")
        .unwrap();
    assert_eq!(event["secret_key"], "hush-0123");
    assert_eq!(event["payload"]["chat_id"], json!(chat_id));
    assert_eq!(event["payload"]["event"]["id"], said["event_id"]);
    assert_eq!(event["payload"]["event"]["text"], "Are you there?");
    assert_eq!(event["payload"]["event"]["author_id"], DEFAULT_CUSTOMER);

    // A customer cannot write in another customer's chat; the error names the problem.
    let err = customer
        .say("PT9XK2L4MN", "hi")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not_found") && err.contains("PT9XK2L4MN"),
        "{err}"
    );
    handle.shutdown().await.unwrap();
}

/// The customer routes want a Bearer token, the license's `organization_id` and a
/// `customer_id`, and each missing piece gets its own error.
#[tokio::test]
async fn the_customer_routes_check_credentials_and_parameters() {
    let handle = Sandbox::new(SandboxOptions::default())
        .unwrap()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let http = client();
    let org = crate::sandbox::config_bots::ORGANIZATION_ID;
    let customer = "b7eff798-f8df-4364-8059-649c35c9ed0c";
    let url = |query: &str| format!("{}/v3.6/customer/action/start_chat{query}", handle.url);
    let cases = [
        (
            format!("?organization_id={org}&customer_id={customer}"),
            None,
            401,
            "authentication",
        ),
        (
            format!("?organization_id={org}&customer_id={customer}"),
            Some("Basic abc"),
            401,
            "authentication",
        ),
        (
            format!("?customer_id={customer}"),
            Some("Bearer t"),
            400,
            "validation",
        ),
        (
            format!("?organization_id=other&customer_id={customer}"),
            Some("Bearer t"),
            400,
            "validation",
        ),
        (
            format!("?organization_id={org}"),
            Some("Bearer t"),
            401,
            "authentication",
        ),
    ];
    for (query, auth, status, kind) in cases {
        let (got, body) = post(&http, &url(&query), auth, "{}").await;
        assert_eq!(
            (got, body["error"]["type"].as_str()),
            (status, Some(kind)),
            "{query} {auth:?}: {body}"
        );
    }
    let (got, body) = post(
        &http,
        &url(&format!("?organization_id={org}&customer_id={customer}")),
        Some("Bearer t"),
        "{}",
    )
    .await;
    assert_eq!(got, 200, "{body}");
    assert!(body["chat_id"].is_string(), "{body}");
    let (got, body) = post(
        &http,
        &format!(
            "{}/v3.5/customer/action/get_chat?organization_id={org}&customer_id={customer}",
            handle.url
        ),
        Some("Bearer t"),
        "{}",
    )
    .await;
    assert_eq!(
        (got, body["error"]["type"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    handle.shutdown().await.unwrap();
}
