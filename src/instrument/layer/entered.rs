//! The spans entered on this thread, with the clock reading of each enter.
//!
//! Enter and exit of one span always happen on the same thread, so the time of an enter is
//! kept here, in a fixed thread-local array, rather than in the span: two threads entering
//! one span at once each time their own period.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

use super::open_spans::Timing;
use crate::instrument::nesting::Entered;

/// Spans entered at once on one thread that are timed; deeper ones count their enters but
/// no busy time.
const DEPTH: usize = 32;
/// The start of a frame that re-enters a span already entered on this thread: its time is
/// inside the outer enter's, so it is not counted again.
const NESTED: u64 = u64::MAX;

#[derive(Clone, Copy)]
struct Frame {
    /// The layer that pushed it (two subscribers may hand out the same ids).
    layer: u64,
    id: u64,
    start: u64,
    /// The span's frame on the stack of running calls.
    nest: Entered,
    /// The span's timing in the layer's table of open spans, found at the enter (null when
    /// the span's timing is kept in its extensions), so the exit need not look it up again.
    timing: *const Timing,
}

struct Stack {
    /// This thread's number, given on first use; 0 until then.
    thread: Cell<u32>,
    len: Cell<usize>,
    frames: [Cell<Frame>; DEPTH],
}

thread_local! {
    static STACK: Stack = const {
        Stack {
            thread: Cell::new(0),
            len: Cell::new(0),
            frames: [const {
                Cell::new(Frame {
                    layer: 0,
                    id: 0,
                    start: 0,
                    nest: Entered::NOTHING,
                    timing: std::ptr::null(),
                })
            }; DEPTH],
        }
    };
}

static NEXT_THREAD: AtomicU32 = AtomicU32::new(1);

impl Stack {
    #[inline(always)]
    fn thread(&self) -> u32 {
        let n = self.thread.get();
        if n != 0 {
            return n;
        }
        self.number_thread()
    }

    #[cold]
    fn number_thread(&self) -> u32 {
        let n = NEXT_THREAD.fetch_add(1, Ordering::Relaxed).max(1);
        self.thread.set(n);
        n
    }
}

/// This thread's number: unique among live threads, never 0 (0 while the thread is being
/// torn down).
#[inline(always)]
pub(super) fn thread() -> u32 {
    STACK.try_with(Stack::thread).unwrap_or(0)
}

/// What an exit finds of the matching enter.
pub(super) enum Exit {
    /// The span was entered at this clock reading, pushed this frame of running calls, and
    /// has its timing here (or null: look it up).
    Timed(u64, Entered, *const Timing),
    /// A nested enter of a span already entered on this thread.
    Nested,
    /// No enter was recorded (the stack was full, or recording was off at the enter).
    Unknown,
}

/// Records that `layer`'s span `id` was entered at `start`; `nest` gives the frame to push
/// on the stack of running calls for it and the span's timing (not called for a nested
/// enter, or when the stack is full). Returns whether the enter is timed.
#[inline(always)]
pub(super) fn push(
    layer: u64,
    id: u64,
    start: u64,
    nest: impl FnOnce() -> (Entered, *const Timing),
) -> bool {
    STACK
        .try_with(|s| {
            let len = s.len.get();
            if len == DEPTH {
                return false;
            }
            let nested = s.frames[..len]
                .iter()
                .any(|f| f.get().id == id && f.get().layer == layer);
            let (start, (nest, timing)) = if nested {
                (NESTED, (Entered::NOTHING, std::ptr::null()))
            } else {
                (start, nest())
            };
            s.frames[len].set(Frame {
                layer,
                id,
                start,
                nest,
                timing,
            });
            s.len.set(len + 1);
            !nested
        })
        .unwrap_or(false)
}

/// Takes the innermost enter of `layer`'s span `id` off the stack; also gives this thread's
/// number.
#[inline(always)]
pub(super) fn pop(layer: u64, id: u64) -> (Exit, u32) {
    STACK
        .try_with(|s| (pop_from(s, layer, id), s.thread()))
        .unwrap_or((Exit::Unknown, 0))
}

#[inline(always)]
fn pop_from(s: &Stack, layer: u64, id: u64) -> Exit {
    let len = s.len.get();
    // Spans usually exit in the reverse order of their enters; tracing allows any.
    let Some(at) = (0..len).rev().find(|&i| {
        let f = s.frames[i].get();
        f.id == id && f.layer == layer
    }) else {
        return Exit::Unknown;
    };
    let Frame {
        start,
        nest,
        timing,
        ..
    } = s.frames[at].get();
    for i in at..len - 1 {
        s.frames[i].set(s.frames[i + 1].get());
    }
    s.len.set(len - 1);
    if start == NESTED {
        Exit::Nested
    } else {
        Exit::Timed(start, nest, timing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop1(layer: u64, id: u64) -> Exit {
        pop(layer, id).0
    }

    #[test]
    fn exits_find_their_enters_in_any_order() {
        push(1, 10, 100, || (Entered::NOTHING, std::ptr::null()));
        push(1, 11, 200, || (Entered::NOTHING, std::ptr::null()));
        push(2, 10, 300, || (Entered::NOTHING, std::ptr::null()));
        assert!(matches!(pop1(1, 10), Exit::Timed(100, ..)));
        assert!(matches!(pop1(2, 10), Exit::Timed(300, ..)));
        assert!(matches!(pop1(1, 11), Exit::Timed(200, ..)));
        assert!(matches!(pop1(1, 11), Exit::Unknown));
    }

    #[test]
    fn a_nested_enter_of_the_same_span_is_not_timed_twice() {
        push(1, 7, 100, || (Entered::NOTHING, std::ptr::null()));
        push(1, 7, 150, || (Entered::NOTHING, std::ptr::null()));
        assert!(matches!(pop1(1, 7), Exit::Nested));
        assert!(matches!(pop1(1, 7), Exit::Timed(100, ..)));
    }

    #[test]
    fn beyond_the_depth_enters_are_not_timed() {
        for i in 0..DEPTH as u64 + 3 {
            push(9, i + 1, i, || (Entered::NOTHING, std::ptr::null()));
        }
        assert!(matches!(pop1(9, DEPTH as u64 + 2), Exit::Unknown));
        for i in (0..DEPTH as u64).rev() {
            assert!(matches!(pop1(9, i + 1), Exit::Timed(t, ..) if t == i));
        }
    }
}
