//! The tracing layer: outcomes from spans and events, timing, filters, names from fields,
//! bounds, the switch, and hostile names on every screen.
//!
//! One test binary by topic, linked once: each module was a test file of its own, and runs
//! in a child process of its own (`support::alone`), so process-wide state stays its own.

#[path = "../support/mod.rs"]
mod support;

mod bad_input_hostile_names;
mod layer_bounds;
mod layer_call_graph;
mod layer_filters;
mod layer_measure_once;
mod layer_names;
mod layer_outcomes;
mod layer_switch;
mod layer_timing;
mod layer_wall_only;
