//! Security defaults. Every listener binds loopback unless told otherwise: the Prometheus
//! endpoint, the OTLP receiver (library and `taskscope top`), and tokio-console's server.
//! Binding beyond loopback prints a warning (the listeners have no authentication). And no
//! argument value is ever recorded: a secret passed to measured functions (returned in
//! errors, put in panics) and to `tracing` spans and events appears in no output: the
//! snapshot, the report, a Prometheus scrape, the bytes of an OTLP export (metrics and
//! sampled spans) and what a real receiver makes of them.
//!
//! The listeners' warnings go to stderr, so those cases run in a child process: this test
//! binary itself, re-run with `TASKSCOPE_CHILD` set.
#![cfg(all(
    feature = "prometheus",
    feature = "otlp",
    feature = "receiver",
    feature = "layer",
    feature = "console"
))]
// With the `disabled` feature, the measured functions are bare and these helpers go unused.
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use taskscope::receive::{DEFAULT_GRPC_ADDR, DEFAULT_HTTP_ADDR, ReceiveError, Receiver};

/// The variable that tells this binary it runs as a child, and what to do.
const CHILD: &str = "TASKSCOPE_CHILD";
/// What the listeners print when they bind beyond loopback.
const WARNING: &str = "beyond this machine, without TLS";

const SECRET: &str = "hunter2-SECRET";

// ---------------------------------------------------------------------------------------
// Children.

fn child(what: &str, vars: &[(&str, &str)]) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &child_test(), "--nocapture", "--test-threads=1"])
        .env(CHILD, what)
        .env_remove("TOKIO_CONSOLE_BIND")
        .envs(vars.iter().copied())
        .output()
        .expect("the test binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Not a test of its own: what a child does. Without `TASKSCOPE_CHILD` it does nothing.
#[test]
fn child_process() {
    let Ok(what) = std::env::var(CHILD) else {
        return;
    };
    let (kind, ip) = what.split_once('@').unwrap_or((&what, "127.0.0.1"));
    let addr = SocketAddr::new(ip.parse::<IpAddr>().unwrap(), 0);
    match kind {
        "prometheus" => match taskscope::prometheus().with_address(addr).try_start() {
            Ok(endpoint) => println!("LISTENING {}", endpoint.local_addr()),
            Err(taskscope::PrometheusError::Bind { .. }) => println!("BIND-FAILED"),
            Err(e) => panic!("{e}"),
        },
        "receiver" => match Receiver::builder()
            .with_grpc_addr(addr)
            .with_http_addr(addr)
            .start()
        {
            Ok(r) => println!(
                "LISTENING {} {}",
                r.grpc_addr().unwrap(),
                r.http_addr().unwrap()
            ),
            Err(ReceiveError::Bind { .. }) => println!("BIND-FAILED"),
            Err(e) => panic!("{e}"),
        },
        "console" => {
            let builder = taskscope::subscriber();
            let builder = if what.contains('@') {
                builder.with_console_addr(addr)
            } else {
                builder.with_console()
            };
            let telemetry = builder.try_init().expect("the subscriber starts");
            println!("CONSOLE {:?}", telemetry.console());
        }
        other => panic!("unknown child {other}"),
    }
}

/// The addresses after `label` on the lines of `text`, as `Serving(127.0.0.1:6669)` or
/// `LISTENING a b` print them (libtest may print its own words first on the line).
fn addresses(text: &str, label: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.find(label).map(|i| &l[i + label.len()..]))
        .flat_map(|rest| {
            rest.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .filter_map(|w| w.parse().ok())
                .collect::<Vec<SocketAddr>>()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Loopback by default.

#[test]
fn the_prometheus_endpoint_binds_loopback_by_default() {
    if crate::support::alone(
        module_path!(),
        "the_prometheus_endpoint_binds_loopback_by_default",
    ) {
        return;
    }
    let builder = format!("{:?}", taskscope::prometheus());
    assert!(builder.contains("addr: 127.0.0.1:9464"), "{builder}");
    // Started with every default: on loopback, or, if 9464 is taken here, refused for a
    // loopback address.
    match taskscope::prometheus().try_start() {
        Ok(endpoint) => {
            let local = endpoint.local_addr();
            assert!(local.ip().is_loopback() && local.port() == 9464, "{local}");
        }
        Err(taskscope::PrometheusError::Bind { addr, source }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse, "{source}");
            assert!(addr.ip().is_loopback(), "{addr}");
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_receiver_binds_loopback_by_default() {
    if crate::support::alone(module_path!(), "the_receiver_binds_loopback_by_default") {
        return;
    }
    assert!(DEFAULT_GRPC_ADDR.ip().is_loopback() && DEFAULT_GRPC_ADDR.port() == 4317);
    assert!(DEFAULT_HTTP_ADDR.ip().is_loopback() && DEFAULT_HTTP_ADDR.port() == 4318);
    let builder = format!("{:?}", Receiver::builder());
    assert!(
        builder.contains("grpc: Some(127.0.0.1:4317)")
            && builder.contains("http: Some(127.0.0.1:4318)"),
        "{builder}"
    );
    // The default IPs with any free port.
    let r = Receiver::builder()
        .with_grpc_addr(SocketAddr::new(DEFAULT_GRPC_ADDR.ip(), 0))
        .with_http_addr(SocketAddr::new(DEFAULT_HTTP_ADDR.ip(), 0))
        .start()
        .unwrap();
    assert!(r.grpc_addr().unwrap().ip().is_loopback());
    assert!(r.http_addr().unwrap().ip().is_loopback());
    drop(r);
    // Every default: on loopback, or refused for a loopback address if the OTLP ports are
    // taken here (a collector or `taskscope top` running).
    match Receiver::builder().start() {
        Ok(r) => {
            assert_eq!(r.grpc_addr(), Some(DEFAULT_GRPC_ADDR));
            assert_eq!(r.http_addr(), Some(DEFAULT_HTTP_ADDR));
        }
        Err(ReceiveError::Bind { addr, source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse, "{source}");
            assert!(addr.ip().is_loopback(), "{addr}");
        }
        Err(e) => panic!("{e}"),
    }
}

#[cfg(feature = "cli")]
#[test]
fn taskscope_top_listens_on_loopback_by_default() {
    if crate::support::alone(
        module_path!(),
        "taskscope_top_listens_on_loopback_by_default",
    ) {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["top", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let help = stdout(&out);
    for (flag, port) in [("--grpc <ADDR>", 4317), ("--http <ADDR>", 4318)] {
        // The flag's entry runs from its line to the next flag's.
        let entry = help
            .split(flag)
            .nth(1)
            .and_then(|rest| rest.split("\n  -").next())
            .unwrap_or_else(|| panic!("no {flag} in\n{help}"));
        let default: SocketAddr = entry
            .split("[default: ")
            .nth(1)
            .and_then(|d| d.split(']').next())
            .and_then(|d| d.trim().parse().ok())
            .unwrap_or_else(|| panic!("no default address for {flag} in {entry:?}"));
        assert!(
            default.ip().is_loopback() && default.port() == port,
            "{flag}: {default}"
        );
    }
}

/// With `TOKIO_CONSOLE_BIND` unset, the console serves on loopback. Without
/// `--cfg tokio_unstable` nothing listens at all (the status says why); built with it, the
/// address it serves on (or found taken) is loopback.
#[test]
fn the_console_binds_loopback_by_default() {
    if crate::support::alone(module_path!(), "the_console_binds_loopback_by_default") {
        return;
    }
    let out = child("console", &[]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    #[cfg(not(tokio_unstable))]
    assert!(text.contains("CONSOLE NeedsTokioUnstable"), "{text}");
    #[cfg(tokio_unstable)]
    {
        let addrs = addresses(&text, "CONSOLE ");
        assert_eq!(addrs.len(), 1, "{text}");
        assert!(
            addrs[0].ip().is_loopback() && addrs[0].port() == 6669,
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// A warning beyond loopback.

/// Runs child `kind` on `ip`: whether it listened, and its stderr.
fn listen(kind: &str, ip: &str) -> Option<(Vec<SocketAddr>, String)> {
    let out = child(&format!("{kind}@{ip}"), &[]);
    assert!(out.status.success(), "{kind}@{ip}: {out:?}");
    let text = stdout(&out);
    if text.contains("BIND-FAILED") {
        return None;
    }
    let addrs = addresses(&text, "LISTENING ");
    assert!(!addrs.is_empty(), "{kind}@{ip}: {text}");
    Some((addrs, stderr(&out)))
}

#[test]
fn the_prometheus_endpoint_warns_beyond_loopback_only() {
    if crate::support::alone(
        module_path!(),
        "the_prometheus_endpoint_warns_beyond_loopback_only",
    ) {
        return;
    }
    let (addrs, err) = listen("prometheus", "0.0.0.0").expect("0.0.0.0 can be bound");
    assert!(addrs[0].ip().is_unspecified());
    assert!(
        err.contains("Prometheus endpoint") && err.contains(WARNING),
        "{err}"
    );
    assert!(
        err.contains(&addrs[0].to_string()),
        "names the address: {err}"
    );
    let (_, err) = listen("prometheus", "127.0.0.1").unwrap();
    assert!(!err.contains(WARNING), "no warning on loopback: {err}");
    // IPv6, where the machine has it.
    if let Some((_, err)) = listen("prometheus", "::") {
        assert!(err.contains(WARNING), "{err}");
    }
    if let Some((_, err)) = listen("prometheus", "::1") {
        assert!(!err.contains(WARNING), "{err}");
    }
}

#[test]
fn the_receiver_warns_beyond_loopback_only() {
    if crate::support::alone(module_path!(), "the_receiver_warns_beyond_loopback_only") {
        return;
    }
    let (addrs, err) = listen("receiver", "0.0.0.0").expect("0.0.0.0 can be bound");
    assert_eq!(addrs.len(), 2);
    assert!(
        err.contains("(gRPC)") && err.contains("(HTTP)") && err.matches(WARNING).count() == 2,
        "one warning per listener: {err}"
    );
    let (_, err) = listen("receiver", "127.0.0.1").unwrap();
    assert!(!err.contains(WARNING), "no warning on loopback: {err}");
}

#[cfg(feature = "cli")]
#[test]
fn taskscope_top_warns_beyond_loopback() {
    if crate::support::alone(module_path!(), "taskscope_top_warns_beyond_loopback") {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["top", "--grpc", "0.0.0.0:0", "--http", "0.0.0.0:0"])
        .args(["--no-tui", "--duration", "1s", "--interval", "1h"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = stderr(&out);
    assert_eq!(err.matches(WARNING).count(), 2, "{err}");
    assert!(err.contains("0.0.0.0:"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_taskscope"))
        .args(["top", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(["--no-tui", "--duration", "1s", "--interval", "1h"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!stderr(&out).contains(WARNING), "{out:?}");
}

#[cfg(tokio_unstable)]
#[test]
fn the_console_warns_beyond_loopback() {
    if crate::support::alone(module_path!(), "the_console_warns_beyond_loopback") {
        return;
    }
    let out = child("console@0.0.0.0", &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(stderr(&out).contains("beyond this machine"), "{out:?}");
}

// ---------------------------------------------------------------------------------------
// No argument value recorded.

#[derive(Debug, taskscope::ErrorKind)]
enum LoginError {
    Denied,
}

#[taskscope::measure]
async fn login(user: &str, password: &str) -> Result<String, LoginError> {
    if password.len().is_multiple_of(2) {
        Ok(format!("session of {user}"))
    } else {
        Err(LoginError::Denied)
    }
}

/// An error whose message holds the secret: only its type's short name may become a kind.
#[taskscope::measure]
fn check_secret(password: String) -> Result<(), String> {
    Err(format!("wrong secret {password}"))
}

#[taskscope::measure]
fn open_vault(password: &str) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!("vault refuses {password}"),
    ))
}

#[taskscope::measure]
fn lookup_token(token: &str) -> Option<usize> {
    token.find("nothing")
}

#[taskscope::measure]
fn explode(password: &str) {
    panic!("exploded with {password}");
}

#[tracing::instrument(err)]
fn instrumented_login(password: &str) -> Result<(), String> {
    Err(format!("denied {password}"))
}

/// The requests a capture server received: path and body.
type Captured = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A minimal OTLP/HTTP collector: keeps every request's path and body, answers 200.
fn capture_server() -> (SocketAddr, Captured) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let captured = Arc::new(Mutex::new(Vec::new()));
    let store = captured.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let store = store.clone();
            std::thread::spawn(move || serve_capture(stream, &store));
        }
    });
    (addr, captured)
}

fn serve_capture(mut s: TcpStream, store: &Mutex<Vec<(String, Vec<u8>)>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .expect("the exporter sends a Content-Length");
        while buf.len() < head_end + 4 + length {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head_end + 4..head_end + 4 + length].to_vec();
        buf.drain(..head_end + 4 + length);
        store.lock().unwrap().push((path, body));
        let answer =
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        if s.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A plain HTTP/1.1 request, answered and closed: status and body.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[track_caller]
fn assert_no_secret(text: &str, what: &str) {
    for needle in [SECRET, "hunter2", "password"] {
        assert!(!text.contains(needle), "{what} holds {needle:?}:\n{text}");
    }
}

#[test]
fn argument_values_appear_in_no_output() {
    if crate::support::alone(module_path!(), "argument_values_appear_in_no_output") {
        return;
    }
    use tracing_subscriber::prelude::*;
    // The layer too: spans carry fields, and taskscope must keep none but the error ones.
    tracing_subscriber::registry()
        .with(taskscope::layer())
        .init();
    let (collector, captured) = capture_server();
    let exporter = taskscope::otlp()
        .with_endpoint(format!("http://{collector}"))
        .with_protocol(taskscope::Protocol::HttpProtobuf)
        .with_service_name("security-test")
        .with_interval(Duration::from_secs(3600))
        .with_trace_sampling(1.0)
        .try_start()
        .expect("the exporter starts");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert!(login("alice", SECRET).await.is_ok());
        assert!(login("alice", &format!("{SECRET}!")).await.is_err());
    });
    assert!(check_secret(SECRET.to_owned()).is_err());
    assert!(open_vault(SECRET).is_err());
    assert!(lookup_token(SECRET).is_none());
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    assert!(std::panic::catch_unwind(|| explode(SECRET)).is_err());
    std::panic::set_hook(previous);
    assert!(instrumented_login(SECRET).is_err());
    {
        let span = tracing::info_span!("sign_in", user = "alice", password = SECRET);
        let _entered = span.enter();
        tracing::error!(password = SECRET, "sign in failed with {}", SECRET);
    }

    let snap = taskscope::snapshot();
    for name in [
        "login",
        "check_secret",
        "open_vault",
        "lookup_token",
        "explode",
        "instrumented_login",
        "sign_in",
    ] {
        assert!(snap.function(name).is_some(), "{name} was recorded");
    }
    assert_eq!(
        snap.function("check_secret").unwrap().error_kinds[0].kind,
        "String"
    );
    assert_eq!(
        snap.function("open_vault").unwrap().error_kinds[0].kind,
        "PermissionDenied"
    );
    assert_eq!(snap.function("explode").unwrap().panicked.count, 1);
    assert_no_secret(&format!("{snap:?}"), "the snapshot");
    assert_no_secret(&taskscope::report().to_string(), "the report");

    // A Prometheus scrape, in both formats.
    let endpoint = taskscope::prometheus()
        .with_address(([127, 0, 0, 1], 0).into())
        .start();
    let (status, text) = http(endpoint.local_addr(), "GET", "/metrics", "", b"");
    assert_eq!(status, 200);
    assert!(text.contains("::sign_in\""), "{text}");
    assert_no_secret(&text, "the Prometheus text");
    let accept = "Accept: application/openmetrics-text;version=1.0.0\r\n";
    let (status, text) = http(endpoint.local_addr(), "GET", "/metrics", accept, b"");
    assert_eq!(status, 200);
    assert_no_secret(&text, "the OpenMetrics text");

    // The OTLP export: every byte sent, metrics and sampled spans.
    let stats = exporter.shutdown().expect("the last export");
    assert_eq!(stats.dropped_points, 0, "{stats:?}");
    let requests = captured.lock().unwrap().clone();
    let metrics: Vec<&Vec<u8>> = requests
        .iter()
        .filter(|(path, _)| path == "/v1/metrics")
        .map(|(_, body)| body)
        .collect();
    assert!(!metrics.is_empty(), "metrics were exported");
    assert!(
        requests.iter().any(|(path, _)| path == "/v1/traces"),
        "spans were exported"
    );
    for (path, body) in &requests {
        assert_no_secret(
            &String::from_utf8_lossy(body),
            &format!("the OTLP body of {path}"),
        );
    }
    // What a real receiver makes of them.
    let receiver = Receiver::builder()
        .without_grpc()
        .with_http_addr(([127, 0, 0, 1], 0).into())
        .start()
        .unwrap();
    for body in &metrics {
        opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest::decode(
            &body[..],
        )
        .expect("the export decodes");
        let (status, text) = http(
            receiver.http_addr().unwrap(),
            "POST",
            "/v1/metrics",
            "Content-Type: application/x-protobuf\r\n",
            body,
        );
        assert_eq!(status, 200, "{text}");
    }
    let frame = receiver.frame();
    assert!(frame.series.iter().any(|s| &*s.function == "login"));
    for s in &frame.series {
        let kinds: Vec<&str> = s.error_kinds.iter().map(|k| &*k.kind).collect();
        let seen = format!(
            "{} {} {} {} {kinds:?}",
            s.service, s.function, s.module, s.unit
        );
        assert_no_secret(&seen, "the receiver's series");
    }
}

/// The path of this file's `child_process` test, as the test binary names it.
fn child_test() -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, m)| m);
    format!("{module}::child_process")
}
