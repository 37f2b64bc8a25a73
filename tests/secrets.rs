//! Secrets never come back out: an upstream answer that echoes the credentials reaches the model
//! with `[redacted]` in their place, and start-up refuses settings that carry a secret where a
//! name or a URL belongs (policy `*_env`, `--api-url` with user info, a libpq `--audit` string)
//! without printing it.

mod common;

use common::{call, connect, settings};
use livechat_mcp::{config::Credentials, policy::Level, version::ApiVersion};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

const TOKEN: &str = "dal:Echoed-Token-0123456789";
const PAT: &str = "Echoed-PAT-9876543210";
const ACCOUNT: &str = "acc-echo-1";

/// What the stand-in answers with, each echoing the request's `Authorization` header and the
/// raw secret.
#[derive(Clone, Copy)]
enum Answer {
    Success,
    LiveChatError,
    NotJson,
}

struct EchoAuth {
    answer: Answer,
    secret: &'static str,
}

impl Respond for EchoAuth {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let basic = auth.strip_prefix("Basic ").unwrap_or_default().to_string();
        match self.answer {
            Answer::Success => ResponseTemplate::new(200).set_body_json(json!({
                "chats_summary": [],
                "found_chats": 0,
                "echo": {"authorization": auth, "basic": basic, "secret": self.secret},
            })),
            Answer::LiveChatError => ResponseTemplate::new(400).set_body_json(json!({
                "error": {
                    "type": "validation",
                    "message": format!("bad token {}", self.secret),
                    "data": {"authorization": auth},
                }
            })),
            Answer::NotJson => ResponseTemplate::new(500).set_body_string(format!(
                "proxy error: Authorization: {auth} ({}) {basic}",
                self.secret
            )),
        }
    }
}

fn credentials() -> [(Credentials, &'static str); 2] {
    [
        (
            Credentials::from_values(Some(TOKEN), None, None).expect("bearer"),
            TOKEN,
        ),
        (
            Credentials::from_values(None, Some(PAT), Some(ACCOUNT)).expect("pat"),
            PAT,
        ),
    ]
}

#[tokio::test]
async fn credentials_echoed_by_livechat_never_reach_the_tool_result() {
    for (creds, secret) in credentials() {
        let header = creds.authorization().expose().to_string();
        let encoded = header
            .split_once(' ')
            .expect("scheme and value")
            .1
            .to_string();
        let forbidden = [secret.to_string(), header.clone(), encoded.clone()];
        for answer in [Answer::Success, Answer::LiveChatError, Answer::NotJson] {
            let mock = MockServer::start().await;
            Mock::given(any())
                .respond_with(EchoAuth { answer, secret })
                .mount(&mock)
                .await;
            let mut s = settings(&mock.uri(), ApiVersion::V3_6, Level::Read);
            s.credentials = Ok(creds.clone());
            let client = connect(&s).await;
            let (is_error, structured, text) = call(&client, "list_chats", json!({})).await;
            let seen = format!("{text}\n{}", structured.clone().unwrap_or(Value::Null));
            for word in &forbidden {
                assert!(!seen.contains(word.as_str()), "{word} came back: {seen}");
            }
            match answer {
                Answer::Success => {
                    assert!(!is_error, "{text}");
                    let echo = &structured.expect("structured")["echo"];
                    let want_basic = if secret == PAT { "[redacted]" } else { "" };
                    assert_eq!(
                        echo,
                        &json!({"authorization": "[redacted]", "basic": want_basic, "secret": "[redacted]"}),
                        "{text}"
                    );
                }
                Answer::LiveChatError => {
                    assert!(is_error);
                    assert!(
                        text.starts_with("validation: bad token [redacted]"),
                        "{text}"
                    );
                }
                Answer::NotJson => assert!(is_error, "{text}"),
            }
            let _ = client.cancel().await;
        }
    }
}
