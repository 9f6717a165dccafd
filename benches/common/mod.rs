//! Shared by the benchmarks: a poll loop with a no-op waker, so a future is driven with no
//! runtime cost in the figures.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Polls `f` to completion with a no-op waker.
pub fn run<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
