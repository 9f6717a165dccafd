//! Bad input on the wire, while well-behaved senders keep sending: gzip bombs and truncated
//! gzip (HTTP and gRPC), invalid JSON, JSON with ids in the wrong encoding, TLS handshakes of
//! garbage and plain text to a TLS port, forty senders that send their headers and then a
//! byte every few seconds, and connections over the cap. Each gets the answer the OTLP
//! specification gives it and is counted; every request of the well-behaved senders (one
//! over HTTP/1.1, one over gRPC, each on the connection it opened first) is answered 200 or
//! grpc-status 0 throughout.
#![cfg(all(feature = "receiver", feature = "tls"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::otlp::kv;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use taskscope::receive::Receiver;

const LIMIT: usize = 64 << 10;

/// A cumulative `function.calls` of `function`, `calls` so far.
fn request(service: &str, function: &str, calls: i64) -> Vec<u8> {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "function.calls".into(),
                    data: Some(Data::Sum(Sum {
                        data_points: vec![NumberDataPoint {
                            attributes: vec![kv("function", function), kv("outcome", "ok")],
                            start_time_unix_nano: 1,
                            time_unix_nano: 2 + calls as u64,
                            value: Some(number_data_point::Value::AsInt(calls)),
                            ..Default::default()
                        }],
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
    .encode_to_vec()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// An HTTP/1.1 keep-alive connection over a plain socket.
struct Http1(TcpStream);

impl Http1 {
    fn connect(addr: SocketAddr) -> Http1 {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Http1(s)
    }

    fn post(&mut self, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut req = format!(
            "POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.0.write_all(req.as_bytes()).unwrap();
        self.0.write_all(body).unwrap();
        read_answer(&mut self.0)
    }
}

fn read_answer(s: &mut impl Read) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk).expect("an answer");
        assert!(n > 0, "the connection closed before an answer");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0);
        body.extend_from_slice(&chunk[..n]);
    }
    Answer { status, head, body }
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");
const JSON: (&str, &str) = ("content-type", "application/json");

/// A gRPC unary call over h2c with hyper: grpc-status and message.
async fn grpc_call(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
    addr: SocketAddr,
    headers: &[(&str, &str)],
    frame: Vec<u8>,
) -> (u32, String) {
    use http_body_util::BodyExt;
    let mut req = hyper::Request::post(format!(
        "http://{addr}/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = client
        .request(req.body(http_body_util::Full::new(frame.into())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let field = |name: &str| {
        trailers
            .get(name)
            .or_else(|| parts.headers.get(name))
            .map(|v| v.to_str().unwrap().to_owned())
    };
    (
        field("grpc-status").unwrap().parse().unwrap(),
        field("grpc-message").unwrap_or_default(),
    )
}

fn framed(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![flag];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// The well-behaved senders: each sends a growing cumulative count every 20 ms on the
/// connection it opened first, and counts answers that are not a success.
struct WellBehaved {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl WellBehaved {
    fn start(http: SocketAddr, grpc: SocketAddr) -> WellBehaved {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            threads.push(std::thread::spawn(move || {
                let mut c = Http1::connect(http);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let a = c.post(&[PROTOBUF], &request("good", "over_http", n));
                    sent.fetch_add(1, Ordering::Relaxed);
                    if a.status != 200 {
                        eprintln!("well-behaved HTTP got {}", a.status);
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }));
        }
        {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            threads.push(std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let client = hyper_util::client::legacy::Client::builder(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .http2_only(true)
                    .build_http();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let (code, message) = grpc_call(
                            &client,
                            grpc,
                            &[],
                            framed(0, &request("good", "over_grpc", n)),
                        )
                        .await;
                        sent.fetch_add(1, Ordering::Relaxed);
                        if code != 0 {
                            eprintln!("well-behaved gRPC got {code}: {message}");
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                });
            }));
        }
        WellBehaved {
            stop,
            sent,
            failed,
            threads,
        }
    }

    /// Stops them; the requests they sent.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        assert_eq!(
            self.failed.load(Ordering::Relaxed),
            0,
            "every well-behaved request was served"
        );
        self.sent.load(Ordering::Relaxed)
    }
}

#[test]
fn bad_input_on_the_wire_while_well_behaved_senders_are_served() {
    if crate::support::alone(
        module_path!(),
        "bad_input_on_the_wire_while_well_behaved_senders_are_served",
    ) {
        return;
    }
    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .with_http_addr(([127, 0, 0, 1], 0).into())
        .with_max_request_bytes(LIMIT)
        .with_max_connections(64)
        .with_body_timeout(Duration::from_secs(1))
        .with_idle_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let (http, grpc) = (receiver.http_addr().unwrap(), receiver.grpc_addr().unwrap());
    let good = WellBehaved::start(http, grpc);
    // Let both open their connection first.
    std::thread::sleep(Duration::from_millis(200));

    compressed_and_encoded_garbage(http, grpc);
    slow_bodies(http, &receiver);
    over_the_cap(http);

    let sent = good.finish();
    assert!(sent > 20, "{sent}");
    let stats = receiver.stats();
    eprintln!("{sent} well-behaved requests served; {stats:?}");
    assert_eq!(stats.slow_bodies, 40, "{stats:?}");
    assert!(stats.refused_connections >= 1, "{stats:?}");
    // The good senders' counts arrived whole (their last cumulative values).
    let frame = receiver.frame();
    for f in ["over_http", "over_grpc"] {
        assert!(
            frame
                .series
                .iter()
                .any(|s| &*s.function == f && s.total_calls() > 5),
            "{f}"
        );
    }
}

/// gzip bombs and truncated gzip, over HTTP and gRPC; invalid JSON and JSON ids in the
/// wrong encoding.
fn compressed_and_encoded_garbage(http: SocketAddr, grpc: SocketAddr) {
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < LIMIT, "the bomb itself is within the limit");
    let good = gzip(&request("gz", "gzipped", 3));
    let truncated = &good[..good.len() - 9];
    let mut c = Http1::connect(http);
    let a = c.post(&[PROTOBUF, ("content-encoding", "gzip")], &bomb);
    assert_eq!(a.status, 413, "{}", a.head);
    let status = RpcStatus::decode(&a.body[..]).unwrap();
    assert_eq!(status.code, 8);
    assert!(
        status.message.contains("after decompression"),
        "{}",
        status.message
    );
    let a = c.post(&[PROTOBUF, ("content-encoding", "gzip")], truncated);
    assert_eq!(a.status, 400);
    assert!(
        RpcStatus::decode(&a.body[..])
            .unwrap()
            .message
            .contains("inflate")
    );
    let a = c.post(&[PROTOBUF, ("content-encoding", "gzip")], &good);
    assert_eq!(
        a.status,
        200,
        "good gzip after bad: {}",
        String::from_utf8_lossy(&a.body)
    );

    for (body, what) in [
        (
            &b"{\"resourceMetrics\": [{\"scopeMetrics\": ["[..],
            "cut short",
        ),
        (&b"[1, 2, 3]"[..], "not an object"),
        (
            &b"{\"resourceMetrics\": \"many\"}"[..],
            "a string for a list",
        ),
        (&[0xff, 0xfe, 0x00][..], "not UTF-8"),
    ] {
        let a = c.post(&[JSON], body);
        assert_eq!(
            a.status,
            400,
            "{what}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert!(a.head.contains("content-type: application/json"), "{what}");
        let status: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(status["code"], 3, "{what}");
    }
    // Ids: hex in OTLP's JSON; base64 (protobuf's own JSON mapping) or garbage is refused.
    for trace_id in ["W5qfTWV1dqh6v3ThOvB5uA==", "not-hex", "abc"] {
        let body = format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"function.calls","sum":{{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{{"asInt":"1","attributes":[{{"key":"function","value":{{"stringValue":"ids"}}}}],"exemplars":[{{"asInt":"1","traceId":"{trace_id}","spanId":"0102030405060708"}}]}}]}}}}]}}]}}]}}"#
        );
        let a = c.post(&[JSON], body.as_bytes());
        assert_eq!(
            a.status,
            400,
            "trace id {trace_id}: {}",
            String::from_utf8_lossy(&a.body)
        );
    }
    let hex = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"function.calls","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"4","attributes":[{"key":"function","value":{"stringValue":"ids_hex"}},{"key":"outcome","value":{"stringValue":"ok"}}],"exemplars":[{"asInt":"1","traceId":"5b8aa5a2d2c872e8321cf37308d69df2","spanId":"051581bf3cb55c13"}]}]}}]}]}]}"#;
    let a = c.post(&[JSON], hex.as_bytes());
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .http2_only(true)
                .build_http();
        let gz = [("grpc-encoding", "gzip")];
        let (code, message) = grpc_call(&client, grpc, &gz, framed(1, &bomb)).await;
        assert_eq!(code, 8, "{message}");
        let (code, message) = grpc_call(&client, grpc, &gz, framed(1, truncated)).await;
        assert_eq!(code, 3, "{message}");
        let (code, message) = grpc_call(&client, grpc, &gz, framed(1, &good)).await;
        assert_eq!(code, 0, "{message}");
    });
}

/// Forty senders send their headers and then a byte now and then: each is cut off at the
/// body timeout (408), counted, and holds nothing the others need meanwhile.
fn slow_bodies(http: SocketAddr, receiver: &Receiver) {
    let before = receiver.stats().slow_bodies;
    let started = Instant::now();
    let slow: Vec<_> = (0..40)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(http).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                s.write_all(
                    b"POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: 1000\r\n\r\n",
                )
                .unwrap();
                // A byte every 400 ms until the server answers.
                let mut reader = s.try_clone().unwrap();
                let writer = std::thread::spawn(move || {
                    for _ in 0..20 {
                        if s.write_all(b"\x0a").is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(400));
                    }
                });
                let a = read_answer(&mut reader);
                drop(reader);
                let _ = writer.join();
                a.status
            })
        })
        .collect();
    for t in slow {
        assert_eq!(t.join().unwrap(), 408);
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(receiver.stats().slow_bodies - before, 40);
}

/// Connections over the cap are answered 503 with `Retry-After` before they are closed.
fn over_the_cap(http: SocketAddr) {
    // The cap is 64 and two are the good senders': hold the rest idle (they last the idle
    // timeout), then one more.
    let held: Vec<TcpStream> = (0..62).map(|_| TcpStream::connect(http).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut over = Http1::connect(http);
    let a = over.post(&[PROTOBUF], &request("over", "cap", 1));
    assert_eq!(a.status, 503, "{}", a.head);
    assert!(a.head.contains("retry-after: 1"), "{}", a.head);
    drop(held);
}

/// TLS garbage: random bytes and plain text to a TLS port fail their handshake and are
/// counted, while a TLS sender is served.
#[test]
fn garbage_handshakes_are_counted_and_tls_senders_served() {
    if crate::support::alone(
        module_path!(),
        "garbage_handshakes_are_counted_and_tls_senders_served",
    ) {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("garbage-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .without_http()
        .with_tls(dir.join("cert.pem"), dir.join("key.pem"))
        .with_idle_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let addr = receiver.grpc_addr().unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..30 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let bytes: Vec<u8> = if i % 3 == 0 {
            b"POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n".to_vec()
        } else {
            (0..200 + i * 37)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect()
        };
        let _ = s.write_all(&bytes);
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
        assert!(
            !String::from_utf8_lossy(&sink).contains("HTTP/1.1 200"),
            "garbage {i} was not served"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.stats().failed_handshakes < 30 {
        assert!(Instant::now() < deadline, "{:?}", receiver.stats());
        std::thread::sleep(Duration::from_millis(20));
    }
    // A TLS sender after all that: served.
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(dir.join("cert.pem")).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        Arc::new(config),
        rustls::pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, TcpStream::connect(addr).unwrap());
    let body = request("tls", "after_garbage", 2);
    write!(
        tls,
        "POST /v1/metrics HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    tls.write_all(&body).unwrap();
    let a = read_answer(&mut tls);
    assert_eq!(a.status, 200, "{}", a.head);
    assert_eq!(receiver.stats().accepted, 1);
}
