//! The `taskscope top` binary without a terminal: plain summaries from a real app's OTLP
//! export, JSON on request, and clear failures for a port in use and an unknown flag.

#![cfg(feature = "cli")]

use crate::support::cli;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn plain_summaries_show_a_real_apps_functions() {
    if crate::support::alone(module_path!(), "plain_summaries_show_a_real_apps_functions") {
        return;
    }
    let (grpc, http) = (cli::free_port(), cli::free_port());
    let top = Command::new(cli::binary())
        .args(["top", "--grpc", &format!("127.0.0.1:{grpc}")])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .args([
            "--window",
            "all",
            "--refresh",
            "200ms",
            "--interval",
            "1s",
            "--duration",
            "6s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Over HTTP this time (the tmux test uses gRPC).
    cli::run_example(&format!("http://127.0.0.1:{http}"), "http/protobuf", 2);
    let out = top.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    // The last summary is the final report.
    let last = stdout.rsplit("taskscope top |").next().unwrap();
    assert!(last.contains("window all"), "{last}");
    cli::assert_sane(last, "authorize", true, true);
    cli::assert_sane(last, "load_cart", false, true);
}

#[test]
fn json_summaries_are_one_object_per_line() {
    if crate::support::alone(module_path!(), "json_summaries_are_one_object_per_line") {
        return;
    }
    let (grpc, http) = (cli::free_port(), cli::free_port());
    let top = Command::new(cli::binary())
        .args(["top", "--grpc", &format!("127.0.0.1:{grpc}")])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .args([
            "--no-tui",
            "--json",
            "--window",
            "all",
            "--refresh",
            "200ms",
        ])
        .args(["--interval", "1s", "--duration", "5s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    cli::run_example(&format!("http://127.0.0.1:{grpc}"), "grpc", 2);
    let out = top.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let functions = last["functions"].as_array().unwrap();
    let authorize = functions
        .iter()
        .find(|f| f["function"] == "authorize")
        .unwrap_or_else(|| panic!("{last}"));
    assert_eq!(authorize["service"], "otlp-example");
    let calls = authorize["calls"].as_u64().unwrap();
    let errors = authorize["error"].as_u64().unwrap();
    assert!(
        calls > 0 && errors > 0 && errors < calls / 10,
        "{authorize}"
    );
    let kinds: Vec<&str> = authorize["error_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"Declined") && kinds.contains(&"Timeout"),
        "{kinds:?}"
    );
    let p50 = authorize["latency_seconds"]["p50"].as_f64().unwrap();
    assert!(p50 > 0.002 && p50 < 0.05, "{p50}");
}

#[test]
fn a_port_in_use_is_a_clear_error_and_a_failing_exit() {
    if crate::support::alone(
        module_path!(),
        "a_port_in_use_is_a_clear_error_and_a_failing_exit",
    ) {
        return;
    }
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(cli::binary())
        .args(["top", "--no-tui", "--grpc", &format!("127.0.0.1:{port}")])
        .args(["--http", &format!("127.0.0.1:{}", cli::free_port())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("in use"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    if crate::support::alone(module_path!(), "an_unknown_flag_is_a_usage_error") {
        return;
    }
    let out = Command::new(cli::binary())
        .args(["top", "--frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--frobnicate") && stderr.contains("Usage"),
        "{stderr}"
    );
    let out = Command::new(cli::binary())
        .args(["top", "--window", "2d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("10s, 1m, 5m, 15m, 1h or all"));
}

#[test]
fn sigterm_ends_a_plain_run_with_its_last_summary() {
    if crate::support::alone(
        module_path!(),
        "sigterm_ends_a_plain_run_with_its_last_summary",
    ) {
        return;
    }
    let (grpc, http) = (cli::free_port(), cli::free_port());
    let mut top = Command::new(cli::binary())
        .args(["top", "--no-tui", "--grpc", &format!("127.0.0.1:{grpc}")])
        .args(["--http", &format!("127.0.0.1:{http}"), "--interval", "1h"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it listens, then ask it to stop.
    cli::wait_for(Duration::from_secs(20), "the receiver", || {
        std::net::TcpStream::connect(("127.0.0.1", http)).ok()
    });
    let status = Command::new("kill")
        .args(["-TERM", &top.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::mem::replace(&mut top, Command::new("true").spawn().unwrap())
        .wait_with_output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("taskscope top |"));
    let _ = top.wait();
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    if crate::support::alone(module_path!(), "a_closed_stdout_ends_the_run_quietly") {
        return;
    }
    // `taskscope top | head -1`: the reader takes one line and goes away.
    let (grpc, http) = (cli::free_port(), cli::free_port());
    let mut top = Command::new(cli::binary())
        .args(["top", "--no-tui", "--grpc", &grpc.to_string()])
        .args(["--http", &http.to_string(), "--interval", "200ms"])
        .args(["--duration", "20s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = top.stdout.take().unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let started = std::time::Instant::now();
    let out = top.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "it noticed");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "nothing to say");
}

#[test]
fn listeners_take_a_bare_port_or_a_host_name() {
    if crate::support::alone(module_path!(), "listeners_take_a_bare_port_or_a_host_name") {
        return;
    }
    let (grpc, http) = (cli::free_port(), cli::free_port());
    let top = Command::new(cli::binary())
        .args(["top", "--no-tui", "--grpc", &grpc.to_string()])
        .args(["--http", &format!("localhost:{http}")])
        .args(["--interval", "1h", "--duration", "4s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for port in [grpc, http] {
        cli::wait_for(Duration::from_secs(20), "the listener on 127.0.0.1", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
    }
    let out = top.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("grpc 127.0.0.1:{grpc}")),
        "{stdout}"
    );
    let bad = Command::new(cli::binary())
        .args(["top", "--grpc", "localhost:port"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("localhost:4317"));
}

#[test]
fn a_users_error_is_one_message_never_a_backtrace() {
    if crate::support::alone(
        module_path!(),
        "a_users_error_is_one_message_never_a_backtrace",
    ) {
        return;
    }
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(cli::binary())
        .args(["top", "--no-tui", "--grpc", &port.to_string()])
        .args(["--http", &cli::free_port().to_string()])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("taskscope: "), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
