//! The header lines (source, window, counts of loss; the runtimes, when there are any) and
//! the warnings under them.

use ratatui::Frame as Screen;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::row_name;
use crate::view::format::{self, sanitize};
use crate::view::model::Model;
use crate::view::rows::{Row, Warning};
use crate::view::runtime_rows::{RuntimeRow, RuntimeWarning};
use crate::view::style::Paint;

pub(super) fn draw_header(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
    let g = &model.settings.glyphs;
    let status = model.frame().map(|f| f.status.clone()).unwrap_or_default();
    let span = model.history.span(model.window);
    let shown = if model.rows.len() == model.total_rows {
        format!("{} functions", model.total_rows)
    } else {
        format!("{} of {} functions", model.rows.len(), model.total_rows)
    };
    let mut first = vec![
        Span::styled("taskscope top", paint.title()),
        Span::raw(g.dot),
        Span::raw(sanitize(&status.label)),
        Span::raw(g.dot),
        Span::raw(sanitize(&status.connection)),
        Span::raw(g.dot),
        Span::raw(format!(
            "window {} ({})",
            model.window.label(),
            format::window(span)
        )),
        Span::raw(g.dot),
        Span::raw(shown),
    ];
    if status.services > 1 {
        first.push(Span::raw(format!("{}{} services", g.dot, status.services)));
    }
    if model.paused {
        first.push(Span::raw(g.dot));
        first.push(Span::styled(
            " PAUSED ",
            paint
                .warn()
                .add_modifier(Modifier::REVERSED | Modifier::BOLD),
        ));
    }
    let counts = [
        ("dropped", status.dropped + status.export_dropped),
        ("overflow", status.overflow + status.kind_overflow),
        ("rejected", status.rejected),
    ];
    let mut second = Vec::new();
    // One service: its name here (with several, each row carries its own).
    if let (1, Some(r)) = (status.services, model.rows.first()) {
        second.push(Span::raw(format!(
            "service {}",
            sanitize(&r.series.service)
        )));
        second.push(Span::raw(g.dot));
    }
    for (i, (name, n)) in counts.iter().enumerate() {
        if i > 0 {
            second.push(Span::raw(g.dot));
        }
        let style = if *n > 0 { paint.warn() } else { paint.dim() };
        second.push(Span::styled(format!("{name} {n}"), style));
    }
    // Why the last refusal happened: what the sender has to change.
    if let Some(reason) = &status.last_rejection {
        second.push(Span::styled(
            format!(" (last: {})", format::clip(&sanitize(reason), 60, g)),
            paint.warn(),
        ));
    }
    if !model.filter.is_empty() {
        second.push(Span::raw(g.dot));
        second.push(Span::raw(format!("filter \"{}\"", sanitize(&model.filter))));
    }
    if model.only_problems {
        second.push(Span::raw(g.dot));
        second.push(Span::raw("only problems"));
    }
    if let Some(kind) = model.kind {
        second.push(Span::raw(g.dot));
        second.push(Span::raw(format!("kind {kind}")));
    }
    if let Some((flash, _)) = &model.flash {
        second.push(Span::raw(g.dot));
        second.push(Span::styled(sanitize(flash), paint.title()));
    }
    screen.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

pub(super) fn warning_lines(model: &Model, paint: &Paint, height: u16) -> Vec<Line<'static>> {
    let limit = if height >= 40 { 5 } else { 3 };
    let all: Vec<&Row> = model.warnings().collect();
    let mut lines: Vec<Line<'static>> = all
        .iter()
        .take(limit)
        .map(|r| {
            let text: Vec<String> = r
                .warnings
                .iter()
                .map(|w| warning_text(*w, r, model))
                .collect();
            Line::from(vec![
                Span::styled("! ", paint.bad()),
                Span::styled(row_name(r, model), paint.title()),
                Span::raw(": "),
                Span::styled(text.join(", "), paint.warn()),
            ])
        })
        .collect();
    for r in model.runtime_rows.iter().rev() {
        for w in r.warnings.iter().rev() {
            lines.insert(0, runtime_warning(r, *w, paint));
        }
    }
    let status = model.frame().map(|f| f.status.clone()).unwrap_or_default();
    if status.overflow > 0 {
        lines.insert(
            0,
            Line::from(vec![
                Span::styled("! ", paint.bad()),
                Span::styled(
                    format!(
                        "{} data points over the series cap were not kept (raise --max-series)",
                        status.overflow
                    ),
                    paint.warn(),
                ),
            ]),
        );
    }
    if all.len() > limit {
        lines.push(Line::styled(
            format!("  and {} more (! shows only these)", all.len() - limit),
            paint.dim(),
        ));
    }
    lines
}

pub(super) fn warning_text(w: Warning, r: &Row, model: &Model) -> String {
    let g = &model.settings.glyphs;
    let l = &model.settings.limits;
    match w {
        Warning::ErrorRate => {
            let (rate, limit) = (100.0 - r.ok_percent().unwrap_or(0.0), l.error_rate * 100.0);
            // One more decimal when one would show the two as equal.
            if format!("{rate:.1}") == format!("{limit:.1}") {
                format!("errors {rate:.2}% > {limit:.2}%")
            } else {
                format!("errors {rate:.1}% > {limit:.1}%")
            }
        }
        Warning::SlowP99 => {
            let mut text = format!(
                "p99 {} > {}",
                format::opt_seconds(r.quantile(0.99), g),
                format::seconds(l.p99_budget, g)
            );
            // The cause may be the executor, not the function.
            if let Some(rt) = model.saturated_runtime(r) {
                text.push_str(&format!(
                    " while runtime {} is saturated",
                    sanitize(&rt.series.name)
                ));
            }
            text
        }
        Warning::Stuck => format!("{} in flight, none finishing", r.in_flight),
        Warning::SlowPolls => format!("{} slow polls", r.slow_polls),
        Warning::KindOverflow => w.label().to_string(),
    }
}

/// A runtime's warning line.
fn runtime_warning(r: &RuntimeRow, w: RuntimeWarning, paint: &Paint) -> Line<'static> {
    let s = &r.series;
    let text = match w {
        RuntimeWarning::Saturated => format!(
            "executor saturated: workers {} busy, global queue {} -> {}",
            share(r.busy),
            r.queue_before,
            s.global_queue_depth
        ),
        RuntimeWarning::BlockingPoolExhausted => format!(
            "blocking pool exhausted: {} threads busy, {} tasks waiting",
            s.blocking_threads.unwrap_or(0),
            s.blocking_queue_depth.unwrap_or(0)
        ),
    };
    Line::from(vec![
        Span::styled("! ", paint.bad()),
        Span::styled(format!("runtime {}", sanitize(&s.name)), paint.title()),
        Span::raw(": "),
        Span::styled(text, paint.warn()),
    ])
}

/// One line for the tokio runtimes (when the source has any): each one's workers' busy
/// share over the window, its global queue (and how it moved), its tasks, its blocking pool.
pub(super) fn runtime_strip(model: &Model, paint: &Paint) -> Option<Line<'static>> {
    if model.runtime_rows.is_empty() {
        return None;
    }
    let g = &model.settings.glyphs;
    let many_services = model.frame().is_some_and(|f| f.status.services > 1);
    let mut spans = vec![Span::styled("runtimes", paint.dim())];
    for r in &model.runtime_rows {
        let s = &r.series;
        spans.push(Span::raw(g.dot));
        let name = if many_services {
            format!("{}/{}", sanitize(&s.service), sanitize(&s.name))
        } else {
            sanitize(&s.name)
        };
        spans.push(Span::styled(format!("{name}: "), paint.title()));
        let busy = r.busy.map(|b| b * 100.0);
        let style = match busy {
            Some(b) if b >= 90.0 => paint.bad(),
            Some(b) if b >= 70.0 => paint.warn(),
            _ => ratatui::style::Style::new(),
        };
        spans.push(Span::styled(format!("busy {}", share(r.busy)), style));
        let queue = if s.global_queue_depth != r.queue_before {
            format!(", queue {} -> {}", r.queue_before, s.global_queue_depth)
        } else {
            format!(", queue {}", s.global_queue_depth)
        };
        spans.push(Span::raw(format!(
            "{queue}, {} tasks, {}",
            format::count(s.alive_tasks as u64),
            workers(s.workers)
        )));
        if let Some(threads) = s.blocking_threads {
            spans.push(Span::raw(format!(
                ", blocking {threads} ({} idle, {} waiting)",
                s.idle_blocking_threads.unwrap_or(0),
                s.blocking_queue_depth.unwrap_or(0)
            )));
        }
    }
    Some(Line::from(spans))
}

/// A share as a whole percentage, `-` when unknown.
pub(super) fn share(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

/// `1 worker`, `2 workers`.
pub(super) fn workers(n: usize) -> String {
    if n == 1 {
        "1 worker".to_owned()
    } else {
        format!("{n} workers")
    }
}
