//! The runtime monitor against real tokio runtimes: a 2-worker runtime whose workers are
//! held by blocking work shows them busy and a global queue that grows; an idle one does
//! not; what it reads equals what tokio's own `RuntimeMetrics` says; it stops and forgets
//! when dropped; bad settings are errors that say what to fix. In a `--cfg tokio_unstable`
//! build (CI runs this module there too) it reads the blocking pool and the poll counts.
#![cfg(feature = "runtime")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::time::{Duration, Instant};

use taskscope::{RuntimeError, RuntimeSnapshot};

fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Every reading of `name` for `for_how_long`, one per interval of the monitor.
fn readings(name: &str, for_how_long: Duration) -> Vec<RuntimeSnapshot> {
    let mut seen: Vec<RuntimeSnapshot> = Vec::new();
    let until = Instant::now() + for_how_long;
    while Instant::now() < until {
        if let Some(r) = taskscope::snapshot().runtime(name).cloned()
            && seen.last().is_none_or(|l| l.read_at != r.read_at)
        {
            seen.push(r);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    seen
}

#[test]
fn a_saturated_runtime_shows_its_workers_busy_and_its_queue_growing() {
    if crate::support::alone(
        module_path!(),
        "a_saturated_runtime_shows_its_workers_busy_and_its_queue_growing",
    ) {
        return;
    }
    let rt = two_workers();
    let _monitor = taskscope::runtime()
        .with_runtime("saturated", rt.handle())
        .with_interval(Duration::from_millis(100))
        .start()
        .unwrap();
    // Both workers held by blocking work for 800 ms, while tasks keep arriving from outside.
    for _ in 0..2 {
        rt.spawn(async { std::thread::sleep(Duration::from_millis(800)) });
    }
    std::thread::sleep(Duration::from_millis(50));
    let feeder = std::thread::spawn({
        let handle = rt.handle().clone();
        move || {
            for _ in 0..40 {
                handle.spawn(async {});
                std::thread::sleep(Duration::from_millis(15));
            }
        }
    });
    let seen = readings("saturated", Duration::from_millis(650));
    feeder.join().unwrap();
    assert!(seen.len() >= 4, "a reading every 100 ms: {}", seen.len());
    let busy: Vec<f64> = seen
        .iter()
        .filter_map(RuntimeSnapshot::busy_share)
        .collect();
    let queue: Vec<usize> = seen.iter().map(|r| r.global_queue_depth).collect();
    assert!(
        busy.iter().filter(|b| **b >= 0.9).count() >= 3,
        "both workers busy: {busy:?}"
    );
    assert!(
        queue.windows(2).filter(|w| w[1] > w[0]).count() >= 3 && queue.last() > Some(&10),
        "the global queue grows: {queue:?}"
    );
    let last = seen.last().unwrap();
    assert_eq!(last.workers, 2);
    assert!(last.alive_tasks >= 10, "{last:?}");
    for w in 0..2 {
        assert!(
            last.worker_busy_share(w).is_some_and(|b| b >= 0.9),
            "worker {w}: {last:?}"
        );
    }
}

#[test]
fn an_idle_runtime_is_not_busy_and_its_readings_equal_tokios_own() {
    if crate::support::alone(
        module_path!(),
        "an_idle_runtime_is_not_busy_and_its_readings_equal_tokios_own",
    ) {
        return;
    }
    let rt = two_workers();
    // A little work, then nothing: the workers park.
    rt.block_on(async {
        for _ in 0..100 {
            tokio::spawn(async { tokio::task::yield_now().await })
                .await
                .unwrap();
        }
    });
    let _parked = rt.spawn(std::future::pending::<()>());
    let _monitor = taskscope::runtime()
        .with_runtime("idle", rt.handle())
        .with_interval(Duration::from_millis(100))
        .start()
        .unwrap();
    let seen = readings("idle", Duration::from_millis(450));
    let last = seen.last().expect("readings").clone();
    assert!(
        seen.iter()
            .skip(1)
            .all(|r| r.busy_share().is_some_and(|b| b < 0.2)),
        "idle: {seen:?}"
    );
    let tokio = rt.handle().metrics();
    assert_eq!(last.workers, tokio.num_workers());
    assert_eq!(last.alive_tasks, tokio.num_alive_tasks());
    assert_eq!(last.alive_tasks, 1, "the one pending task");
    assert_eq!(last.global_queue_depth, tokio.global_queue_depth());
    for w in 0..2 {
        // Parked workers add no busy time: the monitor's last reading is tokio's now.
        let theirs = tokio.worker_total_busy_duration(w);
        let ours = last.worker_busy[w];
        assert!(
            ours <= theirs && theirs - ours < Duration::from_millis(5),
            "worker {w}: {ours:?} read, tokio says {theirs:?}"
        );
        assert_eq!(
            last.worker_parks[w],
            tokio.worker_park_count(w),
            "worker {w}"
        );
    }
    assert!(
        last.worker_busy.iter().sum::<Duration>() > Duration::ZERO,
        "the work before counted"
    );
}

#[test]
fn dropping_the_monitor_stops_it_and_its_runtimes_leave_the_snapshot() {
    if crate::support::alone(
        module_path!(),
        "dropping_the_monitor_stops_it_and_its_runtimes_leave_the_snapshot",
    ) {
        return;
    }
    let a = two_workers();
    let b = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let monitor = taskscope::runtime()
        .with_runtime("a", a.handle())
        .with_runtime("b", b.handle())
        .start()
        .unwrap();
    assert_eq!(monitor.runtimes(), ["a", "b"]);
    // Read once at start, before the first interval.
    let snap = taskscope::snapshot();
    let names: Vec<&str> = snap.runtimes.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&"a") && names.contains(&"b"), "{names:?}");
    assert_eq!(snap.runtime("b").unwrap().workers, 1);
    let started = Instant::now();
    drop(monitor);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "it stops without waiting for its 1 s interval"
    );
    let snap = taskscope::snapshot();
    assert!(snap.runtime("a").is_none() && snap.runtime("b").is_none());
}

#[test]
fn bad_settings_are_errors_that_say_what_to_fix() {
    if crate::support::alone(
        module_path!(),
        "bad_settings_are_errors_that_say_what_to_fix",
    ) {
        return;
    }
    let rt = two_workers();
    let e = taskscope::runtime().start().unwrap_err();
    assert!(matches!(e, RuntimeError::NoRuntime), "{e}");
    assert!(e.to_string().contains("with_runtime"), "{e}");
    let e = taskscope::runtime()
        .with_current("main")
        .start()
        .unwrap_err();
    assert!(
        matches!(e, RuntimeError::NotInRuntime(ref n) if n == "main"),
        "{e}"
    );
    let e = taskscope::runtime()
        .with_runtime("x", rt.handle())
        .with_runtime("x", rt.handle())
        .start()
        .unwrap_err();
    assert!(e.to_string().contains("\"x\""), "{e}");
    let e = taskscope::runtime()
        .with_runtime("x", rt.handle())
        .with_interval(Duration::from_millis(1))
        .start()
        .unwrap_err();
    assert!(e.to_string().contains("with_interval"), "{e}");
    // A name another running monitor watches is taken.
    let first = taskscope::runtime()
        .with_runtime("taken", rt.handle())
        .start()
        .unwrap();
    let e = taskscope::runtime()
        .with_runtime("taken", rt.handle())
        .start()
        .unwrap_err();
    assert!(
        matches!(e, RuntimeError::DuplicateName(ref n) if n == "taken"),
        "{e}"
    );
    drop(first);
    let again = taskscope::runtime()
        .with_runtime("taken", rt.handle())
        .start();
    assert!(again.is_ok(), "free once the first monitor is dropped");
    // From inside a runtime, with_current finds it.
    let monitor = rt.block_on(async { taskscope::runtime().with_current("main").start() });
    assert_eq!(monitor.unwrap().runtimes(), ["main"]);
}

#[cfg(tokio_unstable)]
#[test]
fn with_tokio_unstable_it_reads_the_blocking_pool_and_the_polls() {
    if crate::support::alone(
        module_path!(),
        "with_tokio_unstable_it_reads_the_blocking_pool_and_the_polls",
    ) {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_metrics_poll_time_histogram()
        .build()
        .unwrap();
    let _monitor = taskscope::runtime()
        .with_runtime("unstable", rt.handle())
        .with_interval(Duration::from_millis(100))
        .start()
        .unwrap();
    rt.block_on(async {
        for _ in 0..200 {
            tokio::spawn(async { tokio::task::yield_now().await })
                .await
                .unwrap();
        }
    });
    // Four blocking jobs for a pool of two: two wait.
    for _ in 0..4 {
        rt.spawn_blocking(|| std::thread::sleep(Duration::from_millis(400)));
    }
    let seen = readings("unstable", Duration::from_millis(300));
    let u: Vec<_> = seen.iter().filter_map(|r| r.unstable.clone()).collect();
    assert_eq!(u.len(), seen.len(), "every reading has them");
    assert!(
        u.iter()
            .any(|u| u.blocking_threads == 2 && u.blocking_queue_depth == 2),
        "{u:?}"
    );
    let last = u.last().unwrap();
    assert!(last.polls >= 400, "{last:?}");
    assert!(!last.poll_time.is_empty(), "the histogram was enabled");
    assert_eq!(
        last.poll_time.iter().map(|b| b.count).sum::<u64>(),
        last.polls,
        "every poll in a bucket"
    );
}
