//! A Prometheus scrape endpoint, on a thread of its own.

mod text;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub(crate) use text::Format;

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
    /// The server thread could not start.
    #[error("the Prometheus endpoint thread could not start: {0}")]
    Start(String),
}

/// Starts building the Prometheus endpoint: `GET http://127.0.0.1:9464/metrics` by
/// default, in the Prometheus text format, or OpenMetrics when the scraper asks for it.
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
        buckets: crate::DEFAULT_EXPLICIT_BUCKETS.to_vec(),
    }
}

/// Settings of the Prometheus endpoint; see [`prometheus()`].
#[derive(Clone, Debug)]
#[must_use = "call try_start() or start() to serve the endpoint"]
pub struct PrometheusBuilder {
    addr: SocketAddr,
    path: String,
    buckets: Vec<f64>,
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
    /// [`DEFAULT_EXPLICIT_BUCKETS`](crate::DEFAULT_EXPLICIT_BUCKETS): 100 µs to 60 s).
    pub fn with_buckets(mut self, bounds: impl Into<Vec<f64>>) -> Self {
        self.buckets = bounds.into();
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
        if !self.path.starts_with('/') {
            return Err(PrometheusError::Invalid {
                setting: "with_path",
                value: self.path,
                expected: "a path starting with /".into(),
            });
        }
        // Bind here, on the caller's thread, so a taken port is reported to the caller.
        let std_listener =
            std::net::TcpListener::bind(self.addr).map_err(|source| PrometheusError::Bind {
                addr: self.addr,
                source,
            })?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| PrometheusError::Start(e.to_string()))?;
        let local = std_listener
            .local_addr()
            .map_err(|e| PrometheusError::Start(e.to_string()))?;
        if !local.ip().is_loopback() {
            eprintln!(
                "taskscope: the Prometheus endpoint listens on {local}, beyond this machine, without authentication"
            );
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let config = Arc::new(Config {
            path: self.path,
            buckets: self.buckets,
        });
        let thread = crate::background::spawn("taskscope-prometheus", move || {
            serve(std_listener, config, stop_rx, ready_tx)
        })
        .map_err(|e| PrometheusError::Start(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(PrometheusEndpoint {
                local,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(PrometheusError::Start(e)),
            Err(_) => Err(PrometheusError::Start("the server thread stopped".into())),
        }
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
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PrometheusEndpoint {
    /// The address it listens on (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for PrometheusEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Config {
    path: String,
    buckets: Vec<f64>,
}

fn serve(
    listener: std::net::TcpListener,
    config: Arc<Config>,
    mut stop: oneshot::Receiver<()>,
    ready: std_mpsc::Sender<Result<(), String>>,
) {
    let Some(runtime) = crate::background::runtime(&ready, "Prometheus endpoint") else {
        return;
    };
    runtime.block_on(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        loop {
            tokio::select! {
                _ = &mut stop => return,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let config = Arc::clone(&config);
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let config = Arc::clone(&config);
                            async move { Ok::<_, Infallible>(respond(&req, &config)) }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        }
    });
}

fn respond(req: &Request<Incoming>, config: &Config) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
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
    let snap = crate::snapshot();
    let exemplars = match format {
        Format::OpenMetrics => text::exemplars(),
        Format::Text => Vec::new(),
    };
    let body = text::render(&snap, snap.exports, format, &config.buckets, &exemplars);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(format.content_type()),
    );
    r
}
