//! Masking, pseudonymising or dropping personal information in JSON records, by JSON
//! pointer (configured fields and name fields) and by detection in every string
//! ([`crate::pii`]). The [`MaskReport`] says what was treated and where, never the values.

use std::cell::RefCell;
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
    /// Values treated, indexed by [`PiiKind`].
    counts: [u32; PiiKind::ALL.len()],
    /// The pointers one after the other (no allocation per pointer); `ends[i]` is where
    /// the i-th ends.
    text: String,
    ends: Vec<usize>,
}

impl MaskReport {
    /// Whether nothing was treated.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|n| *n == 0)
    }

    /// The number of values of `kind` treated.
    pub fn count(&self, kind: PiiKind) -> u32 {
        self.counts[kind as usize]
    }

    /// The number of values treated per kind name (kinds with none left out).
    pub fn counts(&self) -> BTreeMap<&'static str, u32> {
        PiiKind::ALL
            .into_iter()
            .filter(|k| self.count(*k) > 0)
            .map(|k| (k.name(), self.count(k)))
            .collect()
    }

    /// Pointers of the values that were changed, in document order, without repeats.
    pub fn paths(&self) -> Vec<&str> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let p = &self.text[start..end];
                start = end;
                p
            })
            .collect()
    }

    pub(crate) fn record(&mut self, kind: PiiKind, path: &str) {
        self.count_one(kind);
        let start = self.begin_path();
        self.text.push_str(path);
        self.end_path(start);
    }

    pub(crate) fn count_one(&mut self, kind: PiiKind) {
        self.counts[kind as usize] += 1;
    }

    /// Starts a pointer written straight into the report ([`MaskReport::path_text`],
    /// then [`MaskReport::end_path`]).
    pub(crate) fn begin_path(&mut self) -> usize {
        if self.text.capacity() == 0 {
            self.text.reserve(1024);
            self.ends.reserve(64);
        }
        self.text.len()
    }

    pub(crate) fn path_text(&mut self) -> &mut String {
        &mut self.text
    }

    /// Ends the pointer begun at `start`: kept unless it repeats the last one.
    pub(crate) fn end_path(&mut self, start: usize) {
        let prev = match self.ends.len() {
            0 => None,
            1 => Some(0),
            n => Some(self.ends[n - 2]),
        };
        if let Some(prev) = prev
            && self.text[prev..start] == self.text[start..]
        {
            self.text.truncate(start);
        } else {
            self.ends.push(self.text.len());
        }
    }

    /// The report as the compact JSON of the `piimasked` extension:
    /// `{"counts":{"cn_id":1},"mode":"mask","paths":["/buyer/id"]}` (keys in order, as
    /// `serde_json` writes a map).
    pub fn to_extension(&self, mode: Mode) -> String {
        let mut out = Vec::with_capacity(64 + self.text.len() + 3 * self.ends.len());
        out.extend_from_slice(b"{\"counts\":{");
        let mut first = true;
        for kind in PiiKind::BY_NAME {
            let n = self.count(kind);
            if n == 0 {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(kind.name().as_bytes());
            out.extend_from_slice(b"\":");
            push_decimal(&mut out, n as usize);
        }
        out.extend_from_slice(b"},\"mode\":\"");
        out.extend_from_slice(mode.name().as_bytes());
        out.extend_from_slice(b"\",\"paths\":[");
        for (i, p) in self.paths().into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            crate::jsonmask::write_json_string(&mut out, p);
        }
        out.extend_from_slice(b"]}");
        String::from_utf8(out).expect("JSON of UTF-8 pointers")
    }
}

/// Appends the decimal digits of `n`.
pub(crate) fn push_decimal(out: &mut Vec<u8>, n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
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
    let mut out = Vec::with_capacity(s.len() + 16);
    write_rewritten(&mut out, s, findings, config, false);
    String::from_utf8(out).expect("replacements are UTF-8")
}

/// Writes `s` with each finding replaced according to the configured mode; with `escape`,
/// the text between findings is escaped for a JSON string (replacements never need it).
pub(crate) fn write_rewritten(
    out: &mut Vec<u8>,
    s: &str,
    findings: &[Finding],
    config: &MaskConfig,
    escape: bool,
) {
    let mut last = 0;
    for f in findings {
        write_part(out, &s[last..f.start], escape);
        write_replacement(out, &s[f.start..f.end], f.kind, config.mode, config);
        last = f.end;
    }
    write_part(out, &s[last..], escape);
}

fn write_part(out: &mut Vec<u8>, s: &str, escape: bool) {
    if escape {
        crate::jsonmask::write_json_escaped(out, s);
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// The replacement of one value of `kind` in `mode`.
pub fn replacement(value: &str, kind: PiiKind, mode: Mode, config: &MaskConfig) -> String {
    let mut out = Vec::with_capacity(value.len() + 8);
    write_replacement(&mut out, value, kind, mode, config);
    String::from_utf8(out).expect("replacements are UTF-8")
}

/// Writes the replacement of one value of `kind` in `mode` ([`replacement`]) to `out`.
pub(crate) fn write_replacement(
    out: &mut Vec<u8>,
    value: &str,
    kind: PiiKind,
    mode: Mode,
    config: &MaskConfig,
) {
    match mode {
        Mode::Drop => {}
        Mode::Pseudonym => write_pseudonym(
            out,
            config.secret.as_deref().unwrap_or_default(),
            kind,
            value,
        ),
        Mode::Mask => write_mask(out, value, kind, config.keep_tail),
    }
}

/// The canonical form a pseudonym is computed over, so that spellings of one value agree:
/// identifiers without separators, upper-case, mobiles without the country code, e-mail
/// lower-case, other values trimmed.
pub fn normalize(value: &str, kind: PiiKind) -> String {
    let mut out = Vec::with_capacity(value.len());
    feed_normalized(value, kind, &mut |b| out.extend_from_slice(b));
    String::from_utf8(out).expect("normalised text is UTF-8")
}

/// Gives the normalised form of `value` ([`normalize`]) to `sink` in pieces, without
/// allocating (except for non-ASCII e-mail text).
fn feed_normalized(value: &str, kind: PiiKind, sink: &mut dyn FnMut(&[u8])) {
    let mut buf = [0u8; 64];
    let mut n = 0;
    let mut push = |b: u8, sink: &mut dyn FnMut(&[u8])| {
        buf[n] = b;
        n += 1;
        if n == buf.len() {
            sink(&buf);
            n = 0;
        }
    };
    match kind {
        PiiKind::CnId | PiiKind::Uscc | PiiKind::BankCard => {
            for &b in value.as_bytes() {
                if b.is_ascii_alphanumeric() {
                    push(b.to_ascii_uppercase(), sink);
                }
            }
        }
        PiiKind::Mobile => {
            let digits = value.bytes().filter(u8::is_ascii_digit).count();
            let skip = digits.saturating_sub(11);
            for &b in value
                .as_bytes()
                .iter()
                .filter(|b| b.is_ascii_digit())
                .skip(skip)
            {
                push(b, sink);
            }
        }
        PiiKind::Email => {
            let t = value.trim();
            if !t.is_ascii() {
                sink(t.to_lowercase().as_bytes());
                return;
            }
            for &b in t.as_bytes() {
                push(b.to_ascii_lowercase(), sink);
            }
        }
        PiiKind::Name | PiiKind::Field => {
            sink(value.trim().as_bytes());
            return;
        }
    }
    sink(&buf[..n]);
}

/// The HMAC-SHA256 state keyed with `key`, kept per thread: a pseudonym clones it instead
/// of hashing the key again.
fn keyed(key: &[u8]) -> Hmac<Sha256> {
    thread_local! {
        static KEYED: RefCell<Option<(Vec<u8>, Hmac<Sha256>)>> = const { RefCell::new(None) };
    }
    KEYED.with(|cell| {
        let mut cell = cell.borrow_mut();
        if let Some((k, mac)) = &*cell
            && k == key
        {
            return mac.clone();
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        *cell = Some((key.to_vec(), mac.clone()));
        mac
    })
}

/// `<kind>:<first 16 bytes of HMAC-SHA256(key, "<kind>:" + value) in hex>`.
pub fn pseudonym(key: &[u8], kind: PiiKind, normalized: &str) -> String {
    let mut mac = keyed(key);
    mac.update(kind.name().as_bytes());
    mac.update(b":");
    mac.update(normalized.as_bytes());
    let mut out = Vec::with_capacity(kind.name().len() + 33);
    finish_pseudonym(&mut out, mac, kind);
    String::from_utf8(out).expect("ASCII")
}

/// Writes the pseudonym of `value` (normalised on the way) to `out`.
fn write_pseudonym(out: &mut Vec<u8>, key: &[u8], kind: PiiKind, value: &str) {
    let mut mac = keyed(key);
    mac.update(kind.name().as_bytes());
    mac.update(b":");
    feed_normalized(value, kind, &mut |b| mac.update(b));
    finish_pseudonym(out, mac, kind);
}

fn finish_pseudonym(out: &mut Vec<u8>, mac: Hmac<Sha256>, kind: PiiKind) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let tag = mac.finalize().into_bytes();
    out.extend_from_slice(kind.name().as_bytes());
    out.push(b':');
    for b in &tag[..16] {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// Masks with `*`: identifiers keep their last `keep_tail` letters and digits (at most
/// half) and their separators, names their first character, e-mail addresses the first
/// character of the local part and the domain.
pub fn mask(value: &str, kind: PiiKind, keep_tail: usize) -> String {
    let mut out = Vec::with_capacity(value.len() + 4);
    write_mask(&mut out, value, kind, keep_tail);
    String::from_utf8(out).expect("masked text is UTF-8")
}

fn push_char(out: &mut Vec<u8>, c: char) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

fn stars(out: &mut Vec<u8>, n: usize) {
    out.resize(out.len() + n, b'*');
}

fn write_mask(out: &mut Vec<u8>, value: &str, kind: PiiKind, keep_tail: usize) {
    match kind {
        PiiKind::Email => match value.split_once('@') {
            Some((local, domain)) => {
                push_char(out, local.chars().next().unwrap_or('*'));
                out.extend_from_slice(b"***@");
                out.extend_from_slice(domain.as_bytes());
            }
            None => stars(out, value.chars().count()),
        },
        PiiKind::Name => {
            let mut chars = value.chars();
            if let Some(first) = chars.next() {
                push_char(out, first);
                stars(out, chars.count());
            }
        }
        PiiKind::Field => {
            let n = value.chars().count();
            let masked = n - keep_tail.min(n / 2);
            stars(out, masked);
            let tail = value
                .char_indices()
                .nth(masked)
                .map_or(value.len(), |(i, _)| i);
            out.extend_from_slice(&value.as_bytes()[tail..]);
        }
        PiiKind::CnId | PiiKind::Uscc | PiiKind::Mobile | PiiKind::BankCard => {
            // byte by byte: the bytes of non-ASCII characters are never ASCII letters or
            // digits, so they are copied like separators
            let b = value.as_bytes();
            let n = b.iter().filter(|c| c.is_ascii_alphanumeric()).count();
            let keep = keep_tail.min(n / 2);
            // the kept tail starts at the `keep`-th letter or digit from the end
            let mut cut = b.len();
            let mut kept = 0;
            while kept < keep {
                cut -= 1;
                kept += usize::from(b[cut].is_ascii_alphanumeric());
            }
            out.extend(
                b[..cut]
                    .iter()
                    .map(|&c| if c.is_ascii_alphanumeric() { b'*' } else { c }),
            );
            out.extend_from_slice(&b[cut..]);
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
        assert_eq!(report.counts().get("cn_id"), Some(&1));
        assert_eq!(report.counts().get("bank_card"), Some(&1));
        assert_eq!(
            report.paths(),
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
        assert_eq!(report.counts().get("name"), Some(&2));
        assert_eq!(report.counts().get("field"), Some(&2));
        assert_eq!(report.counts().get("email"), Some(&2));
        assert!(config(&[("mask.fields", "account")]).is_err());
        assert!(config(&[("mask.detect", "passport")]).is_err());
    }
}

#[cfg(test)]
mod writer_tests {
    use super::*;

    /// The masks as first written (on `char`s, through `String`s): the byte writers must
    /// give the same text for any input, also non-ASCII text in identifiers.
    fn reference_mask(value: &str, kind: PiiKind, keep_tail: usize) -> String {
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
            _ => {
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

    fn reference_normalize(value: &str, kind: PiiKind) -> String {
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

    fn reference_pseudonym(key: &[u8], kind: PiiKind, normalized: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(kind.name().as_bytes());
        mac.update(b":");
        mac.update(normalized.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = format!("{}:", kind.name());
        for b in &tag[..16] {
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    #[test]
    fn writers_match_the_reference_on_any_text() {
        let values = [
            "",
            "x",
            "11010519491231002x",
            "+86 138-0013-8000",
            "0086 13800138000",
            "6222 0202 0000 0000 006",
            "Li.Si@Example.CN",
            " ÄÖ@Bücher.de ",
            "\u{b}mixed@case.org\u{c}",
            "张三丰",
            "联系人0",
            "身份证 11010519491231002X 号",
            "😀 13800138000 😀",
            "a\"b\\c",
            "no at sign",
            "@",
            "@domain.cn",
            "  spaced  ",
        ];
        // longer than the 64-byte buffer the normaliser fills before hashing
        let long = "4111-1111-1111-1111 ".repeat(9);
        let long_mail = format!("{}@EXAMPLE.cn", "Abc.".repeat(30));
        let keys: [&[u8]; 3] = [b"k", b"another key", &[0u8; 100]];
        for value in values
            .iter()
            .copied()
            .chain([long.as_str(), long_mail.as_str()])
        {
            for kind in PiiKind::ALL {
                for keep in [0, 1, 4, 100] {
                    assert_eq!(
                        mask(value, kind, keep),
                        reference_mask(value, kind, keep),
                        "{kind:?} {value:?} {keep}"
                    );
                }
                assert_eq!(normalize(value, kind), reference_normalize(value, kind));
                for key in keys {
                    let want = reference_pseudonym(key, kind, &reference_normalize(value, kind));
                    assert_eq!(pseudonym(key, kind, &normalize(value, kind)), want);
                    let config = MaskConfig {
                        secret: Some(key.to_vec()),
                        ..MaskConfig::default()
                    };
                    assert_eq!(replacement(value, kind, Mode::Pseudonym, &config), want);
                }
            }
        }
    }

    #[test]
    fn report_keeps_paths_in_order_without_repeats() {
        let mut r = MaskReport::default();
        assert!(r.is_empty() && r.paths().is_empty());
        r.record(PiiKind::Mobile, "/a");
        r.record(PiiKind::Mobile, "/a");
        r.record(PiiKind::Email, "/b");
        r.record(PiiKind::CnId, "/a");
        r.record(PiiKind::CnId, "");
        r.record(PiiKind::CnId, "");
        assert_eq!(r.paths(), ["/a", "/b", "/a", ""]);
        assert_eq!(r.count(PiiKind::CnId), 3);
        assert_eq!(
            r.counts().into_iter().collect::<Vec<_>>(),
            [("cn_id", 3), ("email", 1), ("mobile", 2)]
        );
        assert!(!r.is_empty());
    }
}
