//! `patterns::Semaphore` and `patterns::Mutex`.

use std::sync::Arc;
use std::time::Duration;

use taskscope::Pattern;
use taskscope::patterns::{Mutex, Semaphore};
use tokio::time::sleep;

use crate::support::common::{assert_about, function, init, outcomes};

#[tokio::test(start_paused = true)]
async fn a_permit_held_100ms_makes_the_next_waiter_wait_100ms() {
    init();
    let sem = Semaphore::new("sem_wait", 1);
    let first = sem.acquire().await.unwrap();
    let waiter = {
        let sem = sem.clone();
        tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
        })
    };
    tokio::task::yield_now().await;
    assert_eq!(function("sem_wait.wait").in_flight, 1, "one task waits");
    assert_eq!(function("sem_wait.hold").in_flight, 1, "one permit in use");
    sleep(Duration::from_millis(100)).await;
    drop(first);
    waiter.await.unwrap();
    let wait = function("sem_wait.wait");
    assert_eq!(wait.pattern, Pattern::Semaphore);
    assert_eq!(wait.ok.count, 2);
    assert_about(wait.wall().max(), Duration::from_millis(100));
    assert_eq!(
        wait.wall().min(),
        Duration::ZERO,
        "the first acquire did not wait"
    );
    let hold = function("sem_wait.hold");
    assert_eq!((hold.ok.count, hold.in_flight), (2, 0));
    assert_about(hold.wall().max(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_acquire_is_cancelled_and_a_closed_one_an_error() {
    init();
    let sem = Semaphore::new("sem_cancel", 1);
    let held = sem.acquire().await.unwrap();
    let timed_out = tokio::time::timeout(Duration::from_millis(30), sem.acquire()).await;
    assert!(timed_out.is_err());
    assert_eq!(outcomes("sem_cancel.wait"), (1, 0, 1, 0));
    assert_about(
        function("sem_cancel.wait").cancelled.wall.max(),
        Duration::from_millis(30),
    );
    drop(held);
    sem.close();
    assert!(sem.acquire().await.is_err());
    let wait = function("sem_cancel.wait");
    assert_eq!(wait.error_kind_count("Closed"), 1);
    assert_eq!(wait.in_flight, 0);
    assert_eq!(
        sem.available_permits(),
        1,
        "the semaphore itself is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_exact_under_concurrency() {
    init();
    let sem = Semaphore::wrap("sem_many", Arc::new(tokio::sync::Semaphore::new(3)));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let sem = sem.clone();
            tokio::spawn(async move {
                for _ in 0..250 {
                    let _p = sem.acquire_owned().await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(outcomes("sem_many.wait"), (2000, 0, 0, 0));
    assert_eq!(outcomes("sem_many.hold"), (2000, 0, 0, 0));
    assert_eq!(function("sem_many.hold").in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_mutex_measures_its_waits_and_holds() {
    init();
    let m = Arc::new(Mutex::new("mutex_cache", 0u32));
    let guard = m.lock().await;
    let other = {
        let m = m.clone();
        tokio::spawn(async move {
            *m.lock().await += 1;
        })
    };
    tokio::task::yield_now().await;
    assert!(m.try_lock().is_err(), "locked");
    sleep(Duration::from_millis(50)).await;
    drop(guard);
    other.await.unwrap();
    assert_eq!(*m.lock().await, 1);
    let wait = function("mutex_cache.wait");
    assert_eq!(wait.ok.count, 3);
    assert_about(wait.wall().max(), Duration::from_millis(50));
    assert_eq!(function("mutex_cache.hold").ok.count, 3);
}

#[tokio::test(start_paused = true)]
async fn a_rwlock_measures_readers_and_writers_apart() {
    init();
    let lock = Arc::new(taskscope::patterns::RwLock::new("rwlock_state", 0u32));
    let reader = lock.read().await;
    let writer = {
        let lock = lock.clone();
        tokio::spawn(async move { *lock.write().await += 1 })
    };
    tokio::task::yield_now().await;
    assert_eq!(
        function("rwlock_state.write_wait").in_flight,
        1,
        "the writer waits"
    );
    sleep(Duration::from_millis(20)).await;
    drop(reader);
    writer.await.unwrap();
    assert_eq!(*lock.read().await, 1);
    assert_eq!(outcomes("rwlock_state.read_hold"), (2, 0, 0, 0));
    assert_about(
        function("rwlock_state.write_wait").wall().max(),
        Duration::from_millis(20),
    );
    assert_eq!(function("rwlock_state.write_hold").ok.count, 1);
}
