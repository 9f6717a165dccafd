//! `ok_if = f`: the call is ok exactly when `f(&value)` is true.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::{function, init, outcomes};

fn is_success(status: &u16) -> bool {
    (200..400).contains(status)
}

#[taskscope::measure(ok_if = is_success)]
fn status(code: u16) -> u16 {
    code
}

#[taskscope::measure(ok_if = |r: &Result<u32, String>| r.is_ok() || r.as_ref().is_err_and(|e| e == "benign"))]
fn tolerant(input: &str) -> Result<u32, String> {
    input.parse().map_err(|_| input.to_owned())
}

#[test]
fn values_the_predicate_rejects_are_errors_of_the_value_type() {
    if crate::support::alone(
        module_path!(),
        "values_the_predicate_rejects_are_errors_of_the_value_type",
    ) {
        return;
    }
    init();
    status(200);
    status(302);
    status(500);
    assert_eq!(outcomes("status"), (2, 1, 0, 0));
    assert_eq!(function("status").error_kinds[0].kind, "u16");
}

#[test]
fn a_closure_can_accept_some_errors_and_the_rest_keep_their_kind() {
    if crate::support::alone(
        module_path!(),
        "a_closure_can_accept_some_errors_and_the_rest_keep_their_kind",
    ) {
        return;
    }
    init();
    tolerant("1").unwrap();
    tolerant("benign").unwrap_err();
    tolerant("bad").unwrap_err();
    assert_eq!(outcomes("tolerant"), (2, 1, 0, 0));
    assert_eq!(function("tolerant").error_kinds[0].kind, "String");
}
