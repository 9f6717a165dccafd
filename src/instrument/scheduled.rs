//! The future wrapper behind `#[measure(scheduling)]`: a measured call whose every wait
//! from a wake to its next poll is recorded, the delay the runtime adds before it comes back
//! to the call. It gives the inner future a waker of its own that notes the time of the first
//! wake since the last poll and passes the wake on.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use super::callsite::Callsite;
use super::future::{Completion, Measured};
use crate::clock;

/// A [`Measured`] call that also records its scheduling delays. Per poll it costs a lock
/// of its waker's state (uncontended: the lock is shared only with wakes) and, per wake, a
/// clock reading. The state is an allocation made at the first poll; a call that ends with
/// no waker of it left hands it to the next call on its thread, so after warm-up calls do
/// not allocate.
#[doc(hidden)]
#[must_use = "futures do nothing unless polled"]
pub struct Scheduled<F> {
    measured: Measured<F>,
    timer: Option<Arc<WakeTimer>>,
}

/// What the wrapping waker shares with the call.
#[derive(Default)]
struct WakeTimer {
    /// Clock ticks of the first wake since the last poll; 0 when none.
    woken_at: AtomicU64,
    /// The waker of the task the call runs in.
    inner: Mutex<Option<Waker>>,
}

thread_local! {
    /// A timer that its last call left with no waker out: the next call on this thread
    /// takes it instead of allocating.
    static SPARE: Cell<Option<Arc<WakeTimer>>> = const { Cell::new(None) };
}

impl Wake for WakeTimer {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // The first wake counts: later ones before the poll wait no longer than it.
        let _ = self.woken_at.compare_exchange(
            0,
            clock::now().max(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waker) = inner.as_ref() {
            waker.wake_by_ref();
        }
    }
}

impl<F> Scheduled<F> {
    /// Wraps a future as a call of the callsite's function, with its scheduling delays.
    #[inline]
    pub fn new(callsite: &'static Callsite, inner: F) -> Self {
        Self {
            measured: Measured::new(callsite, inner),
            timer: None,
        }
    }
}

impl<F: Future> Future for Scheduled<F> {
    type Output = (F::Output, Completion);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `measured` is structurally pinned (never moved out, dropped in place);
        // `timer` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let timer = this.timer.get_or_insert_with(|| {
            SPARE
                .try_with(Cell::take)
                .ok()
                .flatten()
                .unwrap_or_default()
        });
        {
            let mut inner = timer.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if !inner.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *inner = Some(cx.waker().clone());
            }
        }
        let woken = timer.woken_at.swap(0, Ordering::Relaxed);
        let waker = Waker::from(Arc::clone(timer));
        let mut ours = Context::from_waker(&waker);
        // SAFETY: see above.
        let measured = unsafe { Pin::new_unchecked(&mut this.measured) };
        measured.poll_then(&mut ours, |function, now| {
            if woken != 0 {
                function.record_scheduling(clock::nanos_between(woken, now));
            }
        })
    }
}

impl<F> Drop for Scheduled<F> {
    fn drop(&mut self) {
        let Some(mut timer) = self.timer.take() else {
            return;
        };
        // No waker of this call is left anywhere: the timer can serve the next call.
        if let Some(t) = Arc::get_mut(&mut timer) {
            let inner = t.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
            drop(inner.take());
            *t.woken_at.get_mut() = 0;
            let _ = SPARE.try_with(|spare| spare.set(Some(timer)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Pending until polled `ready_at` times; keeps the last waker it was given.
    struct Parks {
        polls: u32,
        ready_at: u32,
        waker: Arc<Mutex<Option<Waker>>>,
    }

    impl Future for Parks {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            self.polls += 1;
            if self.polls == self.ready_at {
                return Poll::Ready(self.polls);
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    static CALLSITE: Callsite = Callsite::new("parks", "scheduled::tests", file!(), line!());

    #[test]
    fn wakes_reach_the_waker_of_the_latest_poll_and_the_output_is_untouched() {
        let slot = Arc::new(Mutex::new(None));
        let inner = Parks {
            polls: 0,
            ready_at: 3,
            waker: Arc::clone(&slot),
        };
        let mut call = std::pin::pin!(Scheduled::new(&CALLSITE, inner));
        let (a, b) = (Arc::new(Counting::default()), Arc::new(Counting::default()));
        let wake_stored = || slot.lock().unwrap().take().unwrap().wake();

        let waker_a = Waker::from(Arc::clone(&a));
        assert!(
            call.as_mut()
                .poll(&mut Context::from_waker(&waker_a))
                .is_pending()
        );
        wake_stored();
        assert_eq!(a.0.load(Ordering::Relaxed), 1, "the wake went through");

        // Polled from another task now: the next wake goes there, not to the first.
        let waker_b = Waker::from(Arc::clone(&b));
        assert!(
            call.as_mut()
                .poll(&mut Context::from_waker(&waker_b))
                .is_pending()
        );
        wake_stored();
        assert_eq!(b.0.load(Ordering::Relaxed), 1);
        assert_eq!(a.0.load(Ordering::Relaxed), 1);

        match call.as_mut().poll(&mut Context::from_waker(&waker_b)) {
            Poll::Ready((out, done)) => {
                assert_eq!(out, 3, "the inner future's output, as it was");
                done.finish(crate::instrument::classify::Classified::Ok);
            }
            Poll::Pending => panic!("ready on its third poll"),
        }
        let waits = CALLSITE.state().read().scheduling;
        assert_eq!(waits.count(), 2, "one wait per wake");
    }

    fn spare() -> Option<*const WakeTimer> {
        SPARE.with(|s| {
            let t = s.take();
            let ptr = t.as_ref().map(Arc::as_ptr);
            s.set(t);
            ptr
        })
    }

    #[test]
    fn a_finished_call_hands_its_timer_to_the_next_and_one_with_a_waker_out_does_not() {
        let run = |keep_waker: bool| {
            let slot = Arc::new(Mutex::new(None));
            let inner = Parks {
                polls: 0,
                ready_at: 2,
                waker: Arc::clone(&slot),
            };
            let mut call = Box::pin(Scheduled::new(&CALLSITE, inner));
            let waker = Waker::from(Arc::new(Counting::default()));
            let mut cx = Context::from_waker(&waker);
            assert!(call.as_mut().poll(&mut cx).is_pending());
            let used = call.timer.as_ref().map(Arc::as_ptr);
            let mut kept = slot.lock().unwrap().take();
            if !keep_waker {
                kept = None;
            }
            let Poll::Ready((_, done)) = call.as_mut().poll(&mut cx) else {
                panic!("ready on its second poll")
            };
            done.finish(crate::instrument::classify::Classified::Ok);
            drop(call);
            (used, kept)
        };
        let (first, _) = run(false);
        assert_eq!(spare(), first, "left for the next call");
        let (second, kept) = run(true);
        assert_eq!(second, first, "the next call took it instead of allocating");
        assert_eq!(spare(), None, "a waker of it is still out: not reused");
        drop(kept);
    }
}
