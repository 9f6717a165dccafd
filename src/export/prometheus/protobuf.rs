//! The Prometheus protobuf exposition (`io.prometheus.client.MetricFamily`, length-delimited):
//! the format Prometheus asks for when it scrapes native histograms. Each duration is a
//! native histogram at the recorder's resolution (schema 6: 64 buckets per power of two,
//! each recorder bucket counted where its midpoint lies), with the classic buckets beside
//! it (Prometheus keeps those only when told to, and reads exemplars from them) and the
//! latest sampled call as an exemplar.
//!
//! Written straight to bytes with `prost`'s wire helpers, the way the OTLP exporter writes
//! its requests: building `prost` messages first took four times as long (a `String` per
//! label of every point; see BENCHMARKS.md). The tests decode the bytes with `prost`
//! messages written from `io/prometheus/client/metrics.proto`.

use prost::encoding::{WireType, encoded_len_varint};

use super::exposition::{self, Exemplar, HistogramPoint, Kind, Sink};
use crate::export::exponential;
use crate::export::stats::ExportStats;
use crate::record::snapshot::Snapshot;

/// The schema of the native histograms: the recorder's own resolution.
pub(crate) const NATIVE_SCHEMA: i32 = exponential::MAX_SCALE;

/// Values at or below this are counted in the zero bucket (client_golang's default: the
/// recorder's zero is 0 ns, and its smallest other value, 1 ns, is far above it). Being
/// above zero is also what marks a histogram as native for Prometheus.
const ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;

/// Gaps of up to this many empty buckets are sent as zero deltas rather than a new span
/// (as client_golang does: a delta is a byte, a span four).
const MAX_GAP: i32 = 2;

/// Field numbers of `metrics.proto`.
mod field {
    pub(super) const FAMILY_NAME: u32 = 1;
    pub(super) const FAMILY_HELP: u32 = 2;
    pub(super) const FAMILY_TYPE: u32 = 3;
    pub(super) const FAMILY_METRIC: u32 = 4;
    pub(super) const FAMILY_UNIT: u32 = 5;
    pub(super) const METRIC_LABEL: u32 = 1;
    pub(super) const METRIC_GAUGE: u32 = 2;
    pub(super) const METRIC_COUNTER: u32 = 3;
    pub(super) const METRIC_HISTOGRAM: u32 = 7;
    pub(super) const LABEL_NAME: u32 = 1;
    pub(super) const LABEL_VALUE: u32 = 2;
    /// `Gauge.value` and `Counter.value`.
    pub(super) const VALUE: u32 = 1;
    pub(super) const SAMPLE_COUNT: u32 = 1;
    pub(super) const SAMPLE_SUM: u32 = 2;
    pub(super) const BUCKET: u32 = 3;
    pub(super) const SCHEMA: u32 = 5;
    pub(super) const ZERO_THRESHOLD: u32 = 6;
    pub(super) const ZERO_COUNT: u32 = 7;
    pub(super) const POSITIVE_SPAN: u32 = 12;
    pub(super) const POSITIVE_DELTA: u32 = 13;
    pub(super) const EXEMPLARS: u32 = 16;
    pub(super) const BUCKET_CUMULATIVE_COUNT: u32 = 1;
    pub(super) const BUCKET_UPPER_BOUND: u32 = 2;
    pub(super) const BUCKET_EXEMPLAR: u32 = 3;
    pub(super) const SPAN_OFFSET: u32 = 1;
    pub(super) const SPAN_LENGTH: u32 = 2;
    pub(super) const EXEMPLAR_LABEL: u32 = 1;
    pub(super) const EXEMPLAR_VALUE: u32 = 2;
    pub(super) const EXEMPLAR_TIMESTAMP: u32 = 3;
    pub(super) const TIMESTAMP_SECONDS: u32 = 1;
    pub(super) const TIMESTAMP_NANOS: u32 = 2;
}

/// `MetricType` of `metrics.proto`.
const COUNTER: u64 = 0;
const GAUGE: u64 = 1;
const HISTOGRAM: u64 = 4;

/// A varint, straight into the `Vec` (prost's writes through `BufMut` a byte at a time, a
/// sixth of the scrape).
#[inline]
fn encode_varint(mut value: u64, buf: &mut Vec<u8>) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

#[inline]
fn encode_key(tag: u32, wire_type: WireType, buf: &mut Vec<u8>) {
    encode_varint(u64::from(tag << 3 | wire_type as u32), buf);
}

fn bytes(tag: u32, value: &[u8], buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(value.len() as u64, buf);
    buf.extend_from_slice(value);
}

fn double(tag: u32, value: f64, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&value.to_le_bytes());
}

fn varint(tag: u32, value: u64, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::Varint, buf);
    encode_varint(value, buf);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The length of a string field with a one-byte key.
fn string_len(s: &str) -> usize {
    1 + encoded_len_varint(s.len() as u64) + s.len()
}

/// A `LabelPair`'s length.
fn label_len((name, value): &(&str, &str)) -> usize {
    string_len(name) + string_len(value)
}

/// The length of `pairs` as `LabelPair` fields with a one-byte key.
fn labels_len(pairs: &[(&str, &str)]) -> usize {
    pairs
        .iter()
        .map(|p| {
            let len = label_len(p);
            1 + encoded_len_varint(len as u64) + len
        })
        .sum()
}

/// `LabelPair`s, field `tag` of the enclosing message.
fn labels(tag: u32, pairs: &[(&str, &str)], buf: &mut Vec<u8>) {
    for pair in pairs {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(label_len(pair) as u64, buf);
        bytes(field::LABEL_NAME, pair.0.as_bytes(), buf);
        bytes(field::LABEL_VALUE, pair.1.as_bytes(), buf);
    }
}

/// An `Exemplar` message's content: the call's trace and span, its duration and end.
fn exemplar(e: &Exemplar, buf: &mut Vec<u8>) {
    let (trace, span) = (
        format!("{:032x}", e.trace_id),
        format!("{:016x}", e.span_id),
    );
    labels(
        field::EXEMPLAR_LABEL,
        &[("trace_id", &trace), ("span_id", &span)],
        buf,
    );
    double(field::EXEMPLAR_VALUE, e.value, buf);
    let mut ts = Vec::with_capacity(16);
    varint(
        field::TIMESTAMP_SECONDS,
        e.timestamp.floor() as i64 as u64,
        &mut ts,
    );
    varint(
        field::TIMESTAMP_NANOS,
        (e.timestamp.fract() * 1e9) as i64 as u64,
        &mut ts,
    );
    bytes(field::EXEMPLAR_TIMESTAMP, &ts, buf);
}

/// The protobuf format as a [`Sink`]: a family's metrics are gathered, then written with
/// its head when the next family starts.
struct Protobuf {
    out: Vec<u8>,
    /// The current family's name, help, type and unit.
    head: Vec<u8>,
    /// The current family's metrics.
    body: Vec<u8>,
    schema: i32,
    /// Scratch: one histogram, one exemplar, the exponential counts, spans and deltas.
    histogram: Vec<u8>,
    example: Vec<u8>,
    dense: Vec<u64>,
    spans: Vec<(i32, u32)>,
    deltas: Vec<u64>,
}

impl Protobuf {
    fn new(schema: i32, capacity: usize) -> Self {
        Protobuf {
            out: Vec::with_capacity(capacity),
            head: Vec::new(),
            body: Vec::with_capacity(capacity / 4),
            schema,
            histogram: Vec::new(),
            example: Vec::new(),
            dense: Vec::new(),
            spans: Vec::new(),
            deltas: Vec::new(),
        }
    }

    fn flush(&mut self) {
        if self.head.is_empty() {
            return;
        }
        encode_varint((self.head.len() + self.body.len()) as u64, &mut self.out);
        self.out.extend_from_slice(&self.head);
        self.out.extend_from_slice(&self.body);
        self.head.clear();
        self.body.clear();
    }

    /// Appends a metric with `labels` and one value message in field `tag`.
    fn value(&mut self, labels_: &[(&str, &str)], tag: u32, value: f64) {
        let body = &mut self.body;
        encode_key(field::FAMILY_METRIC, WireType::LengthDelimited, body);
        encode_varint((labels_len(labels_) + 2 + 9) as u64, body);
        labels(field::METRIC_LABEL, labels_, body);
        encode_key(tag, WireType::LengthDelimited, body);
        encode_varint(9, body);
        double(field::VALUE, value, body);
    }

    /// The native histogram's fields: schema, zero bucket, spans and deltas.
    fn native(&mut self, point: &HistogramPoint<'_>) {
        let (schema, zero, offset) =
            exponential::exponential_into(point.histogram, self.schema, i64::MAX, &mut self.dense);
        let buf = &mut self.histogram;
        varint(field::SCHEMA, zigzag(i64::from(schema)), buf);
        double(field::ZERO_THRESHOLD, ZERO_THRESHOLD, buf);
        varint(field::ZERO_COUNT, zero, buf);
        // OTLP's bucket `i` is `(base^i, base^(i+1)]`; Prometheus calls that bucket `i + 1`.
        let first = offset + 1;
        let (spans, deltas) = (&mut self.spans, &mut self.deltas);
        spans.clear();
        deltas.clear();
        let mut previous = 0i64;
        let mut end: Option<i32> = None;
        for (i, &count) in self.dense.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let index = first + i as i32;
            match end {
                Some(e) if index - e <= MAX_GAP => {
                    for _ in e..index {
                        deltas.push(zigzag(-previous));
                        previous = 0;
                    }
                    if let Some(span) = spans.last_mut() {
                        span.1 += (index - e) as u32 + 1;
                    }
                }
                Some(e) => spans.push((index - e, 1)),
                None => spans.push((index, 1)),
            }
            let count = count as i64;
            deltas.push(zigzag(count - previous));
            previous = count;
            end = Some(index + 1);
        }
        for &(offset, length) in spans.iter() {
            let offset = zigzag(i64::from(offset));
            let len = 2 + encoded_len_varint(offset) + encoded_len_varint(u64::from(length));
            encode_key(field::POSITIVE_SPAN, WireType::LengthDelimited, buf);
            encode_varint(len as u64, buf);
            varint(field::SPAN_OFFSET, offset, buf);
            varint(field::SPAN_LENGTH, u64::from(length), buf);
        }
        if !deltas.is_empty() {
            let len: usize = deltas.iter().map(|&d| encoded_len_varint(d)).sum();
            encode_key(field::POSITIVE_DELTA, WireType::LengthDelimited, buf);
            encode_varint(len as u64, buf);
            for &d in deltas.iter() {
                encode_varint(d, buf);
            }
        }
    }
}

impl Sink for Protobuf {
    fn family(&mut self, stem: &str, kind: Kind, help: &str, unit: Option<&str>) {
        self.flush();
        let (suffix, r#type) = match kind {
            Kind::Counter => ("_total", COUNTER),
            Kind::Gauge => ("", GAUGE),
            Kind::Histogram => ("", HISTOGRAM),
        };
        let name = [stem.as_bytes(), suffix.as_bytes()].concat();
        bytes(field::FAMILY_NAME, &name, &mut self.head);
        bytes(field::FAMILY_HELP, help.as_bytes(), &mut self.head);
        varint(field::FAMILY_TYPE, r#type, &mut self.head);
        if let Some(unit) = unit {
            bytes(field::FAMILY_UNIT, unit.as_bytes(), &mut self.head);
        }
    }

    fn counter(&mut self, _stem: &str, labels: &[(&str, &str)], value: u64) {
        self.value(labels, field::METRIC_COUNTER, value as f64);
    }

    fn counter_seconds(&mut self, _stem: &str, labels: &[(&str, &str)], value: f64) {
        self.value(labels, field::METRIC_COUNTER, value);
    }

    fn gauge(&mut self, _name: &str, labels: &[(&str, &str)], value: f64) {
        self.value(labels, field::METRIC_GAUGE, value);
    }

    fn histogram(&mut self, _name: &str, labels_: &[(&str, &str)], point: &HistogramPoint<'_>) {
        let h = point.histogram;
        self.example.clear();
        if let Some((e, _)) = point.exemplar {
            exemplar(e, &mut self.example);
        }
        self.histogram.clear();
        let buf = &mut self.histogram;
        varint(field::SAMPLE_COUNT, h.count(), buf);
        double(field::SAMPLE_SUM, h.sum as f64 / 1e9, buf);
        // Classic buckets, cumulative, without `+Inf` (that is the sample count).
        let mut cumulative = 0;
        for (i, (&count, &bound)) in point.classic.iter().zip(point.bounds).enumerate() {
            cumulative += count;
            let example = point
                .exemplar
                .filter(|&(_, bucket)| bucket == i)
                .map(|_| &self.example[..]);
            let mut len = 1 + encoded_len_varint(cumulative) + 9;
            if let Some(e) = example {
                len += 1 + encoded_len_varint(e.len() as u64) + e.len();
            }
            encode_key(field::BUCKET, WireType::LengthDelimited, buf);
            encode_varint(len as u64, buf);
            varint(field::BUCKET_CUMULATIVE_COUNT, cumulative, buf);
            double(field::BUCKET_UPPER_BOUND, bound, buf);
            if let Some(e) = example {
                bytes(field::BUCKET_EXEMPLAR, e, buf);
            }
        }
        // The native histogram's exemplars (Prometheus 2.49 and later read them here).
        if point.exemplar.is_some() {
            bytes(field::EXEMPLARS, &self.example, buf);
        }
        self.native(point);
        // The metric straight into the family: its length is known from its parts.
        let histogram = self.histogram.len();
        let len = labels_len(labels_) + 1 + encoded_len_varint(histogram as u64) + histogram;
        let body = &mut self.body;
        encode_key(field::FAMILY_METRIC, WireType::LengthDelimited, body);
        encode_varint(len as u64, body);
        labels(field::METRIC_LABEL, labels_, body);
        bytes(field::METRIC_HISTOGRAM, &self.histogram, body);
    }
}

/// The whole exposition as length-delimited `MetricFamily` messages, native histograms at
/// `schema`.
pub(crate) fn render(
    snap: &Snapshot,
    exports: ExportStats,
    schema: i32,
    bounds: &[f64],
    exemplars: &[Exemplar],
) -> Vec<u8> {
    let mut sink = Protobuf::new(schema, 256 + snap.functions.len() * 3072);
    exposition::write(snap, exports, bounds, exemplars, &mut sink);
    sink.flush();
    sink.out
}

#[cfg(test)]
mod tests {
    //! The bytes decoded with `prost` messages written from `metrics.proto`: an encoder
    //! nobody on the wire wrote, checked against one written from the specification.

    use super::*;
    use crate::record::histogram::Histogram;
    use crate::words::outcome::Outcome;
    use prost::Message;
    use std::time::Duration;

    #[derive(Clone, PartialEq, Message)]
    struct LabelPair {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(string, tag = "2")]
        value: String,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Value {
        #[prost(double, tag = "1")]
        value: f64,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Timestamp {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }
    #[derive(Clone, PartialEq, Message)]
    struct ExemplarMessage {
        #[prost(message, repeated, tag = "1")]
        label: Vec<LabelPair>,
        #[prost(double, tag = "2")]
        value: f64,
        #[prost(message, optional, tag = "3")]
        timestamp: Option<Timestamp>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Bucket {
        #[prost(uint64, tag = "1")]
        cumulative_count: u64,
        #[prost(double, tag = "2")]
        upper_bound: f64,
        #[prost(message, optional, tag = "3")]
        exemplar: Option<ExemplarMessage>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct BucketSpan {
        #[prost(sint32, tag = "1")]
        offset: i32,
        #[prost(uint32, tag = "2")]
        length: u32,
    }
    #[derive(Clone, PartialEq, Message)]
    struct HistogramMessage {
        #[prost(uint64, tag = "1")]
        sample_count: u64,
        #[prost(double, tag = "2")]
        sample_sum: f64,
        #[prost(message, repeated, tag = "3")]
        bucket: Vec<Bucket>,
        #[prost(sint32, tag = "5")]
        schema: i32,
        #[prost(double, tag = "6")]
        zero_threshold: f64,
        #[prost(uint64, tag = "7")]
        zero_count: u64,
        #[prost(message, repeated, tag = "12")]
        positive_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "13")]
        positive_delta: Vec<i64>,
        #[prost(message, repeated, tag = "16")]
        exemplars: Vec<ExemplarMessage>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct Metric {
        #[prost(message, repeated, tag = "1")]
        label: Vec<LabelPair>,
        #[prost(message, optional, tag = "2")]
        gauge: Option<Value>,
        #[prost(message, optional, tag = "3")]
        counter: Option<Value>,
        #[prost(message, optional, tag = "7")]
        histogram: Option<HistogramMessage>,
    }
    #[derive(Clone, PartialEq, Message)]
    struct MetricFamily {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(string, tag = "2")]
        help: String,
        #[prost(int32, tag = "3")]
        r#type: i32,
        #[prost(message, repeated, tag = "4")]
        metric: Vec<Metric>,
        #[prost(string, tag = "5")]
        unit: String,
    }

    fn decode(mut bytes: &[u8]) -> Vec<MetricFamily> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            out.push(MetricFamily::decode_length_delimited(&mut bytes).unwrap());
        }
        out
    }

    /// The native buckets back as (upper bound, count), from spans and deltas.
    fn native_buckets(h: &HistogramMessage) -> Vec<(f64, u64)> {
        let base = 2f64.powf(2f64.powi(-h.schema));
        let (mut index, mut count, mut deltas) = (0, 0i64, h.positive_delta.iter());
        let mut out = Vec::new();
        for span in &h.positive_span {
            index += span.offset;
            for _ in 0..span.length {
                count += deltas.next().unwrap();
                if count > 0 {
                    out.push((base.powi(index), count as u64));
                }
                index += 1;
            }
        }
        assert!(
            deltas.next().is_none(),
            "a delta for every bucket of the spans"
        );
        out
    }

    /// One histogram point through the sink, decoded.
    fn one(h: &Histogram, exemplar: Option<&Exemplar>) -> HistogramMessage {
        let bounds = [0.001, 0.01];
        let mut classic = Vec::new();
        crate::export::explicit_counts(h, &bounds, &mut classic);
        let mut sink = Protobuf::new(NATIVE_SCHEMA, 0);
        sink.family("latency", Kind::Histogram, "help", Some("seconds"));
        let point = HistogramPoint {
            histogram: h,
            bounds: &bounds,
            classic: &classic,
            exemplar: exemplar.map(|e| (e, bounds.partition_point(|&b| b < e.value))),
        };
        sink.histogram("latency", &[("a", "b")], &point);
        sink.flush();
        let families = decode(&sink.out);
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].metric[0].label[0].name, "a");
        families[0].metric[0].histogram.clone().unwrap()
    }

    #[test]
    fn native_buckets_hold_every_value_within_the_recorders_precision() {
        let values: Vec<u64> = vec![0, 1, 950, 1_000, 1_020, 1_500_000, 1_510_000, 7_000_000_000];
        let mut h = Histogram::new();
        for &v in &values {
            h.record(Duration::from_nanos(v));
        }
        let m = one(&h, None);
        assert_eq!(m.schema, 6);
        assert_eq!(m.sample_count, values.len() as u64);
        assert_eq!(m.zero_count, 1);
        assert!(m.zero_threshold > 0.0, "marks the histogram native");
        let got = native_buckets(&m);
        assert_eq!(
            got.iter().map(|b| b.1).sum::<u64>() + 1,
            values.len() as u64
        );
        let ratio = 2f64.powf(1.0 / 64.0);
        for &v in &values[1..] {
            let secs = v as f64 / 1e9;
            // Within a bucket's width and the recorder's half bucket of its own.
            assert!(
                got.iter()
                    .any(|&(upper, _)| secs <= upper * 1.008 && secs > upper / ratio / 1.008),
                "{secs} in none of {got:?}"
            );
        }
        // Close buckets share a span (gaps of up to two as zero deltas), far ones do not.
        assert_eq!(m.positive_span.len(), 5, "{:?}", m.positive_span);
        // The classic buckets beside: cumulative, no +Inf.
        let classic: Vec<(f64, u64)> = m
            .bucket
            .iter()
            .map(|b| (b.upper_bound, b.cumulative_count))
            .collect();
        assert_eq!(classic, [(0.001, 5), (0.01, 7)]);
    }

    #[test]
    fn an_empty_histogram_is_still_native() {
        let m = one(&Histogram::new(), None);
        assert!(m.positive_span.is_empty() && m.zero_count == 0);
        assert!(m.zero_threshold > 0.0);
    }

    #[test]
    fn the_exemplar_is_on_its_classic_bucket_and_the_native_histogram() {
        let mut h = Histogram::new();
        h.record(Duration::from_micros(300));
        let e = Exemplar {
            module: "m",
            function: "f",
            outcome: Outcome::Ok,
            trace_id: 0xabc,
            span_id: 0xdef,
            value: 0.0003,
            timestamp: 1_700_000_000.25,
        };
        let m = one(&h, Some(&e));
        assert!(m.bucket[1].exemplar.is_none());
        let on_bucket = m.bucket[0].exemplar.clone().expect("on the 1 ms bucket");
        assert_eq!(m.exemplars, std::slice::from_ref(&on_bucket));
        assert_eq!(on_bucket.label[0].name, "trace_id");
        assert_eq!(on_bucket.label[0].value, format!("{:032x}", 0xabc));
        assert_eq!(on_bucket.label[1].value, format!("{:016x}", 0xdef));
        assert_eq!(on_bucket.value, 0.0003);
        let ts = on_bucket.timestamp.unwrap();
        assert_eq!((ts.seconds, ts.nanos), (1_700_000_000, 250_000_000));
    }

    #[test]
    fn families_are_length_delimited_with_counters_named_total() {
        let bytes = render(&Snapshot::default(), ExportStats::default(), 6, &[0.1], &[]);
        let families = decode(&bytes);
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "target_info",
                "function_calls_total",
                "function_calls_duration_seconds",
                "function_calls_busy_seconds",
                "function_calls_polls_total",
                "function_calls_slow_polls_total",
                "function_calls_concurrent",
                "taskscope_export_dropped_total",
            ]
        );
        assert_eq!(families[0].r#type, GAUGE as i32);
        assert_eq!(families[0].metric[0].gauge, Some(Value { value: 1.0 }));
        assert_eq!(families[2].r#type, HISTOGRAM as i32);
        assert_eq!(families[2].unit, "seconds");
        assert_eq!(families[7].r#type, COUNTER as i32);
        assert_eq!(families[7].metric[0].counter, Some(Value { value: 0.0 }));
    }
}
