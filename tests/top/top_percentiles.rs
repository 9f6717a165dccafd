//! The dashboard's percentile math against known distributions: OTLP exponential histograms
//! at every scale, explicit buckets, and taskscope's HDR histograms, each within its
//! buckets' relative error; and a window (the difference of two cumulative states) that
//! answers for the calls inside it only.

#![cfg(feature = "tui")]

use std::time::Duration;

use taskscope::frame::{Dist, Explicit, Exponential};

/// A deterministic log-normal sample in seconds (median 10 ms, heavy right tail).
fn sample(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u1, u2) = (uniform().max(1e-12), uniform());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            0.010 * (1.2 * z).exp()
        })
        .collect()
}

/// The value with `q` of the values at or below it, as the dashboard defines the rank.
fn truth(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn exponential(values: &[f64], scale: i32) -> Dist {
    let mut e = Exponential {
        scale,
        ..Exponential::default()
    };
    let index = |v: f64| (v.log2() * f64::from(scale).exp2()).ceil() as i32 - 1;
    let lowest = values.iter().map(|&v| index(v)).min().unwrap();
    let highest = values.iter().map(|&v| index(v)).max().unwrap();
    e.offset = lowest;
    e.counts = vec![0; (highest - lowest + 1) as usize];
    for &v in values {
        e.counts[(index(v) - lowest) as usize] += 1;
        e.sum += v;
    }
    e.min = values.iter().copied().reduce(f64::min);
    e.max = values.iter().copied().reduce(f64::max);
    Dist::Exponential(e)
}

const QUANTILES: [f64; 6] = [0.5, 0.75, 0.9, 0.99, 0.999, 1.0];

#[test]
fn exponential_histograms_answer_within_half_a_bucket_at_every_scale() {
    if crate::support::alone(
        module_path!(),
        "exponential_histograms_answer_within_half_a_bucket_at_every_scale",
    ) {
        return;
    }
    let values = sample(100_000, 0x9E37_79B9_7F4A_7C15);
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    for scale in 0..=6 {
        let dist = exponential(&values, scale);
        assert_eq!(dist.count(), values.len() as u64);
        let half_bucket = (-f64::from(scale)).exp2().exp2().sqrt() - 1.0;
        for q in QUANTILES {
            let (got, want) = (dist.quantile(q).unwrap(), truth(&sorted, q));
            assert!(
                (got / want - 1.0).abs() <= half_bucket + 1e-9,
                "scale {scale} q {q}: {got} vs {want} (limit {half_bucket})"
            );
        }
    }
}

#[test]
fn explicit_buckets_answer_inside_the_bucket_that_holds_the_rank() {
    if crate::support::alone(
        module_path!(),
        "explicit_buckets_answer_inside_the_bucket_that_holds_the_rank",
    ) {
        return;
    }
    let values = sample(50_000, 42);
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let bounds = taskscope::DEFAULT_EXPLICIT_BUCKETS.to_vec();
    let mut counts = vec![0u64; bounds.len() + 1];
    for &v in &values {
        counts[bounds.partition_point(|&b| b < v)] += 1;
    }
    let dist = Dist::Explicit(Explicit {
        bounds: bounds.clone(),
        counts,
        sum: values.iter().sum(),
        min: sorted.first().copied(),
        max: sorted.last().copied(),
    });
    for q in QUANTILES {
        let (got, want) = (dist.quantile(q).unwrap(), truth(&sorted, q));
        let i = bounds.partition_point(|&b| b < want);
        let low = if i == 0 { sorted[0] } else { bounds[i - 1] };
        let high = bounds.get(i).copied().unwrap_or(sorted[sorted.len() - 1]);
        assert!(
            got >= low && got <= high,
            "q {q}: {got} outside the bucket ({low}, {high}] of {want}"
        );
    }
    assert_eq!(
        dist.quantile(1.0),
        sorted.last().copied(),
        "the max is exact"
    );
}

#[test]
fn hdr_histograms_answer_within_their_precision() {
    if crate::support::alone(
        module_path!(),
        "hdr_histograms_answer_within_their_precision",
    ) {
        return;
    }
    let values = sample(100_000, 7);
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let mut h = taskscope::Histogram::new();
    for &v in &values {
        h.record(Duration::from_secs_f64(v));
    }
    let dist = Dist::Hdr(h);
    for q in QUANTILES {
        let (got, want) = (dist.quantile(q).unwrap(), truth(&sorted, q));
        assert!((got / want - 1.0).abs() <= 0.0079, "q {q}: {got} vs {want}");
    }
}

#[test]
fn a_window_answers_for_its_own_calls_only() {
    if crate::support::alone(module_path!(), "a_window_answers_for_its_own_calls_only") {
        return;
    }
    // First 10,000 calls around 1 ms, then 10,000 around 100 ms: the window over the second
    // half must not see the first.
    let fast: Vec<f64> = sample(10_000, 1).iter().map(|v| v / 10.0).collect();
    let slow: Vec<f64> = sample(10_000, 2).iter().map(|v| v * 10.0).collect();
    let both: Vec<f64> = fast.iter().chain(&slow).copied().collect();
    let earlier = exponential(&fast, 5);
    let later = exponential(&both, 5);
    let window = later.delta(&earlier);
    assert_eq!(window.count(), 10_000);
    let mut sorted = slow.clone();
    sorted.sort_by(f64::total_cmp);
    let half_bucket = (-5f64).exp2().exp2().sqrt() - 1.0;
    for q in [0.5, 0.9, 0.99] {
        let (got, want) = (window.quantile(q).unwrap(), truth(&sorted, q));
        assert!(
            (got / want - 1.0).abs() <= half_bucket + 1e-9,
            "q {q}: {got} vs {want}"
        );
    }
    // And a scale change between the two states (a sender that widened its range) still
    // subtracts at the coarser scale.
    let window = exponential(&both, 3).delta(&earlier);
    assert_eq!(window.count(), 10_000);
}

/// A small deterministic generator for the property tests (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A value spread over `decades` powers of ten from `base`.
    fn log_uniform(&mut self, base: f64, decades: f64) -> f64 {
        base * 10f64.powf(self.unit() * decades)
    }
}

/// Random data: one to three clusters, each at its own magnitude (microseconds to
/// minutes), sometimes a single repeated value.
fn random_values(rng: &mut Rng) -> Vec<f64> {
    let n = 1 + rng.below(2_000) as usize;
    let clusters: Vec<(f64, f64)> = (0..1 + rng.below(3))
        .map(|_| (rng.log_uniform(1e-6, 8.0), rng.unit() * 2.0))
        .collect();
    if rng.below(10) == 0 {
        let v = clusters[0].0;
        return vec![v; n];
    }
    (0..n)
        .map(|_| {
            let (centre, spread) = clusters[rng.below(clusters.len() as u64) as usize];
            centre * 10f64.powf((rng.unit() - 0.5) * spread)
        })
        .collect()
}

/// Random increasing bounds: a few or many, linear or geometric, made for the data's unit
/// or for another (a thousand times too big or too small), sometimes starting at 0.
fn random_bounds(rng: &mut Rng, values: &[f64]) -> Vec<f64> {
    let n = rng.below(20) as usize;
    let typical = values[values.len() / 2] * [1.0, 1e3, 1e-3][rng.below(3) as usize];
    let start = rng.log_uniform(typical / 100.0, 2.0);
    let mut bounds = Vec::with_capacity(n + 1);
    if rng.below(3) == 0 {
        bounds.push(0.0);
    }
    let geometric = rng.below(2) == 0;
    let step = rng.log_uniform(start / 10.0, 2.0);
    let ratio = 1.1 + rng.unit() * 4.0;
    let mut b = start;
    for _ in 0..n {
        bounds.push(b);
        b = if geometric { b * ratio } else { b + step };
    }
    bounds.dedup();
    bounds
}

/// Property: for random data in random explicit bucket layouts, with or without the
/// sender's min and max, every estimate lies inside the bucket that holds the true value at
/// that rank, and inside [min, max] when the sender sent them.
#[test]
fn any_explicit_layout_answers_inside_the_true_bucket_and_min_max() {
    if crate::support::alone(
        module_path!(),
        "any_explicit_layout_answers_inside_the_true_bucket_and_min_max",
    ) {
        return;
    }
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for case in 0..2_000 {
        let values = random_values(&mut rng);
        let bounds = random_bounds(&mut rng, &values);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
        let mut counts = vec![0u64; bounds.len() + 1];
        for &v in &values {
            counts[bounds.partition_point(|&b| b < v)] += 1;
        }
        let with_min_max = rng.below(4) != 0;
        let dist = Dist::Explicit(Explicit {
            bounds: bounds.clone(),
            counts,
            sum: values.iter().sum(),
            min: with_min_max.then_some(min),
            max: with_min_max.then_some(max),
        });
        for q in [0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0] {
            let got = dist.quantile(q).unwrap();
            let want = truth(&sorted, q);
            let i = bounds.partition_point(|&b| b < want);
            // The true bucket: (bounds[i-1], bounds[i]]; its open ends are bounded by
            // what is known (0 below the first bound, the max above the last).
            let mut low = if i == 0 { want.min(0.0) } else { bounds[i - 1] };
            let mut high = bounds.get(i).copied().unwrap_or(f64::INFINITY);
            if with_min_max {
                low = low.max(min);
                high = high.min(max);
            }
            let slack = 1e-12 * high.abs().max(1.0);
            assert!(
                got >= low - slack && got <= high + slack,
                "case {case} q {q}: {got} outside ({low}, {high}] holding {want}; \
                 bounds {bounds:?}, min/max {with_min_max}"
            );
            if with_min_max {
                assert!(
                    (min..=max).contains(&got),
                    "case {case} q {q}: {got} outside [{min}, {max}]"
                );
            }
        }
        if with_min_max && max > min * 1.01 {
            // Spread data never collapses to min = p50 = max.
            let (p50, p0, p100) = (
                dist.quantile(0.5).unwrap(),
                dist.quantile(0.0).unwrap(),
                dist.quantile(1.0).unwrap(),
            );
            assert!(
                !(p0 == p50 && p50 == p100),
                "case {case}: everything at {p50} for data from {min} to {max}"
            );
        }
    }
}

/// Property: for random data in exponential histograms at random scales (including the
/// negative ones a sender picks for a wide range), every estimate lies inside the bucket
/// that holds the true value and inside [min, max].
#[test]
fn any_exponential_scale_answers_inside_the_true_bucket_and_min_max() {
    if crate::support::alone(
        module_path!(),
        "any_exponential_scale_answers_inside_the_true_bucket_and_min_max",
    ) {
        return;
    }
    let mut rng = Rng(0x94D0_49BB_1331_11EB);
    for case in 0..1_000 {
        let values = random_values(&mut rng);
        let scale = rng.below(15) as i32 - 4;
        let dist = exponential(&values, scale);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            let got = dist.quantile(q).unwrap();
            let want = truth(&sorted, q);
            let index = (want.log2() * f64::from(scale).exp2()).ceil() as i32 - 1;
            let low = Exponential::lower_bound(scale, index).max(min);
            let high = Exponential::lower_bound(scale, index + 1).min(max);
            let slack = 1e-9 * high;
            assert!(
                got >= low - slack && got <= high + slack && (min..=max).contains(&got),
                "case {case} scale {scale} q {q}: {got} outside ({low}, {high}] holding {want}"
            );
        }
    }
}
