//! The call graph screen: the tree of measured calls from the roots over the window, each
//! line a function under the one that called it, with its calls from that caller, the busy
//! time they took (total, their callees included) and the part in its own code (self).

use ratatui::Frame as Screen;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::view::call_graph::TreeLine;
use crate::view::format::{self, sanitize};
use crate::view::model::Model;
use crate::view::style::{Paint, block};

/// Width of the numbers after the name: calls, total, self, wall.
const NUMBERS: usize = 8 + 9 + 9 + 9;

pub(super) fn draw_call_graph(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
    let g = &model.settings.glyphs;
    let title = format!(
        "call graph by {} busy time (c or Esc returns, Enter opens, h/l orders)",
        model.tree_sort.label()
    );
    if model.tree.is_empty() {
        screen.render_widget(
            Paragraph::new(vec![
                Line::default(),
                Line::styled(
                    "no calls between measured functions in this window yet",
                    paint.dim(),
                ),
            ])
            .block(block(&title, g)),
            area,
        );
        return;
    }
    let inner = usize::from(area.width.saturating_sub(2));
    let name_width = inner.saturating_sub(NUMBERS + 2).max(12);
    let height = usize::from(area.height.saturating_sub(3)).max(1);
    // Keep the selected line on screen.
    let first = model.tree_selected.saturating_sub(height - 1);
    let mut lines = vec![Line::styled(
        format!(
            "  {:<name_width$}{:>8}{:>9}{:>9}{:>9}",
            "function", "calls", "total", "self", "wall"
        ),
        paint.dim(),
    )];
    for (i, l) in model.tree.iter().enumerate().skip(first).take(height) {
        let text = line_text(l, name_width, model);
        let cursor = if i == model.tree_selected {
            g.cursor
        } else {
            " "
        };
        let style = if i == model.tree_selected {
            paint.selected()
        } else {
            ratatui::style::Style::default()
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{cursor} ")),
            Span::styled(text, style),
        ]));
    }
    screen.render_widget(Paragraph::new(lines).block(block(&title, g)), area);
}

fn line_text(l: &TreeLine, name_width: usize, model: &Model) -> String {
    let g = &model.settings.glyphs;
    let mark = if l.recursive {
        "~"
    } else if !l.has_children {
        " "
    } else if l.expanded {
        "-"
    } else {
        "+"
    };
    let indent = "  ".repeat(l.depth.min(12));
    let name = format!("{indent}{mark} {}", sanitize(&l.name));
    let e = &l.edge;
    format!(
        "{:<name_width$}{:>8}{:>9}{:>9}{:>9}",
        format::fit(&name, name_width, g),
        format::count(e.calls),
        format::seconds(e.busy, g),
        format::seconds(e.self_busy, g),
        format::seconds(e.wall, g),
    )
}
