//! The recorder of this process as a source of frames (the embedded dashboard).

use std::collections::HashMap;
use std::sync::Arc;

use std::time::Duration;

use super::{
    CallerEdge, Dist, Explicit, Frame, KindCount, RuntimeSeries, Series, SeriesKind, SourceStatus,
};
use crate::record::runtime::RuntimeSnapshot;
use crate::record::snapshot::Snapshot;
use crate::words::outcome::PerOutcome;

type Key = (&'static str, &'static str, &'static str);

/// Turns [`crate::record::snapshot::snapshot()`]s into frames, remembering when each error kind last grew.
#[derive(Debug, Default)]
pub(crate) struct RecorderSource {
    service: Arc<str>,
    last: HashMap<Key, Arc<Series>>,
    calls: HashMap<Key, u64>,
}

impl RecorderSource {
    /// A source for a process named `service` (its `OTEL_SERVICE_NAME`, or the binary's name).
    pub(crate) fn new(service: &str) -> RecorderSource {
        RecorderSource {
            service: service.into(),
            ..RecorderSource::default()
        }
    }

    /// The frame for the recorder's state now.
    #[cfg(feature = "tui")]
    pub(crate) fn frame(&mut self) -> Frame {
        self.frame_from(&crate::record::snapshot::snapshot())
    }

    /// The frame for `snapshot` (cumulative).
    pub(crate) fn frame_from(&mut self, snapshot: &Snapshot) -> Frame {
        let at = snapshot.taken_at;
        let mut series = Vec::with_capacity(snapshot.functions.len());
        let mut kind_overflow = 0;
        for f in &snapshot.functions {
            let key: Key = (f.name, f.module, f.target);
            let calls = f.calls();
            let previous = self.last.get(&key);
            // Unchanged functions keep their Arc: the checkpoints share them.
            if let Some(p) = previous
                && self.calls.get(&key) == Some(&calls)
                && p.in_flight == f.in_flight as i64
                && p.scheduling.count() == f.scheduling.count()
            {
                series.push(p.clone());
                continue;
            }
            let mut s = Series::new(&self.service, f.name, f.module, SeriesKind::Function);
            s.pattern = f.pattern;
            s.calls = PerOutcome::from_fn(|o| f.count(o));
            s.in_flight = f.in_flight as i64;
            s.polls = f.polls();
            s.slow_polls = f.slow_polls();
            s.busy_seconds = f.busy().sum as f64 / 1e9;
            // Spans timed for their wall time only, and the patterns' waits, have none.
            s.has_busy = f.busy_ratio().is_some();
            s.latency = Dist::Hdr(f.wall());
            if !f.scheduling.is_empty() {
                s.scheduling = Dist::Hdr(f.scheduling.clone());
            }
            if !f.attempts.is_empty() {
                s.attempts = attempts_dist(&f.attempts);
            }
            s.callers = f
                .callers
                .iter()
                .map(|c| CallerEdge {
                    caller: crate::words::names::qualified(c.module, c.name).into(),
                    calls: c.calls,
                    wall: c.wall.as_secs_f64(),
                    busy: c.busy.as_secs_f64(),
                    self_busy: c.self_busy.as_secs_f64(),
                })
                .collect();
            s.error_kinds = f
                .error_kinds
                .iter()
                .map(|k| {
                    let before =
                        previous.and_then(|p| p.error_kinds.iter().find(|o| &*o.kind == k.kind));
                    let last_seen = match before {
                        Some(b) if b.count == k.count => b.last_seen,
                        _ => Some(at),
                    };
                    KindCount {
                        kind: k.kind.into(),
                        count: k.count,
                        last_seen,
                    }
                })
                .collect();
            kind_overflow += f.overflowed_errors();
            let s = Arc::new(s);
            self.last.insert(key, s.clone());
            self.calls.insert(key, calls);
            series.push(s);
        }
        // Spans over the layer's function limit are counted under one overflow function.
        let overflow = snapshot
            .functions
            .iter()
            .filter(|f| f.name == crate::words::names::OVERFLOW_KIND)
            .map(|f| f.calls())
            .sum();
        let e = &snapshot.exports;
        Frame {
            at,
            series,
            status: SourceStatus {
                label: "in-process".into(),
                connection: "live".into(),
                services: 1,
                dropped: 0,
                overflow,
                rejected: 0,
                export_dropped: e.dropped_points + e.dropped_spans,
                kind_overflow,
                last_rejection: None,
            },
            tasks: None,
            runtimes: snapshot
                .runtimes
                .iter()
                .map(|r| Arc::new(runtime_series(&self.service, r)))
                .collect(),
        }
    }
}

/// A runtime monitor's reading as the dashboard holds it.
fn runtime_series(service: &Arc<str>, r: &RuntimeSnapshot) -> RuntimeSeries {
    let u = r.unstable.as_ref();
    RuntimeSeries {
        service: service.clone(),
        name: r.name.as_str().into(),
        workers: r.workers,
        alive_tasks: r.alive_tasks,
        global_queue_depth: r.global_queue_depth,
        worker_busy: r.worker_busy.iter().map(Duration::as_secs_f64).collect(),
        busy_read_at: Some(r.read_at.as_secs_f64()),
        worker_parks: r.worker_parks.clone(),
        blocking_threads: u.map(|u| u.blocking_threads),
        idle_blocking_threads: u.map(|u| u.idle_blocking_threads),
        blocking_queue_depth: u.map(|u| u.blocking_queue_depth),
        poll_time: u.filter(|u| !u.poll_time.is_empty()).map(|u| {
            Dist::Explicit(Explicit {
                bounds: u.poll_time[..u.poll_time.len() - 1]
                    .iter()
                    .map(|b| b.to.as_secs_f64())
                    .collect(),
                counts: u.poll_time.iter().map(|b| b.count).collect(),
                sum: 0.0,
                min: None,
                max: None,
            })
        }),
    }
}

impl Frame {
    /// A snapshot of this process's recorder as a frame of service `service`: what the
    /// dashboard shows when it reads the recorder. Every error kind counts as last seen now.
    ///
    /// ```
    /// #[taskscope::measure]
    /// fn work() -> Option<u8> { None }
    /// work();
    /// let frame = taskscope::frame::Frame::of_snapshot(&taskscope::snapshot(), "app");
    /// let s = frame.series.iter().find(|s| &*s.function == "work").unwrap();
    /// assert_eq!(s.calls[taskscope::Outcome::Error], 1);
    /// ```
    pub fn of_snapshot(snapshot: &Snapshot, service: &str) -> Frame {
        RecorderSource::new(service).frame_from(snapshot)
    }
}

/// The name the embedded dashboard shows for this process.
#[cfg(feature = "tui")]
pub(crate) fn service_name() -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "app".into())
}

/// A retried operation's attempts as a distribution of attempts, in the buckets the
/// exporters write (1 to 15, and 16 or more).
pub(crate) fn attempts_dist(a: &crate::record::attempts::Attempts) -> Dist {
    let total: u64 = (1u64..).zip(&a.counts).map(|(n, &c)| n * c).sum();
    Dist::Explicit(Explicit {
        bounds: (1..crate::record::attempts::ATTEMPT_BUCKETS)
            .map(|n| n as f64)
            .collect(),
        counts: a.counts.to_vec(),
        sum: total as f64,
        min: a.counts.iter().position(|&c| c > 0).map(|i| i as f64 + 1.0),
        max: a.max().map(|m| m as f64),
    })
}
