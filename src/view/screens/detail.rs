//! A function's detail: the percentile ladder, outcomes, busy versus idle, error kinds, calls
//! per tick, and the latency histogram.

use ratatui::Frame as Screen;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::Paragraph;

use super::histogram::draw_histogram;
use crate::frame::SeriesKind;
use crate::view::format::{self, sanitize};
use crate::view::model::Model;
use crate::view::rows::Row;
use crate::view::style::{Glyphs, Paint, block};
use crate::words::outcome::Outcome;

pub(super) fn draw_detail(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
    let Some(r) = model.detail_row() else {
        screen.render_widget(
            Paragraph::new("this function is gone from the window (Esc goes back)"),
            area,
        );
        return;
    };
    let [title, top, middle] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(10),
        Constraint::Fill(1),
    ])
    .areas(area);
    screen.render_widget(heading(r, model, paint), title);
    let [ladder, outcomes, busy] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ])
    .areas(top);
    let g = &model.settings.glyphs;
    screen.render_widget(
        Paragraph::new(ladder_lines(r, g)).block(block("latency", g)),
        ladder,
    );
    screen.render_widget(
        Paragraph::new(outcome_lines(r)).block(block("outcomes", g)),
        outcomes,
    );
    screen.render_widget(
        Paragraph::new(busy_lines(r, busy.width, g, paint)).block(block("busy vs idle", g)),
        busy,
    );
    let [hist, right_col] =
        Layout::horizontal([Constraint::Fill(3), Constraint::Fill(2)]).areas(middle);
    draw_histogram(screen, hist, r, model, paint);
    let callees = model.callees(r);
    let graph = !r.callers.is_empty() || !callees.is_empty();
    // On a short terminal the call graph takes the calls chart's place.
    let chart_height = match (middle.height < 16, graph) {
        (true, true) => 0,
        (true, false) => 5,
        (false, _) => 7,
    };
    let [kinds, graph_area, chart] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Fill(if graph { 2 } else { 0 }),
        Constraint::Length(chart_height),
    ])
    .areas(right_col);
    screen.render_widget(
        Paragraph::new(kind_lines(r, kinds, g, paint)).block(block("error kinds", g)),
        kinds,
    );
    if graph {
        screen.render_widget(
            Paragraph::new(graph_lines(r, &callees, graph_area, g, paint))
                .block(block("callers < and callees >", g)),
            graph_area,
        );
    }
    if chart_height > 0 {
        draw_calls_chart(screen, chart, r, g, paint);
    }
}

/// The function's self time, who called it and what it called in the window: per line the
/// calls and the busy time they took (a callee's on this function's behalf).
fn graph_lines(
    r: &Row,
    callees: &[(std::sync::Arc<str>, &crate::frame::CallerEdge)],
    area: Rect,
    g: &Glyphs,
    paint: &Paint,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let calls = r.total().max(1) as f64;
    if let Some(own) = r.self_busy() {
        let busy = r.edge_busy();
        let share = if busy > 0.0 {
            format!(", {:.0}% of busy", own * 100.0 / busy)
        } else {
            String::new()
        };
        lines.push(Line::from(format!(
            "self {}/call{share}",
            format::seconds(own / calls, g)
        )));
    }
    let width = usize::from(area.width.saturating_sub(2));
    let name_width = width.saturating_sub(2 + 7 + 9).max(6);
    let room = usize::from(area.height.saturating_sub(2)).saturating_sub(lines.len());
    let entry = |mark: &str, name: &str, e: &crate::frame::CallerEdge| {
        Line::from(vec![
            Span::styled(mark.to_owned(), paint.dim()),
            Span::raw(format!(
                " {:<name_width$}{:>7}{:>9}",
                format::fit(&sanitize(name), name_width, g),
                format::count(e.calls),
                format::seconds(e.busy, g)
            )),
        ])
    };
    // Callers first, then callees, each list cut to its half of the room.
    let callers_room = if callees.is_empty() {
        room
    } else {
        room.div_ceil(2).min(r.callers.len().max(1))
    };
    for e in r.callers.iter().take(callers_room) {
        lines.push(entry("<", short(&e.caller), e));
    }
    let left = room.saturating_sub(r.callers.len().min(callers_room));
    for (name, e) in callees.iter().take(left) {
        lines.push(entry(">", short(name), e));
    }
    lines
}

/// A qualified name without its module: the function as the list shows it.
fn short(name: &str) -> &str {
    crate::words::names::split_qualified(name).1
}

/// The function's name, service, module and kind; a warning when its percentiles come from
/// wide buckets; the console's tasks of the same name, when the dashboard watches a console.
fn heading(r: &Row, model: &Model, paint: &Paint) -> Line<'static> {
    let g = &model.settings.glyphs;
    let s = &r.series;
    let kind = match s.kind {
        SeriesKind::Function => s.pattern.as_str(),
        SeriesKind::Histogram => "histogram",
        SeriesKind::Counter => "counter",
    };
    let mut heading = vec![
        Span::styled(sanitize(&s.function), paint.title()),
        Span::raw(format!(
            "{}{}{}{}{}{}",
            g.dot,
            sanitize(&s.service),
            g.dot,
            sanitize(&s.module),
            g.dot,
            kind
        )),
    ];
    if r.coarse {
        heading.push(Span::styled(
            format!(
                "{}{} percentiles from the sender's wide buckets",
                g.dot, g.approx
            ),
            paint.warn(),
        ));
    }
    if let Some(n) = model
        .frame()
        .and_then(|f| f.tasks.as_ref())
        .and_then(|t| t.named(&s.function))
    {
        heading.push(Span::styled(
            format!(
                "{}tasks: {} spawned, {} alive, {} done, busy {}, scheduled {}",
                g.dot,
                format::count(n.spawned),
                format::count(n.alive),
                format::count(n.completed),
                format::seconds(n.busy.as_secs_f64(), g),
                format::seconds(n.scheduled.as_secs_f64(), g)
            ),
            paint.dim(),
        ));
        if let Some(p) = n.poll_time {
            heading.push(Span::styled(
                format!(
                    ", poll p50 {} p99 {}",
                    format::seconds(p.p50.as_secs_f64(), g),
                    format::seconds(p.p99.as_secs_f64(), g)
                ),
                paint.dim(),
            ));
        }
    }
    Line::from(heading)
}

/// The percentile ladder, min to max (`-` for a counter, which has no latency).
fn ladder_lines(r: &Row, g: &Glyphs) -> Vec<Line<'static>> {
    let latency = r.series.kind != SeriesKind::Counter;
    let line = |name: &str, v: Option<f64>, coarse: bool| {
        Line::from(format!(
            "{name:>6}  {:>9}",
            if latency {
                format::percentile(v, coarse, g)
            } else {
                "-".into()
            }
        ))
    };
    let mut lines = vec![line("min", r.latency.min(), false)];
    for (name, q) in [
        ("p50", 0.5),
        ("p75", 0.75),
        ("p90", 0.9),
        ("p95", 0.95),
        ("p99", 0.99),
        ("p99.9", 0.999),
    ] {
        lines.push(line(name, r.quantile(q), r.latency.coarse(q)));
    }
    lines.push(line("max", r.latency.max(), false));
    lines
}

/// Calls by outcome with their shares, in flight, the rate and the ok share.
fn outcome_lines(r: &Row) -> Vec<Line<'static>> {
    let total = r.total().max(1) as f64;
    let mut lines: Vec<Line<'static>> = r
        .calls
        .iter()
        .map(|(outcome, &n)| {
            Line::from(format!(
                "{:<9}{:>7}{:>6.1}%",
                outcome.as_str(),
                format::count(n),
                n as f64 * 100.0 / total
            ))
        })
        .collect();
    for (name, value) in [
        ("in flight", r.in_flight.to_string()),
        ("calls/s", format::rate(r.rate)),
        ("ok%", format::percent(r.ok_percent())),
    ] {
        lines.push(Line::from(format!("{name:<9}{value:>7}")));
    }
    lines
}

/// Busy versus idle with a bar, and the polls (`-` for a source that sends no busy time,
/// an SDK's histograms, which sends no polls either).
fn busy_lines(r: &Row, width: u16, g: &Glyphs, paint: &Paint) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(b) = r.busy_ratio {
        lines.push(Line::from(format!("busy  {:>6.1}%", b * 100.0)));
        lines.push(Line::from(format!("idle  {:>6.1}%", (1.0 - b) * 100.0)));
        let width = usize::from(width.saturating_sub(4)).min(40);
        let filled = (b * width as f64).round() as usize;
        lines.push(Line::from(vec![
            Span::styled(g.bar.to_string().repeat(filled), paint.fg(Color::Green)),
            Span::styled(
                g.spark[0].to_string().repeat(width - filled.min(width)),
                paint.dim(),
            ),
        ]));
    } else {
        lines.push(Line::from("busy  -"));
    }
    let polled = r.series.has_busy || r.polls > 0;
    let polls = |n: u64| if polled { format::count(n) } else { "-".into() };
    lines.push(Line::from(format!("polls      {:>8}", polls(r.polls))));
    lines.push(Line::from(format!(
        "polls/call {:>8}",
        if polled && r.total() > 0 {
            format!("{:.1}", r.polls as f64 / r.total() as f64)
        } else {
            "-".into()
        }
    )));
    let slow = Span::styled(
        format!("slow polls {:>8}", polls(r.slow_polls)),
        if r.slow_polls > 0 {
            paint.warn()
        } else {
            Style::new()
        },
    );
    lines.push(Line::from(slow));
    if r.scheduling.count() > 0 {
        // `#[measure(scheduling)]`: how long the runtime took to come back after a wake.
        let q = |q: f64| format::opt_seconds(r.scheduling.quantile(q), g);
        lines.push(Line::from(format!("sched p50  {:>8}", q(0.5))));
        let mut p99 = format!("sched p99  {:>8}", q(0.99));
        if width >= 34 {
            p99.push_str(&format!(
                "  max {}",
                format::opt_seconds(r.scheduling.max(), g)
            ));
        }
        lines.push(Line::from(p99));
    }
    if r.attempts.count() > 0 {
        // A retried operation: how many tries its calls took, and how many gave up.
        let ops = r.attempts.count();
        let first_try: u64 = r
            .attempts
            .buckets()
            .iter()
            .filter(|b| b.high <= 1.0)
            .map(|b| b.count)
            .sum();
        let retried = ops.saturating_sub(first_try);
        let per_op = r.attempts_per_call().unwrap_or(0.0);
        let max = r
            .attempts
            .max()
            .map_or_else(|| "-".into(), |m| format!("{m:.0}"));
        lines.push(Line::from(format!(
            "attempts   {per_op:>6.2}/op  max {max}  gave up {}",
            format::count(r.calls[Outcome::Error]),
        )));
        // Operations by their attempts: at the first try, after one retry, after more.
        let second: u64 = r
            .attempts
            .buckets()
            .iter()
            .filter(|b| b.high > 1.0 && b.high <= 2.0)
            .map(|b| b.count)
            .sum();
        lines.push(Line::from(format!(
            "tries      1: {}  2: {}  3+: {}",
            format::count(first_try),
            format::count(second),
            format::count(retried.saturating_sub(second)),
        )));
    }
    lines
}

/// The error kinds of the window: count, share of the errors, and when last seen.
fn kind_lines(r: &Row, area: Rect, g: &Glyphs, paint: &Paint) -> Vec<Line<'static>> {
    let kind_width = usize::from(area.width.saturating_sub(2))
        .saturating_sub(19)
        .clamp(6, 40);
    let failures = r.calls[Outcome::Error].max(1) as f64;
    let mut lines: Vec<Line<'static>> = r
        .kinds
        .iter()
        .take(usize::from(area.height.saturating_sub(2)))
        .map(|k| {
            Line::from(format!(
                "{:<kind_width$} {:>6} {:>4.0}% {:>5}",
                format::fit(&sanitize(&k.kind), kind_width, g),
                format::count(k.count),
                k.count as f64 * 100.0 / failures,
                k.age.map_or("-".into(), format::window)
            ))
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled("no errors in the window", paint.dim()));
    }
    lines
}

/// Calls per tick over the last ticks that fit, as bars.
fn draw_calls_chart(screen: &mut Screen<'_>, area: Rect, r: &Row, g: &Glyphs, paint: &Paint) {
    let inner = area.height.saturating_sub(2);
    let width = usize::from(area.width.saturating_sub(2));
    let ticks = &r.ticks[r.ticks.len().saturating_sub(width)..];
    let peak = ticks.iter().copied().max().unwrap_or(0);
    screen.render_widget(
        Paragraph::new(bar_chart(ticks, inner, g))
            .style(paint.fg(Color::Cyan))
            .block(block(&format!("calls per tick (peak {peak})"), g)),
        area,
    );
}

/// A chart of `values` `height` rows tall, one column per value.
fn bar_chart(values: &[u64], height: u16, g: &Glyphs) -> Text<'static> {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let h = f64::from(height.max(1));
    (0..height)
        .map(|row| {
            let floor = f64::from(height - 1 - row);
            let line: String = values
                .iter()
                .map(|&v| {
                    let level = v as f64 / max * h - floor;
                    if v == 0 || level <= 0.0 {
                        ' '
                    } else if level >= 1.0 {
                        g.bar
                    } else {
                        g.spark[((level * 8.0).ceil() as usize).clamp(1, 8) - 1]
                    }
                })
                .collect();
            Line::from(line)
        })
        .collect::<Vec<_>>()
        .into()
}
