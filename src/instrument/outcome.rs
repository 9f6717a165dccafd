//! How a call ended, and how a returned value is classified as ok or error.

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
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bounded name for an error: what `error.kind` shows for a failed call.
///
/// Derive it on an error enum to report the variant name; implement it by hand to group
/// errors differently. The returned string must come from a small fixed set (it becomes a
/// label value), never from `Display`.
///
/// ```
/// #[derive(Debug, taskscope::ErrorKind)]
/// enum FetchError {
///     NotFound,
///     Timeout { after_ms: u64 },
///     Io(std::io::Error),
/// }
/// use taskscope::ErrorKind;
/// assert_eq!(FetchError::Timeout { after_ms: 5 }.error_kind(), "Timeout");
/// ```
pub trait ErrorKind {
    /// The kind of this error.
    fn error_kind(&self) -> &'static str;
}

impl ErrorKind for std::io::Error {
    fn error_kind(&self) -> &'static str {
        use std::io::ErrorKind as K;
        match self.kind() {
            K::NotFound => "NotFound",
            K::PermissionDenied => "PermissionDenied",
            K::ConnectionRefused => "ConnectionRefused",
            K::ConnectionReset => "ConnectionReset",
            K::ConnectionAborted => "ConnectionAborted",
            K::NotConnected => "NotConnected",
            K::AddrInUse => "AddrInUse",
            K::AddrNotAvailable => "AddrNotAvailable",
            K::BrokenPipe => "BrokenPipe",
            K::AlreadyExists => "AlreadyExists",
            K::WouldBlock => "WouldBlock",
            K::InvalidInput => "InvalidInput",
            K::InvalidData => "InvalidData",
            K::TimedOut => "TimedOut",
            K::WriteZero => "WriteZero",
            K::Interrupted => "Interrupted",
            K::Unsupported => "Unsupported",
            K::UnexpectedEof => "UnexpectedEof",
            K::OutOfMemory => "OutOfMemory",
            _ => "Other",
        }
    }
}

impl<T: ErrorKind + ?Sized> ErrorKind for Box<T> {
    fn error_kind(&self) -> &'static str {
        (**self).error_kind()
    }
}

/// The verdict on a returned value.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classified {
    /// A success.
    Ok,
    /// An error of this kind.
    Error(&'static str),
}

/// Autoref-specialisation probe: the macros call `(&&&Probe(&value)).__ts_classify()` and
/// method resolution picks the most specific impl below for the value's concrete type.
#[doc(hidden)]
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// `Result<T, E>` where `E: ErrorKind`: the kind is `E::error_kind`.
#[doc(hidden)]
pub trait ViaErrorKind {
    fn __ts_classify(&self) -> Classified;
}
impl<T, E: ErrorKind> ViaErrorKind for &&Probe<'_, Result<T, E>> {
    #[inline(always)]
    fn __ts_classify(&self) -> Classified {
        match self.0 {
            Ok(_) => Classified::Ok,
            Err(e) => Classified::Error(e.error_kind()),
        }
    }
}

/// Any `Result<T, E>`: the kind is the type name of `E` (shortened when read).
#[doc(hidden)]
pub trait ViaResult {
    fn __ts_classify(&self) -> Classified;
}
impl<T, E> ViaResult for &Probe<'_, Result<T, E>> {
    #[inline(always)]
    fn __ts_classify(&self) -> Classified {
        match self.0 {
            Ok(_) => Classified::Ok,
            Err(_) => Classified::Error(std::any::type_name::<E>()),
        }
    }
}
impl<T> ViaResult for &Probe<'_, Option<T>> {
    #[inline(always)]
    fn __ts_classify(&self) -> Classified {
        match self.0 {
            Some(_) => Classified::Ok,
            None => Classified::Error("None"),
        }
    }
}

/// Any other value: ok.
#[doc(hidden)]
pub trait ViaAny {
    fn __ts_classify(&self) -> Classified;
}
impl<T: ?Sized> ViaAny for Probe<'_, T> {
    #[inline(always)]
    fn __ts_classify(&self) -> Classified {
        Classified::Ok
    }
}

/// The kind given to a value that `ok_if`/`error_if` calls an error when it carries none of
/// its own: the short name of its type.
#[doc(hidden)]
pub fn type_kind<T: ?Sized>(_: &T) -> &'static str {
    std::any::type_name::<T>()
}

/// Shortens a type name to its last path segment without generics:
/// `std::io::error::Error` becomes `Error`, `alloc::boxed::Box<dyn Error>` becomes `Box`.
pub(crate) fn short_kind(kind: &'static str) -> &'static str {
    let base = kind.split('<').next().unwrap_or(kind);
    base.rsplit("::").next().unwrap_or(base).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_kinds() {
        assert_eq!(short_kind("std::io::error::Error"), "Error");
        assert_eq!(
            short_kind("alloc::boxed::Box<dyn core::error::Error + Send>"),
            "Box"
        );
        assert_eq!(short_kind("NotFound"), "NotFound");
    }
}
