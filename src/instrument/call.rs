//! The guard behind `#[measure]` on synchronous code and `measure_block!`.

use std::mem::ManuallyDrop;

use super::callsite::Callsite;
use super::future::Completion;
use super::nesting::{self, Entered};
use crate::clock;
use crate::record::registry::{CallRecord, FunctionState};
use crate::words::names::EARLY_EXIT_KIND;
use crate::words::outcome::Outcome;

/// One synchronous call in progress. A sync call has no polls: its busy time is its wall
/// time, and it never counts as a slow poll.
#[doc(hidden)]
#[must_use]
pub struct SyncCall {
    function: Option<&'static FunctionState>,
    caller: Option<&'static FunctionState>,
    start: u64,
    entered: Entered,
}

impl SyncCall {
    /// Starts a call of the callsite's function (nothing, if recording is off).
    #[inline(always)]
    pub fn start(callsite: &'static Callsite) -> Self {
        if !crate::config::enabled() {
            return Self {
                function: None,
                caller: None,
                start: 0,
                entered: Entered::NOTHING,
            };
        }
        let function = callsite.state();
        function.record_start();
        Self {
            function: Some(function),
            caller: nesting::current(),
            start: clock::now(),
            entered: nesting::enter(function),
        }
    }

    /// Ends the call; the caller then passes the verdict to the completion.
    #[inline(always)]
    pub fn end(self) -> Option<Completion> {
        let this = ManuallyDrop::new(self);
        let function = this.function?;
        Some(Completion::new(function, this.numbers(clock::now())))
    }

    /// The call's numbers, ending at `end`; pops its frame.
    #[inline(always)]
    fn numbers(&self, end: u64) -> CallRecord {
        let ticks = end.saturating_sub(self.start);
        let children = nesting::exit(self.entered, ticks);
        let ns = clock::nanos_between(self.start, end);
        CallRecord {
            wall_ns: ns,
            busy_ns: ns,
            callees_ns: CallRecord::callees_ns(ticks, children, ns),
            polls: 0,
            slow_polls: 0,
            caller: self.caller,
            timed: true,
        }
    }
}

impl Drop for SyncCall {
    #[cold]
    fn drop(&mut self) {
        if let Some(function) = self.function {
            let record = self.numbers(clock::now());
            if std::thread::panicking() {
                function.record_end(Outcome::Panicked, None, record);
            } else {
                function.record_end(Outcome::Error, Some(EARLY_EXIT_KIND), record);
            }
        }
    }
}
