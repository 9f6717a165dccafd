//! A small service with the Prometheus endpoint: `cargo run --example prometheus --features
//! prometheus`, then `curl http://127.0.0.1:9464/metrics` (or point Prometheus at it and
//! import `dashboards/`). Runs until Ctrl-C, or for the seconds given as its argument.
//!
//! `prometheus [SECONDS] [ADDR] [CALLS]`: serve on ADDR (default 127.0.0.1:9464), and with
//! CALLS make exactly that many calls and then only serve, so that a scrape sees fixed
//! numbers (the fleet view's test runs three of these).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Debug, taskscope::ErrorKind)]
enum LookupError {
    NotFound,
    Timeout,
}

#[taskscope::measure]
async fn lookup(id: u64) -> Result<u64, LookupError> {
    tokio::time::sleep(Duration::from_millis(1 + id % 20)).await;
    match id % 50 {
        0 => Err(LookupError::NotFound),
        1 => Err(LookupError::Timeout),
        _ => Ok(id),
    }
}

fn usage(what: &str) -> ! {
    eprintln!("prometheus: {what}\nusage: prometheus [SECONDS] [ADDR] [CALLS]");
    std::process::exit(2);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = match args.next() {
        None => u64::MAX,
        Some(s) => s
            .parse()
            .unwrap_or_else(|_| usage(&format!("{s} is not a number of seconds"))),
    };
    let mut endpoint = taskscope::prometheus();
    if let Some(a) = args.next() {
        let addr: SocketAddr = a
            .parse()
            .unwrap_or_else(|_| usage(&format!("{a} is not an address (HOST:PORT)")));
        endpoint = endpoint.with_address(addr);
    }
    let calls: Option<u64> = args.next().map(|c| {
        c.parse()
            .unwrap_or_else(|_| usage(&format!("{c} is not a number of calls")))
    });
    let endpoint = endpoint.start();
    println!("serving http://{}/metrics", endpoint.local_addr());
    let start = Instant::now();
    let mut id = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        if calls.is_some_and(|n| id >= n) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let _ = lookup(id).await;
        id += 1;
    }
}
