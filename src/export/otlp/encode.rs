//! A snapshot as an OTLP metrics request, with the names of `docs/METRICS.md`.
//!
//! Every data point is one of the OpenTelemetry project's generated protobuf types
//! (`opentelemetry-proto`), filled directly: the SDK's instruments aggregate values
//! themselves and cannot take histograms that are already aggregated.
//!
//! The points go to a [`Sink`]. [`Request`] collects them into an
//! `ExportMetricsServiceRequest`, the reference. [`Framed`] encodes each point with prost as
//! it is made, into one buffer per metric (reused from export to export), and then writes
//! the request's bytes from those buffers. The bytes are the same as prost's encoding of the
//! `ExportMetricsServiceRequest` (a test compares them), at a third of the cost: prost
//! computes the length of a nested message at every level that encloses it, so a bucket
//! count seven messages deep is measured eight times. Here each point is measured by prost
//! as a whole (an exponential point's buckets are encoded first and measured by their
//! bytes), and the five enclosing messages get their length prefixes from the lengths of
//! the encoded buffers. The envelopes' own fields (resource, scope, names, units,
//! temporality) are prost's encoding of the same generated types without their points.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint,
    Histogram as OtlpHistogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

use super::key_value::kv;
use super::spans::Timed;
use super::{HistogramFormat, Temporality};
use crate::export::stats::ExportStats;
use crate::record::attempts::{ATTEMPT_BUCKETS, Attempts};
use crate::record::histogram::Histogram;
use crate::record::runtime::{PollTimeBucket, RuntimeSnapshot};
use crate::record::snapshot::Snapshot;
use crate::record::snapshot::{CallerStats, FunctionSnapshot};
use crate::words::names;
use crate::words::outcome::Outcome;

/// Field numbers of the enclosing messages, from `opentelemetry/proto/collector/metrics/v1/
/// metrics_service.proto` and `opentelemetry/proto/metrics/v1/metrics.proto`.
mod field {
    /// `ExportMetricsServiceRequest.resource_metrics`.
    pub(super) const RESOURCE_METRICS: u32 = 1;
    /// `ResourceMetrics.scope_metrics`.
    pub(super) const SCOPE_METRICS: u32 = 2;
    /// `ScopeMetrics.metrics`.
    pub(super) const METRICS: u32 = 2;
    /// `data_points` of `Gauge`, `Sum`, `Histogram` and `ExponentialHistogram`.
    pub(super) const DATA_POINTS: u32 = 1;
    /// The members of the `Metric.data` oneof.
    pub(super) const GAUGE: u32 = 5;
    pub(super) const SUM: u32 = 7;
    pub(super) const HISTOGRAM: u32 = 9;
    pub(super) const EXPONENTIAL_HISTOGRAM: u32 = 10;
    pub(super) const SUMMARY: u32 = 11;
    /// `ExponentialHistogramDataPoint.positive`: fields 1 to 7 come before it, 9 to 14
    /// after.
    pub(super) const POSITIVE: u32 = 8;
}

/// The time frame of one export.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    /// Start of the counts: the recorder's start (cumulative) or the previous export (delta).
    pub(crate) start_unix_ns: u64,
    pub(crate) now_unix_ns: u64,
    pub(crate) temporality: Temporality,
}

/// The metrics of `docs/METRICS.md`, in the order they are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Series {
    Calls,
    Duration,
    Busy,
    Polls,
    SlowPolls,
    Concurrent,
    Scheduling,
    RetryAttempts,
    CallerCalls,
    CallerWall,
    CallerBusy,
    CallerSelfBusy,
    Dropped,
    RuntimeWorkers,
    RuntimeTasks,
    RuntimeGlobalQueue,
    RuntimeBusy,
    RuntimeParks,
    RuntimeBlockingThreads,
    RuntimeBlockingIdle,
    RuntimeBlockingQueue,
    RuntimeLocalQueue,
    RuntimePolls,
    RuntimeSteals,
    RuntimeBudgetYields,
    RuntimeIoReady,
    RuntimePollTime,
}

/// How many series there are.
const SERIES: usize = 27;

impl Series {
    const ALL: [Series; SERIES] = [
        Self::Calls,
        Self::Duration,
        Self::Busy,
        Self::Polls,
        Self::SlowPolls,
        Self::Concurrent,
        Self::Scheduling,
        Self::RetryAttempts,
        Self::CallerCalls,
        Self::CallerWall,
        Self::CallerBusy,
        Self::CallerSelfBusy,
        Self::Dropped,
        Self::RuntimeWorkers,
        Self::RuntimeTasks,
        Self::RuntimeGlobalQueue,
        Self::RuntimeBusy,
        Self::RuntimeParks,
        Self::RuntimeBlockingThreads,
        Self::RuntimeBlockingIdle,
        Self::RuntimeBlockingQueue,
        Self::RuntimeLocalQueue,
        Self::RuntimePolls,
        Self::RuntimeSteals,
        Self::RuntimeBudgetYields,
        Self::RuntimeIoReady,
        Self::RuntimePollTime,
    ];

    /// The runtime metric of a runtime series.
    fn runtime_metric(self) -> names::Metric {
        use names::metric::runtime as m;
        match self {
            Self::RuntimeWorkers => m::WORKERS,
            Self::RuntimeTasks => m::TASKS,
            Self::RuntimeGlobalQueue => m::GLOBAL_QUEUE,
            Self::RuntimeBusy => m::BUSY,
            Self::RuntimeParks => m::PARKS,
            Self::RuntimeBlockingThreads => m::BLOCKING_THREADS,
            Self::RuntimeBlockingIdle => m::BLOCKING_IDLE,
            Self::RuntimeBlockingQueue => m::BLOCKING_QUEUE,
            Self::RuntimeLocalQueue => m::LOCAL_QUEUE,
            Self::RuntimePolls => m::POLLS,
            Self::RuntimeSteals => m::STEALS,
            Self::RuntimeBudgetYields => m::BUDGET_YIELDS,
            Self::RuntimeIoReady => m::IO_READY,
            _ => m::POLL_TIME,
        }
    }

    /// The metric without its data points, and its data (of the right kind) without them.
    fn envelope(self, frame: Frame, histograms: &HistogramFormat) -> (Metric, Data) {
        let temporality = match frame.temporality {
            Temporality::Cumulative => AggregationTemporality::Cumulative,
            Temporality::Delta => AggregationTemporality::Delta,
        } as i32;
        let sum = |aggregation_temporality| {
            Data::Sum(Sum {
                data_points: Vec::new(),
                aggregation_temporality,
                is_monotonic: true,
            })
        };
        let histogram = || match histograms {
            HistogramFormat::Exponential { .. } => {
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: Vec::new(),
                    aggregation_temporality: temporality,
                })
            }
            HistogramFormat::Explicit(_) => Data::Histogram(OtlpHistogram {
                data_points: Vec::new(),
                aggregation_temporality: temporality,
            }),
        };
        let (m, data) = match self {
            Self::Calls => (names::metric::CALLS, sum(temporality)),
            Self::Duration => (names::metric::DURATION, histogram()),
            Self::Busy => (names::metric::BUSY, histogram()),
            Self::Scheduling => (names::metric::SCHEDULING, histogram()),
            // Counts of attempts, in fixed buckets whatever the format of the latencies.
            Self::RetryAttempts => (
                names::metric::RETRY_ATTEMPTS,
                Data::Histogram(OtlpHistogram {
                    data_points: Vec::new(),
                    aggregation_temporality: temporality,
                }),
            ),
            Self::Polls => (names::metric::POLLS, sum(temporality)),
            Self::SlowPolls => (names::metric::SLOW_POLLS, sum(temporality)),
            Self::CallerCalls => (names::metric::CALLER_CALLS, sum(temporality)),
            Self::CallerWall => (names::metric::CALLER_WALL, sum(temporality)),
            Self::CallerBusy => (names::metric::CALLER_BUSY, sum(temporality)),
            Self::CallerSelfBusy => (names::metric::CALLER_SELF_BUSY, sum(temporality)),
            // An up-down counter: a sum that is not monotonic, always cumulative.
            Self::Concurrent => (
                names::metric::CONCURRENT,
                Data::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: false,
                }),
            ),
            // Always cumulative since the process started: the totals of loss, whatever the
            // temporality of the function metrics.
            Self::Dropped => (
                names::metric::EXPORT_DROPPED,
                sum(AggregationTemporality::Cumulative as i32),
            ),
            // The runtimes' counts are up-down counters, their counters cumulative since
            // the monitor started, whatever the temporality of the function metrics.
            Self::RuntimeWorkers
            | Self::RuntimeTasks
            | Self::RuntimeGlobalQueue
            | Self::RuntimeBlockingThreads
            | Self::RuntimeBlockingIdle
            | Self::RuntimeBlockingQueue
            | Self::RuntimeLocalQueue => (
                self.runtime_metric(),
                Data::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: false,
                }),
            ),
            Self::RuntimeBusy
            | Self::RuntimeParks
            | Self::RuntimePolls
            | Self::RuntimeSteals
            | Self::RuntimeBudgetYields
            | Self::RuntimeIoReady => (
                self.runtime_metric(),
                sum(AggregationTemporality::Cumulative as i32),
            ),
            Self::RuntimePollTime => (
                self.runtime_metric(),
                Data::Histogram(OtlpHistogram {
                    data_points: Vec::new(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            ),
        };
        let metric = Metric {
            name: m.name.into(),
            unit: m.unit.into(),
            description: m.description.into(),
            ..Default::default()
        };
        (metric, data)
    }
}

/// Where the data points of one export go.
pub(crate) trait Sink {
    fn number(&mut self, series: Series, point: &NumberDataPoint);
    /// The point is the caller's scratch: a sink may move its fields out while it encodes, and
    /// puts them back before it returns.
    fn exponential(&mut self, series: Series, point: &mut ExponentialHistogramDataPoint);
    fn explicit(&mut self, series: Series, point: &HistogramDataPoint);
}

/// The points of one export, made from a snapshot. Holds reusable scratch points, so that
/// after the first export a point costs no allocation beyond its sink's.
#[derive(Default)]
pub(crate) struct Points {
    number: NumberDataPoint,
    exponential: ExponentialHistogramDataPoint,
    explicit: HistogramDataPoint,
    /// The attributes of the current point.
    attrs: Attributes,
    /// The version of `attrs` each scratch point (number, exponential, explicit) holds.
    copied: [u64; 3],
    /// Points made by the last `fill`.
    pub(crate) count: u64,
}

impl Points {
    /// Makes every point of the snapshot and the self-metrics, in metric order per function.
    pub(crate) fn fill(
        &mut self,
        sink: &mut impl Sink,
        snap: &Snapshot,
        frame: Frame,
        histograms: &HistogramFormat,
        exports: ExportStats,
        samples: &[Timed<'_>],
    ) {
        self.count = 0;
        for f in &snap.functions {
            self.function(sink, f, frame, histograms, samples);
        }
        for r in &snap.runtimes {
            // A reading's points carry the time it was read, which may be up to an
            // interval before the snapshot: its counters are rates over that time.
            let stale = snap.taken_at.saturating_sub(r.read_at);
            let read = Frame {
                now_unix_ns: frame
                    .now_unix_ns
                    .saturating_sub(u64::try_from(stale.as_nanos()).unwrap_or(u64::MAX)),
                ..frame
            };
            self.runtime(sink, r, read);
        }
        self.attrs.set(None, None, KindAttr::None);
        self.int(
            sink,
            Series::Dropped,
            exports.dropped_points,
            frame.start_unix_ns,
            frame,
        );
    }

    /// The points of one tokio runtime's latest reading.
    fn runtime(&mut self, sink: &mut impl Sink, r: &RuntimeSnapshot, frame: Frame) {
        let start = frame.start_unix_ns;
        self.attrs.set_runtime(&r.name, None);
        let count = |n: usize| n as u64;
        self.int(sink, Series::RuntimeWorkers, count(r.workers), start, frame);
        self.int(
            sink,
            Series::RuntimeTasks,
            count(r.alive_tasks),
            start,
            frame,
        );
        self.int(
            sink,
            Series::RuntimeGlobalQueue,
            count(r.global_queue_depth),
            start,
            frame,
        );
        if let Some(u) = &r.unstable {
            for (series, n) in [
                (Series::RuntimeBlockingThreads, count(u.blocking_threads)),
                (Series::RuntimeBlockingIdle, count(u.idle_blocking_threads)),
                (Series::RuntimeBlockingQueue, count(u.blocking_queue_depth)),
                (Series::RuntimeLocalQueue, count(u.local_queue_depth)),
                (Series::RuntimePolls, u.polls),
                (Series::RuntimeSteals, u.steals),
                (Series::RuntimeBudgetYields, u.budget_forced_yields),
                (Series::RuntimeIoReady, u.io_driver_ready),
            ] {
                self.int(sink, series, n, start, frame);
            }
            if !u.poll_time.is_empty() {
                self.poll_time(sink, &u.poll_time, frame);
            }
        }
        for (w, (busy, parks)) in r.worker_busy.iter().zip(&r.worker_parks).enumerate() {
            self.attrs.set_runtime(&r.name, Some(w));
            self.double(sink, Series::RuntimeBusy, busy.as_secs_f64(), start, frame);
            self.int(sink, Series::RuntimeParks, *parks, start, frame);
        }
    }

    /// A retried operation's attempts: buckets of 1 to 15 attempts and one of 16 or more.
    fn attempts(&mut self, sink: &mut impl Sink, attempts: &Attempts, frame: Frame) {
        let p = &mut self.explicit;
        self.attrs.copy_to(&mut p.attributes, &mut self.copied[2]);
        p.explicit_bounds.clear();
        p.explicit_bounds
            .extend((1..ATTEMPT_BUCKETS).map(|n| n as f64));
        p.bucket_counts.clear();
        p.bucket_counts.extend_from_slice(&attempts.counts);
        p.count = attempts.operations();
        p.start_time_unix_nano = frame.start_unix_ns;
        p.time_unix_nano = frame.now_unix_ns;
        let total: u64 = (1u64..).zip(&attempts.counts).map(|(n, &c)| n * c).sum();
        let min = attempts
            .counts
            .iter()
            .position(|&c| c > 0)
            .map(|i| i as f64 + 1.0);
        let max = attempts.max().map(|m| m as f64);
        (p.sum, p.min, p.max) = (Some(total as f64), min, max);
        p.exemplars.clear();
        sink.explicit(Series::RetryAttempts, p);
        self.count += 1;
    }

    /// tokio's poll-time histogram, in its own buckets (the last has no upper bound).
    fn poll_time(&mut self, sink: &mut impl Sink, buckets: &[PollTimeBucket], frame: Frame) {
        let p = &mut self.explicit;
        self.attrs.copy_to(&mut p.attributes, &mut self.copied[2]);
        p.explicit_bounds.clear();
        p.explicit_bounds.extend(
            buckets[..buckets.len() - 1]
                .iter()
                .map(|b| b.to.as_secs_f64()),
        );
        p.bucket_counts.clear();
        p.bucket_counts.extend(buckets.iter().map(|b| b.count));
        p.count = p.bucket_counts.iter().sum();
        p.start_time_unix_nano = frame.start_unix_ns;
        p.time_unix_nano = frame.now_unix_ns;
        (p.sum, p.min, p.max) = (None, None, None);
        p.exemplars.clear();
        sink.explicit(Series::RuntimePollTime, p);
        self.count += 1;
    }

    fn double(
        &mut self,
        sink: &mut impl Sink,
        series: Series,
        value: f64,
        start: u64,
        frame: Frame,
    ) {
        let p = &mut self.number;
        self.attrs.copy_to(&mut p.attributes, &mut self.copied[0]);
        p.start_time_unix_nano = start;
        p.time_unix_nano = frame.now_unix_ns;
        p.value = Some(number_data_point::Value::AsDouble(value));
        sink.number(series, p);
        self.count += 1;
    }

    fn int(&mut self, sink: &mut impl Sink, series: Series, value: u64, start: u64, frame: Frame) {
        let p = &mut self.number;
        self.attrs.copy_to(&mut p.attributes, &mut self.copied[0]);
        p.start_time_unix_nano = start;
        p.time_unix_nano = frame.now_unix_ns;
        p.value = Some(number_data_point::Value::AsInt(
            i64::try_from(value).unwrap_or(i64::MAX),
        ));
        sink.number(series, p);
        self.count += 1;
    }

    fn function(
        &mut self,
        sink: &mut impl Sink,
        f: &FunctionSnapshot,
        frame: Frame,
        histograms: &HistogramFormat,
        samples: &[Timed<'_>],
    ) {
        let start = frame.start_unix_ns;
        for outcome in Outcome::ALL {
            let stats = f.stats(outcome);
            if stats.count == 0 {
                continue;
            }
            if outcome == Outcome::Error {
                let mut counted = 0;
                for k in &f.error_kinds {
                    let kind = if k.kind == crate::words::names::OVERFLOW_KIND {
                        KindAttr::Overflow
                    } else {
                        KindAttr::Type(k.kind)
                    };
                    self.attrs.set(Some(f), Some(outcome), kind);
                    self.int(sink, Series::Calls, k.count, start, frame);
                    counted += k.count;
                }
                self.attrs.set(Some(f), Some(outcome), KindAttr::None);
                if counted < stats.count {
                    self.int(sink, Series::Calls, stats.count - counted, start, frame);
                }
            } else {
                self.attrs.set(Some(f), Some(outcome), KindAttr::None);
                self.int(sink, Series::Calls, stats.count, start, frame);
            }
            self.int(sink, Series::Polls, stats.polls, start, frame);
            self.int(sink, Series::SlowPolls, stats.slow_polls, start, frame);
            // The latest sampled call of this function and outcome links the point to a
            // trace.
            let exemplar = samples
                .iter()
                .rev()
                .find(|s| s.is_of(f.module, f.name, outcome))
                .map(Timed::exemplar);
            self.histogram(
                sink,
                Series::Duration,
                &stats.wall,
                frame,
                histograms,
                exemplar,
            );
            self.histogram(sink, Series::Busy, &stats.busy, frame, histograms, None);
        }
        self.attrs.set(Some(f), None, KindAttr::None);
        // Cumulative since the recorder started.
        self.int(sink, Series::Concurrent, f.in_flight, start, frame);
        if !f.scheduling.is_empty() {
            self.histogram(
                sink,
                Series::Scheduling,
                &f.scheduling,
                frame,
                histograms,
                None,
            );
        }
        if !f.attempts.is_empty() {
            self.attempts(sink, &f.attempts, frame);
        }
        // The call graph's edges into this function, the root calls among them.
        for c in f.callers.iter().filter(|c| c.calls > 0) {
            self.attrs.set_caller(f, c);
            self.int(sink, Series::CallerCalls, c.calls, start, frame);
            for (series, d) in [
                (Series::CallerWall, c.wall),
                (Series::CallerBusy, c.busy),
                (Series::CallerSelfBusy, c.self_busy),
            ] {
                self.double(sink, series, d.as_secs_f64(), start, frame);
            }
        }
    }

    fn histogram(
        &mut self,
        sink: &mut impl Sink,
        series: Series,
        h: &Histogram,
        frame: Frame,
        format: &HistogramFormat,
        exemplar: Option<Exemplar>,
    ) {
        let (sum, min, max) = (Some(secs(h.sum)), Some(secs(h.min)), Some(secs(h.max)));
        match format {
            HistogramFormat::Exponential { max_buckets } => {
                let p = &mut self.exponential;
                self.attrs.copy_to(&mut p.attributes, &mut self.copied[1]);
                let buckets = p.positive.get_or_insert_with(Buckets::default);
                let (scale, zero_count, offset) = crate::export::exponential::exponential_into(
                    h,
                    crate::export::exponential::MAX_SCALE,
                    i64::from(*max_buckets),
                    &mut buckets.bucket_counts,
                );
                buckets.offset = offset;
                p.count = zero_count + buckets.bucket_counts.iter().sum::<u64>();
                p.start_time_unix_nano = frame.start_unix_ns;
                p.time_unix_nano = frame.now_unix_ns;
                (p.sum, p.min, p.max) = (sum, min, max);
                p.scale = scale;
                p.zero_count = zero_count;
                p.exemplars.clear();
                p.exemplars.extend(exemplar);
                sink.exponential(series, p);
            }
            HistogramFormat::Explicit(bounds) => {
                let p = &mut self.explicit;
                self.attrs.copy_to(&mut p.attributes, &mut self.copied[2]);
                crate::export::explicit_counts(h, bounds, &mut p.bucket_counts);
                p.count = p.bucket_counts.iter().sum();
                if p.explicit_bounds != *bounds {
                    p.explicit_bounds.clone_from(bounds);
                }
                p.start_time_unix_nano = frame.start_unix_ns;
                p.time_unix_nano = frame.now_unix_ns;
                (p.sum, p.min, p.max) = (sum, min, max);
                p.exemplars.clear();
                p.exemplars.extend(exemplar);
                sink.explicit(series, p);
            }
        }
        self.count += 1;
    }
}

/// What a point's last attribute says about the error kind.
#[derive(Clone, Copy)]
enum KindAttr<'a> {
    /// No kind: not an error, or an error the function gave no kind.
    None,
    /// `error.type`.
    Type(&'a str),
    /// The errors whose kind went over the function's cap: `otel.metric.overflow`.
    Overflow,
}

/// The attributes of the current point (`code.function.name`, `taskscope.outcome`, then
/// `error.type` or `otel.metric.overflow`), with a version that changes with them, so that
/// a scratch point copies them only when they changed since its last copy.
#[derive(Default)]
struct Attributes {
    values: Vec<KeyValue>,
    version: u64,
}

impl Attributes {
    /// The attributes of a point of function `f` (none for the exporter's own metrics),
    /// reusing the strings already there.
    fn set(&mut self, f: Option<&FunctionSnapshot>, outcome: Option<Outcome>, kind: KindAttr<'_>) {
        let mut n = 0;
        if let Some(f) = f {
            self.put(n, names::attr::FUNCTION, |s| {
                names::qualify_into(s, f.module, f.name)
            });
            n += 1;
            if f.pattern != crate::words::function::Pattern::Function {
                self.put(n, names::attr::KIND, |s| s.push_str(f.pattern.as_str()));
                n += 1;
            }
        }
        if let Some(o) = outcome {
            self.put(n, names::attr::OUTCOME, |s| s.push_str(o.as_str()));
            n += 1;
        }
        if let KindAttr::Type(k) = kind {
            self.put(n, names::attr::ERROR_TYPE, |s| s.push_str(k));
            n += 1;
        }
        // Errors over the function's kind cap, and spans of functions over the process's
        // cap (named `_overflow`), are marked as the SDKs mark an overflow.
        let function_overflowed = f.is_some_and(|f| f.name == crate::words::names::OVERFLOW_KIND);
        if matches!(kind, KindAttr::Overflow) || function_overflowed {
            self.put_bool(n, names::attr::OVERFLOW);
            n += 1;
        }
        self.values.truncate(n);
        self.version += 1;
    }

    /// The attributes of a point of the edge from `caller` into `f`.
    fn set_caller(&mut self, f: &FunctionSnapshot, caller: &CallerStats) {
        self.put(0, names::attr::FUNCTION, |s| {
            names::qualify_into(s, f.module, f.name)
        });
        self.put(1, names::attr::CALLER, |s| {
            names::qualify_into(s, caller.module, caller.name)
        });
        let mut n = 2;
        if caller.name == crate::words::names::OVERFLOW_KIND && caller.module.is_empty() {
            self.put_bool(n, names::attr::OVERFLOW);
            n += 1;
        }
        self.values.truncate(n);
        self.version += 1;
    }

    /// The attributes of a point of a tokio runtime (and of one of its workers).
    fn set_runtime(&mut self, name: &str, worker: Option<usize>) {
        self.put(0, names::attr::RUNTIME, |s| s.push_str(name));
        let mut n = 1;
        if let Some(w) = worker {
            self.put(n, names::attr::WORKER, |s| {
                use std::fmt::Write;
                let _ = write!(s, "{w}");
            });
            n += 1;
        }
        self.values.truncate(n);
        self.version += 1;
    }

    /// Sets attribute `i` to a string value, filled by `fill` into a cleared string.
    fn put(&mut self, i: usize, key: &str, fill: impl FnOnce(&mut String)) {
        if self.values.len() <= i {
            self.values.push(kv(key, ""));
        }
        let a = &mut self.values[i];
        if a.key != key {
            key.clone_into(&mut a.key);
        }
        match &mut a.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => {
                s.clear();
                fill(s);
            }
            other => {
                let mut s = String::new();
                fill(&mut s);
                *other = Some(AnyValue {
                    value: Some(any_value::Value::StringValue(s)),
                });
            }
        }
    }

    /// Sets attribute `i` to `true`.
    fn put_bool(&mut self, i: usize, key: &str) {
        if self.values.len() <= i {
            self.values.push(kv(key, ""));
        }
        let a = &mut self.values[i];
        if a.key != key {
            key.clone_into(&mut a.key);
        }
        a.value = Some(AnyValue {
            value: Some(any_value::Value::BoolValue(true)),
        });
    }

    /// Copies them into a point whose copy is of version `copied`, unless it is the current
    /// one, reusing the point's strings (`clone_from` on a `KeyValue` is a fresh clone).
    fn copy_to(&self, into: &mut Vec<KeyValue>, copied: &mut u64) {
        if *copied == self.version {
            return;
        }
        *copied = self.version;
        let from = &self.values;
        into.truncate(from.len());
        let have = into.len();
        for (to, from) in into.iter_mut().zip(from) {
            to.key.clone_from(&from.key);
            match (&mut to.value, &from.value) {
                (
                    Some(AnyValue {
                        value: Some(any_value::Value::StringValue(to)),
                    }),
                    Some(AnyValue {
                        value: Some(any_value::Value::StringValue(from)),
                    }),
                ) => to.clone_from(from),
                (to, from) => to.clone_from(from),
            }
        }
        into.extend_from_slice(&from[have..]);
    }
}

/// The common parts of every request.
pub(crate) struct Envelope<'a> {
    pub(crate) frame: Frame,
    pub(crate) histograms: &'a HistogramFormat,
    pub(crate) resource: &'a [(String, String)],
}

impl Envelope<'_> {
    fn resource_metrics(&self, scope_metrics: Vec<ScopeMetrics>) -> ResourceMetrics {
        ResourceMetrics {
            resource: Some(Resource {
                attributes: self.resource.iter().map(|(k, v)| kv(k, v)).collect(),
                ..Default::default()
            }),
            scope_metrics,
            schema_url: String::new(),
        }
    }

    fn scope_metrics(metrics: Vec<Metric>) -> ScopeMetrics {
        ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: "taskscope".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            }),
            metrics,
            schema_url: String::new(),
        }
    }
}

/// The reference sink: the points collected into the generated request type.
#[derive(Default)]
pub(crate) struct Request {
    number: [Vec<NumberDataPoint>; SERIES],
    exponential: [Vec<ExponentialHistogramDataPoint>; SERIES],
    explicit: [Vec<HistogramDataPoint>; SERIES],
}

impl Sink for Request {
    fn number(&mut self, series: Series, point: &NumberDataPoint) {
        self.number[series as usize].push(point.clone());
    }
    fn exponential(&mut self, series: Series, point: &mut ExponentialHistogramDataPoint) {
        self.exponential[series as usize].push(point.clone());
    }
    fn explicit(&mut self, series: Series, point: &HistogramDataPoint) {
        self.explicit[series as usize].push(point.clone());
    }
}

impl Request {
    /// The request, with a metric for every series that has points.
    pub(crate) fn build(mut self, envelope: &Envelope<'_>) -> ExportMetricsServiceRequest {
        let mut metrics = Vec::new();
        for series in Series::ALL {
            let i = series as usize;
            let (mut metric, mut data) = series.envelope(envelope.frame, envelope.histograms);
            let empty = match &mut data {
                Data::Sum(d) => {
                    d.data_points = std::mem::take(&mut self.number[i]);
                    d.data_points.is_empty()
                }
                Data::Gauge(d) => {
                    d.data_points = std::mem::take(&mut self.number[i]);
                    d.data_points.is_empty()
                }
                Data::ExponentialHistogram(d) => {
                    d.data_points = std::mem::take(&mut self.exponential[i]);
                    d.data_points.is_empty()
                }
                Data::Histogram(d) => {
                    d.data_points = std::mem::take(&mut self.explicit[i]);
                    d.data_points.is_empty()
                }
                Data::Summary(_) => true,
            };
            if !empty {
                metric.data = Some(data);
                metrics.push(metric);
            }
        }
        ExportMetricsServiceRequest {
            resource_metrics: vec![
                envelope.resource_metrics(vec![Envelope::scope_metrics(metrics)]),
            ],
        }
    }
}

/// The sink that encodes: each point, prost-encoded as an entry of its metric's
/// `data_points`, appended to that metric's buffer. Keep one across exports: the buffers
/// keep their capacity.
#[derive(Default)]
pub(crate) struct Framed {
    points: [Vec<u8>; SERIES],
    /// An exponential point's `positive` buckets, encoded (see [`Framed::push_exponential`]).
    buckets: Vec<u8>,
    /// Holds the fields of an exponential point that follow `positive` while it is encoded.
    tail: ExponentialHistogramDataPoint,
}

impl Framed {
    fn push(&mut self, series: Series, point: &impl Message) {
        let buf = &mut self.points[series as usize];
        encode_key(field::DATA_POINTS, WireType::LengthDelimited, buf);
        encode_varint(point.encoded_len() as u64, buf);
        point.encode_raw(buf);
    }

    /// As [`Framed::push`], with the point's bucket counts measured once. prost would measure
    /// them three times before writing them (the point's length, the buckets' length inside
    /// it, the packed counts' length): nearly half of an export's encoding. Here the buckets
    /// are encoded first, into scratch, and the point is written as three runs in field
    /// order: the fields before `positive` (prost, with `positive` and the later fields moved
    /// out), `positive` framed with its encoded length, and the later fields (prost, on the
    /// `tail` point holding them).
    fn push_exponential(&mut self, series: Series, point: &mut ExponentialHistogramDataPoint) {
        let positive = point.positive.take();
        self.buckets.clear();
        if let Some(b) = &positive {
            b.encode_raw(&mut self.buckets);
        }
        swap_after_positive(point, &mut self.tail);
        let buckets_len = positive
            .as_ref()
            .map_or(0, |_| delimited_len(field::POSITIVE, self.buckets.len()));
        let len = point.encoded_len() + buckets_len + self.tail.encoded_len();
        let buf = &mut self.points[series as usize];
        encode_key(field::DATA_POINTS, WireType::LengthDelimited, buf);
        encode_varint(len as u64, buf);
        point.encode_raw(buf);
        if positive.is_some() {
            header(field::POSITIVE, self.buckets.len(), buf);
            buf.extend_from_slice(&self.buckets);
        }
        self.tail.encode_raw(buf);
        swap_after_positive(point, &mut self.tail);
        point.positive = positive;
    }

    /// Empties the buffers for the next export, keeping their capacity.
    pub(crate) fn clear(&mut self) {
        for b in &mut self.points {
            b.clear();
        }
    }

    /// The request's bytes: the same as prost's encoding of [`Request::build`] with the
    /// same points.
    pub(crate) fn encode(&self, envelope: &Envelope<'_>) -> Vec<u8> {
        let metrics: Vec<FramedMetric<'_>> = Series::ALL
            .into_iter()
            .filter(|s| !self.points[*s as usize].is_empty())
            .map(|series| FramedMetric::new(series, envelope, &self.points[series as usize]))
            .collect();
        let scope = Envelope::scope_metrics(Vec::new()).encode_to_vec();
        let scope_len = scope.len()
            + metrics
                .iter()
                .map(|m| delimited_len(field::METRICS, m.len()))
                .sum::<usize>();
        let resource = envelope.resource_metrics(Vec::new()).encode_to_vec();
        let resource_len = resource.len() + delimited_len(field::SCOPE_METRICS, scope_len);
        let total = delimited_len(field::RESOURCE_METRICS, resource_len);

        let mut out = Vec::with_capacity(total);
        header(field::RESOURCE_METRICS, resource_len, &mut out);
        out.extend_from_slice(&resource);
        header(field::SCOPE_METRICS, scope_len, &mut out);
        out.extend_from_slice(&scope);
        for m in &metrics {
            header(field::METRICS, m.len(), &mut out);
            out.extend_from_slice(&m.head);
            header(m.data_tag, m.points.len() + m.data_fields.len(), &mut out);
            out.extend_from_slice(m.points);
            out.extend_from_slice(&m.data_fields);
        }
        debug_assert_eq!(out.len(), total);
        out
    }
}

/// One metric of a framed request: its own fields, then its data field, which holds the
/// points and then the data's own fields (temporality, monotonic: field numbers after
/// `data_points`).
struct FramedMetric<'a> {
    /// `Metric` without data: name, description, unit.
    head: Vec<u8>,
    /// The field number of `Metric.data` for this kind of data.
    data_tag: u32,
    /// The data message without its points.
    data_fields: Vec<u8>,
    /// The points, each framed as a `data_points` entry.
    points: &'a [u8],
}

impl<'a> FramedMetric<'a> {
    fn new(series: Series, envelope: &Envelope<'_>, points: &'a [u8]) -> Self {
        let (metric, data) = series.envelope(envelope.frame, envelope.histograms);
        let (data_tag, data_fields) = match &data {
            Data::Gauge(d) => (field::GAUGE, d.encode_to_vec()),
            Data::Sum(d) => (field::SUM, d.encode_to_vec()),
            Data::Histogram(d) => (field::HISTOGRAM, d.encode_to_vec()),
            Data::ExponentialHistogram(d) => (field::EXPONENTIAL_HISTOGRAM, d.encode_to_vec()),
            Data::Summary(d) => (field::SUMMARY, d.encode_to_vec()),
        };
        Self {
            head: metric.encode_to_vec(),
            data_tag,
            data_fields,
            points,
        }
    }

    /// The length of the encoded `Metric`.
    fn len(&self) -> usize {
        self.head.len() + delimited_len(self.data_tag, self.points.len() + self.data_fields.len())
    }
}

impl Sink for Framed {
    fn number(&mut self, series: Series, point: &NumberDataPoint) {
        self.push(series, point);
    }
    fn exponential(&mut self, series: Series, point: &mut ExponentialHistogramDataPoint) {
        self.push_exponential(series, point);
    }
    fn explicit(&mut self, series: Series, point: &HistogramDataPoint) {
        self.push(series, point);
    }
}

/// Exchanges the fields of two exponential points that follow `positive` in field order.
fn swap_after_positive(
    a: &mut ExponentialHistogramDataPoint,
    b: &mut ExponentialHistogramDataPoint,
) {
    std::mem::swap(&mut a.negative, &mut b.negative);
    std::mem::swap(&mut a.flags, &mut b.flags);
    std::mem::swap(&mut a.exemplars, &mut b.exemplars);
    std::mem::swap(&mut a.min, &mut b.min);
    std::mem::swap(&mut a.max, &mut b.max);
    std::mem::swap(&mut a.zero_threshold, &mut b.zero_threshold);
}

/// Bytes of a length-delimited field holding `len` bytes.
fn delimited_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn header(tag: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
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

    use crate::record::samples::SampledCall;
    use crate::record::snapshot::{ErrorKindCount, OutcomeStats};

    fn stats(values_ns: &[u64], polls: u64) -> OutcomeStats {
        OutcomeStats {
            count: values_ns.len() as u64,
            polls,
            slow_polls: polls / 3,
            wall: histogram(values_ns),
            busy: histogram(&values_ns.iter().map(|v| v / 2).collect::<Vec<_>>()),
            ..OutcomeStats::default()
        }
    }

    /// Functions with every outcome, error kinds (one uncounted error), wide and narrow
    /// ranges, a zero duration, and names that need escaping in no way but bytes.
    fn workload() -> Snapshot {
        let f = |name, module| FunctionSnapshot {
            name,
            module,
            target: module,
            ..Default::default()
        };
        let mut a = f("checkout", "shop::orders");
        a.ok = stats(
            &[0, 90, 1_000, 1_000, 52_000, 3_000_000_000, 70_000_000_000],
            9,
        );
        a.error = stats(&[2_000, 4_000, 8_000], 3);
        a.error_kinds = vec![
            ErrorKindCount {
                kind: "Timeout",
                count: 1,
            },
            ErrorKindCount {
                kind: "Refused",
                count: 1,
            },
        ];
        a.cancelled = stats(&[600_000], 2);
        a.panicked = stats(&[1], 1);
        a.in_flight = 3;
        let mut b = f("naïve ☃ name", "x");
        b.ok = stats(&(1..300).map(|i| i * 7_919).collect::<Vec<_>>(), 299);
        let c = f("never_finished", "x");
        Snapshot {
            functions: vec![a, b, c],
            ..Default::default()
        }
    }

    static SAMPLED: crate::words::function::FunctionMeta = crate::words::function::FunctionMeta {
        name: "checkout",
        module: "shop::orders",
        file: "f.rs",
        line: 1,
        target: "shop::orders",
        source: crate::words::function::Source::Measure,
        span_name: "",
        pattern: crate::words::function::Pattern::Function,
    };

    fn both(snap: &Snapshot, frame: Frame, histograms: &HistogramFormat) -> (Vec<u8>, Vec<u8>) {
        let call = SampledCall {
            function: &SAMPLED,
            outcome: Outcome::Ok,
            kind: None,
            end: 0,
            wall_ns: 1_000,
            trace_id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
            span_id: 0x1112_1314_1516_1718,
            parent_span_id: None,
        };
        let samples = [Timed::of(&call, 1_700_000_000_000_000_000)];
        let resource = [
            ("service.name".to_owned(), "shop".to_owned()),
            ("host.name".to_owned(), "h1".to_owned()),
        ];
        let envelope = Envelope {
            frame,
            histograms,
            resource: &resource,
        };
        let exports = ExportStats {
            dropped_points: 70,
            ..Default::default()
        };
        let mut points = Points::default();
        let mut reference = Request::default();
        points.fill(&mut reference, snap, frame, histograms, exports, &samples);
        let reference = reference.build(&envelope).encode_to_vec();
        // Twice into the same scratch and buffers, as the exporter does from export to
        // export: nothing of the first export may remain in the second.
        let mut framed = Framed::default();
        points.fill(&mut framed, &workload(), frame, histograms, exports, &[]);
        framed.clear();
        points.fill(&mut framed, snap, frame, histograms, exports, &samples);
        (reference, framed.encode(&envelope))
    }

    #[test]
    fn framed_bytes_are_prosts_encoding_of_the_same_request() {
        let formats = [
            HistogramFormat::default(),
            HistogramFormat::Exponential { max_buckets: 20 },
            HistogramFormat::Explicit(crate::export::DEFAULT_EXPLICIT_BUCKETS.to_vec()),
        ];
        for temporality in [Temporality::Cumulative, Temporality::Delta] {
            let frame = Frame {
                start_unix_ns: 1_700_000_000_000_000_000,
                now_unix_ns: 1_700_000_060_000_000_000,
                temporality,
            };
            for format in &formats {
                for snap in [workload(), Snapshot::default()] {
                    let (reference, framed) = both(&snap, frame, format);
                    assert!(reference.len() > 100);
                    assert_eq!(framed, reference, "{temporality:?} {format:?}");
                    let decoded = ExportMetricsServiceRequest::decode(&framed[..]).unwrap();
                    assert_eq!(decoded.encode_to_vec(), reference);
                }
            }
        }
    }

    #[test]
    fn a_request_holds_every_series_with_its_exemplar() {
        let frame = Frame {
            start_unix_ns: 1,
            now_unix_ns: 2,
            temporality: Temporality::Cumulative,
        };
        let (_, framed) = both(&workload(), frame, &HistogramFormat::default());
        let request = ExportMetricsServiceRequest::decode(&framed[..]).unwrap();
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "function.calls",
                "function.calls.duration",
                "function.calls.busy",
                "function.calls.polls",
                "function.calls.slow_polls",
                "function.calls.concurrent",
                "taskscope.export.dropped",
            ]
        );
        let Some(Data::Sum(calls)) = &metrics[0].data else {
            panic!("calls is not a sum")
        };
        // checkout: ok, Timeout, Refused, the uncounted error, cancelled, panicked; the
        // other function: ok.
        assert_eq!(calls.data_points.len(), 7);
        let Some(Data::ExponentialHistogram(wall)) = &metrics[1].data else {
            panic!("duration is not exponential")
        };
        let ok = &wall.data_points[0];
        assert_eq!(ok.count, 7);
        assert_eq!(ok.min, Some(0.0));
        assert_eq!(ok.max, Some(70.0));
        assert_eq!(ok.exemplars.len(), 1);
        assert_eq!(
            ok.exemplars[0].span_id,
            0x1112_1314_1516_1718u64.to_be_bytes()
        );
        assert!(
            wall.data_points[1..5]
                .iter()
                .all(|p| p.exemplars.is_empty())
        );
    }

    /// The attributes of a point, as `key=value` strings.
    fn attributes(attrs: &[KeyValue]) -> Vec<String> {
        attrs
            .iter()
            .map(|kv| {
                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    Some(any_value::Value::BoolValue(b)) => b.to_string(),
                    other => format!("{other:?}"),
                };
                format!("{}={v}", kv.key)
            })
            .collect()
    }

    #[test]
    fn points_carry_the_semantic_conventions_names_and_mark_overflow() {
        let frame = Frame {
            start_unix_ns: 1,
            now_unix_ns: 2,
            temporality: Temporality::Cumulative,
        };
        let mut snap = workload();
        snap.functions[0].error_kinds[1].kind = crate::words::names::OVERFLOW_KIND;
        let (_, framed) = both(&snap, frame, &HistogramFormat::default());
        let request = ExportMetricsServiceRequest::decode(&framed[..]).unwrap();
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let Some(Data::Sum(calls)) = &metrics[0].data else {
            panic!()
        };
        let all: Vec<Vec<String>> = calls
            .data_points
            .iter()
            .map(|p| attributes(&p.attributes))
            .collect();
        assert_eq!(
            all[0],
            [
                "code.function.name=shop::orders::checkout",
                "taskscope.outcome=ok"
            ]
        );
        assert_eq!(
            all[1],
            [
                "code.function.name=shop::orders::checkout",
                "taskscope.outcome=error",
                "error.type=Timeout"
            ]
        );
        assert_eq!(
            all[2],
            [
                "code.function.name=shop::orders::checkout",
                "taskscope.outcome=error",
                "otel.metric.overflow=true"
            ],
            "kinds over the cap are marked, not named"
        );
        // In flight: an up-down counter, cumulative.
        let Some(Data::Sum(concurrent)) = &metrics[5].data else {
            panic!("in flight is not a sum")
        };
        assert!(!concurrent.is_monotonic);
        assert_eq!(
            concurrent.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        assert_eq!(
            attributes(&concurrent.data_points[0].attributes),
            ["code.function.name=shop::orders::checkout"]
        );
        // A function over the layer's cap.
        let mut over = FunctionSnapshot {
            name: crate::words::names::OVERFLOW_KIND,
            module: crate::words::names::OVERFLOW_KIND,
            ..Default::default()
        };
        over.ok = stats(&[1_000], 1);
        let snap = Snapshot {
            functions: vec![over],
            ..Default::default()
        };
        let (_, framed) = both(&snap, frame, &HistogramFormat::default());
        let request = ExportMetricsServiceRequest::decode(&framed[..]).unwrap();
        let Some(Data::Sum(calls)) = &request.resource_metrics[0].scope_metrics[0].metrics[0].data
        else {
            panic!()
        };
        assert_eq!(
            attributes(&calls.data_points[0].attributes),
            [
                "code.function.name=_overflow",
                "taskscope.outcome=ok",
                "otel.metric.overflow=true"
            ]
        );
    }

    #[test]
    fn explicit_buckets_count_by_upper_bound() {
        let h = histogram(&[50_000, 150_000, 1_000_000_000, 90_000_000_000]);
        let mut counts = Vec::new();
        crate::export::explicit_counts(&h, &[0.0001, 0.001, 1.5], &mut counts);
        assert_eq!(counts, [1, 1, 1, 1]);
    }

    #[test]
    fn a_runtime_reading_is_sent_under_its_names_with_its_runtime_and_workers() {
        use crate::record::runtime::{PollTimeBucket, RuntimeSnapshot, UnstableRuntimeSnapshot};
        let ms = std::time::Duration::from_millis;
        let mut snap = workload();
        snap.taken_at = ms(5000);
        snap.runtimes.push(RuntimeSnapshot {
            name: "api".into(),
            read_at: ms(4200),
            workers: 2,
            alive_tasks: 40,
            global_queue_depth: 7,
            worker_busy: vec![ms(1500), ms(250)],
            worker_parks: vec![3, 9],
            unstable: Some(UnstableRuntimeSnapshot {
                blocking_threads: 4,
                polls: 1000,
                poll_time: vec![
                    PollTimeBucket {
                        from: ms(0),
                        to: ms(1),
                        count: 990,
                    },
                    PollTimeBucket {
                        from: ms(1),
                        to: std::time::Duration::MAX,
                        count: 10,
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        });
        let frame = Frame {
            start_unix_ns: 1,
            now_unix_ns: 10_000_000_000,
            temporality: Temporality::Delta,
        };
        let (reference, framed) = both(&snap, frame, &HistogramFormat::default());
        assert_eq!(reference, framed);
        let request = ExportMetricsServiceRequest::decode(&framed[..]).unwrap();
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let metric = |name: &str| {
            metrics
                .iter()
                .find(|m| m.name == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        let Some(Data::Sum(workers)) = &metric("tokio.worker.count").data else {
            panic!()
        };
        assert!(!workers.is_monotonic, "an up-down counter");
        assert_eq!(
            attributes(&workers.data_points[0].attributes),
            ["tokio.runtime.name=api"]
        );
        let Some(Data::Sum(busy)) = &metric("tokio.worker.busy.time").data else {
            panic!()
        };
        assert!(busy.is_monotonic);
        assert_eq!(
            busy.aggregation_temporality,
            AggregationTemporality::Cumulative as i32,
            "cumulative whatever the function metrics' temporality"
        );
        assert_eq!(
            attributes(&busy.data_points[1].attributes),
            ["tokio.runtime.name=api", "tokio.worker.index=1"]
        );
        assert_eq!(
            busy.data_points[0].value,
            Some(number_data_point::Value::AsDouble(1.5))
        );
        assert_eq!(
            busy.data_points[0].time_unix_nano, 9_200_000_000,
            "the time of the reading, 0.8 s before the snapshot"
        );
        let Some(Data::Histogram(polls)) = &metric("tokio.task.poll.duration").data else {
            panic!()
        };
        let p = &polls.data_points[0];
        assert_eq!(
            (p.explicit_bounds.clone(), p.bucket_counts.clone()),
            (vec![0.001], vec![990, 10])
        );
        for name in [
            "tokio.task.count",
            "tokio.global_queue.length",
            "tokio.worker.parks",
            "tokio.blocking_pool.thread.count",
            "tokio.task.polls",
        ] {
            metric(name);
        }
    }

    #[test]
    fn call_graph_edges_are_sent_with_their_caller() {
        use crate::record::snapshot::CallerStats;
        let ms = std::time::Duration::from_millis;
        let mut snap = workload();
        let f = &mut snap.functions[0];
        f.callers = vec![
            CallerStats {
                module: "shop::web",
                name: "handle",
                calls: 3,
                wall: ms(300),
                busy: ms(30),
                self_busy: ms(20),
            },
            CallerStats {
                module: "",
                name: crate::words::names::ROOT_CALLER,
                calls: 1,
                ..CallerStats::default()
            },
            CallerStats {
                module: "",
                name: crate::words::names::OVERFLOW_KIND,
                calls: 2,
                ..CallerStats::default()
            },
        ];
        let frame = Frame {
            start_unix_ns: 1,
            now_unix_ns: 2,
            temporality: Temporality::Cumulative,
        };
        let (reference, framed) = both(&snap, frame, &HistogramFormat::default());
        assert_eq!(reference, framed);
        let request = ExportMetricsServiceRequest::decode(&framed[..]).unwrap();
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        let points = |name: &str| match &metrics.iter().find(|m| m.name == name).unwrap().data {
            Some(Data::Sum(s)) => {
                assert!(s.is_monotonic, "{name}");
                s.data_points.clone()
            }
            _ => panic!("{name} is not a sum"),
        };
        let calls = points("function.callers.calls");
        let seen: Vec<(Vec<String>, Option<number_data_point::Value>)> = calls
            .iter()
            .map(|p| (attributes(&p.attributes), p.value))
            .collect();
        use number_data_point::Value::AsInt;
        assert_eq!(
            seen,
            [
                (
                    vec![
                        "code.function.name=shop::orders::checkout".to_owned(),
                        "taskscope.caller=shop::web::handle".to_owned()
                    ],
                    Some(AsInt(3))
                ),
                (
                    vec![
                        "code.function.name=shop::orders::checkout".to_owned(),
                        "taskscope.caller=(root)".to_owned()
                    ],
                    Some(AsInt(1))
                ),
                (
                    vec![
                        "code.function.name=shop::orders::checkout".to_owned(),
                        "taskscope.caller=_overflow".to_owned(),
                        "otel.metric.overflow=true".to_owned()
                    ],
                    Some(AsInt(2))
                ),
            ]
        );
        for (name, seconds) in [
            ("function.callers.wall", 0.3),
            ("function.callers.busy", 0.03),
            ("function.callers.self_busy", 0.02),
        ] {
            assert_eq!(
                points(name)[0].value,
                Some(number_data_point::Value::AsDouble(seconds)),
                "{name}"
            );
        }
    }
}
