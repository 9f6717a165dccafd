//! The export thread: reads the recorder every interval, queues the request, sends with
//! retries and backoff, drops and counts what it cannot send. The measured code never
//! waits for any of it: the recorder is read without locks, on this thread.

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use prost::Message;
use tokio::sync::mpsc;

use super::Temporality;
use super::config::Settings;
use super::encode::{Envelope, Frame, Framed, Points};
use super::spans::{self, Timed};
use super::transport::{Signal, Transport};
use crate::export::stats::{self, ExportStats};
use crate::record::samples;
use crate::record::snapshot::Snapshot;

/// A request to the worker from the exporter handle.
pub(crate) enum Command {
    /// Export now and answer once the queue is empty (sent or dropped).
    Flush(std_mpsc::Sender<ExportStats>),
    /// Export a last time, then stop.
    Shutdown(std_mpsc::Sender<ExportStats>),
}

/// One encoded request waiting to be sent.
struct Batch {
    signal: Signal,
    body: Bytes,
    /// Data points (metrics) or spans (traces) in it.
    items: u64,
}

impl Batch {
    fn count_dropped(&self) {
        match self.signal {
            Signal::Metrics => stats::count_dropped(self.items),
            Signal::Traces => stats::count_dropped_spans(self.items),
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Runs the worker on the current thread until shutdown or until every handle is gone.
/// `started` receives `Ok` once the transport is built.
pub(crate) fn run(
    settings: Settings,
    mut commands: mpsc::Receiver<Command>,
    started: std_mpsc::Sender<Result<(), String>>,
) {
    let Some(runtime) = crate::background::runtime(&started, "export") else {
        return;
    };
    runtime.block_on(async move {
        let transport = match Transport::new(&settings) {
            Ok(t) => t,
            Err(e) => {
                let _ = started.send(Err(e));
                return;
            }
        };
        // Sampling is on before `try_start` returns: the first calls are sampled too.
        samples::set_ratio(settings.trace_sampling);
        let _ = started.send(Ok(()));
        let mut worker = Worker {
            // The recorder's start, as wall-clock time: the start of cumulative counts.
            recorder_start_ns: unix_now()
                .saturating_sub(crate::clock::since_start().as_nanos() as u64),
            previous: None,
            queue: VecDeque::new(),
            points: Points::default(),
            framed: Framed::default(),
            settings,
            transport,
        };
        let mut ticker = tokio::time::interval(worker.settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await; // the first tick is immediate: the first export is one interval in
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    worker.collect();
                    worker.drain().await;
                }
                command = commands.recv() => {
                    worker.collect();
                    worker.drain().await;
                    match command {
                        Some(Command::Flush(ack)) => {
                            let _ = ack.send(ExportStats::read());
                        }
                        Some(Command::Shutdown(ack)) => {
                            samples::set_ratio(0.0);
                            let _ = ack.send(ExportStats::read());
                            return;
                        }
                        None => {
                            samples::set_ratio(0.0);
                            return;
                        }
                    }
                }
            }
        }
    });
}

struct Worker {
    settings: Settings,
    recorder_start_ns: u64,
    /// The previous cumulative snapshot and its time, for delta temporality.
    previous: Option<(Snapshot, u64)>,
    queue: VecDeque<Batch>,
    /// Scratch kept from export to export, so that an export allocates little.
    points: Points,
    framed: Framed,
    transport: Transport,
}

impl Worker {
    /// Reads the recorder and queues one request.
    fn collect(&mut self) {
        let now = unix_now();
        let cumulative = crate::record::snapshot::snapshot();
        let (snap, start) = match self.settings.temporality {
            Temporality::Cumulative => {
                // A newer cumulative batch carries everything an older one did: the older
                // metrics batches waiting in the queue are superseded, not lost.
                self.queue.retain(|b| matches!(b.signal, Signal::Traces));
                (cumulative, self.recorder_start_ns)
            }
            Temporality::Delta => {
                let (delta, start) = match &self.previous {
                    Some((prev, at)) => (cumulative.delta(prev), *at),
                    None => (cumulative.clone(), self.recorder_start_ns),
                };
                self.previous = Some((cumulative, now));
                (delta, start)
            }
        };
        let frame = Frame {
            start_unix_ns: start,
            now_unix_ns: now,
            temporality: self.settings.temporality,
        };
        #[allow(unused_mut)]
        let mut sampled = samples::take();
        // Through the application's tracer: its pipeline sends them, not this worker. On a
        // thread of its own, outside this runtime: an SDK may block on a runtime of its own.
        #[cfg(feature = "otel-sdk")]
        let forwarded = match &self.settings.tracer {
            Some(tracer) if !sampled.is_empty() => {
                let start = self.recorder_start_ns;
                let sent = sampled.len();
                let kept = crate::background::outside_runtime("taskscope-otel-spans", || {
                    super::super::otel::spans::forward(tracer, &mut sampled, start);
                    sampled
                });
                sampled = kept.unwrap_or_else(|| {
                    stats::count_dropped_spans(sent as u64);
                    Vec::new()
                });
                true
            }
            Some(_) => true,
            None => false,
        };
        #[cfg(not(feature = "otel-sdk"))]
        let forwarded = false;
        let timed: Vec<Timed<'_>> = sampled
            .iter()
            .map(|c| Timed::of(c, self.recorder_start_ns))
            .collect();
        self.framed.clear();
        self.points.fill(
            &mut self.framed,
            &snap,
            frame,
            &self.settings.histograms,
            ExportStats::read(),
            &timed,
        );
        let body = self.framed.encode(&Envelope {
            frame,
            histograms: &self.settings.histograms,
            resource: &self.settings.resource,
        });
        let metrics = Batch {
            signal: Signal::Metrics,
            body: self.transport.prepare(&body),
            items: self.points.count,
        };
        if !timed.is_empty() && !forwarded {
            let request = spans::request(&timed, &self.settings.resource);
            let body = self.transport.prepare(&request.encode_to_vec());
            self.push(Batch {
                signal: Signal::Traces,
                body,
                items: timed.len() as u64,
            });
        }
        self.push(metrics);
    }

    fn push(&mut self, batch: Batch) {
        if self.queue.len() >= self.settings.queue
            && let Some(oldest) = self.queue.pop_front()
        {
            oldest.count_dropped();
        }
        self.queue.push_back(batch);
    }

    /// Sends the queued batches, oldest first, each with up to `max_attempts` attempts and
    /// exponential backoff; a batch that cannot be sent is dropped and counted.
    async fn drain(&mut self) {
        while let Some(batch) = self.queue.pop_front() {
            let mut backoff = Duration::from_millis(100);
            let mut attempt = 1;
            loop {
                match self.transport.send(batch.signal, &batch.body).await {
                    Ok(refused) => {
                        stats::count_export();
                        if refused.points > 0 {
                            stats::count_refused(refused.points, refused.message);
                        }
                        break;
                    }
                    Err(e) => {
                        stats::count_failed_attempt(e.message);
                        if !e.retryable || attempt >= self.settings.max_attempts {
                            batch.count_dropped();
                            break;
                        }
                        // The collector's own wait, when it gives one.
                        tokio::time::sleep(e.retry_after.map_or(backoff, |r| r.max(backoff))).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        attempt += 1;
                    }
                }
            }
        }
    }
}
