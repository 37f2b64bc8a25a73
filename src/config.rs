//! Settings the server runs with: where LiveChat is, which version, which credentials.
//!
//! Flags and their environment fallbacks are declared in `cli.rs`; this module turns them into
//! a `Settings` value and owns the rules for credentials, which only ever come from the
//! environment.

use std::{fmt, time::Duration};

use base64::Engine as _;

use crate::{policy::Level, version::ApiVersion};

/// The LiveChat Web API host used when no `--api-url` is given.
pub const DEFAULT_API_URL: &str = "https://api.livechatinc.com";
/// Where LiveChat answers what an access token may do (`GET /v2/info`).
pub const DEFAULT_ACCOUNTS_URL: &str = "https://accounts.livechat.com";
/// The largest LiveChat answer read by default: 8 MiB, far above a page of 100 chats.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 << 20;
/// LiveChat stops processing a request after 15 seconds; waiting longer gains nothing.
pub const DEFAULT_TIMEOUT_SECS: u64 = 15;

/// A secret string whose `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How requests to LiveChat are authorised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// An OAuth access token, sent as `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// A Personal Access Token, sent as `Authorization: Basic base64(account_id:pat)`.
    PersonalAccessToken { account_id: String, pat: Secret },
}

/// What every call says when the server has no usable credentials.
pub const MISSING_CREDENTIALS: &str = "no LiveChat credentials: set LIVECHAT_ACCESS_TOKEN (an OAuth access token), or LIVECHAT_PAT and LIVECHAT_ACCOUNT_ID (a Personal Access Token and the account it belongs to), in the server's environment";

impl Credentials {
    /// Reads credentials from environment values (`LIVECHAT_ACCESS_TOKEN`, `LIVECHAT_PAT`,
    /// `LIVECHAT_ACCOUNT_ID`). An OAuth token wins when both kinds are set. The error says
    /// what to set; it never contains a secret.
    pub fn from_values(
        access_token: Option<&str>,
        pat: Option<&str>,
        account_id: Option<&str>,
    ) -> Result<Credentials, String> {
        fn present(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        // mcp.json says `"${LIVECHAT_ACCESS_TOKEN}"`; a client that does not expand variables
        // hands over the placeholder itself, which would fail later as a bad token.
        for (name, value) in [
            ("LIVECHAT_ACCESS_TOKEN", access_token),
            ("LIVECHAT_PAT", pat),
            ("LIVECHAT_ACCOUNT_ID", account_id),
        ] {
            if let Some(v) = present(value).filter(|v| v.starts_with("${") && v.ends_with('}')) {
                return Err(format!(
                    "{name} is the unexpanded placeholder `{v}`: this MCP client does not substitute environment variables, so put the value itself in the client's `env` for this server"
                ));
            }
        }
        if let Some(token) = present(access_token) {
            return Ok(Credentials::Bearer(Secret::new(normalise_oauth_token(
                token,
            ))));
        }
        match (present(pat), present(account_id)) {
            (Some(pat), Some(account)) => Ok(Credentials::PersonalAccessToken {
                account_id: account.to_string(),
                pat: Secret::new(pat),
            }),
            (Some(_), None) => Err("LIVECHAT_PAT is set but LIVECHAT_ACCOUNT_ID is not: a Personal Access Token is sent together with the ID of the account it belongs to".to_string()),
            (None, Some(_)) => Err("LIVECHAT_ACCOUNT_ID is set but LIVECHAT_PAT is not: set the Personal Access Token too, or use LIVECHAT_ACCESS_TOKEN".to_string()),
            (None, None) => Err(MISSING_CREDENTIALS.to_string()),
        }
    }

    /// Reads credentials from the process environment.
    pub fn from_env() -> Result<Credentials, String> {
        let var = |name: &str| std::env::var(name).ok();
        Credentials::from_values(
            var("LIVECHAT_ACCESS_TOKEN").as_deref(),
            var("LIVECHAT_PAT").as_deref(),
            var("LIVECHAT_ACCOUNT_ID").as_deref(),
        )
    }

    /// The value of the `Authorization` header.
    pub fn authorization(&self) -> Secret {
        match self {
            Credentials::Bearer(token) => Secret::new(format!("Bearer {}", token.expose())),
            Credentials::PersonalAccessToken { account_id, pat } => {
                let raw = format!("{account_id}:{}", pat.expose());
                Secret::new(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
        }
    }

    /// The data centre an OAuth token was issued in (`dal`, `fra`), from its prefix.
    pub fn region(&self) -> Option<&str> {
        match self {
            Credentials::Bearer(token) => {
                let (prefix, _) = token.expose().split_once(':')?;
                matches!(prefix, "dal" | "fra").then_some(prefix)
            }
            Credentials::PersonalAccessToken { .. } => None,
        }
    }
}

/// Accepts a token pasted with its scheme (`Bearer dal:…`) or URL-encoded (`dal%3A…`), as
/// LiveChat's redirect hands it out.
fn normalise_oauth_token(token: &str) -> String {
    let bare = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token)
        .trim();
    bare.replacen("%3A", ":", 1).replacen("%3a", ":", 1)
}

/// A setting refused at start-up because it would carry a secret where none belongs. The text
/// never contains the value: it may be the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsError {
    /// A URL flag (`--api-url`, `--accounts-url`) holds `user:password@`.
    UrlWithCredentials {
        /// The flag, e.g. `--api-url`.
        flag: &'static str,
        /// Its environment fallback, e.g. `LIVECHAT_API_URL`.
        env: &'static str,
    },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::UrlWithCredentials { flag, env } => write!(
                f,
                "`{flag}` ({env}) has credentials in it (`user:password@host`); remove the credentials from the URL (it is not shown here because it holds them): LiveChat credentials come only from LIVECHAT_ACCESS_TOKEN, or LIVECHAT_PAT and LIVECHAT_ACCOUNT_ID"
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

/// The authority of `url` (`user:pass@host:port`), read as text so a URL that does not parse
/// is judged too; the whole string when it has no `scheme://`.
fn authority(url: &str) -> (usize, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (start, &rest[..end])
}

/// Refuses a URL with user info (`http://user:pass@host`): this server never sends
/// credentials that way, and the URL is shown in `doctor`, `/healthz` and errors.
pub fn check_url(flag: &'static str, env: &'static str, url: &str) -> Result<(), SettingsError> {
    if authority(url).1.contains('@') {
        return Err(SettingsError::UrlWithCredentials { flag, env });
    }
    Ok(())
}

/// `url` as it may be shown: any `user:password@` taken out.
pub fn url_without_credentials(url: &str) -> String {
    let (start, authority) = authority(url);
    match authority.rfind('@') {
        Some(at) => format!("{}{}", &url[..start], &url[start + at + 1..]),
        None => url.to_string(),
    }
}

/// The retry budget unless told otherwise (`--retry-budget-secs`): inside a typical client's
/// timeout.
pub const DEFAULT_RETRY_BUDGET_SECS: u64 = 10;

/// Everything the server needs to reach LiveChat and decide which tools to offer.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Base URL, without a trailing slash.
    pub api_url: String,
    /// The accounts service, for reading a token's scopes.
    pub accounts_url: String,
    pub version: ApiVersion,
    /// The credentials, or the message every call answers with when there are none.
    pub credentials: Result<Credentials, String>,
    pub timeout: Duration,
    /// How long a call may wait for the limiter and between retries, all told.
    pub retry_budget: Duration,
    /// The largest upstream answer read; a larger one is refused, never held whole.
    pub max_response_bytes: usize,
    pub access: Level,
    /// The agents' bots (`identity = "bot"` in the policy), when the run has any.
    pub bots: Option<std::sync::Arc<crate::bots::BotDirectory>>,
    /// Results keep customers' hidden characters (`--raw-customer-text`); see [`crate::fence`].
    pub raw_customer_text: bool,
    /// Only these areas' tools are exposed, whatever the policy grants (`--toolsets`).
    pub toolsets: Option<crate::agent::Toolsets>,
    /// `tools/list` offers the three catalog tools instead of one per method (`--catalog`).
    pub catalog: bool,
}

impl Settings {
    /// Settings for `api_url` with no credentials and the defaults for everything else.
    pub fn new(api_url: impl Into<String>) -> Settings {
        let api_url: String = api_url.into();
        Settings {
            api_url: api_url.trim_end_matches('/').to_string(),
            accounts_url: DEFAULT_ACCOUNTS_URL.to_string(),
            version: ApiVersion::default(),
            credentials: Err(MISSING_CREDENTIALS.to_string()),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            retry_budget: Duration::from_secs(DEFAULT_RETRY_BUDGET_SECS),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            access: Level::Read,
            bots: None,
            raw_customer_text: false,
            toolsets: None,
            catalog: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_wins_and_keeps_region() {
        let c = Credentials::from_values(Some("dal:abc"), Some("pat"), Some("acc")).unwrap();
        assert_eq!(c.authorization().expose(), "Bearer dal:abc");
        assert_eq!(c.region(), Some("dal"));
    }

    #[test]
    fn pasted_and_url_encoded_tokens_are_normalised() {
        let c = Credentials::from_values(Some("Bearer fra%3Axyz"), None, None).unwrap();
        assert_eq!(c.authorization().expose(), "Bearer fra:xyz");
        assert_eq!(c.region(), Some("fra"));
        let plain = Credentials::from_values(Some("plain-token"), None, None).unwrap();
        assert_eq!(plain.region(), None);
    }

    #[test]
    fn pat_is_basic_base64_of_account_and_pat() {
        let c = Credentials::from_values(None, Some("secret-pat"), Some("acc-1")).unwrap();
        // base64("acc-1:secret-pat")
        assert_eq!(c.authorization().expose(), "Basic YWNjLTE6c2VjcmV0LXBhdA==");
        assert_eq!(c.region(), None);
    }

    #[test]
    fn urls_with_user_info_are_refused_and_never_shown() {
        for url in [
            "http://ops:pw-s3cret@127.0.0.1:9",
            "https://pw-s3cret@api.example.com/v3.6",
            "http://ops:pw-s3cret@host:notaport/x",
            "ops:pw-s3cret@host",
        ] {
            let err = check_url("--api-url", "LIVECHAT_API_URL", url).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("`--api-url` (LIVECHAT_API_URL)"), "{text}");
            assert!(text.contains("remove the credentials"), "{text}");
            assert!(!text.contains("s3cret"), "{text}");
            assert!(!url_without_credentials(url).contains("s3cret"), "{url}");
        }
        assert_eq!(
            url_without_credentials("http://ops:pw@127.0.0.1:9/a?b=c@d"),
            "http://127.0.0.1:9/a?b=c@d"
        );
        for url in [
            DEFAULT_API_URL,
            "http://127.0.0.1:9/path@x",
            "https://h/?q=a@b",
        ] {
            assert_eq!(check_url("--api-url", "LIVECHAT_API_URL", url), Ok(()));
            assert_eq!(url_without_credentials(url), url);
        }
    }

    #[test]
    fn an_unexpanded_placeholder_is_explained() {
        let err =
            Credentials::from_values(Some("${LIVECHAT_ACCESS_TOKEN}"), None, None).unwrap_err();
        assert!(err.contains("unexpanded placeholder"), "{err}");
    }

    #[test]
    fn missing_pieces_are_named_and_secrets_are_not_echoed() {
        let err = Credentials::from_values(None, Some("secret-pat"), None).unwrap_err();
        assert!(
            err.contains("LIVECHAT_ACCOUNT_ID") && !err.contains("secret-pat"),
            "{err}"
        );
        let err = Credentials::from_values(None, None, None).unwrap_err();
        assert!(err.contains("LIVECHAT_ACCESS_TOKEN") && err.contains("LIVECHAT_PAT"));
        let c = Credentials::from_values(Some("dal:topsecret"), None, None).unwrap();
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}
