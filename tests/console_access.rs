//! The console's access page, through its handlers (`tower::ServiceExt::oneshot` on
//! `console_app`): signing in and out, the CSRF check, saving the grid to the policy file
//! (only the changed cells, comments kept, `.bak` written, refused edits leaving the file
//! untouched), adding and removing agents, keys shown once, and the audit rows in words.

mod common;

use std::sync::Arc;

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
    response::Response,
};
use livechat_mcp::{
    audit::{AuditStore, QueryFilter},
    console::{ConsoleState, Sessions, console_app},
    http::AllowedHosts,
    policy::{
        Policy,
        file::{EditError, PolicyFile, backup_path},
        key_sha256,
    },
};
use tower::ServiceExt as _;

use common::TempDir;

const ADMIN_KEY: &str = "lcmcp_admin-key-for-tests";
const SUPPORT_KEY: &str = "lcmcp_support-bot-key-for-tests";
const AUDITOR_KEY: &str = "lcmcp_auditor-key-for-tests";

fn policy_text() -> String {
    format!(
        r#"# The team's policy: edit it in the console or here.
[agents.support-bot]
access = {{ chats = "read", events = "full" }}   # what it may do
key_sha256 = "{support}"

[agents.auditor]
# Reads everything but customers.
access = {{ "*" = "read", customers = "off" }}
key_sha256 = "{auditor}"
limits = {{ calls_per_minute = 60, writes_per_minute = 10 }}
[agents.auditor.livechat]
pat_env = "AUDITOR_LIVECHAT_PAT"
account_id_env = "AUDITOR_LIVECHAT_ACCOUNT_ID"

[agents.drafter]
draft = true
approve = ["send_event", "customers"]
approvers = ["console"]
[agents.drafter.livechat]
identity = "bot"
groups = [0, 2]

[admin]
key_sha256 = "{admin}"
"#,
        support = key_sha256(SUPPORT_KEY),
        auditor = key_sha256(AUDITOR_KEY),
        admin = key_sha256(ADMIN_KEY),
    )
}

struct Console {
    _dir: TempDir,
    path: std::path::PathBuf,
    app: Router,
    audit: AuditStore,
}

impl Console {
    fn new(label: &str) -> Console {
        Console::with_policy(label, &policy_text())
    }

    fn with_policy(label: &str, text: &str) -> Console {
        Console::made(label, text, true)
    }

    /// A console on `text`, with an audit trail only if `audited`.
    fn made(label: &str, text: &str, audited: bool) -> Console {
        let dir = TempDir::new(label);
        let path = dir.join("policy.toml");
        std::fs::write(&path, text).unwrap();
        let audit = AuditStore::open(&dir.join("audit.db")).unwrap();
        let state = Arc::new(ConsoleState {
            policy: PolicyFile::open(&path).unwrap(),
            admin_key_override: None,
            audit: audited.then(|| audit.clone()),
            approvals: None,
            events: None,
            metrics: None,
            hosts: AllowedHosts::new(&[]).unwrap(),
            sessions: Sessions::default(),
        });
        Console {
            _dir: dir,
            path,
            app: console_app(state),
            audit,
        }
    }

    fn file(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap()
    }

    fn policy(&self) -> Policy {
        Policy::parse(&self.file(), "policy.toml").unwrap()
    }

    async fn send(&self, request: Request<Body>) -> Response {
        self.app.clone().oneshot(request).await.unwrap()
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut request = Request::get(path).header(header::HOST, "localhost");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &str) -> Response {
        let mut request = Request::post(path)
            .header(header::HOST, "localhost")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(form.to_string())).unwrap())
            .await
    }

    async fn sign_in(&self, key: &str) -> Response {
        self.post("/console/sign-in", None, &format!("key={}", enc(key)))
            .await
    }

    /// A signed-in session: its cookie (`name=value`) and CSRF token.
    async fn session(&self) -> Session {
        let response = self.sign_in(ADMIN_KEY).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set = header_of(&response, header::SET_COOKIE);
        let cookie = set.split(';').next().unwrap().to_string();
        let page = self.get("/console", Some(&cookie)).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = body(page).await;
        let csrf = between(&html, r#"name="csrf" value=""#, "\"").to_string();
        assert!(!csrf.is_empty());
        Session { cookie, csrf }
    }

    /// Posts `form` with the session's CSRF token.
    async fn change(&self, session: &Session, path: &str, form: &str) -> Response {
        let form = if form.is_empty() {
            format!("csrf={}", enc(&session.csrf))
        } else {
            format!("csrf={}&{form}", enc(&session.csrf))
        };
        self.post(path, Some(&session.cookie), &form).await
    }

    /// The page a change redirected to.
    async fn follow(&self, session: &Session, response: Response) -> String {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = header_of(&response, header::LOCATION);
        assert!(location.starts_with("/console?note="), "{location}");
        let page = self.get(&location, Some(&session.cookie)).await;
        assert_eq!(page.status(), StatusCode::OK);
        body(page).await
    }

    /// The trail's sentences, oldest first.
    async fn sentences(&self) -> Vec<String> {
        let mut rows = self.audit.query(&QueryFilter::default()).await.unwrap();
        rows.sort_by_key(|e| e.id);
        rows.into_iter().map(|e| e.summary).collect()
    }
}

struct Session {
    cookie: String,
    csrf: String,
}

fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn header_of(response: &Response, name: header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn body(response: Response) -> String {
    String::from_utf8(
        to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap()
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not in:\n{text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    &text[from..to]
}

/// The text of the element with `id`, unescaped.
fn text_of(html: &str, id: &str) -> String {
    let open = format!(r#"id="{id}""#);
    let rest = &html[html
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in:\n{html}"))..];
    let inner = between(rest, ">", "</");
    inner
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

fn expected_policy(text: &str) -> Policy {
    Policy::parse(text, "expected.toml").unwrap()
}

#[tokio::test]
async fn only_the_admin_key_signs_in() {
    let console = Console::new("console-sign-in");
    let response = console.sign_in(ADMIN_KEY).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(header_of(&response, header::LOCATION), "/console");
    let cookie = header_of(&response, header::SET_COOKIE);
    for part in [
        "lcmcp_console=",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=28800",
    ] {
        assert!(cookie.contains(part), "{part} not in {cookie}");
    }
    for key in ["lcmcp_not-the-key", SUPPORT_KEY, AUDITOR_KEY, ""] {
        let response = console.sign_in(key).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{key}");
        assert!(response.headers().get(header::SET_COOKIE).is_none());
    }
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_sign_in() {
    let console = Console::new("console-no-session");
    for path in ["/console", "/console/agents/support-bot"] {
        let response = console.get(path, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(header_of(&response, header::LOCATION), "/console/sign-in");
    }
    let made_up = console.get("/console", Some("lcmcp_console=made-up")).await;
    assert_eq!(made_up.status(), StatusCode::SEE_OTHER);
    let before = console.file();
    let response = console
        .post(
            "/console/access",
            None,
            "level.support-bot.chats=full&was.support-bot.chats=read",
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(console.file(), before);
}

#[tokio::test]
async fn changes_need_the_sessions_csrf_token() {
    let console = Console::new("console-csrf");
    let session = console.session().await;
    let before = console.file();
    let change = "level.support-bot.chats=full&was.support-bot.chats=read";
    let missing = console
        .post("/console/access", Some(&session.cookie), change)
        .await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let wrong = console
        .post(
            "/console/access",
            Some(&session.cookie),
            &format!("csrf=not-{}&{change}", enc(&session.csrf)),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    for path in [
        "/console/agents",
        "/console/agents/support-bot/key",
        "/console/agents/support-bot/remove",
    ] {
        let response = console
            .post(
                path,
                Some(&session.cookie),
                "name=new-bot&confirm=support-bot",
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(console.file(), before);
    assert!(!backup_path(&console.path).exists());
    assert!(console.sentences().await.is_empty());

    let header = Request::post("/console/access")
        .header(header::HOST, "localhost")
        .header(header::COOKIE, &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(change))
        .unwrap();
    let response = console.send(header).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        console
            .policy()
            .agent("support-bot")
            .unwrap()
            .grants
            .level(livechat_mcp::tools::Area::Chats),
        livechat_mcp::policy::Level::Full
    );
}

#[tokio::test]
async fn the_grid_shows_every_agent_and_area() {
    let console = Console::new("console-grid");
    let session = console.session().await;
    let html = body(console.get("/console", Some(&session.cookie)).await).await;
    assert!(html.contains(r#"<form id="grid" method="post" action="/console/access">"#));
    assert!(html.contains(r#"<button id="save" type="submit""#));
    for agent in ["support-bot", "auditor", "drafter"] {
        assert!(
            html.contains(&format!(r#"<tr data-agent="{agent}">"#)),
            "{agent}"
        );
        assert!(html.contains(&format!(r#"<a href="/console/agents/{agent}">"#)));
        for area in livechat_mcp::tools::Area::ALL {
            let area = area.as_str();
            assert!(
                html.contains(&format!(
                    r#"<td data-agent="{agent}" data-area="{area}"><select name="level.{agent}.{area}""#
                )),
                "{agent} {area}"
            );
        }
    }
    for area in livechat_mcp::tools::Area::ALL {
        let label = area.label().replace('&', "&#38;").replace('\'', "&#39;");
        assert!(html.contains(&label), "{label}");
    }
    // Effective levels: an area named, the `*` default, and nothing granted.
    let cell = |agent: &str, area: &str| {
        between(
            &html,
            &format!(r#"data-agent="{agent}" data-area="{area}">"#),
            "</td>",
        )
        .to_string()
    };
    let chats = cell("support-bot", "chats");
    assert!(
        chats.contains(r#"<option value="read" selected>"#),
        "{chats}"
    );
    assert!(chats.contains(r#"<input type="hidden" name="was.support-bot.chats" value="read">"#));
    assert!(chats.contains(r#"aria-label=""#));
    assert!(cell("auditor", "groups").contains(r#"<option value="read" selected>"#));
    assert!(cell("auditor", "customers").contains(r#"<option value="off" selected>"#));
    assert!(cell("drafter", "events").contains(r#"<option value="off" selected>"#));
    // What an area allows is on its column, and in the table under the grid.
    assert!(html.contains("Read allows: list_chats, list_threads, get_chat"));
    assert!(html.contains("start_chat"));
}

#[tokio::test]
async fn saving_the_grid_applies_only_the_changed_cells() {
    let console = Console::new("console-save");
    let session = console.session().await;
    let original = console.file();
    // A form that shows every cell as it was and changes two of them.
    let html = body(console.get("/console", Some(&session.cookie)).await).await;
    let mut form = Vec::new();
    for agent in ["support-bot", "auditor", "drafter"] {
        for area in livechat_mcp::tools::Area::ALL {
            let area = area.as_str();
            let cell = between(
                &html,
                &format!(r#"name="was.{agent}.{area}" value=""#),
                "\"",
            )
            .to_string();
            let level = match (agent, area) {
                ("support-bot", "chats") => "full",
                ("auditor", "groups") => "off",
                _ => &cell,
            };
            form.push(format!(
                "level.{agent}.{area}={level}&was.{agent}.{area}={cell}"
            ));
        }
    }
    let form = form.join("&");
    let page = console
        .follow(
            &session,
            console.change(&session, "/console/access", &form).await,
        )
        .await;
    let status = text_of(&page, "status");
    assert!(
        status.contains("chats set to full for support-bot"),
        "{status}"
    );
    assert!(status.contains("groups set to off for auditor"), "{status}");
    assert!(!page.contains(r#"id="problem""#));

    let expected = policy_text()
        .replace(
            r#"access = { chats = "read", events = "full" }"#,
            r#"access = { chats = "full", events = "full" }"#,
        )
        .replace(
            r#"access = { "*" = "read", customers = "off" }"#,
            r#"access = { "*" = "read", customers = "off", groups = "off" }"#,
        );
    assert_eq!(console.policy(), expected_policy(&expected));
    // The file is the old one with two values changed: comments, order and spacing kept.
    assert_eq!(console.file(), expected);
    assert_eq!(
        std::fs::read_to_string(backup_path(&console.path)).unwrap(),
        original
    );
    assert_eq!(
        console.sentences().await,
        [
            "admin set chats to full for support-bot",
            "admin set groups to off for auditor"
        ]
    );

    // The same form again, loaded before that save: its `was` values are stale, and it
    // changes nothing, so nothing is undone.
    let after_first = console.file();
    let stale = form.replace(
        "level.support-bot.chats=full&was.support-bot.chats=read",
        "level.support-bot.chats=read&was.support-bot.chats=read",
    );
    let stale = stale.replace(
        "level.support-bot.routing=off&was.support-bot.routing=off",
        "level.support-bot.routing=full&was.support-bot.routing=off",
    );
    let stale = stale.replace(
        "level.auditor.groups=off&was.auditor.groups=read",
        "level.auditor.groups=read&was.auditor.groups=read",
    );
    let page = console
        .follow(
            &session,
            console.change(&session, "/console/access", &stale).await,
        )
        .await;
    assert!(text_of(&page, "status").contains("routing set to full for support-bot"));
    let policy = console.policy();
    let support = policy.agent("support-bot").unwrap();
    use livechat_mcp::{policy::Level, tools::Area};
    assert_eq!(support.grants.level(Area::Chats), Level::Full);
    assert_eq!(support.grants.level(Area::Routing), Level::Full);
    assert_eq!(
        policy.agent("auditor").unwrap().grants.level(Area::Groups),
        Level::Off
    );
    assert_eq!(
        std::fs::read_to_string(backup_path(&console.path)).unwrap(),
        after_first
    );
    assert_eq!(
        console.sentences().await.last().map(String::as_str),
        Some("admin set routing to full for support-bot")
    );

    // A form that changes nothing saves nothing.
    let before = console.file();
    let page = console
        .follow(
            &session,
            console
                .change(
                    &session,
                    "/console/access",
                    "level.drafter.chats=off&was.drafter.chats=off",
                )
                .await,
        )
        .await;
    assert!(text_of(&page, "status").contains("Nothing to save"));
    assert_eq!(console.file(), before);
    assert_eq!(console.sentences().await.len(), 3);
}

#[tokio::test]
async fn a_form_naming_what_does_not_exist_saves_nothing() {
    let console = Console::new("console-bad-form");
    let session = console.session().await;
    let before = console.file();
    for (form, named) in [
        (
            "level.nobody.chats=full&level.support-bot.chats=full",
            "`nobody`",
        ),
        ("level.support-bot.chatz=full", "`chatz`"),
        ("level.support-bot.chats=everything", "`everything`"),
        (
            "level.support-bot.chats=full&was.support-bot.chats=sometimes",
            "`sometimes`",
        ),
    ] {
        let response = console.change(&session, "/console/access", form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form}");
        let problem = text_of(&body(response).await, "problem");
        assert!(problem.contains(named), "{problem}");
    }
    assert_eq!(console.file(), before);
    assert!(console.sentences().await.is_empty());
}

/// A policy file broken by hand on disk is not overwritten by a save: the page shows the
/// edit's own message, and the file stays byte for byte.
#[tokio::test]
async fn a_refused_edit_leaves_the_file_untouched() {
    let console = Console::new("console-refused");
    let session = console.session().await;
    let broken = format!(
        "{}\n[agents.typo]\naccess = {{ chats = \"all\" }}\n",
        console.file()
    );
    std::fs::write(&console.path, &broken).unwrap();
    let label = console.path.display().to_string();
    let expected = EditError::DiskInvalid(Policy::parse(&broken, &label).unwrap_err()).to_string();
    let page = console
        .follow(
            &session,
            console
                .change(
                    &session,
                    "/console/access",
                    "level.support-bot.chats=full&was.support-bot.chats=read",
                )
                .await,
        )
        .await;
    assert_eq!(text_of(&page, "problem"), expected);
    assert!(expected.contains("unknown level `all`"), "{expected}");
    assert!(!page.contains(r#"id="status""#));
    assert_eq!(console.file(), broken);
    assert!(!backup_path(&console.path).exists());

    // An agent removed by hand since the console read the file: the edit is refused.
    let without_drafter = policy_text()
        .split("[agents.drafter]")
        .next()
        .unwrap()
        .to_string()
        + "[admin]\n"
        + policy_text().split("[admin]\n").nth(1).unwrap();
    std::fs::write(&console.path, &without_drafter).unwrap();
    let page = console
        .follow(
            &session,
            console
                .change(&session, "/console/access", "level.drafter.chats=read")
                .await,
        )
        .await;
    let problem = text_of(&page, "problem");
    assert!(problem.contains("no agent `drafter`"), "{problem}");
    assert_eq!(console.file(), without_drafter);
    assert!(console.sentences().await.is_empty());

    // A key for it is refused the same way, and shows no key.
    let response = console
        .change(&session, "/console/agents/drafter/key", "")
        .await;
    // The console now knows the file has no drafter.
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(console.file(), without_drafter);
}

#[tokio::test]
async fn agents_are_added_with_a_key_shown_once_and_removed_by_name() {
    let console = Console::new("console-add-remove");
    let session = console.session().await;
    let original = console.file();

    let response = console
        .change(&session, "/console/agents", "name=new-bot")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(&response, header::CACHE_CONTROL), "no-store");
    let html = body(response).await;
    let key = text_of(&html, "new-key");
    assert!(key.starts_with("lcmcp_"), "{key}");
    assert!(html.contains("will not be shown again"));
    let file = console.file();
    assert!(!file.contains(&key));
    assert!(file.contains(&format!(
        "[agents.new-bot]\naccess = {{}}\nkey_sha256 = \"{}\"\n",
        key_sha256(&key)
    )));
    assert!(file.starts_with("# The team's policy"));
    let policy = console.policy();
    let added = policy.agent_for_key(&key).unwrap();
    assert_eq!(added.name, "new-bot");
    assert!(
        added
            .grants
            .describe()
            .iter()
            .all(|(_, level)| *level == livechat_mcp::policy::Level::Off)
    );
    assert_eq!(
        std::fs::read_to_string(backup_path(&console.path)).unwrap(),
        original
    );
    // The key is not on any page after.
    for path in ["/console", "/console/agents/new-bot"] {
        let page = body(console.get(path, Some(&session.cookie)).await).await;
        assert!(!page.contains(&key), "{path}");
    }

    // Bad names and names taken are refused, the file untouched.
    let before = console.file();
    for (name, status, said) in [
        (
            "bad name!",
            StatusCode::BAD_REQUEST,
            "may only hold letters",
        ),
        ("", StatusCode::BAD_REQUEST, "is empty"),
        (
            "new-bot",
            StatusCode::CONFLICT,
            "already an agent `new-bot`",
        ),
    ] {
        let response = console
            .change(&session, "/console/agents", &format!("name={}", enc(name)))
            .await;
        assert_eq!(response.status(), status, "{name}");
        let problem = text_of(&body(response).await, "problem");
        assert!(problem.contains(said), "{problem}");
    }
    assert_eq!(console.file(), before);

    // Removing asks for the name typed.
    let ask = console
        .change(&session, "/console/agents/new-bot/remove", "")
        .await;
    assert_eq!(ask.status(), StatusCode::OK);
    let html = body(ask).await;
    assert!(html.contains(r#"action="/console/agents/new-bot/remove""#));
    assert!(html.contains(r#"name="confirm""#));
    assert!(!html.contains(r#"id="problem""#));
    let wrong = body(
        console
            .change(&session, "/console/agents/new-bot/remove", "confirm=new-bo")
            .await,
    )
    .await;
    assert!(text_of(&wrong, "problem").contains("You typed `new-bo`"));
    assert_eq!(console.file(), before);

    let page = console
        .follow(
            &session,
            console
                .change(
                    &session,
                    "/console/agents/new-bot/remove",
                    "confirm=new-bot",
                )
                .await,
        )
        .await;
    assert!(text_of(&page, "status").contains("Removed agent new-bot"));
    assert!(!page.contains(r#"data-agent="new-bot""#));
    assert_eq!(console.policy(), expected_policy(&original));
    assert!(console.file().starts_with("# The team's policy"));
    assert!(console.file().contains("# Reads everything but customers."));
    assert_eq!(
        console.sentences().await,
        ["admin added agent new-bot", "admin removed agent new-bot"]
    );
    let gone = console
        .get("/console/agents/new-bot", Some(&session.cookie))
        .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn keys_are_rotated_or_made_and_shown_once() {
    let console = Console::new("console-keys");
    let session = console.session().await;

    let response = console
        .change(&session, "/console/agents/support-bot/key", "")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(&response, header::CACHE_CONTROL), "no-store");
    let html = body(response).await;
    let key = text_of(&html, "new-key");
    assert_eq!(html.matches(&key).count(), 1);
    assert!(html.contains("will not be shown again"));
    let file = console.file();
    assert!(!file.contains(&key));
    assert!(file.contains(&key_sha256(&key)));
    assert!(!file.contains(&key_sha256(SUPPORT_KEY)));
    assert!(file.contains(r#"access = { chats = "read", events = "full" }   # what it may do"#));
    let policy = console.policy();
    assert_eq!(policy.agent_for_key(&key).unwrap().name, "support-bot");
    assert!(policy.agent_for_key(SUPPORT_KEY).is_none());

    // An agent without a key gets its first.
    let html = body(
        console
            .change(&session, "/console/agents/drafter/key", "")
            .await,
    )
    .await;
    let first = text_of(&html, "new-key");
    assert_eq!(
        console.policy().agent_for_key(&first).unwrap().name,
        "drafter"
    );
    assert!(!console.file().contains(&first));

    assert_eq!(
        console.sentences().await,
        [
            "admin rotated the key of support-bot",
            "admin made a key for drafter"
        ]
    );
    // No key reaches the trail.
    let rows = console.audit.query(&QueryFilter::default()).await.unwrap();
    let json = serde_json::to_string(&rows).unwrap();
    assert!(!json.contains(&key) && !json.contains(&first));
    assert!(!json.contains(&key_sha256(&key)));

    let missing = console
        .change(&session, "/console/agents/nobody/key", "")
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_agent_page_says_what_it_may_do_and_as_whom() {
    let console = Console::new("console-agent-page");
    let session = console.session().await;
    let page = |name: &'static str| {
        let console = &console;
        let cookie = session.cookie.clone();
        async move {
            let response = console
                .get(&format!("/console/agents/{name}"), Some(&cookie))
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            body(response).await
        }
    };
    let support = page("support-bot").await;
    assert!(text_of(&support, "identity").contains("The server's LiveChat token"));
    let chats = between(&support, r#"<tr data-area="chats">"#, "</tr>");
    assert!(
        chats.contains("list_chats") && !chats.contains("start_chat"),
        "{chats}"
    );
    let events = between(&support, r#"<tr data-area="events">"#, "</tr>");
    assert!(events.contains("send_event"), "{events}");
    assert!(!support.contains(r#"<tr data-area="groups">"#));
    assert!(support.contains("Rotate the key"));
    assert!(support.contains(r#"action="/console/agents/support-bot/remove""#));

    let auditor = page("auditor").await;
    let identity = text_of(&auditor, "identity");
    assert!(
        identity.contains("personal access token") && identity.contains("AUDITOR_LIVECHAT_PAT"),
        "{identity}"
    );
    assert!(auditor.contains("<dd>60</dd>") && auditor.contains("<dd>10</dd>"));
    assert!(!auditor.contains(r#"<tr data-area="customers">"#));

    let drafter = page("drafter").await;
    let identity = text_of(&drafter, "identity");
    assert!(
        identity.contains("bot of its own") && identity.contains("groups 0, 2"),
        "{identity}"
    );
    assert!(drafter.contains("send_event") && drafter.contains("Customers"));
    assert!(drafter.contains("a person in this console"));
    assert!(drafter.contains("internal notes"));
    assert!(drafter.contains("Make a key"));
    assert!(drafter.contains("every area is off"));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let console = Console::new("console-sign-out");
    let session = console.session().await;
    let response = console.change(&session, "/console/sign-out", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(header_of(&response, header::LOCATION), "/console/sign-in");
    assert!(header_of(&response, header::SET_COOKIE).contains("Max-Age=0"));
    let after = console.get("/console", Some(&session.cookie)).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(header_of(&after, header::LOCATION), "/console/sign-in");
    let before = console.file();
    let change = console
        .change(
            &session,
            "/console/access",
            "level.support-bot.chats=full&was.support-bot.chats=read",
        )
        .await;
    assert_eq!(change.status(), StatusCode::FORBIDDEN);
    assert_eq!(console.file(), before);
}

/// Another session cannot read the note a change left for this one.
#[tokio::test]
async fn a_note_is_for_the_session_that_made_the_change() {
    let console = Console::new("console-notes");
    let one = console.session().await;
    let two = console.session().await;
    let response = console
        .change(
            &one,
            "/console/access",
            "level.support-bot.chats=full&was.support-bot.chats=read",
        )
        .await;
    let location = header_of(&response, header::LOCATION);
    let theirs = body(console.get(&location, Some(&two.cookie)).await).await;
    assert!(!theirs.contains(r#"id="status""#));
    let mine = body(console.get(&location, Some(&one.cookie)).await).await;
    assert!(text_of(&mine, "status").contains("chats set to full"));
}

/// A console without an audit trail still saves changes.
#[tokio::test]
async fn changes_save_without_an_audit_trail() {
    let console = Console::made("console-no-audit", &policy_text(), false);
    let session = console.session().await;
    let page = console
        .follow(
            &session,
            console
                .change(
                    &session,
                    "/console/access",
                    "level.drafter.routing=full&was.drafter.routing=off",
                )
                .await,
        )
        .await;
    assert!(text_of(&page, "status").contains("routing set to full for drafter"));
    assert!(!page.contains(r#"id="problem""#));
    let expected = policy_text().replace(
        "[agents.drafter]\n",
        "[agents.drafter]\naccess = { routing = \"full\" }\n",
    );
    assert_eq!(console.policy(), expected_policy(&expected));
    assert!(console.sentences().await.is_empty());
}

/// What a browser needs that a handler test would not notice: a form posted from the console's
/// own page carries `Origin` (the referrer policy must not make it `null`), and every page
/// loads the console's script.
#[tokio::test]
async fn a_browser_can_sign_in_from_the_page_and_every_page_loads_its_script() {
    let console = Console::new("console-browser-needs");
    let request = Request::post("/console/sign-in")
        .header(header::HOST, "localhost:8000")
        .header(header::ORIGIN, "http://localhost:8000")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("key={}", enc(ADMIN_KEY))))
        .unwrap();
    let signed = console.send(request).await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let refused = console
        .send(
            Request::post("/console/sign-in")
                .header(header::HOST, "localhost:8000")
                .header(header::ORIGIN, "null")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("key={}", enc(ADMIN_KEY))))
                .unwrap(),
        )
        .await;
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "an opaque origin is refused"
    );
    let session = console.session().await;
    for page in [
        "/console",
        "/console/trail",
        "/console/approvals",
        "/console/live",
        "/console/agents/support-bot",
    ] {
        let response = console.get(page, Some(&session.cookie)).await;
        let policy = header_of(&response, header::REFERRER_POLICY);
        assert_eq!(
            policy, "same-origin",
            "{page}: under no-referrer a browser posts forms with `Origin: null`"
        );
        let html = body(response).await;
        assert!(
            html.contains(r#"<script src="/console/assets/console.js" defer></script>"#),
            "{page} loads the console's script"
        );
    }
    let signed_out = console.get("/console/sign-in", None).await;
    assert!(body(signed_out).await.contains("console.js"));
}
