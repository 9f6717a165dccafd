//! A console address that is already taken is reported, and the application keeps running
//! and recording. Its own test binary: the subscriber is global.
#![cfg(feature = "console")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use taskscope::ConsoleStatus;

#[taskscope::measure]
async fn still_measured(n: u32) -> Result<u32, std::io::Error> {
    tokio::task::yield_now().await;
    Ok(n)
}

#[test]
fn a_taken_console_port_is_reported_and_the_app_keeps_recording() {
    if crate::support::alone(
        module_path!(),
        "a_taken_console_port_is_reported_and_the_app_keeps_recording",
    ) {
        return;
    }
    // Settings that cannot work are errors, and install nothing.
    let bad_filter = taskscope::subscriber()
        .with_fmt("my_app=loud")
        .try_init()
        .unwrap_err();
    assert!(
        matches!(&bad_filter, taskscope::SubscriberError::Filter { layer: "fmt", directives, .. } if directives == "my_app=loud"),
        "{bad_filter}"
    );
    #[cfg(feature = "otlp")]
    {
        let bad_otlp = taskscope::subscriber()
            .with_otlp(taskscope::otlp().with_interval(std::time::Duration::ZERO))
            .try_init()
            .unwrap_err();
        assert!(
            matches!(bad_otlp, taskscope::SubscriberError::Otlp(_)),
            "{bad_otlp}"
        );
    }

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let builder = taskscope::subscriber().with_console_addr(addr);
    // An exporter to a port where nothing listens: it runs, and its guard stops it.
    #[cfg(feature = "otlp")]
    let builder = builder.with_otlp(
        taskscope::otlp()
            .with_endpoint("http://127.0.0.1:9")
            .with_max_attempts(1)
            .with_timeout(std::time::Duration::from_secs(2)),
    );
    let telemetry = builder
        .try_init()
        .expect("a taken console port is not an error");
    #[cfg(tokio_unstable)]
    assert_eq!(telemetry.console(), &ConsoleStatus::PortInUse(addr));
    // Without the cfg the console is off before its address matters.
    #[cfg(not(tokio_unstable))]
    assert_eq!(telemetry.console(), &ConsoleStatus::NeedsTokioUnstable);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for n in 0..5 {
            taskscope::spawn!(still_measured(n)).await.unwrap().unwrap();
        }
    });
    let f = taskscope::snapshot()
        .function("still_measured")
        .cloned()
        .expect("recorded");
    assert_eq!((f.ok.count, f.error.count, f.cancelled.count), (5, 0, 0));
    // The listener that took the port is untouched.
    assert_eq!(taken.local_addr().unwrap(), addr);

    // A second subscriber is refused.
    let again = taskscope::subscriber().try_init().unwrap_err();
    assert!(
        matches!(again, taskscope::SubscriberError::AlreadySet),
        "{again}"
    );

    #[cfg(feature = "otlp")]
    {
        assert!(telemetry.otlp().is_some());
        let stats = telemetry.shutdown().expect("the exporter answered");
        // Its last export went nowhere, and says so.
        assert!(stats.failed_attempts >= 1, "{stats:?}");
    }
    #[cfg(not(feature = "otlp"))]
    assert!(telemetry.shutdown().is_none());
}
