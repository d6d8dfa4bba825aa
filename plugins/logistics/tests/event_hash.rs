//! Event Hash IDs (CBV 2.0 §8.9, `event-hash/README.md`): a pre-hash string computed by
//! hand from the rules, invariance under what must not matter, sensitivity to what must,
//! and the structure of the standard's own examples.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use weft_plugin_logistics::digital_link::{Epc, epc_to_digital_link};
use weft_plugin_logistics::{hash, json};

fn hash_of(doc: &str) -> String {
    let r = json_report(doc);
    assert_valid(&r);
    r.events[0].hash.clone()
}

fn pre_hash_of_json(doc: &str) -> Vec<String> {
    let d = json::read(doc);
    assert!(d.errors.is_empty(), "{:#?}", d.errors);
    d.events
        .iter()
        .map(|e| hash::pre_hash(e, &d.prefixes))
        .collect()
}

const RULES_DOC: &str = r#"{"type": "ObjectEvent",
  "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"example": "https://ns.example.com/epcis/"}],
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

/// The pre-hash string worked out by hand from the README's rules: canonical order, no
/// separators, `key=value`, UTC milliseconds (…30.9996+01:00 → …10:00:31.000Z), sorted
/// lists, SSCC/SGLN EPC URIs as Digital Links (check digits by hand), bare CBV words and
/// `Temperature` as Web URIs, `type` after its bizTransaction, readPoint extensions after
/// its id, numbers without trailing zeros, extensions `{ns}local` sorted and last;
/// `recordTime` and `eventID` left out.
const RULES_PRE_HASH: &str = "eventType=ObjectEvent\
eventTime=2020-03-04T10:00:31.000Z\
eventTimeZoneOffset=+01:00\
epcListepc=https://id.gs1.org/00/040123450000001112epc=https://id.gs1.org/00/040123450000003338\
action=OBSERVE\
bizStep=https://ref.gs1.org/cbv/BizStep-departing\
readPointid=https://id.gs1.org/414/4012345000115/254/987{https://ns.example.com/epcis/}dock=7\
bizTransactionListbizTransaction=urn:epcglobal:cbv:bt:4012345000009:PO-1bizTransaction=urn:epcglobal:cbv:bt:4012345000009:PO-2type=https://ref.gs1.org/cbv/BTT-po\
sensorElementListsensorElementsensorMetadatatime=2020-03-04T10:55:00.000ZsensorReporttype=https://gs1.org/voc/Temperaturevalue=4.5uom=CEL\
{https://ns.example.com/epcis/}myField1{https://ns.example.com/epcis/}a=1{https://ns.example.com/epcis/}b=2\
{https://ns.example.com/epcis/}myField2=0.5";

#[test]
fn pre_hash_string_computed_by_hand() {
    assert_eq!(pre_hash_of_json(RULES_DOC), [RULES_PRE_HASH]);
    let expected = format!(
        "ni:///sha-256;{:x}?ver=CBV2.0",
        Sha256::digest(RULES_PRE_HASH.as_bytes())
    );
    assert_eq!(hash_of(RULES_DOC), expected);
}

#[test]
fn same_event_written_differently_gives_the_same_hash() {
    let base = hash_of(RULES_DOC);
    let variants = [
        // member order and list order do not matter
        RULES_DOC.replace(
            r#""epcList": ["urn:epc:id:sscc:4012345.0000000333", "urn:epc:id:sscc:4012345.0000000111"],"#,
            r#""epcList": ["urn:epc:id:sscc:4012345.0000000111", "urn:epc:id:sscc:4012345.0000000333"],"#,
        ),
        // the same instant in another offset, with more digits
        RULES_DOC.replace("2020-03-04T11:00:30.9996+01:00", "2020-03-04T10:00:31.000Z"),
        RULES_DOC.replace("2020-03-04T10:55:00Z", "2020-03-04T12:55:00.0000+02:00"),
        // CBV values as URN, Web URI and CURIE
        RULES_DOC.replace(r#""bizStep": "departing""#, r#""bizStep": "urn:epcglobal:cbv:bizstep:departing""#),
        RULES_DOC.replace(r#""bizStep": "departing""#, r#""bizStep": "https://ref.gs1.org/cbv/BizStep-departing""#),
        RULES_DOC.replace(r#""type": "po""#, r#""type": "urn:epcglobal:cbv:btt:po""#),
        RULES_DOC.replace(r#""type": "Temperature""#, r#""type": "gs1:Temperature""#),
        // EPC URIs and (custom-domain, query) Digital Links
        RULES_DOC.replace("urn:epc:id:sscc:4012345.0000000111", "https://example.com/00/040123450000001112?linkType=all"),
        RULES_DOC.replace("urn:epc:id:sgln:4012345.00011.987", "https://id.gs1.org/414/4012345000115/254/987"),
        // numbers
        RULES_DOC.replace(r#""value": 4.50"#, r#""value": 4.5"#),
        RULES_DOC.replace(r#""example:myField2": "0.50""#, r#""example:myField2": "0.5""#),
        // whitespace around values
        RULES_DOC.replace(r#""example:dock": " 7 ""#, r#""example:dock": "7""#),
        // an extension key as a full URI instead of a CURIE
        RULES_DOC.replace(r#""example:myField2""#, r#""https://ns.example.com/epcis/myField2""#),
        // ignored fields: eventID, recordTime, errorDeclaration, certificationInfo
        RULES_DOC.replace(r#""recordTime": "2020-03-04T11:00:31Z", "eventID": "urn:uuid:6b8e7bc4-6e6c-4d3e-b5b1-5e2e1c4b7d11","#, ""),
        RULES_DOC.replace(
            r#""action": "OBSERVE","#,
            r#""action": "OBSERVE", "errorDeclaration": {"declarationTime": "2020-03-05T10:00:00Z", "reason": "incorrect_data"}, "certificationInfo": "https://cert.example.com/1","#,
        ),
    ];
    for (i, v) in variants.iter().enumerate() {
        assert_eq!(
            hash_of(v),
            base,
            "variant {i} changed the hash:\n{:?}",
            pre_hash_of_json(v)
        );
    }
}

#[test]
fn any_relevant_change_changes_the_hash() {
    let base = hash_of(RULES_DOC);
    let changes = [
        RULES_DOC.replace("2020-03-04T11:00:30.9996", "2020-03-04T11:00:30.9994"),
        RULES_DOC.replace(
            r#""eventTimeZoneOffset": "+01:00""#,
            r#""eventTimeZoneOffset": "+02:00""#,
        ),
        RULES_DOC.replace("0000000333", "0000000334"),
        RULES_DOC.replace(r#""action": "OBSERVE""#, r#""action": "ADD""#),
        RULES_DOC.replace(r#""bizStep": "departing""#, r#""bizStep": "arriving""#),
        RULES_DOC.replace(r#""type": "po", "#, ""),
        RULES_DOC.replace(r#""value": 4.50"#, r#""value": 4.51"#),
        RULES_DOC.replace(r#", "example:dock": " 7 ""#, ""),
        RULES_DOC.replace(r#""example:a": "1""#, r#""example:a": "11""#),
        RULES_DOC.replace(
            r#""action": "OBSERVE","#,
            r#""action": "OBSERVE", "disposition": "in_transit","#,
        ),
    ];
    for (i, v) in changes.iter().enumerate() {
        assert_ne!(hash_of(v), base, "change {i} kept the hash");
    }
}

/// Replaces each Digital Link the pre-hash holds by the EPC URI it came from, CBV Web URIs
/// by CBV URNs, and `{ns}local` by `nslocal`: the forms the standard's examples were hashed
/// with (they predate rules 14–18 of the README).
fn as_urn_forms(pre: &str, doc: &str) -> String {
    let mut s = pre.to_string();
    let mut urns: Vec<String> = Vec::new();
    for part in doc.split('"') {
        if part.starts_with("urn:epc:") && !urns.iter().any(|u| u == part) {
            urns.push(part.to_string());
        }
    }
    // longer Digital Links first, so a GLN does not replace part of a GLN + extension
    let mut pairs: Vec<(String, String)> = urns
        .iter()
        .filter_map(|u| match epc_to_digital_link(u) {
            Ok(Epc::DigitalLink(dl)) => Some((dl, u.clone())),
            _ => None,
        })
        .collect();
    pairs.sort_by_key(|(dl, _)| std::cmp::Reverse(dl.len()));
    for (dl, urn) in pairs {
        s = s.replace(&format!("={dl}"), &format!("={urn}"));
    }
    for (web, urn) in [
        (
            "https://ref.gs1.org/cbv/BizStep-",
            "urn:epcglobal:cbv:bizstep:",
        ),
        ("https://ref.gs1.org/cbv/Disp-", "urn:epcglobal:cbv:disp:"),
        ("https://ref.gs1.org/cbv/BTT-", "urn:epcglobal:cbv:btt:"),
    ] {
        s = s.replace(web, urn);
    }
    s.replace(
        "{http://ns.example.com/epcis/}",
        "http://ns.example.com/epcis/",
    )
}

#[test]
fn structure_matches_the_standards_examples() {
    let mut checked = 0;
    for file in [
        "Example_9.6.1-ObjectEvent.jsonld",
        "Example_9.6.3-AggregationEvent.jsonld",
    ] {
        let text =
            std::fs::read_to_string(format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let d = json::read(&text);
        assert!(d.errors.is_empty(), "{file}: {:#?}", d.errors);
        for e in &d.events {
            let pre = hash::pre_hash(e, &d.prefixes);
            let urn_form = as_urn_forms(&pre, &text);
            let id = e.value("eventID").unwrap();
            assert_eq!(
                hash::hash_id(&urn_form),
                id,
                "{file}: the pre-hash in the examples' value forms\n{urn_form}\ndoes not give the example's eventID"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 3);
}
