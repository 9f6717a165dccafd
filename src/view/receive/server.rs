//! The listeners: one hyper service (HTTP/1.1 and HTTP/2 on either port) that answers OTLP
//! over HTTP/protobuf and over gRPC, framed by hand so every refusal has the right code.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame as BodyFrame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use super::store::Store;

const GRPC_METRICS: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const GRPC_TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const GRPC_LOGS: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
const PROTOBUF: &str = "application/x-protobuf";

/// What the server threads and the [`Receiver`](super::Receiver) share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) store: Mutex<Store>,
    pub(super) started: Instant,
    pub(super) max_request_bytes: usize,
    pub(super) permits: Semaphore,
    /// One permit per open connection.
    pub(super) connections: Arc<Semaphore>,
    pub(super) idle_timeout: Duration,
    pub(super) counters: Counters,
}

/// Request counters, kept outside the store's lock.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) accepted: AtomicU64,
    pub(super) ignored: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) refused_connections: AtomicU64,
    pub(super) timed_out_connections: AtomicU64,
}

impl Shared {
    pub(super) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, counter: fn(&Counters) -> &AtomicU64) {
        counter(&self.counters).fetch_add(1, Ordering::Relaxed);
    }
}

/// Serves both listeners until `stop` fires. Runs on the receiver's thread.
pub(super) fn run(
    listeners: Vec<std::net::TcpListener>,
    shared: Arc<Shared>,
    stop: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let Some(runtime) = crate::background::runtime(&ready, "receiver") else {
        return;
    };
    runtime.block_on(async move {
        let mut tokio_listeners = Vec::new();
        for l in listeners {
            match TcpListener::from_std(l) {
                Ok(l) => tokio_listeners.push(l),
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            }
        }
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // HTTP/1: a request head must arrive whole within the idle timeout, counted from
        // the connection's start or its previous request.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(shared.idle_timeout);
        // HTTP/2: a peer that stops answering pings is closed.
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(shared.idle_timeout)
            .keep_alive_timeout(shared.idle_timeout);
        for listener in tokio_listeners {
            tokio::spawn(accept(listener, builder.clone(), Arc::clone(&shared)));
        }
        let _ = ready.send(Ok(()));
        let _ = stop.await;
    });
}

async fn accept(listener: TcpListener, builder: auto::Builder<TokioExecutor>, shared: Arc<Shared>) {
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
        // Beyond the cap a connection is closed at once: OTLP senders retry.
        let Ok(permit) = Arc::clone(&shared.connections).try_acquire_owned() else {
            shared.count(|c| &c.refused_connections);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _permit = permit;
            // A connection that sends nothing at all never reaches the HTTP/1 head timeout
            // (the protocol is not known yet): it has the same time for its first byte.
            let mut byte = [0u8; 1];
            match tokio::time::timeout(shared.idle_timeout, stream.peek(&mut byte)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => return,
                Err(_) => {
                    shared.count(|c| &c.timed_out_connections);
                    return;
                }
            }
            let timed_out = Arc::clone(&shared);
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(req, &shared).await) }
            });
            // A connection that fails (a client that goes away, a protocol error, a head
            // that did not arrive in time) ends here and affects no other.
            if let Err(e) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
                && e.downcast_ref::<hyper::Error>()
                    .is_some_and(hyper::Error::is_timeout)
            {
                timed_out.count(|c| &c.timed_out_connections);
            }
        });
    }
}

/// A response body: one data frame, then optional trailers (gRPC's status).
#[derive(Debug, Default)]
pub(super) struct Reply {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
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

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Reply> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/grpc") {
        return grpc(req, shared).await;
    }
    http(req, shared).await
}

// ---------------------------------------------------------------------------------------
// HTTP/protobuf

#[derive(Clone, Copy, PartialEq, Eq)]
enum Signal {
    Metrics,
    Traces,
    Logs,
}

fn text(status: StatusCode, message: impl Into<String>) -> Response<Reply> {
    let mut body = message.into();
    body.push('\n');
    let mut r = Response::new(Reply {
        data: Some(Bytes::from(body)),
        trailers: None,
    });
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn protobuf(body: Vec<u8>) -> Response<Reply> {
    let mut r = Response::new(Reply {
        data: Some(Bytes::from(body)),
        trailers: None,
    });
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
    r
}

async fn http(req: Request<Incoming>, shared: &Shared) -> Response<Reply> {
    let signal = match req.uri().path() {
        "/v1/metrics" => Signal::Metrics,
        "/v1/traces" => Signal::Traces,
        "/v1/logs" => Signal::Logs,
        path => {
            return text(
                StatusCode::NOT_FOUND,
                format!(
                    "nothing at {path}: OTLP/HTTP metrics go to POST /v1/metrics (gRPC: {GRPC_METRICS})"
                ),
            );
        }
    };
    if req.method() != Method::POST {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "use POST");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    if let Some(refusal) = refuse_http_headers(&req, shared.max_request_bytes) {
        shared.count(|c| &c.rejected);
        return refusal;
    }
    let Ok(_permit) = shared.permits.try_acquire() else {
        shared.count(|c| &c.dropped);
        // Read the body and throw it away, without holding it: answering before the sender
        // has written it all would break the connection under it, and the sender would see
        // a broken pipe instead of this 503.
        let mut body = req.into_body();
        let mut read = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |d| d.len());
            if read > shared.max_request_bytes {
                break;
            }
        }
        let mut r = text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the receiver is busy: try again",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let body = match Limited::new(req.into_body(), shared.max_request_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            shared.count(|c| &c.rejected);
            return too_large(shared.max_request_bytes);
        }
        Err(e) => {
            shared.count(|c| &c.rejected);
            return text(
                StatusCode::BAD_REQUEST,
                format!("reading the body failed: {e}"),
            );
        }
    };
    if signal != Signal::Metrics {
        // Traces and logs are welcome (senders often export all three to one endpoint),
        // but the dashboard shows metrics only.
        shared.count(|c| &c.ignored);
        return protobuf(Vec::new());
    }
    match ingest(&body, shared) {
        Ok(response) => protobuf(response),
        Err(message) => {
            shared.count(|c| &c.rejected);
            text(StatusCode::BAD_REQUEST, message)
        }
    }
}

fn too_large(limit: usize) -> Response<Reply> {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is over the receiver's limit of {limit} bytes: export more often or raise the limit"
        ),
    )
}

/// The refusals that the headers alone decide: compression, content type, declared size.
fn refuse_http_headers(req: &Request<Incoming>, limit: usize) -> Option<Response<Reply>> {
    let headers = req.headers();
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    if let Some(encoding) = encoding.filter(|e| !e.is_empty() && e != "identity") {
        return Some(text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Encoding {encoding} is not supported: turn compression off in the exporter (OTEL_EXPORTER_OTLP_COMPRESSION=none)"
            ),
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"))
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(PROTOBUF) && !media.eq_ignore_ascii_case("application/protobuf")
    {
        let got = if content_type.is_empty() {
            "no Content-Type".to_owned()
        } else {
            format!("Content-Type {content_type}")
        };
        return Some(text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "{got}: only OTLP http/protobuf (Content-Type: {PROTOBUF}) or grpc is supported; set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
            ),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Some(too_large(limit));
    }
    None
}

/// Decodes and stores one metrics request; the encoded response, or why it was refused.
fn ingest(body: &[u8], shared: &Shared) -> Result<Vec<u8>, String> {
    let request = ExportMetricsServiceRequest::decode(body)
        .map_err(|e| format!("malformed ExportMetricsServiceRequest: {e}"))?;
    let now = shared.started.elapsed();
    let outcome = shared.store().ingest(&request, now);
    shared.count(|c| &c.accepted);
    let refused = outcome.refused();
    let partial_success = (refused > 0).then(|| ExportMetricsPartialSuccess {
        rejected_data_points: i64::try_from(refused).unwrap_or(i64::MAX),
        error_message: format!(
            "{} points over the receiver's series cap, {} points that could not be read",
            outcome.overflow, outcome.invalid
        ),
    });
    Ok(ExportMetricsServiceResponse { partial_success }.encode_to_vec())
}

// ---------------------------------------------------------------------------------------
// gRPC

/// The gRPC status codes the receiver answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    Ok = 0,
    InvalidArgument = 3,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Unavailable = 14,
}

/// A gRPC response: HTTP 200, `content-type: application/grpc`, then either a message and
/// `grpc-status: 0` in trailers, or (trailers-only) the status in the headers.
fn grpc_reply(code: Code, message: &str, payload: Option<&[u8]>) -> Response<Reply> {
    let mut status = HeaderMap::new();
    status.insert("grpc-status", HeaderValue::from(code as u16));
    if !message.is_empty()
        && let Ok(v) = HeaderValue::from_str(&percent_encode(message))
    {
        status.insert("grpc-message", v);
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
    r
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

async fn grpc(req: Request<Incoming>, shared: &Shared) -> Response<Reply> {
    let path = req.uri().path();
    let signal = match path {
        GRPC_METRICS => Signal::Metrics,
        GRPC_TRACES => Signal::Traces,
        GRPC_LOGS => Signal::Logs,
        _ => {
            shared.count(|c| &c.rejected);
            return grpc_reply(
                Code::Unimplemented,
                &format!("unknown method {path}: this receiver serves {GRPC_METRICS}"),
                None,
            );
        }
    };
    if req.method() != Method::POST {
        shared.count(|c| &c.rejected);
        return grpc_reply(Code::Unimplemented, "gRPC calls are POST requests", None);
    }
    let Ok(_permit) = shared.permits.try_acquire() else {
        shared.count(|c| &c.dropped);
        return grpc_reply(Code::Unavailable, "the receiver is busy: try again", None);
    };
    let message = match read_message(req.into_body(), shared.max_request_bytes).await {
        Ok(m) => m,
        Err((code, message)) => {
            shared.count(|c| &c.rejected);
            return grpc_reply(code, &message, None);
        }
    };
    if signal != Signal::Metrics {
        shared.count(|c| &c.ignored);
        // The Export responses of traces and logs, empty: zero bytes of protobuf.
        return grpc_reply(Code::Ok, "", Some(&[]));
    }
    match ingest(&message, shared) {
        Ok(response) => grpc_reply(Code::Ok, "", Some(&response)),
        Err(message) => {
            shared.count(|c| &c.rejected);
            grpc_reply(Code::InvalidArgument, &message, None)
        }
    }
}

/// Reads the one length-prefixed message of a unary call. Refuses, without reading the
/// rest, a message declared over `limit` or compressed.
async fn read_message(mut body: Incoming, limit: usize) -> Result<Bytes, (Code, String)> {
    let mut buf = BytesMut::new();
    let mut declared: Option<usize> = None;
    loop {
        check_frame(&buf, &mut declared, limit)?;
        match body.frame().await {
            None => break,
            Some(Err(e)) => {
                return Err((
                    Code::InvalidArgument,
                    format!("reading the request failed: {e}"),
                ));
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
    check_frame(&buf, &mut declared, limit)?;
    match declared {
        Some(len) if buf.len() == 5 + len => Ok(buf.freeze().split_off(5)),
        Some(len) => Err((
            Code::InvalidArgument,
            format!(
                "truncated gRPC frame: {} of {len} bytes",
                buf.len().saturating_sub(5)
            ),
        )),
        None => Err((
            Code::InvalidArgument,
            format!("truncated gRPC frame: {} bytes, no message", buf.len()),
        )),
    }
}

/// Checks what has arrived of a call's body: the prefix once it is complete (compression
/// flag, declared length), and that nothing follows the message.
fn check_frame(
    buf: &[u8],
    declared: &mut Option<usize>,
    limit: usize,
) -> Result<(), (Code, String)> {
    if declared.is_none() && buf.len() >= 5 {
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        match buf[0] {
            0 => {}
            1 => {
                return Err((
                    Code::Unimplemented,
                    "compressed messages are not supported: turn compression off in the exporter (OTEL_EXPORTER_OTLP_COMPRESSION=none)".into(),
                ));
            }
            flag => {
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
