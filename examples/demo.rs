//! A small simulated service: measured handlers with successes, errors by kind, timeouts
//! (cancelled calls), a panic, and a blocking handler with slow polls. Runs about two
//! seconds, printing one interval report a second and the full report at exit.
//!
//! ```sh
//! cargo run --example demo
//! ```

use std::time::Duration;

use tokio::time::{sleep, timeout};

#[derive(Debug, taskscope::ErrorKind)]
enum OrderError {
    OutOfStock,
    PaymentDeclined,
}

#[taskscope::measure]
async fn load_user(id: u64) -> Result<String, std::io::Error> {
    sleep(Duration::from_millis(2 + id % 5)).await;
    if id.is_multiple_of(50) {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    Ok(format!("user-{id}"))
}

#[taskscope::measure]
async fn place_order(id: u64) -> Result<u64, OrderError> {
    sleep(Duration::from_millis(5 + id % 20)).await;
    match id % 17 {
        3 => Err(OrderError::OutOfStock),
        11 => Err(OrderError::PaymentDeclined),
        _ => Ok(id * 10),
    }
}

#[taskscope::measure]
async fn slow_search(id: u64) -> Vec<u64> {
    sleep(Duration::from_millis(10 + (id % 7) * 10)).await;
    vec![id]
}

#[taskscope::measure]
async fn blocking_report(id: u64) -> u64 {
    // Blocks the executor thread: every poll of this call is a slow poll.
    std::thread::sleep(Duration::from_micros(200));
    if id == 13 {
        panic!("report generator crashed");
    }
    id
}

#[taskscope::measure]
async fn handle(id: u64) -> Result<u64, String> {
    let user = load_user(id).await.map_err(|e| e.to_string())?;
    let order = place_order(id)
        .await
        .map_err(|e| format!("{user}: {e:?}"))?;
    // Searches slower than 40 ms are abandoned: counted as cancelled, not failed.
    let _ = timeout(Duration::from_millis(40), slow_search(id)).await;
    Ok(order)
}

#[tokio::main]
async fn main() {
    let mut sampler = taskscope::Sampler::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut id = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = tick.tick() => {
                let interval = sampler.sample();
                println!("--- last {:.1} s", interval.delta.window.as_secs_f64());
                print!("{}", taskscope::Report::of(interval.delta));
            }
            _ = sleep(Duration::from_millis(2)) => {
                for _ in 0..4 {
                    id += 1;
                    tokio::spawn(handle(id));
                }
                if id.is_multiple_of(40) {
                    let _ = tokio::spawn(blocking_report(id / 40)).await;
                }
            }
        }
    }
    sleep(Duration::from_millis(150)).await;
    println!("--- whole run");
    print!("{}", taskscope::report());
}
