//! Finds personal information in free text: resident identity numbers, unified social
//! credit codes, mobile numbers, payment card numbers and e-mail addresses. Identifiers
//! with a check digit are reported only when the check digit is right.

use crate::{checks, swar};

/// A kind of personal information the detector recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PiiKind {
    /// Chinese resident identity number (GB 11643-1999).
    CnId,
    /// Unified social credit code (GB 32100-2015).
    Uscc,
    /// Mainland China mobile number, optionally with `+86`.
    Mobile,
    /// Payment card number (13–19 digits, Luhn).
    BankCard,
    /// E-mail address.
    Email,
    /// A person's name in a configured field.
    Name,
    /// Any value in a configured field.
    Field,
}

impl PiiKind {
    /// Every kind, in declaration order (`kind as usize` indexes it).
    pub const ALL: [PiiKind; 7] = [
        PiiKind::CnId,
        PiiKind::Uscc,
        PiiKind::Mobile,
        PiiKind::BankCard,
        PiiKind::Email,
        PiiKind::Name,
        PiiKind::Field,
    ];

    /// Every kind, in the order of their names (the order of a report's counts).
    pub const BY_NAME: [PiiKind; 7] = [
        PiiKind::BankCard,
        PiiKind::CnId,
        PiiKind::Email,
        PiiKind::Field,
        PiiKind::Mobile,
        PiiKind::Name,
        PiiKind::Uscc,
    ];

    /// The kinds found by scanning text (names and fields come from configuration).
    pub const DETECTABLE: [PiiKind; 5] = [
        PiiKind::CnId,
        PiiKind::Uscc,
        PiiKind::Mobile,
        PiiKind::BankCard,
        PiiKind::Email,
    ];

    /// The configuration and report name: `cn_id`, `uscc`, `mobile`, `bank_card`,
    /// `email`, `name`, `field`.
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::CnId => "cn_id",
            PiiKind::Uscc => "uscc",
            PiiKind::Mobile => "mobile",
            PiiKind::BankCard => "bank_card",
            PiiKind::Email => "email",
            PiiKind::Name => "name",
            PiiKind::Field => "field",
        }
    }

    /// The kind with this configuration name.
    pub fn from_name(name: &str) -> Option<PiiKind> {
        [PiiKind::Name, PiiKind::Field]
            .into_iter()
            .chain(PiiKind::DETECTABLE)
            .find(|k| k.name() == name)
    }
}

/// A set of detectable kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindSet(u8);

impl KindSet {
    /// Every detectable kind.
    pub fn all() -> KindSet {
        PiiKind::DETECTABLE
            .into_iter()
            .fold(KindSet::default(), KindSet::with)
    }

    /// This set plus `kind`.
    pub fn with(self, kind: PiiKind) -> KindSet {
        KindSet(self.0 | 1 << kind as u8)
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: PiiKind) -> bool {
        self.0 & (1 << kind as u8) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One finding: a byte range of the text and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    /// What was found.
    pub kind: PiiKind,
    /// Start byte offset.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
}

/// Finds the personal information of the kinds in `kinds` in `text`, in text order,
/// without overlaps. Tokens must stand alone: a digit run inside a longer run of letters
/// and digits is not a finding.
pub fn detect(text: &str, kinds: KindSet) -> Vec<Finding> {
    let mut out = Vec::new();
    detect_into(text, kinds, &mut out);
    out
}

/// [`detect`] into a reused vector (cleared first).
pub fn detect_into(text: &str, kinds: KindSet, out: &mut Vec<Finding>) {
    out.clear();
    if kinds.is_empty() {
        return;
    }
    let b = text.as_bytes();
    // cheap screen: enough digits for the shortest identifier asked for, or an '@' for
    // e-mail
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if !worth_scanning(kinds, digits, b.contains(&b'@')) {
        return;
    }
    scan(b, kinds, out);
}

/// Whether a text with `digits` ASCII digits (and an `@` or not) can hold a finding of
/// `kinds`: a credit code has at least 6 digits (its division code), a mobile number 11,
/// a card number 13, an identity number 17; an e-mail address an `@`.
pub(crate) fn worth_scanning(kinds: KindSet, digits: usize, at: bool) -> bool {
    let needed = [
        (PiiKind::Uscc, 6),
        (PiiKind::Mobile, 11),
        (PiiKind::BankCard, 13),
        (PiiKind::CnId, 17),
    ];
    (at && kinds.contains(PiiKind::Email))
        || needed
            .iter()
            .any(|(k, n)| digits >= *n && kinds.contains(*k))
}

const ALNUM: u8 = 1;
const DIGIT: u8 = 2;

/// Byte classes of the scan: ASCII letters and digits.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_digit() {
            t[c] = ALNUM | DIGIT;
        } else if b.is_ascii_alphabetic() {
            t[c] = ALNUM;
        }
        c += 1;
    }
    t
};

/// The scan of [`detect_into`] without its screen, appending to `out`. Runs of letters
/// without a digit are passed over whole: every kind but e-mail needs a digit, and
/// e-mail addresses are found from their `@`.
pub(crate) fn scan(b: &[u8], kinds: KindSet, out: &mut Vec<Finding>) {
    let email = kinds.contains(PiiKind::Email);
    let mut i = 0;
    while i < b.len() {
        // eight bytes at a time over text without letters, digits or '@' (CJK text,
        // spaces, punctuation)
        while let Some(w) = swar::word(b, i)
            && !swar::has_alnum_or_at(w)
        {
            i += 8;
        }
        if i >= b.len() {
            break;
        }
        if CLASS[usize::from(b[i])] & ALNUM == 0 {
            if b[i] == b'@'
                && email
                && let Some((s, e)) = email_at(b, i)
            {
                // an e-mail may start inside the alphanumeric run just before it: take
                // back findings that overlap its start
                while out.last().is_some_and(|f: &Finding| f.end > s) {
                    out.pop();
                }
                out.push(Finding {
                    kind: PiiKind::Email,
                    start: s,
                    end: e,
                });
                i = e;
                continue;
            }
            i += 1;
            continue;
        }
        let mut run_end = i;
        let mut class = 0;
        let mut every = DIGIT;
        while run_end < b.len() {
            let k = CLASS[usize::from(b[run_end])];
            if k & ALNUM == 0 {
                break;
            }
            class |= k;
            every &= k;
            run_end += 1;
        }
        let all_digits = every & DIGIT != 0;
        if class & DIGIT == 0 {
            i = run_end;
            continue;
        }
        // e-mail local parts are handled at their '@'
        if run_end < b.len()
            && matches!(b[run_end], b'@' | b'.' | b'_' | b'%' | b'+')
            && email
            && let Some(at) = b[run_end..b.len().min(run_end + 64)]
                .iter()
                .position(|c| *c == b'@')
            && b[run_end..run_end + at].iter().all(|c| is_local_char(*c))
        {
            i = run_end;
            continue;
        }
        // digit groups (`138 0013 8000`) start with a run of digits followed by a space
        // or dash and a digit; anything else is one run
        let grouped = all_digits
            && run_end + 1 < b.len()
            && matches!(b[run_end], b' ' | b'-')
            && b[run_end + 1].is_ascii_digit();
        let found = if grouped {
            classify_grouped(b, i, kinds)
        } else {
            None
        };
        if let Some(f) = found.or_else(|| classify_run(b, i, run_end, all_digits, kinds)) {
            out.push(f);
            i = f.end;
        } else {
            i = run_end;
        }
    }
}

fn alnum_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_alphanumeric() {
        i += 1;
    }
    i
}

fn classify_run(
    b: &[u8],
    start: usize,
    end: usize,
    all_digits: bool,
    kinds: KindSet,
) -> Option<Finding> {
    let run = &b[start..end];
    let found = |kind| Finding { kind, start, end };
    if run.len() == 18 {
        if kinds.contains(PiiKind::CnId) && checks::is_cn_resident_id(run) {
            return Some(found(PiiKind::CnId));
        }
        if kinds.contains(PiiKind::Uscc) && checks::is_uscc(run) {
            return Some(found(PiiKind::Uscc));
        }
    }
    if !all_digits {
        return None;
    }
    if kinds.contains(PiiKind::Mobile) {
        if checks::is_cn_mobile(run) {
            return Some(mobile_with_prefix(b, start, end));
        }
        if run.len() == 13 && run.starts_with(b"86") && checks::is_cn_mobile(&run[2..]) {
            return Some(mobile_with_prefix(b, start, end));
        }
    }
    if kinds.contains(PiiKind::BankCard) && checks::is_bank_card(run) {
        return Some(found(PiiKind::BankCard));
    }
    None
}

/// A mobile number, extended backwards over a `+86` / `0086` / `86` country code written
/// before it with an optional space or dash.
fn mobile_with_prefix(b: &[u8], start: usize, end: usize) -> Finding {
    let mut s = start;
    if start >= 1 && b[start - 1] == b'+' {
        s = start - 1;
    } else if start >= 3 && matches!(b[start - 1], b' ' | b'-') {
        let before = &b[..start - 1];
        for prefix in [&b"+86"[..], b"0086"] {
            if before.ends_with(prefix)
                && (before.len() == prefix.len()
                    || !before[before.len() - prefix.len() - 1].is_ascii_alphanumeric())
            {
                s = before.len() - prefix.len();
                break;
            }
        }
    }
    Finding {
        kind: PiiKind::Mobile,
        start: s,
        end,
    }
}

/// Digit groups separated by single spaces or dashes: `6222 0202 0000 0000 006`,
/// `138-0013-8000`, `+86 138 0013 8000`.
fn classify_grouped(b: &[u8], start: usize, kinds: KindSet) -> Option<Finding> {
    let mut digits = [0u8; 24];
    let mut n = 0;
    let mut groups = 0;
    let mut group_lens = [0usize; 6];
    let mut i = start;
    let mut end = start;
    loop {
        let g_end = alnum_end(b, i);
        let group = &b[i..g_end];
        if group.is_empty()
            || !group.iter().all(u8::is_ascii_digit)
            || n + group.len() > digits.len()
            || groups == group_lens.len()
        {
            break;
        }
        digits[n..n + group.len()].copy_from_slice(group);
        n += group.len();
        group_lens[groups] = group.len();
        groups += 1;
        end = g_end;
        if g_end + 1 < b.len() && matches!(b[g_end], b' ' | b'-') && b[g_end + 1].is_ascii_digit() {
            i = g_end + 1;
        } else {
            break;
        }
    }
    if groups < 2 {
        return None;
    }
    let d = &digits[..n];
    let lens = &group_lens[..groups];
    if kinds.contains(PiiKind::Mobile) {
        // 138 0013 8000, or with a country code: 86 138 0013 8000
        if lens == [3, 4, 4] && checks::is_cn_mobile(d) {
            return Some(mobile_with_prefix(b, start, end));
        }
        if lens == [2, 3, 4, 4] && d.starts_with(b"86") && checks::is_cn_mobile(&d[2..]) {
            return Some(mobile_with_prefix(b, start, end));
        }
    }
    if kinds.contains(PiiKind::BankCard)
        && groups >= 3
        && lens.iter().all(|l| (3..=6).contains(l))
        && checks::is_bank_card(d)
    {
        return Some(Finding {
            kind: PiiKind::BankCard,
            start,
            end,
        });
    }
    None
}

fn is_local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// The e-mail address around the `@` at `at`: a local part of letters, digits and
/// `._%+-`, a domain of at least two dot-separated labels with an alphabetic top level.
fn email_at(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut s = at;
    while s > 0 && is_local_char(b[s - 1]) {
        s -= 1;
    }
    while s < at && matches!(b[s], b'.' | b'-') {
        s += 1;
    }
    if s == at {
        return None;
    }
    let mut e = at + 1;
    while e < b.len() && (b[e].is_ascii_alphanumeric() || matches!(b[e], b'.' | b'-')) {
        e += 1;
    }
    // no trailing dot or dash (end of a sentence)
    while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let domain = &b[at + 1..e];
    let last_dot = domain.iter().rposition(|c| *c == b'.')?;
    let tld = &domain[last_dot + 1..];
    if last_dot == 0 || tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    Some((s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(PiiKind, &str)> {
        detect(text, KindSet::all())
            .into_iter()
            .map(|f| (f.kind, &text[f.start..f.end]))
            .collect()
    }

    #[test]
    fn finds_each_kind_in_text() {
        let text = "客户张三，身份证11010519491231002X，手机 +86 138-0013-8000，\
                    卡号 6222 0202 0000 0000 006，企业 91350100M000100Y43，邮箱 zhang.san@example.com.";
        assert_eq!(
            found(text),
            [
                (PiiKind::CnId, "11010519491231002X"),
                (PiiKind::Mobile, "+86 138-0013-8000"),
                (PiiKind::BankCard, "6222 0202 0000 0000 006"),
                (PiiKind::Uscc, "91350100M000100Y43"),
                (PiiKind::Email, "zhang.san@example.com"),
            ]
        );
    }

    #[test]
    fn wrong_check_digits_and_embedded_runs_are_not_findings() {
        assert!(
            found("id 11010519491231003X, card 4111111111111112, uscc 91350100M000100Y44")
                .is_empty()
        );
        // inside a longer token
        assert!(found("ref A11010519491231002X and 138001380001").is_empty());
        assert!(found("order 12800138000, 2024-03-15").is_empty());
        assert_eq!(
            found("call 13800138000."),
            [(PiiKind::Mobile, "13800138000")]
        );
        assert_eq!(found("8613800138000"), [(PiiKind::Mobile, "8613800138000")]);
    }

    #[test]
    fn only_requested_kinds() {
        let kinds = KindSet::default().with(PiiKind::Email);
        let f = detect("13800138000 a@b.cn", kinds);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, PiiKind::Email);
        assert!(found("not@an-email").is_empty());
        assert_eq!(
            found("x1@mail.example.org"),
            [(PiiKind::Email, "x1@mail.example.org")]
        );
    }
}
