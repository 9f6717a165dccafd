//! The run-time switch: off means nothing is recorded and results are unchanged.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use common::init;

#[taskscope::measure]
async fn switched(n: u32) -> Result<u32, std::num::TryFromIntError> {
    u8::try_from(n).map(u32::from)
}

#[taskscope::measure]
fn switched_sync(n: u32) -> u32 {
    n + 1
}

#[tokio::test]
async fn recording_off_at_run_time_records_nothing_and_changes_nothing() {
    if crate::support::alone(
        module_path!(),
        "recording_off_at_run_time_records_nothing_and_changes_nothing",
    ) {
        return;
    }
    init();
    switched(1).await.unwrap();
    taskscope::set_enabled(false);
    assert!(!taskscope::is_enabled());
    assert_eq!(switched(2).await.unwrap(), 2);
    assert!(switched(300).await.is_err());
    assert_eq!(switched_sync(1), 2);
    taskscope::set_enabled(true);
    switched(3).await.unwrap();
    let snap = taskscope::snapshot();
    let f = snap.function("switched").unwrap();
    assert_eq!((f.ok.count, f.error.count), (2, 0));
    assert!(
        snap.function("switched_sync").is_none(),
        "never called while on"
    );
}

#[test]
fn a_second_init_is_an_error_that_says_what_to_do() {
    if crate::support::alone(
        module_path!(),
        "a_second_init_is_an_error_that_says_what_to_do",
    ) {
        return;
    }
    init();
    let err = taskscope::builder().try_init().unwrap_err();
    assert_eq!(err, taskscope::InitError::AlreadyInitialised);
    assert!(err.to_string().contains("once"));
    let err = taskscope::builder()
        .with_error_kind_limit(0)
        .try_init()
        .unwrap_err();
    assert!(err.to_string().contains("1 to 1024"), "{err}");
}
