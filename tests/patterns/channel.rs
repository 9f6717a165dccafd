//! `patterns::channel` and `patterns::unbounded_channel`.

use std::time::Duration;

use taskscope::Pattern;
use taskscope::patterns::{channel, unbounded_channel};
use tokio::time::sleep;

use crate::support::common::{assert_about, function, init, outcomes};

#[tokio::test(start_paused = true)]
async fn queue_time_depth_and_backpressure_are_measured() {
    init();
    let (tx, mut rx) = channel::<u32>("chan_bp", 1);
    tx.send(1).await.unwrap();
    assert_eq!(function("chan_bp.queue").in_flight, 1, "depth 1");
    // The channel is full: the next send waits until the receiver takes an item.
    let sender = {
        let tx = tx.clone();
        tokio::spawn(async move { tx.send(2).await.unwrap() })
    };
    tokio::task::yield_now().await;
    assert_eq!(function("chan_bp.send").in_flight, 1, "one sender blocked");
    sleep(Duration::from_millis(40)).await;
    assert_eq!(rx.recv().await, Some(1));
    sender.await.unwrap();
    sleep(Duration::from_millis(10)).await;
    assert_eq!(rx.recv().await, Some(2));
    let send = function("chan_bp.send");
    assert_eq!(send.pattern, Pattern::Channel);
    assert_eq!(send.ok.count, 2);
    assert_about(send.wall().max(), Duration::from_millis(40));
    let queue = function("chan_bp.queue");
    assert_eq!((queue.ok.count, queue.in_flight), (2, 0));
    assert_about(queue.wall().max(), Duration::from_millis(40));
    assert_about(queue.wall().min(), Duration::from_millis(10));
    // The receiver's wait: an empty channel makes it wait for the next send.
    let recv = tokio::spawn(async move { rx.recv().await });
    tokio::task::yield_now().await;
    sleep(Duration::from_millis(25)).await;
    tx.send(3).await.unwrap();
    assert_eq!(recv.await.unwrap(), Some(3));
    assert_about(
        function("chan_bp.recv").wall().max(),
        Duration::from_millis(25),
    );
}

#[tokio::test(start_paused = true)]
async fn items_left_in_a_dropped_channel_count_as_closed_with_items() {
    init();
    let (tx, mut rx) = channel::<String>("chan_closed", 8);
    for i in 0..3 {
        tx.send(i.to_string()).await.unwrap();
    }
    assert_eq!(rx.recv().await.as_deref(), Some("0"));
    drop(rx);
    assert!(
        tx.send("late".into()).await.is_err(),
        "the receiver is gone"
    );
    let queue = function("chan_closed.queue");
    assert_eq!(
        (queue.ok.count, queue.cancelled.count, queue.in_flight),
        (1, 2, 0)
    );
    assert_eq!(function("chan_closed.send").error_kind_count("Closed"), 1);
    // A receiver sees the end of a channel whose senders are all gone.
    let (tx, mut rx) = unbounded_channel::<u8>("chan_end");
    tx.send(1).unwrap();
    drop(tx);
    assert_eq!(rx.recv().await, Some(1));
    assert_eq!(rx.recv().await, None);
    assert_eq!(outcomes("chan_end.recv"), (1, 1, 0, 0));
    assert_eq!(function("chan_end.recv").error_kind_count("Closed"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_exact_under_concurrency() {
    init();
    let (tx, mut rx) = channel::<u64>("chan_many", 16);
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0..500 {
                    tx.send(p * 1000 + i).await.unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut received = 0;
    while rx.recv().await.is_some() {
        received += 1;
    }
    for p in producers {
        p.await.unwrap();
    }
    assert_eq!(received, 2000);
    assert_eq!(outcomes("chan_many.send"), (2000, 0, 0, 0));
    assert_eq!(outcomes("chan_many.queue"), (2000, 0, 0, 0));
    assert_eq!(outcomes("chan_many.recv"), (2000, 1, 0, 0), "and the end");
    assert_eq!(function("chan_many.queue").in_flight, 0);
}
