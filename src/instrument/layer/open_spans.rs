//! The timing of spans that are open, found by span id without going through the
//! subscriber's registry.
//!
//! A span's numbers live in a fixed, lock-free table owned by the layer (open addressing on
//! the span id, a short probe window). Looking a span up in the registry and its extensions
//! costs several atomic read-modify-writes and a hash lookup for every enter and exit; the
//! table costs a few loads. A span that finds no free entry in its window keeps its timing
//! in the registry's extensions instead: slower, never lost.

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use super::callsites::SpanFunction;
use crate::record::registry::FunctionState;

/// Entries a span id may occupy, from its hash onwards.
const PROBES: usize = 16;
/// A key never used by a span yet.
const EMPTY: u64 = 0;
/// A key whose span closed; free for a new span, but lookups go on past it.
const FREED: u64 = u64::MAX;

/// The numbers of one open span. A span may be entered on several threads, and is closed on
/// whichever drops it last. The thread that created it (its owner, which usually does all
/// its enters) adds its periods with plain loads and stores to cells only it writes; other
/// threads add theirs with atomic read-modify-writes to separate cells, so no update is
/// lost and the common case takes no locked instruction.
#[derive(Debug, Default)]
pub(super) struct Timing {
    function: AtomicPtr<SpanFunction>,
    /// Clock ticks at creation.
    created: AtomicU64,
    /// Ticks spent entered, by the owner.
    own_busy: AtomicU64,
    /// Enters (low 32 bits) and slow ones among them (high 32 bits), by the owner.
    own_polls: AtomicU64,
    /// As `own_busy`, by other threads.
    shared_busy: AtomicU64,
    /// As `own_polls`, by other threads.
    shared_polls: AtomicU64,
    /// Ticks of the enters spent in measured calls and recorded spans entered inside them.
    children: AtomicU64,
    /// The measured call or recorded span that was running when this span was created, or
    /// its explicit parent: null for none.
    caller: AtomicPtr<FunctionState>,
    /// The owner's thread number (see [`entered::thread`](super::entered::thread)).
    owner: AtomicU32,
    /// Low 16 bits: 0 while the span is fine, `kind index + 1` once it recorded an error.
    /// Bits 16 to 30: which error fields the callsite has. Bit 31: [`PANICKED`].
    state: AtomicU32,
}

/// A span's numbers at its close.
pub(super) struct Closed {
    pub(super) function: &'static SpanFunction,
    pub(super) created: u64,
    pub(super) busy: u64,
    pub(super) children: u64,
    pub(super) caller: Option<&'static FunctionState>,
    pub(super) polls: u32,
    pub(super) slow_polls: u32,
    /// 0, or the error kind's index + 1.
    pub(super) error: u32,
    pub(super) panicked: bool,
}

/// Set when the span was left by a panic unwinding through it.
const PANICKED: u32 = 1 << 31;
const ERROR_MASK: u32 = 0xFFFF;
/// The largest kind index the state can hold; the recorder caps kinds far below it.
const MAX_KIND: usize = ERROR_MASK as usize - 1;

impl Timing {
    /// Fills a timing for a span just created by thread `owner`. `flags` are the callsite's
    /// error-field flags (below `1 << 15`).
    #[inline(always)]
    pub(super) fn open(
        &self,
        function: &'static SpanFunction,
        caller: Option<&'static FunctionState>,
        created: u64,
        owner: u32,
        flags: u32,
    ) {
        self.function.store(
            function as *const SpanFunction as *mut SpanFunction,
            Ordering::Relaxed,
        );
        self.created.store(created, Ordering::Relaxed);
        self.own_busy.store(0, Ordering::Relaxed);
        self.own_polls.store(0, Ordering::Relaxed);
        self.shared_busy.store(0, Ordering::Relaxed);
        self.shared_polls.store(0, Ordering::Relaxed);
        self.children.store(0, Ordering::Relaxed);
        self.caller.store(
            caller.map_or(std::ptr::null_mut(), |c| {
                c as *const FunctionState as *mut FunctionState
            }),
            Ordering::Relaxed,
        );
        self.owner.store(owner, Ordering::Relaxed);
        self.state.store(flags << 16, Ordering::Relaxed);
    }

    /// The span's function.
    pub(super) fn function(&self) -> Option<&'static SpanFunction> {
        let ptr = self.function.load(Ordering::Relaxed);
        // SAFETY: only `open` stores here, from a `&'static SpanFunction`.
        (!ptr.is_null()).then(|| unsafe { &*ptr })
    }

    /// Moves the span to another function (a field renamed it).
    pub(super) fn set_function(&self, function: &'static SpanFunction) {
        self.function.store(
            function as *const SpanFunction as *mut SpanFunction,
            Ordering::Relaxed,
        );
    }

    /// 0 while the span is fine, else its error kind's index + 1.
    pub(super) fn error_code(&self) -> u32 {
        self.state.load(Ordering::Relaxed) & ERROR_MASK
    }

    /// Which error fields the span's callsite declares.
    #[inline(always)]
    pub(super) fn flags(&self) -> u32 {
        (self.state.load(Ordering::Relaxed) >> 16) & 0x7FFF
    }

    /// Counts one period entered, `ticks` long, spent by thread `thread`.
    #[inline(always)]
    pub(super) fn add_poll(&self, thread: u32, ticks: u64, slow: bool) {
        let polls = 1 | (u64::from(slow) << 32);
        if self.owner.load(Ordering::Relaxed) == thread {
            // Only the owner writes these two: a plain read-modify-write loses nothing.
            let busy = self.own_busy.load(Ordering::Relaxed);
            self.own_busy
                .store(busy.wrapping_add(ticks), Ordering::Relaxed);
            let n = self.own_polls.load(Ordering::Relaxed);
            self.own_polls
                .store(n.wrapping_add(polls), Ordering::Relaxed);
        } else {
            self.shared_busy.fetch_add(ticks, Ordering::Relaxed);
            self.shared_polls.fetch_add(polls, Ordering::Relaxed);
        }
    }

    /// Counts ticks of an enter spent in callees.
    #[inline(always)]
    pub(super) fn add_children(&self, ticks: u64) {
        if ticks != 0 {
            self.children.fetch_add(ticks, Ordering::Relaxed);
        }
    }

    /// The function of the span's caller.
    pub(super) fn caller_state(&self) -> Option<&'static FunctionState> {
        let ptr = self.caller.load(Ordering::Relaxed);
        // SAFETY: only `open` stores here, from a `&'static FunctionState`, or null.
        unsafe { ptr.as_ref() }
    }

    /// Marks the span as left by a panic.
    pub(super) fn mark_panicked(&self) {
        self.state.fetch_or(PANICKED, Ordering::Relaxed);
    }

    fn set_code(&self, replace: bool, code: u32) {
        let _ = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                (replace || s & ERROR_MASK == 0).then_some((s & !ERROR_MASK) | code)
            });
    }

    /// Records an error with the given kind index, replacing an earlier kind.
    pub(super) fn set_error_kind(&self, kind: usize) {
        self.set_code(true, kind.min(MAX_KIND) as u32 + 1);
    }

    /// Records an error without a kind (`unknown` is the "unknown kind" index), unless the
    /// span already has one.
    pub(super) fn set_error(&self, unknown: usize) {
        self.set_code(false, unknown.min(MAX_KIND) as u32 + 1);
    }

    /// Takes back an error: the span said it succeeded after all.
    pub(super) fn clear_error(&self) {
        self.set_code(true, 0);
    }

    /// Reads the numbers at close.
    pub(super) fn close(&self) -> Option<Closed> {
        let own = self.own_polls.load(Ordering::Relaxed);
        let shared = self.shared_polls.load(Ordering::Relaxed);
        let (own_slow, shared_slow) = (own >> 32, shared >> 32);
        let state = self.state.load(Ordering::Relaxed);
        Some(Closed {
            function: self.function()?,
            created: self.created.load(Ordering::Relaxed),
            busy: self
                .own_busy
                .load(Ordering::Relaxed)
                .wrapping_add(self.shared_busy.load(Ordering::Relaxed)),
            children: self.children.load(Ordering::Relaxed),
            caller: self.caller_state(),
            polls: (own as u32).wrapping_add(shared as u32),
            slow_polls: (own_slow as u32).wrapping_add(shared_slow as u32),
            error: state & ERROR_MASK,
            panicked: state & PANICKED != 0,
        })
    }
}

/// One entry of the table: two cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Entry {
    key: AtomicU64,
    timing: Timing,
}

/// The table of open spans.
pub(super) struct OpenSpans {
    entries: Box<[Entry]>,
    shift: u32,
}

impl std::fmt::Debug for OpenSpans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenSpans")
            .field("capacity", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// `len` entries in zeroed memory (`calloc`: large tables get pages only as they are used).
fn zeroed_entries(len: usize) -> Box<[Entry]> {
    let layout = std::alloc::Layout::array::<Entry>(len).expect("the table size is capped");
    // SAFETY: `layout` has a non-zero size (len >= 64, entries are 128 bytes).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<Entry>();
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `ptr` holds `len` entries allocated with the global allocator for this
    // layout, and all-zero bytes are a valid `Entry` (atomics only: EMPTY keys, null
    // pointers, zero counts).
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) }
}

impl OpenSpans {
    /// A table for about `capacity` spans open at once (rounded up to a power of two, at
    /// least 64). Its memory is reserved zeroed, so pages are only touched as spans use them.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let len = capacity.clamp(64, 1 << 24).next_power_of_two();
        let entries = zeroed_entries(len);
        Self {
            entries,
            shift: 64 - len.trailing_zeros(),
        }
    }

    #[inline(always)]
    fn start(&self, id: u64) -> usize {
        (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline(always)]
    fn entry(&self, i: usize) -> &Entry {
        &self.entries[i & (self.entries.len() - 1)]
    }

    /// Claims an entry for a new span; `None` when its probe window is full.
    #[inline(always)]
    pub(super) fn insert(&self, id: u64) -> Option<&Timing> {
        let start = self.start(id);
        for i in start..start + PROBES {
            let entry = self.entry(i);
            let key = entry.key.load(Ordering::Relaxed);
            if (key == EMPTY || key == FREED)
                && entry
                    .key
                    .compare_exchange(key, id, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Some(&entry.timing);
            }
        }
        None
    }

    /// The timing of an open span, if the table holds it.
    #[inline(always)]
    pub(super) fn get(&self, id: u64) -> Option<&Timing> {
        let start = self.start(id);
        for i in start..start + PROBES {
            let entry = self.entry(i);
            match entry.key.load(Ordering::Acquire) {
                k if k == id => return Some(&entry.timing),
                // Keys never go back to empty: nothing lies past an empty entry.
                EMPTY => return None,
                _ => {}
            }
        }
        None
    }

    /// Reads and frees a span's entry at its close.
    #[inline(always)]
    pub(super) fn remove(&self, id: u64) -> Option<Option<Closed>> {
        let start = self.start(id);
        for i in start..start + PROBES {
            let entry = self.entry(i);
            match entry.key.load(Ordering::Acquire) {
                k if k == id => {
                    let closed = entry.timing.close();
                    entry.key.store(FREED, Ordering::Release);
                    return Some(closed);
                }
                EMPTY => return None,
                _ => {}
            }
        }
        None
    }

    /// Heap bytes of the table.
    pub(super) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_found_until_removed_and_entries_are_reused() {
        let table = OpenSpans::with_capacity(64);
        for id in 1..=40u64 {
            assert!(table.insert(id).is_some(), "room for span {id}");
        }
        for id in 1..=40u64 {
            assert!(table.get(id).is_some());
        }
        assert!(table.get(41).is_none());
        for id in 1..=40u64 {
            assert!(table.remove(id).is_some());
            assert!(table.get(id).is_none());
        }
        // Freed entries are claimed again, and nothing is lost behind them.
        for id in 100..140u64 {
            assert!(table.insert(id).is_some());
        }
        for id in 100..140u64 {
            assert!(table.get(id).is_some());
        }
    }

    #[test]
    fn a_full_window_refuses_instead_of_overwriting() {
        let table = OpenSpans::with_capacity(64);
        let inserted: Vec<u64> = (1..=200u64)
            .filter(|&id| table.insert(id).is_some())
            .collect();
        assert!(
            inserted.len() <= 64 && inserted.len() >= 48,
            "{}",
            inserted.len()
        );
        for id in 1..=200u64 {
            assert_eq!(table.get(id).is_some(), inserted.contains(&id), "span {id}");
        }
    }
}
