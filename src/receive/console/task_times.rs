//! The console's per-task poll-time and scheduled-time histograms (HdrHistogram V2 bytes in
//! `console-api`'s `TaskDetails`), decoded into taskscope's own sparse [`Histogram`]s so
//! that the tasks of one name merge cheaply and a task costs bytes, not the 23 KiB of a
//! dense HdrHistogram.

use console_api::tasks::DurationHistogram;
use console_api::tasks::task_details::PollTimesHistogram;
use hdrhistogram::serialization::Deserializer;

use crate::frame::TaskTimes;
use crate::record::histogram::Histogram;
use crate::record::histogram::bucket_index;

/// One task's poll times and scheduled times, or the sum of several tasks'.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TaskLatency {
    pub(crate) poll: Histogram,
    pub(crate) scheduled: Histogram,
}

impl TaskLatency {
    /// Reads one `TaskDetails` message; `None` when it carries no histogram that decodes.
    pub(crate) fn decode(details: &console_api::tasks::TaskDetails) -> Option<TaskLatency> {
        let mut de = Deserializer::new();
        let poll = match details.poll_times_histogram.as_ref()? {
            PollTimesHistogram::Histogram(h) => duration_histogram(&mut de, h)?,
            PollTimesHistogram::LegacyHistogram(bytes) => hdr_bytes(&mut de, bytes)?,
        };
        let scheduled = match &details.scheduled_times_histogram {
            Some(h) => duration_histogram(&mut de, h)?,
            None => Histogram::new(),
        };
        Some(TaskLatency { poll, scheduled })
    }

    /// Adds another task's (or tasks') times.
    pub(crate) fn merge(&mut self, other: &TaskLatency) {
        self.poll.merge(&other.poll);
        self.scheduled.merge(&other.scheduled);
    }

    /// The percentiles the view shows: poll times, then scheduled times.
    pub(crate) fn times(&self) -> (Option<TaskTimes>, Option<TaskTimes>) {
        (times(&self.poll), times(&self.scheduled))
    }
}

fn times(h: &Histogram) -> Option<TaskTimes> {
    (!h.is_empty()).then(|| TaskTimes {
        p50: h.p50(),
        p99: h.p99(),
        max: h.max(),
    })
}

/// An HdrHistogram V2 (plain or deflated) of nanoseconds, in taskscope's buckets.
fn hdr_bytes(de: &mut Deserializer, mut bytes: &[u8]) -> Option<Histogram> {
    let h: hdrhistogram::Histogram<u64> = de.deserialize(&mut bytes).ok()?;
    Some(Histogram::from(&h))
}

/// The console's histogram with its outliers: the polls longer than its histogram holds
/// count at the longest of them, the one value it keeps of theirs.
fn duration_histogram(de: &mut Deserializer, d: &DurationHistogram) -> Option<Histogram> {
    let mut h = hdr_bytes(de, &d.raw_histogram)?;
    if d.high_outliers > 0 {
        let at = d.highest_outlier.unwrap_or(d.max_value).max(1);
        let mut outliers = Histogram::new();
        outliers.add_to_bucket(bucket_index(at), d.high_outliers);
        outliers.sum = at.saturating_mul(d.high_outliers);
        outliers.min = at;
        outliers.max = at;
        h.merge(&outliers);
    }
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer, V2Serializer};

    fn v2(values: &[u64], max: u64) -> Vec<u8> {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_max(max, 2).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        let mut out = Vec::new();
        V2Serializer::new().serialize(&h, &mut out).unwrap();
        out
    }

    fn details(poll: PollTimesHistogram, scheduled: &[u64]) -> console_api::tasks::TaskDetails {
        console_api::tasks::TaskDetails {
            task_id: None,
            now: None,
            poll_times_histogram: Some(poll),
            scheduled_times_histogram: Some(DurationHistogram {
                raw_histogram: v2(scheduled, 1_000_000_000),
                max_value: 1_000_000_000,
                high_outliers: 0,
                highest_outlier: None,
            }),
        }
    }

    #[test]
    fn the_consoles_histograms_decode_with_their_outliers() {
        let polls: Vec<u64> = (1..=98).map(|i| i * 10_000).collect(); // 10 µs .. 980 µs
        let d = details(
            PollTimesHistogram::Histogram(DurationHistogram {
                raw_histogram: v2(&polls, 1_000_000),
                max_value: 1_000_000,
                high_outliers: 2,
                highest_outlier: Some(40_000_000),
            }),
            &[5_000, 5_000, 7_000],
        );
        let t = TaskLatency::decode(&d).unwrap();
        assert_eq!(t.poll.count(), 100);
        assert_eq!(t.scheduled.count(), 3);
        let (poll, sched) = t.times();
        let (poll, sched) = (poll.unwrap(), sched.unwrap());
        let near = |a: std::time::Duration, ns: u64| {
            (a.as_nanos() as f64 - ns as f64).abs() / ns as f64 <= 0.016
        };
        assert!(near(poll.p50, 500_000), "{poll:?}");
        // The two outliers are the top 2 %: p99 and the max are the longest outlier.
        assert!(near(poll.p99, 40_000_000), "{poll:?}");
        assert!(near(poll.max, 40_000_000), "{poll:?}");
        assert!(
            near(sched.p50, 5_000) && near(sched.max, 7_000),
            "{sched:?}"
        );
    }

    #[test]
    fn legacy_bytes_decode_and_garbage_does_not() {
        let d = details(
            PollTimesHistogram::LegacyHistogram(v2(&[1_000, 2_000], 1 << 30)),
            &[],
        );
        let t = TaskLatency::decode(&d).unwrap();
        assert_eq!(t.poll.count(), 2);
        assert!(t.times().1.is_none(), "no scheduled times");
        let bad = details(
            PollTimesHistogram::LegacyHistogram(vec![1, 2, 3, 4, 5]),
            &[],
        );
        assert!(TaskLatency::decode(&bad).is_none());
    }

    #[test]
    fn tasks_of_one_name_merge() {
        let one = |v: &[u64]| {
            TaskLatency::decode(&details(
                PollTimesHistogram::LegacyHistogram(v2(v, 1 << 30)),
                v,
            ))
            .unwrap()
        };
        let mut all = one(&[1_000; 99]);
        all.merge(&one(&[9_000_000]));
        assert_eq!(all.poll.count(), 100);
        assert_eq!(all.scheduled.count(), 100);
        let (poll, _) = all.times();
        assert!(poll.unwrap().max >= std::time::Duration::from_micros(8_900));
    }
}
