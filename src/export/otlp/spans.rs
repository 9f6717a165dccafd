//! Sampled calls as OTLP trace spans, and as exemplars on histogram points.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, exemplar};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status::StatusCode,
};

use super::encode::kv;
use crate::Outcome;
use crate::record::samples::SampledCall;

/// A sampled call with its times as Unix nanoseconds.
pub(crate) struct Timed<'a> {
    pub(crate) call: &'a SampledCall,
    pub(crate) start_unix_ns: u64,
    pub(crate) end_unix_ns: u64,
}

impl Timed<'_> {
    /// Converts a sampled call's times; `recorder_start_ns` is the recorder's start as
    /// Unix time.
    pub(crate) fn of(call: &SampledCall, recorder_start_ns: u64) -> Timed<'_> {
        let end = recorder_start_ns
            .saturating_add(crate::clock::since_start_at(call.end).as_nanos() as u64);
        Timed {
            call,
            start_unix_ns: end.saturating_sub(call.wall_ns),
            end_unix_ns: end,
        }
    }

    fn kind(&self) -> Option<&'static str> {
        self.call.kind.map(|k| self.call.function.kind_name(k))
    }

    /// Whether this call belongs to the function and outcome of a data point.
    pub(crate) fn is_of(&self, module: &str, name: &str, outcome: Outcome) -> bool {
        let meta = self.call.function.meta;
        meta.module == module && meta.name == name && self.call.outcome == outcome
    }

    /// The call as an exemplar: its wall time in seconds, its trace and span.
    pub(crate) fn exemplar(&self) -> Exemplar {
        Exemplar {
            time_unix_nano: self.end_unix_ns,
            trace_id: self.call.trace_id.to_be_bytes().to_vec(),
            span_id: self.call.span_id.to_be_bytes().to_vec(),
            value: Some(exemplar::Value::AsDouble(self.call.wall_ns as f64 / 1e9)),
            ..Default::default()
        }
    }

    fn span(&self) -> Span {
        let meta = self.call.function.meta;
        let outcome = self.call.outcome;
        let mut attributes = vec![
            kv("function", meta.name),
            kv("module", meta.module),
            kv("outcome", outcome.as_str()),
            kv("code.function", meta.name),
            kv("code.namespace", meta.module),
            kv("code.filepath", meta.file),
        ];
        let kind = self.kind();
        if let Some(kind) = kind {
            attributes.push(kv("error.type", kind));
            attributes.push(kv("error.kind", kind));
        }
        let status = match outcome {
            Outcome::Ok => Status {
                code: StatusCode::Ok as i32,
                message: String::new(),
            },
            Outcome::Error => Status {
                code: StatusCode::Error as i32,
                message: kind.unwrap_or("error").to_owned(),
            },
            Outcome::Panicked => Status {
                code: StatusCode::Error as i32,
                message: "panicked".to_owned(),
            },
            Outcome::Cancelled => Status::default(),
        };
        let events = if outcome == Outcome::Cancelled {
            vec![span::Event {
                time_unix_nano: self.end_unix_ns,
                name: "cancelled".to_owned(),
                ..Default::default()
            }]
        } else {
            Vec::new()
        };
        Span {
            trace_id: self.call.trace_id.to_be_bytes().to_vec(),
            span_id: self.call.span_id.to_be_bytes().to_vec(),
            parent_span_id: self
                .call
                .parent_span_id
                .map(|p| p.to_be_bytes().to_vec())
                .unwrap_or_default(),
            name: meta.name.to_owned(),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: self.start_unix_ns,
            end_time_unix_nano: self.end_unix_ns,
            attributes,
            events,
            status: Some(status),
            ..Default::default()
        }
    }
}

/// The sampled calls as one traces request.
pub(crate) fn request(
    calls: &[Timed<'_>],
    resource: &[(String, String)],
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource
                    .iter()
                    .map(|(k, v)| kv(k, v))
                    .collect::<Vec<KeyValue>>(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "taskscope".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                spans: calls.iter().map(Timed::span).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}
