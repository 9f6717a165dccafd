//! A closure on tokio's blocking pool, measured (`spawn_blocking!`): one call from the
//! spawn to the closure's return, whose busy time is the run and whose scheduling delay
//! ([`FunctionSnapshot::scheduling`](crate::FunctionSnapshot::scheduling)) is the wait in
//! the pool's queue; the outcome is the closure's value classified as a function's, panicked
//! when it panics, cancelled when it was dropped before it ran (an aborted handle, a runtime
//! shutting down).

use std::mem::ManuallyDrop;

use crate::clock;
use crate::instrument::callsite::Callsite;
use crate::instrument::future::Completion;
use crate::instrument::nesting::{self, Entered};
use crate::record::registry::{CallRecord, FunctionState};
use crate::words::outcome::Outcome;

/// A blocking closure waiting in the pool's queue.
#[doc(hidden)]
#[derive(Debug)]
#[must_use]
pub struct BlockingCall {
    function: Option<&'static FunctionState>,
    caller: Option<&'static FunctionState>,
    queued: u64,
}

impl BlockingCall {
    /// Starts a blocking call of the callsite's function: it is queued now.
    #[inline]
    pub fn queue(callsite: &'static Callsite) -> BlockingCall {
        if !super::on() {
            return BlockingCall {
                function: None,
                caller: None,
                queued: 0,
            };
        }
        let function = callsite.state();
        function.record_start();
        BlockingCall {
            function: Some(function),
            caller: nesting::current(),
            queued: clock::now(),
        }
    }

    /// The closure starts running on a thread of the pool.
    #[inline]
    pub fn run(self) -> BlockingRun {
        let this = ManuallyDrop::new(self);
        let Some(function) = this.function else {
            return BlockingRun {
                function: None,
                caller: None,
                queued: 0,
                started: 0,
                entered: Entered::NOTHING,
            };
        };
        let started = clock::now();
        function.record_scheduling(clock::nanos_between(this.queued, started));
        BlockingRun {
            function: Some(function),
            caller: this.caller,
            queued: this.queued,
            started,
            entered: nesting::enter(function),
        }
    }
}

impl Drop for BlockingCall {
    /// Dropped in the queue: the closure never ran.
    fn drop(&mut self) {
        if let Some(function) = self.function {
            let wall_ns = clock::nanos_between(self.queued, clock::now());
            // It never ran: no busy time was measured.
            function.record_end(
                Outcome::Cancelled,
                None,
                CallRecord::wall_only(wall_ns, self.caller),
            );
        }
    }
}

/// A blocking closure running.
#[doc(hidden)]
#[derive(Debug)]
#[must_use]
pub struct BlockingRun {
    function: Option<&'static FunctionState>,
    caller: Option<&'static FunctionState>,
    queued: u64,
    started: u64,
    entered: Entered,
}

impl BlockingRun {
    /// The closure returned; the expansion classifies its value.
    #[inline]
    pub fn end(self) -> Option<Completion> {
        let this = ManuallyDrop::new(self);
        let function = this.function?;
        Some(Completion::new(function, this.numbers()))
    }

    fn numbers(&self) -> CallRecord {
        let end = clock::now();
        let ticks = end.saturating_sub(self.started);
        let children = nesting::exit(self.entered, ticks);
        let busy_ns = clock::nanos_between(self.started, end);
        CallRecord {
            wall_ns: clock::nanos_between(self.queued, end),
            busy_ns,
            callees_ns: CallRecord::callees_ns(ticks, children, busy_ns),
            polls: 1,
            slow_polls: 0,
            caller: self.caller,
            timed: true,
        }
    }
}

impl Drop for BlockingRun {
    /// Dropped while running: the closure panicked.
    fn drop(&mut self) {
        if let Some(function) = self.function {
            function.record_end(Outcome::Panicked, None, self.numbers());
        }
    }
}

/// tokio's `spawn_blocking`, for the expansion of `spawn_blocking!`.
#[doc(hidden)]
#[inline]
pub fn spawn<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(f)
}
