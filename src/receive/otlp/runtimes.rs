//! The tokio runtime metrics of a taskscope sender (its runtime monitor's `tokio.*` names,
//! `docs/METRICS.md`): each point sets the latest value of one runtime of one service;
//! counters are cumulative since the sender's monitor started, so the latest value is the
//! whole story. At most [`MAX_RUNTIMES`] runtimes and [`MAX_WORKERS`] workers each; the
//! rest counts as overflow.

use std::sync::Arc;

use opentelemetry_proto::tonic::metrics::v1::{
    HistogramDataPoint, Metric, NumberDataPoint, metric::Data, number_data_point,
};

use super::convert;
use crate::frame::{Dist, Explicit, RuntimeSeries};
use crate::words::names::{attr, metric::runtime as m};

/// Runtimes kept, all services together.
pub const MAX_RUNTIMES: usize = 64;
/// Workers kept per runtime.
pub const MAX_WORKERS: usize = 1024;

/// What the points of one metric came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Counted {
    pub(super) accepted: u64,
    pub(super) overflow: u64,
    pub(super) invalid: u64,
}

/// Whether `metric` is one of the runtime monitor's.
pub(super) fn is_runtime_metric(metric: &Metric) -> bool {
    m::ALL.iter().any(|r| r.name == metric.name)
}

/// Applies a runtime metric's points to `runtimes`.
pub(super) fn ingest(
    runtimes: &mut Vec<Arc<RuntimeSeries>>,
    service: &str,
    metric: &Metric,
) -> Counted {
    let mut counted = Counted::default();
    let numbers: &[NumberDataPoint] = match &metric.data {
        Some(Data::Sum(s)) => &s.data_points,
        Some(Data::Gauge(g)) => &g.data_points,
        Some(Data::Histogram(h)) if metric.name == m::POLL_TIME.name => {
            for p in &h.data_points {
                counted.add(poll_time(runtimes, service, p));
            }
            return counted;
        }
        _ => {
            counted.invalid += 1;
            return counted;
        }
    };
    for p in numbers {
        counted.add(number(runtimes, service, &metric.name, p));
    }
    counted
}

impl Counted {
    fn add(&mut self, r: Result<(), Refused>) {
        match r {
            Ok(()) => self.accepted += 1,
            Err(Refused::Overflow) => self.overflow += 1,
            Err(Refused::Invalid) => self.invalid += 1,
        }
    }
}

enum Refused {
    Overflow,
    Invalid,
}

/// The runtime a point is about, made on first sight.
fn runtime<'a>(
    runtimes: &'a mut Vec<Arc<RuntimeSeries>>,
    service: &str,
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> Result<&'a mut RuntimeSeries, Refused> {
    let name = convert::str_attr(attrs, attr::RUNTIME).ok_or(Refused::Invalid)?;
    let name = convert::cut(name, 256);
    let at = match runtimes
        .iter()
        .position(|r| &*r.service == service && &*r.name == name)
    {
        Some(at) => at,
        None if runtimes.len() < MAX_RUNTIMES => {
            runtimes.push(Arc::new(RuntimeSeries {
                service: service.into(),
                name: crate::words::text::printable(name).into(),
                ..RuntimeSeries::default()
            }));
            runtimes.sort_by_key(|r| r.key());
            runtimes
                .iter()
                .position(|r| &*r.service == service && &*r.name == name)
                .ok_or(Refused::Invalid)?
        }
        None => return Err(Refused::Overflow),
    };
    Ok(Arc::make_mut(&mut runtimes[at]))
}

fn number(
    runtimes: &mut Vec<Arc<RuntimeSeries>>,
    service: &str,
    name: &str,
    p: &NumberDataPoint,
) -> Result<(), Refused> {
    let value = match p.value {
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        Some(number_data_point::Value::AsDouble(d)) if d.is_finite() => d,
        _ => return Err(Refused::Invalid),
    }
    .max(0.0);
    let worker = convert::attr(&p.attributes, attr::WORKER)
        .map(|v| convert::int_value(v).and_then(|w| usize::try_from(w).ok()))
        .map(|w| w.ok_or(Refused::Invalid))
        .transpose()?;
    if worker.is_some_and(|w| w >= MAX_WORKERS) {
        return Err(Refused::Overflow);
    }
    let r = runtime(runtimes, service, &p.attributes)?;
    let count = value.round() as usize;
    let slot = |v: &mut Vec<f64>, w: usize| {
        if v.len() <= w {
            v.resize(w + 1, 0.0);
        }
        w
    };
    match (name, worker) {
        (n, None) if n == m::WORKERS.name => r.workers = count,
        (n, None) if n == m::TASKS.name => r.alive_tasks = count,
        (n, None) if n == m::GLOBAL_QUEUE.name => r.global_queue_depth = count,
        (n, None) if n == m::BLOCKING_THREADS.name => r.blocking_threads = Some(count),
        (n, None) if n == m::BLOCKING_IDLE.name => r.idle_blocking_threads = Some(count),
        (n, None) if n == m::BLOCKING_QUEUE.name => r.blocking_queue_depth = Some(count),
        (n, Some(w)) if n == m::BUSY.name => {
            let w = slot(&mut r.worker_busy, w);
            r.worker_busy[w] = value;
            r.busy_read_at = (p.time_unix_nano > 0).then(|| p.time_unix_nano as f64 / 1e9);
        }
        (n, Some(w)) if n == m::PARKS.name => {
            if r.worker_parks.len() <= w {
                r.worker_parks.resize(w + 1, 0);
            }
            r.worker_parks[w] = value as u64;
        }
        // The counters the dashboard does not show yet are accepted and left.
        (n, None) if m::ALL.iter().any(|r| r.name == n) => {}
        _ => return Err(Refused::Invalid),
    }
    Ok(())
}

fn poll_time(
    runtimes: &mut Vec<Arc<RuntimeSeries>>,
    service: &str,
    p: &HistogramDataPoint,
) -> Result<(), Refused> {
    let valid = p.bucket_counts.len() == p.explicit_bounds.len() + 1
        && p.explicit_bounds.windows(2).all(|w| w[0] < w[1])
        && p.explicit_bounds.iter().all(|b| b.is_finite());
    if !valid {
        return Err(Refused::Invalid);
    }
    let r = runtime(runtimes, service, &p.attributes)?;
    r.poll_time = Some(Dist::Explicit(Explicit {
        bounds: p.explicit_bounds.clone(),
        counts: p.bucket_counts.clone(),
        sum: p.sum.unwrap_or(0.0),
        min: p.min,
        max: p.max,
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::metrics::v1::Sum;

    fn kv(k: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn sum(name: &str, points: Vec<(Vec<KeyValue>, f64)>) -> Metric {
        Metric {
            name: name.into(),
            data: Some(Data::Sum(Sum {
                data_points: points
                    .into_iter()
                    .map(|(attributes, v)| NumberDataPoint {
                        attributes,
                        value: Some(number_data_point::Value::AsDouble(v)),
                        time_unix_nano: 7_000_000_000,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn runtime(name: &str) -> KeyValue {
        kv(attr::RUNTIME, any_value::Value::StringValue(name.into()))
    }

    #[test]
    fn points_set_their_runtime_and_worker_and_bad_ones_are_counted() {
        let mut runtimes = Vec::new();
        let worker = |w: &str| kv(attr::WORKER, any_value::Value::StringValue(w.into()));
        let c = ingest(
            &mut runtimes,
            "svc",
            &sum(
                m::BUSY.name,
                vec![
                    (vec![runtime("api"), worker("1")], 2.5),
                    (vec![runtime("api"), worker("x")], 1.0),
                    (vec![worker("0")], 1.0),
                    (vec![runtime("api"), worker("4096")], 1.0),
                ],
            ),
        );
        assert_eq!(
            c,
            Counted {
                accepted: 1,
                overflow: 1,
                invalid: 2
            }
        );
        assert_eq!(runtimes[0].worker_busy, vec![0.0, 2.5]);
        assert_eq!(runtimes[0].busy_read_at, Some(7.0));
        let c = ingest(
            &mut runtimes,
            "svc",
            &sum(m::WORKERS.name, vec![(vec![runtime("api")], 2.0)]),
        );
        assert_eq!(c.accepted, 1);
        assert_eq!(runtimes[0].workers, 2);
        assert_eq!(runtimes.len(), 1);
    }

    #[test]
    fn runtimes_past_the_cap_are_overflow() {
        let mut runtimes = Vec::new();
        let points = (0..MAX_RUNTIMES + 3)
            .map(|i| (vec![runtime(&format!("rt{i}"))], 1.0))
            .collect();
        let c = ingest(&mut runtimes, "svc", &sum(m::TASKS.name, points));
        assert_eq!((c.accepted, c.overflow), (MAX_RUNTIMES as u64, 3));
        assert_eq!(runtimes.len(), MAX_RUNTIMES);
    }
}
