//! End to end: the plugin built as a WebAssembly component and run by `weft plugin run`
//! with the same runtime and limits as the hub.
//!
//! Needs the `weft` binary of the same build: `WEFT_BIN`, or `weft` in this test's own
//! profile directory (`cargo test --workspace` builds it there). Without it the tests fail
//! and say how to build it; a `weft` of another profile is never used.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};
use weft_plugin_datashare::rdf::parse_document;
use weft_plugin_datashare::sample;

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
        return PathBuf::from(p);
    }
    // <target>/<profile>/deps/<test binary> → <target>/<profile>/weft: the weft of this
    // test's own build, never a possibly stale one of another profile
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
        // the directory and profile of the hub's bundled and test plugins: wasm
        // dependencies are compiled once
        let dir = target_dir().join("wasm-plugins");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "rustc",
                "-p",
                "weft-plugin-datashare",
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
        assert!(status.success(), "building the datashare component failed");
        let wasm = dir.join("wasm32-wasip2/plugin/weft_plugin_datashare.wasm");
        assert!(wasm.is_file(), "{} was not built", wasm.display());
        wasm
    })
    .clone()
}

/// Runs `weft plugin run` with these input lines; returns (exit code, output lines).
fn run(config: &[(&str, &str)], lines: &[String]) -> (i32, Vec<Value>) {
    let mut cmd = Command::new(weft_bin());
    cmd.args(["plugin", "run"]).arg(component());
    for (k, v) in config {
        cmd.arg("--config").arg(format!("{k}={v}"));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weft");
    let mut stdin = child.stdin.take().unwrap();
    let input: Vec<String> = lines.to_vec();
    // written from another thread: output fills the stdout pipe while input is written
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

fn evaluate_event(id: &str, policy: &str, request: &str, sotw: &str) -> String {
    json!({
        "specversion": "1.0", "id": id, "source": "/conformance", "type": "weft.odrl.evaluate",
        "datacontenttype": "application/json",
        "data": {"policy": policy, "request": request, "sotw": sotw},
    })
    .to_string()
}

const REQUEST: &str =
    "@prefix odrl: <http://www.w3.org/ns/odrl/2/> . @prefix ex: <http://example.org/> .
ex:request a odrl:Request; odrl:permission ex:requested .
ex:requested a odrl:Permission; odrl:assignee ex:alice; odrl:action odrl:read; odrl:target ex:x .";
const SOTW: &str = "<http://example.com/request/currentTime> <http://purl.org/dc/terms/issued> \"2024-02-12T11:20:10.999Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> .";

fn activation(report: &Value) -> Vec<String> {
    assert_eq!(report["type"], "weft.odrl.report", "{report}");
    assert_eq!(report["datacontenttype"], "text/turtle");
    let turtle = report["data"].as_str().expect("Turtle text");
    let g = parse_document(turtle, "report").unwrap_or_else(|e| panic!("{e}\n{turtle}"));
    let state = "https://w3id.org/force/compliance-report#activationState";
    let mut out: Vec<String> = g
        .triples()
        .iter()
        .filter(|t| t.predicate.as_str() == state)
        .map(|t| t.object.to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn conformance_mode_inside_the_runtime() {
    let turtle_policy = "@prefix odrl: <http://www.w3.org/ns/odrl/2/> . @prefix ex: <http://example.org/> .
        @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        ex:policy a odrl:Set; odrl:permission ex:p .
        ex:p a odrl:Permission; odrl:assignee ex:alice; odrl:action odrl:use; odrl:target ex:x;
          odrl:constraint [ odrl:leftOperand odrl:dateTime; odrl:operator odrl:lt; odrl:rightOperand \"2025-01-01T00:00:00Z\"^^xsd:dateTime ] .";
    let jsonld_policy = r#"{"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Set",
        "uid": "http://example.org/policy2",
        "prohibition": [{"target": "http://example.org/x", "assignee": "http://example.org/alice", "action": "read"}]}"#;
    let lines = vec![
        evaluate_event("1", turtle_policy, REQUEST, SOTW),
        evaluate_event("2", jsonld_policy, REQUEST, SOTW),
        evaluate_event("3", "@prefix odrl: <http://www.w3.org/ns/odrl/2/> . <urn:p> a odrl:Set ; ;", REQUEST, SOTW),
        json!({"specversion": "1.0", "id": "4", "source": "/c", "type": "weft.odrl.evaluate", "data": "not an object"}).to_string(),
    ];
    let (code, out) = run(&[], &lines);
    assert_eq!(code, 1, "two inputs fail: {out:?}");
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(out[0]["id"], "1.weft.odrl.report");
    assert_eq!(
        activation(&out[0]),
        ["<https://w3id.org/force/compliance-report#Active>"]
    );
    assert_eq!(
        activation(&out[1]),
        ["<https://w3id.org/force/compliance-report#Active>"]
    );
    assert!(
        out[1]["data"]
            .as_str()
            .unwrap()
            .contains("ProhibitionReport")
    );
    assert_eq!(out[2]["failure"]["kind"], "reject", "{}", out[2]);
    let message = out[2]["failure"]["message"].as_str().unwrap();
    assert!(message.contains("policy: Turtle syntax error"), "{message}");
    assert_eq!(out[3]["failure"]["kind"], "reject", "{}", out[3]);
}

#[test]
fn policy_gated_sharing_and_masking_inside_the_runtime() {
    let policy = sample::policy_10_rules();
    let share = |id: &str, recipient: &str| {
        json!({"specversion": "1.0", "id": id, "source": "/erp", "type": "com.example.order.shared",
               "subject": "http://example.com/orders", "datacontenttype": "application/json",
               "data": {"buyer": {"mobile": "13800138000"}}, "recipient": recipient,
               "purpose": "https://w3id.org/dpv#ServiceProvision"})
        .to_string()
    };
    let config = [
        ("policy", policy.as_str()),
        ("sotw", sample::SOTW),
        ("mask.detect", "mobile"),
    ];
    let lines = vec![
        share("s1", "http://example.com/bank"),
        share("s2", "http://example.com/broker"),
        share("s3", "http://example.com/partner3"),
    ];
    let (code, out) = run(&config, &lines);
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0]["type"], "com.example.order.shared");
    assert_eq!(out[0]["odrlrule"], "http://example.com/perm7");
    assert_eq!(out[0]["data"]["buyer"]["mobile"], "*******8000");
    assert!(
        out[0]["piimasked"]
            .as_str()
            .unwrap()
            .contains("\"mobile\":1")
    );
    assert_eq!(out[1]["type"], "weft.datashare.denied");
    assert!(
        out[1]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("noBroker"),
        "{}",
        out[1]
    );
    assert_eq!(out[2]["odrlrule"], "http://example.com/perm3");
    let (code, out) = run(
        &[("policy", policy.as_str()), ("on_deny", "reject")],
        &[share("s4", "http://example.com/broker")],
    );
    assert_eq!(code, 1);
    assert_eq!(out[0]["failure"]["kind"], "reject");
}
