//! The plugin-side event type and failure.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A CloudEvents 1.0 event as a plugin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// Identifies the event; `source` + `id` is unique.
    pub id: String,
    /// URI-reference of the context in which the event happened.
    pub source: String,
    /// The kind of occurrence, e.g. `com.example.order.created`.
    pub ty: String,
    /// The subject within `source`.
    pub subject: Option<String>,
    /// RFC 3339 time of the occurrence.
    pub time: Option<String>,
    /// Media type of `data`.
    pub datacontenttype: Option<String>,
    /// URI of the schema of `data`.
    pub dataschema: Option<String>,
    /// The payload.
    pub data: Option<Vec<u8>>,
    /// Extension attributes, e.g. `traceparent`.
    pub extensions: Vec<(String, String)>,
}

/// Why a handler did not handle an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Transient: the hub retries with backoff.
    Retry(String),
    /// Permanent: the event is dead-lettered with this reason.
    Reject(String),
}

impl Failure {
    /// A permanent failure from anything printable (handy with `map_err`).
    pub fn reject(reason: impl std::fmt::Display) -> Self {
        Failure::Reject(reason.to_string())
    }

    /// A transient failure from anything printable.
    pub fn retry(reason: impl std::fmt::Display) -> Self {
        Failure::Retry(reason.to_string())
    }

    /// A transient failure that asks the hub to wait at least `delay` before the next
    /// attempt (e.g. an HTTP `Retry-After`): the message starts `retry-after-ms=N: `, a
    /// prefix weft's router reads (capped at one day; older hubs just show it).
    ///
    /// ```
    /// use weft_sdk::Failure;
    /// let f = Failure::retry_after(std::time::Duration::from_secs(2), "rate limited");
    /// assert_eq!(f, Failure::Retry("retry-after-ms=2000: rate limited".into()));
    /// ```
    pub fn retry_after(delay: std::time::Duration, reason: impl std::fmt::Display) -> Self {
        Failure::Retry(format!("retry-after-ms={}: {reason}", delay.as_millis()))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Retry(m) => write!(f, "retry: {m}"),
            Failure::Reject(m) => write!(f, "reject: {m}"),
        }
    }
}

impl Event {
    /// An event with the required attributes.
    pub fn new(id: impl Into<String>, source: impl Into<String>, ty: impl Into<String>) -> Self {
        Event {
            id: id.into(),
            source: source.into(),
            ty: ty.into(),
            ..Event::default()
        }
    }

    /// A new event derived from this one: type `ty`, id `<id>.<ty>`, same source, subject
    /// and `traceparent`, no data. Use it to emit results that stay traceable to the input.
    pub fn derive(&self, ty: impl Into<String>) -> Event {
        let ty = ty.into();
        let mut out = Event::new(format!("{}.{}", self.id, ty), self.source.clone(), ty);
        out.subject = self.subject.clone();
        if let Some(tp) = self.extension("traceparent") {
            out.extensions
                .push(("traceparent".to_string(), tp.to_string()));
        }
        out
    }

    /// The data as UTF-8 text.
    pub fn data_text(&self) -> Result<&str, String> {
        let data = self.data.as_deref().ok_or("the event has no data")?;
        std::str::from_utf8(data).map_err(|e| format!("data is not UTF-8: {e}"))
    }

    /// The data parsed as JSON into `T`.
    pub fn data_json<T: DeserializeOwned>(&self) -> Result<T, String> {
        let data = self.data.as_deref().ok_or("the event has no data")?;
        serde_json::from_slice(data).map_err(|e| format!("data is not the expected JSON: {e}"))
    }

    /// Replaces the data with `value` as JSON (`datacontenttype: application/json`).
    pub fn with_json<T: Serialize>(mut self, value: &T) -> Self {
        self.data = Some(serde_json::to_vec(value).unwrap_or_default());
        self.datacontenttype = Some("application/json".into());
        self
    }

    /// Replaces the data with raw bytes of the given media type.
    pub fn with_data(mut self, content_type: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        self.data = Some(data.into());
        self.datacontenttype = Some(content_type.into());
        self
    }

    /// Sets the type.
    pub fn with_type(mut self, ty: impl Into<String>) -> Self {
        self.ty = ty.into();
        self
    }

    /// Sets the subject.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// An extension attribute's value.
    pub fn extension(&self, name: &str) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets an extension attribute (name must be lower-case `[a-z0-9]`; the host rejects
    /// others).
    pub fn set_extension(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.extensions.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.extensions.push((name, value)),
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) mod wit {
    use super::{Event, Failure};
    use crate::bindings::weft::plugin::types as wit;

    impl From<wit::Event> for Event {
        fn from(e: wit::Event) -> Self {
            Event {
                id: e.id,
                source: e.source,
                ty: e.type_,
                subject: e.subject,
                time: e.time,
                datacontenttype: e.datacontenttype,
                dataschema: e.dataschema,
                data: e.data,
                extensions: e.extensions,
            }
        }
    }

    impl From<Event> for wit::Event {
        fn from(e: Event) -> Self {
            wit::Event {
                id: e.id,
                source: e.source,
                type_: e.ty,
                subject: e.subject,
                time: e.time,
                datacontenttype: e.datacontenttype,
                dataschema: e.dataschema,
                data: e.data,
                extensions: e.extensions,
            }
        }
    }

    /// Calls a user handler with converted types.
    pub fn call(
        handler: fn(Event) -> Result<Vec<Event>, Failure>,
        event: wit::Event,
    ) -> Result<Vec<wit::Event>, wit::Failure> {
        match handler(event.into()) {
            Ok(events) => Ok(events.into_iter().map(Into::into).collect()),
            Err(Failure::Retry(m)) => Err(wit::Failure::Retry(m)),
            Err(Failure::Reject(m)) => Err(wit::Failure::Reject(m)),
        }
    }
}
