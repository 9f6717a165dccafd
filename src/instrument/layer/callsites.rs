//! From a span's or event's callsite to what the layer needs to know about it, worked out
//! once per callsite.
//!
//! Spans are grouped into functions by name, target and module: every callsite with the
//! same three records into one function state of the core recorder. The number of such
//! functions is capped (names made at run time, through leaked metadata, could otherwise
//! grow without end); spans beyond the cap are counted under [`OVERFLOW_KIND`].
//!
//! A span whose callsite declares a name field (`otel.name` by default, see
//! [`set_name_fields`](super::name_fields::set_name_fields)) is named by that field's value when it has one: tower-http's
//! `request` spans become one function per route. Names per callsite group are capped at
//! the error-kind limit; spans with names beyond it are counted under the function
//! [`OVERFLOW_KIND`] of the same module.
//!
//! [`OVERFLOW_KIND`]: crate::words::names::OVERFLOW_KIND

use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing_core::Metadata;

use super::fields;
use super::name_fields::name_field;
use crate::record::registry::{self, FunctionState};
use crate::words::function::{FunctionMeta, Source};
use crate::words::names::UNKNOWN_ERROR_KIND;

/// The default cap on distinct span functions (name, target, module) in the process.
pub(crate) const DEFAULT_FUNCTION_LIMIT: usize = 1024;
static FUNCTION_LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_FUNCTION_LIMIT);

/// Sets the cap on distinct span functions; functions already made stay.
pub(crate) fn set_function_limit(limit: usize) {
    FUNCTION_LIMIT.store(limit, Ordering::Relaxed);
}

/// A function made of spans: one name, target and module.
pub(crate) struct SpanFunction {
    pub(super) state: &'static FunctionState,
    /// The module path of the spans (for matching a `#[measure]` function), if known.
    module_path: Option<&'static str>,
    /// The spans' own name (for matching a `#[measure]` function), also when the function
    /// is named by a field.
    name: &'static str,
    /// For a function named by a field's value, the function of the spans' own name.
    base: Option<&'static SpanFunction>,
    /// `epoch << 1 | shadowed` as last worked out, or `u64::MAX` before that.
    shadow: AtomicU64,
    /// The kind index of [`UNKNOWN_ERROR_KIND`], or `usize::MAX` before it is needed.
    unknown_kind: AtomicUsize,
}

impl std::fmt::Debug for SpanFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanFunction")
            .field("module_path", &self.module_path)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SpanFunction {
    /// True when a `#[measure]` function counts these spans' calls itself: the spans are
    /// its `#[tracing::instrument]` spans. Re-checked only when measured functions were
    /// registered since the last check.
    #[inline]
    pub(super) fn is_shadowed(&self) -> bool {
        let epoch = registry::shadow_epoch();
        let cached = self.shadow.load(Ordering::Relaxed);
        if cached != u64::MAX && cached >> 1 == epoch {
            return cached & 1 == 1;
        }
        let shadowed = self
            .module_path
            .is_some_and(|m| registry::is_shadowed(m, self.name));
        self.shadow
            .store(epoch << 1 | u64::from(shadowed), Ordering::Relaxed);
        shadowed
    }

    /// The function of the spans' own name: this one, or the one a field renamed.
    pub(super) fn base(&'static self) -> &'static SpanFunction {
        self.base.unwrap_or(self)
    }

    /// The kind index for an error that names no kind.
    pub(super) fn unknown_kind(&self) -> usize {
        let cached = self.unknown_kind.load(Ordering::Relaxed);
        if cached != usize::MAX {
            return cached;
        }
        let index = self.state.kind_index(UNKNOWN_ERROR_KIND);
        self.unknown_kind.store(index, Ordering::Relaxed);
        index
    }
}

/// What the layer knows about a callsite.
#[derive(Clone, Copy, Debug)]
pub(super) struct CallsiteInfo {
    /// The function a span records into; `None` for events.
    pub(super) function: Option<&'static SpanFunction>,
    /// See the flags of [`fields`]; [`fields::NAME`] when `name_field` is some.
    pub(super) flags: u32,
    /// The field whose value names the span, when the callsite declares one.
    pub(super) name_field: Option<&'static str>,
}

/// Callsites known so far, by the address of their metadata: lock-free lookups.
const SLOTS: usize = 4096;
const PROBES: usize = 16;

struct Slot {
    key: AtomicUsize,
    info: AtomicPtr<CallsiteInfo>,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        key: AtomicUsize::new(0),
        info: AtomicPtr::new(std::ptr::null_mut()),
    }
}; SLOTS];

fn start(key: usize) -> usize {
    ((key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// What the layer knows about this callsite.
#[inline(always)]
pub(super) fn resolve(meta: &'static Metadata<'static>) -> CallsiteInfo {
    let key = meta as *const Metadata<'static> as usize;
    let start = start(key);
    for i in start..start + PROBES {
        let slot = &TABLE[i % SLOTS];
        match slot.key.load(Ordering::Acquire) {
            k if k == key => {
                let info = slot.info.load(Ordering::Acquire);
                if !info.is_null() {
                    // SAFETY: published below from a leaked box; never freed.
                    return unsafe { *info };
                }
                break;
            }
            0 => break,
            _ => {}
        }
    }
    resolve_slow(meta, key, start)
}

struct Functions {
    by_name: HashMap<(&'static str, &'static str, &'static str), &'static SpanFunction>,
    overflow: Option<&'static SpanFunction>,
    /// Functions named by a field's value, by the address of their base function.
    names: HashMap<usize, Names>,
    /// How many functions `names` holds in all.
    named: usize,
}

/// The functions a field named, of one base function.
#[derive(Default)]
struct Names {
    by_value: HashMap<Box<str>, &'static SpanFunction>,
    /// Where names beyond the cap go, once made.
    overflow: Option<&'static SpanFunction>,
}

fn functions() -> std::sync::MutexGuard<'static, Functions> {
    static FUNCTIONS: OnceLock<Mutex<Functions>> = OnceLock::new();
    FUNCTIONS
        .get_or_init(|| {
            Mutex::new(Functions {
                by_name: HashMap::new(),
                overflow: None,
                names: HashMap::new(),
                named: 0,
            })
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

#[cold]
#[inline(never)]
fn resolve_slow(meta: &'static Metadata<'static>, key: usize, start: usize) -> CallsiteInfo {
    let mut functions = functions();
    // Another thread may have published it while this one waited.
    for i in start..start + PROBES {
        let slot = &TABLE[i % SLOTS];
        if slot.key.load(Ordering::Acquire) == key {
            let info = slot.info.load(Ordering::Acquire);
            if !info.is_null() {
                // SAFETY: as in `resolve`.
                return unsafe { *info };
            }
        }
    }
    let name_field = meta.is_span().then(|| name_field(meta)).flatten();
    let info = CallsiteInfo {
        function: meta.is_span().then(|| function_for(&mut functions, meta)),
        flags: fields::flags(meta)
            | if name_field.is_some() {
                fields::NAME
            } else {
                0
            },
        name_field,
    };
    // Publish it if the window has room; otherwise this callsite is resolved here each
    // time (slower, bounded: nothing is kept for it).
    for i in start..start + PROBES {
        let slot = &TABLE[i % SLOTS];
        if slot
            .key
            .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let leaked: &'static CallsiteInfo = Box::leak(Box::new(info));
            slot.info.store(
                leaked as *const CallsiteInfo as *mut CallsiteInfo,
                Ordering::Release,
            );
            break;
        }
    }
    info
}

fn function_for(
    functions: &mut Functions,
    meta: &'static Metadata<'static>,
) -> &'static SpanFunction {
    let module = meta.module_path().unwrap_or(meta.target());
    let key = (meta.name(), meta.target(), module);
    if let Some(f) = functions.by_name.get(&key) {
        return f;
    }
    if functions.by_name.len() >= FUNCTION_LIMIT.load(Ordering::Relaxed) {
        return overflow(functions);
    }
    let f = make_function(
        FunctionMeta {
            name: meta.name(),
            module,
            file: meta.file().unwrap_or(""),
            line: meta.line().unwrap_or(0),
            target: meta.target(),
            source: Source::Span,
            span_name: "",
            pattern: crate::words::function::Pattern::Function,
        },
        meta.module_path(),
        None,
    );
    functions.by_name.insert(key, f);
    f
}

/// The function of spans beyond the process-wide cap.
fn overflow(functions: &mut Functions) -> &'static SpanFunction {
    functions.overflow.get_or_insert_with(|| {
        make_function(
            FunctionMeta {
                name: crate::words::names::OVERFLOW_KIND,
                module: crate::words::names::OVERFLOW_KIND,
                file: "",
                line: 0,
                target: crate::words::names::OVERFLOW_KIND,
                source: Source::Span,
                span_name: "",
                pattern: crate::words::function::Pattern::Function,
            },
            None,
            None,
        )
    })
}

/// The function of `base`'s spans that a field names `name`: made on first use, within
/// `base`'s cap on names (the error-kind limit) and the process-wide cap on functions.
pub(super) fn named(base: &'static SpanFunction, name: &str) -> &'static SpanFunction {
    let base = base.base();
    let mut guard = functions();
    let functions = &mut *guard;
    let full = functions.by_name.len() + functions.named >= FUNCTION_LIMIT.load(Ordering::Relaxed);
    let names = functions
        .names
        .entry(base as *const SpanFunction as usize)
        .or_default();
    if let Some(f) = names.by_value.get(name) {
        return f;
    }
    let meta = base.state.meta;
    if full || names.by_value.len() >= registry::kind_limit() {
        return names.overflow.get_or_insert_with(|| {
            make_function(
                FunctionMeta {
                    name: crate::words::names::OVERFLOW_KIND,
                    ..copy_meta(meta)
                },
                base.module_path,
                Some(base),
            )
        });
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let f = make_function(
        FunctionMeta {
            name: leaked,
            ..copy_meta(meta)
        },
        base.module_path,
        Some(base),
    );
    names.by_value.insert(name.into(), f);
    functions.named += 1;
    f
}

fn copy_meta(meta: &'static FunctionMeta) -> FunctionMeta {
    FunctionMeta {
        name: meta.name,
        module: meta.module,
        file: meta.file,
        line: meta.line,
        target: meta.target,
        source: meta.source,
        span_name: meta.span_name,
        pattern: meta.pattern,
    }
}

fn make_function(
    meta: FunctionMeta,
    module_path: Option<&'static str>,
    base: Option<&'static SpanFunction>,
) -> &'static SpanFunction {
    let meta: &'static FunctionMeta = Box::leak(Box::new(meta));
    Box::leak(Box::new(SpanFunction {
        state: registry::register_dynamic(meta),
        module_path,
        name: base.map_or(meta.name, |b| b.name),
        base,
        shadow: AtomicU64::new(u64::MAX),
        unknown_kind: AtomicUsize::new(usize::MAX),
    }))
}
