//! The dashboard's state, and `update`: the only way it changes. `update` is pure: side
//! effects (writing the export files, redrawing the whole screen, quitting) come back as an
//! [`Effect`] for the runner to carry out.

use std::cmp::Ordering;
use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use std::collections::HashSet;

use super::call_graph::{Node, TreeLine, TreeSort, tree};
use super::keys::{Action, action_for};
use super::rows::{History, Limits, Row, Window, rows};
use super::runtime_rows::{RuntimeRow, RuntimeTicks, runtime_rows};
use super::style::Glyphs;
use crate::frame::Frame;
use crate::words::function::Pattern;
use crate::words::outcome::Outcome;

/// A message to the model.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// A new frame from the source.
    Frame(Frame),
    /// The export files were written (their names) or could not be (the reason).
    Exported(Result<Vec<String>, String>),
    /// The terminal has this many rows (for paging).
    Resize(u16),
}

/// What the runner must do after an update.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Nothing but redraw.
    None,
    /// Leave the dashboard.
    Quit,
    /// Write the visible table and the snapshot.
    Export,
    /// Clear the screen and draw it whole.
    Redraw,
    /// Tell a replayed source (pause, speed, step, jump).
    Replay(ReplayCommand),
}

/// What the dashboard asks of a replayed recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReplayCommand {
    /// Pause (true) or play.
    Pause(bool),
    /// Faster.
    Faster,
    /// Slower.
    Slower,
    /// One refresh's worth.
    Step,
    /// Seconds forward (negative: back).
    Jump(i64),
}

/// How far a replay's jump keys move, in seconds.
const JUMP_SECONDS: i64 = 10;

/// A column of the function list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Column {
    /// Service and function name.
    Function,
    /// Calls per second, with a sparkline.
    Rate,
    /// Share of ok calls.
    Ok,
    /// Errors (and panics).
    Errors,
    /// Cancelled calls.
    Cancelled,
    /// Calls in flight.
    InFlight,
    /// Median latency.
    P50,
    /// 90th percentile.
    P90,
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    P999,
    /// Largest latency.
    Max,
    /// Busy (polled) share of wall time.
    Busy,
    /// Slow polls.
    SlowPolls,
    /// Attempts per call of a retried operation.
    Attempts,
}

impl Column {
    /// Every column, in screen order.
    pub(crate) const ALL: [Column; 14] = [
        Column::Function,
        Column::Rate,
        Column::Ok,
        Column::Errors,
        Column::Cancelled,
        Column::InFlight,
        Column::P50,
        Column::P90,
        Column::P99,
        Column::P999,
        Column::Max,
        Column::Busy,
        Column::SlowPolls,
        Column::Attempts,
    ];

    /// The header text.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Column::Function => "function",
            Column::Rate => "calls/s",
            Column::Ok => "ok%",
            Column::Errors => "err",
            Column::Cancelled => "canc",
            Column::InFlight => "inflt",
            Column::P50 => "p50",
            Column::P90 => "p90",
            Column::P99 => "p99",
            Column::P999 => "p99.9",
            Column::Max => "max",
            Column::Busy => "busy%",
            Column::SlowPolls => "slow",
            Column::Attempts => "att/op",
        }
    }

    /// The header text when the list shows one kind only: the columns say what they are
    /// for that kind.
    pub(crate) fn title_for(self, kind: Option<Pattern>) -> &'static str {
        match (kind, self) {
            (Some(Pattern::Retry), Column::Errors) => "gave up",
            (Some(Pattern::Interval), Column::Errors) => "missed",
            (Some(Pattern::Interval), Column::P50) => "drift50",
            (Some(Pattern::Interval), Column::P99) => "drift99",
            (Some(Pattern::Stream), Column::Busy) => "prod%",
            _ => self.title(),
        }
    }

    /// Orders two rows by this column, ascending.
    pub(crate) fn compare(self, a: &Row, b: &Row) -> Ordering {
        let f = |r: &Row| -> f64 {
            match self {
                Column::Function => 0.0,
                Column::Rate => r.rate,
                Column::Ok => r.ok_percent().unwrap_or(f64::INFINITY),
                Column::Errors => r.failures() as f64,
                Column::Cancelled => r.calls[Outcome::Cancelled] as f64,
                Column::InFlight => r.in_flight as f64,
                Column::P50 => r.quantile(0.5).unwrap_or(-1.0),
                Column::P90 => r.quantile(0.9).unwrap_or(-1.0),
                Column::P99 => r.quantile(0.99).unwrap_or(-1.0),
                Column::P999 => r.quantile(0.999).unwrap_or(-1.0),
                Column::Max => r.latency.max().unwrap_or(-1.0),
                Column::Busy => r.busy_ratio.unwrap_or(-1.0),
                Column::SlowPolls => r.slow_polls as f64,
                Column::Attempts => r.attempts_per_call().unwrap_or(-1.0),
            }
        };
        match self {
            Column::Function => name_order(a, b),
            _ => f(a).total_cmp(&f(b)),
        }
    }
}

fn name_order(a: &Row, b: &Row) -> Ordering {
    (&a.series.service, &a.series.function, &a.series.module).cmp(&(
        &b.series.service,
        &b.series.function,
        &b.series.module,
    ))
}

/// Settings fixed at start.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Warning limits.
    pub(crate) limits: Limits,
    /// Glyph set.
    pub(crate) glyphs: Glyphs,
    /// Whether colours are used.
    pub(crate) color: bool,
    /// The window `=` returns to.
    pub(crate) default_window: Window,
    /// Whether the source is a replayed recording (its keys are in the help).
    pub(crate) replay: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            limits: Limits::default(),
            glyphs: Glyphs::UNICODE,
            color: true,
            default_window: Window::OneMinute,
            replay: false,
        }
    }
}

/// Which screen is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Screen {
    /// The function list.
    List,
    /// One function's detail: its service, function and module.
    Detail(Arc<str>, Arc<str>, Arc<str>),
    /// The tokio runtimes.
    Runtime,
    /// The call graph, as a tree from the roots.
    CallGraph,
}

/// The whole state of the dashboard.
#[derive(Debug)]
pub(crate) struct Model {
    /// Settings.
    pub(crate) settings: Settings,
    /// Checkpoints.
    pub(crate) history: History,
    /// The rows of the window, filtered and sorted as shown.
    pub(crate) rows: Vec<Row>,
    /// Rows before filtering (for the header's count).
    pub(crate) total_rows: usize,
    /// The selected row.
    pub(crate) selected: usize,
    /// The sort column.
    pub(crate) sort: Column,
    /// Whether the sort is descending.
    pub(crate) descending: bool,
    /// The applied filter (case-insensitive substring of service, function or module).
    pub(crate) filter: String,
    /// The kind of rows shown: every kind, or one (functions, retries, semaphores, ...).
    pub(crate) kind: Option<Pattern>,
    /// The filter being edited, if the prompt is open.
    pub(crate) editing: Option<String>,
    /// Whether the numbers are frozen.
    pub(crate) paused: bool,
    /// Take the next frame even though paused (a replay's step or jump).
    pub(crate) step_once: bool,
    /// The time window.
    pub(crate) window: Window,
    /// The screen.
    pub(crate) screen: Screen,
    /// Whether the help overlay is open.
    pub(crate) help: bool,
    /// Whether only rows with warnings are shown.
    pub(crate) only_problems: bool,
    /// A message in the header, and for how many more frames it stays.
    pub(crate) flash: Option<(String, u8)>,
    /// Rows on a page (from the terminal's height).
    pub(crate) page: usize,
    /// Frames received, paused or not.
    pub(crate) frames_seen: u64,
    /// Whether the console's tasks are shown (when the frames carry them).
    pub(crate) show_tasks: bool,
    /// The runtimes' per-tick figures.
    pub(crate) runtime_ticks: RuntimeTicks,
    /// The runtimes of the window.
    pub(crate) runtime_rows: Vec<RuntimeRow>,
    /// Every function's edges over the window, unfiltered.
    pub(crate) graph: Vec<Node>,
    /// The call graph's visible lines.
    pub(crate) tree: Vec<TreeLine>,
    /// The selected line of the call graph.
    pub(crate) tree_selected: usize,
    /// The open lines of the call graph, by path.
    pub(crate) tree_open: HashSet<String>,
    /// How the call graph orders siblings.
    pub(crate) tree_sort: TreeSort,
}

impl Model {
    /// An empty model.
    pub(crate) fn new(settings: Settings) -> Model {
        Model {
            window: settings.default_window,
            settings,
            history: History::default(),
            rows: Vec::new(),
            total_rows: 0,
            selected: 0,
            sort: Column::Rate,
            descending: true,
            filter: String::new(),
            kind: None,
            editing: None,
            paused: false,
            step_once: false,
            screen: Screen::List,
            help: false,
            only_problems: false,
            flash: None,
            page: 20,
            frames_seen: 0,
            show_tasks: true,
            runtime_ticks: RuntimeTicks::default(),
            runtime_rows: Vec::new(),
            graph: Vec::new(),
            tree: Vec::new(),
            tree_selected: 0,
            tree_open: HashSet::new(),
            tree_sort: TreeSort::default(),
        }
    }

    /// The newest frame shown.
    pub(crate) fn frame(&self) -> Option<&Arc<Frame>> {
        self.history.latest()
    }

    /// The selected row.
    pub(crate) fn selected_row(&self) -> Option<&Row> {
        self.rows.get(self.selected)
    }

    /// The row the detail screen shows.
    pub(crate) fn detail_row(&self) -> Option<&Row> {
        let Screen::Detail(service, function, module) = &self.screen else {
            return None;
        };
        self.rows.iter().find(|r| {
            r.series.service == *service
                && r.series.function == *function
                && r.series.module == *module
        })
    }

    /// What the function of `row` called in the window: each callee's name and its edge
    /// from this function, the most busy first.
    pub(crate) fn callees(&self, row: &Row) -> Vec<(Arc<str>, &crate::frame::CallerEdge)> {
        let name = row.qualified();
        super::call_graph::callees(&self.graph, &row.series.service, &name)
            .into_iter()
            .map(|(node, edge)| (node.name.clone(), edge))
            .collect()
    }

    /// Applies one message.
    pub(crate) fn update(&mut self, msg: Msg) -> Effect {
        match msg {
            Msg::Frame(frame) => {
                self.frames_seen += 1;
                if let Some((_, left)) = &mut self.flash {
                    *left = left.saturating_sub(1);
                    if *left == 0 {
                        self.flash = None;
                    }
                }
                if !self.paused || std::mem::take(&mut self.step_once) {
                    self.runtime_ticks.push(&frame);
                    self.history.push(Arc::new(frame));
                    self.refresh();
                }
                Effect::None
            }
            Msg::Exported(result) => {
                self.flash = Some((
                    match result {
                        Ok(files) => format!("wrote {}", files.join(", ")),
                        Err(e) => format!("export failed: {e}"),
                    },
                    5,
                ));
                Effect::None
            }
            Msg::Resize(height) => {
                self.page = usize::from(height).saturating_sub(8).max(1);
                Effect::None
            }
            Msg::Key(key) => self.key(key),
        }
    }

    fn key(&mut self, key: KeyEvent) -> Effect {
        if let Some(text) = &mut self.editing {
            match key.code {
                KeyCode::Enter => {
                    self.filter = self.editing.take().unwrap_or_default();
                    self.refresh();
                }
                KeyCode::Esc => self.editing = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    return Effect::Quit;
                }
                KeyCode::Char(c)
                    if !key.modifiers.contains(KeyModifiers::CONTROL)
                        && text.chars().count() < 64 =>
                {
                    text.push(c);
                }
                _ => {}
            }
            return Effect::None;
        }
        let Some(action) = action_for(&key) else {
            return Effect::None;
        };
        if self.help && !matches!(action, Action::Quit | Action::Help | Action::Back) {
            return Effect::None;
        }
        if self.screen == Screen::CallGraph && self.tree_key(action) {
            return Effect::None;
        }
        let last = self.rows.len().saturating_sub(1);
        match action {
            Action::Quit => return Effect::Quit,
            Action::Help => self.help = !self.help,
            Action::Filter => self.editing = Some(self.filter.clone()),
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::PageUp => self.selected = self.selected.saturating_sub(self.page),
            Action::PageDown => self.selected = (self.selected + self.page).min(last),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = last,
            Action::SortLeft | Action::SortRight => {
                // Attempts mean something for retries only: sortable when they are shown.
                let sortable: Vec<Column> = Column::ALL
                    .into_iter()
                    .filter(|c| *c != Column::Attempts || self.kind == Some(Pattern::Retry))
                    .collect();
                let i = sortable.iter().position(|c| *c == self.sort).unwrap_or(0);
                let n = sortable.len();
                let i = if action == Action::SortLeft {
                    (i + n - 1) % n
                } else {
                    (i + 1) % n
                };
                self.sort = sortable[i];
                self.descending = self.sort != Column::Function && self.sort != Column::Ok;
                self.refresh();
            }
            Action::Invert => {
                self.descending = !self.descending;
                self.refresh();
            }
            Action::Detail => {
                if let Some(r) = self.selected_row() {
                    let s = &r.series;
                    self.screen =
                        Screen::Detail(s.service.clone(), s.function.clone(), s.module.clone());
                }
            }
            Action::Back => {
                if self.help {
                    self.help = false;
                } else if self.screen != Screen::List {
                    self.screen = Screen::List;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                    self.refresh();
                }
            }
            Action::Pause => {
                self.paused = !self.paused;
                return Effect::Replay(ReplayCommand::Pause(self.paused));
            }
            Action::Faster => return Effect::Replay(ReplayCommand::Faster),
            Action::Slower => return Effect::Replay(ReplayCommand::Slower),
            Action::Step => {
                self.step_once = true;
                return Effect::Replay(ReplayCommand::Step);
            }
            Action::JumpForward => {
                self.step_once = true;
                return Effect::Replay(ReplayCommand::Jump(JUMP_SECONDS));
            }
            Action::JumpBack => {
                // The counts start again from the recording's start: the window's frames
                // before the jump would come after it.
                self.history = History::default();
                self.runtime_ticks = RuntimeTicks::default();
                self.step_once = true;
                return Effect::Replay(ReplayCommand::Jump(-JUMP_SECONDS));
            }
            Action::WindowLonger => self.set_window(self.window.longer()),
            Action::WindowShorter => self.set_window(self.window.shorter()),
            Action::WindowReset => self.set_window(self.settings.default_window),
            Action::Export => return Effect::Export,
            Action::Problems => {
                self.only_problems = !self.only_problems;
                self.refresh();
            }
            Action::Kind => {
                self.kind = self.next_kind();
                self.refresh();
            }
            Action::Redraw => return Effect::Redraw,
            Action::Tasks => self.show_tasks = !self.show_tasks,
            Action::Runtime => {
                self.screen = if self.screen == Screen::Runtime {
                    Screen::List
                } else {
                    Screen::Runtime
                };
            }
            Action::CallGraph => {
                self.screen = if self.screen == Screen::CallGraph {
                    Screen::List
                } else {
                    Screen::CallGraph
                };
            }
        }
        Effect::None
    }

    /// A key on the call graph screen: moves, opens and closes lines, switches the order.
    /// Returns false for the keys that do what they do everywhere.
    fn tree_key(&mut self, action: Action) -> bool {
        let last = self.tree.len().saturating_sub(1);
        match action {
            Action::Up => self.tree_selected = self.tree_selected.saturating_sub(1),
            Action::Down => self.tree_selected = (self.tree_selected + 1).min(last),
            Action::PageUp => self.tree_selected = self.tree_selected.saturating_sub(self.page),
            Action::PageDown => self.tree_selected = (self.tree_selected + self.page).min(last),
            Action::Top => self.tree_selected = 0,
            Action::Bottom => self.tree_selected = last,
            Action::Detail => {
                if let Some(line) = self.tree.get(self.tree_selected) {
                    let path = line.path.clone();
                    if !self.tree_open.remove(&path) && line.has_children {
                        self.tree_open.insert(path);
                    }
                    self.rebuild_tree();
                }
            }
            Action::SortLeft | Action::SortRight | Action::Invert => {
                self.tree_sort = self.tree_sort.toggled();
                self.rebuild_tree();
            }
            _ => return false,
        }
        true
    }

    /// Lays the call graph out again, keeping the selected line selected.
    fn rebuild_tree(&mut self) {
        let keep = self.tree.get(self.tree_selected).map(|l| l.path.clone());
        self.tree = tree(&self.graph, &self.tree_open, self.tree_sort);
        self.tree_selected = keep
            .and_then(|k| self.tree.iter().position(|l| l.path == k))
            .unwrap_or(self.tree_selected)
            .min(self.tree.len().saturating_sub(1));
    }

    fn set_window(&mut self, window: Window) {
        self.window = window;
        self.refresh();
    }

    /// Rebuilds the rows from the history, keeping the selected function selected.
    pub(crate) fn refresh(&mut self) {
        let keep = self.selected_row().map(|r| r.series.key());
        self.runtime_rows = runtime_rows(&self.history, &self.runtime_ticks, self.window);
        let mut rows = rows(&self.history, self.window, &self.settings.limits);
        self.total_rows = rows.len();
        self.graph = rows
            .iter()
            .filter(|r| !r.callers.is_empty())
            .map(Node::of)
            .collect();
        self.rebuild_tree();
        let needle = self.filter.to_lowercase();
        if !needle.is_empty() {
            rows.retain(|r| {
                let s = &r.series;
                s.function.to_lowercase().contains(&needle)
                    || s.service.to_lowercase().contains(&needle)
                    || s.module.to_lowercase().contains(&needle)
            });
        }
        if self.only_problems {
            rows.retain(|r| !r.warnings.is_empty());
        }
        if let Some(kind) = self.kind {
            rows.retain(|r| r.series.pattern == kind);
        }
        let (sort, descending) = (self.sort, self.descending);
        // Rows are grouped by service, then ordered by the sort column.
        rows.sort_by(|a, b| {
            let o = sort.compare(a, b);
            let o = if descending { o.reverse() } else { o };
            a.series
                .service
                .cmp(&b.series.service)
                .then(o)
                .then_with(|| name_order(a, b))
        });
        self.rows = rows;
        self.selected = keep
            .and_then(|k| self.rows.iter().position(|r| r.series.key() == k))
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
    }

    /// The kind shown after `self.kind`: the kinds that the frames hold, in their fixed
    /// order, then every kind again.
    fn next_kind(&self) -> Option<Pattern> {
        let present: Vec<Pattern> = Pattern::ALL
            .into_iter()
            .filter(|p| {
                self.frame()
                    .is_some_and(|f| f.series.iter().any(|s| s.pattern == *p))
            })
            .collect();
        let at = self.kind.and_then(|k| present.iter().position(|p| *p == k));
        match at {
            None => present.first().copied(),
            Some(i) => present.get(i + 1).copied(),
        }
    }

    /// The rows with a warning.
    pub(crate) fn warnings(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| !r.warnings.is_empty())
    }

    /// A saturated runtime of the row's service: the likelier cause of its slow p99 than
    /// the function itself.
    pub(crate) fn saturated_runtime(&self, row: &Row) -> Option<&RuntimeRow> {
        self.runtime_rows
            .iter()
            .find(|rt| rt.saturated() && rt.series.service == row.series.service)
    }
}
