//! Runs compiled Schematron rule sets the way the ISO skeleton's XSLT does: for each
//! pattern, every node of the document (elements, then their attributes, in document
//! order) is matched against the pattern's rules in order; the first rule whose context
//! matches fires, and each of its asserts that fails (each report that succeeds) is a
//! finding at that node.

use crate::xpath::eval::Ctx;
use crate::xpath::syntax::ast::{Axis, Ix, Test, X};
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
    use super::{Assert, Flag, Func, Pattern, Rule, Schema};
    use crate::xpath::syntax::ast::{Arith, Axis, Cmp, F, Test, Ty, X};
    include!(concat!(env!("OUT_DIR"), "/rules.rs"));
}

/// The compiled expressions of all rule sets.
pub static PROGRAM: Program = Program {
    nodes: &generated::NODES,
    lists: &generated::LISTS,
    strs: &generated::STRS,
    names: &generated::NAMES,
    name_lookup: &generated::NAME_LOOKUP,
    funcs: &generated::FUNCS,
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
                if !self.ev.ebv(p, &Ctx::node(n))? {
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

    fn filter(&mut self, items: Vec<Item<'a>>, preds: &'static [u32]) -> XResult<Vec<Item<'a>>> {
        let mut items = items;
        for &p in preds {
            let size = items.len();
            let mut out = Vec::new();
            for (i, it) in items.into_iter().enumerate() {
                let c = Ctx { item: it, pos: i + 1, size };
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
                    Axis::Child => !n.is_attr() && !self.x.is_doc(n) && self.x.test(n, Axis::Child, test),
                    Axis::Attribute => n.is_attr() && self.x.test(n, Axis::Attribute, test),
                    Axis::SelfAxis | Axis::DescendantOrSelf => self.x.test(n, axis, test),
                    _ => return self.fallback(ix, n),
                };
                Ok(ok && self.preds_ok(n, axis, test, s, l)?)
            }
            X::Path(l, r) => {
                if !matches!(self.node(r), X::Step(Axis::Child | Axis::Attribute, ..)) {
                    return self.fallback(ix, n);
                }
                if !self.matches(r, n)? {
                    return Ok(false);
                }
                let Some(parent) = self.x.parent(n) else {
                    return Ok(false);
                };
                if let X::Path(ll, dos) = self.node(l) {
                    if matches!(self.node(dos), X::Step(Axis::DescendantOrSelf, Test::AnyNode, _, 0)) {
                        let mut cur = Some(parent);
                        while let Some(a) = cur {
                            if self.matches(ll, a)? {
                                return Ok(true);
                            }
                            cur = self.x.parent(a);
                        }
                        return Ok(false);
                    }
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

    /// General pattern semantics: evaluate from the root and look for the node.
    fn fallback(&mut self, ix: Ix, n: N) -> XResult<bool> {
        let v = self.ev.eval(ix, &Ctx::node(self.x.root()))?;
        Ok(v.iter().any(|i| matches!(i, Item::N(m) if *m == n)))
    }

    fn fire(&mut self, pattern: &'static Pattern, candidates: &mut dyn Iterator<Item = u16>, n: N, out: &mut Vec<Finding>) {
        for ri in candidates {
            let rule = &pattern.rules[ri as usize];
            if !self.matches(rule.context, n).unwrap_or(false) {
                continue;
            }
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
            return;
        }
    }
}

/// Merges two ascending rule index lists.
fn merge(a: &[u16], b: &[u16]) -> Vec<u16> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j >= b.len() || (i < a.len() && a[i] <= b[j]);
        let v = if take_a {
            i += 1;
            a[i - 1]
        } else {
            j += 1;
            b[j - 1]
        };
        if out.last() != Some(&v) {
            out.push(v);
        }
    }
    out
}

fn lookup(table: &[(u32, u16)], name: u32) -> Vec<u16> {
    let start = table.partition_point(|&(n, _)| n < name);
    table[start..].iter().take_while(|&&(n, _)| n == name).map(|&(_, r)| r).collect()
}

/// Runs `schema` over the document and appends its findings to `out`.
pub fn run<'a, 'i>(x: &'a XDoc<'a, 'i>, schema: &'static Schema, out: &mut Vec<Finding>) {
    let mut ev = Eval::new(x, &generated::FLAGS, schema.globals);
    let mut r = Runner { ev: &mut ev, x };
    for pattern in schema.patterns {
        let root = x.root();
        if !pattern.doc.is_empty() {
            r.fire(pattern, &mut pattern.doc.iter().copied(), root, out);
        }
        let has_attr_rules = !pattern.by_attr.is_empty() || !pattern.any_attr.is_empty();
        for node in x.doc.descendants() {
            if !node.is_element() {
                continue;
            }
            let n = x.handle(node);
            let tn = node.tag_name();
            let by_name = match PROGRAM.name_id(tn.namespace().unwrap_or(""), tn.name()) {
                Some(id) if !pattern.by_name.is_empty() => lookup(pattern.by_name, id),
                _ => Vec::new(),
            };
            if !by_name.is_empty() || !pattern.any_elem.is_empty() {
                let cands = merge(&by_name, pattern.any_elem);
                r.fire(pattern, &mut cands.into_iter(), n, out);
            }
            if has_attr_rules {
                for (k, a) in node.attributes().enumerate() {
                    let by_attr = match PROGRAM.name_id(a.namespace().unwrap_or(""), a.name()) {
                        Some(id) => lookup(pattern.by_attr, id),
                        None => Vec::new(),
                    };
                    if by_attr.is_empty() && pattern.any_attr.is_empty() {
                        continue;
                    }
                    let cands = merge(&by_attr, pattern.any_attr);
                    let an = N {
                        id: n.id,
                        attr: k as u32 + 1,
                    };
                    r.fire(pattern, &mut cands.into_iter(), an, out);
                }
            }
        }
    }
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
        "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" => "ram",
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
        let name = if prefix.is_empty() { tn.name().to_string() } else { format!("{prefix}:{}", tn.name()) };
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
    if n.is_attr() {
        if let Some(a) = node.attributes().nth(n.attr as usize - 1) {
            s.push_str("/@");
            s.push_str(a.name());
        }
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}
