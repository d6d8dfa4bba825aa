//! EPCIS 2.0 JSON/JSON-LD validation, one test per rule family, on documents written from
//! the standard (EPCIS 2.0 §7, the JSON Schema, CBV 2.0 §7).

mod common;

use common::*;
use weft_plugin_logistics::validate_document;

#[test]
fn all_five_event_types_valid() {
    let object = object_event(
        r#""quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200, "uom": "KGM"}],
      "bizLocation": {"id": "https://id.gs1.org/414/4012345000115"},
      "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:PO-1"}],
      "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00000"}],
      "destinationList": [{"type": "location", "destination": "urn:epc:id:sgln:4012345.00000.0"}],
      "persistentDisposition": {"set": ["completeness_verified"], "unset": ["completeness_inferred"]},
      "certificationInfo": "https://cert.example.com/audit/1",
      "example:myField": {"example:sub": "x"}"#,
    );
    let aggregation = r#"{"type": "AggregationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
      "parentID": "urn:epc:id:sscc:0614141.1234567890", "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017"],
      "action": "ADD", "bizStep": "packing", "disposition": "in_progress",
      "childQuantityList": [{"epcClass": "urn:epc:idpat:sgtin:4012345.098765.*", "quantity": 10}]}"#;
    let transaction = r#"{"type": "TransactionEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
      "bizTransactionList": [{"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:INV-1"}],
      "epcList": ["urn:epc:id:sgtin:0614141.107346.2018"], "action": "ADD"}"#;
    let transformation = r#"{"type": "TransformationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
      "inputEPCList": ["urn:epc:id:sgtin:4012345.011122.25"],
      "outputQuantityList": [{"epcClass": "https://id.gs1.org/01/04012345111118/10/L1", "quantity": 4.5, "uom": "KGM"}],
      "bizStep": "commissioning", "ilmd": {"example:bestBefore": "2025-01-01"}}"#;
    let association = r#"{"type": "AssociationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
      "parentID": "urn:epc:id:grai:4012345.55555.987", "childEPCs": ["urn:epc:id:giai:4000001.12345"],
      "action": "ADD", "bizStep": "assembling", "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"}}"#;
    let r = json_report(&json_doc(&[
        &object,
        aggregation,
        transaction,
        transformation,
        association,
    ]));
    assert_valid(&r);
    assert_eq!(r.format, "json");
    let types: Vec<&str> = r.events.iter().map(|e| e.ty.as_str()).collect();
    assert_eq!(
        types,
        [
            "ObjectEvent",
            "AggregationEvent",
            "TransactionEvent",
            "TransformationEvent",
            "AssociationEvent"
        ]
    );
    assert_eq!(r.events[0].biz_step.as_deref(), Some("shipping"));
    assert_eq!(r.events[0].quantities[0].uom.as_deref(), Some("KGM"));
    assert_eq!(r.events[0].sources[0].ty.as_deref(), Some("owning_party"));
    assert_eq!(r.events[0].biz_transactions[0].ty.as_deref(), Some("po"));
    assert_eq!(r.events[1].epcs, ["urn:epc:id:sgtin:0614141.107346.2017"]);
    assert!(
        r.events
            .iter()
            .all(|e| e.hash.starts_with("ni:///sha-256;") && e.hash.ends_with("?ver=CBV2.0"))
    );
}

#[test]
fn query_document_and_bare_event() {
    let q = format!(
        r#"{{"@context": {CONTEXT}, "type": "EPCISQueryDocument", "schemaVersion": "2.0", "creationDate": "2024-03-01T09:00:00Z",
        "epcisBody": {{"queryResults": {{"queryName": "SimpleEventQuery", "resultsBody": {{"eventList": [{}]}}}}}}}}"#,
        object_event("")
    );
    let r = json_report(&q);
    assert_valid(&r);
    assert_eq!(r.events.len(), 1);
    let bare = object_event("");
    let r = validate_document(bare.as_bytes(), Some("application/json"));
    assert_valid(&r);
    assert_eq!(r.events[0].hash, json_report(&q).events[0].hash);
}

#[test]
fn document_fields_required() {
    let r = json_report(r#"{"type": "EPCISDocument", "epcisBody": {"eventList": []}}"#);
    assert_error(&r, "EPCIS-REQUIRED", "@context");
    assert_error(&r, "EPCIS-REQUIRED", "schemaVersion");
    assert_error(&r, "EPCIS-REQUIRED", "creationDate");
    let r = json_report(r#"{"type": "Invoice"}"#);
    assert_error(&r, "EPCIS-DOCUMENT", "Invoice");
    let r = json_report(&json_doc(&[]).replace("\"2.0\"", "\"1.2\""));
    assert_error(&r, "EPCIS-DOCUMENT", "1.2");
}

#[test]
fn required_event_fields_and_action() {
    let no_time = object_event("").replace(r#""eventTime": "2024-03-01T10:00:00.000+01:00", "#, "");
    assert_error(
        &json_report(&json_doc(&[&no_time])),
        "EPCIS-REQUIRED",
        "eventTime",
    );
    let no_offset = object_event("").replace(r#""eventTimeZoneOffset": "+01:00","#, "");
    assert_error(
        &json_report(&json_doc(&[&no_offset])),
        "EPCIS-REQUIRED",
        "eventTimeZoneOffset",
    );
    let no_action = object_event("").replace(r#""action": "OBSERVE","#, "");
    assert_error(
        &json_report(&json_doc(&[&no_action])),
        "EPCIS-REQUIRED",
        "action",
    );
    let bad_action = object_event("").replace("OBSERVE", "observe");
    assert_error(
        &json_report(&json_doc(&[&bad_action])),
        "EPCIS-ENUM",
        "observe",
    );
    // TransformationEvent has no action
    let t = r#"{"type": "TransformationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
      "transformationID": "urn:epc:id:gdti:0614141.12345.400", "action": "ADD"}"#;
    assert_error(
        &json_report(&json_doc(&[t])),
        "EPCIS-UNKNOWN-FIELD",
        "action",
    );
}

#[test]
fn prose_rules_per_event_type() {
    let agg = r#"{"type": "AggregationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
      "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2017"], "action": "ADD"}"#;
    assert_error(&json_report(&json_doc(&[agg])), "EPCIS-RULE", "parentID");
    let agg_observe = agg.replace("ADD", "OBSERVE");
    assert_valid(&json_report(&json_doc(&[&agg_observe])));
    let assoc = r#"{"type": "AssociationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
      "childEPCs": ["urn:epc:id:giai:4000001.12345"], "action": "ADD"}"#;
    assert_error(
        &json_report(&json_doc(&[assoc])),
        "EPCIS-REQUIRED",
        "parentID",
    );
    let tx = r#"{"type": "TransactionEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
      "epcList": ["urn:epc:id:sgtin:0614141.107346.2018"], "action": "ADD"}"#;
    assert_error(
        &json_report(&json_doc(&[tx])),
        "EPCIS-REQUIRED",
        "bizTransactionList",
    );
    let ilmd_observe = object_event(r#""ilmd": {"example:lot": "L1"}"#);
    assert_error(
        &json_report(&json_doc(&[&ilmd_observe])),
        "EPCIS-RULE",
        "ilmd",
    );
    let no_objects = object_event("").replace(
        r#""epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],"#,
        "",
    );
    assert_error(
        &json_report(&json_doc(&[&no_objects])),
        "EPCIS-RULE",
        "epcList",
    );
    let tr = r#"{"type": "TransformationEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
      "inputEPCList": ["urn:epc:id:sgtin:4012345.011122.25"]}"#;
    assert_error(&json_report(&json_doc(&[tr])), "EPCIS-RULE", "output");
}

#[test]
fn cbv_vocabularies() {
    for (field, bad) in [
        (r#""bizStep": "shipping""#, r#""bizStep": "shiping""#),
        (
            r#""disposition": "in_transit""#,
            r#""disposition": "on_the_road""#,
        ),
        (
            r#""bizStep": "shipping""#,
            r#""bizStep": "urn:epcglobal:cbv:bizstep:flying""#,
        ),
        (
            r#""bizStep": "shipping""#,
            r#""bizStep": "https://ref.gs1.org/cbv/BizStep-flying""#,
        ),
    ] {
        let doc = json_doc(&[&object_event("").replace(field, bad)]);
        assert_error(&json_report(&doc), "EPCIS-VOCAB", "");
    }
    // standard values as URN, Web URI and CURIE, and private URIs are fine
    for good in [
        r#""bizStep": "urn:epcglobal:cbv:bizstep:shipping""#,
        r#""bizStep": "https://ref.gs1.org/cbv/BizStep-shipping""#,
        r#""bizStep": "cbv:BizStep-shipping""#,
        r#""bizStep": "https://example.com/steps/cross_docking""#,
    ] {
        let doc = json_doc(&[&object_event("").replace(r#""bizStep": "shipping""#, good)]);
        assert_valid(&json_report(&doc));
    }
    let bt = object_event(
        r#""bizTransactionList": [{"type": "purchase_order", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1"}]"#,
    );
    assert_error(
        &json_report(&json_doc(&[&bt])),
        "EPCIS-VOCAB",
        "purchase_order",
    );
    let src = object_event(
        r#""sourceList": [{"type": "owner", "source": "urn:epc:id:pgln:0614141.00000"}]"#,
    );
    assert_error(&json_report(&json_doc(&[&src])), "EPCIS-VOCAB", "owner");
    let dest =
        object_event(r#""destinationList": [{"destination": "urn:epc:id:pgln:0614141.00000"}]"#);
    assert_error(&json_report(&json_doc(&[&dest])), "EPCIS-REQUIRED", "type");
    let err = object_event(
        r#""errorDeclaration": {"declarationTime": "2024-03-02T10:00:00Z", "reason": "typo"}"#,
    );
    assert_error(&json_report(&json_doc(&[&err])), "EPCIS-VOCAB", "typo");
    let ok = object_event(
        r#""errorDeclaration": {"declarationTime": "2024-03-02T10:00:00Z", "reason": "incorrect_data", "correctiveEventIDs": ["urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"]}"#,
    );
    assert_valid(&json_report(&json_doc(&[&ok])));
    let pd = object_event(r#""persistentDisposition": {"set": ["fresh"]}"#);
    assert_error(&json_report(&json_doc(&[&pd])), "EPCIS-VOCAB", "fresh");
}

#[test]
fn date_times_and_offsets() {
    for bad in [
        "2024-03-01T10:00:00",
        "2024-02-30T10:00:00Z",
        "01.03.2024 10:00",
        "2024-03-01T25:00:00Z",
    ] {
        let doc = json_doc(&[&object_event("").replace("2024-03-01T10:00:00.000+01:00", bad)]);
        assert_error(&json_report(&doc), "EPCIS-DATETIME", bad);
    }
    for bad in ["+1:00", "+15:00", "UTC", "+01:00:00"] {
        let doc = json_doc(&[&object_event("").replace(
            r#""eventTimeZoneOffset": "+01:00""#,
            &format!(r#""eventTimeZoneOffset": "{bad}""#),
        )]);
        assert_error(&json_report(&doc), "EPCIS-TZ-OFFSET", bad);
    }
    let rec = object_event(r#""recordTime": "yesterday""#);
    assert_error(
        &json_report(&json_doc(&[&rec])),
        "EPCIS-DATETIME",
        "recordTime",
    );
}

#[test]
fn quantities_types_and_units() {
    let q = |body: &str| json_doc(&[&object_event(&format!(r#""quantityList": [{body}]"#))]);
    assert_error(
        &json_report(&q(
            r#"{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": "200"}"#,
        )),
        "EPCIS-NUMBER",
        "quantity",
    );
    assert_error(
        &json_report(&q(r#"{"quantity": 2}"#)),
        "EPCIS-REQUIRED",
        "epcClass",
    );
    assert_error(
        &json_report(&q(
            r#"{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 2, "uom": "kg"}"#,
        )),
        "EPCIS-UOM",
        "kg",
    );
    assert_error(
        &json_report(&q(
            r#"{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "uom": "KGM"}"#,
        )),
        "EPCIS-RULE",
        "uom",
    );
    assert_error(
        &json_report(&q(
            r#"{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "amount": 2}"#,
        )),
        "EPCIS-UNKNOWN-FIELD",
        "amount",
    );
    let epcs = object_event("").replace(
        r#"["urn:epc:id:sgtin:0614141.107346.2017"]"#,
        r#""urn:epc:id:sgtin:0614141.107346.2017""#,
    );
    assert_error(&json_report(&json_doc(&[&epcs])), "EPCIS-TYPE", "epcList");
    let dup = object_event("").replace(
        r#"["urn:epc:id:sgtin:0614141.107346.2017"]"#,
        r#"["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2017"]"#,
    );
    assert_error(&json_report(&json_doc(&[&dup])), "EPCIS-UNIQUE", "twice");
    let rp = object_event("").replace(
        r#"{"id": "urn:epc:id:sgln:0614141.07346.1234"}"#,
        r#""urn:epc:id:sgln:0614141.07346.1234""#,
    );
    assert_error(&json_report(&json_doc(&[&rp])), "EPCIS-TYPE", "readPoint");
}

#[test]
fn identifiers_and_uris() {
    let bad_epc = object_event("").replace(
        "urn:epc:id:sgtin:0614141.107346.2017",
        "urn:epc:id:sgtin:0614141.10734.2017",
    );
    assert_error(
        &json_report(&json_doc(&[&bad_epc])),
        "EPCIS-IDENTIFIER",
        "13 digits",
    );
    let bad_dl = object_event("").replace(
        "urn:epc:id:sgtin:0614141.107346.2017",
        "https://id.gs1.org/01/09521234543214/21/1",
    );
    assert_error(
        &json_report(&json_doc(&[&bad_dl])),
        "EPCIS-IDENTIFIER",
        "check digit",
    );
    let good_dl = object_event("").replace(
        "urn:epc:id:sgtin:0614141.107346.2017",
        "https://example.com/01/09521234543213/21/1?x=1",
    );
    assert_valid(&json_report(&json_doc(&[&good_dl])));
    let not_uri = object_event("").replace("urn:epc:id:sgtin:0614141.107346.2017", "pallet 17");
    assert_error(
        &json_report(&json_doc(&[&not_uri])),
        "EPCIS-URI",
        "pallet 17",
    );
}

#[test]
fn sensor_data() {
    let s = |body: &str| json_doc(&[&object_event(&format!(r#""sensorElementList": [{body}]"#))]);
    let good = r#"{"sensorMetadata": {"time": "2024-03-01T09:55:00Z", "deviceID": "urn:epc:id:giai:4000001.111", "example:firmware": "1.2"},
        "sensorReport": [{"type": "Temperature", "value": 26.0, "uom": "CEL"}, {"type": "gs1:RelativeHumidity", "minValue": 10, "maxValue": 12.5, "uom": "A93"},
                         {"type": "https://example.com/voc/Vibration", "booleanValue": true}, {"exception": "ALARM_CONDITION", "stringValue": "door open"},
                         {"hexBinaryValue": "f0a1", "component": "x", "chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN-UGDNZRGBSA-N"}]}"#;
    assert_valid(&json_report(&s(good)));
    assert_error(
        &json_report(&s(
            r#"{"sensorReport": [{"type": "Temprature", "value": 1}]}"#,
        )),
        "EPCIS-VOCAB",
        "Temprature",
    );
    assert_error(
        &json_report(&s(
            r#"{"sensorReport": [{"type": "Temperature", "value": "warm"}]}"#,
        )),
        "EPCIS-NUMBER",
        "value",
    );
    assert_error(
        &json_report(&s(r#"{"sensorReport": [{"booleanValue": "yes"}]}"#)),
        "EPCIS-TYPE",
        "booleanValue",
    );
    assert_error(
        &json_report(&s(r#"{"sensorReport": [{"hexBinaryValue": "xyz"}]}"#)),
        "EPCIS-TYPE",
        "hexBinary",
    );
    assert_error(
        &json_report(&s(
            r#"{"sensorMetadata": {"time": "2024-03-01"}, "sensorReport": [{"value": 1, "uom": "CEL"}]}"#,
        )),
        "EPCIS-DATETIME",
        "time",
    );
    assert_error(
        &json_report(&s(r#"{"sensorMetadata": {}}"#)),
        "EPCIS-REQUIRED",
        "sensorReport",
    );
    assert_error(
        &json_report(&s(
            r#"{"sensorReport": [{"chemicalSubstance": "urn:x:1", "microorganism": "urn:x:2"}]}"#,
        )),
        "EPCIS-RULE",
        "microorganism",
    );
    assert_error(
        &json_report(&s(r#"{"sensorReport": [{"component": "w"}]}"#)),
        "EPCIS-VOCAB",
        "component",
    );
}

#[test]
fn extensions_must_be_namespaced_and_declared() {
    let undeclared = object_event(r#""acme:temperature": "4""#);
    assert_error(
        &json_report(&json_doc(&[&undeclared])),
        "EPCIS-NAMESPACE",
        "acme",
    );
    let bare = object_event(r#""temperature": "4""#);
    assert_error(
        &json_report(&json_doc(&[&bare])),
        "EPCIS-UNKNOWN-FIELD",
        "temperature",
    );
    let full_uri = object_event(r#""https://ns.acme.com/epcis/temperature": "4""#);
    assert_valid(&json_report(&json_doc(&[&full_uri])));
    // extension inside readPoint and ilmd
    let in_rp = object_event("").replace(
        r#"{"id": "urn:epc:id:sgln:0614141.07346.1234"}"#,
        r#"{"id": "urn:epc:id:sgln:0614141.07346.1234", "example:dock": "7", "acme:x": "1"}"#,
    );
    assert_error(
        &json_report(&json_doc(&[&in_rp])),
        "EPCIS-NAMESPACE",
        "acme",
    );
    // an event-level @context declares prefixes for that event
    let ev_ctx =
        object_event(r#""@context": [{"acme": "https://ns.acme.com/"}], "acme:temperature": "4""#);
    assert_valid(&json_report(&json_doc(&[&ev_ctx])));
}

#[test]
fn any_invalid_event_makes_the_document_invalid() {
    let bad = object_event("").replace("OBSERVE", "WATCH");
    let r = json_report(&json_doc(&[&object_event(""), &bad, &object_event("")]));
    assert!(!r.valid);
    assert_eq!(r.events.len(), 3);
    assert!(
        r.errors
            .iter()
            .all(|e| e.path.starts_with("/epcisBody/eventList/1")),
        "{:#?}",
        r.errors
    );
}

#[test]
fn malformed_input_is_a_parse_error_not_a_failure() {
    for (data, ct) in [
        ("this is not EPCIS", None),
        ("{\"type\": \"EPCISDocument\",", Some("application/json")),
        ("<EPCISDocument><unclosed>", Some("application/xml")),
        ("", Some("application/ld+json")),
        ("\u{0}\u{1}binary", Some("application/octet-stream")),
    ] {
        let r = validate_document(data.as_bytes(), ct);
        assert!(!r.valid);
        assert_eq!(r.errors[0].code, "EPCIS-PARSE", "{data:?}: {:?}", r.errors);
        assert!(r.events.is_empty());
    }
    let r = validate_document(&[0xff, 0xfe, 0x00], Some("application/json"));
    assert_eq!(r.errors[0].code, "EPCIS-PARSE");
}
