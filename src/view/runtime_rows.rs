//! The tokio runtimes over the chosen window: how busy their workers were, how the global
//! queue moved, and the warnings that tell a starved executor from a slow function.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::rows::{History, SPARK_TICKS, Window};
use crate::frame::{Frame, RuntimeSeries};

/// A runtime is saturated when its workers were at least this busy over the window (and
/// its global queue grew).
pub(crate) const SATURATED_BUSY: f64 = 0.9;

type Key = (Arc<str>, Arc<str>);

/// Per-tick figures of each runtime, for the Runtime screen's sparklines.
#[derive(Debug, Default)]
pub(crate) struct RuntimeTicks {
    ticks: HashMap<Key, VecDeque<RuntimeTick>>,
    last: HashMap<Key, (Duration, Arc<RuntimeSeries>)>,
}

/// One runtime between two frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RuntimeTick {
    /// All workers' busy share.
    pub(crate) busy: Option<f64>,
    /// Each worker's.
    pub(crate) workers: Vec<Option<f64>>,
    /// The global queue at the newer frame.
    pub(crate) queue: usize,
}

impl RuntimeTicks {
    /// Takes the newest frame.
    pub(crate) fn push(&mut self, frame: &Frame) {
        let mut seen = HashMap::with_capacity(frame.runtimes.len());
        for r in &frame.runtimes {
            let key = r.key();
            if let Some((at, before)) = self.last.get(&key) {
                let span = reading_span(r, before, frame.at.saturating_sub(*at));
                if r.busy_read_at.is_some() && r.busy_read_at == before.busy_read_at {
                    // The same reading again: a tick comes with the next one.
                    seen.insert(key, (*at, before.clone()));
                    continue;
                }
                let ticks = self.ticks.entry(key.clone()).or_default();
                ticks.push_back(RuntimeTick {
                    busy: busy_share(r, before, span),
                    workers: (0..r.worker_busy.len())
                        .map(|w| worker_share(r, before, w, span))
                        .collect(),
                    queue: r.global_queue_depth,
                });
                if ticks.len() > SPARK_TICKS {
                    ticks.pop_front();
                }
            }
            seen.insert(key, (frame.at, r.clone()));
        }
        self.ticks.retain(|k, _| seen.contains_key(k));
        self.last = seen;
    }

    /// A runtime's ticks, oldest first.
    pub(crate) fn of(&self, key: &Key) -> Vec<RuntimeTick> {
        self.ticks
            .get(key)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The seconds between two readings of a runtime: their own times where the source gives
/// them (a frame may carry a reading up to one monitor interval old), else the frames'.
fn reading_span(now: &RuntimeSeries, before: &RuntimeSeries, frames: Duration) -> f64 {
    match (now.busy_read_at, before.busy_read_at) {
        (Some(now), Some(before)) => (now - before).max(0.0),
        _ => frames.as_secs_f64(),
    }
}

/// A runtime's workers' busy share between two of its readings `span` seconds apart.
fn busy_share(now: &RuntimeSeries, before: &RuntimeSeries, span: f64) -> Option<f64> {
    let workers = now.workers.max(now.worker_busy.len());
    if span <= 0.0 || workers == 0 || now.worker_busy.is_empty() {
        return None;
    }
    let busy: f64 = (0..now.worker_busy.len())
        .map(|w| delta(now, before, w))
        .sum();
    Some((busy / (span * workers as f64)).clamp(0.0, 1.0))
}

fn worker_share(now: &RuntimeSeries, before: &RuntimeSeries, w: usize, span: f64) -> Option<f64> {
    (span > 0.0 && w < now.worker_busy.len())
        .then(|| (delta(now, before, w) / span).clamp(0.0, 1.0))
}

fn delta(now: &RuntimeSeries, before: &RuntimeSeries, w: usize) -> f64 {
    let then = before.worker_busy.get(w).copied().unwrap_or(0.0);
    (now.worker_busy[w] - then).max(0.0)
}

/// What a runtime warns of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuntimeWarning {
    /// Every worker busy over the window while the global queue grew.
    Saturated,
    /// Blocking tasks waiting and no idle thread in the pool.
    BlockingPoolExhausted,
}

/// One runtime over the window.
#[derive(Clone, Debug)]
pub(crate) struct RuntimeRow {
    pub(crate) series: Arc<RuntimeSeries>,
    /// All workers' busy share over the window.
    pub(crate) busy: Option<f64>,
    /// Each worker's.
    pub(crate) worker_busy: Vec<Option<f64>>,
    /// The global queue at the window's start (the runtime's first reading in it).
    pub(crate) queue_before: usize,
    /// Per tick, newest last.
    pub(crate) ticks: Vec<RuntimeTick>,
    pub(crate) warnings: Vec<RuntimeWarning>,
}

impl RuntimeWarning {
    /// The warning in a few words.
    pub(crate) fn label(self) -> &'static str {
        match self {
            RuntimeWarning::Saturated => "executor saturated",
            RuntimeWarning::BlockingPoolExhausted => "blocking pool exhausted",
        }
    }
}

impl RuntimeRow {
    /// Whether the runtime is saturated over the window.
    pub(crate) fn saturated(&self) -> bool {
        self.warnings.contains(&RuntimeWarning::Saturated)
    }
}

/// Every runtime of the newest frame, over `window`.
pub(crate) fn runtime_rows(
    history: &History,
    ticks: &RuntimeTicks,
    window: Window,
) -> Vec<RuntimeRow> {
    let Some(latest) = history.latest() else {
        return Vec::new();
    };
    let base = history.base(window);
    let frames_span = history.span(window);
    latest
        .runtimes
        .iter()
        .map(|r| {
            let before = base.and_then(|b| b.runtimes.iter().find(|o| o.key() == r.key()));
            let span = before.map_or(0.0, |b| reading_span(r, b, frames_span));
            let (busy, worker_busy) = match before {
                Some(b) if span > 0.0 => (
                    busy_share(r, b, span),
                    (0..r.worker_busy.len())
                        .map(|w| worker_share(r, b, w, span))
                        .collect(),
                ),
                _ => (None, vec![None; r.worker_busy.len()]),
            };
            let queue_before = before.map_or(r.global_queue_depth, |b| b.global_queue_depth);
            let mut warnings = Vec::new();
            if busy.is_some_and(|b| b >= SATURATED_BUSY) && r.global_queue_depth > queue_before {
                warnings.push(RuntimeWarning::Saturated);
            }
            if r.blocking_queue_depth.is_some_and(|q| q > 0) && r.idle_blocking_threads == Some(0) {
                warnings.push(RuntimeWarning::BlockingPoolExhausted);
            }
            RuntimeRow {
                series: r.clone(),
                busy,
                worker_busy,
                queue_before,
                ticks: ticks.of(&r.key()),
                warnings,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(at: u64, busy: [f64; 2], queue: usize) -> Arc<Frame> {
        Arc::new(Frame {
            at: Duration::from_secs(at),
            runtimes: vec![Arc::new(RuntimeSeries {
                service: "svc".into(),
                name: "api".into(),
                workers: 2,
                global_queue_depth: queue,
                worker_busy: busy.to_vec(),
                ..RuntimeSeries::default()
            })],
            ..Frame::default()
        })
    }

    fn rows_of(frames: &[Arc<Frame>]) -> Vec<RuntimeRow> {
        let mut history = History::default();
        let mut ticks = RuntimeTicks::default();
        for f in frames {
            history.push(f.clone());
            ticks.push(f);
        }
        runtime_rows(&history, &ticks, Window::All)
    }

    #[test]
    fn busy_workers_with_a_growing_queue_are_saturated() {
        let rows = rows_of(&[frame(0, [0.0, 0.0], 0), frame(10, [9.5, 9.8], 40)]);
        let r = &rows[0];
        assert!((r.busy.unwrap() - 0.965).abs() < 1e-9, "{r:?}");
        let workers: Vec<f64> = r.worker_busy.iter().map(|b| b.unwrap()).collect();
        assert!((workers[0] - 0.95).abs() < 1e-9 && (workers[1] - 0.98).abs() < 1e-9);
        assert_eq!(r.warnings, [RuntimeWarning::Saturated]);
        assert_eq!(r.ticks.len(), 1);
        assert_eq!(r.ticks[0].queue, 40);
    }

    #[test]
    fn busy_with_an_empty_queue_or_idle_with_a_queue_is_not() {
        let busy = rows_of(&[frame(0, [0.0, 0.0], 0), frame(10, [10.0, 10.0], 0)]);
        assert!(busy[0].warnings.is_empty());
        let idle = rows_of(&[frame(0, [0.0, 0.0], 0), frame(10, [1.0, 1.0], 50)]);
        assert!(idle[0].warnings.is_empty());
    }

    #[test]
    fn an_exhausted_blocking_pool_is_a_warning() {
        let mut f = (*frame(0, [0.0; 2], 0)).clone();
        let r = Arc::make_mut(&mut f.runtimes[0]);
        (
            r.blocking_threads,
            r.idle_blocking_threads,
            r.blocking_queue_depth,
        ) = (Some(512), Some(0), Some(12));
        let rows = rows_of(&[Arc::new(f)]);
        assert_eq!(rows[0].warnings, [RuntimeWarning::BlockingPoolExhausted]);
    }

    /// A frame may carry a reading older than itself (the monitor reads at its interval):
    /// the share divides by the time between the readings, not between the frames.
    #[test]
    fn busy_divides_by_the_time_between_readings() {
        let read = |at: u64, read_at: f64, busy: f64, queue: usize| {
            let mut f = (*frame(at, [busy; 2], queue)).clone();
            Arc::make_mut(&mut f.runtimes[0]).busy_read_at = Some(read_at);
            Arc::new(f)
        };
        let rows = rows_of(&[read(0, 0.0, 0.0, 0), read(5, 4.0, 4.0, 900)]);
        assert!((rows[0].busy.unwrap() - 1.0).abs() < 1e-9, "{:?}", rows[0]);
        assert_eq!(rows[0].warnings, [RuntimeWarning::Saturated]);
        // The same reading in a later frame adds no tick of its own.
        let rows = rows_of(&[
            read(0, 0.0, 0.0, 0),
            read(1, 1.0, 1.0, 10),
            read(2, 1.0, 1.0, 10),
            read(3, 3.0, 2.0, 30),
        ]);
        let ticks: Vec<f64> = rows[0].ticks.iter().map(|t| t.busy.unwrap()).collect();
        assert_eq!(ticks, [1.0, 0.5]);
    }
}
