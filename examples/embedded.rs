//! The dashboard inside an app: no collector, no network, the recorder read directly.
//!
//! ```sh
//! cargo run --example embedded --features tui            # q closes the dashboard
//! cargo run --example embedded --features tui -- 10      # the app ends after 10 s
//! ```
//!
//! Without a terminal it prints the report instead. Given `panic` after the seconds, the
//! main thread panics after one second, to show the terminal is given back first.

use std::time::{Duration, Instant};

#[derive(Debug, taskscope::ErrorKind)]
enum StockError {
    OutOfStock,
}

#[taskscope::measure]
async fn check_stock(id: u64) -> Result<u64, StockError> {
    tokio::time::sleep(Duration::from_millis(1 + id % 9)).await;
    if id.is_multiple_of(25) {
        return Err(StockError::OutOfStock);
    }
    Ok(id)
}

#[taskscope::measure]
async fn reserve(id: u64) -> Result<(), std::io::Error> {
    tokio::time::sleep(Duration::from_millis(3 + id % 17)).await;
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    let panic = args.next().as_deref() == Some("panic");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.spawn(async {
        let mut id = 0u64;
        loop {
            for i in 0..4 {
                tokio::spawn(async move {
                    if check_stock(id + i).await.is_ok() {
                        let _ = reserve(id + i).await;
                    }
                });
            }
            id += 4;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let dashboard = match taskscope::top()
        .with_refresh(Duration::from_millis(250))
        .with_window(taskscope::view::Window::TenSeconds)
        .start()
    {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("{e}");
            None
        }
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds)
        && dashboard.as_ref().is_none_or(|d| !d.is_finished())
    {
        std::thread::sleep(Duration::from_millis(50));
        if panic && start.elapsed() > Duration::from_secs(1) {
            panic!("boom: the app panicked while the dashboard was open");
        }
    }
    if let Some(d) = dashboard {
        println!("dashboard closed: {:?}", d.close());
    }
    print!("{}", taskscope::report());
}
