//! The receiver's state: OTLP requests in, cumulative [`Series`] out.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, DataPointFlags, ExponentialHistogramDataPoint, HistogramDataPoint,
    Metric, NumberDataPoint, metric::Data, number_data_point,
};

use super::convert::{self, Fingerprint, Hashing, MAX_KIND_LEN};
use crate::frame::{
    CallerEdge, Dist, Frame, KindCount, RuntimeSeries, Series, SeriesKind, SourceStatus,
};
use crate::words::function::Pattern;
use crate::words::names::{self, OVERFLOW_KIND, UNKNOWN_ERROR_KIND};
use crate::words::outcome::Outcome;

/// The service of a resource without `service.name`, as OpenTelemetry names it.
pub const UNKNOWN_SERVICE: &str = "unknown_service";
/// Error kinds kept per series; further kinds count under [`OVERFLOW_KIND`].
pub const MAX_ERROR_KINDS: usize = 64;
/// Streams (one per metric and attribute set of a sender) remembered per allowed series:
/// a function's outcomes take about 8, the call graph's edges into it 4 per caller.
pub const STREAMS_PER_SERIES: usize = 16;
/// Callers kept per series (the call graph's edges into a function); further callers
/// count under [`OVERFLOW_KIND`].
pub const MAX_CALLERS: usize = 32;
/// Bytes kept of a caller's name.
const MAX_CALLER_LEN: usize = 256;
/// A stream not heard from for this long may be forgotten when the stream table is full.
pub const STREAM_IDLE: Duration = Duration::from_secs(300);
/// Data older than this makes the connection read `last data 42s ago` instead of `live`.
pub const LIVE_WITHIN: Duration = Duration::from_secs(15);

/// The attributes that make a generic histogram point an error rather than part of its
/// series' name.
const OUTCOME_ATTRIBUTES: [&str; 2] = ["error.type", "http.response.status_code"];

/// What one [`Store::ingest`] did with the points of a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestOutcome {
    /// Points stored (including cumulative points that brought nothing new).
    pub accepted: u64,
    /// Points of metrics the dashboard does not show (gauges, non-monotonic sums,
    /// summaries), and points marked as having no recorded value.
    pub ignored: u64,
    /// Points refused because the series or stream cap was reached.
    pub overflow: u64,
    /// Points that could not be read (inconsistent buckets, a taskscope metric without its
    /// `function` attribute, an unknown `outcome`).
    pub invalid: u64,
}

impl IngestOutcome {
    /// Points refused (`overflow + invalid`), as OTLP's partial success reports them.
    pub fn refused(&self) -> u64 {
        self.overflow + self.invalid
    }
}

/// The receiver's state, without sockets: OTLP metrics requests go in
/// ([`ingest`](Self::ingest)), cumulative [`Frame`]s come out ([`frame`](Self::frame)).
///
/// Series are grouped by the resource's `service.name`:
///
/// - taskscope's metrics (`function.calls`, `function.calls.duration`, `.busy`, `.polls`,
///   `.slow_polls`, `.concurrent`, from `docs/METRICS.md`) make one
///   [`SeriesKind::Function`] series per `function` and `module` attribute;
///   `taskscope.export.dropped` adds to [`SourceStatus::export_dropped`].
/// - any other histogram makes one [`SeriesKind::Histogram`] series per metric name and
///   attributes (`error.type` and `http.response.status_code` aside: they make its calls
///   errors, of that kind), its values converted to seconds from the metric's unit;
/// - any other monotonic sum makes a [`SeriesKind::Counter`] series; other gauges and sums
///   are ignored.
///
/// Cumulative points become deltas against the previous point of the same stream (sender,
/// metric and attributes); a point whose value went down or whose start time changed (a
/// restart) counts whole, so totals never go back. Delta points add as they are; a point
/// with the same times as the stream's previous one adds nothing.
///
/// Memory is bounded: at most `max_series` series, [`STREAMS_PER_SERIES`] streams per
/// allowed series, [`MAX_ERROR_KINDS`] error kinds per series, and 320 buckets per
/// exponential distribution; what does not fit is counted, never stored.
#[derive(Debug)]
pub struct Store {
    max_series: usize,
    max_streams: usize,
    label: String,
    series: Vec<Arc<Series>>,
    index: HashMap<SeriesKey, u32>,
    services: HashSet<Arc<str>>,
    streams: HashMap<u64, Stream, BuildHasherDefault<Prehashed>>,
    hashing: Hashing,
    totals: Totals,
    last_data: Option<Duration>,
    swept_at: Option<Duration>,
    /// The tokio runtimes taskscope senders' monitors watch.
    runtimes: Vec<Arc<RuntimeSeries>>,
}

type SeriesKey = (SeriesKind, Arc<str>, Arc<str>, Arc<str>);

#[derive(Debug, Default)]
struct Totals {
    export_dropped: u64,
    overflow: u64,
    kind_overflow: u64,
    ignored: u64,
    invalid: u64,
}

/// The stream table is keyed by a hash already: use it as it is.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One stream of points: where they go and the previous cumulative point.
#[derive(Debug)]
struct Stream {
    check: u64,
    target: Target,
    /// When the stream last had a point, for forgetting idle streams.
    seen: Duration,
    start: u64,
    time: u64,
    last: Last,
}

#[derive(Clone, Copy, Debug)]
enum Target {
    Calls {
        series: u32,
        outcome: Outcome,
        kind: Option<u16>,
    },
    Duration {
        series: u32,
        factor: f64,
    },
    Busy {
        series: u32,
        factor: f64,
    },
    Scheduling {
        series: u32,
        factor: f64,
    },
    Attempts {
        series: u32,
        factor: f64,
    },
    Polls {
        series: u32,
    },
    SlowPolls {
        series: u32,
    },
    InFlight {
        series: u32,
    },
    ExportDropped,
    Histogram {
        series: u32,
        error: bool,
        kind: Option<u16>,
        factor: f64,
    },
    Counter {
        series: u32,
    },
    Caller {
        series: u32,
        caller: u16,
        field: CallerField,
    },
}

/// Which number of a call graph edge a point carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallerField {
    Calls,
    Wall,
    Busy,
    SelfBusy,
}

#[derive(Debug)]
enum Last {
    Nothing,
    /// A number, and the fraction not yet counted (counters with floating-point values).
    Number {
        value: f64,
        carry: f64,
    },
    Histogram {
        count: u64,
        sum: f64,
        dist: Dist,
    },
}

/// What a metric is to the dashboard, from its name and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Calls,
    Duration,
    Busy,
    Scheduling,
    Attempts,
    Polls,
    SlowPolls,
    InFlight,
    ExportDropped,
    CallerCalls,
    CallerWall,
    CallerBusy,
    CallerSelfBusy,
    Histogram,
    Counter,
    Ignore,
}

/// The outcome and error kind of a `function.calls` point (autometrics says `result`):
/// `error.type` (older taskscope senders: `error.kind`), and errors over the sender's cap on
/// kinds marked `otel.metric.overflow`.
fn call_outcome(attrs: &[KeyValue]) -> Result<(Outcome, Option<&str>), Refused> {
    let outcome = convert::str_attr(attrs, names::attr::OUTCOME)
        .or_else(|| convert::str_attr(attrs, names::legacy::OUTCOME))
        .or_else(|| convert::str_attr(attrs, "result"));
    let outcome = outcome.and_then(Outcome::parse).ok_or(Refused::Invalid)?;
    let overflowed = convert::attr(attrs, names::attr::OVERFLOW)
        .is_some_and(|v| matches!(v.value, Some(any_value::Value::BoolValue(true))));
    let kind = convert::str_attr(attrs, names::attr::ERROR_TYPE)
        .or_else(|| convert::str_attr(attrs, names::legacy::ERROR_KIND))
        .or(overflowed.then_some(OVERFLOW_KIND))
        .filter(|_| outcome == Outcome::Error);
    Ok((outcome, kind))
}

fn role(metric: &Metric) -> Role {
    let Some(data) = &metric.data else {
        return Role::Ignore;
    };
    let histogram = matches!(data, Data::Histogram(_) | Data::ExponentialHistogram(_));
    let sum = match data {
        Data::Sum(s) => Some(s.is_monotonic),
        _ => None,
    };
    const CALLS: &str = names::metric::CALLS.name;
    const POLLS: &str = names::metric::POLLS.name;
    const SLOW_POLLS: &str = names::metric::SLOW_POLLS.name;
    const RETRY_ATTEMPTS: &str = names::metric::RETRY_ATTEMPTS.name;
    const EXPORT_DROPPED: &str = names::metric::EXPORT_DROPPED.name;
    const CONCURRENT: &str = names::metric::CONCURRENT.name;
    const DURATION: &str = names::metric::DURATION.name;
    const BUSY: &str = names::metric::BUSY.name;
    const SCHEDULING: &str = names::metric::SCHEDULING.name;
    const CALLER_CALLS: &str = names::metric::CALLER_CALLS.name;
    const CALLER_WALL: &str = names::metric::CALLER_WALL.name;
    const CALLER_BUSY: &str = names::metric::CALLER_BUSY.name;
    const CALLER_SELF_BUSY: &str = names::metric::CALLER_SELF_BUSY.name;
    match (metric.name.as_str(), sum) {
        (CALLS, Some(_)) => return Role::Calls,
        (CALLER_CALLS, Some(true)) => return Role::CallerCalls,
        (CALLER_WALL, Some(true)) => return Role::CallerWall,
        (CALLER_BUSY, Some(true)) => return Role::CallerBusy,
        (CALLER_SELF_BUSY, Some(true)) => return Role::CallerSelfBusy,
        (POLLS, Some(_)) => return Role::Polls,
        (SLOW_POLLS, Some(_)) => return Role::SlowPolls,
        (EXPORT_DROPPED, Some(_)) => return Role::ExportDropped,
        // An up-down counter; older taskscope senders sent a gauge.
        (CONCURRENT, Some(_)) => return Role::InFlight,
        (CONCURRENT, None) if matches!(data, Data::Gauge(_)) => {
            return Role::InFlight;
        }
        _ => {}
    }
    match (metric.name.as_str(), histogram, sum) {
        (DURATION, true, _) => Role::Duration,
        (BUSY, true, _) => Role::Busy,
        (SCHEDULING, true, _) => Role::Scheduling,
        (RETRY_ATTEMPTS, true, _) => Role::Attempts,
        (_, true, _) => Role::Histogram,
        (_, _, Some(true)) => Role::Counter,
        _ => Role::Ignore,
    }
}

/// One data point, whatever its type.
enum Point<'a> {
    Number(&'a NumberDataPoint),
    Exponential(&'a ExponentialHistogramDataPoint),
    Explicit(&'a HistogramDataPoint),
}

impl Point<'_> {
    fn attributes(&self) -> &[KeyValue] {
        match self {
            Point::Number(p) => &p.attributes,
            Point::Exponential(p) => &p.attributes,
            Point::Explicit(p) => &p.attributes,
        }
    }

    fn times(&self) -> (u64, u64) {
        match self {
            Point::Number(p) => (p.start_time_unix_nano, p.time_unix_nano),
            Point::Exponential(p) => (p.start_time_unix_nano, p.time_unix_nano),
            Point::Explicit(p) => (p.start_time_unix_nano, p.time_unix_nano),
        }
    }

    fn no_value(&self) -> bool {
        let flags = match self {
            Point::Number(p) => p.flags,
            Point::Exponential(p) => p.flags,
            Point::Explicit(p) => p.flags,
        };
        flags & DataPointFlags::NoRecordedValueMask as u32 != 0
    }

    fn count(&self) -> u64 {
        match self {
            Point::Number(_) => 0,
            Point::Exponential(p) => p.count,
            Point::Explicit(p) => p.count,
        }
    }

    fn sum(&self) -> f64 {
        let s = match self {
            Point::Number(_) => None,
            Point::Exponential(p) => p.sum,
            Point::Explicit(p) => p.sum,
        };
        s.filter(|s| s.is_finite()).unwrap_or(0.0)
    }

    fn number(&self) -> f64 {
        match self {
            Point::Number(p) => match p.value {
                Some(number_data_point::Value::AsInt(i)) => i as f64,
                Some(number_data_point::Value::AsDouble(d)) if d.is_finite() => d,
                _ => 0.0,
            },
            _ => 0.0,
        }
    }

    /// The distribution in seconds; `None` when the buckets cannot be read.
    fn dist(&self, factor: f64) -> Option<Dist> {
        match self {
            Point::Number(_) => Some(Dist::Empty),
            Point::Exponential(p) => convert::exponential(p, factor),
            Point::Explicit(p) => convert::explicit(p, factor),
        }
    }
}

/// The context shared by the points of one metric.
struct MetricContext<'a> {
    service: &'a str,
    scope: &'a str,
    metric: &'a Metric,
    role: Role,
    cumulative: bool,
    /// Seconds per unit of the metric's values, when its unit is one of time.
    factor: Option<f64>,
    base: Fingerprint,
}

/// What a new point brought.
enum Change {
    /// Nothing new (an unchanged cumulative point, a duplicate, one out of order).
    None,
    /// A count or sum added (calls, polls, dropped points, a counter).
    Number(f64),
    /// A gauge's new value.
    Gauge(f64),
    /// A histogram's new count, sum and distribution.
    Histogram { count: u64, sum: f64, dist: Dist },
}

impl Store {
    /// An empty store that keeps at most `max_series` series.
    pub fn new(max_series: usize) -> Store {
        Store {
            max_series,
            max_streams: max_series.saturating_mul(STREAMS_PER_SERIES),
            label: "OTLP".into(),
            series: Vec::new(),
            index: HashMap::new(),
            services: HashSet::new(),
            streams: HashMap::default(),
            hashing: Hashing::default(),
            totals: Totals::default(),
            last_data: None,
            swept_at: None,
            runtimes: Vec::new(),
        }
    }

    /// Sets [`SourceStatus::label`] of the frames (default `OTLP`).
    pub fn set_label(&mut self, label: impl Into<String>) {
        self.label = label.into();
    }

    /// Points ignored since the start: gauges and non-monotonic sums the dashboard does not
    /// show, summaries, points without a recorded value.
    pub fn ignored_points(&self) -> u64 {
        self.totals.ignored
    }

    /// Points that could not be read since the start.
    pub fn invalid_points(&self) -> u64 {
        self.totals.invalid
    }

    /// The cumulative state at `now` (on the same clock as [`ingest`](Self::ingest)'s).
    /// Series are shared with earlier frames until their data changes. `dropped` and
    /// `rejected` concern requests, which only the server sees: they are zero here.
    pub fn frame(&self, now: Duration) -> Frame {
        let connection = match self.last_data {
            None => "waiting for data".to_owned(),
            Some(at) if now.saturating_sub(at) < LIVE_WITHIN => "live".to_owned(),
            Some(at) => format!("last data {}s ago", now.saturating_sub(at).as_secs()),
        };
        Frame {
            at: now,
            series: self.series.clone(),
            status: SourceStatus {
                label: self.label.clone(),
                connection,
                services: self.services.len(),
                dropped: 0,
                overflow: self.totals.overflow,
                rejected: 0,
                export_dropped: self.totals.export_dropped,
                kind_overflow: self.totals.kind_overflow,
                last_rejection: None,
            },
            tasks: None,
            runtimes: self.runtimes.clone(),
        }
    }

    /// Adds the points of one request, received at `now` (time since the receiver
    /// started).
    pub fn ingest(&mut self, req: &ExportMetricsServiceRequest, now: Duration) -> IngestOutcome {
        self.last_data = Some(now);
        let mut out = IngestOutcome::default();
        for rm in &req.resource_metrics {
            let attrs = rm.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            let service = match convert::str_attr(attrs, "service.name") {
                Some(s) if !s.is_empty() => s,
                _ => UNKNOWN_SERVICE,
            };
            let resource = convert::resource_fingerprint(&mut self.hashing, attrs);
            for sm in &rm.scope_metrics {
                let scope = sm.scope.as_ref().map_or("", |s| s.name.as_str());
                for metric in &sm.metrics {
                    self.metric(service, resource, scope, metric, now, &mut out);
                }
            }
        }
        self.totals.overflow += out.overflow;
        self.totals.ignored += out.ignored;
        self.totals.invalid += out.invalid;
        out
    }

    fn metric(
        &mut self,
        service: &str,
        resource: Fingerprint,
        scope: &str,
        metric: &Metric,
        now: Duration,
        out: &mut IngestOutcome,
    ) {
        if scope == names::SCOPE_NAME && super::runtimes::is_runtime_metric(metric) {
            let counted = super::runtimes::ingest(&mut self.runtimes, service, metric);
            out.accepted += counted.accepted;
            out.overflow += counted.overflow;
            out.invalid += counted.invalid;
            return;
        }
        let role = role(metric);
        let Some(data) = &metric.data else {
            return;
        };
        let (temporality, tag) = match data {
            Data::Gauge(_) => (AggregationTemporality::Unspecified as i32, 1),
            Data::Sum(s) => (s.aggregation_temporality, 2),
            Data::Histogram(h) => (h.aggregation_temporality, 3),
            Data::ExponentialHistogram(h) => (h.aggregation_temporality, 4),
            Data::Summary(s) => {
                out.ignored += s.data_points.len() as u64;
                return;
            }
        };
        if role == Role::Ignore {
            out.ignored += match data {
                Data::Gauge(g) => g.data_points.len(),
                Data::Sum(s) => s.data_points.len(),
                _ => 0,
            } as u64;
            return;
        }
        let base = self.hashing.context(
            resource,
            &[scope, &metric.name, &metric.unit],
            tag * 16 + role as u64,
        );
        let ctx = MetricContext {
            service,
            scope,
            metric,
            role,
            cumulative: temporality != AggregationTemporality::Delta as i32,
            factor: convert::seconds_per_unit(&metric.unit),
            base,
        };
        match data {
            Data::Gauge(g) => {
                for p in &g.data_points {
                    self.point(&ctx, Point::Number(p), now, out);
                }
            }
            Data::Sum(s) => {
                for p in &s.data_points {
                    self.point(&ctx, Point::Number(p), now, out);
                }
            }
            Data::Histogram(h) => {
                for p in &h.data_points {
                    self.point(&ctx, Point::Explicit(p), now, out);
                }
            }
            Data::ExponentialHistogram(h) => {
                for p in &h.data_points {
                    self.point(&ctx, Point::Exponential(p), now, out);
                }
            }
            Data::Summary(_) => {}
        }
    }

    fn point(
        &mut self,
        ctx: &MetricContext<'_>,
        p: Point<'_>,
        now: Duration,
        out: &mut IngestOutcome,
    ) {
        if p.no_value() {
            out.ignored += 1;
            return;
        }
        let fp = self.hashing.fingerprint(ctx.base, p.attributes());
        if let Some(stream) = self.streams.get_mut(&fp.lookup) {
            if stream.check != fp.check {
                // Two streams with one 64-bit lookup hash: the first keeps it.
                out.overflow += 1;
                return;
            }
            stream.seen = now;
            match advance(stream, ctx, &p) {
                Ok(change) => {
                    out.accepted += 1;
                    let target = stream.target;
                    self.apply(target, change, now);
                }
                Err(()) => out.invalid += 1,
            }
            return;
        }
        match self.new_stream(ctx, &p, fp.check, now) {
            Ok(mut stream) => match advance(&mut stream, ctx, &p) {
                Ok(change) => {
                    out.accepted += 1;
                    let target = stream.target;
                    self.streams.insert(fp.lookup, stream);
                    self.apply(target, change, now);
                }
                Err(()) => out.invalid += 1,
            },
            Err(Refused::Overflow) => out.overflow += 1,
            Err(Refused::Invalid) => out.invalid += 1,
        }
    }

    /// Adds what a point brought to its series.
    fn apply(&mut self, target: Target, change: Change, now: Duration) {
        let whole = |v: f64| if v > 0.0 { v.round() as u64 } else { 0 };
        match (target, change) {
            (_, Change::None) => {}
            (Target::ExportDropped, Change::Number(d)) => {
                self.totals.export_dropped = self.totals.export_dropped.saturating_add(whole(d));
            }
            (
                Target::Calls {
                    series,
                    outcome,
                    kind,
                },
                Change::Number(d),
            ) => {
                let n = whole(d);
                if n > 0 {
                    let s = self.series_mut(series);
                    s.calls[outcome] = s.calls[outcome].saturating_add(n);
                    add_kind(s, kind, n, now);
                }
            }
            (Target::Polls { series }, Change::Number(d)) => {
                let n = whole(d);
                if n > 0 {
                    let s = self.series_mut(series);
                    s.polls = s.polls.saturating_add(n);
                }
            }
            (Target::SlowPolls { series }, Change::Number(d)) => {
                let n = whole(d);
                if n > 0 {
                    let s = self.series_mut(series);
                    s.slow_polls = s.slow_polls.saturating_add(n);
                }
            }
            (Target::Counter { series }, Change::Number(d)) => {
                let n = whole(d);
                if n > 0 {
                    let s = self.series_mut(series);
                    s.calls[Outcome::Ok] = s.calls[Outcome::Ok].saturating_add(n);
                }
            }
            (
                Target::Caller {
                    series,
                    caller,
                    field,
                },
                Change::Number(d),
            ) if d > 0.0 => {
                let s = self.series_mut(series);
                if let Some(e) = s.callers.get_mut(usize::from(caller)) {
                    match field {
                        CallerField::Calls => e.calls = e.calls.saturating_add(whole(d)),
                        CallerField::Wall => e.wall += d,
                        CallerField::Busy => e.busy += d,
                        CallerField::SelfBusy => e.self_busy += d,
                    }
                }
            }
            (Target::InFlight { series }, Change::Gauge(v)) => {
                let v = v as i64;
                if self.series[series as usize].in_flight != v {
                    self.series_mut(series).in_flight = v;
                }
            }
            (Target::Duration { series, .. }, Change::Histogram { count, dist, .. })
                if count > 0 || dist.count() > 0 =>
            {
                convert::merge(&mut self.series_mut(series).latency, &dist);
            }
            (Target::Scheduling { series, .. }, Change::Histogram { count, dist, .. })
                if count > 0 || dist.count() > 0 =>
            {
                convert::merge(&mut self.series_mut(series).scheduling, &dist);
            }
            (Target::Attempts { series, .. }, Change::Histogram { count, dist, .. })
                if count > 0 || dist.count() > 0 =>
            {
                convert::merge(&mut self.series_mut(series).attempts, &dist);
            }
            (Target::Busy { series, .. }, Change::Histogram { sum, count, .. }) => {
                let s = &self.series[series as usize];
                if sum > 0.0 || !s.has_busy && count > 0 {
                    let s = self.series_mut(series);
                    s.busy_seconds += sum;
                    s.has_busy = true;
                }
            }
            (
                Target::Histogram {
                    series,
                    error,
                    kind,
                    ..
                },
                Change::Histogram { count, dist, .. },
            ) if count > 0 || dist.count() > 0 => {
                let s = self.series_mut(series);
                let outcome = if error { Outcome::Error } else { Outcome::Ok };
                s.calls[outcome] = s.calls[outcome].saturating_add(count);
                add_kind(s, kind, count, now);
                convert::merge(&mut s.latency, &dist);
            }
            _ => {}
        }
    }

    fn series_mut(&mut self, index: u32) -> &mut Series {
        Arc::make_mut(&mut self.series[index as usize])
    }

    fn new_stream(
        &mut self,
        ctx: &MetricContext<'_>,
        p: &Point<'_>,
        check: u64,
        now: Duration,
    ) -> Result<Stream, Refused> {
        if self.streams.len() >= self.max_streams {
            self.sweep(now);
            if self.streams.len() >= self.max_streams {
                return Err(Refused::Overflow);
            }
        }
        if !matches!(p, Point::Number(_)) && p.dist(1.0).is_none() {
            return Err(Refused::Invalid);
        }
        let attrs = p.attributes();
        let target = match ctx.role {
            Role::Calls
            | Role::Duration
            | Role::Busy
            | Role::Scheduling
            | Role::Attempts
            | Role::Polls
            | Role::SlowPolls
            | Role::CallerCalls
            | Role::CallerWall
            | Role::CallerBusy
            | Role::CallerSelfBusy
            | Role::InFlight => self.function_target(ctx, attrs)?,
            Role::ExportDropped => Target::ExportDropped,
            Role::Histogram => self.histogram_target(ctx, attrs)?,
            Role::Counter => {
                let name = convert::series_name(&ctx.metric.name, attrs, &[]);
                let series = self.series_index(
                    SeriesKind::Counter,
                    ctx.service,
                    &name,
                    ctx.scope,
                    &ctx.metric.unit,
                )?;
                Target::Counter { series }
            }
            Role::Ignore => return Err(Refused::Invalid),
        };
        Ok(Stream {
            check,
            target,
            seen: now,
            start: 0,
            time: 0,
            last: Last::Nothing,
        })
    }

    /// Where a point of one of taskscope's own metrics goes: its function's series, and for
    /// `function.calls` its outcome and error kind.
    fn function_target(
        &mut self,
        ctx: &MetricContext<'_>,
        attrs: &[KeyValue],
    ) -> Result<Target, Refused> {
        // `code.function.name`, fully qualified; older taskscope senders (and autometrics)
        // say `function` and `module`.
        let (module, function) = match convert::str_attr(attrs, names::attr::FUNCTION) {
            Some(full) => names::split_qualified(full),
            None => (
                convert::str_attr(attrs, names::legacy::MODULE).unwrap_or(""),
                convert::str_attr(attrs, names::legacy::FUNCTION).ok_or(Refused::Invalid)?,
            ),
        };
        let factor = ctx.factor.unwrap_or(1.0);
        let series = self.series_index(SeriesKind::Function, ctx.service, function, module, "s")?;
        if let Some(pattern) = convert::str_attr(attrs, names::attr::KIND).and_then(Pattern::parse)
        {
            self.series_mut(series).pattern = pattern;
        }
        Ok(match ctx.role {
            Role::Calls => {
                let (outcome, kind) = call_outcome(attrs)?;
                Target::Calls {
                    series,
                    outcome,
                    kind: kind.map(|k| self.kind_index(series, k)),
                }
            }
            Role::Duration => Target::Duration { series, factor },
            Role::Busy => Target::Busy { series, factor },
            Role::Scheduling => Target::Scheduling { series, factor },
            // Counts, whatever unit the sender gave them.
            Role::Attempts => Target::Attempts {
                series,
                factor: 1.0,
            },
            Role::Polls => Target::Polls { series },
            Role::SlowPolls => Target::SlowPolls { series },
            Role::CallerCalls | Role::CallerWall | Role::CallerBusy | Role::CallerSelfBusy => {
                let field = match ctx.role {
                    Role::CallerCalls => CallerField::Calls,
                    Role::CallerWall => CallerField::Wall,
                    Role::CallerBusy => CallerField::Busy,
                    _ => CallerField::SelfBusy,
                };
                let caller =
                    convert::str_attr(attrs, names::attr::CALLER).ok_or(Refused::Invalid)?;
                Target::Caller {
                    series,
                    caller: self.caller_index(series, caller),
                    field,
                }
            }
            _ => Target::InFlight { series },
        })
    }

    /// The index of a caller among a series' edges, made on first sight; callers past
    /// [`MAX_CALLERS`] share one `_overflow` edge.
    fn caller_index(&mut self, series: u32, caller: &str) -> u16 {
        let caller = crate::words::text::printable(convert::cut(caller, MAX_CALLER_LEN));
        let caller = caller.as_str();
        let callers = &self.series[series as usize].callers;
        if let Some(i) = callers.iter().position(|c| &*c.caller == caller) {
            return i as u16;
        }
        let named = callers
            .iter()
            .filter(|c| &*c.caller != OVERFLOW_KIND)
            .count();
        let caller = if caller != OVERFLOW_KIND && named >= MAX_CALLERS {
            if let Some(i) = callers.iter().position(|c| &*c.caller == OVERFLOW_KIND) {
                return i as u16;
            }
            OVERFLOW_KIND
        } else {
            caller
        };
        let s = self.series_mut(series);
        s.callers.push(CallerEdge {
            caller: caller.into(),
            ..CallerEdge::default()
        });
        (s.callers.len() - 1) as u16
    }

    /// Where a point of another sender's histogram goes: a series per metric and
    /// distinguishing attributes, failed when it carries `error.type` or a 5xx status.
    fn histogram_target(
        &mut self,
        ctx: &MetricContext<'_>,
        attrs: &[KeyValue],
    ) -> Result<Target, Refused> {
        let name = convert::series_name(&ctx.metric.name, attrs, &OUTCOME_ATTRIBUTES);
        let unit = if ctx.factor.is_some() {
            "s"
        } else {
            ctx.metric.unit.as_str()
        };
        let series =
            self.series_index(SeriesKind::Histogram, ctx.service, &name, ctx.scope, unit)?;
        let mut kind_name = String::new();
        let failed = match convert::attr(attrs, names::attr::ERROR_TYPE) {
            Some(v) => {
                convert::write_value(&mut kind_name, Some(v), MAX_KIND_LEN);
                if kind_name.is_empty() {
                    kind_name.push_str(UNKNOWN_ERROR_KIND);
                }
                true
            }
            None => match convert::attr(attrs, "http.response.status_code")
                .and_then(convert::int_value)
            {
                Some(code) if code >= 500 => {
                    kind_name = code.to_string();
                    true
                }
                _ => false,
            },
        };
        let kind = failed.then(|| self.kind_index(series, &kind_name));
        Ok(Target::Histogram {
            series,
            error: failed,
            kind,
            factor: ctx.factor.unwrap_or(1.0),
        })
    }

    /// Forgets streams idle for [`STREAM_IDLE`], at most once per ingest time.
    fn sweep(&mut self, now: Duration) {
        if self.swept_at == Some(now) {
            return;
        }
        self.swept_at = Some(now);
        self.streams
            .retain(|_, s| now.saturating_sub(s.seen) < STREAM_IDLE);
    }

    /// The index of a series, created if there is room.
    fn series_index(
        &mut self,
        kind: SeriesKind,
        service: &str,
        function: &str,
        module: &str,
        unit: &str,
    ) -> Result<u32, Refused> {
        let service = match self.services.get(service) {
            Some(s) => s.clone(),
            None => Arc::from(service),
        };
        let key: SeriesKey = (kind, service, Arc::from(function), Arc::from(module));
        if let Some(&i) = self.index.get(&key) {
            return Ok(i);
        }
        if self.series.len() >= self.max_series {
            return Err(Refused::Overflow);
        }
        let index = u32::try_from(self.series.len()).map_err(|_| Refused::Overflow)?;
        let (kind, service, function, module) = key.clone();
        self.services.insert(service.clone());
        let mut s = Series::new("", "", "", kind);
        s.service = service;
        s.function = function;
        s.module = module;
        s.unit = unit.into();
        self.series.push(Arc::new(s));
        self.index.insert(key, index);
        Ok(index)
    }

    /// The index of error kind `kind` in a series, added if there is room, else the
    /// overflow kind's.
    fn kind_index(&mut self, series: u32, kind: &str) -> u16 {
        let kind = convert::cut(kind, MAX_KIND_LEN);
        let kinds = &self.series[series as usize].error_kinds;
        if let Some(i) = kinds.iter().position(|k| &*k.kind == kind) {
            return i as u16;
        }
        let named = kinds.iter().filter(|k| &*k.kind != OVERFLOW_KIND).count();
        let kind = if kind != OVERFLOW_KIND && named >= MAX_ERROR_KINDS {
            self.totals.kind_overflow += 1;
            if let Some(i) = kinds.iter().position(|k| &*k.kind == OVERFLOW_KIND) {
                return i as u16;
            }
            OVERFLOW_KIND
        } else {
            kind
        };
        let s = self.series_mut(series);
        s.error_kinds.push(KindCount {
            kind: kind.into(),
            count: 0,
            last_seen: None,
        });
        (s.error_kinds.len() - 1) as u16
    }
}

fn add_kind(s: &mut Series, kind: Option<u16>, n: u64, now: Duration) {
    if let Some(k) = kind.and_then(|k| s.error_kinds.get_mut(usize::from(k))) {
        k.count = k.count.saturating_add(n);
        k.last_seen = Some(now);
    }
}

enum Refused {
    Overflow,
    Invalid,
}

/// Moves a stream to point `p`: what the point adds, given the stream's previous point.
fn advance(stream: &mut Stream, ctx: &MetricContext<'_>, p: &Point<'_>) -> Result<Change, ()> {
    let (start, time) = p.times();
    let known = |t: u64| t != 0;
    let same_times = (start, time) == (stream.start, stream.time) && known(time);
    // A point not newer than the previous one (a duplicate, or late) brings nothing.
    let stale = known(time) && known(stream.time) && time <= stream.time;
    let restarted = known(start) && known(stream.start) && start != stream.start;
    if ctx.role == Role::InFlight {
        if stale && !restarted {
            return Ok(Change::None);
        }
        (stream.start, stream.time) = (start, time);
        return Ok(Change::Gauge(p.number()));
    }
    let factor = match stream.target {
        Target::Duration { factor, .. }
        | Target::Busy { factor, .. }
        | Target::Scheduling { factor, .. }
        | Target::Attempts { factor, .. }
        | Target::Histogram { factor, .. } => factor,
        _ => 1.0,
    };
    if !ctx.cumulative {
        if same_times {
            return Ok(Change::None);
        }
        (stream.start, stream.time) = (start, time);
        stream.last = Last::Nothing;
        return Ok(match p {
            Point::Number(_) => Change::Number(p.number().max(0.0)),
            _ => Change::Histogram {
                count: p.count(),
                sum: p.sum() * factor,
                dist: if matches!(stream.target, Target::Busy { .. }) {
                    Dist::Empty
                } else {
                    p.dist(factor).ok_or(())?
                },
            },
        });
    }
    if stale && !restarted {
        return Ok(Change::None);
    }
    let change = match p {
        Point::Number(_) => {
            let value = p.number();
            let (delta, carry) = match stream.last {
                Last::Number { value: last, carry } if !restarted && value >= last => {
                    (value - last, carry)
                }
                _ => (value.max(0.0), 0.0),
            };
            // Counters with fractional values: count whole units, carry the rest.
            let total = delta + carry;
            // Seconds of the call graph's edges are fractional by nature.
            let seconds = matches!(
                stream.target,
                Target::Caller { field, .. } if field != CallerField::Calls
            );
            let counted = if seconds { total } else { total.floor() };
            stream.last = Last::Number {
                value,
                carry: total - counted,
            };
            Change::Number(counted)
        }
        _ => {
            let (count, sum) = (p.count(), p.sum() * factor);
            let busy = matches!(stream.target, Target::Busy { .. });
            match &stream.last {
                Last::Histogram { count: c, .. } if !restarted && count == *c => {
                    (stream.start, stream.time) = (start, time);
                    return Ok(Change::None);
                }
                _ => {}
            }
            let dist = if busy {
                Dist::Empty
            } else {
                p.dist(factor).ok_or(())?
            };
            let (added, sum_added, dist_added) = match &stream.last {
                Last::Histogram {
                    count: c,
                    sum: s,
                    dist: d,
                } if !restarted && count >= *c => (count - c, (sum - s).max(0.0), dist.delta(d)),
                _ => (count, sum.max(0.0), dist.clone()),
            };
            stream.last = Last::Histogram { count, sum, dist };
            Change::Histogram {
                count: added,
                sum: sum_added,
                dist: dist_added,
            }
        }
    };
    (stream.start, stream.time) = (start, time);
    Ok(change)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
