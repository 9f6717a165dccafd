//! OTLP requests as the tests build them.
#![allow(dead_code, unreachable_pub)]

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

/// A string attribute.
pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}
