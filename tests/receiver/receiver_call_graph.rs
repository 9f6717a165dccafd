//! The call graph across the wire: taskscope's exporter sends the edges (calls and their
//! wall, busy and self busy time per caller) to a real collector (rotel, forwarding with
//! its defaults, gRPC and gzip), and the receiver rebuilds the same edges. A sender that
//! names a million callers costs the receiver a bounded table, the rest counted as overflow.
#![cfg(all(feature = "receiver", feature = "otlp"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::collector::Collector;
use crate::support::common::{self, work_for};

use std::time::{Duration, Instant};

use taskscope::receive::Receiver;

#[taskscope::measure]
async fn forwarded_parent() {
    work_for(Duration::from_millis(1));
    forwarded_child().await;
}

#[taskscope::measure]
async fn forwarded_child() {
    work_for(Duration::from_millis(4));
    tokio::time::sleep(Duration::from_millis(6)).await;
}

#[test]
fn edges_cross_a_collector_into_the_receiver() {
    if crate::support::alone(module_path!(), "edges_cross_a_collector_into_the_receiver") {
        return;
    }
    common::init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..5 {
            forwarded_parent().await;
        }
    });

    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .start()
        .unwrap();
    let grpc = format!("http://{}", receiver.grpc_addr().unwrap());
    let rotel = Collector::forwarding("call_graph", &["--otlp-exporter-endpoint", &grpc]);
    let exporter = taskscope::otlp()
        .with_endpoint(rotel.grpc_url())
        .with_service_name("graphed")
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    exporter.flush().expect("flushed");

    let deadline = Instant::now() + Duration::from_secs(30);
    let (child, parent) = loop {
        let frame = receiver.frame();
        let find = |name: &str| {
            frame
                .series
                .iter()
                .find(|s| &*s.function == name && s.total_calls() == 5 && !s.callers.is_empty())
                .cloned()
        };
        if let (Some(c), Some(p)) = (find("forwarded_child"), find("forwarded_parent")) {
            break (c, p);
        }
        assert!(
            Instant::now() < deadline,
            "no edges after 30 s: {:?}, {}",
            receiver.stats(),
            rotel.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(child.callers.len(), 1, "{:?}", child.callers);
    let edge = &child.callers[0];
    assert_eq!(
        &*edge.caller,
        "receiver::receiver_call_graph::forwarded_parent"
    );
    assert_eq!(edge.calls, 5);
    assert!((edge.wall - 0.050).abs() < 1e-9, "{edge:?}");
    assert!((edge.busy - 0.020).abs() < 1e-9, "{edge:?}");
    assert!((edge.self_busy - 0.020).abs() < 1e-9, "{edge:?}");
    assert_eq!(&*parent.callers[0].caller, taskscope::ROOT_CALLER);
    assert!(
        (parent.self_busy_seconds() - 0.005).abs() < 1e-9,
        "{parent:?}"
    );
    assert_eq!(receiver.stats().rejected, 0);
}
