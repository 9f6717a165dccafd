//! A callsite: the static that each measured function or block owns.

use std::sync::atomic::{AtomicPtr, Ordering};

use crate::record::registry::{self, FunctionState};

/// Where a measured function lives: its name and module, fixed at compile time.
#[derive(Debug)]
pub(crate) struct Meta {
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

/// The per-function static that the macros generate. Holds nothing but a pointer until the
/// first call, so a function that is never called allocates nothing.
#[doc(hidden)]
#[derive(Debug)]
pub struct Callsite {
    meta: Meta,
    state: AtomicPtr<FunctionState>,
}

impl Callsite {
    /// A callsite for a function; used in `static` items by the macros.
    pub const fn new(
        name: &'static str,
        module: &'static str,
        file: &'static str,
        line: u32,
    ) -> Self {
        Self {
            meta: Meta {
                name,
                module,
                file,
                line,
                target: module,
                source: Source::Measure,
                span_name: "",
            },
            state: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Names the span that `#[tracing::instrument]` gives the same function (the function's
    /// name unless `instrument` renames it), so the layer does not count the call twice.
    pub const fn with_span_name(mut self, span_name: &'static str) -> Self {
        self.meta.span_name = span_name;
        self
    }

    /// The callsite's function state, registering it on first use.
    #[inline(always)]
    pub(crate) fn state(&'static self) -> &'static FunctionState {
        let ptr = self.state.load(Ordering::Acquire);
        if ptr.is_null() {
            return registry::register(&self.meta, &self.state);
        }
        // SAFETY: published by `registry::register` from a leaked box; never freed.
        unsafe { &*ptr }
    }
}
