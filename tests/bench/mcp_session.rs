//! What the benchmarks share: one MCP session over streamable HTTP, driven by a lightweight
//! client so that the figures are the server's, and the percentile of a sorted sample.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

pub const PROTOCOL: &str = "2025-06-18";

/// One MCP session over streamable HTTP.
pub struct Session {
    http: reqwest::Client,
    url: String,
    key: String,
    id: String,
    /// Each request its own JSON-RPC id: the session routes answers by id.
    next: AtomicU64,
}

impl Session {
    /// Initializes a session at `base` with the agent's `key`, as client `name`.
    pub async fn open(base: &str, key: &str, name: &str) -> anyhow::Result<Session> {
        Session::open_with(reqwest::Client::builder().build()?, base, key, name).await
    }

    /// [`Session::open`] on a client shared with other sessions.
    pub async fn open_with(
        http: reqwest::Client,
        base: &str,
        key: &str,
        name: &str,
    ) -> anyhow::Result<Session> {
        let url = format!("{base}/mcp");
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {},
            "clientInfo": {"name": name, "version": "0"}}});
        let response = http
            .post(&url)
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("initialize: HTTP {}", response.status());
        }
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .context("no session id")?
            .to_string();
        response.text().await?;
        let session = Session {
            http,
            url,
            key: key.to_string(),
            id,
            next: AtomicU64::new(1),
        };
        session
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(session)
    }

    async fn post(&self, body: &Value) -> anyhow::Result<String> {
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", PROTOCOL)
            .json(body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("HTTP {}", response.status());
        }
        Ok(response.text().await?)
    }

    /// Calls `tool`: the JSON-RPC answer, or an error if the call failed.
    pub async fn call(&self, tool: &str, arguments: Value) -> anyhow::Result<Value> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}});
        let text = self.post(&body).await?;
        // A JSON answer, or the answer among an SSE stream's events.
        let message = if text.trim_start().starts_with('{') {
            serde_json::from_str::<Value>(&text).ok()
        } else {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|m| m["id"] == id)
        }
        .with_context(|| format!("no answer to {tool} in {text}"))?;
        if message["result"]["isError"] == true || message.get("error").is_some() {
            bail!("{tool} failed: {message}");
        }
        Ok(message)
    }
}

/// A tool's answer in a JSON-RPC answer: its first text block, as JSON.
pub fn answer(message: &Value) -> anyhow::Result<Value> {
    let text = message["result"]["content"][0]["text"]
        .as_str()
        .with_context(|| format!("no text in {message}"))?;
    Ok(serde_json::from_str(text)?)
}

/// The `p` quantile of `sorted`, in milliseconds.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
