//! Times the plugin's two hot paths natively: the sharing decision of a 10-rule ODRL
//! policy per event (policy parsed once) and masking a ≈2 KB JSON record (bytes in, bytes
//! out). The same work inside the sandbox: see the README (`weft bench --plugin`).
//!
//! `cargo run --release -p weft-plugin-datashare --example bench [-- ITERATIONS]`

use std::time::{Duration, Instant};

use weft_plugin_datashare::mask::{MaskConfig, Masker};
use weft_plugin_datashare::pii::KindSet;
use weft_plugin_datashare::{sample, share};

fn time(label: &str, iterations: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iterations / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per = t.elapsed() / iterations;
    println!(
        "{label:<44} {per:>10.3?} per event, {:>10.0} events/s ({iterations} runs)",
        1.0 / per.as_secs_f64()
    );
    per
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let policy = sample::policy_10_rules();
    let config = share::ShareConfig::from_lookup(&|k| match k {
        "policy" => Some(policy.clone()),
        "sotw" => Some(sample::SOTW.to_string()),
        _ => None,
    })
    .expect("sample policy parses")
    .expect("a policy is configured");
    let no_mask = MaskConfig::default();
    let event = sample::share_event();
    let out = share::share(&config, &no_mask, event.clone()).expect("shares");
    assert_eq!(
        out.events[0].extension("odrlrule"),
        Some("http://example.com/perm7")
    );
    time(
        "10-rule policy decision (permitted, 8th rule)",
        iterations,
        || {
            std::hint::black_box(share::share(&config, &no_mask, event.clone()).unwrap());
        },
    );

    let record = serde_json::to_vec(&sample::record_2kb()).unwrap();
    let mask = MaskConfig {
        detect: KindSet::all(),
        fields: vec![weft_plugin_datashare::mask::FieldRule {
            segments: vec!["contacts".into(), "*".into(), "name".into()],
            kind: weft_plugin_datashare::pii::PiiKind::Name,
            mode: weft_plugin_datashare::mask::Mode::Mask,
        }],
        ..MaskConfig::default()
    };
    time(
        "  baseline: JSON parse + serialize only",
        iterations,
        || {
            let v: serde_json::Value = serde_json::from_slice(&record).unwrap();
            std::hint::black_box(serde_json::to_vec(&v).unwrap());
        },
    );
    let parsed: serde_json::Value = serde_json::from_slice(&record).unwrap();
    time(
        "  detection and masking only (parsed record)",
        iterations,
        || {
            let mut v = parsed.clone();
            std::hint::black_box(Masker::new(&mask).apply(&mut v));
        },
    );
    time("  clone of the parsed record only", iterations, || {
        std::hint::black_box(parsed.clone());
    });
    let label = format!("masking a {} byte record (JSON in and out)", record.len());
    time(&label, iterations, || {
        let mut v: serde_json::Value = serde_json::from_slice(&record).unwrap();
        let report = Masker::new(&mask).apply(&mut v);
        std::hint::black_box((serde_json::to_vec(&v).unwrap(), report));
    });
}
