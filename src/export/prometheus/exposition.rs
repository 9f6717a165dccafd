//! What a scrape holds, whatever its format: the families and points of a snapshot, with
//! the names the OTLP metrics of `docs/METRICS.md` get under the standard OTLP-to-Prometheus
//! translation (dots to underscores, the unit `s` as `_seconds`, counters ending in
//! `_total`), so one dashboard serves a scrape and OTLP through a collector alike. Each
//! format is a [`Sink`] the walk writes into.

use crate::export::stats::ExportStats;
use crate::record::histogram::Histogram;
use crate::record::snapshot::FunctionSnapshot;
use crate::record::snapshot::Snapshot;
use crate::words::names;
use crate::words::outcome::Outcome;

use crate::words::function::Pattern;
use crate::words::names::Metric;
use crate::words::names::label::{ERROR_TYPE, FUNCTION, KIND, OUTCOME, OVERFLOW};
use crate::words::names::metric;

/// The instrumentation scope, on every sample (the OpenTelemetry-Prometheus compatibility
/// rules), so that a scrape and a collector's export carry the same labels.
pub(crate) const SCOPE: [(&str, &str); 2] = [
    ("otel_scope_name", names::SCOPE_NAME),
    ("otel_scope_version", names::SCOPE_VERSION),
];

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One histogram point as every format needs it.
pub(crate) struct HistogramPoint<'a> {
    /// The recorder's histogram (native histograms are made from its buckets).
    pub(crate) histogram: &'a Histogram,
    /// The bounds of the classic buckets, in seconds.
    pub(crate) bounds: &'a [f64],
    /// Counts per classic bucket (not cumulative), the last one above every bound.
    pub(crate) classic: &'a [u64],
    /// The latest sampled call of this point, and the classic bucket it falls in.
    pub(crate) exemplar: Option<(&'a Exemplar, usize)>,
}

/// A format: the walk calls `family` once before each family's points.
pub(crate) trait Sink {
    /// Starts a family. For counters `stem` has no `_total`: each format adds it where its
    /// specification says.
    fn family(&mut self, stem: &str, kind: Kind, help: &str, unit: Option<&str>);
    /// A point of the current counter family.
    fn counter(&mut self, stem: &str, labels: &[(&str, &str)], value: u64);
    /// A point of the current counter family that counts seconds.
    fn counter_seconds(&mut self, stem: &str, labels: &[(&str, &str)], value: f64);
    /// A point of the current gauge family.
    fn gauge(&mut self, name: &str, labels: &[(&str, &str)], value: f64);
    /// A point of the current histogram family.
    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], point: &HistogramPoint<'_>);
}

/// A sampled call shown beside the bucket it falls in (OpenMetrics and protobuf).
#[derive(Clone, Debug)]
pub(crate) struct Exemplar {
    pub(crate) module: &'static str,
    pub(crate) function: &'static str,
    pub(crate) outcome: Outcome,
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    /// Seconds.
    pub(crate) value: f64,
    /// Unix time, seconds.
    pub(crate) timestamp: f64,
}

/// The latest sampled calls, when an OTLP exporter samples calls as spans.
pub(crate) fn exemplars() -> Vec<Exemplar> {
    #[cfg(feature = "otlp")]
    {
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let now = crate::clock::since_start().as_secs_f64();
        crate::record::samples::latest()
            .into_iter()
            .map(|c| Exemplar {
                module: c.function.module,
                function: c.function.name,
                outcome: c.outcome,
                trace_id: c.trace_id,
                span_id: c.span_id,
                value: c.wall_ns as f64 / 1e9,
                timestamp: now_unix - now + crate::clock::since_start_at(c.end).as_secs_f64(),
            })
            .collect()
    }
    #[cfg(not(feature = "otlp"))]
    Vec::new()
}

/// The labels of one point, without allocating: at most the function, its outcome, an
/// error kind, the overflow mark and the two scope labels.
struct Labels<'a> {
    pairs: [(&'a str, &'a str); 7],
    len: usize,
}

impl<'a> Labels<'a> {
    fn push(&mut self, pair: (&'a str, &'a str)) {
        self.pairs[self.len] = pair;
        self.len += 1;
    }
}

impl<'a> std::ops::Deref for Labels<'a> {
    type Target = [(&'a str, &'a str)];
    fn deref(&self) -> &Self::Target {
        &self.pairs[..self.len]
    }
}

/// The labels of a function's sample: its qualified name, the outcome (when the quantity
/// has one), an error's kind, the overflow mark, the scope.
fn point_labels<'a>(
    f: &FunctionSnapshot,
    qualified: &'a str,
    outcome: Option<Outcome>,
    kind: Option<&'a str>,
) -> Labels<'a> {
    let mut labels = Labels {
        pairs: [("", ""); 7],
        len: 0,
    };
    labels.push((FUNCTION, qualified));
    if f.pattern != Pattern::Function {
        labels.push((KIND, f.pattern.as_str()));
    }
    if let Some(o) = outcome {
        labels.push((OUTCOME, o.as_str()));
    }
    let kind_overflowed = kind == Some(crate::words::names::OVERFLOW_KIND);
    if let Some(k) = kind.filter(|_| !kind_overflowed) {
        labels.push((ERROR_TYPE, k));
    }
    if kind_overflowed || f.name == crate::words::names::OVERFLOW_KIND {
        labels.push((OVERFLOW, "true"));
    }
    for pair in SCOPE {
        labels.push(pair);
    }
    labels
}

/// `target_info`: the resource's attributes as labels of a gauge of 1, as the
/// OpenTelemetry-Prometheus compatibility rules write them (`service.name` and
/// `service.instance.id` are the scrape's `job` and `instance`, so they are left out).
fn target_info(sink: &mut impl Sink) {
    sink.family("target_info", Kind::Gauge, "Target metadata", None);
    let pid = std::process::id().to_string();
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    sink.gauge(
        "target_info",
        &[
            ("process_executable_name", &exe),
            ("process_pid", &pid),
            ("telemetry_sdk_language", "rust"),
            ("telemetry_sdk_name", names::SCOPE_NAME),
            ("telemetry_sdk_version", names::SCOPE_VERSION),
        ],
        1.0,
    );
}

/// The latest sampled call of a function and outcome, from `exemplars`.
fn exemplar_for<'e>(
    exemplars: &'e [Exemplar],
    f: &FunctionSnapshot,
    outcome: Outcome,
) -> Option<&'e Exemplar> {
    exemplars.iter().find(|e| {
        e.outcome == outcome
            && e.function == f.name
            && (e.module == f.module || e.module.is_empty())
    })
}

/// Writes the whole exposition of `snap` into `sink`.
pub(crate) fn write(
    snap: &Snapshot,
    exports: ExportStats,
    bounds: &[f64],
    exemplars: &[Exemplar],
    sink: &mut impl Sink,
) {
    target_info(sink);
    let qualified: Vec<String> = snap
        .functions
        .iter()
        .map(|f| names::qualified(f.module, f.name))
        .collect();
    calls(snap, &qualified, sink);
    let mut counts = Vec::new();
    for (m, busy) in [(metric::DURATION, false), (metric::BUSY, true)] {
        let stem = m.prometheus;
        sink.family(stem, Kind::Histogram, m.description, Some("seconds"));
        for (f, q) in snap.functions.iter().zip(&qualified) {
            for o in Outcome::ALL {
                let stats = f.stats(o);
                if stats.count == 0 {
                    continue;
                }
                let h = if busy { &stats.busy } else { &stats.wall };
                crate::export::explicit_counts(h, bounds, &mut counts);
                // The wall time's exemplar: a sampled call's duration is its wall time.
                let exemplar = (!busy)
                    .then(|| exemplar_for(exemplars, f, o))
                    .flatten()
                    .map(|e| (e, bounds.partition_point(|&b| b < e.value)));
                let point = HistogramPoint {
                    histogram: h,
                    bounds,
                    classic: &counts,
                    exemplar,
                };
                sink.histogram(stem, &point_labels(f, q, Some(o), None), &point);
            }
        }
    }
    for (m, value) in [
        (
            metric::POLLS,
            (|s| s.polls) as fn(&crate::record::snapshot::OutcomeStats) -> u64,
        ),
        (metric::SLOW_POLLS, |s| s.slow_polls),
    ] {
        let stem = m.prometheus;
        sink.family(stem, Kind::Counter, m.description, None);
        for (f, q) in snap.functions.iter().zip(&qualified) {
            for o in Outcome::ALL {
                let stats = f.stats(o);
                if stats.count > 0 {
                    sink.counter(stem, &point_labels(f, q, Some(o), None), value(stats));
                }
            }
        }
    }
    family(sink, metric::CONCURRENT, Kind::Gauge);
    for (f, q) in snap.functions.iter().zip(&qualified) {
        sink.gauge(
            metric::CONCURRENT.prometheus,
            &point_labels(f, q, None, None),
            f.in_flight as f64,
        );
    }
    scheduling(snap, &qualified, bounds, sink);
    retry_attempts(snap, &qualified, sink);
    callers(snap, &qualified, sink);
    runtimes(snap, sink);
    family(sink, metric::EXPORT_DROPPED, Kind::Counter);
    sink.counter(
        metric::EXPORT_DROPPED.prometheus,
        &SCOPE,
        exports.dropped_points,
    );
}

/// The scheduling delays of the functions measured with `#[measure(scheduling)]`; no
/// family when there are none.
fn scheduling(snap: &Snapshot, qualified: &[String], bounds: &[f64], sink: &mut impl Sink) {
    let stem = metric::SCHEDULING.prometheus;
    let mut measured = snap
        .functions
        .iter()
        .zip(qualified)
        .filter(|(f, _)| !f.scheduling.is_empty())
        .peekable();
    if measured.peek().is_none() {
        return;
    }
    sink.family(
        stem,
        Kind::Histogram,
        metric::SCHEDULING.description,
        Some("seconds"),
    );
    let mut counts = Vec::new();
    for (f, q) in measured {
        crate::export::explicit_counts(&f.scheduling, bounds, &mut counts);
        let point = HistogramPoint {
            histogram: &f.scheduling,
            bounds,
            classic: &counts,
            exemplar: None,
        };
        sink.histogram(stem, &point_labels(f, q, None, None), &point);
    }
}

/// The attempts of the retried operations: a histogram whose values are attempts (no
/// unit), classic buckets `le="1"` to `le="15"`, exact; no family when there are none.
fn retry_attempts(snap: &Snapshot, qualified: &[String], sink: &mut impl Sink) {
    let stem = metric::RETRY_ATTEMPTS.prometheus;
    let mut retried = snap
        .functions
        .iter()
        .zip(qualified)
        .filter(|(f, _)| !f.attempts.is_empty())
        .peekable();
    if retried.peek().is_none() {
        return;
    }
    sink.family(
        stem,
        Kind::Histogram,
        metric::RETRY_ATTEMPTS.description,
        None,
    );
    let bounds: Vec<f64> = (1..crate::record::attempts::ATTEMPT_BUCKETS)
        .map(|n| n as f64)
        .collect();
    for (f, q) in retried {
        // An attempt is one unit where the formats write seconds.
        let mut as_units = Histogram::default();
        for (n, &count) in (1u64..).zip(&f.attempts.counts) {
            as_units.record_n(n * 1_000_000_000, count);
        }
        let point = HistogramPoint {
            histogram: &as_units,
            bounds: &bounds,
            classic: &f.attempts.counts,
            exemplar: None,
        };
        sink.histogram(stem, &point_labels(f, q, None, None), &point);
    }
}

/// The call graph: per function and caller, the calls and their summed wall, busy and
/// self busy time; no families when no function has a caller yet.
fn callers(snap: &Snapshot, qualified: &[String], sink: &mut impl Sink) {
    use crate::record::snapshot::CallerStats;
    use crate::words::names::label::CALLER;
    if snap.functions.iter().all(|f| f.callers.is_empty()) {
        return;
    }
    let caller_names: Vec<Vec<String>> = snap
        .functions
        .iter()
        .map(|f| {
            f.callers
                .iter()
                .map(|c| names::qualified(c.module, c.name))
                .collect()
        })
        .collect();
    let each = |sink: &mut dyn FnMut(Labels<'_>, &CallerStats)| {
        for ((f, q), callers) in snap.functions.iter().zip(qualified).zip(&caller_names) {
            for (c, caller) in f.callers.iter().zip(callers) {
                let mut labels = Labels {
                    pairs: [("", ""); 7],
                    len: 0,
                };
                labels.push((FUNCTION, q));
                labels.push((CALLER, caller));
                if c.name == crate::words::names::OVERFLOW_KIND && c.module.is_empty() {
                    labels.push((OVERFLOW, "true"));
                }
                for pair in SCOPE {
                    labels.push(pair);
                }
                sink(labels, c);
            }
        }
    };
    family(sink, metric::CALLER_CALLS, Kind::Counter);
    each(&mut |labels, c| sink.counter(metric::CALLER_CALLS.prometheus, &labels, c.calls));
    type Seconds = fn(&CallerStats) -> std::time::Duration;
    let seconds: [(Metric, Seconds); 3] = [
        (metric::CALLER_WALL, |c| c.wall),
        (metric::CALLER_BUSY, |c| c.busy),
        (metric::CALLER_SELF_BUSY, |c| c.self_busy),
    ];
    for (m, value) in seconds {
        sink.family(m.prometheus, Kind::Counter, m.description, Some("seconds"));
        each(&mut |labels, c| {
            sink.counter_seconds(m.prometheus, &labels, value(c).as_secs_f64());
        });
    }
}

/// The family of a metric without a unit suffix.
fn family(sink: &mut impl Sink, m: Metric, kind: Kind) {
    sink.family(m.prometheus, kind, m.description, None);
}

/// Each tokio runtime's latest reading (the runtime monitor): its counts as gauges, its
/// counters since the monitor started; `tokio_runtime_name` on every point and
/// `tokio_worker_index` on a worker's own. The poll-time histogram, in tokio's own buckets,
/// goes over OTLP only.
fn runtimes(snap: &Snapshot, sink: &mut impl Sink) {
    use crate::record::runtime::{RuntimeSnapshot, UnstableRuntimeSnapshot};
    use crate::words::names::label::{RUNTIME, WORKER};
    use crate::words::names::metric::runtime as m;
    if snap.runtimes.is_empty() {
        return;
    }
    type Count = fn(&RuntimeSnapshot) -> Option<usize>;
    let gauges: [(Metric, Count); 7] = [
        (m::WORKERS, |r| Some(r.workers)),
        (m::TASKS, |r| Some(r.alive_tasks)),
        (m::GLOBAL_QUEUE, |r| Some(r.global_queue_depth)),
        (m::BLOCKING_THREADS, |r| {
            r.unstable.as_ref().map(|u| u.blocking_threads)
        }),
        (m::BLOCKING_IDLE, |r| {
            r.unstable.as_ref().map(|u| u.idle_blocking_threads)
        }),
        (m::BLOCKING_QUEUE, |r| {
            r.unstable.as_ref().map(|u| u.blocking_queue_depth)
        }),
        (m::LOCAL_QUEUE, |r| {
            r.unstable.as_ref().map(|u| u.local_queue_depth)
        }),
    ];
    for (metric, value) in gauges {
        if snap.runtimes.iter().all(|r| value(r).is_none()) {
            continue;
        }
        family(sink, metric, Kind::Gauge);
        for r in &snap.runtimes {
            if let Some(v) = value(r) {
                let pairs = [(RUNTIME, r.name.as_str()), SCOPE[0], SCOPE[1]];
                sink.gauge(metric.prometheus, &pairs, v as f64);
            }
        }
    }
    sink.family(
        m::BUSY.prometheus,
        Kind::Counter,
        m::BUSY.description,
        Some("seconds"),
    );
    for r in &snap.runtimes {
        for (w, busy) in r.worker_busy.iter().enumerate() {
            let index = w.to_string();
            let pairs = [
                (RUNTIME, r.name.as_str()),
                (WORKER, index.as_str()),
                SCOPE[0],
                SCOPE[1],
            ];
            sink.counter_seconds(m::BUSY.prometheus, &pairs, busy.as_secs_f64());
        }
    }
    family(sink, m::PARKS, Kind::Counter);
    for r in &snap.runtimes {
        for (w, parks) in r.worker_parks.iter().enumerate() {
            let index = w.to_string();
            let pairs = [
                (RUNTIME, r.name.as_str()),
                (WORKER, index.as_str()),
                SCOPE[0],
                SCOPE[1],
            ];
            sink.counter(m::PARKS.prometheus, &pairs, *parks);
        }
    }
    if snap.runtimes.iter().all(|r| r.unstable.is_none()) {
        return;
    }
    type Counter = fn(&UnstableRuntimeSnapshot) -> u64;
    let counters: [(Metric, Counter); 4] = [
        (m::POLLS, |u| u.polls),
        (m::STEALS, |u| u.steals),
        (m::BUDGET_YIELDS, |u| u.budget_forced_yields),
        (m::IO_READY, |u| u.io_driver_ready),
    ];
    for (metric, value) in counters {
        family(sink, metric, Kind::Counter);
        for r in &snap.runtimes {
            if let Some(u) = &r.unstable {
                let pairs = [(RUNTIME, r.name.as_str()), SCOPE[0], SCOPE[1]];
                sink.counter(metric.prometheus, &pairs, value(u));
            }
        }
    }
}

/// Calls by outcome, errors by kind (and the errors without one).
fn calls(snap: &Snapshot, qualified: &[String], sink: &mut impl Sink) {
    let stem = metric::CALLS.prometheus;
    family(sink, metric::CALLS, Kind::Counter);
    for (f, q) in snap.functions.iter().zip(qualified) {
        for o in Outcome::ALL {
            let stats = f.stats(o);
            if stats.count == 0 {
                continue;
            }
            if o == Outcome::Error {
                let mut counted = 0;
                for k in &f.error_kinds {
                    sink.counter(stem, &point_labels(f, q, Some(o), Some(k.kind)), k.count);
                    counted += k.count;
                }
                if counted < stats.count {
                    let rest = stats.count - counted;
                    sink.counter(stem, &point_labels(f, q, Some(o), None), rest);
                }
            } else {
                sink.counter(stem, &point_labels(f, q, Some(o), None), stats.count);
            }
        }
    }
}
