//! The `tracing` layer: every span recorded as a call, like a `#[measure]` function.

mod callsites;
mod entered;
mod fields;
mod name_fields;
mod open_spans;

use std::sync::atomic::{AtomicU64, Ordering};

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use self::callsites::SpanFunction;
use self::entered::Exit;
use self::fields::{SpanName, Verdict};
use self::open_spans::{Closed, OpenSpans, Timing};
use crate::clock;
use crate::instrument::nesting::{self, Entered};
use crate::record::registry::{CallRecord, FunctionState};
use crate::words::outcome::Outcome;

pub use self::name_fields::DEFAULT_NAME_FIELDS;
pub(crate) use self::name_fields::set_name_fields;

/// The fields that give a span's outcome.
const ERROR_FIELDS: u32 = fields::ERROR | fields::KIND | fields::STATUS;

/// The default number of spans the layer times without touching the subscriber's registry.
const DEFAULT_OPEN_SPANS: usize = 4096;

/// Tells layers apart in the thread-local enter stack.
static NEXT_LAYER: AtomicU64 = AtomicU64::new(1);

/// Creates the taskscope layer: put it on a `tracing_subscriber::registry()` and every span
/// it sees is recorded like a call of a `#[measure]` function.
///
/// Spans are grouped by name, target and module. For each, taskscope keeps the calls
/// (closed spans), wall time (creation to close), busy time (the sum of entered periods),
/// polls (enters), slow polls (enters longer than the slow-poll threshold), idle time (wall
/// minus busy) and the outcome: `error` when the span recorded an error (an `error` field,
/// an ERROR-level event inside it such as `#[instrument(err)]` emits, an `error.kind` or
/// `error.type` field, or `otel.status_code = "ERROR"`), `panicked` when a panic unwound
/// through it, `ok` otherwise.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// #[tracing::instrument]
/// fn load(key: u32) -> u32 {
///     key * 2
/// }
///
/// let subscriber = tracing_subscriber::registry().with(taskscope::layer());
/// tracing::subscriber::with_default(subscriber, || {
///     load(1);
///     load(2);
/// });
/// let snap = taskscope::snapshot();
/// let load = snap.function("load").unwrap();
/// assert_eq!(load.ok.count, 2);
/// assert_eq!(load.source, taskscope::Source::Span);
/// ```
///
/// It composes with other layers and with per-layer filters:
///
/// ```
/// use tracing_subscriber::{filter::Targets, prelude::*};
///
/// let only_my_app = Targets::new().with_target("my_app", tracing::Level::DEBUG);
/// let subscriber = tracing_subscriber::registry()
///     .with(taskscope::layer().with_filter(only_my_app));
/// # drop(subscriber);
/// ```
pub fn layer() -> SpanLayer {
    SpanLayer::new()
}

/// The taskscope `tracing` layer; see [`layer()`].
#[derive(Debug)]
pub struct SpanLayer {
    spans: OpenSpans,
    id: u64,
    /// Whether enters and exits are timed (busy time, polls, slow polls, the call graph's
    /// self time); off, a span reads the clock only at its creation and its close.
    busy_time: bool,
}

impl Default for SpanLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanLayer {
    fn new() -> Self {
        Self::with_capacity(DEFAULT_OPEN_SPANS)
    }

    fn with_capacity(capacity: usize) -> Self {
        Self {
            spans: OpenSpans::with_capacity(capacity),
            id: NEXT_LAYER.fetch_add(1, Ordering::Relaxed),
            busy_time: true,
        }
    }

    /// Sizes the layer's table of open spans (default 4096, 128 bytes each). Spans
    /// beyond it are still recorded, through the subscriber's span extensions, which is
    /// slower.
    ///
    /// ```
    /// let layer = taskscope::layer().with_open_span_capacity(65_536);
    /// # drop(layer);
    /// ```
    pub fn with_open_span_capacity(self, capacity: usize) -> Self {
        Self {
            spans: OpenSpans::with_capacity(capacity),
            ..self
        }
    }

    /// Times each enter of a span (on, the default) or only its life (off: wall time from
    /// creation to close, the outcome, and its caller, with two clock readings per span
    /// instead of one per creation, enter, exit and close).
    ///
    /// Off, the layer's spans record no busy time, polls or slow polls (their busy
    /// distributions stay empty, so `busy_ratio()` is `None` and `idle()` zero for a
    /// function only they record), and they do not become the running call: a call
    /// started inside one records as its caller the span's explicit parent, or else the
    /// measured call or timed span running around it. A panic
    /// unwinding through a span still makes it `panicked`. For spans so frequent and short
    /// that the clock readings of every enter are the cost; keep it on to tell a span that
    /// waits from one that blocks the executor.
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// #[tracing::instrument]
    /// fn parse(n: u32) -> u32 {
    ///     n + 1
    /// }
    ///
    /// let subscriber = tracing_subscriber::registry().with(taskscope::layer().with_busy_time(false));
    /// tracing::subscriber::with_default(subscriber, || parse(1));
    /// let parse = taskscope::snapshot().function("parse").unwrap().clone();
    /// assert_eq!(parse.ok.count, 1);
    /// assert_eq!(parse.ok.busy.count(), 0);
    /// assert_eq!(parse.busy_ratio(), None);
    /// ```
    pub fn with_busy_time(self, on: bool) -> Self {
        Self {
            busy_time: on,
            ..self
        }
    }

    /// Caps the number of distinct span functions (name, target and module) in the process
    /// (default 1024); spans of functions beyond the cap are counted under the function
    /// [`OVERFLOW_KIND`](crate::words::names::OVERFLOW_KIND). The cap is process-wide, like the error-kind
    /// limit.
    ///
    /// ```
    /// let layer = taskscope::layer().with_function_limit(10_000);
    /// # drop(layer);
    /// ```
    pub fn with_function_limit(self, limit: usize) -> Self {
        callsites::set_function_limit(limit);
        self
    }

    /// Names spans by the value of the first of these fields their callsite declares, when
    /// the span has a value for it (given at creation or recorded later): the spans of one
    /// callsite become one function per value. The default is [`DEFAULT_NAME_FIELDS`]
    /// (`otel.name`, as tracing-opentelemetry names spans); give the list to replace it
    /// (include `"otel.name"` to keep it), or an empty list for span names only. Names per
    /// callsite are capped like error kinds (the recorder's error-kind limit, default 32):
    /// spans with names beyond the cap are counted under the function
    /// [`OVERFLOW_KIND`](crate::words::names::OVERFLOW_KIND) of the same module. The setting is
    /// process-wide, like [`with_function_limit`](Self::with_function_limit); set it before
    /// spans are created.
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// // tower-http's `TraceLayer` names every span `request`; with the route in a field,
    /// // each route is its own function.
    /// let layer = taskscope::layer().with_name_fields(["otel.name", "http.route"]);
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// tracing::subscriber::with_default(subscriber, || {
    ///     for route in ["/users/{id}", "/orders", "/users/{id}"] {
    ///         let _span = tracing::info_span!("request", http.route = route).entered();
    ///     }
    /// });
    /// let snap = taskscope::snapshot();
    /// assert_eq!(snap.function("/users/{id}").unwrap().ok.count, 2);
    /// assert_eq!(snap.function("/orders").unwrap().ok.count, 1);
    /// assert!(snap.function("request").is_none());
    /// ```
    pub fn with_name_fields<I, S>(self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        name_fields::set_name_fields(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Heap bytes the layer holds (its table of open spans).
    pub fn heap_bytes(&self) -> usize {
        self.spans.heap_bytes()
    }

    /// Calls `f` with a span's timing, from the table or the span's extensions.
    #[inline(always)]
    fn with_timing<S, R>(
        &self,
        id: &Id,
        ctx: &Context<'_, S>,
        f: impl FnOnce(&Timing) -> R,
    ) -> Option<R>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if let Some(timing) = self.spans.get(id.into_u64()) {
            return Some(f(timing));
        }
        self.with_timing_slow(id, ctx, f)
    }

    #[cold]
    #[inline(never)]
    fn with_timing_slow<S, R>(
        &self,
        id: &Id,
        ctx: &Context<'_, S>,
        f: impl FnOnce(&Timing) -> R,
    ) -> Option<R>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let span = ctx.span(id)?;
        let extensions = span.extensions();
        extensions.get::<Timing>().map(f)
    }

    /// Applies what a span's or event's values say to the span's outcome.
    fn apply(timing: &Timing, function: &SpanFunction, verdict: &Verdict, error_level: bool) {
        if let Some(kind) = verdict.kind() {
            timing.set_error_kind(function.state.kind_index(kind));
        } else if verdict.error == Some(true) || error_level {
            timing.set_error(function.unknown_kind());
        } else if verdict.error == Some(false) {
            timing.clear_error();
        }
    }

    /// Moves an open span from one function to another: its start, and its error kind if it
    /// already has one (an index into the first function's kinds).
    #[cold]
    fn rename(timing: &Timing, from: &'static SpanFunction, to: &'static SpanFunction) {
        from.state.record_unstart();
        to.state.record_start();
        let code = timing.error_code();
        if code != 0 {
            let kind = from.state.kind_at(code as usize - 1);
            timing.set_error_kind(to.state.kind_index(kind));
        }
        timing.set_function(to);
    }

    fn record(&self, closed: Closed, end: u64) {
        let function = closed.function;
        if function.is_shadowed() {
            // Its `#[measure]` function counts this call.
            function.state.record_unstart();
            return;
        }
        let (outcome, kind) = if closed.panicked {
            (Outcome::Panicked, None)
        } else if closed.error != 0 {
            (Outcome::Error, Some(closed.error as usize - 1))
        } else {
            (Outcome::Ok, None)
        };
        let busy_ns = clock::nanos_between(0, closed.busy);
        function.state.record_end_indexed(
            outcome,
            kind,
            CallRecord {
                wall_ns: clock::nanos_between(closed.created, end),
                busy_ns,
                callees_ns: CallRecord::callees_ns(closed.busy, closed.children, busy_ns),
                polls: closed.polls,
                slow_polls: closed.slow_polls,
                caller: closed.caller,
                timed: self.busy_time,
            },
        );
    }

    /// The caller of a new span: none for a root span, its explicit parent's function, or
    /// the measured call or recorded span running now.
    fn caller<S>(
        &self,
        attrs: &Attributes<'_>,
        ctx: &Context<'_, S>,
    ) -> Option<&'static FunctionState>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if attrs.is_root() {
            return None;
        }
        let explicit = attrs.parent().and_then(|parent| {
            self.with_timing(parent, ctx, Timing::function)
                .flatten()
                .filter(|f| !f.is_shadowed())
                .map(|f| f.state)
        });
        explicit.or_else(nesting::current)
    }
}

impl<S> tracing_subscriber::Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    #[inline]
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !crate::config::enabled() {
            return;
        }
        let info = callsites::resolve(attrs.metadata());
        let Some(mut function) = info.function else {
            return;
        };
        if let Some(field) = info.name_field {
            let mut name = SpanName::of(field);
            attrs.record(&mut name);
            if let Some(value) = name.value() {
                function = callsites::named(function, value);
            }
        }
        let now = clock::now();
        let timing_flags = info.flags & (ERROR_FIELDS | fields::NAME);
        let thread = entered::thread();
        let caller = self.caller(attrs, &ctx);
        match self.spans.insert(id.into_u64()) {
            Some(timing) => timing.open(function, caller, now, thread, timing_flags),
            None => {
                let Some(span) = ctx.span(id) else { return };
                let timing = Timing::default();
                timing.open(function, caller, now, thread, timing_flags);
                span.extensions_mut().insert(timing);
            }
        }
        function.state.record_start();
        if timing_flags & ERROR_FIELDS != 0 {
            let mut verdict = Verdict::default();
            attrs.record(&mut verdict);
            self.with_timing(id, &ctx, |t| Self::apply(t, function, &verdict, false));
        }
    }

    #[inline]
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.with_timing(id, &ctx, |timing| {
            let flags = timing.flags();
            if flags & (ERROR_FIELDS | fields::NAME) == 0 {
                return;
            }
            let Some(mut function) = timing.function() else {
                return;
            };
            if flags & fields::NAME != 0 {
                let mut name = SpanName::any();
                values.record(&mut name);
                if let Some(value) = name.value() {
                    let renamed = callsites::named(function, value);
                    if !std::ptr::eq(renamed, function) {
                        Self::rename(timing, function, renamed);
                        function = renamed;
                    }
                }
            }
            if flags & ERROR_FIELDS != 0 {
                let mut verdict = Verdict::default();
                values.record(&mut verdict);
                Self::apply(timing, function, &verdict, false);
            }
        });
    }

    #[inline]
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let info = callsites::resolve(event.metadata());
        if info.flags == 0 {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let id = span.id();
        drop(span);
        let mut verdict = Verdict::default();
        event.record(&mut verdict);
        let error_level = info.flags & fields::LEVEL_ERROR != 0;
        if verdict.error.is_none() && !error_level {
            return;
        }
        self.with_timing(&id, &ctx, |timing| {
            if let Some(function) = timing.function() {
                // An event never clears an error: `error = false` on an event says nothing
                // about the span.
                if verdict.error != Some(false) || error_level {
                    Self::apply(timing, function, &verdict, error_level);
                }
            }
        });
    }

    #[inline]
    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if self.busy_time && crate::config::enabled() {
            // The span becomes the running call, unless `#[measure]` counts it.
            let nest = |timing: &Timing| {
                timing
                    .function()
                    .filter(|f| !f.is_shadowed())
                    .map_or(Entered::NOTHING, |f| nesting::enter(f.state))
            };
            let found = || match self.spans.get(id.into_u64()) {
                Some(timing) => (nest(timing), timing as *const Timing),
                None => (
                    self.with_timing_slow(id, &ctx, nest)
                        .unwrap_or(Entered::NOTHING),
                    std::ptr::null(),
                ),
            };
            entered::push(self.id, id.into_u64(), clock::now(), found);
        }
    }

    #[inline]
    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if !self.busy_time {
            if std::thread::panicking() {
                self.with_timing(id, &ctx, Timing::mark_panicked);
            }
            return;
        }
        let (exit, thread) = entered::pop(self.id, id.into_u64());
        let (start, nest, found) = match exit {
            Exit::Timed(start, nest, timing) => (Some(start), nest, timing),
            Exit::Nested => return,
            Exit::Unknown => (None, Entered::NOTHING, std::ptr::null()),
        };
        let end = start.map(|_| clock::now());
        let panicking = std::thread::panicking();
        let spent = match (start, end) {
            (Some(s), Some(e)) => e.saturating_sub(s),
            _ => 0,
        };
        let children = nesting::exit(nest, spent);
        let add = |timing: &Timing| {
            timing.add_children(children);
            timing.add_poll(thread, spent, spent > clock::slow_poll_ticks());
            if panicking {
                timing.mark_panicked();
            }
        };
        // SAFETY: the pointer is to an entry of this layer's table (the frame was pushed
        // by this layer: `entered::pop` matched its id), which lives as long as the layer.
        // The span cannot have closed since its enter (tracing keeps an entered span
        // open), so the entry still holds its timing.
        match unsafe { found.as_ref() } {
            Some(timing) => add(timing),
            None => {
                self.with_timing(id, &ctx, add);
            }
        }
    }

    #[inline]
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let end = clock::now();
        let closed = match self.spans.remove(id.into_u64()) {
            Some(closed) => closed,
            None => ctx.span(&id).and_then(|span| {
                span.extensions_mut()
                    .remove::<Timing>()
                    .and_then(|t| t.close())
            }),
        };
        if let Some(closed) = closed {
            self.record(closed, end);
        }
    }
}
