//! Builds the compiled tree from tokens, with the precedence of §3.6 (tightest first):
//! function calls; `NOT`, unary `-`; `LIKE`; `EXISTS`; `IN`; `* / %`; `+ -`;
//! `= != <> >= <= > <`; `AND OR XOR`. Operators of equal precedence group left to right.
//! Keywords and function names are case-insensitive; identifiers are lower-cased.

use crate::ast::{ArithOp, Literal, LogicOp, Node, OrderOp};
use crate::attributes::AttributeName;
use crate::error::Error;
use crate::functions::Builtin;
use crate::lexer::{Tok, Token, is_operator_keyword, parse_error, tokenize};
use crate::like::LikePattern;

/// Deepest tree accepted: evaluation recurses once per level, so this bounds its stack.
pub(crate) const MAX_DEPTH: u32 = 256;

const PREC_LOGIC: u8 = 1;
const PREC_COMPARE: u8 = 2;
const PREC_ADD: u8 = 3;
const PREC_MUL: u8 = 4;
const PREC_IN: u8 = 5;
const PREC_LIKE: u8 = 7;

/// Parses and compiles a whole expression.
pub(crate) fn parse(src: &str) -> Result<Node, Error> {
    let tokens = tokenize(src)?;
    if tokens.is_empty() {
        return Err(Error::new(
            crate::ErrorKind::Parse,
            "empty expression: expected a value, an attribute, a function call or an operator",
        ));
    }
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
    };
    let (node, _) = parser.expression(0, 0)?;
    if let Some(token) = parser.tokens.get(parser.pos) {
        return Err(parse_error(
            src,
            token.at,
            format_args!(
                "unexpected {} after a complete expression",
                describe(&token.tok)
            ),
        ));
    }
    Ok(node)
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
}

/// A binary or postfix operator found after an operand.
enum Infix {
    Arith(ArithOp),
    Order(OrderOp),
    Equal { negated: bool },
    Logic(LogicOp),
    Like { negated: bool },
    In { negated: bool },
}

fn keyword(tok: Option<&Tok>, kw: &str) -> bool {
    matches!(tok, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Int(i) => format!("integer {i}"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Word(w) => format!("`{w}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Eq => "`=`".into(),
        Tok::NotEq => "`!=`".into(),
        Tok::Lt => "`<`".into(),
        Tok::Le => "`<=`".into(),
        Tok::Gt => "`>`".into(),
        Tok::Ge => "`>=`".into(),
        Tok::Plus => "`+`".into(),
        Tok::Minus => "`-`".into(),
        Tok::Star => "`*`".into(),
        Tok::Slash => "`/`".into(),
        Tok::Percent => "`%`".into(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, offset: usize) -> Option<&Tok> {
        self.tokens.get(self.pos + offset).map(|t| &t.tok)
    }

    /// Byte offset of the current token (or the end of the text).
    fn here(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.src.len(), |t| t.at)
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        parse_error(self.src, self.here(), message)
    }

    fn unexpected(&self, expected: &str) -> Error {
        match self.peek() {
            Some(tok) => self.error(format_args!("expected {expected}, found {}", describe(tok))),
            None => self.error(format_args!(
                "expected {expected}, found the end of the expression"
            )),
        }
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> Result<(), Error> {
        if self.peek() == Some(&tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn check_depth(&self, depth: u32) -> Result<u32, Error> {
        if depth > MAX_DEPTH {
            Err(self.error(format_args!(
                "expression nested too deeply (more than {MAX_DEPTH} levels)"
            )))
        } else {
            Ok(depth)
        }
    }

    /// The operator at the current position, its precedence and its token count.
    fn infix(&self) -> Option<(Infix, u8, usize)> {
        let tok = self.peek()?;
        Some(match tok {
            Tok::Star => (Infix::Arith(ArithOp::Mul), PREC_MUL, 1),
            Tok::Slash => (Infix::Arith(ArithOp::Div), PREC_MUL, 1),
            Tok::Percent => (Infix::Arith(ArithOp::Rem), PREC_MUL, 1),
            Tok::Plus => (Infix::Arith(ArithOp::Add), PREC_ADD, 1),
            Tok::Minus => (Infix::Arith(ArithOp::Sub), PREC_ADD, 1),
            Tok::Eq => (Infix::Equal { negated: false }, PREC_COMPARE, 1),
            Tok::NotEq => (Infix::Equal { negated: true }, PREC_COMPARE, 1),
            Tok::Lt => (Infix::Order(OrderOp::Lt), PREC_COMPARE, 1),
            Tok::Le => (Infix::Order(OrderOp::Le), PREC_COMPARE, 1),
            Tok::Gt => (Infix::Order(OrderOp::Gt), PREC_COMPARE, 1),
            Tok::Ge => (Infix::Order(OrderOp::Ge), PREC_COMPARE, 1),
            Tok::Word(w) if w.eq_ignore_ascii_case("AND") => {
                (Infix::Logic(LogicOp::And), PREC_LOGIC, 1)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("OR") => {
                (Infix::Logic(LogicOp::Or), PREC_LOGIC, 1)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("XOR") => {
                (Infix::Logic(LogicOp::Xor), PREC_LOGIC, 1)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("LIKE") => {
                (Infix::Like { negated: false }, PREC_LIKE, 1)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("IN") => {
                (Infix::In { negated: false }, PREC_IN, 1)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("NOT") => {
                if keyword(self.peek_at(1), "LIKE") {
                    (Infix::Like { negated: true }, PREC_LIKE, 2)
                } else if keyword(self.peek_at(1), "IN") {
                    (Infix::In { negated: true }, PREC_IN, 2)
                } else {
                    return None;
                }
            }
            _ => return None,
        })
    }

    /// Precedence climbing: an operand, then every operator of precedence >= `min_prec`.
    /// Returns the node and the depth of its tree.
    fn expression(&mut self, min_prec: u8, nesting: u32) -> Result<(Node, u32), Error> {
        let nesting = self.check_depth(nesting + 1)?;
        let (mut left, mut depth) = self.prefix(nesting)?;
        while let Some((op, prec, width)) = self.infix() {
            if prec < min_prec {
                break;
            }
            self.pos += width;
            let (node, d) = match op {
                Infix::Like { negated } => {
                    let pattern = match self.peek() {
                        Some(Tok::Str(p)) => LikePattern::compile(p),
                        _ => return Err(self.unexpected("a string literal as the LIKE pattern")),
                    };
                    self.pos += 1;
                    (
                        Node::Like {
                            negated,
                            operand: Box::new(left),
                            pattern,
                        },
                        depth + 1,
                    )
                }
                Infix::In { negated } => {
                    self.expect(Tok::LParen, "`(` opening the IN set")?;
                    let mut set = Vec::new();
                    let mut d = depth;
                    loop {
                        let (element, ed) = self.expression(0, nesting)?;
                        d = d.max(ed);
                        set.push(element);
                        match self.peek() {
                            Some(Tok::Comma) => self.pos += 1,
                            Some(Tok::RParen) => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.unexpected("`,` or `)` in the IN set")),
                        }
                    }
                    (
                        Node::In {
                            negated,
                            operand: Box::new(left),
                            set: set.into_boxed_slice(),
                        },
                        d + 1,
                    )
                }
                binary => {
                    let (right, rd) = self.expression(prec + 1, nesting)?;
                    let (l, r) = (Box::new(left), Box::new(right));
                    let node = match binary {
                        Infix::Arith(op) => Node::Arith(op, l, r),
                        Infix::Order(op) => Node::Order(op, l, r),
                        Infix::Equal { negated } => Node::Equal {
                            negated,
                            left: l,
                            right: r,
                        },
                        Infix::Logic(op) => Node::Logic(op, l, r),
                        Infix::Like { .. } | Infix::In { .. } => unreachable_infix(),
                    };
                    (node, depth.max(rd) + 1)
                }
            };
            left = node;
            depth = self.check_depth(d)?;
        }
        Ok((left, depth))
    }

    /// An operand: a prefix operator applied to an operand, or a primary.
    fn prefix(&mut self, nesting: u32) -> Result<(Node, u32), Error> {
        let nesting = self.check_depth(nesting + 1)?;
        let Some(tok) = self.peek().cloned() else {
            return Err(self.unexpected("a value, an attribute or a function call"));
        };
        let start = self.pos;
        self.pos += 1;
        match tok {
            Tok::Int(i) => Ok((Node::Literal(Literal::Int(i)), 1)),
            Tok::Str(s) => Ok((Node::Literal(Literal::Str(s.into_boxed_str())), 1)),
            Tok::Minus => {
                let (operand, d) = self.prefix(nesting)?;
                Ok((Node::Negate(Box::new(operand)), self.check_depth(d + 1)?))
            }
            Tok::LParen => {
                let (inner, d) = self.expression(0, nesting)?;
                self.expect(Tok::RParen, "`)` closing the parenthesis")?;
                Ok((inner, d))
            }
            Tok::Word(word) => {
                if word.eq_ignore_ascii_case("NOT") {
                    let (operand, d) = self.prefix(nesting)?;
                    return Ok((Node::Not(Box::new(operand)), self.check_depth(d + 1)?));
                }
                if word.eq_ignore_ascii_case("EXISTS") {
                    let name = match self.peek() {
                        Some(Tok::Word(w)) if !is_reserved(w) => w.clone(),
                        _ => return Err(self.unexpected("an attribute name after EXISTS")),
                    };
                    let name = self.identifier(&name)?;
                    self.pos += 1;
                    return Ok((Node::Exists(name), 1));
                }
                if word.eq_ignore_ascii_case("TRUE") {
                    return Ok((Node::Literal(Literal::Bool(true)), 1));
                }
                if word.eq_ignore_ascii_case("FALSE") {
                    return Ok((Node::Literal(Literal::Bool(false)), 1));
                }
                if is_operator_keyword(&word) {
                    self.pos = start;
                    return Err(self.unexpected("a value, an attribute or a function call"));
                }
                if self.peek() == Some(&Tok::LParen) {
                    self.pos = start;
                    return self.call(&word, nesting);
                }
                self.pos = start;
                let name = self.identifier(&word)?;
                self.pos += 1;
                Ok((Node::Attribute(name), 1))
            }
            _ => {
                self.pos = start;
                Err(self.unexpected("a value, an attribute or a function call"))
            }
        }
    }

    /// A value identifier (§2.2): letters and digits, case-insensitive.
    fn identifier(&self, word: &str) -> Result<AttributeName, Error> {
        if word.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(AttributeName::new(&word.to_ascii_lowercase()))
        } else {
            Err(self.error(format_args!(
                "invalid attribute name `{word}`: attribute names are letters a-z and digits 0-9"
            )))
        }
    }

    /// A function invocation (§2.4); the current token is the function name.
    fn call(&mut self, name: &str, nesting: u32) -> Result<(Node, u32), Error> {
        let valid = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_');
        if !valid {
            return Err(self.error(format_args!(
                "invalid function name `{name}`: function names are letters and `_`, starting with a letter"
            )));
        }
        self.pos += 2; // name and `(`
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek() == Some(&Tok::RParen) {
            self.pos += 1;
        } else {
            loop {
                let (arg, d) = self.expression(0, nesting)?;
                depth = depth.max(d);
                args.push(arg);
                match self.peek() {
                    Some(Tok::Comma) => self.pos += 1,
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.unexpected("`,` or `)` in the argument list")),
                }
            }
        }
        let depth = self.check_depth(depth + 1)?;
        let node = match Builtin::resolve(name, args.len()) {
            Some(function) => Node::Call {
                function,
                args: args.into_boxed_slice(),
            },
            None => Node::MissingFunction {
                name: name.to_ascii_uppercase().into_boxed_str(),
                arity: args.len(),
            },
        };
        Ok((node, depth))
    }
}

/// Keywords that cannot name an attribute.
fn is_reserved(word: &str) -> bool {
    is_operator_keyword(word)
        || word.eq_ignore_ascii_case("TRUE")
        || word.eq_ignore_ascii_case("FALSE")
}

#[cold]
fn unreachable_infix() -> Node {
    // LIKE and IN are handled before the binary operators; keep a value, never panic.
    Node::Literal(Literal::Bool(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn show(node: &Node) -> String {
        match node {
            Node::Literal(Literal::Bool(b)) => b.to_string(),
            Node::Literal(Literal::Int(i)) => i.to_string(),
            Node::Literal(Literal::Str(s)) => format!("'{s}'"),
            Node::Attribute(a) => a.as_str().to_string(),
            Node::Exists(a) => format!("(EXISTS {})", a.as_str()),
            Node::Not(x) => format!("(NOT {})", show(x)),
            Node::Negate(x) => format!("(- {})", show(x)),
            Node::Arith(op, l, r) => format!("({} {op:?} {})", show(l), show(r)),
            Node::Order(op, l, r) => format!("({} {op:?} {})", show(l), show(r)),
            Node::Equal {
                negated,
                left,
                right,
            } => format!(
                "({} {} {})",
                show(left),
                if *negated { "!=" } else { "=" },
                show(right)
            ),
            Node::Logic(op, l, r) => format!("({} {op:?} {})", show(l), show(r)),
            Node::Like {
                negated, operand, ..
            } => format!(
                "({} {}LIKE)",
                show(operand),
                if *negated { "NOT " } else { "" }
            ),
            Node::In {
                negated,
                operand,
                set,
            } => format!(
                "({} {}IN [{}])",
                show(operand),
                if *negated { "NOT " } else { "" },
                set.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            Node::Call { function, args } => format!(
                "{}({})",
                function.name(),
                args.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            Node::MissingFunction { name, arity } => format!("{name}/{arity}?"),
            other => format!("{other:?}"),
        }
    }

    fn tree(src: &str) -> String {
        show(&parse(src).unwrap_or_else(|e| panic!("{src}: {e}")))
    }

    fn parse_err(src: &str) -> String {
        let err = parse(src).expect_err(src);
        assert_eq!(err.kind, ErrorKind::Parse);
        err.message
    }

    #[test]
    fn arithmetic_precedence_and_left_associativity() {
        assert_eq!(tree("4 * 2 + 4 / 2"), "((4 Mul 2) Add (4 Div 2))");
        assert_eq!(tree("1 - 2 - 3"), "((1 Sub 2) Sub 3)");
        assert_eq!(tree("8 / 4 / 2"), "((8 Div 4) Div 2)");
        assert_eq!(tree("8 % 5 * 3"), "((8 Rem 5) Mul 3)");
        assert_eq!(tree("4 * (2 + 4) / 2"), "((4 Mul (2 Add 4)) Div 2)");
    }

    #[test]
    fn comparison_below_arithmetic_and_logic_lowest() {
        assert_eq!(tree("1 + 1 = 2"), "((1 Add 1) = 2)");
        assert_eq!(tree("a < b = TRUE"), "((a Lt b) = true)");
        assert_eq!(tree("a = 1 AND b = 2"), "((a = 1) And (b = 2))");
    }

    #[test]
    fn and_or_xor_share_one_level_left_to_right() {
        assert_eq!(
            tree("TRUE OR FALSE AND FALSE"),
            "((true Or false) And false)"
        );
        assert_eq!(tree("a AND b OR c XOR d"), "(((a And b) Or c) Xor d)");
    }

    #[test]
    fn unary_operators_bind_tighter_than_binary_and_like() {
        assert_eq!(tree("NOT a = b"), "((NOT a) = b)");
        assert_eq!(tree("NOT a LIKE 'x'"), "((NOT a) LIKE)");
        assert_eq!(tree("-a * b"), "((- a) Mul b)");
        assert_eq!(tree("- -10"), "(- -10)");
        assert_eq!(tree("--10"), "(- -10)");
        assert_eq!(tree("NOT NOT TRUE"), "(NOT (NOT true))");
        assert_eq!(tree("NOT (a = b)"), "(NOT (a = b))");
    }

    #[test]
    fn like_and_in_bind_tighter_than_binary_operators() {
        assert_eq!(tree("a + b LIKE 'x'"), "(a Add (b LIKE))");
        assert_eq!(tree("a = b IN (1, 2)"), "(a = (b IN [1, 2]))");
        assert_eq!(tree("a NOT LIKE 'x'"), "(a NOT LIKE)");
        assert_eq!(tree("a NOT IN (1)"), "(a NOT IN [1])");
        assert_eq!(tree("a LIKE 'x' IN (TRUE)"), "((a LIKE) IN [true])");
        assert_eq!(tree("x IN (1 + 2, y)"), "(x IN [(1 Add 2), y])");
    }

    #[test]
    fn keywords_functions_and_identifiers_are_case_insensitive() {
        assert_eq!(
            tree("int(hop) < int(ttl) and int(hop) < 1000"),
            tree("INT(hop) < INT(ttl) AND INT(hop) < 1000")
        );
        assert_eq!(tree("tRuE"), "true");
        assert_eq!(tree("Subject"), "subject");
        assert_eq!(tree("exists SUBJECT"), "(EXISTS subject)");
        assert_eq!(tree("concat_ws(',', a)"), "CONCAT_WS(',', a)");
        assert_eq!(
            tree("a like 'x' Or b not in (1)"),
            "((a LIKE) Or (b NOT IN [1]))"
        );
    }

    #[test]
    fn function_calls_resolve_by_name_and_arity() {
        assert_eq!(tree("SUBSTRING('abc', 1)"), "SUBSTRING('abc', 1)");
        assert_eq!(tree("SUBSTRING('abc', 1, 2)"), "SUBSTRING('abc', 1, 2)");
        assert_eq!(tree("CONCAT()"), "CONCAT()");
        assert_eq!(tree("CONCAT_WS()"), "CONCAT_WS/0?");
        assert_eq!(tree("NOPE(1)"), "NOPE/1?");
        assert_eq!(tree("LENGTH ('a')"), "LENGTH('a')");
    }

    #[test]
    fn parse_errors_name_the_problem_and_column() {
        assert!(parse_err("").contains("empty"));
        assert!(parse_err("   ").contains("empty"));
        assert!(parse_err("1 +").contains("end of the expression"));
        assert!(parse_err("(1 + 2").contains("`)`"));
        assert!(parse_err("1 + 2)").contains("after a complete expression"));
        assert!(parse_err("a LIKE b").contains("string literal"));
        assert!(parse_err("a LIKE 1").contains("string literal"));
        assert!(parse_err("a LIKE ('x')").contains("string literal"));
        assert!(parse_err("EXISTS 1").contains("attribute name"));
        assert!(parse_err("EXISTS").contains("attribute name"));
        assert!(parse_err("EXISTS AND").contains("attribute name"));
        assert!(parse_err("a IN ()").contains("expected a value"));
        assert!(parse_err("a IN 1").contains("IN set"));
        assert!(parse_err("a IN (1, 2").contains("IN set"));
        assert!(parse_err("AND").contains("expected a value"));
        assert!(parse_err("1 2").contains("integer 2"));
        assert!(parse_err("my_attr").contains("invalid attribute name"));
        assert!(parse_err("F1(2)").contains("invalid function name"));
        assert!(parse_err("+a").contains("`+`"));
        assert!(parse_err("a = = b").contains("`=`"));
        assert!(parse_err("LENGTH('a',)").contains("expected a value"));
        assert!(parse_err("2147483648").contains("32-bit"));
        assert!(parse_err("- 2147483648").contains("32-bit"));
        assert!(parse_err("1 + 2)").contains("column 6"));
    }

    #[test]
    fn nesting_is_bounded_without_overflowing_the_stack() {
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse_err(&deep).contains("nested too deeply"));
        let nots = format!("{}TRUE", "NOT ".repeat(100_000));
        assert!(parse_err(&nots).contains("nested too deeply"));
        let chain = vec!["1"; 100_000].join(" + ");
        assert!(parse_err(&chain).contains("nested too deeply"));
        let ok = vec!["1"; 200].join(" + ");
        assert!(parse(&ok).is_ok());
    }
}
