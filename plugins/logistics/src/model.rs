//! The format-neutral EPCIS event model both readers (JSON/JSON-LD and XML) produce: a
//! tree of named fields in the XML element layout of EPCIS 2.0, so that validation,
//! hashing and the output summary see the same thing whatever the syntax was.
//!
//! Conventions (the same from either syntax):
//! - standard fields carry their EPCIS names: `eventTime`, `epcList` > `epc`,
//!   `quantityList` > `quantityElement` > `epcClass`/`quantity`/`uom`, `readPoint` > `id`,
//!   `bizTransactionList` > `bizTransaction` (value = the identifier) > `type`,
//!   `sourceList` > `source` > `type`, `sensorElementList` > `sensorElement` >
//!   `sensorMetadata`/`sensorReport` > attributes, `persistentDisposition` > `set`/`unset`,
//!   `errorDeclaration` > `declarationTime`/`reason`/`correctiveEventIDs` > `correctiveEventID`,
//!   `certificationInfo` (one field per value), `ilmd` > extension fields;
//! - user extensions are named `{namespace}localName`.

use std::borrow::Cow;

use serde::Serialize;

/// A field name: borrowed for the standard names (no allocation per field), owned for
/// user extensions (`{namespace}local`).
pub type Name = Cow<'static, str>;

/// Every standard name a field can have, sorted (for [`name`]'s binary search).
const STANDARD_NAMES: &[&str] = &[
    "AggregationEvent",
    "AssociationEvent",
    "ObjectEvent",
    "TransactionEvent",
    "TransformationEvent",
    "action",
    "baseExtension",
    "bizLocation",
    "bizRules",
    "bizStep",
    "bizTransaction",
    "bizTransactionList",
    "booleanValue",
    "cbv",
    "certificationInfo",
    "chemicalSubstance",
    "childEPCs",
    "childQuantityList",
    "component",
    "coordinateReferenceSystem",
    "correctiveEventID",
    "correctiveEventIDs",
    "dataProcessingMethod",
    "declarationTime",
    "destination",
    "destinationList",
    "deviceID",
    "deviceMetadata",
    "disposition",
    "endTime",
    "epc",
    "epcClass",
    "epcList",
    "epcis",
    "errorDeclaration",
    "eventID",
    "eventTime",
    "eventTimeZoneOffset",
    "exception",
    "extension",
    "gs1",
    "hexBinaryValue",
    "id",
    "ilmd",
    "inputEPCList",
    "inputQuantityList",
    "maxValue",
    "meanValue",
    "microorganism",
    "minValue",
    "offset",
    "outputEPCList",
    "outputQuantityList",
    "parentID",
    "percRank",
    "percValue",
    "persistentDisposition",
    "quantity",
    "quantityElement",
    "quantityList",
    "rawData",
    "readPoint",
    "reason",
    "recordTime",
    "sDev",
    "sensorElement",
    "sensorElementList",
    "sensorMetadata",
    "sensorReport",
    "set",
    "source",
    "sourceList",
    "startTime",
    "stringValue",
    "time",
    "transformationID",
    "type",
    "unset",
    "uom",
    "uriValue",
    "value",
];

/// The [`Name`] of a field: the static standard name when it is one, else an owned copy.
pub fn name(s: &str) -> Name {
    match STANDARD_NAMES.binary_search(&s) {
        Ok(i) => Cow::Borrowed(STANDARD_NAMES[i]),
        Err(_) => Cow::Owned(s.to_string()),
    }
}

/// What a node's name can be made from: a `&str` (looked up with [`name`]) or an owned
/// `String` (kept).
pub trait IntoName {
    /// The name.
    fn into_name(self) -> Name;
}

impl IntoName for &str {
    fn into_name(self) -> Name {
        name(self)
    }
}

impl IntoName for &String {
    fn into_name(self) -> Name {
        name(self)
    }
}

impl IntoName for String {
    fn into_name(self) -> Name {
        Cow::Owned(self)
    }
}

impl IntoName for Name {
    fn into_name(self) -> Name {
        self
    }
}

/// One field of an event: a standard field or a user extension element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// The EPCIS field name, or `{namespace}local` for an extension.
    pub name: Name,
    /// The text value, if the field has one.
    pub value: Option<String>,
    /// Child fields.
    pub children: Vec<Node>,
    /// Where the field is in the document (JSON pointer or XPath), for messages.
    pub path: String,
}

impl Node {
    /// A field with a value.
    pub fn leaf(name: impl IntoName, value: impl Into<String>, path: impl Into<String>) -> Node {
        Node {
            name: name.into_name(),
            value: Some(value.into()),
            children: Vec::new(),
            path: path.into(),
        }
    }

    /// A field with children only.
    pub fn parent(name: impl IntoName, path: impl Into<String>) -> Node {
        Node {
            name: name.into_name(),
            value: None,
            children: Vec::new(),
            path: path.into(),
        }
    }

    /// Whether the field is a user extension.
    pub fn is_extension(&self) -> bool {
        self.name.starts_with('{')
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The value of the first child named `name`.
    pub fn child_value(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(|c| c.value.as_deref())
    }

    /// All children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// The five EPCIS 2.0 event types.
pub const EVENT_TYPES: &[&str] = &[
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
];

/// One event read from a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpcisEvent {
    /// `ObjectEvent`, `AggregationEvent`, ... (or an extension event type URI).
    pub event_type: String,
    /// The event's fields, in document order.
    pub fields: Vec<Node>,
    /// Where the event is (JSON pointer or XPath).
    pub path: String,
}

impl EpcisEvent {
    /// The first field named `name`.
    pub fn field(&self, name: &str) -> Option<&Node> {
        self.fields.iter().find(|c| c.name == name)
    }

    /// The value of the first field named `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.field(name).and_then(|c| c.value.as_deref())
    }
}

/// A validation finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// A stable code, e.g. `EPCIS-VOCAB`.
    pub code: &'static str,
    /// What is wrong, naming the value.
    pub message: String,
    /// Where: a JSON pointer (`/epcisBody/eventList/0/bizStep`) or an XPath.
    pub path: String,
}

impl Issue {
    /// A finding.
    pub fn new(code: &'static str, message: impl Into<String>, path: impl Into<String>) -> Issue {
        Issue {
            code,
            message: message.into(),
            path: path.into(),
        }
    }
}

/// Error and warning codes.
pub mod codes {
    /// The data is neither JSON nor XML, or not well-formed.
    pub const PARSE: &str = "EPCIS-PARSE";
    /// The document is not an EPCIS document or event (wrong root, type, namespace).
    pub const DOCUMENT: &str = "EPCIS-DOCUMENT";
    /// A required field is missing.
    pub const REQUIRED: &str = "EPCIS-REQUIRED";
    /// A field that the event type or its parent does not have.
    pub const UNKNOWN_FIELD: &str = "EPCIS-UNKNOWN-FIELD";
    /// A field of the wrong JSON type or XML structure.
    pub const TYPE: &str = "EPCIS-TYPE";
    /// XML elements out of the schema's order.
    pub const ORDER: &str = "EPCIS-ORDER";
    /// A field given more often than allowed.
    pub const CARDINALITY: &str = "EPCIS-CARDINALITY";
    /// Not a date-time with a time zone offset.
    pub const DATETIME: &str = "EPCIS-DATETIME";
    /// `eventTimeZoneOffset` not `±hh:mm` within -14:00…+14:00.
    pub const TZ_OFFSET: &str = "EPCIS-TZ-OFFSET";
    /// Not a number where a number is required.
    pub const NUMBER: &str = "EPCIS-NUMBER";
    /// Not an absolute URI where one is required.
    pub const URI: &str = "EPCIS-URI";
    /// Not a standard vocabulary value nor an absolute URI.
    pub const VOCAB: &str = "EPCIS-VOCAB";
    /// A value not allowed by the field's enumeration (e.g. `action`).
    pub const ENUM: &str = "EPCIS-ENUM";
    /// A malformed EPC URI or GS1 Digital Link URI.
    pub const IDENTIFIER: &str = "EPCIS-IDENTIFIER";
    /// A user extension whose namespace prefix is not declared, or in a reserved namespace.
    pub const NAMESPACE: &str = "EPCIS-NAMESPACE";
    /// A rule the standard states in prose (conditional presence, exclusivity, ...).
    pub const RULE: &str = "EPCIS-RULE";
    /// An `eventID` that is a hash ID different from the computed one (a warning).
    pub const EVENT_ID: &str = "EPCIS-EVENTID-HASH";
    /// Duplicate values where the schema requires unique items.
    pub const UNIQUE: &str = "EPCIS-UNIQUE";
    /// Unit of measure not a UN/CEFACT Rec 20 code shape.
    pub const UOM: &str = "EPCIS-UOM";
}

#[cfg(test)]
mod tests {
    #[test]
    fn standard_names_are_sorted_and_found() {
        assert!(super::STANDARD_NAMES.windows(2).all(|w| w[0] < w[1]));
        assert!(matches!(
            super::name("epc"),
            std::borrow::Cow::Borrowed("epc")
        ));
        assert!(matches!(
            super::name("{urn:x}y"),
            std::borrow::Cow::Owned(_)
        ));
    }
}
