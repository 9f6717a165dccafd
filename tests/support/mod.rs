//! What the test binaries share: the recorder's setup on paused clocks ([`common`]), the
//! real services the tests run against (the rotel [`collector`], Prometheus and promtool
//! for [`scrape`], the OpenTelemetry SDKs as [`senders`]), the `taskscope` binary and tmux
//! ([`cli`]), OTLP request builders ([`otlp`]), the installation of all of these on first
//! use ([`provision`]), and [`alone`] for a test that needs the process to itself.
#![allow(dead_code, unreachable_pub)]

pub mod cli;
pub mod collector;
pub mod common;
pub mod otlp;
pub mod provision;
pub mod scrape;
pub mod senders;

/// Runs the calling test's module in a child process of this test binary, and answers
/// for the calling test from the child's report: `true` in the parent (the test passed in
/// the child, and returns), `false` in the child, which runs the test's body.
///
/// Each module was a test binary of its own, and many of them install process-wide state
/// (a global subscriber, the recorder's settings, the run-time switch) or read the whole
/// recorder: in a child of its own, a module keeps the process it had, and its tests run in
/// parallel with each other as they did. Children run one at a time, as the binaries did.
///
/// ```ignore
/// #[test]
/// fn switched_off_records_nothing() {
///     if crate::support::alone(module_path!(), "switched_off_records_nothing") {
///         return;
///     }
///     // ... the body, in the module's own process
/// }
/// ```
#[track_caller]
pub fn alone(module: &str, test: &str) -> bool {
    use std::process::Output;
    use std::sync::{Arc, Mutex, OnceLock, PoisonError};

    const CHILD: &str = "TASKSCOPE_TEST_MODULE";
    // `module_path!()` starts with the binary's name, which test paths leave out.
    let module = module.split_once("::").map_or(module, |(_, m)| m);
    if std::env::var(CHILD).is_ok_and(|m| m == module) {
        return false;
    }
    static RUNS: Mutex<Vec<(String, Arc<OnceLock<Output>>)>> = Mutex::new(Vec::new());
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let run = {
        let mut runs = RUNS.lock().unwrap_or_else(PoisonError::into_inner);
        match runs.iter().find(|(m, _)| m == module) {
            Some((_, run)) => Arc::clone(run),
            None => {
                let run = Arc::new(OnceLock::new());
                runs.push((module.to_owned(), Arc::clone(&run)));
                run
            }
        }
    };
    let out = run.get_or_init(|| {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut child = std::process::Command::new(exe);
        child.arg(format!("{module}::"));
        if std::env::args().any(|a| a == "--nocapture") {
            child.arg("--nocapture");
        }
        child
            .env(CHILD, module)
            .output()
            .expect("the test binary runs again")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `-- --nocapture` shows what the module's tests print, once.
    if std::env::args().any(|a| a == "--nocapture") {
        static SHOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let mut shown = SHOWN.lock().unwrap_or_else(PoisonError::into_inner);
        if !shown.iter().any(|m| m == module) {
            shown.push(module.to_owned());
            print!("{stdout}");
            eprint!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    // The child ran the test, and neither marked it failed nor listed it among its
    // failures (with `--nocapture`, a test's output may sit between its name and `ok`).
    let path = format!("{module}::{test}");
    let ran = stdout.contains(&format!("test {path} ... "));
    let failed = stdout.contains(&format!("test {path} ... FAILED"))
        || stdout.lines().any(|l| l.trim() == path);
    if !ran || failed {
        let stderr = String::from_utf8_lossy(&out.stderr);
        panic!(
            "{path} did not pass in its module's process ({}):\n{stdout}\n{stderr}",
            out.status
        );
    }
    true
}
