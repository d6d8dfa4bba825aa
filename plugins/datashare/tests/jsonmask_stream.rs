//! The streaming masker ([`jsonmask::mask_json`]) against the tree-based one
//! ([`jsonmask::mask_bytes_tree`]) on generated records (escapes, unicode, nested arrays
//! and objects, numbers in many spellings, random spacing), under several
//! configurations; malformed and mutated texts are never accepted by the stream.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Number, Value};
use weft_plugin_datashare::jsonmask::{self, NotStreamed};
use weft_plugin_datashare::mask::{MaskConfig, MaskReport};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const STRINGS: &[&str] = &[
    "11010519491231002X",
    "11010519491231003X",
    "91350100M000100Y43",
    "13800138000",
    "+86 138-0013-8000",
    "138 0013 8000",
    "6222 0202 0000 0000 006",
    "4111111111111111",
    "4111111111111112",
    "li.si@example.cn",
    "x1@mail.example.org",
    "张三丰",
    "客户 13800138000 已确认，邮箱 zhang.san@example.com。",
    "身份证11010519491231002X，卡号 4111 1111 1111 1111",
    "a\"b\\c\n13800138000\t",
    "",
    "x",
    "😀 13800138000 😀",
    "é 4111111111111111.",
    "call 8613800138000",
    "PO-2024-0001",
    "2024-03-15",
    "/path/with~tilde",
    "\u{1}\u{1f}ctl",
    "order 12800138000",
];

const KEYS: &[&str] = &[
    "a", "b", "c", "contacts", "name", "x", "id", "0", "1", "k/ey", "t~x", "note", "phone", "名字",
    "e\"q",
];

fn number(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => Value::from(rng.below(1000) as u64),
        1 => Value::from(-(rng.below(1000) as i64)),
        2 => Value::from(6222020200001234u64),
        3 => Value::from(13800138000u64),
        4 => Number::from_f64(rng.below(10_000) as f64 / 8.0).map_or(Value::Null, Value::Number),
        _ => Number::from_f64(1.5e300).map_or(Value::Null, Value::Number),
    }
}

fn value(rng: &mut Rng, depth: usize) -> Value {
    let leaf = depth >= 4 || rng.below(3) == 0;
    if leaf {
        return match rng.below(10) {
            0 => Value::Null,
            1 => Value::Bool(rng.below(2) == 0),
            2 | 3 => number(rng),
            4 => {
                let a = rng.pick(STRINGS);
                let b = rng.pick(STRINGS);
                Value::String(format!("{a} {b}"))
            }
            _ => Value::String(rng.pick(STRINGS).to_string()),
        };
    }
    if rng.below(2) == 0 {
        let n = rng.below(5);
        Value::Array((0..n).map(|_| value(rng, depth + 1)).collect())
    } else {
        let n = rng.below(6);
        let mut m = Map::new();
        for _ in 0..n {
            m.insert(rng.pick(KEYS).to_string(), value(rng, depth + 1));
        }
        Value::Object(m)
    }
}

/// JSON text of `v` with random spacing, escapes (`\uXXXX`, surrogate pairs, `\/`) and
/// number spellings.
fn write(v: &Value, rng: &mut Rng, out: &mut String) {
    let ws = |rng: &mut Rng, out: &mut String| {
        let space: &&str = rng.pick(&["", "", " ", "\n  ", "\t", "\r\n"]);
        out.push_str(space);
    };
    ws(rng, out);
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let s = n.to_string();
            match (rng.below(4), n.as_u64()) {
                (0, Some(u)) if u > 0 => out.push_str(&format!("{u}e0")),
                (1, Some(u)) => out.push_str(&format!("{u}.0")),
                (2, Some(u)) if u % 10 == 0 && u > 0 => out.push_str(&format!("{}E1", u / 10)),
                _ => out.push_str(&s),
            }
        }
        Value::String(s) => write_string(s, rng, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, rng, out);
                ws(rng, out);
            }
            if items.is_empty() {
                ws(rng, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                write_string(k, rng, out);
                ws(rng, out);
                out.push(':');
                write(item, rng, out);
                ws(rng, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, rng: &mut Rng, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        let escape = rng.below(8) == 0;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str(if escape { "\\u0009" } else { "\\t" }),
            '/' if escape => out.push_str("\\/"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if escape => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn config(pairs: &[(&str, &str)]) -> MaskConfig {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    MaskConfig::from_lookup(&|k| map.get(k).cloned()).unwrap()
}

fn configs() -> Vec<(&'static str, MaskConfig)> {
    vec![
        ("detect all, mask", config(&[("mask.detect", "all")])),
        (
            "detect all, drop",
            config(&[("mask.detect", "all"), ("mask.mode", "drop")]),
        ),
        (
            "mobile and email, pseudonym",
            config(&[
                ("mask.detect", "mobile,email"),
                ("mask.mode", "pseudonym"),
                ("pseudonym_secret", "k"),
            ]),
        ),
        (
            "fields and names with wildcards, detect all",
            config(&[
                ("mask.detect", "all"),
                ("mask.names", "/contacts/*/name,/名字"),
                ("mask.fields", "/a=drop,/b/*=pseudonym,/c/0=mask,/x/1/id"),
                ("pseudonym_secret", "k"),
            ]),
        ),
        (
            "drop fields in any object, email dropped",
            config(&[
                ("mask.detect", "email,cn_id"),
                ("mask.mode", "drop"),
                ("mask.fields", "/*/x=drop,/*/t~0x=mask,/*/k~1ey/*=pseudonym"),
                ("pseudonym_secret", "k"),
            ]),
        ),
        (
            "fields only, keep a long tail",
            config(&[
                ("mask.fields", "/contacts/*/note,/phone=pseudonym,/1"),
                ("mask.keep_tail", "100"),
                ("mask.detect", "all"),
                ("pseudonym_secret", "k2"),
            ]),
        ),
        (
            "whole containers by pointer",
            config(&[
                ("mask.fields", "/contacts,/c/*=pseudonym,/e\"q=drop"),
                ("mask.detect", "bank_card"),
                ("pseudonym_secret", "k"),
            ]),
        ),
    ]
}

fn paths(r: &MaskReport) -> BTreeSet<String> {
    r.paths().into_iter().map(String::from).collect()
}

/// Compares the stream with the tree on `text`; the stream must handle it.
fn compare(name: &str, text: &str, c: &MaskConfig) {
    let stream = jsonmask::mask_json(text.as_bytes(), c).unwrap_or_else(|e| {
        panic!("{name}: the stream left a valid record to the tree ({e:?}): {text}")
    });
    let tree = jsonmask::mask_bytes_tree(text.as_bytes(), c).unwrap();
    let (s_out, s_report) = stream;
    let (t_out, t_report) = tree;
    assert_eq!(
        s_report.counts(),
        t_report.counts(),
        "{name}: counts\n{text}"
    );
    assert_eq!(paths(&s_report), paths(&t_report), "{name}: paths\n{text}");
    let original: Value = serde_json::from_str(text).unwrap();
    let t_value: Value = t_out
        .map(|o| serde_json::from_slice(&o).unwrap())
        .unwrap_or_else(|| original.clone());
    let s_bytes = if s_report.is_empty() {
        None
    } else {
        Some(s_out.unwrap_or_else(|| text.as_bytes().to_vec()))
    };
    let s_value: Value = s_bytes
        .as_ref()
        .map(|o| {
            serde_json::from_slice(o).unwrap_or_else(|e| {
                panic!(
                    "{name}: the stream wrote invalid JSON ({e}):\n{}\nfrom\n{text}",
                    String::from_utf8_lossy(o)
                )
            })
        })
        .unwrap_or(original);
    assert_eq!(
        s_value, t_value,
        "{name}: different records\ninput:  {text}\nstream: {s_value}\ntree:   {t_value}"
    );
    // the public entry point gives the same
    let (out, report) = jsonmask::mask_bytes(text.as_bytes(), c).unwrap();
    assert_eq!(report, s_report);
    assert_eq!(out, s_bytes);
}

#[test]
fn stream_matches_tree_on_generated_records() {
    let configs = configs();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut changed = 0;
    for _ in 0..1500 {
        let v = if rng.below(4) == 0 {
            // a record shaped like the ones the configurations point into
            let mut m = Map::new();
            for k in [
                "contacts", "a", "b", "c", "x", "phone", "名字", "k/ey", "t~x", "e\"q",
            ] {
                if rng.below(2) == 0 {
                    m.insert(k.into(), value(&mut rng, 1));
                }
            }
            Value::Object(m)
        } else {
            value(&mut rng, 0)
        };
        let mut text = String::new();
        write(&v, &mut rng, &mut text);
        for (name, c) in &configs {
            compare(name, &text, c);
            if !jsonmask::mask_json(text.as_bytes(), c)
                .unwrap()
                .1
                .is_empty()
            {
                changed += 1;
            }
        }
    }
    // the generator reaches personal information often enough to mean something
    assert!(changed > 3000, "only {changed} records changed");
}

#[test]
fn copies_untouched_bytes_and_rewrites_only_findings() {
    let c = config(&[("mask.detect", "all")]);
    let text =
        "{ \"b\" : [1.50, 1e2, \"ok\\u00e9\"],\n  \"a\": \"call 138 0013 8000 now\", \"z\":null }";
    let (out, report) = jsonmask::mask_json(text.as_bytes(), &c).unwrap();
    assert_eq!(
        String::from_utf8(out.unwrap()).unwrap(),
        "{ \"b\" : [1.50, 1e2, \"ok\\u00e9\"],\n  \"a\": \"call *** **** 8000 now\", \"z\":null }"
    );
    assert_eq!(report.paths(), ["/a"]);
    // nothing to do: no new text
    let (out, report) = jsonmask::mask_json(b"{\"a\": \"nothing here 12\"}", &c).unwrap();
    assert!(out.is_none() && report.is_empty());
}

#[test]
fn escaped_and_unicode_values_are_found_and_rewritten() {
    let c = config(&[("mask.detect", "all")]);
    // the mobile written with \u escapes, an e-mail with an escaped solidus before it, an
    // identity number after an astral character given as a surrogate pair
    let text = r#"["\u0031\u0033800138\u003000", "a\/b li.si@example.cn", "\ud83d\ude00 11010519491231002X", "\"q\" 4111111111111111\n"]"#;
    let (out, report) = jsonmask::mask_json(text.as_bytes(), &c).unwrap();
    let v: Value = serde_json::from_slice(&out.unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            "*******8000",
            "a/b l***@example.cn",
            "😀 **************002X",
            "\"q\" ************1111\n"
        ])
    );
    assert_eq!(report.counts().len(), 4);
}

#[test]
fn drop_removes_members_first_middle_and_last() {
    let c = config(&[("mask.detect", "mobile"), ("mask.mode", "drop")]);
    for (text, want) in [
        (r#"{"a":"13800138000","b":1}"#, r#"{"b":1}"#),
        (r#"{"b":1 , "a":"13800138000" }"#, r#"{"b":1 }"#),
        (
            r#"{"b":1, "a":"13800138000", "c":"13800138000", "d":2}"#,
            r#"{"b":1, "d":2}"#,
        ),
        (
            r#"{"b":1, "a":"13800138000", "c":"13800138000"}"#,
            r#"{"b":1}"#,
        ),
        (r#"{ "a":"13800138000", "c":"13800138000" }"#, r#"{  }"#),
        (r#"["13800138000", 1, "13800138000"]"#, r#"[null, 1, null]"#),
        (r#""13800138000""#, "null"),
    ] {
        let (out, _) = jsonmask::mask_json(text.as_bytes(), &c).unwrap();
        assert_eq!(String::from_utf8(out.unwrap()).unwrap(), want, "{text}");
        compare("drop", text, &c);
    }
}

#[test]
fn malformed_text_is_never_accepted_by_the_stream() {
    let c = config(&[("mask.detect", "all"), ("mask.fields", "/a=drop")]);
    for text in [
        "",
        "   ",
        "{",
        "{\"a\":1,}",
        "[1,]",
        "[1 2]",
        "{\"a\" 1}",
        "{'a':1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":1e}",
        "{\"a\":1e999}",
        "{\"a\":tru}",
        "\"\\x\"",
        "\"\\ud800\"",
        "\"\\ud800\\u0041\"",
        "\"a\u{1}b\"",
        "{\"a\":[1,{\"b\":2}]",
        "{} {}",
        "[1] x",
        "{\"a\":{\"b\":[1,2,}}",
        "NaN",
    ] {
        assert_eq!(
            jsonmask::mask_json(text.as_bytes(), &c).map(|_| ()),
            Err(NotStreamed::Malformed),
            "accepted {text:?}"
        );
        let err = jsonmask::mask_bytes(text.as_bytes(), &c).unwrap_err();
        assert_eq!(
            err,
            jsonmask::mask_bytes_tree(text.as_bytes(), &c).unwrap_err()
        );
    }
    // deep nesting goes to the tree, which has its own limit
    let deep = format!("{}1{}", "[".repeat(150), "]".repeat(150));
    assert!(jsonmask::mask_json(deep.as_bytes(), &c).is_err());
    assert!(jsonmask::mask_bytes(deep.as_bytes(), &c).is_err());
}

#[test]
fn mutated_records_are_rejected_or_masked_like_the_tree() {
    let configs = configs();
    let mut rng = Rng(42);
    let noise: &[&[u8]] = &[
        b",", b"]", b"}", b"\"", b"\\", b":", b"1", b" ", b"\\u00", b"e", b"-", b"\x01",
    ];
    for _ in 0..1500 {
        let v = value(&mut rng, 0);
        let mut text = String::new();
        write(&v, &mut rng, &mut text);
        let mut bytes = text.into_bytes();
        let at = rng.below(bytes.len() + 1);
        match rng.below(3) {
            0 => bytes.truncate(at),
            1 => {
                let n: &&[u8] = rng.pick(noise);
                bytes.splice(at..at, n.iter().copied());
            }
            _ => {
                if at < bytes.len() {
                    bytes.remove(at);
                }
            }
        }
        let (name, c) = rng.pick(&configs);
        let serde_ok = serde_json::from_slice::<Value>(&bytes).is_ok();
        let stream = jsonmask::mask_json(&bytes, c);
        if serde_ok {
            let text = String::from_utf8(bytes).unwrap();
            compare(name, &text, c);
        } else {
            assert!(
                stream.is_err(),
                "{name}: the stream accepted text serde_json rejects: {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

#[test]
fn overlapping_fields_go_to_the_tree() {
    let c = config(&[
        ("mask.fields", "/a,/a/b=pseudonym"),
        ("pseudonym_secret", "k"),
    ]);
    let text = br#"{"a": {"b": "x1", "c": "y2"}}"#;
    assert_eq!(
        jsonmask::mask_json(text, &c).map(|_| ()),
        Err(NotStreamed::OverlappingFields)
    );
    let (out, _) = jsonmask::mask_bytes(text, &c).unwrap();
    assert_eq!(out, jsonmask::mask_bytes_tree(text, &c).unwrap().0);
    let c = config(&[("mask.fields", "/*/1,/x/01")]);
    assert!(jsonmask::mask_json(text, &c).is_err());
}

/// FNV-1a, 64 bits: a digest of everything the maskers produce, no dependency.
struct Digest(u64);

impl Digest {
    fn add(&mut self, bytes: &[u8]) {
        for b in bytes.iter().chain(b"\x00") {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
}

/// Text built from the pieces detection looks at: digit runs of every length near the
/// identifiers', separators, country codes, letters, `@` and dots, CJK and emoji.
fn detection_text(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "11010519491231002X",
        "11010519491231002x",
        "440524188001010014",
        "91350100M000100Y43",
        "91110000802100433B",
        "13800138000",
        "19912345678",
        "12800138000",
        "8613800138000",
        "+86",
        "0086",
        "86",
        "138",
        "0013",
        "8000",
        "4111",
        "1111",
        "6222",
        "0202",
        "006",
        "4111111111111111",
        "6222020200000000006",
        "79927398713",
        "@",
        ".",
        "-",
        " ",
        "_",
        "+",
        "%",
        "li.si",
        "example",
        "cn",
        "com",
        "a",
        "Z9",
        "张",
        "，",
        "😀",
        "x@y",
        "mail.example.org",
    ];
    let n = 1 + rng.below(12);
    let mut s = String::new();
    for _ in 0..n {
        let piece: &&str = rng.pick(PIECES);
        s.push_str(piece);
        if rng.below(4) == 0 {
            let sep: &&str = rng.pick(&["", " ", "-", "@", "."]);
            s.push_str(sep);
        }
    }
    s
}

/// Masking output, reports and detection on a fixed set of generated inputs, summed up in
/// one digest: the optimised maskers must give exactly what the first implementation gave
/// (the digest was taken from it before the optimisation). A deliberate change of output
/// changes the digest: then check the differences and update it.
#[test]
fn outputs_are_unchanged_from_the_reference_implementation() {
    use weft_plugin_datashare::mask::{self, Mode};
    use weft_plugin_datashare::pii::{self, KindSet, PiiKind};
    let configs = configs();
    let mut rng = Rng(0x5EED_0FD1_6E57);
    let mut d = Digest(0xCBF2_9CE4_8422_2325);
    for _ in 0..600 {
        let v = value(&mut rng, 0);
        let mut text = String::new();
        write(&v, &mut rng, &mut text);
        for (_, c) in &configs {
            for result in [
                jsonmask::mask_bytes(text.as_bytes(), c),
                jsonmask::mask_bytes_tree(text.as_bytes(), c),
            ] {
                let (out, report) = result.unwrap();
                d.add(out.as_deref().unwrap_or(b"-"));
                d.add(report.to_extension(c.mode).as_bytes());
            }
        }
    }
    let kinds = [
        PiiKind::CnId,
        PiiKind::Uscc,
        PiiKind::Mobile,
        PiiKind::BankCard,
        PiiKind::Email,
        PiiKind::Name,
        PiiKind::Field,
    ];
    let c = config(&[("mask.keep_tail", "3"), ("pseudonym_secret", "key")]);
    let mut found = [0; 5];
    for _ in 0..4000 {
        let text = detection_text(&mut rng);
        for f in pii::detect(&text, KindSet::all()) {
            found[f.kind as usize] += 1;
            d.add(format!("{:?} {} {}", f.kind, f.start, f.end).as_bytes());
            for mode in [Mode::Mask, Mode::Pseudonym, Mode::Drop] {
                d.add(mask::replacement(&text[f.start..f.end], f.kind, mode, &c).as_bytes());
            }
        }
        let only = KindSet::default()
            .with(*rng.pick(&PiiKind::DETECTABLE))
            .with(*rng.pick(&PiiKind::DETECTABLE));
        for f in pii::detect(&text, only) {
            d.add(format!("{:?} {} {}", f.kind, f.start, f.end).as_bytes());
        }
        let kind = *rng.pick(&kinds);
        for mode in [Mode::Mask, Mode::Pseudonym] {
            d.add(mask::replacement(&text, kind, mode, &c).as_bytes());
        }
        let json = serde_json::to_string(&text).unwrap();
        for (_, c) in &configs {
            let (out, report) = jsonmask::mask_bytes(json.as_bytes(), c).unwrap();
            d.add(out.as_deref().unwrap_or(b"-"));
            d.add(report.to_extension(c.mode).as_bytes());
        }
    }
    // every detectable kind is found often
    assert!(found.iter().all(|n| *n > 100), "{found:?}");
    assert_eq!(d.0, 0xa390_7f7d_9f1f_6164, "digest {:#018x}", d.0);
}

/// The string scanner reads eight bytes at a time: quotes, escapes, control characters,
/// digits and `@` at every offset of a word, in ASCII and in CJK text, are found like
/// the tree finds them.
#[test]
fn word_boundaries_of_the_string_scan() {
    let configs = configs();
    let fillers = ["abcdefgh", "客户回访", "a b.c-d,", "ÄÖÜäöüß"];
    let specials = [
        "\\\"",
        "\\\\",
        "\\n",
        "\\u0031",
        "1",
        "@",
        "13800138000",
        "li.si@example.cn",
        "4111 1111 1111 1111",
    ];
    for filler in fillers {
        for special in specials {
            for before in 0..12 {
                for after in [0, 1, 7, 8, 9] {
                    let pre: String = filler.chars().cycle().take(before).collect();
                    let post: String = filler.chars().cycle().take(after).collect();
                    let text =
                        format!("{{\"k{pre}\":\"{pre}{special}{post}\",\"n\":[\"{post}\"]}}");
                    for (name, c) in &configs {
                        compare(name, &text, c);
                    }
                }
            }
        }
    }
    // an unterminated string and a raw control character at every offset
    for n in 0..20 {
        let text = format!("[\"{}", "a".repeat(n));
        assert!(jsonmask::mask_json(text.as_bytes(), &configs[0].1).is_err());
        let text = format!("[\"{}\u{1}\"]", "a".repeat(n));
        assert!(jsonmask::mask_json(text.as_bytes(), &configs[0].1).is_err());
    }
}

/// Numbers are never scanned by the detectors (the tree leaves them alone too), however
/// much they look like identifiers; a field rule treats them as the text `serde_json`
/// prints.
#[test]
fn numbers_that_look_like_identifiers() {
    let c = config(&[("mask.detect", "all")]);
    let text = r#"{"mobile": 13800138000, "card": 4111111111111111, "id": 110105194912310020, "neg": -13800138000, "f": 1.3800138e10}"#;
    let (out, report) = jsonmask::mask_json(text.as_bytes(), &c).unwrap();
    assert!(out.is_none() && report.is_empty());
    compare("numbers", text, &c);
    let c = config(&[("mask.detect", "all"), ("mask.fields", "/mobile,/f")]);
    let (out, report) = jsonmask::mask_json(text.as_bytes(), &c).unwrap();
    let v: Value = serde_json::from_slice(&out.unwrap()).unwrap();
    assert_eq!(v["mobile"], "*******8000");
    assert_eq!(v["f"], "*********00.0");
    assert_eq!(v["card"], 4111111111111111u64);
    assert_eq!(report.paths(), ["/mobile", "/f"]);
    compare("numbers, fields", text, &c);
}

/// The `piimasked` extension is written by hand: it is the JSON `serde_json` writes for
/// the same report, also for pointers that need escaping.
#[test]
fn report_extension_is_serde_json_of_the_report() {
    use weft_plugin_datashare::mask::Mode;
    let c = config(&[
        ("mask.detect", "all"),
        ("mask.names", "/contacts/*/name"),
        ("mask.fields", "/a\"b,/t~0x~1y,/c\\d"),
    ]);
    let text = "{\"contacts\":[{\"name\":\"张三\",\"m\":\"13800138000\"}],\"a\\\"b\":\"x\",\"t~x/y\":\"yy\",\"c\\\\d\":\"zz\",\"\\u0001\\n\":\"li.si@example.cn 11010519491231002X\"}";
    let (_, report) = jsonmask::mask_json(text.as_bytes(), &c).unwrap();
    assert_eq!(report.paths().len(), 6, "{:?}", report.paths());
    for mode in [Mode::Mask, Mode::Pseudonym, Mode::Drop] {
        let serde = serde_json::json!({"mode": mode.name(), "counts": report.counts(), "paths": report.paths()})
            .to_string();
        assert_eq!(report.to_extension(mode), serde);
    }
    let empty = MaskReport::default();
    assert_eq!(
        empty.to_extension(Mode::Mask),
        r#"{"counts":{},"mode":"mask","paths":[]}"#
    );
}
