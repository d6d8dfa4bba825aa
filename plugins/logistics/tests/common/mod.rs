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

// --- the standard's XML schemas as an oracle (tests/validate_epcis_xml.py) ---

fn python_with_xmlschema() -> Option<String> {
    let check = |p: &str| {
        std::process::Command::new(p)
            .args(["-c", "import xmlschema"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if let Ok(p) = std::env::var("WEFT_PYTHON") {
        return check(&p).then_some(p);
    }
    let venv = std::env::var("HOME")
        .map(|h| format!("{h}/.cache/weft/ci-venv/bin/python"))
        .ok();
    venv.into_iter()
        .chain(["python3".to_string()])
        .find(|p| check(p))
}

/// The XSD verdict per document (`None`: valid), from xmlschema on the standard's schema
/// files (`tests/data/epcis-xsd/`, copied unmodified); `None` when no Python with
/// xmlschema is available (then the caller skips, unless WEFT_REQUIRE_TOOLS is set).
pub fn xsd_verdicts(docs: &[String]) -> Option<Vec<Option<String>>> {
    use std::io::Write;
    let Some(py) = python_with_xmlschema() else {
        assert!(
            std::env::var_os("WEFT_REQUIRE_TOOLS").is_none(),
            "WEFT_REQUIRE_TOOLS is set but no Python with xmlschema was found"
        );
        eprintln!("SKIPPED: the XSD oracle needs Python with xmlschema (set WEFT_PYTHON)");
        return None;
    };
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut child = std::process::Command::new(py)
        .arg(format!("{dir}/tests/validate_epcis_xml.py"))
        .arg(format!("{dir}/tests/data/epcis-xsd"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    {
        let mut stdin = child.stdin.take().unwrap();
        for d in docs {
            writeln!(stdin, "{}", serde_json::Value::String(d.clone())).unwrap();
        }
    }
    let out = child.wait_with_output().expect("python output");
    assert!(out.status.success(), "the XSD validator failed");
    let verdicts: Vec<Option<String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| (l != "ok").then(|| l.to_string()))
        .collect();
    assert_eq!(verdicts.len(), docs.len(), "one verdict per document");
    Some(verdicts)
}
