//! The instrumented functions the layer benches call: one span per call, with one `u64`
//! argument, kept out of line so each call is a real call.

#[tracing::instrument]
#[inline(never)]
pub(crate) async fn handler(n: u64) -> u64 {
    n + 1
}

#[tracing::instrument]
#[inline(never)]
pub(crate) fn plain(n: u64) -> u64 {
    n + 1
}
