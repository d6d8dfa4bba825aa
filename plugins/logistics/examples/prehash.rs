//! Prints the pre-hash string and Event Hash ID of every event of an EPCIS document
//! (JSON/JSON-LD or XML, by file extension or content).
//!
//! `cargo run -p weft-plugin-logistics --example prehash -- FILE`

fn main() {
    let path = std::env::args().nth(1).expect("usage: prehash FILE");
    let data = std::fs::read(&path).expect("readable file");
    let ct = if path.ends_with(".xml") {
        "application/xml"
    } else {
        "application/json"
    };
    let doc = match weft_plugin_logistics::detect_format(&data, Some(ct)) {
        weft_plugin_logistics::Format::Xml => {
            weft_plugin_logistics::xml::read(std::str::from_utf8(&data).unwrap())
        }
        _ => weft_plugin_logistics::json::read(std::str::from_utf8(&data).unwrap()),
    };
    for e in &doc.errors {
        eprintln!("error: {} {} at {}", e.code, e.message, e.path);
    }
    for ev in &doc.events {
        let pre = weft_plugin_logistics::hash::pre_hash(ev, &doc.prefixes);
        println!("{pre}\n{}\n", weft_plugin_logistics::hash::hash_id(&pre));
    }
}
