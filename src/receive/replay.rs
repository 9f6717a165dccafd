//! A recording played back as frames, on the recording's own clock: each request goes into
//! a [`Store`](super::otlp::Store) at the time it was exported, so windows and percentiles
//! come out as they did live.

use std::time::Duration;

use super::otlp::Store;
use super::recording::Recording;
use crate::frame::Frame;

/// How fast a [`Replay`] plays.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// This many seconds of the recording per second (1 is as it happened).
    Times(f64),
    /// As fast as frames are asked for: every frame is the next export.
    Max,
}

impl Speed {
    /// The next speed up: 1x, 10x, 100x, then as fast as possible.
    pub fn faster(self) -> Speed {
        match self {
            Speed::Times(x) if x < 1.0 => Speed::Times(1.0),
            Speed::Times(x) if x < 10.0 => Speed::Times(10.0),
            Speed::Times(x) if x < 100.0 => Speed::Times(100.0),
            _ => Speed::Max,
        }
    }

    /// The next speed down, to 1x.
    pub fn slower(self) -> Speed {
        match self {
            Speed::Max => Speed::Times(100.0),
            Speed::Times(x) if x > 10.0 => Speed::Times(10.0),
            _ => Speed::Times(1.0),
        }
    }
}

impl std::fmt::Display for Speed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Speed::Times(x) => write!(f, "{x}x"),
            Speed::Max => f.write_str("max"),
        }
    }
}

/// A recording played back: [`advance`](Replay::advance) moves its clock and returns the
/// frame at the new time.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use taskscope::receive::{Recording, Replay};
/// let mut replay = Replay::new(Recording::open("incident.jsonl")?);
/// while !replay.at_end() {
///     let frame = replay.advance(Duration::from_secs(1));
///     println!("{:?}: {} functions", frame.at, frame.series.len());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Replay {
    recording: Recording,
    store: Store,
    /// Requests ingested so far.
    next: usize,
    clock: Duration,
    speed: Speed,
    paused: bool,
}

/// Series a replay's store keeps, as the receiver of `taskscope top` does by default.
const MAX_SERIES: usize = 10_000;

impl Replay {
    /// A replay before the recording's first export, at 1x: its first frame is empty, so
    /// that the dashboard's windows count the first export's calls too (as a receiver that
    /// was running before the sender started would).
    pub fn new(recording: Recording) -> Replay {
        Replay {
            store: Replay::store(&recording),
            recording,
            next: 0,
            clock: Duration::ZERO,
            speed: Speed::Times(1.0),
            paused: false,
        }
    }

    fn store(recording: &Recording) -> Store {
        let mut store = Store::new(MAX_SERIES);
        store.set_label(format!("replay {}", recording.path().display()));
        store
    }

    /// The recording.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// The time in the recording, from its first export.
    pub fn position(&self) -> Duration {
        self.clock
    }

    /// Whether every export has been played.
    pub fn at_end(&self) -> bool {
        self.next >= self.recording.requests()
    }

    /// The speed.
    pub fn speed(&self) -> Speed {
        self.speed
    }

    /// Sets the speed.
    pub fn set_speed(&mut self, speed: Speed) {
        self.speed = speed;
    }

    /// Whether [`tick`](Replay::tick) leaves the clock where it is.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Pauses or resumes [`tick`](Replay::tick).
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// One refresh of the dashboard: the clock moves by `refresh` times the speed (to the
    /// next export at `Speed::Max`), unless paused.
    pub fn tick(&mut self, refresh: Duration) -> Frame {
        if self.paused {
            return self.frame();
        }
        self.step(refresh)
    }

    /// Moves the clock by one refresh at the current speed, paused or not (the dashboard's
    /// step key).
    pub fn step(&mut self, refresh: Duration) -> Frame {
        match self.speed {
            Speed::Max => {
                let to = self
                    .recording
                    .entries()
                    .get(self.next)
                    .map_or(self.clock, |(t, _)| *t);
                self.seek(to.max(self.clock));
                self.frame()
            }
            Speed::Times(x) => self.advance(refresh.mul_f64(x.max(0.0))),
        }
    }

    /// Moves the clock forward by `by`; the frame at the new time.
    pub fn advance(&mut self, by: Duration) -> Frame {
        self.seek(self.clock.saturating_add(by));
        self.frame()
    }

    /// Moves the clock to `to` (clamped to the recording), back or forward: going back
    /// plays the recording again from its start, since counts only grow.
    pub fn seek(&mut self, to: Duration) {
        let to = to.min(self.recording.duration());
        if to < self.clock {
            self.store = Replay::store(&self.recording);
            self.next = 0;
        }
        self.clock = to;
        self.ingest_due();
    }

    /// The frame at the clock.
    pub fn frame(&self) -> Frame {
        let mut frame = self.store.frame(self.clock);
        let state = if self.at_end() {
            "replayed to the end".to_string()
        } else if self.paused {
            "paused".to_string()
        } else {
            format!("replaying {}", self.speed)
        };
        frame.status.connection = format!(
            "{state} {} / {}",
            clock(self.clock),
            clock(self.recording.duration())
        );
        if let Some(d) = self.recording.damage() {
            frame.status.last_rejection = Some(format!("the recording stops early: {d}"));
        }
        frame
    }

    fn ingest_due(&mut self) {
        let entries = self.recording.entries();
        while let Some((t, req)) = entries.get(self.next) {
            if *t > self.clock {
                break;
            }
            self.store.ingest(req, *t);
            self.next += 1;
        }
    }
}

/// `m:ss` (or `h:mm:ss`).
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}
