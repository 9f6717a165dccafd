//! The latency histogram of a function's detail: the sender's own buckets, or fine buckets
//! gathered into powers of two.

use ratatui::Frame as Screen;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::frame::Bucket;
use crate::view::format::{self, sanitize};
use crate::view::model::Model;
use crate::view::rows::Row;
use crate::view::style::{Paint, block};

/// Fine buckets (HDR, exponential) as powers of two from the smallest value, merged until
/// they fit in `rows`.
pub(super) fn octave_bars(buckets: &[Bucket], rows: usize) -> Vec<Bucket> {
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
pub(super) fn merged_bars(own: &[Bucket], rows: usize) -> Vec<Bucket> {
    let step = own.len().div_ceil(rows.max(1)).max(1);
    own.chunks(step)
        .map(|group| Bucket {
            low: group[0].low,
            high: group[group.len() - 1].high,
            count: group.iter().map(|b| b.count).sum(),
        })
        .collect()
}

pub(super) fn draw_histogram(
    screen: &mut Screen<'_>,
    area: Rect,
    r: &Row,
    model: &Model,
    paint: &Paint,
) {
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
