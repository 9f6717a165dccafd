//! OTLP as the senders taskscope meets speak it, against `taskscope top`'s receiver:
//! rotel forwarding with its default exporter (gRPC, gzip) and over HTTP with gzip; the
//! OpenTelemetry Python SDK with `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`, over gRPC and HTTP;
//! the OpenTelemetry JavaScript SDK's OTLP/HTTP JSON; and taskscope's own exporter with gzip
//! into rotel. Every count arrives exact, and the receiver's counters show the compression
//! and encoding it read.
#![cfg(all(feature = "receiver", feature = "otlp"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector;
use crate::support::senders;

use std::future::Future;
use std::time::{Duration, Instant};

use collector::Collector;
use taskscope::frame::Series;
use taskscope::receive::Receiver;

fn receiver() -> Receiver {
    Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .with_http_addr(([127, 0, 0, 1], 0).into())
        .start()
        .expect("the receiver starts")
}

/// Waits until the receiver holds `function` of `service` with `calls` finished calls.
fn wait_for_calls(receiver: &Receiver, service: &str, function: &str, calls: u64) -> Series {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let frame = receiver.frame();
        let found = frame
            .series
            .iter()
            .find(|s| &*s.service == service && &*s.function == function)
            .map(|s| (**s).clone());
        if let Some(s) = &found
            && s.total_calls() == calls
        {
            return s.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{service}/{function}: waited 30 s for {calls} calls, have {:?}; stats {:?}, last rejection {:?}",
            found.map(|s| s.calls),
            receiver.stats(),
            frame.status.last_rejection
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn outcome(n: u32) -> Result<u32, std::io::Error> {
    if n.is_multiple_of(4) {
        Err(std::io::Error::from(std::io::ErrorKind::TimedOut))
    } else {
        Ok(n)
    }
}

// One function per test: the recorder is the process's, and the tests run at once.
#[taskscope::measure]
async fn via_rotel_grpc(n: u32) -> Result<u32, std::io::Error> {
    outcome(n)
}

#[taskscope::measure]
async fn via_rotel_http(n: u32) -> Result<u32, std::io::Error> {
    outcome(n)
}

/// taskscope's exporter into rotel, which forwards to the receiver with `rotel_args`.
fn through_rotel<F: Future<Output = Result<u32, std::io::Error>>>(
    name: &str,
    service: &str,
    rotel_args: &[&str],
    calls: u32,
    (function, call): (&str, fn(u32) -> F),
) -> Receiver {
    let receiver = receiver();
    let grpc = format!("http://{}", receiver.grpc_addr().unwrap());
    let http = format!("http://{}", receiver.http_addr().unwrap());
    let args: Vec<String> = rotel_args
        .iter()
        .map(|a| a.replace("{grpc}", &grpc).replace("{http}", &http))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let rotel = Collector::forwarding(name, &args);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for n in 0..calls {
            let _ = call(n).await;
        }
    });
    let exporter = taskscope::otlp()
        .with_endpoint(rotel.grpc_url())
        .with_service_name(service)
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    let stats = exporter.flush().expect("flushed");
    assert!(stats.exports >= 1, "{stats:?}: {}", rotel.output());
    let s = wait_for_calls(&receiver, service, function, u64::from(calls));
    let errors = u64::from(calls.div_ceil(4));
    assert_eq!(s.calls, [u64::from(calls) - errors, errors, 0, 0]);
    assert_eq!(s.error_kinds.len(), 1, "{:?}", s.error_kinds);
    assert_eq!(&*s.error_kinds[0].kind, "TimedOut");
    drop(exporter);
    receiver
}

#[test]
fn rotel_with_its_default_exporter_forwards_gzip_grpc_and_the_counts_arrive_exact() {
    if crate::support::alone(
        module_path!(),
        "rotel_with_its_default_exporter_forwards_gzip_grpc_and_the_counts_arrive_exact",
    ) {
        return;
    }
    // rotel's defaults: gRPC, gzip.
    let receiver = through_rotel(
        "forward-grpc",
        "via-rotel-grpc",
        &["--otlp-exporter-endpoint", "{grpc}"],
        40,
        ("via_rotel_grpc", via_rotel_grpc),
    );
    let stats = receiver.stats();
    assert!(stats.gzip >= 1, "rotel compresses by default: {stats:?}");
    assert_eq!(stats.rejected, 0, "{stats:?}");
}

#[test]
fn rotel_forwards_over_http_with_gzip_and_the_counts_arrive_exact() {
    if crate::support::alone(
        module_path!(),
        "rotel_forwards_over_http_with_gzip_and_the_counts_arrive_exact",
    ) {
        return;
    }
    let receiver = through_rotel(
        "forward-http",
        "via-rotel-http",
        &[
            "--otlp-exporter-protocol",
            "http",
            "--otlp-exporter-endpoint",
            "{http}",
            "--otlp-exporter-compression",
            "gzip",
        ],
        40,
        ("via_rotel_http", via_rotel_http),
    );
    let stats = receiver.stats();
    assert!(stats.gzip >= 1, "{stats:?}");
    assert_eq!(stats.rejected, 0, "{stats:?}");
}

#[test]
fn the_python_sdk_with_gzip_over_grpc_and_http() {
    if crate::support::alone(
        module_path!(),
        "the_python_sdk_with_gzip_over_grpc_and_http",
    ) {
        return;
    }
    let receiver = receiver();
    let gzip = [("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")];
    senders::run_python(
        "grpc",
        &format!("http://{}", receiver.grpc_addr().unwrap()),
        250,
        "py-grpc",
        &gzip,
    );
    senders::run_python(
        "http",
        &format!("http://{}", receiver.http_addr().unwrap()),
        130,
        "py-http",
        &gzip,
    );
    for (service, calls) in [("py-grpc", 250u64), ("py-http", 130)] {
        let s = wait_for_calls(&receiver, service, "charge_card", calls);
        assert_eq!(
            s.calls,
            [calls - calls.div_ceil(10), calls.div_ceil(10), 0, 0]
        );
        // Errors without an error.type: no kind, listed as `(no kind)` by the view.
        assert!(s.error_kinds.is_empty(), "{:?}", s.error_kinds);
        // The SDK sends no busy time: unknown, not zero.
        assert!(!s.has_busy);
        // Its default buckets (0, 5, 10, ... made for milliseconds) hold every value, in
        // seconds, in (0, 5]: the percentiles come from the part of that bucket between the
        // sender's min (10 ms) and max (59 ms), never all equal to the max, and are marked
        // coarse.
        let (p50, p99) = (
            s.latency.quantile(0.5).unwrap(),
            s.latency.quantile(0.99).unwrap(),
        );
        assert!((p50 - 0.0345).abs() < 0.003, "p50 {p50}");
        assert!(p50 < p99 && p99 <= s.latency.max().unwrap(), "{p50} {p99}");
        assert!(s.latency.coarse(0.5) && s.latency.coarse(0.99));
    }
    let stats = receiver.stats();
    // (The SDK exports at its flush and again at its shutdown.)
    assert!(stats.gzip >= 2, "{stats:?}");
    assert_eq!(
        stats.gzip, stats.accepted,
        "every request came gzip: {stats:?}"
    );
    assert_eq!(stats.rejected, 0);
}

#[test]
fn the_javascript_sdk_sends_json_and_the_counts_arrive_exact() {
    if crate::support::alone(
        module_path!(),
        "the_javascript_sdk_sends_json_and_the_counts_arrive_exact",
    ) {
        return;
    }
    let receiver = receiver();
    let url = format!("http://{}/v1/metrics", receiver.http_addr().unwrap());
    senders::run_node(&url, 200, "js-cart");
    let s = wait_for_calls(&receiver, "js-cart", "add_item", 200);
    assert_eq!(s.calls, [160, 40, 0, 0]);
    assert_eq!(s.error_kinds.len(), 1, "{:?}", s.error_kinds);
    assert_eq!(&*s.error_kinds[0].kind, "OutOfStock");
    assert_eq!(s.error_kinds[0].count, 40);
    assert_eq!(s.latency.count(), 200);
    let stats = receiver.stats();
    assert!(stats.json >= 1, "it spoke JSON: {stats:?}");
    assert_eq!(stats.rejected, 0, "{stats:?}");
}

#[taskscope::measure]
fn gzipped_to_rotel(n: u32) -> u32 {
    n * 2
}

#[test]
fn taskscopes_exporter_with_gzip_reaches_rotel_over_grpc_and_http() {
    if crate::support::alone(
        module_path!(),
        "taskscopes_exporter_with_gzip_reaches_rotel_over_grpc_and_http",
    ) {
        return;
    }
    for (protocol, name) in [
        (taskscope::Protocol::Grpc, "gzip-grpc"),
        (taskscope::Protocol::HttpProtobuf, "gzip-http"),
    ] {
        let rotel = Collector::start(name);
        for n in 0..17 {
            gzipped_to_rotel(n);
        }
        let endpoint = match protocol {
            taskscope::Protocol::Grpc => rotel.grpc_url(),
            taskscope::Protocol::HttpProtobuf => rotel.http_url(),
        };
        let exporter = taskscope::otlp()
            .with_endpoint(endpoint)
            .with_protocol(protocol)
            .with_compression(taskscope::Compression::Gzip)
            .with_service_name(name)
            .with_interval(Duration::from_secs(3600))
            .try_start()
            .unwrap();
        let stats = exporter.flush().expect("flushed");
        assert!(stats.exports >= 1, "{stats:?}: {}", rotel.output());
        let calls = |points: &[collector::Point]| -> f64 {
            points
                .iter()
                .filter(|p| p.metric == "function.calls")
                .filter(|p| {
                    p.attributes.get("function").map(String::as_str) == Some("gzipped_to_rotel")
                })
                .filter_map(|p| p.value)
                .sum()
        };
        let (_, points) = rotel.wait_for_export("gzipped_to_rotel", |p| calls(p) >= 17.0);
        // Both exports carry the recorder's totals: 17 calls by the first, 34 by the second.
        assert!(calls(&points) >= 17.0, "{points:?}");
    }
}
