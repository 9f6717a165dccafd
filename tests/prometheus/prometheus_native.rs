//! Native histograms on a real Prometheus (2.42, `--enable-feature=native-histograms`, which
//! makes it ask for the protobuf exposition): `histogram_quantile(0.99, ...)` over the native
//! series answers within 2 % of the recorder's p99, on a workload where the same query over
//! the classic buckets (another Prometheus, scraping the text formats) is off by more than
//! 20 %; and the latest sampled call reaches Prometheus's exemplar storage. Its own binary:
//! the clock and sampling are process-wide.
#![cfg(all(feature = "prometheus", feature = "otlp"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;
use crate::support::scrape;

use std::time::{Duration, Instant};

use scrape::{Prometheus, get};

/// Takes `ms` of tokio's paused clock, to the nanosecond (a sleep would round up to the
/// millisecond).
#[taskscope::measure]
async fn settle_payment(ms: f64) {
    tokio::time::advance(Duration::from_secs_f64(ms / 1e3)).await;
}

const FUNCTION: &str = "prometheus::prometheus_native::settle_payment";

/// 10,000 calls: 90 % from 10 to 45 ms, 10 % from 50 to 57 ms. The true p99 is near 56 ms,
/// where the default classic buckets have no bound between 50 and 100 ms.
fn workload() -> impl Iterator<Item = f64> {
    (0..10_000u32).map(|i| {
        let u = f64::from(i.wrapping_mul(7919) % 1000) / 1000.0;
        if i % 10 == 0 {
            50.0 + 7.0 * u
        } else {
            10.0 + 35.0 * u
        }
    })
}

fn quantile(p: &Prometheus, promql: &str) -> f64 {
    let v = p.wait_for_value(promql);
    assert!(v.is_finite(), "{promql} gave {v}");
    v
}

#[test]
fn native_histograms_keep_the_recorders_precision_where_classic_buckets_lose_it() {
    if crate::support::alone(
        module_path!(),
        "native_histograms_keep_the_recorders_precision_where_classic_buckets_lose_it",
    ) {
        return;
    }
    taskscope::builder().with_clock(common::tokio_clock).init();
    // Sampled calls become exemplars; the spans go where nothing listens.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let _exporter = taskscope::otlp()
        .with_endpoint(format!("http://{nowhere}"))
        .with_trace_sampling(1.0)
        .with_max_attempts(1)
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    let endpoint = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        for ms in workload() {
            settle_payment(ms).await;
        }
    });
    let recorder_p99 = taskscope::snapshot()
        .functions
        .iter()
        .find(|f| f.name == "settle_payment")
        .expect("the function is recorded")
        .ok
        .wall
        .p99()
        .as_secs_f64();
    let mut sorted: Vec<f64> = workload().map(|ms| ms / 1e3).collect();
    sorted.sort_by(f64::total_cmp);
    let true_p99 = sorted[9_899];
    assert!((recorder_p99 / true_p99 - 1.0).abs() < 0.008);

    // The scrape Prometheus asks for is protobuf.
    let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (status, content_type, _) = get(endpoint.local_addr(), "/metrics", Some(accept));
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/vnd.google.protobuf"),
        "{content_type}"
    );

    let native = Prometheus::scraping_with(
        "native",
        endpoint.local_addr(),
        None,
        &[
            "--enable-feature=native-histograms",
            "--enable-feature=exemplar-storage",
        ],
    );
    let classic = Prometheus::scraping("classic", endpoint.local_addr());
    let selector = format!("code_function_name=\"{FUNCTION}\",taskscope_outcome=\"ok\"");
    let from_native = quantile(
        &native,
        &format!("histogram_quantile(0.99, function_calls_duration_seconds{{{selector}}})"),
    );
    let from_classic = quantile(
        &classic,
        &format!("histogram_quantile(0.99, function_calls_duration_seconds_bucket{{{selector}}})"),
    );
    let native_error = (from_native / recorder_p99 - 1.0).abs();
    let classic_error = (from_classic / recorder_p99 - 1.0).abs();
    assert!(
        native_error <= 0.02,
        "native p99 {from_native} vs the recorder's {recorder_p99}: {native_error:.4} off"
    );
    assert!(
        classic_error > 0.20,
        "the classic buckets were meant to be too coarse here: {from_classic} vs {recorder_p99}"
    );
    // Count and sum of the native series are the recorder's.
    let count = quantile(
        &native,
        &format!("histogram_count(function_calls_duration_seconds{{{selector}}})"),
    );
    assert_eq!(count, 10_000.0);
    let sum = quantile(
        &native,
        &format!("histogram_sum(function_calls_duration_seconds{{{selector}}})"),
    );
    let true_sum: f64 = sorted.iter().sum();
    assert!((sum / true_sum - 1.0).abs() < 1e-6, "{sum} vs {true_sum}");
    // Counters and gauges come through the protobuf scrape too.
    assert_eq!(
        quantile(&native, &format!("function_calls_total{{{selector}}}")),
        10_000.0
    );
    assert_eq!(quantile(&native, "target_info"), 1.0);

    // The latest sampled call, as an exemplar of the native series.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let json = native.api(
            "query_exemplars",
            &format!("function_calls_duration_seconds{{code_function_name=\"{FUNCTION}\"}}"),
        );
        if json.contains("trace_id") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus stored no exemplar of the native histogram: {json}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!(
        "p99: recorder {:.4} ms, native {:.4} ms ({:.2} % off), classic {:.4} ms ({:.1} % off)",
        recorder_p99 * 1e3,
        from_native * 1e3,
        native_error * 100.0,
        from_classic * 1e3,
        classic_error * 100.0
    );
}
