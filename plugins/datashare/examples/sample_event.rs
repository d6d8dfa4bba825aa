//! Prints sample inputs for `weft plugin run` / `weft bench --plugin`:
//! `share` (a shared-order event), `record` (a ≈2 KB record event), `policy` (the 10-rule
//! policy in Turtle), `sotw` (its state of the world).
//!
//! `cargo run -p weft-plugin-datashare --example sample_event -- share > share.json`

use serde_json::json;
use weft_plugin_datashare::sample;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "share".into());
    match what.as_str() {
        "share" => {
            let e = sample::share_event();
            let data: serde_json::Value = e.data_json().unwrap();
            println!(
                "{}",
                json!({"specversion": "1.0", "id": e.id, "source": e.source, "type": e.ty,
                       "subject": e.subject, "datacontenttype": "application/json", "data": data,
                       "recipient": e.extension("recipient"), "purpose": e.extension("purpose")})
            );
        }
        "record" => println!(
            "{}",
            json!({"specversion": "1.0", "id": "c-1", "source": "/crm", "type": "com.example.customer.updated",
                   "datacontenttype": "application/json", "data": sample::record_2kb()})
        ),
        "policy" => print!("{}", sample::policy_10_rules()),
        "sotw" => println!("{}", sample::SOTW),
        other => {
            eprintln!("unknown sample `{other}` (share, record, policy, sotw)");
            std::process::exit(2);
        }
    }
}
