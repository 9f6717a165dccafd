//! The user's own OpenTelemetry pipeline (cargo feature `otel-sdk`): taskscope's numbers as
//! observable instruments on the user's `Meter`, and its sampled calls as spans through the
//! user's `TracerProvider` (see `OtlpBuilder::with_tracer_provider`).
//!
//! Histograms are the exception: the OpenTelemetry SDK for Rust takes no aggregated data
//! from outside (its aggregations are crate-private; a metric producer hook is
//! opentelemetry-rust issue 1670), so latency histograms keep going through taskscope's own
//! exporter (`taskscope::otlp()`) or scrape endpoint.

pub(crate) mod spans;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

use crate::record::snapshot::FunctionSnapshot;
use crate::record::snapshot::Snapshot;
use crate::words::names::{self, attr, metric};
use crate::words::outcome::Outcome;

/// One snapshot serves every instrument of one collection: the SDK calls each callback in
/// turn, within a few microseconds.
const SHARED_FOR: Duration = Duration::from_millis(250);

/// The latest snapshot and when it was taken.
#[derive(Default)]
struct Shared {
    latest: Mutex<Option<(Instant, Arc<Snapshot>)>>,
}

impl Shared {
    fn get(&self) -> Arc<Snapshot> {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        match &*latest {
            Some((at, snap)) if at.elapsed() < SHARED_FOR => Arc::clone(snap),
            _ => {
                let snap = Arc::new(crate::record::snapshot::snapshot());
                *latest = Some((Instant::now(), Arc::clone(&snap)));
                snap
            }
        }
    }
}

/// The attributes of a point, as the OTLP exporter writes them: the function, the outcome,
/// the error's kind or the overflow mark.
fn attributes(f: &FunctionSnapshot, outcome: Option<Outcome>, kind: Option<&str>) -> Vec<KeyValue> {
    let mut out = vec![KeyValue::new(
        attr::FUNCTION,
        names::qualified(f.module, f.name),
    )];
    if f.pattern != crate::words::function::Pattern::Function {
        out.push(KeyValue::new(attr::KIND, f.pattern.as_str()));
    }
    if let Some(o) = outcome {
        out.push(KeyValue::new(attr::OUTCOME, o.as_str()));
    }
    let overflowed = kind == Some(crate::words::names::OVERFLOW_KIND)
        || f.name == crate::words::names::OVERFLOW_KIND;
    match kind {
        Some(k) if k != crate::words::names::OVERFLOW_KIND => {
            out.push(KeyValue::new(attr::ERROR_TYPE, k.to_owned()));
        }
        _ => {}
    }
    if overflowed {
        out.push(KeyValue::new(attr::OVERFLOW, true));
    }
    out
}

/// Calls by outcome, errors by kind (and the errors without one), as `(attributes, count)`.
fn calls(snap: &Snapshot) -> Vec<(Vec<KeyValue>, u64)> {
    let mut out = Vec::new();
    for f in &snap.functions {
        for o in Outcome::ALL {
            let count = f.stats(o).count;
            if count == 0 {
                continue;
            }
            if o == Outcome::Error {
                let mut counted = 0;
                for k in &f.error_kinds {
                    out.push((attributes(f, Some(o), Some(k.kind)), k.count));
                    counted += k.count;
                }
                if counted < count {
                    out.push((attributes(f, Some(o), None), count - counted));
                }
            } else {
                out.push((attributes(f, Some(o), None), count));
            }
        }
    }
    out
}

/// Registers taskscope's counts on the user's `Meter` as observable instruments, read from
/// the recorder at each of the SDK's collections (one snapshot for all of them), under the
/// names and attributes of taskscope's own OTLP export (`docs/METRICS.md`):
///
/// - `function.calls` (counter, `{call}`): finished calls by `code.function.name`,
///   `taskscope.outcome` and, for errors, `error.type`;
/// - `function.calls.concurrent` (up-down counter, `{call}`): calls in flight;
/// - `function.calls.polls` and `function.calls.slow_polls` (counters, `{poll}`): polls of
///   finished calls, and those over the slow-poll threshold, by outcome.
///
/// The SDK's exporter, resource, temporality and views then apply to them like to any
/// other instrument. Latency histograms cannot be handed to the SDK (see the module
/// documentation): keep `taskscope::otlp()` or `taskscope::prometheus()` for those.
///
/// ```
/// use opentelemetry::metrics::MeterProvider;
/// use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
///
/// #[taskscope::measure]
/// fn charge(cents: u64) -> Result<u64, std::io::Error> {
///     Ok(cents)
/// }
///
/// let exporter = InMemoryMetricExporter::default();
/// let provider = SdkMeterProvider::builder()
///     .with_reader(PeriodicReader::builder(exporter.clone()).build())
///     .build();
/// taskscope::otel::observe(&provider.meter("my-app"));
///
/// charge(250).unwrap();
/// provider.force_flush().unwrap();
/// let exported = exporter.get_finished_metrics().unwrap();
/// let names: Vec<_> = exported[0].scope_metrics().flat_map(|s| s.metrics()).map(|m| m.name()).collect();
/// assert!(names.contains(&"function.calls"));
/// ```
pub fn observe(meter: &Meter) {
    let shared = Arc::new(Shared::default());
    let s = Arc::clone(&shared);
    meter
        .u64_observable_counter(metric::CALLS.name)
        .with_description(metric::CALLS.description)
        .with_unit(metric::CALLS.unit)
        .with_callback(move |observer| {
            for (attributes, count) in calls(&s.get()) {
                observer.observe(count, &attributes);
            }
        })
        .build();
    let s = Arc::clone(&shared);
    meter
        .i64_observable_up_down_counter(metric::CONCURRENT.name)
        .with_description(metric::CONCURRENT.description)
        .with_unit(metric::CONCURRENT.unit)
        .with_callback(move |observer| {
            for f in &s.get().functions {
                let in_flight = i64::try_from(f.in_flight).unwrap_or(i64::MAX);
                observer.observe(in_flight, &attributes(f, None, None));
            }
        })
        .build();
    for (m, slow) in [(metric::POLLS, false), (metric::SLOW_POLLS, true)] {
        let s = Arc::clone(&shared);
        meter
            .u64_observable_counter(m.name)
            .with_description(m.description)
            .with_unit(m.unit)
            .with_callback(move |observer| {
                for f in &s.get().functions {
                    for o in Outcome::ALL {
                        let stats = f.stats(o);
                        if stats.count > 0 {
                            let value = if slow { stats.slow_polls } else { stats.polls };
                            observer.observe(value, &attributes(f, Some(o), None));
                        }
                    }
                }
            })
            .build();
    }
}
