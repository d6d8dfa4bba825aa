//! The standard's own EPCIS 2.0 JSON Schema (`tests/data/EPCIS-JSON-Schema.json`, copied
//! unmodified from `shared/standards/epcis/`) as an independent oracle: Python's jsonschema
//! (draft-07, with the `uri` and `date-time` formats checked) judges the standard's
//! examples, the typical document and mutations of them (document fields, header, master
//! data, events); every document the schema rejects must be invalid here too, and the
//! mutations that break the schema's structure must be rejected by both.
//!
//! Needs a Python with jsonschema, rfc3987 and rfc3339-validator (`WEFT_PYTHON`, or the CI
//! venv); skipped with a note without one, unless `WEFT_REQUIRE_TOOLS` is set.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use weft_plugin_logistics::{sample, validate_document};

fn python() -> Option<String> {
    let check = |p: &str| {
        Command::new(p)
            .args(["-c", "import jsonschema, rfc3987, rfc3339_validator"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if let Ok(p) = std::env::var("WEFT_PYTHON") {
        return check(&p).then_some(p);
    }
    let venv = std::env::var("HOME")
        .map(|h| format!("{h}/.cache/weft/ci-venv/bin/python"))
        .ok();
    venv.into_iter()
        .chain(["python3".to_string()])
        .find(|p| check(p))
}

/// The schema's verdict per document: `None` for valid, else its errors.
fn schema_verdicts(docs: &[Value]) -> Option<Vec<Option<String>>> {
    let Some(py) = python() else {
        assert!(
            std::env::var_os("WEFT_REQUIRE_TOOLS").is_none(),
            "WEFT_REQUIRE_TOOLS is set but no Python with jsonschema, rfc3987 and rfc3339-validator was found"
        );
        eprintln!(
            "SKIPPED: the JSON Schema oracle needs Python with jsonschema, rfc3987 and rfc3339-validator (set WEFT_PYTHON)"
        );
        return None;
    };
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(py)
        .arg(format!("{dir}/tests/validate_epcis_json.py"))
        .arg(format!("{dir}/tests/data/EPCIS-JSON-Schema.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    {
        let mut stdin = child.stdin.take().unwrap();
        for d in docs {
            writeln!(stdin, "{d}").unwrap();
        }
    }
    let out = child.wait_with_output().expect("python output");
    assert!(out.status.success(), "the schema validator failed");
    let lines: Vec<Option<String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| (l != "ok").then(|| l.to_string()))
        .collect();
    assert_eq!(lines.len(), docs.len(), "one verdict per document");
    Some(lines)
}

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The typical document with a header, master data and document fields.
fn with_header() -> Value {
    let mut d: Value = serde_json::from_str(&sample::object_event_document()).unwrap();
    d["id"] = json!("urn:uuid:3b1e6f5c-0b3e-4b59-9f0f-c1e2a3b4c5d6");
    d["instanceIdentifier"] = json!("1234567890");
    d["sender"] = json!("urn:epc:id:sgln:0353579.00001.0");
    d["receiver"] = json!("urn:epc:id:sgln:5012345.00001.0");
    d["epcisHeader"] = json!({"epcisMasterData": {"vocabularyList": [
        {"type": "urn:epcglobal:epcis:vtype:BusinessLocation",
         "vocabularyElementList": [
           {"id": "urn:epc:id:sgln:4012345.00011.0",
            "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Warehouse 7"},
                           {"id": "urn:epcglobal:cbv:mda#latitude", "attribute": 50.11}],
            "children": ["urn:epc:id:sgln:4012345.00011.987"]}]}]}});
    d
}

type Mutation = (&'static str, fn(&mut Value));

fn event(d: &mut Value) -> &mut Value {
    &mut d["epcisBody"]["eventList"][0]
}

fn remove(v: &mut Value, key: &str) {
    v.as_object_mut().unwrap().remove(key);
}

/// Mutations that break the schema's structure: both must reject them.
const STRUCTURAL: &[Mutation] = &[
    ("document without schemaVersion", |d| {
        remove(d, "schemaVersion")
    }),
    ("document without creationDate", |d| {
        remove(d, "creationDate")
    }),
    ("document without epcisBody", |d| remove(d, "epcisBody")),
    ("creationDate not a date-time", |d| {
        d["creationDate"] = json!("2024-03-01 09:12")
    }),
    ("schemaVersion a number", |d| {
        d["schemaVersion"] = json!(2.0)
    }),
    ("unknown document field", |d| d["note"] = json!("x")),
    ("sender an object", |d| d["sender"] = json!({"id": "x"})),
    ("document id not a URI", |d| d["id"] = json!("document 1")),
    ("epcisHeader an array", |d| d["epcisHeader"] = json!([])),
    ("unknown header field", |d| {
        d["epcisHeader"]["transport"] = json!("road")
    }),
    ("vocabulary without type", |d| {
        remove(
            &mut d["epcisHeader"]["epcisMasterData"]["vocabularyList"][0],
            "type",
        )
    }),
    ("vocabulary element without id", |d| {
        remove(
            &mut d["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"]
                [0],
            "id",
        )
    }),
    ("vocabulary element id not a URI", |d| {
        d["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"][0]["id"] =
            json!("Warehouse 7")
    }),
    ("attribute value an array", |d| {
        d["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"][0]["attributes"]
            [1]["attribute"] = json!([50.11])
    }),
    ("children not an array", |d| {
        d["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"][0]["children"] =
            json!("urn:epc:id:sgln:4012345.00011.987")
    }),
    ("vocabularyList not an array", |d| {
        d["epcisHeader"]["epcisMasterData"]["vocabularyList"] = json!({})
    }),
    ("event without eventTime", |d| remove(event(d), "eventTime")),
    ("event without eventTimeZoneOffset", |d| {
        remove(event(d), "eventTimeZoneOffset")
    }),
    ("ObjectEvent without action", |d| remove(event(d), "action")),
    ("eventTimeZoneOffset +1", |d| {
        event(d)["eventTimeZoneOffset"] = json!("+1")
    }),
    ("eventTime without offset", |d| {
        event(d)["eventTime"] = json!("2024-03-01T10:03:17")
    }),
    ("action lower case", |d| {
        event(d)["action"] = json!("observe")
    }),
    ("epcList a string", |d| {
        event(d)["epcList"] = json!("urn:epc:id:sgtin:4012345.011122.100001")
    }),
    ("readPoint a string", |d| {
        event(d)["readPoint"] = json!("urn:epc:id:sgln:4012345.00011.987")
    }),
    ("unknown event field without prefix", |d| {
        event(d)["carrier"] = json!("x")
    }),
    ("bizTransaction with an unknown field", |d| {
        event(d)["bizTransactionList"][0]["note"] = json!("x")
    }),
    ("sensor value a string", |d| {
        event(d)["sensorElementList"][0]["sensorReport"][0]["value"] = json!("4.5")
    }),
    ("bizStep an unknown bare word", |d| {
        event(d)["bizStep"] = json!("shiping")
    }),
    ("disposition an unknown bare word", |d| {
        event(d)["disposition"] = json!("intransit")
    }),
    ("source without type", |d| {
        remove(&mut event(d)["sourceList"][0], "type")
    }),
    ("sensorReport empty", |d| {
        event(d)["sensorElementList"][0]["sensorReport"] = json!([])
    }),
];

#[test]
fn what_the_standard_schema_rejects_is_invalid_here() {
    let mut docs = vec![
        load("Example_9.6.1-ObjectEvent.jsonld"),
        load("Example_9.6.3-AggregationEvent.jsonld"),
        serde_json::from_str(&sample::object_event_document()).unwrap(),
        with_header(),
    ];
    let n_valid = docs.len();
    for (_, m) in STRUCTURAL {
        let mut d = with_header();
        m(&mut d);
        docs.push(d);
    }
    let Some(verdicts) = schema_verdicts(&docs) else {
        return;
    };
    let ours: Vec<_> = docs
        .iter()
        .map(|d| validate_document(d.to_string().as_bytes(), Some("application/ld+json")))
        .collect();
    for i in 0..n_valid {
        assert_eq!(verdicts[i], None, "the schema rejects valid document {i}");
        assert!(ours[i].valid, "document {i}: {:#?}", ours[i].errors);
    }
    for (i, (what, _)) in STRUCTURAL.iter().enumerate() {
        let (schema, ours) = (&verdicts[n_valid + i], &ours[n_valid + i]);
        assert!(
            schema.is_some(),
            "{what}: the standard's schema accepts it (the mutation is not structural)"
        );
        assert!(
            !ours.valid,
            "{what}: the schema rejects it ({}), the plugin does not",
            schema.as_deref().unwrap_or("")
        );
    }
}
