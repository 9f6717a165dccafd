//! The layer's cost per span in the setting users run: a global dispatcher (no scoped one
//! anywhere in the process, so tracing takes its fast path to the subscriber) and a tokio
//! current-thread runtime driving the calls.
//!
//! One global subscriber serves every row: `tracing_subscriber::registry()` with a switch
//! layer that hands each callback to nothing (`noop`: the registry's own cost, plus one
//! relaxed load per callback), to `taskscope::layer()` (`taskscope`), or to
//! `taskscope::layer().with_busy_time(false)` (`taskscope_wall_only`). The switch turns
//! only between rows, when no span is open. Subtract the no-op row from a taskscope row for
//! the layer's cost per span. Run: `cargo bench --bench layer_global --features layer`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber, subscriber::Interest};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

#[path = "common/spans.rs"]
mod spans;

use spans::{handler, plain};

/// Which layer the switch hands callbacks to.
static MODE: AtomicU8 = AtomicU8::new(NOOP);
const NOOP: u8 = 0;
const FULL: u8 = 1;
const WALL_ONLY: u8 = 2;

struct Switch {
    full: taskscope::SpanLayer,
    wall_only: taskscope::SpanLayer,
}

impl Switch {
    #[inline(always)]
    fn with(&self, f: impl FnOnce(&taskscope::SpanLayer)) {
        match MODE.load(Ordering::Relaxed) {
            FULL => f(&self.full),
            WALL_ONLY => f(&self.wall_only),
            _ => {}
        }
    }
}

impl<S> Layer<S> for Switch
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        let _ = Layer::<S>::register_callsite(&self.full, metadata);
        let _ = Layer::<S>::register_callsite(&self.wall_only, metadata);
        Interest::always()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.with(|l| l.on_new_span(attrs, id, ctx));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.with(|l| l.on_record(id, values, ctx));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.with(|l| l.on_event(event, ctx));
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.with(|l| l.on_enter(id, ctx));
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.with(|l| l.on_exit(id, ctx));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.with(|l| l.on_close(id, ctx));
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

fn awaited(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            black_box(handler(black_box(i)).await);
        }
        start.elapsed()
    })
}

fn called(rt: &tokio::runtime::Runtime, iters: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            black_box(plain(black_box(i)));
        }
        start.elapsed()
    })
}

const ROWS: [(&str, u8); 3] = [
    ("noop", NOOP),
    ("taskscope", FULL),
    ("taskscope_wall_only", WALL_ONLY),
];

fn spans(c: &mut Criterion) {
    let switch = Switch {
        full: taskscope::layer(),
        wall_only: taskscope::layer().with_busy_time(false),
    };
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(switch))
        .expect("the bench's global subscriber");
    let rt = runtime();

    let mut g = c.benchmark_group("global_tokio_async_fn");
    for (name, mode) in ROWS {
        MODE.store(mode, Ordering::Relaxed);
        g.bench_function(name, |b| b.iter_custom(|n| awaited(&rt, n)));
    }
    g.finish();
    let mut g = c.benchmark_group("global_tokio_plain_fn");
    for (name, mode) in ROWS {
        MODE.store(mode, Ordering::Relaxed);
        g.bench_function(name, |b| b.iter_custom(|n| called(&rt, n)));
    }
    g.finish();
    MODE.store(NOOP, Ordering::Relaxed);
}

criterion_group!(benches, spans);
criterion_main!(benches);
