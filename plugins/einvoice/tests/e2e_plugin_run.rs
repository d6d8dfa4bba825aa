//! End to end: the plugin built as a WebAssembly component and run by `weft plugin run`,
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
use weft_plugin_einvoice::sample;

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
    // <target>/<profile>/deps/<test binary> → <target>/<profile>/weft
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
        // the same directory and profile as the hub's own test and bundled plugins, so
        // the wasm dependencies are compiled once
        let dir = target_dir().join("wasm-plugins");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "rustc",
                "-p",
                "weft-plugin-einvoice",
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
        assert!(status.success(), "building the einvoice component failed");
        let wasm = dir.join("wasm32-wasip2/plugin/weft_plugin_einvoice.wasm");
        assert!(wasm.is_file(), "{} was not built", wasm.display());
        wasm
    })
    .clone()
}

fn xml_event(id: &str, xml: &str) -> String {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "/supplier/acme",
        "type": "com.example.invoice.received",
        "datacontenttype": "application/xml",
        "data": xml,
    })
    .to_string()
}

/// Runs `weft plugin run` with these input lines; returns (exit code, output lines).
fn run(weft: &Path, config: &[&str], lines: &[String]) -> (i32, Vec<Value>) {
    let mut cmd = Command::new(weft);
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
    // Feed stdin from another thread: the plugin's output fills the stdout pipe while the
    // input is still being written, so writing first and reading after would deadlock.
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
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap_or(-1), values)
}

#[test]
fn validates_invoices_inside_the_runtime() {
    let weft = weft_bin();
    let official = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ubl-tc434-example1.xml"
    ))
    .unwrap();
    let invalid =
        sample::ubl_invoice(3).replacen("<cbc:IssueDate>2024-03-15</cbc:IssueDate>", "", 1);
    let lines = vec![
        xml_event("1", &sample::ubl_invoice(10)),
        xml_event("2", &official),
        xml_event("3", &sample::cii_invoice(5)),
        xml_event("4", &sample::cn_einvoice(3)),
        xml_event("5", &invalid),
    ];
    let (code, out) = run(&weft, &[], &lines);
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(out.len(), 5, "{out:?}");
    let types: Vec<&str> = out.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "weft.einvoice.validated",
            "weft.einvoice.validated",
            "weft.einvoice.validated",
            "weft.einvoice.validated",
            "weft.einvoice.invalid"
        ]
    );
    assert_eq!(out[0]["id"], "1.weft.einvoice.validated");
    assert_eq!(out[0]["datacontenttype"], "application/json");
    assert_eq!(out[0]["subject"], "INV-2024-000123");
    assert_eq!(out[0]["data"]["rulesets"], json!(["en16931", "peppol"]));
    assert_eq!(out[2]["data"]["syntax"], "cii");
    assert_eq!(out[3]["data"]["syntax"], "cn-einvoice");
    assert_eq!(out[4]["data"]["errors"][0]["rule"], "BR-03");
    // the same content as UBL and CII gives the same model inside the component too
    let ubl5 = run(&weft, &[], &[xml_event("u", &sample::ubl_invoice(5))]).1;
    assert_eq!(ubl5[0]["data"]["invoice"], out[2]["data"]["invoice"]);
}

#[test]
fn rejects_what_is_not_an_e_invoice_and_honours_on_invalid() {
    let weft = weft_bin();
    let not_xml = json!({"specversion": "1.0", "id": "x", "source": "/s", "type": "t", "datacontenttype": "application/json", "data": {"a": 1}}).to_string();
    let other_xml = xml_event("y", "<order xmlns=\"urn:example\"/>");
    let (code, out) = run(&weft, &[], &[not_xml, other_xml]);
    assert_eq!(code, 1);
    assert_eq!(out.len(), 2);
    for o in &out {
        assert_eq!(o["failure"]["kind"], "reject", "{o}");
    }
    assert!(
        out[1]["failure"]["message"]
            .as_str()
            .unwrap()
            .contains("not an e-invoice")
    );
    let invalid =
        sample::ubl_invoice(2).replacen("<cbc:IssueDate>2024-03-15</cbc:IssueDate>", "", 1);
    let (code, out) = run(&weft, &["on_invalid=reject"], &[xml_event("z", &invalid)]);
    assert_eq!(code, 1);
    let message = out[0]["failure"]["message"].as_str().unwrap();
    assert!(message.contains("BR-03"), "{message}");
}

/// Times validation inside the runtime: the difference between running 201 and 1 events
/// (so start-up and compilation cancel out), per invoice. Printed, not asserted: the
/// machine may be loaded.
#[test]
fn reports_time_per_invoice_inside_the_runtime() {
    let weft = weft_bin();
    let xml = sample::ubl_invoice(10);
    let time = |n: usize| {
        let lines: Vec<String> = (0..n).map(|i| xml_event(&i.to_string(), &xml)).collect();
        let t = std::time::Instant::now();
        let (code, out) = run(&weft, &[], &lines);
        assert_eq!(code, 0);
        assert_eq!(out.len(), n);
        t.elapsed()
    };
    let one = time(1);
    let many = time(201);
    let per = many.saturating_sub(one) / 200;
    eprintln!(
        "einvoice inside weft plugin run: {per:?} per {} byte 10-line invoice (EN 16931 + Peppol)",
        xml.len()
    );
}
