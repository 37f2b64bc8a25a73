//! Signing in to the console: the admin key (never an agent's) opens a session kept on the
//! server and named by an HttpOnly, SameSite=Strict cookie that expires; every change must
//! carry the session's CSRF token (form field `csrf` or header `X-CSRF-Token`), or gets 403.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use askama::Template;
use axum::{
    Extension,
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use base64::Engine as _;
use rand::RngCore as _;

use super::{Chrome, ConsoleState, error_page, render};
use crate::{digest::constant_time_eq, policy::key_matches};

/// The session cookie's name.
pub const COOKIE: &str = "lcmcp_console";
/// How long a session lasts from sign-in.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// The most sessions kept at once; a new sign-in past it ends the oldest.
const MAX_SESSIONS: usize = 64;
/// The largest form a change may post.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// A signed-in session, as pages see it.
#[derive(Clone, Debug)]
pub struct Session {
    /// The token every change must carry.
    pub csrf: String,
    /// The admin key's SHA-256 at sign-in: a session ends when the key changes.
    admin: String,
    expires: Instant,
    created: Instant,
}

/// The console's sessions, by the SHA-256 of their cookie (the cookie itself is not kept).
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        match self.map.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A new session for the admin key `admin`: its cookie value and the session.
    fn open(&self, admin: &str) -> (String, Session) {
        let cookie = random_token();
        let now = Instant::now();
        let session = Session {
            csrf: random_token(),
            admin: admin.to_string(),
            expires: now + LIFETIME,
            created: now,
        };
        let mut map = self.lock();
        map.retain(|_, s| s.expires > now);
        while map.len() >= MAX_SESSIONS {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(crate::policy::key_sha256(&cookie), session.clone());
        (cookie, session)
    }

    /// The live session named by `cookie`, if its admin key is still `admin`.
    fn find(&self, cookie: &str, admin: Option<&str>) -> Option<Session> {
        let id = crate::policy::key_sha256(cookie);
        let mut map = self.lock();
        let session = map.get(&id)?.clone();
        let same_key =
            admin.is_some_and(|a| constant_time_eq(a.as_bytes(), session.admin.as_bytes()));
        if session.expires <= Instant::now() || !same_key {
            map.remove(&id);
            return None;
        }
        Some(session)
    }

    fn close(&self, cookie: &str) {
        self.lock().remove(&crate::policy::key_sha256(cookie));
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|s| s.expires > now).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The session cookie's value in `headers`, if any.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The `Set-Cookie` value for a session, or one that ends it (`cookie` empty). `Secure` when
/// the request reached us over HTTPS through a proxy that says so; a loopback console over
/// plain HTTP must still be able to keep its cookie.
fn set_cookie(cookie: &str, headers: &HeaderMap) -> HeaderValue {
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let max_age = if cookie.is_empty() {
        0
    } else {
        LIFETIME.as_secs()
    };
    let value = format!(
        "{COOKIE}={cookie}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Pages need a session: without one a page redirects to the sign-in form and a change gets
/// 403. A change also needs the session's CSRF token, as the form field `csrf` (read from the
/// form, which is then passed on whole) or the `X-CSRF-Token` header.
pub(super) async fn require_session(
    State(state): State<Arc<ConsoleState>>,
    request: Request,
    next: Next,
) -> Response {
    let admin = state.admin_key_sha256();
    let session = cookie(request.headers()).and_then(|c| state.sessions.find(&c, admin.as_deref()));
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    let Some(session) = session else {
        if changes {
            return error_page(
                StatusCode::FORBIDDEN,
                None,
                "Signed out",
                "This change needs a signed-in session; sign in with the admin key and try again.",
            );
        }
        return Redirect::to("/console/sign-in").into_response();
    };
    let request = if changes {
        match with_csrf_checked(request, &session).await {
            Ok(request) => request,
            Err(response) => return *response,
        }
    } else {
        request
    };
    let mut request = request;
    request.extensions_mut().insert(session);
    next.run(request).await
}

/// `request` passed on unchanged if it carries `session`'s CSRF token; 403 otherwise (413 for
/// a form over [`MAX_FORM_BYTES`]).
async fn with_csrf_checked(request: Request, session: &Session) -> Result<Request, Box<Response>> {
    let matches = |token: &str| constant_time_eq(token.as_bytes(), session.csrf.as_bytes());
    if let Some(token) = request.headers().get("x-csrf-token") {
        if token.to_str().is_ok_and(matches) {
            return Ok(request);
        }
        return Err(Box::new(csrf_refused(session)));
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Err(Box::new(
                (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response(),
            ));
        }
    };
    let form_token = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned());
    match form_token {
        Some(token) if matches(&token) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(Box::new(csrf_refused(session))),
    }
}

fn csrf_refused(session: &Session) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        Some(session),
        "Refused",
        "The change did not carry this session's form token (CSRF), so it was refused and nothing changed. Reload the page and try again.",
    )
}

#[derive(Template)]
#[template(path = "sign_in.html", config = "src/console/askama.toml")]
struct SignInPage {
    chrome: Chrome,
    problem: Option<String>,
    has_admin_key: bool,
}

fn sign_in_form(state: &ConsoleState, problem: Option<String>) -> Response {
    render(&SignInPage {
        chrome: Chrome {
            page: "sign-in",
            csrf: None,
            flash: None,
        },
        problem,
        has_admin_key: state.admin_key_sha256().is_some(),
    })
}

/// `GET /console/sign-in`: the form, or the grid for a signed-in session.
pub(super) async fn sign_in_page(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
) -> Response {
    let admin = state.admin_key_sha256();
    if cookie(&headers).is_some_and(|c| state.sessions.find(&c, admin.as_deref()).is_some()) {
        return Redirect::to("/console").into_response();
    }
    sign_in_form(&state, None)
}

/// `POST /console/sign-in` with the form field `key`: the admin key opens a session; anything
/// else, an agent's key included, gets the form again with 401.
pub(super) async fn sign_in(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let key = form_urlencoded::parse(&body)
        .find(|(name, _)| name == "key")
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    let admin = state.admin_key_sha256();
    let Some(admin) = admin.filter(|hash| key_matches(&key, hash)) else {
        // A guess costs a moment, so a script cannot try many.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut response = sign_in_form(
            &state,
            Some("That is not the admin key. Agents' keys do not open the console.".to_string()),
        );
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return response;
    };
    let (cookie, _) = state.sessions.open(&admin);
    let mut response = Redirect::to("/console").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&cookie, &headers));
    response
}

/// `POST /console/sign-out`: ends the session and clears its cookie.
pub(super) async fn sign_out(
    State(state): State<Arc<ConsoleState>>,
    Extension(_session): Extension<Session>,
    headers: HeaderMap,
) -> Response {
    if let Some(cookie) = cookie(&headers) {
        state.sessions.close(&cookie);
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie("", &headers));
    response
}
