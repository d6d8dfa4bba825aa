//! Evaluation of ODRL policies against a request and the state of the world, producing a
//! compliance report ([`super::report`]).
//!
//! Semantics (after the ODRL Formal Semantics draft and the Compliance Report Model):
//! a rule's premises are its target, assignee, action (with refinements) and constraints;
//! a premise without the information to decide it is unsatisfied. A rule is active when
//! every premise is satisfied and, for a permission, no duty is violated. Performance
//! states come from the state of the world (earlier reports of the rule); deontic states
//! follow the model's table.

use std::cell::{OnceCell, RefCell};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use oxrdf::Term;

use super::model::{
    Action, Atomic, Conflict, Constraint, Entity, Logical, Op, Policy, Rule, RuleKind,
};
use super::report::{
    Activation, ConditionReport, Deontic, Performance, PolicyReport, PremiseKind, PremiseReport,
    RuleReport,
};
use super::value::{Value, format_datetime};
use super::vocab::{self, odrl};
use crate::rdf::{self, Graph, RDF_TYPE, RDFS_SUBCLASS};

const INCLUDED_IN_IRI: &str = "http://www.w3.org/ns/odrl/2/includedIn";
const IMPLIES_IRI: &str = "http://www.w3.org/ns/odrl/2/implies";
const EXACT_MATCH_IRI: &str = "http://www.w3.org/2004/02/skos/core#exactMatch";
const DATETIME_IRI: &str = "http://www.w3.org/ns/odrl/2/dateTime";

/// What is asked: a party wants to perform an action on an asset, with facts about the
/// circumstances (left operand values such as the purpose).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The request node (`report:policyRequest`).
    pub id: Option<Term>,
    /// The requested rule (`report:ruleRequest`).
    pub rule: Option<Term>,
    /// The requesting party.
    pub party: Option<Term>,
    /// The requested action IRI.
    pub action: Option<String>,
    /// The requested asset.
    pub target: Option<Term>,
    /// Left operand IRI → values.
    pub values: Vec<(String, Term)>,
    /// Left operand IRI → the unit of its values (`odrl:unit`), when the request says.
    pub units: Vec<(String, Term)>,
}

impl Request {
    /// The values given for a left operand.
    pub fn values_of<'a>(&'a self, left: &'a str) -> impl Iterator<Item = &'a Term> + 'a {
        self.values
            .iter()
            .filter(move |(k, _)| k == left)
            .map(|(_, v)| v)
    }

    /// The unit the request gives the values of a left operand in.
    pub fn unit_of(&self, left: &str) -> Option<&Term> {
        self.units.iter().find(|(k, _)| k == left).map(|(_, u)| u)
    }
}

/// The request's values of `a`'s left operand in the constraint's unit
/// ([`super::unit`]): `None` when no conversion is needed (no unit on either side, or the
/// same), `Some(None)` when the units do not convert into each other, else the values
/// converted.
fn in_constraint_unit(a: &Atomic, req: &Request, world: &World<'_>) -> Option<Option<Vec<Term>>> {
    let (Some(to), Some(from)) = (&a.unit, req.unit_of(&a.left)) else {
        return None;
    };
    match super::unit::conversion(from, to, world.graph) {
        Some(None) => None,
        Some(Some(factor)) => Some(Some(
            req.values_of(&a.left)
                .filter_map(|v| super::unit::convert(v, factor))
                .collect(),
        )),
        None => Some(None),
    }
}

/// The state of the world: the current time and every known fact (memberships, class
/// hierarchies, earlier compliance reports), merged with the policy's own triples.
pub struct World<'g> {
    /// Policy, request and state-of-the-world triples.
    pub graph: &'g Graph,
    /// The current time as a literal (given, or formatted from `now_ms` when needed).
    now: OnceCell<Term>,
    /// The current time in milliseconds, if known.
    now_ms: Option<i64>,
    /// Answers remembered across evaluations of the same graph (the sharing path).
    memo: Option<&'g Memo>,
}

impl<'g> World<'g> {
    /// A world at the time `now` (`dct:issued` of `temp:currentTime`), if given.
    pub fn new(graph: &'g Graph, now: Option<Term>) -> World<'g> {
        // the fast comparisons use the time only when it is an xsd:dateTime
        let now_ms = match now.as_ref().map(Value::of) {
            Some(Value::DateTime(ms)) => Some(ms),
            _ => None,
        };
        let cell = OnceCell::new();
        if let Some(t) = now {
            let _ = cell.set(t);
        }
        World {
            graph,
            now: cell,
            now_ms,
            memo: None,
        }
    }

    /// A world at the wall-clock time, remembering graph answers in `memo` (which must
    /// belong to `graph`).
    pub fn wall_clock(graph: &'g Graph, memo: Option<&'g Memo>) -> World<'g> {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        World {
            graph,
            now: OnceCell::new(),
            now_ms: Some(ms),
            memo,
        }
    }

    /// The current time as an `xsd:dateTime` literal, if known.
    pub fn now(&self) -> Option<&Term> {
        match self.now.get() {
            Some(t) => Some(t),
            None => self
                .now_ms
                .map(|ms| self.now.get_or_init(|| datetime_literal(ms))),
        }
    }

    /// The current time in milliseconds, if known.
    pub fn now_ms(&self) -> Option<i64> {
        self.now_ms
    }

    /// Whether `a` is `b` or (transitively) `odrl:partOf` it.
    fn part_of(&self, a: &Term, b: &Term) -> bool {
        if a == b {
            return true;
        }
        if let Some(memo) = self.memo
            && let Some(known) = memo.part_of.borrow().get(a).and_then(|m| m.get(b))
        {
            return *known;
        }
        let answer = self.reaches(
            a,
            b,
            &[&odrl("partOf"), "http://purl.org/dc/terms/isPartOf"],
            true,
        );
        if let Some(memo) = self.memo {
            let mut m = memo.part_of.borrow_mut();
            if m.len() > MEMO_LIMIT {
                m.clear();
            }
            m.entry(a.clone()).or_default().insert(b.clone(), answer);
        }
        answer
    }

    /// [`action_matches`], remembered.
    fn action_matches(&self, requested: &str, rule_action: &str, prohibition: bool) -> bool {
        if requested == rule_action {
            return true;
        }
        let Some(memo) = self.memo else {
            return action_matches(requested, rule_action, prohibition, self.graph);
        };
        let key = usize::from(prohibition);
        if let Some(known) = memo.actions[key]
            .borrow()
            .get(requested)
            .and_then(|m| m.get(rule_action))
        {
            return *known;
        }
        let answer = action_matches(requested, rule_action, prohibition, self.graph);
        let mut m = memo.actions[key].borrow_mut();
        if m.len() > MEMO_LIMIT {
            m.clear();
        }
        m.entry(requested.to_string())
            .or_default()
            .insert(rule_action.to_string(), answer);
        answer
    }

    /// Whether `b` is reachable from `a` along `predicates` (breadth first, cycle safe).
    fn reaches(&self, a: &Term, b: &Term, predicates: &[&str], reflexive: bool) -> bool {
        if reflexive && a == b {
            return true;
        }
        let mut seen: HashSet<&Term> = HashSet::new();
        let mut todo = vec![a];
        while let Some(n) = todo.pop() {
            for p in predicates {
                for o in self.graph.objects(n, p) {
                    if o == b {
                        return true;
                    }
                    if seen.insert(o) {
                        todo.push(o);
                    }
                }
            }
            if seen.len() > 10_000 {
                break;
            }
        }
        false
    }
}

/// How many first keys a [`Memo`] map holds before it starts over.
const MEMO_LIMIT: usize = 4096;

/// Answers that depend only on the graph, remembered between events: collection
/// memberships and action inclusions. One per parsed configuration.
#[derive(Debug, Default)]
pub struct Memo {
    part_of: RefCell<HashMap<Term, HashMap<Term, bool>>>,
    /// Indexed by whether `implies` counts (prohibitions).
    actions: [RefCell<HashMap<String, HashMap<String, bool>>>; 2],
}

/// Whether a requested action satisfies a rule's action: the same, included in it
/// (`odrl:includedIn`, transitively, from the ODRL vocabulary and the input graphs), an
/// exact match (`skos:exactMatch`), or — for prohibitions — implying it (`odrl:implies`).
pub fn action_matches(
    requested: &str,
    rule_action: &str,
    prohibition: bool,
    graph: &Graph,
) -> bool {
    if requested == rule_action {
        return true;
    }
    let graph_edges = graph.has_predicate(INCLUDED_IN_IRI)
        || graph.has_predicate(EXACT_MATCH_IRI)
        || (prohibition && graph.has_predicate(IMPLIES_IRI));
    if !graph_edges
        && let (Some(req), Some(goal)) = (
            requested.strip_prefix(vocab::ODRL),
            rule_action.strip_prefix(vocab::ODRL),
        )
    {
        // the vocabulary's hierarchy alone: walk up without allocating
        let mut at = req;
        for _ in 0..8 {
            match vocab::INCLUDED_IN.iter().find(|(x, _)| *x == at) {
                Some((_, up)) if *up == goal => return true,
                Some((_, up)) => at = up,
                None => break,
            }
        }
        if !vocab::EXACT_MATCH.iter().any(|(x, _)| *x == req) {
            return false;
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut todo = vec![requested.to_string()];
    while let Some(a) = todo.pop() {
        if a == rule_action {
            return true;
        }
        if !seen.insert(a.clone()) || seen.len() > 1000 {
            continue;
        }
        if let Some(local) = a.strip_prefix(vocab::ODRL) {
            for (x, up) in vocab::INCLUDED_IN {
                if *x == local {
                    todo.push(odrl(up));
                }
            }
            for (x, m) in vocab::EXACT_MATCH {
                if *x == local {
                    todo.push(m.to_string());
                }
            }
        }
        for (x, m) in vocab::EXACT_MATCH {
            if *m == a {
                todo.push(odrl(x));
            }
        }
        let node = rdf::iri(&a);
        let mut next: Vec<String> = Vec::new();
        let mut preds = vec![odrl("includedIn"), format!("{}exactMatch", vocab::SKOS)];
        if prohibition {
            preds.push(odrl("implies"));
        }
        for p in &preds {
            next.extend(
                graph
                    .objects(&node, p)
                    .filter_map(rdf::as_iri)
                    .map(str::to_string),
            );
        }
        let em = format!("{}exactMatch", vocab::SKOS);
        next.extend(
            graph
                .subjects(&em, &node)
                .filter_map(|t| rdf::as_iri(&t).map(str::to_string)),
        );
        todo.extend(next);
    }
    false
}

/// Evaluates one policy for every rule of the request (one rule report per policy rule
/// and requested rule).
pub fn evaluate(policy: &Policy, request: &Request, world: &World<'_>) -> PolicyReport {
    let mut rules = Vec::new();
    // remedies and consequences (ODRL 2.2 `failure`): duties that apply once their rule
    // is violated; reported after the policy's own rules
    let mut failures = Vec::new();
    for rule in &policy.permissions {
        let report = eval_rule(rule, request, world);
        for (duty, condition) in rule.duties.iter().zip(&report.conditions) {
            let violated = condition.deontic() == Deontic::Violated;
            for c in &duty.consequences {
                failures.push(eval_failure(c, violated, world));
            }
        }
        rules.push(report);
    }
    for rule in &policy.prohibitions {
        let report = eval_rule(rule, request, world);
        let infringed = report.deontic == Deontic::Violated;
        for remedy in &rule.remedies {
            failures.push(eval_failure(remedy, infringed, world));
        }
        rules.push(report);
    }
    for rule in &policy.obligations {
        let report = eval_duty(rule, world);
        let violated = report.deontic == Deontic::Violated;
        for c in &rule.consequences {
            failures.push(eval_failure(c, violated, world));
        }
        rules.push(report);
    }
    rules.extend(failures);
    PolicyReport {
        policy: policy.id.clone(),
        request: request.id.clone(),
        created: world.now().cloned(),
        rules,
    }
}

/// The decision of a policy for a request: the rules that make it permitted or denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An active permission and no overriding prohibition: the permission's index.
    Permit(usize),
    /// An active prohibition (index into the rule reports) wins.
    Prohibited(usize),
    /// No permission is active.
    NotPermitted,
}

/// Decides from a policy report: permitted when a permission is active, unless an active
/// prohibition wins under the policy's conflict strategy (`perm`: the permission wins;
/// `prohibit` and the default `invalid`: the prohibition does).
pub fn decide(policy: &Policy, report: &PolicyReport) -> Decision {
    let active = |r: &RuleReport| r.activation == Activation::Active;
    let permission = report
        .rules
        .iter()
        .position(|r| r.kind == RuleKind::Permission && active(r));
    let prohibition = report
        .rules
        .iter()
        .position(|r| r.kind == RuleKind::Prohibition && active(r));
    match (permission, prohibition) {
        (Some(p), None) => Decision::Permit(p),
        (Some(p), Some(_)) if policy.conflict == Conflict::Perm => Decision::Permit(p),
        (_, Some(x)) => Decision::Prohibited(x),
        (None, None) => Decision::NotPermitted,
    }
}

/// The decision alone, without building reports (the sharing path): the same semantics
/// as [`evaluate`] + [`decide`], stopping at the first unsatisfied premise. A
/// `Prohibited` index counts the permissions first, as in the report.
pub fn decide_fast(policy: &Policy, req: &Request, world: &World<'_>) -> Decision {
    let permission = policy
        .permissions
        .iter()
        .position(|r| rule_active(r, req, world));
    let prohibition = policy
        .prohibitions
        .iter()
        .position(|r| rule_active(r, req, world));
    combine(policy, permission, prohibition)
}

/// The decision from the first active permission and prohibition (indexes into the
/// policy's permissions and prohibitions), under the policy's conflict strategy.
pub fn combine(policy: &Policy, permission: Option<usize>, prohibition: Option<usize>) -> Decision {
    match (permission, prohibition) {
        (Some(p), None) => Decision::Permit(p),
        (Some(p), Some(_)) if policy.conflict == Conflict::Perm => Decision::Permit(p),
        (_, Some(x)) => Decision::Prohibited(policy.permissions.len() + x),
        (None, None) => Decision::NotPermitted,
    }
}

/// Whether the request falls under the rule: its target, assignee and action (without
/// refinements or constraints) match. A permitted share is an execution of the action of
/// every rule that covers it (for `odrl:count`).
pub fn rule_covers(rule: &Rule, req: &Request, world: &World<'_>) -> bool {
    let entity_ok = |entities: &[Entity], x: &Option<Term>| {
        entities.is_empty()
            || x.as_ref()
                .is_some_and(|x| entities.iter().any(|e| entity_matches(e, x, req, world)))
    };
    let prohibition = rule.kind == RuleKind::Prohibition;
    entity_ok(&rule.targets, &req.target)
        && entity_ok(&rule.assignees, &req.party)
        && req.action.as_deref().is_some_and(|requested| {
            rule.actions
                .iter()
                .any(|a| world.action_matches(requested, &a.iri, prohibition))
        })
}

/// Whether a permission or prohibition is active for the request.
pub fn rule_active(rule: &Rule, req: &Request, world: &World<'_>) -> bool {
    if !rule.targets.is_empty()
        && !req.target.as_ref().is_some_and(|t| {
            rule.targets
                .iter()
                .any(|e| entity_matches(e, t, req, world))
        })
    {
        return false;
    }
    if !rule.assignees.is_empty()
        && !req.party.as_ref().is_some_and(|p| {
            rule.assignees
                .iter()
                .any(|e| entity_matches(e, p, req, world))
        })
    {
        return false;
    }
    let prohibition = rule.kind == RuleKind::Prohibition;
    let action_ok = req.action.as_deref().is_some_and(|requested| {
        rule.actions.iter().any(|a| {
            world.action_matches(requested, &a.iri, prohibition)
                && a.refinements
                    .iter()
                    .all(|r| constraint_holds(r, None, req, world))
        })
    });
    action_ok
        && rule
            .constraints
            .iter()
            .all(|c| constraint_holds(c, None, req, world))
        && !rule.duties.iter().any(|d| duty_violated(d, world))
}

/// Whether a permission's duty is violated (the deontic state of [`condition`], without
/// building its report).
fn duty_violated(duty: &Rule, world: &World<'_>) -> bool {
    if let Some(node) = existing_duty_report(duty, world) {
        return existing_deontic(&node, world) == Deontic::Violated;
    }
    let req = Request::default();
    let mut active = true;
    let mut deadline_passed = false;
    for c in &duty.constraints {
        let holds = constraint_holds(c, None, &req, world);
        if is_deadline(c) {
            deadline_passed |= !holds;
        } else {
            active &= holds;
        }
    }
    let performance = earlier_performance(&duty.id, world).unwrap_or(if deadline_passed {
        Performance::Unperformed
    } else {
        Performance::Unknown
    });
    let activation = if active {
        Activation::Active
    } else {
        Activation::Inactive
    };
    Deontic::of(RuleKind::Duty, activation, performance) == Deontic::Violated
}

/// A deadline of a duty: `dateTime` `lt`/`lteq`.
fn is_deadline(c: &Constraint) -> bool {
    matches!(c, Constraint::Atomic(a) if a.left == DATETIME_IRI && matches!(a.op, Op::Lt | Op::Lteq))
}

/// Whether a constraint holds (no report).
pub fn constraint_holds(
    c: &Constraint,
    subject: Option<&Term>,
    req: &Request,
    world: &World<'_>,
) -> bool {
    match c {
        Constraint::Atomic(a) => atomic_holds(a, subject, req, world),
        Constraint::Logical(l) => {
            let op = l.operator.strip_prefix(vocab::ODRL).unwrap_or("");
            let mut n = 0;
            for c in &l.operands {
                let holds = constraint_holds(c, subject, req, world);
                match op {
                    "or" if holds => return true,
                    "xone" if holds && n == 1 => return false,
                    "and" | "andSequence" if !holds => return false,
                    _ => {}
                }
                n += usize::from(holds);
            }
            match op {
                "or" => n >= 1,
                "xone" => n == 1,
                _ => n == l.operands.len(),
            }
        }
    }
}

fn eval_rule(rule: &Rule, req: &Request, world: &World<'_>) -> RuleReport {
    let mut premises = Vec::new();
    let prohibition = rule.kind == RuleKind::Prohibition;
    if !rule.targets.is_empty() {
        let satisfied = req.target.as_ref().is_some_and(|t| {
            rule.targets
                .iter()
                .any(|e| entity_matches(e, t, req, world))
        });
        premises.push(PremiseReport::simple(PremiseKind::Target, satisfied));
    }
    if !rule.assignees.is_empty() {
        let satisfied = req.party.as_ref().is_some_and(|p| {
            rule.assignees
                .iter()
                .any(|e| entity_matches(e, p, req, world))
        });
        premises.push(PremiseReport::simple(PremiseKind::Party, satisfied));
    }
    premises.push(action_report(&rule.actions, req, world, prohibition));
    for c in &rule.constraints {
        premises.push(eval_constraint(c, None, req, world));
    }
    let mut conditions = Vec::new();
    for duty in &rule.duties {
        conditions.push(condition(duty, world));
    }
    let satisfied = premises.iter().all(|p| p.satisfied);
    let violated_duty = conditions.iter().any(|c| c.deontic() == Deontic::Violated);
    let activation = if satisfied && !violated_duty {
        Activation::Active
    } else {
        Activation::Inactive
    };
    let performance = earlier_performance(&rule.id, world).unwrap_or(Performance::Unknown);
    RuleReport {
        kind: rule.kind,
        rule: rule.id.clone(),
        rule_request: req.rule.clone(),
        attempted: Some(req.id.is_some() || req.rule.is_some()),
        premises,
        conditions,
        activation,
        performance,
        deontic: Deontic::of(rule.kind, activation, performance),
    }
}

fn action_report(
    actions: &[Action],
    req: &Request,
    world: &World<'_>,
    prohibition: bool,
) -> PremiseReport {
    let matching = req.action.as_deref().and_then(|requested| {
        actions
            .iter()
            .find(|a| action_matches(requested, &a.iri, prohibition, world.graph))
    });
    let mut report = PremiseReport::simple(PremiseKind::Action, matching.is_some());
    if let Some(action) = matching {
        for r in &action.refinements {
            let child = eval_constraint(r, None, req, world);
            report.satisfied &= child.satisfied;
            report.children.push(child);
        }
    }
    report
}

/// Whether the requested party or asset `x` is the entity, or a member of the collection
/// (through `odrl:partOf` to it or to its `odrl:source`) satisfying its refinements.
fn entity_matches(e: &Entity, x: &Term, req: &Request, world: &World<'_>) -> bool {
    if !e.collection {
        return &e.term == x;
    }
    let member =
        &e.term == x || world.part_of(x, &e.term) || e.sources.iter().any(|s| world.part_of(x, s));
    member
        && e.refinements
            .iter()
            .all(|r| constraint_holds(r, Some(x), req, world))
}

/// The report of a duty that is a permission's condition: an earlier report of it in the
/// state of the world, or a new evaluation.
fn condition(duty: &Rule, world: &World<'_>) -> ConditionReport {
    match existing_duty_report(duty, world) {
        Some(node) => {
            let deontic = existing_deontic(&node, world);
            ConditionReport::Existing { node, deontic }
        }
        None => ConditionReport::New(Box::new(eval_duty(duty, world))),
    }
}

/// An earlier `report:DutyReport` of `duty` in the state of the world.
fn existing_duty_report(duty: &Rule, world: &World<'_>) -> Option<Term> {
    let rule_p = vocab::report("rule");
    let duty_report = vocab::report("DutyReport");
    world
        .graph
        .subjects(&rule_p, &duty.id)
        .find(|r| world.graph.has_type(r, &duty_report))
}

/// The deontic state an earlier duty report states (or its activation and performance
/// imply).
fn existing_deontic(node: &Term, world: &World<'_>) -> Deontic {
    let g = world.graph;
    let state = |p: &str| {
        g.object(node, &vocab::report(p))
            .and_then(rdf::as_iri)
            .map(str::to_string)
    };
    match state("deonticState") {
        Some(s) => Deontic::from_iri(&s).unwrap_or(Deontic::NonSet),
        None => {
            let activation = state("activationState")
                .and_then(|s| Activation::from_iri(&s))
                .unwrap_or(Activation::Active);
            let performance = state("performanceState")
                .and_then(|s| Performance::from_iri(&s))
                .unwrap_or(Performance::Unknown);
            Deontic::of(RuleKind::Duty, activation, performance)
        }
    }
}

/// Evaluates a duty or obligation: active when its constraints (other than deadlines)
/// hold; performed as the state of the world says, unperformed once a
/// deadline (`dateTime` `lt`/`lteq`) has passed without performance, otherwise unknown.
fn eval_duty(duty: &Rule, world: &World<'_>) -> RuleReport {
    let req = Request::default();
    let mut premises = Vec::new();
    let mut deadline_passed = false;
    let mut active = true;
    for c in &duty.constraints {
        let r = eval_constraint(c, None, &req, world);
        if is_deadline(c) {
            deadline_passed |= !r.satisfied;
        } else {
            active &= r.satisfied;
        }
        premises.push(r);
    }
    // an action refinement says how the duty is to be performed (pay 500 EUR), not when it
    // applies: reported under the action, without effect on the activation
    for a in &duty.actions {
        if !a.refinements.is_empty() {
            let mut report = PremiseReport::simple(PremiseKind::Action, true);
            for c in &a.refinements {
                let child = eval_constraint(c, None, &req, world);
                report.satisfied &= child.satisfied;
                report.children.push(child);
            }
            premises.push(report);
        }
    }
    let activation = if active {
        Activation::Active
    } else {
        Activation::Inactive
    };
    let performance = earlier_performance(&duty.id, world).unwrap_or(if deadline_passed {
        Performance::Unperformed
    } else {
        Performance::Unknown
    });
    RuleReport {
        kind: RuleKind::Duty,
        rule: duty.id.clone(),
        rule_request: None,
        attempted: None,
        premises,
        conditions: Vec::new(),
        activation,
        performance,
        deontic: Deontic::of(RuleKind::Duty, activation, performance),
    }
}

/// The report of a remedy (of a prohibition) or consequence (of a duty): a duty that is
/// active only once its rule is violated — the prohibition infringed (active and
/// performed), the duty violated — and its own constraints hold.
fn eval_failure(duty: &Rule, triggered: bool, world: &World<'_>) -> RuleReport {
    let mut report = eval_duty(duty, world);
    if !triggered {
        report.activation = Activation::Inactive;
        report.deontic = Deontic::of(RuleKind::Duty, report.activation, report.performance);
    }
    report
}

/// The performance state an earlier report in the state of the world gives the rule.
fn earlier_performance(rule: &Term, world: &World<'_>) -> Option<Performance> {
    let rule_p = vocab::report("rule");
    world
        .graph
        .subjects(&rule_p, rule)
        .filter_map(|r| {
            world
                .graph
                .object(&r, &vocab::report("performanceState"))
                .and_then(rdf::as_iri)
                .and_then(Performance::from_iri)
        })
        .next()
}

/// The values of a left operand: given by the request, the current time for
/// `odrl:dateTime`, or facts about `subject` (refinements of collections) in the state of
/// the world.
fn left_values<'a>(
    left: &'a str,
    subject: Option<&Term>,
    req: &'a Request,
    world: &'a World<'_>,
) -> Vec<&'a Term> {
    let mut out: Vec<&Term> = req.values_of(left).collect();
    if out.is_empty() && left == DATETIME_IRI {
        out.extend(world.now());
    }
    if out.is_empty()
        && let Some(s) = subject
    {
        out.extend(world.graph.objects(s, left));
    }
    out
}

/// Evaluates a constraint (or refinement) into its premise report.
pub fn eval_constraint(
    c: &Constraint,
    subject: Option<&Term>,
    req: &Request,
    world: &World<'_>,
) -> PremiseReport {
    match c {
        Constraint::Atomic(a) => eval_atomic(a, subject, req, world),
        Constraint::Logical(l) => eval_logical(l, subject, req, world),
    }
}

fn eval_logical(
    l: &Logical,
    subject: Option<&Term>,
    req: &Request,
    world: &World<'_>,
) -> PremiseReport {
    let children: Vec<PremiseReport> = l
        .operands
        .iter()
        .map(|c| eval_constraint(c, subject, req, world))
        .collect();
    let n = children.iter().filter(|c| c.satisfied).count();
    let satisfied = match l.operator.strip_prefix(vocab::ODRL).unwrap_or("") {
        "or" => n >= 1,
        "xone" => n == 1,
        // and, andSequence: all of them (in order for andSequence; evaluation has no side
        // effects, so the order changes nothing here)
        _ => n == children.len(),
    };
    PremiseReport {
        kind: PremiseKind::Constraint,
        satisfied,
        constraint: Some(l.id.clone()),
        logical_operator: Some(l.operator.clone()),
        children,
        ..PremiseReport::default()
    }
}

fn eval_atomic(
    a: &Atomic,
    subject: Option<&Term>,
    req: &Request,
    world: &World<'_>,
) -> PremiseReport {
    let converted = in_constraint_unit(a, req, world);
    let (left, satisfied) = match &converted {
        // values in a unit that does not convert into the constraint's: not comparable
        Some(None) => (left_values(&a.left, subject, req, world), false),
        Some(Some(values)) => {
            let left: Vec<&Term> = values.iter().collect();
            let satisfied = !left.is_empty() && operator_holds(a, &left, world);
            (left, satisfied)
        }
        None => {
            let left = left_values(&a.left, subject, req, world);
            let satisfied = !left.is_empty() && operator_holds(a, &left, world);
            (left, satisfied)
        }
    };
    PremiseReport {
        kind: PremiseKind::Constraint,
        satisfied,
        constraint: Some(a.id.clone()),
        left: left.into_iter().cloned().collect(),
        operator: Some(a.operator.clone()),
        right: a.right.clone(),
        ..PremiseReport::default()
    }
}

fn equal(a: &Term, b: &Term) -> bool {
    match (a, b) {
        (Term::Literal(_), Term::Literal(_)) => {
            a == b || Value::of(a).compare(&Value::of(b)) == Some(Ordering::Equal)
        }
        _ => a == b,
    }
}

/// A left operand value, its comparable value computed once when needed.
enum Left<'a> {
    Term(&'a Term, Option<Value>),
    Now(Value),
}

impl Left<'_> {
    fn value(&mut self) -> &Value {
        match self {
            Left::Term(t, v) => v.get_or_insert_with(|| Value::of(t)),
            Left::Now(v) => v,
        }
    }

    /// [`equal`] to the right operand `r` (whose value is `rv`).
    fn equals(&mut self, r: &Term, rv: &Value) -> bool {
        match self {
            Left::Term(l, v) => {
                if matches!(l, Term::Literal(_)) && matches!(r, Term::Literal(_)) {
                    *l == r
                        || v.get_or_insert_with(|| Value::of(l)).compare(rv)
                            == Some(Ordering::Equal)
                } else {
                    *l == r
                }
            }
            Left::Now(v) => matches!(r, Term::Literal(_)) && v.compare(rv) == Some(Ordering::Equal),
        }
    }
}

/// Whether an atomic constraint holds: its left operand's values (see [`left_values`];
/// the wall clock's time compared without formatting it) against the right operand.
fn atomic_holds(a: &Atomic, subject: Option<&Term>, req: &Request, world: &World<'_>) -> bool {
    if a.left == DATETIME_IRI
        && !matches!(a.op, Op::IsA | Op::IsPartOf | Op::HasPart)
        && req.values_of(&a.left).next().is_none()
        && let Some(ms) = world.now_ms
    {
        return values_hold(a, &mut [Left::Now(Value::DateTime(ms))]);
    }
    if !req.units.is_empty() {
        match in_constraint_unit(a, req, world) {
            Some(None) => return false,
            Some(Some(values)) => {
                let left: Vec<&Term> = values.iter().collect();
                return !left.is_empty() && operator_holds(a, &left, world);
            }
            None => {}
        }
    }
    let left = left_values(&a.left, subject, req, world);
    !left.is_empty() && operator_holds(a, &left, world)
}

/// Whether `left op right` holds. Comparisons need every left value to compare with the
/// right operand; set operators treat both sides as sets.
pub fn operator_holds(a: &Atomic, left: &[&Term], world: &World<'_>) -> bool {
    match a.op {
        Op::IsA => left
            .iter()
            .any(|l| a.right.iter().any(|r| is_a(l, r, world))),
        Op::IsPartOf => left
            .iter()
            .any(|l| a.right.iter().any(|r| part_of(l, r, world))),
        Op::HasPart => left
            .iter()
            .any(|l| a.right.iter().any(|r| part_of(r, l, world))),
        _ => {
            let mut left: Vec<Left<'_>> = left.iter().map(|t| Left::Term(t, None)).collect();
            values_hold(a, &mut left)
        }
    }
}

/// The comparison and set operators on left values.
fn values_hold(a: &Atomic, left: &mut [Left<'_>]) -> bool {
    let right = a.right.iter().zip(&a.right_values);
    let cmp = |left: &mut [Left<'_>], want: &dyn Fn(Ordering) -> bool| {
        let Some(rv) = a.right_values.first() else {
            return false;
        };
        left.iter_mut()
            .all(|l| l.value().compare(rv).is_some_and(want))
    };
    let any_equal = |l: &mut Left<'_>| right.clone().any(|(r, rv)| l.equals(r, rv));
    match a.op {
        Op::Eq | Op::IsAnyOf => left.iter_mut().any(any_equal),
        Op::Neq | Op::IsNoneOf => !left.iter_mut().any(any_equal),
        Op::Lt => cmp(left, &|o| o == Ordering::Less),
        Op::Lteq => cmp(left, &|o| o != Ordering::Greater),
        Op::Gt => cmp(left, &|o| o == Ordering::Greater),
        Op::Gteq => cmp(left, &|o| o != Ordering::Less),
        Op::IsAllOf => right
            .clone()
            .all(|(r, rv)| left.iter_mut().any(|l| l.equals(r, rv))),
        Op::IsA | Op::IsPartOf | Op::HasPart => false,
    }
}

/// `l` is an instance of the class `r`, `r` itself, or a narrower concept of it
/// (`rdfs:subClassOf`, `skos:broader`, transitively).
fn is_a(l: &Term, r: &Term, world: &World<'_>) -> bool {
    let broader = format!("{}broader", vocab::SKOS);
    let up: [&str; 2] = [RDFS_SUBCLASS, &broader];
    if equal(l, r) || world.reaches(l, r, &up, false) {
        return true;
    }
    world
        .graph
        .objects(l, RDF_TYPE)
        .any(|c| c == r || world.reaches(c, r, &up, false))
}

/// `l` is part of `r`: the same, linked by `odrl:partOf` / `dct:isPartOf` (or `r`
/// `dct:hasPart` `l`), or text contained in text.
fn part_of(l: &Term, r: &Term, world: &World<'_>) -> bool {
    if equal(l, r) || world.part_of(l, r) {
        return true;
    }
    if world.reaches(r, l, &["http://purl.org/dc/terms/hasPart"], false) {
        return true;
    }
    match (l, r) {
        (Term::Literal(a), Term::Literal(b)) => b.value().contains(a.value()),
        _ => false,
    }
}

/// The current wall-clock time as an `xsd:dateTime` literal.
pub fn now_literal() -> Term {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    datetime_literal(ms)
}

/// An `xsd:dateTime` literal of milliseconds since the epoch.
pub fn datetime_literal(ms: i64) -> Term {
    Term::Literal(oxrdf::Literal::new_typed_literal(
        format_datetime(ms),
        oxrdf::NamedNode::new_unchecked(format!("{}dateTime", rdf::XSD)),
    ))
}
