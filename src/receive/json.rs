//! The OTLP JSON mapping of a metrics export request, as the receiver and recordings read
//! it.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

/// Decodes an `ExportMetricsServiceRequest` in OTLP JSON, or says why it cannot.
pub(crate) fn decode_request(bytes: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
    let request: ExportMetricsServiceRequest = serde_json::from_slice(bytes)
        .map_err(|e| format!("malformed ExportMetricsServiceRequest in JSON: {e}"))?;
    // The mapping reads a metric's data (its `sum`, `histogram`, ...) leniently: data that
    // does not parse leaves the metric without any, and no error. Such a metric is refused
    // whole, never dropped in silence.
    let empty = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .find(|m| m.data.is_none());
    match empty {
        Some(m) => Err(format!(
            "malformed ExportMetricsServiceRequest in JSON: metric {:?} has no data it can read (OTLP JSON writes trace and span ids in hex, 64-bit integers as strings, enums as numbers)",
            m.name
        )),
        None => Ok(request),
    }
}
