//! Sampled calls as spans through the user's `TracerProvider`: its sampler, processors,
//! exporter and resource decide what becomes of them.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::global::{BoxedTracer, ObjectSafeTracerProvider};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use crate::record::samples::{self, SampledCall};
use crate::words::names::{self, attr};
use crate::words::outcome::Outcome;

/// The user's tracer, taken once from their provider under taskscope's scope.
#[derive(Clone)]
pub(crate) struct UserTracer(Arc<BoxedTracer>);

impl std::fmt::Debug for UserTracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserTracer")
    }
}

impl UserTracer {
    pub(crate) fn of(provider: &(impl ObjectSafeTracerProvider + ?Sized)) -> Self {
        let scope = InstrumentationScope::builder("taskscope")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        UserTracer(Arc::new(BoxedTracer::new(provider.boxed_tracer(scope))))
    }
}

fn system_time(unix_ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(unix_ns)
}

/// The `exception.type` of a panic, as the OTLP exporter writes it.
const PANIC_TYPE: &str = "panic";

/// Hands each sampled call to the user's tracer as a span, with the attributes, status and
/// events taskscope's own spans have, inside the trace of its `tracing` parent when it had
/// one. The tracer picks the span's ids (the SDK always does): each call kept takes them,
/// so exemplars point at the spans that exist, and a call the user's sampler drops is
/// removed, so no exemplar points at nothing. `recorder_start_ns` is the recorder's start
/// as Unix time.
pub(crate) fn forward(tracer: &UserTracer, calls: &mut Vec<SampledCall>, recorder_start_ns: u64) {
    let tracer = &*tracer.0;
    calls.retain_mut(|call| {
        let (start, end) = call.unix_times(recorder_start_ns);
        let meta = call.function;
        let kind = call.kind;
        let mut attributes = vec![
            KeyValue::new(attr::FUNCTION, names::qualified(meta.module, meta.name)),
            KeyValue::new(attr::FILE, meta.file),
            KeyValue::new(attr::LINE, i64::from(meta.line)),
            KeyValue::new(attr::OUTCOME, call.outcome.as_str()),
        ];
        if let Some(k) = kind {
            attributes.push(KeyValue::new(attr::ERROR_TYPE, k));
        }
        let status = match call.outcome {
            Outcome::Ok | Outcome::Cancelled => Status::Unset,
            Outcome::Error => Status::error(kind.unwrap_or("error")),
            Outcome::Panicked => Status::error("panicked"),
        };
        let parent = match call.parent_span_id {
            Some(parent) => Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from(call.trace_id),
                SpanId::from(parent),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            )),
            None => Context::new(),
        };
        let mut span = tracer
            .span_builder(meta.name)
            .with_kind(SpanKind::Internal)
            .with_start_time(system_time(start))
            .with_attributes(attributes)
            .start_with_context(tracer, &parent);
        span.set_status(status);
        match call.outcome {
            Outcome::Cancelled => {
                span.add_event_with_timestamp("cancelled", system_time(end), vec![])
            }
            Outcome::Panicked => span.add_event_with_timestamp(
                "exception",
                system_time(end),
                vec![KeyValue::new(attr::EXCEPTION_TYPE, PANIC_TYPE)],
            ),
            _ => {}
        }
        let context = span.span_context().clone();
        span.end_with_timestamp(system_time(end));
        let old = call.span_id;
        if context.is_sampled() {
            call.trace_id = u128::from_be_bytes(context.trace_id().to_bytes());
            call.span_id = u64::from_be_bytes(context.span_id().to_bytes());
            samples::relink(old, Some((call.trace_id, call.span_id)));
            true
        } else {
            samples::relink(old, None);
            false
        }
    });
}
