//! The collector killed and restarted in the middle of the soak of `examples/soak.rs` (8 tasks
//! calling measured functions as fast as they can, cumulative OTLP over HTTP/protobuf every
//! 200 ms): the tasks never wait for it, exports fail and are dropped and counted while it is
//! down, and once it is back the final cumulative totals at the collector equal the calls
//! made, exactly, per function and outcome. The drop counter is honest: every dropped batch
//! is counted with its data points, and the collector receives the same count.
//! One test: the export counters are process-wide.
#![cfg(all(feature = "otlp", feature = "prometheus", feature = "receiver"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector;
#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/soak.rs"]
mod soak;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use collector::{Collector, find};
use taskscope::{ExportStats, Protocol};

/// Polls the export counters (real time) until `done` holds, failing after 30 s.
fn wait_for_stats(what: &str, done: impl Fn(&ExportStats) -> bool) -> ExportStats {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = taskscope::snapshot().exports;
        if done(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 30 s: {stats:?} {:?}",
            taskscope::last_export_error()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_collector_restart_mid_soak_loses_no_call_and_every_drop_is_counted() {
    if crate::support::alone(
        module_path!(),
        "a_collector_restart_mid_soak_loses_no_call_and_every_drop_is_counted",
    ) {
        return;
    }
    let mut c = Collector::start("restart");
    let hold = Arc::new(AtomicBool::new(true));
    let cfg = soak::Config {
        // The load runs until the outage is over (`hold`), at least this long.
        duration: Duration::from_millis(500),
        hold: Some(Arc::clone(&hold)),
        tasks: 8,
        otlp: vec![
            taskscope::otlp()
                .with_endpoint(c.http_url())
                .with_protocol(Protocol::HttpProtobuf)
                .with_interval(Duration::from_millis(200))
                .with_max_attempts(2)
                .with_timeout(Duration::from_secs(1)),
        ],
        receiver: false,
        scrapers: 0,
        warmup: Duration::from_millis(500),
        print: true,
        ..soak::Config::default()
    };

    let (report, calls_while_down, down_stats, up_stats) = std::thread::scope(|s| {
        let load = s.spawn(|| soak::run(&cfg));
        // Up: an export arrives.
        let first = wait_for_stats("a first export", |e| e.exports >= 1);
        assert_eq!(first.dropped_batches, 0, "{first:?}");
        c.wait_for_export("soak_fetch", |_| true);

        // Killed mid-soak: attempts fail, batches are dropped (two in a row, so the outage
        // spans several export intervals), and the calls go on.
        c.kill();
        let calls_at_kill = taskscope::snapshot().calls();
        let down = wait_for_stats("two batches dropped", |e| {
            e.dropped_batches >= first.dropped_batches + 2
        });
        assert!(
            down.failed_attempts >= 4,
            "two attempts per dropped batch: {down:?}"
        );
        let calls_while_down = taskscope::snapshot().calls() - calls_at_kill;

        // Restarted on the same ports: exports succeed again.
        c.restart();
        let calls_at_restart = taskscope::snapshot().calls();
        let up = wait_for_stats("two exports after the restart", |e| {
            e.exports >= down.exports + 2
        });
        hold.store(false, Ordering::Relaxed);
        let report = load.join().expect("the soak ran");
        assert!(
            report.issued.total() > calls_at_restart,
            "the load went on after the restart"
        );
        (report, calls_while_down, down, up)
    });

    // The app went on while the collector was down, and lost nothing anywhere.
    assert!(calls_while_down > 0);
    assert!(
        report.max_stall < Duration::from_millis(500),
        "a task stood still for {:?}",
        report.max_stall
    );
    for row in &report.rows {
        assert_eq!(row.snapshot, row.issued, "snapshot: {row:?}");
        assert_eq!(row.scrape, row.issued, "scrape: {row:?}");
    }

    // The final cumulative totals at the collector equal the calls made (the exporter's last
    // export, sent on drop at the end of the soak).
    let issued: Vec<_> = (report.rows.iter())
        .map(|r| (r.function, r.outcome, r.issued))
        .collect();
    let points = c.wait_for_calls("soak_fetch", &issued);

    // The drop counter is honest. Nothing was dropped after the restart; every batch dropped
    // was one whole export of the same shape (every function and outcome was seen in the
    // first milliseconds), so the points dropped are the batches dropped times the points of
    // one export as the collector received it; and the collector holds the same count.
    let end = report.exports;
    assert_eq!(
        (end.dropped_batches, end.dropped_points),
        (up_stats.dropped_batches, up_stats.dropped_points),
        "{end:?}"
    );
    assert!(
        end.dropped_batches >= 2 && end.failed_attempts >= 4,
        "{end:?}"
    );
    assert_eq!(end.dropped_spans, 0);
    let per_export = points.len() as u64;
    assert_eq!(
        end.dropped_points,
        end.dropped_batches * per_export,
        "{end:?}, {per_export} points per export"
    );
    let exported = find(&points, "taskscope.export.dropped", &[]);
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].value, Some(end.dropped_points as f64));

    println!(
        "figures: {} calls ({:.0}/s), {} while the collector was down; down: {down_stats:?}; \
         end: {end:?}; {per_export} points per export",
        report.issued.total(),
        report.issued.total() as f64 / report.elapsed.as_secs_f64(),
        calls_while_down,
    );
}
