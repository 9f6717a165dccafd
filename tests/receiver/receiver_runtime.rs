//! A taskscope app with a runtime monitor, exporting to the dashboard's receiver: the
//! runtime arrives in the receiver's frames with the numbers the app's snapshot holds, over
//! gRPC and HTTP.
#![cfg(all(feature = "receiver", feature = "otlp", feature = "runtime"))]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::time::Duration;

use taskscope::Protocol;
use taskscope::receive::Receiver;

fn round_trip(protocol: Protocol, name: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..50 {
            tokio::spawn(async { tokio::task::yield_now().await })
                .await
                .unwrap();
        }
    });
    let _parked = rt.spawn(std::future::pending::<()>());
    let monitor = taskscope::runtime()
        .with_runtime(name, rt.handle())
        .with_interval(Duration::from_millis(50))
        .start()
        .unwrap();
    std::thread::sleep(Duration::from_millis(120));
    let receiver = Receiver::builder()
        .with_grpc_addr(([127, 0, 0, 1], 0).into())
        .with_http_addr(([127, 0, 0, 1], 0).into())
        .start()
        .unwrap();
    let endpoint = match protocol {
        Protocol::Grpc => format!("http://{}", receiver.grpc_addr().unwrap()),
        Protocol::HttpProtobuf => format!("http://{}", receiver.http_addr().unwrap()),
    };
    // Stop reading first, so the export and the snapshot see one reading.
    drop(monitor);
    let monitor = taskscope::runtime()
        .with_runtime(name, rt.handle())
        .with_interval(Duration::from_secs(3600))
        .start()
        .unwrap();
    let exporter = taskscope::otlp()
        .with_endpoint(endpoint)
        .with_protocol(protocol)
        .with_service_name("runtime-test")
        .with_interval(Duration::from_secs(3600))
        .try_start()
        .unwrap();
    exporter.flush().expect("the export is answered");
    let ours = taskscope::snapshot().runtime(name).cloned().unwrap();
    let frame = receiver.frame();
    let theirs = frame
        .runtimes
        .iter()
        .find(|r| &*r.name == name)
        .unwrap_or_else(|| panic!("the runtime arrived: {:?}", frame.runtimes));
    assert_eq!(&*theirs.service, "runtime-test");
    assert_eq!(theirs.workers, 2);
    assert_eq!(theirs.workers, ours.workers);
    assert_eq!(theirs.alive_tasks, ours.alive_tasks);
    assert_eq!(theirs.global_queue_depth, ours.global_queue_depth);
    let busy: Vec<f64> = ours.worker_busy.iter().map(Duration::as_secs_f64).collect();
    assert_eq!(theirs.worker_busy, busy);
    assert_eq!(theirs.worker_parks, ours.worker_parks);
    assert!(busy.iter().sum::<f64>() > 0.0, "the work counted: {busy:?}");
    assert_eq!(frame.status.rejected, 0);
    drop(monitor);
}

#[test]
fn a_runtime_arrives_over_grpc() {
    if crate::support::alone(module_path!(), "a_runtime_arrives_over_grpc") {
        return;
    }
    round_trip(Protocol::Grpc, "over-grpc");
}

#[test]
fn a_runtime_arrives_over_http() {
    if crate::support::alone(module_path!(), "a_runtime_arrives_over_http") {
        return;
    }
    round_trip(Protocol::HttpProtobuf, "over-http");
}
