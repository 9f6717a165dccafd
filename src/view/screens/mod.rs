//! The screens, as functions of the model: they read it and never change it. One file per
//! screen (the function list, a function's detail, the console's tasks, the help), and the
//! header and hint line they share.

mod call_graph;
mod detail;
mod header;
mod help;
mod histogram;
mod list;
mod runtime;
mod tasks;

use ratatui::Frame as Screen;
use ratatui::layout::{Alignment, Constraint, Layout};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph};

use super::format::sanitize;
use super::model::{Model, Screen as Page};
use super::rows::Row;
use super::style::Paint;

/// Draws the whole screen.
pub(crate) fn draw(screen: &mut Screen<'_>, model: &Model) {
    let area = screen.area();
    let paint = Paint::new(model.settings.color);
    let warnings = if matches!(model.screen, Page::List) {
        header::warning_lines(model, &paint, area.height)
    } else {
        Vec::new()
    };
    let strip = header::runtime_strip(model, &paint);
    let [header, warn, body, hint] = Layout::vertical([
        Constraint::Length(if strip.is_some() { 3 } else { 2 }),
        Constraint::Length(warnings.len() as u16),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw_header(screen, header, model, &paint);
    if let Some(strip) = strip {
        let [_, third] =
            Layout::vertical([Constraint::Length(2), Constraint::Length(1)]).areas(header);
        screen.render_widget(strip, third);
    }
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
                list::draw_list(screen, list, model, &paint);
                tasks::draw_tasks(screen, below, &tasks, model, &paint);
            }
            None => list::draw_list(screen, body, model, &paint),
        },
        Page::Detail(..) => detail::draw_detail(screen, body, model, &paint),
        Page::Runtime => runtime::draw_runtimes(screen, body, model, &paint),
        Page::CallGraph => call_graph::draw_call_graph(screen, body, model, &paint),
    }
    help::draw_hints(screen, hint, model, &paint);
    if model.help {
        help::draw_help(screen, area, model);
    }
}

pub(super) fn row_name(r: &Row, model: &Model) -> String {
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

pub(super) fn right(text: String, style: Style) -> Cell<'static> {
    Cell::from(Line::from(text).alignment(Alignment::Right)).style(style)
}
