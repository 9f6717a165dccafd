//! Callers, callees and self time under tokio's paused clock: a measured call that starts
//! inside the poll of another records it as its caller (across `.await`, through `join!`
//! and `select!`, into a task started with `spawn!`), and a call's self busy time is its
//! busy time minus the busy time of the measured calls polled inside its polls.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::time::Duration;

use tokio::time::sleep;

use crate::support::common::{function, init, work_for};
use taskscope::{CallerStats, FunctionSnapshot, ROOT_CALLER};

const MS: Duration = Duration::from_millis(1);

/// The entry of `caller` among `f`'s callers.
#[track_caller]
fn edge<'a>(f: &'a FunctionSnapshot, caller: &str) -> &'a CallerStats {
    f.callers
        .iter()
        .find(|c| c.name == caller)
        .unwrap_or_else(|| panic!("{} has no caller {caller}: {:?}", f.name, f.callers))
}

/// All of a function's busy time.
fn busy_sum(f: &FunctionSnapshot) -> Duration {
    Duration::from_nanos(f.busy().sum)
}

#[taskscope::measure]
async fn fetch_row() {
    work_for(10 * MS);
    sleep(20 * MS).await;
    work_for(2 * MS);
}

#[taskscope::measure]
fn parse_row() {
    work_for(3 * MS);
}

#[taskscope::measure]
async fn load_page() {
    work_for(5 * MS);
    fetch_row().await;
    work_for(MS);
    parse_row();
    parse_row();
}

#[tokio::test(start_paused = true)]
async fn nested_calls_give_exact_edges_and_self_times() {
    if crate::support::alone(
        module_path!(),
        "nested_calls_give_exact_edges_and_self_times",
    ) {
        return;
    }
    init();
    load_page().await;
    load_page().await;
    let page = function("load_page");
    assert_eq!(page.callers.len(), 1, "{:?}", page.callers);
    let root = edge(&page, ROOT_CALLER);
    assert!(root.is_root());
    assert_eq!(root.calls, 2);
    // Busy: 5 + 10 + 2 + 1 + 3 + 3 per call; of that, the callees' 12 + 6 are not its own.
    assert_eq!(busy_sum(&page), 2 * 24 * MS);
    assert_eq!(page.self_busy(), 2 * 6 * MS);
    assert_eq!(page.ok.self_busy, 2 * 6 * MS);

    let fetch = function("fetch_row");
    assert_eq!(fetch.callers.len(), 1, "no root calls: {:?}", fetch.callers);
    let from_page = edge(&fetch, "load_page");
    assert_eq!(from_page.module, module_path!());
    assert_eq!(from_page.calls, 2);
    assert_eq!(from_page.wall, 2 * 32 * MS, "its wall time, the sleep too");
    assert_eq!(from_page.busy, 2 * 12 * MS);
    assert_eq!(from_page.self_busy, 2 * 12 * MS, "a leaf is all self");

    let parse = function("parse_row");
    let from_page = edge(&parse, "load_page");
    assert_eq!((from_page.calls, from_page.busy), (4, 4 * 3 * MS));
    assert_eq!(
        from_page.wall, from_page.busy,
        "a plain function's wall is busy"
    );

    let snap = taskscope::snapshot();
    let page = snap.function("load_page").unwrap();
    let callees: Vec<(&str, u64)> = snap
        .callees(page)
        .iter()
        .map(|c| (c.function.name, c.calls.calls))
        .collect();
    assert_eq!(callees, [("parse_row", 4), ("fetch_row", 2)]);
}

#[taskscope::measure]
async fn child_that_waits(wait: Duration) {
    work_for(4 * MS);
    sleep(wait).await;
}

#[taskscope::measure]
async fn joins_two() {
    work_for(MS);
    tokio::join!(child_that_waits(30 * MS), child_that_waits(50 * MS));
}

#[tokio::test(start_paused = true)]
async fn joined_children_overlap_in_wall_time_not_in_self_time() {
    if crate::support::alone(
        module_path!(),
        "joined_children_overlap_in_wall_time_not_in_self_time",
    ) {
        return;
    }
    init();
    joins_two().await;
    let parent = function("joins_two");
    // The children start one after the other in its first poll (4 ms of work each), then
    // wait 30 and 50 ms side by side.
    assert_eq!(parent.wall().max(), 59 * MS);
    assert_eq!(
        busy_sum(&parent),
        9 * MS,
        "its own 1 and the children's 4 + 4"
    );
    assert_eq!(parent.self_busy(), MS);
    let child = function("child_that_waits");
    let from_parent = edge(&child, "joins_two");
    assert_eq!(from_parent.calls, 2);
    assert_eq!(
        from_parent.wall,
        (34 + 54) * MS,
        "the children's wall times add up past the parent's 59 ms"
    );
    assert_eq!(from_parent.busy, 8 * MS);
}

#[taskscope::measure]
async fn first_of_two() -> &'static str {
    tokio::select! {
        biased;
        _ = child_that_races(10 * MS) => "fast",
        _ = child_that_races(100 * MS) => "slow",
    }
}

#[taskscope::measure]
async fn child_that_races(wait: Duration) {
    work_for(2 * MS);
    sleep(wait).await;
}

#[tokio::test(start_paused = true)]
async fn a_select_loser_is_a_cancelled_call_of_its_caller() {
    if crate::support::alone(
        module_path!(),
        "a_select_loser_is_a_cancelled_call_of_its_caller",
    ) {
        return;
    }
    init();
    assert_eq!(first_of_two().await, "fast");
    let child = function("child_that_races");
    assert_eq!((child.ok.count, child.cancelled.count), (1, 1));
    let from_parent = edge(&child, "first_of_two");
    assert_eq!(from_parent.calls, 2, "the loser counts: it was called");
    // The winner ran 2 + 10 ms from 0; the loser, started 2 ms in, until then.
    assert_eq!(from_parent.wall, (12 + 10) * MS);
    let parent = function("first_of_two");
    assert_eq!(busy_sum(&parent), 4 * MS);
    assert_eq!(parent.self_busy(), Duration::ZERO);
}

#[taskscope::measure]
async fn spawns_a_child() -> u32 {
    work_for(MS);
    let handle = taskscope::spawn!(spawned_child());
    handle.await.unwrap()
}

#[taskscope::measure]
async fn spawned_child() -> u32 {
    work_for(7 * MS);
    7
}

#[taskscope::measure]
async fn spawned_plainly() -> u32 {
    tokio::spawn(spawned_child()).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_child_spawned_with_spawn_keeps_its_caller_and_not_its_time() {
    if crate::support::alone(
        module_path!(),
        "a_child_spawned_with_spawn_keeps_its_caller_and_not_its_time",
    ) {
        return;
    }
    init();
    assert_eq!(spawns_a_child().await, 7);
    assert_eq!(spawned_plainly().await, 7);
    let child = function("spawned_child");
    assert_eq!(edge(&child, "spawns_a_child").calls, 1);
    assert_eq!(edge(&child, "spawns_a_child").busy, 7 * MS);
    assert_eq!(
        edge(&child, ROOT_CALLER).calls,
        1,
        "tokio::spawn starts a task of no measured call"
    );
    let parent = function("spawns_a_child");
    assert_eq!(busy_sum(&parent), MS, "the child ran in its own task");
    assert_eq!(parent.self_busy(), MS);
}

#[taskscope::measure]
fn countdown(n: u32) -> u32 {
    work_for(MS);
    if n == 0 { 0 } else { 1 + countdown(n - 1) }
}

#[taskscope::measure]
async fn countdown_async(n: u32) -> u32 {
    work_for(MS);
    if n == 0 {
        0
    } else {
        1 + Box::pin(countdown_async(n - 1)).await
    }
}

#[tokio::test(start_paused = true)]
async fn recursion_is_an_edge_to_itself_and_self_time_counts_each_level_once() {
    if crate::support::alone(
        module_path!(),
        "recursion_is_an_edge_to_itself_and_self_time_counts_each_level_once",
    ) {
        return;
    }
    init();
    assert_eq!(countdown(3), 3);
    assert_eq!(countdown_async(3).await, 3);
    for name in ["countdown", "countdown_async"] {
        let f = function(name);
        assert_eq!(f.calls(), 4, "{name}");
        assert_eq!(edge(&f, ROOT_CALLER).calls, 1, "{name}");
        assert_eq!(edge(&f, name).calls, 3, "{name}");
        // Busy of each level holds the levels below: 4 + 3 + 2 + 1 ms.
        assert_eq!(busy_sum(&f), 10 * MS, "{name}");
        assert_eq!(f.self_busy(), 4 * MS, "{name}: one millisecond per level");
    }
}

macro_rules! callers_of_one_callee {
    ($($caller:ident)*) => {
        #[taskscope::measure]
        fn called_by_many() {}
        $(
            #[taskscope::measure]
            fn $caller() {
                called_by_many();
            }
        )*
        const CALLERS: &[fn()] = &[$($caller),*];
    };
}

callers_of_one_callee!(c01 c02 c03 c04 c05 c06 c07 c08 c09 c10 c11 c12 c13 c14 c15 c16 c17
    c18 c19 c20);

/// In paused time every call takes no time, so no new histogram bucket is ever needed: the
/// memory the recorder holds may not change at all.
#[tokio::test(start_paused = true)]
async fn callers_past_the_cap_count_as_overflow_and_memory_stays_bounded() {
    if crate::support::alone(
        module_path!(),
        "callers_past_the_cap_count_as_overflow_and_memory_stays_bounded",
    ) {
        return;
    }
    init();
    for caller in CALLERS {
        caller();
    }
    let f = function("called_by_many");
    let overflow = edge(&f, taskscope::OVERFLOW_KIND);
    let kept = f.callers.len() - 1;
    assert_eq!(kept, 16, "{:?}", f.callers);
    assert_eq!(overflow.calls, 4);
    assert!(
        f.callers.iter().all(|c| !c.is_root()),
        "every call had a caller"
    );
    // Warm-up (the recorder's shards fill in on their first thousands of calls), then a
    // million calls more in which nothing may grow.
    for _ in 0..10_000 {
        for caller in CALLERS {
            caller();
        }
    }
    let heap = taskscope::memory_usage();
    for _ in 0..50_000 {
        for caller in CALLERS {
            caller();
        }
    }
    let f = function("called_by_many");
    assert_eq!(f.calls(), 20 * 60_001);
    assert_eq!(edge(&f, taskscope::OVERFLOW_KIND).calls, 4 * 60_001);
    assert_eq!(f.callers.len(), 17);
    assert_eq!(
        taskscope::memory_usage(),
        heap,
        "no memory per call or pair"
    );
}
