//! The cost of one dashboard frame with 1000 functions: deriving the rows of the window from
//! the checkpoints (`Model::update` with a new frame), and drawing the list and the detail
//! at 160x48. Run: `cargo bench --bench top --features tui`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use taskscope::Histogram;
use taskscope::frame::{Dist, Frame, KindCount, Series, SeriesKind};

const FUNCTIONS: usize = 1000;

/// Every function with a latency spread over about 40 HDR buckets, two error kinds, and
/// counts that grow with `second`.
fn frame(second: u64) -> Frame {
    let series = (0..FUNCTIONS)
        .map(|i| {
            let mut s = Series::new(
                "bench",
                &format!("function_{i:04}"),
                "bench::module",
                SeriesKind::Function,
            );
            let calls = second * (10 + i as u64 % 50);
            s.calls = [calls, calls / 20, calls / 100, 0].into();
            s.in_flight = (i % 3) as i64;
            s.polls = calls * 3;
            let mut h = Histogram::new();
            for k in 0..40u64 {
                let ns = 50_000 * (1 + k * k) * (1 + i as u64 % 7);
                for _ in 0..=(second % 3) {
                    h.record(Duration::from_nanos(ns));
                }
            }
            s.busy_seconds = h.sum as f64 / 2e9;
            s.latency = Dist::Hdr(h);
            s.error_kinds = vec![
                KindCount {
                    kind: "Timeout".into(),
                    count: calls / 40,
                    last_seen: None,
                },
                KindCount {
                    kind: "NotFound".into(),
                    count: calls / 40,
                    last_seen: None,
                },
            ];
            Arc::new(s)
        })
        .collect();
    Frame {
        at: Duration::from_secs(second),
        series,
        status: Default::default(),
        tasks: None,
        runtimes: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let frames: Vec<Frame> = (1..=120).map(frame).collect();
    let mut dashboard = taskscope::top()
        .with_ascii(false)
        .with_color(true)
        .headless(160, 48);
    for f in &frames[..60] {
        dashboard.push(f.clone());
    }
    let mut next = 60;
    c.bench_function(
        "top: update with a new frame, 1000 functions (rows of a 1m window)",
        |b| {
            b.iter(|| {
                let f = frames[next % frames.len()].clone();
                next += 1;
                // Keep time moving forward so every frame is a new checkpoint.
                let f = Frame {
                    at: Duration::from_secs(next as u64),
                    ..f
                };
                dashboard.push(black_box(f));
            })
        },
    );
    c.bench_function("top: draw the list, 1000 functions, 160x48", |b| {
        b.iter(|| {
            black_box(dashboard.draw());
        })
    });
    dashboard.press(KeyEvent::from(KeyCode::Enter));
    c.bench_function("top: draw a function's detail, 160x48", |b| {
        b.iter(|| {
            black_box(dashboard.draw());
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
