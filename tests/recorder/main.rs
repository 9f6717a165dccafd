//! `#[measure]` and the recorder: outcomes, options, forms, timing on paused clocks, error
//! kinds, snapshots, switches, HdrHistogram conversions.
//!
//! One test binary by topic, linked once: each module was a test file of its own, and runs
//! in a child process of its own (`support::alone`), so process-wide state stays its own.

#[path = "../support/mod.rs"]
mod support;

mod bad_input_error_kinds;
mod blocks;
mod call_graph;
mod concurrency;
mod error_kind_overflow;
mod error_kinds;
mod forms;
mod hdr;
mod large_future;
mod option_error_if;
mod option_error_kind;
mod option_name;
mod option_ok_if;
mod option_skip;
mod outcomes;
mod runtime;
mod scheduling;
mod snapshot;
mod switches;
mod timing;
