//! Exact counts under concurrency, and calls that move between worker threads.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::time::Duration;

use common::{function, init};

#[taskscope::measure]
async fn hop(i: u64) -> Result<u64, std::fmt::Error> {
    // Yielding lets the multi-thread scheduler resume the call on another worker.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    if i.is_multiple_of(10) {
        Err(std::fmt::Error)
    } else {
        Ok(i)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n_tasks_times_m_calls_gives_exactly_n_times_m() {
    if crate::support::alone(
        module_path!(),
        "n_tasks_times_m_calls_gives_exactly_n_times_m",
    ) {
        return;
    }
    init();
    const N: u64 = 16;
    const M: u64 = 500;
    let tasks: Vec<_> = (0..N)
        .map(|t| {
            tokio::spawn(async move {
                for i in 0..M {
                    let _ = hop(t * M + i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let f = function("hop");
    assert_eq!(f.calls(), N * M);
    assert_eq!(f.error.count, N * M / 10);
    assert_eq!(f.ok.count, N * M - N * M / 10);
    assert_eq!(
        f.polls(),
        N * M * 4,
        "four polls per call, wherever they ran"
    );
    assert_eq!(f.in_flight, 0);
}

#[taskscope::measure]
fn from_threads(i: u64) -> u64 {
    i
}

#[test]
fn plain_threads_each_with_their_own_slot() {
    if crate::support::alone(module_path!(), "plain_threads_each_with_their_own_slot") {
        return;
    }
    init();
    let threads: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(|| (0..1000).map(from_threads).sum::<u64>()))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(function("from_threads").ok.count, 8000);
}

#[taskscope::measure]
async fn moves_between_workers() {
    // spawn_blocking's thread and the workers all record into the same function.
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_started_on_one_worker_and_finished_on_another_balance_in_flight() {
    if crate::support::alone(
        module_path!(),
        "calls_started_on_one_worker_and_finished_on_another_balance_in_flight",
    ) {
        return;
    }
    init();
    let tasks: Vec<_> = (0..20)
        .map(|_| tokio::spawn(moves_between_workers()))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let f = function("moves_between_workers");
    assert_eq!((f.ok.count, f.in_flight), (20, 0));
}
