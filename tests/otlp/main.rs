//! The OTLP exporter against the real rotel collector: metrics, spans, standard variables,
//! faults and restarts, and the application's own OpenTelemetry pipeline.
//!
//! One test binary by topic, linked once: each module was a test file of its own, and runs
//! in a child process of its own (`support::alone`), so process-wide state stays its own.

#[path = "../support/mod.rs"]
mod support;

mod otel_sdk;
mod otlp_collector;
mod otlp_collector_faults;
mod otlp_standard_variables;
mod otlp_traces;
mod reliability_collector_restart;
