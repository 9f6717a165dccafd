//! The live terminal dashboard (`taskscope top`, and [`top()`] inside an app).
//!
//! [`top()`] builds it: it reads this process's recorder, or what a
//! [`Receiver`](crate::receive::Receiver) receives, with an app's tokio-console tasks beside
//! (`with_console`), and runs on the terminal ([`TopBuilder::run`],
//! [`TopBuilder::start`]), as plain summaries ([`TopBuilder::run_plain`]), or in memory
//! ([`Headless`]).
//!
//! Inside, data flows one way: a source makes a [`Frame`](crate::frame::Frame) each tick;
//! the model keeps a few frames as checkpoints and derives the rows of the chosen time
//! window; the screens draw the model and never change it. Keys become messages through
//! one table that also writes the hint line and the `?` help, so the help cannot drift from
//! the keys.

mod call_graph;
mod format;
mod headless;
mod keys;
mod model;
mod rows;
mod run;
mod runtime_rows;
mod screens;
mod style;
mod summary;
#[cfg(test)]
mod tests;
mod top;

pub use headless::Headless;
pub use rows::Window;
pub use run::{Exit, TopError};
pub use top::{StopHandle, Summary, TopBuilder, TopHandle, top};
