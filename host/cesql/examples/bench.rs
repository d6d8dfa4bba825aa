//! Micro benchmark: nanoseconds per evaluation of compiled CESQL filters next to native
//! Rust closures computing the same predicate on the same event, in the same run.
//!
//! `cargo run -p weft-cesql --release --example bench [-- ITERATIONS [NAME-FILTER]]`

use std::hint::black_box;
use std::time::Instant;

use weft_cesql::Expression;
use weft_event::Event;

struct Case {
    name: &'static str,
    sql: &'static str,
    native: fn(&Event) -> bool,
}

fn sequence(e: &Event) -> Option<i32> {
    e.extensions.get("sequence")?.parse().ok()
}

const CASES: &[Case] = &[
    Case {
        name: "exact type",
        sql: "type = 'com.example.order.created'",
        native: |e| e.ty == "com.example.order.created",
    },
    Case {
        name: "prefix + integer ext",
        sql: "type LIKE 'com.example.%' AND sequence > 5",
        native: |e| e.ty.starts_with("com.example.") && sequence(e).is_some_and(|n| n > 5),
    },
    Case {
        name: "IN + EXISTS + math",
        sql: "source IN ('/erp/us', '/erp/eu', '/crm') AND EXISTS subject AND sequence % 2 = 0",
        native: |e| {
            ["/erp/us", "/erp/eu", "/crm"].contains(&e.source.as_str())
                && e.subject.is_some()
                && sequence(e).is_some_and(|n| n % 2 == 0)
        },
    },
    Case {
        name: "LOWER (allocates)",
        sql: "LOWER(region) = 'eu-west'",
        native: |e| {
            e.extensions
                .get("region")
                .is_some_and(|r| r.to_lowercase() == "eu-west")
        },
    },
];

/// Best of `rounds` timings of `iterations` calls, in ns per call.
fn time(iterations: u64, rounds: u32, mut f: impl FnMut() -> bool) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut passed = 0u64;
        for _ in 0..iterations {
            passed += u64::from(black_box(f()));
        }
        black_box(passed);
        best = best.min(start.elapsed().as_nanos() as f64 / iterations as f64);
    }
    best
}

fn main() {
    let iterations: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let mut event = Event::new("evt-1", "/erp/eu", "com.example.order.created");
    event.subject = Some("order-7".into());
    for (k, v) in [
        ("sequence", "42"),
        ("region", "EU-West"),
        ("traceparent", "00-abc-def-01"),
    ] {
        event.extensions.insert(k.into(), v.into());
    }
    println!(
        "{:<22} {:>12} {:>12} {:>12} {:>8}",
        "filter", "cesql ns", "cesql eval ns", "native ns", "ratio"
    );
    // Optional second argument: run only the cases whose name contains it.
    let only = std::env::args().nth(2).unwrap_or_default();
    for case in CASES.iter().filter(|c| c.name.contains(only.as_str())) {
        let expression = Expression::parse(case.sql).expect("benchmark expression parses");
        assert_eq!(
            expression.matches(&event),
            (case.native)(&event),
            "{}: CESQL and native disagree",
            case.name
        );
        let cesql = time(iterations, 5, || {
            black_box(&expression).matches(black_box(&event))
        });
        let eval = time(iterations, 5, || {
            black_box(&expression)
                .eval(black_box(&event))
                .error
                .is_none()
        });
        let native = time(iterations, 5, || (case.native)(black_box(&event)));
        println!(
            "{:<22} {cesql:>12.1} {eval:>12.1} {native:>12.1} {:>7.1}x",
            case.name,
            cesql / native
        );
    }
    let sql = CASES[2].sql;
    let parse = time(iterations / 20, 3, || {
        Expression::parse(black_box(sql)).is_ok()
    });
    println!("parse + compile of `{sql}`: {parse:.0} ns (once per filter)");
}
