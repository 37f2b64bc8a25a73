//! A tool call whose HTTP client went away before its answer was sent. rmcp keeps running a
//! call in a session when the connection that posted it closes (the answer waits for the
//! session), so the server tells the session itself, as the client would have with
//! `notifications/cancelled`: a read stops and is recorded `cancelled`; a write already sent
//! still finishes and is recorded.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use axum::{
    body::Body,
    http::{HeaderMap, Method, Request, Uri, header},
};
use http_body::{Body as HttpBody, Frame, SizeHint};
use rmcp::{model::RequestId, transport::StreamableHttpService};
use serde_json::json;

use super::sessions::AgentSessions;
use crate::server::LiveChatServer;

type Service = StreamableHttpService<LiveChatServer, AgentSessions>;

/// Sends the session `notifications/cancelled` for the call when dropped armed: when the
/// handler's future, or the answer's body, is dropped before the answer was sent whole.
pub(super) struct Abandoned {
    armed: Option<(Service, Uri, HeaderMap, RequestId)>,
}

impl Abandoned {
    /// A guard for the call `id`, posted to `uri` with `headers` (its session, host and
    /// protocol version, which the notification repeats).
    pub(super) fn new(service: Service, uri: Uri, headers: HeaderMap, id: RequestId) -> Abandoned {
        Abandoned {
            armed: Some((service, uri, headers, id)),
        }
    }

    fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        let Some((service, uri, mut headers, id)) = self.armed.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let notification = json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": id, "reason": "the client's connection closed before the answer"},
        });
        headers.remove(header::CONTENT_LENGTH);
        let mut request = Request::new(Body::from(notification.to_string()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        tracing::info!(%id, "a tool call's client went away; cancelling it");
        runtime.spawn(async move {
            let _ = service.handle(request).await;
        });
    }
}

/// An answer's body that disarms its [`Abandoned`] once sent whole; dropped earlier, the
/// guard fires.
pub(super) struct UntilSent {
    inner: Body,
    guard: Abandoned,
}

impl UntilSent {
    pub(super) fn new(inner: Body, guard: Abandoned) -> UntilSent {
        UntilSent { inner, guard }
    }
}

impl HttpBody for UntilSent {
    type Data = <Body as HttpBody>::Data;
    type Error = <Body as HttpBody>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.guard.disarm();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
