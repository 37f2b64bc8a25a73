//! `serve --events rtm`: a websocket to LiveChat's Agent Chat RTM API whose pushes become
//! events in the log, the same events webhooks make (same action names, same chat and
//! thread), so `get_events` reads them alike.
//!
//! - **Where.** `ws(s)://<Web API host>/v3.x/agent/rtm/ws?organization_id=…`: the Web API's
//!   base URL with `http→ws`, `https→wss` ([`rtm_url`]), so the region follows the Web API's.
//!   TLS is rustls with the ring provider and the platform's verifier, as reqwest's.
//! - **Login** with the credentials the Web API calls use (`Bearer …`, or `Basic …` for a
//!   PAT), `away: true` so that listening never makes the agent take chats. Bots cannot use
//!   RTM (LiveChat's rule): the caller refuses them before this starts.
//! - **Alive.** A `ping` action every 15 s (the docs: ping every 15 s, or the connection is
//!   closed after about 30 s); no frame at all for 45 s means the connection is dead.
//! - **Reconnects** with capped exponential backoff with full jitter (1 s doubling to 60 s),
//!   reset by a login that worked. `agent_disconnected` is handled by its reason, as the
//!   docs' table says: stop for `access_token_revoked`, `license_expired`, … (logged as an
//!   error), reconnect for `connection_timeout`, `internal_error`, ….
//! - **Pushes.** Each push is one event, keyed by its content as webhooks are
//!   ([`super::dedupe`]): the same change through a webhook or a second replica's socket is
//!   stored once. A push of an action the log has no area for
//!   is skipped; a frame that is not a push LiveChat would send (not JSON, not an object,
//!   too deep, too large, no action) is dropped with a warning, and the connection goes on.
//! - **Secrets.** The token is sent in `login` only; no log line, error or status carries it
//!   (errors from LiveChat are redacted of every form of it first).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::{Message, protocol::WebSocketConfig};
use tokio_util::sync::CancellationToken;

use super::{EventError, EventLog, NewEvent, event::chat_and_thread};
use crate::{
    config::{Credentials, Secret},
    version::ApiVersion,
};

/// How often the client pings (the docs: every 15 seconds).
pub const PING_EVERY: Duration = Duration::from_secs(15);
/// No frame at all for this long (three pings unanswered) and the connection is taken as dead.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// How long connecting, and then the login's answer, may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest frame read off the socket; bigger ones end the connection (and it reconnects).
pub const MAX_FRAME: usize = 8 << 20;
/// The largest push stored; bigger ones are dropped and the connection goes on.
pub const MAX_PUSH: usize = super::event::MAX_PAYLOAD_BYTES;
/// How long storing one push may take.
pub const STORE_BOUND: Duration = Duration::from_secs(1);

/// The RTM URL for a Web API base URL: `http→ws`, `https→wss`, then
/// `/v{version}/agent/rtm/ws?organization_id=…`.
pub fn rtm_url(
    api_url: &str,
    version: ApiVersion,
    organization_id: &str,
) -> Result<String, String> {
    let base = api_url.trim_end_matches('/');
    let host = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        return Err(format!(
            "the Web API URL `{}` is neither http:// nor https://, so the RTM URL cannot follow it",
            crate::config::url_without_credentials(base)
        ));
    };
    if organization_id.is_empty()
        || !organization_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err("the organization ID must be letters, digits and dashes".to_string());
    }
    Ok(format!(
        "{host}/v{version}/agent/rtm/ws?organization_id={organization_id}"
    ))
}

/// How the client backs off between attempts.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before attempt `failures` (1 for the first retry): a random time up to
    /// `first · 2^(failures-1)`, capped at `max` ("full jitter"), and at least 50 ms.
    pub fn delay(&self, failures: u32) -> Duration {
        let ceiling = self
            .first
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(self.max);
        let millis = u64::try_from(ceiling.as_millis())
            .unwrap_or(u64::MAX)
            .max(50);
        Duration::from_millis(rand::random_range(50..=millis))
    }
}

/// What the RTM client is to do.
#[derive(Clone)]
pub struct RtmOptions {
    /// From [`rtm_url`].
    pub url: String,
    pub version: ApiVersion,
    pub credentials: Credentials,
    pub backoff: Backoff,
    pub ping_every: Duration,
}

impl std::fmt::Debug for RtmOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtmOptions")
            .field("url", &self.url)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What the client has done so far, for `/healthz`-like reports and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RtmStatus {
    /// Logins that worked.
    pub logins: u64,
    /// Attempts that failed (connecting, logging in, or a connection lost).
    pub failures: u64,
    /// Pushes stored as new events.
    pub stored: u64,
    /// Frames dropped (not a push LiveChat would send, or not storable).
    pub dropped: u64,
    /// Why the last attempt failed, redacted.
    pub last_error: Option<String>,
    /// The client stopped for good (an `agent_disconnected` reason that says not to
    /// reconnect); why.
    pub stopped: Option<String>,
}

/// A running RTM client; dropping it stops the client.
pub struct RtmHandle {
    status: watch::Receiver<RtmStatus>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RtmHandle {
    pub fn status(&self) -> watch::Receiver<RtmStatus> {
        self.status.clone()
    }

    /// Stops the client and waits for its task.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RtmHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Starts the client on the current runtime: it connects, logs in and stores pushes into
/// `log` until stopped.
pub fn spawn(options: RtmOptions, log: EventLog) -> RtmHandle {
    let (tx, rx) = watch::channel(RtmStatus::default());
    let cancel = CancellationToken::new();
    let client = Client {
        secrets: secret_forms(&options.credentials),
        options,
        log,
        status: tx,
    };
    let task = tokio::spawn(client.run(cancel.clone()));
    RtmHandle {
        status: rx,
        cancel,
        task: Some(task),
    }
}

struct Client {
    options: RtmOptions,
    log: EventLog,
    status: watch::Sender<RtmStatus>,
    /// Every form of the token, to redact.
    secrets: Vec<String>,
}

/// Why a connection ended.
enum End {
    /// Try again after a backoff.
    Retry(String),
    /// Reconnect at once (a reason that asks for it after a good session).
    Reconnect(String),
    /// Do not reconnect.
    Stop(String),
    Cancelled,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Client {
    async fn run(self, cancel: CancellationToken) {
        let mut failures: u32 = 0;
        loop {
            let mut logged_in = false;
            let end = tokio::select! {
                () = cancel.cancelled() => End::Cancelled,
                end = self.session(&mut logged_in) => end,
            };
            if logged_in {
                failures = 0;
            }
            match end {
                End::Cancelled => return,
                End::Stop(why) => {
                    tracing::error!(
                        "RTM events stopped: {why}; get_events gets no new events until the server restarts"
                    );
                    self.status.send_modify(|s| s.stopped = Some(why));
                    return;
                }
                End::Reconnect(why) => {
                    tracing::info!("RTM connection ended ({why}); reconnecting");
                }
                End::Retry(why) => {
                    failures = failures.saturating_add(1);
                    let wait = self.options.backoff.delay(failures);
                    tracing::warn!(
                        "RTM connection failed ({why}); retrying in {} ms",
                        wait.as_millis()
                    );
                    self.status.send_modify(|s| {
                        s.failures += 1;
                        s.last_error = Some(why);
                    });
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    /// `text` with every form of the token replaced.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for form in &self.secrets {
            out = out.replace(form.as_str(), "[REDACTED]");
        }
        out
    }

    async fn connect(&self) -> Result<Socket, String> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let connector = if self.options.url.starts_with("wss://") {
            Some(tokio_tungstenite::Connector::Rustls(
                crate::tls::client_config(),
            ))
        } else {
            None
        };
        let connecting = tokio_tungstenite::connect_async_tls_with_config(
            self.options.url.as_str(),
            Some(config),
            true,
            connector,
        );
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok((socket, _))) => Ok(socket),
            Ok(Err(e)) => Err(format!(
                "cannot connect to {}: {}",
                self.shown_url(),
                self.redact(&e.to_string())
            )),
            Err(_) => Err(format!(
                "no connection to {} within {} s",
                self.shown_url(),
                CONNECT_TIMEOUT.as_secs()
            )),
        }
    }

    /// The URL as logs show it (it carries no secret, only the organization).
    fn shown_url(&self) -> String {
        crate::config::url_without_credentials(&self.options.url)
    }

    async fn session(&self, logged_in: &mut bool) -> End {
        let mut socket = match self.connect().await {
            Ok(socket) => socket,
            Err(why) => return End::Retry(why),
        };
        if let Err(end) = self.login(&mut socket).await {
            return end;
        }
        *logged_in = true;
        self.status.send_modify(|s| s.logins += 1);
        tracing::info!("RTM: logged in at {}", self.shown_url());
        let mut ping = tokio::time::interval(self.options.ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut heard = tokio::time::Instant::now();
        let silence = SILENCE_LIMIT.max(self.options.ping_every * 3);
        loop {
            tokio::select! {
                _ = ping.tick() => {
                    if heard.elapsed() > silence {
                        return End::Retry(format!("nothing heard for {} s", silence.as_secs()));
                    }
                    let frame = json!({"action": "ping", "payload": {}});
                    if let Err(e) = socket.send(Message::Text(frame.to_string().into())).await {
                        return End::Retry(format!("the connection was lost: {e}"));
                    }
                }
                message = socket.next() => {
                    heard = tokio::time::Instant::now();
                    match message {
                        None => return End::Retry("the server closed the connection".to_string()),
                        Some(Err(e)) => return End::Retry(format!("the connection was lost: {e}")),
                        Some(Ok(Message::Close(_))) => return End::Retry("the server closed the connection".to_string()),
                        Some(Ok(Message::Text(text))) => {
                            if let Some(end) = self.frame(text.as_str()).await {
                                return end;
                            }
                        }
                        Some(Ok(Message::Binary(_))) => self.drop_frame("a binary frame"),
                        Some(Ok(_)) => {}
                    }
                }
            }
        }
    }

    async fn login(&self, socket: &mut Socket) -> Result<(), End> {
        let authorization = self.options.credentials.authorization();
        let frame = json!({
            "request_id": "login",
            "action": "login",
            "payload": {
                "token": authorization.expose(),
                "away": true,
                "application": {"name": "livechat-mcp", "version": env!("CARGO_PKG_VERSION")},
            },
        });
        socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .map_err(|e| End::Retry(format!("the connection was lost: {e}")))?;
        let answer = async {
            while let Some(message) = socket.next().await {
                let Ok(Message::Text(text)) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if value["type"] == "response" && value["action"] == "login" {
                    return Some(value);
                }
            }
            None
        };
        let answer = match tokio::time::timeout(CONNECT_TIMEOUT, answer).await {
            Ok(Some(answer)) => answer,
            Ok(None) => {
                return Err(End::Retry(
                    "the connection closed before login was answered".to_string(),
                ));
            }
            Err(_) => {
                return Err(End::Retry(format!(
                    "login was not answered within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        };
        if answer["success"] == true {
            return Ok(());
        }
        let error = &answer["payload"]["error"];
        let kind = error["type"].as_str().unwrap_or("unknown");
        let message = self.redact(error["message"].as_str().unwrap_or("no message"));
        Err(End::Retry(format!(
            "LiveChat refused the RTM login: {kind}: {message}"
        )))
    }

    fn drop_frame(&self, what: &str) {
        tracing::warn!("RTM: dropped {what}");
        self.status.send_modify(|s| s.dropped += 1);
    }

    /// Handles one text frame; `Some` ends the connection.
    async fn frame(&self, text: &str) -> Option<End> {
        if text.len() > MAX_PUSH {
            self.drop_frame(&format!(
                "a frame of {} bytes (over {MAX_PUSH})",
                text.len()
            ));
            return None;
        }
        let Ok(Value::Object(mut frame)) = serde_json::from_str::<Value>(text) else {
            self.drop_frame("a frame that is not a JSON object (or nests too deep)");
            return None;
        };
        if frame.get("type").and_then(Value::as_str) != Some("push") {
            // Responses (to pings) need nothing more.
            return None;
        }
        let Some(action) = frame
            .get("action")
            .and_then(Value::as_str)
            .filter(|a| {
                !a.is_empty()
                    && a.len() <= 64
                    && a.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            })
            .map(str::to_string)
        else {
            self.drop_frame("a push without a proper action name");
            return None;
        };
        let payload = match frame.remove("payload") {
            Some(Value::Object(payload)) => payload,
            None | Some(Value::Null) => Map::new(),
            // `queue_positions_updated` carries a list; the log keeps no such action anyway.
            Some(_) if super::area_of(&action).is_none() => return None,
            Some(_) => {
                self.drop_frame(&format!("a `{action}` push whose payload is not an object"));
                return None;
            }
        };
        if action == "agent_disconnected" {
            return Some(disconnected(&payload));
        }
        if super::area_of(&action).is_none() {
            tracing::debug!(%action, "RTM push of an action the event log does not keep");
            return None;
        }
        let (chat_id, thread_id) = chat_and_thread(&payload);
        // Keyed by content as webhooks are: the same event through a webhook, or through a
        // second replica's socket, is stored once.
        let (dedupe, earlier) =
            super::dedupe::content_keys(&action, &payload, chrono::Utc::now().timestamp_millis());
        let event = NewEvent {
            action: action.clone(),
            chat_id,
            thread_id,
            dedupe,
            earlier: Some(earlier),
            payload: json!({
                "action": action,
                "version": frame.get("version").cloned().unwrap_or(Value::Null),
                "source": "rtm",
                "payload": payload,
            }),
        };
        match tokio::time::timeout(STORE_BOUND, self.log.append(event)).await {
            Ok(Ok(_)) => self.status.send_modify(|s| s.stored += 1),
            Ok(Err(EventError::Invalid { field, problem })) => {
                self.drop_frame(&format!("a `{action}` push: `{field}` {problem}"));
            }
            Ok(Err(e)) => {
                tracing::warn!(%action, "an RTM push could not be stored (it is lost): {e}");
                self.status.send_modify(|s| s.dropped += 1);
            }
            Err(_) => {
                tracing::warn!(%action, "an RTM push was not stored within {} s (it is lost)", STORE_BOUND.as_secs());
                self.status.send_modify(|s| s.dropped += 1);
            }
        }
        None
    }
}

/// What `agent_disconnected` asks for, by the docs' table of reasons.
fn disconnected(payload: &Map<String, Value>) -> End {
    let reason = payload
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect::<String>();
    let why = format!("LiveChat disconnected the agent: {reason}");
    match reason.as_str() {
        "connection_timeout"
        | "internal_error"
        | "role_permissions_changed"
        | "too_many_unauthorized_connections" => End::Reconnect(why),
        // The token will not have renewed itself: retry with backoff, and say so.
        "access_token_expired" => End::Retry(format!("{why} (renew the token)")),
        "misdirected_connection" => {
            let region = payload
                .get("data")
                .and_then(|d| d.get("region"))
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(16)
                .collect::<String>();
            End::Stop(format!(
                "{why} (the agent's region is `{region}`; point --api-url at it)"
            ))
        }
        "agent_disconnected_by_server"
        | "agent_logged_out_remotely"
        | "access_token_revoked"
        | "connection_evicted"
        | "license_expired"
        | "license_not_found"
        | "unsupported_version"
        | "too_many_connections" => End::Stop(why),
        // A reason the docs do not list: try again, with backoff.
        _ => End::Retry(why),
    }
}

/// Every form of the credentials: the header value, its encoded part, the raw token or PAT.
fn secret_forms(credentials: &Credentials) -> Vec<String> {
    let header: Secret = credentials.authorization();
    let mut forms = vec![header.expose().to_string()];
    if let Some((_, encoded)) = header.expose().split_once(' ') {
        forms.push(encoded.to_string());
    }
    match credentials {
        Credentials::Bearer(token) => forms.push(token.expose().to_string()),
        Credentials::PersonalAccessToken { pat, .. } => forms.push(pat.expose().to_string()),
    }
    forms.retain(|f| f.len() >= 4);
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_follows_the_web_apis() {
        assert_eq!(
            rtm_url(
                "https://api.livechatinc.com/",
                ApiVersion::V3_6,
                "390e44e6-f1e6"
            )
            .unwrap(),
            "wss://api.livechatinc.com/v3.6/agent/rtm/ws?organization_id=390e44e6-f1e6"
        );
        assert_eq!(
            rtm_url("http://127.0.0.1:8035", ApiVersion::V3_5, "abc").unwrap(),
            "ws://127.0.0.1:8035/v3.5/agent/rtm/ws?organization_id=abc"
        );
        assert!(rtm_url("ftp://x", ApiVersion::V3_6, "a").is_err());
        assert!(rtm_url("https://x", ApiVersion::V3_6, "a&b=c").is_err());
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let b = Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        for failures in [1, 2, 5, 10, 40, u32::MAX] {
            let cap = Duration::from_secs(1u64 << (failures - 1).min(6)).min(b.max);
            for _ in 0..50 {
                let d = b.delay(failures);
                assert!(
                    d >= Duration::from_millis(50) && d <= cap,
                    "{failures}: {d:?}"
                );
            }
        }
        let spread: std::collections::BTreeSet<_> = (0..50).map(|_| b.delay(6)).collect();
        assert!(spread.len() > 10, "jittered: {spread:?}");
    }

    #[test]
    fn each_disconnect_reason_is_handled_as_the_docs_say() {
        let end = |reason: &str| disconnected(json!({"reason": reason}).as_object().unwrap());
        for r in [
            "connection_timeout",
            "internal_error",
            "role_permissions_changed",
            "too_many_unauthorized_connections",
        ] {
            assert!(matches!(end(r), End::Reconnect(_)), "{r}");
        }
        for r in [
            "agent_disconnected_by_server",
            "agent_logged_out_remotely",
            "access_token_revoked",
            "connection_evicted",
            "license_expired",
            "license_not_found",
            "unsupported_version",
            "too_many_connections",
            "misdirected_connection",
        ] {
            assert!(matches!(end(r), End::Stop(_)), "{r}");
        }
        assert!(matches!(end("access_token_expired"), End::Retry(_)));
        assert!(matches!(end("\u{1b}[31mevil"), End::Retry(why) if !why.contains('\u{1b}')));
        let misdirected = disconnected(
            json!({"reason": "misdirected_connection", "data": {"region": "fra"}})
                .as_object()
                .unwrap(),
        );
        assert!(matches!(misdirected, End::Stop(why) if why.contains("`fra`")));
    }
}
