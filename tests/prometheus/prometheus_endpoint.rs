//! The Prometheus endpoint: text and OpenMetrics, accepted by `promtool check metrics`,
//! scraped by a real Prometheus; a taken port, unknown paths, and scrapes during heavy
//! recording.
#![cfg(feature = "prometheus")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::scrape;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use scrape::{Prometheus, get, tool};

#[derive(Debug, taskscope::ErrorKind)]
enum LookupError {
    Missing,
}

#[taskscope::measure]
fn scraped_lookup(key: u32) -> Result<u32, LookupError> {
    if key.is_multiple_of(4) {
        Err(LookupError::Missing)
    } else {
        Ok(key)
    }
}

fn endpoint() -> taskscope::PrometheusEndpoint {
    taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .expect("the endpoint starts on a free port")
}

#[test]
fn the_text_format_has_the_translated_names_and_promtool_accepts_it() {
    if crate::support::alone(
        module_path!(),
        "the_text_format_has_the_translated_names_and_promtool_accepts_it",
    ) {
        return;
    }
    for key in 0..100 {
        let _ = scraped_lookup(key);
    }
    let e = endpoint();
    let (status, content_type, body) = get(e.local_addr(), "/metrics", None);
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    for line in [
        "# TYPE function_calls_total counter",
        r#"function_calls_total{code_function_name="prometheus::prometheus_endpoint::scraped_lookup",taskscope_outcome="ok",otel_scope_name="taskscope",otel_scope_version="0.1.0"} 75"#,
        r#"function_calls_total{code_function_name="prometheus::prometheus_endpoint::scraped_lookup",taskscope_outcome="error",error_type="Missing",otel_scope_name="taskscope",otel_scope_version="0.1.0"} 25"#,
        "# TYPE function_calls_duration_seconds histogram",
        r#"function_calls_duration_seconds_count{code_function_name="prometheus::prometheus_endpoint::scraped_lookup",taskscope_outcome="ok",otel_scope_name="taskscope",otel_scope_version="0.1.0"} 75"#,
        r#"function_calls_duration_seconds_bucket{code_function_name="prometheus::prometheus_endpoint::scraped_lookup",taskscope_outcome="ok",otel_scope_name="taskscope",otel_scope_version="0.1.0",le="+Inf"} 75"#,
        r#"function_calls_concurrent{code_function_name="prometheus::prometheus_endpoint::scraped_lookup",otel_scope_name="taskscope",otel_scope_version="0.1.0"} 0"#,
        r#"taskscope_export_dropped_total{otel_scope_name="taskscope",otel_scope_version="0.1.0"} 0"#,
        "# TYPE target_info gauge",
    ] {
        assert!(body.contains(line), "missing {line}\n{body}");
    }
    let mut check = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[taskscope::measure]
fn scraped_as_openmetrics() {}

#[test]
fn openmetrics_is_served_when_asked_for() {
    if crate::support::alone(module_path!(), "openmetrics_is_served_when_asked_for") {
        return;
    }
    scraped_as_openmetrics();
    let e = endpoint();
    let (status, content_type, body) = get(
        e.local_addr(),
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
    );
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(body.contains("# TYPE function_calls counter\n"), "{body}");
    assert!(body.contains("# UNIT function_calls_duration_seconds seconds\n"));
    assert!(body.ends_with("# EOF\n"));
}

#[test]
fn unknown_paths_get_404_and_a_taken_port_is_a_clear_error() {
    if crate::support::alone(
        module_path!(),
        "unknown_paths_get_404_and_a_taken_port_is_a_clear_error",
    ) {
        return;
    }
    let e = endpoint();
    assert_eq!(get(e.local_addr(), "/nope", None).0, 404);
    let err = taskscope::prometheus()
        .with_address(e.local_addr())
        .try_start()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&e.local_addr().to_string()) && err.contains("with_address"),
        "{err}"
    );
}

#[test]
fn a_native_schema_finer_than_the_recorder_or_out_of_range_is_refused() {
    if crate::support::alone(
        module_path!(),
        "a_native_schema_finer_than_the_recorder_or_out_of_range_is_refused",
    ) {
        return;
    }
    for schema in [7, 8, -5] {
        let err = taskscope::prometheus()
            .with_address(([127, 0, 0, 1], 0).into())
            .with_native_schema(schema)
            .try_start()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("with_native_schema") && err.contains("-4 to 6"),
            "{err}"
        );
    }
    let coarse = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .with_native_schema(-4)
        .try_start();
    assert!(coarse.is_ok());
}

/// Every histogram's `_count` equals its `+Inf` bucket and its buckets never decrease.
fn assert_untorn(body: &str) {
    let mut last_bucket: Option<(String, f64)> = None;
    let mut inf = std::collections::HashMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap();
        if let Some(at) = series.find("_bucket{") {
            let key = format!(
                "{}{}",
                &series[..at],
                &series[at + 7..series.find(",le=").unwrap()]
            );
            if let Some((prev_key, prev)) = &last_bucket
                && *prev_key == key
            {
                assert!(value >= *prev, "buckets decrease: {line}");
            }
            if series.contains("le=\"+Inf\"") {
                inf.insert(key.clone(), value);
            }
            last_bucket = Some((key, value));
        } else if let Some(at) = series.find("_count{") {
            let key = format!("{}{}", &series[..at], &series[at + 6..series.len() - 1]);
            assert_eq!(
                inf.get(&key),
                Some(&value),
                "_count is not the +Inf bucket: {line}"
            );
        }
    }
}

#[taskscope::measure]
fn hammered(n: u64) -> u64 {
    n.wrapping_mul(3)
}

#[test]
fn scrapes_during_heavy_recording_see_whole_histograms_and_block_no_one() {
    if crate::support::alone(
        module_path!(),
        "scrapes_during_heavy_recording_see_whole_histograms_and_block_no_one",
    ) {
        return;
    }
    let e = endpoint();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::black_box(hammered(n));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let scrapers: Vec<_> = (0..10)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..10 {
                        let (status, _, body) = get(e.local_addr(), "/metrics", None);
                        assert_eq!(status, 200);
                        assert_untorn(&body);
                    }
                })
            })
            .collect();
        for s in scrapers {
            s.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            assert!(
                w.join().unwrap() > 0,
                "the recording threads kept recording"
            );
        }
    });
}

#[taskscope::measure]
fn seen_by_prometheus(i: u32) -> Result<u32, LookupError> {
    if i < 3 {
        Err(LookupError::Missing)
    } else {
        Ok(i)
    }
}

#[test]
fn a_real_prometheus_scrapes_the_endpoint() {
    if crate::support::alone(module_path!(), "a_real_prometheus_scrapes_the_endpoint") {
        return;
    }
    for i in 0..20 {
        let _ = seen_by_prometheus(i);
        std::thread::sleep(Duration::from_micros(200));
    }
    let e = endpoint();
    let p = Prometheus::scraping("scrape", e.local_addr());
    let ok =
        p.wait_for_value(r#"function_calls_total{code_function_name="prometheus::prometheus_endpoint::seen_by_prometheus",taskscope_outcome="ok"}"#);
    assert_eq!(ok, 17.0);
    let missing = p.wait_for_value(
        r#"sum(function_calls_total{code_function_name="prometheus::prometheus_endpoint::seen_by_prometheus",error_type="Missing"})"#,
    );
    assert_eq!(missing, 3.0);
    let p99 = p.wait_for_value(
        r#"histogram_quantile(0.99, sum by (le) (function_calls_duration_seconds_bucket{code_function_name="prometheus::prometheus_endpoint::seen_by_prometheus"}))"#,
    );
    assert!(
        p99 > 0.0 && p99 <= 0.0001,
        "a call takes well under 100 µs: {p99}"
    );
}
