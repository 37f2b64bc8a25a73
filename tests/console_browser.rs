//! The console in a real browser: headless Chromium driven over WebDriver through
//! `chromedriver`, against the console as a person uses it.
//!
//! Needs `LIVECHAT_MCP_E2E_CHROMEDRIVER` (Debian: `apt-get install chromium chromium-driver`);
//! `tests/run` sets it when chromedriver is installed, and without it this test says loudly
//! that it skipped. Screenshots of every page land in `target/console-screenshots/`; with
//! `LIVECHAT_MCP_UPDATE_SCREENSHOTS=1` the access grid and the trail are also copied to
//! `docs/console/` for the README.

mod http_support;
#[path = "common/webdriver.rs"]
mod webdriver;

use std::time::Duration;

use http_support::{McpClient, ServerProcess, TempDir, audit_rows, event};
use livechat_mcp::{audit::Decision, http::new_key, policy::key_sha256};
use serde_json::json;
use webdriver::Browser;

/// Types `key` into the sign-in form at `base` and sends it, as a person would.
async fn submit_key(browser: &Browser, base: &str, key: &str) {
    browser.goto(&format!("{base}/console")).await;
    let field = browser.wait_for("input[type=password][name=key]").await;
    assert!(
        browser.url().await.ends_with("/console/sign-in"),
        "signed out, /console sends to the sign-in form"
    );
    browser.send_keys(&field, key).await;
    let submit = browser
        .find("form[action=\"/console/sign-in\"] button[type=submit]")
        .await
        .expect("the sign-in button");
    browser.click(&submit).await;
}

/// The agents of the scenario: `support` reads chats (customers off); `closer` writes events,
/// and each `send_event` waits for a person at the console.
fn team_policy(admin: &str, support: &str, closer: &str) -> String {
    format!(
        "# The team's policy, as the console edits it.\n\
         [agents.support]\n\
         access = {{ chats = \"read\" }}\n\
         key_sha256 = \"{}\"\n\n\
         [agents.closer]\n\
         access = {{ chats = \"read\", events = \"full\" }}\n\
         approve = [\"send_event\"]\n\
         approvers = [\"console\"]\n\
         key_sha256 = \"{}\"\n\n\
         [admin]\n\
         key_sha256 = \"{}\"\n",
        key_sha256(support),
        key_sha256(closer),
        key_sha256(admin)
    )
}

/// Polls `support`'s `tools/list` until it names `tool`; a hang guard, not a timing assertion.
async fn until_listed(client: &McpClient, tool: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + webdriver::WAIT;
    loop {
        let tools = client.tools().await;
        if tools.iter().any(|t| t == tool) {
            return tools;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{tool} never appeared in tools/list: {tools:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// With `LIVECHAT_MCP_UPDATE_SCREENSHOTS=1`, copies screenshot `name` to `docs/console/`.
fn publish(shot: &std::path::Path, name: &str) {
    if std::env::var("LIVECHAT_MCP_UPDATE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console");
    std::fs::create_dir_all(&docs).expect("docs/console");
    std::fs::copy(shot, docs.join(format!("{name}.png"))).expect("copy the screenshot");
}

/// The whole console as a team lead uses it, on the built binary's `serve --http` with the
/// sandbox: grant an agent a level in the grid and see its open MCP session gain the tools;
/// see a refused call's sentence arrive in the trail; approve a held call and see it go out.
#[tokio::test(flavor = "multi_thread")]
async fn a_team_lead_grants_access_reads_the_trail_and_approves_a_held_call() {
    let Some(chromedriver) = webdriver::chromedriver() else {
        return;
    };
    let started = std::time::Instant::now();
    let dir = TempDir::new("browser-scenario");
    let (admin, support, closer) = (new_key(), new_key(), new_key());
    let policy = dir.join("team.toml");
    std::fs::write(&policy, team_policy(&admin, &support, &closer)).expect("write policy");
    let audit = dir.join("audit.db");
    let server = ServerProcess::spawn(
        &[
            "--sandbox",
            "--policy",
            policy.to_str().expect("path"),
            "--audit",
            audit.to_str().expect("path"),
        ],
        &[],
    );
    let base = server.base.clone();

    // `support`'s session opens before anything changes.
    let agent = McpClient::connect(&base, &support).await;
    let before = agent.tools().await;
    assert!(
        !before.iter().any(|t| t == "get_customer"),
        "customers is off: {before:?}"
    );

    let browser = Browser::start(&chromedriver).await;
    // An agent's key does not open the console; the admin key does.
    browser.goto(&format!("{base}/console/sign-in")).await;
    browser.wait_for("input[type=password][name=key]").await;
    browser.screenshot("sign-in").await;
    submit_key(&browser, &base, &support).await;
    browser.wait_for_text("#problem", "not the admin key").await;
    submit_key(&browser, &base, &admin).await;
    browser.wait_for("form[action=\"/console/sign-out\"]").await;
    assert_eq!(browser.url().await, format!("{base}/console"));
    let current = browser.wait_for("nav a[aria-current=page]").await;
    assert_eq!(
        browser.attribute(&current, "href").await.as_deref(),
        Some("/console")
    );

    // The grid: customers from Off to Read for `support`, saved.
    let cell = "td[data-agent=support][data-area=customers] select";
    let select = browser.wait_for(cell).await;
    assert_eq!(browser.property(&select, "value").await, json!("off"));
    browser.select(&select, "read").await;
    browser
        .click(&browser.find("#save").await.expect("#save"))
        .await;
    let status = browser.wait_for("#status").await;
    let said = browser.text(&status).await;
    assert!(!said.is_empty(), "the save says what it did");
    assert!(
        browser.find("#problem").await.is_err(),
        "the save was not refused: {}",
        browser.source().await
    );
    let select = browser.wait_for(cell).await;
    assert_eq!(
        browser.property(&select, "value").await,
        json!("read"),
        "the grid shows the saved level"
    );
    let shot = browser.screenshot("access").await;
    publish(&shot, "access");
    assert!(
        std::fs::read_to_string(&policy)
            .expect("policy")
            .starts_with("# The team's policy"),
        "the saved file keeps its comments"
    );

    // The session opened before the change gains the customers' reads.
    until_listed(&agent, "get_customer").await;

    // The agent's own page, when the grid links to one.
    if let Ok(link) = browser.find("tr[data-agent=support] a[href]").await {
        browser.click(&link).await;
        browser.wait_for("main h1").await;
        browser.screenshot("agent").await;
    }

    // A refused call's sentence arrives in the open trail page.
    browser.goto(&format!("{base}/console/trail")).await;
    browser.wait_for("#trail-rows").await;
    let (refused, result) = agent.call("list_groups", json!({})).await;
    assert!(refused, "groups is off for support: {result}");
    let rows = audit_rows(&audit).await;
    let row = rows
        .iter()
        .rev()
        .find(|r| r.tool == "list_groups" && r.decision == Decision::Denied)
        .expect("the refusal is in the trail");
    let sentence = browser
        .wait_for_text(
            &format!(
                "#trail-rows tr[data-decision=denied][data-entry-id=\"{}\"] td.sentence",
                row.id
            ),
            &row.summary,
        )
        .await;
    assert_eq!(browser.text(&sentence).await.trim(), row.summary);
    let shot = browser.screenshot("trail").await;
    publish(&shot, "trail");

    // A held call: `closer` asks, the lead approves in the browser, `closer` asks again.
    let sender = McpClient::connect(&base, &closer).await;
    let message = event("Your refund is on its way.");
    let (held, result) = sender.call("send_event", message.clone()).await;
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        held && text.starts_with("pending_approval: request APR-"),
        "{result}"
    );
    let at = text.find("APR-").expect("a request id");
    let id = &text[at..at + 14];
    browser.goto(&format!("{base}/console/approvals")).await;
    browser
        .wait_for(&format!("tr[data-approval-id=\"{id}\"]"))
        .await;
    browser.screenshot("approvals").await;
    let approve = browser
        .find(&format!(
            "form[action=\"/console/approvals/{id}/approve\"] button"
        ))
        .await
        .expect("the Approve button");
    assert_eq!(browser.text(&approve).await, "Approve");
    browser.click(&approve).await;
    browser
        .wait_until("the request to leave the pending list", async |b| {
            b.find(&format!(
                "tr[data-approval-id=\"{id}\"] form[action$=\"/approve\"]"
            ))
            .await
            .is_err()
            .then_some(())
        })
        .await;
    let (failed, result) = sender.call("send_event", message).await;
    assert!(!failed, "the approved call goes out: {result}");

    browser.goto(&format!("{base}/console/live")).await;
    browser.wait_for("main h1").await;
    browser.screenshot("live").await;

    // Signing out ends the session: a page sends to the form again.
    let sign_out = browser
        .find("form[action=\"/console/sign-out\"] button")
        .await
        .expect("the sign-out button");
    browser.click(&sign_out).await;
    browser.wait_for("input[type=password][name=key]").await;
    browser.goto(&format!("{base}/console/trail")).await;
    browser.wait_for("input[type=password][name=key]").await;

    eprintln!(
        "console_browser: the scenario took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(browser);
    drop(server);
}
