//! The call graph on the Prometheus endpoint: per function and caller, calls and their
//! summed wall, busy and self busy time, accepted by `promtool check metrics` and read by a
//! real Prometheus, where summing a function's edges gives all its calls.
#![cfg(feature = "prometheus")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::time::Duration;

use crate::support::common::{self, work_for};
use crate::support::scrape::{Prometheus, get, promtool_accepts};

#[taskscope::measure]
async fn scraped_parent() {
    work_for(Duration::from_millis(2));
    scraped_child().await;
    scraped_child().await;
}

#[taskscope::measure]
async fn scraped_child() {
    work_for(Duration::from_millis(5));
    tokio::time::sleep(Duration::from_millis(10)).await;
}

const CHILD: &str = r#"code_function_name="prometheus::prometheus_call_graph::scraped_child""#;
const FROM_PARENT: &str = r#"taskscope_caller="prometheus::prometheus_call_graph::scraped_parent""#;

#[test]
fn edges_are_counters_prometheus_reads() {
    if crate::support::alone(module_path!(), "edges_are_counters_prometheus_reads") {
        return;
    }
    common::init();
    let e = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..3 {
            scraped_parent().await;
        }
        // One call with no measured caller.
        scraped_child().await;
    });
    let (status, _, body) = get(e.local_addr(), "/metrics", None);
    assert_eq!(status, 200);
    let scope = r#"otel_scope_name="taskscope",otel_scope_version="0.1.0""#;
    for line in [
        "# TYPE function_callers_calls_total counter".to_string(),
        "# TYPE function_callers_busy_seconds_total counter".to_string(),
        format!("function_callers_calls_total{{{CHILD},{FROM_PARENT},{scope}}} 6"),
        format!("function_callers_calls_total{{{CHILD},taskscope_caller=\"(root)\",{scope}}} 1"),
        format!("function_callers_busy_seconds_total{{{CHILD},{FROM_PARENT},{scope}}} 0.03"),
        format!("function_callers_wall_seconds_total{{{CHILD},{FROM_PARENT},{scope}}} 0.09"),
        format!(
            "function_callers_self_busy_seconds_total{{code_function_name=\"prometheus::prometheus_call_graph::scraped_parent\",taskscope_caller=\"(root)\",{scope}}} 0.006"
        ),
    ] {
        assert!(body.contains(&line), "missing {line}\n{body}");
    }
    promtool_accepts(&body);

    let p = Prometheus::scraping("call_graph", e.local_addr());
    let all = p.wait_for_value(&format!(
        "sum by (code_function_name) (function_callers_calls_total{{{CHILD}}})"
    ));
    assert_eq!(all, 7.0, "the edges into a function add up to its calls");
    let busy = p.wait_for_value(&format!(
        "function_callers_busy_seconds_total{{{CHILD},{FROM_PARENT}}}"
    ));
    assert!((busy - 0.03).abs() < 1e-9, "{busy}");
}
