//! The runners: the interactive loop on a terminal, and the plain loop that prints
//! summaries where there is no terminal. Both feed frames from a source into the model.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

use super::model::{Effect, Model, Msg};
use super::screens::draw;
use super::summary;
use crate::frame::Frame;

/// How the dashboard ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The user pressed `q`.
    Quit,
    /// The user pressed Ctrl-C.
    Interrupted,
    /// The program asked it to stop (the app ended, a signal, or the run's duration).
    Stopped,
}

/// Why the dashboard could not start.
#[derive(Debug, thiserror::Error)]
pub enum TopError {
    /// Standard output is not a terminal.
    #[error(
        "standard output is not a terminal, so the dashboard cannot draw: run it in a terminal, or print summaries instead (`taskscope top --no-tui`, or `taskscope::report()` in an app)"
    )]
    NotATerminal,
    /// Another dashboard already has the terminal.
    #[error("a taskscope dashboard is already running in this process")]
    AlreadyRunning,
    /// The terminal refused raw mode or the alternate screen.
    #[error("the terminal could not be set up: {0}")]
    Terminal(#[from] io::Error),
}

/// Options of a run.
#[derive(Clone, Debug)]
pub(crate) struct RunOptions {
    /// Time between frames.
    pub(crate) refresh: Duration,
    /// Where Ctrl-S writes its files.
    pub(crate) export_dir: PathBuf,
    /// Set by the program to end the run.
    pub(crate) stop: Arc<AtomicBool>,
    /// End the run after this long.
    pub(crate) duration: Option<Duration>,
    /// The replayed recording, when the source is one: the keys' pause, speed, step and
    /// jumps go to it.
    #[cfg(feature = "receiver")]
    pub(crate) replay: Option<Arc<std::sync::Mutex<crate::receive::Replay>>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            refresh: Duration::from_secs(1),
            export_dir: PathBuf::from("."),
            stop: Arc::new(AtomicBool::new(false)),
            duration: None,
            #[cfg(feature = "receiver")]
            replay: None,
        }
    }
}

/// True while a dashboard owns the terminal (one per process).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Set when another thread printed a panic over the screen: the next frame redraws it all.
static DIRTY: AtomicBool = AtomicBool::new(false);
static HOOK: std::sync::Once = std::sync::Once::new();
/// Held while a frame is written, so a panic hook on another thread gives the terminal back
/// between two frames, never in the middle of one, and no frame follows it.
static SCREEN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

/// Installs (once) a panic hook that gives the terminal back before the panic is printed
/// when the dashboard's own thread or the main thread panics. A panic on another thread (a
/// task's panic that the app catches) leaves the dashboard running and redraws it.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::Acquire) {
                let thread = std::thread::current();
                let name = thread.name().unwrap_or("");
                if name == "taskscope-top" {
                    // The dashboard's own thread may hold SCREEN: never wait for it here.
                    ACTIVE.store(false, Ordering::Release);
                    restore_terminal();
                } else if name == "main" {
                    // Wait for the frame being written (a few milliseconds at most), then
                    // end the dashboard before giving the terminal back.
                    let deadline = std::time::Instant::now() + Duration::from_millis(500);
                    let guard = loop {
                        match SCREEN.try_lock() {
                            Ok(g) => break Some(g),
                            Err(std::sync::TryLockError::Poisoned(p)) => {
                                break Some(p.into_inner());
                            }
                            Err(_) if std::time::Instant::now() >= deadline => break None,
                            Err(_) => std::thread::yield_now(),
                        }
                    };
                    ACTIVE.store(false, Ordering::Release);
                    restore_terminal();
                    drop(guard);
                } else {
                    DIRTY.store(true, Ordering::Release);
                }
            }
            previous(info);
        }));
    });
}

/// Runs the interactive dashboard on this thread until the user quits or `options.stop` is
/// set. The terminal is restored on every way out, panics included.
pub(crate) fn run_terminal(
    mut model: Model,
    mut source: impl FnMut() -> Frame,
    options: &RunOptions,
) -> Result<(Exit, Model), TopError> {
    if !io::stdout().is_terminal() {
        return Err(TopError::NotATerminal);
    }
    if ACTIVE.swap(true, Ordering::AcqRel) {
        return Err(TopError::AlreadyRunning);
    }
    install_panic_hook();
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            if ACTIVE.swap(false, Ordering::AcqRel) {
                restore_terminal();
            }
        }
    }
    let _guard = Guard;
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let started = Instant::now();
    model.update(Msg::Resize(terminal.size()?.height));
    model.update(Msg::Frame(source()));
    let mut next = Instant::now() + options.refresh;
    let exit = loop {
        {
            let _screen = SCREEN.lock().unwrap_or_else(PoisonError::into_inner);
            if !ACTIVE.load(Ordering::Acquire) {
                // A panic hook gave the terminal back: draw nothing more.
                break Exit::Stopped;
            }
            if DIRTY.swap(false, Ordering::AcqRel) {
                terminal.clear()?;
            }
            terminal.draw(|f| draw(f, &model))?;
        }
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        let mut effect = Effect::None;
        if event::poll(wait)? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    let ctrl_c = k.code == event::KeyCode::Char('c')
                        && k.modifiers.contains(event::KeyModifiers::CONTROL);
                    effect = model.update(Msg::Key(k));
                    if effect == Effect::Quit {
                        break if ctrl_c {
                            Exit::Interrupted
                        } else {
                            Exit::Quit
                        };
                    }
                }
                Event::Resize(_, h) => {
                    model.update(Msg::Resize(h));
                }
                _ => {}
            }
        }
        match effect {
            Effect::Export => {
                let result = export(&model, &options.export_dir);
                model.update(Msg::Exported(result));
            }
            Effect::Redraw => DIRTY.store(true, Ordering::Release),
            #[cfg(feature = "receiver")]
            Effect::Replay(command) => {
                if let Some(frame) = replay_command(options, command) {
                    model.update(Msg::Frame(frame));
                }
            }
            _ => {}
        }
        if options.stop.load(Ordering::Acquire)
            || options.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break Exit::Stopped;
        }
        if Instant::now() >= next {
            model.update(Msg::Frame(source()));
            next += options.refresh;
            if next < Instant::now() {
                next = Instant::now() + options.refresh;
            }
        }
    };
    drop(terminal);
    Ok((exit, model))
}

/// Passes a key's command to the replayed recording; the frame to show now, for a step or
/// a jump.
#[cfg(feature = "receiver")]
pub(crate) fn replay_command(
    options: &RunOptions,
    command: super::model::ReplayCommand,
) -> Option<Frame> {
    use super::model::ReplayCommand;
    let replay = options.replay.as_ref()?;
    let mut r = replay.lock().unwrap_or_else(PoisonError::into_inner);
    match command {
        ReplayCommand::Pause(paused) => {
            r.set_paused(paused);
            None
        }
        ReplayCommand::Faster => {
            let s = r.speed().faster();
            r.set_speed(s);
            None
        }
        ReplayCommand::Slower => {
            let s = r.speed().slower();
            r.set_speed(s);
            None
        }
        ReplayCommand::Step => Some(r.step(options.refresh)),
        ReplayCommand::Jump(seconds) => {
            let by = Duration::from_secs(seconds.unsigned_abs());
            let to = if seconds < 0 {
                r.position().saturating_sub(by)
            } else {
                r.position().saturating_add(by)
            };
            r.seek(to);
            Some(r.frame())
        }
    }
}

/// Runs a replay without a terminal, on the recording's clock: a frame every refresh of
/// recording time (every export at `Speed::Max`, waiting for nothing), a summary every
/// `interval` of recording time, and a last one at the end of the recording.
#[cfg(feature = "receiver")]
pub(crate) fn run_replay_plain(
    mut model: Model,
    replay: &std::sync::Mutex<crate::receive::Replay>,
    options: &RunOptions,
    interval: Duration,
    json: bool,
    out: &mut dyn Write,
) -> io::Result<Model> {
    use crate::receive::Speed;
    let print = |model: &Model, out: &mut dyn Write| print_summary(model, json, out);
    let lock = || replay.lock().unwrap_or_else(PoisonError::into_inner);
    let started = Instant::now();
    let (first, mut next_print) = {
        let r = lock();
        (r.frame(), r.position() + interval)
    };
    model.update(Msg::Frame(first));
    loop {
        if options.stop.load(Ordering::Acquire)
            || options.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        let (frame, at, done, speed) = {
            let mut r = lock();
            let frame = r.step(options.refresh);
            (frame, r.position(), r.at_end(), r.speed())
        };
        model.update(Msg::Frame(frame));
        if at >= next_print {
            print(&model, out)?;
            next_print = at + interval;
        }
        if done {
            break;
        }
        if let Speed::Times(_) = speed {
            std::thread::sleep(options.refresh);
        }
    }
    print(&model, out)?;
    Ok(model)
}

/// Writes the visible table as CSV and the snapshot as JSON into `dir`; the file names.
pub(crate) fn export(model: &Model, dir: &Path) -> Result<Vec<String>, String> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut names = Vec::new();
    #[allow(unused_mut)]
    let mut files = vec![
        ("csv", summary::csv(&model.rows).into_bytes()),
        ("json", summary::json(model).into_bytes()),
    ];
    #[cfg(feature = "hdrhistogram")]
    files.push(("hlog", interval_log(model)?));
    for (ext, bytes) in files {
        let path = dir.join(format!("taskscope-top-{stamp}.{ext}"));
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        names.push(path.display().to_string());
    }
    Ok(names)
}

/// The window's latency of every shown function as an HdrHistogram interval log: one
/// interval (the window, ending now), one histogram per function tagged
/// `service/code.function.name`.
#[cfg(feature = "hdrhistogram")]
fn interval_log(model: &Model) -> Result<Vec<u8>, String> {
    let span = model.history.span(model.window);
    let now = SystemTime::now();
    let base = now.checked_sub(span).unwrap_or(now);
    let interval = crate::export::hdr::Interval {
        start: Duration::ZERO,
        length: span,
        histograms: model
            .rows
            .iter()
            .map(|r| {
                let s = &r.series;
                let name = if s.module.is_empty() {
                    s.function.to_string()
                } else {
                    format!("{}::{}", s.module, s.function)
                };
                (format!("{}/{name}", s.service), r.latency.to_hdr())
            })
            .collect(),
        comment: "taskscope top: each function's latency over the window, values in nanoseconds",
    };
    let mut out = Vec::new();
    crate::export::hdr::write_interval(&interval, base, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Writes one summary: a JSON line, or a table.
fn print_summary(model: &Model, json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        writeln!(out, "{}", summary::json(model))?;
    } else {
        writeln!(out, "{}", summary::table(model))?;
    }
    out.flush()
}

/// Runs without a terminal: a frame every `options.refresh`, a summary (table or JSON
/// line) every `interval`, and a last one when the run ends.
pub(crate) fn run_plain(
    mut model: Model,
    mut source: impl FnMut() -> Frame,
    options: &RunOptions,
    interval: Duration,
    json: bool,
    out: &mut dyn Write,
) -> io::Result<Model> {
    let started = Instant::now();
    let mut next_print = started + interval;
    model.update(Msg::Frame(source()));
    let print = |model: &Model, out: &mut dyn Write| print_summary(model, json, out);
    let mut next_frame = started + options.refresh;
    loop {
        if options.stop.load(Ordering::Acquire)
            || options.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        let wake = next_frame.min(next_print);
        std::thread::sleep(
            wake.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
        let now = Instant::now();
        if now >= next_frame {
            model.update(Msg::Frame(source()));
            next_frame = (next_frame + options.refresh).max(now);
        }
        if now >= next_print {
            print(&model, out)?;
            next_print = (next_print + interval).max(now);
        }
    }
    model.update(Msg::Frame(source()));
    print(&model, out)?;
    Ok(model)
}
