//! The CloudEvents JSON event format: single events (structured mode) and batches.
//!
//! Decoding rules (JSON format §3): `data` holding a JSON value is stored as its JSON text
//! when the event's media type is JSON (or absent); a JSON string `data` with a non-JSON
//! media type is stored as that string's UTF-8 bytes; `data_base64` is decoded. Encoding
//! reverses this: JSON data is embedded, UTF-8 text data of a non-JSON type becomes a
//! string, anything else becomes `data_base64`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::{Event, EventError, SPEC_VERSION, is_valid_attribute_name};

impl Event {
    /// Decodes and validates one event in the JSON format.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Event, EventError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| EventError::Json(e.to_string()))?;
        Event::from_json_value(value)
    }

    /// Decodes and validates one event from a parsed JSON value.
    pub fn from_json_value(value: Value) -> Result<Event, EventError> {
        let Value::Object(map) = value else {
            return Err(EventError::Json("an event must be a JSON object".into()));
        };
        from_object(map)
    }

    /// Encodes the event in the JSON format.
    pub fn to_json_value(&self) -> Value {
        let mut map = Map::new();
        for (name, value) in self.attributes() {
            map.insert(name.to_string(), Value::String(value.to_string()));
        }
        if let Some(data) = &self.data {
            if self.data_is_json() {
                match serde_json::from_slice::<Value>(data) {
                    Ok(v) => {
                        map.insert("data".into(), v);
                    }
                    Err(_) => {
                        map.insert("data_base64".into(), Value::String(BASE64.encode(data)));
                    }
                }
            } else if is_textual(self.datacontenttype.as_deref())
                && let Ok(text) = std::str::from_utf8(data)
            {
                map.insert("data".into(), Value::String(text.to_string()));
            } else {
                map.insert("data_base64".into(), Value::String(BASE64.encode(data)));
            }
        }
        Value::Object(map)
    }

    /// Encodes the event as one line of JSON.
    pub fn to_json_string(&self) -> String {
        self.to_json_value().to_string()
    }
}

/// Decodes a batch (`application/cloudevents-batch+json`): a JSON array of events.
/// Fails on the first invalid event, naming its index.
pub fn parse_batch(bytes: &[u8]) -> Result<Vec<Event>, (Option<usize>, EventError)> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| (None, EventError::Json(e.to_string())))?;
    let Value::Array(items) = value else {
        return Err((
            None,
            EventError::Json("a batch must be a JSON array of events".into()),
        ));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| Event::from_json_value(v).map_err(|e| (Some(i), e)))
        .collect()
}

/// Encodes a batch as a JSON array.
pub fn to_batch(events: &[Event]) -> Value {
    Value::Array(events.iter().map(Event::to_json_value).collect())
}

fn is_textual(ct: Option<&str>) -> bool {
    let Some(ct) = ct else { return false };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/") || essence.ends_with("/xml") || essence.ends_with("+xml")
}

fn string_attr(name: &str, value: Value) -> Result<String, EventError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(EventError::AttributeValue {
            name: name.to_string(),
            reason: format!("must be a string, found {}", json_kind(&other)),
        }),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn from_object(mut map: Map<String, Value>) -> Result<Event, EventError> {
    if map.contains_key("data") && map.contains_key("data_base64") {
        return Err(EventError::DataAndBase64);
    }
    let mut required = |name: &'static str| -> Result<String, EventError> {
        match map.remove(name) {
            None | Some(Value::Null) => Err(EventError::Missing(name)),
            Some(v) => string_attr(name, v),
        }
    };
    let specversion = required("specversion")?;
    if specversion != SPEC_VERSION {
        return Err(EventError::SpecVersion(specversion));
    }
    let id = required("id")?;
    let source = required("source")?;
    let ty = required("type")?;
    let mut event = Event::new(id, source, ty);
    let data = map.remove("data");
    let data_base64 = map.remove("data_base64");
    for (name, value) in map {
        if !is_valid_attribute_name(&name) {
            return Err(EventError::AttributeName(name));
        }
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.is_i64() => n.to_string(),
            other => {
                return Err(EventError::AttributeValue {
                    name,
                    reason: format!(
                        "must be a string, boolean or integer, found {}",
                        json_kind(&other)
                    ),
                });
            }
        };
        event.set_attribute(&name, text)?;
    }
    match (data, data_base64) {
        (Some(Value::Null), _) | (None, None) => {}
        (Some(Value::String(s)), None) if !event.data_is_json() => {
            event.data = Some(s.into_bytes());
        }
        (Some(v), None) => event.data = Some(v.to_string().into_bytes()),
        (None, Some(Value::String(b64))) => {
            let bytes = BASE64
                .decode(b64.as_bytes())
                .map_err(|e| EventError::Base64(e.to_string()))?;
            event.data = Some(bytes);
        }
        (None, Some(other)) => {
            return Err(EventError::AttributeValue {
                name: "data_base64".into(),
                reason: format!("must be a string, found {}", json_kind(&other)),
            });
        }
        (Some(_), Some(_)) => return Err(EventError::DataAndBase64),
    }
    event.validate()?;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Event, EventError> {
        Event::from_json_slice(s.as_bytes())
    }

    #[test]
    fn round_trips_json_data() {
        let e = parse(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","traceparent":"00-ab","data":{"a":[1,2]}}"#).unwrap();
        assert_eq!(e.extensions["traceparent"], "00-ab");
        let back = Event::from_json_value(e.to_json_value()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn text_data_of_non_json_type_is_a_string() {
        let e = parse(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/xml","data":"<a/>"}"#).unwrap();
        assert_eq!(e.data.as_deref(), Some(&b"<a/>"[..]));
        assert_eq!(e.to_json_value()["data"], "<a/>");
    }

    #[test]
    fn binary_data_uses_base64() {
        let e = parse(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC"}"#).unwrap();
        assert_eq!(e.data.as_deref(), Some(&[0u8, 1, 2][..]));
        assert_eq!(e.to_json_value()["data_base64"], "AAEC");
    }

    #[test]
    fn each_malformed_event_names_its_problem() {
        assert_eq!(
            parse(r#"{"specversion":"1.0","source":"/s","type":"t"}"#),
            Err(EventError::Missing("id"))
        );
        assert_eq!(
            parse(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","Bad_Name":"x"}"#),
            Err(EventError::AttributeName("Bad_Name".into()))
        );
        assert_eq!(
            parse(
                r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}"#
            ),
            Err(EventError::DataAndBase64)
        );
        assert!(matches!(parse("{not json"), Err(EventError::Json(_))));
        assert_eq!(
            parse(r#"{"specversion":"0.3","id":"1","source":"/s","type":"t"}"#),
            Err(EventError::SpecVersion("0.3".into()))
        );
        assert!(matches!(
            parse(r#"{"specversion":"1.0","id":1,"source":"/s","type":"t"}"#),
            Err(EventError::AttributeValue { .. })
        ));
    }

    #[test]
    fn batch_reports_the_failing_index() {
        let ok =
            parse_batch(br#"[{"specversion":"1.0","id":"1","source":"/s","type":"t"}]"#).unwrap();
        assert_eq!(ok.len(), 1);
        let err = parse_batch(
            br#"[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0"}]"#,
        )
        .unwrap_err();
        assert_eq!(err.0, Some(1));
    }
}
