//! `weft filter --sql EXPR`: evaluates one CESQL expression against one CloudEvent.
//!
//! Reads a structured-mode CloudEvent (JSON) from stdin and prints one line,
//! `{"result": <bool|int|string>, "error": null | {"kind": "...", "message": "..."}}`.
//! Extensions given as JSON booleans or integers keep their type. Exit code 0 whenever the
//! expression was evaluated, even when the result carries an error (a parse error of the
//! expression included: its kind is `parse`); 2 on usage errors (stdin unreadable, not
//! JSON, not a valid CloudEvent), with the reason on stderr.

use std::io::{Read, Write};

/// Exit code for usage errors.
const EXIT_USAGE: i32 = 2;

/// Runs the command: evaluates `sql` against the event on `stdin`, writes the JSON line to
/// `stdout` and returns the exit code.
pub fn run_filter(sql: &str, mut stdin: impl Read, mut stdout: impl Write) -> anyhow::Result<i32> {
    let mut input = Vec::new();
    if let Err(e) = stdin.read_to_end(&mut input) {
        eprintln!("weft filter: cannot read the event from stdin: {e}");
        return Ok(EXIT_USAGE);
    }
    if input.iter().all(u8::is_ascii_whitespace) {
        eprintln!(
            "weft filter: no event on stdin (expected one CloudEvent in the JSON format, e.g. \
             {{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}})"
        );
        return Ok(EXIT_USAGE);
    }
    let event = match weft_cesql::JsonEvent::from_json_slice(&input) {
        Ok(event) => event,
        Err(e) => {
            eprintln!("weft filter: stdin is not a valid CloudEvent in the JSON format: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let evaluation = weft_cesql::evaluate(sql, &event);
    writeln!(stdout, "{}", evaluation.to_json_string())?;
    stdout.flush()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"specversion":"1.0","id":"1","source":"/erp","type":"order.created","sequence":10,"flag":true,"region":"eu"}"#;

    fn run(sql: &str, stdin: &str) -> (i32, String) {
        let mut out = Vec::new();
        let code = run_filter(sql, stdin.as_bytes(), &mut out).unwrap();
        (code, String::from_utf8(out).unwrap())
    }

    fn json(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn prints_the_result_and_no_error() {
        let (code, out) = run("type = 'order.created' AND sequence > 5", EVENT);
        assert_eq!(code, 0);
        assert_eq!(out, "{\"result\":true,\"error\":null}\n");
        let (_, out) = run("sequence * 2", EVENT);
        assert_eq!(json(&out)["result"], 20);
        let (_, out) = run("flag", EVENT);
        assert_eq!(json(&out)["result"], true);
        let (_, out) = run("UPPER(region)", EVENT);
        assert_eq!(json(&out)["result"], "EU");
    }

    #[test]
    fn evaluation_errors_exit_zero_with_their_kind() {
        for (sql, result, kind) in [
            ("missing = 1", serde_json::json!(false), "missingAttribute"),
            ("1 / 0", serde_json::json!(0), "math"),
            ("INT('x')", serde_json::json!(0), "cast"),
            ("NOPE()", serde_json::json!(false), "missingFunction"),
            (
                "LEFT('abc', -1)",
                serde_json::json!("abc"),
                "functionEvaluation",
            ),
            ("1 +", serde_json::json!(false), "parse"),
        ] {
            let (code, out) = run(sql, EVENT);
            assert_eq!(code, 0, "{sql}");
            let v = json(&out);
            assert_eq!(v["result"], result, "{sql}");
            assert_eq!(v["error"]["kind"], kind, "{sql}");
            assert!(!v["error"]["message"].as_str().unwrap().is_empty());
        }
    }

    #[test]
    fn bad_input_is_a_usage_error() {
        for stdin in [
            "",
            "  \n",
            "{not json",
            "[]",
            r#"{"specversion":"1.0","source":"/s","type":"t"}"#,
        ] {
            let (code, out) = run("TRUE", stdin);
            assert_eq!(code, 2, "{stdin:?}");
            assert!(out.is_empty());
        }
    }
}
