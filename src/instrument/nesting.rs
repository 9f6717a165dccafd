//! Which measured call is running on this thread: the caller of any call that starts inside
//! it, and the one whose own time shrinks by the time of the calls polled inside it.
//!
//! Every poll of a measured call (and every run of a measured plain function, and every
//! enter of a span the layer records) pushes a frame on a fixed thread-local stack and pops
//! it when it returns; a call whose first poll finds a frame on the stack records that
//! frame's function as its caller. When a frame is popped, its time is added to the frame
//! below it as time spent in callees, so a call's self time is its busy time minus the time
//! of the measured calls polled inside its polls. Calls running concurrently inside one poll
//! (`join!`, `select!`) each add their own poll time: the children's busy time never
//! overlaps, though their wall time does.
//!
//! Frames deeper than [`DEPTH`] are counted but not kept: a call that starts inside one has
//! no known caller (it counts as a root), and the time of those deeper frames is not taken
//! from their callers' self time.

use std::cell::Cell;

use crate::record::registry::FunctionState;

/// Frames kept per thread.
const DEPTH: usize = 32;

struct Frame {
    function: Cell<*const FunctionState>,
    /// Clock ticks spent in the frames pushed on top of this one (its callees' polls).
    children: Cell<u64>,
}

struct Stack {
    /// Frames pushed and not popped, including those beyond `DEPTH`.
    len: Cell<usize>,
    frames: [Frame; DEPTH],
}

thread_local! {
    static STACK: Stack = const {
        Stack {
            len: Cell::new(0),
            frames: [const {
                Frame {
                    function: Cell::new(std::ptr::null()),
                    children: Cell::new(0),
                }
            }; DEPTH],
        }
    };
}

/// A pushed frame, to pop with [`exit`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entered {
    /// The stack's length before the push; `usize::MAX` when nothing was pushed (the
    /// thread is tearing down its thread-locals).
    below: usize,
}

impl Entered {
    /// No frame: popping it does nothing.
    pub(crate) const NOTHING: Entered = Entered { below: usize::MAX };
}

/// The function of the frame on top of the stack: the caller of a call starting now.
#[inline(always)]
pub(crate) fn current() -> Option<&'static FunctionState> {
    STACK
        .try_with(|s| {
            let len = s.len.get();
            if len == 0 || len > DEPTH {
                return std::ptr::null();
            }
            s.frames[len - 1].function.get()
        })
        .ok()
        .and_then(|p| {
            // SAFETY: frames hold only `&'static FunctionState` pointers, or null.
            unsafe { p.as_ref() }
        })
}

/// Pushes a frame for a poll of `function` (or of the frame's stand-in caller).
#[inline(always)]
pub(crate) fn enter(function: &'static FunctionState) -> Entered {
    let below = STACK
        .try_with(|s| {
            let len = s.len.get();
            if let Some(f) = s.frames.get(len) {
                f.function.set(function);
                f.children.set(0);
            }
            s.len.set(len + 1);
            len
        })
        .unwrap_or(usize::MAX);
    Entered { below }
}

/// Pops the frame of `entered`, which ran for `ticks`: its time goes to the frame below as
/// time in callees. Returns the ticks the popped frame spent in its own callees.
#[inline(always)]
pub(crate) fn exit(entered: Entered, ticks: u64) -> u64 {
    let below = entered.below;
    if below == usize::MAX {
        return 0;
    }
    STACK
        .try_with(|s| {
            // Frames pushed above this one and never popped (a span exited out of order)
            // go with it.
            s.len.set(below);
            let children = s.frames.get(below).map_or(0, |f| f.children.get());
            if let Some(parent) = below.checked_sub(1).and_then(|i| s.frames.get(i))
                && below <= DEPTH
            {
                parent.children.set(parent.children.get() + ticks);
            }
            children
        })
        .unwrap_or(0)
}

#[cfg(feature = "console")]
pub(crate) use self::spawned::WithCaller;

/// The caller carried into a task `spawn!` starts (the `console` feature's).
#[cfg(feature = "console")]
mod spawned {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::{Entered, current, enter, exit};
    use crate::record::registry::FunctionState;

    /// A future polled with `caller` as the running call: a measured call it starts records
    /// `caller` as its caller, though it runs in a task of its own. The task's polls are not
    /// inside the caller's, so they are not taken from its self time.
    #[must_use = "futures do nothing unless polled"]
    pub(crate) struct WithCaller<F> {
        inner: F,
        caller: Option<&'static FunctionState>,
    }

    impl<F> WithCaller<F> {
        /// Wraps `inner`, to run as called by the call running now (if any).
        pub(crate) fn of_current(inner: F) -> Self {
            Self {
                inner,
                caller: current(),
            }
        }
    }

    impl<F: Future> Future for WithCaller<F> {
        type Output = F::Output;

        #[inline]
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            // SAFETY: `inner` is structurally pinned (never moved out of `self`); `caller` is
            // plain data, read by value.
            let this = unsafe { self.get_unchecked_mut() };
            // SAFETY: as above, `inner` stays where the pinned `self` holds it.
            let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
            let Some(caller) = this.caller else {
                return inner.poll(cx);
            };
            let entered = enter(caller);
            let guard = ExitOnUnwind(Some(entered));
            let out = inner.poll(cx);
            std::mem::forget(guard);
            exit(entered, 0);
            out
        }
    }

    /// Pops a frame when a poll unwinds.
    struct ExitOnUnwind(Option<Entered>);

    impl Drop for ExitOnUnwind {
        fn drop(&mut self) {
            if let Some(e) = self.0.take() {
                exit(e, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::registry::test_state;

    #[test]
    fn frames_nest_and_hand_their_time_down() {
        let (a, b) = (test_state("a"), test_state("b"));
        assert!(current().is_none(), "nothing runs yet");
        let outer = enter(a);
        assert!(std::ptr::eq(current().unwrap(), a));
        let inner = enter(b);
        assert!(std::ptr::eq(current().unwrap(), b));
        let grand = enter(b);
        assert_eq!(exit(grand, 5), 0);
        assert_eq!(exit(inner, 30), 5, "the inner frame spent 5 in its callee");
        assert!(std::ptr::eq(current().unwrap(), a));
        assert_eq!(
            exit(outer, 100),
            30,
            "the outer frame spent 30 in its callee"
        );
        assert!(current().is_none());
    }

    #[test]
    fn frames_beyond_the_depth_have_no_caller_and_unwind_cleanly() {
        let a = test_state("deep");
        let frames: Vec<Entered> = (0..DEPTH + 3).map(|_| enter(a)).collect();
        assert!(
            current().is_none(),
            "beyond the depth the caller is unknown"
        );
        for e in frames.into_iter().rev() {
            exit(e, 1);
        }
        assert!(current().is_none());
        let e = enter(a);
        assert!(current().is_some(), "the stack is usable again");
        exit(e, 0);
    }
}
