//! The application's own OpenTelemetry pipeline (feature `otel-sdk`): sampled calls as
//! spans through its `TracerProvider` (its sampler, its exporter, its ids, which the
//! exemplars then carry), taskscope's counts as observable instruments on its `Meter`,
//! checked with `opentelemetry_sdk`'s in-memory exporters and with `opentelemetry-otlp`
//! sending to a real collector (rotel). Its own binary: sampling is process-wide, so the
//! tests take turns.
#![cfg(all(feature = "otel-sdk", feature = "prometheus"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector;
use crate::support::scrape;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use collector::Collector;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::Status;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, taskscope::ErrorKind)]
enum PayError {
    Declined,
}

#[taskscope::measure]
async fn pay(fail: bool) -> Result<(), PayError> {
    tokio::task::yield_now().await;
    if fail {
        Err(PayError::Declined)
    } else {
        Ok(())
    }
}

#[taskscope::measure]
fn explode() {
    panic!("card 4242 4242 4242 4242 rejected");
}

#[taskscope::measure]
async fn never_done() {
    std::future::pending::<()>().await
}

#[taskscope::measure]
async fn unsampled_by_the_user() {
    tokio::task::yield_now().await;
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An address where nothing listens: these tests look at the user's pipeline.
fn nowhere() -> String {
    let port = collector::free_port();
    format!("http://127.0.0.1:{port}")
}

fn attrs(kvs: &[opentelemetry::KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

/// The exemplars of an OpenMetrics scrape, as (function, trace id, span id).
fn scraped_exemplars(body: &str) -> Vec<(String, String, String)> {
    body.lines()
        .filter(|l| l.starts_with("function_calls_duration_seconds_bucket") && l.contains(" # {"))
        .map(|l| {
            let function = l.split("code_function_name=\"").nth(1).unwrap();
            let function = function[..function.find('"').unwrap()].to_owned();
            let trace = l.split("trace_id=\"").nth(1).unwrap()[..32].to_owned();
            let span = l.split("span_id=\"").nth(1).unwrap()[..16].to_owned();
            (function, trace, span)
        })
        .collect()
}

#[test]
fn sampled_calls_go_through_the_users_tracer_provider_and_exemplars_follow_its_ids() {
    if crate::support::alone(
        module_path!(),
        "sampled_calls_go_through_the_users_tracer_provider_and_exemplars_follow_its_ids",
    ) {
        return;
    }
    let _serial = serial();
    let theirs = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(theirs.clone())
        .with_resource(
            Resource::builder()
                .with_service_name("their-service")
                .build(),
        )
        .build();
    // Metrics still go through taskscope's exporter, to a real collector: its exemplars must
    // carry the ids the user's tracer gave the spans.
    let c = Collector::start("otel-sdk-spans");
    let exporter = taskscope::otlp()
        .with_endpoint(c.grpc_url())
        .with_tracer_provider(&provider)
        .with_trace_sampling(1.0)
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    let endpoint = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .unwrap();
    let rt = runtime();
    rt.block_on(async {
        pay(false).await.unwrap();
        pay(true).await.unwrap_err();
        let _ = tokio::time::timeout(Duration::from_millis(1), never_done()).await;
    });
    assert!(std::panic::catch_unwind(explode).is_err());
    let stats = exporter.shutdown().unwrap();
    assert_eq!(stats.dropped_spans, 0);

    let spans = theirs.get_finished_spans().unwrap();
    let find = |name: &str, outcome: &str| {
        spans
            .iter()
            .find(|s| {
                s.name == name
                    && s.attributes.iter().any(|kv| {
                        kv.key.as_str() == "taskscope.outcome" && kv.value.as_str() == outcome
                    })
            })
            .unwrap_or_else(|| panic!("no {name} {outcome} span in {spans:#?}"))
    };
    let ok = find("pay", "ok");
    let a = attrs(&ok.attributes);
    assert_eq!(a["code.function.name"], "otlp::otel_sdk::pay");
    assert!(a["code.file.path"].ends_with("otel_sdk.rs"), "{a:?}");
    assert!(a.contains_key("code.line.number"));
    assert_eq!(ok.status, Status::Unset);
    assert_eq!(ok.instrumentation_scope.name(), "taskscope");
    assert!(ok.end_time >= ok.start_time);
    let failed = find("pay", "error");
    assert_eq!(attrs(&failed.attributes)["error.type"], "Declined");
    assert_eq!(failed.status, Status::error("Declined"));
    let panicked = find("explode", "panicked");
    assert_eq!(panicked.status, Status::error("panicked"));
    let event = &panicked.events.events[0];
    assert_eq!(event.name, "exception");
    assert_eq!(
        attrs(&event.attributes),
        BTreeMap::from([("exception.type".to_owned(), "panic".to_owned())]),
        "the type only: the message may hold argument values"
    );
    let cancelled = find("never_done", "cancelled");
    assert_eq!(cancelled.events.events[0].name, "cancelled");
    assert_eq!(cancelled.status, Status::Unset);

    // The exemplars carry the user's ids: on the scrape, and at the collector.
    let ids: Vec<(String, String)> = spans
        .iter()
        .map(|s| {
            (
                s.span_context.trace_id().to_string(),
                s.span_context.span_id().to_string(),
            )
        })
        .collect();
    let (_, _, body) = scrape::get(
        endpoint.local_addr(),
        "/metrics",
        Some("application/openmetrics-text"),
    );
    let exemplars = scraped_exemplars(&body);
    assert!(
        exemplars.iter().any(|(f, _, _)| f == "otlp::otel_sdk::pay"),
        "{body}"
    );
    for (function, trace, span) in &exemplars {
        assert!(
            ids.contains(&(trace.clone(), span.clone())),
            "{function}'s exemplar {trace}/{span} is not a span the user's tracer made: {ids:?}"
        );
    }
    let out = c.wait_for("function.calls.duration");
    let (_, points) = collector::last_export(&out, "pay");
    let traced: Vec<&String> = points.iter().flat_map(|p| &p.exemplar_traces).collect();
    assert!(!traced.is_empty(), "exemplars reached the collector");
    for t in traced {
        assert!(
            ids.iter().any(|(trace, _)| trace == t),
            "{t} not in {ids:?}"
        );
    }
    // And no span went through taskscope's own connection.
    assert!(!out.contains("Span #"), "{out}");
}

#[test]
fn the_users_sampler_decides_and_a_dropped_call_keeps_no_exemplar() {
    if crate::support::alone(
        module_path!(),
        "the_users_sampler_decides_and_a_dropped_call_keeps_no_exemplar",
    ) {
        return;
    }
    let _serial = serial();
    let theirs = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(theirs.clone())
        .with_sampler(Sampler::AlwaysOff)
        .build();
    let exporter = taskscope::otlp()
        .with_endpoint(nowhere())
        .with_max_attempts(1)
        .with_tracer_provider(&provider)
        .with_trace_sampling(1.0)
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    let endpoint = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .unwrap();
    runtime().block_on(unsampled_by_the_user());
    exporter.shutdown().unwrap();
    assert!(theirs.get_finished_spans().unwrap().is_empty());
    let (_, _, body) = scrape::get(
        endpoint.local_addr(),
        "/metrics",
        Some("application/openmetrics-text"),
    );
    assert!(
        body.contains("otlp::otel_sdk::unsampled_by_the_user"),
        "the call is counted"
    );
    assert!(
        !scraped_exemplars(&body)
            .iter()
            .any(|(f, _, _)| f == "otlp::otel_sdk::unsampled_by_the_user"),
        "{body}"
    );
}

#[test]
fn a_tracer_provider_with_nothing_sampled_is_a_clear_error() {
    if crate::support::alone(
        module_path!(),
        "a_tracer_provider_with_nothing_sampled_is_a_clear_error",
    ) {
        return;
    }
    let _serial = serial();
    let provider = SdkTracerProvider::builder().build();
    let err = taskscope::otlp()
        .with_endpoint(nowhere())
        .with_tracer_provider(&provider)
        .try_start()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("with_tracer_provider") && err.contains("with_trace_sampling"),
        "{err}"
    );
}

/// The `u64` sum points of `name` whose attributes include `with`.
fn sums(
    exported: &[opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
    with: &[(&str, &str)],
) -> Vec<(BTreeMap<String, String>, i128)> {
    let last = exported.last().expect("an export");
    let mut out = Vec::new();
    for m in last.scope_metrics().flat_map(|s| s.metrics()) {
        if m.name() != name {
            continue;
        }
        let points: Vec<(BTreeMap<String, String>, i128)> = match m.data() {
            AggregatedMetrics::U64(MetricData::Sum(s)) => s
                .data_points()
                .map(|p| {
                    (
                        attrs(&p.attributes().cloned().collect::<Vec<_>>()),
                        i128::from(p.value()),
                    )
                })
                .collect(),
            AggregatedMetrics::I64(MetricData::Sum(s)) => s
                .data_points()
                .map(|p| {
                    (
                        attrs(&p.attributes().cloned().collect::<Vec<_>>()),
                        i128::from(p.value()),
                    )
                })
                .collect(),
            other => panic!("{name} is {other:?}"),
        };
        out.extend(points.into_iter().filter(|(a, _)| {
            with.iter()
                .all(|(k, v)| a.get(*k).map(String::as_str) == Some(*v))
        }));
    }
    out
}

#[taskscope::measure]
async fn observed_call(fail: bool) -> Result<(), PayError> {
    tokio::task::yield_now().await;
    if fail {
        Err(PayError::Declined)
    } else {
        Ok(())
    }
}

#[test]
fn observe_puts_the_counts_on_the_users_meter() {
    if crate::support::alone(module_path!(), "observe_puts_the_counts_on_the_users_meter") {
        return;
    }
    let _serial = serial();
    // No poll of these calls is slow by design; a loaded machine's debug build must not make
    // one so (the default threshold is 50 µs).
    taskscope::set_slow_poll_threshold(std::time::Duration::from_secs(1));
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    taskscope::otel::observe(&provider.meter("their-app"));
    let rt = runtime();
    rt.block_on(async {
        for i in 0..10 {
            let _ = observed_call(i % 5 == 0).await;
        }
        // A pattern's phases carry their kind on the user's meter too.
        let pool = taskscope::patterns::Semaphore::new("observed_pool", 1);
        drop(pool.acquire().await.unwrap());
        // One call in flight while the SDK collects.
        let pending = tokio::spawn(never_done());
        tokio::task::yield_now().await;
        provider.force_flush().unwrap();
        pending.abort();
    });
    let exported = exporter.get_finished_metrics().unwrap();
    let function = ("code.function.name", "otlp::otel_sdk::observed_call");
    let ok = sums(
        &exported,
        "function.calls",
        &[function, ("taskscope.outcome", "ok")],
    );
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].1, 8);
    let declined = sums(
        &exported,
        "function.calls",
        &[
            function,
            ("taskscope.outcome", "error"),
            ("error.type", "Declined"),
        ],
    );
    assert_eq!(declined[0].1, 2);
    let polls = sums(
        &exported,
        "function.calls.polls",
        &[function, ("taskscope.outcome", "ok")],
    );
    assert_eq!(polls[0].1, 16, "two polls per call (one yield)");
    let slow = sums(&exported, "function.calls.slow_polls", &[function]);
    assert!(slow.iter().all(|(_, v)| *v == 0));
    let in_flight = sums(
        &exported,
        "function.calls.concurrent",
        &[("code.function.name", "otlp::otel_sdk::never_done")],
    );
    assert_eq!(in_flight[0].1, 1, "{in_flight:?}");
    let waits = sums(
        &exported,
        "function.calls",
        &[
            ("code.function.name", "observed_pool.wait"),
            ("taskscope.kind", "semaphore"),
            ("taskscope.outcome", "ok"),
        ],
    );
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert_eq!(waits[0].1, 1);
    let plain = sums(&exported, "function.calls", &[function]);
    assert!(
        plain.iter().all(|(a, _)| !a.contains_key("taskscope.kind")),
        "a function has no kind: {plain:?}"
    );
    // The meter's scope is the user's.
    assert!(
        exported
            .last()
            .unwrap()
            .scope_metrics()
            .any(|s| s.scope().name() == "their-app")
    );
}

#[test]
fn the_users_otlp_pipeline_carries_our_spans_and_counts_to_a_real_collector() {
    if crate::support::alone(
        module_path!(),
        "the_users_otlp_pipeline_carries_our_spans_and_counts_to_a_real_collector",
    ) {
        return;
    }
    let _serial = serial();
    let c = Collector::start("otel-sdk-otlp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _in_runtime = rt.enter();
    let resource = Resource::builder()
        .with_service_name("their-pipeline")
        .build();
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(c.grpc_url())
        .build()
        .unwrap();
    let tracer_provider = SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource.clone())
        .build();
    let metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(c.grpc_url())
        .build()
        .unwrap();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics).build())
        .with_resource(resource)
        .build();
    taskscope::otel::observe(&meter_provider.meter("their-app"));
    let exporter = taskscope::otlp()
        .with_endpoint(nowhere())
        .with_max_attempts(1)
        .with_tracer_provider(&tracer_provider)
        .with_trace_sampling(1.0)
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    rt.block_on(async {
        for _ in 0..3 {
            pay(true).await.unwrap_err();
        }
    });
    exporter.shutdown().unwrap();
    tracer_provider.force_flush().unwrap();
    meter_provider.force_flush().unwrap();
    let out = c.wait_for("Name           : pay");
    let span = collector::spans(&out)
        .into_iter()
        .find(|s| {
            s.name == "pay"
                && s.attributes
                    .get("taskscope.outcome")
                    .is_some_and(|o| o == "error")
        })
        .expect("our span, through their exporter");
    assert_eq!(span.attributes["code.function.name"], "otlp::otel_sdk::pay");
    assert_eq!(span.attributes["error.type"], "Declined");
    let out = c.wait_for("their-pipeline");
    assert!(out.contains("function.calls"), "{out}");
    let (_, points) = collector::last_export(&out, "pay");
    let declined = collector::find(
        &points,
        "function.calls",
        &[("taskscope.outcome", "error"), ("error.type", "Declined")],
    );
    assert!(
        declined.iter().any(|p| p.value.is_some_and(|v| v >= 3.0)),
        "{declined:?}"
    );
}
