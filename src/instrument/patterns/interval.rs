//! A periodic job's interval, measured: every tick it was due is a call of `name`, an ok
//! one for a tick that fired, whose wall time is its drift (how late it fired after the
//! instant it was due), and an error of kind `Missed` for a tick that never fired because
//! the job fell behind (tokio's `MissedTickBehavior::Skip` skips them; with `Delay` the
//! schedule moves instead, and the drift shows it), counted up to 1000 at one tick.

use std::panic::Location;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::record::registry::{CallRecord, FunctionState};
use crate::words::function::Pattern;
use crate::words::outcome::Outcome;

/// The error kind of a tick that was due and never fired.
pub const MISSED_TICK_KIND: &str = "Missed";

/// Missed ticks counted at one tick, at most.
const MISSED_PER_TICK_LIMIT: u128 = 1000;

/// A tokio [`Interval`](tokio::time::Interval) measured under `name` (see the module
/// doc of [`patterns`](crate::patterns)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// let mut every = taskscope::patterns::interval("flush", Duration::from_secs(1));
/// every.tick().await; // due now
/// every.tick().await; // one second later
/// let flush = taskscope::snapshot().function("flush").unwrap().clone();
/// assert_eq!(flush.ok.count, 2);
/// # }
/// ```
#[derive(Debug)]
pub struct Interval {
    inner: tokio::time::Interval,
    site: &'static FunctionState,
    /// The instant the last tick was due.
    last_due: Option<Instant>,
}

/// A measured interval whose first tick is due now, as [`tokio::time::interval`]. Ticks
/// that fall behind are skipped (`MissedTickBehavior::Skip`), so that missed ticks show.
#[track_caller]
pub fn interval(name: &'static str, period: Duration) -> Interval {
    let mut inner = tokio::time::interval(period);
    inner.set_missed_tick_behavior(MissedTickBehavior::Skip);
    Interval::wrap_at(name, inner, Location::caller())
}

impl Interval {
    /// Measures an existing interval under `name`, keeping its missed-tick behaviour.
    #[track_caller]
    pub fn wrap(name: &'static str, interval: tokio::time::Interval) -> Interval {
        Interval::wrap_at(name, interval, Location::caller())
    }

    fn wrap_at(
        name: &'static str,
        inner: tokio::time::Interval,
        location: &'static Location<'static>,
    ) -> Interval {
        Interval {
            inner,
            site: super::site(name, "", Pattern::Interval, location),
            last_due: None,
        }
    }

    /// Waits for the next tick, as [`tokio::time::Interval::tick`]; returns the instant it
    /// was due.
    pub async fn tick(&mut self) -> Instant {
        let due = self.inner.tick().await;
        if super::on() {
            self.record(due, Instant::now());
        }
        due
    }

    fn record(&mut self, due: Instant, now: Instant) {
        let period = self.inner.period();
        if let Some(last) = self.last_due.replace(due) {
            let gap = due.saturating_duration_since(last);
            let missed = (gap.as_nanos() / period.as_nanos().max(1)).saturating_sub(1);
            // Bounded, so that a tick after a long stall costs little: past the cap, the
            // drift of the tick that fired still shows the stall.
            for _ in 0..missed.min(MISSED_PER_TICK_LIMIT) {
                self.tick_call(Outcome::Error, Some(MISSED_TICK_KIND), 0);
            }
        }
        let drift = now.saturating_duration_since(due);
        self.tick_call(Outcome::Ok, None, duration_ns(drift));
    }

    fn tick_call(&self, outcome: Outcome, kind: Option<&'static str>, wall_ns: u64) {
        self.site.record_start();
        self.site
            .record_end(outcome, kind, CallRecord::wall_only(wall_ns, None));
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.inner.period()
    }

    /// Restarts the schedule: the next tick is due one period from now.
    pub fn reset(&mut self) {
        self.inner.reset();
        self.last_due = None;
    }

    /// The interval inside.
    pub fn inner(&self) -> &tokio::time::Interval {
        &self.inner
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
