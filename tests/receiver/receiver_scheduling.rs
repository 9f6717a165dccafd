//! `#[measure(scheduling)]` across the wire: taskscope's exporter sends the scheduling-delay
//! histogram to a real collector (rotel, forwarding with its defaults, gRPC and gzip), and
//! the dashboard's receiver shows the delays of the function, exact.
#![cfg(all(feature = "receiver", feature = "otlp"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector::Collector;
use crate::support::common::{self, with_held_wakes};

use std::time::{Duration, Instant};

use taskscope::receive::Receiver;
use tokio::sync::mpsc;

#[taskscope::measure(scheduling)]
async fn forwarded_waits(mut rx: mpsc::Receiver<u32>) -> u32 {
    let mut sum = 0;
    while let Some(n) = rx.recv().await {
        sum += n;
        if n == 4 {
            break;
        }
    }
    sum
}

#[test]
fn scheduling_delays_cross_a_collector_into_the_receiver() {
    if crate::support::alone(
        module_path!(),
        "scheduling_delays_cross_a_collector_into_the_receiver",
    ) {
        return;
    }
    common::init();
    let held = Duration::from_millis(40);
    assert_eq!(with_held_wakes(forwarded_waits, 4, held), 10);

    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .start()
        .unwrap();
    let grpc = format!("http://{}", receiver.grpc_addr().unwrap());
    let rotel = Collector::forwarding("scheduling", &["--otlp-exporter-endpoint", &grpc]);
    let exporter = taskscope::otlp()
        .with_endpoint(rotel.grpc_url())
        .with_service_name("scheduled")
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    exporter.flush().expect("flushed");

    let deadline = Instant::now() + Duration::from_secs(30);
    let series = loop {
        let frame = receiver.frame();
        let found = frame
            .series
            .iter()
            .find(|s| &*s.function == "forwarded_waits" && s.scheduling.count() > 0)
            .cloned();
        if let Some(s) = found {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no scheduling delays after 30 s: {:?}, {}",
            receiver.stats(),
            rotel.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(series.total_calls(), 1);
    let s = &series.scheduling;
    assert_eq!(s.count(), 4, "one wait per message");
    // Within the exponential histogram's relative error (scale 7: under 0.6 %).
    let p50 = s.quantile(0.5).unwrap();
    assert!((p50 - 0.040).abs() < 0.040 * 0.006, "{p50}");
    assert_eq!(receiver.stats().rejected, 0);
}
