//! Shared by the behaviour tests: the recorder reads tokio's clock, so paused time drives
//! wall and busy durations exactly.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Once, OnceLock};
use std::time::Duration;

/// tokio's clock, as time since a fixed origin. Each paused runtime has its own clock,
/// starting at the real time of its creation and only moving forward, so the origin is put
/// an hour before the first reading: every runtime of the test binary reads after it, and
/// differences within one runtime are exact.
pub fn tokio_clock() -> Duration {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(|| {
        let now = std::time::Instant::now();
        now.checked_sub(Duration::from_secs(3600)).unwrap_or(now)
    });
    tokio::time::Instant::now().saturating_duration_since(tokio::time::Instant::from_std(origin))
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

/// Configures taskscope once and installs one global subscriber, `registry()` with the
/// taskscope layer, so spans on any thread (tokio's workers too) are recorded.
#[cfg(feature = "layer")]
pub fn init_with_layer() {
    use tracing_subscriber::prelude::*;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        init();
        tracing_subscriber::registry()
            .with(taskscope::layer())
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

/// A future whose polls hold the thread: each poll advances the paused clock, as a
/// blocking computation would advance a real one.
pub struct Blocking {
    pub polls_left: u32,
    pub per_poll: Duration,
}

impl std::future::Future for Blocking {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let per_poll = self.per_poll;
        // Advancing tokio's clock from inside a poll, without awaiting, stands for work.
        work_for(per_poll);
        if self.polls_left == 0 {
            return std::task::Poll::Ready(());
        }
        self.polls_left -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Moves the paused clock forward by `d` synchronously.
pub fn work_for(d: Duration) {
    // `advance` is async but completes at once when only the clock moves: poll it once.
    let mut fut = std::pin::pin!(tokio::time::advance(d));
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let _ = fut.as_mut().poll(&mut cx);
}

/// Runs `call` in a paused single-threaded runtime and sends it `messages` messages (1, 2,
/// ...) one at a time; after each send the clock moves `hold` on before the call can run
/// again, so each of its waits from a wake to the next poll is exactly `hold` (with
/// [`init`]'s clock). Returns what the call returned.
pub fn with_held_wakes<F>(
    call: impl FnOnce(tokio::sync::mpsc::Receiver<u32>) -> F,
    messages: u32,
    hold: Duration,
) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let call = tokio::spawn(call(rx));
        tokio::task::yield_now().await;
        for i in 1..=messages {
            tx.send(i).await.unwrap();
            // The call is woken now; `advance` moves the clock, then yields to it.
            tokio::time::advance(hold).await;
        }
        call.await.unwrap()
    })
}
