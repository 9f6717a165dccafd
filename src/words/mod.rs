//! The words every room shares, at the bottom of the house: how a call ended
//! ([`outcome`]), what a measured function is ([`function`]), and the names taskscope's data
//! goes by on the wire ([`names`]). Nothing here imports anything else of the crate's.

pub(crate) mod function;
// Each feature uses part of the vocabulary.
#[allow(dead_code)]
pub(crate) mod names;
pub(crate) mod outcome;
pub(crate) mod text;
