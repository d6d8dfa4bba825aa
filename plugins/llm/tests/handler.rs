//! The handler natively, against `weft_sdk::testing::TestHost` with a scripted HTTP
//! responder that records every request: request shape, valid and invalid answers, the
//! API's error statuses, transport failures, tool calls and secrets.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use serde_json::{Value, json};
use weft_plugin_llm::failures::parse_retry_after;
use weft_plugin_llm::handle;
use weft_sdk::http::{Request, Response};
use weft_sdk::testing::TestHost;
use weft_sdk::{Event, Failure};

const KEY: &str = "sk-test-6f1d2a9c0b7e4f3a";

const ORDER_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "customer": {"type": "string"},
    "items": {"type": "array", "items": {
      "type": "object",
      "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
      "required": ["sku", "quantity"], "additionalProperties": false}}
  },
  "required": ["customer", "items"],
  "additionalProperties": false
}"#;

/// What the fake endpoint answers, in order, and what it was asked.
#[derive(Clone, Default)]
struct Script {
    answers: Rc<RefCell<VecDeque<Result<Response, String>>>>,
    requests: Rc<RefCell<Vec<Request>>>,
}

impl Script {
    fn new(answers: Vec<Result<Response, String>>) -> Self {
        Script {
            answers: Rc::new(RefCell::new(answers.into())),
            requests: Rc::default(),
        }
    }

    fn bodies(&self) -> Vec<Value> {
        self.requests
            .borrow()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

fn completion(content: &str) -> Result<Response, String> {
    Ok(Response::new(
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "tiny-2026",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}
        })
        .to_string(),
    ))
}

fn status(code: u16, headers: &[(&str, &str)], body: Value) -> Result<Response, String> {
    let mut r = Response::new(code, body.to_string());
    r.headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Ok(r)
}

/// A host configured for order extraction, answering with `script`.
fn host(script: &Script, extra: &[(&str, &str)]) -> TestHost {
    let mut host = TestHost::new()
        .with_config("base_url", "https://llm.example.com/v1")
        .with_config("api_key", KEY)
        .with_config("model", "tiny")
        .with_config("system", "You extract purchase orders.")
        .with_config(
            "prompt",
            "Extract the order from message {id} ({subject}): {data}",
        )
        .with_config("schema", ORDER_SCHEMA)
        .with_config("schema_name", "order")
        .with_config("output_type", "com.example.order.extracted")
        .with_config("temperature", "0")
        .with_config("seed", "7")
        .with_config("max_tokens", "256");
    for (k, v) in extra {
        host = host.with_config(k, v);
    }
    let s = script.clone();
    host.with_http(move |req| {
        s.requests.borrow_mut().push(req.clone());
        s.answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Err("the script has no more answers".into()))
    })
}

fn mail() -> Event {
    let mut e = Event::new("mail-1", "/mailbox/orders", "com.example.mail.received")
        .with_subject("PO-4711")
        .with_data("text/plain", "Hi, please ship 12 x B-M8 bolts. Acme GmbH");
    e.set_extension(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    e
}

const VALID: &str = r#"{"customer":"Acme GmbH","items":[{"sku":"B-M8","quantity":12}]}"#;

fn message(f: &Failure) -> &str {
    match f {
        Failure::Retry(m) | Failure::Reject(m) => m,
    }
}

#[test]
fn sends_an_openai_chat_completion_request() {
    let script = Script::new(vec![completion(VALID)]);
    let host = host(
        &script,
        &[("headers", r#"{"OpenAI-Organization": "org-42"}"#)],
    );
    host.call(handle, mail()).unwrap();
    let requests = script.requests.borrow();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.url, "https://llm.example.com/v1/chat/completions");
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(header("openai-organization"), Some("org-42"));
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["model"], "tiny");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "You extract purchase orders."},
            {"role": "user", "content": "Extract the order from message mail-1 (PO-4711): Hi, please ship 12 x B-M8 bolts. Acme GmbH"}
        ])
    );
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["name"], "order");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(
        body["response_format"]["json_schema"]["schema"],
        serde_json::from_str::<Value>(ORDER_SCHEMA).unwrap()
    );
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["seed"], 7);
    assert_eq!(body["max_tokens"], 256);
    assert!(body.get("tools").is_none() && body.get("stream").is_none());
}

#[test]
fn a_valid_answer_becomes_one_event_with_model_and_usage() {
    let script = Script::new(vec![completion(VALID)]);
    let out = host(&script, &[]).call(handle, mail()).unwrap();
    assert_eq!(out.len(), 1);
    let e = &out[0];
    assert_eq!(e.ty, "com.example.order.extracted");
    assert_eq!(e.id, "mail-1.com.example.order.extracted");
    assert_eq!(e.source, "/mailbox/orders");
    assert_eq!(e.subject.as_deref(), Some("PO-4711"));
    assert_eq!(e.datacontenttype.as_deref(), Some("application/json"));
    assert_eq!(
        e.data_json::<Value>().unwrap(),
        serde_json::from_str::<Value>(VALID).unwrap()
    );
    assert_eq!(e.extension("llmmodel"), Some("tiny-2026"));
    assert_eq!(e.extension("llmprompttokens"), Some("40"));
    assert_eq!(e.extension("llmcompletiontokens"), Some("12"));
    assert_eq!(e.extension("llmtotaltokens"), Some("52"));
    assert_eq!(e.extension("llmattempts"), Some("1"));
    assert_eq!(e.extension("llmfinishreason"), Some("stop"));
    assert_eq!(
        e.extension("traceparent"),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
}

#[test]
fn a_schema_violation_is_asked_again_with_the_reason_then_emitted() {
    let wrong = r#"{"customer":"Acme GmbH","items":[{"sku":"B-M8","quantity":"twelve"}]}"#;
    let script = Script::new(vec![completion(wrong), completion(VALID)]);
    let out = host(&script, &[]).call(handle, mail()).unwrap();
    assert_eq!(
        out[0].data_json::<Value>().unwrap()["items"][0]["quantity"],
        12
    );
    assert_eq!(out[0].extension("llmattempts"), Some("2"));
    // usage of both requests
    assert_eq!(out[0].extension("llmtotaltokens"), Some("104"));
    let bodies = script.bodies();
    assert_eq!(bodies.len(), 2);
    let messages = bodies[1]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2], json!({"role": "assistant", "content": wrong}));
    let correction = messages[3]["content"].as_str().unwrap();
    assert!(correction.contains("/items/0/quantity"), "{correction}");
}

#[test]
fn a_schema_violation_twice_is_rejected_and_nothing_is_emitted() {
    let wrong = r#"{"customer":"Acme GmbH","items":[],"note":"extra"}"#;
    let script = Script::new(vec![completion(wrong), completion(wrong)]);
    let err = host(&script, &[]).call(handle, mail()).unwrap_err();
    let Failure::Reject(m) = &err else {
        panic!("expected reject, got {err}")
    };
    assert!(
        m.contains("invalid after 2 attempt(s)") && m.contains("does not match the schema"),
        "{m}"
    );
    assert_eq!(script.requests.borrow().len(), 2);
}

#[test]
fn the_number_of_repair_attempts_is_configurable() {
    let script = Script::new(vec![completion("no json here")]);
    let err = host(&script, &[("invalid_output_retries", "0")])
        .call(handle, mail())
        .unwrap_err();
    assert!(matches!(err, Failure::Reject(_)), "{err}");
    assert_eq!(script.requests.borrow().len(), 1);
}

#[test]
fn a_non_json_answer_is_asked_again_then_rejected() {
    let script = Script::new(vec![
        completion("Sure! The order is 12 bolts."),
        completion("I cannot"),
    ]);
    let err = host(&script, &[]).call(handle, mail()).unwrap_err();
    let Failure::Reject(m) = &err else {
        panic!("expected reject, got {err}")
    };
    assert!(m.contains("not JSON"), "{m}");
    assert_eq!(script.requests.borrow().len(), 2);
}

#[test]
fn a_fenced_json_answer_is_read_and_still_validated() {
    let script = Script::new(vec![completion(&format!("```json\n{VALID}\n```"))]);
    let out = host(&script, &[]).call(handle, mail()).unwrap();
    assert_eq!(
        out[0].data_json::<Value>().unwrap()["customer"],
        "Acme GmbH"
    );
}

#[test]
fn rate_limits_retry_with_the_servers_delay_in_the_message() {
    let script = Script::new(vec![status(
        429,
        &[("Retry-After", "20")],
        json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded", "param": null}}),
    )]);
    let err = host(&script, &[]).call(handle, mail()).unwrap_err();
    let Failure::Retry(m) = &err else {
        panic!("expected retry, got {err}")
    };
    assert!(m.starts_with("retry-after-ms=20000: "), "{m}");
    assert_eq!(parse_retry_after(m), Some(20_000));
    assert!(m.contains("429") && m.contains("Rate limit reached"), "{m}");
    // the hub retries, not the plugin
    assert_eq!(script.requests.borrow().len(), 1);
}

#[test]
fn server_errors_retry() {
    for code in [500, 502, 503] {
        let script = Script::new(vec![status(
            code,
            &[],
            json!({"error": {"message": "The server had an error"}}),
        )]);
        let err = host(&script, &[]).call(handle, mail()).unwrap_err();
        assert!(
            matches!(&err, Failure::Retry(m) if m.contains(&code.to_string()) && !m.starts_with("retry-after")),
            "{code}: {err}"
        );
    }
}

#[test]
fn client_errors_reject_with_the_apis_message_and_never_the_key() {
    // a server that echoes the key it was given
    let script = Script::new(vec![status(
        401,
        &[],
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}."), "type": "invalid_request_error", "code": "invalid_api_key", "param": null}}),
    )]);
    let host = host(&script, &[]);
    let err = host.call(handle, mail()).unwrap_err();
    let Failure::Reject(m) = &err else {
        panic!("expected reject, got {err}")
    };
    assert!(
        m.contains("401")
            && m.contains("Incorrect API key provided")
            && m.contains("invalid_api_key"),
        "{m}"
    );
    assert!(!m.contains(KEY) && m.contains("[redacted]"), "{m}");
    for (_, log) in host.logs() {
        assert!(!log.contains(KEY), "{log}");
    }
    let script = Script::new(vec![status(
        400,
        &[],
        json!({"error": {"message": "Invalid schema for response_format 'order'"}}),
    )]);
    let err = self::host(&script, &[]).call(handle, mail()).unwrap_err();
    assert!(
        matches!(&err, Failure::Reject(m) if m.contains("Invalid schema for response_format")),
        "{err}"
    );
}

#[test]
fn timeouts_and_connection_failures_retry_a_denied_destination_rejects() {
    let script = Script::new(vec![Err(
        "request failed: ErrorCode::ConnectionReadTimeout".into(),
    )]);
    let err = host(&script, &[("timeout_ms", "1500")])
        .call(handle, mail())
        .unwrap_err();
    assert!(
        matches!(&err, Failure::Retry(m) if m.contains("timeout_ms=1500")),
        "{err}"
    );
    let script = Script::new(vec![Err(
        "request failed: ErrorCode::ConnectionRefused".into()
    )]);
    let err = host(&script, &[]).call(handle, mail()).unwrap_err();
    assert!(
        matches!(&err, Failure::Retry(m) if m.contains("ConnectionRefused")),
        "{err}"
    );
    let script = Script::new(vec![Err(
        "request refused: ErrorCode::HttpRequestDenied".into()
    )]);
    let err = host(&script, &[]).call(handle, mail()).unwrap_err();
    assert!(
        matches!(&err, Failure::Reject(m) if m.contains("allow_http")),
        "{err}"
    );
}

#[test]
fn without_a_schema_the_text_answer_is_emitted_as_text_plain() {
    let script = Script::new(vec![completion(
        "Shipment delayed by customs; new ETA Friday.",
    )]);
    let host = TestHost::new()
        .with_config("base_url", "http://127.0.0.1:8000/v1")
        .with_config("model", "tiny")
        .with_config("prompt", "Summarise: {data}");
    let s = script.clone();
    let host = host.with_http(move |req| {
        s.requests.borrow_mut().push(req.clone());
        s.answers.borrow_mut().pop_front().unwrap()
    });
    let out = host.call(handle, mail()).unwrap();
    assert_eq!(out[0].ty, "weft.llm.completed");
    assert_eq!(out[0].datacontenttype.as_deref(), Some("text/plain"));
    assert_eq!(
        out[0].data_text().unwrap(),
        "Shipment delayed by customs; new ETA Friday."
    );
    let body = &script.bodies()[0];
    assert!(body.get("response_format").is_none(), "{body}");
    // no key configured: no authorization header
    assert!(
        !script.requests.borrow()[0]
            .headers
            .iter()
            .any(|(k, _)| k == "authorization")
    );
}

const TOOLS: &str = r#"[{"type": "function", "function": {"name": "create_order",
  "description": "Creates a sales order",
  "parameters": {"type": "object", "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
                 "required": ["sku", "quantity"], "additionalProperties": false}}}]"#;

fn tool_call(arguments: &str) -> Result<Response, String> {
    Ok(Response::new(
        200,
        json!({
            "model": "tiny-2026",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
              "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "create_order", "arguments": arguments}}]}}],
            "usage": {"prompt_tokens": 60, "completion_tokens": 9, "total_tokens": 69}
        })
        .to_string(),
    ))
}

#[test]
fn a_tool_call_becomes_the_output_event() {
    let script = Script::new(vec![tool_call(r#"{"sku":"B-M8","quantity":12}"#)]);
    let out = host(&script, &[("tools", TOOLS), ("tool_choice", "required")])
        .call(handle, mail())
        .unwrap();
    let body = &script.bodies()[0];
    assert_eq!(body["tools"][0]["function"]["name"], "create_order");
    assert_eq!(body["tool_choice"], "required");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ty, "weft.llm.toolcall");
    assert_eq!(out[0].extension("llmtool"), Some("create_order"));
    assert_eq!(out[0].extension("llmtotaltokens"), Some("69"));
    assert_eq!(
        out[0].data_json::<Value>().unwrap(),
        json!({"id": "call_1", "name": "create_order", "arguments": {"sku": "B-M8", "quantity": 12}})
    );
}

#[test]
fn tool_arguments_that_do_not_match_the_parameters_are_asked_again() {
    let script = Script::new(vec![
        tool_call(r#"{"sku":"B-M8"}"#),
        tool_call(r#"{"sku":"B-M8","quantity":3}"#),
    ]);
    let out = host(&script, &[("tools", TOOLS)])
        .call(handle, mail())
        .unwrap();
    assert_eq!(
        out[0].data_json::<Value>().unwrap()["arguments"]["quantity"],
        3
    );
    let second = &script.bodies()[1];
    let last = second["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["role"], "user");
    assert!(
        last["content"].as_str().unwrap().contains("quantity"),
        "{last}"
    );
}

#[test]
fn max_input_chars_bounds_the_prompt_before_anything_is_sent() {
    let script = Script::new(vec![completion(VALID)]);
    let err = host(&script, &[("max_input_chars", "40")])
        .call(handle, mail())
        .unwrap_err();
    assert!(
        matches!(&err, Failure::Reject(m) if m.contains("max_input_chars=40")),
        "{err}"
    );
    assert!(script.requests.borrow().is_empty());
}

#[test]
fn a_refusal_is_rejected() {
    let script = Script::new(vec![Ok(Response::new(
        200,
        json!({"choices": [{"message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}, "finish_reason": "stop"}]}).to_string(),
    ))]);
    let err = host(&script, &[]).call(handle, mail()).unwrap_err();
    assert!(
        matches!(&err, Failure::Reject(m) if m.contains("refused")),
        "{err}"
    );
}

#[test]
fn configuration_errors_reject_naming_the_key() {
    let script = Script::new(vec![]);
    let err = host(&script, &[("schema", r#"{"type": "objekt"}"#)])
        .call(handle, mail())
        .unwrap_err();
    assert!(
        matches!(&err, Failure::Reject(m) if m.contains("config `schema`")),
        "{err}"
    );
    let err = host(&script, &[("temprature", "0")])
        .call(handle, mail())
        .unwrap_err();
    assert!(
        message(&err).contains("unknown config key `temprature`"),
        "{err}"
    );
    assert!(script.requests.borrow().is_empty());
}

#[test]
fn json_object_mode_sends_the_schema_beside_it() {
    let script = Script::new(vec![completion(VALID)]);
    host(&script, &[("response_format", "json_object")])
        .call(handle, mail())
        .unwrap();
    let body = &script.bodies()[0];
    assert_eq!(body["response_format"]["type"], "json_object");
    assert_eq!(
        body["response_format"]["schema"]["required"],
        json!(["customer", "items"])
    );
}
