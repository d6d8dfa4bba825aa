//! Reads EPCIS 2.0 JSON / JSON-LD: `EPCISDocument`, `EPCISQueryDocument` or a bare event,
//! into the format-neutral [`Document`], reporting what the JSON Schema rejects (unknown
//! properties, wrong JSON types, missing document fields) on the way.

use serde_json::{Map, Value};

use crate::fields::{self, Kind};
use crate::model::{EpcisEvent, Node, codes};
use crate::{Document, Format};

/// The EPCIS 2.0 JSON-LD context URI.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// Reads a JSON text.
pub fn read(text: &str) -> Document {
    let mut doc = Document::new(Format::Json);
    let root: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            doc.error(codes::PARSE, format!("not well-formed JSON: {e}"), "");
            return doc;
        }
    };
    let Some(obj) = root.as_object() else {
        doc.error(codes::DOCUMENT, "the JSON document is not an object", "");
        return doc;
    };
    read_context(&mut doc, obj.get("@context"), "/@context");
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
    match ty {
        "EPCISDocument" | "EPCISQueryDocument" => {
            doc.kind = if ty == "EPCISDocument" {
                "EPCISDocument"
            } else {
                "EPCISQueryDocument"
            };
            check_document(&mut doc, obj);
            let body = obj.get("epcisBody");
            if let Some(b) = body
                && !b.is_object()
            {
                doc.error(codes::TYPE, "epcisBody must be an object", "/epcisBody");
            }
            let (list, path) = if ty == "EPCISDocument" {
                (
                    body.and_then(|b| b.get("eventList")),
                    "/epcisBody/eventList".to_string(),
                )
            } else {
                let qr = body.and_then(|b| b.get("queryResults"));
                if let Some(qr) = qr
                    && qr.get("queryName").and_then(Value::as_str).is_none() {
                        doc.error(
                            codes::REQUIRED,
                            "queryResults has no queryName",
                            "/epcisBody/queryResults",
                        );
                    }
                (
                    qr.and_then(|q| q.get("resultsBody"))
                        .and_then(|r| r.get("eventList")),
                    "/epcisBody/queryResults/resultsBody/eventList".to_string(),
                )
            };
            match (body, list) {
                (None, _) => doc.error(codes::REQUIRED, "the document has no epcisBody", ""),
                (Some(_), None) => doc.error(codes::REQUIRED, format!("no event list at {path}"), path),
                (Some(_), Some(Value::Array(events))) => {
                    for (i, e) in events.iter().enumerate() {
                        read_event(&mut doc, e, &index_path(&path, i));
                    }
                }
                (Some(_), Some(_)) => doc.error(codes::TYPE, "eventList is not an array", path),
            }
        }
        t if fields::type_fields(t).is_some() => {
            doc.kind = "event";
            read_event(&mut doc, &root, "");
        }
        "" => doc.error(
            codes::DOCUMENT,
            "not an EPCIS document: no `type` (EPCISDocument, EPCISQueryDocument or an event type)",
            "/type",
        ),
        other => doc.error(
            codes::DOCUMENT,
            format!("not an EPCIS document: type `{other}` is not EPCISDocument, EPCISQueryDocument or an EPCIS event type"),
            "/type",
        ),
    }
    doc
}

/// Collects the prefixes a `@context` declares (`{"example": "https://ns.example.com/"}`).
fn read_context(doc: &mut Document, ctx: Option<&Value>, path: &str) {
    let add = |doc: &mut Document, o: &Map<String, Value>| {
        for (k, v) in o {
            if let Some(ns) = v.as_str() {
                if !k.starts_with('@') {
                    doc.prefixes.push((k.clone(), ns.to_string()));
                }
            } else if let Some(id) = v.get("@id").and_then(Value::as_str) {
                doc.prefixes.push((k.clone(), id.to_string()));
            }
        }
    };
    match ctx {
        None => {}
        Some(Value::String(s)) if s == EPCIS_CONTEXT => {
            doc.has_epcis_context = true;
        }
        Some(Value::Object(o)) => add(doc, o),
        Some(Value::Array(items)) => {
            for (i, it) in items.iter().enumerate() {
                match it {
                    Value::String(s) => {
                        if s == EPCIS_CONTEXT {
                            doc.has_epcis_context = true;
                        }
                    }
                    Value::Object(o) => add(doc, o),
                    _ => doc.error(
                        codes::TYPE,
                        "a @context entry is neither a URI nor an object",
                        index_path(path, i),
                    ),
                }
            }
        }
        Some(_) => doc.error(
            codes::TYPE,
            "@context is neither a URI, an object nor an array",
            path,
        ),
    }
}

fn check_document(doc: &mut Document, obj: &Map<String, Value>) {
    // EPCIS JSON Schema: epcisDocument requires @context, type, schemaVersion,
    // creationDate, epcisBody; epcisQueryDocument only @context, type, epcisBody
    let query = doc.kind == "EPCISQueryDocument";
    if !obj.contains_key("@context") {
        doc.error(codes::REQUIRED, "the document has no @context", "/@context");
    } else if !doc.has_epcis_context {
        doc.warning(
            codes::DOCUMENT,
            format!("@context does not include the EPCIS 2.0 context {EPCIS_CONTEXT}"),
            "/@context",
        );
    }
    match obj.get("schemaVersion") {
        None if query => {}
        None => doc.error(
            codes::REQUIRED,
            "the document has no schemaVersion",
            "/schemaVersion",
        ),
        Some(Value::String(v))
            if v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
        {
            if !v.starts_with("2.") && v != "2" {
                doc.error(
                    codes::DOCUMENT,
                    format!("schemaVersion `{v}` is not an EPCIS 2.x version"),
                    "/schemaVersion",
                );
            }
        }
        Some(v) => doc.error(
            codes::TYPE,
            format!("schemaVersion {v} is not a version string like \"2.0\""),
            "/schemaVersion",
        ),
    }
    match obj.get("creationDate") {
        None if query => {}
        None => doc.error(
            codes::REQUIRED,
            "the document has no creationDate",
            "/creationDate",
        ),
        Some(Value::String(s)) => {
            if let Err(e) = crate::canon::parse_datetime(s) {
                doc.error(
                    codes::DATETIME,
                    format!("creationDate: {e}"),
                    "/creationDate",
                );
            }
        }
        Some(_) => doc.error(codes::TYPE, "creationDate is not a string", "/creationDate"),
    }
    for (k, v) in obj {
        let known = match k.as_str() {
            "@context" | "type" | "schemaVersion" | "creationDate" | "epcisBody" => true,
            "id" => {
                if !v.as_str().is_some_and(crate::vocab::is_absolute_uri) {
                    doc.error(
                        codes::URI,
                        format!("the document id {v} is not an absolute URI"),
                        "/id",
                    );
                }
                true
            }
            "instanceIdentifier" | "sender" | "receiver" if !query => {
                if !v.is_string() {
                    doc.error(
                        codes::TYPE,
                        format!("{k} must be a string, not {v}"),
                        format!("/{k}"),
                    );
                }
                true
            }
            "epcisHeader" if !query => {
                crate::header::check_json_header(doc, v, "/epcisHeader", &|d, k| {
                    extension_name(d, k).is_some()
                });
                true
            }
            _ => false,
        };
        if !known && extension_name(doc, k).is_none() {
            doc.error(
                codes::UNKNOWN_FIELD,
                format!("`{k}` is not a field of {}", doc.kind),
                format!("/{}", escape(k)),
            );
        }
    }
}

/// `{path}/{i}`, without the formatting machinery.
fn index_path(path: &str, i: usize) -> String {
    let mut digits = [0u8; 20];
    let mut n = i;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(path.len() + 1 + digits.len() - at);
    s.push_str(path);
    s.push('/');
    s.push_str(std::str::from_utf8(&digits[at..]).unwrap_or("0"));
    s
}

/// `{path}/{key}` with the key escaped as a JSON pointer token.
fn key_path(path: &str, key: &str) -> String {
    let key = escape(key);
    let mut s = String::with_capacity(path.len() + 1 + key.len());
    s.push_str(path);
    s.push('/');
    s.push_str(&key);
    s
}

/// JSON pointer escaping of a key.
fn escape(k: &str) -> std::borrow::Cow<'_, str> {
    if k.contains(['~', '/']) {
        k.replace('~', "~0").replace('/', "~1").into()
    } else {
        k.into()
    }
}

/// The `{namespace}local` name of an extension key (`example:myField` with `example`
/// declared, or an absolute URI), or `None`.
fn extension_name(doc: &Document, key: &str) -> Option<String> {
    let (prefix, local) = key.split_once(':')?;
    if local.starts_with("//") || prefix == "urn" {
        // an absolute URI: split at the last `/` or `#`
        let cut = key.rfind(['/', '#', ':'])? + 1;
        if cut >= key.len() {
            return None;
        }
        return Some(format!("{{{}}}{}", &key[..cut], &key[cut..]));
    }
    let ns = doc.prefix(prefix)?;
    Some(format!("{{{ns}}}{local}"))
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a user extension value into nodes named `name` (arrays give one node per item).
fn read_extension(doc: &mut Document, name: &str, v: &Value, path: &str, out: &mut Vec<Node>) {
    match v {
        Value::Array(items) => {
            for (i, it) in items.iter().enumerate() {
                read_extension(doc, name, it, &index_path(path, i), out);
            }
        }
        Value::Object(o) => {
            let mut node = Node::parent(name, path);
            for (k, cv) in o {
                let cpath = key_path(path, k);
                if k == "#text" || k == "@value" {
                    node.value = scalar_text(cv);
                    continue;
                }
                if k.starts_with('@') {
                    continue;
                }
                match extension_name(doc, k) {
                    Some(n) => read_extension(doc, &n, cv, &cpath, &mut node.children),
                    None => undeclared(doc, k, &cpath),
                }
            }
            out.push(node);
        }
        Value::Null => doc.error(codes::TYPE, format!("extension `{name}` is null"), path),
        other => out.push(Node::leaf(
            name,
            scalar_text(other).unwrap_or_default(),
            path,
        )),
    }
}

fn undeclared(doc: &mut Document, key: &str, path: &str) {
    if let Some((prefix, _)) = key.split_once(':') {
        doc.error(
            codes::NAMESPACE,
            format!("extension `{key}`: namespace prefix `{prefix}` is not declared in @context"),
            path,
        );
    } else {
        doc.error(
            codes::UNKNOWN_FIELD,
            format!("`{key}` is not a standard field here, and user extensions must be namespaced (prefix:name)"),
            path,
        );
    }
}

fn expect_str<'v>(doc: &mut Document, v: &'v Value, what: &str, path: &str) -> Option<&'v str> {
    match v.as_str() {
        Some(s) => Some(s),
        None => {
            doc.error(
                codes::TYPE,
                format!("{what} must be a string, not {v}"),
                path,
            );
            None
        }
    }
}

fn read_event(doc: &mut Document, v: &Value, path: &str) {
    let Some(obj) = v.as_object() else {
        doc.error(codes::TYPE, "an event must be a JSON object", path);
        return;
    };
    let n_prefixes = doc.prefixes.len();
    if let Some(ctx) = obj.get("@context") {
        read_context(doc, Some(ctx), &format!("{path}/@context"));
    }
    let event_type = match obj.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            doc.error(
                codes::TYPE,
                format!("event type must be a string, not {other}"),
                format!("{path}/type"),
            );
            String::new()
        }
        None => {
            doc.error(
                codes::REQUIRED,
                "the event has no type",
                format!("{path}/type"),
            );
            String::new()
        }
    };
    let known_type = fields::type_fields(&event_type).is_some();
    if !known_type && !event_type.is_empty() {
        doc.error(
            codes::ENUM,
            format!("`{event_type}` is not an EPCIS event type (ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent)"),
            format!("{path}/type"),
        );
    }
    let mut event = EpcisEvent {
        event_type: event_type.clone(),
        fields: Vec::new(),
        path: path.to_string(),
    };
    for (k, fv) in obj {
        let fpath = key_path(path, k);
        if k == "type" || k == "@context" {
            continue;
        }
        let standard = fields::kind(k).filter(|kind| {
            !matches!(kind, Kind::BaseExtension | Kind::Extension)
                && (!known_type || fields::position(&event_type, k).is_some())
        });
        match standard {
            Some(kind) => read_field(doc, k, kind, fv, &fpath, &mut event.fields),
            None => match extension_name(doc, k) {
                Some(n) => read_extension(doc, &n, fv, &fpath, &mut event.fields),
                None if fields::kind(k).is_some() => doc.error(
                    codes::UNKNOWN_FIELD,
                    format!("`{k}` is not a field of {event_type}"),
                    fpath,
                ),
                None => undeclared(doc, k, &fpath),
            },
        }
    }
    if known_type {
        doc.events.push(event);
    } else {
        doc.skipped_events += 1;
    }
    // event-level @context prefixes stay for the rest of the document only if declared
    // at document level; an event's own context applies to it alone
    let _ = n_prefixes;
}

fn read_uri_list(doc: &mut Document, item: &str, v: &Value, path: &str, node: &mut Node) {
    match v {
        Value::Array(items) => {
            node.children.reserve_exact(items.len());
            for (i, it) in items.iter().enumerate() {
                let p = index_path(path, i);
                if let Some(s) = expect_str(doc, it, item, &p) {
                    node.children.push(Node::leaf(item, s, p));
                }
            }
        }
        _ => doc.error(codes::TYPE, format!("{} must be an array", node.name), path),
    }
}

fn read_field(
    doc: &mut Document,
    name: &str,
    kind: Kind,
    v: &Value,
    path: &str,
    out: &mut Vec<Node>,
) {
    match kind {
        Kind::Time | Kind::Text | Kind::Uri => {
            if let Some(s) = expect_str(doc, v, name, path) {
                out.push(Node::leaf(name, s, path));
            }
        }
        Kind::UriOrList => match v {
            Value::Array(items) => {
                for (i, it) in items.iter().enumerate() {
                    let p = index_path(path, i);
                    if let Some(s) = expect_str(doc, it, name, &p) {
                        out.push(Node::leaf(name, s, p));
                    }
                }
            }
            _ => {
                if let Some(s) = expect_str(doc, v, name, path) {
                    out.push(Node::leaf(name, s, path));
                }
            }
        },
        Kind::Epcs => {
            let mut node = Node::parent(name, path);
            read_uri_list(doc, "epc", v, path, &mut node);
            out.push(node);
        }
        Kind::Quantities => {
            let mut node = Node::parent(name, path);
            match v {
                Value::Array(items) => {
                    for (i, it) in items.iter().enumerate() {
                        let p = index_path(path, i);
                        node.children.push(read_quantity(doc, it, &p));
                    }
                }
                _ => doc.error(codes::TYPE, format!("{name} must be an array"), path),
            }
            out.push(node);
        }
        Kind::Location => {
            let mut node = Node::parent(name, path);
            match v {
                Value::Object(o) => {
                    for (k, cv) in o {
                        let p = key_path(path, k);
                        if k == "id" {
                            if let Some(s) = expect_str(doc, cv, "id", &p) {
                                node.children.push(Node::leaf("id", s, p));
                            }
                        } else {
                            match extension_name(doc, k) {
                                Some(n) => read_extension(doc, &n, cv, &p, &mut node.children),
                                None => undeclared(doc, k, &p),
                            }
                        }
                    }
                }
                // EPCIS 1.2-era JSON wrote the location as a bare string
                Value::String(s) => {
                    doc.error(
                        codes::TYPE,
                        format!("{name} must be an object {{\"id\": \"{s}\"}}, not a string"),
                        path,
                    );
                    node.children.push(Node::leaf("id", s, path));
                }
                _ => doc.error(
                    codes::TYPE,
                    format!("{name} must be an object with an id"),
                    path,
                ),
            }
            out.push(node);
        }
        Kind::BizTransactions | Kind::Sources | Kind::Destinations => {
            let item = match kind {
                Kind::BizTransactions => "bizTransaction",
                Kind::Sources => "source",
                _ => "destination",
            };
            let mut node = Node::parent(name, path);
            match v {
                Value::Array(items) => {
                    for (i, it) in items.iter().enumerate() {
                        let p = index_path(path, i);
                        let Some(o) = it.as_object() else {
                            doc.error(codes::TYPE, format!("a {item} entry must be an object"), p);
                            continue;
                        };
                        let mut entry = Node::parent(item, &p);
                        entry.children.reserve_exact(1);
                        for (k, cv) in o {
                            if k == item {
                                // the path only for the error (the value has the entry's)
                                match cv.as_str() {
                                    Some(s) => entry.value = Some(s.to_string()),
                                    None => {
                                        let cp = key_path(&p, k);
                                        expect_str(doc, cv, item, &cp);
                                    }
                                }
                                continue;
                            }
                            let cp = key_path(&p, k);
                            if k == "type" {
                                if let Some(s) = expect_str(doc, cv, "type", &cp) {
                                    entry.children.push(Node::leaf("type", s, cp));
                                }
                            } else {
                                doc.error(
                                    codes::UNKNOWN_FIELD,
                                    format!(
                                        "`{k}` is not a field of {item} (only `{item}` and `type`)"
                                    ),
                                    cp,
                                );
                            }
                        }
                        node.children.push(entry);
                    }
                }
                _ => doc.error(codes::TYPE, format!("{name} must be an array"), path),
            }
            out.push(node);
        }
        Kind::SensorElements => {
            let mut node = Node::parent(name, path);
            match v {
                Value::Array(items) => {
                    for (i, it) in items.iter().enumerate() {
                        let p = index_path(path, i);
                        node.children.push(read_sensor_element(doc, it, &p));
                    }
                }
                _ => doc.error(codes::TYPE, format!("{name} must be an array"), path),
            }
            out.push(node);
        }
        Kind::PersistentDisposition => {
            let mut node = Node::parent(name, path);
            match v {
                Value::Object(o) => {
                    for (k, cv) in o {
                        let p = key_path(path, k);
                        if k == "set" || k == "unset" {
                            let mut tmp = Node::parent(k.as_str(), &p);
                            read_uri_list(doc, k, cv, &p, &mut tmp);
                            node.children.extend(tmp.children);
                        } else {
                            doc.error(
                                codes::UNKNOWN_FIELD,
                                format!(
                                    "`{k}` is not a field of persistentDisposition (set, unset)"
                                ),
                                p,
                            );
                        }
                    }
                }
                _ => doc.error(codes::TYPE, "persistentDisposition must be an object", path),
            }
            out.push(node);
        }
        Kind::ErrorDeclaration => {
            let mut node = Node::parent(name, path);
            match v {
                Value::Object(o) => {
                    for (k, cv) in o {
                        let p = key_path(path, k);
                        match k.as_str() {
                            "declarationTime" | "reason" => {
                                if let Some(s) = expect_str(doc, cv, k, &p) {
                                    node.children.push(Node::leaf(k.as_str(), s, p));
                                }
                            }
                            "correctiveEventIDs" => {
                                let mut ids = Node::parent("correctiveEventIDs", &p);
                                read_uri_list(doc, "correctiveEventID", cv, &p, &mut ids);
                                node.children.push(ids);
                            }
                            _ => match extension_name(doc, k) {
                                Some(n) => read_extension(doc, &n, cv, &p, &mut node.children),
                                None => undeclared(doc, k, &p),
                            },
                        }
                    }
                }
                _ => doc.error(codes::TYPE, "errorDeclaration must be an object", path),
            }
            out.push(node);
        }
        Kind::Ilmd => {
            let mut node = Node::parent(name, path);
            match v {
                Value::Object(o) => {
                    for (k, cv) in o {
                        let p = key_path(path, k);
                        match extension_name(doc, k) {
                            Some(n) => read_extension(doc, &n, cv, &p, &mut node.children),
                            None => undeclared(doc, k, &p),
                        }
                    }
                }
                _ => doc.error(codes::TYPE, "ilmd must be an object", path),
            }
            out.push(node);
        }
        Kind::BaseExtension | Kind::Extension => {}
    }
}

fn read_quantity(doc: &mut Document, v: &Value, path: &str) -> Node {
    let mut node = Node::parent("quantityElement", path);
    let Some(o) = v.as_object() else {
        doc.error(codes::TYPE, "a quantity element must be an object", path);
        return node;
    };
    for (k, cv) in o {
        let p = key_path(path, k);
        match k.as_str() {
            "epcClass" | "uom" => {
                if let Some(s) = expect_str(doc, cv, k, &p) {
                    node.children.push(Node::leaf(k.as_str(), s, p));
                }
            }
            "quantity" => match cv {
                Value::Number(n) => node.children.push(Node::leaf("quantity", n.to_string(), p)),
                other => doc.error(
                    codes::NUMBER,
                    format!("quantity must be a JSON number, not {other}"),
                    p,
                ),
            },
            _ => doc.error(
                codes::UNKNOWN_FIELD,
                format!("`{k}` is not a field of a quantity element (epcClass, quantity, uom)"),
                p,
            ),
        }
    }
    node
}

fn read_sensor_attrs(
    doc: &mut Document,
    name: &str,
    allowed: &[&str],
    v: &Value,
    path: &str,
) -> Node {
    let mut node = Node::parent(name, path);
    let Some(o) = v.as_object() else {
        doc.error(codes::TYPE, format!("{name} must be an object"), path);
        return node;
    };
    for (k, cv) in o {
        let p = key_path(path, k);
        if allowed.contains(&k.as_str()) {
            match (k.as_str(), cv) {
                (n, Value::Number(x)) if fields::is_numeric_sensor_attr(n) => {
                    node.children.push(Node::leaf(n, x.to_string(), p))
                }
                (n, _) if fields::is_numeric_sensor_attr(n) => doc.error(
                    codes::NUMBER,
                    format!("{n} must be a JSON number, not {cv}"),
                    p,
                ),
                ("booleanValue", Value::Bool(b)) => {
                    node.children
                        .push(Node::leaf("booleanValue", b.to_string(), p))
                }
                ("booleanValue", _) => doc.error(
                    codes::TYPE,
                    format!("booleanValue must be true or false, not {cv}"),
                    p,
                ),
                (n, Value::String(s)) => node.children.push(Node::leaf(n, s.as_str(), p)),
                (n, _) => doc.error(codes::TYPE, format!("{n} must be a string, not {cv}"), p),
            }
        } else {
            match extension_name(doc, k) {
                Some(n) => read_extension(doc, &n, cv, &p, &mut node.children),
                None => undeclared(doc, k, &p),
            }
        }
    }
    node
}

fn read_sensor_element(doc: &mut Document, v: &Value, path: &str) -> Node {
    let mut node = Node::parent("sensorElement", path);
    let Some(o) = v.as_object() else {
        doc.error(codes::TYPE, "a sensor element must be an object", path);
        return node;
    };
    for (k, cv) in o {
        let p = key_path(path, k);
        match k.as_str() {
            "sensorMetadata" => {
                let m = read_sensor_attrs(doc, "sensorMetadata", fields::SENSOR_METADATA, cv, &p);
                node.children.push(m);
            }
            "sensorReport" => match cv {
                Value::Array(items) => {
                    if items.is_empty() {
                        doc.error(
                            codes::REQUIRED,
                            "sensorReport must have at least one report",
                            &p,
                        );
                    }
                    for (i, it) in items.iter().enumerate() {
                        let r = read_sensor_attrs(
                            doc,
                            "sensorReport",
                            fields::SENSOR_REPORT,
                            it,
                            &index_path(&p, i),
                        );
                        node.children.push(r);
                    }
                }
                _ => doc.error(codes::TYPE, "sensorReport must be an array", p),
            },
            _ => match extension_name(doc, k) {
                Some(n) => read_extension(doc, &n, cv, &p, &mut node.children),
                None => undeclared(doc, k, &p),
            },
        }
    }
    node
}
