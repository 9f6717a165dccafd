//! A callsite: the static that each measured function or block owns.

use std::sync::atomic::{AtomicPtr, Ordering};

use crate::record::registry::{self, FunctionState};
use crate::words::function::{FunctionMeta, Source};

/// The per-function static that the macros generate. Holds nothing but a pointer until the
/// first call, so a function that is never called allocates nothing.
#[doc(hidden)]
#[derive(Debug)]
pub struct Callsite {
    meta: FunctionMeta,
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
            meta: FunctionMeta {
                name,
                module,
                file,
                line,
                target: module,
                source: Source::Measure,
                span_name: "",
                pattern: crate::words::function::Pattern::Function,
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

    /// Marks the callsite as the operation of one of the async patterns (the pattern
    /// helpers' macros), not a function.
    pub const fn with_pattern(mut self, pattern: crate::words::function::Pattern) -> Self {
        self.meta.pattern = pattern;
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
