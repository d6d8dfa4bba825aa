//! RDF input: Turtle and JSON-LD documents parsed (with the oxigraph parsers) into a small
//! indexed triple store, RDF collections, and comparison of graphs up to blank-node
//! renaming.

use std::collections::HashMap;

use oxrdf::{BlankNode, NamedNode, NamedOrBlankNode, Term, Triple};

/// `rdf:` namespace.
pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// `rdf:type`.
pub const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
/// `rdf:value`.
pub const RDF_VALUE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#value";
/// `rdfs:subClassOf`.
pub const RDFS_SUBCLASS: &str = "http://www.w3.org/2000/01/rdf-schema#subClassOf";
/// `xsd:` namespace.
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";

/// The ODRL JSON-LD context (`http://www.w3.org/ns/odrl.jsonld`), built in because a
/// plugin cannot fetch remote documents.
const ODRL_CONTEXT: &str = include_str!("odrl_context.jsonld");

/// A set of triples indexed by subject and by object.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    triples: Vec<Triple>,
    by_subject: HashMap<Term, Vec<u32>>,
    by_object: HashMap<Term, Vec<u32>>,
    predicates: std::collections::HashSet<String>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds a triple (duplicates are kept once).
    pub fn insert(&mut self, t: Triple) {
        let s = Term::from(t.subject.clone());
        if self.by_subject.get(&s).is_some_and(|ix| {
            ix.iter().any(|&i| {
                let x = &self.triples[i as usize];
                x.predicate == t.predicate && x.object == t.object
            })
        }) {
            return;
        }
        if !self.predicates.contains(t.predicate.as_str()) {
            self.predicates.insert(t.predicate.as_str().to_string());
        }
        let i = self.triples.len() as u32;
        self.by_subject.entry(s).or_default().push(i);
        self.by_object.entry(t.object.clone()).or_default().push(i);
        self.triples.push(t);
    }

    /// Adds every triple of `other`.
    pub fn extend(&mut self, other: &Graph) {
        for t in &other.triples {
            self.insert(t.clone());
        }
    }

    /// Whether some triple has this predicate.
    pub fn has_predicate(&self, predicate: &str) -> bool {
        self.predicates.contains(predicate)
    }

    /// All triples.
    pub fn triples(&self) -> &[Triple] {
        &self.triples
    }

    /// Number of triples.
    pub fn len(&self) -> usize {
        self.triples.len()
    }

    /// Whether the graph has no triples.
    pub fn is_empty(&self) -> bool {
        self.triples.is_empty()
    }

    /// Objects of `subject` through `predicate` (an IRI), in document order.
    pub fn objects<'a, 'p>(
        &'a self,
        subject: &Term,
        predicate: &'p str,
    ) -> impl Iterator<Item = &'a Term> + use<'a, 'p> {
        self.by_subject
            .get(subject)
            .into_iter()
            .flatten()
            .map(|&i| &self.triples[i as usize])
            .filter(move |t| t.predicate.as_str() == predicate)
            .map(|t| &t.object)
    }

    /// The first object of `subject` through `predicate`.
    pub fn object<'a>(&'a self, subject: &Term, predicate: &str) -> Option<&'a Term> {
        self.objects(subject, predicate).next()
    }

    /// Subjects with `predicate` to `object`, in document order.
    pub fn subjects<'a, 'p>(
        &'a self,
        predicate: &'p str,
        object: &Term,
    ) -> impl Iterator<Item = Term> + use<'a, 'p> {
        self.by_object
            .get(object)
            .into_iter()
            .flatten()
            .map(|&i| &self.triples[i as usize])
            .filter(move |t| t.predicate.as_str() == predicate)
            .map(|t| Term::from(t.subject.clone()))
    }

    /// Whether the triple is in the graph.
    pub fn contains(&self, subject: &Term, predicate: &str, object: &Term) -> bool {
        self.objects(subject, predicate).any(|o| o == object)
    }

    /// Whether `subject` has type `class` (an IRI).
    pub fn has_type(&self, subject: &Term, class: &str) -> bool {
        self.objects(subject, RDF_TYPE)
            .any(|o| matches!(o, Term::NamedNode(n) if n.as_str() == class))
    }

    /// The values of `subject`'s `predicate`, with RDF collections (`rdf:first`/`rdf:rest`,
    /// JSON-LD `@list`) flattened into their members.
    pub fn values(&self, subject: &Term, predicate: &str) -> Vec<Term> {
        let mut out = Vec::new();
        for o in self.objects(subject, predicate) {
            match self.list(o) {
                Some(items) => out.extend(items),
                None => out.push(o.clone()),
            }
        }
        out
    }

    /// The members of the RDF collection starting at `head`, `None` when `head` is not one.
    pub fn list(&self, head: &Term) -> Option<Vec<Term>> {
        let nil = format!("{RDF}nil");
        if matches!(head, Term::NamedNode(n) if n.as_str() == nil) {
            return Some(Vec::new());
        }
        self.object(head, &format!("{RDF}first"))?;
        let mut items = Vec::new();
        let mut node = head.clone();
        for _ in 0..100_000 {
            if matches!(&node, Term::NamedNode(n) if n.as_str() == nil) {
                return Some(items);
            }
            items.push(self.object(&node, &format!("{RDF}first"))?.clone());
            node = self.object(&node, &format!("{RDF}rest"))?.clone();
        }
        None
    }

    /// Subjects that have some triple (for finding typed nodes).
    pub fn subjects_of_type(&self, class: &str) -> Vec<Term> {
        let class = Term::NamedNode(NamedNode::new_unchecked(class));
        self.subjects(RDF_TYPE, &class).collect()
    }
}

/// Parses a Turtle or JSON-LD document (JSON-LD when the first non-blank character is `{`
/// or `[`). `what` names the document in errors (`policy`, `request`, …); blank nodes get
/// `what` as a label prefix so documents can be merged without clashes.
pub fn parse_document(text: &str, what: &str) -> Result<Graph, String> {
    let mut g = Graph::new();
    let prefix: String = what.chars().filter(char::is_ascii_alphanumeric).collect();
    let rename = |t: Triple| rename_blanks(t, &prefix);
    let first = text.trim_start().chars().next();
    if matches!(first, Some('{' | '[')) {
        let parser = oxjsonld::JsonLdParser::new()
            .for_reader(text.as_bytes())
            .with_load_document_callback(|url, _| {
                let url = url.trim_end_matches('#');
                if matches!(
                    url,
                    "http://www.w3.org/ns/odrl.jsonld" | "https://www.w3.org/ns/odrl.jsonld"
                ) {
                    Ok(oxjsonld::JsonLdRemoteDocument {
                        document: ODRL_CONTEXT.as_bytes().to_vec(),
                        document_url: url.to_string(),
                    })
                } else {
                    Err(format!(
                        "remote JSON-LD context <{url}> is not available (only the ODRL context is built in; inline other contexts)"
                    )
                    .into())
                }
            });
        for q in parser {
            let q = q.map_err(|e| format!("{what}: JSON-LD error: {e}"))?;
            g.insert(rename(Triple::new(q.subject, q.predicate, q.object)));
        }
    } else {
        for t in oxttl::TurtleParser::new().for_slice(text.as_bytes()) {
            let t = t.map_err(|e| format!("{what}: Turtle syntax error: {e}"))?;
            g.insert(rename(t));
        }
    }
    Ok(g)
}

fn rename_blanks(t: Triple, prefix: &str) -> Triple {
    let b = |n: &BlankNode| BlankNode::new_unchecked(format!("{prefix}{}", n.as_str()));
    let subject = match &t.subject {
        NamedOrBlankNode::BlankNode(n) => NamedOrBlankNode::BlankNode(b(n)),
        s => s.clone(),
    };
    let object = match &t.object {
        Term::BlankNode(n) => Term::BlankNode(b(n)),
        o => o.clone(),
    };
    Triple::new(subject, t.predicate, object)
}

/// Whether two graphs are the same up to the renaming of blank nodes and of the IRIs for
/// which `is_anonymous` holds (e.g. generated `urn:uuid:` report identifiers). Returns a
/// description of the first difference otherwise.
pub fn isomorphic(a: &Graph, b: &Graph, is_anonymous: &dyn Fn(&str) -> bool) -> Result<(), String> {
    let canon = |g: &Graph| {
        let mut ds = oxrdf::Graph::new();
        let map = |t: &Term| -> Term {
            match t {
                Term::NamedNode(n) if is_anonymous(n.as_str()) => {
                    Term::BlankNode(BlankNode::new_unchecked(hex_id(n.as_str())))
                }
                o => o.clone(),
            }
        };
        for t in g.triples() {
            let s = match map(&Term::from(t.subject.clone())) {
                Term::NamedNode(n) => NamedOrBlankNode::NamedNode(n),
                Term::BlankNode(n) => NamedOrBlankNode::BlankNode(n),
                _ => unreachable!("subjects are never literals"),
            };
            ds.insert(&Triple::new(s, t.predicate.clone(), map(&t.object)));
        }
        ds.canonicalize(oxrdf::graph::CanonicalizationAlgorithm::Unstable);
        let mut lines: Vec<String> = ds.iter().map(|t| t.to_string()).collect();
        lines.sort();
        lines
    };
    let (ca, cb) = (canon(a), canon(b));
    if ca == cb {
        return Ok(());
    }
    let only_a: Vec<&String> = ca.iter().filter(|l| !cb.contains(l)).collect();
    let only_b: Vec<&String> = cb.iter().filter(|l| !ca.contains(l)).collect();
    Err(format!(
        "graphs differ ({} and {} triples)\nonly in the first:\n  {}\nonly in the second:\n  {}",
        ca.len(),
        cb.len(),
        only_a
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        only_b
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    ))
}

fn hex_id(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A named node term.
pub fn iri(s: &str) -> Term {
    Term::NamedNode(NamedNode::new_unchecked(s))
}

/// The IRI of a term, if it is a named node.
pub fn as_iri(t: &Term) -> Option<&str> {
    match t {
        Term::NamedNode(n) => Some(n.as_str()),
        _ => None,
    }
}
