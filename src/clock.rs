//! The time source of every measurement.
//!
//! The hot path reads raw ticks ([`now`]) and converts only the final durations of a call to
//! nanoseconds ([`nanos_between`]). By default the ticks are quanta's: the CPU's time-stamp
//! counter where quanta finds it usable (calibrated by quanta; read here inline with `rdtsc`,
//! 8 to 9 ns on the reference machine, against 37 ns for `std::time::Instant::now()`), else
//! quanta's monotonic clock. A custom clock can replace it at start-up, which is how tests
//! follow tokio's paused time.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// A monotonic clock given by the user: time since an arbitrary but fixed origin.
pub(crate) type ClockFn = fn() -> Duration;

/// `0` means "use quanta"; any other value is a `ClockFn` cast to `usize`.
static CUSTOM: AtomicUsize = AtomicUsize::new(0);
static QUANTA: OnceLock<quanta::Clock> = OnceLock::new();
/// Slow-poll threshold, converted to ticks so that each poll compares raw values.
static SLOW_POLL_TICKS: AtomicU64 = AtomicU64::new(u64::MAX);

/// The default slow-poll threshold: 50 µs, as in tokio-metrics, so the two agree.
pub(crate) const DEFAULT_SLOW_POLL: Duration = Duration::from_micros(50);

#[inline(always)]
fn quanta() -> &'static quanta::Clock {
    QUANTA.get_or_init(quanta::Clock::new)
}

#[inline(always)]
fn custom() -> Option<ClockFn> {
    let raw = CUSTOM.load(Ordering::Relaxed);
    if raw == 0 {
        None
    } else {
        // SAFETY: a non-zero value was stored by `set_custom` from a valid `fn() -> Duration`.
        Some(unsafe { std::mem::transmute::<usize, ClockFn>(raw) })
    }
}

/// Reads the clock, in ticks (nanoseconds for a custom clock).
///
/// When quanta reads the time-stamp counter (found once, at the first reading), the counter
/// is read here, inline: one load, one compare and `rdtsc`, with no call into quanta and no
/// match on its clock kind.
#[inline(always)]
pub(crate) fn now() -> u64 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if READ.load(Ordering::Relaxed) == READ_TSC {
        // SAFETY: `rdtsc` exists wherever quanta chose it, which `read_kind` checked.
        return unsafe { std::arch::x86_64::_rdtsc() };
    }
    now_slow()
}

/// How [`now`] reads: not known yet, quanta's counter read inline, or through
/// [`now_slow`] (quanta's other clock, or a custom clock).
static READ: AtomicU8 = AtomicU8::new(READ_UNKNOWN);
const READ_UNKNOWN: u8 = 0;
const READ_TSC: u8 = 1;
const READ_OTHER: u8 = 2;

#[inline(never)]
fn now_slow() -> u64 {
    if let Some(f) = custom() {
        return f().as_nanos().min(u128::from(u64::MAX)) as u64;
    }
    if READ.load(Ordering::Relaxed) == READ_UNKNOWN {
        let kind = read_kind();
        // The scale first: a reading taken the fast way is converted the fast way. A
        // custom clock set meanwhile (`READ_OTHER`, `SCALE_NANOS`) is not overwritten.
        let scale = if kind == READ_TSC {
            counter_scale()
        } else {
            SCALE_UNKNOWN
        };
        let _ = SCALE.compare_exchange(SCALE_UNKNOWN, scale, Ordering::Relaxed, Ordering::Relaxed);
        let _ = READ.compare_exchange(READ_UNKNOWN, kind, Ordering::Relaxed, Ordering::Relaxed);
    }
    quanta().raw()
}

/// Whether quanta's raw readings are the time-stamp counter: a counter reading taken
/// between two of quanta's falls between them (quanta's other clock counts nanoseconds
/// since boot, far below the counter's cycles since reset).
#[cold]
fn read_kind() -> u8 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    for _ in 0..3 {
        let before = quanta().raw();
        // SAFETY: `rdtsc` is part of x86_64 with SSE2.
        let tsc = unsafe { std::arch::x86_64::_rdtsc() };
        let after = quanta().raw();
        if before <= tsc && tsc <= after && after - before < 1 << 20 {
            return READ_TSC;
        }
    }
    READ_OTHER
}

/// Converts the ticks between two readings to nanoseconds (0 if `end` is not after `start`).
///
/// Ticks of the counter are scaled by [`SCALE`] inline (a multiply and a shift); until the
/// scale is known, and for quanta's other clock, through quanta.
#[inline(always)]
pub(crate) fn nanos_between(start: u64, end: u64) -> u64 {
    let ticks = end.saturating_sub(start);
    match SCALE.load(Ordering::Relaxed) {
        SCALE_NANOS => ticks,
        SCALE_UNKNOWN => nanos_between_slow(start, end),
        scale => ((u128::from(ticks) * u128::from(scale)) >> SCALE_SHIFT) as u64,
    }
}

/// Nanoseconds per counter tick, times 2^[`SCALE_SHIFT`]; or [`SCALE_NANOS`] when the
/// readings are nanoseconds already (a custom clock), or [`SCALE_UNKNOWN`].
static SCALE: AtomicU64 = AtomicU64::new(SCALE_UNKNOWN);
const SCALE_UNKNOWN: u64 = 0;
const SCALE_NANOS: u64 = u64::MAX;
const SCALE_SHIFT: u32 = 32;

#[inline(never)]
fn nanos_between_slow(start: u64, end: u64) -> u64 {
    match custom() {
        None => quanta().delta_as_nanos(start, end),
        Some(_) => end.saturating_sub(start),
    }
}

/// quanta's scale of counter ticks to nanoseconds, as a factor for [`SCALE`]: the
/// nanoseconds of 2^40 ticks, shifted to 2^32 (within a part in 10^9 of quanta's own).
fn counter_scale() -> u64 {
    let span_ns = quanta().delta_as_nanos(0, 1 << 40);
    (span_ns >> (40 - SCALE_SHIFT)).clamp(1, SCALE_NANOS - 1)
}

/// Replaces the clock. Only sound before the first measurement: readings of two clocks
/// never mix because the builder refuses a clock change after recording started.
pub(crate) fn set_custom(clock: ClockFn) {
    CUSTOM.store(clock as usize, Ordering::Relaxed);
    READ.store(READ_OTHER, Ordering::Relaxed);
    SCALE.store(SCALE_NANOS, Ordering::Relaxed);
    // Re-derive the tick threshold in the new clock's units.
    set_slow_poll_threshold(slow_poll_threshold());
}

/// The threshold above which one poll counts as slow, in ticks.
#[inline(always)]
pub(crate) fn slow_poll_ticks() -> u64 {
    SLOW_POLL_TICKS.load(Ordering::Relaxed)
}

static SLOW_POLL_NANOS: AtomicU64 = AtomicU64::new(u64::MAX);

/// The slow-poll threshold currently in force.
pub(crate) fn slow_poll_threshold() -> Duration {
    match SLOW_POLL_NANOS.load(Ordering::Relaxed) {
        u64::MAX => DEFAULT_SLOW_POLL,
        ns => Duration::from_nanos(ns),
    }
}

/// Sets the slow-poll threshold; takes effect for the polls that start after it.
pub(crate) fn set_slow_poll_threshold(threshold: Duration) {
    let ns = threshold.as_nanos().min(u128::from(u64::MAX - 1)) as u64;
    SLOW_POLL_NANOS.store(ns, Ordering::Relaxed);
    SLOW_POLL_TICKS.store(ticks_for_nanos(ns), Ordering::Relaxed);
}

/// Ensures the tick threshold exists before the first poll compares against it.
#[cold]
pub(crate) fn ensure_slow_poll_ticks() {
    if SLOW_POLL_TICKS.load(Ordering::Relaxed) == u64::MAX {
        set_slow_poll_threshold(slow_poll_threshold());
    }
}

/// Inverts `nanos_between` for one value, from the clock's own scale.
fn ticks_for_nanos(ns: u64) -> u64 {
    if custom().is_some() {
        return ns;
    }
    let span = 1u64 << 40;
    let span_ns = quanta().delta_as_nanos(0, span).max(1);
    let ticks = (u128::from(ns) * u128::from(span)) / u128::from(span_ns);
    ticks.min(u128::from(u64::MAX - 1)) as u64
}

/// Time since the process first read the clock, for snapshot timestamps.
pub(crate) fn since_start() -> Duration {
    since_start_at(now())
}

/// The time of a clock reading, as time since the process first read the clock (for a
/// custom clock, since its own origin: each paused tokio runtime has a clock of its own, and
/// a reading of one may come before the process's first reading of another).
pub(crate) fn since_start_at(ticks: u64) -> Duration {
    if custom().is_some() {
        return Duration::from_nanos(ticks);
    }
    static START: OnceLock<u64> = OnceLock::new();
    let start = *START.get_or_init(now);
    Duration::from_nanos(nanos_between(start, ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_quantas_own_ticks_whichever_way_they_are_read() {
        let _ = now(); // finds how to read
        for _ in 0..1000 {
            let before = quanta().raw();
            let reading = now();
            let after = quanta().raw();
            assert!(
                before <= reading && reading <= after,
                "{before} {reading} {after}"
            );
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        assert_eq!(
            READ.load(Ordering::Relaxed),
            read_kind(),
            "the way found is the one that holds"
        );
    }

    #[test]
    fn ticks_round_trip_to_nanos_within_a_percent() {
        let ticks = ticks_for_nanos(1_000_000);
        let back = nanos_between(0, ticks);
        assert!((990_000..=1_010_000).contains(&back), "{back}");
    }
}
