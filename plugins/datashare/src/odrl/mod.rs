//! ODRL 2.2 policy evaluation producing compliance reports.
//!
//! [`evaluate_documents`] takes a policy, a request and a state of the world (Turtle or
//! JSON-LD) and returns the compliance report in Turtle.
//!
//! Requests are either an `odrl:Request` whose `odrl:permission` names the assignee,
//! action and target (its constraints with `odrl:eq` / `odrl:isAnyOf` give left operand
//! values such as the purpose), or a `sotw:EvaluationRequest` with `sotw:requestingParty`,
//! `sotw:requestedAction`, `sotw:requestedTarget` and `sotw:requestParameter`s. The current
//! time is `temp:currentTime dct:issued` in the state of the world (or the request's
//! `sotw:TemporalData` parameter, or `dct:issued`).

pub mod eval;
pub mod model;
pub mod report;
pub mod unit;
pub mod value;
pub mod vocab;

use oxrdf::Term;

use crate::rdf::{self, Graph};
use eval::{Request, World};
use vocab::{DCT, odrl, sotw};

/// Parses the three documents, evaluates every policy against every request rule and
/// returns the reports in Turtle. Errors name the document and the problem.
pub fn evaluate_documents(
    policy: &str,
    request: &str,
    sotw_text: &str,
    options: report::TurtleOptions,
) -> Result<String, String> {
    let pg = rdf::parse_document(policy, "policy")?;
    let rg = rdf::parse_document(request, "request")?;
    let sg = rdf::parse_document(sotw_text, "sotw")?;
    let policies = model::read_policies(&pg).map_err(|e| format!("policy: {e}"))?;
    let requests = read_requests(&rg)?;
    let mut all = pg;
    all.extend(&rg);
    all.extend(&sg);
    let now = current_time(&all).or_else(|| Some(eval::now_literal()));
    let world = World::new(&all, now);
    let mut reports = Vec::new();
    for p in &policies {
        for r in &requests {
            reports.push(eval::evaluate(p, r, &world));
        }
    }
    Ok(report::to_turtle(&reports, options))
}

/// The current time of a state of the world: `temp:currentTime dct:issued`, a
/// `sotw:TemporalData` request parameter, or an evaluation request's `dct:issued`.
pub fn current_time(g: &Graph) -> Option<Term> {
    let issued = format!("{DCT}issued");
    if let Some(t) = g.object(&rdf::iri(vocab::CURRENT_TIME), &issued) {
        return Some(t.clone());
    }
    let temporal = rdf::iri(&sotw("TemporalData"));
    for p in g.subjects(&sotw("describesFeature"), &temporal) {
        if let Some(v) = g.object(&p, &sotw("value")) {
            return Some(v.clone());
        }
    }
    g.subjects_of_type(&sotw("EvaluationRequest"))
        .iter()
        .find_map(|r| g.object(r, &issued).cloned())
}

/// Reads the requests of a request document: one [`Request`] per rule of each
/// `odrl:Request`, and one per `sotw:EvaluationRequest`.
pub fn read_requests(g: &Graph) -> Result<Vec<Request>, String> {
    let mut out = Vec::new();
    for req in g.subjects_of_type(&odrl("Request")) {
        let rules = g.values(&req, &odrl("permission"));
        if rules.is_empty() {
            return Err(format!(
                "request: odrl:Request {req} has no odrl:permission"
            ));
        }
        for rule in rules {
            let first = |p: &str| {
                g.object(&rule, &odrl(p))
                    .or_else(|| g.object(&req, &odrl(p)))
                    .cloned()
            };
            let action_node = first("action");
            let action = action_node.as_ref().map(|a| {
                g.object(a, rdf::RDF_VALUE)
                    .cloned()
                    .unwrap_or_else(|| a.clone())
            });
            let mut values = Vec::new();
            let mut units = Vec::new();
            for c in g.values(&rule, &odrl("constraint")) {
                request_values(g, &c, &mut values, &mut units)?;
            }
            if let Some(a) = &action_node {
                for c in g.values(a, &odrl("refinement")) {
                    request_values(g, &c, &mut values, &mut units)?;
                }
            }
            out.push(Request {
                id: Some(req.clone()),
                rule: Some(rule.clone()),
                party: first("assignee"),
                action: action.as_ref().and_then(rdf::as_iri).map(str::to_string),
                target: first("target"),
                values,
                units,
            });
        }
    }
    for req in g.subjects_of_type(&sotw("EvaluationRequest")) {
        let first = |p: &str| g.object(&req, &sotw(p)).cloned();
        let mut values = Vec::new();
        let mut units = Vec::new();
        for param in g.values(&req, &sotw("requestParameter")) {
            let (Some(feature), Some(value)) = (
                g.object(&param, &sotw("describesFeature"))
                    .and_then(rdf::as_iri),
                g.object(&param, &sotw("value")),
            ) else {
                continue;
            };
            let operand = feature_operand(feature);
            if let Some(unit) = g.object(&param, &odrl("unit")) {
                units.push((operand.clone(), unit.clone()));
            }
            values.push((operand, value.clone()));
        }
        out.push(Request {
            id: Some(req.clone()),
            rule: Some(req.clone()),
            party: first("requestingParty"),
            action: first("requestedAction")
                .as_ref()
                .and_then(rdf::as_iri)
                .map(str::to_string),
            target: first("requestedTarget"),
            values,
            units,
        });
    }
    if out.is_empty() {
        return Err("request: no odrl:Request or sotw:EvaluationRequest found".into());
    }
    Ok(out)
}

/// The ODRL left operand a `sotw:describesFeature` value stands for.
fn feature_operand(feature: &str) -> String {
    if let Some(local) = feature.strip_prefix(vocab::SOTW) {
        if local == "TemporalData" {
            return odrl("dateTime");
        }
        let mut c = local.chars();
        if let Some(f) = c.next() {
            return odrl(&(f.to_ascii_lowercase().to_string() + c.as_str()));
        }
    }
    feature.to_string()
}

/// The facts a request's constraint states: `eq` gives the value, `isAnyOf` / `isAllOf`
/// each value (and `odrl:unit` their unit); logical constraints contribute their
/// operands' facts.
fn request_values(
    g: &Graph,
    c: &Term,
    out: &mut Vec<(String, Term)>,
    units: &mut Vec<(String, Term)>,
) -> Result<(), String> {
    match model::read_constraint(g, c, 0).map_err(|e| format!("request: {e}"))? {
        model::Constraint::Atomic(a) => {
            if ["eq", "isAnyOf", "isAllOf"]
                .iter()
                .any(|o| odrl(o) == a.operator)
            {
                if let Some(unit) = a.unit {
                    units.push((a.left.clone(), unit));
                }
                out.extend(a.right.into_iter().map(|v| (a.left.clone(), v)));
            }
        }
        model::Constraint::Logical(l) => {
            for op in l.operands {
                request_values(g, op.id(), out, units)?;
            }
        }
    }
    Ok(())
}
