//! The full JSON reports of the official example documents (UBL under EN 16931 alone and
//! with Peppol) and of the generated samples equal the committed ones in `tests/expected/`: a guard
//! for optimizations of the evaluator, which must not change any result.
//!
//! After an intended change of the reports, regenerate them with
//! `EINVOICE_BLESS=1 cargo test -p weft-plugin-einvoice --test report_snapshots`.

use weft_plugin_einvoice::validate::Rulesets;
use weft_plugin_einvoice::{sample, validate_xml};

fn documents() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut docs = Vec::new();
    for name in [
        "ubl-tc434-example1.xml",
        "ubl-tc434-creditnote1.xml",
        "CII_example1.xml",
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        docs.push((name.trim_end_matches(".xml").to_string(), text));
    }
    docs.push(("sample-ubl-3".into(), sample::ubl_invoice(3)));
    docs.push(("sample-cii-3".into(), sample::cii_invoice(3)));
    docs.push(("sample-cn-3".into(), sample::cn_einvoice(3)));
    docs
}

#[test]
fn reports_equal_the_committed_ones() {
    let bless = std::env::var_os("EINVOICE_BLESS").is_some();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/expected");
    let mut mismatches = Vec::new();
    for (name, xml) in documents() {
        // Peppol applies to UBL only, and the UBL sample carries the Peppol CustomizationID
        let variants: &[(&str, bool)] = if name.starts_with("ubl-") {
            &[("en16931", false), ("peppol", true)]
        } else {
            &[("en16931", false)]
        };
        for &(suffix, peppol) in variants {
            let report = validate_xml(
                &xml,
                Rulesets {
                    en16931: true,
                    peppol,
                },
            )
            .unwrap();
            let json = serde_json::to_string_pretty(&report).unwrap() + "\n";
            let path = format!("{dir}/{name}.{suffix}.json");
            if bless {
                std::fs::write(&path, &json).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{path}: {e} (set EINVOICE_BLESS=1 to create it)"));
            if expected != json {
                mismatches.push(path);
            }
        }
    }
    assert!(mismatches.is_empty(), "reports differ: {mismatches:?}");
}
