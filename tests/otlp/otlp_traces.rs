//! Sampled calls exported as OTLP spans (status ERROR on error, an event when cancelled)
//! and linked from histogram points as exemplars, received by a real collector (rotel).
//! Its own test binary: sampling is process-wide.
#![cfg(feature = "otlp")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector;
use crate::support::common;

use std::time::Duration;

use collector::{Collector, find};
use tokio::time::sleep;

#[derive(Debug, taskscope::ErrorKind)]
enum FetchError {
    Refused,
}

#[taskscope::measure]
async fn traced_call(fail: bool) -> Result<(), FetchError> {
    sleep(Duration::from_millis(3)).await;
    if fail {
        Err(FetchError::Refused)
    } else {
        Ok(())
    }
}

/// Sampling is process-wide: the tests of this file take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(start_paused = true)]
async fn sampled_calls_arrive_as_spans_and_as_exemplars() {
    if crate::support::alone(
        module_path!(),
        "sampled_calls_arrive_as_spans_and_as_exemplars",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    common::init();
    let c = Collector::start("traces");
    let exporter = taskscope::otlp()
        .with_endpoint(c.grpc_url())
        .with_service_name("traces-test")
        .with_trace_sampling(1.0)
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    let _ = traced_call(false).await;
    let _ = traced_call(true).await;
    let _ = tokio::time::timeout(Duration::from_millis(1), traced_call(false)).await;
    let stats = exporter.shutdown().unwrap();
    assert_eq!(stats.dropped_spans, 0);
    let out = c.wait_for("Span #2");
    let spans: Vec<_> = collector::spans(&out)
        .into_iter()
        .filter(|s| s.name == "traced_call")
        .collect();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let by_outcome = |o: &str| {
        spans
            .iter()
            .find(|s| s.attributes["taskscope.outcome"] == o)
            .unwrap()
    };
    let ok = by_outcome("ok");
    // The semantic conventions: status unset unless the call failed; the function fully
    // qualified, its file and line.
    assert_eq!(ok.status, "STATUS_CODE_UNSET");
    assert_eq!(
        ok.attributes["code.function.name"],
        "otlp::otlp_traces::traced_call"
    );
    assert!(
        ok.attributes["code.file.path"].ends_with("otlp_traces.rs"),
        "{ok:?}"
    );
    assert!(ok.attributes["code.line.number"].parse::<u32>().unwrap() > 0);
    assert!(
        !ok.attributes.contains_key("function"),
        "no old names: {ok:?}"
    );
    let failed = by_outcome("error");
    assert_eq!(
        (failed.status.as_str(), failed.message.as_str()),
        ("STATUS_CODE_ERROR", "Refused")
    );
    assert_eq!(failed.attributes["error.type"], "Refused");
    let cancelled = by_outcome("cancelled");
    assert_eq!(cancelled.events, ["cancelled"]);

    // Each histogram point links to the span of a call it counts.
    let (_, points) = c.wait_for_export("traced_call", |_| true);
    for (outcome, span) in [("ok", ok), ("error", failed), ("cancelled", cancelled)] {
        let p = find(
            &points,
            "function.calls.duration",
            &[("function", "traced_call"), ("taskscope.outcome", outcome)],
        );
        assert_eq!(
            p[0].exemplar_traces,
            std::slice::from_ref(&span.trace_id),
            "{outcome}"
        );
    }
}

#[cfg(feature = "otel-context")]
#[taskscope::measure]
async fn traced_in_context() -> Result<(), FetchError> {
    sleep(Duration::from_millis(2)).await;
    Ok(())
}

#[cfg(feature = "otel-context")]
#[tokio::test(start_paused = true)]
async fn a_sampled_call_inside_an_opentelemetry_span_joins_its_trace() {
    if crate::support::alone(
        module_path!(),
        "a_sampled_call_inside_an_opentelemetry_span_joins_its_trace",
    ) {
        return;
    }
    use opentelemetry::trace::TracerProvider as _;
    use tracing::Instrument;
    use tracing_subscriber::prelude::*;

    let _serial = SERIAL.lock().await;
    common::init();
    let c = Collector::start("context");
    let exporter = taskscope::otlp()
        .with_endpoint(c.grpc_url())
        .with_trace_sampling(1.0)
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    // The user's own spans, through tracing-opentelemetry into an SDK exporter.
    let theirs = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(theirs.clone())
        .build();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("app"))),
    );
    let guard = tracing::dispatcher::set_default(&dispatch);
    let _ = traced_in_context()
        .instrument(tracing::info_span!("outer_request"))
        .await;
    drop(guard);
    exporter.shutdown().unwrap();

    let outer = theirs
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .find(|s| s.name == "outer_request")
        .expect("tracing-opentelemetry exported the user's span");
    let out = c.wait_for("Name           : traced_in_context");
    let ours = collector::spans(&out)
        .into_iter()
        .find(|s| s.name == "traced_in_context")
        .unwrap();
    assert_eq!(ours.trace_id, outer.span_context.trace_id().to_string());
    assert_eq!(ours.parent_id, outer.span_context.span_id().to_string());
}
