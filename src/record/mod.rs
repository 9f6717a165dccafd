//! Recording: per-thread shards, histograms, and reading them back.

pub(crate) mod attempts;
pub(crate) mod histogram;
pub(crate) mod publish_once;
pub(crate) mod registry;
pub(crate) mod report;
pub(crate) mod runtime;
#[cfg(feature = "otlp")]
pub(crate) mod samples;
pub(crate) mod snapshot;
pub(crate) mod thread_slot;
