//! The recorder's HDR buckets as an exponential histogram (OTLP's exponential histogram,
//! Prometheus's native histogram: the same bucket layout, base `2^(2^-scale)`).

use crate::record::histogram::Histogram;

/// The finest scale used: 64 buckets per power of two, the recorder's own resolution.
pub(crate) const MAX_SCALE: i32 = 6;

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The recorder's buckets as an exponential histogram in seconds: each bucket's count goes
/// to the exponential bucket holding its representative value (its midpoint, which is how
/// percentiles are read too). At `scale` (at most 6: 64 buckets per power of two, as the
/// recorder) unless the range needs more than `max_buckets` buckets, then the largest scale
/// that fits.
#[cfg(test)]
pub(crate) fn exponential(h: &Histogram, max_buckets: i64) -> (i32, u64, i32, Vec<u64>) {
    let mut counts = Vec::new();
    let (scale, zero, offset) = exponential_into(h, MAX_SCALE, max_buckets, &mut counts);
    (scale, zero, offset, counts)
}

/// As [`exponential`], into `counts`; returns the scale, the zero count and the offset.
pub(crate) fn exponential_into(
    h: &Histogram,
    scale: i32,
    max_buckets: i64,
    counts: &mut Vec<u64>,
) -> (i32, u64, i32) {
    counts.clear();
    let table = exp_indices();
    // Exponential indices grow with the recorder's bucket index, so the first and last
    // non-zero buckets give the range.
    let index = |&(bucket, _): &(u32, u64)| table[bucket as usize];
    let buckets = h.bucket_counts();
    let zero: u64 = buckets
        .iter()
        .take_while(|b| index(b).is_none())
        .map(|&(_, c)| c)
        .sum();
    let (Some(first), Some(last)) = (
        buckets.iter().find_map(index),
        buckets.last().and_then(index),
    ) else {
        return (scale.min(MAX_SCALE), zero, 0);
    };
    let mut scale = scale.min(MAX_SCALE);
    let (mut lo, mut hi) = (first >> (MAX_SCALE - scale), last >> (MAX_SCALE - scale));
    while hi - lo + 1 > max_buckets.max(1) && scale > -10 {
        scale -= 1;
        lo >>= 1;
        hi >>= 1;
    }
    let shift = MAX_SCALE - scale;
    counts.resize((hi - lo + 1) as usize, 0);
    for b in buckets {
        if let Some(i) = index(b) {
            counts[((i >> shift) - lo) as usize] += b.1;
        }
    }
    (scale, zero, lo as i32)
}

/// For each recorder bucket, the exponential bucket at [`MAX_SCALE`] holding its midpoint
/// in seconds (`None` for the zero bucket). Computed once: a logarithm per bucket per export
/// would be a tenth of the export's cost.
fn exp_indices() -> &'static [Option<i64>] {
    static TABLE: std::sync::OnceLock<Vec<Option<i64>>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..crate::record::histogram::BUCKETS)
            .map(|b| {
                let (low, high) = Histogram::bucket_bounds(b);
                let mid = low + (high - low) / 2;
                (mid != 0).then(|| exp_index(secs(mid), MAX_SCALE))
            })
            .collect()
    })
}

/// The index of the exponential bucket `(base^i, base^(i+1)]` holding `v` at `scale`.
fn exp_index(v: f64, scale: i32) -> i64 {
    let scaled = v.log2() * f64::from(scale).exp2();
    // Values on a boundary belong to the bucket below (upper bounds are inclusive).
    (scaled.ceil() as i64) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn histogram(values_ns: &[u64]) -> Histogram {
        let mut h = Histogram::new();
        for &v in values_ns {
            h.record(Duration::from_nanos(v));
        }
        h
    }

    #[test]
    fn exponential_buckets_hold_every_count_at_full_scale() {
        let h = histogram(&[0, 1_000, 1_000, 50_000, 2_000_000]);
        let (scale, zero, offset, counts) = exponential(&h, 1024);
        assert_eq!(scale, 6);
        assert_eq!(zero, 1);
        assert_eq!(counts.iter().sum::<u64>(), 4);
        // Each value lies within its exponential bucket, within the recorder's precision.
        let base = 2f64.powf(2f64.powi(-scale));
        for (i, &c) in counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let upper = base.powi(offset + i as i32 + 1);
            let lower = base.powi(offset + i as i32);
            let hit = [1e-6, 5e-5, 2e-3]
                .iter()
                .any(|&v| v >= lower * 0.99 && v <= upper * 1.01);
            assert!(hit, "bucket ({lower}, {upper}] holds no recorded value");
        }
    }

    #[test]
    fn a_wide_range_lowers_the_scale_to_fit() {
        let h = histogram(&[100, 60_000_000_000]);
        let (scale, _, _, counts) = exponential(&h, 160);
        assert!(scale < 6);
        assert!(counts.len() <= 160);
        assert_eq!(counts.iter().sum::<u64>(), 2);
    }

    #[test]
    fn a_lower_scale_asked_for_merges_pairs_of_buckets() {
        let h = histogram(&[1_000, 1_010, 1_020, 2_000_000]);
        let (mut fine, mut coarse) = (Vec::new(), Vec::new());
        let (s6, _, off6) = exponential_into(&h, MAX_SCALE, i64::MAX, &mut fine);
        let (s3, _, off3) = exponential_into(&h, 3, i64::MAX, &mut coarse);
        assert_eq!((s6, s3), (6, 3));
        assert_eq!(coarse.iter().sum::<u64>(), 4);
        // Each fine bucket lies in the coarse bucket its index shifted by 3 names.
        for (i, &c) in fine.iter().enumerate() {
            if c > 0 {
                let parent = ((off6 + i as i32) >> 3) - off3;
                assert!(coarse[parent as usize] >= c);
            }
        }
    }
}
