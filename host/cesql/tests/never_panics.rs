//! Property test: random expressions (well-formed trees, token soup and arbitrary text)
//! against random events never panic, and every evaluation keeps the invariants: the value
//! has the expression's static type when it has one, `matches` agrees with `eval`, and
//! evaluating twice gives the same result. Fixed seeds, bounded count and time.

use std::time::{Duration, Instant};

use weft_cesql::{Evaluation, Expression, JsonEvent, Value};
use weft_event::Event;

const ATTRIBUTES: &[&str] = &[
    "id",
    "source",
    "type",
    "subject",
    "time",
    "specversion",
    "seq",
    "flag",
    "word",
    "num",
    "missing",
    "empty",
];
const FUNCTIONS: &[(&str, usize)] = &[
    ("LENGTH", 1),
    ("CONCAT", 0),
    ("CONCAT", 3),
    ("CONCAT_WS", 1),
    ("CONCAT_WS", 3),
    ("LOWER", 1),
    ("UPPER", 1),
    ("TRIM", 1),
    ("LEFT", 2),
    ("RIGHT", 2),
    ("SUBSTRING", 2),
    ("SUBSTRING", 3),
    ("ABS", 1),
    ("INT", 1),
    ("BOOL", 1),
    ("STRING", 1),
    ("IS_INT", 1),
    ("IS_BOOL", 1),
    ("NOPE", 1),
    ("ABS", 2),
];
const STRINGS: &[&str] = &[
    "",
    "a",
    "abc",
    "ABC",
    "true",
    "FALSE",
    "10",
    "-7",
    "2147483648",
    " 5",
    "日本語",
    "%",
    "_",
    "a\\%b",
    "it\\'s",
    "x y",
];
const INTS: &[i64] = &[0, 1, -1, 2, 7, -13, 100, 65536, 2147483647, -2147483648];
const BINARY: &[&str] = &[
    "+", "-", "*", "/", "%", "=", "!=", "<>", "<", "<=", ">", ">=", "AND", "OR", "XOR",
];

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

fn literal(rng: &mut fastrand::Rng) -> String {
    match rng.u8(..3) {
        0 => pick(rng, &["TRUE", "FALSE", "true", "False"]).to_string(),
        1 => pick(rng, INTS).to_string(),
        _ => format!("'{}'", pick(rng, STRINGS)),
    }
}

/// A well-formed expression of bounded depth.
fn expression(rng: &mut fastrand::Rng, depth: u32) -> String {
    if depth == 0 {
        return if rng.bool() {
            literal(rng)
        } else {
            pick(rng, ATTRIBUTES).to_string()
        };
    }
    let sub = |rng: &mut fastrand::Rng| expression(rng, depth - 1);
    match rng.u8(..10) {
        0 => format!("NOT {}", sub(rng)),
        1 => format!("-{}", sub(rng)),
        2 | 3 => {
            let (l, r) = (sub(rng), sub(rng));
            format!("{l} {} {r}", pick(rng, BINARY))
        }
        4 => format!(
            "{} {}LIKE '{}'",
            sub(rng),
            if rng.bool() { "NOT " } else { "" },
            pick(
                rng,
                &["%", "a%", "%c", "%b%", "a_c", "_", "a\\%", "", "日%"]
            )
        ),
        5 => {
            let n = rng.usize(1..4);
            let set: Vec<String> = (0..n).map(|_| sub(rng)).collect();
            format!(
                "{} {}IN ({})",
                sub(rng),
                if rng.bool() { "NOT " } else { "" },
                set.join(", ")
            )
        }
        6 => format!("EXISTS {}", pick(rng, ATTRIBUTES)),
        7 | 8 => {
            let (name, arity) = *pick(rng, FUNCTIONS);
            let args: Vec<String> = (0..arity).map(|_| sub(rng)).collect();
            format!("{name}({})", args.join(", "))
        }
        _ => format!("({})", sub(rng)),
    }
}

/// Tokens glued at random: mostly invalid, sometimes valid.
fn token_soup(rng: &mut fastrand::Rng) -> String {
    const TOKENS: &[&str] = &[
        "(",
        ")",
        ",",
        "'",
        "\"",
        "\\",
        "-",
        "+",
        "NOT",
        "LIKE",
        "IN",
        "EXISTS",
        "AND",
        "a",
        "1",
        "'x'",
        "ABS(",
        "%",
        "=",
        "<>",
        "日",
        "_",
        " ",
        "2147483648",
        "--",
        "\n",
    ];
    let n = rng.usize(0..16);
    (0..n).map(|_| *pick(rng, TOKENS)).collect()
}

/// Arbitrary characters, valid UTF-8.
fn noise(rng: &mut fastrand::Rng) -> String {
    let n = rng.usize(0..24);
    (0..n)
        .map(|_| {
            if rng.u8(..4) == 0 {
                rng.char(..)
            } else {
                char::from(rng.u8(0x20..0x7f))
            }
        })
        .collect()
}

fn random_event(rng: &mut fastrand::Rng) -> JsonEvent {
    let mut event = JsonEvent::from_event(Event::new("id-1", "/src", "com.example.t"));
    for name in ["seq", "flag", "word", "num", "empty", "subject", "time"] {
        if rng.u8(..4) == 0 {
            continue;
        }
        let set = match rng.u8(..3) {
            0 if name != "subject" && name != "time" => {
                event.set_integer(name, *pick(rng, INTS) as i32)
            }
            1 if name != "subject" && name != "time" => event.set_boolean(name, rng.bool()),
            _ => {
                let value = STRINGS[rng.usize(..STRINGS.len())];
                event.set_string(name, value)
            }
        };
        set.unwrap();
    }
    event
}

fn check(expression: &Expression, event: &JsonEvent) {
    let first: Evaluation = expression.eval_with(event);
    if let Some(ty) = expression.result_type() {
        assert_eq!(
            first.value.ty(),
            ty,
            "`{expression}`: value {:?} has the wrong type",
            first.value
        );
    }
    let passes = first.value == Value::Bool(true) && first.error.is_none();
    assert_eq!(
        expression.matches_with(event),
        passes,
        "`{expression}`: matches disagrees with eval {first:?}"
    );
    assert_eq!(
        expression.eval_with(event),
        first,
        "`{expression}` is not deterministic"
    );
    let _ = first.to_json_string();
    let unspecialized = Expression::parse_unspecialized(expression.source())
        .expect("parses like the specialized form");
    assert_eq!(
        unspecialized.eval_with(event),
        first,
        "`{expression}`: specialized and general forms disagree"
    );
}

#[test]
fn random_expressions_and_events_never_panic() {
    let budget = Duration::from_secs(20);
    let start = Instant::now();
    let mut rng = fastrand::Rng::with_seed(0x5eed_ce5d);
    let (mut parsed, mut rejected) = (0u32, 0u32);
    for i in 0..60_000u32 {
        if start.elapsed() > budget {
            break;
        }
        let text = match i % 4 {
            0 | 1 => {
                let depth = rng.u32(0..5);
                expression(&mut rng, depth)
            }
            2 => token_soup(&mut rng),
            _ => noise(&mut rng),
        };
        match Expression::parse(&text) {
            Ok(expression) => {
                parsed += 1;
                for _ in 0..3 {
                    check(&expression, &random_event(&mut rng));
                }
                // The same text always compiles to the same tree.
                assert_eq!(Expression::parse(expression.source()).unwrap(), expression);
            }
            Err(e) => {
                rejected += 1;
                assert_eq!(e.kind, weft_cesql::ErrorKind::Parse);
                assert!(
                    e.message.contains("column") || e.message.contains("empty"),
                    "{e}"
                );
            }
        }
    }
    eprintln!("random CESQL: {parsed} expressions evaluated, {rejected} rejected by the parser");
    assert!(
        parsed > 1000,
        "the generator should produce valid expressions"
    );
    assert!(
        rejected > 1000,
        "the generator should produce invalid expressions"
    );
}

#[test]
fn hostile_inputs_are_rejected_or_evaluated_without_panicking() {
    let event = random_event(&mut fastrand::Rng::with_seed(1));
    let long_string = format!("'{}' LIKE '{}'", "a".repeat(100_000), "%a".repeat(2_000));
    let inputs = [
        "(".repeat(10_000),
        ")".repeat(10_000),
        "NOT ".repeat(10_000) + "TRUE",
        "-".repeat(10_000) + "1",
        vec!["1"; 10_000].join(" + "),
        format!("1 IN ({})", vec!["1"; 10_000].join(", ")),
        format!("CONCAT({})", vec!["'ab'"; 10_000].join(", ")),
        long_string,
        "'\\".to_string(),
        "\"\\\"".to_string(),
        "\u{0}".to_string(),
        "ABS(".to_string(),
        "SUBSTRING('日本語', -2147483648, 2147483647)".to_string(),
        "SUBSTRING('日本語', 1, 2147483647)".to_string(),
        "LEFT('日本語', 2147483647)".to_string(),
        "RIGHT('日本語', -2147483648)".to_string(),
        "-2147483648 / -1 % 0 * 2147483647".to_string(),
    ];
    for input in inputs {
        if let Ok(expression) = Expression::parse(&input) {
            check(&expression, &event);
        }
    }
}
