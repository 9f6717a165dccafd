//! A snapshot as an OTLP metrics request, with the names of `docs/METRICS.md`.
//!
//! Built with the OpenTelemetry project's generated protobuf types (`opentelemetry-proto`):
//! the SDK's instruments aggregate values themselves and cannot take histograms that are
//! already aggregated, so taskscope fills the data points directly.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram as OtlpHistogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::spans::Timed;
use super::{HistogramFormat, Temporality};
use crate::export::stats::ExportStats;
use crate::record::histogram::Histogram;
use crate::{FunctionSnapshot, Outcome, Snapshot};

/// The finest scale used: 64 buckets per power of two, the recorder's own resolution.
const MAX_SCALE: i32 = 6;

/// The time frame of one export.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    /// Start of the counts: the recorder's start (cumulative) or the previous export (delta).
    pub(crate) start_unix_ns: u64,
    pub(crate) now_unix_ns: u64,
    pub(crate) temporality: Temporality,
}

/// Builds the request; also returns its number of data points.
pub(crate) fn request(
    snap: &Snapshot,
    frame: Frame,
    histograms: &HistogramFormat,
    resource: &[(String, String)],
    exports: ExportStats,
    samples: &[Timed<'_>],
) -> (ExportMetricsServiceRequest, u64) {
    let mut m = Metrics::new(frame);
    for f in &snap.functions {
        m.function(f, histograms, samples);
    }
    m.self_metrics(exports);
    let points = m.point_count();
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource.iter().map(|(k, v)| kv(k, v)).collect(),
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "taskscope".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                metrics: m.into_metrics(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    (request, points)
}

pub(crate) fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

struct Metrics {
    frame: Frame,
    calls: Vec<NumberDataPoint>,
    duration: HistogramPoints,
    busy: HistogramPoints,
    polls: Vec<NumberDataPoint>,
    slow_polls: Vec<NumberDataPoint>,
    concurrent: Vec<NumberDataPoint>,
    dropped: Vec<NumberDataPoint>,
}

enum HistogramPoints {
    Exponential(Vec<ExponentialHistogramDataPoint>),
    Explicit(Vec<HistogramDataPoint>),
}

impl HistogramPoints {
    fn len(&self) -> usize {
        match self {
            Self::Exponential(p) => p.len(),
            Self::Explicit(p) => p.len(),
        }
    }
}

impl Metrics {
    fn new(frame: Frame) -> Self {
        Self {
            frame,
            calls: Vec::new(),
            duration: HistogramPoints::Exponential(Vec::new()),
            busy: HistogramPoints::Exponential(Vec::new()),
            polls: Vec::new(),
            slow_polls: Vec::new(),
            concurrent: Vec::new(),
            dropped: Vec::new(),
        }
    }

    fn point_count(&self) -> u64 {
        (self.calls.len()
            + self.duration.len()
            + self.busy.len()
            + self.polls.len()
            + self.slow_polls.len()
            + self.concurrent.len()
            + self.dropped.len()) as u64
    }

    fn int_point(
        &self,
        attributes: Vec<KeyValue>,
        value: u64,
        cumulative_from: u64,
    ) -> NumberDataPoint {
        NumberDataPoint {
            attributes,
            start_time_unix_nano: cumulative_from,
            time_unix_nano: self.frame.now_unix_ns,
            value: Some(number_data_point::Value::AsInt(
                i64::try_from(value).unwrap_or(i64::MAX),
            )),
            ..Default::default()
        }
    }

    fn function(
        &mut self,
        f: &FunctionSnapshot,
        histograms: &HistogramFormat,
        samples: &[Timed<'_>],
    ) {
        let base = vec![kv("function", f.name), kv("module", f.module)];
        let start = self.frame.start_unix_ns;
        for outcome in Outcome::ALL {
            let stats = f.stats(outcome);
            if stats.count == 0 {
                continue;
            }
            let mut attrs = base.clone();
            attrs.push(kv("outcome", outcome.as_str()));
            if outcome == Outcome::Error {
                let mut counted = 0;
                for k in &f.error_kinds {
                    let mut a = attrs.clone();
                    a.push(kv("error.kind", k.kind));
                    self.calls.push(self.int_point(a, k.count, start));
                    counted += k.count;
                }
                if counted < stats.count {
                    self.calls
                        .push(self.int_point(attrs.clone(), stats.count - counted, start));
                }
            } else {
                self.calls
                    .push(self.int_point(attrs.clone(), stats.count, start));
            }
            self.polls
                .push(self.int_point(attrs.clone(), stats.polls, start));
            self.slow_polls
                .push(self.int_point(attrs.clone(), stats.slow_polls, start));
            let frame = self.frame;
            // The latest sampled call of this function and outcome links the point to a
            // trace.
            let exemplars: Vec<_> = samples
                .iter()
                .rev()
                .find(|s| s.is_of(f.module, f.name, outcome))
                .map(Timed::exemplar)
                .into_iter()
                .collect();
            push_histogram(
                &mut self.duration,
                histograms,
                &stats.wall,
                attrs.clone(),
                frame,
                exemplars,
            );
            push_histogram(
                &mut self.busy,
                histograms,
                &stats.busy,
                attrs,
                frame,
                Vec::new(),
            );
        }
        self.concurrent.push(NumberDataPoint {
            attributes: base,
            time_unix_nano: self.frame.now_unix_ns,
            value: Some(number_data_point::Value::AsInt(
                i64::try_from(f.in_flight).unwrap_or(i64::MAX),
            )),
            ..Default::default()
        });
    }

    fn self_metrics(&mut self, exports: ExportStats) {
        // Always cumulative since the process started: the totals of loss, whatever the
        // temporality of the function metrics.
        let p = self.int_point(Vec::new(), exports.dropped_points, self.frame.start_unix_ns);
        self.dropped.push(p);
    }

    fn into_metrics(self) -> Vec<Metric> {
        let temporality = match self.frame.temporality {
            Temporality::Cumulative => AggregationTemporality::Cumulative,
            Temporality::Delta => AggregationTemporality::Delta,
        } as i32;
        let sum = |points: Vec<NumberDataPoint>, temporality: i32| {
            Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: temporality,
                is_monotonic: true,
            })
        };
        let histogram = |points: HistogramPoints| match points {
            HistogramPoints::Exponential(p) => Data::ExponentialHistogram(ExponentialHistogram {
                data_points: p,
                aggregation_temporality: temporality,
            }),
            HistogramPoints::Explicit(p) => Data::Histogram(OtlpHistogram {
                data_points: p,
                aggregation_temporality: temporality,
            }),
        };
        let metric = |name: &str, unit: &str, description: &str, data: Data| Metric {
            name: name.into(),
            unit: unit.into(),
            description: description.into(),
            data: Some(data),
            ..Default::default()
        };
        let mut out = Vec::new();
        if !self.calls.is_empty() {
            out.push(metric(
                "function.calls",
                "{call}",
                "Finished calls, by outcome and error kind.",
                sum(self.calls, temporality),
            ));
        }
        if self.duration.len() > 0 {
            out.push(metric(
                "function.calls.duration",
                "s",
                "Wall time of a call: first poll to completion or drop.",
                histogram(self.duration),
            ));
            out.push(metric(
                "function.calls.busy",
                "s",
                "Busy time of a call: the sum of its polls.",
                histogram(self.busy),
            ));
            out.push(metric(
                "function.calls.polls",
                "{poll}",
                "Polls made by finished calls.",
                sum(self.polls, temporality),
            ));
            out.push(metric(
                "function.calls.slow_polls",
                "{poll}",
                "Polls longer than the slow-poll threshold.",
                sum(self.slow_polls, temporality),
            ));
        }
        if !self.concurrent.is_empty() {
            out.push(metric(
                "function.calls.concurrent",
                "{call}",
                "Calls started and not finished.",
                Data::Gauge(Gauge {
                    data_points: self.concurrent,
                }),
            ));
        }
        out.push(metric(
            "taskscope.export.dropped",
            "{point}",
            "Data points of batches the exporter gave up on, since the process started.",
            sum(self.dropped, AggregationTemporality::Cumulative as i32),
        ));
        out
    }
}

fn push_histogram(
    into: &mut HistogramPoints,
    format: &HistogramFormat,
    h: &Histogram,
    attributes: Vec<KeyValue>,
    frame: Frame,
    exemplars: Vec<opentelemetry_proto::tonic::metrics::v1::Exemplar>,
) {
    let (sum, min, max) = (secs(h.sum), secs(h.min), secs(h.max));
    match (format, into) {
        (HistogramFormat::Exponential { max_buckets }, HistogramPoints::Exponential(points)) => {
            let (scale, zero_count, offset, counts) = exponential(h, i64::from(*max_buckets));
            let count = zero_count + counts.iter().sum::<u64>();
            points.push(ExponentialHistogramDataPoint {
                attributes,
                start_time_unix_nano: frame.start_unix_ns,
                time_unix_nano: frame.now_unix_ns,
                count,
                sum: Some(sum),
                scale,
                zero_count,
                positive: Some(Buckets {
                    offset,
                    bucket_counts: counts,
                }),
                min: Some(min),
                max: Some(max),
                exemplars,
                ..Default::default()
            });
        }
        (HistogramFormat::Explicit(bounds), into) => {
            if let HistogramPoints::Exponential(p) = into {
                debug_assert!(p.is_empty());
                *into = HistogramPoints::Explicit(Vec::new());
            }
            let HistogramPoints::Explicit(points) = into else {
                unreachable!()
            };
            let bucket_counts = crate::export::explicit_counts(h, bounds);
            let count = bucket_counts.iter().sum();
            points.push(HistogramDataPoint {
                attributes,
                start_time_unix_nano: frame.start_unix_ns,
                time_unix_nano: frame.now_unix_ns,
                count,
                sum: Some(sum),
                bucket_counts,
                explicit_bounds: bounds.clone(),
                min: Some(min),
                max: Some(max),
                exemplars,
                ..Default::default()
            });
        }
        (HistogramFormat::Exponential { .. }, HistogramPoints::Explicit(_)) => {}
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The recorder's buckets as an exponential histogram in seconds: each bucket's count goes
/// to the exponential bucket holding its representative value (its midpoint, which is how
/// percentiles are read too). Scale 6 (64 buckets per power of two, as the recorder) unless
/// the range needs more than `max_buckets` buckets, then the largest scale that fits.
pub(crate) fn exponential(h: &Histogram, max_buckets: i64) -> (i32, u64, i32, Vec<u64>) {
    let mut zero = 0;
    let mut indexed: Vec<(i64, u64)> = Vec::new();
    for (low, high, count) in h.buckets() {
        let mid = low + (high - low) / 2;
        if mid == 0 {
            zero += count;
            continue;
        }
        indexed.push((exp_index(secs(mid), MAX_SCALE), count));
    }
    let Some((first, last)) = indexed.first().zip(indexed.last()).map(|(a, b)| (a.0, b.0)) else {
        return (MAX_SCALE, zero, 0, Vec::new());
    };
    let mut scale = MAX_SCALE;
    let (mut lo, mut hi) = (first, last);
    while hi - lo + 1 > max_buckets.max(1) && scale > -10 {
        scale -= 1;
        lo >>= 1;
        hi >>= 1;
    }
    let shift = MAX_SCALE - scale;
    let mut counts = vec![0u64; (hi - lo + 1) as usize];
    for (i, c) in indexed {
        counts[((i >> shift) - lo) as usize] += c;
    }
    (scale, zero, lo as i32, counts)
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
        let mut h = Histogram::default();
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
    fn explicit_buckets_count_by_upper_bound() {
        let h = histogram(&[50_000, 150_000, 1_000_000_000, 90_000_000_000]);
        let counts = crate::export::explicit_counts(&h, &[0.0001, 0.001, 1.5]);
        assert_eq!(counts, [1, 1, 1, 1]);
    }
}
