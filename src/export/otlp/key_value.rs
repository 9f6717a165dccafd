//! OTLP attribute values, as every request taskscope builds writes them.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

pub(crate) fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}
