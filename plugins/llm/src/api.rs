//! The Chat Completions wire format (OpenAI's `POST /chat/completions`): the request the
//! plugin sends and the parts of the answer it reads. Unknown answer fields are ignored and
//! missing optional ones default, so any OpenAI-compatible server's answer is understood.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::settings::{SchemaFormat, Settings};

/// One chat message.
pub fn message(role: &str, content: &str) -> Value {
    json!({"role": role, "content": content})
}

/// The request body for `messages`.
pub fn request_body(settings: &Settings, messages: &[Value]) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), settings.model.clone().into());
    body.insert("messages".into(), Value::Array(messages.to_vec()));
    if let Some(schema) = &settings.schema {
        let format = match settings.schema_format {
            SchemaFormat::JsonSchema => json!({
                "type": "json_schema",
                "json_schema": {
                    "name": settings.schema_name,
                    "schema": schema,
                    "strict": settings.strict,
                }
            }),
            SchemaFormat::JsonObject => json!({"type": "json_object", "schema": schema}),
        };
        body.insert("response_format".into(), format);
    }
    if let Some(t) = settings.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(n) = settings.max_tokens {
        body.insert("max_tokens".into(), json!(n));
    }
    if let Some(n) = settings.max_completion_tokens {
        body.insert("max_completion_tokens".into(), json!(n));
    }
    if let Some(seed) = settings.seed {
        body.insert("seed".into(), json!(seed));
    }
    if let Some(tools) = &settings.tools {
        body.insert("tools".into(), Value::Array(tools.clone()));
        if let Some(choice) = &settings.tool_choice {
            body.insert("tool_choice".into(), choice.clone());
        }
    }
    for (k, v) in &settings.extra_body {
        body.insert(k.clone(), v.clone());
    }
    Value::Object(body)
}

/// A chat completion (the answer to a request).
#[derive(Debug, Deserialize)]
pub struct ChatCompletion {
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// The answers (the plugin asks for one).
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Token usage.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One answer.
#[derive(Debug, Deserialize)]
pub struct Choice {
    /// The generated message.
    pub message: ResponseMessage,
    /// `stop`, `length`, `tool_calls`, `content_filter`, …
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The generated message.
#[derive(Debug, Deserialize)]
pub struct ResponseMessage {
    /// The text (JSON text with a schema).
    #[serde(default)]
    pub content: Option<String>,
    /// Set when the model refused to answer.
    #[serde(default)]
    pub refusal: Option<String>,
    /// Tool calls.
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCall>>,
}

/// A call of a function tool.
#[derive(Debug, Deserialize)]
pub struct ToolCall {
    /// The call's id.
    #[serde(default)]
    pub id: Option<String>,
    /// The function and its arguments.
    pub function: FunctionCall,
}

/// The function a tool call names.
#[derive(Debug, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// The arguments as JSON text (the model may get it wrong: parsed and validated).
    #[serde(default)]
    pub arguments: String,
}

/// Token usage of one request.
#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Both.
    #[serde(default)]
    pub total_tokens: u64,
}

impl Usage {
    /// Adds another request's usage.
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// The message of an OpenAI-style error body (`{"error": {"message": …}}`), or of the
/// other shapes compatible servers use (`{"error": "…"}`, `{"message": …}`, `{"detail": …}`).
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    let message = value
        .pointer("/error/message")
        .and_then(text)
        .or_else(|| value.get("error").filter(|e| e.is_string()).and_then(text))
        .or_else(|| value.get("message").and_then(text))
        .or_else(|| value.get("detail").and_then(text))?;
    let code = value
        .pointer("/error/code")
        .and_then(Value::as_str)
        .or_else(|| value.pointer("/error/type").and_then(Value::as_str));
    Some(match code {
        Some(code) => format!("{message} ({code})"),
        None => message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_bodies_of_several_shapes() {
        let openai = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        assert_eq!(
            error_message(openai).unwrap(),
            "Incorrect API key provided (invalid_api_key)"
        );
        assert_eq!(
            error_message(br#"{"error":"model not found"}"#).unwrap(),
            "model not found"
        );
        assert_eq!(error_message(br#"{"detail":"bad"}"#).unwrap(), "bad");
        assert_eq!(error_message(b"<html>"), None);
    }

    #[test]
    fn reads_a_minimal_compatible_answer() {
        let c: ChatCompletion =
            serde_json::from_str(r#"{"choices":[{"message":{"content":"hi"}}]}"#).unwrap();
        assert_eq!(c.choices[0].message.content.as_deref(), Some("hi"));
        assert!(c.usage.is_none());
    }
}
