//! The plugin's configuration keys, read from `wasi:config` and checked once: a missing or
//! malformed key is a `reject` naming the key (the value itself is never repeated, it may
//! be a secret).

use serde_json::{Map, Value};
use weft_sdk::Failure;

/// The default event type of a completion (JSON or text).
pub const DEFAULT_OUTPUT_TYPE: &str = "weft.llm.completed";
/// The default event type of a tool call.
pub const DEFAULT_TOOL_CALL_TYPE: &str = "weft.llm.toolcall";
/// The default time to wait for the model's answer.
pub const DEFAULT_TIMEOUT_MS: u64 = 20_000;

/// Every key the plugin reads; any other key is a configuration error (a typo would
/// otherwise be ignored silently).
pub const KEYS: &[&str] = &[
    "base_url",
    "api_key",
    "auth_header",
    "model",
    "system",
    "prompt",
    "schema",
    "schema_name",
    "strict",
    "response_format",
    "output_type",
    "tool_call_type",
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "timeout_ms",
    "tools",
    "tool_choice",
    "headers",
    "max_input_chars",
    "invalid_output_retries",
    "extra_body",
];

/// How the schema is put into the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFormat {
    /// `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`: OpenAI's
    /// Structured Outputs, also understood by vLLM, llama.cpp's server, Ollama and others.
    JsonSchema,
    /// `{"type": "json_object", "schema": …}`: JSON mode with the schema beside it, for
    /// servers that constrain JSON mode with a schema but do not know `json_schema`
    /// (llama-cpp-python's server).
    JsonObject,
}

/// The parsed configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Chat Completions URL (`base_url` + `/chat/completions`, query kept).
    pub endpoint: String,
    /// The API key, sent in `auth_header`.
    pub api_key: Option<String>,
    /// The header that carries the key: `authorization` sends `Bearer <key>`, any other
    /// name (e.g. Azure's `api-key`) the bare key.
    pub auth_header: String,
    /// The model id.
    pub model: String,
    /// The system message.
    pub system: Option<String>,
    /// The user message template (see [`crate::template`]).
    pub prompt: String,
    /// The JSON Schema the answer must match; `None` for a text answer.
    pub schema: Option<Value>,
    /// The `json_schema.name` of the response format.
    pub schema_name: String,
    /// `json_schema.strict`.
    pub strict: bool,
    /// How the schema is sent.
    pub schema_format: SchemaFormat,
    /// The type of the emitted completion event.
    pub output_type: String,
    /// The type of an emitted tool-call event.
    pub tool_call_type: String,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// `max_tokens`.
    pub max_tokens: Option<u64>,
    /// `max_completion_tokens`.
    pub max_completion_tokens: Option<u64>,
    /// `seed`.
    pub seed: Option<i64>,
    /// Time to wait for the connection and for the answer, in milliseconds.
    pub timeout_ms: u64,
    /// Tool definitions, passed through.
    pub tools: Option<Vec<Value>>,
    /// `tool_choice`, passed through.
    pub tool_choice: Option<Value>,
    /// Extra request headers (their values are treated as secrets).
    pub headers: Vec<(String, String)>,
    /// Bound on the characters of the system message plus the rendered prompt.
    pub max_input_chars: Option<usize>,
    /// How often an invalid answer (not JSON, not matching the schema) is asked again.
    pub invalid_output_retries: u32,
    /// Extra request body fields (vendor parameters), merged into the request.
    pub extra_body: Map<String, Value>,
}

fn bad(key: &str, why: impl std::fmt::Display) -> Failure {
    Failure::reject(format!("llm: config `{key}` {why}"))
}

fn parse<T: std::str::FromStr>(
    key: &str,
    value: Option<&str>,
    what: &str,
) -> Result<Option<T>, Failure> {
    value
        .map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|_| bad(key, format!("must be {what}")))
        })
        .transpose()
}

fn json(key: &str, value: Option<&str>) -> Result<Option<Value>, Failure> {
    value
        .map(|v| serde_json::from_str(v).map_err(|e| bad(key, format!("is not valid JSON: {e}"))))
        .transpose()
}

fn event_type(key: &str, value: Option<&str>, default: &str) -> Result<String, Failure> {
    let ty = value.unwrap_or(default).trim();
    if ty.is_empty() {
        return Err(bad(key, "must not be empty"));
    }
    Ok(ty.to_string())
}

impl Settings {
    /// Reads the plugin's configuration.
    pub fn load() -> Result<Settings, Failure> {
        Settings::from_pairs(&weft_sdk::config::all())
    }

    /// Parses configuration pairs.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Settings, Failure> {
        if let Some((key, _)) = pairs.iter().find(|(k, _)| !KEYS.contains(&k.as_str())) {
            return Err(Failure::reject(format!(
                "llm: unknown config key `{key}` (known: {})",
                KEYS.join(", ")
            )));
        }
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let nonempty = |key: &str| get(key).filter(|v| !v.trim().is_empty());

        let base_url = nonempty("base_url")
            .ok_or_else(|| bad("base_url", "is not set (e.g. https://api.openai.com/v1)"))?;
        let base_url = base_url.trim();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(bad("base_url", "must be an http:// or https:// URL"));
        }
        let endpoint = match base_url.split_once('?') {
            Some((path, query)) => {
                format!("{}/chat/completions?{query}", path.trim_end_matches('/'))
            }
            None => format!("{}/chat/completions", base_url.trim_end_matches('/')),
        };
        let model = nonempty("model")
            .ok_or_else(|| bad("model", "is not set"))?
            .trim()
            .to_string();

        let schema = json("schema", nonempty("schema"))?;
        if schema
            .as_ref()
            .is_some_and(|s| !s.is_object() && !s.is_boolean())
        {
            return Err(bad("schema", "must be a JSON Schema (a JSON object)"));
        }
        let schema_name = get("schema_name").unwrap_or("output").trim().to_string();
        if schema_name.is_empty()
            || schema_name.len() > 64
            || !schema_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "schema_name",
                "must be 1 to 64 of a-z, A-Z, 0-9, _ and -",
            ));
        }
        let strict = parse::<bool>("strict", get("strict"), "true or false")?.unwrap_or(true);
        let schema_format = match get("response_format").map(str::trim) {
            None | Some("json_schema") => SchemaFormat::JsonSchema,
            Some("json_object") => SchemaFormat::JsonObject,
            Some(_) => {
                return Err(bad(
                    "response_format",
                    "must be `json_schema` or `json_object`",
                ));
            }
        };

        let tools = match json("tools", nonempty("tools"))? {
            None => None,
            Some(Value::Array(tools)) => {
                for (i, tool) in tools.iter().enumerate() {
                    if tool
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .is_none()
                    {
                        return Err(bad("tools", format!("item {i} has no function.name")));
                    }
                }
                Some(tools)
            }
            Some(_) => return Err(bad("tools", "must be a JSON array of tool definitions")),
        };
        let tool_choice = match nonempty("tool_choice").map(str::trim) {
            None => None,
            Some(v @ ("auto" | "none" | "required")) => Some(Value::String(v.to_string())),
            Some(v) => Some(json("tool_choice", Some(v))?.unwrap_or(Value::Null)),
        };

        let headers = match json("headers", nonempty("headers"))? {
            None => Vec::new(),
            Some(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k, s)),
                    _ => Err(bad("headers", format!("value of `{k}` must be a string"))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(bad(
                    "headers",
                    "must be a JSON object of header names to values",
                ));
            }
        };
        let extra_body = match json("extra_body", nonempty("extra_body"))? {
            None => Map::new(),
            Some(Value::Object(map)) => {
                if map.contains_key("messages") || map.contains_key("stream") {
                    return Err(bad("extra_body", "must not set `messages` or `stream`"));
                }
                map
            }
            Some(_) => return Err(bad("extra_body", "must be a JSON object")),
        };

        let timeout_ms = parse::<u64>("timeout_ms", get("timeout_ms"), "a number of milliseconds")?
            .unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err(bad("timeout_ms", "must be above 0"));
        }
        let temperature = parse::<f64>("temperature", get("temperature"), "a number")?;
        if temperature.is_some_and(|t| !t.is_finite()) {
            return Err(bad("temperature", "must be a finite number"));
        }

        Ok(Settings {
            endpoint,
            api_key: get("api_key")
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string),
            auth_header: get("auth_header")
                .unwrap_or("authorization")
                .trim()
                .to_ascii_lowercase(),
            model,
            system: get("system")
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string),
            prompt: get("prompt").unwrap_or("{data}").to_string(),
            schema,
            schema_name,
            strict,
            schema_format,
            output_type: event_type("output_type", get("output_type"), DEFAULT_OUTPUT_TYPE)?,
            tool_call_type: event_type(
                "tool_call_type",
                get("tool_call_type"),
                DEFAULT_TOOL_CALL_TYPE,
            )?,
            temperature,
            max_tokens: parse("max_tokens", get("max_tokens"), "a whole number")?,
            max_completion_tokens: parse(
                "max_completion_tokens",
                get("max_completion_tokens"),
                "a whole number",
            )?,
            seed: parse("seed", get("seed"), "a whole number")?,
            timeout_ms,
            tools,
            tool_choice,
            headers,
            max_input_chars: parse("max_input_chars", get("max_input_chars"), "a whole number")?,
            invalid_output_retries: parse(
                "invalid_output_retries",
                get("invalid_output_retries"),
                "a whole number",
            )?
            .unwrap_or(1),
            extra_body,
        })
    }

    /// The values that must never leave the plugin: the API key and extra header values.
    pub fn secrets(&self) -> Vec<String> {
        self.api_key
            .iter()
            .cloned()
            .chain(self.headers.iter().map(|(_, v)| v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn reason(f: Failure) -> String {
        match f {
            Failure::Reject(m) => m,
            Failure::Retry(m) => panic!("expected reject, got retry {m}"),
        }
    }

    #[test]
    fn builds_the_endpoint_and_defaults() {
        let s = Settings::from_pairs(&pairs(&[
            ("base_url", "https://api.example.com/v1/"),
            ("model", "m"),
        ]))
        .unwrap();
        assert_eq!(s.endpoint, "https://api.example.com/v1/chat/completions");
        assert_eq!(s.prompt, "{data}");
        assert_eq!(s.output_type, DEFAULT_OUTPUT_TYPE);
        assert_eq!(s.invalid_output_retries, 1);
        assert!(s.strict);
        let azure = Settings::from_pairs(&pairs(&[
            (
                "base_url",
                "https://r.openai.azure.com/openai/deployments/gpt?api-version=2024-10-21",
            ),
            ("model", "gpt"),
        ]))
        .unwrap();
        assert_eq!(
            azure.endpoint,
            "https://r.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-10-21"
        );
    }

    #[test]
    fn errors_name_the_key_and_never_the_value() {
        let base = [("base_url", "https://a.example/v1"), ("model", "m")];
        let with = |k: &str, v: &str| {
            let mut p = pairs(&base);
            p.push((k.to_string(), v.to_string()));
            reason(Settings::from_pairs(&p).unwrap_err())
        };
        assert!(with("modle", "x").contains("unknown config key `modle`"));
        assert!(with("schema", "{not json").contains("`schema` is not valid JSON"));
        assert!(with("temperature", "warm").contains("`temperature` must be a number"));
        assert!(with("tools", "[{\"type\":\"function\"}]").contains("item 0 has no function.name"));
        let err = with("headers", "{\"x-key\": 5}");
        assert!(err.contains("`x-key` must be a string"), "{err}");
        let err = reason(
            Settings::from_pairs(&pairs(&[("model", "m"), ("api_key", "sk-secret-1")]))
                .unwrap_err(),
        );
        assert!(
            err.contains("`base_url` is not set") && !err.contains("sk-secret-1"),
            "{err}"
        );
        assert!(with("response_format", "yaml").contains("`response_format`"));
    }
}
