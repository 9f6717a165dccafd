//! A tokio `Semaphore`, `Mutex` and `RwLock`, measured: the wait to acquire (`name.wait`:
//! its calls in flight are the waiters) and the time a permit or the lock is held
//! (`name.hold`: its calls in flight are the permits in use); a `RwLock`'s readers and
//! writers apart (`name.read_wait`, `name.read_hold`, `name.write_wait`,
//! `name.write_hold`). The lock itself is tokio's, untouched.

use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::Arc;

use tokio::sync::{AcquireError, TryAcquireError};

use super::{CLOSED_KIND, Phase, site};
use crate::record::registry::FunctionState;
use crate::words::function::Pattern;
use crate::words::outcome::Outcome;

/// The two phases of a lock.
#[derive(Clone, Copy, Debug)]
struct Sites {
    wait: &'static FunctionState,
    hold: &'static FunctionState,
}

impl Sites {
    fn new(name: &'static str, location: &'static Location<'static>) -> Sites {
        Sites::named(name, ["wait", "hold"], location)
    }

    fn named(
        name: &'static str,
        [wait, hold]: [&'static str; 2],
        location: &'static Location<'static>,
    ) -> Sites {
        Sites {
            wait: site(name, wait, Pattern::Semaphore, location),
            hold: site(name, hold, Pattern::Semaphore, location),
        }
    }

    /// Ends a wait that got the lock and starts the hold, at one clock read.
    #[inline]
    fn acquired(&self, mut wait: Phase) -> Phase {
        if !wait.is_on() {
            return Phase::OFF;
        }
        let now = wait.end(Outcome::Ok, None);
        Phase::start_at(self.hold, now)
    }

    /// A hold that started without a wait (`try_acquire`).
    #[inline]
    fn held_now(&self) -> Phase {
        Phase::start(self.hold)
    }
}

/// A tokio [`Semaphore`](tokio::sync::Semaphore) whose acquires and permits are measured:
/// `name.wait` records each wait for a permit (ok; an error of kind `Closed`; cancelled when
/// the acquiring future is dropped), and its calls in flight are the tasks waiting;
/// `name.hold` records how long each permit was held, and its calls in flight are the
/// permits in use. Cloning shares the semaphore.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let db = taskscope::patterns::Semaphore::new("db_pool", 2);
/// {
///     let _permit = db.acquire().await.unwrap();
///     assert_eq!(taskscope::snapshot().function("db_pool.hold").unwrap().in_flight, 1);
/// }
/// let snap = taskscope::snapshot();
/// assert_eq!(snap.function("db_pool.wait").unwrap().ok.count, 1);
/// assert_eq!(snap.function("db_pool.hold").unwrap().ok.count, 1);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Semaphore {
    inner: Arc<tokio::sync::Semaphore>,
    sites: Sites,
}

impl Semaphore {
    /// A new semaphore with `permits` permits, measured under `name`.
    #[track_caller]
    pub fn new(name: &'static str, permits: usize) -> Semaphore {
        Semaphore::wrap(name, Arc::new(tokio::sync::Semaphore::new(permits)))
    }

    /// Measures an existing semaphore under `name`: acquires made through this wrapper are
    /// measured, others (on the `Arc` directly) are not.
    #[track_caller]
    pub fn wrap(name: &'static str, semaphore: Arc<tokio::sync::Semaphore>) -> Semaphore {
        Semaphore {
            inner: semaphore,
            sites: Sites::new(name, Location::caller()),
        }
    }

    /// Waits for a permit, as [`tokio::sync::Semaphore::acquire`].
    pub async fn acquire(&self) -> Result<Permit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Waits for `n` permits, as [`tokio::sync::Semaphore::acquire_many`].
    pub async fn acquire_many(&self, n: u32) -> Result<Permit<'_>, AcquireError> {
        let mut wait = Phase::start(self.sites.wait);
        match self.inner.acquire_many(n).await {
            Ok(permit) => Ok(Permit {
                hold: self.sites.acquired(wait),
                permit,
            }),
            Err(e) => {
                wait.end(Outcome::Error, Some(CLOSED_KIND));
                Err(e)
            }
        }
    }

    /// Waits for a permit that owns a reference to the semaphore, as
    /// [`tokio::sync::Semaphore::acquire_owned`]: to move into a spawned task.
    pub async fn acquire_owned(&self) -> Result<OwnedPermit, AcquireError> {
        let mut wait = Phase::start(self.sites.wait);
        match self.inner.clone().acquire_owned().await {
            Ok(permit) => Ok(OwnedPermit {
                hold: self.sites.acquired(wait),
                permit,
            }),
            Err(e) => {
                wait.end(Outcome::Error, Some(CLOSED_KIND));
                Err(e)
            }
        }
    }

    /// Takes a permit if one is free, as [`tokio::sync::Semaphore::try_acquire`]: no wait
    /// is recorded, the hold is.
    pub fn try_acquire(&self) -> Result<Permit<'_>, TryAcquireError> {
        let permit = self.inner.try_acquire()?;
        Ok(Permit {
            hold: self.sites.held_now(),
            permit,
        })
    }

    /// Permits free now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Closes the semaphore: waiting and later acquires fail.
    pub fn close(&self) {
        self.inner.close();
    }

    /// The semaphore itself.
    pub fn inner(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.inner
    }
}

/// A permit of a measured [`Semaphore`]; its hold ends when it is dropped.
#[derive(Debug)]
#[must_use = "the permit is released as soon as it is dropped"]
pub struct Permit<'a> {
    // Dropped first: the hold ends before the permit goes back.
    hold: Phase,
    permit: tokio::sync::SemaphorePermit<'a>,
}

impl Permit<'_> {
    /// How many permits it holds.
    pub fn num_permits(&self) -> usize {
        self.permit.num_permits()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.hold.end(Outcome::Ok, None);
    }
}

/// An owned permit of a measured [`Semaphore`] (`'static`, to move into a task).
#[derive(Debug)]
#[must_use = "the permit is released as soon as it is dropped"]
pub struct OwnedPermit {
    hold: Phase,
    permit: tokio::sync::OwnedSemaphorePermit,
}

impl OwnedPermit {
    /// How many permits it holds.
    pub fn num_permits(&self) -> usize {
        self.permit.num_permits()
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.hold.end(Outcome::Ok, None);
    }
}

/// A tokio [`Mutex`](tokio::sync::Mutex) whose locks are measured like a [`Semaphore`]'s
/// permits: `name.wait` for each wait to lock (cancelled when the locking future is
/// dropped), `name.hold` for each time the lock is held.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cache = taskscope::patterns::Mutex::new("cache", Vec::<u32>::new());
/// cache.lock().await.push(7);
/// assert_eq!(*cache.lock().await, [7]);
/// assert_eq!(taskscope::snapshot().function("cache.hold").unwrap().ok.count, 2);
/// # }
/// ```
#[derive(Debug)]
pub struct Mutex<T: ?Sized> {
    sites: Sites,
    inner: tokio::sync::Mutex<T>,
}

impl<T> Mutex<T> {
    /// A new mutex holding `value`, measured under `name`.
    #[track_caller]
    pub fn new(name: &'static str, value: T) -> Mutex<T> {
        Mutex {
            sites: Sites::new(name, Location::caller()),
            inner: tokio::sync::Mutex::new(value),
        }
    }

    /// The value, the mutex consumed.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock, as [`tokio::sync::Mutex::lock`].
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        let wait = Phase::start(self.sites.wait);
        let guard = self.inner.lock().await;
        MutexGuard {
            hold: self.sites.acquired(wait),
            guard,
        }
    }

    /// Takes the lock if it is free, as [`tokio::sync::Mutex::try_lock`].
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, tokio::sync::TryLockError> {
        let guard = self.inner.try_lock()?;
        Ok(MutexGuard {
            hold: self.sites.held_now(),
            guard,
        })
    }
}

/// The lock of a measured [`Mutex`]; its hold ends when it is dropped.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    hold: Phase,
    guard: tokio::sync::MutexGuard<'a, T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.hold.end(Outcome::Ok, None);
    }
}

/// A tokio [`RwLock`](tokio::sync::RwLock) whose readers and writers are measured apart:
/// `name.read_wait` and `name.read_hold`, `name.write_wait` and `name.write_hold`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let config = taskscope::patterns::RwLock::new("config", 1u32);
/// assert_eq!(*config.read().await, 1);
/// *config.write().await = 2;
/// let snap = taskscope::snapshot();
/// assert_eq!(snap.function("config.read_hold").unwrap().ok.count, 1);
/// assert_eq!(snap.function("config.write_wait").unwrap().ok.count, 1);
/// # }
/// ```
#[derive(Debug)]
pub struct RwLock<T: ?Sized> {
    read: Sites,
    write: Sites,
    inner: tokio::sync::RwLock<T>,
}

impl<T> RwLock<T> {
    /// A new lock holding `value`, measured under `name`.
    #[track_caller]
    pub fn new(name: &'static str, value: T) -> RwLock<T> {
        let location = Location::caller();
        RwLock {
            read: Sites::named(name, ["read_wait", "read_hold"], location),
            write: Sites::named(name, ["write_wait", "write_hold"], location),
            inner: tokio::sync::RwLock::new(value),
        }
    }

    /// The value, the lock consumed.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits to read, as [`tokio::sync::RwLock::read`].
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        let wait = Phase::start(self.read.wait);
        let guard = self.inner.read().await;
        RwLockReadGuard {
            hold: self.read.acquired(wait),
            guard,
        }
    }

    /// Waits to write, as [`tokio::sync::RwLock::write`].
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        let wait = Phase::start(self.write.wait);
        let guard = self.inner.write().await;
        RwLockWriteGuard {
            hold: self.write.acquired(wait),
            guard,
        }
    }
}

/// A read lock of a measured [`RwLock`]; its hold ends when it is dropped.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    hold: Phase,
    guard: tokio::sync::RwLockReadGuard<'a, T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.hold.end(Outcome::Ok, None);
    }
}

/// A write lock of a measured [`RwLock`]; its hold ends when it is dropped.
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    hold: Phase,
    guard: tokio::sync::RwLockWriteGuard<'a, T>,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.hold.end(Outcome::Ok, None);
    }
}
