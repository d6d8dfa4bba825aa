//! Compliance reports in the ODRL Compliance Report Model
//! (`https://w3id.org/force/compliance-report#`) and their Turtle serialisation.
//!
//! Report nodes get `urn:uuid:` identifiers derived (SHA-256) from the policy, the
//! request, the evaluation time and the node's place in the report, so the same inputs
//! always give the same report.

use std::fmt::Write as _;

use oxrdf::Term;
use sha2::{Digest, Sha256};

use super::model::RuleKind;
use super::vocab::{DCT, ODRL, REPORT};

/// `report:Active` / `report:Inactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// All premises satisfied (and no violated duty).
    Active,
    /// Not all premises satisfied.
    Inactive,
}

/// `report:Performed` / `report:Unperformed` / `report:Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Performance {
    /// The action was performed.
    Performed,
    /// The action was not performed and can no longer be.
    Unperformed,
    /// Not known (not performed yet, or no information).
    Unknown,
}

/// `report:Fulfilled` / `report:Violated` / `report:NonSet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deontic {
    /// Complies with the deontic concept of the rule.
    Fulfilled,
    /// Contradicts it.
    Violated,
    /// Neither (or not known yet).
    NonSet,
}

impl Activation {
    /// The state IRI.
    pub fn iri(self) -> String {
        format!("{REPORT}{self:?}")
    }
    /// The state with this IRI.
    pub fn from_iri(s: &str) -> Option<Self> {
        match s.strip_prefix(REPORT)? {
            "Active" => Some(Self::Active),
            "Inactive" => Some(Self::Inactive),
            _ => None,
        }
    }
}

impl Performance {
    /// The state IRI.
    pub fn iri(self) -> String {
        format!("{REPORT}{self:?}")
    }
    /// The state with this IRI.
    pub fn from_iri(s: &str) -> Option<Self> {
        match s.strip_prefix(REPORT)? {
            "Performed" => Some(Self::Performed),
            "Unperformed" => Some(Self::Unperformed),
            "Unknown" => Some(Self::Unknown),
            _ => None,
        }
    }
}

impl Deontic {
    /// The state IRI.
    pub fn iri(self) -> String {
        format!("{REPORT}{self:?}")
    }
    /// The state with this IRI.
    pub fn from_iri(s: &str) -> Option<Self> {
        match s.strip_prefix(REPORT)? {
            "Fulfilled" => Some(Self::Fulfilled),
            "Violated" => Some(Self::Violated),
            "NonSet" => Some(Self::NonSet),
            _ => None,
        }
    }

    /// The deontic state of the Compliance Report Model's table for a rule kind,
    /// activation and performance.
    pub fn of(kind: RuleKind, a: Activation, p: Performance) -> Deontic {
        use Activation::*;
        use Performance::*;
        match (kind, a, p) {
            (RuleKind::Permission, Active, Performed) => Deontic::Fulfilled,
            (RuleKind::Prohibition, Active, Performed) => Deontic::Violated,
            (RuleKind::Duty, Active, Performed) => Deontic::Fulfilled,
            (RuleKind::Prohibition, Active, Unperformed) => Deontic::Fulfilled,
            (RuleKind::Duty, Active, Unperformed) => Deontic::Violated,
            (RuleKind::Permission, Inactive, Performed) => Deontic::Violated,
            (RuleKind::Permission, Inactive, Unperformed) => Deontic::Fulfilled,
            _ => Deontic::NonSet,
        }
    }
}

/// The kind of a premise report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PremiseKind {
    /// `report:TargetReport`.
    Target,
    /// `report:PartyReport`.
    Party,
    /// `report:ActionReport`.
    Action,
    /// `report:ConstraintReport`.
    #[default]
    Constraint,
}

/// A premise report.
#[derive(Debug, Clone, Default)]
pub struct PremiseReport {
    /// What premise.
    pub kind: PremiseKind,
    /// `report:Satisfied` or `report:Unsatisfied`.
    pub satisfied: bool,
    /// The constraint evaluated (`report:constraint`).
    pub constraint: Option<Term>,
    /// The left operand's values (`report:constraintLeftOperand`).
    pub left: Vec<Term>,
    /// The operator (`report:constraintOperator`).
    pub operator: Option<String>,
    /// The right operand (`report:constraintRightOperand`).
    pub right: Vec<Term>,
    /// A logical constraint's operator (`report:constraintLogicalOperand`).
    pub logical_operator: Option<String>,
    /// Nested premise reports: a logical constraint's operands, an action's refinements.
    pub children: Vec<PremiseReport>,
}

impl PremiseReport {
    /// A target, party or action report without details.
    pub fn simple(kind: PremiseKind, satisfied: bool) -> Self {
        PremiseReport {
            kind,
            satisfied,
            ..PremiseReport::default()
        }
    }
}

/// A duty a permission depends on (`report:conditionReport`).
#[derive(Debug, Clone)]
pub enum ConditionReport {
    /// An earlier duty report in the state of the world.
    Existing {
        /// The report node.
        node: Term,
        /// Its deontic state.
        deontic: Deontic,
    },
    /// A duty report made by this evaluation.
    New(Box<RuleReport>),
}

impl ConditionReport {
    /// The duty's deontic state.
    pub fn deontic(&self) -> Deontic {
        match self {
            ConditionReport::Existing { deontic, .. } => *deontic,
            ConditionReport::New(r) => r.deontic,
        }
    }
}

/// A rule report.
#[derive(Debug, Clone)]
pub struct RuleReport {
    /// Permission, prohibition or duty report.
    pub kind: RuleKind,
    /// The rule (`report:rule`).
    pub rule: Term,
    /// The requested rule (`report:ruleRequest`).
    pub rule_request: Option<Term>,
    /// `report:Attempted` / `report:NotAttempted` (permissions and prohibitions).
    pub attempted: Option<bool>,
    /// Premise reports.
    pub premises: Vec<PremiseReport>,
    /// Duty reports of a permission.
    pub conditions: Vec<ConditionReport>,
    /// Activation state.
    pub activation: Activation,
    /// Performance state.
    pub performance: Performance,
    /// Deontic state.
    pub deontic: Deontic,
}

/// A policy report.
#[derive(Debug, Clone)]
pub struct PolicyReport {
    /// The policy (`report:policy`).
    pub policy: Term,
    /// The request (`report:policyRequest`).
    pub request: Option<Term>,
    /// The evaluation time (`dct:created`).
    pub created: Option<Term>,
    /// One report per rule.
    pub rules: Vec<RuleReport>,
}

/// Serialisation options.
#[derive(Debug, Clone, Copy)]
pub struct TurtleOptions {
    /// Whether rule reports carry `report:performanceState` and `report:deonticState`.
    pub states: bool,
}

impl Default for TurtleOptions {
    fn default() -> Self {
        TurtleOptions { states: true }
    }
}

/// Writes policy reports as one Turtle document.
pub fn to_turtle(reports: &[PolicyReport], options: TurtleOptions) -> String {
    let mut w = Writer {
        out: String::with_capacity(2048),
        options,
    };
    w.out.push_str(&format!(
        "@prefix report: <{REPORT}> .\n@prefix odrl: <{ODRL}> .\n@prefix dct: <{DCT}> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
    ));
    for r in reports {
        w.policy(r);
    }
    w.out
}

struct Writer {
    out: String,
    options: TurtleOptions,
}

/// A deterministic `urn:uuid:` (version 8) from a seed.
fn uuid_node(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A term in Turtle: IRIs of the ODRL and report vocabularies prefixed, others as in
/// N-Triples.
fn term(t: &Term) -> String {
    match t {
        Term::NamedNode(n) => iri(n.as_str()),
        Term::Literal(l)
            if l.datatype().as_str() == "http://www.w3.org/2001/XMLSchema#dateTime" =>
        {
            format!(
                "{}^^xsd:dateTime",
                Term::Literal(oxrdf::Literal::new_simple_literal(l.value()))
            )
        }
        other => other.to_string(),
    }
}

fn iri(s: &str) -> String {
    for (prefix, ns) in [("report", REPORT), ("odrl", ODRL)] {
        if let Some(local) = s.strip_prefix(ns)
            && !local.is_empty()
            && local.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return format!("{prefix}:{local}");
        }
    }
    format!("<{s}>")
}

impl Writer {
    fn policy(&mut self, r: &PolicyReport) {
        let base = format!(
            "{}|{}|{}",
            r.policy,
            r.request
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            r.created
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default()
        );
        let node = uuid_node(&base);
        let rule_nodes: Vec<String> = (0..r.rules.len())
            .map(|i| uuid_node(&format!("{base}|rule{i}")))
            .collect();
        let _ = write!(self.out, "\n{node} a report:PolicyReport");
        if let Some(c) = &r.created {
            let _ = write!(self.out, ";\n    dct:created {}", term(c));
        }
        let _ = write!(self.out, ";\n    report:policy {}", term(&r.policy));
        if let Some(q) = &r.request {
            let _ = write!(self.out, ";\n    report:policyRequest {}", term(q));
        }
        if !rule_nodes.is_empty() {
            let _ = write!(
                self.out,
                ";\n    report:ruleReport {}",
                rule_nodes.join(", ")
            );
        }
        self.out.push_str(".\n");
        for (rule, node) in r.rules.iter().zip(&rule_nodes) {
            self.rule(rule, node);
        }
    }

    fn rule(&mut self, r: &RuleReport, node: &str) {
        let class = match r.kind {
            RuleKind::Permission => "PermissionReport",
            RuleKind::Prohibition => "ProhibitionReport",
            RuleKind::Duty => "DutyReport",
        };
        let seed = node.trim_matches(['<', '>']);
        let premise_nodes: Vec<String> = (0..r.premises.len())
            .map(|i| uuid_node(&format!("{seed}|p{i}")))
            .collect();
        let condition_nodes: Vec<String> = r
            .conditions
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                ConditionReport::Existing { node, .. } => term(node),
                ConditionReport::New(_) => uuid_node(&format!("{seed}|c{i}")),
            })
            .collect();
        let _ = write!(self.out, "{node} a report:{class}");
        if let Some(a) = r.attempted {
            let s = if a { "Attempted" } else { "NotAttempted" };
            let _ = write!(self.out, ";\n    report:attemptState report:{s}");
        }
        let _ = write!(self.out, ";\n    report:rule {}", term(&r.rule));
        if let Some(q) = &r.rule_request {
            let _ = write!(self.out, ";\n    report:ruleRequest {}", term(q));
        }
        if !premise_nodes.is_empty() {
            let _ = write!(
                self.out,
                ";\n    report:premiseReport {}",
                premise_nodes.join(", ")
            );
        }
        if !condition_nodes.is_empty() {
            let _ = write!(
                self.out,
                ";\n    report:conditionReport {}",
                condition_nodes.join(", ")
            );
        }
        let _ = write!(
            self.out,
            ";\n    report:activationState {}",
            iri(&r.activation.iri())
        );
        if self.options.states {
            let _ = write!(
                self.out,
                ";\n    report:performanceState {};\n    report:deonticState {}",
                iri(&r.performance.iri()),
                iri(&r.deontic.iri())
            );
        }
        self.out.push_str(".\n");
        for (p, n) in r.premises.iter().zip(&premise_nodes) {
            self.premise(p, n);
        }
        for (c, n) in r.conditions.iter().zip(&condition_nodes) {
            if let ConditionReport::New(duty) = c {
                self.rule(duty, n);
            }
        }
    }

    fn premise(&mut self, p: &PremiseReport, node: &str) {
        let class = match p.kind {
            PremiseKind::Target => "TargetReport",
            PremiseKind::Party => "PartyReport",
            PremiseKind::Action => "ActionReport",
            PremiseKind::Constraint => "ConstraintReport",
        };
        let seed = node.trim_matches(['<', '>']);
        let child_nodes: Vec<String> = (0..p.children.len())
            .map(|i| uuid_node(&format!("{seed}|p{i}")))
            .collect();
        let _ = write!(self.out, "{node} a report:{class}");
        if let Some(c) = &p.constraint {
            let _ = write!(self.out, ";\n    report:constraint {}", term(c));
        }
        if let Some(op) = &p.logical_operator {
            let _ = write!(
                self.out,
                ";\n    report:constraintLogicalOperand {}",
                iri(op)
            );
        }
        if !p.left.is_empty() {
            let left: Vec<String> = p.left.iter().map(term).collect();
            let _ = write!(
                self.out,
                ";\n    report:constraintLeftOperand {}",
                left.join(", ")
            );
        }
        if let Some(op) = &p.operator {
            let _ = write!(self.out, ";\n    report:constraintOperator {}", iri(op));
        }
        if !p.right.is_empty() {
            let right: Vec<String> = p.right.iter().map(term).collect();
            let _ = write!(
                self.out,
                ";\n    report:constraintRightOperand {}",
                right.join(", ")
            );
        }
        if !child_nodes.is_empty() {
            let _ = write!(
                self.out,
                ";\n    report:premiseReport {}",
                child_nodes.join(", ")
            );
        }
        let state = if p.satisfied {
            "Satisfied"
        } else {
            "Unsatisfied"
        };
        let _ = write!(
            self.out,
            ";\n    report:satisfactionState report:{state}.\n"
        );
        for (c, n) in p.children.iter().zip(&child_nodes) {
            self.premise(c, n);
        }
    }
}
