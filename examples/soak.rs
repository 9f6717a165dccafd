//! Soak: tasks call measured functions as fast as they can for a fixed time, with OTLP export,
//! the Prometheus endpoint and the dashboard's receiver running, then check that not one call
//! was lost: the calls each task issued (plain local counters) equal, per function and outcome,
//! what the snapshot, the receiver (through OTLP) and a scrape of `/metrics` say.
//!
//! ```sh
//! F=otlp,prometheus,receiver
//! cargo run --release --features $F --example soak                    # 10 s, 8 tasks
//! cargo run --release --features $F --example soak -- --duration 10m  # the long run
//! cargo run --release --features $F --example soak -- --scrapers 10 --scrape-interval 0 \
//!     --scrapers-from 3s                                             # a scrape storm
//! cargo run --release --features $F --example soak -- --otlp http://127.0.0.1:4317
//! ```
//!
//! Options: `--duration D` (default 10s; `500ms`, `10s`, `10m`, `2h`), `--tasks N` (8),
//! `--workers N` (tokio worker threads, default one per core), `--otlp URL` (repeatable;
//! without it the exporter sends to a receiver started in-process on free loopback ports),
//! `--otlp-protocol grpc|http`, `--receiver` (keep the in-process receiver as well when
//! `--otlp` is given), `--prometheus ADDR` (default 127.0.0.1:0), `--interval D` (export
//! interval, default 1s), `--scrapers N` (threads scraping `/metrics`, default 1),
//! `--scrape-interval D` (pause between one scraper's scrapes, default 1s; 0 = as fast as it
//! can), `--scrapers-from D` (when the scrapers start; the calls per second before and after
//! are printed), `--warmup D` (the point resident memory is compared from; default a tenth of the
//! run, between 1 s and 60 s).
//!
//! Every second it prints one line: elapsed time, calls per second over that second, resident
//! memory, the recorder's heap (`taskscope::memory_usage()`). At the end, one line per
//! function and outcome, `issued=N snapshot=N receiver=N scrape=N lost=N`, the export
//! counters, and `LOST 0` when every count agrees; the exit code is 1 when one does not.
//!
//! The hot loop does nothing per call beyond the call and one local counter increment; every
//! 256 rounds a task publishes its total for the per-second line and yields to the runtime.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use taskscope::frame::SeriesKind;
use taskscope::receive::Receiver;
use taskscope::{ExportStats, OtlpBuilder, Protocol};

/// Why a soak call failed.
#[derive(Debug, taskscope::ErrorKind)]
pub(crate) enum SoakError {
    Timeout,
    Refused,
}

/// The planned panic's message (the quiet panic hook leaves it out of stderr).
pub(crate) const PLANNED_PANIC: &str = "soak: planned panic";
/// One `soak_compute` call in this many panics.
const PANIC_EVERY: u64 = 8192;
/// Rounds (three calls each) between a task's publications of its progress.
const BATCH: u64 = 256;

/// Ok, or an error of two kinds; yields once every 64 calls (a call of two polls).
#[taskscope::measure]
async fn soak_fetch(i: u64) -> Result<u64, SoakError> {
    if i % 64 == 63 {
        tokio::task::yield_now().await;
    }
    match i % 16 {
        5 => Err(SoakError::Timeout),
        11 => Err(SoakError::Refused),
        _ => Ok(i),
    }
}

/// Ready at once, or never: the loop races it against a ready future, so a call that is not
/// ready loses the race and is cancelled.
#[taskscope::measure]
async fn soak_wait(ready: bool) -> u64 {
    if !ready {
        std::future::pending::<()>().await;
    }
    1
}

/// A plain function that panics once every `PANIC_EVERY` calls.
#[taskscope::measure]
fn soak_compute(i: u64) -> u64 {
    if i.is_multiple_of(PANIC_EVERY) {
        std::panic::panic_any(PLANNED_PANIC);
    }
    i.wrapping_mul(31)
}

/// The measured functions.
pub(crate) const FUNCTIONS: [&str; 3] = ["soak_fetch", "soak_wait", "soak_compute"];
const FETCH: usize = 0;
const WAIT: usize = 1;
const COMPUTE: usize = 2;

/// The outcomes counted apart: error by kind.
pub(crate) const OUTCOMES: [&str; 5] = [
    "ok",
    "error:Timeout",
    "error:Refused",
    "cancelled",
    "panicked",
];
const OK: usize = 0;
const TIMEOUT: usize = 1;
const REFUSED: usize = 2;
const CANCELLED: usize = 3;
const PANICKED: usize = 4;

/// Calls issued, per function and outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts(pub(crate) [[u64; 5]; 3]);

impl Counts {
    pub(crate) fn total(&self) -> u64 {
        self.0.iter().flatten().sum()
    }

    fn merge(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().flatten().zip(other.0.iter().flatten()) {
            *a += b;
        }
    }
}

/// One task's loop: three measured calls a round, counted by what each returned.
async fn task_loop(stop: Arc<AtomicBool>, progress: Arc<AtomicU64>) -> Counts {
    let mut c = Counts::default();
    let mut i: u64 = 0;
    loop {
        for _ in 0..BATCH {
            match soak_fetch(i).await {
                Ok(v) => {
                    std::hint::black_box(v);
                    c.0[FETCH][OK] += 1;
                }
                Err(SoakError::Timeout) => c.0[FETCH][TIMEOUT] += 1,
                Err(SoakError::Refused) => c.0[FETCH][REFUSED] += 1,
            }
            tokio::select! {
                biased;
                v = soak_wait(!i.is_multiple_of(4)) => {
                    std::hint::black_box(v);
                    c.0[WAIT][OK] += 1;
                }
                () = std::future::ready(()) => c.0[WAIT][CANCELLED] += 1,
            }
            match std::panic::catch_unwind(|| soak_compute(i)) {
                Ok(v) => {
                    std::hint::black_box(v);
                    c.0[COMPUTE][OK] += 1;
                }
                Err(_) => c.0[COMPUTE][PANICKED] += 1,
            }
            i += 1;
        }
        progress.store(c.total(), Ordering::Relaxed);
        if stop.load(Ordering::Relaxed) {
            return c;
        }
        tokio::task::yield_now().await;
    }
}

/// What one soak does.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// How long the load runs (at least; see `hold`).
    pub(crate) duration: Duration,
    pub(crate) tasks: usize,
    /// tokio worker threads; 0: one per core.
    pub(crate) workers: usize,
    /// Exporters to other endpoints, configured by the caller.
    pub(crate) otlp: Vec<OtlpBuilder>,
    /// Also start a receiver in-process and an exporter to it.
    pub(crate) receiver: bool,
    /// The export interval of the exporter to the receiver.
    pub(crate) interval: Duration,
    pub(crate) prometheus: SocketAddr,
    pub(crate) scrapers: usize,
    /// Pause between one scraper's scrapes (zero: none).
    pub(crate) scrape_interval: Duration,
    /// When the scrapers start, from the start of the load.
    pub(crate) scrapers_from: Duration,
    /// Resident memory and the recorder's heap are compared from this point on.
    pub(crate) warmup: Duration,
    /// While set, the load goes on past `duration`.
    pub(crate) hold: Option<Arc<AtomicBool>>,
    /// Print the per-second lines and the final block.
    pub(crate) print: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            duration: Duration::from_secs(10),
            tasks: 8,
            workers: 0,
            otlp: Vec::new(),
            receiver: true,
            interval: Duration::from_secs(1),
            prometheus: ([127, 0, 0, 1], 0).into(),
            scrapers: 1,
            scrape_interval: Duration::from_secs(1),
            scrapers_from: Duration::ZERO,
            warmup: Duration::from_secs(1),
            hold: None,
            print: true,
        }
    }
}

/// One function and outcome: the calls issued and what each reader counted.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) function: &'static str,
    /// `ok`, `error:Kind`, `cancelled`, `panicked`.
    pub(crate) outcome: &'static str,
    pub(crate) issued: u64,
    pub(crate) snapshot: u64,
    /// `None` without an in-process receiver.
    pub(crate) receiver: Option<u64>,
    pub(crate) scrape: u64,
}

impl Row {
    /// Calls missing (or extra) in the readers, summed.
    pub(crate) fn lost(&self) -> u64 {
        self.issued.abs_diff(self.snapshot)
            + self.receiver.map_or(0, |r| self.issued.abs_diff(r))
            + self.issued.abs_diff(self.scrape)
    }
}

/// One per-second line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Second {
    pub(crate) elapsed: Duration,
    pub(crate) calls_per_second: f64,
    pub(crate) rss: u64,
    pub(crate) heap: usize,
}

/// What the scrapers saw.
#[derive(Clone, Debug, Default)]
pub(crate) struct ScrapeStats {
    pub(crate) scrapes: u64,
    /// Histograms checked, over all scrapes.
    pub(crate) histograms: u64,
    /// Scrapes that failed to arrive, to parse, or had an inconsistent histogram.
    pub(crate) failures: u64,
    /// The first failures, as text.
    pub(crate) failure_text: Vec<String>,
    /// (function, outcome) pairs whose `function_calls_total` (summed over error kinds)
    /// differed from the `_count` of `function_calls_duration_seconds` in the same scrape.
    pub(crate) calls_vs_count: u64,
    /// The first few of those.
    pub(crate) calls_vs_count_seen: Vec<Differ>,
    /// `function_calls_total{taskscope_outcome="error"}` samples without an `error_type`: every error
    /// of the soak has a kind, so each is the remainder of a reading where the error-kind
    /// counters trailed the histogram.
    pub(crate) unlabelled_errors: u64,
}

/// A (function, outcome) whose calls counter and duration `_count` differ in one scrape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Differ {
    pub(crate) function: String,
    pub(crate) outcome: String,
    /// `function_calls_total`, summed over error kinds.
    pub(crate) calls: f64,
    /// `function_calls_duration_seconds_count` (-1 when missing).
    pub(crate) count: f64,
}

/// What one exposition holds beyond parsing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Exposition {
    pub(crate) histograms: u64,
    pub(crate) differ: Vec<Differ>,
    pub(crate) unlabelled_errors: u64,
}

impl ScrapeStats {
    fn merge(&mut self, o: ScrapeStats) {
        self.scrapes += o.scrapes;
        self.histograms += o.histograms;
        self.failures += o.failures;
        self.calls_vs_count += o.calls_vs_count;
        self.unlabelled_errors += o.unlabelled_errors;
        self.failure_text.extend(o.failure_text);
        self.failure_text.truncate(5);
        self.calls_vs_count_seen.extend(o.calls_vs_count_seen);
        self.calls_vs_count_seen.truncate(20);
    }
}

/// Calls issued over a part of the run, for a rate.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Phase {
    pub(crate) calls: u64,
    pub(crate) time: Duration,
}

impl Phase {
    pub(crate) fn per_second(&self) -> f64 {
        self.calls as f64 / self.time.as_secs_f64().max(1e-9)
    }
}

/// Everything one soak measured.
#[derive(Clone, Debug)]
pub(crate) struct Report {
    pub(crate) elapsed: Duration,
    pub(crate) tasks: usize,
    pub(crate) workers: usize,
    pub(crate) issued: Counts,
    pub(crate) rows: Vec<Row>,
    /// Each function's in-flight gauge in the snapshot and at the receiver at the end.
    pub(crate) in_flight: Vec<(&'static str, u64, Option<i64>)>,
    pub(crate) exports: ExportStats,
    pub(crate) receiver_rejected: Option<(u64, u64)>,
    pub(crate) seconds: Vec<Second>,
    pub(crate) rss_warm: u64,
    pub(crate) rss_end: u64,
    pub(crate) heap_warm: usize,
    pub(crate) heap_end: usize,
    pub(crate) scrapes: ScrapeStats,
    /// Calls per second before the scrapers started (after a 250 ms ramp) and after.
    pub(crate) without_scrapers: Phase,
    pub(crate) with_scrapers: Phase,
    /// The longest time between two advances of one task's published progress, over the run
    /// and while the scrapers ran, as the monitor sees it on its 20 ms ticks (so at least one
    /// tick).
    pub(crate) max_stall: Duration,
    pub(crate) max_stall_scraping: Duration,
    /// Each task's issued calls at the end.
    pub(crate) per_task: Vec<u64>,
}

impl Report {
    pub(crate) fn lost(&self) -> u64 {
        self.rows.iter().map(Row::lost).sum()
    }

    /// Every check the exit code stands for.
    pub(crate) fn ok(&self) -> bool {
        self.lost() == 0
            && self
                .in_flight
                .iter()
                .all(|&(_, s, r)| s == 0 && r.is_none_or(|r| r == 0))
            && self.scrapes.failures == 0
    }
}

/// Resident set size in bytes, from /proc (0 where there is none).
pub(crate) fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Keeps the planned panics out of stderr; every other panic reaches the previous hook.
pub(crate) fn quiet_planned_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&PLANNED_PANIC) {
            previous(info);
        }
    }));
}

/// One HTTP/1.1 GET over a fresh connection: the body of a 200 answer.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .map_err(|e| format!("read: {e}"))?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {raw:?}"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("answered {head:?}"));
    }
    Ok(body.to_owned())
}

/// A sample of the text format: name, labels, value.
pub(crate) type Sample<'a> = (&'a str, Vec<(&'a str, &'a str)>, f64);

/// One sample line of the text format.
pub(crate) fn parse_sample(line: &str) -> Option<Sample<'_>> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series, Vec::new(), value));
    };
    let mut labels = Vec::new();
    let mut rest = rest.strip_suffix('}')?;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        // The value ends at the first quote not escaped.
        let bytes = after.as_bytes();
        let mut end = 0;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        if end >= bytes.len() {
            return None;
        }
        labels.push((key, &after[..end]));
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
    Some((name, labels, value))
}

/// `function_calls_total` summed per (function, outcome, error kind) in one exposition.
pub(crate) fn scrape_calls(
    body: &str,
) -> Result<std::collections::BTreeMap<(String, String), u64>, String> {
    let mut out = std::collections::BTreeMap::new();
    for line in body
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, labels, value) =
            parse_sample(line).ok_or_else(|| format!("unparsable line {line:?}"))?;
        if name != "function_calls_total" {
            continue;
        }
        let get = |k: &str| labels.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        let function = short(get("code_function_name").unwrap_or_default()).to_owned();
        let mut outcome = get("taskscope_outcome").unwrap_or_default().to_owned();
        if let Some(kind) = get("error_type") {
            outcome = format!("{outcome}:{kind}");
        }
        *out.entry((function, outcome)).or_insert(0) += value as u64;
    }
    Ok(out)
}

/// Checks one exposition: every line parses, every histogram's cumulative buckets never
/// decrease in `le`, end with `+Inf`, and `+Inf` equals `_count`. Returns the histograms
/// checked and the (function, outcome) pairs whose calls counter (summed over error kinds)
/// differs from the duration histogram's `_count` in the same exposition.
pub(crate) fn check_exposition(body: &str) -> Result<Exposition, String> {
    use std::collections::BTreeMap;
    type Key = (String, Vec<(String, String)>);
    let key = |stem: &str, labels: &[(&str, &str)]| -> Key {
        (
            stem.to_owned(),
            labels
                .iter()
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    };
    // Buckets in the order they came: (le, cumulative count).
    let mut buckets: BTreeMap<Key, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<Key, f64> = BTreeMap::new();
    let mut calls: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut unlabelled_errors = 0;
    for line in body
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, labels, value) =
            parse_sample(line).ok_or_else(|| format!("unparsable line {line:?}"))?;
        if let Some(stem) = name.strip_suffix("_bucket") {
            let le = labels
                .iter()
                .find(|(k, _)| *k == "le")
                .ok_or_else(|| format!("a bucket without le: {line:?}"))?
                .1;
            let le: f64 = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().map_err(|_| format!("bad le in {line:?}"))?
            };
            buckets
                .entry(key(stem, &labels))
                .or_default()
                .push((le, value));
        } else if let Some(stem) = name.strip_suffix("_count") {
            counts.insert(key(stem, &labels), value);
        } else if name == "function_calls_total" {
            let get = |k: &str| labels.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
            if get("taskscope_outcome") == Some("error") && get("error_type").is_none() {
                unlabelled_errors += 1;
            }
            *calls
                .entry((
                    get("code_function_name").unwrap_or_default().to_owned(),
                    get("taskscope_outcome").unwrap_or_default().to_owned(),
                ))
                .or_insert(0.0) += value;
        }
    }
    if buckets.is_empty() {
        return Err("no histogram in the exposition".into());
    }
    for (k, b) in &buckets {
        if b.windows(2).any(|w| w[1].0 <= w[0].0 || w[1].1 < w[0].1) {
            return Err(format!("torn histogram {k:?}: {b:?}"));
        }
        let last = b.last().expect("one bucket at least");
        if last.0 != f64::INFINITY {
            return Err(format!("{k:?} does not end with +Inf: {b:?}"));
        }
        if counts.get(k) != Some(&last.1) {
            return Err(format!(
                "{k:?}: +Inf bucket {} but _count {:?}",
                last.1,
                counts.get(k)
            ));
        }
    }
    let mut differ = Vec::new();
    for ((function, outcome), total) in &calls {
        let count = counts
            .iter()
            .find(|((stem, labels), _)| {
                let has = |k: &str, v: &str| labels.iter().any(|(lk, lv)| lk == k && lv == v);
                stem == "function_calls_duration_seconds"
                    && has("code_function_name", function)
                    && has("taskscope_outcome", outcome)
            })
            .map_or(-1.0, |(_, c)| *c);
        if count != *total {
            differ.push(Differ {
                function: short(function).to_owned(),
                outcome: outcome.clone(),
                calls: *total,
                count,
            });
        }
    }
    Ok(Exposition {
        histograms: buckets.len() as u64,
        differ,
        unlabelled_errors,
    })
}

/// A function's short name: its fully qualified name after the module.
fn short(qualified: &str) -> &str {
    qualified.rsplit("::").next().unwrap_or(qualified)
}

/// A scraper thread: scrapes until `stop`, checking every exposition.
fn scraper(
    addr: SocketAddr,
    pause: Duration,
    start_at: Instant,
    stop: Arc<AtomicBool>,
) -> ScrapeStats {
    let mut s = ScrapeStats::default();
    while Instant::now() < start_at && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(5).min(start_at - Instant::now()));
    }
    while !stop.load(Ordering::Relaxed) {
        s.scrapes += 1;
        match http_get(addr, "/metrics").and_then(|body| check_exposition(&body)) {
            Ok(e) => {
                s.histograms += e.histograms;
                s.unlabelled_errors += e.unlabelled_errors;
                s.calls_vs_count += e.differ.len() as u64;
                if s.calls_vs_count_seen.len() < 20 {
                    s.calls_vs_count_seen.extend(e.differ);
                }
            }
            Err(e) => {
                s.failures += 1;
                if s.failure_text.len() < 5 {
                    s.failure_text.push(e);
                }
            }
        }
        let until = Instant::now() + pause;
        while !pause.is_zero() && Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
        }
    }
    s
}

/// Runs one soak and reads every total back.
pub(crate) fn run(cfg: &Config) -> Report {
    quiet_planned_panics();
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let receiver = cfg.receiver.then(|| {
        Receiver::builder()
            .with_grpc_addr(loopback)
            .with_http_addr(loopback)
            .start()
            .expect("the receiver starts")
    });
    let mut builders = cfg.otlp.clone();
    if let Some(r) = &receiver {
        builders.push(
            taskscope::otlp()
                .with_endpoint(format!("http://{}", r.grpc_addr().expect("gRPC listens")))
                .with_protocol(Protocol::Grpc)
                .with_interval(cfg.interval),
        );
    }
    let exporters: Vec<_> = builders
        .into_iter()
        .map(|b| {
            b.with_service_name("soak")
                .try_start()
                .expect("the exporter starts")
        })
        .collect();
    let endpoint = taskscope::prometheus()
        .with_address(cfg.prometheus)
        .try_start()
        .expect("the Prometheus endpoint starts");
    let scrape_addr = endpoint.local_addr();

    let workers = if cfg.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        cfg.workers
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("the runtime starts");
    let stop = Arc::new(AtomicBool::new(false));
    let stop_scrapers = Arc::new(AtomicBool::new(false));
    let progress: Vec<Arc<AtomicU64>> = (0..cfg.tasks)
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    if cfg.print {
        println!(
            "soak: {} tasks on {workers} workers for {:?}; scrape http://{scrape_addr}/metrics{}",
            cfg.tasks,
            cfg.duration,
            receiver
                .as_ref()
                .map(|r| format!("; receiver on {}", r.grpc_addr().expect("gRPC listens")))
                .unwrap_or_default()
        );
    }
    let start = Instant::now();
    let handles: Vec<_> = progress
        .iter()
        .map(|p| runtime.spawn(task_loop(Arc::clone(&stop), Arc::clone(p))))
        .collect();
    let scrapers: Vec<_> = (0..cfg.scrapers)
        .map(|_| {
            let stop = Arc::clone(&stop_scrapers);
            let (pause, from) = (cfg.scrape_interval, start + cfg.scrapers_from);
            std::thread::spawn(move || scraper(scrape_addr, pause, from, stop))
        })
        .collect();

    // The monitor: reads the tasks' progress every 20 ms.
    let total = |p: &[Arc<AtomicU64>]| p.iter().map(|c| c.load(Ordering::Relaxed)).sum::<u64>();
    let mut last: Vec<(u64, Instant)> = progress
        .iter()
        .map(|p| (p.load(Ordering::Relaxed), start))
        .collect();
    let (mut max_stall, mut max_stall_scraping) = (Duration::ZERO, Duration::ZERO);
    let mut seconds = Vec::new();
    let mut previous_second = (start, 0u64);
    let (mut warm, mut ramp, mut scraping_from) = (None, None, None);
    let ramp_at = Duration::from_millis(250).min(cfg.scrapers_from);
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        let elapsed = now - start;
        let scraping = cfg.scrapers > 0 && elapsed >= cfg.scrapers_from;
        for (p, (value, at)) in progress.iter().zip(&mut last) {
            let v = p.load(Ordering::Relaxed);
            // The time since this task's progress last moved, as seen on the monitor's
            // ticks (so never under a tick). Before the first publication there is none.
            if *value > 0 {
                let still = now - *at;
                max_stall = max_stall.max(still);
                if scraping {
                    max_stall_scraping = max_stall_scraping.max(still);
                }
            }
            if v != *value {
                *value = v;
                *at = now;
            }
        }
        if ramp.is_none() && elapsed >= ramp_at {
            ramp = Some((now, total(&progress)));
        }
        if scraping_from.is_none() && scraping {
            scraping_from = Some((now, total(&progress)));
        }
        if warm.is_none() && elapsed >= cfg.warmup {
            warm = Some((rss(), taskscope::memory_usage()));
        }
        if now - previous_second.0 >= Duration::from_secs(1) {
            let calls = total(&progress);
            let s = Second {
                elapsed,
                calls_per_second: (calls - previous_second.1) as f64
                    / (now - previous_second.0).as_secs_f64(),
                rss: rss(),
                heap: taskscope::memory_usage(),
            };
            if cfg.print {
                println!(
                    "t={:>7.1}s calls/s={:>11.0} rss_kib={:>7} recorder_bytes={:>9}",
                    s.elapsed.as_secs_f64(),
                    s.calls_per_second,
                    s.rss / 1024,
                    s.heap
                );
            }
            seconds.push(s);
            previous_second = (now, calls);
        }
        let held = cfg.hold.as_ref().is_some_and(|h| h.load(Ordering::Relaxed));
        if elapsed >= cfg.duration && !held {
            break;
        }
    }
    let (end, end_total) = (Instant::now(), total(&progress));
    let (rss_end, heap_end) = (rss(), taskscope::memory_usage());
    let (rss_warm, heap_warm) = warm.unwrap_or((rss_end, heap_end));
    stop.store(true, Ordering::Relaxed);
    let per_task_counts: Vec<Counts> = runtime.block_on(async {
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("a soak task ended by itself"));
        }
        out
    });
    let elapsed = start.elapsed();
    stop_scrapers.store(true, Ordering::Relaxed);
    let mut scrapes = ScrapeStats::default();
    for s in scrapers {
        scrapes.merge(s.join().expect("a scraper thread ended by itself"));
    }
    let phase = |from: Option<(Instant, u64)>, to: (Instant, u64)| {
        from.map(|(at, calls)| Phase {
            calls: to.1.saturating_sub(calls),
            time: to.0.saturating_duration_since(at),
        })
        .unwrap_or_default()
    };
    let with_scrapers = phase(scraping_from, (end, end_total));
    let without_scrapers = phase(ramp, scraping_from.unwrap_or((end, end_total)));

    let mut issued = Counts::default();
    for c in &per_task_counts {
        issued.merge(c);
    }
    // The load has stopped: every reader must now say the same.
    let mut exports = ExportStats::default();
    for e in &exporters {
        exports = e.flush().expect("the exporter flushes");
    }
    let snap = taskscope::snapshot();
    let frame = receiver.as_ref().map(Receiver::frame);
    let scraped = http_get(scrape_addr, "/metrics")
        .and_then(|body| scrape_calls(&body))
        .expect("the final scrape");

    let mut rows = Vec::new();
    let mut in_flight = Vec::new();
    for (fi, &function) in FUNCTIONS.iter().enumerate() {
        let f = snap.function(function).cloned().unwrap_or_default();
        let series: Vec<_> = frame
            .iter()
            .flat_map(|fr| fr.series.iter())
            .filter(|s| s.kind == SeriesKind::Function && &*s.function == function)
            .collect();
        in_flight.push((
            function,
            f.in_flight,
            frame
                .as_ref()
                .map(|_| series.iter().map(|s| s.in_flight).sum()),
        ));
        for (oi, &outcome) in OUTCOMES.iter().enumerate() {
            let snapshot = match outcome.split_once(':') {
                Some((_, kind)) => f.error_kind_count(kind),
                None => f.count(outcome_of(outcome)),
            };
            let receiver = frame.as_ref().map(|_| {
                series
                    .iter()
                    .map(|s| match outcome.split_once(':') {
                        Some((_, kind)) => s
                            .error_kinds
                            .iter()
                            .filter(|k| &*k.kind == kind)
                            .map(|k| k.count)
                            .sum::<u64>(),
                        None => s.calls[outcome_of(outcome)],
                    })
                    .sum()
            });
            let scrape = scraped
                .get(&(function.to_owned(), outcome.to_owned()))
                .copied()
                .unwrap_or(0);
            rows.push(Row {
                function,
                outcome,
                issued: issued.0[fi][oi],
                snapshot,
                receiver,
                scrape,
            });
        }
    }
    let report = Report {
        elapsed,
        tasks: cfg.tasks,
        workers,
        issued,
        rows,
        in_flight,
        exports,
        receiver_rejected: receiver.as_ref().map(|r| {
            let s = r.stats();
            (s.rejected, s.dropped)
        }),
        seconds,
        rss_warm,
        rss_end,
        heap_warm,
        heap_end,
        scrapes,
        without_scrapers,
        with_scrapers,
        max_stall,
        max_stall_scraping,
        per_task: per_task_counts.iter().map(Counts::total).collect(),
    };
    if cfg.print {
        print_report(&report);
    }
    drop(exporters);
    drop(endpoint);
    if let Some(r) = receiver {
        r.shutdown();
    }
    report
}

fn outcome_of(outcome: &str) -> taskscope::Outcome {
    match outcome {
        "ok" => taskscope::Outcome::Ok,
        "cancelled" => taskscope::Outcome::Cancelled,
        "panicked" => taskscope::Outcome::Panicked,
        _ => taskscope::Outcome::Error,
    }
}

/// The final block, one `key=value` record a line.
pub(crate) fn print_report(r: &Report) {
    let total = |f: fn(&Row) -> Option<u64>| -> Option<u64> { r.rows.iter().map(f).sum() };
    let show = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    println!("== soak final");
    println!(
        "elapsed_s={:.2} tasks={} workers={} calls_issued={} calls_per_s={:.0}",
        r.elapsed.as_secs_f64(),
        r.tasks,
        r.workers,
        r.issued.total(),
        r.issued.total() as f64 / r.elapsed.as_secs_f64()
    );
    if !r.without_scrapers.time.is_zero() && !r.with_scrapers.time.is_zero() {
        println!(
            "calls_per_s_without_scrapers={:.0} calls_per_s_with_scrapers={:.0}",
            r.without_scrapers.per_second(),
            r.with_scrapers.per_second()
        );
    }
    // Calls per second held: the per-second rates after warm-up.
    let held: Vec<f64> = r
        .seconds
        .iter()
        .filter(|s| s.elapsed > Duration::from_secs(1))
        .map(|s| s.calls_per_second)
        .collect();
    if !held.is_empty() {
        println!(
            "calls_per_s_per_second min={:.0} max={:.0} seconds={}",
            held.iter().copied().fold(f64::INFINITY, f64::min),
            held.iter().copied().fold(0.0, f64::max),
            held.len()
        );
    }
    println!(
        "calls_per_task min={} max={}",
        r.per_task.iter().min().copied().unwrap_or(0),
        r.per_task.iter().max().copied().unwrap_or(0)
    );
    println!(
        "rss_kib warm={} end={} growth={}",
        r.rss_warm / 1024,
        r.rss_end / 1024,
        r.rss_end as i64 / 1024 - r.rss_warm as i64 / 1024
    );
    println!(
        "recorder_bytes warm={} end={} growth={}",
        r.heap_warm,
        r.heap_end,
        r.heap_end as i64 - r.heap_warm as i64
    );
    for row in &r.rows {
        println!(
            "function={} outcome={} issued={} snapshot={} receiver={} scrape={} lost={}",
            row.function,
            row.outcome,
            row.issued,
            row.snapshot,
            show(row.receiver),
            row.scrape,
            row.lost()
        );
    }
    println!(
        "total issued={} snapshot={} receiver={} scrape={}",
        r.issued.total(),
        show(total(|row| Some(row.snapshot))),
        show(total(|row| row.receiver)),
        show(total(|row| Some(row.scrape)))
    );
    for (function, snapshot, receiver) in &r.in_flight {
        println!(
            "in_flight function={function} snapshot={snapshot} receiver={}",
            receiver.map_or_else(|| "-".to_owned(), |v| v.to_string())
        );
    }
    let e = r.exports;
    println!(
        "export exports={} failed_attempts={} dropped_batches={} dropped_points={} dropped_spans={}",
        e.exports, e.failed_attempts, e.dropped_batches, e.dropped_points, e.dropped_spans
    );
    if let Some((rejected, dropped)) = r.receiver_rejected {
        println!("receiver rejected={rejected} dropped={dropped}");
    }
    let s = &r.scrapes;
    println!(
        "scrapes n={} histograms_checked={} failed={} calls_vs_count_differ={} unlabelled_errors={}",
        s.scrapes, s.histograms, s.failures, s.calls_vs_count, s.unlabelled_errors
    );
    for f in &s.failure_text {
        println!("scrape_failure {f}");
    }
    for d in s.calls_vs_count_seen.iter().take(5) {
        println!(
            "scrape_calls_vs_count function={} outcome={} calls_total={} duration_count={}",
            d.function, d.outcome, d.calls, d.count
        );
    }
    println!(
        "stall_ms max={} max_while_scraping={}",
        r.max_stall.as_millis(),
        r.max_stall_scraping.as_millis()
    );
    println!("LOST {}", r.lost());
    println!("{}", if r.ok() { "OK" } else { "FAILED" });
}

/// `500ms`, `10s`, `10m`, `2h`, or seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (500ms, 10s, 10m, 2h)");
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |at| s.split_at(at));
    let n: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

fn parse_args() -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut urls = Vec::new();
    let mut protocol = Protocol::Grpc;
    let mut receiver = false;
    let mut warmup = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--duration" => cfg.duration = parse_duration(&value()?)?,
            "--tasks" => cfg.tasks = value()?.parse().map_err(|e| format!("--tasks: {e}"))?,
            "--workers" => {
                cfg.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?;
            }
            "--otlp" => urls.push(value()?),
            "--otlp-protocol" => {
                protocol = match value()?.as_str() {
                    "grpc" => Protocol::Grpc,
                    "http" | "http/protobuf" => Protocol::HttpProtobuf,
                    other => return Err(format!("--otlp-protocol {other}: grpc or http")),
                };
            }
            "--receiver" => receiver = true,
            "--prometheus" => {
                cfg.prometheus = value()?.parse().map_err(|e| format!("--prometheus: {e}"))?;
            }
            "--interval" => cfg.interval = parse_duration(&value()?)?,
            "--scrapers" => {
                cfg.scrapers = value()?.parse().map_err(|e| format!("--scrapers: {e}"))?;
            }
            "--scrape-interval" => cfg.scrape_interval = parse_duration(&value()?)?,
            "--scrapers-from" => cfg.scrapers_from = parse_duration(&value()?)?,
            "--warmup" => warmup = Some(parse_duration(&value()?)?),
            "--help" | "-h" => {
                return Err("usage: soak [--duration 10s] [--tasks 8] [--workers N] \
                    [--otlp URL]... [--otlp-protocol grpc|http] [--receiver] \
                    [--prometheus ADDR] [--interval 1s] [--scrapers 1] \
                    [--scrape-interval 1s] [--scrapers-from 0s] [--warmup D]"
                    .into());
            }
            other => return Err(format!("unknown argument {other:?} (--help)")),
        }
    }
    cfg.receiver = urls.is_empty() || receiver;
    cfg.otlp = urls
        .into_iter()
        .map(|url| {
            taskscope::otlp()
                .with_endpoint(url)
                .with_protocol(protocol)
                .with_interval(cfg.interval)
        })
        .collect();
    cfg.warmup = warmup.unwrap_or_else(|| {
        (cfg.duration / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
    });
    Ok(cfg)
}

fn main() {
    let cfg = match parse_args() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let report = run(&cfg);
    if !report.ok() {
        std::process::exit(1);
    }
}
