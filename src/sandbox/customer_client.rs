//! `livechat-mcp sandbox customer`: a customer's calls to a running sandbox (`sandbox
//! --listen`) through its Customer Chat API, to start a chat and write in it with no account.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::config_bots::ORGANIZATION_ID;
use crate::version::ApiVersion;

/// The seeded customer Thomas Anderson.
pub const DEFAULT_CUSTOMER: &str = "b7eff798-f8df-4364-8059-649c35c9ed0c";

/// A customer of the sandbox at `url`.
pub struct CustomerClient {
    http: reqwest::Client,
    base: String,
    version: ApiVersion,
    customer: String,
}

impl CustomerClient {
    pub fn new(url: &str, version: ApiVersion, customer: &str) -> anyhow::Result<CustomerClient> {
        let base = url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 8 {
            bail!(
                "--url must be the sandbox's http(s) base URL, e.g. http://127.0.0.1:8035 (got `{url}`)"
            );
        }
        if customer.trim().is_empty() {
            bail!("--customer cannot be empty");
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(CustomerClient {
            http,
            base: base.to_string(),
            version,
            customer: customer.to_string(),
        })
    }

    /// Starts a chat whose first message is `text`: `{"chat_id", "thread_id", "event_id"}`.
    pub async fn start(&self, text: &str) -> anyhow::Result<Value> {
        check_text(text)?;
        let body = json!({"chat": {"thread": {"events": [message(text)]}}});
        let answer = self.call("start_chat", &body).await?;
        Ok(json!({
            "chat_id": answer["chat_id"],
            "thread_id": answer["thread_id"],
            "event_id": answer["event_ids"][0],
        }))
    }

    /// Writes `text` in chat `chat_id`: `{"event_id"}`.
    pub async fn say(&self, chat_id: &str, text: &str) -> anyhow::Result<Value> {
        check_text(text)?;
        if chat_id.trim().is_empty() {
            bail!("CHAT_ID cannot be empty");
        }
        let body = json!({"chat_id": chat_id, "event": message(text)});
        let answer = self.call("send_event", &body).await?;
        Ok(json!({ "event_id": answer["event_id"] }))
    }

    async fn call(&self, method: &str, body: &Value) -> anyhow::Result<Value> {
        let url = format!(
            "{}/v{}/customer/action/{method}?organization_id={}&customer_id={}",
            self.base,
            self.version,
            encode(ORGANIZATION_ID),
            encode(&self.customer)
        );
        let response = self
            .http
            .post(&url)
            .bearer_auth("sandbox-customer")
            .json(body)
            .send()
            .await
            .with_context(|| format!("cannot reach the sandbox at {}", self.base))?;
        let status = response.status();
        let answer: Value = response.json().await.with_context(|| {
            format!("the sandbox's answer to `{method}` is not JSON (HTTP {status})")
        })?;
        if !status.is_success() {
            let error = &answer["error"];
            bail!(
                "the sandbox refused `{method}` (HTTP {}): {}: {}",
                status.as_u16(),
                error["type"].as_str().unwrap_or("error"),
                error["message"].as_str().unwrap_or("no message")
            );
        }
        Ok(answer)
    }
}

fn message(text: &str) -> Value {
    json!({"type": "message", "text": text, "visibility": "all"})
}

fn check_text(text: &str) -> anyhow::Result<()> {
    if text.trim().is_empty() {
        bail!("TEXT cannot be empty: it is the customer's message");
    }
    Ok(())
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_encoded() {
        assert_eq!(super::encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            super::encode(super::DEFAULT_CUSTOMER),
            super::DEFAULT_CUSTOMER
        );
    }
}
