//! The document header: the EPCIS header with its Standard Business Document Header
//! (SBDH, UN/CEFACT, XML only) and master data (`EPCISMasterData` > vocabularies >
//! vocabulary elements > attributes and children), checked against the standard's schemas:
//!
//! - XML: `EPCglobal-epcis-2_0.xsd` (`EPCISHeaderType`, `EPCISHeaderExtensionType`,
//!   `EPCISMasterDataType`, `VocabularyListType` … `IDListType`) and the SBDH schemas
//!   (`StandardBusinessDocumentHeader.xsd`, `Partner.xsd`, `DocumentIdentification.xsd`,
//!   `Manifest.xsd`, `BusinessScope.xsd`): element order, required and repeated elements,
//!   unknown elements, required attributes, simple types (`xs:dateTime`, `xs:boolean`,
//!   `xs:integer`, `xs:anyURI`);
//! - JSON: `EPCIS-JSON-Schema.json` (`epcisHeader`, `vocabulary`, `vocabularyElement`,
//!   `attribute`): property names, JSON types, required `type` / `id`, URIs;
//!
//! and, beyond the schemas, vocabulary element ids that are EPC URIs or GS1 Digital Links
//! must be well-formed (the same check as the events' identifiers).

use roxmltree::{Node as XNode, NodeType};
use serde_json::{Map, Value};

use crate::model::codes;
use crate::vocab::is_absolute_uri;
use crate::{Document, digital_link};

/// The SBDH namespace.
pub const SBDH_NS: &str = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader";

/// The simple type of an element's text or an attribute.
#[derive(Clone, Copy)]
enum Simple {
    /// `xs:string`.
    String,
    /// `xs:boolean`.
    Boolean,
    /// `xs:integer`.
    Integer,
    /// `xs:dateTime` (the time zone is optional in XSD).
    DateTime,
    /// `xs:anyURI` (checked as an absolute URI, as EPCIS uses it).
    AnyUri,
}

/// The content of an element.
#[derive(Clone, Copy)]
enum Content {
    /// Text of a simple type, no child elements.
    Text(Simple),
    /// Text with optional attributes (`PartnerIdentification`: `Authority`).
    TextWithAttrs(Simple, &'static [&'static str]),
    /// An `xsd:sequence` of child elements, then (if `other`) elements of other namespaces.
    Sequence { items: &'static [Item], other: bool },
    /// Anything (`xs:anyType`, `##local` extension wrappers): not checked further.
    Any,
}

/// One element of a sequence.
#[derive(Clone, Copy)]
struct Item {
    name: &'static str,
    min: u32,
    /// `None`: unbounded.
    max: Option<u32>,
    content: Content,
}

const fn one(name: &'static str, content: Content) -> Item {
    Item {
        name,
        min: 1,
        max: Some(1),
        content,
    }
}

const fn opt(name: &'static str, content: Content) -> Item {
    Item {
        name,
        min: 0,
        max: Some(1),
        content,
    }
}

const fn many(name: &'static str, min: u32, content: Content) -> Item {
    Item {
        name,
        min,
        max: None,
        content,
    }
}

const STRING: Content = Content::Text(Simple::String);

// --- SBDH (namespace SBDH_NS, elementFormDefault qualified) ---

const CONTACT_INFORMATION: &[Item] = &[
    one("Contact", STRING),
    opt("EmailAddress", STRING),
    opt("FaxNumber", STRING),
    opt("TelephoneNumber", STRING),
    opt("ContactTypeIdentifier", STRING),
];

const PARTNER: &[Item] = &[
    one(
        "Identifier",
        Content::TextWithAttrs(Simple::String, &["Authority"]),
    ),
    many(
        "ContactInformation",
        0,
        Content::Sequence {
            items: CONTACT_INFORMATION,
            other: false,
        },
    ),
];

const DOCUMENT_IDENTIFICATION: &[Item] = &[
    one("Standard", STRING),
    one("TypeVersion", STRING),
    one("InstanceIdentifier", STRING),
    one("Type", STRING),
    opt("MultipleType", Content::Text(Simple::Boolean)),
    one("CreationDateAndTime", Content::Text(Simple::DateTime)),
];

const MANIFEST_ITEM: &[Item] = &[
    one("MimeTypeQualifierCode", STRING),
    one("UniformResourceIdentifier", Content::Text(Simple::AnyUri)),
    opt("Description", STRING),
    opt("LanguageCode", STRING),
];

const MANIFEST: &[Item] = &[
    one("NumberOfItems", Content::Text(Simple::Integer)),
    many(
        "ManifestItem",
        1,
        Content::Sequence {
            items: MANIFEST_ITEM,
            other: false,
        },
    ),
];

const CORRELATION_INFORMATION: &[Item] = &[
    opt(
        "RequestingDocumentCreationDateTime",
        Content::Text(Simple::DateTime),
    ),
    opt("RequestingDocumentInstanceIdentifier", STRING),
    opt("ExpectedResponseDateTime", Content::Text(Simple::DateTime)),
];

const BUSINESS_SERVICE: &[Item] = &[
    opt("BusinessServiceName", STRING),
    // attributes only (TypeOfServiceTransaction, Is…Required, TimeTo…)
    opt("ServiceTransaction", Content::Any),
];

/// `ScopeInformation` is abstract: its substitution group is `CorrelationInformation` and
/// `BusinessService`; both may repeat, in any mix, after the scope attributes.
const SCOPE: &[Item] = &[
    one("Type", STRING),
    one("InstanceIdentifier", STRING),
    opt("Identifier", STRING),
];

const SBDH: &[Item] = &[
    one("HeaderVersion", STRING),
    many(
        "Sender",
        1,
        Content::Sequence {
            items: PARTNER,
            other: false,
        },
    ),
    many(
        "Receiver",
        1,
        Content::Sequence {
            items: PARTNER,
            other: false,
        },
    ),
    one(
        "DocumentIdentification",
        Content::Sequence {
            items: DOCUMENT_IDENTIFICATION,
            other: false,
        },
    ),
    opt(
        "Manifest",
        Content::Sequence {
            items: MANIFEST,
            other: false,
        },
    ),
    // BusinessScope: Scope* (checked by check_business_scope)
    opt("BusinessScope", Content::Any),
];

/// Checks an XML `EPCISHeader` (`EPCISHeaderType`): `sbdh:StandardBusinessDocumentHeader?`,
/// `extension?` (`EPCISMasterData?`, `extension?`); no other elements.
pub fn check_xml_header(doc: &mut Document, header: XNode<'_, '_>, path: &str) {
    let mut stage = 0; // 0: start, 1: after SBDH, 2: after extension
    for c in elements(header) {
        let tag = c.tag_name();
        let cp = format!("{path}/{}", qname(c));
        match (tag.namespace(), tag.name()) {
            (Some(SBDH_NS), "StandardBusinessDocumentHeader") => {
                if stage >= 1 {
                    doc.error(
                        if stage == 1 {
                            codes::CARDINALITY
                        } else {
                            codes::ORDER
                        },
                        "StandardBusinessDocumentHeader must come first in EPCISHeader, once",
                        &cp,
                    );
                }
                stage = stage.max(1);
                check_sbdh(doc, c, &cp);
            }
            (None, "extension") => {
                if stage == 2 {
                    doc.error(
                        codes::CARDINALITY,
                        "EPCISHeader has more than one extension",
                        &cp,
                    );
                }
                stage = 2;
                check_header_extension(doc, c, &cp);
            }
            (None, "EPCISMasterData") => doc.error(
                codes::UNKNOWN_FIELD,
                "EPCISMasterData belongs in EPCISHeader/extension (EPCIS 2.0 XML schema, EPCISHeaderExtensionType)",
                cp,
            ),
            (Some(ns), name) if ns == SBDH_NS => doc.error(
                codes::UNKNOWN_FIELD,
                format!(
                    "sbdh:{name} is not an element of EPCISHeader (only sbdh:StandardBusinessDocumentHeader)"
                ),
                cp,
            ),
            (_, name) => doc.error(
                codes::UNKNOWN_FIELD,
                format!(
                    "`{name}` is not an element of EPCISHeader (sbdh:StandardBusinessDocumentHeader, extension)"
                ),
                cp,
            ),
        }
    }
}

/// `EPCISHeaderExtensionType`: `EPCISMasterData?`, `extension?` (`##local` content).
fn check_header_extension(doc: &mut Document, ext: XNode<'_, '_>, path: &str) {
    let mut stage = 0;
    for c in elements(ext) {
        let cp = format!("{path}/{}", qname(c));
        match (c.tag_name().namespace(), c.tag_name().name()) {
            (None, "EPCISMasterData") => {
                if stage >= 1 {
                    doc.error(
                        codes::ORDER,
                        "EPCISMasterData must come first in the header extension, once",
                        &cp,
                    );
                }
                stage = stage.max(1);
                check_xml_master_data(doc, c, &cp);
            }
            (None, "extension") => {
                if stage == 2 {
                    doc.error(
                        codes::CARDINALITY,
                        "the header extension has more than one extension",
                        &cp,
                    );
                }
                stage = 2;
            }
            (_, name) => doc.error(
                codes::UNKNOWN_FIELD,
                format!(
                    "`{name}` is not an element of the EPCIS header extension (EPCISMasterData, extension)"
                ),
                cp,
            ),
        }
    }
}

/// `EPCISMasterDataType`: `VocabularyList`, `extension?`. Also the body of an
/// `EPCISMasterDataDocument` (`VocabularyList?`, `extension?`, `##other*`) with
/// `required = false`.
pub fn check_xml_master_data(doc: &mut Document, md: XNode<'_, '_>, path: &str) {
    check_vocabulary_container(doc, md, path, true, false);
}

/// The body of an `EPCISMasterDataDocument` (`EPCISMasterDataBodyType`).
pub fn check_xml_master_data_body(doc: &mut Document, body: XNode<'_, '_>, path: &str) {
    check_vocabulary_container(doc, body, path, false, true);
}

fn check_vocabulary_container(
    doc: &mut Document,
    md: XNode<'_, '_>,
    path: &str,
    list_required: bool,
    other: bool,
) {
    let mut stage = 0;
    let mut has_list = false;
    for c in elements(md) {
        let cp = format!("{path}/{}", qname(c));
        match (c.tag_name().namespace(), c.tag_name().name()) {
            (None, "VocabularyList") => {
                if stage >= 1 {
                    doc.error(codes::ORDER, "VocabularyList must come first, once", &cp);
                }
                stage = stage.max(1);
                has_list = true;
                check_vocabulary_list(doc, c, &cp);
            }
            (None, "extension") => {
                if stage == 2 {
                    doc.error(codes::CARDINALITY, "more than one extension", &cp);
                }
                stage = 2;
            }
            (Some(ns), _) if other && !ns.is_empty() => stage = 3,
            (_, name) => doc.error(
                codes::UNKNOWN_FIELD,
                format!("`{name}` is not an element of master data (VocabularyList, extension)"),
                cp,
            ),
        }
    }
    if list_required && !has_list {
        doc.error(
            codes::REQUIRED,
            "EPCISMasterData requires a VocabularyList",
            path,
        );
    }
}

/// `VocabularyListType`: `Vocabulary*`; each `VocabularyType`: `@type` (anyURI, required),
/// `VocabularyElementList?`, `extension?`, `##other*`.
fn check_vocabulary_list(doc: &mut Document, list: XNode<'_, '_>, path: &str) {
    let mut n = 0;
    for v in elements(list) {
        let (ns, name) = (v.tag_name().namespace(), v.tag_name().name());
        if ns.is_some() || name != "Vocabulary" {
            doc.error(
                codes::UNKNOWN_FIELD,
                format!("`{name}` is not an element of VocabularyList (Vocabulary)"),
                format!("{path}/{}", qname(v)),
            );
            continue;
        }
        n += 1;
        let vp = format!("{path}/Vocabulary[{n}]");
        match v.attribute("type") {
            None => doc.error(
                codes::REQUIRED,
                "Vocabulary requires the attribute type (a URI, e.g. urn:epcglobal:epcis:vtype:BusinessLocation)",
                &vp,
            ),
            Some(t) => check_uri(doc, "Vocabulary/@type", t, &format!("{vp}/@type")),
        }
        let mut stage = 0;
        for c in elements(v) {
            let cp = format!("{vp}/{}", qname(c));
            match (c.tag_name().namespace(), c.tag_name().name()) {
                (None, "VocabularyElementList") => {
                    if stage >= 1 {
                        doc.error(
                            codes::ORDER,
                            "VocabularyElementList must come first in Vocabulary, once",
                            &cp,
                        );
                    }
                    stage = stage.max(1);
                    check_vocabulary_elements(doc, c, &cp);
                }
                (None, "extension") => {
                    if stage >= 2 {
                        doc.error(
                            codes::ORDER,
                            "extension must come after VocabularyElementList and before other elements, once",
                            &cp,
                        );
                    }
                    stage = 2;
                }
                (Some(ns), _) if !ns.is_empty() => stage = 3,
                (_, name) => doc.error(
                    codes::UNKNOWN_FIELD,
                    format!(
                        "`{name}` is not an element of Vocabulary (VocabularyElementList, extension, elements of other namespaces)"
                    ),
                    cp,
                ),
            }
        }
    }
}

/// `VocabularyElementListType`: `VocabularyElement+`; each `VocabularyElementType`: `@id`
/// (anyURI, required), `attribute*` (`@id` required, any content), `children?` (`id*`,
/// anyURI), `extension?`, `##other*`.
fn check_vocabulary_elements(doc: &mut Document, list: XNode<'_, '_>, path: &str) {
    let mut n = 0;
    for e in elements(list) {
        let (ns, name) = (e.tag_name().namespace(), e.tag_name().name());
        if ns.is_some() || name != "VocabularyElement" {
            doc.error(
                codes::UNKNOWN_FIELD,
                format!("`{name}` is not an element of VocabularyElementList (VocabularyElement)"),
                format!("{path}/{}", qname(e)),
            );
            continue;
        }
        n += 1;
        let ep = format!("{path}/VocabularyElement[{n}]");
        match e.attribute("id") {
            None => doc.error(
                codes::REQUIRED,
                "VocabularyElement requires the attribute id (a URI)",
                &ep,
            ),
            Some(id) => {
                check_identifier_uri(doc, "VocabularyElement/@id", id, &format!("{ep}/@id"))
            }
        }
        // order: attribute* (0), children? (1), extension? (2), ##other* (3)
        let mut stage = 0;
        let (mut n_attr, mut ids) = (0, Vec::new());
        for c in elements(e) {
            let cname = c.tag_name().name();
            let cp = format!("{ep}/{}", qname(c));
            let (this, label) = match (c.tag_name().namespace(), cname) {
                (None, "attribute") => (0, "attribute"),
                (None, "children") => (1, "children"),
                (None, "extension") => (2, "extension"),
                (Some(ns), _) if !ns.is_empty() => (3, ""),
                _ => {
                    doc.error(
                        codes::UNKNOWN_FIELD,
                        format!(
                            "`{cname}` is not an element of VocabularyElement (attribute, children, extension, elements of other namespaces)"
                        ),
                        cp,
                    );
                    continue;
                }
            };
            if this < stage || (this == stage && (this == 1 || this == 2)) {
                doc.error(
                    if this == stage {
                        codes::CARDINALITY
                    } else {
                        codes::ORDER
                    },
                    format!(
                        "`{label}` is out of place in VocabularyElement (attribute*, children?, extension?, then other namespaces)"
                    ),
                    &cp,
                );
            }
            stage = stage.max(this);
            match this {
                0 => {
                    n_attr += 1;
                    let ap = format!("{ep}/attribute[{n_attr}]");
                    match c.attribute("id") {
                        None => doc.error(
                            codes::REQUIRED,
                            "attribute requires the attribute id (a URI)",
                            &ap,
                        ),
                        Some(id) => {
                            check_uri(doc, "attribute/@id", id, &format!("{ap}/@id"));
                            if ids.contains(&id) {
                                doc.warning(
                                    codes::UNIQUE,
                                    format!("attribute {id} is given more than once"),
                                    &ap,
                                );
                            }
                            ids.push(id);
                        }
                    }
                }
                1 => {
                    for (i, k) in elements(c).enumerate() {
                        let kp = format!("{cp}/{}[{}]", qname(k), i + 1);
                        if k.tag_name().namespace().is_some() || k.tag_name().name() != "id" {
                            doc.error(
                                codes::UNKNOWN_FIELD,
                                format!(
                                    "`{}` is not an element of children (id)",
                                    k.tag_name().name()
                                ),
                                kp,
                            );
                        } else {
                            check_identifier_uri(doc, "children/id", &text(k), &kp);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if n == 0 {
        doc.error(
            codes::REQUIRED,
            "VocabularyElementList requires at least one VocabularyElement",
            path,
        );
    }
}

/// Checks the SBDH (`StandardBusinessDocumentHeader`).
fn check_sbdh(doc: &mut Document, sbdh: XNode<'_, '_>, path: &str) {
    check_sequence(
        doc,
        sbdh,
        path,
        "StandardBusinessDocumentHeader",
        SBDH,
        false,
    );
    if let Some(scope) =
        elements(sbdh).find(|c| c.tag_name().name() == "BusinessScope" && in_sbdh(*c))
    {
        check_business_scope(doc, scope, &format!("{path}/{}", qname(scope)));
    }
    // an EPCIS 2.0 document declares TypeVersion 2.x (the standard's example: "2.0")
    let di =
        elements(sbdh).find(|c| c.tag_name().name() == "DocumentIdentification" && in_sbdh(*c));
    if let Some(di) = di {
        let value = |name: &str| {
            elements(di)
                .find(|c| c.tag_name().name() == name && in_sbdh(*c))
                .map(text)
        };
        if let Some(v) = value("TypeVersion")
            && !(v == "2" || v.starts_with("2."))
        {
            doc.warning(
                codes::DOCUMENT,
                format!("SBDH TypeVersion `{v}` is not EPCIS 2.x"),
                format!("{path}/{}/TypeVersion", qname(di)),
            );
        }
    }
}

/// `BusinessScope`: `Scope*`; each `Scope`: `Type`, `InstanceIdentifier`, `Identifier?`,
/// then `ScopeInformation*` (`CorrelationInformation` or `BusinessService`).
fn check_business_scope(doc: &mut Document, scope: XNode<'_, '_>, path: &str) {
    for (i, s) in elements(scope).enumerate() {
        let sp = format!("{path}/{}[{}]", qname(s), i + 1);
        if !in_sbdh(s) || s.tag_name().name() != "Scope" {
            doc.error(
                codes::UNKNOWN_FIELD,
                format!("`{}` is not an element of BusinessScope (Scope)", qname(s)),
                sp,
            );
            continue;
        }
        // the attribute group first, then the substitution group members
        let kids: Vec<_> = elements(s).collect();
        let info_start = kids
            .iter()
            .position(|k| {
                in_sbdh(*k)
                    && matches!(
                        k.tag_name().name(),
                        "CorrelationInformation" | "BusinessService" | "ScopeInformation"
                    )
            })
            .unwrap_or(kids.len());
        check_children(doc, &kids[..info_start], s, &sp, "Scope", SCOPE, false);
        for k in &kids[info_start..] {
            let kp = format!("{sp}/{}", qname(*k));
            match (in_sbdh(*k), k.tag_name().name()) {
                (true, "CorrelationInformation") => check_sequence(
                    doc,
                    *k,
                    &kp,
                    "CorrelationInformation",
                    CORRELATION_INFORMATION,
                    false,
                ),
                (true, "BusinessService") => {
                    check_sequence(doc, *k, &kp, "BusinessService", BUSINESS_SERVICE, false)
                }
                (true, "ScopeInformation") => doc.error(
                    codes::TYPE,
                    "ScopeInformation is abstract: use CorrelationInformation or BusinessService",
                    kp,
                ),
                (_, name) => doc.error(
                    codes::UNKNOWN_FIELD,
                    format!(
                        "`{name}` is not an element of Scope here (Type, InstanceIdentifier, Identifier, then CorrelationInformation / BusinessService)"
                    ),
                    kp,
                ),
            }
        }
    }
}

fn in_sbdh(n: XNode<'_, '_>) -> bool {
    n.tag_name().namespace() == Some(SBDH_NS)
}

/// Checks the element children of `n` against an `xsd:sequence` of SBDH elements.
fn check_sequence(
    doc: &mut Document,
    n: XNode<'_, '_>,
    path: &str,
    parent: &str,
    items: &[Item],
    other: bool,
) {
    let kids: Vec<_> = elements(n).collect();
    check_children(doc, &kids, n, path, parent, items, other);
}

fn check_children(
    doc: &mut Document,
    kids: &[XNode<'_, '_>],
    n: XNode<'_, '_>,
    path: &str,
    parent: &str,
    items: &[Item],
    other: bool,
) {
    if kids.is_empty() && items.is_empty() {
        return;
    }
    if let Some(t) = n
        .children()
        .find(|c| c.node_type() == NodeType::Text && !c.text().unwrap_or("").trim().is_empty())
    {
        doc.error(
            codes::TYPE,
            format!(
                "{parent} has elements only, not text (`{}`)",
                t.text().unwrap_or("").trim()
            ),
            path,
        );
    }
    let mut counts = vec![0u32; items.len()];
    let mut pos = 0usize; // index of the current item in the sequence
    let mut seen_other = false;
    for k in kids {
        let name = k.tag_name().name();
        let kp = format!("{path}/{}", qname(*k));
        if !in_sbdh(*k) {
            if other && k.tag_name().namespace().is_some_and(|ns| !ns.is_empty()) {
                seen_other = true;
                continue;
            }
            doc.error(
                codes::NAMESPACE,
                format!(
                    "`{}` in {parent} must be in the SBDH namespace {SBDH_NS}",
                    qname(*k)
                ),
                kp,
            );
            continue;
        }
        let Some(i) = items.iter().position(|it| it.name == name) else {
            let names: Vec<&str> = items.iter().map(|it| it.name).collect();
            doc.error(
                codes::UNKNOWN_FIELD,
                format!(
                    "`{name}` is not an element of {parent} ({})",
                    names.join(", ")
                ),
                kp,
            );
            continue;
        };
        if i < pos || seen_other {
            doc.error(
                codes::ORDER,
                format!(
                    "`{name}` is out of order in {parent} (expected order: {})",
                    items
                        .iter()
                        .map(|it| it.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &kp,
            );
        }
        pos = pos.max(i);
        counts[i] += 1;
        if items[i].max.is_some_and(|m| counts[i] > m) {
            doc.error(
                codes::CARDINALITY,
                format!("`{name}` is given more than once in {parent}"),
                &kp,
            );
        }
        check_content(doc, *k, &kp, name, items[i].content);
    }
    for (it, c) in items.iter().zip(&counts) {
        if *c < it.min {
            doc.error(
                codes::REQUIRED,
                format!("{parent} requires {}", it.name),
                path,
            );
        }
    }
}

fn check_content(doc: &mut Document, k: XNode<'_, '_>, path: &str, name: &str, content: Content) {
    match content {
        Content::Text(simple) | Content::TextWithAttrs(simple, _) => {
            if let Some(e) = elements(k).next() {
                doc.error(
                    codes::TYPE,
                    format!("{name} must hold text, not the element `{}`", qname(e)),
                    path,
                );
            }
            let allowed: &[&str] = match content {
                Content::TextWithAttrs(_, a) => a,
                _ => &[],
            };
            for a in k.attributes() {
                if a.namespace().is_none() && !allowed.contains(&a.name()) {
                    doc.error(
                        codes::UNKNOWN_FIELD,
                        format!("`{}` is not an attribute of {name}", a.name()),
                        format!("{path}/@{}", a.name()),
                    );
                }
            }
            check_simple(doc, name, &text(k), simple, path);
        }
        Content::Sequence { items, other } => check_sequence(doc, k, path, name, items, other),
        Content::Any => {}
    }
}

fn check_simple(doc: &mut Document, name: &str, v: &str, simple: Simple, path: &str) {
    match simple {
        Simple::String => {}
        Simple::Boolean => {
            if !matches!(v, "true" | "false" | "1" | "0") {
                doc.error(
                    codes::TYPE,
                    format!("{name} `{v}` is not an xs:boolean (true, false, 1, 0)"),
                    path,
                );
            }
        }
        Simple::Integer => {
            let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                doc.error(
                    codes::NUMBER,
                    format!("{name} `{v}` is not an xs:integer"),
                    path,
                );
            }
        }
        Simple::DateTime => {
            if let Err(e) = check_xs_datetime(v) {
                doc.error(codes::DATETIME, format!("{name}: {e}"), path);
            }
        }
        Simple::AnyUri => check_uri(doc, name, v, path),
    }
}

/// `xs:dateTime`: like the EPCIS date-time stamp, but the time zone is optional.
fn check_xs_datetime(v: &str) -> Result<(), String> {
    if crate::canon::parse_datetime(v).is_ok() {
        return Ok(());
    }
    // without a zone: append `Z` to reuse the parser's checks of every field
    let zoned = format!("{v}Z");
    crate::canon::parse_datetime(&zoned)
        .map(|_| ())
        .map_err(|_| format!("`{v}` is not an xs:dateTime (YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm])"))
}

fn check_uri(doc: &mut Document, what: &str, v: &str, path: &str) {
    if !is_absolute_uri(v.trim()) {
        doc.error(
            codes::URI,
            format!("{what} `{v}` is not an absolute URI"),
            path,
        );
    }
}

/// An absolute URI that, if it is an EPC URI or a GS1 Digital Link, is well-formed.
fn check_identifier_uri(doc: &mut Document, what: &str, v: &str, path: &str) {
    let v = v.trim();
    if !is_absolute_uri(v) {
        doc.error(
            codes::URI,
            format!("{what} `{v}` is not an absolute URI"),
            path,
        );
    } else if let Err(e) = digital_link::check_identifier(v) {
        doc.error(codes::IDENTIFIER, format!("{what}: {e}"), path);
    }
}

fn elements<'a, 'i>(n: XNode<'a, 'i>) -> impl Iterator<Item = XNode<'a, 'i>> {
    n.children().filter(XNode::is_element)
}

fn qname(n: XNode<'_, '_>) -> String {
    let name = n.tag_name();
    match name.namespace().and_then(|ns| n.lookup_prefix(ns)) {
        Some(p) if !p.is_empty() => format!("{p}:{}", name.name()),
        _ => name.name().to_string(),
    }
}

fn text(n: XNode<'_, '_>) -> String {
    let mut s = String::new();
    for c in n.children() {
        if c.node_type() == NodeType::Text {
            s.push_str(c.text().unwrap_or(""));
        }
    }
    s.trim().to_string()
}

// --- JSON ---

/// Checks a JSON `epcisHeader` (EPCIS JSON Schema `epcisHeader`): properties
/// `epcisMasterData` or user extensions (URIs / declared prefixes, passed in
/// `is_extension`); `epcisMasterData.vocabularyList` an array of vocabularies.
pub fn check_json_header(
    doc: &mut Document,
    header: &Value,
    path: &str,
    is_extension: &dyn Fn(&Document, &str) -> bool,
) {
    let Some(obj) = header.as_object() else {
        doc.error(codes::TYPE, "epcisHeader must be an object", path);
        return;
    };
    for (k, v) in obj {
        let kp = format!("{path}/{}", pointer_escape(k));
        if k == "epcisMasterData" {
            check_json_master_data(doc, v, &kp);
        } else if !is_extension(doc, k) {
            doc.error(
                codes::UNKNOWN_FIELD,
                format!(
                    "`{k}` is not a field of epcisHeader (epcisMasterData, or a namespaced extension)"
                ),
                kp,
            );
        }
    }
}

/// `epcisMasterData`: an object whose `vocabularyList` is an array of vocabularies.
pub fn check_json_master_data(doc: &mut Document, md: &Value, path: &str) {
    let Some(obj) = md.as_object() else {
        doc.error(codes::TYPE, "epcisMasterData must be an object", path);
        return;
    };
    match obj.get("vocabularyList") {
        None => {}
        Some(Value::Array(list)) => {
            for (i, v) in list.iter().enumerate() {
                check_json_vocabulary(doc, v, &format!("{path}/vocabularyList/{i}"));
            }
        }
        Some(_) => doc.error(
            codes::TYPE,
            "vocabularyList must be an array",
            format!("{path}/vocabularyList"),
        ),
    }
}

fn json_uri(
    doc: &mut Document,
    o: &Map<String, Value>,
    key: &str,
    owner: &str,
    path: &str,
    identifier: bool,
) {
    let kp = format!("{path}/{key}");
    match o.get(key) {
        None => doc.error(
            codes::REQUIRED,
            format!("{owner} requires {key} (a URI)"),
            path,
        ),
        Some(Value::String(s)) => {
            let what = format!("{owner}.{key}");
            if identifier {
                check_identifier_uri(doc, &what, s, &kp);
            } else {
                check_uri(doc, &what, s, &kp);
            }
        }
        Some(v) => doc.error(
            codes::TYPE,
            format!("{owner}.{key} must be a string (a URI), not {v}"),
            kp,
        ),
    }
}

/// `vocabulary`: `type` (URI, required), `vocabularyElementList` (array).
fn check_json_vocabulary(doc: &mut Document, v: &Value, path: &str) {
    let Some(o) = v.as_object() else {
        doc.error(codes::TYPE, "a vocabulary must be an object", path);
        return;
    };
    json_uri(doc, o, "type", "vocabulary", path, false);
    match o.get("vocabularyElementList") {
        None => {}
        Some(Value::Array(list)) => {
            for (i, e) in list.iter().enumerate() {
                check_json_vocabulary_element(doc, e, &format!("{path}/vocabularyElementList/{i}"));
            }
        }
        Some(_) => doc.error(
            codes::TYPE,
            "vocabularyElementList must be an array",
            format!("{path}/vocabularyElementList"),
        ),
    }
}

/// `vocabularyElement`: `id` (URI, required), `attributes` (array of `{id, attribute}`),
/// `children` (array of URIs).
fn check_json_vocabulary_element(doc: &mut Document, e: &Value, path: &str) {
    let Some(o) = e.as_object() else {
        doc.error(codes::TYPE, "a vocabulary element must be an object", path);
        return;
    };
    json_uri(doc, o, "id", "vocabularyElement", path, true);
    match o.get("attributes") {
        None => {}
        Some(Value::Array(list)) => {
            for (i, a) in list.iter().enumerate() {
                let ap = format!("{path}/attributes/{i}");
                let Some(ao) = a.as_object() else {
                    doc.error(codes::TYPE, "an attribute must be an object", ap);
                    continue;
                };
                json_uri(doc, ao, "id", "attribute", &ap, false);
                match ao.get("attribute") {
                    None | Some(Value::Number(_) | Value::String(_) | Value::Object(_)) => {}
                    Some(v) => doc.error(
                        codes::TYPE,
                        format!("attribute.attribute must be a number, string or object, not {v}"),
                        format!("{ap}/attribute"),
                    ),
                }
            }
        }
        Some(_) => doc.error(
            codes::TYPE,
            "attributes must be an array",
            format!("{path}/attributes"),
        ),
    }
    match o.get("children") {
        None => {}
        Some(Value::Array(list)) => {
            for (i, c) in list.iter().enumerate() {
                let cp = format!("{path}/children/{i}");
                match c.as_str() {
                    Some(s) => check_identifier_uri(doc, "children", s, &cp),
                    None => doc.error(
                        codes::TYPE,
                        format!("children entries must be strings (URIs), not {c}"),
                        cp,
                    ),
                }
            }
        }
        Some(_) => doc.error(
            codes::TYPE,
            "children must be an array",
            format!("{path}/children"),
        ),
    }
}

fn pointer_escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}
