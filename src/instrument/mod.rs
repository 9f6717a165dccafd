//! Instrumentation: what the macros expand to, and the wrappers that time calls.

pub(crate) mod call;
pub(crate) mod callsite;
pub(crate) mod classify;
pub(crate) mod future;
#[cfg(feature = "layer")]
pub(crate) mod layer;
pub(crate) mod nesting;
#[cfg(feature = "patterns")]
pub(crate) mod patterns;
pub(crate) mod scheduled;
