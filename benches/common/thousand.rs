//! 1000 functions in the recorder, as the export and scrape benchmarks read them: spans
//! with names made at run time, through `taskscope::layer()`.

use std::time::{Duration, Instant};

use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::FieldSet;
use tracing_core::metadata::{Kind, Level, Metadata};
use tracing_core::subscriber::Interest;
use tracing_subscriber::prelude::*;

struct RuntimeCallsite(std::sync::OnceLock<&'static Metadata<'static>>);

impl Callsite for RuntimeCallsite {
    fn set_interest(&self, _: Interest) {}
    fn metadata(&self) -> &Metadata<'_> {
        self.0.get().unwrap()
    }
}

fn span_metadata(name: String) -> &'static Metadata<'static> {
    let callsite: &'static RuntimeCallsite =
        Box::leak(Box::new(RuntimeCallsite(std::sync::OnceLock::new())));
    static FIELDS: &[&str] = &["error.kind"];
    let meta: &'static Metadata<'static> = Box::leak(Box::new(Metadata::new(
        Box::leak(name.into_boxed_str()),
        "bench_service",
        Level::INFO,
        None,
        None,
        Some("bench_service"),
        FieldSet::new(FIELDS, Identifier(callsite)),
        Kind::SPAN,
    )));
    callsite.0.set(meta).unwrap();
    tracing_core::callsite::register(callsite);
    meta
}

/// 1000 functions (spans with names made at run time), each with ok calls of spread
/// durations and errors of two kinds.
pub(crate) fn functions() {
    let subscriber = tracing_subscriber::registry().with(taskscope::layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..1000 {
            let meta = span_metadata(format!("function_{i}"));
            let kind = meta.fields().field("error.kind").unwrap();
            for call in 0..40u64 {
                let kinds = ["timeout", "refused"];
                let value = kinds[(call % 2) as usize];
                let values = [(&kind, Some(&value as &dyn tracing::Value))];
                let fields = meta.fields().value_set(&values);
                let span = if call % 10 == 0 {
                    tracing::Span::new(meta, &fields)
                } else {
                    tracing::Span::new(meta, &meta.fields().value_set(&[]))
                };
                let _g = span.enter();
                // Spread the durations over several powers of two.
                let spin = Instant::now();
                while spin.elapsed() < Duration::from_nanos(100 << (call % 8)) {}
            }
        }
    });
}
