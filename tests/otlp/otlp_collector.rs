//! OTLP export received by a real collector (rotel, started on free loopback ports): exact
//! counts per outcome and kind, histogram count, sum, min and max, resource attributes,
//! over gRPC and over HTTP/protobuf.
#![cfg(feature = "otlp")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector;
use crate::support::common;

use std::time::Duration;

use collector::{Collector, Point, find};
use taskscope::Protocol;
use tokio::time::sleep;

#[derive(Debug, taskscope::ErrorKind)]
enum FetchError {
    Timeout,
    Refused,
}

/// Runs the known workload under paused time, so every duration is exact: 1000 ok calls of
/// 10 ms, 50 errors of two kinds (30 `Timeout`, 20 `Refused`) of 20 ms, 10 calls cancelled
/// by a 5 ms timeout, and 1 panic.
type Call =
    fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), FetchError>> + Send>>;

async fn workload(ok: Call, timeout: Call, refused: Call, panics: Call) {
    for _ in 0..1000 {
        let _ = ok().await;
    }
    for _ in 0..30 {
        let _ = timeout().await;
    }
    for _ in 0..20 {
        let _ = refused().await;
    }
    for _ in 0..10 {
        let _ = tokio::time::timeout(Duration::from_millis(5), ok()).await;
    }
    let _ = tokio::spawn(async move { panics().await }).await;
}

macro_rules! measured_fetch {
    ($name:ident) => {
        #[taskscope::measure]
        async fn $name(mode: u8) -> Result<(), FetchError> {
            match mode {
                0 => {
                    sleep(Duration::from_millis(10)).await;
                    Ok(())
                }
                1 => {
                    sleep(Duration::from_millis(20)).await;
                    Err(FetchError::Timeout)
                }
                2 => {
                    sleep(Duration::from_millis(20)).await;
                    Err(FetchError::Refused)
                }
                _ => panic!("fetch panicked"),
            }
        }
    };
}

measured_fetch!(fetch_over_grpc);
measured_fetch!(fetch_over_http);

fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        if !info.to_string().contains("fetch panicked") {
            eprintln!("{info}");
        }
    }));
}

fn value(points: &[Point], metric: &str, with: &[(&str, &str)]) -> f64 {
    let found = find(points, metric, with);
    assert_eq!(
        found.len(),
        1,
        "one {metric} point with {with:?}: {found:#?}"
    );
    found[0].value.unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-9)
}

/// Checks what the collector received for `function` against the workload.
fn check(c: &Collector, function: &str, service: &str) {
    let (resource, points) = c.wait_for_export(function, |_| true);
    assert!(
        resource.contains(&("service.name".into(), service.into())),
        "{resource:?}"
    );
    assert!(resource.contains(&("service.version".into(), "1.2.3".into())));
    assert!(resource.contains(&("deployment.environment".into(), "test".into())));
    assert!(resource.iter().any(|(k, _)| k == "host.name"));
    let f = [("function", function)];
    let calls = |outcome: &str| {
        value(
            &points,
            "function.calls",
            &[f[0], ("taskscope.outcome", outcome)],
        )
    };
    assert_eq!(calls("ok"), 1000.0);
    assert_eq!(calls("cancelled"), 10.0);
    assert_eq!(calls("panicked"), 1.0);
    let kind = |k: &str| {
        value(
            &points,
            "function.calls",
            &[f[0], ("taskscope.outcome", "error"), ("error.type", k)],
        )
    };
    assert_eq!((kind("Timeout"), kind("Refused")), (30.0, 20.0));

    let histogram = |outcome: &str| {
        let h = find(
            &points,
            "function.calls.duration",
            &[f[0], ("taskscope.outcome", outcome)],
        );
        assert_eq!(h.len(), 1, "{h:#?}");
        h[0].clone()
    };
    let ok = histogram("ok");
    assert_eq!(ok.count, Some(1000));
    assert!(close(ok.sum.unwrap(), 10.0), "{ok:?}");
    assert!(
        close(ok.min.unwrap(), 0.010) && close(ok.max.unwrap(), 0.010),
        "{ok:?}"
    );
    assert_eq!(
        ok.buckets.iter().sum::<u64>(),
        1000,
        "every call is in a bucket"
    );
    let err = histogram("error");
    assert_eq!(err.count, Some(50));
    assert!(close(err.sum.unwrap(), 1.0), "{err:?}");
    let cancelled = histogram("cancelled");
    assert_eq!(cancelled.count, Some(10));
    assert!(close(cancelled.max.unwrap(), 0.005), "{cancelled:?}");
    assert_eq!(
        value(&points, "function.calls.concurrent", &f),
        0.0,
        "in flight back to zero"
    );
    assert_eq!(value(&points, "taskscope.export.dropped", &[]), 0.0);
}

fn exporter(c: &Collector, protocol: Protocol) -> taskscope::OtlpExporter {
    let endpoint = match protocol {
        Protocol::Grpc => c.grpc_url(),
        Protocol::HttpProtobuf => c.http_url(),
    };
    taskscope::otlp()
        .with_endpoint(endpoint)
        .with_protocol(protocol)
        .with_service_name("otlp-test")
        .with_service_version("1.2.3")
        .with_resource_attribute("deployment.environment", "test")
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .expect("the exporter starts")
}

#[tokio::test(start_paused = true)]
async fn a_known_workload_arrives_exactly_over_grpc() {
    if crate::support::alone(module_path!(), "a_known_workload_arrives_exactly_over_grpc") {
        return;
    }
    common::init();
    quiet_panics();
    let c = Collector::start("grpc");
    workload(
        || Box::pin(fetch_over_grpc(0)),
        || Box::pin(fetch_over_grpc(1)),
        || Box::pin(fetch_over_grpc(2)),
        || Box::pin(fetch_over_grpc(3)),
    )
    .await;
    let exporter = exporter(&c, Protocol::Grpc);
    let stats = exporter.shutdown().expect("the last export finishes");
    assert!(stats.exports >= 1, "{stats:?}");
    check(&c, "fetch_over_grpc", "otlp-test");
}

#[tokio::test(start_paused = true)]
async fn a_known_workload_arrives_exactly_over_http() {
    if crate::support::alone(module_path!(), "a_known_workload_arrives_exactly_over_http") {
        return;
    }
    common::init();
    quiet_panics();
    let c = Collector::start("http");
    workload(
        || Box::pin(fetch_over_http(0)),
        || Box::pin(fetch_over_http(1)),
        || Box::pin(fetch_over_http(2)),
        || Box::pin(fetch_over_http(3)),
    )
    .await;
    let exporter = exporter(&c, Protocol::HttpProtobuf);
    assert!(exporter.flush().is_some());
    check(&c, "fetch_over_http", "otlp-test");
}

#[test]
fn a_bad_endpoint_is_an_error_naming_the_setting_and_the_value() {
    if crate::support::alone(
        module_path!(),
        "a_bad_endpoint_is_an_error_naming_the_setting_and_the_value",
    ) {
        return;
    }
    let err = taskscope::otlp()
        .with_endpoint("gopher://collector:4317")
        .try_start()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("with_endpoint") && err.contains("gopher://collector:4317"),
        "{err}"
    );
    // Over HTTP a URL needs its scheme (a gRPC endpoint without one is TLS or, insecure,
    // plain text).
    let err = taskscope::otlp()
        .with_endpoint("collector:4318")
        .with_protocol(Protocol::HttpProtobuf)
        .try_start()
        .unwrap_err()
        .to_string();
    assert!(err.contains("http://"), "{err}");
}

#[taskscope::measure]
async fn delta_exported(ms: u64) {
    sleep(Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn delta_temporality_with_explicit_buckets_sends_each_interval_alone() {
    if crate::support::alone(
        module_path!(),
        "delta_temporality_with_explicit_buckets_sends_each_interval_alone",
    ) {
        return;
    }
    common::init();
    let c = Collector::start("delta");
    let exporter = taskscope::otlp()
        .with_endpoint(c.http_url())
        .with_protocol(Protocol::HttpProtobuf)
        .with_temporality(taskscope::Temporality::Delta)
        .with_explicit_buckets([0.001, 0.01, 0.1])
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    let f = [("function", "delta_exported")];
    for _ in 0..3 {
        delta_exported(5).await;
    }
    exporter.flush().unwrap();
    let (_, first) = c.wait_for_export("delta_exported", |_| true);
    let calls = |points: &[Point]| {
        value(
            points,
            "function.calls",
            &[f[0], ("taskscope.outcome", "ok")],
        )
    };
    assert_eq!(calls(&first), 3.0);
    let h = &find(&first, "function.calls.duration", &f)[0];
    assert_eq!(h.count, Some(3));
    assert_eq!(h.buckets, [0, 3, 0, 0], "5 ms is in (0.001, 0.01]: {h:?}");

    for _ in 0..2 {
        delta_exported(50).await;
    }
    exporter.flush().unwrap();
    let (_, second) = c.wait_for_export("delta_exported", |p| calls(p) != 3.0);
    assert_eq!(
        calls(&second),
        2.0,
        "only the calls since the previous export"
    );
    let h = &find(&second, "function.calls.duration", &f)[0];
    assert_eq!(h.buckets, [0, 0, 2, 0]);
    assert!(close(h.sum.unwrap(), 0.1), "{h:?}");
}
