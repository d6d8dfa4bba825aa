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
    /// `attribute = 'literal'` (negated: `!=`, `<>`), the commonest filter, in one node.
    AttributeEqualsString {
        negated: bool,
        name: AttributeName,
        value: Box<str>,
    },
    /// `attribute = 10` (negated: `!=`, `<>`) in one node.
    AttributeEqualsInteger {
        negated: bool,
        name: AttributeName,
        value: i32,
    },
    /// `attribute < 10` (and `<=`, `>`, `>=`) in one node.
    AttributeOrder {
        op: OrderOp,
        name: AttributeName,
        value: i32,
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
            | Node::MissingFunction { .. }
            | Node::AttributeEqualsString { .. }
            | Node::AttributeEqualsInteger { .. }
            | Node::AttributeOrder { .. } => Type::Boolean,
            Node::Call { function, .. } => function.return_type(),
        })
    }
}

/// Replaces the commonest shapes (an attribute compared with a literal) by single nodes
/// that evaluate the same way with less work. Recursion is bounded by the parser's depth
/// limit.
pub(crate) fn specialize(node: Node) -> Node {
    let boxed = |n: Box<Node>| Box::new(specialize(*n));
    let all =
        |ns: Box<[Node]>| -> Box<[Node]> { ns.into_vec().into_iter().map(specialize).collect() };
    match node {
        Node::Equal {
            negated,
            left,
            right,
        } => match (*left, *right) {
            (Node::Attribute(name), Node::Literal(Literal::Str(value))) => {
                Node::AttributeEqualsString {
                    negated,
                    name,
                    value,
                }
            }
            (Node::Attribute(name), Node::Literal(Literal::Int(value))) => {
                Node::AttributeEqualsInteger {
                    negated,
                    name,
                    value,
                }
            }
            (left, right) => Node::Equal {
                negated,
                left: Box::new(specialize(left)),
                right: Box::new(specialize(right)),
            },
        },
        Node::Order(op, left, right) => match (*left, *right) {
            (Node::Attribute(name), Node::Literal(Literal::Int(value))) => {
                Node::AttributeOrder { op, name, value }
            }
            (left, right) => {
                Node::Order(op, Box::new(specialize(left)), Box::new(specialize(right)))
            }
        },
        Node::Not(x) => Node::Not(boxed(x)),
        Node::Negate(x) => Node::Negate(boxed(x)),
        Node::Arith(op, l, r) => Node::Arith(op, boxed(l), boxed(r)),
        Node::Logic(op, l, r) => Node::Logic(op, boxed(l), boxed(r)),
        Node::Like {
            negated,
            operand,
            pattern,
        } => Node::Like {
            negated,
            operand: boxed(operand),
            pattern,
        },
        Node::In {
            negated,
            operand,
            set,
        } => Node::In {
            negated,
            operand: boxed(operand),
            set: all(set),
        },
        Node::Call { function, args } => Node::Call {
            function,
            args: all(args),
        },
        leaf @ (Node::Literal(_)
        | Node::Attribute(_)
        | Node::Exists(_)
        | Node::MissingFunction { .. }
        | Node::AttributeEqualsString { .. }
        | Node::AttributeEqualsInteger { .. }
        | Node::AttributeOrder { .. }) => leaf,
    }
}
