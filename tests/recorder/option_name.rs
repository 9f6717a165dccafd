//! `name = "..."` reports the function under another name.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::{init, outcomes};

#[taskscope::measure(name = "checkout.charge")]
async fn charge() -> Result<(), std::io::Error> {
    Ok(())
}

#[test]
fn the_given_name_replaces_the_function_name() {
    if crate::support::alone(module_path!(), "the_given_name_replaces_the_function_name") {
        return;
    }
    init();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(charge())
        .unwrap();
    assert_eq!(outcomes("checkout.charge"), (1, 0, 0, 0));
    assert!(taskscope::snapshot().function("charge").is_none());
}

#[taskscope::measure]
fn r#type() {}

#[test]
fn raw_identifiers_are_reported_without_their_prefix() {
    if crate::support::alone(
        module_path!(),
        "raw_identifiers_are_reported_without_their_prefix",
    ) {
        return;
    }
    init();
    r#type();
    assert_eq!(outcomes("type"), (1, 0, 0, 0));
}
