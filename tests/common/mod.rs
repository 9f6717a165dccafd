//! Shared by the behaviour tests: the recorder reads tokio's clock, so paused time drives
//! wall and busy durations exactly.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Once, OnceLock};
use std::time::Duration;

pub fn tokio_clock() -> Duration {
    static ORIGIN: OnceLock<tokio::time::Instant> = OnceLock::new();
    ORIGIN.get_or_init(tokio::time::Instant::now).elapsed()
}

/// Configures taskscope once per test binary.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        taskscope::builder()
            .with_clock(tokio_clock)
            .with_slow_poll_threshold(Duration::from_millis(10))
            .with_error_kind_limit(4)
            .init();
    });
}

/// The snapshot of one function, which must have been called.
pub fn function(name: &str) -> taskscope::FunctionSnapshot {
    taskscope::snapshot()
        .function(name)
        .unwrap_or_else(|| panic!("no function named {name} was recorded"))
        .clone()
}

/// (ok, error, cancelled, panicked) counts of one function.
pub fn outcomes(name: &str) -> (u64, u64, u64, u64) {
    let f = function(name);
    (
        f.ok.count,
        f.error.count,
        f.cancelled.count,
        f.panicked.count,
    )
}

/// Asserts a duration driven by tokio's timer, which fires on 1 ms ticks.
#[track_caller]
pub fn assert_about(actual: Duration, expected: Duration) {
    let diff = actual.abs_diff(expected);
    assert!(
        diff <= Duration::from_millis(1),
        "{actual:?} is not within 1 ms of {expected:?}"
    );
}
