//! A property test of the OTLP receiver, on the stable toolchain and with no fuzzing crate:
//! over 100,000 random byte strings and mutations of valid `ExportMetricsServiceRequest`s
//! (bit flips, truncations, duplicated and removed ranges, corrupted varints, splices),
//! sent to a real receiver on loopback, most as `POST /v1/metrics` over one HTTP/1.1
//! keep-alive connection, the rest as gRPC calls over one HTTP/2 connection. For every case
//! the same bytes are decoded here with prost: the receiver must answer 200 (gRPC status 0)
//! exactly when they decode and 400 (gRPC status 3) otherwise, with nothing else, and must
//! never close a connection. Afterwards a good request still works and the frame is sane:
//! its series within the cap, `rejected` equal to the invalid cases sent, and the dashboard
//! renders it. Then bodies at and just over the size limit: 200 and 413, gRPC 0 and 8.
//!
//! `TASKSCOPE_FUZZ_SEED` and `TASKSCOPE_FUZZ_CASES` (HTTP cases; gRPC gets a tenth) replay or
//! lengthen a run; a failure prints the seed, the case and its bytes.
#![cfg(feature = "receiver")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::otlp::kv;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use taskscope::Outcome;
use taskscope::frame::{Frame as ViewFrame, SeriesKind};
use taskscope::receive::Receiver;
use taskscope::view::Window;

const METRICS: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
/// The receiver's request limit in this test: far above every fuzz case.
const LIMIT: usize = 64 << 10;
/// The receiver's series cap in this test: low enough for the fuzz to reach it.
const MAX_SERIES: usize = 1_000;
/// HTTP cases by default; gRPC gets a tenth as many more.
const DEFAULT_CASES: usize = 100_000;

// ---------------------------------------------------------------------------------------
// Random draws: xorshift64*.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

// ---------------------------------------------------------------------------------------
// Valid requests to mutate.

fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

fn request(service: &str, scope: &str, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service), kv("host.name", "fuzz-host")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: scope.into(),
                    version: "0.1.0".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn function_attrs(function: &str, outcome: &str) -> Vec<KeyValue> {
    vec![
        kv("function", function),
        kv("module", "shop::orders"),
        kv("outcome", outcome),
    ]
}

fn sum(points: Vec<NumberDataPoint>, temporality: AggregationTemporality) -> Data {
    Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: temporality as i32,
        is_monotonic: true,
    })
}

fn int_point(attributes: Vec<KeyValue>, value: i64) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        time_unix_nano: 1_700_000_060_000_000_000,
        value: Some(number_data_point::Value::AsInt(value)),
        ..Default::default()
    }
}

/// taskscope's own metrics, as its exporter sends them (docs/METRICS.md).
fn taskscope_request() -> ExportMetricsServiceRequest {
    let cumulative = AggregationTemporality::Cumulative;
    let mut declined = function_attrs("checkout", "error");
    declined.push(kv("error.kind", "Declined"));
    let calls = sum(
        vec![
            int_point(function_attrs("checkout", "ok"), 940),
            int_point(declined, 12),
            int_point(function_attrs("checkout", "cancelled"), 3),
            int_point(function_attrs("load_cart", "ok"), 5000),
        ],
        cumulative,
    );
    let exponential = ExponentialHistogramDataPoint {
        attributes: function_attrs("checkout", "ok"),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        time_unix_nano: 1_700_000_060_000_000_000,
        count: 940,
        sum: Some(9.4),
        scale: 6,
        zero_count: 2,
        positive: Some(Buckets {
            offset: -430,
            bucket_counts: vec![100, 200, 300, 200, 100, 30, 5, 3],
        }),
        negative: None,
        exemplars: vec![Exemplar {
            time_unix_nano: 1_700_000_059_000_000_000,
            trace_id: vec![7; 16],
            span_id: vec![9; 8],
            value: Some(exemplar::Value::AsDouble(0.012)),
            ..Default::default()
        }],
        min: Some(0.0),
        max: Some(0.05),
        ..Default::default()
    };
    let explicit = HistogramDataPoint {
        attributes: function_attrs("checkout", "ok"),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        time_unix_nano: 1_700_000_060_000_000_000,
        count: 940,
        sum: Some(3.1),
        bucket_counts: vec![10, 500, 400, 30, 0],
        explicit_bounds: vec![0.0001, 0.001, 0.01, 0.1],
        min: Some(0.00005),
        max: Some(0.09),
        ..Default::default()
    };
    let polls = sum(
        vec![int_point(function_attrs("checkout", "ok"), 2820)],
        cumulative,
    );
    let slow = sum(
        vec![int_point(function_attrs("checkout", "ok"), 4)],
        cumulative,
    );
    let concurrent = Data::Gauge(Gauge {
        data_points: vec![int_point(
            vec![kv("function", "checkout"), kv("module", "shop::orders")],
            6,
        )],
    });
    let dropped = sum(vec![int_point(Vec::new(), 0)], cumulative);
    request(
        "fuzz-app",
        "taskscope",
        vec![
            metric("function.calls", "{call}", calls),
            metric(
                "function.calls.duration",
                "s",
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![exponential],
                    aggregation_temporality: cumulative as i32,
                }),
            ),
            metric(
                "function.calls.busy",
                "s",
                Data::Histogram(Histogram {
                    data_points: vec![explicit],
                    aggregation_temporality: cumulative as i32,
                }),
            ),
            metric("function.calls.polls", "{poll}", polls),
            metric("function.calls.slow_polls", "{poll}", slow),
            metric("function.calls.concurrent", "{call}", concurrent),
            metric("taskscope.export.dropped", "{point}", dropped),
        ],
    )
}

/// What an OpenTelemetry SDK sends: generic histograms (explicit in ms, exponential with
/// negative buckets, delta), a counter, a gauge and a summary.
fn generic_request() -> ExportMetricsServiceRequest {
    let delta = AggregationTemporality::Delta;
    let route = |status: i64| {
        vec![
            kv("http.route", "/users/{id}"),
            kv("http.request.method", "GET"),
            kv_int("http.response.status_code", status),
        ]
    };
    let explicit = |status, count| HistogramDataPoint {
        attributes: route(status),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        time_unix_nano: 1_700_000_010_000_000_000,
        count,
        sum: Some(count as f64 * 12.5),
        bucket_counts: vec![0, count / 2, count - count / 2, 0],
        explicit_bounds: vec![5.0, 10.0, 25.0],
        ..Default::default()
    };
    let exponential = ExponentialHistogramDataPoint {
        attributes: vec![kv("queue", "jobs"), kv("error.type", "timeout")],
        start_time_unix_nano: 1_700_000_000_000_000_000,
        time_unix_nano: 1_700_000_010_000_000_000,
        count: 37,
        sum: Some(-1.5),
        scale: 3,
        zero_count: 1,
        positive: Some(Buckets {
            offset: 2,
            bucket_counts: vec![4, 8, 6, 2],
        }),
        negative: Some(Buckets {
            offset: -1,
            bucket_counts: vec![10, 6],
        }),
        zero_threshold: 1e-9,
        ..Default::default()
    };
    let summary = SummaryDataPoint {
        attributes: vec![kv("db.system", "postgresql")],
        count: 10,
        sum: 0.25,
        quantile_values: vec![
            ValueAtQuantile {
                quantile: 0.5,
                value: 0.02,
            },
            ValueAtQuantile {
                quantile: 0.99,
                value: 0.09,
            },
        ],
        ..Default::default()
    };
    let gauge = NumberDataPoint {
        attributes: vec![kv("pool", "db")],
        value: Some(number_data_point::Value::AsDouble(0.75)),
        ..Default::default()
    };
    request(
        "sdk-service",
        "opentelemetry-sdk",
        vec![
            metric(
                "http.server.request.duration",
                "ms",
                Data::Histogram(Histogram {
                    data_points: vec![explicit(200, 120), explicit(503, 4)],
                    aggregation_temporality: delta as i32,
                }),
            ),
            metric(
                "queue.wait",
                "us",
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![exponential],
                    aggregation_temporality: delta as i32,
                }),
            ),
            metric(
                "requests.handled",
                "{request}",
                sum(vec![int_point(route(200), 124)], delta),
            ),
            metric(
                "pool.usage",
                "1",
                Data::Gauge(Gauge {
                    data_points: vec![gauge],
                }),
            ),
            metric(
                "db.query.duration",
                "s",
                Data::Summary(Summary {
                    data_points: vec![summary],
                }),
            ),
        ],
    )
}

/// The function `after_fuzz`: `ok` calls, cumulative since a fixed start, read `ok`
/// seconds after it (a point no newer than the stream's last brings nothing).
fn good_request(ok: i64) -> ExportMetricsServiceRequest {
    let mut point = int_point(function_attrs("after_fuzz", "ok"), ok);
    point.time_unix_nano = point.start_time_unix_nano + ok as u64 * 1_000_000_000;
    request(
        "fuzz-check",
        "taskscope",
        vec![metric(
            "function.calls",
            "{call}",
            sum(vec![point], AggregationTemporality::Cumulative),
        )],
    )
}

// ---------------------------------------------------------------------------------------
// Cases.

/// Random bytes: uniform, or drawn from bytes protobuf is made of (tags of the request's
/// fields and wire types, small lengths, varint continuations).
fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(4) {
        0 => rng.below(8),
        1 | 2 => rng.below(64),
        _ => rng.below(600),
    };
    let alphabet: &[u8] = &[
        0x0a, 0x12, 0x1a, 0x22, 0x2a, 0x08, 0x10, 0x11, 0x19, 0x21, 0x39, 0x41, 0x00, 0x01, 0x02,
        0x03, 0x05, 0x7f, 0x80, 0xff,
    ];
    let protobuf_like = rng.chance(2);
    (0..len)
        .map(|_| {
            if protobuf_like {
                alphabet[rng.below(alphabet.len())]
            } else {
                rng.byte()
            }
        })
        .collect()
}

/// One mutation of `v`, in place.
fn mutate(rng: &mut Rng, v: &mut Vec<u8>, bases: &[Vec<u8>]) {
    let len = v.len();
    if len == 0 {
        v.push(rng.byte());
        return;
    }
    match rng.below(10) {
        // Bit flips.
        0 | 1 => {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(len);
                v[at] ^= 1 << rng.below(8);
            }
        }
        // A byte replaced.
        2 => {
            let at = rng.below(len);
            v[at] = rng.byte();
        }
        // Truncated.
        3 => v.truncate(rng.below(len)),
        // A range duplicated (in place, or elsewhere).
        4 => {
            let a = rng.below(len);
            let b = (a + 1 + rng.below(64)).min(len);
            let range = v[a..b].to_vec();
            let at = if rng.chance(2) { b } else { rng.below(len + 1) };
            v.splice(at..at, range);
        }
        // A range removed.
        5 => {
            let a = rng.below(len);
            let b = (a + 1 + rng.below(32)).min(len);
            v.drain(a..b);
        }
        // A varint corrupted: a continuation bit set or cleared, an overlong run of
        // continuation bytes, or a length bumped.
        6 => {
            let at = rng.below(len);
            match rng.below(4) {
                0 => v[at] |= 0x80,
                1 => v[at] &= 0x7f,
                2 => {
                    let run = 1 + rng.below(11);
                    v.splice(at..at, std::iter::repeat_n(0xff, run));
                }
                _ => v[at] = v[at].wrapping_add(1 + rng.below(3) as u8),
            }
        }
        // Random bytes inserted.
        7 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            v.splice(at..at, bytes);
        }
        // Another request appended (protobuf concatenation merges: often still valid).
        8 => v.extend_from_slice(&bases[rng.below(bases.len())]),
        // A prefix of another request spliced in.
        _ => {
            let other = &bases[rng.below(bases.len())];
            let cut = rng.below(other.len());
            let at = rng.below(len + 1);
            v.splice(at..at, other[..cut].iter().copied());
        }
    }
}

/// A case: random bytes, or a valid request with one to four mutations (some left intact,
/// so that valid requests are a fair share of the cases).
fn case(rng: &mut Rng, bases: &[Vec<u8>]) -> Vec<u8> {
    if rng.chance(4) {
        return random_bytes(rng);
    }
    let mut v = bases[rng.below(bases.len())].clone();
    if rng.chance(10) {
        return v;
    }
    for _ in 0..1 + rng.below(4) {
        mutate(rng, &mut v, bases);
    }
    v.truncate(LIMIT / 2);
    v
}

fn decodes(body: &[u8]) -> bool {
    ExportMetricsServiceRequest::decode(body).is_ok()
}

fn hex(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(256).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 256 {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        shown
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client: one connection, requests one after another.

struct Http1 {
    stream: TcpStream,
    buf: Vec<u8>,
    request: Vec<u8>,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Http1 {
    fn connect(addr: SocketAddr) -> Http1 {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Http1 {
            stream,
            buf: Vec::with_capacity(4096),
            request: Vec::with_capacity(4096),
        }
    }

    /// `POST /v1/metrics` with a protobuf body; the answer, or why there was none.
    fn post(&mut self, body: &[u8]) -> Result<Answer, String> {
        self.request.clear();
        write!(
            self.request,
            "POST /v1/metrics HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        self.request.extend_from_slice(body);
        self.stream
            .write_all(&self.request)
            .map_err(|e| format!("writing the request: {e}"))?;
        self.read_answer()
    }

    fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) => Err(format!("reading the answer: {e}")),
        }
    }

    fn read_answer(&mut self) -> Result<Answer, String> {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill()?;
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec())
            .map_err(|_| "a head that is not UTF-8".to_owned())?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status in {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
        let start = head_end + 4;
        while self.buf.len() < start + length {
            self.fill()?;
        }
        let body = self.buf[start..start + length].to_vec();
        self.buf.drain(..start + length);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

// ---------------------------------------------------------------------------------------
// gRPC over one HTTP/2 connection.

struct Grpc {
    sender: SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

/// A gRPC answer: the status (from trailers, or the headers of a trailers-only answer),
/// its message and the body.
struct GrpcAnswer {
    http_status: u16,
    grpc_status: Option<u32>,
    message: String,
    body: Bytes,
}

impl Grpc {
    async fn connect(addr: SocketAddr) -> Grpc {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).unwrap();
        let (sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .expect("the HTTP/2 handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Grpc { sender, addr }
    }

    async fn call(&mut self, framed: Vec<u8>) -> Result<GrpcAnswer, String> {
        let request = hyper::Request::builder()
            .method("POST")
            .uri(format!("http://{}{METRICS}", self.addr))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Full::new(Bytes::from(framed)))
            .unwrap();
        self.sender
            .ready()
            .await
            .map_err(|e| format!("the connection is gone: {e}"))?;
        let answer = tokio::time::timeout(Duration::from_secs(20), async {
            let response = self
                .sender
                .send_request(request)
                .await
                .map_err(|e| format!("the request failed: {e}"))?;
            let http_status = response.status().as_u16();
            let headers = response.headers().clone();
            let collected = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?;
            let trailers = collected.trailers().cloned();
            let status_headers = trailers.as_ref().unwrap_or(&headers);
            let grpc_status = status_headers
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let message = status_headers
                .get("grpc-message")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            Ok(GrpcAnswer {
                http_status,
                grpc_status,
                message,
                body: collected.to_bytes(),
            })
        })
        .await;
        answer.map_err(|_| "no answer within 20 s".to_owned())?
    }
}

fn framed(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + payload.len());
    v.push(flag);
    v.extend_from_slice(&declared.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A gRPC case: a well-framed fuzz message mostly, and one in eight with its frame broken
/// (length off, compression flag, a bad flag, a prefix cut short, a length over the
/// limit); with the status the receiver documents for it.
fn grpc_case(rng: &mut Rng, bases: &[Vec<u8>]) -> (Vec<u8>, u32) {
    let payload = case(rng, bases);
    let len = payload.len() as u32;
    let status_of = |p: &[u8]| if decodes(p) { 0 } else { 3 };
    if !rng.chance(8) {
        let status = status_of(&payload);
        return (framed(0, len, &payload), status);
    }
    match rng.below(6) {
        0 => (framed(0, len + 1 + rng.below(9) as u32, &payload), 3),
        1 if len > 0 => (
            framed(0, len - 1 - rng.below(len as usize) as u32, &payload),
            3,
        ),
        // Compressed, without `grpc-encoding`: gRPC's protocol error, INTERNAL.
        2 => (framed(1, len, &payload), 13),
        3 => (framed(2 + rng.below(254) as u8, len, &payload), 3),
        4 => {
            let cut = rng.below(5);
            (framed(0, len, &payload)[..cut].to_vec(), 3)
        }
        5 => (
            framed(0, LIMIT as u32 + 1 + rng.below(1 << 20) as u32, &payload),
            8,
        ),
        _ => {
            let status = status_of(&payload);
            (framed(0, len, &payload), status)
        }
    }
}

// ---------------------------------------------------------------------------------------
// The property.

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

#[derive(Debug, Default)]
struct Tally {
    cases: u64,
    valid: u64,
    invalid: u64,
    /// Cases the receiver counts in `rejected`.
    rejected: u64,
    /// Bodies it decodes and ingests.
    accepted: u64,
}

/// The HTTP/1.1 half, on a thread of its own: every case over one connection.
fn http_cases(addr: SocketAddr, seed: u64, cases: usize, bases: Vec<Vec<u8>>) -> Tally {
    let mut rng = Rng::new(seed);
    let mut client = Http1::connect(addr);
    let mut tally = Tally::default();
    for i in 0..cases {
        let body = case(&mut rng, &bases);
        let valid = decodes(&body);
        let fail = |why: String| -> ! {
            panic!(
                "HTTP case {i} (seed {seed}, {} bytes, decodes: {valid}): {why}\nbody: {}",
                body.len(),
                hex(&body)
            )
        };
        let a = client.post(&body).unwrap_or_else(|e| fail(e));
        if a.header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            fail("the server announced it closes the connection".into());
        }
        match (valid, a.status) {
            (true, 200) => {
                if a.header("content-type") != Some("application/x-protobuf") {
                    fail(format!("200 with {:?}", a.header("content-type")));
                }
                if ExportMetricsServiceResponse::decode(&a.body[..]).is_err() {
                    fail(format!(
                        "a 200 whose body does not decode: {}",
                        hex(&a.body)
                    ));
                }
                tally.valid += 1;
                tally.accepted += 1;
            }
            (false, 400) => {
                if !a.text().contains("malformed") {
                    fail(format!("400 saying {:?}", a.text()));
                }
                tally.invalid += 1;
                tally.rejected += 1;
            }
            (_, status) => fail(format!("answered {status}: {}", a.text())),
        }
        tally.cases += 1;
    }
    tally
}

/// The gRPC half: every case over one HTTP/2 connection.
async fn grpc_cases(addr: SocketAddr, seed: u64, cases: usize, bases: &[Vec<u8>]) -> Tally {
    let mut rng = Rng::new(seed);
    let mut client = Grpc::connect(addr).await;
    let mut tally = Tally::default();
    for i in 0..cases {
        let (body, expected) = grpc_case(&mut rng, bases);
        let fail = |why: String| -> ! {
            panic!(
                "gRPC case {i} (seed {seed}, {} bytes, expected status {expected}): {why}\nbody: {}",
                body.len(),
                hex(&body)
            )
        };
        let a = client.call(body.clone()).await.unwrap_or_else(|e| fail(e));
        if a.http_status != 200 {
            fail(format!("HTTP status {}", a.http_status));
        }
        if a.grpc_status != Some(expected) {
            fail(format!(
                "grpc-status {:?} ({:?}), expected {expected}",
                a.grpc_status, a.message
            ));
        }
        if expected == 0 {
            let len = a
                .body
                .get(1..5)
                .map(|b| u32::from_be_bytes(b.try_into().unwrap()) as usize);
            if a.body.first() != Some(&0) || len.map(|l| l + 5) != Some(a.body.len()) {
                fail(format!("a malformed answer frame: {}", hex(&a.body)));
            }
            if ExportMetricsServiceResponse::decode(&a.body[5..]).is_err() {
                fail("an answer that does not decode".into());
            }
            tally.valid += 1;
            tally.accepted += 1;
        } else {
            tally.invalid += 1;
            tally.rejected += 1;
        }
        tally.cases += 1;
    }
    tally
}

fn calls_of(frame: &ViewFrame, function: &str) -> Option<u64> {
    frame
        .series
        .iter()
        .find(|s| s.kind == SeriesKind::Function && &*s.function == function)
        .map(|s| s.calls[Outcome::Ok])
}

/// The dashboard takes the fuzzed frame: its table, JSON and screen come out whole.
fn render_checks(frame: ViewFrame) {
    let mut dashboard = taskscope::top()
        .with_window(Window::All)
        .with_ascii(false)
        .headless(160, 48);
    dashboard.push(frame);
    let table = dashboard.table();
    assert!(table.starts_with("taskscope top |"), "{table}");
    let json = dashboard.json();
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("the JSON parses");
    assert!(parsed["functions"].is_array());
    let _ = dashboard.csv();
    for cell in dashboard.draw().content() {
        assert!(
            !cell.symbol().chars().any(char::is_control),
            "a control character on screen: {:?}",
            cell.symbol()
        );
    }
}

#[tokio::test]
async fn random_and_mutated_protobuf_get_the_documented_answers() {
    if crate::support::alone(
        module_path!(),
        "random_and_mutated_protobuf_get_the_documented_answers",
    ) {
        return;
    }
    let seed = env_number("TASKSCOPE_FUZZ_SEED").unwrap_or(0x7a5c_0be5_f00d_2024);
    let http_count = env_number("TASKSCOPE_FUZZ_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    let grpc_count = http_count / 10;
    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .with_http_addr(([127, 0, 0, 1], 0).into())
        .with_max_request_bytes(LIMIT)
        .with_max_series(MAX_SERIES)
        // The check connection below waits idle while the cases run (about 30 s on 2 cores):
        // it must outlive them for "the same connection, after all that".
        .with_idle_timeout(std::time::Duration::from_secs(600))
        .start()
        .expect("the receiver starts");
    let (http_addr, grpc_addr) = (receiver.http_addr().unwrap(), receiver.grpc_addr().unwrap());
    let bases = vec![
        taskscope_request().encode_to_vec(),
        generic_request().encode_to_vec(),
    ];
    for b in &bases {
        assert!(decodes(b));
    }

    // The check series first, so that the series cap cannot keep it out later.
    let mut check = Http1::connect(http_addr);
    let a = check.post(&good_request(1).encode_to_vec()).unwrap();
    assert_eq!(a.status, 200, "{}", a.text());

    let started = Instant::now();
    let http = {
        let bases = bases.clone();
        std::thread::spawn(move || http_cases(http_addr, seed, http_count, bases))
    };
    let grpc = grpc_cases(grpc_addr, seed ^ 0x9e37_79b9, grpc_count, &bases).await;
    let http = http.join().expect("the HTTP cases pass");
    let elapsed = started.elapsed();
    eprintln!(
        "seed {seed:#x}: {} HTTP/1.1 cases ({} valid, {} invalid) and {} gRPC cases ({} valid, {} refused) in {elapsed:?}",
        http.cases, http.valid, http.invalid, grpc.cases, grpc.valid, grpc.invalid
    );
    assert_eq!(http.cases + grpc.cases, (http_count + grpc_count) as u64);
    // Both kinds of case are well represented.
    for t in [&http, &grpc] {
        assert!(t.valid * 10 > t.cases, "too few valid cases: {t:?}");
        assert!(t.invalid * 10 > t.cases, "too few invalid cases: {t:?}");
    }

    // The same connection, after all that: a good request still counts.
    let a = check.post(&good_request(8).encode_to_vec()).unwrap();
    assert_eq!(a.status, 200, "{}", a.text());
    let frame = receiver.frame();
    assert_eq!(calls_of(&frame, "after_fuzz"), Some(8));
    assert!(
        frame.series.len() <= MAX_SERIES,
        "{} series",
        frame.series.len()
    );
    assert_eq!(frame.status.rejected, http.rejected + grpc.rejected);
    assert_eq!(frame.status.dropped, 0, "one request at a time per client");
    let stats = receiver.stats();
    assert_eq!(stats.accepted, http.accepted + grpc.accepted + 2);
    assert_eq!(stats.rejected, http.rejected + grpc.rejected);
    eprintln!(
        "frame: {} series (cap {MAX_SERIES}), overflow {}, kind overflow {}",
        frame.series.len(),
        frame.status.overflow,
        frame.status.kind_overflow
    );
    render_checks(frame);
}

/// A valid request padded with an unknown field (which decoding skips) to `size` bytes.
fn padded_request(size: usize) -> Vec<u8> {
    let mut v = good_request(1).encode_to_vec();
    // Field 15, wire type 2: tag 0x7a, a varint length, then the bytes.
    let room = size - v.len() - 1;
    let mut len_bytes = 1;
    while (room - len_bytes) >> (7 * len_bytes) > 0 {
        len_bytes += 1;
    }
    let len = room - len_bytes;
    v.push(0x7a);
    let mut n = len;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            v.push(byte);
            break;
        }
        v.push(byte | 0x80);
    }
    v.resize(size, b'p');
    assert_eq!(v.len(), size);
    assert!(decodes(&v), "padding with an unknown field keeps it valid");
    v
}

#[tokio::test]
async fn bodies_at_the_limit_pass_and_just_over_it_are_refused() {
    if crate::support::alone(
        module_path!(),
        "bodies_at_the_limit_pass_and_just_over_it_are_refused",
    ) {
        return;
    }
    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .with_http_addr(([127, 0, 0, 1], 0).into())
        .with_max_request_bytes(LIMIT)
        .start()
        .expect("the receiver starts");
    let (http_addr, grpc_addr) = (receiver.http_addr().unwrap(), receiver.grpc_addr().unwrap());
    let at_limit = padded_request(LIMIT);

    let a = Http1::connect(http_addr).post(&at_limit).unwrap();
    assert_eq!(a.status, 200, "exactly at the limit: {}", a.text());
    // One byte over: refused by its Content-Length (the server may close this connection:
    // it does not read the body).
    let mut over = at_limit.clone();
    over.push(0);
    let a = Http1::connect(http_addr).post(&over).unwrap();
    assert_eq!(a.status, 413, "{}", a.text());

    let mut grpc = Grpc::connect(grpc_addr).await;
    let a = grpc.call(framed(0, LIMIT as u32, &at_limit)).await.unwrap();
    assert_eq!(
        a.grpc_status,
        Some(0),
        "exactly at the limit: {}",
        a.message
    );
    let a = grpc.call(framed(0, LIMIT as u32 + 1, &over)).await.unwrap();
    assert_eq!(a.grpc_status, Some(8), "{}", a.message);
    assert!(a.message.contains("limit"), "{}", a.message);

    // Both still serve, the gRPC one on the same connection.
    let good = good_request(5).encode_to_vec();
    let a = grpc
        .call(framed(0, good.len() as u32, &good))
        .await
        .unwrap();
    assert_eq!(a.grpc_status, Some(0), "{}", a.message);
    let a = Http1::connect(http_addr).post(&good).unwrap();
    assert_eq!(a.status, 200, "{}", a.text());
    let frame = receiver.frame();
    assert_eq!(
        frame.status.rejected, 2,
        "the 413 and the RESOURCE_EXHAUSTED"
    );
    assert_eq!(receiver.stats().accepted, 4);
}
