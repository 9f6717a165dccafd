//! The future wrapper behind `#[measure]` on async code.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::callsite::Callsite;
use super::classify::Classified;
use super::nesting::{self, Entered};
use crate::clock;
use crate::record::registry::{CallRecord, FunctionState};
use crate::words::outcome::Outcome;

/// The timing of one call in progress: 48 bytes.
///
/// Not started while `polls == 0`; finished (or its poll panicked) once `function` is
/// `None`. Dropping it between the two is a cancellation.
struct Call {
    function: Option<&'static FunctionState>,
    /// The measured call running when this one started (its first poll).
    caller: Option<&'static FunctionState>,
    /// Clock ticks at the start of the first poll.
    start: u64,
    /// Ticks spent inside polls.
    busy: u64,
    /// Ticks of those spent in the polls of measured callees.
    children: u64,
    polls: u32,
    slow_polls: u32,
}

impl Call {
    #[inline(always)]
    fn record(&mut self, outcome: Outcome, kind: Option<&'static str>, end: u64) {
        if let Some(function) = self.function.take() {
            function.record_end(outcome, kind, self.numbers(end));
        }
    }

    #[inline(always)]
    fn numbers(&self, end: u64) -> CallRecord {
        let busy_ns = clock::nanos_between(0, self.busy);
        CallRecord {
            wall_ns: clock::nanos_between(self.start, end),
            busy_ns,
            callees_ns: CallRecord::callees_ns(self.busy, self.children, busy_ns),
            polls: self.polls,
            slow_polls: self.slow_polls,
            caller: self.caller,
            timed: true,
        }
    }

    /// Counts a poll from `t0` to `t1`, and pops its frame.
    #[inline(always)]
    fn count_poll(&mut self, t0: u64, t1: u64, entered: Entered) {
        let spent = t1.saturating_sub(t0);
        self.busy += spent;
        self.children += nesting::exit(entered, spent);
        self.polls = self.polls.saturating_add(1);
        self.slow_polls += u32::from(spent > clock::slow_poll_ticks());
    }
}

/// Records a panic when a poll unwinds instead of returning.
struct PollGuard<'a> {
    call: &'a mut Call,
    t0: u64,
    entered: Entered,
}

impl Drop for PollGuard<'_> {
    #[cold]
    fn drop(&mut self) {
        let t1 = clock::now();
        self.call.count_poll(self.t0, t1, self.entered);
        self.call.record(Outcome::Panicked, None, t1);
    }
}

/// A future measured as one call: wall time from its first poll to completion or drop, busy
/// time and count of its polls, slow polls, and its outcome.
///
/// It yields the inner output with a [`Completion`]; the caller classifies the output and
/// passes the verdict to [`Completion::finish`] (the macros do this, after checking that
/// recording is on: `Measured` itself always records). Dropped before it
/// finished, it records a cancellation; a poll that panics records a panic and the panic
/// goes on. Its size is the inner future's plus 32 bytes.
#[doc(hidden)]
#[must_use = "futures do nothing unless polled"]
pub struct Measured<F> {
    inner: F,
    call: Call,
}

impl<F> Measured<F> {
    /// Wraps a future as a call of the callsite's function. Construct it where the call
    /// starts (the macros do so inside the caller's first poll): the call counts as started
    /// (in flight) from here.
    #[inline(always)]
    pub fn new(callsite: &'static Callsite, inner: F) -> Self {
        let function = callsite.state();
        Self {
            inner,
            call: Call {
                function: Some(function),
                caller: None,
                start: 0,
                busy: 0,
                children: 0,
                polls: 0,
                slow_polls: 0,
            },
        }
    }
}

impl<F: Future> Future for Measured<F> {
    type Output = (F::Output, Completion);

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_then(cx, |_, _| {})
    }
}

impl<F: Future> Measured<F> {
    /// Polls the call; `at_start` gets the function and the clock reading that starts the
    /// poll (not called on a poll after the call finished).
    #[inline(always)]
    pub(super) fn poll_then(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        at_start: impl FnOnce(&'static FunctionState, u64),
    ) -> Poll<(F::Output, Completion)> {
        // SAFETY: `inner` is structurally pinned (never moved out, dropped in place); `call`
        // is plain data and not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let Some(function) = this.call.function else {
            // Polled again after it finished: the inner future decides what that means.
            return inner.poll(cx).map(|out| (out, Completion::inactive()));
        };
        let t0 = clock::now();
        if this.call.polls == 0 {
            function.record_start();
            this.call.start = t0;
            this.call.caller = nesting::current();
        }
        at_start(function, t0);
        poll_measured(inner, &mut this.call, cx, t0, nesting::enter(function))
    }
}

#[inline(always)]
fn poll_measured<F: Future>(
    inner: Pin<&mut F>,
    call: &mut Call,
    cx: &mut Context<'_>,
    t0: u64,
    entered: Entered,
) -> Poll<(F::Output, Completion)> {
    let guard = PollGuard { call, t0, entered };
    let result = inner.poll(cx);
    let guard = ManuallyDrop::new(guard);
    // SAFETY: the guard is never dropped; its `&mut Call` is moved out exactly once.
    let call = unsafe { std::ptr::read(&guard.call) };
    let t1 = clock::now();
    call.count_poll(t0, t1, entered);
    match result {
        Poll::Pending => Poll::Pending,
        Poll::Ready(out) => {
            let completion = Completion {
                function: call.function.take(),
                numbers: call.numbers(t1),
            };
            Poll::Ready((out, completion))
        }
    }
}

impl<F> Drop for Measured<F> {
    #[inline]
    fn drop(&mut self) {
        if self.call.polls != 0 && self.call.function.is_some() {
            self.call.cancel();
        }
    }
}

impl Call {
    /// Records a call dropped after it started and before it finished.
    #[cold]
    #[inline(never)]
    fn cancel(&mut self) {
        self.record(Outcome::Cancelled, None, clock::now());
    }
}

/// A finished call waiting for its verdict. Dropped without one (the classifier panicked),
/// it records a panic.
#[doc(hidden)]
#[must_use]
pub struct Completion {
    function: Option<&'static FunctionState>,
    numbers: CallRecord,
}

impl Completion {
    #[inline(always)]
    pub(crate) fn new(function: &'static FunctionState, numbers: CallRecord) -> Self {
        Self {
            function: Some(function),
            numbers,
        }
    }

    #[inline(always)]
    fn inactive() -> Self {
        Self {
            function: None,
            numbers: CallRecord {
                wall_ns: 0,
                busy_ns: 0,
                callees_ns: 0,
                polls: 0,
                slow_polls: 0,
                caller: None,
                timed: true,
            },
        }
    }

    /// Records the call with its verdict.
    #[inline(always)]
    pub fn finish(self, verdict: Classified) {
        let this = ManuallyDrop::new(self);
        if let Some(function) = this.function {
            match verdict {
                Classified::Ok => function.record_end(Outcome::Ok, None, this.numbers),
                Classified::Error(kind) => {
                    function.record_end(Outcome::Error, Some(kind), this.numbers)
                }
            }
        }
    }
}

impl Drop for Completion {
    #[cold]
    fn drop(&mut self) {
        if let Some(function) = self.function {
            function.record_end(Outcome::Panicked, None, self.numbers);
        }
    }
}
