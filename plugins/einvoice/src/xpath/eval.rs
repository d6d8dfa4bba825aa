//! The expression evaluator.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

use roxmltree::{Document, Node, NodeId};

use super::syntax::ast::{Arith, Axis, Cmp, F, Ix, Test, Ty, X};
use super::value::{Date, Item, N, Txt};
use super::{Program, XResult, err};
use crate::decimal::Dec;
use crate::regex::Regex;

/// A sequence of items.
pub type Seq<'a> = Vec<Item<'a>>;

const NO_NAME: u32 = u32::MAX;

/// A parsed document prepared for evaluation: each element's name resolved to the
/// program's name ids once, so name tests compare integers.
pub struct XDoc<'a, 'i> {
    /// The document.
    pub doc: &'a Document<'i>,
    names: Vec<u32>,
    prog: &'static Program,
}

impl<'a, 'i> XDoc<'a, 'i> {
    /// Prepares `doc` for evaluating expressions of `prog`.
    pub fn new(doc: &'a Document<'i>, prog: &'static Program) -> Self {
        let mut names = Vec::new();
        for n in doc.descendants() {
            let id = n.id().get_usize();
            if names.len() <= id {
                names.resize(id + 1, NO_NAME);
            }
            if n.is_element() {
                let tn = n.tag_name();
                names[id] = prog.name_id(tn.namespace().unwrap_or(""), tn.name()).unwrap_or(NO_NAME);
            }
        }
        XDoc { doc, names, prog }
    }

    /// The roxmltree node of `n` (the owning element for an attribute).
    pub fn node(&self, id: u32) -> Node<'a, 'i> {
        self.doc.get_node(NodeId::new(id)).unwrap_or_else(|| self.doc.root())
    }

    /// The document node.
    pub fn root(&self) -> N {
        N {
            id: self.doc.root().id().get_usize() as u32,
            attr: 0,
        }
    }

    /// A handle for a roxmltree node.
    pub fn handle(&self, n: Node<'a, 'i>) -> N {
        N {
            id: n.id().get_usize() as u32,
            attr: 0,
        }
    }

    fn attribute(&self, n: N) -> Option<roxmltree::Attribute<'a, 'i>> {
        self.node(n.id).attributes().nth(n.attr as usize - 1)
    }

    /// The string value of a node.
    pub fn string_value(&self, n: N) -> Txt<'a> {
        if n.is_attr() {
            return Txt::B(self.attribute(n).map(|a| a.value()).unwrap_or(""));
        }
        let node = self.node(n.id);
        if node.is_text() || node.is_comment() {
            return Txt::B(node.text().unwrap_or(""));
        }
        if node.is_pi() {
            return Txt::B(node.pi().and_then(|p| p.value).unwrap_or(""));
        }
        match node.first_child() {
            None => Txt::B(""),
            Some(c) if c.next_sibling().is_none() && c.is_text() => Txt::B(c.text().unwrap_or("")),
            Some(_) => {
                let mut s = String::new();
                for d in node.descendants() {
                    if d.is_text() {
                        s.push_str(d.text().unwrap_or(""));
                    }
                }
                Txt::owned(s)
            }
        }
    }

    fn elem_test(&self, node: Node<'a, 'i>, test: Test) -> bool {
        match test {
            Test::Name(id) => node.is_element() && self.names[node.id().get_usize()] == id,
            Test::AnyName => node.is_element(),
            Test::NsAny(s) => node.is_element() && node.tag_name().namespace().unwrap_or("") == self.prog.strs[s as usize],
            Test::LocalAny(s) => node.is_element() && node.tag_name().name() == self.prog.strs[s as usize],
            Test::AnyNode => true,
            Test::Text => node.is_text(),
            Test::Comment => node.is_comment(),
            Test::Pi => node.is_pi(),
        }
    }

    fn attr_test(&self, a: &roxmltree::Attribute<'a, 'i>, test: Test) -> bool {
        match test {
            Test::Name(id) => {
                let (ns, local) = self.prog.names[id as usize];
                a.name() == local && a.namespace().unwrap_or("") == ns
            }
            Test::AnyName | Test::AnyNode => true,
            Test::NsAny(s) => a.namespace().unwrap_or("") == self.prog.strs[s as usize],
            Test::LocalAny(s) => a.name() == self.prog.strs[s as usize],
            _ => false,
        }
    }

    /// Whether node `n` passes `test` as the principal node kind of `axis`.
    pub fn test(&self, n: N, axis: Axis, test: Test) -> bool {
        if n.is_attr() {
            if axis == Axis::Attribute || matches!(axis, Axis::SelfAxis | Axis::DescendantOrSelf | Axis::AncestorOrSelf) {
                return match self.attribute(n) {
                    Some(a) => {
                        if axis == Axis::Attribute {
                            self.attr_test(&a, test)
                        } else {
                            // on other axes the principal kind is element: only node() matches
                            test == Test::AnyNode
                        }
                    }
                    None => false,
                };
            }
            return false;
        }
        if axis == Axis::Attribute {
            return false;
        }
        self.elem_test(self.node(n.id), test)
    }

    /// Calls `f` for each node on `axis` from `n` that passes `test`, in axis order; stops
    /// when `f` returns `true` and returns whether it stopped.
    pub fn axis_each(&self, n: N, axis: Axis, test: Test, f: &mut dyn FnMut(N) -> XResult<bool>) -> XResult<bool> {
        let node = self.node(n.id);
        let h = |x: Node<'a, 'i>| N {
            id: x.id().get_usize() as u32,
            attr: 0,
        };
        macro_rules! each {
            ($iter:expr) => {
                for x in $iter {
                    if self.elem_test(x, test) && f(h(x))? {
                        return Ok(true);
                    }
                }
            };
        }
        if n.is_attr() {
            match axis {
                Axis::SelfAxis | Axis::DescendantOrSelf => {
                    if test == Test::AnyNode && f(n)? {
                        return Ok(true);
                    }
                }
                Axis::Attribute => {}
                Axis::Parent => {
                    if self.elem_test(node, test) && f(h(node))? {
                        return Ok(true);
                    }
                }
                Axis::Ancestor | Axis::AncestorOrSelf => {
                    if axis == Axis::AncestorOrSelf && test == Test::AnyNode && f(n)? {
                        return Ok(true);
                    }
                    each!(node.ancestors());
                }
                Axis::Following => {
                    each!(node.descendants().skip(1));
                    let mut cur = Some(node);
                    while let Some(c) = cur {
                        for s in c.next_siblings().skip(1) {
                            each!(s.descendants());
                        }
                        cur = c.parent();
                    }
                }
                Axis::Preceding => {
                    let mut cur = Some(node);
                    while let Some(c) = cur {
                        for s in c.prev_siblings().skip(1) {
                            let all: Vec<_> = s.descendants().collect();
                            each!(all.into_iter().rev());
                        }
                        cur = c.parent();
                    }
                }
                _ => {}
            }
            return Ok(false);
        }
        match axis {
            Axis::Child => each!(node.children()),
            Axis::Descendant => each!(node.descendants().skip(1)),
            Axis::DescendantOrSelf => each!(node.descendants()),
            Axis::SelfAxis => each!(std::iter::once(node)),
            Axis::Parent => each!(node.parent()),
            Axis::Ancestor => each!(node.ancestors().skip(1)),
            Axis::AncestorOrSelf => each!(node.ancestors()),
            Axis::FollowingSibling => each!(node.next_siblings().skip(1)),
            Axis::PrecedingSibling => each!(node.prev_siblings().skip(1)),
            Axis::Following => {
                let mut cur = Some(node);
                while let Some(c) = cur {
                    for s in c.next_siblings().skip(1) {
                        each!(s.descendants());
                    }
                    cur = c.parent();
                }
            }
            Axis::Preceding => {
                let ancestors: Vec<u32> = node.ancestors().map(|a| a.id().get_usize() as u32).collect();
                let mut cur = Some(node);
                while let Some(c) = cur {
                    for s in c.prev_siblings().skip(1) {
                        let all: Vec<_> = s.descendants().collect();
                        for x in all.into_iter().rev() {
                            if !ancestors.contains(&(x.id().get_usize() as u32)) && self.elem_test(x, test) && f(h(x))? {
                                return Ok(true);
                            }
                        }
                    }
                    cur = c.parent();
                }
            }
            Axis::Attribute => {
                if node.is_element() {
                    for (k, a) in node.attributes().enumerate() {
                        if self.attr_test(&a, test)
                            && f(N {
                                id: n.id,
                                attr: k as u32 + 1,
                            })?
                        {
                            return Ok(true);
                        }
                    }
                }
            }
        }
        Ok(false)
    }

    /// `name()` of a node: the prefixed name as in the document.
    pub fn qname(&self, n: N) -> String {
        if n.is_attr() {
            return match self.attribute(n) {
                Some(a) => match a.namespace().and_then(|u| self.node(n.id).lookup_prefix(u)) {
                    Some(p) if !p.is_empty() => format!("{p}:{}", a.name()),
                    _ => a.name().to_string(),
                },
                None => String::new(),
            };
        }
        let node = self.node(n.id);
        if !node.is_element() {
            return if node.is_pi() { node.pi().map(|p| p.target.to_string()).unwrap_or_default() } else { String::new() };
        }
        let tn = node.tag_name();
        match tn.namespace().and_then(|u| node.lookup_prefix(u)) {
            Some(p) if !p.is_empty() => format!("{p}:{}", tn.name()),
            _ => tn.name().to_string(),
        }
    }

    /// `local-name()` and `namespace-uri()` of a node.
    pub fn expanded_name(&self, n: N) -> (&'a str, &'a str) {
        if n.is_attr() {
            return match self.attribute(n) {
                Some(a) => (a.namespace().unwrap_or(""), a.name()),
                None => ("", ""),
            };
        }
        let node = self.node(n.id);
        if node.is_element() {
            let tn = node.tag_name();
            (tn.namespace().unwrap_or(""), tn.name())
        } else {
            ("", "")
        }
    }

    /// Whether `n` is the document node.
    pub fn is_doc(&self, n: N) -> bool {
        !n.is_attr() && self.node(n.id).node_type() == roxmltree::NodeType::Root
    }

    /// Whether `n` is an element.
    pub fn is_element(&self, n: N) -> bool {
        !n.is_attr() && self.node(n.id).is_element()
    }

    /// The parent (the owning element of an attribute).
    pub fn parent(&self, n: N) -> Option<N> {
        if n.is_attr() {
            return Some(N { id: n.id, attr: 0 });
        }
        self.node(n.id).parent().map(|p| self.handle(p))
    }
}

/// The dynamic context of an expression: item, position, size.
#[derive(Clone, Debug)]
pub struct Ctx<'a> {
    /// The context item.
    pub item: Item<'a>,
    /// Context position (1-based).
    pub pos: usize,
    /// Context size.
    pub size: usize,
}

impl<'a> Ctx<'a> {
    /// A context on one node.
    pub fn node(n: N) -> Ctx<'a> {
        Ctx {
            item: Item::N(n),
            pos: 1,
            size: 1,
        }
    }
}

/// Evaluates expressions of one program against one document, with the global variables
/// of one rule set.
pub struct Eval<'a, 'i> {
    /// The document.
    pub x: &'a XDoc<'a, 'i>,
    p: &'static Program,
    flags: &'static [u8],
    globals: &'static [Ix],
    gvals: Vec<Option<Rc<Seq<'a>>>>,
    gbusy: Vec<bool>,
    rlets: &'static [Ix],
    rvals: Vec<Option<Rc<Seq<'a>>>>,
    rctx: Option<Ctx<'a>>,
    locals: Vec<Option<Rc<Seq<'a>>>>,
    base: usize,
    regexes: HashMap<(String, String), Rc<Regex>>,
    depth: u32,
}

/// Node flag: a predicate whose value never depends on the context position.
pub const FLAG_POSITION_FREE: u8 = 1;

fn is_nodes(s: &Seq<'_>) -> bool {
    s.iter().all(|i| matches!(i, Item::N(_)))
}

fn sort_nodes(s: &mut Seq<'_>) {
    let mut ns: Vec<N> = s
        .iter()
        .filter_map(|i| match i {
            Item::N(n) => Some(*n),
            _ => None,
        })
        .collect();
    ns.sort_unstable();
    ns.dedup();
    *s = ns.into_iter().map(Item::N).collect();
}

fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split([' ', '\t', '\n', '\r']).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn trim_xml(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r'])
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Parses an `xs:integer` lexical form.
fn parse_integer(s: &str) -> Option<Dec> {
    let t = trim_xml(s);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Dec::parse(t)
}

impl<'a, 'i> Eval<'a, 'i> {
    /// An evaluator with the given global variable expressions.
    pub fn new(x: &'a XDoc<'a, 'i>, flags: &'static [u8], globals: &'static [Ix]) -> Self {
        Eval {
            x,
            p: x.prog,
            flags,
            globals,
            gvals: vec![None; globals.len()],
            gbusy: vec![false; globals.len()],
            rlets: &[],
            rvals: Vec::new(),
            rctx: None,
            locals: Vec::new(),
            base: 0,
            regexes: HashMap::new(),
            depth: 0,
        }
    }

    /// Prepares a rule context: its `let`s (evaluated lazily) and local slots.
    pub fn enter_rule(&mut self, ctx: Ctx<'a>, lets: &'static [Ix], slots: u16) {
        self.rlets = lets;
        self.rvals.clear();
        self.rvals.resize(lets.len(), None);
        self.rctx = Some(ctx);
        self.locals.clear();
        self.locals.resize(slots as usize, None);
        self.base = 0;
    }

    fn node(&self, ix: Ix) -> X {
        self.p.nodes[ix as usize]
    }

    fn position_free(&self, ix: Ix) -> bool {
        self.flags.get(ix as usize).is_some_and(|f| f & FLAG_POSITION_FREE != 0)
    }

    fn str(&self, i: u32) -> &'static str {
        self.p.strs[i as usize]
    }

    fn regex(&mut self, pat: &str, flags: &str) -> XResult<Rc<Regex>> {
        let key = (pat.to_string(), flags.to_string());
        if let Some(r) = self.regexes.get(&key) {
            return Ok(r.clone());
        }
        let r = Rc::new(Regex::new(pat, flags).map_err(|e| super::XError(format!("invalid regular expression `{pat}`: {e}")))?);
        self.regexes.insert(key, r.clone());
        Ok(r)
    }

    // -----------------------------------------------------------------------------------
    // atomization and conversions

    /// Atomizes an item.
    pub fn atomize(&self, it: Item<'a>) -> Item<'a> {
        match it {
            Item::N(n) => Item::U(self.x.string_value(n)),
            other => other,
        }
    }

    /// The string value of an item (`fn:string`).
    pub fn string_of(&self, it: &Item<'a>) -> Txt<'a> {
        match it {
            Item::N(n) => self.x.string_value(*n),
            Item::U(s) | Item::S(s) => s.clone(),
            Item::D(d) => Txt::owned(d.to_string()),
            Item::NaN => Txt::B("NaN"),
            Item::B(b) => Txt::B(bool_str(*b)),
            Item::Date(d) => Txt::owned(d.to_string()),
        }
    }

    fn string_arg(&mut self, ix: Ix, ctx: &Ctx<'a>) -> XResult<Txt<'a>> {
        let s = self.eval(ix, ctx)?;
        Ok(match s.into_iter().next() {
            Some(it) => self.string_of(&it),
            None => Txt::B(""),
        })
    }

    /// Converts an atomic item to a number the way arithmetic does (untyped → double).
    fn to_num(&self, it: &Item<'a>) -> XResult<Item<'a>> {
        Ok(match it {
            Item::N(n) => return self.to_num(&Item::U(self.x.string_value(*n))),
            Item::U(s) => match Dec::parse_double(trim_xml(s)) {
                Some(d) => Item::D(d),
                None => Item::NaN,
            },
            Item::D(d) => Item::D(*d),
            Item::NaN => Item::NaN,
            Item::S(s) => return err(format!("arithmetic on the string \"{}\"", &**s)),
            Item::B(_) => return err("arithmetic on a boolean"),
            Item::Date(_) => return err("arithmetic on a date"),
        })
    }

    /// `fn:number`.
    fn number_of(&self, it: Option<&Item<'a>>) -> Item<'a> {
        match it {
            None => Item::NaN,
            Some(Item::B(b)) => Item::D(Dec::int(*b as i64)),
            Some(Item::D(d)) => Item::D(*d),
            Some(Item::Date(_)) | Some(Item::NaN) => Item::NaN,
            Some(other) => match Dec::parse_double(trim_xml(&self.string_of(other))) {
                Some(d) => Item::D(d),
                None => Item::NaN,
            },
        }
    }

    /// Casts an atomic item to `ty`.
    pub fn cast(&self, it: &Item<'a>, ty: Ty) -> XResult<Item<'a>> {
        let it = match it {
            Item::N(n) => Item::U(self.x.string_value(*n)),
            other => other.clone(),
        };
        let bad = |s: &str, t: &str| err(format!("cannot convert \"{s}\" to xs:{t}"));
        match ty {
            Ty::Untyped => Ok(Item::U(self.string_of(&it))),
            Ty::String => Ok(Item::S(self.string_of(&it))),
            Ty::Decimal => match &it {
                Item::U(s) | Item::S(s) => match Dec::parse(trim_xml(s)) {
                    Some(d) => Ok(Item::D(d)),
                    None => bad(s, "decimal"),
                },
                Item::D(d) => Ok(Item::D(*d)),
                Item::B(b) => Ok(Item::D(Dec::int(*b as i64))),
                _ => err("cannot convert to xs:decimal"),
            },
            Ty::Double => match &it {
                Item::U(s) | Item::S(s) => {
                    let t = trim_xml(s);
                    if t == "NaN" {
                        return Ok(Item::NaN);
                    }
                    match Dec::parse_double(t) {
                        Some(d) => Ok(Item::D(d)),
                        None => bad(s, "double"),
                    }
                }
                Item::D(d) => Ok(Item::D(*d)),
                Item::NaN => Ok(Item::NaN),
                Item::B(b) => Ok(Item::D(Dec::int(*b as i64))),
                _ => err("cannot convert to xs:double"),
            },
            Ty::Integer => match &it {
                Item::U(s) | Item::S(s) => match parse_integer(s) {
                    Some(d) => Ok(Item::D(d)),
                    None => bad(s, "integer"),
                },
                Item::D(d) => Ok(Item::D(d.trunc())),
                Item::B(b) => Ok(Item::D(Dec::int(*b as i64))),
                _ => err("cannot convert to xs:integer"),
            },
            Ty::Boolean => match &it {
                Item::U(s) | Item::S(s) => match trim_xml(s) {
                    "true" | "1" => Ok(Item::B(true)),
                    "false" | "0" => Ok(Item::B(false)),
                    _ => bad(s, "boolean"),
                },
                Item::D(d) => Ok(Item::B(!d.is_zero())),
                Item::NaN => Ok(Item::B(false)),
                Item::B(b) => Ok(Item::B(*b)),
                _ => err("cannot convert to xs:boolean"),
            },
            Ty::Date => match &it {
                Item::U(s) | Item::S(s) => match Date::parse(s) {
                    Some(d) => Ok(Item::Date(d)),
                    None => bad(s, "date"),
                },
                Item::Date(d) => Ok(Item::Date(*d)),
                _ => err("cannot convert to xs:date"),
            },
        }
    }

    // -----------------------------------------------------------------------------------
    // boolean evaluation

    /// The effective boolean value of a sequence. Lenient where XPath 2.0 raises FORG0006
    /// (several atomic values): the first item decides.
    pub fn ebv_seq(&self, s: &Seq<'a>) -> XResult<bool> {
        Ok(match s.first() {
            None => false,
            Some(Item::N(_)) => true,
            Some(Item::B(b)) => *b,
            Some(Item::S(t)) | Some(Item::U(t)) => !t.is_empty(),
            Some(Item::D(d)) => !d.is_zero(),
            Some(Item::NaN) => false,
            Some(Item::Date(_)) => return err("effective boolean value of a date"),
        })
    }

    /// The effective boolean value of expression `ix`.
    pub fn ebv(&mut self, ix: Ix, ctx: &Ctx<'a>) -> XResult<bool> {
        match self.node(ix) {
            X::And(a, b) => Ok(self.ebv(a, ctx)? && self.ebv(b, ctx)?),
            X::Or(a, b) => Ok(self.ebv(a, ctx)? || self.ebv(b, ctx)?),
            X::Call(f, s, l) => {
                let args = self.p.list(s, l);
                match f {
                    F::Not => Ok(!self.ebv(args[0], ctx)?),
                    F::True => Ok(true),
                    F::False => Ok(false),
                    F::Boolean => self.ebv(args[0], ctx),
                    F::Exists => self.exists(args[0], ctx),
                    F::Empty => Ok(!self.exists(args[0], ctx)?),
                    _ => {
                        let v = self.eval(ix, ctx)?;
                        self.ebv_seq(&v)
                    }
                }
            }
            X::GCmp(op, a, b) => self.gcmp(op, a, b, ctx),
            X::Step(..) | X::Path(_, _) if self.yields_nodes(ix) => self.exists(ix, ctx),
            _ => {
                let v = self.eval(ix, ctx)?;
                self.ebv_seq(&v)
            }
        }
    }

    /// Whether `ix` always yields nodes (a path ending in an axis step).
    fn yields_nodes(&self, ix: Ix) -> bool {
        match self.node(ix) {
            X::Step(..) | X::Root => true,
            X::Path(_, r) => self.yields_nodes(r),
            X::Union(a, b) => self.yields_nodes(a) && self.yields_nodes(b),
            X::Filter(e, _, _) => self.yields_nodes(e),
            _ => false,
        }
    }

    /// `exists(ix)`, streaming through simple paths without building the node set.
    pub fn exists(&mut self, ix: Ix, ctx: &Ctx<'a>) -> XResult<bool> {
        // flatten a left-deep path of steps
        let mut steps = Vec::new();
        let mut cur = ix;
        while let X::Path(l, r) = self.node(cur) {
            steps.push(r);
            cur = l;
        }
        steps.reverse();
        let simple = !steps.is_empty()
            && steps.iter().all(|&s| match self.node(s) {
                X::Step(_, _, ps, pl) => self.p.list(ps, pl).iter().all(|&p| self.position_free(p)),
                _ => false,
            });
        if !simple {
            if let X::Step(axis, test, ps, pl) = self.node(ix) {
                let preds = self.p.list(ps, pl);
                if preds.iter().all(|&p| self.position_free(p)) {
                    if let Item::N(n) = ctx.item {
                        return self.step_exists(n, axis, test, preds, &[]);
                    }
                }
            }
            let v = self.eval(ix, ctx)?;
            return Ok(!v.is_empty());
        }
        let start = self.eval(cur, ctx)?;
        for it in start {
            match it {
                Item::N(n) => {
                    if self.dfs(n, &steps)? {
                        return Ok(true);
                    }
                }
                _ => return err("a path step applied to an atomic value"),
            }
        }
        Ok(false)
    }

    fn dfs(&mut self, n: N, steps: &[Ix]) -> XResult<bool> {
        let Some((&first, rest)) = steps.split_first() else {
            return Ok(true);
        };
        let X::Step(axis, test, ps, pl) = self.node(first) else {
            return Ok(false);
        };
        let preds = self.p.list(ps, pl);
        self.step_exists(n, axis, test, preds, rest)
    }

    fn step_exists(&mut self, n: N, axis: Axis, test: Test, preds: &'static [u32], rest: &[Ix]) -> XResult<bool> {
        let x = self.x;
        x.axis_each(n, axis, test, &mut |m| {
            for &p in preds {
                if !self.ebv(p, &Ctx::node(m))? {
                    return Ok(false);
                }
            }
            self.dfs(m, rest)
        })
    }

    // -----------------------------------------------------------------------------------
    // comparisons

    fn gcmp(&mut self, op: Cmp, a: Ix, b: Ix, ctx: &Ctx<'a>) -> XResult<bool> {
        let l = self.eval(a, ctx)?;
        if l.is_empty() {
            return Ok(false);
        }
        let r = self.eval(b, ctx)?;
        let l: Seq<'a> = l.into_iter().map(|i| self.atomize(i)).collect();
        let r: Seq<'a> = r.into_iter().map(|i| self.atomize(i)).collect();
        for x in &l {
            for y in &r {
                if self.gcmp_items(op, x, y)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn gcmp_items(&self, op: Cmp, a: &Item<'a>, b: &Item<'a>) -> XResult<bool> {
        use Item::*;
        let ord = match (a, b) {
            (U(x) | S(x), U(y) | S(y)) => Some(x.as_ref().cmp(y.as_ref())),
            (U(x), D(_) | NaN) => return self.gcmp_items(op, &self.to_num(&U(x.clone()))?, b),
            (D(_) | NaN, U(y)) => return self.gcmp_items(op, a, &self.to_num(&U(y.clone()))?),
            (U(x), B(_)) => return self.gcmp_items(op, &self.cast(&U(x.clone()), Ty::Boolean)?, b),
            (B(_), U(y)) => return self.gcmp_items(op, a, &self.cast(&U(y.clone()), Ty::Boolean)?),
            (U(x), Date(_)) => return self.gcmp_items(op, &self.cast(&U(x.clone()), Ty::Date)?, b),
            (Date(_), U(y)) => return self.gcmp_items(op, a, &self.cast(&U(y.clone()), Ty::Date)?),
            _ => return self.vcmp_items(op, a, b),
        };
        Ok(ord.is_some_and(|o| cmp_holds(op, o)))
    }

    fn vcmp_items(&self, op: Cmp, a: &Item<'a>, b: &Item<'a>) -> XResult<bool> {
        use Item::*;
        let ord = match (a, b) {
            (U(x) | S(x), U(y) | S(y)) => x.as_ref().cmp(y.as_ref()),
            (D(x), D(y)) => x.cmp(y),
            (NaN, D(_) | NaN) | (D(_), NaN) => return Ok(op == Cmp::Ne),
            (B(x), B(y)) => x.cmp(y),
            (Date(x), Date(y)) => x.cmp(y),
            _ => return err(format!("cannot compare {} with {}", type_name(a), type_name(b))),
        };
        Ok(cmp_holds(op, ord))
    }

    // -----------------------------------------------------------------------------------
    // evaluation

    fn var_global(&mut self, i: u16) -> XResult<Seq<'a>> {
        let i = i as usize;
        if let Some(v) = &self.gvals[i] {
            return Ok((**v).clone());
        }
        if self.gbusy[i] {
            return err("circular variable definition");
        }
        self.gbusy[i] = true;
        // globals are evaluated with the document node as context, outside any rule frame
        let saved_locals = std::mem::take(&mut self.locals);
        let saved_base = self.base;
        self.base = 0;
        let root = Ctx::node(self.x.root());
        let r = self.eval(self.globals[i], &root);
        self.locals = saved_locals;
        self.base = saved_base;
        self.gbusy[i] = false;
        let v = r?;
        self.gvals[i] = Some(Rc::new(v.clone()));
        Ok(v)
    }

    fn var_rule(&mut self, i: u16) -> XResult<Seq<'a>> {
        let i = i as usize;
        if let Some(v) = self.rvals.get(i).and_then(|v| v.clone()) {
            return Ok((*v).clone());
        }
        let ctx = self.rctx.clone().ok_or_else(|| super::XError("rule variable outside a rule".into()))?;
        let ix = *self.rlets.get(i).ok_or_else(|| super::XError("unknown rule variable".into()))?;
        let v = self.eval(ix, &ctx)?;
        if i < self.rvals.len() {
            self.rvals[i] = Some(Rc::new(v.clone()));
        }
        Ok(v)
    }

    fn set_local(&mut self, slot: u16, v: Seq<'a>) {
        let i = self.base + slot as usize;
        if self.locals.len() <= i {
            self.locals.resize(i + 1, None);
        }
        self.locals[i] = Some(Rc::new(v));
    }

    fn filter(&mut self, items: Seq<'a>, preds: &'static [u32]) -> XResult<Seq<'a>> {
        let mut items = items;
        for &p in preds {
            // [n]: a literal position
            if let X::Int(k) = self.node(p) {
                items = if k >= 1 && (k as usize) <= items.len() { vec![items.swap_remove(k as usize - 1)] } else { Vec::new() };
                continue;
            }
            let size = items.len();
            let free = self.position_free(p);
            let mut out = Vec::with_capacity(size);
            for (i, it) in items.into_iter().enumerate() {
                let c = Ctx {
                    item: it,
                    pos: i + 1,
                    size,
                };
                let keep = if free {
                    self.ebv(p, &c)?
                } else {
                    let v = self.eval(p, &c)?;
                    match v.as_slice() {
                        [Item::D(d)] => *d == Dec::int(c.pos as i64),
                        [Item::NaN] => false,
                        _ => self.ebv_seq(&v)?,
                    }
                };
                if keep {
                    out.push(c.item);
                }
            }
            items = out;
        }
        Ok(items)
    }

    fn step(&mut self, n: N, axis: Axis, test: Test, preds: &'static [u32]) -> XResult<Seq<'a>> {
        let mut nodes = Vec::new();
        let x = self.x;
        x.axis_each(n, axis, test, &mut |m| {
            nodes.push(Item::N(m));
            Ok(false)
        })?;
        if !preds.is_empty() {
            nodes = self.filter(nodes, preds)?;
        }
        if axis.is_reverse() {
            nodes.reverse();
        }
        Ok(nodes)
    }

    /// Evaluates `ix` in `ctx`.
    pub fn eval(&mut self, ix: Ix, ctx: &Ctx<'a>) -> XResult<Seq<'a>> {
        self.depth += 1;
        if self.depth > 400 {
            self.depth -= 1;
            return err("expression nested too deeply");
        }
        let r = self.eval_inner(ix, ctx);
        self.depth -= 1;
        r
    }

    fn eval_inner(&mut self, ix: Ix, ctx: &Ctx<'a>) -> XResult<Seq<'a>> {
        Ok(match self.node(ix) {
            X::Str(i) => vec![Item::S(Txt::B(self.str(i)))],
            X::Int(i) => vec![Item::D(Dec::int(i))],
            X::Dec(m, s) => vec![Item::D(Dec::new(m as i128, s as u32))],
            X::VarG(i) => self.var_global(i)?,
            X::VarR(i) => self.var_rule(i)?,
            X::VarL(i) => match self.locals.get(self.base + i as usize).and_then(|v| v.clone()) {
                Some(v) => (*v).clone(),
                None => return err("unbound local variable"),
            },
            X::Dot => vec![ctx.item.clone()],
            X::Root => match ctx.item {
                Item::N(_) => vec![Item::N(self.x.root())],
                _ => return err("`/` with an atomic context item"),
            },
            X::Empty => Vec::new(),
            X::Seq(s, l) => {
                let mut out = Vec::new();
                for &e in self.p.list(s, l) {
                    out.extend(self.eval(e, ctx)?);
                }
                out
            }
            X::And(..) | X::Or(..) | X::GCmp(..) => vec![Item::B(self.ebv(ix, ctx)?)],
            X::VCmp(op, a, b) => {
                let l = self.eval(a, ctx)?;
                let r = self.eval(b, ctx)?;
                let (Some(x), Some(y)) = (l.into_iter().next(), r.into_iter().next()) else {
                    return Ok(Vec::new());
                };
                let x = match self.atomize(x) {
                    Item::U(s) => Item::S(s),
                    o => o,
                };
                let y = match self.atomize(y) {
                    Item::U(s) => Item::S(s),
                    o => o,
                };
                vec![Item::B(self.vcmp_items(op, &x, &y)?)]
            }
            X::Bin(op, a, b) => {
                let l = self.eval(a, ctx)?;
                let r = self.eval(b, ctx)?;
                let (Some(x), Some(y)) = (l.into_iter().next(), r.into_iter().next()) else {
                    return Ok(Vec::new());
                };
                let x = self.to_num(&self.atomize(x))?;
                let y = self.to_num(&self.atomize(y))?;
                match (x, y) {
                    (Item::D(x), Item::D(y)) => {
                        let r = match op {
                            Arith::Add => x.add(y),
                            Arith::Sub => x.sub(y),
                            Arith::Mul => x.mul(y),
                            Arith::Div => x.div(y),
                            Arith::IDiv => x.idiv(y),
                            Arith::Mod => x.rem(y),
                        };
                        match r {
                            Some(d) => vec![Item::D(d)],
                            None if y.is_zero() => return err("division by zero"),
                            None => return err("numeric overflow"),
                        }
                    }
                    _ => vec![Item::NaN],
                }
            }
            X::Neg(a) => {
                let v = self.eval(a, ctx)?;
                match v.into_iter().next() {
                    None => Vec::new(),
                    Some(it) => match self.to_num(&self.atomize(it))? {
                        Item::D(d) => vec![Item::D(d.neg())],
                        _ => vec![Item::NaN],
                    },
                }
            }
            X::Range(a, b) => {
                let l = self.eval(a, ctx)?;
                let r = self.eval(b, ctx)?;
                let (Some(x), Some(y)) = (l.into_iter().next(), r.into_iter().next()) else {
                    return Ok(Vec::new());
                };
                let x = self.cast(&self.atomize(x), Ty::Integer)?;
                let y = self.cast(&self.atomize(y), Ty::Integer)?;
                match (x, y) {
                    (Item::D(x), Item::D(y)) => {
                        let (x, y) = (x.to_i64().unwrap_or(0), y.to_i64().unwrap_or(0));
                        if y - x > 1_000_000 {
                            return err("range too large");
                        }
                        (x..=y).map(|i| Item::D(Dec::int(i))).collect()
                    }
                    _ => Vec::new(),
                }
            }
            X::Union(a, b) => {
                let mut l = self.eval(a, ctx)?;
                l.extend(self.eval(b, ctx)?);
                if !is_nodes(&l) {
                    return err("union of non-nodes");
                }
                sort_nodes(&mut l);
                l
            }
            X::Except(a, b) | X::Intersect(a, b) => {
                let l = self.eval(a, ctx)?;
                let r = self.eval(b, ctx)?;
                let rs: Vec<N> = r
                    .iter()
                    .filter_map(|i| match i {
                        Item::N(n) => Some(*n),
                        _ => None,
                    })
                    .collect();
                let keep_in = matches!(self.node(ix), X::Intersect(..));
                let mut out: Seq<'a> = l
                    .into_iter()
                    .filter(|i| match i {
                        Item::N(n) => rs.contains(n) == keep_in,
                        _ => false,
                    })
                    .collect();
                sort_nodes(&mut out);
                out
            }
            X::Path(l, r) => self.path(l, r, ctx)?,
            X::Step(axis, test, s, l) => match ctx.item {
                Item::N(n) => self.step(n, axis, test, self.p.list(s, l))?,
                _ => return err("an axis step with an atomic context item"),
            },
            X::Filter(e, s, l) => {
                let items = self.eval(e, ctx)?;
                self.filter(items, self.p.list(s, l))?
            }
            X::Call(f, s, l) => self.call(f, self.p.list(s, l), ctx)?,
            X::UCall(f, s, l) => self.ucall(f, self.p.list(s, l), ctx)?,
            X::If(c, t, e) => {
                if self.ebv(c, ctx)? {
                    self.eval(t, ctx)?
                } else {
                    self.eval(e, ctx)?
                }
            }
            X::Some(slot, input, test) | X::Every(slot, input, test) => {
                let every = matches!(self.node(ix), X::Every(..));
                let items = self.eval(input, ctx)?;
                for it in items {
                    self.set_local(slot, vec![it]);
                    let b = self.ebv(test, ctx)?;
                    if b != every {
                        return Ok(vec![Item::B(!every)]);
                    }
                }
                vec![Item::B(every)]
            }
            X::For(slot, input, ret) => {
                let items = self.eval(input, ctx)?;
                let mut out = Vec::new();
                for it in items {
                    self.set_local(slot, vec![it]);
                    out.extend(self.eval(ret, ctx)?);
                }
                out
            }
            X::Let(slot, val, ret) => {
                let v = self.eval(val, ctx)?;
                self.set_local(slot, v);
                self.eval(ret, ctx)?
            }
            X::Cast(e, ty, opt) => {
                let v = self.eval(e, ctx)?;
                match v.into_iter().next() {
                    None if opt => Vec::new(),
                    None => return err("cast of an empty sequence"),
                    Some(it) => vec![self.cast(&it, ty)?],
                }
            }
            X::Castable(e, ty, opt) => {
                let v = self.eval(e, ctx)?;
                let ok = match v.as_slice() {
                    [] => opt,
                    [it] => self.cast(it, ty).is_ok(),
                    _ => false,
                };
                vec![Item::B(ok)]
            }
            X::InstanceOf(e, ty, opt) => {
                let v = self.eval(e, ctx)?;
                let ok = match v.as_slice() {
                    [] => opt,
                    [it] => matches!(
                        (it, ty),
                        (Item::S(_), Ty::String)
                            | (Item::B(_), Ty::Boolean)
                            | (Item::Date(_), Ty::Date)
                            | (Item::D(_), Ty::Decimal | Ty::Double)
                            | (Item::U(_), Ty::Untyped)
                    ) || matches!((it, ty), (Item::D(d), Ty::Integer) if d.is_integer()),
                    _ => false,
                };
                vec![Item::B(ok)]
            }
            X::ValueOf(e) => {
                let v = self.eval(e, ctx)?;
                let parts: Vec<String> = v.iter().map(|i| self.string_of(i).to_string()).collect();
                vec![Item::S(Txt::owned(parts.join(" ")))]
            }
        })
    }

    fn path(&mut self, l: Ix, r: Ix, ctx: &Ctx<'a>) -> XResult<Seq<'a>> {
        // `a//b` (descendant-or-self::node()/child::b) with position-free predicates is
        // `a/descendant::b`
        if let (X::Path(a, dos), X::Step(Axis::Child, test, ps, pl)) = (self.node(l), self.node(r)) {
            if matches!(self.node(dos), X::Step(Axis::DescendantOrSelf, Test::AnyNode, _, 0)) {
                let preds = self.p.list(ps, pl);
                if preds.iter().all(|&p| self.position_free(p)) {
                    let start = self.eval(a, ctx)?;
                    let mut out = Vec::new();
                    let many = start.len() > 1;
                    for it in start {
                        let Item::N(n) = it else {
                            return err("a path step applied to an atomic value");
                        };
                        out.extend(self.step(n, Axis::Descendant, test, preds)?);
                    }
                    if many {
                        sort_nodes(&mut out);
                    }
                    return Ok(out);
                }
            }
        }
        let left = self.eval(l, ctx)?;
        let size = left.len();
        let mut out = Vec::new();
        for (i, it) in left.into_iter().enumerate() {
            if !matches!(it, Item::N(_)) {
                return err("a path step applied to an atomic value");
            }
            let c = Ctx {
                item: it,
                pos: i + 1,
                size,
            };
            out.extend(self.eval(r, &c)?);
        }
        if size > 1 || !matches!(self.node(r), X::Step(Axis::Child | Axis::Attribute | Axis::SelfAxis, ..)) {
            if is_nodes(&out) {
                sort_nodes(&mut out);
            } else if out.iter().any(|i| matches!(i, Item::N(_))) {
                return err("a path mixes nodes and atomic values");
            }
        }
        Ok(out)
    }

    fn ucall(&mut self, f: u16, args: &'static [u32], ctx: &Ctx<'a>) -> XResult<Seq<'a>> {
        let func = &self.p.funcs[f as usize];
        let mut vals = Vec::with_capacity(args.len());
        for (k, &a) in args.iter().enumerate() {
            let v = self.eval(a, ctx)?;
            let v = match func.params.get(k).copied().flatten() {
                Some(ty) => {
                    let mut conv = Vec::with_capacity(v.len());
                    for it in v {
                        let at = self.atomize(it);
                        conv.push(match (&at, ty) {
                            (Item::U(_), _) => self.cast(&at, ty)?,
                            (Item::D(_), Ty::Decimal | Ty::Double) => at,
                            (Item::D(d), Ty::Integer) if d.is_integer() => at,
                            (Item::S(_), Ty::String) | (Item::B(_), Ty::Boolean) | (Item::Date(_), Ty::Date) => at,
                            (_, Ty::Untyped) => at,
                            _ => return err(format!("wrong argument type for {}", func.name)),
                        });
                    }
                    conv
                }
                None => v,
            };
            vals.push(v);
        }
        if self.depth > 300 {
            return err("function recursion too deep");
        }
        let saved_base = self.base;
        let new_base = self.locals.len();
        self.locals.resize(new_base + func.slots.max(args.len() as u16) as usize, None);
        self.base = new_base;
        for (k, v) in vals.into_iter().enumerate() {
            self.set_local(k as u16, v);
        }
        let r = self.eval(func.body, ctx);
        self.locals.truncate(new_base);
        self.base = saved_base;
        let v = r?;
        Ok(match func.ret {
            Some(Ty::Boolean) => match v.as_slice() {
                [it] => vec![self.cast(it, Ty::Boolean)?],
                _ => vec![Item::B(self.ebv_seq(&v)?)],
            },
            Some(ty @ (Ty::Integer | Ty::Decimal | Ty::String)) => match v.into_iter().next() {
                Some(it) => vec![self.cast(&it, ty)?],
                None => Vec::new(),
            },
            _ => v,
        })
    }

    fn num_arg(&mut self, ix: Ix, ctx: &Ctx<'a>) -> XResult<Option<Item<'a>>> {
        let v = self.eval(ix, ctx)?;
        match v.into_iter().next() {
            None => Ok(None),
            Some(it) => Ok(Some(self.to_num(&self.atomize(it))?)),
        }
    }

    fn call(&mut self, f: F, args: &'static [u32], ctx: &Ctx<'a>) -> XResult<Seq<'a>> {
        let one = |b: bool| Ok(vec![Item::B(b)]);
        let s = |t: Txt<'a>| Ok(vec![Item::S(t)]);
        let d = |x: Dec| Ok(vec![Item::D(x)]);
        match f {
            F::Not | F::True | F::False | F::Boolean | F::Exists | F::Empty => {
                let x = ctx.clone();
                // evaluate through ebv with the call node: rebuild from args
                let b = match f {
                    F::Not => !self.ebv(args[0], &x)?,
                    F::True => true,
                    F::False => false,
                    F::Boolean => self.ebv(args[0], &x)?,
                    F::Exists => self.exists(args[0], &x)?,
                    _ => !self.exists(args[0], &x)?,
                };
                one(b)
            }
            F::Count => {
                let v = self.eval(args[0], ctx)?;
                d(Dec::int(v.len() as i64))
            }
            F::Sum | F::Avg => {
                let v = self.eval(args[0], ctx)?;
                if v.is_empty() {
                    if f == F::Avg {
                        return Ok(Vec::new());
                    }
                    if args.len() == 2 {
                        return self.eval(args[1], ctx);
                    }
                    return d(Dec::ZERO);
                }
                let n = v.len();
                let mut acc = Dec::ZERO;
                for it in v {
                    match self.to_num(&self.atomize(it))? {
                        Item::D(x) => acc = acc.add(x).ok_or_else(|| super::XError("numeric overflow".into()))?,
                        _ => return Ok(vec![Item::NaN]),
                    }
                }
                if f == F::Avg {
                    acc = acc.div(Dec::int(n as i64)).ok_or_else(|| super::XError("numeric overflow".into()))?;
                }
                d(acc)
            }
            F::Min | F::Max => {
                let v = self.eval(args[0], ctx)?;
                let mut best: Option<Item<'a>> = None;
                for it in v {
                    let a = match self.atomize(it) {
                        Item::U(t) => self.to_num(&Item::U(t))?,
                        o => o,
                    };
                    if matches!(a, Item::NaN) {
                        return Ok(vec![Item::NaN]);
                    }
                    best = Some(match best {
                        None => a,
                        Some(b) => {
                            let less = self.vcmp_items(Cmp::Lt, &a, &b)?;
                            if less == (f == F::Min) { a } else { b }
                        }
                    });
                }
                Ok(best.into_iter().collect())
            }
            F::Round | F::Floor | F::Ceiling | F::Abs => match self.num_arg(args[0], ctx)? {
                None => Ok(Vec::new()),
                Some(Item::D(x)) => d(match f {
                    F::Round => x.round(),
                    F::Floor => x.floor(),
                    F::Ceiling => x.ceil(),
                    _ => x.abs(),
                }),
                Some(_) => Ok(vec![Item::NaN]),
            },
            F::Number => {
                let v = if args.is_empty() { vec![ctx.item.clone()] } else { self.eval(args[0], ctx)? };
                let first = v.into_iter().next().map(|i| self.atomize(i));
                Ok(vec![self.number_of(first.as_ref())])
            }
            F::String => {
                if args.is_empty() {
                    return s(self.string_of(&ctx.item));
                }
                let t = self.string_arg(args[0], ctx)?;
                s(t)
            }
            F::Data => {
                let v = self.eval(args[0], ctx)?;
                Ok(v.into_iter().map(|i| self.atomize(i)).collect())
            }
            F::StringLength => {
                let t = if args.is_empty() { self.string_of(&ctx.item) } else { self.string_arg(args[0], ctx)? };
                d(Dec::int(t.chars().count() as i64))
            }
            F::NormalizeSpace => {
                let t = if args.is_empty() { self.string_of(&ctx.item) } else { self.string_arg(args[0], ctx)? };
                if t.is_empty() {
                    return s(Txt::B(""));
                }
                let trimmed = trim_xml(&t);
                if !trimmed.contains(['\t', '\n', '\r']) && !trimmed.contains("  ") {
                    return s(match t {
                        Txt::B(b) => Txt::B(trim_xml(b)),
                        Txt::O(_) => Txt::owned(trimmed.to_string()),
                    });
                }
                s(Txt::owned(collapse_ws(&t)))
            }
            F::Concat => {
                let mut out = String::new();
                for &a in args {
                    out.push_str(&self.string_arg(a, ctx)?);
                }
                s(Txt::owned(out))
            }
            F::Contains | F::StartsWith | F::EndsWith => {
                let a = self.string_arg(args[0], ctx)?;
                let b = self.string_arg(args[1], ctx)?;
                one(match f {
                    F::Contains => a.contains(&*b),
                    F::StartsWith => a.starts_with(&*b),
                    _ => a.ends_with(&*b),
                })
            }
            F::SubstringBefore | F::SubstringAfter => {
                let a = self.string_arg(args[0], ctx)?;
                let b = self.string_arg(args[1], ctx)?;
                let r = match a.find(&*b) {
                    None => String::new(),
                    Some(i) => {
                        if f == F::SubstringBefore {
                            a[..i].to_string()
                        } else {
                            a[i + b.len()..].to_string()
                        }
                    }
                };
                s(Txt::owned(r))
            }
            F::Substring => {
                let a = self.string_arg(args[0], ctx)?;
                let start = self.num_arg(args[1], ctx)?;
                let len = if args.len() == 3 { Some(self.num_arg(args[2], ctx)?) } else { None };
                let Some(Item::D(start)) = start else {
                    return s(Txt::B(""));
                };
                let first = start.round();
                let end = match len {
                    None => None,
                    Some(Some(Item::D(l))) => Some(first.add(l.round()).unwrap_or(Dec::ZERO)),
                    Some(_) => return s(Txt::B("")),
                };
                let out: String = a
                    .chars()
                    .enumerate()
                    .filter(|(i, _)| {
                        let p = Dec::int(*i as i64 + 1);
                        p >= first && end.is_none_or(|e| p < e)
                    })
                    .map(|(_, c)| c)
                    .collect();
                s(Txt::owned(out))
            }
            F::UpperCase => {
                let a = self.string_arg(args[0], ctx)?;
                s(Txt::owned(a.to_uppercase()))
            }
            F::LowerCase => {
                let a = self.string_arg(args[0], ctx)?;
                s(Txt::owned(a.to_lowercase()))
            }
            F::Translate => {
                let a = self.string_arg(args[0], ctx)?;
                let from: Vec<char> = self.string_arg(args[1], ctx)?.chars().collect();
                let to: Vec<char> = self.string_arg(args[2], ctx)?.chars().collect();
                let out: String = a
                    .chars()
                    .filter_map(|c| match from.iter().position(|&x| x == c) {
                        Some(i) => to.get(i).copied(),
                        None => Some(c),
                    })
                    .collect();
                s(Txt::owned(out))
            }
            F::StringJoin => {
                let v = self.eval(args[0], ctx)?;
                let sep = if args.len() == 2 { self.string_arg(args[1], ctx)? } else { Txt::B("") };
                let parts: Vec<String> = v.iter().map(|i| self.string_of(i).to_string()).collect();
                s(Txt::owned(parts.join(&sep)))
            }
            F::Tokenize => {
                let a = self.string_arg(args[0], ctx)?;
                if args.len() == 1 {
                    return Ok(a.split_whitespace().map(|t| Item::S(Txt::owned(t.to_string()))).collect());
                }
                let pat = self.string_arg(args[1], ctx)?;
                let flags = if args.len() == 3 { self.string_arg(args[2], ctx)?.to_string() } else { String::new() };
                if a.is_empty() {
                    return Ok(Vec::new());
                }
                let re = self.regex(&pat, &flags)?;
                if re.matches_empty() {
                    return err("tokenize: the pattern matches the empty string");
                }
                Ok(re.split(&a).into_iter().map(|t| Item::S(Txt::owned(t))).collect())
            }
            F::Matches => {
                let a = self.string_arg(args[0], ctx)?;
                let pat = self.string_arg(args[1], ctx)?;
                let flags = if args.len() == 3 { self.string_arg(args[2], ctx)?.to_string() } else { String::new() };
                let re = self.regex(&pat, &flags)?;
                one(re.is_match(&a))
            }
            F::Replace => {
                let a = self.string_arg(args[0], ctx)?;
                let pat = self.string_arg(args[1], ctx)?;
                let rep = self.string_arg(args[2], ctx)?;
                let flags = if args.len() == 4 { self.string_arg(args[3], ctx)?.to_string() } else { String::new() };
                let re = self.regex(&pat, &flags)?;
                if re.matches_empty() {
                    return err("replace: the pattern matches the empty string");
                }
                s(Txt::owned(re.replace(&a, &rep)))
            }
            F::StringToCodepoints => {
                let a = self.string_arg(args[0], ctx)?;
                Ok(a.chars().map(|c| Item::D(Dec::int(c as i64))).collect())
            }
            F::CodepointsToString => {
                let v = self.eval(args[0], ctx)?;
                let mut out = String::new();
                for it in v {
                    match self.to_num(&self.atomize(it))? {
                        Item::D(x) => match x.to_i64().and_then(|c| char::from_u32(c as u32)) {
                            Some(c) => out.push(c),
                            None => return err("invalid codepoint"),
                        },
                        _ => return err("invalid codepoint"),
                    }
                }
                s(Txt::owned(out))
            }
            F::Reverse => {
                let mut v = self.eval(args[0], ctx)?;
                v.reverse();
                Ok(v)
            }
            F::Position => d(Dec::int(ctx.pos as i64)),
            F::Last => d(Dec::int(ctx.size as i64)),
            F::Name | F::LocalName | F::NamespaceUri => {
                let target = if args.is_empty() {
                    Some(ctx.item.clone())
                } else {
                    self.eval(args[0], ctx)?.into_iter().next()
                };
                let n = match target {
                    None => return s(Txt::B("")),
                    Some(Item::N(n)) => n,
                    Some(_) => return err("name() of an atomic value"),
                };
                match f {
                    F::Name => s(Txt::owned(self.x.qname(n))),
                    F::LocalName => s(Txt::B(self.x.expanded_name(n).1)),
                    _ => s(Txt::B(self.x.expanded_name(n).0)),
                }
            }
            F::DistinctValues => {
                let v = self.eval(args[0], ctx)?;
                let mut out: Seq<'a> = Vec::new();
                for it in v {
                    let a = self.atomize(it);
                    let mut dup = false;
                    for o in &out {
                        if self.vcmp_items(Cmp::Eq, &dv(&a), &dv(o)).unwrap_or(false) {
                            dup = true;
                            break;
                        }
                    }
                    if !dup {
                        out.push(a);
                    }
                }
                Ok(out)
            }
            F::IndexOf => {
                let v = self.eval(args[0], ctx)?;
                let k = self.eval(args[1], ctx)?;
                let Some(k) = k.into_iter().next() else {
                    return Ok(Vec::new());
                };
                let k = dv(&self.atomize(k));
                let mut out = Vec::new();
                for (i, it) in v.into_iter().enumerate() {
                    let a = dv(&self.atomize(it));
                    if self.vcmp_items(Cmp::Eq, &a, &k).unwrap_or(false) {
                        out.push(Item::D(Dec::int(i as i64 + 1)));
                    }
                }
                Ok(out)
            }
            F::Root => Ok(vec![Item::N(self.x.root())]),
            F::CurrentDate => Ok(vec![Item::Date(today())]),
            F::Subsequence => {
                let v = self.eval(args[0], ctx)?;
                let Some(Item::D(start)) = self.num_arg(args[1], ctx)? else {
                    return Ok(Vec::new());
                };
                let first = start.round();
                let end = if args.len() == 3 {
                    match self.num_arg(args[2], ctx)? {
                        Some(Item::D(l)) => Some(first.add(l.round()).unwrap_or(Dec::ZERO)),
                        _ => return Ok(Vec::new()),
                    }
                } else {
                    None
                };
                Ok(v
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        let p = Dec::int(*i as i64 + 1);
                        p >= first && end.is_none_or(|e| p < e)
                    })
                    .map(|(_, it)| it)
                    .collect())
            }
            F::InsertBefore => {
                let mut v = self.eval(args[0], ctx)?;
                let pos = match self.num_arg(args[1], ctx)? {
                    Some(Item::D(p)) => p.to_i64().unwrap_or(1).clamp(1, v.len() as i64 + 1) as usize,
                    _ => 1,
                };
                let ins = self.eval(args[2], ctx)?;
                let tail = v.split_off(pos - 1);
                v.extend(ins);
                v.extend(tail);
                Ok(v)
            }
            F::Remove => {
                let mut v = self.eval(args[0], ctx)?;
                if let Some(Item::D(p)) = self.num_arg(args[1], ctx)? {
                    if let Some(p) = p.to_i64() {
                        if p >= 1 && (p as usize) <= v.len() {
                            v.remove(p as usize - 1);
                        }
                    }
                }
                Ok(v)
            }
        }
    }
}

/// For distinct-values/index-of: untyped compares as string.
fn dv<'a>(it: &Item<'a>) -> Item<'a> {
    match it {
        Item::U(s) => Item::S(s.clone()),
        o => o.clone(),
    }
}

fn type_name(it: &Item<'_>) -> &'static str {
    match it {
        Item::N(_) => "node()",
        Item::U(_) => "xs:untypedAtomic",
        Item::S(_) => "xs:string",
        Item::D(_) | Item::NaN => "a number",
        Item::B(_) => "xs:boolean",
        Item::Date(_) => "xs:date",
    }
}

fn cmp_holds(op: Cmp, o: Ordering) -> bool {
    match op {
        Cmp::Eq => o == Ordering::Equal,
        Cmp::Ne => o != Ordering::Equal,
        Cmp::Lt => o == Ordering::Less,
        Cmp::Le => o != Ordering::Greater,
        Cmp::Gt => o == Ordering::Greater,
        Cmp::Ge => o != Ordering::Less,
    }
}

/// Today's date (UTC) from the system clock.
fn today() -> Date {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    civil_from_days(secs.div_euclid(86_400))
}

/// Howard Hinnant's days-to-civil conversion.
pub fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    Date {
        y: (if m <= 2 { y + 1 } else { y }) as i32,
        m,
        d,
    }
}
