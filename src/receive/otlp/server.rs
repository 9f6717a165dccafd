//! What the receiver answers: OTLP over HTTP (protobuf or JSON, plain or gzip) and over gRPC
//! (plain or gzip), framed by hand so every refusal has the code the OTLP specification
//! gives it, as a `google.rpc.Status` in the request's encoding. Connections, timeouts and
//! TLS are the serving path's (`crate::serve`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

use super::store::Store;
use crate::serve::body::{self, BodyError, Budget, InflateError, ReadError};
use crate::serve::{self, Reply};

const GRPC_METRICS: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const GRPC_TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const GRPC_LOGS: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
/// The compressions the receiver reads, as it advertises them to gRPC senders.
const GRPC_ACCEPT_ENCODING: &str = "gzip";
/// What a busy receiver asks a sender to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What the server tasks and the [`Receiver`](super::Receiver) share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) store: Mutex<Store>,
    pub(super) started: Instant,
    pub(super) max_request_bytes: usize,
    /// The bytes of request bodies held at once (being read, inflated, decoded).
    pub(super) budget: Budget,
    pub(super) body_timeout: Duration,
    /// A bearer token every request must carry, when set.
    pub(super) token: Option<String>,
    /// Where accepted requests are recorded, when they are.
    pub(super) recorder: Option<Arc<crate::receive::recording::Recorder>>,
    pub(super) counters: Counters,
    pub(super) connections: Arc<serve::Counters>,
}

/// Request counters, kept outside the store's lock.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) accepted: AtomicU64,
    pub(super) ignored: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) dropped: AtomicU64,
    /// Accepted requests that came gzip-compressed.
    pub(super) gzip: AtomicU64,
    /// Accepted requests in OTLP's JSON encoding.
    pub(super) json: AtomicU64,
    /// The reason of the last refusal, for the dashboard's header.
    pub(super) last_rejection: Mutex<Option<String>>,
}

impl Shared {
    pub(super) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, counter: fn(&Counters) -> &AtomicU64) {
        counter(&self.counters).fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused request and keeps its reason.
    fn reject(&self, reason: &str) {
        self.count(|c| &c.rejected);
        *self
            .counters
            .last_rejection
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
    }

    /// Whether the request carries the token, when one is required.
    fn authorized(&self, req: &Request<Incoming>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .unwrap_or("");
        constant_time_eq(given.trim().as_bytes(), token.as_bytes())
    }
}

/// Compares without stopping at the first difference, so the time taken tells nothing
/// about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in b.iter().enumerate() {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ x);
    }
    diff == 0
}

impl serve::Service for Shared {
    async fn call(self: Arc<Self>, req: Request<Incoming>) -> Response<Reply> {
        if is_grpc(&req) {
            grpc(req, &self).await
        } else {
            http(req, &self).await
        }
    }

    /// (The connection is counted as refused already.)
    fn busy(&self, req: &Request<Incoming>) -> Response<Reply> {
        if is_grpc(req) {
            grpc_unavailable()
        } else {
            http_unavailable(Encoding::of(req).unwrap_or(Encoding::Protobuf))
        }
    }
}

fn is_grpc(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/grpc"))
}

// ---------------------------------------------------------------------------------------
// google.rpc.Status, as OTLP answers errors

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// `google.rpc.RetryInfo`: how long to wait before trying again.
#[derive(Clone, PartialEq, Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<prost_types::Duration>,
}

fn retry_info() -> prost_types::Any {
    prost_types::Any {
        type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
        value: RetryInfo {
            retry_delay: Some(prost_types::Duration {
                seconds: RETRY_AFTER.as_secs() as i64,
                nanos: 0,
            }),
        }
        .encode_to_vec(),
    }
}

/// The gRPC status codes the receiver answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    Ok = 0,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

// ---------------------------------------------------------------------------------------
// HTTP

#[derive(Clone, Copy, PartialEq, Eq)]
enum Signal {
    Metrics,
    Traces,
    Logs,
}

/// The encoding of an OTLP/HTTP request, which its answer uses too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// From the request's `Content-Type`; `None` for another type.
    fn of(req: &Request<Incoming>) -> Option<Encoding> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case(PROTOBUF)
            || media.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Encoding::Protobuf)
        } else if media.eq_ignore_ascii_case(JSON) {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => PROTOBUF,
            Encoding::Json => JSON,
        }
    }
}

/// An OTLP/HTTP answer: `status`, and the body in `encoding`.
fn answer(status: StatusCode, encoding: Encoding, body: Vec<u8>) -> Response<Reply> {
    let mut r = Response::new(Reply::bytes(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    r
}

/// An OTLP/HTTP error: `status`, with a `google.rpc.Status` saying why, in `encoding`.
fn refusal(status: StatusCode, code: Code, message: &str, encoding: Encoding) -> Response<Reply> {
    let body = match encoding {
        Encoding::Protobuf => RpcStatus {
            code: code as i32,
            message: message.to_owned(),
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::json!({ "code": code as i32, "message": message })
            .to_string()
            .into_bytes(),
    };
    answer(status, encoding, body)
}

fn http_unavailable(encoding: Encoding) -> Response<Reply> {
    let mut r = refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        Code::Unavailable,
        "the receiver is busy: try again",
        encoding,
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(RETRY_AFTER.as_secs()),
    );
    r
}

/// An HTTP refusal that also counts as rejected, with its reason kept.
fn rejected(
    shared: &Shared,
    status: StatusCode,
    code: Code,
    message: &str,
    encoding: Encoding,
) -> Response<Reply> {
    shared.reject(message);
    refusal(status, code, message, encoding)
}

/// An answer given instead of reading on: boxed, as it is the rare path.
type Refusal = Box<Response<Reply>>;

async fn http(req: Request<Incoming>, shared: &Shared) -> Response<Reply> {
    let received = tokio::time::Instant::now();
    let (signal, encoding, gzipped) = match http_head(&req, shared) {
        Ok(head) => head,
        Err(refused) => return *refused,
    };
    let deadline = received + shared.body_timeout;
    let read = body::read_body(
        req.into_body(),
        shared.max_request_bytes,
        deadline,
        &shared.budget,
        |_| Ok::<(), std::convert::Infallible>(()),
    )
    .await;
    let read = match read {
        Ok(read) => read,
        Err(ReadError::Body(e)) => return body_refused(shared, e, encoding),
        Err(ReadError::Check(never)) => match never {},
    };
    let bytes = match http_inflate(&read.bytes, gzipped, shared, encoding) {
        Ok(bytes) => bytes,
        Err(refused) => return *refused,
    };
    if signal != Signal::Metrics {
        // Traces and logs are welcome (senders often export all three to one endpoint),
        // but the dashboard shows metrics only.
        shared.count(|c| &c.ignored);
        return answer(StatusCode::OK, encoding, empty_response(encoding));
    }
    let request = match decode(&bytes, encoding) {
        Ok(r) => r,
        Err(message) => {
            return rejected(
                shared,
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                &message,
                encoding,
            );
        }
    };
    if gzipped {
        shared.count(|c| &c.gzip);
    }
    if encoding == Encoding::Json {
        shared.count(|c| &c.json);
    }
    answer(StatusCode::OK, encoding, ingest(request, shared, encoding))
}

/// What the head of an OTLP/HTTP request says, or the refusal it gets before its body is
/// read: the path and method, the token, the content type and encoding, the declared
/// length.
fn http_head(
    req: &Request<Incoming>,
    shared: &Shared,
) -> Result<(Signal, Encoding, bool), Refusal> {
    let encoding = Encoding::of(req);
    let answer_in = encoding.unwrap_or(Encoding::Protobuf);
    let signal = match req.uri().path() {
        "/v1/metrics" => Signal::Metrics,
        "/v1/traces" => Signal::Traces,
        "/v1/logs" => Signal::Logs,
        path => {
            let message = format!(
                "nothing at {path}: OTLP/HTTP metrics go to POST /v1/metrics (gRPC: {GRPC_METRICS})"
            );
            return Err(Box::new(refusal(
                StatusCode::NOT_FOUND,
                Code::NotFound,
                &message,
                answer_in,
            )));
        }
    };
    if req.method() != Method::POST {
        let mut r = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unimplemented,
            "use POST",
            answer_in,
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Err(Box::new(r));
    }
    if !shared.authorized(req) {
        let mut r = rejected(
            shared,
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            "this receiver needs a token: send it as `Authorization: Bearer TOKEN` (OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20TOKEN)",
            answer_in,
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Err(Box::new(r));
    }
    let Some(encoding) = encoding else {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| format!("Content-Type {}", v.to_str().unwrap_or("?")))
            .unwrap_or_else(|| "no Content-Type".into());
        return Err(Box::new(rejected(
            shared,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            &format!(
                "{content_type}: OTLP/HTTP is {PROTOBUF} or {JSON} (or use gRPC); set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
            ),
            answer_in,
        )));
    };
    let gzipped = content_encoding(req.headers()).map_err(|other| {
        Box::new(rejected(
            shared,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidArgument,
            &format!(
                "Content-Encoding {other} is not supported: use gzip or none (OTEL_EXPORTER_OTLP_COMPRESSION)"
            ),
            encoding,
        ))
    })?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_request_bytes as u64) {
        return Err(Box::new(too_large_http(shared, encoding)));
    }
    Ok((signal, encoding, gzipped))
}

/// The body as it is, or inflated from gzip within the size limit.
fn http_inflate<'a>(
    body: &'a [u8],
    gzipped: bool,
    shared: &Shared,
    encoding: Encoding,
) -> Result<std::borrow::Cow<'a, [u8]>, Refusal> {
    if !gzipped {
        return Ok(std::borrow::Cow::Borrowed(body));
    }
    match body::gunzip(body, shared.max_request_bytes) {
        Ok(b) => Ok(std::borrow::Cow::Owned(b)),
        Err(InflateError::TooLarge) => Err(Box::new(too_large_http(shared, encoding))),
        Err(InflateError::Corrupt(e)) => Err(Box::new(rejected(
            shared,
            StatusCode::BAD_REQUEST,
            Code::InvalidArgument,
            &format!("the gzip body does not inflate: {e}"),
            encoding,
        ))),
    }
}

/// Whether the body is gzip (`Ok(true)`), plain (`Ok(false)`), or in an encoding the
/// receiver does not read.
fn content_encoding(headers: &HeaderMap) -> Result<bool, String> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => Ok(false),
        Some(e) if e.is_empty() || e == "identity" => Ok(false),
        Some(e) if e == "gzip" || e == "x-gzip" => Ok(true),
        Some(other) => Err(other),
    }
}

fn too_large_http(shared: &Shared, encoding: Encoding) -> Response<Reply> {
    rejected(
        shared,
        StatusCode::PAYLOAD_TOO_LARGE,
        Code::ResourceExhausted,
        &too_large_message(shared.max_request_bytes),
        encoding,
    )
}

fn too_large_message(limit: usize) -> String {
    format!(
        "the request is over the receiver's limit of {limit} bytes (after decompression): export more often or raise the limit"
    )
}

/// The answer to a body that could not be read.
fn body_refused(shared: &Shared, e: BodyError, encoding: Encoding) -> Response<Reply> {
    match e {
        BodyError::TooLarge => too_large_http(shared, encoding),
        BodyError::Busy => {
            shared.count(|c| &c.dropped);
            http_unavailable(encoding)
        }
        BodyError::Slow => {
            shared.connections.count(|c| &c.slow_bodies);
            let mut r = rejected(
                shared,
                StatusCode::REQUEST_TIMEOUT,
                Code::DeadlineExceeded,
                &slow_message(shared.body_timeout),
                encoding,
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
        BodyError::Broken(e) => rejected(
            shared,
            StatusCode::BAD_REQUEST,
            Code::InvalidArgument,
            &format!("reading the body failed: {e}"),
            encoding,
        ),
    }
}

fn slow_message(timeout: Duration) -> String {
    format!(
        "the request body did not arrive whole within {}s: the connection is closed",
        timeout.as_secs_f64()
    )
}

/// An empty `Export*ServiceResponse` (traces and logs, accepted and ignored).
fn empty_response(encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => Vec::new(),
        Encoding::Json => b"{}".to_vec(),
    }
}

/// A request body as the receiver reads it (inflated if `gzip`, then decoded from protobuf
/// or JSON). For the benchmarks; not a public API.
pub(super) fn decode_for_bench(
    body: &[u8],
    gzip: bool,
    json: bool,
) -> Result<ExportMetricsServiceRequest, String> {
    let inflated;
    let bytes = if gzip {
        inflated = body::gunzip(body, usize::MAX / 2).map_err(|e| format!("{e:?}"))?;
        &inflated[..]
    } else {
        body
    };
    decode(
        bytes,
        if json {
            Encoding::Json
        } else {
            Encoding::Protobuf
        },
    )
}

/// Decodes a metrics request, or says why it cannot.
fn decode(bytes: &[u8], encoding: Encoding) -> Result<ExportMetricsServiceRequest, String> {
    match encoding {
        Encoding::Protobuf => ExportMetricsServiceRequest::decode(bytes)
            .map_err(|e| format!("malformed ExportMetricsServiceRequest: {e}")),
        Encoding::Json => crate::receive::json::decode_request(bytes),
    }
}

/// Stores one metrics request; the encoded response, with a partial success when some of
/// its points were refused.
fn ingest(request: ExportMetricsServiceRequest, shared: &Shared, encoding: Encoding) -> Vec<u8> {
    let now = shared.started.elapsed();
    let outcome = shared.store().ingest(&request, now);
    shared.count(|c| &c.accepted);
    // The request goes to the recorder's thread whole: its JSON is written there.
    if let Some(r) = &shared.recorder {
        r.record(request);
    }
    let refused = outcome.refused();
    if refused == 0 {
        return empty_response(encoding);
    }
    let message = format!(
        "{} points over the receiver's series cap, {} points that could not be read",
        outcome.overflow, outcome.invalid
    );
    *shared
        .counters
        .last_rejection
        .lock()
        .unwrap_or_else(PoisonError::into_inner) =
        Some(format!("{refused} points refused: {message}"));
    let rejected = i64::try_from(refused).unwrap_or(i64::MAX);
    match encoding {
        Encoding::Protobuf => {
            use opentelemetry_proto::tonic::collector::metrics::v1::{
                ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
            };
            ExportMetricsServiceResponse {
                partial_success: Some(ExportMetricsPartialSuccess {
                    rejected_data_points: rejected,
                    error_message: message,
                }),
            }
            .encode_to_vec()
        }
        // int64 is a string in OTLP's JSON.
        Encoding::Json => serde_json::json!({
            "partialSuccess": {
                "rejectedDataPoints": rejected.to_string(),
                "errorMessage": message,
            }
        })
        .to_string()
        .into_bytes(),
    }
}

// ---------------------------------------------------------------------------------------
// gRPC

/// A gRPC response: HTTP 200, `content-type: application/grpc`, then either a message and
/// `grpc-status: 0` in trailers, or (trailers-only) the status in the headers. Every answer
/// says which compressions the receiver reads.
fn grpc_reply(code: Code, message: &str, payload: Option<&[u8]>) -> Response<Reply> {
    grpc_reply_with(code, message, payload, Vec::new())
}

fn grpc_reply_with(
    code: Code,
    message: &str,
    payload: Option<&[u8]>,
    details: Vec<prost_types::Any>,
) -> Response<Reply> {
    let mut status = HeaderMap::new();
    status.insert("grpc-status", HeaderValue::from(code as u16));
    if !message.is_empty()
        && let Ok(v) = HeaderValue::from_str(&percent_encode(message))
    {
        status.insert("grpc-message", v);
    }
    if !details.is_empty() {
        let encoded = RpcStatus {
            code: code as i32,
            message: message.to_owned(),
            details,
        }
        .encode_to_vec();
        if let Ok(v) = HeaderValue::from_str(&base64_unpadded(&encoded)) {
            status.insert("grpc-status-details-bin", v);
        }
    }
    let mut r = match payload {
        Some(p) => {
            let mut framed = BytesMut::with_capacity(5 + p.len());
            framed.extend_from_slice(&[0]);
            framed.extend_from_slice(&(p.len() as u32).to_be_bytes());
            framed.extend_from_slice(p);
            Response::new(Reply {
                data: Some(framed.freeze()),
                trailers: Some(status),
            })
        }
        None => {
            let mut r = Response::new(Reply::default());
            r.headers_mut().extend(status);
            r
        }
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    r.headers_mut().insert(
        "grpc-accept-encoding",
        HeaderValue::from_static(GRPC_ACCEPT_ENCODING),
    );
    r
}

/// UNAVAILABLE with `RetryInfo`: busy, try again in a second.
fn grpc_unavailable() -> Response<Reply> {
    grpc_reply_with(
        Code::Unavailable,
        "the receiver is busy: try again",
        None,
        vec![retry_info()],
    )
}

/// Base64 without padding, as gRPC's `-bin` metadata is written.
fn base64_unpadded(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(data)
}

/// gRPC's `grpc-message` encoding: printable ASCII but `%` as is, the rest `%XX`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A gRPC refusal that counts as rejected, with its reason kept.
fn grpc_rejected(shared: &Shared, code: Code, message: &str) -> Response<Reply> {
    shared.reject(message);
    grpc_reply(code, message, None)
}

async fn grpc(req: Request<Incoming>, shared: &Shared) -> Response<Reply> {
    let received = tokio::time::Instant::now();
    let signal = match grpc_head(&req, shared) {
        Ok(signal) => signal,
        Err(refused) => return *refused,
    };
    let encoding = req
        .headers()
        .get("grpc-encoding")
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let limit = shared.max_request_bytes;
    let mut declared = None;
    let read = body::read_body(
        req.into_body(),
        limit.saturating_add(5),
        received + shared.body_timeout,
        &shared.budget,
        |buf| check_frame(buf, &mut declared, limit, encoding.as_deref()),
    )
    .await;
    let read = match read {
        Ok(read) => read,
        Err(e) => return grpc_read_refused(shared, e),
    };
    let message = match whole_message(&read.bytes, declared) {
        Ok(m) => m,
        Err(message) => return grpc_rejected(shared, Code::InvalidArgument, &message),
    };
    let compressed = read.bytes[0] == 1;
    let inflated;
    let message: &[u8] = if compressed {
        match body::gunzip(&message, limit) {
            Ok(m) => {
                inflated = m;
                &inflated
            }
            Err(InflateError::TooLarge) => {
                return grpc_rejected(shared, Code::ResourceExhausted, &too_large_message(limit));
            }
            Err(InflateError::Corrupt(e)) => {
                return grpc_rejected(
                    shared,
                    Code::InvalidArgument,
                    &format!("the gzip message does not inflate: {e}"),
                );
            }
        }
    } else {
        &message
    };
    if signal != Signal::Metrics {
        shared.count(|c| &c.ignored);
        // The Export responses of traces and logs, empty: zero bytes of protobuf.
        return grpc_reply(Code::Ok, "", Some(&[]));
    }
    match decode(message, Encoding::Protobuf) {
        Ok(request) => {
            if compressed {
                shared.count(|c| &c.gzip);
            }
            grpc_reply(
                Code::Ok,
                "",
                Some(&ingest(request, shared, Encoding::Protobuf)),
            )
        }
        Err(message) => grpc_rejected(shared, Code::InvalidArgument, &message),
    }
}

/// The signal a gRPC call is for, or its refusal before its body is read: the method and
/// the token.
fn grpc_head(req: &Request<Incoming>, shared: &Shared) -> Result<Signal, Refusal> {
    let path = req.uri().path();
    let signal = match path {
        GRPC_METRICS => Signal::Metrics,
        GRPC_TRACES => Signal::Traces,
        GRPC_LOGS => Signal::Logs,
        _ => {
            let message = format!("unknown method {path}: this receiver serves {GRPC_METRICS}");
            return Err(Box::new(grpc_rejected(
                shared,
                Code::Unimplemented,
                &message,
            )));
        }
    };
    if req.method() != Method::POST {
        return Err(Box::new(grpc_rejected(
            shared,
            Code::Unimplemented,
            "gRPC calls are POST requests",
        )));
    }
    if !shared.authorized(req) {
        return Err(Box::new(grpc_rejected(
            shared,
            Code::Unauthenticated,
            "this receiver needs a token: send it as `authorization: Bearer TOKEN` metadata",
        )));
    }
    Ok(signal)
}

/// The answer to a gRPC body that could not be read whole.
fn grpc_read_refused(shared: &Shared, e: ReadError<(Code, String)>) -> Response<Reply> {
    match e {
        ReadError::Check((code, message)) => grpc_rejected(shared, code, &message),
        ReadError::Body(BodyError::TooLarge) => grpc_rejected(
            shared,
            Code::ResourceExhausted,
            &too_large_message(shared.max_request_bytes),
        ),
        ReadError::Body(BodyError::Busy) => {
            shared.count(|c| &c.dropped);
            grpc_unavailable()
        }
        ReadError::Body(BodyError::Slow) => {
            shared.connections.count(|c| &c.slow_bodies);
            grpc_rejected(
                shared,
                Code::DeadlineExceeded,
                &slow_message(shared.body_timeout),
            )
        }
        ReadError::Body(BodyError::Broken(e)) => grpc_rejected(
            shared,
            Code::InvalidArgument,
            &format!("reading the request failed: {e}"),
        ),
    }
}

/// The message of a unary call's body, whose prefix `check_frame` has read.
fn whole_message(buf: &Bytes, declared: Option<usize>) -> Result<Bytes, String> {
    match declared {
        Some(len) if buf.len() == 5 + len => Ok(buf.slice(5..)),
        Some(len) => Err(format!(
            "truncated gRPC frame: {} of {len} bytes",
            buf.len().saturating_sub(5)
        )),
        None => Err(format!(
            "truncated gRPC frame: {} bytes, no message",
            buf.len()
        )),
    }
}

/// Checks what has arrived of a call's body: once the prefix is complete, its compression
/// flag (gzip, if the call says `grpc-encoding: gzip`) and its declared length (refused
/// over `limit` before the rest is read); and that nothing follows the message.
fn check_frame(
    buf: &[u8],
    declared: &mut Option<usize>,
    limit: usize,
    encoding: Option<&str>,
) -> Result<(), (Code, String)> {
    if declared.is_none() && buf.len() >= 5 {
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        match (buf[0], encoding) {
            (0, _) | (1, Some("gzip")) => {}
            // gRPC's protocol calls this an INTERNAL error.
            (1, None | Some("identity")) => {
                return Err((
                    Code::Internal,
                    "a compressed message without grpc-encoding".into(),
                ));
            }
            (1, Some(other)) => {
                return Err((
                    Code::Unimplemented,
                    format!(
                        "grpc-encoding {other} is not supported: use gzip or none (OTEL_EXPORTER_OTLP_COMPRESSION)"
                    ),
                ));
            }
            (flag, _) => {
                return Err((
                    Code::InvalidArgument,
                    format!("bad gRPC frame: compression flag {flag}"),
                ));
            }
        }
        if len > limit {
            return Err((
                Code::ResourceExhausted,
                format!(
                    "a message of {len} bytes is over the receiver's limit of {limit} bytes: export more often or raise the limit"
                ),
            ));
        }
        *declared = Some(len);
    }
    if let Some(len) = *declared
        && buf.len() > 5 + len
    {
        return Err((
            Code::InvalidArgument,
            "more than one message in a unary call".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_without_padding() {
        assert_eq!(base64_unpadded(b""), "");
        assert_eq!(base64_unpadded(b"f"), "Zg");
        assert_eq!(base64_unpadded(b"fo"), "Zm8");
        assert_eq!(base64_unpadded(b"foo"), "Zm9v");
        assert_eq!(base64_unpadded(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_unpadded(&[0xff, 0xfe]), "//4");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"secretx", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(!constant_time_eq(b"Secret", b"secret"));
    }
}
