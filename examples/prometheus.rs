//! A small service with the Prometheus endpoint: `cargo run --example prometheus --features
//! prometheus`, then `curl http://127.0.0.1:9464/metrics` (or point Prometheus at it and
//! import `dashboards/`). Runs until Ctrl-C, or for the seconds given as its argument.

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

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let seconds: u64 = match std::env::args().nth(1) {
        None => u64::MAX,
        Some(s) => s.parse().unwrap_or_else(|_| {
            eprintln!("prometheus: {s} is not a number of seconds\nusage: prometheus [SECONDS]");
            std::process::exit(2);
        }),
    };
    let endpoint = taskscope::prometheus().start();
    println!("serving http://{}/metrics", endpoint.local_addr());
    let start = Instant::now();
    let mut id = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        let _ = lookup(id).await;
        id += 1;
    }
}
