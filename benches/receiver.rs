//! The cost of the dashboard's OTLP receiver: decoding and ingesting one cumulative export
//! of 1000 functions (11 data points each, as `taskscope::otlp()` sends them: calls,
//! duration, busy, polls and slow polls for the `ok` and `error` outcomes, and the in-flight
//! gauge), with exponential histograms of about 100 buckets. Run:
//! `cargo bench --bench receiver --features receiver`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, exponential_histogram_data_point::Buckets,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use taskscope::__private::ReceiverStore as Store;

const FUNCTIONS: usize = 1000;
const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn attrs(i: usize, outcome: &str) -> Vec<KeyValue> {
    vec![
        kv("function", &format!("function_{i}")),
        kv("module", "bench_service::handlers"),
        kv("outcome", outcome),
    ]
}

fn number(attributes: Vec<KeyValue>, v: i64) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        value: Some(number_data_point::Value::AsInt(v)),
        ..Default::default()
    }
}

/// A histogram point at scale 6 spread over about 100 buckets (a range of 3x), as the
/// exporter sends a function whose calls take 1 to 3 ms.
fn histogram(attributes: Vec<KeyValue>, i: usize) -> ExponentialHistogramDataPoint {
    let counts: Vec<u64> = (0..100).map(|b| ((b * 7 + i) % 13) as u64).collect();
    ExponentialHistogramDataPoint {
        attributes,
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        count: counts.iter().sum(),
        sum: Some(1.5),
        scale: 6,
        positive: Some(Buckets {
            offset: -640,
            bucket_counts: counts,
        }),
        min: Some(0.001),
        max: Some(0.003),
        ..Default::default()
    }
}

fn sum(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        unit: "{call}".into(),
        data: Some(Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: CUMULATIVE,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn exp(name: &str, points: Vec<ExponentialHistogramDataPoint>) -> Metric {
    Metric {
        name: name.into(),
        unit: "s".into(),
        data: Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: points,
            aggregation_temporality: CUMULATIVE,
        })),
        ..Default::default()
    }
}

/// One export of 1000 functions, 11 points each.
fn request() -> ExportMetricsServiceRequest {
    let (mut calls, mut duration, mut busy, mut polls, mut slow, mut concurrent) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..FUNCTIONS {
        let mut error = attrs(i, "error");
        calls.push(number(attrs(i, "ok"), 1000));
        error.push(kv("error.kind", "Timeout"));
        calls.push(number(error, 10));
        for outcome in ["ok", "error"] {
            duration.push(histogram(attrs(i, outcome), i));
            busy.push(histogram(attrs(i, outcome), i + 1));
            polls.push(number(attrs(i, outcome), 3000));
            slow.push(number(attrs(i, outcome), 2));
        }
        concurrent.push(number(attrs(i, "ok")[..2].to_vec(), 1));
    }
    let metrics = vec![
        sum("function.calls", calls),
        exp("function.calls.duration", duration),
        exp("function.calls.busy", busy),
        sum("function.calls.polls", polls),
        sum("function.calls.slow_polls", slow),
        Metric {
            name: "function.calls.concurrent".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: concurrent,
            })),
            ..Default::default()
        },
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "bench"),
                    kv("host.name", "bench-host"),
                    kv("process.pid", "4242"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "taskscope".into(),
                    version: "0.1.0".into(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn points(req: &ExportMetricsServiceRequest) -> usize {
    req.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| match m.data.as_ref().unwrap() {
            Data::Sum(s) => s.data_points.len(),
            Data::Gauge(g) => g.data_points.len(),
            Data::ExponentialHistogram(h) => h.data_points.len(),
            _ => 0,
        })
        .sum()
}

/// The next export: a later time on every point and, with `grow`, every count, bucket and
/// sum larger (each function was called again).
fn next_export(req: &mut ExportMetricsServiceRequest, time: u64, grow: bool) {
    for m in &mut req.resource_metrics[0].scope_metrics[0].metrics {
        match m.data.as_mut().unwrap() {
            Data::Sum(s) => {
                for p in &mut s.data_points {
                    p.time_unix_nano = time;
                    if let (true, Some(number_data_point::Value::AsInt(v))) = (grow, &mut p.value) {
                        *v += 1;
                    }
                }
            }
            Data::Gauge(g) => {
                for p in &mut g.data_points {
                    p.time_unix_nano = time;
                }
            }
            Data::ExponentialHistogram(h) => {
                for p in &mut h.data_points {
                    p.time_unix_nano = time;
                    if grow {
                        p.count += 1;
                        *p.sum.as_mut().unwrap() += 0.002;
                        let b = p.positive.as_mut().unwrap();
                        let at = (time as usize) % b.bucket_counts.len();
                        b.bucket_counts[at] += 1;
                    }
                }
            }
            _ => {}
        }
    }
}

/// Ingests successive exports, timing the ingest alone.
fn steady(iters: u64, grow: bool) -> Duration {
    let mut req = request();
    let mut store = Store::new(10_000);
    store.ingest(&req, Duration::ZERO);
    let mut total = Duration::ZERO;
    for i in 0..iters {
        next_export(&mut req, 10 + i, grow);
        // The dashboard holds the previous frame: changed series are copied on write.
        let frame = store.frame(Duration::from_secs(i));
        let start = Instant::now();
        black_box(store.ingest(&req, Duration::from_secs(i + 1)));
        total += start.elapsed();
        drop(frame);
    }
    total
}

fn receiver(c: &mut Criterion) {
    let req = request();
    let bytes = req.encode_to_vec();
    println!(
        "one export: {FUNCTIONS} functions, {} data points, {} bytes of protobuf",
        points(&req),
        bytes.len()
    );
    let gzipped = taskscope::__private::gzip_for_bench(&bytes);
    let json = serde_json::to_vec(&req).unwrap();
    println!(
        "the same request gzipped (as taskscope's exporter does): {} bytes; as OTLP JSON: {} bytes",
        gzipped.len(),
        json.len()
    );
    let decode = taskscope::__private::decode_for_bench;
    assert_eq!(decode(&gzipped, true, false).unwrap(), req);
    assert_eq!(decode(&json, false, true).unwrap(), req);
    let mut g = c.benchmark_group("receiver_1000_functions");
    g.bench_function("decode", |b| {
        b.iter(|| black_box(ExportMetricsServiceRequest::decode(black_box(&bytes[..])).unwrap()))
    });
    g.bench_function("decode_gzip", |b| {
        b.iter(|| black_box(decode(black_box(&gzipped), true, false).unwrap()))
    });
    g.bench_function("decode_json", |b| {
        b.iter(|| black_box(decode(black_box(&json), false, true).unwrap()))
    });
    g.bench_function("ingest_first", |b| {
        b.iter_batched(
            || Store::new(10_000),
            |mut store| {
                store.ingest(&req, Duration::ZERO);
                store
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("ingest_unchanged", |b| b.iter_custom(|n| steady(n, false)));
    g.bench_function("ingest_all_changed", |b| b.iter_custom(|n| steady(n, true)));
    g.bench_function("frame", |b| {
        let mut store = Store::new(10_000);
        store.ingest(&req, Duration::ZERO);
        b.iter(|| black_box(store.frame(Duration::from_secs(1))))
    });
    g.finish();
}

/// Recordings (`taskscope top --record` and `--replay`): what the recorder does per export
/// (the request as one OTLP JSON line, on the receiver's thread; its zstd frame, on the
/// writer's thread), the size of a line, and a replay's frames per second at max speed
/// over a recording of 60 exports of 1000 functions.
fn recording(c: &mut Criterion) {
    use taskscope::receive::{Recording, Replay, Speed};
    let mut req = request();
    let line = serde_json::to_vec(&req).unwrap();
    let zstd =
        ruzstd::encoding::compress_to_vec(&line[..], ruzstd::encoding::CompressionLevel::Fastest);
    eprintln!(
        "recording: one export of {FUNCTIONS} functions is {} bytes of OTLP JSON, {} as a zstd frame; \
         10 minutes at one export a second: {:.0} MB plain, {:.0} MB zstd",
        line.len(),
        zstd.len(),
        600.0 * line.len() as f64 / 1e6,
        600.0 * zstd.len() as f64 / 1e6,
    );
    let mut g = c.benchmark_group("recording_1000_functions");
    g.sample_size(10);
    g.bench_function("json_line", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&req)).unwrap()))
    });
    g.bench_function("zstd_frame", |b| {
        b.iter(|| {
            black_box(ruzstd::encoding::compress_to_vec(
                black_box(&line[..]),
                ruzstd::encoding::CompressionLevel::Fastest,
            ))
        })
    });
    // A recording of 60 exports, one a second, every count growing.
    let path = std::env::temp_dir().join(format!("taskscope-bench-{}.jsonl", std::process::id()));
    let mut file = Vec::new();
    for e in 0..60u64 {
        next_export(&mut req, 1_000_000_000 * (e + 1), true);
        file.extend(serde_json::to_vec(&req).unwrap());
        file.push(b'\n');
    }
    std::fs::write(&path, &file).unwrap();
    g.bench_function("open_60_exports", |b| {
        b.iter(|| black_box(Recording::open(&path).unwrap()))
    });
    g.bench_function("replay_frame_at_max_speed", |b| {
        b.iter_custom(|n| {
            let mut total = Duration::ZERO;
            let mut left = n;
            while left > 0 {
                let mut replay = Replay::new(Recording::open(&path).unwrap());
                replay.set_speed(Speed::Max);
                let start = Instant::now();
                while left > 0 && !replay.at_end() {
                    black_box(replay.step(Duration::from_secs(1)));
                    left -= 1;
                }
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, receiver, recording);
criterion_main!(benches);
