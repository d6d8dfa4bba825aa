//! The official EN 16931 example documents validate with no fatal error, and map to the
//! semantic model.

use weft_plugin_einvoice::validate::Rulesets;
use weft_plugin_einvoice::validate_xml;

fn load(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

const EN: Rulesets = Rulesets {
    en16931: true,
    peppol: false,
};

#[test]
fn ubl_invoice_example() {
    let r = validate_xml(&load("ubl-tc434-example1.xml"), EN).unwrap();
    assert!(r.valid, "{:?}", r.errors);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.syntax, "ubl-invoice");
    let inv = serde_json::to_value(&r.invoice).unwrap();
    assert_eq!(inv["invoice_number"], "12115118");
    assert_eq!(inv["invoice_issue_date"], "2015-01-09");
    assert_eq!(inv["seller"]["seller_vat_identifier"], "NL8200.98.395.B.01");
    assert_eq!(inv["invoice_line"].as_array().unwrap().len(), 20);
}

#[test]
fn ubl_credit_note_example() {
    let r = validate_xml(&load("ubl-tc434-creditnote1.xml"), EN).unwrap();
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(r.syntax, "ubl-creditnote");
    let inv = serde_json::to_value(&r.invoice).unwrap();
    assert_eq!(inv["invoice_type_code"], "381");
    assert!(!inv["invoice_line"].as_array().unwrap().is_empty());
}

#[test]
fn cii_example() {
    let r = validate_xml(&load("CII_example1.xml"), EN).unwrap();
    assert!(r.valid, "{:?}", r.errors);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.syntax, "cii");
    let inv = serde_json::to_value(&r.invoice).unwrap();
    assert_eq!(inv["invoice_number"], "12115118");
    assert_eq!(inv["invoice_issue_date"], "2015-01-09");
}

/// The UBL and CII examples describe the same invoice; their models agree wherever the
/// two files carry the same content (they differ in notes, IBAN, unit codes and two item
/// names).
#[test]
fn ubl_and_cii_examples_agree_on_shared_content() {
    let u = serde_json::to_value(
        validate_xml(&load("ubl-tc434-example1.xml"), EN)
            .unwrap()
            .invoice,
    )
    .unwrap();
    let c =
        serde_json::to_value(validate_xml(&load("CII_example1.xml"), EN).unwrap().invoice).unwrap();
    for key in [
        "invoice_number",
        "invoice_issue_date",
        "invoice_type_code",
        "invoice_currency_code",
        "document_totals",
        "vat_breakdown",
        "seller",
        "buyer",
    ] {
        if key == "seller" || key == "buyer" {
            // compare the names and postal addresses
            let name = format!("{key}_name");
            assert_eq!(u[key][&name], c[key][&name], "{key}");
            let addr = format!("{key}_postal_address");
            assert_eq!(u[key][&addr], c[key][&addr], "{key}");
            continue;
        }
        assert_eq!(u[key], c[key], "{key}");
    }
    let lines = |v: &serde_json::Value| -> Vec<(serde_json::Value, serde_json::Value)> {
        v["invoice_line"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["invoice_line_net_amount"].clone(),
                    l["price_details"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(lines(&u), lines(&c));
}

/// Generated UBL and CII with the same business content give identical JSON.
#[test]
fn same_content_same_json() {
    let u = validate_xml(&weft_plugin_einvoice::sample::ubl_invoice(10), EN).unwrap();
    let c = validate_xml(&weft_plugin_einvoice::sample::cii_invoice(10), EN).unwrap();
    assert!(u.valid && c.valid);
    assert_eq!(
        serde_json::to_string(&u.invoice).unwrap(),
        serde_json::to_string(&c.invoice).unwrap()
    );
}
