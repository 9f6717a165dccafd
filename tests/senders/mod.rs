//! Foreign OTLP senders for the tests, written by nobody on the team: the OpenTelemetry
//! Python SDK (from PyPI, into a venv) and JavaScript SDK (from npm, into a `node_modules`),
//! both installed once under the target directory by the first test that needs them, and
//! the small programs in this directory that use them.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs `install` once across test binaries (a lock directory, then a marker file).
fn once(name: &str, install: impl FnOnce(&Path) -> bool) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let marker = root.join("installed");
    let lock = root.join("lock");
    std::fs::create_dir_all(&root).unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut install = Some(install);
    while !marker.exists() {
        if std::fs::create_dir(&lock).is_ok() {
            if !marker.exists() {
                let ok = (install.take().expect("once"))(&root);
                if ok {
                    std::fs::write(&marker, "").unwrap();
                }
                let _ = std::fs::remove_dir(&lock);
                assert!(ok, "installing {name} failed (see the output above)");
            }
        } else {
            assert!(
                Instant::now() < deadline,
                "waited 600 s for another {name} install"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    root
}

/// The Python of a venv holding the OpenTelemetry SDK and its OTLP exporters.
pub fn python() -> PathBuf {
    let root = once("python-sdk", |root| {
        let venv = root.join("venv");
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "opentelemetry-sdk",
                    "opentelemetry-exporter-otlp-proto-grpc",
                    "opentelemetry-exporter-otlp-proto-http",
                ])
                .status()
                .is_ok_and(|s| s.success())
    });
    root.join("venv/bin/python")
}

/// A directory whose `node_modules` holds the OpenTelemetry JavaScript SDK's metrics and
/// its OTLP/HTTP JSON exporter.
pub fn node_project() -> PathBuf {
    once("javascript-sdk", |root| {
        std::fs::write(
            root.join("package.json"),
            r#"{"name":"taskscope-js-sender","private":true,"type":"module"}"#,
        )
        .is_ok()
            && Command::new("npm")
                .current_dir(root)
                .args([
                    "install",
                    "--silent",
                    "--no-audit",
                    "--no-fund",
                    "@opentelemetry/sdk-metrics@2",
                    "@opentelemetry/exporter-metrics-otlp-http",
                    "@opentelemetry/resources@2",
                ])
                .status()
                .is_ok_and(|s| s.success())
    })
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/senders")
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
    let out = Command::new("node")
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
