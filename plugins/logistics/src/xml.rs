//! Reads EPCIS 2.0 XML (`EPCISDocument`, `EPCISQueryDocument` or a bare event element)
//! into the format-neutral [`Document`], checking the XML schema's structure on the way:
//! namespaces, element order (`xsd:sequence`), unknown elements, user extensions only in
//! other namespaces and after the standard fields.

use roxmltree::{Node as XNode, NodeType};

use crate::fields::{self, Kind};
use crate::model::{EpcisEvent, Node, codes};
use crate::{Document, Format};

/// The EPCIS 2.0 XML namespace.
pub const EPCIS_NS: &str = "urn:epcglobal:epcis:xsd:2";
/// The EPCIS 2.0 master data XML namespace (`EPCISMasterDataDocument`).
pub const EPCIS_MASTERDATA_NS: &str = "urn:epcglobal:epcis-masterdata:xsd:2";
/// The EPCIS 2.0 query XML namespace.
pub const EPCIS_QUERY_NS: &str = "urn:epcglobal:epcis-query:xsd:2";

fn elements<'a, 'i>(n: XNode<'a, 'i>) -> impl Iterator<Item = XNode<'a, 'i>> {
    n.children().filter(XNode::is_element)
}

fn qname(n: XNode<'_, '_>) -> String {
    let name = n.tag_name();
    match (
        name.namespace(),
        n.lookup_prefix(name.namespace().unwrap_or("")),
    ) {
        (Some(_), Some(p)) if !p.is_empty() => format!("{p}:{}", name.name()),
        _ => name.name().to_string(),
    }
}

/// The text content of an element (its text children, trimmed). Element children are an
/// error reported by the caller.
fn text(n: XNode<'_, '_>) -> String {
    let mut texts = n.children().filter(|c| c.node_type() == NodeType::Text);
    let Some(first) = texts.next() else {
        return String::new();
    };
    let rest = texts.clone().next();
    if rest.is_none() {
        // the usual case: one text node, copied once
        return first.text().unwrap_or("").trim().to_string();
    }
    let mut s = String::from(first.text().unwrap_or(""));
    for c in texts {
        s.push_str(c.text().unwrap_or(""));
    }
    s.trim().to_string()
}

/// `{path}/{qname}` in one allocation.
fn child_path(path: &str, n: XNode<'_, '_>) -> String {
    let name = n.tag_name();
    let prefix = name
        .namespace()
        .and_then(|ns| n.lookup_prefix(ns))
        .filter(|p| !p.is_empty());
    let mut s = String::with_capacity(path.len() + name.name().len() + 12);
    s.push_str(path);
    s.push('/');
    if let Some(p) = prefix {
        s.push_str(p);
        s.push(':');
    }
    s.push_str(name.name());
    s
}

/// Reads an XML text.
pub fn read(text_in: &str) -> Document {
    let mut doc = Document::new(Format::Xml);
    let xml = match roxmltree::Document::parse(text_in) {
        Ok(x) => x,
        Err(e) => {
            doc.error(codes::PARSE, format!("not well-formed XML: {e}"), "");
            return doc;
        }
    };
    let root = xml.root_element();
    for ns in root.namespaces() {
        if let Some(p) = ns.name() {
            doc.prefixes.push((p.to_string(), ns.uri().to_string()));
        }
    }
    let local = root.tag_name().name();
    let ns = root.tag_name().namespace();
    let root_path = format!("/{}", qname(root));
    match (local, ns) {
        ("EPCISDocument", Some(EPCIS_NS)) | ("EPCISQueryDocument", Some(EPCIS_QUERY_NS)) => {
            doc.kind = if local == "EPCISDocument" {
                "EPCISDocument"
            } else {
                "EPCISQueryDocument"
            };
            check_document_attributes(&mut doc, root, &root_path);
            read_body(&mut doc, root, &root_path);
        }
        ("EPCISDocument" | "EPCISQueryDocument", other) => doc.error(
            codes::DOCUMENT,
            format!(
                "{local} in namespace {} is not EPCIS 2.0 (expected {})",
                other.unwrap_or("(none)"),
                if local == "EPCISDocument" {
                    EPCIS_NS
                } else {
                    EPCIS_QUERY_NS
                }
            ),
            root_path,
        ),
        ("EPCISMasterDataDocument", Some(EPCIS_MASTERDATA_NS)) => {
            doc.kind = "EPCISMasterDataDocument";
            check_document_attributes(&mut doc, root, &root_path);
            read_body(&mut doc, root, &root_path);
        }
        (t, None) if fields::type_fields(t).is_some() => {
            doc.kind = "event";
            read_event(&mut doc, root, &root_path);
        }
        _ => doc.error(
            codes::DOCUMENT,
            format!(
                "not an EPCIS document: root element {{{}}}{local}",
                ns.unwrap_or("")
            ),
            root_path,
        ),
    }
    doc
}

fn check_document_attributes(doc: &mut Document, root: XNode<'_, '_>, path: &str) {
    match root.attribute("schemaVersion") {
        None => doc.error(
            codes::REQUIRED,
            "the document has no schemaVersion attribute",
            path,
        ),
        Some(v) if !(v == "2" || v.starts_with("2.")) => doc.error(
            codes::DOCUMENT,
            format!("schemaVersion `{v}` is not an EPCIS 2.x version"),
            path,
        ),
        Some(_) => {}
    }
    match root.attribute("creationDate") {
        None => doc.error(
            codes::REQUIRED,
            "the document has no creationDate attribute",
            path,
        ),
        Some(v) => {
            if let Err(e) = crate::canon::parse_datetime(v) {
                doc.error(
                    codes::DATETIME,
                    format!("creationDate: {e}"),
                    format!("{path}/@creationDate"),
                );
            }
        }
    }
}

fn no_ns(n: XNode<'_, '_>) -> bool {
    n.tag_name().namespace().is_none_or(str::is_empty)
}

fn read_body(doc: &mut Document, root: XNode<'_, '_>, path: &str) {
    // EPCISDocument: EPCISHeader?, EPCISBody, extension?, ##other*
    let mut body = None;
    let (mut seen_body, mut seen_header) = (false, false);
    for c in elements(root) {
        let cp = child_path(path, c);
        match (c.tag_name().name(), no_ns(c)) {
            ("EPCISHeader", true) => {
                if seen_body {
                    doc.error(codes::ORDER, "EPCISHeader must come before EPCISBody", &cp);
                }
                if seen_header {
                    doc.error(codes::CARDINALITY, "more than one EPCISHeader", &cp);
                }
                seen_header = true;
                crate::header::check_xml_header(doc, c, &cp);
            }
            ("EPCISBody", true) => {
                if seen_body {
                    doc.error(codes::CARDINALITY, "more than one EPCISBody", cp);
                }
                seen_body = true;
                body = Some(c);
            }
            ("extension", true) => {}
            (_, false) => {}
            (other, true) => doc.error(
                codes::UNKNOWN_FIELD,
                format!("`{other}` is not an element of {}", doc.kind),
                cp,
            ),
        }
    }
    let Some(body) = body else {
        doc.error(codes::REQUIRED, "the document has no EPCISBody", path);
        return;
    };
    let bpath = format!("{path}/EPCISBody");
    if doc.kind == "EPCISMasterDataDocument" {
        crate::header::check_xml_master_data_body(doc, body, &bpath);
        return;
    }
    if doc.kind == "EPCISQueryDocument" {
        let qr = elements(body).find(|c| c.tag_name().name() == "QueryResults");
        let Some(qr) = qr else {
            doc.error(codes::REQUIRED, "EPCISBody has no QueryResults", bpath);
            return;
        };
        let qpath = format!("{bpath}/{}", qname(qr));
        if elements(qr).all(|c| c.tag_name().name() != "queryName") {
            doc.error(codes::REQUIRED, "QueryResults has no queryName", &qpath);
        }
        let list = elements(qr)
            .find(|c| c.tag_name().name() == "resultsBody")
            .and_then(|rb| elements(rb).find(|c| c.tag_name().name() == "EventList"));
        if let Some(list) = list {
            read_event_list(doc, list, &format!("{qpath}/resultsBody/EventList"));
        }
        return;
    }
    for c in elements(body) {
        let cp = format!("{bpath}/{}", qname(c));
        match (c.tag_name().name(), no_ns(c)) {
            ("EventList", true) => read_event_list(doc, c, &cp),
            ("extension", true) | ("VocabularyList", true) => {}
            (_, false) => {}
            (other, true) => doc.error(
                codes::UNKNOWN_FIELD,
                format!("`{other}` is not an element of EPCISBody"),
                cp,
            ),
        }
    }
}

fn read_event_list(doc: &mut Document, list: XNode<'_, '_>, path: &str) {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for ev in elements(list) {
        let name = ev.tag_name().name();
        let n = match counts.iter_mut().find(|(k, _)| k == name) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                counts.push((name.to_string(), 1));
                1
            }
        };
        let ep = format!("{path}/{}[{n}]", qname(ev));
        if !no_ns(ev) {
            doc.error(
                codes::NAMESPACE,
                format!(
                    "event element {} must not be namespace-qualified",
                    qname(ev)
                ),
                ep,
            );
            continue;
        }
        match name {
            "extension" => {
                // EPCIS 1.x wrapper around new event types: read what is inside
                for inner in elements(ev) {
                    if fields::type_fields(inner.tag_name().name()).is_some() && no_ns(inner) {
                        read_event(doc, inner, &format!("{ep}/{}", inner.tag_name().name()));
                    }
                }
            }
            t if fields::type_fields(t).is_some() => read_event(doc, ev, &ep),
            "QuantityEvent" => {
                doc.error(
                    codes::DOCUMENT,
                    "QuantityEvent was deprecated in EPCIS 1.2 and is not an EPCIS 2.0 event type",
                    ep,
                );
                doc.skipped_events += 1;
            }
            other => {
                doc.error(
                    codes::UNKNOWN_FIELD,
                    format!("`{other}` is not an EPCIS event type"),
                    ep,
                );
                doc.skipped_events += 1;
            }
        }
    }
}

fn read_event(doc: &mut Document, ev: XNode<'_, '_>, path: &str) {
    let ty = ev.tag_name().name().to_string();
    for ns in ev.namespaces() {
        if let Some(p) = ns.name()
            && doc.prefix(p) != Some(ns.uri())
        {
            doc.prefixes.push((p.to_string(), ns.uri().to_string()));
        }
    }
    let mut event = EpcisEvent {
        event_type: ty.clone(),
        fields: Vec::new(),
        path: path.to_string(),
    };
    let mut last: Option<(usize, String)> = None;
    let mut seen_extension = false;
    for c in elements(ev) {
        let name = c.tag_name().name();
        let cp = child_path(path, c);
        if !no_ns(c) {
            seen_extension = true;
            event.fields.push(extension_node(c, &cp));
            continue;
        }
        let Some(pos) = fields::position(&ty, name) else {
            let msg = if fields::kind(name).is_some() {
                format!("`{name}` is not a field of {ty}")
            } else {
                format!(
                    "`{name}` is not an EPCIS element of {ty}; user extensions must be in their own namespace"
                )
            };
            doc.error(codes::UNKNOWN_FIELD, msg, cp);
            continue;
        };
        if seen_extension {
            doc.error(
                codes::ORDER,
                format!("`{name}` must come before the user extension elements of {ty}"),
                &cp,
            );
        }
        if let Some((lp, lname)) = &last {
            if pos < *lp {
                doc.error(
                    codes::ORDER,
                    format!(
                        "`{name}` must come before `{lname}` in {ty} (EPCIS 2.0 XML schema order)"
                    ),
                    &cp,
                );
            } else if pos == *lp {
                doc.error(
                    codes::CARDINALITY,
                    format!("`{name}` is given more than once"),
                    &cp,
                );
            }
        }
        last = Some((pos, name.to_string()));
        let kind = fields::kind(name).unwrap_or(Kind::Text);
        read_field(doc, &ty, name, kind, c, &cp, &mut event.fields);
    }
    doc.events.push(event);
}

/// A user extension element as a node: `{namespace}local`, its text, its child elements.
fn extension_node(n: XNode<'_, '_>, path: &str) -> Node {
    let name = format!(
        "{{{}}}{}",
        n.tag_name().namespace().unwrap_or(""),
        n.tag_name().name()
    );
    let mut node = Node::parent(name, path);
    let kids: Vec<_> = elements(n).collect();
    if kids.is_empty() {
        let t = text(n);
        if !t.is_empty() {
            node.value = Some(t);
        }
    }
    for k in kids {
        node.children.push(extension_node(k, &child_path(path, k)));
    }
    node
}

fn leaf_text(doc: &mut Document, n: XNode<'_, '_>, name: &str, path: &str) -> String {
    if elements(n).next().is_some() {
        doc.error(
            codes::TYPE,
            format!("{name} must hold text, not elements"),
            path,
        );
    }
    text(n)
}

/// Checks the children of `n` against an ordered list of allowed unqualified names;
/// namespaced children are user extensions (returned), allowed only at the end.
fn ordered_children<'a, 'i>(
    doc: &mut Document,
    n: XNode<'a, 'i>,
    parent: &str,
    allowed: &[&str],
    path: &str,
) -> (Vec<XNode<'a, 'i>>, Vec<Node>) {
    let mut std_children = Vec::new();
    let mut ext = Vec::new();
    let mut last = 0usize;
    for c in elements(n) {
        let cp = child_path(path, c);
        if !no_ns(c) {
            ext.push(extension_node(c, &cp));
            continue;
        }
        let name = c.tag_name().name();
        if name == "extension" {
            for e in elements(c) {
                ext.push(extension_node(e, &format!("{cp}/{}", qname(e))));
            }
            continue;
        }
        match allowed.iter().position(|a| *a == name) {
            None => doc.error(
                codes::UNKNOWN_FIELD,
                format!("`{name}` is not an element of {parent}"),
                cp,
            ),
            Some(p) => {
                if !ext.is_empty() {
                    doc.error(
                        codes::ORDER,
                        format!("`{name}` must come before the extension elements of {parent}"),
                        &cp,
                    );
                }
                if p < last {
                    doc.error(
                        codes::ORDER,
                        format!(
                            "`{name}` is out of order in {parent} (expected order: {})",
                            allowed.join(", ")
                        ),
                        &cp,
                    );
                }
                last = p;
                std_children.push(c);
            }
        }
    }
    (std_children, ext)
}

fn read_field(
    doc: &mut Document,
    ty: &str,
    name: &str,
    kind: Kind,
    c: XNode<'_, '_>,
    path: &str,
    out: &mut Vec<Node>,
) {
    match kind {
        Kind::Time | Kind::Text | Kind::Uri | Kind::UriOrList => {
            let t = leaf_text(doc, c, name, path);
            out.push(Node::leaf(name, t, path));
        }
        Kind::Epcs => {
            let mut node = Node::parent(name, path);
            let (kids, _) = ordered_children(doc, c, name, &["epc"], path);
            for (i, k) in kids.into_iter().enumerate() {
                let p = format!("{path}/epc[{}]", i + 1);
                let t = leaf_text(doc, k, "epc", &p);
                node.children.push(Node::leaf("epc", t, p));
            }
            out.push(node);
        }
        Kind::Quantities => {
            let mut node = Node::parent(name, path);
            let (kids, _) = ordered_children(doc, c, name, &["quantityElement"], path);
            for (i, q) in kids.into_iter().enumerate() {
                let qp = format!("{path}/quantityElement[{}]", i + 1);
                let mut qn = Node::parent("quantityElement", &qp);
                let (parts, ext) = ordered_children(
                    doc,
                    q,
                    "quantityElement",
                    &["epcClass", "quantity", "uom"],
                    &qp,
                );
                if !ext.is_empty() {
                    doc.error(
                        codes::UNKNOWN_FIELD,
                        "quantityElement has no extension point",
                        &qp,
                    );
                }
                let mut seen = Vec::new();
                for p in parts {
                    let pn = p.tag_name().name();
                    let pp = format!("{qp}/{pn}");
                    if seen.contains(&pn) {
                        doc.error(
                            codes::CARDINALITY,
                            format!("`{pn}` is given more than once"),
                            &pp,
                        );
                    }
                    seen.push(pn);
                    let t = leaf_text(doc, p, pn, &pp);
                    if pn == "quantity" && !crate::canon::is_number(&t) {
                        doc.error(
                            codes::NUMBER,
                            format!("quantity `{t}` is not an xsd:decimal"),
                            &pp,
                        );
                        continue;
                    }
                    qn.children.push(Node::leaf(pn, t, pp));
                }
                node.children.push(qn);
            }
            out.push(node);
        }
        Kind::Location => {
            let mut node = Node::parent(name, path);
            let (kids, ext) = ordered_children(doc, c, name, &["id"], path);
            for k in kids {
                let p = format!("{path}/id");
                let t = leaf_text(doc, k, "id", &p);
                node.children.push(Node::leaf("id", t, p));
            }
            node.children.extend(ext);
            out.push(node);
        }
        Kind::BizTransactions | Kind::Sources | Kind::Destinations => {
            let item = match kind {
                Kind::BizTransactions => "bizTransaction",
                Kind::Sources => "source",
                _ => "destination",
            };
            let mut node = Node::parent(name, path);
            let (kids, _) = ordered_children(doc, c, name, &[item], path);
            for (i, k) in kids.into_iter().enumerate() {
                let p = format!("{path}/{item}[{}]", i + 1);
                let t = leaf_text(doc, k, item, &p);
                let mut entry = Node::leaf(item, t, &p);
                for a in k.attributes() {
                    if a.name() == "type" && a.namespace().is_none() {
                        entry
                            .children
                            .push(Node::leaf("type", a.value(), format!("{p}/@type")));
                    } else if a.namespace().is_none() {
                        doc.error(
                            codes::UNKNOWN_FIELD,
                            format!("`{}` is not an attribute of {item}", a.name()),
                            format!("{p}/@{}", a.name()),
                        );
                    }
                }
                node.children.push(entry);
            }
            out.push(node);
        }
        Kind::SensorElements => {
            let mut node = Node::parent(name, path);
            let (kids, _) = ordered_children(doc, c, name, &["sensorElement"], path);
            for (i, se) in kids.into_iter().enumerate() {
                let sp = format!("{path}/sensorElement[{}]", i + 1);
                let mut sn = Node::parent("sensorElement", &sp);
                let (parts, ext) = ordered_children(
                    doc,
                    se,
                    "sensorElement",
                    &["sensorMetadata", "sensorReport"],
                    &sp,
                );
                let mut n_meta = 0;
                for (j, p) in parts.into_iter().enumerate() {
                    let pn = p.tag_name().name();
                    let pp = format!("{sp}/{pn}[{}]", j + 1);
                    let allowed = if pn == "sensorMetadata" {
                        n_meta += 1;
                        if n_meta > 1 {
                            doc.error(codes::CARDINALITY, "more than one sensorMetadata", &pp);
                        }
                        fields::SENSOR_METADATA
                    } else {
                        fields::SENSOR_REPORT
                    };
                    let mut an = Node::parent(pn, &pp);
                    for a in p.attributes() {
                        let ap = format!("{pp}/@{}", a.name());
                        match a.namespace() {
                            Some(ns) => an.children.push(Node::leaf(
                                format!("{{{ns}}}{}", a.name()),
                                a.value(),
                                ap,
                            )),
                            None if allowed.contains(&a.name()) => {
                                let v = match (a.name(), a.value().trim()) {
                                    ("booleanValue", "1") => "true",
                                    ("booleanValue", "0") => "false",
                                    (_, v) => v,
                                };
                                an.children.push(Node::leaf(a.name(), v, ap));
                            }
                            None => doc.error(
                                codes::UNKNOWN_FIELD,
                                format!("`{}` is not an attribute of {pn}", a.name()),
                                ap,
                            ),
                        }
                    }
                    sn.children.push(an);
                }
                sn.children.extend(ext);
                node.children.push(sn);
            }
            out.push(node);
        }
        Kind::PersistentDisposition => {
            let mut node = Node::parent(name, path);
            let (kids, _) = ordered_children(doc, c, name, &["unset", "set"], path);
            for k in kids {
                let kn = k.tag_name().name();
                let p = format!("{path}/{kn}");
                let t = leaf_text(doc, k, kn, &p);
                node.children.push(Node::leaf(kn, t, p));
            }
            out.push(node);
        }
        Kind::ErrorDeclaration => {
            let mut node = Node::parent(name, path);
            for k in elements(c) {
                let kn = k.tag_name().name();
                let p = child_path(path, k);
                if !no_ns(k) {
                    node.children.push(extension_node(k, &p));
                    continue;
                }
                match kn {
                    "declarationTime" | "reason" => {
                        let t = leaf_text(doc, k, kn, &p);
                        node.children.push(Node::leaf(kn, t, p));
                    }
                    "correctiveEventIDs" => {
                        let mut ids = Node::parent("correctiveEventIDs", &p);
                        let (kids, _) = ordered_children(doc, k, kn, &["correctiveEventID"], &p);
                        for id in kids {
                            let ip = format!("{p}/correctiveEventID");
                            let t = leaf_text(doc, id, "correctiveEventID", &ip);
                            ids.children.push(Node::leaf("correctiveEventID", t, ip));
                        }
                        node.children.push(ids);
                    }
                    "extension" => {
                        for e in elements(k) {
                            node.children
                                .push(extension_node(e, &format!("{p}/{}", qname(e))));
                        }
                    }
                    other => doc.error(
                        codes::UNKNOWN_FIELD,
                        format!("`{other}` is not an element of errorDeclaration"),
                        p,
                    ),
                }
            }
            out.push(node);
        }
        Kind::Ilmd => {
            let mut node = Node::parent(name, path);
            let (kids, ext) = ordered_children(doc, c, name, &[], path);
            debug_assert!(kids.is_empty());
            node.children.extend(ext);
            out.push(node);
        }
        Kind::BaseExtension => {
            // EPCIS 1.x: eventID and errorDeclaration inside baseExtension
            for k in elements(c) {
                let kn = k.tag_name().name();
                let p = child_path(path, k);
                match (kn, no_ns(k)) {
                    ("eventID", true) => read_field(doc, ty, kn, Kind::Uri, k, &p, out),
                    ("errorDeclaration", true) => {
                        read_field(doc, ty, kn, Kind::ErrorDeclaration, k, &p, out)
                    }
                    ("extension", true) => {}
                    (_, false) => out.push(extension_node(k, &p)),
                    (other, true) => doc.error(
                        codes::UNKNOWN_FIELD,
                        format!("`{other}` is not an element of baseExtension"),
                        p,
                    ),
                }
            }
        }
        Kind::Extension => {
            // EPCIS 1.x event extension: standard 1.1/1.2 fields inside, or 2.0 ##other
            for k in elements(c) {
                let kn = k.tag_name().name();
                let p = child_path(path, k);
                if !no_ns(k) {
                    out.push(extension_node(k, &p));
                    continue;
                }
                match (fields::kind(kn), fields::position(ty, kn)) {
                    (Some(kk), Some(_)) if kn != "extension" => {
                        read_field(doc, ty, kn, kk, k, &p, out)
                    }
                    _ if kn == "extension" => read_field(doc, ty, kn, Kind::Extension, k, &p, out),
                    _ => doc.error(
                        codes::UNKNOWN_FIELD,
                        format!("`{kn}` is not an element of {ty}/extension"),
                        p,
                    ),
                }
            }
        }
    }
}
