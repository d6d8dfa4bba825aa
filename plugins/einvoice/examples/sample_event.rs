//! Prints a CloudEvent (structured JSON) carrying a generated ≈25 KB, 10-line UBL invoice:
//! an input for `weft plugin run` or `weft bench --plugin`.
//!
//! `cargo run -p weft-plugin-einvoice --example sample_event [-- LINES] > invoice-event.json`

fn main() {
    let lines = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let xml = weft_plugin_einvoice::sample::ubl_invoice(lines);
    let event = serde_json::json!({
        "specversion": "1.0",
        "id": "invoice-sample-1",
        "source": "/suppliers/sample",
        "type": "com.example.invoice.received",
        "datacontenttype": "application/xml",
        "data": xml,
    });
    println!("{event}");
}
