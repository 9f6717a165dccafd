//! Recordings: what the dashboard receives, kept in the OpenTelemetry file-exporter format,
//! one `ExportMetricsServiceRequest` a line in the OTLP JSON mapping (what the Collector's
//! file exporter writes and its `otlpjsonfile` receiver reads), optionally each line a zstd
//! frame of its own (a file `zstd -d` reads whole, and that a cut loses one line of).
//!
//! [`Recorder`] writes: requests go over a bounded channel to a thread of its own, which
//! writes their JSON (and compresses it, with zstd), so the receiver never waits on the
//! disk nor on the encoding (a request that finds the channel full is dropped and counted); the file rotates at a size bound (`FILE`, then `FILE.1` up to `FILE.N`, the
//! oldest removed). [`Recording::open`] reads one file back, up to any damage.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

/// The size at which a recording's file rotates, by default: 256 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 << 20;
/// Rotated files kept beside the current one, by default.
pub const DEFAULT_KEPT_FILES: usize = 3;
/// Requests waiting for the writer thread, at most (each can be megabytes).
const QUEUE: usize = 16;
/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// What went wrong with a recording.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file could not be created, written or read.
    #[error("recording {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no export request that can be read.
    #[error("recording {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why, with the line.
        reason: String,
    },
}

/// How a [`Recorder`] writes.
#[derive(Clone, Debug)]
pub struct RecorderBuilder {
    path: PathBuf,
    max_file_bytes: u64,
    kept_files: usize,
    zstd: bool,
}

impl RecorderBuilder {
    /// Rotates the file when the next line would take it past `bytes` (default
    /// [`DEFAULT_MAX_FILE_BYTES`]); at least one line always goes into a file.
    pub fn with_max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes.max(1);
        self
    }

    /// Keeps `files` rotated files beside the current one (default [`DEFAULT_KEPT_FILES`]);
    /// 0 keeps none, so the recording holds the last file's worth.
    pub fn with_kept_files(mut self, files: usize) -> Self {
        self.kept_files = files;
        self
    }

    /// Compresses each line as a zstd frame of its own (default off).
    pub fn with_zstd(mut self, zstd: bool) -> Self {
        self.zstd = zstd;
        self
    }

    /// Creates the file (truncating one that exists) and starts the writer thread.
    pub fn start(self) -> Result<Recorder, RecordingError> {
        let file = create(&self.path)?;
        let stats = Arc::new(Counters::default());
        let (tx, rx) = sync_channel::<ExportMetricsServiceRequest>(QUEUE);
        let writer = Writer {
            file: BufWriter::new(file),
            written: 0,
            settings: self.clone(),
            stats: stats.clone(),
        };
        let thread = crate::background::spawn("taskscope-record", move || writer.run(rx)).map_err(
            |source| RecordingError::Io {
                path: self.path.clone(),
                source,
            },
        )?;
        Ok(Recorder {
            tx: Some(tx),
            thread: Some(thread),
            stats,
            path: self.path,
        })
    }
}

fn create(path: &Path) -> Result<File, RecordingError> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|source| RecordingError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Writes export requests to a recording (see the module's documentation). Dropping it
/// writes what is queued and closes the file.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let path = std::env::temp_dir().join(format!("taskscope-doc-{}.jsonl", std::process::id()));
/// let recorder = taskscope::receive::Recorder::builder(&path).start()?;
/// drop(recorder); // nothing recorded: an empty file
/// assert!(taskscope::receive::Recording::open(&path).is_err());
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Recorder {
    tx: Option<SyncSender<ExportMetricsServiceRequest>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Counters>,
    path: PathBuf,
}

/// What a [`Recorder`] did so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Requests written.
    pub written: u64,
    /// Bytes written (compressed, with zstd), over every file.
    pub bytes: u64,
    /// Requests dropped: the writer was behind (its queue full) or the disk failed.
    pub dropped: u64,
    /// Files rotated.
    pub rotations: u64,
    /// The last write error, if any.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
    rotations: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Recorder {
    /// A recorder writing to `path`.
    pub fn builder(path: impl Into<PathBuf>) -> RecorderBuilder {
        RecorderBuilder {
            path: path.into(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            kept_files: DEFAULT_KEPT_FILES,
            zstd: false,
        }
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it did so far.
    pub fn stats(&self) -> RecorderStats {
        let s = &self.stats;
        RecorderStats {
            written: s.written.load(Ordering::Relaxed),
            bytes: s.bytes.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            rotations: s.rotations.load(Ordering::Relaxed),
            last_error: s
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    /// Queues one request for the writer thread, which writes it as a line; never waits.
    pub(crate) fn record(&self, request: ExportMetricsServiceRequest) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer thread's state.
struct Writer {
    file: BufWriter<File>,
    written: u64,
    settings: RecorderBuilder,
    stats: Arc<Counters>,
}

impl Writer {
    fn run(mut self, rx: Receiver<ExportMetricsServiceRequest>) {
        use std::sync::mpsc::TryRecvError;
        let mut next = rx.recv().ok();
        while let Some(request) = next.take() {
            let written = serde_json::to_vec(&request)
                .map_err(std::io::Error::other)
                .and_then(|mut line| {
                    line.push(b'\n');
                    self.write(&line)
                });
            if let Err(e) = written {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                *self
                    .stats
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) =
                    Some(format!("{}: {e}", self.settings.path.display()));
            }
            // What is queued goes out together; an idle recorder leaves nothing unwritten.
            next = match rx.try_recv() {
                Ok(request) => Some(request),
                Err(TryRecvError::Empty) => {
                    let _ = self.file.flush();
                    rx.recv().ok()
                }
                Err(TryRecvError::Disconnected) => None,
            };
        }
        let _ = self.file.flush();
    }

    fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        let compressed;
        let line = if self.settings.zstd {
            compressed = ruzstd::encoding::compress_to_vec(
                line,
                ruzstd::encoding::CompressionLevel::Fastest,
            );
            &compressed[..]
        } else {
            line
        };
        let len = line.len() as u64;
        if self.written > 0 && self.written + len > self.settings.max_file_bytes {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.written += len;
        self.stats.written.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }

    /// `FILE.(k)` to `FILE.(k+1)`, the current file to `FILE.1`, a new current file.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        let path = &self.settings.path;
        let numbered = |k: usize| {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".{k}"));
            PathBuf::from(name)
        };
        let kept = self.settings.kept_files;
        if kept == 0 {
            std::fs::remove_file(path)?;
        } else {
            let _ = std::fs::remove_file(numbered(kept));
            for k in (1..kept).rev() {
                let _ = std::fs::rename(numbered(k), numbered(k + 1));
            }
            std::fs::rename(path, numbered(1))?;
        }
        let file = create(path).map_err(|e| match e {
            RecordingError::Io { source, .. } => source,
            RecordingError::Unreadable { reason, .. } => std::io::Error::other(reason),
        })?;
        self.file = BufWriter::new(file);
        self.written = 0;
        self.stats.rotations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A recording read back: its export requests in order, each with its time.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    requests: Vec<(Duration, ExportMetricsServiceRequest)>,
    damage: Option<String>,
}

impl Recording {
    /// Reads a recording (plain lines, or zstd frames), up to the first line that cannot be
    /// read: what comes before it is kept, and [`damage`](Recording::damage) says where it
    /// stopped. A file with no readable request is an error.
    pub fn open(path: impl AsRef<Path>) -> Result<Recording, RecordingError> {
        let path = path.as_ref().to_owned();
        let io = |source| RecordingError::Io {
            path: path.clone(),
            source,
        };
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io)?;
        let (text, mut damage) = if bytes.starts_with(&ZSTD_MAGIC) {
            inflate(&bytes)
        } else {
            (bytes, None)
        };
        let mut requests = Vec::new();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match super::json::decode_request(line) {
                Ok(req) => {
                    let at = request_time(&req);
                    requests.push((at, req));
                }
                Err(reason) => {
                    damage = Some(format!("line {}: {reason}", i + 1));
                    break;
                }
            }
        }
        if requests.is_empty() {
            return Err(RecordingError::Unreadable {
                path,
                reason: damage.unwrap_or_else(|| "no export request in the file".into()),
            });
        }
        // Times from the first request on; a request stamped before the one ahead of it (a
        // sender's clock stepped back) keeps the time of the one ahead.
        let start = requests.iter().map(|(t, _)| *t).min().unwrap_or_default();
        let mut last = Duration::ZERO;
        for (t, _) in &mut requests {
            *t = t.saturating_sub(start).max(last);
            last = *t;
        }
        Ok(Recording {
            path,
            requests,
            damage,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Export requests read.
    pub fn requests(&self) -> usize {
        self.requests.len()
    }

    /// From the first request to the last.
    pub fn duration(&self) -> Duration {
        self.requests.last().map_or(Duration::ZERO, |(t, _)| *t)
    }

    /// Where reading stopped before the end of the file, and why; `None` for a whole file.
    pub fn damage(&self) -> Option<&str> {
        self.damage.as_deref()
    }

    pub(crate) fn entries(&self) -> &[(Duration, ExportMetricsServiceRequest)] {
        &self.requests
    }
}

/// The lines of a file of zstd frames, up to the first frame that does not decode.
fn inflate(bytes: &[u8]) -> (Vec<u8>, Option<String>) {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut frames = 0;
    while !rest.is_empty() {
        let mut decoder = match ruzstd::decoding::StreamingDecoder::new(&mut rest) {
            Ok(d) => d,
            Err(e) => return (out, Some(format!("zstd frame {}: {e}", frames + 1))),
        };
        let before = out.len();
        if let Err(e) = decoder.read_to_end(&mut out) {
            out.truncate(before);
            return (out, Some(format!("zstd frame {}: {e}", frames + 1)));
        }
        frames += 1;
    }
    (out, None)
}

/// A request's time: the latest `time_unix_nano` of its points (when it was exported).
fn request_time(req: &ExportMetricsServiceRequest) -> Duration {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let mut latest = 0u64;
    for m in req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
    {
        let t = match &m.data {
            Some(Data::Sum(s)) => s.data_points.iter().map(|p| p.time_unix_nano).max(),
            Some(Data::Gauge(g)) => g.data_points.iter().map(|p| p.time_unix_nano).max(),
            Some(Data::Histogram(h)) => h.data_points.iter().map(|p| p.time_unix_nano).max(),
            Some(Data::ExponentialHistogram(h)) => {
                h.data_points.iter().map(|p| p.time_unix_nano).max()
            }
            Some(Data::Summary(s)) => s.data_points.iter().map(|p| p.time_unix_nano).max(),
            None => None,
        };
        latest = latest.max(t.unwrap_or(0));
    }
    Duration::from_nanos(latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::{
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data,
    };

    fn request(at_ns: u64, value: i64) -> ExportMetricsServiceRequest {
        let point = NumberDataPoint {
            time_unix_nano: at_ns,
            value: Some(
                opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(value),
            ),
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "jobs.done".into(),
                        data: Some(Data::Sum(Sum {
                            data_points: vec![point],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn lines_round_trip_plain_and_zstd_with_their_times() {
        for zstd in [false, true] {
            let path = std::env::temp_dir().join(format!(
                "taskscope-recording-{}-{zstd}.jsonl",
                std::process::id()
            ));
            let recorder = Recorder::builder(&path).with_zstd(zstd).start().unwrap();
            for i in 0..3u64 {
                recorder.record(request(1_000_000_000 * (10 + i), i as i64));
            }
            drop(recorder);
            let r = Recording::open(&path).unwrap();
            assert_eq!((r.requests(), r.damage()), (3, None), "zstd {zstd}");
            assert_eq!(
                r.duration(),
                Duration::from_secs(2),
                "from the first export's time"
            );
            let times: Vec<Duration> = r.entries().iter().map(|(t, _)| *t).collect();
            assert_eq!(times, [0, 1, 2].map(Duration::from_secs));
            std::fs::remove_file(&path).unwrap();
        }
    }
}
