//! From frames to rows: the checkpoints a time window is measured against, and the numbers
//! of each function over that window.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::frame::{CallerEdge, Dist, Frame, Series, SeriesKind};
use crate::words::names::{NO_KIND, OVERFLOW_KIND};
use crate::words::outcome::{Outcome, PerOutcome};

/// The time windows the dashboard shows, which `+` and `-` step through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Window {
    /// The last 10 seconds.
    TenSeconds,
    /// The last minute.
    OneMinute,
    /// The last 5 minutes.
    FiveMinutes,
    /// The last 15 minutes.
    FifteenMinutes,
    /// The last hour.
    OneHour,
    /// Everything since the dashboard started.
    All,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 6] = [
        Window::TenSeconds,
        Window::OneMinute,
        Window::FiveMinutes,
        Window::FifteenMinutes,
        Window::OneHour,
        Window::All,
    ];

    /// The length, `None` for [`Window::All`].
    pub fn length(self) -> Option<Duration> {
        Some(Duration::from_secs(match self {
            Window::TenSeconds => 10,
            Window::OneMinute => 60,
            Window::FiveMinutes => 300,
            Window::FifteenMinutes => 900,
            Window::OneHour => 3600,
            Window::All => return None,
        }))
    }

    /// The name shown in the header, and that [`parse`](Self::parse) reads.
    pub fn label(self) -> &'static str {
        match self {
            Window::TenSeconds => "10s",
            Window::OneMinute => "1m",
            Window::FiveMinutes => "5m",
            Window::FifteenMinutes => "15m",
            Window::OneHour => "1h",
            Window::All => "all",
        }
    }

    /// Parses `10s`, `1m`, `5m`, `15m`, `1h` or `all`.
    ///
    /// ```
    /// use taskscope::view::Window;
    /// assert_eq!(Window::parse("5m"), Some(Window::FiveMinutes));
    /// assert_eq!(Window::parse("2m"), None);
    /// assert_eq!(Window::OneHour.label(), "1h");
    /// ```
    pub fn parse(text: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.label() == text)
    }

    /// The next longer window (the longest stays).
    pub(crate) fn longer(self) -> Window {
        let i = Window::ALL.iter().position(|w| *w == self).unwrap_or(0);
        Window::ALL[(i + 1).min(Window::ALL.len() - 1)]
    }

    /// The next shorter window (the shortest stays).
    pub(crate) fn shorter(self) -> Window {
        let i = Window::ALL.iter().position(|w| *w == self).unwrap_or(0);
        Window::ALL[i.saturating_sub(1)]
    }
}

/// How many recent per-tick call counts a sparkline shows.
pub(crate) const SPARK_TICKS: usize = 60;

type Key = (Arc<str>, Arc<str>, Arc<str>);

/// Frames kept as checkpoints: every frame of the last 10 s, then thinner with age (one per
/// 5 s to a minute, 30 s to 5 minutes, 90 s to 15 minutes, 6 minutes to an hour), so a
/// window's start is never off by more than a tenth of the window and memory stays bounded
/// (about 45 frames) however long the dashboard runs.
#[derive(Debug, Default)]
pub(crate) struct History {
    frames: VecDeque<Arc<Frame>>,
    first: Option<Arc<Frame>>,
    /// Calls per tick of each series, newest last.
    ticks: HashMap<Key, VecDeque<u64>>,
    last_totals: HashMap<Key, u64>,
}

fn spacing(age: Duration) -> Duration {
    Duration::from_secs(match age.as_secs() {
        0..=10 => 0,
        11..=60 => 5,
        61..=300 => 30,
        301..=900 => 90,
        _ => 360,
    })
}

impl History {
    /// Adds the newest frame.
    pub(crate) fn push(&mut self, frame: Arc<Frame>) {
        if self.first.is_none() {
            self.first = Some(frame.clone());
        }
        // Per-tick call counts for the sparklines.
        let mut seen = HashMap::with_capacity(frame.series.len());
        for s in &frame.series {
            let key = s.key();
            let total = s.total_calls();
            let before = self.last_totals.get(&key).copied();
            let ticks = self.ticks.entry(key.clone()).or_default();
            if let Some(before) = before {
                ticks.push_back(total.saturating_sub(before));
                if ticks.len() > SPARK_TICKS {
                    ticks.pop_front();
                }
            }
            seen.insert(key, total);
        }
        self.ticks.retain(|k, _| seen.contains_key(k));
        self.last_totals = seen;

        let now = frame.at;
        self.frames.push_back(frame);
        // Thin: drop a frame when the one after it is within the spacing its age allows.
        let mut i = 0;
        while i + 2 < self.frames.len() {
            let older = self.frames[i].at;
            let newer = self.frames[i + 1].at;
            let age = now.saturating_sub(newer);
            if newer.saturating_sub(older) < spacing(age) {
                self.frames.remove(i + 1);
            } else {
                i += 1;
            }
        }
        while self.frames.len() > 2
            && now.saturating_sub(self.frames[1].at) > Duration::from_secs(3600 + 360)
        {
            self.frames.pop_front();
        }
    }

    /// The newest frame.
    pub(crate) fn latest(&self) -> Option<&Arc<Frame>> {
        self.frames.back()
    }

    /// The frame a window is measured from: the oldest checkpoint inside the window, or the
    /// first frame for [`Window::All`] and for a window longer than the data so far.
    pub(crate) fn base(&self, window: Window) -> Option<&Arc<Frame>> {
        let now = self.latest()?.at;
        let first = self.first.as_ref()?;
        let from = match window.length().and_then(|l| now.checked_sub(l)) {
            Some(from) if from > first.at => from,
            _ => return Some(first),
        };
        self.frames.iter().find(|f| f.at >= from)
    }

    /// The window's actual length: from its base frame to the newest.
    pub(crate) fn span(&self, window: Window) -> Duration {
        match (self.latest(), self.base(window)) {
            (Some(now), Some(base)) => now.at.saturating_sub(base.at),
            _ => Duration::ZERO,
        }
    }

    /// Calls per tick of a series, oldest first.
    pub(crate) fn ticks(&self, key: &Key) -> Vec<u64> {
        self.ticks
            .get(key)
            .map(|t| t.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Whether no frame has arrived.
    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// A warning on a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Warning {
    /// Errors over the limit.
    ErrorRate,
    /// p99 over the budget.
    SlowP99,
    /// Calls in flight growing with none finishing.
    Stuck,
    /// Polls that held an executor thread too long.
    SlowPolls,
    /// Error kinds went to the overflow kind.
    KindOverflow,
}

impl Warning {
    /// A short name for lists.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Warning::ErrorRate => "error rate",
            Warning::SlowP99 => "p99 over budget",
            Warning::Stuck => "in flight, none finishing",
            Warning::SlowPolls => "slow polls (blocks the executor)",
            Warning::KindOverflow => "error kinds overflowed",
        }
    }
}

/// The limits warnings are raised at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limits {
    /// Error ratio (0 to 1) over which a function is flagged.
    pub(crate) error_rate: f64,
    /// p99 (seconds) over which a function is flagged.
    pub(crate) p99_budget: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            error_rate: 0.05,
            p99_budget: 1.0,
        }
    }
}

/// An error kind over the window.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct KindRow {
    /// The kind.
    pub(crate) kind: Arc<str>,
    /// Errors of this kind in the window.
    pub(crate) count: u64,
    /// When it was last seen, as an age from the newest frame.
    pub(crate) age: Option<Duration>,
}

/// One function over the chosen window.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// The series' cumulative state now.
    pub(crate) series: Arc<Series>,
    /// Calls finished in the window, by outcome: ok, error, cancelled, panicked.
    pub(crate) calls: PerOutcome<u64>,
    /// Finished calls per second.
    pub(crate) rate: f64,
    /// Calls per tick, oldest first (for the sparkline).
    pub(crate) ticks: Vec<u64>,
    /// In flight now.
    pub(crate) in_flight: i64,
    /// Wall time distribution of the window's calls.
    pub(crate) latency: Dist,
    /// Waits from a wake to the next poll in the window (`#[measure(scheduling)]`).
    pub(crate) scheduling: Dist,
    /// For a retried operation: the attempts of the window's calls.
    pub(crate) attempts: Dist,
    /// Busy time over wall time of the window's calls.
    pub(crate) busy_ratio: Option<f64>,
    /// Polls in the window.
    pub(crate) polls: u64,
    /// Slow polls in the window.
    pub(crate) slow_polls: u64,
    /// Error kinds in the window, most frequent first.
    pub(crate) kinds: Vec<KindRow>,
    /// The call graph's edges into this function in the window (calls and seconds), the
    /// most calls first.
    pub(crate) callers: Vec<CallerEdge>,
    /// The percentiles come from the sender's buckets, and those are too wide to trust
    /// (explicit boundaries made for another unit, or too few): shown as approximate, and
    /// no p99 warning is raised on them alone.
    pub(crate) coarse: bool,
    /// Warnings raised.
    pub(crate) warnings: Vec<Warning>,
}

impl Row {
    /// Attempts per call of a retried operation in the window.
    pub(crate) fn attempts_per_call(&self) -> Option<f64> {
        let n = self.attempts.count();
        (n > 0).then(|| self.attempts.sum() / n as f64)
    }

    /// Finished calls in the window.
    pub(crate) fn total(&self) -> u64 {
        self.calls.total()
    }

    /// Share of ok among calls that finished with a verdict (cancelled calls left out),
    /// in per cent.
    pub(crate) fn ok_percent(&self) -> Option<f64> {
        let judged =
            self.calls[Outcome::Ok] + self.calls[Outcome::Error] + self.calls[Outcome::Panicked];
        (judged > 0).then(|| self.calls[Outcome::Ok] as f64 * 100.0 / judged as f64)
    }

    /// Errors and panics in the window.
    pub(crate) fn failures(&self) -> u64 {
        self.calls[Outcome::Error] + self.calls[Outcome::Panicked]
    }

    /// A percentile (0 to 1) of the window's latency, in seconds.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        self.latency.quantile(q)
    }
}

/// Builds every row for `window`.
pub(crate) fn rows(history: &History, window: Window, limits: &Limits) -> Vec<Row> {
    let Some(latest) = history.latest() else {
        return Vec::new();
    };
    let base = history.base(window);
    let base_map: HashMap<Key, &Arc<Series>> = base
        .map(|b| b.series.iter().map(|s| (s.key(), s)).collect())
        .unwrap_or_default();
    let span = history.span(window).as_secs_f64();
    let now = latest.at;
    latest
        .series
        .iter()
        .map(|s| {
            let key = s.key();
            let before = base_map.get(&key).copied();
            row(s, before, span, now, history.ticks(&key), limits)
        })
        .collect()
}

fn row(
    s: &Arc<Series>,
    before: Option<&Arc<Series>>,
    span: f64,
    now: Duration,
    ticks: Vec<u64>,
    limits: &Limits,
) -> Row {
    let mut calls = s.calls;
    let mut latency = s.latency.clone();
    let mut scheduling = s.scheduling.clone();
    let mut attempts = s.attempts.clone();
    let mut busy = s.busy_seconds;
    let (mut polls, mut slow_polls) = (s.polls, s.slow_polls);
    let mut kinds: Vec<KindRow> = s
        .error_kinds
        .iter()
        .map(|k| KindRow {
            kind: k.kind.clone(),
            count: k.count,
            age: k.last_seen.map(|t| now.saturating_sub(t)),
        })
        .collect();
    if let Some(b) = before {
        for (o, c) in calls.iter_mut() {
            *c = c.saturating_sub(b.calls[o]);
        }
        latency = s.latency.delta(&b.latency);
        scheduling = s.scheduling.delta(&b.scheduling);
        attempts = s.attempts.delta(&b.attempts);
        busy = (busy - b.busy_seconds).max(0.0);
        polls = polls.saturating_sub(b.polls);
        slow_polls = slow_polls.saturating_sub(b.slow_polls);
        for k in &mut kinds {
            if let Some(old) = b.error_kinds.iter().find(|o| o.kind == k.kind) {
                k.count = k.count.saturating_sub(old.count);
            }
        }
    }
    kinds.retain(|k| k.count > 0);
    let callers = window_callers(s, before);
    // Errors the source gave no kind (an SDK's error counts without `error.type`) are
    // listed too, so the kinds always add up to the errors.
    let unlabelled = calls[Outcome::Error].saturating_sub(kinds.iter().map(|k| k.count).sum());
    if unlabelled > 0 {
        kinds.push(KindRow {
            kind: NO_KIND.into(),
            count: unlabelled,
            age: None,
        });
    }
    kinds.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.cmp(&b.kind)));
    let wall = latency.sum();
    let latency_coarse = latency.coarse(0.5) || latency.coarse(0.99);
    let total = calls.total();
    let mut row = Row {
        series: s.clone(),
        calls,
        rate: if span > 0.0 { total as f64 / span } else { 0.0 },
        ticks,
        in_flight: s.in_flight,
        busy_ratio: (s.kind == SeriesKind::Function && s.has_busy && wall > 0.0)
            .then(|| (busy / wall).clamp(0.0, 1.0)),
        latency,
        scheduling,
        attempts,
        polls,
        slow_polls,
        coarse: latency_coarse,
        kinds,
        callers,
        warnings: Vec::new(),
    };
    let failures = row.failures();
    let judged = calls[Outcome::Ok] + failures;
    if failures > 0 && failures as f64 > limits.error_rate * judged as f64 {
        row.warnings.push(Warning::ErrorRate);
    }
    if !row.coarse && row.quantile(0.99).is_some_and(|p| p > limits.p99_budget) {
        row.warnings.push(Warning::SlowP99);
    }
    let in_flight_before = before.map_or(0, |b| b.in_flight);
    if s.in_flight > 0 && total == 0 && s.in_flight >= in_flight_before && span >= 1.0 {
        row.warnings.push(Warning::Stuck);
    }
    if slow_polls > 0 {
        row.warnings.push(Warning::SlowPolls);
    }
    if row.kinds.iter().any(|k| &*k.kind == OVERFLOW_KIND) {
        row.warnings.push(Warning::KindOverflow);
    }
    row
}

/// The edges into `s` over the window: the latest minus those at the window's start.
fn window_callers(s: &Series, before: Option<&Arc<Series>>) -> Vec<CallerEdge> {
    let mut callers: Vec<CallerEdge> = s
        .callers
        .iter()
        .map(|c| {
            let Some(b) = before.and_then(|b| b.callers.iter().find(|o| o.caller == c.caller))
            else {
                return c.clone();
            };
            CallerEdge {
                caller: c.caller.clone(),
                calls: c.calls.saturating_sub(b.calls),
                wall: (c.wall - b.wall).max(0.0),
                busy: (c.busy - b.busy).max(0.0),
                self_busy: (c.self_busy - b.self_busy).max(0.0),
            }
        })
        .filter(|c| c.calls > 0)
        .collect();
    callers.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.caller.cmp(&b.caller)));
    callers
}

impl Row {
    /// The function's name as callers name it: `module::function`.
    pub(crate) fn qualified(&self) -> String {
        crate::words::names::qualified(&self.series.module, &self.series.function)
    }

    /// Busy seconds of the window's calls outside their measured callees, when the source
    /// sends the call graph.
    pub(crate) fn self_busy(&self) -> Option<f64> {
        (!self.callers.is_empty()).then(|| self.callers.iter().map(|c| c.self_busy).sum())
    }

    /// Busy seconds of the window's calls, from the call graph's edges.
    pub(crate) fn edge_busy(&self) -> f64 {
        self.callers.iter().map(|c| c.busy).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(at: u64, calls: u64) -> Arc<Frame> {
        let mut s = Series::new("svc", "f", "m", SeriesKind::Function);
        s.calls = [calls, 0, 0, 0].into();
        Arc::new(Frame {
            at: Duration::from_secs(at),
            series: vec![Arc::new(s)],
            status: Default::default(),
            tasks: None,
            runtimes: Vec::new(),
        })
    }

    #[test]
    fn checkpoints_stay_bounded_and_windows_start_inside() {
        let mut h = History::default();
        for t in 0..=7200 {
            h.push(frame(t, t * 10));
        }
        assert!(h.frames.len() < 60, "{} checkpoints", h.frames.len());
        for w in &Window::ALL[..5] {
            let len = w.length().unwrap().as_secs_f64();
            let span = h.span(*w).as_secs_f64();
            assert!(span <= len && span >= len * 0.85, "{w:?}: {span}");
            let r = &rows(&h, *w, &Limits::default())[0];
            assert!((r.rate - 10.0).abs() < 1e-9, "{w:?}: {}", r.rate);
        }
        assert_eq!(h.span(Window::All), Duration::from_secs(7200));
    }

    #[test]
    fn windows_step_and_stop_at_the_ends() {
        assert_eq!(Window::OneMinute.longer(), Window::FiveMinutes);
        assert_eq!(Window::All.longer(), Window::All);
        assert_eq!(Window::TenSeconds.shorter(), Window::TenSeconds);
        assert_eq!(Window::parse("15m"), Some(Window::FifteenMinutes));
    }
}
