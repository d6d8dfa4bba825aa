//! The plugin handler: event in, one event (or a failure) out, through the SDK test host.

use weft_plugin_einvoice::{TYPE_INVALID, TYPE_VALIDATED, handle, sample};
use weft_sdk::testing::TestHost;
use weft_sdk::{Event, Failure};

fn xml_event(xml: &str) -> Event {
    let mut e = Event::new("evt-1", "/erp/acme", "com.acme.invoice.received")
        .with_data("application/xml", xml.as_bytes().to_vec());
    e.set_extension(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    e
}

fn data(e: &Event) -> serde_json::Value {
    e.data_json().unwrap()
}

#[test]
fn valid_invoice_emits_validated_event() {
    let host = TestHost::new();
    let out = host
        .call(handle, xml_event(&sample::ubl_invoice(10)))
        .unwrap();
    assert_eq!(out.len(), 1);
    let e = &out[0];
    assert_eq!(e.ty, TYPE_VALIDATED);
    assert_eq!(e.id, format!("evt-1.{TYPE_VALIDATED}"));
    assert_eq!(e.source, "/erp/acme");
    assert_eq!(e.datacontenttype.as_deref(), Some("application/json"));
    assert_eq!(
        e.subject.as_deref(),
        Some("INV-2024-000123"),
        "subject falls back to the invoice number"
    );
    assert_eq!(
        e.extension("traceparent"),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    let d = data(e);
    assert_eq!(d["valid"], true);
    assert_eq!(d["syntax"], "ubl-invoice");
    assert_eq!(d["rulesets"], serde_json::json!(["en16931", "peppol"]));
    assert_eq!(d["errors"], serde_json::json!([]));
    assert_eq!(d["warnings"], serde_json::json!([]));
    assert_eq!(d["invoice"]["invoice_number"], "INV-2024-000123");
    assert_eq!(d["invoice"]["invoice_line"].as_array().unwrap().len(), 10);
}

#[test]
fn subject_is_kept() {
    let out = TestHost::new()
        .call(
            handle,
            xml_event(&sample::cii_invoice(2)).with_subject("order-77"),
        )
        .unwrap();
    assert_eq!(out[0].subject.as_deref(), Some("order-77"));
    assert_eq!(data(&out[0])["syntax"], "cii");
}

#[test]
fn invalid_invoice_emits_invalid_event_with_all_errors() {
    let xml = sample::ubl_invoice(3)
        .replacen("<cbc:ID>INV-2024-000123</cbc:ID>", "", 1)
        .replacen("<cbc:IssueDate>2024-03-15</cbc:IssueDate>", "", 1);
    let out = TestHost::new().call(handle, xml_event(&xml)).unwrap();
    assert_eq!(out[0].ty, TYPE_INVALID);
    let d = data(&out[0]);
    assert_eq!(d["valid"], false);
    let rules: Vec<&str> = d["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"BR-02") && rules.contains(&"BR-03"),
        "{rules:?}"
    );
    let first = &d["errors"][0];
    assert!(first["message"].as_str().unwrap().starts_with('['));
    assert_eq!(first["location"], "/Invoice");
}

#[test]
fn on_invalid_reject_dead_letters_with_the_report() {
    let host = TestHost::new().with_config("on_invalid", "reject");
    let xml = sample::ubl_invoice(3).replacen("<cbc:IssueDate>2024-03-15</cbc:IssueDate>", "", 1);
    match host.call(handle, xml_event(&xml)) {
        Err(Failure::Reject(reason)) => {
            assert!(reason.starts_with("invalid e-invoice: {"), "{reason}");
            let json: serde_json::Value =
                serde_json::from_str(reason.trim_start_matches("invalid e-invoice: ")).unwrap();
            assert_eq!(json["invoice_number"], "INV-2024-000123");
            assert_eq!(json["errors"][0]["rule"], "BR-03");
        }
        other => panic!("expected a reject, got {other:?}"),
    }
    // valid invoices still pass
    let out = host
        .call(handle, xml_event(&sample::ubl_invoice(2)))
        .unwrap();
    assert_eq!(out[0].ty, TYPE_VALIDATED);
}

#[test]
fn not_xml_is_a_permanent_failure() {
    let host = TestHost::new();
    let json = Event::new("1", "/s", "t").with_json(&serde_json::json!({"invoice": 1}));
    match host.call(handle, json) {
        Err(Failure::Reject(r)) => assert!(
            r.contains("not well-formed XML") && r.contains("application/json"),
            "{r}"
        ),
        other => panic!("{other:?}"),
    }
    match host.call(handle, xml_event("<Invoice><unclosed></Invoice>")) {
        Err(Failure::Reject(r)) => assert!(r.contains("not well-formed XML"), "{r}"),
        other => panic!("{other:?}"),
    }
    match host.call(handle, Event::new("1", "/s", "t")) {
        Err(Failure::Reject(r)) => assert!(r.contains("no data"), "{r}"),
        other => panic!("{other:?}"),
    }
    match host.call(handle, xml_event("<order xmlns=\"urn:example\"/>")) {
        Err(Failure::Reject(r)) => assert!(
            r.contains("not an e-invoice") && r.contains("{urn:example}order"),
            "{r}"
        ),
        other => panic!("{other:?}"),
    }
    let bytes = Event::new("1", "/s", "t").with_data("application/xml", vec![0xff, 0xfe, 0x00]);
    assert!(matches!(host.call(handle, bytes), Err(Failure::Reject(_))));
    // DTDs (entity expansion) are refused
    let dtd = "<!DOCTYPE Invoice [<!ENTITY a \"aaaa\">]><Invoice/>";
    assert!(matches!(
        host.call(handle, xml_event(dtd)),
        Err(Failure::Reject(_))
    ));
}

#[test]
fn rulesets_config() {
    let plain = sample::ubl_invoice(2).replace(
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
        "urn:cen.eu:en16931:2017",
    );
    let out = TestHost::new().call(handle, xml_event(&plain)).unwrap();
    assert_eq!(data(&out[0])["rulesets"], serde_json::json!(["en16931"]));
    let out = TestHost::new()
        .with_config("rulesets", "en16931, peppol")
        .call(handle, xml_event(&plain))
        .unwrap();
    let d = data(&out[0]);
    assert_eq!(d["rulesets"], serde_json::json!(["en16931", "peppol"]));
    assert_eq!(
        d["valid"], false,
        "the Peppol specification identifier rule fails"
    );
    let out = TestHost::new()
        .with_config("rulesets", "peppol")
        .call(handle, xml_event(&plain))
        .unwrap();
    assert_eq!(data(&out[0])["rulesets"], serde_json::json!(["peppol"]));
    match TestHost::new()
        .with_config("rulesets", "en16931,xrechnung")
        .call(handle, xml_event(&plain))
    {
        Err(Failure::Reject(r)) => assert!(r.contains("unknown ruleset `xrechnung`"), "{r}"),
        other => panic!("{other:?}"),
    }
    match TestHost::new()
        .with_config("on_invalid", "drop")
        .call(handle, xml_event(&plain))
    {
        Err(Failure::Reject(r)) => assert!(r.contains("on_invalid"), "{r}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn credit_note_and_china_invoice() {
    let cn = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ubl-tc434-creditnote1.xml"
    ))
    .unwrap();
    let out = TestHost::new().call(handle, xml_event(&cn)).unwrap();
    assert_eq!(out[0].ty, TYPE_VALIDATED);
    assert_eq!(data(&out[0])["syntax"], "ubl-creditnote");
    let out = TestHost::new()
        .call(handle, xml_event(&sample::cn_einvoice(2)))
        .unwrap();
    assert_eq!(out[0].ty, TYPE_VALIDATED);
    assert_eq!(data(&out[0])["syntax"], "cn-einvoice");
    assert_eq!(out[0].subject.as_deref(), Some("24312000000001234567"));
}
