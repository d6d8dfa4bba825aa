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
    (
        "ext",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2",
    ),
    (
        "cbc",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    ),
    (
        "cac",
        "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    ),
    (
        "qdt",
        "urn:oasis:names:specification:ubl:schema:xsd:QualifiedDataTypes-2",
    ),
    (
        "udt",
        "urn:oasis:names:specification:ubl:schema:xsd:UnqualifiedDataTypes-2",
    ),
    (
        "cn",
        "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    ),
    (
        "ubl",
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    ),
    ("xs", XS),
];

/// The namespaces the EN 16931 CII validation wrapper declares.
const CII_NS: &[(&str, &str)] = &[
    (
        "rsm",
        "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    ),
    (
        "ccts",
        "urn:un:unece:uncefact:documentation:standard:CoreComponentsTechnicalSpecification:2",
    ),
    (
        "udt",
        "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    ),
    (
        "qdt",
        "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    ),
    (
        "ram",
        "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    ),
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
                Part::Abstract(
                    "en16931/EN16931-syntax.sch",
                    "en16931/EN16931-UBL-syntax.sch",
                ),
                Part::Pattern("en16931/EN16931-UBL-codes.sch"),
            ],
        },
        Spec {
            name: "en16931-cii",
            ns: CII_NS,
            parts: vec![
                Part::Abstract(
                    "en16931/EN16931-CII-abstract-model.sch",
                    "en16931/EN16931-CII-model.sch",
                ),
                Part::Abstract(
                    "en16931/EN16931-CII-syntax-abstract.sch",
                    "en16931/EN16931-CII-syntax.sch",
                ),
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
    Var {
        name: String,
        select: Option<String>,
        text: String,
        as_ty: Option<Ty>,
        body: Vec<Instr>,
    },
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

fn sch_children<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    n.children().filter(move |c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(SCH)
    })
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

fn load_pattern(
    node: roxmltree::Node<'_, '_>,
    params: &[(String, String)],
    dropped: &mut Vec<String>,
) -> SrcPattern {
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
                let context = expand(&attr(child, "context").unwrap_or_default(), params)
                    .trim()
                    .to_string();
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
                                flag: attr(item, "flag")
                                    .or(rule_flag.clone())
                                    .unwrap_or_else(|| "fatal".into()),
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
    for c in n
        .children()
        .filter(|c| c.is_element() && c.tag_name().namespace() == Some(XSL))
    {
        match c.tag_name().name() {
            "variable" => out.push(Instr::Var {
                name: attr(c, "name").unwrap_or_default(),
                select: attr(c, "select"),
                text: c
                    .children()
                    .filter(|t| t.is_text())
                    .map(|t| t.text().unwrap_or(""))
                    .collect::<String>(),
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
        ns: spec
            .ns
            .iter()
            .map(|(p, u)| (p.to_string(), u.to_string()))
            .collect(),
        ..SrcSchema::default()
    };
    for part in &spec.parts {
        match part {
            Part::Abstract(abs, binding) => {
                let abs_text = read(rules, abs)?;
                let bind_text = read(rules, binding)?;
                let abs_doc =
                    roxmltree::Document::parse(&abs_text).map_err(|e| format!("{abs}: {e}"))?;
                let bind_doc = roxmltree::Document::parse(&bind_text)
                    .map_err(|e| format!("{binding}: {e}"))?;
                let bind = bind_doc.root_element();
                let mut params: Vec<(String, String)> = sch_children(bind, "param")
                    .map(|p| {
                        (
                            attr(p, "name").unwrap_or_default(),
                            attr(p, "value").unwrap_or_default(),
                        )
                    })
                    .collect();
                // A parameter bound twice (the CII syntax binding has two `CII-SR-282`)
                // takes its last value, as in the official XSLT generated from these files.
                let mut seen = std::collections::HashSet::new();
                params.reverse();
                params.retain(|(name, _)| seen.insert(name.clone()));
                params.reverse();
                let mut pat = load_pattern(abs_doc.root_element(), &params, &mut s.dropped);
                pat.id = attr(bind, "id").unwrap_or(pat.id);
                s.patterns.push(pat);
            }
            Part::Pattern(file) => {
                let text = read(rules, file)?;
                let doc = roxmltree::Document::parse(&text).map_err(|e| format!("{file}: {e}"))?;
                s.patterns
                    .push(load_pattern(doc.root_element(), &[], &mut s.dropped));
            }
            Part::Schema(file) => {
                let text = read(rules, file)?;
                let doc = roxmltree::Document::parse(&text).map_err(|e| format!("{file}: {e}"))?;
                let root = doc.root_element();
                for c in root.children().filter(|c| c.is_element()) {
                    let xsl = c.tag_name().namespace() == Some(XSL);
                    match (xsl, c.tag_name().name()) {
                        (false, "ns") => s.ns.push((
                            attr(c, "prefix").unwrap_or_default(),
                            attr(c, "uri").unwrap_or_default(),
                        )),
                        (false, "let") => s.lets.push((
                            attr(c, "name").unwrap_or_default(),
                            attr(c, "value").unwrap_or_default(),
                        )),
                        (false, "pattern") => s.patterns.push(load_pattern(c, &[], &mut s.dropped)),
                        (true, "function") => {
                            let params = c
                                .children()
                                .filter(|p| p.is_element() && p.tag_name().name() == "param")
                                .map(|p| {
                                    (
                                        attr(p, "name").unwrap_or_default(),
                                        attr(p, "as").and_then(|t| parse_type(&t)),
                                    )
                                })
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
        self.ns
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.clone())
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
        X::Step(Axis::Child, Test::AnyName | Test::NsAny(_) | Test::LocalAny(_), _, _) => {
            out.push(Key::AnyElem)
        }
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
        Instr::Var {
            name,
            select,
            text,
            as_ty,
            body,
        } => {
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

fn compile_schema(
    b: &mut Builder,
    funcs_out: &mut Vec<OutFunc>,
    name: &str,
    s: &SrcSchema,
) -> Result<OutSchema, String> {
    let mut globals = HashMap::new();
    let mut global_src = Vec::new();
    for (n, v) in s
        .lets
        .iter()
        .chain(s.patterns.iter().flat_map(|p| p.lets.iter()))
    {
        globals.insert(n.clone(), global_src.len() as u16);
        global_src.push((n.clone(), v.clone()));
    }
    let mut funcs = HashMap::new();
    for f in &s.funcs {
        funcs.insert(
            (f.name.clone(), f.params.len()),
            (funcs_out.len() + funcs.len()) as u16,
        );
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
            let ctx = parse(b, &env, &r.context, 0)
                .map_err(|e| format!("{name}: context `{}`: {e}", r.context))?;
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
                asserts.push((
                    a.id.clone(),
                    a.flag.clone(),
                    p.root,
                    a.message.clone(),
                    a.report,
                ));
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
        X::InSet(t, set, a) => format!("X::InSet({t},{set},{a})"),
    }
}

/// Whether the expression reads the focus position (`position()`, `last()`) of its own
/// context (not of nested predicates or path steps, which have their own focus).
fn uses_position(b: &Builder, ix: Ix) -> bool {
    let l = |s: u32, n: u32| b.lists[s as usize..(s + n) as usize].to_vec();
    match b.nodes[ix as usize] {
        X::Call(F::Position | F::Last, _, _) => true,
        X::Call(_, s, n) | X::UCall(_, s, n) | X::Seq(s, n) => {
            l(s, n).iter().any(|&c| uses_position(b, c))
        }
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
        X::Neg(a)
        | X::Cast(a, _, _)
        | X::Castable(a, _, _)
        | X::InstanceOf(a, _, _)
        | X::ValueOf(a) => uses_position(b, a),
        X::If(a, c, d) => uses_position(b, a) || uses_position(b, c) || uses_position(b, d),
        X::Some(_, a, c) | X::Every(_, a, c) | X::For(_, a, c) | X::Let(_, a, c) => {
            uses_position(b, a) || uses_position(b, c)
        }
        X::InSet(_, _, a) => uses_position(b, a),
        _ => false,
    }
}

/// Whether `ix`, used as a predicate, can never be a numeric (positional) predicate and
/// does not read the position: it can then be tested node by node without positions.
fn position_free(b: &Builder, ix: Ix) -> bool {
    let boolean_root = match b.nodes[ix as usize] {
        X::GCmp(..)
        | X::VCmp(..)
        | X::And(..)
        | X::Or(..)
        | X::Step(..)
        | X::Castable(..)
        | X::InstanceOf(..)
        | X::Some(..)
        | X::Every(..)
        | X::InSet(..) => true,
        X::Path(_, r) => matches!(b.nodes[r as usize], X::Step(..)),
        X::Union(..) => true,
        X::Call(f, _, _) => matches!(
            f,
            F::Not
                | F::Exists
                | F::Empty
                | F::Boolean
                | F::Contains
                | F::StartsWith
                | F::EndsWith
                | F::Matches
                | F::True
                | F::False
        ),
        _ => false,
    };
    boolean_root && !uses_position(b, ix)
}

/// Whether the expression depends on the context node only through its name.
fn name_only(b: &Builder, ix: Ix) -> bool {
    let l = |s: u32, n: u32| b.lists[s as usize..(s + n) as usize].to_vec();
    match b.nodes[ix as usize] {
        X::Str(_) | X::Int(_) | X::Dec(..) => true,
        X::Call(F::Name | F::LocalName | F::NamespaceUri, _, 0) => true,
        // without an argument these read the context node's string value
        X::Call(F::NormalizeSpace | F::StringLength, _, 0) => false,
        X::Call(
            F::Not
            | F::True
            | F::False
            | F::EndsWith
            | F::StartsWith
            | F::Contains
            | F::UpperCase
            | F::LowerCase
            | F::NormalizeSpace
            | F::Concat
            | F::Substring
            | F::SubstringBefore
            | F::SubstringAfter
            | F::StringLength,
            s,
            n,
        ) => l(s, n).iter().all(|&c| name_only(b, c)),
        X::And(a, c) | X::Or(a, c) | X::GCmp(_, a, c) | X::VCmp(_, a, c) => {
            name_only(b, a) && name_only(b, c)
        }
        X::InSet(_, _, a) => name_only(b, a),
        _ => false,
    }
}

fn yields_nodes(b: &Builder, ix: Ix) -> bool {
    match b.nodes[ix as usize] {
        X::Step(..) | X::Root => true,
        X::Path(_, r) => yields_nodes(b, r),
        X::Union(a, c) => yields_nodes(b, a) && yields_nodes(b, c),
        X::Filter(e, _, _) => yields_nodes(b, e),
        _ => false,
    }
}

fn flag(f: &str) -> &'static str {
    match f {
        "warning" => "Flag::Warning",
        "information" | "info" => "Flag::Information",
        _ => "Flag::Fatal",
    }
}

fn refs_slot(b: &Builder, ix: Ix, slot: u16) -> bool {
    let l = |s: u32, n: u32| b.lists[s as usize..(s + n) as usize].to_vec();
    match b.nodes[ix as usize] {
        X::VarL(v) => v == slot,
        X::Seq(s, n) | X::Call(_, s, n) | X::UCall(_, s, n) => {
            l(s, n).iter().any(|&c| refs_slot(b, c, slot))
        }
        X::Step(_, _, s, n) => l(s, n).iter().any(|&c| refs_slot(b, c, slot)),
        X::Filter(a, s, n) => {
            refs_slot(b, a, slot) || l(s, n).iter().any(|&c| refs_slot(b, c, slot))
        }
        X::Or(a, c)
        | X::And(a, c)
        | X::GCmp(_, a, c)
        | X::VCmp(_, a, c)
        | X::Bin(_, a, c)
        | X::Range(a, c)
        | X::Union(a, c)
        | X::Except(a, c)
        | X::Intersect(a, c)
        | X::Path(a, c) => refs_slot(b, a, slot) || refs_slot(b, c, slot),
        X::Neg(a)
        | X::Cast(a, _, _)
        | X::Castable(a, _, _)
        | X::InstanceOf(a, _, _)
        | X::ValueOf(a) => refs_slot(b, a, slot),
        X::If(a, c, d) => refs_slot(b, a, slot) || refs_slot(b, c, slot) || refs_slot(b, d, slot),
        X::Some(_, a, c) | X::Every(_, a, c) | X::For(_, a, c) | X::Let(_, a, c) => {
            refs_slot(b, a, slot) || refs_slot(b, c, slot)
        }
        X::InSet(_, _, a) => refs_slot(b, a, slot),
        _ => false,
    }
}

fn is_dos(b: &Builder, ix: Ix) -> bool {
    matches!(
        b.nodes[ix as usize],
        X::Step(Axis::DescendantOrSelf, Test::AnyNode, _, 0)
    )
}

fn preds_free(b: &Builder, s: u32, n: u32) -> bool {
    b.lists[s as usize..(s + n) as usize]
        .iter()
        .all(|&p| position_free(b, p))
}

/// Rewrites `E//x` into a descendant step when that is equivalent, so it can use the
/// per-document name index; returns the rewritten right-hand side.
fn descendant_form(b: &mut Builder, r: Ix) -> Option<Ix> {
    match b.nodes[r as usize] {
        X::Step(Axis::Child, t, s, n) if preds_free(b, s, n) => {
            Some(b.push(X::Step(Axis::Descendant, t, s, n)))
        }
        X::Step(Axis::Attribute, t, s, n) if preds_free(b, s, n) => {
            Some(b.push(X::Step(Axis::DescendantAttribute, t, s, n)))
        }
        X::Union(x, y) => {
            let dx = descendant_form(b, x)?;
            let dy = descendant_form(b, y)?;
            Some(b.push(X::Union(dx, dy)))
        }
        _ => None,
    }
}

/// `tokenize('a b c', '\s')` with literal arguments: the tokens, split on each single
/// whitespace character as XPath does (so adjacent separators give empty tokens).
fn fold_tokenize(b: &mut Builder, s: u32, n: u32) -> Option<X> {
    let args = b.lists[s as usize..(s + n) as usize].to_vec();
    if args.len() != 2 {
        return None;
    }
    let (X::Str(text), X::Str(pat)) = (b.nodes[args[0] as usize], b.nodes[args[1] as usize]) else {
        return None;
    };
    let text = b.strs[text as usize].clone();
    let sep: fn(char) -> bool = match b.strs[pat as usize].as_str() {
        "\\s" => |c| matches!(c, ' ' | '\t' | '\n' | '\r'),
        " " => |c| c == ' ',
        _ => return None,
    };
    if text.is_empty() {
        return Some(X::Empty);
    }
    let items: Vec<Ix> = text
        .split(sep)
        .map(|t| {
            let i = b.str(t);
            b.push(X::Str(i))
        })
        .collect();
    let (ls, ll) = b.list(&items);
    Some(X::Seq(ls, ll))
}

/// `contains(' A B ', concat(' ', e, ' '))` with a literal list of single-space separated
/// codes: returns (list string, sorted codes, e).
fn code_list(b: &Builder, s: u32, n: u32) -> Option<(u32, Vec<String>, Ix)> {
    let args = &b.lists[s as usize..(s + n) as usize];
    let X::Str(list) = b.nodes[args[0] as usize] else {
        return None;
    };
    let X::Call(F::Concat, cs, cn) = b.nodes[args[1] as usize] else {
        return None;
    };
    let cargs = &b.lists[cs as usize..(cs + cn) as usize];
    if cargs.len() != 3 {
        return None;
    }
    let is_space = |ix: Ix| matches!(b.nodes[ix as usize], X::Str(i) if b.strs[i as usize] == " ");
    if !is_space(cargs[0]) || !is_space(cargs[2]) {
        return None;
    }
    let text = &b.strs[list as usize];
    let inner = text.strip_prefix(' ')?.strip_suffix(' ')?;
    let codes: Vec<String> = inner.split(' ').map(str::to_string).collect();
    if codes.len() < 8
        || codes
            .iter()
            .any(|c| c.is_empty() || c.contains(['\t', '\n', '\r']))
    {
        return None;
    }
    let mut sorted = codes;
    sorted.sort();
    sorted.dedup();
    Some((list, sorted, cargs[1]))
}

/// Equivalence-preserving rewrites that make evaluation cheaper.
fn optimize(b: &mut Builder, sets: &mut Vec<Vec<String>>) {
    let n = b.nodes.len();
    for ix in 0..n {
        match b.nodes[ix] {
            // code lists: sorted sets instead of substring search
            X::Call(F::Contains, s, 2) => {
                if let Some((list, codes, e)) = code_list(b, s, 2) {
                    let id = match sets.iter().position(|c| *c == codes) {
                        Some(i) => i,
                        None => {
                            sets.push(codes);
                            sets.len() - 1
                        }
                    };
                    b.nodes[ix] = X::InSet(list, id as u32, e);
                }
            }
            // ends-with(name(), 'S')  →  ends-with(local-name(), 'S') when S has no colon:
            // a suffix without a colon never reaches the prefix, and the result no longer
            // depends on the document's prefixes (so it is screened per element name)
            X::Call(F::EndsWith, s, 2) => {
                let (a, c) = (b.lists[s as usize], b.lists[s as usize + 1]);
                if matches!(b.nodes[a as usize], X::Call(F::Name, _, 0))
                    && matches!(b.nodes[c as usize], X::Str(k) if !b.strs[k as usize].contains(':'))
                {
                    let (ls, _) = b.list(&[]);
                    let local = b.push(X::Call(F::LocalName, ls, 0));
                    let (ns, nl) = b.list(&[local, c]);
                    b.nodes[ix] = X::Call(F::EndsWith, ns, nl);
                }
            }
            // constant code lists: tokenize('…', '\s') is evaluated here, not per document
            X::Call(F::Tokenize, s, l) => {
                if let Some(x) = fold_tokenize(b, s, l) {
                    b.nodes[ix] = x;
                }
            }
            // E/descendant-or-self::node()/x  →  E/descendant::x
            X::Path(l, r) => {
                if let X::Path(a, dos) = b.nodes[l as usize]
                    && is_dos(b, dos)
                    && let Some(d) = descendant_form(b, r)
                {
                    b.nodes[ix] = X::Path(a, d);
                }
            }
            // some $v in S satisfies E = $v  →  E = S (general comparison is existential)
            X::Some(slot, input, test) => {
                if let X::GCmp(op, x, y) = b.nodes[test as usize] {
                    if matches!(b.nodes[y as usize], X::VarL(v) if v == slot)
                        && !refs_slot(b, x, slot)
                    {
                        b.nodes[ix] = X::GCmp(op, x, input);
                    } else if matches!(b.nodes[x as usize], X::VarL(v) if v == slot)
                        && !refs_slot(b, y, slot)
                    {
                        b.nodes[ix] = X::GCmp(op, input, y);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The children of a node and its lists.
fn parts(x: &X) -> (Vec<Ix>, Vec<(u32, u32)>) {
    match *x {
        X::Seq(s, l) | X::Call(_, s, l) | X::UCall(_, s, l) | X::Step(_, _, s, l) => {
            (vec![], vec![(s, l)])
        }
        X::Filter(e, s, l) => (vec![e], vec![(s, l)]),
        X::Or(a, c)
        | X::And(a, c)
        | X::GCmp(_, a, c)
        | X::VCmp(_, a, c)
        | X::Bin(_, a, c)
        | X::Range(a, c)
        | X::Union(a, c)
        | X::Except(a, c)
        | X::Intersect(a, c)
        | X::Path(a, c)
        | X::Some(_, a, c)
        | X::Every(_, a, c)
        | X::For(_, a, c)
        | X::Let(_, a, c) => (vec![a, c], vec![]),
        X::If(a, c, d) => (vec![a, c, d], vec![]),
        X::Neg(a)
        | X::Cast(a, _, _)
        | X::Castable(a, _, _)
        | X::InstanceOf(a, _, _)
        | X::ValueOf(a) => (vec![a], vec![]),
        X::InSet(_, _, a) => (vec![a], vec![]),
        _ => (vec![], vec![]),
    }
}

/// The node with new children and list windows (in the order of [`parts`]).
fn rebuild(x: &X, k: &[Ix], l: &[(u32, u32)]) -> X {
    match *x {
        X::Seq(..) => X::Seq(l[0].0, l[0].1),
        X::Call(f, ..) => X::Call(f, l[0].0, l[0].1),
        X::UCall(f, ..) => X::UCall(f, l[0].0, l[0].1),
        X::Step(a, t, ..) => X::Step(a, t, l[0].0, l[0].1),
        X::Filter(..) => X::Filter(k[0], l[0].0, l[0].1),
        X::Or(..) => X::Or(k[0], k[1]),
        X::And(..) => X::And(k[0], k[1]),
        X::GCmp(o, ..) => X::GCmp(o, k[0], k[1]),
        X::VCmp(o, ..) => X::VCmp(o, k[0], k[1]),
        X::Bin(o, ..) => X::Bin(o, k[0], k[1]),
        X::Range(..) => X::Range(k[0], k[1]),
        X::Union(..) => X::Union(k[0], k[1]),
        X::Except(..) => X::Except(k[0], k[1]),
        X::Intersect(..) => X::Intersect(k[0], k[1]),
        X::Path(..) => X::Path(k[0], k[1]),
        X::Some(v, ..) => X::Some(v, k[0], k[1]),
        X::Every(v, ..) => X::Every(v, k[0], k[1]),
        X::For(v, ..) => X::For(v, k[0], k[1]),
        X::Let(v, ..) => X::Let(v, k[0], k[1]),
        X::If(..) => X::If(k[0], k[1], k[2]),
        X::Neg(_) => X::Neg(k[0]),
        X::Cast(_, t, o) => X::Cast(k[0], t, o),
        X::Castable(_, t, o) => X::Castable(k[0], t, o),
        X::InstanceOf(_, t, o) => X::InstanceOf(k[0], t, o),
        X::ValueOf(_) => X::ValueOf(k[0]),
        X::InSet(t, set, _) => X::InSet(t, set, k[0]),
        other => other,
    }
}

/// Hash-consing: rebuilds the arena so that structurally identical expressions share one
/// index (a predicate that forty rules repeat is one node, and its per-node results can be
/// memoized). Returns the old → new index map.
struct Canon<'b> {
    old: &'b Builder,
    new: Builder,
    seen: HashMap<String, Ix>,
    map: Vec<Option<Ix>>,
}

impl Canon<'_> {
    fn canon(&mut self, ix: Ix) -> Ix {
        if let Some(c) = self.map[ix as usize] {
            return c;
        }
        let x = self.old.nodes[ix as usize];
        let (kids, lists) = parts(&x);
        let kids: Vec<Ix> = kids.iter().map(|&k| self.canon(k)).collect();
        let old = self.old;
        let members: Vec<Vec<Ix>> = lists
            .iter()
            .map(|&(s, l)| {
                old.lists[s as usize..(s + l) as usize]
                    .iter()
                    .map(|&m| self.canon(m))
                    .collect()
            })
            .collect();
        let key = format!(
            "{:?}|{:?}|{:?}",
            rebuild(&x, &kids, &vec![(0, 0); lists.len()]),
            kids,
            members
        );
        let id = match self.seen.get(&key) {
            Some(&id) => id,
            None => {
                let windows: Vec<(u32, u32)> = members.iter().map(|m| self.new.list(m)).collect();
                let id = self.new.push(rebuild(&x, &kids, &windows));
                self.seen.insert(key, id);
                id
            }
        };
        self.map[ix as usize] = Some(id);
        id
    }
}

/// For a downward path (child/descendant/attribute steps), the element name its last
/// element step requires: when no element of that name is in the document, the path is
/// empty. `u32::MAX` for anything else.
fn required_name(b: &Builder, ix: Ix) -> u32 {
    const NONE: u32 = u32::MAX;
    match b.nodes[ix as usize] {
        X::Step(Axis::Child | Axis::Descendant | Axis::DescendantOrSelf, Test::Name(n), _, _) => n,
        X::Path(l, r) => {
            if !downward(b, l) {
                return NONE;
            }
            match b.nodes[r as usize] {
                X::Step(
                    Axis::Child | Axis::Descendant | Axis::DescendantOrSelf,
                    Test::Name(n),
                    _,
                    _,
                ) => n,
                X::Step(Axis::Attribute | Axis::SelfAxis, ..) => required_name(b, l),
                X::Union(..) => NONE,
                _ => NONE,
            }
        }
        X::Filter(e, _, _) => required_name(b, e),
        _ => NONE,
    }
}

/// Whether a path only moves down the tree (so an absent name anywhere empties it).
fn downward(b: &Builder, ix: Ix) -> bool {
    match b.nodes[ix as usize] {
        X::Step(
            Axis::Child
            | Axis::Descendant
            | Axis::DescendantOrSelf
            | Axis::Attribute
            | Axis::SelfAxis
            | Axis::DescendantAttribute,
            ..,
        ) => true,
        X::Dot | X::Root | X::VarG(_) | X::VarR(_) | X::VarL(_) => true,
        X::Path(l, r) | X::Union(l, r) => downward(b, l) && downward(b, r),
        X::Filter(e, _, _) => downward(b, e),
        _ => false,
    }
}

/// Whether the expression's value does not depend on the context: every path in it starts
/// at the root (`/…`, `//…`) and it reads no focus.
fn absolute(b: &Builder, ix: Ix) -> bool {
    let x = b.nodes[ix as usize];
    match x {
        X::Root => true,
        X::Path(l, _) | X::Filter(l, _, _) => absolute(b, l) && contains_root(b, l),
        X::Call(F::True | F::False, _, _) => true,
        X::Call(F::Position | F::Last | F::CurrentDate, _, _) => false,
        X::Call(_, _, 0) => false,
        X::Call(_, s, n) => b.lists[s as usize..(s + n) as usize]
            .iter()
            .all(|&a| absolute(b, a) || constant(b, a)),
        X::Or(a, c)
        | X::And(a, c)
        | X::GCmp(_, a, c)
        | X::VCmp(_, a, c)
        | X::Bin(_, a, c)
        | X::Union(a, c) => {
            (absolute(b, a) || constant(b, a))
                && (absolute(b, c) || constant(b, c))
                && (absolute(b, a) || absolute(b, c))
        }
        X::Neg(a) | X::Cast(a, _, _) | X::Castable(a, _, _) | X::InSet(_, _, a) => absolute(b, a),
        _ => false,
    }
}

fn contains_root(b: &Builder, ix: Ix) -> bool {
    match b.nodes[ix as usize] {
        X::Root => true,
        X::Path(l, _) | X::Filter(l, _, _) => contains_root(b, l),
        _ => false,
    }
}

fn constant(b: &Builder, ix: Ix) -> bool {
    matches!(
        b.nodes[ix as usize],
        X::Str(_) | X::Int(_) | X::Dec(..) | X::Call(F::True | F::False, _, _)
    )
}

/// Whether an expression reads no variable (its value depends on the context item only).
fn variable_free(b: &Builder, ix: Ix) -> bool {
    let x = b.nodes[ix as usize];
    if matches!(
        x,
        X::VarG(_) | X::VarR(_) | X::VarL(_) | X::Call(F::CurrentDate, _, _)
    ) {
        return false;
    }
    let (kids, lists) = parts(&x);
    kids.iter().all(|&k| variable_free(b, k))
        && lists.iter().all(|&(s, l)| {
            b.lists[s as usize..(s + l) as usize]
                .iter()
                .all(|&m| variable_free(b, m))
        })
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
    let mut sets: Vec<Vec<String>> = Vec::new();
    optimize(&mut b, &mut sets);
    // hash-cons the arena and remap every root
    let mut canon = Canon {
        old: &b,
        new: Builder::default(),
        seen: HashMap::new(),
        map: vec![None; b.nodes.len()],
    };
    for f in &mut funcs {
        f.body = canon.canon(f.body);
    }
    for sc in &mut schemas {
        for g in &mut sc.globals {
            g.1 = canon.canon(g.1);
        }
        for p in &mut sc.patterns {
            for r in &mut p.rules {
                r.context = canon.canon(r.context);
                for l in &mut r.lets {
                    *l = canon.canon(*l);
                }
                for a in &mut r.asserts {
                    a.2 = canon.canon(a.2);
                }
            }
        }
    }
    let mut nb = canon.new;
    nb.strs = std::mem::take(&mut b.strs);
    nb.names = std::mem::take(&mut b.names);
    let b = nb;

    let mut o = String::new();
    o.push_str("// @generated by build/schematron.rs from the files under rules/. Do not edit.\n");
    let _ = writeln!(o, "pub static NODES: [X; {}] = [", b.nodes.len());
    for x in &b.nodes {
        let _ = writeln!(o, "{},", emit_x(x));
    }
    o.push_str("];\n");
    // how many parents refer to each node: memoizing pays off for shared predicates
    let mut refs = vec![0u32; b.nodes.len()];
    for x in &b.nodes {
        let (kids, lists) = parts(x);
        for k in kids {
            refs[k as usize] += 1;
        }
        for (s, l) in lists {
            for &m in &b.lists[s as usize..(s + l) as usize] {
                refs[m as usize] += 1;
            }
        }
    }
    let flags: Vec<u8> = (0..b.nodes.len() as u32)
        .map(|i| {
            position_free(&b, i) as u8
                | ((uses_position(&b, i) as u8) << 1)
                | ((yields_nodes(&b, i) as u8) << 2)
                | ((name_only(&b, i) as u8) << 3)
                | (((refs[i as usize] >= 2 && position_free(&b, i) && variable_free(&b, i)) as u8)
                    << 4)
                | (((absolute(&b, i) && variable_free(&b, i)) as u8) << 5)
        })
        .collect();
    let _ = writeln!(o, "pub static FLAGS: [u8; {}] = {:?};", flags.len(), flags);
    let req: Vec<u32> = (0..b.nodes.len() as u32)
        .map(|i| required_name(&b, i))
        .collect();
    let _ = writeln!(o, "pub static REQ_NAMES: [u32; {}] = {:?};", req.len(), req);
    // global variables that are sequences of string literals, sorted for `x = $codes`
    let mut const_sets: Vec<(Ix, Vec<&str>)> = Vec::new();
    for sc in &schemas {
        for &(_, g) in &sc.globals {
            let X::Seq(s, l) = b.nodes[g as usize] else {
                continue;
            };
            let mut v = Vec::new();
            for &i in &b.lists[s as usize..(s + l) as usize] {
                match b.nodes[i as usize] {
                    X::Str(k) => v.push(b.strs[k as usize].as_str()),
                    _ => {
                        v.clear();
                        break;
                    }
                }
            }
            if v.is_empty() && l > 0 {
                continue;
            }
            v.sort_unstable();
            v.dedup();
            const_sets.push((g, v));
        }
    }
    const_sets.sort();
    const_sets.dedup();
    let _ = writeln!(
        o,
        "pub static CONST_SETS: [(u32, &[&str]); {}] = [",
        const_sets.len()
    );
    for (g, v) in &const_sets {
        let _ = writeln!(o, "({g}, &{v:?}),");
    }
    o.push_str("];\n");
    let _ = writeln!(o, "pub static SETS: [&[&str]; {}] = [", sets.len());
    for set in &sets {
        let _ = writeln!(o, "&{set:?},");
    }
    o.push_str("];\n");
    let _ = writeln!(
        o,
        "pub static LISTS: [u32; {}] = {:?};",
        b.lists.len(),
        b.lists
    );
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
    let (nss, name_ns) = crate::syntax::names::namespaces(&b.names);
    let _ = writeln!(
        o,
        "pub static NAMESPACES: [&str; {}] = {:?};",
        nss.len(),
        nss
    );
    let _ = writeln!(
        o,
        "pub static NAME_NS: [u32; {}] = {:?};",
        name_ns.len(),
        name_ns
    );
    let keys: Vec<(u32, &str)> = name_ns
        .iter()
        .zip(&b.names)
        .map(|(&n, (_, l))| (n, l.as_str()))
        .collect();
    let table = crate::syntax::names::table(&keys);
    let _ = writeln!(
        o,
        "pub static NAME_TABLE: [u32; {}] = {:?};",
        table.len(),
        table
    );
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
                let _ = writeln!(
                    o,
                    "    Rule {{ context: {}, slots: {}, lets: &[{}], asserts: &[",
                    r.context,
                    r.slots,
                    lets.join(",")
                );
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
            // an element's candidate rules (by its name id, for every name a rule mentions)
            // computed here rather than on first use: always without wildcard element
            // rules, and with them when the parts of their first predicates that only read
            // the name can be decided here (`static_cands`)
            let mut cands: Vec<(u32, u32, u32)> = Vec::new();
            let mut store = String::new();
            let mut n_store = 0u32;
            let mut alts: Vec<Ix> = Vec::new();
            let names: Vec<u32> = if any_elem.is_empty() {
                let mut v: Vec<u32> = by_name.iter().map(|&(n, _)| n).collect();
                v.dedup();
                v
            } else {
                (0..b.names.len() as u32).collect()
            };
            let mut static_cands = true;
            'names: for &name in &names {
                let start = n_store;
                let (ns, local) = &b.names[name as usize];
                let mut rules: Vec<u16> = by_name
                    .iter()
                    .filter(|&&(n, _)| n == name)
                    .map(|&(_, r)| r)
                    .collect();
                for &ri in &any_elem {
                    if rules.contains(&ri) {
                        continue;
                    }
                    match context_screen(&b, p.rules[ri as usize].context, ns, local) {
                        Some(true) => rules.push(ri),
                        Some(false) => {}
                        None => {
                            static_cands = false;
                            break 'names;
                        }
                    }
                }
                rules.sort_unstable();
                for ri in rules {
                    let s = alts.len() as u32;
                    let mut all = Vec::new();
                    union_alts(&b, p.rules[ri as usize].context, &mut all);
                    let mut certain = false;
                    for a in all {
                        if !may_match_name(&b, a, name) {
                            continue;
                        }
                        alts.push(a);
                        if matches!(b.nodes[a as usize], X::Step(Axis::Child, Test::Name(id), _, 0) if id == name)
                        {
                            certain = true;
                            break;
                        }
                    }
                    let e = alts.len() as u32;
                    if s < e {
                        let _ = write!(
                            store,
                            "Cand {{ rule: {ri}, s: {s}, e: {e}, certain: {certain} }},"
                        );
                        n_store += 1;
                    }
                }
                cands.push((name, start, n_store));
            }
            if !static_cands {
                cands.clear();
                store.clear();
                alts.clear();
            }
            let _ = writeln!(
                o,
                "  ], by_name: &{by_name:?}, any_elem: &{any_elem:?}, by_attr: &{by_attr:?}, any_attr: &{any_attr:?}, doc: &{doc:?},\n  static_cands: {static_cands}, cands: &{cands:?}, cand_store: &[{store}], cand_alts: &{alts:?} }},"
            );
        }
        o.push_str("  ] },\n");
    }
    o.push_str("];\n");
    Ok(o)
}

/// The alternatives of a union, in order (as `src/schematron.rs` splits rule contexts).
fn union_alts(b: &Builder, ix: Ix, out: &mut Vec<Ix>) {
    match b.nodes[ix as usize] {
        X::Union(l, r) => {
            union_alts(b, l, out);
            union_alts(b, r, out);
        }
        _ => out.push(ix),
    }
}

/// False only when matching pattern `ix` against any element named `name` is certainly
/// false (its last step tests another name): the same test as `src/schematron.rs`.
fn may_match_name(b: &Builder, ix: Ix, name: u32) -> bool {
    match b.nodes[ix as usize] {
        X::Union(l, r) => may_match_name(b, l, name) || may_match_name(b, r, name),
        X::Step(Axis::Child, Test::Name(id), _, _) => id == name,
        X::Filter(e, _, _) => may_match_name(b, e, name),
        X::Path(_, r) => match b.nodes[r as usize] {
            X::Step(Axis::Descendant, Test::Name(id), _, _) => id == name,
            X::Step(Axis::Child, ..) => may_match_name(b, r, name),
            _ => true,
        },
        _ => true,
    }
}

/// Whether a wildcard rule context can match an element named `{ns}local`, judging by the
/// parts of its first predicate that only read the name, as `Runner::name_screen` does at
/// run time; `None` when that cannot be decided here (e.g. `name()` reads the prefix).
fn context_screen(b: &Builder, context: Ix, ns: &str, local: &str) -> Option<bool> {
    let step = match b.nodes[context as usize] {
        X::Path(_, r) => r,
        X::Step(..) => context,
        _ => return Some(true),
    };
    let X::Step(_, _, s, l) = b.nodes[step as usize] else {
        return Some(true);
    };
    match b.lists[s as usize..(s + l) as usize].first() {
        Some(&p) => name_part(b, p, ns, local),
        None => Some(true),
    }
}

/// The name-only conjuncts of `p` (`Runner::name_part`): true when there are none.
fn name_part(b: &Builder, p: Ix, ns: &str, local: &str) -> Option<bool> {
    if name_only(b, p) {
        return name_bool(b, p, ns, local);
    }
    match b.nodes[p as usize] {
        X::And(x, y) => Some(name_part(b, x, ns, local)? && name_part(b, y, ns, local)?),
        _ => Some(true),
    }
}

/// The effective boolean value of a name-only expression for an element named
/// `{ns}local`, for the few forms decided here.
fn name_bool(b: &Builder, p: Ix, ns: &str, local: &str) -> Option<bool> {
    let args = |s: u32, n: u32| &b.lists[s as usize..(s + n) as usize];
    match b.nodes[p as usize] {
        X::Call(F::True, _, 0) => Some(true),
        X::Call(F::False, _, 0) => Some(false),
        X::Call(F::Not, s, 1) => Some(!name_bool(b, args(s, 1)[0], ns, local)?),
        X::And(x, y) => Some(name_bool(b, x, ns, local)? && name_bool(b, y, ns, local)?),
        X::Or(x, y) => Some(name_bool(b, x, ns, local)? || name_bool(b, y, ns, local)?),
        X::Call(f @ (F::EndsWith | F::StartsWith | F::Contains), s, 2) => {
            let a = name_str(b, args(s, 2)[0], ns, local)?;
            let c = name_str(b, args(s, 2)[1], ns, local)?;
            Some(match f {
                F::EndsWith => a.ends_with(c),
                F::StartsWith => a.starts_with(c),
                _ => a.contains(c),
            })
        }
        _ => None,
    }
}

/// A string operand of [`name_bool`].
fn name_str<'s>(b: &'s Builder, p: Ix, ns: &'s str, local: &'s str) -> Option<&'s str> {
    match b.nodes[p as usize] {
        X::Str(k) => Some(&b.strs[k as usize]),
        X::Call(F::LocalName, _, 0) => Some(local),
        X::Call(F::NamespaceUri, _, 0) => Some(ns),
        _ => None,
    }
}
