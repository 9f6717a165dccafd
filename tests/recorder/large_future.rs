//! A measured future holding 64 KiB: the expansion keeps the state where the bare function
//! keeps it (no extra copy of it, no extra 64 KiB of stack).
// With the `disabled` feature, helpers named only in `#[measure(...)]` options are unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::time::Duration;

#[taskscope::measure]
async fn big_measured() -> u8 {
    let buf = [7u8; 64 * 1024];
    tokio::time::sleep(Duration::from_millis(1)).await;
    buf[1234]
}

async fn big_bare() -> u8 {
    let buf = [7u8; 64 * 1024];
    tokio::time::sleep(Duration::from_millis(1)).await;
    buf[1234]
}

#[test]
fn the_measured_future_is_the_bare_future_plus_a_small_header() {
    if crate::support::alone(
        module_path!(),
        "the_measured_future_is_the_bare_future_plus_a_small_header",
    ) {
        return;
    }
    let bare = std::mem::size_of_val(&big_bare());
    let measured = std::mem::size_of_val(&big_measured());
    assert!(bare >= 64 * 1024);
    assert!(measured <= bare + 256, "measured {measured} vs bare {bare}");
    // The future starts small: the 64 KiB exist only once it runs, pinned in place.
    assert!(std::mem::size_of_val(&big_measured()) < 2 * 64 * 1024);
}

/// Runs a future on a fresh thread with a small stack.
fn on_small_stack<F: std::future::Future<Output = u8> + Send + 'static>(f: fn() -> F) -> u8 {
    // In a debug build the bare future needs about 160 KiB here (its 64 KiB state is built
    // on the stack once, as the bare function builds it). An expansion that moved the
    // future by value through a wrapper needed more than 320 KiB: 192 KiB tells them apart.
    std::thread::Builder::new()
        .stack_size(192 * 1024)
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async move { Box::pin(f()).await })
        })
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn it_runs_on_a_stack_that_fits_the_bare_function() {
    if crate::support::alone(
        module_path!(),
        "it_runs_on_a_stack_that_fits_the_bare_function",
    ) {
        return;
    }
    assert_eq!(on_small_stack(big_bare), 7);
    assert_eq!(on_small_stack(big_measured), 7);
}
