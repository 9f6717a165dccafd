//! Bad input from the environment and the command line, each in a child process so that no
//! variable leaks into another test: a standard `OTEL_*` variable with a value that cannot
//! work stops the OTLP exporter with an error that names the variable and the value;
//! `TOKIO_CONSOLE_BIND` likewise; an unknown flag or subcommand is a usage error (exit 2).
//!
//! Two kinds of child: the `otlp` example (what a user runs; it sets its interval and
//! service name with the builder, which wins over the variables), and this test binary
//! itself, re-run with `TASKSCOPE_CHILD` set, where a bare `taskscope::otlp().try_start()`
//! or `taskscope::subscriber().with_console().try_init()` reads every variable.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The variable that tells this binary it runs as a child, and what to do.
const CHILD: &str = "TASKSCOPE_CHILD";

/// Every variable the exporter reads, removed from a child's environment before the case's
/// own are set, so that the developer's environment cannot change the outcome.
const OTEL_VARS: &[&str] = &[
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
    "OTEL_SDK_DISABLED",
    "TOKIO_CONSOLE_BIND",
];

/// `target/<profile>`: this test runs from `target/<profile>/deps`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps")
        .to_path_buf()
}

/// An example, which `cargo test` builds next to the tests.
fn example(name: &str) -> PathBuf {
    let path = profile_dir()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --features full`, which builds the examples",
        path.display()
    );
    path
}

fn clean(command: &mut Command) -> &mut Command {
    for var in OTEL_VARS {
        command.env_remove(var);
    }
    command
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The `otlp` example, run for 0 seconds (it exits at once when it starts) with `vars`.
fn otlp_example(vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(example("otlp"));
    clean(&mut command).arg("0").envs(vars.iter().copied());
    command.output().expect("the otlp example runs")
}

/// This binary as a child: runs the test `child_process` with `TASKSCOPE_CHILD=what`.
fn child(what: &str, vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    clean(&mut command)
        .args(["--exact", &child_test(), "--nocapture", "--test-threads=1"])
        .env(CHILD, what)
        .envs(vars.iter().copied());
    command.output().expect("the test binary runs")
}

/// Not a test of its own: what a child does. Without `TASKSCOPE_CHILD` it does nothing.
#[test]
fn child_process() {
    let Ok(what) = std::env::var(CHILD) else {
        return;
    };
    match what.as_str() {
        "otlp" => match taskscope::otlp().try_start() {
            Ok(exporter) => {
                // Started: leave at once, without the last export to a collector that is
                // not there.
                println!("STARTED");
                std::mem::forget(exporter);
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        },
        "console" => match taskscope::subscriber().with_console().try_init() {
            Ok(telemetry) => {
                println!("STARTED {:?}", telemetry.console());
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        },
        other => panic!("unknown child {other}"),
    }
}

/// Every variable the exporter validates, with a value that cannot work, and what the error
/// must say besides the variable's name and value.
const BAD_OTEL: &[(&str, &str, &str)] = &[
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url", "URL"),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "ftp://collector:21",
        "http://",
    ),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://:4317", "host"),
    ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "nope nope", "URL"),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "://x", "URL"),
    (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "carrier-pigeon",
        "grpc or http/protobuf",
    ),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "not supported"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "-5", "milliseconds"),
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "milliseconds"),
    ("OTEL_EXPORTER_OTLP_HEADERS", "broken", "key=value"),
    (
        "OTEL_EXPORTER_OTLP_HEADERS",
        "api-key=%zz",
        "percent-encoding",
    ),
    ("OTEL_EXPORTER_OTLP_HEADERS", "bad header=v", "header names"),
    (
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "sideways",
        "cumulative, delta or lowmemory",
    ),
    ("OTEL_RESOURCE_ATTRIBUTES", "=orphan", "key=value"),
    ("OTEL_TRACES_SAMPLER", "sometimes", "traceidratio"),
    ("OTEL_METRIC_EXPORT_INTERVAL", "soon", "milliseconds"),
    ("OTEL_EXPORTER_OTLP_INSECURE", "maybe", "true or false"),
    (
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "/no/such/ca.pem",
        "cannot be read",
    ),
    (
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        "/no/such/key.pem",
        "a client certificate and its key",
    ),
    (
        "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
        "sideways",
        "explicit_bucket_histogram",
    ),
    ("OTEL_SDK_DISABLED", "maybe", "true or false"),
];

/// The variables the `otlp` example does not read, because its builder sets them.
const SET_BY_THE_EXAMPLE: &[&str] = &["OTEL_METRIC_EXPORT_INTERVAL", "OTEL_SERVICE_NAME"];

#[track_caller]
fn assert_names(out: &Output, var: &str, value: &str, expected: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{var}={value}: {out:?}");
    assert!(
        err.contains(var),
        "{var}={value}: the error names it: {err}"
    );
    assert!(
        err.contains(value),
        "{var}={value}: the error shows it: {err}"
    );
    assert!(
        err.contains(expected),
        "{var}={value}: says {expected:?}: {err}"
    );
}

#[test]
fn the_otlp_example_names_each_bad_variable_and_its_value() {
    if crate::support::alone(
        module_path!(),
        "the_otlp_example_names_each_bad_variable_and_its_value",
    ) {
        return;
    }
    for &(var, value, expected) in BAD_OTEL {
        if SET_BY_THE_EXAMPLE.contains(&var) {
            continue;
        }
        let out = otlp_example(&[(var, value)]);
        assert_names(&out, var, value, expected);
    }
    // The sampler's argument, given with a sampler that reads it.
    let out = otlp_example(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
    ]);
    assert_names(&out, "OTEL_TRACES_SAMPLER_ARG", "1.5", "ratio");
    // And with good values it starts (and, asked to run 0 s, ends at once).
    let out = otlp_example(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "100"),
    ]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_bare_exporter_names_each_bad_variable_and_its_value() {
    if crate::support::alone(
        module_path!(),
        "a_bare_exporter_names_each_bad_variable_and_its_value",
    ) {
        return;
    }
    for &(var, value, expected) in BAD_OTEL {
        let out = child("otlp", &[(var, value)]);
        assert_names(&out, var, value, expected);
    }
    let out = child("otlp", &[("OTEL_EXPORTER_OTLP_TIMEOUT", "100")]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("STARTED"),
        "{out:?}"
    );
}

/// A zero timeout or interval is refused, but the error names the builder method
/// (`with_timeout="0"`), not the variable the value came from.
#[test]
fn zero_timeout_and_interval_are_refused() {
    if crate::support::alone(module_path!(), "zero_timeout_and_interval_are_refused") {
        return;
    }
    for var in ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_METRIC_EXPORT_INTERVAL"] {
        let out = child("otlp", &[(var, "0")]);
        assert_eq!(out.status.code(), Some(1), "{var}=0: {out:?}");
    }
}

#[test]
fn zero_timeout_and_interval_name_the_variable() {
    if crate::support::alone(
        module_path!(),
        "zero_timeout_and_interval_name_the_variable",
    ) {
        return;
    }
    for var in ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_METRIC_EXPORT_INTERVAL"] {
        let out = child("otlp", &[(var, "0")]);
        assert_names(&out, var, "0", "above zero");
    }
}

/// Standard variables the exporter does not read at all: a bad value passes unnoticed.
/// (Run with `--ignored` to list them.)
#[test]
fn per_signal_compression_and_timeout_variables_with_bad_values_are_refused() {
    if crate::support::alone(
        module_path!(),
        "per_signal_compression_and_timeout_variables_with_bad_values_are_refused",
    ) {
        return;
    }
    for (var, value) in [
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "-5"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-5"),
        ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "broken"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "broken"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "soon"),
    ] {
        let out = child("otlp", &[(var, value)]);
        assert_eq!(out.status.code(), Some(1), "{var}={value}: {out:?}");
        assert!(stderr(&out).contains(var), "{var}={value}: {out:?}");
    }
}

#[test]
fn a_bad_tokio_console_bind_is_an_error_naming_the_variable() {
    if crate::support::alone(
        module_path!(),
        "a_bad_tokio_console_bind_is_an_error_naming_the_variable",
    ) {
        return;
    }
    for value in ["nowhere", "127.0.0.1", "127.0.0.1:port"] {
        let out = child("console", &[("TOKIO_CONSOLE_BIND", value)]);
        assert_eq!(out.status.code(), Some(1), "{value}: {out:?}");
        let err = stderr(&out);
        assert!(
            err.contains("TOKIO_CONSOLE_BIND") && err.contains(value) && err.contains("HOST:PORT"),
            "{value}: {err}"
        );
    }
    // A good one is accepted (the console itself needs `--cfg tokio_unstable`; without it
    // the status says so).
    let out = child("console", &[("TOKIO_CONSOLE_BIND", "127.0.0.1:0")]);
    assert!(out.status.success(), "{out:?}");
}

/// The `console` example takes its address as an argument (`with_console_addr`, which
/// wins over `TOKIO_CONSOLE_BIND`); a bad one is a usage error naming the argument.
/// Without one it reads `TOKIO_CONSOLE_BIND`, and a bad value is an error naming it.
#[test]
fn the_console_example_refuses_a_bad_address() {
    if crate::support::alone(module_path!(), "the_console_example_refuses_a_bad_address") {
        return;
    }
    let out = Command::new(example("console"))
        .args(["nowhere", "0"])
        .env_remove("TOKIO_CONSOLE_BIND")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("nowhere is not an address"),
        "{out:?}"
    );
    let out = Command::new(example("console"))
        .args(["-", "0"])
        .env("TOKIO_CONSOLE_BIND", "nowhere")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("TOKIO_CONSOLE_BIND") && stderr(&out).contains("nowhere"),
        "{out:?}"
    );
}

#[test]
fn the_demo_refuses_an_unknown_flag_with_its_usage() {
    if crate::support::alone(
        module_path!(),
        "the_demo_refuses_an_unknown_flag_with_its_usage",
    ) {
        return;
    }
    for args in [&["--nope"][..], &["--rate", "fast"], &["--duration"]] {
        let out = Command::new(example("demo")).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = stderr(&out);
        assert!(err.contains("usage: demo"), "{args:?}: {err}");
        assert!(err.contains(args[0]), "{args:?}: {err}");
    }
}

#[cfg(feature = "cli")]
mod cli {
    use super::*;

    fn taskscope(args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_taskscope"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Exit code 2, stderr naming `mentions` and pointing at the usage, stdout empty.
    #[track_caller]
    fn assert_usage_error(args: &[&str], mentions: &str, usage: &str) {
        let out = taskscope(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = stderr(&out);
        assert!(err.contains(usage), "{args:?}: {err}");
        assert!(err.contains(mentions), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }

    #[test]
    fn unknown_flags_and_subcommands_are_usage_errors() {
        if crate::support::alone(
            module_path!(),
            "unknown_flags_and_subcommands_are_usage_errors",
        ) {
            return;
        }
        assert_usage_error(&["top", "--nope"], "--nope", "Usage");
        assert_usage_error(&["frobnicate"], "frobnicate", "Usage");
        assert_usage_error(&["--nope"], "--nope", "Usage");
        assert_usage_error(&[], "top", "Usage");
        assert_usage_error(&["top", "extra"], "extra", "Usage");
    }

    #[test]
    fn bad_flag_values_are_usage_errors_naming_the_flag() {
        if crate::support::alone(
            module_path!(),
            "bad_flag_values_are_usage_errors_naming_the_flag",
        ) {
            return;
        }
        assert_usage_error(&["top", "--grpc", "nowhere"], "--grpc", "--help");
        assert_usage_error(&["top", "--http", "127.0.0.1"], "--http", "--help");
        assert_usage_error(&["top", "--refresh", "soon"], "--refresh", "--help");
        assert_usage_error(&["top", "--duration=-1s"], "--duration", "--help");
        assert_usage_error(&["top", "--max-series=-3"], "--max-series", "--help");
        assert_usage_error(&["top", "--error-rate", "lots"], "--error-rate", "--help");
        assert_usage_error(&["top", "--error-rate", "2"], "--error-rate", "--help");
        assert_usage_error(&["top", "--max-series", "0"], "--max-series", "--help");
    }

    /// Values that parse but cannot work: refused at start (exit 1), naming the flag.
    #[test]
    fn values_that_cannot_work_are_refused_naming_the_flag() {
        if crate::support::alone(
            module_path!(),
            "values_that_cannot_work_are_refused_naming_the_flag",
        ) {
            return;
        }
        let out = taskscope(&["top", "--no-tui", "--no-grpc", "--no-http"]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(stderr(&out).contains("--no-grpc"), "{out:?}");
    }

    #[test]
    fn zero_limits_name_the_flag() {
        if crate::support::alone(module_path!(), "zero_limits_name_the_flag") {
            return;
        }
        for flag in ["--max-series", "--max-request-bytes"] {
            let out = Command::new(env!("CARGO_BIN_EXE_taskscope"))
                .args(["top", "--no-tui", "--duration", "1s"])
                .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", flag, "0"])
                .output()
                .unwrap();
            assert!(!out.status.success(), "{flag} 0: {out:?}");
            assert!(stderr(&out).contains(flag), "{flag} 0: {}", stderr(&out));
        }
    }
}

/// The path of this file's `child_process` test, as the test binary names it.
fn child_test() -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, m)| m);
    format!("{module}::child_process")
}
