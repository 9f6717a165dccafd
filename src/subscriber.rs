//! One global `tracing` subscriber: the taskscope layer, an optional fmt layer,
//! tokio-console's layer and the OTLP exporter, each layer behind its own filter.

use std::fmt;
use std::net::SocketAddr;

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
        fmt: None,
        layers: Vec::new(),
        #[cfg(feature = "console")]
        console: None,
        #[cfg(feature = "otlp")]
        otlp: None,
    }
}

/// Where the console listens, as asked for.
#[cfg(feature = "console")]
#[derive(Clone, Copy, Debug)]
enum ConsoleAddr {
    /// `TOKIO_CONSOLE_BIND`, else the default; read by `try_init`.
    FromEnv,
    /// Given to the builder.
    Given(SocketAddr),
}

/// Settings of the process's subscriber; see [`subscriber()`].
#[must_use = "nothing is installed until init() or try_init()"]
pub struct SubscriberBuilder {
    recorder: Option<crate::Builder>,
    layer_targets: Option<String>,
    fmt: Option<String>,
    layers: Vec<BoxedLayer>,
    #[cfg(feature = "console")]
    console: Option<ConsoleAddr>,
    #[cfg(feature = "otlp")]
    otlp: Option<OtlpBuilder>,
}

impl fmt::Debug for SubscriberBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SubscriberBuilder");
        d.field("recorder", &self.recorder)
            .field("layer_targets", &self.layer_targets)
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
    pub fn with_recorder(mut self, recorder: crate::Builder) -> Self {
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
    #[cfg(feature = "console")]
    pub fn with_console(mut self) -> Self {
        self.console = Some(ConsoleAddr::FromEnv);
        self
    }

    /// Serves tokio-console on this address, whatever `TOKIO_CONSOLE_BIND` says. With port 0
    /// a free port is chosen, and [`Telemetry::console`] tells which.
    #[cfg(feature = "console")]
    pub fn with_console_addr(mut self, addr: SocketAddr) -> Self {
        self.console = Some(ConsoleAddr::Given(addr));
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
        let console_addr = match self.console {
            None => None,
            Some(ConsoleAddr::Given(addr)) => Some(addr),
            Some(ConsoleAddr::FromEnv) => {
                let var = std::env::var_os(CONSOLE_BIND_VAR);
                Some(console_addr(
                    var.as_ref().map(|v| v.to_string_lossy()).as_deref(),
                )?)
            }
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

        let mut layers: Vec<BoxedLayer> = Vec::with_capacity(self.layers.len() + 3);
        layers.push(Box::new(
            crate::layer().with_filter(layer_filter.and(CallsiteFilter::others())),
        ));
        if let Some(filter) = fmt_filter {
            layers.push(Box::new(
                tracing_subscriber::fmt::layer().with_filter(filter.and(CallsiteFilter::others())),
            ));
        }
        layers.extend(self.layers);

        #[cfg(feature = "console")]
        #[cfg_attr(not(tokio_unstable), allow(unused_mut))]
        let mut console = console_addr.map(console::prepare);
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
    use super::ConsoleStatus;
    #[cfg(tokio_unstable)]
    use super::{BoxedLayer, CallsiteFilter};

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
    pub(super) fn prepare(_addr: std::net::SocketAddr) -> Prepared {
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
    pub(super) fn prepare(addr: std::net::SocketAddr) -> Prepared {
        use tracing_subscriber::Layer as _;

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
        let (layer, server) = console_subscriber::ConsoleLayer::builder()
            .server_addr(addr)
            .build();
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
        if let Err(e) = runtime.block_on(server.serve()) {
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
