//! The collector is down when the app starts and comes up later; then it is killed and
//! restarted mid-run. The app never waits, the final cumulative totals at the collector equal
//! the calls made, and the drop counter (in the snapshot and exported) tells the truth.
//! One test: the export counters are process-wide.
#![cfg(feature = "otlp")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector;

use std::time::{Duration, Instant};

use collector::{Collector, Point, find};

#[taskscope::measure]
fn survives_outages(n: u64) -> u64 {
    n + 1
}

fn calls(n: u64) {
    for i in 0..n {
        std::hint::black_box(survives_outages(i));
    }
}

/// Waits (real time) until the exporter has dropped more than `than` batches.
fn wait_for_drops(than: u64) -> taskscope::ExportStats {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = taskscope::snapshot().exports;
        if stats.dropped_batches > than {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "no export was dropped in 30 s: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ok_calls(points: &[Point]) -> f64 {
    let found = find(
        points,
        "function.calls",
        &[
            ("function", "survives_outages"),
            ("taskscope.outcome", "ok"),
        ],
    );
    assert_eq!(found.len(), 1);
    found[0].value.unwrap()
}

fn dropped_points(points: &[Point]) -> f64 {
    find(points, "taskscope.export.dropped", &[])[0]
        .value
        .unwrap()
}

#[test]
fn outages_lose_no_count_and_every_drop_is_counted() {
    if crate::support::alone(
        module_path!(),
        "outages_lose_no_count_and_every_drop_is_counted",
    ) {
        return;
    }
    // Down at start: the exporter starts anyway and the app runs.
    let mut c = Collector::not_started("faults");
    let exporter = taskscope::otlp()
        .with_endpoint(c.grpc_url())
        .with_interval(Duration::from_millis(200))
        .with_max_attempts(2)
        .with_timeout(Duration::from_secs(2))
        .try_start()
        .expect("starts while the collector is down");
    let started = Instant::now();
    calls(100);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "calls never wait for export"
    );
    let down = wait_for_drops(0);
    assert!(
        down.failed_attempts >= 2 && down.dropped_points > 0,
        "{down:?}"
    );
    assert!(taskscope::last_export_error().is_some());

    // It comes up: the next export carries all the calls, and the loss so far.
    c.restart();
    calls(50);
    let after = exporter.flush().expect("flushed once the collector is up");
    let (_, points) = c.wait_for_export("survives_outages", |p| ok_calls(p) == 150.0);
    assert_eq!(
        dropped_points(&points),
        after.dropped_points as f64,
        "the exported counter is the snapshot's"
    );
    assert!(after.exports >= 1);

    // Killed mid-run, then restarted on the same ports.
    c.kill();
    calls(100);
    wait_for_drops(after.dropped_batches);
    c.restart();
    calls(100);
    let end = exporter.shutdown().expect("the last export finishes");
    // The final totals equal the calls made (waits for them, failing after 20 s).
    let (_, points) = c.wait_for_export("survives_outages", |p| ok_calls(p) == 350.0);
    assert_eq!(dropped_points(&points), end.dropped_points as f64);
    assert!(end.dropped_batches > after.dropped_batches, "{end:?}");
}
