//! What exporters report about themselves: exports made, attempts that failed, and data
//! dropped. Read with the snapshot, so a loss is never silent.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

static EXPORTS: AtomicU64 = AtomicU64::new(0);
static FAILED_ATTEMPTS: AtomicU64 = AtomicU64::new(0);
static DROPPED_BATCHES: AtomicU64 = AtomicU64::new(0);
static DROPPED_POINTS: AtomicU64 = AtomicU64::new(0);
static DROPPED_SPANS: AtomicU64 = AtomicU64::new(0);
static REFUSED_POINTS: AtomicU64 = AtomicU64::new(0);

fn dropped_spans() -> u64 {
    #[cfg(feature = "otlp")]
    let unsampled = crate::record::samples::dropped();
    #[cfg(not(feature = "otlp"))]
    let unsampled = 0;
    DROPPED_SPANS.load(Ordering::Relaxed) + unsampled
}
static LAST_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// The message of the last failed export attempt, if any attempt failed: what to fix
/// (a collector not listening, a refused header, a timeout).
///
/// ```
/// // Nothing failed in this process.
/// assert_eq!(taskscope::last_export_error(), None);
/// ```
pub fn last_export_error() -> Option<String> {
    LAST_ERROR.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Counters of the exporters in this process, since start. Plain data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Batches the collector accepted.
    pub exports: u64,
    /// Attempts that failed (each is retried until the batch is dropped).
    pub failed_attempts: u64,
    /// Batches given up on: retries exhausted, or pushed out of a full queue. With
    /// cumulative temporality a later batch carries the same totals, so a dropped batch
    /// loses no count once the collector is back; with delta temporality its counts are
    /// lost.
    pub dropped_batches: u64,
    /// Data points in the dropped batches.
    pub dropped_points: u64,
    /// Sampled calls (spans) that were not exported: dropped with their batch, or not kept
    /// because the buffer between two exports was full.
    pub dropped_spans: u64,
    /// Data points (or spans) the collector accepted the request of but refused itself,
    /// saying so in a partial success (over its limits, say); its message is
    /// [`last_export_error`].
    pub refused_points: u64,
}

impl ExportStats {
    /// Reads the counters.
    pub(crate) fn read() -> Self {
        Self {
            exports: EXPORTS.load(Ordering::Relaxed),
            failed_attempts: FAILED_ATTEMPTS.load(Ordering::Relaxed),
            dropped_batches: DROPPED_BATCHES.load(Ordering::Relaxed),
            dropped_points: DROPPED_POINTS.load(Ordering::Relaxed),
            dropped_spans: dropped_spans(),
            refused_points: REFUSED_POINTS.load(Ordering::Relaxed),
        }
    }
}

#[cfg(feature = "otlp")]
pub(crate) fn count_export() {
    EXPORTS.fetch_add(1, Ordering::Relaxed);
}

#[cfg(feature = "otlp")]
pub(crate) fn count_failed_attempt(message: String) {
    FAILED_ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    keep_error(message);
}

/// Counts points a collector refused in a partial success.
#[cfg(feature = "otlp")]
pub(crate) fn count_refused(points: u64, message: String) {
    REFUSED_POINTS.fetch_add(points, Ordering::Relaxed);
    keep_error(format!("the collector refused {points} points: {message}"));
}

/// Keeps the message as the last error, and prints it on stderr the first time it is seen
/// (once per reason: a collector that stays down is reported once, not every attempt).
#[cfg(feature = "otlp")]
fn keep_error(message: String) {
    static REPORTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // The reason without the parts that change from attempt to attempt (ports, counts).
    let reason: String = message.chars().filter(|c| !c.is_ascii_digit()).collect();
    let mut reported = REPORTED.lock().unwrap_or_else(|e| e.into_inner());
    if !reported.contains(&reason) && reported.len() < 64 {
        reported.push(reason);
        eprintln!(
            "taskscope: OTLP export failed: {message} (retried with backoff, then dropped; ExportStats counts it)"
        );
    }
    drop(reported);
    *LAST_ERROR.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
}

#[cfg(feature = "otlp")]
pub(crate) fn count_dropped(points: u64) {
    DROPPED_BATCHES.fetch_add(1, Ordering::Relaxed);
    DROPPED_POINTS.fetch_add(points, Ordering::Relaxed);
}

#[cfg(feature = "otlp")]
pub(crate) fn count_dropped_spans(spans: u64) {
    DROPPED_SPANS.fetch_add(spans, Ordering::Relaxed);
}
