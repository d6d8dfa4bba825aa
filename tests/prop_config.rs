//! Property tests of configuration loading (issue 11 item 9): the shipped example configs
//! and one using every security key, mutated as text (bytes flipped, inserted, cut; lines
//! dropped, repeated, swapped) and as TOML (values replaced by values of other types,
//! unknown keys, `${VAR}` references, removed keys), never make `config::parse` panic;
//! every refusal names `file:line:column`; every accepted config serializes back to TOML
//! that parses to the same config. Bounded case counts; `PROPTEST_CASES` raises them.
//!
//! `config.rs` belongs to the `weft` binary, so it is compiled into this test as a module.

#[allow(dead_code, unused_imports)]
#[path = "../host/weft/src/config.rs"]
mod config;

use proptest::prelude::*;

const SECURITY: &str = r#"
[hub]
listen = "0.0.0.0:8443"
header_timeout_ms = 5000
max_connections = 64
max_batch_events = 100

[hub.tls]
cert = "tls/server.pem"
key = "tls/server.key"
client_ca = "tls/clients.pem"
reload_interval_ms = 1000

[auth]
metrics = "token"

[[auth.tokens]]
name = "erp"
token = "0123456789abcdef0123"
publish = ["orders", "invoices.*"]
read = ["invoices.checked"]

[[auth.tokens]]
name = "partner"
client_cert_subject = "CN=partner, O=Acme"
publish = ["orders"]

[[auth.tokens]]
name = "ops"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
client_cert_sha256 = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
admin = true

[sinks.hook]
type = "webhook"
url = "https://example.invalid/hook"

[[routes]]
name = "orders"
from = ["topic:orders"]
to = ["hook"]
"#;

fn seeds() -> &'static [(String, String)] {
    static SEEDS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(read_seeds)
}

fn read_seeds() -> Vec<(String, String)> {
    let mut seeds = vec![("security.toml".to_string(), SECURITY.to_string())];
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut paths: Vec<_> = std::fs::read_dir(&examples)
        .expect("examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        seeds.push((p.file_name().unwrap().to_string_lossy().into_owned(), text));
    }
    seeds
}

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(n),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Parses, and checks what every outcome must look like.
fn check(text: &str) -> Result<(), TestCaseError> {
    match config::parse(text, "w.toml") {
        Ok(parsed) => {
            // an accepted config survives serialization (unless a value holds a literal
            // `${`, which the serialized text would then reference as a variable)
            if let Ok(again) = toml::to_string(&parsed)
                && !again.contains("${")
            {
                let back = config::parse(&again, "again.toml");
                prop_assert!(
                    back.is_ok(),
                    "re-serialized config refused: {:?}\n{again}",
                    back.err()
                );
                prop_assert_eq!(
                    back.unwrap(),
                    parsed,
                    "re-serialized config differs\n{}",
                    again
                );
            }
        }
        Err(e) => {
            let problems = e.problems();
            prop_assert!(!problems.is_empty());
            for p in &problems {
                prop_assert!(p.starts_with("w.toml:"), "unlocated problem: {p}");
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum TextEdit {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, String),
    Cut(prop::sample::Index, usize),
    DropLine(prop::sample::Index),
    RepeatLine(prop::sample::Index),
    SwapLines(prop::sample::Index, prop::sample::Index),
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    let snippet = prop_oneof![
        Just("\"".to_string()),
        Just("[".to_string()),
        Just("]]".to_string()),
        Just("=".to_string()),
        Just("\n".to_string()),
        Just("${WEFT_PROP_UNSET}".to_string()),
        Just("${WEFT_PROP_UNSET:-x}".to_string()),
        Just("$${".to_string()),
        Just("\\u0000".to_string()),
        Just("99999999999999999999".to_string()),
        Just("-1".to_string()),
        Just("[hub.tls]\n".to_string()),
        Just("[[auth.tokens]]\n".to_string()),
        "[ -~]{0,12}",
        proptest::collection::vec(any::<char>(), 0..6).prop_map(|c| c.into_iter().collect()),
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| TextEdit::Flip(i, b)),
        (any::<prop::sample::Index>(), snippet).prop_map(|(i, s)| TextEdit::Insert(i, s)),
        (any::<prop::sample::Index>(), 1usize..40).prop_map(|(i, n)| TextEdit::Cut(i, n)),
        any::<prop::sample::Index>().prop_map(TextEdit::DropLine),
        any::<prop::sample::Index>().prop_map(TextEdit::RepeatLine),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| TextEdit::SwapLines(a, b)),
    ]
}

fn apply_text(text: &str, edits: &[TextEdit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let len = bytes.len().max(1);
        match edit {
            TextEdit::Flip(i, b) => {
                if !bytes.is_empty() {
                    let at = i.index(len);
                    bytes[at] = *b;
                }
            }
            TextEdit::Insert(i, s) => {
                let at = i.index(bytes.len() + 1);
                bytes.splice(at..at, s.bytes());
            }
            TextEdit::Cut(i, n) => {
                let at = i.index(bytes.len() + 1);
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            TextEdit::DropLine(i) | TextEdit::RepeatLine(i) | TextEdit::SwapLines(i, _) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<&str> = text.split('\n').collect();
                let at = i.index(lines.len());
                match edit {
                    TextEdit::DropLine(_) => {
                        lines.remove(at);
                    }
                    TextEdit::RepeatLine(_) => lines.insert(at, lines[at]),
                    TextEdit::SwapLines(_, j) => {
                        let other = j.index(lines.len());
                        lines.swap(at, other);
                    }
                    _ => unreachable!(),
                }
                bytes = lines.join("\n").into_bytes();
            }
        }
    }
    // parse takes text; invalid UTF-8 is what reading the file would refuse first
    String::from_utf8_lossy(&bytes).into_owned()
}

fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        (-1i64..100_000).prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        "[ -~]{0,16}".prop_map(toml::Value::String),
        Just(toml::Value::String("${WEFT_PROP_UNSET}".into())),
        Just(toml::Value::String(
            "${WEFT_PROP_UNSET:-127.0.0.1:0}".into()
        )),
        Just(toml::Value::String("topic:orders".into())),
        Just(toml::Value::String("*".into())),
        Just(toml::Value::String(String::new())),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// Every (path to a value) in a TOML tree, tables and arrays included.
fn paths(value: &toml::Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                at.push(k.clone());
                paths(v, at, out);
                at.pop();
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                at.push(format!("#{i}"));
                paths(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn get_mut<'a>(value: &'a mut toml::Value, path: &[String]) -> Option<&'a mut toml::Value> {
    let mut v = value;
    for step in path {
        v = match (v, step.strip_prefix('#')) {
            (toml::Value::Array(a), Some(i)) => a.get_mut(i.parse::<usize>().ok()?)?,
            (toml::Value::Table(t), None) => t.get_mut(step)?,
            _ => return None,
        };
    }
    Some(v)
}

#[derive(Debug, Clone)]
enum TreeEdit {
    Replace(prop::sample::Index, toml::Value),
    AddKey(prop::sample::Index, String, toml::Value),
    Remove(prop::sample::Index),
}

fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    let key = prop_oneof![
        Just("tls".to_string()),
        Just("tokens".to_string()),
        Just("client_cert_subject".to_string()),
        Just("client_cert_sha256".to_string()),
        Just("anonymous".to_string()),
        Just("listen".to_string()),
        Just("retry".to_string()),
        "[a-z_]{1,10}",
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), toml_value()).prop_map(|(i, v)| TreeEdit::Replace(i, v)),
        (any::<prop::sample::Index>(), key, toml_value())
            .prop_map(|(i, k, v)| TreeEdit::AddKey(i, k, v)),
        any::<prop::sample::Index>().prop_map(TreeEdit::Remove),
    ]
}

fn apply_tree(text: &str, edits: &[TreeEdit]) -> Option<String> {
    let mut root = toml::Value::Table(text.parse::<toml::Table>().ok()?);
    for edit in edits {
        let mut all = Vec::new();
        paths(&root, &mut Vec::new(), &mut all);
        match edit {
            TreeEdit::Replace(i, v) => {
                let path = &all[i.index(all.len())];
                if path.is_empty() {
                    continue; // the root stays a table
                }
                if let Some(slot) = get_mut(&mut root, path) {
                    *slot = v.clone();
                }
            }
            TreeEdit::AddKey(i, k, v) => {
                let path = &all[i.index(all.len())];
                if let Some(toml::Value::Table(t)) = get_mut(&mut root, path) {
                    t.insert(k.clone(), v.clone());
                }
            }
            TreeEdit::Remove(i) => {
                let path = &all[i.index(all.len())];
                let Some((last, parent)) = path.split_last() else {
                    continue;
                };
                match (get_mut(&mut root, parent), last.strip_prefix('#')) {
                    (Some(toml::Value::Table(t)), None) => {
                        t.remove(last);
                    }
                    (Some(toml::Value::Array(a)), Some(n)) => {
                        if let Ok(n) = n.parse::<usize>()
                            && n < a.len()
                        {
                            a.remove(n);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    toml::to_string(&root).ok()
}

#[test]
fn every_seed_parses() {
    for (name, text) in seeds() {
        let parsed = config::parse(text, name);
        assert!(parsed.is_ok(), "{name}: {:?}", parsed.err());
    }
}

proptest! {
    #![proptest_config(cases(384))]

    #[test]
    fn text_mutations_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(text_edit(), 1..6),
    ) {
        let seeds = seeds();
        let (_, text) = &seeds[seed.index(seeds.len())];
        check(&apply_text(text, &edits))?;
    }

    #[test]
    fn toml_mutations_never_panic(
        seed in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(tree_edit(), 1..5),
    ) {
        let seeds = seeds();
        let (_, text) = &seeds[seed.index(seeds.len())];
        if let Some(mutated) = apply_tree(text, &edits) {
            check(&mutated)?;
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in proptest::collection::vec(any::<char>(), 0..200)) {
        let text: String = text.into_iter().collect();
        check(&text)?;
    }
}
