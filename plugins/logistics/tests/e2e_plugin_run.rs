//! End to end: the plugin built as a WebAssembly component and run by `weft plugin run`,
//! with the same runtime and limits as the hub.
//!
//! Needs the `weft` binary of the same build: `WEFT_BIN`, or `weft` in this test's own
//! profile directory (`cargo test --workspace` builds it there; or `cargo build -p weft`
//! with the same profile). Without it these tests FAIL and say how to build it: a missing
//! binary must not look like a passing end-to-end test, and a `weft` of another profile
//! (possibly stale) is never used.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};
use weft_plugin_logistics::sample;

fn target_dir() -> PathBuf {
    // <target>/<profile>/deps/<test binary>
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

fn weft_bin() -> PathBuf {
    if let Ok(p) = std::env::var("WEFT_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "WEFT_BIN={} is not a file", p.display());
        return p;
    }
    // <target>/<profile>/deps/<test binary> → <target>/<profile>/weft: the weft of this
    // test's own build, never one of another profile that may be stale
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let weft = profile_dir.join("weft");
    assert!(
        weft.is_file(),
        "no weft binary at {} (this test's build): run `cargo test --workspace`, or `cargo build -p weft` with the same profile, or set WEFT_BIN",
        weft.display()
    );
    weft
}

/// Builds the component once per test process.
fn component() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = target_dir().join("wasm-plugins");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "rustc",
                "-p",
                "weft-plugin-logistics",
                "--lib",
                "--crate-type",
                "cdylib",
                "--target",
                "wasm32-wasip2",
                "--profile",
                "plugin",
                "--target-dir",
            ])
            .arg(&dir)
            .status()
            .expect("running cargo to build the plugin");
        assert!(status.success(), "building the logistics component failed");
        let wasm = dir.join("wasm32-wasip2/plugin/weft_plugin_logistics.wasm");
        assert!(wasm.is_file(), "{} was not built", wasm.display());
        wasm
    })
    .clone()
}

fn event(id: &str, ty: &str, content_type: Option<&str>, data: Value) -> String {
    let mut e = json!({"specversion": "1.0", "id": id, "source": "/wms", "type": ty, "subject": format!("s-{id}")});
    if let Some(ct) = content_type {
        e["datacontenttype"] = ct.into();
    }
    if !data.is_null() {
        e["data"] = data;
    }
    e.to_string()
}

/// Runs `weft plugin run` with these input lines; returns (exit code, output lines).
fn run(config: &[&str], lines: &[String]) -> (i32, Vec<Value>) {
    let mut cmd = Command::new(weft_bin());
    cmd.args(["plugin", "run"]).arg(component());
    for c in config {
        cmd.args(["--config", c]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weft");
    let mut stdin = child.stdin.take().unwrap();
    let input: Vec<String> = lines.to_vec();
    let writer = std::thread::spawn(move || {
        for l in input {
            writeln!(stdin, "{l}").unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let values = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (out.status.code().unwrap_or(-1), values)
}

#[test]
fn every_input_gives_the_contract_inside_the_runtime() {
    let json_doc: Value = serde_json::from_str(&sample::object_event_document()).unwrap();
    let xml_doc = sample::object_event_document_xml();
    let invalid = sample::object_event_document().replace("\"shipping\"", "\"shiping\"");
    let invalid: Value = serde_json::from_str(&invalid).unwrap();
    let lines = vec![
        event("1", "epcis.captured", Some("application/ld+json"), json_doc),
        event(
            "2",
            "epcis.captured",
            Some("application/xml"),
            Value::String(xml_doc),
        ),
        event("3", "epcis.captured", Some("application/json"), invalid),
        event(
            "4",
            "epcis.captured",
            Some("text/plain"),
            Value::String("not a document at all".into()),
        ),
        event(
            "5",
            "epcis.captured",
            Some("application/xml"),
            Value::String("<EPCISDocument><oops>".into()),
        ),
        event("6", "epcis.captured", None, Value::Null),
    ];
    let (code, out) = run(&["milestones=true"], &lines);
    assert_eq!(code, 0, "{out:#?}");
    let types: Vec<&str> = out.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "weft.epcis.validated",
            "weft.logistics.milestone",
            "weft.epcis.validated",
            "weft.logistics.milestone",
            "weft.epcis.invalid",
            "weft.epcis.invalid",
            "weft.epcis.invalid",
            "weft.epcis.invalid",
        ]
    );
    assert_eq!(out[0]["subject"], "s-1");
    assert_eq!(out[0]["id"], "1.weft.epcis.validated");
    let (j, x) = (&out[0]["data"], &out[2]["data"]);
    assert_eq!(j["format"], "json");
    assert_eq!(x["format"], "xml");
    assert_eq!(j["events"][0]["hash"], x["events"][0]["hash"]);
    assert_eq!(j["events"][0]["bizStep"], "shipping");
    assert_eq!(out[1]["data"]["milestone"], "shipped");
    assert_eq!(
        out[1]["subject"],
        "urn:epcglobal:cbv:bt:4012345000009:BOL-55501"
    );
    assert_eq!(out[4]["data"]["errors"][0]["code"], "EPCIS-VOCAB");
    for o in &out[5..] {
        assert_eq!(o["data"]["valid"], false);
        assert_eq!(o["data"]["errors"][0]["code"], "EPCIS-PARSE", "{o}");
    }
}

#[test]
fn legs_and_footprints_inside_the_runtime() {
    let lines = vec![
        event(
            "l1",
            "weft.logistics.leg",
            Some("application/json"),
            json!({"shipment_id": "S1", "mode": "road", "distance_km": 350, "mass_kg": 12000, "time": "2024-03-01T08:00:00Z"}),
        ),
        event(
            "l2",
            "weft.logistics.leg",
            Some("application/json"),
            json!({"shipment_id": "S1", "mode": "rail", "distance_km": 800, "mass_kg": 12000, "time": "2024-03-02T08:00:00Z"}),
        ),
        event(
            "c",
            "weft.logistics.shipment.closed",
            Some("application/json"),
            json!({"shipment_id": "S1", "product_ids": ["urn:gtin:4012345123456"]}),
        ),
        event(
            "bad",
            "weft.logistics.leg",
            Some("application/json"),
            json!({"mode": "road"}),
        ),
    ];
    let (code, out) = run(
        &[
            "company_name=Acme",
            "company_ids=urn:epc:id:pgln:4012345.00000",
        ],
        &lines,
    );
    assert_eq!(code, 1, "the bad leg fails: {out:#?}");
    assert_eq!(out.len(), 4);
    assert_eq!(out[0]["type"], "weft.logistics.emissions");
    let wtw0 = out[0]["data"]["wtw_kg_co2e"].as_f64().unwrap();
    assert!((wtw0 - 4200.0 * 0.14993).abs() < 1e-6);
    assert_eq!(out[2]["type"], "weft.pact.footprint");
    let per_kg: f64 = out[2]["data"]["pcf"]["pcfExcludingBiogenicUptake"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = (4200.0 * 0.14993 + 9600.0 * 0.03999) / 12000.0;
    assert!((per_kg - expected).abs() < 1e-8, "{per_kg} != {expected}");
    assert_eq!(out[3]["failure"]["kind"], "reject");
    assert!(
        out[3]["failure"]["message"]
            .as_str()
            .unwrap()
            .contains("mass_kg")
    );
}
