//! The async patterns' helpers (`taskscope::patterns`, `spawn_blocking!`): exact counts
//! under concurrency, waits on tokio's paused clock, cancellation, and how each ends.
//!
//! One test binary, linked once; every test uses names of its own, so they share the
//! process's recorder without seeing each other's calls.

#[path = "../support/mod.rs"]
mod support;

mod blocking;
mod channel;
mod interval;
mod lock;
mod retry;
mod stream;
