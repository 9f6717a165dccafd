//! The plain-text performance report.

use std::fmt;
use std::time::Duration;

use super::runtime::RuntimeSnapshot;
use super::snapshot::{ErrorKindCount, FunctionSnapshot, Snapshot, snapshot};
use crate::words::text;

/// A table of every measured function: calls, outcomes, success rate, latency, self time
/// (busy time per call outside measured callees) and slow polls, with each function's error
/// kinds and their counts under it. Print it at exit, or
/// wherever a quick look helps.
///
/// ```
/// #[derive(Debug, taskscope::ErrorKind)]
/// enum LoadError { Missing, Corrupt }
///
/// #[taskscope::measure]
/// fn load(key: u32) -> Result<u32, LoadError> {
///     match key {
///         0 => Err(LoadError::Missing),
///         1 => Err(LoadError::Corrupt),
///         _ => Ok(key),
///     }
/// }
///
/// for key in [0, 0, 1, 2] {
///     let _ = load(key);
/// }
/// let text = taskscope::report().to_string();
/// // function  calls  ok  errors  cancelled  panicked  success  mean  p50  p99  max  self  slow polls
/// // doc::load     4   1       3          0         0   25.00%   ...
/// //   error: Missing  2
/// //   error: Corrupt  1
/// let lines: Vec<&str> = text.lines().collect();
/// assert!(lines[0].starts_with("function"));
/// let at = lines.iter().position(|l| l.contains("::load ")).unwrap();
/// assert_eq!(lines[at + 1].split_whitespace().collect::<Vec<_>>(), ["error:", "Missing", "2"]);
/// assert_eq!(lines[at + 2].split_whitespace().collect::<Vec<_>>(), ["error:", "Corrupt", "1"]);
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

const COLUMNS: usize = 13;

const HEADER: [&str; COLUMNS] = [
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
    "self",
    "slow polls",
];

/// The column of the errors, where each kind's count stands under its function's.
const ERRORS: usize = 3;

/// Error kinds listed under a function at most; the rest are summed on one line.
pub(crate) const REPORT_KINDS: usize = 5;

/// One function's line and the lines of its error kinds, as cells.
fn function_lines(f: &FunctionSnapshot) -> Vec<[String; COLUMNS]> {
    let wall = f.wall();
    // A function with no finished call has no durations: `-`, never `0ns`.
    let duration = |d: Duration| {
        if f.calls() == 0 {
            "-".to_owned()
        } else {
            text::duration(d.as_secs_f64(), "µs")
        }
    };
    let mut lines = vec![[
        text::printable(&crate::words::names::qualified(f.module, f.name)),
        f.calls().to_string(),
        f.ok.count.to_string(),
        f.error.count.to_string(),
        f.cancelled.count.to_string(),
        f.panicked.count.to_string(),
        f.success_rate()
            .map_or("-".into(), |r| format!("{:.2}%", r * 100.0)),
        duration(wall.mean()),
        duration(wall.p50()),
        duration(wall.p99()),
        duration(wall.max()),
        // Self busy time per call: the time in the function's own code; none for calls
        // timed by their wall time only (the patterns' waits, wall-only spans).
        if f.busy_ratio().is_none() {
            "-".to_owned()
        } else {
            duration(f.self_busy() / u32::try_from(f.calls().max(1)).unwrap_or(u32::MAX))
        },
        f.slow_polls().to_string(),
    ]];
    // Most frequent first, then by name: the same counts always print the same way.
    let mut kinds: Vec<&ErrorKindCount> = f.error_kinds.iter().filter(|k| k.count > 0).collect();
    kinds.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(b.kind)));
    let kind_line = |label: String, count: u64| {
        let mut cells: [String; COLUMNS] = Default::default();
        cells[0] = label;
        cells[ERRORS] = count.to_string();
        cells
    };
    for k in kinds.iter().take(REPORT_KINDS) {
        lines.push(kind_line(
            format!("  error: {}", text::printable(k.kind)),
            k.count,
        ));
    }
    if kinds.len() > REPORT_KINDS {
        let rest = &kinds[REPORT_KINDS..];
        lines.push(kind_line(
            format!("  error: {} more kinds", rest.len()),
            rest.iter().map(|k| k.count).sum(),
        ));
    }
    lines
}

impl fmt::Display for Report {
    /// One line per function (`-` for the durations of a function with no finished call),
    /// then one line per error kind under it, the most frequent first, at most five and
    /// then one line for the rest; each kind's count stands in the `errors` column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; COLUMNS]> = self
            .snapshot
            .functions
            .iter()
            .flat_map(function_lines)
            .collect();
        let mut widths = HEADER.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[&str]| -> fmt::Result {
            let last = cells.iter().rposition(|c| !c.is_empty()).unwrap_or(0);
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate().take(last + 1) {
                let sep = if i == last { "\n" } else { "  " };
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
        for r in &self.snapshot.runtimes {
            writeln!(f, "{}", runtime_line(r))?;
        }
        Ok(())
    }
}

/// One tokio runtime's last reading, as the report ends with it.
fn runtime_line(r: &RuntimeSnapshot) -> String {
    let busy = r
        .busy_share()
        .map_or_else(|| "-".to_owned(), |b| format!("{:.0}%", b * 100.0));
    let mut line = format!(
        "runtime {}: {} workers, busy {busy}, global queue {}, {} tasks alive",
        text::printable(&r.name),
        r.workers,
        r.global_queue_depth,
        r.alive_tasks
    );
    if let Some(u) = &r.unstable {
        line.push_str(&format!(
            ", blocking threads {} ({} idle, {} queued)",
            u.blocking_threads, u.idle_blocking_threads, u.blocking_queue_depth
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::record::snapshot::FunctionSnapshot;

    fn function(name: &'static str, ok: u64, kinds: &[(&'static str, u64)]) -> FunctionSnapshot {
        let mut f = FunctionSnapshot {
            name,
            module: "app",
            ..Default::default()
        };
        f.ok.count = ok;
        f.error.count = kinds.iter().map(|k| k.1).sum();
        f.error.slow_polls = 3;
        f.ok.slow_polls = 1;
        f.error_kinds = kinds
            .iter()
            .map(|&(kind, count)| ErrorKindCount { kind, count })
            .collect();
        f
    }

    fn text(functions: Vec<FunctionSnapshot>) -> String {
        Report::of(Snapshot {
            functions,
            ..Default::default()
        })
        .to_string()
    }

    #[test]
    fn error_kinds_stand_under_their_function_most_frequent_first_then_by_name() {
        let out = text(vec![
            function("load", 5, &[("Timeout", 2), ("Corrupt", 4), ("Missing", 2)]),
            function("save", 1, &[]),
        ]);
        let lines: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(lines[0].last(), Some(&"polls"), "{out}");
        assert_eq!(&lines[1][..4], ["app::load", "13", "5", "8"], "{out}");
        assert_eq!(
            lines[1].last(),
            Some(&"4"),
            "slow polls of every outcome\n{out}"
        );
        assert_eq!(lines[2], ["error:", "Corrupt", "4"], "{out}");
        assert_eq!(lines[3], ["error:", "Missing", "2"], "{out}");
        assert_eq!(lines[4], ["error:", "Timeout", "2"], "{out}");
        assert_eq!(lines[5][0], "app::save", "{out}");
        assert_eq!(lines.len(), 6, "{out}");
        // Each kind's count stands in the errors column, right-aligned like the row's.
        let row = out.lines().nth(1).unwrap();
        let kind = out.lines().nth(2).unwrap();
        let errors_end =
            |l: &str, cell: &str| l.find(&format!(" {cell}")).unwrap() + cell.len() + 1;
        assert_eq!(errors_end(kind, "4"), errors_end(row, "8"), "{out}");
        assert!(
            out.lines().all(|l| !l.ends_with(' ')),
            "no trailing blanks\n{out}"
        );
    }

    #[test]
    fn kinds_beyond_five_are_summed_on_one_line() {
        let kinds: Vec<(&'static str, u64)> = vec![
            ("a", 9),
            ("b", 8),
            ("c", 7),
            ("d", 6),
            ("e", 5),
            ("f", 4),
            ("g", 3),
        ];
        let out = text(vec![function("many", 0, &kinds)]);
        let lines: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(lines.len(), 2 + REPORT_KINDS + 1, "{out}");
        assert_eq!(
            lines[2 + REPORT_KINDS],
            ["error:", "2", "more", "kinds", "7"],
            "{out}"
        );
    }

    #[test]
    fn a_function_with_no_finished_call_shows_dashes_not_zero_durations() {
        let mut idle = function("idle", 0, &[]);
        idle.in_flight = 2;
        idle.ok.slow_polls = 0;
        idle.error.slow_polls = 0;
        let out = text(vec![idle]);
        let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(
            row,
            [
                "app::idle",
                "0",
                "0",
                "0",
                "0",
                "0",
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                "0"
            ]
        );
        assert!(!out.contains("0ns"), "{out}");
    }

    #[test]
    fn the_report_ends_with_each_runtime() {
        let mut snap = Snapshot::default();
        snap.runtimes.push(RuntimeSnapshot {
            name: "api\x1b[2J".into(),
            workers: 4,
            interval: std::time::Duration::from_secs(1),
            busy_in_interval: std::time::Duration::from_secs(3),
            global_queue_depth: 17,
            alive_tasks: 250,
            ..Default::default()
        });
        let out = Report::of(snap).to_string();
        let last = out.lines().last().unwrap();
        assert_eq!(
            last,
            "runtime api\u{FFFD}[2J: 4 workers, busy 75%, global queue 17, 250 tasks alive"
        );
    }
}
