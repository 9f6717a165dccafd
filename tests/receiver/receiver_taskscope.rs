//! A taskscope app exporting with `taskscope::otlp()` to the dashboard's receiver: what the
//! receiver's frame says of each function is what `taskscope::snapshot()` says, over gRPC
//! and HTTP/protobuf, with exponential and explicit histograms.
#![cfg(all(feature = "receiver", feature = "otlp"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::net::SocketAddr;
use std::time::Duration;

use taskscope::Protocol;
use taskscope::frame::{Series, SeriesKind};
use taskscope::receive::Receiver;
use tokio::time::sleep;

#[derive(Debug, taskscope::ErrorKind)]
enum FetchError {
    Timeout,
    Refused,
}

/// What a call of the workload does.
#[derive(Clone, Copy)]
enum Mode {
    Ok(u64),
    Timeout,
    Refused,
    Panic,
    Forever,
}

type Call =
    fn(Mode) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), FetchError>> + Send>>;

macro_rules! measured_fetch {
    ($name:ident) => {
        #[taskscope::measure]
        async fn $name(mode: Mode) -> Result<(), FetchError> {
            match mode {
                Mode::Ok(ms) => {
                    sleep(Duration::from_millis(ms)).await;
                    Ok(())
                }
                Mode::Timeout => {
                    sleep(Duration::from_millis(30)).await;
                    Err(FetchError::Timeout)
                }
                Mode::Refused => {
                    sleep(Duration::from_millis(12)).await;
                    Err(FetchError::Refused)
                }
                Mode::Panic => panic!("fetch panicked"),
                Mode::Forever => std::future::pending().await,
            }
        }
    };
}

measured_fetch!(fetch_grpc_exponential);
measured_fetch!(fetch_http_exponential);
measured_fetch!(fetch_grpc_explicit);
measured_fetch!(fetch_http_explicit);

/// Runs the workload under paused time, so durations are exact: 600 ok calls of 10 to
/// 40 ms and 4 of 45 ms, 30 `Timeout` and 20 `Refused` errors, 10 calls cancelled by a 6 ms timeout, one
/// panic, and 3 calls left in flight.
async fn workload(call: Call) {
    for i in 0..600u64 {
        let _ = call(Mode::Ok(10 + (i * 7) % 31)).await;
    }
    // The slowest few, so p99 is not the maximum.
    for _ in 0..4 {
        let _ = call(Mode::Ok(45)).await;
    }
    for _ in 0..30 {
        let _ = call(Mode::Timeout).await;
    }
    for _ in 0..20 {
        let _ = call(Mode::Refused).await;
    }
    for _ in 0..10 {
        let _ = tokio::time::timeout(Duration::from_millis(6), call(Mode::Ok(20))).await;
    }
    let _ = tokio::spawn(call(Mode::Panic)).await;
    for _ in 0..3 {
        tokio::spawn(call(Mode::Forever));
    }
    // Let the in-flight calls make their first poll.
    sleep(Duration::from_millis(1)).await;
}

fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        if !info.to_string().contains("fetch panicked") {
            eprintln!("{info}");
        }
    }));
}

/// Boundaries 0.5 % apart from 4 ms to 60 ms: explicit buckets fine enough for
/// percentiles within 1 %.
fn fine_bounds() -> Vec<f64> {
    let mut b = vec![0.004];
    while *b.last().unwrap() < 0.06 {
        b.push(b.last().unwrap() * 1.005);
    }
    b
}

fn within(got: f64, want: f64, tolerance: f64) -> bool {
    (got / want - 1.0).abs() <= tolerance
}

/// Serializes the scenarios: the recorder and the panic hook are global.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn scenario(name: &str, call: Call, protocol: Protocol, explicit: bool) {
    let _serial = SERIAL.lock().await;
    common::init();
    quiet_panics();
    workload(call).await;

    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let receiver = Receiver::builder()
        .with_grpc_addr(loopback)
        .with_http_addr(loopback)
        .start()
        .expect("the receiver starts");
    let endpoint = match protocol {
        Protocol::Grpc => format!("http://{}", receiver.grpc_addr().unwrap()),
        Protocol::HttpProtobuf => format!("http://{}", receiver.http_addr().unwrap()),
    };
    let mut builder = taskscope::otlp()
        .with_endpoint(endpoint)
        .with_protocol(protocol)
        .with_service_name("receiver-test")
        .with_interval(Duration::from_secs(3600));
    if explicit {
        builder = builder.with_explicit_buckets(fine_bounds());
    }
    let exporter = builder.try_start().expect("the exporter starts");
    // The export has been answered, so ingested, when flush returns.
    let stats = exporter.flush().expect("the export finishes");
    assert!(stats.exports >= 1, "{stats:?}");
    assert_eq!(
        stats.dropped_points,
        0,
        "{:?}",
        taskscope::last_export_error()
    );

    let snap = taskscope::snapshot();
    let f = snap.function(name).expect("the function was recorded");
    let frame = receiver.frame();
    let found: Vec<&Series> = frame
        .series
        .iter()
        .filter(|s| &*s.function == name)
        .map(|s| &**s)
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    let s = found[0];
    assert_eq!(s.kind, SeriesKind::Function);
    assert_eq!((&*s.service, &*s.module), ("receiver-test", f.module));

    assert_eq!(
        s.calls,
        [
            f.ok.count,
            f.error.count,
            f.cancelled.count,
            f.panicked.count
        ]
    );
    assert_eq!(s.calls, [604, 50, 10, 1]);
    let mut kinds: Vec<(String, u64)> = s
        .error_kinds
        .iter()
        .map(|k| (k.kind.to_string(), k.count))
        .collect();
    let mut expected: Vec<(String, u64)> = f
        .error_kinds
        .iter()
        .map(|k| (k.kind.to_string(), k.count))
        .collect();
    kinds.sort();
    expected.sort();
    assert_eq!(kinds, expected);
    assert_eq!(s.in_flight, f.in_flight as i64);
    assert_eq!(s.in_flight, 3);
    assert_eq!((s.polls, s.slow_polls), (f.polls(), f.slow_polls()));
    let busy = f.busy().sum as f64 / 1e9;
    assert!(within(s.busy_seconds, busy, 1e-9) || (busy == 0.0 && s.busy_seconds == 0.0));

    let wall = f.wall();
    assert_eq!(s.latency.count(), wall.count());
    assert!(within(s.latency.sum(), wall.sum as f64 / 1e9, 1e-9));
    for p in [50.0, 90.0, 99.0] {
        let want = wall.percentile(p).as_secs_f64();
        let got = s.latency.quantile(p / 100.0).unwrap();
        assert!(
            within(got, want, 0.01),
            "{name} p{p}: the receiver says {got}, the snapshot {want}"
        );
    }

    assert_eq!(frame.status.export_dropped, 0);
    assert_eq!(frame.status.rejected, 0);
    assert_eq!(frame.status.overflow, 0);
    assert_eq!(frame.status.connection, "live");
    assert!(frame.status.services >= 1);
    drop(exporter);
    receiver.shutdown();
}

#[tokio::test(start_paused = true)]
async fn grpc_with_exponential_histograms() {
    if crate::support::alone(module_path!(), "grpc_with_exponential_histograms") {
        return;
    }
    scenario(
        "fetch_grpc_exponential",
        |m| Box::pin(fetch_grpc_exponential(m)),
        Protocol::Grpc,
        false,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn http_with_exponential_histograms() {
    if crate::support::alone(module_path!(), "http_with_exponential_histograms") {
        return;
    }
    scenario(
        "fetch_http_exponential",
        |m| Box::pin(fetch_http_exponential(m)),
        Protocol::HttpProtobuf,
        false,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn grpc_with_explicit_histograms() {
    if crate::support::alone(module_path!(), "grpc_with_explicit_histograms") {
        return;
    }
    scenario(
        "fetch_grpc_explicit",
        |m| Box::pin(fetch_grpc_explicit(m)),
        Protocol::Grpc,
        true,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn http_with_explicit_histograms() {
    if crate::support::alone(module_path!(), "http_with_explicit_histograms") {
        return;
    }
    scenario(
        "fetch_http_explicit",
        |m| Box::pin(fetch_http_explicit(m)),
        Protocol::HttpProtobuf,
        true,
    )
    .await;
}
