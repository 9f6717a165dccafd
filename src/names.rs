//! The names taskscope's data goes by on the wire, defined once: the metrics (OTLP names,
//! and the Prometheus names derived from them) and the attributes, following the
//! OpenTelemetry semantic conventions where one exists and under `taskscope.*` where none
//! does. The exporter, the Prometheus endpoint, the receiver and the tests all use these;
//! `docs/METRICS.md` has the table.

/// OTLP metric names.
pub(crate) mod metric {
    /// Finished calls (counter).
    pub(crate) const CALLS: &str = "function.calls";
    /// Wall time per call (histogram, seconds).
    pub(crate) const DURATION: &str = "function.calls.duration";
    /// Busy time per call (histogram, seconds).
    pub(crate) const BUSY: &str = "function.calls.busy";
    /// Polls of finished calls (counter).
    pub(crate) const POLLS: &str = "function.calls.polls";
    /// Slow polls of finished calls (counter).
    pub(crate) const SLOW_POLLS: &str = "function.calls.slow_polls";
    /// Calls in flight (up-down counter).
    pub(crate) const CONCURRENT: &str = "function.calls.concurrent";
    /// Data points the exporter gave up on (counter).
    pub(crate) const EXPORT_DROPPED: &str = "taskscope.export.dropped";
}

/// Attribute names.
pub(crate) mod attr {
    /// The function, fully qualified: `my_app::orders::charge`, `my_app::Store::load`
    /// (semantic conventions: `code.function.name`).
    pub(crate) const FUNCTION: &str = "code.function.name";
    /// The source file of a span's function (`code.file.path`).
    pub(crate) const FILE: &str = "code.file.path";
    /// Its line (`code.line.number`).
    pub(crate) const LINE: &str = "code.line.number";
    /// How a call ended: `ok`, `error`, `cancelled`, `panicked` (taskscope's own).
    pub(crate) const OUTCOME: &str = "taskscope.outcome";
    /// The bounded kind of an error (semantic conventions: `error.type`).
    pub(crate) const ERROR_TYPE: &str = "error.type";
    /// Marks the point that counts what went over a cardinality cap (the OpenTelemetry
    /// SDK's `otel.metric.overflow`).
    pub(crate) const OVERFLOW: &str = "otel.metric.overflow";
    /// The kind of an exception event (`exception.type`).
    pub(crate) const EXCEPTION_TYPE: &str = "exception.type";
    /// A per-process id on the resource, so replicas do not collide.
    pub(crate) const SERVICE_INSTANCE: &str = "service.instance.id";
}

/// The names taskscope used before it followed the semantic conventions: the receiver
/// still reads them, so older taskscope senders keep working.
pub(crate) mod legacy {
    /// The function's short name.
    pub(crate) const FUNCTION: &str = "function";
    /// Its module.
    pub(crate) const MODULE: &str = "module";
    /// The outcome.
    pub(crate) const OUTCOME: &str = "outcome";
    /// The error kind.
    pub(crate) const ERROR_KIND: &str = "error.kind";
}

/// This process's `service.instance.id`: a random UUID (version 4), made once, so that two
/// replicas of a service never share one, as the semantic conventions recommend.
pub(crate) fn service_instance_id() -> &'static str {
    use std::hash::{BuildHasher, Hasher};
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        // std's hasher keys are random per process; two of them give 128 random bits.
        let mut bits = [0u64; 2];
        for (i, b) in bits.iter_mut().enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(i as u64);
            h.write_u32(std::process::id());
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            *b = h.finish();
        }
        let (hi, lo) = (bits[0], bits[1]);
        // Version 4, variant 10.
        let hi = (hi & !0xF000) | 0x4000;
        let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0xFFFF,
            lo >> 48,
            lo & 0xFFFF_FFFF_FFFF
        )
    })
}

/// The fully qualified name of a function: its module path and its name.
pub(crate) fn qualified(module: &str, name: &str) -> String {
    let mut out = String::with_capacity(module.len() + 2 + name.len());
    qualify_into(&mut out, module, name);
    out
}

/// As [`qualified`], into a reused string.
pub(crate) fn qualify_into(out: &mut String, module: &str, name: &str) {
    out.clear();
    if !module.is_empty() && module != name {
        out.push_str(module);
        out.push_str("::");
    }
    out.push_str(name);
}

/// A fully qualified name split back into its module and name: the module is the leading
/// path segments that are snake_case (as Rust modules are), leaving at least the last
/// segment as the name, so `my_app::orders::Store::load` is `my_app::orders` and
/// `Store::load`, and `my_app::GET /users` is `my_app` and `GET /users`.
pub(crate) fn split_qualified(full: &str) -> (&str, &str) {
    let mut module_end = 0;
    let mut rest = full;
    while let Some((segment, after)) = rest.split_once("::") {
        let snake = !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !snake || after.is_empty() {
            break;
        }
        module_end += segment.len() + if module_end == 0 { 0 } else { 2 };
        rest = after;
    }
    if module_end == 0 {
        return ("", full);
    }
    (&full[..module_end], &full[module_end + 2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_id_is_a_version_4_uuid_made_once() {
        let id = service_instance_id();
        assert_eq!(id, service_instance_id());
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{id}"
        );
        assert!(parts[2].starts_with('4'), "{id}");
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{id}");
    }

    #[test]
    fn qualified_names_split_back_at_the_module() {
        for (module, name) in [
            ("my_app::orders", "charge"),
            ("my_app::orders", "Store::load"),
            ("h2::codec", "FramedRead::poll_next"),
            ("my_app", "GET /users"),
            ("my_app", "/users/{id}"),
            ("app2", "tick"),
        ] {
            let full = qualified(module, name);
            assert_eq!(split_qualified(&full), (module, name), "{full}");
        }
        assert_eq!(qualified("", "alone"), "alone");
        assert_eq!(split_qualified("alone"), ("", "alone"));
        assert_eq!(split_qualified("Type::method"), ("", "Type::method"));
        assert_eq!(split_qualified("a::"), ("", "a::"));
        // A span named after its module is not doubled.
        assert_eq!(qualified("_overflow", "_overflow"), "_overflow");
    }
}
