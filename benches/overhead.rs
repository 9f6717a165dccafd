//! The cost a measured call adds, against the same bare call.
//!
//! Each async row awaits the call in a loop inside one future, driven by a poll loop with a
//! no-op waker: the call is built in place, as `f(x).await` builds it in real code, and no
//! runtime cost is in the figures. Subtract the `bare` row from the `measured` row of the
//! same group to get the added cost. Run: `cargo bench --bench overhead`.

mod common;

use common::run;
use std::future::Future;
use std::hint::black_box;
use std::sync::Barrier;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

#[derive(Debug)]
struct Failed;

/// Pending once, then ready: a call that takes two polls.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

#[inline(never)]
async fn bare(n: u64) -> Result<u64, Failed> {
    if n == u64::MAX {
        Err(Failed)
    } else {
        Ok(n + 1)
    }
}

#[taskscope::measure]
#[inline(never)]
async fn measured(n: u64) -> Result<u64, Failed> {
    if n == u64::MAX {
        Err(Failed)
    } else {
        Ok(n + 1)
    }
}

/// A measured call whose one poll starts another measured call: an edge per call.
#[taskscope::measure]
#[inline(never)]
async fn measured_parent(n: u64) -> Result<u64, Failed> {
    measured(n).await
}

/// The same pair with the parent bare: the child has no measured caller.
#[inline(never)]
async fn bare_parent(n: u64) -> Result<u64, Failed> {
    measured(n).await
}

#[inline(never)]
async fn bare_fails(n: u64) -> Result<u64, Failed> {
    if n != u64::MAX { Err(Failed) } else { Ok(n) }
}

#[taskscope::measure]
#[inline(never)]
async fn measured_fails(n: u64) -> Result<u64, Failed> {
    if n != u64::MAX { Err(Failed) } else { Ok(n) }
}

#[inline(never)]
async fn bare_two_polls(n: u64) -> u64 {
    YieldOnce(false).await;
    n + 1
}

#[taskscope::measure]
#[inline(never)]
async fn measured_two_polls(n: u64) -> u64 {
    YieldOnce(false).await;
    n + 1
}

/// Wakes its task, then is pending once: a call that waits for a wake, as a call that awaits
/// a channel or a socket does.
struct WakeOnce(bool);

impl Future for WakeOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[inline(never)]
async fn bare_woken(n: u64) -> u64 {
    WakeOnce(false).await;
    n + 1
}

#[taskscope::measure]
#[inline(never)]
async fn measured_woken(n: u64) -> u64 {
    WakeOnce(false).await;
    n + 1
}

#[taskscope::measure(scheduling)]
#[inline(never)]
async fn scheduled_woken(n: u64) -> u64 {
    WakeOnce(false).await;
    n + 1
}

#[taskscope::measure(scheduling)]
#[inline(never)]
async fn scheduled_one_poll(n: u64) -> Result<u64, Failed> {
    if n == u64::MAX {
        Err(Failed)
    } else {
        Ok(n + 1)
    }
}

/// One call that takes `n` messages from a channel: one wake and one poll per message.
#[inline(never)]
async fn bare_receiver(mut rx: tokio::sync::mpsc::Receiver<u64>) -> u64 {
    let mut sum = 0;
    while let Some(v) = rx.recv().await {
        sum += v;
    }
    sum
}

#[taskscope::measure]
#[inline(never)]
async fn measured_receiver(mut rx: tokio::sync::mpsc::Receiver<u64>) -> u64 {
    let mut sum = 0;
    while let Some(v) = rx.recv().await {
        sum += v;
    }
    sum
}

#[taskscope::measure(scheduling)]
#[inline(never)]
async fn scheduled_receiver(mut rx: tokio::sync::mpsc::Receiver<u64>) -> u64 {
    let mut sum = 0;
    while let Some(v) = rx.recv().await {
        sum += v;
    }
    sum
}

#[inline(never)]
fn bare_plain(n: u64) -> Result<u64, Failed> {
    if n == u64::MAX {
        Err(Failed)
    } else {
        Ok(n + 1)
    }
}

#[taskscope::measure]
#[inline(never)]
fn measured_plain(n: u64) -> Result<u64, Failed> {
    if n == u64::MAX {
        Err(Failed)
    } else {
        Ok(n + 1)
    }
}

#[taskscope::measure]
#[inline(never)]
async fn measured_shared(n: u64) -> Result<u64, Failed> {
    if n == u64::MAX {
        Err(Failed)
    } else {
        Ok(n + 1)
    }
}

#[taskscope::measure]
#[inline(never)]
async fn measured_switched_off(n: u64) -> Result<u64, Failed> {
    if n == u64::MAX {
        Err(Failed)
    } else {
        Ok(n + 1)
    }
}

/// The same pair as `bare` and `measured_switched_off` without `#[inline(never)]`: the
/// compiler may build the future where it is awaited, as it does for most calls in a
/// crate.
async fn bare_inlinable(n: u64) -> Result<u64, Failed> {
    if n == u64::MAX {
        Err(Failed)
    } else {
        Ok(n + 1)
    }
}

#[taskscope::measure]
async fn measured_inlinable(n: u64) -> Result<u64, Failed> {
    if n == u64::MAX {
        Err(Failed)
    } else {
        Ok(n + 1)
    }
}

/// Time per call of `f`, awaited `iters` times in one future.
fn awaited<F: Future>(iters: u64, f: impl Fn(u64) -> F) -> Duration {
    run(async {
        let start = Instant::now();
        for i in 0..iters {
            black_box(f(black_box(i)).await);
        }
        start.elapsed()
    })
}

fn single_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("one_poll_ok");
    g.bench_function("bare", |b| b.iter_custom(|n| awaited(n, bare)));
    g.bench_function("measured", |b| b.iter_custom(|n| awaited(n, measured)));
    g.finish();

    // The call graph: `pair` is a measured call around a measured call (two calls, one
    // edge); `pair` minus `child_alone` minus `one_poll_ok/measured` is what nesting adds.
    let mut g = c.benchmark_group("nesting");
    g.bench_function("child_alone", |b| {
        b.iter_custom(|n| awaited(n, bare_parent))
    });
    g.bench_function("pair", |b| b.iter_custom(|n| awaited(n, measured_parent)));
    g.finish();

    let mut g = c.benchmark_group("one_poll_error");
    g.bench_function("bare", |b| b.iter_custom(|n| awaited(n, bare_fails)));
    g.bench_function("measured", |b| {
        b.iter_custom(|n| awaited(n, measured_fails))
    });
    g.finish();

    let mut g = c.benchmark_group("two_polls");
    g.bench_function("bare", |b| b.iter_custom(|n| awaited(n, bare_two_polls)));
    g.bench_function("measured", |b| {
        b.iter_custom(|n| awaited(n, measured_two_polls))
    });
    g.finish();

    // `#[measure(scheduling)]`: two polls and one wake per call; the cost of the option is
    // `scheduled` minus `measured`, and per poll half of that.
    let mut g = c.benchmark_group("scheduling_woken");
    g.bench_function("bare", |b| b.iter_custom(|n| awaited(n, bare_woken)));
    g.bench_function("measured", |b| {
        b.iter_custom(|n| awaited(n, measured_woken))
    });
    g.bench_function("scheduled", |b| {
        b.iter_custom(|n| awaited(n, scheduled_woken))
    });
    g.finish();
    let mut g = c.benchmark_group("scheduling_one_poll");
    g.bench_function("measured", |b| b.iter_custom(|n| awaited(n, measured)));
    g.bench_function("scheduled", |b| {
        b.iter_custom(|n| awaited(n, scheduled_one_poll))
    });
    g.finish();
    let mut g = c.benchmark_group("plain_fn");
    g.bench_function("bare", |b| b.iter(|| bare_plain(black_box(1))));
    g.bench_function("measured", |b| b.iter(|| measured_plain(black_box(1))));
    g.finish();

    let mut g = c.benchmark_group("switched_off");
    g.bench_function("bare", |b| b.iter_custom(|n| awaited(n, bare)));
    g.bench_function("measured", |b| {
        taskscope::set_enabled(false);
        b.iter_custom(|n| awaited(n, measured_switched_off));
        taskscope::set_enabled(true);
    });
    g.bench_function("measured_plain_fn", |b| {
        taskscope::set_enabled(false);
        b.iter(|| measured_plain(black_box(1)));
        taskscope::set_enabled(true);
    });
    g.bench_function("bare_inlinable", |b| {
        b.iter_custom(|n| awaited(n, bare_inlinable))
    });
    g.bench_function("measured_inlinable", |b| {
        taskscope::set_enabled(false);
        b.iter_custom(|n| awaited(n, measured_inlinable));
        taskscope::set_enabled(true);
    });
    g.finish();
}

/// Two threads calling the same function at once: time per call on each thread.
fn two_threads(c: &mut Criterion) {
    fn per_thread<F: Future>(iters: u64, f: impl Fn(u64) -> F + Sync) -> Duration {
        let barrier = Barrier::new(2);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        awaited(iters, &f)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .max()
                .unwrap()
        })
    }
    let mut g = c.benchmark_group("two_threads_same_fn");
    g.bench_function("bare", |b| b.iter_custom(|n| per_thread(n, bare)));
    g.bench_function("measured", |b| {
        b.iter_custom(|n| per_thread(n, measured_shared))
    });
    g.finish();
}

/// In a tokio runtime, as users run it: a spawned task receives `iters` messages, each a
/// wake through tokio's waker and a poll of the one measured call; time per message.
fn in_tokio(c: &mut Criterion) {
    fn per_message<F: Future<Output = u64> + Send + 'static>(
        rt: &tokio::runtime::Runtime,
        iters: u64,
        call: fn(tokio::sync::mpsc::Receiver<u64>) -> F,
    ) -> Duration {
        rt.block_on(async {
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            let start = Instant::now();
            let task = tokio::spawn(call(rx));
            for i in 0..iters {
                tx.send(i).await.unwrap();
            }
            drop(tx);
            black_box(task.await.unwrap());
            start.elapsed()
        })
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    // The anchors' setting: the call awaited in a loop in a current-thread runtime's
    // `block_on`, with tokio's context (budget, waker) around it.
    fn in_block_on<F: Future>(
        rt: &tokio::runtime::Runtime,
        iters: u64,
        f: impl Fn(u64) -> F,
    ) -> Duration {
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..iters {
                black_box(f(black_box(i)).await);
            }
            start.elapsed()
        })
    }
    let mut g = c.benchmark_group("tokio_current_thread");
    g.bench_function("bare", |b| b.iter_custom(|n| in_block_on(&rt, n, bare)));
    g.bench_function("measured", |b| {
        b.iter_custom(|n| in_block_on(&rt, n, measured))
    });
    g.bench_function("switched_off", |b| {
        taskscope::set_enabled(false);
        b.iter_custom(|n| in_block_on(&rt, n, measured_switched_off));
        taskscope::set_enabled(true);
    });
    g.finish();

    let mut g = c.benchmark_group("tokio_channel_per_message");
    g.bench_function("bare", |b| {
        b.iter_custom(|n| per_message(&rt, n, bare_receiver))
    });
    g.bench_function("measured", |b| {
        b.iter_custom(|n| per_message(&rt, n, measured_receiver))
    });
    g.bench_function("scheduled", |b| {
        b.iter_custom(|n| per_message(&rt, n, scheduled_receiver))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
}

criterion_group! { name = benches; config = config(); targets = single_thread, two_threads, in_tokio }
criterion_main!(benches);
