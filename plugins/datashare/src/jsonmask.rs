//! Masking on the JSON text as a stream: the record is scanned once, string values (and
//! the values configured fields reach) are checked and rewritten where they hold personal
//! information, and every other byte is copied through untouched. No `serde_json::Value`
//! tree is built and nothing is re-serialised, which is where most of the time of the
//! tree-based [`crate::mask::Masker`] went.
//!
//! The result is the tree-based one's (the same detectors, replacements, removals and
//! report counts), except that the record keeps its key order, spacing and number
//! spelling, the report lists pointers in document order, and with duplicate keys every
//! occurrence is treated (the tree keeps only the last one). Malformed JSON, nesting
//! deeper than [`MAX_DEPTH`], and field configurations whose pointers can reach the same
//! value or a value inside another's (or more than 64 of them) are left to the tree
//! ([`mask_bytes`] falls back), so errors and those rare configurations behave exactly as
//! before.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::mask::{self, FieldRule, MaskConfig, MaskReport, Masker, Mode};
use crate::pii::{self, Finding, PiiKind};
use crate::swar;

/// The deepest nesting of arrays and objects the stream handles (deeper records go to the
/// tree, which rejects them past `serde_json`'s own limit of 128).
pub const MAX_DEPTH: usize = 100;

/// Why the stream did not handle a record (the tree then does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStreamed {
    /// The text is not JSON the stream accepts (or nests too deep).
    Malformed,
    /// Field pointers can reach the same value or nested values (or there are more than
    /// 64): the order of their treatments matters and the tree applies them one by one.
    OverlappingFields,
}

/// Masks the JSON text `src` with `config`. Returns the new text (`None` when nothing
/// changed) and the report; `Err` when the stream leaves the record to the tree.
pub fn mask_json(
    src: &[u8],
    config: &MaskConfig,
) -> Result<(Option<Vec<u8>>, MaskReport), NotStreamed> {
    if !streamable(&config.fields) {
        return Err(NotStreamed::OverlappingFields);
    }
    let text = std::str::from_utf8(src).map_err(|_| NotStreamed::Malformed)?;
    let mut live = 0u64;
    for (i, rule) in config.fields.iter().enumerate() {
        if !rule.segments.is_empty() {
            live |= 1 << i;
        }
    }
    let mut s = Stream {
        src,
        text,
        pos: 0,
        out: Vec::new(),
        last: 0,
        changed: false,
        config,
        path: Vec::new(),
        report: MaskReport::default(),
        findings: Vec::new(),
        scratch: Vec::new(),
        treated: 0,
        depth: 0,
    };
    s.skip_ws();
    let start = s.pos;
    let act = s.value(live, None).map_err(|()| NotStreamed::Malformed)?;
    let end = s.pos;
    s.skip_ws();
    if s.pos != src.len() {
        return Err(NotStreamed::Malformed);
    }
    if act == Act::Remove {
        s.emit_until(start);
        s.out.extend_from_slice(b"null");
        s.last = end;
        s.changed = true;
    }
    if !s.changed {
        return Ok((None, s.report));
    }
    s.emit_until(src.len());
    Ok((Some(s.out), s.report))
}

/// Masks `src` on the stream, or with the tree when the stream leaves it (malformed JSON
/// gives `serde_json`'s error). Returns the new text when something was treated (`None`
/// otherwise) and the report.
pub fn mask_bytes(
    src: &[u8],
    config: &MaskConfig,
) -> Result<(Option<Vec<u8>>, MaskReport), String> {
    match mask_json(src, config) {
        Ok((out, report)) if !report.is_empty() => {
            Ok((Some(out.unwrap_or_else(|| src.to_vec())), report))
        }
        Ok((_, report)) => Ok((None, report)),
        Err(_) => mask_bytes_tree(src, config),
    }
}

/// The tree-based masking of `src` (parse, [`Masker`], serialise): the reference the
/// stream is tested against.
pub fn mask_bytes_tree(
    src: &[u8],
    config: &MaskConfig,
) -> Result<(Option<Vec<u8>>, MaskReport), String> {
    let mut data: serde_json::Value = serde_json::from_slice(src).map_err(|e| e.to_string())?;
    let report = Masker::new(config).apply(&mut data);
    if report.is_empty() {
        return Ok((None, report));
    }
    Ok((
        Some(serde_json::to_vec(&data).map_err(|e| e.to_string())?),
        report,
    ))
}

/// Whether no two field rules can reach the same value or one a value inside the other's.
fn streamable(rules: &[FieldRule]) -> bool {
    if rules.len() > 64 {
        return false;
    }
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            if a.segments.is_empty() || b.segments.is_empty() {
                continue;
            }
            let compatible = a
                .segments
                .iter()
                .zip(&b.segments)
                .all(|(x, y)| segments_may_meet(x, y));
            if compatible {
                return false;
            }
        }
    }
    true
}

fn segments_may_meet(a: &str, b: &str) -> bool {
    a == "*" || b == "*" || a == b || index_of(a).is_some_and(|i| index_of(b) == Some(i))
}

/// The array index a pointer segment selects (as the tree reads it).
fn index_of(seg: &str) -> Option<usize> {
    seg.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Keep,
    /// Remove the member from its object, `null` in an array.
    Remove,
}

enum Seg<'a> {
    Key(Cow<'a, str>),
    Index(usize),
}

struct Stream<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    out: Vec<u8>,
    /// Input before this offset is already in `out` (or deliberately left out).
    last: usize,
    changed: bool,
    config: &'a MaskConfig,
    path: Vec<Seg<'a>>,
    report: MaskReport,
    findings: Vec<Finding>,
    /// The replacement of a configured field's value, reused.
    scratch: Vec<u8>,
    /// Values changed by field rules so far (a container reports once when any changed).
    treated: usize,
    depth: usize,
}

type R<T> = Result<T, ()>;

impl<'a> Stream<'a> {
    fn emit_until(&mut self, p: usize) {
        if self.out.capacity() == 0 {
            self.out.reserve(self.src.len() + 64);
        }
        if p > self.last {
            self.out.extend_from_slice(&self.src[self.last..p]);
            self.last = p;
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> R<u8> {
        self.src.get(self.pos).copied().ok_or(())
    }

    /// Records one value of `kind` treated at the current path.
    fn record(&mut self, kind: PiiKind) {
        self.report.count_one(kind);
        self.record_path();
    }

    /// Writes the current path into the report (kept unless it repeats the last one).
    fn record_path(&mut self) {
        let start = self.report.begin_path();
        let s = self.report.path_text();
        for seg in &self.path {
            s.push('/');
            match seg {
                Seg::Key(k) if k.bytes().any(|c| c == b'~' || c == b'/') => {
                    for c in k.chars() {
                        match c {
                            '~' => s.push_str("~0"),
                            '/' => s.push_str("~1"),
                            c => s.push(c),
                        }
                    }
                }
                Seg::Key(k) => s.push_str(k),
                Seg::Index(i) if *i < 10 => s.push(char::from(b'0' + *i as u8)),
                Seg::Index(i) => {
                    let _ = write!(s, "{i}");
                }
            }
        }
        self.report.end_path(start);
    }

    /// The rule of `live` that ends at the current depth (at most one: rules never
    /// overlap on the stream).
    fn hit(&self, live: u64) -> Option<&'a FieldRule> {
        if live == 0 {
            return None;
        }
        let d = self.path.len();
        let rules: &'a [FieldRule] = &self.config.fields;
        rules
            .iter()
            .enumerate()
            .find(|(i, r)| live & (1 << i) != 0 && r.segments.len() == d)
            .map(|(_, r)| r)
    }

    /// The rules of `live` that continue into the child `seg` of the current value.
    fn child_live(&self, live: u64, key: Option<&str>, index: Option<usize>) -> u64 {
        if live == 0 {
            return 0;
        }
        let d = self.path.len();
        let mut next = 0;
        for (i, r) in self.config.fields.iter().enumerate() {
            if live & (1 << i) == 0 || r.segments.len() <= d {
                continue;
            }
            let seg = r.segments[d].as_str();
            let matches = seg == "*"
                || match (key, index) {
                    (Some(k), _) => seg == k,
                    (_, Some(i)) => index_of(seg) == Some(i),
                    _ => false,
                };
            if matches {
                next |= 1 << i;
            }
        }
        next
    }

    /// One value at `pos` (no leading whitespace). `treat`: the rule of an enclosing
    /// container whose every scalar is treated.
    fn value(&mut self, live: u64, treat: Option<&'a FieldRule>) -> R<Act> {
        let hit = self.hit(live);
        if let Some(rule) = hit
            && rule.mode == Mode::Drop
        {
            let is_null = self.src[self.pos..].starts_with(b"null");
            self.skip_value()?;
            if !is_null {
                self.record(rule.kind);
            }
            return Ok(Act::Remove);
        }
        match self.peek()? {
            b'{' | b'[' => {
                let before = self.treated;
                let inner = hit.or(treat);
                if self.peek()? == b'{' {
                    self.object(live, inner)?;
                } else {
                    self.array(live, inner)?;
                }
                if let Some(rule) = hit
                    && self.treated > before
                {
                    self.record(rule.kind);
                }
                Ok(Act::Keep)
            }
            b'"' => self.string(hit.or(treat), hit.is_some()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(hit.or(treat), hit.is_some()),
            _ => Err(()),
        }
    }

    fn literal(&mut self, word: &[u8]) -> R<Act> {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(Act::Keep)
        } else {
            Err(())
        }
    }

    fn object(&mut self, live: u64, treat: Option<&'a FieldRule>) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(());
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut kept = 0usize;
        let mut kept_out = 0usize;
        loop {
            self.skip_ws();
            if self.peek()? != b'"' {
                return Err(());
            }
            let key_start = self.pos;
            let key = self.string_token()?;
            self.skip_ws();
            if self.peek()? != b':' {
                return Err(());
            }
            self.pos += 1;
            self.skip_ws();
            let child = self.child_live(live, Some(&key), None);
            self.path.push(Seg::Key(key));
            let act = self.value(child, treat)?;
            self.path.pop();
            let value_end = self.pos;
            self.skip_ws();
            let next = self.peek()?;
            if next != b',' && next != b'}' {
                return Err(());
            }
            self.pos += 1;
            match act {
                Act::Keep => {
                    kept += 1;
                    self.emit_until(value_end);
                    kept_out = self.out.len();
                }
                Act::Remove => {
                    self.changed = true;
                    if next == b',' {
                        // `"key": value,` up to the next member
                        self.emit_until(key_start);
                        self.skip_ws();
                        self.last = self.pos;
                    } else if kept > 0 {
                        // the last member: take back the comma after the last kept one
                        self.out.truncate(kept_out);
                        self.last = value_end;
                    } else {
                        self.emit_until(key_start);
                        self.last = value_end;
                    }
                }
            }
            if next == b'}' {
                self.depth -= 1;
                return Ok(());
            }
        }
    }

    fn array(&mut self, live: u64, treat: Option<&'a FieldRule>) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(());
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek()? == b']' {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut i = 0;
        loop {
            self.skip_ws();
            let start = self.pos;
            let child = self.child_live(live, None, Some(i));
            self.path.push(Seg::Index(i));
            let act = self.value(child, treat)?;
            self.path.pop();
            if act == Act::Remove {
                self.emit_until(start);
                self.out.extend_from_slice(b"null");
                self.last = self.pos;
                self.changed = true;
            }
            self.skip_ws();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    i += 1;
                }
                b']' => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(()),
            }
        }
    }

    /// Scans the string token at `pos` (the opening quote) when it has no escapes: moves
    /// past it and returns the end of its content, how many ASCII digits it has and
    /// whether it has an `@`. `None` (and `pos` unchanged) when it has escapes.
    fn plain_string(&mut self) -> R<Option<(usize, usize, bool)>> {
        let b = self.src;
        let mut i = self.pos + 1;
        let mut digits = 0;
        let mut at = false;
        loop {
            // eight bytes one by one (most strings end within them)
            let stop = b.len().min(i + 8);
            if i == stop {
                return Err(());
            }
            while i < stop {
                let c = b[i];
                let k = CLASS[usize::from(c)];
                if k & STOP != 0 {
                    return match c {
                        b'"' => {
                            self.pos = i + 1;
                            Ok(Some((i, digits, at)))
                        }
                        b'\\' => Ok(None),
                        _ => Err(()),
                    };
                }
                digits += usize::from(k & DIGIT != 0);
                at |= k & AT != 0;
                i += 1;
            }
            // then eight at a time while none is a quote, backslash, control character,
            // digit or '@' (letters, most punctuation, non-ASCII text)
            while let Some(w) = swar::word(b, i)
                && !swar::has_less(w, b'@' + 1)
                && !swar::has_byte(w, b'\\')
            {
                i += 8;
            }
        }
    }

    /// Reads a string token at `pos` (the opening quote), validating it; returns its
    /// content, unescaped when it has escapes.
    fn string_token(&mut self) -> R<Cow<'a, str>> {
        let start = self.pos + 1;
        if let Some((end, _, _)) = self.plain_string()? {
            return Ok(Cow::Borrowed(&self.text[start..end]));
        }
        let b = self.src;
        let mut i = start;
        while b[i] != b'\\' {
            i += 1;
        }
        let mut s = String::with_capacity(i - start + 16);
        s.push_str(&self.text[start..i]);
        loop {
            match b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Cow::Owned(s));
                }
                Some(b'\\') => {
                    let e = *b.get(i + 1).ok_or(())?;
                    i += 2;
                    match e {
                        b'"' => s.push('"'),
                        b'\\' => s.push('\\'),
                        b'/' => s.push('/'),
                        b'b' => s.push('\u{8}'),
                        b'f' => s.push('\u{c}'),
                        b'n' => s.push('\n'),
                        b'r' => s.push('\r'),
                        b't' => s.push('\t'),
                        b'u' => {
                            let hi = hex4(b, i)?;
                            i += 4;
                            let c = if (0xD800..0xDC00).contains(&hi) {
                                if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
                                    return Err(());
                                }
                                let lo = hex4(b, i + 2)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(());
                                }
                                i += 6;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            s.push(char::from_u32(c).ok_or(())?);
                        }
                        _ => return Err(()),
                    }
                }
                Some(c) if *c < 0x20 => return Err(()),
                Some(_) => {
                    let run = i;
                    while i < b.len() && !matches!(b[i], b'"' | b'\\') && b[i] >= 0x20 {
                        i += 1;
                    }
                    s.push_str(&self.text[run..i]);
                }
                None => return Err(()),
            }
        }
    }

    /// A string value: treated by `rule` (a field), then scanned by the detectors.
    fn string(&mut self, rule: Option<&'a FieldRule>, direct: bool) -> R<Act> {
        let start = self.pos;
        if let Some((content_end, digits, at)) = self.plain_string()? {
            // no escapes: the content is the source text, written back as it is
            let end = self.pos;
            let text: &'a str = &self.text[start + 1..content_end];
            if let Some(rule) = rule
                && !text.is_empty()
            {
                return Ok(self.treat_field(text, rule, direct, start, end));
            }
            let kinds = self.config.detect;
            if !pii::worth_scanning(kinds, digits, at) {
                return Ok(Act::Keep);
            }
            self.findings.clear();
            pii::scan(text.as_bytes(), kinds, &mut self.findings);
            return Ok(self.rewrite_findings(text, start, end, false, false));
        }
        let content = self.string_token()?;
        let end = self.pos;
        if let Some(rule) = rule
            && !content.is_empty()
        {
            return Ok(self.treat_field(&content, rule, direct, start, end));
        }
        pii::detect_into(&content, self.config.detect, &mut self.findings);
        Ok(self.rewrite_findings(&content, start, end, true, false))
    }

    /// A configured field's value `text` (the token `start..end`): replaced by its rule,
    /// the replacement scanned by the detectors, written.
    fn treat_field(
        &mut self,
        text: &str,
        rule: &'a FieldRule,
        direct: bool,
        start: usize,
        end: usize,
    ) -> Act {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        mask::write_replacement(&mut scratch, text, rule.kind, rule.mode, self.config);
        self.treated += 1;
        if direct {
            self.record(rule.kind);
        }
        let replaced = std::str::from_utf8(&scratch).expect("replacements are UTF-8");
        pii::detect_into(replaced, self.config.detect, &mut self.findings);
        let act = self.rewrite_findings(replaced, start, end, true, true);
        self.scratch = scratch;
        act
    }

    /// After detection on `text` (the value of the token `start..end`) left its findings
    /// in `self.findings`: records them, and writes `text` with the findings replaced in
    /// place of the token (with `escape`, `text` is escaped as it is written; without,
    /// it is the token's content as it stands). With `always`, the token is rewritten
    /// even without findings.
    fn rewrite_findings(
        &mut self,
        text: &str,
        start: usize,
        end: usize,
        escape: bool,
        always: bool,
    ) -> Act {
        if !self.findings.is_empty() {
            for f in &self.findings {
                self.report.count_one(f.kind);
            }
            self.record_path();
            let whole = self.findings.len() == 1
                && self.findings[0].start == 0
                && self.findings[0].end == text.len();
            if whole && self.config.mode == Mode::Drop {
                return Act::Remove;
            }
        } else if !always {
            return Act::Keep;
        }
        self.emit_until(start);
        self.out.push(b'"');
        mask::write_rewritten(&mut self.out, text, &self.findings, self.config, escape);
        self.out.push(b'"');
        self.last = end;
        self.changed = true;
        Act::Keep
    }

    fn number(&mut self, rule: Option<&'a FieldRule>, direct: bool) -> R<Act> {
        let start = self.pos;
        let b = self.src;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - s
        };
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return Err(()),
        }
        let mut plain = true;
        if b.get(i) == Some(&b'.') {
            i += 1;
            plain = false;
            if digits(&mut i) == 0 {
                return Err(());
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            plain = false;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return Err(());
            }
        }
        self.pos = i;
        let token = &self.text[start..i];
        // serde_json rejects numbers beyond f64's range: leave those to it
        if (!plain || token.len() > 300) && !token.parse::<f64>().map_err(|_| ())?.is_finite() {
            return Err(());
        }
        let Some(rule) = rule else {
            return Ok(Act::Keep);
        };
        // the tree masks the number as serde_json prints it
        let number: serde_json::Number = serde_json::from_str(token).map_err(|_| ())?;
        Ok(self.treat_field(&number.to_string(), rule, direct, start, i))
    }

    /// Skips (and validates) one value.
    fn skip_value(&mut self) -> R<()> {
        match self.peek()? {
            b'{' | b'[' => {
                let close = if self.peek()? == b'{' { b'}' } else { b']' };
                let object = close == b'}';
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(());
                }
                self.pos += 1;
                self.skip_ws();
                if self.peek()? == close {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    self.skip_ws();
                    if object {
                        if self.peek()? != b'"' {
                            return Err(());
                        }
                        self.string_token()?;
                        self.skip_ws();
                        if self.peek()? != b':' {
                            return Err(());
                        }
                        self.pos += 1;
                        self.skip_ws();
                    }
                    self.skip_value()?;
                    self.skip_ws();
                    match self.peek()? {
                        b',' => self.pos += 1,
                        c if c == close => {
                            self.pos += 1;
                            self.depth -= 1;
                            return Ok(());
                        }
                        _ => return Err(()),
                    }
                }
            }
            b'"' => self.string_token().map(drop),
            b't' => self.literal(b"true").map(drop),
            b'f' => self.literal(b"false").map(drop),
            b'n' => self.literal(b"null").map(drop),
            b'-' | b'0'..=b'9' => self.number(None, false).map(drop),
            _ => Err(()),
        }
    }
}

/// Byte classes of the string scan: the bytes that end the fast scan (quote, backslash,
/// control characters), digits and `@` (the screen before detection).
const STOP: u8 = 1;
const DIGIT: u8 = 2;
const AT: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'"' | b'\\' | 0..0x20 => STOP,
            b'0'..=b'9' => DIGIT,
            b'@' => AT,
            _ => 0,
        };
        c += 1;
    }
    t
};

fn hex4(b: &[u8], i: usize) -> R<u32> {
    let h = b.get(i..i + 4).ok_or(())?;
    let mut v = 0;
    for c in h {
        v = v * 16 + (*c as char).to_digit(16).ok_or(())?;
    }
    Ok(v)
}

/// Writes `s` as a JSON string (escaping as `serde_json` does).
pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_json_escaped(out, s);
    out.push(b'"');
}

/// Writes `s` escaped for a JSON string, without quotes (as `serde_json` escapes).
pub(crate) fn write_json_escaped(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'"' || c == b'\\' || c < 0x20) {
        out.extend_from_slice(b);
        return;
    }
    let mut run = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            c if c < 0x20 => {
                out.extend_from_slice(&b[run..i]);
                let _ = write!(HexOut(&mut *out), "\\u{c:04x}");
                run = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&b[run..i]);
        out.extend_from_slice(esc);
        run = i + 1;
    }
    out.extend_from_slice(&b[run..]);
}

struct HexOut<'o>(&'o mut Vec<u8>);

impl std::fmt::Write for HexOut<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
