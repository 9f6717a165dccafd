//! The cost of OTLP export: one export of 1000 functions (snapshot, OTLP request, protobuf
//! bytes, as the exporter makes them; `_prost_only` builds the whole request and encodes it
//! with prost, for comparison), and a measured call while an exporter runs. Run:
//! `cargo bench --bench export --features otlp,layer`.

mod common;
#[path = "common/thousand.rs"]
mod thousand;

use common::run;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
fn export(c: &mut Criterion) {
    thousand::functions();
    let snap = taskscope::snapshot();
    assert!(snap.functions.len() >= 1000);
    let exponential = taskscope::HistogramFormat::default();
    let explicit =
        taskscope::HistogramFormat::Explicit(taskscope::DEFAULT_EXPLICIT_BUCKETS.to_vec());
    let encode = taskscope::__private::encode_for_bench;
    for (name, format) in [("exponential", &exponential), ("explicit", &explicit)] {
        println!(
            "one export of {} functions, {name} histograms: {} bytes of protobuf",
            snap.functions.len(),
            encode(&snap, format, false).len()
        );
        assert_eq!(encode(&snap, format, false), encode(&snap, format, true));
    }
    if let Ok(path) = std::env::var("TASKSCOPE_DUMP_EXPORT") {
        std::fs::write(path, encode(&snap, &exponential, false)).unwrap();
    }
    c.bench_function("export_1000_functions/snapshot", |b| {
        b.iter(|| black_box(taskscope::snapshot()))
    });
    c.bench_function("export_1000_functions/encode_exponential", |b| {
        b.iter(|| black_box(encode(&snap, &exponential, false)))
    });
    c.bench_function("export_1000_functions/encode_exponential_prost_only", |b| {
        b.iter(|| black_box(encode(&snap, &exponential, true)))
    });
    c.bench_function("export_1000_functions/encode_explicit", |b| {
        b.iter(|| black_box(encode(&snap, &explicit, false)))
    });
    let request = encode(&snap, &exponential, false);
    let gzipped = taskscope::__private::gzip_for_bench(&request);
    println!(
        "gzip (level 1, as the exporter compresses): {} -> {} bytes ({:.1}x)",
        request.len(),
        gzipped.len(),
        request.len() as f64 / gzipped.len() as f64
    );
    c.bench_function("export_1000_functions/gzip", |b| {
        b.iter(|| black_box(taskscope::__private::gzip_for_bench(black_box(&request))))
    });
    c.bench_function("export_1000_functions/snapshot_and_encode", |b| {
        b.iter(|| black_box(encode(&taskscope::snapshot(), &exponential, false)))
    });
}

#[taskscope::measure]
#[inline(never)]
async fn measured(n: u64) -> Result<u64, ()> {
    Ok(n + 1)
}

fn awaited(iters: u64) -> Duration {
    run(async {
        let start = Instant::now();
        for i in 0..iters {
            let _ = black_box(measured(black_box(i)).await);
        }
        start.elapsed()
    })
}

fn call_with_exporter(c: &mut Criterion) {
    let mut g = c.benchmark_group("one_poll_ok");
    g.bench_function("no_exporter", |b| b.iter_custom(awaited));
    // An exporter reading the recorder every 100 ms (1000 functions) and sending to a
    // port where nothing listens: each export is built, attempted, retried and dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exporter = taskscope::otlp()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_interval(Duration::from_millis(100))
        .with_max_attempts(1)
        .try_start()
        .unwrap();
    g.bench_function("exporter_running", |b| b.iter_custom(awaited));
    g.finish();
    drop(exporter);
}

criterion_group!(benches, export, call_with_exporter);
criterion_main!(benches);
