//! Any OpenTelemetry SDK, not only taskscope: the Rust SDK's own OTLP exporter (gRPC) sends a
//! request-duration histogram in milliseconds with route and error attributes, and a
//! counter; the receiver turns them into rows with calls, errors by kind and percentiles in
//! seconds.

#![cfg(feature = "receiver")]

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{MetricExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use taskscope::Outcome;
use taskscope::frame::SeriesKind;
use taskscope::receive::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opentelemetry_sdk_apps_histograms_and_counters_become_rows() {
    if crate::support::alone(
        module_path!(),
        "an_opentelemetry_sdk_apps_histograms_and_counters_become_rows",
    ) {
        return;
    }
    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .without_http()
        .start()
        .unwrap();
    let exporter = MetricExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", receiver.grpc_addr().unwrap()))
        .build()
        .unwrap();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter).build())
        .with_resource(Resource::builder().with_service_name("storefront").build())
        .build();
    let meter = provider.meter("http-server");
    let duration = meter
        .f64_histogram("http.server.request.duration")
        .with_unit("ms")
        .with_boundaries((1..=60).map(f64::from).collect())
        .build();
    let jobs = meter.u64_counter("jobs.processed").build();
    let route = KeyValue::new("http.route", "/users");
    for i in 0..1000u32 {
        let ms = f64::from(5 + i % 46); // 5..=50 ms, evenly
        if i % 50 == 0 {
            duration.record(
                ms,
                &[
                    route.clone(),
                    KeyValue::new("error.type", "timeout"),
                    KeyValue::new("http.response.status_code", 504),
                ],
            );
        } else {
            duration.record(
                ms,
                &[
                    route.clone(),
                    KeyValue::new("http.response.status_code", 200),
                ],
            );
        }
    }
    jobs.add(42, &[]);
    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();

    let frame = receiver.frame();
    let rows: Vec<_> = frame
        .series
        .iter()
        .filter(|s| &*s.service == "storefront")
        .collect();
    let users = rows
        .iter()
        .find(|s| s.kind == SeriesKind::Histogram && s.function.contains("http.route=/users"))
        .unwrap_or_else(|| panic!("no route row in {rows:#?}"));
    assert!(
        users.function.starts_with("http.server.request.duration{"),
        "{}",
        users.function
    );
    assert_eq!(users.calls, [980, 20, 0, 0]);
    assert_eq!(users.error_kinds.len(), 1);
    assert_eq!(&*users.error_kinds[0].kind, "timeout");
    assert_eq!(users.error_kinds[0].count, 20);
    // Milliseconds became seconds; 1 ms buckets answer within a millisecond.
    let p50 = users.latency.quantile(0.5).unwrap();
    assert!((p50 - 0.0275).abs() <= 0.001, "{p50}");
    let max = users.latency.max().unwrap();
    assert!((max - 0.050).abs() < 1e-9, "{max}");
    let jobs = rows
        .iter()
        .find(|s| s.kind == SeriesKind::Counter && s.function.starts_with("jobs.processed"))
        .unwrap_or_else(|| panic!("no counter row in {rows:#?}"));
    assert_eq!(jobs.calls[Outcome::Ok], 42);
}
