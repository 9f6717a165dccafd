//! taskscope's histograms in the HdrHistogram format the ecosystem reads (cargo feature
//! `hdrhistogram`): conversion both ways with the `hdrhistogram` crate, and HdrHistogram
//! interval logs (the format of the Java `HistogramLogWriter`, read by
//! `HistogramLogProcessor`, HdrHistogram's plotters and the `hdrhistogram` crate).
//!
//! **Precision.** A [`Histogram`] has one bucket per nanosecond below 128 ns, then 64
//! equal buckets per power of two. An HdrHistogram with 2 significant digits has one per
//! nanosecond below 256 ns, then 128 per power of two: every taskscope bucket is exactly one
//! or two of its buckets, so nothing is lost going there. Each taskscope bucket's count is
//! recorded at the bucket's lowest value; coming back, each HdrHistogram bucket is counted
//! in the taskscope bucket holding its lowest value. Round trips keep every bucket's count;
//! HdrHistogram keeps no sum and no exact extremes, so the sum comes back as the count times
//! the HdrHistogram mean, and the minimum and maximum as the bounds of their buckets. An
//! HdrHistogram of more significant digits converts too, each of its buckets into the
//! coarser taskscope bucket that holds it.

use std::io::Write;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::record::histogram::Histogram;
use crate::record::histogram::bucket_index;
use crate::record::snapshot::Snapshot;

/// The significant digits of the HdrHistograms made from taskscope's: the fewest that hold
/// its 64 buckets per power of two.
pub const SIGNIFICANT_DIGITS: u8 = 2;

impl From<&Histogram> for hdrhistogram::Histogram<u64> {
    /// The same counts in an HdrHistogram of [`SIGNIFICANT_DIGITS`] (auto-resizing).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut h = taskscope::Histogram::new();
    /// for us in [120, 250, 250, 4_000] {
    ///     h.record(Duration::from_micros(us));
    /// }
    /// let hdr = hdrhistogram::Histogram::<u64>::from(&h);
    /// assert_eq!(hdr.len(), 4);
    /// assert_eq!(taskscope::Histogram::from(&hdr).bucket_counts(), h.bucket_counts());
    /// ```
    fn from(h: &Histogram) -> Self {
        let mut out = hdrhistogram::Histogram::<u64>::new(SIGNIFICANT_DIGITS)
            .expect("2 significant digits is a valid HdrHistogram precision");
        for (low, _, count) in h.buckets() {
            // Auto-resizing: a value of up to u64::MAX / 2 is always recordable.
            let _ = out.record_n(low, count);
        }
        out
    }
}

impl From<&hdrhistogram::Histogram<u64>> for Histogram {
    /// The counts of an HdrHistogram of values in nanoseconds, each of its buckets in the
    /// taskscope bucket that holds its lowest value.
    fn from(h: &hdrhistogram::Histogram<u64>) -> Self {
        let mut out = Histogram::new();
        for v in h.iter_recorded() {
            let low = h.lowest_equivalent(v.value_iterated_to());
            out.add_to_bucket(bucket_index(low), v.count_at_value());
        }
        if !out.is_empty() {
            out.sum = (h.mean() * h.len() as f64).round() as u64;
            out.min = h.min();
            out.max = h.max();
        }
        out
    }
}

/// Why an interval log could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntervalLogError {
    /// Writing failed.
    #[error("writing the HdrHistogram interval log: {0}")]
    Io(#[from] std::io::Error),
    /// A histogram could not be serialized.
    #[error("serializing a histogram for the interval log: {0}")]
    Serialize(String),
}

/// A tag as the interval log allows it: no comma, space or line break.
fn tag(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, ',' | ' ' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// One interval of histograms, each under a tag.
pub(crate) struct Interval<'a> {
    /// The interval's start and length, as time since the log's base time.
    pub(crate) start: Duration,
    pub(crate) length: Duration,
    pub(crate) histograms: Vec<(String, hdrhistogram::Histogram<u64>)>,
    pub(crate) comment: &'a str,
}

/// Writes one interval as an HdrHistogram interval log whose base and start time are
/// `base` (V2 compressed histograms, values in nanoseconds, maxima in milliseconds).
pub(crate) fn write_interval(
    interval: &Interval<'_>,
    base: SystemTime,
    mut out: &mut dyn Write,
) -> Result<(), IntervalLogError> {
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(interval.comment)
        .add_comment("values in nanoseconds; Interval_Max in milliseconds")
        .with_start_time(base)
        .with_base_time(base)
        .with_max_value_divisor(1e6)
        .begin_log_with(&mut out, &mut serializer)?;
    for (name, h) in &interval.histograms {
        let name = tag(name);
        log.write_histogram(h, interval.start, interval.length, Tag::new(&name))
            .map_err(|e| match e {
                hdrhistogram::serialization::interval_log::IntervalLogWriterError::IoError(e) => {
                    IntervalLogError::Io(e)
                }
                hdrhistogram::serialization::interval_log::IntervalLogWriterError::SerializeError(e) => {
                    IntervalLogError::Serialize(format!("{e:?}"))
                }
            })?;
    }
    Ok(())
}

/// Writes the wall time per call of every function of `snap` as an HdrHistogram interval
/// log: one interval (the snapshot's window), one histogram per function tagged with its
/// `code.function.name`, all outcomes together. The log's base time is the recorder's
/// start, so a delta snapshot's interval starts where its window does. Keep only the
/// functions wanted in `snap.functions` to write fewer.
///
/// ```
/// #[taskscope::measure]
/// fn parse(s: &str) -> usize {
///     s.len()
/// }
///
/// parse("twelve");
/// let mut snap = taskscope::snapshot();
/// snap.functions.retain(|f| f.name == "parse");
/// let mut log = Vec::new();
/// taskscope::hdr::write_interval_log(&snap, &mut log).unwrap();
///
/// use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
/// let tags: Vec<String> = IntervalLogIterator::new(&log)
///     .filter_map(|e| match e {
///         Ok(LogEntry::Interval(h)) => h.tag().map(|t| t.as_str().to_owned()),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(tags.len(), 1);
/// assert!(tags[0].ends_with("::parse"));
/// ```
pub fn write_interval_log(snap: &Snapshot, out: &mut impl Write) -> Result<(), IntervalLogError> {
    let now = SystemTime::now();
    let base = now.checked_sub(crate::clock::since_start()).unwrap_or(now);
    let interval = Interval {
        start: snap.taken_at.saturating_sub(snap.window),
        length: snap.window,
        histograms: snap
            .functions
            .iter()
            .map(|f| {
                (
                    crate::words::names::qualified(f.module, f.name),
                    hdrhistogram::Histogram::<u64>::from(&f.wall()),
                )
            })
            .collect(),
        comment: concat!(
            "taskscope ",
            env!("CARGO_PKG_VERSION"),
            ": wall time per call, one histogram per function (tag: code.function.name)"
        ),
    };
    write_interval(&interval, base, out)
}
