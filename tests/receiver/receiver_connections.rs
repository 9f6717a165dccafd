//! The receiver's connection limits: at most `with_max_connections` open at once (more are
//! answered "busy", closed, and counted), and a connection that has not sent a whole request
//! head within the idle timeout is closed (one that sends nothing, one that sends its
//! headers slowly, one left idle after a request), while a sender that behaves is served.
#![cfg(feature = "receiver")]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use taskscope::receive::{ReceiveError, Receiver};

const IDLE: Duration = Duration::from_millis(300);

fn receiver(max_connections: usize) -> Receiver {
    receiver_with(max_connections, IDLE)
}

fn receiver_with(max_connections: usize, idle: Duration) -> Receiver {
    Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .without_http()
        .with_max_connections(max_connections)
        .with_idle_timeout(idle)
        .start()
        .expect("the receiver starts")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until the server closes the connection; returns what it sent and how long that
/// took. Panics if the connection is still open after 10 s.
fn until_closed(mut s: TcpStream) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, start.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, start.elapsed()),
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

/// An empty OTLP/HTTP metrics request (an empty protobuf message is a valid one).
const REQUEST: &[u8] = b"POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";

#[test]
fn connections_beyond_the_cap_are_answered_busy_then_closed_and_counted() {
    if crate::support::alone(
        module_path!(),
        "connections_beyond_the_cap_are_answered_busy_then_closed_and_counted",
    ) {
        return;
    }
    // A longer idle timeout: the three held connections must still be open when the
    // fourth is accepted (the server accepts in arrival order).
    let r = receiver_with(3, Duration::from_secs(2));
    let addr = r.grpc_addr().unwrap();
    let held: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    // Over the cap, a request is answered 503 with Retry-After, and the connection closed.
    let mut over = connect(addr);
    over.write_all(REQUEST).unwrap();
    let (sent, _) = until_closed(over);
    let answer = String::from_utf8_lossy(&sent).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert_eq!(r.stats().refused_connections, 1);
    assert_eq!(r.stats().accepted, 0);
    assert_eq!(r.frame().status.dropped, 1, "a refusal shows as a shed");
    // Once the held ones are gone (closed by their idle timeout), a request is served.
    for s in held {
        until_closed(s);
    }
    let mut s = connect(addr);
    s.write_all(REQUEST).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert_eq!(r.stats().accepted, 1);
}

/// Over the cap over HTTP/2, as gRPC senders connect: UNAVAILABLE, which they retry.
#[tokio::test]
async fn a_grpc_call_over_the_cap_is_unavailable() {
    if crate::support::alone(module_path!(), "a_grpc_call_over_the_cap_is_unavailable") {
        return;
    }
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    let r = receiver_with(1, Duration::from_secs(5));
    let addr = r.grpc_addr().unwrap();
    let _held = connect(addr);
    // Wait until the held connection is the one accepted.
    std::thread::sleep(Duration::from_millis(100));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let err = MetricsServiceClient::new(channel)
        .export(ExportMetricsServiceRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err}");
    assert_eq!(r.stats().refused_connections, 1);
}

#[test]
fn a_connection_that_sends_nothing_is_closed_after_the_idle_timeout() {
    if crate::support::alone(
        module_path!(),
        "a_connection_that_sends_nothing_is_closed_after_the_idle_timeout",
    ) {
        return;
    }
    let r = receiver(8);
    let (_, after) = until_closed(connect(r.grpc_addr().unwrap()));
    assert!(
        after >= IDLE - Duration::from_millis(50),
        "closed after {after:?}"
    );
    assert_eq!(r.stats().timed_out_connections, 1);
}

#[test]
fn headers_sent_a_byte_at_a_time_are_cut_off_at_the_idle_timeout() {
    if crate::support::alone(
        module_path!(),
        "headers_sent_a_byte_at_a_time_are_cut_off_at_the_idle_timeout",
    ) {
        return;
    }
    let r = receiver(8);
    let mut s = connect(r.grpc_addr().unwrap());
    // One byte every 50 ms would take 5 s for this head; the receiver stops waiting.
    let start = Instant::now();
    let mut closed = false;
    for &b in REQUEST {
        if s.write_all(&[b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if start.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    if !closed {
        let (sent, _) = until_closed(s);
        // hyper may answer 408 before closing; it never answers 200.
        assert!(!sent.starts_with(b"HTTP/1.1 200"), "{sent:?}");
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "the slow head was not cut off"
    );
    assert_eq!(r.stats().accepted, 0);
    assert_eq!(r.stats().timed_out_connections, 1);
}

#[test]
fn a_keep_alive_connection_left_idle_is_closed_after_its_request() {
    if crate::support::alone(
        module_path!(),
        "a_keep_alive_connection_left_idle_is_closed_after_its_request",
    ) {
        return;
    }
    let r = receiver(8);
    let mut s = connect(r.grpc_addr().unwrap());
    s.write_all(REQUEST).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    until_closed(s);
    assert_eq!(r.stats().accepted, 1);
}

#[test]
fn zero_limits_are_refused_naming_the_setting() {
    if crate::support::alone(module_path!(), "zero_limits_are_refused_naming_the_setting") {
        return;
    }
    for (builder, setting) in [
        (
            Receiver::builder().with_max_connections(0),
            "with_max_connections",
        ),
        (
            Receiver::builder().with_idle_timeout(Duration::ZERO),
            "with_idle_timeout",
        ),
    ] {
        match builder.start() {
            Err(e @ ReceiveError::Invalid { .. }) => {
                assert!(e.to_string().contains(setting), "{e}")
            }
            other => panic!("{setting}: {other:?}"),
        }
    }
}
