//! The OTLP receiver of `taskscope top`: gRPC and HTTP listeners that turn any sender's
//! metrics into [`Frame`]s.
//!
//! [`Receiver::builder`] binds the listeners (by default gRPC on `127.0.0.1:4317` and
//! HTTP on `127.0.0.1:4318`, the OTLP ports) and serves them on a thread of its own;
//! [`Receiver::frame`] reads the cumulative state at any time. What a request becomes is
//! [`Store`]'s business, usable without sockets.
//!
//! Both ports speak HTTP/1.1 and HTTP/2 (cleartext, or TLS with [`ReceiverBuilder::with_tls`])
//! and both protocols. OTLP/HTTP takes protobuf (`application/x-protobuf`) or JSON
//! (`application/json`, the OTLP JSON mapping: hex ids, enums as numbers, 64-bit integers
//! as strings), plain or `Content-Encoding: gzip`; gRPC takes plain or `grpc-encoding: gzip`
//! messages and advertises `grpc-accept-encoding: gzip`. The size limit applies to the
//! decompressed bytes: a gzip bomb is refused after the limit's worth of output. Errors are
//! a `google.rpc.Status` in the request's encoding (HTTP) or `grpc-status` (gRPC), with the
//! codes of the OTLP specification:
//!
//! | request | HTTP | gRPC |
//! |---|---|---|
//! | metrics accepted | 200, `Export*ServiceResponse` | 0 |
//! | some points refused (series cap, unreadable points) | 200 with `partial_success` | 0 with `partial_success` |
//! | traces, logs | 200, empty: accepted and ignored | 0, empty |
//! | malformed protobuf or JSON, gzip that does not inflate | 400 | 3 INVALID_ARGUMENT |
//! | over the size limit (after decompression) | 413 | 8 RESOURCE_EXHAUSTED, before the rest is read |
//! | another content type or encoding | 415 | 12 UNIMPLEMENTED (13 INTERNAL for a compressed message without `grpc-encoding`) |
//! | a missing or wrong token ([`ReceiverBuilder::with_token`]) | 401 | 16 UNAUTHENTICATED |
//! | a body not whole within the body timeout (default 10 s) | 408, connection closed | 4 DEADLINE_EXCEEDED |
//! | busy: no decoding slot, or the bodies being read hold the byte budget | 503, `Retry-After: 1` | 14 UNAVAILABLE with `RetryInfo` |
//! | a connection over the cap (default 256 open) | 503, `Retry-After: 1`, closed | 14 UNAVAILABLE, closed |
//! | another path / method | 404 / 405 | 12 UNIMPLEMENTED |
//! | no whole request head within the idle timeout (default 30 s) | closed | closed |
//!
//! A request takes a decoding slot only once its body is whole, so senders that send
//! headers and then dawdle hold no slot, and are cut off at the body timeout. Refusals
//! count in [`SourceStatus::rejected`](crate::frame::SourceStatus::rejected) (with the last
//! reason in [`SourceStatus::last_rejection`](crate::frame::SourceStatus::last_rejection)), shed
//! requests and refused connections in
//! [`SourceStatus::dropped`](crate::frame::SourceStatus::dropped); [`ReceiverStats`] has each
//! count.
//!
//! ```
//! use taskscope::receive::Receiver;
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
mod runtimes;
mod server;
mod store;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::serve::body::Budget;

pub use runtimes::{MAX_RUNTIMES, MAX_WORKERS};
pub use store::{
    LIVE_WITHIN, MAX_CALLERS, MAX_ERROR_KINDS, STREAM_IDLE, STREAMS_PER_SERIES, Store,
    UNKNOWN_SERVICE,
};

use crate::frame::Frame;

/// A request body as the receiver reads it (inflated if `gzip`, then decoded from protobuf
/// or JSON). For the benchmarks; not a public API.
#[doc(hidden)]
pub fn decode_for_bench(
    body: &[u8],
    gzip: bool,
    json: bool,
) -> Result<opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest, String>
{
    server::decode_for_bench(body, gzip, json)
}

/// The default gRPC address: the OTLP gRPC port on loopback.
pub const DEFAULT_GRPC_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4317);
/// The default HTTP address: the OTLP HTTP port on loopback.
pub const DEFAULT_HTTP_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4318);
/// The default cap on series.
pub const DEFAULT_MAX_SERIES: usize = 10_000;
/// The default cap on a request's body (4 MiB, the OpenTelemetry Collector's default).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 << 20;
/// The default number of full-size request bodies held at once; more are shed.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 32;
/// Connections held open at once, by default; more are closed as they arrive and counted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// How long a connection may wait before it has sent a whole request head, by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request may take to send its whole body, from its head, by default.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes of request bodies buffered at once, whatever the other limits say.
const MAX_BUFFERED_BYTES: usize = 256 << 20;

/// One of the receiver's two listeners: what a [`ReceiveError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The gRPC listener (OTLP port 4317).
    Grpc,
    /// The HTTP/protobuf listener (OTLP port 4318).
    Http,
}

impl Listener {
    fn flag(self) -> &'static str {
        match self {
            Listener::Grpc => "--grpc",
            Listener::Http => "--http",
        }
    }
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Listener::Grpc => "gRPC",
            Listener::Http => "HTTP",
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
        protocol: Listener,
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
    /// The TLS certificate or key cannot be used.
    #[error("the OTLP receiver's TLS: {0}")]
    Tls(String),
    /// The receiver's thread or runtime could not start.
    #[error("the OTLP receiver could not start: {0}")]
    Start(String),
}

fn bind_message(addr: &SocketAddr, protocol: Listener, source: &std::io::Error) -> String {
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
    idle_timeout: Duration,
    body_timeout: Duration,
    token: Option<String>,
    recorder: Option<Arc<crate::receive::recording::Recorder>>,
    #[cfg(feature = "tls")]
    tls: Option<(PathBuf, PathBuf)>,
    #[cfg(feature = "tls")]
    tls_client_ca: Option<PathBuf>,
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
            body_timeout: DEFAULT_BODY_TIMEOUT,
            token: None,
            recorder: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_client_ca: None,
        }
    }
}

impl ReceiverBuilder {
    /// The gRPC listener's address (default `127.0.0.1:4317`; port 0 picks a free one).
    /// A non-loopback address without TLS prints a warning: anyone who can reach it can read
    /// and send what it carries.
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
    /// [`SourceStatus::overflow`](crate::frame::SourceStatus::overflow).
    pub fn with_max_series(mut self, n: usize) -> Self {
        self.max_series = n;
        self
    }

    /// The largest request body (or gRPC message) accepted, in bytes (default 4 MiB).
    pub fn with_max_request_bytes(mut self, n: usize) -> Self {
        self.max_request_bytes = n;
        self
    }

    /// Full-size request bodies held at once (default 32): the bodies being read share a
    /// budget of this many times [`with_max_request_bytes`](Self::with_max_request_bytes)
    /// (at most 256 MiB), taken as their bytes arrive, so a sender holds only what it has
    /// sent. A body that does not fit is answered 503 or UNAVAILABLE at once, which OTLP
    /// senders retry.
    pub fn with_max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent_requests = n;
        self
    }

    /// Connections held open at once (default 256). A connection beyond them is answered
    /// "busy" (HTTP 503 with `Retry-After`, gRPC UNAVAILABLE) and closed within a few
    /// seconds, or closed at once when a quarter as many are already being answered so; each
    /// counts in [`ReceiverStats::refused_connections`]. OTLP senders retry.
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// How long a connection may take to send a whole request head, from when it opens or
    /// from its previous request (default 30 s); then it is closed. A sender that connects
    /// and sends nothing, or sends headers a byte at a time, cannot hold a connection
    /// longer than this.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long a request may take to send its whole body, from its head (default 10 s).
    /// A sender that dawdles is cut off (HTTP 408, gRPC DEADLINE_EXCEEDED) and counted in
    /// [`ReceiverStats::slow_bodies`]. A request holds a decoding slot only once its body is
    /// whole, so slow senders never keep others out.
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Requires every request to carry this token as `Authorization: Bearer TOKEN` (gRPC:
    /// `authorization` metadata); others are refused (HTTP 401, gRPC UNAUTHENTICATED). OTLP
    /// senders set it with `OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20TOKEN`. Use it
    /// with TLS beyond loopback, or the token travels in the clear.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Records every metrics request it accepts into `recorder` (`taskscope top --record`),
    /// as the OpenTelemetry file exporter writes them; [`Recording`](crate::receive::Recording)
    /// and [`Replay`](crate::receive::Replay) play them back.
    pub fn with_recorder(mut self, recorder: crate::receive::Recorder) -> Self {
        self.recorder = Some(Arc::new(recorder));
        self
    }

    /// Serves both listeners over TLS with this certificate chain and private key (PEM
    /// files), offering HTTP/2 and HTTP/1.1 (cargo feature `tls`).
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert.into(), key.into()));
        self
    }

    /// With [`with_tls`](Self::with_tls): every sender must present a client certificate
    /// signed by a CA in this PEM file (mutual TLS); handshakes without one fail and are
    /// counted in [`ReceiverStats::failed_handshakes`].
    #[cfg(feature = "tls")]
    pub fn with_tls_client_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        self.tls_client_ca = Some(ca.into());
        self
    }

    /// Binds the listeners here, on the caller's thread (a taken port is an error that
    /// says so), then serves them on a thread of its own, `taskscope-receiver`.
    pub fn start(self) -> Result<Receiver, ReceiveError> {
        self.check()?;
        #[cfg(feature = "tls")]
        let tls = self.tls_acceptor()?;
        #[cfg(feature = "tls")]
        let encrypted = tls.is_some();
        #[cfg(not(feature = "tls"))]
        let encrypted = false;
        let (listeners, [grpc, http]) = self.bind(encrypted)?;
        let mut store = Store::new(self.max_series);
        store.set_label(label(grpc, http));
        let connections = Arc::new(crate::serve::Counters::default());
        let shared = Arc::new(server::Shared {
            store: Mutex::new(store),
            started: Instant::now(),
            max_request_bytes: self.max_request_bytes,
            budget: Budget::new(
                self.max_request_bytes
                    .saturating_mul(self.max_concurrent_requests)
                    .min(MAX_BUFFERED_BYTES)
                    .max(self.max_request_bytes),
            ),
            body_timeout: self.body_timeout,
            token: self.token,
            recorder: self.recorder,
            counters: server::Counters::default(),
            connections: Arc::clone(&connections),
        });
        let limits = crate::serve::Limits {
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout,
        };
        let running = crate::serve::start(
            "taskscope-receiver",
            listeners,
            Arc::clone(&shared),
            limits,
            connections,
            #[cfg(feature = "tls")]
            tls,
        )
        .map_err(ReceiveError::Start)?;
        Ok(Receiver {
            grpc,
            http,
            shared,
            running,
        })
    }

    /// Every setting in its range, and at least one listener.
    fn check(&self) -> Result<(), ReceiveError> {
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
        for (setting, t) in [
            ("with_idle_timeout", self.idle_timeout),
            ("with_body_timeout", self.body_timeout),
        ] {
            if t.is_zero() {
                return Err(ReceiveError::Invalid {
                    setting,
                    value: "0s".into(),
                    expected: "more than zero",
                });
            }
        }
        if self
            .token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty() || t.bytes().any(|b| !(0x21..0x7f).contains(&b)))
        {
            return Err(ReceiveError::Invalid {
                setting: "with_token",
                value: "(hidden)".into(),
                expected: "a token of printable ASCII, without spaces",
            });
        }
        if self.grpc.is_none() && self.http.is_none() {
            return Err(ReceiveError::Invalid {
                setting: "without_grpc/without_http",
                value: "both".into(),
                expected: "at least one listener",
            });
        }
        Ok(())
    }

    /// The TLS acceptor of the certificate and key given, if any.
    #[cfg(feature = "tls")]
    fn tls_acceptor(&self) -> Result<Option<tokio_rustls::TlsAcceptor>, ReceiveError> {
        match (&self.tls, &self.tls_client_ca) {
            (Some((cert, key)), ca) => Ok(Some(
                crate::tls::acceptor(cert, key, ca.as_deref())
                    .map_err(|e| ReceiveError::Tls(e.to_string()))?,
            )),
            (None, Some(_)) => Err(ReceiveError::Invalid {
                setting: "with_tls_client_ca",
                value: "without with_tls".into(),
                expected: "a certificate and key of the receiver's own (with_tls)",
            }),
            (None, None) => Ok(None),
        }
    }

    /// Binds the listeners asked for; their addresses (gRPC, HTTP). A listener beyond
    /// loopback without TLS is warned about once.
    fn bind(
        &self,
        encrypted: bool,
    ) -> Result<(Vec<std::net::TcpListener>, [Option<SocketAddr>; 2]), ReceiveError> {
        let mut listeners = Vec::new();
        let mut bound = [None, None];
        for (i, (addr, protocol)) in [(self.grpc, Listener::Grpc), (self.http, Listener::Http)]
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
            let local = listener.local_addr().map_err(bind_error)?;
            if !local.ip().is_loopback() && !encrypted {
                eprintln!(
                    "taskscope: warning: the OTLP receiver listens on {local} ({protocol}), beyond this machine, without TLS: give it a certificate (--tls-cert, --tls-key) and a token (--token)"
                );
            }
            bound[i] = Some(local);
            listeners.push(listener);
        }
        Ok((listeners, bound))
    }
}

/// The source's name in the dashboard's header: `OTLP grpc ADDR · http ADDR`.
fn label(grpc: Option<SocketAddr>, http: Option<SocketAddr>) -> String {
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
    label
}

/// Requests the receiver has answered, by fate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverStats {
    /// Metrics requests decoded and ingested.
    pub accepted: u64,
    /// Of the accepted metrics requests, those that came gzip-compressed.
    pub gzip: u64,
    /// Of the accepted metrics requests, those in OTLP's JSON encoding.
    pub json: u64,
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
    /// Requests cut off because their body did not arrive whole within the
    /// [body timeout](ReceiverBuilder::with_body_timeout).
    pub slow_bodies: u64,
    /// TLS handshakes that failed (garbage, plain text to a TLS port, no common cipher).
    /// Always 0 without the cargo feature `tls`.
    pub failed_handshakes: u64,
}

/// The running receiver; dropping it stops the listeners.
#[derive(Debug)]
pub struct Receiver {
    grpc: Option<SocketAddr>,
    http: Option<SocketAddr>,
    shared: Arc<server::Shared>,
    running: crate::serve::Running,
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
        let connections = &self.shared.connections;
        // Refused connections are sheds too, one step earlier.
        frame.status.dropped =
            counters.dropped.load(Ordering::Relaxed) + connections.read(|c| &c.refused_connections);
        frame.status.rejected = counters.rejected.load(Ordering::Relaxed);
        frame.status.last_rejection = counters
            .last_rejection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        frame
    }

    /// What its recorder ([`ReceiverBuilder::with_recorder`]) wrote so far, if it has one.
    pub fn recorder_stats(&self) -> Option<crate::receive::RecorderStats> {
        self.shared.recorder.as_ref().map(|r| r.stats())
    }

    /// Requests answered so far.
    pub fn stats(&self) -> ReceiverStats {
        let c = &self.shared.counters;
        let n = &self.shared.connections;
        ReceiverStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            gzip: c.gzip.load(Ordering::Relaxed),
            json: c.json.load(Ordering::Relaxed),
            ignored: c.ignored.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            refused_connections: n.read(|c| &c.refused_connections),
            timed_out_connections: n.read(|c| &c.timed_out_connections),
            slow_bodies: n.read(|c| &c.slow_bodies),
            #[cfg(feature = "tls")]
            failed_handshakes: n.read(|c| &c.failed_handshakes),
            #[cfg(not(feature = "tls"))]
            failed_handshakes: 0,
        }
    }

    /// Stops the listeners and waits for the thread to end.
    pub fn shutdown(mut self) {
        self.running.stop();
    }
}
