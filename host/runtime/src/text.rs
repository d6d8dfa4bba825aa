//! Text a plugin controls (failure messages, log lines, trap messages), made safe to put
//! into logs, errors and dead-letter reasons: bounded in size and escaped, so a plugin can
//! neither flood the host with megabytes per retry nor forge log lines with newlines or
//! terminal control sequences.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Longest plugin-controlled text kept in a failure message or log line, in bytes (after
/// escaping, before the truncation marker).
pub const MAX_TEXT_BYTES: usize = 4096;

/// Whether `c` is written escaped: control characters (C0, DEL, C1: newlines, carriage
/// returns, tabs, escape sequences) and the Unicode line and paragraph separators.
fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `text` with control characters escaped (`\n`, `\r`, `\t`, `\u{1b}`) and cut to at most
/// `max` bytes, followed by `…(truncated N bytes)` when something was cut (N: bytes of
/// `text` not shown). Borrowed, without copying, when `text` is short and clean.
pub fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max && !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max) + 32);
    let mut escaped = String::new();
    for (at, c) in text.char_indices() {
        let piece: &str = if needs_escape(c) {
            escaped.clear();
            match c {
                '\n' => escaped.push_str("\\n"),
                '\r' => escaped.push_str("\\r"),
                '\t' => escaped.push_str("\\t"),
                _ => {
                    let _ = write!(escaped, "\\u{{{:x}}}", c as u32);
                }
            }
            &escaped
        } else {
            &text[at..at + c.len_utf8()]
        };
        if out.len() + piece.len() > max {
            let _ = write!(out, "…(truncated {} bytes)", text.len() - at);
            return Cow::Owned(out);
        }
        out.push_str(piece);
    }
    Cow::Owned(out)
}

/// [`bounded`] to [`MAX_TEXT_BYTES`], taking ownership (no copy when already safe).
pub fn bounded_owned(text: String) -> String {
    match bounded(&text, MAX_TEXT_BYTES) {
        Cow::Borrowed(_) => text,
        Cow::Owned(safe) => safe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_clean_text_is_borrowed() {
        assert!(matches!(bounded("all fine: 42 €", 100), Cow::Borrowed(_)));
    }

    #[test]
    fn control_characters_are_escaped() {
        let forged = "bad\n2026-01-01T00:00:00Z  INFO weft: forged\r\x1b[31mred\u{2028}";
        let safe = bounded(forged, 1000);
        assert_eq!(
            safe,
            "bad\\n2026-01-01T00:00:00Z  INFO weft: forged\\r\\u{1b}[31mred\\u{2028}"
        );
        assert!(!safe.chars().any(needs_escape));
    }

    #[test]
    fn long_text_is_cut_with_a_marker_naming_what_was_cut() {
        let long = "é".repeat(10_000); // 20,000 bytes
        let safe = bounded(&long, MAX_TEXT_BYTES);
        assert!(safe.len() <= MAX_TEXT_BYTES + 40, "{}", safe.len());
        assert!(safe.starts_with("éé"));
        assert!(
            safe.ends_with(&format!("…(truncated {} bytes)", 20_000 - MAX_TEXT_BYTES)),
            "{}",
            &safe[safe.len() - 40..]
        );
        let lines = "line\n".repeat(10_000);
        let safe = bounded_owned(lines);
        assert!(!safe.contains('\n'));
        assert!(safe.len() <= MAX_TEXT_BYTES + 40);
        assert!(safe.contains("…(truncated "));
    }
}
