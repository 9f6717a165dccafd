//! Error kinds are capped per function (this binary sets the limit to 4); the rest count
//! under the overflow kind, and memory stays put. Alone in its binary so that
//! `memory_usage()` sees no other test's allocations.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::{function, init};

struct Leaky(&'static str);

impl taskscope::ErrorKind for Leaky {
    fn error_kind(&self) -> &'static str {
        self.0
    }
}

#[taskscope::measure]
fn many_kinds(kind: &'static str) -> Result<(), Leaky> {
    Err(Leaky(kind))
}

#[tokio::test(start_paused = true)]
async fn kinds_beyond_the_limit_count_under_the_overflow_kind() {
    if crate::support::alone(
        module_path!(),
        "kinds_beyond_the_limit_count_under_the_overflow_kind",
    ) {
        return;
    }
    init();
    let kinds: Vec<&'static str> = (0..50)
        .map(|i| &*Box::leak(format!("k{i}").into_boxed_str()))
        .collect();
    for round in 0..3 {
        for k in &kinds {
            let _ = many_kinds(k);
        }
        let f = function("many_kinds");
        assert_eq!(f.error.count, 50 * (round + 1));
        assert_eq!(f.error_kinds.len(), 5, "4 kinds and the overflow kind");
        assert_eq!(f.overflowed_errors(), 46 * (round + 1));
        assert_eq!(f.error_kind_count("k0"), round + 1);
    }
    // Memory does not grow with new kinds once the table is full (paused time keeps every
    // duration in one histogram bucket, so only the kind table could grow).
    let before = taskscope::memory_usage();
    for i in 0..1000 {
        let _ = many_kinds(Box::leak(format!("late{i}").into_boxed_str()));
    }
    assert_eq!(taskscope::memory_usage(), before);
    assert_eq!(taskscope::OVERFLOW_KIND, "_overflow");
}
