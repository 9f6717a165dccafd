//! Wall time versus busy time, polls and slow polls, under tokio's paused clock.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::time::Duration;

use common::{Blocking, assert_about, function, init, work_for};
use tokio::time::sleep;

#[taskscope::measure]
async fn waits_100ms() {
    sleep(Duration::from_millis(100)).await;
}

#[tokio::test(start_paused = true)]
async fn a_call_that_awaits_a_sleep_is_long_in_wall_time_and_short_in_busy_time() {
    if crate::support::alone(
        module_path!(),
        "a_call_that_awaits_a_sleep_is_long_in_wall_time_and_short_in_busy_time",
    ) {
        return;
    }
    init();
    waits_100ms().await;
    let f = function("waits_100ms");
    assert_about(f.wall().max(), Duration::from_millis(100));
    assert_eq!(
        f.busy().max(),
        Duration::ZERO,
        "the paused clock never moves inside a poll"
    );
    assert_eq!(f.ok.polls, 2, "one poll to start the sleep, one to finish");
    assert_eq!(f.busy_ratio(), Some(0.0));
}

#[taskscope::measure]
async fn three_slow_polls_of_20ms() {
    Blocking {
        polls_left: 2,
        per_poll: Duration::from_millis(20),
    }
    .await
}

#[taskscope::measure]
async fn four_fast_polls() {
    Blocking {
        polls_left: 3,
        per_poll: Duration::from_millis(1),
    }
    .await
}

#[tokio::test(start_paused = true)]
async fn busy_time_polls_and_slow_polls_are_counted() {
    if crate::support::alone(module_path!(), "busy_time_polls_and_slow_polls_are_counted") {
        return;
    }
    init();
    three_slow_polls_of_20ms().await;
    let f = function("three_slow_polls_of_20ms");
    assert_eq!(f.ok.polls, 3);
    assert_eq!(
        f.ok.slow_polls, 3,
        "each 20 ms poll is over the 10 ms threshold"
    );
    assert_about(f.busy().max(), Duration::from_millis(60));

    four_fast_polls().await;
    let g = function("four_fast_polls");
    assert_eq!((g.ok.polls, g.ok.slow_polls), (4, 0));
    assert_about(g.busy().max(), Duration::from_millis(4));
}

#[taskscope::measure]
fn sync_work() -> u64 {
    work_for(Duration::from_millis(15));
    7
}

#[tokio::test(start_paused = true)]
async fn a_plain_function_is_busy_for_all_its_wall_time_and_has_no_polls() {
    if crate::support::alone(
        module_path!(),
        "a_plain_function_is_busy_for_all_its_wall_time_and_has_no_polls",
    ) {
        return;
    }
    init();
    sync_work();
    let f = function("sync_work");
    assert_about(f.wall().max(), Duration::from_millis(15));
    assert_eq!(f.wall().max(), f.busy().max());
    assert_eq!((f.ok.polls, f.ok.slow_polls), (0, 0));
}
