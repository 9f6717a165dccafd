//! `measure_future!` and `measure_block!`: a future or a block under a name.
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use std::time::Duration;

use common::{assert_about, function, init, outcomes};

#[tokio::test(start_paused = true)]
async fn a_future_under_a_name() {
    if crate::support::alone(module_path!(), "a_future_under_a_name") {
        return;
    }
    init();
    let out = taskscope::measure_future!("warm_cache", async {
        tokio::time::sleep(Duration::from_millis(12)).await;
        Err::<(), _>(std::io::Error::from(std::io::ErrorKind::NotFound))
    })
    .await;
    assert!(out.is_err());
    assert_eq!(outcomes("warm_cache"), (0, 1, 0, 0));
    assert_eq!(function("warm_cache").error_kinds[0].kind, "NotFound");
    assert_about(
        function("warm_cache").wall().max(),
        Duration::from_millis(12),
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_named_future_is_cancelled() {
    if crate::support::alone(module_path!(), "a_dropped_named_future_is_cancelled") {
        return;
    }
    init();
    let fut = taskscope::measure_future!("abandoned", tokio::time::sleep(Duration::from_secs(5)));
    let _ = tokio::time::timeout(Duration::from_millis(3), fut).await;
    assert_eq!(outcomes("abandoned"), (0, 0, 1, 0));
}

fn parse_all(items: &[&str]) -> Result<u32, std::num::ParseIntError> {
    let mut total = 0;
    for item in items {
        total += taskscope::measure_block!("parse_item", { item.parse::<u32>() })?;
    }
    Ok(total)
}

fn early_exit(items: &[&str]) -> Result<u32, std::num::ParseIntError> {
    let n = taskscope::measure_block!("parse_first", {
        let first: u32 = items[0].parse()?;
        first
    });
    Ok(n)
}

#[test]
fn a_block_under_a_name_classified_by_its_value() {
    if crate::support::alone(
        module_path!(),
        "a_block_under_a_name_classified_by_its_value",
    ) {
        return;
    }
    init();
    assert_eq!(parse_all(&["1", "2"]).unwrap(), 3);
    parse_all(&["x"]).unwrap_err();
    assert_eq!(outcomes("parse_item"), (2, 1, 0, 0));
    assert_eq!(function("parse_item").error_kinds[0].kind, "ParseIntError");
}

#[test]
fn leaving_a_block_early_with_question_mark_is_an_early_exit_error() {
    if crate::support::alone(
        module_path!(),
        "leaving_a_block_early_with_question_mark_is_an_early_exit_error",
    ) {
        return;
    }
    init();
    assert_eq!(early_exit(&["4"]).unwrap(), 4);
    early_exit(&["y"]).unwrap_err();
    assert_eq!(outcomes("parse_first"), (1, 1, 0, 0));
    assert_eq!(
        function("parse_first").error_kinds[0].kind,
        taskscope::EARLY_EXIT_KIND
    );
}
