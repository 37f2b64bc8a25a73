//! `POST /webhooks/livechat`: LiveChat's webhook deliveries into the event log. The secret is
//! checked first ([`super::webhook_receiver`]); the answer never waits on the log for more
//! than a second (LiveChat gives up on slow receivers and retries), and a retried delivery is
//! stored once (by its content, see [`crate::events::dedupe`]: `webhook_id` names the
//! registration, not the delivery).

use std::sync::Arc;
use std::time::Duration;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{HttpState, webhook_receiver};
use crate::{
    config::Secret,
    events::{EventError, EventLog, NewEvent},
};

/// The longest a delivery's answer waits for the log.
pub const STORE_BOUND: Duration = Duration::from_secs(1);

/// What the HTTP server does with events: the log every agent's `get_events` reads, and the
/// secret deliveries must carry (no receiver without one).
#[derive(Clone)]
pub struct EventIntake {
    pub log: EventLog,
    pub secret: Option<Secret>,
}

impl std::fmt::Debug for EventIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventIntake")
            .field("log", &self.log)
            .field("receiver", &self.secret.is_some())
            .finish()
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// The handler of `POST /webhooks/livechat`.
pub(super) async fn receive(State(state): State<Arc<HttpState>>, body: Bytes) -> Response {
    let Some(intake) = state.intake.as_ref() else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "no webhook receiver"}),
        );
    };
    let Some(secret) = intake.secret.as_ref() else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "no webhook receiver"}),
        );
    };
    let delivery = match webhook_receiver::parse(&body, secret) {
        Ok(delivery) => delivery,
        Err(rejection) => {
            tracing::info!(status = rejection.status(), "webhook delivery refused");
            let status =
                StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::BAD_REQUEST);
            return answer(status, json!({"error": rejection.text()}));
        }
    };
    let (chat_id, thread_id) = crate::events::event::chat_and_thread(&delivery.payload);
    let (dedupe, earlier) = crate::events::dedupe::content_keys(
        &delivery.action,
        &delivery.payload,
        chrono::Utc::now().timestamp_millis(),
    );
    let event = NewEvent {
        action: delivery.action.clone(),
        chat_id,
        thread_id,
        dedupe,
        earlier: Some(earlier),
        payload: json!({
            "webhook_id": delivery.webhook_id,
            "action": delivery.action,
            "organization_id": delivery.organization_id,
            "payload": delivery.payload,
            "additional_data": delivery.additional_data,
        }),
    };
    match tokio::time::timeout(STORE_BOUND, intake.log.append(event)).await {
        Ok(Ok(appended)) => answer(
            StatusCode::OK,
            json!({"stored": !appended.duplicate, "cursor": appended.cursor.to_string()}),
        ),
        // An action the server does not sort into an area: taken, not kept, not retried.
        Ok(Err(EventError::UnknownAction { action })) => {
            tracing::info!(%action, "webhook delivery of an action the server does not keep");
            answer(StatusCode::OK, json!({"stored": false}))
        }
        Ok(Err(EventError::Invalid { field, problem })) => answer(
            StatusCode::BAD_REQUEST,
            json!({"error": format!("bad_request: `{field}` {problem}")}),
        ),
        Ok(Err(e)) => {
            tracing::warn!("a webhook delivery could not be stored (LiveChat will retry it): {e}");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the event log is busy; retry"}),
            )
        }
        Err(_) => {
            tracing::warn!(
                "a webhook delivery was not stored within {} s (LiveChat will retry it)",
                STORE_BOUND.as_secs()
            );
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the event log is busy; retry"}),
            )
        }
    }
}
