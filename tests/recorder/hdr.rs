//! taskscope's histograms and HdrHistogram (feature `hdrhistogram`): conversions that keep
//! every bucket's count both ways, an HdrHistogram of finer precision counted as taskscope
//! would have counted its values, and interval logs read back with the `hdrhistogram`
//! crate's own reader and deserializer.
#![cfg(feature = "hdrhistogram")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::time::Duration;

use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use taskscope::Histogram;

/// Deterministic values over nine decades of nanoseconds.
fn values(n: usize, mut seed: u64) -> Vec<u64> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let decades = (seed >> 11) as f64 / (1u64 << 53) as f64 * 9.0;
            10f64.powf(decades) as u64
        })
        .collect()
}

fn ours(values: &[u64]) -> Histogram {
    let mut h = Histogram::new();
    for &v in values {
        h.record(Duration::from_nanos(v));
    }
    h
}

#[test]
fn a_round_trip_keeps_every_bucket_count() {
    if crate::support::alone(module_path!(), "a_round_trip_keeps_every_bucket_count") {
        return;
    }
    for seed in 1..=20 {
        let v = values(5_000, seed);
        let h = ours(&v);
        let hdr = hdrhistogram::Histogram::<u64>::from(&h);
        assert_eq!(hdr.len(), h.count());
        assert_eq!(hdr.sigfig(), taskscope::hdr::SIGNIFICANT_DIGITS);
        let back = Histogram::from(&hdr);
        assert_eq!(back.bucket_counts(), h.bucket_counts(), "seed {seed}");
        assert_eq!(back.count(), h.count());
        // HdrHistogram keeps no sum or exact extremes: they come back within a bucket.
        let rel = |a: u64, b: u64| (a as f64 - b as f64).abs() / (b as f64).max(1.0);
        assert!(
            rel(back.sum, h.sum) < 0.016,
            "sum {} vs {}",
            back.sum,
            h.sum
        );
        assert!(rel(back.max, h.max) < 0.016 && rel(back.min, h.min) < 0.016);
        // And the percentiles agree within the two precisions.
        for q in [50.0, 90.0, 99.0, 99.9] {
            let (a, b) = (
                hdr.value_at_quantile(q / 100.0),
                h.percentile(q).as_nanos() as u64,
            );
            assert!(
                rel(a, b) < 0.016 + 1e-9 || a.abs_diff(b) <= 1,
                "p{q}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn a_finer_hdrhistogram_counts_as_taskscope_counts_the_same_values() {
    if crate::support::alone(
        module_path!(),
        "a_finer_hdrhistogram_counts_as_taskscope_counts_the_same_values",
    ) {
        return;
    }
    let v = values(20_000, 99);
    let mut fine = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    for &x in &v {
        fine.record(x.max(1)).unwrap();
    }
    let converted = Histogram::from(&fine);
    let direct = ours(&v.iter().map(|&x| x.max(1)).collect::<Vec<_>>());
    // Each of its buckets lands in the taskscope bucket that holds it: the same counts.
    assert_eq!(converted.bucket_counts(), direct.bucket_counts());
}

#[taskscope::measure]
fn hdr_fast(n: u64) -> u64 {
    n.wrapping_mul(3)
}

#[taskscope::measure]
async fn hdr_slow() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

#[test]
fn an_interval_log_reads_back_with_the_hdrhistogram_crate() {
    if crate::support::alone(
        module_path!(),
        "an_interval_log_reads_back_with_the_hdrhistogram_crate",
    ) {
        return;
    }
    for i in 0..100 {
        std::hint::black_box(hdr_fast(i));
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            for _ in 0..5 {
                hdr_slow().await;
            }
        });
    let mut snap = taskscope::snapshot();
    snap.functions.retain(|f| f.name.starts_with("hdr_"));
    assert_eq!(snap.functions.len(), 2);
    let mut log = Vec::new();
    taskscope::hdr::write_interval_log(&snap, &mut log).unwrap();
    let text = String::from_utf8(log.clone()).unwrap();
    assert!(text.contains("#[StartTime: "), "{text}");
    assert!(text.contains("#[BaseTime: "), "{text}");

    let mut deserializer = Deserializer::new();
    let mut seen = 0;
    for entry in IntervalLogIterator::new(&log) {
        let LogEntry::Interval(interval) = entry.expect("a well-formed log") else {
            continue;
        };
        let tag = interval
            .tag()
            .expect("each histogram is tagged")
            .as_str()
            .to_owned();
        let f = snap
            .functions
            .iter()
            .find(|f| tag == format!("{}::{}", f.module, f.name))
            .unwrap_or_else(|| panic!("tag {tag}"));
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            interval.encoded_histogram(),
        )
        .unwrap();
        let read: hdrhistogram::Histogram<u64> =
            deserializer.deserialize(&mut bytes.as_slice()).unwrap();
        assert_eq!(
            read,
            hdrhistogram::Histogram::<u64>::from(&f.wall()),
            "{tag}"
        );
        assert_eq!(
            Histogram::from(&read).bucket_counts(),
            f.wall().bucket_counts()
        );
        assert_eq!(interval.duration(), snap.window);
        // Interval_Max is in milliseconds.
        assert!((interval.max() - read.max() as f64 / 1e6).abs() < 1e-3);
        seen += 1;
    }
    assert_eq!(seen, 2);
}
