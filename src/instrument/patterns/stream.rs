//! A stream, measured: the whole stream as one call of `name` (from its first poll to its
//! end: ok when it completed, an error when its last item was one, cancelled when it was
//! dropped early), and each item as a call of `name.item`, from the poll that asked for it
//! to the poll that produced it: the time to each item. The stream's busy time is the sum
//! of its items' times (producing), the rest of its wall time was spent waiting for the
//! consumer to ask for more.

use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{Phase, site};
use crate::clock;
use crate::record::registry::FunctionState;
use crate::words::function::Pattern;
use crate::words::outcome::Outcome;

/// How a measured stream classifies its items.
pub trait ItemOutcome<I> {
    /// The item's error kind when it is an error, `None` when it is ok.
    fn error_kind(item: &I) -> Option<&'static str>;
}

/// Every item is ok ([`MeasureStream::measured`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllOk;

impl<I> ItemOutcome<I> for AllOk {
    #[inline]
    fn error_kind(_: &I) -> Option<&'static str> {
        None
    }
}

/// An `Err` item is an error, of its error type's name ([`MeasureStream::measured_try`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrIsError;

impl<T, E> ItemOutcome<Result<T, E>> for ErrIsError {
    #[inline]
    fn error_kind(item: &Result<T, E>) -> Option<&'static str> {
        match item {
            Ok(_) => None,
            Err(_) => Some(std::any::type_name::<E>()),
        }
    }
}

/// `.measured(name)` on any [`Stream`].
///
/// ```
/// use futures_core::Stream;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use taskscope::patterns::MeasureStream;
///
/// struct Count(u32);
/// impl Stream for Count {
///     type Item = u32;
///     fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
///         self.0 += 1;
///         Poll::Ready((self.0 <= 3).then_some(self.0))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut s = Count(0).measured("numbers");
/// while let Some(n) = s.next().await {
///     assert!(n <= 3);
/// }
/// let snap = taskscope::snapshot();
/// assert_eq!(snap.function("numbers").unwrap().ok.count, 1, "one stream, completed");
/// assert_eq!(snap.function("numbers.item").unwrap().ok.count, 3, "three items");
/// # }
/// ```
pub trait MeasureStream: Stream + Sized {
    /// Measures the stream under `name`; every item is ok.
    #[track_caller]
    fn measured(self, name: &'static str) -> MeasuredStream<Self, AllOk> {
        MeasuredStream::new(self, name, Location::caller())
    }

    /// Measures a stream of `Result`s under `name`: an `Err` item is an error (of its
    /// error type's name), and a stream whose last item was an error ended in error.
    #[track_caller]
    fn measured_try<T, E>(self, name: &'static str) -> MeasuredStream<Self, ErrIsError>
    where
        Self: Stream<Item = Result<T, E>>,
    {
        MeasuredStream::new(self, name, Location::caller())
    }
}

impl<S: Stream> MeasureStream for S {}

/// A measured stream (see [`MeasureStream`]).
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct MeasuredStream<S, C> {
    inner: S,
    stream: &'static FunctionState,
    item_site: &'static FunctionState,
    /// The whole stream, from its first poll.
    whole: Phase,
    /// The item asked for and not produced yet.
    item: Phase,
    /// The sum of the items' times, in nanoseconds; and the items.
    producing_ns: u64,
    items: u32,
    /// The error kind of the last item, when it was an error.
    last_error: Option<&'static str>,
    done: bool,
    classify: std::marker::PhantomData<fn() -> C>,
}

impl<S, C> MeasuredStream<S, C> {
    fn new(inner: S, name: &'static str, location: &'static Location<'static>) -> Self {
        MeasuredStream {
            inner,
            stream: site(name, "", Pattern::Stream, location),
            item_site: site(name, "item", Pattern::Stream, location),
            whole: Phase::OFF,
            item: Phase::OFF,
            producing_ns: 0,
            items: 0,
            last_error: None,
            done: false,
            classify: std::marker::PhantomData,
        }
    }

    /// The stream inside.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Stream + Unpin, C: ItemOutcome<S::Item>> MeasuredStream<S, C> {
    /// The next item, as `StreamExt::next` (for code that uses no stream crate).
    pub async fn next(&mut self) -> Option<S::Item> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl<S: Stream, C: ItemOutcome<S::Item>> Stream for MeasuredStream<S, C> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        // SAFETY: `inner` is structurally pinned (never moved out of `self`); every other
        // field is plain data, moved only by value.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above, `inner` stays where the pinned `self` holds it.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        if this.done {
            return inner.poll_next(cx);
        }
        if !this.item.is_on() {
            // A new item is asked for: the first poll also starts the stream.
            let now = clock::now();
            if !this.whole.is_on() && this.items == 0 {
                this.whole = Phase::start_at(this.stream, now);
            }
            if this.whole.is_on() {
                this.item = Phase::start_at(this.item_site, now);
            }
        }
        let polled = inner.poll_next(cx);
        match &polled {
            Poll::Pending => {}
            Poll::Ready(Some(item)) => {
                let kind = C::error_kind(item);
                if this.item.is_on() {
                    let start = this.item.started();
                    let now = clock::now();
                    let outcome = if kind.is_some() {
                        Outcome::Error
                    } else {
                        Outcome::Ok
                    };
                    this.item.end_at(now, outcome, kind);
                    this.producing_ns += clock::nanos_between(start, now);
                    this.items = this.items.saturating_add(1);
                }
                this.last_error = kind;
            }
            Poll::Ready(None) => {
                this.done = true;
                let now = clock::now();
                // Asking for the end is not an item.
                this.item.forget();
                if this.whole.is_on() {
                    let (outcome, kind) = match this.last_error {
                        Some(k) => (Outcome::Error, Some(k)),
                        None => (Outcome::Ok, None),
                    };
                    this.whole
                        .end_with(now, outcome, kind, Some((this.producing_ns, this.items)));
                }
            }
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S, C> Drop for MeasuredStream<S, C> {
    fn drop(&mut self) {
        // Dropped early: the item asked for is cancelled, and so is the stream, with the
        // time its items took.
        if self.whole.is_on() {
            let now = clock::now();
            self.item.end_at(now, Outcome::Cancelled, None);
            self.whole.end_with(
                now,
                Outcome::Cancelled,
                None,
                Some((self.producing_ns, self.items)),
            );
        }
    }
}
