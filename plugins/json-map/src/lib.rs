//! Example plugin: JSON field mapping.
//!
//! Config:
//! - `mapping`: a JSON object `{"target.field": "/json/pointer/in/input", ...}`; dotted
//!   targets build nested objects. Required.
//! - `type`: the output event type (default: the input type with `.mapped` appended).
//! - `drop_missing`: `true` to leave out targets whose pointer finds nothing (default:
//!   they are set to `null`).
//!
//! The output keeps `id`, `source`, `subject` and extensions of the input.

use serde_json::{Map, Value};
use weft_sdk::{Event, Failure, HandlerResult};

/// Maps the input's JSON data to a new object per the `mapping` config.
pub fn handle(event: Event) -> HandlerResult {
    let mapping = weft_sdk::config::get("mapping")
        .ok_or_else(|| Failure::reject("json-map: config key `mapping` is not set"))?;
    let mapping: Map<String, Value> = serde_json::from_str(&mapping)
        .map_err(|e| Failure::reject(format!("json-map: `mapping` is not a JSON object: {e}")))?;
    let drop_missing = weft_sdk::config::get("drop_missing").as_deref() == Some("true");
    let input: Value = event.data_json().map_err(Failure::reject)?;
    let mut output = Value::Object(Map::new());
    for (target, pointer) in &mapping {
        let pointer = pointer.as_str().ok_or_else(|| {
            Failure::reject(format!(
                "json-map: mapping for `{target}` must be a JSON pointer string"
            ))
        })?;
        let value = input.pointer(pointer).cloned();
        if value.is_none() && drop_missing {
            continue;
        }
        set_path(&mut output, target, value.unwrap_or(Value::Null));
    }
    let ty = weft_sdk::config::get("type").unwrap_or_else(|| format!("{}.mapped", event.ty));
    Ok(vec![event.with_json(&output).with_type(ty)])
}

fn set_path(root: &mut Value, dotted: &str, value: Value) {
    let mut node = root;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        if parts.peek().is_none() {
            map.insert(part.to_string(), value);
            return;
        }
        node = map
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

weft_sdk::export_handler!(handle);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use weft_sdk::testing::{TestHost, json_event};

    #[test]
    fn maps_fields_into_nested_targets() {
        let host = TestHost::new()
            .with_config("mapping", r#"{"order.id": "/id", "order.total": "/amount/value", "buyer": "/customer/name", "gone": "/nope"}"#)
            .with_config("type", "com.example.order.normalized");
        let out = host
            .call(handle, json_event("order.created", json!({"id": "A-1", "amount": {"value": "12.50"}, "customer": {"name": "ACME"}})))
            .unwrap();
        assert_eq!(out[0].ty, "com.example.order.normalized");
        let data: Value = out[0].data_json().unwrap();
        assert_eq!(
            data,
            json!({"order": {"id": "A-1", "total": "12.50"}, "buyer": "ACME", "gone": null})
        );
    }

    #[test]
    fn missing_mapping_is_a_rejection() {
        let host = TestHost::new();
        let err = host.call(handle, json_event("t", json!({}))).unwrap_err();
        assert!(matches!(err, Failure::Reject(m) if m.contains("mapping")));
    }

    #[test]
    fn drop_missing_leaves_targets_out() {
        let host = TestHost::new()
            .with_config("mapping", r#"{"a": "/a", "b": "/b"}"#)
            .with_config("drop_missing", "true");
        let out = host.call(handle, json_event("t", json!({"a": 1}))).unwrap();
        assert_eq!(out[0].data_json::<Value>().unwrap(), json!({"a": 1}));
        assert_eq!(out[0].ty, "t.mapped");
    }
}
