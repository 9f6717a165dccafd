//! The plain-text performance report.

use std::fmt;
use std::time::Duration;

use super::snapshot::{Snapshot, snapshot};

/// A table of every measured function: calls, outcomes, success rate and latency. Print it
/// at exit, or wherever a quick look helps.
///
/// ```
/// #[taskscope::measure]
/// fn work() -> u32 { 7 }
///
/// work();
/// let text = taskscope::report().to_string();
/// assert!(text.contains("work"));
/// assert!(text.lines().next().unwrap().starts_with("function"));
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    snapshot: Snapshot,
}

/// The report of everything recorded so far.
pub fn report() -> Report {
    Report {
        snapshot: snapshot(),
    }
}

impl Report {
    /// A report of a given snapshot (a delta gives a report of one interval).
    pub fn of(snapshot: Snapshot) -> Self {
        Self { snapshot }
    }
}

const HEADER: [&str; 11] = [
    "function",
    "calls",
    "ok",
    "errors",
    "cancelled",
    "panicked",
    "success",
    "mean",
    "p50",
    "p99",
    "max",
];

/// `text` with every control character (C0 and C1, so escape sequences too) and every
/// bidirectional override or isolate replaced by U+FFFD: names made at run time (span
/// names, `name = ...`) can then never move the cursor, recolour the terminal or reorder
/// what is printed around them.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if unprintable(c) { '\u{FFFD}' } else { c })
        .collect()
}

/// Whether `c` must never reach a terminal as it is: a control character (C0, DEL, C1) or
/// a bidirectional override or isolate.
pub(crate) fn unprintable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 11]> = self
            .snapshot
            .functions
            .iter()
            .map(|s| {
                let wall = s.wall();
                [
                    printable(&format!("{}::{}", s.module, s.name)),
                    s.calls().to_string(),
                    s.ok.count.to_string(),
                    s.error.count.to_string(),
                    s.cancelled.count.to_string(),
                    s.panicked.count.to_string(),
                    s.success_rate()
                        .map_or("-".into(), |r| format!("{:.2}%", r * 100.0)),
                    human(wall.mean()),
                    human(wall.p50()),
                    human(wall.p99()),
                    human(wall.max()),
                ]
            })
            .collect();
        let mut widths = HEADER.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[&str]| -> fmt::Result {
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                let sep = if i + 1 == cells.len() { "\n" } else { "  " };
                if i == 0 {
                    write!(f, "{cell:<w$}{sep}")?;
                } else {
                    write!(f, "{cell:>w$}{sep}")?;
                }
            }
            Ok(())
        };
        line(f, &HEADER)?;
        for row in &rows {
            line(f, &row.each_ref().map(String::as_str))?;
        }
        Ok(())
    }
}

/// A duration with three significant digits and a unit: `812ns`, `1.25ms`, `3.40s`.
pub(crate) fn human(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    let (v, unit) = if ns < 1e3 {
        return format!("{ns:.0}ns");
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.digits$}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_nanos(812)), "812ns");
        assert_eq!(human(Duration::from_micros(1250)), "1.25ms");
        assert_eq!(human(Duration::from_millis(3400)), "3.40s");
        assert_eq!(human(Duration::from_micros(125)), "125µs");
    }
}
