//! The cost of the taskscope layer per span, against a no-op layer on the same registry.
//!
//! Each row awaits a `#[tracing::instrument]` async fn in a loop, driven by a poll loop with
//! a no-op waker, under `tracing_subscriber::registry()` with one layer: `noop` (tracing's
//! `Identity` layer: the registry's own cost) or `taskscope`; and the same two behind a
//! per-layer target filter that lets the span through (`noop_filtered`,
//! `taskscope_filtered`). Subtract the no-op row from the taskscope row of the same kind for
//! the layer's cost per span. The `instrumented_plain_fn` group does the same for an instrumented
//! plain fn. `clock_read` is the cost of one timestamp, of which a span needs one per
//! creation, enter, exit and close. Run: `cargo bench --bench layer --features layer`.

mod common;

use common::run;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tracing::Dispatch;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Identity;
use tracing_subscriber::prelude::*;

#[path = "common/spans.rs"]
mod spans;

use spans::{handler, plain};

fn awaited(iters: u64) -> Duration {
    run(async move {
        let start = Instant::now();
        for i in 0..iters {
            black_box(handler(black_box(i)).await);
        }
        start.elapsed()
    })
}

fn called(iters: u64) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        black_box(plain(black_box(i)));
    }
    start.elapsed()
}

fn dispatchers() -> Vec<(&'static str, Dispatch)> {
    let here = || Targets::new().with_target("layer", tracing::Level::TRACE);
    vec![
        (
            "noop",
            Dispatch::new(tracing_subscriber::registry().with(Identity::new())),
        ),
        (
            "noop_filtered",
            Dispatch::new(tracing_subscriber::registry().with(Identity::new().with_filter(here()))),
        ),
        (
            "taskscope",
            Dispatch::new(tracing_subscriber::registry().with(taskscope::layer())),
        ),
        (
            "taskscope_filtered",
            Dispatch::new(
                tracing_subscriber::registry().with(taskscope::layer().with_filter(here())),
            ),
        ),
    ]
}

fn spans(c: &mut Criterion) {
    // The floor: one read of the clock taskscope uses (the TSC, through quanta).
    let clock = quanta::Clock::new();
    c.bench_function("clock_read", |b| b.iter(|| black_box(clock.raw())));

    let mut g = c.benchmark_group("instrumented_async_fn");
    for (name, dispatch) in dispatchers() {
        g.bench_function(name, |b| {
            tracing::dispatcher::with_default(&dispatch, || b.iter_custom(awaited))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("instrumented_plain_fn");
    for (name, dispatch) in dispatchers() {
        g.bench_function(name, |b| {
            tracing::dispatcher::with_default(&dispatch, || b.iter_custom(called))
        });
    }
    g.finish();
}

criterion_group!(benches, spans);
criterion_main!(benches);
