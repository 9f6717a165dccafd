//! `skip` leaves one method of a measured impl block unmeasured.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::{init, outcomes};

struct Cache;

#[taskscope::measure]
impl Cache {
    fn hit(&self) -> bool {
        true
    }

    #[measure(skip)]
    fn internal(&self) -> bool {
        false
    }

    #[taskscope::measure(skip)]
    async fn internal_async(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn skipped_methods_record_nothing_and_still_work() {
    if crate::support::alone(
        module_path!(),
        "skipped_methods_record_nothing_and_still_work",
    ) {
        return;
    }
    init();
    assert!(Cache.hit());
    assert!(!Cache.internal());
    assert!(!Cache.internal_async().await);
    assert_eq!(outcomes("Cache::hit"), (1, 0, 0, 0));
    let snap = taskscope::snapshot();
    assert!(snap.function("Cache::internal").is_none());
    assert!(snap.function("Cache::internal_async").is_none());
}
