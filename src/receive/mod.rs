//! Inputs from other processes, the mirror of the exporters: what `taskscope
//! top` reads when the data is not in this process. Each source turns what it receives into
//! [`Frame`](crate::frame::Frame)s, the dashboard's one input.
//!
//! - The OTLP receiver (cargo feature `receiver`): gRPC and HTTP listeners that take any
//!   sender's metrics, taskscope's own or any OpenTelemetry SDK's or collector's.
//! - Recordings (cargo feature `receiver`): what the receiver receives, kept as OTLP JSON
//!   lines ([`Recorder`]), read back ([`Recording`]) and played on their own clock
//!   ([`Replay`]).
//! - The fleet view (cargo feature `receiver`): taskscope's metrics read back from a
//!   Prometheus-compatible server, summed per service ([`PrometheusSource`]).
//! - The tokio-console client (cargo feature `tasks`): an app's tasks, by name.

#[cfg(feature = "tasks")]
mod console;
#[cfg(feature = "receiver")]
mod fleet;
#[cfg(feature = "receiver")]
mod json;
#[cfg(feature = "receiver")]
pub(crate) mod otlp;
#[cfg(feature = "receiver")]
pub(crate) mod recording;
#[cfg(feature = "receiver")]
pub(crate) mod replay;

#[cfg(feature = "tasks")]
pub use console::{
    ConsoleClient, ConsoleClientError, DETAILS_REFRESH, DONE_RETENTION, MAX_TASK_NAMES, MAX_TASKS,
};
#[cfg(feature = "receiver")]
pub use fleet::{DEFAULT_FLEET_SERIES, FleetError, PrometheusSource};
#[cfg(feature = "receiver")]
pub use otlp::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_GRPC_ADDR, DEFAULT_HTTP_ADDR, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_SERIES, LIVE_WITHIN, Listener, MAX_CALLERS, MAX_ERROR_KINDS, MAX_RUNTIMES,
    MAX_WORKERS, ReceiveError, Receiver, ReceiverBuilder, ReceiverStats, STREAM_IDLE,
    STREAMS_PER_SERIES, UNKNOWN_SERVICE,
};
#[cfg(feature = "receiver")]
pub use recording::{
    DEFAULT_KEPT_FILES, DEFAULT_MAX_FILE_BYTES, Recorder, RecorderBuilder, RecorderStats,
    Recording, RecordingError,
};
#[cfg(feature = "receiver")]
pub use replay::{Replay, Speed};
