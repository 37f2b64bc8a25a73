//! The live page: per agent, the recent help-desk events it may read under the policy in force
//! (the same rule as `get_events`: an event's area must be one the agent can read), each as its
//! one-line summary; and the serving server's figures per agent (calls, denials, failures) and
//! its limiter's waits. Static without JavaScript (with a Refresh link); console.js reloads it
//! every few seconds.

use std::sync::Arc;

use askama::Template;
use axum::{Extension, Router, extract::State, response::Response, routing::get};

use super::{Chrome, ConsoleState, auth::Session, render};
use crate::events::{Filter, summary::summary, tool::readable};

/// How many of the log's newest events the page looks through.
const RECENT: u64 = 200;
/// How many events it shows per agent.
const PER_AGENT: usize = 20;

pub(super) fn routes() -> Router<Arc<ConsoleState>> {
    Router::new().route("/console/live", get(page))
}

struct LiveEvent {
    cursor: u64,
    at: String,
    action: String,
    summary: String,
}

struct AgentLive {
    name: String,
    /// The areas it may read, for the page's words.
    areas: String,
    events: Vec<LiveEvent>,
}

struct Figures {
    agent: String,
    calls: u64,
    denied: u64,
    errors: u64,
    waits: String,
    waited: String,
}

impl Figures {
    fn of(agent: &str, f: &crate::http::AgentFigures) -> Figures {
        Figures {
            agent: agent.to_string(),
            calls: f.calls,
            denied: f.denied,
            errors: f.errors,
            waits: if f.waits == 1 {
                "1 call".to_string()
            } else {
                format!("{} calls", f.waits)
            },
            waited: if f.waits > 0 && f.waited_ms == 0 {
                "under 1 ms".to_string()
            } else if f.waited_ms < 1000 {
                format!("{} ms", f.waited_ms)
            } else {
                format!("{:.1} s", f.waited_ms as f64 / 1000.0)
            },
        }
    }
}

#[derive(Template)]
#[template(path = "live.html", config = "src/console/askama.toml")]
struct LivePage {
    chrome: Chrome,
    /// `None`: the console has no event log.
    events_location: Option<String>,
    problem: Option<String>,
    agents: Vec<AgentLive>,
    /// `None`: the console runs alone, without the serving server's counters.
    figures: Option<Vec<Figures>>,
    limiter: String,
}

/// `GET /console/live`.
async fn page(
    State(state): State<Arc<ConsoleState>>,
    Extension(session): Extension<Session>,
) -> Response {
    let policy = state.policy.current();
    let mut page = LivePage {
        chrome: Chrome::new("live", &session),
        events_location: state
            .events
            .as_ref()
            .map(|log| log.location().trim_matches('`').to_string()),
        problem: None,
        agents: Vec::new(),
        figures: None,
        limiter: String::new(),
    };
    if let Some(log) = &state.events {
        let start = match log.recent_start(RECENT).await {
            Ok(start) => Some(start),
            Err(e) => {
                page.problem = Some(format!("The event log could not be read: {e}"));
                None
            }
        };
        for agent in policy.agents() {
            let areas = readable(&agent.grants);
            let mut live = AgentLive {
                name: agent.name.clone(),
                areas: areas
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                events: Vec::new(),
            };
            if let Some(start) = start
                && !areas.is_empty()
            {
                match log
                    .after(Some(start), &Filter::areas(areas), RECENT as usize)
                    .await
                {
                    Ok(found) => {
                        live.events = found
                            .events
                            .iter()
                            .rev()
                            .take(PER_AGENT)
                            .map(|e| {
                                // As `get_events` summarises it: the delivery's own payload.
                                let payload = e.payload.get("payload").unwrap_or(&e.payload);
                                LiveEvent {
                                    cursor: e.cursor,
                                    at: e.at.clone(),
                                    action: e.action.clone(),
                                    summary: summary(&e.action, payload),
                                }
                            })
                            .collect();
                    }
                    Err(e) => {
                        page.problem = Some(format!("The event log could not be read: {e}"));
                    }
                }
            }
            page.agents.push(live);
        }
    }
    if let Some(metrics) = &state.metrics {
        let figures = metrics.figures();
        let mut rows: Vec<Figures> = policy
            .agents()
            .map(|a| {
                let f = figures.agents.get(&a.name).copied().unwrap_or_default();
                Figures::of(&a.name, &f)
            })
            .collect();
        // Agents a newer policy no longer lists still made calls since the start.
        for (name, f) in &figures.agents {
            if policy.agent(name).is_none() {
                rows.push(Figures::of(name, f));
            }
        }
        page.figures = Some(rows);
        page.limiter = if figures.limiter_waits == 0 {
            "No call has waited for the rate limiter yet.".to_string()
        } else {
            format!(
                "All agents together: {} {} asked the rate limiter for a turn, and waited {:.1} s in all.",
                figures.limiter_waits,
                if figures.limiter_waits == 1 {
                    "call"
                } else {
                    "calls"
                },
                figures.limiter_wait_seconds
            )
        };
    }
    render(&page)
}
