//! Units of constraint operands (`odrl:unit`). The ODRL 2.2 Information Model gives a
//! constraint an optional unit of its right operand; a left operand value whose unit the
//! request states (`odrl:unit` on the request's constraint or parameter) is compared in
//! the constraint's unit: as it is when the units are the same, converted when the two
//! units convert into each other, and not at all (the constraint is not satisfied) when
//! they do not — different currencies, units of different quantities, unknown units.
//! A value without a stated unit is taken to be in the constraint's unit.
//!
//! Conversions: the state of the world's `qudt:conversionMultiplier` (and
//! `qudt:conversionOffset`, `qudt:hasQuantityKind`) of the two units, as QUDT defines
//! them (value in the base unit = value × multiplier + offset; units of different
//! quantity kinds do not convert); otherwise a built-in table of QUDT units of time,
//! length, mass and information (with QUDT's multipliers and quantity kinds, so they mix
//! with units described in the state of the world).

use oxrdf::{Literal, NamedNode, Term};

use super::value::Value;
use crate::rdf::{self, Graph, XSD};

/// The QUDT unit vocabulary.
pub const QUDT_UNIT: &str = "http://qudt.org/vocab/unit/";
/// The QUDT schema.
pub const QUDT: &str = "http://qudt.org/schema/qudt/";

/// QUDT quantity kinds.
pub const QUDT_KIND: &str = "http://qudt.org/vocab/quantitykind/";

const LN_2: f64 = std::f64::consts::LN_2;

/// QUDT units the evaluator converts without being told: (local name, quantity kind,
/// conversion multiplier as QUDT gives it: to the second, metre, kilogram, and for
/// information to the nat, a bit being ln 2 nat).
const BUILT_IN: &[(&str, &str, f64)] = &[
    ("SEC", "Time", 1.0),
    ("MilliSEC", "Time", 0.001),
    ("MicroSEC", "Time", 1e-6),
    ("MIN", "Time", 60.0),
    ("MinuteTime", "Time", 60.0),
    ("HR", "Time", 3600.0),
    ("DAY", "Time", 86_400.0),
    ("WK", "Time", 604_800.0),
    ("M", "Length", 1.0),
    ("MilliM", "Length", 0.001),
    ("CentiM", "Length", 0.01),
    ("KiloM", "Length", 1000.0),
    ("IN", "Length", 0.0254),
    ("FT", "Length", 0.3048),
    ("MI", "Length", 1609.344),
    ("KiloGM", "Mass", 1.0),
    ("GM", "Mass", 0.001),
    ("MilliGM", "Mass", 1e-6),
    ("TONNE", "Mass", 1000.0),
    ("BIT", "InformationEntropy", LN_2),
    ("BYTE", "InformationEntropy", 8.0 * LN_2),
    ("KiloBYTE", "InformationEntropy", 8e3 * LN_2),
    ("MegaBYTE", "InformationEntropy", 8e6 * LN_2),
    ("GigaBYTE", "InformationEntropy", 8e9 * LN_2),
    ("TeraBYTE", "InformationEntropy", 8e12 * LN_2),
    ("KibiBYTE", "InformationEntropy", 8.0 * 1024.0 * LN_2),
    (
        "MebiBYTE",
        "InformationEntropy",
        8.0 * 1024.0 * 1024.0 * LN_2,
    ),
    (
        "GibiBYTE",
        "InformationEntropy",
        8.0 * 1024.0 * 1024.0 * 1024.0 * LN_2,
    ),
];

/// How to bring a value into a unit's base: `value × multiplier + offset`, and what
/// quantity the unit measures (`None`: not stated).
#[derive(Debug, Clone, PartialEq)]
struct Scale {
    multiplier: f64,
    offset: f64,
    quantity: Option<String>,
}

fn scale(unit: &Term, graph: &Graph) -> Option<Scale> {
    let number = |p: &str| {
        graph
            .object(unit, &format!("{QUDT}{p}"))
            .and_then(|t| match Value::of(t) {
                Value::Number(n) => Some(n),
                Value::Text(s) => s.trim().parse().ok(),
                _ => None,
            })
    };
    if let Some(multiplier) = number("conversionMultiplier") {
        return Some(Scale {
            multiplier,
            offset: number("conversionOffset").unwrap_or(0.0),
            quantity: graph
                .object(unit, &format!("{QUDT}hasQuantityKind"))
                .and_then(rdf::as_iri)
                .map(str::to_string),
        });
    }
    let local = rdf::as_iri(unit)?.strip_prefix(QUDT_UNIT)?;
    let (_, quantity, multiplier) = BUILT_IN.iter().find(|(name, _, _)| *name == local)?;
    Some(Scale {
        multiplier: *multiplier,
        offset: 0.0,
        quantity: Some(format!("{QUDT_KIND}{quantity}")),
    })
}

/// How values in `from` become values in `to`: `Some(None)` when nothing changes (the
/// same unit), `Some(Some((a, b)))` for `value × a + b`, `None` when the units do not
/// convert into each other.
pub fn conversion(from: &Term, to: &Term, graph: &Graph) -> Option<Option<(f64, f64)>> {
    if from == to {
        return Some(None);
    }
    let (f, t) = (scale(from, graph)?, scale(to, graph)?);
    if let (Some(a), Some(b)) = (&f.quantity, &t.quantity)
        && a != b
    {
        return None;
    }
    if t.multiplier == 0.0 || !f.multiplier.is_finite() || !t.multiplier.is_finite() {
        return None;
    }
    Some(Some((
        f.multiplier / t.multiplier,
        (f.offset - t.offset) / t.multiplier,
    )))
}

/// `value × a + b` as an `xsd:double` literal; `None` for a value that is not a number.
pub fn convert(value: &Term, (a, b): (f64, f64)) -> Option<Term> {
    let Value::Number(n) = Value::of(value) else {
        return None;
    };
    let x = n * a + b;
    // round away binary noise (0.1 × 60 = 6.000000000000001)
    let x = (x * 1e9).round() / 1e9;
    Some(Term::Literal(Literal::new_typed_literal(
        format!("{x}"),
        NamedNode::new_unchecked(format!("{XSD}double")),
    )))
}
