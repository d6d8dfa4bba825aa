//! Binary-mode mapping shared by the protocol bindings: each attribute becomes one header
//! (HTTP `ce-<name>`, AMQP 0-9-1 `cloudEvents:<name>`, Redis stream field `ce_<name>` —
//! the prefix is the caller's), `datacontenttype` travels as the protocol's content type,
//! and the data is the message body.

use crate::{Event, EventError, SPEC_VERSION};

/// Builds an event from binary-mode attributes. `attributes` yields (name without prefix,
/// value); `content_type` is the protocol's content type (becomes `datacontenttype`);
/// `body` is the data (empty body = no data).
pub fn from_attributes<'a>(
    attributes: impl IntoIterator<Item = (&'a str, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
) -> Result<Event, EventError> {
    let mut event = Event::default();
    let mut specversion = None;
    for (name, value) in attributes {
        let name = name.to_ascii_lowercase();
        if name == "specversion" {
            specversion = Some(value);
            continue;
        }
        if name == "datacontenttype" {
            // the protocol content type wins; an explicit attribute is accepted too
            event.datacontenttype = Some(value);
            continue;
        }
        event.set_attribute(&name, value)?;
    }
    match specversion {
        None => return Err(EventError::Missing("specversion")),
        Some(v) if v != SPEC_VERSION => return Err(EventError::SpecVersion(v)),
        Some(_) => {}
    }
    if event.id.is_empty() {
        return Err(EventError::Missing("id"));
    }
    if event.source.is_empty() {
        return Err(EventError::Missing("source"));
    }
    if event.ty.is_empty() {
        return Err(EventError::Missing("type"));
    }
    if content_type.is_some() {
        event.datacontenttype = content_type;
    }
    if !body.is_empty() {
        event.data = Some(body);
    }
    event.validate()?;
    Ok(event)
}

/// The attributes to write as headers in binary mode: every attribute except
/// `datacontenttype` (which is the protocol content type).
pub fn to_attributes(event: &Event) -> Vec<(&str, &str)> {
    event
        .attributes()
        .into_iter()
        .filter(|(name, _)| *name != "datacontenttype")
        .collect()
}

/// Percent-encodes a header value as the HTTP binding requires (§3.1.3.2): space, `"`,
/// `%` and anything outside printable ASCII.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b == b' ' || b == b'"' || b == b'%' || !(0x21..=0x7e).contains(&b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Decodes a percent-encoded header value (invalid escapes are kept literally).
pub fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_round_trip() {
        let mut e = Event::new("1", "/s", "t");
        e.subject = Some("a b".into());
        e.extensions.insert("traceparent".into(), "00-x".into());
        e.datacontenttype = Some("text/plain".into());
        e.data = Some(b"hi".to_vec());
        let attrs: Vec<(String, String)> = to_attributes(&e)
            .into_iter()
            .map(|(k, v)| (k.to_string(), percent_encode(v)))
            .collect();
        let back = from_attributes(
            attrs.iter().map(|(k, v)| (k.as_str(), percent_decode(v))),
            Some("text/plain".into()),
            b"hi".to_vec(),
        )
        .unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn missing_specversion_is_named() {
        let err = from_attributes([("id", "1".to_string())], None, vec![]).unwrap_err();
        assert_eq!(err, EventError::Missing("specversion"));
    }

    #[test]
    fn percent_coding() {
        assert_eq!(percent_encode("a b%\"é"), "a%20b%25%22%C3%A9");
        assert_eq!(percent_decode("a%20b%25%22%C3%A9"), "a b%\"é");
    }
}
