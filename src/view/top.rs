//! The embedded dashboard: [`top()`] runs `taskscope top` inside the app, on its own
//! terminal, reading the recorder directly.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::format::Glyphs;
use super::model::{Model, Settings};
use super::recorder::{RecorderSource, service_name};
use super::rows::Window;
use super::run::{Exit, RunOptions, TopError, run_terminal};

/// Starts building the embedded dashboard.
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
    }
}

/// Settings of the embedded dashboard; see [`top()`].
#[derive(Debug)]
#[must_use = "call start() or run()"]
pub struct TopBuilder {
    settings: Settings,
    options: RunOptions,
    service: Option<String>,
}

impl TopBuilder {
    /// Time between two readings of the recorder (default 1 s).
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

    /// Where Ctrl-S writes its CSV and JSON files (default: the working directory).
    pub fn with_export_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.export_dir = dir.into();
        self
    }

    /// The service name shown (default `OTEL_SERVICE_NAME`, else the binary's name).
    pub fn with_service_name(mut self, name: &str) -> Self {
        self.service = Some(name.to_string());
        self
    }

    fn parts(self) -> (Model, RecorderSource, RunOptions) {
        let service = self.service.unwrap_or_else(service_name);
        (
            Model::new(self.settings),
            RecorderSource::new(&service),
            self.options,
        )
    }

    /// Runs the dashboard on this thread until the user quits.
    pub fn run(self) -> Result<Exit, TopError> {
        let (model, mut source, options) = self.parts();
        run_terminal(model, || source.frame(), &options).map(|(exit, _)| exit)
    }

    /// Starts the dashboard on its own thread and returns at once. It checks that standard
    /// output is a terminal first, so the error comes back here.
    pub fn start(self) -> Result<TopHandle, TopError> {
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() {
            return Err(TopError::NotATerminal);
        }
        let (model, mut source, options) = self.parts();
        let stop = options.stop.clone();
        let thread = crate::background::spawn("taskscope-top", move || {
            run_terminal(model, || source.frame(), &options).map(|(e, _)| e)
        })
        .map_err(TopError::Terminal)?;
        Ok(TopHandle {
            stop,
            thread: Some(thread),
        })
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
    pub fn from_env() -> Settings {
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
