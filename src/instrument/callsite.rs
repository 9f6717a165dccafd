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
            },
            state: AtomicPtr::new(std::ptr::null_mut()),
        }
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
