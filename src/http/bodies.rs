//! Body wrappers: a request body that must arrive by a deadline (`--body-timeout-secs`), so a
//! client that sends its body slowly cannot hold a connection and a handler for ever; and a
//! response body that keeps a guard alive until it has been sent, so what a request holds (an
//! in-flight permit, a connection's busy mark) lasts while an SSE reply streams.

use std::{
    error::Error as StdError,
    fmt,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::body::HttpBody;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error a request body gives once its deadline has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BodyTimedOut {
    pub(super) after: Duration,
}

impl fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} s",
            self.after.as_secs()
        )
    }
}

impl StdError for BodyTimedOut {}

/// Whether `error`, or anything it was caused by, is a [`BodyTimedOut`]: body readers wrap the
/// errors of the bodies they read.
pub(super) fn timed_out(error: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// A request body that fails with [`BodyTimedOut`] when it is still incomplete `timeout`
/// after the request's headers arrived. The timer is only armed once the body makes a reader
/// wait, so a body that came with its headers costs nothing.
pub(super) struct Deadline<B> {
    inner: B,
    deadline: Instant,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> Deadline<B> {
    pub(super) fn new(inner: B, timeout: Duration) -> Deadline<B> {
        Deadline {
            inner,
            deadline: Instant::now() + timeout,
            timeout,
            sleep: None,
        }
    }
}

impl<B> HttpBody for Deadline<B>
where
    B: HttpBody + Unpin,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimedOut {
            after: this.timeout,
        }))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body passed through unchanged, holding `G` until it has been sent or dropped.
pub(super) struct Held<B, G> {
    inner: B,
    _guard: G,
}

impl<B, G> Held<B, G> {
    pub(super) fn new(inner: B, guard: G) -> Held<B, G> {
        Held {
            inner,
            _guard: guard,
        }
    }
}

impl<B, G> HttpBody for Held<B, G>
where
    B: HttpBody + Unpin,
    G: Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, Bytes};

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_fails_at_its_deadline_and_one_that_came_passes() {
        let whole = Deadline::new(Body::from("{}"), Duration::from_secs(1));
        let bytes = axum::body::to_bytes(Body::new(whole), 1024)
            .await
            .expect("a complete body is read");
        assert_eq!(bytes, Bytes::from_static(b"{}"));

        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        tx.send(Ok(Bytes::from_static(b"{\"jsonrpc\"")))
            .await
            .expect("send");
        let stalled = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
        let body = Body::new(Deadline::new(stalled, Duration::from_secs(30)));
        let error = axum::body::to_bytes(body, 1024)
            .await
            .expect_err("the rest never comes");
        assert!(timed_out(&error), "{error}");
        assert!(error.to_string().contains("within 30 s"), "{error}");
        drop(tx);
    }
}
