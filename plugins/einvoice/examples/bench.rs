//! Times validation of generated ≈20 KB, 10-line invoices (native): parse, all rules and
//! the EN 16931 model, as the plugin does per event.
//!
//! `cargo run --release -p weft-plugin-einvoice --example bench [-- ITERATIONS]`

use weft_plugin_einvoice::validate::Rulesets;
use weft_plugin_einvoice::{sample, validate_xml};

fn time(label: &str, xml: &str, rulesets: Rulesets, iterations: u32) {
    let report = validate_xml(xml, rulesets).expect("sample validates");
    assert!(report.valid, "{label}: {:?}", report.errors);
    let mut best = std::time::Duration::MAX;
    let mut total = std::time::Duration::ZERO;
    for _ in 0..iterations {
        let t = std::time::Instant::now();
        let report = validate_xml(xml, rulesets).expect("sample validates");
        std::hint::black_box(serde_json::to_vec(&report).expect("serializes"));
        let e = t.elapsed();
        best = best.min(e);
        total += e;
    }
    println!(
        "{label:<34} {:>6} bytes: mean {:>10.3?}, best {:>10.3?} per invoice ({iterations} runs)",
        xml.len(),
        total / iterations,
        best
    );
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let ubl = sample::ubl_invoice(10);
    let plain = ubl.replace(
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
        "urn:cen.eu:en16931:2017",
    );
    let en = Rulesets {
        en16931: true,
        peppol: false,
    };
    let both = Rulesets {
        en16931: true,
        peppol: true,
    };
    time("UBL, EN 16931 + Peppol", &ubl, both, iterations);
    time("UBL, EN 16931", &plain, en, iterations);
    time("CII, EN 16931", &sample::cii_invoice(10), en, iterations);
    time("China e-invoice", &sample::cn_einvoice(10), en, iterations);
}
