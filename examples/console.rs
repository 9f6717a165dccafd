//! A small service whose tasks show in tokio-console under the names of the measured
//! functions they run, while taskscope measures those functions: `taskscope::subscriber()`
//! puts the console's layer, the taskscope layer and a fmt layer on one registry, and
//! `taskscope::spawn!` names each task after the function it calls.
//!
//! tokio reports tasks to the console only when it is compiled with `--cfg tokio_unstable`,
//! which the final binary's build must set (a library cannot):
//!
//! ```sh
//! RUSTFLAGS="--cfg tokio_unstable" cargo run --example console --features console
//! tokio-console    # in another terminal; it connects to http://127.0.0.1:6669
//! ```
//!
//! Arguments: the console's address (default `127.0.0.1:6669`) and the seconds to run
//! (default: until Ctrl-C, with a report every 10 s). Built without the flag it runs all the
//! same: one warning on stderr says how to turn the console on, and taskscope measures.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use taskscope::ConsoleStatus;
use tokio::time::sleep;

#[derive(Debug, taskscope::ErrorKind)]
enum FetchError {
    NotFound,
    Timeout,
}

#[taskscope::measure]
async fn fetch_user(id: u64) -> Result<String, FetchError> {
    sleep(Duration::from_millis(2 + id % 7)).await;
    match id % 20 {
        0 => Err(FetchError::NotFound),
        13 => Err(FetchError::Timeout),
        _ => Ok(format!("user {id}")),
    }
}

#[taskscope::measure]
async fn render_page(id: u64) -> usize {
    let user = fetch_user(id).await.unwrap_or_default();
    sleep(Duration::from_millis(1)).await;
    user.len()
}

#[taskscope::measure]
async fn refresh_cache(round: u64) -> Result<(), FetchError> {
    sleep(Duration::from_millis(5)).await;
    if round % 10 == 9 {
        Err(FetchError::Timeout)
    } else {
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let usage = |what: &str| -> ! {
        eprintln!("console: {what}\nusage: console [ADDR|-] [SECONDS]");
        std::process::exit(2);
    };
    // No address (or `-`): TOKIO_CONSOLE_BIND, else 127.0.0.1:6669.
    let addr: Option<SocketAddr> = args.next().filter(|a| a != "-").map(|a| {
        a.parse()
            .unwrap_or_else(|_| usage(&format!("{a} is not an address such as 127.0.0.1:6669")))
    });
    let seconds: Option<u64> = args.next().map(|s| {
        s.parse()
            .unwrap_or_else(|_| usage(&format!("{s} is not a number of seconds")))
    });

    let builder = taskscope::subscriber().with_fmt("warn");
    let builder = match addr {
        Some(addr) => builder.with_console_addr(addr),
        None => builder.with_console(),
    };
    let telemetry = match builder.try_init() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("console: {e}");
            std::process::exit(1);
        }
    };
    match telemetry.console() {
        ConsoleStatus::Serving(addr) => eprintln!("tokio-console http://{addr}"),
        other => eprintln!("tokio-console: {other:?}"),
    }

    // A long-lived task, named by hand: an async block has no function name.
    taskscope::spawn!("cache_refresher", async {
        for round in 0.. {
            let _ = refresh_cache(round).await;
            sleep(Duration::from_millis(100)).await;
        }
    });

    let started = Instant::now();
    let mut next_report = Duration::from_secs(10);
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let mut id = 0;
    loop {
        ticker.tick().await;
        for _ in 0..5 {
            id += 1;
            // A task named `render_page` in tokio-console.
            taskscope::spawn!(render_page(id));
        }
        let elapsed = started.elapsed();
        match seconds {
            Some(s) if elapsed >= Duration::from_secs(s) => break,
            None if elapsed >= next_report => {
                print!("{}", taskscope::report());
                next_report += Duration::from_secs(10);
            }
            _ => {}
        }
    }
    print!("{}", taskscope::report());
}
