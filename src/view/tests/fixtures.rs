//! Synthetic frames for the dashboard's screen and update tests: the same every run.

use std::sync::Arc;
use std::time::Duration;

use crate::frame::{Dist, Frame, KindCount, Series, SeriesKind, SourceStatus};
use crate::record::histogram::Histogram;
use crate::view::model::{Model, Msg, Settings};
use crate::view::screens::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// One function's numbers at a moment.
pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) calls: [u64; 4],
    pub(super) latency_ms: f64,
    pub(super) in_flight: i64,
    pub(super) slow_polls: u64,
    pub(super) kinds: &'static [(&'static str, u64)],
    /// The typical wait from a wake to the next poll, for a function measured with
    /// `#[measure(scheduling)]`.
    pub(super) scheduling_ms: Option<f64>,
}

fn series(spec: &Spec, scale: u64) -> Arc<Series> {
    let mut s = Series::new("checkout", spec.name, "shop::orders", SeriesKind::Function);
    s.calls = spec.calls.map(|c| c * scale).into();
    s.in_flight = spec.in_flight;
    s.slow_polls = spec.slow_polls * scale;
    s.polls = s.total_calls() * 3;
    let mut h = Histogram::new();
    let n = s.total_calls();
    for i in 0..n {
        // A spread of latencies around the function's typical one, with a tail.
        let f = 0.5 + (i % 100) as f64 / 100.0 + if i % 100 == 99 { 4.0 } else { 0.0 };
        h.record(Duration::from_secs_f64(spec.latency_ms * f / 1e3));
    }
    s.busy_seconds = h.sum as f64 / 1e9 * 0.4;
    s.has_busy = true;
    s.latency = Dist::Hdr(h);
    if let Some(ms) = spec.scheduling_ms {
        // Two waits per call, a few of them long.
        let mut h = Histogram::new();
        for i in 0..n * 2 {
            let f = if i % 200 == 199 {
                20.0
            } else {
                0.5 + (i % 10) as f64 / 10.0
            };
            h.record(Duration::from_secs_f64(ms * f / 1e3));
        }
        s.scheduling = Dist::Hdr(h);
    }
    s.error_kinds = spec
        .kinds
        .iter()
        .map(|(k, c)| KindCount {
            kind: (*k).into(),
            count: c * scale,
            last_seen: Some(Duration::from_secs(scale)),
        })
        .collect();
    Arc::new(s)
}

pub(super) fn specs() -> Vec<Spec> {
    vec![
        Spec {
            name: "load_user",
            calls: [300, 3, 0, 0],
            latency_ms: 2.0,
            in_flight: 2,
            slow_polls: 0,
            kinds: &[("NotFound", 3)],
            scheduling_ms: None,
        },
        Spec {
            name: "place_order",
            calls: [80, 12, 6, 1],
            latency_ms: 25.0,
            in_flight: 4,
            slow_polls: 0,
            kinds: &[("OutOfStock", 8), ("PaymentDeclined", 4)],
            scheduling_ms: Some(0.2),
        },
        Spec {
            name: "render_invoice",
            calls: [40, 0, 0, 0],
            latency_ms: 1500.0,
            in_flight: 1,
            slow_polls: 7,
            kinds: &[],
            scheduling_ms: None,
        },
        Spec {
            name: "wait_for_stock",
            calls: [0, 0, 0, 0],
            latency_ms: 0.0,
            in_flight: 5,
            slow_polls: 0,
            kinds: &[],
            scheduling_ms: None,
        },
    ]
}

/// The frame `seconds` into the run: every count grows linearly with time.
pub(super) fn frame(seconds: u64) -> Frame {
    Frame {
        at: Duration::from_secs(seconds),
        series: specs().iter().map(|s| series(s, seconds)).collect(),
        status: SourceStatus {
            label: "in-process".into(),
            connection: "live".into(),
            services: 1,
            ..SourceStatus::default()
        },
        tasks: None,
        runtimes: Vec::new(),
    }
}

/// The frame `seconds` into the run with the call graph's edges: `place_order` is called
/// from no measured function and calls `load_user` (as the root does too) and
/// `render_invoice`; every figure grows linearly with time.
pub(super) fn graph_frame(seconds: u64) -> Frame {
    use crate::frame::CallerEdge;
    let t = seconds as f64;
    let edge = |caller: &str, calls: u64, wall: f64, busy: f64, self_busy: f64| CallerEdge {
        caller: caller.into(),
        calls: calls * seconds,
        wall: wall * t,
        busy: busy * t,
        self_busy: self_busy * t,
    };
    let mut f = frame(seconds);
    for s in &mut f.series {
        let s = Arc::make_mut(s);
        s.callers = match &*s.function {
            "place_order" => vec![edge(crate::ROOT_CALLER, 99, 2.5, 1.0, 0.4)],
            "load_user" => vec![
                edge("shop::orders::place_order", 200, 0.4, 0.2, 0.2),
                edge(crate::ROOT_CALLER, 103, 0.2, 0.1, 0.1),
            ],
            "render_invoice" => vec![edge("shop::orders::place_order", 40, 60.0, 0.4, 0.3)],
            _ => Vec::new(),
        };
    }
    f
}

/// The frame `seconds` into the run, with two runtimes: `api`, whose two workers are busy
/// 97 % of the time while its global queue grows by 3 a second, and `batch`, mostly idle,
/// whose blocking pool has no idle thread and 12 tasks waiting.
pub(super) fn runtime_frame(seconds: u64) -> Frame {
    use crate::frame::RuntimeSeries;
    let t = seconds as f64;
    let mut f = frame(seconds);
    f.runtimes = vec![
        Arc::new(RuntimeSeries {
            service: "checkout".into(),
            name: "api".into(),
            workers: 2,
            alive_tasks: 800 + 3 * seconds as usize,
            global_queue_depth: 3 * seconds as usize,
            worker_busy: vec![0.98 * t, 0.96 * t],
            worker_parks: vec![seconds, seconds],
            ..RuntimeSeries::default()
        }),
        Arc::new(RuntimeSeries {
            service: "checkout".into(),
            name: "batch".into(),
            workers: 1,
            alive_tasks: 9,
            global_queue_depth: 0,
            worker_busy: vec![0.1 * t],
            worker_parks: vec![40 * seconds],
            blocking_threads: Some(512),
            idle_blocking_threads: Some(0),
            blocking_queue_depth: Some(12),
            poll_time: Some(Dist::Explicit(crate::frame::Explicit {
                bounds: vec![0.0001, 0.001, 0.01],
                counts: vec![900 * seconds, 90 * seconds, 9 * seconds, seconds],
                sum: 0.0,
                min: None,
                max: None,
            })),
            ..RuntimeSeries::default()
        }),
    ];
    f
}

/// A frame from a foreign sender (an OpenTelemetry SDK): no busy time, errors without a
/// kind, and a long, module-qualified name that differs from another only at its end.
pub(super) fn foreign_frame(seconds: u64) -> Frame {
    let mut out = Vec::new();
    for (name, errors) in [
        (
            "checkout_service::payments::providers::stripe::charge_card_with_retries",
            6,
        ),
        (
            "checkout_service::payments::providers::stripe::refund_card_with_retries",
            0,
        ),
    ] {
        let mut s = Series::new("py-checkout", name, "py.checkout", SeriesKind::Function);
        s.calls = [50 * seconds, errors * seconds, 0, 0].into();
        let mut h = Histogram::new();
        for i in 0..s.total_calls() {
            h.record(Duration::from_micros(40_000 + (i % 50) * 400));
        }
        s.latency = Dist::Hdr(h);
        out.push(Arc::new(s));
    }
    Frame {
        at: Duration::from_secs(seconds),
        series: out,
        status: SourceStatus {
            label: "otlp grpc 127.0.0.1:4317".into(),
            connection: "live".into(),
            services: 1,
            rejected: 3,
            last_rejection: Some(
                "Content-Type text/plain: OTLP/HTTP is application/x-protobuf or application/json"
                    .into(),
            ),
            ..SourceStatus::default()
        },
        tasks: None,
        runtimes: Vec::new(),
    }
}

/// The Python SDK's default explicit bounds (made for milliseconds) with values in
/// seconds: every call of `charge` (9.59 ms to 200 ms) lands in the (0, 5] bucket.
pub(super) const PYTHON_DEFAULT_BOUNDS: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// A frame from a sender with explicit buckets far too wide for its values.
pub(super) fn coarse_frame(seconds: u64) -> Frame {
    let mut s = Series::new("py-checkout", "charge", "py.checkout", SeriesKind::Function);
    let n = 94 * seconds;
    s.calls = [n, 0, 0, 0].into();
    let mut counts = vec![0; PYTHON_DEFAULT_BOUNDS.len() + 1];
    counts[1] = n;
    s.latency = Dist::Explicit(crate::frame::Explicit {
        bounds: PYTHON_DEFAULT_BOUNDS.to_vec(),
        counts,
        sum: n as f64 * 0.051,
        min: Some(0.00959),
        max: Some(0.200),
    });
    Frame {
        at: Duration::from_secs(seconds),
        series: vec![Arc::new(s)],
        status: SourceStatus {
            label: "otlp grpc 127.0.0.1:4317".into(),
            connection: "live".into(),
            services: 1,
            ..SourceStatus::default()
        },
        tasks: None,
        runtimes: Vec::new(),
    }
}

/// Plain settings: Unicode glyphs and colours, whatever the environment says.
pub(super) fn settings() -> Settings {
    Settings::default()
}

/// A model that has seen `ticks` frames, one a second.
pub(super) fn model(ticks: u64) -> Model {
    let mut m = Model::new(settings());
    for t in 1..=ticks {
        m.update(Msg::Frame(frame(t)));
    }
    m
}

/// The screen of `model` at `width` x `height`, as text.
pub(super) fn render(model: &Model, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw(f, model)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let mut line = String::new();
        for x in 0..width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The terminal after drawing `model`, for style checks.
pub(super) fn terminal(model: &Model, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw(f, model)).unwrap();
    terminal
}

/// The frame `seconds` into the run with the async patterns beside the functions: a
/// retried `fetch_user` (90 % at the first try, 8 % at the second, 2 % giving up after
/// three), a semaphore's wait and hold, and a channel's queue.
pub(super) fn patterns_frame(seconds: u64) -> Frame {
    use crate::record::attempts::Attempts;
    use crate::words::function::Pattern;
    let mut f = frame(seconds);
    let mut add = |name: &'static str, pattern: Pattern, calls: [u64; 4], ms: f64, in_flight| {
        let spec = Spec {
            name,
            calls,
            latency_ms: ms,
            in_flight,
            slow_polls: 0,
            kinds: &[],
            scheduling_ms: None,
        };
        let mut s = Arc::unwrap_or_clone(series(&spec, seconds));
        s.module = "".into();
        s.pattern = pattern;
        if pattern == Pattern::Retry {
            let mut a = Attempts::default();
            a.counts[0] = 90 * seconds;
            a.counts[1] = 8 * seconds;
            a.counts[2] = 2 * seconds;
            s.attempts = crate::frame::recorder::attempts_dist(&a);
        }
        f.series.push(Arc::new(s));
    };
    add("fetch_user", Pattern::Retry, [98, 2, 0, 0], 30.0, 1);
    add("db_pool.wait", Pattern::Semaphore, [400, 0, 3, 0], 2.0, 7);
    add("db_pool.hold", Pattern::Semaphore, [400, 0, 0, 0], 12.0, 4);
    add("jobs.queue", Pattern::Channel, [150, 0, 0, 0], 40.0, 25);
    f
}
