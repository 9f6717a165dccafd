//! A retried operation, measured: the whole operation is one call of `name` (from
//! [`Retries::start`] to the end of its last attempt, with the last attempt's outcome: ok
//! after however many retries, or an error when it gave up), whose polls are its attempts
//! and whose busy time is the time its attempts ran, so its idle time is the time spent
//! between attempts, sleeping in backoff; each attempt is a call of `name.attempt`, each
//! backoff sleep a call of `name.backoff`, and the attempts of each operation go into
//! [`FunctionSnapshot::attempts`](crate::FunctionSnapshot::attempts).

use std::future::Future;
use std::panic::Location;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::{Phase, site};
use crate::clock;
use crate::record::registry::FunctionState;
use crate::words::function::Pattern;
use crate::words::outcome::Outcome;

/// The three functions of a retried operation.
#[derive(Clone, Copy, Debug)]
struct Sites {
    op: &'static FunctionState,
    attempt: &'static FunctionState,
    backoff: &'static FunctionState,
}

/// A retried operation's name, made once (a `static`, or a value kept beside the client
/// it retries); [`start`](Retries::start) begins one operation.
///
/// ```
/// use std::time::Duration;
/// use taskscope::patterns::Retries;
///
/// static FETCH: Retries = Retries::new("fetch_user");
///
/// async fn flaky(attempt: u32) -> Result<u32, std::io::Error> {
///     if attempt < 3 { Err(std::io::ErrorKind::TimedOut.into()) } else { Ok(7) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let retry = FETCH.start();
/// let mut n = 0;
/// let value = loop {
///     n += 1;
///     match retry.attempt(flaky(n)).await {
///         Err(_) if n < 5 => retry.backoff(Duration::from_millis(100)).await,
///         done => break done,
///     }
/// };
/// drop(retry);
/// assert_eq!(value.unwrap(), 7);
/// let snap = taskscope::snapshot();
/// let op = snap.function("fetch_user").unwrap();
/// assert_eq!(op.ok.count, 1, "ok after 2 retries");
/// assert_eq!(op.attempts.max(), Some(3));
/// assert_eq!(op.attempts.with(3), 1);
/// assert_eq!(snap.function("fetch_user.attempt").unwrap().error.count, 2);
/// assert_eq!(snap.function("fetch_user.backoff").unwrap().ok.count, 2);
/// # }
/// ```
#[derive(Debug)]
pub struct Retries {
    name: &'static str,
    sites: OnceLock<Sites>,
}

impl Retries {
    /// A retried operation named `name`.
    pub const fn new(name: &'static str) -> Retries {
        Retries {
            name,
            sites: OnceLock::new(),
        }
    }

    #[track_caller]
    fn sites(&self) -> Sites {
        let location = Location::caller();
        *self.sites.get_or_init(|| Sites {
            op: site(self.name, "", Pattern::Retry, location),
            attempt: site(self.name, "attempt", Pattern::Retry, location),
            backoff: site(self.name, "backoff", Pattern::Retry, location),
        })
    }

    /// Begins one operation: its attempts go through [`Retry::attempt`], its sleeps through
    /// [`Retry::backoff`] (or [`Retry::sleeper`] with backon); it ends when the `Retry` is
    /// dropped, with its last attempt.
    #[track_caller]
    pub fn start(&self) -> Retry {
        let sites = self.sites();
        Retry {
            sites,
            op: Phase::start(sites.op),
            attempts: AtomicU32::new(0),
            running: AtomicU32::new(0),
            last_end: AtomicU64::new(0),
            last: AtomicUsize::new(LAST_NONE),
            working_ns: AtomicU64::new(0),
        }
    }

    /// Runs `operation` with backon's retries from `backoff`, every attempt and sleep
    /// measured; for backon's other settings (`when`, `notify`), write the chain with
    /// [`Retry::attempt`] and [`Retry::sleeper`] instead.
    ///
    /// ```
    /// use backon::ConstantBuilder;
    /// use taskscope::patterns::Retries;
    ///
    /// static LOAD: Retries = Retries::new("load_config");
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let value = LOAD
    ///     .retry(ConstantBuilder::default().with_max_times(2), || async {
    ///         Err::<u32, _>(std::io::Error::other("down"))
    ///     })
    ///     .await;
    /// assert!(value.is_err());
    /// let op = taskscope::snapshot().function("load_config").unwrap().clone();
    /// assert_eq!(op.error.count, 1, "gave up");
    /// assert_eq!(op.attempts.max(), Some(3), "the first try and two retries");
    /// # }
    /// ```
    #[cfg(feature = "backon")]
    #[track_caller]
    pub fn retry<B, T, E, Fut, F>(
        &self,
        backoff: B,
        mut operation: F,
    ) -> impl Future<Output = Result<T, E>>
    where
        B: backon::BackoffBuilder,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        use backon::Retryable;
        let retry = self.start();
        async move {
            let sleeper = retry.sleeper();
            (|| retry.attempt(operation()))
                .retry(backoff)
                .sleep(sleeper)
                .await
        }
    }
}

/// No attempt finished yet.
const LAST_NONE: usize = usize::MAX;
/// The last attempt was ok.
const LAST_OK: usize = usize::MAX - 1;
/// The last attempt was cancelled.
const LAST_CANCELLED: usize = usize::MAX - 2;

/// One retried operation in progress (see [`Retries`]). Its methods take `&self`, so
/// the closure handed to a retry crate can borrow it.
#[derive(Debug)]
#[must_use = "the operation ends when the Retry is dropped"]
pub struct Retry {
    sites: Sites,
    op: Phase,
    attempts: AtomicU32,
    running: AtomicU32,
    /// When the last attempt ended, in clock ticks.
    last_end: AtomicU64,
    /// How the last attempt ended: `LAST_*`, or the index of its error kind in the
    /// operation's kind table.
    last: AtomicUsize,
    /// Nanoseconds the attempts ran, summed.
    working_ns: AtomicU64,
}

impl Retry {
    /// Runs one attempt: a call of `name.attempt`, whose `Err` is an error of the error
    /// type's name. Returns the attempt's result unchanged.
    pub async fn attempt<T, E, F>(&self, attempt: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        let mut phase = Phase::start(self.sites.attempt);
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let running = Running::new(self);
        let out = attempt.await;
        std::mem::forget(running);
        self.running.fetch_sub(1, Ordering::Relaxed);
        if phase.is_on() {
            let start = phase.started();
            let (outcome, kind, last) = match &out {
                Ok(_) => (Outcome::Ok, None, LAST_OK),
                Err(_) => {
                    let kind = std::any::type_name::<E>();
                    (
                        Outcome::Error,
                        Some(kind),
                        self.sites.op.kind_index_of(kind),
                    )
                }
            };
            let now = phase.end(outcome, kind);
            self.working_ns
                .fetch_add(clock::nanos_between(start, now), Ordering::Relaxed);
            self.last_end.store(now, Ordering::Relaxed);
            self.last.store(last, Ordering::Relaxed);
        }
        out
    }

    /// Sleeps `delay` between attempts, as `tokio::time::sleep`: a call of `name.backoff`.
    pub async fn backoff(&self, delay: Duration) {
        self.sleeper().sleep_for(delay).await;
    }

    /// The sleeper to hand to backon (`.sleep(retry.sleeper())`): its sleeps are calls of
    /// `name.backoff`.
    pub fn sleeper(&self) -> RetrySleeper {
        RetrySleeper {
            backoff: self.sites.backoff,
        }
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }
}

/// Counts an attempt as running; dropped with the attempt's future, the attempt was
/// cancelled.
struct Running<'a>(&'a Retry);

impl<'a> Running<'a> {
    fn new(retry: &'a Retry) -> Running<'a> {
        retry.running.fetch_add(1, Ordering::Relaxed);
        Running(retry)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
        self.0.last_end.store(clock::now(), Ordering::Relaxed);
        self.0.last.store(LAST_CANCELLED, Ordering::Relaxed);
    }
}

impl Drop for Retry {
    fn drop(&mut self) {
        if !self.op.is_on() {
            return;
        }
        let attempts = *self.attempts.get_mut();
        if attempts == 0 {
            // Begun and never tried: no operation happened.
            self.op.forget();
            return;
        }
        let (end, outcome, kind) = if *self.running.get_mut() > 0 {
            (clock::now(), Outcome::Cancelled, None)
        } else {
            let end = *self.last_end.get_mut();
            match *self.last.get_mut() {
                LAST_OK => (end, Outcome::Ok, None),
                LAST_CANCELLED | LAST_NONE => (end, Outcome::Cancelled, None),
                index => (end, Outcome::Error, Some(index)),
            }
        };
        self.sites.op.record_attempts(u64::from(attempts));
        let busy = (*self.working_ns.get_mut(), attempts);
        self.op.end_indexed(end, outcome, kind, Some(busy));
    }
}

/// backon's sleeper for a measured operation (from [`Retry::sleeper`]): tokio's sleep,
/// each a call of `name.backoff`.
#[derive(Clone, Copy, Debug)]
pub struct RetrySleeper {
    backoff: &'static FunctionState,
}

impl RetrySleeper {
    fn sleep_for(self, delay: Duration) -> BackoffSleep {
        BackoffSleep {
            phase: Phase::start(self.backoff),
            sleep: tokio::time::sleep(delay),
        }
    }
}

#[cfg(feature = "backon")]
impl backon::Sleeper for RetrySleeper {
    type Sleep = BackoffSleep;

    fn sleep(&self, dur: Duration) -> BackoffSleep {
        self.sleep_for(dur)
    }
}

/// A measured backoff sleep: tokio's `Sleep`, a call of `name.backoff` (cancelled when it
/// is dropped before it finished).
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct BackoffSleep {
    phase: Phase,
    sleep: tokio::time::Sleep,
}

impl Future for BackoffSleep {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        // SAFETY: `sleep` is structurally pinned (never moved out of `self`); `phase` is
        // plain data.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let sleep = unsafe { std::pin::Pin::new_unchecked(&mut this.sleep) };
        let done = sleep.poll(cx);
        if done.is_ready() {
            this.phase.end(Outcome::Ok, None);
        }
        done
    }
}
