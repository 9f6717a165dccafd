//! A function with both `#[measure]` and `#[tracing::instrument]` is counted once, by
//! `#[measure]`, whichever order the attributes come in; its span still reaches the other
//! layers.
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::{init_with_layer, outcomes};
use taskscope::Source;

/// Every function of that name, whatever recorded it.
fn entries(name: &str) -> Vec<taskscope::FunctionSnapshot> {
    taskscope::snapshot()
        .functions
        .into_iter()
        .filter(|f| f.name == name)
        .collect()
}

#[taskscope::measure]
#[tracing::instrument(err)]
async fn measure_above_instrument(fail: bool) -> Result<(), String> {
    if fail { Err("no".into()) } else { Ok(()) }
}

#[tracing::instrument(err)]
#[taskscope::measure]
async fn instrument_above_measure(fail: bool) -> Result<(), String> {
    if fail { Err("no".into()) } else { Ok(()) }
}

#[taskscope::measure]
#[tracing::instrument]
fn plain_measured_and_instrumented() {}

#[taskscope::measure]
#[tracing::instrument(name = "renamed_instrument_span")]
fn measured_with_a_renamed_span() {}

#[tokio::test]
async fn measure_above_instrument_is_counted_once() {
    if crate::support::alone(module_path!(), "measure_above_instrument_is_counted_once") {
        return;
    }
    init_with_layer();
    for fail in [false, true, false] {
        let _ = measure_above_instrument(fail).await;
    }
    let found = entries("measure_above_instrument");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].source, Source::Measure);
    assert_eq!(outcomes("measure_above_instrument"), (2, 1, 0, 0));
    assert_eq!(found[0].in_flight, 0);
}

#[tokio::test]
async fn instrument_above_measure_is_counted_once() {
    if crate::support::alone(module_path!(), "instrument_above_measure_is_counted_once") {
        return;
    }
    init_with_layer();
    for fail in [false, true, false] {
        let _ = instrument_above_measure(fail).await;
    }
    let found = entries("instrument_above_measure");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].source, Source::Measure);
    assert_eq!(outcomes("instrument_above_measure"), (2, 1, 0, 0));
}

#[test]
fn a_plain_fn_with_both_is_counted_once() {
    if crate::support::alone(module_path!(), "a_plain_fn_with_both_is_counted_once") {
        return;
    }
    init_with_layer();
    plain_measured_and_instrumented();
    plain_measured_and_instrumented();
    let found = entries("plain_measured_and_instrumented");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].calls(), 2);
    assert_eq!(found[0].in_flight, 0);
}

#[test]
fn a_span_renamed_by_instrument_is_still_recognised() {
    if crate::support::alone(
        module_path!(),
        "a_span_renamed_by_instrument_is_still_recognised",
    ) {
        return;
    }
    init_with_layer();
    measured_with_a_renamed_span();
    assert_eq!(entries("measured_with_a_renamed_span")[0].calls(), 1);
    assert!(
        entries("renamed_instrument_span").is_empty(),
        "the renamed span is the measured function's own"
    );
}

#[test]
fn an_unrelated_span_is_still_counted() {
    if crate::support::alone(module_path!(), "an_unrelated_span_is_still_counted") {
        return;
    }
    init_with_layer();
    drop(tracing::info_span!("not_a_measured_function"));
    assert_eq!(entries("not_a_measured_function")[0].calls(), 1);
}
