//! Runs compiled Schematron rule sets the way the ISO skeleton's XSLT does: for each
//! pattern, every node of the document (elements, then their attributes, in document
//! order) is matched against the pattern's rules in order; the first rule whose context
//! matches fires, and each of its asserts that fails (each report that succeeds) is a
//! finding at that node.

use std::collections::HashMap;

use crate::xpath::eval::{BuildFx, Ctx};
use crate::xpath::syntax::ast::{Axis, F, Ix, Test, X};
use crate::xpath::{Eval, Func, Item, N, Program, XDoc, XResult};

/// Severity of an assert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// A fatal error: the invoice is invalid.
    Fatal,
    /// A warning.
    Warning,
    /// Information.
    Information,
}

/// One assert (or report) of a rule.
#[derive(Debug)]
pub struct Assert {
    /// Rule id, e.g. `BR-CO-10`.
    pub id: &'static str,
    /// Severity.
    pub flag: Flag,
    /// The test expression.
    pub test: Ix,
    /// The message text.
    pub message: &'static str,
    /// Whether this is a `report` (fires when the test is true).
    pub report: bool,
}

/// A rule: a context pattern, `let`s and asserts.
#[derive(Debug)]
pub struct Rule {
    /// The context pattern.
    pub context: Ix,
    /// Local slots its expressions use.
    pub slots: u16,
    /// `let` expressions, in order.
    pub lets: &'static [Ix],
    /// Asserts and reports.
    pub asserts: &'static [Assert],
}

/// A pattern: rules in priority order, with indexes to find candidate rules per node.
#[derive(Debug)]
pub struct Pattern {
    /// Pattern id.
    pub id: &'static str,
    /// Rules in order.
    pub rules: &'static [Rule],
    /// (element name id, rule index), sorted.
    pub by_name: &'static [(u32, u16)],
    /// Rules that may match any element.
    pub any_elem: &'static [u16],
    /// (attribute name id, rule index), sorted.
    pub by_attr: &'static [(u32, u16)],
    /// Rules that may match any attribute.
    pub any_attr: &'static [u16],
    /// Rules that may match the document node.
    pub doc: &'static [u16],
    /// Whether `cands` holds the candidate rules of every element name id: always without
    /// wildcard element rules, and with them when their name screens were decided at
    /// build time.
    pub static_cands: bool,
    /// (element name id, start, end) of its candidate rules in `cand_store`, sorted by
    /// name, computed at build time (without wildcard element rules: the names the rules
    /// mention; with them: every name id).
    pub cands: &'static [(u32, u32, u32)],
    /// Candidate rules that `cands` index.
    pub cand_store: &'static [Cand],
    /// The context alternatives that `cand_store` indexes.
    pub cand_alts: &'static [Ix],
}

/// A compiled rule set.
#[derive(Debug)]
pub struct Schema {
    /// Rule set name.
    pub name: &'static str,
    /// Names of the global variables.
    pub global_names: &'static [&'static str],
    /// Global variable expressions.
    pub globals: &'static [Ix],
    /// Asserts left out at build time, with the reason.
    pub dropped: &'static [&'static str],
    /// Patterns in order.
    pub patterns: &'static [Pattern],
}

#[allow(clippy::all, missing_docs)]
mod generated {
    use super::{Assert, Cand, Flag, Func, Pattern, Rule, Schema};
    use crate::xpath::syntax::ast::{Arith, Axis, Cmp, F, Test, Ty, X};
    include!(concat!(env!("OUT_DIR"), "/rules.rs"));
}

/// The compiled expressions of all rule sets.
pub static PROGRAM: Program = Program {
    nodes: &generated::NODES,
    lists: &generated::LISTS,
    strs: &generated::STRS,
    names: &generated::NAMES,
    namespaces: &generated::NAMESPACES,
    name_ns: &generated::NAME_NS,
    name_table: &generated::NAME_TABLE,
    funcs: &generated::FUNCS,
    sets: &generated::SETS,
    req_names: &generated::REQ_NAMES,
    const_sets: &generated::CONST_SETS,
};

/// All compiled rule sets.
pub fn schemas() -> &'static [Schema] {
    &generated::SCHEMAS
}

/// A rule set by name (`en16931-ubl`, `en16931-cii`, `peppol-ubl`, `cn-einvoice`).
pub fn schema(name: &str) -> Option<&'static Schema> {
    generated::SCHEMAS.iter().find(|s| s.name == name)
}

/// A failed assert (or successful report).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Rule id.
    pub id: &'static str,
    /// Severity.
    pub flag: Flag,
    /// Message (with the evaluation error appended when the test could not be evaluated).
    pub message: String,
    /// Location of the context node, e.g. `/Invoice/cac:LegalMonetaryTotal`.
    pub location: String,
}

struct Runner<'e, 'a, 'i> {
    ev: &'e mut Eval<'a, 'i>,
    x: &'a XDoc<'a, 'i>,
    /// Name-only predicate results per (predicate, element name id) that hold for every
    /// document (the predicate does not read the prefix through `name()`); elements whose
    /// name no rule mentions are evaluated each time.
    memo: HashMap<u64, bool, BuildFx>,
    /// The same for predicates that read `name()`: valid for this document only.
    doc_memo: HashMap<u64, bool, BuildFx>,
    /// Set when a name screen evaluated a predicate that reads `name()`.
    tainted: bool,
}

/// What [`run`] keeps across documents: it depends on the program and element names only.
#[derive(Default)]
struct Persist {
    memo: HashMap<u64, bool, BuildFx>,
    /// Per pattern (by address): candidate rules per element name id.
    cands: HashMap<usize, PatternCands, BuildFx>,
}

/// Candidate rules of one pattern per element name id: `store[s..e]` for `by_name[id]`.
#[derive(Default)]
struct PatternCands {
    by_name: Vec<Option<(u32, u32)>>,
    store: Vec<Cand>,
    /// The alternatives of rule contexts that `Cand`s index.
    alts: Vec<Ix>,
}

/// A candidate rule for an element name: its index and `alts[s..e]`, the alternatives of
/// its context (`a | b | …`) that can match an element with that name, in order.
#[derive(Clone, Copy, Debug)]
pub struct Cand {
    /// Rule index in its pattern.
    pub rule: u16,
    /// Start of its alternatives.
    pub s: u32,
    /// End of its alternatives.
    pub e: u32,
    /// The last alternative is a bare `name` step (no predicates): reaching it is a match.
    pub certain: bool,
}

impl PatternCands {
    /// Records candidate `rules` for elements named `name` (all alternatives kept when
    /// the name is unknown) and returns their range in `store`.
    fn add(&mut self, rules: &[u16], pattern: &Pattern, name: Option<u32>) -> (u32, u32) {
        let start = self.store.len() as u32;
        for &ri in rules {
            let s = self.alts.len() as u32;
            let mut all = Vec::new();
            union_alts(pattern.rules[ri as usize].context, &mut all);
            let mut certain = false;
            for a in all {
                if let Some(nm) = name {
                    if !may_match_name(a, nm) {
                        continue;
                    }
                    if matches!(PROGRAM.nodes[a as usize], X::Step(Axis::Child, Test::Name(id), _, 0) if id == nm)
                    {
                        self.alts.push(a);
                        certain = true;
                        break;
                    }
                }
                self.alts.push(a);
            }
            let e = self.alts.len() as u32;
            if s < e {
                self.store.push(Cand {
                    rule: ri,
                    s,
                    e,
                    certain,
                });
            }
        }
        (start, self.store.len() as u32)
    }

    fn clear(&mut self) {
        self.by_name.clear();
        self.store.clear();
        self.alts.clear();
    }
}

/// The candidate range of an element name no rule of the pattern names (with no wildcard
/// rules): neither the element nor its attributes are visited.
const SKIP: (u32, u32) = (u32::MAX, u32::MAX);

/// The alternatives of a union, in order.
fn union_alts(ix: Ix, out: &mut Vec<Ix>) {
    match PROGRAM.nodes[ix as usize] {
        X::Union(a, b) => {
            union_alts(a, out);
            union_alts(b, out);
        }
        _ => out.push(ix),
    }
}

/// False only when matching pattern `ix` against any element named `name` is certainly
/// `Ok(false)`: its last step tests another name, and [`Runner::matches`] checks that test
/// before evaluating anything.
fn may_match_name(ix: Ix, name: u32) -> bool {
    match PROGRAM.nodes[ix as usize] {
        X::Union(a, b) => may_match_name(a, name) || may_match_name(b, name),
        X::Step(Axis::Child, Test::Name(id), _, _) => id == name,
        X::Filter(e, _, _) => may_match_name(e, name),
        X::Path(_, r) => match PROGRAM.nodes[r as usize] {
            X::Step(Axis::Descendant, Test::Name(id), _, _) => id == name,
            X::Step(Axis::Child, ..) => may_match_name(r, name),
            _ => true,
        },
        _ => true,
    }
}

thread_local! {
    static PERSIST: std::cell::RefCell<Persist> = std::cell::RefCell::default();
}

/// Whether a name-only expression calls `name()` (whose value depends on the prefix).
fn reads_prefix(ix: Ix) -> bool {
    match PROGRAM.nodes[ix as usize] {
        X::Call(F::Name, _, _) => true,
        X::Call(_, s, l) => PROGRAM.list(s, l).iter().any(|&c| reads_prefix(c)),
        X::And(a, b) | X::Or(a, b) | X::GCmp(_, a, b) | X::VCmp(_, a, b) => {
            reads_prefix(a) || reads_prefix(b)
        }
        X::InSet(_, _, a) => reads_prefix(a),
        _ => false,
    }
}

impl<'a> Runner<'_, 'a, '_> {
    fn node(&self, ix: Ix) -> X {
        PROGRAM.nodes[ix as usize]
    }

    fn preds_ok(&mut self, n: N, axis: Axis, test: Test, s: u32, l: u32) -> XResult<bool> {
        let preds = PROGRAM.list(s, l);
        if preds.is_empty() {
            return Ok(true);
        }
        let free = preds
            .iter()
            .all(|&p| generated::FLAGS[p as usize] & crate::xpath::eval::FLAG_POSITION_FREE != 0);
        if free {
            for &p in preds {
                if !self.pred(p, n)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        // positional predicates: n must be among the step's results from its parent
        let Some(parent) = self.x.parent(n) else {
            return Ok(false);
        };
        let mut ev_items = Vec::new();
        self.x.axis_each(parent, axis, test, &mut |m| {
            ev_items.push(Item::N(m));
            Ok(false)
        })?;
        let kept = self.filter(ev_items, preds)?;
        Ok(kept.iter().any(|i| matches!(i, Item::N(m) if *m == n)))
    }

    /// Whether a wildcard context can match an element with `n`'s name: false when a part
    /// of its first predicate that only reads the name is false.
    fn name_screen(&mut self, context: Ix, n: N) -> bool {
        let step = match self.node(context) {
            X::Path(_, r) => r,
            X::Step(..) => context,
            _ => return true,
        };
        let X::Step(_, _, s, l) = self.node(step) else {
            return true;
        };
        match PROGRAM.list(s, l).first() {
            Some(&p) => self.name_part(p, n),
            None => true,
        }
    }

    /// Evaluates the name-only conjuncts of `p` (true when there are none).
    fn name_part(&mut self, p: Ix, n: N) -> bool {
        if generated::FLAGS[p as usize] & crate::xpath::eval::FLAG_NAME_ONLY != 0 {
            if reads_prefix(p) {
                self.tainted = true;
            }
            return self.ev.ebv(p, &Ctx::node(n)).unwrap_or(true);
        }
        match self.node(p) {
            X::And(a, b) => self.name_part(a, n) && self.name_part(b, n),
            _ => true,
        }
    }

    /// A position-free predicate on `n`, memoizing the parts that only read its name.
    fn pred(&mut self, p: Ix, n: N) -> XResult<bool> {
        let f = generated::FLAGS[p as usize];
        if f & crate::xpath::eval::FLAG_NAME_ONLY != 0
            && !n.is_attr()
            && let Some(name) = self.x.name_of(n.id)
        {
            let key = ((p as u64) << 32) | name as u64;
            if let Some(&b) = self.memo.get(&key).or_else(|| self.doc_memo.get(&key)) {
                return Ok(b);
            }
            let b = self.ev.ebv(p, &Ctx::node(n))?;
            if reads_prefix(p) {
                self.doc_memo.insert(key, b);
            } else {
                self.memo.insert(key, b);
            }
            return Ok(b);
        }
        match self.node(p) {
            X::And(a, b) => return Ok(self.pred(a, n)? && self.pred(b, n)?),
            X::Call(F::Not, s, 1) => match self.node(PROGRAM.list(s, 1)[0]) {
                // `not(*)`: no element children
                X::Step(Axis::Child, Test::AnyName, _, 0) => {
                    return Ok(n.is_attr() || self.x.element_children(n.id).is_empty());
                }
                // `not(normalize-space())`: only whitespace in the string value
                X::Call(F::NormalizeSpace, _, 0) => {
                    let t = self.x.string_value(n);
                    return Ok(t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')));
                }
                _ => {}
            },
            _ => {}
        }
        self.ev.pred(p, n)
    }

    fn filter(&mut self, items: Vec<Item<'a>>, preds: &'static [u32]) -> XResult<Vec<Item<'a>>> {
        let mut items = items;
        for &p in preds {
            let size = items.len();
            let mut out = Vec::new();
            for (i, it) in items.into_iter().enumerate() {
                let c = Ctx {
                    item: it,
                    pos: i + 1,
                    size,
                };
                let v = self.ev.eval(p, &c)?;
                let keep = match v.as_slice() {
                    [Item::D(d)] => *d == crate::decimal::Dec::int(c.pos as i64),
                    _ => self.ev.ebv_seq(&v)?,
                };
                if keep {
                    out.push(c.item);
                }
            }
            items = out;
        }
        Ok(items)
    }

    /// Whether node `n` matches the pattern expression `ix` (XSLT match semantics).
    fn matches(&mut self, ix: Ix, n: N) -> XResult<bool> {
        match self.node(ix) {
            X::Union(a, b) => Ok(self.matches(a, n)? || self.matches(b, n)?),
            X::Root => Ok(self.x.is_doc(n)),
            X::Step(axis, test, s, l) => {
                let ok = match axis {
                    Axis::Child => {
                        !n.is_attr() && !self.x.is_doc(n) && self.x.test(n, Axis::Child, test)
                    }
                    Axis::Attribute => n.is_attr() && self.x.test(n, Axis::Attribute, test),
                    Axis::SelfAxis | Axis::DescendantOrSelf => self.x.test(n, axis, test),
                    _ => return self.fallback(ix, n),
                };
                Ok(ok && self.preds_ok(n, axis, test, s, l)?)
            }
            X::Path(l, r) => {
                if let X::Step(
                    axis @ (Axis::Descendant | Axis::DescendantAttribute),
                    test,
                    s,
                    len,
                ) = self.node(r)
                {
                    // from the `E//x` rewrite: x here, E at some ancestor
                    let step_axis = if axis == Axis::Descendant {
                        Axis::Child
                    } else {
                        Axis::Attribute
                    };
                    let ok = match step_axis {
                        Axis::Child => {
                            !n.is_attr() && !self.x.is_doc(n) && self.x.test(n, Axis::Child, test)
                        }
                        _ => n.is_attr() && self.x.test(n, Axis::Attribute, test),
                    };
                    if !ok || !self.preds_ok(n, step_axis, test, s, len)? {
                        return Ok(false);
                    }
                    if matches!(self.node(l), X::Root) {
                        return Ok(true); // every node descends from the root
                    }
                    let mut cur = self.x.parent(n);
                    while let Some(a) = cur {
                        if self.matches(l, a)? {
                            return Ok(true);
                        }
                        cur = self.x.parent(a);
                    }
                    return Ok(false);
                }
                if !matches!(self.node(r), X::Step(Axis::Child | Axis::Attribute, ..)) {
                    return self.fallback(ix, n);
                }
                if !self.matches(r, n)? {
                    return Ok(false);
                }
                let Some(parent) = self.x.parent(n) else {
                    return Ok(false);
                };
                if let X::Path(ll, dos) = self.node(l)
                    && matches!(
                        self.node(dos),
                        X::Step(Axis::DescendantOrSelf, Test::AnyNode, _, 0)
                    )
                {
                    let mut cur = Some(parent);
                    while let Some(a) = cur {
                        if self.matches(ll, a)? {
                            return Ok(true);
                        }
                        cur = self.x.parent(a);
                    }
                    return Ok(false);
                }
                self.matches(l, parent)
            }
            X::Filter(e, s, l) => {
                if !self.matches(e, n)? {
                    return Ok(false);
                }
                for &p in PROGRAM.list(s, l) {
                    let v = self.ev.eval(p, &Ctx::node(n))?;
                    let keep = match v.as_slice() {
                        [Item::D(d)] => *d == crate::decimal::Dec::int(1),
                        _ => self.ev.ebv_seq(&v)?,
                    };
                    if !keep {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            _ => self.fallback(ix, n),
        }
    }

    /// Whether `n` could match the pattern judging by names and axes alone (predicates
    /// ignored): a cheap filter before [`Self::matches`].
    fn shape(&self, ix: Ix, n: N) -> bool {
        match self.node(ix) {
            X::Union(a, b) => self.shape(a, n) || self.shape(b, n),
            X::Root => self.x.is_doc(n),
            X::Step(Axis::Child, test, _, _) => {
                !n.is_attr() && !self.x.is_doc(n) && self.x.test(n, Axis::Child, test)
            }
            X::Step(Axis::Attribute, test, _, _) => {
                n.is_attr() && self.x.test(n, Axis::Attribute, test)
            }
            X::Filter(e, _, _) => self.shape(e, n),
            X::Path(l, r) => match self.node(r) {
                X::Step(axis @ (Axis::Descendant | Axis::DescendantAttribute), test, _, _) => {
                    let ok = if axis == Axis::Descendant {
                        !n.is_attr() && !self.x.is_doc(n) && self.x.test(n, Axis::Child, test)
                    } else {
                        n.is_attr() && self.x.test(n, Axis::Attribute, test)
                    };
                    if !ok {
                        return false;
                    }
                    if matches!(self.node(l), X::Root) {
                        return true;
                    }
                    let mut cur = self.x.parent(n);
                    while let Some(a) = cur {
                        if self.shape(l, a) {
                            return true;
                        }
                        cur = self.x.parent(a);
                    }
                    false
                }
                X::Step(Axis::Child | Axis::Attribute, ..) => {
                    if !self.shape(r, n) {
                        return false;
                    }
                    let Some(parent) = self.x.parent(n) else {
                        return false;
                    };
                    if let X::Path(ll, dos) = self.node(l)
                        && matches!(
                            self.node(dos),
                            X::Step(Axis::DescendantOrSelf, Test::AnyNode, _, 0)
                        )
                    {
                        let mut cur = Some(parent);
                        while let Some(a) = cur {
                            if self.shape(ll, a) {
                                return true;
                            }
                            cur = self.x.parent(a);
                        }
                        return false;
                    }
                    self.shape(l, parent)
                }
                _ => true,
            },
            _ => true,
        }
    }

    /// General pattern semantics: evaluate from the root and look for the node.
    fn fallback(&mut self, ix: Ix, n: N) -> XResult<bool> {
        let v = self.ev.eval(ix, &Ctx::node(self.x.root()))?;
        Ok(v.iter().any(|i| matches!(i, Item::N(m) if *m == n)))
    }

    fn fire(
        &mut self,
        pattern: &'static Pattern,
        candidates: &mut dyn Iterator<Item = u16>,
        n: N,
        out: &mut Vec<Finding>,
    ) {
        for ri in candidates {
            let rule = &pattern.rules[ri as usize];
            if !self.shape(rule.context, n) || !self.matches(rule.context, n).unwrap_or(false) {
                continue;
            }
            self.assert_rule(rule, n, out);
            return;
        }
    }

    /// [`Self::fire`] for an element with candidates whose context alternatives were
    /// screened by name: a rule matches when an alternative does, in order (an error while
    /// matching an alternative means no match, as for the whole union).
    fn fire_cands(
        &mut self,
        pattern: &'static Pattern,
        cands: &[Cand],
        alts: &[Ix],
        n: N,
        out: &mut Vec<Finding>,
    ) {
        for c in cands {
            let end = c.e as usize - usize::from(c.certain);
            let hit = 'm: {
                for &a in &alts[c.s as usize..end] {
                    if !self.shape(a, n) {
                        continue;
                    }
                    match self.matches(a, n) {
                        Ok(true) => break 'm true,
                        Ok(false) => {}
                        Err(_) => break 'm false,
                    }
                }
                c.certain
            };
            if hit {
                self.assert_rule(&pattern.rules[c.rule as usize], n, out);
                return;
            }
        }
    }

    /// Fires the attribute rules of `pattern` on the attributes of element `n`.
    fn attrs(&mut self, pattern: &'static Pattern, n: N, out: &mut Vec<Finding>) {
        let x = self.x;
        for (k, &a) in x.attr_ids(n.id).iter().enumerate() {
            let by = lookup(pattern.by_attr, (a != u32::MAX).then_some(a));
            if by.is_empty() && pattern.any_attr.is_empty() {
                continue;
            }
            let an = N {
                id: n.id,
                attr: k as u32 + 1,
            };
            self.fire(
                pattern,
                &mut Candidates {
                    by,
                    any: pattern.any_attr,
                },
                an,
                out,
            );
        }
    }

    fn assert_rule(&mut self, rule: &'static Rule, n: N, out: &mut Vec<Finding>) {
        let ctx = Ctx::node(n);
        self.ev.enter_rule(ctx.clone(), rule.lets, rule.slots);
        for a in rule.asserts {
            let (fired, error) = match self.ev.ebv(a.test, &ctx) {
                Ok(b) => (b == a.report, None),
                Err(e) => (true, Some(e)),
            };
            if fired {
                let mut message = a.message.to_string();
                if let Some(e) = error {
                    message.push_str(&format!(" (the rule could not be evaluated: {e})"));
                }
                out.push(Finding {
                    id: a.id,
                    flag: a.flag,
                    message,
                    location: location(self.x, n),
                });
            }
        }
    }
}

/// Rule indices from a name table range merged with the wildcard rules, ascending.
struct Candidates<'t> {
    by: &'t [(u32, u16)],
    any: &'t [u16],
}

impl Iterator for Candidates<'_> {
    type Item = u16;
    fn next(&mut self) -> Option<u16> {
        let a = self.by.first().map(|&(_, r)| r);
        let b = self.any.first().copied();
        let v = match (a, b) {
            (None, None) => return None,
            (Some(x), None) => x,
            (None, Some(y)) => y,
            (Some(x), Some(y)) => x.min(y),
        };
        while self.by.first().is_some_and(|&(_, r)| r == v) {
            self.by = &self.by[1..];
        }
        while self.any.first() == Some(&v) {
            self.any = &self.any[1..];
        }
        Some(v)
    }
}

fn lookup(table: &[(u32, u16)], name: Option<u32>) -> &[(u32, u16)] {
    let Some(name) = name else {
        return &[];
    };
    let start = table.partition_point(|&(n, _)| n < name);
    let end = start + table[start..].partition_point(|&(n, _)| n == name);
    &table[start..end]
}

/// Runs `schema` over the document and appends its findings to `out`.
pub fn run<'a, 'i>(x: &'a XDoc<'a, 'i>, schema: &'static Schema, out: &mut Vec<Finding>) {
    let mut ev = Eval::new(x, &generated::FLAGS, schema.globals);
    let mut persist = PERSIST.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let mut r = Runner {
        ev: &mut ev,
        x,
        memo: std::mem::take(&mut persist.memo),
        doc_memo: HashMap::default(),
        tainted: false,
    };
    let root = x.root();
    for pattern in schema.patterns {
        if !pattern.doc.is_empty() {
            r.fire(pattern, &mut pattern.doc.iter().copied(), root, out);
        }
        let has_attr_rules = !pattern.by_attr.is_empty() || !pattern.any_attr.is_empty();
        let named;
        let visit: &[u32] = if has_attr_rules || !pattern.any_elem.is_empty() {
            x.elements()
        } else {
            named = x.elements_named(pattern.by_name.iter().map(|&(n, _)| n));
            &named
        };
        // candidate rules per element name, wildcard rules screened by the parts of their
        // predicates that only read the element's name: kept across documents in `pc`, or
        // (screens that read prefixes) per name id for this document in `cand_store`
        let pc = persist
            .cands
            .entry(pattern as *const Pattern as usize)
            .or_default();
        let mut doc_cands = PatternCands::default();
        let mut scratch: Vec<u16> = Vec::new();
        let mut unnamed = PatternCands::default();
        for &id in visit {
            let n = N { id, attr: 0 };
            let name = x.name_of(n.id);
            if pattern.static_cands {
                // candidates per name from the build; without wildcard rules, an element
                // whose name no rule names is skipped with its attributes
                let found = name.and_then(|nm| {
                    // with wildcard rules the table has every name id, at its index
                    let k = match pattern.cands.get(nm as usize) {
                        Some(&(c, _, _)) if c == nm => nm as usize,
                        _ => pattern.cands.partition_point(|&(c, _, _)| c < nm),
                    };
                    pattern.cands.get(k).filter(|&&(c, _, _)| c == nm)
                });
                if let Some(&(_, s, e)) = found {
                    if s < e {
                        let cands = &pattern.cand_store[s as usize..e as usize];
                        r.fire_cands(pattern, cands, pattern.cand_alts, n, out);
                    }
                    if has_attr_rules {
                        r.attrs(pattern, n, out);
                    }
                    continue;
                }
                if pattern.any_elem.is_empty() {
                    continue;
                }
                // an element whose name no rule mentions: screened below
            }
            let kept = name.and_then(|nm| pc.by_name.get(nm as usize).copied().flatten());
            let cached = name.and_then(|nm| doc_cands.by_name.get(nm as usize).copied().flatten());
            let (store, range) = match (kept, cached) {
                (Some(k), _) => (&*pc, k),
                (None, Some(c)) => (&doc_cands, c),
                (None, None) => {
                    let by = lookup(pattern.by_name, name);
                    if by.is_empty() && pattern.any_elem.is_empty() {
                        // no rule for this name: remembered as an empty, skipped range
                        if let Some(nm) = name {
                            if pc.by_name.len() <= nm as usize {
                                pc.by_name.resize(nm as usize + 1, None);
                            }
                            pc.by_name[nm as usize] = Some(SKIP);
                        }
                        continue;
                    }
                    r.tainted = false;
                    scratch.clear();
                    scratch.extend(
                        Candidates {
                            by,
                            any: pattern.any_elem,
                        }
                        .filter(|&ri| {
                            by.iter().any(|&(_, b)| b == ri)
                                || r.name_screen(pattern.rules[ri as usize].context, n)
                        }),
                    );
                    let target = match name {
                        Some(_) if !r.tainted => &mut *pc,
                        Some(_) => &mut doc_cands,
                        None => {
                            unnamed.clear();
                            &mut unnamed
                        }
                    };
                    let range = target.add(&scratch, pattern, name);
                    if let Some(nm) = name {
                        if target.by_name.len() <= nm as usize {
                            target.by_name.resize(nm as usize + 1, None);
                        }
                        target.by_name[nm as usize] = Some(range);
                    }
                    (&*target, range)
                }
            };
            if range == SKIP {
                continue;
            }
            let cands = &store.store[range.0 as usize..range.1 as usize];
            if !cands.is_empty() {
                r.fire_cands(pattern, cands, &store.alts, n, out);
            }
            if has_attr_rules {
                r.attrs(pattern, n, out);
            }
        }
    }
    persist.memo = std::mem::take(&mut r.memo);
    PERSIST.with(|p| *p.borrow_mut() = persist);
}

/// The conventional prefix of a namespace in locations.
fn prefix_of(ns: &str) -> Option<&'static str> {
    Some(match ns {
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
        | "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
        | "" => "",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" => "cac",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2" => "cbc",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2" => "ext",
        "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" => "rsm",
        "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" => {
            "ram"
        }
        "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100" => "udt",
        "urn:un:unece:uncefact:data:standard:QualifiedDataType:100" => "qdt",
        _ => return None,
    })
}

/// A readable XPath to a node: conventional prefixes, `[k]` only where siblings share the
/// name, e.g. `/Invoice/cac:InvoiceLine[2]/cbc:LineExtensionAmount/@currencyID`.
pub fn location(x: &XDoc<'_, '_>, n: N) -> String {
    let node = x.node(n.id);
    let mut parts = Vec::new();
    let mut cur = Some(node);
    while let Some(c) = cur {
        if !c.is_element() {
            break;
        }
        let tn = c.tag_name();
        let ns = tn.namespace().unwrap_or("");
        let prefix = match prefix_of(ns) {
            Some(p) => p.to_string(),
            None => c.lookup_prefix(ns).unwrap_or("").to_string(),
        };
        let name = if prefix.is_empty() {
            tn.name().to_string()
        } else {
            format!("{prefix}:{}", tn.name())
        };
        let same = |s: &roxmltree::Node<'_, '_>| s.is_element() && s.tag_name() == tn;
        let before = c.prev_siblings().skip(1).filter(same).count();
        let after = c.next_siblings().skip(1).filter(same).count();
        if before + after > 0 {
            parts.push(format!("{name}[{}]", before + 1));
        } else {
            parts.push(name);
        }
        cur = c.parent();
    }
    parts.reverse();
    let mut s = String::new();
    for p in parts {
        s.push('/');
        s.push_str(&p);
    }
    if n.is_attr()
        && let Some(a) = node.attributes().nth(n.attr as usize - 1)
    {
        s.push_str("/@");
        s.push_str(a.name());
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}
