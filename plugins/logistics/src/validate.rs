//! Checks of an event in the format-neutral model: value syntax (date-times, offsets,
//! URIs, EPC and Digital Link identifiers, numbers, units), CBV vocabularies, and the
//! presence rules the EPCIS 2.0 standard states per event type (§7.4) in prose and in its
//! schemas.

use std::collections::HashSet;

use crate::canon;
use crate::digital_link;
use crate::fields;
use crate::hash::field_vocabulary;
use crate::model::{EpcisEvent, Issue, Node, codes};
use crate::vocab::is_absolute_uri;

/// Findings of one event.
#[derive(Default)]
pub struct Findings {
    /// Errors (the event is invalid).
    pub errors: Vec<Issue>,
    /// Warnings.
    pub warnings: Vec<Issue>,
}

impl Findings {
    fn error(&mut self, code: &'static str, message: impl Into<String>, path: &str) {
        self.errors.push(Issue::new(code, message, path));
    }
}

/// Validates one event.
pub fn validate_event(event: &EpcisEvent) -> Findings {
    let mut f = Findings::default();
    let ty = event.event_type.as_str();
    let p = &event.path;
    // required fields of every event
    for req in ["eventTime", "eventTimeZoneOffset"] {
        if event.field(req).is_none() {
            f.error(codes::REQUIRED, format!("{ty} has no {req}"), p);
        }
    }
    // cardinality: standard fields at most once (certificationInfo may repeat)
    for (i, n) in event.fields.iter().enumerate() {
        let repeated = !n.is_extension()
            && n.name != "certificationInfo"
            && event.fields[..i].iter().any(|m| m.name == n.name);
        if repeated {
            f.error(
                codes::CARDINALITY,
                format!("{} is given more than once", n.name),
                &n.path,
            );
        }
    }
    let action = event.value("action");
    let has = |n: &str| event.field(n).is_some();
    let nonempty = |n: &str| event.field(n).is_some_and(|x| !x.children.is_empty());
    match ty {
        "ObjectEvent" | "AggregationEvent" | "TransactionEvent" | "AssociationEvent"
            if action.is_none() =>
        {
            f.error(
                codes::REQUIRED,
                format!("{ty} requires action (ADD, OBSERVE or DELETE)"),
                p,
            );
        }
        _ => {}
    }
    match ty {
        "ObjectEvent" => {
            // EPCIS 2.0 §7.4.2: an ObjectEvent identifies objects by epcList or quantityList
            // (or, for pure sensor observations, a sensorElementList at a readPoint)
            let names_objects = has("epcList")
                || nonempty("quantityList")
                || (nonempty("sensorElementList") && has("readPoint"));
            if !names_objects {
                f.error(
                    codes::RULE,
                    "ObjectEvent needs epcList or a non-empty quantityList (or sensorElementList with readPoint)",
                    p,
                );
            }
            if has("ilmd") && action != Some("ADD") {
                f.error(
                    codes::RULE,
                    "ilmd is only allowed in an ObjectEvent with action ADD (EPCIS 2.0 §7.4.2)",
                    p,
                );
            }
        }
        "AggregationEvent" => {
            if matches!(action, Some("ADD" | "DELETE")) && !has("parentID") {
                f.error(
                    codes::RULE,
                    format!(
                        "AggregationEvent with action {} requires parentID (EPCIS 2.0 §7.4.3)",
                        action.unwrap_or("")
                    ),
                    p,
                );
            }
            if action == Some("ADD") && !nonempty("childEPCs") && !nonempty("childQuantityList") {
                f.error(
                    codes::RULE,
                    "AggregationEvent with action ADD requires childEPCs or childQuantityList",
                    p,
                );
            }
        }
        "AssociationEvent" => {
            if !has("parentID") {
                f.error(
                    codes::REQUIRED,
                    "AssociationEvent requires parentID (EPCIS 2.0 §7.4.6)",
                    p,
                );
            }
            if action == Some("ADD") && !nonempty("childEPCs") && !nonempty("childQuantityList") {
                f.error(
                    codes::RULE,
                    "AssociationEvent with action ADD requires childEPCs or childQuantityList",
                    p,
                );
            }
        }
        "TransactionEvent" => {
            if !nonempty("bizTransactionList") {
                f.error(
                    codes::REQUIRED,
                    "TransactionEvent requires a non-empty bizTransactionList (EPCIS 2.0 §7.4.4)",
                    p,
                );
            }
            if !has("epcList") && !nonempty("quantityList") && !has("parentID") {
                f.error(
                    codes::RULE,
                    "TransactionEvent needs epcList, quantityList or parentID",
                    p,
                );
            }
        }
        "TransformationEvent" => {
            let input = nonempty("inputEPCList") || nonempty("inputQuantityList");
            let output = nonempty("outputEPCList") || nonempty("outputQuantityList");
            let complete = has("transformationID") || (input && output);
            if !complete {
                f.error(
                    codes::RULE,
                    "TransformationEvent needs at least one input and one output, or a transformationID (EPCIS 2.0 §7.4.5)",
                    p,
                );
            }
        }
        _ => {}
    }
    for n in &event.fields {
        check_node(&mut f, "", n);
    }
    f
}

fn check_uri(f: &mut Findings, n: &Node, v: &str) {
    if !is_absolute_uri(v) {
        f.error(
            codes::URI,
            format!("{} `{v}` is not an absolute URI", n.name),
            &n.path,
        );
    } else if let Err(e) = digital_link::check_identifier(v) {
        f.error(codes::IDENTIFIER, format!("{}: {e}", n.name), &n.path);
    }
}

fn check_time(f: &mut Findings, n: &Node, v: &str) {
    if let Err(e) = canon::parse_datetime(v.trim()) {
        f.error(codes::DATETIME, format!("{}: {e}", n.name), &n.path);
    }
}

fn check_node(f: &mut Findings, parent: &str, n: &Node) {
    if n.is_extension() {
        return;
    }
    let name: &str = &n.name;
    let value = n.value.as_deref();
    if let Some(vocab) = field_vocabulary(parent, name) {
        if let Some(v) = value
            && let Err(e) = vocab.check(v.trim())
        {
            f.error(codes::VOCAB, format!("{name}: {e}"), &n.path);
        }
    } else if let Some(v) = value {
        match (parent, name) {
            (_, "eventTime" | "recordTime" | "declarationTime")
            | ("sensorMetadata" | "sensorReport", "time" | "startTime" | "endTime") => {
                check_time(f, n, v)
            }
            ("", "eventTimeZoneOffset") => {
                if let Err(e) = canon::check_tz_offset(v) {
                    f.error(codes::TZ_OFFSET, e, &n.path);
                }
            }
            ("", "action") => {
                if !matches!(v, "ADD" | "OBSERVE" | "DELETE") {
                    f.error(
                        codes::ENUM,
                        format!("action `{v}` is not ADD, OBSERVE or DELETE"),
                        &n.path,
                    );
                }
            }
            ("quantityElement", "quantity") => {
                if !canon::is_number(v.trim()) {
                    f.error(
                        codes::NUMBER,
                        format!("quantity `{v}` is not a decimal number"),
                        &n.path,
                    );
                }
            }
            (_, "uom") => {
                let ok = (2..=3).contains(&v.len())
                    && v.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
                if !ok {
                    f.error(codes::UOM, format!("uom `{v}` is not a UN/CEFACT Rec. 20 code (2–3 upper-case letters or digits)"), &n.path);
                }
            }
            ("sensorReport", a) if fields::is_numeric_sensor_attr(a) => {
                if !canon::is_number(v.trim()) {
                    f.error(codes::NUMBER, format!("{a} `{v}` is not a number"), &n.path);
                }
            }
            ("sensorReport", "booleanValue") => {
                if !matches!(v.trim(), "true" | "false" | "1" | "0") {
                    f.error(
                        codes::TYPE,
                        format!("booleanValue `{v}` is not a boolean"),
                        &n.path,
                    );
                }
            }
            ("sensorReport", "hexBinaryValue") => {
                let t = v.trim();
                if t.len() % 2 != 0 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    f.error(
                        codes::TYPE,
                        format!("hexBinaryValue `{v}` is not hexBinary"),
                        &n.path,
                    );
                }
            }
            ("sensorReport", "stringValue") => {}
            ("sensorMetadata" | "sensorReport", a) if fields::is_uri_sensor_attr(a) => {
                check_uri(f, n, v.trim())
            }
            _ => check_uri(f, n, v.trim()),
        }
    }
    // structure per field
    match name {
        "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => {
            // a linear scan for the usual short lists, a set for long ones
            let mut seen = HashSet::new();
            for (i, c) in n.children.iter().enumerate() {
                let Some(v) = &c.value else { continue };
                let twice = if n.children.len() <= 32 {
                    n.children[..i].iter().any(|d| d.value.as_ref() == Some(v))
                } else {
                    !seen.insert(v.as_str())
                };
                if twice {
                    f.error(codes::UNIQUE, format!("{name} lists `{v}` twice"), &c.path);
                }
            }
        }
        "quantityElement" => {
            if n.child("epcClass").is_none() {
                f.error(
                    codes::REQUIRED,
                    "quantityElement requires epcClass",
                    &n.path,
                );
            }
            if n.child("uom").is_some() && n.child("quantity").is_none() {
                f.error(
                    codes::RULE,
                    "quantityElement has uom without quantity",
                    &n.path,
                );
            }
        }
        "readPoint" | "bizLocation" if n.child("id").is_none() => {
            f.error(codes::REQUIRED, format!("{name} requires id"), &n.path);
        }
        "bizTransaction" if n.value.as_deref().is_none_or(|v| v.trim().is_empty()) => {
            f.error(
                codes::REQUIRED,
                "bizTransaction requires its identifier",
                &n.path,
            );
        }
        "source" | "destination" => {
            if n.value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                f.error(
                    codes::REQUIRED,
                    format!("{name} requires its identifier"),
                    &n.path,
                );
            }
            if n.child("type").is_none() {
                f.error(
                    codes::REQUIRED,
                    format!(
                        "{name} requires a type (owning_party, possessing_party, location or a URI)"
                    ),
                    &n.path,
                );
            }
        }
        "bizTransactionList" | "sourceList" | "destinationList" | "sensorElementList"
            if n.children.is_empty() =>
        {
            f.error(
                codes::REQUIRED,
                format!("{name} must not be empty"),
                &n.path,
            );
        }
        "sensorElement" if n.child("sensorReport").is_none() => {
            f.error(
                codes::REQUIRED,
                "sensorElement requires at least one sensorReport",
                &n.path,
            );
        }
        "sensorReport" => {
            let has = |a: &str| n.child(a).is_some();
            // EPCIS 2.0 §7.3.8: chemicalSubstance and microorganism exclude each other; a
            // numeric value is qualified by uom
            if has("chemicalSubstance") && has("microorganism") {
                f.error(
                    codes::RULE,
                    "sensorReport has both chemicalSubstance and microorganism",
                    &n.path,
                );
            }
            let numeric = [
                "value",
                "minValue",
                "maxValue",
                "meanValue",
                "sDev",
                "percValue",
            ]
            .iter()
            .any(|a| has(a));
            if numeric && !has("uom") && !has("type") {
                f.warnings.push(Issue::new(
                    codes::UOM,
                    "sensorReport has a numeric value but neither type nor uom",
                    n.path.clone(),
                ));
            }
            if has("percValue") && !has("percRank") {
                f.error(
                    codes::RULE,
                    "sensorReport has percValue without percRank",
                    &n.path,
                );
            }
        }
        "persistentDisposition" if n.children.is_empty() => {
            f.error(
                codes::REQUIRED,
                "persistentDisposition needs set or unset",
                &n.path,
            );
        }
        "errorDeclaration" if n.child("declarationTime").is_none() => {
            f.error(
                codes::REQUIRED,
                "errorDeclaration requires declarationTime",
                &n.path,
            );
        }
        _ => {}
    }
    for c in &n.children {
        check_node(f, name, c);
    }
}
