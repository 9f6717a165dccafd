//! Start-up configuration and the run-time switch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::clock;
use crate::record::registry;

static ENABLED: AtomicBool = AtomicBool::new(true);
static INITIALISED: AtomicBool = AtomicBool::new(false);

/// The most error kinds a function may be configured to keep apart.
pub const MAX_ERROR_KIND_LIMIT: usize = 1024;

/// True when recording is on. One relaxed load: the whole cost of a measured call while
/// recording is off.
#[doc(hidden)]
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Turns recording on or off at run time, for calls that start after this (a call in
/// progress finishes the way it started). While off, a measured call costs one relaxed load.
///
/// ```
/// taskscope::set_enabled(false);
/// assert!(!taskscope::is_enabled());
/// taskscope::set_enabled(true);
/// ```
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// True when recording is on (the default).
pub fn is_enabled() -> bool {
    enabled()
}

/// What went wrong in [`Builder::try_init`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// `init` or `try_init` ran before.
    #[error("taskscope is already initialised: call init() or try_init() once, at start-up")]
    AlreadyInitialised,
    /// A clock was set after measured functions had already recorded with another one.
    #[error(
        "a custom clock was set after measured calls had been recorded: configure taskscope before the first measured call"
    )]
    ClockAfterRecording,
    /// The error-kind limit is out of range.
    #[error("error kind limit {0} is out of range: use 1 to {MAX_ERROR_KIND_LIMIT}")]
    ErrorKindLimit(usize),
}

/// Settings for the recorder, applied once at start-up. Everything has a default, so
/// configuring is optional.
///
/// ```
/// use std::time::Duration;
///
/// taskscope::builder()
///     .with_slow_poll_threshold(Duration::from_micros(100))
///     .with_error_kind_limit(16)
///     .try_init()
///     .expect("configured once");
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing is configured until init() or try_init()"]
pub struct Builder {
    slow_poll: Duration,
    kind_limit: usize,
    clock: Option<fn() -> Duration>,
    enabled: bool,
}

/// A builder for the recorder's settings.
pub fn builder() -> Builder {
    Builder {
        slow_poll: clock::DEFAULT_SLOW_POLL,
        kind_limit: registry::DEFAULT_KIND_LIMIT,
        clock: None,
        enabled: true,
    }
}

impl Builder {
    /// A poll longer than this counts as slow: it held the executor thread that long.
    /// Default 50 µs (tokio-metrics' default, so the two agree).
    pub fn with_slow_poll_threshold(mut self, threshold: Duration) -> Self {
        self.slow_poll = threshold;
        self
    }

    /// Distinct error kinds kept per function (default 32, at most 1024). Further kinds are
    /// counted under [`OVERFLOW_KIND`](crate::words::names::OVERFLOW_KIND). Applies to functions whose
    /// first call comes after `init`.
    pub fn with_error_kind_limit(mut self, limit: usize) -> Self {
        self.kind_limit = limit;
        self
    }

    /// Replaces the clock with a monotonic function giving the time since a fixed origin.
    /// Meant for tests that run under tokio's paused time. Each paused runtime has its own
    /// clock, starting at the real time of its creation, so take the origin well before any
    /// of them (an hour back here):
    ///
    /// ```
    /// use std::{sync::OnceLock, time::{Duration, Instant}};
    ///
    /// fn tokio_clock() -> Duration {
    ///     static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ///     let origin = *ORIGIN.get_or_init(|| Instant::now() - Duration::from_secs(3600));
    ///     tokio::time::Instant::now()
    ///         .saturating_duration_since(tokio::time::Instant::from_std(origin))
    /// }
    /// # fn main() {
    /// taskscope::builder().with_clock(tokio_clock).init();
    /// # }
    /// ```
    pub fn with_clock(mut self, clock: fn() -> Duration) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Starts with recording on (`true`, the default) or off; see [`set_enabled`].
    pub fn with_recording(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// Applies the settings, or says why it cannot.
    pub fn try_init(self) -> Result<(), InitError> {
        if self.kind_limit == 0 || self.kind_limit > MAX_ERROR_KIND_LIMIT {
            return Err(InitError::ErrorKindLimit(self.kind_limit));
        }
        if self.clock.is_some() && registry::any_registered() {
            return Err(InitError::ClockAfterRecording);
        }
        if INITIALISED.swap(true, Ordering::AcqRel) {
            return Err(InitError::AlreadyInitialised);
        }
        if let Some(c) = self.clock {
            clock::set_custom(c);
        }
        clock::set_slow_poll_threshold(self.slow_poll);
        registry::set_kind_limit(self.kind_limit);
        set_enabled(self.enabled);
        Ok(())
    }

    /// Applies the settings.
    ///
    /// # Panics
    /// If [`try_init`](Self::try_init) fails, with its message.
    pub fn init(self) {
        if let Err(e) = self.try_init() {
            panic!("taskscope::init: {e}");
        }
    }
}

/// Changes the slow-poll threshold at run time, for polls that start after this.
pub fn set_slow_poll_threshold(threshold: Duration) {
    clock::set_slow_poll_threshold(threshold);
}
