//! One global `tracing` subscriber: the taskscope layer, an optional fmt layer,
//! tokio-console's layer and the OTLP exporter, each layer behind its own filter.

use std::fmt;
use std::net::SocketAddr;
#[cfg(feature = "console")]
use std::path::PathBuf;
#[cfg(feature = "console")]
use std::time::Duration;

use tracing_core::subscriber::Interest;
use tracing_core::{Dispatch, Metadata};
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::{Context, Filter, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

use crate::config::InitError;
#[cfg(feature = "otlp")]
use crate::export::otlp::{OtlpBuilder, OtlpError, OtlpExporter};
use crate::export::stats::ExportStats;

/// A layer on the registry, boxed so that any number of them can be stacked.
type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync + 'static>;

/// The variable tokio-console and console-subscriber read for the console's address.
#[cfg(feature = "console")]
const CONSOLE_BIND_VAR: &str = "TOKIO_CONSOLE_BIND";
/// console-subscriber's variable for how long finished tasks are kept.
#[cfg(feature = "console")]
const CONSOLE_RETENTION_VAR: &str = "TOKIO_CONSOLE_RETENTION";
/// console-subscriber's variable for the time between two updates to a client.
#[cfg(feature = "console")]
const CONSOLE_PUBLISH_INTERVAL_VAR: &str = "TOKIO_CONSOLE_PUBLISH_INTERVAL";
/// console-subscriber's variable for a file that records every event.
#[cfg(feature = "console")]
const CONSOLE_RECORD_PATH_VAR: &str = "TOKIO_CONSOLE_RECORD_PATH";
/// console-subscriber's variable for the capacity of its event channel.
#[cfg(feature = "console")]
const CONSOLE_BUFFER_CAPACITY_VAR: &str = "TOKIO_CONSOLE_BUFFER_CAPACITY";

/// How long the console keeps a finished task when neither the builder nor
/// `TOKIO_CONSOLE_RETENTION` says. console-subscriber's own default is an hour, and it holds
/// about 57 KB per task (its poll and scheduled-time histograms) until the retention has
/// passed, so its memory grows with every task for an hour: 350 MB after 6000 requests in
/// `examples/console_cost.rs`. With 2 s it levels off at about the tasks finished per
/// second times (retention + 1 s) times 57 KB (358 MB at 1650 tasks a second, 17 MB at
/// 100). A connected client still receives every task (the console keeps a task until it
/// was sent), and tokio-console shows a finished task for 6 s on its own; only a client
/// that connects later sees fewer of the tasks finished before it came.
#[cfg(feature = "console")]
pub const DEFAULT_CONSOLE_RETENTION: Duration = Duration::from_secs(2);

/// The console's address when neither the builder nor `TOKIO_CONSOLE_BIND` gives one
/// (console-subscriber's and tokio-console's default).
#[cfg(feature = "console")]
const DEFAULT_CONSOLE_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    6669,
));

/// Starts building the process's `tracing` subscriber: the taskscope layer, and, if asked
/// for, a fmt layer, tokio-console's layer (cargo feature `console`) and the OTLP exporter
/// (cargo feature `otlp`), on one `tracing_subscriber::registry()`. Every layer has its own
/// filter, so what one layer wants never floods another: tokio's task instrumentation (the
/// `runtime.*` spans and the `tokio` and `runtime` targets) reaches only the console, and the
/// console gets it whatever the other layers' filters say.
///
/// ```
/// let telemetry = taskscope::subscriber()
///     .with_layer_targets("my_app=trace,hyper=info") // spans taskscope records (default: all)
///     .with_fmt("warn")                               // log lines on stdout
///     .try_init()
///     .expect("the first subscriber of the process");
/// assert_eq!(telemetry.console(), &taskscope::ConsoleStatus::Off);
/// ```
///
/// # tokio-console alongside
///
/// With the cargo feature `console`, `with_console()` adds console-subscriber's layer and
/// serves tokio-console on `TOKIO_CONSOLE_BIND` (default `127.0.0.1:6669`). tokio reports tasks to the console only when it is compiled with
/// `--cfg tokio_unstable`, so the final binary must be built with that flag, either on the
/// command line:
///
/// ```sh
/// RUSTFLAGS="--cfg tokio_unstable" cargo run
/// ```
///
/// or in the application's `.cargo/config.toml`:
///
/// ```toml
/// [build]
/// rustflags = ["--cfg", "tokio_unstable"]
/// ```
///
/// A library, taskscope included, cannot set this for you: `cfg` flags are chosen by whoever
/// builds the final binary, a dependency has no way to add `rustflags` to the build, and tokio
/// reads the flag when tokio itself is compiled. Without the flag, `with_console` does not
/// start the console (console-subscriber would panic); it prints one warning line on stderr
/// naming the fix, [`Telemetry::console`] says [`ConsoleStatus::NeedsTokioUnstable`], and
/// everything else, taskscope's own metrics included, works as usual. A console address that
/// is already taken is reported the same way ([`ConsoleStatus::PortInUse`]).
///
/// Name tasks after the functions they run with `taskscope::spawn!` (cargo feature
/// `console`) so the console and taskscope show the same names.
pub fn subscriber() -> SubscriberBuilder {
    SubscriberBuilder {
        recorder: None,
        layer_targets: None,
        name_fields: None,
        fmt: None,
        layers: Vec::new(),
        #[cfg(feature = "console")]
        console: None,
        #[cfg(feature = "otlp")]
        otlp: None,
    }
}

/// The console's settings as the builder was given them; what is not given comes from
/// console-subscriber's standard variables, read by `try_init`, else the defaults.
#[cfg(feature = "console")]
#[derive(Clone, Debug, Default)]
struct ConsoleSettings {
    addr: Option<SocketAddr>,
    retention: Option<Duration>,
    publish_interval: Option<Duration>,
    record_path: Option<PathBuf>,
    buffer_capacity: Option<usize>,
}

/// The console's settings, resolved.
#[cfg(feature = "console")]
#[derive(Clone, Debug, PartialEq)]
struct ConsoleConfig {
    addr: SocketAddr,
    retention: Duration,
    publish_interval: Duration,
    record_path: Option<PathBuf>,
    buffer_capacity: usize,
}

#[cfg(feature = "console")]
impl ConsoleSettings {
    /// Each setting from the builder, else its variable (through `var`), else its default.
    fn resolve(
        &self,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ConsoleConfig, SubscriberError> {
        let addr = match self.addr {
            Some(addr) => addr,
            None => console_addr(var(CONSOLE_BIND_VAR).as_deref())?,
        };
        let retention = match self.retention {
            Some(d) => d,
            None => console_duration(CONSOLE_RETENTION_VAR, var, false)?
                .unwrap_or(DEFAULT_CONSOLE_RETENTION),
        };
        let publish_interval = match self.publish_interval {
            Some(d) => d,
            None => console_duration(CONSOLE_PUBLISH_INTERVAL_VAR, var, true)?
                .unwrap_or(console_subscriber::ConsoleLayer::DEFAULT_PUBLISH_INTERVAL),
        };
        if publish_interval.is_zero() {
            return Err(SubscriberError::ConsoleSetting {
                setting: "with_console_publish_interval",
                value: "0s".into(),
                reason: "the console would publish without pause: use 1s, its default".into(),
            });
        }
        let record_path = self.record_path.clone().or_else(|| {
            var(CONSOLE_RECORD_PATH_VAR)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        });
        let buffer_capacity = match (self.buffer_capacity, var(CONSOLE_BUFFER_CAPACITY_VAR)) {
            (Some(n), _) => n,
            (None, Some(text)) => text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| SubscriberError::ConsoleSetting {
                    setting: CONSOLE_BUFFER_CAPACITY_VAR,
                    value: text.clone(),
                    reason: "expected a number of events above zero, such as 102400".into(),
                })?,
            (None, None) => console_subscriber::ConsoleLayer::DEFAULT_EVENT_BUFFER_CAPACITY,
        };
        if buffer_capacity == 0 {
            return Err(SubscriberError::ConsoleSetting {
                setting: "with_console_buffer_capacity",
                value: "0".into(),
                reason: "the console needs room for at least one event".into(),
            });
        }
        Ok(ConsoleConfig {
            addr,
            retention,
            publish_interval,
            record_path,
            buffer_capacity,
        })
    }
}

/// A duration variable of console-subscriber, in its format (`30s`, `500ms`, `1h 30m`).
#[cfg(feature = "console")]
fn console_duration(
    name: &'static str,
    var: &dyn Fn(&str) -> Option<String>,
    above_zero: bool,
) -> Result<Option<Duration>, SubscriberError> {
    let Some(text) = var(name) else {
        return Ok(None);
    };
    let bad = |reason: String| SubscriberError::ConsoleSetting {
        setting: name,
        value: text.clone(),
        reason,
    };
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        bad(format!(
            "expected a duration such as 10s, 500ms or 1h ({e})"
        ))
    })?;
    if above_zero && d.is_zero() {
        return Err(bad("it must be above zero".into()));
    }
    Ok(Some(d))
}

/// Settings of the process's subscriber; see [`subscriber()`].
#[must_use = "nothing is installed until init() or try_init()"]
pub struct SubscriberBuilder {
    recorder: Option<crate::config::Builder>,
    layer_targets: Option<String>,
    name_fields: Option<Vec<String>>,
    fmt: Option<String>,
    layers: Vec<BoxedLayer>,
    #[cfg(feature = "console")]
    console: Option<ConsoleSettings>,
    #[cfg(feature = "otlp")]
    otlp: Option<OtlpBuilder>,
}

impl fmt::Debug for SubscriberBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SubscriberBuilder");
        d.field("recorder", &self.recorder)
            .field("layer_targets", &self.layer_targets)
            .field("name_fields", &self.name_fields)
            .field("fmt", &self.fmt)
            .field("layers", &self.layers.len());
        #[cfg(feature = "console")]
        d.field("console", &self.console);
        #[cfg(feature = "otlp")]
        d.field("otlp", &self.otlp);
        d.finish()
    }
}

impl SubscriberBuilder {
    /// Applies these recorder settings (see [`builder()`](crate::builder())) first, before
    /// anything is installed.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let _telemetry = taskscope::subscriber()
    ///     .with_recorder(taskscope::builder().with_slow_poll_threshold(Duration::from_micros(100)))
    ///     .init();
    /// ```
    pub fn with_recorder(mut self, recorder: crate::config::Builder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Which spans the taskscope layer records, as `tracing_subscriber::filter::Targets`
    /// directives: `"my_app=trace,hyper=info"`, or a bare level such as `"debug"` for every
    /// target. Default: every span. Tokio's task instrumentation is left out whatever this
    /// says.
    pub fn with_layer_targets(mut self, directives: &str) -> Self {
        self.layer_targets = Some(directives.to_owned());
        self
    }

    /// Names the taskscope layer's spans by the value of the first of these fields their
    /// callsite declares (default: `otel.name`); see
    /// [`SpanLayer::with_name_fields`](crate::SpanLayer::with_name_fields).
    ///
    /// ```
    /// let _telemetry = taskscope::subscriber()
    ///     .with_name_fields(["otel.name", "http.route"])
    ///     .init();
    /// ```
    pub fn with_name_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.name_fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Adds `tracing_subscriber::fmt::layer()` (log lines on stdout) with its own filter, as
    /// `Targets` directives: `"info"`, `"warn,my_app=debug"`. Tokio's task instrumentation is
    /// left out whatever this says.
    pub fn with_fmt(mut self, directives: &str) -> Self {
        self.fmt = Some(directives.to_owned());
        self
    }

    /// Adds a layer of your own (tracing-opentelemetry's, say), with whatever per-layer
    /// filter you gave it. Tokio's task instrumentation is kept from it.
    ///
    /// ```
    /// use tracing_subscriber::{filter::LevelFilter, Layer as _};
    ///
    /// let json_lines = tracing_subscriber::fmt::layer().with_filter(LevelFilter::ERROR);
    /// let _telemetry = taskscope::subscriber().with_layer(json_lines).init();
    /// ```
    pub fn with_layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<Registry> + Send + Sync + 'static,
    {
        self.layers
            .push(Box::new(layer.with_filter(CallsiteFilter::others())));
        self
    }

    /// Serves tokio-console, on the address in `TOKIO_CONSOLE_BIND` (`HOST:PORT`, as
    /// tokio-console and console-subscriber read it) or else `127.0.0.1:6669`. A value that
    /// is not an address is an error of [`try_init`](Self::try_init). The final binary must
    /// be built with `--cfg tokio_unstable`; see [`subscriber()`] for what happens without
    /// it and how to set it.
    ///
    /// ```no_run
    /// # #[tokio::main]
    /// # async fn main() {
    /// let telemetry = taskscope::subscriber().with_fmt("info").with_console().init();
    /// if let taskscope::ConsoleStatus::Serving(addr) = telemetry.console() {
    ///     println!("run `tokio-console http://{addr}`");
    /// }
    /// # }
    /// ```
    ///
    /// console-subscriber's other standard variables are read too, and each `with_console_*`
    /// method wins over its variable: `TOKIO_CONSOLE_RETENTION`
    /// ([`with_console_retention`](Self::with_console_retention), default
    /// [`DEFAULT_CONSOLE_RETENTION`]), `TOKIO_CONSOLE_PUBLISH_INTERVAL`
    /// ([`with_console_publish_interval`](Self::with_console_publish_interval), default 1 s),
    /// `TOKIO_CONSOLE_RECORD_PATH` ([`with_console_recording`](Self::with_console_recording))
    /// and `TOKIO_CONSOLE_BUFFER_CAPACITY`
    /// ([`with_console_buffer_capacity`](Self::with_console_buffer_capacity)). A value that
    /// does not parse is an error of `try_init` naming the variable, never a panic.
    #[cfg(feature = "console")]
    pub fn with_console(mut self) -> Self {
        self.console.get_or_insert_with(ConsoleSettings::default);
        self
    }

    /// Serves tokio-console on this address, whatever `TOKIO_CONSOLE_BIND` says. With port 0
    /// a free port is chosen, and [`Telemetry::console`] tells which.
    #[cfg(feature = "console")]
    pub fn with_console_addr(mut self, addr: SocketAddr) -> Self {
        self.console
            .get_or_insert_with(ConsoleSettings::default)
            .addr = Some(addr);
        self
    }

    /// Serves tokio-console and keeps each finished task this long (whatever
    /// `TOKIO_CONSOLE_RETENTION` says; default [`DEFAULT_CONSOLE_RETENTION`]). The console
    /// holds about 57 KB per task, so its memory is about the tasks finished per second
    /// times (this duration + 1 s) times 57 KB. A connected client receives every task
    /// whatever the retention; a longer one only lets a client that connects later see more
    /// of the past.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = taskscope::subscriber().with_console_retention(Duration::from_secs(30));
    /// # drop(builder);
    /// ```
    #[cfg(feature = "console")]
    pub fn with_console_retention(mut self, retention: Duration) -> Self {
        self.console
            .get_or_insert_with(ConsoleSettings::default)
            .retention = Some(retention);
        self
    }

    /// Serves tokio-console and sends clients an update this often (whatever
    /// `TOKIO_CONSOLE_PUBLISH_INTERVAL` says; default 1 s). Must be above zero.
    #[cfg(feature = "console")]
    pub fn with_console_publish_interval(mut self, interval: Duration) -> Self {
        self.console
            .get_or_insert_with(ConsoleSettings::default)
            .publish_interval = Some(interval);
        self
    }

    /// Serves tokio-console and records every event it sees to this file, as
    /// `TOKIO_CONSOLE_RECORD_PATH` does. The file grows without bound: for debugging only.
    #[cfg(feature = "console")]
    pub fn with_console_recording(mut self, path: impl Into<PathBuf>) -> Self {
        self.console
            .get_or_insert_with(ConsoleSettings::default)
            .record_path = Some(path.into());
        self
    }

    /// Serves tokio-console with room for this many events between the application's
    /// threads and the console's (whatever `TOKIO_CONSOLE_BUFFER_CAPACITY` says; default
    /// 102,400). Events beyond it are dropped by the console, never waited for.
    #[cfg(feature = "console")]
    pub fn with_console_buffer_capacity(mut self, events: usize) -> Self {
        self.console
            .get_or_insert_with(ConsoleSettings::default)
            .buffer_capacity = Some(events);
        self
    }

    /// Starts this OTLP exporter (see [`otlp()`](crate::otlp())) at init; the returned
    /// [`Telemetry`] keeps it, and exports a last time when it is dropped or shut down.
    #[cfg(feature = "otlp")]
    pub fn with_otlp(mut self, exporter: OtlpBuilder) -> Self {
        self.otlp = Some(exporter);
        self
    }

    /// Applies the recorder settings, starts the OTLP exporter and installs the subscriber
    /// as the process's global default, or says why it cannot. A console that cannot run
    /// (no `--cfg tokio_unstable`, or its address taken) is not an error: it is reported
    /// on stderr and by [`Telemetry::console`].
    pub fn try_init(self) -> Result<Telemetry, SubscriberError> {
        #[cfg(feature = "console")]
        let console_config = match &self.console {
            None => None,
            Some(settings) => Some(settings.resolve(&|name| {
                std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
            })?),
        };
        let layer_filter = match &self.layer_targets {
            Some(directives) => parse_targets("taskscope", directives)?,
            None => Targets::new().with_default(LevelFilter::TRACE),
        };
        let fmt_filter = match &self.fmt {
            Some(directives) => Some(parse_targets("fmt", directives)?),
            None => None,
        };
        if let Some(recorder) = self.recorder {
            recorder.try_init()?;
        }
        #[cfg(feature = "otlp")]
        let otlp = self.otlp.map(OtlpBuilder::try_start).transpose()?;

        if let Some(fields) = self.name_fields {
            crate::instrument::layer::set_name_fields(fields);
        }
        let mut layers: Vec<BoxedLayer> = Vec::with_capacity(self.layers.len() + 3);
        layers.push(Box::new(
            crate::instrument::layer::layer()
                .with_filter(layer_filter.and(CallsiteFilter::others())),
        ));
        if let Some(filter) = fmt_filter {
            layers.push(Box::new(
                tracing_subscriber::fmt::layer().with_filter(filter.and(CallsiteFilter::others())),
            ));
        }
        layers.extend(self.layers);

        #[cfg(feature = "console")]
        #[cfg_attr(not(tokio_unstable), allow(unused_mut))]
        let mut console = console_config.map(console::prepare);
        #[cfg(all(feature = "console", tokio_unstable))]
        if let Some(layer) = console.as_mut().and_then(|c| c.layer.take()) {
            layers.push(layer);
        }

        let subscriber = tracing_subscriber::registry().with(layers);
        tracing_core::dispatcher::set_global_default(Dispatch::new(subscriber))
            .map_err(|_| SubscriberError::AlreadySet)?;

        #[cfg(feature = "console")]
        let status = console.map_or(ConsoleStatus::Off, console::Prepared::start);
        #[cfg(not(feature = "console"))]
        let status = ConsoleStatus::Off;
        Ok(Telemetry {
            console: status,
            #[cfg(feature = "otlp")]
            otlp,
        })
    }

    /// As [`try_init`](Self::try_init).
    ///
    /// # Panics
    /// If `try_init` fails, with its message.
    pub fn init(self) -> Telemetry {
        match self.try_init() {
            Ok(telemetry) => telemetry,
            Err(e) => panic!("taskscope::subscriber: {e}"),
        }
    }
}

/// Parses `Targets` directives for the named layer.
fn parse_targets(layer: &'static str, directives: &str) -> Result<Targets, SubscriberError> {
    directives
        .parse::<Targets>()
        .map_err(|e| SubscriberError::Filter {
            layer,
            directives: directives.to_owned(),
            reason: e.to_string(),
        })
}

/// The console's address from the value of `TOKIO_CONSOLE_BIND`, if set: `HOST:PORT`, as
/// console-subscriber reads it (a host name is resolved, the first address wins).
#[cfg(feature = "console")]
fn console_addr(var: Option<&str>) -> Result<SocketAddr, SubscriberError> {
    use std::net::ToSocketAddrs;
    let Some(value) = var else {
        return Ok(DEFAULT_CONSOLE_ADDR);
    };
    let bad = |reason: String| SubscriberError::ConsoleBind {
        value: value.to_owned(),
        reason,
    };
    if let Ok(addr) = value.trim().parse::<SocketAddr>() {
        return Ok(addr);
    }
    value
        .trim()
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("it resolves to no address".into()))
}

/// What went wrong in [`SubscriberBuilder::try_init`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriberError {
    /// The process already has a global `tracing` subscriber.
    #[error(
        "a global tracing subscriber is already set: install one subscriber per process, at start-up, and add other layers with with_layer()"
    )]
    AlreadySet,
    /// Filter directives that do not parse.
    #[error("the {layer} layer's filter {directives:?} is not valid: {reason}")]
    Filter {
        /// The layer they were for: `taskscope` or `fmt`.
        layer: &'static str,
        /// The directives given.
        directives: String,
        /// What is wrong with them.
        reason: String,
    },
    /// `TOKIO_CONSOLE_BIND` is not an address.
    #[cfg(feature = "console")]
    #[error(
        "TOKIO_CONSOLE_BIND={value:?} is not an address: expected HOST:PORT, such as 127.0.0.1:6669 ({reason})"
    )]
    ConsoleBind {
        /// The variable's value.
        value: String,
        /// Why it is not an address.
        reason: String,
    },
    /// A console setting, or the standard variable it came from, that cannot work.
    #[cfg(feature = "console")]
    #[error("{setting}={value:?} cannot work: {reason}")]
    ConsoleSetting {
        /// The variable (`TOKIO_CONSOLE_RETENTION`, ...) or builder method.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it, and what to write instead.
        reason: String,
    },
    /// The OTLP exporter did not start.
    #[cfg(feature = "otlp")]
    #[error(transparent)]
    Otlp(#[from] OtlpError),
    /// The recorder settings were refused.
    #[error(transparent)]
    Recorder(#[from] InitError),
}

/// Whether tokio-console is being served; see [`Telemetry::console`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsoleStatus {
    /// Not asked for.
    Off,
    /// Serving tokio-console on this address.
    Serving(SocketAddr),
    /// Asked for, but the binary was built without `--cfg tokio_unstable`, without which
    /// tokio reports no tasks: build with `RUSTFLAGS="--cfg tokio_unstable"`.
    NeedsTokioUnstable,
    /// Asked for, but this address was taken.
    PortInUse(SocketAddr),
}

/// What [`SubscriberBuilder::init`] started: keep it for the life of the application.
/// Dropping it (or [`shutdown`](Self::shutdown)) exports a last time and stops the OTLP
/// exporter; the subscriber itself stays installed.
#[derive(Debug)]
#[must_use = "dropping it stops the OTLP exporter: keep it until the application ends"]
pub struct Telemetry {
    console: ConsoleStatus,
    #[cfg(feature = "otlp")]
    otlp: Option<OtlpExporter>,
}

impl Telemetry {
    /// Whether tokio-console is being served, and if not, why.
    pub fn console(&self) -> &ConsoleStatus {
        &self.console
    }

    /// The running OTLP exporter, if [`with_otlp`](SubscriberBuilder::with_otlp) asked for one.
    #[cfg(feature = "otlp")]
    pub fn otlp(&self) -> Option<&OtlpExporter> {
        self.otlp.as_ref()
    }

    /// Exports a last time and stops the OTLP exporter; returns its counters (`None` without
    /// an exporter, or if it did not answer in time).
    pub fn shutdown(self) -> Option<ExportStats> {
        #[cfg(feature = "otlp")]
        if let Some(exporter) = self.otlp {
            return exporter.shutdown();
        }
        None
    }
}

/// True for tokio's instrumentation for the console, exactly as console-subscriber's own
/// filter picks it (its `Builder::spawn`): events whose target starts with `runtime` or
/// `tokio`, spans named `runtime.*` or whose target starts with `tokio`.
#[cfg(all(feature = "console", tokio_unstable))]
fn for_console(meta: &Metadata<'_>) -> bool {
    if meta.is_event() {
        meta.target().starts_with("runtime") || meta.target().starts_with("tokio")
    } else {
        meta.name().starts_with("runtime.") || meta.target().starts_with("tokio")
    }
}

/// True for tokio's task instrumentation, kept from every layer but the console's: events
/// of the targets `runtime` and `tokio` and their modules, spans named `runtime.*` (tokio's
/// `runtime.spawn` per task, `runtime.resource*`) or of the `tokio` target and its modules.
/// Narrower than [`for_console`] on purpose: `tokio_postgres` is not tokio.
fn tokio_instrumentation(meta: &Metadata<'_>) -> bool {
    fn under(target: &str, root: &str) -> bool {
        target
            .strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    }
    let target = meta.target();
    if meta.is_event() {
        under(target, "runtime") || under(target, "tokio")
    } else {
        meta.name().starts_with("runtime.") || under(target, "tokio")
    }
}

/// Everything but tokio's task instrumentation: the filter of every layer but the console's.
fn not_tokio_instrumentation(meta: &Metadata<'_>) -> bool {
    !tokio_instrumentation(meta)
}

/// A per-layer filter that depends on the callsite only, so it is decided once per callsite.
#[derive(Clone, Copy)]
struct CallsiteFilter(fn(&Metadata<'_>) -> bool);

impl CallsiteFilter {
    /// For every layer but the console's.
    fn others() -> Self {
        Self(not_tokio_instrumentation)
    }
}

impl<S> Filter<S> for CallsiteFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        (self.0)(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if (self.0)(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
}

/// Serving tokio-console: the checks, the layer and its server.
#[cfg(feature = "console")]
mod console {
    #[cfg(tokio_unstable)]
    use super::{BoxedLayer, CallsiteFilter};
    use super::{ConsoleConfig, ConsoleStatus};

    /// The console's part, between deciding and starting.
    pub(super) struct Prepared {
        status: ConsoleStatus,
        /// The line to print once the subscriber is installed.
        warning: Option<String>,
        /// The console's layer, to go on the registry.
        #[cfg(tokio_unstable)]
        pub(super) layer: Option<BoxedLayer>,
        /// The console's gRPC server, to start once the subscriber is installed.
        #[cfg(tokio_unstable)]
        server: Option<console_subscriber::Server>,
    }

    /// Without `--cfg tokio_unstable` console-subscriber asserts and panics, and tokio would
    /// report no tasks anyway: no console, one warning.
    #[cfg(not(tokio_unstable))]
    pub(super) fn prepare(_config: ConsoleConfig) -> Prepared {
        Prepared {
            status: ConsoleStatus::NeedsTokioUnstable,
            warning: Some(
                "taskscope: tokio-console is off: this binary was built without \
                 `--cfg tokio_unstable`, which tokio needs to report tasks; build with \
                 RUSTFLAGS=\"--cfg tokio_unstable\", or put `[build]` \
                 `rustflags = [\"--cfg\", \"tokio_unstable\"]` in the app's .cargo/config.toml \
                 (taskscope's own metrics are recorded as usual)"
                    .into(),
            ),
        }
    }

    /// Checks that the address is free (console-subscriber's server thread would panic on
    /// a taken one), then builds the console's layer and server.
    #[cfg(tokio_unstable)]
    pub(super) fn prepare(config: ConsoleConfig) -> Prepared {
        use tracing_subscriber::Layer as _;

        let addr = config.addr;
        let addr = match std::net::TcpListener::bind(addr) {
            // Port 0 becomes the free port the system chose.
            Ok(probe) => probe.local_addr().unwrap_or(addr),
            Err(e) => {
                return Prepared {
                    status: ConsoleStatus::PortInUse(addr),
                    warning: Some(format!(
                        "taskscope: tokio-console is off: cannot listen on {addr} ({e}); set \
                     TOKIO_CONSOLE_BIND or with_console_addr() to a free address \
                     (taskscope's own metrics are recorded as usual)"
                    )),
                    layer: None,
                    server: None,
                };
            }
        };
        if !addr.ip().is_loopback() {
            eprintln!(
                "taskscope: warning: tokio-console listens on {addr}, beyond this machine; its \
                 server has no authentication (set TOKIO_CONSOLE_BIND=127.0.0.1:6669 to keep it local)"
            );
        }
        // The probe listener is closed by now, before the server binds the address.
        let mut builder = console_subscriber::ConsoleLayer::builder()
            .server_addr(addr)
            .retention(config.retention)
            .publish_interval(config.publish_interval)
            .event_buffer_capacity(config.buffer_capacity);
        if let Some(path) = config.record_path {
            builder = builder.recording_path(path);
        }
        let (layer, server) = builder.build();
        Prepared {
            status: ConsoleStatus::Serving(addr),
            warning: None,
            layer: Some(Box::new(
                layer.with_filter(CallsiteFilter(super::for_console)),
            )),
            server: Some(server),
        }
    }

    impl Prepared {
        /// Prints the warning, if any, and starts the server, if any, on a thread of its
        /// own, as console-subscriber's `spawn` does. Returns the console's status.
        pub(super) fn start(self) -> ConsoleStatus {
            if let Some(warning) = &self.warning {
                eprintln!("{warning}");
            }
            #[cfg(tokio_unstable)]
            if let Some(server) = self.server {
                let addr = match self.status {
                    ConsoleStatus::Serving(addr) => addr.to_string(),
                    _ => String::new(),
                };
                let started =
                    crate::background::spawn("taskscope-console", move || serve(server, &addr));
                if let Err(e) = started {
                    eprintln!("taskscope: tokio-console is off: its thread did not start: {e}");
                }
            }
            self.status
        }
    }

    /// Runs the console's server on a quiet background thread: its own runtime's tasks are
    /// not reported to the global subscriber (the console would show itself), and a failure
    /// is a warning, never a panic.
    #[cfg(tokio_unstable)]
    fn serve(server: console_subscriber::Server, addr: &str) {
        let runtime = match crate::background::runtime_builder().build() {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("taskscope: tokio-console is off: its runtime did not start: {e}");
                return;
            }
        };
        let console_subscriber::ServerParts {
            instrument_server,
            aggregator,
            ..
        } = server.into_parts();
        let Ok(socket) = addr.parse::<std::net::SocketAddr>() else {
            return;
        };
        let served = runtime.block_on(async move {
            // The aggregator drains its event channel without awaiting, one `poll_recv` per
            // event, and tokio's cooperative budget stops that after 128 events per wake (once
            // a second): a service spawning more tasks than that a second fills the channel and
            // the console falls behind, then drops events. Unconstrained, it drains them all.
            let aggregate = tokio::spawn(tokio::task::unconstrained(aggregator.run()));
            let served = tonic::transport::Server::builder()
                .add_service(instrument_server)
                .serve(socket)
                .await;
            aggregate.abort();
            served
        });
        if let Err(e) = served {
            eprintln!("taskscope: tokio-console stopped serving on {addr}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "console")]
    #[test]
    fn the_console_address_comes_from_tokio_console_bind_or_the_default() {
        assert_eq!(console_addr(None).unwrap(), DEFAULT_CONSOLE_ADDR);
        assert_eq!(
            console_addr(Some("127.0.0.1:7001")).unwrap(),
            "127.0.0.1:7001".parse().unwrap()
        );
        assert_eq!(
            console_addr(Some("[::1]:7002")).unwrap(),
            "[::1]:7002".parse().unwrap()
        );
        let local = console_addr(Some("localhost:7003")).unwrap();
        assert!(local.ip().is_loopback() && local.port() == 7003, "{local}");
    }

    #[cfg(feature = "console")]
    #[test]
    fn a_bad_tokio_console_bind_is_an_error_naming_the_variable_and_its_value() {
        for bad in ["not-an-address", "127.0.0.1", "127.0.0.1:port", ""] {
            let e = console_addr(Some(bad)).unwrap_err();
            assert!(
                matches!(&e, SubscriberError::ConsoleBind { value, .. } if value == bad),
                "{e:?}"
            );
            let message = e.to_string();
            assert!(message.contains("TOKIO_CONSOLE_BIND"), "{message}");
            assert!(message.contains(&format!("{bad:?}")), "{message}");
        }
    }

    #[cfg(feature = "console")]
    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[cfg(feature = "console")]
    #[test]
    fn console_settings_come_from_the_builder_then_the_standard_variables_then_the_defaults() {
        let none = ConsoleSettings::default().resolve(&env(&[])).unwrap();
        assert_eq!(
            none,
            ConsoleConfig {
                addr: DEFAULT_CONSOLE_ADDR,
                retention: DEFAULT_CONSOLE_RETENTION,
                publish_interval: Duration::from_secs(1),
                record_path: None,
                buffer_capacity: 102_400,
            }
        );
        let vars = [
            ("TOKIO_CONSOLE_BIND", "127.0.0.1:7100"),
            ("TOKIO_CONSOLE_RETENTION", "2m 30s"),
            ("TOKIO_CONSOLE_PUBLISH_INTERVAL", "250ms"),
            ("TOKIO_CONSOLE_RECORD_PATH", "/tmp/console.rec"),
            ("TOKIO_CONSOLE_BUFFER_CAPACITY", "4096"),
        ];
        let from_env = ConsoleSettings::default().resolve(&env(&vars)).unwrap();
        assert_eq!(
            from_env,
            ConsoleConfig {
                addr: "127.0.0.1:7100".parse().unwrap(),
                retention: Duration::from_secs(150),
                publish_interval: Duration::from_millis(250),
                record_path: Some("/tmp/console.rec".into()),
                buffer_capacity: 4096,
            }
        );
        let given = subscriber()
            .with_console_addr("127.0.0.1:7200".parse().unwrap())
            .with_console_retention(Duration::from_secs(3))
            .with_console_publish_interval(Duration::from_millis(500))
            .with_console_recording("/tmp/given.rec")
            .with_console_buffer_capacity(64);
        let resolved = given
            .console
            .as_ref()
            .unwrap()
            .resolve(&env(&vars))
            .unwrap();
        assert_eq!(
            resolved,
            ConsoleConfig {
                addr: "127.0.0.1:7200".parse().unwrap(),
                retention: Duration::from_secs(3),
                publish_interval: Duration::from_millis(500),
                record_path: Some("/tmp/given.rec".into()),
                buffer_capacity: 64,
            }
        );
    }

    #[cfg(feature = "console")]
    #[test]
    fn a_bad_console_variable_is_an_error_naming_it_and_its_value() {
        for (name, value) in [
            ("TOKIO_CONSOLE_RETENTION", "forever"),
            ("TOKIO_CONSOLE_RETENTION", "10"),
            ("TOKIO_CONSOLE_PUBLISH_INTERVAL", "0s"),
            ("TOKIO_CONSOLE_PUBLISH_INTERVAL", "-1s"),
            ("TOKIO_CONSOLE_BUFFER_CAPACITY", "0"),
            ("TOKIO_CONSOLE_BUFFER_CAPACITY", "lots"),
        ] {
            let e = ConsoleSettings::default()
                .resolve(&env(&[(name, value)]))
                .unwrap_err();
            let message = e.to_string();
            assert!(message.contains(name), "{message}");
            assert!(message.contains(&format!("{value:?}")), "{message}");
        }
        let zero = subscriber().with_console_publish_interval(Duration::ZERO);
        let message = zero
            .console
            .unwrap()
            .resolve(&env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("with_console_publish_interval"),
            "{message}"
        );
    }

    #[test]
    fn bad_directives_are_an_error_naming_the_layer_and_the_text() {
        let e = parse_targets("fmt", "my_app=loud").unwrap_err();
        let message = e.to_string();
        assert!(message.contains("fmt layer"), "{message}");
        assert!(message.contains("\"my_app=loud\""), "{message}");
        assert!(parse_targets("taskscope", "my_app=trace,hyper=info").is_ok());
        assert!(parse_targets("taskscope", "info").is_ok());
    }

    #[test]
    fn tokio_task_instrumentation_is_recognised_and_tokio_named_crates_are_not() {
        use tracing_core::callsite::{Callsite, Identifier};
        use tracing_core::field::FieldSet;
        use tracing_core::{Kind, Level};

        struct Site;
        impl Callsite for Site {
            fn set_interest(&self, _: Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static SITE: Site = Site;
        let meta = |name: &'static str, target: &'static str, kind: Kind| {
            Metadata::new(
                name,
                target,
                Level::TRACE,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&SITE)),
                kind,
            )
        };
        let tokio_ones = [
            meta("runtime.spawn", "tokio::task", Kind::SPAN),
            meta("runtime.resource", "tokio::sync::mutex", Kind::SPAN),
            meta("runtime.spawn", "my_app", Kind::SPAN),
            meta("event", "runtime::resource::state_update", Kind::EVENT),
            meta("event", "tokio::task::waker", Kind::EVENT),
            meta("event", "runtime", Kind::EVENT),
        ];
        for m in &tokio_ones {
            assert!(tokio_instrumentation(m), "{m:?}");
            assert!(!not_tokio_instrumentation(m), "{m:?}");
        }
        let others = [
            meta("query", "tokio_postgres::client", Kind::SPAN),
            meta("event", "tokio_postgres", Kind::EVENT),
            meta("event", "runtimes", Kind::EVENT),
            meta("fetch", "my_app", Kind::SPAN),
            meta("runtime", "my_app", Kind::SPAN),
        ];
        for m in &others {
            assert!(!tokio_instrumentation(m), "{m:?}");
            assert!(not_tokio_instrumentation(m), "{m:?}");
        }
    }
}
