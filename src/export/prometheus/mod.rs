//! A Prometheus scrape endpoint, on a thread of its own.

mod exposition;
mod format;
mod protobuf;
mod text;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
#[cfg(feature = "tls")]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use crate::serve::{self, Reply};

/// Scrapers served at once, by default; more are answered 503 and closed.
pub const DEFAULT_MAX_SCRAPE_CONNECTIONS: usize = 64;

use format::Format;

/// The native histograms' schema by default: 64 buckets per power of two, the recorder's
/// own resolution.
pub const DEFAULT_NATIVE_SCHEMA: i8 = protobuf::NATIVE_SCHEMA as i8;

/// Why the endpoint did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrometheusError {
    /// The address could not be bound (in use, or not an address of this machine).
    #[error("cannot listen on {addr}: {source} (choose another address with with_address)")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A setting cannot work.
    #[error("{setting}={value:?} is not valid: expected {expected}")]
    Invalid {
        /// The builder method.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// The TLS certificate or key cannot be used.
    #[error("the Prometheus endpoint's TLS: {0}")]
    Tls(String),
    /// The server thread could not start.
    #[error("the Prometheus endpoint thread could not start: {0}")]
    Start(String),
}

/// Starts building the Prometheus endpoint: `GET http://127.0.0.1:9464/metrics` by
/// default, in the format the scraper's `Accept` header asks for: the Prometheus text
/// format, OpenMetrics (with exemplars), or protobuf with native histograms (Prometheus with
/// `--enable-feature=native-histograms` asks for it).
///
/// ```
/// let endpoint = taskscope::prometheus()
///     .with_address(([127, 0, 0, 1], 0).into()) // any free port
///     .try_start()
///     .expect("the endpoint starts");
/// println!("scrape http://{}/metrics", endpoint.local_addr());
/// ```
pub fn prometheus() -> PrometheusBuilder {
    PrometheusBuilder {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9464),
        path: "/metrics".into(),
        buckets: crate::export::DEFAULT_EXPLICIT_BUCKETS.to_vec(),
        native_schema: DEFAULT_NATIVE_SCHEMA,
        max_connections: DEFAULT_MAX_SCRAPE_CONNECTIONS,
        idle_timeout: Duration::from_secs(30),
        #[cfg(feature = "tls")]
        tls: None,
    }
}

/// Settings of the Prometheus endpoint; see [`prometheus()`].
#[derive(Clone, Debug)]
#[must_use = "call try_start() or start() to serve the endpoint"]
pub struct PrometheusBuilder {
    addr: SocketAddr,
    path: String,
    buckets: Vec<f64>,
    native_schema: i8,
    max_connections: usize,
    idle_timeout: Duration,
    #[cfg(feature = "tls")]
    tls: Option<(PathBuf, PathBuf)>,
}

impl PrometheusBuilder {
    /// The address to listen on (default `127.0.0.1:9464`: loopback only). A
    /// non-loopback address prints a warning at start: the endpoint has no authentication.
    pub fn with_address(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The path served (default `/metrics`); every other path answers 404.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The histograms' `le` boundaries, in seconds (default
    /// [`DEFAULT_EXPLICIT_BUCKETS`](crate::export::DEFAULT_EXPLICIT_BUCKETS): 100 µs to 60 s).
    pub fn with_buckets(mut self, bounds: impl Into<Vec<f64>>) -> Self {
        self.buckets = bounds.into();
        self
    }

    /// The schema of the native histograms served to a scraper that asks for protobuf:
    /// `2^schema` buckets per power of two, from -4 to 6 (default
    /// [`DEFAULT_NATIVE_SCHEMA`], 6: the recorder's own resolution, a bucket 1.09 % wide,
    /// so `histogram_quantile` answers within 2 % of the recorder). A lower schema stores
    /// fewer, wider buckets; above 6 would claim a precision the recorder does not have.
    ///
    /// ```
    /// let builder = taskscope::prometheus().with_native_schema(3); // 8 buckets per octave
    /// ```
    pub fn with_native_schema(mut self, schema: i8) -> Self {
        self.native_schema = schema;
        self
    }

    /// Connections served at once (default 64); more are answered 503 with `Retry-After`
    /// and closed, the same as the OTLP receiver does.
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// How long a connection may take to send a whole request head (default 30 s).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Serves over TLS with this certificate chain and private key (PEM files; cargo
    /// feature `tls`). Prometheus scrapes it with `scheme: https` and `tls_config`.
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert.into(), key.into()));
        self
    }

    /// Binds the address and serves on a thread of its own. A taken port or a bad setting
    /// is an error that says so.
    pub fn try_start(self) -> Result<PrometheusEndpoint, PrometheusError> {
        let increasing = self.buckets.windows(2).all(|w| w[0] < w[1]);
        if self.buckets.is_empty() || !increasing || self.buckets.iter().any(|b| !b.is_finite()) {
            return Err(PrometheusError::Invalid {
                setting: "with_buckets",
                value: format!("{:?}", self.buckets),
                expected: "finite boundaries in seconds, strictly increasing, at least one".into(),
            });
        }
        if !(-4..=DEFAULT_NATIVE_SCHEMA).contains(&self.native_schema) {
            return Err(PrometheusError::Invalid {
                setting: "with_native_schema",
                value: self.native_schema.to_string(),
                expected: format!("a schema from -4 to {DEFAULT_NATIVE_SCHEMA}"),
            });
        }
        if !self.path.starts_with('/') {
            return Err(PrometheusError::Invalid {
                setting: "with_path",
                value: self.path,
                expected: "a path starting with /".into(),
            });
        }
        if self.max_connections == 0 || self.idle_timeout.is_zero() {
            return Err(PrometheusError::Invalid {
                setting: "with_max_connections/with_idle_timeout",
                value: format!("{}, {:?}", self.max_connections, self.idle_timeout),
                expected: "more than zero".into(),
            });
        }
        #[cfg(feature = "tls")]
        let tls = match &self.tls {
            Some((cert, key)) => Some(
                crate::tls::acceptor(cert, key, None)
                    .map_err(|e| PrometheusError::Tls(e.to_string()))?,
            ),
            None => None,
        };
        #[cfg(feature = "tls")]
        let encrypted = tls.is_some();
        #[cfg(not(feature = "tls"))]
        let encrypted = false;
        // Bind here, on the caller's thread, so a taken port is reported to the caller.
        let std_listener =
            std::net::TcpListener::bind(self.addr).map_err(|source| PrometheusError::Bind {
                addr: self.addr,
                source,
            })?;
        let local = std_listener
            .local_addr()
            .map_err(|e| PrometheusError::Start(e.to_string()))?;
        if !local.ip().is_loopback() && !encrypted {
            eprintln!(
                "taskscope: warning: the Prometheus endpoint listens on {local}, beyond this machine, without TLS or authentication"
            );
        }
        let config = Arc::new(Config {
            path: self.path,
            buckets: self.buckets,
            native_schema: i32::from(self.native_schema),
        });
        let counters = Arc::new(serve::Counters::default());
        let running = serve::start(
            "taskscope-prometheus",
            vec![std_listener],
            config,
            serve::Limits {
                max_connections: self.max_connections,
                idle_timeout: self.idle_timeout,
            },
            Arc::clone(&counters),
            #[cfg(feature = "tls")]
            tls,
        )
        .map_err(PrometheusError::Start)?;
        Ok(PrometheusEndpoint {
            local,
            counters,
            _running: running,
        })
    }

    /// As [`try_start`](Self::try_start), panicking with the error's message.
    pub fn start(self) -> PrometheusEndpoint {
        match self.try_start() {
            Ok(e) => e,
            Err(e) => panic!("taskscope: {e}"),
        }
    }
}

/// The running endpoint; dropping it stops the server.
#[derive(Debug)]
pub struct PrometheusEndpoint {
    local: SocketAddr,
    counters: Arc<serve::Counters>,
    _running: serve::Running,
}

impl PrometheusEndpoint {
    /// The address it listens on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Connections answered 503 and closed because
    /// [`with_max_connections`](PrometheusBuilder::with_max_connections) were open.
    pub fn refused_connections(&self) -> u64 {
        self.counters.read(|c| &c.refused_connections)
    }

    /// Connections closed because no whole request head arrived in time.
    pub fn timed_out_connections(&self) -> u64 {
        self.counters.read(|c| &c.timed_out_connections)
    }

    /// TLS handshakes that failed (cargo feature `tls`).
    #[cfg(feature = "tls")]
    pub fn failed_handshakes(&self) -> u64 {
        self.counters.read(|c| &c.failed_handshakes)
    }
}

struct Config {
    path: String,
    buckets: Vec<f64>,
    native_schema: i32,
}

impl serve::Service for Config {
    fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<Reply>> + Send + 'static {
        std::future::ready(respond(&req, &self))
    }

    fn busy(&self, _req: &Request<Incoming>) -> Response<Reply> {
        let mut r = Response::new(Reply::bytes("too many scrapers at once: try again\n"));
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        r.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from_static("1"),
        );
        r
    }
}

fn respond(req: &Request<Incoming>, config: &Config) -> Response<Reply> {
    let reply = |status: StatusCode, body: &'static str| {
        let mut r = Response::new(Reply::bytes(body));
        *r.status_mut() = status;
        r
    };
    if req.uri().path() != config.path {
        return reply(
            StatusCode::NOT_FOUND,
            "not found: metrics are at the configured path\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
    }
    let accept = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let snap = crate::record::snapshot::snapshot();
    let exemplars = match format {
        Format::OpenMetrics | Format::Protobuf => exposition::exemplars(),
        Format::Text => Vec::new(),
    };
    let (bounds, schema) = (&config.buckets, config.native_schema);
    let body = match format {
        Format::Protobuf => protobuf::render(&snap, snap.exports, schema, bounds, &exemplars),
        _ => text::render(&snap, snap.exports, format, bounds, &exemplars).into_bytes(),
    };
    let mut r = Response::new(Reply::bytes(body));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(format.content_type()),
    );
    r
}

/// The body of one scrape of `snap` in the format `accept` asks for, with the default
/// buckets and schema. For the benchmarks; not a public API.
#[doc(hidden)]
pub fn render_for_bench(snap: &crate::record::snapshot::Snapshot, accept: &str) -> Vec<u8> {
    let bounds = crate::export::DEFAULT_EXPLICIT_BUCKETS;
    match Format::from_accept(Some(accept)) {
        Format::Protobuf => protobuf::render(
            snap,
            snap.exports,
            i32::from(DEFAULT_NATIVE_SCHEMA),
            &bounds,
            &[],
        ),
        format => text::render(snap, snap.exports, format, &bounds, &[]).into_bytes(),
    }
}
