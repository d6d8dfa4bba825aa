//! The compiled form of an expression: a tree resolved once at parse time (attribute names
//! to context attributes, function names to built-ins, `LIKE` patterns to matchers).

use crate::attributes::AttributeName;
use crate::functions::Builtin;
use crate::like::LikePattern;
use crate::value::Type;

/// `+ - * / %` (§3.4.2), all `Integer x Integer -> Integer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// `< <= > >=` (§3.4.2), all `Integer x Integer -> Boolean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderOp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// `AND OR XOR` (§3.4.2), all `Boolean x Boolean -> Boolean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogicOp {
    And,
    Or,
    Xor,
}

/// A literal (§2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Literal {
    Bool(bool),
    Int(i32),
    Str(Box<str>),
}

/// One node of a compiled expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Literal(Literal),
    Attribute(AttributeName),
    Exists(AttributeName),
    Not(Box<Node>),
    Negate(Box<Node>),
    Arith(ArithOp, Box<Node>, Box<Node>),
    Order(OrderOp, Box<Node>, Box<Node>),
    /// `=` (negated: `!=`, `<>`), the ambiguous operator: the left operand is cast to the
    /// right operand's type (§3.7).
    Equal {
        negated: bool,
        left: Box<Node>,
        right: Box<Node>,
    },
    Logic(LogicOp, Box<Node>, Box<Node>),
    Like {
        negated: bool,
        operand: Box<Node>,
        pattern: LikePattern,
    },
    In {
        negated: bool,
        operand: Box<Node>,
        set: Box<[Node]>,
    },
    Call {
        function: Builtin,
        args: Box<[Node]>,
    },
    /// A call no function takes: evaluates to `false` with a _MissingFunctionError_.
    MissingFunction {
        name: Box<str>,
        arity: usize,
    },
}

impl Node {
    /// The node's static return type; `None` for an attribute, whose type is the event's.
    pub(crate) fn ty(&self) -> Option<Type> {
        Some(match self {
            Node::Literal(Literal::Bool(_)) => Type::Boolean,
            Node::Literal(Literal::Int(_)) => Type::Integer,
            Node::Literal(Literal::Str(_)) => Type::String,
            Node::Attribute(_) => return None,
            Node::Negate(_) | Node::Arith(..) => Type::Integer,
            Node::Exists(_)
            | Node::Not(_)
            | Node::Order(..)
            | Node::Equal { .. }
            | Node::Logic(..)
            | Node::Like { .. }
            | Node::In { .. }
            | Node::MissingFunction { .. } => Type::Boolean,
            Node::Call { function, .. } => function.return_type(),
        })
    }
}
