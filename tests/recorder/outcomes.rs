//! Exactly one outcome per call: ok, error, cancelled, panicked; in-flight back to zero.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::time::Duration;

use common::{assert_about, function, init, outcomes};
use tokio::time::sleep;

#[taskscope::measure]
async fn succeeds() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[taskscope::measure]
async fn fails() -> Result<u32, std::io::Error> {
    Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow"))
}

#[taskscope::measure]
async fn select_loser() {
    sleep(Duration::from_secs(10)).await;
}

#[taskscope::measure]
async fn times_out() -> u32 {
    sleep(Duration::from_secs(10)).await;
    1
}

#[taskscope::measure]
async fn aborted() {
    sleep(Duration::from_secs(10)).await;
}

#[taskscope::measure]
async fn panics_after_a_wait(n: u32) -> u32 {
    sleep(Duration::from_millis(5)).await;
    if n > 0 {
        panic!("boom {n}");
    }
    n
}

#[taskscope::measure]
fn panics_sync() -> u32 {
    panic!("sync boom")
}

#[tokio::test(start_paused = true)]
async fn ok_and_error_are_told_apart_by_the_returned_value() {
    if crate::support::alone(
        module_path!(),
        "ok_and_error_are_told_apart_by_the_returned_value",
    ) {
        return;
    }
    init();
    for _ in 0..3 {
        succeeds().await.unwrap();
    }
    fails().await.unwrap_err();
    assert_eq!(outcomes("succeeds"), (3, 0, 0, 0));
    assert_eq!(outcomes("fails"), (0, 1, 0, 0));
    assert_eq!(function("fails").error_kinds[0].kind, "TimedOut");
}

#[tokio::test(start_paused = true)]
async fn a_select_loser_is_cancelled_with_its_wall_time() {
    if crate::support::alone(
        module_path!(),
        "a_select_loser_is_cancelled_with_its_wall_time",
    ) {
        return;
    }
    init();
    tokio::select! {
        _ = select_loser() => unreachable!("the sleep is longer"),
        _ = sleep(Duration::from_millis(30)) => {}
    }
    assert_eq!(outcomes("select_loser"), (0, 0, 1, 0));
    let f = function("select_loser");
    assert_about(f.cancelled.wall.max(), Duration::from_millis(30));
    assert_eq!(f.in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_fired_timeout_cancels_the_call() {
    if crate::support::alone(module_path!(), "a_fired_timeout_cancels_the_call") {
        return;
    }
    init();
    let r = tokio::time::timeout(Duration::from_millis(250), times_out()).await;
    assert!(r.is_err());
    assert_eq!(outcomes("times_out"), (0, 0, 1, 0));
    assert_about(
        function("times_out").cancelled.wall.max(),
        Duration::from_millis(250),
    );
}

#[tokio::test(start_paused = true)]
async fn an_aborted_task_is_cancelled_and_leaves_nothing_in_flight() {
    if crate::support::alone(
        module_path!(),
        "an_aborted_task_is_cancelled_and_leaves_nothing_in_flight",
    ) {
        return;
    }
    init();
    let handle = tokio::spawn(aborted());
    sleep(Duration::from_millis(1)).await;
    assert_eq!(function("aborted").in_flight, 1, "the task has started");
    handle.abort();
    assert!(handle.await.unwrap_err().is_cancelled());
    assert_eq!(outcomes("aborted"), (0, 0, 1, 0));
    assert_eq!(function("aborted").in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_recorded_and_propagates_unchanged_to_the_task_boundary() {
    if crate::support::alone(
        module_path!(),
        "a_panic_is_recorded_and_propagates_unchanged_to_the_task_boundary",
    ) {
        return;
    }
    init();
    let err = tokio::spawn(panics_after_a_wait(7)).await.unwrap_err();
    assert!(err.is_panic());
    let payload = err.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("boom 7")
    );
    // And a normal call of the same function still works.
    assert_eq!(panics_after_a_wait(0).await, 0);
    assert_eq!(outcomes("panics_after_a_wait"), (1, 0, 0, 1));
    let f = function("panics_after_a_wait");
    assert_about(f.panicked.wall.max(), Duration::from_millis(5));
    assert_eq!(f.panicked.polls, 2);
    assert_eq!(f.in_flight, 0);
}

#[test]
fn a_panicking_plain_function_is_recorded_once() {
    if crate::support::alone(
        module_path!(),
        "a_panicking_plain_function_is_recorded_once",
    ) {
        return;
    }
    init();
    let caught = std::panic::catch_unwind(panics_sync);
    assert!(caught.is_err());
    assert_eq!(outcomes("panics_sync"), (0, 0, 0, 1));
    assert_eq!(function("panics_sync").in_flight, 0);
}

#[taskscope::measure]
async fn pending_forever() {
    std::future::pending::<()>().await
}

#[tokio::test(start_paused = true)]
async fn in_flight_counts_calls_in_progress_and_returns_to_zero() {
    if crate::support::alone(
        module_path!(),
        "in_flight_counts_calls_in_progress_and_returns_to_zero",
    ) {
        return;
    }
    init();
    let tasks: Vec<_> = (0..5).map(|_| tokio::spawn(pending_forever())).collect();
    tokio::task::yield_now().await;
    sleep(Duration::from_millis(1)).await;
    assert_eq!(function("pending_forever").in_flight, 5);
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    let f = function("pending_forever");
    assert_eq!((f.in_flight, f.cancelled.count), (0, 5));
}

#[taskscope::measure]
async fn never_polled() {}

#[tokio::test]
async fn a_future_dropped_before_its_first_poll_never_started() {
    if crate::support::alone(
        module_path!(),
        "a_future_dropped_before_its_first_poll_never_started",
    ) {
        return;
    }
    init();
    drop(never_polled());
    assert!(taskscope::snapshot().function("never_polled").is_none());
}
