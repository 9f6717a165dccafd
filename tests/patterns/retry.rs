//! `patterns::Retries`: a plain loop and backon.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ConstantBuilder, Retryable};
use taskscope::Pattern;
use taskscope::patterns::Retries;

use crate::support::common::{assert_about, function, init, outcomes};

async fn fails_until(calls: &AtomicU32, ok_at: u32) -> Result<u32, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    let n = calls.fetch_add(1, Ordering::Relaxed) + 1;
    if n >= ok_at {
        Ok(n)
    } else {
        Err(std::io::ErrorKind::ConnectionRefused.into())
    }
}

#[tokio::test(start_paused = true)]
async fn a_plain_loop_that_succeeds_on_the_third_attempt() {
    init();
    static OP: Retries = Retries::new("retry_loop");
    let calls = AtomicU32::new(0);
    let retry = OP.start();
    let value = loop {
        match retry.attempt(fails_until(&calls, 3)).await {
            Err(_) if retry.attempts() < 5 => retry.backoff(Duration::from_millis(100)).await,
            done => break done,
        }
    };
    drop(retry);
    assert_eq!(value.unwrap(), 3);
    let op = function("retry_loop");
    assert_eq!(op.pattern, Pattern::Retry);
    assert_eq!(outcomes("retry_loop"), (1, 0, 0, 0), "ok after two retries");
    assert_eq!(op.attempts.with(3), 1);
    assert_eq!(op.ok.polls, 3, "an operation's polls are its attempts");
    assert_about(op.wall().max(), Duration::from_millis(230));
    assert_about(op.busy().max(), Duration::from_millis(30));
    assert_about(op.idle(), Duration::from_millis(200));
    assert_eq!(outcomes("retry_loop.attempt"), (1, 2, 0, 0));
    let backoff = function("retry_loop.backoff");
    assert_eq!(backoff.ok.count, 2);
    assert_about(backoff.wall().max(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn backon_that_gives_up() {
    init();
    static OP: Retries = Retries::new("retry_gives_up");
    let calls = AtomicU32::new(0);
    let backoff = ConstantBuilder::default()
        .with_delay(Duration::from_millis(50))
        .with_max_times(3);
    let out = OP.retry(backoff, || fails_until(&calls, 100)).await;
    assert!(out.is_err());
    assert_eq!(calls.load(Ordering::Relaxed), 4);
    let op = function("retry_gives_up");
    assert_eq!(outcomes("retry_gives_up"), (0, 1, 0, 0), "gave up");
    assert_eq!(op.error_kinds[0].kind, "Error", "the last attempt's error");
    assert_eq!(op.attempts.with(4), 1);
    assert_eq!(outcomes("retry_gives_up.attempt"), (0, 4, 0, 0));
    assert_eq!(function("retry_gives_up.backoff").ok.count, 3);
    assert_about(op.wall().max(), Duration::from_millis(190));
}

#[tokio::test(start_paused = true)]
async fn backon_chain_with_when_and_a_cancelled_operation() {
    init();
    static OP: Retries = Retries::new("retry_chain");
    let calls = AtomicU32::new(0);
    let retry = OP.start();
    let out = (|| retry.attempt(fails_until(&calls, 2)))
        .retry(ConstantBuilder::default().with_delay(Duration::from_millis(5)))
        .sleep(retry.sleeper())
        .when(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
        .await;
    drop(retry);
    assert_eq!(out.unwrap(), 2);
    assert_eq!(outcomes("retry_chain"), (1, 0, 0, 0));
    assert_eq!(function("retry_chain").attempts.with(2), 1);

    // An operation dropped in the middle of an attempt is cancelled.
    static CUT: Retries = Retries::new("retry_cut");
    let never = AtomicU32::new(0);
    let cut = tokio::time::timeout(Duration::from_millis(15), OP_cut(&CUT, &never)).await;
    assert!(cut.is_err());
    assert_eq!(outcomes("retry_cut"), (0, 0, 1, 0));
    assert_eq!(outcomes("retry_cut.attempt"), (0, 1, 1, 0));
    assert_eq!(function("retry_cut").in_flight, 0);
}

#[allow(non_snake_case)]
async fn OP_cut(op: &Retries, calls: &AtomicU32) -> Result<u32, std::io::Error> {
    let retry = op.start();
    loop {
        match retry.attempt(fails_until(calls, 100)).await {
            Err(_) => continue,
            done => return done,
        }
    }
}
