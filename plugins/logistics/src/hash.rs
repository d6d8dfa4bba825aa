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

/// The namespace of a CURIE's prefix (`gs1`, `cbv`, `epcis` or the document's own) and
/// its local part.
fn curie_parts<'a>(value: &'a str, prefixes: &'a [(String, String)]) -> Option<(&'a str, &'a str)> {
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
    Some((ns, local))
}

/// The normalised form of one value for the pre-hash string.
pub fn canonical_value(
    parent: &str,
    name: &str,
    value: &str,
    prefixes: &[(String, String)],
) -> String {
    let mut out = String::new();
    write_canonical_value(&mut out, parent, name, value, prefixes);
    out
}

/// Whether a field name holds a date-time (`eventTime`, `startTime`, … but not
/// `eventTimeZoneOffset`).
fn is_time_name(name: &str) -> bool {
    let has = |word: &[u8]| {
        name.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    has(b"time") && !has(b"offset")
}

/// Appends the normalised form of one value (see [`canonical_value`]) to `out`.
pub fn write_canonical_value(
    out: &mut String,
    parent: &str,
    name: &str,
    value: &str,
    prefixes: &[(String, String)],
) {
    let v = value.trim();
    if is_time_name(name) && canon::write_canonical_datetime(out, v) {
        return;
    }
    if let Some(vocab) = field_vocabulary(parent, name)
        && let Some(word) = vocab.standard_term(v)
    {
        out.push_str(vocab.web_prefix());
        out.push_str(word);
        return;
    }
    if v.starts_with("urn:") {
        for (urn, web) in CBV_URNS {
            if let Some(rest) = v.strip_prefix(urn) {
                out.push_str(web);
                out.push_str(rest);
                return;
            }
        }
        if !digital_link::normalise_into(v, out) {
            out.push_str(v);
        }
        return;
    }
    if let Some(n) = canon::canonical_number(v) {
        out.push_str(&n);
        return;
    }
    if let Some((ns, local)) = curie_parts(v, prefixes) {
        let expanded = format!("{ns}{local}");
        if !digital_link::normalise_into(&expanded, out) {
            out.push_str(&expanded);
        }
        return;
    }
    if !digital_link::normalise_into(v, out) {
        out.push_str(v);
    }
}

/// The pre-hash string of one event.
pub fn pre_hash(event: &EpcisEvent, prefixes: &[(String, String)]) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str("eventType=");
    out.push_str(&event.event_type);
    write_ordered(&mut out, "", &event.fields, CANONICAL_ORDER, prefixes);
    write_sorted(
        &mut out,
        event.fields.iter().filter(|f| f.is_extension()),
        |out, f| write_extension(out, f, prefixes),
    );
    out
}

/// Appends the strings `write` makes of `items`, sorted. One item is written in place;
/// several go through one scratch buffer and are sorted as slices of it.
fn write_sorted<'a, I, F>(out: &mut String, items: I, write: F)
where
    I: Iterator<Item = &'a Node> + Clone,
    F: Fn(&mut String, &'a Node),
{
    let mut it = items.clone();
    let Some(first) = it.next() else {
        return;
    };
    if it.next().is_none() {
        write(out, first);
        return;
    }
    let mut scratch = String::with_capacity(1024);
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(8);
    for item in items {
        let start = scratch.len();
        write(&mut scratch, item);
        if scratch.len() > start {
            ranges.push((start, scratch.len()));
        }
    }
    ranges.sort_unstable_by(|a, b| scratch[a.0..a.1].cmp(&scratch[b.0..b.1]));
    for (a, b) in ranges {
        out.push_str(&scratch[a..b]);
    }
}

/// Appends a field's standard children in canonical order (each name's entries sorted).
fn write_ordered(
    out: &mut String,
    parent: &str,
    children: &[Node],
    order: &[(&str, Order)],
    prefixes: &[(String, String)],
) {
    for (name, sub) in order {
        write_sorted(
            out,
            children.iter().filter(|c| c.name == *name),
            |out, c| write_node(out, parent, c, *sub, prefixes),
        );
    }
}

/// Appends one standard field: `name=value` (the name alone when only its children have
/// content), its standard children in order, then its user extensions sorted; nothing
/// when it has no content at all.
fn write_node(
    out: &mut String,
    parent: &str,
    node: &Node,
    order: Order,
    prefixes: &[(String, String)],
) {
    let start = out.len();
    out.push_str(&node.name);
    let after_name = out.len();
    if let Some(v) = &node.value {
        out.push('=');
        write_canonical_value(out, parent, &node.name, v, prefixes);
        if out.len() == after_name + 1 {
            out.truncate(after_name);
        }
    }
    let has_value = out.len() > after_name;
    let tail_start = out.len();
    match order {
        Leaf => {}
        Sub(sub) => {
            write_ordered(out, &node.name, &node.children, sub, prefixes);
            write_sorted(
                out,
                node.children.iter().filter(|c| c.is_extension()),
                |out, c| write_extension(out, c, prefixes),
            );
        }
        Extensions => {
            write_sorted(out, node.children.iter(), |out, c| {
                write_extension(out, c, prefixes)
            });
        }
    }
    if !has_value && out.len() == tail_start {
        out.truncate(start);
    }
}

/// Appends `{namespace}local=value` followed by the sorted strings of its children.
fn write_extension(out: &mut String, node: &Node, prefixes: &[(String, String)]) {
    out.push_str(&node.name);
    if let Some(v) = &node.value {
        let eq = out.len();
        out.push('=');
        write_canonical_value(out, "", &node.name, v, prefixes);
        if out.len() == eq + 1 {
            out.truncate(eq);
        }
    }
    write_sorted(out, node.children.iter(), |out, c| {
        write_extension(out, c, prefixes)
    });
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
