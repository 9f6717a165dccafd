//! The Runtime screen: each tokio runtime's workers busy over time, its global queue over
//! time, its tasks and blocking pool, and tokio's poll-time histogram when it has one.

use ratatui::Frame as Screen;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::header::{share, workers};
use crate::view::format::{self, sanitize};
use crate::view::model::Model;
use crate::view::runtime_rows::RuntimeRow;
use crate::view::style::{Glyphs, Paint, block};

pub(super) fn draw_runtimes(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
    let g = &model.settings.glyphs;
    if model.runtime_rows.is_empty() {
        screen.render_widget(
            Paragraph::new(vec![
                Line::default(),
                Line::styled(
                    "no runtime is watched: start taskscope::runtime() in the app (cargo feature runtime)",
                    paint.dim(),
                ),
            ])
            .block(block("runtimes (r or Esc returns)", g)),
            area,
        );
        return;
    }
    let areas = Layout::vertical(
        model
            .runtime_rows
            .iter()
            .map(|r| Constraint::Length(panel_height(r))),
    )
    .split(area);
    for (r, area) in model.runtime_rows.iter().zip(areas.iter()) {
        draw_runtime(screen, *area, r, model, paint);
    }
}

/// Rows a runtime's panel needs: a line per worker, the queue, the totals, the poll times.
fn panel_height(r: &RuntimeRow) -> u16 {
    let workers = r.series.worker_busy.len().min(16) as u16;
    let polls = if r.series.poll_time.is_some() { 2 } else { 0 };
    2 + workers + 2 + polls
}

fn draw_runtime(screen: &mut Screen<'_>, area: Rect, r: &RuntimeRow, model: &Model, paint: &Paint) {
    let g = &model.settings.glyphs;
    let s = &r.series;
    let width = usize::from(area.width.saturating_sub(28)).clamp(8, 60);
    let mut lines = Vec::new();
    for (w, busy) in r.worker_busy.iter().enumerate().take(16) {
        let ticks: Vec<Option<f64>> = r
            .ticks
            .iter()
            .map(|t| t.workers.get(w).copied().flatten())
            .collect();
        lines.push(Line::from(vec![
            Span::raw(format!("worker {w:<3} busy {:>5}  ", share(*busy))),
            Span::styled(shares(&ticks, width, g), paint.fg(Color::Green)),
        ]));
    }
    let queue: Vec<u64> = r.ticks.iter().map(|t| t.queue as u64).collect();
    lines.push(Line::from(vec![
        Span::raw(format!("global queue {:>6}  ", s.global_queue_depth)),
        Span::styled(spark(&queue, width, g), paint.fg(Color::Cyan)),
    ]));
    let mut totals = format!(
        "all workers busy {}, {} tasks alive",
        share(r.busy),
        format::count(s.alive_tasks as u64)
    );
    if let Some(threads) = s.blocking_threads {
        totals.push_str(&format!(
            ", blocking pool {threads} threads ({} idle, {} tasks waiting)",
            s.idle_blocking_threads.unwrap_or(0),
            s.blocking_queue_depth.unwrap_or(0)
        ));
    }
    lines.push(Line::from(totals));
    if let Some(polls) = &s.poll_time {
        let p = |q: f64| format::opt_seconds(polls.quantile(q), g);
        lines.push(Line::from(format!(
            "polls {}: p50 {}, p99 {}, p99.9 {}",
            format::count(polls.count()),
            p(0.5),
            p(0.99),
            p(0.999)
        )));
    }
    let title = format!(
        "runtime {}{}{}{}{}",
        sanitize(&s.name),
        g.dot,
        sanitize(&s.service),
        g.dot,
        workers(s.workers)
    );
    screen.render_widget(Paragraph::new(lines).block(block(&title, g)), area);
}

/// The newest `width` shares (0 to 1) as a sparkline on a fixed scale: a full cell is 100 %.
fn shares(values: &[Option<f64>], width: usize, g: &Glyphs) -> String {
    let from = values.len().saturating_sub(width);
    values[from..]
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(b) => g.spark[((b * 7.0).round() as usize).min(7)],
        })
        .collect()
}

/// The newest `width` values as a sparkline.
fn spark(values: &[u64], width: usize, g: &Glyphs) -> String {
    let from = values.len().saturating_sub(width);
    g.sparkline(&values[from..])
}
