//! Webhook deliveries. After a call succeeds, the state queues one delivery per registered
//! webhook for the method's action (see `methods`), in the envelope LiveChat sends:
//! `webhook_id`, `secret_key`, `action`, `organization_id`, `payload`, `additional_data`, and
//! in v3.6 a configuration action's `requester`. A webhook gets the payload of the version it
//! was registered with. License webhooks go out unless their client disabled them; bot
//! webhooks only while one of the client's bots is not offline. The filters `author_type`,
//! `agent_ids` and `chat_presence.user_ids` are honoured.
//!
//! The queue lives in the state, so in-process callers see exactly what would be delivered.
//! The HTTP server takes it after each request and hands it to the [`Courier`], a background
//! task that POSTs each delivery: the state's lock and the caller never wait for a receiver.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::{
    config_bots::ORGANIZATION_ID,
    methods::Webhook as Hook,
    model::Webhook,
    state::State,
    webhooks::{self, Call},
};
use crate::version::ApiVersion;

/// Deliveries the state keeps when nobody takes them (an in-process sandbox); past it the
/// oldest are dropped.
pub const OUTBOX_LIMIT: usize = 1000;
/// Deliveries waiting for the courier; past it new ones are dropped with a warning.
pub const QUEUE_LIMIT: usize = 1024;
/// How long one POST to a receiver may take.
pub const POST_TIMEOUT: Duration = Duration::from_secs(2);

/// One webhook POST: where to, and the JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub url: String,
    pub body: Value,
}

impl Delivery {
    pub fn action(&self) -> &str {
        self.body["action"].as_str().unwrap_or_default()
    }
}

impl Webhook {
    /// The API version the webhook was registered with; 3.6 for a scenario's webhooks.
    fn api_version(&self) -> ApiVersion {
        match self.version.as_deref() {
            Some("3.5") => ApiVersion::V3_5,
            _ => ApiVersion::V3_6,
        }
    }
}

impl State {
    /// Queues the deliveries a successful call makes.
    pub(super) fn emit(&mut self, hook: &Hook, call: &Call) {
        for delivery in self.deliveries(hook, call) {
            if self.outbox.len() >= OUTBOX_LIMIT {
                self.outbox.pop_front();
                tracing::warn!(
                    "the sandbox kept {OUTBOX_LIMIT} webhook deliveries nobody took; dropped the oldest"
                );
            }
            self.outbox.push_back(delivery);
        }
        self.push(hook, call);
    }

    /// Takes the queued deliveries, oldest first.
    pub fn take_deliveries(&mut self) -> Vec<Delivery> {
        std::mem::take(&mut self.outbox).into()
    }

    fn deliveries(&self, hook: &Hook, call: &Call) -> Vec<Delivery> {
        let mut rendered: [Option<Option<Value>>; 2] = [None, None];
        let mut out = Vec::new();
        for w in self.lic.webhooks.iter().filter(|w| w.action == hook.action) {
            if !self.is_live(w) {
                continue;
            }
            let v = w.api_version();
            let slot = &mut rendered[usize::from(v == ApiVersion::V3_6)];
            let Some(payload) = slot.get_or_insert_with(|| (hook.payload)(self, v, call)) else {
                continue;
            };
            if !self.passes_filters(w, payload) {
                continue;
            }
            let mut body = json!({
                "webhook_id": w.id,
                "secret_key": w.secret_key,
                "action": w.action,
                "organization_id": ORGANIZATION_ID,
                "payload": payload,
                "additional_data": self.additional_data(w, payload),
            });
            if v == ApiVersion::V3_6 && webhooks::is_configuration(&w.action) {
                let account = self
                    .agent(self.requester())
                    .map(|a| a.account_id.clone())
                    .unwrap_or_default();
                body["requester"] = json!({"user_id": self.requester(), "account_id": account});
            }
            out.push(Delivery {
                url: w.url.clone(),
                body,
            });
        }
        out
    }

    /// License webhooks go out unless disabled for their client; bot webhooks only while
    /// one of the client's bots is online (accepting chats or not).
    fn is_live(&self, w: &Webhook) -> bool {
        if w.kind == "bot" {
            self.lic.agents.iter().any(|a| {
                a.bot
                    && !a.suspended
                    && a.owner_client_id.as_deref() == Some(w.owner_client_id.as_str())
                    && a.routing_status != "offline"
            })
        } else {
            !self
                .lic
                .license_webhooks_disabled
                .contains(&w.owner_client_id)
        }
    }

    fn passes_filters(&self, w: &Webhook, payload: &Value) -> bool {
        let Some(filters) = &w.filters else {
            return true;
        };
        if let Some(kind) = filters.get("author_type").and_then(Value::as_str) {
            let author = payload
                .pointer("/event/author_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let by_customer = self.lic.customers.iter().any(|c| c.id == author);
            let by_agent = self.agent(author).is_some();
            if (kind == "customer" && !by_customer) || (kind == "agent" && !by_agent) {
                return false;
            }
        }
        if let Some(ids) = filters.get("agent_ids").and_then(Value::as_array) {
            let agent = payload.get("agent_id");
            if !ids.iter().any(|id| Some(id) == agent) {
                return false;
            }
        }
        if let Some(users) = filters.pointer("/chat_presence/user_ids") {
            let present = self.present_users(payload);
            let any_of = |key: &str| {
                users.get(key).and_then(Value::as_array).map(|ids| {
                    ids.iter()
                        .filter_map(Value::as_str)
                        .any(|id| present.iter().any(|p| p == id))
                })
            };
            if any_of("values") == Some(false) || any_of("exclude_values") == Some(true) {
                return false;
            }
        }
        true
    }

    fn present_users(&self, payload: &Value) -> Vec<String> {
        webhooks::chat_of(payload)
            .and_then(|id| self.lic.chats.iter().find(|c| c.id == id))
            .map(|c| {
                c.users
                    .iter()
                    .filter(|u| u.present)
                    .map(|u| u.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the webhook asked to get beside the payload, for a chat's actions.
    fn additional_data(&self, w: &Webhook, payload: &Value) -> Value {
        let mut out = Map::new();
        let chat =
            webhooks::chat_of(payload).and_then(|id| self.lic.chats.iter().find(|c| c.id == id));
        if let Some(chat) = chat {
            if w.additional_data.iter().any(|a| a == "chat_properties") {
                out.insert("chat_properties".into(), json!(chat.properties));
            }
            if w.additional_data
                .iter()
                .any(|a| a == "chat_presence_user_ids")
            {
                out.insert(
                    "chat_presence_user_ids".into(),
                    json!(self.present_users(payload)),
                );
            }
        }
        Value::Object(out)
    }
}

/// The background sender: a bounded queue and one task that POSTs each delivery in order.
#[derive(Clone, Debug)]
pub struct Courier {
    tx: mpsc::Sender<Delivery>,
}

impl Courier {
    /// Starts the sending task on the current tokio runtime; `None` outside one (the
    /// deliveries then stay in the state's outbox).
    pub fn start() -> Option<Courier> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        // The server's TLS set-up: roots are read at the first HTTPS delivery, not at start.
        let tls = rustls::ClientConfig::clone(&crate::tls::client_config());
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(POST_TIMEOUT)
            .connect_timeout(POST_TIMEOUT)
            .user_agent(concat!("livechat-mcp-sandbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok()?;
        let (tx, rx) = mpsc::channel(QUEUE_LIMIT);
        runtime.spawn(run(rx, client));
        Some(Courier { tx })
    }

    /// Hands deliveries to the task without waiting; a full queue drops them with a warning.
    pub fn send(&self, deliveries: Vec<Delivery>) {
        for delivery in deliveries {
            match self.tx.try_send(delivery) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(d)) => tracing::warn!(
                    action = d.action(),
                    url = %d.url,
                    "the sandbox's webhook queue is full ({QUEUE_LIMIT}); delivery dropped"
                ),
                Err(mpsc::error::TrySendError::Closed(d)) => tracing::warn!(
                    action = d.action(),
                    url = %d.url,
                    "the sandbox's webhook sender has stopped; delivery dropped"
                ),
            }
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Delivery>, client: reqwest::Client) {
    while let Some(delivery) = rx.recv().await {
        if !is_loopback(&delivery.url) {
            tracing::warn!(
                action = delivery.action(),
                url = %delivery.url,
                "the sandbox delivers webhooks only to loopback addresses; delivery skipped"
            );
            continue;
        }
        // The body carries the webhook's secret: log the action and URL, never the body.
        match client.post(&delivery.url).json(&delivery.body).send().await {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(action = delivery.action(), url = %delivery.url, "webhook delivered");
            }
            Ok(r) => tracing::warn!(
                action = delivery.action(),
                url = %delivery.url,
                status = r.status().as_u16(),
                "webhook receiver refused the delivery"
            ),
            Err(e) => tracing::warn!(
                action = delivery.action(),
                url = %delivery.url,
                error = %e,
                "webhook delivery failed"
            ),
        }
    }
}

/// Whether `url`'s host is this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
pub fn is_loopback(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_loopback_receivers() {
        for url in [
            "http://127.0.0.1:8080/webhooks/livechat",
            "http://localhost/x",
            "https://[::1]:9/h",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://example.com/webhooks/livechat",
            "http://127.0.0.1.example.com/",
            "http://user@127.0.0.1/",
            "ftp://127.0.0.1/",
            "http://10.0.0.1/",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
