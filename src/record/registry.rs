//! The registry of measured functions and their per-thread shards.
//!
//! A function's state is allocated on its first call (never before), registered once, and
//! lives for the rest of the process: it is bounded by the number of callsites in the
//! program. Per thread slot it holds one [`Shard`], allocated on the slot's first call of
//! that function; a shard's counters and histograms have one writer, the slot's owner.

use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use super::histogram::{AtomicHistogram, Histogram, add};
use super::publish_once::PublishOnce;
use super::thread_slot;
use crate::record::attempts::{ATTEMPT_BUCKETS, Attempts};
use crate::words::function::FunctionMeta;
use crate::words::outcome::{Outcome, PerOutcome};

/// Default cap on distinct error kinds per function.
pub(crate) const DEFAULT_KIND_LIMIT: usize = 32;
/// Cap on distinct measured callers per function; calls from callers beyond it count under
/// the overflow caller.
pub(crate) const CALLER_LIMIT: usize = 16;
static KIND_LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_KIND_LIMIT);
static REGISTRY: Mutex<Vec<&'static FunctionState>> = Mutex::new(Vec::new());
/// `(module, span name)` of every measured function registered so far whose
/// `#[tracing::instrument]` span the layer must leave alone, and a counter of its changes.
static SHADOWED: Mutex<Vec<(&'static str, &'static str)>> = Mutex::new(Vec::new());
static SHADOW_EPOCH: AtomicU64 = AtomicU64::new(0);

pub(crate) fn set_kind_limit(limit: usize) {
    KIND_LIMIT.store(limit, Ordering::Relaxed);
}

/// The cap on error kinds per function (also the cap on names a span field gives one
/// callsite group).
#[cfg(feature = "layer")]
pub(crate) fn kind_limit() -> usize {
    KIND_LIMIT.load(Ordering::Relaxed)
}

/// True once any function has recorded (its state exists).
pub(crate) fn any_registered() -> bool {
    !lock_registry().is_empty()
}

fn lock_registry() -> std::sync::MutexGuard<'static, Vec<&'static FunctionState>> {
    lock(&REGISTRY)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(feature = "layer")]
/// Changes whenever a measured function that may also carry a span is registered.
#[inline]
pub(crate) fn shadow_epoch() -> u64 {
    SHADOW_EPOCH.load(Ordering::Acquire)
}

#[cfg(feature = "layer")]
/// True when a measured function registered so far is the function of spans named `name`
/// in module `module` (its `#[tracing::instrument]` span): `#[measure]` counts those calls.
pub(crate) fn is_shadowed(module: &str, name: &str) -> bool {
    lock(&SHADOWED)
        .iter()
        .any(|&(m, n)| m == module && n == name)
}

#[cfg(any(feature = "layer", feature = "patterns"))]
/// Allocates and registers the state of a function that no static callsite owns (a span's
/// name and target, found at run time). The caller bounds how many it makes.
#[cold]
pub(crate) fn register_dynamic(meta: &'static FunctionMeta) -> &'static FunctionState {
    let publish = AtomicPtr::new(std::ptr::null_mut());
    register(meta, &publish)
}

/// Every function state registered so far.
pub(crate) fn all() -> Vec<&'static FunctionState> {
    lock_registry().clone()
}

/// Allocates and registers a function's state. Called once per callsite, under the lock.
#[cold]
pub(crate) fn register(
    meta: &'static FunctionMeta,
    publish: &AtomicPtr<FunctionState>,
) -> &'static FunctionState {
    let mut registry = lock_registry();
    let existing = publish.load(Ordering::Acquire);
    if !existing.is_null() {
        // SAFETY: published pointers come from `Box::leak` below and are never freed.
        return unsafe { &*existing };
    }
    crate::clock::ensure_slow_poll_ticks();
    let state: &'static FunctionState = Box::leak(Box::new(FunctionState::new(meta)));
    registry.push(state);
    if !meta.span_name.is_empty() {
        lock(&SHADOWED).push((meta.module, meta.span_name));
        SHADOW_EPOCH.fetch_add(1, Ordering::Release);
    }
    publish.store(
        state as *const FunctionState as *mut FunctionState,
        Ordering::Release,
    );
    state
}

/// Everything recorded for one callsite.
pub(crate) struct FunctionState {
    pub(crate) meta: &'static FunctionMeta,
    shards: Box<[PublishOnce<Shard>]>,
    kinds: KindTable,
    callers: CallerTable,
}

/// One thread slot's share of a function's data.
#[repr(align(128))]
struct Shard {
    /// Calls that had their first poll on this slot.
    started: AtomicU64,
    outcomes: PerOutcome<PublishOnce<OutcomeCells>>,
    /// Errors per kind index; the last entry is the overflow kind.
    kinds: Box<[AtomicU64]>,
    /// Waits from a wake to the next poll, for a function measured with `scheduling`:
    /// made on its first one.
    scheduling: PublishOnce<AtomicHistogram>,
    /// Calls of a retried operation by their attempts (index `i`: `i + 1` attempts, the
    /// last entry: that many or more): made on its first one.
    attempts: PublishOnce<[AtomicU64; ATTEMPT_BUCKETS]>,
    /// Calls by caller index (the last entry is the overflow caller): made on the first
    /// call that has a measured caller. Calls without one are the rest.
    edges: PublishOnce<Box<[EdgeCells]>>,
}

/// The calls of one function from one caller, on one slot.
#[derive(Default)]
struct EdgeCells {
    calls: AtomicU64,
    /// Sums, in nanoseconds, of the calls' wall, busy and self busy time.
    wall_ns: AtomicU64,
    busy_ns: AtomicU64,
    self_ns: AtomicU64,
}

#[repr(align(128))]
struct OutcomeCells {
    polls: AtomicU64,
    slow_polls: AtomicU64,
    /// Nanoseconds of busy time spent in the polls of measured callees, summed (only calls
    /// that started some add to it: a call's self time is its busy time minus this).
    callees_ns: AtomicU64,
    wall: AtomicHistogram,
    busy: AtomicHistogram,
}

/// The numbers of one finished call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallRecord {
    pub(crate) wall_ns: u64,
    pub(crate) busy_ns: u64,
    /// The part of `busy_ns` spent in the polls of measured calls polled inside its polls
    /// (0 for a call that started none): its self time is `busy_ns - callees_ns`.
    pub(crate) callees_ns: u64,
    pub(crate) polls: u32,
    pub(crate) slow_polls: u32,
    /// The measured call that was running when this one started; `None` for a root call.
    pub(crate) caller: Option<&'static FunctionState>,
    /// Whether busy time and polls were measured (not for the spans of a layer that times
    /// only their wall time): when not, only wall time and the outcome are recorded.
    pub(crate) timed: bool,
}

impl CallRecord {
    /// A call timed by its wall time only: no polls, no busy time (a pattern's wait, a tick,
    /// a closure that never ran).
    #[cfg(feature = "patterns")]
    #[inline]
    pub(crate) fn wall_only(wall_ns: u64, caller: Option<&'static FunctionState>) -> CallRecord {
        CallRecord {
            wall_ns,
            busy_ns: 0,
            callees_ns: 0,
            polls: 0,
            slow_polls: 0,
            caller,
            timed: false,
        }
    }

    /// The nanoseconds of `busy_ns` (`busy` clock ticks) spent in callees' `callees`
    /// ticks, rounded so that `busy_ns - callees_ns` is the self time in nanoseconds. A call
    /// that started no measured call (the usual case) pays a compare.
    #[inline(always)]
    pub(crate) fn callees_ns(busy: u64, callees: u64, busy_ns: u64) -> u64 {
        if callees == 0 {
            return 0;
        }
        busy_ns.saturating_sub(crate::clock::nanos_between(0, busy.saturating_sub(callees)))
    }
}

impl std::fmt::Debug for FunctionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionState")
            .field("module", &self.meta.module)
            .field("name", &self.meta.name)
            .finish_non_exhaustive()
    }
}

impl FunctionState {
    fn new(meta: &'static FunctionMeta) -> Self {
        let limit = KIND_LIMIT.load(Ordering::Relaxed);
        Self {
            meta,
            shards: (0..thread_slot::slot_count())
                .map(|_| PublishOnce::new())
                .collect(),
            kinds: KindTable::new(limit),
            callers: CallerTable::default(),
        }
    }

    #[inline(always)]
    fn shard(&self) -> (&Shard, bool) {
        let (slot, exclusive) = thread_slot::current();
        let (shard, _) = self.shards[slot].get_or_publish(|| Shard {
            started: AtomicU64::new(0),
            outcomes: PerOutcome::from_fn(|_| PublishOnce::new()),
            kinds: (0..=self.kinds.limit).map(|_| AtomicU64::new(0)).collect(),
            scheduling: PublishOnce::new(),
            attempts: PublishOnce::new(),
            edges: PublishOnce::new(),
        });
        (shard, exclusive)
    }

    /// Counts a call as started (its first poll).
    #[inline(always)]
    pub(crate) fn record_start(&self) {
        let (shard, exclusive) = self.shard();
        add(&shard.started, 1, exclusive);
    }

    #[cfg(any(feature = "layer", feature = "patterns"))]
    /// Takes back a [`record_start`](FunctionState::record_start): the call turned out to
    /// belong to another function (a span that `#[measure]` already counts).
    pub(crate) fn record_unstart(&self) {
        let (shard, exclusive) = self.shard();
        add(&shard.started, u64::MAX, exclusive);
    }

    /// Records a finished call. `kind` is the error kind for `Outcome::Error`.
    #[inline(always)]
    pub(crate) fn record_end(
        &'static self,
        outcome: Outcome,
        kind: Option<&'static str>,
        call: CallRecord,
    ) {
        let kind = kind.map(|k| self.kinds.index_of(k));
        self.record_end_indexed(outcome, kind, call);
    }

    /// The error kind at an index of this function's kind table.
    #[cfg(feature = "otlp")]
    pub(crate) fn kind_name(&self, index: usize) -> &'static str {
        crate::words::names::short_kind(self.kinds.name(index))
    }

    #[cfg(feature = "layer")]
    /// The error kind at an index, as it was given (not shortened).
    pub(crate) fn kind_at(&self, index: usize) -> &'static str {
        self.kinds.name(index)
    }

    #[cfg(feature = "layer")]
    /// The index of an error kind given as a string made at run time (a span field):
    /// copied once, if the function's kind table has room; the overflow index otherwise.
    pub(crate) fn kind_index(&self, kind: &str) -> usize {
        self.kinds.index_of_str(kind)
    }

    /// The index of an error kind in this function's kind table (the overflow index once
    /// it is full), for [`record_end_indexed`](FunctionState::record_end_indexed).
    #[cfg(feature = "patterns")]
    #[inline]
    pub(crate) fn kind_index_of(&self, kind: &'static str) -> usize {
        self.kinds.index_of(kind)
    }

    /// Records a finished call whose error kind is already an index from [`kind_index`].
    ///
    /// [`kind_index`]: FunctionState::kind_index
    #[inline(always)]
    pub(crate) fn record_end_indexed(
        &'static self,
        outcome: Outcome,
        kind: Option<usize>,
        call: CallRecord,
    ) {
        let (shard, exclusive) = self.shard();
        // The kind first: a reader that sees the call in the wall histogram (its buckets are
        // read with Acquire, after these Release stores) then sees its kind too, so the kinds
        // of a reading never add up to less than its errors, and no error goes unlabelled
        // for a moment under load.
        if let Some(index) = kind {
            add(&shard.kinds[index.min(self.kinds.limit)], 1, exclusive);
        }
        let cells = shard.outcome(outcome);
        cells.wall.record(call.wall_ns, exclusive);
        if call.timed {
            cells.busy.record(call.busy_ns, exclusive);
            add(&cells.polls, u64::from(call.polls), exclusive);
            if call.callees_ns != 0 {
                add(&cells.callees_ns, call.callees_ns, exclusive);
            }
            if call.slow_polls != 0 {
                add(&cells.slow_polls, u64::from(call.slow_polls), exclusive);
            }
        }
        if let Some(caller) = call.caller {
            self.record_edge(shard, exclusive, caller, &call);
        }
        #[cfg(feature = "otlp")]
        if let Some(threshold) = super::samples::threshold() {
            self.offer_sample(threshold, outcome, kind, call.wall_ns);
        }
    }

    /// Adds a call to the numbers of its caller's edge. Out of line: a call with no
    /// measured caller keeps its recording code as small as it was.
    #[inline(never)]
    fn record_edge(
        &self,
        shard: &Shard,
        exclusive: bool,
        caller: &'static FunctionState,
        call: &CallRecord,
    ) {
        let index = self.callers.index_of(caller);
        let (edges, _) = shard
            .edges
            .get_or_publish(|| (0..=CALLER_LIMIT).map(|_| EdgeCells::default()).collect());
        let e = &edges[index];
        add(&e.calls, 1, exclusive);
        add(&e.wall_ns, call.wall_ns, exclusive);
        add(&e.busy_ns, call.busy_ns, exclusive);
        add(
            &e.self_ns,
            call.busy_ns.saturating_sub(call.callees_ns),
            exclusive,
        );
    }

    /// Offers a finished call for sampling (sampling being on at `threshold`).
    #[cfg(feature = "otlp")]
    #[cold]
    #[inline(never)]
    fn offer_sample(&self, threshold: u64, outcome: Outcome, kind: Option<usize>, wall_ns: u64) {
        if super::samples::drawn(threshold, self.meta) {
            let kind = kind.map(|k| self.kind_name(k));
            super::samples::keep(self.meta, outcome, kind, wall_ns);
        }
    }

    /// Records one wait from a wake to the next poll (`#[measure(scheduling)]`).
    #[inline]
    pub(crate) fn record_scheduling(&self, delay_ns: u64) {
        let (shard, exclusive) = self.shard();
        let (h, _) = shard.scheduling.get_or_publish(AtomicHistogram::new);
        h.record(delay_ns, exclusive);
    }

    /// Records the attempts one call of a retried operation made.
    #[cfg(feature = "patterns")]
    #[inline]
    pub(crate) fn record_attempts(&self, attempts: u64) {
        let (shard, exclusive) = self.shard();
        let (counts, _) = shard
            .attempts
            .get_or_publish(|| std::array::from_fn(|_| AtomicU64::new(0)));
        let index = (attempts.max(1) as usize - 1).min(ATTEMPT_BUCKETS - 1);
        add(&counts[index], 1, exclusive);
    }

    /// Reads every shard into plain data. Completed calls are read before started ones, so a
    /// call seen as finished is always seen as started too and in-flight never goes negative.
    pub(crate) fn read(&self) -> FunctionReading {
        let mut reading = FunctionReading::default();
        let shards = || self.shards.iter().filter_map(PublishOnce::get);
        // The kind counts summed over shards: on the stack for the usual limits.
        let (mut stack, mut heap) = ([0u64; 65], Vec::new());
        let kind_counts: &mut [u64] = if self.kinds.limit < stack.len() {
            &mut stack[..=self.kinds.limit]
        } else {
            heap.resize(self.kinds.limit + 1, 0);
            &mut heap
        };
        // Ask for the lines of every distribution first, so that their misses overlap.
        for shard in shards() {
            for (_, cells) in shard.outcomes.iter() {
                if let Some(cells) = cells.get() {
                    cells.wall.prefetch();
                    cells.busy.prefetch();
                }
            }
        }
        for shard in shards() {
            for (o, out) in reading.outcomes.iter_mut() {
                let Some(cells) = shard.outcomes[o].get() else {
                    continue;
                };
                cells.wall.read_into(&mut out.wall);
                cells.busy.read_into(&mut out.busy);
                out.polls += cells.polls.load(Ordering::Relaxed);
                out.slow_polls += cells.slow_polls.load(Ordering::Relaxed);
                out.callees_ns += cells.callees_ns.load(Ordering::Relaxed);
            }
            for (total, cell) in kind_counts.iter_mut().zip(shard.kinds.iter()) {
                *total += cell.load(Ordering::Relaxed);
            }
            if let Some(h) = shard.scheduling.get() {
                h.read_into(&mut reading.scheduling);
            }
            if let Some(counts) = shard.attempts.get() {
                for (total, c) in reading.attempts.counts.iter_mut().zip(counts) {
                    *total += c.load(Ordering::Relaxed);
                }
            }
            if let Some(edges) = shard.edges.get() {
                if reading.callers.is_empty() {
                    reading.callers = vec![EdgeReading::default(); edges.len()];
                }
                for (total, e) in reading.callers.iter_mut().zip(edges.iter()) {
                    total.calls += e.calls.load(Ordering::Relaxed);
                    total.wall_ns += e.wall_ns.load(Ordering::Relaxed);
                    total.busy_ns += e.busy_ns.load(Ordering::Relaxed);
                    total.self_ns += e.self_ns.load(Ordering::Relaxed);
                }
            }
        }
        for (i, e) in reading.callers.iter_mut().enumerate() {
            e.caller = self.callers.get(i);
        }
        reading.callers.retain(|e| e.calls > 0);
        let finished: u64 = reading.outcomes.iter().map(|(_, o)| o.wall.count()).sum();
        // Wrapping: a call taken back by `record_unstart` on another slot is a wrapped
        // subtraction there.
        let started: u64 = shards()
            .map(|s| s.started.load(Ordering::Acquire))
            .fold(0, u64::wrapping_add);
        reading.in_flight = started.saturating_sub(finished);
        for (i, &count) in kind_counts.iter().enumerate() {
            if count != 0 {
                reading.kinds.push((self.kinds.name(i), count));
            }
        }
        reading
    }

    /// Heap bytes held by this function's state, shards and histogram chunks.
    pub(crate) fn heap_bytes(&self) -> usize {
        let mut bytes = std::mem::size_of::<Self>()
            + self.shards.len() * std::mem::size_of::<PublishOnce<Shard>>()
            + self.kinds.heap_bytes();
        for shard in self.shards.iter().filter_map(PublishOnce::get) {
            bytes += std::mem::size_of::<Shard>() + shard.kinds.len() * 8;
            if let Some(h) = shard.scheduling.get() {
                bytes += std::mem::size_of::<AtomicHistogram>() + h.heap_bytes();
            }
            if shard.attempts.get().is_some() {
                bytes += std::mem::size_of::<[AtomicU64; ATTEMPT_BUCKETS]>();
            }
            if let Some(edges) = shard.edges.get() {
                bytes += edges.len() * std::mem::size_of::<EdgeCells>();
            }
            for cells in shard.outcomes.values().iter().filter_map(PublishOnce::get) {
                bytes += std::mem::size_of::<OutcomeCells>()
                    + cells.wall.heap_bytes()
                    + cells.busy.heap_bytes();
            }
        }
        bytes
    }
}

impl Shard {
    #[inline(always)]
    fn outcome(&self, outcome: Outcome) -> &OutcomeCells {
        self.outcomes[outcome]
            .get_or_publish(|| OutcomeCells {
                polls: AtomicU64::new(0),
                slow_polls: AtomicU64::new(0),
                callees_ns: AtomicU64::new(0),
                wall: AtomicHistogram::new(),
                busy: AtomicHistogram::new(),
            })
            .0
    }
}

/// Plain data read from one function state.
#[derive(Default)]
pub(crate) struct FunctionReading {
    pub(crate) outcomes: PerOutcome<OutcomeReading>,
    pub(crate) kinds: Vec<(&'static str, u64)>,
    pub(crate) in_flight: u64,
    pub(crate) scheduling: Histogram,
    pub(crate) attempts: Attempts,
    /// The calls from each measured caller (`None`: the callers over the cap).
    pub(crate) callers: Vec<EdgeReading>,
}

/// The calls of a function from one caller, summed over the shards.
#[derive(Clone, Default)]
pub(crate) struct EdgeReading {
    pub(crate) caller: Option<&'static FunctionState>,
    pub(crate) calls: u64,
    pub(crate) wall_ns: u64,
    pub(crate) busy_ns: u64,
    pub(crate) self_ns: u64,
}

#[derive(Default)]
pub(crate) struct OutcomeReading {
    pub(crate) polls: u64,
    pub(crate) slow_polls: u64,
    /// Busy nanoseconds spent in the polls of measured callees.
    pub(crate) callees_ns: u64,
    pub(crate) wall: Histogram,
    pub(crate) busy: Histogram,
}

impl OutcomeReading {
    /// Busy nanoseconds not spent in measured callees: the calls' self time.
    pub(crate) fn self_ns(&self) -> u64 {
        self.busy.sum.saturating_sub(self.callees_ns)
    }
}

/// The measured functions that called one function, append-only, at most
/// [`CALLER_LIMIT`] of them; a caller's index is its place in the table.
#[derive(Default)]
struct CallerTable {
    callers: [AtomicPtr<FunctionState>; CALLER_LIMIT],
    len: AtomicUsize,
    insert: Mutex<()>,
}

impl CallerTable {
    /// The index of a caller; [`CALLER_LIMIT`] (the overflow index) once the table is full.
    #[inline]
    fn index_of(&self, caller: &'static FunctionState) -> usize {
        let len = self.len.load(Ordering::Acquire);
        self.find(caller, len)
            .unwrap_or_else(|| self.insert(caller))
    }

    #[inline]
    fn find(&self, caller: &FunctionState, len: usize) -> Option<usize> {
        self.callers[..len]
            .iter()
            .position(|c| std::ptr::eq(c.load(Ordering::Relaxed), caller))
    }

    #[cold]
    fn insert(&self, caller: &'static FunctionState) -> usize {
        let _guard = self.insert.lock().unwrap_or_else(|e| e.into_inner());
        let len = self.len.load(Ordering::Acquire);
        if let Some(i) = self.find(caller, len) {
            return i;
        }
        if len == CALLER_LIMIT {
            return CALLER_LIMIT;
        }
        self.callers[len].store(
            caller as *const FunctionState as *mut FunctionState,
            Ordering::Relaxed,
        );
        self.len.store(len + 1, Ordering::Release);
        len
    }

    /// The caller at an index; `None` for the overflow index.
    fn get(&self, index: usize) -> Option<&'static FunctionState> {
        let ptr = self.callers.get(index)?.load(Ordering::Acquire);
        // SAFETY: only `insert` stores here, from a `&'static FunctionState`.
        unsafe { ptr.as_ref() }
    }
}

/// A function state for the unit tests, leaked.
#[cfg(test)]
pub(crate) fn test_state(name: &'static str) -> &'static FunctionState {
    let meta: &'static FunctionMeta = Box::leak(Box::new(FunctionMeta {
        name,
        module: "tests",
        file: file!(),
        line: line!(),
        target: "tests",
        source: crate::words::function::Source::Measure,
        span_name: "",
        pattern: crate::words::function::Pattern::Function,
    }));
    Box::leak(Box::new(FunctionState::new(meta)))
}

/// Error kinds seen by one function, append-only, at most `limit` of them.
struct KindTable {
    limit: usize,
    names: Box<[OnceLock<&'static str>]>,
    len: AtomicUsize,
    insert: Mutex<()>,
}

impl KindTable {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            names: (0..limit).map(|_| OnceLock::new()).collect(),
            len: AtomicUsize::new(0),
            insert: Mutex::new(()),
        }
    }

    /// The index of a kind; `limit` (the overflow index) once the table is full.
    #[inline]
    fn index_of(&self, kind: &'static str) -> usize {
        let len = self.len.load(Ordering::Acquire);
        if let Some(i) = self.find(kind, len) {
            return i;
        }
        self.insert(kind, || kind)
    }

    #[cfg(feature = "layer")]
    /// As [`KindTable::index_of`], for a kind that is not `'static`: a new kind is copied
    /// (leaked) only when it takes a place in the table, so at most `limit` are.
    fn index_of_str(&self, kind: &str) -> usize {
        let len = self.len.load(Ordering::Acquire);
        if let Some(i) = self.find(kind, len) {
            return i;
        }
        self.insert(kind, || Box::leak(kind.to_owned().into_boxed_str()))
    }

    #[inline]
    fn find(&self, kind: &str, len: usize) -> Option<usize> {
        // Kinds are `&'static str`: the same literal is almost always the same pointer, so
        // compare addresses first and contents only if no address matched.
        let names = &self.names[..len];
        names
            .iter()
            .position(|n| n.get().is_some_and(|n| std::ptr::eq(*n, kind)))
            .or_else(|| {
                names
                    .iter()
                    .position(|n| n.get().is_some_and(|n| *n == kind))
            })
    }

    /// Adds a kind under the lock, unless another thread just did or the table is full;
    /// `stored` gives the `'static` name, made only when the kind takes a place.
    #[cold]
    fn insert(&self, kind: &str, stored: impl FnOnce() -> &'static str) -> usize {
        let _guard = self.insert.lock().unwrap_or_else(|e| e.into_inner());
        let len = self.len.load(Ordering::Acquire);
        if let Some(i) = self.find(kind, len) {
            return i;
        }
        if len == self.limit {
            return self.limit;
        }
        let _ = self.names[len].set(stored());
        self.len.store(len + 1, Ordering::Release);
        len
    }

    /// The kind at an index (the overflow kind for the overflow index).
    fn name(&self, index: usize) -> &'static str {
        self.names
            .get(index)
            .and_then(|n| n.get().copied())
            .unwrap_or(crate::words::names::OVERFLOW_KIND)
    }

    fn heap_bytes(&self) -> usize {
        self.names.len() * std::mem::size_of::<OnceLock<&'static str>>()
    }
}
