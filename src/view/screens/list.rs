//! The function list: one row per function, the columns that fit the width.

use ratatui::Frame as Screen;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table};

use super::{right, row_name};
use crate::view::format;
use crate::view::model::{Column, Model};
use crate::view::rows::Row;
use crate::view::style::Paint;
use crate::words::function::Pattern;
use crate::words::outcome::Outcome;

/// Columns that fit `width`, in screen order: the most useful first, the sort column always.
pub(super) fn columns(width: u16, sort: Column, kind: Option<Pattern>) -> Vec<(Column, u16)> {
    // Retries put their attempts beside their outcome; the column means nothing for
    // another kind, and is shown only when asked for by sorting on it.
    const PRIORITY: [Column; 13] = [
        Column::Function,
        Column::Rate,
        Column::Ok,
        Column::Errors,
        Column::P50,
        Column::P99,
        Column::InFlight,
        Column::Max,
        Column::P90,
        Column::Busy,
        Column::SlowPolls,
        Column::Cancelled,
        Column::P999,
    ];
    let w = |c: Column| -> u16 {
        match c {
            Column::Function => 20,
            Column::Rate => 8 + 1 + SPARK,
            Column::Ok | Column::Busy | Column::Attempts => 6,
            Column::Errors if kind == Some(Pattern::Retry) => 7,
            Column::Errors => 6,
            Column::Cancelled | Column::InFlight | Column::SlowPolls => 5,
            _ => 7,
        }
    };
    let mut chosen = vec![Column::Function];
    let mut used = w(Column::Function) + 2;
    if sort != Column::Function {
        chosen.push(sort);
        used += w(sort) + 1;
    }
    if kind == Some(Pattern::Retry) && !chosen.contains(&Column::Attempts) {
        chosen.push(Column::Attempts);
        used += w(Column::Attempts) + 1;
    }
    for c in PRIORITY.into_iter().skip(1) {
        if chosen.contains(&c) {
            continue;
        }
        if used + w(c) < width {
            chosen.push(c);
            used += w(c) + 1;
        }
    }
    Column::ALL
        .into_iter()
        .filter(|c| chosen.contains(c))
        .map(|c| (c, w(c)))
        .collect()
}

const SPARK: u16 = 10;

/// The cell of column `c`; the name is fitted to `name_width` by cutting its middle.
pub(super) fn cell(
    r: &Row,
    c: Column,
    model: &Model,
    paint: &Paint,
    name_width: usize,
) -> Cell<'static> {
    let g = &model.settings.glyphs;
    let l = &model.settings.limits;
    // A counter has no latency: its distribution is empty and shows as `-`.
    let q = |q: f64| format::percentile(r.quantile(q), r.coarse, g);
    match c {
        Column::Function => Cell::from(format::fit(&row_name(r, model), name_width, g)),
        Column::Rate => {
            let ticks = &r.ticks[r.ticks.len().saturating_sub(SPARK as usize)..];
            Cell::from(Line::from(vec![
                Span::raw(format!("{:>8} ", format::rate(r.rate))),
                Span::styled(g.sparkline(ticks), paint.fg(Color::Cyan)),
            ]))
        }
        Column::Ok => {
            let ok = r.ok_percent();
            let style = match ok {
                Some(v) if v < 95.0 => paint.bad(),
                Some(v) if v < 99.0 => paint.warn(),
                Some(_) => paint.fg(Color::Green),
                None => paint.dim(),
            };
            right(format::percent(ok), style)
        }
        Column::Errors => right(
            format::count(r.failures()),
            if r.failures() > 0 {
                paint.bad()
            } else {
                Style::new()
            },
        ),
        Column::Cancelled => right(format::count(r.calls[Outcome::Cancelled]), Style::new()),
        Column::InFlight => right(r.in_flight.to_string(), Style::new()),
        Column::P50 => right(q(0.5), Style::new()),
        Column::P90 => right(q(0.9), Style::new()),
        Column::P99 => {
            let over = r.quantile(0.99).is_some_and(|p| p > l.p99_budget);
            right(q(0.99), if over { paint.bad() } else { Style::new() })
        }
        Column::P999 => right(q(0.999), Style::new()),
        Column::Attempts => right(
            r.attempts_per_call()
                .map_or_else(|| "-".into(), |a| format!("{a:.2}")),
            Style::new(),
        ),
        Column::Max => right(format::opt_seconds(r.latency.max(), g), Style::new()),
        Column::Busy => right(
            format::percent(r.busy_ratio.map(|b| b * 100.0)),
            Style::new(),
        ),
        Column::SlowPolls => right(
            if r.series.has_busy || r.slow_polls > 0 {
                format::count(r.slow_polls)
            } else {
                "-".into()
            },
            if r.slow_polls > 0 {
                paint.warn()
            } else {
                Style::new()
            },
        ),
    }
}

pub(super) fn draw_list(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
    let g = &model.settings.glyphs;
    let cols = columns(area.width, model.sort, model.kind);
    let header = TableRow::new(cols.iter().map(|(c, _)| {
        let mut title = c.title_for(model.kind).to_string();
        if *c == model.sort {
            title.push(if model.descending { g.sort.0 } else { g.sort.1 });
        }
        let cell = if *c == Column::Function {
            Cell::from(title)
        } else {
            Cell::from(Line::from(title).alignment(Alignment::Right))
        };
        cell.style(if *c == model.sort {
            paint.title().add_modifier(Modifier::UNDERLINED)
        } else {
            paint.title()
        })
    }));
    let visible = usize::from(area.height.saturating_sub(1)).max(1);
    let offset = (model.selected + 1).saturating_sub(visible);
    // The name column takes what the others leave (one cell between columns).
    let others: u16 = cols
        .iter()
        .filter(|(c, _)| *c != Column::Function)
        .map(|(_, w)| w + 1)
        .sum();
    let name_width = usize::from(area.width.saturating_sub(others).max(20));
    let rows = model
        .rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible)
        .map(|(i, r)| {
            let row = TableRow::new(
                cols.iter()
                    .map(|(c, _)| cell(r, *c, model, paint, name_width)),
            );
            if i == model.selected {
                row.style(paint.selected())
            } else {
                row
            }
        });
    let widths = cols.iter().map(|(c, w)| {
        if *c == Column::Function {
            Constraint::Min(*w)
        } else {
            Constraint::Length(*w)
        }
    });
    if model.rows.is_empty() {
        let text = if model.history.is_empty() {
            "waiting for the first data..."
        } else if model.total_rows > 0 {
            "no function matches the filter (Esc clears it)"
        } else {
            "no function has been called yet"
        };
        screen.render_widget(
            Paragraph::new(vec![Line::default(), Line::styled(text, paint.dim())])
                .alignment(Alignment::Center),
            area,
        );
        screen.render_widget(
            Table::new(Vec::<TableRow<'_>>::new(), widths).header(header),
            area,
        );
        return;
    }
    screen.render_widget(Table::new(rows, widths).header(header), area);
}
