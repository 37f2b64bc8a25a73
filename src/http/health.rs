//! `GET /healthz`: whether the audit trail answers and whether every agent has usable upstream
//! settings (a valid API URL, credentials). LiveChat itself is not called. 200 when all is
//! usable, 503 otherwise. Without a key the body says only that (`{"status":"ok"}`), as a load
//! balancer needs nothing more and a stranger should learn nothing more; with the admin key (or
//! on the `--metrics-listen` port) a JSON body says which part is not usable.

use std::{sync::Arc, time::Duration};

use axum::{
    Extension, Json, extract::State, http::StatusCode, response::IntoResponse, response::Response,
};
use serde_json::{Value, json};

use super::{HttpState, auth::Admin};
use crate::{
    agent::Agent,
    audit::{AuditStore, QueryFilter},
    config::url_without_credentials,
};

/// How long the audit trail may take to answer the probe.
const AUDIT_PROBE: Duration = Duration::from_secs(2);

pub(super) struct Health {
    audit: Option<AuditStore>,
    upstream_url: String,
    /// What is wrong with the upstream settings, one line per problem; empty when usable.
    upstream_problems: Vec<String>,
}

impl Health {
    pub(super) fn new(audit: Option<AuditStore>, upstream_url: String, agents: &[Agent]) -> Health {
        // The command line refuses such a URL; a library caller may not have, and this
        // answer needs no key.
        let upstream_url = url_without_credentials(&upstream_url);
        let mut upstream_problems = Vec::new();
        match reqwest::Url::parse(&upstream_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => upstream_problems.push(format!(
                "the LiveChat API URL `{upstream_url}` is not an http(s) URL; fix --api-url / LIVECHAT_API_URL"
            )),
        }
        for agent in agents {
            if let Some(problem) = agent.client.credentials_problem() {
                upstream_problems.push(format!("agent `{}`: {problem}", agent.name));
            }
        }
        Health {
            audit,
            upstream_url,
            upstream_problems,
        }
    }

    async fn audit(&self) -> (bool, Value) {
        let Some(store) = &self.audit else {
            return (true, json!({"status": "off"}));
        };
        let probe = QueryFilter {
            limit: 1,
            ..QueryFilter::default()
        };
        match tokio::time::timeout(AUDIT_PROBE, store.query(&probe)).await {
            Ok(Ok(_)) => (true, json!({"status": "ok"})),
            Ok(Err(why)) => (false, json!({"status": "error", "detail": why})),
            Err(_) => (
                false,
                json!({"status": "error", "detail": format!("the audit trail did not answer within {} s", AUDIT_PROBE.as_secs())}),
            ),
        }
    }

    fn upstream(&self) -> (bool, Value) {
        if self.upstream_problems.is_empty() {
            (true, json!({"status": "ok", "api_url": self.upstream_url}))
        } else {
            (
                false,
                json!({"status": "error", "api_url": self.upstream_url, "problems": self.upstream_problems}),
            )
        }
    }
}

/// `GET /healthz`.
pub(super) async fn healthz(
    State(state): State<Arc<HttpState>>,
    admin: Option<Extension<Admin>>,
) -> Response {
    let (audit_ok, audit) = state.health.audit().await;
    let (upstream_ok, upstream) = state.health.upstream();
    let healthy = audit_ok && upstream_ok;
    let verdict = if healthy { "ok" } else { "unavailable" };
    let body = match admin {
        Some(_) => json!({
            "status": verdict,
            "version": env!("CARGO_PKG_VERSION"),
            "agents": state.roster().agents.len(),
            "audit": audit,
            "upstream": upstream,
        }),
        None => json!({"status": verdict}),
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
