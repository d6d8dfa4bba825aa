//! An XPath 2.0 evaluator over a `roxmltree` document, for the expressions the EN 16931,
//! Peppol and China e-invoice Schematron rules use. Expressions are compiled ahead of time
//! (see `build/`) into a static arena ([`syntax::ast::X`]); this module walks it.
//!
//! Numbers are exact decimals throughout ([`crate::decimal::Dec`]): values XPath would
//! compute as `xs:double` (untyped amounts in arithmetic, `number()`) are computed exactly.

pub mod eval;
pub mod syntax;
mod value;

pub use eval::{Eval, XDoc};
pub use value::{Date, Item, N, Txt};

use syntax::ast::{Ix, Ty, X};

/// A user function (`xsl:function` in a Schematron file).
#[derive(Debug)]
pub struct Func {
    /// Prefixed name, e.g. `u:gln`.
    pub name: &'static str,
    /// Declared parameter types (`None`: no conversion).
    pub params: &'static [Option<Ty>],
    /// Declared result type.
    pub ret: Option<Ty>,
    /// The body expression.
    pub body: Ix,
    /// Local slots the body uses (parameters first).
    pub slots: u16,
}

/// A compiled expression arena with its tables.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// Expression nodes.
    pub nodes: &'static [X],
    /// Child lists.
    pub lists: &'static [u32],
    /// String table.
    pub strs: &'static [&'static str],
    /// Expanded names by id: (namespace URI, local name).
    pub names: &'static [(&'static str, &'static str)],
    /// The distinct namespaces of `names`, numbered.
    pub namespaces: &'static [&'static str],
    /// Per name id: the number of its namespace in `namespaces`.
    pub name_ns: &'static [u32],
    /// Hash table of the names by (namespace number, local name), see
    /// [`syntax::names::table`].
    pub name_table: &'static [u32],
    /// User functions.
    pub funcs: &'static [Func],
    /// Sorted code lists (for [`syntax::ast::X::InSet`]).
    pub sets: &'static [&'static [&'static str]],
    /// Per node: the element name a downward path needs (`u32::MAX`: none).
    pub req_names: &'static [u32],
    /// (expression, its sorted distinct strings) of the global variables whose expression
    /// is a sequence of string literals (such as a code list), sorted by expression.
    pub const_sets: &'static [(Ix, &'static [&'static str])],
}

impl Program {
    /// The id of an expanded name, if any expression mentions it.
    pub fn name_id(&self, ns: &str, local: &str) -> Option<u32> {
        self.name_in(self.ns_number(ns)?, local)
    }

    /// The number of a namespace in [`Program::namespaces`], if any name has it.
    pub fn ns_number(&self, ns: &str) -> Option<u32> {
        self.namespaces
            .iter()
            .position(|&n| n == ns)
            .map(|i| i as u32)
    }

    /// The id of the name `local` in namespace number `ns`.
    #[inline]
    pub fn name_in(&self, ns: u32, local: &str) -> Option<u32> {
        let mask = self.name_table.len().checked_sub(1)?;
        let mut i = syntax::names::hash(ns, local) as usize & mask;
        loop {
            let id = self.name_table[i];
            if id == syntax::names::EMPTY {
                return None;
            }
            if self.name_ns[id as usize] == ns && self.names[id as usize].1 == local {
                return Some(id);
            }
            i = (i + 1) & mask;
        }
    }

    /// A child list as a slice.
    pub fn list(&self, start: u32, len: u32) -> &'static [u32] {
        &self.lists[start as usize..(start + len) as usize]
    }
}

/// A dynamic (evaluation) error.
#[derive(Debug, Clone, PartialEq)]
pub struct XError(pub String);

impl std::fmt::Display for XError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Result of evaluation.
pub type XResult<T> = Result<T, XError>;

pub(crate) fn err<T>(msg: impl Into<String>) -> XResult<T> {
    Err(XError(msg.into()))
}

/// Compiles expressions at run time, for tests: leaks the arena to get `'static` tables.
#[cfg(test)]
pub mod testing {
    use super::syntax::ast::X;
    use super::syntax::parse::{Builder, Env, parse};
    use super::{Func, Program};

    /// Namespaces for test expressions.
    pub struct TestEnv(pub Vec<(String, String)>);

    impl Env for TestEnv {
        fn ns(&self, prefix: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(p, _)| p == prefix)
                .map(|(_, u)| u.clone())
        }
        fn var(&self, _name: &str) -> Option<X> {
            None
        }
        fn func(&self, _name: &str, _arity: usize) -> Option<u16> {
            None
        }
    }

    /// Compiles one expression into its own leaked program; returns it and the root.
    pub fn compile(src: &str, ns: &[(&str, &str)]) -> (&'static Program, u32) {
        let mut b = Builder::default();
        let env = TestEnv(
            ns.iter()
                .map(|(p, u)| (p.to_string(), u.to_string()))
                .collect(),
        );
        let parsed = parse(&mut b, &env, src, 0).unwrap_or_else(|e| panic!("{src}: {e}"));
        let strs: Vec<&'static str> = b
            .strs
            .iter()
            .map(|s| &*Box::leak(s.clone().into_boxed_str()))
            .collect();
        let names: Vec<(&'static str, &'static str)> = b
            .names
            .iter()
            .map(|(n, l)| {
                (
                    &*Box::leak(n.clone().into_boxed_str()),
                    &*Box::leak(l.clone().into_boxed_str()),
                )
            })
            .collect();
        let (nss, name_ns) = super::syntax::names::namespaces(&names);
        let keys: Vec<(u32, &str)> = name_ns
            .iter()
            .zip(&names)
            .map(|(&n, (_, l))| (n, *l))
            .collect();
        let table = super::syntax::names::table(&keys);
        let nss: Vec<&'static str> = nss
            .into_iter()
            .map(|s| &*Box::leak(s.into_boxed_str()))
            .collect();
        let prog = Program {
            nodes: Box::leak(b.nodes.into_boxed_slice()),
            lists: Box::leak(b.lists.into_boxed_slice()),
            strs: Box::leak(strs.into_boxed_slice()),
            names: Box::leak(names.into_boxed_slice()),
            namespaces: Box::leak(nss.into_boxed_slice()),
            name_ns: Box::leak(name_ns.into_boxed_slice()),
            name_table: Box::leak(table.into_boxed_slice()),
            funcs: Box::leak(Vec::<Func>::new().into_boxed_slice()),
            sets: &[],
            req_names: &[],
            const_sets: &[],
        };
        (Box::leak(Box::new(prog)), parsed.root)
    }
}
