//! The live terminal dashboard (`taskscope top`, and [`top()`] inside an app).
//!
//! Data flows one way: a source (the recorder in the app, or the OTLP [`receive`]r) makes a
//! [`Frame`] each tick; the [`Model`] keeps a few frames as checkpoints and derives the rows
//! of the chosen time window; [`draw()`] renders the model and never changes it. Keys become
//! messages through one table, [`keys::KEYS`], that also writes the hint line and the `?`
//! help, so the help cannot drift from the keys.

mod draw;
pub mod format;
pub mod keys;
mod model;
mod recorder;
mod rows;
mod run;
mod series;
mod summary;
mod tasks;
mod top;

#[cfg(feature = "tasks")]
mod console_client;
#[cfg(feature = "tasks")]
mod task_times;

#[cfg(feature = "receiver")]
pub mod receive;

pub use draw::draw;
pub use model::{Column, Effect, Model, Msg, Screen, Settings};
pub use recorder::{RecorderSource, service_name};
pub use rows::{History, KindRow, Limits, Row, SPARK_TICKS, Warning, Window, rows};
pub use run::{Exit, RunOptions, TopError, export, run_plain, run_terminal};
pub use series::{
    Bucket, Dist, Explicit, Exponential, Frame, KindCount, Series, SeriesKind, SourceStatus,
};
pub use summary::{csv, json, table};
pub use tasks::{TaskName, TaskRow, TaskState, TaskTimes, Tasks};
pub use top::{TopBuilder, TopHandle, top};

#[cfg(feature = "tasks")]
pub use console_client::{
    ConsoleClient, ConsoleClientError, DETAILS_REFRESH, DONE_RETENTION, MAX_TASK_NAMES, MAX_TASKS,
};
