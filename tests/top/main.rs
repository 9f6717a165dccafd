//! `taskscope top`, the binary and the embedded dashboard: the command line, a real
//! terminal under tmux, percentiles from any sender, the demo, and bad variables and flags
//! for the binary, the examples and the library.
//!
//! One test binary by topic, linked once: each module was a test file of its own, and runs
//! in a child process of its own (`support::alone`), so process-wide state stays its own.

#[path = "../support/mod.rs"]
mod support;

mod bad_input_env_and_cli;
mod demo;
mod top_cli;
mod top_embedded;
mod top_percentiles;
mod top_tmux;
