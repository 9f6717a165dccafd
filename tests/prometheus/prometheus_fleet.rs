//! The fleet view, `taskscope top --prometheus URL`: three instances of an example app,
//! scraped by a real Prometheus; the dashboard reads them back through the HTTP API and
//! shows, per service, the sum of the instances' own numbers, with percentiles in the
//! buckets Prometheus's own `histogram_quantile` gives for the merged histograms; per
//! instance with `--by-instance`; an unreachable server is a status line.
#![cfg(all(feature = "prometheus", feature = "receiver", feature = "cli"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::cli;
use crate::support::scrape::{Prometheus, first_value, get};

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An instance of the `prometheus` example making exactly `calls` calls, then serving.
struct Instance {
    addr: SocketAddr,
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn instance(calls: u64) -> Instance {
    let addr: SocketAddr = ([127, 0, 0, 1], cli::free_port()).into();
    let child = Command::new(cli::example("prometheus"))
        .args(["600", &addr.to_string(), &calls.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("the example starts");
    Instance { addr, child }
}

/// The calls of `lookup` an instance's own endpoint reports, all outcomes.
fn own_calls(addr: SocketAddr) -> Option<u64> {
    std::net::TcpStream::connect(addr).ok()?;
    let (status, _, body) = get(addr, "/metrics", None);
    (status == 200).then(|| {
        body.lines()
            .filter(|l| l.starts_with("function_calls_total{") && l.contains("lookup"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    })
}

fn top_json(url: &str, extra: &[&str]) -> serde_json::Value {
    let args = [
        "top",
        "--no-tui",
        "--json",
        "--prometheus",
        url,
        "--duration",
        "2500ms",
    ];
    let pace = ["--interval", "1s", "--refresh", "500ms"];
    cli::last_json_line(args.iter().chain(&pace).chain(extra))
}

fn functions<'a>(json: &'a serde_json::Value, name: &str) -> Vec<&'a serde_json::Value> {
    json["functions"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["function"] == name).collect())
        .unwrap_or_default()
}

#[test]
fn the_fleet_view_sums_the_instances_a_real_prometheus_scrapes() {
    if crate::support::alone(
        module_path!(),
        "the_fleet_view_sums_the_instances_a_real_prometheus_scrapes",
    ) {
        return;
    }
    let calls = [30u64, 50, 70];
    let instances: Vec<Instance> = calls.iter().map(|&n| instance(n)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for (i, &n) in instances.iter().zip(&calls) {
        while own_calls(i.addr) != Some(n) {
            assert!(Instant::now() < deadline, "{} never made {n} calls", i.addr);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let targets: Vec<SocketAddr> = instances.iter().map(|i| i.addr).collect();
    let prometheus = Prometheus::scraping_all("fleet", &targets, None, &[]);
    let total = calls.iter().sum::<u64>() as f64;
    while prometheus.wait_for_value("sum(function_calls_total)") != total {
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw all {total} calls"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let url = format!("http://{}", prometheus.addr);

    let json = top_json(&url, &[]);
    let rows = functions(&json, "lookup");
    assert_eq!(rows.len(), 1, "one row for the service: {json}");
    let lookup = rows[0];
    assert_eq!(lookup["service"], "app", "the scrape job is the service");
    assert_eq!(lookup["module"], "prometheus");
    assert_eq!(
        lookup["calls"].as_u64(),
        Some(150),
        "the sum of the instances: {lookup}"
    );
    // Every 50th call of each instance is NotFound, the one after it Timeout.
    let errors: u64 = calls.iter().map(|n| n.div_ceil(50) + (n + 48) / 50).sum();
    assert_eq!(lookup["error"].as_u64(), Some(errors), "{lookup}");
    // The median, interpolated in the merged classic buckets, as Prometheus does.
    let p50 = lookup["latency_seconds"]["p50"].as_f64().unwrap();
    let theirs = first_value(
        &prometheus
            .query("histogram_quantile(0.5, sum by (le) (function_calls_duration_seconds_bucket))"),
    )
    .unwrap();
    assert!(
        (p50 - theirs).abs() <= 0.0025,
        "taskscope's p50 {p50} against Prometheus's {theirs}"
    );
    assert!(
        json["connection"].as_str().unwrap().starts_with("live"),
        "{json}"
    );

    let json = top_json(&url, &["--by-instance"]);
    let mut each: Vec<(String, u64)> = functions(&json, "lookup")
        .iter()
        .map(|f| {
            (
                f["service"].as_str().unwrap().to_string(),
                f["calls"].as_u64().unwrap(),
            )
        })
        .collect();
    each.sort_by_key(|(_, n)| *n);
    let expected: Vec<(String, u64)> = targets
        .iter()
        .zip(&calls)
        .map(|(a, &n)| (format!("app · {a}"), n))
        .collect();
    assert_eq!(each, expected, "one row per instance");

    // A server that is not there: a status line, and the run goes on to its end.
    drop(prometheus);
    let gone = top_json(&url, &[]);
    assert_eq!(gone["connection"], "unreachable", "{gone}");
    let why = gone["last_rejection"].as_str().unwrap_or_default();
    assert!(why.contains(&url), "{gone}");
}
