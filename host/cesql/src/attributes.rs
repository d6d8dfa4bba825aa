//! How an expression reads a CloudEvent's context attributes and extensions (§3.2).
//!
//! [`weft_event::Event`] keeps every extension in its canonical string form, so through it
//! every attribute is a _String_ (CESQL casts strings where an operator wants another type).
//! [`JsonEvent`] keeps the JSON type of extensions given as JSON booleans or integers, so
//! `myint` evaluates to the _Integer_ 10 for `"myint": 10`.

use std::collections::BTreeMap;

use weft_event::{Event, EventError, SPEC_VERSION};

/// The CloudEvents context attributes an expression can address directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextAttribute {
    /// `id`
    Id,
    /// `source`
    Source,
    /// `specversion`
    SpecVersion,
    /// `type`
    Type,
    /// `subject`
    Subject,
    /// `time`
    Time,
    /// `datacontenttype`
    DataContentType,
    /// `dataschema`
    DataSchema,
}

impl ContextAttribute {
    fn from_name(name: &str) -> Option<ContextAttribute> {
        Some(match name {
            "id" => ContextAttribute::Id,
            "source" => ContextAttribute::Source,
            "specversion" => ContextAttribute::SpecVersion,
            "type" => ContextAttribute::Type,
            "subject" => ContextAttribute::Subject,
            "time" => ContextAttribute::Time,
            "datacontenttype" => ContextAttribute::DataContentType,
            "dataschema" => ContextAttribute::DataSchema,
            _ => return None,
        })
    }
}

/// An attribute name as written in an expression (lower-cased), resolved once at compile
/// time to a context attribute when it names one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttributeName {
    name: Box<str>,
    context: Option<ContextAttribute>,
}

impl AttributeName {
    /// The attribute `name` (already lower-case).
    pub fn new(name: &str) -> Self {
        AttributeName {
            context: ContextAttribute::from_name(name),
            name: name.into(),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The context attribute this name denotes, or `None` for an extension.
    pub fn context(&self) -> Option<ContextAttribute> {
        self.context
    }
}

/// The value of one attribute as an expression sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeValue<'a> {
    /// A string (also URI, URI-reference and timestamp attributes, §3.1).
    String(&'a str),
    /// An integer extension.
    Integer(i32),
    /// A boolean extension.
    Boolean(bool),
}

/// Anything an expression can be evaluated against.
pub trait Attributes {
    /// The attribute's value, or `None` when the event does not have it.
    fn lookup(&self, name: &AttributeName) -> Option<AttributeValue<'_>>;
}

fn context_value(event: &Event, attribute: ContextAttribute) -> Option<&str> {
    match attribute {
        ContextAttribute::Id => Some(&event.id),
        ContextAttribute::Source => Some(&event.source),
        ContextAttribute::SpecVersion => Some(SPEC_VERSION),
        ContextAttribute::Type => Some(&event.ty),
        ContextAttribute::Subject => event.subject.as_deref(),
        ContextAttribute::Time => event.time.as_deref(),
        ContextAttribute::DataContentType => event.datacontenttype.as_deref(),
        ContextAttribute::DataSchema => event.dataschema.as_deref(),
    }
}

impl Attributes for Event {
    fn lookup(&self, name: &AttributeName) -> Option<AttributeValue<'_>> {
        match name.context {
            Some(attribute) => context_value(self, attribute),
            None => self.extensions.get(name.as_str()).map(String::as_str),
        }
        .map(AttributeValue::String)
    }
}

/// A CloudEvent read from the JSON event format, with the JSON types of its extensions:
/// a JSON boolean is a _Boolean_, a JSON integer within 32 bits an _Integer_.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonEvent {
    event: Event,
    typed: BTreeMap<String, TypedScalar>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypedScalar {
    Integer(i32),
    Boolean(bool),
}

impl JsonEvent {
    /// Decodes and validates one structured-mode JSON event.
    pub fn from_json_slice(bytes: &[u8]) -> Result<JsonEvent, EventError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| EventError::Json(e.to_string()))?;
        JsonEvent::from_json_value(value)
    }

    /// Decodes and validates one event from a parsed JSON value.
    pub fn from_json_value(value: serde_json::Value) -> Result<JsonEvent, EventError> {
        let mut typed = BTreeMap::new();
        if let serde_json::Value::Object(map) = &value {
            for (name, v) in map {
                if ContextAttribute::from_name(name).is_some() {
                    continue;
                }
                let scalar = match v {
                    serde_json::Value::Bool(b) => TypedScalar::Boolean(*b),
                    serde_json::Value::Number(n) => {
                        match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
                            Some(i) => TypedScalar::Integer(i),
                            None => continue,
                        }
                    }
                    _ => continue,
                };
                typed.insert(name.clone(), scalar);
            }
        }
        let event = Event::from_json_value(value)?;
        Ok(JsonEvent { event, typed })
    }

    /// Wraps an event whose extensions are all strings.
    pub fn from_event(event: Event) -> JsonEvent {
        JsonEvent {
            event,
            typed: BTreeMap::new(),
        }
    }

    /// Sets an extension to an integer (a JSON number).
    pub fn set_integer(&mut self, name: &str, value: i32) -> Result<(), EventError> {
        self.event.set_attribute(name, value.to_string())?;
        self.typed
            .insert(name.to_string(), TypedScalar::Integer(value));
        Ok(())
    }

    /// Sets an extension to a boolean (a JSON boolean).
    pub fn set_boolean(&mut self, name: &str, value: bool) -> Result<(), EventError> {
        self.event.set_attribute(name, value.to_string())?;
        self.typed
            .insert(name.to_string(), TypedScalar::Boolean(value));
        Ok(())
    }

    /// Sets any attribute to a string.
    pub fn set_string(&mut self, name: &str, value: &str) -> Result<(), EventError> {
        self.event.set_attribute(name, value.to_string())?;
        self.typed.remove(name);
        Ok(())
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }
}

impl Attributes for JsonEvent {
    fn lookup(&self, name: &AttributeName) -> Option<AttributeValue<'_>> {
        if name.context.is_none()
            && let Some(scalar) = self.typed.get(name.as_str())
        {
            return Some(match *scalar {
                TypedScalar::Integer(i) => AttributeValue::Integer(i),
                TypedScalar::Boolean(b) => AttributeValue::Boolean(b),
            });
        }
        self.event.lookup(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_attributes_are_strings_and_absent_ones_none() {
        let mut e = Event::new("1", "/s", "t");
        e.extensions.insert("seq".into(), "10".into());
        let get = |n: &str| e.lookup(&AttributeName::new(n));
        assert_eq!(get("id"), Some(AttributeValue::String("1")));
        assert_eq!(get("specversion"), Some(AttributeValue::String("1.0")));
        assert_eq!(get("seq"), Some(AttributeValue::String("10")));
        assert_eq!(get("subject"), None);
        assert_eq!(get("data"), None);
    }

    #[test]
    fn json_event_keeps_integer_and_boolean_extensions_typed() {
        let e = JsonEvent::from_json_slice(
            br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","myint":10,"mybool":true,"big":4294967296,"s":"x"}"#,
        )
        .unwrap();
        let get = |n: &str| e.lookup(&AttributeName::new(n));
        assert_eq!(get("myint"), Some(AttributeValue::Integer(10)));
        assert_eq!(get("mybool"), Some(AttributeValue::Boolean(true)));
        assert_eq!(get("big"), Some(AttributeValue::String("4294967296")));
        assert_eq!(get("s"), Some(AttributeValue::String("x")));
        assert_eq!(get("id"), Some(AttributeValue::String("1")));
    }
}
