//! Schematron → static tables: abstract-pattern instantiation (the ISO skeleton's
//! parameter substitution), `let`s, `xsl:function`s, rules and asserts, with every XPath
//! expression parsed into one shared arena.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::syntax::ast::{Axis, F, Ix, Test, Ty, X};
use crate::syntax::parse::{Builder, Env, parse, xs_type};

const XS: &str = "http://www.w3.org/2001/XMLSchema";
const SCH: &str = "http://purl.oclc.org/dsdl/schematron";
const XSL: &str = "http://www.w3.org/1999/XSL/Transform";

/// The namespaces the EN 16931 UBL validation wrapper declares.
const UBL_NS: &[(&str, &str)] = &[
    ("ext", "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"),
    ("cbc", "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"),
    ("cac", "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"),
    ("qdt", "urn:oasis:names:specification:ubl:schema:xsd:QualifiedDataTypes-2"),
    ("udt", "urn:oasis:names:specification:ubl:schema:xsd:UnqualifiedDataTypes-2"),
    ("cn", "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"),
    ("ubl", "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"),
    ("xs", XS),
];

/// The namespaces the EN 16931 CII validation wrapper declares.
const CII_NS: &[(&str, &str)] = &[
    ("rsm", "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"),
    ("ccts", "urn:un:unece:uncefact:documentation:standard:CoreComponentsTechnicalSpecification:2"),
    ("udt", "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"),
    ("qdt", "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"),
    ("ram", "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"),
    ("xs", XS),
];

enum Part {
    /// An abstract pattern file instantiated by a binding file (`is-a`).
    Abstract(&'static str, &'static str),
    /// A file whose root is one concrete pattern.
    Pattern(&'static str),
    /// A complete `<schema>` file.
    Schema(&'static str),
}

struct Spec {
    name: &'static str,
    ns: &'static [(&'static str, &'static str)],
    parts: Vec<Part>,
}

fn specs() -> Vec<Spec> {
    vec![
        Spec {
            name: "en16931-ubl",
            ns: UBL_NS,
            parts: vec![
                Part::Abstract("en16931/EN16931-model.sch", "en16931/EN16931-UBL-model.sch"),
                Part::Abstract("en16931/EN16931-syntax.sch", "en16931/EN16931-UBL-syntax.sch"),
                Part::Pattern("en16931/EN16931-UBL-codes.sch"),
            ],
        },
        Spec {
            name: "en16931-cii",
            ns: CII_NS,
            parts: vec![
                Part::Abstract("en16931/EN16931-CII-abstract-model.sch", "en16931/EN16931-CII-model.sch"),
                Part::Pattern("en16931/EN16931-CII-codes.sch"),
            ],
        },
        Spec {
            name: "peppol-ubl",
            ns: &[],
            parts: vec![Part::Schema("peppol/PEPPOL-EN16931-UBL.sch")],
        },
        Spec {
            name: "cn-einvoice",
            ns: &[],
            parts: vec![Part::Schema("cn/CN-EInvoice.sch")],
        },
    ]
}

// ---------------------------------------------------------------------------------------
// Source model (after abstract-pattern expansion)

struct SrcAssert {
    id: String,
    flag: String,
    test: String,
    message: String,
    report: bool,
}

struct SrcRule {
    context: String,
    lets: Vec<(String, String)>,
    asserts: Vec<SrcAssert>,
}

struct SrcPattern {
    id: String,
    lets: Vec<(String, String)>,
    rules: Vec<SrcRule>,
}

enum Instr {
    Var { name: String, select: Option<String>, text: String, as_ty: Option<Ty>, body: Vec<Instr> },
    ValueOf(String),
    Sequence(String),
    Choose(Vec<(Option<String>, Vec<Instr>)>),
}

struct SrcFunc {
    name: String,
    params: Vec<(String, Option<Ty>)>,
    ret: Option<Ty>,
    body: Vec<Instr>,
}

#[derive(Default)]
struct SrcSchema {
    ns: Vec<(String, String)>,
    lets: Vec<(String, String)>,
    funcs: Vec<SrcFunc>,
    patterns: Vec<SrcPattern>,
    dropped: Vec<String>,
}

fn read(rules: &Path, file: &str) -> Result<String, String> {
    std::fs::read_to_string(rules.join(file)).map_err(|e| format!("{file}: {e}"))
}

fn sch_children<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(SCH))
}

fn attr(n: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    n.attribute(name).map(|s| s.to_string())
}

fn message_text(n: roxmltree::Node<'_, '_>) -> String {
    let mut s = String::new();
    for d in n.descendants() {
        if d.is_text() {
            s.push_str(d.text().unwrap_or(""));
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The ISO skeleton's `iae:multi-macro-expand`: each parameter, in binding order, replaces
/// every `$name` in the text (later parameters also see earlier substitutions).
fn expand(text: &str, params: &[(String, String)]) -> String {
    let mut t = text.to_string();
    for (name, value) in params {
        let pat = format!("${name}");
        if t.contains(&pat) {
            t = t.replace(&pat, value);
        }
    }
    t
}

fn load_pattern(node: roxmltree::Node<'_, '_>, params: &[(String, String)], dropped: &mut Vec<String>) -> SrcPattern {
    let mut pat = SrcPattern {
        id: attr(node, "id").unwrap_or_default(),
        lets: Vec::new(),
        rules: Vec::new(),
    };
    for child in node.children().filter(|c| c.is_element()) {
        match child.tag_name().name() {
            "let" => pat.lets.push((
                attr(child, "name").unwrap_or_default(),
                expand(&attr(child, "value").unwrap_or_default(), params),
            )),
            "rule" => {
                let context = expand(attr(child, "context").unwrap_or_default().trim(), params);
                let rule_flag = attr(child, "flag");
                let mut rule = SrcRule {
                    context,
                    lets: Vec::new(),
                    asserts: Vec::new(),
                };
                for item in child.children().filter(|c| c.is_element()) {
                    match item.tag_name().name() {
                        "let" => rule.lets.push((
                            attr(item, "name").unwrap_or_default(),
                            expand(&attr(item, "value").unwrap_or_default(), params),
                        )),
                        kind @ ("assert" | "report") => {
                            let id = attr(item, "id").unwrap_or_default();
                            let test = expand(&attr(item, "test").unwrap_or_default(), params);
                            if !params.is_empty() && has_unbound_param(&test, params) {
                                dropped.push(format!("{id} (no binding for `{}`)", test.trim()));
                                continue;
                            }
                            rule.asserts.push(SrcAssert {
                                id,
                                flag: attr(item, "flag").or(rule_flag.clone()).unwrap_or_else(|| "fatal".into()),
                                test,
                                message: message_text(item),
                                report: kind == "report",
                            });
                        }
                        _ => {}
                    }
                }
                pat.rules.push(rule);
            }
            _ => {}
        }
    }
    pat
}

/// Whether an expanded test still refers to a rule parameter (`$BR-…`) that the binding
/// does not define.
fn has_unbound_param(test: &str, _params: &[(String, String)]) -> bool {
    let t = test.trim();
    t.starts_with("$BR-") || t.starts_with("$UBL-") || t.starts_with("$CII-")
}

fn parse_type(s: &str) -> Option<Ty> {
    let s = s.trim_end_matches(['?', '*', '+']);
    xs_type(s)
}

fn load_instrs(n: roxmltree::Node<'_, '_>) -> Vec<Instr> {
    let mut out = Vec::new();
    for c in n.children().filter(|c| c.is_element() && c.tag_name().namespace() == Some(XSL)) {
        match c.tag_name().name() {
            "variable" => out.push(Instr::Var {
                name: attr(c, "name").unwrap_or_default(),
                select: attr(c, "select"),
                text: c.children().filter(|t| t.is_text()).map(|t| t.text().unwrap_or("")).collect::<String>(),
                as_ty: attr(c, "as").and_then(|s| parse_type(&s)),
                body: load_instrs(c),
            }),
            "value-of" => out.push(Instr::ValueOf(attr(c, "select").unwrap_or_default())),
            "sequence" => out.push(Instr::Sequence(attr(c, "select").unwrap_or_default())),
            "choose" => {
                let mut branches = Vec::new();
                for b in c.children().filter(|b| b.is_element()) {
                    match b.tag_name().name() {
                        "when" => branches.push((attr(b, "test"), load_instrs(b))),
                        "otherwise" => branches.push((None, load_instrs(b))),
                        _ => {}
                    }
                }
                out.push(Instr::Choose(branches));
            }
            _ => {}
        }
    }
    out
}

fn load_schema(rules: &Path, spec: &Spec) -> Result<SrcSchema, String> {
    let mut s = SrcSchema {
        ns: spec.ns.iter().map(|(p, u)| (p.to_string(), u.to_string())).collect(),
        ..SrcSchema::default()
    };
    for part in &spec.parts {
        match part {
            Part::Abstract(abs, binding) => {
                let abs_text = read(rules, abs)?;
                let bind_text = read(rules, binding)?;
                let abs_doc = roxmltree::Document::parse(&abs_text).map_err(|e| format!("{abs}: {e}"))?;
                let bind_doc = roxmltree::Document::parse(&bind_text).map_err(|e| format!("{binding}: {e}"))?;
                let bind = bind_doc.root_element();
                let params: Vec<(String, String)> = sch_children(bind, "param")
                    .map(|p| (attr(p, "name").unwrap_or_default(), attr(p, "value").unwrap_or_default()))
                    .collect();
                let mut pat = load_pattern(abs_doc.root_element(), &params, &mut s.dropped);
                pat.id = attr(bind, "id").unwrap_or(pat.id);
                s.patterns.push(pat);
            }
            Part::Pattern(file) => {
                let text = read(rules, file)?;
                let doc = roxmltree::Document::parse(&text).map_err(|e| format!("{file}: {e}"))?;
                s.patterns.push(load_pattern(doc.root_element(), &[], &mut s.dropped));
            }
            Part::Schema(file) => {
                let text = read(rules, file)?;
                let doc = roxmltree::Document::parse(&text).map_err(|e| format!("{file}: {e}"))?;
                let root = doc.root_element();
                for c in root.children().filter(|c| c.is_element()) {
                    let xsl = c.tag_name().namespace() == Some(XSL);
                    match (xsl, c.tag_name().name()) {
                        (false, "ns") => s.ns.push((attr(c, "prefix").unwrap_or_default(), attr(c, "uri").unwrap_or_default())),
                        (false, "let") => s.lets.push((attr(c, "name").unwrap_or_default(), attr(c, "value").unwrap_or_default())),
                        (false, "pattern") => s.patterns.push(load_pattern(c, &[], &mut s.dropped)),
                        (true, "function") => {
                            let params = c
                                .children()
                                .filter(|p| p.is_element() && p.tag_name().name() == "param")
                                .map(|p| (attr(p, "name").unwrap_or_default(), attr(p, "as").and_then(|t| parse_type(&t))))
                                .collect();
                            s.funcs.push(SrcFunc {
                                name: attr(c, "name").unwrap_or_default(),
                                params,
                                ret: attr(c, "as").and_then(|t| parse_type(&t)),
                                body: load_instrs(c),
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    if !s.ns.iter().any(|(p, _)| p == "xs") {
        s.ns.push(("xs".into(), XS.into()));
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------
// Compilation

struct CEnv<'a> {
    ns: &'a [(String, String)],
    globals: &'a HashMap<String, u16>,
    funcs: &'a HashMap<(String, usize), u16>,
    /// Innermost last.
    vars: Vec<(String, X)>,
}

impl Env for CEnv<'_> {
    fn ns(&self, prefix: &str) -> Option<String> {
        self.ns.iter().rev().find(|(p, _)| p == prefix).map(|(_, u)| u.clone())
    }
    fn var(&self, name: &str) -> Option<X> {
        if let Some((_, x)) = self.vars.iter().rev().find(|(n, _)| n == name) {
            return Some(*x);
        }
        self.globals.get(name).map(|&i| X::VarG(i))
    }
    fn func(&self, name: &str, arity: usize) -> Option<u16> {
        self.funcs.get(&(name.to_string(), arity)).copied()
    }
}

struct OutRule {
    context: Ix,
    lets: Vec<Ix>,
    asserts: Vec<(String, String, Ix, String, bool)>,
    slots: u16,
    keys: Vec<Key>,
}

struct OutPattern {
    id: String,
    rules: Vec<OutRule>,
}

struct OutFunc {
    name: String,
    params: Vec<Option<Ty>>,
    ret: Option<Ty>,
    body: Ix,
    slots: u16,
}

struct OutSchema {
    name: String,
    globals: Vec<(String, Ix)>,
    patterns: Vec<OutPattern>,
    dropped: Vec<String>,
}

/// What a rule context can match: used to pick candidate rules per node quickly.
#[derive(Clone, Copy, PartialEq)]
enum Key {
    Elem(u32),
    AnyElem,
    Attr(u32),
    AnyAttr,
    Doc,
    Any,
}

fn keys(b: &Builder, ix: Ix, out: &mut Vec<Key>) {
    match b.nodes[ix as usize] {
        X::Union(l, r) => {
            keys(b, l, out);
            keys(b, r, out);
        }
        X::Path(_, r) => keys(b, r, out),
        X::Filter(e, _, _) => keys(b, e, out),
        X::Root => out.push(Key::Doc),
        X::Step(Axis::Child, Test::Name(n), _, _) => out.push(Key::Elem(n)),
        X::Step(Axis::Child, Test::AnyName | Test::NsAny(_) | Test::LocalAny(_), _, _) => out.push(Key::AnyElem),
        X::Step(Axis::Attribute, Test::Name(n), _, _) => out.push(Key::Attr(n)),
        X::Step(Axis::Attribute, _, _, _) => out.push(Key::AnyAttr),
        _ => out.push(Key::Any),
    }
}

fn compile_instrs(
    b: &mut Builder,
    env: &mut CEnv<'_>,
    instrs: &[Instr],
    next: &mut u16,
    max: &mut u16,
) -> Result<Ix, String> {
    let Some((first, rest)) = instrs.split_first() else {
        return Ok(b.push(X::Empty));
    };
    match first {
        Instr::Var { name, select, text, as_ty, body } => {
            let slot = *next;
            *next += 1;
            *max = (*max).max(*next);
            let mut val = if let Some(sel) = select {
                let p = parse(b, env, sel, *next)?;
                *max = (*max).max(p.slots);
                p.root
            } else if !body.is_empty() {
                compile_instrs(b, env, body, next, max)?
            } else {
                let i = b.str(text);
                b.push(X::Str(i))
            };
            if let Some(ty) = as_ty {
                val = b.push(X::Cast(val, *ty, false));
            }
            env.vars.push((name.clone(), X::VarL(slot)));
            let rest_ix = compile_instrs(b, env, rest, next, max)?;
            env.vars.pop();
            Ok(b.push(X::Let(slot, val, rest_ix)))
        }
        Instr::ValueOf(sel) | Instr::Sequence(sel) => {
            let p = parse(b, env, sel, *next)?;
            *max = (*max).max(p.slots);
            let e = if matches!(first, Instr::ValueOf(_)) {
                b.push(X::ValueOf(p.root))
            } else {
                p.root
            };
            if rest.is_empty() {
                Ok(e)
            } else {
                let r = compile_instrs(b, env, rest, next, max)?;
                let (s, l) = b.list(&[e, r]);
                Ok(b.push(X::Seq(s, l)))
            }
        }
        Instr::Choose(branches) => {
            let mut acc = b.push(X::Empty);
            for (test, body) in branches.iter().rev() {
                let body_ix = compile_instrs(b, env, body, next, max)?;
                acc = match test {
                    None => body_ix,
                    Some(t) => {
                        let p = parse(b, env, t, *next)?;
                        *max = (*max).max(p.slots);
                        b.push(X::If(p.root, body_ix, acc))
                    }
                };
            }
            if rest.is_empty() {
                Ok(acc)
            } else {
                let r = compile_instrs(b, env, rest, next, max)?;
                let (s, l) = b.list(&[acc, r]);
                Ok(b.push(X::Seq(s, l)))
            }
        }
    }
}

fn compile_schema(b: &mut Builder, funcs_out: &mut Vec<OutFunc>, name: &str, s: &SrcSchema) -> Result<OutSchema, String> {
    let mut globals = HashMap::new();
    let mut global_src = Vec::new();
    for (n, v) in s.lets.iter().chain(s.patterns.iter().flat_map(|p| p.lets.iter())) {
        globals.insert(n.clone(), global_src.len() as u16);
        global_src.push((n.clone(), v.clone()));
    }
    let mut funcs = HashMap::new();
    for f in &s.funcs {
        funcs.insert((f.name.clone(), f.params.len()), (funcs_out.len() + funcs.len()) as u16);
    }
    // functions
    for f in &s.funcs {
        let mut env = CEnv {
            ns: &s.ns,
            globals: &globals,
            funcs: &funcs,
            vars: Vec::new(),
        };
        for (i, (pn, _)) in f.params.iter().enumerate() {
            env.vars.push((pn.clone(), X::VarL(i as u16)));
        }
        let mut next = f.params.len() as u16;
        let mut max = next;
        let body = compile_instrs(b, &mut env, &f.body, &mut next, &mut max)
            .map_err(|e| format!("{name}: function {}: {e}", f.name))?;
        funcs_out.push(OutFunc {
            name: f.name.clone(),
            params: f.params.iter().map(|(_, t)| *t).collect(),
            ret: f.ret,
            body,
            slots: max,
        });
    }
    // globals
    let mut gl = Vec::new();
    for (n, v) in &global_src {
        let env = CEnv {
            ns: &s.ns,
            globals: &globals,
            funcs: &funcs,
            vars: Vec::new(),
        };
        let p = parse(b, &env, v, 0).map_err(|e| format!("{name}: let {n}: {e}"))?;
        gl.push((n.clone(), p.root));
    }
    // patterns
    let mut patterns = Vec::new();
    for pat in &s.patterns {
        let mut rules = Vec::new();
        for r in &pat.rules {
            let mut env = CEnv {
                ns: &s.ns,
                globals: &globals,
                funcs: &funcs,
                vars: Vec::new(),
            };
            let ctx = parse(b, &env, &r.context, 0).map_err(|e| format!("{name}: context `{}`: {e}", r.context))?;
            let mut slots = ctx.slots;
            let mut lets = Vec::new();
            for (i, (ln, lv)) in r.lets.iter().enumerate() {
                let p = parse(b, &env, lv, 0).map_err(|e| format!("{name}: let {ln}: {e}"))?;
                slots = slots.max(p.slots);
                lets.push(p.root);
                env.vars.push((ln.clone(), X::VarR(i as u16)));
            }
            let mut asserts = Vec::new();
            for a in &r.asserts {
                let p = parse(b, &env, &a.test, 0).map_err(|e| format!("{name}: {}: {e}", a.id))?;
                slots = slots.max(p.slots);
                asserts.push((a.id.clone(), a.flag.clone(), p.root, a.message.clone(), a.report));
            }
            let mut ks = Vec::new();
            keys(b, ctx.root, &mut ks);
            rules.push(OutRule {
                context: ctx.root,
                lets,
                asserts,
                slots,
                keys: ks,
            });
        }
        patterns.push(OutPattern {
            id: pat.id.clone(),
            rules,
        });
    }
    Ok(OutSchema {
        name: name.to_string(),
        globals: gl,
        patterns,
        dropped: s.dropped.clone(),
    })
}

// ---------------------------------------------------------------------------------------
// Emission

fn ty(t: Option<Ty>) -> String {
    match t {
        Some(t) => format!("Some(Ty::{t:?})"),
        None => "None".into(),
    }
}

fn emit_x(x: &X) -> String {
    match *x {
        X::Str(i) => format!("X::Str({i})"),
        X::Int(i) => format!("X::Int({i})"),
        X::Dec(m, s) => format!("X::Dec({m},{s})"),
        X::VarG(i) => format!("X::VarG({i})"),
        X::VarR(i) => format!("X::VarR({i})"),
        X::VarL(i) => format!("X::VarL({i})"),
        X::Dot => "X::Dot".into(),
        X::Root => "X::Root".into(),
        X::Empty => "X::Empty".into(),
        X::Seq(s, l) => format!("X::Seq({s},{l})"),
        X::Or(a, b) => format!("X::Or({a},{b})"),
        X::And(a, b) => format!("X::And({a},{b})"),
        X::GCmp(c, a, b) => format!("X::GCmp(Cmp::{c:?},{a},{b})"),
        X::VCmp(c, a, b) => format!("X::VCmp(Cmp::{c:?},{a},{b})"),
        X::Bin(o, a, b) => format!("X::Bin(Arith::{o:?},{a},{b})"),
        X::Neg(a) => format!("X::Neg({a})"),
        X::Range(a, b) => format!("X::Range({a},{b})"),
        X::Union(a, b) => format!("X::Union({a},{b})"),
        X::Except(a, b) => format!("X::Except({a},{b})"),
        X::Intersect(a, b) => format!("X::Intersect({a},{b})"),
        X::Path(a, b) => format!("X::Path({a},{b})"),
        X::Step(ax, t, s, l) => {
            let t = match t {
                Test::Name(n) => format!("Test::Name({n})"),
                Test::NsAny(n) => format!("Test::NsAny({n})"),
                Test::LocalAny(n) => format!("Test::LocalAny({n})"),
                other => format!("Test::{other:?}"),
            };
            format!("X::Step(Axis::{ax:?},{t},{s},{l})")
        }
        X::Filter(e, s, l) => format!("X::Filter({e},{s},{l})"),
        X::Call(f, s, l) => format!("X::Call(F::{f:?},{s},{l})"),
        X::UCall(f, s, l) => format!("X::UCall({f},{s},{l})"),
        X::If(a, b, c) => format!("X::If({a},{b},{c})"),
        X::Some(v, a, b) => format!("X::Some({v},{a},{b})"),
        X::Every(v, a, b) => format!("X::Every({v},{a},{b})"),
        X::For(v, a, b) => format!("X::For({v},{a},{b})"),
        X::Let(v, a, b) => format!("X::Let({v},{a},{b})"),
        X::Cast(a, t, o) => format!("X::Cast({a},Ty::{t:?},{o})"),
        X::Castable(a, t, o) => format!("X::Castable({a},Ty::{t:?},{o})"),
        X::InstanceOf(a, t, o) => format!("X::InstanceOf({a},Ty::{t:?},{o})"),
        X::ValueOf(a) => format!("X::ValueOf({a})"),
    }
}

/// Whether the expression reads the focus position (`position()`, `last()`) of its own
/// context (not of nested predicates or path steps, which have their own focus).
fn uses_position(b: &Builder, ix: Ix) -> bool {
    let l = |s: u32, n: u32| b.lists[s as usize..(s + n) as usize].to_vec();
    match b.nodes[ix as usize] {
        X::Call(F::Position | F::Last, _, _) => true,
        X::Call(_, s, n) | X::UCall(_, s, n) | X::Seq(s, n) => l(s, n).iter().any(|&c| uses_position(b, c)),
        X::Or(a, c)
        | X::And(a, c)
        | X::GCmp(_, a, c)
        | X::VCmp(_, a, c)
        | X::Bin(_, a, c)
        | X::Range(a, c)
        | X::Union(a, c)
        | X::Except(a, c)
        | X::Intersect(a, c) => uses_position(b, a) || uses_position(b, c),
        X::Path(a, _) | X::Filter(a, _, _) => uses_position(b, a),
        X::Neg(a) | X::Cast(a, _, _) | X::Castable(a, _, _) | X::InstanceOf(a, _, _) | X::ValueOf(a) => uses_position(b, a),
        X::If(a, c, d) => uses_position(b, a) || uses_position(b, c) || uses_position(b, d),
        X::Some(_, a, c) | X::Every(_, a, c) | X::For(_, a, c) | X::Let(_, a, c) => uses_position(b, a) || uses_position(b, c),
        _ => false,
    }
}

/// Whether `ix`, used as a predicate, can never be a numeric (positional) predicate and
/// does not read the position: it can then be tested node by node without positions.
fn position_free(b: &Builder, ix: Ix) -> bool {
    let boolean_root = match b.nodes[ix as usize] {
        X::GCmp(..) | X::VCmp(..) | X::And(..) | X::Or(..) | X::Step(..) | X::Castable(..) | X::InstanceOf(..) | X::Some(..) | X::Every(..) => true,
        X::Path(_, r) => matches!(b.nodes[r as usize], X::Step(..)),
        X::Union(..) => true,
        X::Call(f, _, _) => matches!(
            f,
            F::Not | F::Exists | F::Empty | F::Boolean | F::Contains | F::StartsWith | F::EndsWith | F::Matches | F::True | F::False
        ),
        _ => false,
    };
    boolean_root && !uses_position(b, ix)
}

fn flag(f: &str) -> &'static str {
    match f {
        "warning" => "Flag::Warning",
        "information" | "info" => "Flag::Information",
        _ => "Flag::Fatal",
    }
}

/// Compiles every rule set and returns the generated Rust source.
pub fn compile_all(rules: &Path) -> Result<String, String> {
    let mut b = Builder::default();
    let mut funcs = Vec::new();
    let mut schemas = Vec::new();
    for spec in specs() {
        let src = load_schema(rules, &spec)?;
        schemas.push(compile_schema(&mut b, &mut funcs, spec.name, &src)?);
    }

    let mut o = String::new();
    o.push_str("// @generated by build/schematron.rs from the files under rules/. Do not edit.\n");
    let _ = writeln!(o, "pub static NODES: [X; {}] = [", b.nodes.len());
    for x in &b.nodes {
        let _ = writeln!(o, "{},", emit_x(x));
    }
    o.push_str("];\n");
    let flags: Vec<u8> = (0..b.nodes.len() as u32).map(|i| position_free(&b, i) as u8).collect();
    let _ = writeln!(o, "pub static FLAGS: [u8; {}] = {:?};", flags.len(), flags);
    let _ = writeln!(o, "pub static LISTS: [u32; {}] = {:?};", b.lists.len(), b.lists);
    let _ = writeln!(o, "pub static STRS: [&str; {}] = [", b.strs.len());
    for s in &b.strs {
        let _ = writeln!(o, "{s:?},");
    }
    o.push_str("];\n");
    let _ = writeln!(o, "pub static NAMES: [(&str, &str); {}] = [", b.names.len());
    for (ns, l) in &b.names {
        let _ = writeln!(o, "({ns:?}, {l:?}),");
    }
    o.push_str("];\n");
    let mut sorted: Vec<(usize, &(String, String))> = b.names.iter().enumerate().collect();
    sorted.sort_by(|a, b| (&a.1.1, &a.1.0).cmp(&(&b.1.1, &b.1.0)));
    let _ = writeln!(o, "pub static NAME_LOOKUP: [(&str, &str, u32); {}] = [", sorted.len());
    for (i, (ns, l)) in &sorted {
        let _ = writeln!(o, "({l:?}, {ns:?}, {i}),");
    }
    o.push_str("];\n");
    let _ = writeln!(o, "pub static FUNCS: [Func; {}] = [", funcs.len());
    for f in &funcs {
        let params: Vec<String> = f.params.iter().map(|t| ty(*t)).collect();
        let _ = writeln!(
            o,
            "Func {{ name: {:?}, params: &[{}], ret: {}, body: {}, slots: {} }},",
            f.name,
            params.join(", "),
            ty(f.ret),
            f.body,
            f.slots
        );
    }
    o.push_str("];\n");
    let _ = writeln!(o, "pub static SCHEMAS: [Schema; {}] = [", schemas.len());
    for s in &schemas {
        let _ = writeln!(o, "Schema {{ name: {:?},", s.name);
        let gn: Vec<String> = s.globals.iter().map(|(n, _)| format!("{n:?}")).collect();
        let gi: Vec<String> = s.globals.iter().map(|(_, i)| i.to_string()).collect();
        let _ = writeln!(o, "  global_names: &[{}],", gn.join(", "));
        let _ = writeln!(o, "  globals: &[{}],", gi.join(", "));
        let _ = writeln!(o, "  dropped: &{:?},", s.dropped);
        o.push_str("  patterns: &[\n");
        for p in &s.patterns {
            let _ = writeln!(o, "  Pattern {{ id: {:?}, rules: &[", p.id);
            let mut by_name: Vec<(u32, u16)> = Vec::new();
            let mut any_elem = Vec::new();
            let mut by_attr: Vec<(u32, u16)> = Vec::new();
            let mut any_attr = Vec::new();
            let mut doc = Vec::new();
            for (ri, r) in p.rules.iter().enumerate() {
                let ri = ri as u16;
                for k in &r.keys {
                    match *k {
                        Key::Elem(n) => by_name.push((n, ri)),
                        Key::AnyElem => any_elem.push(ri),
                        Key::Attr(n) => by_attr.push((n, ri)),
                        Key::AnyAttr => any_attr.push(ri),
                        Key::Doc => doc.push(ri),
                        Key::Any => {
                            any_elem.push(ri);
                            any_attr.push(ri);
                            doc.push(ri);
                        }
                    }
                }
                let lets: Vec<String> = r.lets.iter().map(|i| i.to_string()).collect();
                let _ = writeln!(o, "    Rule {{ context: {}, slots: {}, lets: &[{}], asserts: &[", r.context, r.slots, lets.join(","));
                for (id, fl, test, msg, report) in &r.asserts {
                    let _ = writeln!(
                        o,
                        "      Assert {{ id: {id:?}, flag: {}, test: {test}, message: {msg:?}, report: {report} }},",
                        flag(fl)
                    );
                }
                o.push_str("    ] },\n");
            }
            by_name.sort();
            by_name.dedup();
            by_attr.sort();
            by_attr.dedup();
            any_elem.dedup();
            any_attr.dedup();
            doc.dedup();
            let _ = writeln!(
                o,
                "  ], by_name: &{by_name:?}, any_elem: &{any_elem:?}, by_attr: &{by_attr:?}, any_attr: &{any_attr:?}, doc: &{doc:?} }},"
            );
        }
        o.push_str("  ] },\n");
    }
    o.push_str("];\n");
    Ok(o)
}
