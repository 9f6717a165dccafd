//! The fields whose value names a span (`otel.name` by default): set once for the process,
//! read when a callsite is first seen and when a span records a value.

use std::sync::RwLock;

use tracing_core::Metadata;

/// The fields whose value names a span when neither the layer nor the subscriber builder
/// says: tracing-opentelemetry's convention.
pub const DEFAULT_NAME_FIELDS: [&str; 1] = ["otel.name"];

/// The fields whose value names a span, the first one a callsite declares wins; `None`
/// until set, for [`DEFAULT_NAME_FIELDS`].
static NAME_FIELDS: RwLock<Option<Vec<&'static str>>> = RwLock::new(None);

/// Sets the fields whose value names a span, process-wide. Callsites the layer has already
/// seen keep the fields they were given.
pub(crate) fn set_name_fields(fields: Vec<String>) {
    let leaked = fields
        .into_iter()
        .map(|f| &*Box::leak(f.into_boxed_str()))
        .collect();
    *NAME_FIELDS.write().unwrap_or_else(|e| e.into_inner()) = Some(leaked);
}

/// Whether `name` is one of the fields whose value names a span.
pub(super) fn is_name_field(name: &str) -> bool {
    let fields = NAME_FIELDS.read().unwrap_or_else(|e| e.into_inner());
    let wanted: &[&str] = fields.as_deref().unwrap_or(&DEFAULT_NAME_FIELDS);
    wanted.contains(&name)
}

/// The name field this callsite declares, if any: the first of the configured fields that
/// it has.
pub(super) fn name_field(meta: &'static Metadata<'static>) -> Option<&'static str> {
    let fields = NAME_FIELDS.read().unwrap_or_else(|e| e.into_inner());
    let wanted: &[&str] = fields.as_deref().unwrap_or(&DEFAULT_NAME_FIELDS);
    wanted.iter().find_map(|w| {
        meta.fields()
            .iter()
            .find(|f| f.name() == *w)
            .map(|f| f.name())
    })
}
