//! Prints a CloudEvent (structured JSON) carrying the typical ≈2 KB EPCIS ObjectEvent
//! document: an input for `weft plugin run` or `weft bench --plugin`.
//!
//! `cargo run -p weft-plugin-logistics --example sample_event > epcis-event.json`

fn main() {
    let doc: serde_json::Value =
        serde_json::from_str(&weft_plugin_logistics::sample::object_event_document())
            .expect("sample is JSON");
    let event = serde_json::json!({
        "specversion": "1.0",
        "id": "epcis-sample-1",
        "source": "/wms/dc-frankfurt",
        "type": "com.example.epcis.captured",
        "subject": "DESADV-88812",
        "datacontenttype": "application/ld+json",
        "data": doc,
    });
    println!("{event}");
}
