//! Prints a CloudEvent (structured JSON) carrying a generated invoice: by default a
//! ≈25 KB, 10-line UBL invoice, with `cii` a CII invoice of the same content (≈35 KB): an
//! input for `weft plugin run` or `weft bench --plugin`.
//!
//! `cargo run -p weft-plugin-einvoice --example sample_event [-- LINES [ubl|cii]] > invoice-event.json`

fn main() {
    let mut args = std::env::args().skip(1);
    let lines = args.next().and_then(|n| n.parse().ok()).unwrap_or(10);
    let xml = match args.next().as_deref() {
        None | Some("ubl") => weft_plugin_einvoice::sample::ubl_invoice(lines),
        Some("cii") => weft_plugin_einvoice::sample::cii_invoice(lines),
        Some(other) => {
            eprintln!("unknown syntax `{other}` (ubl or cii)");
            std::process::exit(2);
        }
    };
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
