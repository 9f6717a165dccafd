//! The taskscope demo: a simulated async service (loopback only, nothing leaves the machine)
//! with the failure modes async teams fight, watched live in the embedded dashboard.
//!
//! ```sh
//! cargo run --release --example demo                    # the dashboard; q quits
//! cargo run --release --example demo -- --no-tui --duration 10s
//! ```
//!
//! What runs, measured with `#[taskscope::measure]` and the pattern helpers of
//! `taskscope::patterns` (press `p` in the dashboard to see one kind at a time):
//! - `handle_request` fans out to three downstream calls under a concurrency-limiting
//!   semaphore (`request_permits.wait` is how long callers queue for a permit,
//!   `request_permits.hold` how long they keep it).
//! - `fetch_with_retry` retries `fetch_once` with exponential backoff through a measured
//!   retry (`downstream`: attempts per operation, the ones that gave up, `downstream.backoff`
//!   the sleeps between attempts).
//! - a worker pool drains a bounded measured channel (`jobs.queue`: each job's time in the
//!   queue and the queue's depth; `jobs.send` the producer's wait when it is full) through a
//!   measured mutex (`jobs_receiver`); `process_job` is the work.
//! - a batch pipeline: `fetch_batch`, `transform` on tokio's blocking pool
//!   (`spawn_blocking!`: its queue wait is its scheduling delay), a measured stream of
//!   records (`records`, `records.item`) that `validate` checks (some fail), `save_batch`.
//! - the load generator and the saturation phases tick measured intervals (`load_tick`,
//!   `saturation_tick`): their drift shows when the runtime falls behind.
//! - `process_order` with a timeout (cancelled calls) and business errors; `charge_card`
//!   panics now and then, caught at its task boundary.
//! - `render_invoice` sometimes blocks the executor thread (slow polls).
//! - every minute, from `--saturate-at` (20 s) on, 8 seconds of CPU work (`crunch`, in
//!   short polls, never a slow one) arrive faster than the runtime's workers can do it: the
//!   workers are all busy, the global queue grows, every function's p99 rises, and the
//!   dashboard says the runtime is saturated, not that the functions got slower. The runtime
//!   monitor watches the runtime; `handle_request` records its scheduling delays
//!   (`#[measure(scheduling)]`, in its detail).
//!
//! Latencies are heavy-tailed (log-normal with a Pareto tail). The same `--seed` gives the
//! same workload: every random draw comes from the seed and the request's number.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use taskscope::patterns::{Interval, MeasureStream, Mutex, Retries, Semaphore, channel};
use tokio::time::{sleep, timeout};

const USAGE: &str = "usage: demo [--duration 30s] [--rate 200] [--seed 1] [--no-tui]
            [--saturate-at 20s] [--otlp [URL]] [--prometheus [ADDR]] [--console [ADDR]]";

/// How long each saturation phase lasts, and how often one starts.
const SATURATION: Duration = Duration::from_secs(8);
const SATURATION_EVERY: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Random draws: xorshift64*, seeded per request, so a seed always gives the same workload.

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng((seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Log-normal around `median_ms`, with a Pareto tail on 1 % of draws.
    fn latency(&mut self, median_ms: f64) -> Duration {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let mut ms = median_ms * (0.5 * z).exp();
        if self.chance(0.01) {
            ms *= (1.0 - self.unit()).max(1e-3).powf(-1.0 / 1.5);
        }
        Duration::from_secs_f64((ms / 1e3).min(2.0))
    }
}

// ---------------------------------------------------------------------------------------
// Errors, by kind.

#[derive(Debug, taskscope::ErrorKind)]
enum FetchError {
    Network,
    RetriesExhausted,
}

#[derive(Debug, taskscope::ErrorKind)]
enum RequestError {
    Downstream,
}

#[derive(Debug, taskscope::ErrorKind)]
enum ValidationError {
    MissingField,
    OutOfRange,
}

#[derive(Debug, taskscope::ErrorKind)]
enum OrderError {
    OutOfStock,
    PaymentDeclined,
    Timeout,
    Crashed,
}

// ---------------------------------------------------------------------------------------
// The request handler: fan-out under a semaphore, downstream calls with retries.

#[taskscope::measure]
async fn fetch_once(service: &'static str, rng: &mut Rng) -> Result<u32, FetchError> {
    let median = match service {
        "inventory" => 4.0,
        "pricing" => 2.0,
        _ => 8.0,
    };
    sleep(rng.latency(median)).await;
    if rng.chance(0.12) {
        return Err(FetchError::Network);
    }
    Ok(service.len() as u32)
}

/// The retried downstream call: one operation per fetch, whatever its attempts.
static DOWNSTREAM: Retries = Retries::new("downstream");

#[taskscope::measure]
async fn fetch_with_retry(service: &'static str, mut rng: Rng) -> Result<u32, FetchError> {
    let retry = DOWNSTREAM.start();
    let mut backoff = Duration::from_millis(2);
    for _ in 0..3 {
        // An attempt slower than 40 ms is abandoned: `fetch_once` counts it as cancelled.
        let attempt = async {
            match timeout(Duration::from_millis(40), fetch_once(service, &mut rng)).await {
                Ok(result) => result,
                Err(_) => Err(FetchError::Network),
            }
        };
        match retry.attempt(attempt).await {
            Ok(v) => return Ok(v),
            Err(_) => {
                retry.backoff(backoff).await;
                backoff *= 2;
            }
        }
    }
    Err(FetchError::RetriesExhausted)
}

#[taskscope::measure(scheduling)]
async fn handle_request(id: u64, seed: u64, permits: Semaphore) -> Result<u32, RequestError> {
    let _permit = permits
        .acquire()
        .await
        .map_err(|_| RequestError::Downstream)?;
    let rng = Rng::new(seed, id);
    let (a, b, c) = tokio::join!(
        fetch_with_retry("inventory", Rng::new(rng.0, 1)),
        fetch_with_retry("pricing", Rng::new(rng.0, 2)),
        fetch_with_retry("reviews", Rng::new(rng.0, 3)),
    );
    match (a, b, c) {
        (Ok(a), Ok(b), Ok(c)) => Ok(a + b + c),
        _ => Err(RequestError::Downstream),
    }
}

// ---------------------------------------------------------------------------------------
// A worker pool draining a bounded queue.

struct Job {
    id: u64,
}

#[taskscope::measure]
async fn process_job(id: u64, seed: u64) -> Result<(), std::io::Error> {
    let mut rng = Rng::new(seed, id ^ 0xB0B);
    sleep(rng.latency(6.0)).await;
    if rng.chance(0.02) {
        return Err(std::io::ErrorKind::ConnectionReset.into());
    }
    Ok(())
}

async fn worker(jobs: Arc<Mutex<taskscope::patterns::Receiver<Job>>>, seed: u64) {
    loop {
        let job = jobs.lock().await.recv().await;
        let Some(job) = job else { return };
        let _ = process_job(job.id, seed).await;
    }
}

// ---------------------------------------------------------------------------------------
// A batch pipeline.

#[taskscope::measure]
async fn fetch_batch(batch: u64, seed: u64) -> Result<Vec<u64>, std::io::Error> {
    let mut rng = Rng::new(seed, batch ^ 0xBA7C);
    sleep(rng.latency(10.0)).await;
    Ok((0..50).map(|i| batch * 50 + i).collect())
}

#[taskscope::measure]
fn transform(records: Vec<u64>) -> Vec<u64> {
    records
        .into_iter()
        .map(|r| r.wrapping_mul(31) % 1000)
        .collect()
}

#[taskscope::measure]
async fn validate(record: u64) -> Result<u64, ValidationError> {
    tokio::task::yield_now().await;
    match record % 97 {
        0 => Err(ValidationError::MissingField),
        1 | 2 => Err(ValidationError::OutOfRange),
        _ => Ok(record),
    }
}

#[taskscope::measure]
async fn save_batch(records: Vec<u64>, seed: u64) -> Result<usize, std::io::Error> {
    let mut rng = Rng::new(seed, records.len() as u64);
    sleep(rng.latency(15.0)).await;
    Ok(records.len())
}

/// A batch's records as a stream, one at a time.
struct Records(std::vec::IntoIter<u64>);

impl futures_core::Stream for Records {
    type Item = u64;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u64>> {
        Poll::Ready(self.0.next())
    }
}

async fn run_batch(batch: u64, seed: u64) {
    let Ok(records) = fetch_batch(batch, seed).await else {
        return;
    };
    // CPU work goes to the blocking pool; its wait there is its scheduling delay.
    let Ok(records) =
        taskscope::spawn_blocking!("transform_batch", move || transform(records)).await
    else {
        return;
    };
    let mut records = Records(records.into_iter()).measured("records");
    let mut valid = Vec::new();
    while let Some(r) = records.next().await {
        if let Ok(r) = validate(r).await {
            valid.push(r);
        }
    }
    let _ = save_batch(valid, seed).await;
}

// ---------------------------------------------------------------------------------------
// Orders: timeouts, business errors, a panic at a task boundary, and a blocking render.

#[taskscope::measure]
async fn charge_card(id: u64, mut rng: Rng) -> Result<(), OrderError> {
    sleep(rng.latency(12.0)).await;
    if rng.chance(0.01) {
        panic!("demo: charge_card hit an impossible state for order {id}");
    }
    if rng.chance(0.05) {
        return Err(OrderError::PaymentDeclined);
    }
    Ok(())
}

#[taskscope::measure]
async fn render_invoice(id: u64, mut rng: Rng) -> String {
    if rng.chance(0.03) {
        // A synchronous PDF library: it holds the executor thread for milliseconds.
        std::thread::sleep(Duration::from_millis(3));
    }
    sleep(rng.latency(1.0)).await;
    format!("invoice {id}")
}

#[taskscope::measure]
async fn process_order(id: u64, seed: u64) -> Result<String, OrderError> {
    let mut rng = Rng::new(seed, id ^ 0x0DE5);
    if rng.chance(0.03) {
        return Err(OrderError::OutOfStock);
    }
    let charge = tokio::spawn(charge_card(id, rng.clone()));
    match timeout(Duration::from_millis(40), charge).await {
        Err(_) => return Err(OrderError::Timeout),
        Ok(Err(_panicked)) => return Err(OrderError::Crashed),
        Ok(Ok(result)) => result?,
    }
    Ok(render_invoice(id, rng).await)
}

// ---------------------------------------------------------------------------------------
// Saturation: CPU work faster than the workers can take it.

/// One slice of CPU work: short enough never to be a slow poll.
const SLICE: Duration = Duration::from_micros(200);
const SLICES: u32 = 20;

/// Work on the CPU in slices, yielding between them: it never blocks the executor, it
/// only takes its share of the workers.
#[taskscope::measure]
async fn crunch(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..SLICES {
        let start = std::time::Instant::now();
        while start.elapsed() < SLICE {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        tokio::task::yield_now().await;
    }
    std::hint::black_box(x)
}

/// During each phase, starts `crunch` calls at 1.4 times what the workers can do.
async fn saturate(at: Duration, workers: usize, stop: Arc<AtomicBool>) {
    let capacity = workers as f64 / (SLICE * SLICES).as_secs_f64();
    let tick = Duration::from_millis(10);
    let per_tick = 1.4 * capacity * tick.as_secs_f64();
    let start = tokio::time::Instant::now() + at;
    let mut interval = Interval::wrap("saturation_tick", tokio::time::interval_at(start, tick));
    let (mut owed, mut n) = (0.0, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let now = interval.tick().await;
        let into_cycle = (now - start).as_secs_f64() % SATURATION_EVERY.as_secs_f64();
        if into_cycle >= SATURATION.as_secs_f64() {
            owed = 0.0;
            continue;
        }
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            n += 1;
            tokio::spawn(crunch(n));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Load: requests at `rate` per second, jobs, batches and orders alongside.

async fn load(args: Args, stop: Arc<AtomicBool>) {
    let permits = Semaphore::new("request_permits", 8);
    let (queue, jobs) = channel::<Job>("jobs", 64);
    let jobs = Arc::new(Mutex::new("jobs_receiver", jobs));
    for _ in 0..2 {
        tokio::spawn(worker(jobs.clone(), args.seed));
    }
    let tick = Duration::from_millis(10);
    let per_tick = args.rate * tick.as_secs_f64();
    let mut owed = 0.0;
    let mut id = 0u64;
    tokio::spawn(saturate(
        args.saturate_at,
        tokio::runtime::Handle::current().metrics().num_workers(),
        stop.clone(),
    ));
    let mut interval = Interval::wrap("load_tick", tokio::time::interval(tick));
    while !stop.load(Ordering::Relaxed) {
        interval.tick().await;
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            id += 1;
            tokio::spawn(handle_request(id, args.seed, permits.clone()));
            if id.is_multiple_of(2) {
                // A full queue sheds the job.
                let _ = queue.try_send(Job { id });
            }
            if id.is_multiple_of(3) {
                tokio::spawn(process_order(id, args.seed));
            }
            if id.is_multiple_of(50) {
                tokio::spawn(run_batch(id / 50, args.seed));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Args {
    duration: Option<Duration>,
    rate: f64,
    seed: u64,
    no_tui: bool,
    saturate_at: Duration,
    otlp: Option<String>,
    prometheus: Option<String>,
    console: Option<String>,
}

fn parse_duration(text: &str) -> Option<Duration> {
    let (n, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let secs = n.parse::<f64>().ok()? * scale;
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        duration: None,
        rate: 200.0,
        seed: 1,
        no_tui: false,
        saturate_at: Duration::from_secs(20),
        otlp: None,
        prometheus: None,
        console: None,
    };
    let mut it = std::env::args().skip(1).peekable();
    let optional = |it: &mut std::iter::Peekable<std::iter::Skip<std::env::Args>>,
                    default: &str| {
        match it.peek() {
            Some(v) if !v.starts_with("--") => it.next().unwrap_or_default(),
            _ => default.to_string(),
        }
    };
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--duration" => {
                let v = value("--duration")?;
                args.duration =
                    Some(parse_duration(&v).ok_or(format!("--duration {v}: write 30s or 2m"))?);
            }
            "--rate" => {
                let v = value("--rate")?;
                args.rate = v
                    .parse::<f64>()
                    .ok()
                    .filter(|r| *r > 0.0 && *r <= 100_000.0)
                    .ok_or(format!("--rate {v}: requests per second, 1 to 100000"))?;
            }
            "--seed" => {
                let v = value("--seed")?;
                args.seed = v.parse().map_err(|_| format!("--seed {v}: a number"))?;
            }
            "--no-tui" => args.no_tui = true,
            "--saturate-at" => {
                let v = value("--saturate-at")?;
                args.saturate_at = if v == "0" || v == "0s" {
                    Duration::ZERO
                } else {
                    parse_duration(&v).ok_or(format!("--saturate-at {v}: write 0s, 20s or 2m"))?
                };
            }
            "--otlp" => args.otlp = Some(optional(&mut it, "http://127.0.0.1:4317")),
            "--prometheus" => args.prometheus = Some(optional(&mut it, "127.0.0.1:9464")),
            "--console" => args.console = Some(optional(&mut it, "127.0.0.1:6669")),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("demo: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    // The demo's own panics are expected: keep them off the dashboard, print the rest.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m.starts_with("demo:"));
        if !expected {
            previous(info);
        }
    }));
    // A poll over 1 ms is slow here: the demo's one blocking function stands out, and a
    // debug build's slower polls do not.
    let _ = taskscope::builder()
        .with_slow_poll_threshold(Duration::from_millis(1))
        .try_init();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let _enter = runtime.enter();
    let mut guards: Vec<Box<dyn std::any::Any>> = Vec::new();
    match taskscope::runtime()
        .with_runtime("demo", runtime.handle())
        .start()
    {
        Ok(m) => guards.push(Box::new(m)),
        Err(e) => fail(&e.to_string()),
    }
    if let Some(url) = &args.otlp {
        match taskscope::otlp()
            .with_endpoint(url.as_str())
            .with_service_name("demo")
            .try_start()
        {
            Ok(e) => guards.push(Box::new(e)),
            Err(e) => fail(&e.to_string()),
        }
    }
    if let Some(addr) = &args.prometheus {
        let addr = addr
            .parse()
            .unwrap_or_else(|_| fail(&format!("--prometheus {addr}: write 127.0.0.1:9464")));
        match taskscope::prometheus().with_address(addr).try_start() {
            Ok(e) => {
                eprintln!("demo: metrics on http://{}/metrics", e.local_addr());
                guards.push(Box::new(e));
            }
            Err(e) => fail(&e.to_string()),
        }
    }
    if let Some(addr) = &args.console {
        let addr = addr
            .parse()
            .unwrap_or_else(|_| fail(&format!("--console {addr}: write 127.0.0.1:6669")));
        match taskscope::subscriber().with_console_addr(addr).try_init() {
            Ok(t) => guards.push(Box::new(t)),
            Err(e) => fail(&e.to_string()),
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    runtime.spawn(load(args.clone(), stop.clone()));

    let tui = !args.no_tui && std::io::stdout().is_terminal();
    if tui {
        let dashboard = taskscope::top()
            .with_service_name("demo")
            .with_window(taskscope::view::Window::TenSeconds)
            .with_p99_budget(Duration::from_millis(250))
            .start()
            .unwrap_or_else(|e| fail(&e.to_string()));
        let start = std::time::Instant::now();
        while !dashboard.is_finished() && args.duration.is_none_or(|d| start.elapsed() < d) {
            std::thread::sleep(Duration::from_millis(50));
        }
        dashboard.close();
        stop.store(true, Ordering::Relaxed);
    } else {
        // No terminal: a summary every few seconds, then the final report.
        let mut out = std::io::stdout().lock();
        let _ = taskscope::top()
            .with_service_name("demo")
            .with_window(taskscope::view::Window::All)
            .with_p99_budget(Duration::from_millis(250))
            .with_duration(args.duration.unwrap_or(Duration::from_secs(30)))
            .run_plain(
                &mut out,
                Duration::from_secs(3),
                taskscope::view::Summary::Table,
            );
        stop.store(true, Ordering::Relaxed);
    }
    // Let the calls in flight finish or time out, then stop everything, and print the
    // report of the whole run (the dashboard has given the terminal back by now).
    std::thread::sleep(Duration::from_millis(200));
    drop(guards);
    runtime.shutdown_timeout(Duration::from_millis(100));
    println!("\nThe whole run:\n{}", taskscope::report());
}

fn fail(message: &str) -> ! {
    eprintln!("demo: {message}");
    std::process::exit(1);
}
