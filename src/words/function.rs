//! What a measured function is: its fixed description, and what recorded it.

/// Where a measured function lives: its name and module, fixed at compile time (or, for a
/// `tracing` span, when its callsite is first seen).
#[derive(Debug)]
pub(crate) struct FunctionMeta {
    /// The name the function is reported under.
    pub(crate) name: &'static str,
    /// `module_path!()` at the function's definition.
    pub(crate) module: &'static str,
    /// `file!()` at the definition.
    pub(crate) file: &'static str,
    /// `line!()` at the definition.
    pub(crate) line: u32,
    /// The `tracing` target: the module path for a measured function, the span's target
    /// for a span.
    pub(crate) target: &'static str,
    /// What recorded it.
    pub(crate) source: Source,
    /// For a measured function: the name a `#[tracing::instrument]` span on the same function
    /// carries, so the taskscope layer leaves that span to `#[measure]` (counted once).
    /// Empty when no span can be the function's own.
    pub(crate) span_name: &'static str,
}

/// What recorded a function's calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Source {
    /// `#[measure]`, `measure_future!` or `measure_block!`.
    #[default]
    Measure,
    /// A `tracing` span, through the taskscope layer.
    Span,
}
