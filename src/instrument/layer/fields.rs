//! Reading a span's outcome from its fields and from the events inside it.
//!
//! A span or event is an error when it has an `error` field (any value but `false`), an
//! `otel.status_code` of `"ERROR"`, or an `error.kind` / `error.type` field, which also gives
//! the kind; an event is one too at level ERROR. Which of these fields a callsite declares
//! is worked out once per callsite, so spans without them are never visited.

use std::fmt::{self, Write};

use tracing_core::field::{Field, Visit};
use tracing_core::{Level, Metadata};

/// The callsite has an `error` field.
pub(super) const ERROR: u32 = 1;
/// The callsite has an `error.kind` or `error.type` field.
pub(super) const KIND: u32 = 2;
/// The callsite has an `otel.status_code` field.
pub(super) const STATUS: u32 = 4;
/// An event at level ERROR.
pub(super) const LEVEL_ERROR: u32 = 8;
/// The span's callsite has a field whose value names it.
pub(super) const NAME: u32 = 16;

/// The longest error kind kept from a field; longer values are cut (at a char boundary).
const KIND_MAX: usize = 64;

/// Which outcome fields a callsite declares, and whether it is an ERROR event.
pub(super) fn flags(meta: &Metadata<'_>) -> u32 {
    let mut flags = 0;
    for field in meta.fields() {
        flags |= match field.name() {
            "error" => ERROR,
            "error.kind" | "error.type" => KIND,
            "otel.status_code" => STATUS,
            _ => 0,
        };
    }
    if meta.is_event() && *meta.level() == Level::ERROR {
        flags |= LEVEL_ERROR;
    }
    flags
}

/// What a span's or event's values say about its outcome.
#[derive(Default)]
pub(super) struct Verdict {
    /// `Some(true)`: an error; `Some(false)`: explicitly fine (`error = false`, status OK).
    pub(super) error: Option<bool>,
    kind: KindBuf,
}

impl Verdict {
    /// The error kind given by a field, if any.
    pub(super) fn kind(&self) -> Option<&str> {
        (self.kind.len > 0).then(|| self.kind.as_str())
    }
}

impl Visit for Verdict {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "error" {
            self.error = Some(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "error" => self.error = Some(true),
            "error.kind" | "error.type" => {
                self.kind.set(format_args!("{value}"));
                self.error = Some(true);
            }
            "otel.status_code" => {
                if value.eq_ignore_ascii_case("error") {
                    self.error = Some(true);
                } else if value.eq_ignore_ascii_case("ok") {
                    self.error = Some(false);
                }
            }
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "error" => self.error = Some(true),
            "error.kind" | "error.type" => {
                self.kind.set(format_args!("{value:?}"));
                self.error = Some(true);
            }
            "otel.status_code" => {
                let mut text = KindBuf::default();
                text.set(format_args!("{value:?}"));
                let status = text.as_str().trim_matches('"');
                if status.eq_ignore_ascii_case("error") {
                    self.error = Some(true);
                } else if status.eq_ignore_ascii_case("ok") {
                    self.error = Some(false);
                }
            }
            _ => {}
        }
    }
}

/// The longest span name kept from a field; longer values are cut (at a char boundary).
const NAME_MAX: usize = 128;

/// The value of the field that names a span, read without allocating.
pub(super) struct SpanName {
    /// The field to read; `None` reads any of the configured name fields.
    field: Option<&'static str>,
    value: TextBuf<NAME_MAX>,
    found: bool,
}

impl SpanName {
    /// Reads the value of `field`.
    pub(super) fn of(field: &'static str) -> Self {
        Self {
            field: Some(field),
            value: TextBuf::default(),
            found: false,
        }
    }

    /// Reads the value of whichever configured name field is recorded.
    pub(super) fn any() -> Self {
        Self {
            field: None,
            value: TextBuf::default(),
            found: false,
        }
    }

    /// The name, if the field was recorded with a value that is not blank.
    pub(super) fn value(&self) -> Option<&str> {
        let v = self.value.as_str().trim().trim_matches('"').trim();
        (self.found && !v.is_empty()).then_some(v)
    }

    fn wants(&self, field: &Field) -> bool {
        match self.field {
            Some(f) => field.name() == f,
            None => super::name_fields::is_name_field(field.name()),
        }
    }
}

impl Visit for SpanName {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.wants(field) {
            self.value.set(format_args!("{value}"));
            self.found = true;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.wants(field) {
            self.value.set(format_args!("{value:?}"));
            self.found = true;
        }
    }
}

/// An error kind, on the stack.
type KindBuf = TextBuf<KIND_MAX>;

/// A short string on the stack: an error kind or a name is read without allocating.
struct TextBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Default for TextBuf<N> {
    fn default() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> TextBuf<N> {
    fn set(&mut self, args: fmt::Arguments<'_>) {
        self.len = 0;
        let _ = self.write_fmt(args);
    }

    fn as_str(&self) -> &str {
        // Only whole chars are ever written (see `write_str`).
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Write for TextBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let n = c.len_utf8();
            if self.len + n > N {
                return Err(fmt::Error);
            }
            c.encode_utf8(&mut self.bytes[self.len..]);
            self.len += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_cut_at_a_char_boundary() {
        let mut k = KindBuf::default();
        k.set(format_args!("{}", "é".repeat(40)));
        assert_eq!(k.as_str(), "é".repeat(32));
        k.set(format_args!("timeout"));
        assert_eq!(k.as_str(), "timeout");
    }
}
