//! Sending one request to the collector, over gRPC (tonic) or HTTP/protobuf (hyper).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, Endpoint};

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

/// A connection to the collector (lazy: nothing is dialled before the first send).
pub(crate) enum Transport {
    Grpc {
        client: MetricsServiceClient<Channel>,
        traces: TraceServiceClient<Channel>,
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
                    client: MetricsServiceClient::new(metrics),
                    traces: TraceServiceClient::new(traces),
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

    /// Sends one metrics request; `Ok` once the collector accepted it.
    pub(crate) async fn send(
        &mut self,
        request: &ExportMetricsServiceRequest,
    ) -> Result<(), SendError> {
        match self {
            Self::Grpc {
                client,
                headers,
                timeout,
                ..
            } => {
                let req = grpc_request(request.clone(), headers, *timeout);
                client.export(req).await.map(drop).map_err(grpc_error)
            }
            Self::Http {
                client,
                uri,
                headers,
                timeout,
                ..
            } => post(client, uri, headers, *timeout, request.encode_to_vec()).await,
        }
    }

    /// Sends one traces request.
    pub(crate) async fn send_traces(
        &mut self,
        request: &ExportTraceServiceRequest,
    ) -> Result<(), SendError> {
        match self {
            Self::Grpc {
                traces,
                headers,
                timeout,
                ..
            } => {
                let req = grpc_request(request.clone(), headers, *timeout);
                traces.export(req).await.map(drop).map_err(grpc_error)
            }
            Self::Http {
                client,
                traces_uri,
                headers,
                timeout,
                ..
            } => {
                post(
                    client,
                    traces_uri,
                    headers,
                    *timeout,
                    request.encode_to_vec(),
                )
                .await
            }
        }
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
    body: Vec<u8>,
) -> Result<(), SendError> {
    let mut builder =
        hyper::Request::post(uri.clone()).header("content-type", "application/x-protobuf");
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let req = builder
        .body(Full::new(Bytes::from(body)))
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
