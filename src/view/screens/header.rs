//! The two header lines (source, window, counts of loss) and the warnings under them.

use ratatui::Frame as Screen;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::row_name;
use crate::view::format::{self, sanitize};
use crate::view::model::Model;
use crate::view::rows::{Row, Warning};
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
        Warning::SlowP99 => format!(
            "p99 {} > {}",
            format::opt_seconds(r.quantile(0.99), g),
            format::seconds(l.p99_budget, g)
        ),
        Warning::Stuck => format!("{} in flight, none finishing", r.in_flight),
        Warning::SlowPolls => format!("{} slow polls", r.slow_polls),
        Warning::KindOverflow => w.label().to_string(),
    }
}
