//! The `LIKE` pattern (§3.4.3): `%` matches any run of characters (also none), `_`
//! exactly one character, `\%` and `\_` the literal `%` and `_`; every other character
//! (a `\` before anything else included) matches itself, case-sensitively.
//!
//! Patterns are compiled once. Common shapes (`abc`, `abc%`, `%abc`, `%abc%`) become plain
//! string comparisons; the rest run a linear-space wildcard matcher that never recurses.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A literal character.
    Char(char),
    /// `_`: one character.
    One,
    /// `%`: any run of characters.
    Many,
}

/// A compiled `LIKE` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LikePattern {
    Exact(Box<str>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Contains(Box<str>),
    General(Box<[Piece]>),
}

impl LikePattern {
    /// Compiles the pattern text (the string literal's value).
    pub(crate) fn compile(pattern: &str) -> LikePattern {
        let mut pieces = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if matches!(chars.peek(), Some('%' | '_')) => {
                    pieces.push(Piece::Char(chars.next().unwrap_or('\\')));
                }
                '%' => {
                    if pieces.last() != Some(&Piece::Many) {
                        pieces.push(Piece::Many);
                    }
                }
                '_' => pieces.push(Piece::One),
                other => pieces.push(Piece::Char(other)),
            }
        }
        let literal = |ps: &[Piece]| -> Option<Box<str>> {
            ps.iter()
                .map(|p| match p {
                    Piece::Char(c) => Some(*c),
                    _ => None,
                })
                .collect::<Option<String>>()
                .map(String::into_boxed_str)
        };
        let n = pieces.len();
        let starts_many = pieces.first() == Some(&Piece::Many);
        let ends_many = n > 0 && pieces[n - 1] == Piece::Many;
        match (starts_many, ends_many) {
            (false, false) => literal(&pieces).map(LikePattern::Exact),
            (false, true) => literal(&pieces[..n - 1]).map(LikePattern::Prefix),
            (true, false) => literal(&pieces[1..]).map(LikePattern::Suffix),
            (true, true) if n >= 2 => literal(&pieces[1..n - 1]).map(LikePattern::Contains),
            // A lone `%`.
            (true, true) => Some(LikePattern::Prefix("".into())),
        }
        .unwrap_or_else(|| LikePattern::General(pieces.into_boxed_slice()))
    }

    /// Whether `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            LikePattern::Exact(s) => text == &**s,
            LikePattern::Prefix(s) => text.starts_with(&**s),
            LikePattern::Suffix(s) => text.ends_with(&**s),
            LikePattern::Contains(s) => text.contains(&**s),
            LikePattern::General(pieces) => matches_general(pieces, text),
        }
    }
}

/// Greedy matching with one backtrack point (the last `%`): O(len(text) * len(pattern))
/// time at worst, constant extra space.
fn matches_general(pieces: &[Piece], text: &str) -> bool {
    let mut t = 0usize; // byte offset in text
    let mut p = 0usize; // index in pieces
    // (index after the last `%`, text offset that `%` has absorbed up to)
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        let c = text[t..].chars().next().unwrap_or('\0');
        let matched = match pieces.get(p) {
            Some(Piece::Char(pc)) => *pc == c,
            Some(Piece::One) => true,
            Some(Piece::Many) | None => false,
        };
        if matched {
            t += c.len_utf8();
            p += 1;
        } else if pieces.get(p) == Some(&Piece::Many) {
            p += 1;
            backtrack = Some((p, t));
        } else if let Some((bp, bt)) = backtrack {
            let skipped = text[bt..].chars().next().map_or(1, char::len_utf8);
            let bt = bt + skipped;
            backtrack = Some((bp, bt));
            p = bp;
            t = bt;
        } else {
            return false;
        }
    }
    pieces[p..].iter().all(|piece| *piece == Piece::Many)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(text: &str, pattern: &str) -> bool {
        LikePattern::compile(pattern).matches(text)
    }

    #[test]
    fn spec_examples() {
        // §3.4.3: `_b%` accepts ab, abc, abcd1, not b, acd or aBc.
        for yes in ["ab", "abc", "abcd1"] {
            assert!(like(yes, "_b%"), "{yes}");
        }
        for no in ["b", "acd", "aBc"] {
            assert!(!like(no, "_b%"), "{no}");
        }
        assert!(like("abc%", "abc\\%"));
        assert!(!like("abcd", "abc\\%"));
    }

    #[test]
    fn wildcards_escapes_and_shapes() {
        assert!(like("abc", "abc"));
        assert!(!like("abcd", "abc"));
        assert!(like("", ""));
        assert!(like("", "%"));
        assert!(like("", "%%"));
        assert!(!like("", "_"));
        assert!(like("azzzbzzzc", "a%b%c"));
        assert!(like("a%b%c", "a%b%c"));
        assert!(!like("ab.cde", ".%.%."));
        assert!(like(".ab.cde.", ".%.%."));
        assert!(!like("abc", "a_b_c"));
        assert!(like("azbzc", "a_b_c"));
        assert!(like("a_b_c", "a\\_b\\_c"));
        assert!(!like("azbzc", "a\\_b\\_c"));
        assert!(
            like("ab\\c", "ab\\c"),
            "a backslash before other characters is literal"
        );
        assert!(like("x\\", "x\\"), "a trailing backslash is literal");
        assert!(like("abc123123%456_dzf", "abc%123\\%456\\_d_f"));
        assert!(like("com.github.error", "%.error"));
        assert!(like("xxabcxx", "%abc%"));
        assert!(!like("xxabxx", "%abc%"));
        assert!(like("aaab", "%a_b"));
        assert!(like("mississippi", "m%iss%ppi"));
        assert!(!like("mississippi", "m%iss%ppx"));
    }

    #[test]
    fn underscore_is_one_unicode_character() {
        assert!(like("é", "_"));
        assert!(like("日本語", "日_語"));
        assert!(like("日本語", "%語"));
        assert!(!like("日本語", "日_"));
        assert!(like("añb", "a%b"));
        assert!(like("ñ日", "%_"));
    }

    #[test]
    fn matching_is_case_sensitive() {
        assert!(!like("ABC", "abc"));
        assert!(!like("ABC", "a%"));
    }

    #[test]
    fn pathological_patterns_finish() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "%a".repeat(50));
        assert!(!like(&text, &pattern));
    }
}
