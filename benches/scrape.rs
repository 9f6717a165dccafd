//! The cost of one Prometheus scrape of 1000 functions (budget: 10 ms), in each format the
//! endpoint serves: the snapshot a scrape takes, the body made from it, and the whole scrape over loopback HTTP as Prometheus makes it. Run:
//! `cargo bench --bench scrape --features prometheus,layer`.

mod common;
#[path = "common/thousand.rs"]
mod thousand;

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use criterion::{Criterion, criterion_group, criterion_main};

const TEXT: &str = "text/plain;version=0.0.4";
const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";
/// What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
const PROTOBUF: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// One scrape over a new connection, as Prometheus makes it; the body's length.
fn scrape(addr: SocketAddr, accept: &str) -> usize {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    assert!(raw.starts_with(b"HTTP/1.1 200"));
    raw.len()
}

fn scrape_1000_functions(c: &mut Criterion) {
    thousand::functions();
    let snap = taskscope::snapshot();
    assert!(snap.functions.len() >= 1000);
    let render = taskscope::__private::prometheus_render_for_bench;
    for (name, accept) in [
        ("text", TEXT),
        ("openmetrics", OPENMETRICS),
        ("protobuf", PROTOBUF),
    ] {
        println!(
            "one scrape of {} functions, {name}: {} bytes",
            snap.functions.len(),
            render(&snap, accept).len()
        );
    }
    let endpoint = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .try_start()
        .unwrap();
    let addr = endpoint.local_addr();
    let mut g = c.benchmark_group("scrape_1000_functions");
    g.sample_size(30);
    g.bench_function("snapshot", |b| b.iter(|| black_box(taskscope::snapshot())));
    for (name, accept) in [
        ("text", TEXT),
        ("openmetrics", OPENMETRICS),
        ("protobuf_native", PROTOBUF),
    ] {
        g.bench_function(format!("render_{name}"), |b| {
            b.iter(|| black_box(render(&snap, accept)))
        });
        g.bench_function(format!("http_{name}"), |b| {
            b.iter(|| black_box(scrape(addr, accept)))
        });
    }
    g.finish();
}

criterion_group!(benches, scrape_1000_functions);
criterion_main!(benches);
