//! `#[measure(scheduling)]`: every wait from a wake to the call's next poll is recorded
//! for the function, the delay the runtime adds; without the option, nothing is.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::time::Duration;

use tokio::sync::mpsc;

use crate::support::common::{self, with_held_wakes};

#[taskscope::measure(scheduling)]
async fn waits_for_three_messages(mut rx: mpsc::Receiver<u32>) -> u32 {
    let mut sum = 0;
    for _ in 0..3 {
        sum += rx.recv().await.unwrap_or(0);
    }
    sum
}

#[taskscope::measure]
async fn waits_unscheduled(mut rx: mpsc::Receiver<u32>) -> u32 {
    rx.recv().await.unwrap_or(0)
}

#[test]
fn each_wait_from_a_wake_to_the_next_poll_is_recorded() {
    if crate::support::alone(
        module_path!(),
        "each_wait_from_a_wake_to_the_next_poll_is_recorded",
    ) {
        return;
    }
    common::init();
    let held = Duration::from_millis(30);
    assert_eq!(with_held_wakes(waits_for_three_messages, 3, held), 6);
    assert_eq!(with_held_wakes(waits_unscheduled, 1, held), 1);
    let snap = taskscope::snapshot();
    let f = snap.function("waits_for_three_messages").unwrap();
    assert_eq!(f.ok.count, 1);
    let s = &f.scheduling;
    assert_eq!(s.count(), 3, "one wait per wake");
    assert_eq!(s.min(), held, "{s:?}");
    assert_eq!(s.max(), held, "{s:?}");
    // The waits are not the call's busy time: its polls took no time.
    assert_eq!(f.ok.busy.max(), Duration::ZERO);
    assert_eq!(f.ok.wall.max(), 3 * held);
    let plain = snap.function("waits_unscheduled").unwrap();
    assert_eq!(plain.ok.count, 1);
    assert!(plain.scheduling.is_empty(), "not asked for");
}
