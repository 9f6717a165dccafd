//! Sampled calls: a share of finished calls, kept with ids and times so an exporter can send
//! them as trace spans and attach them to histogram points as exemplars.
//!
//! Off by default: the only cost on a call is then one relaxed load. When on, a call is
//! drawn by a thread-local generator; a drawn call takes a `try_lock` of a bounded buffer
//! and is counted as dropped (never waited for) when the buffer is full or busy.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::words::function::FunctionMeta;
use crate::words::function::Source;
use crate::words::outcome::Outcome;

/// A call is sampled when a draw in `0..u64::MAX` is below this; 0 is off.
static THRESHOLD: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Sampled calls kept between two exports, at most.
pub(crate) const CAPACITY: usize = 4096;
static BUFFER: Mutex<Vec<SampledCall>> = Mutex::new(Vec::new());
/// The latest sampled call of each function and outcome, for exemplars on a scrape.
static LATEST: Mutex<Vec<SampledCall>> = Mutex::new(Vec::new());
/// At most this many (function, outcome) pairs keep a latest call.
const LATEST_CAPACITY: usize = 4096;

/// One sampled call.
#[derive(Clone)]
pub(crate) struct SampledCall {
    pub(crate) function: &'static FunctionMeta,
    pub(crate) outcome: Outcome,
    /// The error kind (shortened, as the exports show it).
    pub(crate) kind: Option<&'static str>,
    /// Clock ticks at the end of the call.
    pub(crate) end: u64,
    pub(crate) wall_ns: u64,
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    /// The span of the current `tracing` span's OpenTelemetry context, when there is one
    /// (feature `otel-context`): the call's span is its child, in its trace.
    pub(crate) parent_span_id: Option<u64>,
}

/// Samples this share of calls (0 to 1; 0 turns sampling off).
pub(crate) fn set_ratio(ratio: f64) {
    let ratio = if ratio.is_nan() {
        0.0
    } else {
        ratio.clamp(0.0, 1.0)
    };
    let threshold = if ratio >= 1.0 {
        u64::MAX
    } else {
        (ratio * u64::MAX as f64) as u64
    };
    if threshold != 0 {
        let mut buffer = lock();
        let len = buffer.len();
        buffer.reserve(CAPACITY - len.min(CAPACITY));
    }
    THRESHOLD.store(threshold, Ordering::Relaxed);
}

fn lock() -> std::sync::MutexGuard<'static, Vec<SampledCall>> {
    BUFFER.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sampling threshold when sampling is on: the one load a finished call pays. A call is
/// then offered with [`draw`].
#[inline(always)]
pub(crate) fn threshold() -> Option<u64> {
    let threshold = THRESHOLD.load(Ordering::Relaxed);
    (threshold != 0).then_some(threshold)
}

impl SampledCall {
    /// The call's start and end as Unix nanoseconds; `recorder_start_ns` is the recorder's
    /// start as Unix time.
    pub(crate) fn unix_times(&self, recorder_start_ns: u64) -> (u64, u64) {
        let end = recorder_start_ns
            .saturating_add(crate::clock::since_start_at(self.end).as_nanos() as u64);
        (end.saturating_sub(self.wall_ns), end)
    }
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// xorshift64*, seeded per thread.
fn next_random() -> u64 {
    RNG.try_with(|rng| {
        let mut x = rng.get();
        if x == 0 {
            x = seed();
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
    .unwrap_or(u64::MAX)
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // `RandomState` is seeded from the OS once per process and varies per instance.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(crate::clock::now());
    h.finish() | 1
}

/// Whether a finished call of `function` is drawn, sampling being on at `threshold`; a
/// drawn call is then given to [`keep`].
#[inline]
pub(crate) fn drawn(threshold: u64, function: &FunctionMeta) -> bool {
    function.source != Source::Span && next_random() <= threshold
}

/// Keeps a drawn call: for the next export, and as its function's latest for exemplars.
pub(crate) fn keep(
    function: &'static FunctionMeta,
    outcome: Outcome,
    kind: Option<&'static str>,
    wall_ns: u64,
) {
    let (trace_id, parent_span_id) = match parent() {
        Some((trace, span)) => (trace, Some(span)),
        None => (
            (u128::from(next_random()) << 64) | u128::from(next_random()),
            None,
        ),
    };
    let call = SampledCall {
        function,
        outcome,
        kind,
        end: crate::clock::now(),
        wall_ns,
        trace_id,
        span_id: next_random() | 1,
        parent_span_id,
    };
    if let Ok(mut latest) = LATEST.try_lock() {
        let slot = latest
            .iter()
            .position(|c| std::ptr::eq(c.function, function) && c.outcome == outcome);
        match slot {
            Some(at) => latest[at] = call.clone(),
            None if latest.len() < LATEST_CAPACITY => latest.push(call.clone()),
            None => {}
        }
    }
    match BUFFER.try_lock() {
        Ok(mut buffer) if buffer.len() < CAPACITY && buffer.capacity() > buffer.len() => {
            buffer.push(call);
        }
        _ => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The trace and span of the current `tracing` span, as tracing-opentelemetry sees it.
#[cfg(feature = "otel-context")]
fn parent() -> Option<(u128, u64)> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let current = tracing::Span::current();
    if current.is_none() {
        return None;
    }
    let cx = current.context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| {
        (
            u128::from_be_bytes(sc.trace_id().to_bytes()),
            u64::from_be_bytes(sc.span_id().to_bytes()),
        )
    })
}

#[cfg(not(feature = "otel-context"))]
fn parent() -> Option<(u128, u64)> {
    None
}

/// Takes the sampled calls kept so far, leaving an empty buffer with its capacity.
pub(crate) fn take() -> Vec<SampledCall> {
    let fresh = Vec::with_capacity(CAPACITY);
    std::mem::replace(&mut *lock(), fresh)
}

/// Sampled calls dropped because the buffer was full or busy.
pub(crate) fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// A sampled call's ids changed (`Some`: the user's tracer gave it its own) or it is gone
/// (`None`: the user's sampler dropped it): the latest calls kept for exemplars follow.
#[cfg(feature = "otel-sdk")]
pub(crate) fn relink(span_id: u64, ids: Option<(u128, u64)>) {
    let mut latest = LATEST.lock().unwrap_or_else(|e| e.into_inner());
    match ids {
        Some((trace, span)) => {
            for c in latest.iter_mut().filter(|c| c.span_id == span_id) {
                c.trace_id = trace;
                c.span_id = span;
            }
        }
        None => latest.retain(|c| c.span_id != span_id),
    }
}

/// The latest sampled call of each function and outcome (exemplars for a scrape).
#[cfg(feature = "prometheus")]
pub(crate) fn latest() -> Vec<SampledCall> {
    LATEST.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
