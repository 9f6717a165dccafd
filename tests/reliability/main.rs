//! Load and faults: panics everywhere, a flooded receiver, a long soak against the
//! collector.
//!
//! One test binary by topic, linked once: each module was a test file of its own, and runs
//! in a child process of its own (`support::alone`), so process-wide state stays its own.

#[path = "../support/mod.rs"]
mod support;

mod reliability_panics;
mod reliability_receiver_flood;
mod reliability_soak;
