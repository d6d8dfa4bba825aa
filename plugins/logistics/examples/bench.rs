//! Times validation and hashing of the typical ≈2 KB ObjectEvent document natively (read,
//! every check, Event Hash ID, the report's JSON), as the plugin does per event, and
//! where the time goes (reading, checks and hashing, JSON output); then the plugin's whole
//! handler natively on the CloudEvent of `examples/sample_event.rs` — the native baseline
//! of `weft bench --plugin` on that event (`bench.sh` runs both and prints the ratio).
//!
//! `cargo run --release -p weft-plugin-logistics --example logistics-bench [-- ITERATIONS]`

use std::time::{Duration, Instant};

use weft_plugin_logistics::{json, report, sample, validate_document, xml};
use weft_sdk::{Event, testing::TestHost};

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
    // the handler as weft calls it, on the same event as `weft bench --plugin`
    let data: serde_json::Value = serde_json::from_str(&doc).expect("sample is JSON");
    let event = Event::new(
        "epcis-sample-1",
        "/wms/dc-frankfurt",
        "com.example.epcis.captured",
    )
    .with_subject("DESADV-88812")
    .with_data("application/ld+json", data.to_string());
    let host = TestHost::new();
    let out = host
        .call(weft_plugin_logistics::handle, event.clone())
        .expect("handled");
    assert_eq!(out[0].ty, "weft.epcis.validated");
    let start = Instant::now();
    for _ in 0..iterations {
        let out = host.call(weft_plugin_logistics::handle, event.clone());
        std::hint::black_box(out.expect("handled"));
    }
    let per_event = start.elapsed() / iterations;
    println!(
        "plugin handler, native (CloudEvent, {} bytes of data): {:>9.3} µs per event, {:>8.0} events/s",
        event.data.as_ref().map_or(0, Vec::len),
        per_event.as_secs_f64() * 1e6,
        1.0 / per_event.as_secs_f64()
    );
}
