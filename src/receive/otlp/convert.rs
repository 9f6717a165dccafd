//! From OTLP data points to the dashboard's types: attribute lookups, stream fingerprints,
//! units, distributions in seconds and the names of generic series.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::metrics::v1::{ExponentialHistogramDataPoint, HistogramDataPoint};

use crate::frame::{Dist, Explicit, Exponential};

/// The most buckets a stored exponential distribution keeps (twice the OpenTelemetry SDK's
/// default of 160); wider data is merged into coarser buckets.
pub(super) const MAX_EXPONENTIAL_BUCKETS: usize = 320;
/// The most boundaries an explicit histogram point may have.
pub(super) const MAX_EXPLICIT_BOUNDS: usize = 1024;
/// The OTLP range of exponential scales.
const SCALES: std::ops::RangeInclusive<i32> = -10..=20;
/// Bucket indices beyond this (in absolute value) are refused: no latency is that far from
/// one second, and it keeps index arithmetic far from `i32` overflow.
const MAX_INDEX: i64 = 1 << 28;
/// The most values one distribution may count: far beyond any real count, and far enough
/// from `u64::MAX` that adding distributions can never overflow.
const MAX_COUNT: u64 = 1 << 60;
/// The longest error kind kept, in bytes (as the taskscope layer cuts them).
pub(super) const MAX_KIND_LEN: usize = 64;
/// The longest attribute value shown in a generic series' name, in bytes.
const MAX_VALUE_LEN: usize = 128;
/// The longest generic series name, in bytes.
const MAX_NAME_LEN: usize = 512;

/// The string value of attribute `key`, if it has one.
pub(super) fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// The value of attribute `key`, whatever its type.
pub(super) fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// `s` cut to at most `max` bytes, on a character boundary.
pub(super) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// An integer attribute given as an integer or as a decimal string (HTTP status codes).
pub(super) fn int_value(v: &AnyValue) -> Option<i64> {
    match v.value.as_ref()? {
        Value::IntValue(i) => Some(*i),
        Value::StringValue(s) => s.trim().parse().ok(),
        Value::DoubleValue(d) if d.fract() == 0.0 => Some(*d as i64),
        _ => None,
    }
}

/// Writes an attribute value as text (for names and error kinds).
pub(super) fn write_value(out: &mut String, v: Option<&AnyValue>, max: usize) {
    let start = out.len();
    match v.and_then(|v| v.value.as_ref()) {
        None => {}
        Some(Value::StringValue(s)) => out.push_str(cut(s, max)),
        Some(Value::BoolValue(b)) => {
            let _ = write!(out, "{b}");
        }
        Some(Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::DoubleValue(d)) => {
            let _ = write!(out, "{d}");
        }
        Some(Value::ArrayValue(a)) => {
            out.push('[');
            for (i, v) in a.values.iter().enumerate() {
                if out.len() - start >= max {
                    break;
                }
                if i > 0 {
                    out.push(',');
                }
                write_value(out, Some(v), max);
            }
            out.push(']');
        }
        Some(Value::KvlistValue(l)) => {
            out.push('{');
            for (i, kv) in l.values.iter().enumerate() {
                if out.len() - start >= max {
                    break;
                }
                if i > 0 {
                    out.push(',');
                }
                out.push_str(cut(&kv.key, max));
                out.push('=');
                write_value(out, kv.value.as_ref(), max);
            }
            out.push('}');
        }
        Some(Value::BytesValue(b)) => {
            for byte in b.iter().take(max / 2) {
                let _ = write!(out, "{byte:02x}");
            }
        }
        Some(Value::StringValueStrindex(i)) => {
            let _ = write!(out, "#{i}");
        }
    }
    if out.len() - start > max {
        let keep = cut(&out[start..], max).len();
        out.truncate(start + keep);
    }
}

/// The name of a generic series: the metric's name, then its point attributes other than
/// `skip`, sorted by key, in braces: `http.server.request.duration{http.route=/users}`.
pub(super) fn series_name(metric: &str, attrs: &[KeyValue], skip: &[&str]) -> String {
    let mut shown: Vec<&KeyValue> = attrs
        .iter()
        .filter(|kv| !skip.contains(&kv.key.as_str()))
        .collect();
    let mut out = String::with_capacity(metric.len() + 16 * shown.len());
    out.push_str(cut(metric, MAX_NAME_LEN));
    if shown.is_empty() {
        return out;
    }
    shown.sort_by(|a, b| a.key.cmp(&b.key));
    out.push('{');
    for (i, kv) in shown.iter().enumerate() {
        if out.len() >= MAX_NAME_LEN {
            out.push('…');
            break;
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str(cut(&kv.key, MAX_VALUE_LEN));
        out.push('=');
        write_value(&mut out, kv.value.as_ref(), MAX_VALUE_LEN);
    }
    out.push('}');
    out
}

/// The factor from a metric's unit to seconds, for the units of time OpenTelemetry uses;
/// `None` for anything else.
pub(super) fn seconds_per_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" | "μs" => 1e-6,
        "ns" => 1e-9,
        "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    })
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite())
}

/// An exponential histogram point as a [`Dist`] in seconds (values multiplied by `factor`).
/// Only positive buckets are kept. `None` when the point cannot be read (scale or indices
/// out of range).
pub(super) fn exponential(p: &ExponentialHistogramDataPoint, factor: f64) -> Option<Dist> {
    if !SCALES.contains(&p.scale) {
        return None;
    }
    let (mut offset, counts) = match &p.positive {
        Some(b) => {
            let counts = &b.bucket_counts[..];
            // Trim empty buckets at both ends: the range is what costs.
            let first = counts.iter().position(|&c| c > 0).unwrap_or(counts.len());
            let last = counts.iter().rposition(|&c| c > 0).map_or(first, |i| i + 1);
            (i64::from(b.offset) + first as i64, &counts[first..last])
        }
        None => (0, &[][..]),
    };
    if factor != 1.0 {
        // Multiplying every value by `factor` moves each bucket by log2(factor) buckets at
        // scale 0, 2^scale times that at `scale`; the nearest whole shift is within half a
        // bucket of the true position.
        let shift = (factor.log2() * f64::from(p.scale).exp2()).round();
        offset += shift as i64;
    }
    let total = counts
        .iter()
        .try_fold(p.zero_count, |acc, &c| acc.checked_add(c));
    if total.is_none_or(|t| t > MAX_COUNT) {
        return None;
    }
    let end = offset + counts.len() as i64;
    if offset.abs() > MAX_INDEX || end.abs() > MAX_INDEX || counts.len() as i64 > MAX_INDEX {
        return None;
    }
    let mut e = Exponential {
        scale: p.scale,
        zero_count: p.zero_count,
        offset: offset as i32,
        counts: counts.to_vec(),
        sum: finite(p.sum).map_or(0.0, |s| s * factor),
        min: finite(p.min).map(|m| m * factor),
        max: finite(p.max).map(|m| m * factor),
    };
    if e.counts.len() > MAX_EXPONENTIAL_BUCKETS {
        e = e.downscaled(fitting_scale(e.scale, &[(&e, e.scale)]));
    }
    Some(with_bounds(Dist::Exponential(e)))
}

/// Fills an unknown minimum or maximum with the bucket bound: merged with data whose
/// extremes are known, an unknown one would otherwise be taken as absent.
fn with_bounds(d: Dist) -> Dist {
    let (min, max) = (d.min(), d.max());
    match d {
        Dist::Exponential(mut e) => {
            e.min = e.min.or(min);
            e.max = e.max.or(max);
            Dist::Exponential(e)
        }
        Dist::Explicit(mut e) => {
            e.min = e.min.or(min);
            e.max = e.max.or(max);
            Dist::Explicit(e)
        }
        other => other,
    }
}

/// An explicit-bucket histogram point as a [`Dist`] in seconds. A point without buckets
/// (count and sum only) is [`Dist::Empty`]. `None` when the buckets are inconsistent.
pub(super) fn explicit(p: &HistogramDataPoint, factor: f64) -> Option<Dist> {
    if p.bucket_counts.is_empty() {
        return Some(Dist::Empty);
    }
    let bounds = &p.explicit_bounds;
    let consistent = p.bucket_counts.len() == bounds.len() + 1
        && bounds.len() <= MAX_EXPLICIT_BOUNDS
        && bounds.iter().all(|b| b.is_finite())
        && bounds.windows(2).all(|w| w[0] < w[1])
        && p.bucket_counts
            .iter()
            .try_fold(0u64, |acc, &c| acc.checked_add(c))
            .is_some_and(|t| t <= MAX_COUNT);
    if !consistent {
        return None;
    }
    Some(with_bounds(Dist::Explicit(Explicit {
        bounds: bounds.iter().map(|b| b * factor).collect(),
        counts: p.bucket_counts.clone(),
        sum: finite(p.sum).map_or(0.0, |s| s * factor),
        min: finite(p.min).map(|m| m * factor),
        max: finite(p.max).map(|m| m * factor),
    })))
}

/// The finest scale, at most `scale`, at which the buckets of all `parts` (each with its
/// own scale) fit in [`MAX_EXPONENTIAL_BUCKETS`].
fn fitting_scale(scale: i32, parts: &[(&Exponential, i32)]) -> i32 {
    let mut s = scale;
    loop {
        let mut range: Option<(i64, i64)> = None;
        for (e, from) in parts {
            if e.counts.is_empty() {
                continue;
            }
            let shift = (from - s).clamp(0, 62) as u32;
            let lo = i64::from(e.offset) >> shift;
            let hi = (i64::from(e.offset) + e.counts.len() as i64 - 1) >> shift;
            range = Some(match range {
                None => (lo, hi),
                Some((a, b)) => (a.min(lo), b.max(hi)),
            });
        }
        let fits = range.is_none_or(|(lo, hi)| hi - lo < MAX_EXPONENTIAL_BUCKETS as i64);
        if fits || s <= *SCALES.start() {
            return s;
        }
        s -= 1;
    }
}

/// Adds `add` into `into` ([`Dist::merge`]), first lowering the scale of exponential data
/// as far as needed to keep at most [`MAX_EXPONENTIAL_BUCKETS`] buckets. Counts stop
/// growing at [`MAX_COUNT`].
pub(super) fn merge(into: &mut Dist, add: &Dist) {
    if into.count().saturating_add(add.count()) > MAX_COUNT {
        // Only a sender making counts up could get here: stop adding rather than overflow.
        return;
    }
    if let (Dist::Exponential(a), Dist::Exponential(b)) = (&*into, add) {
        let scale = fitting_scale(a.scale.min(b.scale), &[(a, a.scale), (b, b.scale)]);
        if scale < a.scale {
            *into = Dist::Exponential(a.downscaled(scale));
        }
        if scale < b.scale {
            into.merge(&Dist::Exponential(b.downscaled(scale)));
            return;
        }
    }
    into.merge(add);
}

/// The identity of a stream, a 128-bit keyed hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fingerprint {
    pub(super) lookup: u64,
    pub(super) check: u64,
}

/// Two independently keyed SipHash functions: a stream is identified by both hashes of
/// its resource, scope, metric and attributes, so two different streams share an identity
/// with probability about `n^2 / 2^129`, and nobody outside the process can aim for it.
#[derive(Debug, Default)]
pub(super) struct Hashing {
    a: RandomState,
    b: RandomState,
    /// The attributes of the point being hashed, encoded (reused: no allocation per point).
    scratch: Vec<u8>,
}

/// Attribute sets up to this size are put in order on the stack.
const SORT_ON_STACK: usize = 16;

impl Hashing {
    /// A fingerprint of `base` (the context of the metric) and the attribute set `attrs`,
    /// independent of the order of the attributes.
    pub(super) fn fingerprint(&mut self, base: Fingerprint, attrs: &[KeyValue]) -> Fingerprint {
        let out = &mut self.scratch;
        out.clear();
        let sorted = attrs.windows(2).all(|w| w[0].key <= w[1].key);
        if sorted {
            for kv in attrs {
                encode_kv(kv, out);
            }
        } else if attrs.len() <= SORT_ON_STACK {
            let mut order: [&KeyValue; SORT_ON_STACK] = [&attrs[0]; SORT_ON_STACK];
            for (slot, kv) in order.iter_mut().zip(attrs) {
                *slot = kv;
            }
            let order = &mut order[..attrs.len()];
            order.sort_unstable_by(|x, y| x.key.cmp(&y.key));
            for kv in order {
                encode_kv(kv, out);
            }
        } else {
            let mut order: Vec<&KeyValue> = attrs.iter().collect();
            order.sort_unstable_by(|x, y| x.key.cmp(&y.key));
            for kv in order {
                encode_kv(kv, out);
            }
        }
        let mut a = self.a.build_hasher();
        let mut b = self.b.build_hasher();
        a.write_u64(base.lookup);
        b.write_u64(base.check);
        a.write(out);
        b.write(out);
        if out.capacity() > 1 << 16 {
            // One point had huge attributes: do not keep its buffer.
            self.scratch = Vec::new();
        }
        Fingerprint {
            lookup: a.finish(),
            check: b.finish(),
        }
    }

    /// A fingerprint of what stays fixed over many points (the resource's fingerprint, the
    /// scope, metric name and unit, the kind of data), to start point fingerprints from.
    pub(super) fn context(&self, resource: Fingerprint, names: &[&str], tag: u64) -> Fingerprint {
        let mut a = self.a.build_hasher();
        let mut b = self.b.build_hasher();
        a.write_u64(resource.lookup);
        b.write_u64(resource.check);
        for name in names {
            name.hash(&mut a);
            name.hash(&mut b);
        }
        a.write_u64(tag);
        b.write_u64(tag);
        Fingerprint {
            lookup: a.finish(),
            check: b.finish(),
        }
    }
}

/// Appends an attribute to `out` unambiguously: lengths before variable-sized parts.
fn encode_kv(kv: &KeyValue, out: &mut Vec<u8>) {
    encode_bytes(kv.key.as_bytes(), out);
    out.extend_from_slice(&kv.key_strindex.to_le_bytes());
    encode_value(kv.value.as_ref(), out);
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

fn encode_value(v: Option<&AnyValue>, out: &mut Vec<u8>) {
    let Some(v) = v.and_then(|v| v.value.as_ref()) else {
        out.push(0);
        return;
    };
    match v {
        Value::StringValue(s) => {
            out.push(1);
            encode_bytes(s.as_bytes(), out);
        }
        Value::BoolValue(b) => out.extend_from_slice(&[2, u8::from(*b)]),
        Value::IntValue(i) => {
            out.push(3);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::DoubleValue(d) => {
            out.push(4);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Value::ArrayValue(a) => {
            out.push(5);
            out.extend_from_slice(&(a.values.len() as u64).to_le_bytes());
            for v in &a.values {
                encode_value(Some(v), out);
            }
        }
        Value::KvlistValue(l) => {
            out.push(6);
            out.extend_from_slice(&(l.values.len() as u64).to_le_bytes());
            for kv in &l.values {
                encode_kv(kv, out);
            }
        }
        Value::BytesValue(b) => {
            out.push(7);
            encode_bytes(b, out);
        }
        Value::StringValueStrindex(i) => {
            out.push(8);
            out.extend_from_slice(&i.to_le_bytes());
        }
    }
}

/// A fingerprint of a resource's attributes, independent of their order.
pub(super) fn resource_fingerprint(hashing: &mut Hashing, attrs: &[KeyValue]) -> Fingerprint {
    hashing.fingerprint(
        Fingerprint {
            lookup: 1,
            check: 1,
        },
        attrs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn fingerprints_ignore_attribute_order() {
        let mut h = Hashing::default();
        let base = h.context(
            Fingerprint {
                lookup: 0,
                check: 0,
            },
            &["metric"],
            0,
        );
        let x = h.fingerprint(base, &[kv("a", "1"), kv("b", "2")]);
        let y = h.fingerprint(base, &[kv("b", "2"), kv("a", "1")]);
        let z = h.fingerprint(base, &[kv("a", "2"), kv("b", "1")]);
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn names_skip_outcome_attributes_and_sort() {
        let attrs = [
            kv("http.route", "/users"),
            kv("error.type", "timeout"),
            kv("http.request.method", "GET"),
        ];
        assert_eq!(
            series_name("d", &attrs, &["error.type"]),
            "d{http.request.method=GET,http.route=/users}"
        );
        assert_eq!(series_name("d", &[], &[]), "d");
    }

    #[test]
    fn milliseconds_move_the_buckets() {
        let p = ExponentialHistogramDataPoint {
            scale: 4,
            count: 3,
            sum: Some(3000.0),
            positive: Some(Buckets {
                offset: 159, // 2^(160/16) = 1024 ms
                bucket_counts: vec![3],
            }),
            ..Default::default()
        };
        let d = exponential(&p, 1e-3).unwrap();
        let q = d.quantile(0.5).unwrap();
        assert!((q / 1.0 - 1.0).abs() < 0.05, "{q}");
        assert!((d.sum() - 3.0).abs() < 1e-12);
    }

    #[test]
    fn wide_points_are_downscaled_and_far_ones_refused() {
        let p = ExponentialHistogramDataPoint {
            scale: 8,
            count: 2,
            positive: Some(Buckets {
                offset: 0,
                bucket_counts: {
                    let mut c = vec![0; 5000];
                    c[0] = 1;
                    c[4999] = 1;
                    c
                },
            }),
            ..Default::default()
        };
        let Some(Dist::Exponential(e)) = exponential(&p, 1.0) else {
            panic!()
        };
        assert!(e.counts.len() <= MAX_EXPONENTIAL_BUCKETS);
        assert_eq!(e.count(), 2);
        let far = ExponentialHistogramDataPoint {
            scale: 0,
            positive: Some(Buckets {
                offset: i32::MAX - 1,
                bucket_counts: vec![1, 1, 1],
            }),
            ..Default::default()
        };
        assert!(exponential(&far, 1.0).is_none());
    }

    #[test]
    fn merging_far_apart_data_stays_bounded() {
        let e = |offset| {
            Dist::Exponential(Exponential {
                scale: 20,
                offset,
                counts: vec![1],
                ..Exponential::default()
            })
        };
        let mut d = e(-(1 << 26));
        merge(&mut d, &e(1 << 26));
        let Dist::Exponential(x) = &d else { panic!() };
        assert!(
            x.counts.len() <= MAX_EXPONENTIAL_BUCKETS,
            "{}",
            x.counts.len()
        );
        assert_eq!(x.count(), 2);
    }
}
