//! The console's tasks by name, beside the functions.

use ratatui::Frame as Screen;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row as TableRow, Table};

use super::right;
use crate::frame::{TaskName, TaskState, Tasks};
use crate::view::format::{self, sanitize};
use crate::view::model::Model;
use crate::view::style::{Paint, block};

/// The console's tasks by name, finished ones included, beside the functions: `fn` marks a
/// name that is also a function's, whose detail shows the same totals.
pub(super) fn draw_tasks(
    screen: &mut Screen<'_>,
    area: Rect,
    tasks: &Tasks,
    model: &Model,
    paint: &Paint,
) {
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
pub(super) enum TaskColumn {
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

pub(super) fn task_cell(
    c: TaskColumn,
    n: &TaskName,
    model: &Model,
    paint: &Paint,
) -> Cell<'static> {
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
