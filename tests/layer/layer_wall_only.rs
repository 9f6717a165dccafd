//! A layer with busy time off (`with_busy_time(false)`): each span still counts as a call
//! with its exact wall time and its outcome (panics too), but no busy time, polls or slow
//! polls, and it never becomes the running call.
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::time::Duration;

use tokio::time::sleep;
use tracing_subscriber::prelude::*;

use crate::support::common::{function, init, work_for};

const MS: Duration = Duration::from_millis(1);

#[tracing::instrument]
async fn waits_then_works() {
    work_for(3 * MS);
    sleep(10 * MS).await;
    work_for(MS);
}

#[tracing::instrument(err)]
async fn fails() -> Result<(), std::io::Error> {
    work_for(2 * MS);
    Err(std::io::Error::other("no"))
}

#[tracing::instrument]
fn panics() {
    work_for(MS);
    panic!("on purpose");
}

#[taskscope::measure]
async fn measured_inside() {
    work_for(MS);
}

#[tracing::instrument]
async fn wraps_a_measured_call() {
    measured_inside().await;
}

#[tokio::test(start_paused = true)]
async fn spans_count_with_wall_time_and_outcome_but_no_busy_time() {
    if crate::support::alone(
        module_path!(),
        "spans_count_with_wall_time_and_outcome_but_no_busy_time",
    ) {
        return;
    }
    init();
    tracing_subscriber::registry()
        .with(taskscope::layer().with_busy_time(false))
        .init();

    for _ in 0..3 {
        waits_then_works().await;
    }
    let _ = fails().await;
    assert!(std::panic::catch_unwind(panics).is_err());
    wraps_a_measured_call().await;

    let f = function("waits_then_works");
    assert_eq!(f.ok.count, 3);
    assert_eq!(f.ok.wall.count(), 3);
    assert_eq!(
        Duration::from_nanos(f.ok.wall.sum),
        3 * 14 * MS,
        "wall time is exact"
    );
    assert_eq!(f.ok.busy.count(), 0, "no busy time is recorded");
    assert_eq!((f.polls(), f.slow_polls()), (0, 0));
    assert_eq!(f.busy_ratio(), None);
    assert_eq!(f.idle(), Duration::ZERO);

    let fails = function("fails");
    assert_eq!((fails.ok.count, fails.error.count), (0, 1));
    let panics = function("panics");
    assert_eq!(panics.panicked.count, 1, "a panic through the span is seen");

    // The wall-only span is not the running call: the measured call inside it is a root.
    let measured = function("measured_inside");
    assert_eq!(measured.ok.count, 1);
    assert!(
        measured
            .callers
            .iter()
            .all(|c| c.name != "wraps_a_measured_call"),
        "{:?}",
        measured.callers
    );
    assert_eq!(Duration::from_nanos(measured.ok.busy.sum), MS);
}
