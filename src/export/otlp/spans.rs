//! Sampled calls as OTLP trace spans, and as exemplars on histogram points.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, exemplar};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status::StatusCode,
};

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};

use super::key_value::kv;
use crate::record::samples::SampledCall;
use crate::words::names;
use crate::words::outcome::Outcome;

/// The `exception.type` of a panic.
const PANIC_TYPE: &str = "panic";

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
        let (start_unix_ns, end_unix_ns) = call.unix_times(recorder_start_ns);
        Timed {
            call,
            start_unix_ns,
            end_unix_ns,
        }
    }

    fn kind(&self) -> Option<&'static str> {
        self.call.kind
    }

    /// Whether this call belongs to the function and outcome of a data point.
    pub(crate) fn is_of(&self, module: &str, name: &str, outcome: Outcome) -> bool {
        let meta = self.call.function;
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

    /// The call as a span, with the semantic conventions' attributes: status unset unless
    /// the call failed (Error for an error or a panic), a panic also as an `exception` event
    /// carrying only `exception.type` (a panic's message may hold argument values).
    fn span(&self) -> Span {
        let meta = self.call.function;
        let outcome = self.call.outcome;
        let mut attributes = vec![
            kv(
                names::attr::FUNCTION,
                &names::qualified(meta.module, meta.name),
            ),
            kv(names::attr::FILE, meta.file),
            KeyValue {
                key: names::attr::LINE.to_owned(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(i64::from(meta.line))),
                }),
                ..Default::default()
            },
            kv(names::attr::OUTCOME, outcome.as_str()),
        ];
        let kind = self.kind();
        if let Some(kind) = kind {
            attributes.push(kv(names::attr::ERROR_TYPE, kind));
        }
        let status = match outcome {
            Outcome::Ok | Outcome::Cancelled => Status::default(),
            Outcome::Error => Status {
                code: StatusCode::Error as i32,
                message: kind.unwrap_or("error").to_owned(),
            },
            Outcome::Panicked => Status {
                code: StatusCode::Error as i32,
                message: "panicked".to_owned(),
            },
        };
        let event = |name: &str, attributes: Vec<KeyValue>| span::Event {
            time_unix_nano: self.end_unix_ns,
            name: name.to_owned(),
            attributes,
            ..Default::default()
        };
        let events = match outcome {
            Outcome::Cancelled => vec![event("cancelled", Vec::new())],
            Outcome::Panicked => vec![event(
                "exception",
                vec![kv(names::attr::EXCEPTION_TYPE, PANIC_TYPE)],
            )],
            _ => Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    static CHARGE: crate::words::function::FunctionMeta = crate::words::function::FunctionMeta {
        name: "charge",
        module: "shop::payments",
        file: "src/pay.rs",
        line: 42,
        target: "shop::payments",
        source: crate::words::function::Source::Measure,
        span_name: "",
        pattern: crate::words::function::Pattern::Function,
    };

    fn span(outcome: Outcome, kind: Option<&'static str>) -> Span {
        let call = SampledCall {
            function: &CHARGE,
            outcome,
            kind,
            end: 0,
            wall_ns: 1_000,
            trace_id: 1,
            span_id: 2,
            parent_span_id: None,
        };
        Timed::of(&call, 0).span()
    }

    fn attr<'a>(s: &'a Span, key: &str) -> Option<&'a any_value::Value> {
        s.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    #[test]
    fn spans_follow_the_semantic_conventions() {
        let ok = span(Outcome::Ok, None);
        assert_eq!(ok.status, Some(Status::default()), "unset on success");
        assert_eq!(
            attr(&ok, "code.function.name"),
            Some(&any_value::Value::StringValue(
                "shop::payments::charge".into()
            ))
        );
        assert_eq!(
            attr(&ok, "code.file.path"),
            Some(&any_value::Value::StringValue("src/pay.rs".into()))
        );
        assert_eq!(
            attr(&ok, "code.line.number"),
            Some(&any_value::Value::IntValue(42))
        );
        assert!(attr(&ok, "error.type").is_none() && ok.events.is_empty());

        let failed = span(Outcome::Error, Some("Declined"));
        assert_eq!(
            failed.status.as_ref().unwrap().code,
            StatusCode::Error as i32
        );
        assert_eq!(
            attr(&failed, "error.type"),
            Some(&any_value::Value::StringValue("Declined".into()))
        );

        let panicked = span(Outcome::Panicked, None);
        assert_eq!(
            panicked.status.as_ref().unwrap().code,
            StatusCode::Error as i32
        );
        assert_eq!(panicked.events.len(), 1);
        let event = &panicked.events[0];
        assert_eq!(event.name, "exception");
        // Only the type: a panic's message may carry argument values.
        assert_eq!(event.attributes.len(), 1);
        assert_eq!(event.attributes[0].key, "exception.type");

        let cancelled = span(Outcome::Cancelled, None);
        assert_eq!(cancelled.status, Some(Status::default()));
        assert_eq!(cancelled.events[0].name, "cancelled");
    }
}
