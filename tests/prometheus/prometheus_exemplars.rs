//! OpenMetrics exemplars: with an OTLP exporter sampling calls as spans, the endpoint shows
//! the latest sampled call of each function and outcome on its bucket, and a real
//! Prometheus (with exemplar storage on) stores it. Its own binary: sampling is process-wide.
#![cfg(all(feature = "prometheus", feature = "otlp"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::scrape;

use std::time::{Duration, Instant};

use scrape::{Prometheus, get};

#[taskscope::measure]
fn with_exemplar(n: u64) -> u64 {
    let spin = Instant::now();
    while spin.elapsed() < Duration::from_micros(300) {}
    n
}

#[test]
fn sampled_calls_are_exemplars_on_their_buckets() {
    if crate::support::alone(
        module_path!(),
        "sampled_calls_are_exemplars_on_their_buckets",
    ) {
        return;
    }
    // Spans go to a port where nothing listens: sampling is what matters here.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _exporter = taskscope::otlp()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_trace_sampling(1.0)
        .with_max_attempts(1)
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    let endpoint = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .unwrap();
    with_exemplar(1);

    let (_, _, body) = get(
        endpoint.local_addr(),
        "/metrics",
        Some("application/openmetrics-text"),
    );
    let line = body
        .lines()
        .find(|l| {
            l.starts_with(
                "function_calls_duration_seconds_bucket{code_function_name=\"prometheus::prometheus_exemplars::with_exemplar\"",
            )
                && l.contains(" # {")
        })
        .unwrap_or_else(|| panic!("no exemplar:\n{body}"));
    assert!(
        line.contains("le=\"0.0005\""),
        "300 µs is in the 500 µs bucket: {line}"
    );
    let trace = line.split("trace_id=\"").nth(1).unwrap()[..32].to_owned();
    let (_, _, text) = get(endpoint.local_addr(), "/metrics", None);
    assert!(
        !text.contains(" # {"),
        "the text format carries no exemplars"
    );

    let p = Prometheus::scraping_with(
        "exemplars",
        endpoint.local_addr(),
        None,
        &["--enable-feature=exemplar-storage"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let json = p.api(
            "query_exemplars",
            r#"function_calls_duration_seconds_bucket{code_function_name="prometheus::prometheus_exemplars::with_exemplar"}"#,
        );
        if json.contains(&trace) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus stored no exemplar with trace {trace}: {json}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
