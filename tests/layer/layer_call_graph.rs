//! Spans nested in spans give the same callers, callees and self time as nested measured
//! calls: the caller is the span or measured call running when the span was created (or
//! its explicit parent), and a span's self busy time leaves out the spans and measured calls
//! entered inside its enters.
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::time::Duration;

use tokio::time::sleep;
use tracing::Instrument;

use crate::support::common::{function, init_with_layer, work_for};
use taskscope::{CallerStats, FunctionSnapshot, ROOT_CALLER};

const MS: Duration = Duration::from_millis(1);

#[track_caller]
fn edge<'a>(f: &'a FunctionSnapshot, caller: &str) -> &'a CallerStats {
    f.callers
        .iter()
        .find(|c| c.name == caller)
        .unwrap_or_else(|| panic!("{} has no caller {caller}: {:?}", f.name, f.callers))
}

#[tracing::instrument]
async fn span_child() {
    work_for(3 * MS);
    sleep(10 * MS).await;
    work_for(MS);
}

#[taskscope::measure]
async fn measured_in_a_span() {
    work_for(2 * MS);
}

#[tracing::instrument]
async fn span_parent() {
    work_for(5 * MS);
    span_child().await;
    measured_in_a_span().await;
}

#[tracing::instrument]
fn sync_span_leaf() {
    work_for(4 * MS);
}

#[taskscope::measure]
fn measured_around_a_span() {
    work_for(MS);
    sync_span_leaf();
}

#[tokio::test(start_paused = true)]
async fn nested_spans_and_measured_calls_give_the_same_edges() {
    if crate::support::alone(
        module_path!(),
        "nested_spans_and_measured_calls_give_the_same_edges",
    ) {
        return;
    }
    init_with_layer();
    span_parent().await;
    measured_around_a_span();

    let parent = function("span_parent");
    assert_eq!(edge(&parent, ROOT_CALLER).calls, 1);
    assert_eq!(Duration::from_nanos(parent.busy().sum), 11 * MS);
    assert_eq!(
        parent.self_busy(),
        5 * MS,
        "its callees' 4 and 2 ms are not its own"
    );

    let child = function("span_child");
    let from_parent = edge(&child, "span_parent");
    assert_eq!((from_parent.calls, from_parent.busy), (1, 4 * MS));
    assert_eq!(from_parent.wall, 14 * MS);
    assert_eq!(child.self_busy(), 4 * MS);

    let measured = function("measured_in_a_span");
    assert_eq!(
        edge(&measured, "span_parent").calls,
        1,
        "a span calls a measured call"
    );

    let leaf = function("sync_span_leaf");
    assert_eq!(
        edge(&leaf, "measured_around_a_span").busy,
        4 * MS,
        "a measured call calls a span"
    );
    assert_eq!(function("measured_around_a_span").self_busy(), MS);
}

#[tokio::test(start_paused = true)]
async fn an_explicit_parent_is_the_caller() {
    if crate::support::alone(module_path!(), "an_explicit_parent_is_the_caller") {
        return;
    }
    init_with_layer();
    let parent = tracing::info_span!("request");
    let child = tracing::info_span!(parent: &parent, "query");
    // The child runs on its own, outside the parent's enters: its caller is still the
    // parent, and the parent's self time keeps all of its own.
    async {
        work_for(2 * MS);
    }
    .instrument(child)
    .await;
    parent.in_scope(|| work_for(3 * MS));
    drop(parent);
    let query = function("query");
    assert_eq!(edge(&query, "request").calls, 1);
    let request = function("request");
    assert_eq!(request.self_busy(), 3 * MS);
}
