//! The ODRL 2.2 information model read from an RDF graph: policies, their permissions,
//! prohibitions and obligations, duties, actions with refinements, parties and assets
//! (with collections), and constraints (atomic and logical).

use oxrdf::Term;

use super::value::Value;
use super::vocab::{self, odrl};
use crate::rdf::{self, Graph, RDF_VALUE};

/// What a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `odrl:Permission`.
    Permission,
    /// `odrl:Prohibition`.
    Prohibition,
    /// `odrl:Duty`: a permission's duty, a policy's obligation, a remedy or consequence.
    Duty,
}

/// The conflict strategy of a policy (`odrl:conflict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Permissions override prohibitions.
    Perm,
    /// Prohibitions override permissions.
    Prohibit,
    /// A conflict voids the policy (the ODRL default).
    Invalid,
}

/// An ODRL policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The policy's identifier (`odrl:uid` / node).
    pub id: Term,
    /// Conflict strategy.
    pub conflict: Conflict,
    /// `odrl:permission` rules.
    pub permissions: Vec<Rule>,
    /// `odrl:prohibition` rules.
    pub prohibitions: Vec<Rule>,
    /// `odrl:obligation` rules.
    pub obligations: Vec<Rule>,
}

/// A rule with what policy-level properties it inherits already applied.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule node.
    pub id: Term,
    /// Permission, prohibition or duty.
    pub kind: RuleKind,
    /// Actions (usually one).
    pub actions: Vec<Action>,
    /// Assets (`odrl:target`).
    pub targets: Vec<Entity>,
    /// Parties the rule is for (`odrl:assignee`).
    pub assignees: Vec<Entity>,
    /// Parties issuing the rule (`odrl:assigner`).
    pub assigners: Vec<Term>,
    /// Constraints (all must hold).
    pub constraints: Vec<Constraint>,
    /// A permission's duties.
    pub duties: Vec<Rule>,
    /// A prohibition's remedies.
    pub remedies: Vec<Rule>,
    /// A duty's consequences.
    pub consequences: Vec<Rule>,
    /// `odrl:informedParty` of an inform duty.
    pub informed_parties: Vec<Term>,
}

/// An action, possibly refined.
#[derive(Debug, Clone)]
pub struct Action {
    /// The action IRI.
    pub iri: String,
    /// `odrl:refinement` constraints.
    pub refinements: Vec<Constraint>,
}

/// A party or an asset: a single one or a collection.
#[derive(Debug, Clone)]
pub struct Entity {
    /// The node.
    pub term: Term,
    /// Whether it is a `PartyCollection` / `AssetCollection` (typed, or with
    /// `odrl:source` or `odrl:refinement`).
    pub collection: bool,
    /// `odrl:source`: the identifiers of the collection's members' group.
    pub sources: Vec<Term>,
    /// `odrl:refinement` constraints the members must satisfy.
    pub refinements: Vec<Constraint>,
}

/// A constraint or refinement.
#[derive(Debug, Clone)]
pub enum Constraint {
    /// `leftOperand operator rightOperand`.
    Atomic(Atomic),
    /// `and` / `or` / `xone` / `andSequence` of constraints.
    Logical(Logical),
}

impl Constraint {
    /// The constraint node.
    pub fn id(&self) -> &Term {
        match self {
            Constraint::Atomic(a) => &a.id,
            Constraint::Logical(l) => &l.id,
        }
    }
}

/// An atomic constraint.
#[derive(Debug, Clone)]
pub struct Atomic {
    /// The constraint node.
    pub id: Term,
    /// Left operand IRI.
    pub left: String,
    /// Operator IRI (`odrl:neg` normalised to `odrl:neq`).
    pub operator: String,
    /// Right operand values (lists flattened), or `odrl:rightOperandReference` values.
    pub right: Vec<Term>,
    /// `odrl:unit`.
    pub unit: Option<Term>,
    /// The operator, compiled.
    pub op: Op,
    /// The right operand values, parsed once (for comparisons).
    pub right_values: Vec<Value>,
}

/// A constraint operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `odrl:eq`.
    Eq,
    /// `odrl:neq` (and `odrl:neg`).
    Neq,
    /// `odrl:lt`.
    Lt,
    /// `odrl:lteq`.
    Lteq,
    /// `odrl:gt`.
    Gt,
    /// `odrl:gteq`.
    Gteq,
    /// `odrl:isA`.
    IsA,
    /// `odrl:hasPart`.
    HasPart,
    /// `odrl:isPartOf`.
    IsPartOf,
    /// `odrl:isAllOf`.
    IsAllOf,
    /// `odrl:isAnyOf`.
    IsAnyOf,
    /// `odrl:isNoneOf`.
    IsNoneOf,
}

impl Op {
    /// The operator of an ODRL local name (`neg` is `neq`).
    pub fn from_local(local: &str) -> Option<Op> {
        Some(match local {
            "eq" => Op::Eq,
            "neq" | "neg" => Op::Neq,
            "lt" => Op::Lt,
            "lteq" => Op::Lteq,
            "gt" => Op::Gt,
            "gteq" => Op::Gteq,
            "isA" => Op::IsA,
            "hasPart" => Op::HasPart,
            "isPartOf" => Op::IsPartOf,
            "isAllOf" => Op::IsAllOf,
            "isAnyOf" => Op::IsAnyOf,
            "isNoneOf" => Op::IsNoneOf,
            _ => return None,
        })
    }
}

/// A logical constraint.
#[derive(Debug, Clone)]
pub struct Logical {
    /// The constraint node.
    pub id: Term,
    /// `odrl:and`, `odrl:or`, `odrl:xone` or `odrl:andSequence`.
    pub operator: String,
    /// The operand constraints, in order.
    pub operands: Vec<Constraint>,
}

/// Reads every policy of `g` (nodes typed as an ODRL policy class, or with rules and not
/// typed `odrl:Request`). Errors name the node and what is wrong with it.
pub fn read_policies(g: &Graph) -> Result<Vec<Policy>, String> {
    let mut nodes: Vec<Term> = Vec::new();
    for class in vocab::POLICY_CLASSES {
        for n in g.subjects_of_type(&odrl(class)) {
            if !nodes.contains(&n) {
                nodes.push(n);
            }
        }
    }
    for p in ["permission", "prohibition", "obligation"] {
        for t in g.triples() {
            if t.predicate.as_str() == odrl(p) {
                let s = Term::from(t.subject.clone());
                let is_rule = ["Permission", "Prohibition", "Duty"]
                    .iter()
                    .any(|c| g.has_type(&s, &odrl(c)))
                    || g.subjects(&odrl("permission"), &s).next().is_some();
                if !nodes.contains(&s) && !g.has_type(&s, &odrl("Request")) && !is_rule {
                    nodes.push(s);
                }
            }
        }
    }
    if nodes.is_empty() {
        return Err("no ODRL policy found (a node typed odrl:Set, odrl:Offer, odrl:Agreement, … or with odrl:permission / odrl:prohibition / odrl:obligation)".into());
    }
    nodes.iter().map(|n| read_policy(g, n)).collect()
}

/// Reads the policy at `node`, with what it inherits (`odrl:inheritFrom`, the ODRL 2.2
/// Information Model's Policy Inheritance): the rules, policy-level assets, parties
/// and actions, and conflict strategies of its parent policies, to any depth. The policy
/// level properties of the whole family then apply to every rule lacking its own (a
/// parent's obligation gets the child's assignee, the child's permission the parent's
/// assigner). Parents must be in the same graph (the evaluator does not dereference
/// IRIs); a missing parent or circular inheritance is an error.
pub fn read_policy(g: &Graph, node: &Term) -> Result<Policy, String> {
    let family = lineage(g, node)?;
    let mut conflicts = Vec::new();
    let mut inherited = Inherited::default();
    for p in &family {
        let conflict = match g.object(p, &odrl("conflict")).and_then(rdf::as_iri) {
            None => None,
            Some(c) if c == odrl("perm") => Some(Conflict::Perm),
            Some(c) if c == odrl("prohibit") => Some(Conflict::Prohibit),
            Some(c) if c == odrl("invalid") => Some(Conflict::Invalid),
            Some(c) => return Err(format!("policy {p}: unknown odrl:conflict <{c}>")),
        };
        if let Some(c) = conflict
            && !conflicts.contains(&c)
        {
            conflicts.push(c);
        }
        for (into, property) in [
            (&mut inherited.targets, "target"),
            (&mut inherited.assignees, "assignee"),
            (&mut inherited.assigners, "assigner"),
            (&mut inherited.actions, "action"),
        ] {
            for v in g.values(p, &odrl(property)) {
                if !into.contains(&v) {
                    into.push(v);
                }
            }
        }
    }
    // several different strategies after inheritance: conflicting rules void the policy
    let conflict = match conflicts.as_slice() {
        [one] => *one,
        _ => Conflict::Invalid,
    };
    let rules = |property: &str, kind| -> Result<Vec<Rule>, String> {
        let mut out: Vec<Rule> = Vec::new();
        for p in &family {
            for r in g.values(p, &odrl(property)) {
                if out.iter().any(|seen| seen.id == r) {
                    continue;
                }
                out.push(
                    read_rule(g, &r, kind, &inherited, 0)
                        .map_err(|e| format!("policy {p}: {e}"))?,
                );
            }
        }
        Ok(out)
    };
    Ok(Policy {
        id: node.clone(),
        conflict,
        permissions: rules("permission", RuleKind::Permission)?,
        prohibitions: rules("prohibition", RuleKind::Prohibition)?,
        obligations: rules("obligation", RuleKind::Duty)?,
    })
}

/// The policy at `node` and its ancestors by `odrl:inheritFrom`, child first, each once.
fn lineage(g: &Graph, node: &Term) -> Result<Vec<Term>, String> {
    fn visit(g: &Graph, path: &mut Vec<Term>, out: &mut Vec<Term>) -> Result<(), String> {
        let node = path.last().expect("the path starts at the policy").clone();
        for parent in g.values(&node, &odrl("inheritFrom")) {
            if path.contains(&parent) {
                let chain: Vec<String> = path.iter().map(ToString::to_string).collect();
                return Err(format!(
                    "policy {}: odrl:inheritFrom is circular ({} → {parent})",
                    path[0],
                    chain.join(" → ")
                ));
            }
            if path.len() > MAX_DEPTH {
                return Err(format!(
                    "policy {}: odrl:inheritFrom deeper than {MAX_DEPTH} levels",
                    path[0]
                ));
            }
            if !is_policy(g, &parent) {
                return Err(format!(
                    "policy {node}: odrl:inheritFrom {parent}: no such policy in the document (parent policies must be given with the child; IRIs are not dereferenced)"
                ));
            }
            if !out.contains(&parent) {
                out.push(parent.clone());
            }
            path.push(parent);
            visit(g, path, out)?;
            path.pop();
        }
        Ok(())
    }
    let mut out = vec![node.clone()];
    visit(g, &mut vec![node.clone()], &mut out)?;
    Ok(out)
}

/// Whether `node` is a policy in `g`: typed with a policy class, or with rules or
/// policy-level properties of its own.
fn is_policy(g: &Graph, node: &Term) -> bool {
    vocab::POLICY_CLASSES
        .iter()
        .any(|c| g.has_type(node, &odrl(c)))
        || [
            "permission",
            "prohibition",
            "obligation",
            "inheritFrom",
            "assigner",
            "assignee",
            "target",
            "action",
            "profile",
            "conflict",
        ]
        .iter()
        .any(|p| g.object(node, &odrl(p)).is_some())
}

/// Policy-level properties that apply to every rule lacking them.
#[derive(Default)]
struct Inherited {
    targets: Vec<Term>,
    assignees: Vec<Term>,
    assigners: Vec<Term>,
    actions: Vec<Term>,
}

const MAX_DEPTH: usize = 16;

fn read_rule(
    g: &Graph,
    node: &Term,
    kind: RuleKind,
    inh: &Inherited,
    depth: usize,
) -> Result<Rule, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "rule {node}: duties nested deeper than {MAX_DEPTH}"
        ));
    }
    let or_inherited = |p: &str, inherited: &[Term]| {
        let own = g.values(node, &odrl(p));
        if own.is_empty() {
            inherited.to_vec()
        } else {
            own
        }
    };
    let action_terms = or_inherited("action", &inh.actions);
    if action_terms.is_empty() {
        return Err(format!("rule {node} has no odrl:action"));
    }
    let actions = action_terms
        .iter()
        .map(|a| read_action(g, a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("rule {node}: {e}"))?;
    let entities = |terms: Vec<Term>| -> Result<Vec<Entity>, String> {
        terms.iter().map(|t| read_entity(g, t)).collect()
    };
    let none = Inherited::default();
    let sub_rules = |p: &str| -> Result<Vec<Rule>, String> {
        g.values(node, &odrl(p))
            .iter()
            .map(|d| read_rule(g, d, RuleKind::Duty, &none, depth + 1))
            .collect()
    };
    let constraints = g
        .values(node, &odrl("constraint"))
        .iter()
        .map(|c| read_constraint(g, c, 0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("rule {node}: {e}"))?;
    // duties carry their own parties; only the permission-level inheritance applies to rules
    let (targets, assignees, assigners) = if depth == 0 {
        (
            or_inherited("target", &inh.targets),
            or_inherited("assignee", &inh.assignees),
            or_inherited("assigner", &inh.assigners),
        )
    } else {
        (
            g.values(node, &odrl("target")),
            g.values(node, &odrl("assignee")),
            g.values(node, &odrl("assigner")),
        )
    };
    Ok(Rule {
        id: node.clone(),
        kind,
        actions,
        targets: entities(targets).map_err(|e| format!("rule {node}: {e}"))?,
        assignees: entities(assignees).map_err(|e| format!("rule {node}: {e}"))?,
        assigners,
        constraints,
        duties: sub_rules("duty")?,
        remedies: sub_rules("remedy")?,
        consequences: sub_rules("consequence")?,
        informed_parties: g.values(node, &odrl("informedParty")),
    })
}

fn read_action(g: &Graph, node: &Term) -> Result<Action, String> {
    let (iri, refinements) = match g.object(node, RDF_VALUE) {
        Some(v) => (
            v.clone(),
            g.values(node, &odrl("refinement"))
                .iter()
                .map(|c| read_constraint(g, c, 0))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => (node.clone(), Vec::new()),
    };
    match rdf::as_iri(&iri) {
        Some(i) => Ok(Action {
            iri: i.to_string(),
            refinements,
        }),
        None => Err(format!("action {iri} is not an IRI")),
    }
}

fn read_entity(g: &Graph, node: &Term) -> Result<Entity, String> {
    let sources = g.values(node, &odrl("source"));
    let refinements = g
        .values(node, &odrl("refinement"))
        .iter()
        .map(|c| read_constraint(g, c, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let typed =
        g.has_type(node, &odrl("PartyCollection")) || g.has_type(node, &odrl("AssetCollection"));
    Ok(Entity {
        term: node.clone(),
        collection: typed || !sources.is_empty() || !refinements.is_empty(),
        sources,
        refinements,
    })
}

/// Reads the constraint at `node`.
pub fn read_constraint(g: &Graph, node: &Term, depth: usize) -> Result<Constraint, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "constraint {node}: logical constraints nested deeper than {MAX_DEPTH}"
        ));
    }
    for op in vocab::LOGICAL_OPERATORS {
        let operands = g.values(node, &odrl(op));
        if !operands.is_empty() {
            return Ok(Constraint::Logical(Logical {
                id: node.clone(),
                operator: odrl(op),
                operands: operands
                    .iter()
                    .map(|c| read_constraint(g, c, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?,
            }));
        }
    }
    let left = match g.object(node, &odrl("leftOperand")) {
        Some(t) => rdf::as_iri(t)
            .ok_or_else(|| format!("constraint {node}: odrl:leftOperand {t} is not an IRI"))?
            .to_string(),
        None => {
            return Err(format!(
                "constraint {node} has neither odrl:leftOperand nor a logical operator (odrl:and, odrl:or, odrl:xone, odrl:andSequence)"
            ));
        }
    };
    let operator = match g.object(node, &odrl("operator")).and_then(rdf::as_iri) {
        Some(o) if o == odrl("neg") => odrl("neq"),
        Some(o) if vocab::OPERATORS.iter().any(|x| odrl(x) == o) => o.to_string(),
        Some(o) => return Err(format!("constraint {node}: unknown operator <{o}>")),
        None => return Err(format!("constraint {node} has no odrl:operator")),
    };
    let op = operator
        .strip_prefix(vocab::ODRL)
        .and_then(Op::from_local)
        .ok_or_else(|| format!("constraint {node}: unknown operator <{operator}>"))?;
    let mut right = g.values(node, &odrl("rightOperand"));
    if right.is_empty() {
        right = g.values(node, &odrl("rightOperandReference"));
        // a reference whose value the state of the world gives
        right = right
            .into_iter()
            .map(|r| g.object(&r, RDF_VALUE).cloned().unwrap_or(r))
            .collect();
    }
    if right.is_empty() {
        return Err(format!("constraint {node} has no odrl:rightOperand"));
    }
    if let Some(dt) = g.object(node, &odrl("dataType")).and_then(rdf::as_iri) {
        let dt = oxrdf::NamedNode::new_unchecked(dt);
        right = right
            .into_iter()
            .map(|r| match r {
                Term::Literal(l) => {
                    Term::Literal(oxrdf::Literal::new_typed_literal(l.value(), dt.clone()))
                }
                other => other,
            })
            .collect();
    }
    let right_values = right.iter().map(Value::of).collect();
    Ok(Constraint::Atomic(Atomic {
        id: node.clone(),
        left,
        operator,
        op,
        right_values,
        right,
        unit: g.object(node, &odrl("unit")).cloned(),
    }))
}
