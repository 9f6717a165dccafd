//! A value allocated on first use and published once, for the recorder's lazily made parts
//! (a function's per-thread shards, their per-outcome cells, a histogram's chunks): after
//! the first call, reaching it is one `Acquire` load and a null check.

use std::sync::atomic::{AtomicPtr, Ordering};

/// A box installed at most once, by whichever caller gets there first, and freed with its
/// owner.
pub(crate) struct PublishOnce<T> {
    ptr: AtomicPtr<T>,
}

impl<T> PublishOnce<T> {
    /// Nothing yet.
    pub(crate) const fn new() -> Self {
        PublishOnce {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The value, once published.
    #[inline(always)]
    pub(crate) fn get(&self) -> Option<&T> {
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer was published by `publish` from `Box::into_raw` and is
        // freed only by `Drop`, which needs `&mut self`.
        (!ptr.is_null()).then(|| unsafe { &*ptr })
    }

    /// The value, made by `make` and published if there is none yet. The flag is true for
    /// the one caller whose value was published.
    #[inline(always)]
    pub(crate) fn get_or_publish(&self, make: impl FnOnce() -> T) -> (&T, bool) {
        match self.get() {
            Some(v) => (v, false),
            None => self.publish(make),
        }
    }

    /// Makes a value and publishes it unless another caller published first; the value in
    /// place. Out of line, with the making: the first call's work never sits in the path
    /// of the others.
    #[cold]
    #[inline(never)]
    fn publish(&self, make: impl FnOnce() -> T) -> (&T, bool) {
        let fresh = Box::into_raw(Box::new(make()));
        let (ptr, won) = match self.ptr.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => (fresh, true),
            Err(existing) => {
                // SAFETY: `fresh` was never shared; another caller published first.
                drop(unsafe { Box::from_raw(fresh) });
                (existing, false)
            }
        };
        // SAFETY: as in `get`.
        (unsafe { &*ptr }, won)
    }
}

impl<T> Drop for PublishOnce<T> {
    fn drop(&mut self) {
        let ptr = *self.ptr.get_mut();
        if !ptr.is_null() {
            // SAFETY: published from `Box::into_raw`, owned by this cell, and `&mut self`
            // means no reader holds it.
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}

// SAFETY: it owns a `T` (as a `Box<T>` would) and hands out `&T` to any thread.
unsafe impl<T: Send + Sync> Sync for PublishOnce<T> {}
// SAFETY: as a `Box<T>`.
unsafe impl<T: Send> Send for PublishOnce<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_wins_and_is_freed_once() {
        use std::sync::Arc;
        let cell = PublishOnce::<Arc<u32>>::new();
        assert!(cell.get().is_none());
        let first = Arc::new(1);
        let (v, won) = cell.get_or_publish(|| first.clone());
        assert!(won);
        assert_eq!(**v, 1);
        let (v, won) = cell.get_or_publish(|| Arc::new(2));
        assert!(!won);
        assert_eq!(**v, 1);
        assert_eq!(Arc::strong_count(&first), 2);
        drop(cell);
        assert_eq!(Arc::strong_count(&first), 1, "dropped with its cell");
    }

    #[test]
    fn racing_threads_publish_one_value() {
        let cell = PublishOnce::<u64>::new();
        let winners = std::thread::scope(|s| {
            let cell = &cell;
            let handles: Vec<_> = (0..8)
                .map(|i| s.spawn(move || cell.get_or_publish(|| i).1))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|w| *w)
                .count()
        });
        assert_eq!(winners, 1);
        assert!(cell.get().is_some());
    }
}
