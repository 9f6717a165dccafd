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
        headers: Vec<(MetadataKey<tonic::metadata::Ascii>, MetadataValue<tonic::metadata::Ascii>)>,
        timeout: Duration,
    },
    Http {
        client: Client<HttpConnector, Full<Bytes>>,
        uri: Uri,
        headers: Vec<(String, String)>,
        timeout: Duration,
    },
}

impl Transport {
    /// Must run inside the worker's runtime.
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        match settings.protocol {
            Protocol::Grpc => {
                let channel = Endpoint::from_shared(settings.metrics_endpoint.to_string())
                    .map_err(|e| e.to_string())?
                    .connect_timeout(settings.timeout)
                    .timeout(settings.timeout)
                    .connect_lazy();
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
                    client: MetricsServiceClient::new(channel),
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
                    headers: settings.headers.clone(),
                    timeout: settings.timeout,
                })
            }
        }
    }

    /// Sends one request; `Ok` once the collector accepted it.
    pub(crate) async fn send(&mut self, request: &ExportMetricsServiceRequest) -> Result<(), SendError> {
        match self {
            Self::Grpc {
                client,
                headers,
                timeout,
            } => {
                let mut req = tonic::Request::new(request.clone());
                req.set_timeout(*timeout);
                for (k, v) in headers.iter() {
                    req.metadata_mut().insert(k.clone(), v.clone());
                }
                match client.export(req).await {
                    Ok(_) => Ok(()),
                    Err(status) => {
                        use tonic::Code;
                        // As the OTLP specification lists the retryable gRPC codes.
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
                        Err(SendError {
                            message: format!("gRPC {:?}: {}", status.code(), status.message()),
                            retryable,
                        })
                    }
                }
            }
            Self::Http {
                client,
                uri,
                headers,
                timeout,
            } => {
                let mut builder = hyper::Request::post(uri.clone())
                    .header("content-type", "application/x-protobuf");
                for (k, v) in headers.iter() {
                    builder = builder.header(k.as_str(), v.as_str());
                }
                let body = Full::new(Bytes::from(request.encode_to_vec()));
                let req = builder
                    .body(body)
                    .map_err(|e| SendError::retry(format!("building the request: {e}")))?;
                let response = tokio::time::timeout(*timeout, client.request(req))
                    .await
                    .map_err(|_| SendError::retry(format!("no answer within {timeout:?}")))?
                    .map_err(|e| SendError::retry(format!("HTTP: {e}")))?;
                let status = response.status();
                if status.is_success() {
                    // Read the body so the connection can be reused.
                    let _ = tokio::time::timeout(*timeout, response.into_body().collect()).await;
                    return Ok(());
                }
                let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
                Err(SendError {
                    message: format!("HTTP status {status}"),
                    retryable,
                })
            }
        }
    }
}
