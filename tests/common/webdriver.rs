//! A small WebDriver client for the browser tests: starts `chromedriver` on a free loopback
//! port, opens one headless Chromium session, and drives it over the W3C WebDriver protocol
//! (reqwest + serde_json). The session is deleted and chromedriver killed on drop, also when a
//! test panics.
//!
//! Include it with `#[path = "common/webdriver.rs"] mod webdriver;`.

#![allow(dead_code)]

use std::{
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{Value, json};

/// The key WebDriver names an element by in its answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait polls before it gives up: a hang guard, not a timing assertion.
pub const WAIT: Duration = Duration::from_secs(30);

/// chromedriver's path from `LIVECHAT_MCP_E2E_CHROMEDRIVER`, or `None` after saying loudly
/// that the browser test was skipped.
pub fn chromedriver() -> Option<String> {
    let path = std::env::var("LIVECHAT_MCP_E2E_CHROMEDRIVER")
        .ok()
        .filter(|p| !p.is_empty());
    if path.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: LIVECHAT_MCP_E2E_CHROMEDRIVER is not set, so the console was not driven in a real browser. `tests/run` sets it up (Debian: apt-get install chromium chromium-driver). ***\n"
        );
    }
    path
}

/// Where screenshots go: `target/console-screenshots/NAME.png` under the crate.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots")
}

/// An element of the current page, as WebDriver names it.
#[derive(Clone, Debug)]
pub struct Element(String);

/// A WebDriver error: its code (`no such element`, …) and message.
#[derive(Debug)]
pub struct WdError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// One headless Chromium, driven through its own chromedriver.
pub struct Browser {
    http: reqwest::Client,
    driver: Child,
    port: u16,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    session_id: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts `chromedriver` and a headless Chromium session (binary `/usr/bin/chromium`, or
    /// `LIVECHAT_MCP_E2E_CHROMIUM`).
    pub async fn start(chromedriver: &str) -> Browser {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("reqwest");
        // A port can be taken between choosing it and chromedriver binding it: try again.
        let mut attempts = 0;
        let (driver, port) = loop {
            attempts += 1;
            let port = free_port();
            let mut driver = Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
            if ready(&http, port, &mut driver).await {
                break (driver, port);
            }
            let _ = driver.kill();
            let _ = driver.wait();
            assert!(attempts < 3, "chromedriver did not become ready");
        };
        let binary = std::env::var("LIVECHAT_MCP_E2E_CHROMIUM")
            .ok()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "/usr/bin/chromium".to_string());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"],
            },
        }}});
        let base = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            http,
            driver,
            port,
            session: String::new(),
            session_id: String::new(),
        };
        let answer = browser
            .command(
                reqwest::Method::POST,
                &format!("{base}/session"),
                Some(capabilities),
            )
            .await
            .unwrap_or_else(|e| panic!("a new browser session: {e}"));
        let id = answer["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser.session = format!("{base}/session/{id}");
        browser.session_id = id;
        browser
    }

    /// Sends one command; its `value`, or the WebDriver error.
    async fn command(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Value, WdError> {
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| WdError {
            error: "transport".into(),
            message: e.to_string(),
        })?;
        let status = response.status();
        let answer: Value = response.json().await.map_err(|e| WdError {
            error: "transport".into(),
            message: format!("{status}: {e}"),
        })?;
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        match value.get("error").and_then(Value::as_str) {
            Some(error) if !status.is_success() => Err(WdError {
                error: error.to_string(),
                message: value["message"].as_str().unwrap_or_default().to_string(),
            }),
            _ => Ok(value),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WdError> {
        let url = format!("{}{path}", self.session);
        self.command(reqwest::Method::POST, &url, Some(body)).await
    }

    async fn get(&self, path: &str) -> Result<Value, WdError> {
        let url = format!("{}{path}", self.session);
        self.command(reqwest::Method::GET, &url, None).await
    }

    fn must<T>(what: &str, result: Result<T, WdError>) -> T {
        result.unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        Self::must(url, self.post("/url", json!({"url": url})).await);
    }

    /// The current page's URL.
    pub async fn url(&self) -> String {
        let value = Self::must("the URL", self.get("/url").await);
        value.as_str().unwrap_or_default().to_string()
    }

    pub async fn title(&self) -> String {
        let value = Self::must("the title", self.get("/title").await);
        value.as_str().unwrap_or_default().to_string()
    }

    /// The current page's HTML, for failure messages.
    pub async fn source(&self) -> String {
        let value = Self::must("the page source", self.get("/source").await);
        value.as_str().unwrap_or_default().to_string()
    }

    fn element(value: &Value) -> Element {
        Element(value[ELEMENT_KEY].as_str().expect("an element").to_string())
    }

    /// The first element matching `css`.
    pub async fn find(&self, css: &str) -> Result<Element, WdError> {
        let value = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await?;
        Ok(Self::element(&value))
    }

    /// Every element matching `css` (none is not an error).
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let value = Self::must(
            css,
            self.post("/elements", json!({"using": "css selector", "value": css}))
                .await,
        );
        value
            .as_array()
            .map(|all| all.iter().map(Self::element).collect())
            .unwrap_or_default()
    }

    /// The first element matching `css` inside `parent`.
    pub async fn find_in(&self, parent: &Element, css: &str) -> Result<Element, WdError> {
        let value = self
            .post(
                &format!("/element/{}/element", parent.0),
                json!({"using": "css selector", "value": css}),
            )
            .await?;
        Ok(Self::element(&value))
    }

    pub async fn click(&self, element: &Element) {
        Self::must(
            "click",
            self.post(&format!("/element/{}/click", element.0), json!({}))
                .await,
        );
    }

    /// Types `text` into `element`.
    pub async fn send_keys(&self, element: &Element, text: &str) {
        Self::must(
            "send keys",
            self.post(
                &format!("/element/{}/value", element.0),
                json!({"text": text}),
            )
            .await,
        );
    }

    pub async fn clear(&self, element: &Element) {
        Self::must(
            "clear",
            self.post(&format!("/element/{}/clear", element.0), json!({}))
                .await,
        );
    }

    /// Chooses the option of `select` whose value is `value`, by clicking it as a person would.
    pub async fn select(&self, select: &Element, value: &str) {
        let option = Self::must(
            &format!("option {value}"),
            self.find_in(select, &format!("option[value=\"{value}\"]"))
                .await,
        );
        self.click(&option).await;
    }

    /// The rendered text of `element`.
    pub async fn text(&self, element: &Element) -> String {
        let value = Self::must(
            "text",
            self.get(&format!("/element/{}/text", element.0)).await,
        );
        value.as_str().unwrap_or_default().to_string()
    }

    /// An attribute of `element`, if it has it.
    pub async fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        let value = Self::must(
            name,
            self.get(&format!("/element/{}/attribute/{name}", element.0))
                .await,
        );
        value.as_str().map(str::to_string)
    }

    /// A DOM property of `element` (`value` of a `<select>`, …).
    pub async fn property(&self, element: &Element, name: &str) -> Value {
        Self::must(
            name,
            self.get(&format!("/element/{}/property/{name}", element.0))
                .await,
        )
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        Self::must(
            "script",
            self.post("/execute/sync", json!({"script": script, "args": args}))
                .await,
        )
    }

    /// Polls `check` until it gives a value, for at most [`WAIT`]; panics naming `what` after.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        mut check: impl AsyncFnMut(&Browser) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = check(self).await {
                return found;
            }
            if Instant::now() > deadline {
                let url = self.url().await;
                let shot = self.screenshot("failed").await;
                let text = self
                    .execute(
                        "return document.body ? document.body.innerText : ''",
                        vec![],
                    )
                    .await;
                panic!(
                    "gave up waiting for {what} on {url} (screenshot {}); the page says:\n{}",
                    shot.display(),
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        self.wait_until(css, async |b| b.find(css).await.ok()).await
    }

    /// Waits until the text of the first element matching `css` contains `text`.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> Element {
        self.wait_until(&format!("{css} containing {text:?}"), async |b| {
            let element = b.find(css).await.ok()?;
            let shown = b.get(&format!("/element/{}/text", element.0)).await.ok()?;
            shown
                .as_str()
                .is_some_and(|s| s.contains(text))
                .then_some(element)
        })
        .await
    }

    /// A PNG of the whole page (beyond the window), saved as
    /// `target/console-screenshots/NAME.png`; its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let data = match self.full_page_png().await {
            Ok(data) => data,
            // Not Chromium's DevTools: the window is the best there is.
            Err(_) => Self::must("screenshot", self.get("/screenshot").await)
                .as_str()
                .unwrap_or_default()
                .to_string(),
        };
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("a screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Result<Value, WdError> {
        self.post("/goog/cdp/execute", json!({"cmd": cmd, "params": params}))
            .await
    }

    async fn full_page_png(&self) -> Result<String, WdError> {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await?;
        let size = &metrics["cssContentSize"];
        let (width, height) = (
            size["width"].as_f64().unwrap_or(1280.0),
            size["height"].as_f64().unwrap_or(900.0),
        );
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
            )
            .await?;
        Ok(shot["data"].as_str().unwrap_or_default().to_string())
    }
}

/// Whether chromedriver on `port` says it is ready, polling until it does or has exited.
async fn ready(http: &reqwest::Client, port: u16, driver: &mut Child) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if matches!(driver.try_wait(), Ok(Some(_))) {
            return false;
        }
        let status = http
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await;
        if let Ok(response) = status
            && let Ok(answer) = response.json::<Value>().await
            && answer["value"]["ready"] == true
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

impl Drop for Browser {
    /// Deletes the session (Chromium quits) with a plain blocking request, since drop cannot
    /// wait on the runtime, then kills chromedriver.
    fn drop(&mut self) {
        if !self.session_id.is_empty()
            && let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port))
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session_id, self.port
            );
            // chromedriver answers once Chromium has quit, and may keep the connection open:
            // read up to the end of the answer's head, not to the end of the stream.
            if stream.write_all(request.as_bytes()).is_ok() {
                let (mut answer, mut chunk) = (Vec::new(), [0u8; 1024]);
                while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.extend_from_slice(&chunk[..n]),
                    }
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
