//! Lists the compiled rules: counts per rule set and family, or every rule with `--list`.
//!
//! `cargo run -p weft-plugin-einvoice --example rules [-- --list]`

use std::collections::BTreeMap;

fn family(id: &str) -> String {
    let parts: Vec<&str> = id.split('-').collect();
    match parts.as_slice() {
        ["BR", x, _] if x.chars().all(|c| c.is_ascii_uppercase()) => format!("BR-{x}"),
        ["BR", _] => "BR (core)".into(),
        ["CN", _] => "CN".into(),
        ["PEPPOL", "EN16931", x] | ["PEPPOL", "COMMON", x] => {
            format!("{}-{}-{}", parts[0], parts[1], &x[..x.len().min(1)])
        }
        [a, b, ..] => format!("{a}-{b}"),
        _ => id.to_string(),
    }
}

fn main() {
    let list = std::env::args().any(|a| a == "--list");
    for schema in weft_plugin_einvoice::schematron::schemas() {
        let mut ids: BTreeMap<String, usize> = BTreeMap::new();
        let mut total = 0;
        for p in schema.patterns {
            for r in p.rules {
                for a in r.asserts {
                    total += 1;
                    *ids.entry(family(a.id)).or_default() += 1;
                    if list {
                        println!("{}\t{}\t{:?}\t{}", schema.name, a.id, a.flag, a.message);
                    }
                }
            }
        }
        if !list {
            println!(
                "{}: {} asserts in {} patterns",
                schema.name,
                total,
                schema.patterns.len()
            );
            for (f, n) in ids {
                println!("    {f:<24} {n}");
            }
            for d in schema.dropped {
                println!("    (left out: {d})");
            }
        }
    }
}
