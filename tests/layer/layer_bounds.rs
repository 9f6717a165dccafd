//! Memory stays bounded whatever spans arrive: span names made at run time beyond the
//! function limit are counted under the overflow function, and spans beyond the open-span
//! table are still recorded (through the registry's extensions).
#![cfg(feature = "layer")]
#![cfg_attr(feature = "disabled", allow(dead_code, unused))]

use crate::support::common;

use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::FieldSet;
use tracing_core::metadata::{Kind, Level, Metadata};
use tracing_core::subscriber::Interest;
use tracing_subscriber::prelude::*;

/// A callsite made at run time, as bridges from other logging systems make them.
struct RuntimeCallsite(std::sync::OnceLock<&'static Metadata<'static>>);

impl Callsite for RuntimeCallsite {
    fn set_interest(&self, _: Interest) {}
    fn metadata(&self) -> &Metadata<'_> {
        self.0.get().unwrap()
    }
}

/// A span callsite with a name made at run time (leaked, as such bridges do).
fn runtime_span_metadata(name: String) -> &'static Metadata<'static> {
    let callsite: &'static RuntimeCallsite =
        Box::leak(Box::new(RuntimeCallsite(std::sync::OnceLock::new())));
    let meta: &'static Metadata<'static> = Box::leak(Box::new(Metadata::new(
        Box::leak(name.into_boxed_str()),
        "runtime_names",
        Level::INFO,
        None,
        None,
        None,
        FieldSet::new(&[], Identifier(callsite)),
        Kind::SPAN,
    )));
    callsite.0.set(meta).unwrap();
    tracing_core::callsite::register(callsite);
    meta
}

// One test, in this order: the function limit is process-wide, and the span function of the
// second part must be made before the first part fills the limit.
#[test]
fn memory_stays_bounded_and_no_span_is_lost() {
    if crate::support::alone(module_path!(), "memory_stays_bounded_and_no_span_is_lost") {
        return;
    }
    common::init();
    spans_beyond_the_open_span_table_are_recorded_through_the_registry();
    runtime_span_names_beyond_the_limit_go_to_the_overflow_function();
}

fn runtime_span_names_beyond_the_limit_go_to_the_overflow_function() {
    let before = taskscope::snapshot().calls();
    let subscriber =
        tracing_subscriber::registry().with(taskscope::layer().with_function_limit(51));
    let metas: Vec<_> = (0..200)
        .map(|i| runtime_span_metadata(format!("generated_{i}")))
        .collect();
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..3 {
            for meta in &metas {
                let values = meta.fields().value_set(&[]);
                drop(tracing::Span::new(meta, &values));
            }
        }
    });
    let snap = taskscope::snapshot();
    let generated: Vec<_> = snap
        .functions
        .iter()
        .filter(|f| f.target == "runtime_names")
        .collect();
    // `many_open` is the first span function of this process; 50 more fit in the limit.
    assert_eq!(
        generated.len(),
        50,
        "one function per name, up to the limit"
    );
    assert!(generated.iter().all(|f| f.ok.count == 3));
    let overflow = snap
        .function(taskscope::OVERFLOW_KIND)
        .expect("an overflow function");
    assert_eq!(
        overflow.ok.count,
        150 * 3,
        "every span beyond the limit is counted"
    );
    assert_eq!(snap.calls() - before, 600, "no span lost");

    // A thousand more new names: all overflow, and the recorder does not grow with them.
    let held = taskscope::memory_usage();
    let functions = taskscope::snapshot().functions.len();
    let more: Vec<_> = (200..1200)
        .map(|i| runtime_span_metadata(format!("generated_{i}")))
        .collect();
    let subscriber = tracing_subscriber::registry().with(taskscope::layer());
    tracing::subscriber::with_default(subscriber, || {
        for meta in &more {
            let values = meta.fields().value_set(&[]);
            drop(tracing::Span::new(meta, &values));
        }
    });
    let snap = taskscope::snapshot();
    assert_eq!(snap.functions.len(), functions, "no function was added");
    // Real durations may reach a power-of-two range not seen before (a preempted span on a
    // loaded machine reaches several), each adding one histogram chunk (`CHUNK_BYTES`) per
    // distribution; a thousand new function states would add megabytes.
    let grown = taskscope::memory_usage() - held;
    assert!(
        grown.is_multiple_of(taskscope::__private::CHUNK_BYTES)
            && grown <= 32 * taskscope::__private::CHUNK_BYTES,
        "grew by {grown} bytes"
    );
    assert_eq!(
        snap.function(taskscope::OVERFLOW_KIND).unwrap().ok.count,
        1450
    );
}

fn spans_beyond_the_open_span_table_are_recorded_through_the_registry() {
    let layer = taskscope::layer().with_open_span_capacity(64);
    assert!(layer.heap_bytes() <= 64 * 128);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        // 1,000 spans open at once: most cannot have an entry of the 64.
        let spans: Vec<_> = (0..1000)
            .map(|i| tracing::info_span!("many_open", i))
            .collect();
        for span in &spans {
            let _g = span.enter();
        }
        assert_eq!(
            taskscope::snapshot()
                .function("many_open")
                .unwrap()
                .in_flight,
            1000
        );
        drop(spans);
    });
    let f = taskscope::snapshot().function("many_open").unwrap().clone();
    assert_eq!((f.ok.count, f.ok.polls, f.in_flight), (1000, 1000, 0));
}
