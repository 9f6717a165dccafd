//! Periodic OTLP export of the metrics, over gRPC or HTTP/protobuf.

mod config;
mod encode;
mod key_value;
mod spans;
mod transport;
mod worker;

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::export::stats::ExportStats;

/// How requests reach the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (port 4317 by convention): `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318, path `/v1/metrics`):
    /// `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`.
    HttpProtobuf,
}

/// Whether requests are compressed (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Plain protobuf (the default, as the OTLP specification says).
    #[default]
    None,
    /// gzip, at level 1 (the fastest; an export of 1000 functions shrinks about 7 times).
    Gzip,
}

/// Whether counts and histograms are totals since start or per export interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temporality {
    /// Totals since the process started (the default): a lost export loses nothing, the
    /// next one carries the same totals.
    Cumulative,
    /// What happened since the previous export (for backends that want deltas).
    Delta,
}

/// How latency histograms are exported.
#[derive(Clone, Debug, PartialEq)]
pub enum HistogramFormat {
    /// OTLP exponential histograms (the default): at 64 buckets per power of two, the
    /// recorder's own resolution, unless a data point's range needs more than `max_buckets`
    /// buckets; then at the finest scale that fits (the OpenTelemetry SDK's rule; its
    /// default, 160, is taskscope's too).
    Exponential {
        /// The most buckets one data point may carry.
        max_buckets: u32,
    },
    /// Classic histograms with these upper boundaries, in seconds.
    Explicit(Vec<f64>),
}

impl Default for HistogramFormat {
    fn default() -> Self {
        Self::Exponential {
            max_buckets: DEFAULT_MAX_BUCKETS,
        }
    }
}

/// The default cap on buckets per exponential data point.
pub const DEFAULT_MAX_BUCKETS: u32 = 160;

/// Why the exporter did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtlpError {
    /// A setting (a builder method or an `OTEL_*` variable) has a value that cannot work.
    #[error("{setting}={value:?} is not valid: expected {expected}")]
    Invalid {
        /// The variable or builder method.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// The export thread could not start.
    #[error("the OTLP export thread could not start: {0}")]
    Start(String),
}

/// Starts building an OTLP exporter. Settings not given fall back to the standard
/// `OTEL_*` variables, then to the OTLP defaults (gRPC to `localhost:4317`, every 60 s,
/// cumulative).
///
/// ```no_run
/// use std::time::Duration;
///
/// # fn main() -> Result<(), taskscope::OtlpError> {
/// let exporter = taskscope::otlp()
///     .with_endpoint("http://127.0.0.1:4317")
///     .with_service_name("checkout")
///     .with_interval(Duration::from_secs(10))
///     .try_start()?;
/// // ... the application runs ...
/// drop(exporter); // exports a last time (bounded by the timeout) and stops
/// # Ok(())
/// # }
/// ```
pub fn otlp() -> OtlpBuilder {
    OtlpBuilder::default()
}

/// Settings of the OTLP exporter; see [`otlp()`].
#[derive(Clone, Debug, Default)]
#[must_use = "call try_start() or start() to begin exporting"]
pub struct OtlpBuilder {
    req: config::Requested,
}

impl OtlpBuilder {
    /// The collector's base URL, `http://host:port` or `https://host:port`
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`). Over HTTP, `/v1/metrics` is appended unless the URL
    /// already ends with it. A gRPC endpoint without a scheme (`collector:4317`) is TLS
    /// unless [`with_insecure`](Self::with_insecure) says otherwise.
    ///
    /// `https://` needs the cargo feature `tls`. The server's certificate is checked
    /// against the platform's trusted roots (read with `rustls-native-certs`: the system's
    /// CA bundle, `SSL_CERT_FILE` and `SSL_CERT_DIR`), or only against the CA given with
    /// [`with_certificate`](Self::with_certificate). A certificate that does not verify
    /// fails the export, which is counted in [`ExportStats`] and reported once on stderr
    /// with the reason; nothing is ever sent in plain text instead.
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.req.endpoint = Some(url.into());
        self
    }

    /// gRPC or HTTP/protobuf (`OTEL_EXPORTER_OTLP_PROTOCOL`).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.req.protocol = Some(protocol);
        self
    }

    /// Adds a header to every request (`OTEL_EXPORTER_OTLP_HEADERS`); replaces a variable's
    /// header of the same name.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.req.headers.push((name.into(), value.into()));
        self
    }

    /// Compresses requests (`OTEL_EXPORTER_OTLP_COMPRESSION`; default none, as the OTLP
    /// specification says). gzip is level 1: an export of 1000 functions goes from 1.7 MB
    /// to 0.24 MB for about 6 ms of the export thread's time.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.req.compression = Some(compression);
        self
    }

    /// Trusts only the CA certificates in this PEM file for `https://` endpoints
    /// (`OTEL_EXPORTER_OTLP_CERTIFICATE`), instead of the platform's roots.
    pub fn with_certificate(mut self, ca_pem: impl Into<std::path::PathBuf>) -> Self {
        self.req.certificate = Some(ca_pem.into());
        self
    }

    /// Presents this client certificate and key (PEM files) to the collector, for mutual
    /// TLS (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_KEY`).
    pub fn with_client_certificate(
        mut self,
        cert_pem: impl Into<std::path::PathBuf>,
        key_pem: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.req.client_certificate = Some(cert_pem.into());
        self.req.client_key = Some(key_pem.into());
        self
    }

    /// Whether a gRPC endpoint given without a scheme is plain text (`true`) or TLS (the
    /// default) (`OTEL_EXPORTER_OTLP_INSECURE`). An `http://` or `https://` URL says it
    /// itself.
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.req.insecure = Some(insecure);
        self
    }

    /// How long one attempt may take (`OTEL_EXPORTER_OTLP_TIMEOUT`, default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.req.timeout = Some(timeout);
        self
    }

    /// Time between exports (`OTEL_METRIC_EXPORT_INTERVAL`, default 60 s).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.req.interval = Some(interval);
        self
    }

    /// Cumulative (default) or delta
    /// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.req.temporality = Some(temporality);
        self
    }

    /// Exports latency histograms with explicit boundaries, in seconds, instead of
    /// exponential ones; [`DEFAULT_EXPLICIT_BUCKETS`](crate::export::DEFAULT_EXPLICIT_BUCKETS) suits
    /// 100 µs to a minute.
    pub fn with_explicit_buckets(mut self, bounds: impl Into<Vec<f64>>) -> Self {
        self.req.histograms = Some(HistogramFormat::Explicit(bounds.into()));
        self
    }

    /// Exponential histograms with at most this many buckets per data point (default 160,
    /// up to 4096). 64 buckets per power of two are kept while a point's range allows; a
    /// range of 2^7 (say 100 µs to 12.8 ms) needs 448 for that.
    pub fn with_exponential_buckets(mut self, max_buckets: u32) -> Self {
        self.req.histograms = Some(HistogramFormat::Exponential { max_buckets });
        self
    }

    /// `service.name` (`OTEL_SERVICE_NAME`).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.req.service_name = Some(name.into());
        self
    }

    /// `service.version`.
    pub fn with_service_version(mut self, version: impl Into<String>) -> Self {
        self.req.service_version = Some(version.into());
        self
    }

    /// Adds a resource attribute (`OTEL_RESOURCE_ATTRIBUTES`); the builder's wins.
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.req.resource.push((key.into(), value.into()));
        self
    }

    /// Batches kept while the collector cannot be reached (default 16). With cumulative
    /// temporality only the newest matters, which holds all totals.
    pub fn with_queue_capacity(mut self, batches: usize) -> Self {
        self.req.queue = Some(batches);
        self
    }

    /// Attempts per batch before it is dropped and counted (default 5, with backoff from
    /// 100 ms, doubling, up to 5 s).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.req.max_attempts = Some(attempts);
        self
    }

    /// Exports this share of measured calls (0 to 1) as trace spans, and links histogram
    /// points to them as exemplars (`OTEL_TRACES_SAMPLER` = `traceidratio` with
    /// `OTEL_TRACES_SAMPLER_ARG`, or `always_on`). Default 0: no spans. A sampled call costs
    /// a few more nanoseconds; the others, one relaxed load.
    pub fn with_trace_sampling(mut self, ratio: f64) -> Self {
        self.req.trace_sampling = Some(ratio);
        self
    }

    /// Sends the sampled calls' spans (see [`with_trace_sampling`](Self::with_trace_sampling))
    /// through the application's own OpenTelemetry `TracerProvider` instead of taskscope's
    /// connection (cargo feature `otel-sdk`): its sampler, span processors, exporter, TLS and
    /// resource apply, under the instrumentation scope `taskscope`. The spans are those
    /// taskscope sends itself: the function's name, `code.function.name`, `code.file.path`,
    /// `code.line.number`, `taskscope.outcome`, `error.type`; status unset unless the call
    /// failed; a panic as an `exception` event with its type only. The provider's tracer
    /// picks each span's ids, and the exemplars on taskscope's histograms take them; a call
    /// the provider's sampler drops keeps no exemplar. Metrics still go through taskscope's
    /// exporter (the SDK takes no histograms from outside; see `taskscope::otel`).
    ///
    /// A sampling ratio above 0 is required (`with_trace_sampling`, or
    /// `OTEL_TRACES_SAMPLER`): it chooses which calls are offered to the provider at all.
    ///
    /// ```no_run
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    ///
    /// let provider = SdkTracerProvider::builder()
    ///     .with_simple_exporter(InMemorySpanExporter::default())
    ///     .build();
    /// let exporter = taskscope::otlp()
    ///     .with_tracer_provider(&provider)
    ///     .with_trace_sampling(0.01)
    ///     .start();
    /// ```
    #[cfg(feature = "otel-sdk")]
    pub fn with_tracer_provider(
        mut self,
        provider: &(impl opentelemetry::global::ObjectSafeTracerProvider + ?Sized),
    ) -> Self {
        self.req.tracer = Some(crate::export::otel::spans::UserTracer::of(provider));
        self
    }

    /// Starts exporting on a background thread of its own. Errors name the setting or
    /// variable and the value that cannot work. With `OTEL_SDK_DISABLED=true` the settings
    /// are still checked, and the exporter returned sends nothing.
    pub fn try_start(self) -> Result<OtlpExporter, OtlpError> {
        let settings = config::resolve(self.req, &|name| std::env::var(name).ok())?;
        let timeout = settings.timeout;
        let (commands, receiver) = mpsc::channel(4);
        if settings.disabled {
            return Ok(OtlpExporter {
                commands,
                thread: None,
                timeout,
                disabled: true,
            });
        }
        let (started_tx, started_rx) = std_mpsc::channel();
        let thread = crate::background::spawn("taskscope-otlp", move || {
            worker::run(settings, receiver, started_tx)
        })
        .map_err(|e| OtlpError::Start(e.to_string()))?;
        match started_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(OtlpError::Start(e)),
            Err(_) => return Err(OtlpError::Start("the export thread stopped".into())),
        }
        Ok(OtlpExporter {
            commands,
            thread: Some(thread),
            timeout,
            disabled: false,
        })
    }

    /// As [`try_start`](Self::try_start), panicking with the error's message.
    pub fn start(self) -> OtlpExporter {
        match self.try_start() {
            Ok(e) => e,
            Err(e) => panic!("taskscope: {e}"),
        }
    }
}

/// The running exporter. Dropping it exports a last time and stops, waiting at most the
/// timeout (and the retries of that last export).
#[derive(Debug)]
pub struct OtlpExporter {
    commands: mpsc::Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
    timeout: Duration,
    /// `OTEL_SDK_DISABLED=true`: no thread, nothing sent.
    disabled: bool,
}

use worker::Command;

/// An encoded request compressed as the exporter compresses it. For the benchmarks; not a
/// public API.
#[doc(hidden)]
pub fn gzip_for_bench(request: &[u8]) -> Vec<u8> {
    transport::gzip(request)
}

/// A snapshot as the OTLP request the exporter would send for it now (cumulative, the
/// default exponential histograms, `service.name` and `service.instance.id` on the
/// resource): what an in-process recording keeps (`top().record(..)`).
#[cfg(all(feature = "receiver", feature = "tui"))]
pub(crate) fn snapshot_request(
    snap: &crate::record::snapshot::Snapshot,
    service: &str,
) -> opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // One start for every request: a cumulative stream is known by its start time, and a
    // start that moved would read as a restart.
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start =
        *START.get_or_init(|| now.saturating_sub(crate::clock::since_start().as_nanos() as u64));
    let frame = encode::Frame {
        start_unix_ns: start,
        now_unix_ns: now,
        temporality: Temporality::Cumulative,
    };
    let format = HistogramFormat::default();
    let resource = [
        ("service.name".to_owned(), service.to_owned()),
        (
            crate::words::names::attr::SERVICE_INSTANCE.to_owned(),
            crate::export::resource::service_instance_id().to_owned(),
        ),
    ];
    let envelope = encode::Envelope {
        frame,
        histograms: &format,
        resource: &resource,
    };
    let mut request = encode::Request::default();
    encode::Points::default().fill(&mut request, snap, frame, &format, snap.exports, &[]);
    request.build(&envelope)
}

/// One export's work without the network: the snapshot as an OTLP request, encoded to
/// protobuf bytes, as the exporter does or (`prost_only`) by building the whole
/// `ExportMetricsServiceRequest` and encoding it with prost. For the benchmarks; not a
/// public API.
#[doc(hidden)]
pub fn encode_for_bench(
    snap: &crate::record::snapshot::Snapshot,
    format: &HistogramFormat,
    prost_only: bool,
) -> Vec<u8> {
    let frame = encode::Frame {
        start_unix_ns: 1,
        now_unix_ns: 2,
        temporality: Temporality::Cumulative,
    };
    let resource = [("service.name".to_owned(), "bench".to_owned())];
    let envelope = encode::Envelope {
        frame,
        histograms: format,
        resource: &resource,
    };
    if prost_only {
        use prost::Message;
        let mut request = encode::Request::default();
        let mut points = encode::Points::default();
        points.fill(
            &mut request,
            snap,
            frame,
            format,
            ExportStats::default(),
            &[],
        );
        return request.build(&envelope).encode_to_vec();
    }
    // Scratch kept from call to call, as the exporter keeps it from export to export.
    thread_local! {
        static SCRATCH: std::cell::RefCell<(encode::Points, encode::Framed)> =
            Default::default();
    }
    SCRATCH.with_borrow_mut(|(points, framed)| {
        framed.clear();
        points.fill(framed, snap, frame, format, ExportStats::default(), &[]);
        framed.encode(&envelope)
    })
}

impl OtlpExporter {
    /// Exports now and waits until the queue is empty (sent, or dropped after its retries);
    /// returns the export counters. `None` if the exporter did not answer in time.
    pub fn flush(&self) -> Option<ExportStats> {
        self.ask(Command::Flush)
    }

    fn ask(&self, command: fn(std_mpsc::Sender<ExportStats>) -> Command) -> Option<ExportStats> {
        if self.disabled {
            return Some(ExportStats::read());
        }
        let (tx, rx) = std_mpsc::channel();
        self.commands.try_send(command(tx)).ok()?;
        // The wait bound: a few attempts with their timeouts and backoff.
        rx.recv_timeout(self.timeout * 2 + Duration::from_secs(10))
            .ok()
    }

    /// Exports a last time and stops.
    pub fn shutdown(mut self) -> Option<ExportStats> {
        self.stop()
    }

    fn stop(&mut self) -> Option<ExportStats> {
        if self.disabled {
            return Some(ExportStats::read());
        }
        let thread = self.thread.take()?;
        let stats = self.ask(Command::Shutdown);
        if stats.is_some() {
            let _ = thread.join();
        }
        stats
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
