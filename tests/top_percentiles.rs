//! The dashboard's percentile math against known distributions: OTLP exponential histograms
//! at every scale, explicit buckets, and taskscope's HDR histograms, each within its
//! buckets' relative error; and a window (the difference of two cumulative states) that
//! answers for the calls inside it only.

#![cfg(feature = "tui")]

use std::time::Duration;

use taskscope::view::{Dist, Explicit, Exponential};

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
