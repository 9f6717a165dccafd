//! Standard variables that change what is exported, read by a real app (the `otlp`
//! example) exporting to a real collector (rotel): the histogram aggregation preference, and
//! `OTEL_SDK_DISABLED`.
#![cfg(all(feature = "otlp", feature = "cli"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::cli;
use crate::support::collector;

use collector::{Collector, find};

#[test]
fn the_histogram_aggregation_variable_sends_explicit_buckets() {
    if crate::support::alone(
        module_path!(),
        "the_histogram_aggregation_variable_sends_explicit_buckets",
    ) {
        return;
    }
    let c = Collector::start("explicit-by-variable");
    cli::run_example_with(
        &c.grpc_url(),
        "grpc",
        1,
        &[(
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "explicit_bucket_histogram",
        )],
    );
    let (_, points) = c.wait_for_export("authorize", |p| {
        !find(p, "function.calls.duration", &[("function", "authorize")]).is_empty()
    });
    assert!(
        c.output().contains("HistogramDataPoints #")
            && !c.output().contains("ExponentialHistogramDataPoints #"),
        "explicit histograms only"
    );
    let duration = find(
        &points,
        "function.calls.duration",
        &[("function", "authorize")],
    );
    for p in duration {
        // DEFAULT_EXPLICIT_BUCKETS: 18 boundaries, so 19 counts.
        assert_eq!(
            p.buckets.len(),
            taskscope::DEFAULT_EXPLICIT_BUCKETS.len() + 1
        );
        assert_eq!(p.buckets.iter().sum::<u64>(), p.count.unwrap());
    }
}

#[test]
fn sdk_disabled_sends_nothing_and_the_app_runs() {
    if crate::support::alone(
        module_path!(),
        "sdk_disabled_sends_nothing_and_the_app_runs",
    ) {
        return;
    }
    let c = Collector::start("sdk-disabled");
    // The same run, enabled, reaches this collector: the disabled one is told apart by
    // the variable alone.
    let disabled =
        cli::run_example_with(&c.grpc_url(), "grpc", 1, &[("OTEL_SDK_DISABLED", "true")]);
    assert!(disabled.status.success());
    assert!(
        !c.output().contains("authorize"),
        "nothing exported while disabled:\n{}",
        c.output()
    );
    cli::run_example_with(&c.grpc_url(), "grpc", 1, &[("OTEL_SDK_DISABLED", "false")]);
    c.wait_for_export("authorize", |_| true);
}
