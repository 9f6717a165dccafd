//! The async patterns users write, measured as they write them: each helper wraps the crate
//! users already use (tokio's semaphore, mutex, channels, blocking pool and interval, a
//! stream, backon's retries) and records into the same data model as `#[measure]`, under a
//! [`Pattern`] other than `Function`.
//!
//! A pattern's operation is one or more *phases*, each recorded as the calls of a function
//! named `name.phase` (a semaphore's `db.wait` and `db.hold`): a phase's calls are its
//! count, outcome and wall-time distribution, and its calls in flight are the pattern's
//! gauge (waiters, permits in use, queue depth). A phase costs at most two clock reads and
//! the stores of one finished call; phases that follow each other share the read between
//! them.

pub(crate) mod blocking;
pub(crate) mod channel;
pub(crate) mod interval;
pub(crate) mod lock;
pub(crate) mod retry;
pub(crate) mod stream;

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock;
use crate::instrument::nesting;
use crate::record::registry::{self, CallRecord, FunctionState};
use crate::words::function::{FunctionMeta, Pattern, Source};
use crate::words::outcome::Outcome;

/// Whether the helpers record: recording is on, and the cargo feature `disabled` (which
/// makes the macros expand to bare code) is off, so a disabled build records nothing.
#[inline(always)]
pub(crate) fn on() -> bool {
    !cfg!(feature = "disabled") && crate::config::enabled()
}

/// The error kind of an operation on a closed semaphore or channel.
pub(crate) const CLOSED_KIND: &str = "Closed";

/// The function state of phase `phase` of the pattern named `name` (`name` alone for an
/// empty phase): registered on first use, the same state for every later wrapper of the
/// same name. Called when a wrapper is made, never per operation.
pub(crate) fn site(
    name: &'static str,
    phase: &'static str,
    pattern: Pattern,
    location: &'static std::panic::Location<'static>,
) -> &'static FunctionState {
    type Sites = HashMap<(&'static str, &'static str, Pattern), &'static FunctionState>;
    static SITES: Mutex<Option<Sites>> = Mutex::new(None);
    let mut sites = SITES.lock().unwrap_or_else(|e| e.into_inner());
    let sites = sites.get_or_insert_with(HashMap::new);
    let key = (name, phase, pattern);
    if let Some(&state) = sites.get(&key) {
        return state;
    }
    let state = {
        let full: &'static str = if phase.is_empty() {
            name
        } else {
            Box::leak(format!("{name}.{phase}").into_boxed_str())
        };
        let meta: &'static FunctionMeta = Box::leak(Box::new(FunctionMeta {
            name: full,
            module: "",
            file: location.file(),
            line: location.line(),
            target: "taskscope::patterns",
            source: Source::Measure,
            span_name: "",
            pattern,
        }));
        registry::register_dynamic(meta)
    };
    sites.insert(key, state);
    state
}

/// One phase in progress: ends with an outcome, or as cancelled when dropped.
#[derive(Debug)]
pub(crate) struct Phase {
    function: Option<&'static FunctionState>,
    caller: Option<&'static FunctionState>,
    start: u64,
    /// Whether it was counted as started (in flight).
    counted: bool,
}

impl Phase {
    /// A phase that records nothing (recording is off).
    pub(crate) const OFF: Phase = Phase {
        function: None,
        caller: None,
        start: 0,
        counted: false,
    };

    /// Starts a phase of `function` now.
    #[inline]
    pub(crate) fn start(function: &'static FunctionState) -> Phase {
        if !on() {
            return Phase::OFF;
        }
        Phase::counted_from(function, clock::now())
    }

    /// Starts a phase of `function` at `ticks` (the end of the phase before it).
    #[inline]
    pub(crate) fn start_at(function: &'static FunctionState, ticks: u64) -> Phase {
        if !on() {
            return Phase::OFF;
        }
        Phase::counted_from(function, ticks)
    }

    /// A phase of `function` started at `ticks`, recording being on.
    #[inline]
    fn counted_from(function: &'static FunctionState, ticks: u64) -> Phase {
        function.record_start();
        Phase {
            function: Some(function),
            caller: nesting::current(),
            start: ticks,
            counted: true,
        }
    }

    /// A phase that starts at `ticks` but is counted as started only by a later
    /// [`counted`](Phase::counted) (an item counts as queued once it is in the queue).
    #[inline]
    pub(crate) fn uncounted_at(function: &'static FunctionState, ticks: u64) -> Phase {
        if !on() {
            return Phase::OFF;
        }
        Phase {
            function: Some(function),
            caller: None,
            start: ticks,
            counted: false,
        }
    }

    /// Counts an [`uncounted_at`](Phase::uncounted_at) phase as started.
    #[inline]
    pub(crate) fn counted(function: &'static FunctionState) {
        if on() {
            function.record_start();
        }
    }

    /// Drops the phase without recording it (it turned out never to have begun): a phase
    /// counted as started is taken back.
    pub(crate) fn forget(&mut self) {
        if let Some(function) = self.function.take()
            && self.counted
        {
            function.record_unstart();
        }
    }

    /// Whether the phase records (recording was on when it started).
    pub(crate) fn is_on(&self) -> bool {
        self.function.is_some()
    }

    /// The ticks it started at.
    pub(crate) fn started(&self) -> u64 {
        self.start
    }

    /// Ends the phase now; returns the ticks read (0 when it records nothing), for the phase
    /// that follows.
    #[inline]
    pub(crate) fn end(&mut self, outcome: Outcome, kind: Option<&'static str>) -> u64 {
        if self.function.is_none() {
            return 0;
        }
        let now = clock::now();
        self.end_at(now, outcome, kind);
        now
    }

    /// Ends the phase at `ticks`.
    #[inline]
    pub(crate) fn end_at(&mut self, ticks: u64, outcome: Outcome, kind: Option<&'static str>) {
        self.end_with(ticks, outcome, kind, None);
    }

    /// Ends the phase at `ticks`, with busy time and polls when `busy` gives them.
    #[inline]
    pub(crate) fn end_with(
        &mut self,
        ticks: u64,
        outcome: Outcome,
        kind: Option<&'static str>,
        busy: Option<(u64, u32)>,
    ) {
        let kind = match (kind, self.function) {
            (Some(k), Some(f)) => Some(f.kind_index_of(k)),
            _ => None,
        };
        self.end_indexed(ticks, outcome, kind, busy);
    }

    /// As [`end_with`](Phase::end_with), with the error kind as an index of the function's
    /// kind table.
    #[inline]
    pub(crate) fn end_indexed(
        &mut self,
        ticks: u64,
        outcome: Outcome,
        kind: Option<usize>,
        busy: Option<(u64, u32)>,
    ) {
        let Some(function) = self.function.take() else {
            return;
        };
        let wall_ns = clock::nanos_between(self.start, ticks);
        let mut record = CallRecord::wall_only(wall_ns, self.caller);
        if let Some((busy_ns, polls)) = busy {
            record.busy_ns = busy_ns.min(wall_ns);
            record.polls = polls;
            record.timed = true;
        }
        function.record_end_indexed(outcome, kind, record);
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if self.function.is_some() {
            let outcome = if std::thread::panicking() {
                Outcome::Panicked
            } else {
                Outcome::Cancelled
            };
            self.end_at(clock::now(), outcome, None);
        }
    }
}
