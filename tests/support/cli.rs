//! Helpers for tests that drive the `taskscope` binary and the `otlp` example.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The `taskscope` binary cargo built for this test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_taskscope"))
}

/// An example, which `cargo test` builds next to the binary.
pub fn example(name: &str) -> PathBuf {
    let path = binary()
        .parent()
        .expect("the binary has a directory")
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --features full`, which builds the examples",
        path.display()
    );
    path
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the `otlp` example for `seconds`, exporting to `endpoint` every 200 ms.
pub fn run_example(endpoint: &str, protocol: &str, seconds: u64) -> Output {
    run_example_with(endpoint, protocol, seconds, &[])
}

/// As [`run_example`], with more variables.
pub fn run_example_with(
    endpoint: &str,
    protocol: &str,
    seconds: u64,
    vars: &[(&str, &str)],
) -> Output {
    let out = Command::new(example("otlp"))
        .arg(seconds.to_string())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_METRIC_EXPORT_INTERVAL", "200")
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "example failed: {out:?}");
    out
}

/// Sends a raw HTTP/1.1 POST and returns the status code.
pub fn post(port: u16, path: &str, content_type: &str, body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Parses `850ns`, `12.3µs`/`12.3us`, `4.56ms`, `1.23s` into seconds.
pub fn seconds(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_alphabetic() || c == 'µ')?;
    let (n, unit) = text.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "ns" => n * 1e-9,
        "µs" | "us" => n * 1e-6,
        "ms" => n * 1e-3,
        "s" => n,
        _ => return None,
    })
}

/// The columns of `function`'s row in a summary table or a captured screen, after its name.
pub fn row<'a>(screen: &'a str, function: &str) -> Option<Vec<&'a str>> {
    let line = screen
        .lines()
        .find(|l| l.split_whitespace().next() == Some(function))?;
    let tokens: Vec<&str> = line.split_whitespace().skip(1).collect();
    (tokens.len() >= 11).then_some(tokens)
}

/// Checks a row: calls made, errors or none, and percentiles in order within the example's
/// latencies (1 ms to 20 ms of sleep). Both layouts end in `inflt p50 p90 p99 p99.9 max
/// busy% slow`; before that the screen has `ok% err canc` and the plain table
/// `ok% err panic canc`.
pub fn assert_sane(screen: &str, function: &str, errors: bool, plain: bool) {
    let r = row(screen, function).unwrap_or_else(|| panic!("no row for {function}:\n{screen}"));
    let n = r.len();
    let (ok, err) = if plain {
        (r[n - 12], r[n - 11])
    } else {
        (r[n - 11], r[n - 10])
    };
    let ok: f64 = ok
        .parse()
        .unwrap_or_else(|_| panic!("ok% {ok:?}:\n{screen}"));
    let err: u64 = err.parse().unwrap();
    if errors {
        assert!(err > 0 && ok < 100.0 && ok > 80.0, "{r:?}");
    } else {
        assert!(err == 0 && ok == 100.0, "{r:?}");
    }
    let p: Vec<f64> = r[n - 7..n - 2]
        .iter()
        .map(|t| seconds(t).unwrap_or_else(|| panic!("{t:?} in {r:?}:\n{screen}")))
        .collect();
    assert!(p[0] >= 0.0009 && p[0] < 0.05, "p50 {r:?}");
    assert!(
        p.windows(2).all(|w| w[0] <= w[1] * 1.000_001),
        "percentiles out of order {r:?}"
    );
    assert!(p[4] < 1.0, "max {r:?}");
}

/// Debian's tmux, installed when missing.
pub fn tmux() -> PathBuf {
    super::provision::debian("tmux", "tmux")
}

/// A detached tmux session 160x48 running `command` in a UTF-8 locale; killed on drop.
pub struct Session(String);

impl Session {
    /// Starts `command` (a shell command line) in a new session named after `tag`.
    pub fn start(tag: &str, command: &str) -> Session {
        let name = format!("taskscope-{tag}-{}", std::process::id());
        let status = Command::new(tmux())
            .args(["new-session", "-d", "-s", &name, "-x", "160", "-y", "48"])
            .args(["-e", "LANG=C.UTF-8"])
            .arg(command)
            .status()
            .expect("tmux runs");
        assert!(status.success());
        Session(name)
    }

    /// The visible pane, as text.
    pub fn capture(&self) -> String {
        let out = Command::new(tmux())
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends keys in tmux's notation (`q`, `Enter`, `C-c`).
    pub fn keys(&self, keys: &str) {
        Command::new(tmux())
            .args(["send-keys", "-t", &self.0, keys])
            .status()
            .unwrap();
    }

    /// Waits until the pane contains `text`; the pane then.
    pub fn wait_for(&self, text: &str) -> String {
        wait_for(Duration::from_secs(20), text, || {
            let s = self.capture();
            s.contains(text).then_some(s)
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new(tmux())
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

/// Runs the binary with `args`, which must succeed, and parses the last line it printed as
/// JSON (the last summary of `top --no-tui --json`).
pub fn last_json_line<I, S>(args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = Command::new(binary()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().expect("a summary")).unwrap()
}
