//! The hint line under every screen and the `?` help, both written from the one key table.

use ratatui::Frame as Screen;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Borders, Clear, Paragraph};

use crate::view::format::sanitize;
use crate::view::keys::{KEYS, hints};
use crate::view::model::Model;
use crate::view::style::{Paint, block};

pub(super) fn draw_hints(screen: &mut Screen<'_>, area: Rect, model: &Model, paint: &Paint) {
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

pub(super) fn draw_help(screen: &mut Screen<'_>, area: Rect, model: &Model) {
    let g = &model.settings.glyphs;
    let width = 70.min(area.width);
    // Every key on a 24-row terminal: the bottom border goes when the lines need its row,
    // the top one (and the title: `?` says how to close) when they need that too.
    let shown: Vec<_> = KEYS
        .iter()
        .filter(|b| !b.replay || model.settings.replay)
        .collect();
    let keys = shown.len() as u16;
    let borders = if keys + 2 <= area.height {
        Borders::ALL
    } else if keys < area.height {
        Borders::TOP | Borders::LEFT | Borders::RIGHT
    } else {
        Borders::LEFT | Borders::RIGHT
    };
    let height = (keys
        + u16::from(borders.contains(Borders::TOP))
        + u16::from(borders.contains(Borders::BOTTOM)))
    .min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line<'_>> = shown
        .iter()
        .map(|b| Line::from(format!("{:>10}  {}", b.label, b.help)))
        .collect();
    let frame = if borders.contains(Borders::TOP) {
        block("keys (Esc closes)", g)
    } else {
        crate::view::style::untitled(g)
    }
    .borders(borders);
    screen.render_widget(Clear, popup);
    screen.render_widget(Paragraph::new(lines).block(frame), popup);
}
