//! `spawn_blocking!`.

use std::time::Duration;

use taskscope::Pattern;

use crate::support::common::{function, init, outcomes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_queue_wait_and_run_time() {
    init();
    let ok = taskscope::spawn_blocking!("blocking_mixed", || Ok::<_, std::io::Error>(1));
    assert_eq!(ok.await.unwrap().unwrap(), 1);
    let err = taskscope::spawn_blocking!("blocking_err", || "x".parse::<u32>());
    assert!(err.await.unwrap().is_err());
    let panicked = taskscope::spawn_blocking!("blocking_panic", || -> u32 { panic!("boom") });
    assert!(panicked.await.unwrap_err().is_panic());
    let f = function("blocking_mixed");
    assert_eq!(f.pattern, Pattern::Blocking);
    assert_eq!(outcomes("blocking_mixed"), (1, 0, 0, 0));
    assert_eq!(f.scheduling.count(), 1, "the wait in the pool's queue");
    assert_eq!(f.ok.polls, 1);
    assert_eq!(outcomes("blocking_err"), (0, 1, 0, 0));
    assert_eq!(
        function("blocking_err").error_kind_count("ParseIntError"),
        1
    );
    assert_eq!(outcomes("blocking_panic"), (0, 0, 0, 1));
}

#[test]
fn a_closure_dropped_before_it_ran_is_cancelled_and_waits_are_counted_exactly() {
    init();
    // One blocking thread: the second closure waits in the queue behind the first.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let first = taskscope::spawn_blocking!("blocking_queue", move || {
            rx.recv_timeout(Duration::from_secs(10)).ok();
        });
        let second = taskscope::spawn_blocking!("blocking_queue", || ());
        second.abort();
        tx.send(()).unwrap();
        first.await.unwrap();
        assert!(second.await.unwrap_err().is_cancelled());
        let many: Vec<_> = (0..50)
            .map(|_| taskscope::spawn_blocking!("blocking_many", || ()))
            .collect();
        for h in many {
            h.await.unwrap();
        }
    });
    drop(rt);
    assert_eq!(outcomes("blocking_queue"), (1, 0, 1, 0));
    assert_eq!(outcomes("blocking_many"), (50, 0, 0, 0));
    let many = function("blocking_many");
    assert_eq!((many.scheduling.count(), many.in_flight), (50, 0));
}
