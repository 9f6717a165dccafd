//! The Tasks view's data: tokio-console's tasks as the dashboard shows them next to the
//! functions (name, state, busy, scheduled, idle, polls). The client that fills it is
//! [`ConsoleClient`](super::ConsoleClient) (cargo feature `tasks`).

use std::sync::Arc;
use std::time::Duration;

/// What a task is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskState {
    /// Being polled now.
    Running,
    /// Woken and waiting for a worker thread.
    Scheduled,
    /// Waiting for something to wake it.
    Idle,
    /// Finished (kept for a few seconds).
    Done,
}

impl TaskState {
    /// The word the view shows.
    pub fn label(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::Scheduled => "scheduled",
            TaskState::Idle => "idle",
            TaskState::Done => "done",
        }
    }
}

/// One task of the watched app.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRow {
    /// The console's id of the task.
    pub id: u64,
    /// The task's name (`task.name`), empty when it has none.
    pub name: Arc<str>,
    /// Its state now.
    pub state: TaskState,
    /// Time spent being polled.
    pub busy: Duration,
    /// Time spent woken but not yet polled.
    pub scheduled: Duration,
    /// The rest of its life: waiting to be woken.
    pub idle: Duration,
    /// Times it was polled.
    pub polls: u64,
    /// Where it was spawned (`file:line`).
    pub location: Arc<str>,
}

/// All the tasks of one name since the connection started, finished ones included: what
/// the view shows beside the function of the same name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskName {
    /// The tasks' name (`task.name`), empty for unnamed tasks.
    pub name: Arc<str>,
    /// Tasks of this name the console reported.
    pub spawned: u64,
    /// Of those, not finished.
    pub alive: u64,
    /// Of those, finished.
    pub completed: u64,
    /// Time spent being polled, all of them.
    pub busy: Duration,
    /// Time spent woken but not yet polled, all of them.
    pub scheduled: Duration,
    /// Polls, all of them.
    pub polls: u64,
    /// Of the tasks, those whose poll-time and scheduled-time histograms the console handed
    /// over and are in [`poll_time`](Self::poll_time) and
    /// [`scheduled_time`](Self::scheduled_time). A task the console forgot before the client
    /// could ask for them (a flood of short tasks) is counted above but not here.
    pub timed: u64,
    /// How long each poll of these tasks took, from the console's per-task poll-time
    /// histograms merged; `None` before any arrived.
    pub poll_time: Option<TaskTimes>,
    /// How long these tasks waited from a wake-up to their next poll, from the console's
    /// per-task scheduled-time histograms merged; `None` before any arrived.
    pub scheduled_time: Option<TaskTimes>,
}

/// The spread of one time (a poll, or a wait from wake-up to poll) over the tasks of one
/// name, read from the console's HdrHistograms (2 significant digits; taskscope counts them
/// in its own buckets, so each value is within 1.6 %). Polls longer than the console's
/// histogram holds (its "outliers") count at the longest one it saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskTimes {
    /// The median.
    pub p50: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The longest.
    pub max: Duration,
}

/// The tasks of one console connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tasks {
    /// The console's address.
    pub url: String,
    /// The connection state in words (`connecting`, `live`, `reconnecting in 2s: ...`).
    pub connection: String,
    /// The tasks alive now and those finished in the last few seconds, running ones first,
    /// then by busy time.
    pub rows: Vec<TaskRow>,
    /// Every task since the connection started, by name, the busiest first.
    pub names: Vec<TaskName>,
}

impl Tasks {
    /// Puts the rows in the order the view shows them: live tasks before finished ones,
    /// running, then scheduled, then idle, each by busy time, most first.
    pub fn sort(&mut self) {
        self.rows.sort_by(|a, b| {
            a.state
                .cmp(&b.state)
                .then(b.busy.cmp(&a.busy))
                .then(a.id.cmp(&b.id))
        });
    }

    /// Tasks in `state`.
    pub fn count(&self, state: TaskState) -> usize {
        self.rows.iter().filter(|r| r.state == state).count()
    }

    /// The tasks named `name`, if the console reported any.
    pub fn named(&self, name: &str) -> Option<&TaskName> {
        self.names.iter().find(|n| &*n.name == name)
    }

    /// Puts the names in the order the view shows them: the busiest first.
    pub fn sort_names(&mut self) {
        self.names
            .sort_by(|a, b| b.busy.cmp(&a.busy).then_with(|| a.name.cmp(&b.name)));
    }
}
