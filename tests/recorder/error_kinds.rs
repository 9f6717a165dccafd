//! Error kinds: from the derive, from a hand-written impl, from the type name.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::{function, init};

#[derive(Debug, taskscope::ErrorKind)]
#[allow(dead_code)]
enum PayError {
    Declined,
    #[error_kind("rate_limited")]
    RateLimited(u32),
    Fraud {
        score: u8,
    },
}

#[taskscope::measure]
async fn pay(n: u32) -> Result<(), PayError> {
    match n % 4 {
        0 => Ok(()),
        1 => Err(PayError::Declined),
        2 => Err(PayError::RateLimited(n)),
        _ => Err(PayError::Fraud { score: 9 }),
    }
}

#[tokio::test]
async fn derived_kinds_are_variant_names_never_display_strings() {
    if crate::support::alone(
        module_path!(),
        "derived_kinds_are_variant_names_never_display_strings",
    ) {
        return;
    }
    init();
    for n in 0..8 {
        let _ = pay(n).await;
    }
    let f = function("pay");
    assert_eq!((f.ok.count, f.error.count), (2, 6));
    for kind in ["Declined", "rate_limited", "Fraud"] {
        assert_eq!(f.error_kind_count(kind), 2, "{kind}");
    }
    assert_eq!(f.overflowed_errors(), 0);
}

#[derive(Debug)]
struct PlainError;

#[taskscope::measure]
fn plain(fail: bool) -> Result<u8, PlainError> {
    if fail { Err(PlainError) } else { Ok(1) }
}

#[test]
fn without_error_kind_the_kind_is_the_type_short_name() {
    if crate::support::alone(
        module_path!(),
        "without_error_kind_the_kind_is_the_type_short_name",
    ) {
        return;
    }
    init();
    plain(true).unwrap_err();
    assert_eq!(function("plain").error_kinds[0].kind, "PlainError");
}
