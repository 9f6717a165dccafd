//! Panics in measured functions on many threads at once: plain functions on 24 OS threads
//! (more than the recorder's per-thread slots on a small machine, so some record into the
//! shared slot), nested calls that all unwind together, async functions panicking on their
//! first or a later poll on an 8-worker runtime (caught in the task, or seen as a `JoinError`),
//! and 64 calls in flight at once that are released together, half of them to panic. Every
//! call's outcome is right (panicked equals the panics thrown, ok the rest, nothing else) and
//! every function's in-flight count is back to zero.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Once};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

const PLANNED: &str = "reliability_panics: planned panic";

fn planned_panic() -> ! {
    std::panic::panic_any(PLANNED)
}

/// Keeps the planned panics (thousands) out of the output; any other panic is printed.
fn quiet_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&PLANNED) {
                previous(info);
            }
        }));
    });
}

#[taskscope::measure]
fn crash_sync(i: u64) -> u64 {
    if i.is_multiple_of(3) {
        planned_panic();
    }
    i
}

/// Panics at the bottom: every level's call unwinds as panicked.
#[taskscope::measure]
fn crash_nested(depth: u32) -> u32 {
    if depth == 0 {
        planned_panic();
    }
    crash_nested(depth - 1) + 1
}

/// Panics on its first poll.
#[taskscope::measure]
async fn crash_first_poll(i: u64) -> u64 {
    if i.is_multiple_of(2) {
        planned_panic();
    }
    i
}

/// Panics on its second poll, after yielding (possibly resumed on another worker).
#[taskscope::measure]
async fn crash_later_poll(i: u64) -> u64 {
    tokio::task::yield_now().await;
    if i % 3 == 1 {
        planned_panic();
    }
    i
}

/// Waits for all its peers, then half of them panic at once.
#[taskscope::measure]
async fn crash_together(barrier: Arc<tokio::sync::Barrier>, i: u64) -> u64 {
    barrier.wait().await;
    if i.is_multiple_of(2) {
        planned_panic();
    }
    i
}

/// A future's panic as a value, polled in place (what `FutureExt::catch_unwind` does).
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().0;
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// (ok, error, cancelled, panicked, in flight) of one function.
fn outcomes(name: &str) -> (u64, u64, u64, u64, u64) {
    let snap = taskscope::snapshot();
    let f = snap
        .function(name)
        .unwrap_or_else(|| panic!("{name} was never recorded"));
    (
        f.ok.count,
        f.error.count,
        f.cancelled.count,
        f.panicked.count,
        f.in_flight,
    )
}

#[test]
fn plain_functions_panicking_on_24_threads_at_once() {
    if crate::support::alone(
        module_path!(),
        "plain_functions_panicking_on_24_threads_at_once",
    ) {
        return;
    }
    quiet_planned_panics();
    const THREADS: u64 = 24;
    const CALLS: u64 = 3000;
    const NESTED: u64 = 200;
    let start = Arc::new(std::sync::Barrier::new(THREADS as usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let (mut ok, mut panicked, mut nested_panicked) = (0u64, 0u64, 0u64);
                start.wait();
                for i in 0..CALLS {
                    match catch_unwind(|| crash_sync(t * CALLS + i)) {
                        Ok(_) => ok += 1,
                        Err(_) => panicked += 1,
                    }
                    if i.is_multiple_of(CALLS / NESTED) {
                        let depth = (i % 4) as u32;
                        assert!(catch_unwind(|| crash_nested(depth)).is_err());
                        nested_panicked += u64::from(depth) + 1;
                    }
                }
                (ok, panicked, nested_panicked)
            })
        })
        .collect();
    let (mut ok, mut panicked, mut nested) = (0, 0, 0);
    for t in threads {
        let (o, p, n) = t.join().expect("panics are caught on the thread");
        ok += o;
        panicked += p;
        nested += n;
    }
    assert_eq!(ok + panicked, THREADS * CALLS);
    assert_eq!(panicked, THREADS * CALLS / 3);
    assert_eq!(outcomes("crash_sync"), (ok, 0, 0, panicked, 0));
    assert_eq!(outcomes("crash_nested"), (0, 0, 0, nested, 0));
}

/// A multi-threaded runtime with 8 workers, on this 2-core machine: the panics overlap.
fn eight_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(8)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn async_functions_panicking_on_8_workers_at_once() {
    if crate::support::alone(
        module_path!(),
        "async_functions_panicking_on_8_workers_at_once",
    ) {
        return;
    }
    quiet_planned_panics();
    let runtime = eight_workers();
    runtime.block_on(async {
        // Caught inside the task, 16 tasks at once.
        const TASKS: u64 = 16;
        const CALLS: u64 = 1000;
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                tokio::spawn(async move {
                    let mut first = (0u64, 0u64);
                    let mut later = (0u64, 0u64);
                    for i in 0..CALLS {
                        let n = t * CALLS + i;
                        match CatchUnwind(Box::pin(crash_first_poll(n))).await {
                            Ok(_) => first.0 += 1,
                            Err(_) => first.1 += 1,
                        }
                        match CatchUnwind(Box::pin(crash_later_poll(n))).await {
                            Ok(_) => later.0 += 1,
                            Err(_) => later.1 += 1,
                        }
                    }
                    (first, later)
                })
            })
            .collect();
        let (mut first, mut later) = ((0, 0), (0, 0));
        for t in tasks {
            let (f, l) = t.await.expect("panics are caught in the task");
            first = (first.0 + f.0, first.1 + f.1);
            later = (later.0 + l.0, later.1 + l.1);
        }

        // Uncaught: each call its own task, the panic ends the task (a JoinError).
        const SPAWNED: u64 = 2000;
        let handles: Vec<_> = (0..SPAWNED)
            .map(|n| (n, tokio::spawn(crash_later_poll(1_000_000 + n))))
            .collect();
        for (n, h) in handles {
            match h.await {
                Ok(_) => later.0 += 1,
                Err(e) => {
                    assert!(e.is_panic(), "{n}: {e}");
                    later.1 += 1;
                }
            }
        }

        assert_eq!(first.0 + first.1, TASKS * CALLS);
        assert_eq!(first.1, TASKS * CALLS / 2);
        assert_eq!(outcomes("crash_first_poll"), (first.0, 0, 0, first.1, 0));
        assert_eq!(later.0 + later.1, TASKS * CALLS + SPAWNED);
        assert_eq!(outcomes("crash_later_poll"), (later.0, 0, 0, later.1, 0));
    });
}

#[test]
fn calls_in_flight_together_panic_together_and_in_flight_returns_to_zero() {
    if crate::support::alone(
        module_path!(),
        "calls_in_flight_together_panic_together_and_in_flight_returns_to_zero",
    ) {
        return;
    }
    quiet_planned_panics();
    let runtime = eight_workers();
    const CALLS: u64 = 64;
    const ROUNDS: u64 = 20;
    let (mut ok, mut panicked) = (0, 0);
    runtime.block_on(async {
        for round in 0..ROUNDS {
            // The test is the last of the barrier's parties: it lets them go once all 64 are
            // in flight.
            let barrier = Arc::new(tokio::sync::Barrier::new(CALLS as usize + 1));
            let handles: Vec<_> = (0..CALLS)
                .map(|i| tokio::spawn(crash_together(Arc::clone(&barrier), round * CALLS + i)))
                .collect();
            let deadline = Instant::now() + Duration::from_secs(20);
            while outcomes_or_zero("crash_together").4 != CALLS {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: {:?} in flight, not {CALLS}",
                    outcomes_or_zero("crash_together")
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            barrier.wait().await;
            for h in handles {
                match h.await {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        assert!(e.is_panic(), "{e}");
                        panicked += 1;
                    }
                }
            }
            assert_eq!(
                outcomes("crash_together"),
                (ok, 0, 0, panicked, 0),
                "round {round}"
            );
        }
    });
    assert_eq!((ok, panicked), (CALLS * ROUNDS / 2, CALLS * ROUNDS / 2));
}

/// As [`outcomes`], zeros before the first call.
fn outcomes_or_zero(name: &str) -> (u64, u64, u64, u64, u64) {
    if taskscope::snapshot().function(name).is_some() {
        outcomes(name)
    } else {
        (0, 0, 0, 0, 0)
    }
}
