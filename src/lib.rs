//! # taskscope
//!
//! Per-function latency percentiles, outcomes (ok, error by kind, cancelled, panicked), busy
//! versus waiting time and slow polls for async Rust, from one attribute:
//!
//! ```
//! #[taskscope::measure]
//! async fn fetch(id: u32) -> Result<String, std::io::Error> {
//!     Ok(format!("item {id}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! fetch(7).await.unwrap();
//! let snap = taskscope::snapshot();
//! let f = snap.function("fetch").unwrap();
//! assert_eq!(f.ok.count, 1);
//! println!("p99 {:?}", f.wall().p99());
//! # }
//! ```
//!
//! A call starts at its first poll and ends with exactly one [`Outcome`]: a future dropped
//! before it finished is `cancelled`, a panic is `panicked` (and goes on unwinding). The
//! recorder writes per-thread shards with plain stores, so a measured call costs two clock
//! reads and a handful of uncontended stores; see `BENCHMARKS.md`.
//!
//! ## The API
//!
//! Measuring (no cargo feature):
//! - [`measure`]: the attribute, on `async fn`, `fn`, methods, trait impls, whole impl
//!   blocks, and `#[async_trait]` methods in either attribute order; [`ErrorKind`] (derive
//!   it) names an error's kind.
//! - [`measure_future!`] and [`measure_block!`]: a future or a block under a name.
//! - [`builder`] ([`Builder`]): the recorder's settings; [`set_enabled`] and
//!   [`is_enabled`]: the run-time switch. The cargo feature `disabled` makes every macro
//!   expand to the bare code.
//!
//! Reading back (no cargo feature):
//! - [`snapshot`] ([`Snapshot`], [`FunctionSnapshot`], [`OutcomeStats`], [`Histogram`]),
//!   [`Sampler`] (per-interval deltas and rates), [`report`] (a table to print).
//! - [`Outcome`] and [`PerOutcome`]: how a call ended, and a value for each way.
//!
//! The async patterns (cargo feature `patterns`):
//! - [`patterns`]: retries (plain loops and backon), tokio's semaphore, mutex and rwlock,
//!   mpsc channels, streams and intervals, and [`spawn_blocking!`], each recorded under a
//!   [`Pattern`] in the same data model.
//!
//! From `tracing` (cargo feature `layer`):
//! - [`layer()`]: a `tracing_subscriber` layer that records every `tracing` span the same
//!   way, so existing `#[tracing::instrument]` code needs no change.
//! - [`subscriber()`]: the process's whole `tracing` subscriber in one builder: the taskscope
//!   layer, a fmt layer, tokio-console's layer (cargo feature `console`) and the OTLP
//!   exporter, each layer behind its own filter, so tokio's task instrumentation reaches
//!   only the console.
//! - [`spawn!`] and [`spawn_named()`] (cargo feature `console`): tokio tasks named after the
//!   function they run, so tokio-console and taskscope show the same names.
//!
//! Out of the process:
//! - [`otlp()`] (cargo feature `otlp`): periodic OTLP export of the metrics to a collector,
//!   and of a sampled share of calls as trace spans (joined to the user's
//!   tracing-opentelemetry traces with the feature `otel-context`); [`ExportStats`] counts
//!   what was sent, retried and dropped.
//! - [`prometheus()`] (cargo feature `prometheus`): a scrape endpoint, by default on
//!   `127.0.0.1:9464/metrics`, with native histograms for Prometheus that asks for them.
//! - [`otel`] (cargo feature `otel-sdk`): the application's own OpenTelemetry pipeline.
//! - [`hdr`] (cargo feature `hdrhistogram`): histograms as HdrHistograms, interval logs.
//!
//! Live (cargo features `tui`, `receiver`, `tasks`):
//! - [`top()`]: the dashboard, on the terminal, as plain summaries, or in memory
//!   ([`view`] has its builder and types).
//! - [`receive`]: the OTLP receiver `taskscope top` is made of, and a tokio-console client;
//!   [`frame`]: the plain data they hand out.
//!
//! tokio-console needs the final binary built with `--cfg tokio_unstable`, which no library
//! can set for it: `RUSTFLAGS="--cfg tokio_unstable" cargo build`, or in the application's
//! `.cargo/config.toml`:
//!
//! ```toml
//! [build]
//! rustflags = ["--cfg", "tokio_unstable"]
//! ```
//!
//! `cfg` flags are chosen by whoever builds the final binary, a dependency has no way to
//! add `rustflags` to the build, and tokio reads the flag when tokio itself is compiled.
//! Without it, `subscriber().with_console()` warns once on stderr, naming the fix, and
//! everything else works.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The API list links items of every feature: the links resolve where all are on (docs.rs,
// and `cargo doc --features full`).
#![cfg_attr(not(feature = "full"), allow(rustdoc::broken_intra_doc_links))]
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

#[cfg(test)]
mod house;

/// The README's code blocks run as doctests.
#[cfg(all(doctest, feature = "layer"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(any(
    feature = "otlp",
    feature = "prometheus",
    feature = "tui",
    feature = "receiver",
    feature = "tasks",
    feature = "runtime",
    all(feature = "console", tokio_unstable)
))]
mod background;
mod clock;
mod config;
mod export;
#[cfg(any(feature = "tui", feature = "receiver", feature = "tasks"))]
pub mod frame;
mod instrument;
// Each feature uses part of the vocabulary.
#[cfg(any(feature = "receiver", feature = "tasks"))]
pub mod receive;
mod record;
#[cfg(feature = "runtime")]
mod runtime;
#[cfg(any(feature = "prometheus", feature = "receiver"))]
mod serve;
#[cfg(feature = "layer")]
mod subscriber;
#[cfg(feature = "console")]
mod task;
#[cfg(all(
    feature = "tls",
    any(feature = "otlp", feature = "prometheus", feature = "receiver")
))]
mod tls;
#[cfg(feature = "tui")]
pub mod view;
mod words;

/// The application's own OpenTelemetry pipeline (cargo feature `otel-sdk`): taskscope's
/// counts on its `Meter` with [`observe`](otel::observe), and the sampled calls' spans
/// through its `TracerProvider` with `otlp().with_tracer_provider(&provider)`.
///
/// Histograms cannot be handed to the OpenTelemetry SDK for Rust from outside (its
/// aggregations are crate-private; a metric producer hook is opentelemetry-rust issue
/// 1670), so latency histograms keep going through `taskscope::otlp()` or
/// `taskscope::prometheus()`.
#[cfg(feature = "otel-sdk")]
pub mod otel {
    pub use crate::export::otel::observe;
}

/// The async patterns users write, measured as they write them (cargo feature
/// `patterns`; backon's retries with the feature `backon`): each helper wraps the crate
/// users already use and records into the same data model as `#[measure]`, under a
/// [`Pattern`] (the attribute `taskscope.kind`) other than `function`.
///
/// | pattern | helper | functions recorded |
/// |---|---|---|
/// | retry | [`Retries`](patterns::Retries) (plain loop), [`Retries::retry`](patterns::Retries::retry) (backon) | `name` (one call per operation; [`FunctionSnapshot::attempts`]), `name.attempt`, `name.backoff` |
/// | semaphore | [`Semaphore`](patterns::Semaphore), [`Mutex`](patterns::Mutex), [`RwLock`](patterns::RwLock) | `name.wait` (in flight: waiters), `name.hold` (in flight: permits in use); a `RwLock`'s `read_wait`, `read_hold`, `write_wait`, `write_hold` |
/// | channel | [`channel`](patterns::channel), [`unbounded_channel`](patterns::unbounded_channel) | `name.send` (backpressure), `name.queue` (in flight: depth; cancelled: closed with items), `name.recv` |
/// | stream | [`MeasureStream::measured`](patterns::MeasureStream::measured) | `name` (one call per stream; busy: producing), `name.item` (time to each item) |
/// | blocking | [`spawn_blocking!`](crate::spawn_blocking) | `name` (busy: the run; scheduling: the wait in the pool's queue) |
/// | interval | [`interval`](patterns::interval) | `name` (one call per tick due: ok with its drift as wall time, or `Missed`) |
///
/// Names are `&'static str`: the set of functions stays bounded by the program.
#[cfg(feature = "patterns")]
pub mod patterns {
    pub use crate::instrument::patterns::channel::{
        Receiver, Sender, UnboundedReceiver, UnboundedSender, channel, unbounded_channel,
    };
    pub use crate::instrument::patterns::interval::{Interval, MISSED_TICK_KIND, interval};
    pub use crate::instrument::patterns::lock::{
        Mutex, MutexGuard, OwnedPermit, Permit, RwLock, RwLockReadGuard, RwLockWriteGuard,
        Semaphore,
    };
    pub use crate::instrument::patterns::retry::{BackoffSleep, Retries, Retry, RetrySleeper};
    pub use crate::instrument::patterns::stream::{
        AllOk, ErrIsError, ItemOutcome, MeasureStream, MeasuredStream,
    };
}

/// taskscope's histograms as HdrHistograms (cargo feature `hdrhistogram`): `From`
/// conversions both ways between [`Histogram`] and `hdrhistogram::Histogram<u64>`, and
/// HdrHistogram interval logs of a [`Snapshot`] with [`write_interval_log`](hdr::write_interval_log).
/// The precision mapping is in [`SIGNIFICANT_DIGITS`](hdr::SIGNIFICANT_DIGITS).
#[cfg(feature = "hdrhistogram")]
pub mod hdr {
    pub use crate::export::hdr::{IntervalLogError, SIGNIFICANT_DIGITS, write_interval_log};
}

pub use config::{
    Builder, InitError, MAX_ERROR_KIND_LIMIT, builder, is_enabled, set_enabled,
    set_slow_poll_threshold,
};
pub use export::DEFAULT_EXPLICIT_BUCKETS;
#[cfg(feature = "otlp")]
pub use export::otlp::{
    Compression, DEFAULT_MAX_BUCKETS, HistogramFormat, OtlpBuilder, OtlpError, OtlpExporter,
    Protocol, Temporality, otlp,
};
#[cfg(feature = "prometheus")]
pub use export::prometheus::{
    DEFAULT_MAX_SCRAPE_CONNECTIONS, DEFAULT_NATIVE_SCHEMA, PrometheusBuilder, PrometheusEndpoint,
    PrometheusError, prometheus,
};
pub use export::stats::{ExportStats, last_export_error};
pub use instrument::classify::ErrorKind;
#[cfg(feature = "layer")]
pub use instrument::layer::{DEFAULT_NAME_FIELDS, SpanLayer, layer};
pub use record::attempts::{ATTEMPT_BUCKETS, Attempts};
pub use record::histogram::Histogram;
pub use record::report::{Report, report};
pub use record::runtime::{PollTimeBucket, RuntimeSnapshot, UnstableRuntimeSnapshot};
pub use record::snapshot::{
    Callee, CallerStats, ErrorKindCount, FunctionSnapshot, Interval, OutcomeStats, Sampler,
    Snapshot, memory_usage, snapshot,
};
#[cfg(feature = "runtime")]
pub use runtime::{
    DEFAULT_RUNTIME_INTERVAL, RuntimeBuilder, RuntimeError, RuntimeMonitor, runtime,
};
#[cfg(feature = "console")]
pub use subscriber::DEFAULT_CONSOLE_RETENTION;
#[cfg(feature = "layer")]
pub use subscriber::{ConsoleStatus, SubscriberBuilder, SubscriberError, Telemetry, subscriber};
#[cfg(feature = "console")]
pub use task::spawn_named;
#[cfg(feature = "tui")]
pub use view::top;
pub use words::function::{Pattern, Source};
pub use words::names::{EARLY_EXIT_KIND, OVERFLOW_KIND, ROOT_CALLER, UNKNOWN_ERROR_KIND};
pub use words::outcome::{Outcome, PerOutcome};

/// Measures every call of a function: outcome, wall and busy time, polls, slow polls.
///
/// On an `async fn` (or a function returning `impl Future` or a boxed future, such as an
/// `#[async_trait]` method) the call is the future, from its first poll to its completion
/// or drop. On a plain `fn` the call is its execution. On an `impl` block, every method is
/// measured, named `Type::method`; `#[measure(skip)]` leaves one out.
///
/// The outcome comes from the returned value: `Err` and `None` are errors, anything else is
/// ok. An error's kind is [`ErrorKind::error_kind`] when the error type implements it (derive
/// it on an enum to get variant names), else the error type's short name.
///
/// Options:
/// - `name = "..."`: the name to report (default: the function's name).
/// - `ok_if = path` / `error_if = path`: a `fn(&T) -> bool` on the returned value that
///   decides the outcome instead of the default rules.
/// - `error_kind = "Kind"` or `error_kind = path`: the kind of every error of this function,
///   fixed, or computed by a `fn(&T) -> &'static str` on the returned value.
/// - `scheduling`: also record, as [`FunctionSnapshot::scheduling`], each wait from a wake
///   of the call to its next poll: the time the runtime took to come back to it, which grows
///   when the executor is saturated while the function itself stays as fast. The call's
///   future gets a waker of its own, so it costs more than a plain measured call (one
///   allocation per call and a few tens of nanoseconds per poll, `BENCHMARKS.md`); off
///   unless asked. Async functions and functions returning futures only; on an impl block,
///   it applies to the methods that return futures.
/// - `skip`: on a method of a measured impl block, leave it out.
///
/// ```
/// #[taskscope::measure(scheduling)]
/// async fn handle(mut rx: tokio::sync::mpsc::Receiver<u32>) -> Option<u32> {
///     rx.recv().await
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, rx) = tokio::sync::mpsc::channel(1);
/// let call = tokio::spawn(handle(rx));
/// tokio::task::yield_now().await;
/// tx.send(7).await.unwrap(); // wakes the call
/// assert_eq!(call.await.unwrap(), Some(7));
/// let waits = taskscope::snapshot().function("handle").unwrap().scheduling.clone();
/// assert_eq!(waits.count(), 1);
/// # }
/// ```
///
/// ```
/// #[derive(Debug, taskscope::ErrorKind)]
/// enum LoadError { Missing, Corrupt }
///
/// struct Store;
///
/// #[taskscope::measure]
/// impl Store {
///     async fn load(&self, key: &str) -> Result<Vec<u8>, LoadError> {
///         if key.is_empty() { Err(LoadError::Missing) } else { Ok(vec![1, 2, 3]) }
///     }
///
///     #[measure(skip)]
///     fn helper(&self) {}
/// }
///
/// #[taskscope::measure(name = "http_get", error_if = is_server_error)]
/// fn get(path: &str) -> u16 {
///     if path == "/boom" { 503 } else { 200 }
/// }
/// fn is_server_error(status: &u16) -> bool { *status >= 500 }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let _ = Store.load("").await;
/// get("/boom");
/// let snap = taskscope::snapshot();
/// assert_eq!(snap.function("Store::load").unwrap().error_kinds[0].kind, "Missing");
/// assert_eq!(snap.function("http_get").unwrap().error.count, 1);
/// # }
/// ```
pub use taskscope_macros::measure;

/// Derives [`ErrorKind`]: the kind of an enum value is its variant's name, the kind of a
/// struct its type's name. `#[error_kind("name")]` on a variant renames it.
pub use taskscope_macros::ErrorKind;

/// Measures a future as a call of a function with the given name, without writing a
/// function for it. Evaluates to a future with the same output.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let value = taskscope::measure_future!("load_config", async { Ok::<_, std::io::Error>(3) }).await;
/// assert_eq!(value.unwrap(), 3);
/// assert_eq!(taskscope::snapshot().function("load_config").unwrap().ok.count, 1);
/// # }
/// ```
#[cfg(not(feature = "disabled"))]
#[macro_export]
macro_rules! measure_future {
    ($name:expr, $future:expr $(,)?) => {{
        static __TASKSCOPE_CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
            $name,
            ::core::module_path!(),
            ::core::file!(),
            ::core::line!(),
        );
        let __ts_future = $future;
        async move {
            if !$crate::__private::enabled() {
                return __ts_future.await;
            }
            let (__ts_out, __ts_done) =
                $crate::__private::Measured::new(&__TASKSCOPE_CALLSITE, __ts_future).await;
            __ts_done.finish($crate::__classify!(&__ts_out));
            __ts_out
        }
    }};
}

/// Measures a future (compiled out by the `disabled` feature).
#[cfg(feature = "disabled")]
#[macro_export]
macro_rules! measure_future {
    ($name:expr, $future:expr $(,)?) => {
        $future
    };
}

/// Measures a synchronous block as a call of a function with the given name. The block's
/// value is classified like a function's return value; leaving the block early with `?`,
/// `return` or `break` counts as an error of kind [`EARLY_EXIT_KIND`].
///
/// ```
/// let n: Result<u32, _> = taskscope::measure_block!("parse_port", { "8080".parse::<u32>() });
/// assert_eq!(n.unwrap(), 8080);
/// assert_eq!(taskscope::snapshot().function("parse_port").unwrap().ok.count, 1);
/// ```
#[cfg(not(feature = "disabled"))]
#[macro_export]
macro_rules! measure_block {
    ($name:expr, $block:block $(,)?) => {{
        static __TASKSCOPE_CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
            $name,
            ::core::module_path!(),
            ::core::file!(),
            ::core::line!(),
        );
        let __ts_call = $crate::__private::SyncCall::start(&__TASKSCOPE_CALLSITE);
        #[allow(clippy::let_unit_value)]
        let __ts_out = $block;
        if let ::core::option::Option::Some(__ts_done) = __ts_call.end() {
            __ts_done.finish($crate::__classify!(&__ts_out));
        }
        __ts_out
    }};
}

/// Measures a block (compiled out by the `disabled` feature).
#[cfg(feature = "disabled")]
#[macro_export]
macro_rules! measure_block {
    ($name:expr, $block:block $(,)?) => {
        $block
    };
}

/// Runs a closure on tokio's blocking pool (`tokio::task::spawn_blocking`), measured as a
/// call of a function with the given name (cargo feature `patterns`): its wall time runs
/// from the spawn to the closure's return, its busy time is the run, and its
/// [`scheduling`](FunctionSnapshot::scheduling) delay is the wait in the pool's queue. The
/// closure's value is classified like a function's return value; a panic is `panicked`,
/// and a closure dropped before it ran (an aborted handle, a runtime shutting down) is
/// `cancelled`. Evaluates to tokio's `JoinHandle`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let digest = taskscope::spawn_blocking!("hash_file", move || {
///     Ok::<_, std::io::Error>(42u64)
/// });
/// assert_eq!(digest.await.unwrap().unwrap(), 42);
/// let f = taskscope::snapshot().function("hash_file").unwrap().clone();
/// assert_eq!(f.ok.count, 1);
/// assert_eq!(f.scheduling.count(), 1, "its wait in the pool's queue");
/// # }
/// ```
#[cfg(all(feature = "patterns", not(feature = "disabled")))]
#[macro_export]
macro_rules! spawn_blocking {
    ($name:expr, $f:expr $(,)?) => {{
        static __TASKSCOPE_CALLSITE: $crate::__private::Callsite =
            $crate::__private::Callsite::new(
                $name,
                ::core::module_path!(),
                ::core::file!(),
                ::core::line!(),
            )
            .with_pattern($crate::Pattern::Blocking);
        let __ts_f = $f;
        let __ts_call = $crate::__private::BlockingCall::queue(&__TASKSCOPE_CALLSITE);
        $crate::__private::spawn_blocking(move || {
            let __ts_run = __ts_call.run();
            let __ts_out = __ts_f();
            if let ::core::option::Option::Some(__ts_done) = __ts_run.end() {
                __ts_done.finish($crate::__classify!(&__ts_out));
            }
            __ts_out
        })
    }};
}

/// Runs a closure on tokio's blocking pool (compiled out by the `disabled` feature).
#[cfg(all(feature = "patterns", feature = "disabled"))]
#[macro_export]
macro_rules! spawn_blocking {
    ($name:expr, $f:expr $(,)?) => {
        $crate::__private::spawn_blocking($f)
    };
}

/// Classifies a reference to a value by its concrete type (autoref specialisation).
#[doc(hidden)]
#[macro_export]
macro_rules! __classify {
    ($value:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ViaAny as _, ViaErrorKind as _, ViaResult as _};
        (&&&$crate::__private::Probe($value)).__ts_classify()
    }};
}

/// What the macros' expansions refer to. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::config::enabled;
    #[cfg(feature = "otlp")]
    pub use crate::export::otlp::{encode_for_bench, gzip_for_bench};
    #[cfg(feature = "prometheus")]
    pub use crate::export::prometheus::render_for_bench as prometheus_render_for_bench;
    pub use crate::instrument::call::SyncCall;
    pub use crate::instrument::callsite::Callsite;
    pub use crate::instrument::classify::{
        Classified, Probe, ViaAny, ViaErrorKind, ViaResult, type_kind,
    };
    pub use crate::instrument::future::{Completion, Measured};
    #[cfg(feature = "patterns")]
    pub use crate::instrument::patterns::blocking::{
        BlockingCall, BlockingRun, spawn as spawn_blocking,
    };
    pub use crate::instrument::scheduled::Scheduled;
    #[cfg(feature = "receiver")]
    pub use crate::receive::otlp::{Store as ReceiverStore, decode_for_bench};
    pub use crate::record::histogram::CHUNK_BYTES;
    #[cfg(feature = "runtime")]
    pub use crate::runtime::reader_for_bench as runtime_reader_for_bench;
}
