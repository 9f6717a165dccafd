//! The tokio runtimes the runtime monitor watches (cargo feature `runtime`): the latest
//! reading of each, kept here so that a [`Snapshot`](super::snapshot::Snapshot) carries them
//! beside the functions, and every output shows them with the same numbers.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// One tokio runtime as the monitor last read it: gauges as they were at the reading,
/// counters since the monitor started watching, and figures over the interval since the
/// reading before (which tokio-metrics' `RuntimeMonitor` computes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuntimeSnapshot {
    /// The name the runtime was given to the monitor.
    pub name: String,
    /// When it was read, as time since the recorder's clock started.
    pub read_at: Duration,
    /// The time the interval figures cover: since the reading before.
    pub interval: Duration,
    /// Worker threads (1 for a current-thread runtime).
    pub workers: usize,
    /// Tasks alive at the reading.
    pub alive_tasks: usize,
    /// Tasks waiting in the global (injection) queue at the reading: tasks spawned or woken
    /// from outside the runtime wait there for a worker.
    pub global_queue_depth: usize,
    /// Per worker, the time it spent busy (not parked) since the runtime started. tokio
    /// adds a worker's busy time when it ends a batch of polls; a worker that stayed
    /// unparked through a whole interval between readings counts busy for all of it here,
    /// before tokio does.
    pub worker_busy: Vec<Duration>,
    /// Per worker, the times it parked since the runtime started.
    pub worker_parks: Vec<u64>,
    /// Per worker, the time it was busy over the interval. tokio adds a worker's busy time
    /// when it ends a batch of polls; a worker that stayed unparked through the whole
    /// interval (one long poll: blocking work on the worker) counts busy for all of it.
    pub worker_busy_in_interval: Vec<Duration>,
    /// All workers' busy time over the interval: the sum of `worker_busy_in_interval`.
    pub busy_in_interval: Duration,
    /// What tokio shows only in a build with `--cfg tokio_unstable`; `None` without.
    pub unstable: Option<UnstableRuntimeSnapshot>,
}

/// The part of a runtime's reading that tokio gives only with `--cfg tokio_unstable`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnstableRuntimeSnapshot {
    /// Threads of the blocking pool (`spawn_blocking`), busy or idle.
    pub blocking_threads: usize,
    /// Of those, idle.
    pub idle_blocking_threads: usize,
    /// Blocking tasks waiting for a thread of the pool.
    pub blocking_queue_depth: usize,
    /// Tasks in the workers' local queues, all workers.
    pub local_queue_depth: usize,
    /// Task polls since the monitor started.
    pub polls: u64,
    /// Tasks stolen from another worker since the monitor started.
    pub steals: u64,
    /// Times a task had to yield because its cooperative budget ran out, since the monitor
    /// started.
    pub budget_forced_yields: u64,
    /// I/O events the driver delivered since the monitor started.
    pub io_driver_ready: u64,
    /// The mean time of a poll over the interval.
    pub mean_poll: Duration,
    /// Polls by duration since the monitor started, when the runtime was built with tokio's
    /// poll-time histogram (`enable_metrics_poll_time_histogram`); empty otherwise.
    pub poll_time: Vec<PollTimeBucket>,
}

/// One bucket of tokio's poll-time histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollTimeBucket {
    /// The shortest poll it holds.
    pub from: Duration,
    /// The longest (excluded; `Duration::MAX` for the last bucket).
    pub to: Duration,
    /// Polls counted in it.
    pub count: u64,
}

impl RuntimeSnapshot {
    /// The share of the workers' time spent busy over the interval, 0 to 1: 1 when every
    /// worker ran tasks all the time.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = taskscope::RuntimeSnapshot {
    ///     workers: 2,
    ///     interval: Duration::from_secs(1),
    ///     busy_in_interval: Duration::from_millis(1500),
    ///     ..Default::default()
    /// };
    /// assert_eq!(r.busy_share(), Some(0.75));
    /// ```
    pub fn busy_share(&self) -> Option<f64> {
        let capacity = self.interval.as_secs_f64() * self.workers as f64;
        (capacity > 0.0).then(|| (self.busy_in_interval.as_secs_f64() / capacity).clamp(0.0, 1.0))
    }

    /// One worker's share of the interval spent busy, 0 to 1.
    pub fn worker_busy_share(&self, worker: usize) -> Option<f64> {
        let busy = self.worker_busy_in_interval.get(worker)?;
        let interval = self.interval.as_secs_f64();
        (interval > 0.0).then(|| (busy.as_secs_f64() / interval).clamp(0.0, 1.0))
    }
}

static LATEST: Mutex<Vec<RuntimeSnapshot>> = Mutex::new(Vec::new());

fn lock() -> std::sync::MutexGuard<'static, Vec<RuntimeSnapshot>> {
    LATEST.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The latest reading of every runtime watched, by name.
pub(crate) fn latest() -> Vec<RuntimeSnapshot> {
    lock().clone()
}

/// Keeps a runtime's newest reading in place of its last.
#[cfg(feature = "runtime")]
pub(crate) fn publish(reading: RuntimeSnapshot) {
    let mut latest = lock();
    match latest.iter_mut().find(|r| r.name == reading.name) {
        Some(r) => *r = reading,
        None => {
            latest.push(reading);
            latest.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
}

/// Forgets runtimes no longer watched, and frees their names.
#[cfg(feature = "runtime")]
pub(crate) fn forget(names: &[String]) {
    lock().retain(|r| !names.contains(&r.name));
    WATCHED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|n| !names.contains(n));
}

/// The names running monitors watch: one monitor per name in the process.
#[cfg(feature = "runtime")]
static WATCHED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Claims `names` for a monitor; the first one another monitor already watches, if any
/// (then none is claimed).
#[cfg(feature = "runtime")]
pub(crate) fn claim(names: &[String]) -> Option<String> {
    let mut watched = WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(taken) = names.iter().find(|n| watched.contains(n)) {
        return Some(taken.clone());
    }
    watched.extend(names.iter().cloned());
    None
}
