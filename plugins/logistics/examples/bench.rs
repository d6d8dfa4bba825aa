//! Times validation and hashing of the typical ≈2 KB ObjectEvent document natively (read,
//! every check, Event Hash ID, the report's JSON), as the plugin does per event, and
//! where the time goes (reading, checks and hashing, JSON output).
//!
//! `cargo run --release -p weft-plugin-logistics --example logistics-bench [-- ITERATIONS]`

use std::time::{Duration, Instant};

use weft_plugin_logistics::{json, report, sample, validate_document, xml};

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20000);
    let doc = sample::object_event_document();
    let report = validate_document(doc.as_bytes(), Some("application/ld+json"));
    assert!(report.valid, "{:?}", report.errors);
    let xml_doc = sample::object_event_document_xml();
    assert!(validate_document(xml_doc.as_bytes(), Some("application/xml")).valid);
    for (label, data, ct) in [
        ("JSON-LD ObjectEvent", doc.as_bytes(), "application/ld+json"),
        ("XML ObjectEvent", xml_doc.as_bytes(), "application/xml"),
    ] {
        let mut best = Duration::MAX;
        let start = Instant::now();
        for _ in 0..iterations {
            let t = Instant::now();
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
        // the phases, timed apart
        let text = std::str::from_utf8(data).expect("UTF-8");
        let (mut read, mut build, mut ser) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for _ in 0..iterations {
            let t0 = Instant::now();
            let d = if ct.contains("xml") {
                xml::read(text)
            } else {
                json::read(text)
            };
            let t1 = Instant::now();
            let r = report::build(d);
            let t2 = Instant::now();
            std::hint::black_box(serde_json::to_vec(&r).expect("serializes"));
            let t3 = Instant::now();
            read += t1 - t0;
            build += t2 - t1;
            ser += t3 - t2;
        }
        println!(
            "{:<28} read {:>9.3?}, checks + hash + summary {:>9.3?}, JSON output {:>9.3?} (means)",
            "",
            read / iterations,
            build / iterations,
            ser / iterations
        );
    }
}
