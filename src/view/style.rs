//! How the dashboard looks: its colours (or none), its glyphs (Unicode, or ASCII), its
//! borders. Every screen takes its styles from here.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::text::Line;
use ratatui::widgets::Block;

/// The glyphs of one character set: Unicode, or the ASCII fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Glyphs {
    /// Sparkline levels, lowest first.
    pub(crate) spark: [char; 8],
    /// A full cell of a bar.
    pub(crate) bar: char,
    /// Sort marks: descending, ascending.
    pub(crate) sort: (char, char),
    /// Separator in the header.
    pub(crate) dot: &'static str,
    /// The microsecond unit.
    pub(crate) micro: &'static str,
    /// The selected-row marker.
    pub(crate) cursor: &'static str,
    /// Whether borders may use line-drawing characters.
    pub(crate) unicode: bool,
    /// Stands for the part of a name cut out to fit.
    pub(crate) ellipsis: char,
    /// Marks an approximate value (a percentile from buckets too wide to trust).
    pub(crate) approx: char,
}

impl Glyphs {
    /// Unicode glyphs.
    pub(crate) const UNICODE: Glyphs = Glyphs {
        spark: ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'],
        bar: '█',
        sort: ('▼', '▲'),
        dot: " · ",
        micro: "µs",
        cursor: "▶",
        unicode: true,
        ellipsis: '…',
        approx: '≈',
    };
    /// The ASCII fallback: every glyph has one.
    pub(crate) const ASCII: Glyphs = Glyphs {
        spark: ['_', '.', ',', '-', '~', '=', '*', '#'],
        bar: '#',
        sort: ('v', '^'),
        dot: " | ",
        micro: "us",
        cursor: ">",
        unicode: false,
        ellipsis: '~',
        approx: '~',
    };

    /// A sparkline of `values` scaled to their maximum, one glyph per value.
    pub(crate) fn sparkline(&self, values: &[u64]) -> String {
        let max = values.iter().copied().max().unwrap_or(0);
        values
            .iter()
            .map(|&v| {
                if max == 0 || v == 0 {
                    ' '
                } else {
                    let level = ((v as f64 / max as f64) * 7.0).round() as usize;
                    self.spark[level.min(7)]
                }
            })
            .collect()
    }
}

/// Borders in ASCII.
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

/// The styles of the screens: colours, or none when `NO_COLOR` asks for it.
pub(crate) struct Paint {
    color: bool,
}

impl Paint {
    /// Colours on or off.
    pub(crate) fn new(color: bool) -> Paint {
        Paint { color }
    }
    /// Text in `c`.
    pub(crate) fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    /// What is wrong: red, or bold without colours.
    pub(crate) fn bad(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Red)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    /// What needs a look.
    pub(crate) fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    /// What matters less.
    pub(crate) fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
    /// Titles and headings.
    pub(crate) fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    /// The selected row.
    pub(crate) fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

/// A bordered panel with a bold title, in the glyphs' border set.
/// A bordered block with no title.
pub(crate) fn untitled(glyphs: &Glyphs) -> Block<'static> {
    let b = Block::bordered();
    if glyphs.unicode {
        b
    } else {
        b.border_set(ASCII_BORDER)
    }
}

pub(crate) fn block<'a>(title: &'a str, glyphs: &Glyphs) -> Block<'a> {
    let b = Block::bordered()
        .title(Line::from(format!(" {title} ")).style(Style::new().add_modifier(Modifier::BOLD)));
    if glyphs.unicode {
        b
    } else {
        b.border_set(ASCII_BORDER)
    }
}
