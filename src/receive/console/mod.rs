//! A tokio-console client for the Tasks view: it watches an app's console endpoint with
//! `console-api`'s own client and keeps a bounded table of its tasks, reconnecting with
//! backoff when the app goes away. Beside the update stream it asks for each task's details
//! (its poll-time and scheduled-time histograms), a few at a time: once for a finished task,
//! again every [`DETAILS_REFRESH`] for a live one.

mod task_times;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use console_api::field::{Name, Value};
use console_api::instrument::instrument_client::InstrumentClient;
use console_api::instrument::{InstrumentRequest, TaskDetailsRequest};
use console_api::tasks::Stats;
use tokio::sync::oneshot;
use tonic::transport::Channel;

use crate::frame::{TaskName, TaskRow, TaskState, Tasks};
use task_times::TaskLatency;

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
/// How often a live task's histograms are asked for again.
pub const DETAILS_REFRESH: Duration = Duration::from_secs(1);
/// Details requests in flight at once: the console's aggregator answers each in its loop,
/// so a flood of short tasks is read a batch at a time and never crowds out its updates.
const DETAILS_IN_FLIGHT: usize = 32;
/// The longest a details request may take.
const DETAILS_TIMEOUT: Duration = Duration::from_secs(5);
/// A finished task's details that failed are asked for again after this, up to
/// [`DETAILS_TRIES`] times in all.
const DETAILS_RETRY: Duration = Duration::from_millis(250);
const DETAILS_TRIES: u8 = 3;

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
    /// The latest poll and scheduled times the console gave for this task.
    latency: Option<TaskLatency>,
    /// When they were last asked for; `None` before the first time.
    asked: Option<Instant>,
    /// A request for them is in flight.
    asking: bool,
    /// Requests for them since the task finished.
    final_asks: u8,
    /// Its final times are in its name's totals (or will never be: the console forgot it).
    settled: bool,
}

impl Entry {
    fn finished(&self) -> bool {
        self.stats.as_ref().is_some_and(|s| s.dropped_at.is_some())
    }
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
    /// Per name (the same keys): the poll and scheduled times of its settled tasks.
    latencies: HashMap<Arc<str>, TaskLatency>,
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
        self.latencies.clear();
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

    /// Puts a task's times into its name's: its final ones, or the last it was seen with
    /// when the console forgot it first. Once per task.
    fn settle(&mut self, id: u64) {
        let Some(e) = self.tasks.get_mut(&id) else {
            return;
        };
        if e.settled {
            return;
        }
        e.settled = true;
        let Some(latency) = e.latency.take() else {
            return;
        };
        let name = e.name.clone();
        totals_of(&mut self.names, &name).timed += 1;
        let key = counted_name(&self.names, &name);
        self.latencies.entry(key).or_default().merge(&latency);
    }

    /// The tasks whose histograms to ask for now, at most `n`: finished tasks not yet
    /// settled first (their times are final), then live ones never asked, then live ones
    /// asked longest ago, if over [`DETAILS_REFRESH`].
    fn due(&mut self, now: Instant, n: usize) -> Vec<u64> {
        let mut due: Vec<(u8, Option<Instant>, u64)> = self
            .tasks
            .iter()
            .filter(|(_, e)| !e.asking && !e.settled)
            .filter_map(|(id, e)| {
                let since = e.asked.map(|t| now - t);
                let rank = if e.finished() {
                    if e.final_asks > 0 && since.is_some_and(|s| s < DETAILS_RETRY) {
                        return None;
                    }
                    0
                } else if e.asked.is_none() {
                    1
                } else if since.is_some_and(|s| s >= DETAILS_REFRESH) {
                    2
                } else {
                    return None;
                };
                Some((rank, e.asked, *id))
            })
            .collect();
        if due.len() > n {
            due.select_nth_unstable(n);
            due.truncate(n);
        }
        due.sort_unstable();
        let ids: Vec<u64> = due.into_iter().map(|(_, _, id)| id).collect();
        for id in &ids {
            if let Some(e) = self.tasks.get_mut(id) {
                e.asking = true;
                e.asked = Some(now);
                if e.finished() {
                    e.final_asks += 1;
                }
            }
        }
        ids
    }

    /// What a details request for `id` brought: the latest times of a live task, the final
    /// ones of a finished task (settled into its name), or, when the console no longer has
    /// the task, nothing more to ask.
    fn answered(&mut self, id: u64, answer: Answer) {
        let Some(e) = self.tasks.get_mut(&id) else {
            return;
        };
        e.asking = false;
        match answer {
            Answer::Times(latency, finished_when_asked) => {
                e.latency = Some(latency);
                if finished_when_asked {
                    self.settle(id);
                }
            }
            Answer::Gone => self.settle(id),
            Answer::Failed => {
                if e.final_asks >= DETAILS_TRIES {
                    self.settle(id);
                }
            }
        }
    }
}

/// What one details request brought.
enum Answer {
    /// The task's times; `true` when the task had finished before they were asked for, so
    /// they are final.
    Times(TaskLatency, bool),
    /// The console no longer has the task.
    Gone,
    /// Anything else (a timeout, a broken connection, bytes that do not decode): ask again
    /// later.
    Failed,
}

/// The name a task is counted under: its own, or `_overflow` past the cap.
fn counted_name(names: &HashMap<Arc<str>, TaskName>, name: &Arc<str>) -> Arc<str> {
    if names.contains_key(name) || names.len() < MAX_TASK_NAMES {
        name.clone()
    } else {
        crate::words::names::OVERFLOW_KIND.into()
    }
}

/// The totals a task of this name is counted in: its name's, or `_overflow`'s past the cap.
fn totals_of<'a>(names: &'a mut HashMap<Arc<str>, TaskName>, name: &Arc<str>) -> &'a mut TaskName {
    let name = counted_name(names, name);
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
        // The live tasks' latest histograms add to their names' settled ones.
        let mut live: HashMap<Arc<str>, TaskLatency> = HashMap::new();
        for (id, e) in &table.tasks {
            if !e.settled
                && let Some(l) = &e.latency
            {
                let key = counted_name(&names, &e.name);
                totals_of(&mut names, &e.name).timed += 1;
                live.entry(key)
                    .or_insert_with_key(|k| table.latencies.get(k).cloned().unwrap_or_default())
                    .merge(l);
            }
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
        for (key, n) in &mut names {
            if let Some(l) = live.get(key).or_else(|| table.latencies.get(key)) {
                (n.poll_time, n.scheduled_time) = l.times();
            }
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
            Ok(client) => {
                let mut client = client.max_decoding_message_size(MAX_UPDATE_BYTES);
                let details = client.clone();
                match client.watch_updates(InstrumentRequest::default()).await {
                    Ok(stream) => {
                        let mut stream = stream.into_inner();
                        {
                            let mut t = table.lock().unwrap_or_else(PoisonError::into_inner);
                            t.clear();
                            t.connection = "live".into();
                        }
                        backoff = Duration::from_millis(500);
                        let updates = async {
                            loop {
                                match stream.message().await {
                                    Ok(Some(update)) => apply(&table, update),
                                    Ok(None) => break "the app closed the stream".to_string(),
                                    Err(e) => break e.message().to_string(),
                                }
                            }
                        };
                        tokio::select! {
                            error = updates => error,
                            never = ask_details(details, &table) => match never {},
                        }
                    }
                    Err(e) => e.message().to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        set_connection(
            &table,
            format!(
                "reconnecting in {}s: {}",
                backoff.as_secs_f64(),
                crate::words::text::printable(&error)
            ),
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Asks for the tasks' histograms, up to [`DETAILS_IN_FLIGHT`] at a time, a new request
/// as soon as one is answered, for as long as the connection lives.
async fn ask_details(
    client: InstrumentClient<Channel>,
    table: &Mutex<Table>,
) -> std::convert::Infallible {
    let lock = || table.lock().unwrap_or_else(PoisonError::into_inner);
    let mut queue = VecDeque::new();
    let mut asks = tokio::task::JoinSet::new();
    loop {
        if queue.is_empty() {
            // Taken a few batches at a time: each pick walks the table.
            queue.extend(lock().due(Instant::now(), 4 * DETAILS_IN_FLIGHT));
        }
        while asks.len() < DETAILS_IN_FLIGHT
            && let Some(id) = queue.pop_front()
        {
            let finished = lock().tasks.get(&id).is_some_and(Entry::finished);
            asks.spawn(ask_one(client.clone(), id, finished));
        }
        match asks.join_next().await {
            Some(Ok((id, answer))) => lock().answered(id, answer),
            Some(Err(_)) => {}
            None => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// One task's details: the first message of its details stream (its state now), after
/// which the stream is dropped, which ends the console's subscription.
async fn ask_one(mut client: InstrumentClient<Channel>, id: u64, finished: bool) -> (u64, Answer) {
    let ask = async {
        let request = TaskDetailsRequest {
            id: Some(console_api::Id { id }),
        };
        let mut stream = match client.watch_task_details(request).await {
            Ok(s) => s.into_inner(),
            Err(s) if s.code() == tonic::Code::NotFound => return Answer::Gone,
            Err(_) => return Answer::Failed,
        };
        match stream.message().await {
            Ok(Some(d)) => {
                TaskLatency::decode(&d).map_or(Answer::Failed, |l| Answer::Times(l, finished))
            }
            Ok(None) => Answer::Gone,
            Err(s) if s.code() == tonic::Code::NotFound => Answer::Gone,
            Err(_) => Answer::Failed,
        }
    };
    let answer = tokio::time::timeout(DETAILS_TIMEOUT, ask)
        .await
        .unwrap_or(Answer::Failed);
    (id, answer)
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
        t.add(task);
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
    t.evict();
}

impl Table {
    /// A task the console announces, counted under its name once (the console may report a
    /// task again).
    fn add(&mut self, task: console_api::tasks::Task) {
        let Some(id) = task.id.map(|i| i.id) else {
            return;
        };
        let name = self.task_name(&task);
        if self.tasks.contains_key(&id) || self.done.contains(&id) {
            return;
        }
        totals_of(&mut self.names, &name).spawned += 1;
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
        self.tasks.insert(
            id,
            Entry {
                name,
                location: crate::words::text::printable(&location).into(),
                ..Entry::default()
            },
        );
    }

    /// A task's `task.name` field (named directly or by its index in the metadata's
    /// fields), empty when it has none.
    fn task_name(&self, task: &console_api::tasks::Task) -> Arc<str> {
        let mut name: Arc<str> = "".into();
        for f in &task.fields {
            let field = match &f.name {
                Some(Name::StrName(s)) => Some(s.as_str()),
                Some(Name::NameIdx(i)) => f
                    .metadata_id
                    .as_ref()
                    .and_then(|m| self.field_names.get(&m.id))
                    .and_then(|names| names.get(*i as usize))
                    .map(String::as_str),
                None => None,
            };
            if field == Some("task.name")
                && let Some(Value::StrVal(s) | Value::DebugVal(s)) = &f.value
            {
                name = crate::words::text::printable(s.trim_matches('"')).into();
            }
        }
        name
    }

    /// Finished tasks leave after a while, their last times settled into their names'; the
    /// table never grows past its cap (the oldest finished tasks go first).
    fn evict(&mut self) {
        let now = self.now;
        let expired: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, e)| {
                let dropped = e.stats.as_ref().and_then(|s| since_epoch(&s.dropped_at));
                dropped.is_some_and(|d| now.saturating_sub(d) >= DONE_RETENTION)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.settle(id);
            self.tasks.remove(&id);
        }
        if self.tasks.len() > MAX_TASKS {
            let mut ids: Vec<(bool, u64)> = self
                .tasks
                .iter()
                .map(|(id, e)| (!e.finished(), *id))
                .collect();
            ids.sort();
            let excess = self.tasks.len() - MAX_TASKS;
            for (_, id) in ids.into_iter().take(excess) {
                self.settle(id);
                self.tasks.remove(&id);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(dropped: bool) -> Stats {
        Stats {
            dropped_at: dropped.then_some(prost_types::Timestamp {
                seconds: 1,
                nanos: 0,
            }),
            ..Stats::default()
        }
    }

    fn table(tasks: &[(u64, &str, bool)]) -> Table {
        let mut t = Table::default();
        for &(id, name, done) in tasks {
            let name: Arc<str> = name.into();
            totals_of(&mut t.names, &name).spawned += 1;
            t.tasks.insert(
                id,
                Entry {
                    name,
                    stats: Some(stats(done)),
                    ..Entry::default()
                },
            );
            if done {
                t.finish(id);
            }
        }
        t
    }

    fn latency(poll_ns: u64) -> TaskLatency {
        let mut l = TaskLatency::default();
        l.poll.record(Duration::from_nanos(poll_ns));
        l.scheduled.record(Duration::from_nanos(poll_ns / 10));
        l
    }

    #[test]
    fn finished_tasks_are_asked_first_then_new_then_stale_ones() {
        let mut t = table(&[(1, "a", false), (2, "a", true), (3, "b", false)]);
        let now = Instant::now();
        t.tasks.get_mut(&3).unwrap().asked = Some(now - DETAILS_REFRESH * 2);
        let due = t.due(now, 10);
        assert_eq!(due.len(), 3);
        assert_eq!(due[0], 2, "the finished task first: {due:?}");
        assert_eq!(due[1], 1, "then the one never asked: {due:?}");
        // Asked ones are not asked twice while in flight, nor again before the refresh.
        assert!(t.due(now, 10).is_empty());
        for id in due {
            t.answered(id, Answer::Times(latency(1_000), id == 2));
        }
        assert!(t.due(now + DETAILS_REFRESH / 2, 10).is_empty());
        let mut again = t.due(now + DETAILS_REFRESH, 10);
        again.sort();
        assert_eq!(again, [1, 3], "the live ones, not the settled one");
        // At most `n` at a time.
        let mut t = table(&[(1, "a", true), (2, "a", true), (3, "a", true)]);
        assert_eq!(t.due(now, 2).len(), 2);
    }

    #[test]
    fn a_finished_task_counts_once_with_its_final_times() {
        let mut t = table(&[(1, "job", true), (2, "job", false)]);
        let now = Instant::now();
        let _ = t.due(now, 10);
        t.answered(1, Answer::Times(latency(2_000_000), true));
        t.answered(2, Answer::Times(latency(1_000), false));
        // A late second answer, and the expiry, change nothing for the settled task.
        t.answered(1, Answer::Times(latency(9_000_000_000), true));
        t.settle(1);
        let n = &t.names[&Arc::<str>::from("job")];
        assert_eq!(n.timed, 1);
        assert_eq!(t.latencies[&Arc::<str>::from("job")].poll.count(), 1);
        // The live one joins in the view, not in the settled totals.
        let client = ConsoleClient {
            table: Arc::new(Mutex::new(t)),
            stop: None,
            thread: None,
        };
        let tasks = client.tasks();
        let job = tasks.named("job").unwrap();
        assert_eq!(job.timed, 2);
        let poll = job.poll_time.unwrap();
        assert!(poll.max >= Duration::from_micros(1_900), "{poll:?}");
        assert!(
            poll.max < Duration::from_secs(1),
            "the late answer is not counted: {poll:?}"
        );
    }

    #[test]
    fn a_task_the_console_forgot_keeps_what_was_seen_or_nothing() {
        let mut t = table(&[(1, "a", true), (2, "b", true)]);
        let now = Instant::now();
        let _ = t.due(now, 10);
        // Task 1 was seen live before it finished; task 2 never.
        t.tasks.get_mut(&1).unwrap().latency = Some(latency(5_000));
        t.answered(1, Answer::Gone);
        t.answered(2, Answer::Gone);
        assert_eq!(t.names[&Arc::<str>::from("a")].timed, 1);
        assert_eq!(t.names[&Arc::<str>::from("b")].timed, 0);
        assert!(!t.latencies.contains_key(&Arc::<str>::from("b")));
        assert!(
            t.due(now + DETAILS_REFRESH * 10, 10).is_empty(),
            "never asked again"
        );
    }

    #[test]
    fn failures_are_retried_a_few_times_then_given_up() {
        let mut t = table(&[(1, "a", true)]);
        let mut now = Instant::now();
        let mut asks = 0;
        loop {
            let due = t.due(now, 10);
            if due.is_empty() {
                break;
            }
            asks += 1;
            t.answered(1, Answer::Failed);
            assert!(t.due(now, 10).is_empty(), "not again at once");
            now += DETAILS_RETRY;
        }
        assert_eq!(asks, DETAILS_TRIES);
        assert!(t.tasks[&1].settled);
    }
}
