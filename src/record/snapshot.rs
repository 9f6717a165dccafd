//! Reading the recorder back: snapshots, deltas between them, and per-window rates.

use std::time::Duration;

use super::attempts::Attempts;
use super::histogram::Histogram;
use super::registry;
use super::runtime::RuntimeSnapshot;
use crate::export::stats::ExportStats;
use crate::words::function::{Pattern, Source};
use crate::words::names::{OVERFLOW_KIND, ROOT_CALLER, short_kind};
use crate::words::outcome::Outcome;

/// Everything recorded, read at one moment: plain data.
///
/// A snapshot from [`snapshot()`] is cumulative since the process started recording; one
/// from [`Snapshot::delta`] or a [`Sampler`] holds only what happened within its window.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// When it was read, as time since the recorder's clock started.
    pub taken_at: Duration,
    /// The span of time the counts cover: since start for a cumulative snapshot, since the
    /// previous snapshot for a delta.
    pub window: Duration,
    /// One entry per measured function that has been called, ordered by module, then name.
    pub functions: Vec<FunctionSnapshot>,
    /// The exporters' counters at the time of the reading (cumulative even in a delta): a
    /// failed or dropped export shows here.
    pub exports: ExportStats,
    /// The latest reading of each tokio runtime a [runtime monitor](crate::runtime()) watches
    /// (cargo feature `runtime`), by name; empty without one. The latest in a delta too.
    pub runtimes: Vec<RuntimeSnapshot>,
}

/// The numbers of one function.
#[derive(Clone, Debug, Default)]
pub struct FunctionSnapshot {
    /// The reported name: the function's name, `Type::method` for a method of a measured
    /// impl block, or the name given with `name = "..."`.
    pub name: &'static str,
    /// The module path where it is defined (for a span without one, its target).
    pub module: &'static str,
    /// The `tracing` target: the module path for a measured function, the span's target
    /// for a span recorded by the layer.
    pub target: &'static str,
    /// What recorded it: `#[measure]` (and the measuring macros) or a span, through the
    /// layer.
    pub source: Source,
    /// What the calls are of: a function, or an operation of one of the async patterns
    /// (`taskscope::patterns`): a retry, a semaphore's wait, a channel's queue, ...
    pub pattern: Pattern,
    /// The source file of the definition (of the first one, when a name is shared).
    pub file: &'static str,
    /// The line of the definition's attribute or macro.
    pub line: u32,
    /// Calls that returned a success.
    pub ok: OutcomeStats,
    /// Calls that returned an error.
    pub error: OutcomeStats,
    /// Calls dropped before they finished.
    pub cancelled: OutcomeStats,
    /// Calls whose body panicked.
    pub panicked: OutcomeStats,
    /// Errors by kind, most frequent first; the overflow kind [`OVERFLOW_KIND`] counts the
    /// errors whose kind arrived after the limit was reached.
    pub error_kinds: Vec<ErrorKindCount>,
    /// Calls started and not yet finished, at the moment of the reading (a gauge, also in a
    /// delta).
    pub in_flight: u64,
    /// For a function measured with `#[measure(scheduling)]`: each wait from a wake to the
    /// next poll, the time the runtime took to come back to the call. Empty otherwise.
    pub scheduling: Histogram,
    /// For a retried operation ([`patterns::Retries`](crate::patterns::Retries)): how many
    /// attempts each call made. Empty otherwise.
    pub attempts: Attempts,
    /// Who called it: the calls from each measured function that was running when they
    /// started (a caller's poll, or a span the layer records), most calls first, with
    /// [`ROOT_CALLER`] for the calls no measured call was running around and
    /// [`OVERFLOW_KIND`] for callers beyond the cap of 16 per function. The entries add up
    /// to the function's calls and times. [`Snapshot::callees`] gives the other direction.
    pub callers: Vec<CallerStats>,
}

/// The calls of one function from one caller, and the time they took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallerStats {
    /// The caller's module; empty for [`ROOT_CALLER`] and [`OVERFLOW_KIND`].
    pub module: &'static str,
    /// The caller's reported name, [`ROOT_CALLER`], or [`OVERFLOW_KIND`].
    pub name: &'static str,
    /// Finished calls from this caller, every outcome.
    pub calls: u64,
    /// Their wall time, summed. Concurrent calls (`join!`) overlap: the sum can exceed the
    /// caller's own wall time.
    pub wall: Duration,
    /// Their busy time, summed: time spent in this function's polls on the caller's behalf.
    pub busy: Duration,
    /// Their self busy time, summed (see [`OutcomeStats::self_busy`]).
    pub self_busy: Duration,
}

impl CallerStats {
    /// Whether these are the calls without a measured caller.
    pub fn is_root(&self) -> bool {
        self.name == ROOT_CALLER && self.module.is_empty()
    }

    fn key(&self) -> (&'static str, &'static str) {
        (self.module, self.name)
    }

    fn add(&mut self, other: &CallerStats) {
        self.calls += other.calls;
        self.wall += other.wall;
        self.busy += other.busy;
        self.self_busy += other.self_busy;
    }

    fn minus(&self, earlier: &CallerStats) -> CallerStats {
        CallerStats {
            calls: self.calls.saturating_sub(earlier.calls),
            wall: self.wall.saturating_sub(earlier.wall),
            busy: self.busy.saturating_sub(earlier.busy),
            self_busy: self.self_busy.saturating_sub(earlier.self_busy),
            ..self.clone()
        }
    }
}

/// One function a function calls, and those calls: an entry of [`Snapshot::callees`].
#[derive(Clone, Copy, Debug)]
pub struct Callee<'a> {
    /// The called function.
    pub function: &'a FunctionSnapshot,
    /// Its calls from the caller.
    pub calls: &'a CallerStats,
}

/// The numbers of one outcome of one function.
#[derive(Clone, Debug, Default)]
pub struct OutcomeStats {
    /// Number of calls that ended this way.
    pub count: u64,
    /// Polls made by those calls, in total (0 for synchronous calls).
    pub polls: u64,
    /// Polls that took longer than the slow-poll threshold.
    pub slow_polls: u64,
    /// Wall time per call: first poll to completion or drop.
    pub wall: Histogram,
    /// Busy time per call: the sum of its polls.
    pub busy: Histogram,
    /// Busy time of those calls, summed, less the time of the measured calls and recorded
    /// spans polled inside their polls: the time spent in this function's own code.
    /// Children run at once (`join!`) each count their own polls, which never overlap.
    pub self_busy: Duration,
}

/// How many errors of one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorKindCount {
    /// The kind: a variant name, a type's short name, or [`OVERFLOW_KIND`].
    pub kind: &'static str,
    /// Number of errors of this kind.
    pub count: u64,
}

/// Reads everything recorded so far.
///
/// ```
/// #[taskscope::measure]
/// fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
///     s.parse()
/// }
///
/// let _ = parse("12");
/// let _ = parse("x");
/// let snap = taskscope::snapshot();
/// let f = snap.function("parse").unwrap();
/// assert_eq!((f.ok.count, f.error.count), (1, 1));
/// assert_eq!(f.success_rate(), Some(0.5));
/// assert_eq!(f.error_kinds[0].kind, "ParseIntError");
/// ```
pub fn snapshot() -> Snapshot {
    let taken_at = crate::clock::since_start();
    let states = registry::all();
    let mut functions: Vec<FunctionSnapshot> = Vec::with_capacity(states.len());
    for state in states {
        let reading = state.read();
        let mut f = FunctionSnapshot {
            name: state.meta.name,
            module: state.meta.module,
            target: state.meta.target,
            source: state.meta.source,
            pattern: state.meta.pattern,
            file: state.meta.file,
            line: state.meta.line,
            in_flight: reading.in_flight,
            scheduling: reading.scheduling,
            attempts: reading.attempts,
            ..Default::default()
        };
        for (outcome, r) in reading.outcomes {
            let self_busy = Duration::from_nanos(r.self_ns());
            *f.stats_mut(outcome) = OutcomeStats {
                count: r.wall.count(),
                polls: r.polls,
                slow_polls: r.slow_polls,
                wall: r.wall,
                busy: r.busy,
                self_busy,
            };
        }
        f.callers = reading
            .callers
            .iter()
            .map(|e| {
                let (module, name) = e
                    .caller
                    .map_or(("", OVERFLOW_KIND), |c| (c.meta.module, c.meta.name));
                CallerStats {
                    module,
                    name,
                    calls: e.calls,
                    wall: Duration::from_nanos(e.wall_ns),
                    busy: Duration::from_nanos(e.busy_ns),
                    self_busy: Duration::from_nanos(e.self_ns),
                }
            })
            .collect();
        f.error_kinds = reading
            .kinds
            .into_iter()
            .map(|(kind, count)| ErrorKindCount {
                kind: short_kind(kind),
                count,
            })
            .collect();
        // A function whose only calls were taken back (spans that turned out to be a
        // measured function's own), or never started, has nothing to show.
        if f.calls() == 0 && f.in_flight == 0 {
            continue;
        }
        functions.push(f);
    }
    // Callsites that share a name, module and target (a name given twice, or one span name
    // at several places) report as one, under the first registered (the sort is stable).
    functions.sort_by(|a, b| (a.module, a.name, a.target).cmp(&(b.module, b.name, b.target)));
    functions.dedup_by(|later, kept| {
        let same =
            (later.module, later.name, later.target) == (kept.module, kept.name, kept.target);
        if same {
            kept.merge(later);
        }
        same
    });
    for f in &mut functions {
        f.normalise_kinds();
        f.normalise_callers();
    }
    Snapshot {
        taken_at,
        window: taken_at,
        functions,
        exports: ExportStats::read(),
        runtimes: super::runtime::latest(),
    }
}

impl Snapshot {
    /// The first function with this name, in any module.
    pub fn function(&self, name: &str) -> Option<&FunctionSnapshot> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The latest reading of the runtime watched under this name.
    pub fn runtime(&self, name: &str) -> Option<&RuntimeSnapshot> {
        self.runtimes.iter().find(|r| r.name == name)
    }

    /// The function with this module and name.
    pub fn function_in(&self, module: &str, name: &str) -> Option<&FunctionSnapshot> {
        self.functions
            .iter()
            .find(|f| f.module == module && f.name == name)
    }

    /// What happened between `earlier` (an older cumulative snapshot) and this one. Gauges
    /// (in-flight) keep their current value.
    pub fn delta(&self, earlier: &Snapshot) -> Snapshot {
        let functions = self
            .functions
            .iter()
            .map(|f| {
                match earlier
                    .functions
                    .iter()
                    .find(|e| e.module == f.module && e.name == f.name && e.target == f.target)
                {
                    Some(e) => f.delta(e),
                    None => f.clone(),
                }
            })
            .collect();
        Snapshot {
            taken_at: self.taken_at,
            window: self.taken_at.saturating_sub(earlier.taken_at),
            functions,
            exports: self.exports,
            runtimes: self.runtimes.clone(),
        }
    }

    /// The functions `caller` calls (the functions that list it among their
    /// [`callers`](FunctionSnapshot::callers)), most calls first.
    ///
    /// ```
    /// #[taskscope::measure]
    /// async fn load(id: u32) -> u32 {
    ///     id
    /// }
    ///
    /// #[taskscope::measure]
    /// async fn handle(id: u32) -> u32 {
    ///     load(id).await + load(id + 1).await
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// handle(1).await;
    /// let snap = taskscope::snapshot();
    /// let handle = snap.function("handle").unwrap();
    /// let callees = snap.callees(handle);
    /// assert_eq!(callees[0].function.name, "load");
    /// assert_eq!(callees[0].calls.calls, 2);
    /// assert!(snap.function("load").unwrap().callers[0].name == "handle");
    /// # }
    /// ```
    pub fn callees(&self, caller: &FunctionSnapshot) -> Vec<Callee<'_>> {
        let mut out: Vec<Callee<'_>> = self
            .functions
            .iter()
            .flat_map(|f| {
                f.callers
                    .iter()
                    .filter(|c| c.module == caller.module && c.name == caller.name)
                    .map(move |calls| Callee { function: f, calls })
            })
            .collect();
        out.sort_by_key(|c| std::cmp::Reverse(c.calls.calls));
        out
    }

    /// Total calls of all functions.
    pub fn calls(&self) -> u64 {
        self.functions.iter().map(FunctionSnapshot::calls).sum()
    }
}

impl FunctionSnapshot {
    /// The numbers of one outcome.
    pub fn stats(&self, outcome: Outcome) -> &OutcomeStats {
        match outcome {
            Outcome::Ok => &self.ok,
            Outcome::Error => &self.error,
            Outcome::Cancelled => &self.cancelled,
            Outcome::Panicked => &self.panicked,
        }
    }

    fn stats_mut(&mut self, outcome: Outcome) -> &mut OutcomeStats {
        match outcome {
            Outcome::Ok => &mut self.ok,
            Outcome::Error => &mut self.error,
            Outcome::Cancelled => &mut self.cancelled,
            Outcome::Panicked => &mut self.panicked,
        }
    }

    fn outcomes(&self) -> impl Iterator<Item = &OutcomeStats> {
        Outcome::ALL.into_iter().map(|o| self.stats(o))
    }

    /// Calls that finished, whatever their outcome.
    pub fn calls(&self) -> u64 {
        self.outcomes().map(|s| s.count).sum()
    }

    /// Calls that ended with this outcome.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.stats(outcome).count
    }

    /// Errors of one kind.
    pub fn error_kind_count(&self, kind: &str) -> u64 {
        self.error_kinds
            .iter()
            .filter(|k| k.kind == kind)
            .map(|k| k.count)
            .sum()
    }

    /// Errors counted under the overflow kind because the function's kind limit was reached.
    pub fn overflowed_errors(&self) -> u64 {
        self.error_kind_count(OVERFLOW_KIND)
    }

    /// `ok / (ok + error + panicked)`, or `None` before any such call. Cancelled calls are
    /// left out: the caller stopped waiting, the function neither succeeded nor failed.
    pub fn success_rate(&self) -> Option<f64> {
        let decided = self.ok.count + self.error.count + self.panicked.count;
        (decided > 0).then(|| self.ok.count as f64 / decided as f64)
    }

    /// Finished calls per second over `window` (use [`Snapshot::window`]).
    pub fn calls_per_second(&self, window: Duration) -> f64 {
        if window.is_zero() {
            0.0
        } else {
            self.calls() as f64 / window.as_secs_f64()
        }
    }

    /// Wall time of all finished calls, every outcome merged.
    pub fn wall(&self) -> Histogram {
        let mut h = Histogram::new();
        self.outcomes().for_each(|s| h.merge(&s.wall));
        h
    }

    /// Busy time of all finished calls, every outcome merged.
    pub fn busy(&self) -> Histogram {
        let mut h = Histogram::new();
        self.outcomes().for_each(|s| h.merge(&s.busy));
        h
    }

    /// Polls of all finished calls.
    pub fn polls(&self) -> u64 {
        self.outcomes().map(|s| s.polls).sum()
    }

    /// Slow polls of all finished calls.
    pub fn slow_polls(&self) -> u64 {
        self.outcomes().map(|s| s.slow_polls).sum()
    }

    /// The share of wall time spent running (in polls), from 0 to 1; the rest was waiting.
    /// `None` without calls whose busy time was measured (spans of a layer with
    /// [`with_busy_time(false)`](crate::SpanLayer::with_busy_time) have none).
    pub fn busy_ratio(&self) -> Option<f64> {
        let (wall, busy) = self.timed_sums();
        (wall > 0).then(|| (busy as f64 / wall as f64).min(1.0))
    }

    /// Wall and busy nanoseconds summed over the outcomes whose calls had busy time measured.
    fn timed_sums(&self) -> (u64, u64) {
        self.outcomes()
            .filter(|s| s.busy.count() != 0)
            .fold((0, 0), |(w, b), s| (w + s.wall.sum, b + s.busy.sum))
    }

    /// Busy time not spent in measured callees, over all outcomes (see
    /// [`OutcomeStats::self_busy`]).
    pub fn self_busy(&self) -> Duration {
        self.outcomes().map(|s| s.self_busy).sum()
    }

    /// Total time the calls spent waiting (wall time minus busy time), over all outcomes
    /// whose calls had busy time measured.
    pub fn idle(&self) -> Duration {
        let (wall, busy) = self.timed_sums();
        Duration::from_nanos(wall.saturating_sub(busy))
    }

    fn merge(&mut self, other: &FunctionSnapshot) {
        if other.source == Source::Measure {
            self.source = Source::Measure;
        }
        for o in Outcome::ALL {
            let (a, b) = (self.stats_mut(o), other.stats(o));
            a.count += b.count;
            a.polls += b.polls;
            a.slow_polls += b.slow_polls;
            a.wall.merge(&b.wall);
            a.busy.merge(&b.busy);
            a.self_busy += b.self_busy;
        }
        self.error_kinds.extend(other.error_kinds.iter().cloned());
        self.in_flight += other.in_flight;
        self.scheduling.merge(&other.scheduling);
        self.attempts.merge(&other.attempts);
        self.callers.extend(other.callers.iter().cloned());
    }

    /// Folds the entries of one caller (two callsites of one name), adds the root calls
    /// (what no measured caller accounts for) and sorts by calls.
    fn normalise_callers(&mut self) {
        let mut callers: Vec<CallerStats> = Vec::with_capacity(self.callers.len() + 1);
        for c in self.callers.drain(..) {
            match callers.iter_mut().find(|e| e.key() == c.key()) {
                Some(e) => e.add(&c),
                None => callers.push(c),
            }
        }
        let sum = |f: fn(&CallerStats) -> Duration| callers.iter().map(f).sum::<Duration>();
        let wall = Duration::from_nanos(self.outcomes().map(|s| s.wall.sum).sum());
        let busy = Duration::from_nanos(self.outcomes().map(|s| s.busy.sum).sum());
        let root = CallerStats {
            module: "",
            name: ROOT_CALLER,
            calls: self
                .calls()
                .saturating_sub(callers.iter().map(|c| c.calls).sum()),
            wall: wall.saturating_sub(sum(|c| c.wall)),
            busy: busy.saturating_sub(sum(|c| c.busy)),
            self_busy: self.self_busy().saturating_sub(sum(|c| c.self_busy)),
        };
        if root.calls > 0 {
            callers.push(root);
        }
        callers.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.key().cmp(&b.key())));
        self.callers = callers;
    }

    /// Folds duplicate kinds (two type names with the same short name) and sorts by count.
    fn normalise_kinds(&mut self) {
        let mut kinds: Vec<ErrorKindCount> = Vec::with_capacity(self.error_kinds.len());
        for k in self.error_kinds.drain(..) {
            match kinds.iter_mut().find(|e| e.kind == k.kind) {
                Some(e) => e.count += k.count,
                None => kinds.push(k),
            }
        }
        kinds.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(b.kind)));
        self.error_kinds = kinds;
    }

    fn delta(&self, earlier: &FunctionSnapshot) -> FunctionSnapshot {
        let mut d = self.clone();
        for o in Outcome::ALL {
            let (now, then) = (self.stats(o), earlier.stats(o));
            *d.stats_mut(o) = OutcomeStats {
                count: now.count.saturating_sub(then.count),
                polls: now.polls.saturating_sub(then.polls),
                slow_polls: now.slow_polls.saturating_sub(then.slow_polls),
                wall: now.wall.delta(&then.wall),
                busy: now.busy.delta(&then.busy),
                self_busy: now.self_busy.saturating_sub(then.self_busy),
            };
        }
        d.scheduling = self.scheduling.delta(&earlier.scheduling);
        d.attempts = self.attempts.delta(&earlier.attempts);
        d.callers = self
            .callers
            .iter()
            .map(
                |c| match earlier.callers.iter().find(|e| e.key() == c.key()) {
                    Some(e) => c.minus(e),
                    None => c.clone(),
                },
            )
            .filter(|c| c.calls > 0)
            .collect();
        d.error_kinds = self
            .error_kinds
            .iter()
            .map(|k| ErrorKindCount {
                kind: k.kind,
                count: k.count.saturating_sub(earlier.error_kind_count(k.kind)),
            })
            .filter(|k| k.count > 0)
            .collect();
        d
    }
}

/// Reads the recorder at intervals and gives each interval's numbers beside the totals.
///
/// ```
/// let mut sampler = taskscope::Sampler::new();
/// let interval = sampler.sample();
/// for f in &interval.delta.functions {
///     println!("{}: {:.1} calls/s", f.name, f.calls_per_second(interval.delta.window));
/// }
/// ```
#[derive(Debug, Default)]
pub struct Sampler {
    previous: Option<Snapshot>,
}

/// One interval from a [`Sampler`].
#[derive(Clone, Debug)]
pub struct Interval {
    /// Totals since the start.
    pub cumulative: Snapshot,
    /// What happened since the previous sample (since the start, for the first one).
    pub delta: Snapshot,
}

impl Sampler {
    /// A sampler whose first interval starts at the recorder's start.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the recorder and returns the interval since the previous call.
    pub fn sample(&mut self) -> Interval {
        let cumulative = snapshot();
        let delta = match &self.previous {
            Some(prev) => cumulative.delta(prev),
            None => cumulative.clone(),
        };
        self.previous = Some(cumulative.clone());
        Interval { cumulative, delta }
    }
}

/// Heap bytes held by the recorder: every function's state, shards and histogram chunks.
pub fn memory_usage() -> usize {
    registry::all().iter().map(|f| f.heap_bytes()).sum()
}
