//! The attempts of a retried operation's calls: plain counts, exact for small numbers.

/// Entries of [`Attempts::counts`]: 1 to 15 attempts, and 16 or more.
pub const ATTEMPT_BUCKETS: usize = 16;

/// The calls of a retried operation by the attempts they made: exact counts for 1 to 15
/// attempts, and one count for 16 or more.
///
/// ```
/// let mut a = taskscope::Attempts::default();
/// a.counts[0] = 6; // six operations succeeded (or gave up) at their first try
/// a.counts[2] = 2; // two made three attempts: ok (or gave up) after two retries
/// assert_eq!(a.operations(), 8);
/// assert_eq!(a.retried(), 2);
/// assert_eq!(a.max(), Some(3));
/// assert_eq!(a.mean(), Some(1.5));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempts {
    /// `counts[i]`: the operations that made `i + 1` attempts; the last entry counts those
    /// that made [`ATTEMPT_BUCKETS`] or more.
    pub counts: [u64; ATTEMPT_BUCKETS],
}

impl Attempts {
    /// Operations counted.
    pub fn operations(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Whether no operation was counted.
    pub fn is_empty(&self) -> bool {
        self.operations() == 0
    }

    /// Operations that retried (made more than one attempt).
    pub fn retried(&self) -> u64 {
        self.counts[1..].iter().sum()
    }

    /// Operations that made exactly `n` attempts (`n` of [`ATTEMPT_BUCKETS`] or more: that
    /// many or more).
    pub fn with(&self, n: usize) -> u64 {
        n.checked_sub(1)
            .map_or(0, |i| self.counts[i.min(ATTEMPT_BUCKETS - 1)])
    }

    /// The most attempts an operation made (the last bucket counts as its bound).
    pub fn max(&self) -> Option<usize> {
        self.counts.iter().rposition(|&c| c > 0).map(|i| i + 1)
    }

    /// Attempts per operation (the last bucket counts as its bound).
    pub fn mean(&self) -> Option<f64> {
        let ops = self.operations();
        (ops > 0).then(|| {
            let total: u64 = (1u64..).zip(&self.counts).map(|(n, &c)| n * c).sum();
            total as f64 / ops as f64
        })
    }

    pub(crate) fn merge(&mut self, other: &Attempts) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    pub(crate) fn delta(&self, earlier: &Attempts) -> Attempts {
        let mut d = *self;
        for (a, b) in d.counts.iter_mut().zip(&earlier.counts) {
            *a = a.saturating_sub(*b);
        }
        d
    }
}
