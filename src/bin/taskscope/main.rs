//! `taskscope`: the command line. `taskscope top` receives OTLP metrics from any service and
//! shows them live, per function.

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use taskscope::receive::{ConsoleClient, Receiver};
use taskscope::view::{Exit, StopHandle, Summary, Window};

#[derive(Parser, Debug)]
#[command(
    name = "taskscope",
    version,
    about = "Per-function latency, outcomes and polls of async Rust services, live."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Receive OTLP metrics (gRPC and HTTP, protobuf or JSON, plain or gzip, optionally
    /// over TLS) and show them live, per function.
    Top(Top),
}

#[derive(Args, Debug)]
struct Top {
    /// Address of the OTLP/gRPC listener: HOST:PORT, or a port on 127.0.0.1.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317", value_parser = parse_listen_addr)]
    grpc: SocketAddr,
    /// Address of the OTLP/HTTP listener (protobuf or JSON): HOST:PORT, or a port on
    /// 127.0.0.1.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318", value_parser = parse_listen_addr)]
    http: SocketAddr,
    /// Do not listen for gRPC.
    #[arg(long)]
    no_grpc: bool,
    /// Do not listen for HTTP.
    #[arg(long)]
    no_http: bool,
    /// Time window at start: 10s, 1m, 5m, 15m, 1h or all.
    #[arg(long, value_name = "WINDOW", default_value = "1m", value_parser = parse_window)]
    window: Window,
    /// Time between two frames.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    refresh: Duration,
    /// Print plain summaries instead of the dashboard (the default when stdout is not a
    /// terminal).
    #[arg(long)]
    no_tui: bool,
    /// Print each summary as one JSON line instead of the dashboard (implies --no-tui).
    #[arg(long)]
    json: bool,
    /// Without the dashboard: time between two summaries.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    interval: Duration,
    /// Stop after this long (and print the last summary).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// No colours (also when NO_COLOR is set).
    #[arg(long)]
    no_color: bool,
    /// ASCII glyphs only.
    #[arg(long)]
    ascii: bool,
    /// Flag functions whose error ratio is over this (0 to 1).
    #[arg(long, value_name = "RATIO", default_value_t = 0.05, value_parser = parse_ratio)]
    error_rate: f64,
    /// Flag functions whose p99 is over this.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    p99_budget: Duration,
    /// The most series kept; more are counted as overflow.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = parse_positive)]
    max_series: usize,
    /// The largest request accepted, in bytes (after decompression).
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20, value_parser = parse_positive)]
    max_request_bytes: usize,
    /// Connections served at once; more are answered "busy" (HTTP 503, gRPC UNAVAILABLE)
    /// and closed.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = parse_positive)]
    max_connections: usize,
    /// The time a request has to send its whole body; a slower one is cut off.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    body_timeout: Duration,
    /// Serve over TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require senders to present a client certificate signed by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Require `Authorization: Bearer TOKEN` on every request (read from TASKSCOPE_TOKEN
    /// when not given, so it stays out of the process list).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TASKSCOPE_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Where Ctrl-S writes its files.
    #[arg(long, value_name = "DIR", default_value = ".")]
    export_dir: PathBuf,
    /// Also show the tasks of an app's tokio-console endpoint (for example
    /// http://127.0.0.1:6669); reconnects when the app restarts.
    #[arg(long, value_name = "URL")]
    console: Option<String>,
    /// Show a fleet instead of receiving: taskscope's metrics read from a Prometheus-compatible
    /// server's HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics) at this base URL,
    /// summed across each service's instances (the `job` label).
    #[arg(long, value_name = "URL", conflicts_with_all = ["replay", "record"])]
    prometheus: Option<String>,
    /// With --prometheus: one row per instance instead of per service.
    #[arg(long, requires = "prometheus")]
    by_instance: bool,
    /// Record every metrics request received into FILE, one OTLP JSON export request a
    /// line (the OpenTelemetry file-exporter format; a name ending in .zst writes each line
    /// as a zstd frame). Replay it with --replay.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// With --record: rotate the file at this size (FILE.1, FILE.2, ... keep the older ones).
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20, value_parser = parse_positive_u64)]
    record_max_bytes: u64,
    /// With --record: rotated files kept.
    #[arg(long, value_name = "N", default_value_t = 3)]
    record_files: usize,
    /// Replay a recording (from --record, or any OTLP JSON lines file, plain or zstd)
    /// instead of receiving: the same screens on the recording's own clock. Keys: Space
    /// pauses, `.` steps, `>` and `<` change the speed, `]` and `[` jump 10 s.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// With --replay: 1, 10, 100 (times real time) or max (as fast as possible; the
    /// default without the dashboard).
    #[arg(long, value_name = "SPEED", value_parser = parse_speed)]
    speed: Option<taskscope::receive::Speed>,
    /// With --replay: start this far into the recording.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    from: Option<Duration>,
}

/// `1`, `10`, `2.5` (times real time, an `x` allowed after it) or `max`.
fn parse_speed(text: &str) -> Result<taskscope::receive::Speed, String> {
    let t = text.trim().trim_end_matches('x');
    if t == "max" {
        return Ok(taskscope::receive::Speed::Max);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(taskscope::receive::Speed::Times(x)),
        _ => Err(format!("`{text}` is not a speed: write 1, 10, 100 or max")),
    }
}

fn parse_positive_u64(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}

/// `HOST:PORT` (a host name is resolved, IPv4 first), an IP address with a port, or a bare
/// port on 127.0.0.1.
fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bad = |why: String| {
        format!(
            "`{text}` is not an address to listen on ({why}): write 4317, 127.0.0.1:4317 or localhost:4317"
        )
    };
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| bad("it resolves to no address".into()))
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("`{text}` is not a ratio from 0 to 1 (0.05 is 5 %)"))
}

fn parse_positive(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a whole number above zero"))
}

fn parse_window(text: &str) -> Result<Window, String> {
    Window::parse(text)
        .ok_or_else(|| format!("`{text}` is not a window: use 10s, 1m, 5m, 15m, 1h or all"))
}

/// `250ms`, `1s`, `1.5s`, `2m`, `1h`, or a number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration: write 250ms, 1s, 2m or 1h");
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: f64 = number.trim().parse().map_err(|_| bad())?;
    let scale = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    let secs = n * scale;
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Top(top) => run_top(top),
    };
    match result {
        Ok(code) => code,
        // A reader that went away (`taskscope top | head -1`) ends the run; nothing to say.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // The message and its causes, never a backtrace: this is the user's error to fix,
            // not a crash, whatever RUST_BACKTRACE says.
            eprintln!("taskscope: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The dashboard over a recording.
fn replay_dashboard(
    top: &Top,
    path: &std::path::Path,
    plain: bool,
) -> Result<taskscope::view::TopBuilder> {
    use taskscope::receive::{Recording, Replay, Speed};
    let recording = Recording::open(path).context("taskscope top could not replay")?;
    if let Some(damage) = recording.damage() {
        eprintln!(
            "taskscope: {} is read up to the damage ({damage}): {} export requests, {:?}",
            path.display(),
            recording.requests(),
            recording.duration()
        );
    }
    let mut replay = Replay::new(recording);
    let default = if plain { Speed::Max } else { Speed::Times(1.0) };
    replay.set_speed(top.speed.unwrap_or(default));
    if let Some(from) = top.from {
        replay.seek(from);
    }
    Ok(taskscope::top().with_replay(replay))
}

fn run_top(top: Top) -> Result<ExitCode> {
    let plain = top.no_tui || top.json || !std::io::stdout().is_terminal();
    let dashboard = match (&top.replay, &top.prometheus) {
        (Some(path), _) => replay_dashboard(&top, path, plain)?,
        (None, Some(url)) => {
            let fleet = taskscope::receive::PrometheusSource::new(url)
                .context("taskscope top could not start")?
                .by_instance(top.by_instance)
                .with_max_series(top.max_series);
            taskscope::top().with_prometheus(fleet)
        }
        (None, None) => receiving_dashboard(&top)?,
    };
    show(top, dashboard, plain)
}

/// The dashboard over what a receiver receives (and records).
fn receiving_dashboard(top: &Top) -> Result<taskscope::view::TopBuilder> {
    anyhow::ensure!(
        !(top.no_grpc && top.no_http),
        "--no-grpc and --no-http together leave nothing to listen on: drop one of them"
    );
    let mut builder = Receiver::builder()
        .with_max_series(top.max_series)
        .with_max_request_bytes(top.max_request_bytes)
        .with_max_connections(top.max_connections)
        .with_body_timeout(top.body_timeout);
    if let (Some(cert), Some(key)) = (&top.tls_cert, &top.tls_key) {
        builder = builder.with_tls(cert, key);
    }
    if let Some(ca) = &top.tls_client_ca {
        builder = builder.with_tls_client_ca(ca);
    }
    if let Some(token) = &top.token {
        builder = builder.with_token(token);
    }
    builder = if top.no_grpc {
        builder.without_grpc()
    } else {
        builder.with_grpc_addr(top.grpc)
    };
    builder = if top.no_http {
        builder.without_http()
    } else {
        builder.with_http_addr(top.http)
    };
    if let Some(path) = &top.record {
        let zstd = path.extension().is_some_and(|e| e == "zst");
        let recorder = taskscope::receive::Recorder::builder(path)
            .with_max_file_bytes(top.record_max_bytes)
            .with_kept_files(top.record_files)
            .with_zstd(zstd)
            .start()
            .context("taskscope top could not record")?;
        builder = builder.with_recorder(recorder);
    }
    let receiver = builder.start().context("taskscope top could not start")?;
    Ok(taskscope::top().with_receiver(receiver))
}

/// Runs the dashboard, or prints its summaries.
fn show(top: Top, dashboard: taskscope::view::TopBuilder, plain: bool) -> Result<ExitCode> {
    let mut dashboard = dashboard
        .with_window(top.window)
        .with_error_rate_limit(top.error_rate)
        .with_p99_budget(top.p99_budget)
        .with_refresh(top.refresh)
        .with_export_dir(top.export_dir)
        .with_last_summary(true);
    if let Some(url) = top.console.as_deref() {
        let console = ConsoleClient::connect(url).context("taskscope top could not start")?;
        dashboard = dashboard.with_console(console);
    }
    if let Some(d) = top.duration {
        dashboard = dashboard.with_duration(d);
    }
    if top.no_color {
        dashboard = dashboard.with_color(false);
    }
    if top.ascii {
        dashboard = dashboard.with_ascii(true);
    }
    watch_signals(dashboard.stop_handle());
    if plain {
        let format = if top.json {
            Summary::JsonLines
        } else {
            Summary::Table
        };
        let mut out = std::io::stdout().lock();
        dashboard
            .run_plain(&mut out, top.interval, format)
            .context("writing the summary failed")?;
        return Ok(ExitCode::SUCCESS);
    }
    // Stopped by --duration or a signal, it prints the last summary, as the help says, on
    // the terminal it has given back.
    match dashboard.run()? {
        Exit::Interrupted => Ok(ExitCode::from(130)),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// SIGINT and SIGTERM end the run cleanly: the terminal is restored and the last summary
/// printed. (In the dashboard, Ctrl-C arrives as a key.)
fn watch_signals(stop: StopHandle) {
    let spawned = std::thread::Builder::new()
        .name("taskscope-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut int), Ok(mut term)) = (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                    ) else {
                        return;
                    };
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                #[cfg(not(unix))]
                {
                    let _ = tokio::signal::ctrl_c().await;
                }
            });
            stop.stop();
        });
    if let Err(e) = spawned {
        eprintln!("taskscope: signals are not watched ({e}); Ctrl-C ends without a summary");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1 fortnight").is_err());
    }

    #[test]
    fn listen_addresses_take_a_bare_port_and_host_names() {
        assert_eq!(
            parse_listen_addr("4317"),
            Ok("127.0.0.1:4317".parse().unwrap())
        );
        assert_eq!(
            parse_listen_addr("0.0.0.0:4318"),
            Ok("0.0.0.0:4318".parse().unwrap())
        );
        assert_eq!(parse_listen_addr("[::1]:9"), Ok("[::1]:9".parse().unwrap()));
        let local = parse_listen_addr("localhost:4317").unwrap();
        assert!(local.ip().is_loopback() && local.port() == 4317, "{local}");
        for bad in [
            "",
            "host",
            "localhost:port",
            "70000",
            "no-such-host.invalid:1",
        ] {
            let e = parse_listen_addr(bad).unwrap_err();
            assert!(e.contains("4317"), "{e}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
