//! Per-thread slots: each recording thread owns one slot index at a time, so the counters in
//! that slot have a single writer and need no locked instruction.
//!
//! Slots come from a pool sized once per process (four per available core, at least 16, at
//! most 1024). A thread takes one on its first measured call and gives it back when it exits,
//! so threads that come and go (tokio's blocking pool) reuse slots instead of growing memory.
//! Slot 0 is shared: threads beyond the pool, and code that runs after its thread's slot was
//! returned (late thread-local destructors), record there with atomic adds.

use std::cell::Cell;
use std::sync::{Mutex, OnceLock};

/// The shared slot, written with atomic read-modify-write instructions.
pub(crate) const SHARED: usize = 0;
const UNASSIGNED: usize = usize::MAX;

thread_local! {
    static SLOT: Cell<usize> = const { Cell::new(UNASSIGNED) };
    static RELEASE: SlotRelease = const { SlotRelease };
}

struct Pool {
    next: usize,
    free: Vec<usize>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    next: 1,
    free: Vec::new(),
});

/// How many slots every function's shard table has.
pub(crate) fn slot_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        (cores * 4).clamp(16, 1024)
    })
}

/// The current thread's slot, and whether the thread is its only writer.
#[inline(always)]
pub(crate) fn current() -> (usize, bool) {
    let slot = SLOT.with(Cell::get);
    if slot == UNASSIGNED {
        return assign();
    }
    (slot, slot != SHARED)
}

#[cold]
#[inline(never)]
fn assign() -> (usize, bool) {
    let slot = {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = pool.free.pop() {
            slot
        } else if pool.next < slot_count() {
            pool.next += 1;
            pool.next - 1
        } else {
            SHARED
        }
    };
    SLOT.with(|s| s.set(slot));
    if slot != SHARED {
        // Registers the destructor that returns the slot. If the thread is already tearing
        // down its thread-locals, this fails: give the slot back now and share instead.
        if RELEASE.try_with(|_| ()).is_err() {
            release(slot);
            SLOT.with(|s| s.set(SHARED));
            return (SHARED, false);
        }
    }
    (slot, slot != SHARED)
}

fn release(slot: usize) {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.free.push(slot);
}

struct SlotRelease;

impl Drop for SlotRelease {
    fn drop(&mut self) {
        // From here on this thread records into the shared slot, so a measured future
        // dropped by a later destructor cannot write into a slot another thread now owns.
        let slot = SLOT.with(|s| s.replace(SHARED));
        if slot != SHARED && slot != UNASSIGNED {
            release(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_that_exit_give_their_slot_back() {
        let first = std::thread::spawn(current).join().unwrap();
        assert!(first.1, "a fresh thread owns its slot");
        // Sequential threads keep reusing freed slots instead of taking new ones.
        for _ in 0..3 * slot_count() {
            let (slot, exclusive) = std::thread::spawn(current).join().unwrap();
            assert!(exclusive && slot < slot_count());
        }
    }
}
