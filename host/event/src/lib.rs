//! The CloudEvents 1.0 event type weft uses everywhere, its validation, its codecs and the
//! attribute filters routes use.
//!
//! One host type, [`Event`], travels through every source, plugin and sink. Codecs:
//! - [`json`]: the JSON event format (structured mode, batch mode);
//! - [`binary`]: the attribute-per-header/field mapping shared by the HTTP, AMQP and Redis
//!   binary-mode bindings;
//! - [`filter`]: exact / prefix / suffix matching on `type`, `source` and `subject`.
//!
//! ```
//! use weft_event::Event;
//! let event = Event::from_json_slice(br#"{"specversion":"1.0","id":"1","source":"/erp","type":"order.created","data":{"n":1}}"#).unwrap();
//! assert_eq!(event.ty, "order.created");
//! assert_eq!(event.data.as_deref(), Some(&br#"{"n":1}"#[..]));
//! ```

pub mod binary;
pub mod filter;
pub mod json;
pub mod trace;

use std::collections::BTreeMap;

pub use filter::{Filter, Match};

/// The only CloudEvents spec version weft speaks.
pub const SPEC_VERSION: &str = "1.0";

/// A CloudEvents 1.0 event.
///
/// Extension attribute values are kept in their canonical string form (CloudEvents 1.0
/// §"Type System": every attribute has a string encoding), so they cross the WIT boundary
/// unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// `id`: identifies the event; unique per `source`.
    pub id: String,
    /// `source`: URI-reference of the context in which the event happened.
    pub source: String,
    /// `type`: the kind of occurrence, e.g. `com.example.order.created`.
    pub ty: String,
    /// `subject`: the subject of the event within the context of `source`.
    pub subject: Option<String>,
    /// `time`: RFC 3339 timestamp of the occurrence.
    pub time: Option<String>,
    /// `datacontenttype`: media type of `data`.
    pub datacontenttype: Option<String>,
    /// `dataschema`: URI of the schema `data` adheres to.
    pub dataschema: Option<String>,
    /// The event payload, as bytes.
    pub data: Option<Vec<u8>>,
    /// Extension attributes, by name (lower-case `[a-z0-9]`).
    pub extensions: BTreeMap<String, String>,
}

/// Why an event is not a valid CloudEvent. The message names the attribute and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A required attribute is absent.
    #[error("required attribute `{0}` is missing")]
    Missing(&'static str),
    /// A required attribute is present but empty.
    #[error("attribute `{0}` must be a non-empty string")]
    Empty(String),
    /// `specversion` is not `1.0`.
    #[error("unsupported specversion `{0}` (weft speaks CloudEvents 1.0)")]
    SpecVersion(String),
    /// An attribute name breaks the naming rule.
    #[error(
        "invalid attribute name `{0}`: names must consist of lower-case letters a-z and digits 0-9"
    )]
    AttributeName(String),
    /// An attribute value has the wrong type or format.
    #[error("attribute `{name}` is invalid: {reason}")]
    AttributeValue {
        /// The attribute.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Both `data` and `data_base64` are present.
    #[error("`data` and `data_base64` are mutually exclusive, but both are present")]
    DataAndBase64,
    /// The body is not valid JSON or not a JSON object.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// `data_base64` is not valid base64.
    #[error("`data_base64` is not valid base64: {0}")]
    Base64(String),
}

/// Context attribute names that are not extensions.
pub const CONTEXT_ATTRIBUTES: [&str; 9] = [
    "id",
    "source",
    "specversion",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
];

/// Returns whether `name` is a valid CloudEvents attribute name (`[a-z0-9]+`).
pub fn is_valid_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl Event {
    /// Creates an event with the required attributes and nothing else.
    pub fn new(id: impl Into<String>, source: impl Into<String>, ty: impl Into<String>) -> Self {
        Event {
            id: id.into(),
            source: source.into(),
            ty: ty.into(),
            ..Event::default()
        }
    }

    /// Checks the event against the CloudEvents 1.0 rules: required attributes non-empty,
    /// attribute names, `time` as RFC 3339, `dataschema` as an absolute URI.
    pub fn validate(&self) -> Result<(), EventError> {
        for (name, value) in [
            ("id", &self.id),
            ("source", &self.source),
            ("type", &self.ty),
        ] {
            if value.is_empty() {
                return Err(EventError::Empty(name.to_string()));
            }
        }
        if let Some(subject) = &self.subject
            && subject.is_empty()
        {
            return Err(EventError::Empty("subject".into()));
        }
        if let Some(time) = &self.time
            && chrono::DateTime::parse_from_rfc3339(time).is_err()
        {
            return Err(EventError::AttributeValue {
                name: "time".into(),
                reason: format!("`{time}` is not an RFC 3339 timestamp"),
            });
        }
        if let Some(ct) = &self.datacontenttype
            && (ct.is_empty() || !ct.contains('/'))
        {
            return Err(EventError::AttributeValue {
                name: "datacontenttype".into(),
                reason: format!("`{ct}` is not a media type (RFC 2046), e.g. application/json"),
            });
        }
        if let Some(schema) = &self.dataschema
            && !is_absolute_uri(schema)
        {
            return Err(EventError::AttributeValue {
                name: "dataschema".into(),
                reason: format!("`{schema}` is not an absolute URI"),
            });
        }
        for name in self.extensions.keys() {
            if !is_valid_attribute_name(name) {
                return Err(EventError::AttributeName(name.clone()));
            }
            if CONTEXT_ATTRIBUTES.contains(&name.as_str()) || name == "data_base64" {
                return Err(EventError::AttributeName(format!(
                    "{name} (reserved: not an extension)"
                )));
            }
        }
        Ok(())
    }

    /// Looks up any attribute by name: context attributes and extensions.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        match name {
            "id" => Some(&self.id),
            "source" => Some(&self.source),
            "specversion" => Some(SPEC_VERSION),
            "type" => Some(&self.ty),
            "subject" => self.subject.as_deref(),
            "time" => self.time.as_deref(),
            "datacontenttype" => self.datacontenttype.as_deref(),
            "dataschema" => self.dataschema.as_deref(),
            other => self.extensions.get(other).map(String::as_str),
        }
    }

    /// Sets any attribute by name (context attributes and extensions); `specversion` is
    /// checked, not stored.
    pub fn set_attribute(&mut self, name: &str, value: String) -> Result<(), EventError> {
        match name {
            "id" => self.id = value,
            "source" => self.source = value,
            "specversion" => {
                if value != SPEC_VERSION {
                    return Err(EventError::SpecVersion(value));
                }
            }
            "type" => self.ty = value,
            "subject" => self.subject = Some(value),
            "time" => self.time = Some(value),
            "datacontenttype" => self.datacontenttype = Some(value),
            "dataschema" => self.dataschema = Some(value),
            other => {
                if !is_valid_attribute_name(other) {
                    return Err(EventError::AttributeName(other.to_string()));
                }
                self.extensions.insert(other.to_string(), value);
            }
        }
        Ok(())
    }

    /// All attributes present, as (name, value) pairs, `specversion` included, data excluded.
    pub fn attributes(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = vec![
            ("specversion", SPEC_VERSION),
            ("id", &self.id),
            ("source", &self.source),
            ("type", &self.ty),
        ];
        for (name, value) in [
            ("subject", &self.subject),
            ("time", &self.time),
            ("datacontenttype", &self.datacontenttype),
            ("dataschema", &self.dataschema),
        ] {
            if let Some(v) = value {
                out.push((name, v));
            }
        }
        out.extend(
            self.extensions
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        out
    }

    /// Approximate size in bytes (attributes + data), used for payload limits.
    /// Equals the sum over [`Event::attributes`] (names and values) plus the data length,
    /// without building that list: it is computed for every event a plugin takes or emits.
    pub fn size(&self) -> usize {
        let required = "specversion".len()
            + SPEC_VERSION.len()
            + "id".len()
            + self.id.len()
            + "source".len()
            + self.source.len()
            + "type".len()
            + self.ty.len();
        let optional: usize = [
            ("subject", &self.subject),
            ("time", &self.time),
            ("datacontenttype", &self.datacontenttype),
            ("dataschema", &self.dataschema),
        ]
        .iter()
        .map(|(name, value)| value.as_ref().map_or(0, |v| name.len() + v.len()))
        .sum();
        let extensions: usize = self.extensions.iter().map(|(k, v)| k.len() + v.len()).sum();
        required + optional + extensions + self.data.as_ref().map_or(0, Vec::len)
    }

    /// Whether `datacontenttype` says the data is JSON (absent counts as JSON, per the
    /// JSON event format).
    pub fn data_is_json(&self) -> bool {
        self.datacontenttype
            .as_deref()
            .is_none_or(is_json_media_type)
    }
}

/// Whether a media type is JSON: `application/json`, `text/json` or `*/*+json`, with
/// parameters ignored.
pub fn is_json_media_type(media_type: &str) -> bool {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

fn is_absolute_uri(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, _)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_follow_the_spec() {
        assert!(is_valid_attribute_name("traceparent"));
        assert!(is_valid_attribute_name("a1"));
        assert!(!is_valid_attribute_name("Trace"));
        assert!(!is_valid_attribute_name("trace_parent"));
        assert!(!is_valid_attribute_name(""));
    }

    #[test]
    fn size_counts_every_attribute_name_and_value_and_the_data() {
        let listed = |e: &Event| {
            e.attributes()
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
                + e.data.as_ref().map_or(0, Vec::len)
        };
        let mut e = Event::new("1", "/s", "t");
        assert_eq!(e.size(), listed(&e));
        e.subject = Some("order-7".into());
        e.time = Some("2026-11-29T05:00:00Z".into());
        e.datacontenttype = Some("application/json".into());
        e.dataschema = Some("https://example.com/s".into());
        e.data = Some(b"{\"a\":1}".to_vec());
        e.set_attribute("traceparent", "00-abc".into()).unwrap();
        assert_eq!(e.size(), listed(&e));
        // 30 required + subject 14 + time 24 + datacontenttype 31 + dataschema 31
        // + traceparent 17 + data 7
        assert_eq!(e.size(), 154);
    }

    #[test]
    fn validate_rejects_empty_required_and_bad_time() {
        let mut e = Event::new("1", "/s", "t");
        assert!(e.validate().is_ok());
        e.id.clear();
        assert_eq!(e.validate(), Err(EventError::Empty("id".into())));
        let mut e = Event::new("1", "/s", "t");
        e.time = Some("yesterday".into());
        assert!(
            matches!(e.validate(), Err(EventError::AttributeValue { name, .. }) if name == "time")
        );
        let mut e = Event::new("1", "/s", "t");
        e.dataschema = Some("not a uri".into());
        assert!(e.validate().is_err());
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(is_json_media_type("application/cloudevents+json"));
        assert!(!is_json_media_type("application/xml"));
    }
}
