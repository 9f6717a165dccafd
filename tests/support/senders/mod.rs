//! Foreign OTLP senders for the tests, written by nobody on the team: the OpenTelemetry
//! Python SDK (from PyPI, into a venv) and JavaScript SDK (from npm, into a `node_modules`),
//! both installed once under the target directory by the first test that needs them, and
//! the small programs in this directory that use them.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Python of a venv holding the OpenTelemetry SDK and its OTLP exporters.
pub fn python() -> PathBuf {
    super::provision::python_venv(
        "python-sdk",
        &[
            "opentelemetry-sdk",
            "opentelemetry-exporter-otlp-proto-grpc",
            "opentelemetry-exporter-otlp-proto-http",
        ],
    )
}

/// A directory whose `node_modules` holds the OpenTelemetry JavaScript SDK's metrics and
/// its OTLP/HTTP JSON exporter.
pub fn node_project() -> PathBuf {
    super::provision::node_modules(
        "javascript-sdk",
        r#"{"name":"taskscope-js-sender","private":true,"type":"module"}"#,
        &[
            "@opentelemetry/sdk-metrics@2",
            "@opentelemetry/exporter-metrics-otlp-http",
            "@opentelemetry/resources@2",
        ],
    )
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/senders")
        .join(name)
}

/// Runs the Python sender: `calls` calls of `charge_card` for `service`, over `protocol`
/// (`grpc` or `http`) to `endpoint`, with these extra variables.
pub fn run_python(
    protocol: &str,
    endpoint: &str,
    calls: u32,
    service: &str,
    env: &[(&str, &str)],
) -> Output {
    let out = Command::new(python())
        .arg(script("python_sender.py"))
        .args([protocol, endpoint, &calls.to_string(), service])
        // requests lets these override the CA the exporter was given (requests#3829).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .envs(env.iter().copied())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the Python sender failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the JavaScript sender under node: `calls` calls of `add_item` for `service`, as
/// OTLP/HTTP JSON to `url` (the full metrics URL).
pub fn run_node(url: &str, calls: u32, service: &str) -> Output {
    let project = node_project();
    // Node resolves packages from the script's own directory upwards: run a copy that sits
    // beside the node_modules.
    let copy = project.join("js_sender.mjs");
    std::fs::copy(script("js_sender.mjs"), &copy).unwrap();
    let out = Command::new(super::provision::node())
        .current_dir(&project)
        .arg(&copy)
        .args([url, &calls.to_string(), service])
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "the JavaScript sender failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes a file of OTLP JSON lines with the Python SDK's encoder (`python_file_writer.py`):
/// `exports` requests of `per_export` more calls each of `charge_card` for `service`.
pub fn write_python_file(path: &Path, exports: u32, per_export: u32, service: &str) {
    let out = Command::new(python())
        .arg(script("python_file_writer.py"))
        .arg(path)
        .args([&exports.to_string(), &per_export.to_string(), service])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the Python file writer failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Reads a file of OTLP JSON lines with the Python packages' protobuf types and protobuf's
/// JSON parser (`python_file_reader.py`): the requests it read, and the last one's
/// `function.calls` of the function whose qualified name ends with `function`.
pub fn read_python_file(path: &Path, function: &str) -> (usize, u64) {
    let out = Command::new(python())
        .arg(script("python_file_reader.py"))
        .arg(path)
        .arg(function)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the Python file reader failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let requests = words.next().and_then(|w| w.parse().ok()).expect("a count");
    let calls = words.next().and_then(|w| w.parse().ok()).expect("a total");
    (requests, calls)
}
