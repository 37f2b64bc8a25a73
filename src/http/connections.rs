//! Accepted connections, served by hyper's HTTP/1 with what `axum::serve` lacks: a deadline
//! for a request's headers (`--header-timeout-secs`, which also ends a keep-alive connection
//! idle that long), one for its body (`--body-timeout-secs`), and a cap on open connections
//! (`--max-connections`). Every socket gets `TCP_NODELAY`.
//!
//! At the cap the server makes room rather than stalling: the connection that has gone longest
//! without a request being handled (one still sending its headers, or a keep-alive connection
//! between requests) is closed, and the new one is served. Only when every connection is in the
//! middle of a request is the new one answered 503 at once and closed. So half-sent requests,
//! which need no key, can keep neither `/healthz` nor a client with a key out, and a new
//! connection is never left waiting in the accept queue.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use axum::{Router, body::Body};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt as _;

use super::{
    bodies::{Deadline, Held},
    limits::RETRY_AFTER_SECS,
    metrics::Metrics,
};

/// The limits every connection is served under.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConnectionLimits {
    pub(super) header_timeout: Duration,
    pub(super) body_timeout: Duration,
    pub(super) max_connections: usize,
}

/// Sets `TCP_NODELAY` on an accepted connection: without it a reply waits behind Nagle and the
/// client's delayed ACK, about 40 ms a call.
pub(super) fn configure_socket(tcp: &mut TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!("cannot set TCP_NODELAY on a connection: {e}");
    }
}

/// Serves `app` on `listener` until `stop` is cancelled; then stops accepting (the listener
/// is closed), asks every connection to close once its request in flight has been answered,
/// and returns when all have closed.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let open = Arc::new(Open::new(limits.max_connections));
    let tasks = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        let mut tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to be freed.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        configure_socket(&mut tcp);
        match open.admit() {
            Some((id, evicted)) => {
                let served = Connection {
                    tcp,
                    app: app.clone(),
                    limits,
                    open: open.clone(),
                    metrics: metrics.clone(),
                    id,
                };
                tasks.spawn(served.run(evicted, stop.clone()));
            }
            None => {
                metrics.rejected("too_many_connections");
                refuse(&tcp, limits.max_connections);
            }
        }
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
}

/// Answers a connection over the cap with 503 and closes it, without reading from it.
fn refuse(tcp: &TcpStream, max: usize) {
    let text = format!(
        "unavailable: all {max} connections this server keeps open (--max-connections) are handling requests; retry after {RETRY_AFTER_SECS} s\n"
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{text}",
        text.len()
    );
    // A fresh socket's send buffer takes this at once; if not, closing says as much.
    let _ = tcp.try_write(response.as_bytes());
    // Counted in /metrics; a log line each would let a flood fill the logs.
    tracing::debug!("refused a connection: all {max} connections are handling requests");
}

/// One accepted connection, ready to be served.
struct Connection {
    tcp: TcpStream,
    app: Router,
    limits: ConnectionLimits,
    open: Arc<Open>,
    metrics: Arc<Metrics>,
    id: u64,
}

impl Connection {
    /// Serves requests until the client closes, its headers are late, it is closed to make
    /// room (`evicted`), or the server stops (`stop`: the request in flight is answered first).
    async fn run(self, evicted: CancellationToken, stop: CancellationToken) {
        let Connection {
            tcp,
            app,
            limits,
            open,
            metrics,
            id,
        } = self;
        let marks = open.clone();
        let service = service_fn(move |request: hyper::Request<Incoming>| {
            let busy = Busy::new(marks.clone(), id);
            let request = request.map(|body| Body::new(Deadline::new(body, limits.body_timeout)));
            let app = app.clone();
            async move {
                let response = match app.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                // The connection stays busy until the whole reply, an SSE stream included,
                // has been sent.
                Ok::<_, Infallible>(response.map(|body| Held::new(body, busy)))
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let served = builder.serve_connection(TokioIo::new(tcp), service);
        tokio::pin!(served);
        tokio::select! {
            ended = served.as_mut() => match ended {
                Err(e) if e.is_timeout() => metrics.rejected("header_timeout"),
                Err(e) => tracing::debug!("a connection ended: {e}"),
                Ok(()) => {}
            },
            () = evicted.cancelled() => {
                tracing::debug!("closed an idle connection to make room (--max-connections)");
            }
            () = stop.cancelled() => {
                served.as_mut().graceful_shutdown();
                if let Err(e) = served.await {
                    tracing::debug!("a connection ended while the server stopped: {e}");
                }
            }
        }
        open.closed(id);
    }
}

/// Whether a connection is handling a request, and since when it has not been.
struct Mark {
    busy: usize,
    idle_since: Instant,
    evict: CancellationToken,
}

/// The open connections.
struct Open {
    max: usize,
    marks: Mutex<(u64, HashMap<u64, Mark>)>,
}

impl Open {
    fn new(max: usize) -> Open {
        Open {
            max: max.max(1),
            marks: Mutex::new((0, HashMap::new())),
        }
    }

    fn marks(&self) -> MutexGuard<'_, (u64, HashMap<u64, Mark>)> {
        self.marks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a new connection: its id and the token that closes it to make room for
    /// another. At the cap, the connection idle longest is closed for it; `None` when every
    /// connection is busy.
    fn admit(&self) -> Option<(u64, CancellationToken)> {
        let mut guard = self.marks();
        let (next, marks) = &mut *guard;
        if marks.len() >= self.max {
            let idle_longest = marks
                .iter()
                .filter(|(_, mark)| mark.busy == 0)
                .min_by_key(|(_, mark)| mark.idle_since)
                .map(|(id, _)| *id)?;
            if let Some(mark) = marks.remove(&idle_longest) {
                mark.evict.cancel();
            }
        }
        let id = *next;
        *next += 1;
        let evict = CancellationToken::new();
        marks.insert(
            id,
            Mark {
                busy: 0,
                idle_since: Instant::now(),
                evict: evict.clone(),
            },
        );
        Some((id, evict))
    }

    fn closed(&self, id: u64) {
        self.marks().1.remove(&id);
    }
}

/// Marks a connection busy from a request's headers until its reply has been sent.
struct Busy {
    open: Arc<Open>,
    id: u64,
}

impl Busy {
    fn new(open: Arc<Open>, id: u64) -> Busy {
        if let Some(mark) = open.marks().1.get_mut(&id) {
            mark.busy += 1;
        }
        Busy { open, id }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(mark) = self.open.marks().1.get_mut(&self.id) {
            mark.busy = mark.busy.saturating_sub(1);
            mark.idle_since = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_get_tcp_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _client = TcpStream::connect(addr).await.expect("connect");
        let (mut accepted, _) = listener.accept().await.expect("accept");
        assert!(
            !accepted.nodelay().expect("read option"),
            "the OS default is off"
        );
        configure_socket(&mut accepted);
        assert!(accepted.nodelay().expect("read option"));
    }

    #[test]
    fn at_the_cap_the_connection_idle_longest_makes_room_and_busy_ones_never_do() {
        let open = Arc::new(Open::new(2));
        let (first, first_evicted) = open.admit().expect("room");
        let (second, second_evicted) = open.admit().expect("room");
        // The first is busy: the second, idle, is closed for the third.
        let busy = Busy::new(open.clone(), first);
        let (third, _) = open.admit().expect("the idle one makes room");
        assert!(second_evicted.is_cancelled());
        assert!(!first_evicted.is_cancelled());
        open.closed(second);
        // Both open ones are busy now: no room.
        let _also_busy = Busy::new(open.clone(), third);
        assert!(open.admit().is_none());
        // Once the first's reply has been sent, it is idle and can make room.
        drop(busy);
        assert!(open.admit().is_some());
        assert!(first_evicted.is_cancelled());
    }
}
