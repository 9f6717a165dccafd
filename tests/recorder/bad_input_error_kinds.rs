//! A million distinct error kinds, made at run time, into one measured function and into
//! one span function of the tracing layer: the kind table stops at its limit (32 by
//! default), every later kind counts under `OVERFLOW_KIND`, no call is lost, and the
//! recorder's memory after 10^6 errors is what it was after 10^4. Alone in its binary so
//! that `memory_usage()` sees no other test's functions; the clock is frozen, so every
//! duration lands in one histogram bucket and only the kind tables could grow.
// With the `disabled` feature, the measured function is bare and these helpers go unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};

/// Distinct kinds sent.
const KINDS: usize = 1_000_000;
/// The errors after which memory is read the first time.
const FIRST: usize = 10_000;
/// The recorder's default kind limit (`Builder::with_error_kind_limit`).
const LIMIT: usize = 32;

/// A frozen clock: every call lasts 0 ns.
fn frozen() -> Duration {
    Duration::from_secs(1)
}

/// Configures the recorder once, and runs the tests of this binary one at a time (both
/// read the process-wide `memory_usage()`).
fn exclusive() -> MutexGuard<'static, ()> {
    static ONCE: Once = Once::new();
    static LOCK: Mutex<()> = Mutex::new(());
    ONCE.call_once(|| taskscope::builder().with_clock(frozen).init());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `prefix` followed by 7 digits, for 0..KINDS, as slices of one leaked string: a million
/// distinct `&'static str` for one allocation.
fn kinds(prefix: char) -> Vec<&'static str> {
    let mut text = String::with_capacity(KINDS * 8);
    for i in 0..KINDS {
        write!(text, "{prefix}{i:07}").unwrap();
    }
    let text: &'static str = Box::leak(text.into_boxed_str());
    (0..KINDS).map(|i| &text[i * 8..i * 8 + 8]).collect()
}

/// An error whose kind is chosen at run time.
struct RunTimeKind(&'static str);

impl taskscope::ErrorKind for RunTimeKind {
    fn error_kind(&self) -> &'static str {
        self.0
    }
}

#[taskscope::measure]
fn fails_with(kind: &'static str) -> Result<(), RunTimeKind> {
    Err(RunTimeKind(kind))
}

/// Checks a function's counts after `n` errors, each of a new kind.
#[track_caller]
fn assert_counts(f: &taskscope::FunctionSnapshot, n: usize, first_kind: &str) {
    let n = n as u64;
    let limit = LIMIT as u64;
    assert_eq!(f.calls(), n, "every call counted");
    assert_eq!(f.error.count, n, "every call an error");
    assert_eq!(
        f.error_kinds.len(),
        LIMIT + 1,
        "the limit's kinds and the overflow kind"
    );
    assert_eq!(
        f.overflowed_errors(),
        n - limit,
        "the errors beyond the limit"
    );
    assert_eq!(f.error_kind_count(taskscope::OVERFLOW_KIND), n - limit);
    assert_eq!(f.error_kind_count(first_kind), 1);
    let named: u64 = f
        .error_kinds
        .iter()
        .filter(|k| k.kind != taskscope::OVERFLOW_KIND)
        .map(|k| k.count)
        .sum();
    assert_eq!(named, limit, "one error for each kind that has a place");
    assert_eq!(
        f.error_kinds.iter().map(|k| k.count).sum::<u64>(),
        n,
        "kinds add up to the errors"
    );
}

/// The resident set of this process, in bytes (Linux), to see what `memory_usage()` does
/// not count: the names a kind table copies.
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn a_million_kinds_from_measure_stay_bounded() {
    if crate::support::alone(module_path!(), "a_million_kinds_from_measure_stay_bounded") {
        return;
    }
    let _only = exclusive();
    let kinds = kinds('m');
    let started = Instant::now();
    for kind in &kinds[..FIRST] {
        assert!(fails_with(kind).is_err());
    }
    let f = taskscope::snapshot()
        .function("fails_with")
        .expect("recorded")
        .clone();
    assert_counts(&f, FIRST, kinds[0]);
    let after_first = taskscope::memory_usage();

    for kind in &kinds[FIRST..] {
        assert!(fails_with(kind).is_err());
    }
    let after_all = taskscope::memory_usage();
    let snap = taskscope::snapshot();
    let f = snap.function("fails_with").expect("recorded");
    assert_counts(f, KINDS, kinds[0]);
    assert_eq!(
        f.error_kind_count(kinds[LIMIT - 1]),
        1,
        "the last kind kept"
    );
    assert_eq!(
        f.error_kind_count(kinds[LIMIT]),
        0,
        "the first kind refused"
    );
    assert_eq!(
        after_all, after_first,
        "memory after 10^6 kinds is what it was after 10^4"
    );
    // The report lists kinds nowhere near a million times.
    let report = taskscope::report().to_string();
    assert!(report.len() < 4096, "{} bytes of report", report.len());
    eprintln!(
        "{KINDS} errors of distinct kinds through #[measure] in {:?}; memory {after_all} bytes",
        started.elapsed()
    );
}

#[cfg(feature = "layer")]
#[test]
fn a_million_kinds_from_span_fields_stay_bounded() {
    if crate::support::alone(
        module_path!(),
        "a_million_kinds_from_span_fields_stay_bounded",
    ) {
        return;
    }
    use tracing_subscriber::prelude::*;

    let _only = exclusive();
    let subscriber = tracing_subscriber::registry().with(taskscope::layer());
    let mut kind = String::with_capacity(16);
    let mut span_with_new_kind = |i: usize| {
        kind.clear();
        write!(kind, "s{i:07}").unwrap();
        // An `error.kind` field makes the span an error of that kind.
        drop(tracing::info_span!(
            "kinds_from_fields",
            error.kind = kind.as_str()
        ));
    };
    let started = Instant::now();
    let (after_first, rss_first) = tracing::subscriber::with_default(subscriber, || {
        for i in 0..FIRST {
            span_with_new_kind(i);
        }
        let f = taskscope::snapshot()
            .function("kinds_from_fields")
            .expect("the span function")
            .clone();
        assert_counts(&f, FIRST, "s0000000");
        let marks = (taskscope::memory_usage(), resident_bytes());
        for i in FIRST..KINDS {
            span_with_new_kind(i);
        }
        marks
    });
    let after_all = taskscope::memory_usage();
    let rss_all = resident_bytes();
    let snap = taskscope::snapshot();
    let f = snap
        .function("kinds_from_fields")
        .expect("the span function");
    assert_counts(f, KINDS, "s0000000");
    assert_eq!(f.error_kind_count("s0000031"), 1, "the last kind kept");
    assert_eq!(f.error_kind_count("s0000032"), 0, "the first kind refused");
    assert_eq!(
        after_all, after_first,
        "memory after 10^6 span kinds is what it was after 10^4"
    );
    // The layer copies a kind only when it takes a place in the table: a copy per span
    // would be at least 32 MB here (a million allocations of 8 bytes).
    if let (Some(before), Some(after)) = (rss_first, rss_all) {
        let grown = after.saturating_sub(before);
        assert!(
            grown < 8 << 20,
            "the process grew by {grown} bytes over 990,000 new kinds"
        );
    }
    eprintln!(
        "{KINDS} spans with distinct error.kind values through the layer in {:?}; memory {after_all} bytes",
        started.elapsed()
    );
}
