//! The runtime of a background thread (the OTLP exporter, the Prometheus endpoint, the
//! receiver): each runs its own current-thread tokio runtime, so the application's runtime,
//! if it has one, never runs taskscope's work.

use std::sync::mpsc::Sender;

/// A current-thread runtime with I/O and timers. If it cannot start, says so on `ready`,
/// where the thread's starter waits, and gives `None`.
pub(crate) fn runtime(
    ready: &Sender<Result<(), String>>,
    what: &str,
) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            let _ = ready.send(Err(format!("cannot start the {what} runtime: {e}")));
            None
        }
    }
}
