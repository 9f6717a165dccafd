//! `patterns::interval`.

use std::time::Duration;

use taskscope::Pattern;
use taskscope::patterns::{Interval, MISSED_TICK_KIND, interval};
use tokio::time::{MissedTickBehavior, sleep};

use crate::support::common::{assert_about, function, init, outcomes};

#[tokio::test(start_paused = true)]
async fn drift_and_missed_ticks() {
    init();
    let mut every = interval("interval_skip", Duration::from_millis(100));
    every.tick().await; // due at 0
    every.tick().await; // due at 100
    // The job overruns: 250 ms of work from 100 ms. The tick due at 200 fires late, at
    // 350; Skip then skips the one due at 300, and the next fires on time at 400.
    sleep(Duration::from_millis(250)).await;
    every.tick().await;
    every.tick().await;
    let f = function("interval_skip");
    assert_eq!(f.pattern, Pattern::Interval);
    assert_eq!(outcomes("interval_skip"), (4, 1, 0, 0));
    assert_eq!(
        f.error_kind_count(MISSED_TICK_KIND),
        1,
        "the tick due at 300"
    );
    assert_about(f.ok.wall.max(), Duration::from_millis(150));
    assert_eq!(f.ok.wall.min(), Duration::ZERO, "the others fired when due");
}

#[tokio::test(start_paused = true)]
async fn a_late_tick_shows_its_drift_with_delay() {
    init();
    let mut inner = tokio::time::interval(Duration::from_millis(100));
    inner.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut every = Interval::wrap("interval_delay", inner);
    every.tick().await; // due at 0
    sleep(Duration::from_millis(130)).await;
    every.tick().await; // due at 100, fires at 130
    every.tick().await; // due at 230
    assert_eq!(
        outcomes("interval_delay"),
        (3, 0, 0, 0),
        "Delay misses none"
    );
    assert_about(
        function("interval_delay").wall().max(),
        Duration::from_millis(30),
    );
}
