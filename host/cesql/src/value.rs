//! The CESQL type system (§3.1) and the casts between its types (§3.7).

use std::borrow::Cow;
use std::fmt;

/// The three primitive CESQL types (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// `true` or `false`; zero value `false`.
    Boolean,
    /// A signed 32-bit integer; zero value `0`.
    Integer,
    /// A sequence of Unicode characters; zero value `""`.
    String,
}

impl Type {
    /// The type's name as the spec writes it.
    pub fn name(self) -> &'static str {
        match self {
            Type::Boolean => "Boolean",
            Type::Integer => "Integer",
            Type::String => "String",
        }
    }
}

/// The result of a CESQL expression: a boolean, an integer or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A _Boolean_.
    Bool(bool),
    /// An _Integer_ (32-bit).
    Integer(i32),
    /// A _String_.
    String(String),
}

impl Value {
    /// The value's CESQL type.
    pub fn ty(&self) -> Type {
        match self {
            Value::Bool(_) => Type::Boolean,
            Value::Integer(_) => Type::Integer,
            Value::String(_) => Type::String,
        }
    }

    /// The value as JSON: a boolean, a number or a string.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Integer(i) => serde_json::Value::from(*i),
            Value::String(s) => serde_json::Value::String(s.clone()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::String(s) => f.write_str(s),
        }
    }
}

/// A value during evaluation: strings borrow from the event or the expression when they can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val<'a> {
    Bool(bool),
    Int(i32),
    Str(Cow<'a, str>),
}

impl<'a> Val<'a> {
    pub(crate) fn zero(ty: Type) -> Val<'a> {
        match ty {
            Type::Boolean => Val::Bool(false),
            Type::Integer => Val::Int(0),
            Type::String => Val::Str(Cow::Borrowed("")),
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            Val::Bool(b) => Value::Bool(b),
            Val::Int(i) => Value::Integer(i),
            Val::Str(s) => Value::String(s.into_owned()),
        }
    }
}

/// Why a cast failed; the caller turns it into a _CastError_ with context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CastFailure {
    pub(crate) message: String,
}

/// `String -> Integer`: base 10, optional leading `+` or `-`, within 32 bits (§3.7).
pub(crate) fn parse_integer(s: &str) -> Result<i32, CastFailure> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CastFailure {
            message: format!("cannot cast String \"{s}\" to Integer: not a base-10 integer"),
        });
    }
    s.parse::<i32>().map_err(|_| CastFailure {
        message: format!(
            "cannot cast String \"{s}\" to Integer: outside the 32-bit range -2147483648..=2147483647"
        ),
    })
}

/// `String -> Boolean`: `true` / `false` in any letter case (§3.7).
pub(crate) fn parse_boolean(s: &str) -> Result<bool, CastFailure> {
    if s.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(CastFailure {
            message: format!(
                "cannot cast String \"{s}\" to Boolean: only \"true\" or \"false\" (any case)"
            ),
        })
    }
}

/// Casts to Integer; on failure the value is `0` (§3.7).
#[inline]
pub(crate) fn to_integer(v: &Val<'_>) -> Result<i32, CastFailure> {
    match v {
        Val::Int(i) => Ok(*i),
        Val::Bool(b) => Ok(i32::from(*b)),
        Val::Str(s) => parse_integer(s),
    }
}

/// Casts to Boolean; on failure the value is `false` (§3.7).
#[inline]
pub(crate) fn to_boolean(v: &Val<'_>) -> Result<bool, CastFailure> {
    match v {
        Val::Bool(b) => Ok(*b),
        Val::Int(i) => Ok(*i != 0),
        Val::Str(s) => parse_boolean(s),
    }
}

/// Base-10 text of `i` written into `buf`, without allocating.
pub(crate) fn integer_text(i: i32, buf: &mut [u8; 11]) -> &str {
    let mut n = i.unsigned_abs();
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    std::str::from_utf8(&buf[start..]).unwrap_or("")
}

/// Calls `f` with the String cast of `v` (§3.7), without allocating.
#[inline]
pub(crate) fn with_text<R>(v: &Val<'_>, f: impl FnOnce(&str) -> R) -> R {
    match v {
        Val::Str(s) => f(s),
        Val::Int(i) => f(integer_text(*i, &mut [0; 11])),
        Val::Bool(true) => f("true"),
        Val::Bool(false) => f("false"),
    }
}

/// Casts to String; never fails (§3.7).
pub(crate) fn to_string<'a>(v: Val<'a>) -> Cow<'a, str> {
    match v {
        Val::Str(s) => s,
        Val::Int(i) => Cow::Owned(i.to_string()),
        Val::Bool(true) => Cow::Borrowed("true"),
        Val::Bool(false) => Cow::Borrowed("false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_integer_follows_the_casting_table() {
        assert_eq!(parse_integer("42"), Ok(42));
        assert_eq!(parse_integer("+42"), Ok(42));
        assert_eq!(parse_integer("-42"), Ok(-42));
        assert_eq!(parse_integer("007"), Ok(7));
        assert_eq!(parse_integer("2147483647"), Ok(i32::MAX));
        assert_eq!(parse_integer("-2147483648"), Ok(i32::MIN));
        for bad in [
            "",
            "+",
            "-",
            " 1",
            "1 ",
            "1.0",
            "0x10",
            "2147483648",
            "-2147483649",
            "abc",
            "++1",
            "1e3",
        ] {
            let err = parse_integer(bad).unwrap_err();
            assert!(err.message.contains("Integer"), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn string_to_boolean_is_case_insensitive_and_exact() {
        assert_eq!(parse_boolean("true"), Ok(true));
        assert_eq!(parse_boolean("TRUE"), Ok(true));
        assert_eq!(parse_boolean("fAlSe"), Ok(false));
        for bad in ["", "1", "yes", " true", "truee", "t"] {
            assert!(parse_boolean(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn casts_between_every_pair_of_types() {
        assert_eq!(to_integer(&Val::Bool(true)), Ok(1));
        assert_eq!(to_integer(&Val::Bool(false)), Ok(0));
        assert_eq!(to_boolean(&Val::Int(0)), Ok(false));
        assert_eq!(to_boolean(&Val::Int(-50)), Ok(true));
        assert_eq!(to_string(Val::Int(-10)), "-10");
        assert_eq!(to_string(Val::Int(0)), "0");
        assert_eq!(to_string(Val::Bool(true)), "true");
        assert_eq!(to_string(Val::Bool(false)), "false");
    }

    #[test]
    fn integer_text_matches_to_string() {
        for i in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            42,
            1_000_000,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
        ] {
            assert_eq!(integer_text(i, &mut [0; 11]), i.to_string());
        }
    }
}
