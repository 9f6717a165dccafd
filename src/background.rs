//! taskscope's background threads (the OTLP exporter, the Prometheus endpoint, the receiver,
//! the embedded dashboard, the console's server and client): each runs under a `tracing`
//! dispatcher of its own that records nothing, so none of taskscope's own work (hyper's,
//! h2's and tonic's spans, the tasks its runtimes spawn) ever reaches the application's
//! subscriber, the taskscope layer or tokio-console; and each runs its own current-thread
//! tokio runtime, so the application's runtime, if it has one, never runs taskscope's work.

use std::io;
use std::thread::JoinHandle;

use tracing_core::Dispatch;
use tracing_core::subscriber::NoSubscriber;

/// Spawns a named background thread that runs `f` under the quiet dispatcher.
pub(crate) fn spawn<F, T>(name: &str, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _quiet = quiet_thread();
            f()
        })
}

/// Runs `f` on a quiet thread of its own, outside any tokio runtime, and waits for it: for
/// handing work to code that may block on a runtime of its own (an application's
/// OpenTelemetry SDK). `None` if the thread could not start or `f` panicked.
#[cfg(feature = "otel-sdk")]
pub(crate) fn outside_runtime<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn_scoped(s, || {
                let _quiet = quiet_thread();
                f()
            })
            .ok()?
            .join()
            .ok()
    })
}

/// Makes a dispatcher that records nothing this thread's default until the guard drops.
fn quiet_thread() -> tracing_core::dispatcher::DefaultGuard {
    tracing_core::dispatcher::set_default(&Dispatch::new(NoSubscriber::default()))
}

/// A current-thread runtime with I/O and timers whose blocking-pool threads (hyper's DNS
/// look-ups run there) are quiet too. If it cannot start, says so on `ready`, where the
/// thread's starter waits, and gives `None`.
#[cfg(any(feature = "otlp", feature = "prometheus", feature = "receiver"))]
pub(crate) fn runtime(
    ready: &std::sync::mpsc::Sender<Result<(), String>>,
    what: &str,
) -> Option<tokio::runtime::Runtime> {
    match runtime_builder().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            let _ = ready.send(Err(format!("cannot start the {what} runtime: {e}")));
            None
        }
    }
}

/// The builder of every background runtime: current-thread, I/O and timers, quiet
/// blocking threads.
#[cfg(any(
    feature = "otlp",
    feature = "prometheus",
    feature = "receiver",
    feature = "tasks",
    all(feature = "console", tokio_unstable)
))]
pub(crate) fn runtime_builder() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all().on_thread_start(|| {
        // A blocking-pool thread lives until the runtime ends; its guard with it.
        std::mem::forget(quiet_thread());
    });
    builder
}
