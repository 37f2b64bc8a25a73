//! Who may talk to the server: the `Host` / `Origin` check against DNS rebinding (403, before
//! anything else), the bearer key that names the agent (401, before the MCP layer), and the
//! admin key that reads `/metrics` and the detail of `/healthz`. Keys are matched by their
//! SHA-256, in constant time: agents' by [`Policy::agent_for_key`], the admin's by
//! [`key_matches`].

use std::{net::IpAddr, sync::Arc};

use axum::{
    extract::{Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header, uri::Authority},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use rand::RngCore as _;

use super::{Caller, HttpState, metrics::Metrics};
use crate::policy::{Policy, key_matches};

/// Every key `livechat-mcp key new` makes starts with this, so a leaked one is recognisable.
pub const KEY_PREFIX: &str = "lcmcp_";

/// A fresh bearer key: 256 random bits, base64url, after [`KEY_PREFIX`].
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The `Host` names the server answers to: the loopback names, and the public names given
/// with `--allowed-host`. A name without a port matches any port.
#[derive(Clone, Debug)]
pub struct AllowedHosts {
    entries: Vec<(String, Option<u16>)>,
}

const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

impl AllowedHosts {
    /// The loopback names plus `extra` (`example.com`, `example.com:8443`, `[2001:db8::1]`).
    pub fn new(extra: &[String]) -> Result<AllowedHosts, String> {
        let mut entries: Vec<(String, Option<u16>)> = LOOPBACK_NAMES
            .iter()
            .map(|name| (name.to_string(), None))
            .collect();
        for name in extra {
            let entry = parse_allowed(name)?;
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
        Ok(AllowedHosts { entries })
    }

    /// Whether `ip` is one of the names allowed anyway.
    pub fn is_default_loopback(ip: IpAddr) -> bool {
        LOOPBACK_NAMES.contains(&ip.to_string().as_str())
    }

    /// The entries in the form rmcp's `allowed_hosts` takes.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(host, port)| match (port, host.contains(':')) {
                (Some(port), true) => format!("[{host}]:{port}"),
                (Some(port), false) => format!("{host}:{port}"),
                (None, _) => host.clone(),
            })
            .collect()
    }

    fn allows(&self, host: &str, port: Option<u16>) -> bool {
        self.entries
            .iter()
            .any(|(name, wanted)| name == host && wanted.is_none_or(|w| Some(w) == port))
    }

    /// Checks `Host` (or the URI's authority) and, when present, `Origin`: a browser page
    /// from another site that reaches a loopback server through DNS rebinding shows its own
    /// name in both.
    pub fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), String> {
        if headers.get_all(header::HOST).iter().nth(1).is_some() {
            return Err("forbidden: the request has more than one `Host` header".to_string());
        }
        let (host, port) = match headers.get(header::HOST) {
            Some(value) => {
                let authority = value
                    .to_str()
                    .ok()
                    .and_then(|s| Authority::try_from(s).ok())
                    .ok_or_else(|| "forbidden: the `Host` header is not a host name".to_string())?;
                (normalize(authority.host()), authority.port_u16())
            }
            None => match uri.authority() {
                Some(authority) => (normalize(authority.host()), authority.port_u16()),
                None => return Err("forbidden: the request has no `Host` header".to_string()),
            },
        };
        if !self.allows(&host, port) {
            return Err(format!(
                "forbidden: `Host: {}` is not a name this server answers to (allowed: {}); a server reached by a public name must be started with --allowed-host NAME",
                shown(&host),
                self.names().join(", ")
            ));
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin
            .to_str()
            .ok()
            .filter(|o| !o.eq_ignore_ascii_case("null"))
            .and_then(|o| Uri::try_from(o).ok())
            .ok_or_else(|| "forbidden: the `Origin` header names no site".to_string())?;
        let origin_host = origin.host().map(normalize).unwrap_or_default();
        let default_port = match origin.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        };
        let origin_port = origin.port_u16().or(default_port);
        // A page may call only the server it came from: same host, and the same port (a
        // `Host` without a port, as behind a proxy, means the scheme's default). Another
        // local web app on another port is another site.
        let same_site =
            default_port.is_some() && origin_host == host && origin_port == port.or(default_port);
        if !same_site || !self.allows(&origin_host, origin_port) {
            return Err(format!(
                "forbidden: requests from web pages of `{}` are not accepted (allowed: {})",
                shown(&origin_host),
                self.names().join(", ")
            ));
        }
        Ok(())
    }
}

fn parse_allowed(name: &str) -> Result<(String, Option<u16>), String> {
    let trimmed = name.trim();
    let bad = || {
        format!(
            "--allowed-host `{}` is not a host name; give a name like `mcp.example.com` or `mcp.example.com:8443`, without a scheme or path",
            shown(trimmed)
        )
    };
    if trimmed.is_empty() || trimmed.contains('/') || trimmed.contains('*') {
        return Err(bad());
    }
    // A bare IPv6 address is not an authority; accept it as the host alone.
    if let Ok(IpAddr::V6(ip)) = trimmed.parse::<IpAddr>() {
        return Ok((ip.to_string(), None));
    }
    let authority = Authority::try_from(trimmed).map_err(|_| bad())?;
    Ok((normalize(authority.host()), authority.port_u16()))
}

fn normalize(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// A name from a request, cut short for an error message.
fn shown(text: &str) -> String {
    text.chars().take(80).collect()
}

/// Refuses requests whose `Host` or `Origin` is not allowed, with 403, before anything else.
pub(super) async fn check_host(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    match foreign_host(&state.hosts, &state.metrics, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// [`check_host`] for the `--metrics-listen` port, which also answers to its own address.
pub(super) async fn check_private_host(
    State((state, hosts)): State<(Arc<HttpState>, Arc<AllowedHosts>)>,
    request: Request,
    next: Next,
) -> Response {
    match foreign_host(&hosts, &state.metrics, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

fn foreign_host(hosts: &AllowedHosts, metrics: &Metrics, request: &Request) -> Option<Response> {
    let why = hosts.check(request.uri(), request.headers()).err()?;
    tracing::warn!("refused a request: {why}");
    metrics.rejected("forbidden");
    Some(super::limits::plain(StatusCode::FORBIDDEN, why))
}

/// Marks a request that may read `/metrics` and the detail of `/healthz`: it carries the
/// admin key, or came to the private `--metrics-listen` port.
#[derive(Clone, Copy, Debug)]
pub(super) struct Admin;

const ADMIN_ONLY: &str = "unauthorized: /metrics and the detail of /healthz need the admin key, sent as `Authorization: Bearer <key>`; its SHA-256 goes under `[admin] key_sha256` in the policy or in LIVECHAT_MCP_ADMIN_KEY_SHA256 (or serve them on a private port with --metrics-listen ADDR). Without a key, /healthz says only whether the server is usable";

/// Whether the request carries the admin key: `Ok(None)` without an `Authorization` header,
/// `Err` with any other key (an agent's included).
fn admin(state: &HttpState, headers: &HeaderMap) -> Result<Option<Admin>, &'static str> {
    let Some(key) = bearer(headers)? else {
        return Ok(None);
    };
    match &state.admin_key_sha256() {
        Some(hash) if key_matches(key, hash) => Ok(Some(Admin)),
        _ => Err(ADMIN_ONLY),
    }
}

/// `/metrics`: the admin key or 401.
pub(super) async fn require_admin(
    State(state): State<Arc<HttpState>>,
    mut request: Request,
    next: Next,
) -> Response {
    match admin(&state, request.headers()) {
        Ok(Some(admin)) => {
            request.extensions_mut().insert(admin);
            next.run(request).await
        }
        Ok(None) => unauthorized(&state, "", ADMIN_ONLY),
        Err(why) => unauthorized(&state, "invalid_token", why),
    }
}

/// `/healthz`: detail with the admin key, only ok / not ok without a key, 401 with another.
pub(super) async fn admin_if_keyed(
    State(state): State<Arc<HttpState>>,
    mut request: Request,
    next: Next,
) -> Response {
    match admin(&state, request.headers()) {
        Ok(Some(admin)) => {
            request.extensions_mut().insert(admin);
        }
        Ok(None) => {}
        Err(why) => return unauthorized(&state, "invalid_token", why),
    }
    next.run(request).await
}

/// The `--metrics-listen` port: every request is the admin's.
pub(super) async fn private_port(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Admin);
    next.run(request).await
}

/// Names used for keys in query strings; a request carrying one is refused whatever its value.
const KEY_PARAMETERS: &[&str] = &[
    "key",
    "api_key",
    "apikey",
    "api-key",
    "token",
    "access_token",
    "auth",
    "authorization",
    "bearer",
];

/// Finds the agent a request's `Authorization: Bearer <key>` names, or answers 401 with
/// `WWW-Authenticate: Bearer` so the MCP layer never sees the request.
pub(super) async fn require_key(
    State(state): State<Arc<HttpState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let roster = state.roster();
    if key_in_query(&roster.policy, request.uri()) {
        return unauthorized(
            &state,
            "invalid_request",
            "unauthorized: keys are not accepted in the URL, where they end up in logs and history; send the key as `Authorization: Bearer <key>`, and if a real key was in the URL, make a new one with `livechat-mcp key new AGENT`",
        );
    }
    let key = match bearer(request.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => {
            return unauthorized(
                &state,
                "",
                "unauthorized: this server needs a key; send `Authorization: Bearer <key>` (an administrator makes one with `livechat-mcp key new AGENT`)",
            );
        }
        Err(why) => return unauthorized(&state, "invalid_request", why),
    };
    let caller = roster
        .policy
        .agent_for_key(key)
        .and_then(|agent| roster.by_name.get(&agent.name).cloned());
    let Some(served) = caller else {
        return unauthorized(
            &state,
            "invalid_token",
            "unauthorized: the key is not known to this server's policy; check it, or ask an administrator for one (`livechat-mcp key new AGENT`)",
        );
    };
    request.extensions_mut().insert(Caller(served));
    next.run(request).await
}

/// The key of an `Authorization: Bearer <key>` header; `None` without the header.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("unauthorized: send one `Authorization` header, not several");
    }
    let malformed = "unauthorized: the `Authorization` header must be `Bearer <key>`";
    let value = value.to_str().map_err(|_| malformed)?;
    let (scheme, key) = value.split_once(' ').ok_or(malformed)?;
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(malformed);
    }
    Ok(Some(key))
}

/// Whether the query string carries a key: a parameter named like one, or any value that is
/// a key of the policy.
fn key_in_query(policy: &Policy, uri: &Uri) -> bool {
    if uri.query().is_none_or(str::is_empty) {
        return false;
    }
    let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(uri) else {
        return false;
    };
    pairs.iter().any(|(name, value)| {
        KEY_PARAMETERS.contains(&name.to_ascii_lowercase().as_str())
            || policy.agent_for_key(value).is_some()
    })
}

fn unauthorized(state: &HttpState, error: &str, text: &'static str) -> Response {
    state.metrics.rejected("unauthorized");
    let challenge = if error.is_empty() {
        r#"Bearer realm="livechat-mcp""#.to_string()
    } else {
        format!(r#"Bearer realm="livechat-mcp", error="{error}""#)
    };
    let mut response = super::limits::plain(StatusCode::UNAUTHORIZED, text);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn keys_are_fresh_and_recognisable() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 43);
    }

    #[test]
    fn loopback_names_pass_and_others_do_not() {
        let hosts = AllowedHosts::new(&[]).expect("hosts");
        let uri = Uri::from_static("/mcp");
        for ok in ["localhost:8000", "127.0.0.1", "[::1]:9", "LOCALHOST"] {
            let value = HeaderValue::from_str(ok).expect("value");
            let mut map = HeaderMap::new();
            map.insert(header::HOST, value);
            assert!(hosts.check(&uri, &map).is_ok(), "{ok}");
        }
        let evil = headers(&[("host", "evil.example.com:8000")]);
        assert!(hosts.check(&uri, &evil).is_err());
        let origin = headers(&[
            ("host", "localhost:8000"),
            ("origin", "http://evil.example.com"),
        ]);
        assert!(hosts.check(&uri, &origin).is_err());
        let null = headers(&[("host", "localhost:8000"), ("origin", "null")]);
        assert!(hosts.check(&uri, &null).is_err());
        let same = headers(&[
            ("host", "localhost:8000"),
            ("origin", "http://localhost:8000"),
        ]);
        assert!(hosts.check(&uri, &same).is_ok());
        // Another local web app, on another port or scheme, is another site.
        for other in [
            "http://localhost:9999",
            "http://localhost",
            "ftp://localhost:8000",
            "http://127.0.0.1:8000",
        ] {
            let map = headers(&[("host", "localhost:8000"), ("origin", other)]);
            assert!(hosts.check(&uri, &map).is_err(), "{other}");
        }
    }

    #[test]
    fn public_names_with_and_without_ports() {
        let hosts = AllowedHosts::new(&["MCP.example.com".into(), "other.example:8443".into()])
            .expect("hosts");
        let uri = Uri::from_static("/mcp");
        let ok = headers(&[
            ("host", "mcp.example.com"),
            ("origin", "https://mcp.example.com"),
        ]);
        assert!(hosts.check(&uri, &ok).is_ok());
        let port = headers(&[("host", "other.example:8443")]);
        assert!(hosts.check(&uri, &port).is_ok());
        let wrong_port = headers(&[("host", "other.example:80")]);
        assert!(hosts.check(&uri, &wrong_port).is_err());
        assert!(hosts.names().contains(&"other.example:8443".to_string()));
        assert!(AllowedHosts::new(&["https://x.example".into()]).is_err());
        assert!(AllowedHosts::new(&["*".into()]).is_err());
    }

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer(&headers(&[])), Ok(None));
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc")])),
            Ok(Some("abc"))
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer  abc ")])),
            Ok(Some("abc"))
        );
        assert!(bearer(&headers(&[("authorization", "Basic abc")])).is_err());
        assert!(bearer(&headers(&[("authorization", "Bearer")])).is_err());
        assert!(
            bearer(&headers(&[
                ("authorization", "Bearer a"),
                ("authorization", "Bearer b")
            ]))
            .is_err()
        );
    }
}
