//! The built-in functions (§3.5): string manipulation (`LENGTH`, `CONCAT`, `CONCAT_WS`,
//! `LOWER`, `UPPER`, `TRIM`, `LEFT`, `RIGHT`, `SUBSTRING`), math (`ABS`) and the casting
//! functions `INT`, `BOOL`, `STRING` with the predicates `IS_INT`, `IS_BOOL` (named in §3.7
//! and in the conformance suite). Names are case-insensitive; a name is resolved with its
//! arity once, at compile time. Arguments are cast to the parameter types (§3.7); an
//! argument carrying an error makes the call evaluate to its return type's zero value.
//! Characters are Unicode scalar values.

use std::borrow::Cow;

use crate::ast::Node;
use crate::attributes::Attributes;
use crate::error::ErrorKind;
use crate::eval::{Ctx, Out, eval, finish, operand};
use crate::value::{Type, Val, parse_boolean, parse_integer, to_boolean, to_integer, to_string};

/// A built-in function resolved with its arity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Builtin {
    Length,
    Concat,
    ConcatWs,
    Lower,
    Upper,
    Trim,
    Left,
    Right,
    Substring,
    Abs,
    Int,
    Bool,
    String,
    IsInt,
    IsBool,
}

impl Builtin {
    /// The function `name` (any case) taking `arity` arguments, if there is one.
    pub(crate) fn resolve(name: &str, arity: usize) -> Option<Builtin> {
        let upper = name.to_ascii_uppercase();
        let (function, arity_ok) = match upper.as_str() {
            "LENGTH" => (Builtin::Length, arity == 1),
            "CONCAT" => (Builtin::Concat, true),
            "CONCAT_WS" => (Builtin::ConcatWs, arity >= 1),
            "LOWER" => (Builtin::Lower, arity == 1),
            "UPPER" => (Builtin::Upper, arity == 1),
            "TRIM" => (Builtin::Trim, arity == 1),
            "LEFT" => (Builtin::Left, arity == 2),
            "RIGHT" => (Builtin::Right, arity == 2),
            "SUBSTRING" => (Builtin::Substring, arity == 2 || arity == 3),
            "ABS" => (Builtin::Abs, arity == 1),
            "INT" => (Builtin::Int, arity == 1),
            "BOOL" => (Builtin::Bool, arity == 1),
            "STRING" => (Builtin::String, arity == 1),
            "IS_INT" => (Builtin::IsInt, arity == 1),
            "IS_BOOL" => (Builtin::IsBool, arity == 1),
            _ => return None,
        };
        arity_ok.then_some(function)
    }

    /// The function's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Builtin::Length => "LENGTH",
            Builtin::Concat => "CONCAT",
            Builtin::ConcatWs => "CONCAT_WS",
            Builtin::Lower => "LOWER",
            Builtin::Upper => "UPPER",
            Builtin::Trim => "TRIM",
            Builtin::Left => "LEFT",
            Builtin::Right => "RIGHT",
            Builtin::Substring => "SUBSTRING",
            Builtin::Abs => "ABS",
            Builtin::Int => "INT",
            Builtin::Bool => "BOOL",
            Builtin::String => "STRING",
            Builtin::IsInt => "IS_INT",
            Builtin::IsBool => "IS_BOOL",
        }
    }

    /// The return type.
    pub(crate) fn return_type(self) -> Type {
        match self {
            Builtin::Length | Builtin::Abs | Builtin::Int => Type::Integer,
            Builtin::Bool | Builtin::IsInt | Builtin::IsBool => Type::Boolean,
            Builtin::Concat
            | Builtin::ConcatWs
            | Builtin::Lower
            | Builtin::Upper
            | Builtin::Trim
            | Builtin::Left
            | Builtin::Right
            | Builtin::Substring
            | Builtin::String => Type::String,
        }
    }
}

/// Keeps a borrowed string borrowed when taking a sub-slice of it.
fn slice<'a>(s: Cow<'a, str>, start: usize, end: usize) -> Cow<'a, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.get(start..end).unwrap_or("")),
        Cow::Owned(o) => Cow::Owned(o.get(start..end).unwrap_or("").to_string()),
    }
}

/// Byte offset of the `n`-th character (or the length when there are fewer).
fn char_offset(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

fn char_count(s: &str) -> usize {
    s.chars().count()
}

/// Calls `function` on `args`.
pub(crate) fn call<'a, A: Attributes + ?Sized>(
    function: Builtin,
    args: &'a [Node],
    cx: &mut Ctx<'a, A>,
) -> Out<'a> {
    let rt = function.return_type();
    let name = function.name();
    // Evaluates argument `i`; an argument carrying an error ends the call with the zero.
    macro_rules! arg {
        ($i:expr) => {
            match args.get($i) {
                Some(node) => operand!(cx, node, Val::zero(rt)),
                None => return Err(Val::zero(rt)),
            }
        };
    }
    match function {
        Builtin::Length => {
            let s = to_string(arg!(0));
            let n = i32::try_from(char_count(&s)).unwrap_or(i32::MAX);
            Ok(Val::Int(n))
        }
        Builtin::Concat => {
            let mut out = String::new();
            for node in args {
                let v = operand!(cx, node, Val::zero(rt));
                out.push_str(&to_string(v));
            }
            Ok(Val::Str(Cow::Owned(out)))
        }
        Builtin::ConcatWs => {
            let delimiter = to_string(arg!(0));
            let mut out = String::new();
            for (i, node) in args.iter().skip(1).enumerate() {
                let v = operand!(cx, node, Val::zero(rt));
                if i > 0 {
                    out.push_str(&delimiter);
                }
                out.push_str(&to_string(v));
            }
            Ok(Val::Str(Cow::Owned(out)))
        }
        Builtin::Lower => Ok(Val::Str(Cow::Owned(to_string(arg!(0)).to_lowercase()))),
        Builtin::Upper => Ok(Val::Str(Cow::Owned(to_string(arg!(0)).to_uppercase()))),
        Builtin::Trim => {
            let s = to_string(arg!(0));
            let trimmed = s.trim();
            let start = s.len() - s.trim_start().len();
            let end = start + trimmed.len();
            Ok(Val::Str(slice(s, start, end)))
        }
        Builtin::Left | Builtin::Right => {
            let s = to_string(arg!(0));
            let count = arg!(1);
            let (n, clean) = cx.integer(&count, name);
            let Ok(n) = usize::try_from(n) else {
                cx.raise(ErrorKind::FunctionEvaluation, || {
                    format!("{name}: the character count {n} is negative; the result is the whole string")
                });
                return Err(Val::Str(s));
            };
            let out = if function == Builtin::Left {
                let end = char_offset(&s, n);
                slice(s, 0, end)
            } else {
                let len = char_count(&s);
                let start = char_offset(&s, len.saturating_sub(n));
                let end = s.len();
                slice(s, start, end)
            };
            finish(Val::Str(out), clean)
        }
        Builtin::Substring => {
            let s = to_string(arg!(0));
            let pos_arg = arg!(1);
            let (pos, pos_clean) = cx.integer(&pos_arg, name);
            let (len, len_clean) = if args.len() > 2 {
                let len_arg = arg!(2);
                let (l, c) = cx.integer(&len_arg, name);
                (Some(l), c)
            } else {
                (None, true)
            };
            substring(cx, s, pos, len, pos_clean && len_clean)
        }
        Builtin::Abs => {
            let v = arg!(0);
            let (x, clean) = cx.integer(&v, name);
            match x.checked_abs() {
                Some(a) => finish(Val::Int(a), clean),
                None => {
                    cx.raise(ErrorKind::Math, || {
                        "ABS(-2147483648) is outside the 32-bit integer range; the result is 2147483647"
                            .to_string()
                    });
                    Err(Val::Int(i32::MAX))
                }
            }
        }
        Builtin::Int => {
            let v = arg!(0);
            let (i, clean) = cx.integer(&v, name);
            finish(Val::Int(i), clean)
        }
        Builtin::Bool => {
            let v = arg!(0);
            let (b, clean) = cx.boolean(&v, name);
            finish(Val::Bool(b), clean)
        }
        Builtin::String => Ok(Val::Str(to_string(arg!(0)))),
        Builtin::IsInt => {
            let v = arg!(0);
            Ok(Val::Bool(match &v {
                Val::Str(s) => parse_integer(s).is_ok(),
                other => to_integer(other).is_ok(),
            }))
        }
        Builtin::IsBool => {
            let v = arg!(0);
            Ok(Val::Bool(match &v {
                Val::Str(s) => parse_boolean(s).is_ok(),
                other => to_boolean(other).is_ok(),
            }))
        }
    }
}

/// `SUBSTRING(x, pos[, len])` (§3.5.1): 1-based `pos`, negative `pos` counts from the end,
/// `pos = 0` gives `""`; `pos` beyond either end or a negative `len` gives `""` and a
/// _FunctionEvaluationError_.
fn substring<'a, A: Attributes + ?Sized>(
    cx: &mut Ctx<'a, A>,
    s: Cow<'a, str>,
    pos: i32,
    len: Option<i32>,
    clean: bool,
) -> Out<'a> {
    let n = i64::try_from(char_count(&s)).unwrap_or(i64::MAX);
    let p = i64::from(pos);
    if p > n || p < -n {
        cx.raise(ErrorKind::FunctionEvaluation, || {
            format!(
                "SUBSTRING: position {pos} is outside the string of length {n}; the result is \"\""
            )
        });
        return Err(Val::zero(Type::String));
    }
    if let Some(l) = len
        && l < 0
    {
        cx.raise(ErrorKind::FunctionEvaluation, || {
            format!("SUBSTRING: length {l} is negative; the result is \"\"")
        });
        return Err(Val::zero(Type::String));
    }
    if p == 0 {
        return finish(Val::zero(Type::String), clean);
    }
    let start = if p > 0 { p - 1 } else { n + p };
    let end = match len {
        Some(l) => (start + i64::from(l)).min(n),
        None => n,
    };
    let (start, end) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    let from = char_offset(&s, start);
    let to = char_offset(&s, end);
    finish(Val::Str(slice(s, from, to)), clean)
}
