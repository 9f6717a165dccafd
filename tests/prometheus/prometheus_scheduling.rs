//! `#[measure(scheduling)]` on the Prometheus endpoint: the scheduling-delay histogram under
//! its translated name, accepted by `promtool check metrics` and read by a real Prometheus;
//! no family at all when no function asks for it.
#![cfg(feature = "prometheus")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common::{self, with_held_wakes};
use crate::support::scrape::{Prometheus, get, promtool_accepts};

use std::time::Duration;

use tokio::sync::mpsc;

#[taskscope::measure(scheduling)]
async fn scraped_waits(mut rx: mpsc::Receiver<u32>) -> u32 {
    let mut sum = 0;
    while let Some(n) = rx.recv().await {
        sum += n;
        if n == 4 {
            break;
        }
    }
    sum
}

const LABELS: &str = r#"code_function_name="prometheus::prometheus_scheduling::scraped_waits""#;

#[test]
fn scheduling_delays_are_a_histogram_prometheus_reads() {
    if crate::support::alone(
        module_path!(),
        "scheduling_delays_are_a_histogram_prometheus_reads",
    ) {
        return;
    }
    common::init();
    let e = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .unwrap();
    let (_, _, before) = get(e.local_addr(), "/metrics", None);
    assert!(
        !before.contains("function_scheduling_delay"),
        "no family before a function records one:\n{before}"
    );

    assert_eq!(
        with_held_wakes(scraped_waits, 4, Duration::from_millis(40)),
        10
    );
    let (status, _, body) = get(e.local_addr(), "/metrics", None);
    assert_eq!(status, 200);
    for line in [
        "# TYPE function_scheduling_delay_seconds histogram".to_string(),
        format!("function_scheduling_delay_seconds_count{{{LABELS},"),
        format!(
            "function_scheduling_delay_seconds_bucket{{{LABELS},otel_scope_name=\"taskscope\",otel_scope_version=\"0.1.0\",le=\"0.025\"}} 0"
        ),
        format!(
            "function_scheduling_delay_seconds_bucket{{{LABELS},otel_scope_name=\"taskscope\",otel_scope_version=\"0.1.0\",le=\"0.05\"}} 4"
        ),
    ] {
        assert!(body.contains(&line), "missing {line}\n{body}");
    }
    promtool_accepts(&body);

    let p = Prometheus::scraping("scheduling", e.local_addr());
    let count = p.wait_for_value(&format!(
        "function_scheduling_delay_seconds_count{{{LABELS}}}"
    ));
    assert_eq!(count, 4.0);
    let sum = p.wait_for_value(&format!(
        "function_scheduling_delay_seconds_sum{{{LABELS}}}"
    ));
    assert!((sum - 0.160).abs() < 1e-9, "four waits of 40 ms: {sum}");
    let p50 = p.wait_for_value(&format!(
        "histogram_quantile(0.5, sum by (le) (function_scheduling_delay_seconds_bucket{{{LABELS}}}))"
    ));
    assert!(0.025 < p50 && p50 <= 0.05, "in the 25-50 ms bucket: {p50}");
}
