//! Spans through the taskscope layer: wall, busy and idle time, polls and slow polls, under
//! tokio's paused clock; nested spans; spans entered on several worker threads.
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::time::Duration;

use common::{Blocking, assert_about, function, init_with_layer, work_for};
use taskscope::Source;
use tokio::time::sleep;
use tracing::Instrument;

#[tracing::instrument]
async fn works_3ms_waits_20ms_works_2ms() {
    work_for(Duration::from_millis(3));
    sleep(Duration::from_millis(20)).await;
    work_for(Duration::from_millis(2));
}

#[tokio::test(start_paused = true)]
async fn wall_is_creation_to_close_busy_is_the_entered_periods_and_idle_the_rest() {
    if crate::support::alone(
        module_path!(),
        "wall_is_creation_to_close_busy_is_the_entered_periods_and_idle_the_rest",
    ) {
        return;
    }
    init_with_layer();
    works_3ms_waits_20ms_works_2ms().await;
    let f = function("works_3ms_waits_20ms_works_2ms");
    assert_eq!(f.source, Source::Span);
    assert_eq!(f.module, module_path!());
    assert_eq!(f.target, module_path!());
    assert_eq!((f.ok.count, f.error.count, f.in_flight), (1, 0, 0));
    assert_about(f.wall().max(), Duration::from_millis(25));
    assert_about(f.busy().max(), Duration::from_millis(5));
    assert_about(f.idle(), Duration::from_millis(20));
    // Two polls, plus the enter in which `Instrumented` drops the finished future.
    assert_eq!(f.ok.polls, 3);
    assert_eq!(f.ok.slow_polls, 0);
}

#[tracing::instrument]
fn blocks_12ms() {
    work_for(Duration::from_millis(12));
}

#[tokio::test(start_paused = true)]
async fn an_enter_longer_than_the_threshold_is_a_slow_poll() {
    if crate::support::alone(
        module_path!(),
        "an_enter_longer_than_the_threshold_is_a_slow_poll",
    ) {
        return;
    }
    init_with_layer();
    blocks_12ms();
    blocks_12ms();
    let f = function("blocks_12ms");
    assert_eq!(f.ok.count, 2);
    assert_eq!((f.ok.polls, f.ok.slow_polls), (2, 2), "threshold is 10 ms");
    assert_about(f.wall().max(), Duration::from_millis(12));
    assert_about(f.busy().max(), Duration::from_millis(12));
    assert_eq!(f.idle(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_span_entered_many_times_counts_each_enter_as_a_poll() {
    if crate::support::alone(
        module_path!(),
        "a_span_entered_many_times_counts_each_enter_as_a_poll",
    ) {
        return;
    }
    init_with_layer();
    let span = tracing::info_span!("entered_four_times");
    for _ in 0..4 {
        let _g = span.enter();
        work_for(Duration::from_millis(1));
        drop(_g);
        sleep(Duration::from_millis(10)).await;
    }
    let f = taskscope::snapshot();
    assert!(
        f.function("entered_four_times")
            .is_none_or(|f| f.calls() == 0),
        "a span is a call only once it closes"
    );
    assert_eq!(function("entered_four_times").in_flight, 1);
    drop(span);
    let f = function("entered_four_times");
    assert_eq!((f.ok.count, f.ok.polls, f.in_flight), (1, 4, 0));
    assert_about(f.busy().max(), Duration::from_millis(4));
    assert_about(f.wall().max(), Duration::from_millis(44));
}

#[tracing::instrument]
async fn outer_span() {
    work_for(Duration::from_millis(1));
    inner_span().await;
    inner_span().await;
    work_for(Duration::from_millis(1));
}

#[tracing::instrument]
async fn inner_span() {
    work_for(Duration::from_millis(2));
    sleep(Duration::from_millis(5)).await;
}

#[tokio::test(start_paused = true)]
async fn nested_spans_are_separate_functions_and_the_outer_includes_the_inner() {
    if crate::support::alone(
        module_path!(),
        "nested_spans_are_separate_functions_and_the_outer_includes_the_inner",
    ) {
        return;
    }
    init_with_layer();
    outer_span().await;
    let outer = function("outer_span");
    let inner = function("inner_span");
    assert_eq!((outer.ok.count, inner.ok.count), (1, 2));
    assert_about(inner.wall().max(), Duration::from_millis(7));
    assert_about(inner.busy().max(), Duration::from_millis(2));
    // The outer span is entered while the inner ones run: their busy time is its too.
    assert_about(outer.busy().max(), Duration::from_millis(6));
    assert_about(outer.wall().max(), Duration::from_millis(16));
}

#[tracing::instrument]
async fn hops_between_workers(i: u32) -> u32 {
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    i
}

#[test]
fn spans_entered_on_several_worker_threads_are_all_counted_once() {
    if crate::support::alone(
        module_path!(),
        "spans_entered_on_several_worker_threads_are_all_counted_once",
    ) {
        return;
    }
    init_with_layer();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..400)
            .map(|i| tokio::spawn(hops_between_workers(i)))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let f = function("hops_between_workers");
    assert_eq!((f.ok.count, f.error.count, f.in_flight), (400, 0, 0));
    // Six polls each (five yields), plus the enter that drops the future.
    assert_eq!(f.ok.polls, 400 * 7);
}

#[tokio::test(start_paused = true)]
async fn a_span_shared_by_two_threads_adds_up_both_threads_periods() {
    if crate::support::alone(
        module_path!(),
        "a_span_shared_by_two_threads_adds_up_both_threads_periods",
    ) {
        return;
    }
    init_with_layer();
    // The creating thread and two others enter the span at the same time.
    let span = tracing::info_span!("shared_by_threads");
    std::thread::scope(|s| {
        for _ in 0..2 {
            let span = span.clone();
            s.spawn(move || {
                for _ in 0..10_000 {
                    let _g = span.enter();
                }
            });
        }
        for _ in 0..10_000 {
            let _g = span.enter();
        }
    });
    drop(span);
    let f = function("shared_by_threads");
    assert_eq!((f.ok.count, f.ok.polls), (1, 30_000), "no enter is lost");
}

#[tokio::test(start_paused = true)]
async fn wall_time_starts_when_the_span_is_created_not_when_first_entered() {
    if crate::support::alone(
        module_path!(),
        "wall_time_starts_when_the_span_is_created_not_when_first_entered",
    ) {
        return;
    }
    init_with_layer();
    let call = Blocking {
        polls_left: 1,
        per_poll: Duration::from_millis(4),
    }
    .instrument(tracing::info_span!("created_5ms_before_its_first_poll"));
    sleep(Duration::from_millis(5)).await;
    call.await;
    let f = function("created_5ms_before_its_first_poll");
    assert_eq!((f.ok.count, f.ok.polls), (1, 3));
    assert_about(f.busy().max(), Duration::from_millis(8));
    assert_about(f.wall().max(), Duration::from_millis(13));
}
