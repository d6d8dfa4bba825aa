//! Differential test against the official EN 16931 validator: the XSLT generated from the
//! EN 16931 Schematron (`shared/standards/en16931/xslt/`, UBL and CII, each with the model,
//! syntax and code-list rules), run by SaxonC-HE (PyPI `saxonche`) in one Python process
//! (`tests/xslt_oracle.py`, each stylesheet compiled once).
//!
//! Variants of the bundled and shared example invoices and of generated invoices are made
//! deterministically (seeded): amounts changed, elements dropped, duplicated, emptied,
//! copied elsewhere or inserted (the names the syntax rules forbid or limit), codes, dates
//! and attributes changed, added or removed; and, for every syntax binding assert whose
//! context occurs in an example, one variant that breaks it there (the child or attribute
//! it forbids or limits, read from the Schematron). For every variant the XSLT can judge (a
//! dynamic error such as `xs:decimal('abc')` stops it), the plugin, run natively through
//! its Rust API with the EN 16931 rule set only, must report the same rules as the XSLT's
//! SVRL: the same multiset of (rule id, flag) pairs, so every node a rule failed on counts.
//!
//! One case is judged differently, where the reference is wrong: values written as a
//! negative zero (see [`without_negative_zeros`] and the README, "Where the official
//! validator is wrong").
//!
//! Environment: `WEFT_PYTHON` (the interpreter with `saxonche`; fallback
//! `~/.cache/weft/ci-venv/bin/python`, then `python3`), `WEFT_REQUIRE_TOOLS` (fail instead of
//! skipping when Python, `saxonche` or the XSLT files are missing),
//! `WEFT_EINVOICE_DIFF_VARIANTS` (variants per syntax, default 360),
//! `WEFT_EINVOICE_DIFF_SEED` (default 20), `WEFT_EINVOICE_DIFF_KEEP` (a folder to write
//! the disagreeing variants to).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use weft_plugin_einvoice::schematron::{self, Flag};
use weft_plugin_einvoice::validate;
use weft_plugin_einvoice::xpath::XDoc;

// ---------------------------------------------------------------------------------------
// Tools

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `shared/standards/en16931`, beside the repository.
fn standards() -> PathBuf {
    manifest().join("../../../shared/standards/en16931")
}

/// A tool is missing: fail under `WEFT_REQUIRE_TOOLS`, else say why the test is skipped.
fn missing(why: &str) {
    if std::env::var_os("WEFT_REQUIRE_TOOLS").is_some() {
        panic!("WEFT_REQUIRE_TOOLS is set but {why}");
    }
    eprintln!("SKIPPED: {why}");
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WEFT_PYTHON") {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let venv = Path::new(&home).join(".cache/weft/ci-venv/bin/python");
        if venv.exists() {
            return venv;
        }
    }
    PathBuf::from("python3")
}

fn oracle_script() -> PathBuf {
    manifest().join("tests/xslt_oracle.py")
}

/// Checks that Python with `saxonche` runs; the reason when it does not.
fn probe(py: &Path) -> Result<(), String> {
    let out = Command::new(py)
        .arg(oracle_script())
        .arg("--probe")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", py.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} cannot run SaxonC-HE (pip install saxonche, see .ci/requirements.txt): {}",
            py.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Deterministic randomness (SplitMix64)

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'t, T>(&mut self, items: &'t [T]) -> Option<&'t T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.below(items.len())])
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

// ---------------------------------------------------------------------------------------
// The documents as byte ranges

/// A byte range `(start, end)` in a document's text.
type Span = (usize, usize);

/// An element of a document, by byte offsets into its text.
#[derive(Clone, Debug)]
struct Elem {
    /// The whole element.
    start: usize,
    end: usize,
    /// The name as written (`cbc:ID`).
    qname: String,
    /// Offset of the `>` that ends the start tag.
    tag_end: usize,
    self_closing: bool,
    /// The content between the tags (not for `<x/>`).
    inner: Option<(usize, usize)>,
    /// Whether it has element children.
    has_children: bool,
    /// Attributes: (qualified name, whole range, value range).
    attrs: Vec<(String, Span, Span)>,
    /// The trimmed text of an element without element children.
    text: Option<String>,
    /// Index of the parent element.
    parent: Option<usize>,
}

impl Elem {
    fn local(&self) -> &str {
        self.qname.rsplit(':').next().unwrap_or(&self.qname)
    }
}

/// The elements (document order) and the prefixes declared on the root (namespace → prefix).
fn analyze(xml: &str) -> Result<(Vec<Elem>, BTreeMap<String, String>), String> {
    let doc = validate::parse(xml)?;
    let mut prefixes = BTreeMap::new();
    for ns in doc.root_element().namespaces() {
        if let Some(p) = ns.name() {
            prefixes.insert(ns.uri().to_string(), p.to_string());
        }
    }
    let bytes = xml.as_bytes();
    let mut elems: Vec<Elem> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        let r = n.range();
        while open.last().is_some_and(|&p| elems[p].end <= r.start) {
            open.pop();
        }
        let parent = open.last().copied();
        open.push(elems.len());
        let name_end = xml[r.start + 1..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .map(|i| r.start + 1 + i)
            .ok_or("unterminated start tag")?;
        let qname = xml[r.start + 1..name_end].to_string();
        // the start tag ends at the first `>` outside quotes
        let mut quote = 0u8;
        let mut tag_end = name_end;
        while tag_end < r.end {
            let b = bytes[tag_end];
            if quote != 0 {
                if b == quote {
                    quote = 0;
                }
            } else if b == b'"' || b == b'\'' {
                quote = b;
            } else if b == b'>' {
                break;
            }
            tag_end += 1;
        }
        let self_closing = bytes[tag_end - 1] == b'/';
        let inner = if self_closing {
            None
        } else {
            let close = r.start + xml[r.start..r.end].rfind("</").ok_or("no end tag")?;
            Some((tag_end + 1, close))
        };
        let has_children = n.children().any(|c| c.is_element());
        let text = match (has_children, inner) {
            (false, Some((a, b))) => {
                Some(n.text().unwrap_or("").trim().to_string()).filter(|_| a <= b)
            }
            (false, None) => Some(String::new()),
            _ => None,
        };
        let attrs = n
            .attributes()
            .map(|a| {
                let whole = a.range();
                let value = a.range_value();
                (
                    xml[a.range_qname()].to_string(),
                    (whole.start, whole.end),
                    (value.start, value.end),
                )
            })
            .collect();
        elems.push(Elem {
            start: r.start,
            end: r.end,
            qname,
            tag_end,
            self_closing,
            inner,
            has_children,
            attrs,
            text,
            parent,
        });
    }
    Ok((elems, prefixes))
}

fn splice(xml: &str, from: usize, to: usize, with: &str) -> String {
    format!("{}{}{}", &xml[..from], with, &xml[to..])
}

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let mut parts = s.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn is_iso_date(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

// ---------------------------------------------------------------------------------------
// Mutations

const KINDS: &[&str] = &[
    "amount",
    "drop",
    "duplicate",
    "empty",
    "code",
    "date",
    "attribute",
    "insert",
    "misplace",
];

/// Codes of the EN 16931 code lists and values that are none of them.
const CODES: &[&str] = &[
    "EUR",
    "USD",
    "SEK",
    "XXX",
    "eur",
    "380",
    "381",
    "384",
    "389",
    "751",
    "326",
    "71",
    "S",
    "Z",
    "E",
    "AE",
    "K",
    "G",
    "O",
    "L",
    "M",
    "B",
    "s",
    "VAT",
    "vat",
    "GST",
    "C62",
    "H87",
    "XPP",
    "ZZZ",
    "30",
    "31",
    "42",
    "49",
    "57",
    "58",
    "59",
    "97",
    "ZZ",
    "1",
    "0",
    "NO",
    "DE",
    "SE",
    "FR",
    "XI",
    "EL",
    "GB",
    "0088",
    "0192",
    "0208",
    "9930",
    "EM",
    "AAA",
    "AAB",
    "95",
    "102",
    "610",
    "TT",
    "AAC",
    "VATEX-EU-G",
    "VATEX-EU-IC",
    "VATEX-EU-AE",
    "vatex-eu-o",
    "ABC",
    " S",
    "S ",
    "130",
    "916",
    "50",
    "STI",
    "ZZZ-1",
    "text/csv",
    "application/pdf",
    "image/gif",
];

const DATES_ISO: &[&str] = &[
    "2024-02-29",
    "2023-02-29",
    "2024-13-01",
    "2024-01-32",
    "2024-1-5",
    "20240105",
    "2024-01-05T10:00:00",
    "2024-01-05Z",
    "1999-12-31",
    "2099-01-01",
    "",
    " 2024-01-05 ",
];

const DATES_102: &[&str] = &[
    "20240229",
    "20230229",
    "20241301",
    "20240132",
    "2024015",
    "202401055",
    "2024-01-05",
    "",
    "19991231",
    "20990101",
    " 20240105",
    "2024010A",
];

/// Attributes the binding rules talk about.
const ATTR_NAMES: &[&str] = &[
    "currencyID",
    "currencyCodeListVersionID",
    "schemeID",
    "schemeName",
    "schemeAgencyID",
    "schemeAgencyName",
    "schemeVersionID",
    "schemeDataURI",
    "schemeURI",
    "listID",
    "listAgencyID",
    "listVersionID",
    "listURI",
    "name",
    "languageID",
    "languageLocaleID",
    "unitCode",
    "unitCodeListID",
    "unitCodeListAgencyID",
    "unitCodeListAgencyName",
    "format",
    "mimeCode",
    "filename",
];

fn attr_values(name: &str) -> &'static [&'static str] {
    match name {
        "currencyID" => &["EUR", "USD", "SEK", "XXX", "eur", ""],
        "unitCode" => &["C62", "H87", "XPP", "QQQ", "c62", ""],
        "schemeID" => &[
            "0088", "0192", "0208", "9930", "EM", "SEPA", "XX", "", "VAT",
        ],
        "format" => &["102", "610", "203", "1", ""],
        "listID" => &["STI", "MP", "ZZZ", "6", ""],
        "mimeCode" => &["application/pdf", "text/csv", "image/gif", ""],
        _ => &["1", "X", ""],
    }
}

/// One mutation, chosen by kind; `None` when the document has nothing it applies to.
fn mutate(rng: &mut Rng, xml: &str, kind: &str, targets: &[Target]) -> Option<(String, String)> {
    let (elems, prefixes) = analyze(xml).ok()?;
    // never the root
    let body: Vec<&Elem> = elems.iter().skip(1).collect();
    let leaves: Vec<&Elem> = body.iter().copied().filter(|e| e.text.is_some()).collect();
    let aggregates: Vec<&Elem> = elems
        .iter()
        .filter(|e| e.has_children && !e.self_closing)
        .collect();
    let set_text = |e: &Elem, v: &str| -> String {
        match e.inner {
            Some((a, b)) => splice(xml, a, b, v),
            None => splice(
                xml,
                e.tag_end - 1,
                e.tag_end + 1,
                &format!(">{v}</{}>", e.qname),
            ),
        }
    };
    match kind {
        "amount" => {
            let cands: Vec<&Elem> = leaves
                .iter()
                .copied()
                .filter(|e| e.text.as_deref().is_some_and(is_decimal))
                .collect();
            let e = *rng.pick(&cands)?;
            let old = e.text.clone().unwrap_or_default();
            let new = amount_change(rng, &old);
            Some((
                set_text(e, &new),
                format!("amount {} {old} -> {new}", e.qname),
            ))
        }
        "drop" => {
            let e = *rng.pick(&body)?;
            Some((splice(xml, e.start, e.end, ""), format!("drop {}", e.qname)))
        }
        "duplicate" => {
            let e = *rng.pick(&body)?;
            let copy = &xml[e.start..e.end];
            Some((
                splice(xml, e.end, e.end, copy),
                format!("duplicate {}", e.qname),
            ))
        }
        "empty" => {
            let cands: Vec<&Elem> = leaves
                .iter()
                .copied()
                .filter(|e| e.text.as_deref().is_some_and(|t| !t.is_empty()))
                .collect();
            let e = *rng.pick(&cands)?;
            let with = if rng.chance(70) { "" } else { "  " };
            Some((set_text(e, with), format!("empty {} ({with:?})", e.qname)))
        }
        "code" => {
            let cands: Vec<&Elem> = leaves
                .iter()
                .copied()
                .filter(|e| {
                    let l = e.local();
                    l.ends_with("Code") || l.ends_with("ID") || l == "Percent"
                })
                .collect();
            let e = *rng.pick(&cands)?;
            let new = *rng.pick(CODES)?;
            Some((
                set_text(e, new),
                format!(
                    "code {} {:?} -> {new:?}",
                    e.qname,
                    e.text.as_deref().unwrap_or("")
                ),
            ))
        }
        "date" => {
            let cands: Vec<&Elem> = leaves
                .iter()
                .copied()
                .filter(|e| {
                    let t = e.text.as_deref().unwrap_or("");
                    is_iso_date(t) || (e.local() == "DateTimeString")
                })
                .collect();
            let e = *rng.pick(&cands)?;
            let pool = if e.local() == "DateTimeString" {
                DATES_102
            } else {
                DATES_ISO
            };
            let new = *rng.pick(pool)?;
            Some((
                set_text(e, new),
                format!(
                    "date {} {:?} -> {new:?}",
                    e.qname,
                    e.text.as_deref().unwrap_or("")
                ),
            ))
        }
        "attribute" => {
            if rng.chance(50) {
                // an attribute a syntax rule forbids, in that rule's context
                let (t, e) = pick_target(rng, targets, &elems, |c| matches!(c, Change::Attr(_)))?;
                return apply_target(rng, xml, &elems, &prefixes, t, e);
            }
            let e = *rng.pick(&body)?;
            let what = rng.below(3);
            if what == 0 && !e.attrs.is_empty() {
                let (name, whole, _) = rng.pick(&e.attrs)?.clone();
                Some((
                    splice(xml, whole.0, whole.1, ""),
                    format!("attribute {} remove @{name}", e.qname),
                ))
            } else if what == 1 && !e.attrs.is_empty() {
                let (name, _, value) = rng.pick(&e.attrs)?.clone();
                let new = *rng.pick(attr_values(&name))?;
                Some((
                    splice(xml, value.0, value.1, new),
                    format!("attribute {} @{name} -> {new:?}", e.qname),
                ))
            } else {
                let name = *rng.pick(ATTR_NAMES)?;
                if e.attrs.iter().any(|(n, _, _)| n == name) {
                    return None;
                }
                let value = *rng.pick(attr_values(name))?;
                let at = e.start + 1 + e.qname.len();
                Some((
                    splice(xml, at, at, &format!(" {name}=\"{value}\"")),
                    format!("attribute {} add @{name}={value:?}", e.qname),
                ))
            }
        }
        "insert" => {
            if rng.chance(80) {
                // a child a syntax rule forbids or limits, in that rule's context
                let (t, e) = pick_target(rng, targets, &elems, |c| matches!(c, Change::Child(_)))?;
                apply_target(rng, xml, &elems, &prefixes, t, e)
            } else {
                // any of those children anywhere
                let parent = *rng.pick(&aggregates)?;
                let paths: Vec<&Vec<(String, String)>> = targets
                    .iter()
                    .filter_map(|t| match &t.change {
                        Change::Child(p) => Some(p),
                        Change::Attr(_) => None,
                    })
                    .collect();
                let path = *rng.pick(&paths)?;
                let (ns, local) = path.last()?;
                let prefix = prefixes.get(ns)?;
                let value = *rng.pick(LEAF_VALUES)?;
                let child = format!("<{prefix}:{local}>{value}</{prefix}:{local}>");
                let (a, b) = parent.inner?;
                let at = if rng.chance(50) { a } else { b };
                Some((
                    splice(xml, at, at, &child),
                    format!("insert {prefix}:{local} into {}", parent.qname),
                ))
            }
        }
        "misplace" => {
            let e = *rng.pick(&body)?;
            let parent = *rng.pick(&aggregates)?;
            let (a, b) = parent.inner?;
            if parent.start <= e.start && e.end <= parent.end {
                // its own ancestor: a copy one level up would often be a duplicate
                if rng.chance(50) {
                    return None;
                }
            }
            let at = if rng.chance(50) { a } else { b };
            let copy = xml[e.start..e.end].to_string();
            Some((
                splice(xml, at, at, &copy),
                format!("misplace a copy of {} into {}", e.qname, parent.qname),
            ))
        }
        _ => None,
    }
}

fn amount_change(rng: &mut Rng, old: &str) -> String {
    let neg = old.starts_with('-');
    let abs = old.trim_start_matches('-');
    let (int, frac) = abs.split_once('.').unwrap_or((abs, ""));
    match rng.below(12) {
        0 => format!("{old}1"),
        1 => {
            if neg {
                abs.to_string()
            } else {
                format!("-{abs}")
            }
        }
        2 => "0".into(),
        3 => "0.00".into(),
        4 => "-0.00".into(),
        5 => int.to_string(),
        6 => format!("{int}.{frac}{}", if frac.is_empty() { "001" } else { "9" }),
        7 => {
            // one cent more or less
            let cents: i64 = format!("{int}{:0<2}", frac.get(..2).unwrap_or(frac))
                .parse()
                .unwrap_or(0);
            let v = if neg { -cents } else { cents } + if rng.chance(50) { 1 } else { -1 };
            format!(
                "{}{}.{:02}",
                if v < 0 { "-" } else { "" },
                v.abs() / 100,
                v.abs() % 100
            )
        }
        8 => format!("{}{}", if neg { "-" } else { "" }, int.len() as u64 * 7 + 1),
        9 => format!("{old}0"),
        10 => format!("+{abs}"),
        _ => format!(
            "{}{int}{}{frac}",
            if neg { "-" } else { "" },
            if frac.is_empty() { "" } else { "." }
        ),
    }
}

/// Values of inserted leaf elements.
const LEAF_VALUES: &[&str] = &["1", "X", "20240105", "2024-01-05", ""];

/// The namespaces of the prefixes the syntax binding rules use.
const RULE_NS: &[(&str, &str)] = &[
    (
        "cbc",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    ),
    (
        "cac",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    ),
    (
        "ext",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    ),
    (
        "ram",
        "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    ),
    (
        "rsm",
        "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    ),
    (
        "udt",
        "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    ),
    (
        "qdt",
        "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    ),
];

/// Which elements a syntax rule's context selects, by the last step of an alternative.
#[derive(Clone, Debug)]
enum CtxStep {
    Local(String),
    Suffix(String),
}

/// What a variant changes to break a syntax rule.
#[derive(Clone, Debug)]
enum Change {
    /// Adds this path of children (namespace, local name) below the context.
    Child(Vec<(String, String)>),
    /// Adds this attribute to the context.
    Attr(String),
}

/// Where and how to break one syntax binding assert.
#[derive(Clone, Debug)]
struct Target {
    ctx: Vec<CtxStep>,
    change: Change,
}

impl Target {
    fn matches(&self, e: &Elem) -> bool {
        self.ctx.iter().any(|c| match c {
            CtxStep::Local(l) => e.local() == l,
            CtxStep::Suffix(s) => e.local().ends_with(s.as_str()),
        })
    }
}

/// Splits `s` at `sep` outside brackets and parentheses.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut from = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&s[from..i]);
                from = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[from..]);
    out
}

/// The last steps of a context expression's alternatives.
fn context_steps(value: &str) -> Vec<CtxStep> {
    let mut out = Vec::new();
    for alt in split_top(value, '|') {
        let step = split_top(alt.trim(), '/')
            .last()
            .copied()
            .unwrap_or("")
            .trim();
        if let Some(i) = step.find("ends-with(name()") {
            let rest = &step[i..];
            if let Some(q) = rest.find('\'') {
                let suffix: String = rest[q + 1..].chars().take_while(|&c| c != '\'').collect();
                out.push(CtxStep::Suffix(suffix));
            }
            continue;
        }
        let name = step.split('[').next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or("");
        if !local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric()) {
            out.push(CtxStep::Local(local.to_string()));
        }
    }
    out
}

/// The first relative path of prefixed names (`cac:A/cbc:B`) or attribute in a test,
/// whichever comes first.
fn change_of(test: &str) -> Option<Change> {
    let bytes = test.as_bytes();
    let name_at = |i: usize| -> Option<(String, String, usize)> {
        let rest = &test[i..];
        let colon = rest.find(':')?;
        let prefix = &rest[..colon];
        let ns = RULE_NS.iter().find(|(p, _)| *p == prefix)?.1;
        let local: String = rest[colon + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if !local.starts_with(|c: char| c.is_ascii_uppercase()) {
            return None;
        }
        Some((ns.to_string(), local.clone(), i + colon + 1 + local.len()))
    };
    for i in 0..bytes.len() {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'/') {
            continue;
        }
        if bytes[i] == b'@' {
            let name: String = test[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            return (!name.is_empty()).then_some(Change::Attr(name));
        }
        if let Some((ns, local, mut end)) = name_at(i) {
            let mut path = vec![(ns, local)];
            while bytes.get(end) == Some(&b'/') {
                let Some((ns, local, next)) = name_at(end + 1) else {
                    break;
                };
                path.push((ns, local));
                end = next;
            }
            return Some(Change::Child(path));
        }
    }
    None
}

/// The syntax binding asserts of an abstract pattern and its binding, as [`Target`]s.
fn syntax_targets(abstract_file: &str, binding_file: &str) -> Vec<Target> {
    let read = |f: &str| {
        std::fs::read_to_string(manifest().join("rules/en16931").join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
    };
    let abs_text = read(abstract_file);
    let bind_text = read(binding_file);
    let abs = validate::parse(&abs_text).unwrap();
    let bind = validate::parse(&bind_text).unwrap();
    let params: BTreeMap<&str, &str> = bind
        .descendants()
        .filter(|n| n.tag_name().name() == "param")
        .map(|n| {
            (
                n.attribute("name").unwrap_or(""),
                n.attribute("value").unwrap_or(""),
            )
        })
        .collect();
    let param = |reference: &str| {
        params
            .get(reference.trim().trim_start_matches('$'))
            .copied()
    };
    let mut out = Vec::new();
    for rule in abs.descendants().filter(|n| n.tag_name().name() == "rule") {
        let Some(ctx) = param(rule.attribute("context").unwrap_or("")) else {
            continue;
        };
        let ctx = context_steps(ctx);
        if ctx.is_empty() {
            continue;
        }
        for a in rule.children().filter(|n| n.tag_name().name() == "assert") {
            if let Some(change) = param(a.attribute("test").unwrap_or("")).and_then(change_of) {
                out.push(Target {
                    ctx: ctx.clone(),
                    change,
                });
            }
        }
    }
    out
}

/// A target of the wanted kind and an element of `elems` in its context.
fn pick_target<'t, 'e>(
    rng: &mut Rng,
    targets: &'t [Target],
    elems: &'e [Elem],
    kind: impl Fn(&Change) -> bool,
) -> Option<(&'t Target, &'e Elem)> {
    let mine: Vec<&Target> = targets.iter().filter(|t| kind(&t.change)).collect();
    for _ in 0..30 {
        let t = *rng.pick(&mine)?;
        let hits: Vec<&Elem> = elems.iter().filter(|e| t.matches(e)).collect();
        if let Some(e) = rng.pick(&hits) {
            return Some((t, e));
        }
    }
    None
}

/// Breaks `t` at `e`: adds its child path below it, or its attribute to it.
fn apply_target(
    rng: &mut Rng,
    xml: &str,
    elems: &[Elem],
    prefixes: &BTreeMap<String, String>,
    t: &Target,
    e: &Elem,
) -> Option<(String, String)> {
    match &t.change {
        Change::Child(path) => insert_path(rng, xml, elems, e, path, prefixes),
        Change::Attr(name) => {
            let value = *rng.pick(attr_values(name))?;
            if let Some((_, _, range)) = e.attrs.iter().find(|(n, _, _)| n == name) {
                return Some((
                    splice(xml, range.0, range.1, value),
                    format!("attribute {} @{name} -> {value:?}", e.qname),
                ));
            }
            let at = e.start + 1 + e.qname.len();
            Some((
                splice(xml, at, at, &format!(" {name}=\"{value}\"")),
                format!("attribute {} add @{name}={value:?}", e.qname),
            ))
        }
    }
}

/// One variant per syntax rule target: the target broken in the first base document (in
/// rotation) that has an element in its context.
fn targeted_variants(
    rng: &mut Rng,
    syn: Syn,
    bases: &[&(Syn, String, String)],
    targets: &[Target],
) -> (Vec<Variant>, usize) {
    let analyzed: Vec<(Vec<Elem>, BTreeMap<String, String>)> =
        bases.iter().map(|b| analyze(&b.2).unwrap()).collect();
    let mut out = Vec::new();
    let mut inapplicable = 0;
    for (k, t) in targets.iter().enumerate() {
        let mut made = false;
        for j in 0..bases.len() {
            let b = (k + j) % bases.len();
            let (elems, prefixes) = &analyzed[b];
            let hits: Vec<&Elem> = elems.iter().filter(|e| t.matches(e)).collect();
            let Some(e) = rng.pick(&hits) else {
                continue;
            };
            if let Some((xml, what)) = apply_target(rng, &bases[b].2, elems, prefixes, t, e)
                && validate::parse(&xml).is_ok()
            {
                out.push(Variant {
                    syn,
                    base: bases[b].1.clone(),
                    what: vec![format!("target: {what}")],
                    xml,
                });
                made = true;
                break;
            }
        }
        if !made {
            inapplicable += 1;
        }
    }
    (out, inapplicable)
}

/// Adds `path` below `at`: follows the children that exist and inserts the rest.
fn insert_path(
    rng: &mut Rng,
    xml: &str,
    elems: &[Elem],
    at: &Elem,
    path: &[(String, String)],
    prefixes: &BTreeMap<String, String>,
) -> Option<(String, String)> {
    let mut cur = elems.iter().position(|x| x.start == at.start)?;
    let mut step = 0;
    while step + 1 < path.len() {
        let (_, local) = &path[step];
        match elems
            .iter()
            .enumerate()
            .find(|(_, c)| c.parent == Some(cur) && c.local() == local)
        {
            Some((i, _)) => cur = i,
            None => break,
        }
        step += 1;
    }
    let parent = &elems[cur];
    let (a, b) = parent.inner?;
    let mut open = String::new();
    let mut close = String::new();
    for (ns, local) in &path[step..] {
        let prefix = prefixes.get(ns)?;
        open.push_str(&format!("<{prefix}:{local}>"));
        close = format!("</{prefix}:{local}>{close}");
    }
    let value = *rng.pick(LEAF_VALUES)?;
    let child = format!("{open}{value}{close}");
    let pos = if rng.chance(50) { a } else { b };
    let shown: Vec<&str> = path.iter().map(|(_, l)| l.as_str()).collect();
    Some((
        splice(xml, pos, pos, &child),
        format!("insert {} below {}", shown.join("/"), at.qname),
    ))
}

// ---------------------------------------------------------------------------------------
// Variants

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Syn {
    Ubl,
    Cii,
}

impl Syn {
    fn name(self) -> &'static str {
        match self {
            Syn::Ubl => "ubl",
            Syn::Cii => "cii",
        }
    }
    fn schema(self) -> &'static str {
        match self {
            Syn::Ubl => "en16931-ubl",
            Syn::Cii => "en16931-cii",
        }
    }
}

struct Variant {
    syn: Syn,
    base: String,
    what: Vec<String>,
    xml: String,
}

/// The example invoices: the bundled copies, the shared standards folder (files with the
/// same content once), and generated invoices.
fn bases() -> Vec<(Syn, String, String)> {
    let mut out: Vec<(Syn, String, String)> = Vec::new();
    let mut add = |name: String, text: String| {
        if out.iter().any(|(_, _, t)| *t == text) {
            return;
        }
        let syn = if text.contains("CrossIndustryInvoice") {
            Syn::Cii
        } else {
            Syn::Ubl
        };
        out.push((syn, name, text));
    };
    for dir in [manifest().join("tests/data"), standards()] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            add(f.file_name().unwrap().to_string_lossy().into_owned(), text);
        }
    }
    for n in [1, 3] {
        add(
            format!("sample::ubl_invoice({n})"),
            weft_plugin_einvoice::sample::ubl_invoice(n),
        );
        add(
            format!("sample::cii_invoice({n})"),
            weft_plugin_einvoice::sample::cii_invoice(n),
        );
    }
    out
}

fn variants(seed: u64, per_syntax: usize) -> Vec<Variant> {
    let ubl_targets = syntax_targets("EN16931-syntax.sch", "EN16931-UBL-syntax.sch");
    let cii_targets = syntax_targets("EN16931-CII-syntax-abstract.sch", "EN16931-CII-syntax.sch");
    eprintln!(
        "syntax rule targets: UBL {}, CII {}",
        ubl_targets.len(),
        cii_targets.len()
    );
    assert!(ubl_targets.len() > 300 && cii_targets.len() > 300);
    let bases = bases();
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for syn in [Syn::Ubl, Syn::Cii] {
        let mine: Vec<&(Syn, String, String)> = bases.iter().filter(|b| b.0 == syn).collect();
        assert!(!mine.is_empty(), "no {} example invoice", syn.name());
        let targets = if syn == Syn::Ubl {
            &ubl_targets
        } else {
            &cii_targets
        };
        let mut made = 0;
        let mut attempts = 0;
        while made < per_syntax {
            attempts += 1;
            assert!(attempts < per_syntax * 50, "cannot make variants");
            let (_, base, text) = mine[made % mine.len()];
            let count = match rng.below(10) {
                0..=5 => 1,
                6..=8 => 2,
                _ => 3,
            };
            let mut xml = text.clone();
            let mut what = Vec::new();
            for _ in 0..count {
                let kind = *rng.pick(KINDS).unwrap();
                if let Some((next, desc)) = mutate(&mut rng, &xml, kind, targets)
                    && validate::parse(&next).is_ok()
                {
                    xml = next;
                    what.push(desc);
                }
            }
            if what.is_empty() {
                continue;
            }
            out.push(Variant {
                syn,
                base: base.clone(),
                what,
                xml,
            });
            made += 1;
        }
        let (targeted, inapplicable) = targeted_variants(&mut rng, syn, &mine, targets);
        eprintln!(
            "{}: {} targeted variants, {inapplicable} targets without their context in any example",
            syn.name(),
            targeted.len()
        );
        out.extend(targeted);
        out.extend(negative_zero_variants(syn, &mine));
    }
    out
}

/// For each example and each element name with a decimal value, one variant with the first
/// such value written as `-0.00`: where the reference compares it wrongly (see
/// [`without_negative_zeros`]).
fn negative_zero_variants(syn: Syn, bases: &[&(Syn, String, String)]) -> Vec<Variant> {
    let mut out = Vec::new();
    for (_, name, xml) in bases {
        let (elems, _) = analyze(xml).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for e in &elems {
            let Some((a, b)) = e.inner else {
                continue;
            };
            if e.text.as_deref().is_some_and(is_decimal)
                && e.local() != "DateTimeString"
                && seen.insert(e.qname.clone())
            {
                out.push(Variant {
                    syn,
                    base: name.clone(),
                    what: vec![format!("amount {} -> -0.00", e.qname)],
                    xml: splice(xml, a, b, "-0.00"),
                });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Both validators

type Fired = BTreeMap<(String, String), usize>;

fn flag_name(f: Flag) -> &'static str {
    match f {
        Flag::Fatal => "fatal",
        Flag::Warning => "warning",
        Flag::Information => "information",
    }
}

/// The plugin, natively: the EN 16931 rule set of the variant's syntax.
fn plugin_fired(v: &Variant) -> Result<Fired, String> {
    let doc = validate::parse(&v.xml)?;
    let x = XDoc::new(&doc, &schematron::PROGRAM);
    let mut findings = Vec::new();
    schematron::run(
        &x,
        schematron::schema(v.syn.schema()).unwrap(),
        &mut findings,
    );
    let mut out = Fired::new();
    for f in findings {
        *out.entry((f.id.to_string(), flag_name(f.flag).to_string()))
            .or_default() += 1;
    }
    Ok(out)
}

/// The XSLT's answers to `(syntax, document)` requests, in order: `Err` when it cannot judge
/// a document.
fn xslt_fired(py: &Path, docs: &[(Syn, &str)]) -> Vec<Result<Fired, String>> {
    let xslt = standards().join("xslt");
    let mut child = Command::new(py)
        .arg(oracle_script())
        .arg(xslt.join("EN16931-UBL-validation.xslt"))
        .arg(xslt.join("EN16931-CII-validation.xslt"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the XSLT oracle");
    let mut stdin = child.stdin.take().unwrap();
    let requests: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, (syn, xml))| {
            serde_json::json!({"id": i, "syntax": syn.name(), "xml": xml}).to_string() + "\n"
        })
        .collect();
    let writer = std::thread::spawn(move || {
        for r in requests {
            if stdin.write_all(r.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut answers = Vec::with_capacity(docs.len());
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.expect("read the oracle's answer");
        let a: serde_json::Value = serde_json::from_str(&line).expect("an answer is JSON");
        assert_eq!(
            a["id"].as_u64(),
            Some(answers.len() as u64),
            "answers in order"
        );
        if a["ok"] == true {
            let mut fired = Fired::new();
            for pair in a["fired"].as_array().unwrap() {
                let id = pair[0].as_str().unwrap().to_string();
                let flag = pair[1].as_str().unwrap().to_string();
                *fired.entry((id, flag)).or_default() += 1;
            }
            answers.push(Ok(fired));
        } else {
            answers.push(Err(a["error"].as_str().unwrap_or("").to_string()));
        }
    }
    writer.join().unwrap();
    let status = child.wait().expect("wait for the oracle");
    let err = err_reader.join().unwrap();
    let tail: String = err
        .chars()
        .skip(err.chars().count().saturating_sub(3000))
        .collect();
    assert!(
        status.success() && answers.len() == docs.len(),
        "the XSLT oracle stopped after {} of {} documents ({status}): {tail}",
        answers.len(),
        docs.len(),
    );
    answers
}

/// The one known error of the reference: SaxonC-HE 13 compares an untyped value written as
/// a negative zero with a fraction (`-0.00`) as *less than* zero
/// (`xs:untypedAtomic('-0.00') >= 0` is false, `= 0` is false, `< 0` is true), although XPath casts it to the
/// `xs:double` -0.0e0, which equals +0 (`xs:double('-0.00') >= 0` is true in SaxonC too, and
/// so is `xs:untypedAtomic('-0') >= 0`). So a variant with such a value is also given to
/// the XSLT with every negative zero written without its sign (the same number): the plugin
/// must agree with the XSLT's verdict on that copy. Returns the copy, or `None` when the
/// variant has no negative zero.
fn without_negative_zeros(xml: &str) -> Option<String> {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    let mut changed = false;
    // element content only: `>` optional blanks `-0` optional `.000` optional blanks `<`
    while let Some(i) = rest.find('>') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let end = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..end];
        let t = text.trim();
        let negative_zero = t
            .strip_prefix('-')
            .and_then(|u| u.strip_prefix('0'))
            .is_some_and(|u| {
                u.is_empty()
                    || u.strip_prefix('.')
                        .is_some_and(|f| f.bytes().all(|b| b == b'0'))
            });
        if negative_zero {
            out.push_str(&text.replacen('-', "", 1));
            changed = true;
        } else {
            out.push_str(text);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

fn describe(diff: &Fired) -> String {
    diff.iter()
        .map(|((id, flag), n)| {
            if *n == 1 {
                format!("{id} ({flag})")
            } else {
                format!("{id} ({flag}) x{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a` minus `b`, as multisets.
fn minus(a: &Fired, b: &Fired) -> Fired {
    let mut out = Fired::new();
    for (k, &n) in a {
        let m = b.get(k).copied().unwrap_or(0);
        if n > m {
            out.insert(k.clone(), n - m);
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    generated: usize,
    judged: usize,
    agreeing: usize,
    /// Variants with a negative zero where the XSLT's verdict changed without the sign.
    negative_zero: usize,
    negative_zero_rules: BTreeMap<String, usize>,
    /// How often each rule fired (in the XSLT's verdicts that were compared).
    fired_rules: BTreeMap<String, usize>,
    /// Why the XSLT could not judge (first words of the error).
    unjudged: BTreeMap<String, usize>,
}

#[test]
fn plugin_agrees_with_the_official_xslt_on_variants() {
    let xslt = standards().join("xslt");
    if !xslt.join("EN16931-UBL-validation.xslt").exists()
        || !xslt.join("EN16931-CII-validation.xslt").exists()
    {
        missing(&format!(
            "the official XSLT validators are not in {}",
            xslt.display()
        ));
        return;
    }
    let py = python();
    if let Err(why) = probe(&py) {
        missing(&why);
        return;
    }
    let seed = std::env::var("WEFT_EINVOICE_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let per_syntax = std::env::var("WEFT_EINVOICE_DIFF_VARIANTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(360);
    let started = std::time::Instant::now();
    let vs = variants(seed, per_syntax);
    // the XSLT judges every variant and, after them, the copies without negative zeros
    let copies: Vec<Option<String>> = vs.iter().map(|v| without_negative_zeros(&v.xml)).collect();
    let mut docs: Vec<(Syn, &str)> = vs.iter().map(|v| (v.syn, v.xml.as_str())).collect();
    let mut copy_at = vec![None; vs.len()];
    for (i, c) in copies.iter().enumerate() {
        if let Some(c) = c {
            copy_at[i] = Some(docs.len());
            docs.push((vs[i].syn, c.as_str()));
        }
    }
    // the plugin runs here while the XSLT runs in its own process
    let (reference, mine) = std::thread::scope(|s| {
        let oracle = s.spawn(|| xslt_fired(&py, &docs));
        let mine: Vec<Result<Fired, String>> = vs.iter().map(plugin_fired).collect();
        (oracle.join().unwrap(), mine)
    });
    let keep = std::env::var_os("WEFT_EINVOICE_DIFF_KEEP").map(PathBuf::from);
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, (v, got)) in vs.iter().zip(&mine).enumerate() {
        let t = tallies.entry(v.syn.name()).or_default();
        t.generated += 1;
        let want = match (&reference[i], copy_at[i].map(|j| &reference[j])) {
            (Err(e), _) | (_, Some(Err(e))) => {
                let key: String = e.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
                *t.unjudged.entry(key).or_default() += 1;
                continue;
            }
            (Ok(raw), None) => raw,
            (Ok(raw), Some(Ok(unsigned))) => {
                if raw != unsigned {
                    t.negative_zero += 1;
                    let changed = minus(raw, unsigned).into_iter().chain(minus(unsigned, raw));
                    for ((id, _), _) in changed {
                        *t.negative_zero_rules.entry(id).or_default() += 1;
                    }
                }
                unsigned
            }
        };
        t.judged += 1;
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!(
                    "#{i} {} {} [{}]: the plugin cannot read it: {e}",
                    v.syn.name(),
                    v.base,
                    v.what.join("; ")
                ));
                continue;
            }
        };
        for (id, _) in want.keys() {
            *t.fired_rules.entry(id.clone()).or_default() += 1;
        }
        if want == got {
            t.agreeing += 1;
            continue;
        }
        failures.push(format!(
            "#{i} {} {} [{}]:\n    only the XSLT: {}\n    only the plugin: {}",
            v.syn.name(),
            v.base,
            v.what.join("; "),
            describe(&minus(want, got)),
            describe(&minus(got, want))
        ));
        if let Some(dir) = &keep {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(
                dir.join(format!("variant-{i}-{}.xml", v.syn.name())),
                &v.xml,
            )
            .unwrap();
        }
    }
    for (syn, t) in &tallies {
        eprintln!(
            "{syn}: {} variants generated, {} judged by the XSLT, {} agreeing; {} distinct rules fired",
            t.generated,
            t.judged,
            t.agreeing,
            t.fired_rules.len()
        );
        eprintln!(
            "  negative zero (reference wrong, judged on the unsigned copy): {} variants, rules {:?}",
            t.negative_zero, t.negative_zero_rules
        );
        eprintln!("  not judged by the XSLT: {:?}", t.unjudged);
        eprintln!("  rules fired: {:?}", t.fired_rules);
    }
    eprintln!("seed {seed}, {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{} variants where the plugin and the official XSLT disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (syn, t) in &tallies {
        // the comparison must have substance: most variants judged, many rules exercised
        assert!(
            t.judged * 10 >= t.generated * 7,
            "{syn}: too few variants judged"
        );
        assert!(t.fired_rules.len() >= 40, "{syn}: too few rules fired");
    }
}
