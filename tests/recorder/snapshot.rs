//! Reading back: percentiles, deltas between snapshots, the sampler, the report.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::time::Duration;

use common::{assert_about, function, init};
use tokio::time::sleep;

#[taskscope::measure]
async fn spread(ms: u64) -> Result<(), std::io::Error> {
    sleep(Duration::from_millis(ms)).await;
    if ms == 1000 {
        Err(std::io::ErrorKind::TimedOut.into())
    } else {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn percentiles_and_success_rate() {
    if crate::support::alone(module_path!(), "percentiles_and_success_rate") {
        return;
    }
    init();
    for ms in 1..=100 {
        spread(ms * 2).await.unwrap();
    }
    spread(1000).await.unwrap_err();
    let f = function("spread");
    let wall = f.wall();
    assert_eq!(wall.count(), 101);
    assert_about(wall.p50(), Duration::from_millis(102));
    assert_about(wall.p90(), Duration::from_millis(182));
    assert_about(wall.p99(), Duration::from_millis(200));
    assert_about(wall.max(), Duration::from_millis(1000));
    assert_about(f.error.wall.max(), Duration::from_millis(1000));
    let rate = f.success_rate().unwrap();
    assert!((rate - 100.0 / 101.0).abs() < 1e-9);
}

#[taskscope::measure]
async fn ticking() {
    sleep(Duration::from_millis(10)).await;
}

#[tokio::test(start_paused = true)]
async fn the_sampler_gives_per_interval_deltas_and_rates() {
    if crate::support::alone(
        module_path!(),
        "the_sampler_gives_per_interval_deltas_and_rates",
    ) {
        return;
    }
    init();
    let mut sampler = taskscope::Sampler::new();
    let _ = sampler.sample();
    for _ in 0..50 {
        ticking().await; // 50 calls over 500 ms
    }
    let first = sampler.sample();
    let d = first.delta.function("ticking").unwrap();
    assert_eq!(d.calls(), 50);
    assert_about(first.delta.window, Duration::from_millis(500));
    let rate = d.calls_per_second(first.delta.window);
    assert!((rate - 100.0).abs() < 1.0, "{rate} calls/s");

    for _ in 0..10 {
        ticking().await;
    }
    let second = sampler.sample();
    assert_eq!(second.delta.function("ticking").unwrap().calls(), 10);
    assert_eq!(second.cumulative.function("ticking").unwrap().calls(), 60);
    assert_eq!(second.delta.function("ticking").unwrap().wall().count(), 10);
}

#[taskscope::measure]
async fn sleeps_for(ms: u64) {
    sleep(Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn a_delta_of_histograms_subtracts_bucket_by_bucket() {
    if crate::support::alone(
        module_path!(),
        "a_delta_of_histograms_subtracts_bucket_by_bucket",
    ) {
        return;
    }
    init();
    sleeps_for(5).await;
    let before = taskscope::snapshot();
    sleeps_for(50).await;
    let after = taskscope::snapshot();
    let d = after.delta(&before);
    let w = d.function("sleeps_for").unwrap().ok.wall.clone();
    assert_eq!(w.count(), 1);
    assert_about(w.max(), Duration::from_millis(50));
    assert_about(w.p50(), Duration::from_millis(50));
}

#[taskscope::measure(name = "shared_name")]
fn shared_a() {}

mod other {
    #[taskscope::measure(name = "shared_name")]
    pub(super) fn shared_b() {}
}

#[taskscope::measure(name = "shared_name")]
fn shared_c() {}

#[test]
fn callsites_sharing_a_name_and_module_report_as_one_function() {
    if crate::support::alone(
        module_path!(),
        "callsites_sharing_a_name_and_module_report_as_one_function",
    ) {
        return;
    }
    init();
    shared_a();
    shared_c();
    other::shared_b();
    let snap = taskscope::snapshot();
    let here = snap.function_in(module_path!(), "shared_name").unwrap();
    assert_eq!(here.ok.count, 2);
    let there = snap
        .function_in(concat!(module_path!(), "::other"), "shared_name")
        .unwrap();
    assert_eq!(there.ok.count, 1);
}

#[taskscope::measure]
fn reported() -> Result<(), String> {
    Err("x".into())
}

#[test]
fn the_report_has_one_row_per_function_with_outcomes() {
    if crate::support::alone(
        module_path!(),
        "the_report_has_one_row_per_function_with_outcomes",
    ) {
        return;
    }
    init();
    reported().unwrap_err();
    let _ = reported();
    let text = taskscope::report().to_string();
    let header = text.lines().next().unwrap();
    for col in [
        "function",
        "calls",
        "ok",
        "errors",
        "cancelled",
        "panicked",
        "success",
        "mean",
        "p50",
        "p99",
        "max",
    ] {
        assert!(header.contains(col), "{col} missing from {header}");
    }
    let row = text
        .lines()
        .find(|l| l.contains("::reported "))
        .expect("a row for reported");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..7], ["2", "0", "2", "0", "0", "0.00%"]);
}
