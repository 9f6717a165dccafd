//! Sending one request to the collector, over gRPC (tonic) or HTTP/protobuf (hyper).

use std::time::Duration;

use bytes::Bytes;
use bytes::{Buf, BufMut};
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{GrpcMethod, Status};

use super::Protocol;
use super::config::Settings;

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
pub(crate) struct SendError {
    pub(crate) message: String,
    pub(crate) retryable: bool,
}

impl SendError {
    fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
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
    fn grpc_service(self) -> &'static str {
        match self {
            Signal::Metrics => "opentelemetry.proto.collector.metrics.v1.MetricsService",
            Signal::Traces => "opentelemetry.proto.collector.trace.v1.TraceService",
        }
    }

    fn grpc_path(self) -> PathAndQuery {
        PathAndQuery::from_static(match self {
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        })
    }
}

/// A connection to the collector (lazy: nothing is dialled before the first send).
pub(crate) enum Transport {
    Grpc {
        client: tonic::client::Grpc<Channel>,
        traces: tonic::client::Grpc<Channel>,
        headers: Vec<(
            MetadataKey<tonic::metadata::Ascii>,
            MetadataValue<tonic::metadata::Ascii>,
        )>,
        timeout: Duration,
    },
    Http {
        client: Client<HttpConnector, Full<Bytes>>,
        uri: Uri,
        traces_uri: Uri,
        headers: Vec<(String, String)>,
        timeout: Duration,
    },
}

impl Transport {
    /// Must run inside the worker's runtime.
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        match settings.protocol {
            Protocol::Grpc => {
                let channel = |uri: &Uri| {
                    Endpoint::from_shared(uri.to_string()).map(|e| {
                        e.connect_timeout(settings.timeout)
                            .timeout(settings.timeout)
                            .connect_lazy()
                    })
                };
                let metrics = channel(&settings.metrics_endpoint).map_err(|e| e.to_string())?;
                let traces = if settings.traces_endpoint == settings.metrics_endpoint {
                    metrics.clone()
                } else {
                    channel(&settings.traces_endpoint).map_err(|e| e.to_string())?
                };
                let headers = settings
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                            .map_err(|e| format!("header {k}: {e}"))?;
                        let value = MetadataValue::try_from(v.as_str())
                            .map_err(|e| format!("header {k}: {e}"))?;
                        Ok((key, value))
                    })
                    .collect::<Result<_, String>>()?;
                Ok(Self::Grpc {
                    client: tonic::client::Grpc::new(metrics),
                    traces: tonic::client::Grpc::new(traces),
                    headers,
                    timeout: settings.timeout,
                })
            }
            Protocol::HttpProtobuf => {
                let mut connector = HttpConnector::new();
                connector.set_connect_timeout(Some(settings.timeout));
                Ok(Self::Http {
                    client: Client::builder(TokioExecutor::new()).build(connector),
                    uri: settings.metrics_endpoint.clone(),
                    traces_uri: settings.traces_endpoint.clone(),
                    headers: settings.headers.clone(),
                    timeout: settings.timeout,
                })
            }
        }
    }

    /// Sends one encoded request (an `ExportMetricsServiceRequest` or an
    /// `ExportTraceServiceRequest`); `Ok` once the collector accepted it. The bytes are
    /// shared, not copied, from attempt to attempt.
    pub(crate) async fn send(&mut self, signal: Signal, body: &Bytes) -> Result<(), SendError> {
        match self {
            Self::Grpc {
                client,
                traces,
                headers,
                timeout,
            } => {
                let grpc = match signal {
                    Signal::Metrics => client,
                    Signal::Traces => traces,
                };
                grpc.ready()
                    .await
                    .map_err(|e| SendError::retry(format!("gRPC channel not ready: {e}")))?;
                let mut req = grpc_request(body.clone(), headers, *timeout);
                req.extensions_mut()
                    .insert(GrpcMethod::new(signal.grpc_service(), "Export"));
                grpc.unary(req, signal.grpc_path(), Encoded)
                    .await
                    .map(drop)
                    .map_err(grpc_error)
            }
            Self::Http {
                client,
                uri,
                traces_uri,
                headers,
                timeout,
            } => {
                let uri = match signal {
                    Signal::Metrics => uri,
                    Signal::Traces => traces_uri,
                };
                post(client, uri, headers, *timeout, body.clone()).await
            }
        }
    }
}

/// The gRPC codec for a request that is already protobuf: its bytes are the message. The
/// answer (an `Export*ServiceResponse`, whose only field is an optional partial success)
/// is read and not interpreted.
#[derive(Clone, Copy)]
struct Encoded;

impl Codec for Encoded {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = Encoded;
    type Decoder = Encoded;

    fn encoder(&mut self) -> Self::Encoder {
        Encoded
    }

    fn decoder(&mut self) -> Self::Decoder {
        Encoded
    }
}

impl Encoder for Encoded {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for Encoded {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        let n = src.remaining();
        src.advance(n);
        Ok(Some(()))
    }
}

type Headers = [(
    MetadataKey<tonic::metadata::Ascii>,
    MetadataValue<tonic::metadata::Ascii>,
)];

fn grpc_request<T>(message: T, headers: &Headers, timeout: Duration) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.set_timeout(timeout);
    for (k, v) in headers {
        req.metadata_mut().insert(k.clone(), v.clone());
    }
    req
}

fn grpc_error(status: tonic::Status) -> SendError {
    use tonic::Code;
    // The retryable gRPC codes, as the OTLP specification lists them.
    let retryable = matches!(
        status.code(),
        Code::Cancelled
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss
            | Code::Unknown
    );
    SendError {
        message: format!("gRPC {:?}: {}", status.code(), status.message()),
        retryable,
    }
}

async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    uri: &Uri,
    headers: &[(String, String)],
    timeout: Duration,
    body: Bytes,
) -> Result<(), SendError> {
    let mut builder =
        hyper::Request::post(uri.clone()).header("content-type", "application/x-protobuf");
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let req = builder
        .body(Full::new(body))
        .map_err(|e| SendError::retry(format!("building the request: {e}")))?;
    let response = tokio::time::timeout(timeout, client.request(req))
        .await
        .map_err(|_| SendError::retry(format!("no answer from {uri} within {timeout:?}")))?
        .map_err(|e| SendError::retry(format!("HTTP to {uri}: {e}")))?;
    let status = response.status();
    // Read the body so the connection can be reused.
    let _ = tokio::time::timeout(timeout, response.into_body().collect()).await;
    if status.is_success() {
        return Ok(());
    }
    Err(SendError {
        message: format!("HTTP status {status} from {uri}"),
        retryable: matches!(status.as_u16(), 429 | 502 | 503 | 504),
    })
}
