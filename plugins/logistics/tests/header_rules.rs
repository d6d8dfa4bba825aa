//! The document header: the XML `EPCISHeader` with its Standard Business Document Header
//! (StandardBusinessDocumentHeader.xsd and the files it includes) and master data
//! (`EPCISHeader/extension/EPCISMasterData`, EPCglobal-epcis-2_0.xsd; the
//! `EPCISMasterDataDocument` of EPCglobal-epcis-masterdata-2_0.xsd), and the JSON
//! `epcisHeader` / document fields (EPCIS-JSON-Schema.json). Valid documents in the
//! layout of the standard's examples, then broken variants, one rule each.

mod common;

use common::*;

const EVENT_XML: &str = r#"<ObjectEvent>
  <eventTime>2024-03-01T10:00:00.000+01:00</eventTime>
  <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
  <epcList><epc>urn:epc:id:sgtin:0614141.107346.2017</epc></epcList>
  <action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
  <readPoint><id>urn:epc:id:sgln:0614141.07346.1234</id></readPoint>
</ObjectEvent>"#;

/// The SBDH of the EPCIS standard's XML examples (sender and receiver by SGLN,
/// Standard EPCglobal, Type Events), with a manifest and a business scope.
const SBDH: &str = r#"<sbdh:StandardBusinessDocumentHeader>
      <sbdh:HeaderVersion>1.0</sbdh:HeaderVersion>
      <sbdh:Sender>
        <sbdh:Identifier Authority="SGLN">urn:epc:id:sgln:0353579.00001.0</sbdh:Identifier>
        <sbdh:ContactInformation>
          <sbdh:Contact>Shipping desk</sbdh:Contact>
          <sbdh:EmailAddress>shipping@example.com</sbdh:EmailAddress>
        </sbdh:ContactInformation>
      </sbdh:Sender>
      <sbdh:Receiver>
        <sbdh:Identifier Authority="SGLN">urn:epc:id:sgln:5012345.00001.0</sbdh:Identifier>
      </sbdh:Receiver>
      <sbdh:DocumentIdentification>
        <sbdh:Standard>EPCglobal</sbdh:Standard>
        <sbdh:TypeVersion>2.0</sbdh:TypeVersion>
        <sbdh:InstanceIdentifier>1234567890</sbdh:InstanceIdentifier>
        <sbdh:Type>Events</sbdh:Type>
        <sbdh:MultipleType>false</sbdh:MultipleType>
        <sbdh:CreationDateAndTime>2024-03-01T09:00:00Z</sbdh:CreationDateAndTime>
      </sbdh:DocumentIdentification>
      <sbdh:Manifest>
        <sbdh:NumberOfItems>1</sbdh:NumberOfItems>
        <sbdh:ManifestItem>
          <sbdh:MimeTypeQualifierCode>application/xml</sbdh:MimeTypeQualifierCode>
          <sbdh:UniformResourceIdentifier>https://example.com/epcis/1234567890</sbdh:UniformResourceIdentifier>
        </sbdh:ManifestItem>
      </sbdh:Manifest>
      <sbdh:BusinessScope>
        <sbdh:Scope>
          <sbdh:Type>EPCISQuery</sbdh:Type>
          <sbdh:InstanceIdentifier>q-1</sbdh:InstanceIdentifier>
          <sbdh:CorrelationInformation>
            <sbdh:RequestingDocumentInstanceIdentifier>r-9</sbdh:RequestingDocumentInstanceIdentifier>
          </sbdh:CorrelationInformation>
        </sbdh:Scope>
      </sbdh:BusinessScope>
    </sbdh:StandardBusinessDocumentHeader>"#;

/// Master data in the header: a business location with attributes and children.
const MASTER_DATA: &str = r#"<extension>
      <EPCISMasterData>
        <VocabularyList>
          <Vocabulary type="urn:epcglobal:epcis:vtype:BusinessLocation">
            <VocabularyElementList>
              <VocabularyElement id="urn:epc:id:sgln:0614141.07346.0">
                <attribute id="urn:epcglobal:cbv:mda#name">Warehouse 7</attribute>
                <attribute id="urn:epcglobal:cbv:mda#countryCode">DE</attribute>
                <children>
                  <id>urn:epc:id:sgln:0614141.07346.1234</id>
                </children>
              </VocabularyElement>
            </VocabularyElementList>
          </Vocabulary>
        </VocabularyList>
      </EPCISMasterData>
    </extension>"#;

fn xml_with_header(header: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:sbdh="http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader" schemaVersion="2.0" creationDate="2024-03-01T09:00:00Z">
  <EPCISHeader>
    {header}
  </EPCISHeader>
  <EPCISBody>
    <EventList>
{EVENT_XML}
    </EventList>
  </EPCISBody>
</epcis:EPCISDocument>"#
    )
}

fn full_header() -> String {
    format!("{SBDH}\n    {MASTER_DATA}")
}

#[test]
fn the_standard_header_layout_is_valid() {
    let r = xml_report(&xml_with_header(&full_header()));
    assert_valid(&r);
    assert_eq!(r.events.len(), 1);
    // the header is optional, and so is each of its parts
    assert_valid(&xml_report(&xml_with_header(SBDH)));
    assert_valid(&xml_report(&xml_with_header(MASTER_DATA)));
    assert_valid(&xml_report(&xml_with_header("")));
}

/// Each broken variant: (what is changed, from, to, error code, message part).
const SBDH_BREAKS: &[(&str, &str, &str, &str)] = &[
    // required elements
    (
        "<sbdh:HeaderVersion>1.0</sbdh:HeaderVersion>",
        "",
        "EPCIS-REQUIRED",
        "requires HeaderVersion",
    ),
    (
        "<sbdh:Standard>EPCglobal</sbdh:Standard>",
        "",
        "EPCIS-REQUIRED",
        "DocumentIdentification requires Standard",
    ),
    (
        "<sbdh:CreationDateAndTime>2024-03-01T09:00:00Z</sbdh:CreationDateAndTime>",
        "",
        "EPCIS-REQUIRED",
        "requires CreationDateAndTime",
    ),
    (
        "<sbdh:MimeTypeQualifierCode>application/xml</sbdh:MimeTypeQualifierCode>",
        "",
        "EPCIS-REQUIRED",
        "ManifestItem requires MimeTypeQualifierCode",
    ),
    (
        "<sbdh:Contact>Shipping desk</sbdh:Contact>",
        "",
        "EPCIS-REQUIRED",
        "ContactInformation requires Contact",
    ),
    (
        "<sbdh:Type>EPCISQuery</sbdh:Type>",
        "",
        "EPCIS-REQUIRED",
        "Scope requires Type",
    ),
    // order of the xsd:sequence
    (
        "<sbdh:Standard>EPCglobal</sbdh:Standard>\n        <sbdh:TypeVersion>2.0</sbdh:TypeVersion>",
        "<sbdh:TypeVersion>2.0</sbdh:TypeVersion>\n        <sbdh:Standard>EPCglobal</sbdh:Standard>",
        "EPCIS-ORDER",
        "`Standard` is out of order in DocumentIdentification",
    ),
    // simple types
    (
        "<sbdh:MultipleType>false</sbdh:MultipleType>",
        "<sbdh:MultipleType>no</sbdh:MultipleType>",
        "EPCIS-TYPE",
        "xs:boolean",
    ),
    (
        "<sbdh:CreationDateAndTime>2024-03-01T09:00:00Z</sbdh:CreationDateAndTime>",
        "<sbdh:CreationDateAndTime>2024-02-30T09:00:00Z</sbdh:CreationDateAndTime>",
        "EPCIS-DATETIME",
        "CreationDateAndTime",
    ),
    (
        "<sbdh:NumberOfItems>1</sbdh:NumberOfItems>",
        "<sbdh:NumberOfItems>one</sbdh:NumberOfItems>",
        "EPCIS-NUMBER",
        "xs:integer",
    ),
    (
        "<sbdh:UniformResourceIdentifier>https://example.com/epcis/1234567890</sbdh:UniformResourceIdentifier>",
        "<sbdh:UniformResourceIdentifier>not a uri</sbdh:UniformResourceIdentifier>",
        "EPCIS-URI",
        "UniformResourceIdentifier",
    ),
    // unknown elements and attributes, wrong namespace, cardinality
    (
        "<sbdh:HeaderVersion>1.0</sbdh:HeaderVersion>",
        "<sbdh:HeaderVersion>1.0</sbdh:HeaderVersion><sbdh:Priority>high</sbdh:Priority>",
        "EPCIS-UNKNOWN-FIELD",
        "`Priority` is not an element of StandardBusinessDocumentHeader",
    ),
    (
        "<sbdh:Identifier Authority=\"SGLN\">urn:epc:id:sgln:0353579.00001.0</sbdh:Identifier>",
        "<sbdh:Identifier Scheme=\"SGLN\">urn:epc:id:sgln:0353579.00001.0</sbdh:Identifier>",
        "EPCIS-UNKNOWN-FIELD",
        "`Scheme` is not an attribute of Identifier",
    ),
    (
        "<sbdh:HeaderVersion>1.0</sbdh:HeaderVersion>",
        "<HeaderVersion>1.0</HeaderVersion>",
        "EPCIS-NAMESPACE",
        "must be in the SBDH namespace",
    ),
    (
        "<sbdh:Type>Events</sbdh:Type>",
        "<sbdh:Type>Events</sbdh:Type><sbdh:Type>Events</sbdh:Type>",
        "EPCIS-CARDINALITY",
        "`Type` is given more than once in DocumentIdentification",
    ),
    (
        "<sbdh:Sender>",
        "<sbdh:Sender>text<sbdh:Identifier>x</sbdh:Identifier></sbdh:Sender><sbdh:Sender>",
        "EPCIS-TYPE",
        "Sender has elements only",
    ),
    (
        "<sbdh:CorrelationInformation>",
        "<sbdh:ScopeInformation/><sbdh:CorrelationInformation>",
        "EPCIS-TYPE",
        "ScopeInformation is abstract",
    ),
];

#[test]
fn broken_sbdh_variants_are_invalid() {
    let valid = full_header();
    for (from, to, code, needle) in SBDH_BREAKS {
        assert!(valid.contains(from), "test data: {from} not in the header");
        let broken = valid.replacen(from, to, 1);
        let r = xml_report(&xml_with_header(&broken));
        assert_error(&r, code, needle);
    }
    // no Sender / Receiver at all
    let no_receiver = SBDH
        .replace(
            "<sbdh:Receiver>\n        <sbdh:Identifier Authority=\"SGLN\">urn:epc:id:sgln:5012345.00001.0</sbdh:Identifier>\n      </sbdh:Receiver>",
            "",
        );
    assert!(!no_receiver.contains("Receiver"));
    assert_error(
        &xml_report(&xml_with_header(&no_receiver)),
        "EPCIS-REQUIRED",
        "StandardBusinessDocumentHeader requires Receiver",
    );
    // a second SBDH, and the header parts in the wrong order
    assert_error(
        &xml_report(&xml_with_header(&format!("{SBDH}{SBDH}"))),
        "EPCIS-CARDINALITY",
        "StandardBusinessDocumentHeader must come first",
    );
    assert_error(
        &xml_report(&xml_with_header(&format!("{MASTER_DATA}{SBDH}"))),
        "EPCIS-ORDER",
        "StandardBusinessDocumentHeader must come first",
    );
    // an SBDH TypeVersion of EPCIS 1.x is a warning only
    let r = xml_report(&xml_with_header(&SBDH.replace(
        "<sbdh:TypeVersion>2.0</sbdh:TypeVersion>",
        "<sbdh:TypeVersion>1.2</sbdh:TypeVersion>",
    )));
    assert_valid(&r);
    assert!(r.warnings.iter().any(|w| w.message.contains("TypeVersion")));
}

const MASTER_DATA_BREAKS: &[(&str, &str, &str, &str)] = &[
    (
        " type=\"urn:epcglobal:epcis:vtype:BusinessLocation\"",
        "",
        "EPCIS-REQUIRED",
        "Vocabulary requires the attribute type",
    ),
    (
        "type=\"urn:epcglobal:epcis:vtype:BusinessLocation\"",
        "type=\"BusinessLocation\"",
        "EPCIS-URI",
        "Vocabulary/@type `BusinessLocation` is not an absolute URI",
    ),
    (
        " id=\"urn:epc:id:sgln:0614141.07346.0\"",
        "",
        "EPCIS-REQUIRED",
        "VocabularyElement requires the attribute id",
    ),
    (
        "id=\"urn:epc:id:sgln:0614141.07346.0\"",
        "id=\"urn:epc:id:sgln:0614141.7346.0\"",
        "EPCIS-IDENTIFIER",
        "VocabularyElement/@id",
    ),
    (
        "<attribute id=\"urn:epcglobal:cbv:mda#name\">",
        "<attribute>",
        "EPCIS-REQUIRED",
        "attribute requires the attribute id",
    ),
    (
        "<id>urn:epc:id:sgln:0614141.07346.1234</id>",
        "<id>warehouse 7 dock</id>",
        "EPCIS-URI",
        "children/id",
    ),
    (
        "<id>urn:epc:id:sgln:0614141.07346.1234</id>",
        "<child>urn:epc:id:sgln:0614141.07346.1234</child>",
        "EPCIS-UNKNOWN-FIELD",
        "`child` is not an element of children",
    ),
    // attribute* must come before children
    (
        "<attribute id=\"urn:epcglobal:cbv:mda#countryCode\">DE</attribute>\n                <children>\n                  <id>urn:epc:id:sgln:0614141.07346.1234</id>\n                </children>",
        "<children>\n                  <id>urn:epc:id:sgln:0614141.07346.1234</id>\n                </children><attribute id=\"urn:epcglobal:cbv:mda#countryCode\">DE</attribute>",
        "EPCIS-ORDER",
        "`attribute` is out of place in VocabularyElement",
    ),
    (
        "<VocabularyElementList>",
        "<VocabularyElementList><Element id=\"urn:x:1\"/>",
        "EPCIS-UNKNOWN-FIELD",
        "`Element` is not an element of VocabularyElementList",
    ),
    (
        "<VocabularyList>",
        "<VocabularyList><Vocabulary type=\"urn:x:t\"><VocabularyElementList/></Vocabulary>",
        "EPCIS-REQUIRED",
        "VocabularyElementList requires at least one VocabularyElement",
    ),
    (
        "<EPCISMasterData>\n        <VocabularyList>",
        "<EPCISMasterData><Vocabularies/>\n        <VocabularyList>",
        "EPCIS-UNKNOWN-FIELD",
        "`Vocabularies` is not an element of master data",
    ),
];

#[test]
fn broken_master_data_variants_are_invalid() {
    for (from, to, code, needle) in MASTER_DATA_BREAKS {
        assert!(
            MASTER_DATA.contains(from),
            "test data: {from} not in the master data"
        );
        let broken = MASTER_DATA.replacen(from, to, 1);
        let r = xml_report(&xml_with_header(&broken));
        assert_error(&r, code, needle);
    }
    // EPCISMasterData requires its VocabularyList
    assert_error(
        &xml_report(&xml_with_header(
            "<extension><EPCISMasterData></EPCISMasterData></extension>",
        )),
        "EPCIS-REQUIRED",
        "EPCISMasterData requires a VocabularyList",
    );
    // directly in EPCISHeader (1.x habit) instead of EPCISHeader/extension
    let direct = MASTER_DATA
        .trim()
        .trim_start_matches("<extension>")
        .trim_end_matches("</extension>");
    assert_error(
        &xml_report(&xml_with_header(direct)),
        "EPCIS-UNKNOWN-FIELD",
        "EPCISMasterData belongs in EPCISHeader/extension",
    );
    // unknown header element
    assert_error(
        &xml_report(&xml_with_header("<Sender>me</Sender>")),
        "EPCIS-UNKNOWN-FIELD",
        "`Sender` is not an element of EPCISHeader",
    );
}

#[test]
fn master_data_document() {
    let doc = |body: &str| {
        format!(
            r#"<epcismd:EPCISMasterDataDocument xmlns:epcismd="urn:epcglobal:epcis-masterdata:xsd:2" schemaVersion="2.0" creationDate="2024-03-01T09:00:00Z">
  <EPCISBody>{body}</EPCISBody>
</epcismd:EPCISMasterDataDocument>"#
        )
    };
    let list = MASTER_DATA
        .trim()
        .trim_start_matches("<extension>")
        .trim_end_matches("</extension>")
        .trim()
        .trim_start_matches("<EPCISMasterData>")
        .trim_end_matches("</EPCISMasterData>");
    let r = xml_report(&doc(list));
    assert_valid(&r);
    assert!(r.events.is_empty());
    // the body's VocabularyList is optional there
    assert_valid(&xml_report(&doc("")));
    assert_error(
        &xml_report(&doc(&list.replace("urn:epcglobal:epcis:vtype:", ""))),
        "EPCIS-URI",
        "Vocabulary/@type",
    );
    // the attributes of every EPCglobal document
    assert_error(
        &xml_report(&doc(list).replace(" creationDate=\"2024-03-01T09:00:00Z\"", "")),
        "EPCIS-REQUIRED",
        "creationDate",
    );
}

// --- JSON ---

fn json_with(fields: &str) -> String {
    format!(
        r#"{{"@context": {CONTEXT}, "type": "EPCISDocument", "schemaVersion": "2.0",
  "creationDate": "2024-03-01T09:00:00Z"{fields},
  "epcisBody": {{"eventList": [{}]}}}}"#,
        object_event("")
    )
}

const JSON_HEADER: &str = r#", "id": "urn:uuid:3b1e6f5c-0b3e-4b59-9f0f-c1e2a3b4c5d6",
  "instanceIdentifier": "1234567890", "sender": "urn:epc:id:sgln:0353579.00001.0",
  "receiver": "urn:epc:id:sgln:5012345.00001.0",
  "epcisHeader": {"epcisMasterData": {"vocabularyList": [
    {"type": "urn:epcglobal:epcis:vtype:BusinessLocation",
     "vocabularyElementList": [
       {"id": "urn:epc:id:sgln:0614141.07346.0",
        "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Warehouse 7"},
                       {"id": "urn:epcglobal:cbv:mda#latitude", "attribute": 50.11},
                       {"id": "example:address", "attribute": {"example:street": "Hafenstr. 1"}}],
        "children": ["urn:epc:id:sgln:0614141.07346.1234"]}]}]},
    "example:transport": "road"}"#;

#[test]
fn json_header_and_master_data() {
    assert_valid(&json_report(&json_with(JSON_HEADER)));
    let breaks: &[(&str, &str, &str, &str)] = &[
        (
            r#""type": "urn:epcglobal:epcis:vtype:BusinessLocation","#,
            "",
            "EPCIS-REQUIRED",
            "vocabulary requires type",
        ),
        (
            r#""id": "urn:epc:id:sgln:0614141.07346.0","#,
            r#""id": "Warehouse 7","#,
            "EPCIS-URI",
            "vocabularyElement.id",
        ),
        (
            r#""id": "urn:epc:id:sgln:0614141.07346.0","#,
            r#""id": "urn:epc:id:sgln:0614141.7346.0","#,
            "EPCIS-IDENTIFIER",
            "vocabularyElement.id",
        ),
        (
            r#""attribute": 50.11"#,
            r#""attribute": [50.11]"#,
            "EPCIS-TYPE",
            "attribute.attribute must be a number, string or object",
        ),
        (
            r#"{"id": "urn:epcglobal:cbv:mda#name", "#,
            r#"{"#,
            "EPCIS-REQUIRED",
            "attribute requires id",
        ),
        (
            r#""children": ["urn:epc:id:sgln:0614141.07346.1234"]"#,
            r#""children": "urn:epc:id:sgln:0614141.07346.1234""#,
            "EPCIS-TYPE",
            "children must be an array",
        ),
        (
            r#""vocabularyList": ["#,
            r#""vocabularies": {}, "vocabularyList": ["#,
            // not forbidden by the JSON Schema: epcisMasterData has no propertyNames rule
            "",
            "",
        ),
        (
            r#""example:transport": "road""#,
            r#""transport": "road""#,
            "EPCIS-UNKNOWN-FIELD",
            "`transport` is not a field of epcisHeader",
        ),
        (
            r#""epcisHeader": {"#,
            r#""epcisHeader": [], "x": {"#,
            "EPCIS-TYPE",
            "epcisHeader must be an object",
        ),
        (
            r#""sender": "urn:epc:id:sgln:0353579.00001.0""#,
            r#""sender": {"id": "urn:epc:id:sgln:0353579.00001.0"}"#,
            "EPCIS-TYPE",
            "sender must be a string",
        ),
        (
            r#""id": "urn:uuid:3b1e6f5c-0b3e-4b59-9f0f-c1e2a3b4c5d6""#,
            r#""id": "document 1""#,
            "EPCIS-URI",
            "the document id",
        ),
    ];
    for (from, to, code, needle) in breaks {
        assert!(JSON_HEADER.contains(from), "test data: {from}");
        let r = json_report(&json_with(&JSON_HEADER.replacen(from, to, 1)));
        if code.is_empty() {
            assert_valid(&r);
        } else {
            assert_error(&r, code, needle);
        }
    }
}

#[test]
fn json_query_document_fields() {
    // EPCIS JSON Schema epcisQueryDocument: only @context, type and epcisBody are
    // required, and sender / epcisHeader are not among its properties
    let query = |extra: &str| {
        format!(
            r#"{{"@context": {CONTEXT}, "type": "EPCISQueryDocument"{extra},
  "epcisBody": {{"queryResults": {{"queryName": "SimpleEventQuery",
    "resultsBody": {{"eventList": [{}]}}}}}}}}"#,
            object_event("")
        )
    };
    assert_valid(&json_report(&query("")));
    assert_valid(&json_report(&query(
        r#", "schemaVersion": "2.0", "creationDate": "2024-03-01T09:00:00Z""#,
    )));
    assert_error(
        &json_report(&query(r#", "sender": "urn:epc:id:sgln:0353579.00001.0""#)),
        "EPCIS-UNKNOWN-FIELD",
        "`sender` is not a field of EPCISQueryDocument",
    );
    // an EPCISDocument still requires them
    assert_error(
        &json_report(&json_with("").replace(r#""schemaVersion": "2.0","#, "")),
        "EPCIS-REQUIRED",
        "schemaVersion",
    );
}

// --- the standard's XML schemas as an oracle ---

/// Codes of rules beyond the XSD (URI syntax, identifiers, vocabularies, prose rules):
/// the only reasons to reject a document the XSD accepts.
const BEYOND_XSD: &[&str] = &[
    "EPCIS-URI",
    "EPCIS-IDENTIFIER",
    "EPCIS-VOCAB",
    "EPCIS-RULE",
    "EPCIS-DATETIME",
    "EPCIS-TZ-OFFSET",
    "EPCIS-UOM",
    "EPCIS-UNIQUE",
];

#[test]
fn the_standard_xsd_agrees() {
    let md_doc = |body: &str| {
        format!(
            r#"<epcismd:EPCISMasterDataDocument xmlns:epcismd="urn:epcglobal:epcis-masterdata:xsd:2" schemaVersion="2.0" creationDate="2024-03-01T09:00:00Z"><EPCISBody>{body}</EPCISBody></epcismd:EPCISMasterDataDocument>"#
        )
    };
    let list = MASTER_DATA
        .trim()
        .trim_start_matches("<extension>")
        .trim_end_matches("</extension>")
        .trim()
        .trim_start_matches("<EPCISMasterData>")
        .trim_end_matches("</EPCISMasterData>");
    let sample = weft_plugin_logistics::sample::object_event_document_xml();
    let mut valid = vec![
        xml_with_header(&full_header()),
        xml_with_header(SBDH),
        xml_with_header(MASTER_DATA),
        xml_with_header(""),
        sample.clone(),
        md_doc(list),
        md_doc(""),
    ];
    let n_valid = valid.len();
    let header = full_header();
    for (from, to, _, _) in SBDH_BREAKS {
        valid.push(xml_with_header(&header.replacen(from, to, 1)));
    }
    for (from, to, _, _) in MASTER_DATA_BREAKS {
        valid.push(xml_with_header(&MASTER_DATA.replacen(from, to, 1)));
    }
    // the event itself, against the XSD's ObjectEvent
    for (from, to) in [
        ("<eventTime>2024-03-01T10:03:17.412+01:00</eventTime>", ""),
        ("<action>OBSERVE</action>", "<action>observe</action>"),
        ("<action>OBSERVE</action>", ""),
        (
            "<action>OBSERVE</action>",
            "<action>OBSERVE</action><note>x</note>",
        ),
    ] {
        assert!(sample.contains(from), "test data: {from}");
        valid.push(sample.replacen(from, to, 1));
    }
    let docs = valid;
    let Some(xsd) = xsd_verdicts(&docs) else {
        return;
    };
    let (mut both, mut beyond) = (0, 0);
    for (i, doc) in docs.iter().enumerate() {
        let r = xml_report(doc);
        let codes = error_codes(&r);
        if i >= n_valid {
            if xsd[i].is_some() {
                both += 1;
            } else {
                beyond += 1;
            }
        }
        if i < n_valid {
            assert_eq!(xsd[i], None, "the XSD rejects valid document {i}:\n{doc}");
            assert_valid(&r);
            continue;
        }
        match &xsd[i] {
            Some(why) => assert!(
                !r.valid,
                "document {i}: the XSD rejects it ({why}), the plugin does not:\n{doc}"
            ),
            None => assert!(
                !r.valid && codes.iter().all(|c| BEYOND_XSD.contains(c)),
                "document {i}: the XSD accepts it, the plugin says {codes:?}:\n{doc}"
            ),
        }
    }
    eprintln!(
        "{} documents: {n_valid} valid in both, {both} rejected by both, {beyond} only by the plugin's rules beyond the XSD",
        docs.len()
    );
}
