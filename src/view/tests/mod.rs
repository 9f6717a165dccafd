//! The dashboard's model and screens, tested from inside: the pure update driven by key
//! events, and every screen rendered into ratatui's `TestBackend` and pinned by snapshots.

mod fixtures;
mod screens;
mod update;
