//! The whole subscriber and tokio-console beside taskscope: composition, the console's
//! tasks and retention, ports in use, secure defaults, self-observation.
//!
//! One test binary by topic, linked once: each module was a test file of its own, and runs
//! in a child process of its own (`support::alone`), so process-wide state stays its own.

#[path = "../support/mod.rs"]
mod support;

mod console_port_in_use;
mod console_retention;
mod console_same_numbers;
mod console_tasks;
mod layer_composition;
mod security_defaults;
mod self_observation;
mod tasks_console_client;
