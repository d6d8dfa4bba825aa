//! Evaluates a compiled tree against an event.
//!
//! Error semantics (§3.2, §3.3, §3.7): every operator and function is total. A failed cast
//! yields the target type's zero value and a _CastError_, and the operator goes on with
//! it; division or modulo by zero yields `0` and a _MathError_; an integer result outside
//! 32 bits yields the nearest bound (as `ABS(-2147483648)` does) and a _MathError_. When an
//! operand of an operator or function carries an error (a missing attribute above all),
//! the operator is not applied: it evaluates to the zero value of its own return type, so
//! `missing / 0` is `0` with a _MissingAttributeError_ and no _MathError_, and
//! `TRUE AND (1 != 1 / 0)` is `false` with a _MathError_. `AND` and `OR` short-circuit.
//!
//! `IN` compares the set elements in order and stops at the first match, as the equivalent
//! chain of `=` joined by `OR` would; an element after the match is not evaluated.
//!
//! The first error raised is reported. Strings borrow from the event and the expression:
//! comparisons allocate nothing. Operators with a Boolean or Integer result have typed
//! fast paths whose results travel in registers; the general evaluator ([`eval_general`])
//! defines the semantics and the random-expression test checks both agree.

use std::borrow::Cow;

use crate::ast::{ArithOp, Literal, LogicOp, Node, OrderOp};
use crate::attributes::{AttributeName, AttributeValue, Attributes};
use crate::error::{Error, ErrorKind};
use crate::functions;
use crate::value::{Type, Val, integer_text, to_boolean, to_integer, with_text};

/// The outcome of evaluating one node: `Ok` when no error occurred in its subtree, `Err`
/// with the node's value when one did (the error itself is in [`Ctx::error`]).
pub(crate) type Out<'a> = Result<Val<'a>, Val<'a>>;

/// Evaluation state: the event, the first error raised, and whether the typed fast paths
/// are used (they are, except in tests comparing them with the general evaluator).
pub(crate) struct Ctx<'a, A: ?Sized> {
    pub(crate) attrs: &'a A,
    pub(crate) error: Option<Error>,
    fast: bool,
}

impl<'a, A: Attributes + ?Sized> Ctx<'a, A> {
    pub(crate) fn new(attrs: &'a A, fast: bool) -> Self {
        Ctx {
            attrs,
            error: None,
            fast,
        }
    }

    /// Records an error (the first one is kept). The message is built only when kept.
    #[cold]
    pub(crate) fn raise(&mut self, kind: ErrorKind, message: impl FnOnce() -> String) {
        if self.error.is_none() {
            self.error = Some(Error::new(kind, message()));
        }
    }

    /// Casts to Integer for `what`; a failure raises a _CastError_ and yields `0`.
    #[inline]
    pub(crate) fn integer(&mut self, v: &Val<'_>, what: &str) -> (i32, bool) {
        match to_integer(v) {
            Ok(i) => (i, true),
            Err(failure) => {
                self.raise(ErrorKind::Cast, || format!("{what}: {}", failure.message));
                (0, false)
            }
        }
    }

    /// Casts to Boolean for `what`; a failure raises a _CastError_ and yields `false`.
    #[inline]
    pub(crate) fn boolean(&mut self, v: &Val<'_>, what: &str) -> (bool, bool) {
        match to_boolean(v) {
            Ok(b) => (b, true),
            Err(failure) => {
                self.raise(ErrorKind::Cast, || format!("{what}: {}", failure.message));
                (false, false)
            }
        }
    }
}

/// `Ok(v)` when `clean`, else `Err(v)`.
#[inline]
pub(crate) fn finish(v: Val<'_>, clean: bool) -> Out<'_> {
    if clean { Ok(v) } else { Err(v) }
}

/// Evaluates an operand; if it carries an error, the enclosing node returns `$zero`.
macro_rules! operand {
    ($cx:expr, Attr($name:expr), $zero:expr) => {
        match attribute($cx, $name) {
            Ok(v) => v,
            Err(_) => return Err($zero),
        }
    };
    ($cx:expr, $node:expr, $zero:expr) => {
        match eval($node, $cx) {
            Ok(v) => v,
            Err(_) => return Err($zero),
        }
    };
}
pub(crate) use operand;

fn arith_name(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::Rem => "%",
    }
}

fn order_name(op: OrderOp) -> &'static str {
    match op {
        OrderOp::Lt => "<",
        OrderOp::Le => "<=",
        OrderOp::Gt => ">",
        OrderOp::Ge => ">=",
    }
}

fn logic_name(op: LogicOp) -> &'static str {
    match op {
        LogicOp::And => "AND",
        LogicOp::Or => "OR",
        LogicOp::Xor => "XOR",
    }
}

/// Evaluates `node`. Operators with a Boolean or Integer result take the typed fast path
/// ([`eval_bool`], [`eval_int`]), whose results travel in registers.
pub(crate) fn eval<'a, A: Attributes + ?Sized>(node: &'a Node, cx: &mut Ctx<'a, A>) -> Out<'a> {
    if cx.fast {
        match node {
            Node::Exists(_)
            | Node::Not(_)
            | Node::Order(..)
            | Node::Equal { .. }
            | Node::Logic(..)
            | Node::Like { .. }
            | Node::In { .. }
            | Node::AttributeEqualsString { .. }
            | Node::AttributeEqualsInteger { .. }
            | Node::AttributeOrder { .. } => {
                return eval_bool(node, cx).map(Val::Bool).map_err(Val::Bool);
            }
            Node::Negate(_) | Node::Arith(..) => {
                return eval_int(node, cx).map(Val::Int).map_err(Val::Int);
            }
            _ => {}
        }
    }
    eval_general(node, cx)
}

/// The general evaluator: every node, values as [`Val`].
fn eval_general<'a, A: Attributes + ?Sized>(node: &'a Node, cx: &mut Ctx<'a, A>) -> Out<'a> {
    match node {
        Node::Literal(lit) => Ok(match lit {
            Literal::Bool(b) => Val::Bool(*b),
            Literal::Int(i) => Val::Int(*i),
            Literal::Str(s) => Val::Str(Cow::Borrowed(s)),
        }),
        Node::Attribute(name) => attribute(cx, name),
        Node::Exists(name) => Ok(Val::Bool(cx.attrs.lookup(name).is_some())),
        Node::Not(x) => {
            let v = operand!(cx, x, Val::Bool(false));
            let (b, clean) = cx.boolean(&v, "NOT");
            finish(Val::Bool(!b), clean)
        }
        Node::Negate(x) => {
            let v = operand!(cx, x, Val::Int(0));
            let (i, clean) = cx.integer(&v, "unary -");
            match i.checked_neg() {
                Some(n) => finish(Val::Int(n), clean),
                None => {
                    cx.raise(ErrorKind::Math, || {
                        format!(
                            "-({i}) is outside the 32-bit integer range; the result is 2147483647"
                        )
                    });
                    Err(Val::Int(i32::MAX))
                }
            }
        }
        Node::Arith(op, l, r) => {
            let lv = operand!(cx, l, Val::Int(0));
            let rv = operand!(cx, r, Val::Int(0));
            let name = arith_name(*op);
            let (x, lc) = cx.integer(&lv, name);
            let (y, rc) = cx.integer(&rv, name);
            arith(cx, *op, x, y, lc && rc)
                .map(Val::Int)
                .map_err(Val::Int)
        }
        Node::Order(op, l, r) => {
            let lv = operand!(cx, l, Val::Bool(false));
            let rv = operand!(cx, r, Val::Bool(false));
            let name = order_name(*op);
            let (x, lc) = cx.integer(&lv, name);
            let (y, rc) = cx.integer(&rv, name);
            finish(Val::Bool(order(*op, x, y)), lc && rc)
        }
        Node::Equal {
            negated,
            left,
            right,
        } => {
            let lv = operand!(cx, left, Val::Bool(false));
            let rv = operand!(cx, right, Val::Bool(false));
            let what = if *negated { "!=" } else { "=" };
            let (eq, clean) = equal(cx, lv, &rv, what);
            finish(Val::Bool(eq != *negated), clean)
        }
        Node::Logic(op, l, r) => {
            let lv = operand!(cx, l, Val::Bool(false));
            let name = logic_name(*op);
            let (a, lc) = cx.boolean(&lv, name);
            match op {
                LogicOp::And if !a => return finish(Val::Bool(false), lc),
                LogicOp::Or if a => return finish(Val::Bool(true), lc),
                _ => {}
            }
            let rv = operand!(cx, r, Val::Bool(false));
            let (b, rc) = cx.boolean(&rv, name);
            let result = match op {
                LogicOp::And | LogicOp::Or => b,
                LogicOp::Xor => a != b,
            };
            finish(Val::Bool(result), lc && rc)
        }
        Node::Like {
            negated,
            operand,
            pattern,
        } => {
            let v = operand!(cx, operand, Val::Bool(false));
            let matched = with_text(&v, |text| pattern.matches(text));
            Ok(Val::Bool(matched != *negated))
        }
        Node::In {
            negated,
            operand,
            set,
        } => {
            let v = operand!(cx, operand, Val::Bool(false));
            let what = if *negated { "NOT IN" } else { "IN" };
            let mut found = false;
            let mut clean = true;
            for element in set.iter() {
                let e = operand!(cx, element, Val::Bool(false));
                // The left operand's type is the target type of the set elements (§3.7).
                let (eq, c) = equal(cx, e, &v, what);
                clean &= c;
                if eq {
                    found = true;
                    break;
                }
            }
            finish(Val::Bool(found != *negated), clean)
        }
        Node::Call { function, args } => functions::call(*function, args, cx),
        Node::AttributeEqualsString {
            negated,
            name,
            value,
        } => {
            let v = operand!(cx, Attr(name), Val::Bool(false));
            let eq = with_text(&v, |s| s == &**value);
            Ok(Val::Bool(eq != *negated))
        }
        Node::AttributeEqualsInteger {
            negated,
            name,
            value,
        } => {
            let v = operand!(cx, Attr(name), Val::Bool(false));
            let (i, clean) = cx.integer(&v, if *negated { "!=" } else { "=" });
            finish(Val::Bool((i == *value) != *negated), clean)
        }
        Node::AttributeOrder { op, name, value } => {
            let v = operand!(cx, Attr(name), Val::Bool(false));
            let (i, clean) = cx.integer(&v, order_name(*op));
            finish(Val::Bool(order(*op, i, *value)), clean)
        }
        Node::MissingFunction { name, arity } => {
            cx.raise(ErrorKind::MissingFunction, || {
                format!("no function {name} takes {arity} argument(s)")
            });
            Err(Val::Bool(false))
        }
    }
}

/// Reads an attribute; a missing one raises a _MissingAttributeError_ and is `false`
/// (its type is unknown, so Boolean is assumed, §3.2).
#[inline]
fn attribute<'a, A: Attributes + ?Sized>(cx: &mut Ctx<'a, A>, name: &'a AttributeName) -> Out<'a> {
    match cx.attrs.lookup(name) {
        Some(AttributeValue::String(s)) => Ok(Val::Str(Cow::Borrowed(s))),
        Some(AttributeValue::Integer(i)) => Ok(Val::Int(i)),
        Some(AttributeValue::Boolean(b)) => Ok(Val::Bool(b)),
        None => {
            cx.raise(ErrorKind::MissingAttribute, || {
                format!("the event has no attribute `{}`", name.as_str())
            });
            Err(Val::Bool(false))
        }
    }
}

#[inline]
fn order(op: OrderOp, x: i32, y: i32) -> bool {
    match op {
        OrderOp::Lt => x < y,
        OrderOp::Le => x <= y,
        OrderOp::Gt => x > y,
        OrderOp::Ge => x >= y,
    }
}

/// `=` between `x` and `y`: `x` is cast to `y`'s type (the ambiguous-operator rule, §3.7).
#[inline]
fn equal<A: Attributes + ?Sized>(
    cx: &mut Ctx<'_, A>,
    x: Val<'_>,
    y: &Val<'_>,
    what: &str,
) -> (bool, bool) {
    match y {
        Val::Str(ys) => (with_text(&x, |xs| xs == &**ys), true),
        Val::Int(yi) => {
            let (xi, clean) = cx.integer(&x, what);
            (xi == *yi, clean)
        }
        Val::Bool(yb) => {
            let (xb, clean) = cx.boolean(&x, what);
            (xb == *yb, clean)
        }
    }
}

fn arith<A: Attributes + ?Sized>(
    cx: &mut Ctx<'_, A>,
    op: ArithOp,
    x: i32,
    y: i32,
    clean: bool,
) -> Result<i32, i32> {
    let exact = match op {
        ArithOp::Add => i64::from(x) + i64::from(y),
        ArithOp::Sub => i64::from(x) - i64::from(y),
        ArithOp::Mul => i64::from(x) * i64::from(y),
        ArithOp::Div | ArithOp::Rem if y == 0 => {
            cx.raise(ErrorKind::Math, || {
                format!(
                    "{x} {} 0: division by zero; the result is 0",
                    arith_name(op)
                )
            });
            return Err(0);
        }
        // Truncates towards zero.
        ArithOp::Div => i64::from(x) / i64::from(y),
        // The sign of the dividend.
        ArithOp::Rem => i64::from(x) % i64::from(y),
    };
    match i32::try_from(exact) {
        Ok(v) if clean => Ok(v),
        Ok(v) => Err(v),
        Err(_) => {
            let bound = if exact < 0 { i32::MIN } else { i32::MAX };
            cx.raise(ErrorKind::Math, || {
                format!(
                    "{x} {} {y} = {exact} is outside the 32-bit integer range; the result is {bound}",
                    arith_name(op)
                )
            });
            Err(bound)
        }
    }
}

/// An operand of an integer operator: already an Integer (typed path) or a value to cast.
enum IntOperand<'a> {
    Int(i32),
    Val(Val<'a>),
}

/// Evaluates an operand of an integer operator; if it carries an error, the enclosing
/// node returns `Err($zero)`. Casting is left to [`settle_int`], after every operand has
/// been evaluated, as in the general evaluator.
macro_rules! int_operand {
    ($cx:expr, $node:expr, $zero:expr) => {
        if $node.ty() == Some(Type::Integer) {
            match eval_int($node, $cx) {
                Ok(i) => IntOperand::Int(i),
                Err(_) => return Err($zero),
            }
        } else {
            match eval($node, $cx) {
                Ok(v) => IntOperand::Val(v),
                Err(_) => return Err($zero),
            }
        }
    };
}

#[inline]
fn settle_int<A: Attributes + ?Sized>(
    cx: &mut Ctx<'_, A>,
    operand: IntOperand<'_>,
    what: &str,
) -> (i32, bool) {
    match operand {
        IntOperand::Int(i) => (i, true),
        IntOperand::Val(v) => cx.integer(&v, what),
    }
}

/// Like `Ok(v)` / `Err(v)` for registers.
#[inline]
fn done<T>(v: T, clean: bool) -> Result<T, T> {
    if clean { Ok(v) } else { Err(v) }
}

/// Typed fast path for nodes whose result is a Boolean: the same semantics as
/// [`eval_general`] (checked by the random-expression test), results in registers.
fn eval_bool<'a, A: Attributes + ?Sized>(
    node: &'a Node,
    cx: &mut Ctx<'a, A>,
) -> Result<bool, bool> {
    const BOOLEAN: Option<Type> = Some(Type::Boolean);
    const INTEGER: Option<Type> = Some(Type::Integer);
    match node {
        Node::Literal(Literal::Bool(b)) => Ok(*b),
        Node::Exists(name) => Ok(cx.attrs.lookup(name).is_some()),
        Node::Not(x) if x.ty() == BOOLEAN => match eval_bool(x, cx) {
            Ok(b) => Ok(!b),
            Err(_) => Err(false),
        },
        Node::Logic(op, l, r) if l.ty() == BOOLEAN && r.ty() == BOOLEAN => {
            let a = eval_bool(l, cx).map_err(|_| false)?;
            match op {
                LogicOp::And if !a => return Ok(false),
                LogicOp::Or if a => return Ok(true),
                _ => {}
            }
            let b = eval_bool(r, cx).map_err(|_| false)?;
            Ok(match op {
                LogicOp::And | LogicOp::Or => b,
                LogicOp::Xor => a != b,
            })
        }
        Node::Equal {
            negated,
            left,
            right,
        } if left.ty() == right.ty() && left.ty() == BOOLEAN => {
            let x = eval_bool(left, cx).map_err(|_| false)?;
            let y = eval_bool(right, cx).map_err(|_| false)?;
            Ok((x == y) != *negated)
        }
        Node::Equal {
            negated,
            left,
            right,
        } if right.ty() == INTEGER => {
            let what = if *negated { "!=" } else { "=" };
            let lv = int_operand!(cx, left, false);
            let y = eval_int(right, cx).map_err(|_| false)?;
            let (x, clean) = settle_int(cx, lv, what);
            done((x == y) != *negated, clean)
        }
        Node::Order(op, l, r) => {
            let what = order_name(*op);
            let lv = int_operand!(cx, l, false);
            let rv = int_operand!(cx, r, false);
            let (x, lc) = settle_int(cx, lv, what);
            let (y, rc) = settle_int(cx, rv, what);
            done(order(*op, x, y), lc && rc)
        }
        Node::AttributeEqualsString {
            negated,
            name,
            value,
        } => match cx.attrs.lookup(name) {
            Some(AttributeValue::String(s)) => Ok((s == &**value) != *negated),
            _ => general_bool(node, cx),
        },
        Node::Like {
            negated,
            operand,
            pattern,
        } if matches!(**operand, Node::Attribute(_)) => {
            if let Node::Attribute(name) = &**operand
                && let Some(AttributeValue::String(s)) = cx.attrs.lookup(name)
            {
                return Ok(pattern.matches(s) != *negated);
            }
            general_bool(node, cx)
        }
        Node::In {
            negated,
            operand,
            set,
        } if matches!(**operand, Node::Attribute(_)) => {
            if let Node::Attribute(name) = &**operand
                && let Some(AttributeValue::String(s)) = cx.attrs.lookup(name)
                && set.iter().all(|e| matches!(e, Node::Literal(_)))
            {
                // A String left operand: each literal is cast to String (§3.7), which
                // cannot fail.
                let found = set.iter().any(|element| match element {
                    Node::Literal(Literal::Str(l)) => s == &**l,
                    Node::Literal(Literal::Int(i)) => s == integer_text(*i, &mut [0; 11]),
                    Node::Literal(Literal::Bool(b)) => s == if *b { "true" } else { "false" },
                    _ => false,
                });
                return Ok(found != *negated);
            }
            general_bool(node, cx)
        }
        Node::AttributeOrder { op, name, value } => match cx.attrs.lookup(name) {
            Some(AttributeValue::Integer(i)) => Ok(order(*op, i, *value)),
            Some(AttributeValue::String(s)) if let Ok(i) = crate::value::parse_integer(s) => {
                Ok(order(*op, i, *value))
            }
            _ => general_bool(node, cx),
        },
        _ => general_bool(node, cx),
    }
}

/// [`eval_general`] for a Boolean-typed node.
fn general_bool<'a, A: Attributes + ?Sized>(
    node: &'a Node,
    cx: &mut Ctx<'a, A>,
) -> Result<bool, bool> {
    match eval_general(node, cx) {
        Ok(v) => Ok(v == Val::Bool(true)),
        Err(v) => Err(v == Val::Bool(true)),
    }
}

/// Typed fast path for nodes whose result is an Integer, as [`eval_bool`].
fn eval_int<'a, A: Attributes + ?Sized>(node: &'a Node, cx: &mut Ctx<'a, A>) -> Result<i32, i32> {
    match node {
        Node::Literal(Literal::Int(i)) => Ok(*i),
        Node::Negate(x) => {
            let v = int_operand!(cx, x, 0);
            let (i, clean) = settle_int(cx, v, "unary -");
            match i.checked_neg() {
                Some(n) => done(n, clean),
                None => {
                    cx.raise(ErrorKind::Math, || {
                        format!(
                            "-({i}) is outside the 32-bit integer range; the result is 2147483647"
                        )
                    });
                    Err(i32::MAX)
                }
            }
        }
        Node::Arith(op, l, r) => {
            let name = arith_name(*op);
            let lv = int_operand!(cx, l, 0);
            let rv = int_operand!(cx, r, 0);
            let (x, lc) = settle_int(cx, lv, name);
            let (y, rc) = settle_int(cx, rv, name);
            arith(cx, *op, x, y, lc && rc)
        }
        _ => match eval_general(node, cx) {
            Ok(Val::Int(i)) => Ok(i),
            Ok(_) => Ok(0),
            Err(Val::Int(i)) => Err(i),
            Err(_) => Err(0),
        },
    }
}
