//! The Prometheus text format (0.0.4) and OpenMetrics 1.0: classic buckets, and in
//! OpenMetrics the latest sampled call as an exemplar on the bucket it falls in.

use std::fmt::Write;

use super::exposition::{self, Exemplar, HistogramPoint, Kind, Sink};
use super::format::Format;
use crate::export::stats::ExportStats;
use crate::record::snapshot::Snapshot;

/// Escapes a label value: backslash, double quote and line feed.
fn escape(value: &str, out: &mut String) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes `{k="v",...` without the closing brace (nothing for no labels), so a bucket's
/// `le` can follow.
fn open_labels(out: &mut String, pairs: &[(&str, &str)]) {
    for (i, (k, v)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        out.push_str(k);
        out.push_str("=\"");
        escape(v, out);
        out.push('"');
    }
}

/// Writes `{k="v",...}` (nothing for no labels).
#[cfg(test)]
fn labels(out: &mut String, pairs: &[(&str, &str)]) {
    open_labels(out, pairs);
    if !pairs.is_empty() {
        out.push('}');
    }
}

/// A number as Prometheus writes it.
fn number(out: &mut String, v: f64) {
    if v == f64::INFINITY {
        out.push_str("+Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// The text formats as a [`Sink`].
struct Text {
    out: String,
    format: Format,
    /// The classic bounds as written in `le` (with `+Inf`), made once.
    le: Vec<String>,
    /// Those bounds, to tell a point in other buckets (a retry's attempts).
    bounds: Vec<f64>,
    /// The current point's labels, written once for all its lines.
    labels: String,
}

impl Text {
    /// `name{labels} `: the start of a line, with the labels of [`Text::labels`].
    fn start(&mut self, name: &str, suffix: &str) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        self.out.push_str(&self.labels);
        if !self.labels.is_empty() {
            self.out.push('}');
        }
        self.out.push(' ');
    }

    fn point(&mut self, name: &str, suffix: &str, pairs: &[(&str, &str)], value: f64) {
        self.labels.clear();
        open_labels(&mut self.labels, pairs);
        self.start(name, suffix);
        number(&mut self.out, value);
        self.out.push('\n');
    }

    fn integer_point(&mut self, name: &str, suffix: &str, pairs: &[(&str, &str)], value: u64) {
        self.labels.clear();
        open_labels(&mut self.labels, pairs);
        self.start(name, suffix);
        let _ = writeln!(self.out, "{value}");
    }
}

impl Sink for Text {
    fn family(&mut self, stem: &str, kind: Kind, help: &str, unit: Option<&str>) {
        // OpenMetrics names a counter family by its stem, the text format by its samples.
        let total = if kind == Kind::Counter && self.format == Format::Text {
            "_total"
        } else {
            ""
        };
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(self.out, "# HELP {stem}{total} {help}");
        let _ = writeln!(self.out, "# TYPE {stem}{total} {kind}");
        if let (Format::OpenMetrics, Some(unit)) = (self.format, unit) {
            let _ = writeln!(self.out, "# UNIT {stem} {unit}");
        }
    }

    fn counter(&mut self, stem: &str, labels: &[(&str, &str)], value: u64) {
        self.integer_point(stem, "_total", labels, value);
    }

    fn counter_seconds(&mut self, stem: &str, labels: &[(&str, &str)], value: f64) {
        self.point(stem, "_total", labels, value);
    }

    fn gauge(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.point(name, "", labels, value);
    }

    /// `_count` is the `+Inf` bucket by construction, both from the same reading.
    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], point: &HistogramPoint<'_>) {
        self.labels.clear();
        open_labels(&mut self.labels, labels);
        let exemplar = point
            .exemplar
            .filter(|_| self.format == Format::OpenMetrics);
        let mut cumulative = 0;
        let own_le;
        let les = if point.bounds == self.bounds.as_slice() {
            &self.le
        } else {
            own_le = le_strings(point.bounds);
            &own_le
        };
        for (i, (count, le)) in point.classic.iter().zip(les).enumerate() {
            cumulative += count;
            let out = &mut self.out;
            out.push_str(name);
            out.push_str("_bucket");
            out.push_str(&self.labels);
            out.push_str(if self.labels.is_empty() {
                "{le=\""
            } else {
                ",le=\""
            });
            out.push_str(le);
            out.push_str("\"} ");
            let _ = write!(out, "{cumulative}");
            if let Some((e, _)) = exemplar.filter(|&(_, bucket)| bucket == i) {
                let _ = write!(
                    out,
                    " # {{trace_id=\"{:032x}\",span_id=\"{:016x}\"}} {} {:.3}",
                    e.trace_id, e.span_id, e.value, e.timestamp
                );
            }
            out.push('\n');
        }
        self.start(name, "_sum");
        number(&mut self.out, point.histogram.sum as f64 / 1e9);
        self.out.push('\n');
        self.start(name, "_count");
        let _ = writeln!(self.out, "{cumulative}");
    }
}

/// Bounds as `le` writes them, with `+Inf`.
fn le_strings(bounds: &[f64]) -> Vec<String> {
    bounds
        .iter()
        .copied()
        .chain([f64::INFINITY])
        .map(|b| {
            let mut le = String::new();
            number(&mut le, b);
            le
        })
        .collect()
}

/// The whole exposition in a text format.
pub(crate) fn render(
    snap: &Snapshot,
    exports: ExportStats,
    format: Format,
    bounds: &[f64],
    exemplars: &[Exemplar],
) -> String {
    let mut text = Text {
        out: String::with_capacity(256 + snap.functions.len() * 2048),
        format,
        le: le_strings(bounds),
        bounds: bounds.to_vec(),
        labels: String::new(),
    };
    exposition::write(snap, exports, bounds, exemplars, &mut text);
    if format == Format::OpenMetrics {
        text.out.push_str("# EOF\n");
    }
    text.out
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

    #[test]
    fn a_runtime_is_scraped_as_gauges_and_counters_with_its_name_and_workers() {
        let mut snap = Snapshot::default();
        snap.runtimes.push(crate::record::runtime::RuntimeSnapshot {
            name: "api".into(),
            workers: 2,
            alive_tasks: 40,
            global_queue_depth: 7,
            worker_busy: vec![std::time::Duration::from_millis(1500); 2],
            worker_parks: vec![3, 9],
            ..Default::default()
        });
        let text = render(&snap, ExportStats::default(), Format::Text, &[0.1], &[]);
        let scope = "otel_scope_name=\"taskscope\",otel_scope_version=\"0.1.0\"";
        for line in [
            format!("tokio_worker_count{{tokio_runtime_name=\"api\",{scope}}} 2"),
            format!("tokio_task_count{{tokio_runtime_name=\"api\",{scope}}} 40"),
            format!("tokio_global_queue_length{{tokio_runtime_name=\"api\",{scope}}} 7"),
            format!(
                "tokio_worker_busy_time_seconds_total{{tokio_runtime_name=\"api\",tokio_worker_index=\"1\",{scope}}} 1.5"
            ),
            format!(
                "tokio_worker_parks_total{{tokio_runtime_name=\"api\",tokio_worker_index=\"1\",{scope}}} 9"
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(text.contains("# TYPE tokio_worker_busy_time_seconds_total counter"));
        assert!(
            !text.contains("tokio_blocking_pool"),
            "unstable only: {text}"
        );
    }
}
