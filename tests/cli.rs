//! The `weft` command line: `validate`, `plugin new | build | run`, the shipped examples.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

fn weft(args: &[&str]) -> std::process::Output {
    Command::new(support::weft_bin())
        .args(args)
        .output()
        .unwrap()
}

fn plugin_run(args: &[&str], stdin: &str) -> (i32, Vec<Value>, String) {
    let mut child = Command::new(support::weft_bin())
        .args(["plugin", "run"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(Value::String(l.to_string())))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_lists_every_problem_with_its_location_and_exits_78() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        r#"
[plugins.real]
path = "missing.wasm"
allow_http = ["api.example.com"]

[[routes]]
name = "r1"
from = ["topic:in"]
plugins = ["real", "ghost"]
to = ["nowhere"]
"#,
    )
    .unwrap();
    let out = weft(&["validate", "--config", cfg.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains("plugins.real.path: cannot read plugin file"),
        "{text}"
    );
    assert!(text.contains("plugins.real.allow_http[0]"), "{text}");
    assert!(
        text.contains("routes[0].plugins[1]: no plugin named `ghost`"),
        "{text}"
    );
    assert!(
        text.contains("routes[0].to[0]: no sink named `nowhere`"),
        "{text}"
    );
    assert!(text.contains("4 error(s)"), "{text}");

    // unknown field: refused with its line
    std::fs::write(&cfg, "[hub]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap();
    let out = weft(&["validate", "--config", cfg.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains("bad.toml:3:1: unknown field `lisen`"),
        "{text}"
    );

    // every type mistake and unknown key in one run, each with line and column
    std::fs::write(
        &cfg,
        "[hub]\nlisen = 3\nlog_format = \"jsno\"\nmax_in_flight = \"x\"\n[[routes]]\nname = \"r\"\nfrom = [\"topic:a\"]\nto = [\"stdout\"]\nretries = 2\n",
    )
    .unwrap();
    let out = weft(&["validate", "--config", cfg.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{text}");
    for expected in [
        "bad.toml:2:1:",
        "bad.toml:3:14:",
        "bad.toml:4:17:",
        "bad.toml:9:1:",
        "4 error(s)",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }

    // a file that is not a component
    std::fs::write(dir.path().join("junk.wasm"), b"junk").unwrap();
    std::fs::write(&cfg, "[plugins.j]\npath = \"junk.wasm\"\n[[routes]]\nname = \"r\"\nfrom = [\"topic:a\"]\nplugins = [\"j\"]\nto = [\"stdout\"]\n").unwrap();
    let out = weft(&["validate", "--config", cfg.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains("plugins.j.path") && text.contains("not a valid WebAssembly component"),
        "{text}"
    );
}

/// Every example validates right after the quick start, its plugins compiled and checked.
/// A plugin that is not bundled (e-invoicing, logistics, data sharing, model connector) may
/// be missing only when the example's header says how to build it.
#[test]
fn every_shipped_example_validates() {
    let root = support::root();
    let examples = root.join("examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let header: String = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .take_while(|l| l.starts_with('#') || l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let out = weft(&["validate", "--config", path.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout);
        let unbuilt_and_explained = |line: &str| {
            let Some(file) = line
                .split("cannot read plugin file ")
                .nth(1)
                .and_then(|rest| rest.split(':').next())
            else {
                return false;
            };
            let Some(stem) = std::path::Path::new(file)
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.strip_prefix("weft_plugin_"))
            else {
                return false;
            };
            let dir = stem.replace('_', "-");
            root.join("plugins").join(&dir).is_dir()
                && (header.contains(&format!("weft plugin build plugins/{dir}"))
                    || header.contains(&format!("-p weft-plugin-{dir} ")))
        };
        for line in text.lines().filter(|l| l.contains("error:")) {
            assert!(
                unbuilt_and_explained(line)
                    || line.contains("error(s); the configuration is not valid"),
                "{}: {line}\n{text}",
                path.display()
            );
        }
        if !text.contains("error:") {
            assert!(out.status.success(), "{}: {text}", path.display());
        }
        n += 1;
    }
    assert!(
        n >= 5,
        "expected shipped examples in {}",
        examples.display()
    );
}

#[test]
fn plugin_run_reports_events_and_failures_with_exit_codes() {
    let probe = support::plugin_wasm("weft-test-probe");
    let p = probe.to_str().unwrap();
    let input = [
        json!({"specversion":"1.0","id":"1","source":"/s","type":"echo","data":{"a":1}})
            .to_string(),
        json!({"specversion":"1.0","id":"2","source":"/s","type":"many","data":{"n":2}})
            .to_string(),
    ]
    .join("\n");
    let (code, lines, stderr) = plugin_run(&[p], &input);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["data"], json!({"a": 1}));

    let input = [
        json!({"specversion":"1.0","id":"1","source":"/s","type":"reject"}).to_string(),
        json!({"specversion":"1.0","id":"2","source":"/s","type":"loop"}).to_string(),
        "not json".to_string(),
        json!({"specversion":"1.0","id":"3","source":"/s","type":"echo"}).to_string(),
    ]
    .join("\n");
    let (code, lines, _) = plugin_run(&[p, "--cpu-ms", "50"], &input);
    assert_eq!(code, 1);
    assert_eq!(lines[0]["failure"]["kind"], "reject");
    assert_eq!(
        lines[0]["failure"]["message"],
        "plugin rejected the event: probe asked to reject"
    );
    assert_eq!(lines[1]["failure"]["kind"], "retry");
    assert!(
        lines[1]["failure"]["message"]
            .as_str()
            .unwrap()
            .contains("CPU limit of 50 ms")
    );
    assert!(
        lines[2]["failure"]["message"]
            .as_str()
            .unwrap()
            .contains("line 3")
    );
    assert_eq!(lines[3]["id"], "3", "later events still run");

    let (code, _, stderr) = plugin_run(&["/nonexistent.wasm"], "");
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent.wasm"), "{stderr}");

    let (code, lines, _) = plugin_run(
        &[p, "--config", "region=eu"],
        &json!({"specversion":"1.0","id":"1","source":"/s","type":"config"}).to_string(),
    );
    assert_eq!(code, 0);
    assert_eq!(lines[0]["data"], json!({"region": "eu"}));
}

#[test]
fn a_plugin_from_the_template_builds_runs_and_serves_in_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("greeter");
    let out = weft(&[
        "plugin",
        "new",
        "greeter",
        "--dir",
        plugin_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // share a target dir across test runs so the SDK is not rebuilt every time
    let out = Command::new(support::weft_bin())
        .args(["plugin", "build", plugin_dir.to_str().unwrap()])
        .env(
            "CARGO_TARGET_DIR",
            support::root().join("target/template-plugin"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(wasm.ends_with("greeter.wasm"), "{wasm}");

    // the crate stands on its own: nothing in it points back into this clone, and its
    // native tests pass (`cargo test` in the README's steps)
    let root = support::root().display().to_string();
    for file in ["Cargo.toml", "weft-sdk/Cargo.toml", "weft-sdk/src/lib.rs"] {
        let text = std::fs::read_to_string(plugin_dir.join(file)).unwrap();
        assert!(!text.contains(&root), "{file} mentions {root}");
    }
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&plugin_dir)
        .arg("test")
        .env(
            "CARGO_TARGET_DIR",
            support::root().join("target/template-plugin"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo test of the scaffolded plugin: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (code, lines, stderr) = plugin_run(
        &[&wasm, "--config", "greeting=hej"],
        &json!({"specversion":"1.0","id":"1","source":"/s","type":"order.created","data":{"n":1}})
            .to_string(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["type"], "order.created.greeted");
    assert_eq!(lines[0]["data"], json!({"n": 1, "greeting": "hej"}));

    // inside `weft run`
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    std::fs::write(
        dir.path().join("weft.toml"),
        format!(
            "[hub]\nlisten = \"{addr}\"\ndata_dir = \"data\"\n[plugins.greeter]\npath = \"{wasm}\"\nconfig.greeting = \"hello\"\n[sinks.out]\ntype = \"file\"\npath = \"out.jsonl\"\n[[routes]]\nname = \"greet\"\nfrom = [\"topic:orders\"]\nplugins = [\"greeter\"]\nto = [\"out\"]\n"
        ),
    )
    .unwrap();
    let _hub = support::Hub::start(dir.path(), addr);
    let r = support::post_event(
        addr,
        "orders",
        &json!({"specversion":"1.0","id":"o1","source":"/erp","type":"order.created","data":{"n":2}}),
    );
    assert_eq!(r.status, 202);
    let got = support::poll(Duration::from_secs(20), || {
        std::fs::read_to_string(dir.path().join("out.jsonl"))
            .ok()
            .filter(|s| !s.is_empty())
    })
    .expect("the event reaches the sink");
    let event: Value = serde_json::from_str(got.lines().next().unwrap()).unwrap();
    assert_eq!(event["type"], "order.created.greeted");
    assert_eq!(event["data"], json!({"n": 2, "greeting": "hello"}));
}

/// The README's plugin code is the template's code, so pasting it passes the template's
/// tests.
#[test]
fn the_readme_plugin_code_is_the_template() {
    let template =
        std::fs::read_to_string(support::root().join("plugins/_template/src/lib.rs")).unwrap();
    let start = template.find("use weft_sdk::").unwrap();
    let end = template.find("weft_sdk::export_handler!(handle);").unwrap();
    let code = &template[start..end];
    let readme = std::fs::read_to_string(support::root().join("README.md")).unwrap();
    assert!(
        readme.contains(code),
        "README.md's plugin example differs from plugins/_template/src/lib.rs"
    );
}

#[test]
fn version_names_the_plugin_contract() {
    let out = weft(&["--version"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let wit = std::fs::read_to_string(support::root().join("wit/plugin.wit")).unwrap();
    let package = wit
        .lines()
        .find_map(|l| l.strip_prefix("package "))
        .unwrap()
        .trim_end_matches(';');
    assert!(text.contains(package), "{text} should name {package}");
    let out = weft(&["completions", "bash"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("plugin"));
}

#[test]
fn config_schema_is_json_schema() {
    let out = weft(&["config", "schema"]);
    assert!(out.status.success());
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["properties"]["routes"].is_object(), "{schema}");
}

#[test]
fn without_a_config_the_demo_runs_a_sample_order_through_the_bundled_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", support::free_port())
        .parse()
        .unwrap();
    let out_path = dir.path().join("stdout.txt");
    let mut child = Command::new(support::weft_bin())
        .args(["run", "--listen", &addr.to_string()])
        .current_dir(dir.path())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sample = support::poll(Duration::from_secs(60), || {
        std::fs::read_to_string(&out_path)
            .ok()
            .and_then(|s| s.lines().next().map(str::to_string))
    });
    let posted = support::post_event(
        addr,
        "orders",
        &json!({"specversion":"1.0","id":"42","source":"/erp","type":"com.example.order.created","data":{"orderId":"PO-42","total":"99.00","buyer":{"name":"Acme"}}}),
    );
    let lines = support::poll(Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&out_path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (lines.len() >= 2).then_some(lines)
    });
    let _ = child.kill();
    let _ = child.wait();
    let sample: Value =
        serde_json::from_str(&sample.expect("the sample order reaches stdout")).unwrap();
    assert_eq!(sample["type"], "com.example.order.normalized");
    assert_eq!(sample["data"]["order"]["id"], "PO-1001");
    assert_eq!(posted.status, 202);
    let lines = lines.expect("the posted order reaches stdout");
    assert_eq!(
        lines[1]["data"],
        json!({"order": {"id": "PO-42", "total": "99.00", "currency": null}, "buyer": "Acme"})
    );
    assert!(
        dir.path().join(".weft").is_dir(),
        "the embedded log lives in ./.weft"
    );
}

/// `weft filter --sql`: one JSON object per run, exit 0 when evaluated (also with an error
/// kind), 2 when the input is not a CloudEvent.
#[test]
fn filter_evaluates_cesql_on_one_event_from_stdin() {
    let run = |sql: &str, stdin: &str| {
        let mut child = Command::new(support::weft_bin())
            .args(["filter", "--sql", sql])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        (out.status.code(), text)
    };
    let event = r#"{"specversion":"1.0","id":"1","source":"/erp","type":"com.example.order.created","subject":"PO-7"}"#;
    let (code, text) = run("type LIKE 'com.example.%' AND EXISTS subject", event);
    assert_eq!(code, Some(0), "{text}");
    let got: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(got, json!({"result": true, "error": null}));
    let (code, text) = run("1 / 0", event);
    assert_eq!(code, Some(0), "{text}");
    let got: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(got["error"]["kind"], "math", "{text}");
    let (code, text) = run("type = ", event);
    assert_eq!(code, Some(0), "{text}");
    let got: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(got["error"]["kind"], "parse", "{text}");
    let (code, _) = run("true", "not json");
    assert_eq!(code, Some(2));
}
