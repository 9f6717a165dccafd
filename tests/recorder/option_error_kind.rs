//! `error_kind = "Kind"` or `error_kind = f`: the kind of every error of a function.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::{function, init, outcomes};

#[taskscope::measure(error_kind = "Upstream")]
fn fixed(fail: bool) -> Result<(), std::io::Error> {
    if fail {
        Err(std::io::ErrorKind::TimedOut.into())
    } else {
        Ok(())
    }
}

fn kind_of(r: &Result<u32, String>) -> &'static str {
    match r {
        Err(e) if e.starts_with("4") => "Client",
        _ => "Server",
    }
}

#[taskscope::measure(error_kind = kind_of)]
fn computed(input: &str) -> Result<u32, String> {
    Err(input.to_owned())
}

#[taskscope::measure(error_if = |n: &i64| *n < 0, error_kind = "Negative")]
fn signed(n: i64) -> i64 {
    n
}

#[test]
fn a_fixed_kind_replaces_the_error_s_own() {
    if crate::support::alone(module_path!(), "a_fixed_kind_replaces_the_error_s_own") {
        return;
    }
    init();
    fixed(true).unwrap_err();
    fixed(false).unwrap();
    assert_eq!(outcomes("fixed"), (1, 1, 0, 0));
    assert_eq!(function("fixed").error_kinds[0].kind, "Upstream");
}

#[test]
fn a_computed_kind_sees_the_returned_value() {
    if crate::support::alone(module_path!(), "a_computed_kind_sees_the_returned_value") {
        return;
    }
    init();
    computed("404").unwrap_err();
    computed("503").unwrap_err();
    computed("418").unwrap_err();
    let f = function("computed");
    assert_eq!(
        (f.error_kind_count("Client"), f.error_kind_count("Server")),
        (2, 1)
    );
}

#[test]
fn a_kind_combines_with_a_predicate() {
    if crate::support::alone(module_path!(), "a_kind_combines_with_a_predicate") {
        return;
    }
    init();
    signed(-1);
    signed(1);
    assert_eq!(outcomes("signed"), (1, 1, 0, 0));
    assert_eq!(function("signed").error_kinds[0].kind, "Negative");
}
