//! Limits, each refused with a status and a sentence that says what to do: the request body
//! size (413), a body that came too slowly (408), requests in flight per agent (429 with
//! `Retry-After`; 503 while shutting down). Idle sessions are closed by the session managers
//! (see `HttpOptions::idle_timeout`), and their number is capped in `sessions`; connections
//! and their deadlines are `connections`'.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::{HttpState, bodies, metrics::Metrics};

/// Seconds a client is asked to wait after a 429 or 503.
pub(super) const RETRY_AFTER_SECS: u64 = 1;

/// A plain-text reply.
pub(super) fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    let mut response = Response::new(Body::from(text.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The 413 for a body over the limit.
pub(super) fn too_large(metrics: &Metrics, size: Option<u64>, max: usize) -> Response {
    metrics.rejected("too_large");
    let size = size
        .map(|s| format!(" is {s} bytes and"))
        .unwrap_or_default();
    plain(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "payload_too_large: the request body{size} is over the {max} bytes this server takes (--max-body-bytes); send less at once"
        ),
    )
}

/// The answer to a request body that could not be read: 408 when it did not arrive in time
/// (the connection is then closed, as the rest of the body may still be on its way), 413 when
/// it is over the limit, 400 otherwise.
pub(super) fn unreadable_body(metrics: &Metrics, error: &axum::Error, max: usize) -> Response {
    if bodies::timed_out(error) {
        metrics.rejected("body_timeout");
        let mut response = plain(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "request_timeout: {error} (--body-timeout-secs); send the whole body as soon as its headers"
            ),
        );
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    if error.to_string().contains("length limit") {
        return too_large(metrics, None, max);
    }
    plain(
        StatusCode::BAD_REQUEST,
        format!("bad_request: the request body could not be read: {error}"),
    )
}

/// Refuses a body whose declared `Content-Length` is over the limit before it is read. A
/// body without one is cut off while it is read: by rmcp on `/mcp`, by `/messages` itself.
pub(super) async fn limit_body(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max = state.options.max_body_bytes;
    if let Some(size) = declared
        && size > max as u64
    {
        return too_large(&state.metrics, Some(size), max);
    }
    next.run(request).await
}

/// How many requests one agent may have in flight.
pub(super) struct Limiter {
    semaphore: Arc<Semaphore>,
    max: usize,
}

impl Limiter {
    pub(super) fn new(max: usize) -> Limiter {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Limiter {
            semaphore: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// Requests holding a permit now.
    pub(super) fn in_flight(&self) -> usize {
        if self.semaphore.is_closed() {
            return 0;
        }
        self.max.saturating_sub(self.semaphore.available_permits())
    }

    /// A permit for one more request, or the 429 (503 when shutting down) to answer with.
    pub(super) fn try_acquire(
        &self,
        agent: &str,
        metrics: &Metrics,
    ) -> Result<OwnedSemaphorePermit, Box<Response>> {
        let (status, text, reason) = match self.semaphore.clone().try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(TryAcquireError::NoPermits) => (
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too_many_requests: agent `{agent}` already has {} requests in flight, the most this server allows one agent (--max-in-flight); retry after {RETRY_AFTER_SECS} s",
                    self.max
                ),
                "too_many_requests",
            ),
            Err(TryAcquireError::Closed) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable: the server is shutting down; retry once it is back".to_string(),
                "shutting_down",
            ),
        };
        metrics.rejected(reason);
        let mut response = plain(status, text);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        Err(Box::new(response))
    }

    /// Waits until no request holds a permit, then lets no new one start.
    pub(super) async fn close(&self) {
        let all = u32::try_from(self.max).unwrap_or(u32::MAX);
        if let Ok(permits) = self.semaphore.acquire_many(all).await {
            self.semaphore.close();
            drop(permits);
        }
    }
}

/// `response` with its body passed through unchanged, keeping `guard` alive until the body
/// has been sent or dropped: an SSE reply streams long after the handler returned.
pub(super) fn hold_while_streaming<G: Send + Unpin + 'static>(
    response: Response,
    guard: G,
) -> Response {
    response.map(|body| Body::new(bodies::Held::new(body, guard)))
}
