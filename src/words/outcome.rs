//! How a call ended, and one value per outcome.

use std::ops::{Index, IndexMut};

/// How a call ended. Every call that started (was polled once) ends with exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Returned a value classified as success.
    Ok = 0,
    /// Returned a value classified as an error (`Err`, `None`, or by `error_if`/`ok_if`).
    Error = 1,
    /// The future was dropped before it finished: a `select!` loser, a timeout that fired,
    /// an aborted task.
    Cancelled = 2,
    /// The body panicked; the panic goes on unchanged.
    Panicked = 3,
}

impl Outcome {
    /// All outcomes, in their fixed order.
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Cancelled,
        Outcome::Panicked,
    ];

    /// The label value used in every export: `ok`, `error`, `cancelled`, `panicked`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Cancelled => "cancelled",
            Outcome::Panicked => "panicked",
        }
    }

    /// The outcome of a label value, as [`as_str`](Self::as_str) writes it.
    ///
    /// ```
    /// use taskscope::Outcome;
    /// assert_eq!(Outcome::parse("cancelled"), Some(Outcome::Cancelled));
    /// assert_eq!(Outcome::parse("timeout"), None);
    /// ```
    pub fn parse(label: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == label)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per [`Outcome`], indexed by it: the one form of "a count (or anything) for
/// each way a call can end".
///
/// ```
/// use taskscope::{Outcome, PerOutcome};
/// let mut calls = PerOutcome::<u64>::default();
/// calls[Outcome::Ok] += 3;
/// calls[Outcome::Cancelled] += 1;
/// assert_eq!(calls.total(), 4);
/// assert_eq!(calls.iter().map(|(o, n)| (o.as_str(), *n)).last(), Some(("panicked", 0)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PerOutcome<T>([T; 4]);

impl<T> PerOutcome<T> {
    /// A value for each outcome, made by `f`.
    pub fn from_fn(mut f: impl FnMut(Outcome) -> T) -> Self {
        PerOutcome(Outcome::ALL.map(&mut f))
    }

    /// Each outcome with its value, in [`Outcome::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Outcome, &T)> {
        Outcome::ALL.into_iter().zip(self.0.iter())
    }

    /// Each outcome with its value, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Outcome, &mut T)> {
        Outcome::ALL.into_iter().zip(self.0.iter_mut())
    }

    /// Each value changed by `f`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PerOutcome<U> {
        PerOutcome(self.0.map(f))
    }

    /// The values, in [`Outcome::ALL`]'s order.
    pub fn values(&self) -> &[T; 4] {
        &self.0
    }
}

impl PerOutcome<u64> {
    /// The sum over all outcomes.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

impl<T> IntoIterator for PerOutcome<T> {
    type Item = (Outcome, T);
    type IntoIter = std::iter::Zip<std::array::IntoIter<Outcome, 4>, std::array::IntoIter<T, 4>>;

    /// Each outcome with its value, in [`Outcome::ALL`]'s order.
    fn into_iter(self) -> Self::IntoIter {
        Outcome::ALL.into_iter().zip(self.0)
    }
}

impl<T> From<[T; 4]> for PerOutcome<T> {
    /// The values in [`Outcome::ALL`]'s order: ok, error, cancelled, panicked.
    fn from(values: [T; 4]) -> Self {
        PerOutcome(values)
    }
}

impl<T: PartialEq> PartialEq<[T; 4]> for PerOutcome<T> {
    /// Equal to the values in [`Outcome::ALL`]'s order.
    fn eq(&self, other: &[T; 4]) -> bool {
        self.0 == *other
    }
}

impl<T> Index<Outcome> for PerOutcome<T> {
    type Output = T;
    fn index(&self, o: Outcome) -> &T {
        &self.0[o as usize]
    }
}

impl<T> IndexMut<Outcome> for PerOutcome<T> {
    fn index_mut(&mut self, o: Outcome) -> &mut T {
        &mut self.0[o as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_back_and_the_array_is_indexed_by_outcome() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        let p = PerOutcome::from_fn(|o| o as u64 * 10);
        assert_eq!(p[Outcome::Panicked], 30);
        assert_eq!(p.total(), 60);
        let order: Vec<Outcome> = p.iter().map(|(o, _)| o).collect();
        assert_eq!(order, Outcome::ALL);
    }
}
