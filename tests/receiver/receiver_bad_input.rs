//! The OTLP receiver refuses what it cannot use with the code each protocol expects, counts
//! it, and goes on serving: malformed protobuf, truncated and oversized gRPC frames,
//! compressed and JSON bodies, unknown paths, a taken port, too many requests at once.
#![cfg(feature = "receiver")]

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::support::otlp::kv;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::{HeaderMap, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use taskscope::Outcome;
use taskscope::frame::{Frame as ViewFrame, SeriesKind};
use taskscope::receive::{Listener, ReceiveError, Receiver};

const METRICS: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const LIMIT: usize = 4096;

type AnyBody = BoxBody<Bytes, Infallible>;

fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

fn receiver() -> Receiver {
    Receiver::builder()
        .with_grpc_addr(loopback())
        .with_http_addr(loopback())
        .with_max_request_bytes(LIMIT)
        .start()
        .expect("the receiver starts")
}

/// A valid request: `ok` calls of `function` in service `bad-input-test`.
fn good_request(function: &str, ok: i64) -> ExportMetricsServiceRequest {
    let point = NumberDataPoint {
        attributes: vec![
            kv("function", function),
            kv("module", "tests"),
            kv("outcome", "ok"),
        ],
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        value: Some(number_data_point::Value::AsInt(ok)),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "bad-input-test")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "function.calls".into(),
                    unit: "{call}".into(),
                    data: Some(Data::Sum(Sum {
                        data_points: vec![point],
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

fn calls_of(frame: &ViewFrame, function: &str) -> Option<u64> {
    frame
        .series
        .iter()
        .find(|s| s.kind == SeriesKind::Function && &*s.function == function)
        .map(|s| s.calls[Outcome::Ok])
}

fn full(bytes: impl Into<Bytes>) -> AnyBody {
    Full::new(bytes.into()).boxed()
}

/// A body that sends its first bytes, then never ends (a slow or stuck sender).
struct Stalled(Option<Bytes>);

impl Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.0.take() {
            Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
            None => Poll::Pending,
        }
    }
}

fn connector() -> HttpConnector {
    let mut c = HttpConnector::new();
    // Without it, a body written after its headers waits for a delayed ACK (40 ms).
    c.set_nodelay(true);
    c
}

fn http1() -> Client<HttpConnector, AnyBody> {
    Client::builder(TokioExecutor::new()).build(connector())
}

fn http2() -> Client<HttpConnector, AnyBody> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(connector())
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `grpc-status` from the trailers, or from the headers of a trailers-only answer.
    fn grpc_status(&self) -> Option<u32> {
        let h = self.trailers.as_ref().unwrap_or(&self.headers);
        h.get("grpc-status")?.to_str().ok()?.parse().ok()
    }

    fn grpc_message(&self) -> String {
        let h = self.trailers.as_ref().unwrap_or(&self.headers);
        h.get("grpc-message")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

async fn send(
    client: &Client<HttpConnector, AnyBody>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: AnyBody,
) -> Answer {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let fut = client.request(req.body(body).unwrap());
    let response = tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("an answer within 20 s")
        .expect("the request is answered");
    let status = response.status();
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    Answer {
        status,
        headers,
        trailers: collected.trailers().cloned(),
        body: collected.to_bytes(),
    }
}

/// `google.rpc.Status`, as the receiver answers errors over OTLP/HTTP.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn rpc_status(body: &[u8]) -> RpcStatus {
    RpcStatus::decode(body).expect("a google.rpc.Status")
}

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");
const GRPC: (&str, &str) = ("content-type", "application/grpc");

async fn post_metrics(
    client: &Client<HttpConnector, AnyBody>,
    addr: SocketAddr,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    send(client, addr, "POST", "/v1/metrics", headers, full(body)).await
}

fn framed(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![flag];
    v.extend_from_slice(&declared.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

async fn grpc(addr: SocketAddr, path: &str, body: AnyBody) -> Answer {
    let a = send(&http2(), addr, "POST", path, &[GRPC], body).await;
    assert_eq!(a.status, StatusCode::OK, "gRPC answers are HTTP 200");
    assert_eq!(a.headers["content-type"], "application/grpc");
    a
}

/// An HTTP/1.1 request with a chunked body (no Content-Length), over a plain socket; the
/// status code of the answer.
fn chunked_post(addr: SocketAddr, chunks: usize, chunk: usize) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = "POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\n\r\n";
    s.write_all(head.as_bytes()).unwrap();
    let data = vec![0x0a; chunk];
    for _ in 0..chunks {
        // The server may answer and stop reading before the end: ignore write errors.
        if s.write_all(format!("{chunk:x}\r\n").as_bytes()).is_err()
            || s.write_all(&data).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut answer = [0u8; 12];
    s.read_exact(&mut answer).unwrap();
    std::str::from_utf8(&answer[9..12])
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn http_refusals_then_a_good_request() {
    if crate::support::alone(module_path!(), "http_refusals_then_a_good_request") {
        return;
    }
    let r = receiver();
    let addr = r.http_addr().unwrap();
    let c = http1();

    // Errors are a google.rpc.Status in the request's encoding.
    let a = post_metrics(&c, addr, &[PROTOBUF], &b"\xff\xff\xff\xff"[..]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_eq!(a.headers["content-type"], "application/x-protobuf");
    let status = rpc_status(&a.body);
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(status.message.contains("malformed"), "{}", status.message);

    let json = [("content-type", "application/json")];
    let a = post_metrics(&c, addr, &json, "{\"resourceMetrics\": 7}").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.headers["content-type"], "application/json");
    let status: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(status["code"], 3);
    assert!(
        status["message"].as_str().unwrap().contains("JSON"),
        "{status}"
    );

    let a = post_metrics(&c, addr, &[("content-type", "text/plain")], "hello").await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(rpc_status(&a.body).message.contains("http/protobuf"));

    let brotli = [PROTOBUF, ("content-encoding", "br")];
    let a = post_metrics(&c, addr, &brotli, vec![1, 2, 3]).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(rpc_status(&a.body).message.contains("gzip"));

    let gzip = [PROTOBUF, ("content-encoding", "gzip")];
    let a = post_metrics(&c, addr, &gzip, vec![0x1f, 0x8b]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "truncated gzip");
    assert!(rpc_status(&a.body).message.contains("inflate"));

    // Too large by its Content-Length, and by what arrives (chunked, no length).
    let a = post_metrics(&c, addr, &[PROTOBUF], vec![0u8; LIMIT + 1]).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text());
    assert_eq!(chunked_post(addr, 64, 1024), 413);

    let a = send(&c, addr, "POST", "/v2/metrics", &[PROTOBUF], full("")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = send(&c, addr, "GET", "/v1/metrics", &[], full("")).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);

    // Traces and logs: accepted, ignored.
    for path in ["/v1/traces", "/v1/logs"] {
        let a = send(&c, addr, "POST", path, &[PROTOBUF], full(vec![0x0a, 0x00])).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.headers["content-type"], "application/x-protobuf");
        assert!(a.body.is_empty());
    }

    // A good request still works, over HTTP/1.1 and over HTTP/2, on either port.
    let good = good_request("after_http_refusals", 5).encode_to_vec();
    let a = post_metrics(&c, addr, &[PROTOBUF], good.clone()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.headers["content-type"], "application/x-protobuf");
    let response = ExportMetricsServiceResponse::decode(a.body).unwrap();
    assert_eq!(response.partial_success, None);
    let h2 = post_metrics(&http2(), addr, &[PROTOBUF], good.clone()).await;
    assert_eq!(h2.status, StatusCode::OK);
    let other_port = post_metrics(&c, r.grpc_addr().unwrap(), &[PROTOBUF], good).await;
    assert_eq!(other_port.status, StatusCode::OK);

    let frame = r.frame();
    assert_eq!(calls_of(&frame, "after_http_refusals"), Some(5));
    assert_eq!(frame.status.rejected, 7, "three 400, two 415, two 413");
    assert!(
        frame
            .status
            .last_rejection
            .as_deref()
            .is_some_and(|r| r.contains("over the receiver's limit")),
        "{:?}",
        frame.status.last_rejection
    );
    assert_eq!(frame.status.dropped, 0);
    assert_eq!(frame.status.connection, "live");
    let stats = r.stats();
    assert_eq!((stats.accepted, stats.ignored, stats.rejected), (3, 2, 7));
}

#[tokio::test]
async fn grpc_refusals_then_a_good_request() {
    if crate::support::alone(module_path!(), "grpc_refusals_then_a_good_request") {
        return;
    }
    let r = receiver();
    let addr = r.grpc_addr().unwrap();

    let a = grpc(addr, METRICS, full(framed(0, 4, b"\xff\xff\xff\xff"))).await;
    assert_eq!(a.grpc_status(), Some(3), "malformed: {}", a.grpc_message());
    assert!(a.grpc_message().contains("malformed"));

    let a = grpc(addr, METRICS, full(framed(0, 100, &[0; 10]))).await;
    assert_eq!(a.grpc_status(), Some(3), "truncated: {}", a.grpc_message());
    assert!(a.grpc_message().contains("truncated"));

    let a = grpc(addr, METRICS, full(vec![0, 0])).await;
    assert_eq!(a.grpc_status(), Some(3), "no whole prefix");

    // Declared over the limit: refused at once, though the rest never comes.
    let stalled = Stalled(Some(framed(0, 10 * LIMIT as u32, &[0; 100]).into())).boxed();
    let a = grpc(addr, METRICS, stalled).await;
    assert_eq!(a.grpc_status(), Some(8), "{}", a.grpc_message());
    assert!(a.grpc_message().contains("limit"));

    // Compressed without saying how: gRPC's protocol error. In an encoding it does not
    // read: UNIMPLEMENTED, naming what it reads (also in every answer's headers).
    let a = grpc(addr, METRICS, full(framed(1, 2, &[0x1f, 0x8b]))).await;
    assert_eq!(a.grpc_status(), Some(13), "compressed, no grpc-encoding");
    let zstd = send(
        &http2(),
        addr,
        "POST",
        METRICS,
        &[GRPC, ("grpc-encoding", "zstd")],
        full(framed(1, 2, &[1, 2])),
    )
    .await;
    assert_eq!(zstd.grpc_status(), Some(12), "{}", zstd.grpc_message());
    assert!(zstd.grpc_message().contains("gzip"));
    assert_eq!(zstd.headers["grpc-accept-encoding"], "gzip");
    // gzip that does not inflate.
    let bad_gzip = send(
        &http2(),
        addr,
        "POST",
        METRICS,
        &[GRPC, ("grpc-encoding", "gzip")],
        full(framed(1, 2, &[0x1f, 0x8b])),
    )
    .await;
    assert_eq!(
        bad_gzip.grpc_status(),
        Some(3),
        "{}",
        bad_gzip.grpc_message()
    );

    let a = grpc(
        addr,
        "/opentelemetry.Unknown/Export",
        full(framed(0, 0, &[])),
    )
    .await;
    assert_eq!(a.grpc_status(), Some(12), "unknown method");

    // Traces: OK with an empty message.
    let a = grpc(addr, TRACES, full(framed(0, 0, &[]))).await;
    assert_eq!(a.grpc_status(), Some(0));
    assert_eq!(&a.body[..], &[0, 0, 0, 0, 0]);

    // A good request, framed by hand.
    let good = good_request("after_grpc_refusals", 7).encode_to_vec();
    let a = grpc(addr, METRICS, full(framed(0, good.len() as u32, &good))).await;
    assert_eq!(a.grpc_status(), Some(0), "{}", a.grpc_message());
    assert!(a.trailers.is_some(), "the status comes in trailers");
    let len = u32::from_be_bytes(a.body[1..5].try_into().unwrap()) as usize;
    assert_eq!(a.body.len(), 5 + len);
    ExportMetricsServiceResponse::decode(&a.body[5..]).unwrap();

    let frame = r.frame();
    assert_eq!(calls_of(&frame, "after_grpc_refusals"), Some(7));
    assert_eq!(frame.status.rejected, 8);
}

/// The good path through tonic's client, as OpenTelemetry SDKs call it.
#[cfg(feature = "otlp")]
#[tokio::test]
async fn grpc_through_tonic() {
    if crate::support::alone(module_path!(), "grpc_through_tonic") {
        return;
    }
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    let r = receiver();
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", r.grpc_addr().unwrap()))
            .unwrap()
            .connect_lazy();
    let mut client = MetricsServiceClient::new(channel);
    // A refusal first: over the limit.
    let big = good_request(&"x".repeat(2 * LIMIT), 1);
    let err = client.export(big).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err}");
    let response = client
        .export(good_request("through_tonic", 3))
        .await
        .expect("the export is accepted")
        .into_inner();
    assert_eq!(response.partial_success, None);
    let frame = r.frame();
    assert_eq!(calls_of(&frame, "through_tonic"), Some(3));
    assert_eq!(frame.status.rejected, 1);
}

#[test]
fn a_taken_port_is_an_error_that_names_it() {
    if crate::support::alone(module_path!(), "a_taken_port_is_an_error_that_names_it") {
        return;
    }
    let taken = std::net::TcpListener::bind(loopback()).unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Receiver::builder()
        .with_grpc_addr(addr)
        .without_http()
        .start()
        .unwrap_err();
    let message = err.to_string();
    match err {
        ReceiveError::Bind {
            addr: a, protocol, ..
        } => {
            assert_eq!((a, protocol), (addr, Listener::Grpc));
        }
        other => panic!("{other:?}"),
    }
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(
        message.contains("in use") && message.contains("--grpc"),
        "{message}"
    );

    let err = Receiver::builder()
        .without_grpc()
        .with_http_addr(addr)
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("(HTTP)"), "{err}");
}

/// Bodies being read share a byte budget (the request limit times the bodies held at once): a
/// request whose body does not fit while others hold it is shed (gRPC UNAVAILABLE with
/// `RetryInfo`, HTTP 503 with `Retry-After`), without waiting. A body that never ends is
/// cut at the body timeout and gives its share back; so does a request that is not even
/// read yet: headers alone hold nothing.
#[tokio::test]
async fn a_spent_budget_sheds_and_slow_bodies_are_cut_off() {
    if crate::support::alone(
        module_path!(),
        "a_spent_budget_sheds_and_slow_bodies_are_cut_off",
    ) {
        return;
    }
    let r = Receiver::builder()
        .with_grpc_addr(loopback())
        .without_http()
        .with_max_request_bytes(64 << 10)
        .with_max_concurrent_requests(2)
        .with_body_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let addr = r.grpc_addr().unwrap();
    // Two requests that send 60 KiB of their body, then stall: the budget is 128 KiB.
    let stall = || {
        tokio::spawn(async move {
            let body = Stalled(Some(framed(0, 64_000, &[0; 60 << 10]).into())).boxed();
            send(&http2(), addr, "POST", METRICS, &[GRPC], body).await
        })
    };
    let stalled = [stall(), stall()];
    // Headers alone hold nothing: a small request still goes through.
    let good = good_request("shed", 1).encode_to_vec();
    let big = vec![0u8; 30 << 10];
    let deadline = Instant::now() + Duration::from_secs(20);
    let shed = loop {
        // Until both stalled bodies are in, a 30 KiB request fits; then it is shed.
        let a = grpc(addr, METRICS, full(framed(0, big.len() as u32, &big))).await;
        if a.grpc_status() == Some(14) {
            break a;
        }
        assert!(Instant::now() < deadline, "never shed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        shed.headers.contains_key("grpc-status-details-bin"),
        "RetryInfo in the status details: {:?}",
        shed.headers
    );
    let a = post_metrics(&http1(), addr, &[PROTOBUF], big.clone()).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.headers["retry-after"], "1");
    let a = grpc(addr, METRICS, full(framed(0, good.len() as u32, &good))).await;
    assert_eq!(
        a.grpc_status(),
        Some(0),
        "a small one fits: {}",
        a.grpc_message()
    );
    // The stalled ones are cut off at the body timeout.
    for s in stalled {
        let answer = s.await.unwrap();
        assert_eq!(answer.grpc_status(), Some(4), "{}", answer.grpc_message());
    }
    let stats = r.stats();
    assert_eq!(stats.slow_bodies, 2);
    assert!(stats.dropped >= 2, "{stats:?}");
    // Their share is back: the big one is read again (and refused as the garbage it is).
    let a = grpc(addr, METRICS, full(framed(0, big.len() as u32, &big))).await;
    assert_eq!(a.grpc_status(), Some(3), "{}", a.grpc_message());
}

/// Random bytes and corrupted requests, over both protocols: every one is answered, the
/// server stays up, and a good request works afterwards.
#[tokio::test]
async fn garbage_never_stops_the_server() {
    if crate::support::alone(module_path!(), "garbage_never_stops_the_server") {
        return;
    }
    let r = Receiver::builder()
        .with_grpc_addr(loopback())
        .with_http_addr(loopback())
        .start()
        .unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let valid = good_request("garbage", 1).encode_to_vec();
    let (c1, c2) = (http1(), http2());
    for i in 0..200 {
        let mut body = if i % 2 == 0 {
            (0..next() % 300).map(|_| next() as u8).collect::<Vec<u8>>()
        } else {
            valid.clone()
        };
        if i % 2 == 1 {
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % body.len();
                body[at] = next() as u8;
            }
        }
        let a = post_metrics(&c1, r.http_addr().unwrap(), &[PROTOBUF], body.clone()).await;
        assert!(
            matches!(a.status.as_u16(), 200 | 400),
            "{}: {}",
            a.status,
            a.text()
        );
        let framed = framed(0, body.len() as u32, &body);
        let a = send(
            &c2,
            r.grpc_addr().unwrap(),
            "POST",
            METRICS,
            &[GRPC],
            full(framed),
        )
        .await;
        assert!(
            matches!(a.grpc_status(), Some(0 | 3)),
            "{:?}",
            a.grpc_status()
        );
    }
    let a = post_metrics(
        &c1,
        r.http_addr().unwrap(),
        &[PROTOBUF],
        good_request("after_garbage", 2).encode_to_vec(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(calls_of(&r.frame(), "after_garbage"), Some(2));
}

/// A receiver with a token: requests without it, or with another, are refused (401 with
/// `WWW-Authenticate: Bearer`, gRPC UNAUTHENTICATED) and counted; with it they are served,
/// from taskscope's own exporter too (`OTEL_EXPORTER_OTLP_HEADERS` or `with_header`).
#[tokio::test]
async fn a_token_is_required_when_one_is_set() {
    if crate::support::alone(module_path!(), "a_token_is_required_when_one_is_set") {
        return;
    }
    let r = Receiver::builder()
        .with_grpc_addr(loopback())
        .with_http_addr(loopback())
        .with_token("s3cret-token")
        .start()
        .unwrap();
    let (http, grpc_addr) = (r.http_addr().unwrap(), r.grpc_addr().unwrap());
    let good = good_request("with_token", 2).encode_to_vec();
    let a = post_metrics(&http1(), http, &[PROTOBUF], good.clone()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    assert_eq!(rpc_status(&a.body).code, 16);
    let wrong = [PROTOBUF, ("authorization", "Bearer s3cret-tokeX")];
    let a = post_metrics(&http1(), http, &wrong, good.clone()).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = grpc(
        grpc_addr,
        METRICS,
        full(framed(0, good.len() as u32, &good)),
    )
    .await;
    assert_eq!(a.grpc_status(), Some(16), "{}", a.grpc_message());
    let right = [PROTOBUF, ("authorization", "Bearer s3cret-token")];
    let a = post_metrics(&http1(), http, &right, good.clone()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = send(
        &http2(),
        grpc_addr,
        "POST",
        METRICS,
        &[GRPC, ("authorization", "Bearer s3cret-token")],
        full(framed(0, good.len() as u32, &good)),
    )
    .await;
    assert_eq!(a.grpc_status(), Some(0), "{}", a.grpc_message());
    assert_eq!(r.stats().rejected, 3);
    assert_eq!(r.stats().accepted, 2);
    // A token that cannot travel in a header is refused at start.
    let err = Receiver::builder()
        .with_grpc_addr(loopback())
        .without_http()
        .with_token("two words")
        .start()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("with_token") && !err.contains("two words"),
        "{err}"
    );
}
