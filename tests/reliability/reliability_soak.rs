//! The soak of `examples/soak.rs`, short, in CI: 8 tasks call measured functions (ok, errors
//! of two kinds, cancelled, panicked) as fast as they can for 3.5 s on a multi-thread runtime,
//! exporting over OTLP to a real collector (rotel) and to the dashboard's receiver, with the
//! Prometheus endpoint scraped by ten threads at once from 1 s on. Not one call is lost: per
//! function and outcome, the calls issued (plain local counters) equal the snapshot, the
//! receiver, the collector's final cumulative totals and a scrape. Every scrape during the
//! storm parses and holds consistent histograms, every task keeps making progress, and
//! resident memory stays flat after warm-up.
//!
//! The long run is the example, by hand: `cargo run --release --example soak -- --duration 10m`.
#![cfg(all(feature = "otlp", feature = "prometheus", feature = "receiver"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector;
#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/soak.rs"]
mod soak;

use std::time::Duration;

use collector::{Collector, find};
use taskscope::Protocol;

/// Resident memory may grow by this much from the end of warm-up (1.5 s: the scrapers have
/// run for 0.5 s) to the end. What can still grow after warm-up: the recorder's histogram
/// chunks (512 B each, bounded by its layout, at most 3 functions x 4 outcomes x 2
/// distributions x 37 chunks x 16 thread slots = 2.3 MB, in practice a few tens of KB as
/// rarer durations show up), and the allocator's per-thread arenas holding freed scrape
/// bodies and export buffers of up to 12 threads (10 scrapers, the endpoint, the exporters).
/// A leak proportional to calls (hundreds of millions in a long run; millions here) or to
/// scrapes (thousands here, ~50 KB each) would exceed it at once.
const RSS_GROWTH_BOUND: u64 = 8 << 20;

#[test]
fn soak_loses_no_call_anywhere_and_scrapes_stay_consistent() {
    if crate::support::alone(
        module_path!(),
        "soak_loses_no_call_anywhere_and_scrapes_stay_consistent",
    ) {
        return;
    }
    let c = Collector::start("soak");
    let cfg = soak::Config {
        duration: Duration::from_millis(3500),
        tasks: 8,
        otlp: vec![
            taskscope::otlp()
                .with_endpoint(c.grpc_url())
                .with_protocol(Protocol::Grpc)
                .with_interval(Duration::from_millis(500)),
        ],
        receiver: true,
        interval: Duration::from_millis(500),
        scrapers: 10,
        scrape_interval: Duration::ZERO,
        scrapers_from: Duration::from_secs(1),
        warmup: Duration::from_millis(1500),
        ..soak::Config::default()
    };
    let report = soak::run(&cfg);

    // Every outcome happened, on every task.
    for (f, per_outcome) in soak::FUNCTIONS.iter().zip(report.issued.0) {
        assert!(per_outcome.iter().sum::<u64>() > 0, "{f} was never called");
    }
    assert!(report.issued.0[0][1] > 0 && report.issued.0[0][2] > 0);
    assert!(report.issued.0[1][3] > 0 && report.issued.0[2][4] > 0);
    assert!(
        report.per_task.iter().all(|&n| n > 0),
        "{:?}",
        report.per_task
    );

    // Not one call lost: the snapshot, the receiver and the final scrape.
    for row in &report.rows {
        assert_eq!(row.snapshot, row.issued, "snapshot: {row:?}");
        assert_eq!(row.receiver, Some(row.issued), "receiver: {row:?}");
        assert_eq!(row.scrape, row.issued, "scrape: {row:?}");
    }
    assert_eq!(report.lost(), 0);
    for &(function, snapshot, receiver) in &report.in_flight {
        assert_eq!((snapshot, receiver), (0, Some(0)), "{function} in flight");
    }
    let e = report.exports;
    assert_eq!(
        (e.failed_attempts, e.dropped_batches, e.dropped_points),
        (0, 0, 0),
        "{e:?} {:?}",
        taskscope::last_export_error()
    );
    assert_eq!(report.receiver_rejected, Some((0, 0)));

    // And the collector's final cumulative totals (the exporter's last export, on drop).
    let issued: Vec<_> = (report.rows.iter())
        .map(|r| (r.function, r.outcome, r.issued))
        .collect();
    let points = c.wait_for_calls("soak_fetch", &issued);
    for f in soak::FUNCTIONS {
        let gauge = find(&points, "function.calls.concurrent", &[("function", f)]);
        assert_eq!(gauge.len(), 1, "{f}");
        assert_eq!(gauge[0].value, Some(0.0), "{f} in flight at the collector");
    }

    // The scrape storm: every scrape arrived and parsed, every histogram in every scrape was
    // consistent (cumulative buckets non-decreasing in `le`, `+Inf` equal to `_count`).
    let s = &report.scrapes;
    assert!(s.scrapes >= 10, "{s:?}");
    assert_eq!(s.failures, 0, "{:?}", s.failure_text);
    assert!(s.histograms >= 12 * s.scrapes, "{s:?}");
    // `function_calls_total` against the duration histogram's `_count` in the same scrape:
    // for ok, cancelled and panicked both come from one histogram reading and agree. For
    // errors, the calls are split by kind from per-kind counters, which a call bumps before
    // its histogram and a reading reads after the histograms (`FunctionState::read`): during
    // the load a scrape may count a few more errors by kind than the histogram's `_count`,
    // never fewer, so a `taskscope_outcome="error"` sample without `error_type` never appears.
    for d in &s.calls_vs_count_seen {
        assert_eq!(d.outcome, "error", "{d:?}");
        assert!(d.calls > d.count, "fewer errors by kind than calls: {d:?}");
    }
    assert_eq!(
        s.unlabelled_errors, 0,
        "an error sample without its kind appeared"
    );

    // Recording threads never waited for the scrapers: every task's published progress
    // (every 256 rounds) moved within every 500 ms while they ran. Loose on purpose: a round
    // of 256 calls takes well under a millisecond.
    assert!(
        report.max_stall_scraping < Duration::from_millis(500),
        "a task stood still for {:?} during the scrape storm",
        report.max_stall_scraping
    );

    // Memory flat after warm-up.
    let growth = report.rss_end.saturating_sub(report.rss_warm);
    assert!(
        growth < RSS_GROWTH_BOUND,
        "resident memory grew by {growth} B after warm-up ({} -> {})",
        report.rss_warm,
        report.rss_end
    );

    println!(
        "figures: calls/s {:.0} without scrapers, {:.0} with 10 ({:.0} %); rss {} KiB -> {} KiB; \
         recorder {} B -> {} B; scrapes {}, calls-vs-count differences {} ({} unlabelled error \
         samples); longest stall {:?} ({:?} while scraping)",
        report.without_scrapers.per_second(),
        report.with_scrapers.per_second(),
        100.0 * report.with_scrapers.per_second() / report.without_scrapers.per_second(),
        report.rss_warm / 1024,
        report.rss_end / 1024,
        report.heap_warm,
        report.heap_end,
        s.scrapes,
        s.calls_vs_count,
        s.unlabelled_errors,
        report.max_stall,
        report.max_stall_scraping,
    );
}
