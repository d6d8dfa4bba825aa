//! Helpers shared by the tests: documents written from the EPCIS 2.0 standard.
#![allow(dead_code)]

use std::collections::BTreeSet;

use weft_plugin_logistics::{Report, validate_document};

/// The EPCIS 2.0 JSON-LD context with an `example` prefix.
pub const CONTEXT: &str = r#"["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"example": "https://ns.example.com/epcis/"}]"#;

/// An EPCISDocument (JSON-LD) around these event objects.
pub fn json_doc(events: &[&str]) -> String {
    format!(
        r#"{{"@context": {CONTEXT}, "type": "EPCISDocument", "schemaVersion": "2.0",
  "creationDate": "2024-03-01T09:00:00Z", "epcisBody": {{"eventList": [{}]}}}}"#,
        events.join(",")
    )
}

/// A valid ObjectEvent with `extra` JSON members added.
pub fn object_event(extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "," };
    format!(
        r#"{{"type": "ObjectEvent", "eventTime": "2024-03-01T10:00:00.000+01:00", "eventTimeZoneOffset": "+01:00",
  "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"], "action": "OBSERVE", "bizStep": "shipping",
  "disposition": "in_transit", "readPoint": {{"id": "urn:epc:id:sgln:0614141.07346.1234"}}{sep}{extra}}}"#
    )
}

/// Validates a JSON document.
pub fn json_report(doc: &str) -> Report {
    validate_document(doc.as_bytes(), Some("application/ld+json"))
}

/// Validates an XML document.
pub fn xml_report(doc: &str) -> Report {
    validate_document(doc.as_bytes(), Some("application/xml"))
}

/// The error codes of a report.
pub fn error_codes(r: &Report) -> BTreeSet<&'static str> {
    r.errors.iter().map(|e| e.code).collect()
}

/// Asserts that a report is valid, printing its errors otherwise.
pub fn assert_valid(r: &Report) {
    assert!(r.valid, "expected valid, errors: {:#?}", r.errors);
}

/// Asserts that a report is invalid with an error of this code whose message contains
/// `needle`.
pub fn assert_error(r: &Report, code: &str, needle: &str) {
    assert!(!r.valid, "expected invalid");
    assert!(
        r.errors
            .iter()
            .any(|e| e.code == code && e.message.contains(needle)),
        "no {code} error containing {needle:?} in {:#?}",
        r.errors
    );
}

/// The EPCIS 2.0 XML document wrapper around event elements.
pub fn xml_doc(events: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:example="https://ns.example.com/epcis/" schemaVersion="2.0" creationDate="2024-03-01T09:00:00Z">
  <EPCISBody>
    <EventList>
{events}
    </EventList>
  </EPCISBody>
</epcis:EPCISDocument>"#
    )
}
