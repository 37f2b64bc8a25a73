//! The console in a real browser: headless Chromium driven over WebDriver through
//! `chromedriver`, against the console as a person uses it.
//!
//! Needs `LIVECHAT_MCP_E2E_CHROMEDRIVER` (Debian: `apt-get install chromium chromium-driver`);
//! `tests/run` sets it when chromedriver is installed, and without it this test says loudly
//! that it skipped. Screenshots of every page land in `target/console-screenshots/`; with
//! `LIVECHAT_MCP_UPDATE_SCREENSHOTS=1` the access grid and the trail are also copied to
//! `docs/console/` for the README.

#[path = "common/webdriver.rs"]
mod webdriver;

use std::sync::Arc;

use livechat_mcp::{
    console::{ConsoleState, Sessions, console_app},
    http::{AllowedHosts, new_key},
    policy::{file::PolicyFile, key_sha256},
};
use webdriver::Browser;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "livechat-mcp-browser-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The console alone, in process, on a loopback port: its base URL.
async fn console_in_process(policy: &std::path::Path) -> String {
    let state = Arc::new(ConsoleState {
        policy: PolicyFile::open(policy).expect("policy"),
        admin_key_override: None,
        audit: None,
        approvals: None,
        events: None,
        metrics: None,
        hosts: AllowedHosts::new(&[]).expect("hosts"),
        sessions: Sessions::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, console_app(state)).await;
    });
    base
}

/// Signs in at `base` with `key`: types it into the form as a person would.
async fn sign_in(browser: &Browser, base: &str, key: &str) {
    browser.goto(&format!("{base}/console")).await;
    let field = browser.wait_for("input[type=password][name=key]").await;
    assert!(
        browser.url().await.ends_with("/console/sign-in"),
        "signed out, /console sends to the sign-in form"
    );
    browser.screenshot("sign-in").await;
    browser.send_keys(&field, key).await;
    let submit = browser
        .find("form[action=\"/console/sign-in\"] button[type=submit]")
        .await
        .expect("the sign-in button");
    browser.click(&submit).await;
    browser.wait_for("form[action=\"/console/sign-out\"]").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn console_in_process_signs_in_and_shows_its_pages() {
    let Some(chromedriver) = webdriver::chromedriver() else {
        return;
    };
    let dir = TempDir::new("in-process");
    let admin = new_key();
    let agent = new_key();
    let path = dir.join("policy.toml");
    std::fs::write(
        &path,
        format!(
            "[agents.support]\naccess = {{ chats = \"read\" }}\nkey_sha256 = \"{}\"\n\n[admin]\nkey_sha256 = \"{}\"\n",
            key_sha256(&agent),
            key_sha256(&admin)
        ),
    )
    .expect("write policy");
    let base = console_in_process(&path).await;
    let browser = Browser::start(&chromedriver).await;

    // An agent's key does not open the console.
    browser.goto(&format!("{base}/console/sign-in")).await;
    let field = browser.wait_for("input[type=password][name=key]").await;
    browser.send_keys(&field, &agent).await;
    let submit = browser
        .find("button[type=submit]")
        .await
        .expect("the sign-in button");
    browser.click(&submit).await;
    browser.wait_for_text("#problem", "not the admin key").await;

    sign_in(&browser, &base, &admin).await;
    assert_eq!(browser.url().await, format!("{base}/console"));
    for (page, path) in [
        ("access", "/console"),
        ("trail", "/console/trail"),
        ("approvals", "/console/approvals"),
        ("live", "/console/live"),
    ] {
        browser.goto(&format!("{base}{path}")).await;
        let current = browser.wait_for("nav a[aria-current=page]").await;
        assert_eq!(
            browser.attribute(&current, "href").await.as_deref(),
            Some(path),
            "{page}: the navigation marks the page"
        );
        browser.screenshot(&format!("in-process-{page}")).await;
    }

    // Signing out ends the session: the pages send to the form again.
    let sign_out = browser
        .find("form[action=\"/console/sign-out\"] button")
        .await
        .expect("the sign-out button");
    browser.click(&sign_out).await;
    browser.wait_for("input[type=password][name=key]").await;
    browser.goto(&format!("{base}/console/trail")).await;
    browser.wait_for("input[type=password][name=key]").await;
}
