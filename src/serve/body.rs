//! Reading request bodies: whole within a deadline, within a size limit, within a byte
//! budget shared by every body being read; and inflating gzip within the same limit.

use std::io::Read;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The unit of the byte budget.
const BUDGET_UNIT: usize = 1024;

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// More than the limit.
    TooLarge,
    /// Not whole by the deadline.
    Slow,
    /// The bodies being read hold the whole budget: the receiver is busy.
    Busy,
    /// The connection failed while reading.
    Broken(String),
}

/// The bytes buffered for bodies being read at once, shared by one listener's requests.
#[derive(Debug)]
pub(crate) struct Budget(Arc<Semaphore>);

impl Budget {
    /// A budget of `bytes` (rounded down to whole KiB, at least one).
    pub(crate) fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new((bytes / BUDGET_UNIT).max(1))))
    }
}

/// A body read whole, and its share of the budget, given back when it is dropped.
#[derive(Debug)]
pub(crate) struct ReadBody {
    pub(crate) bytes: Bytes,
    _held: Option<OwnedSemaphorePermit>,
}

/// Why a body was not read: the body's fault, or what the caller's check found in it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError<E> {
    Body(BodyError),
    Check(E),
}

/// Reads `body` whole: at most `limit` bytes, by `deadline`, taking its size from `budget`
/// as it arrives (refused at once when the budget is spent: the sender is told to come
/// back). `check` sees what has arrived after each piece and may refuse it early.
pub(crate) async fn read_body<E>(
    mut body: Incoming,
    limit: usize,
    deadline: Instant,
    budget: &Budget,
    mut check: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<ReadBody, ReadError<E>> {
    let mut buf = BytesMut::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut units = 0usize;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(ReadError::Body(BodyError::Slow)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(ReadError::Body(BodyError::Broken(e.to_string()))),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > limit {
            return Err(ReadError::Body(BodyError::TooLarge));
        }
        buf.extend_from_slice(&data);
        let needed = buf.len().div_ceil(BUDGET_UNIT);
        if needed > units {
            let Ok(more) = Arc::clone(&budget.0).try_acquire_many_owned((needed - units) as u32)
            else {
                // Read the rest and throw it away, holding none of it, so the sender sees
                // the answer rather than a broken pipe.
                drop(buf);
                let _ = tokio::time::timeout_at(deadline, super::drain(body)).await;
                return Err(ReadError::Body(BodyError::Busy));
            };
            match &mut held {
                Some(h) => h.merge(more),
                None => held = Some(more),
            }
            units = needed;
        }
        check(&buf).map_err(ReadError::Check)?;
    }
    Ok(ReadBody {
        bytes: buf.freeze(),
        _held: held,
    })
}

/// Why gzip data could not be inflated.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It inflates to more than the limit (a gzip bomb, or a request too large); inflating
    /// stopped there.
    TooLarge,
    /// Not gzip, or cut short.
    Corrupt(String),
}

/// Inflates gzip `data` (one or more members), producing at most `limit` bytes.
pub(crate) fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    flate2::read::MultiGzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| InflateError::Corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(InflateError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_inflates_within_the_limit_and_a_bomb_stops_at_it() {
        assert_eq!(gunzip(&gzip(b"hello"), 5).unwrap(), b"hello");
        assert_eq!(gunzip(&gzip(b"hello"), 4), Err(InflateError::TooLarge));
        // 64 MiB of zeros is 64 KiB of gzip: refused after the limit's worth of output.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 128 << 10, "{}", bomb.len());
        assert_eq!(gunzip(&bomb, 4 << 20), Err(InflateError::TooLarge));
        // Two members inflate to their concatenation.
        let mut two = gzip(b"ab");
        two.extend(gzip(b"cd"));
        assert_eq!(gunzip(&two, 100).unwrap(), b"abcd");
    }

    #[test]
    fn truncated_or_foreign_data_is_corrupt() {
        let whole = gzip(&[7u8; 10_000]);
        let cut = &whole[..whole.len() / 2];
        assert!(matches!(
            gunzip(cut, 1 << 20),
            Err(InflateError::Corrupt(_))
        ));
        assert!(matches!(
            gunzip(b"not gzip at all", 1 << 20),
            Err(InflateError::Corrupt(_))
        ));
    }
}
