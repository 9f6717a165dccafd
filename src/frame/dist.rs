//! Latency distributions as the dashboard holds them, whatever the sender: taskscope's own
//! HDR buckets, OTLP exponential histograms, or explicit buckets; their percentiles, window
//! deltas and merges.

use crate::record::histogram::Histogram;

/// A latency distribution as the dashboard holds it. Values are in seconds.
#[derive(Clone, Debug, Default)]
pub enum Dist {
    /// Nothing recorded.
    #[default]
    Empty,
    /// taskscope's own HDR histogram (embedded mode), values in nanoseconds.
    Hdr(Histogram),
    /// An OTLP exponential histogram (base `2^(2^-scale)`).
    Exponential(Exponential),
    /// An OTLP histogram with explicit bucket boundaries.
    Explicit(Explicit),
}

/// An OTLP exponential histogram, values in seconds.
///
/// Bucket `offset + i` holds the values in `(base^(offset+i), base^(offset+i+1)]` where
/// `base = 2^(2^-scale)`. Only positive buckets are kept: latencies are never negative.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exponential {
    /// The resolution: `2^scale` buckets per power of two.
    pub scale: i32,
    /// Values at (or near) zero.
    pub zero_count: u64,
    /// The index of the first bucket of `counts`.
    pub offset: i32,
    /// Counts of consecutive buckets from `offset`.
    pub counts: Vec<u64>,
    /// Sum of the values.
    pub sum: f64,
    /// Smallest value, when known.
    pub min: Option<f64>,
    /// Largest value, when known.
    pub max: Option<f64>,
}

/// `[low, high]` narrowed to `[min, max]` where those are known (and meet the bucket).
fn clamp_range(low: f64, high: f64, min: Option<f64>, max: Option<f64>) -> (f64, f64) {
    let lo = min.map_or(low, |m| low.max(m).min(high));
    let hi = max.map_or(high, |m| high.min(m).max(lo));
    (lo, hi)
}

/// An OTLP histogram with explicit boundaries, values in seconds.
///
/// Bucket `i` holds the values in `(bounds[i-1], bounds[i]]`; the last bucket has no upper
/// bound, so `counts.len() == bounds.len() + 1`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Explicit {
    /// Upper bounds, increasing.
    pub bounds: Vec<f64>,
    /// Counts per bucket.
    pub counts: Vec<u64>,
    /// Sum of the values.
    pub sum: f64,
    /// Smallest value, when known.
    pub min: Option<f64>,
    /// Largest value, when known.
    pub max: Option<f64>,
}

/// One bucket of a distribution, values in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Lower bound (exclusive for OTLP buckets, inclusive for HDR ones).
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Values in the bucket.
    pub count: u64,
}

impl Explicit {
    /// Bucket `i`'s bounds as the sender set them: below the first bound, from the minimum
    /// (or 0); above the last, up to the maximum (or the last bound).
    fn bucket(&self, i: usize) -> (f64, f64) {
        let low = if i == 0 {
            self.min
                .unwrap_or(0.0)
                .min(self.bounds.first().copied().unwrap_or(0.0))
        } else {
            self.bounds[i - 1]
        };
        let high = match self.bounds.get(i) {
            Some(&b) => b,
            None => self.max.unwrap_or(low).max(low),
        };
        (low, high)
    }
}

impl Exponential {
    /// The lower bound of bucket `index` at `scale`.
    pub fn lower_bound(scale: i32, index: i32) -> f64 {
        (f64::from(index) * (-f64::from(scale)).exp2()).exp2()
    }

    /// The number of values.
    pub fn count(&self) -> u64 {
        self.counts
            .iter()
            .fold(self.zero_count, |a, &c| a.saturating_add(c))
    }

    /// The same data at a coarser `scale` (each bucket merged into its parent).
    pub fn downscaled(&self, scale: i32) -> Exponential {
        if scale >= self.scale {
            return self.clone();
        }
        let shift = (self.scale - scale).min(62) as u32;
        let mut out = Exponential {
            scale,
            zero_count: self.zero_count,
            offset: 0,
            counts: Vec::new(),
            sum: self.sum,
            min: self.min,
            max: self.max,
        };
        for (i, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                out.add(((self.offset + i as i32) >> shift) as i64, c);
            }
        }
        out
    }

    fn add(&mut self, index: i64, count: u64) {
        let index = index.clamp(i32::MIN as i64 / 2, i32::MAX as i64 / 2) as i32;
        if self.counts.is_empty() {
            self.offset = index;
        }
        if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        }
        let at = (index - self.offset) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] = self.counts[at].saturating_add(count);
    }

    fn get(&self, index: i32) -> u64 {
        if index < self.offset {
            return 0;
        }
        self.counts
            .get((index - self.offset) as usize)
            .copied()
            .unwrap_or(0)
    }
}

impl Dist {
    /// The number of values.
    pub fn count(&self) -> u64 {
        match self {
            Dist::Empty => 0,
            Dist::Hdr(h) => h.count(),
            Dist::Exponential(e) => e.count(),
            Dist::Explicit(e) => e.counts.iter().fold(0, |a: u64, &c| a.saturating_add(c)),
        }
    }

    /// The sum of the values, in seconds.
    pub fn sum(&self) -> f64 {
        match self {
            Dist::Empty => 0.0,
            Dist::Hdr(h) => h.sum as f64 / 1e9,
            Dist::Exponential(e) => e.sum,
            Dist::Explicit(e) => e.sum,
        }
    }

    /// The largest value in seconds: exact where the source recorded it, else the upper
    /// bound of the highest non-empty bucket.
    pub fn max(&self) -> Option<f64> {
        if self.count() == 0 {
            return None;
        }
        match self {
            Dist::Hdr(h) => Some(h.max as f64 / 1e9),
            Dist::Exponential(Exponential { max: Some(m), .. })
            | Dist::Explicit(Explicit { max: Some(m), .. }) => Some(*m),
            _ => self.buckets().last().map(|b| b.high),
        }
    }

    /// The smallest value in seconds (exact where known, else a bucket's lower bound).
    pub fn min(&self) -> Option<f64> {
        if self.count() == 0 {
            return None;
        }
        match self {
            Dist::Hdr(h) => Some(h.min as f64 / 1e9),
            Dist::Exponential(Exponential { min: Some(m), .. })
            | Dist::Explicit(Explicit { min: Some(m), .. }) => Some(*m),
            _ => self.buckets().first().map(|b| b.low),
        }
    }

    /// The non-empty buckets, lowest first, in seconds.
    pub fn buckets(&self) -> Vec<Bucket> {
        match self {
            Dist::Empty => Vec::new(),
            Dist::Hdr(h) => h
                .buckets()
                .map(|(low, high, count)| Bucket {
                    low: low as f64 / 1e9,
                    high: high as f64 / 1e9,
                    count,
                })
                .collect(),
            Dist::Exponential(e) => {
                let mut out = Vec::new();
                if e.zero_count > 0 {
                    out.push(Bucket {
                        low: 0.0,
                        high: 0.0,
                        count: e.zero_count,
                    });
                }
                for (i, &count) in e.counts.iter().enumerate() {
                    if count > 0 {
                        let index = e.offset + i as i32;
                        out.push(Bucket {
                            low: Exponential::lower_bound(e.scale, index),
                            high: Exponential::lower_bound(e.scale, index + 1),
                            count,
                        });
                    }
                }
                out
            }
            Dist::Explicit(e) => {
                let mut out = Vec::new();
                for (i, &count) in e.counts.iter().enumerate() {
                    if count == 0 {
                        continue;
                    }
                    let (low, high) = e.bucket(i);
                    // What the sender said of its values: no value lies outside [min, max],
                    // so neither does the part of a bucket that holds them.
                    let (low, high) = clamp_range(low, high, e.min, e.max);
                    out.push(Bucket { low, high, count });
                }
                out
            }
        }
    }

    /// For an explicit histogram, the sender's own buckets from the first to the last that
    /// holds values (the empty ones between included), each narrowed to [min, max]; `None`
    /// for the other kinds, whose buckets are finer than a screen.
    pub fn sender_buckets(&self) -> Option<Vec<Bucket>> {
        let Dist::Explicit(e) = self else {
            return None;
        };
        let first = e.counts.iter().position(|&c| c > 0)?;
        let last = e.counts.iter().rposition(|&c| c > 0)?;
        Some(
            (first..=last)
                .map(|i| {
                    let (low, high) = e.bucket(i);
                    let (low, high) = clamp_range(low, high, e.min, e.max);
                    Bucket {
                        low,
                        high,
                        count: e.counts[i],
                    }
                })
                .collect(),
        )
    }

    /// The distribution as an HdrHistogram of nanoseconds: taskscope's own exactly (see
    /// `taskscope::hdr`), a sender's buckets each at its representative value (the
    /// geometric midpoint of an exponential bucket, the middle of an explicit one's part
    /// inside [min, max]), so within the sender's precision.
    #[cfg(all(feature = "hdrhistogram", feature = "tui"))]
    pub(crate) fn to_hdr(&self) -> hdrhistogram::Histogram<u64> {
        if let Dist::Hdr(h) = self {
            return hdrhistogram::Histogram::<u64>::from(h);
        }
        let mut out = hdrhistogram::Histogram::<u64>::new(crate::export::hdr::SIGNIFICANT_DIGITS)
            .expect("valid");
        for b in self.buckets() {
            let value = match self {
                Dist::Exponential(_) if b.low > 0.0 => (b.low * b.high).sqrt(),
                _ => (b.low + b.high) / 2.0,
            };
            let _ = out.record_n((value * 1e9).round() as u64, b.count);
        }
        out
    }

    /// The value at quantile `q` (0 to 1), in seconds; `None` when empty.
    ///
    /// Exponential buckets answer with the bucket's geometric midpoint (error at most half
    /// a bucket, 0.54 % at scale 6); explicit buckets by linear interpolation inside the
    /// part of the bucket that lies within the sender's minimum and maximum (as Prometheus'
    /// `histogram_quantile`, but never past what the sender said it saw: a bucket of 0 to
    /// 5 s holding values from 10 to 60 ms answers between 10 and 60 ms); HDR histograms
    /// with their own representative (0.78 %). Every answer lies within the bucket that
    /// holds the rank and within the known minimum and maximum.
    ///
    /// ```
    /// use taskscope::frame::{Dist, Explicit};
    /// let d = Dist::Explicit(Explicit {
    ///     bounds: vec![0.1, 0.2],
    ///     counts: vec![0, 10, 0],
    ///     sum: 1.5,
    ///     min: None,
    ///     max: None,
    /// });
    /// assert!((d.quantile(0.5).unwrap() - 0.15).abs() < 1e-9);
    /// // Bounds made for milliseconds, values in seconds: all in (0, 5], from 10 to 60 ms.
    /// let coarse = Dist::Explicit(Explicit {
    ///     bounds: vec![0.0, 5.0, 10.0],
    ///     counts: vec![0, 100, 0, 0],
    ///     sum: 3.5,
    ///     min: Some(0.010),
    ///     max: Some(0.060),
    /// });
    /// assert!((coarse.quantile(0.5).unwrap() - 0.035).abs() < 1e-9);
    /// assert!(coarse.coarse(0.5));
    /// ```
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        if let Dist::Hdr(h) = self {
            return Some(h.percentile(q * 100.0).as_secs_f64());
        }
        let rank = crate::record::histogram::rank(q, total);
        let mut seen = 0;
        let mut value = None;
        for b in self.buckets() {
            if seen + b.count >= rank {
                value = Some(match self {
                    Dist::Explicit(_) => {
                        let into = (rank - seen) as f64 / b.count as f64;
                        b.low + (b.high - b.low) * into
                    }
                    _ if b.low > 0.0 => (b.low * b.high).sqrt(),
                    _ => b.high,
                });
                break;
            }
            seen += b.count;
        }
        let mut v = value.or(self.max())?;
        if let Some(max) = self.max() {
            v = v.min(max);
        }
        if let Some(min) = self.min() {
            v = v.max(min);
        }
        Some(v)
    }

    /// Whether the answer at quantile `q` comes from a bucket too wide to trust: wider than
    /// half the data's range and a quarter of its own upper bound (explicit buckets made
    /// for another unit, or too few of them). HDR and exponential histograms are never
    /// coarse.
    pub fn coarse(&self, q: f64) -> bool {
        let Dist::Explicit(e) = self else {
            return false;
        };
        let total = self.count();
        if total == 0 {
            return false;
        }
        let rank = crate::record::histogram::rank(q, total);
        let mut seen = 0;
        for (i, &count) in e.counts.iter().enumerate() {
            seen += count;
            if count > 0 && seen >= rank {
                let (low, high) = e.bucket(i);
                let range = match (self.min(), self.max()) {
                    (Some(lo), Some(hi)) => hi - lo,
                    _ => return high.is_infinite(),
                };
                let width = high - low;
                return width > range / 2.0 && width > high.abs() / 4.0;
            }
        }
        false
    }

    /// Adds `other` into `self`. Exponential histograms of different scales meet at the
    /// coarser one; explicit histograms with other boundaries replace the old data (the
    /// source changed its buckets, which only a restart does).
    pub fn merge(&mut self, other: &Dist) {
        let merged = match (std::mem::take(self), other) {
            (a, Dist::Empty) => a,
            (Dist::Empty, b) => b.clone(),
            (Dist::Hdr(mut a), Dist::Hdr(b)) => {
                a.merge(b);
                Dist::Hdr(a)
            }
            (Dist::Exponential(a), Dist::Exponential(b)) => {
                let scale = a.scale.min(b.scale);
                let mut a = a.downscaled(scale);
                let b = b.downscaled(scale);
                a.zero_count = a.zero_count.saturating_add(b.zero_count);
                for (i, &c) in b.counts.iter().enumerate() {
                    if c > 0 {
                        a.add(i64::from(b.offset) + i as i64, c);
                    }
                }
                a.sum += b.sum;
                a.min = merge_opt(a.min, b.min, f64::min);
                a.max = merge_opt(a.max, b.max, f64::max);
                Dist::Exponential(a)
            }
            (Dist::Explicit(mut a), Dist::Explicit(b)) if a.bounds == b.bounds => {
                for (x, y) in a.counts.iter_mut().zip(&b.counts) {
                    *x = x.saturating_add(*y);
                }
                a.sum += b.sum;
                a.min = merge_opt(a.min, b.min, f64::min);
                a.max = merge_opt(a.max, b.max, f64::max);
                Dist::Explicit(a)
            }
            (_, b) => b.clone(),
        };
        *self = merged;
    }

    /// What was added since `earlier` (an older cumulative state of the same series).
    /// The minimum and maximum of the result are bounded by its buckets.
    pub fn delta(&self, earlier: &Dist) -> Dist {
        let d = match (self, earlier) {
            (a, Dist::Empty) => return a.clone(),
            (Dist::Hdr(a), Dist::Hdr(b)) => return Dist::Hdr(a.delta(b)),
            (Dist::Exponential(a), Dist::Exponential(b)) => {
                let scale = a.scale.min(b.scale);
                let a = a.downscaled(scale);
                let b = b.downscaled(scale);
                let mut out = Exponential {
                    scale,
                    zero_count: a.zero_count.saturating_sub(b.zero_count),
                    sum: (a.sum - b.sum).max(0.0),
                    ..Exponential::default()
                };
                for (i, &c) in a.counts.iter().enumerate() {
                    let index = a.offset + i as i32;
                    let c = c.saturating_sub(b.get(index));
                    if c > 0 {
                        out.add(i64::from(index), c);
                    }
                }
                out.max = a.max;
                out.min = a.min;
                Dist::Exponential(out)
            }
            (Dist::Explicit(a), Dist::Explicit(b)) if a.bounds == b.bounds => {
                Dist::Explicit(Explicit {
                    bounds: a.bounds.clone(),
                    counts: a
                        .counts
                        .iter()
                        .zip(b.counts.iter().chain(std::iter::repeat(&0)))
                        .map(|(x, y)| x.saturating_sub(*y))
                        .collect(),
                    sum: (a.sum - b.sum).max(0.0),
                    min: a.min,
                    max: a.max,
                })
            }
            (a, _) => return a.clone(),
        };
        d.bounded_by_buckets()
    }

    /// Narrows a cumulative min/max to the range of the non-empty buckets.
    fn bounded_by_buckets(self) -> Dist {
        let buckets = self.buckets();
        let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
            return Dist::Empty;
        };
        let (low, high) = (first.low, last.high);
        let clamp = |min: Option<f64>, max: Option<f64>| {
            (
                Some(min.map_or(low, |m| m.max(low))),
                Some(max.map_or(high, |m| m.min(high))),
            )
        };
        match self {
            Dist::Exponential(mut e) => {
                (e.min, e.max) = clamp(e.min, e.max);
                Dist::Exponential(e)
            }
            Dist::Explicit(mut e) => {
                (e.min, e.max) = clamp(e.min, e.max);
                Dist::Explicit(e)
            }
            other => other,
        }
    }
}

fn merge_opt(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(scale: i32, offset: i32, counts: Vec<u64>) -> Exponential {
        Exponential {
            scale,
            offset,
            counts,
            ..Exponential::default()
        }
    }

    #[test]
    fn downscaling_keeps_every_count_in_the_parent_bucket() {
        let e = exp(2, -3, vec![1, 2, 3, 4, 5]);
        let d = e.downscaled(0);
        assert_eq!(d.count(), 15);
        // indices -3..=1 at scale 2 map to -1 (for -3,-2,-1... >>2) and 0 (0,1)
        assert_eq!(d.offset, -1);
        assert_eq!(d.counts, vec![6, 9]);
    }

    #[test]
    fn exponential_quantile_is_within_half_a_bucket() {
        // 1000 values spread over 1 ms .. 1 s at scale 4.
        let scale = 4;
        let mut e = exp(scale, 0, Vec::new());
        let mut values = Vec::new();
        for i in 0..1000 {
            let v = 0.001 * (1000f64).powf(f64::from(i) / 999.0);
            values.push(v);
            let index = (v.log2() * f64::from(scale).exp2()).ceil() as i64 - 1;
            e.add(index, 1);
        }
        let d = Dist::Exponential(e);
        let base = (-f64::from(scale)).exp2().exp2();
        for q in [0.5, 0.9, 0.99, 0.999] {
            let truth = values[((q * 1000.0) as usize).min(999) - 1];
            let got = d.quantile(q).unwrap();
            assert!(
                (got / truth - 1.0).abs() <= base - 1.0,
                "q {q}: {got} vs {truth}"
            );
        }
    }

    #[test]
    fn delta_of_cumulative_states_is_what_was_added() {
        let a = Dist::Exponential(exp(3, 10, vec![1, 1]));
        let b = Dist::Exponential(exp(3, 10, vec![1, 4, 2]));
        let d = b.delta(&a);
        assert_eq!(d.count(), 5);
        assert_eq!(d.buckets().len(), 2);
    }

    #[test]
    fn merge_meets_at_the_coarser_scale() {
        let mut a = Dist::Exponential(exp(3, 8, vec![1]));
        a.merge(&Dist::Exponential(exp(1, 2, vec![2])));
        let Dist::Exponential(e) = &a else { panic!() };
        assert_eq!(e.scale, 1);
        assert_eq!(e.count(), 3);
        assert_eq!(e.counts, vec![3]);
    }
}
