//! A snapshot in the Prometheus text format (0.0.4) or OpenMetrics 1.0, with the names the
//! OTLP metrics of `docs/METRICS.md` get under the standard OTLP-to-Prometheus translation
//! (dots to underscores, the unit `s` as `_seconds`, counters ending in `_total`), so one
//! dashboard serves a scrape and OTLP through a collector alike.

use std::fmt::Write;

use crate::names;
use crate::{ExportStats, FunctionSnapshot, Histogram, Outcome, Snapshot};

/// Prometheus label names of the attributes (dots to underscores, as the OTLP-to-Prometheus
/// translation writes them).
const FUNCTION: &str = "code_function_name";
const OUTCOME: &str = "taskscope_outcome";
const ERROR_TYPE: &str = "error_type";
const OVERFLOW: &str = "otel_metric_overflow";
/// The instrumentation scope, on every sample (the OpenTelemetry-Prometheus compatibility
/// rules), so that a scrape and a collector's export carry the same labels.
const SCOPE: [(&str, &str); 2] = [
    ("otel_scope_name", "taskscope"),
    ("otel_scope_version", env!("CARGO_PKG_VERSION")),
];

/// Which exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// The format a scraper asks for in its `Accept` header.
    pub(crate) fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn labels(out: &mut String, pairs: &[(&str, &str)]) {
    if pairs.is_empty() {
        return;
    }
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape(v, out);
        out.push('"');
    }
    out.push('}');
}

/// A number as Prometheus writes it.
fn number(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".to_owned()
    } else {
        format!("{v}")
    }
}

/// Writes the header of a metric family. `name` is the sample name's stem: for counters
/// the samples get `_total`; OpenMetrics names the family without it.
fn family(
    out: &mut String,
    format: Format,
    name: &str,
    kind: &str,
    help: &str,
    unit: Option<&str>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    if let (Format::OpenMetrics, Some(unit)) = (format, unit) {
        let _ = writeln!(out, "# UNIT {name} {unit}");
    }
}

struct Writer<'a> {
    out: String,
    format: Format,
    bounds: &'a [f64],
    exemplars: &'a [Exemplar],
}

/// A sampled call shown beside the bucket it falls in (OpenMetrics only).
#[derive(Clone, Debug)]
pub(crate) struct Exemplar {
    pub(crate) module: &'static str,
    pub(crate) function: &'static str,
    pub(crate) outcome: Outcome,
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    /// Seconds.
    pub(crate) value: f64,
    /// Unix time, seconds.
    pub(crate) timestamp: f64,
}

/// The latest sampled calls, when an OTLP exporter samples calls as spans.
pub(crate) fn exemplars() -> Vec<Exemplar> {
    #[cfg(feature = "otlp")]
    {
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let now = crate::clock::since_start().as_secs_f64();
        crate::record::samples::latest()
            .into_iter()
            .map(|c| Exemplar {
                module: c.function.meta.module,
                function: c.function.meta.name,
                outcome: c.outcome,
                trace_id: c.trace_id,
                span_id: c.span_id,
                value: c.wall_ns as f64 / 1e9,
                timestamp: now_unix - now + crate::clock::since_start_at(c.end).as_secs_f64(),
            })
            .collect()
    }
    #[cfg(not(feature = "otlp"))]
    Vec::new()
}

impl Writer<'_> {
    fn counter_name<'n>(&self, stem: &'n str) -> std::borrow::Cow<'n, str> {
        match self.format {
            // OpenMetrics: the family is the stem, samples end in `_total`.
            Format::OpenMetrics => stem.into(),
            Format::Text => format!("{stem}_total").into(),
        }
    }

    fn sample(&mut self, name: &str, pairs: &[(&str, &str)], value: f64) {
        self.sample_with(name, pairs, value, None);
    }

    fn sample_with(
        &mut self,
        name: &str,
        pairs: &[(&str, &str)],
        value: f64,
        exemplar: Option<&Exemplar>,
    ) {
        self.out.push_str(name);
        labels(&mut self.out, pairs);
        self.out.push(' ');
        self.out.push_str(&number(value));
        if let Some(e) = exemplar {
            let _ = write!(
                self.out,
                " # {{trace_id=\"{:032x}\",span_id=\"{:016x}\"}} {} {:.3}",
                e.trace_id, e.span_id, e.value, e.timestamp
            );
        }
        self.out.push('\n');
    }

    fn counter<'f>(
        &mut self,
        stem: &str,
        help: &str,
        points: impl Iterator<Item = (Vec<(&'f str, &'f str)>, u64)>,
    ) {
        let family_name = self.counter_name(stem).into_owned();
        family(
            &mut self.out,
            self.format,
            &family_name,
            "counter",
            help,
            None,
        );
        let sample_name = format!("{stem}_total");
        for (pairs, value) in points {
            self.sample(&sample_name, &pairs, value as f64);
        }
    }

    /// A histogram family; `_count` is the `+Inf` bucket by construction, both from the
    /// same reading.
    fn histogram<'f>(
        &mut self,
        name: &str,
        help: &str,
        points: impl Iterator<Item = (Vec<(&'f str, &'f str)>, &'f Histogram)>,
    ) {
        family(
            &mut self.out,
            self.format,
            name,
            "histogram",
            help,
            Some("seconds"),
        );
        let bucket = format!("{name}_bucket");
        let bounds: Vec<String> = self
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .map(number)
            .collect();
        let with_exemplars = name == "function_calls_duration_seconds";
        let mut counts = Vec::new();
        for (pairs, h) in points {
            crate::export::explicit_counts(h, self.bounds, &mut counts);
            // The latest sampled call of this function and outcome, on the bucket it is in.
            let exemplar = (self.format == Format::OpenMetrics && with_exemplars)
                .then(|| {
                    let get = |k: &str| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
                    self.exemplars.iter().find(|e| {
                        get(FUNCTION).is_some_and(|f| {
                            names::split_qualified(f) == (e.module, e.function)
                                || (e.module.is_empty() && f == e.function)
                        }) && Some(e.outcome.as_str()) == get(OUTCOME)
                    })
                })
                .flatten()
                .cloned();
            let exemplar_bucket = exemplar
                .as_ref()
                .map(|e| self.bounds.partition_point(|&b| b < e.value));
            let mut cumulative = 0;
            for (i, (count, le)) in counts.iter().zip(&bounds).enumerate() {
                cumulative += count;
                let mut with_le = pairs.clone();
                with_le.push(("le", le));
                let e = (exemplar_bucket == Some(i))
                    .then_some(exemplar.as_ref())
                    .flatten();
                self.sample_with(&bucket, &with_le, cumulative as f64, e);
            }
            self.sample(&format!("{name}_sum"), &pairs, h.sum as f64 / 1e9);
            self.sample(&format!("{name}_count"), &pairs, cumulative as f64);
        }
    }
}

/// The labels of a function's sample: its qualified name, the outcome (when the quantity
/// has one), an error's kind, the overflow mark, the scope.
fn point_labels<'a>(
    f: &FunctionSnapshot,
    qualified: &'a str,
    outcome: Option<Outcome>,
    kind: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut labels = Vec::with_capacity(6);
    labels.push((FUNCTION, qualified));
    if let Some(o) = outcome {
        labels.push((OUTCOME, o.as_str()));
    }
    let kind_overflowed = kind == Some(crate::OVERFLOW_KIND);
    if let Some(k) = kind.filter(|_| !kind_overflowed) {
        labels.push((ERROR_TYPE, k));
    }
    if kind_overflowed || f.name == crate::OVERFLOW_KIND {
        labels.push((OVERFLOW, "true"));
    }
    labels.extend(SCOPE);
    labels
}

/// Every function's points for one outcome-level quantity.
fn per_outcome<'s, T>(
    snap: &'s Snapshot,
    qualified: &'s [String],
    mut value: impl FnMut(&'s FunctionSnapshot, Outcome) -> Option<T>,
) -> impl Iterator<Item = (Vec<(&'s str, &'s str)>, T)> {
    snap.functions
        .iter()
        .zip(qualified)
        .flat_map(move |(f, q)| {
            Outcome::ALL
                .into_iter()
                .filter_map(|o| value(f, o).map(|v| (point_labels(f, q, Some(o), None), v)))
                .collect::<Vec<_>>()
        })
}

/// `target_info`: the resource's attributes as labels of a gauge of 1, as the
/// OpenTelemetry-Prometheus compatibility rules write them (`service.name` and
/// `service.instance.id` are the scrape's `job` and `instance`, so they are left out).
fn target_info(w: &mut Writer<'_>) {
    family(
        &mut w.out,
        w.format,
        "target_info",
        "gauge",
        "Target metadata",
        None,
    );
    let pid = std::process::id().to_string();
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    w.sample(
        "target_info",
        &[
            ("process_executable_name", &exe),
            ("process_pid", &pid),
            ("telemetry_sdk_language", "rust"),
            ("telemetry_sdk_name", "taskscope"),
            ("telemetry_sdk_version", env!("CARGO_PKG_VERSION")),
        ],
        1.0,
    );
}

/// The whole exposition.
pub(crate) fn render(
    snap: &Snapshot,
    exports: ExportStats,
    format: Format,
    bounds: &[f64],
    exemplars: &[Exemplar],
) -> String {
    let mut w = Writer {
        out: String::with_capacity(256 + snap.functions.len() * 2048),
        format,
        bounds,
        exemplars,
    };
    target_info(&mut w);
    let qualified: Vec<String> = snap
        .functions
        .iter()
        .map(|f| names::qualified(f.module, f.name))
        .collect();
    let qualified = &qualified[..];
    // Calls by outcome, errors by kind.
    let calls = snap.functions.iter().zip(qualified).flat_map(|(f, q)| {
        let mut points = Vec::new();
        for o in Outcome::ALL {
            let stats = f.stats(o);
            if stats.count == 0 {
                continue;
            }
            if o == Outcome::Error {
                let mut counted = 0;
                for k in &f.error_kinds {
                    points.push((point_labels(f, q, Some(o), Some(k.kind)), k.count));
                    counted += k.count;
                }
                if counted < stats.count {
                    points.push((point_labels(f, q, Some(o), None), stats.count - counted));
                }
            } else {
                points.push((point_labels(f, q, Some(o), None), stats.count));
            }
        }
        points
    });
    w.counter(
        "function_calls",
        "Finished calls, by outcome and error kind.",
        calls,
    );
    w.histogram(
        "function_calls_duration_seconds",
        "Wall time of a call: first poll to completion or drop.",
        per_outcome(snap, qualified, |f, o| {
            (f.stats(o).count > 0).then(|| &f.stats(o).wall)
        }),
    );
    w.histogram(
        "function_calls_busy_seconds",
        "Busy time of a call: the sum of its polls.",
        per_outcome(snap, qualified, |f, o| {
            (f.stats(o).count > 0).then(|| &f.stats(o).busy)
        }),
    );
    w.counter(
        "function_calls_polls",
        "Polls made by finished calls.",
        per_outcome(snap, qualified, |f, o| {
            (f.stats(o).count > 0).then(|| f.stats(o).polls)
        }),
    );
    w.counter(
        "function_calls_slow_polls",
        "Polls longer than the slow-poll threshold.",
        per_outcome(snap, qualified, |f, o| {
            (f.stats(o).count > 0).then(|| f.stats(o).slow_polls)
        }),
    );
    family(
        &mut w.out,
        format,
        "function_calls_concurrent",
        "gauge",
        "Calls started and not finished.",
        None,
    );
    for (f, q) in snap.functions.iter().zip(qualified) {
        w.sample(
            "function_calls_concurrent",
            &point_labels(f, q, None, None),
            f.in_flight as f64,
        );
    }
    w.counter(
        "taskscope_export_dropped",
        "Data points of export batches given up on, since the process started.",
        std::iter::once((SCOPE.to_vec(), exports.dropped_points)),
    );
    if format == Format::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        labels(&mut out, &[("function", "a\"b\\c\nd")]);
        assert_eq!(out, r#"{function="a\"b\\c\nd"}"#);
    }

    #[test]
    fn an_empty_snapshot_still_has_the_drop_counter_and_openmetrics_ends_with_eof() {
        let snap = Snapshot::default();
        let text = render(&snap, ExportStats::default(), Format::Text, &[0.1], &[]);
        assert!(
            text.contains(
                "taskscope_export_dropped_total{otel_scope_name=\"taskscope\",otel_scope_version=\""
            ),
            "{text}"
        );
        assert!(text.contains("\ntarget_info{"), "{text}");
        let om = render(
            &snap,
            ExportStats::default(),
            Format::OpenMetrics,
            &[0.1],
            &[],
        );
        assert!(
            om.contains("# TYPE taskscope_export_dropped counter\n"),
            "{om}"
        );
        assert!(om.ends_with("# EOF\n"));
    }
}
