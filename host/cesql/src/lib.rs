//! CloudEvents SQL Expression Language (CESQL) v1: expressions compiled once, evaluated
//! against many events.
//!
//! ```
//! use weft_cesql::{Expression, Value};
//! use weft_event::Event;
//!
//! let filter = Expression::parse("type LIKE 'com.acme.%' AND sequence > 5").unwrap();
//! let mut event = Event::new("1", "/erp", "com.acme.order.created");
//! event.extensions.insert("sequence".into(), "10".into());
//! let result = filter.eval(&event);
//! assert_eq!(result.value, Value::Bool(true));
//! assert!(result.error.is_none());
//! assert!(filter.matches(&event));
//!
//! // Evaluation errors give the spec's default value and are reported:
//! let e = Expression::parse("missing * 5").unwrap().eval(&event);
//! assert_eq!(e.value, Value::Integer(0));
//! assert_eq!(e.error.unwrap().kind, weft_cesql::ErrorKind::MissingAttribute);
//! ```
//!
//! What is implemented, section by section of the spec:
//! - literals (§2.2): 32-bit integers (out of range: parse error), `TRUE`/`FALSE`,
//!   `'…'`/`"…"` strings with `\'`/`\"` escapes;
//! - operators (§2.3, §3.4) with their precedence (§3.6), implicit casts (§3.7, the
//!   ambiguous `=`/`!=`/`<>` casting the left operand to the right one's type, `IN` casting
//!   the set to the left operand's type), `LIKE` with `%`, `_` and `\` escapes, `EXISTS`;
//! - built-in functions (§3.5) and the casting functions `INT`, `BOOL`, `STRING`,
//!   `IS_INT`, `IS_BOOL`;
//! - error semantics (§3.2, §3.3): see [`Evaluation`] and the `eval` module notes;
//! - case-insensitive keywords and function names; identifiers are lower-cased.
//!
//! Filters use [`Expression::matches`]: an event passes only when the value is `true` and
//! no error occurred (§1.2).

mod ast;
mod attributes;
mod error;
mod eval;
mod functions;
mod lexer;
mod like;
mod parser;
mod value;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use weft_event::Event;

pub use attributes::{AttributeName, AttributeValue, Attributes, ContextAttribute, JsonEvent};
pub use error::{Error, ErrorKind};
pub use value::{Type, Value};

use eval::Ctx;

/// A compiled CESQL expression. Parse once, evaluate any number of times, from any number
/// of threads (it is `Send + Sync` and evaluation does not mutate it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    source: Box<str>,
    root: ast::Node,
    /// Specialized nodes and typed fast paths (off only to test them against the general
    /// evaluator).
    fast: bool,
}

/// The result of evaluating an expression: the value (the zero value of the expression's
/// type when an error prevented computing it) and the first error raised, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The primary output: a boolean, an integer or a string.
    pub value: Value,
    /// The first error raised during evaluation, if any.
    pub error: Option<Error>,
}

impl Expression {
    /// Parses and compiles `source`. Errors are of kind [`ErrorKind::Parse`] and name the
    /// column.
    pub fn parse(source: &str) -> Result<Expression, Error> {
        Ok(Expression {
            root: ast::specialize(parser::parse(source)?),
            source: source.into(),
            fast: true,
        })
    }

    /// [`Expression::parse`] without the single-node forms of common comparisons and
    /// without the typed fast paths: the general evaluator alone, for tests that check
    /// both evaluate alike.
    #[doc(hidden)]
    pub fn parse_unspecialized(source: &str) -> Result<Expression, Error> {
        Ok(Expression {
            root: parser::parse(source)?,
            source: source.into(),
            fast: false,
        })
    }

    /// The expression text as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The type of the result when it can be known before evaluation (`None` when the
    /// expression is a bare attribute, whose type is the event's).
    pub fn result_type(&self) -> Option<Type> {
        self.root.ty()
    }

    /// Evaluates the expression against `event` (every attribute is a _String_).
    pub fn eval(&self, event: &Event) -> Evaluation {
        self.eval_with(event)
    }

    /// Evaluates the expression against any attribute source, e.g. a [`JsonEvent`].
    pub fn eval_with<A: Attributes + ?Sized>(&self, attributes: &A) -> Evaluation {
        let mut cx = Ctx::new(attributes, self.fast);
        let value = match eval::eval(&self.root, &mut cx) {
            Ok(v) | Err(v) => v.into_value(),
        };
        Evaluation {
            value,
            error: cx.error,
        }
    }

    /// Filter semantics (§1.2): whether the expression evaluates to `true` without any
    /// error. Allocates nothing unless an error occurs.
    pub fn matches(&self, event: &Event) -> bool {
        self.matches_with(event)
    }

    /// [`Expression::matches`] against any attribute source.
    pub fn matches_with<A: Attributes + ?Sized>(&self, attributes: &A) -> bool {
        let mut cx = Ctx::new(attributes, self.fast);
        matches!(eval::eval(&self.root, &mut cx), Ok(value::Val::Bool(true))) && cx.error.is_none()
    }
}

impl FromStr for Expression {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expression::parse(s)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for Expression {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for Expression {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Expression::parse(&source).map_err(|e| {
            serde::de::Error::custom(format_args!("invalid CESQL expression `{source}`: {e}"))
        })
    }
}

#[derive(Serialize)]
struct JsonError<'a> {
    kind: &'static str,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    result: serde_json::Value,
    error: Option<JsonError<'a>>,
}

impl Evaluation {
    /// The evaluation of an expression that failed to parse: `false` (the zero value of
    /// the Boolean type assumed when the type is unknown) with the parse error.
    pub fn from_parse_error(error: Error) -> Evaluation {
        Evaluation {
            value: Value::Bool(false),
            error: Some(error),
        }
    }

    /// The object `weft filter --sql` prints:
    /// `{"result": <bool|int|string>, "error": null | {"kind": "...", "message": "..."}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "result": self.value.to_json(),
            "error": self.error.as_ref().map(|e| serde_json::json!({
                "kind": e.kind.as_str(),
                "message": e.message,
            })),
        })
    }

    /// [`Evaluation::to_json`] as one line of text, keys in the order `result`, `error`.
    pub fn to_json_string(&self) -> String {
        let output = JsonOutput {
            result: self.value.to_json(),
            error: self.error.as_ref().map(|e| JsonError {
                kind: e.kind.as_str(),
                message: &e.message,
            }),
        };
        serde_json::to_string(&output).unwrap_or_else(|_| self.to_json().to_string())
    }
}

/// Parses `sql` and evaluates it against `attributes`; a parse error gives
/// [`Evaluation::from_parse_error`]. This is what `weft filter --sql` computes.
pub fn evaluate<A: Attributes + ?Sized>(sql: &str, attributes: &A) -> Evaluation {
    match Expression::parse(sql) {
        Ok(expression) => expression.eval_with(attributes),
        Err(error) => Evaluation::from_parse_error(error),
    }
}

#[cfg(test)]
mod tests;
