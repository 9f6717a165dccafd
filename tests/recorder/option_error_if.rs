//! `error_if = f`: the call is an error exactly when `f(&value)` is true.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::{function, init, outcomes};

struct Response {
    status: u16,
}

fn server_error(r: &Response) -> bool {
    r.status >= 500
}

#[taskscope::measure(error_if = server_error)]
async fn handle(status: u16) -> Response {
    Response { status }
}

#[taskscope::measure(error_if = Option::is_none)]
fn lookup(key: u32) -> Option<u32> {
    (key < 10).then_some(key)
}

#[tokio::test]
async fn the_predicate_decides_on_a_value_that_is_not_a_result() {
    if crate::support::alone(
        module_path!(),
        "the_predicate_decides_on_a_value_that_is_not_a_result",
    ) {
        return;
    }
    init();
    handle(200).await;
    handle(404).await;
    handle(503).await;
    assert_eq!(outcomes("handle"), (2, 1, 0, 0));
    assert_eq!(function("handle").error_kinds[0].kind, "Response");
}

#[test]
fn a_path_to_a_std_method_works_too() {
    if crate::support::alone(module_path!(), "a_path_to_a_std_method_works_too") {
        return;
    }
    init();
    lookup(1);
    lookup(11);
    assert_eq!(outcomes("lookup"), (1, 1, 0, 0));
    assert_eq!(function("lookup").error_kinds[0].kind, "None");
}
