//! The outcome of a span: `error` (with its kind) from `#[instrument(err)]`, ERROR events,
//! `error` fields, `error.kind` / `error.type` fields and `otel.status_code`; `panicked` when
//! a panic unwinds through it; `ok` otherwise.
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::{function, init_with_layer, outcomes};
use tracing::field::Empty;

fn kinds(name: &str) -> Vec<(&'static str, u64)> {
    function(name)
        .error_kinds
        .iter()
        .map(|k| (k.kind, k.count))
        .collect()
}

#[tracing::instrument(err)]
async fn parses(s: &'static str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[tokio::test]
async fn an_err_span_is_an_error_of_unknown_kind_and_an_ok_one_is_ok() {
    if crate::support::alone(
        module_path!(),
        "an_err_span_is_an_error_of_unknown_kind_and_an_ok_one_is_ok",
    ) {
        return;
    }
    init_with_layer();
    assert!(parses("1").await.is_ok());
    assert!(parses("x").await.is_err());
    assert!(parses("y").await.is_err());
    assert_eq!(outcomes("parses"), (1, 2, 0, 0));
    assert_eq!(kinds("parses"), [(taskscope::UNKNOWN_ERROR_KIND, 2)]);
    assert_eq!(function("parses").in_flight, 0);
}

#[tracing::instrument(err(level = "warn"))]
fn fails_at_warn_level(fail: bool) -> Result<(), String> {
    if fail { Err("no".into()) } else { Ok(()) }
}

#[test]
fn an_error_field_on_an_event_below_error_level_is_an_error_too() {
    if crate::support::alone(
        module_path!(),
        "an_error_field_on_an_event_below_error_level_is_an_error_too",
    ) {
        return;
    }
    init_with_layer();
    let _ = fails_at_warn_level(true);
    let _ = fails_at_warn_level(false);
    assert_eq!(outcomes("fails_at_warn_level"), (1, 1, 0, 0));
}

#[tracing::instrument(fields(error.kind = Empty))]
fn records_its_kind(kind: Option<&'static str>) {
    if let Some(kind) = kind {
        tracing::Span::current().record("error.kind", kind);
    }
}

#[test]
fn the_kind_comes_from_an_error_kind_field() {
    if crate::support::alone(module_path!(), "the_kind_comes_from_an_error_kind_field") {
        return;
    }
    init_with_layer();
    records_its_kind(Some("timeout"));
    records_its_kind(Some("timeout"));
    records_its_kind(Some("refused"));
    records_its_kind(None);
    assert_eq!(outcomes("records_its_kind"), (1, 3, 0, 0));
    assert_eq!(kinds("records_its_kind"), [("timeout", 2), ("refused", 1)]);
}

#[test]
fn an_error_type_field_given_at_creation_is_an_error_of_that_kind() {
    if crate::support::alone(
        module_path!(),
        "an_error_type_field_given_at_creation_is_an_error_of_that_kind",
    ) {
        return;
    }
    init_with_layer();
    drop(tracing::info_span!("typed_error", error.type = "DeadlineExceeded"));
    drop(tracing::info_span!("typed_error", error.type = "DeadlineExceeded"));
    assert_eq!(outcomes("typed_error"), (0, 2, 0, 0));
    assert_eq!(kinds("typed_error"), [("DeadlineExceeded", 2)]);
}

#[test]
fn an_error_event_inside_a_span_marks_it_and_may_name_the_kind() {
    if crate::support::alone(
        module_path!(),
        "an_error_event_inside_a_span_marks_it_and_may_name_the_kind",
    ) {
        return;
    }
    init_with_layer();
    for kind in [None, Some("network"), Some("network")] {
        let span = tracing::info_span!("with_error_event");
        let _g = span.enter();
        match kind {
            Some(k) => tracing::error!(error.kind = k, "request failed"),
            None => tracing::error!("request failed"),
        }
    }
    {
        let span = tracing::info_span!("with_error_event");
        let _g = span.enter();
        tracing::info!("all good");
        tracing::warn!("slow, but fine");
    }
    assert_eq!(outcomes("with_error_event"), (1, 3, 0, 0));
    assert_eq!(
        kinds("with_error_event"),
        [("network", 2), (taskscope::UNKNOWN_ERROR_KIND, 1)]
    );
}

#[test]
fn an_error_event_marks_only_its_own_span_not_the_parents() {
    if crate::support::alone(
        module_path!(),
        "an_error_event_marks_only_its_own_span_not_the_parents",
    ) {
        return;
    }
    init_with_layer();
    let parent = tracing::info_span!("parent_of_failure");
    let _p = parent.enter();
    {
        let child = tracing::info_span!("failing_child");
        let _c = child.enter();
        tracing::error!("boom");
    }
    drop(_p);
    drop(parent);
    assert_eq!(outcomes("failing_child"), (0, 1, 0, 0));
    assert_eq!(outcomes("parent_of_failure"), (1, 0, 0, 0));
}

#[test]
fn otel_status_code_error_is_an_error_and_ok_takes_it_back() {
    if crate::support::alone(
        module_path!(),
        "otel_status_code_error_is_an_error_and_ok_takes_it_back",
    ) {
        return;
    }
    init_with_layer();
    let failed = tracing::info_span!("otel_status", otel.status_code = Empty);
    failed.record("otel.status_code", "ERROR");
    drop(failed);
    let recovered = tracing::info_span!("otel_status", otel.status_code = Empty);
    recovered.record("otel.status_code", "ERROR");
    recovered.record("otel.status_code", "OK");
    drop(recovered);
    assert_eq!(outcomes("otel_status"), (1, 1, 0, 0));
}

#[test]
fn an_error_field_is_an_error_unless_it_is_false() {
    if crate::support::alone(
        module_path!(),
        "an_error_field_is_an_error_unless_it_is_false",
    ) {
        return;
    }
    init_with_layer();
    drop(tracing::info_span!("error_field", error = true));
    drop(tracing::info_span!(
        "error_field",
        error = "connection reset"
    ));
    drop(tracing::info_span!("error_field", error = false));
    let later = tracing::info_span!("error_field", error = Empty);
    later.record("error", tracing::field::display("late failure"));
    drop(later);
    assert_eq!(outcomes("error_field"), (1, 3, 0, 0));
}

#[tracing::instrument]
fn panics_inside_span() {
    panic!("boom");
}

#[test]
fn a_panic_unwinding_through_a_span_is_a_panicked_call() {
    if crate::support::alone(
        module_path!(),
        "a_panic_unwinding_through_a_span_is_a_panicked_call",
    ) {
        return;
    }
    init_with_layer();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(panics_inside_span);
    std::panic::set_hook(previous);
    assert!(result.is_err());
    assert_eq!(outcomes("panics_inside_span"), (0, 0, 0, 1));
    assert_eq!(function("panics_inside_span").in_flight, 0);
}

#[tracing::instrument]
async fn panics_in_a_task() {
    tokio::task::yield_now().await;
    panic!("task failed");
}

#[tokio::test]
async fn a_task_that_panics_inside_an_instrumented_fn_is_panicked() {
    if crate::support::alone(
        module_path!(),
        "a_task_that_panics_inside_an_instrumented_fn_is_panicked",
    ) {
        return;
    }
    init_with_layer();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let joined = tokio::spawn(panics_in_a_task()).await;
    std::panic::set_hook(previous);
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(outcomes("panics_in_a_task"), (0, 0, 0, 1));
}

#[test]
fn error_kinds_from_fields_are_capped_with_the_core_limit_and_overflow() {
    if crate::support::alone(
        module_path!(),
        "error_kinds_from_fields_are_capped_with_the_core_limit_and_overflow",
    ) {
        return;
    }
    init_with_layer();
    // The test binary's limit is 4 kinds per function.
    for kind in ["a", "b", "c", "d", "e", "f", "e"] {
        drop(tracing::info_span!("many_kinds", error.kind = kind));
    }
    assert_eq!(
        kinds("many_kinds"),
        [
            (taskscope::OVERFLOW_KIND, 3),
            ("a", 1),
            ("b", 1),
            ("c", 1),
            ("d", 1)
        ]
    );
}

#[test]
fn a_long_kind_is_cut_to_64_bytes() {
    if crate::support::alone(module_path!(), "a_long_kind_is_cut_to_64_bytes") {
        return;
    }
    init_with_layer();
    let long = "k".repeat(100);
    drop(tracing::info_span!("long_kind", error.kind = long.as_str()));
    assert_eq!(kinds("long_kind"), [("k".repeat(64).leak() as &str, 1)]);
}
