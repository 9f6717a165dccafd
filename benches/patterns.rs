//! What each async pattern's helper adds over the bare operation, in a tokio
//! current-thread runtime (the setting users run): a semaphore's acquire and release, a
//! mutex's lock, a channel's send and receive, a stream's item, a retried operation, an
//! interval's tick and a closure on the blocking pool. Each row pair is the bare tokio
//! operation and the measured one; the difference is the helper's cost.
//!
//! ```sh
//! cargo bench --bench patterns --features full
//! ```

use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures_core::Stream;
use taskscope::patterns::{MeasureStream, Retries};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `f` `iters` times inside one `block_on`, timing the loop.
fn timed<F: Future>(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    mut f: impl FnMut(u64) -> F,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            black_box(f(black_box(i)).await);
        }
        start.elapsed()
    })
}

fn locks(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("semaphore_acquire_release");
    let bare = tokio::sync::Semaphore::new(4);
    g.bench_function("bare", |b| {
        b.iter_custom(|n| timed(&rt, n, |_| async { drop(bare.acquire().await.unwrap()) }))
    });
    let measured = taskscope::patterns::Semaphore::new("bench_semaphore", 4);
    g.bench_function("measured", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, |_| async {
                drop(measured.acquire().await.unwrap())
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("mutex_lock_unlock");
    let bare = &tokio::sync::Mutex::new(0u64);
    g.bench_function("bare", |b| {
        b.iter_custom(|n| timed(&rt, n, |i| async move { *bare.lock().await += i }))
    });
    let measured = &taskscope::patterns::Mutex::new("bench_mutex", 0u64);
    g.bench_function("measured", |b| {
        b.iter_custom(|n| timed(&rt, n, |i| async move { *measured.lock().await += i }))
    });
    g.finish();
}

/// Sends and receives `iters` items through one channel, in one `block_on`.
macro_rules! send_recv {
    ($rt:expr, $iters:expr, $rx:expr, $i:ident => $send:expr) => {{
        let rx = &mut $rx;
        $rt.block_on(async {
            let start = Instant::now();
            for $i in 0..$iters {
                let $i = black_box($i);
                $send;
                black_box(rx.recv().await);
            }
            start.elapsed()
        })
    }};
}

fn channels(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("channel_send_recv");
    g.bench_function("bare", |b| {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(16);
        b.iter_custom(|n| send_recv!(rt, n, rx, i => tx.send(i).await.unwrap()))
    });
    g.bench_function("measured", |b| {
        let (tx, mut rx) = taskscope::patterns::channel::<u64>("bench_channel", 16);
        b.iter_custom(|n| send_recv!(rt, n, rx, i => tx.send(i).await.unwrap()))
    });
    g.bench_function("unbounded_bare", |b| {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        b.iter_custom(|n| send_recv!(rt, n, rx, i => tx.send(i).unwrap()))
    });
    g.bench_function("unbounded_measured", |b| {
        let (tx, mut rx) = taskscope::patterns::unbounded_channel::<u64>("bench_unbounded");
        b.iter_custom(|n| send_recv!(rt, n, rx, i => tx.send(i).unwrap()))
    });
    g.finish();
}

/// A stream of `n` numbers, each ready at once.
struct Numbers(u64);

impl Stream for Numbers {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u64>> {
        if self.0 == 0 {
            return Poll::Ready(None);
        }
        self.0 -= 1;
        Poll::Ready(Some(self.0))
    }
}

async fn drain<S: Stream<Item = u64> + Unpin>(mut s: S) -> u64 {
    let mut sum = 0;
    while let Some(v) = std::future::poll_fn(|cx| Pin::new(&mut s).poll_next(cx)).await {
        sum += v;
    }
    sum
}

fn streams(c: &mut Criterion) {
    let rt = runtime();
    // Per item: a stream of 1000 items per iteration, the time divided by 1000.
    const ITEMS: u64 = 1000;
    let mut g = c.benchmark_group("stream_per_item");
    g.bench_function("bare", |b| {
        b.iter_custom(|n| timed(&rt, n, |_| drain(Numbers(ITEMS))) / ITEMS as u32)
    });
    g.bench_function("measured", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, |_| drain(Numbers(ITEMS).measured("bench_stream"))) / ITEMS as u32
        })
    });
    g.finish();
}

async fn ready_attempt(i: u64) -> Result<u64, std::io::Error> {
    Ok(i)
}

fn retries(c: &mut Criterion) {
    let rt = runtime();
    static OP: Retries = Retries::new("bench_retry");
    let mut g = c.benchmark_group("retry_one_attempt");
    g.bench_function("bare", |b| {
        b.iter_custom(|n| timed(&rt, n, |i| async move { ready_attempt(i).await.ok() }))
    });
    g.bench_function("measured", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, |i| async move {
                let retry = OP.start();
                retry.attempt(ready_attempt(i)).await.ok()
            })
        })
    });
    g.finish();
}

fn intervals(c: &mut Criterion) {
    // Paused time: each tick is due at once, so the rows time tokio's timer and the
    // helper, not the period.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let period = Duration::from_millis(1);
    let mut g = c.benchmark_group("interval_tick");
    macro_rules! ticks {
        ($every:expr, $n:expr) => {{
            let every = &mut $every;
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..$n {
                    black_box(every.tick().await);
                }
                start.elapsed()
            })
        }};
    }
    g.bench_function("bare", |b| {
        let mut every = rt.block_on(async { tokio::time::interval(period) });
        b.iter_custom(|n| ticks!(every, n))
    });
    g.bench_function("measured", |b| {
        let mut every = rt.block_on(async {
            taskscope::patterns::Interval::wrap("bench_interval", tokio::time::interval(period))
        });
        b.iter_custom(|n| ticks!(every, n))
    });
    g.finish();
}

fn blocking(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("spawn_blocking");
    g.bench_function("bare", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, |i| async move {
                tokio::task::spawn_blocking(move || i + 1).await.unwrap()
            })
        })
    });
    g.bench_function("measured", |b| {
        b.iter_custom(|n| {
            timed(&rt, n, |i| async move {
                taskscope::spawn_blocking!("bench_blocking", move || i + 1)
                    .await
                    .unwrap()
            })
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = locks, channels, streams, retries, intervals, blocking }
criterion_main!(benches);
