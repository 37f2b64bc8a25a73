//! The one HTTP path to LiveChat: waits for the limiter, builds the URL, sets auth and region
//! headers, retries what is safe to retry within the call's budget, and decodes a result or an
//! error envelope. Tools never touch reqwest.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{
    bots::BotSession,
    config::{Credentials, Secret, Settings, url_without_credentials},
    error::{ApiError, ErrorType, StartError},
    limiter::{Limiter, Refused},
    retry::{self, Cause},
    scopes::Granted,
    tools::{Access, Api},
    version::ApiVersion,
};

/// A LiveChat Web API client for one base URL, version and identity.
#[derive(Clone, Debug)]
pub struct ApiClient {
    /// Built at the first request, by whichever clone makes it. Its TLS set-up
    /// ([`crate::tls`]) reads the system's root certificates only at the first handshake.
    http: Arc<OnceLock<reqwest::Client>>,
    api_url: String,
    accounts_url: String,
    version: ApiVersion,
    credentials: Result<Credentials, String>,
    timeout: Duration,
    max_response_bytes: usize,
    /// The forms of the credentials redacted from every answer, worked out once.
    secret_forms: Vec<String>,
    /// The bot this client's calls act as: its token replaces `credentials`, which then
    /// hold only why there are none of the server's.
    bot: Option<Arc<BotSession>>,
}

impl ApiClient {
    /// Never fails: the HTTP client it sends with is built at the first request.
    pub fn new(settings: &Settings) -> ApiClient {
        ApiClient {
            http: Arc::default(),
            api_url: settings.api_url.trim_end_matches('/').to_string(),
            accounts_url: settings.accounts_url.trim_end_matches('/').to_string(),
            version: settings.version,
            credentials: settings.credentials.clone(),
            timeout: settings.timeout,
            max_response_bytes: settings.max_response_bytes,
            secret_forms: settings
                .credentials
                .as_ref()
                .map(secret_forms)
                .unwrap_or_default(),
            bot: None,
        }
    }

    /// The same client acting as `bot`: every call goes with the bot's token and nothing
    /// else.
    pub fn with_bot(mut self, bot: Arc<BotSession>) -> ApiClient {
        self.credentials = Err(format!(
            "calls act as {}: only its bot token is used",
            bot.label()
        ));
        self.secret_forms.clear();
        self.bot = Some(bot);
        self
    }

    /// The credentials for the next request, and every form of them (and of the bot's
    /// secret) to redact from what comes back: the bot's current token, or the client's own.
    /// Borrowed for the client's own credentials, so the per-call path copies nothing.
    async fn current_credentials(
        &self,
    ) -> Result<(Cow<'_, Credentials>, Cow<'_, [String]>), ApiError> {
        let Some(bot) = &self.bot else {
            return match &self.credentials {
                Ok(credentials) => Ok((
                    Cow::Borrowed(credentials),
                    Cow::Borrowed(&self.secret_forms),
                )),
                Err(message) => Err(ApiError::NoCredentials(message.clone())),
            };
        };
        // Boxed: issuing the token is itself a call through this client.
        let token = Box::pin(bot.token()).await?;
        let (credentials, forms) = bot_credentials(bot, &token);
        Ok((Cow::Owned(credentials), Cow::Owned(forms)))
    }

    pub fn version(&self) -> ApiVersion {
        self.version
    }

    /// The HTTP client, built at the first request; then nothing is sent, and the next
    /// request tries again, if reqwest cannot be set up.
    fn http(&self) -> Result<&reqwest::Client, String> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let built = reqwest::Client::builder()
            .tls_backend_preconfigured(rustls::ClientConfig::clone(&crate::tls::client_config()))
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .tcp_nodelay(true)
            .user_agent(concat!("livechat-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StartError::HttpClient(e.to_string()).to_string())?;
        // Two first requests at once build two; one is kept and both use it.
        Ok(self.http.get_or_init(|| built))
    }

    /// The credentials this client's calls use, for the RTM API's `login`; `None` for a bot's
    /// client (bots cannot use RTM) or one without credentials.
    pub fn own_credentials(&self) -> Option<&Credentials> {
        match (&self.bot, &self.credentials) {
            (None, Ok(credentials)) => Some(credentials),
            _ => None,
        }
    }

    /// The Web API base URL.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Why this client cannot call LiveChat (it has no usable credentials), if it cannot.
    pub fn credentials_problem(&self) -> Option<&str> {
        // A bot's client has its bot's tokens instead.
        if self.bot.is_some() {
            return None;
        }
        self.credentials.as_ref().err().map(String::as_str)
    }

    /// The URL of a method: `{api_url}/v{version}/{agent|configuration}/action/{method}`.
    pub fn url(&self, api: Api, method: &str) -> String {
        format!(
            "{}/v{}/{}/action/{method}",
            self.api_url,
            self.version,
            api.as_str()
        )
    }

    /// Calls `method` with `body` once the limiter (if any) gives it a turn, retrying what is
    /// safe to retry, and returns LiveChat's JSON answer. A plain call with no limiter, no
    /// deadline to speak of and nothing to cancel it: see [`ApiClient::deliver`].
    pub async fn call(&self, api: Api, method: &str, body: &Value) -> Result<Value, ApiError> {
        self.call_body(api, method, &Body::Json(body.clone())).await
    }

    /// [`ApiClient::call`] with any body: JSON, or a form (`upload_file`).
    pub async fn call_body(&self, api: Api, method: &str, body: &Body) -> Result<Value, ApiError> {
        let cancel = CancellationToken::new();
        let plan = Plan::new(Access::Read, Duration::ZERO, None, &cancel);
        self.deliver(api, method, body, &plan).await.result
    }

    /// Sends a call to LiveChat as `plan` allows: each request waits for the limiter, failures
    /// LiveChat or the network may recover from are retried with backoff while the budget
    /// lasts (for a write only when LiveChat provably did not carry it out), and waits report
    /// to `plan.on_wait`. A read is dropped at once when `plan.cancel` fires; a write already
    /// sent is left to finish, since its outcome must be known.
    pub async fn deliver(&self, api: Api, method: &str, body: &Body, plan: &Plan<'_>) -> Delivered {
        let mut out = Delivered::default();
        let (mut credentials, mut forms) = match self.current_credentials().await {
            Ok(current) => current,
            Err(error) => return out.ends(Err(error)),
        };
        let mut reissued = false;
        let url = self.url(api, method);
        let mut region = credentials.region().map(str::to_string);
        let mut region_switched = false;
        let mut retries = 0u32;
        let mut sent = false;
        loop {
            let slot = match plan.limiter {
                None => None,
                Some(limiter) => {
                    let asked = Instant::now();
                    let turn = self
                        .wait_for(
                            plan,
                            "a turn under the license's request quota",
                            limiter.acquire(plan.deadline),
                        )
                        .await;
                    let waited = asked.elapsed();
                    out.limiter_wait += waited;
                    out.waited += waited;
                    if waited >= Duration::from_millis(100) {
                        tracing::info!(
                            method,
                            waited_ms = waited.as_millis() as u64,
                            "waited for a turn under the license's request quota"
                        );
                    }
                    match turn {
                        None => return out.ends(Err(ApiError::Cancelled { sent })),
                        Some(Ok(slot)) => Some(slot),
                        Some(Err(refused)) => {
                            // A retry that gets no turn ends with the failure it was retrying.
                            let error = match std::mem::replace(&mut out.result, Ok(Value::Null)) {
                                Err(last) => {
                                    gave_up(last, out.attempts, Some(throttled_wait(&refused)))
                                }
                                Ok(_) => throttled(&refused, plan.budget),
                            };
                            return out.ends(Err(error));
                        }
                    }
                }
            };
            out.attempts += 1;
            // The first request has the whole per-request timeout; a retry only what is left
            // of the budget, so retrying never makes a call outlive it.
            let timeout = match (out.attempts, out.retries.last()) {
                (1, _) | (_, Some(Cause::Misdirected)) => self.timeout,
                _ => self.timeout.min(remaining(plan.deadline)).max(MIN_ATTEMPT),
            };
            let request = self.send(&url, &credentials, &forms, region.as_deref(), body, timeout);
            let (result, asked_wait) = if plan.access == Access::Write {
                request.await
            } else {
                tokio::select! {
                    answer = request => answer,
                    _ = plan.cancel.cancelled() => {
                        return out.ends(Err(ApiError::Cancelled { sent: true }));
                    }
                }
            };
            drop(slot);
            let error = match result {
                Ok(value) => return out.ends(Ok(value)),
                Err(error) => error,
            };
            // A bot token LiveChat refuses (expired early, or the bot's secret was replaced)
            // is replaced once. LiveChat did nothing with the refused request, so sending it
            // again is safe for a write too.
            if let Some(bot) = &self.bot
                && !reissued
                && is_authentication(&error)
                && let Credentials::Bearer(stale) = credentials.as_ref()
            {
                reissued = true;
                tracing::info!(method, bot = %bot.label(), "LiveChat refused the bot token; issuing a new one and sending again");
                match Box::pin(bot.reissue(stale)).await {
                    Ok(token) => {
                        let (fresh, fresh_forms) = bot_credentials(bot, &token);
                        (credentials, forms) = (Cow::Owned(fresh), Cow::Owned(fresh_forms));
                    }
                    Err(e) => return out.ends(Err(e)),
                }
                continue;
            }
            let Some(cause) = retry::cause(&error) else {
                return out.ends(Err(error));
            };
            sent |= !cause.never_executed();
            if plan.access == Access::Write && !cause.never_executed() {
                return out.ends(Err(error));
            }
            let wait = match cause {
                Cause::Misdirected => match named_region(&error) {
                    Some(named) if !region_switched => {
                        region = Some(named);
                        region_switched = true;
                        Duration::ZERO
                    }
                    _ => return out.ends(Err(error)),
                },
                _ => {
                    retries += 1;
                    asked_wait.unwrap_or_else(|| retry::backoff(retries, rand::random()))
                }
            };
            // The quota is the license's: while LiveChat refuses, no call of this server (or
            // of the servers sharing its bucket) should go either, retried or not.
            if cause == Cause::RateLimited
                && let Some(limiter) = plan.limiter
            {
                limiter.pause(wait);
            }
            // The move to the named region is not a retry of the same request, so it does not
            // count against the budget; anything else must fit, with time left to answer.
            let spent = cause != Cause::Misdirected
                && (retries > MAX_RETRIES || Instant::now() + wait + MIN_ATTEMPT > plan.deadline);
            if spent {
                let attempts = out.attempts;
                return out.ends(Err(gave_up(error, attempts, Some(wait))));
            }
            tracing::info!(
                method,
                attempt = out.attempts,
                cause = cause.as_str(),
                wait_ms = wait.as_millis() as u64,
                region = region.as_deref(),
                "retrying: {}",
                error.kind()
            );
            out.retries.push(cause);
            out.result = Err(error);
            let slept = Instant::now();
            let done = self
                .wait_for(
                    plan,
                    "LiveChat to accept the request again",
                    tokio::time::sleep(wait),
                )
                .await;
            out.waited += slept.elapsed();
            if done.is_none() {
                return out.ends(Err(ApiError::Cancelled { sent }));
            }
        }
    }

    /// Waits for `future`, telling `plan.on_wait` every second once a second has passed;
    /// `None` when the call is cancelled first.
    async fn wait_for<F: std::future::Future>(
        &self,
        plan: &Plan<'_>,
        what: &str,
        future: F,
    ) -> Option<F::Output> {
        let started = Instant::now();
        let mut ticks =
            tokio::time::interval_at(started + Duration::from_secs(1), Duration::from_secs(1));
        tokio::pin!(future);
        loop {
            tokio::select! {
                output = &mut future => return Some(output),
                _ = plan.cancel.cancelled() => return None,
                _ = ticks.tick() => {
                    if let Some(on_wait) = plan.on_wait {
                        on_wait(started.elapsed(), what);
                    }
                }
            }
        }
    }

    /// The scopes of the token, from `GET {accounts_url}/v2/info`, whose `scope` is one
    /// comma-separated string. The error says why they could not be read, never the token.
    pub async fn token_scopes(&self) -> Result<Granted, String> {
        // A bot token's scopes are fixed by LiveChat, whatever the accounts service says.
        if self.bot.is_some() {
            return Ok(Granted::parse_list(crate::bots::session::BOT_TOKEN_SCOPES));
        }
        let (info, url, status) = self.token_info().await?;
        let scope = info.get("scope").and_then(Value::as_str).ok_or_else(|| {
            format!("{url} answered HTTP {status} without a `scope` (is the token valid?)")
        })?;
        Ok(Granted::parse_list(scope))
    }

    /// The organization the credentials belong to (`organization_id` of `GET
    /// {accounts_url}/v2/info`): bot tokens are issued within it.
    pub async fn organization_id(&self) -> Result<String, String> {
        let (info, url, status) = self.token_info().await?;
        info.get("organization_id")
            .and_then(Value::as_str)
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("{url} answered HTTP {status} without an `organization_id`"))
    }

    /// `GET {accounts_url}/v2/info` with the current credentials: the answer (redacted), the
    /// URL as it may be shown, and the HTTP status.
    async fn token_info(&self) -> Result<(Value, String, u16), String> {
        let (credentials, forms) = self.current_credentials().await.map_err(|e| match e {
            ApiError::NoCredentials(message) => message,
            other => other.kind().as_str().to_string(),
        })?;
        let mut auth = HeaderValue::from_str(credentials.authorization().expose())
            .map_err(|_| "the credentials cannot be sent in a header".to_string())?;
        auth.set_sensitive(true);
        let target = format!("{}/v2/info", self.accounts_url);
        // Errors name the URL; the command line refuses one with user info, a library caller
        // may not have.
        let url = url_without_credentials(&target);
        let http = self.http().map_err(|why| format!("{url}: {why}"))?;
        let response = http
            .get(&target)
            .header(AUTHORIZATION, auth)
            .send()
            .await
            .map_err(|e| match self.transport_error(e, self.timeout) {
                ApiError::Network(detail)
                | ApiError::Unreachable(detail)
                | ApiError::Untrusted(detail) => {
                    format!("{url}: {detail}")
                }
                ApiError::Timeout { secs } => format!("{url}: no answer within {secs} s"),
                other => format!("{url}: {}", other.kind()),
            })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|_| format!("{url} answered HTTP {status}, but the answer broke off"))?;
        // The scopes are printed by `doctor`: an answer echoing the token must not be.
        let redacted = redact_forms(&bytes, &forms);
        let mut info: Value = serde_json::from_slice(&redacted)
            .map_err(|_| format!("{url} answered HTTP {status} without JSON"))?;
        redact_decoded(&mut info, &redacted, &forms);
        Ok((info, url, status))
    }

    /// One request; with the wait the answer asked for before the next, if it asked.
    async fn send(
        &self,
        url: &str,
        credentials: &Credentials,
        forms: &[String],
        region: Option<&str>,
        body: &Body,
        timeout: Duration,
    ) -> (Result<Value, ApiError>, Option<Duration>) {
        let mut asked = None;
        let result = self
            .send_once(url, credentials, forms, region, body, timeout, &mut asked)
            .await;
        (result, asked)
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_once(
        &self,
        url: &str,
        credentials: &Credentials,
        forms: &[String],
        region: Option<&str>,
        body: &Body,
        timeout: Duration,
        asked: &mut Option<Duration>,
    ) -> Result<Value, ApiError> {
        let mut auth =
            HeaderValue::from_str(credentials.authorization().expose()).map_err(|_| {
                ApiError::NoCredentials(
                    "the LiveChat credentials contain characters that cannot be sent in a header"
                        .to_string(),
                )
            })?;
        auth.set_sensitive(true);
        let (content_type, bytes) = match body {
            Body::Json(value) => ("application/json".to_string(), value.to_string().into()),
            // The bytes are shared, not copied, by each attempt.
            Body::Multipart(form) => (form.content_type.clone(), form.body.clone()),
        };
        let mut request = self
            .http()
            .map_err(ApiError::Unreachable)?
            .post(url)
            .header(AUTHORIZATION, auth)
            .header(CONTENT_TYPE, content_type)
            .timeout(timeout)
            .body(reqwest::Body::from(bytes));
        if let Some(region) = region {
            request = request.header("X-Region", region);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| self.transport_error(e, timeout))?;
        let status = response.status().as_u16();
        *asked = retry::asked_wait(response.headers(), SystemTime::now());
        let max = self.max_response_bytes;
        let too_large = |declared| ApiError::TooLarge { declared, max };
        if let Some(declared) = response.content_length().filter(|&n| n > max as u64) {
            return Err(too_large(Some(declared)));
        }
        // Read chunk by chunk, so an answer without a length is never held past the cap.
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(e, timeout))?
        {
            if bytes.len() + chunk.len() > max {
                return Err(too_large(None));
            }
            bytes.extend_from_slice(&chunk);
        }
        decode_with(status, &redact_forms(&bytes, forms), forms)
    }

    fn transport_error(&self, error: reqwest::Error, timeout: Duration) -> ApiError {
        // A connection that could not be opened (refused, DNS, TLS, connect timeout) carried
        // nothing, which is what lets a write be sent again.
        let connect = error.is_connect();
        if error.is_timeout() && !connect {
            return ApiError::Timeout {
                secs: timeout.as_secs_f64().ceil() as u64,
            };
        }
        let what = if error.is_connect() {
            "connection failed"
        } else if error.is_body() || error.is_decode() {
            "the answer broke off"
        } else {
            "request failed"
        };
        // Walk the source chain for the root cause (e.g. "Connection refused"); the URL is
        // left out on purpose, it adds nothing the user did not configure.
        let mut detail = what.to_string();
        let mut source = std::error::Error::source(&error);
        let mut last = None;
        while let Some(s) = source {
            last = Some(s.to_string());
            source = s.source();
        }
        if let Some(root) = last {
            detail.push_str(&format!(" ({root})"));
        }
        if certificate_refused(&error) {
            ApiError::Untrusted(detail)
        } else if connect {
            ApiError::Unreachable(detail)
        } else {
            ApiError::Network(detail)
        }
    }
}

/// What a request carries: JSON, as every method but one takes, or a `multipart/form-data`
/// form (`upload_file`).
#[derive(Clone, Debug)]
pub enum Body {
    Json(Value),
    Multipart(crate::upload::Multipart),
}

/// The retries of one call are bounded by its budget; this only stops a budget set very large
/// from meaning hundreds of requests.
const MAX_RETRIES: u32 = 8;

/// The least time a retry is given to be answered: one that would have less is not sent.
const MIN_ATTEMPT: Duration = Duration::from_millis(250);

/// Told, every second of a wait longer than one, how long the call has waited and for what.
pub type OnWait = dyn Fn(Duration, &str) + Send + Sync;

/// How one call may use the network: see [`ApiClient::deliver`].
pub struct Plan<'a> {
    pub access: Access,
    /// No wait or retry may end after it.
    pub deadline: Instant,
    /// The retry budget the deadline came from, for messages.
    pub budget: Duration,
    pub limiter: Option<&'a Limiter>,
    pub cancel: &'a CancellationToken,
    /// Told, every second of a wait longer than one, how long it has waited and for what.
    pub on_wait: Option<&'a OnWait>,
}

impl<'a> Plan<'a> {
    /// A plan with `budget` from now, no progress reports.
    pub fn new(
        access: Access,
        budget: Duration,
        limiter: Option<&'a Limiter>,
        cancel: &'a CancellationToken,
    ) -> Plan<'a> {
        Plan {
            access,
            deadline: Instant::now() + budget,
            budget,
            limiter,
            cancel,
            on_wait: None,
        }
    }
}

/// What [`ApiClient::deliver`] did: the answer, and how it got it.
#[derive(Debug)]
pub struct Delivered {
    pub result: Result<Value, ApiError>,
    /// Requests tried (one refused at connection counts).
    pub attempts: u32,
    /// Time spent waiting: for the limiter, and between attempts.
    pub waited: Duration,
    /// The part of `waited` spent waiting for the limiter.
    pub limiter_wait: Duration,
    /// Why each retry was made, in order.
    pub retries: Vec<Cause>,
}

impl Default for Delivered {
    fn default() -> Delivered {
        Delivered {
            result: Ok(Value::Null),
            attempts: 0,
            waited: Duration::ZERO,
            limiter_wait: Duration::ZERO,
            retries: Vec::new(),
        }
    }
}

impl Delivered {
    fn ends(mut self, result: Result<Value, ApiError>) -> Delivered {
        self.result = result;
        self
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// The error a call ends with when its budget ran out on `last`: for the license's quota, one
/// that says so and when to try again.
fn gave_up(last: ApiError, attempts: u32, next_wait: Option<Duration>) -> ApiError {
    match retry::cause(&last) {
        // A backoff may be a few milliseconds; telling a model to retry that soon invites
        // the burst the wait is for.
        Some(Cause::RateLimited) => ApiError::QuotaExhausted {
            attempts,
            retry_in: next_wait.map(|wait| wait.max(Duration::from_secs(1))),
        },
        _ => last,
    }
}

fn throttled(refused: &Refused, budget: Duration) -> ApiError {
    ApiError::Throttled {
        needed: throttled_wait(refused),
        budget,
        queue_full: matches!(refused, Refused::QueueFull { .. }),
    }
}

fn throttled_wait(refused: &Refused) -> Duration {
    match refused {
        Refused::WouldWait { needed } => *needed,
        Refused::QueueFull { .. } => Duration::from_secs(1),
    }
}

fn named_region(error: &ApiError) -> Option<String> {
    let ApiError::LiveChat { data, .. } = error else {
        return None;
    };
    data.as_ref()?
        .get("region")?
        .as_str()
        .filter(|r| !r.is_empty() && r.len() <= 16)
        .map(str::to_string)
}

/// What an echoed credential becomes in an answer.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not redacted: no LiveChat token, PAT or Basic value is this
/// short, and replacing a few common letters would mangle every answer.
const MIN_REDACTED_LEN: usize = 8;

/// The forms in which `credentials` could come back in an answer, longest first so a header
/// value is replaced whole before the token inside it: the `Authorization` value, the base64
/// of `account:pat`, the token or PAT itself, each also with `/` escaped as `\/` (a JSON
/// encoder may write it so).
/// A bot's token as credentials, with what to redact: the token's forms and the bot's
/// secret.
fn bot_credentials(bot: &BotSession, token: &Secret) -> (Credentials, Vec<String>) {
    let credentials = Credentials::Bearer(token.clone());
    let mut forms = secret_forms(&credentials);
    forms.push(bot.secret().expose().to_string());
    forms.retain(|f| f.len() >= MIN_REDACTED_LEN);
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    (credentials, forms)
}

fn is_authentication(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::LiveChat {
            kind: ErrorType::Authentication,
            ..
        }
    )
}

fn secret_forms(credentials: &Credentials) -> Vec<String> {
    let header = credentials.authorization();
    let header = header.expose();
    let mut forms = vec![header.to_string()];
    if let Some((_, encoded)) = header.split_once(' ') {
        forms.push(encoded.to_string());
    }
    match credentials {
        Credentials::Bearer(token) => forms.push(token.expose().to_string()),
        Credentials::PersonalAccessToken { pat, .. } => forms.push(pat.expose().to_string()),
    }
    let escaped: Vec<String> = forms
        .iter()
        .filter(|f| f.contains('/'))
        .map(|f| f.replace('/', "\\/"))
        .collect();
    forms.extend(escaped);
    forms.retain(|f| f.len() >= MIN_REDACTED_LEN);
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms
}

/// Replaces every form of `credentials` in an answer with [`REDACTED`], before anything
/// decodes, logs or records it: a LiveChat answer that echoes the token (in a result, an error
/// message, a proxy's error page) must not hand it to the model or the audit trail.
pub fn redact<'a>(bytes: &'a [u8], credentials: &Credentials) -> std::borrow::Cow<'a, [u8]> {
    redact_forms(bytes, &secret_forms(credentials))
}

/// [`redact`] with the forms already worked out (the client does it once, not per call).
fn redact_forms<'a>(bytes: &'a [u8], forms: &[String]) -> std::borrow::Cow<'a, [u8]> {
    let mut out = std::borrow::Cow::Borrowed(bytes);
    for form in forms {
        if let Some(replaced) = replace_all(&out, form.as_bytes(), REDACTED.as_bytes()) {
            out = std::borrow::Cow::Owned(replaced);
        }
    }
    out
}

/// Replaces every form of the credentials in the strings and keys of `value`, decoded from
/// `bytes`, which were redacted already. JSON may spell a character as `\uXXXX` (an ASCII-only
/// encoder, or one that escapes `+`) or `/` as `\/`, which only decoding brings back to the
/// token. The other escapes decode to a quote, a backslash or a control character; a form
/// holding none of those cannot span them, so when the bytes have neither `\u` nor `\/`, every
/// form the decoded text could hold was in the bytes, and the walk is skipped.
fn redact_decoded(value: &mut Value, bytes: &[u8], forms: &[String]) {
    let spans_other_escapes = |form: &String| {
        form.bytes()
            .any(|b| b == b'"' || b == b'\\' || b.is_ascii_control())
    };
    if forms.is_empty() {
        return;
    }
    if forms.iter().any(spans_other_escapes)
        || memchr::memmem::find(bytes, b"\\u").is_some()
        || memchr::memmem::find(bytes, b"\\/").is_some()
    {
        redact_value(value, forms);
    }
}

/// Replaces every form of the credentials in the strings and keys of a decoded answer.
fn redact_value(value: &mut Value, forms: &[String]) {
    let redacted = |text: &str| -> Option<String> {
        let mut out: Option<String> = None;
        for form in forms {
            let current = out.as_deref().unwrap_or(text);
            if current.contains(form.as_str()) {
                out = Some(current.replace(form.as_str(), REDACTED));
            }
        }
        out
    };
    match value {
        Value::String(text) => {
            if let Some(clean) = redacted(text) {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, forms)),
        Value::Object(map) => {
            let renamed: Vec<(String, String)> = map
                .keys()
                .filter_map(|key| redacted(key).map(|clean| (key.clone(), clean)))
                .collect();
            for (key, clean) in renamed {
                if let Some(v) = map.remove(&key) {
                    map.insert(clean, v);
                }
            }
            map.values_mut().for_each(|v| redact_value(v, forms));
        }
        _ => {}
    }
}

/// `haystack` with every `needle` replaced, or `None` when there is none. `memmem` rather than
/// a window-by-window compare: every answer is scanned once per form of the credentials, and
/// the naive scan was the largest single cost of a call in the HTTP profile.
fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    let mut found = memchr::memmem::find_iter(haystack, needle).peekable();
    found.peek()?;
    let mut out = Vec::with_capacity(haystack.len());
    let mut done = 0;
    // The occurrences come in order and do not overlap.
    for at in found {
        out.extend_from_slice(&haystack[done..at]);
        out.extend_from_slice(with);
        done = at + needle.len();
    }
    out.extend_from_slice(&haystack[done..]);
    Some(out)
}

/// Turns an HTTP answer into a result or an `ApiError`. LiveChat may send its error envelope
/// with 200 or with 4xx/5xx, so the envelope decides, not the status.
pub fn decode(status: u16, bytes: &[u8]) -> Result<Value, ApiError> {
    decode_with(status, bytes, &[])
}

/// [`decode`], with `forms` of the credentials redacted from the decoded JSON before anything
/// reads it.
fn decode_with(status: u16, bytes: &[u8], forms: &[String]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return if status == 429 {
            Err(too_many_requests())
        } else if (200..300).contains(&status) {
            Ok(Value::Object(Default::default()))
        } else {
            Err(ApiError::BadResponse {
                status,
                detail: "an empty body".to_string(),
            })
        };
    }
    let mut value: Value = serde_json::from_slice(bytes).map_err(|_| match status {
        429 => too_many_requests(),
        _ => ApiError::BadResponse {
            status,
            detail: format!("a body that is not JSON ({} bytes)", bytes.len()),
        },
    })?;
    redact_decoded(&mut value, bytes, forms);
    if let Some(error) = value.get("error").filter(|e| e.is_object()) {
        let kind = error.get("type").and_then(Value::as_str);
        let message = error.get("message").and_then(Value::as_str);
        if kind.is_some() || message.is_some() {
            return Err(ApiError::LiveChat {
                kind: ErrorType::parse(kind.unwrap_or("unknown")),
                message: message.unwrap_or("(no message)").to_string(),
                data: error.get("data").cloned(),
                status,
            });
        }
    }
    if (200..300).contains(&status) {
        Ok(value)
    } else if status == 429 {
        Err(too_many_requests())
    } else {
        Err(ApiError::BadResponse {
            status,
            detail: "JSON that is not a LiveChat error".to_string(),
        })
    }
}

/// HTTP 429 without LiveChat's envelope (a proxy's page, an empty body) means the same as the
/// envelope's `too_many_requests`.
fn too_many_requests() -> ApiError {
    ApiError::LiveChat {
        kind: ErrorType::TooManyRequests,
        message: "Too many requests (HTTP 429)".to_string(),
        data: None,
        status: 429,
    }
}

/// Whether rustls refused the server's certificate somewhere in `error`'s causes. rustls's
/// error travels inside `io::Error`s (nested), whose `source` skips what they wrap, so an
/// `io::Error` is followed into what it wraps instead.
fn certificate_refused(error: &reqwest::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if matches!(
            e.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_))
        ) {
            return true;
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_wins_over_status() {
        let body = br#"{"error":{"type":"validation","message":"Wrong format","data":{"x":1}}}"#;
        for status in [200, 400, 500] {
            match decode(status, body) {
                Err(ApiError::LiveChat { kind, message, .. }) => {
                    assert_eq!(
                        (kind.as_str(), message.as_str()),
                        ("validation", "Wrong format")
                    )
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn scope_errors_never_show_credentials_in_the_accounts_url() {
        let mut settings = Settings::new("http://127.0.0.1:9");
        settings.accounts_url = "http://ops:pw-s3cret@127.0.0.1:9".to_string();
        settings.credentials = Credentials::from_values(Some("dal:tok-123456"), None, None);
        settings.timeout = Duration::from_secs(2);
        let err = ApiClient::new(&settings)
            .token_scopes()
            .await
            .expect_err("nothing listens on port 9");
        assert!(err.starts_with("http://127.0.0.1:9/v2/info: "), "{err}");
        assert!(!err.contains("s3cret") && !err.contains("ops:"), "{err}");
    }

    #[test]
    fn every_form_of_the_credentials_is_redacted() {
        let pat = Credentials::from_values(None, Some("secret-pat/1"), Some("acc-1")).unwrap();
        let header = pat.authorization().expose().to_string();
        let basic = header.trim_start_matches("Basic ").to_string();
        let body = format!(
            r#"{{"h":"{header}","b":"{basic}","p":"secret-pat/1","e":"secret-pat\/1","acc":"acc-1"}}"#
        );
        let out = String::from_utf8(redact(body.as_bytes(), &pat).into_owned()).unwrap();
        assert_eq!(
            out,
            r#"{"h":"[redacted]","b":"[redacted]","p":"[redacted]","e":"[redacted]","acc":"acc-1"}"#
        );
        let bearer = Credentials::from_values(Some("dal:tok-123456"), None, None).unwrap();
        let out = redact(b"Bearer dal:tok-123456 and dal:tok-123456.", &bearer);
        assert_eq!(&*out, b"[redacted] and [redacted].");
        let out = redact(b"dal:tok-123456dal:tok-123456", &bearer);
        assert_eq!(&*out, b"[redacted][redacted]");
        let short = Credentials::from_values(Some("abc"), None, None).unwrap();
        assert!(matches!(
            redact(b"abc abc", &short),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn credentials_spelled_with_json_escapes_are_redacted_once_decoded() {
        // Found by tests/fuzz.rs: `\u0064al:...` is not the token's bytes, but decodes to them.
        let pat = Credentials::from_values(None, Some("secret-pat+1"), Some("acc-1")).unwrap();
        let forms = secret_forms(&pat);
        let body = br#"{"error":{"type":"\u0073ecret-pat\u002b1","message":"bad secret-pat\u002B1","data":{"secret-pat\u002b1":1}}}"#;
        let Err(ApiError::LiveChat {
            kind,
            message,
            data,
            ..
        }) = decode_with(400, &redact_forms(body, &forms), &forms)
        else {
            panic!("an envelope")
        };
        assert_eq!(kind.as_str(), "[redacted]");
        assert_eq!(message, "bad [redacted]");
        assert_eq!(data, Some(json!({"[redacted]": 1})));
        let ok = decode_with(200, br#"{"echo":"x \u0073ecret-pat+1 y"}"#, &forms);
        assert_eq!(ok, Ok(json!({"echo": "x [redacted] y"})));
    }

    #[test]
    fn results_empty_bodies_and_garbage() {
        assert_eq!(decode(200, br#"{"a":1}"#), Ok(json!({"a":1})));
        assert_eq!(decode(200, b""), Ok(json!({})));
        assert!(matches!(
            decode(502, b"<html>bad gateway</html>"),
            Err(ApiError::BadResponse { status: 502, .. })
        ));
        assert!(matches!(
            decode(404, br#"{"detail":"nope"}"#),
            Err(ApiError::BadResponse { status: 404, .. })
        ));
    }
}
