//! The dashboard's numbers as text: the plain summary table (no TTY, `--no-tui`), the CSV of
//! the visible table and the JSON snapshot (Ctrl-S, `--json`).

use std::fmt::Write;

use super::format::{self, sanitize};
use super::model::Model;
use super::rows::{Row, Warning};
use super::style::Glyphs;
use crate::frame::{Dist, SeriesKind, SourceStatus};
use crate::words::outcome::Outcome;

/// The narrowest and widest the plain table's name column gets; longer names lose their
/// middle.
const NAME_WIDTH: (usize, usize) = (40, 64);

/// The plain-text table of `model`'s rows, with a one-line heading (which names the service
/// when there is one; with several, each row does).
pub(crate) fn table(model: &Model) -> String {
    let mut out = String::new();
    let status = model.frame().map(|f| f.status.clone()).unwrap_or_default();
    heading(&mut out, model, &status);
    function_lines(&mut out, model, status.services > 1);
    kind_lines(&mut out, model);
    warning_lines(&mut out, model);
    runtime_lines(&mut out, model);
    out
}

/// Each tokio runtime over the window, and its warnings.
fn runtime_lines(out: &mut String, model: &Model) {
    for r in &model.runtime_rows {
        let s = &r.series;
        let busy = r
            .busy
            .map_or_else(|| "-".to_owned(), |b| format!("{:.0}%", b * 100.0));
        let _ = write!(
            out,
            "runtime {}: busy {busy}, global queue {} -> {}, {} tasks, {} workers",
            sanitize(&s.name),
            r.queue_before,
            s.global_queue_depth,
            s.alive_tasks,
            s.workers
        );
        for w in &r.warnings {
            let _ = write!(out, " ! {}", w.label());
        }
        out.push('\n');
    }
}

/// The line about the source and the window, and the last refusal's reason.
fn heading(out: &mut String, model: &Model, status: &SourceStatus) {
    let service = match (status.services, model.rows.first()) {
        (1, Some(r)) => format!(" | service {}", sanitize(&r.series.service)),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "taskscope top | {}{service} | {} | window {} ({}) | {} functions | dropped {} | overflow {} | rejected {}",
        sanitize(&status.label),
        sanitize(&status.connection),
        model.window.label(),
        format::window(model.history.span(model.window)),
        model.rows.len(),
        status.dropped + status.export_dropped,
        status.overflow + status.kind_overflow,
        status.rejected,
    );
    if let Some(reason) = &status.last_rejection {
        let _ = writeln!(out, "last rejection: {}", sanitize(reason));
    }
}

/// The table of functions, its name column as wide as the longest name (within bounds);
/// with several services, each name says its service.
fn function_lines(out: &mut String, model: &Model, many_services: bool) {
    let g = &Glyphs::ASCII;
    let names: Vec<String> = model
        .rows
        .iter()
        .map(|r| {
            let name = sanitize(&r.series.function);
            if many_services {
                format!("{}/{}", sanitize(&r.series.service), name)
            } else {
                name
            }
        })
        .collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(NAME_WIDTH.0, NAME_WIDTH.1);
    let _ = writeln!(
        out,
        "{:<width$} {:>9} {:>6} {:>7} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
        "function",
        "calls/s",
        "ok%",
        "err",
        "panic",
        "canc",
        "inflt",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "busy%",
        "slow"
    );
    for (r, name) in model.rows.iter().zip(&names) {
        let q = |q: f64| format::percentile(r.quantile(q), r.coarse, g);
        let _ = writeln!(
            out,
            "{:<width$} {:>9} {:>6} {:>7} {:>6} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
            format::fit(name, width, g),
            format::rate(r.rate),
            format::percent(r.ok_percent()),
            format::count(r.calls[Outcome::Error]),
            format::count(r.calls[Outcome::Panicked]),
            format::count(r.calls[Outcome::Cancelled]),
            r.in_flight,
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            format::opt_seconds(r.latency.max(), g),
            format::percent(r.busy_ratio.map(|b| b * 100.0)),
            if r.series.has_busy || r.slow_polls > 0 {
                format::count(r.slow_polls)
            } else {
                "-".into()
            },
        );
    }
}

/// Each function's error kinds with their counts.
fn kind_lines(out: &mut String, model: &Model) {
    let with_kinds: Vec<&Row> = model.rows.iter().filter(|r| !r.kinds.is_empty()).collect();
    if with_kinds.is_empty() {
        return;
    }
    out.push_str("error kinds:\n");
    for r in with_kinds {
        let kinds: Vec<String> = r
            .kinds
            .iter()
            .map(|k| format!("{} {}", sanitize(&k.kind), k.count))
            .collect();
        let _ = writeln!(
            out,
            "  {}: {}",
            sanitize(&r.series.function),
            kinds.join(", ")
        );
    }
}

/// The functions with a warning, and what it is.
fn warning_lines(out: &mut String, model: &Model) {
    let flagged: Vec<&Row> = model.warnings().collect();
    if flagged.is_empty() {
        return;
    }
    out.push_str("warnings:\n");
    for r in flagged {
        let text: Vec<String> = r
            .warnings
            .iter()
            .map(|w| match (w, model.saturated_runtime(r)) {
                // The cause may be the executor, not the function.
                (Warning::SlowP99, Some(rt)) => format!(
                    "{} while runtime {} is saturated",
                    w.label(),
                    sanitize(&rt.series.name)
                ),
                _ => w.label().to_owned(),
            })
            .collect();
        let _ = writeln!(
            out,
            "  ! {}: {}",
            sanitize(&r.series.function),
            text.join(", ")
        );
    }
}

fn csv_field(text: &str) -> String {
    let text = sanitize(text);
    if text.contains([',', '"']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn num(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v}"))
}

/// The visible rows as CSV, durations in seconds.
pub(crate) fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "service,function,module,calls,calls_per_second,ok,error,cancelled,panicked,ok_percent,in_flight,p50_s,p90_s,p99_s,p999_s,max_s,busy_ratio,polls,slow_polls\n",
    );
    for r in rows {
        let s = &r.series;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&s.service),
            csv_field(&s.function),
            csv_field(&s.module),
            r.total(),
            r.rate,
            r.calls[Outcome::Ok],
            r.calls[Outcome::Error],
            r.calls[Outcome::Cancelled],
            r.calls[Outcome::Panicked],
            num(r.ok_percent()),
            r.in_flight,
            num(r.quantile(0.5)),
            num(r.quantile(0.9)),
            num(r.quantile(0.99)),
            num(r.quantile(0.999)),
            num(r.latency.max()),
            num(r.busy_ratio),
            r.polls,
            r.slow_polls,
        );
    }
    out
}

fn json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // Control characters (C0, DEL, C1) and bidi overrides are escaped, so the JSON
            // is safe to print on a terminal.
            c if crate::words::text::unprintable(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A distribution's p50, p90, p99, p99.9 and max, as a JSON object of seconds.
fn json_percentiles(o: &mut String, d: &Dist) {
    o.push('{');
    for (j, (name, q)) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)]
        .iter()
        .enumerate()
    {
        if j > 0 {
            o.push(',');
        }
        let _ = write!(o, "\"{name}\":");
        json_num(o, d.quantile(*q));
    }
    o.push_str(",\"max\":");
    json_num(o, d.max());
    o.push('}');
}

fn json_num(out: &mut String, v: Option<f64>) {
    match v {
        Some(v) if v.is_finite() => {
            let _ = write!(out, "{v}");
        }
        _ => out.push_str("null"),
    }
}

/// The snapshot of the window as JSON: status, window, and every shown function with its
/// counts, percentiles (seconds), error kinds and warnings.
pub(crate) fn json(model: &Model) -> String {
    let mut o = String::with_capacity(256 + model.rows.len() * 512);
    let status = model.frame().map(|f| f.status.clone()).unwrap_or_default();
    o.push_str("{\"window\":");
    json_str(&mut o, model.window.label());
    o.push_str(",\"window_seconds\":");
    json_num(&mut o, Some(model.history.span(model.window).as_secs_f64()));
    o.push_str(",\"source\":");
    json_str(&mut o, &status.label);
    o.push_str(",\"connection\":");
    json_str(&mut o, &status.connection);
    let _ = write!(
        o,
        ",\"services\":{},\"dropped\":{},\"overflow\":{},\"rejected\":{},\"export_dropped\":{},\"kind_overflow\":{},\"paused\":{}",
        status.services,
        status.dropped,
        status.overflow,
        status.rejected,
        status.export_dropped,
        status.kind_overflow,
        model.paused
    );
    o.push_str(",\"last_rejection\":");
    match &status.last_rejection {
        Some(reason) => json_str(&mut o, reason),
        None => o.push_str("null"),
    }
    o.push_str(",\"functions\":[");
    for (i, r) in model.rows.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let s = &r.series;
        o.push_str("{\"service\":");
        json_str(&mut o, &s.service);
        o.push_str(",\"function\":");
        json_str(&mut o, &s.function);
        o.push_str(",\"module\":");
        json_str(&mut o, &s.module);
        o.push_str(",\"kind\":");
        json_str(
            &mut o,
            match s.kind {
                // A function, or the pattern whose operation the series is.
                SeriesKind::Function => s.pattern.as_str(),
                SeriesKind::Histogram => "histogram",
                SeriesKind::Counter => "counter",
            },
        );
        let _ = write!(
            o,
            ",\"calls\":{},\"ok\":{},\"error\":{},\"cancelled\":{},\"panicked\":{},\"in_flight\":{},\"polls\":{},\"slow_polls\":{},\"calls_per_second\":",
            r.total(),
            r.calls[Outcome::Ok],
            r.calls[Outcome::Error],
            r.calls[Outcome::Cancelled],
            r.calls[Outcome::Panicked],
            r.in_flight,
            r.polls,
            r.slow_polls
        );
        json_num(&mut o, Some(r.rate));
        o.push_str(",\"ok_percent\":");
        json_num(&mut o, r.ok_percent());
        o.push_str(",\"busy_ratio\":");
        json_num(&mut o, r.busy_ratio);
        o.push_str(",\"latency_seconds\":");
        json_percentiles(&mut o, &r.latency);
        if r.scheduling.count() > 0 {
            o.push_str(",\"scheduling_seconds\":");
            json_percentiles(&mut o, &r.scheduling);
        }
        if let Some(a) = r.attempts_per_call() {
            o.push_str(",\"attempts_per_call\":");
            json_num(&mut o, Some(a));
        }
        if !r.callers.is_empty() {
            o.push_str(",\"self_busy_seconds\":");
            json_num(&mut o, r.self_busy());
            o.push_str(",\"callers\":[");
            for (j, c) in r.callers.iter().enumerate() {
                if j > 0 {
                    o.push(',');
                }
                o.push_str("{\"caller\":");
                json_str(&mut o, &c.caller);
                let _ = write!(o, ",\"calls\":{},\"wall_seconds\":", c.calls);
                json_num(&mut o, Some(c.wall));
                o.push_str(",\"busy_seconds\":");
                json_num(&mut o, Some(c.busy));
                o.push_str(",\"self_busy_seconds\":");
                json_num(&mut o, Some(c.self_busy));
                o.push('}');
            }
            o.push(']');
        }
        o.push_str(",\"error_kinds\":[");
        for (j, k) in r.kinds.iter().enumerate() {
            if j > 0 {
                o.push(',');
            }
            o.push_str("{\"kind\":");
            json_str(&mut o, &k.kind);
            let _ = write!(o, ",\"count\":{}}}", k.count);
        }
        o.push_str("],\"warnings\":[");
        for (j, w) in r.warnings.iter().enumerate() {
            if j > 0 {
                o.push(',');
            }
            json_str(&mut o, w.label());
        }
        o.push(']');
        // A slow p99 while a runtime of the service is saturated: the likelier cause.
        if r.warnings.contains(&Warning::SlowP99)
            && let Some(rt) = model.saturated_runtime(r)
        {
            o.push_str(",\"saturated_runtime\":");
            json_str(&mut o, &rt.series.name);
        }
        o.push('}');
    }
    o.push_str("],\"runtimes\":[");
    for (i, r) in model.runtime_rows.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let s = &r.series;
        o.push_str("{\"service\":");
        json_str(&mut o, &s.service);
        o.push_str(",\"name\":");
        json_str(&mut o, &s.name);
        let _ = write!(
            o,
            ",\"workers\":{},\"alive_tasks\":{},\"global_queue_depth\":{},\"busy_ratio\":",
            s.workers, s.alive_tasks, s.global_queue_depth
        );
        json_num(&mut o, r.busy);
        o.push_str(",\"warnings\":[");
        for (j, w) in r.warnings.iter().enumerate() {
            if j > 0 {
                o.push(',');
            }
            json_str(&mut o, w.label());
        }
        o.push_str("]}");
    }
    o.push_str("]}");
    o
}
