//! The screens, as functions of the model: they read it and never change it.

use ratatui::Frame as Screen;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row as TableRow, Table};

use super::format::{self, Glyphs, sanitize};
use super::keys::{KEYS, hints};
use super::model::{Column, Model, Screen as Page};
use super::rows::{Row, Warning};
use super::series::{Bucket, SeriesKind};
use super::tasks::{TaskName, TaskState, Tasks};
use crate::words::outcome::Outcome;

const ASCII_BORDER: border::Set<'static> = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// Colours, or none when `NO_COLOR` asks for it.
struct Paint {
    color: bool,
}

impl Paint {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    fn bad(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Red)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
    fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

fn block<'a>(title: &'a str, glyphs: &Glyphs) -> Block<'a> {
    let b = Block::bordered().title(Line::from(format!(" {title} ")).bold());
    if glyphs.unicode {
        b
    } else {
        b.border_set(ASCII_BORDER)
    }
}

trait Bold<'a> {
    fn bold(self) -> Line<'a>;
}
impl<'a> Bold<'a> for Line<'a> {
    fn bold(self) -> Line<'a> {
        self.style(Style::new().add_modifier(Modifier::BOLD))
    }
}

/// Draws the whole screen.
pub fn draw(screen: &mut Screen<'_>, model: &Model) {
    let area = screen.area();
    let paint = Paint {
        color: model.settings.color,
    };
    let warnings = if matches!(model.screen, Page::List) {
        warning_lines(model, &paint, area.height)
    } else {
        Vec::new()
    };
    let [header, warn, body, hint] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(warnings.len() as u16),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(screen, header, model, &paint);
    screen.render_widget(Paragraph::new(warnings), warn);
    let tasks = model
        .frame()
        .and_then(|f| f.tasks.clone())
        .filter(|_| model.show_tasks);
    match &model.screen {
        Page::List => match tasks {
            Some(tasks) => {
                let [list, below] =
                    Layout::vertical([Constraint::Fill(3), Constraint::Fill(2)]).areas(body);
                draw_list(screen, list, model, &paint);
                draw_tasks(screen, below, &tasks, model, &paint);
            }
            None => draw_list(screen, body, model, &paint),
        },
        Page::Detail(..) => draw_detail(screen, body, model, &paint),
    }
    draw_hints(screen, hint, model, &paint);
    if model.help {
        draw_help(screen, area, model);
    }
}

fn draw_header(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
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

fn warning_lines(model: &Model, paint: &Paint, height: u16) -> Vec<Line<'static>> {
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

fn warning_text(w: Warning, r: &Row, model: &Model) -> String {
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

fn row_name(r: &Row, model: &Model) -> String {
    let many = model.frame().is_some_and(|f| f.status.services > 1);
    if many {
        format!(
            "{} > {}",
            sanitize(&r.series.service),
            sanitize(&r.series.function)
        )
    } else {
        sanitize(&r.series.function)
    }
}

/// Columns that fit `width`, in screen order: the most useful first, the sort column always.
fn columns(width: u16, sort: Column) -> Vec<(Column, u16)> {
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
            Column::Ok | Column::Busy => 6,
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
fn cell(r: &Row, c: Column, model: &Model, paint: &Paint, name_width: usize) -> Cell<'static> {
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

fn right(text: String, style: Style) -> Cell<'static> {
    Cell::from(Line::from(text).alignment(Alignment::Right)).style(style)
}

fn draw_list(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
    let g = &model.settings.glyphs;
    let cols = columns(area.width, model.sort);
    let header = TableRow::new(cols.iter().map(|(c, _)| {
        let mut title = c.title().to_string();
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

fn draw_detail(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
    let g = &model.settings.glyphs;
    let Some(r) = model.detail_row() else {
        screen.render_widget(
            Paragraph::new("this function is gone from the window (Esc goes back)"),
            area,
        );
        return;
    };
    let s = &r.series;
    let [title, top, middle] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(10),
        Constraint::Fill(1),
    ])
    .areas(area);
    let kind = match s.kind {
        SeriesKind::Function => "function",
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
    // The console's tasks of the same name, when the dashboard watches a console.
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
    screen.render_widget(Line::from(heading), title);
    let [ladder, outcomes, busy] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ])
    .areas(top);
    // Percentile ladder.
    let mut lines = Vec::new();
    let latency = s.kind != SeriesKind::Counter;
    let mut ladder_row = |name: &str, v: Option<f64>, coarse: bool| {
        lines.push(Line::from(format!(
            "{name:>6}  {:>9}",
            if latency {
                format::percentile(v, coarse, g)
            } else {
                "-".into()
            }
        )));
    };
    ladder_row("min", r.latency.min(), false);
    for (name, q) in [
        ("p50", 0.5),
        ("p75", 0.75),
        ("p90", 0.9),
        ("p95", 0.95),
        ("p99", 0.99),
        ("p99.9", 0.999),
    ] {
        ladder_row(name, r.quantile(q), r.latency.coarse(q));
    }
    ladder_row("max", r.latency.max(), false);
    screen.render_widget(Paragraph::new(lines).block(block("latency", g)), ladder);
    // Outcomes.
    let total = r.total().max(1) as f64;
    let mut lines = Vec::new();
    for (outcome, &n) in r.calls.iter() {
        lines.push(Line::from(format!(
            "{:<9}{:>7}{:>6.1}%",
            outcome.as_str(),
            format::count(n),
            n as f64 * 100.0 / total
        )));
    }
    lines.push(Line::from(format!("{:<9}{:>7}", "in flight", r.in_flight)));
    lines.push(Line::from(format!(
        "{:<9}{:>7}",
        "calls/s",
        format::rate(r.rate)
    )));
    lines.push(Line::from(format!(
        "{:<9}{:>7}",
        "ok%",
        format::percent(r.ok_percent())
    )));
    screen.render_widget(Paragraph::new(lines).block(block("outcomes", g)), outcomes);
    // Busy vs idle.
    let mut lines = Vec::new();
    if let Some(b) = r.busy_ratio {
        lines.push(Line::from(format!("busy  {:>6.1}%", b * 100.0)));
        lines.push(Line::from(format!("idle  {:>6.1}%", (1.0 - b) * 100.0)));
        let width = usize::from(busy.width.saturating_sub(4)).min(40);
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
    // A source that sends no busy time (an SDK's histograms) sends no polls either.
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
    screen.render_widget(Paragraph::new(lines).block(block("busy vs idle", g)), busy);

    let [hist, right_col] =
        Layout::horizontal([Constraint::Fill(3), Constraint::Fill(2)]).areas(middle);
    draw_histogram(screen, hist, r, model, paint);
    let chart_height = if middle.height < 16 { 5 } else { 7 };
    let [kinds, chart] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(chart_height)]).areas(right_col);
    let kind_width = usize::from(kinds.width.saturating_sub(2))
        .saturating_sub(19)
        .clamp(6, 40);
    let failures = r.calls[Outcome::Error].max(1) as f64;
    let mut lines: Vec<Line<'_>> = r
        .kinds
        .iter()
        .take(usize::from(kinds.height.saturating_sub(2)))
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
    screen.render_widget(Paragraph::new(lines).block(block("error kinds", g)), kinds);
    let inner = chart.height.saturating_sub(2);
    let width = usize::from(chart.width.saturating_sub(2));
    let ticks = &r.ticks[r.ticks.len().saturating_sub(width)..];
    let peak = ticks.iter().copied().max().unwrap_or(0);
    screen.render_widget(
        Paragraph::new(bar_chart(ticks, inner, g))
            .style(paint.fg(Color::Cyan))
            .block(block(&format!("calls per tick (peak {peak})"), g)),
        chart,
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

/// Fine buckets (HDR, exponential) as powers of two from the smallest value, merged until
/// they fit in `rows`.
fn octave_bars(buckets: &[Bucket], rows: usize) -> Vec<Bucket> {
    let (Some(first), Some(last)) = (buckets.first(), buckets.last()) else {
        return Vec::new();
    };
    let low = first.low.max(1e-9);
    let high = last.high.max(low * 2.0);
    let mut octaves = (high / low).log2().ceil().max(1.0) as usize;
    let mut step = 1;
    while octaves.div_ceil(step) > rows {
        step += 1;
    }
    octaves = octaves.div_ceil(step);
    let mut counts = vec![0u64; octaves];
    for b in buckets {
        let mid = if b.low > 0.0 {
            (b.low * b.high).sqrt()
        } else {
            b.high
        };
        let i = ((mid.max(low) / low).log2() / step as f64).floor() as usize;
        counts[i.min(octaves - 1)] += b.count;
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let from = low * (2f64).powi((i * step) as i32);
            Bucket {
                low: from,
                high: from * (2f64).powi(step as i32),
                count,
            }
        })
        .collect()
}

/// The sender's own buckets, neighbours merged until they fit in `rows`: a bar never claims
/// a range narrower than the bucket the sender counted in.
fn merged_bars(own: &[Bucket], rows: usize) -> Vec<Bucket> {
    let step = own.len().div_ceil(rows.max(1)).max(1);
    own.chunks(step)
        .map(|group| Bucket {
            low: group[0].low,
            high: group[group.len() - 1].high,
            count: group.iter().map(|b| b.count).sum(),
        })
        .collect()
}

fn draw_histogram(screen: &mut Screen<'_>, area: Rect, r: &Row, model: &Model, paint: &Paint) {
    let g = &model.settings.glyphs;
    let buckets = r.latency.buckets();
    let rows = usize::from(area.height.saturating_sub(2)).max(1);
    let mut lines = Vec::new();
    let bars = match r.latency.sender_buckets() {
        Some(own) => merged_bars(&own, rows),
        None => octave_bars(&buckets, rows),
    };
    if !bars.is_empty() {
        let max = bars.iter().map(|b| b.count).max().unwrap_or(1).max(1);
        let label_width = 21;
        let bar_width = usize::from(area.width.saturating_sub(2)).saturating_sub(label_width + 9);
        for b in &bars {
            let c = b.count;
            let filled = (c as f64 / max as f64 * bar_width as f64).ceil() as usize;
            lines.push(Line::from(vec![
                Span::raw(format!(
                    "{:>9} - {:<9} ",
                    format::seconds(b.low, g),
                    format::seconds(b.high, g)
                )),
                Span::styled(
                    g.bar
                        .to_string()
                        .repeat(if c > 0 { filled.max(1) } else { 0 }),
                    paint.fg(Color::Magenta),
                ),
                Span::raw(format!(" {}", format::count(c))),
            ]));
        }
    } else {
        lines.push(Line::styled("no finished calls in the window", paint.dim()));
    }
    let unit = if &*r.series.unit == "s" {
        String::new()
    } else {
        format!(" ({})", sanitize(&r.series.unit))
    };
    screen.render_widget(
        Paragraph::new(lines).block(block(&format!("latency histogram{unit}"), g)),
        area,
    );
}

fn draw_hints(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
    let line = if let Some(text) = &model.editing {
        Line::from(vec![
            Span::styled("filter: ", paint.title()),
            Span::raw(sanitize(text)),
            Span::styled("_", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::styled("   Enter applies, Esc cancels", paint.dim()),
        ])
    } else {
        let mut spans = Vec::new();
        for (key, word) in hints() {
            spans.push(Span::styled(
                key,
                paint.title().add_modifier(Modifier::REVERSED),
            ));
            spans.push(Span::raw(format!(" {word}  ")));
        }
        Line::from(spans)
    };
    screen.render_widget(line, area);
}

fn draw_help(screen: &mut Screen<'_>, area: Rect, model: &Model) {
    let g = &model.settings.glyphs;
    let width = 70.min(area.width);
    let height = (KEYS.len() as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line<'_>> = KEYS
        .iter()
        .map(|b| Line::from(format!("{:>10}  {}", b.label, b.help)))
        .collect();
    screen.render_widget(Clear, popup);
    screen.render_widget(
        Paragraph::new(lines).block(block("keys (Esc closes)", g)),
        popup,
    );
}

/// The console's tasks by name, finished ones included, beside the functions: `fn` marks a
/// name that is also a function's, whose detail shows the same totals.
fn draw_tasks(screen: &mut Screen<'_>, area: Rect, tasks: &Tasks, model: &Model, paint: &Paint) {
    let g = &model.settings.glyphs;
    let alive: u64 = tasks.names.iter().map(|n| n.alive).sum();
    let title = format!(
        "tasks{}{}{}{}{}{} names, {} tasks alive: {} running, {} scheduled, {} idle",
        g.dot,
        sanitize(&tasks.url),
        g.dot,
        sanitize(&tasks.connection),
        g.dot,
        tasks.names.len(),
        alive,
        tasks.count(TaskState::Running),
        tasks.count(TaskState::Scheduled),
        tasks.count(TaskState::Idle),
    );
    // Every column on a wide screen; at 80 columns the totals give way to the times.
    let wide = area.width >= 116;
    let shown: Vec<TaskColumn> = TaskColumn::ALL
        .into_iter()
        .filter(|c| wide || !c.wide_only())
        .collect();
    let header = TableRow::new(shown.iter().map(|c| {
        let cell = if *c == TaskColumn::Name || *c == TaskColumn::Function {
            Cell::from(c.title())
        } else {
            Cell::from(Line::from(c.title()).alignment(Alignment::Right))
        };
        cell.style(paint.title())
    }));
    let visible = usize::from(area.height.saturating_sub(3));
    let rows = tasks.names.iter().take(visible).map(|n| {
        TableRow::new(
            shown
                .iter()
                .map(|c| task_cell(*c, n, model, paint))
                .collect::<Vec<_>>(),
        )
    });
    let widths: Vec<Constraint> = shown.iter().map(|c| c.width()).collect();
    screen.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(&title, g)),
        area,
    );
}

/// A column of the Tasks view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskColumn {
    Name,
    Spawned,
    Alive,
    Done,
    Busy,
    Scheduled,
    Polls,
    PerTask,
    PollP50,
    PollP99,
    ScheduledP50,
    ScheduledP99,
    Function,
}

impl TaskColumn {
    const ALL: [TaskColumn; 13] = [
        TaskColumn::Name,
        TaskColumn::Spawned,
        TaskColumn::Alive,
        TaskColumn::Done,
        TaskColumn::Busy,
        TaskColumn::Scheduled,
        TaskColumn::Polls,
        TaskColumn::PerTask,
        TaskColumn::PollP50,
        TaskColumn::PollP99,
        TaskColumn::ScheduledP50,
        TaskColumn::ScheduledP99,
        TaskColumn::Function,
    ];

    fn title(self) -> &'static str {
        match self {
            TaskColumn::Name => "task name",
            TaskColumn::Spawned => "spawned",
            TaskColumn::Alive => "alive",
            TaskColumn::Done => "done",
            TaskColumn::Busy => "busy",
            TaskColumn::Scheduled => "sched",
            TaskColumn::Polls => "polls",
            TaskColumn::PerTask => "per task",
            TaskColumn::PollP50 => "poll p50",
            TaskColumn::PollP99 => "poll p99",
            TaskColumn::ScheduledP50 => "sch p50",
            TaskColumn::ScheduledP99 => "sch p99",
            TaskColumn::Function => "fn",
        }
    }

    /// Shown only when the screen is wide enough for every column.
    fn wide_only(self) -> bool {
        matches!(
            self,
            TaskColumn::Done
                | TaskColumn::Scheduled
                | TaskColumn::PerTask
                | TaskColumn::ScheduledP50
        )
    }

    fn width(self) -> Constraint {
        match self {
            TaskColumn::Name => Constraint::Min(16),
            TaskColumn::Alive => Constraint::Length(5),
            TaskColumn::Spawned | TaskColumn::Done | TaskColumn::Polls => Constraint::Length(7),
            TaskColumn::Function => Constraint::Length(3),
            _ => Constraint::Length(8),
        }
    }
}

fn task_cell(c: TaskColumn, n: &TaskName, model: &Model, paint: &Paint) -> Cell<'static> {
    let g = &model.settings.glyphs;
    let seconds = |t: Option<f64>| right(format::opt_seconds(t, g), Style::new());
    let time = |t: Option<std::time::Duration>| seconds(t.map(|t| t.as_secs_f64()));
    match c {
        TaskColumn::Name if n.name.is_empty() => Cell::from("(unnamed)"),
        TaskColumn::Name => Cell::from(sanitize(&n.name)),
        TaskColumn::Spawned => right(format::count(n.spawned), Style::new()),
        TaskColumn::Alive => right(
            format::count(n.alive),
            if n.alive > 0 {
                paint.fg(Color::Green)
            } else {
                Style::new()
            },
        ),
        TaskColumn::Done => right(format::count(n.completed), Style::new()),
        TaskColumn::Busy => time(Some(n.busy)),
        TaskColumn::Scheduled => time(Some(n.scheduled)),
        TaskColumn::Polls => right(format::count(n.polls), Style::new()),
        TaskColumn::PerTask => {
            seconds((n.spawned > 0).then(|| n.busy.as_secs_f64() / n.spawned as f64))
        }
        TaskColumn::PollP50 => time(n.poll_time.map(|t| t.p50)),
        TaskColumn::PollP99 => time(n.poll_time.map(|t| t.p99)),
        TaskColumn::ScheduledP50 => time(n.scheduled_time.map(|t| t.p50)),
        TaskColumn::ScheduledP99 => time(n.scheduled_time.map(|t| t.p99)),
        TaskColumn::Function => {
            let function = model.rows.iter().any(|r| *r.series.function == *n.name);
            Cell::from(if function { "yes" } else { "" }).style(paint.dim())
        }
    }
}
