//! What the dashboard shows, whatever the source: one [`Series`] per function (or per
//! generic OpenTelemetry histogram or counter) with cumulative counts and a latency
//! [`Dist`], gathered into a [`Frame`] at each tick.
//!
//! Every source produces frames: the recorder in the app ([`Frame::of_snapshot`]), the OTLP receiver
//! and the tokio-console client of `taskscope top`. The dashboard keeps a few frames as
//! checkpoints and turns the difference between two of them into a window's rates and
//! percentiles.

mod dist;
pub(crate) mod recorder;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

pub use dist::{Bucket, Dist, Explicit, Exponential};
pub use tasks::{TaskName, TaskRow, TaskState, TaskTimes, Tasks};

use crate::words::function::Pattern;
use crate::words::outcome::PerOutcome;

/// What a series measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeriesKind {
    /// A function measured by taskscope (`#[measure]`, the layer, or an OTLP sender using
    /// the `function.calls*` names of `docs/METRICS.md`).
    Function,
    /// Any other OpenTelemetry histogram: calls are its count, latency its distribution.
    Histogram,
    /// Any other monotonic OpenTelemetry sum: calls are its value; no latency.
    Counter,
}

/// An error kind and how often it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct KindCount {
    /// The kind, as the source named it.
    pub kind: Arc<str>,
    /// Errors of this kind (cumulative).
    pub count: u64,
    /// When the count last grew, on the frame's clock.
    pub last_seen: Option<Duration>,
}

/// The cumulative state of one function (or generic metric) of one service.
#[derive(Clone, Debug)]
pub struct Series {
    /// `service.name` of the sender; the app's own name in embedded mode.
    pub service: Arc<str>,
    /// The function's name (or the metric's name and distinguishing attributes).
    pub function: Arc<str>,
    /// The function's module (or the instrumentation scope), possibly empty.
    pub module: Arc<str>,
    /// What the series measures.
    pub kind: SeriesKind,
    /// For a function series: what its calls are of, a function or an operation of one of
    /// the async patterns (the attribute `taskscope.kind`).
    pub pattern: Pattern,
    /// Finished calls by outcome: ok, error, cancelled, panicked.
    pub calls: PerOutcome<u64>,
    /// Errors by kind.
    pub error_kinds: Vec<KindCount>,
    /// Calls in flight now.
    pub in_flight: i64,
    /// Polls made by finished calls.
    pub polls: u64,
    /// Polls longer than the slow-poll threshold.
    pub slow_polls: u64,
    /// Total busy (polled) time of finished calls, seconds.
    pub busy_seconds: f64,
    /// Whether the source gives busy time at all (taskscope does; an SDK's histograms do
    /// not): without it the busy share is unknown, not zero.
    pub has_busy: bool,
    /// Wall time of finished calls (all outcomes), the latency distribution.
    pub latency: Dist,
    /// For a function measured with `#[measure(scheduling)]`: the waits from a wake to the
    /// next poll, the delay the runtime added. Empty otherwise.
    pub scheduling: Dist,
    /// For a retried operation: the attempts of each call (values are attempts, not
    /// seconds). Empty otherwise.
    pub attempts: Dist,
    /// The call graph's edges into this function, one per caller (fully qualified, or
    /// [`ROOT_CALLER`](crate::ROOT_CALLER) for the calls with no measured caller), cumulative.
    pub callers: Vec<CallerEdge>,
    /// The unit of the latency values as the source gave it (`s` after conversion).
    pub unit: Arc<str>,
}

/// The calls of a function from one caller, and their time, as the source last gave them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallerEdge {
    /// The caller, fully qualified (`my_app::orders::checkout`), `(root)` or `_overflow`.
    pub caller: Arc<str>,
    /// Finished calls from this caller.
    pub calls: u64,
    /// Their wall time, summed, in seconds.
    pub wall: f64,
    /// Their busy time, summed, in seconds.
    pub busy: f64,
    /// Their busy time outside the measured calls they made, summed, in seconds.
    pub self_busy: f64,
}

impl Series {
    /// The busy seconds of this function's own code: its callers' self busy time.
    pub fn self_busy_seconds(&self) -> f64 {
        self.callers.iter().map(|c| c.self_busy).sum()
    }

    /// An empty series.
    pub fn new(service: &str, function: &str, module: &str, kind: SeriesKind) -> Series {
        Series {
            service: service.into(),
            function: function.into(),
            module: module.into(),
            kind,
            pattern: Pattern::Function,
            calls: PerOutcome::default(),
            error_kinds: Vec::new(),
            in_flight: 0,
            polls: 0,
            slow_polls: 0,
            busy_seconds: 0.0,
            has_busy: false,
            latency: Dist::Empty,
            scheduling: Dist::Empty,
            attempts: Dist::Empty,
            callers: Vec::new(),
            unit: "s".into(),
        }
    }

    /// Finished calls, all outcomes.
    pub fn total_calls(&self) -> u64 {
        self.calls.total()
    }

    /// The key that identifies the series across frames.
    pub fn key(&self) -> (Arc<str>, Arc<str>, Arc<str>) {
        (
            self.service.clone(),
            self.function.clone(),
            self.module.clone(),
        )
    }
}

/// The state of the source of the frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceStatus {
    /// What is watched: `in-process` or the receiver's listen addresses.
    pub label: String,
    /// Connection state in words (`live`, `waiting for data`, `last data 12s ago`).
    pub connection: String,
    /// Services reporting.
    pub services: usize,
    /// Requests or points the receiver shed under load.
    pub dropped: u64,
    /// Series refused because the series cap was reached.
    pub overflow: u64,
    /// Malformed or oversized requests refused.
    pub rejected: u64,
    /// Data the app's own exporter dropped (embedded mode), or `taskscope.export.dropped`.
    pub export_dropped: u64,
    /// Error kinds that went to the overflow kind because of the cap.
    pub kind_overflow: u64,
    /// Why the last request (or part of one) was refused, as the receiver answered it.
    pub last_rejection: Option<String>,
}

/// Every series at one instant.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    /// When the frame was taken, on the source's clock (monotonic).
    pub at: Duration,
    /// The series, cumulative since the source began.
    pub series: Vec<Arc<Series>>,
    /// The source's state.
    pub status: SourceStatus,
    /// The app's tasks from tokio-console, when the dashboard watches a console.
    pub tasks: Option<Arc<Tasks>>,
    /// The tokio runtimes the source's runtime monitors watch, by service and name.
    pub runtimes: Vec<Arc<RuntimeSeries>>,
}

/// One tokio runtime of one service as the source last saw it: gauges as they were,
/// counters since its monitor started.
#[derive(Clone, Debug, Default)]
pub struct RuntimeSeries {
    /// The service it runs in.
    pub service: Arc<str>,
    /// The name its monitor gave it.
    pub name: Arc<str>,
    /// Worker threads.
    pub workers: usize,
    /// Tasks alive.
    pub alive_tasks: usize,
    /// Tasks in the global queue.
    pub global_queue_depth: usize,
    /// Per worker, seconds busy (not parked).
    pub worker_busy: Vec<f64>,
    /// When the busy times were read, in seconds on the source's own clock (unset when it
    /// does not say). The monitor reads at its interval, so a frame may carry a reading
    /// older than itself: busy shares divide by the time between readings.
    pub busy_read_at: Option<f64>,
    /// Per worker, times parked.
    pub worker_parks: Vec<u64>,
    /// Blocking-pool threads, when the source sends them (`--cfg tokio_unstable`).
    pub blocking_threads: Option<usize>,
    /// Of those, idle.
    pub idle_blocking_threads: Option<usize>,
    /// Blocking tasks waiting for a thread of the pool.
    pub blocking_queue_depth: Option<usize>,
    /// Polls by duration in tokio's buckets, when the source sends them.
    pub poll_time: Option<Dist>,
}

impl RuntimeSeries {
    /// The key that identifies the runtime across frames.
    pub fn key(&self) -> (Arc<str>, Arc<str>) {
        (self.service.clone(), self.name.clone())
    }
}
