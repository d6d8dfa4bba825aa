//! The EPCIS Event Hash ID (CBV 2.0 §8.9): the pre-hash string of an event (canonical
//! property order, normalised values, sorted lists, user extensions last) and its
//! `ni:///sha-256;<hex>?ver=CBV2.0` name (RFC 6920).
//!
//! Values are normalised before they are written: whitespace trimmed; date-times in UTC
//! with milliseconds (`…T10:00:30.000Z`, the third digit rounded on the fourth); numbers
//! without trailing zeros; CBV URNs (`urn:epcglobal:cbv:bizstep:shipping`), CURIEs
//! (`cbv:BizStep-shipping`, `gs1:Temperature`) and the bare words of JSON (`shipping`) as
//! GS1 Web URIs; EPC URIs as canonical GS1 Digital Links; Digital Links constrained
//! (`id.gs1.org`, no query, the finest key only). `eventID`, `recordTime`,
//! `errorDeclaration` and `certificationInfo` are not part of the pre-hash string.

use sha2::{Digest, Sha256};

use crate::canon;
use crate::digital_link;
use crate::model::{EpcisEvent, Node};
use crate::vocab::{self, Vocabulary};

/// The order of a field's children in the pre-hash string.
#[derive(Clone, Copy)]
enum Order {
    /// A field with a value only.
    Leaf,
    /// A field whose standard children come in this order.
    Sub(&'static [(&'static str, Order)]),
    /// A field whose children are all user extensions (ILMD).
    Extensions,
}

use Order::{Extensions, Leaf, Sub};

const EPCS: Order = Sub(&[("epc", Leaf)]);
const QUANTITIES: Order = Sub(&[(
    "quantityElement",
    Sub(&[("epcClass", Leaf), ("quantity", Leaf), ("uom", Leaf)]),
)]);
const WITH_TYPE: Order = Sub(&[("type", Leaf)]);

/// CBV 2.0 §8.9.2 canonical property order (after `eventType`).
const CANONICAL_ORDER: &[(&str, Order)] = &[
    ("eventTime", Leaf),
    ("eventTimeZoneOffset", Leaf),
    ("epcList", EPCS),
    ("parentID", Leaf),
    ("inputEPCList", EPCS),
    ("childEPCs", EPCS),
    ("quantityList", QUANTITIES),
    ("childQuantityList", QUANTITIES),
    ("inputQuantityList", QUANTITIES),
    ("outputEPCList", EPCS),
    ("outputQuantityList", QUANTITIES),
    ("action", Leaf),
    ("transformationID", Leaf),
    ("bizStep", Leaf),
    ("disposition", Leaf),
    (
        "persistentDisposition",
        Sub(&[("set", Leaf), ("unset", Leaf)]),
    ),
    ("readPoint", Sub(&[("id", Leaf)])),
    ("bizLocation", Sub(&[("id", Leaf)])),
    ("bizTransactionList", Sub(&[("bizTransaction", WITH_TYPE)])),
    ("sourceList", Sub(&[("source", WITH_TYPE)])),
    ("destinationList", Sub(&[("destination", WITH_TYPE)])),
    (
        "sensorElementList",
        Sub(&[(
            "sensorElement",
            Sub(&[
                (
                    "sensorMetadata",
                    Sub(&[
                        ("time", Leaf),
                        ("startTime", Leaf),
                        ("endTime", Leaf),
                        ("deviceID", Leaf),
                        ("deviceMetadata", Leaf),
                        ("rawData", Leaf),
                        ("dataProcessingMethod", Leaf),
                        ("bizRules", Leaf),
                    ]),
                ),
                (
                    "sensorReport",
                    Sub(&[
                        ("type", Leaf),
                        ("exception", Leaf),
                        ("deviceID", Leaf),
                        ("deviceMetadata", Leaf),
                        ("rawData", Leaf),
                        ("dataProcessingMethod", Leaf),
                        ("time", Leaf),
                        ("microorganism", Leaf),
                        ("chemicalSubstance", Leaf),
                        ("value", Leaf),
                        ("component", Leaf),
                        ("stringValue", Leaf),
                        ("booleanValue", Leaf),
                        ("hexBinaryValue", Leaf),
                        ("uriValue", Leaf),
                        ("minValue", Leaf),
                        ("maxValue", Leaf),
                        ("meanValue", Leaf),
                        ("sDev", Leaf),
                        ("percRank", Leaf),
                        ("percValue", Leaf),
                        ("uom", Leaf),
                        ("coordinateReferenceSystem", Leaf),
                    ]),
                ),
            ]),
        )]),
    ),
    ("ilmd", Extensions),
];

/// The vocabulary a standard field's values come from, by field and parent name.
pub fn field_vocabulary(parent: &str, name: &str) -> Option<Vocabulary> {
    Some(match (parent, name) {
        (_, "bizStep") => Vocabulary::BizStep,
        (_, "disposition") | ("persistentDisposition", "set" | "unset") => Vocabulary::Disposition,
        ("bizTransaction", "type") => Vocabulary::BizTransactionType,
        ("source" | "destination", "type") => Vocabulary::SourceDestType,
        ("errorDeclaration", "reason") => Vocabulary::ErrorReason,
        ("sensorReport", "type") => Vocabulary::MeasurementType,
        ("sensorReport", "exception") => Vocabulary::SensorAlertType,
        ("sensorReport", "component") => Vocabulary::Component,
        _ => return None,
    })
}

const CBV_URNS: &[(&str, &str)] = &[
    (
        "urn:epcglobal:cbv:bizstep:",
        "https://ref.gs1.org/cbv/BizStep-",
    ),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
];

/// Expands a CURIE with the standard prefixes `gs1`, `cbv`, `epcis` or the document's own.
fn expand_curie(value: &str, prefixes: &[(String, String)]) -> Option<String> {
    let (prefix, local) = value.split_once(':')?;
    if local.starts_with("//") {
        return None;
    }
    let ns = match prefix {
        "gs1" => vocab::GS1_VOC,
        "cbv" => vocab::CBV_WEB,
        "epcis" => vocab::EPCIS_NS,
        _ => prefixes.iter().find(|(p, _)| p == prefix)?.1.as_str(),
    };
    Some(format!("{ns}{local}"))
}

/// The normalised form of one value for the pre-hash string.
pub fn canonical_value(
    parent: &str,
    name: &str,
    value: &str,
    prefixes: &[(String, String)],
) -> String {
    let v = value.trim();
    let has = |word: &[u8]| {
        name.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    if has(b"time")
        && !has(b"offset")
        && let Some(t) = canon::canonical_datetime(v)
    {
        return t;
    }
    if let Some(vocab) = field_vocabulary(parent, name)
        && let Some(uri) = vocab.web_uri(v)
    {
        return uri;
    }
    for (urn, web) in CBV_URNS {
        if let Some(rest) = v.strip_prefix(urn) {
            return format!("{web}{rest}");
        }
    }
    if let Some(n) = canon::canonical_number(v) {
        return n;
    }
    let expanded;
    let v = match expand_curie(v, prefixes) {
        Some(e) if !v.starts_with("urn:") => {
            expanded = e;
            expanded.as_str()
        }
        _ => v,
    };
    if let Some(dl) = digital_link::normalise(v) {
        return dl;
    }
    v.to_string()
}

/// The pre-hash string of one event.
pub fn pre_hash(event: &EpcisEvent, prefixes: &[(String, String)]) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("eventType=");
    out.push_str(&event.event_type);
    ordered_children(&mut out, "", &event.fields, CANONICAL_ORDER, prefixes);
    let mut ext: Vec<String> = event
        .fields
        .iter()
        .filter(|f| f.is_extension())
        .map(|f| extension_string(f, prefixes))
        .collect();
    ext.sort_unstable();
    for e in ext {
        out.push_str(&e);
    }
    out
}

/// Appends a field's standard children in canonical order (each name's entries sorted),
/// then its user extensions, sorted.
fn ordered_children(
    out: &mut String,
    parent: &str,
    children: &[Node],
    order: &[(&str, Order)],
    prefixes: &[(String, String)],
) {
    let mut items: Vec<String> = Vec::new();
    for (name, sub) in order {
        items.clear();
        for c in children.iter().filter(|c| c.name == *name) {
            let s = node_string(parent, c, *sub, prefixes);
            if !s.is_empty() {
                items.push(s);
            }
        }
        items.sort_unstable();
        for s in &items {
            out.push_str(s);
        }
    }
}

fn node_string(parent: &str, node: &Node, order: Order, prefixes: &[(String, String)]) -> String {
    let mut s = String::new();
    if let Some(v) = &node.value {
        let c = canonical_value(parent, &node.name, v, prefixes);
        if !c.is_empty() {
            s.push_str(&node.name);
            s.push('=');
            s.push_str(&c);
        }
    }
    let mut tail = String::new();
    match order {
        Leaf => {}
        Sub(sub) => {
            ordered_children(&mut tail, &node.name, &node.children, sub, prefixes);
            let mut ext: Vec<String> = node
                .children
                .iter()
                .filter(|c| c.is_extension())
                .map(|c| extension_string(c, prefixes))
                .collect();
            ext.sort_unstable();
            for e in ext {
                tail.push_str(&e);
            }
        }
        Extensions => {
            let mut ext: Vec<String> = node
                .children
                .iter()
                .map(|c| extension_string(c, prefixes))
                .collect();
            ext.sort_unstable();
            for e in ext {
                tail.push_str(&e);
            }
        }
    }
    if tail.is_empty() && s.is_empty() {
        return String::new();
    }
    if s.is_empty() {
        s.push_str(&node.name);
    }
    s.push_str(&tail);
    s
}

/// `{namespace}local=value` followed by the sorted strings of its children.
fn extension_string(node: &Node, prefixes: &[(String, String)]) -> String {
    let mut s = node.name.clone();
    if let Some(v) = &node.value {
        let c = canonical_value("", &node.name, v, prefixes);
        if !c.is_empty() {
            s.push('=');
            s.push_str(&c);
        }
    }
    let mut kids: Vec<String> = node
        .children
        .iter()
        .map(|c| extension_string(c, prefixes))
        .collect();
    kids.sort_unstable();
    for k in kids {
        s.push_str(&k);
    }
    s
}

/// The Event Hash ID of a pre-hash string: `ni:///sha-256;<hex>?ver=CBV2.0`.
pub fn hash_id(pre_hash: &str) -> String {
    let digest = Sha256::digest(pre_hash.as_bytes());
    let mut s = String::with_capacity(90);
    s.push_str("ni:///sha-256;");
    for b in digest {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s.push_str("?ver=CBV2.0");
    s
}

/// The Event Hash ID of an event.
pub fn event_hash(event: &EpcisEvent, prefixes: &[(String, String)]) -> String {
    hash_id(&pre_hash(event, prefixes))
}
