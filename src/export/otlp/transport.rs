//! Sending one request to the collector, over gRPC or HTTP/protobuf, plain or gzip, plain
//! text or TLS: one hyper client per connection setting. gRPC is framed by hand (a unary
//! call is one length-prefixed message and a status), so the request's bytes, already
//! encoded, are sent as they are and compressed at the level chosen here.

use std::io::Write as _;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;

use super::config::{Settings, TlsFiles};
use super::{Compression, Protocol};

/// The gzip level of compressed exports: the fastest. Level 1 shrinks an export of 1000
/// functions 7 times in about 6 ms; level 6 (tonic's and the Go SDK's) 10 times in 22 ms
/// (BENCHMARKS.md).
const GZIP_LEVEL: u32 = 1;

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct SendError {
    pub(crate) message: String,
    pub(crate) retryable: bool,
    /// How long the collector asked to wait (`Retry-After`, gRPC `RetryInfo`).
    pub(crate) retry_after: Option<Duration>,
}

impl SendError {
    fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }
}

/// What a request carries: the signal decides the gRPC method and the HTTP path.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Signal {
    Metrics,
    Traces,
}

impl Signal {
    fn grpc_path(self) -> &'static str {
        match self {
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        }
    }
}

#[cfg(feature = "tls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;

/// A connection (pool) to the collector, and where a signal's requests go; lazy: nothing
/// is dialled before the first send.
struct Route {
    client: Client<Connector, Full<Bytes>>,
    uri: Uri,
}

pub(crate) struct Transport {
    protocol: Protocol,
    metrics: Route,
    traces: Route,
    headers: HeaderMap,
    timeout: Duration,
    compression: Compression,
}

impl Transport {
    /// Must run inside the worker's runtime.
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        let grpc = settings.protocol == Protocol::Grpc;
        let route = |signal: Signal, endpoint: &Uri, tls: &TlsFiles| -> Result<Route, String> {
            let uri = if grpc {
                let base = endpoint.to_string();
                format!("{}{}", base.trim_end_matches('/'), signal.grpc_path())
                    .parse()
                    .map_err(|e| format!("{endpoint}: {e}"))?
            } else {
                endpoint.clone()
            };
            let mut builder = Client::builder(TokioExecutor::new());
            if grpc {
                // gRPC is HTTP/2 only: prior knowledge over plain text, ALPN over TLS.
                builder.http2_only(true);
            }
            Ok(Route {
                client: builder.build(connector(settings, tls, grpc)?),
                uri,
            })
        };
        let metrics = route(
            Signal::Metrics,
            &settings.metrics_endpoint,
            &settings.metrics_tls,
        )?;
        let traces = if settings.traces_endpoint == settings.metrics_endpoint
            && settings.traces_tls == settings.metrics_tls
        {
            Route {
                client: metrics.client.clone(),
                uri: if grpc {
                    let base = settings.metrics_endpoint.to_string();
                    format!(
                        "{}{}",
                        base.trim_end_matches('/'),
                        Signal::Traces.grpc_path()
                    )
                    .parse()
                    .map_err(|e| format!("{base}: {e}"))?
                } else {
                    settings.traces_endpoint.clone()
                },
            }
        } else {
            route(
                Signal::Traces,
                &settings.traces_endpoint,
                &settings.traces_tls,
            )?
        };
        let mut headers = HeaderMap::new();
        for (k, v) in &settings.headers {
            let name = HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|e| format!("header {k}: {e}"))?;
            let value =
                HeaderValue::try_from(v.as_str()).map_err(|e| format!("header {k}: {e}"))?;
            headers.append(name, value);
        }
        Ok(Self {
            protocol: settings.protocol,
            metrics,
            traces,
            headers,
            timeout: settings.timeout,
            compression: settings.compression,
        })
    }

    /// Sends one encoded request (an `ExportMetricsServiceRequest` or an
    /// `ExportTraceServiceRequest`); `Ok` with the points the collector refused (a partial
    /// success) once it accepted the request. The bytes are shared, not copied, from
    /// attempt to attempt; compressing is done once, by the caller ([`Self::prepare`]).
    pub(crate) async fn send(&self, signal: Signal, body: &Bytes) -> Result<Refused, SendError> {
        let route = match signal {
            Signal::Metrics => &self.metrics,
            Signal::Traces => &self.traces,
        };
        let gzip = self.compression == Compression::Gzip;
        let mut req = hyper::Request::post(route.uri.clone());
        *req.headers_mut().expect("a fresh request has headers") = self.headers.clone();
        let req = match self.protocol {
            Protocol::Grpc => req
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .header(
                    "grpc-timeout",
                    format!("{}m", self.timeout.as_millis().max(1)),
                )
                .header("grpc-encoding", if gzip { "gzip" } else { "identity" }),
            Protocol::HttpProtobuf => {
                let req = req.header("content-type", "application/x-protobuf");
                if gzip {
                    req.header("content-encoding", "gzip")
                } else {
                    req
                }
            }
        };
        let req = req
            .body(Full::new(body.clone()))
            .map_err(|e| SendError::retry(format!("building the request: {e}")))?;
        let response = tokio::time::timeout(self.timeout, route.client.request(req))
            .await
            .map_err(|_| {
                SendError::retry(format!(
                    "no answer from {} within {:?}",
                    route.uri, self.timeout
                ))
            })?
            .map_err(|e| SendError::retry(format!("{}: {}", route.uri, chain(&e))))?;
        match self.protocol {
            Protocol::Grpc => grpc_answer(response, self.timeout).await,
            Protocol::HttpProtobuf => http_answer(response, &route.uri, self.timeout).await,
        }
    }

    /// The bytes to send for an encoded request: gzip-compressed if asked, and for gRPC
    /// framed as one length-prefixed message (flagged compressed or not).
    pub(crate) fn prepare(&self, request: &[u8]) -> Bytes {
        let payload;
        let bytes: &[u8] = match self.compression {
            Compression::Gzip => {
                payload = gzip(request);
                &payload
            }
            Compression::None => request,
        };
        match self.protocol {
            Protocol::HttpProtobuf => Bytes::copy_from_slice(bytes),
            Protocol::Grpc => {
                let mut framed = BytesMut::with_capacity(5 + bytes.len());
                framed.put_u8(u8::from(self.compression == Compression::Gzip));
                framed.put_u32(bytes.len() as u32);
                framed.put_slice(bytes);
                framed.freeze()
            }
        }
    }
}

/// gzip at [`GZIP_LEVEL`].
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::new(GZIP_LEVEL),
    );
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// The connector of one route: plain TCP, and TLS for `https://` (with the platform's
/// roots, or the given CA; the client certificate when given).
fn connector(settings: &Settings, tls: &TlsFiles, grpc: bool) -> Result<Connector, String> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(settings.timeout));
    http.set_nodelay(true);
    #[cfg(feature = "tls")]
    {
        http.enforce_http(false);
        let config = crate::tls::client_config(
            tls.ca.as_deref(),
            tls.identity
                .as_ref()
                .map(|(c, k)| (c.as_path(), k.as_path())),
        )
        .map_err(|e| e.to_string())?;
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http();
        Ok(if grpc {
            builder.enable_http2().wrap_connector(http)
        } else {
            builder.enable_http1().wrap_connector(http)
        })
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = (tls, grpc);
        Ok(http)
    }
}

/// An error and its causes, so that the reason (a refused connection, a certificate that
/// does not verify) is in the message.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Points the collector said it refused (a partial success), with its message.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) points: u64,
    pub(crate) message: String,
}

/// The partial success an `Export*ServiceResponse` carries, if any (the metrics and traces
/// responses have the same shape: field 1, a count and a message).
fn refused(response: &[u8]) -> Refused {
    ExportMetricsServiceResponse::decode(response)
        .ok()
        .and_then(|r| r.partial_success)
        .map(|p| Refused {
            points: u64::try_from(p.rejected_data_points).unwrap_or(0),
            message: p.error_message,
        })
        .unwrap_or_default()
}

/// `google.rpc.Status`, in error answers.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types_any::Any>,
}

/// `google.protobuf.Any` and `google.rpc.RetryInfo`, enough to read a retry delay.
mod prost_types_any {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Any {
        #[prost(string, tag = "1")]
        pub(super) type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub(super) value: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        pub(super) retry_delay: Option<Duration>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Duration {
        #[prost(int64, tag = "1")]
        pub(super) seconds: i64,
        #[prost(int32, tag = "2")]
        pub(super) nanos: i32,
    }
}

/// The longest wait a collector may ask for before the next attempt.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

async fn http_answer(
    response: hyper::Response<hyper::body::Incoming>,
    uri: &Uri,
    timeout: Duration,
) -> Result<Refused, SendError> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
    // Read the body so the connection can be reused, and for what it says.
    let body = tokio::time::timeout(timeout, response.into_body().collect())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    if status.is_success() {
        return Ok(refused(&body));
    }
    let reason = RpcStatus::decode(&body[..])
        .ok()
        .map(|s| s.message)
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    Err(SendError {
        message: format!("HTTP status {status} from {uri}{reason}"),
        retryable: matches!(status.as_u16(), 429 | 502 | 503 | 504),
        retry_after,
    })
}

async fn grpc_answer(
    response: hyper::Response<hyper::body::Incoming>,
    timeout: Duration,
) -> Result<Refused, SendError> {
    let http_status = response.status();
    let (parts, body) = response.into_parts();
    let collected = tokio::time::timeout(timeout, body.collect())
        .await
        .map_err(|_| SendError::retry("the gRPC answer did not end in time"))?
        .map_err(|e| SendError::retry(format!("reading the gRPC answer: {}", chain(&e))))?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let data = collected.to_bytes();
    // The status is in the trailers, or in the headers of a trailers-only answer.
    let field = |name: &str| {
        trailers
            .get(name)
            .or_else(|| parts.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let Some(code) = field("grpc-status").and_then(|c| c.trim().parse::<i32>().ok()) else {
        return Err(SendError::retry(format!(
            "HTTP status {http_status} without a gRPC status"
        )));
    };
    if code == 0 {
        // One length-prefixed message: the response.
        let message = data.get(5..).unwrap_or_default();
        return Ok(refused(message));
    }
    let message = field("grpc-message")
        .map(|m| percent_decode(&m))
        .unwrap_or_default();
    let retry_after = field("grpc-status-details-bin")
        .and_then(|v| decode_base64(&v))
        .and_then(|bytes| RpcStatus::decode(&bytes[..]).ok())
        .and_then(|s| {
            s.details
                .into_iter()
                .find(|d| d.type_url.ends_with("google.rpc.RetryInfo"))
        })
        .and_then(|d| prost_types_any::RetryInfo::decode(&d.value[..]).ok())
        .and_then(|r| r.retry_delay)
        .map(|d| {
            Duration::new(d.seconds.max(0) as u64, d.nanos.max(0) as u32).min(MAX_RETRY_AFTER)
        });
    // The retryable codes, as the OTLP specification lists them; RESOURCE_EXHAUSTED only
    // with a retry delay (the server can recover).
    let retryable = match code {
        1 | 4 | 10 | 11 | 14 | 15 => true,
        8 => retry_after.is_some(),
        _ => false,
    };
    Err(SendError {
        message: format!("gRPC status {code} ({}): {message}", code_name(code)),
        retryable,
        retry_after,
    })
}

fn code_name(code: i32) -> &'static str {
    match code {
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "another code",
    }
}

/// gRPC's `grpc-message` decoding: `%XX` escapes.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Base64 with or without padding, as `-bin` metadata comes.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_percent_decoding_read_what_grpc_writes() {
        assert_eq!(decode_base64("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(decode_base64("Zm8").unwrap(), b"fo");
        assert_eq!(decode_base64("Zm8=").unwrap(), b"fo");
        assert_eq!(decode_base64("//4").unwrap(), [0xff, 0xfe]);
        assert!(decode_base64("@@").is_none());
        assert_eq!(percent_decode("a%20b%25c"), "a b%c");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn gzip_inflates_back_to_the_request() {
        use std::io::Read;
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let packed = gzip(&data);
        assert!(packed.len() < data.len() / 2);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }
}
