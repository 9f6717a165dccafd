//! What tokio-console costs a busy service: the same load with the console off, with
//! console-subscriber's own retention (an hour) and with taskscope's default retention,
//! no client connected. Prints resident memory every 3000 requests (6000 by default, or
//! the number given after the mode) and the slow polls per 4000 measured calls.
//!
//! ```sh
//! RUSTFLAGS="--cfg tokio_unstable" cargo run --release --example console_cost -- off
//! RUSTFLAGS="--cfg tokio_unstable" cargo run --release --example console_cost -- hour
//! RUSTFLAGS="--cfg tokio_unstable" cargo run --release --example console_cost -- default
//! ```
//!
//! Each request is a task spawned with `taskscope::spawn!` (as a server spawns one per
//! connection or request) that waits for a permit of a semaphore, calls two measured
//! functions (one with a retry) and sleeps a little; 64 requests are in flight at a time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, taskscope::ErrorKind)]
enum FetchError {
    Unavailable,
}

#[taskscope::measure]
async fn fetch(id: u64, attempt: u32) -> Result<u64, FetchError> {
    tokio::time::sleep(Duration::from_micros(300)).await;
    if id.is_multiple_of(10) && attempt == 0 {
        Err(FetchError::Unavailable)
    } else {
        Ok(id * 2)
    }
}

#[taskscope::measure]
async fn render(value: u64) -> String {
    tokio::task::yield_now().await;
    format!("value {value}")
}

#[taskscope::measure]
async fn handle_request(
    id: u64,
    permits: Arc<Semaphore>,
    _slot: OwnedSemaphorePermit,
) -> Result<usize, FetchError> {
    let _permit = permits.acquire().await.expect("never closed");
    let mut attempt = 0;
    let value = loop {
        match fetch(id, attempt).await {
            Ok(v) => break v,
            Err(_) if attempt < 2 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    Ok(render(value).await.len())
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn slow_polls_and_calls() -> (u64, u64) {
    let snap = taskscope::snapshot();
    snap.functions.iter().fold((0, 0), |(slow, calls), f| {
        let slow_f = f.ok.slow_polls + f.error.slow_polls + f.cancelled.slow_polls;
        (slow + slow_f, calls + f.calls())
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "default".into());
    let requests: u64 = args
        .next()
        .map_or(6000, |n| n.parse().expect("a number of requests"));
    let builder = taskscope::subscriber();
    let builder = match mode.as_str() {
        "off" => builder,
        "hour" => builder.with_console_retention(Duration::from_secs(3600)),
        "default" => builder.with_console(),
        other => {
            eprintln!("usage: console_cost off|hour|default [REQUESTS] (not {other:?})");
            std::process::exit(2);
        }
    };
    let builder = if mode == "off" {
        builder
    } else {
        builder.with_console_addr(([127, 0, 0, 1], 0).into())
    };
    let telemetry = builder.init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let permits = Arc::new(Semaphore::new(16));
    let started = Instant::now();
    println!(
        "mode {mode}: console {:?}, rss at start {:.1} MB",
        telemetry.console(),
        rss() as f64 / 1e6
    );
    let in_flight = Arc::new(Semaphore::new(64));
    let mut slow_window = (0, 0);
    rt.block_on(async {
        let mut from = 0;
        while from < requests {
            // Phases of 3000 requests (the first of 2000, before the slow polls are counted).
            let to = if from == 0 {
                2000
            } else {
                (from / 3000 + 1) * 3000
            }
            .min(requests);
            for id in from..to {
                let slot = in_flight
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("never closed");
                let p = permits.clone();
                taskscope::spawn!(handle_request(id, p, slot));
            }
            // Every request of the phase done, then time for the console's aggregator.
            drop(in_flight.acquire_many(64).await.expect("never closed"));
            from = to;
            if to == 2000 {
                slow_window = slow_polls_and_calls();
                continue;
            }
            tokio::time::sleep(Duration::from_millis(1500)).await;
            println!(
                "after {to} requests ({:.1} s): rss {:.1} MB",
                started.elapsed().as_secs_f64(),
                rss() as f64 / 1e6
            );
        }
    });
    let (slow, calls) = slow_polls_and_calls();
    let (slow_before, calls_before) = slow_window;
    let per_4000 = (slow - slow_before) as f64 * 4000.0 / (calls - calls_before).max(1) as f64;
    println!(
        "slow polls per 4000 calls (requests 2000..{requests}): {per_4000:.1}; {:.2} s in all",
        started.elapsed().as_secs_f64()
    );
}
