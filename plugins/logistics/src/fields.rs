//! The fields of each EPCIS 2.0 event type, in the order of the XML schema
//! (`EPCglobal-epcis-2_0.xsd`), and the kind of value each holds. The JSON reader uses the
//! same tables for the allowed property names (JSON has no `baseExtension`/`extension`).

/// What a standard event field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A date-time stamp.
    Time,
    /// A plain string with its own check (`eventTimeZoneOffset`, `action`).
    Text,
    /// An absolute URI (or a vocabulary value for vocabulary fields).
    Uri,
    /// One URI or a list of URIs (`certificationInfo`).
    UriOrList,
    /// A list of EPC URIs (`epcList`, `childEPCs`, ...).
    Epcs,
    /// A list of quantity elements.
    Quantities,
    /// `readPoint` / `bizLocation`.
    Location,
    /// `bizTransactionList`.
    BizTransactions,
    /// `sourceList`.
    Sources,
    /// `destinationList`.
    Destinations,
    /// `sensorElementList`.
    SensorElements,
    /// `persistentDisposition`.
    PersistentDisposition,
    /// `errorDeclaration`.
    ErrorDeclaration,
    /// `ilmd`.
    Ilmd,
    /// XML only: `baseExtension` (EPCIS 1.x wrapper of eventID/errorDeclaration).
    BaseExtension,
    /// XML only: `extension` (EPCIS 1.x wrapper; in 2.0 it holds `##other` elements).
    Extension,
}

/// The kind of a standard field by name.
pub fn kind(name: &str) -> Option<Kind> {
    Some(match name {
        "eventTime" | "recordTime" => Kind::Time,
        "eventTimeZoneOffset" | "action" => Kind::Text,
        "eventID" | "parentID" | "transformationID" | "bizStep" | "disposition" => Kind::Uri,
        "certificationInfo" => Kind::UriOrList,
        "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => Kind::Epcs,
        "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => {
            Kind::Quantities
        }
        "readPoint" | "bizLocation" => Kind::Location,
        "bizTransactionList" => Kind::BizTransactions,
        "sourceList" => Kind::Sources,
        "destinationList" => Kind::Destinations,
        "sensorElementList" => Kind::SensorElements,
        "persistentDisposition" => Kind::PersistentDisposition,
        "errorDeclaration" => Kind::ErrorDeclaration,
        "ilmd" => Kind::Ilmd,
        "baseExtension" => Kind::BaseExtension,
        "extension" => Kind::Extension,
        _ => return None,
    })
}

const COMMON: &[&str] = &[
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
    "baseExtension",
];

const OBJECT: &[&str] = &[
    "epcList",
    "action",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "quantityList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
    "ilmd",
    "extension",
];

const AGGREGATION: &[&str] = &[
    "parentID",
    "childEPCs",
    "action",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "childQuantityList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
    "extension",
];

const TRANSACTION: &[&str] = &[
    "bizTransactionList",
    "parentID",
    "epcList",
    "action",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "quantityList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
    "extension",
];

const TRANSFORMATION: &[&str] = &[
    "inputEPCList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "transformationID",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
    "ilmd",
    "extension",
];

const ASSOCIATION: &[&str] = &[
    "parentID",
    "childEPCs",
    "childQuantityList",
    "action",
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "persistentDisposition",
    "extension",
];

/// The fields of an event type after the common ones, in XML schema order; `None` for an
/// unknown type.
pub fn type_fields(event_type: &str) -> Option<&'static [&'static str]> {
    Some(match event_type {
        "ObjectEvent" => OBJECT,
        "AggregationEvent" => AGGREGATION,
        "TransactionEvent" => TRANSACTION,
        "TransformationEvent" => TRANSFORMATION,
        "AssociationEvent" => ASSOCIATION,
        _ => return None,
    })
}

/// The position of a field in the XML schema order of `event_type` (common fields
/// first), or `None` if the type does not have it.
pub fn position(event_type: &str, name: &str) -> Option<usize> {
    if let Some(i) = COMMON.iter().position(|n| *n == name) {
        return Some(i);
    }
    type_fields(event_type)?
        .iter()
        .position(|n| *n == name)
        .map(|i| COMMON.len() + i)
}

/// Attributes of `sensorMetadata` (EPCIS 2.0 §7.3.8) and whether each is a time.
pub const SENSOR_METADATA: &[&str] = &[
    "time",
    "startTime",
    "endTime",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
];

/// Attributes of `sensorReport` (EPCIS 2.0 §7.3.8).
pub const SENSOR_REPORT: &[&str] = &[
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
    "bizRules",
];

/// Sensor attributes whose values are numbers (`xsd:double` / JSON number).
pub fn is_numeric_sensor_attr(name: &str) -> bool {
    matches!(
        name,
        "value" | "minValue" | "maxValue" | "meanValue" | "sDev" | "percRank" | "percValue"
    )
}

/// Sensor attributes whose values are URIs.
pub fn is_uri_sensor_attr(name: &str) -> bool {
    matches!(
        name,
        "deviceID"
            | "deviceMetadata"
            | "rawData"
            | "dataProcessingMethod"
            | "bizRules"
            | "microorganism"
            | "chemicalSubstance"
            | "uriValue"
            | "coordinateReferenceSystem"
    )
}
