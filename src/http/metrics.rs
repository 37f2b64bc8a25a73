//! `/metrics` in the Prometheus text format: tool calls by tool, agent, decision and outcome;
//! call latency; upstream errors by type; retries by cause; time waited for the limiter; open
//! sessions and requests in flight per agent;
//! requests turned away. Per-call figures come from [`LiveChatServer::call`] through
//! [`CallObserver`], so they count exactly what the audit trail records.
//!
//! [`LiveChatServer::call`]: crate::server::LiveChatServer::call

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::Response,
};

use super::{HttpState, limits::plain};
use crate::{
    audit::{NewEntry, Outcome},
    error::FailureKind,
    server::{CallObserver, Traffic, WHOAMI},
};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The label for a tool name that is not a tool, so callers cannot mint label values.
const UNKNOWN_TOOL: &str = "(unknown)";

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|&le| seconds <= le) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Default)]
struct Counters {
    /// (tool, agent, decision, outcome) → calls.
    calls: BTreeMap<(String, String, &'static str, &'static str), u64>,
    /// tool → latency.
    latency: BTreeMap<String, Histogram>,
    /// error type → upstream failures.
    upstream_errors: BTreeMap<String, u64>,
    /// reason → requests refused before the MCP layer.
    rejected: BTreeMap<&'static str, u64>,
    /// cause → upstream requests repeated.
    retries: BTreeMap<&'static str, u64>,
    /// Time calls waited for the limiter, for calls that asked it.
    limiter_wait: Histogram,
    /// agent → (calls that waited for the limiter, seconds waited in all).
    agent_waits: BTreeMap<String, (u64, f64)>,
}

/// One agent's calls since the server started (see [`Metrics::figures`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentFigures {
    pub calls: u64,
    pub denied: u64,
    pub errors: u64,
    /// Its calls that had to wait for the limiter, and how long they waited in all (ms).
    pub waits: u64,
    pub waited_ms: u64,
}

/// [`Metrics::figures`]: per agent, and the limiter's waits for all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub agents: BTreeMap<String, AgentFigures>,
    pub limiter_waits: u64,
    pub limiter_wait_seconds: f64,
}

/// The server's counters. Cheap to update: one short lock per call.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request refused before it reached MCP: `unauthorized`, `forbidden`,
    /// `too_large`, `body_timeout`, `header_timeout`, `too_many_connections`,
    /// `too_many_requests`, `too_many_sessions`, `shutting_down`.
    pub fn rejected(&self, reason: &'static str) {
        *self.counters().rejected.entry(reason).or_default() += 1;
    }

    /// Calls recorded so far, summed over every label.
    pub fn calls(&self) -> u64 {
        self.counters().calls.values().sum()
    }

    /// What the console's live page shows: per agent, its calls, the ones policy denied, the
    /// ones that failed (outcome `error` or `unknown`) and the ones that waited for the
    /// limiter (and how long); and the limiter's figures for all agents together.
    pub fn figures(&self) -> Figures {
        let counters = self.counters();
        let mut agents: BTreeMap<String, AgentFigures> = BTreeMap::new();
        for ((_, agent, decision, outcome), n) in &counters.calls {
            let figures = agents.entry(agent.clone()).or_default();
            figures.calls += n;
            if *decision == "denied" {
                figures.denied += n;
            }
            if matches!(*outcome, "error" | "unknown") {
                figures.errors += n;
            }
        }
        for (agent, (waits, seconds)) in &counters.agent_waits {
            let figures = agents.entry(agent.clone()).or_default();
            figures.waits = *waits;
            figures.waited_ms = (seconds * 1000.0).round() as u64;
        }
        Figures {
            agents,
            limiter_waits: counters.limiter_wait.count,
            limiter_wait_seconds: counters.limiter_wait.sum,
        }
    }

    /// The text exposition, with the gauges the caller measured: open sessions as
    /// (agent, transport, count) and requests in flight as (agent, count).
    pub fn render(&self, sessions: &[(&str, &str, usize)], in_flight: &[(&str, usize)]) -> String {
        let counters = self.counters();
        let mut out = String::new();
        header_lines(
            &mut out,
            "livechat_mcp_tool_calls_total",
            "counter",
            "Tool calls by tool, agent, policy decision and outcome.",
        );
        for ((tool, agent, decision, outcome), n) in &counters.calls {
            let _ = writeln!(
                out,
                "livechat_mcp_tool_calls_total{{tool=\"{}\",agent=\"{}\",decision=\"{decision}\",outcome=\"{outcome}\"}} {n}",
                escape(tool),
                escape(agent)
            );
        }
        header_lines(
            &mut out,
            "livechat_mcp_tool_call_duration_seconds",
            "histogram",
            "Time from receiving a tool call to having its result, by tool.",
        );
        for (tool, histogram) in &counters.latency {
            let tool = escape(tool);
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "livechat_mcp_tool_call_duration_seconds_bucket{{tool=\"{tool}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "livechat_mcp_tool_call_duration_seconds_bucket{{tool=\"{tool}\",le=\"+Inf\"}} {}\nlivechat_mcp_tool_call_duration_seconds_sum{{tool=\"{tool}\"}} {}\nlivechat_mcp_tool_call_duration_seconds_count{{tool=\"{tool}\"}} {}",
                histogram.count, histogram.sum, histogram.count
            );
        }
        header_lines(
            &mut out,
            "livechat_mcp_upstream_errors_total",
            "counter",
            "Allowed calls that LiveChat or the network failed, by error type.",
        );
        for (kind, n) in &counters.upstream_errors {
            let _ = writeln!(
                out,
                "livechat_mcp_upstream_errors_total{{type=\"{}\"}} {n}",
                escape(kind)
            );
        }
        header_lines(
            &mut out,
            "livechat_mcp_upstream_retries_total",
            "counter",
            "Upstream requests repeated, by cause.",
        );
        for (cause, n) in &counters.retries {
            let _ = writeln!(
                out,
                "livechat_mcp_upstream_retries_total{{cause=\"{cause}\"}} {n}"
            );
        }
        header_lines(
            &mut out,
            "livechat_mcp_limiter_wait_seconds",
            "histogram",
            "Time calls waited for a turn under the license's request quota.",
        );
        let mut cumulative = 0;
        for (le, n) in BUCKETS.iter().zip(counters.limiter_wait.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "livechat_mcp_limiter_wait_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "livechat_mcp_limiter_wait_seconds_bucket{{le=\"+Inf\"}} {}\nlivechat_mcp_limiter_wait_seconds_sum {}\nlivechat_mcp_limiter_wait_seconds_count {}",
            counters.limiter_wait.count, counters.limiter_wait.sum, counters.limiter_wait.count
        );
        header_lines(
            &mut out,
            "livechat_mcp_http_rejected_requests_total",
            "counter",
            "HTTP requests refused before reaching MCP, by reason.",
        );
        for (reason, n) in &counters.rejected {
            let _ = writeln!(
                out,
                "livechat_mcp_http_rejected_requests_total{{reason=\"{reason}\"}} {n}"
            );
        }
        drop(counters);
        header_lines(
            &mut out,
            "livechat_mcp_open_sessions",
            "gauge",
            "MCP sessions open now, by agent and transport.",
        );
        for (agent, transport, n) in sessions {
            let _ = writeln!(
                out,
                "livechat_mcp_open_sessions{{agent=\"{}\",transport=\"{transport}\"}} {n}",
                escape(agent)
            );
        }
        header_lines(
            &mut out,
            "livechat_mcp_in_flight_requests",
            "gauge",
            "MCP requests being handled now, by agent.",
        );
        for (agent, n) in in_flight {
            let _ = writeln!(
                out,
                "livechat_mcp_in_flight_requests{{agent=\"{}\"}} {n}",
                escape(agent)
            );
        }
        out
    }
}

impl CallObserver for Metrics {
    fn call_finished(&self, entry: &NewEntry, elapsed: Duration, traffic: &Traffic) {
        let tool = if entry.area.is_some() || entry.tool == WHOAMI {
            entry.tool.clone()
        } else {
            UNKNOWN_TOOL.to_string()
        };
        let mut counters = self.counters();
        *counters
            .calls
            .entry((
                tool.clone(),
                entry.agent.clone(),
                entry.decision.as_str(),
                entry.outcome.as_str(),
            ))
            .or_default() += 1;
        counters
            .latency
            .entry(tool)
            .or_default()
            .observe(elapsed.as_secs_f64());
        for cause in &traffic.retries {
            *counters.retries.entry(cause.as_str()).or_default() += 1;
        }
        if entry.attempts.is_some() {
            counters
                .limiter_wait
                .observe(traffic.limiter_wait.as_secs_f64());
            if !traffic.limiter_wait.is_zero() {
                let waits = counters.agent_waits.entry(entry.agent.clone()).or_default();
                waits.0 += 1;
                waits.1 += traffic.limiter_wait.as_secs_f64();
            }
        }
        if matches!(entry.outcome, Outcome::Error | Outcome::Unknown)
            && let Some(kind) = entry.error_type.as_deref()
            && !FailureKind::LOCAL
                .iter()
                .any(|local| local.as_str() == kind)
        {
            *counters
                .upstream_errors
                .entry(kind.to_string())
                .or_default() += 1;
        }
    }
}

fn header_lines(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`.
pub(super) async fn render(State(state): State<Arc<HttpState>>) -> Response {
    let roster = state.roster();
    let mut sessions = Vec::new();
    for agent in &roster.agents {
        let (streamable, sse) = agent.sessions.counts();
        sessions.push((agent.name.as_str(), "streamable_http", streamable));
        sessions.push((agent.name.as_str(), "sse", sse));
    }
    let in_flight: Vec<(&str, usize)> = roster
        .agents
        .iter()
        .map(|a| (a.name.as_str(), a.limiter.in_flight()))
        .collect();
    let mut response = plain(StatusCode::OK, state.metrics.render(&sessions, &in_flight));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn calls_latency_and_upstream_errors_are_counted() {
        let metrics = Metrics::new();
        let ok = NewEntry::new("ops", "list_chats", &Map::new());
        metrics.call_finished(&ok, Duration::from_millis(3), &Traffic::default());
        let failed = NewEntry::new("ops", "list_chats", &Map::new()).failed("timeout");
        metrics.call_finished(&failed, Duration::from_secs(20), &Traffic::default());
        let invalid = NewEntry::new("ops", "get_chat", &Map::new()).failed("invalid_arguments");
        metrics.call_finished(&invalid, Duration::from_millis(1), &Traffic::default());
        let denied = NewEntry::new("ops", "drop \"tables\"", &Map::new()).denied("no such tool");
        metrics.call_finished(&denied, Duration::from_millis(1), &Traffic::default());
        metrics.rejected("unauthorized");
        let text = metrics.render(&[("ops", "sse", 2)], &[("ops", 1)]);
        for line in [
            r#"livechat_mcp_tool_calls_total{tool="list_chats",agent="ops",decision="allowed",outcome="ok"} 1"#,
            r#"livechat_mcp_tool_calls_total{tool="list_chats",agent="ops",decision="allowed",outcome="error"} 1"#,
            r#"livechat_mcp_tool_calls_total{tool="(unknown)",agent="ops",decision="denied",outcome="denied"} 1"#,
            r#"livechat_mcp_tool_call_duration_seconds_bucket{tool="list_chats",le="0.005"} 1"#,
            r#"livechat_mcp_tool_call_duration_seconds_bucket{tool="list_chats",le="10"} 1"#,
            r#"livechat_mcp_tool_call_duration_seconds_bucket{tool="list_chats",le="+Inf"} 2"#,
            r#"livechat_mcp_tool_call_duration_seconds_count{tool="list_chats"} 2"#,
            r#"livechat_mcp_upstream_errors_total{type="timeout"} 1"#,
            r#"livechat_mcp_http_rejected_requests_total{reason="unauthorized"} 1"#,
            r#"livechat_mcp_open_sessions{agent="ops",transport="sse"} 2"#,
            r#"livechat_mcp_in_flight_requests{agent="ops"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(!text.contains("invalid_arguments"), "{text}");
        assert_eq!(metrics.calls(), 4);
        let figures = metrics.figures();
        assert_eq!(
            figures.agents.get("ops"),
            Some(&AgentFigures {
                calls: 4,
                denied: 1,
                errors: 2,
                waits: 0,
                waited_ms: 0,
            })
        );
        assert_eq!(figures.limiter_waits, 0);
    }

    #[test]
    fn limiter_waits_are_counted_per_agent() {
        let metrics = Metrics::new();
        let sent = |agent: &str, waited_ms: u64| {
            let entry = NewEntry::new(agent, "list_chats", &Map::new()).delivered(1, waited_ms);
            let traffic = Traffic {
                retries: Vec::new(),
                limiter_wait: Duration::from_millis(waited_ms),
            };
            metrics.call_finished(&entry, Duration::from_millis(waited_ms + 5), &traffic);
        };
        sent("ops", 0);
        sent("ops", 250);
        sent("ops", 1250);
        sent("ro", 0);
        let figures = metrics.figures();
        assert_eq!(figures.agents["ops"].waits, 2);
        assert_eq!(figures.agents["ops"].waited_ms, 1500);
        assert_eq!(figures.agents["ro"].waits, 0);
        assert_eq!(
            figures.limiter_waits, 4,
            "every call that asked the limiter"
        );
    }
}
