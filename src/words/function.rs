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
    /// The pattern the calls are of: a function, or one of the pattern helpers' operations.
    pub(crate) pattern: Pattern,
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

/// What a recorded "function" is: a function (or span), or the operation of one of the
/// async patterns taskscope measures (`taskscope::patterns`). On the wire it is the
/// attribute `taskscope.kind` (Prometheus label `taskscope_kind`), left out for
/// [`Pattern::Function`] so that a function's series keep the identity they always had.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// A function, a measured block or future, or a `tracing` span.
    #[default]
    Function,
    /// A retried operation: one call per operation, whatever its attempts.
    Retry,
    /// Waiting for and holding a permit of a semaphore, or a lock.
    Semaphore,
    /// Sending into, waiting in and receiving from a channel.
    Channel,
    /// A stream and its items.
    Stream,
    /// A closure on tokio's blocking pool.
    Blocking,
    /// The ticks of a periodic job's interval.
    Interval,
}

impl Pattern {
    /// Every pattern, in a fixed order.
    pub const ALL: [Pattern; 7] = [
        Pattern::Function,
        Pattern::Retry,
        Pattern::Semaphore,
        Pattern::Channel,
        Pattern::Stream,
        Pattern::Blocking,
        Pattern::Interval,
    ];

    /// The attribute's value: `function`, `retry`, `semaphore`, `channel`, `stream`,
    /// `blocking`, `interval`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Pattern::Function => "function",
            Pattern::Retry => "retry",
            Pattern::Semaphore => "semaphore",
            Pattern::Channel => "channel",
            Pattern::Stream => "stream",
            Pattern::Blocking => "blocking",
            Pattern::Interval => "interval",
        }
    }

    /// The pattern of an attribute value, as [`as_str`](Self::as_str) writes it.
    ///
    /// ```
    /// use taskscope::Pattern;
    /// assert_eq!(Pattern::parse("retry"), Some(Pattern::Retry));
    /// assert_eq!(Pattern::parse("lock"), None);
    /// ```
    pub fn parse(value: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
