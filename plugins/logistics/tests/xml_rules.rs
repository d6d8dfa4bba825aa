//! EPCIS 2.0 XML: structure per the XML schema (namespaces, element order, unknown
//! elements, extensions), the same value rules as JSON, and the same Event Hash ID for the
//! same event in JSON and in XML.

mod common;

use common::*;

const OBJECT_XML: &str = r#"<ObjectEvent>
  <eventTime>2020-03-04T11:00:30.9996+01:00</eventTime>
  <recordTime>2020-03-04T11:00:31Z</recordTime>
  <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
  <eventID>urn:uuid:6b8e7bc4-6e6c-4d3e-b5b1-5e2e1c4b7d11</eventID>
  <epcList>
    <epc>urn:epc:id:sscc:4012345.0000000333</epc>
    <epc>urn:epc:id:sscc:4012345.0000000111</epc>
  </epcList>
  <action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:departing</bizStep>
  <readPoint><id>urn:epc:id:sgln:4012345.00011.987</id><example:dock> 7 </example:dock></readPoint>
  <bizTransactionList>
    <bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epcglobal:cbv:bt:4012345000009:PO-2</bizTransaction>
    <bizTransaction>urn:epcglobal:cbv:bt:4012345000009:PO-1</bizTransaction>
  </bizTransactionList>
  <sensorElementList>
    <sensorElement>
      <sensorMetadata time="2020-03-04T10:55:00Z"/>
      <sensorReport type="gs1:Temperature" value="4.50" uom="CEL"/>
    </sensorElement>
  </sensorElementList>
  <example:myField2>0.50</example:myField2>
  <example:myField1><example:b>2</example:b><example:a>1</example:a></example:myField1>
</ObjectEvent>"#;

const OBJECT_JSON: &str = r#"{"type": "ObjectEvent",
  "eventTime": "2020-03-04T11:00:30.9996+01:00", "eventTimeZoneOffset": "+01:00",
  "recordTime": "2020-03-04T11:00:31Z", "eventID": "urn:uuid:6b8e7bc4-6e6c-4d3e-b5b1-5e2e1c4b7d11",
  "epcList": ["urn:epc:id:sscc:4012345.0000000333", "urn:epc:id:sscc:4012345.0000000111"],
  "action": "OBSERVE", "bizStep": "departing",
  "readPoint": {"id": "urn:epc:id:sgln:4012345.00011.987", "example:dock": " 7 "},
  "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:PO-2"},
                         {"bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:PO-1"}],
  "sensorElementList": [{"sensorMetadata": {"time": "2020-03-04T10:55:00Z"},
                         "sensorReport": [{"type": "Temperature", "value": 4.50, "uom": "CEL"}]}],
  "example:myField2": "0.50",
  "example:myField1": {"example:b": "2", "example:a": "1"}}"#;

const AGGREGATION_XML: &str = r#"<AggregationEvent>
  <eventTime>2013-06-08T14:58:56.591Z</eventTime>
  <eventTimeZoneOffset>+02:00</eventTimeZoneOffset>
  <parentID>urn:epc:id:sscc:0614141.1234567890</parentID>
  <childEPCs><epc>urn:epc:id:sgtin:0614141.107346.2017</epc><epc>urn:epc:id:sgtin:0614141.107346.2018</epc></childEPCs>
  <action>OBSERVE</action>
  <bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep>
  <disposition>urn:epcglobal:cbv:disp:in_progress</disposition>
  <readPoint><id>urn:epc:id:sgln:0614141.00777.0</id></readPoint>
  <bizLocation><id>urn:epc:id:sgln:0614141.00888.0</id></bizLocation>
  <childQuantityList>
    <quantityElement><epcClass>urn:epc:idpat:sgtin:4012345.098765.*</epcClass><quantity>10</quantity></quantityElement>
    <quantityElement><epcClass>urn:epc:class:lgtin:4012345.012345.998877</epcClass><quantity>200.50</quantity><uom>KGM</uom></quantityElement>
  </childQuantityList>
  <sourceList><source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:0614141.00000</source></sourceList>
  <persistentDisposition><unset>urn:epcglobal:cbv:disp:completeness_inferred</unset><set>urn:epcglobal:cbv:disp:completeness_verified</set></persistentDisposition>
  <example:myField>Example of a vendor/user extension</example:myField>
</AggregationEvent>"#;

const AGGREGATION_JSON: &str = r#"{"type": "AggregationEvent", "eventTime": "2013-06-08T14:58:56.591Z", "eventTimeZoneOffset": "+02:00",
  "parentID": "urn:epc:id:sscc:0614141.1234567890",
  "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2018", "urn:epc:id:sgtin:0614141.107346.2017"],
  "action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress",
  "readPoint": {"id": "urn:epc:id:sgln:0614141.00777.0"}, "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"},
  "childQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200.5, "uom": "KGM"},
                        {"epcClass": "urn:epc:idpat:sgtin:4012345.098765.*", "quantity": 10}],
  "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00000"}],
  "persistentDisposition": {"set": ["completeness_verified"], "unset": ["completeness_inferred"]},
  "example:myField": "Example of a vendor/user extension"}"#;

const TRANSACTION_XML: &str = r#"<TransactionEvent>
  <eventTime>2024-03-01T10:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:inv">urn:epcglobal:cbv:bt:0614141073467:INV-1</bizTransaction></bizTransactionList>
  <epcList><epc>urn:epc:id:sgtin:0614141.107346.2018</epc></epcList>
  <action>ADD</action>
  <destinationList><destination type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:4012345.00000.0</destination></destinationList>
</TransactionEvent>"#;

const TRANSACTION_JSON: &str = r#"{"type": "TransactionEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
  "bizTransactionList": [{"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:INV-1"}],
  "epcList": ["urn:epc:id:sgtin:0614141.107346.2018"], "action": "ADD",
  "destinationList": [{"type": "location", "destination": "urn:epc:id:sgln:4012345.00000.0"}]}"#;

const TRANSFORMATION_XML: &str = r#"<TransformationEvent>
  <eventTime>2024-03-01T10:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <errorDeclaration><declarationTime>2024-03-02T10:00:00Z</declarationTime><reason>urn:epcglobal:cbv:er:incorrect_data</reason></errorDeclaration>
  <inputEPCList><epc>urn:epc:id:sgtin:4012345.011122.25</epc></inputEPCList>
  <outputQuantityList><quantityElement><epcClass>https://id.gs1.org/01/04012345111118/10/L1</epcClass><quantity>4.5</quantity><uom>KGM</uom></quantityElement></outputQuantityList>
  <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
  <ilmd><example:bestBefore>2025-01-01</example:bestBefore></ilmd>
</TransformationEvent>"#;

const TRANSFORMATION_JSON: &str = r#"{"type": "TransformationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
  "errorDeclaration": {"declarationTime": "2024-03-02T10:00:00Z", "reason": "incorrect_data"},
  "inputEPCList": ["urn:epc:id:sgtin:4012345.011122.25"],
  "outputQuantityList": [{"epcClass": "https://id.gs1.org/01/04012345111118/10/L1", "quantity": 4.5, "uom": "KGM"}],
  "bizStep": "commissioning", "ilmd": {"example:bestBefore": "2025-01-01"}}"#;

const ASSOCIATION_XML: &str = r#"<AssociationEvent>
  <eventTime>2024-03-01T10:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
  <parentID>urn:epc:id:grai:4012345.55555.987</parentID>
  <childEPCs><epc>urn:epc:id:giai:4000001.12345</epc></childEPCs>
  <action>ADD</action>
  <bizStep>urn:epcglobal:cbv:bizstep:assembling</bizStep>
  <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
  <sensorElementList><sensorElement>
    <sensorReport type="gs1:Temperature" value="2.5E1" uom="CEL" example:probe="A"/>
    <sensorReport exception="gs1:ALARM_CONDITION" booleanValue="1"/>
  </sensorElement></sensorElementList>
</AssociationEvent>"#;

const ASSOCIATION_JSON: &str = r#"{"type": "AssociationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
  "parentID": "urn:epc:id:grai:4012345.55555.987", "childEPCs": ["urn:epc:id:giai:4000001.12345"],
  "action": "ADD", "bizStep": "assembling", "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
  "sensorElementList": [{"sensorReport": [{"exception": "ALARM_CONDITION", "booleanValue": true},
                                          {"type": "Temperature", "value": 25, "uom": "CEL", "example:probe": "A"}]}]}"#;

#[test]
fn all_five_event_types_give_the_same_hash_in_xml_and_json() {
    let pairs = [
        (OBJECT_XML, OBJECT_JSON),
        (AGGREGATION_XML, AGGREGATION_JSON),
        (TRANSACTION_XML, TRANSACTION_JSON),
        (TRANSFORMATION_XML, TRANSFORMATION_JSON),
        (ASSOCIATION_XML, ASSOCIATION_JSON),
    ];
    let xml = xml_report(&xml_doc(
        &pairs.iter().map(|p| p.0).collect::<Vec<_>>().join("\n"),
    ));
    assert_valid(&xml);
    assert_eq!(xml.format, "xml");
    let json = json_report(&json_doc(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()));
    assert_valid(&json);
    assert_eq!(xml.events.len(), 5);
    for (x, j) in xml.events.iter().zip(&json.events) {
        assert_eq!(x.ty, j.ty);
        assert_eq!(x.hash, j.hash, "{} differs between XML and JSON", x.ty);
        assert_eq!(x.biz_step, j.biz_step);
        assert_eq!(x.sources, j.sources);
    }
    assert_eq!(xml.events[1].biz_step.as_deref(), Some("receiving"));
    assert_eq!(xml.events[1].sources[0].ty.as_deref(), Some("owning_party"));
}

#[test]
fn query_document_and_bare_event() {
    let q = format!(
        r#"<epcisq:EPCISQueryDocument xmlns:epcisq="urn:epcglobal:epcis-query:xsd:2" xmlns:example="https://ns.example.com/epcis/" schemaVersion="2.0" creationDate="2024-03-01T09:00:00Z">
  <EPCISBody><epcisq:QueryResults><queryName>SimpleEventQuery</queryName><resultsBody><EventList>{TRANSACTION_XML}</EventList></resultsBody></epcisq:QueryResults></EPCISBody>
</epcisq:EPCISQueryDocument>"#
    );
    let r = xml_report(&q);
    assert_valid(&r);
    assert_eq!(r.events.len(), 1);
    let bare = xml_report(TRANSACTION_XML);
    assert_valid(&bare);
    assert_eq!(bare.events[0].hash, r.events[0].hash);
}

#[test]
fn element_order_and_unknown_elements() {
    let swapped = TRANSACTION_XML
        .replace("<action>ADD</action>", "")
        .replace("<epcList>", "<action>ADD</action><epcList>");
    assert_error(&xml_report(&xml_doc(&swapped)), "EPCIS-ORDER", "epcList");
    let unknown = TRANSACTION_XML.replace(
        "<action>ADD</action>",
        "<action>ADD</action><temperature>4</temperature>",
    );
    assert_error(
        &xml_report(&xml_doc(&unknown)),
        "EPCIS-UNKNOWN-FIELD",
        "temperature",
    );
    let ext_first = TRANSACTION_XML.replace(
        "<action>ADD</action>",
        "<example:x>1</example:x><action>ADD</action>",
    );
    assert_error(
        &xml_report(&xml_doc(&ext_first)),
        "EPCIS-ORDER",
        "extension",
    );
    let twice = TRANSACTION_XML.replace(
        "<action>ADD</action>",
        "<action>ADD</action><action>ADD</action>",
    );
    assert_error(&xml_report(&xml_doc(&twice)), "EPCIS-CARDINALITY", "action");
    let q_order = AGGREGATION_XML.replace(
        "<quantity>200.50</quantity><uom>KGM</uom>",
        "<uom>KGM</uom><quantity>200.50</quantity>",
    );
    assert_error(
        &xml_report(&xml_doc(&q_order)),
        "EPCIS-ORDER",
        "quantityElement",
    );
    let pd_order = AGGREGATION_XML.replace(
        "<unset>urn:epcglobal:cbv:disp:completeness_inferred</unset><set>urn:epcglobal:cbv:disp:completeness_verified</set>",
        "<set>urn:epcglobal:cbv:disp:completeness_verified</set><unset>urn:epcglobal:cbv:disp:completeness_inferred</unset>",
    );
    assert_error(
        &xml_report(&xml_doc(&pd_order)),
        "EPCIS-ORDER",
        "persistentDisposition",
    );
    let bad_attr = ASSOCIATION_XML.replace("uom=\"CEL\" example", "unit=\"CEL\" example");
    assert_error(
        &xml_report(&xml_doc(&bad_attr)),
        "EPCIS-UNKNOWN-FIELD",
        "unit",
    );
}

#[test]
fn value_rules_apply_to_xml_too() {
    let bad = TRANSACTION_XML.replace("urn:epcglobal:cbv:btt:inv", "urn:epcglobal:cbv:btt:invoice");
    assert_error(&xml_report(&xml_doc(&bad)), "EPCIS-VOCAB", "invoice");
    let bare_word = TRANSACTION_XML.replace(
        "<action>ADD</action>",
        "<action>ADD</action><bizStep>shiping</bizStep>",
    );
    assert_error(&xml_report(&xml_doc(&bare_word)), "EPCIS-VOCAB", "shiping");
    let offset =
        TRANSACTION_XML.replace("<eventTimeZoneOffset>+00:00", "<eventTimeZoneOffset>00:00");
    assert_error(&xml_report(&xml_doc(&offset)), "EPCIS-TZ-OFFSET", "00:00");
    let qty = AGGREGATION_XML.replace("<quantity>10</quantity>", "<quantity>ten</quantity>");
    assert_error(&xml_report(&xml_doc(&qty)), "EPCIS-NUMBER", "ten");
    let no_parent = AGGREGATION_XML
        .replace(
            "<parentID>urn:epc:id:sscc:0614141.1234567890</parentID>",
            "",
        )
        .replace("<action>OBSERVE</action>", "<action>ADD</action>");
    assert_error(&xml_report(&xml_doc(&no_parent)), "EPCIS-RULE", "parentID");
    let no_type = TRANSACTION_XML.replace(" type=\"urn:epcglobal:cbv:sdt:location\"", "");
    assert_error(&xml_report(&xml_doc(&no_type)), "EPCIS-REQUIRED", "type");
}

#[test]
fn document_level_checks() {
    let v1 =
        xml_doc(TRANSACTION_XML).replace("urn:epcglobal:epcis:xsd:2", "urn:epcglobal:epcis:xsd:1");
    assert_error(&xml_report(&v1), "EPCIS-DOCUMENT", "namespace");
    let no_date = xml_doc(TRANSACTION_XML).replace(r#" creationDate="2024-03-01T09:00:00Z""#, "");
    assert_error(&xml_report(&no_date), "EPCIS-REQUIRED", "creationDate");
    let other =
        xml_report(r#"<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>"#);
    assert_error(&other, "EPCIS-DOCUMENT", "Invoice");
    let broken =
        xml_report("<epcis:EPCISDocument xmlns:epcis=\"urn:epcglobal:epcis:xsd:2\"><EPCISBody>");
    assert_eq!(broken.errors[0].code, "EPCIS-PARSE");
    assert!(!broken.valid);
}

/// The standard's XSDs judge the five event types and the structural variants above
/// alike: valid in both, or rejected by both — except where the plugin applies the
/// standard's prose beyond the XSD (marked).
#[test]
fn the_standard_xsd_judges_the_events_alike() {
    let events = [
        OBJECT_XML,
        AGGREGATION_XML,
        TRANSACTION_XML,
        TRANSFORMATION_XML,
        ASSOCIATION_XML,
    ];
    let mut docs: Vec<String> = events.iter().map(|e| xml_doc(e)).collect();
    docs.push(xml_doc(&events.join("\n")));
    let n_valid = docs.len();
    // (event, from, to, whether the XSD rejects it too)
    let variants: &[(&str, &str, &str, bool)] = &[
        (TRANSACTION_XML, "<action>ADD</action>", "", true),
        (
            TRANSACTION_XML,
            "<action>ADD</action>",
            "<action>ADD</action><temperature>4</temperature>",
            true,
        ),
        (
            TRANSACTION_XML,
            "<action>ADD</action>",
            "<example:x>1</example:x><action>ADD</action>",
            true,
        ),
        (
            TRANSACTION_XML,
            "<action>ADD</action>",
            "<action>ADD</action><action>ADD</action>",
            true,
        ),
        (
            AGGREGATION_XML,
            "<quantity>200.50</quantity><uom>KGM</uom>",
            "<uom>KGM</uom><quantity>200.50</quantity>",
            true,
        ),
        (
            AGGREGATION_XML,
            "<unset>urn:epcglobal:cbv:disp:completeness_inferred</unset><set>urn:epcglobal:cbv:disp:completeness_verified</set>",
            "<set>urn:epcglobal:cbv:disp:completeness_verified</set><unset>urn:epcglobal:cbv:disp:completeness_inferred</unset>",
            true,
        ),
        // SensorReportType has `xsd:anyAttribute` (any namespace, even none), but user
        // extensions are namespaced (EPCIS 2.0): the plugin rejects the bare `unit`
        (
            ASSOCIATION_XML,
            "uom=\"CEL\" example",
            "unit=\"CEL\" example",
            false,
        ),
        (
            OBJECT_XML,
            "<action>OBSERVE</action>",
            "<action>observe</action>",
            true,
        ),
        (
            OBJECT_XML,
            "<eventTime>2020-03-04T11:00:30.9996+01:00</eventTime>",
            "",
            true,
        ),
        (
            OBJECT_XML,
            "<eventTimeZoneOffset>+01:00</eventTimeZoneOffset>",
            "",
            true,
        ),
        (
            OBJECT_XML,
            "<readPoint><id>urn:epc:id:sgln:4012345.00011.987</id>",
            "<readPoint>",
            true,
        ),
    ];
    for (base, from, to, _) in variants {
        assert!(base.contains(from), "test data: {from}");
        docs.push(xml_doc(&base.replacen(from, to, 1)));
    }
    let Some(xsd) = xsd_verdicts(&docs) else {
        return;
    };
    for (i, doc) in docs.iter().enumerate() {
        let r = xml_report(doc);
        if i < n_valid {
            assert_eq!(xsd[i], None, "the XSD rejects valid document {i}:\n{doc}");
            assert_valid(&r);
        } else {
            let why = xsd[i].as_deref();
            let xsd_rejects = variants[i - n_valid].3;
            assert_eq!(
                why.is_some(),
                xsd_rejects,
                "variant {i}: the XSD says {why:?}:\n{doc}"
            );
            assert!(
                !r.valid,
                "the XSD rejects variant {i} ({}), the plugin does not",
                why.unwrap_or("")
            );
        }
    }
}
