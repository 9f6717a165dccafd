//! Measured functions exported over OTLP, to a collector or to `taskscope top`:
//!
//! ```sh
//! cargo run --features cli -- top                    # in one terminal
//! cargo run --example otlp --features otlp           # in another
//! ```
//!
//! The exporter follows the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, default
//! `http://127.0.0.1:4317`; `OTEL_EXPORTER_OTLP_PROTOCOL`, ...). Runs until Ctrl-C, or for
//! the seconds given as its argument.

use std::time::{Duration, Instant};

#[derive(Debug, taskscope::ErrorKind)]
enum PaymentError {
    Declined,
    Timeout,
}

#[taskscope::measure]
async fn authorize(id: u64) -> Result<u64, PaymentError> {
    tokio::time::sleep(Duration::from_millis(2 + id % 13)).await;
    match id % 40 {
        0 => Err(PaymentError::Declined),
        1 => Err(PaymentError::Timeout),
        _ => Ok(id),
    }
}

#[taskscope::measure]
async fn load_cart(id: u64) -> Result<Vec<u64>, std::io::Error> {
    tokio::time::sleep(Duration::from_millis(1 + id % 5)).await;
    Ok(vec![id; 3])
}

#[tokio::main]
async fn main() {
    let seconds: u64 = match std::env::args().nth(1) {
        None => u64::MAX,
        Some(s) => s.parse().unwrap_or_else(|_| {
            eprintln!("otlp: {s} is not a number of seconds\nusage: otlp [SECONDS]");
            std::process::exit(2);
        }),
    };
    // Builder settings win over the variables, so set here only what they leave open: a
    // one-second interval (the standard default is a minute) and the service's name.
    let mut builder = taskscope::otlp();
    if std::env::var_os("OTEL_METRIC_EXPORT_INTERVAL").is_none() {
        builder = builder.with_interval(Duration::from_secs(1));
    }
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        builder = builder.with_service_name("otlp-example");
    }
    let exporter = match builder.try_start() {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let start = Instant::now();
    let mut id = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        let calls: Vec<_> = (0..8)
            .map(|i| {
                tokio::spawn(async move {
                    let _ = load_cart(id + i).await;
                    authorize(id + i).await
                })
            })
            .collect();
        for call in calls {
            let _ = call.await;
        }
        id += 8;
    }
    exporter.shutdown();
}
