use super::*;
use crate::frame::{Exponential, Series};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, Gauge, Histogram, ResourceMetrics, ScopeMetrics, Sum,
    exponential_histogram_data_point::Buckets,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;
const SEC: u64 = 1_000_000_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn request(service: &str, scope: &str, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: scope.into(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

fn int_point(attrs: Vec<KeyValue>, start: u64, time: u64, v: i64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsInt(v)),
        ..Default::default()
    }
}

fn sum(temporality: i32, points: Vec<NumberDataPoint>) -> Data {
    Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: temporality,
        is_monotonic: true,
    })
}

fn fn_attrs(function: &str, outcome: &str) -> Vec<KeyValue> {
    vec![
        kv("function", function),
        kv("module", "app::db"),
        kv("outcome", outcome),
    ]
}

/// `function.calls` for `load`: (outcome, kind, value) points at `time` seconds.
fn calls(temporality: i32, start: u64, time: u64, points: &[(&str, Option<&str>, i64)]) -> Metric {
    let points = points
        .iter()
        .map(|(outcome, kind, v)| {
            let mut a = fn_attrs("load", outcome);
            if let Some(k) = kind {
                a.push(kv("error.kind", k));
            }
            int_point(a, start, time * SEC, *v)
        })
        .collect();
    metric("function.calls", "{call}", sum(temporality, points))
}

fn exp_point(
    attrs: Vec<KeyValue>,
    start: u64,
    time: u64,
    scale: i32,
    offset: i32,
    counts: Vec<u64>,
    sum: f64,
) -> ExponentialHistogramDataPoint {
    ExponentialHistogramDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: time,
        count: counts.iter().fold(0u64, |a, &c| a.saturating_add(c)),
        sum: Some(sum),
        scale,
        positive: Some(Buckets {
            offset,
            bucket_counts: counts,
        }),
        ..Default::default()
    }
}

fn exp_metric(
    name: &str,
    unit: &str,
    temporality: i32,
    points: Vec<ExponentialHistogramDataPoint>,
) -> Metric {
    metric(
        name,
        unit,
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points: points,
            aggregation_temporality: temporality,
        }),
    )
}

fn explicit_metric(
    name: &str,
    unit: &str,
    temporality: i32,
    points: Vec<HistogramDataPoint>,
) -> Metric {
    metric(
        name,
        unit,
        Data::Histogram(Histogram {
            data_points: points,
            aggregation_temporality: temporality,
        }),
    )
}

fn explicit_point(
    attrs: Vec<KeyValue>,
    time: u64,
    bounds: &[f64],
    counts: &[u64],
    sum: f64,
) -> HistogramDataPoint {
    HistogramDataPoint {
        attributes: attrs,
        start_time_unix_nano: 1,
        time_unix_nano: time,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts.to_vec(),
        explicit_bounds: bounds.to_vec(),
        ..Default::default()
    }
}

fn at(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn find<'a>(frame: &'a Frame, function: &str) -> &'a Arc<Series> {
    frame
        .series
        .iter()
        .find(|s| &*s.function == function)
        .unwrap_or_else(|| {
            let names: Vec<_> = frame.series.iter().map(|s| &*s.function).collect();
            panic!("no series {function} in {names:?}")
        })
}

fn kinds(s: &Series) -> Vec<(&str, u64)> {
    s.error_kinds.iter().map(|k| (&*k.kind, k.count)).collect()
}

#[test]
fn cumulative_points_become_deltas() {
    let mut store = Store::new(100);
    let first = calls(
        CUMULATIVE,
        1,
        10,
        &[("ok", None, 5), ("error", Some("Timeout"), 2)],
    );
    let out = store.ingest(&request("shop", "taskscope", vec![first]), at(1));
    assert_eq!(out.accepted, 2);
    let f = store.frame(at(1));
    let s = find(&f, "load");
    assert_eq!(s.kind, SeriesKind::Function);
    assert_eq!((&*s.service, &*s.module), ("shop", "app::db"));
    assert_eq!(s.calls, [5, 2, 0, 0]);
    assert_eq!(kinds(s), [("Timeout", 2)]);
    assert_eq!(s.error_kinds[0].last_seen, Some(at(1)));

    let second = calls(
        CUMULATIVE,
        1,
        20,
        &[
            ("ok", None, 8),
            ("error", Some("Timeout"), 2),
            ("error", Some("Refused"), 1),
            ("cancelled", None, 4),
        ],
    );
    store.ingest(&request("shop", "taskscope", vec![second.clone()]), at(2));
    let f = store.frame(at(2));
    let s = find(&f, "load");
    assert_eq!(s.calls, [8, 3, 4, 0]);
    assert_eq!(kinds(s), [("Timeout", 2), ("Refused", 1)]);
    assert_eq!(
        s.error_kinds[0].last_seen,
        Some(at(1)),
        "Timeout did not grow"
    );
    assert_eq!(s.error_kinds[1].last_seen, Some(at(2)));

    // The same export again (a retry) adds nothing, and the series keeps its Arc.
    store.ingest(&request("shop", "taskscope", vec![second]), at(3));
    let again = store.frame(at(3));
    assert!(Arc::ptr_eq(find(&f, "load"), find(&again, "load")));
    assert_eq!(find(&again, "load").calls, [8, 3, 4, 0]);
}

#[test]
fn a_restart_counts_the_new_point_whole() {
    let mut store = Store::new(100);
    let send = |store: &mut Store, start, time, ok| {
        let m = calls(CUMULATIVE, start, time, &[("ok", None, ok)]);
        store.ingest(&request("shop", "taskscope", vec![m]), at(time));
    };
    send(&mut store, 1, 10, 100);
    send(&mut store, 1, 20, 150);
    // The service restarted: a new start time, and fewer calls than before.
    send(&mut store, 25 * SEC, 30, 7);
    assert_eq!(find(&store.frame(at(30)), "load").calls[Outcome::Ok], 157);
    // A new start time with a larger value counts whole too.
    send(&mut store, 35 * SEC, 40, 500);
    assert_eq!(find(&store.frame(at(40)), "load").calls[Outcome::Ok], 657);
    // The value went down without a start time (a sender that does not set it).
    send(&mut store, 35 * SEC, 50, 600);
    send(&mut store, 0, 60, 3);
    assert_eq!(find(&store.frame(at(60)), "load").calls[Outcome::Ok], 760);
}

#[test]
fn late_and_duplicate_cumulative_points_add_nothing() {
    let mut store = Store::new(100);
    let send = |store: &mut Store, time, ok| {
        let m = calls(CUMULATIVE, 1, time, &[("ok", None, ok)]);
        store.ingest(&request("shop", "taskscope", vec![m]), at(time));
    };
    send(&mut store, 20, 10);
    send(&mut store, 10, 4); // late: older than the stream's last point
    send(&mut store, 20, 12); // same time: a duplicate, whatever it says
    assert_eq!(find(&store.frame(at(30)), "load").calls[Outcome::Ok], 10);
    send(&mut store, 30, 15);
    assert_eq!(find(&store.frame(at(30)), "load").calls[Outcome::Ok], 15);
}

#[test]
fn delta_points_add_as_they_are() {
    let mut store = Store::new(100);
    for (i, (ok, err)) in [(3, 1), (4, 0), (2, 2)].into_iter().enumerate() {
        let t = i as u64 + 1;
        let m = calls(
            DELTA,
            (t - 1) * SEC,
            t,
            &[("ok", None, ok), ("error", Some("Refused"), err)],
        );
        store.ingest(&request("shop", "taskscope", vec![m]), at(t));
    }
    // The same delta point again (a retry): not counted twice.
    let m = calls(DELTA, 2 * SEC, 3, &[("ok", None, 2)]);
    store.ingest(&request("shop", "taskscope", vec![m]), at(4));
    let f = store.frame(at(4));
    let s = find(&f, "load");
    assert_eq!(s.calls, [9, 3, 0, 0]);
    assert_eq!(kinds(s), [("Refused", 3)]);
    assert_eq!(s.error_kinds[0].last_seen, Some(at(3)));
}

#[test]
fn taskscope_histograms_polls_and_in_flight() {
    let mut store = Store::new(100);
    let ok = fn_attrs("load", "ok");
    let err = fn_attrs("load", "error");
    let req = |time: u64, n: u64, busy: f64, in_flight: i64| {
        let t = time * SEC;
        request(
            "shop",
            "taskscope",
            vec![
                exp_metric(
                    "function.calls.duration",
                    "s",
                    CUMULATIVE,
                    vec![
                        exp_point(ok.clone(), 1, t, 6, -400, vec![n, n], 0.002 * n as f64),
                        exp_point(err.clone(), 1, t, 6, -300, vec![1], 0.04),
                    ],
                ),
                exp_metric(
                    "function.calls.busy",
                    "s",
                    CUMULATIVE,
                    vec![
                        exp_point(ok.clone(), 1, t, 6, -500, vec![2 * n], busy),
                        exp_point(err.clone(), 1, t, 6, -500, vec![1], 0.001),
                    ],
                ),
                metric(
                    "function.calls.polls",
                    "{poll}",
                    sum(CUMULATIVE, vec![int_point(ok.clone(), 1, t, 3 * n as i64)]),
                ),
                metric(
                    "function.calls.slow_polls",
                    "{poll}",
                    sum(CUMULATIVE, vec![int_point(ok.clone(), 1, t, 1)]),
                ),
                metric(
                    "function.calls.concurrent",
                    "{call}",
                    Data::Gauge(Gauge {
                        data_points: vec![int_point(ok[..2].to_vec(), 0, t, in_flight)],
                    }),
                ),
            ],
        )
    };
    store.ingest(&req(10, 5, 0.003, 4), at(10));
    store.ingest(&req(20, 8, 0.005, 2), at(20));
    let f = store.frame(at(20));
    let s = find(&f, "load");
    assert_eq!(s.latency.count(), 17);
    assert!((s.latency.sum() - (0.016 + 0.04)).abs() < 1e-12);
    assert!((s.busy_seconds - 0.006).abs() < 1e-12, "{}", s.busy_seconds);
    assert_eq!((s.polls, s.slow_polls, s.in_flight), (24, 1, 2));
    let p99 = s.latency.quantile(0.99).unwrap();
    let expect = Exponential::lower_bound(6, -300) * (2f64.powf(1.0 / 128.0));
    assert!((p99 / expect - 1.0).abs() < 1e-9, "{p99} {expect}");
}

#[test]
fn exponential_scale_change_between_exports() {
    let mut store = Store::new(100);
    let attrs = fn_attrs("load", "ok");
    let send = |store: &mut Store, time: u64, scale, offset, counts: Vec<u64>| {
        let p = exp_point(attrs.clone(), 1, time * SEC, scale, offset, counts, 1.0);
        let m = exp_metric("function.calls.duration", "s", CUMULATIVE, vec![p]);
        store.ingest(&request("shop", "taskscope", vec![m]), at(time));
    };
    // Scale 3: 10 values in bucket 8 (2^(8/8) = 2 s .. 2^(9/8)).
    send(&mut store, 10, 3, 8, vec![10]);
    // The sender's range grew: it went down to scale 1; the old 10 values are in bucket 2
    // (8 >> 2), plus 5 new ones in bucket 3.
    send(&mut store, 20, 1, 2, vec![10, 5]);
    let f = store.frame(at(20));
    let s = find(&f, "load");
    let Dist::Exponential(e) = &s.latency else {
        panic!("{:?}", s.latency)
    };
    assert_eq!(e.scale, 1);
    assert_eq!(e.count(), 15);
    assert_eq!((e.offset, &e.counts[..]), (2, &[10, 5][..]));
}

#[test]
fn a_generic_histogram_in_milliseconds_from_another_sdk() {
    let mut store = Store::new(100);
    let route = |r: &str, extra: Vec<KeyValue>| {
        let mut a = vec![kv("http.route", r), kv("http.request.method", "GET")];
        a.extend(extra);
        a
    };
    let bounds = [5.0, 10.0, 25.0, 50.0, 100.0];
    let m = explicit_metric(
        "http.server.request.duration",
        "ms",
        CUMULATIVE,
        vec![
            explicit_point(
                route("/users", vec![]),
                10 * SEC,
                &bounds,
                &[0, 6, 3, 1, 0, 0],
                150.0,
            ),
            explicit_point(
                route("/users", vec![kv("error.type", "timeout")]),
                10 * SEC,
                &bounds,
                &[0, 0, 0, 0, 0, 2],
                400.0,
            ),
            explicit_point(
                route("/users", vec![kv_int("http.response.status_code", 503)]),
                10 * SEC,
                &bounds,
                &[1, 0, 0, 0, 0, 0],
                1.0,
            ),
            explicit_point(
                route("/health", vec![kv_int("http.response.status_code", 404)]),
                10 * SEC,
                &bounds,
                &[4, 0, 0, 0, 0, 0],
                4.0,
            ),
        ],
    );
    store.ingest(&request("api", "io.opentelemetry.jetty", vec![m]), at(10));
    let f = store.frame(at(10));
    assert_eq!(f.series.len(), 2);
    let users = find(
        &f,
        "http.server.request.duration{http.request.method=GET,http.route=/users}",
    );
    assert_eq!(users.kind, SeriesKind::Histogram);
    assert_eq!(&*users.module, "io.opentelemetry.jetty");
    assert_eq!(&*users.unit, "s");
    assert_eq!(users.calls, [10, 3, 0, 0]);
    assert_eq!(kinds(users), [("timeout", 2), ("503", 1)]);
    let Dist::Explicit(e) = &users.latency else {
        panic!()
    };
    assert_eq!(e.bounds, [0.005, 0.01, 0.025, 0.05, 0.1]);
    assert!((users.latency.sum() - 0.551).abs() < 1e-12);
    let p50 = users.latency.quantile(0.5).unwrap();
    assert!((0.005..=0.01).contains(&p50), "{p50}");
    let health = find(
        &f,
        "http.server.request.duration{http.request.method=GET,http.route=/health}",
    );
    assert_eq!(health.calls, [4, 0, 0, 0], "404 is not a server error");
    assert!(health.error_kinds.is_empty());
}

#[test]
fn generic_histograms_in_other_units_keep_their_values() {
    let mut store = Store::new(100);
    let m = explicit_metric(
        "http.server.request.body.size",
        "By",
        DELTA,
        vec![explicit_point(
            vec![],
            10 * SEC,
            &[100.0, 1000.0],
            &[1, 2, 0],
            900.0,
        )],
    );
    store.ingest(&request("api", "sdk", vec![m]), at(10));
    let f = store.frame(at(10));
    let s = find(&f, "http.server.request.body.size");
    assert_eq!(&*s.unit, "By");
    assert!((s.latency.sum() - 900.0).abs() < 1e-9);
    assert_eq!(s.calls[Outcome::Ok], 3);
}

#[test]
fn a_generic_counter() {
    let mut store = Store::new(100);
    let send = |store: &mut Store, time: u64, v: f64| {
        let p = NumberDataPoint {
            attributes: vec![kv("direction", "in")],
            start_time_unix_nano: 1,
            time_unix_nano: time * SEC,
            value: Some(number_data_point::Value::AsDouble(v)),
            ..Default::default()
        };
        let m = metric("net.io", "By", sum(CUMULATIVE, vec![p]));
        store.ingest(&request("api", "sdk", vec![m]), at(time));
    };
    send(&mut store, 1, 10.5);
    send(&mut store, 2, 11.0);
    send(&mut store, 3, 20.25);
    let f = store.frame(at(3));
    let s = find(&f, "net.io{direction=in}");
    assert_eq!(s.kind, SeriesKind::Counter);
    assert_eq!(&*s.unit, "By");
    // 10.5 + 0.5 + 9.25 = 20.25: whole units counted, the fraction carried.
    assert_eq!(s.calls, [20, 0, 0, 0]);
    assert!(s.latency.count() == 0);
}

#[test]
fn gauges_and_non_monotonic_sums_are_ignored() {
    let mut store = Store::new(100);
    let gauge = metric(
        "process.memory.usage",
        "By",
        Data::Gauge(Gauge {
            data_points: vec![int_point(vec![], 0, SEC, 4096)],
        }),
    );
    let updown = metric(
        "db.client.connections.usage",
        "{connection}",
        Data::Sum(Sum {
            data_points: vec![
                int_point(vec![], 1, SEC, 3),
                int_point(vec![kv("a", "b")], 1, SEC, 3),
            ],
            aggregation_temporality: CUMULATIVE,
            is_monotonic: false,
        }),
    );
    let out = store.ingest(&request("api", "sdk", vec![gauge, updown]), at(1));
    assert_eq!((out.accepted, out.ignored), (0, 3));
    assert_eq!(store.ignored_points(), 3);
    let f = store.frame(at(1));
    assert!(f.series.is_empty());
    assert_eq!(f.status.connection, "live");
    assert_eq!(f.status.overflow, 0);
}

#[test]
fn the_series_cap_counts_what_it_refuses() {
    let mut store = Store::new(3);
    let points = (0..10)
        .map(|i| int_point(vec![kv("user", &format!("u{i}"))], 1, SEC, 1))
        .collect();
    let m = metric("logins", "{login}", sum(CUMULATIVE, points));
    let out = store.ingest(&request("api", "sdk", vec![m.clone()]), at(1));
    assert_eq!((out.accepted, out.overflow), (3, 7));
    let f = store.frame(at(1));
    assert_eq!(f.series.len(), 3);
    assert_eq!(f.status.overflow, 7);
    // The series already kept still take their points.
    store.ingest(&request("api", "sdk", vec![m]), at(2));
    assert_eq!(store.frame(at(2)).status.overflow, 14);
}

#[test]
fn a_million_distinct_attribute_values_stay_bounded() {
    let max_series = 50;
    let mut store = Store::new(max_series);
    for batch in 0..100u64 {
        let points = (0..10_000u64)
            .map(|i| {
                let id = batch * 10_000 + i;
                exp_point(
                    vec![kv("request.id", &id.to_string())],
                    1,
                    SEC,
                    0,
                    0,
                    vec![1],
                    1.0,
                )
            })
            .collect();
        let m = exp_metric("latency", "s", CUMULATIVE, vec![]);
        let m = Metric {
            data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                data_points: points,
                aggregation_temporality: CUMULATIVE,
            })),
            ..m
        };
        store.ingest(&request("api", "sdk", vec![m]), at(batch));
    }
    assert_eq!(store.series.len(), max_series);
    assert!(store.streams.len() <= max_series * STREAMS_PER_SERIES);
    assert_eq!(
        store.frame(at(100)).status.overflow,
        1_000_000 - max_series as u64
    );
}

#[test]
fn the_stream_cap_forgets_idle_streams() {
    // One series fed by many streams (instances of one service).
    let mut store = Store::new(1);
    let send = |store: &mut Store, instance: usize, now: u64| {
        let mut req = request(
            "shop",
            "taskscope",
            vec![calls(CUMULATIVE, 1, now, &[("ok", None, 1)])],
        );
        req.resource_metrics[0]
            .resource
            .as_mut()
            .unwrap()
            .attributes
            .push(kv("service.instance.id", &instance.to_string()));
        store.ingest(&req, at(now))
    };
    for i in 0..STREAMS_PER_SERIES {
        assert_eq!(send(&mut store, i, 1).accepted, 1);
    }
    assert_eq!(send(&mut store, 100, 2).overflow, 1, "the table is full");
    let later = 2 + STREAM_IDLE.as_secs();
    assert_eq!(
        send(&mut store, 101, later).accepted,
        1,
        "idle streams were forgotten"
    );
    assert_eq!(
        find(&store.frame(at(later)), "load").calls[Outcome::Ok],
        STREAMS_PER_SERIES as u64 + 1
    );
}

#[test]
fn the_error_kind_cap() {
    let mut store = Store::new(10);
    let kinds_sent: Vec<String> = (0..MAX_ERROR_KINDS + 6)
        .map(|i| format!("Kind{i}"))
        .collect();
    let points: Vec<_> = kinds_sent
        .iter()
        .map(|k| ("error", Some(k.as_str()), 2))
        .collect();
    store.ingest(
        &request("shop", "taskscope", vec![calls(CUMULATIVE, 1, 1, &points)]),
        at(1),
    );
    let f = store.frame(at(1));
    let s = find(&f, "load");
    assert_eq!(s.calls[Outcome::Error], 2 * (MAX_ERROR_KINDS as u64 + 6));
    assert_eq!(s.error_kinds.len(), MAX_ERROR_KINDS + 1);
    let overflow = s.error_kinds.last().unwrap();
    assert_eq!((&*overflow.kind, overflow.count), (OVERFLOW_KIND, 12));
    assert_eq!(f.status.kind_overflow, 6);
}

#[test]
fn export_dropped_sums_over_services_and_services_are_counted() {
    let mut store = Store::new(10);
    for (service, dropped) in [("a", 3), ("b", 4)] {
        let m = metric(
            "taskscope.export.dropped",
            "{point}",
            sum(CUMULATIVE, vec![int_point(vec![], 1, SEC, dropped)]),
        );
        let c = calls(CUMULATIVE, 1, 1, &[("ok", None, 1)]);
        store.ingest(&request(service, "taskscope", vec![m, c]), at(1));
    }
    let f = store.frame(at(1));
    assert_eq!(f.status.export_dropped, 7);
    assert_eq!(f.status.services, 2);
    assert_eq!(f.series.len(), 2);
}

#[test]
fn connection_state_in_words() {
    let mut store = Store::new(10);
    store.set_label("OTLP grpc 127.0.0.1:4317");
    let f = store.frame(at(5));
    assert_eq!(f.status.connection, "waiting for data");
    assert_eq!(f.status.label, "OTLP grpc 127.0.0.1:4317");
    store.ingest(&ExportMetricsServiceRequest::default(), at(10));
    assert_eq!(store.frame(at(24)).status.connection, "live");
    assert_eq!(store.frame(at(52)).status.connection, "last data 42s ago");
}

#[test]
fn missing_service_name_and_bad_points() {
    let mut store = Store::new(10);
    let mut req = request("x", "sdk", vec![]);
    req.resource_metrics[0].resource = None;
    let bad = explicit_point(vec![], SEC, &[2.0, 1.0], &[1, 1, 1], 1.0);
    let no_function = int_point(vec![kv("outcome", "ok")], 1, SEC, 1);
    req.resource_metrics[0].scope_metrics[0].metrics = vec![
        explicit_metric("d", "s", CUMULATIVE, vec![bad]),
        metric(
            "function.calls",
            "{call}",
            sum(CUMULATIVE, vec![no_function]),
        ),
        calls(CUMULATIVE, 1, 1, &[("sideways", None, 1)]),
    ];
    let out = store.ingest(&req, at(1));
    assert_eq!(out.invalid, 3);
    req.resource_metrics[0].scope_metrics[0].metrics =
        vec![calls(CUMULATIVE, 1, 1, &[("ok", None, 1)])];
    store.ingest(&req, at(2));
    let f = store.frame(at(2));
    assert_eq!(&*find(&f, "load").service, UNKNOWN_SERVICE);
}

#[test]
fn hostile_values_are_refused_or_saturate_never_panic() {
    let mut store = Store::new(100);
    let huge = |time: u64, counts: Vec<u64>, scale, offset| {
        let mut p = exp_point(
            fn_attrs("load", "ok"),
            1,
            time * SEC,
            scale,
            offset,
            counts,
            f64::NAN,
        );
        p.count = u64::MAX;
        p.zero_count = u64::MAX / 2;
        p.min = Some(f64::INFINITY);
        exp_metric("function.calls.duration", "s", CUMULATIVE, vec![p])
    };
    let metrics = vec![
        huge(1, vec![u64::MAX, u64::MAX], 0, 0),
        huge(2, vec![1], 99, 0),
        huge(3, vec![1], 0, i32::MIN),
        huge(4, vec![1 << 59], 0, 0),
        calls(CUMULATIVE, 1, 1, &[("ok", None, i64::MAX)]),
        calls(CUMULATIVE, 1, 2, &[("ok", None, -5)]),
        calls(CUMULATIVE, 1, 3, &[("ok", None, i64::MAX)]),
        metric(
            "function.calls.busy",
            "s",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: fn_attrs("load", "ok"),
                    count: u64::MAX,
                    sum: Some(f64::MAX),
                    bucket_counts: vec![u64::MAX, u64::MAX],
                    explicit_bounds: vec![f64::NAN],
                    ..Default::default()
                }],
                aggregation_temporality: 0,
            }),
        ),
    ];
    for round in 0..3 {
        let out = store.ingest(&request("shop", "taskscope", metrics.clone()), at(round));
        assert!(out.invalid >= 1, "{out:?}");
    }
    let f = store.frame(at(3));
    let s = find(&f, "load");
    assert!(
        s.calls[Outcome::Ok] > 1 << 62,
        "counts saturate: {:?}",
        s.calls
    );
    assert!(s.latency.count() <= 1 << 60);
}

#[test]
fn a_status_code_given_as_a_string() {
    let mut store = Store::new(10);
    let p = explicit_point(
        vec![kv("http.response.status_code", "502")],
        SEC,
        &[1.0],
        &[1, 0],
        0.5,
    );
    let m = explicit_metric("rpc.duration", "s", DELTA, vec![p]);
    store.ingest(&request("api", "sdk", vec![m]), at(1));
    let f = store.frame(at(1));
    let s = find(&f, "rpc.duration");
    assert_eq!(s.calls, [0, 1, 0, 0]);
    assert_eq!(kinds(s), [("502", 1)]);
}

#[test]
fn the_receiver_and_the_store_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Store>();
    send_sync::<super::super::Receiver>();
    send_sync::<super::super::ReceiveError>();
}

#[test]
fn an_empty_request_is_accepted_and_the_source_is_live() {
    let mut store = Store::new(10_000);
    let outcome = store.ingest(&ExportMetricsServiceRequest::default(), Duration::ZERO);
    assert_eq!(outcome.accepted, 0);
    assert_eq!(
        store.frame(Duration::from_secs(1)).status.connection,
        "live"
    );
}

fn caller_point(callee: &str, caller: &str, time: u64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![
            kv(names::attr::FUNCTION, callee),
            kv(names::attr::CALLER, caller),
        ],
        start_time_unix_nano: 1,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

#[test]
fn call_graph_edges_add_up_cumulative_points_in_seconds() {
    let mut store = Store::new(10);
    let send = |store: &mut Store, time: u64, calls: f64, wall: f64| {
        let m = |name: &str, v: f64| {
            metric(
                name,
                "s",
                sum(
                    CUMULATIVE,
                    vec![caller_point("app::load", "app::handle", time, v)],
                ),
            )
        };
        store.ingest(
            &request(
                "shop",
                "taskscope",
                vec![
                    m(names::metric::CALLER_CALLS.name, calls),
                    m(names::metric::CALLER_WALL.name, wall),
                ],
            ),
            at(time),
        )
    };
    assert_eq!(send(&mut store, SEC, 2.0, 0.25).accepted, 2);
    assert_eq!(send(&mut store, 2 * SEC, 5.0, 0.75).accepted, 2);
    let f = store.frame(at(2));
    let s = find(&f, "load");
    assert_eq!(s.callers.len(), 1);
    let e = &s.callers[0];
    assert_eq!((&*e.caller, e.calls), ("app::handle", 5));
    assert!((e.wall - 0.75).abs() < 1e-12, "fractions are kept: {e:?}");
}

#[test]
fn a_million_distinct_caller_callee_pairs_stay_bounded() {
    let max_series = 50;
    let mut store = Store::new(max_series);
    for batch in 0..100u64 {
        let points = (0..10_000u64)
            .map(|i| {
                let id = batch * 10_000 + i;
                caller_point(
                    &format!("app::callee{}", id % 1000),
                    &format!("app::caller{id}"),
                    SEC,
                    1.0,
                )
            })
            .collect();
        let m = metric(
            names::metric::CALLER_CALLS.name,
            "{call}",
            sum(CUMULATIVE, points),
        );
        store.ingest(&request("api", "taskscope", vec![m]), at(batch));
    }
    assert_eq!(store.series.len(), max_series);
    assert!(store.streams.len() <= max_series * STREAMS_PER_SERIES);
    let frame = store.frame(at(100));
    for s in &frame.series {
        assert!(s.callers.len() <= MAX_CALLERS + 1, "{}", s.callers.len());
    }
    assert!(frame.status.overflow > 990_000, "{:?}", frame.status);
}
