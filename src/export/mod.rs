//! Exporters: the recorder's numbers sent to the systems teams already run.

#[cfg(feature = "otlp")]
pub(crate) mod otlp;
pub(crate) mod stats;
