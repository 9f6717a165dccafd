//! The runtime monitor (cargo feature `runtime`): reads one or more tokio runtimes at an
//! interval with tokio-metrics' `RuntimeMonitor` (the ecosystem's own reader; its interval
//! figures are taken as it computes them) and tokio's per-worker counters, on a quiet thread
//! of its own, and keeps each runtime's latest reading where snapshots, exports and the
//! dashboard find it, beside the functions.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use crate::record::runtime::{self as readings, RuntimeSnapshot};

/// The default time between two readings.
pub const DEFAULT_RUNTIME_INTERVAL: Duration = Duration::from_secs(1);

/// Starts building a runtime monitor.
///
/// ```
/// # fn main() -> Result<(), taskscope::RuntimeError> {
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
/// let monitor = taskscope::runtime()
///     .with_runtime("api", rt.handle())
///     .with_interval(std::time::Duration::from_millis(100))
///     .start()?;
/// std::thread::sleep(std::time::Duration::from_millis(250));
/// let snap = taskscope::snapshot();
/// let api = snap.runtime("api").expect("read at least once");
/// assert_eq!(api.workers, 2);
/// drop(monitor); // stops reading
/// # Ok(())
/// # }
/// ```
pub fn runtime() -> RuntimeBuilder {
    RuntimeBuilder {
        runtimes: Vec::new(),
        interval: DEFAULT_RUNTIME_INTERVAL,
    }
}

/// Settings of the runtime monitor; see [`runtime()`].
#[derive(Debug)]
#[must_use = "call start()"]
pub struct RuntimeBuilder {
    /// Each runtime by name; `None` where `with_current` found none.
    runtimes: Vec<(String, Option<Handle>)>,
    interval: Duration,
}

/// Why the runtime monitor did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// No runtime to watch.
    #[error(
        "the runtime monitor has no runtime to watch: add one with with_runtime(name, handle) or with_current(name) from inside it"
    )]
    NoRuntime,
    /// `with_current` outside a runtime.
    #[error(
        "with_current(\"{0}\") was called outside a tokio runtime: call it from inside one, or pass its handle to with_runtime"
    )]
    NotInRuntime(String),
    /// Two runtimes under one name (in this monitor, or one already running).
    #[error(
        "two runtimes are named \"{0}\": give each its own name (one monitor per name in the process)"
    )]
    DuplicateName(String),
    /// A setting out of its range.
    #[error("{setting} = {value} is not valid: {expected}")]
    Invalid {
        /// The builder method.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What would be valid.
        expected: &'static str,
    },
    /// The monitor's thread could not start.
    #[error("the runtime monitor's thread could not start: {0}")]
    Start(#[from] std::io::Error),
}

impl RuntimeBuilder {
    /// Watches the runtime of `handle` under `name` (shown in the dashboard, and the
    /// `tokio.runtime.name` attribute of its metrics).
    pub fn with_runtime(mut self, name: &str, handle: &Handle) -> Self {
        self.runtimes.push((name.to_owned(), Some(handle.clone())));
        self
    }

    /// Watches the runtime this is called from (errors at [`start`](Self::start) when
    /// there is none).
    pub fn with_current(mut self, name: &str) -> Self {
        self.runtimes
            .push((name.to_owned(), Handle::try_current().ok()));
        self
    }

    /// The time between two readings (default 1 s; at least 10 ms).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Reads every runtime once now, then at each interval on a thread of its own,
    /// `taskscope-runtime`, until the monitor is dropped.
    pub fn start(self) -> Result<RuntimeMonitor, RuntimeError> {
        if let Some((name, _)) = self.runtimes.iter().find(|(_, h)| h.is_none()) {
            return Err(RuntimeError::NotInRuntime(name.clone()));
        }
        if self.runtimes.is_empty() {
            return Err(RuntimeError::NoRuntime);
        }
        for (i, (name, _)) in self.runtimes.iter().enumerate() {
            if self.runtimes[..i].iter().any(|(n, _)| n == name) {
                return Err(RuntimeError::DuplicateName(name.clone()));
            }
        }
        if self.interval < Duration::from_millis(10) {
            return Err(RuntimeError::Invalid {
                setting: "with_interval",
                value: format!("{:?}", self.interval),
                expected: "at least 10 ms",
            });
        }
        let names: Vec<String> = self.runtimes.iter().map(|(n, _)| n.clone()).collect();
        if let Some(taken) = readings::claim(&names) {
            return Err(RuntimeError::DuplicateName(taken));
        }
        let mut watched: Vec<Watched> = self
            .runtimes
            .into_iter()
            .filter_map(|(name, handle)| Some(Watched::new(name, handle?)))
            .collect();
        for w in &mut watched {
            w.read();
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let interval = self.interval;
        let thread = crate::background::spawn("taskscope-runtime", move || {
            let mut next = Instant::now() + interval;
            loop {
                match stopped.recv_timeout(next.saturating_duration_since(Instant::now())) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                for w in &mut watched {
                    w.read();
                }
                next += interval;
                if next < Instant::now() {
                    next = Instant::now() + interval;
                }
            }
        })
        .inspect_err(|_| readings::forget(&names))?;
        Ok(RuntimeMonitor {
            names,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// The running monitor: dropping it stops the readings, and its runtimes leave the
/// snapshots.
#[derive(Debug)]
pub struct RuntimeMonitor {
    names: Vec<String>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RuntimeMonitor {
    /// The names of the runtimes it watches.
    pub fn runtimes(&self) -> &[String] {
        &self.names
    }
}

impl Drop for RuntimeMonitor {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        readings::forget(&self.names);
    }
}

/// One reading of a runtime, repeatable, as the monitor's thread makes it at each interval
/// (for the benchmarks: the name is not claimed, and the reading is published).
#[doc(hidden)]
pub fn reader_for_bench(name: &str, handle: &Handle) -> impl FnMut() + use<> {
    let mut watched = Watched::new(name.to_owned(), handle.clone());
    move || watched.read()
}

/// One runtime and what its readings add up to.
struct Watched {
    name: String,
    metrics: tokio::runtime::RuntimeMetrics,
    intervals: tokio_metrics::RuntimeIntervals,
    read_at: Duration,
    /// Per worker, at the reading before.
    workers: Vec<WorkerReading>,
    #[cfg(tokio_unstable)]
    counters: Counters,
}

/// One worker's counters at a reading.
#[derive(Clone, Copy, Debug, Default)]
struct WorkerReading {
    /// The busy time taskscope reports: tokio's (which grows only when the worker ends a
    /// batch of polls), or more where the worker ran through whole intervals that tokio
    /// has not added yet.
    busy: Duration,
    parks: u64,
    /// Not parked at the reading: tokio's park/unpark count is even while a worker runs.
    running: bool,
}

impl WorkerReading {
    /// This worker now, `interval` after `before`. tokio adds a worker's busy time when it
    /// ends a batch of polls, so a worker that never parks (one long poll of blocking work,
    /// or a saturated runtime whose queues never empty) would show nothing until it does: a
    /// worker that ran at both readings and never parked between them was busy the whole
    /// interval. The busy time never goes back, and once tokio catches up its figure is
    /// taken, so an interval is never counted twice.
    fn of(
        metrics: &tokio::runtime::RuntimeMetrics,
        worker: usize,
        before: Option<&WorkerReading>,
        interval: Duration,
    ) -> WorkerReading {
        let raw_busy = metrics.worker_total_busy_duration(worker);
        let parks = metrics.worker_park_count(worker);
        let running = metrics.worker_park_unpark_count(worker).is_multiple_of(2);
        let busy = match before {
            Some(b) if running && b.running && parks == b.parks => raw_busy.max(b.busy + interval),
            Some(b) => raw_busy.max(b.busy),
            None => raw_busy,
        };
        WorkerReading {
            busy,
            parks,
            running,
        }
    }
}

/// The counters tokio-metrics gives per interval, added up since the monitor started.
#[cfg(tokio_unstable)]
#[derive(Default)]
struct Counters {
    polls: u64,
    steals: u64,
    budget_forced_yields: u64,
    io_driver_ready: u64,
    poll_time: Vec<crate::record::runtime::PollTimeBucket>,
}

impl Watched {
    fn new(name: String, handle: Handle) -> Watched {
        let metrics = handle.metrics();
        let workers = metrics.num_workers();
        Watched {
            name,
            intervals: tokio_metrics::RuntimeMonitor::new(&handle).intervals(),
            workers: (0..workers)
                .map(|w| WorkerReading::of(&metrics, w, None, Duration::ZERO))
                .collect(),
            metrics,
            read_at: crate::clock::since_start(),
            #[cfg(tokio_unstable)]
            counters: Counters::default(),
        }
    }

    /// Reads the runtime and publishes the reading.
    fn read(&mut self) {
        let Some(m) = self.intervals.next() else {
            return;
        };
        let read_at = crate::clock::since_start();
        let interval = read_at.saturating_sub(self.read_at);
        let now: Vec<WorkerReading> = (0..self.metrics.num_workers())
            .map(|w| WorkerReading::of(&self.metrics, w, self.workers.get(w), interval))
            .collect();
        let worker_busy_in_interval: Vec<Duration> = now
            .iter()
            .enumerate()
            .map(|(w, now)| {
                let before = self.workers.get(w).map_or(Duration::ZERO, |b| b.busy);
                now.busy.saturating_sub(before).min(interval)
            })
            .collect();
        let reading = RuntimeSnapshot {
            name: self.name.clone(),
            read_at,
            interval,
            workers: m.workers_count,
            alive_tasks: m.live_tasks_count,
            global_queue_depth: m.global_queue_depth,
            worker_busy: now.iter().map(|w| w.busy).collect(),
            worker_parks: now.iter().map(|w| w.parks).collect(),
            busy_in_interval: worker_busy_in_interval.iter().sum(),
            worker_busy_in_interval,
            unstable: self.unstable(&m),
        };
        self.read_at = read_at;
        self.workers = now;
        readings::publish(reading);
    }

    #[cfg(not(tokio_unstable))]
    fn unstable(
        &mut self,
        _: &tokio_metrics::RuntimeMetrics,
    ) -> Option<crate::record::runtime::UnstableRuntimeSnapshot> {
        None
    }

    #[cfg(tokio_unstable)]
    fn unstable(
        &mut self,
        m: &tokio_metrics::RuntimeMetrics,
    ) -> Option<crate::record::runtime::UnstableRuntimeSnapshot> {
        use crate::record::runtime::PollTimeBucket;
        let c = &mut self.counters;
        c.polls += m.total_polls_count;
        c.steals += m.total_steal_count;
        c.budget_forced_yields += m.budget_forced_yield_count;
        c.io_driver_ready += m.io_driver_ready_count;
        let buckets = m.poll_time_histogram.buckets();
        if c.poll_time.len() != buckets.len() {
            c.poll_time = buckets
                .iter()
                .map(|b| PollTimeBucket {
                    from: b.range_start(),
                    to: b.range_end(),
                    count: 0,
                })
                .collect();
        }
        for (total, b) in c.poll_time.iter_mut().zip(buckets) {
            total.count += b.count();
        }
        Some(crate::record::runtime::UnstableRuntimeSnapshot {
            blocking_threads: m.blocking_threads_count,
            idle_blocking_threads: m.idle_blocking_threads_count,
            blocking_queue_depth: m.blocking_queue_depth,
            local_queue_depth: m.total_local_queue_depth,
            polls: c.polls,
            steals: c.steals,
            budget_forced_yields: c.budget_forced_yields,
            io_driver_ready: c.io_driver_ready,
            mean_poll: m.mean_poll_duration,
            poll_time: if c.poll_time.iter().any(|b| b.count > 0)
                || self.metrics.poll_time_histogram_enabled()
            {
                c.poll_time.clone()
            } else {
                Vec::new()
            },
        })
    }
}
