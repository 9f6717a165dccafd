//! The dashboard's public face: [`top()`] and its builder. It reads this process's recorder
//! by default, or what a [`Receiver`](crate::receive::Receiver) receives, beside an app's
//! tokio-console tasks; it runs on the terminal ([`TopBuilder::run`], [`TopBuilder::start`]),
//! prints plain summaries where there is none ([`TopBuilder::run_plain`]), or draws into
//! memory ([`TopBuilder::headless`]).

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::headless::Headless;
use super::model::{Model, Settings};
use super::rows::Window;
use super::run::{Exit, RunOptions, TopError, run_plain, run_terminal};
use super::style::Glyphs;
use super::summary;
use crate::frame::Frame;
use crate::frame::recorder::{RecorderSource, service_name};

/// Starts building the dashboard: by default it shows this process's recorder.
///
/// ```no_run
/// # fn main() -> Result<(), taskscope::view::TopError> {
/// let dashboard = taskscope::top().with_window(taskscope::view::Window::TenSeconds).start()?;
/// // ... the app runs; the dashboard draws on the terminal ...
/// let exit = dashboard.wait(); // the user pressed q (or Ctrl-C)
/// # let _ = exit;
/// # Ok(())
/// # }
/// ```
pub fn top() -> TopBuilder {
    TopBuilder {
        settings: Settings::from_env(),
        options: RunOptions::default(),
        service: None,
        source: Source::Recorder,
        #[cfg(feature = "tasks")]
        console: None,
        last_summary: false,
        #[cfg(all(feature = "otlp", feature = "receiver"))]
        recording: None,
    }
}

/// Settings of the dashboard; see [`top()`].
#[derive(Debug)]
#[must_use = "call run(), start(), run_plain() or headless()"]
pub struct TopBuilder {
    settings: Settings,
    options: RunOptions,
    service: Option<String>,
    source: Source,
    #[cfg(feature = "tasks")]
    console: Option<crate::receive::ConsoleClient>,
    last_summary: bool,
    /// Where this process's recorder's frames are recorded, as OTLP export requests.
    #[cfg(all(feature = "otlp", feature = "receiver"))]
    recording: Option<crate::receive::Recorder>,
}

/// Where the frames come from.
#[derive(Debug)]
enum Source {
    /// This process's recorder.
    Recorder,
    /// What a receiver receives.
    #[cfg(feature = "receiver")]
    Receiver(crate::receive::Receiver),
    /// A recording, replayed.
    #[cfg(feature = "receiver")]
    Replay(Arc<std::sync::Mutex<crate::receive::Replay>>),
    /// A Prometheus-compatible server's totals: the fleet view.
    #[cfg(feature = "receiver")]
    Prometheus(Box<std::sync::Mutex<crate::receive::PrometheusSource>>),
}

/// Ends a dashboard that runs on another thread's behalf (from a signal handler, a timer,
/// the app's shutdown): made by [`TopBuilder::stop_handle`].
#[derive(Clone, Debug)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Ends the run at its next tick: it gives the terminal back and returns
    /// [`Exit::Stopped`].
    pub fn stop(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// What a plain run prints every interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Summary {
    /// A table, as on screen (a blank line between two).
    Table,
    /// One JSON object a line.
    JsonLines,
}

impl TopBuilder {
    /// Time between two frames (default 1 s).
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.options.refresh = refresh.max(Duration::from_millis(50));
        self
    }

    /// The window shown at start, and the one `=` returns to (default 1 minute).
    pub fn with_window(mut self, window: Window) -> Self {
        self.settings.default_window = window;
        self
    }

    /// The error ratio (0 to 1) over which a function is flagged (default 0.05).
    pub fn with_error_rate_limit(mut self, ratio: f64) -> Self {
        self.settings.limits.error_rate = ratio;
        self
    }

    /// The p99 over which a function is flagged (default 1 s).
    pub fn with_p99_budget(mut self, budget: Duration) -> Self {
        self.settings.limits.p99_budget = budget.as_secs_f64();
        self
    }

    /// ASCII glyphs only (the default follows the locale and `TASKSCOPE_ASCII`).
    pub fn with_ascii(mut self, ascii: bool) -> Self {
        self.settings.glyphs = if ascii {
            Glyphs::ASCII
        } else {
            Glyphs::UNICODE
        };
        self
    }

    /// Colours on or off (the default is on unless `NO_COLOR` is set).
    pub fn with_color(mut self, color: bool) -> Self {
        self.settings.color = color;
        self
    }

    /// Where Ctrl-S writes its files (default: the working directory).
    pub fn with_export_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.export_dir = dir.into();
        self
    }

    /// The service name shown for this process's recorder (default `OTEL_SERVICE_NAME`,
    /// else the binary's name).
    pub fn with_service_name(mut self, name: &str) -> Self {
        self.service = Some(name.to_string());
        self
    }

    /// Shows what `receiver` receives (any service's OTLP metrics) instead of this
    /// process's recorder (cargo feature `receiver`).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let receiver = taskscope::receive::Receiver::builder().start()?;
    /// taskscope::top().with_receiver(receiver).run()?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "receiver")]
    pub fn with_receiver(mut self, receiver: crate::receive::Receiver) -> Self {
        self.source = Source::Receiver(receiver);
        self
    }

    /// Replays a recording (`taskscope top --replay`) instead of this process's recorder,
    /// on the recording's own clock at the replay's speed; Space pauses, `.` steps, `>`
    /// and `<` change the speed, `]` and `[` jump (cargo feature `receiver`). Without a
    /// terminal, [`run_plain`](TopBuilder::run_plain) plays it to its end.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use taskscope::receive::{Recording, Replay, Speed};
    /// let mut replay = Replay::new(Recording::open("incident.jsonl")?);
    /// replay.set_speed(Speed::Times(10.0));
    /// taskscope::top().with_replay(replay).run()?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "receiver")]
    pub fn with_replay(mut self, replay: crate::receive::Replay) -> Self {
        let replay = Arc::new(std::sync::Mutex::new(replay));
        self.options.replay = Some(replay.clone());
        self.settings.replay = true;
        self.source = Source::Replay(replay);
        self
    }

    /// Records what the dashboard reads from this process's recorder, one OTLP export
    /// request per refresh as the exporter would send it, into `recorder` (cargo features
    /// `otlp` and `receiver`); `taskscope top --replay` plays it back. A source other than
    /// the recorder records through its own means (a receiver's
    /// [`with_recorder`](crate::receive::ReceiverBuilder::with_recorder)).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let recorder = taskscope::receive::Recorder::builder("app.jsonl").start()?;
    /// let _top = taskscope::top().record(recorder).start()?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(all(feature = "otlp", feature = "receiver"))]
    pub fn record(mut self, recorder: crate::receive::Recorder) -> Self {
        self.recording = Some(recorder);
        self
    }

    /// Shows a fleet: taskscope's metrics as a Prometheus-compatible server holds them,
    /// summed across each service's instances (or per instance), refreshed every refresh
    /// (cargo feature `receiver`). An unreachable server is a status line.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let fleet = taskscope::receive::PrometheusSource::new("http://prometheus:9090")?;
    /// taskscope::top().with_prometheus(fleet).run()?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "receiver")]
    pub fn with_prometheus(mut self, source: crate::receive::PrometheusSource) -> Self {
        self.source = Source::Prometheus(Box::new(std::sync::Mutex::new(source)));
        self
    }

    /// Shows an app's tokio-console tasks by name beside the functions (cargo feature
    /// `tasks`).
    #[cfg(feature = "tasks")]
    pub fn with_console(mut self, console: crate::receive::ConsoleClient) -> Self {
        self.console = Some(console);
        self
    }

    /// Ends the run after this long, as [`StopHandle::stop`] would.
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.options.duration = Some(duration);
        self
    }

    /// When the run is ended by the program (a duration, a stop handle) rather than by the
    /// user, print the last summary table on standard output once the terminal is given
    /// back (default off).
    pub fn with_last_summary(mut self, print: bool) -> Self {
        self.last_summary = print;
        self
    }

    /// A handle that ends the run from elsewhere.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.options.stop.clone())
    }

    /// The model and the source of frames (with the console's tasks in each frame).
    fn parts(self) -> (Model, impl FnMut() -> Frame + Send, RunOptions, bool) {
        let service = self.service.unwrap_or_else(service_name);
        let mut recorder = RecorderSource::new(&service);
        #[cfg(feature = "receiver")]
        let refresh = self.options.refresh;
        let source = self.source;
        #[cfg(feature = "tasks")]
        let console = self.console;
        #[cfg(all(feature = "otlp", feature = "receiver"))]
        let recording = self.recording;
        let frames = move || {
            #[allow(unused_mut)]
            let mut frame = match &source {
                #[cfg(all(feature = "otlp", feature = "receiver"))]
                Source::Recorder if recording.is_some() => {
                    let snap = crate::record::snapshot::snapshot();
                    if let Some(r) = &recording {
                        r.record(crate::export::otlp::snapshot_request(&snap, &service));
                    }
                    recorder.frame_from(&snap)
                }
                Source::Recorder => recorder.frame(),
                #[cfg(feature = "receiver")]
                Source::Receiver(r) => r.frame(),
                #[cfg(feature = "receiver")]
                Source::Prometheus(p) => p
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .frame(),
                #[cfg(feature = "receiver")]
                Source::Replay(r) => r
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .tick(refresh),
            };
            #[cfg(feature = "tasks")]
            if let Some(c) = &console {
                frame.tasks = Some(Arc::new(c.tasks()));
            }
            frame
        };
        (
            Model::new(self.settings),
            frames,
            self.options,
            self.last_summary,
        )
    }

    /// Runs the dashboard on this thread's terminal until the user quits or the run is
    /// stopped.
    pub fn run(self) -> Result<Exit, TopError> {
        let (model, source, options, last_summary) = self.parts();
        let (exit, model) = run_terminal(model, source, &options)?;
        if exit == Exit::Stopped && last_summary {
            let mut out = io::stdout().lock();
            writeln!(out, "{}", summary::table(&model)).and_then(|()| out.flush())?;
        }
        Ok(exit)
    }

    /// Starts the dashboard on its own thread and returns at once. It checks that standard
    /// output is a terminal first, so the error comes back here.
    pub fn start(self) -> Result<TopHandle, TopError> {
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() {
            return Err(TopError::NotATerminal);
        }
        let stop = self.options.stop.clone();
        let (model, source, options, _) = self.parts();
        let thread = crate::background::spawn("taskscope-top", move || {
            run_terminal(model, source, &options).map(|(e, _)| e)
        })
        .map_err(TopError::Terminal)?;
        Ok(TopHandle {
            stop,
            thread: Some(thread),
        })
    }

    /// Runs without a terminal: reads a frame every refresh and writes a summary into `out`
    /// every `every`, and a last one when the run ends (its duration, its stop handle).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// #[taskscope::measure]
    /// fn parse(s: &str) -> usize { s.len() }
    /// parse("seven");
    /// let mut out = Vec::new();
    /// taskscope::top()
    ///     .with_duration(std::time::Duration::from_millis(100))
    ///     .run_plain(&mut out, std::time::Duration::from_secs(60), taskscope::view::Summary::Table)?;
    /// assert!(String::from_utf8(out).unwrap().contains("parse"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn run_plain(
        self,
        out: &mut dyn Write,
        every: Duration,
        format: Summary,
    ) -> io::Result<()> {
        #[cfg(feature = "receiver")]
        if let Source::Replay(replay) = &self.source {
            let replay = replay.clone();
            let (model, _, options, _) = self.parts();
            let json = format == Summary::JsonLines;
            super::run::run_replay_plain(model, &replay, &options, every, json, out)?;
            return Ok(());
        }
        let (model, source, options, _) = self.parts();
        run_plain(
            model,
            source,
            &options,
            every,
            format == Summary::JsonLines,
            out,
        )?;
        Ok(())
    }

    /// The dashboard in memory, `width` x `height` cells, for tests and for tools that
    /// want its screens or summaries as text: it reads its source on
    /// [`Headless::tick`], takes frames on [`Headless::push`] and keys on
    /// [`Headless::press`].
    pub fn headless(self, width: u16, height: u16) -> Headless {
        let (model, source, options, _) = self.parts();
        Headless::new(model, Box::new(source), options, width, height)
    }
}

/// The running embedded dashboard. Dropping it (the app ending) closes the dashboard and
/// gives the terminal back.
#[derive(Debug)]
pub struct TopHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Exit, TopError>>>,
}

impl TopHandle {
    /// Waits until the user leaves the dashboard; how they left.
    pub fn wait(mut self) -> Exit {
        self.join()
    }

    /// Whether the dashboard has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Closes the dashboard and gives the terminal back.
    pub fn close(mut self) -> Exit {
        self.stop.store(true, Ordering::Release);
        self.join()
    }

    fn join(&mut self) -> Exit {
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(Ok(exit))) => exit,
            _ => Exit::Stopped,
        }
    }
}

impl Drop for TopHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.join();
    }
}

impl Settings {
    /// Settings from the environment: `NO_COLOR` turns colours off; `TASKSCOPE_ASCII=1` or
    /// a locale that is not UTF-8 chooses ASCII glyphs.
    pub(crate) fn from_env() -> Settings {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let color = var("NO_COLOR").is_none();
        let locale = var("LC_ALL")
            .or_else(|| var("LC_CTYPE"))
            .or_else(|| var("LANG"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let utf8 = locale.contains("utf-8") || locale.contains("utf8");
        let ascii = var("TASKSCOPE_ASCII").is_some_and(|v| v != "0") || !utf8;
        Settings {
            color,
            glyphs: if ascii {
                Glyphs::ASCII
            } else {
                Glyphs::UNICODE
            },
            ..Settings::default()
        }
    }
}
