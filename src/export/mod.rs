//! Exporters: the recorder's numbers sent to the systems teams already run.

#[cfg(any(feature = "otlp", feature = "prometheus"))]
pub(crate) mod exponential;
#[cfg(feature = "hdrhistogram")]
pub(crate) mod hdr;
#[cfg(feature = "otel-sdk")]
pub(crate) mod otel;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;
#[cfg(feature = "prometheus")]
pub(crate) mod prometheus;
#[cfg(feature = "otlp")]
pub(crate) mod resource;
pub(crate) mod stats;

#[cfg(any(feature = "otlp", feature = "prometheus"))]
use crate::record::histogram::Histogram;

/// The default explicit histogram boundaries, in seconds: 100 µs to a minute. Used for OTLP
/// explicit-bucket histograms and for the Prometheus endpoint's `le` buckets.
pub const DEFAULT_EXPLICIT_BUCKETS: [f64; 18] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// A histogram counted into explicit upper boundaries in seconds (`le` semantics), into
/// `counts` (which keeps its capacity): one count per boundary and a last one above them
/// all. A recorder bucket counts under the first boundary at or above its midpoint, which is
/// how percentiles read it too.
#[cfg(any(feature = "otlp", feature = "prometheus"))]
pub(crate) fn explicit_counts(h: &Histogram, bounds: &[f64], counts: &mut Vec<u64>) {
    counts.clear();
    counts.resize(bounds.len() + 1, 0);
    // Buckets come lowest first: the boundary only moves up.
    let mut i = 0;
    for (low, high, count) in h.buckets() {
        let mid = (low + (high - low) / 2) as f64 / 1e9;
        while i < bounds.len() && bounds[i] < mid {
            i += 1;
        }
        counts[i] += count;
    }
}
