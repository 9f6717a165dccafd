//! `dashboards/` proven against real Prometheus tools: the rule file passes
//! `promtool check rules` and its unit tests (`promtool test rules`), and every query of every
//! panel of every dashboard, read from the JSON files with the template variables
//! substituted, returns data from a real Prometheus that scrapes an app's endpoint and
//! evaluates the rules: one scraping the text formats (classic `le` buckets), one with
//! native histograms (the protobuf exposition), since each query reads either. A new panel
//! is covered without editing this test.
#![cfg(feature = "prometheus")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::scrape;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scrape::{Prometheus, tool, values};

fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

fn promtool(args: &[&str]) {
    let out = Command::new(tool("promtool"))
        .args(args)
        .current_dir(dashboards_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_rules_pass_promtool_and_their_unit_tests() {
    if crate::support::alone(
        module_path!(),
        "the_rules_pass_promtool_and_their_unit_tests",
    ) {
        return;
    }
    promtool(&["check", "rules", "taskscope-rules.yml"]);
    promtool(&["test", "rules", "taskscope-rules.test.yml"]);
}

/// Every `expr` in a dashboard, with the panel it belongs to.
fn exprs(value: &serde_json::Value, panel: &str, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            let title = map
                .get("title")
                .and_then(|t| t.as_str())
                .unwrap_or(panel)
                .to_owned();
            if let Some(e) = map.get("expr").and_then(|e| e.as_str()) {
                out.push((panel.to_owned(), e.to_owned()));
            }
            for v in map.values() {
                exprs(v, &title, out);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                exprs(v, panel, out);
            }
        }
        _ => {}
    }
}

/// What Grafana would put in place of each variable, for this test's app.
fn substitute(expr: &str) -> String {
    [
        ("$__rate_interval", "1m"),
        ("$__range", "1m"),
        ("$__interval", "1s"),
        ("$service", "app"),
        ("$function", "prometheus::dashboards::dashboard_fetch"),
        ("$objective", "0.999"),
        ("$latency_objective", "0.99"),
        ("$latency_threshold", "0.25"),
    ]
    .iter()
    .fold(expr.to_owned(), |e, (var, value)| e.replace(var, value))
}

#[derive(Debug, taskscope::ErrorKind)]
enum FetchError {
    Timeout,
}

#[taskscope::measure]
async fn dashboard_fetch(i: u64) -> Result<u64, FetchError> {
    tokio::task::yield_now().await;
    if i.is_multiple_of(7) {
        Err(FetchError::Timeout)
    } else {
        Ok(i)
    }
}

/// A retried operation: every third needs a second attempt, every fifth gives up after
/// two.
async fn dashboard_retry(i: u64) {
    static OP: taskscope::patterns::Retries = taskscope::patterns::Retries::new("dashboard_sync");
    let retry = OP.start();
    for n in 1..=2 {
        let ok = !i.is_multiple_of(5) && (n == 2 || !i.is_multiple_of(3));
        if retry
            .attempt(async { if ok { Ok(()) } else { Err(FetchError::Timeout) } })
            .await
            .is_ok()
        {
            break;
        }
    }
}

#[test]
fn every_dashboard_query_returns_data_from_a_real_prometheus() {
    if crate::support::alone(
        module_path!(),
        "every_dashboard_query_returns_data_from_a_real_prometheus",
    ) {
        return;
    }
    let files: Vec<PathBuf> = std::fs::read_dir(dashboards_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert!(
        files.len() >= 3,
        "the Overview, Function and Objectives dashboards"
    );
    let mut queries = Vec::new();
    for f in &files {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).expect("valid JSON");
        assert!(
            json["templating"]["list"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["type"] == "datasource"),
            "{} has a data source variable",
            f.display()
        );
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let mut found = Vec::new();
        exprs(&json["panels"], "", &mut found);
        assert!(!found.is_empty(), "{name} has queries");
        queries.extend(
            found
                .into_iter()
                .map(|(panel, e)| (format!("{name}: {panel}"), substitute(&e))),
        );
    }

    // The app: an endpoint and a workload that keeps calling while Prometheus scrapes.
    let endpoint = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            // The runtime row reads the runtime monitor's metrics.
            #[cfg(feature = "runtime")]
            let _monitor = taskscope::runtime()
                .with_runtime("app", rt.handle())
                .with_interval(Duration::from_millis(200))
                .start()
                .unwrap();
            // The patterns row reads a retried operation, a semaphore and a channel.
            let pool = taskscope::patterns::Semaphore::new("dashboard_pool", 4);
            let (tx, mut rx) = taskscope::patterns::channel::<u64>("dashboard_jobs", 8);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let _ = rt.block_on(dashboard_fetch(i));
                rt.block_on(async {
                    let _permit = pool.acquire().await.unwrap();
                    tx.send(i).await.unwrap();
                    rx.recv().await.unwrap();
                    dashboard_retry(i).await;
                });
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let rules = dashboards_dir().join("taskscope-rules.yml");
        let classic = Prometheus::scraping_with_rules(
            "dashboards-classic",
            endpoint.local_addr(),
            Some(&rules),
        );
        let native = Prometheus::scraping_with(
            "dashboards-native",
            endpoint.local_addr(),
            Some(&rules),
            &["--enable-feature=native-histograms"],
        );
        let servers = [("classic", &classic), ("native", &native)];
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut missing: Vec<(String, String, String)> = Vec::new();
        loop {
            missing.clear();
            for (panel, q) in &queries {
                for (kind, prometheus) in servers {
                    let json = prometheus.query(q);
                    let finite = values(&json)
                        .iter()
                        .any(|v| v.parse::<f64>().is_ok_and(f64::is_finite));
                    if !finite {
                        missing.push((format!("{panel} ({kind})"), q.clone(), json));
                    }
                }
            }
            if missing.is_empty() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        stop.store(true, Ordering::Relaxed);
        // Each server read its own kind of histogram: the queries' other branch was empty.
        let series = |p: &Prometheus, q: &str| values(&p.query(q)).len();
        assert!(series(&native, "histogram_count(function_calls_duration_seconds)") > 0);
        assert_eq!(series(&native, "function_calls_duration_seconds_bucket"), 0);
        assert_eq!(
            series(&classic, "histogram_count(function_calls_duration_seconds)"),
            0
        );
        assert!(series(&classic, "function_calls_duration_seconds_bucket") > 0);
        assert!(
            missing.is_empty(),
            "queries without data after 90 s:\n{}",
            missing
                .iter()
                .map(|(p, q, j)| format!("- {p}\n  {q}\n  {j}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    });
}
