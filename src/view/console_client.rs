//! A tokio-console client for the Tasks view: it watches an app's console endpoint with
//! `console-api`'s own client and keeps a bounded table of its tasks, reconnecting with
//! backoff when the app goes away.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use console_api::field::{Name, Value};
use console_api::instrument::InstrumentRequest;
use console_api::instrument::instrument_client::InstrumentClient;
use console_api::tasks::Stats;
use tokio::sync::oneshot;

use super::tasks::{TaskName, TaskRow, TaskState, Tasks};

/// Tasks kept at most; beyond, the oldest finished ones go first, then the oldest.
pub const MAX_TASKS: usize = 10_000;
/// How long a finished task stays in the view.
pub const DONE_RETENTION: Duration = Duration::from_secs(5);
/// Task names counted at most; tasks of further names are counted under `_overflow`.
pub const MAX_TASK_NAMES: usize = 1_000;
/// The largest update read from the console. gRPC's default, 4 MB, is less than one update
/// about a few thousand tasks (each carries its poll-time histogram): the stream would break
/// and start again from scratch.
const MAX_UPDATE_BYTES: usize = 256 << 20;
/// Finished tasks remembered by id, so that one the console reports twice counts once.
const DONE_IDS: usize = 100_000;

/// Why the client could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleClientError {
    /// The URL is not `http://HOST:PORT`.
    #[error("`{0}` is not a console address: write it as http://127.0.0.1:6669")]
    BadUrl(String),
    /// The client's thread could not start.
    #[error("the console client could not start: {0}")]
    Start(#[from] std::io::Error),
}

#[derive(Debug, Default)]
struct Entry {
    name: Arc<str>,
    location: Arc<str>,
    stats: Option<Stats>,
}

#[derive(Debug, Default)]
struct Table {
    url: String,
    connection: String,
    tasks: HashMap<u64, Entry>,
    field_names: HashMap<u64, Vec<String>>,
    now: Duration,
    /// Per name: the counts, and the times of the finished tasks.
    names: HashMap<Arc<str>, TaskName>,
    /// Finished tasks' ids, oldest first, at most [`DONE_IDS`].
    done: HashSet<u64>,
    done_order: VecDeque<u64>,
}

impl Table {
    /// Forgets everything: a new connection may be a restarted app, whose ids start again,
    /// and the console sends every task it still keeps once more.
    fn clear(&mut self) {
        self.tasks.clear();
        self.field_names.clear();
        self.names.clear();
        self.done.clear();
        self.done_order.clear();
    }

    /// Counts a task that finished: once, with its final times.
    fn finish(&mut self, id: u64) {
        if self.done.contains(&id) {
            return;
        }
        let Some(e) = self.tasks.get(&id) else {
            return;
        };
        let (busy, scheduled, polls) = times(e);
        let totals = totals_of(&mut self.names, &e.name);
        totals.completed += 1;
        totals.busy += busy;
        totals.scheduled += scheduled;
        totals.polls += polls;
        self.done.insert(id);
        self.done_order.push_back(id);
        if self.done_order.len() > DONE_IDS
            && let Some(old) = self.done_order.pop_front()
        {
            self.done.remove(&old);
        }
    }
}

/// The totals a task of this name is counted in: its name's, or `_overflow`'s past the cap.
fn totals_of<'a>(names: &'a mut HashMap<Arc<str>, TaskName>, name: &Arc<str>) -> &'a mut TaskName {
    let name = if names.contains_key(name) || names.len() < MAX_TASK_NAMES {
        name.clone()
    } else {
        crate::OVERFLOW_KIND.into()
    };
    names.entry(name.clone()).or_insert_with(|| TaskName {
        name,
        ..TaskName::default()
    })
}

/// A task's busy time, scheduled time and polls so far.
fn times(e: &Entry) -> (Duration, Duration, u64) {
    let Some(s) = &e.stats else {
        return (Duration::ZERO, Duration::ZERO, 0);
    };
    let poll = s.poll_stats.as_ref();
    (
        poll.map_or(Duration::ZERO, |p| duration(&p.busy_time)),
        duration(&s.scheduled_time),
        poll.map_or(0, |p| p.polls),
    )
}

/// A running console client; dropping it stops it.
#[derive(Debug)]
pub struct ConsoleClient {
    table: Arc<Mutex<Table>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ConsoleClient {
    /// Starts watching the console at `url` (for example `http://127.0.0.1:6669`) on a
    /// thread of its own. It connects in the background, so a console that is not up yet
    /// is not an error: the view says `connecting` and retries.
    pub fn connect(url: &str) -> Result<ConsoleClient, ConsoleClientError> {
        let valid = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .is_some_and(|rest| rest.contains(':') && !rest.contains(char::is_whitespace));
        if !valid {
            return Err(ConsoleClientError::BadUrl(url.to_string()));
        }
        let table = Arc::new(Mutex::new(Table {
            url: url.to_string(),
            connection: "connecting".into(),
            ..Table::default()
        }));
        let (stop, stopped) = oneshot::channel();
        let shared = table.clone();
        let url = url.to_string();
        let thread = crate::background::spawn("taskscope-console-client", move || {
            let Ok(rt) = crate::background::runtime_builder().build() else {
                return;
            };
            rt.block_on(async move {
                tokio::select! {
                    _ = watch(url, shared) => {}
                    _ = stopped => {}
                }
            });
        })?;
        Ok(ConsoleClient {
            table,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The tasks now, in the view's order.
    pub fn tasks(&self) -> Tasks {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        // Finished tasks are in the totals; the live ones add what they have so far.
        let mut names = table.names.clone();
        for (id, e) in &table.tasks {
            if table.done.contains(id) {
                continue;
            }
            let (busy, scheduled, polls) = times(e);
            let n = totals_of(&mut names, &e.name);
            n.alive += 1;
            n.busy += busy;
            n.scheduled += scheduled;
            n.polls += polls;
        }
        let mut tasks = Tasks {
            url: table.url.clone(),
            connection: table.connection.clone(),
            rows: table
                .tasks
                .iter()
                .map(|(id, e)| row(*id, e, table.now))
                .collect(),
            names: names.into_values().collect(),
        };
        tasks.sort();
        tasks.sort_names();
        tasks
    }
}

impl Drop for ConsoleClient {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn set_connection(table: &Mutex<Table>, text: String) {
    table
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .connection = text;
}

/// Connects, reads updates until the stream ends, and starts again after a pause that
/// doubles up to 10 s (back to 0.5 s after a connection that delivered updates).
async fn watch(url: String, table: Arc<Mutex<Table>>) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let error = match InstrumentClient::connect(url.clone()).await {
            Ok(client) => match client
                .max_decoding_message_size(MAX_UPDATE_BYTES)
                .watch_updates(InstrumentRequest::default())
                .await
            {
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    {
                        let mut t = table.lock().unwrap_or_else(PoisonError::into_inner);
                        t.clear();
                        t.connection = "live".into();
                    }
                    backoff = Duration::from_millis(500);
                    loop {
                        match stream.message().await {
                            Ok(Some(update)) => apply(&table, update),
                            Ok(None) => break "the app closed the stream".to_string(),
                            Err(e) => break e.message().to_string(),
                        }
                    }
                }
                Err(e) => e.message().to_string(),
            },
            Err(e) => e.to_string(),
        };
        set_connection(
            &table,
            format!(
                "reconnecting in {}s: {}",
                backoff.as_secs_f64(),
                super::format::sanitize(&error)
            ),
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

fn since_epoch(t: &Option<prost_types::Timestamp>) -> Option<Duration> {
    let t = t.as_ref()?;
    (t.seconds >= 0 && t.nanos >= 0).then(|| Duration::new(t.seconds as u64, t.nanos as u32))
}

fn duration(d: &Option<prost_types::Duration>) -> Duration {
    d.as_ref()
        .filter(|d| d.seconds >= 0 && d.nanos >= 0)
        .map_or(Duration::ZERO, |d| {
            Duration::new(d.seconds as u64, d.nanos as u32)
        })
}

fn apply(table: &Mutex<Table>, update: console_api::instrument::Update) {
    let mut t = table.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(now) = since_epoch(&update.now) {
        t.now = now;
    }
    if let Some(meta) = update.new_metadata {
        for m in meta.metadata {
            if let (Some(id), Some(md)) = (m.id, m.metadata) {
                t.field_names.insert(id.id, md.field_names);
            }
        }
    }
    let Some(tasks) = update.task_update else {
        return;
    };
    for task in tasks.new_tasks {
        let Some(id) = task.id.map(|i| i.id) else {
            continue;
        };
        let mut name: Arc<str> = "".into();
        for f in &task.fields {
            let field = match &f.name {
                Some(Name::StrName(s)) => Some(s.as_str()),
                Some(Name::NameIdx(i)) => f
                    .metadata_id
                    .as_ref()
                    .and_then(|m| t.field_names.get(&m.id))
                    .and_then(|names| names.get(*i as usize))
                    .map(String::as_str),
                None => None,
            };
            if field == Some("task.name") {
                name = match &f.value {
                    Some(Value::StrVal(s)) | Some(Value::DebugVal(s)) => {
                        super::format::sanitize(s.trim_matches('"')).into()
                    }
                    _ => name,
                };
            }
        }
        // The console may report a task again: it counts once.
        if t.tasks.contains_key(&id) || t.done.contains(&id) {
            continue;
        }
        totals_of(&mut t.names, &name).spawned += 1;
        let location = task
            .location
            .map(|l| {
                format!(
                    "{}:{}",
                    l.file.unwrap_or_default().rsplit('/').next().unwrap_or(""),
                    l.line.unwrap_or(0)
                )
            })
            .unwrap_or_default();
        t.tasks.insert(
            id,
            Entry {
                name,
                location: super::format::sanitize(&location).into(),
                stats: None,
            },
        );
    }
    for (id, stats) in tasks.stats_update {
        let finished = stats.dropped_at.is_some();
        if let Some(e) = t.tasks.get_mut(&id) {
            e.stats = Some(stats);
            if finished {
                t.finish(id);
            }
        }
    }
    // Finished tasks leave after a while; the table never grows past its cap.
    let now = t.now;
    t.tasks.retain(|_, e| {
        let dropped = e.stats.as_ref().and_then(|s| since_epoch(&s.dropped_at));
        dropped.is_none_or(|d| now.saturating_sub(d) < DONE_RETENTION)
    });
    if t.tasks.len() > MAX_TASKS {
        let mut ids: Vec<(bool, u64)> = t
            .tasks
            .iter()
            .map(|(id, e)| {
                let done = e.stats.as_ref().is_some_and(|s| s.dropped_at.is_some());
                (!done, *id)
            })
            .collect();
        ids.sort();
        let excess = t.tasks.len() - MAX_TASKS;
        for (_, id) in ids.into_iter().take(excess) {
            t.tasks.remove(&id);
        }
    }
}

fn row(id: u64, e: &Entry, now: Duration) -> TaskRow {
    let Some(s) = &e.stats else {
        return TaskRow {
            id,
            name: e.name.clone(),
            state: TaskState::Idle,
            busy: Duration::ZERO,
            scheduled: Duration::ZERO,
            idle: Duration::ZERO,
            polls: 0,
            location: e.location.clone(),
        };
    };
    let poll = s.poll_stats.as_ref();
    let busy = poll.map_or(Duration::ZERO, |p| duration(&p.busy_time));
    let scheduled = duration(&s.scheduled_time);
    let created = since_epoch(&s.created_at).unwrap_or(now);
    let dropped = since_epoch(&s.dropped_at);
    let end = dropped.unwrap_or(now);
    let idle = end
        .saturating_sub(created)
        .saturating_sub(busy)
        .saturating_sub(scheduled);
    let started = poll.and_then(|p| since_epoch(&p.last_poll_started));
    let ended = poll.and_then(|p| since_epoch(&p.last_poll_ended));
    let woken = since_epoch(&s.last_wake);
    let state = if dropped.is_some() {
        TaskState::Done
    } else if started.is_some() && started > ended {
        TaskState::Running
    } else if woken.is_some() && woken > started {
        TaskState::Scheduled
    } else {
        TaskState::Idle
    };
    TaskRow {
        id,
        name: e.name.clone(),
        state,
        busy,
        scheduled,
        idle,
        polls: poll.map_or(0, |p| p.polls),
        location: e.location.clone(),
    }
}
