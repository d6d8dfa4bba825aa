//! Transport emissions per mode computed by hand from the factor table, KV aggregation per
//! shipment, PACT v3 footprints validated against `pact/openapi.yaml`, and milestones.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use weft_sdk::testing::TestHost;
use weft_sdk::{Event, Failure};

use weft_plugin_logistics::handle;

fn leg(id: &str, data: Value) -> Event {
    Event::new(id, "/tms", "weft.logistics.leg").with_json(&data)
}

fn emissions(host: &TestHost, data: Value) -> Value {
    let out = host.call(handle, leg("l", data)).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ty, "weft.logistics.emissions");
    out[0].data_json().unwrap()
}

fn close_to(actual: &Value, expected: f64) {
    let a = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{actual} is not a number"));
    assert!(
        (a - expected).abs() < 1e-6 * expected.abs().max(1.0),
        "{a} != {expected}"
    );
}

#[test]
fn road_default_vehicle() {
    // 12 t over 350 km = 4200 tkm; Defra/DECC 2012 Table 7e all HGVs: 0.12366 TTW, 0.14993 WTW
    let e = emissions(
        &TestHost::new(),
        json!({"mode": "road", "distance_km": 350, "mass_kg": 12000}),
    );
    close_to(&e["tonne_km"], 4200.0);
    close_to(&e["ttw_kg_co2e"], 4200.0 * 0.12366);
    close_to(&e["wtw_kg_co2e"], 4200.0 * 0.14993);
    close_to(&e["wtt_kg_co2e"], 4200.0 * (0.14993 - 0.12366));
    assert_eq!(e["vehicle"], "hgv_average");
    assert_eq!(e["distance_method"], "reported");
    assert!(e["source"].as_str().unwrap().contains("Defra/DECC 2012"));
}

#[test]
fn road_with_load_factor_and_empty_running() {
    // reference load 62 %; effective 0.8 x (1 - 0.25) = 0.6; intensity x 0.62/0.6
    let e = emissions(
        &TestHost::new(),
        json!({"mode": "road", "vehicle": "articulated_gt_33t", "distance_km": 100, "mass_kg": 20000,
               "load_factor": 0.8, "empty_running": 0.25}),
    );
    let adj = 0.62 / 0.6;
    close_to(&e["load_adjustment"], adj);
    close_to(&e["ttw_kg_co2e"], 2000.0 * 0.08473 * adj);
    close_to(&e["wtw_kg_co2e"], 2000.0 * 0.10273 * adj);
}

#[test]
fn rail_sea_and_air() {
    let host = TestHost::new();
    let rail = emissions(
        &host,
        json!({"mode": "rail", "distance_km": 800, "mass_kg": 25000}),
    );
    close_to(&rail["ttw_kg_co2e"], 20000.0 * 0.03159);
    close_to(&rail["wtw_kg_co2e"], 20000.0 * 0.03999);
    let sea = emissions(
        &host,
        json!({"mode": "sea", "distance_km": 15000, "mass_kg": 10000}),
    );
    close_to(&sea["tonne_km"], 150000.0);
    close_to(&sea["ttw_kg_co2e"], 150000.0 * 0.01536);
    close_to(&sea["wtw_kg_co2e"], 150000.0 * 0.01945);
    // air from coordinates: Frankfurt to London Heathrow, great circle ~653.5 km (haversine,
    // R = 6371.0088 km), + 95 km (EN 16258)
    let air = emissions(
        &host,
        json!({"mode": "air", "origin": {"lat": 50.0379, "lon": 8.5622},
               "destination": {"lat": 51.4700, "lon": -0.4543}, "mass_kg": 500}),
    );
    let gcd = air["great_circle_km"].as_f64().unwrap();
    assert!((gcd - 653.5).abs() < 0.5, "{gcd}");
    close_to(&air["distance_km"], gcd + 95.0);
    close_to(&air["ttw_kg_co2e"], 0.5 * (gcd + 95.0) * 1.73499);
    close_to(&air["wtw_kg_co2e"], 0.5 * (gcd + 95.0) * 2.19649);
    assert_eq!(air["distance_method"], "great_circle_adjusted");
}

#[test]
fn operator_factor_table_adds_a_mode() {
    let factors = r#"{"factors": [{"mode": "inland_waterway", "vehicle": "barge", "fuel": "diesel", "default": true,
        "ttw_kg_per_tkm": 0.03, "wtw_kg_per_tkm": 0.036, "source": "operator fleet data 2025"}]}"#;
    let host = TestHost::new().with_config("factors", factors);
    let e = emissions(
        &host,
        json!({"mode": "inland_waterway", "distance_km": 200, "mass_kg": 100000}),
    );
    close_to(&e["ttw_kg_co2e"], 600.0);
    close_to(&e["wtw_kg_co2e"], 720.0);
    assert_eq!(e["source"], "operator fleet data 2025");
}

#[test]
fn bad_legs_are_rejected_with_the_reason() {
    let host = TestHost::new();
    for (data, needle) in [
        (
            json!({"mode": "teleport", "distance_km": 1, "mass_kg": 1}),
            "teleport",
        ),
        (json!({"mode": "road", "distance_km": 1}), "mass_kg"),
        (json!({"mode": "road", "mass_kg": 1}), "distance_km"),
        (
            json!({"mode": "road", "distance_km": 10, "mass_kg": 1, "load_factor": 1.5}),
            "load_factor",
        ),
        (
            json!({"mode": "road", "vehicle": "bicycle", "distance_km": 10, "mass_kg": 1}),
            "bicycle",
        ),
    ] {
        match host.call(handle, leg("x", data)) {
            Err(Failure::Reject(m)) => assert!(m.contains(needle), "{m}"),
            other => panic!("expected a reject naming {needle}, got {other:?}"),
        }
    }
}

fn python() -> Option<String> {
    if let Ok(p) = std::env::var("WEFT_PYTHON") {
        return Some(p);
    }
    let venv = std::env::var("HOME")
        .map(|h| format!("{h}/.cache/weft/ci-venv/bin/python"))
        .ok();
    venv.into_iter().chain(["python3".to_string()]).find(|p| {
        Command::new(p)
            .args(["-c", "import jsonschema, yaml"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Validates footprints with the PACT OpenAPI schema; `None` when no Python with
/// jsonschema and PyYAML is available (then the caller skips, unless WEFT_REQUIRE_TOOLS).
fn validate_pact(docs: &[Value]) -> Option<Vec<String>> {
    let Some(py) = python() else {
        assert!(
            std::env::var_os("WEFT_REQUIRE_TOOLS").is_none(),
            "WEFT_REQUIRE_TOOLS is set but no Python with jsonschema and PyYAML was found"
        );
        eprintln!(
            "SKIPPED: PACT schema validation needs Python with jsonschema and PyYAML (set WEFT_PYTHON)"
        );
        return None;
    };
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(py)
        .arg(format!("{dir}/tests/validate_pact.py"))
        .arg(format!("{dir}/tests/data/pact-openapi.yaml"))
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
    let out = child.wait_with_output().unwrap();
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn shipment_footprint_is_valid_pact() {
    let host = TestHost::new()
        .with_config("company_name", "Acme Logistics")
        .with_config(
            "company_ids",
            "urn:epc:id:pgln:4012345.00000,urn:lei:5493001KJTIIGC8Y1R12",
        );
    let legs = [
        json!({"shipment_id": "SHP-1", "leg_id": "1", "mode": "road", "distance_km": 350, "mass_kg": 12000, "time": "2024-03-01T08:00:00+01:00"}),
        json!({"shipment_id": "SHP-1", "leg_id": "2", "mode": "sea", "distance_km": 15000, "mass_kg": 12000, "time": "2024-03-03T12:00:00Z"}),
        json!({"shipment_id": "SHP-1", "leg_id": "3", "mode": "air", "distance_km": 500, "mass_kg": 12000, "time": "2024-03-20T12:00:00Z"}),
        json!({"shipment_id": "OTHER", "mode": "rail", "distance_km": 10, "mass_kg": 1000}),
    ];
    for (i, l) in legs.iter().enumerate() {
        host.call(handle, leg(&i.to_string(), l.clone())).unwrap();
    }
    let total_wtw = 4200.0 * 0.14993 + 180000.0 * 0.01945 + 6000.0 * 2.19649;
    let close = Event::new("c1", "/tms", "weft.logistics.shipment.closed")
        .with_json(&json!({"shipment_id": "SHP-1", "product_ids": ["urn:gtin:4012345123456"], "product_name": "Steel coils"}));
    let out = host.call(handle, close.clone()).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ty, "weft.pact.footprint");
    assert_eq!(out[0].subject.as_deref(), Some("shipment/SHP-1"));
    let fp: Value = out[0].data_json().unwrap();
    let per_kg: f64 = fp["pcf"]["pcfExcludingBiogenicUptake"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((per_kg - total_wtw / 12000.0).abs() < 1e-8, "{per_kg}");
    let air: f64 = fp["pcf"]["aircraftGhgEmissions"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((air - 6000.0 * 2.19649 / 12000.0).abs() < 1e-8);
    assert_eq!(
        fp["pcf"]["referencePeriodStart"],
        "2024-03-01T07:00:00.000Z"
    );
    assert_eq!(fp["pcf"]["referencePeriodEnd"], "2024-03-20T12:00:00.000Z");
    assert_eq!(fp["companyIds"][1], "urn:lei:5493001KJTIIGC8Y1R12");
    // the totals are gone once closed
    assert!(host.kv("logistics", "shipment/SHP-1").is_none());
    assert!(host.kv("logistics", "shipment/OTHER").is_some());
    match host.call(handle, close) {
        Err(Failure::Reject(m)) => assert!(m.contains("no legs"), "{m}"),
        other => panic!("{other:?}"),
    }
    // a broken copy must fail the schema check, so the check can fail
    let mut broken = fp.clone();
    broken["pcf"]["declaredUnitOfMeasurement"] = "tonne".into();
    broken["companyIds"] = json!(["acme"]);
    if let Some(results) = validate_pact(&[fp.clone(), broken]) {
        assert_eq!(results.len(), 2, "{results:?}");
        assert_eq!(
            results[0], "ok",
            "footprint not valid PACT: {}\n{fp:#}",
            results[0]
        );
        assert_ne!(results[1], "ok");
    }
}

#[test]
fn closing_without_owner_is_rejected() {
    let host = TestHost::new();
    host.call(
        handle,
        leg(
            "1",
            json!({"product_id": "P1", "mode": "road", "distance_km": 1, "mass_kg": 1}),
        ),
    )
    .unwrap();
    let close = Event::new("c", "/tms", "weft.logistics.shipment.closed")
        .with_json(&json!({"product_id": "P1"}));
    match host.call(handle, close) {
        Err(Failure::Reject(m)) => assert!(m.contains("company_name"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn milestones_per_event_when_enabled() {
    let doc = r#"{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
      "schemaVersion": "2.0", "creationDate": "2024-03-01T09:00:00Z", "epcisBody": {"eventList": [
      {"type": "ObjectEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
       "epcList": ["urn:epc:id:sscc:4012345.0000000111"], "bizStep": "shipping", "disposition": "in_transit",
       "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
       "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:PO-1"},
                              {"type": "bol", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:BOL-7"}]},
      {"type": "ObjectEvent", "eventTime": "2024-03-01T11:00:00Z", "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
       "epcList": ["urn:epc:id:sscc:4012345.0000000111"], "bizStep": "inspecting"},
      {"type": "ObjectEvent", "eventTime": "2024-03-02T10:00:00Z", "eventTimeZoneOffset": "+00:00", "action": "OBSERVE",
       "epcList": ["urn:epc:id:sscc:4012345.0000000111"], "bizStep": "urn:epcglobal:cbv:bizstep:receiving",
       "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"}}]}}"#;
    let input = Event::new("7", "/wms", "epcis")
        .with_subject("doc-7")
        .with_data("application/ld+json", doc);
    let plain = TestHost::new().call(handle, input.clone()).unwrap();
    assert_eq!(plain.len(), 1, "milestones are off by default");
    let out = TestHost::new()
        .with_config("milestones", "true")
        .call(handle, input)
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].ty, "weft.epcis.validated");
    assert_eq!(out[0].subject.as_deref(), Some("doc-7"));
    let m1: Value = out[1].data_json().unwrap();
    assert_eq!(out[1].ty, "weft.logistics.milestone");
    assert_eq!(out[1].id, "7.weft.logistics.milestone.0");
    assert_eq!(m1["milestone"], "shipped");
    assert_eq!(m1["shipment"], "urn:epcglobal:cbv:bt:4012345000009:BOL-7");
    assert_eq!(
        out[1].subject.as_deref(),
        Some("urn:epcglobal:cbv:bt:4012345000009:BOL-7")
    );
    assert_eq!(m1["location"], "urn:epc:id:sgln:4012345.00001.0");
    let m2: Value = out[2].data_json().unwrap();
    assert_eq!(m2["milestone"], "received");
    assert_eq!(m2["shipment"], "urn:epc:id:sscc:4012345.0000000111");
    assert_eq!(m2["location"], "urn:epc:id:sgln:0614141.00888.0");
    let report: Value = out[0].data_json().unwrap();
    assert_eq!(m2["eventHash"], report["events"][2]["hash"]);
}
