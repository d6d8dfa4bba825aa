//! Masking, pseudonymising or dropping personal information in JSON records, by JSON
//! pointer (configured fields and name fields) and by detection in every string
//! ([`crate::pii`]). The [`MaskReport`] says what was treated and where, never the values.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::pii::{self, Finding, KindSet, PiiKind};

/// What happens to a piece of personal information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Replace characters by `*`, keeping a tail (identifiers), the first character
    /// (names) or the first character and the domain (e-mail).
    Mask,
    /// Replace by `<kind>:<32 hex digits>` of HMAC-SHA256 under the configured secret:
    /// the same value gives the same pseudonym; without the key it cannot be linked back.
    Pseudonym,
    /// Remove: a whole value is removed from its object (`null` in an array), a finding
    /// inside a longer text is cut out.
    Drop,
}

impl Mode {
    /// Parses `mask`, `pseudonym` or `drop`.
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s.trim() {
            "mask" => Ok(Mode::Mask),
            "pseudonym" => Ok(Mode::Pseudonym),
            "drop" => Ok(Mode::Drop),
            other => Err(format!(
                "unknown masking mode `{other}` (expected mask, pseudonym or drop)"
            )),
        }
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Mask => "mask",
            Mode::Pseudonym => "pseudonym",
            Mode::Drop => "drop",
        }
    }
}

/// A configured field: a JSON pointer (`*` matches any key or index) and its treatment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRule {
    /// Pointer segments, unescaped (`~1` → `/`, `~0` → `~`).
    pub segments: Vec<String>,
    /// [`PiiKind::Name`] or [`PiiKind::Field`].
    pub kind: PiiKind,
    /// What to do with the value.
    pub mode: Mode,
}

/// The masking configuration.
#[derive(Debug, Clone)]
pub struct MaskConfig {
    /// Kinds detected in every string.
    pub detect: KindSet,
    /// Treatment of detected values and of fields without their own mode.
    pub mode: Mode,
    /// How many trailing characters `mask` keeps (at most half of the value).
    pub keep_tail: usize,
    /// Fields treated by pointer.
    pub fields: Vec<FieldRule>,
    /// The HMAC key of `pseudonym` mode.
    pub secret: Option<Vec<u8>>,
}

impl Default for MaskConfig {
    fn default() -> Self {
        MaskConfig {
            detect: KindSet::default(),
            mode: Mode::Mask,
            keep_tail: 4,
            fields: Vec::new(),
            secret: None,
        }
    }
}

impl MaskConfig {
    /// Builds the configuration from the plugin's keys: `mask.detect` (`all` or a comma
    /// list of `cn_id`, `uscc`, `mobile`, `bank_card`, `email`), `mask.mode`,
    /// `mask.keep_tail`, `mask.fields` and `mask.names` (comma lists of `POINTER` or
    /// `POINTER=MODE`) and `pseudonym_secret`.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<MaskConfig, String> {
        let mut c = MaskConfig::default();
        if let Some(d) = get("mask.detect") {
            for name in d.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if name == "all" {
                    c.detect = KindSet::all();
                    continue;
                }
                match PiiKind::from_name(name) {
                    Some(k) if PiiKind::DETECTABLE.contains(&k) => c.detect = c.detect.with(k),
                    _ => {
                        return Err(format!(
                            "mask.detect: unknown kind `{name}` (expected all, cn_id, uscc, mobile, bank_card, email)"
                        ));
                    }
                }
            }
        }
        if let Some(m) = get("mask.mode") {
            c.mode = Mode::parse(&m).map_err(|e| format!("mask.mode: {e}"))?;
        }
        if let Some(t) = get("mask.keep_tail") {
            c.keep_tail = t
                .trim()
                .parse()
                .map_err(|_| format!("mask.keep_tail: `{t}` is not a number"))?;
        }
        for (key, kind) in [
            ("mask.fields", PiiKind::Field),
            ("mask.names", PiiKind::Name),
        ] {
            if let Some(list) = get(key) {
                for entry in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let (pointer, mode) = match entry.rsplit_once('=') {
                        Some((p, m)) => (p, Mode::parse(m).map_err(|e| format!("{key}: {e}"))?),
                        None => (entry, c.mode),
                    };
                    c.fields.push(FieldRule {
                        segments: parse_pointer(pointer).map_err(|e| format!("{key}: {e}"))?,
                        kind,
                        mode,
                    });
                }
            }
        }
        c.secret = get("pseudonym_secret").map(String::into_bytes);
        let needs_secret =
            c.fields.iter().any(|f| f.mode == Mode::Pseudonym) || (c.mode == Mode::Pseudonym);
        if needs_secret && c.secret.as_ref().is_none_or(|s| s.is_empty()) {
            return Err("pseudonym mode needs `pseudonym_secret` (the HMAC key)".into());
        }
        Ok(c)
    }

    /// Whether this configuration changes anything.
    pub fn is_active(&self) -> bool {
        !self.detect.is_empty() || !self.fields.is_empty()
    }
}

/// Parses a JSON pointer (RFC 6901) into unescaped segments.
pub fn parse_pointer(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let rest = p
        .strip_prefix('/')
        .ok_or_else(|| format!("`{p}` is not a JSON pointer (it must start with `/`)"))?;
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// What was treated: counts per kind and the JSON pointers of the values, no values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskReport {
    /// Number of values treated per kind name.
    pub counts: BTreeMap<&'static str, u32>,
    /// Pointers of the values that were changed, in document order, without repeats.
    pub paths: Vec<String>,
}

impl MaskReport {
    /// Whether nothing was treated.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    pub(crate) fn record(&mut self, kind: PiiKind, path: &str) {
        *self.counts.entry(kind.name()).or_default() += 1;
        if self.paths.last().is_none_or(|p| p != path) {
            self.paths.push(path.to_string());
        }
    }

    /// The report as the compact JSON of the `piimasked` extension:
    /// `{"mode":"mask","counts":{"cn_id":1},"paths":["/buyer/id"]}`.
    pub fn to_extension(&self, mode: Mode) -> String {
        serde_json::json!({"mode": mode.name(), "counts": self.counts, "paths": self.paths})
            .to_string()
    }
}

/// Applies a masking configuration to JSON records.
pub struct Masker<'c> {
    config: &'c MaskConfig,
    findings: Vec<Finding>,
}

impl<'c> Masker<'c> {
    /// A masker for `config`.
    pub fn new(config: &'c MaskConfig) -> Self {
        Masker {
            config,
            findings: Vec::new(),
        }
    }

    /// Treats `value` in place and reports what was treated.
    pub fn apply(&mut self, value: &mut Value) -> MaskReport {
        let mut report = MaskReport::default();
        for rule in &self.config.fields {
            apply_field(
                rule,
                &rule.segments,
                value,
                &mut String::new(),
                self.config,
                &mut report,
            );
        }
        // a record that is entirely one dropped value becomes `null`
        if !self.config.detect.is_empty() && self.walk(value, None, &mut report) {
            *value = Value::Null;
        }
        report
    }

    fn walk(
        &mut self,
        value: &mut Value,
        at: Option<&PathNode<'_>>,
        report: &mut MaskReport,
    ) -> bool {
        match value {
            Value::String(s) => {
                pii::detect_into(s, self.config.detect, &mut self.findings);
                if self.findings.is_empty() {
                    return false;
                }
                let path = render_path(at);
                for f in &self.findings {
                    report.record(f.kind, &path);
                }
                let whole = self.findings.len() == 1
                    && self.findings[0].start == 0
                    && self.findings[0].end == s.len();
                if whole && self.config.mode == Mode::Drop {
                    return true;
                }
                *s = rewrite(s, &self.findings, self.config);
                false
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    let node = PathNode {
                        parent: at,
                        seg: PathSeg::Index(i),
                    };
                    if self.walk(item, Some(&node), report) {
                        *item = Value::Null;
                    }
                }
                false
            }
            Value::Object(map) => {
                let mut remove = Vec::new();
                for (k, v) in map.iter_mut() {
                    let node = PathNode {
                        parent: at,
                        seg: PathSeg::Key(k),
                    };
                    if self.walk(v, Some(&node), report) {
                        remove.push(k.clone());
                    }
                }
                for k in remove {
                    map.remove(&k);
                }
                false
            }
            _ => false,
        }
    }
}

/// A JSON pointer built on the stack while walking (rendered only for findings).
struct PathNode<'a> {
    parent: Option<&'a PathNode<'a>>,
    seg: PathSeg<'a>,
}

#[derive(Debug, Clone, Copy)]
enum PathSeg<'a> {
    Key(&'a str),
    Index(usize),
}

fn render_path(at: Option<&PathNode<'_>>) -> String {
    let mut segs = Vec::new();
    let mut n = at;
    while let Some(node) = n {
        segs.push(node.seg);
        n = node.parent;
    }
    let mut s = String::new();
    for seg in segs.iter().rev() {
        s.push('/');
        match seg {
            PathSeg::Key(k) if k.contains(['~', '/']) => {
                s.push_str(&k.replace('~', "~0").replace('/', "~1"))
            }
            PathSeg::Key(k) => s.push_str(k),
            PathSeg::Index(i) => {
                let _ = write!(s, "{i}");
            }
        }
    }
    s
}

/// Resolves a field rule (with `*` wildcards) and treats every value it reaches.
fn apply_field(
    rule: &FieldRule,
    segments: &[String],
    value: &mut Value,
    path: &mut String,
    config: &MaskConfig,
    report: &mut MaskReport,
) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let len = path.len();
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = if first == "*" {
                map.keys().cloned().collect()
            } else if map.contains_key(first) {
                vec![first.clone()]
            } else {
                Vec::new()
            };
            for k in keys {
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                if rest.is_empty() {
                    if rule.mode == Mode::Drop {
                        if map.remove(&k).is_some_and(|v| !v.is_null()) {
                            report.record(rule.kind, path);
                        }
                    } else if let Some(v) = map.get_mut(&k)
                        && treat_whole(v, rule, config)
                    {
                        report.record(rule.kind, path);
                    }
                } else if let Some(v) = map.get_mut(&k) {
                    apply_field(rule, rest, v, path, config, report);
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            let indexes: Vec<usize> = if first == "*" {
                (0..items.len()).collect()
            } else {
                first
                    .parse()
                    .ok()
                    .filter(|i| *i < items.len())
                    .into_iter()
                    .collect()
            };
            for i in indexes {
                let _ = write!(path, "/{i}");
                if rest.is_empty() {
                    if rule.mode == Mode::Drop {
                        if !items[i].is_null() {
                            items[i] = Value::Null;
                            report.record(rule.kind, path);
                        }
                    } else if treat_whole(&mut items[i], rule, config) {
                        report.record(rule.kind, path);
                    }
                } else {
                    apply_field(rule, rest, &mut items[i], path, config, report);
                }
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Masks or pseudonymises a whole configured value (strings and numbers; every scalar
/// inside objects and arrays). Returns whether anything changed.
fn treat_whole(value: &mut Value, rule: &FieldRule, config: &MaskConfig) -> bool {
    match value {
        Value::String(s) if !s.is_empty() => {
            *s = replacement(s, rule.kind, rule.mode, config);
            true
        }
        Value::Number(n) => {
            *value = Value::String(replacement(&n.to_string(), rule.kind, rule.mode, config));
            true
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |c, v| treat_whole(v, rule, config) | c),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |c, v| treat_whole(v, rule, config) | c),
        _ => false,
    }
}

/// The text with each finding replaced according to the configured mode.
pub(crate) fn rewrite(s: &str, findings: &[Finding], config: &MaskConfig) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for f in findings {
        out.push_str(&s[last..f.start]);
        out.push_str(&replacement(
            &s[f.start..f.end],
            f.kind,
            config.mode,
            config,
        ));
        last = f.end;
    }
    out.push_str(&s[last..]);
    out
}

/// The replacement of one value of `kind` in `mode`.
pub fn replacement(value: &str, kind: PiiKind, mode: Mode, config: &MaskConfig) -> String {
    match mode {
        Mode::Drop => String::new(),
        Mode::Pseudonym => pseudonym(
            config.secret.as_deref().unwrap_or_default(),
            kind,
            &normalize(value, kind),
        ),
        Mode::Mask => mask(value, kind, config.keep_tail),
    }
}

/// The canonical form a pseudonym is computed over, so that spellings of one value agree:
/// identifiers without separators, upper-case, mobiles without the country code, e-mail
/// lower-case, other values trimmed.
pub fn normalize(value: &str, kind: PiiKind) -> String {
    match kind {
        PiiKind::CnId | PiiKind::Uscc | PiiKind::BankCard => value
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        PiiKind::Mobile => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            digits[digits.len().saturating_sub(11)..].to_string()
        }
        PiiKind::Email => value.trim().to_lowercase(),
        PiiKind::Name | PiiKind::Field => value.trim().to_string(),
    }
}

/// `<kind>:<first 16 bytes of HMAC-SHA256(key, "<kind>:" + value) in hex>`.
pub fn pseudonym(key: &[u8], kind: PiiKind, normalized: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(kind.name().as_bytes());
    mac.update(b":");
    mac.update(normalized.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(kind.name().len() + 33);
    out.push_str(kind.name());
    out.push(':');
    for b in &tag[..16] {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Masks with `*`: identifiers keep their last `keep_tail` letters and digits (at most
/// half) and their separators, names their first character, e-mail addresses the first
/// character of the local part and the domain.
pub fn mask(value: &str, kind: PiiKind, keep_tail: usize) -> String {
    match kind {
        PiiKind::Email => match value.split_once('@') {
            Some((local, domain)) => {
                let first = local.chars().next().unwrap_or('*');
                format!("{first}***@{domain}")
            }
            None => "*".repeat(value.chars().count()),
        },
        PiiKind::Name => {
            let mut chars = value.chars();
            let first = chars.next().map(String::from).unwrap_or_default();
            first + &"*".repeat(chars.count())
        }
        PiiKind::Field => {
            let n = value.chars().count();
            let keep = keep_tail.min(n / 2);
            value
                .chars()
                .enumerate()
                .map(|(i, c)| if i < n - keep { '*' } else { c })
                .collect()
        }
        PiiKind::CnId | PiiKind::Uscc | PiiKind::Mobile | PiiKind::BankCard => {
            let n = value.chars().filter(char::is_ascii_alphanumeric).count();
            let keep = keep_tail.min(n / 2);
            let mut seen = 0;
            value
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        seen += 1;
                        if seen <= n - keep { '*' } else { c }
                    } else {
                        c
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(pairs: &[(&str, &str)]) -> Result<MaskConfig, String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MaskConfig::from_lookup(&|k| map.get(k).cloned())
    }

    #[test]
    fn masks_detected_values_keeping_a_tail() {
        let c = config(&[("mask.detect", "all")]).unwrap();
        let mut v = json!({
            "buyer": {"id": "11010519491231002X", "phone": "138-0013-8000", "mail": "li.si@example.cn"},
            "note": "pay to 4111 1111 1111 1111 please",
            "lines": [{"ref": "11010519491231003X"}]
        });
        let report = Masker::new(&c).apply(&mut v);
        assert_eq!(v["buyer"]["id"], "**************002X");
        assert_eq!(v["buyer"]["phone"], "***-****-8000");
        assert_eq!(v["buyer"]["mail"], "l***@example.cn");
        assert_eq!(v["note"], "pay to **** **** **** 1111 please");
        // wrong check digit: not an identity number, left alone
        assert_eq!(v["lines"][0]["ref"], "11010519491231003X");
        assert_eq!(report.counts.get("cn_id"), Some(&1));
        assert_eq!(report.counts.get("bank_card"), Some(&1));
        assert_eq!(
            report.paths,
            ["/buyer/id", "/buyer/mail", "/buyer/phone", "/note"]
        );
        let ext = report.to_extension(Mode::Mask);
        assert!(!ext.contains("002X") && !ext.contains("li.si"), "{ext}");
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_spelling_independent() {
        let c = config(&[
            ("mask.detect", "mobile,cn_id"),
            ("mask.mode", "pseudonym"),
            ("pseudonym_secret", "k1"),
        ])
        .unwrap();
        let mut a =
            json!({"p": "+86 138 0013 8000", "q": "13800138000", "id": "11010519491231002x"});
        Masker::new(&c).apply(&mut a);
        assert_eq!(a["p"], a["q"]);
        let p = a["p"].as_str().unwrap();
        assert!(
            p.starts_with("mobile:") && p.len() == "mobile:".len() + 32,
            "{p}"
        );
        assert_eq!(
            a["id"].as_str().unwrap(),
            pseudonym(b"k1", PiiKind::CnId, "11010519491231002X")
        );
        let other = config(&[
            ("mask.detect", "mobile"),
            ("mask.mode", "pseudonym"),
            ("pseudonym_secret", "k2"),
        ])
        .unwrap();
        let mut b = json!({"p": "13800138000"});
        Masker::new(&other).apply(&mut b);
        assert_ne!(a["p"], b["p"]);
        assert!(config(&[("mask.mode", "pseudonym"), ("mask.detect", "all")]).is_err());
    }

    #[test]
    fn fields_names_and_drop() {
        let c = config(&[
            ("mask.detect", "email"),
            ("mask.mode", "drop"),
            ("mask.names", "/contacts/*/name=mask"),
            ("mask.fields", "/account=mask,/secret"),
        ])
        .unwrap();
        let mut v = json!({
            "contacts": [{"name": "张三丰", "mail": "a@b.cn"}, {"name": "Li Si", "mail": "x a@b.cn"}],
            "account": 6222020200001234u64,
            "secret": "s",
        });
        let report = Masker::new(&c).apply(&mut v);
        assert_eq!(
            v,
            json!({
                "contacts": [{"name": "张**"}, {"name": "L****", "mail": "x "}],
                "account": "************1234",
            })
        );
        assert_eq!(report.counts.get("name"), Some(&2));
        assert_eq!(report.counts.get("field"), Some(&2));
        assert_eq!(report.counts.get("email"), Some(&2));
        assert!(config(&[("mask.fields", "account")]).is_err());
        assert!(config(&[("mask.detect", "passport")]).is_err());
    }
}
