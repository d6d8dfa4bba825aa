//! Times validation and hashing of the typical ≈2 KB ObjectEvent document natively (read,
//! every check, Event Hash ID, the report's JSON), as the plugin does per event.
//!
//! `cargo run --release -p weft-plugin-logistics --example logistics-bench [-- ITERATIONS]`

use weft_plugin_logistics::{sample, validate_document};

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20000);
    let doc = sample::object_event_document();
    let report = validate_document(doc.as_bytes(), Some("application/ld+json"));
    assert!(report.valid, "{:?}", report.errors);
    let xml_doc = weft_plugin_logistics::sample::object_event_document_xml();
    assert!(validate_document(xml_doc.as_bytes(), Some("application/xml")).valid);
    for (label, data, ct) in [
        ("JSON-LD ObjectEvent", doc.as_bytes(), "application/ld+json"),
        ("XML ObjectEvent", xml_doc.as_bytes(), "application/xml"),
    ] {
        let mut best = std::time::Duration::MAX;
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            let t = std::time::Instant::now();
            let report = validate_document(data, Some(ct));
            std::hint::black_box(serde_json::to_vec(&report).expect("serializes"));
            best = best.min(t.elapsed());
        }
        let total = start.elapsed();
        let mean = total / iterations;
        println!(
            "{label:<22} {:>5} bytes: mean {mean:>9.3?}, best {best:>9.3?} per document, {:>8.0} documents/s ({iterations} runs)",
            data.len(),
            f64::from(iterations) / total.as_secs_f64()
        );
    }
}
