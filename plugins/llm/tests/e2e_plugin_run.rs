//! End to end: the plugin built as a WebAssembly component and run by `weft plugin run`
//! (same runtime, limits and `allow_http` grant check as the hub) against an
//! OpenAI-compatible server inside the test that answers from a script and records every
//! request.

mod common;

use std::time::Duration;

use common::scripted::{self, Reply};
use serde_json::{Value, json};

const KEY: &str = "sk-e2e-0c4a1f9b7d2e8a63";

const SCHEMA: &str = r#"{"type":"object","properties":{"customer":{"type":"string"},"items":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"quantity":{"type":"integer","minimum":1}},"required":["sku","quantity"],"additionalProperties":false}}},"required":["customer","items"],"additionalProperties":false}"#;

const TOOLS: &str = r#"[{"type":"function","function":{"name":"escalate","description":"Hands the message to a person","parameters":{"type":"object","properties":{"reason":{"type":"string"}},"required":["reason"],"additionalProperties":false}}}]"#;

const VALID: &str = r#"{"customer":"Acme GmbH","items":[{"sku":"B-M8","quantity":12}]}"#;

fn mail(id: &str, text: &str) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": "/mailbox/orders",
        "type": "com.example.mail.received", "subject": format!("PO-{id}"),
        "datacontenttype": "text/plain", "data": text,
    })
}

fn failure(line: &Value) -> (&str, &str) {
    (
        line["failure"]["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("not a failure: {line}")),
        line["failure"]["message"].as_str().unwrap(),
    )
}

#[test]
fn answers_errors_and_timeouts_inside_the_runtime() {
    let server = scripted::start(vec![
        // 1: valid
        Reply::completion(VALID),
        // 2: a schema violation, then valid
        Reply::completion(r#"{"customer":"Acme GmbH","items":[{"sku":"B-M8","quantity":0}]}"#),
        Reply::completion(VALID),
        // 3: not JSON, twice
        Reply::completion("Sure! 12 bolts for Acme."),
        Reply::completion("Order: 12 bolts"),
        // 4: rate limited
        Reply::json(429, json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}))
            .header("retry-after", "2"),
        // 5: server error
        Reply::json(500, json!({"error": {"message": "The server had an error while processing your request."}})),
        // 6: wrong key (the server echoes it)
        Reply::json(401, json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}})),
        // 7: slower than timeout_ms
        Reply::completion(VALID).after(Duration::from_secs(4)),
        // 8: a tool call
        Reply::json(200, json!({
            "model": "scripted-1",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
              "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "escalate", "arguments": "{\"reason\":\"complaint\"}"}}]}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 8, "total_tokens": 58}
        })),
    ]);
    let base_url = format!("{}/v1", server.origin);
    let config = [
        ("base_url", base_url.as_str()),
        ("api_key", KEY),
        ("model", "scripted"),
        ("system", "You extract purchase orders."),
        ("prompt", "Extract the order: {data}"),
        ("schema", SCHEMA),
        ("schema_name", "order"),
        ("output_type", "com.example.order.extracted"),
        ("temperature", "0"),
        ("timeout_ms", "1000"),
        ("tools", TOOLS),
    ];
    let input: Vec<Value> = (1..=8)
        .map(|i| mail(&i.to_string(), "Please ship 12 x B-M8 bolts. Acme GmbH"))
        .collect();
    let run = common::plugin_run(Some(&server.origin), &config, &input);
    assert_eq!(
        run.code, 1,
        "some events fail: {:?}\n{}",
        run.lines, run.stderr
    );
    assert_eq!(run.lines.len(), 8, "{:?}\n{}", run.lines, run.stderr);
    let out = &run.lines;

    // 1: one event, the validated JSON, model and usage as extensions
    assert_eq!(out[0]["type"], "com.example.order.extracted", "{}", out[0]);
    assert_eq!(out[0]["id"], "1.com.example.order.extracted");
    assert_eq!(out[0]["subject"], "PO-1");
    assert_eq!(out[0]["datacontenttype"], "application/json");
    assert_eq!(
        out[0]["data"],
        serde_json::from_str::<Value>(VALID).unwrap()
    );
    assert_eq!(out[0]["llmmodel"], "scripted-1");
    assert_eq!(out[0]["llmtotaltokens"], "48");
    // 2: asked again, then emitted
    assert_eq!(out[1]["data"]["items"][0]["quantity"], 12, "{}", out[1]);
    assert_eq!(out[1]["llmattempts"], "2");
    assert_eq!(out[1]["llmtotaltokens"], "96");
    // 3: never valid: rejected
    let (kind, message) = failure(&out[2]);
    assert_eq!(kind, "reject");
    assert!(
        message.contains("not JSON") && message.contains("2 attempt(s)"),
        "{message}"
    );
    // 4: rate limit: retry with the delay in the documented form
    let (kind, message) = failure(&out[3]);
    assert_eq!(kind, "retry");
    assert!(
        message.contains("retry-after-ms=2000: ") && message.contains("Rate limit reached"),
        "{message}"
    );
    // 5: server error: retry
    let (kind, message) = failure(&out[4]);
    assert_eq!(kind, "retry");
    assert!(message.contains("500"), "{message}");
    // 6: wrong key: reject with the API's message, without the key
    let (kind, message) = failure(&out[5]);
    assert_eq!(kind, "reject");
    assert!(
        message.contains("Incorrect API key provided") && message.contains("[redacted]"),
        "{message}"
    );
    // 7: timeout: retry
    let (kind, message) = failure(&out[6]);
    assert_eq!(kind, "retry");
    assert!(message.contains("timeout_ms=1000"), "{message}");
    // 8: the tool call is the event
    assert_eq!(out[7]["type"], "weft.llm.toolcall", "{}", out[7]);
    assert_eq!(out[7]["llmtool"], "escalate");
    assert_eq!(
        out[7]["data"],
        json!({"id": "call_9", "name": "escalate", "arguments": {"reason": "complaint"}})
    );

    // the key never leaves the plugin except in the request header
    let all = format!("{:?}{}", run.lines, run.stderr);
    assert!(!all.contains(KEY), "the API key leaked: {all}");

    // what the server was sent
    let requests = server.requests.lock().unwrap();
    assert_eq!(requests.len(), 10, "{requests:?}");
    let first = &requests[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/chat/completions");
    assert_eq!(
        first.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.body["model"], "scripted");
    assert_eq!(first.body["temperature"], 0.0);
    assert_eq!(
        first.body["messages"],
        json!([
            {"role": "system", "content": "You extract purchase orders."},
            {"role": "user", "content": "Extract the order: Please ship 12 x B-M8 bolts. Acme GmbH"}
        ])
    );
    assert_eq!(
        first.body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "order", "strict": true, "schema": serde_json::from_str::<Value>(SCHEMA).unwrap()}})
    );
    assert_eq!(first.body["tools"][0]["function"]["name"], "escalate");
    // the repair request carries the invalid answer and the reason
    let repair = requests[2].body["messages"].as_array().unwrap();
    assert_eq!(repair.len(), 4);
    assert_eq!(repair[2]["role"], "assistant");
    assert!(
        repair[3]["content"]
            .as_str()
            .unwrap()
            .contains("/items/0/quantity")
    );
}

#[test]
fn a_destination_outside_the_grant_is_refused_by_the_host() {
    let server = scripted::start(vec![Reply::completion(VALID)]);
    let base_url = format!("{}/v1", server.origin);
    let run = common::plugin_run(
        None,
        &[("base_url", &base_url), ("model", "m"), ("api_key", KEY)],
        &[mail("1", "hello")],
    );
    assert_eq!(run.code, 1, "{:?}\n{}", run.lines, run.stderr);
    let (kind, message) = failure(&run.lines[0]);
    assert_eq!(kind, "reject");
    assert!(message.contains("allow_http"), "{message}");
    assert!(server.requests.lock().unwrap().is_empty());
}
