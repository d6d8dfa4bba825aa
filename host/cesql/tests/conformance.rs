//! Runs CESQL test files in the format of the CloudEvents CESQL conformance suite (TCK):
//!
//! ```yaml
//! name: Suite name
//! tests:
//!   - name: Case name
//!     expression: "sequence + 1"
//!     result: 11                  # optional: boolean, integer or string
//!     error: missingAttribute     # optional: parse|math|cast|missingAttribute|missingFunction|functionEvaluation|generic
//!     event: { specversion: "1.0", id: "1", source: "/s", type: "t" }   # optional
//!     eventOverrides: { sequence: 10 }                                 # optional
//! ```
//!
//! Every `*.yaml` file under this crate's `tests/` directory is run (drop the official
//! suite's files into `tests/` to run them too), plus those under `$CESQL_TCK_DIR` when set.
//! Without `event`, a complete event (all optional context attributes, no extensions) is
//! used. Extensions given as YAML integers or booleans keep that type.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use weft_cesql::{ErrorKind, Expression, JsonEvent, Value};

#[derive(Deserialize)]
struct SuiteFile {
    name: String,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    name: String,
    // One published suite file spells the key `expresion`.
    #[serde(alias = "expresion")]
    expression: String,
    result: Option<serde_json::Value>,
    error: Option<String>,
    event: Option<serde_json::Value>,
    event_overrides: Option<serde_json::Map<String, serde_json::Value>>,
}

fn default_event() -> serde_json::Value {
    serde_json::json!({
        "specversion": "1.0",
        "id": "full-event",
        "source": "http://localhost/source",
        "type": "com.example.full",
        "subject": "topic",
        "time": "2018-04-26T14:48:09+02:00",
        "datacontenttype": "text/json",
        "dataschema": "http://localhost/schema",
    })
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(path);
        }
    }
}

fn input_event(case: &Case) -> Result<JsonEvent, String> {
    let base = case.event.clone().unwrap_or_else(default_event);
    let mut event = JsonEvent::from_json_value(base).map_err(|e| format!("invalid event: {e}"))?;
    for (name, value) in case.event_overrides.iter().flatten() {
        let set = match value {
            serde_json::Value::String(s) => event.set_string(name, s),
            serde_json::Value::Bool(b) => event.set_boolean(name, *b),
            serde_json::Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
                Some(i) => event.set_integer(name, i),
                None => return Err(format!("override {name}: {n} is not a 32-bit integer")),
            },
            other => return Err(format!("override {name}: unsupported value {other}")),
        };
        set.map_err(|e| format!("override {name}: {e}"))?;
    }
    Ok(event)
}

fn expected_value(result: &serde_json::Value) -> Result<Value, String> {
    match result {
        serde_json::Value::Bool(b) => Ok(Value::Bool(*b)),
        serde_json::Value::String(s) => Ok(Value::String(s.clone())),
        serde_json::Value::Number(n) => n
            .as_i64()
            .and_then(|i| i32::try_from(i).ok())
            .map(Value::Integer)
            .ok_or_else(|| format!("result {n} is not a 32-bit integer")),
        other => Err(format!(
            "result {other} is not a boolean, integer or string"
        )),
    }
}

/// Runs one case; `Err` describes the mismatch.
fn run_case(case: &Case) -> Result<(), String> {
    let expected_error = match case.error.as_deref() {
        None => None,
        Some(name) => {
            Some(ErrorKind::from_name(name).ok_or_else(|| format!("unknown error kind `{name}`"))?)
        }
    };
    if expected_error == Some(ErrorKind::Parse) {
        return match Expression::parse(&case.expression) {
            Err(e) if e.kind == ErrorKind::Parse => Ok(()),
            Err(e) => Err(format!("expected a parse error, got {e}")),
            Ok(_) => Err("expected a parse error, but the expression parsed".into()),
        };
    }
    let expression =
        Expression::parse(&case.expression).map_err(|e| format!("does not parse: {e}"))?;
    let event = input_event(case)?;
    let evaluation = expression.eval_with(&event);
    let got_error = evaluation.error.as_ref().map(|e| e.kind);
    if got_error != expected_error {
        return Err(format!(
            "expected error {:?}, got {:?} (value {:?})",
            expected_error.map(ErrorKind::as_str),
            evaluation.error.as_ref().map(ToString::to_string),
            evaluation.value
        ));
    }
    if let Some(result) = &case.result {
        let want = expected_value(result)?;
        if evaluation.value != want {
            return Err(format!(
                "expected {want:?}, got {:?} (error {:?})",
                evaluation.value,
                evaluation.error.as_ref().map(ToString::to_string)
            ));
        }
    }
    Ok(())
}

#[test]
fn conformance_files() {
    let mut files = Vec::new();
    yaml_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"),
        &mut files,
    );
    if let Ok(dir) = std::env::var("CESQL_TCK_DIR") {
        yaml_files(Path::new(&dir), &mut files);
    }
    assert!(!files.is_empty(), "no CESQL test files found");
    let mut failures = Vec::new();
    let mut passed = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let suite: SuiteFile = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a CESQL test file: {e}", path.display()));
        for case in &suite.tests {
            match run_case(case) {
                Ok(()) => passed += 1,
                Err(why) => failures.push(format!(
                    "{} / {} / {}: `{}`: {why}",
                    path.file_name().unwrap_or_default().to_string_lossy(),
                    suite.name,
                    case.name,
                    case.expression
                )),
            }
        }
    }
    eprintln!(
        "CESQL conformance: {passed} cases passed, {} failed, from {} files",
        failures.len(),
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} CESQL cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_wrong_expectation_is_detected() {
    let case: Case =
        serde_yaml_ng::from_str("name: wrong\nexpression: 1 + 1\nresult: 3\n").unwrap();
    assert!(run_case(&case).unwrap_err().contains("expected Integer(3)"));
    let case: Case =
        serde_yaml_ng::from_str("name: wrong\nexpression: 1 / 0\nresult: 0\n").unwrap();
    assert!(run_case(&case).unwrap_err().contains("expected error None"));
    let case: Case = serde_yaml_ng::from_str("name: wrong\nexpression: 1 +\nresult: 0\n").unwrap();
    assert!(run_case(&case).unwrap_err().contains("does not parse"));
    let case: Case = serde_yaml_ng::from_str("name: wrong\nexpression: 1\nerror: parse\n").unwrap();
    assert!(run_case(&case).is_err());
}
