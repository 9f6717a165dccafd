//! One HTTP serving path for taskscope's listeners (the OTLP receiver, the Prometheus
//! endpoint), so that every one of them gets the same protections and the same accounting:
//!
//! - a cap on open connections; a connection over it is answered (HTTP 503 with
//!   `Retry-After`, gRPC `UNAVAILABLE`) and closed, within a few seconds, from a small room
//!   of its own; when even that room is full it is closed at once. Both are counted.
//! - a connection must send a whole request head within the idle timeout (nothing at all,
//!   headers a byte at a time, an idle keep-alive: all closed and counted); HTTP/2 peers
//!   that stop answering pings are closed.
//! - a request body must arrive whole within the body timeout, or the request is cut off and
//!   counted ([`read_body`]); bodies being read share a byte budget, so the bytes buffered at
//!   once are bounded whatever the senders do.
//! - TLS (cargo feature `tls`), with HTTP/2 and HTTP/1.1 offered by ALPN.

#[cfg(feature = "receiver")]
pub(crate) mod body;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame as BodyFrame, Incoming, SizeHint};
use hyper::header::HeaderMap;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};

/// How long a connection over the cap is kept to be answered before it is closed.
const SHED_FOR: Duration = Duration::from_secs(5);

/// The limits of one listener.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Connections open at once; more are answered "busy" and closed.
    pub(crate) max_connections: usize,
    /// The time a connection has for each whole request head (and, over TLS, for its
    /// handshake).
    pub(crate) idle_timeout: Duration,
}

/// What happened to connections and bodies, counted.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Connections over the cap: answered "busy" and closed, or closed at once.
    pub(crate) refused_connections: AtomicU64,
    /// Connections closed because no whole request head arrived in time.
    pub(crate) timed_out_connections: AtomicU64,
    /// Requests cut off because their body did not arrive whole in time.
    #[cfg(feature = "receiver")]
    pub(crate) slow_bodies: AtomicU64,
    /// TLS handshakes that failed (garbage, a wrong protocol, no common cipher).
    #[cfg(feature = "tls")]
    pub(crate) failed_handshakes: AtomicU64,
}

impl Counters {
    pub(crate) fn count(&self, counter: fn(&Counters) -> &AtomicU64) {
        counter(self).fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn read(&self, counter: fn(&Counters) -> &AtomicU64) -> u64 {
        counter(self).load(Ordering::Relaxed)
    }
}

/// What a listener answers.
pub(crate) trait Service: Send + Sync + 'static {
    /// Answers one request.
    fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<Reply>> + Send + 'static;

    /// The answer to a request on a connection over the cap: "busy, try again".
    fn busy(&self, req: &Request<Incoming>) -> Response<Reply>;
}

/// Listeners served on a background thread of their own; dropping it stops them.
#[derive(Debug)]
pub(crate) struct Running {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops the listeners and waits for the thread to end.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves `listeners` (bound by the caller, so that a taken port is the caller's error) on a
/// background thread named `name`, with one runtime for all of them.
pub(crate) fn start<S: Service>(
    name: &str,
    listeners: Vec<std::net::TcpListener>,
    service: Arc<S>,
    limits: Limits,
    counters: Arc<Counters>,
    #[cfg(feature = "tls")] tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<Running, String> {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let what = name.to_owned();
    let thread = crate::background::spawn(name, move || {
        let Some(runtime) = crate::background::runtime(&ready_tx, &what) else {
            return;
        };
        runtime.block_on(async move {
            let mut tokio_listeners = Vec::with_capacity(listeners.len());
            for l in listeners {
                match l
                    .set_nonblocking(true)
                    .and_then(|()| TcpListener::from_std(l))
                {
                    Ok(l) => tokio_listeners.push(l),
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                }
            }
            // One cap for all the listeners: a sender cannot double it by using both ports.
            let caps = Caps::new(limits.max_connections);
            for listener in tokio_listeners {
                tokio::spawn(serve(
                    listener,
                    Arc::clone(&service),
                    limits.clone(),
                    caps.clone(),
                    Arc::clone(&counters),
                    #[cfg(feature = "tls")]
                    tls.clone(),
                ));
            }
            let _ = ready_tx.send(Ok(()));
            let _ = stop_rx.await;
        });
    })
    .map_err(|e| e.to_string())?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Running {
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("the {name} thread stopped")),
    }
}

/// The connections a server's listeners may hold, together.
#[derive(Clone)]
struct Caps {
    connections: Arc<Semaphore>,
    /// Room to answer connections over the cap: a quarter of the cap, at least 16.
    shed_room: Arc<Semaphore>,
}

impl Caps {
    fn new(max_connections: usize) -> Caps {
        Caps {
            connections: Arc::new(Semaphore::new(max_connections)),
            shed_room: Arc::new(Semaphore::new((max_connections / 4).max(16))),
        }
    }
}

/// Accepts connections on `listener` for ever, serving each on a task of its own.
async fn serve<S: Service>(
    listener: TcpListener,
    service: Arc<S>,
    limits: Limits,
    caps: Caps,
    counters: Arc<Counters>,
    #[cfg(feature = "tls")] tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let Caps {
        connections,
        shed_room,
    } = caps;
    let builder = http_builder(&limits);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors, or a connection reset before it was accepted:
                // wait a little rather than spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            service: Arc::clone(&service),
            limits: limits.clone(),
            counters: Arc::clone(&counters),
            builder: builder.clone(),
            #[cfg(feature = "tls")]
            tls: tls.clone(),
        };
        match Arc::clone(&connections).try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    let _permit = permit;
                    connection.run(stream, false).await;
                });
            }
            Err(_) => {
                counters.count(|c| &c.refused_connections);
                if let Ok(permit) = Arc::clone(&shed_room).try_acquire_owned() {
                    tokio::spawn(async move {
                        let _permit = permit;
                        let _ = tokio::time::timeout(SHED_FOR, connection.run(stream, true)).await;
                    });
                }
            }
        }
    }
}

/// The HTTP/1.1 and HTTP/2 server settings of a listener.
fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // HTTP/1: a request head must arrive whole within the idle timeout, counted from the
    // connection's start or its previous request.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout);
    // HTTP/2: a peer that stops answering pings is closed.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout)
        .keep_alive_timeout(limits.idle_timeout);
    builder
}

/// One accepted connection and what serving it needs.
struct Connection<S> {
    service: Arc<S>,
    limits: Limits,
    counters: Arc<Counters>,
    builder: auto::Builder<TokioExecutor>,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl<S: Service> Connection<S> {
    /// Serves the connection (or, `shed`, answers its requests "busy" until it is dropped).
    async fn run(self, stream: TcpStream, shed: bool) {
        // A connection that sends nothing at all never reaches the HTTP/1 head timeout
        // (the protocol is not known yet): it has the same time for its first byte.
        let mut byte = [0u8; 1];
        match tokio::time::timeout(self.limits.idle_timeout, stream.peek(&mut byte)).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return,
            Err(_) => {
                self.counters.count(|c| &c.timed_out_connections);
                return;
            }
        }
        #[cfg(feature = "tls")]
        if let Some(acceptor) = self.tls.clone() {
            let handshake =
                tokio::time::timeout(self.limits.idle_timeout, acceptor.accept(stream)).await;
            match handshake {
                Ok(Ok(tls)) => self.http(tls, shed).await,
                Ok(Err(_)) => self.counters.count(|c| &c.failed_handshakes),
                Err(_) => self.counters.count(|c| &c.timed_out_connections),
            }
            return;
        }
        self.http(stream, shed).await;
    }

    async fn http<IO>(self, io: IO, shed: bool)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = Arc::clone(&self.service);
        let handler = hyper::service::service_fn(move |req: Request<Incoming>| {
            let service = Arc::clone(&service);
            async move {
                if shed {
                    let mut answer = service.busy(&req);
                    answer.headers_mut().insert(
                        hyper::header::CONNECTION,
                        hyper::header::HeaderValue::from_static("close"),
                    );
                    // Read what the sender writes before answering, so it sees this answer
                    // and not a broken pipe; the connection's time is short anyway.
                    drain(req.into_body()).await;
                    return Ok::<_, Infallible>(answer);
                }
                Ok::<_, Infallible>(service.call(req).await)
            }
        });
        let mut builder = self.builder;
        if shed {
            builder.http1().keep_alive(false);
        }
        // A connection that fails (a client that goes away, a protocol error, a head that
        // did not arrive in time) ends here and affects no other.
        if let Err(e) = builder.serve_connection(TokioIo::new(io), handler).await
            && e.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout)
        {
            self.counters.count(|c| &c.timed_out_connections);
        }
    }
}

/// Reads a body to its end and throws it away, holding none of it.
pub(crate) async fn drain(mut body: Incoming) {
    use http_body_util::BodyExt as _;
    while let Some(Ok(_)) = body.frame().await {}
}

/// A response body: one data frame, then optional trailers (gRPC's status).
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub(crate) data: Option<Bytes>,
    pub(crate) trailers: Option<HeaderMap>,
}

impl Reply {
    /// A body of these bytes, no trailers.
    pub(crate) fn bytes(data: impl Into<Bytes>) -> Self {
        Self {
            data: Some(data.into()),
            trailers: None,
        }
    }
}

impl Body for Reply {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<BodyFrame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take().filter(|d| !d.is_empty()) {
            return Poll::Ready(Some(Ok(BodyFrame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(BodyFrame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(Bytes::is_empty) && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}
