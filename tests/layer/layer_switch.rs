//! The run-time switch covers the layer: spans created while recording is off are not
//! recorded, and cost no more than a relaxed load per callback.
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use tracing_subscriber::prelude::*;

#[test]
fn spans_created_while_recording_is_off_are_not_recorded() {
    if crate::support::alone(
        module_path!(),
        "spans_created_while_recording_is_off_are_not_recorded",
    ) {
        return;
    }
    common::init();
    let subscriber = tracing_subscriber::registry().with(taskscope::layer());
    tracing::subscriber::with_default(subscriber, || {
        drop(tracing::info_span!("switched_span"));
        taskscope::set_enabled(false);
        for _ in 0..5 {
            let span = tracing::info_span!("switched_span");
            let _g = span.enter();
            tracing::error!("not recorded either");
        }
        // A span created while off stays unrecorded even if recording comes back before it
        // closes, as a `#[measure]` call does.
        let straddling = tracing::info_span!("switched_span");
        taskscope::set_enabled(true);
        drop(straddling.enter());
        drop(straddling);
        drop(tracing::info_span!("switched_span"));
    });
    let f = taskscope::snapshot()
        .function("switched_span")
        .unwrap()
        .clone();
    assert_eq!((f.ok.count, f.error.count, f.in_flight), (2, 0, 0));
    let debug = format!("{:?}", taskscope::layer());
    assert!(debug.len() < 200, "the layer's Debug is a summary: {debug}");
}
