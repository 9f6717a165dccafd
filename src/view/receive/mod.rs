//! The OTLP receiver of `taskscope top`: gRPC and HTTP/protobuf listeners that turn any
//! sender's metrics into [`Frame`]s.
//!
//! [`Receiver::builder`] binds the listeners (by default gRPC on `127.0.0.1:4317` and
//! HTTP on `127.0.0.1:4318`, the OTLP ports) and serves them on a thread of its own;
//! [`Receiver::frame`] reads the cumulative state at any time. What a request becomes is
//! [`Store`]'s business, usable without sockets.
//!
//! Both ports speak HTTP/1.1 and HTTP/2 (cleartext, prior knowledge) and both protocols:
//!
//! | request | answer |
//! |---|---|
//! | `POST /v1/metrics`, `Content-Type: application/x-protobuf` | 200 with an `ExportMetricsServiceResponse` |
//! | `POST /v1/traces`, `/v1/logs` | 200, empty: accepted and ignored |
//! | malformed protobuf | 400, saying what failed |
//! | a body over the limit (default 4 MiB) | 413 |
//! | JSON, another content type, `Content-Encoding: gzip` | 415, saying what to change |
//! | another path / method | 404 / 405 |
//! | too many requests at once | 503, `Retry-After: 1` |
//! | gRPC `MetricsService/Export` | `grpc-status` 0 with the response |
//! | gRPC `TraceService/Export`, `LogsService/Export` | `grpc-status` 0, empty: ignored |
//! | gRPC: malformed or truncated | `grpc-status` 3 (INVALID_ARGUMENT) |
//! | gRPC: a message over the limit | 8 (RESOURCE_EXHAUSTED), without reading it |
//! | gRPC: compressed, or an unknown method | 12 (UNIMPLEMENTED) |
//! | gRPC: too many requests at once | 14 (UNAVAILABLE) |
//! | a connection over the cap (default 256 open) | closed as it arrives |
//! | no whole request head within the idle timeout (default 30 s) | the connection is closed |
//!
//! Refusals count in [`SourceStatus::rejected`](super::SourceStatus::rejected), shed
//! requests and refused connections in [`SourceStatus::dropped`](super::SourceStatus::dropped).
//!
//! ```
//! use taskscope::view::receive::Receiver;
//!
//! let receiver = Receiver::builder()
//!     .with_grpc_addr(([127, 0, 0, 1], 0).into()) // any free port
//!     .with_http_addr(([127, 0, 0, 1], 0).into())
//!     .start()
//!     .expect("the receiver starts");
//! println!("send OTLP to http://{}", receiver.grpc_addr().unwrap());
//! let frame = receiver.frame();
//! assert_eq!(frame.status.connection, "waiting for data");
//! assert!(frame.series.is_empty());
//! ```

mod convert;
mod server;
mod store;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Semaphore, oneshot};

pub use store::{
    IngestOutcome, LIVE_WITHIN, MAX_ERROR_KINDS, OVERFLOW_KIND, STREAM_IDLE, STREAMS_PER_SERIES,
    Store, UNKNOWN_SERVICE,
};

use super::Frame;

/// The default gRPC address: the OTLP gRPC port on loopback.
pub const DEFAULT_GRPC_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4317);
/// The default HTTP address: the OTLP HTTP port on loopback.
pub const DEFAULT_HTTP_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4318);
/// The default cap on series.
pub const DEFAULT_MAX_SERIES: usize = 10_000;
/// The default cap on a request's body (4 MiB, the OpenTelemetry Collector's default).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 << 20;
/// The default number of requests read and ingested at once; more are shed.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 32;
/// Connections held open at once, by default; more are closed as they arrive and counted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// How long a connection may wait before it has sent a whole request head, by default.
pub const DEFAULT_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Which listener an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// The gRPC listener (OTLP port 4317).
    Grpc,
    /// The HTTP/protobuf listener (OTLP port 4318).
    Http,
}

impl Protocol {
    fn flag(self) -> &'static str {
        match self {
            Protocol::Grpc => "--grpc",
            Protocol::Http => "--http",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Grpc => "gRPC",
            Protocol::Http => "HTTP",
        })
    }
}

/// Why the receiver did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// A listener's address could not be bound: in use, or not an address of this
    /// machine.
    #[error("{}", bind_message(.addr, *.protocol, .source))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Which listener.
        protocol: Protocol,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A setting cannot work.
    #[error("{setting}={value} is not valid: expected {expected}")]
    Invalid {
        /// The builder method.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// The receiver's thread or runtime could not start.
    #[error("the OTLP receiver could not start: {0}")]
    Start(String),
}

fn bind_message(addr: &SocketAddr, protocol: Protocol, source: &std::io::Error) -> String {
    let flag = protocol.flag();
    if source.kind() == std::io::ErrorKind::AddrInUse {
        format!("{addr} ({protocol}) is in use: stop the other receiver or pass {flag} ADDR")
    } else {
        format!(
            "cannot listen on {addr} ({protocol}): {source}; pass {flag} ADDR with an address of this machine"
        )
    }
}

/// Settings of the receiver; see [`Receiver::builder`].
#[derive(Clone, Debug)]
#[must_use = "call start() to bind the listeners"]
pub struct ReceiverBuilder {
    grpc: Option<SocketAddr>,
    http: Option<SocketAddr>,
    max_series: usize,
    max_request_bytes: usize,
    max_concurrent_requests: usize,
    max_connections: usize,
    idle_timeout: std::time::Duration,
}

impl Default for ReceiverBuilder {
    fn default() -> Self {
        Self {
            grpc: Some(DEFAULT_GRPC_ADDR),
            http: Some(DEFAULT_HTTP_ADDR),
            max_series: DEFAULT_MAX_SERIES,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl ReceiverBuilder {
    /// The gRPC listener's address (default `127.0.0.1:4317`; port 0 picks a free one).
    /// A non-loopback address prints a warning: the receiver has no authentication.
    pub fn with_grpc_addr(mut self, addr: SocketAddr) -> Self {
        self.grpc = Some(addr);
        self
    }

    /// The HTTP listener's address (default `127.0.0.1:4318`; port 0 picks a free one).
    pub fn with_http_addr(mut self, addr: SocketAddr) -> Self {
        self.http = Some(addr);
        self
    }

    /// No gRPC listener.
    pub fn without_grpc(mut self) -> Self {
        self.grpc = None;
        self
    }

    /// No HTTP listener.
    pub fn without_http(mut self) -> Self {
        self.http = None;
        self
    }

    /// The most series kept (default 10 000); points of further series are counted in
    /// [`SourceStatus::overflow`](super::SourceStatus::overflow).
    pub fn with_max_series(mut self, n: usize) -> Self {
        self.max_series = n;
        self
    }

    /// The largest request body (or gRPC message) accepted, in bytes (default 4 MiB).
    pub fn with_max_request_bytes(mut self, n: usize) -> Self {
        self.max_request_bytes = n;
        self
    }

    /// Requests read and ingested at once (default 32); more are answered 503 or
    /// UNAVAILABLE, which OTLP senders retry.
    pub fn with_max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent_requests = n;
        self
    }

    /// Connections held open at once (default 256). A connection beyond them is closed as
    /// soon as it is accepted and counted in [`ReceiverStats::refused_connections`]; OTLP
    /// senders retry.
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// How long a connection may take to send a whole request head, from when it opens or
    /// from its previous request (default 30 s); then it is closed. A sender that connects
    /// and sends nothing, or sends headers a byte at a time, cannot hold a connection
    /// longer than this.
    pub fn with_idle_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Binds the listeners here, on the caller's thread (a taken port is an error that
    /// says so), then serves them on a thread of its own, `taskscope-receiver`.
    pub fn start(self) -> Result<Receiver, ReceiveError> {
        let invalid = |setting, value: usize, expected| ReceiveError::Invalid {
            setting,
            value: value.to_string(),
            expected,
        };
        if self.max_series == 0 {
            return Err(invalid("with_max_series", 0, "at least 1"));
        }
        if self.max_request_bytes == 0 || self.max_request_bytes > u32::MAX as usize {
            return Err(invalid(
                "with_max_request_bytes",
                self.max_request_bytes,
                "1 byte to 4 GiB",
            ));
        }
        if self.max_concurrent_requests == 0 {
            return Err(invalid("with_max_concurrent_requests", 0, "at least 1"));
        }
        if self.max_connections == 0 {
            return Err(invalid("with_max_connections", 0, "at least 1"));
        }
        if self.idle_timeout.is_zero() {
            return Err(ReceiveError::Invalid {
                setting: "with_idle_timeout",
                value: "0s".into(),
                expected: "more than zero",
            });
        }
        if self.grpc.is_none() && self.http.is_none() {
            return Err(ReceiveError::Invalid {
                setting: "without_grpc/without_http",
                value: "both".into(),
                expected: "at least one listener",
            });
        }
        let mut listeners = Vec::new();
        let mut bound = [None, None];
        for (i, (addr, protocol)) in [(self.grpc, Protocol::Grpc), (self.http, Protocol::Http)]
            .into_iter()
            .enumerate()
        {
            let Some(addr) = addr else { continue };
            let bind_error = |source| ReceiveError::Bind {
                addr,
                protocol,
                source,
            };
            let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
            listener.set_nonblocking(true).map_err(bind_error)?;
            let local = listener.local_addr().map_err(bind_error)?;
            if !local.ip().is_loopback() {
                eprintln!(
                    "taskscope: the OTLP receiver listens on {local} ({protocol}), beyond this machine, without authentication"
                );
            }
            bound[i] = Some(local);
            listeners.push(listener);
        }
        let [grpc, http] = bound;
        let mut label = "OTLP".to_owned();
        if let Some(a) = grpc {
            label.push_str(&format!(" grpc {a}"));
        }
        if let Some(a) = http {
            if grpc.is_some() {
                label.push_str(" ·");
            }
            label.push_str(&format!(" http {a}"));
        }
        let mut store = Store::new(self.max_series);
        store.set_label(label);
        let shared = Arc::new(server::Shared {
            store: Mutex::new(store),
            started: Instant::now(),
            max_request_bytes: self.max_request_bytes,
            permits: Semaphore::new(self.max_concurrent_requests),
            connections: Arc::new(Semaphore::new(self.max_connections)),
            idle_timeout: self.idle_timeout,
            counters: server::Counters::default(),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let shared = Arc::clone(&shared);
            crate::background::spawn("taskscope-receiver", move || {
                server::run(listeners, shared, stop_rx, ready_tx)
            })
            .map_err(|e| ReceiveError::Start(e.to_string()))?
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Receiver {
                grpc,
                http,
                shared,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(ReceiveError::Start(e)),
            Err(_) => Err(ReceiveError::Start("the receiver thread stopped".into())),
        }
    }
}

/// Requests the receiver has answered, by fate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverStats {
    /// Metrics requests decoded and ingested.
    pub accepted: u64,
    /// Traces and logs requests, accepted and ignored.
    pub ignored: u64,
    /// Requests refused: malformed, oversized, compressed, of another content type, or
    /// for an unknown gRPC method.
    pub rejected: u64,
    /// Requests shed because too many were in progress.
    pub dropped: u64,
    /// Connections closed as they arrived, because [`with_max_connections`](
    /// ReceiverBuilder::with_max_connections) were open.
    pub refused_connections: u64,
    /// Connections closed because no whole request head arrived within the
    /// [idle timeout](ReceiverBuilder::with_idle_timeout).
    pub timed_out_connections: u64,
}

/// The running receiver; dropping it stops the listeners.
#[derive(Debug)]
pub struct Receiver {
    grpc: Option<SocketAddr>,
    http: Option<SocketAddr>,
    shared: Arc<server::Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Starts building a receiver with the defaults: gRPC on `127.0.0.1:4317`, HTTP on
    /// `127.0.0.1:4318`, 10 000 series, 4 MiB per request.
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder::default()
    }

    /// The gRPC listener's address (with the real port when port 0 was asked for).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc
    }

    /// The HTTP listener's address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    /// Everything received so far, cumulative. Cheap: series whose data has not changed
    /// since the previous frame are the same `Arc`s.
    pub fn frame(&self) -> Frame {
        let now = self.shared.started.elapsed();
        let mut frame = self.shared.store().frame(now);
        let counters = &self.shared.counters;
        // Refused connections are sheds too, one step earlier.
        frame.status.dropped = counters.dropped.load(Ordering::Relaxed)
            + counters.refused_connections.load(Ordering::Relaxed);
        frame.status.rejected = counters.rejected.load(Ordering::Relaxed);
        frame
    }

    /// Requests answered so far.
    pub fn stats(&self) -> ReceiverStats {
        let c = &self.shared.counters;
        ReceiverStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            ignored: c.ignored.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            refused_connections: c.refused_connections.load(Ordering::Relaxed),
            timed_out_connections: c.timed_out_connections.load(Ordering::Relaxed),
        }
    }

    /// Stops the listeners and waits for the thread to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}
