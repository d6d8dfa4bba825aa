//! A parser for the XPath 2.0 subset the EN 16931 and Peppol Schematron use, producing
//! nodes in a shared [`Builder`] arena. Variables and function names are resolved while
//! parsing, through an [`Env`].

use std::collections::HashMap;

use super::ast::{Arith, Axis, Cmp, F, Ix, Test, Ty, X};

/// The arena the parser writes into: expression nodes, child lists, interned strings and
/// interned (namespace, local name) pairs.
#[derive(Default)]
pub struct Builder {
    /// Expression nodes.
    pub nodes: Vec<X>,
    /// Child index lists (arguments, predicates, sequence members).
    pub lists: Vec<u32>,
    /// Interned strings.
    pub strs: Vec<String>,
    str_ix: HashMap<String, u32>,
    /// Interned expanded names: (namespace URI, local name).
    pub names: Vec<(String, String)>,
    name_ix: HashMap<(String, String), u32>,
}

impl Builder {
    /// Appends a node and returns its index.
    pub fn push(&mut self, x: X) -> Ix {
        self.nodes.push(x);
        (self.nodes.len() - 1) as Ix
    }

    /// Appends a list of indices and returns its (start, len) window.
    pub fn list(&mut self, items: &[Ix]) -> (u32, u32) {
        let start = self.lists.len() as u32;
        self.lists.extend_from_slice(items);
        (start, items.len() as u32)
    }

    /// Interns a string.
    pub fn str(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.str_ix.get(s) {
            return i;
        }
        self.strs.push(s.to_string());
        let i = (self.strs.len() - 1) as u32;
        self.str_ix.insert(s.to_string(), i);
        i
    }

    /// Interns an expanded name.
    pub fn name(&mut self, ns: &str, local: &str) -> u32 {
        let key = (ns.to_string(), local.to_string());
        if let Some(&i) = self.name_ix.get(&key) {
            return i;
        }
        self.names.push(key.clone());
        let i = (self.names.len() - 1) as u32;
        self.name_ix.insert(key, i);
        i
    }
}

/// What the parser asks its surroundings: namespace prefixes, outer variables and user
/// functions.
pub trait Env {
    /// The namespace URI bound to `prefix`.
    fn ns(&self, prefix: &str) -> Option<String>;
    /// An outer variable by name (a [`X::VarG`], [`X::VarR`] or [`X::VarL`] node).
    fn var(&self, name: &str) -> Option<X>;
    /// A user function by prefixed name and arity.
    fn func(&self, name: &str, arity: usize) -> Option<u16>;
}

/// The result of parsing one expression.
pub struct Parsed {
    /// The root node.
    pub root: Ix,
    /// One past the highest local slot the expression uses.
    pub slots: u16,
}

/// Parses `src` into `b`. Local variables the expression binds get slots from `first_slot`.
pub fn parse(b: &mut Builder, env: &dyn Env, src: &str, first_slot: u16) -> Result<Parsed, String> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        b,
        env,
        locals: Vec::new(),
        next_slot: first_slot,
        max_slot: first_slot,
    };
    let root = p.expr()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unexpected {:?} at token {} in `{}`",
            p.toks[p.pos],
            p.pos,
            src.trim()
        ));
    }
    Ok(Parsed {
        root,
        slots: p.max_slot,
    })
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A name, possibly prefixed or with wildcards (`a`, `p:a`, `*`, `p:*`, `*:a`).
    Name(String),
    /// `$name`
    Var(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || (!c.is_ascii() && !c.is_whitespace())
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.'
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let ncname = |cs: &[char], mut i: usize| -> usize {
        while i < cs.len() && is_name_char(cs[i]) {
            i += 1;
        }
        i
    };
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // comments (: ... :)
        if c == '(' && cs.get(i + 1) == Some(&':') {
            let mut depth = 1;
            i += 2;
            while i < cs.len() && depth > 0 {
                if cs[i] == '(' && cs.get(i + 1) == Some(&':') {
                    depth += 1;
                    i += 2;
                } else if cs[i] == ':' && cs.get(i + 1) == Some(&')') {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            continue;
        }
        if c == '\'' || c == '"' {
            let q = c;
            let mut s = String::new();
            i += 1;
            loop {
                if i >= cs.len() {
                    return Err(format!("unterminated string literal in `{src}`"));
                }
                if cs[i] == q {
                    if cs.get(i + 1) == Some(&q) {
                        s.push(q);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(cs[i]);
                i += 1;
            }
            out.push(Tok::Str(s));
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && cs.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            while i < cs.len() && cs[i].is_ascii_digit() {
                i += 1;
            }
            if i < cs.len() && cs[i] == '.' && cs.get(i + 1) != Some(&'.') {
                i += 1;
                while i < cs.len() && cs[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < cs.len() && (cs[i] == 'e' || cs[i] == 'E') {
                let mut j = i + 1;
                if j < cs.len() && (cs[j] == '+' || cs[j] == '-') {
                    j += 1;
                }
                if j < cs.len() && cs[j].is_ascii_digit() {
                    i = j;
                    while i < cs.len() && cs[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            out.push(Tok::Num(cs[start..i].iter().collect()));
            continue;
        }
        if c == '$' {
            let start = i + 1;
            let mut j = ncname(&cs, start);
            if j < cs.len() && cs[j] == ':' && cs.get(j + 1).is_some_and(|&d| is_name_start(d)) {
                j = ncname(&cs, j + 1);
            }
            if j == start {
                return Err(format!("bad variable reference in `{src}`"));
            }
            out.push(Tok::Var(cs[start..j].iter().collect()));
            i = j;
            continue;
        }
        if is_name_start(c) {
            let mut j = ncname(&cs, i);
            if j < cs.len() && cs[j] == ':' && cs.get(j + 1) != Some(&':') {
                if cs.get(j + 1).is_some_and(|&d| is_name_start(d)) {
                    j = ncname(&cs, j + 1);
                } else if cs.get(j + 1) == Some(&'*') {
                    j += 2;
                }
            }
            out.push(Tok::Name(cs[i..j].iter().collect()));
            i = j;
            continue;
        }
        if c == '*'
            && cs.get(i + 1) == Some(&':')
            && cs.get(i + 2).is_some_and(|&d| is_name_start(d))
        {
            let j = ncname(&cs, i + 2);
            out.push(Tok::Name(cs[i..j].iter().collect()));
            i = j;
            continue;
        }
        let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
        let sym2 = match two.as_str() {
            "//" => Some("//"),
            "::" => Some("::"),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            ".." => Some(".."),
            ":=" => Some(":="),
            "<<" => Some("<<"),
            ">>" => Some(">>"),
            _ => None,
        };
        if let Some(s) = sym2 {
            out.push(Tok::Sym(s));
            i += 2;
            continue;
        }
        let sym1 = match c {
            '(' => "(",
            ')' => ")",
            '[' => "[",
            ']' => "]",
            ',' => ",",
            '/' => "/",
            '@' => "@",
            '.' => ".",
            '=' => "=",
            '<' => "<",
            '>' => ">",
            '+' => "+",
            '-' => "-",
            '*' => "*",
            '|' => "|",
            '?' => "?",
            _ => return Err(format!("unexpected character {c:?} in `{src}`")),
        };
        out.push(Tok::Sym(sym1));
        i += 1;
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    b: &'a mut Builder,
    env: &'a dyn Env,
    locals: Vec<(String, u16)>,
    next_slot: u16,
    max_slot: u16,
}

const KIND_TESTS: &[&str] = &[
    "node",
    "text",
    "comment",
    "processing-instruction",
    "element",
    "attribute",
    "document-node",
    "schema-element",
    "schema-attribute",
];

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n)
    }
    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tok::Sym(x)) if *x == s)
    }
    fn is_kw(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(x)) if x == s)
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_kw(&mut self, s: &str) -> bool {
        if self.is_kw(s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_sym(&mut self, s: &str) -> Result<(), String> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(format!("expected `{s}`, found {:?}", self.peek()))
        }
    }
    fn expect_kw(&mut self, s: &str) -> Result<(), String> {
        if self.eat_kw(s) {
            Ok(())
        } else {
            Err(format!("expected `{s}`, found {:?}", self.peek()))
        }
    }
    fn push(&mut self, x: X) -> Ix {
        self.b.push(x)
    }

    fn alloc_slot(&mut self, name: String) -> u16 {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.max_slot = self.max_slot.max(self.next_slot);
        self.locals.push((name, slot));
        slot
    }

    fn free_slots(&mut self, n: usize, saved_next: u16) {
        for _ in 0..n {
            self.locals.pop();
        }
        self.next_slot = saved_next;
    }

    // Expr ::= ExprSingle ("," ExprSingle)*
    fn expr(&mut self) -> Result<Ix, String> {
        let first = self.expr_single()?;
        if !self.is_sym(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_sym(",") {
            items.push(self.expr_single()?);
        }
        let (s, l) = self.b.list(&items);
        Ok(self.push(X::Seq(s, l)))
    }

    fn expr_single(&mut self) -> Result<Ix, String> {
        let next_is_var = matches!(self.peek_at(1), Some(Tok::Var(_)));
        if next_is_var
            && (self.is_kw("for") || self.is_kw("some") || self.is_kw("every") || self.is_kw("let"))
        {
            let kw = match self.peek() {
                Some(Tok::Name(k)) => k.clone(),
                _ => unreachable!(),
            };
            self.pos += 1;
            return self.binding(&kw);
        }
        if self.is_kw("if") && matches!(self.peek_at(1), Some(Tok::Sym("("))) {
            self.pos += 2;
            let c = self.expr()?;
            self.expect_sym(")")?;
            self.expect_kw("then")?;
            let t = self.expr_single()?;
            self.expect_kw("else")?;
            let e = self.expr_single()?;
            return Ok(self.push(X::If(c, t, e)));
        }
        self.or_expr()
    }

    /// `for`/`some`/`every`/`let` with one or more bindings.
    fn binding(&mut self, kw: &str) -> Result<Ix, String> {
        let saved_next = self.next_slot;
        let mut binds = Vec::new();
        loop {
            let name = match self.peek().cloned() {
                Some(Tok::Var(n)) => n,
                t => return Err(format!("expected variable after `{kw}`, found {t:?}")),
            };
            self.pos += 1;
            if kw == "let" {
                self.expect_sym(":=")?;
            } else {
                self.expect_kw("in")?;
            }
            let input = self.expr_single()?;
            let slot = self.alloc_slot(name);
            binds.push((slot, input));
            if !self.eat_sym(",") {
                break;
            }
            if !matches!(self.peek(), Some(Tok::Var(_))) {
                return Err(format!("expected variable in `{kw}` clause"));
            }
        }
        match kw {
            "for" | "let" => self.expect_kw("return")?,
            _ => self.expect_kw("satisfies")?,
        }
        let mut body = self.expr_single()?;
        let n = binds.len();
        for (slot, input) in binds.into_iter().rev() {
            body = self.push(match kw {
                "for" => X::For(slot, input, body),
                "let" => X::Let(slot, input, body),
                "some" => X::Some(slot, input, body),
                _ => X::Every(slot, input, body),
            });
        }
        self.free_slots(n, saved_next);
        Ok(body)
    }

    fn or_expr(&mut self) -> Result<Ix, String> {
        let mut a = self.and_expr()?;
        while self.eat_kw("or") {
            let b = self.and_expr()?;
            a = self.push(X::Or(a, b));
        }
        Ok(a)
    }

    fn and_expr(&mut self) -> Result<Ix, String> {
        let mut a = self.comparison()?;
        while self.eat_kw("and") {
            let b = self.comparison()?;
            a = self.push(X::And(a, b));
        }
        Ok(a)
    }

    fn comparison(&mut self) -> Result<Ix, String> {
        let a = self.range()?;
        let general = match self.peek() {
            Some(Tok::Sym("=")) => Some(Cmp::Eq),
            Some(Tok::Sym("!=")) => Some(Cmp::Ne),
            Some(Tok::Sym("<")) => Some(Cmp::Lt),
            Some(Tok::Sym("<=")) => Some(Cmp::Le),
            Some(Tok::Sym(">")) => Some(Cmp::Gt),
            Some(Tok::Sym(">=")) => Some(Cmp::Ge),
            _ => None,
        };
        if let Some(op) = general {
            self.pos += 1;
            let b = self.range()?;
            return Ok(self.push(X::GCmp(op, a, b)));
        }
        let val = match self.peek() {
            Some(Tok::Name(n)) => match n.as_str() {
                "eq" => Some(Cmp::Eq),
                "ne" => Some(Cmp::Ne),
                "lt" => Some(Cmp::Lt),
                "le" => Some(Cmp::Le),
                "gt" => Some(Cmp::Gt),
                "ge" => Some(Cmp::Ge),
                _ => None,
            },
            _ => None,
        };
        if let Some(op) = val {
            self.pos += 1;
            let b = self.range()?;
            return Ok(self.push(X::VCmp(op, a, b)));
        }
        if self.is_sym("<<") || self.is_sym(">>") || self.is_kw("is") {
            return Err("node comparisons are not supported".into());
        }
        Ok(a)
    }

    fn range(&mut self) -> Result<Ix, String> {
        let a = self.additive()?;
        if self.eat_kw("to") {
            let b = self.additive()?;
            return Ok(self.push(X::Range(a, b)));
        }
        Ok(a)
    }

    fn additive(&mut self) -> Result<Ix, String> {
        let mut a = self.multiplicative()?;
        loop {
            let op = if self.eat_sym("+") {
                Arith::Add
            } else if self.eat_sym("-") {
                Arith::Sub
            } else {
                return Ok(a);
            };
            let b = self.multiplicative()?;
            a = self.push(X::Bin(op, a, b));
        }
    }

    fn multiplicative(&mut self) -> Result<Ix, String> {
        let mut a = self.union()?;
        loop {
            let op = if self.eat_sym("*") {
                Arith::Mul
            } else if self.eat_kw("div") {
                Arith::Div
            } else if self.eat_kw("idiv") {
                Arith::IDiv
            } else if self.eat_kw("mod") {
                Arith::Mod
            } else {
                return Ok(a);
            };
            let b = self.union()?;
            a = self.push(X::Bin(op, a, b));
        }
    }

    fn union(&mut self) -> Result<Ix, String> {
        let mut a = self.intersect()?;
        while self.eat_sym("|") || self.eat_kw("union") {
            let b = self.intersect()?;
            a = self.push(X::Union(a, b));
        }
        Ok(a)
    }

    fn intersect(&mut self) -> Result<Ix, String> {
        let mut a = self.instance_of()?;
        loop {
            if self.eat_kw("intersect") {
                let b = self.instance_of()?;
                a = self.push(X::Intersect(a, b));
            } else if self.eat_kw("except") {
                let b = self.instance_of()?;
                a = self.push(X::Except(a, b));
            } else {
                return Ok(a);
            }
        }
    }

    fn instance_of(&mut self) -> Result<Ix, String> {
        let a = self.castable()?;
        if self.is_kw("instance") && matches!(self.peek_at(1), Some(Tok::Name(n)) if n == "of") {
            self.pos += 2;
            let (ty, opt) = self.single_type()?;
            return Ok(self.push(X::InstanceOf(a, ty, opt)));
        }
        if self.is_kw("treat") && matches!(self.peek_at(1), Some(Tok::Name(n)) if n == "as") {
            self.pos += 2;
            self.single_type()?;
        }
        Ok(a)
    }

    fn castable(&mut self) -> Result<Ix, String> {
        let a = self.cast()?;
        if self.is_kw("castable") && matches!(self.peek_at(1), Some(Tok::Name(n)) if n == "as") {
            self.pos += 2;
            let (ty, opt) = self.single_type()?;
            return Ok(self.push(X::Castable(a, ty, opt)));
        }
        Ok(a)
    }

    fn cast(&mut self) -> Result<Ix, String> {
        let a = self.unary()?;
        if self.is_kw("cast") && matches!(self.peek_at(1), Some(Tok::Name(n)) if n == "as") {
            self.pos += 2;
            let (ty, opt) = self.single_type()?;
            return Ok(self.push(X::Cast(a, ty, opt)));
        }
        Ok(a)
    }

    fn single_type(&mut self) -> Result<(Ty, bool), String> {
        let name = match self.peek().cloned() {
            Some(Tok::Name(n)) => n,
            t => return Err(format!("expected a type name, found {t:?}")),
        };
        self.pos += 1;
        let ty = xs_type(&name).ok_or_else(|| format!("unsupported type `{name}`"))?;
        let opt = self.eat_sym("?");
        // `*` and `+` occurrence indicators only appear in sequence types, which we treat alike
        if self.is_sym("*") || self.is_sym("+") {
            self.pos += 1;
        }
        Ok((ty, opt))
    }

    fn unary(&mut self) -> Result<Ix, String> {
        let mut neg = false;
        loop {
            if self.eat_sym("-") {
                neg = !neg;
            } else if self.eat_sym("+") {
            } else {
                break;
            }
        }
        let e = self.path()?;
        Ok(if neg { self.push(X::Neg(e)) } else { e })
    }

    fn starts_step(&self) -> bool {
        match self.peek() {
            Some(Tok::Name(_)) | Some(Tok::Var(_)) | Some(Tok::Str(_)) | Some(Tok::Num(_)) => true,
            Some(Tok::Sym(s)) => matches!(*s, "*" | "@" | "." | ".." | "("),
            None => false,
        }
    }

    fn path(&mut self) -> Result<Ix, String> {
        if self.eat_sym("/") {
            let root = self.push(X::Root);
            if self.starts_step() {
                let rel = self.relative(None)?;
                return Ok(self.compose(root, rel));
            }
            return Ok(root);
        }
        if self.eat_sym("//") {
            let root = self.push(X::Root);
            let dos = self.dos_step();
            let left = self.push(X::Path(root, dos));
            let rel = self.relative(None)?;
            return Ok(self.compose(left, rel));
        }
        self.relative(None)
    }

    fn dos_step(&mut self) -> Ix {
        let (s, l) = self.b.list(&[]);
        self.push(X::Step(Axis::DescendantOrSelf, Test::AnyNode, s, l))
    }

    /// Builds `left/right` where `right` may itself be a path: keeps the tree left-deep.
    fn compose(&mut self, left: Ix, right: Ix) -> Ix {
        match self.b.nodes[right as usize] {
            X::Path(rl, rr) => {
                let l = self.compose(left, rl);
                self.push(X::Path(l, rr))
            }
            _ => self.push(X::Path(left, right)),
        }
    }

    fn relative(&mut self, first: Option<Ix>) -> Result<Ix, String> {
        let mut e = match first {
            Some(f) => f,
            None => self.step()?,
        };
        loop {
            if self.eat_sym("/") {
                let s = self.step()?;
                e = self.push(X::Path(e, s));
            } else if self.eat_sym("//") {
                let dos = self.dos_step();
                let mid = self.push(X::Path(e, dos));
                let s = self.step()?;
                e = self.push(X::Path(mid, s));
            } else {
                return Ok(e);
            }
        }
    }

    fn predicates(&mut self) -> Result<Vec<Ix>, String> {
        let mut preds = Vec::new();
        while self.eat_sym("[") {
            preds.push(self.expr()?);
            self.expect_sym("]")?;
        }
        Ok(preds)
    }

    fn step(&mut self) -> Result<Ix, String> {
        if self.eat_sym("..") {
            let preds = self.predicates()?;
            let (s, l) = self.b.list(&preds);
            return Ok(self.push(X::Step(Axis::Parent, Test::AnyNode, s, l)));
        }
        if self.eat_sym("@") {
            let test = self.node_test(Axis::Attribute)?;
            let preds = self.predicates()?;
            let (s, l) = self.b.list(&preds);
            return Ok(self.push(X::Step(Axis::Attribute, test, s, l)));
        }
        if let Some(Tok::Name(n)) = self.peek().cloned() {
            if matches!(self.peek_at(1), Some(Tok::Sym("::"))) {
                let axis = match n.as_str() {
                    "child" => Axis::Child,
                    "descendant" => Axis::Descendant,
                    "descendant-or-self" => Axis::DescendantOrSelf,
                    "parent" => Axis::Parent,
                    "ancestor" => Axis::Ancestor,
                    "ancestor-or-self" => Axis::AncestorOrSelf,
                    "following-sibling" => Axis::FollowingSibling,
                    "preceding-sibling" => Axis::PrecedingSibling,
                    "following" => Axis::Following,
                    "preceding" => Axis::Preceding,
                    "attribute" => Axis::Attribute,
                    "self" => Axis::SelfAxis,
                    other => return Err(format!("unknown axis `{other}`")),
                };
                self.pos += 2;
                let test = self.node_test(axis)?;
                let preds = self.predicates()?;
                let (s, l) = self.b.list(&preds);
                return Ok(self.push(X::Step(axis, test, s, l)));
            }
            let is_call = matches!(self.peek_at(1), Some(Tok::Sym("(")));
            if !is_call || KIND_TESTS.contains(&n.as_str()) {
                let test = self.node_test(Axis::Child)?;
                let preds = self.predicates()?;
                let (s, l) = self.b.list(&preds);
                return Ok(self.push(X::Step(Axis::Child, test, s, l)));
            }
        }
        if self.is_sym("*") {
            let test = self.node_test(Axis::Child)?;
            let preds = self.predicates()?;
            let (s, l) = self.b.list(&preds);
            return Ok(self.push(X::Step(Axis::Child, test, s, l)));
        }
        // a filter expression: primary + predicates
        let prim = self.primary()?;
        let preds = self.predicates()?;
        if preds.is_empty() {
            return Ok(prim);
        }
        let (s, l) = self.b.list(&preds);
        Ok(self.push(X::Filter(prim, s, l)))
    }

    fn node_test(&mut self, axis: Axis) -> Result<Test, String> {
        let _ = axis;
        if self.eat_sym("*") {
            return Ok(Test::AnyName);
        }
        let n = match self.peek().cloned() {
            Some(Tok::Name(n)) => n,
            t => return Err(format!("expected a node test, found {t:?}")),
        };
        self.pos += 1;
        if self.is_sym("(") && KIND_TESTS.contains(&n.as_str()) {
            self.pos += 1;
            // element(name) etc.: only the empty forms are supported
            let mut depth = 1;
            while depth > 0 {
                match self.peek() {
                    Some(Tok::Sym("(")) => depth += 1,
                    Some(Tok::Sym(")")) => depth -= 1,
                    None => return Err("unterminated kind test".into()),
                    _ => {}
                }
                self.pos += 1;
            }
            return Ok(match n.as_str() {
                "node" => Test::AnyNode,
                "text" => Test::Text,
                "comment" => Test::Comment,
                "processing-instruction" => Test::Pi,
                _ => Test::AnyName,
            });
        }
        if let Some(local) = n.strip_prefix("*:") {
            let i = self.b.str(local);
            return Ok(Test::LocalAny(i));
        }
        let (prefix, local) = match n.split_once(':') {
            Some((p, l)) => (Some(p), l),
            None => (None, n.as_str()),
        };
        let uri = match prefix {
            Some(p) => self
                .env
                .ns(p)
                .ok_or_else(|| format!("unknown namespace prefix `{p}`"))?,
            None => String::new(),
        };
        if local == "*" {
            let i = self.b.str(&uri);
            return Ok(Test::NsAny(i));
        }
        Ok(Test::Name(self.b.name(&uri, local)))
    }

    fn primary(&mut self) -> Result<Ix, String> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                let i = self.b.str(&s);
                Ok(self.push(X::Str(i)))
            }
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(self.push(number_literal(&n)?))
            }
            Some(Tok::Var(v)) => {
                self.pos += 1;
                if let Some(&(_, slot)) = self.locals.iter().rev().find(|(n, _)| *n == v) {
                    return Ok(self.push(X::VarL(slot)));
                }
                let x = self
                    .env
                    .var(&v)
                    .ok_or_else(|| format!("unknown variable `${v}`"))?;
                Ok(self.push(x))
            }
            Some(Tok::Sym("(")) => {
                self.pos += 1;
                if self.eat_sym(")") {
                    return Ok(self.push(X::Empty));
                }
                let e = self.expr()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Some(Tok::Sym(".")) => {
                self.pos += 1;
                Ok(self.push(X::Dot))
            }
            Some(Tok::Name(n)) if matches!(self.peek_at(1), Some(Tok::Sym("("))) => {
                self.pos += 2;
                let mut args = Vec::new();
                if !self.eat_sym(")") {
                    loop {
                        args.push(self.expr_single()?);
                        if self.eat_sym(")") {
                            break;
                        }
                        self.expect_sym(",")?;
                    }
                }
                self.call(&n, args)
            }
            t => Err(format!("unexpected {t:?}")),
        }
    }

    fn call(&mut self, name: &str, args: Vec<Ix>) -> Result<Ix, String> {
        let (prefix, local) = match name.split_once(':') {
            Some((p, l)) => (Some(p), l),
            None => (None, name),
        };
        let prefix_uri = prefix.map(|p| self.env.ns(p).unwrap_or_else(|| p.to_string()));
        let is_xs = prefix_uri.as_deref() == Some("http://www.w3.org/2001/XMLSchema")
            || prefix == Some("xs");
        if is_xs {
            if args.len() != 1 {
                return Err(format!("constructor {name} takes one argument"));
            }
            let ty = xs_type(name).ok_or_else(|| format!("unsupported constructor `{name}`"))?;
            return Ok(self.push(X::Cast(args[0], ty, true)));
        }
        let is_fn = prefix.is_none()
            || prefix_uri.as_deref() == Some("http://www.w3.org/2005/xpath-functions");
        if !is_fn {
            let f = self
                .env
                .func(name, args.len())
                .ok_or_else(|| format!("unknown function `{name}#{}`", args.len()))?;
            let (s, l) = self.b.list(&args);
            return Ok(self.push(X::UCall(f, s, l)));
        }
        let (f, min, max) = match local {
            "not" => (F::Not, 1, 1),
            "true" => (F::True, 0, 0),
            "false" => (F::False, 0, 0),
            "boolean" => (F::Boolean, 1, 1),
            "exists" => (F::Exists, 1, 1),
            "empty" => (F::Empty, 1, 1),
            "count" => (F::Count, 1, 1),
            "sum" => (F::Sum, 1, 2),
            "avg" => (F::Avg, 1, 1),
            "min" => (F::Min, 1, 1),
            "max" => (F::Max, 1, 1),
            "round" => (F::Round, 1, 1),
            "floor" => (F::Floor, 1, 1),
            "ceiling" => (F::Ceiling, 1, 1),
            "abs" => (F::Abs, 1, 1),
            "number" => (F::Number, 0, 1),
            "string" => (F::String, 0, 1),
            "data" => (F::Data, 1, 1),
            "string-length" => (F::StringLength, 0, 1),
            "normalize-space" => (F::NormalizeSpace, 0, 1),
            "concat" => (F::Concat, 2, usize::MAX),
            "contains" => (F::Contains, 2, 2),
            "starts-with" => (F::StartsWith, 2, 2),
            "ends-with" => (F::EndsWith, 2, 2),
            "substring" => (F::Substring, 2, 3),
            "substring-before" => (F::SubstringBefore, 2, 2),
            "substring-after" => (F::SubstringAfter, 2, 2),
            "upper-case" => (F::UpperCase, 1, 1),
            "lower-case" => (F::LowerCase, 1, 1),
            "translate" => (F::Translate, 3, 3),
            "string-join" => (F::StringJoin, 1, 2),
            "tokenize" => (F::Tokenize, 1, 3),
            "matches" => (F::Matches, 2, 3),
            "replace" => (F::Replace, 3, 4),
            "string-to-codepoints" => (F::StringToCodepoints, 1, 1),
            "codepoints-to-string" => (F::CodepointsToString, 1, 1),
            "reverse" => (F::Reverse, 1, 1),
            "position" => (F::Position, 0, 0),
            "last" => (F::Last, 0, 0),
            "name" => (F::Name, 0, 1),
            "local-name" => (F::LocalName, 0, 1),
            "namespace-uri" => (F::NamespaceUri, 0, 1),
            "distinct-values" => (F::DistinctValues, 1, 1),
            "index-of" => (F::IndexOf, 2, 2),
            "root" => (F::Root, 0, 1),
            "current-date" => (F::CurrentDate, 0, 0),
            "subsequence" => (F::Subsequence, 2, 3),
            "insert-before" => (F::InsertBefore, 3, 3),
            "remove" => (F::Remove, 2, 2),
            _ => return Err(format!("unsupported function `{name}`")),
        };
        if args.len() < min || args.len() > max {
            return Err(format!(
                "wrong number of arguments to `{name}`: {}",
                args.len()
            ));
        }
        let (s, l) = self.b.list(&args);
        Ok(self.push(X::Call(f, s, l)))
    }
}

/// Maps an `xs:` type name to a [`Ty`].
pub fn xs_type(name: &str) -> Option<Ty> {
    let local = name.rsplit(':').next().unwrap_or(name);
    Some(match local {
        "decimal" => Ty::Decimal,
        "integer" | "int" | "long" | "short" | "nonNegativeInteger" | "positiveInteger" => {
            Ty::Integer
        }
        "double" | "float" => Ty::Double,
        "string" | "normalizedString" | "token" | "anyURI" => Ty::String,
        "boolean" => Ty::Boolean,
        "date" => Ty::Date,
        "untypedAtomic" | "anyAtomicType" => Ty::Untyped,
        _ => return None,
    })
}

fn number_literal(n: &str) -> Result<X, String> {
    let lower = n.to_ascii_lowercase();
    if lower.contains('e') {
        // a double literal: evaluate exactly as a decimal
        let (m, e) = lower.split_once('e').ok_or("bad number")?;
        let exp: i32 = e.parse().map_err(|_| format!("bad number `{n}`"))?;
        let (int, frac) = m.split_once('.').unwrap_or((m, ""));
        let digits = format!("{int}{frac}");
        let mut mant: i64 = digits.parse().map_err(|_| format!("bad number `{n}`"))?;
        let mut scale = frac.len() as i32 - exp;
        while scale < 0 {
            mant = mant.checked_mul(10).ok_or("number literal too large")?;
            scale += 1;
        }
        return Ok(X::Dec(mant, scale as u8));
    }
    if let Some((int, frac)) = n.split_once('.') {
        let digits = format!("{int}{frac}");
        let mant: i64 = digits.parse().map_err(|_| format!("bad number `{n}`"))?;
        return Ok(X::Dec(mant, frac.len() as u8));
    }
    n.parse::<i64>()
        .map(X::Int)
        .map_err(|_| format!("bad number `{n}`"))
}
