//! Splits expression text into tokens (§2). Keywords, function names and identifiers are
//! all [`Tok::Word`]s here; the parser tells them apart, case-insensitively.
//!
//! String literals: `'…'` or `"…"`; inside, `\'` (resp. `\"`) and a doubled quote stand for
//! the quote itself, and a backslash before any other character is kept with it.
//! Integer literals: digits with an optional sign written directly before them where an
//! operand is expected (`-5`, `+5`, `4 + -1`); after an operand a `-` is the binary minus
//! (`5-3`). Values outside 32 bits are a parse error (§2.2).

use crate::error::{Error, ErrorKind};

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Int(i32),
    Str(String),
    /// A run of `[A-Za-z0-9_]` that is not all digits, as written.
    Word(String),
    LParen,
    RParen,
    Comma,
    Eq,
    /// `!=` or `<>`.
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) at: usize,
}

/// Words that are operators: after one of them an operand is expected.
pub(crate) fn is_operator_keyword(word: &str) -> bool {
    ["AND", "OR", "XOR", "NOT", "LIKE", "IN", "EXISTS"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
}

/// The 1-based character column of byte offset `at` in `src`, for messages.
pub(crate) fn column(src: &str, at: usize) -> usize {
    src.get(..at).map_or(at, |s| s.chars().count()) + 1
}

pub(crate) fn parse_error(src: &str, at: usize, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("{message} at column {}", column(src, at)),
    )
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Tokenizes the whole expression.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, Error> {
    let bytes = src.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        // Whether the previous token ends an operand (then `-` / `+` are binary).
        let after_operand = tokens.last().is_some_and(|t| match &t.tok {
            Tok::Int(_) | Tok::Str(_) | Tok::RParen => true,
            Tok::Word(w) => !is_operator_keyword(w),
            _ => false,
        });
        let tok = match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'=' => {
                i += 1;
                Tok::Eq
            }
            b'!' if bytes.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::NotEq
            }
            b'<' => match bytes.get(i + 1) {
                Some(b'>') => {
                    i += 2;
                    Tok::NotEq
                }
                Some(b'=') => {
                    i += 2;
                    Tok::Le
                }
                _ => {
                    i += 1;
                    Tok::Lt
                }
            },
            b'>' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    i += 2;
                    Tok::Ge
                } else {
                    i += 1;
                    Tok::Gt
                }
            }
            b'*' => {
                i += 1;
                Tok::Star
            }
            b'/' => {
                i += 1;
                Tok::Slash
            }
            b'%' => {
                i += 1;
                Tok::Percent
            }
            b'+' | b'-' => {
                let word_end = word_end(bytes, i + 1);
                let signed_literal = !after_operand
                    && word_end > i + 1
                    && bytes[i + 1..word_end].iter().all(u8::is_ascii_digit);
                if signed_literal {
                    i = word_end;
                    Tok::Int(integer_literal(src, start, &src[start..word_end])?)
                } else {
                    i += 1;
                    if b == b'+' { Tok::Plus } else { Tok::Minus }
                }
            }
            b'\'' | b'"' => {
                let (text, end) = string_literal(src, i)?;
                i = end;
                Tok::Str(text)
            }
            b if is_word_byte(b) => {
                let end = word_end(bytes, i);
                let word = &src[i..end];
                i = end;
                if word.bytes().all(|b| b.is_ascii_digit()) {
                    Tok::Int(integer_literal(src, start, word)?)
                } else {
                    Tok::Word(word.to_string())
                }
            }
            _ => {
                let c = src[i..].chars().next().unwrap_or('?');
                return Err(parse_error(
                    src,
                    i,
                    format_args!("unexpected character `{c}`"),
                ));
            }
        };
        tokens.push(Token { tok, at: start });
    }
    Ok(tokens)
}

fn word_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_word_byte(bytes[i]) {
        i += 1;
    }
    i
}

fn integer_literal(src: &str, at: usize, text: &str) -> Result<i32, Error> {
    text.parse::<i32>().map_err(|_| {
        parse_error(
            src,
            at,
            format_args!(
                "integer literal {text} is outside the 32-bit range -2147483648..=2147483647"
            ),
        )
    })
}

/// Reads the string literal whose opening quote is at `start`; returns its value and the
/// offset after the closing quote.
fn string_literal(src: &str, start: usize) -> Result<(String, usize), Error> {
    let quote = src.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices().peekable();
    while let Some((off, c)) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some((_, next)) if next == quote => out.push(quote),
                Some((_, next)) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            }
        } else if c == quote {
            if matches!(chars.peek(), Some((_, q)) if *q == quote) {
                chars.next();
                out.push(quote);
            } else {
                return Ok((out, start + 1 + off + 1));
            }
        } else {
            out.push(c);
        }
    }
    Err(parse_error(
        src,
        start,
        format_args!("unterminated string literal (no closing {quote})"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn signs_bind_to_literals_only_where_an_operand_is_expected() {
        assert_eq!(toks("-5"), vec![Tok::Int(-5)]);
        assert_eq!(toks("+5"), vec![Tok::Int(5)]);
        assert_eq!(toks("5-3"), vec![Tok::Int(5), Tok::Minus, Tok::Int(3)]);
        assert_eq!(toks("4 + -1"), vec![Tok::Int(4), Tok::Plus, Tok::Int(-1)]);
        assert_eq!(toks("--10"), vec![Tok::Minus, Tok::Int(-10)]);
        assert_eq!(toks("- 10"), vec![Tok::Minus, Tok::Int(10)]);
        assert_eq!(
            toks("x AND -1"),
            vec![Tok::Word("x".into()), Tok::Word("AND".into()), Tok::Int(-1)]
        );
        assert_eq!(toks("-2147483648"), vec![Tok::Int(i32::MIN)]);
    }

    #[test]
    fn out_of_range_integers_are_parse_errors() {
        for src in ["2147483648", "-2147483649", "99999999999999999999999"] {
            let err = tokenize(src).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Parse);
            assert!(err.message.contains("32-bit"), "{}", err.message);
        }
    }

    #[test]
    fn string_literal_escapes() {
        assert_eq!(toks(r#"'a"b\'c'"#), vec![Tok::Str("a\"b'c".into())]);
        assert_eq!(toks(r#""a'b\"c""#), vec![Tok::Str("a'b\"c".into())]);
        assert_eq!(toks(r"'ab\c'"), vec![Tok::Str(r"ab\c".into())]);
        assert_eq!(toks("'it''s'"), vec![Tok::Str("it's".into())]);
        assert_eq!(toks("''"), vec![Tok::Str(String::new())]);
        assert_eq!(toks("'日本'"), vec![Tok::Str("日本".into())]);
        let err = tokenize("'abc").unwrap_err();
        assert!(err.message.contains("unterminated"), "{}", err.message);
        assert!(err.message.contains("column 1"), "{}", err.message);
    }

    #[test]
    fn operators_and_words() {
        assert_eq!(
            toks("a<>b != c <= d >= e < f > g"),
            vec![
                Tok::Word("a".into()),
                Tok::NotEq,
                Tok::Word("b".into()),
                Tok::NotEq,
                Tok::Word("c".into()),
                Tok::Le,
                Tok::Word("d".into()),
                Tok::Ge,
                Tok::Word("e".into()),
                Tok::Lt,
                Tok::Word("f".into()),
                Tok::Gt,
                Tok::Word("g".into()),
            ]
        );
        assert_eq!(toks("1abc"), vec![Tok::Word("1abc".into())]);
        let err = tokenize("a ; b").unwrap_err();
        assert!(err.message.contains("`;` at column 3"), "{}", err.message);
    }
}
