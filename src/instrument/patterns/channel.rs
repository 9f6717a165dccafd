//! tokio's mpsc channels, measured: `name.send`, each wait of a bounded channel's sender
//! for room (backpressure; its calls in flight are the senders blocked); `name.queue`, each
//! item's time in the queue (its calls in flight are the queue's depth; an item still queued
//! when the channel goes away ends as cancelled: closed with items); `name.recv`, each wait of
//! the receiver for an item (an error of kind `Closed` when the channel is closed and empty).

use std::panic::Location;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::{SendError, TryRecvError, TrySendError};

use super::{CLOSED_KIND, Phase, site};
use crate::record::registry::FunctionState;
use crate::words::function::Pattern;
use crate::words::outcome::Outcome;

/// The three phases of a channel.
#[derive(Clone, Copy, Debug)]
struct Sites {
    send: &'static FunctionState,
    queue: &'static FunctionState,
    recv: &'static FunctionState,
}

impl Sites {
    fn new(name: &'static str, location: &'static Location<'static>) -> Sites {
        Sites {
            send: site(name, "send", Pattern::Channel, location),
            queue: site(name, "queue", Pattern::Channel, location),
            recv: site(name, "recv", Pattern::Channel, location),
        }
    }

    /// An item entering the queue at `ticks` (now when `ticks` is 0).
    #[inline]
    fn enqueue<T>(&self, value: T, ticks: u64) -> Queued<T> {
        let ticks = if ticks == 0 {
            crate::clock::now()
        } else {
            ticks
        };
        Queued {
            value,
            queued: Phase::uncounted_at(self.queue, ticks),
        }
    }

    /// An item taken out of the queue at `ticks`.
    #[inline]
    fn dequeue<T>(item: Queued<T>, ticks: u64) -> T {
        let Queued { value, mut queued } = item;
        queued.end_at(ticks, Outcome::Ok, None);
        value
    }

    /// Ends a receive that got `item` (or found the channel closed).
    #[inline]
    fn received<T>(&self, mut wait: Phase, item: Option<Queued<T>>) -> Option<T> {
        match item {
            Some(item) => {
                let now = if wait.is_on() {
                    wait.end(Outcome::Ok, None)
                } else {
                    crate::clock::now()
                };
                Some(Sites::dequeue(item, now))
            }
            None => {
                wait.end(Outcome::Error, Some(CLOSED_KIND));
                None
            }
        }
    }
}

/// An item in the channel with the time it entered it; dropped in the channel, its queue
/// phase ends as cancelled.
#[derive(Debug)]
struct Queued<T> {
    value: T,
    queued: Phase,
}

/// A bounded tokio mpsc channel measured under `name` (see [`Sender`] and [`Receiver`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, mut rx) = taskscope::patterns::channel::<u32>("jobs", 8);
/// tx.send(1).await.unwrap();
/// assert_eq!(taskscope::snapshot().function("jobs.queue").unwrap().in_flight, 1, "depth 1");
/// assert_eq!(rx.recv().await, Some(1));
/// let snap = taskscope::snapshot();
/// assert_eq!(snap.function("jobs.queue").unwrap().ok.count, 1);
/// assert_eq!(snap.function("jobs.recv").unwrap().ok.count, 1);
/// # }
/// ```
#[track_caller]
pub fn channel<T>(name: &'static str, capacity: usize) -> (Sender<T>, Receiver<T>) {
    let sites = Sites::new(name, Location::caller());
    let (tx, rx) = mpsc::channel(capacity);
    (Sender { inner: tx, sites }, Receiver { inner: rx, sites })
}

/// An unbounded tokio mpsc channel measured under `name`: as [`channel`], with no send
/// wait to measure.
#[track_caller]
pub fn unbounded_channel<T>(name: &'static str) -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let sites = Sites::new(name, Location::caller());
    let (tx, rx) = mpsc::unbounded_channel();
    (
        UnboundedSender { inner: tx, sites },
        UnboundedReceiver { inner: rx, sites },
    )
}

/// The sending side of a measured bounded channel.
#[derive(Debug)]
pub struct Sender<T> {
    inner: mpsc::Sender<Queued<T>>,
    sites: Sites,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            inner: self.inner.clone(),
            sites: self.sites,
        }
    }
}

impl<T> Sender<T> {
    /// Waits for room and sends, as [`tokio::sync::mpsc::Sender::send`]: the wait is a
    /// call of `name.send`, and the item's time in the queue starts when it gets room.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut wait = Phase::start(self.sites.send);
        match self.inner.reserve().await {
            Ok(permit) => {
                let now = wait.end(Outcome::Ok, None);
                permit.send(self.sites.enqueue(value, now));
                Phase::counted(self.sites.queue);
                Ok(())
            }
            Err(_) => {
                wait.end(Outcome::Error, Some(CLOSED_KIND));
                Err(SendError(value))
            }
        }
    }

    /// Sends if there is room, as [`tokio::sync::mpsc::Sender::try_send`] (no wait).
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.inner.try_reserve() {
            Ok(permit) => {
                permit.send(self.sites.enqueue(value, 0));
                Phase::counted(self.sites.queue);
                Ok(())
            }
            Err(TrySendError::Full(())) => Err(TrySendError::Full(value)),
            Err(TrySendError::Closed(())) => Err(TrySendError::Closed(value)),
        }
    }

    /// Room left in the channel now.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

/// The methods both receivers have, over tokio's receiver of the same name.
macro_rules! receiver_methods {
    ($receiver:ident, $tokio:literal) => {
        impl<T> $receiver<T> {
            #[doc = concat!("Waits for an item, as [`", $tokio, "::recv`]: the wait is a call of")]
            /// `name.recv`, and ends the item's time in the queue.
            pub async fn recv(&mut self) -> Option<T> {
                let wait = Phase::start(self.sites.recv);
                let item = self.inner.recv().await;
                self.sites.received(wait, item)
            }

            #[doc = concat!("Takes an item if one is queued, as [`", $tokio, "::try_recv`].")]
            pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
                let item = self.inner.try_recv()?;
                Ok(Sites::dequeue(item, crate::clock::now()))
            }

            /// Items queued now.
            pub fn len(&self) -> usize {
                self.inner.len()
            }

            /// Whether nothing is queued.
            pub fn is_empty(&self) -> bool {
                self.inner.is_empty()
            }

            /// Closes the channel: senders fail, queued items can still be received.
            pub fn close(&mut self) {
                self.inner.close();
            }
        }
    };
}

/// The receiving side of a measured bounded channel.
#[derive(Debug)]
pub struct Receiver<T> {
    inner: mpsc::Receiver<Queued<T>>,
    sites: Sites,
}

receiver_methods!(Receiver, "tokio::sync::mpsc::Receiver");

/// The sending side of a measured unbounded channel.
#[derive(Debug)]
pub struct UnboundedSender<T> {
    inner: mpsc::UnboundedSender<Queued<T>>,
    sites: Sites,
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        UnboundedSender {
            inner: self.inner.clone(),
            sites: self.sites,
        }
    }
}

impl<T> UnboundedSender<T> {
    /// Sends, as [`tokio::sync::mpsc::UnboundedSender::send`]: the item's time in the
    /// queue starts now.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.inner.send(self.sites.enqueue(value, 0)) {
            Ok(()) => {
                Phase::counted(self.sites.queue);
                Ok(())
            }
            Err(SendError(item)) => {
                let Queued { value, mut queued } = item;
                // Never queued: it leaves no call.
                queued.forget();
                Err(SendError(value))
            }
        }
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

/// The receiving side of a measured unbounded channel.
#[derive(Debug)]
pub struct UnboundedReceiver<T> {
    inner: mpsc::UnboundedReceiver<Queued<T>>,
    sites: Sites,
}

receiver_methods!(UnboundedReceiver, "tokio::sync::mpsc::UnboundedReceiver");
