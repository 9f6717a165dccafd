//! Per-layer filters: the taskscope layer records only what its own filter lets through,
//! and its filter changes nothing for the other layers on the same registry.
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets, filter_fn};
use tracing_subscriber::prelude::*;

fn calls(name: &str) -> u64 {
    taskscope::snapshot()
        .function(name)
        .map_or(0, |f| f.calls())
}

mod kept {
    #[tracing::instrument]
    pub(crate) fn filtered_by_target_kept() {}
}

mod dropped {
    #[tracing::instrument]
    pub(crate) fn filtered_by_target_dropped() {}
}

/// Counts the spans it sees: stands for any other layer.
#[derive(Clone, Default)]
struct CountingLayer(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountingLayer {
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_target_filter_keeps_only_its_targets_and_other_layers_still_see_all() {
    if crate::support::alone(
        module_path!(),
        "a_target_filter_keeps_only_its_targets_and_other_layers_still_see_all",
    ) {
        return;
    }
    common::init();
    let others = CountingLayer::default();
    let only_kept = Targets::new().with_target("layer::layer_filters::kept", Level::TRACE);
    let subscriber = tracing_subscriber::registry()
        .with(taskscope::layer().with_filter(only_kept))
        .with(others.clone());
    tracing::subscriber::with_default(subscriber, || {
        kept::filtered_by_target_kept();
        dropped::filtered_by_target_dropped();
        dropped::filtered_by_target_dropped();
    });
    assert_eq!(calls("filtered_by_target_kept"), 1);
    assert_eq!(calls("filtered_by_target_dropped"), 0);
    assert_eq!(
        others.0.load(Ordering::Relaxed),
        3,
        "the other layer saw every span"
    );
}

#[test]
fn a_level_filter_keeps_only_spans_at_or_above_its_level() {
    if crate::support::alone(
        module_path!(),
        "a_level_filter_keeps_only_spans_at_or_above_its_level",
    ) {
        return;
    }
    common::init();
    let subscriber =
        tracing_subscriber::registry().with(taskscope::layer().with_filter(LevelFilter::INFO));
    tracing::subscriber::with_default(subscriber, || {
        drop(tracing::info_span!("level_info_span"));
        drop(tracing::warn_span!("level_warn_span"));
        drop(tracing::debug_span!("level_debug_span"));
        drop(tracing::trace_span!("level_trace_span"));
    });
    assert_eq!(calls("level_info_span"), 1);
    assert_eq!(calls("level_warn_span"), 1);
    assert_eq!(calls("level_debug_span"), 0);
    assert_eq!(calls("level_trace_span"), 0);
}

#[test]
fn a_filter_on_span_names_keeps_only_those_names() {
    if crate::support::alone(
        module_path!(),
        "a_filter_on_span_names_keeps_only_those_names",
    ) {
        return;
    }
    common::init();
    let by_name = filter_fn(|meta| !meta.is_span() || meta.name().starts_with("named_keep"));
    let subscriber = tracing_subscriber::registry().with(taskscope::layer().with_filter(by_name));
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..3 {
            drop(tracing::info_span!("named_keep_this"));
            drop(tracing::info_span!("named_skip_this"));
        }
    });
    assert_eq!(calls("named_keep_this"), 3);
    assert_eq!(calls("named_skip_this"), 0);
}

#[test]
fn an_error_event_filtered_out_for_the_layer_does_not_mark_the_span() {
    if crate::support::alone(
        module_path!(),
        "an_error_event_filtered_out_for_the_layer_does_not_mark_the_span",
    ) {
        return;
    }
    common::init();
    // Events of the `noisy` target do not reach taskscope; its spans do.
    let filter = Targets::new()
        .with_default(Level::TRACE)
        .with_target("noisy", LevelFilter::OFF);
    let subscriber = tracing_subscriber::registry().with(taskscope::layer().with_filter(filter));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("sees_no_noisy_errors");
        let _g = span.enter();
        tracing::error!(target: "noisy", "not for taskscope");
    });
    let f = taskscope::snapshot()
        .function("sees_no_noisy_errors")
        .unwrap()
        .clone();
    assert_eq!((f.ok.count, f.error.count), (1, 0));
}
