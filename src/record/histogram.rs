//! Log-linear (HDR-style) histograms of durations in nanoseconds.
//!
//! Values below 128 ns have a bucket each. Above that, every power of two is split into 64
//! equal buckets, so a bucket is at most 1/64 of its lower bound wide, and reporting the
//! bucket's midpoint is within 1/128 (0.78 %) of any value in it. The range reaches 2^42 ns
//! (about 73 minutes); longer values land in the last bucket, and the exact maximum is kept
//! beside the buckets.
//!
//! The recording side, [`AtomicHistogram`], allocates its buckets in chunks of 64 on first
//! use, so a function whose calls all take between 1 and 8 ms holds three chunks (1.5 KiB),
//! not the whole range.

use std::sync::atomic::{AtomicU64, Ordering};

use super::publish_once::PublishOnce;
use std::time::Duration;

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Values at or above `1 << MAX_BITS` ns share the last bucket.
const MAX_BITS: u32 = 42;
const MAX_VALUE: u64 = (1 << MAX_BITS) - 1;
/// Number of buckets: 128 exact ones, then 64 for each power of two from 2^7 to 2^41.
pub(crate) const BUCKETS: usize = (MAX_BITS as usize - SUB_BITS as usize + 1) * SUB;
/// Chunks of 64 buckets in the layout: the most one distribution ever allocates.
pub(crate) const CHUNKS: usize = BUCKETS / SUB;

/// The bucket a value (in ns) falls into.
#[inline(always)]
pub(crate) fn bucket_index(value: u64) -> usize {
    let v = value.min(MAX_VALUE);
    // Highest set bit, at least 6, so values below 128 get a shift of 0 (one bucket each).
    let high = 63 - (v | (2 * SUB as u64 - 1)).leading_zeros();
    let shift = high - SUB_BITS;
    ((shift as usize) << SUB_BITS) + (v >> shift) as usize
}

/// The lowest value of a bucket and its width, in ns.
#[inline]
fn bucket_range(index: usize) -> (u64, u64) {
    let shift = (index >> SUB_BITS).saturating_sub(1);
    let low = ((index - (shift << SUB_BITS)) as u64) << shift;
    (low, 1u64 << shift)
}

/// Bytes of one chunk of buckets: what a distribution allocates for each power-of-two range
/// of durations it sees.
pub const CHUNK_BYTES: usize = std::mem::size_of::<Chunk>();

type Chunk = [AtomicU64; SUB];

/// One power of two of the layout: its chunk, once allocated, and a mark for each of its
/// buckets ever written, so a reader visits only those (a histogram spanning a few powers
/// of two is mostly empty buckets). The mark sits beside the pointer, in the line the writer
/// reads anyway, not in the chunk: a reader then touches one line per few chunks for the
/// marks, and the lines of the buckets in use.
struct Slot {
    chunk: PublishOnce<Chunk>,
    /// Bit `i` is set once bucket `i` has been written: set after the count, with
    /// `Release`, so a reader that sees the bit sees the count.
    written: AtomicU64,
}

/// The recording side: written by one thread (or with atomic adds when shared), read by any.
pub(crate) struct AtomicHistogram {
    slots: [Slot; CHUNKS],
    /// Bit `n` is set once chunk `n` is installed, so a reader visits only those.
    allocated: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
    /// `u64::MAX` until the first value.
    min: AtomicU64,
}

impl AtomicHistogram {
    pub(crate) const fn new() -> Self {
        Self {
            slots: [const {
                Slot {
                    chunk: PublishOnce::new(),
                    written: AtomicU64::new(0),
                }
            }; CHUNKS],
            allocated: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
        }
    }

    /// Records one value. `exclusive` means the caller is the only writer of this histogram,
    /// so plain load-then-store replaces the locked read-modify-write.
    #[inline(always)]
    pub(crate) fn record(&self, value: u64, exclusive: bool) {
        let index = bucket_index(value);
        let n = index >> SUB_BITS;
        debug_assert!(n < CHUNKS);
        // SAFETY: `bucket_index` is below `BUCKETS` (values are capped at `MAX_VALUE`), so
        // its chunk is below `CHUNKS`; unchecked, the two lookups below need no bounds check.
        let slot = unsafe { self.slots.get_unchecked(n) };
        let chunk = self.chunk_of(slot, n);
        let i = index & (SUB - 1);
        add(&chunk[i], 1, exclusive);
        // After warm-up the bit is set: one load from the line of the chunk pointer.
        if slot.written.load(Ordering::Relaxed) & (1 << i) == 0 {
            slot.written.fetch_or(1 << i, Ordering::Release);
        }
        add(&self.sum, value, exclusive);
        if value > self.max.load(Ordering::Relaxed) {
            if exclusive {
                self.max.store(value, Ordering::Relaxed);
            } else {
                self.max.fetch_max(value, Ordering::Relaxed);
            }
        }
        if value < self.min.load(Ordering::Relaxed) {
            if exclusive {
                self.min.store(value, Ordering::Relaxed);
            } else {
                self.min.fetch_min(value, Ordering::Relaxed);
            }
        }
    }

    #[inline(always)]
    fn chunk_of<'a>(&self, slot: &'a Slot, n: usize) -> &'a Chunk {
        let (chunk, installed) = slot
            .chunk
            .get_or_publish(|| [const { AtomicU64::new(0) }; SUB]);
        if installed {
            self.allocated.fetch_or(1 << n, Ordering::Release);
        }
        chunk
    }

    /// Asks for the lines of the chunk pointers and marks of the slots in use, before a
    /// `read_into` that follows other work.
    pub(crate) fn prefetch(&self) {
        let allocated = self.allocated.load(Ordering::Relaxed);
        let mut bits = allocated;
        while bits != 0 {
            let n = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            prefetch(&self.slots[n].written);
        }
    }

    /// Adds the current contents into a plain histogram.
    pub(crate) fn read_into(&self, out: &mut Histogram) {
        if !out.is_empty() {
            // Another shard's reading is there: read this one alone, then merge the two
            // sorted bucket lists.
            let mut mine = Histogram::new();
            self.read_into(&mut mine);
            out.merge(&mine);
            return;
        }
        // The installed chunks (a chunk installed after this load is read next time).
        let allocated = self.allocated.load(Ordering::Acquire);
        let installed = || {
            let mut bits = allocated;
            std::iter::from_fn(move || {
                while bits != 0 {
                    let n = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let slot = &self.slots[n];
                    // The bit is set after the chunk is installed, so it is there.
                    if let Some(chunk) = slot.chunk.get() {
                        return Some((n, slot, chunk));
                    }
                }
                None
            })
        };
        // First ask for every cache line holding a written bucket, so that their misses
        // overlap (the recorder's lines are usually in another core's cache, or none).
        for (_, slot, chunk) in installed() {
            let written = slot.written.load(Ordering::Relaxed);
            for line in 0..SUB / 8 {
                if (written >> (line * 8)) & 0xff != 0 {
                    prefetch(&chunk[line * 8]);
                }
            }
        }
        for (n, slot, chunk) in installed() {
            let mut written = slot.written.load(Ordering::Acquire);
            while written != 0 {
                let i = written.trailing_zeros() as usize;
                written &= written - 1;
                let c = chunk[i].load(Ordering::Acquire);
                if c != 0 {
                    out.add_to_bucket((n << SUB_BITS) + i, c);
                }
            }
        }
        out.sum = out.sum.saturating_add(self.sum.load(Ordering::Relaxed));
        out.max = out.max.max(self.max.load(Ordering::Relaxed));
        let min = self.min.load(Ordering::Relaxed);
        if min != u64::MAX {
            out.min = min;
        }
    }

    /// Bytes allocated by this histogram beyond its own struct.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.chunk.get().is_some())
            .count()
            * CHUNK_BYTES
    }
}

/// Adds to a counter: plain load and store for its single writer, an atomic add otherwise.
/// Release ordering lets a reader that sees a completed call also see its start.
#[inline(always)]
pub(crate) fn add(cell: &AtomicU64, value: u64, exclusive: bool) {
    if exclusive {
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(value),
            Ordering::Release,
        );
    } else {
        cell.fetch_add(value, Ordering::Release);
    }
}

/// A hint to load the cache line holding `cell`; nothing else.
#[inline(always)]
pub(crate) fn prefetch(cell: &AtomicU64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no effect but on the cache, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(cell.as_ptr().cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = cell;
}

/// A distribution of durations: plain data, read from the recorder, merged and subtracted
/// freely. Percentiles are within 0.78 % of the recorded values (exact below 128 ns).
///
/// ```
/// use std::time::Duration;
/// use taskscope::Histogram;
///
/// let mut h = Histogram::new();
/// for ms in 1..=100 {
///     h.record(Duration::from_millis(ms));
/// }
/// assert_eq!(h.count(), 100);
/// let p99 = h.percentile(99.0).as_secs_f64();
/// assert!((p99 - 0.099).abs() / 0.099 < 0.01);
/// assert_eq!(h.max(), Duration::from_millis(100));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// The non-empty buckets as `(bucket index, count)`, by increasing index; index `i`
    /// covers [`Histogram::bucket_bounds`]`(i)`. Sparse: a histogram costs 16 bytes per
    /// bucket in use, whatever the range of its values.
    buckets: Vec<(u32, u64)>,
    /// The sum of the counts.
    total: u64,
    /// Sum of all recorded values, in nanoseconds.
    pub sum: u64,
    /// The largest recorded value, in nanoseconds (exact for cumulative data; for a delta,
    /// bounded by the highest non-empty bucket).
    pub max: u64,
    /// The smallest recorded value, in nanoseconds, 0 when empty (exact for cumulative data;
    /// for a delta, bounded by the lowest non-empty bucket).
    pub min: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .field("max", &self.max())
            .finish()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of buckets in the layout (every histogram shares it).
    pub const BUCKETS: usize = BUCKETS;

    /// The range `[low, high)` of values, in nanoseconds, that bucket `index` covers.
    ///
    /// ```
    /// let (low, high) = taskscope::Histogram::bucket_bounds(200);
    /// assert!(low < high);
    /// ```
    pub fn bucket_bounds(index: usize) -> (u64, u64) {
        let (low, width) = bucket_range(index);
        (low, low + width)
    }

    /// Records one duration (used by tests and by code that builds histograms by hand).
    pub fn record(&mut self, value: Duration) {
        let ns = value.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.min = if self.is_empty() {
            ns
        } else {
            self.min.min(ns)
        };
        self.add_to_bucket(bucket_index(ns), 1);
        self.sum = self.sum.saturating_add(ns);
        self.max = self.max.max(ns);
    }

    /// Records `count` values of `value` nanoseconds.
    #[cfg(feature = "prometheus")]
    pub(crate) fn record_n(&mut self, ns: u64, count: u64) {
        if count == 0 {
            return;
        }
        self.min = if self.is_empty() {
            ns
        } else {
            self.min.min(ns)
        };
        self.add_to_bucket(bucket_index(ns), count);
        self.sum = self.sum.saturating_add(ns.saturating_mul(count));
        self.max = self.max.max(ns);
    }

    /// Adds to one bucket; appending in increasing index order is the fast path.
    pub(crate) fn add_to_bucket(&mut self, index: usize, count: u64) {
        let index = index as u32;
        self.total += count;
        match self.buckets.last_mut() {
            Some((last, c)) if *last == index => *c += count,
            Some((last, _)) if *last > index => {
                match self.buckets.binary_search_by_key(&index, |&(i, _)| i) {
                    Ok(at) => self.buckets[at].1 += count,
                    Err(at) => self.buckets.insert(at, (index, count)),
                }
            }
            _ => self.buckets.push((index, count)),
        }
    }

    /// The number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The mean, or zero for an empty histogram.
    pub fn mean(&self) -> Duration {
        match self.count() {
            0 => Duration::ZERO,
            n => Duration::from_nanos(self.sum / n),
        }
    }

    /// The largest value recorded.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The smallest value recorded.
    pub fn min(&self) -> Duration {
        Duration::from_nanos(self.min)
    }

    /// The value below which `percentile` per cent of the recorded values fall, for
    /// `percentile` in `0.0..=100.0` (clamped). Zero for an empty histogram.
    pub fn percentile(&self, percentile: f64) -> Duration {
        let total = self.count();
        if total == 0 {
            return Duration::ZERO;
        }
        let q = (percentile / 100.0).clamp(0.0, 1.0);
        // The rank of the value asked for, 1-based: the smallest value with at least q of
        // the values at or below it.
        let rank = rank(q, total);
        let mut seen = 0;
        for &(i, c) in &self.buckets {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(self.representative(i as usize));
            }
        }
        self.max()
    }

    /// p50, the median.
    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }
    /// p90.
    pub fn p90(&self) -> Duration {
        self.percentile(90.0)
    }
    /// p99.
    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }
    /// p99.9.
    pub fn p999(&self) -> Duration {
        self.percentile(99.9)
    }

    /// The value reported for a bucket: its midpoint, never above the exact maximum.
    fn representative(&self, index: usize) -> u64 {
        let (low, width) = bucket_range(index);
        let mid = low + width / 2;
        if self.max > 0 {
            mid.min(self.max).max(low.min(self.max))
        } else {
            mid
        }
    }

    /// Adds another histogram into this one.
    pub fn merge(&mut self, other: &Histogram) {
        if other.is_empty() {
            return;
        }
        self.min = if self.is_empty() {
            other.min
        } else {
            self.min.min(other.min)
        };
        let mut merged = Vec::with_capacity(self.buckets.len() + other.buckets.len());
        let (mut a, mut b) = (
            self.buckets.iter().peekable(),
            other.buckets.iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(i, x)), Some(&&(j, y))) => {
                    if i == j {
                        merged.push((i, x + y));
                        a.next();
                        b.next();
                    } else if i < j {
                        merged.push((i, x));
                        a.next();
                    } else {
                        merged.push((j, y));
                        b.next();
                    }
                }
                (Some(&&p), None) => {
                    merged.push(p);
                    a.next();
                }
                (None, Some(&&p)) => {
                    merged.push(p);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.buckets = merged;
        self.total += other.total;
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// What was recorded after `earlier` (an older reading of the same cumulative
    /// histogram): bucket by bucket differences. The maximum of the difference is bounded by
    /// its highest non-empty bucket.
    pub fn delta(&self, earlier: &Histogram) -> Histogram {
        let mut then = earlier.buckets.iter().peekable();
        let mut buckets = Vec::new();
        for &(i, c) in &self.buckets {
            while then.peek().is_some_and(|&&(j, _)| j < i) {
                then.next();
            }
            let before = match then.peek() {
                Some(&&(j, c0)) if j == i => c0,
                _ => 0,
            };
            if c > before {
                buckets.push((i, c - before));
            }
        }
        let total = buckets.iter().map(|&(_, c)| c).sum();
        let max = match buckets.last() {
            None => 0,
            Some(&(i, _)) => {
                let (low, width) = bucket_range(i as usize);
                self.max.min(low + width - 1).max(low)
            }
        };
        let min = match buckets.first() {
            None => 0,
            Some(&(i, _)) => {
                let (low, width) = bucket_range(i as usize);
                self.min.clamp(low, low + width - 1)
            }
        };
        Histogram {
            buckets,
            total,
            sum: self.sum.saturating_sub(earlier.sum),
            max,
            min,
        }
    }

    /// The non-empty buckets as `(low_ns, high_ns, count)`, lowest first.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.buckets.iter().map(|&(i, c)| {
            let (low, high) = Self::bucket_bounds(i as usize);
            (low, high, c)
        })
    }

    /// The non-empty buckets as `(bucket index, count)`, lowest first.
    pub fn bucket_counts(&self) -> &[(u32, u64)] {
        &self.buckets
    }
}

/// The 1-based rank of quantile `q` among `total` values: the smallest rank with at least
/// `q` of the values at or below it. A product within a millionth of a whole number is that
/// number, so that `99.9 / 100` (0.9990000000000001 in floating point) of 100,000 values is
/// rank 99,900, not 99,901.
pub(crate) fn rank(q: f64, total: u64) -> u64 {
    let exact = q.clamp(0.0, 1.0) * total as f64;
    let whole = exact.round();
    let rank = if (exact - whole).abs() < 1e-6 {
        whole
    } else {
        exact.ceil()
    };
    (rank as u64).clamp(1, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p999_of_a_round_count_is_its_own_rank_not_the_next() {
        assert_eq!(rank(99.9 / 100.0, 100_000), 99_900);
        assert_eq!(rank(0.5, 3), 2);
        assert_eq!(rank(0.0, 10), 1);
        assert_eq!(rank(1.0, 10), 10);
        // Values 1 ms apart: p99.9 of 1..=100000 ms is 99,900 ms (within the bucket), not
        // 99,901 ms.
        let mut h = Histogram::new();
        for ms in 1..=100_000u64 {
            h.record(Duration::from_millis(ms));
        }
        let p = h.percentile(99.9).as_secs_f64();
        assert!((p / 99.9 - 1.0).abs() < 0.008, "{p}");
    }

    #[test]
    fn every_value_lands_in_the_bucket_that_covers_it() {
        let mut v = 0u64;
        while v < MAX_VALUE {
            let i = bucket_index(v);
            let (low, high) = Histogram::bucket_bounds(i);
            assert!(low <= v && v < high, "{v} in bucket {i} = [{low}, {high})");
            assert!(i < BUCKETS);
            v = v * 17 / 16 + 1;
        }
        assert_eq!(bucket_index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn buckets_are_contiguous() {
        for i in 1..BUCKETS {
            assert_eq!(
                Histogram::bucket_bounds(i - 1).1,
                Histogram::bucket_bounds(i).0
            );
        }
    }

    #[test]
    fn relative_error_is_under_one_percent_from_a_microsecond_to_an_hour() {
        let mut ns = 1_000u64;
        while ns <= 3_600_000_000_000 {
            let mut h = Histogram::new();
            h.record(Duration::from_nanos(ns));
            h.max = 0; // judge the bucket alone, not the exact max
            let got = h.percentile(50.0).as_nanos() as f64;
            let err = (got - ns as f64).abs() / ns as f64;
            assert!(err <= 0.01, "{ns}: got {got}, error {err}");
            ns = ns * 3 / 2 + 7;
        }
    }

    #[test]
    fn percentiles_of_a_uniform_spread() {
        let mut h = Histogram::new();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        for (p, want) in [
            (50.0, 5_000.0),
            (90.0, 9_000.0),
            (99.0, 9_900.0),
            (99.9, 9_990.0),
        ] {
            let got = h.percentile(p).as_secs_f64() * 1e6;
            assert!((got - want).abs() / want < 0.01, "p{p}: {got} vs {want}");
        }
        assert_eq!(h.max(), Duration::from_micros(10_000));
        assert_eq!(h.count(), 10_000);
    }

    #[test]
    fn merge_and_delta_are_inverse() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        for i in 0..1000u64 {
            a.record(Duration::from_micros(i));
            b.record(Duration::from_millis(i));
        }
        let mut both = a.clone();
        both.merge(&b);
        assert_eq!(both.count(), 2000);
        let back = both.delta(&a);
        assert_eq!(back.bucket_counts(), b.bucket_counts());
        assert_eq!(back.count(), b.count());
        assert_eq!(back.sum, b.sum);
    }

    #[test]
    fn atomic_histogram_reads_back_what_it_recorded() {
        let h = AtomicHistogram::new();
        assert_eq!(h.heap_bytes(), 0);
        for v in [5u64, 1_000, 1_000_000, 1_000_000_000] {
            h.record(v, true);
            h.record(v, false);
        }
        let mut out = Histogram::new();
        h.read_into(&mut out);
        assert_eq!(out.count(), 8);
        assert_eq!(out.max, 1_000_000_000);
        assert_eq!(out.sum, 2 * (5 + 1_000 + 1_000_000 + 1_000_000_000));
    }
}
