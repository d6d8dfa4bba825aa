//! `weft-plugin-llm`: a foundation-model connector for weft routes. Each event becomes a
//! request to an OpenAI-compatible Chat Completions endpoint (OpenAI, Azure OpenAI, vLLM,
//! llama.cpp's server, Ollama, DeepSeek, Qwen/DashScope compatible mode), sent through the
//! plugin's granted `wasi:http` only; the answer becomes the output event.
//!
//! - With `schema`, the request asks for Structured Outputs (`response_format:
//!   {"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}`), and the
//!   answer is parsed and validated against the schema before anything is emitted. An
//!   invalid or non-JSON answer is asked again (`invalid_output_retries`, default 1) and
//!   then rejected with the reason: unvalidated output is never emitted.
//! - Without `schema`, the text answer is emitted as `text/plain`.
//! - With `tools`, a tool call in the answer becomes the output event (`{"id", "name",
//!   "arguments"}`, arguments parsed and validated against the function's parameters).
//! - Output events are derived from the input (id `<id>.<type>`, same source, subject and
//!   `traceparent`) and carry `llmmodel`, `llmprompttokens`, `llmcompletiontokens`,
//!   `llmtotaltokens`, `llmattempts` and `llmfinishreason` extension attributes.
//! - 408, 409, 429 and 5xx answers, timeouts and connection failures are `retry` (with the
//!   server's `Retry-After` as `retry-after-ms=<ms>: ` at the start of the message, see
//!   [`failures`]); other 4xx answers are `reject` with the API's error message. The API
//!   key and configured header values never appear in failures, logs or events.
//!
//! ```
//! use weft_sdk::{Event, http::Response, testing::TestHost};
//! let host = TestHost::new()
//!     .with_config("base_url", "https://api.example.com/v1")
//!     .with_config("model", "small")
//!     .with_config("prompt", "Classify: {data}")
//!     .with_config("schema", r#"{"type":"object","properties":{"code":{"type":"string"}},"required":["code"],"additionalProperties":false}"#)
//!     .with_http(|_req| Ok(Response::new(200, r#"{"model":"small","choices":[{"message":{"content":"{\"code\":\"44111500\"}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":5,"total_tokens":25}}"#)));
//! let out = host
//!     .call(weft_plugin_llm::handle, Event::new("1", "/erp", "line").with_data("text/plain", "steel wire rod"))
//!     .unwrap();
//! assert_eq!(out[0].data_json::<serde_json::Value>().unwrap()["code"], "44111500");
//! assert_eq!(out[0].extension("llmtotaltokens"), Some("25"));
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use weft_sdk::{Event, Failure, HandlerResult};

pub mod answer;
pub mod api;
pub mod chat;
pub mod failures;
pub mod redact;
pub mod schema;
pub mod settings;
pub mod template;
pub mod transport;

use redact::Redactor;
use schema::Schema;
use settings::Settings;

/// The configuration with its schemas compiled, kept per instance while the configuration
/// stays the same (in `warm` mode, across events).
pub struct Prepared {
    /// The parsed configuration.
    pub settings: Settings,
    /// The compiled output schema.
    pub schema: Option<Schema>,
    /// The configured functions with their compiled parameter schemas.
    pub tools: Vec<(String, Option<Schema>)>,
    /// Hides the secrets in messages.
    pub redactor: Redactor,
}

impl Prepared {
    /// Parses and compiles the configuration.
    pub fn new(pairs: &[(String, String)]) -> Result<Prepared, Failure> {
        let settings = Settings::from_pairs(pairs)?;
        let schema = settings
            .schema
            .as_ref()
            .map(|s| {
                Schema::compile(s).map_err(|e| Failure::reject(format!("llm: config `schema` {e}")))
            })
            .transpose()?;
        let mut tools = Vec::new();
        for tool in settings.tools.iter().flatten() {
            let name = tool
                .pointer("/function/name")
                .and_then(|n| n.as_str())
                .unwrap_or_default();
            let parameters = tool
                .pointer("/function/parameters")
                .map(|p| {
                    Schema::compile(p).map_err(|e| {
                        Failure::reject(format!(
                            "llm: config `tools`: the parameters of `{name}` {e}"
                        ))
                    })
                })
                .transpose()?;
            tools.push((name.to_string(), parameters));
        }
        let redactor = Redactor::new(settings.secrets());
        Ok(Prepared {
            settings,
            schema,
            tools,
            redactor,
        })
    }
}

/// The configuration pairs a [`Prepared`] was built from, and it.
type PreparedCache = Option<(Vec<(String, String)>, Rc<Prepared>)>;

thread_local! {
    static PREPARED: RefCell<PreparedCache> = const { RefCell::new(None) };
}

/// The prepared configuration, compiled once per configuration.
fn prepared() -> Result<Rc<Prepared>, Failure> {
    let mut pairs = weft_sdk::config::all();
    pairs.sort();
    if let Some(hit) = PREPARED.with(|p| {
        p.borrow()
            .as_ref()
            .filter(|(cached, _)| *cached == pairs)
            .map(|(_, prepared)| prepared.clone())
    }) {
        return Ok(hit);
    }
    let prepared = Rc::new(Prepared::new(&pairs)?);
    PREPARED.with(|p| *p.borrow_mut() = Some((pairs, prepared.clone())));
    Ok(prepared)
}

/// Sends the event to the model and returns the checked answer as events.
pub fn handle(event: Event) -> HandlerResult {
    let prepared = prepared()?;
    chat::complete(&prepared, &event).map_err(|failure| match failure {
        Failure::Retry(m) => Failure::Retry(prepared.redactor.apply(&m)),
        Failure::Reject(m) => Failure::Reject(prepared.redactor.apply(&m)),
    })
}

weft_sdk::export_handler!(handle);
