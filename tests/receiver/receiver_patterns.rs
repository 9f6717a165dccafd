//! The async patterns across the wire: taskscope's exporter sends a retried operation's
//! kind and attempts and a semaphore's phases to a real collector (rotel, forwarding with
//! its defaults, gRPC and gzip), and the dashboard's receiver shows them, exact.
#![cfg(all(feature = "receiver", feature = "otlp"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector::Collector;
use crate::support::common;

use std::time::{Duration, Instant};

use taskscope::Pattern;
use taskscope::patterns::{Retries, Semaphore};
use taskscope::receive::Receiver;

static SYNC: Retries = Retries::new("forwarded_sync");

#[test]
fn a_retry_and_a_semaphore_cross_a_collector_into_the_receiver() {
    if crate::support::alone(
        module_path!(),
        "a_retry_and_a_semaphore_cross_a_collector_into_the_receiver",
    ) {
        return;
    }
    common::init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        // Three operations: ok at the first try, ok at the third, and one that gives up
        // after two.
        for (ok_at, max) in [(1, 3), (3, 3), (9, 2)] {
            let retry = SYNC.start();
            let mut n = 0;
            loop {
                n += 1;
                let attempt = async {
                    if n >= ok_at {
                        Ok(n)
                    } else {
                        Err(std::fmt::Error)
                    }
                };
                match retry.attempt(attempt).await {
                    Err(_) if n < max => retry.backoff(Duration::from_millis(5)).await,
                    _ => break,
                }
            }
        }
        let pool = Semaphore::new("forwarded_pool", 1);
        for _ in 0..4 {
            let _p = pool.acquire().await.unwrap();
        }
    });

    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .start()
        .unwrap();
    let grpc = format!("http://{}", receiver.grpc_addr().unwrap());
    let rotel = Collector::forwarding("patterns", &["--otlp-exporter-endpoint", &grpc]);
    let exporter = taskscope::otlp()
        .with_endpoint(rotel.grpc_url())
        .with_service_name("patterned")
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    exporter.flush().expect("flushed");

    let deadline = Instant::now() + Duration::from_secs(30);
    let (op, hold) = loop {
        let frame = receiver.frame();
        let find = |name: &str| frame.series.iter().find(|s| &*s.function == name).cloned();
        if let (Some(op), Some(hold)) = (find("forwarded_sync"), find("forwarded_pool.hold"))
            && op.attempts.count() > 0
        {
            break (op, hold);
        }
        assert!(
            Instant::now() < deadline,
            "no retried operation after 30 s: {:?}, {}",
            receiver.stats(),
            rotel.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(op.pattern, Pattern::Retry);
    assert_eq!(op.calls.total(), 3);
    assert_eq!(op.calls[taskscope::Outcome::Error], 1, "one gave up");
    assert_eq!(op.attempts.count(), 3, "one count per operation");
    assert_eq!(op.attempts.sum(), 6.0, "1 + 3 + 2 attempts");
    assert_eq!(op.attempts.max(), Some(3.0));
    assert_eq!(hold.pattern, Pattern::Semaphore);
    assert_eq!(hold.calls.total(), 4);
    assert_eq!(receiver.stats().rejected, 0);
}
