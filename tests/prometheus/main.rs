//! The Prometheus endpoint against Debian's prometheus and promtool: scrapes, exemplars,
//! native histograms, and the Grafana dashboards' queries and alert rules.
//!
//! One test binary by topic, linked once: each module was a test file of its own, and runs
//! in a child process of its own (`support::alone`), so process-wide state stays its own.

#[path = "../support/mod.rs"]
mod support;

mod dashboards;
mod prometheus_call_graph;
mod prometheus_endpoint;
mod prometheus_exemplars;
mod prometheus_fleet;
mod prometheus_native;
mod prometheus_patterns;
mod prometheus_scheduling;
