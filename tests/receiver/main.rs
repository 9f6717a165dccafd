//! The OTLP receiver of `taskscope top` with real senders (taskscope, the Python and
//! JavaScript SDKs, rotel) and hostile ones: bad input, connections, TLS, fuzzing.
//!
//! One test binary by topic, linked once: each module was a test file of its own, and runs
//! in a child process of its own (`support::alone`), so process-wide state stays its own.

#[path = "../support/mod.rs"]
mod support;

mod bad_input_receiver_fuzz;
mod receiver_bad_input;
mod receiver_call_graph;
mod receiver_connections;
mod receiver_otel_sdk;
mod receiver_patterns;
mod receiver_recording;
mod receiver_runtime;
mod receiver_scheduling;
mod receiver_taskscope;
mod wire_bad_input;
mod wire_senders;
mod wire_tls;
