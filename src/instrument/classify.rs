//! How a returned value is classified as ok or error, and the kind of an error.

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
